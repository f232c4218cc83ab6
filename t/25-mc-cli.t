#!/bin/sh
# minicolonies: the server's process behaviour (port file, SIGTERM without
# draining, 100-continue) and the client CLI the other tests and the demo
# use (setup, submit --stdin-lines, wait, list, dump, stats, keygen, id).
. "$(dirname "$0")/lib/fbtest.sh"
. "$(dirname "$0")/20-mclib.sh"

"$MC_BIN" --help >"$MC_T/help.txt"
ok $? "minicolonies --help exits 0"
for cmd in "serve" "setup" "submit" "wait" "dump" "executor add" "--stdin-lines"; do
	grep -q -- "$cmd" "$MC_T/help.txt"
	ok $? "--help documents '$cmd'"
done
"$MC_BIN" bogus >/dev/null 2>&1
is $? 64 "an unknown command exits 64 (usage)"

mc_start || exit 1
like "$FB_COLONIES_URL" '^http://127\.0\.0\.1:[0-9]+/api$' \
    "--listen 127.0.0.1:0 --port-file: a free port, written once listening"

# --- keys -------------------------------------------------------------------------
id=$("$MC_BIN" keygen "$MC_T/gen.key")
like "$id" '^[0-9a-f]{64}$' "keygen prints the new key's id"
is "$(stat -c %a "$MC_T/gen.key")" 600 "the key file is mode 0600"
is "$("$MC_BIN" id --key-file "$MC_T/gen.key")" "$id" "id --key-file"
is "$(MCKEY=$FB_OWNER_KEY "$MC_BIN" id --key-env MCKEY)" "$MC_OWNER_ID" \
    "id --key-env reads the key from the environment"
"$MC_BIN" id --key-env NO_SUCH_VAR_X >/dev/null 2>"$MC_T/err"
ok $(( ! $? )) "a missing key variable is an error"
echo "not-a-key-0123" >"$MC_T/bad.key"
"$MC_BIN" id --key-file "$MC_T/bad.key" >/dev/null 2>"$MC_T/err"
ok $(( ! $? )) "a malformed key file is an error"
if grep -q "not-a-key" "$MC_T/err"; then ok 1 "the error does not echo the key"
else ok 0 "the error does not echo the key"; fi

# --- setup, submit, wait --------------------------------------------------------------
mc setup --colony "$FB_COLONY" --server-key-file "$MC_T/server.key" \
    --owner-key-file "$MC_T/owner.key" --submitter-key-file "$MC_T/sub.key"
ok $? "setup"
mc setup --colony "$FB_COLONY" --server-key-file "$MC_T/server.key" \
    --owner-key-file "$MC_T/owner.key" --submitter-key-file "$MC_T/sub.key"
ok $? "setup again (idempotent-ish)"
mc executor add --colony "$FB_COLONY" --name worker-1 --type financebee \
    --executor-key-file "$MC_T/w1.key" --owner-key-file "$MC_T/owner.key" \
    --approve >/dev/null
for i in $(seq 1 50); do echo "{\"id\":\"evt_line_$i\",\"type\":\"invoice.paid\"}"; done |
    mc submit --key-file "$MC_T/sub.key" --colony "$FB_COLONY" \
    --type financebee --maxexectime -1 --stdin-lines >"$MC_T/ids"
ok $? "submit --stdin-lines"
is "$(sort -u "$MC_T/ids" | grep -cE '^[0-9a-f]{64}$')" 50 \
    "one distinct process id per line"
mc wait --colony "$FB_COLONY" --count 50 --timeout 1 >"$MC_T/w" 2>/dev/null
is "$?:$(cat "$MC_T/w")" "1:successful=0 failed=0 waiting=50 running=0" \
    "wait: timeout -> exit 1 and the summary"
for i in 1 2 3; do
	p=$(mc assign --key-file "$MC_T/w1.key" --colony "$FB_COLONY" \
	    --timeout 5 | jq -r .processid)
	if [ "$i" = 3 ]; then
		mc fail --key-file "$MC_T/w1.key" "$p" --error "bad" --error "worse"
	else
		mc close --key-file "$MC_T/w1.key" "$p" --out '[{"applied":true}]'
	fi
done
p=$(mc assign --key-file "$MC_T/w1.key" --colony "$FB_COLONY" --timeout 5 |
    jq -r .processid)
mc log --key-file "$MC_T/w1.key" "$p" --message "working on it"
ok $? "CLI log"
is "$(mc list --key-file "$MC_T/sub.key" --colony "$FB_COLONY" --state 2 | wc -l)" \
    2 "list --state 2"
is "$(mc stats | jq -c '[.waiting, .running, .successful, .failed]')" \
    "[46,1,2,1]" "stats: counts by state"
is "$(mc wait --colony "$FB_COLONY" --count 3 --timeout 10)" \
    "successful=2 failed=1 waiting=46 running=1" "wait: reached -> summary"

# --- dump -------------------------------------------------------------------------------
mc dump --colony "$FB_COLONY" >"$MC_T/dump"
is "$(wc -l <"$MC_T/dump" | tr -d ' ')" 50 "dump: one line per process"
is "$(jq -r 'select(.state == 3) | [.event_id, (.errors | join("+")), .retries] | map(tostring) | join(" ")' "$MC_T/dump")" \
    "evt_line_3 bad+worse 0" "dump: event id, errors, retries of the failed one"
is "$(jq -r 'select(.state == 2) | .out[0].applied' "$MC_T/dump" | sort -u)" \
    "true" "dump: out of the successful ones"
is "$(jq -r 'select(.state == 1) | .assignedexecutorid' "$MC_T/dump")" \
    "$MC_W1_ID" "dump: assignedexecutorid of the running one"
is "$(head -1 "$MC_T/dump" | jq -r .args0_sha3)" \
    "$(printf '%s' '{"id":"evt_line_1","type":"invoice.paid"}' | openssl dgst -sha3-256 -r | cut -d' ' -f1)" \
    "dump: args0_sha3 is SHA3-256 of args[0]"
mc dump --full | head -1 | jq -e '.spec.args[0]' >/dev/null
ok $? "dump --full: whole Process objects, one per line"
mc get --key-file "$MC_T/sub.key" "$(head -1 "$MC_T/ids")" | jq -e .processid \
    >/dev/null
ok $? "get prints the Process as compact JSON"

# --- 100-continue ----------------------------------------------------------------------------
head -c 2000000 /dev/zero | tr '\0' 'b' >"$MC_T/mid.txt"
{ printf '{"payloadtype":"getprocessmsg","payload":"'; cat "$MC_T/mid.txt"
  printf '","signature":"ab"}'; } >"$MC_T/mid.json"
code=$(curl -s -o "$MC_T/mid.out" -w '%{http_code}' --data-binary \
    @"$MC_T/mid.json" "$FB_COLONIES_URL")
is "$code" 403 "a 2 MB body sent with Expect: 100-continue is read and answered"

# --- SIGTERM: no draining ------------------------------------------------------------------------
mc_env "$MC_T/w1.key" assignprocessmsg '{"colonyname":"financebee","timeout":30,"msgtype":"assignprocessmsg"}' >"$MC_T/poll.json"
mc_rpc "$MC_T/owner.key" pauseassignmentsmsg '{"colonyname":"financebee","msgtype":"pauseassignmentsmsg"}'
curl -s -o /dev/null --data-binary @"$MC_T/poll.json" "$FB_COLONIES_URL" &
cpid=$!
pollers_are() { [ "$(mc stats | jq -r .pollers)" = "$1" ]; }
until_ok 15 pollers_are 1
ok $? "a long-poll is in flight"
check_no_sanitizer_reports "$(fb_tmpdir)/minicolonies.log"
kill -TERM "$MC_PID"
gone() { ! kill -0 "$MC_PID" 2>/dev/null; }
until_ok 10 gone
ok $? "SIGTERM: the server exits without waiting for the long-poll"
wait "$cpid"
is $? 52 "the in-flight long-poll gets an empty reply (curl 52)"
done_testing
