#!/bin/sh
# bench/pool-bench.sh [EVENTS] [BEES...]: financebeed end to end against
# minicolonies and a throwaway PostgreSQL, for 1, 2, 4 and 8 bees (or the
# counts given).  For each: throughput, p50/p99 task latency (the master's
# histogram), RSS of each bee and of the master, their Private (Private_Clean
# + Private_Dirty) and Pss from /proc/PID/smaps_rollup (what a process
# costs: RSS counts shared library pages in every process), bee CPU per
# task (from /proc/PID/schedstat, in ns), and, measured in the same run at
# the same concurrency,
#   A = minicolonies no-op assign+close cycles/s (bench/colonies-bench,
#       on processes carrying an event of the pool's median size),
#   B = PostgreSQL throughput of the same statements (pgbench applying
#       the change documents of the run's events, in the same order, on
#       fresh data: bench/apply-bench -e), and the bees' apply path alone,
# with the combined limit 1/(1/A + 1/B) the pool is compared with.
#
#   make all bench && FB_BUILDDIR=$PWD sh ../bench/pool-bench.sh 3000
#
# Run by hand; prints figures, asserts nothing.
FB_SRCDIR=${FB_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
. "$FB_SRCDIR/t/lib/fbtest.sh"
. "$FB_SRCDIR/t/lib/fbtest-daemon.sh"

events=${1:-3000}
[ $# -gt 0 ] && shift
counts=${*:-1 2 4 8}
for b in financebeed fbeectl minicolonies bench/colonies-bench \
    bench/apply-bench; do
	[ -x "$FB_BUILDDIR/$b" ] || {
		echo "pool-bench: build first: make all bench ($b)" >&2; exit 1; }
done

FBD_LEASE=30
FBD_TASK_TIMEOUT=20
fbd_setup >/dev/null || { echo "pool-bench: setup failed" >&2; exit 1; }
sed -i 's/poll_timeout = 1;/poll_timeout = 2;/' "$FBD_CONF"
ctl() { "$FB_BUILDDIR/fbeectl" -s "$FBD_SOCK" "$@"; }
cpu_ns() {	# cpu_ns PID...: CPU time of them all, in ns (schedstat)
	local p t=0
	for p in "$@"; do
		t=$((t + $(cut -d' ' -f1 "/proc/$p/schedstat" 2>/dev/null ||
		    echo 0)))
	done
	echo "$t"
}
now() { date +%s.%N; }
smaps() {	# smaps PID priv|pss: kB from /proc/PID/smaps_rollup
	awk -v w="$2" '/^Private_(Clean|Dirty):/ { p += $2 }
	    /^Pss:/ { s = $2 } END { print (w == "pss" ? s : p) }' \
	    "/proc/$1/smaps_rollup" 2>/dev/null
}

echo "# financebeed pool benchmark: $events events per run, $(nproc) CPUs," \
    "load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# PostgreSQL $(psql_q -c 'SHOW server_version'), fsync off; minicolonies"
printf '%-4s %9s %8s %8s %10s %12s %10s %9s %9s %9s %9s %7s\n' bees tasks/s \
    p50_ms p99_ms bee_rss_kb master_rss_kb bee_cpu_us A_mc/s B_pg/s \
    apply/s limit/s pct
for n in $counts; do
	: >"$FBD_LOG"
	sed -i "s/^bees = .*/bees = $n;/" "$FBD_CONF"
	FBD_SUBMITTED=0
	fbd_start >/dev/null || exit 1
	fbd_wait_bees "$n" 30 || exit 1
	ctl pause >/dev/null
	# A bee in a long-poll may still take a process: wait until all paused.
	for _ in $(seq 1 100); do
		[ "$(fbd_status | jq '[.bees[] | select(.state == "paused")]
		    | length')" = "$n" ] && break
		sleep 0.1
	done
	users=$((events / 5 + 1))
	perl "$FB_SRCDIR/contrib/gen-events.pl" -n "$users" -s "$((n + 100))" \
	    -u "$FBD_DIR/users.$n" -S | head -n "$events" >"$FBD_DIR/ev.$n"
	sed "s/.*/INSERT INTO user_profiles (id) VALUES ('&') ON CONFLICT DO NOTHING;/" \
	    "$FBD_DIR/users.$n" | psql_q >/dev/null
	base=$(mc stats --colony "$FB_COLONY" | jq '.successful + .failed')
	_fbd_submit --stdin-lines <"$FBD_DIR/ev.$n" || exit 1
	want=$((base + FBD_SUBMITTED))
	pids=$(fbd_bee_pids)
	c0=$(cpu_ns $pids)
	m0=$(cpu_ns "$FBD_PID")
	t0=$(now)
	ctl resume >/dev/null
	# One waiter asking minicolonies 10 times a second (a loop of
	# "mc stats | jq" would fork two programs 20 times a second on the
	# cores being measured).  The end is the commit of the last event.
	mc wait --colony "$FB_COLONY" --count "$want" --timeout 600 \
	    >/dev/null || exit 1
	t1=$(psql_q -c "SELECT extract(epoch FROM max(processed_at))
	    FROM processed_webhooks")
	c1=$(cpu_ns $pids)
	m1=$(cpu_ns "$FBD_PID")
	sleep 2.5	# idle bees report after their poll (2 s)
	st=$(fbd_status)
	tasks=$(printf '%s' "$st" | jq '.pool.tasks | ([.[]] | add) - .lost')
	p50=$(printf '%s' "$st" | jq '.pool.latency_ms.p50')
	p99=$(printf '%s' "$st" | jq '.pool.latency_ms.p99')
	rss=$(printf '%s' "$st" | jq -r '[.bees[].rss_kb] | "\(min)-\(max)"')
	mrss=$(awk '/^VmRSS/ { print $2 }' "/proc/$FBD_PID/status")
	priv=$(for p in $pids; do awk '/^RssAnon/ { print $2 }' \
	    "/proc/$p/status"; done | sort -n | sed -n '1p;$p' | paste -sd-)
	# Private (Private_Clean + Private_Dirty) and PSS, from smaps_rollup:
	# what a process costs, where RSS counts shared library pages again
	# in every process.  Bees: min-max over the pool.
	bpriv=$(for p in $pids; do smaps "$p" priv; done | sort -n |
	    sed -n '1p;$p' | paste -sd-)
	bpss=$(for p in $pids; do smaps "$p" pss; done | sort -n |
	    sed -n '1p;$p' | paste -sd-)
	mpriv=$(smaps "$FBD_PID" priv)
	mpss=$(smaps "$FBD_PID" pss)
	restarts=$(printf '%s' "$st" | jq '.pool.restarts')
	kill -TERM "$FBD_PID"
	fbd_wait_gone 30

	# A: minicolonies alone, same concurrency, its own colony and keys.
	"$FB_BUILDDIR/minicolonies" keygen "$FBD_DIR/cb-owner.$n" >/dev/null
	"$FB_BUILDDIR/minicolonies" keygen "$FBD_DIR/cb-sub.$n" >/dev/null
	# Its processes carry an event of the pool's median size as args[0].
	awk '{ print length($0) "\t" $0 }' "$FBD_DIR/ev.$n" | sort -n |
	    awk -v m="$(($(wc -l <"$FBD_DIR/ev.$n") / 2 + 1))" 'NR == m' |
	    cut -f2- >"$FBD_DIR/args.$n"
	a=$("$FB_BUILDDIR/bench/colonies-bench" --url "$FB_COLONIES_URL" \
	    --args-file "$FBD_DIR/args.$n" \
	    --server-key-file "$FBD_DIR/server.key" \
	    --owner-key-file "$FBD_DIR/cb-owner.$n" \
	    --submitter-key-file "$FBD_DIR/cb-sub.$n" \
	    --colony "bench$n" --executors "$n" --count "$events" \
	    --server-pid "$MC_PID" 2>"$FBD_DIR/cb.log" |
	    sed -n 's/.*cycles_per_s=\([0-9.]*\).*/\1/p')
	[ -n "$a" ] || sed 's/^/# colonies-bench: /' "$FBD_DIR/cb.log" >&2
	# B: PostgreSQL alone on the same statements: the change documents of
	# this run's events, in the same order, same concurrency, fresh data.
	psql_q -c "CREATE DATABASE poolb$n" >/dev/null
	b=$(PGDATABASE=poolb$n "$FB_BUILDDIR/bench/apply-bench" \
	    -c "$FBD_CONF" -e "$FBD_DIR/ev.$n" -u "$FBD_DIR/users.$n" \
	    -j "$n" 2>"$FBD_DIR/pb.log" |
	    sed -n 's/^pgbench.*: \([0-9.]*\) tps/\1/p')
	[ -n "$b" ] || sed 's/^/# apply-bench -e: /' "$FBD_DIR/pb.log" >&2
	# The bees' apply path alone (5 KB template events), for reference.
	psql_q -c "CREATE DATABASE applybench$n" >/dev/null
	ab=$(PGDATABASE=applybench$n "$FB_BUILDDIR/bench/apply-bench" \
	    -c "$FBD_CONF" -n "$events" -j "$n" -T 5 2>/dev/null)
	ap=$(printf '%s\n' "$ab" | sed -n 's/^apply path: \([0-9.]*\) events.*/\1/p')

	awk -v n="$n" -v ev="$tasks" -v t0="$t0" -v t1="$t1" -v p50="$p50" \
	    -v p99="$p99" -v rss="$rss" -v mrss="$mrss" -v c="$((c1 - c0))" \
	    -v a="${a:-0}" -v b="${b:-0}" -v ap="${ap:-0}" \
	    -v nsub="$FBD_SUBMITTED" 'BEGIN {
		tput = nsub / (t1 - t0)
		lim = (a > 0 && b > 0) ? 1 / (1 / a + 1 / b) : 0
		pct = (lim > 0) ? 100 * tput / lim : 0
		printf "%-4d %9.0f %8.2f %8.2f %10s %12s %10.1f %9.0f %9.0f %9.0f %9.0f %6.0f%%\n",
		    n, tput, p50, p99, rss, mrss, c / 1e3 / nsub, a, b,
		    ap, lim, pct
	}'
	echo "#   $FBD_SUBMITTED submitted, $tasks counted by the master," \
	    "restarts $restarts, master CPU $(( (m1 - m0) / 1000000 )) ms," \
	    "bee private (anonymous) RSS $priv kB"
	echo "#   smaps_rollup: bee Private $bpriv kB, Pss $bpss kB;" \
	    "master Private $mpriv kB, Pss $mpss kB"
done
echo "# tasks/s: submitted / wall time from resume to the last commit;"
echo "# bee_rss_kb: min-max VmRSS of the bees (mostly shared library pages);"
echo "# bee_cpu_us: CPU time of all bees (/proc/PID/schedstat, ns) / tasks;"
echo "# A: colonies-bench cycles/s, processes carrying a median pool event;"
echo "# B: pgbench tps applying the run's own change documents;"
echo "# apply/s: the bees' task_run path alone (apply-bench);"
echo "# limit = 1/(1/A + 1/B); pct = tasks/s of that limit."
