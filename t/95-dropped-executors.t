#!/bin/sh
# The server forgets the executors while tasks flow (removeexecutormsg, as
# the stale-executor cleanup or an operator does): with the colony owner's
# key configured, each slot is registered again once, each bee restarts
# at most once, the crash-loop guard does not trip, and processing resumes
# within 10 s of the drop (issue #13: measured ~2-3 s, poll_timeout + 1 s;
# the bound is the promise, not a guess at the machine's speed); nothing is
# lost or applied twice.
. "$(dirname "$0")/lib/fbtest.sh"
. "$(dirname "$0")/lib/fbtest-daemon.sh"

FBD_BEES=4
fbd_setup || skip_all "cannot set up PostgreSQL + minicolonies"
plan 28

ctl() { timeout 5 "$FB_BUILDDIR/fbeectl" -s "$FBD_SOCK" "$@"; }
registered() {
	[ "$(ctl executors --json | jq -r '[.[].registered] | join(",")')" = \
	    "yes,yes,yes,yes" ]
}
polling() {
	[ "$(fbd_status | jq '[.bees[] | select(.state == "polling" or
	    .state == "working" or .state == "idle")] | length')" = 4 ]
}
closed_now() { mc stats --colony "$FB_COLONY" | jq -r .successful; }
closed_over() { [ "$(closed_now)" -gt "$1" ]; }
reg_count_at_least() { [ "$(grep -c 'registered and approved' "$FBD_LOG")" -ge "$1" ]; }
drop_all() {
	for n in 1 2 3 4; do
		mc executor remove --colony "$FB_COLONY" --name "financebee-$n" \
		    --owner-key-file "$FBD_DIR/owner.key" || return 1
	done
}

fbd_start
ok $? "financebeed started"
until_ok 20 registered
ok $? "the 4 executors are registered"
until_ok 20 polling
ok $? "the 4 bees poll"
is "$(grep -c 'registered and approved' "$FBD_LOG")" 4 \
    "one registration per slot at start"

# A stream of tasks, then the server forgets every executor mid-stream.
fbd_submit_generated 150 75
until_ok 30 closed_over 19
ok $? "tasks flow"
before=$(fbd_status | jq .pool.restarts)
t0=$(date +%s.%N)
drop_all
ok $? "the server removed the 4 executors"

# Each slot is refused once, registered again once, and serves again.
until_ok 20 reg_count_at_least 8
ok $? "each slot registered again"
until_ok 20 polling
ok $? "the 4 bees serve again"
# What was left of the stream may be done already: new work shows that
# the pool processes again.
c0=$(closed_now)
fbd_submit_fixtures
# Measured from just before the drop to the first new close seen (an
# upper bound: it includes the submission and this loop's 0.1 s steps).
until_ok 60 closed_over "$c0"
ok $? "processing resumed"
t1=$(date +%s.%N)
el=$(echo "$t1 - $t0" | bc)
# Under the sanitizers every bee start takes several times longer (one
# run on a loaded machine missed it); the bound is checked in the plain
# build, the figure noted in both.
if [ "$("$FB_BUILDDIR/t/test-arena" -a 2>/dev/null)" = asan ]; then
	skip "ASan build: resumed after ${el} s; the 10 s bound is checked in the plain build"
else
	[ "$(echo "$el <= 10" | bc)" = 1 ]
	ok $? "processing resumed within 10 s of the drop (${el} s)"
fi

fbd_wait_closed 120
ok $? "every process closed ($FBD_WAIT)"
fbd_check_exactly_once
st=$(fbd_status)
is "$(grep -c 'registered and approved' "$FBD_LOG")" 8 \
    "exactly one re-registration per slot"
after=$(printf '%s' "$st" | jq .pool.restarts)
is "$(printf '%s' "$st" | jq '[.bees[] | select(.restarts > 1)] | length')" 0 \
    "no bee restarted more than once ($before -> $after restarts)"
is "$(printf '%s' "$st" | jq .crash_loop)" false "the crash-loop guard did not trip"
unlike "$(cat "$FBD_LOG")" 'crash loop' "no crash loop in the log"

# --- a server rebuilt from an empty state ------------------------------------
# minicolonies keeps everything in memory: restarted on the same port and
# set up again, it has the colony but none of the executors.
port=${FB_COLONIES_URL##*:}
port=${port%/api}
# Paused while the server is down and set up again: a bee that polled in
# between would be refused for a colony that does not exist yet, which is
# not the case under test (the executors missing from a server that knows
# the colony).
ctl pause >/dev/null
kill -TERM "$MC_PID"
until_ok 10 sh -c "! kill -0 $MC_PID 2>/dev/null"
mc_start --listen "127.0.0.1:$port" &&
mc setup --colony "$FB_COLONY" --server-key-file "$FBD_DIR/server.key" \
    --owner-key-file "$FBD_DIR/owner.key" \
    --submitter-key-file "$FBD_DIR/submitter.key" >/dev/null
ok $? "minicolonies restarted empty on port $port and set up again"
t0=$(date +%s.%N)
FBD_SUBMITTED=0
: >"$FBD_DIR/all.ids"
fbd_submit_generated 20 751
ctl resume >/dev/null
until_ok 20 reg_count_at_least 12
ok $? "each slot registered again with the new server"
until_ok 10 closed_over 0
ok $? "processing resumed"
note "processing resumed $(echo "$(date +%s.%N) - $t0" | bc) s after the server's return"
fbd_wait_closed 60
ok $? "every new process closed ($FBD_WAIT)"
st=$(fbd_status)
is "$(grep -c 'registered and approved' "$FBD_LOG")" 12 \
    "exactly one more registration per slot"
is "$(printf '%s' "$st" | jq '[.bees[] | select(.restarts > 2)] | length')" 0 \
    "no bee restarted more than once more"
is "$(printf '%s' "$st" | jq .crash_loop)" false "the crash-loop guard did not trip"
check_no_sanitizer_reports "$FBD_LOG"
