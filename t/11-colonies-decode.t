#!/bin/sh
# colonies.c reply and Process decoders: tables and mutation fuzzing.
. "$(dirname "$0")/lib/fbtest.sh"
exec "$FB_BUILDDIR/t/test-colonies-decode"
