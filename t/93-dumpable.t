#!/bin/sh
# Secrets in core dumps (issue 13 section 8): master and bees are not
# dumpable (PR_SET_DUMPABLE 0) and their core limit is 0, unless
# debug.dumpable = true.  The daemon runs as root with group nogroup:
# the kernel gives /proc/PID/* of a non-dumpable process to root:root,
# of a dumpable one to the process's own uid:gid, so the group of
# /proc/PID/environ tells which it is without any ptrace.
. "$(dirname "$0")/lib/fbtest.sh"
. "$(dirname "$0")/lib/fbtest-daemon.sh"

[ "$(id -u)" -eq 0 ] || skip_all "needs root (runs the daemon as group nogroup)"
command -v setpriv >/dev/null || skip_all "no setpriv(1)"
NOGROUP=65534
FBD_BEES=2
FBD_WRAP="setpriv --regid $NOGROUP --clear-groups"
fbd_setup || skip_all "cannot set up PostgreSQL + minicolonies"
# setpriv --clear-groups: the files it needs must be readable by group too.
chmod 755 "$FBD_DIR"

# dumpable PID: "no" (root:root /proc files), "yes" (its own gid), "?".
dumpable() {
	case $(stat -c %g "/proc/$1/environ" 2>/dev/null) in
	0) echo no ;;
	$NOGROUP) echo yes ;;
	*) echo "?" ;;
	esac
}
core_limit() {
	awk '/^Max core file size/ { print $5 }' "/proc/$1/limits"
}
check() {	# check EXPECTED LIMIT-REGEX WHAT
	local p
	is "$(dumpable "$FBD_PID")" "$1" "$3: master dumpable: $1"
	for p in $(fbd_bee_pids); do
		is "$(dumpable "$p")" "$1" "$3: bee $p dumpable: $1"
		like "$(core_limit "$p")" "$2" "$3: bee $p core limit"
	done
	like "$(core_limit "$FBD_PID")" "$2" "$3: master core limit"
}

fbd_start
ok $? "financebeed started (as group nogroup)"
fbd_wait_bees 2
ok $? "2 bees running"
is "$(stat -c %g "/proc/$FBD_PID/status")" 0 \
    "a non-dumpable process's /proc files belong to root:root"
check no '^0$' "default"
kill -TERM "$FBD_PID"
fbd_wait_gone 30
is "$FBD_RC" 0 "stopped"

FBD_EXTRA='debug: { dumpable = true; };'
fbd_write_config "$FBD_CONF"
fbd_start
ok $? "financebeed started with debug.dumpable = true"
fbd_wait_bees 2
ok $? "2 bees running"
master_dumpable() { [ "$(dumpable "$FBD_PID")" = yes ]; }
until_ok 10 master_dumpable
check yes '.' "debug.dumpable"
kill -TERM "$FBD_PID"
fbd_wait_gone 30
check_no_sanitizer_reports "$FBD_LOG"
done_testing
