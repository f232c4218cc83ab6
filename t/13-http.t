#!/bin/sh
# http.c (the HTTP/1.1 client of the RPC) against scripted servers:
# framing, keep-alive, reconnects, malformed replies, timeout, abort.
. "$(dirname "$0")/lib/fbtest.sh"
exec "$FB_BUILDDIR/t/test-http"
