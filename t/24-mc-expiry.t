#!/bin/sh
# minicolonies: exec-time and queue-time expiry (protocol section 8):
# re-queue with retries+1 keeping prioritytime, failure once retries are
# used up, maxexectime 0 and -1, maxwaittime, closing after an expiry.
# Waits poll; nothing here asserts a duration.
. "$(dirname "$0")/lib/fbtest.sh"
. "$(dirname "$0")/20-mclib.sh"

mc_start || exit 1
mc_setup
ok $? "colony, submitter and two workers"

state_is() {	# state_is PID STATE
	[ "$(mc_field "$1" .state)" = "$2" ]
}

# --- maxexectime 2, maxretries 1 ---------------------------------------------
# Each process is for one worker: p may expire (2 s) before worker-2's
# assigns below, which must not take it then.
p=$(mc_submit --maxexectime 2 --maxretries 1 --executor-names worker-1)
pt0=$(mc_field "$p" .prioritytime)
mc_assign_raw "$MC_T/w1.key" -1
is "$RPC_PID" "$p" "worker-1 took the process (maxexectime 2, maxretries 1)"
p_never=$(mc_submit --maxexectime -1 --executor-names worker-2)
mc_assign_raw "$MC_T/w2.key" -1
is "$RPC_PID" "$p_never" "worker-2 took a process with maxexectime -1"
p_zero=$(mc_submit --maxexectime 0 --maxretries 0 --executor-names worker-2)
mc_assign_raw "$MC_T/w2.key" -1
is "$RPC_PID" "$p_zero" "worker-2 took a process with maxexectime 0"
p_wait=$(mc_submit --maxwaittime 1 --executor-names nobody)

until_ok 12 state_is "$p" 0
ok $? "past its deadline the process went back to waiting"
mc get --key-file "$MC_T/sub.key" "$p" >"$MC_T/requeued.json"
is "$(jq -c '[.retries, .isassigned, .assignedexecutorid]' "$MC_T/requeued.json")" \
    '[1,false,""]' "retries 1, unassigned"
is "$(jq -r .prioritytime "$MC_T/requeued.json")" "$pt0" \
    "prioritytime unchanged (it keeps its queue position)"
close_ok() {
	mc_rpc "$1" closesuccessfulmsg "{\"processid\":\"$2\",\"out\":[],\"msgtype\":\"closesuccessfulmsg\"}"
}
close_ok "$MC_T/w1.key" "$p"
is "$RPC_STATUS:$RPC_MSG" "403:Failed to close process as successful, process is not assigned" \
    "the original executor closing a re-queued process -> 403 not assigned"

until_ok 12 state_is "$p_zero" 3
ok $? "maxexectime 0 fails soon after assignment"
is "$(mc_field "$p_zero" '.errors | tostring')" \
    '["Maximum execution time limit exceeded"]' "... with the exec-time error"
until_ok 12 state_is "$p_wait" 3
ok $? "maxwaittime 1: a process nobody takes fails"
is "$(mc_field "$p_wait" '.errors | tostring')" \
    '["Maximum waiting time limit exceeded"]' "... with the wait-time error"

mc_assign_raw "$MC_T/w1.key" -1
is "$RPC_PID" "$p" "the re-queued process is assigned again"
until_ok 12 state_is "$p" 3
ok $? "not closed again: with retries used up it fails"
mc get --key-file "$MC_T/sub.key" "$p" >"$MC_T/failed.json"
is "$(jq -c '[.retries, .errors]' "$MC_T/failed.json")" \
    '[1,["Maximum execution time limit exceeded"]]' \
    "errors: Maximum execution time limit exceeded (ran maxretries+1 times)"
close_ok "$MC_T/w1.key" "$p"
is "$RPC_STATUS:$RPC_MSG" "400:Tried to set failed process as successful" \
    "closing after the expiry failure -> 400"
is "$(mc_field "$p_never" .state)" 1 "maxexectime -1 never expires"

# --- maxretries -1: re-queued forever ------------------------------------------------
# 3 s: time enough, under load, to close it once it is handed out again.
p=$(mc_submit --maxexectime 3 --maxretries -1 --executor-names worker-2)
mc_assign_raw "$MC_T/w2.key" -1
retried() { [ "$(mc_field "$p" .retries)" -ge 1 ] && state_is "$p" 0; }
until_ok 12 retried
ok $? "maxretries -1: re-queued instead of failed"
mc_assign_raw "$MC_T/w2.key" -1
is "$RPC_PID" "$p" "... and handed out again"
close_ok "$MC_T/w2.key" "$p"
is "$RPC_STATUS" 200 "the new holder can close it"
mc_alive
done_testing
