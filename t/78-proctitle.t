#!/bin/sh
# Process titles: the bees are "financebeed" for top(1) and pgrep(1) (not
# the "exe" of /proc/self/exe) and show "financebeed: bee N STATE" in
# ps(1), the state following the bee's.
. "$(dirname "$0")/lib/fbtest.sh"
. "$(dirname "$0")/lib/fbtest-daemon.sh"

FBD_BEES=2
fbd_setup || skip_all "cannot set up PostgreSQL + minicolonies"
fbd_start
ok $? "financebeed started"
fbd_wait_bees 2
ok $? "2 bees, found by title"
titles() { ps -o args= --ppid "$FBD_PID" | sort; }
until_ok 20 sh -c "[ \"\$(ps -o args= --ppid $FBD_PID | grep -c '^financebeed: bee [12] polling\$')\" -eq 2 ]"
ok $? "ps: financebeed: bee 1 polling, financebeed: bee 2 polling"
[ $? -eq 0 ] || diag "$(titles)"
# The bees, not every child: a short-lived child (the queue-depth probe,
# a registration) is "exe" from its exec until its main() names it,
# which an ASan build's start-up makes long enough to be seen.
comms=$(for p in $(fbd_bee_pids); do ps -o comm= -p "$p"; done | sort -u)
is "$comms" "financebeed" "comm of every bee: financebeed"
pgrep -x financebeed -P "$FBD_PID" >/dev/null
ok $? "pgrep -x financebeed finds them"

"$FB_BUILDDIR/fbeectl" -s "$FBD_SOCK" pause >/dev/null
until_ok 20 sh -c "[ \"\$(ps -o args= --ppid $FBD_PID | grep -c '^financebeed: bee [12] paused\$')\" -eq 2 ]"
ok $? "after pause: financebeed: bee N paused"
[ $? -eq 0 ] || diag "$(titles)"
"$FB_BUILDDIR/fbeectl" -s "$FBD_SOCK" stop >/dev/null
fbd_wait_gone 30
is "$FBD_RC" 0 "stopped"
done_testing
