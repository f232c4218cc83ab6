#!/bin/sh
# Hostile inputs (t/data/hostile.tsv): transport and JSON faults, envelope,
# checkout, subscription, invoice and signature faults, process shape; each
# with its expected outcome and a regex on the cause.
. "$(dirname "$0")/lib/fbtest.sh"
exec "$FB_BUILDDIR/t/test-guardian" "$FB_SRCDIR/t/data/hostile.tsv"
