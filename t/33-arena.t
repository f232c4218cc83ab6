#!/bin/sh
# arena.c: the bump arena the fast JSON parser allocates from in a bee.
. "$(dirname "$0")/lib/fbtest.sh"
exec "$FB_BUILDDIR/t/test-arena"
