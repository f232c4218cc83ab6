# t/lib/fbtest-daemon.sh: run a whole financebeed against a throwaway
# PostgreSQL and minicolonies, feed it events, and check the outcome.
#
#   . "$(dirname "$0")/lib/fbtest.sh"
#   . "$(dirname "$0")/lib/fbtest-daemon.sh"
#   fbd_setup || skip_all "..."      # PG, minicolonies, colony, schema, config
#   fbd_start                        # financebeed in the background
#   fbd_submit_fixtures; fbd_submit_generated 50
#   fbd_wait_closed 60 && fbd_check_exactly_once
#
# Variables after fbd_setup: FBD_DIR (scratch), FBD_CONF, FBD_LOG,
# FBD_SOCK, FBD_SEED (executor seed file), FBD_SUBMITTED (count).
# FBD_PID after fbd_start.  Settings read by fbd_write_config (set them
# before calling it): FBD_BEES, FBD_LEASE, FBD_TASK_TIMEOUT, FBD_EXTRA,
# FBD_DB_EXTRA (inside the database section), FBD_HOST
# (colonies.executor_host; default "-", no host part), FBD_METRICS (more
# settings of the metrics group).
# FBD_MAXRETRIES: the maxretries of every process submitted (50).

FBD_SUBMITTED=0
FBD_BEES=${FBD_BEES:-3}
FBD_LEASE=${FBD_LEASE:-5}
FBD_TASK_TIMEOUT=${FBD_TASK_TIMEOUT:-3}
FBD_CONNINFO=${FBD_CONNINFO:-}
FBD_EXTRA=${FBD_EXTRA:-}
FBD_DB_EXTRA=${FBD_DB_EXTRA:-}
FBD_HOST=${FBD_HOST:--}		# "-": executors financebee-N
FBD_MAXRETRIES=${FBD_MAXRETRIES:-50}

fbd_write_config() {	# fbd_write_config FILE
	cat >"$1" <<EOF
bees = $FBD_BEES;
colonies: {
	url = "$FB_COLONIES_URL";
	colony = "$FB_COLONY";
	executor_type = "financebee";
	executor_prefix = "financebee";
	executor_host = "$FBD_HOST";
	executor_seed_file = "$FBD_SEED";
	owner_key_file = "$FBD_DIR/owner.key";
	poll_timeout = 1;
	connect_timeout = 2;
	request_timeout = 5;
	lease = $FBD_LEASE;
};
database: {
	conninfo = "$FBD_CONNINFO";
	connect_timeout = 2;
	statement_timeout = 3;
	prune_interval = 0;
	$FBD_DB_EXTRA
};
$(fb_stripe_conf)
supervision: {
	respawn_min = 0.1;
	respawn_max = 2;
	healthy_after = 3;
	crash_window = 10;
	crash_limit = 4;
	shutdown_timeout = 10;
	task_timeout = $FBD_TASK_TIMEOUT;
	heartbeat_timeout = 4;
};
admin: { socket = "$FBD_SOCK"; mode = "0600"; };
log: { level = "info"; target = "stderr"; };
metrics: { interval = 0.5; ${FBD_METRICS:-} };
$FBD_EXTRA
EOF
	chmod 600 "$1"
}

fbd_setup() {
	fb_tmpdir >/dev/null	# in this shell, so that cleanup removes it
	FBD_DIR=$(fb_tmpdir)
	FBD_CONF=$FBD_DIR/financebee.conf
	FBD_LOG=$FBD_DIR/financebeed.log
	FBD_SOCK=$FBD_DIR/financebeed.sock
	FBD_SEED=$FBD_DIR/executor.seed
	export FBD_DIR FBD_CONF FBD_LOG FBD_SOCK FBD_SEED
	pg_start || return 1
	mc_start || return 1
	(
		umask 077
		echo "$FB_SERVER_KEY" >"$FBD_DIR/server.key"
		echo "$FB_OWNER_KEY" >"$FBD_DIR/owner.key"
		echo "$FB_SUBMITTER_KEY" >"$FBD_DIR/submitter.key"
		od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$FBD_SEED"
		echo >>"$FBD_SEED"
	)
	fbd_write_config "$FBD_CONF"
	mc setup --colony "$FB_COLONY" --server-key-file "$FBD_DIR/server.key" \
	    --owner-key-file "$FBD_DIR/owner.key" \
	    --submitter-key-file "$FBD_DIR/submitter.key" \
	    >"$FBD_DIR/setup.log" 2>&1 || {
		diag "minicolonies setup failed:"; cat "$FBD_DIR/setup.log" >&2
		fb_setup_failed "minicolonies setup failed"; return 1; }
	"$FB_BUILDDIR/financebeed" -c "$FBD_CONF" --migrate \
	    >"$FBD_DIR/migrate.log" 2>&1 || {
		diag "migrate failed:"; cat "$FBD_DIR/migrate.log" >&2
		fb_setup_failed "financebeed --migrate failed"; return 1; }
}

# fbd_start [financebeed options]: the daemon in the background, logging to
# $FBD_LOG; waits until its admin socket exists.
# FBD_WRAP: a command to run it under (e.g. setpriv ...), exec'ing it.
fbd_start() {
	${FBD_WRAP:-} "$FB_BUILDDIR/financebeed" -c "$FBD_CONF" "$@" \
	    >>"$FBD_LOG" 2>&1 &
	FBD_PID=$!
	fb_track_pid "$FBD_PID"
	export FBD_PID
	for _ in $(seq 1 100); do
		[ -S "$FBD_SOCK" ] && return 0
		kill -0 "$FBD_PID" 2>/dev/null || break
		sleep 0.1
	done
	diag "financebeed did not start:"; tail -20 "$FBD_LOG" >&2
	return 1
}

# fbd_wait_gone [SECONDS]: wait for the daemon to exit; sets FBD_RC.
fbd_wait_gone() {
	local i
	for i in $(seq 1 $(( ${1:-30} * 10 ))); do
		kill -0 "$FBD_PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$FBD_PID" 2>/dev/null; then
		FBD_RC=timeout
		return 1
	fi
	wait "$FBD_PID" 2>/dev/null
	FBD_RC=$?
	return 0
}

# The bees' pids: children of the daemon.
fbd_bee_pids() {
	pgrep -P "$FBD_PID" -f -- '^financebeed: bee ' 2>/dev/null
}

# fbd_wait_bees N [SECONDS]: until N bees run.
fbd_wait_bees() {
	local n
	for _ in $(seq 1 $(( ${2:-20} * 10 ))); do
		n=$(fbd_bee_pids | wc -l)
		[ "$n" -eq "$1" ] && return 0
		sleep 0.1
	done
	diag "expected $1 bees, have $n"
	return 1
}

_fbd_submit() {	# _fbd_submit ARGS...: submit, count the ids printed
	local out n
	out=$(mc submit --key-file "$FBD_DIR/submitter.key" \
	    --colony "$FB_COLONY" --type financebee \
	    --funcname validate_revenue --maxexectime "$FBD_LEASE" \
	    --maxretries "$FBD_MAXRETRIES" "$@") || return 1
	n=$(printf '%s\n' "$out" | grep -c '^[0-9a-f]\{64\}$')
	FBD_SUBMITTED=$((FBD_SUBMITTED + n))
	printf '%s\n' "$out" | grep '^[0-9a-f]\{64\}$' >"$FBD_DIR/last.ids"
	cat "$FBD_DIR/last.ids" >>"$FBD_DIR/all.ids"
}

# fbd_count_state STATE [IDFILE]: processes of the last submission (or of
# IDFILE) now in STATE (0 waiting, 1 running, 2 successful, 3 failed).
fbd_count_state() {
	mc dump --colony "$FB_COLONY" | jq -r --argjson s "$1" \
	    'select(.state == $s) | .processid' |
	    grep -cFx -f "${2:-$FBD_DIR/last.ids}"
}

# fbd_count_closed: processes of every submission so far now closed
# (successful or failed).
fbd_count_closed() {
	mc dump --colony "$FB_COLONY" | jq -r \
	    'select(.state == 2 or .state == 3) | .processid' |
	    grep -cFx -f "$FBD_DIR/all.ids"
}

# The events of the shared fixtures that must end failed, one a line:
# pinned here, not taken from a run.  evt_T8nSaZqtPudigUMqnnbY4D4v is a
# live-mode event (the test configuration accepts test mode only).  Every
# other fixture, and every generated event, must end successful.
FBD_FIXTURE_FAILS="evt_T8nSaZqtPudigUMqnnbY4D4v"

# Every shared Stripe fixture, once.
fbd_submit_fixtures() {
	_fbd_submit "$FB_FIXTURES"/stripe-events/*.json || return 1
	printf '%s\n' $FBD_FIXTURE_FAILS >>"$FBD_DIR/expect-failed"
}

# fbd_submit_generated USERS [SEED]: lifecycle events from
# contrib/gen-events.pl (shuffled), their users created first.
fbd_submit_generated() {
	local f=$FBD_DIR/gen.$2.jsonl u=$FBD_DIR/users.$2.txt
	perl "$FB_SRCDIR/contrib/gen-events.pl" -n "$1" -s "${2:-1}" -u "$u" \
	    ${FBD_GEN_T0:+-t "$FBD_GEN_T0"} -S >"$f" || return 1
	sed "s/.*/INSERT INTO user_profiles (id) VALUES ('&') ON CONFLICT DO NOTHING;/" \
	    "$u" | psql_q >/dev/null || return 1
	_fbd_submit --stdin-lines <"$f"
}

# fbd_wait_closed SECONDS: until every submitted process is final.
fbd_wait_closed() {
	local out
	out=$(mc wait --colony "$FB_COLONY" --count "$FBD_SUBMITTED" \
	    --timeout "$1" 2>&1)
	FBD_WAIT=$out
	printf '%s\n' "$out" | grep -q 'waiting=0 running=0'
}

# fbd_check_exactly_once: compare minicolonies' processes with the database.
fbd_check_exactly_once() {
	local dump=$FBD_DIR/dump.jsonl n ok_n bad db dup failed exp
	mc dump --colony "$FB_COLONY" --full >"$dump" || return 1
	n=$(grep -c . "$dump")
	is "$n" "$FBD_SUBMITTED" "minicolonies holds every submitted process"
	bad=$(jq -r 'select(.state != 2 and .state != 3) | .processid' "$dump" |
	    wc -l)
	# Failed: exactly the expected events (FBD_FIXTURE_FAILS once per
	# fixture run, and whatever a test adds to $FBD_DIR/expect-failed);
	# a generated lifecycle never fails.
	failed=$(jq -r 'select(.state == 3) | (.spec.args[0] | fromjson? |
	    .id) // "?"' "$dump" | sort | tr '\n' ' ')
	exp=$(sort "$FBD_DIR/expect-failed" 2>/dev/null | tr '\n' ' ')
	is "open=$bad failed=[$failed]" "open=0 failed=[$exp]" \
	    "every process is closed; failed exactly as expected"
	# Event ids of the processes closed successful, from their out[].
	jq -r 'select(.state == 2) | .out[0].event' "$dump" | sort >"$FBD_DIR/closed.ev"
	ok_n=$(sort -u "$FBD_DIR/closed.ev" | grep -vc '^-$')
	db=$(psql_q -c "SELECT count(*) FROM processed_webhooks")
	is "$db" "$ok_n" "processed_webhooks has one row per successful event"
	dup=$(psql_q -c "SELECT count(*) FROM (SELECT kind, stripe_object_id
	    FROM revenue_ledger GROUP BY 1, 2 HAVING count(*) > 1) d")
	is "$dup" 0 "no ledger entry twice"
	# An event applied twice would show "applied" on two processes.
	dup=$(jq -r 'select(.state == 2 and .out[0].outcome == "applied") |
	    .out[0].event' "$dump" | sort | uniq -d | wc -l)
	is "$dup" 0 "no event applied by two processes"
}

# fbd_fingerprint: md5 of the business state (user_profiles,
# subscriptions, revenue_ledger, the set of event markers), rows sorted,
# serial ids and now() timestamps left out; "fbd_fingerprint m" for the
# event markers alone (u, s, l for the other tables).  The markers are the
# same whatever order the events came in; the business rows too, except
# where two events of one object carry the same created second (the last
# delivered wins: financebeed(8)), so a test pins only what is fixed.
fbd_fingerprint() {
	PGTZ=UTC psql_q -c "SELECT md5(string_agg(r, E'\n' ORDER BY r)) FROM (
	    SELECT r FROM (
	    SELECT 'u ' || (to_jsonb(u) - 'updated_at')::text r
	    FROM user_profiles u
	    UNION ALL SELECT 's ' || (to_jsonb(s) - 'id' - 'created_at' -
		'updated_at')::text FROM subscriptions s
	    UNION ALL SELECT 'l ' || (to_jsonb(l) - 'id' - 'recorded_at' -
		'updated_at')::text FROM revenue_ledger l
	    UNION ALL SELECT 'm ' || event_id FROM processed_webhooks) y
	    WHERE r LIKE '${1:-}%') x"
}

# fbd_fingerprint_users FILE: md5 of the whole business state of the users
# listed in FILE (one uuid a line, as fbd_submit_generated writes them):
# their profiles, subscriptions and ledger rows (by subscriber, or by the
# customer of one of their subscriptions), every column but serial ids and
# now() timestamps.  No two events contrib/gen-events.pl makes for one
# object disagree within a created second, so this is the same whatever
# order the events came in: a golden value to pin.
fbd_fingerprint_users() {
	PGTZ=UTC psql_q <<EOF
CREATE TEMP TABLE fp_users (id uuid);
\copy fp_users FROM '$1'
SELECT md5(string_agg(r, E'\n' ORDER BY r)) FROM (
    SELECT 'u ' || (to_jsonb(u) - 'updated_at')::text r FROM user_profiles u
    WHERE u.id IN (SELECT id FROM fp_users)
    UNION ALL SELECT 's ' || (to_jsonb(s) - 'id' - 'created_at' -
	'updated_at')::text FROM subscriptions s
    WHERE s.subscriber_id IN (SELECT id FROM fp_users)
    UNION ALL SELECT 'l ' || (to_jsonb(l) - 'id' - 'recorded_at' -
	'updated_at')::text FROM revenue_ledger l
    WHERE l.subscriber_id IN (SELECT id FROM fp_users) OR
	l.stripe_customer_id IN (SELECT stripe_customer_id FROM subscriptions
	WHERE subscriber_id IN (SELECT id FROM fp_users))) x;
EOF
}

# fbd_check_no_secrets FILE...: no configured secret in any of them; a
# file that is missing fails the check (it would prove nothing).
fbd_check_no_secrets() {
	local s f found=0
	for f in "$@"; do
		if [ ! -r "$f" ]; then
			found=1
			diag "no such file to check for secrets: $f"
		fi
	done
	for s in "$(cat "$FBD_SEED")" "$FB_OWNER_KEY" "$FB_SUBMITTER_KEY" \
	    "$FB_SERVER_KEY" ${FBD_SECRETS:-}; do
		[ -n "$s" ] || continue
		if grep -qF -- "$s" "$@" 2>/dev/null; then
			found=1
			diag "a secret appears in: $(grep -lF -- "$s" "$@")"
		fi
	done
	ok "$found" "no configured secret in the logs and outputs"
}

# wait_log REGEX [SECONDS]: wait until the daemon's log has a matching line.
wait_log() {
	for _ in $(seq 1 $(( ${2:-20} * 10 ))); do
		grep -Eq -- "$1" "$FBD_LOG" && return 0
		sleep 0.1
	done
	return 1
}

fbd_status() {
	"$FB_BUILDDIR/fbeectl" -s "$FBD_SOCK" status --json 2>/dev/null
}

# hold_lock: bees applying an event wait for the lock until release_lock.
# The lock is held for as long as the test needs it, never for a guessed
# number of seconds, so a slow machine cannot let a task finish early.
hold_lock() {
	psql_q -c "BEGIN; LOCK TABLE processed_webhooks IN ACCESS EXCLUSIVE
	    MODE; SELECT pg_sleep(120); COMMIT;" >/dev/null 2>&1 &
	LOCK_PID=$!
	fb_track_pid "$LOCK_PID"
	for _ in $(seq 1 100); do
		[ "$(psql_q -c "SELECT count(*) FROM pg_locks l JOIN pg_class c
		    ON c.oid = l.relation WHERE c.relname = 'processed_webhooks'
		    AND l.mode = 'AccessExclusiveLock' AND l.granted")" = 1 ] &&
		    break
		sleep 0.05
	done
}
release_lock() {
	psql_q -c "SELECT pg_cancel_backend(pid) FROM pg_stat_activity
	    WHERE pid <> pg_backend_pid() AND query LIKE '%pg_sleep(120)%'" \
	    >/dev/null
	wait "$LOCK_PID" 2>/dev/null
}
wait_working() {	# wait_working N: until N bees hold a task
	for _ in $(seq 1 100); do
		[ "$(fbd_status | jq '[.bees[] | select(.state == "working")]
		    | length' 2>/dev/null)" -ge "$1" ] 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# fbd_wait_polls K [SECONDS]: until every bee running now has had K more
# assign requests answered (status "polls"); a bee that is gone meanwhile
# counts as done (the caller checks what it expects of it).  A window of
# "nothing else happens" is measured in this progress, not in seconds.
fbd_wait_polls() {
	local base
	base=$(fbd_status | jq -c '[.bees[] | select(.pid > 0) |
	    {pid, polls}]') || return 1
	for _ in $(seq 1 $(( ${2:-20} * 10 ))); do
		[ "$(fbd_status | jq --argjson b "$base" --argjson k "$1" '
		    [.bees[] | select(.pid > 0)] as $now | all($b[]; . as $o |
		    [$now[] | select(.pid == $o.pid)] | length == 0 or
		    .[0].polls >= $o.polls + $k)' 2>/dev/null)" = true ] &&
		    return 0
		sleep 0.1
	done
	diag "the bees did not poll $1 more times: $base ->" \
	    "$(fbd_status | jq -c '[.bees[] | {pid, state, polls}]')"
	return 1
}

# fbd_wait_beats K [SECONDS]: until every bee running now has written K
# more heartbeats to its status page (status "beat", about one a second
# in every state, paused too); a bee that is gone counts as done.
fbd_wait_beats() {
	local base
	base=$(fbd_status | jq -c '[.bees[] | select(.pid > 0) |
	    {pid, beat}]') || return 1
	for _ in $(seq 1 $(( ${2:-20} * 10 ))); do
		[ "$(fbd_status | jq --argjson b "$base" --argjson k "$1" '
		    [.bees[] | select(.pid > 0)] as $now | all($b[]; . as $o |
		    [$now[] | select(.pid == $o.pid)] | length == 0 or
		    .[0].beat >= $o.beat + $k - 0.5)' 2>/dev/null)" = true ] &&
		    return 0
		sleep 0.1
	done
	diag "the bees did not beat $1 more times: $base ->" \
	    "$(fbd_status | jq -c '[.bees[] | {pid, state, beat}]')"
	return 1
}

# fbd_intake_conf PROCESSES LISTEN [SETTINGS]: an intake section for
# FBD_EXTRA, enabled with PROCESSES processes on LISTEN (a socket path or
# host:port), its identity's key in the test's directory, and SETTINGS
# (more "key = value;" lines).
fbd_intake_conf() {
	( umask 077; echo 4763246e5bd0c41aeeca32a812272315e4b3dc401383d5d1d5d661f996f235c6 \
	    >"$(fb_tmpdir)/intake.key" )
	printf 'intake: {\n\tenabled = true;\n\tprocesses = %s;\n\tlisten = [ "%s" ];\n%s\n\tkey_file = "%s";\n};\n' \
	    "$1" "$2" "${3:-}" "$(fb_tmpdir)/intake.key"
}
