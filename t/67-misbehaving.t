#!/bin/sh
# Bees that misbehave are killed and replaced; the master lives on.
#  - garbage, an oversized message, a wrong protocol version on the channel
#    (test-only FINANCEBEE_TEST_GARBAGE=SLOT[:MODE]);
#  - a bee stuck in a task (SIGSTOP) is killed by the watchdog, which names
#    the process and event it held; that process comes back after its lease.
. "$(dirname "$0")/lib/fbtest.sh"
. "$(dirname "$0")/lib/fbtest-daemon.sh"

fbd_setup || skip_all "cannot set up PostgreSQL + minicolonies"
plan 22

FINANCEBEE_TEST_GARBAGE=2 fbd_start
ok $? "financebeed started; bee 2 writes garbage"
wait_log 'slot 2: killing pid [0-9]+ \(protocol error'
ok $? "the master kills bee 2 for a protocol error"
fbd_submit_fixtures
fbd_submit_generated 20 67
fbd_wait_closed 60
ok $? "bees 1 and 3 process every event ($FBD_WAIT)"
kill -0 "$FBD_PID"
ok $? "the master is alive"
st=$(fbd_status)
[ "$(printf '%s' "$st" | jq '.bees[] | select(.slot == 2) | .restarts')" -ge 1 ]
ok $? "status: slot 2 restarted"
is "$(printf '%s' "$st" | jq -r '.bees[] | select(.slot == 1) | .restarts')" 0 \
    "status: slot 1 untouched"
kill -TERM "$FBD_PID"
fbd_wait_gone 30
is "$FBD_RC" 0 "graceful stop exits 0"

for mode in big:'message over 64 KiB' version:'protocol version 99'; do
	: >"$FBD_LOG"
	FINANCEBEE_TEST_GARBAGE=1:${mode%%:*} fbd_start
	wait_log "slot 1: killing pid [0-9]+ \\(protocol error: ${mode#*:}"
	ok $? "${mode%%:*}: bee 1 killed (${mode#*:})"
	kill -0 "$FBD_PID"
	ok $? "${mode%%:*}: the master is alive"
	kill -TERM "$FBD_PID"
	fbd_wait_gone 30
done

# --- the watchdog ------------------------------------------------------------
: >"$FBD_LOG"
fbd_start
fbd_wait_bees 3
# Held until released below: a bee blocks on it, whatever the machine's load.
PGAPPNAME=fbtest_lock psql_q -c "BEGIN; LOCK TABLE processed_webhooks IN
    ACCESS EXCLUSIVE MODE; SELECT pg_sleep(120); COMMIT;" >/dev/null 2>&1 &
fb_track_pid $!
# Until PostgreSQL has granted it (a sleep would race a slow machine).
# (A function: until_ok runs its arguments again, it does not expand them.)
lock_granted() {
	[ "$(psql_q -c "SELECT count(*) FROM pg_locks l JOIN pg_class c
	    ON c.oid = l.relation WHERE c.relname = 'processed_webhooks'
	    AND l.mode = 'AccessExclusiveLock' AND l.granted")" = 1 ]
}
until_ok 10 lock_granted
fbd_submit_generated 1 671
for _ in $(seq 1 50); do
	p=$(fbd_status | jq -r '[.bees[] | select(.state == "working" and
	    .task != null and .task.phase == "apply")][0] | select(. != null)
	    | "\(.pid) \(.task.process)"' 2>/dev/null)
	case $p in [0-9]*) break ;; esac
	sleep 0.1
done
pid=${p%% *}
proc=${p#* }
like "$proc" '^[0-9a-f]{64}$' "a bee holds process ${proc:-?}"
kill -STOP "$pid"
psql_q -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
    WHERE application_name = 'fbtest_lock'" >/dev/null
wait_log "killing pid $pid \\(task running for" 20
ok $? "the watchdog kills the stuck bee"
like "$(grep "killing pid $pid" "$FBD_LOG")" "holding process $proc event evt_" \
    "its log line names the process and the event"
fbd_wait_bees 3
ok $? "3 bees again"
fbd_wait_closed 60
ok $? "the stuck bee's process comes back and is closed ($FBD_WAIT)"
fbd_check_exactly_once
kill -TERM "$FBD_PID"
fbd_wait_gone 30
check_no_sanitizer_reports "$FBD_LOG"
