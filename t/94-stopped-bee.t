#!/bin/sh
# A bee stopped past its lease while the database committed its event
# (issue 13 section 4): ColonyOS hands the process to another bee, whose
# run finds the marker and closes it successful as a duplicate; when the
# stopped bee resumes, its late close is refused, and the bee logs it,
# counts it (lost) and carries on.  Nothing is applied twice.
. "$(dirname "$0")/lib/fbtest.sh"
. "$(dirname "$0")/lib/fbtest-daemon.sh"

FBD_BEES=2
FBD_LEASE=45		# the watchdog (task_timeout + 1 s) fires long after
FBD_TASK_TIMEOUT=40	# the process's own lease (maxexectime 20) runs out
fbd_setup || skip_all "cannot set up PostgreSQL + minicolonies"
# The statement waits on our lock: do not let PostgreSQL cancel it.
sed -i 's/statement_timeout = 3;/statement_timeout = 30;/' "$FBD_CONF"

# hold_lock / release_lock: the next event's statement blocks in
# PostgreSQL until released; hold_lock returns once the lock is granted.
hold_lock() {
	PGAPPNAME=fbtest_lock psql_q -c "BEGIN; LOCK TABLE processed_webhooks
	    IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(120); COMMIT;" \
	    >/dev/null 2>&1 &
	fb_track_pid $!
	until_ok 20 lock_held
}
lock_held() {
	[ "$(psql_q -c "SELECT count(*) FROM pg_locks l JOIN pg_class c
	    ON c.oid = l.relation WHERE c.relname = 'processed_webhooks'
	    AND l.mode = 'AccessExclusiveLock' AND l.granted")" = 1 ]
}
lock_free() { ! lock_held; }
release_lock() {
	psql_q -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
	    WHERE application_name = 'fbtest_lock'" >/dev/null
	until_ok 20 lock_free
}
# blocked_bee: "slot pid process" of the bee whose statement waits.
blocked_bee() {
	fbd_status | jq -r '[.bees[] | select(.state == "working" and
	    .task.phase == "apply")][0] | select(. != null) |
	    "\(.slot) \(.pid) \(.task.process)"' 2>/dev/null | grep .
}
proc_state() {	# proc_state ID: its state at ColonyOS (2 successful)
	mc dump --colony "$FB_COLONY" --full | jq -r --arg p "$1" \
	    'select(.processid == $p) | "\(.state) \(.out[0].outcome // "-")"'
}
lost_of() {	# lost_of PID: the lost counter of that bee
	fbd_status | jq -r --argjson p "$1" \
	    '.bees[] | select(.pid == $p) | .tasks.lost'
}

fbd_start
ok $? "financebeed started"
fbd_wait_bees 2
ok $? "2 bees running"

perl "$FB_SRCDIR/contrib/gen-events.pl" -n 1 -s 79 -u "$FBD_DIR/u" \
    >"$FBD_DIR/ev.jsonl"
sed "s/.*/INSERT INTO user_profiles (id) VALUES ('&');/" "$FBD_DIR/u" |
    psql_q >/dev/null
hold_lock
ok $? "processed_webhooks locked"
head -1 "$FBD_DIR/ev.jsonl" >"$FBD_DIR/one.jsonl"
# Room for the steps below: the bee must be stopped before its task's
# deadline (16 s after it took the task: maxexectime less 2 s, less at
# most 2 s kept for the close), when it would cancel its statement, and
# the lock released before the lease runs out (20 s), or the re-run's
# statement waits beside the stopped bee's and either may commit first.
# With maxexectime 4 the steps once ran past both under ASan at load 27.
FBD_LEASE=20 _fbd_submit --stdin-lines <"$FBD_DIR/one.jsonl"
is "$FBD_SUBMITTED" 1 "one event submitted, maxexectime 20"
w=$(until_ok 20 blocked_bee && blocked_bee)
ok $? "a bee's statement waits on the lock"
set -- $w
slot=$1 pid=$2 proc=$3
kill -STOP "$pid"
until_ok 10 grep -q '^State:.*T' "/proc/$pid/status"
ok $? "bee $slot (pid $pid) stopped with its statement in flight"
# Nothing is closed successful before its commit: the statement waits,
# so the process must still be running at ColonyOS, the database empty.
# (Once the lease runs out another bee's statement waits too.)
is "$(proc_state "$proc")" "1 -" \
    "before the commit the process is still running at ColonyOS"
[ "$(psql_q -c "SELECT count(*) FROM pg_stat_activity WHERE
    application_name = 'financebee' AND wait_event_type = 'Lock'
    AND query LIKE '%fb_apply_event%'")" -ge 1 ]
ok $? "  while its statement waits, uncommitted"
release_lock
ok $? "lock released: PostgreSQL commits the stopped bee's event"
committed() { [ "$(psql_q -c "SELECT count(*) FROM processed_webhooks")" = 1 ]; }
until_ok 20 committed
ok $? "the event is committed"
st=
for _ in $(seq 1 300); do
	st=$(proc_state "$proc")
	case $st in 2\ *) break ;; esac
	sleep 0.1
done
is "$st" "2 duplicate" \
    "the lease ran out: another bee closed it successful, as a duplicate"
kill -CONT "$pid"
wait_log "process $proc event [^ ]+: lost ownership, not closed" 20
ok $? "the resumed bee's late close is refused, and logged"
lost_is_1() { [ "$(lost_of "$pid")" = 1 ]; }
until_ok 10 lost_is_1
ok $? "and counted: lost = 1 for that bee"
lost=$("$FB_BUILDDIR/fbeectl" -s "$FBD_SOCK" metrics |
    awk '$1 == "financebee_lost_total" { print $2 }')
is "$lost" 1 "metrics: financebee_lost_total 1"
kill -0 "$pid"
ok $? "the bee carries on (not killed)"
is "$(fbd_status | jq -r '.pool.restarts')" 0 "no bee restarted"
fbd_wait_closed 30
ok $? "the process is final ($FBD_WAIT)"
fbd_check_exactly_once
kill -TERM "$FBD_PID"
fbd_wait_gone 30
is "$FBD_RC" 0 "graceful stop exits 0"
check_no_sanitizer_reports "$FBD_LOG"
done_testing
