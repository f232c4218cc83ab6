#!/bin/sh
# store.c and the SQL schema against a real PostgreSQL: migrations, schema
# check, round trips, scenarios, permutations, concurrency, errors, pruning
# (the C program t/test-store.c prints the TAP).
. "$(dirname "$0")/lib/fbtest.sh"
[ -x "$FB_BUILDDIR/t/test-store" ] || skip_all "t/test-store not built"
pg_start || { echo "Bail out! PostgreSQL did not start"; exit 1; }
"$FB_BUILDDIR/t/test-store"
