#!/bin/sh
# The database host's name is looked up within database.connect_timeout
# (store.c hands libpq the addresses as hostaddr): a name from /etc/hosts
# connects over TCP, and under a resolver that never answers (a private
# mount of /etc/resolv.conf naming a UDP sink, with a 30 s resolver
# timeout) the connection fails after the connect timeout, naming the host.
. "$(dirname "$0")/lib/fbtest.sh"
FBD=$FB_BUILDDIR/financebeed
[ -x "$FBD" ] || skip_all "financebeed not built"
FB_PG_OPTIONS="-c listen_addresses=127.0.0.1" pg_start ||
    { echo "Bail out! PostgreSQL did not start"; exit 1; }
plan 5
T=$(fb_tmpdir)
conf() {	# conf FILE CONNINFO
	cat >"$1" <<EOC
database: { conninfo = "$2"; connect_timeout = 1; statement_timeout = 3; };
$(fb_stripe_conf)
EOC
}

conf "$T/local.conf" "host=localhost port=$PGPORT dbname=financebee user=postgres"
out=$(env -u PGHOST "$FBD" -c "$T/local.conf" --migrate 2>&1); rc=$?
is "$rc:$out" "0:schema version 7" "host=localhost: looked up, connected over TCP"
n=$(psql_q -c "SELECT count(*) FROM financebee_schema_version")
is "$n" "$(ls "$FB_SRCDIR"/sql/[0-9][0-9][0-9]_*.sql | wc -l)" "... and migrated that database"

conf "$T/dead.conf" "host=db.invalid port=$PGPORT dbname=financebee"
t0=$(date +%s)
out=$(fb_deaf_dns env -u PGHOST "$FBD" -c "$T/dead.conf" --migrate 2>&1)
rc=$?
t=$(( $(date +%s) - t0 - 3 ))	# less fb_deaf_dns's own 3 s check
if [ "$rc" -eq 77 ]; then
	for _ in 1 2 3; do
		skip "needs root, unshare -m, and lookups that go to /etc/resolv.conf"
	done
	exit 0
fi
is "$rc" 75 "an unanswered lookup is a transient failure (exit 75)" ||
    diag "$out"
like "$out" "resolve db\\.invalid: no answer within 1000 ms" \
    "... that names the host and the timeout"
[ "$t" -lt 10 ]
ok $? "... after ${t}s, not the resolver's 30 s"
