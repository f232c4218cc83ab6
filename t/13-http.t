#!/bin/sh
# http.c (the libcurl transport of the RPC) against scripted servers:
# framing, keep-alive, reconnects, malformed replies, timeout, abort;
# hostile servers (trickle, endless 1xx, headers, bodies), the reply cap,
# memory given back after a large reply, proxies and NO_PROXY.
. "$(dirname "$0")/lib/fbtest.sh"
exec "$FB_BUILDDIR/t/test-http"
