#!/bin/sh
# fbj.c: the guardian's event tree gives jansson's values or gives up.
. "$(dirname "$0")/lib/fbtest.sh"
exec "$FB_BUILDDIR/t/test-fbj"
