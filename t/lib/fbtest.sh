# t/lib/fbtest.sh: TAP output and real-server helpers for financebee's tests.
#
#   . "$(dirname "$0")/lib/fbtest.sh"
#
# Environment (set by "make check", contrib/test.sh, or guessed here):
#   FB_BUILDDIR  where financebeed, fbeectl, minicolonies and t/test-* live
#   FB_SRCDIR    the source tree (sql/, etc/, man/, t/)
#   FB_FIXTURES  the fixtures (t/data: copied from the design's shared/)
#
# Every server a test starts is recorded by PID and stopped on exit, even
# when the test fails or is interrupted.

set -u

FB_SRCDIR=${FB_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
FB_BUILDDIR=${FB_BUILDDIR:-$FB_SRCDIR/build}
FINANCEBEE_SQLDIR=${FINANCEBEE_SQLDIR:-$FB_SRCDIR/sql}
FB_FIXTURES=${FB_FIXTURES:-$FB_SRCDIR/t/data}
export FB_SRCDIR FB_BUILDDIR FINANCEBEE_SQLDIR FB_FIXTURES
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
# Sanitizer builds: make any report fatal and visible.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# The tests talk to loopback servers: a proxy of the environment would
# take their requests (libcurl reads these at every request).
unset http_proxy HTTP_PROXY https_proxy HTTPS_PROXY all_proxy ALL_PROXY \
    no_proxy NO_PROXY

_fb_n=0
_fb_failed=0
_fb_planned=
_fb_pids=
_fb_pgdirs=
_fb_tmp=
_fb_seq=0

# until_ok SECONDS COMMAND...: poll every 0.1 s until COMMAND succeeds.
until_ok() {
	_fb_u=$(( $1 * 10 ))
	shift
	while [ "$_fb_u" -gt 0 ]; do
		"$@" && return 0
		sleep 0.1
		_fb_u=$((_fb_u - 1))
	done
	return 1
}

# --- TAP ---------------------------------------------------------------

plan() { _fb_planned=$1; echo "1..$1"; }
skip_all() { echo "1..0 # SKIP $*"; exit 0; }

# fb_setup_failed WHAT: a server a test needs could not be set up.  The
# caller then skips, except where every test must run (FB_REQUIRE_ALL=1,
# set by contrib/test.sh, or CI=true): there it is a failure.
fb_setup_failed() {
	if [ "${FB_REQUIRE_ALL:-0}" = 1 ] || [ "${CI:-}" = true ]; then
		ok 1 "setup: $* (required: FB_REQUIRE_ALL=1 or CI=true)"
		done_testing
		exit 1
	fi
	return 1
}
# skip REASON: one test not run here, and why (TAP "ok N # SKIP").
skip() { _fb_n=$((_fb_n + 1)); echo "ok $_fb_n # SKIP $*"; }
diag() { printf '%s\n' "$@" | sed 's/^/# /' >&2; }
note() { printf '%s\n' "$@" | sed 's/^/# /'; }

ok() {	# ok CONDITION-STATUS DESCRIPTION  (use: cmd; ok $? "desc")
	_fb_n=$((_fb_n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $_fb_n - $2"
	else
		echo "not ok $_fb_n - $2"
		# On stderr too: prove shows it without -v, as Test::More.
		diag "  Failed test $_fb_n - $2"
		_fb_failed=$((_fb_failed + 1))
	fi
	return "$1"
}

is() {	# is GOT EXPECTED DESCRIPTION
	if [ "$1" = "$2" ]; then
		ok 0 "$3"
	else
		ok 1 "$3"
		diag "  got:      '$1'" "  expected: '$2'"
		return 1
	fi
}

like() {	# like GOT EXTENDED-REGEX DESCRIPTION
	if printf '%s' "$1" | grep -Eq -- "$2"; then
		ok 0 "$3"
	else
		ok 1 "$3"
		diag "  got:      '$1'" "  expected to match: /$2/"
		return 1
	fi
}

unlike() {
	if printf '%s' "$1" | grep -Eq -- "$2"; then
		ok 1 "$3"
		diag "  got:      '$1'" "  expected not to match: /$2/"
		return 1
	fi
	ok 0 "$3"
}

done_testing() {
	[ -n "$_fb_planned" ] || echo "1..$_fb_n"
	[ "$_fb_failed" -eq 0 ]
}

# --- scratch space and cleanup ------------------------------------------

# The name is fixed here, in the test's own shell ($$ is the same in its
# subshells), and the directory made on first use: "dir=$(fb_tmpdir)" runs
# in a subshell, which could not tell the cleanup about a random name, and a
# test that only execs a C program never needs the directory at all.
# A directory of that name can only be a leftover of a dead test whose PID
# we now have: remove it, so no stale file (a port file) is read.
_fb_tmp=${TMPDIR:-/tmp}/fbtest.$$
rm -rf "$_fb_tmp"
fb_tmpdir() {
	mkdir -m 755 "$_fb_tmp" 2>/dev/null || [ -d "$_fb_tmp" ] || return 1
	echo "$_fb_tmp"
}

fb_track_pid() { _fb_pids="$_fb_pids $1"; }

fb_cleanup() {
	local p d
	set +e		# a caller under set -e must still clean up everything
	for p in $_fb_pids; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in $_fb_pids; do
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$p" 2>/dev/null
	done
	for d in ${_fb_pgbdirs:-}; do
		pgb_stop_dir "$d"
	done
	for d in $_fb_pgdirs; do
		pg_stop_dir "$d"
	done
	if [ -d "$_fb_tmp" ] && [ -z "${FB_KEEP_TMP:-}" ]; then
		rm -rf "$_fb_tmp"
	fi
}
trap 'fb_cleanup' EXIT
trap 'exit 130' INT TERM

# Run a command as the postgres user when we are root (PostgreSQL refuses
# to run as root), as ourselves otherwise.
_fb_as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# fb_deaf_dns CMD [ARGS...]: run CMD in a private mount namespace whose
# /etc/resolv.conf names a nameserver that never answers (t/test-http
# udp-sink on 127.53.X.Y:53, an address of this shell's own, so that tests
# run side by side never share a sink; resolver timeout 30 s).  Returns 77 when
# that cannot be arranged here (not root, no unshare -m) or when lookups
# do not go to it (getent must still be waiting after 3 s), else CMD's
# status.  Needs root.
fb_deaf_dns() {
	local d rc ns
	[ "$(id -u)" -eq 0 ] && unshare -m true 2>/dev/null || return 77
	# Removed here: a caller's $(...) would not run the cleanup trap.
	d=$(mktemp -d "${TMPDIR:-/tmp}/fbdns.XXXXXX") || return 77
	ns=127.53.$(( ($$ >> 8) % 256 )).$(( $$ % 254 + 1 ))
	printf 'nameserver %s\noptions timeout:30 attempts:1\n' "$ns" \
	    >"$d/resolv.conf"
	unshare -m sh -c '
		d=$1; sink=$2; ns=$3; shift 3
		mount --bind "$d/resolv.conf" /etc/resolv.conf || exit 77
		"$sink" udp-sink 120 "$ns" >"$d/sink.out" 2>&1 &
		spid=$!
		for _ in $(seq 1 50); do
			grep -qx ready "$d/sink.out" && break
			sleep 0.1
		done
		grep -qx ready "$d/sink.out" || { kill $spid; exit 77; }
		timeout 3 getent hosts deaf-dns-check.invalid >/dev/null 2>&1
		[ $? -eq 124 ] || { kill $spid; exit 77; }
		"$@"
		rc=$?
		kill $spid
		exit $rc' sh "$d" "$FB_BUILDDIR/t/test-http" "$ns" "$@"
	rc=$?
	rm -rf "$d"
	return "$rc"
}

# --- PostgreSQL ------------------------------------------------------------

# pg_start: a throwaway cluster on a Unix socket in a temp dir.  Exports
# PGHOST, PGPORT, PGUSER, PGDATABASE (=financebee) for libpq clients.
pg_start() {
	local dir port
	dir=$(mktemp -d "${TMPDIR:-/tmp}/fbpg.XXXXXX")
	chmod 755 "$dir"
	[ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
	_fb_pgdirs="$_fb_pgdirs $dir"
	port=$(( 20000 + ($$ % 20000) ))
	_fb_as_pg "$PGBIN/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 \
	    --no-sync >"$dir/initdb.log" 2>&1 || {
		diag "initdb failed:"; cat "$dir/initdb.log" >&2
		fb_setup_failed "PostgreSQL: initdb failed"; return 1; }
	_fb_pg_ctl_start "$dir" "$port" || {
		diag "pg_ctl start failed:"; cat "$dir/server.log" >&2
		fb_setup_failed "PostgreSQL: pg_ctl start failed"; return 1; }
	export PGHOST=$dir PGPORT=$port PGUSER=postgres PGDATABASE=postgres
	"$PGBIN/psql" -qXAt -c "CREATE DATABASE financebee" >/dev/null || {
		fb_setup_failed "PostgreSQL: CREATE DATABASE failed"; return 1; }
	export PGDATABASE=financebee
	FB_PGDIR=$dir
	export FB_PGDIR
}

_fb_pg_ctl_start() {	# _fb_pg_ctl_start DIR PORT
	_fb_as_pg "$PGBIN/pg_ctl" -D "$1/data" -l "$1/server.log" -w -t 60 \
	    -o "-k $1 -p $2 -c listen_addresses='' -c fsync=off \
	    -c synchronous_commit=off -c full_page_writes=off \
	    -c max_connections=${FB_PG_MAX_CONNECTIONS:-100} \
	    ${FB_PG_OPTIONS:-}" start >/dev/null 2>&1
}

# pg_down / pg_up: stop the cluster of pg_start (a database outage: every
# connection cut, the socket gone) and start it again, same data and port.
pg_down() {
	_fb_as_pg "$PGBIN/pg_ctl" -D "$FB_PGDIR/data" -m fast -w -t 60 stop \
	    >/dev/null 2>&1
}
pg_up() {
	_fb_pg_ctl_start "$FB_PGDIR" "$PGPORT"
}

pg_stop_dir() {
	local pid
	[ -f "$1/data/postmaster.pid" ] || { rm -rf "$1"; return 0; }
	pid=$(head -1 "$1/data/postmaster.pid")
	_fb_as_pg "$PGBIN/pg_ctl" -D "$1/data" -m immediate -w -t 20 stop \
	    >/dev/null 2>&1 || kill -KILL "$pid" 2>/dev/null
	rm -rf "$1"
}

# pgb_start [POOL_SIZE]: PgBouncer in transaction mode in front of the
# cluster of pg_start, on a Unix socket in a temp dir (as the postgres
# user when we are root: pgbouncer refuses to run as root), at most
# POOL_SIZE (default 2) server connections, handed out round robin so
# that one client's consecutive transactions land on different server
# sessions.  Sets PGB_CONNINFO (database financebee) and PGB_DIR (which
# holds pgbouncer.log).  Returns 77 when pgbouncer is not installed.
pgb_start() {
	local dir port
	command -v pgbouncer >/dev/null 2>&1 || return 77
	dir=$(mktemp -d "${TMPDIR:-/tmp}/fbpgb.XXXXXX")
	chmod 755 "$dir"
	port=$(( PGPORT + 1 ))
	printf '"%s" ""\n' "$PGUSER" >"$dir/userlist.txt"
	cat >"$dir/pgbouncer.ini" <<EOF
[databases]
financebee = host=$PGHOST port=$PGPORT dbname=financebee
[pgbouncer]
listen_addr =
listen_port = $port
unix_socket_dir = $dir
auth_type = trust
auth_file = $dir/userlist.txt
pool_mode = transaction
default_pool_size = ${1:-2}
min_pool_size = ${1:-2}
max_client_conn = 200
server_round_robin = 1
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
EOF
	[ "$(id -u)" -eq 0 ] && chown -R postgres: "$dir"
	_fb_pgbdirs="${_fb_pgbdirs:-} $dir"
	_fb_as_pg pgbouncer -d "$dir/pgbouncer.ini" >/dev/null 2>&1 || {
		diag "pgbouncer did not start:"; cat "$dir/pgbouncer.log" >&2
		return 1; }
	for _ in $(seq 1 100); do
		[ -S "$dir/.s.PGSQL.$port" ] && break
		sleep 0.05
	done
	PGB_DIR=$dir
	PGB_CONNINFO="host=$dir port=$port dbname=financebee user=$PGUSER"
	export PGB_DIR PGB_CONNINFO
}

pgb_stop_dir() {
	[ -f "$1/pgbouncer.pid" ] &&
	    kill -TERM "$(cat "$1/pgbouncer.pid")" 2>/dev/null
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		[ -f "$1/pgbouncer.pid" ] || break
		sleep 0.1
	done
	rm -rf "$1"
}

# fb_stripe_conf: the stripe section of every test, benchmark and demo
# configuration: test mode, contrib/gen-events.pl's three prices, the
# webhook secrets in FB_WEBHOOK_SECRETS (separated by spaces; none when
# unset) and signature_tolerance FB_SIG_TOLERANCE when set.
fb_stripe_conf() {
	local s= x
	for x in ${FB_WEBHOOK_SECRETS:-}; do
		s="$s${s:+, }\"$x\""
	done
	cat <<EOF
stripe: {
	livemode = false;
	webhook_secrets = [ ${s:+$s }];
${FB_SIG_TOLERANCE:+	signature_tolerance = $FB_SIG_TOLERANCE;
}	tiers = [ "bronze", "silver", "gold" ];
	prices = (
		{ price = "price_bronze_monthly"; tier = "bronze"; },
		{ price = "price_silver_monthly"; tier = "silver"; },
		{ price = "price_gold_monthly"; tier = "gold"; }
	);
};
EOF
}

psql_q() { "$PGBIN/psql" -qXAt -v ON_ERROR_STOP=1 "$@"; }

# --- minicolonies --------------------------------------------------------

# Well-known test keys (from the protocol's test vectors; never real keys).
FB_SERVER_KEY=0000000000000000000000000000000000000000000000000000000000000001
FB_OWNER_KEY=fcc79953d8a751bf41db661592dc34d30004b1a651ffa0725b03ac227641499d
FB_SUBMITTER_KEY=ddf7f7791208083b6a9ed975a72684f6406a269cfa36f1b1c32045c0a71fff05
FB_COLONY=financebee
export FB_SERVER_KEY FB_OWNER_KEY FB_SUBMITTER_KEY FB_COLONY

# mc_start [extra minicolonies serve options]: start the bundled server on
# a free loopback port; exports FB_COLONIES_URL and MC_PID.
mc_start() {
	local dir keyf portf
	dir=$(fb_tmpdir)
	keyf=$dir/mc-server.key
	_fb_seq=$((_fb_seq + 1))
	portf=$dir/mc.port.$$.$_fb_seq
	umask 077; echo "$FB_SERVER_KEY" >"$keyf"; umask 022
	"$FB_BUILDDIR/minicolonies" serve --listen 127.0.0.1:0 \
	    --server-key-file "$keyf" --port-file "$portf" "$@" \
	    >>"$dir/minicolonies.log" 2>&1 &
	MC_PID=$!
	fb_track_pid "$MC_PID"
	for _ in $(seq 1 100); do
		[ -s "$portf" ] && break
		kill -0 "$MC_PID" 2>/dev/null || break
		sleep 0.05
	done
	[ -s "$portf" ] || { diag "minicolonies did not start:";
		cat "$dir/minicolonies.log" >&2
		fb_setup_failed "minicolonies did not start"; return 1; }
	FB_COLONIES_URL=http://127.0.0.1:$(cat "$portf")/api
	export FB_COLONIES_URL MC_PID
}

# mc: run the minicolonies client CLI against the running server.
mc() { "$FB_BUILDDIR/minicolonies" "$@" --url "$FB_COLONIES_URL"; }

# Fail the test when a daemon log holds a sanitizer report.
check_no_sanitizer_reports() {	# check_no_sanitizer_reports FILE...
	if grep -lE 'ERROR: AddressSanitizer|runtime error:|LeakSanitizer' \
	    "$@" >/dev/null 2>&1; then
		ok 1 "no sanitizer report in $*"
		grep -E -A20 'ERROR: AddressSanitizer|runtime error:' "$@" >&2
		return 1
	fi
	ok 0 "no sanitizer report in logs"
}
