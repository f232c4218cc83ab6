#!/bin/sh
# A reload that changes what the intake uses (the webhook secret,
# intake.max_body) replaces the intake processes, and webhooks keep being
# answered meanwhile: clients posting throughout get a reply to every
# request, every one answered 200 ends in the database, and afterwards the
# new settings are in effect (the old secret refused, the new accepted, a
# body over the new limit answered 413).
. "$(dirname "$0")/lib/fbtest.sh"
. "$(dirname "$0")/lib/fbtest-daemon.sh"

command -v openssl >/dev/null || skip_all "no openssl"
command -v curl >/dev/null || skip_all "no curl"

SEC_A=whsec_reload_a_c2VjcmV0QQ
SEC_B=whsec_reload_b_c2VjcmV0Qg
FBD_SECRETS="$SEC_A $SEC_B"
FBD_BEES=2
INTAKE_SOCK=$(fb_tmpdir)/intake.sock
FBD_EXTRA=$(fbd_intake_conf 2 "$INTAKE_SOCK" "	read_timeout = 2;
	submit_timeout = 2;
	max_body = 65536;
	maxexectime = 5;")
FB_WEBHOOK_SECRETS=$SEC_A
FB_SIG_TOLERANCE=300
fbd_setup || skip_all "cannot set up PostgreSQL + minicolonies"
plan 18

URL=http://intake/api/stripe-webhook
G=$FB_FIXTURES/stripe-events/stripe-ruby-mock__customer.subscription.updated__1.json

v1() {	# v1 FILE T SECRET: the v1 signature of FILE's bytes at time T
	{ printf '%s.' "$2"; cat "$1"; } |
	    openssl dgst -sha256 -hmac "$3" -r | cut -d' ' -f1
}
sign() {	# sign FILE SECRET...: a Stripe-Signature header, one v1 a secret
	_f=$1 _t=$(date +%s)
	shift
	_h="t=$_t"
	for _s in "$@"; do _h="$_h,v1=$(v1 "$_f" "$_t" "$_s")"; done
	printf '%s' "$_h"
}
post() {	# post FILE SIGNATURE: prints the status (000: no reply)
	curl -s --unix-socket "$INTAKE_SOCK" -o "$FBD_DIR/resp" \
	    -w '%{http_code}' -H "Stripe-Signature: $2" \
	    --data-binary @"$1" "$URL"
}
event() {	# event ID FILE [PAD]: the fixture as event ID, PAD spaces added
	sed "0,/\"evt_[A-Za-z0-9_]*\"/s//\"$1\"/" "$G" >"$2"
	[ -n "${3:-}" ] && head -c "$3" /dev/zero | tr '\0' ' ' >>"$2"
	return 0
}
intake_pids() { pgrep -P "$FBD_PID" -f -- '--intake' 2>/dev/null | sort; }
gen2_intakes() {
	[ "$(fbd_status | jq -r '[.intake.processes[] | select(.pid > 0 and
	    .generation == 2)] | length')" = 2 ]
}

fbd_start
ok $? "financebeed started"
until_ok 20 sh -c "[ \$(grep -c 'intake [0-9] ready' '$FBD_LOG') -ge 2 ]"
ok $? "2 intake processes ready"

# Before: the old secret works, a 3000-byte body is within the limit.
event evt_reload_before "$FBD_DIR/b.json" 3000
is "$(post "$FBD_DIR/b.json" "$(sign "$FBD_DIR/b.json" "$SEC_A")")" 200 \
    "before: signed with the old secret, 3000 bytes: 200"
echo "200 evt_reload_before" >"$FBD_DIR/load.before"

# Three clients posting throughout, every event signed with both secrets
# (as Stripe does during a rotation): valid before and after the reload.
loader() {	# loader N: "code id" lines in load.N until load.stop
	i=0
	while [ ! -e "$FBD_DIR/load.stop" ] && [ "$i" -lt 2000 ]; do
		i=$((i + 1))
		event "evt_reload_$1_$i" "$FBD_DIR/l$1.json"
		echo "$(post "$FBD_DIR/l$1.json" "$(sign "$FBD_DIR/l$1.json" \
		    "$SEC_A" "$SEC_B")") evt_reload_$1_$i"
	done >"$FBD_DIR/load.$1"
}
lpids=
for n in 1 2 3; do
	: >"$FBD_DIR/load.$n"
	loader "$n" &
	lpids="$lpids $!"
	fb_track_pid "$!"
done
n200() { cat "$FBD_DIR"/load.[123] | grep -c '^200 '; }
n200_at_least() { [ "$(n200)" -ge "$1" ]; }
until_ok 20 n200_at_least 10
ok $? "the clients' events are answered 200"

old=$(intake_pids | tr '\n' ' ')
sed -i -e "s|webhook_secrets = \[ \"$SEC_A\" \];|webhook_secrets = [ \"$SEC_B\" ];|" \
    -e 's|max_body = 65536;|max_body = 2048;|' "$FBD_CONF"
out=$("$FB_BUILDDIR/fbeectl" -s "$FBD_SOCK" reload 2>&1)
ok $? "fbeectl reload with a new secret and max_body ($out)"
until_ok 40 gen2_intakes
ok $? "status: 2 intake processes of generation 2"
left=0
for p in $old; do kill -0 "$p" 2>/dev/null && left=$((left + 1)); done
is "$left" 0 "the old intake processes are gone"
wait_log 'reload complete: generation 2' 40
ok $? "the bees are replaced too"
# The clients go on through the new processes for a while: 20 more 200s.
until_ok 30 n200_at_least $(( $(n200) + 20 ))
ok $? "the clients' events are answered 200 after the reload"
touch "$FBD_DIR/load.stop"
for p in $lpids; do wait "$p"; done
cat "$FBD_DIR"/load.[123] >"$FBD_DIR/load.out"
total=$(grep -c . "$FBD_DIR/load.out")
is "$(grep -vc '^200 ' "$FBD_DIR/load.out")" 0 \
    "every one of the clients' $total requests answered 200" ||
    diag "$(grep -v '^200 ' "$FBD_DIR/load.out" | head -5)"

# After: the new settings are in effect.
event evt_reload_old "$FBD_DIR/o.json"
is "$(post "$FBD_DIR/o.json" "$(sign "$FBD_DIR/o.json" "$SEC_A")")" 400 \
    "after: signed with the old secret only: 400"
event evt_reload_new "$FBD_DIR/n.json"
is "$(post "$FBD_DIR/n.json" "$(sign "$FBD_DIR/n.json" "$SEC_B")")" 200 \
    "after: signed with the new secret: 200"
echo "200 evt_reload_new" >"$FBD_DIR/load.after"
event evt_reload_big "$FBD_DIR/g.json" 3000
is "$(post "$FBD_DIR/g.json" "$(sign "$FBD_DIR/g.json" "$SEC_B")")" 413 \
    "after: 3000 bytes are over the new max_body: 413"

# Every event answered 200 is applied.
cat "$FBD_DIR/load.before" "$FBD_DIR/load.out" "$FBD_DIR/load.after" |
    grep '^200 ' | cut -d' ' -f2 | sort >"$FBD_DIR/ok.ev"
mc dump --colony "$FB_COLONY" | jq -r .processid >"$FBD_DIR/all.ids"
cp "$FBD_DIR/all.ids" "$FBD_DIR/last.ids"
FBD_SUBMITTED=$(grep -c . "$FBD_DIR/all.ids")
fbd_wait_closed 90
ok $? "every process closed ($FBD_WAIT)"
psql_q -c "SELECT event_id FROM processed_webhooks UNION
    SELECT event_id FROM parked_events" | sort >"$FBD_DIR/db.ev"
is "$(comm -23 "$FBD_DIR/ok.ev" "$FBD_DIR/db.ev" | wc -l)" 0 \
    "every event answered 200 is in the database ($(grep -c . "$FBD_DIR/ok.ev"))"
kill -TERM "$FBD_PID"
fbd_wait_gone 30
is "$FBD_RC" 0 "graceful stop exits 0"
fbd_check_no_secrets "$FBD_LOG" "$FBD_DIR/resp"
check_no_sanitizer_reports "$FBD_LOG"
