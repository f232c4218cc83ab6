#!/bin/sh
# bench/admin-flood.sh [N]: how long root's "fbeectl status" takes while
# hostile local users hold the admin socket (issue 13, section 7: 150
# idle and 60 flooding clients, root answered within a second).
#
# financebeed with 2 idle bees against minicolonies and a throwaway
# PostgreSQL, its admin socket mode 0666 with ssl-cert as a read-only
# group.  N (default 20) timed "fbeectl status --json" runs as root,
# each from fork to exit: first with no other client, then while user
# nobody (in group ssl-cert) holds 150 idle connections and 60 clients
# pipeline "metrics" without reading their replies (t/test-admin idle
# and pipe, as t/71-admin.t).  Prints min, median, p90 and max in ms, and
# the master's private memory and PSS (/proc/PID/smaps_rollup) before,
# during and after the flood.  Needs root, the user nobody and the group
# ssl-cert, and the test programs:
#
#   make all check-programs && FB_BUILDDIR=$PWD sh ../bench/admin-flood.sh
#
# Run by hand; prints figures, asserts nothing.
FB_SRCDIR=${FB_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
. "$FB_SRCDIR/t/lib/fbtest.sh"
. "$FB_SRCDIR/t/lib/fbtest-daemon.sh"

n=${1:-20}
TA=$FB_BUILDDIR/t/test-admin
CTL=$FB_BUILDDIR/fbeectl
for b in financebeed fbeectl minicolonies t/test-admin; do
	[ -x "$FB_BUILDDIR/$b" ] || {
		echo "admin-flood: build first: make all check-programs ($b)" >&2
		exit 1; }
done
[ "$(id -u)" -eq 0 ] && id nobody >/dev/null 2>&1 &&
    getent group ssl-cert >/dev/null || {
	echo "admin-flood: needs root, user nobody and group ssl-cert" >&2
	exit 1; }

FBD_BEES=2
fbd_setup >/dev/null || { echo "admin-flood: setup failed" >&2; exit 1; }
sed -i "s|mode = \"0600\"; };|mode = \"0666\"; readonly_groups = [ \"ssl-cert\" ]; };|" \
    "$FBD_CONF"
fbd_start && fbd_wait_bees 2 ||
    { echo "admin-flood: financebeed did not start" >&2; exit 1; }

asreader() { setpriv --reuid=nobody --regid=nogroup --groups=ssl-cert -- "$@"; }
smaps() {	# smaps PID: "private KB / PSS KB" from smaps_rollup
	awk '/^Private_(Clean|Dirty):/ { p += $2 } /^Pss:/ { s = $2 }
	    END { printf "private %d kB, PSS %d kB", p, s }' \
	    "/proc/$1/smaps_rollup" 2>/dev/null
}
# timed: N runs of root's status; prints "min median p90 max" in ms.
timed() {
	for _ in $(seq 1 "$n"); do
		t0=$(date +%s%N)
		"$CTL" -s "$FBD_SOCK" status --json >/dev/null 2>&1 ||
		    echo "admin-flood: status failed" >&2
		t1=$(date +%s%N)
		echo $(( (t1 - t0) / 1000 ))
		sleep 0.1
	done | sort -n | awk '{ v[NR] = $1 } END {
	    printf "min %.1f, median %.1f, p90 %.1f, max %.1f ms\n",
	    v[1] / 1000, v[int((NR + 1) / 2)] / 1000,
	    v[int(NR * 0.9 + 0.999)] / 1000, v[NR] / 1000 }'
}

echo "# admin-flood: $n status runs each, $(nproc) CPUs," \
    "load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "master before:     $(smaps "$FBD_PID")"
echo "status, alone:     $(timed)"
d=$FBD_DIR
# Long enough for the timed runs: 0.1 s apart, each well under a second
# unless something is wrong.
dur=$(( n / 2 + 15 ))
asreader "$TA" pipe "$FBD_SOCK" 60 "$dur" metrics >"$d/pipe.out" 2>&1 &
fb_track_pid $!
asreader "$TA" idle "$FBD_SOCK" 150 "$dur" >"$d/idle.out" 2>&1 &
fb_track_pid $!
until_ok 20 sh -c "grep -q connected '$d/pipe.out' &&
    grep -q connected '$d/idle.out'" ||
    { echo "admin-flood: the flooding clients did not connect" >&2; exit 1; }
echo "status, flooded:   $(timed)"
echo "master, flooded:   $(smaps "$FBD_PID")"
grep -q flooders "$d/pipe.out" &&
    echo "# the flood ended before the last timed run: raise its length"
until_ok $(( dur + 10 )) grep -q flooders "$d/pipe.out"
echo "flooders:          $(tail -1 "$d/pipe.out")"
echo "idle clients:      $(tail -1 "$d/idle.out")"
echo "master after:      $(smaps "$FBD_PID")"
kill -TERM "$FBD_PID"
fbd_wait_gone 30
