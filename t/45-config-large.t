#!/bin/sh
# financebeed -t on lists of 100,000 entries: duplicates and cross-list
# rules are checked in O(n log n) (a pairwise scan took ~25 s), and a
# duplicate far down the list is still found and named.
. "$(dirname "$0")/lib/fbtest.sh"

plan 8
T=$(fb_tmpdir)
N=100000

# gen FILE [EXTRA-TIER] [EXTRA-PRICE]: N tiers, N prices mapped onto them.
gen() {
	{
		# -t also derives every slot's executor key: a seed for it.
		echo "colonies: { executor_seed_file = \"$T/seed\"; };"
		echo 'stripe: { tiers = ['
		seq 1 $N | sed 's/.*/"t&",/'
		echo "${2:-\"last\"} ];"
		echo 'prices = ('
		seq 1 $N | sed 's/.*/{price="p&";tier="t&";},/' | tr -d '\n'
		echo "${3:-{ price = \"pz\"; tier = \"last\"; \}} ); };"
	} >"$1"
	chmod 600 "$1"
}

# run FILE: financebeed -t; sets out, rc and ms, the CPU time it used
# (user + system: the wall clock of a loaded machine would measure the load).
run() {
	out=$(perl -e 'open(STDERR, ">&STDOUT");
	    my $rc = system(@ARGV) >> 8; my @t = times;
	    printf STDERR "%d %d\n", $rc, ($t[2] + $t[3]) * 1000;' \
	    "$FB_BUILDDIR/financebeed" -t -c "$1" 2>&1)
	set -- $(printf '%s\n' "$out" | tail -1)
	rc=$1 ms=$2
	out=$(printf '%s\n' "$out" | sed '$d')
}

(umask 077; printf '%064d\n' 45 >"$T/seed")
gen "$T/good.conf"
run "$T/good.conf"
is "$rc" 0 "$N tiers and $N prices: configuration OK"
note "financebeed -t took $ms ms of CPU"
# Well under a second of CPU (~0.6 s, most of it libconfig's parse); 3 s
# leaves room for sanitizers and is still far below the quadratic scan.
[ "$ms" -lt 3000 ]
ok $? "checked in under 3 s of CPU ($ms ms)"

gen "$T/duptier.conf" '"t1"'
run "$T/duptier.conf"
is "$rc" 78 "a duplicate tier at the end: exit 78"
like "$out" "stripe\.tiers\[$N\]: duplicate \"t1\"" \
    "the error names the later entry"
[ "$ms" -lt 3000 ]
ok $? "found in under 3 s of CPU ($ms ms)"

gen "$T/dupprice.conf" '"last"' '{ price = "p7"; tier = "last"; }'
run "$T/dupprice.conf"
is "$rc" 78 "a price mapped twice, at the end: exit 78"
like "$out" "stripe\.prices\[$N\]: price \"p7\" is mapped twice" \
    "the error names the later mapping"

gen "$T/notier.conf" '"last"' '{ price = "pz"; tier = "nope"; }'
run "$T/notier.conf"
like "$out" "stripe\.prices\[$N\]: tier \"nope\" is not in stripe\.tiers" \
    "a price of an unknown tier, at the end, is named"
