#!/bin/sh
# Both programs: -h/--help and -V/--version print on standard output and
# exit 0; a usage error exits 64 (EX_USAGE) with a hint on standard error.
. "$(dirname "$0")/lib/fbtest.sh"

T=$(fb_tmpdir)
ver=$(sed -n 's/^AC_INIT(\[financebee\], \[\([^]]*\)\].*/\1/p' \
    "$FB_SRCDIR/configure.ac")
[ -n "$ver" ]
ok $? "version found in configure.ac ($ver)"

for prog in financebeed fbeectl; do
	P=$FB_BUILDDIR/$prog
	for o in -h --help; do
		"$P" "$o" >"$T/out" 2>"$T/err"
		is "$?" 0 "$prog $o: exit 0"
		like "$(head -1 "$T/out")" "^usage: $prog " "$prog $o: usage on stdout"
		[ ! -s "$T/err" ]
		ok $? "$prog $o: nothing on stderr"
	done
	for o in -V --version; do
		"$P" "$o" >"$T/out" 2>"$T/err"
		is "$?" 0 "$prog $o: exit 0"
		like "$(cat "$T/out")" "^$prog $ver( |\$)" "$prog $o: version on stdout"
	done
	"$P" --no-such-option >"$T/out" 2>"$T/err"
	is "$?" 64 "$prog --no-such-option: exit 64"
	[ ! -s "$T/out" ] && [ -s "$T/err" ]
	ok $? "$prog --no-such-option: usage on stderr only"
done

"$FB_BUILDDIR/fbeectl" frobnicate >"$T/out" 2>"$T/err"
is "$?" 64 "fbeectl unknown command: exit 64"
like "$(cat "$T/err")" "unknown command: frobnicate \(fbeectl --help lists the commands\)" \
    "fbeectl unknown command: a hint on stderr"
[ ! -s "$T/out" ]
ok $? "fbeectl unknown command: nothing on stdout"
done_testing
