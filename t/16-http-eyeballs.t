#!/bin/sh
# Happy eyeballs: a name with a dead IPv6 address (a black hole: packets
# to it vanish, connect() would wait for the whole connect timeout) and a
# working IPv4 one connects over IPv4 at once.  Set up in private network
# and mount namespaces: a veth pair whose far end never answers, a
# permanent neighbour entry for the dead address, and /etc/hosts naming
# both addresses.  Skipped only where that cannot be built (not root, no
# unshare, no ip, no veth), which is said.
. "$(dirname "$0")/lib/fbtest.sh"
[ "$(id -u)" -eq 0 ] || skip_all "needs root (network namespace)"
command -v ip >/dev/null || skip_all "no ip command"
unshare -n -m true 2>/dev/null || skip_all "unshare -n -m refused here"
unshare -n sh -c 'ip link add fbv0 type veth peer name fbv1' 2>/dev/null ||
    skip_all "no veth devices here (kernel without veth)"
d=$(fb_tmpdir)
printf '127.0.0.1 localhost\n2001:db8:2::1 dual.fbtest\n127.0.0.1 dual.fbtest\n' \
    >"$d/hosts"
unshare -n -m sh -c '
	set -e
	ip link set lo up
	ip link add fbv0 type veth peer name fbv1
	ip link set fbv0 up
	ip link set fbv1 up
	ip -6 addr add 2001:db8:1::2/64 dev fbv0 nodad
	ip -6 route add 2001:db8:2::/48 dev fbv0
	ip -6 neigh add 2001:db8:2::1 lladdr 02:00:5e:00:53:01 dev fbv0 \
	    nud permanent
	mount --bind "$1/hosts" /etc/hosts
	set +e
	"$2" eyeballs dual.fbtest 2001:db8:2::1' sh "$d" \
    "$FB_BUILDDIR/t/test-http" >"$d/out" 2>"$d/err"
rc=$?
cat "$d/out"
[ -s "$d/err" ] && sed 's/^/# /' "$d/err"
exit "$rc"
