#!/bin/sh
# Queue depth (metrics.queue_interval): the master has a child ask the
# ColonyOS server for the colony's waiting and running processes and shows
# the last answer in fbeectl status, --json, the Prometheus text and the
# stats line.  The bees paused, submitted processes wait; resumed, the
# queue drains to 0.  A server that does not answer (SIGSTOP) shows as an
# error while the master keeps answering fbeectl meanwhile.
. "$(dirname "$0")/lib/fbtest.sh"
. "$(dirname "$0")/lib/fbtest-daemon.sh"

FBD_BEES=2
FBD_METRICS="queue_interval = 0.5; stats_interval = 0.5;"
fbd_setup || skip_all "cannot set up PostgreSQL + minicolonies"
plan 23

ctl() { timeout 5 "$FB_BUILDDIR/fbeectl" -s "$FBD_SOCK" "$@"; }
q() { ctl status --json | jq -r ".queue.$1"; }

# The child alone: a key the colony does not know is refused, and it says so.
cp "$FBD_CONF" "$FBD_DIR/stranger.conf"
od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$FBD_DIR/stranger.seed"
echo >>"$FBD_DIR/stranger.seed"
chmod 600 "$FBD_DIR/stranger.seed"
sed -i "s|executor_seed_file = .*|executor_seed_file = \"$FBD_DIR/stranger.seed\";|" \
    "$FBD_DIR/stranger.conf"
"$FB_BUILDDIR/financebeed" -c "$FBD_DIR/stranger.conf" --queue-depth \
    3>"$FBD_DIR/stranger.out" 2>/dev/null
is "$(jq -r .colonies.error "$FBD_DIR/stranger.out")" "not a member of the colony" \
    "a non-member gets an error, not a count"
is "$(jq -c '[.colonies.answers, .database.answers, .database.schema_version]' "$FBD_DIR/stranger.out")" \
    "[true,true,$(ls "$FB_SRCDIR"/sql/[0-9][0-9][0-9]_*.sql | wc -l)]" \
    "  ColonyOS and the database answer; the database's schema version"

fbd_start || { echo "Bail out! financebeed did not start"; exit 1; }
fbd_wait_bees 2
ctl pause >/dev/null
paused() { [ "$(ctl status --json | jq -r '[.bees[].state] | unique | join(",")')" = paused ]; }
until_ok 20 paused
ok $? "the bees are paused"
fbd_submit_fixtures
t_sub=$(date +%s.%N)
n=$FBD_SUBMITTED
waiting_is() { [ "$(q waiting)" = "$1" ]; }
until_ok 20 waiting_is "$n"
ok $? "status: queue.waiting is the $n processes submitted ($(q waiting))"
is "$(q running)" 0 "status: queue.running 0"
is "$(q error)" null "status: no error"
# It counts the processes submitted, so it came after the submission: its
# age cannot exceed the time since (rounded to a tenth).
age=$(q age)
since=$(awk -v t="$t_sub" -v now="$(date +%s.%N)" 'BEGIN { printf "%.1f", now - t }')
awk -v a="$age" -v d="$since" 'BEGIN { exit !(a >= 0 && a <= d + 0.1) }'
ok $? "status: the answer's age ($age s) is no more than the time since the submission ($since s)"
ctl metrics >"$FBD_DIR/m.txt"
grep -q "^financebee_queue_waiting $n\$" "$FBD_DIR/m.txt"
ok $? "metrics: financebee_queue_waiting $n"
grep -q '^financebee_queue_running 0$' "$FBD_DIR/m.txt"
ok $? "metrics: financebee_queue_running 0"
grep -q '^financebee_dependency_up{dependency="colonies"} 1$' "$FBD_DIR/m.txt" &&
    grep -q '^financebee_dependency_up{dependency="database"} 1$' "$FBD_DIR/m.txt"
ok $? "metrics: financebee_dependency_up 1 for ColonyOS and the database"
if command -v promtool >/dev/null 2>&1; then
	promtool check metrics <"$FBD_DIR/m.txt" >"$FBD_DIR/promtool.out" 2>&1
	ok $? "promtool check metrics: clean ($(tr '\n' ' ' <"$FBD_DIR/promtool.out"))"
else
	ok 0 "# SKIP promtool is not installed"
fi
like "$(ctl status)" "queue: +$n waiting, 0 running" "fbeectl status shows the queue"
wait_log "stats: .*queue $n waiting 0 running" 10
ok $? "the stats line shows the queue"

ctl resume >/dev/null
until_ok 60 waiting_is 0
ok $? "resumed: the queue drains to 0 ($(q waiting))"
fbd_wait_closed 60
ok $? "every process closed: $FBD_WAIT"
until_ok 10 sh -c "$FB_BUILDDIR/fbeectl -s $FBD_SOCK metrics | grep -q '^financebee_queue_waiting 0\$'"
ok $? "metrics: financebee_queue_waiting 0"

# The server stops answering: the child times out (request_timeout) or is
# killed at its deadline; the master answers fbeectl meanwhile.
kill -STOP "$MC_PID"
has_error() { [ "$(q error)" != null ]; }
until_ok 30 has_error
ok $? "a server that does not answer shows as an error: $(q error)"
# Meanwhile, without a bound in milliseconds (a loaded machine is slow,
# not wrong): a child that has just started, stuck on the stopped server
# for its request_timeout (5 s), is still there once fbeectl has its
# answer.  A master that waited for its child would answer after it.
child() { pgrep -P "$FBD_PID" -f -- --queue-depth | head -1; }
c0=$(child)
fresh_child() { c=$(child); [ -n "$c" ] && [ "$c" != "$c0" ]; }
until_ok 30 fresh_child
ctl status >"$FBD_DIR/st.txt" && kill -0 "$c" 2>/dev/null
ok $? "the master answers fbeectl while its child waits on the server"
grep -q '^queue error: ' "$FBD_DIR/st.txt"
ok $? "fbeectl status shows the error"
col_down() {
	ctl metrics | grep -q '^financebee_dependency_up{dependency="colonies"} 0$'
}
until_ok 30 col_down
ok $? "metrics: financebee_dependency_up{dependency=\"colonies\"} 0"
is "$(q waiting)" 0 "the last measured value is kept"
kill -CONT "$MC_PID"
no_error() { [ "$(q error)" = null ]; }
until_ok 30 no_error
ok $? "the server back: the error clears"
ctl stop >/dev/null
fbd_wait_gone 30
check_no_sanitizer_reports "$FBD_LOG"
done_testing
