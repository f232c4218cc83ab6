#!/bin/sh
# Exit statuses drive the slots: bees that cannot reach the database exit
# 75 and are respawned with backoff until the pool is throttled as a crash
# loop (visible in status); bees facing a database without the schema exit
# 78 and their slots fail without respawning; a reload that fixes the
# configuration brings the pool back.
. "$(dirname "$0")/lib/fbtest.sh"
. "$(dirname "$0")/lib/fbtest-daemon.sh"

fbd_setup || skip_all "cannot set up PostgreSQL + minicolonies"
sed -i -e 's|conninfo = ".*";|conninfo = "host=/nonexistent-financebee port=1";|' \
    -e 's|crash_window = 10;|crash_window = 4;|' "$FBD_CONF"
plan 30

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

# --- 75: the database is unreachable --------------------------------------
fbd_start
ok $? "financebeed started with an unreachable database"
fbd_wait_status '.crash_loop' 20
ok $? "status: crash_loop true"
st=$(fbd_status)
like "$(printf '%s' "$st" | jq -r '.throttled_until')" '^[0-9]' \
    "status: throttled_until set"
like "$(printf '%s' "$st" | jq -r '[.bees[].last_exit] | unique | join(",")')" \
    'exit 75' "status: bees exited 75"
[ "$(printf '%s' "$st" | jq -r '.pool.restarts')" -ge 4 ]
ok $? "status: restarts counted"
like "$(cat "$FBD_LOG")" 'crash loop: [0-9]+ bee deaths' "crash loop logged"
kill -0 "$FBD_PID"
ok $? "the master is alive"
# While throttled a slot waits respawn_max (2 s) between tries: four more
# restarts of three slots take one slot twice, so at least 2 s.  Measured
# from the restarts themselves (a loaded machine only makes it longer), and
# every respawn scheduled in the crash loop says 2.00s.
now_ms() { date +%s%3N; }
t0=$(now_ms)
r1=$(fbd_status | jq '.pool.restarts')
for _ in $(seq 1 300); do
	r2=$(fbd_status | jq '.pool.restarts')
	[ "$r2" -ge $((r1 + 4)) ] && break
	sleep 0.1
done
el=$(( $(now_ms) - t0 ))
[ "$r2" -ge $((r1 + 4)) ] && [ "$el" -ge 1950 ]
ok $? "throttled: 4 restarts of 3 slots take respawn_max ($r1 -> $r2 in ${el}ms)"
sed -n '/crash loop: /,$p' "$FBD_LOG" | grep 'respawn in' >"$FBD_DIR/resp"
[ -s "$FBD_DIR/resp" ] && ! grep -v 'respawn in 2.00s .*crash loop)' \
    "$FBD_DIR/resp" >&2
ok $? "throttled: every respawn waits respawn_max"

sed -i 's|conninfo = ".*";|conninfo = "";|' "$FBD_CONF"
kill -HUP "$FBD_PID"
fbd_wait_status '[.bees[] | select(.state == "polling" or .state == "idle")]
    | length == 3' 20
ok $? "after a reload with a good database, 3 bees serve"
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
