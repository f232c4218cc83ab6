#!/bin/sh
# colonies.c against a scripted fake HTTP server: bodies, keep-alive,
# error mapping, transport errors.
. "$(dirname "$0")/lib/fbtest.sh"
fb_tmpdir >/dev/null
FB_TMPDIR=$(fb_tmpdir) "$FB_BUILDDIR/t/test-colonies-client"
