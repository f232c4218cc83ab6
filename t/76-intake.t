#!/bin/sh
# The webhook intake (intake processes beside the bees): signed real
# fixtures are submitted and applied end to end; bad signatures, stale
# timestamps, wrong secrets, oversized bodies, wrong methods and paths are
# refused with nothing submitted; a slow client is cut at
# intake.read_timeout without holding up others; kill -9 of an intake
# process under load never costs a 200'd event; fbeectl shows and scales
# them; ColonyOS down gives 503 + Retry-After.
. "$(dirname "$0")/lib/fbtest.sh"
. "$(dirname "$0")/lib/fbtest-daemon.sh"

command -v openssl >/dev/null || skip_all "no openssl"
command -v curl >/dev/null || skip_all "no curl"
command -v python3 >/dev/null || skip_all "no python3"

WHSEC=whsec_intake_t75_c2VjcmV0
FBD_SECRETS=$WHSEC
FBD_BEES=2
INTAKE_SOCK=$(fb_tmpdir)/intake.sock
FBD_EXTRA=$(fbd_intake_conf 2 "$INTAKE_SOCK" "	read_timeout = 1;
	submit_timeout = 1;
	retry_after = 7;
	max_body = 65536;
	maxexectime = 5;")
# The bees and the intake verify the same secret.
FB_WEBHOOK_SECRETS=$WHSEC
FB_SIG_TOLERANCE=10
fbd_setup || skip_all "cannot set up PostgreSQL + minicolonies"
plan 56

INTAKE_LOG=$FBD_LOG
URL=http://intake/api/stripe-webhook

# sign FILE [TIMESTAMP [SECRET]]: a Stripe-Signature header for the bytes.
sign() {
	_t=${2:-$(date +%s)}
	printf 't=%s,v1=%s' "$_t" "$({ printf '%s.' "$_t"; cat "$1"; } |
	    openssl dgst -sha256 -hmac "${3:-$WHSEC}" -r | cut -d' ' -f1)"
}
# post FILE SIGNATURE [curl options]: prints the status; body in $FBD_DIR/resp
post() {
	_f=$1 _s=$2
	shift 2
	curl -s --unix-socket "$INTAKE_SOCK" -o "$FBD_DIR/resp" \
	    -D "$FBD_DIR/resp.h" -w '%{http_code}' -H "Stripe-Signature: $_s" \
	    --data-binary @"$_f" "$@" "$URL"
}
submitted() {	# processes the intake submitted, from minicolonies
	mc dump --colony "$FB_COLONY" | grep -c .
}

intake_pids() { pgrep -P "$FBD_PID" -f -- '--intake' 2>/dev/null; }
fbd_start
ok $? "financebeed started"
until_ok 20 sh -c "[ \$(grep -c 'intake [0-9] ready' '$FBD_LOG') -ge 2 ]"
ok $? "the master started 2 intake processes"
is "$(fbd_status | jq -r '.intake.processes | length')" 2 \
    "fbeectl status shows them"
like "$("$FB_BUILDDIR/fbeectl" -s "$FBD_SOCK" status)" \
    'intake: +2 running, 2 wanted' "  in the text status too"
until_ok 10 curl -sf --unix-socket "$INTAKE_SOCK" http://intake/healthz \
    -o /dev/null
ok $? "GET /healthz: 200 while ColonyOS answers"

# Every real fixture, signed now: test-mode ones submitted (or
# acknowledged when financebee ignores their type), live ones refused.
: >"$FBD_DIR/all.ids"
n200=0 nign=0 n400=0 bad=0
for f in "$FB_FIXTURES"/stripe-events/*.json; do
	code=$(post "$f" "$(sign "$f")")
	live=$(jq -r .livemode "$f")
	case "$code:$live" in
	200:false)
		if jq -e .ignored "$FBD_DIR/resp" >/dev/null 2>&1; then
			nign=$((nign + 1))
		else
			jq -r .process "$FBD_DIR/resp" >>"$FBD_DIR/all.ids"
			n200=$((n200 + 1))
		fi ;;
	400:true) n400=$((n400 + 1)) ;;
	*) bad=$((bad + 1)); diag "$f: $code $(cat "$FBD_DIR/resp")" ;;
	esac
done
is "$bad" 0 "every fixture answered as its livemode calls for"
[ "$n200" -gt 10 ] && [ "$n400" -gt 0 ]
ok $? "submitted $n200, acknowledged $nign ignored, refused $n400 live"
FBD_SUBMITTED=$n200
cp "$FBD_DIR/all.ids" "$FBD_DIR/last.ids"
is "$(submitted)" "$n200" "one process per 200 that named one"
fbd_wait_closed 60
ok $? "every submitted process closed ($FBD_WAIT)"
fbd_check_exactly_once
nfail=$(fbd_count_state 3)
is "$(grep -c 'signature' "$FBD_LOG")" 0 \
    "no bee refused a signature the intake checked ($nfail failed)"
ok_n=$(mc dump --colony "$FB_COLONY" --full | jq -r \
    'select(.spec.kwargs.fb_received_us != null) | .processid' | wc -l)
is "$ok_n" "$n200" "every process carries its receipt time"

# Refusals: nothing submitted for any of them.
before=$(submitted)
f=$FB_FIXTURES/stripe-events/stripe-ruby-mock__customer.subscription.updated__1.json
[ -s "$f" ] || diag "missing $f"
is "$(post "$f" "t=$(date +%s),v1=$(printf '%064d' 0)")" 400 \
    "bad signature: 400"
is "$(post "$f" "$(sign "$f" $(( $(date +%s) - 3600 )))")" 400 \
    "stale timestamp: 400"
like "$(cat "$FBD_DIR/resp")" 'tolerance|old' "  and says why"
is "$(post "$f" "$(sign "$f" "" whsec_someone_else)")" 400 \
    "wrong secret: 400"
is "$(curl -s --unix-socket "$INTAKE_SOCK" -o /dev/null -w '%{http_code}' \
    -H 'Content-Type: application/json' --data-binary @"$f" "$URL")" 400 \
    "no signature: 400"
# evhttp itself answers these 413 (its max_body_size), yet each one is
# counted as too_large, once, like every other reply.
toobig() { fbd_status | jq -r '.intake.requests.too_large'; }
toobig_is() { [ "$(toobig)" = "$1" ]; }
tb0=$(toobig)
head -c 70000 /dev/zero | tr '\0' ' ' >"$FBD_DIR/big.json"
is "$(post "$FBD_DIR/big.json" "$(sign "$FBD_DIR/big.json")")" 413 \
    "a body over intake.max_body: 413"
is "$(post "$FBD_DIR/big.json" "$(sign "$FBD_DIR/big.json")" \
    -H 'Transfer-Encoding: chunked')" 413 "  chunked too: 413"
until_ok 10 toobig_is $((tb0 + 2))
ok $? "  both counted as too_large ($tb0 -> $(toobig))"
like "$("$FB_BUILDDIR/fbeectl" -s "$FBD_SOCK" metrics 2>&1)" \
    "financebee_intake_requests_total\\{reply=\"too_large\"\\} $((tb0 + 2))" \
    "  metrics: too_large $((tb0 + 2))"
is "$(curl -s --unix-socket "$INTAKE_SOCK" -o /dev/null -w '%{http_code}' \
    "$URL")" 405 "GET on the webhook path: 405"
like "$(curl -s --unix-socket "$INTAKE_SOCK" -D - -o /dev/null -X PUT \
    "$URL")" 'Allow: POST' "  with Allow: POST"
is "$(post "$f" "$(sign "$f")" -X DELETE)" 405 "DELETE: 405"
is "$(curl -s --unix-socket "$INTAKE_SOCK" -o /dev/null -w '%{http_code}' \
    -d x http://intake/other)" 404 "another path: 404"
printf 'not json' >"$FBD_DIR/nj"
is "$(post "$FBD_DIR/nj" "$(sign "$FBD_DIR/nj")")" 400 \
    "a signed body that is not an event: 400"
is "$(submitted)" "$before" "nothing submitted for any of them"

# A slow client is cut at read_timeout (1 s) and holds no one up.
python3 - "$INTAKE_SOCK" >"$FBD_DIR/slow.out" 2>&1 <<'EOF' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(30)
s.connect(sys.argv[1])
s.sendall(b"POST /api/stripe-webhook HTTP/1.1\r\nHost: x\r\n"
          b"Content-Length: 100\r\n\r\n{\"id\":")
print("sent", flush=True)
data = b""
try:
    while True:
        d = s.recv(4096)
        if not d:
            break
        data += d
except Exception as e:
    print("error", e)
print("closed", data.split(b"\r\n")[0].decode("ascii", "replace"))
EOF
SLOW=$!
until_ok 10 grep -q '^sent' "$FBD_DIR/slow.out"	# connected first
is "$(post "$f" "$(sign "$f")" -v 2>"$FBD_DIR/curl.err")" 200 "a request beside a slow client: 200"
wait "$SLOW"
like "$(cat "$FBD_DIR/slow.out")" '^closed' "the slow client was cut off"
unlike "$(cat "$FBD_DIR/slow.out")" ' 200' "  without a 200"
is "$(submitted)" "$((before + 1))" "  and nothing submitted for it"

# An event queued longer than stripe.signature_tolerance (10 s) still
# applies: a bee judges the signature at the intake's receipt time.  It
# is signed 5 s in the past, so the wait is 6 s.
paused() {
	[ "$(fbd_status | jq '[.bees[] | select(.state == "paused")] |
	    length')" = "$FBD_BEES" ]
}
"$FB_BUILDDIR/fbeectl" -s "$FBD_SOCK" pause >/dev/null
until_ok 20 paused
ok $? "bees paused"
g=$FB_FIXTURES/stripe-events/stripe-ruby-mock__customer.subscription.deleted__1.json
t0=$(( $(date +%s) - 5 ))
is "$(post "$g" "$(sign "$g" "$t0")")" 200 "an event submitted while bees wait"
jq -r .process "$FBD_DIR/resp" >"$FBD_DIR/last.ids"
until_ok 20 sh -c "[ \$(date +%s) -gt $((t0 + 11)) ]"
"$FB_BUILDDIR/fbeectl" -s "$FBD_SOCK" resume >/dev/null
FBD_SUBMITTED=$(submitted)
fbd_wait_closed 30
is "$(fbd_count_state 2)" 1 "  is closed successful after the tolerance"

# kill -9 of an intake process under load: clients see errors, but every
# event answered 200 ends in the database.
g=$FB_FIXTURES/stripe-events/stripe-ruby-mock__customer.subscription.updated__1.json
loader() {	# loader N: 40 unique events, one "code id" line each
	for i in $(seq 1 40); do
		id=evt_load_$1_$i
		sed "0,/\"evt_[A-Za-z0-9_]*\"/s//\"$id\"/" "$g" >"$FBD_DIR/l$1.json"
		c=$(curl -s --unix-socket "$INTAKE_SOCK" -o /dev/null \
		    -w '%{http_code}' -H "Stripe-Signature: $(sign \
		    "$FBD_DIR/l$1.json")" --data-binary @"$FBD_DIR/l$1.json" \
		    "$URL")
		echo "$c $id"
	done >"$FBD_DIR/load.$1"
}
lpids=
for n in 1 2 3 4; do loader $n & lpids="$lpids $!"; done
until_ok 30 sh -c "[ \$(cat $FBD_DIR/load.* 2>/dev/null | grep -c '^200') -ge 20 ]"
victim=$(intake_pids | head -1)
kill -KILL "$victim"
for p in $lpids; do wait "$p"; done
until_ok 20 sh -c "[ \$(grep -c 'intake [0-9] ready' '$FBD_LOG') -ge 3 ]"
ok $? "the master respawned the killed intake process"
cat "$FBD_DIR"/load.* >"$FBD_DIR/load.all"
n200=$(grep -c '^200 ' "$FBD_DIR/load.all")
nerr=$(grep -vc '^200 ' "$FBD_DIR/load.all")
note "load: $n200 answered 200, $nerr errors (the kill)"
grep '^200 ' "$FBD_DIR/load.all" | cut -d' ' -f2 | sort >"$FBD_DIR/load.ok"
mc dump --colony "$FB_COLONY" | jq -r .processid >"$FBD_DIR/last.ids"
FBD_SUBMITTED=$(submitted)
fbd_wait_closed 60
ok $? "every process closed ($FBD_WAIT)"
psql_q -c "SELECT event_id FROM processed_webhooks UNION
    SELECT event_id FROM parked_events" | sort >"$FBD_DIR/db.ev"
is "$(comm -23 "$FBD_DIR/load.ok" "$FBD_DIR/db.ev" | wc -l)" 0 \
    "every event answered 200 is in the database ($n200)"

# fbeectl scale intake N
out=$("$FB_BUILDDIR/fbeectl" -s "$FBD_SOCK" scale intake 3 2>&1)
ok $? "fbeectl scale intake 3 ($out)"
until_ok 20 sh -c "[ \$(pgrep -P $FBD_PID -f -- '--intake' | wc -l) -eq 3 ]"
ok $? "  3 intake processes run"
is "$(fbd_status | jq -r '.intake.target')" 3 "  status: target 3"
m=$("$FB_BUILDDIR/fbeectl" -s "$FBD_SOCK" metrics 2>&1)
like "$m" 'financebee_intake_requests_total\{reply="submitted"\} [1-9]' \
    "metrics: intake requests by reply"
like "$m" 'financebee_webhook_to_commit_seconds_count [1-9]' \
    "metrics: webhook -> commit latency"
like "$(fbd_status | jq -r '.pool.webhook_latency_ms.p99')" '^[0-9.]+$' \
    "status: webhook -> commit p99"

# ColonyOS down: 503 with Retry-After, and /healthz says so.
kill -TERM "$MC_PID"
until_ok 10 sh -c "! kill -0 $MC_PID 2>/dev/null"
is "$(post "$f" "$(sign "$f")")" 503 "ColonyOS down: 503"
like "$(cat "$FBD_DIR/resp.h")" 'Retry-After: 7' "  with Retry-After"
# Each intake process keeps ColonyOS's last answer for a few seconds
# (INTAKE_HEALTH_TTL_MS): another process may still say 200 until then.
health_503() {
	[ "$(curl -s --unix-socket "$INTAKE_SOCK" -o /dev/null -w '%{http_code}' \
	    http://intake/healthz)" = 503 ]
}
until_ok 15 health_503
ok $? "/healthz: 503 (within the health cache's few seconds)"

ipids=$(intake_pids)
kill -TERM "$FBD_PID"
fbd_wait_gone 30
is "$FBD_RC" 0 "graceful stop exits 0"
left=0
for p in $ipids; do kill -0 "$p" 2>/dev/null && left=$((left + 1)); done
is "$left" 0 "no intake process outlives the master"
like "$(cat "$INTAKE_LOG")" 'stopped after [0-9]+ requests' \
    "the intake processes stopped"
[ ! -e "$INTAKE_SOCK" ]
ok $? "the intake socket is removed"
fbd_check_no_secrets "$FBD_LOG" "$FBD_DIR/resp"
check_no_sanitizer_reports "$FBD_LOG"
