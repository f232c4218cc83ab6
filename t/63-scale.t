#!/bin/sh
# Scaling the pool up and down under load (fbeectl scale): the highest
# slots drain between tasks, nothing is lost or applied twice.
. "$(dirname "$0")/lib/fbtest.sh"
. "$(dirname "$0")/lib/fbtest-daemon.sh"

FBD_BEES=2
fbd_setup || skip_all "cannot set up PostgreSQL + minicolonies"
plan 20

ctl() { "$FB_BUILDDIR/fbeectl" -s "$FBD_SOCK" "$@"; }

fbd_start
ok $? "financebeed started"
fbd_wait_bees 2
ok $? "2 bees running"

fbd_submit_generated 60 63
ctl scale 5 >/dev/null
ok $? "scale 5 accepted"
fbd_wait_bees 5
ok $? "5 bees running"
is "$(fbd_status | jq -r .bees_target)" 5 "status: target 5"
fbd_submit_fixtures
ctl scale -3 >/dev/null
ok $? "scale -3 accepted"
fbd_wait_bees 2
ok $? "2 bees left"
st=$(fbd_status)
is "$(printf '%s' "$st" | jq -r '[.bees[].slot] | join(",")')" "1,2" \
    "the highest slots went"
ctl scale +1 >/dev/null
ok $? "scale +1 accepted"
fbd_wait_bees 3
ok $? "3 bees running"
ctl scale -9 >/dev/null 2>&1
[ $? -ne 0 ]
ok $? "scale below zero refused"

fbd_wait_closed 90
ok $? "every process closed ($FBD_WAIT)"
fbd_check_exactly_once
unlike "$(cat "$FBD_LOG")" 'bee signal|killing' "no bee was killed"

kill -TERM "$FBD_PID"
fbd_wait_gone 30
is "$FBD_RC" 0 "graceful stop exits 0"
check_no_sanitizer_reports "$FBD_LOG"
