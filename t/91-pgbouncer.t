#!/bin/sh
# Through PgBouncer in transaction mode (database.transaction_pooling):
# --migrate, --apply and --prune, and a daemon of 4 bees sharing 3 server
# connections handed out round robin (so a bee's consecutive transactions
# land on different server sessions), drain the fixtures and generated
# lifecycles exactly once, with no transient database failure.  Without
# the setting, the prepared statement a connection made vanishes on the
# next server session: the bee says so and goes on without it.
. "$(dirname "$0")/lib/fbtest.sh"
. "$(dirname "$0")/lib/fbtest-daemon.sh"

command -v pgbouncer >/dev/null 2>&1 || skip_all "pgbouncer not installed"
FBD_BEES=4
fbd_setup || skip_all "cannot set up PostgreSQL + minicolonies"
pgb_start 3 || skip_all "cannot start pgbouncer"
plan 18

FBD_CONNINFO=$PGB_CONNINFO
FBD_DB_EXTRA="transaction_pooling = true;"
fbd_write_config "$FBD_CONF"
out=$("$FB_BUILDDIR/financebeed" -c "$FBD_CONF" --migrate 2>&1)
is "$?" 0 "--migrate through the pooler ($out)"

fbd_start
ok $? "financebeed started"
fbd_wait_bees 4
ok $? "4 bees running"
fbd_submit_fixtures
fbd_submit_generated 60 76
fbd_wait_closed 120
ok $? "every process closed ($FBD_WAIT)"
fbd_check_exactly_once
for _ in $(seq 1 50); do
	tot=$(fbd_status | jq '.pool.tasks | ([.[]] | add) - .lost' 2>/dev/null)
	[ "${tot:-0}" -ge "$FBD_SUBMITTED" ] && break
	sleep 0.1
done
st=$(fbd_status)
is "$(printf '%s' "$st" | jq -r '.pool.db_errors')" 0 \
    "no transient database failure"
# Failed processes are events the rules refuse, never the database.
bad=$(jq -r 'select(.state == 3) | .errors[0]' "$FBD_DIR/dump.jsonl" |
    grep -ciE 'database|sqlstate|prepared|timeout')
is "$bad" 0 "no process failed for a database reason"
kill -TERM "$FBD_PID"
fbd_wait_gone 30
is "$FBD_RC" 0 "graceful stop exits 0"

# One event by hand, through the pooler.
ev=$(ls "$FB_FIXTURES"/stripe-events/*.json | head -1)
out=$("$FB_BUILDDIR/financebeed" -c "$FBD_CONF" --apply "$ev" 2>&1)
like "$out" '^evt_[A-Za-z0-9_]+ duplicate' "--apply through the pooler ($out)"
out=$("$FB_BUILDDIR/financebeed" -c "$FBD_CONF" --prune 2>&1)
is "$?" 0 "--prune through the pooler ($out)"

# Unconfigured: session state is noticed, not relied on.
FBD_DB_EXTRA=
fbd_write_config "$FBD_CONF"
perl "$FB_SRCDIR/contrib/gen-events.pl" -n 1 -s 761 -u "$FBD_DIR/u1" \
    >"$FBD_DIR/one.jsonl"
sed "s/.*/INSERT INTO user_profiles (id) VALUES ('&');/" "$FBD_DIR/u1" |
    psql_q >/dev/null
head -1 "$FBD_DIR/one.jsonl" >"$FBD_DIR/one.json"
out=$("$FB_BUILDDIR/financebeed" -c "$FBD_CONF" --apply "$FBD_DIR/one.json" \
    2>&1)
like "$out" 'prepared statement vanished' "without the setting: a warning"
like "$out" '^evt_[A-Za-z0-9_]+ applied' "and the event applied"
fbd_check_no_secrets "$FBD_LOG"
check_no_sanitizer_reports "$FBD_LOG"
