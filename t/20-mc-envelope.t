#!/bin/sh
# minicolonies: the RPC envelope, byte by byte, as the real server treats
# it (shared/colonies-protocol.md sections 0-3): malformed bodies, bad
# signatures, unknown types, replay, and the order in which checks win.
. "$(dirname "$0")/lib/fbtest.sh"
. "$(dirname "$0")/20-mclib.sh"

mc_start || exit 1
mc_setup
ok $? "colony, submitter and two workers set up with the CLI"

# --- transport -----------------------------------------------------------
base=${FB_COLONIES_URL%/api}
is "$(curl -s -o "$MC_T/h" -w '%{http_code}' "$base/health")" 200 \
    "GET /health -> 200"
is "$(wc -c <"$MC_T/h" | tr -d ' ')" 0 "GET /health has an empty body"
is "$(curl -s -o /dev/null -w '%{http_code}' "$base/api")" 404 \
    "GET /api -> 404"
ct=$(curl -s -D - -o /dev/null --data-binary '' "$FB_COLONIES_URL" |
    tr -d '\r' | sed -n 's/^Content-Type: //ip')
is "$ct" "text/plain; charset=utf-8" "replies are text/plain; charset=utf-8"

# --- bodies that are not an envelope -------------------------------------
mc_post ''
is "$RPC_STATUS:$RPC_MSG" "400:unexpected end of JSON input" \
    "empty body -> 400 unexpected end of JSON input"
is "$(curl -s --data-binary '' "$FB_COLONIES_URL" | jq -c '[.payloadtype, .error]')" \
    '["error",true]' "error replies: payloadtype error, error:true"
mc_post '{"payloadtype":"assignprocessmsg","payload":"e30='
is "$RPC_STATUS:$RPC_MSG" "400:unexpected end of JSON input" \
    "truncated envelope -> 400 unexpected end of JSON input"
mc_post 'hello'
is "$RPC_STATUS:$RPC_MSG" \
    "400:invalid character 'h' looking for beginning of value" \
    "non-JSON body -> 400 with Go's error text"
mc_post '{"payloadtype":1}'
is "$RPC_STATUS:$RPC_MSG" "400:json: cannot unmarshal number into Go struct field RPCMsg.payloadtype of type string" \
    "payloadtype of the wrong type -> 400 Go unmarshal text"
mc_post '[1,2]'
is "$RPC_STATUS:$RPC_MSG" \
    "400:json: cannot unmarshal array into Go value of type rpc.RPCMsg" \
    "array body -> 400 Go unmarshal text"
mc_post '{} x'
is "$RPC_STATUS:$RPC_MSG" \
    "400:invalid character 'x' after top-level value" \
    "trailing garbage -> 400"

# --- signatures ------------------------------------------------------------
pl=$(printf '%s' '{"processid":"x","msgtype":"getprocessmsg"}' | base64 -w0)
mc_post "{\"payloadtype\":\"getprocessmsg\",\"payload\":\"$pl\"}"
is "$RPC_STATUS:$RPC_MSG" "403:Invalid signature length" \
    "missing signature -> 403 Invalid signature length"
mc_post "{\"payloadtype\":\"getprocessmsg\",\"payload\":\"$pl\",\"signature\":\"abcd\"}"
is "$RPC_STATUS:$RPC_MSG" "403:Invalid signature length" \
    "short signature -> 403 Invalid signature length"
sig=24ea2d66a639d2b8c973094911a1b5d9ccdb6ee48d94487ecda2407edbbf6f4513bed23538ec23b13926dc510694564e20639fc4edea1c6c02558d8d2dd24d8c
mc_post "{\"payloadtype\":\"getprocessmsg\",\"payload\":\"hello\",\"signature\":\"${sig}1b\"}"
is "$RPC_STATUS:$RPC_MSG" "403:Failed to recover public key: invalid signature: public key recovery code 54 is not in the valid range [27, 34]" \
    "v=27 (Ethereum style) -> 403 recovery code 54"
mc_post "{\"payloadtype\":\"getprocessmsg\",\"payload\":\"hello\",\"signature\":\"${sig}02\"}"
is "$RPC_STATUS" 403 "v=2 -> 403"
like "$RPC_MSG" '^Failed to recover public key: .*signature R \+ N >= P' \
    "v=2 -> 'signature R + N >= P'"
hs=24ea2d66a639d2b8c973094911a1b5d9ccdb6ee48d94487ecda2407edbbf6f45ec412dcac713dc4ec6d923aef96ba9b09a4b3d21c15e83cfbd7cd0ffa263f3b500
mc_post "{\"payloadtype\":\"getprocessmsg\",\"payload\":\"hello\",\"signature\":\"$hs\"}"
is "$RPC_STATUS:$RPC_MSG" \
    "403:Failed verify signature: Signature s value is over half the order" \
    "high-S signature -> 403"
mc_post "{\"payloadtype\":\"getprocessmsg\",\"payload\":\"hello\",\"signature\":\"${sig}01\"}"
is "$RPC_STATUS:$RPC_MSG" "400:Failed to get process, invalid JSON" \
    "a valid low-S signature passes; the non-base64 payload is invalid JSON"

# --- payload type ----------------------------------------------------------
env=$(mc_env "$MC_T/sub.key" foomsg '{"msgtype":"foomsg"}')
mc_post "$env"
is "$RPC_STATUS:$RPC_MSG" "403:invalid rpcMsg.PayloadType: foomsg" \
    "unknown payloadtype -> 403"
bad=$(printf '%s' "$env" | jq -c '.signature = "abcd"')
mc_post "$bad"
is "$RPC_STATUS:$RPC_MSG" "403:Invalid signature length" \
    "a bad signature wins over an unknown payloadtype (checked first)"
mc_post "$(mc_env "$MC_T/sub.key" "" '{}')"
like "$RPC_MSG" '^invalid rpcMsg.PayloadType: empty' \
    "empty payloadtype -> the real server's 'empty' text"

# --- payload decoding --------------------------------------------------------
mc_post "$(mc_env "$MC_T/sub.key" assignprocessmsg '{"colonyname":"financebee","timeout":1,"msgtype":"getprocessmsg"}')"
is "$RPC_STATUS:$RPC_MSG" \
    "400:Failed to assign process, msg.msgType does not match payloadType" \
    "msgtype mismatch -> 400 (per-message text)"
mc_post "$(mc_env "$MC_T/sub.key" getprocessmsg '{"processid":"x","msgtype":"assignprocessmsg"}')"
is "$RPC_STATUS:$RPC_MSG" \
    "400:Failed to get process, msg.MsgType does not match payloadType" \
    "msgtype mismatch on getprocessmsg -> its own text"
mc_post "$(mc_env "$MC_T/sub.key" assignprocessmsg 'not json')"
is "$RPC_STATUS:$RPC_MSG" "400:Failed to assign process, invalid JSON" \
    "payload not JSON -> 400 invalid JSON"
mc_post "$("$MC_BIN" sign --key-file "$MC_T/sub.key" --payloadtype assignprocessmsg --raw --json '!!notbase64!!')"
is "$RPC_STATUS:$RPC_MSG" "400:Failed to assign process, invalid JSON" \
    "payload not base64 -> 400 invalid JSON"
mc_post "$(mc_env "$MC_T/sub.key" closesuccessfulmsg '{"processid":5,"msgtype":"closesuccessfulmsg"}')"
is "$RPC_STATUS:$RPC_MSG" "400:Failed to close successful, invalid JSON" \
    "payload field of the wrong type -> 400 invalid JSON"
mc_post "$(mc_env "$MC_T/sub.key" assignprocessmsg '{"colonyname":"financebee","timeout":"x","msgtype":"getprocessmsg"}')"
is "$RPC_STATUS:$RPC_MSG" "400:Failed to assign process, invalid JSON" \
    "a wrong field type wins over a msgtype mismatch (Go decodes first)"
mc_post "$(mc_env "$MC_T/sub.key" assignprocessmsg '{"colonyname":"financebee","timeout":-1,"msgtype":"assignprocessmsg"}')"
is "$RPC_STATUS:$RPC_MSG" "404:No process available for assignment" \
    "a well-formed signed call works (control)"

# --- identity ---------------------------------------------------------------
env=$(mc_env "$MC_T/sub.key" getprocessesmsg '{"colonyname":"financebee","count":10,"state":0,"executortype":"","label":"","initiator":"","msgtype":"getprocessesmsg"}')
mc_post "$env"
is "$RPC_STATUS" 200 "getprocessesmsg by a member -> 200"
mc_post "$env"
is "$RPC_STATUS" 200 "the same envelope replayed verbatim is accepted again"
is "$RPC_PAYLOAD" "null" "an empty process list is the JSON literal null"
mc_post "$(printf '%s' "$env" | jq -c '.signature |= ascii_upcase')"
is "$RPC_STATUS" 200 "an uppercase-hex signature is accepted"
tampered=$(printf '%s' "$env" | jq -c --arg p "$(printf '%s' '{"colonyname":"financebee","count":11,"state":0,"executortype":"","label":"","initiator":"","msgtype":"getprocessesmsg"}' | base64 -w0)" '.payload = $p')
mc_post "$tampered"
is "$RPC_STATUS:$RPC_MSG" \
    "403:Access denied, not a member of Colony with name <financebee>" \
    "tampered payload -> recovers another id -> 403 not a member"
flipped=$(printf '%s' "$env" | jq -c '.signature |= (.[0:128] + (if .[128:130] == "00" then "01" else "00" end))')
mc_post "$flipped"
is "$RPC_STATUS:$RPC_MSG" \
    "403:Access denied, not a member of Colony with name <financebee>" \
    "flipped v -> 403 not a member"
mc_rpc "$MC_T/owner.key" getprocessesmsg '{"colonyname":"financebee","count":10,"state":0,"msgtype":"getprocessesmsg"}'
is "$RPC_STATUS:$RPC_MSG" \
    "403:Access denied, not a member of Colony with name <financebee>" \
    "the colony owner key is not a member"
mc_rpc "$MC_T/server.key" getprocessesmsg '{"colonyname":"financebee","count":10,"state":0,"msgtype":"getprocessesmsg"}'
is "$RPC_STATUS:$RPC_MSG" \
    "403:Access denied, not a member of Colony with name <financebee>" \
    "an unknown key -> 403 not a member"
mc_rpc "$MC_T/sub.key" getprocessesmsg '{"colonyname":"nosuch","count":10,"state":0,"msgtype":"getprocessesmsg"}'
is "$RPC_STATUS:$RPC_MSG" "403:Colony with name <nosuch> does not exists" \
    "a colony that does not exist -> 403 does not exists"
mc_rpc "$MC_T/sub.key" getprocessesmsg '{"colonyname":"financebee","count":101,"state":0,"msgtype":"getprocessesmsg"}'
is "$RPC_STATUS:$RPC_MSG" "400:Count is larger than MaxCount limit <100>" \
    "count > 100 -> 400 (the \\u003c escaping decodes back to <)"
ok $? "'<' and '>' in messages are sent as \\u003c and \\u003e"

# --- unsigned calls -------------------------------------------------------------
mc_post "{\"payloadtype\":\"versionmsg\",\"payload\":\"$(printf '%s' '{"msgtype":"versionmsg"}' | base64 -w0)\"}"
is "$RPC_STATUS:$RPC_TYPE" "200:versionmsg" "versionmsg is accepted unsigned"

# --- body sizes --------------------------------------------------------------------
head -c 15000000 /dev/zero | tr '\0' 'a' >"$MC_T/big.txt"
printf '{"payloadtype":"getprocessmsg","payload":"' >"$MC_T/big.json"
cat "$MC_T/big.txt" >>"$MC_T/big.json"
printf '","signature":"abcd"}' >>"$MC_T/big.json"
mc_post_file "$MC_T/big.json"
is "$RPC_STATUS:$RPC_MSG" "403:Invalid signature length" \
    "a 15 MB envelope is read whole and checked (no size limit below 32 MiB)"
head -c 70000000 /dev/zero >"$MC_T/huge.bin"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Expect:' \
    --data-binary @"$MC_T/huge.bin" "$FB_COLONIES_URL")
like "$code" '^(413|000)$' "a 70 MB body is refused (413 or closed), no crash"
rm -f "$MC_T/big.txt" "$MC_T/big.json" "$MC_T/huge.bin"

mc_alive
done_testing
