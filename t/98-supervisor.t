#!/bin/sh
# The supervisor's promises, checked where they fall:
#  - backoff: a bee killed soon after each start waits respawn_min (0.1 s),
#    then twice as long each time up to respawn_max (2 s); once a bee has
#    served healthy_after (15 s here) the next death waits respawn_min again;
#  - crash-loop guard: the pool's deaths (any slots) within crash_window
#    count; the crash_limit-th trips it, not one before;
#  - a reload that fails after the file parsed changes nothing, also for
#    bees started after it.
. "$(dirname "$0")/lib/fbtest.sh"
. "$(dirname "$0")/lib/fbtest-daemon.sh"

FBD_BEES=3
fbd_setup || skip_all "cannot set up PostgreSQL + minicolonies"
# healthy_after 15, not the helpers' 3: "killed soon after its start"
# must hold however slow the test's own steps are (under ASan and load a
# round of status, kill and respawn took more than 3 s).
sed -i -e 's|crash_limit = 4;|crash_limit = 100;|' \
    -e 's|crash_window = 10;|crash_window = 120;|' \
    -e 's|healthy_after = 3;|healthy_after = 15;|' "$FBD_CONF"
plan 29

ctl() { timeout 5 "$FB_BUILDDIR/fbeectl" -s "$FBD_SOCK" "$@"; }
bee_pid() { fbd_status | jq -r ".bees[] | select(.slot == $1) | .pid"; }
new_bee() {	# new_bee SLOT OLDPID
	p=$(bee_pid "$1")
	[ -n "$p" ] && [ "$p" != 0 ] && [ "$p" != "$2" ]
}
reaped() {	# reaped N: the pool counts N restarts
	[ "$(fbd_status | jq .pool.restarts)" = "$1" ]
}
crash_loop() { fbd_status | jq -r .crash_loop; }
# The backoff the master logged for slot 1's last death.
last_backoff() {
	grep 'slot 1: respawn in' "$FBD_LOG" | tail -1 |
	    sed -E 's/.*respawn in ([0-9.]+)s \(backoff ([0-9.]+)s.*/\2 \1/'
}
lived_16s() { [ "$(ps -o etimes= -p "$1" 2>/dev/null | tr -d ' ')" -ge 16 ] 2>/dev/null; }

fbd_start
ok $? "financebeed started"
fbd_wait_bees 3
ok $? "3 bees running"

# --- backoff ----------------------------------------------------------------------
got=
deaths=0
jitter_ok=0
for want in 0.10 0.20 0.40 0.80 1.60 2.00 2.00; do
	old=$(bee_pid 1)
	kill -KILL "$old"
	deaths=$((deaths + 1))
	until_ok 10 reaped "$deaths"
	set -- $(last_backoff)
	got="$got $1"
	# The delay is jittered within [backoff / 2, backoff].
	echo "$2 $1" | awk '{ exit !($1 >= $2 / 2 - 0.01 && $1 <= $2 + 0.01) }' ||
	    { jitter_ok=1; diag "delay $2 s outside [$1 / 2, $1]"; }
	until_ok 10 new_bee 1 "$old"
done
is "$got" " 0.10 0.20 0.40 0.80 1.60 2.00 2.00" \
    "backoff doubles from respawn_min and stays at respawn_max"
ok "$jitter_ok" "each delay is jittered within [backoff / 2, backoff]"
pid=$(bee_pid 1)
until_ok 30 lived_16s "$pid"
ok $? "the bee has served longer than healthy_after"
kill -KILL "$pid"
deaths=$((deaths + 1))
until_ok 10 reaped "$deaths"
set -- $(last_backoff)
is "$1" 0.10 "after healthy service the backoff starts again at respawn_min"
until_ok 10 new_bee 1 "$pid"
ok $? "respawned"
is "$(crash_loop)" false "no crash loop with crash_limit 100"
ctl stop >/dev/null
fbd_wait_gone 30
is "$FBD_RC" 0 "stopped"

# --- crash-loop guard: the pool's deaths, the limit-th trips it ---------------------
sed -i -e 's|crash_limit = 100;|crash_limit = 4;|' "$FBD_CONF"
: >"$FBD_LOG"
fbd_start
ok $? "financebeed started with crash_limit 4, crash_window 120"
fbd_wait_bees 3
ok $? "3 bees running"
n=0
for slot in 1 2 3; do
	old=$(bee_pid $slot)
	kill -KILL "$old"
	n=$((n + 1))
	until_ok 10 reaped $n
	is "$(crash_loop)" false "death $n (slot $slot): no crash loop yet"
	until_ok 10 new_bee $slot "$old"
done
old=$(bee_pid 1)
kill -KILL "$old"
until_ok 10 reaped 4
is "$(crash_loop)" true "death 4 (slot 1 again): crash_limit reached, crash loop"
like "$(grep 'crash loop:' "$FBD_LOG")" 'crash loop: 4 bee deaths within 120s' \
    "logged with the count"
like "$(grep 'slot 1: respawn in' "$FBD_LOG" | tail -1)" \
    'respawn in 2\.00s \(backoff [0-9.]+s, crash loop\)' \
    "throttled: respawn_max"
until_ok 10 new_bee 1 "$old"
ok $? "the slot is respawned all the same"

# --- a reload failing after the file parsed --------------------------------------
cp "$FBD_CONF" "$FBD_DIR/good.conf"
# Keys of the right form but out of range (d = 0): the file parses, the
# executor identity fails when the reload derives it.
(umask 077; for _ in 1 2 3 4 5; do printf '%064d\n' 0; done >"$FBD_DIR/bad.keys")
sed -i -e 's|executor_prefix = "financebee";|executor_prefix = "other";|' \
    -e "s|executor_seed_file = \".*\";|executor_keys_file = \"$FBD_DIR/bad.keys\";|" \
    "$FBD_CONF"
# -t makes the checks a start (and a reload) makes: it refuses the file
# for the key, not for its syntax.
out=$("$FB_BUILDDIR/financebeed" -t -c "$FBD_CONF" 2>&1)
is "$?:$(printf '%s' "$out" | grep -c 'out of range')" "78:1" \
    "the new file parses; financebeed -t refuses its keys (exit 78)"
err=$(ctl reload 2>&1); rc=$?
is "$rc" 1 "the reload fails"
like "$err" 'reload failed: .*key' "... on the executor key ($err)"
is "$(fbd_status | jq .generation)" 1 "generation unchanged"
ctl scale +1 >/dev/null
fbd_wait_bees 4
ok $? "a bee added after the failed reload"
old=$(bee_pid 2)
kill -KILL "$old"
until_ok 10 new_bee 2 "$old"
ok $? "a bee respawned after the failed reload"
serving4() {
	[ "$(fbd_status | jq '[.bees[] | select(.state == "polling" or
	    .state == "working" or .state == "idle")] | length')" = 4 ]
}
until_ok 20 serving4
ok $? "the 4 bees serve"
is "$(fbd_status | jq -r '[.bees[] | .executor] | join(",")')" \
    "financebee-1,financebee-2,financebee-3,financebee-4" \
    "every bee has the old executor names"
is "$(fbd_status | jq -r '[.bees[] | .generation] | unique | join(",")')" 1 \
    "and generation 1"
cp "$FBD_DIR/good.conf" "$FBD_CONF"
ctl stop >/dev/null
fbd_wait_gone 30
is "$FBD_RC" 0 "stopped"
check_no_sanitizer_reports "$FBD_LOG"
