#!/bin/sh
# The bees' status pages (fbee-proto.h struct fbee_shm): with heartbeat
# messages only once a second, the master still knows exactly what each
# bee holds.
#  - fbeectl status --json shows a working bee's process and event while
#    it is stuck in the database, and the watchdog's kill names them;
#  - a bee killed -9 mid-task: the exit log names the process and event;
#  - a bee that scribbles over its page (FINANCEBEE_TEST_GARBAGE=SLOT:shm)
#    is killed and replaced, status keeps working and shows none of it.
. "$(dirname "$0")/lib/fbtest.sh"
. "$(dirname "$0")/lib/fbtest-daemon.sh"

FBD_BEES=2
# A bee blocked on our lock gives its task up at its deadline: 2.25 s
# with task_timeout 3 and 5 s leases, which a loaded machine once spent
# between reading the status and stopping (or killing) the bee, which had
# moved on to the next process.  At task_timeout 10 (leases 15 s) the
# deadline is 8 s; the watchdog kills a stopped bee after 11 s.
FBD_LEASE=15
FBD_TASK_TIMEOUT=10
fbd_setup || skip_all "cannot set up PostgreSQL + minicolonies"
sed -i 's/statement_timeout = 3;/statement_timeout = 30;/' "$FBD_CONF"
plan 28

# hold_lock: the task of the next event blocks in the database, until
# release_lock.  Returns once PostgreSQL has granted the lock (a sleep
# would race with a slow machine: the task could slip through first).
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
release_lock() {
	psql_q -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
	    WHERE application_name = 'fbtest_lock'" >/dev/null
	until_ok 20 lock_free
}
lock_free() { ! lock_held; }

# working_bee: "slot pid process event phase age" of a bee blocked in the
# database (phase apply) on a task.
working_bee() {
	local w
	for _ in $(seq 1 200); do
		w=$(fbd_status | jq -r '[.bees[] | select(.state == "working"
		    and .task != null and .task.phase == "apply")][0] |
		    select(. != null) |
		    "\(.slot) \(.pid) \(.task.process) \(.task.event)
		    \(.task.phase) \(.task.age)"' 2>/dev/null | tr '\n' ' ')
		case $w in [0-9]*) echo "$w"; return 0 ;; esac
		sleep 0.1
	done
	return 1
}

fbd_start
ok $? "financebeed started"
fbd_wait_bees 2
ok $? "2 bees running"

# --- status and the watchdog, from the page ---------------------------------
hold_lock
fbd_submit_generated 1 691
w=$(working_bee)
ok $? "status shows a working bee"
set -- $w
slot=$1 pid=$2 proc=$3 ev=$4 phase=$5 age=$6
like "$proc" '^[0-9a-f]{64}$' "status: the process it holds (${proc:-?})"
like "$ev" '^evt_[A-Za-z0-9_]+$' "status: the Stripe event (${ev:-?})"
is "$phase" apply "status: phase apply"
like "$age" '^[0-9.]+$' "status: the task's age (${age:-?} s)"
is "$(grep -Fc "$proc" "$FBD_DIR/last.ids")" 1 \
    "status: the process is the one submitted"
kill -STOP "$pid"
# Stopped for good (state T): the page can no longer change.
until_ok 10 grep -q '^State:.*T' "/proc/$pid/status"
w2=$(fbd_status | jq -r ".bees[] | select(.slot == $slot) |
    \"\(.task.process) \(.task.event)\"")
is "$w2" "$proc $ev" "status: a stopped bee still shows its task"
wait_log "killing pid $pid \\(task running for" 20
ok $? "the watchdog kills the stuck bee"
like "$(grep "killing pid $pid" "$FBD_LOG")" \
    "slot $slot: killing pid $pid \\(task running for [0-9.]+s, over task_timeout\\) holding process $proc event $ev" \
    "its log line names the process and the event of the page"
fbd_wait_bees 2
ok $? "2 bees again"
release_lock

# --- kill -9 mid-task ---------------------------------------------------------
hold_lock
fbd_submit_generated 1 692
w=$(working_bee)
ok $? "a bee works on the next event"
set -- $w
slot=$1 pid=$2 proc=$3 ev=$4
kill -KILL "$pid"
wait_log "slot $slot: bee signal 9" 20
ok $? "the master reaps the killed bee"
# A line of its own, written after the reap's: waited for.
wait_log "slot $slot: process $proc event $ev was in hand" 20
ok $? "the exit log names the process and event it held"
release_lock
fbd_wait_closed 60
ok $? "both processes come back and are closed ($FBD_WAIT)"
fbd_check_exactly_once
kill -TERM "$FBD_PID"
fbd_wait_gone 30
is "$FBD_RC" 0 "graceful stop exits 0"
check_no_sanitizer_reports "$FBD_LOG"

# --- a bee scribbles over its page --------------------------------------------
: >"$FBD_LOG"
FINANCEBEE_TEST_GARBAGE=2:shm fbd_start
wait_log 'slot 2: killing pid [0-9]+ \(status page: ' 20
ok $? "the master kills bee 2 for its status page"
kill -0 "$FBD_PID"
ok $? "the master is alive"
st=$(fbd_status)
bad=$(printf '%s' "$st" | jq '[.bees[] | select((.state | IN("starting",
    "idle", "polling", "working", "paused", "draining", "backoff",
    "failed", "stopped") | not) or (.task != null and .slot == 2))] |
    length')
is "$bad" 0 "status works and shows nothing of the garbage"
fbd_submit_generated 5 693
fbd_wait_closed 60
ok $? "bee 1 processes the events ($FBD_WAIT)"
kill -TERM "$FBD_PID"
fbd_wait_gone 30
check_no_sanitizer_reports "$FBD_LOG"
