#!/bin/sh
# bench/db-replay.sh [users] [documents] [seed]: the database's work per
# applied event, counted in instructions (insensitive to the machine's
# load), on a throwaway PostgreSQL.  Needs "make bench" first.
#
# gen-events.pl writes a shuffled run of USERS users (default 1252, the
# intake benchmark's beyond1000 mix); bench/apply-bench -e turns each event
# into its change document as a bee does (and applies them all once with
# pgbench: the CPU time that prints is load-sensitive).  The tables are
# then emptied and the first DOCUMENTS documents (default 2500) are
# applied again, one statement and one transaction each, by a single-user
# backend under callgrind, counting only inside PortalRun() and
# CommitTransactionCommand(): the function's work and its commit, not the
# parsing of the statement's literal.  Prints instructions per document
# and leaves in $FB_REPLAY_OUT (default /tmp/db-replay) the replies
# (replies.txt), the tables afterwards (state.txt: ids and clock times
# left out, so two schemas' runs can be compared with diff) and the
# profile (callgrind.out, for callgrind_annotate).
FB_SRCDIR=${FB_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
. "$FB_SRCDIR/t/lib/fbtest.sh"
B=$FB_BUILDDIR/bench/apply-bench
[ -x "$B" ] || { echo "db-replay: build it first: make bench" >&2; exit 1; }
users=${1:-1252}
ndocs=${2:-2500}
seed=${3:-1}
out=${FB_REPLAY_OUT:-/tmp/db-replay}
mkdir -p "$out" || exit 1
pg_start >/dev/null || exit 1
T=$(fb_tmpdir)
cat >"$T/fb.conf" <<EOC
database: { conninfo = ""; connect_timeout = 5; statement_timeout = 30; };
$(fb_stripe_conf)
EOC
perl "$FB_SRCDIR/contrib/gen-events.pl" -n "$users" -s "$seed" \
    -u "$T/users.txt" -S >"$T/events.jsonl"
echo "PostgreSQL $(psql_q -c 'SHOW server_version'), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
"$B" -c "$T/fb.conf" -e "$T/events.jsonl" -u "$T/users.txt" -j 1 || exit 1
echo "schema version $(psql_q -c 'SELECT max(version) FROM financebee_schema_version')"

psql_q -c "SELECT format('SELECT fb_apply_event(%L);', doc::text)
    FROM bench_docs WHERE i <= $ndocs ORDER BY i" >"$T/replay.sql" || exit 1
psql_q -c "TRUNCATE subscriptions, processed_webhooks, parked_events,
    revenue_ledger; UPDATE user_profiles SET is_premium = false,
    subscription_tier = NULL; DROP TABLE bench_docs" &&
psql_q -c "VACUUM ANALYZE" || exit 1
pg_down || exit 1

chmod 644 "$T/replay.sql"
# CPU time of the same replay without valgrind, on a copy of the data,
# less that of a backend that replays nothing (load-sensitive: a figure
# to compare runs made one after the other on the same machine).
_fb_as_pg cp -a "$FB_PGDIR/data" "$FB_PGDIR/data2" || exit 1
single() {	# single DATADIR <INPUT: user+system CPU seconds
	_fb_as_pg /usr/bin/time -f '%U %S' -o "$FB_PGDIR/time.out" \
	    "$PGBIN/postgres" --single -D "$1" -c fsync=off \
	    -c synchronous_commit=off -c full_page_writes=off financebee \
	    >/dev/null 2>&1
	awk '{ print $1 + $2 }' "$FB_PGDIR/time.out"
}
cpu0=$(single "$FB_PGDIR/data2" </dev/null)
cpu=$(single "$FB_PGDIR/data2" <"$T/replay.sql")
rm -rf "$FB_PGDIR/data2"
_fb_as_pg valgrind --tool=callgrind --collect-atstart=no \
    --toggle-collect=PortalRun --toggle-collect=CommitTransactionCommand \
    --callgrind-out-file="$FB_PGDIR/callgrind.out" \
    "$PGBIN/postgres" --single -D "$FB_PGDIR/data" -c fsync=off \
    -c synchronous_commit=off -c full_page_writes=off financebee \
    <"$T/replay.sql" >"$FB_PGDIR/replies.txt" 2>"$FB_PGDIR/valgrind.log" || {
	echo "db-replay: the single-user backend failed:" >&2
	tail -20 "$FB_PGDIR/valgrind.log" >&2
	exit 1
}
cp "$FB_PGDIR/callgrind.out" "$out/callgrind.out"
# The replies without their clock times, one a line.
sed -n 's/^[[:space:]]*1: fb_apply_event = "\(.*\)".*/\1/p' \
    "$FB_PGDIR/replies.txt" |
    sed 's/[0-9]\{4\}-[0-9][0-9]-[0-9][0-9]T[0-9:]*Z/T/g' >"$out/replies.txt"
ir=$(callgrind_annotate "$out/callgrind.out" 2>/dev/null |
    awk '/PROGRAM TOTALS/ { gsub(/,/, "", $1); print $1; exit }')
n=$(wc -l <"$out/replies.txt")
pg_up || exit 1
psql_q >"$out/state.txt" <<'EOS'
SELECT 'sub', subscriber_id, status, tier, stripe_subscription_id,
    stripe_customer_id, sub_period_start, sub_period_end,
    invoice_period_start, invoice_period_end, current_period_start,
    current_period_end, cancel_at_period_end, trial_end, checkout_session,
    stripe_event_created FROM subscriptions ORDER BY stripe_subscription_id;
SELECT 'marker', event_id, type, outcome FROM processed_webhooks
    ORDER BY event_id;
SELECT 'parked', event_id, type, kind, stripe_subscription_id,
    stripe_customer_id, created, change FROM parked_events ORDER BY event_id;
SELECT 'ledger', kind, stripe_object_id, event_id, stripe_subscription_id,
    stripe_customer_id, subscriber_id, charge, payment_intent, amount,
    currency, status, reason, stripe_event_created FROM revenue_ledger
    ORDER BY kind, stripe_object_id;
SELECT 'user', id, is_premium, subscription_tier FROM user_profiles
    ORDER BY id;
EOS
echo "replayed $n documents of $users users (seed $seed) in a single-user backend"
[ -n "$ir" ] && [ "$n" -gt 0 ] &&
    awk -v ir="$ir" -v n="$n" 'BEGIN { printf "instructions per document (PortalRun + commit): %.0fk\n", ir / n / 1000 }'
awk -v c="$cpu" -v c0="$cpu0" -v n="$n" 'BEGIN { printf "CPU time per document, the same replay without valgrind: %.3f ms (load %s)\n", (c - c0) * 1000 / n, "'"$(cut -d' ' -f1 /proc/loadavg)"'" }'
echo "replies, tables and profile in $out"
