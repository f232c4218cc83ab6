#!/bin/sh
# Every man page is clean under mandoc -Tlint; fbeectl(8) documents every
# command of the admin socket and every exit status of fbeectl.
. "$(dirname "$0")/lib/fbtest.sh"

command -v mandoc >/dev/null 2>&1 || skip_all "mandoc not installed"
MAN=$FB_SRCDIR/man

pages=$(ls "$MAN"/*.[58] 2>/dev/null)
[ -n "$pages" ]
ok $? "man pages exist in man/"
for p in $pages; do
	name=$(basename "$p")
	out=$(mandoc -Tlint -W warning "$p" 2>&1)
	rc=$?
	if [ "$rc" -eq 0 ] && [ -z "$out" ]; then
		ok 0 "$name: mandoc -Tlint -W warning is silent"
	else
		ok 1 "$name: mandoc -Tlint -W warning is silent"
		diag "$out"
	fi
	dd=$(sed -n 's/^\.Dd //p' "$p")
	like "$dd" '^[A-Z][a-z]+ [0-9]{1,2}, [0-9]{4}$' "$name: .Dd is a real date ($dd)"
	secs="NAME DESCRIPTION"
	case $name in *.8) secs="NAME SYNOPSIS DESCRIPTION" ;; esac
	for sec in $secs; do
		grep -q "^\.Sh $sec\$" "$p"
		ok $? "$name: has a $sec section"
	done
done

F=$MAN/fbeectl.8
for sec in COMMANDS PROTOCOL "EXIT STATUS" ENVIRONMENT FILES EXAMPLES "SEE ALSO"; do
	grep -q "^\.Sh $sec\$" "$F"
	ok $? "fbeectl.8: has a $sec section"
done

# Commands: the admin socket's table and fbeectl's own.
cmds=$(sed -n '/^static const struct admin_cmd control_cmds\[\] = {/,/^};/p' \
    "$FB_SRCDIR/src/financebeed/control.c" | sed -n 's/^[[:space:]]*{ "\([a-z]*\)".*/\1/p')
ctl=$(sed -n '/^static const struct ctl_cmd ctl_cmds\[\] = {/,/^};/p' \
    "$FB_SRCDIR/src/fbeectl/fbeectl.c" | sed -n 's/^[[:space:]]*{ "\([a-z]*\)".*/\1/p')
[ "$(echo "$cmds" | wc -w)" -ge 9 ] && [ "$(echo "$ctl" | wc -w)" -ge 10 ]
ok $? "command tables found in control.c and fbeectl.c"
missing=
for c in $cmds $ctl; do
	grep -q "^\.It Cm $c\( \|\$\)" "$F" || missing="$missing $c"
done
is "$missing" "" "fbeectl.8 documents every command"

# Exit statuses: every CTL_EX_* value has an entry under EXIT STATUS.
codes=$(sed -n 's/^#define CTL_EX_[A-Z]*[[:space:]]*\([0-9]*\).*/\1/p' \
    "$FB_SRCDIR/src/fbeectl/fbeectl.c")
[ "$(echo "$codes" | wc -w)" -ge 5 ]
ok $? "exit statuses found in fbeectl.c"
exits=$(sed -n '/^\.Sh EXIT STATUS$/,/^\.Sh /p' "$F" | sed -n 's/^\.It \([0-9]*\)$/\1/p')
missing=
for c in $codes; do
	echo "$exits" | grep -qx "$c" || missing="$missing $c"
done
is "$missing" "" "fbeectl.8 documents every exit status"

# The wire format's three reply kinds.
for w in OK ERR DENIED; do
	grep -q "^$w nbytes" "$F"
	ok $? "fbeectl.8: reply kind $w documented"
done

# financebeed.8 describes every table the migrations create.
D=$MAN/financebeed.8
tables=$(sed -n 's/^[[:space:]]*"\{0,1\}CREATE TABLE \(IF NOT EXISTS \)\{0,1\}\([a-z_]*\).*/\2/p' \
    "$FB_SRCDIR"/sql/*.sql "$FB_SRCDIR/src/financebeed/store.c" | sort -u)
[ "$(echo "$tables" | wc -w)" -ge 6 ]
ok $? "tables found in sql/ and store.c: $(echo $tables)"
missing=
for t in $tables; do
	sed -n '/^\.Ss The database$/,/^\.S[sh] /p' "$D" |
	    grep -q "^\.It Li $t\$" || missing="$missing $t"
done
is "$missing" "" "financebeed.8 (The database) describes every table"
done_testing
