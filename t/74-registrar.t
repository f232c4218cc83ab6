#!/bin/sh
# Registration runs in a child (financebeed --register SLOT): while
# ColonyOS takes its time to answer, the master keeps serving fbeectl, shows
# the slots as "registering", and starts each bee once its registrar is
# done; a stop does not wait for a registrar.  ColonyOS that accepts
# connections but does not answer is minicolonies stopped with SIGSTOP.
. "$(dirname "$0")/lib/fbtest.sh"
. "$(dirname "$0")/lib/fbtest-daemon.sh"

FBD_BEES=2
fbd_setup || skip_all "cannot set up PostgreSQL + minicolonies"
plan 34

ctl() { timeout 5 "$FB_BUILDDIR/fbeectl" -s "$FBD_SOCK" "$@"; }
states() { ctl status --json | jq -r '[.bees[].state] | join(",")'; }
# Longer than the whole test would take if the master waited for it.
sed -i 's|request_timeout = 5;|request_timeout = 60;|' "$FBD_CONF"

# Only the master's own options take a snapshot fd.
"$FB_BUILDDIR/financebeed" -c "$FBD_CONF" --config-fd 5 --migrate \
    >/dev/null 2>&1
is "$?" 64 "--config-fd with --migrate is a usage error"

kill -STOP "$MC_PID"
fbd_start
ok $? "financebeed started while ColonyOS does not answer"
ctl ping >/dev/null
ok $? "the master answers fbeectl while registration hangs"
is "$(states)" "registering,registering" "status: both slots registering"
is "$(ctl status | grep -c ' registering ')" 2 "fbeectl status shows them"
is "$(ctl status --json | jq -r .bees_running)" 0 "no bee started yet"
like "$(ctl metrics)" 'financebee_bees\{state="registering"\} 2' \
    "metrics: two bees registering"
n=$(pgrep -P "$FBD_PID" -f -- "^financebeed: registrar [12]$" | wc -l)
is "$n" 2 "one registrar per slot"

kill -CONT "$MC_PID"
running() { [ "$(states)" = "polling,polling" ] ||
    [ "$(states)" = "idle,polling" ] || [ "$(states)" = "polling,idle" ]; }
until_ok 30 running
ok $? "once ColonyOS answers, both bees start ($(states))"
is "$(ctl executors --json | jq -r '[.[].registered] | join(",")')" \
    "yes,yes" "fbeectl executors: registered"
! grep -q 'registrar.*warn' "$FBD_LOG"
ok $? "no registrar warned"
grep -q 'executor financebee-2 registered and approved' "$FBD_LOG"
ok $? "the master logged the registration"
is "$(pgrep -P "$FBD_PID" -f -- "^financebeed: registrar " | wc -l)" 0 "no registrar left"
fbd_submit_fixtures
fbd_wait_closed 40
ok $? "the bees serve ($FBD_WAIT)"
fbd_check_exactly_once

# A slot added while ColonyOS hangs again; the stop does not wait for it.
kill -STOP "$MC_PID"
ctl scale 3 >/dev/null
until_ok 10 sh -c "pgrep -P $FBD_PID -f -- '^financebeed: registrar 3$' >/dev/null"
ok $? "scale 3: a registrar for slot 3"
regs=$(pgrep -P "$FBD_PID" -f -- "^financebeed: registrar ")
t0=$(date +%s)
ctl stop --fast >/dev/null
fbd_wait_gone 20
ok $? "fast stop with a registrar hanging: the daemon exits after $(( $(date +%s) - t0 ))s"
kill -CONT "$MC_PID"
# Those of this daemon (another daemon on the machine may have its own).
left=0
for p in $regs; do kill -0 "$p" 2>/dev/null && left=$((left + 1)); done
is "$left" 0 "and no registrar is left behind"

# The colony refuses a registrar holding the wrong owner key: it says why
# in the log (never the key), and the bees start anyway (their executors,
# registered above, still serve).
kill -CONT "$MC_PID" 2>/dev/null
"$FB_BUILDDIR/fbeectl" key generate | awk '$1 == "private-key" { print $2 }' \
    >"$FBD_DIR/owner.key"
FBD_SECRETS=$(cat "$FBD_DIR/owner.key")
fbd_start
ok $? "financebeed started with a key that does not own the colony"
until_ok 20 grep -q 'registrar\[1\] warn: slot 1: cannot register executor' \
    "$FBD_LOG"
ok $? "the registrar logs that the colony refused it"
until_ok 20 running
ok $? "the bees start anyway ($(states))"
ctl stop >/dev/null
fbd_wait_gone 20
ok $? "stopped"

# A registrar hanging where no request timeout reaches it (a name lookup;
# here the registrars themselves are stopped) is killed at its deadline,
# 2 x (connect_timeout + request_timeout) + 5 s = 45 s, and the bees start.
# The registrars must be stopped before their own request to the stopped
# ColonyOS gives up (connect_timeout + request_timeout, 20 s): at 4 s,
# slot 1's once gave up first on a loaded machine, and registered later.
sed -i 's|request_timeout = 60;|request_timeout = 18;|' "$FBD_CONF"
kill -STOP "$MC_PID"
fbd_start
ok $? "financebeed started again, ColonyOS not answering"
until_ok 10 sh -c "[ \"\$(pgrep -P $FBD_PID -f -- '^financebeed: registrar [12]\$' | wc -l)\" -eq 2 ]"
ok $? "two registrars"
reg1=$(pgrep -P "$FBD_PID" -f -- "^financebeed: registrar 1$")
pkill -STOP -P "$FBD_PID" -f -- "^financebeed: registrar [12]$"
kill -CONT "$MC_PID"
t0=$(date +%s)
until_ok 120 grep -q "slot 1: registrar pid $reg1 has not finished in 45 s" \
    "$FBD_LOG"
ok $? "the master kills a registrar past its deadline, and says so"
until_ok 20 running
ok $? "the bees start without it after $(( $(date +%s) - t0 ))s ($(states))"
is "$(pgrep -P "$FBD_PID" -f -- "^financebeed: registrar " | wc -l)" 0 "no registrar is left"
ctl stop >/dev/null
fbd_wait_gone 20
ok $? "stopped"
fbd_check_no_secrets "$FBD_LOG"
check_no_sanitizer_reports "$FBD_LOG"
