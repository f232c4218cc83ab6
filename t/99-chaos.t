#!/bin/sh
# The chaos soak of contrib/chaos.sh (issue 13 section 10), short: a few
# thousand events instead of 20,000, PostgreSQL down for 25 s instead of
# 150; every fault of the long soak still happens (kill -9 storm, pause,
# resume and scale churn, admin clients, a PostgreSQL restart, a bee
# stopped past its lease, the outage, a ColonyOS restart that forgets the
# executors), and every check of it is one test here.  Under the
# sanitizers everything is several times slower: fewer events there.
FB_SRCDIR=${FB_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
FB_BUILDDIR=${FB_BUILDDIR:-$FB_SRCDIR/build}
if [ "$("$FB_BUILDDIR/t/test-arena" -a 2>/dev/null)" = asan ]; then
	FB_CHAOS_EVENTS=${FB_CHAOS_EVENTS:-1200}
	FB_CHAOS_OUTAGE=${FB_CHAOS_OUTAGE:-15}
	FB_CHAOS_BACKLOG=${FB_CHAOS_BACKLOG:-200}
else
	FB_CHAOS_EVENTS=${FB_CHAOS_EVENTS:-3000}
	FB_CHAOS_OUTAGE=${FB_CHAOS_OUTAGE:-25}
fi
FB_CHAOS_TEST=1
export FB_SRCDIR FB_BUILDDIR FB_CHAOS_EVENTS FB_CHAOS_OUTAGE FB_CHAOS_TEST
[ -n "${FB_CHAOS_BACKLOG:-}" ] && export FB_CHAOS_BACKLOG
exec sh "$FB_SRCDIR/contrib/chaos.sh"
