#!/bin/sh
# Nothing changes until a reload: a bee started between two reloads (a
# crash, a kill -9, recycling) runs what the master loaded last, the
# configuration file and its secret files as they were read then, not as
# they are on disk now.  A broken edit no longer fails the slots one by
# one; a new executor seed takes effect at the reload, not at a respawn.
. "$(dirname "$0")/lib/fbtest.sh"
. "$(dirname "$0")/lib/fbtest-daemon.sh"

FBD_BEES=2
fbd_setup || skip_all "cannot set up PostgreSQL + minicolonies"
plan 23

ctl() { "$FB_BUILDDIR/fbeectl" -s "$FBD_SOCK" "$@"; }
ids() { ctl executors --json | jq -r '[.[].id] | join(",")'; }
slot_pid() { fbd_status | jq -r ".bees[] | select(.slot == $1) | .pid"; }
# wait_slot_serving SLOT OLDPID: a new bee in the slot, polling.
wait_slot_serving() {
	for _ in $(seq 1 150); do
		st=$(fbd_status | jq -r ".bees[] | select(.slot == $1) |
		    \"\(.pid) \(.state)\"")
		case $st in
		"$2 "*|"0 "*|*failed*) ;;
		*polling|*working|*idle) return 0 ;;
		esac
		sleep 0.1
	done
	diag "slot $1: $st"
	return 1
}

sed -i 's|prune_interval = 0;|prune_interval = 1;|' "$FBD_CONF"
fbd_start
ok $? "financebeed started"
fbd_wait_bees 2
ok $? "2 bees running"
for _ in $(seq 1 100); do
	[ "$(ctl executors --json | jq -r '[.[].registered] | join(",")')" = \
	    yes,yes ] && break
	sleep 0.1
done
ids0=$(ids)

# 1. A new executor seed on disk, no reload: a respawned bee keeps the
# identity the master registered (from the disk, it would be refused).
(umask 077; od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$FBD_SEED.new"
    echo >>"$FBD_SEED.new")
mv "$FBD_SEED.new" "$FBD_SEED"
p1=$(slot_pid 1)
kill -9 "$p1"
wait_slot_serving 1 "$p1"
ok $? "slot 1, killed, comes back serving"
is "$(ids)" "$ids0" "with the identity of the seed the master loaded"

# 2. The file broken on disk, no reload: respawned bees still serve.
cp "$FBD_CONF" "$FBD_DIR/good.conf"
printf 'supervision: { task_timeout = "soon"; };\n' >>"$FBD_CONF"
"$FB_BUILDDIR/financebeed" -t -c "$FBD_CONF" >/dev/null 2>&1
is "$?" 78 "the file on disk is now broken (financebeed -t: 78)"
p2=$(slot_pid 2)
kill -9 "$p2"
wait_slot_serving 2 "$p2"
ok $? "slot 2, killed, comes back serving from the master's snapshot"
grep -q 'configuration error' "$FBD_LOG"
ok $((! $?)) "no bee failed on the broken file"
is "$(ids)" "$ids0" "both bees kept their identities"

fbd_submit_fixtures
fbd_wait_closed 60
ok $? "they serve ($FBD_WAIT)"
fbd_check_exactly_once

# The master's other children read the snapshot too: the registrar of a
# slot added now, and the prune timer's runs.
ctl scale 3 >/dev/null
wait_slot_serving 3 0
ok $? "slot 3, added while the file is broken, is registered and serves"
is "$(ctl executors --json | jq -r '.[] | select(.slot == 3) | .registered')" \
    yes "fbeectl executors: slot 3 registered"
n0=$(grep -c 'pruned [0-9]* rows' "$FBD_LOG")
for _ in $(seq 1 50); do
	[ "$(grep -c 'pruned [0-9]* rows' "$FBD_LOG")" -gt "$n0" ] && break
	sleep 0.1
done
[ "$(grep -c 'pruned [0-9]* rows' "$FBD_LOG")" -gt "$n0" ] &&
    ! grep -q 'master warn: prune' "$FBD_LOG"
ok $? "the prune timer's runs succeed from the snapshot"
ctl scale 2 >/dev/null

# 3. A reload reads the disk: the broken file is refused, nothing changes.
out=$(ctl reload 2>&1)
rc=$?
ok $((rc == 0)) "fbeectl reload refuses the broken file"
printf '%s\n' "$out" | grep -q 'financebee.conf:[0-9][0-9]*: '
ok $? "with file:line ($out)"

# 4. The file fixed (the new seed kept): the reload takes both.
cp "$FBD_DIR/good.conf" "$FBD_CONF"
ctl reload >/dev/null 2>&1
ok $? "fbeectl reload takes the fixed file"
wait_log 'reload complete: generation 2' 40
ok $? "the bees are replaced for the new seed"
for _ in $(seq 1 100); do
	[ "$(ids)" != "$ids0" ] && break
	sleep 0.1
done
[ "$(ids)" != "$ids0" ]
ok $? "and now run with its identities"
fbd_check_no_secrets "$FBD_LOG" "$FBD_DIR/setup.log"
