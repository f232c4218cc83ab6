#!/bin/sh
# Reloads under load: a good SIGHUP that changes what bees use replaces them
# one at a time; one that changes "bees" scales; a bad one (by SIGHUP or
# fbeectl reload) is reported with file:line and changes nothing.
. "$(dirname "$0")/lib/fbtest.sh"
. "$(dirname "$0")/lib/fbtest-daemon.sh"

fbd_setup || skip_all "cannot set up PostgreSQL + minicolonies"
plan 32

gens() { fbd_status | jq -r '[.bees[] | select(.pid > 0) | .generation]
    | unique | join(",")'; }
fbd_start
ok $? "financebeed started"
fbd_wait_bees 3
ok $? "3 bees running"
before=$(fbd_bee_pids | sort | tr '\n' ' ')
fbd_submit_generated 60 64

# 1. A setting the bees use: every bee is replaced, one at a time.
sed -i 's/statement_timeout = 3;/statement_timeout = 4;/' "$FBD_CONF"
kill -HUP "$FBD_PID"
wait_log 'reloaded .*generation 2, replacing bees'
ok $? "HUP: reloaded, generation 2, bees to be replaced"
wait_log 'reload complete: generation 2' 40
ok $? "every bee replaced"
is "$(gens)" 2 "status: all bees of generation 2"
fbd_wait_bees 3
ok $? "3 bees running"
after=$(fbd_bee_pids | sort | tr '\n' ' ')
common=0
for p in $before; do
	case " $after " in *" $p "*) common=$((common + 1)) ;; esac
done
is "$common" 0 "no bee of the old generation left"
is "$(fbd_status | jq -r .generation)" 2 "status: generation 2"

# 2. Only the bee count: scale, no replacement.
fbd_submit_fixtures
before=$(fbd_bee_pids | sort | tr '\n' ' ')
sed -i 's/^bees = 3;/bees = 4;/' "$FBD_CONF"
kill -HUP "$FBD_PID"
wait_log 'reloaded .*generation 3$'
ok $? "HUP: reloaded, generation 3, no replacement"
fbd_wait_bees 4
ok $? "4 bees running"
left=0
for p in $before; do kill -0 "$p" 2>/dev/null && left=$((left + 1)); done
is "$left" 3 "the 3 running bees were kept"

# 3. A broken file: logged with file:line, nothing changes.
cp "$FBD_CONF" "$FBD_DIR/good.conf"
printf 'supervision: { task_timeout = "soon"; };\n' >>"$FBD_CONF"
for _ in $(seq 1 100); do
	[ "$(fbd_status | jq '[.bees[] | select(.state == "polling" or
	    .state == "working" or .state == "idle")] | length')" = 4 ] && break
	sleep 0.1
done
before=$(fbd_bee_pids | sort | tr '\n' ' ')
kill -HUP "$FBD_PID"
wait_log 'reload failed.*financebee.conf:[0-9]+'
ok $? "HUP with a bad file: error logged with file:line"
kill -0 "$FBD_PID"
ok $? "the master is alive"
is "$(fbd_status | jq -r .generation)" 3 "generation unchanged"
out=$("$FB_BUILDDIR/fbeectl" -s "$FBD_SOCK" reload 2>&1)
rc=$?
[ "$rc" -ne 0 ]
ok $? "fbeectl reload of a bad file fails (exit $rc)"
like "$out" 'financebee.conf:[0-9]+' "fbeectl reload prints file:line"
is "$(fbd_bee_pids | sort | tr '\n' ' ')" "$before" "no bee replaced"
cp "$FBD_DIR/good.conf" "$FBD_CONF"

# 4. A file the master accepts but new bees cannot work with (a database
# without the schema): one slot fails, the others keep serving.
psql_q -c "CREATE DATABASE noschema" >/dev/null
before=$(fbd_bee_pids | sort | tr '\n' ' ')
sed -i 's|conninfo = ".*";|conninfo = "dbname=noschema";|' "$FBD_CONF"
kill -HUP "$FBD_PID"
wait_log 'reload: the new bee of slot 1 failed' 30
ok $? "the first replacement fails and the replacement stops"
# Only slot 1 is replaced; every other bee of the old generation (3, unless
# a loaded machine had one between respawns when we looked) keeps running
# while they answer two more polls each (progress, not seconds: a replacement
# would drain the next of them at once).
fbd_wait_polls 2 30
ok $? "the other bees go on polling"
left=0
for p in $before; do kill -0 "$p" 2>/dev/null && left=$((left + 1)); done
is "$left" "$(( $(echo $before | wc -w) - 1 ))" \
    "the other bees of the old generation still run" ||
    diag "before: $before" "now: $(fbd_bee_pids | tr '\n' ' ')" \
    "$(grep master "$FBD_LOG" | tail -12)"
is "$(fbd_status | jq -r '.bees[] | select(.slot == 1) | .state')" failed \
    "status: slot 1 failed"
cp "$FBD_DIR/good.conf" "$FBD_CONF"
kill -HUP "$FBD_PID"
wait_log 'reload complete: generation 5' 40
ok $? "a good reload brings slot 1 back and replaces the others"
fbd_wait_bees 4
ok $? "4 bees running"

fbd_wait_closed 90
ok $? "every process closed ($FBD_WAIT)"
fbd_check_exactly_once
unlike "$(cat "$FBD_LOG")" 'bee signal|killing' "no bee was killed"
kill -TERM "$FBD_PID"
fbd_wait_gone 30
is "$FBD_RC" 0 "graceful stop exits 0"
check_no_sanitizer_reports "$FBD_LOG"
