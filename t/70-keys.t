#!/bin/sh
# fbeectl key generate / key id: valid keys, ids that match the protocol's
# vectors, bad input rejected without being echoed, keys never on argv.
. "$(dirname "$0")/lib/fbtest.sh"

CTL=$FB_BUILDDIR/fbeectl
[ -x "$CTL" ] || skip_all "fbeectl not built"
dir=$(fb_tmpdir)
HEX64='^[0-9a-f]{64}$'

# --- generate ---------------------------------------------------------------
"$CTL" key generate >"$dir/gen1" 2>"$dir/gen1.err"
is "$?" "0" "key generate exits 0"
is "$(wc -l <"$dir/gen1" | tr -d ' ')" "2" "... printing two lines"
[ ! -s "$dir/gen1.err" ]
ok $? "... and nothing on stderr"
key=$(awk '$1 == "private-key" { print $2 }' "$dir/gen1")
id=$(awk '$1 == "id" { print $2 }' "$dir/gen1")
like "$key" "$HEX64" "private-key line holds 64 hex digits"
like "$id" "$HEX64" "id line holds 64 hex digits"
is "$(printf '%s\n' "$key" | "$CTL" key id)" "$id" \
    "key id of the generated key gives the printed id"
is "$("$CTL" key id <"$dir/gen1")" "$id" \
    "key id reads key generate's output as it is"
"$CTL" key generate >"$dir/gen2"
key2=$(awk '$1 == "private-key" { print $2 }' "$dir/gen2")
[ -n "$key2" ] && [ "$key2" != "$key" ]
ok $? "two generated keys differ"

# --- the protocol's test vectors ----------------------------------------------
n=0; bad=0
jq -r '.keys[] | "\(.prvkey) \(.id)"' "$FB_FIXTURES/colonies-vectors.json" \
    >"$dir/vectors"
while read -r prv want; do
	n=$((n + 1))
	got=$(printf '%s\n' "$prv" | "$CTL" key id)
	if [ "$got" != "$want" ]; then
		bad=$((bad + 1))
		diag "vector $n: got $got, want $want"
	fi
done <"$dir/vectors"
[ "$n" -ge 5 ] && [ "$bad" -eq 0 ]
ok $? "key id matches the ids of all $n vector keys"
# Without a trailing newline, with surrounding blanks and CRLF.
printf '  %s \r\n' 0000000000000000000000000000000000000000000000000000000000000001 |
    "$CTL" key id >"$dir/crlf"
is "$(cat "$dir/crlf")" \
    "2036f5bc759cfb3589fb4e2342bc9b3c843c5ef27dc8ded538de328a7567089b" \
    "blanks and CRLF around the key are ignored"
printf '%s' fcc79953d8a751bf41db661592dc34d30004b1a651ffa0725b03ac227641499d |
    "$CTL" key id >"$dir/nonl"
is "$(cat "$dir/nonl")" \
    "039231c7644e04b6895471dd5335cf332681c54e27f81fac54f9067b3f2c0103" \
    "a key without a trailing newline is read"

# --- bad input: rejected, never echoed ----------------------------------------------
# badkey DESCRIPTION INPUT SECRET-PART: exit 1, an error, SECRET-PART not shown.
badkey() {
	printf '%s\n' "$2" | "$CTL" key id >"$dir/bad.out" 2>"$dir/bad.err"
	rc=$?
	if [ "$rc" -eq 1 ] && [ ! -s "$dir/bad.out" ] &&
	    grep -q 'invalid private key\|no key' "$dir/bad.err" &&
	    ! grep -qi -- "$3" "$dir/bad.out" "$dir/bad.err"; then
		ok 0 "$1"
	else
		ok 1 "$1"
		diag "rc $rc: $(cat "$dir/bad.out" "$dir/bad.err")"
	fi
}
badkey "too short rejected, not echoed" "5ec7e75ec7e75ec7e7" 5ec7e75ec7e7
badkey "63 hex digits rejected, not echoed" \
    "5ec7e7aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" 5ec7e7aaaa
badkey "65 hex digits rejected, not echoed" \
    "5ec7e7aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" 5ec7e7aaaa
badkey "non-hex rejected, not echoed" \
    "5ec7e7zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz" 5ec7e7zzzz
badkey "zero key rejected" \
    "0000000000000000000000000000000000000000000000000000000000000000" 00000000000000
badkey "key equal to the curve order rejected, not echoed" \
    "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141" BAAEDCE6AF48
badkey "key inside a longer line rejected, not echoed" \
    "fcc79953d8a751bf41db661592dc34d30004b1a651ffa0725b03ac227641499d trailing" \
    fcc79953d8a751
badkey "empty input rejected" "" "x-not-there-x"
head -c 10000 /dev/zero | tr '\0' a | "$CTL" key id >"$dir/long.out" 2>&1
is "$?" "1" "oversized input rejected"
unlike "$(cat "$dir/long.out")" 'aaaaaaaa' "... and not echoed"

# --- never on argv ---------------------------------------------------------------
"$CTL" key id fcc79953d8a751bf41db661592dc34d30004b1a651ffa0725b03ac227641499d \
    </dev/null >"$dir/argv.out" 2>&1
is "$?" "64" "a key on the command line is a usage error"
like "$(cat "$dir/argv.out")" 'standard input, never from the command line' \
    "... explaining that keys are read from standard input"
unlike "$(cat "$dir/argv.out")" 'fcc79953d8a751' "... without echoing the key"
"$CTL" key frobnicate </dev/null >/dev/null 2>&1
is "$?" "64" "unknown key subcommand is a usage error"
done_testing
