#!/bin/sh
# A name lookup is bounded by the connect timeout (getaddrinfo_a in
# http.c), not by the resolver's own timeouts: in a private mount
# namespace, /etc/resolv.conf names a nameserver that never answers (a UDP
# socket test-http binds and never reads), with a 30 s resolver timeout.
. "$(dirname "$0")/lib/fbtest.sh"
[ "$(id -u)" -eq 0 ] || skip_all "needs root for a private mount namespace"
command -v unshare >/dev/null || skip_all "no unshare (util-linux)"
unshare -m true 2>/dev/null || skip_all "unshare -m is not permitted here"
d=$(fb_tmpdir)
printf 'nameserver 127.53.53.53\noptions timeout:30 attempts:1\n' \
    >"$d/resolv.conf"
exec unshare -m sh -c 'mount --bind "$1" /etc/resolv.conf &&
    exec "$2" resolve colonies.invalid' sh "$d/resolv.conf" \
    "$FB_BUILDDIR/t/test-http"
