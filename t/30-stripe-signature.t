#!/bin/sh
# Stripe signatures: the shared vectors V1-V4, header variants H1-H10 with
# our policy, tolerance both ways with an injected clock, rolling secrets.
. "$(dirname "$0")/lib/fbtest.sh"
exec "$FB_BUILDDIR/t/test-stripe"
