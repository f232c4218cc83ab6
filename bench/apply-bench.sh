#!/bin/sh
# bench/apply-bench.sh [events] [workers] [pgbench-seconds]: the apply path
# of the bees against pgbench on the same SQL, in one run, on a throwaway
# PostgreSQL.  Needs "make bench" first (bench/apply-bench in FB_BUILDDIR).
FB_SRCDIR=${FB_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
. "$FB_SRCDIR/t/lib/fbtest.sh"
B=$FB_BUILDDIR/bench/apply-bench
[ -x "$B" ] || { echo "apply-bench: build it first: make bench" >&2; exit 1; }
pg_start >/dev/null || exit 1
T=$(fb_tmpdir)
cat >"$T/fb.conf" <<EOC
database: { conninfo = ""; connect_timeout = 5; statement_timeout = 5; };
$(fb_stripe_conf)
EOC
echo "PostgreSQL $(psql_q -c 'SHOW server_version'), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
"$B" -c "$T/fb.conf" -n "${1:-20000}" -j "${2:-4}" -T "${3:-10}"
