# t/20-mclib.sh: helpers shared by the minicolonies tests (t/2x-*.t).
# Sourced after t/lib/fbtest.sh.  Raw protocol calls: an envelope signed by
# "minicolonies sign" and POSTed with curl, so a test sees the exact HTTP
# status and message the server sends.

MC_BIN=$FB_BUILDDIR/minicolonies
MC_EVN=0
MC_T=$(fb_tmpdir)

# Test keys (from the protocol test vectors; never real keys).
MC_W1_KEY=4763246e5bd0c41aeeca32a812272315e4b3dc401383d5d1d5d661f996f235c6
MC_W1_ID=d78dd43f4fc9cebad529e7eac239c5e93a2f97f9d34176095bf1df492bbeca58
MC_W2_KEY=00000000000000000000000000000000000000000000000000000000deadbeef
MC_W2_ID=0de0467e3c84c30937413a7712d16ef59c275be90a8a37d05152010726d44cd7
MC_OWNER_ID=039231c7644e04b6895471dd5335cf332681c54e27f81fac54f9067b3f2c0103
MC_SUB_ID=3fc05cf3df4b494e95d6a3d297a34f19938f7daa7422ab0d4f794454133341ac

umask 077
echo "$FB_SERVER_KEY" >"$MC_T/server.key"
echo "$FB_OWNER_KEY" >"$MC_T/owner.key"
echo "$FB_SUBMITTER_KEY" >"$MC_T/sub.key"
echo "$MC_W1_KEY" >"$MC_T/w1.key"
echo "$MC_W2_KEY" >"$MC_T/w2.key"
umask 022
echo '{"id":"evt_0"}' >"$MC_T/ev.json"

# mc_post_file BODY-FILE: POST it; sets RPC_STATUS, RPC_TYPE, RPC_PAYLOAD
# (the decoded reply payload) and RPC_MSG (the error message, if any).
# One process per call: "minicolonies raw" signs, posts and decodes.
mc_raw_read() {
	local line
	{ read -r RPC_STATUS; read -r RPC_TYPE; read -r RPC_MSG; } \
	    <"$MC_T/raw.out"
	RPC_PAYLOAD=
	if [ -s "$MC_T/raw.payload" ]; then
		while IFS= read -r line || [ -n "$line" ]; do
			RPC_PAYLOAD="$RPC_PAYLOAD$line
"
		done <"$MC_T/raw.payload"
		RPC_PAYLOAD=${RPC_PAYLOAD%?}
	fi
}

mc_post_file() {
	: >"$MC_T/raw.payload"
	"$MC_BIN" raw --body-file "$1" --out-file "$MC_T/raw.payload" \
	    --url "$FB_COLONIES_URL" >"$MC_T/raw.out"
	mc_raw_read
}

mc_post() {
	printf '%s' "$1" >"$MC_T/body"
	mc_post_file "$MC_T/body"
}

# mc_env KEYFILE PAYLOADTYPE JSON: print a signed envelope.
mc_env() {
	"$MC_BIN" sign --key-file "$1" --payloadtype "$2" --json "$3"
}

# mc_rpc KEYFILE PAYLOADTYPE JSON: a signed call.
mc_rpc() {
	: >"$MC_T/raw.payload"
	"$MC_BIN" raw --key-file "$1" --payloadtype "$2" --json "$3" \
	    --out-file "$MC_T/raw.payload" --url "$FB_COLONIES_URL" \
	    >"$MC_T/raw.out"
	mc_raw_read
}

# mc_setup: colony financebee, approved submitter, approved worker-1 and
# worker-2 of type financebee.
mc_setup() {
	mc setup --colony "$FB_COLONY" --server-key-file "$MC_T/server.key" \
	    --owner-key-file "$MC_T/owner.key" \
	    --submitter-key-file "$MC_T/sub.key" || return 1
	mc executor add --colony "$FB_COLONY" --name worker-1 --type financebee \
	    --executor-key-file "$MC_T/w1.key" \
	    --owner-key-file "$MC_T/owner.key" --approve >/dev/null || return 1
	mc executor add --colony "$FB_COLONY" --name worker-2 --type financebee \
	    --executor-key-file "$MC_T/w2.key" \
	    --owner-key-file "$MC_T/owner.key" --approve >/dev/null || return 1
}

# mc_submit [submit options]: submit one process (args[0] = a small event,
# maxexectime -1 unless given), print its id.
mc_submit() {
	MC_EVN=$((MC_EVN + 1))
	echo "{\"id\":\"evt_$MC_EVN\"}" >"$MC_T/ev.json"
	mc submit --key-file "$MC_T/sub.key" --colony "$FB_COLONY" \
	    --type financebee --maxexectime -1 "$@" "$MC_T/ev.json"
}

# mc_field PROCESSID JQ-FILTER: a field of the process as seen by get.
mc_field() {
	mc get --key-file "$MC_T/sub.key" "$1" | jq -r "$2"
}

# mc_assign_raw KEYFILE TIMEOUT: a raw assign; the process id in RPC_PID.
mc_assign_raw() {
	mc_rpc "$1" assignprocessmsg "{\"colonyname\":\"$FB_COLONY\",\"timeout\":$2,\"availablecpu\":\"\",\"availablemem\":\"\",\"msgtype\":\"assignprocessmsg\"}"
	RPC_PID=$(printf '%s' "$RPC_PAYLOAD" | jq -r '.processid // empty' \
	    2>/dev/null)
}


mc_alive() {
	kill -0 "$MC_PID" 2>/dev/null
	ok $? "minicolonies is still running"
	check_no_sanitizer_reports "$(fb_tmpdir)/minicolonies.log"
}
