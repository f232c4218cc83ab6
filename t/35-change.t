#!/bin/sh
# change.c: the change document a bee writes as JSON text.
. "$(dirname "$0")/lib/fbtest.sh"
exec "$FB_BUILDDIR/t/test-change"
