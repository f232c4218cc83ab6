#!/bin/sh
# The systemd unit: made from contrib/financebeed.service.in with the
# configured paths, Type=notify, and "systemd-analyze security" rates it
# 2.0 or less.  The bash completion offers every fbeectl command.
. "$(dirname "$0")/lib/fbtest.sh"

U=$FB_BUILDDIR/contrib/financebeed.service
[ -f "$U" ] || (cd "$FB_BUILDDIR" && make -s contrib/financebeed.service) >/dev/null 2>&1
[ -f "$U" ]
ok $? "the unit is made in the build tree"
unlike "$(cat "$U")" '@[a-z]+@' "no @variable@ left in it"
sbindir=$(sed -n 's/^sbindir = //p' "$FB_BUILDDIR/Makefile")
prefix=$(sed -n 's/^prefix = //p' "$FB_BUILDDIR/Makefile")
sbindir=$(echo "$sbindir" | sed "s|\${exec_prefix}|$prefix|; s|\$(exec_prefix)|$prefix|")
grep -q "^ExecStart=$sbindir/financebeed -c " "$U"
ok $? "ExecStart= runs $sbindir/financebeed"
grep -q '^Type=notify$' "$U"
ok $? "Type=notify"
grep -q '^RuntimeDirectory=financebee$' "$U"
ok $? "RuntimeDirectory=financebee (the admin socket's directory)"

if command -v systemd-analyze >/dev/null 2>&1 &&
    systemd-analyze security --help 2>/dev/null | grep -q -- --offline; then
	T=$(fb_tmpdir)
	cp "$U" "$T/financebeed.service"
	out=$(cd "$T" && systemd-analyze security --offline=true \
	    financebeed.service 2>&1)
	score=$(printf '%s\n' "$out" |
	    sed -n 's/.*Overall exposure level for financebeed.service: \([0-9.]*\).*/\1/p')
	[ -n "$score" ] && awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }'
	ok $? "systemd-analyze security: exposure ${score:-?} <= 2.0"
	[ -n "$score" ] || diag "$out"
else
	ok 0 "# SKIP systemd-analyze security --offline not available"
fi

# Bash completion: every command of fbeectl's table, and --json.
C=$FB_SRCDIR/contrib/fbeectl.bash-completion
BC=/usr/share/bash-completion/bash_completion
if command -v bash >/dev/null 2>&1 && [ -f "$BC" ]; then
	comp() {	# comp WORDS...: what completing the last word offers
		bash -c '. "$1"; . "$2"; shift 2
		    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		    COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
		    _fbeectl fbeectl "${COMP_WORDS[COMP_CWORD]}" \
		        "${COMP_WORDS[COMP_CWORD-1]}"
		    printf "%s\n" "${COMPREPLY[@]}"' sh "$BC" "$C" "$@" | sort |
		    tr '\n' ' '
	}
	cmds=$(sed -n '/^static const struct ctl_cmd ctl_cmds\[\] = {/,/^};/p' \
	    "$FB_SRCDIR/src/fbeectl/fbeectl.c" |
	    sed -n 's/^[[:space:]]*{ "\([a-z]*\)".*/\1/p' | sort | tr '\n' ' ')
	is "$(comp fbeectl '')" "$cmds" "completes every fbeectl command"
	is "$(comp fbeectl -s /run/x.sock st)" "status stop " "after -s SOCKET: commands"
	is "$(comp fbeectl status --)" "--json " "status --json"
	is "$(comp fbeectl key '')" "generate id " "key generate|id"
	is "$(comp fbeectl --v)" "--version " "options"
else
	ok 0 "# SKIP bash-completion not installed"
fi
done_testing
