#!/bin/sh
# kill -9 of bees, many times, under load: the master respawns them, and
# every process still ends closed exactly once with its effect applied
# exactly once (a killed bee's process comes back after its lease).
. "$(dirname "$0")/lib/fbtest.sh"
. "$(dirname "$0")/lib/fbtest-daemon.sh"

FBD_BEES=4
fbd_setup || skip_all "cannot set up PostgreSQL + minicolonies"
plan 18

fbd_start
ok $? "financebeed started"
fbd_wait_bees 4
ok $? "4 bees running"

kills=0
working=0
inhand=0
# One kill that surely lands mid-task: the lock is taken before the
# events come, so the bees block on it inside their tasks, and a working
# one is killed there.  A blocked bee gives the task up at its deadline
# (2.25 s here: task_timeout 3 s less a quarter kept for the close, before
# database.statement_timeout, also 3 s) and takes the next one, which
# blocks again; a kill that lands in between finds it between tasks.  So: kill working
# bees, one at a time, until the master's log names a process in hand
# (up to 5), the lock held all along.
hold_lock
fbd_submit_generated 80 62
fbd_submit_fixtures
wait_working 1
ok $? "a bee is inside its task (blocked on the lock)"
tries=0
while [ "$tries" -lt 5 ] && wait_working 1; do
	tries=$((tries + 1))
	p=$(fbd_status | jq -r '[.bees[] | select(.state == "working")
	    | .pid][0] // empty' 2>/dev/null)
	n=$(grep -c 'bee signal 9' "$FBD_LOG")
	[ -n "$p" ] && [ "$p" != 0 ] && kill -KILL "$p" 2>/dev/null ||
	    continue
	kills=$((kills + 1))
	working=$((working + 1))
	for _ in $(seq 1 100); do
		[ "$(grep -c 'bee signal 9' "$FBD_LOG")" -gt "$n" ] && break
		sleep 0.1
	done
	inhand=$(grep -c ': process [0-9a-f]\{64\} event .* was in hand' \
	    "$FBD_LOG")
	[ "$inhand" -ge 1 ] && break
done
release_lock
for i in $(seq $((kills + 1)) 20); do
	# Prefer a bee that holds a task right now.
	st=$(fbd_status)
	p=$(printf '%s' "$st" | jq -r '[.bees[] | select(.state == "working")
	    | .pid][0] // empty' 2>/dev/null)
	if [ -n "$p" ] && [ "$p" != 0 ]; then
		working=$((working + 1))
	else
		p=$(fbd_bee_pids | shuf -n 1)
	fi
	[ -n "$p" ] && kill -KILL "$p" 2>/dev/null && kills=$((kills + 1))
	sleep 0.$(shuf -i 1-4 -n 1)
done
note "killed $kills bees, $working of them while working"
[ "$kills" -ge 10 ]
ok $? "killed at least 10 bees ($kills)"
kill -0 "$FBD_PID"
ok $? "the master is alive"

fbd_wait_closed 120
ok $? "every process closed ($FBD_WAIT)"
fbd_check_exactly_once
fbd_wait_bees 4 30
ok $? "4 bees running again"
r=$(fbd_status | jq -r '.pool.restarts')
[ "${r:-0}" -ge "$kills" ]
ok $? "status counts the restarts ($r >= $kills)"
like "$(cat "$FBD_LOG")" 'bee signal 9' "the log names the signal"
# The point of the test: kills that land mid-task.  The master logs the
# process a bee held when it died (from its status page).
inhand=$(grep -c ': process [0-9a-f]\{64\} event .* was in hand' "$FBD_LOG")
[ "$inhand" -ge 1 ]
ok $? "at least one kill landed mid-task ($inhand, per the master's log)"

kill -TERM "$FBD_PID"
fbd_wait_gone 30
is "$FBD_RC" 0 "graceful stop exits 0"
fbd_check_no_secrets "$FBD_LOG" "$FBD_DIR/dump.jsonl"
check_no_sanitizer_reports "$FBD_LOG"
