#!/bin/sh
# minicolonies: the server-level replies, byte for byte as the real server
# (colonyos/colonies) writes them: versionmsg and getserverinfomsg (both
# unsigned), colony statistics (getcolonystatsmsg) and executor removal
# (removeexecutormsg) while processes are running.
. "$(dirname "$0")/lib/fbtest.sh"
. "$(dirname "$0")/20-mclib.sh"

b64() { printf '%s' "$1" | base64 -w0; }

mc_start || exit 1
mc_setup
ok $? "colony, submitter and two workers set up with the CLI"
port=${FB_COLONIES_URL#http://127.0.0.1:}
port=${port%/api}

# --- versionmsg: rpc.VersionMsg, json.Marshal, with its msgtype -------------------
mc_post "{\"payloadtype\":\"versionmsg\",\"payload\":\"$(b64 '{"buildversion":"","buildtime":"","msgtype":"versionmsg"}')\"}"
is "$RPC_STATUS:$RPC_TYPE" "200:versionmsg" "unsigned versionmsg -> 200 versionmsg"
like "$RPC_PAYLOAD" \
    '^\{"buildversion":"minicolonies-[0-9][^"]*","buildtime":"","msgtype":"versionmsg"\}$' \
    "the reply is {buildversion, buildtime, msgtype}, compact, msgtype last"
curl -s --data-binary "{\"payloadtype\":\"versionmsg\",\"payload\":\"$(b64 '{"msgtype":"versionmsg"}')\"}" \
    "$FB_COLONIES_URL" >"$MC_T/v.out"
is "$(jq -c '[keys_unsorted, .error]' "$MC_T/v.out")" \
    '[["payloadtype","payload","error"],false]' \
    "the envelope: payloadtype, payload, error:false"
mc_rpc "$MC_T/w1.key" versionmsg '{"msgtype":"versionmsg"}'
is "$RPC_STATUS:$RPC_TYPE" "200:versionmsg" "a signed versionmsg is answered too"
mc_post "{\"payloadtype\":\"versionmsg\",\"payload\":\"$(b64 '{"msgtype":"getprocessmsg"}')\"}"
is "$RPC_STATUS:$RPC_MSG" \
    "400:Failed to get server version, msg.MsgType does not match payloadType" \
    "versionmsg with another msgtype -> 400, the handler's own text"
mc_post "{\"payloadtype\":\"versionmsg\",\"payload\":\"$(b64 'nope')\"}"
is "$RPC_STATUS:$RPC_MSG" "400:Failed to get server version, invalid JSON" \
    "versionmsg with a non-JSON payload -> 400 invalid JSON"
mc_post "{\"payloadtype\":\"versionmsg\",\"payload\":\"$(b64 '{"buildtime":5,"msgtype":"versionmsg"}')\"}"
is "$RPC_STATUS:$RPC_MSG" "400:Failed to get server version, invalid JSON" \
    "versionmsg with a field of the wrong type -> 400 invalid JSON"
mc_post "{\"payloadtype\":\"versionmsg\",\"payload\":\"$(b64 'null')\"}"
is "$RPC_STATUS:$RPC_TYPE:$RPC_PAYLOAD" "500::" \
    "versionmsg with the payload null -> 500, empty (the handler dereferences nil)"
mc_post '{"payloadtype":"versionmsg","payload":"","signature":"abcd"}'
is "$RPC_STATUS:$RPC_MSG" "400:Failed to get server version, invalid JSON" \
    "versionmsg: the signature is not looked at, the empty payload is"

# --- getserverinfomsg: core.ServerInfo, no payload check at all -------------------------
mc_post '{"payloadtype":"getserverinfomsg","payload":"!!"}'
is "$RPC_STATUS:$RPC_TYPE" "200:getserverinfomsg" \
    "unsigned getserverinfomsg, payload not even base64 -> 200"
like "$RPC_PAYLOAD" \
    "^\\{\"buildversion\":\"minicolonies-[0-9][^\"]*\",\"buildtime\":\"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z\",\"backends\":\\[\\{\"type\":\"http\",\"port\":$port,\"host\":\"127.0.0.1\"\\}\\]\\}\$" \
    "{buildversion, buildtime (RFC 3339), backends:[{type, port, host}]}, tls omitted when false"
is "$(printf '%s' "$RPC_PAYLOAD" | jq -r '.backends[0].port | type')" number \
    "the port is a number"
MAIN_URL=$FB_COLONIES_URL
MAIN_PID=$MC_PID
BUILD_VERSION=v1.9.9 BUILD_TIME=2026-01-02T03:04:05Z \
    COLONIES_SERVER_HTTP_HOST=0.0.0.0 COLONIES_SERVER_HTTP_PORT=50080 \
    COLONIES_SERVER_HTTP_TLS=true mc_start || exit 1
mc_post '{"payloadtype":"getserverinfomsg","payload":""}'
is "$RPC_PAYLOAD" \
    '{"buildversion":"v1.9.9","buildtime":"2026-01-02T03:04:05Z","backends":[{"type":"http","port":50080,"host":"0.0.0.0","tls":true}]}' \
    "BUILD_VERSION, BUILD_TIME, COLONIES_SERVER_HTTP_HOST/_PORT/_TLS as the real server reads them"
mc_alive
kill -TERM "$MC_PID"
FB_COLONIES_URL=$MAIN_URL
MC_PID=$MAIN_PID

# --- getcolonystatsmsg -------------------------------------------------------------------
stats='{"colonyname":"financebee","msgtype":"getcolonystatsmsg"}'
mc_rpc "$MC_T/sub.key" getcolonystatsmsg "$stats"
is "$RPC_STATUS:$RPC_TYPE" "200:getcolonystatsmsg" "getcolonystatsmsg by a member -> 200"
is "$RPC_PAYLOAD" \
    '{"colonies":1,"executors":3,"activeexecutors":3,"unregisteredexecutors":0,"waitingprocesses":0,"runningprocesses":0,"successfulprocesses":0,"failedprocesses":0,"cancelledprocesses":0,"waitingworkflows":0,"runningworkflows":0,"successfulworkflows":0,"failedworkflows":0,"cancelledworkflows":0}' \
    "an empty colony: core.Statistics, every field, compact, in Go's order"
p_ok=$(mc_submit)
p_fail=$(mc_submit)
p_cancel=$(mc_submit)
p_run=$(mc_submit)
mc_submit >/dev/null
mc_submit >/dev/null
for _ in 1 2; do
	mc_assign_raw "$MC_T/w1.key" -1
done
mc_rpc "$MC_T/w1.key" closesuccessfulmsg "{\"processid\":\"$p_ok\",\"out\":[],\"msgtype\":\"closesuccessfulmsg\"}"
mc_rpc "$MC_T/w1.key" closefailedmsg "{\"processid\":\"$p_fail\",\"errors\":[\"no\"],\"msgtype\":\"closefailedmsg\"}"
mc_rpc "$MC_T/sub.key" cancelprocessmsg "{\"processid\":\"$p_cancel\",\"msgtype\":\"cancelprocessmsg\"}"
mc_assign_raw "$MC_T/w2.key" -1
is "$RPC_PID" "$p_run" "worker-2 holds a process"
mc_rpc "$MC_T/sub.key" getcolonystatsmsg "$stats"
is "$RPC_PAYLOAD" \
    '{"colonies":1,"executors":3,"activeexecutors":3,"unregisteredexecutors":0,"waitingprocesses":2,"runningprocesses":1,"successfulprocesses":1,"failedprocesses":1,"cancelledprocesses":1,"waitingworkflows":0,"runningworkflows":0,"successfulworkflows":0,"failedworkflows":0,"cancelledworkflows":0}' \
    "2 waiting, 1 running, 1 successful, 1 failed, 1 cancelled"
mc_rpc "$MC_T/w2.key" getcolonystatsmsg "$stats"
is "$RPC_STATUS:$(printf '%s' "$RPC_PAYLOAD" | jq .waitingprocesses)" 200:2 \
    "any approved member may ask"
mc_rpc "$MC_T/owner.key" getcolonystatsmsg "$stats"
is "$RPC_STATUS:$RPC_TYPE:$RPC_PAYLOAD" "200::" \
    "not a member (the colony owner key): 200 and an empty body, as the real handler (it returns without a reply)"
mc_env "$MC_T/owner.key" getcolonystatsmsg "$stats" >"$MC_T/stats-owner.json"
curl -s -D "$MC_T/stats-owner.hdr" -o "$MC_T/stats-owner.out" \
    --data-binary @"$MC_T/stats-owner.json" "$FB_COLONIES_URL"
is "$(tr -d '\r' <"$MC_T/stats-owner.hdr" | grep -ci '^content-type:')" 0 \
    "... with no Content-Type header (gin writes none)"
is "$(wc -c <"$MC_T/stats-owner.out" | tr -d ' ')" 0 "... and zero bytes"
ct=$(curl -s -D - -o /dev/null "${FB_COLONIES_URL%/api}/health" |
    tr -d '\r' | sed -n 's/^Content-Type: //ip')
is "$ct" "text/plain; charset=utf-8" "GET /health: text/plain, as gin's c.String"
mc_rpc "$MC_T/sub.key" getcolonystatsmsg '{"colonyname":"nosuch","msgtype":"getcolonystatsmsg"}'
is "$RPC_STATUS:$RPC_MSG" "400:Colony with name <nosuch> not found" \
    "an unknown colony -> 400 not found (looked up before membership)"
mc_rpc "$MC_T/sub.key" getcolonystatsmsg '{"colonyname":"financebee","msgtype":"getprocessmsg"}'
is "$RPC_STATUS:$RPC_MSG" \
    "400:Failed to get colony statistics, msg.MsgType does not match payloadType" \
    "msgtype mismatch -> 400"
mc_rpc "$MC_T/sub.key" getcolonystatsmsg '{"colonyname":7,"msgtype":"getcolonystatsmsg"}'
is "$RPC_STATUS:$RPC_MSG" "400:Failed to get colony statistics, invalid JSON" \
    "colonyname of the wrong type -> 400 invalid JSON"

# --- getprocessesmsg by state, with count -------------------------------------------------
list() {	# list KEYFILE STATE COUNT
	mc_rpc "$1" getprocessesmsg "{\"colonyname\":\"financebee\",\"count\":$3,\"state\":$2,\"executortype\":\"\",\"label\":\"\",\"initiator\":\"\",\"msgtype\":\"getprocessesmsg\"}"
}
list "$MC_T/sub.key" 0 1
is "$RPC_STATUS:$(printf '%s' "$RPC_PAYLOAD" | jq -r 'length, .[0].state' | tr '\n' ' ')" \
    "200:1 0 " "state 0, count 1: one waiting process"
list "$MC_T/sub.key" 3 10
is "$(printf '%s' "$RPC_PAYLOAD" | jq -r '.[].processid')" "$p_fail" \
    "state 3: the failed one"
list "$MC_T/owner.key" 0 10
is "$RPC_STATUS:$RPC_MSG" \
    "403:Access denied, not a member of Colony with name <financebee>" \
    "getprocessesmsg needs membership: 403 for the owner key"

# --- removeexecutormsg while a process runs ----------------------------------------------
rm_w2='{"colonyname":"financebee","executorname":"worker-2","msgtype":"removeexecutormsg"}'
mc_rpc "$MC_T/owner.key" removeexecutormsg '{"colonyname":"financebee","executorname":"nobody","msgtype":"removeexecutormsg"}'
is "$RPC_STATUS:$RPC_MSG" "500:Failed to remove executor, executor is nil" \
    "removing an unknown executor -> 500 executor is nil"
mc_rpc "$MC_T/sub.key" removeexecutormsg "$rm_w2"
is "$RPC_STATUS:$RPC_MSG" "403:Access denied, not colony owner" \
    "a member (not the owner) -> 403 not colony owner"
mc_rpc "$MC_T/owner.key" removeexecutormsg '{"colonyname":"financebee","executorname":"worker-2","msgtype":"getexecutormsg"}'
is "$RPC_STATUS:$RPC_MSG" \
    "400:Failed to remove executor, msg.MsgType does not match payloadType" \
    "msgtype mismatch -> 400"
mc_rpc "$MC_T/owner.key" removeexecutormsg "$rm_w2"
is "$RPC_STATUS:$RPC_TYPE:$RPC_PAYLOAD" "200:removeexecutormsg:{}" \
    "the colony owner removes worker-2 -> 200 {}"
is "$(mc_field "$p_run" '[.state, .isassigned, .assignedexecutorid] | tostring')" \
    '[0,false,""]' "its running process is back in the queue"
mc_rpc "$MC_T/w2.key" closesuccessfulmsg "{\"processid\":\"$p_run\",\"out\":[],\"msgtype\":\"closesuccessfulmsg\"}"
is "$RPC_STATUS:$RPC_MSG" \
    "403:Access denied, not a member of Colony with name <financebee>" \
    "the removed executor cannot close it any more"
mc_rpc "$MC_T/sub.key" getcolonystatsmsg "$stats"
is "$(printf '%s' "$RPC_PAYLOAD" | jq -c '[.executors, .activeexecutors, .unregisteredexecutors, .waitingprocesses, .runningprocesses]')" \
    '[3,2,1,3,0]' "stats: worker-2 unregistered, the process waiting again"
mc_assign_raw "$MC_T/w1.key" -1
is "$RPC_STATUS" 200 "worker-1 takes the freed work"
mc executor approve --colony financebee --name worker-2 \
    --owner-key-file "$MC_T/owner.key"
mc_assign_raw "$MC_T/w2.key" -1
is "$RPC_STATUS" 200 "re-approved by the owner, worker-2 is a member again"
mc_alive
done_testing
