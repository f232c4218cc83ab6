#!/bin/sh
# Stopping: SIGTERM lets the task in hand finish and close; a second
# SIGTERM or a SIGQUIT is a fast stop that closes nothing and leaves the
# process to ColonyOS, which hands it out again after its lease; nothing is
# lost or applied twice.  A table lock holds the bees inside their task.
. "$(dirname "$0")/lib/fbtest.sh"
. "$(dirname "$0")/lib/fbtest-daemon.sh"

# The first section's bees wait on our lock until we release it: neither
# their deadline (task_timeout, the process's maxexectime), PostgreSQL's
# statement_timeout nor the master's shutdown_timeout may end that wait
# first on a loaded machine (at 3 s, one ASan run at load 26 gave up
# before the release).  The fast stops' processes get 5 s leases, so that
# the fourth section sees them handed out again soon.
FBD_LEASE=45
FBD_TASK_TIMEOUT=40
fbd_setup || skip_all "cannot set up PostgreSQL + minicolonies"
sed -i -e 's/statement_timeout = 3;/statement_timeout = 30;/' \
    -e 's/shutdown_timeout = 10;/shutdown_timeout = 60;/' "$FBD_CONF"
plan 27

# --- graceful: the task in hand finishes and is closed -------------------
fbd_start
ok $? "financebeed started"
fbd_wait_bees 3
hold_lock
fbd_submit_generated 1 651	# a handful of events for one user
wait_working 2
ok $? "bees are inside their tasks (blocked on the lock)"
kill -TERM "$FBD_PID"
# Once the master has begun its stop, it must still be there: the tasks
# in hand are blocked on the lock.
wait_log 'master info: graceful stop' 10
kill -0 "$FBD_PID"
ok $? "the master waits for the tasks in hand"
release_lock
fbd_wait_gone 20
is "$FBD_RC" 0 "graceful stop exits 0"
r=$(fbd_count_state 1)
is "$r" 0 "no process left running: the tasks in hand were closed"
like "$(cat "$FBD_LOG")" 'drained after [1-9]' "bees drained after their task"

# --- a second SIGTERM: fast --------------------------------------------------
fbd_start
ok $? "financebeed started again"
fbd_wait_bees 3
hold_lock
FBD_LEASE=5 fbd_submit_generated 1 652
wait_working 2
ok $? "bees are inside their tasks"
# Nothing can be closed while the lock is held: what is closed now must
# still be all that is closed once the daemon is gone.  (Counting what is
# left "running" instead races with the 5 s leases, which may expire and
# re-queue the processes before the count on a slow machine.)
c0=$(fbd_count_closed)
kill -TERM "$FBD_PID"
wait_log 'master info: graceful stop' 10	# the second TERM comes after
kill -TERM "$FBD_PID"
fbd_wait_gone 10
c1=$(fbd_count_closed)
release_lock
is "$FBD_RC" 0 "fast stop exits 0"
like "$(cat "$FBD_LOG")" 'fast stop' "the second SIGTERM made it a fast stop"
[ "$c1" -eq "$c0" ]
ok $? "fast stop closed nothing ($c0 closed before, $c1 after)"

# --- SIGQUIT: fast --------------------------------------------------------
fbd_start
ok $? "financebeed started again"
fbd_wait_bees 3
hold_lock
FBD_LEASE=5 fbd_submit_generated 1 653
wait_working 1
ok $? "bees are inside their tasks"
c0=$(fbd_count_closed)
kill -QUIT "$FBD_PID"
fbd_wait_gone 10
c1=$(fbd_count_closed)
release_lock
is "$FBD_RC" 0 "SIGQUIT exits 0"
[ "$c1" -eq "$c0" ]
ok $? "SIGQUIT closed nothing ($c0 closed before, $c1 after)"

# --- what was left is handed out again after its lease --------------------
fbd_start
ok $? "financebeed started again"
fbd_wait_closed 60
ok $? "every process closed in the end ($FBD_WAIT)"
fbd_check_exactly_once
kill -TERM "$FBD_PID"
fbd_wait_gone 30

# --- SIGQUIT while the bees long-poll (nothing left to hand out): the
# polls are cut short --------------------------------------------------------
sed -i 's|poll_timeout = 1;|poll_timeout = 20;|' "$FBD_CONF"
fbd_start
ok $? "financebeed started again, polling for up to 20 s"
fbd_wait_bees 3
polling() { [ "$(fbd_status | jq '[.bees[] | select(.state == "polling")]
    | length')" = 3 ]; }
until_ok 20 polling
ok $? "the 3 bees are in their long-polls"
k0=$(grep -c 'killing pid' "$FBD_LOG")
kill -QUIT "$FBD_PID"
fbd_wait_gone 10
is "$FBD_RC" 0 "SIGQUIT exits 0"
is "$(grep -c 'killing pid' "$FBD_LOG")" "$k0" \
    "no bee had to be killed: each left its long-poll at once"

check_no_sanitizer_reports "$FBD_LOG"
