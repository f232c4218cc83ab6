#!/bin/sh
# minicolonies: submit and the assign long-poll (protocol sections 5-8):
# the byte-exact assign request, timeouts, routing by executortype and
# executornames, priority, wake-up on submit, concurrent polls, client
# disconnects, the Process object's shape.
. "$(dirname "$0")/lib/fbtest.sh"
. "$(dirname "$0")/20-mclib.sh"

mc_stat() {
	curl -s "${FB_COLONIES_URL%/api}/stats" | jq -r ".$1"
}

# --- server A: the byte-exact request of section 5, started first --------
mc_start || exit 1
mc colony add --name testcolony --server-key-file "$MC_T/server.key" \
    --owner-key-file "$MC_T/owner.key" >/dev/null &&
mc executor add --colony testcolony --name tester --type fbtest \
    --executor-key-file "$MC_T/sub.key" --owner-key-file "$MC_T/owner.key" \
    --approve >/dev/null
ok $? "server A: testcolony with the vector key as an approved executor"
jq -j .assign_envelope.http_body "$FB_FIXTURES/colonies-vectors.json" \
    >"$MC_T/exact.json"
is "$(wc -c <"$MC_T/exact.json" | tr -d ' ')" 332 "the byte-exact body is 332 bytes"
A_URL=$FB_COLONIES_URL
A_PID=$MC_PID
curl -s -o "$MC_T/exact1.out" -w '%{http_code}' --data-binary \
    @"$MC_T/exact.json" "$A_URL" >"$MC_T/exact1.code" &
exact_curl=$!

# --- server B: everything else --------------------------------------------
mc_start || exit 1
mc_setup
ok $? "server B: colony financebee, submitter, worker-1, worker-2"

# --- timeouts --------------------------------------------------------------
mc_rpc "$MC_T/w1.key" assignprocessmsg '{"colonyname":"financebee","timeout":0,"msgtype":"assignprocessmsg"}'
is "$RPC_STATUS:$RPC_MSG" "400:Invalid timeout value, timeout cannot be zero" \
    "timeout 0 -> 400"
mc_rpc "$MC_T/w1.key" assignprocessmsg '{"colonyname":"financebee","msgtype":"assignprocessmsg"}'
is "$RPC_STATUS:$RPC_MSG" "400:Invalid timeout value, timeout cannot be zero" \
    "no timeout -> 400"
mc_rpc "$MC_T/sub.key" assignprocessmsg '{"colonyname":"financebee","timeout":"1","msgtype":"assignprocessmsg"}'
is "$RPC_STATUS:$RPC_MSG" "400:Failed to assign process, invalid JSON" \
    "timeout as a string -> 400 invalid JSON"
mc_assign_raw "$MC_T/w1.key" -1
is "$RPC_STATUS:$RPC_MSG" "404:No process available for assignment" \
    "timeout < 0 on an empty queue -> 404 at once"
mc_assign_raw "$MC_T/w1.key" 1
is "$RPC_STATUS:$RPC_MSG" "404:No process available for assignment" \
    "timeout 1 on an empty queue -> 404 after the timeout"

# --- the Process object -------------------------------------------------------
printf '{"id":"evt_utf8","s":"\xc3\xa9 \xf0\x9f\x92\xb8 \t tab\\n nl \\"q\\" \\\\ bs \\u0000 <b>&amp;</b>"}\n\tline2 "quoted" \\ <>&' \
    >"$MC_T/odd.json"
pid=$(mc submit --key-file "$MC_T/sub.key" --colony financebee \
    --type financebee --priority 1 --maxexectime 7 --maxretries 2 \
    --kwargs '{"source":"stripe"}' "$MC_T/odd.json")
like "$pid" '^[0-9a-f]{64}$' "submit prints a 64-hex process id"
mc_rpc "$MC_T/sub.key" getprocessmsg "{\"processid\":\"$pid\",\"msgtype\":\"getprocessmsg\"}"
is "$RPC_STATUS" 200 "getprocessmsg by a member -> 200"
printf '%s' "$RPC_PAYLOAD" >"$MC_T/proc.json"
is "$(jq -r 'keys_unsorted | join(",")' "$MC_T/proc.json")" \
    "processid,initiatorid,initiatorname,assignedexecutorid,isassigned,state,prioritytime,submissiontime,starttime,endtime,waitdeadline,execdeadline,retries,attributes,spec,waitforparents,parents,children,processgraphid,in,out,errors" \
    "Process fields in the real server's order"
is "$(jq -r '.spec | keys_unsorted | join(",")' "$MC_T/proc.json")" \
    "nodename,funcname,args,kwargs,priority,maxwaittime,maxexectime,maxretries,conditions,label,fs,env" \
    "FunctionSpec fields in order"
is "$(jq -r '.spec.conditions | keys_unsorted | join(",")' "$MC_T/proc.json")" \
    "colonyname,executornames,executortype,dependencies,nodes,cpu,processes,processespernode,mem,storage,gpu,walltime" \
    "Conditions fields in order"
is "$(sed -n 2p "$MC_T/proc.json")" "  \"processid\": \"$pid\"," \
    "pretty-printed with a 2-space indent"
is "$(jq -c '[.state, .isassigned, .assignedexecutorid, .initiatorid, .initiatorname, .retries, .starttime, .endtime, .execdeadline, .spec.conditions.executornames, .spec.kwargs, .spec.conditions.cpu, .spec.fs.dirs, .in, .out, .errors]' "$MC_T/proc.json")" \
    "[0,false,\"\",\"$MC_SUB_ID\",\"submitter\",0,\"0001-01-01T00:00:00Z\",\"0001-01-01T00:00:00Z\",\"0001-01-01T00:00:00Z\",null,{\"source\":\"stripe\"},\"0m\",null,[],[],[]]" \
    "a waiting process: state 0, unassigned, zero times, defaults"
sub_s=$(date -u -d "$(jq -r .submissiontime "$MC_T/proc.json")" +%s)
pt_s=$(jq -r '.prioritytime' "$MC_T/proc.json" | cut -c1-10)
is "$((pt_s + 86400))" "$sub_s" "prioritytime = submission time (ns) - priority days"
like "$(jq -r .submissiontime "$MC_T/proc.json")" \
    '^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]*[1-9])?Z$' \
    "times are RFC 3339 UTC with trimmed fractional seconds"
jq -j '.spec.args[0]' "$MC_T/proc.json" >"$MC_T/odd.back"
cmp -s "$MC_T/odd.json" "$MC_T/odd.back"
ok $? "args[0] round-trips byte for byte (UTF-8, emoji, tabs, quotes, \\u0000)"
grep -q 'u003cb\\u003e\\u0026amp;' "$MC_T/proc.json"
ok $? "< > & inside strings are sent as \\u003c \\u003e \\u0026"
mc_assign_raw "$MC_T/w1.key" 5
is "$RPC_STATUS:$RPC_PID" "200:$pid" "worker-1 gets it"
printf '%s' "$RPC_PAYLOAD" >"$MC_T/assigned.json"
is "$(jq -c '[.state, .isassigned, .assignedexecutorid]' "$MC_T/assigned.json")" \
    "[1,true,\"$MC_W1_ID\"]" "assigned: state 1, isassigned, assignedexecutorid"
st=$(date -u -d "$(jq -r .starttime "$MC_T/assigned.json")" +%s%N)
dl=$(date -u -d "$(jq -r .execdeadline "$MC_T/assigned.json")" +%s%N)
is "$(( (dl - st) / 1000000 ))" 7000 "execdeadline = starttime + maxexectime"
mc close --key-file "$MC_T/w1.key" "$pid" --out '["ok"]'
ok $? "CLI close"

# --- submit errors ----------------------------------------------------------------
mc_rpc "$MC_T/sub.key" submitfuncspecmsg '{"msgtype":"submitfuncspecmsg"}'
is "$RPC_STATUS:$RPC_MSG" \
    "400:Failed to submit process spec, msg.FunctionSpec is nil" \
    "no spec -> 400 FunctionSpec is nil"
mc_rpc "$MC_T/sub.key" submitfuncspecmsg '{"spec":{"funcname":"x"},"msgtype":"submitfuncspecmsg"}'
is "$RPC_STATUS:$RPC_MSG" "403:Colony with name <> does not exists" \
    "no conditions.colonyname -> 403 Colony with name <> does not exists"
mc_rpc "$MC_T/sub.key" submitfuncspecmsg '{"spec":{"priority":50001,"conditions":{"colonyname":"financebee","executortype":"financebee"}},"msgtype":"submitfuncspecmsg"}'
is "$RPC_STATUS:$RPC_MSG" \
    "400:Failed to submit function spec, priority outside range [-50000, 50000]" \
    "priority outside [-50000, 50000] -> 400"
mc_rpc "$MC_T/w1.key" submitfuncspecmsg '{"spec":{"conditions":{"colonyname":"financebee"}},"msgtype":"submitfuncspecmsg"}'
is "$RPC_STATUS" 200 "a spec with only a colonyname is accepted"
is "$(printf '%s' "$RPC_PAYLOAD" | jq -c '[.spec.funcname, .spec.args, .spec.conditions.executortype, .initiatorname]')" \
    '["",[],"","worker-1"]' "funcname \"\", args [], initiator = the submitter"
mc_rpc "$MC_T/owner.key" submitfuncspecmsg '{"spec":{"conditions":{"colonyname":"financebee"}},"msgtype":"submitfuncspecmsg"}'
is "$RPC_STATUS" 403 "the colony owner key cannot submit"

# --- routing -----------------------------------------------------------------------
"$MC_BIN" keygen "$MC_T/o1.key" >"$MC_T/o1.id"
mc executor add --colony financebee --name other-1 --type other \
    --executor-key-file "$MC_T/o1.key" --owner-key-file "$MC_T/owner.key" \
    --approve >/dev/null
ok $? "an executor of type other"
p_other=$(mc submit --key-file "$MC_T/sub.key" --colony financebee --type other --maxexectime -1 "$MC_T/ev.json")
mc_assign_raw "$MC_T/w1.key" -1
is "$RPC_STATUS" 404 "type other is not given to a financebee executor"
mc_assign_raw "$MC_T/o1.key" -1
is "$RPC_STATUS:$RPC_PID" "200:$p_other" "... but to the other executor"
p_named=$(mc_submit --executor-names worker-2)
mc_assign_raw "$MC_T/w1.key" -1
is "$RPC_STATUS" 404 "executornames [worker-2]: not to worker-1"
mc_assign_raw "$MC_T/w2.key" -1
is "$RPC_STATUS:$RPC_PID" "200:$p_named" "... but to worker-2"
p_nobody=$(mc submit --key-file "$MC_T/sub.key" --colony financebee \
    --type other --executor-names worker-2 --maxexectime -1 "$MC_T/ev.json")
mc_assign_raw "$MC_T/w2.key" -1
a=$RPC_STATUS
mc_assign_raw "$MC_T/o1.key" -1
is "$a:$RPC_STATUS" "404:404" \
    "executornames [worker-2] + type other: nobody (both must match)"
mc_rpc "$MC_T/sub.key" submitfuncspecmsg '{"spec":{"funcname":"validate_revenue","conditions":{"colonyname":"financebee"}},"msgtype":"submitfuncspecmsg"}'
mc_assign_raw "$MC_T/w1.key" -1
is "$RPC_STATUS" 404 "no executortype: nobody gets it"
p_fn=$(mc_submit --funcname unknown_fn)
mc_assign_raw "$MC_T/w1.key" -1
is "$RPC_STATUS:$RPC_PID" "200:$p_fn" \
    "an unknown funcname is handed out anyway (routing ignores funcname)"
is "$(mc_field "$p_nobody" .state)" 0 "the unroutable process stays waiting"

# --- priority, then FIFO -------------------------------------------------------------
pa=$(mc_submit --priority 0)
pb=$(mc_submit --priority 0)
pc=$(mc_submit --priority 5)
pd=$(mc_submit --priority -1)
order=
for _ in 1 2 3 4; do
	mc_assign_raw "$MC_T/w1.key" -1
	case $RPC_PID in
	"$pa") order="${order}A";;
	"$pb") order="${order}B";;
	"$pc") order="${order}C";;
	"$pd") order="${order}D";;
	*) order="${order}?";;
	esac
done
is "$order" "CABD" "A(p0) B(p0) C(p5) D(p-1) are assigned C, A, B, D"

# --- the long-poll wakes on submit ----------------------------------------------------
mc assign --key-file "$MC_T/w1.key" --colony financebee --timeout 30 \
    >"$MC_T/wake.out" 2>&1 &
poller=$!
pollers_are() { [ "$(mc_stat pollers)" = "$1" ]; }
until_ok 15 pollers_are 1
ok $? "the long-poll is waiting"
p_wake=$(mc_submit)
wake_done() { ! kill -0 "$poller" 2>/dev/null; }
until_ok 20 wake_done
ok $? "a submit ends the long-poll well before its 30 s timeout"
wait "$poller"
is "$(jq -r .processid "$MC_T/wake.out")" "$p_wake" \
    "the waiting poller got the submitted process"

# --- concurrent long-polls with one key -------------------------------------------------
# Long timeouts: each poll is ended by a submit, never by the clock (a
# 4 s poll once timed out before the second submit under ASan at load 19).
for i in 1 2 3; do
	mc_env "$MC_T/w1.key" assignprocessmsg '{"colonyname":"financebee","timeout":60,"msgtype":"assignprocessmsg"}' >"$MC_T/cc$i.json"
	curl -s -o "$MC_T/cc$i.out" -w '%{http_code}' --data-binary \
	    @"$MC_T/cc$i.json" "$FB_COLONIES_URL" >"$MC_T/cc$i.code" &
	eval "cc$i=\$!"
done
until_ok 15 pollers_are 3
ok $? "three concurrent long-polls with one key"
q1=$(mc_submit)
q2=$(mc_submit)
until_ok 30 pollers_are 1
ok $? "two submits end two of them, the third waits on"
q3=$(mc_submit)
wait "$cc1" "$cc2" "$cc3"
got=
for i in 1 2 3; do
	code=$(cat "$MC_T/cc$i.code")
	if [ "$code" = 200 ]; then
		got="$got $(jq -r .payload "$MC_T/cc$i.out" | base64 -d |
		    jq -r .processid)"
	else
		got="$got $code"
	fi
done
is "$(echo $got | tr ' ' '\n' | sort | tr '\n' ' ')" \
    "$(printf '%s\n' "$q1" "$q2" "$q3" | sort | tr '\n' ' ')" \
    "each poller got one process of its own"

# --- a client that goes away stops waiting ------------------------------------------------
# A 60 s poll: the checks below end long before it would time out.
mc_env "$MC_T/w1.key" assignprocessmsg '{"colonyname":"financebee","timeout":60,"msgtype":"assignprocessmsg"}' >"$MC_T/dc.json"
curl -s -o /dev/null --max-time 1 --data-binary @"$MC_T/dc.json" \
    "$FB_COLONIES_URL"
is "$?" 28 "the client gave up after 1 s (curl timeout)"
until_ok 5 pollers_are 0
ok $? "the server noticed the disconnect and dropped the long-poll" ||
    diag "stats: $(curl -s "${FB_COLONIES_URL%/api}/stats")"
p_dc=$(mc_submit)
is "$(mc_field "$p_dc" .state)" 0 \
    "a process submitted after the client left stays waiting"
mc_assign_raw "$MC_T/w2.key" -1
is "$RPC_STATUS:$RPC_PID" "200:$p_dc" "... and goes to the next poller"

# --- listing -------------------------------------------------------------------------------
n=$(mc list --key-file "$MC_T/sub.key" --colony financebee --state 0 | wc -l)
is "$n" 3 "getprocessesmsg state 0 lists the three waiting (unroutable) processes"
n=$(mc list --key-file "$MC_T/sub.key" --colony financebee --state 1 --count 3 | wc -l)
is "$n" 3 "getprocessesmsg honours count"
mc_rpc "$MC_T/sub.key" getprocessesmsg '{"colonyname":"financebee","count":10,"state":4,"msgtype":"getprocessesmsg"}'
is "$RPC_STATUS:$RPC_MSG" "400:Failed to get processes, invalid msg.State" \
    "getprocessesmsg with state 4 -> 400 invalid msg.State"
is "$(mc wait --colony financebee --count 1 --timeout 5)" \
    "successful=1 failed=0 waiting=3 running=12" \
    "CLI wait prints the summary by state"
mc_alive

# --- server A: the byte-exact request ended empty after 10 s, then served --------------
wait "$exact_curl"
is "$(cat "$MC_T/exact1.code")" 404 "byte-exact assign on an empty queue -> 404"
is "$(jq -r .payload "$MC_T/exact1.out" | base64 -d | jq -r .message)" \
    "No process available for assignment" "... No process available for assignment"
FB_COLONIES_URL=$A_URL
p_exact=$(mc submit --key-file "$MC_T/sub.key" --colony testcolony \
    --type fbtest "$MC_T/ev.json")
code=$(curl -s -o "$MC_T/exact2.out" -w '%{http_code}' --data-binary \
    @"$MC_T/exact.json" "$A_URL")
is "$code" 200 "after one submit the same bytes -> 200"
is "$(jq -r .payload "$MC_T/exact2.out" | base64 -d | jq -c '[.processid, .state, .assignedexecutorid]')" \
    "[\"$p_exact\",1,\"$MC_SUB_ID\"]" "... with the process, assigned to that key"
MC_PID=$A_PID
mc_alive
done_testing
