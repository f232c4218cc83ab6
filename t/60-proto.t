#!/bin/sh
# The master/bee channel format and the latency histogram (t/test-proto.c).
. "$(dirname "$0")/lib/fbtest.sh"
exec "$FB_BUILDDIR/t/test-proto"
