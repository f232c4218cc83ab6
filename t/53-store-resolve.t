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
is "$rc:$out" "0:schema version 4" "host=localhost: looked up, connected over TCP"
n=$(psql_q -c "SELECT count(*) FROM financebee_schema_version")
is "$n" 4 "... and migrated that database"

if [ "$(id -u)" -ne 0 ] || ! unshare -m true 2>/dev/null; then
	for _ in 1 2 3; do skip "needs root and unshare -m (private mounts)"; done
	exit 0
fi
conf "$T/dead.conf" "host=db.invalid port=$PGPORT dbname=financebee"
printf 'nameserver 127.53.53.53\noptions timeout:30 attempts:1\n' \
    >"$T/resolv.conf"
t0=$(date +%s)
out=$(unshare -m sh -c '
	"$1" udp-sink 60 >"$2/sink.out" &
	sink=$!
	for _ in $(seq 1 50); do
		grep -q ready "$2/sink.out" 2>/dev/null && break; sleep 0.1
	done
	mount --bind "$2/resolv.conf" /etc/resolv.conf &&
	    env -u PGHOST "$3" -c "$2/dead.conf" --migrate 2>&1
	rc=$?
	kill "$sink"
	exit $rc' sh "$FB_BUILDDIR/t/test-http" "$T" "$FBD"); rc=$?
t=$(( $(date +%s) - t0 ))
is "$rc" 75 "an unanswered lookup is a transient failure (exit 75)" ||
    diag "$out"
like "$out" "resolve db\\.invalid: no answer within 1000 ms" \
    "... that names the host and the timeout"
[ "$t" -lt 10 ]
ok $? "... after ${t}s, not the resolver's 30 s"
