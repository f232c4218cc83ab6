#!/bin/sh
# Exit statuses and deaths drive the slots: bees that cannot reach the
# database at start wait for it, never exit and never make a crash loop;
# bees killed as fast as they start are respawned with backoff until the
# pool is throttled as a crash loop (visible in status), which ends after
# a quiet crash_window; bees facing a database without the schema exit 78
# and their slots fail without respawning; a reload that fixes the
# configuration brings the pool back.
. "$(dirname "$0")/lib/fbtest.sh"
. "$(dirname "$0")/lib/fbtest-daemon.sh"

fbd_setup || skip_all "cannot set up PostgreSQL + minicolonies"
sed -i -e 's|conninfo = ".*";|conninfo = "host=/nonexistent-financebee port=1";|' \
    -e 's|crash_window = 10;|crash_window = 4;|' "$FBD_CONF"
plan 35

fbd_wait_status() {	# fbd_wait_status JQ-EXPR [SECONDS]: until true
	for _ in $(seq 1 $(( ${2:-20} * 10 ))); do
		[ "$(fbd_status | jq -r "$1" 2>/dev/null)" = true ] && return 0
		sleep 0.1
	done
	diag "status never satisfied: $1"
	fbd_status | jq -c '{crash_loop, bees: [.bees[] | {slot, state,
	    last_exit, restarts}]}' >&2
	return 1
}

# --- the database unreachable at start: a state, not a crash ---------------
fbd_start
ok $? "financebeed started with an unreachable database"
fbd_wait_status '[.bees[] | select(.state == "waiting")] | length == 3' 20
ok $? "status: the 3 bees wait for the database"
# Progress, not seconds: every bee probes and beats 3 more times.
fbd_wait_beats 3 30
ok $? "  and keep waiting (3 more heartbeats each)"
st=$(fbd_status)
is "$(printf '%s' "$st" | jq -r '[.pool.restarts, .crash_loop,
    ([.bees[].restarts] | add)] | join(" ")')" "0 false 0" \
    "status: no bee exited, no restart, no crash loop"
is "$(grep -c 'warn: the database unreachable' "$FBD_LOG")" 3 \
    "each bee says once that the database does not answer"
sed -i 's|conninfo = ".*";|conninfo = "";|' "$FBD_CONF"
kill -HUP "$FBD_PID"
fbd_wait_status '[.bees[] | select(.state == "polling" or .state == "idle")]
    | length == 3' 20
ok $? "after a reload with a good database, 3 bees serve"

# --- deaths: bees killed as fast as they start -------------------------------
( while :; do
	for p in $(fbd_bee_pids); do kill -9 "$p" 2>/dev/null; done
	sleep 0.05
done ) &
KILLER=$!
fb_track_pid "$KILLER"
fbd_wait_status '.crash_loop' 20
ok $? "status: crash_loop true"
st=$(fbd_status)
like "$(printf '%s' "$st" | jq -r '.throttled_until')" '^[0-9]' \
    "status: throttled_until set"
like "$(printf '%s' "$st" | jq -r '[.bees[].last_exit] | unique | join(",")')" \
    'signal 9' "status: bees died of signal 9"
[ "$(printf '%s' "$st" | jq -r '.pool.restarts')" -ge 4 ]
ok $? "status: restarts counted"
like "$(cat "$FBD_LOG")" 'crash loop: [0-9]+ bee deaths' "crash loop logged"
kill -0 "$FBD_PID"
ok $? "the master is alive"
# While throttled a slot waits respawn_max (2 s) between tries.  From the
# log: each respawn scheduled in the crash loop ("respawn in ...s (...,
# crash loop)") and the start of that slot's next bee, "SLOT DELAY GAP".
# Measured from the master's own lines, so a loaded machine only makes
# the gaps longer (and may end the crash loop for a while: the respawns
# outside it are not these).
throttle_pairs() {
	awk '
	function ts(s, a) { split(substr(s, 12, 12), a, ":")
		return a[1] * 3600 + a[2] * 60 + a[3] }
	/master info: slot [0-9]+: respawn in .*crash loop\)/ {
		match($0, /slot [0-9]+/); sl = substr($0, RSTART + 5, RLENGTH - 5)
		match($0, /respawn in [0-9.]+s/)
		pd[sl] = substr($0, RSTART + 11, RLENGTH - 12)
		pend[sl] = ts($1); next }
	/master info: slot [0-9]+: started bee/ {
		match($0, /slot [0-9]+/); sl = substr($0, RSTART + 5, RLENGTH - 5)
		if (sl in pend) {
			printf "%s %s %.3f\n", sl, pd[sl], ts($1) - pend[sl]
			delete pend[sl]
		} }' "$FBD_LOG"
}
pairs_at_least() { [ "$(throttle_pairs | wc -l)" -ge "$1" ]; }
until_ok 30 pairs_at_least 3
ok $? "throttled: three respawns in the crash loop, each followed by its bee"
bad=$(throttle_pairs | awk '$2 != "2.00" || $3 < 1.95')
is "$bad" "" "throttled: each waited respawn_max ($(throttle_pairs |
    awk '{ printf "%s%s", s, $3; s = "," }') s)"
kill "$KILLER"
wait "$KILLER" 2>/dev/null
fbd_wait_status '[.bees[] | select(.state == "polling" or .state == "idle")]
    | length == 3' 30
ok $? "the kills stopped, 3 bees serve"
fbd_submit_fixtures
fbd_wait_closed 30
ok $? "events processed ($FBD_WAIT)"
fbd_wait_status '.crash_loop == false' 20
ok $? "the crash loop ends after a quiet crash_window"
kill -TERM "$FBD_PID"
fbd_wait_gone 30
is "$FBD_RC" 0 "graceful stop exits 0"

# --- 78: a database without the schema --------------------------------------
psql_q -c "CREATE DATABASE noschema" >/dev/null
sed -i 's|conninfo = ".*";|conninfo = "dbname=noschema";|' "$FBD_CONF"
: >"$FBD_LOG"
fbd_start
ok $? "financebeed started against a database without the schema"
fbd_wait_status '[.bees[] | select(.state == "failed")] | length == 3' 20
ok $? "status: the 3 slots failed"
st=$(fbd_status)
is "$(printf '%s' "$st" | jq -r '[.bees[].last_exit] | unique | join(",")')" \
    "exit 78" "status: exit 78"
like "$(printf '%s' "$st" | jq -r '.bees[0].cause')" '.' "status: a cause"
like "$(cat "$FBD_LOG")" 'schema.*--migrate' "the log says to migrate"
# The master decides at the reap: "not respawned", no "respawn in".  Then a
# fourth slot goes through a whole spawn and reap of its own while the
# three wait (progress, not seconds), and fails the same way.
is "$(grep -c 'configuration error (exit 78); not respawned' "$FBD_LOG")" 3 \
    "every failed slot is logged as not respawned"
"$FB_BUILDDIR/fbeectl" -s "$FBD_SOCK" scale +1 >/dev/null
fbd_wait_status '[.bees[] | select(.state == "failed")] | length == 4' 20
ok $? "a fourth slot, started meanwhile, fails too"
is "$(fbd_status | jq -r '.pool.restarts')" 0 "failed slots are not respawned"
unlike "$(cat "$FBD_LOG")" 'respawn in' "no respawn scheduled"
is "$(fbd_bee_pids | wc -l)" 0 "no bee runs"
sed -i 's|conninfo = ".*";|conninfo = "";|' "$FBD_CONF"
kill -HUP "$FBD_PID"
fbd_wait_bees 4
ok $? "a reload brings failed slots back"
kill -TERM "$FBD_PID"
fbd_wait_gone 30
is "$FBD_RC" 0 "graceful stop exits 0"

# --- ColonyOS unreachable: registration fails, the master stays responsive -
sed -i 's|url = ".*";|url = "http://127.0.0.1:1/api";|' "$FBD_CONF"
: >"$FBD_LOG"
fbd_start
ok $? "financebeed started with ColonyOS unreachable"
wait_log 'cannot register executor financebee-1' 20
ok $? "the failed registration is logged"
st=$(fbd_status)
is "$(printf '%s' "$st" | jq -r .bees_target)" 3 "status answers"
kill -TERM "$FBD_PID"
fbd_wait_gone 30
is "$FBD_RC" 0 "graceful stop exits 0"
check_no_sanitizer_reports "$FBD_LOG"
