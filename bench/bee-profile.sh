#!/bin/sh
# bench/bee-profile.sh [-c|-s] [EVENTS]: one bee, alone, on EVENTS
# generated events (default 2000) against minicolonies and a throwaway
# PostgreSQL: its CPU per task (user + system time of the whole run, setup
# included: a few ms; GNU time's rusage, 10 ms ticks), its ColonyOS
# requests and bytes per task (the kernel's TCP counters, sampled while it
# runs: the last samples may miss a few).
#   -c  under valgrind --tool=callgrind, counting only inside
#       colonies_assign(), task_run() and the close calls (the task path;
#       setup, heartbeats and idle steps left out): the profile is copied
#       to $FB_PROFILE_OUT (default /tmp/bee-callgrind.out) for
#       callgrind_annotate.  Instruction counts repeat from run to run,
#       whatever the machine's load; times do not.
#   -s  under strace -f -c (FB_STRACE_OPTS replaces -c, e.g. -tt): the
#       system calls, copied to /tmp/bee-strace.out.
#
#   make all bench && FB_BUILDDIR=$PWD sh ../bench/bee-profile.sh [-c|-s] 2000
#
# The bee is started by hand (financebeed --bee 1), after the master has
# registered its executor once; supervision.tasks_per_bee ends it after
# the events.  Run by hand; prints figures, asserts nothing.
FB_SRCDIR=${FB_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
. "$FB_SRCDIR/t/lib/fbtest.sh"
. "$FB_SRCDIR/t/lib/fbtest-daemon.sh"

mode=plain
case ${1:-} in
-c)	mode=callgrind; shift ;;
-s)	mode=strace; shift ;;
esac
events=${1:-2000}
FBD_BEES=1
FBD_LEASE=60
FBD_TASK_TIMEOUT=50
fbd_setup >/dev/null || { echo "bee-profile: setup failed" >&2; exit 1; }
sed -i 's/poll_timeout = 1;/poll_timeout = 2;/' "$FBD_CONF"
# The master registers the executor of slot 1, then goes.
fbd_start >/dev/null || exit 1
fbd_wait_bees 1 30 || exit 1
for _ in $(seq 1 100); do
	grep -q 'slot 1: executor .* registered' "$FBD_LOG" && break
	sleep 0.1
done
kill -TERM "$FBD_PID"
fbd_wait_gone 30
sed -i "s/^\ttask_timeout = .*/&\n\ttasks_per_bee = $events;/" "$FBD_CONF"

users=$((events / 4 + 1))
perl "$FB_SRCDIR/contrib/gen-events.pl" -n "$users" -s 7 \
    -u "$FBD_DIR/users" -S >"$FBD_DIR/ev.all"
head -n "$events" "$FBD_DIR/ev.all" >"$FBD_DIR/ev"
sed "s/.*/INSERT INTO user_profiles (id) VALUES ('&') ON CONFLICT DO NOTHING;/" \
    "$FBD_DIR/users" | psql_q >/dev/null
_fbd_submit --stdin-lines <"$FBD_DIR/ev" || exit 1

col_io() {
	local port=${FB_COLONIES_URL##*:}
	port=${port%%/*}
	ss -tinH state established "( dport = :$port )" 2>/dev/null |
	    awk '{ for (i = 1; i <= NF; i++) {
		if ($i ~ /^bytes_sent:/) { split($i, a, ":"); s += a[2] }
		if ($i ~ /^bytes_received:/) { split($i, a, ":"); r += a[2] }
		if ($i ~ /^data_segs_out:/) { split($i, a, ":"); n += a[2] } } }
		END { printf "%d %d %d\n", n, s, r }'
}

echo "# bee-profile: $FBD_SUBMITTED events, mode $mode, $(nproc) CPUs," \
    "load $(cut -d' ' -f1-3 /proc/loadavg)"
case $mode in
callgrind)
	wrap="valgrind --tool=callgrind --collect-atstart=no
	    --toggle-collect=colonies_assign --toggle-collect=task_run
	    --toggle-collect=colonies_close_successful
	    --toggle-collect=colonies_close_successful_text
	    --toggle-collect=colonies_close_failed
	    --callgrind-out-file=$FBD_DIR/callgrind.out" ;;
strace)
	wrap="strace -f ${FB_STRACE_OPTS:--c} -o $FBD_DIR/strace.out" ;;
*)
	wrap= ;;
esac
# fd 3, the master's channel: a pipe nobody writes to, drained.
mkfifo "$FBD_DIR/chan"
cat "$FBD_DIR/chan" >/dev/null &
fb_track_pid "$!"
io0=$(col_io)
/usr/bin/time -o "$FBD_DIR/time" -f '%e %U %S' \
    $wrap "$FB_BUILDDIR/financebeed" -c "$FBD_CONF" --bee 1 --generation 1 \
    3>"$FBD_DIR/chan" >>"$FBD_LOG" 2>&1 &
pid=$!
fb_track_pid "$pid"
while kill -0 "$pid" 2>/dev/null; do
	io=$(col_io); [ "${io%% *}" != 0 ] && io1=$io
	sleep 0.05
done
wait "$pid"
rc=$?
[ "$rc" -eq 0 ] || tail -5 "$FBD_LOG" | sed 's/^/# log: /'
done_n=$(psql_q -c "SELECT count(*) FROM processed_webhooks")
set -- $io0 $io1
tail -1 "$FBD_DIR/time" | awk -v n="$FBD_SUBMITTED" -v rc="$rc" \
    -v db="$done_n" -v rq="$(($4 - $1))" -v bs="$(($5 - $2))" \
    -v br="$(($6 - $3))" '{
	printf "exit %d, %d events committed, %.1f s\n", rc, db, $1
	printf "bee CPU per task: %.1f us (user %.1f + sys %.1f)\n",
	    ($2 + $3) * 1e6 / n, $2 * 1e6 / n, $3 * 1e6 / n
	printf "per task: %.2f ColonyOS requests, %.0f bytes sent, %.0f " \
	    "received\n", rq / n, bs / n, br / n
}'
case $mode in
callgrind)
	cp "$FBD_DIR/callgrind.out" "${FB_PROFILE_OUT:-/tmp/bee-callgrind.out}"
	echo "# profile: ${FB_PROFILE_OUT:-/tmp/bee-callgrind.out}"
	callgrind_annotate "$FBD_DIR/callgrind.out" 2>/dev/null | sed -n '1,40p' |
	    grep -E 'PROGRAM TOTALS|Ir' | head -3 ;;
strace)
	cp "$FBD_DIR/strace.out" /tmp/bee-strace.out; sed -n "1,30p" "$FBD_DIR/strace.out" ;;
esac
