#!/bin/sh
# config.c unit tests: defaults, units, reload comparison, executor keys.
. "$(dirname "$0")/lib/fbtest.sh"
exec "$FB_BUILDDIR/t/test-config"
