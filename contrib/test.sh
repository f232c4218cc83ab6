#!/bin/sh
# contrib/test.sh: the whole test suite, from a fresh Debian 12 machine.
#  1. install what is missing (contrib/deps.sh);
#  2. "make distcheck": a release tarball is built, configured with
#     --enable-werror, compiled and run through every test in t/;
#  3. an ASan+UBSan build runs every test in t/ again; prove's summary
#     closes the output.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
# Every daemon test must run: a PostgreSQL or minicolonies that cannot be
# set up is a failure here, not a skip (t/lib/fbtest.sh).
FB_REQUIRE_ALL=1
export FB_REQUIRE_ALL
cd "$top"
sh contrib/deps.sh

echo "== make distcheck (release tarball, -Werror, full suite)"
sh contrib/build.sh build
(cd build && make distcheck DISTCHECK_CONFIGURE_FLAGS=--enable-werror \
    PROVE_FLAGS="${PROVE_FLAGS:-}" >distcheck.log 2>&1) || {
	tail -n 200 build/distcheck.log
	echo "make distcheck failed (full log: build/distcheck.log)" >&2
	exit 1
}
grep -E '^(All tests successful|Files=|Result:)' build/distcheck.log || true

echo "== ASan + UBSan build, full suite"
sh contrib/build.sh build-asan --enable-sanitizers
FB_BUILDDIR=$top/build-asan FB_SRCDIR=$top FINANCEBEE_SQLDIR=$top/sql \
    exec prove ${PROVE_FLAGS:-} t/
