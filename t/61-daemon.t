#!/bin/sh
# financebeed end to end: bees registered by the master with the owner key,
# the shared fixtures and generated lifecycles applied exactly once, status
# and metrics from the master, a graceful stop that leaves nothing behind.
. "$(dirname "$0")/lib/fbtest.sh"
. "$(dirname "$0")/lib/fbtest-daemon.sh"

# A password in conninfo (trust authentication ignores it): a secret that
# must never be logged.
FBD_CONNINFO="password=fbpw-Zq83rT1x"
FBD_SECRETS=$FBD_CONNINFO
fbd_setup || skip_all "cannot set up PostgreSQL + minicolonies"
plan 29

fbd_start
ok $? "financebeed started"
fbd_wait_bees 3
ok $? "3 bees running"

# The master registered and approved the executors itself.
st=$(mc executor get --colony "$FB_COLONY" --name financebee-2 \
    --key-file "$FBD_DIR/submitter.key" 2>&1)
like "$st" '"state": ?1' "executor financebee-2 is approved"
ex=$("$FB_BUILDDIR/fbeectl" -s "$FBD_SOCK" executors 2>&1)
id2=$(printf '%s' "$ex" | jq -r '.[] | select(.slot == 2) | .id' 2>/dev/null)
like "$st" "$id2" "fbeectl executors gives the id the server has"

fbd_submit_fixtures
fbd_submit_generated 30 61
fbd_wait_closed 90
ok $? "every process closed ($FBD_WAIT)"
fbd_check_exactly_once
# Golden: the events of the fixtures and of the lifecycles of seed 61
# that were applied, whatever the order the bees took them in (pinned
# from reviewed runs; it changes only when the fixtures or the generator
# change, and then deliberately).  The whole business state is noted: it
# is the same in any order but for same-second ties (fbd_fingerprint).
is "$(fbd_fingerprint m)" 770c7078a1b2e07551b189fd17cbe5fb \
    "the applied events' fingerprint is the pinned one" ||
    diag "rows: see fbd_fingerprint in t/lib/fbtest-daemon.sh"
note "business state fingerprint: $(fbd_fingerprint)"
# Golden: the whole business state of the 30 generated lifecycles (their
# profiles, subscriptions, ledger rows; fbd_fingerprint_users), which no
# order of delivery changes.  Pinned from runs in several orders (bees,
# and financebeed --apply in shuffled orders); it changes when what
# applying an event writes changes, and then deliberately.
is "$(fbd_fingerprint_users "$FBD_DIR/users.61.txt")" \
    318e397429bb32652f3a2220c6ea60fc \
    "the generated lifecycles' whole state is the pinned one"

# Counters reach the master within a metrics interval or two.
for _ in $(seq 1 50); do
	tot=$(fbd_status | jq '.pool.tasks | ([.[]] | add) - .lost' 2>/dev/null)
	[ "${tot:-0}" -ge "$FBD_SUBMITTED" ] && break
	sleep 0.1
done
is "$tot" "$FBD_SUBMITTED" "status: the pool counted every task"
st=$(fbd_status)
is "$(printf '%s' "$st" | jq -r '.bees | length')" 3 "status: 3 bees"
is "$(printf '%s' "$st" | jq -r '[.bees[] | select(.pid > 0)] | length')" 3 \
    "status: each with a pid"
is "$(printf '%s' "$st" | jq -r '.crash_loop')" false "status: no crash loop"
rss=$(printf '%s' "$st" | jq -r '.bees[0].rss_kb')
[ "${rss:-0}" -gt 0 ]
ok $? "status: bees report their RSS ($rss kB)"
m=$("$FB_BUILDDIR/fbeectl" -s "$FBD_SOCK" metrics 2>&1)
like "$m" '# TYPE financebee_tasks_total counter' "metrics: tasks counter"
applied=$(printf '%s' "$st" | jq -r '.pool.tasks.applied')
like "$m" "financebee_tasks_total\\{outcome=\"applied\"\\} $applied" \
    "metrics: same applied count as status"

# The operator (or the stale-executor cleanup) removes an executor: its bee
# is refused, exits 75, and the master registers and approves it again.
mc executor remove --colony "$FB_COLONY" --name financebee-1 \
    --owner-key-file "$FBD_DIR/owner.key" >/dev/null 2>&1
ok $? "executor financebee-1 removed"
for _ in $(seq 1 150); do
	[ "$(grep -c 'slot 1: executor financebee-1 registered' "$FBD_LOG")" \
	    -ge 2 ] && break
	sleep 0.1
done
like "$(grep 'bee\[1\]' "$FBD_LOG")" 'refuses executor financebee-1' \
    "bee 1 is refused"
is "$(grep -c 'slot 1: executor financebee-1 registered' "$FBD_LOG")" 2 \
    "the master registered and approved it again"
fbd_submit_generated 10 611
fbd_wait_closed 60
ok $? "every process closed ($FBD_WAIT)"

# SIGTERM: a graceful stop, exit 0, no bee left behind.
bees=$(fbd_bee_pids)
kill -TERM "$FBD_PID"
fbd_wait_gone 30
is "$FBD_RC" 0 "graceful stop exits 0"
left=0
for p in $bees; do kill -0 "$p" 2>/dev/null && left=$((left + 1)); done
is "$left" 0 "no bee outlives the master"
like "$(cat "$FBD_LOG")" 'drained after [0-9]+ tasks' "bees drained"
[ ! -e "$FBD_SOCK" ]
ok $? "admin socket removed"

fbd_check_no_secrets "$FBD_LOG" "$FBD_DIR"/*.log "$FBD_DIR/dump.jsonl"
check_no_sanitizer_reports "$FBD_LOG"
