#!/bin/sh
# crypto.c against the real server's test vectors and error texts.
. "$(dirname "$0")/lib/fbtest.sh"
exec "$FB_BUILDDIR/t/test-crypto"
