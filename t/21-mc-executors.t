#!/bin/sh
# minicolonies: colonies and executors (protocol sections 6 and 8):
# ownership checks, approval, duplicates, removal, stale-executor cleanup
# and re-approval, --allow-executor-reregister.
. "$(dirname "$0")/lib/fbtest.sh"
. "$(dirname "$0")/20-mclib.sh"

# The cleanup runs every 5 s: a pass that falls between two requests
# that must come back to back (below) is then rare even under ASan and
# load, and those pairs are tried again when it happens.
mc_start --stale-executor-duration 2 --cleanup-interval 5 || exit 1

# --- colonies ---------------------------------------------------------------
mc_rpc "$MC_T/owner.key" addcolonymsg "{\"colony\":{\"colonyid\":\"$MC_OWNER_ID\",\"name\":\"financebee\"},\"msgtype\":\"addcolonymsg\"}"
is "$RPC_STATUS:$RPC_MSG" "403:Access denied, not server owner" \
    "addcolonymsg signed by the colony key -> 403 not server owner"
mc_rpc "$MC_T/server.key" addcolonymsg "{\"colony\":{\"colonyid\":\"$MC_OWNER_ID\",\"name\":\"financebee\"},\"msgtype\":\"addcolonymsg\"}"
is "$RPC_STATUS" 200 "addcolonymsg signed by the server key -> 200"
is "$(printf '%s' "$RPC_PAYLOAD" | jq -r '.colonyid + " " + .name')" \
    "$MC_OWNER_ID financebee" "the reply is the colony"

mc setup --colony financebee --server-key-file "$MC_T/server.key" \
    --owner-key-file "$MC_T/owner.key" --submitter-key-file "$MC_T/sub.key"
ok $? "CLI: setup on an existing colony adds an approved submitter"

# --- adding executors ----------------------------------------------------------
addw1="{\"executor\":{\"executorid\":\"$MC_W1_ID\",\"executortype\":\"financebee\",\"executorname\":\"worker-1\",\"colonyname\":\"financebee\"},\"msgtype\":\"addexecutormsg\"}"
mc_rpc "$MC_T/w1.key" addexecutormsg "$addw1"
is "$RPC_STATUS:$RPC_MSG" "403:Access denied, not colony owner" \
    "addexecutormsg signed by an executor key -> 403 not colony owner"
mc_rpc "$MC_T/owner.key" addexecutormsg "$addw1"
is "$RPC_STATUS" 200 "addexecutormsg by the owner -> 200"
is "$(printf '%s' "$RPC_PAYLOAD" | jq -r '[.executorid, .executortype, .executorname, .colonyname, .state, .requirefuncreg, .lastheardfromtime] | map(tostring) | join(" ")')" \
    "$MC_W1_ID financebee worker-1 financebee 0 false 0001-01-01T00:00:00Z" \
    "the reply is the executor, pending (state 0)"
like "$RPC_PAYLOAD" '^\{"executorid":"[0-9a-f]{64}","executortype":"financebee",' \
    "the executor is sent compact (Executor.ToJSON is json.Marshal)"
like "$(printf '%s' "$RPC_PAYLOAD" | jq -r .commissiontime)" \
    '^20[0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9:]{8}(\.[0-9]+)?Z$' \
    "commissiontime is RFC 3339 UTC"
mc_rpc "$MC_T/owner.key" addexecutormsg "$addw1"
is "$RPC_STATUS:$RPC_MSG" \
    "400:Executor with name <worker-1> in Colony <financebee> already exists" \
    "the same name again -> 400 already exists"
mc_rpc "$MC_T/owner.key" addexecutormsg '{"executor":{"executorid":"x","executortype":"t","executorname":"n","colonyname":"nosuch"},"msgtype":"addexecutormsg"}'
is "$RPC_STATUS:$RPC_MSG" "403:Colony with name <nosuch> does not exists" \
    "an executor for a colony that does not exist -> 403"
mc_rpc "$MC_T/owner.key" addexecutormsg '{"msgtype":"addexecutormsg"}'
is "$RPC_STATUS:$RPC_MSG" "400:Failed to add executor, executor is nil" \
    "no executor object -> 400 executor is nil"

# --- pending executors are not members --------------------------------------------
assign1='{"colonyname":"financebee","timeout":-1,"msgtype":"assignprocessmsg"}'
mc_rpc "$MC_T/w1.key" assignprocessmsg "$assign1"
is "$RPC_STATUS:$RPC_MSG" \
    "403:Access denied, not a member of Colony with name <financebee>" \
    "a pending executor -> 403 not a member (no distinct text)"

# --- approval ----------------------------------------------------------------------
approve1='{"colonyname":"financebee","executorname":"worker-1","msgtype":"approveexecutormsg"}'
mc_rpc "$MC_T/w1.key" approveexecutormsg "$approve1"
is "$RPC_STATUS:$RPC_MSG" "403:Access denied, not colony owner" \
    "self-approval -> 403"
mc_rpc "$MC_T/owner.key" approveexecutormsg "$approve1"
is "$RPC_STATUS:$RPC_PAYLOAD" "200:{}" "approval by the owner -> 200 {}"
mc_rpc "$MC_T/owner.key" approveexecutormsg "$approve1"
is "$RPC_STATUS" 200 "approving twice -> 200 (idempotent)"
mc_rpc "$MC_T/owner.key" approveexecutormsg '{"colonyname":"financebee","executorname":"nobody","msgtype":"approveexecutormsg"}'
is "$RPC_STATUS:$RPC_MSG" "500:Failed to approve executor, executor is nil" \
    "approving an unknown name -> 500 executor is nil"
mc_rpc "$MC_T/w1.key" assignprocessmsg "$assign1"
is "$RPC_STATUS:$RPC_MSG" "404:No process available for assignment" \
    "once approved, the executor may assign"
getw1='{"colonyname":"financebee","executorname":"worker-1","msgtype":"getexecutormsg"}'
# Asked right after an assign, pre-signed, by the submitter (never
# stale): on a loaded machine the 2 s cleanup can pass between two
# signed calls, so the pair is tried again if it did.
mc_env "$MC_T/w1.key" assignprocessmsg "$assign1" >"$MC_T/poll.json"
mc_env "$MC_T/sub.key" getexecutormsg "$getw1" >"$MC_T/getw1.json"
for _ in 1 2 3 4 5; do
	mc_post_file "$MC_T/poll.json"
	mc_post_file "$MC_T/getw1.json"
	[ "$(printf '%s' "$RPC_PAYLOAD" | jq -r .state)" = 3 ] || break
	mc_rpc "$MC_T/owner.key" approveexecutormsg "$approve1"
done
is "$(printf '%s' "$RPC_PAYLOAD" | jq -r .state)" 1 "getexecutormsg: state 1"
unlike "$(printf '%s' "$RPC_PAYLOAD" | jq -r .lastheardfromtime)" '^0001-' \
    "an assign refreshed lastheardfromtime"

# --- the same key under a second name ----------------------------------------------
mc executor add --colony financebee --name worker-1b --type financebee \
    --id "$MC_W1_ID" --owner-key-file "$MC_T/owner.key" >/dev/null
ok $? "the same key under a second name is accepted (as the real server)"

# --- rejection ---------------------------------------------------------------------------
mc executor add --colony financebee --name worker-2 --type financebee \
    --executor-key-file "$MC_T/w2.key" --owner-key-file "$MC_T/owner.key" \
    --approve >/dev/null
ok $? "CLI: executor add --approve"
mc executor reject --colony financebee --name worker-2 \
    --owner-key-file "$MC_T/owner.key"
ok $? "CLI: executor reject"
mc_rpc "$MC_T/w2.key" assignprocessmsg "$assign1"
is "$RPC_STATUS" 403 "a rejected executor is not a member"
mc executor approve --colony financebee --name worker-2 \
    --owner-key-file "$MC_T/owner.key"
ok $? "CLI: executor approve"

# --- removal -----------------------------------------------------------------------------
pid=$(mc_submit --maxexectime -1)
mc_assign_raw "$MC_T/w2.key" 5
is "$RPC_STATUS:$RPC_PID" "200:$pid" "worker-2 took a process"
mc_rpc "$MC_T/w2.key" removeexecutormsg '{"colonyname":"financebee","executorname":"worker-2","msgtype":"removeexecutormsg"}'
is "$RPC_STATUS:$RPC_MSG" "403:Access denied, not colony owner" \
    "removeexecutormsg by the executor itself -> 403"
mc executor remove --colony financebee --name worker-2 \
    --owner-key-file "$MC_T/owner.key"
ok $? "CLI: executor remove (owner)"
mc_rpc "$MC_T/sub.key" getexecutormsg '{"colonyname":"financebee","executorname":"worker-2","msgtype":"getexecutormsg"}'
is "$(printf '%s' "$RPC_PAYLOAD" | jq -r .state)" 3 \
    "a removed executor is unregistered (state 3)"
is "$(mc_field "$pid" '.state, .isassigned, .assignedexecutorid' | tr '\n' ' ')" \
    "0 false  " "its running process went back to the queue"
mc_rpc "$MC_T/w2.key" assignprocessmsg "$assign1"
is "$RPC_STATUS" 403 "the removed executor is no longer a member"

# --- stale executors (2 s / 5 s here) --------------------------------------------------
# worker-1 polled above; wait for the cleanup to mark it unregistered.
stale_w1() {
	mc_rpc "$MC_T/sub.key" getexecutormsg "$getw1" 2>/dev/null
	[ "$(printf '%s' "$RPC_PAYLOAD" | jq -r .state)" = 3 ]
}
# Under load the steps above can outlast the 2 s, and the cleanup mark
# worker-1 stale before it polls again: approve and poll back to back,
# pre-signed, until it holds a process (approving twice is harmless).
# Each try loses only if a cleanup pass falls between the two requests:
# up to 30 tries.
mc_env "$MC_T/owner.key" approveexecutormsg "$approve1" >"$MC_T/approve.json"
mc_env "$MC_T/w1.key" assignprocessmsg "$assign1" >"$MC_T/hold.json"
for _ in $(seq 1 30); do
	mc_post_file "$MC_T/approve.json"
	mc_post_file "$MC_T/hold.json"
	[ "$RPC_STATUS" = 403 ] || break
done
held=$(printf '%s' "$RPC_PAYLOAD" | jq -r '.processid // empty' 2>/dev/null)
# The assign's reply says so; a later get could come after the cleanup.
is "$RPC_STATUS:$held" "200:$pid" \
    "worker-1 holds a process when it falls silent"
until_ok 30 stale_w1
ok $? "an executor silent for longer than the stale duration -> state 3"
is "$(mc_field "$held" '[.state, .assignedexecutorid] | tostring')" '[0,""]' \
    "the stale executor's running process went back to the queue"
mc_rpc "$MC_T/w1.key" assignprocessmsg "$assign1"
is "$RPC_STATUS:$RPC_MSG" \
    "403:Access denied, not a member of Colony with name <financebee>" \
    "a stale executor -> 403 not a member"
mc_rpc "$MC_T/owner.key" addexecutormsg "$addw1"
is "$RPC_STATUS" 400 "re-adding a stale executor's name -> 400 already exists"
# The cleanup (every 5 s) marks it stale again until it assigns: approve
# and assign back to back, pre-signed, and retry (as above) if the
# cleanup got between.
mc_env "$MC_T/owner.key" approveexecutormsg "$approve1" >"$MC_T/approve.json"
mc_env "$MC_T/w1.key" assignprocessmsg "$assign1" >"$MC_T/assign.json"
for _ in $(seq 1 30); do
	mc_post_file "$MC_T/approve.json"
	mc_post_file "$MC_T/assign.json"
	[ "$RPC_STATUS" = 403 ] || break
done
is "$RPC_STATUS" 200 "re-approval by the owner restores it (and it got the queued process)"
mc_rpc "$MC_T/sub.key" getexecutormsg '{"colonyname":"financebee","executorname":"submitter","msgtype":"getexecutormsg"}'
is "$(printf '%s' "$RPC_PAYLOAD" | jq -r .state)" 1 \
    "an executor that never called assign is never marked stale"

# --- --allow-executor-reregister ----------------------------------------------------------
kill -TERM "$MC_PID"
mc_start --allow-executor-reregister || exit 1
mc_rpc "$MC_T/server.key" addcolonymsg "{\"colony\":{\"colonyid\":\"$MC_OWNER_ID\",\"name\":\"financebee\"},\"msgtype\":\"addcolonymsg\"}"
mc_rpc "$MC_T/owner.key" addexecutormsg "$addw1"
mc_rpc "$MC_T/owner.key" approveexecutormsg "$approve1"
mc_rpc "$MC_T/owner.key" addexecutormsg "$addw1"
is "$RPC_STATUS" 200 \
    "with --allow-executor-reregister the same name is accepted again"
is "$(printf '%s' "$RPC_PAYLOAD" | jq -r .state)" 0 \
    "and the replacement row is pending"
mc_rpc "$MC_T/w1.key" assignprocessmsg "$assign1"
is "$RPC_STATUS" 403 "so the executor must be approved again"
mc_alive

# --- functions ---------------------------------------------------------------------------
# On this server, whose stale-executor cleanup (the default, far longer
# than the test) cannot mark worker-1 stale between two requests however
# loaded the machine.
mc_rpc "$MC_T/owner.key" approveexecutormsg "$approve1"
is "$RPC_STATUS" 200 "approved again"
mc_rpc "$MC_T/w1.key" addfunctionmsg '{"fun":{"executorname":"worker-1","executortype":"financebee","colonyname":"financebee","funcname":"validate_revenue"},"msgtype":"addfunctionmsg"}'
is "$RPC_STATUS" 200 "addfunctionmsg for itself -> 200"
like "$(printf '%s' "$RPC_PAYLOAD" | jq -r .functionid)" '^[0-9a-f]{64}$' \
    "the function gets a server-made functionid"
mc_rpc "$MC_T/w1.key" addfunctionmsg '{"fun":{"executorname":"submitter","executortype":"financebee","colonyname":"financebee","funcname":"x"},"msgtype":"addfunctionmsg"}'
is "$RPC_STATUS:$RPC_MSG" \
    "403:Not allowed to add a function to another executor" \
    "addfunctionmsg for another executor -> 403"
mc_alive
done_testing
