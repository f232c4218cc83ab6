#!/bin/sh
# The libFuzzer targets of t/fuzz, built here with t/fuzz/driver.c (any
# compiler, no clang needed), replay their seed corpora: every seed, and
# every input a fuzzing run once found a bug with (kept in
# t/fuzz/corpus/NAME), passes the target's checks.  "make fuzz" runs the
# same targets under libFuzzer (contrib/fuzz.sh).
. "$(dirname "$0")/lib/fbtest.sh"

plan 10
D=$FB_SRCDIR/t
for t in colonies-reply:"$D/fuzz/corpus/colonies-reply" \
    fbj:"$D/fuzz/corpus/fbj $D/data/stripe-events $D/data/events" \
    config:"$D/fuzz/corpus/config $FB_SRCDIR/etc/financebee.conf" \
    admin:"$D/fuzz/corpus/admin" \
    stripe:"$D/fuzz/corpus/stripe $D/data/stripe-events $D/data/events"; do
	name=${t%%:*}
	# shellcheck disable=SC2086
	out=$("$FB_BUILDDIR/t/fuzz/fuzz-$name" ${t#*:} 2>&1)
	rc=$?
	is "$rc" 0 "fuzz-$name: every seed passes the target's checks"
	[ "$rc" -eq 0 ] || diag "$out"
	n=$(printf '%s\n' "$out" | sed -n 's/.*: \([0-9]*\) inputs$/\1/p')
	[ "${n:-0}" -ge 3 ]
	ok $? "fuzz-$name: ran ${n:-no} inputs"
done
