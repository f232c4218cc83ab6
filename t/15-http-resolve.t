#!/bin/sh
# A name lookup is bounded by the connect timeout (libcurl's threaded
# resolver, abandoned with CURLOPT_QUICK_EXIT), not by the resolver's own
# timeouts: under fb_deaf_dns, a nameserver that never answers with a 30 s
# resolver timeout, a request gives up after its 1 s connect timeout.
. "$(dirname "$0")/lib/fbtest.sh"
d=$(fb_tmpdir)
fb_deaf_dns "$FB_BUILDDIR/t/test-http" resolve colonies.invalid >"$d/out"
rc=$?
[ "$rc" -eq 77 ] && skip_all "needs root, unshare -m, and lookups that" \
    "go to /etc/resolv.conf"
cat "$d/out"
exit "$rc"
