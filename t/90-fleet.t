#!/bin/sh
# Two instances with the same configuration but for their host
# (colonies.executor_host, as two machines would differ by host name),
# their admin sockets and logs, drain one queue together while bees of
# both are killed: each registers executors of its own (names and keys
# differ), every process is closed and applied exactly once, and each
# fbeectl status shows its own share.
. "$(dirname "$0")/lib/fbtest.sh"
. "$(dirname "$0")/lib/fbtest-daemon.sh"

FBD_BEES=3
FBD_HOST=hive-a
fbd_setup || skip_all "cannot set up PostgreSQL + minicolonies"
plan 21

CONF_A=$FBD_CONF LOG_A=$FBD_LOG SOCK_A=$FBD_SOCK
CONF_B=$FBD_DIR/b.conf LOG_B=$FBD_DIR/b.log SOCK_B=$FBD_DIR/b.sock
FBD_HOST=hive-b FBD_SOCK=$SOCK_B fbd_write_config "$CONF_B"
# The same file but for the host part and the admin socket.
d=$(diff "$CONF_A" "$CONF_B" | grep -c '^[<>]')
is "$d" 4 "the two configurations differ in executor_host and admin.socket"

fbd_start
ok $? "instance A started"
PID_A=$FBD_PID
FBD_CONF=$CONF_B FBD_LOG=$LOG_B FBD_SOCK=$SOCK_B fbd_start
ok $? "instance B started"
PID_B=$FBD_PID
FBD_PID=$PID_A fbd_wait_bees 3
ok $? "A runs 3 bees"
FBD_PID=$PID_B fbd_wait_bees 3
ok $? "B runs 3 bees"

ex_a=$("$FB_BUILDDIR/fbeectl" -s "$SOCK_A" executors --json 2>&1)
ex_b=$("$FB_BUILDDIR/fbeectl" -s "$SOCK_B" executors --json 2>&1)
is "$(printf '%s' "$ex_a" | jq -r '[.[].name] | join(",")')" \
    "financebee-hive-a-1,financebee-hive-a-2,financebee-hive-a-3" \
    "A's executors are named after its host"
is "$(printf '%s' "$ex_b" | jq -r '[.[].name] | join(",")')" \
    "financebee-hive-b-1,financebee-hive-b-2,financebee-hive-b-3" \
    "B's executors are named after its host"
common=$( (printf '%s' "$ex_a" | jq -r '.[].id'; printf '%s' "$ex_b" |
    jq -r '.[].id') | sort | uniq -d | wc -l)
is "$common" 0 "no executor id in common"
for n in financebee-hive-a-2 financebee-hive-b-2; do
	until_ok 20 sh -c "\"$FB_BUILDDIR/minicolonies\" executor get \
	    --url \"$FB_COLONIES_URL\" --colony \"$FB_COLONY\" --name $n \
	    --key-file \"$FBD_DIR/submitter.key\" 2>&1 | grep -Eq '\"state\": ?1'"
	ok $? "executor $n is registered and approved"
done

fbd_submit_generated 80 77
fbd_submit_fixtures
kills=0
for i in $(seq 1 12); do
	if [ $((i % 2)) -eq 0 ]; then pid=$PID_A; else pid=$PID_B; fi
	p=$(FBD_PID=$pid fbd_bee_pids | shuf -n 1)
	[ -n "$p" ] && kill -KILL "$p" 2>/dev/null && kills=$((kills + 1))
	sleep 0.$(shuf -i 1-4 -n 1)
done
[ "$kills" -ge 8 ]
ok $? "killed bees of both instances ($kills)"

fbd_wait_closed 120
ok $? "every process closed ($FBD_WAIT)"
fbd_check_exactly_once

# Each status counts its own share; together, every task.
share() {	# share SOCK: tasks counted by that instance
	"$FB_BUILDDIR/fbeectl" -s "$1" status --json 2>/dev/null |
	    jq '.pool.tasks | ([.[]] | add) - .lost'
}
for _ in $(seq 1 100); do
	a=$(share "$SOCK_A") b=$(share "$SOCK_B")
	# A killed bee's last counts may be lost: near enough.
	[ $(( ${a:-0} + ${b:-0} + 20 )) -ge "$FBD_SUBMITTED" ] && break
	sleep 0.1
done
[ "${a:-0}" -gt 0 ] && [ "${b:-0}" -gt 0 ]
ok $? "both instances did part of the work (A $a, B $b)"
st=$("$FB_BUILDDIR/fbeectl" -s "$SOCK_B" status --json 2>&1)
is "$(printf '%s' "$st" | jq -r '[.bees[].executor] | join(",")')" \
    "financebee-hive-b-1,financebee-hive-b-2,financebee-hive-b-3" \
    "B's status shows its own bees"
st=$("$FB_BUILDDIR/fbeectl" -s "$SOCK_A" status --json 2>&1)
is "$(printf '%s' "$st" | jq -r '[.bees[].executor] | join(",")')" \
    "financebee-hive-a-1,financebee-hive-a-2,financebee-hive-a-3" \
    "A's status shows its own bees"

kill -TERM "$PID_A" "$PID_B"
FBD_PID=$PID_A fbd_wait_gone 30
FBD_PID=$PID_B fbd_wait_gone 30
check_no_sanitizer_reports "$LOG_A" "$LOG_B"
