#!/bin/sh
# contrib/loop-tests.sh [-n ROUNDS] [-o DIR] [TEST...]: run tests round
# after round (each test once a round, in order) ROUNDS times (default
# 20), to show that a test does not depend on timing luck before it is
# called stable (HACKING).  Default tests: every daemon test, that is
# every t/*.t that starts financebeed, minicolonies, PostgreSQL or a test
# server of its own.  A line per run goes to DIR/results (default
# t/tmp/loop); a failed run keeps its prove -v output there.  Prints a
# count per test at the end; exits 1 if any run failed.
#
#   make check-programs && FB_BUILDDIR=$PWD sh ../contrib/loop-tests.sh
#   make loop LOOP_ROUNDS=20 LOOP_TESTS="t/62-kill.t t/99-chaos.t"
#
# Set FB_BUILDDIR to an ASan build to loop it under the sanitizers.  As
# .ci/run does, FB_REQUIRE_ALL=1 turns a skipped setup into a failure;
# FB_OUTAGE (t/92) defaults to 20 s here, 150 in the test command.
set -u
FB_SRCDIR=${FB_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
FB_BUILDDIR=${FB_BUILDDIR:-$FB_SRCDIR/build}
FINANCEBEE_SQLDIR=${FINANCEBEE_SQLDIR:-$FB_SRCDIR/sql}
FB_REQUIRE_ALL=${FB_REQUIRE_ALL:-1}
FB_OUTAGE=${FB_OUTAGE:-20}
export FB_SRCDIR FB_BUILDDIR FINANCEBEE_SQLDIR FB_REQUIRE_ALL FB_OUTAGE

rounds=20
out=$FB_SRCDIR/t/tmp/loop
while getopts n:o: c; do
	case $c in
	n)	rounds=$OPTARG ;;
	o)	out=$OPTARG ;;
	*)	echo "usage: loop-tests.sh [-n rounds] [-o dir] [test...]" >&2
		exit 2 ;;
	esac
done
shift $((OPTIND - 1))
case $rounds in
''|*[!0-9]*|0)
	echo "loop-tests: -n wants a positive count" >&2; exit 2 ;;
esac
cd "$FB_SRCDIR" || exit 2
if [ $# -eq 0 ]; then
	# What starts a process of the project or a server: the daemon
	# helpers, minicolonies', PostgreSQL's, the C tests' own servers.
	set -- $(grep -lE 'fbtest-daemon\.sh|20-mclib\.sh|chaos\.sh|pg_start|test-(colonies-client|http|admin)' t/*.t)
fi
[ $# -gt 0 ] || { echo "loop-tests: no tests" >&2; exit 2; }
for t; do
	[ -f "$t" ] || { echo "loop-tests: no such test: $t" >&2; exit 2; }
done
mkdir -p "$out" || exit 2
res=$out/results
echo "# $(date -u '+%F %T') $rounds rounds of $# tests," \
    "$FB_BUILDDIR, $(git rev-parse --short HEAD 2>/dev/null || echo '?')" >>"$res"

r=1
while [ "$r" -le "$rounds" ]; do
	for t in "$@"; do
		n=$(basename "$t" .t)
		s=$(date +%s)
		prove -v "$t" >"$out/r$r-$n.log" 2>&1
		rc=$?
		echo "r$r $n rc=$rc $(($(date +%s) - s))s $(date -u +%T)" >>"$res"
		if [ "$rc" -eq 0 ]; then
			rm -f "$out/r$r-$n.log"
		else
			echo "loop-tests: round $r: $t FAILED: $out/r$r-$n.log"
		fi
	done
	r=$((r + 1))
done

# This run's lines only: those after its header, the last one.
sed -n "$(grep -n '^#' "$res" | tail -1 | cut -d: -f1),\$p" "$res" |
    awk '!/^#/ { runs[$2]++; if ($3 != "rc=0") bad[$2]++; secs[$2] += $4 }
	END {
		for (t in runs) {
			printf "%-26s %3d runs %3d failed %5.1f s each\n", t,
			    runs[t], bad[t], secs[t] / runs[t]
		}
	}' | sort
sed -n "$(grep -n '^#' "$res" | tail -1 | cut -d: -f1),\$p" "$res" |
    grep -qv -e '^#' -e ' rc=0 ' && exit 1
exit 0
