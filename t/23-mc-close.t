#!/bin/sh
# minicolonies: closing processes (protocol section 8, "Closing twice",
# "Closing someone else's process"), logs, get, cancel.
. "$(dirname "$0")/lib/fbtest.sh"
. "$(dirname "$0")/20-mclib.sh"

mc_start || exit 1
mc_setup
ok $? "colony, submitter and two workers"

# take PROCESSID: submit one and assign it to worker-1; prints its id.
take() {
	local p
	p=$(mc_submit)
	mc_assign_raw "$MC_T/w1.key" -1
	[ "$RPC_PID" = "$p" ] || { diag "assign got '$RPC_PID' not '$p'"; }
	echo "$p"
}
close_ok() {	# close_ok KEY PID OUT-JSON
	mc_rpc "$1" closesuccessfulmsg "{\"processid\":\"$2\",\"out\":$3,\"msgtype\":\"closesuccessfulmsg\"}"
}
close_failed() {	# close_failed KEY PID ERRORS-JSON
	mc_rpc "$1" closefailedmsg "{\"processid\":\"$2\",\"errors\":$3,\"msgtype\":\"closefailedmsg\"}"
}
add_log() {
	mc_rpc "$1" addlogmsg "{\"processid\":\"$2\",\"message\":\"hello log\\n\",\"msgtype\":\"addlogmsg\"}"
}

# --- success, then success again ----------------------------------------------
p=$(take)
add_log "$MC_T/w1.key" "$p"
is "$RPC_STATUS:$RPC_PAYLOAD" "200:{}" "addlogmsg by the assigned executor while running -> 200"
add_log "$MC_T/w2.key" "$p"
is "$RPC_STATUS:$RPC_MSG" "403:Failed to add log, not allowed to add log, only the assigned Executor may att logs" \
    "addlogmsg by another executor -> 403 (sic)"
close_ok "$MC_T/w2.key" "$p" '["x"]'
is "$RPC_STATUS:$RPC_MSG" "403:Failed to close process as successful, not allowed to close process as successful" \
    "closesuccessful by another executor -> 403"
close_failed "$MC_T/w2.key" "$p" '["x"]'
is "$RPC_STATUS:$RPC_MSG" "403:Failed to close process as failed, not allowed to close process as failed" \
    "closefailed by another executor -> 403"
close_ok "$MC_T/w1.key" "$p" '["ok",{"amount":5},42]'
is "$RPC_STATUS:$RPC_TYPE:$RPC_PAYLOAD" "200:closesuccessfulmsg:{}" \
    "closesuccessful -> 200, payload {}"
is "$(mc_field "$p" '[.state, .out] | tostring')" '[2,["ok",{"amount":5},42]]' \
    "state 2 and out stored"
like "$(mc_field "$p" .endtime)" '^20' "endtime set"
close_ok "$MC_T/w1.key" "$p" '["second"]'
is "$RPC_STATUS" 200 "success then success again -> 200"
is "$(mc_field "$p" '.out | tostring')" '["second"]' "... and out is overwritten"
add_log "$MC_T/w1.key" "$p"
is "$RPC_STATUS:$RPC_MSG" "403:Failed to set output, process is not running" \
    "addlogmsg after close -> 403 (sic)"
close_failed "$MC_T/w1.key" "$p" '["late"]'
is "$RPC_STATUS:$RPC_MSG" "400:Tried to set successful process as failed" \
    "success then failed -> 400"
is "$(mc_field "$p" .state)" 2 "... and it stays successful"

# --- failed, then failed / success ---------------------------------------------------
p=$(take)
close_failed "$MC_T/w1.key" "$p" '["bad signature","second error"]'
is "$RPC_STATUS:$RPC_PAYLOAD" "200:{}" "closefailed -> 200 {}"
is "$(mc_field "$p" '[.state, .errors] | tostring')" \
    '[3,["bad signature","second error"]]' "state 3 and errors stored"
close_failed "$MC_T/w1.key" "$p" '["again"]'
is "$RPC_STATUS:$RPC_MSG" "400:Tried to set failed process as failed" \
    "failed then failed -> 400"
close_ok "$MC_T/w1.key" "$p" '["written anyway"]'
is "$RPC_STATUS:$RPC_MSG" "400:Tried to set failed process as successful" \
    "failed then success -> 400"
is "$(mc_field "$p" '[.state, .out, .errors] | tostring')" \
    '[3,["written anyway"],["bad signature","second error"]]' \
    "... but the rejected call's out is still written (quirk)"
mc_assign_raw "$MC_T/w1.key" -1
is "$RPC_STATUS" 404 "a failed close is not retried by the server"

# --- waiting, unknown ---------------------------------------------------------------------
p=$(mc_submit --executor-names nobody)
close_ok "$MC_T/w1.key" "$p" '[]'
is "$RPC_STATUS:$RPC_MSG" "403:Failed to close process as successful, process is not assigned" \
    "closing a waiting process -> 403 not assigned"
close_failed "$MC_T/w1.key" "$p" '[]'
is "$RPC_STATUS:$RPC_MSG" "403:Failed to close process as failed, process is not assigned" \
    "failing a waiting process -> 403 not assigned"
add_log "$MC_T/w1.key" "$p"
is "$RPC_STATUS:$RPC_MSG" "403:Failed to set output, process is not running" \
    "addlogmsg to a waiting process -> 403"
nope=0000000000000000000000000000000000000000000000000000000000000000
close_ok "$MC_T/w1.key" "$nope" '[]'
is "$RPC_STATUS:$RPC_MSG" "500:Failed to close process as successful, process is nil" \
    "closesuccessful of an unknown id -> 500 process is nil"
close_failed "$MC_T/w1.key" "$nope" '[]'
is "$RPC_STATUS:$RPC_MSG" "500:Failed to close process as failed, process is nil" \
    "closefailed of an unknown id -> 500 process is nil"
mc_rpc "$MC_T/w1.key" getprocessmsg "{\"processid\":\"$nope\",\"msgtype\":\"getprocessmsg\"}"
is "$RPC_STATUS:$RPC_MSG" "404:Failed to get process, process not found" \
    "getprocessmsg of an unknown id -> 404"
mc_rpc "$MC_T/owner.key" getprocessmsg "{\"processid\":\"$p\",\"msgtype\":\"getprocessmsg\"}"
is "$RPC_STATUS:$RPC_MSG" "403:Access denied, not a member of Colony with name <financebee>" \
    "getprocessmsg by the colony owner -> 403"
mc_rpc "$MC_T/w2.key" getprocessmsg "{\"processid\":\"$p\",\"msgtype\":\"getprocessmsg\"}"
is "$RPC_STATUS" 200 "any member can read any process of the colony"

# --- cancel ---------------------------------------------------------------------------------
p=$(take)
mc_rpc "$MC_T/sub.key" cancelprocessmsg "{\"processid\":\"$p\",\"msgtype\":\"cancelprocessmsg\"}"
is "$RPC_STATUS" 200 "cancelprocessmsg by a member -> 200"
is "$(mc_field "$p" .state)" 4 "state 4 (cancelled)"
close_ok "$MC_T/w1.key" "$p" '[]'
is "$RPC_STATUS" 400 "a close after cancel -> 400"
is "$(mc_field "$p" .state)" 4 "... and it stays cancelled"

# --- setoutput ---------------------------------------------------------------------------------
p=$(take)
mc_rpc "$MC_T/w1.key" setoutputmsg "{\"processid\":\"$p\",\"out\":[1,2],\"msgtype\":\"setoutputmsg\"}"
is "$RPC_STATUS:$(mc_field "$p" '.out | tostring')" "200:[1,2]" \
    "setoutputmsg by the assigned executor while running"

# --- the CLI close/fail/log exit codes ------------------------------------------------------------
mc close --key-file "$MC_T/w1.key" "$p" --out '["cli"]'
ok $? "CLI close -> 0"
mc fail --key-file "$MC_T/w1.key" "$p" --error x 2>/dev/null
is $? 1 "CLI fail after close -> exit 1"
mc assign --key-file "$MC_T/w1.key" --colony financebee --timeout -1 \
    >/dev/null 2>&1
is $? 3 "CLI assign on an empty queue -> exit 3"

# --- pause / resume --------------------------------------------------------------------------------
pause='{"colonyname":"financebee","msgtype":"pauseassignmentsmsg"}'
mc_rpc "$MC_T/w1.key" pauseassignmentsmsg "$pause"
is "$RPC_STATUS:$RPC_MSG" "403:Access denied, not colony owner" \
    "pauseassignmentsmsg by a member -> 403"
mc_rpc "$MC_T/owner.key" pauseassignmentsmsg "$pause"
is "$RPC_STATUS" 200 "pauseassignmentsmsg by the owner -> 200"
p=$(mc_submit)
mc_assign_raw "$MC_T/w1.key" -1
is "$RPC_STATUS:$RPC_MSG" "503:No processes available: colony assignments are paused" \
    "while paused, assign with timeout < 0 -> 503"
mc_assign_raw "$MC_T/w1.key" 1
is "$RPC_STATUS:$RPC_MSG" "408:Assignment timeout: colony assignments are paused" \
    "while paused, a long-poll ends with 408"
mc_rpc "$MC_T/owner.key" resumeassignmentsmsg '{"colonyname":"financebee","msgtype":"resumeassignmentsmsg"}'
mc_assign_raw "$MC_T/w1.key" -1
is "$RPC_STATUS:$RPC_PID" "200:$p" "after resume the queued process is assigned"

# --- removeallprocesses -------------------------------------------------------------------------------
mc_rpc "$MC_T/owner.key" removeallprocessesmsg '{"colonyname":"financebee","state":-1,"msgtype":"removeallprocessesmsg"}'
is "$RPC_STATUS" 200 "removeallprocessesmsg by the owner -> 200"
is "$(curl -s "${FB_COLONIES_URL%/api}/dump" | wc -l)" 0 "no process left"
p=$(take)
is "$(mc_field "$p" .state)" 1 "the server still works after removing everything"
mc_alive
done_testing
