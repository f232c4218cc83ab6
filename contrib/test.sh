#!/bin/sh
# contrib/test.sh: the whole test suite, from a fresh Debian 12 machine, as
# root.  One line per phase with the time it took:
#  1. install what is missing (contrib/deps.sh, with the packaging tools);
#  2. "make distcheck": a release tarball is built, configured with
#     --enable-werror, compiled and run through every test in t/;
#  3. the tarball holds every tracked file (contrib/pkg-test.sh dist);
#  4. the Debian package: built from a fresh clone of HEAD, lintian-clean
#     (deb), installed, smoke-tested as the service would run, purged
#     (smoke);
#  5. the RPM, built from the tarball with Debian's rpm (rpm);
#  6. an ASan+UBSan build runs every test in t/ again; prove's summary
#     closes the output (the phase lines come before it).
# FB_SKIP_PKG=1 skips phases 3-5; so does running it as another user than
# root (they install packages).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
# Every daemon test must run: a PostgreSQL or minicolonies that cannot be
# set up is a failure here, not a skip (t/lib/fbtest.sh).
FB_REQUIRE_ALL=1
export FB_REQUIRE_ALL
cd "$top"
if [ "$(id -u)" -ne 0 ] && [ -z "${FB_SKIP_PKG:-}" ]; then
	echo "contrib/test.sh: not root: the package phases are skipped" >&2
	FB_SKIP_PKG=1
fi
t0=$(date +%s)
tp=$t0
# phase NAME: close the previous phase's line, open this one.
phase() {
	now=$(date +%s)
	[ -z "${cur:-}" ] ||
	    echo "== $cur: done in $((now - tp)) s (total $((now - t0)) s)"
	tp=$now
	cur=$1
	echo "== $1 ..."
}

phase "dependencies"
if [ -n "${FB_SKIP_PKG:-}" ]; then
	sh contrib/deps.sh
else
	sh contrib/deps.sh --packaging
fi

phase "make distcheck (release tarball, -Werror, full suite)"
sh contrib/build.sh build
(cd build && make distcheck DISTCHECK_CONFIGURE_FLAGS=--enable-werror \
    PROVE_FLAGS="${PROVE_FLAGS:-}" >distcheck.log 2>&1) || {
	tail -n 200 build/distcheck.log
	# Last, where a truncated log still shows it: each failed
	# test's line and the diagnostics that follow it.
	echo "== what the failed tests said:"
	grep -A 30 '^#   Failed test' build/distcheck.log | grep '^#' |
	    tail -n 40
	echo "make distcheck failed (full log: build/distcheck.log)" >&2
	exit 1
}
grep -E '^(All tests successful|Files=|Result:)' build/distcheck.log || true

if [ -z "${FB_SKIP_PKG:-}" ]; then
	phase "tarball: every tracked file"
	sh contrib/pkg-test.sh dist
	phase "Debian package: build from a clean clone, lintian"
	sh contrib/pkg-test.sh deb
	phase "Debian package: install, smoke test, purge"
	sh contrib/pkg-test.sh smoke
	phase "RPM: rpmbuild from the tarball, file list"
	sh contrib/pkg-test.sh rpm
fi

phase "ASan + UBSan build"
sh contrib/build.sh build-asan --enable-sanitizers
# The last phase's time is printed before it starts: prove's summary
# closes the output.
phase "ASan + UBSan: full suite"
# t/92's two dependency outages last 150 s each in the distcheck pass; 30 s
# here shows the same behaviour under the sanitizers in a fifth the time.
FB_OUTAGE=${FB_OUTAGE_ASAN:-30} \
FB_BUILDDIR=$top/build-asan FB_SRCDIR=$top FINANCEBEE_SQLDIR=$top/sql \
    exec prove ${PROVE_FLAGS:-} t/
