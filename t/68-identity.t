#!/bin/sh
# Without the owner key the master registers nothing: bees are refused
# (exit 75, backoff) until the operator registers the names and ids that
# "fbeectl executors" lists; then they serve.  Also: pause and resume,
# SIGUSR1 reopening the log file in the master and the bees, and the
# prune timer running "financebeed --prune" as a child.
. "$(dirname "$0")/lib/fbtest.sh"
. "$(dirname "$0")/lib/fbtest-daemon.sh"

FBD_BEES=2
fbd_setup || skip_all "cannot set up PostgreSQL + minicolonies"
plan 26

ctl() { "$FB_BUILDDIR/fbeectl" -s "$FBD_SOCK" "$@"; }
wait_in() {	# wait_in FILE REGEX [SECONDS]
	for _ in $(seq 1 $(( ${3:-20} * 10 ))); do
		grep -Eq -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
LOGF=$FBD_DIR/file.log
sed -i -e '/owner_key_file/d' \
    -e "s|target = \"stderr\";|target = \"$LOGF\";|" \
    -e 's|prune_interval = 0;|prune_interval = 1;|' "$FBD_CONF"

fbd_start
ok $? "financebeed started without an owner key"
wait_in "$LOGF" 'refuses executor financebee-2'
ok $? "the colony refuses the unregistered bees"
# Each bee reports its refusal on its own: wait for both (a loaded machine
# can leave one still starting when the other is refused).
for _ in $(seq 1 100); do
	ex=$(ctl executors --json)
	[ "$(printf '%s' "$ex" | jq -r '[.[].registered] | join(",")')" = no,no ] &&
	    break
	sleep 0.1
done
is "$(printf '%s' "$ex" | jq -r '[.[].name] | join(",")')" \
    "financebee-1,financebee-2" "fbeectl executors lists the names"
ids=$(printf '%s' "$ex" | jq -r '.[].id' | grep -c '^[0-9a-f]\{64\}$')
is "$ids" 2 "and 64-hex ids"
is "$(printf '%s' "$ex" | jq -r '[.[].registered] | join(",")')" "no,no" \
    "and says they are not registered"
for i in 1 2; do
	id=$(printf '%s' "$ex" | jq -r ".[] | select(.slot == $i) | .id")
	mc executor add --colony "$FB_COLONY" --name "financebee-$i" \
	    --type financebee --id "$id" --owner-key-file "$FBD_DIR/owner.key" \
	    --approve >/dev/null 2>&1
done
fbd_submit_fixtures
fbd_wait_closed 40
ok $? "after the operator registers them, the bees serve ($FBD_WAIT)"
for _ in $(seq 1 100); do	# a bee in backoff has yet to try again
	reg=$(ctl executors --json | jq -r '[.[].registered] | join(",")')
	[ "$reg" = yes,yes ] && break
	sleep 0.1
done
is "$reg" "yes,yes" "fbeectl executors: registered"
fbd_check_exactly_once

# Pause: nothing is assigned; resume: everything is.
ctl pause >/dev/null
for _ in $(seq 1 60); do
	[ "$(fbd_status | jq '[.bees[] | select(.state == "paused")]
	    | length')" = 2 ] && break
	sleep 0.1
done
is "$(fbd_status | jq -r .state)" paused "status: paused"
fbd_submit_generated 2 68
# Every paused bee looks at its pause flag again (two heartbeats) while the
# events wait: progress, not seconds.
fbd_wait_beats 2 30
ok $? "the paused bees keep beating"
is "$(fbd_count_state 0)" "$(wc -l <"$FBD_DIR/last.ids")" \
    "paused bees take nothing"
is "$(fbd_status | jq -r '[.bees[].state] | unique | join(",")')" paused \
    "status: still paused"
ctl resume >/dev/null
fbd_wait_closed 30
ok $? "after resume every process is closed ($FBD_WAIT)"

# SIGUSR1: a rotated log file is reopened by the master and the bees.
mv "$LOGF" "$LOGF.1"
kill -USR1 "$FBD_PID"
wait_in "$LOGF" 'master info: logs reopened'
ok $? "the master reopened its log"
ctl scale +1 >/dev/null
wait_in "$LOGF" 'bee\[3\] info: executor financebee-3'
ok $? "a new bee logs to the new file"
# A webhook secret added by reload: unsigned events now fail, and neither
# the secret nor anything derived from it shows in the logs.
WHSEC=whsec_fbtest9x7Qp2LmZ
FBD_SECRETS=$WHSEC
sed -i "s|webhook_secrets = \[ \];|webhook_secrets = [ \"$WHSEC\" ];|" "$FBD_CONF"
kill -HUP "$FBD_PID"
wait_in "$LOGF" 'reload complete: generation 2' 30
ok $? "reloaded with a webhook secret"
_fbd_submit "$FB_FIXTURES/stripe-events/stripe-ruby-mock__invoice.paid__1.json"
fbd_wait_closed 30
is "$(fbd_count_state 3)" 1 "an unsigned event now fails"
ctl stop >/dev/null
fbd_wait_gone 30
like "$(cat "$LOGF")" 'bee\[[12]\] info: drained' \
    "bees 1 and 2 write to the reopened file"
grep -Eq 'pruned [0-9]+ rows' "$FBD_LOG"
ok $? "the prune timer ran financebeed --prune"
unlike "$(cat "$LOGF" "$LOGF.1")" 'master warn: prune' "prune succeeded"
fbd_check_no_secrets "$LOGF" "$LOGF.1" "$FBD_LOG"
check_no_sanitizer_reports "$LOGF" "$LOGF.1" "$FBD_LOG"
