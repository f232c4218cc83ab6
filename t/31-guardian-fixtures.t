#!/bin/sh
# Every shared Stripe fixture and every hand-built event in t/data/events
# through guardian_check(), each with its expected kind and fields.
. "$(dirname "$0")/lib/fbtest.sh"
exec "$FB_BUILDDIR/t/test-guardian" -c "$FB_SRCDIR/t/data/fixtures.tsv"
