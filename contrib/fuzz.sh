#!/bin/sh
# contrib/fuzz.sh: the libFuzzer targets of t/fuzz ("make fuzz").
#
#   contrib/fuzz.sh build          configure and build them in build-fuzz/
#   contrib/fuzz.sh run NAME [ARG...]   run one (ARGs go to libFuzzer)
#   contrib/fuzz.sh runs           run each (FUZZ_RUNS times) and summarise
#   contrib/fuzz.sh all            build, then runs
#
# NAME is one of: colonies-reply fbj config admin stripe.  Needs clang
# with libFuzzer (Debian 12: clang and libclang-rt-14-dev).  Every object
# is built with -fsanitize=fuzzer-no-link,address,undefined; the targets
# link libFuzzer.  A run starts from the seeds (t/fuzz/corpus/NAME and
# the t/data files named below) and keeps what it finds in
# build-fuzz/corpus/NAME; crashes land in build-fuzz/crashes/.
#
# Environment: FUZZ_CC (default clang), FUZZ_BUILDDIR (default
# build-fuzz), FUZZ_RUNS (executions per target, default 1000000),
# FUZZ_TARGETS (default all five), FUZZ_NICE (default "nice").
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
bdir=${FUZZ_BUILDDIR:-$top/build-fuzz}
case $bdir in /*) ;; *) bdir=$top/$bdir ;; esac
cc=${FUZZ_CC:-clang}
runs=${FUZZ_RUNS:-1000000}
targets=${FUZZ_TARGETS:-colonies-reply fbj config admin stripe}
nice=${FUZZ_NICE-nice}

# The seed directories of a target (read only), then extra seed files.
seeds() {
	case $1 in
	colonies-reply|admin|config) echo "$top/t/fuzz/corpus/$1" ;;
	fbj|stripe) echo "$top/t/fuzz/corpus/$1 $top/t/data/stripe-events" \
	    "$top/t/data/events" ;;
	*) echo "fuzz.sh: unknown target $1" >&2; exit 64 ;;
	esac
}
seedfiles() {
	case $1 in
	config) echo "$top/etc/financebee.conf" ;;
	esac
}
# Inputs up to this size (libFuzzer's default: the largest seed).
maxlen() {
	case $1 in
	admin) echo 16384 ;;
	config) echo 8192 ;;
	*) echo 0 ;;
	esac
}
# The configuration loader frees and allocates large buffers (libconfig's
# scanner, stdio): with ASan's default 256 MB quarantine every load
# faults in fresh pages, five times slower.
asanopts() {
	case $1 in
	config) echo quarantine_size_mb=16 ;;
	*) echo quarantine_size_mb=256 ;;
	esac
}
dict() {
	case $1 in
	fbj|stripe|colonies-reply) echo "$top/t/fuzz/json.dict" ;;
	admin) echo "$top/t/fuzz/admin.dict" ;;
	config) echo "$top/t/fuzz/config.dict" ;;
	esac
}

build() {
	cd "$top"
	[ -x configure ] && [ configure -nt configure.ac ] &&
	    [ Makefile.in -nt Makefile.am ] ||
	    autoreconf -fi >/dev/null 2>&1 || autoreconf -fi
	mkdir -p "$bdir"
	cd "$bdir"
	if [ ! -f Makefile ] || [ Makefile -ot "$top/Makefile.in" ]; then
		CC=$cc "$top/configure" --enable-werror --enable-fuzzers \
		    >/dev/null
	fi
	$nice make -j"$(nproc)" fuzz-programs >/dev/null
}

run() {
	name=$1
	shift
	prog=$bdir/t/fuzz/fuzz-$name
	[ -x "$prog" ] || { echo "fuzz.sh: $prog not built" \
	    "(contrib/fuzz.sh build)" >&2; exit 1; }
	work=$bdir/corpus/$name
	mkdir -p "$work" "$bdir/crashes"
	for f in $(seedfiles "$name"); do
		cp "$f" "$work/seed-$(basename "$f")"
	done
	d=$(dict "$name")
	# shellcheck disable=SC2046
	ml=$(maxlen "$name")
	[ "$ml" -gt 0 ] && set -- -max_len="$ml" "$@"
	ASAN_OPTIONS=$(asanopts "$name")${ASAN_OPTIONS:+:$ASAN_OPTIONS} \
	LSAN_OPTIONS=suppressions=$top/t/fuzz/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS} \
	    $nice "$prog" -dict="$d" -artifact_prefix="$bdir/crashes/$name-" \
	    -print_final_stats=1 "$@" "$work" $(seeds "$name")
}

case ${1:-all} in
build)
	build
	;;
run)
	[ $# -ge 2 ] || { echo "usage: fuzz.sh run NAME [ARG...]" >&2; exit 64; }
	shift
	run "$@"
	;;
all|runs)
	[ "$1" = all ] && build
	mkdir -p "$bdir/logs"
	fail=0
	for t in $targets; do
		log=$bdir/logs/$t.log
		echo "fuzz.sh: $t: $runs runs (log $log)" >&2
		if run "$t" -runs="$runs" >"$log" 2>&1; then
			st=ok
		else
			st=FAILED
			fail=1
		fi
		# libFuzzer's last status line and its final stats.
		done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1)
		execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
		speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
		cov=$(echo "$done_line" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
		ft=$(echo "$done_line" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
		corp=$(echo "$done_line" | sed -n 's/.* corp: \([0-9]*\/[0-9]*[a-zA-Z]*\).*/\1/p')
		printf '%-15s %-6s execs %-9s exec/s %-7s cov %-6s ft %-6s corp %s\n' \
		    "$t" "$st" "${execs:-?}" "${speed:-?}" "${cov:-?}" \
		    "${ft:-?}" "${corp:-?}"
		[ "$st" = ok ] || tail -40 "$log" >&2
	done
	exit $fail
	;;
*)
	echo "usage: fuzz.sh build | run NAME [ARG...] | runs | all" >&2
	exit 64
	;;
esac
