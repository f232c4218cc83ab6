#!/bin/sh
# Pause is a state of the pool: every bee started while paused starts
# paused and assigns nothing: one recycled after tasks_per_bee, one added by
# "scale", one respawned after a crash, one replacing another on reload.
# After "resume" they all serve.
#
# "Nothing assigned" is checked once every bee shows "paused": a bee goes
# paused before its first assign, and a paused bee never assigns, so from
# then on nothing can change while processes wait.
. "$(dirname "$0")/lib/fbtest.sh"
. "$(dirname "$0")/lib/fbtest-daemon.sh"

FBD_BEES=1
FBD_LEASE=30
FBD_TASK_TIMEOUT=20
fbd_setup || skip_all "cannot set up PostgreSQL + minicolonies"
sed -i -e 's|crash_limit = 4;|crash_limit = 100;\n\ttasks_per_bee = 3;|' \
    -e 's|statement_timeout = 3;|statement_timeout = 25;|' "$FBD_CONF"
plan 30

ctl() { timeout 5 "$FB_BUILDDIR/fbeectl" -s "$FBD_SOCK" "$@"; }
# paused N: N bees run, all paused.
paused() {
	[ "$(fbd_status | jq -c '[.bees_running, ([.bees[] |
	    select(.state == "paused")] | length)]')" = "[$1,$1]" ]
}
serving() {
	[ "$(fbd_status | jq '[.bees[] | select(.state == "polling" or
	    .state == "working" or .state == "idle")] | length')" = "$1" ]
}
stats() { mc stats --colony "$FB_COLONY" | jq -c "[.waiting, .running, .successful + .failed]"; }
closed() { mc stats --colony "$FB_COLONY" | jq '.successful + .failed'; }
closed_is() { [ "$(closed)" = "$1" ]; }
bee_pid() { fbd_status | jq -r ".bees[] | select(.slot == $1) | .pid"; }
new_bee() {	# new_bee SLOT OLDPID: another bee runs in SLOT
	p=$(bee_pid "$1")
	[ -n "$p" ] && [ "$p" != 0 ] && [ "$p" != "$2" ]
}
working_in_apply() {
	[ "$(fbd_status | jq -r '.bees[0].task.phase // empty')" = apply ]
}
lock_granted() {
	[ "$(psql_q -c "SELECT count(*) FROM pg_locks l JOIN pg_class c
	    ON c.oid = l.relation WHERE c.relname = 'processed_webhooks'
	    AND l.mode = 'AccessExclusiveLock' AND l.granted")" = 1 ]
}

fbd_start
ok $? "financebeed started"
until_ok 20 serving 1
ok $? "one bee serves"

# --- recycled after tasks_per_bee (3) while paused --------------------------
_fbd_submit "$FB_FIXTURES/stripe-events/stripe-ruby-mock__coupon.created__1.json" \
    "$FB_FIXTURES/stripe-events/stripe-ruby-mock__invoice.upcoming__1.json"
fbd_wait_closed 30
ok $? "the bee has done 2 tasks"
# The third task blocks in the database until the pool is paused.
psql_q -c "BEGIN; LOCK TABLE processed_webhooks IN ACCESS EXCLUSIVE MODE;
    SELECT pg_sleep(60); COMMIT;" >/dev/null 2>&1 &
fb_track_pid $!
until_ok 10 lock_granted
ok $? "a transaction holds processed_webhooks"
# One event of a generated lifecycle, its user created first.
perl "$FB_SRCDIR/contrib/gen-events.pl" -n 1 -s 761 -u "$FBD_DIR/u761" -S |
    head -1 >"$FBD_DIR/e761"
sed "s/.*/INSERT INTO user_profiles (id) VALUES ('&') ON CONFLICT DO NOTHING;/" \
    "$FBD_DIR/u761" | psql_q >/dev/null
_fbd_submit --stdin-lines <"$FBD_DIR/e761"
until_ok 10 working_in_apply
ok $? "the bee works on its third task, blocked in the database"
old=$(bee_pid 1)
ctl pause >/dev/null
ok $? "pause"
psql_q -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
    WHERE query LIKE '%pg_sleep(60)%' AND pid <> pg_backend_pid()" >/dev/null
until_ok 20 new_bee 1 "$old"
ok $? "the bee recycled after its third task"
grep -q 'recycling after 3 tasks' "$FBD_LOG"
ok $? "... and said so"
fbd_submit_fixtures
c0=$(closed)
until_ok 20 paused 1
ok $? "the recycled bee starts paused"
is "$(stats)" "[$((FBD_SUBMITTED - c0)),0,$c0]" \
    "no process was assigned to it"

# --- scale-up while paused -----------------------------------------------------
ctl scale +2 >/dev/null
ok $? "scale +2 while paused"
until_ok 20 paused 3
ok $? "the two new bees start paused"
is "$(stats)" "[$((FBD_SUBMITTED - c0)),0,$c0]" "no process was assigned to them"

# --- respawn after a crash while paused ------------------------------------------
old=$(bee_pid 2)
kill -KILL "$old"
until_ok 20 new_bee 2 "$old"
ok $? "the killed bee was respawned"
until_ok 20 paused 3
ok $? "the respawned bee starts paused"
is "$(stats)" "[$((FBD_SUBMITTED - c0)),0,$c0]" "no process was assigned to it"

# --- replacement on reload while paused ----------------------------------------
sed -i 's|poll_timeout = 1;|poll_timeout = 2;|' "$FBD_CONF"
is "$(ctl reload)" "reloaded" "reload with a bee setting changed"
gen2() {
	[ "$(fbd_status | jq -c '[.generation, ([.bees[] | select(.generation
	    == 2 and .state == "paused")] | length)]')" = "[2,3]" ]
}
until_ok 30 gen2
ok $? "the 3 bees were replaced by paused bees of generation 2"
is "$(fbd_status | jq -r .state)" paused "the pool is still paused"
is "$(stats)" "[$((FBD_SUBMITTED - c0)),0,$c0]" "no process was assigned to them"

# --- resume -----------------------------------------------------------------------
ctl resume >/dev/null
ok $? "resume"
until_ok 20 serving 3
ok $? "the 3 bees serve"
fbd_wait_closed 60
ok $? "every process closed ($FBD_WAIT)"
fbd_check_exactly_once
is "$(fbd_status | jq '[.bees[] | select(.restarts > 1)] | length')" 0 \
    "no bee restarted more than once"
check_no_sanitizer_reports "$FBD_LOG"
