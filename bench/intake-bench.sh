#!/bin/sh
# bench/intake-bench.sh [SCENARIO...]: the whole revenue path under load:
# signed webhooks -> intake processes -> minicolonies -> 4 bees ->
# PostgreSQL, the original system's load scenarios (bench/README.md).
#
#   make all bench && FB_BUILDDIR=$PWD sh ../bench/intake-bench.sh
#
# Scenarios: normal (300 @ c5), flash (1,000 @ c20), burst (1,000 at
# once), sustained (1,200 events, 20/min for an hour with
# FB_BENCH_HOUR=1, else 10/s for 2 minutes), beyond100, beyond500,
# beyond1000, beyond2000 (open loop, FB_BENCH_SECS = 5 s each).  Per scenario: requests
# sent and accepted, errors by status, webhook -> commit p50/p95/p99/max
# (send time from the load generator, commit time = processed_webhooks.
# processed_at of the event), processes failed, queue depth (accepted -
# committed) over time, CPU and memory (PSS, private) of every process at
# start and end, and a PNG of the time series (gnuplot) in $FB_BENCH_OUT
# (default bench/out).  Run by hand; prints figures, asserts nothing.
FB_SRCDIR=${FB_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
. "$FB_SRCDIR/t/lib/fbtest.sh"
. "$FB_SRCDIR/t/lib/fbtest-daemon.sh"

scenarios=${*:-normal flash burst sustained beyond100 beyond500 beyond1000 beyond2000}
OUT=${FB_BENCH_OUT:-$FB_SRCDIR/bench/out}
mkdir -p "$OUT"
for b in financebeed fbeectl minicolonies bench/intake-load; do
	[ -x "$FB_BUILDDIR/$b" ] || {
		echo "intake-bench: build first: make all bench ($b)" >&2; exit 1; }
done
command -v gnuplot >/dev/null || echo "intake-bench: no gnuplot: no PNGs" >&2

WHSEC=whsec_intake_bench_secret
PORT=$((18000 + $$ % 2000))
URL=http://127.0.0.1:$PORT/api/stripe-webhook
FBD_BEES=${FB_BENCH_BEES:-4}
FBD_LEASE=30
FBD_TASK_TIMEOUT=20
INTAKES=${FB_BENCH_INTAKES:-4}
FBD_EXTRA=$(fbd_intake_conf "$INTAKES" "127.0.0.1:$PORT" "	maxexectime = 30;
	submit_timeout = 2;")
FB_WEBHOOK_SECRETS=$WHSEC
fbd_setup >/dev/null || { echo "intake-bench: setup failed" >&2; exit 1; }
sed -i 's/poll_timeout = 1;/poll_timeout = 5;/; s/level = "info"/level = "warn"/' \
    "$FBD_CONF"
fbd_start >/dev/null || exit 1
fbd_wait_bees "$FBD_BEES" 30 || exit 1
for _ in $(seq 1 100); do
	curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break
	sleep 0.2
done
ctl() { "$FB_BUILDDIR/fbeectl" -s "$FBD_SOCK" "$@"; }

# Every process of the run: master, bees (by their process title,
# "financebeed: bee 3 polling"), intakes, minicolonies, the PostgreSQL
# server, the backends serving the bees (application_name financebee:
# pg-bee) and its other children.
pids() {
	local pg bk
	echo "master $FBD_PID"
	fbd_bee_pids | sed 's/^/bee /'
	pgrep -P "$FBD_PID" -f -- '--intake' | sed 's/^/intake /'
	echo "minicolonies $MC_PID"
	pg=$(head -1 "$FB_PGDIR/data/postmaster.pid")
	echo "postgres $pg"
	bk=" $(psql_q -c "SELECT pid FROM pg_stat_activity
	    WHERE application_name = 'financebee'" | paste -sd' ') "
	pgrep -P "$pg" | while read -r p; do
		case $bk in
		*" $p "*)	echo "pg-bee $p" ;;
		*)		echo "pg-child $p" ;;
		esac
	done
}
# proc_line ROLE PID: "role pid cpu_s pss_kB private_kB"
proc_line() {
	awk -v r="$1" -v p="$2" -v hz="$(getconf CLK_TCK)" '
		FILENAME ~ /stat$/ { cpu = ($14 + $15) / hz; next }
		/^Pss:/ { pss = $2 } /^Private_(Clean|Dirty):/ { priv += $2 }
		END { printf "%-12s %7s %8.2f %8d %8d\n", r, p, cpu, pss, priv }
	' "/proc/$2/stat" "/proc/$2/smaps_rollup" 2>/dev/null
}
snapshot() { pids | while read -r r p; do proc_line "$r" "$p"; done; }
total_pss() { snapshot | awk '{ s += $4 } END { print s + 0 }'; }
committed() {
	psql_q -c "SELECT count(*) FROM processed_webhooks WHERE event_id LIKE 'evt_$1\\_%'"
}
accepted_now() {	# intake 200s so far (submitted + ignored)
	ctl metrics | awk '/^financebee_intake_requests_total\{reply="(submitted|ignored)"\}/ { s += $2 } END { print s + 0 }'
}
failed_now() { mc dump --colony "$FB_COLONY" | jq -c 'select(.state == 3)' | wc -l; }

# run NAME EVENTS MODE-ARGS...
run() {
	local name=$1 n=$2 d=$OUT/$1 t0 acc0 seed
	shift 2
	mkdir -p "$d"
	seed=$(( $(date +%s) % 100000 ))
	perl "$FB_SRCDIR/contrib/gen-events.pl" -n $(( n / 4 + 2 )) -s "$seed" \
	    -u "$d/users.txt" -S >"$d/events.jsonl"
	sed "s/.*/INSERT INTO user_profiles (id) VALUES ('&') ON CONFLICT DO NOTHING;/" \
	    "$d/users.txt" | psql_q >/dev/null
	snapshot >"$d/start.txt"
	acc0=$(accepted_now)
	fail0=$(failed_now)
	t0=$(date +%s.%N)
	# The time series: t, committed, accepted, total PSS (kB), once a second.
	( while :; do
		printf '%s %s %s %s\n' "$(date +%s.%N)" "$(committed "$name")" \
		    "$(( $(accepted_now) - acc0 ))" "$(total_pss)"
		sleep 1
	done ) >"$d/series.txt" 2>"$d/sampler.err" &
	sampler=$!
	"$FB_BUILDDIR/bench/intake-load" -u "$URL" -s "$WHSEC" \
	    -e "$d/events.jsonl" -n "$n" -p "$name" -o "$d/requests.tsv" "$@" \
	    >"$d/load.txt"
	acc=$(awk '$4 == 200' "$d/requests.tsv" | wc -l)
	for _ in $(seq 1 600); do
		[ "$(committed "$name")" -ge "$acc" ] && break
		sleep 0.2
	done
	sleep 1
	kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null
	snapshot >"$d/end.txt"
	# webhook -> commit per event, from the database.
	psql_q >"$d/w2c.txt" <<EOF
CREATE TEMP TABLE r (id text, sent bigint, done bigint, st int);
\\copy r FROM '$d/requests.tsv'
SELECT r.id, r.sent, (extract(epoch FROM p.processed_at) * 1e6)::bigint - r.sent
FROM r JOIN processed_webhooks p ON p.event_id = r.id WHERE r.st = 200 ORDER BY 2;
EOF
	summarize "$name" "$d" "$t0" "$fail0"
}

summarize() {
	local name=$1 d=$2 t0=$3 fail0=$4
	{
		echo "### $name"
		echo
		echo '```'
		cat "$d/load.txt"
		sort -t'|' -k3 -n "$d/w2c.txt" | awk -F'|' '
			function q(p,  i) { i = int(NR * p) + 1; if (i > NR) i = NR; return v[i] }
			{ v[NR] = $3 / 1000 }
			END { if (NR == 0) { print "webhook->commit: none"; exit }
			    printf "webhook->commit ms (%d events): p50 %.1f p95 %.1f p99 %.1f max %.1f\n",
			    NR, q(0.50), q(0.95), q(0.99), v[NR] }'
		echo "processes failed: $(( $(failed_now) - fail0 ))"
		echo "queue depth (accepted - committed), max over the run: $(awk '
			{ q = $3 - $2; if (q > m) m = q } END { print m + 0 }' "$d/series.txt")"
		# CPU per committed event of the bees and of the backends
		# serving them: pids in both snapshots (a process that came or
		# went in between is left out).
		awk -v n="$(wc -l <"$d/w2c.txt")" '
			FNR == NR { c0[$2] = $3; next }
			$2 in c0 { c[$1] += $3 - c0[$2] }
			END { if (n == 0) exit
			    printf "CPU per committed event: database backends serving the bees %.3f ms, bees %.3f ms, intakes %.3f ms, minicolonies %.3f ms\n",
			    c["pg-bee"] * 1000 / n, c["bee"] * 1000 / n,
			    c["intake"] * 1000 / n, c["minicolonies"] * 1000 / n }' \
		    "$d/start.txt" "$d/end.txt"
		echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
		echo "processes at start and end (role pid cpu_s pss_kB private_kB):"
		paste -d'|' "$d/start.txt" "$d/end.txt" | awk -F'|' '
			{ split($1, a, " "); split($2, b, " ")
			  printf "  %-12s %7s  cpu %7.2f -> %7.2f s  pss %7d -> %7d kB  priv %7d -> %7d kB\n",
			  a[1], a[2], a[3], b[3], a[4], b[4], a[5], b[5] }'
		echo '```'
		echo
		echo "![$name]($name.png)"
		echo
	} | tee -a "$OUT/summary.md"
	plot "$name" "$d" "$t0"
}

plot() {
	local name=$1 d=$2 t0=$3
	command -v gnuplot >/dev/null || return 0
	# Per second: commits/s, p50/p99 webhook->commit of the events
	# committed... by send second.
	awk -v t0="$t0" 'NR > 1 { dt = $1 - pt; if (dt > 0)
		printf "%.1f %.1f %d %.0f\n", $1 - t0, ($2 - pc) / dt, $3 - $2, $4 / 1024 }
		{ pt = $1; pc = $2 }' "$d/series.txt" >"$d/rate.dat"
	awk -F'|' -v t0="$t0" '{ s = int($2 / 1e6 - t0); print s, $3 / 1000 }' \
	    "$d/w2c.txt" | sort -n -k1,1 -k2,2 | awk '
		function q(p,  i) { i = int(n * p) + 1; if (i > n) i = n; return v[i] }
		function flush() { if (n) printf "%d %.1f %.1f\n", cur, q(0.5), q(0.99) }
		$1 != cur { flush(); n = 0; cur = $1 }
		{ v[++n] = $2 } END { flush() }' >"$d/lat.dat"
	gnuplot <<EOF
set terminal png size 1000,900
set output "$OUT/$name.png"
set multiplot layout 4,1 title "$name"
set xlabel "s"
set grid
set ylabel "commits/s"
plot "$d/rate.dat" using 1:2 with lines title "throughput"
set ylabel "ms"
set logscale y
plot "$d/lat.dat" using 1:2 with lines title "webhook->commit p50", "$d/lat.dat" using 1:3 with lines title "p99"
unset logscale y
set ylabel "processes"
plot "$d/rate.dat" using 1:3 with lines title "queue depth (accepted - committed)"
set ylabel "MB"
plot "$d/rate.dat" using 1:4 with lines title "PSS, all processes"
unset multiplot
EOF
}

echo "# intake benchmark: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)," \
    "$FBD_BEES bees, $INTAKES intake processes, $(date -u +%F)" | tee "$OUT/summary.md"
for s in $scenarios; do
	case $s in
	normal)		run normal 300 -c 5 ;;
	flash)		run flash 1000 -c 20 ;;
	burst)		run burst 1000 -b ;;
	sustained)	if [ -n "${FB_BENCH_HOUR:-}" ]; then
				run sustained 1200 -r 0.3333
			else
				run sustained 1200 -r 10
			fi ;;
	beyond*)	r=${s#beyond}; run "$s" $((r * ${FB_BENCH_SECS:-5})) -r "$r" ;;
	*)		echo "intake-bench: unknown scenario $s" >&2 ;;
	esac
done
kill -TERM "$FBD_PID"
fbd_wait_gone 30
