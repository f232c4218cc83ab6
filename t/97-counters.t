#!/bin/sh
# fbeectl status counts exactly what ColonyOS and the database hold:
#  - right after the last close, without waiting for any poll to return;
#  - after a kill -9 storm: a dead bee's counters come from its status
#    page, folded into the pool's totals once, and a task whose close was
#    in flight when its bee died is counted if and only if the close
#    landed (the master asks ColonyOS: financebeed --settle);
#  - a task whose close got no answer (the server stopped) is counted if
#    and only if the close landed all the same, and once.
. "$(dirname "$0")/lib/fbtest.sh"
. "$(dirname "$0")/lib/fbtest-daemon.sh"

FBD_BEES=4
# A task blocked in the database gives up at statement_timeout or at its
# deadline (task_timeout, within the lease): 3 s in the helpers, less
# than the steps between "blocked" and "released" below take under ASan
# on a loaded machine.  10 s here.  The lease is 30 s: a close the
# stopped server received must still find the process running when the
# server resumes, once the bee has given up at its deadline (12 s).
FBD_LEASE=30
FBD_TASK_TIMEOUT=12
fbd_setup || skip_all "cannot set up PostgreSQL + minicolonies"
# Long polls: a bee back in its poll must still have published its tasks.
sed -i -e 's|poll_timeout = 1;|poll_timeout = 30;|' \
    -e 's|statement_timeout = 3;|statement_timeout = 10;|' \
    -e 's|crash_limit = 4;|crash_limit = 1000;|' \
    -e "s|interval = 0.5;|interval = 3;|" "$FBD_CONF"
plan 53


# closed_tasks: tasks closed by the pool, by its status (all outcomes but
# transient, which are left unclosed).
closed_tasks() {
	fbd_status | jq '.pool.tasks | .applied + .duplicate + .ignored +
	    .stale + .parked + .failed'
}
closed_is() { [ "$(closed_tasks)" = "$1" ]; }
mc_closed() { mc stats --colony "$FB_COLONY" | jq '.successful + .failed'; }
metrics_total() {
	"$FB_BUILDDIR/fbeectl" -s "$FBD_SOCK" metrics |
	    awk '/^financebee_tasks_total\{/ && !/transient/ { n += $2 } END { print n }'
}

fbd_start
ok $? "financebeed started"
fbd_wait_bees 4
ok $? "4 bees running"

# --- without kills: exact right after the last close ---------------------------
# Created by Stripe 7,600 s ago and later (user u's events from
# created0 + 100 u to + 120 s): the revenue lag of each is between 3,480 s
# and 7,600 s plus the run.
FBD_GEN_T0=$(( $(date +%s) - 7600 )) fbd_submit_generated 40 771
n=$FBD_SUBMITTED
fbd_wait_closed 60
ok $? "$n processes closed ($FBD_WAIT)"
# Once no bee holds a task, each has published the counters of its last
# one, though all are back in a 30 s long poll.
no_bee_working() {
	[ "$(fbd_status | jq '[.bees[] | select(.task.phase != null)] | length')" = 0 ]
}
until_ok 30 no_bee_working
closed_is "$n"
ok $? "status shows all $n once the bees are back in their polls (got $(closed_tasks))"
is "$(metrics_total)" "$n" "metrics too"
applied=$(fbd_status | jq '.pool.tasks.applied')
is "$("$FB_BUILDDIR/fbeectl" -s "$FBD_SOCK" metrics |
    awk '$1 == "financebee_revenue_lag_seconds_count" { print $2 }')" "$applied" \
    "metrics: a revenue lag for each of the $applied applied events"
lag=$(fbd_status | jq -r '.pool.revenue_lag_s | "\(.p50) \(.p99)"')
echo "$lag" | awk '{ exit !($1 >= 3400 && $1 <= 7800 && $2 >= $1 && $2 <= 9000) }'
ok $? "status: revenue lag p50 and p99 from Stripe's created ($lag s)"
like "$("$FB_BUILDDIR/fbeectl" -s "$FBD_SOCK" status)" \
    'revenue lag: p50 [0-9.]+ s, p95 [0-9.]+ s, p99 [0-9.]+ s' \
    "fbeectl status: the revenue lag"

# --- a bee killed while its close is in flight, the close landing ----------------
# Its task blocks in the database; ColonyOS is stopped; the task goes on to
# its close, which waits for the server; the bee is killed; the server
# resumes and serves the close it had received.
lock_granted() {
	[ "$(psql_q -c "SELECT count(*) FROM pg_locks l JOIN pg_class c
	    ON c.oid = l.relation WHERE c.relname = 'processed_webhooks'
	    AND l.mode = 'AccessExclusiveLock' AND l.granted")" = 1 ]
}
phase_pid() {	# phase_pid PHASE: the pid of a bee in that phase
	fbd_status | jq -r "[.bees[] | select(.task.phase == \"$1\") |
	    .pid][0] // empty"
}
in_phase() { [ -n "$(phase_pid "$1")" ]; }
psql_q -c "BEGIN; LOCK TABLE processed_webhooks IN ACCESS EXCLUSIVE MODE;
    SELECT pg_sleep(60); COMMIT;" >/dev/null 2>&1 &
fb_track_pid $!
until_ok 10 lock_granted
fbd_submit_generated 1 773
n1=$FBD_SUBMITTED
until_ok 10 in_phase apply
ok $? "a bee works on a task blocked in the database"
kill -STOP "$MC_PID"
psql_q -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
    WHERE query LIKE '%pg_sleep(60)%' AND pid <> pg_backend_pid()" >/dev/null
until_ok 10 in_phase close
ok $? "its close waits for the stopped server"
p=$(phase_pid close)
kill -KILL "$p"
kill -CONT "$MC_PID"
wait_log "process [0-9a-f]+ event [^ ]+: its close was in flight" 10
ok $? "the master asks ColonyOS whether the close landed"
wait_log "process [0-9a-f]+: the close landed; counted" 10
ok $? "it did: the task is counted"
fbd_wait_closed 60
ok $? "every process closed ($FBD_WAIT)"
until_ok 5 closed_is "$(mc_closed)"
ok $? "status counts it once, as ColonyOS ($(closed_tasks) = $(mc_closed))"
is "$(fbd_status | jq .pool.unsettled)" 0 "nothing left to settle"

# --- a close that gets no answer, but lands ------------------------------------------
# The same, but the bee lives: every attempt to close times out against
# the stopped server until the task's deadline, and the bee moves on
# without counting the task; the server resumes and serves the close it
# had received.  The master asks ColonyOS and counts it, once.
psql_q -c "BEGIN; LOCK TABLE processed_webhooks IN ACCESS EXCLUSIVE MODE;
    SELECT pg_sleep(60); COMMIT;" >/dev/null 2>&1 &
fb_track_pid $!
until_ok 10 lock_granted
fbd_submit_generated 1 774
ids2=$(paste -sd'|' "$FBD_DIR/last.ids")
until_ok 10 in_phase apply
ok $? "a bee works on a task blocked in the database"
kill -STOP "$MC_PID"
psql_q -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
    WHERE query LIKE '%pg_sleep(60)%' AND pid <> pg_backend_pid()" >/dev/null
gave_up() {	# the processes whose bee gave up closing them
	grep -Eo "process ($ids2) event [^ ]+: (close failed after [0-9]+ tries|no time left to close it), left to ColonyOS" \
	    "$FBD_LOG" | awk '{ print $2 }' | sort -u
}
no_task() { [ -n "$(gave_up)" ] && no_bee_working; }
until_ok 40 no_task
ok $? "closes got no answer until their tasks' deadline: $(gave_up | wc -l)"
all_logged() {	# all_logged TEXT: the log has "process ID: TEXT" for each
	for id in $(gave_up); do
		grep -Fq "process $id: $1" "$FBD_LOG" || return 1
	done
}
until_ok 10 all_logged "its close got no answer; asking ColonyOS"
ok $? "each is handed to the master to settle"
kill -CONT "$MC_PID"
until_ok 30 all_logged "the close landed; counted"
ok $? "each close landed: each task is counted"
fbd_wait_closed 60
ok $? "every process closed ($FBD_WAIT)"
until_ok 10 closed_is "$(mc_closed)"
ok $? "status counts it once, as ColonyOS ($(closed_tasks) = $(mc_closed))"
is "$(fbd_status | jq .pool.unsettled)" 0 "nothing left to settle"

# --- a kill -9 storm -------------------------------------------------------------
# Each event takes 20 ms more in the database, so that the storm lands
# while tasks flow.
psql_q -c "CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS
    \$\$ BEGIN PERFORM pg_sleep(0.02); RETURN NEW; END \$\$;
    CREATE TRIGGER slow BEFORE INSERT ON processed_webhooks
    FOR EACH ROW EXECUTE FUNCTION slow()" >/dev/null
# The events are submitted while the storm runs: on a loaded machine (an
# ASan build) the bees apply them faster than they are submitted, and a
# storm started after the submission found the queue drained.
ids0=$(cat "$FBD_DIR/all.ids" 2>/dev/null | wc -l)
fbd_submit_generated 500 772 >"$FBD_DIR/feed.out" 2>&1 &
feeder=$!
kills=0 closing=0 busy=0
busy() { [ "$(mc stats --colony "$FB_COLONY" | jq '.waiting + .running')" != 0 ]; }
while [ "$kills" -lt 40 ]; do
	busy && busy=$((busy + 1))
	# Bees in the close phase first: the case to count right.
	p=$(phase_pid close)
	if [ -n "$p" ] && [ "$p" != 0 ]; then
		closing=$((closing + 1))
	else
		p=$(fbd_bee_pids | shuf -n 1)
	fi
	[ -n "$p" ] && kill -KILL "$p" 2>/dev/null && kills=$((kills + 1))
	sleep 0.$(shuf -i 05-20 -n 1)
done
wait "$feeder"
ok $? "the events were submitted during the storm"
# Counted in the background shell: the ids it added.
FBD_SUBMITTED=$((FBD_SUBMITTED + $(wc -l <"$FBD_DIR/all.ids") - ids0))
note "killed $kills bees ($busy with work queued), $closing seen closing; $(grep -c 'close was in flight' "$FBD_LOG") closes in flight in all"
[ "$busy" -ge 15 ]
ok $? "at least 15 of the $kills kills while tasks were waiting or running ($busy)"
fbd_wait_closed 180
ok $? "every process closed ($FBD_WAIT)"
fbd_check_exactly_once
total=$(mc_closed)
is "$total" "$FBD_SUBMITTED" "ColonyOS closed every process"
until_ok 10 closed_is "$total"
ok $? "status counts $total tasks closed, as ColonyOS (got $(closed_tasks))"
db=$(psql_q -c "SELECT count(*) FROM processed_webhooks")
ok_n=$(sort -u "$FBD_DIR/closed.ev" | grep -vc '^-$')
is "$db" "$ok_n" "the database holds one row per event closed successful"
is "$(metrics_total)" "$total" "metrics agree"
r=$(fbd_status | jq .pool.restarts)
[ "$r" -ge "$kills" ]
ok $? "every kill was a restart ($r >= $kills)"
"$FB_BUILDDIR/fbeectl" -s "$FBD_SOCK" executors --json >"$FBD_DIR/executors.json"
kill -TERM "$FBD_PID"
fbd_wait_gone 30
is "$FBD_RC" 0 "graceful stop exits 0"

# --- financebeed --settle, by hand ---------------------------------------------------
settle() {	# settle SLOT PROCESSID: its exit status
	"$FB_BUILDDIR/financebeed" -c "$FBD_CONF" --settle "$1" --process "$2" \
	    >>"$FBD_DIR/settle.log" 2>&1
	echo $?
}
mc dump --colony "$FB_COLONY" --full >"$FBD_DIR/d1.jsonl"
proc=$(jq -r 'select(.state == 2) | .processid' "$FBD_DIR/d1.jsonl" | head -1)
exid=$(jq -r "select(.processid == \"$proc\") | .assignedexecutorid" "$FBD_DIR/d1.jsonl")
mine=$(jq -r ".[] | select(.id == \"$exid\") | .slot" "$FBD_DIR/executors.json")
other=$((mine % 4 + 1))
is "$(settle "$mine" "$proc")" 0 "--settle: closed by the slot's executor: 0"
is "$(settle "$other" "$proc")" 1 "--settle: closed by another executor: 1"
is "$(settle 1 "$(printf '%064d' 7)")" 1 "--settle: an unknown process: 1"
# The daemon is gone: a new process waits.
_fbd_submit "$FB_FIXTURES/stripe-events/stripe-ruby-mock__coupon.created__1.json"
is "$(settle 1 "$(cat "$FBD_DIR/last.ids")")" 1 "--settle: a waiting process: 1"
# As the slot's executor: slot 1 of hand.conf is the submitter, which can
# assign and close the processes of its own type by hand.
(umask 077; echo "$FB_SUBMITTER_KEY" >"$FBD_DIR/hand.keys")
sed -e "s|executor_seed_file = .*|executor_keys_file = \"$FBD_DIR/hand.keys\";|" \
    -e 's|^bees = .*|bees = 1;|' "$FBD_CONF" >"$FBD_DIR/hand.conf"
chmod 600 "$FBD_DIR/hand.conf"
hand_submit() {	# hand_submit MAXEXECTIME MAXRETRIES: a process for the submitter
	mc submit --key-file "$FBD_DIR/submitter.key" --colony "$FB_COLONY" \
	    --type submitter --funcname validate_revenue --maxexectime "$1" \
	    --maxretries "$2" \
	    "$FB_FIXTURES/stripe-events/stripe-ruby-mock__coupon.created__1.json"
}
hand_assign() {
	mc assign --key-file "$FBD_DIR/submitter.key" --colony "$FB_COLONY" \
	    --timeout 10 >/dev/null
}
hsettle() {	# hsettle PROCESSID RETRIES OUTCOME: the exit status
	"$FB_BUILDDIR/financebeed" -c "$FBD_DIR/hand.conf" --settle 1 \
	    --process "$1" --retries "$2" --outcome "$3" \
	    >>"$FBD_DIR/settle.log" 2>&1
	echo $?
}
proc_is() {	# proc_is PROCESSID JQ-EXPR: true if it holds
	mc get --key-file "$FBD_DIR/submitter.key" "$1" | jq -e "$2" >/dev/null
}
# A long lease: the run is still on when asked, then closed failed.
h=$(hand_submit 600 0)
hand_assign
is "$(hsettle "$h" 0 failed)" 75 "--settle: still running in that run: ask again (75)"
mc fail --key-file "$FBD_DIR/submitter.key" "$h" --error "amount: not a number" >/dev/null
is "$(hsettle "$h" 0 failed)" 0 "--settle: closed failed by the slot's executor: 0"
is "$(hsettle "$h" 0 applied)" 1 "--settle: closed failed, the bee closed it successful: 1"
# A 2 s lease with retries left: the first run expires, a later one closes.
h=$(hand_submit 2 50)
hand_assign
until_ok 30 proc_is "$h" '.state == 0 and .retries >= 1'
ok $? "the lease ran out: handed out again, retries 1 or more"
is "$(hsettle "$h" 0 applied)" 1 "--settle: waiting again: 1"
# Each try must close within its 2 s lease; a late one is refused and the
# process comes back, retries one higher.
for _ in 1 2 3 4 5 6 7 8 9 10; do
	hand_assign
	mc close --key-file "$FBD_DIR/submitter.key" "$h" \
	    --out '[{"outcome":"applied"}]' >/dev/null 2>&1
	proc_is "$h" '.state == 2' && break
done
r=$(mc get --key-file "$FBD_DIR/submitter.key" "$h" | jq .retries)
proc_is "$h" '.state == 2 and .retries >= 1'
ok $? "closed by the same executor in a later run (retries $r)"
is "$(hsettle "$h" 0 applied)" 1 "--settle: closed by the slot's executor, but in a later run: 1"
is "$(hsettle "$h" "$r" applied)" 0 "--settle: closed in the run asked about: 0"
is "$(hsettle "$h" "$r" failed)" 1 "--settle: closed successful, the bee closed it failed: 1"
# No retry left: the server fails it at the lease's end.
h=$(hand_submit 1 0)
hand_assign
until_ok 30 proc_is "$h" '.state == 3'
ok $? "the lease ran out with no retry left: the server failed it"
is "$(hsettle "$h" 0 failed)" 1 "--settle: failed by the server, not by the bee: 1"

sed 's|url = ".*";|url = "http://127.0.0.1:1/api";|' "$FBD_CONF" >"$FBD_DIR/down.conf"
chmod 600 "$FBD_DIR/down.conf"
"$FB_BUILDDIR/financebeed" -c "$FBD_DIR/down.conf" --settle 1 --process "$proc" \
    >>"$FBD_DIR/settle.log" 2>&1
is "$?" 75 "--settle: ColonyOS unreachable: 75"

check_no_sanitizer_reports "$FBD_LOG" "$FBD_DIR/settle.log"
