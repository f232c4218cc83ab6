#!/bin/sh
# The key table, financebee.conf(5) and etc/financebee.conf agree: every
# key is documented and shown in the sample, and nothing else is.
. "$(dirname "$0")/lib/fbtest.sh"

T=$(fb_tmpdir)
MAN=$FB_SRCDIR/man/financebee.conf.5
SAMPLE=$FB_SRCDIR/etc/financebee.conf

"$FB_BUILDDIR/t/test-config" keys | sort >"$T/table"
ok "$(test -s "$T/table"; echo $?)" "test-config keys lists the table"

# The man page: ".It Ic key" inside ".Ss group" (or ".Ss Top level").
awk '
	/^\.Ss / { g = ($2 ~ /^[a-z]+$/ && NF == 2) ? $2 "." : ""; next }
	/^\.Sh / { g = ""; inkeys = ($2 == "DESCRIPTION"); next }
	inkeys && /^\.It Ic / { print g $3 }
' "$MAN" | sort >"$T/man"
# The sample: "key =" at the top level or inside "group: {".
awk '
	{ sub(/#.*/, "") }
	/^[ \t]*[a-z_]+[ \t]*:[ \t]*\{/ { g = $1; sub(/:.*/, "", g); g = g "."; next }
	/^[ \t]*\};/ { g = ""; next }
	/^[ \t]*[a-z_]+[ \t]*=/ { k = $1; sub(/=.*/, "", k); print g k }
' "$SAMPLE" | sort -u >"$T/sample"

missing=$(comm -23 "$T/table" "$T/man" | tr '\n' ' ')
is "$missing" "" "every key of the table is in financebee.conf(5)"
extra=$(comm -13 "$T/table" "$T/man" | tr '\n' ' ')
is "$extra" "" "every key in financebee.conf(5) is in the table"
missing=$(comm -23 "$T/table" "$T/sample" | tr '\n' ' ')
is "$missing" "" "every key of the table is in etc/financebee.conf"
extra=$(comm -13 "$T/table" "$T/sample" | tr '\n' ' ')
is "$extra" "" "every key in etc/financebee.conf is in the table"

# Each documented key carries its default.
nodef=$(awk '
	/^\.Ss / { g = ($2 ~ /^[a-z]+$/ && NF == 2) ? $2 "." : ""; next }
	/^\.Sh / { g = ""; next }
	/^\.It Ic / { if (k != "" && !d) print k; k = g $3; d = 0; next }
	/^\.El/ { if (k != "" && !d) print k; k = ""; next }
	/[Dd]efault/ { d = 1 }
' "$MAN" | tr '\n' ' ')
is "$nodef" "" "every key in financebee.conf(5) states its default"

if command -v mandoc >/dev/null 2>&1; then
	lint=$(mandoc -Tlint -W warning "$MAN" 2>&1)
	is "$lint" "" "mandoc -Tlint -W warning financebee.conf.5 is clean"
else
	ok 1 "mandoc is installed"
fi
done_testing
