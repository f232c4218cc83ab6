#!/bin/sh
# contrib/chaos.sh: the chaos soak (issue 13 section 10).  A whole
# financebeed against the bundled ColonyOS server (minicolonies) and a
# throwaway PostgreSQL, fed real-shaped events (contrib/gen-events.pl
# lifecycles, shuffled) while, all at once:
#   - random bees are killed (kill -9) every 100-500 ms;
#   - admin clients connect all the time, and the pool is paused and
#     resumed and scaled up and down;
# and, one after another, with tasks in flight:
#   - PostgreSQL restarts;
#   - a bee is stopped (SIGSTOP) past its process's lease, then resumed;
#   - PostgreSQL is down for FB_CHAOS_OUTAGE seconds;
#   - ColonyOS restarts, forgetting the executors (minicolonies keeps its
#     state in memory: it comes back empty and is set up again; the events
#     of the processes it lost open are submitted again, as Stripe sends
#     an event again until it is answered).
# Then it checks and prints: every process final; none failed (and why,
# if one did); every event applied exactly once; the database equal to an
# in-order replay of the same events (a second daemon with one bee, the
# events submitted in order, into a fresh database); fbeectl's totals
# equal to ColonyOS and to the database; the kills done; the memory of the
# master and the bees at the end (RSS, PSS, private).
# The events go to ColonyOS in portions: each phase releases the next
# portion before it checks that processing goes on, so that however fast
# the bees are, that check has work to wait on.  (A phase may start with
# the released work already done; the fault then meets an idle pool.)
#
#   sh contrib/chaos.sh                  # the long soak (20,000 events)
#   FB_CHAOS_EVENTS=3000 FB_CHAOS_OUTAGE=20 sh contrib/chaos.sh
#
# Knobs (environment):
#   FB_CHAOS_EVENTS   events to generate, at least (20000)
#   FB_CHAOS_OUTAGE   seconds PostgreSQL is down (150)
#   FB_CHAOS_BEES     bees (4)
#   FB_CHAOS_SEED     the generator's seed (1013)
#   FB_CHAOS_BACKLOG  processes kept waiting at ColonyOS (400)
#   FB_BUILDDIR, FB_SRCDIR, FINANCEBEE_SQLDIR as for the tests (t/lib).
# The output is TAP: one "ok" a check, the phases and the report as "#"
# lines.  Exit status 0 when every check passed.  Runs as root (then
# PostgreSQL runs as the postgres user) or as a user that can run initdb.
# t/99-chaos.t runs a short version in the test suite.

CHAOS_SRC=$(cd "$(dirname "$0")/.." && pwd)
FB_SRCDIR=${FB_SRCDIR:-$CHAOS_SRC}
. "$FB_SRCDIR/t/lib/fbtest.sh"
. "$FB_SRCDIR/t/lib/fbtest-daemon.sh"

EVENTS=${FB_CHAOS_EVENTS:-20000}
OUTAGE=${FB_CHAOS_OUTAGE:-150}
BEES=${FB_CHAOS_BEES:-4}
SEED=${FB_CHAOS_SEED:-1013}
BACKLOG=${FB_CHAOS_BACKLOG:-400}
PLEASE=5		# the processes' maxexectime: a killed bee's task
			# comes back after it

# The processes' lease is short, the bees' task_timeout long: a bee
# stopped past its process's lease is not killed by the master's
# watchdog first (as t/94).  Deaths are the point: no crash-loop guard.
FBD_BEES=$BEES
FBD_LEASE=30
FBD_TASK_TIMEOUT=20
FBD_MAXRETRIES=1000

T0=$(date +%s)
phase() { note "[$(( $(date +%s) - T0 ))s] $*"; }
die_setup() { echo "Bail out! $*"; exit 1; }

# t/99-chaos.t skips where PostgreSQL cannot be set up, as the other tests.
fbd_setup || { [ -n "${FB_CHAOS_TEST:-}" ] &&
    skip_all "cannot set up PostgreSQL + minicolonies"
    die_setup "cannot set up PostgreSQL + minicolonies"; }
D=$FBD_DIR
sed -i -e 's|crash_limit = 4;|crash_limit = 10000;|' \
    -e 's|statement_timeout = 3;|statement_timeout = 10;|' \
    -e 's|heartbeat_timeout = 4;|heartbeat_timeout = 15;|' "$FBD_CONF"

ctl() { timeout 10 "$FB_BUILDDIR/fbeectl" -s "$FBD_SOCK" "$@"; }
stats() { mc stats --colony "$FB_COLONY" 2>/dev/null; }
stat_of() { stats | jq -r ".$1" 2>/dev/null; }
closed_now() { stats | jq '.successful + .failed' 2>/dev/null; }
sub_count() { cat "$D/ids."* 2>/dev/null | grep -c .; }
now() { date +%s; }

# --- the events --------------------------------------------------------------
# gen-events.pl gives 3 to 5 events a user (4.65 on average).
USERS=$(( (EVENTS * 100 + 464) / 465 ))
perl "$FB_SRCDIR/contrib/gen-events.pl" -n "$USERS" -s "$SEED" \
    -u "$D/users.txt" >"$D/inorder.jsonl" &&
perl "$FB_SRCDIR/contrib/gen-events.pl" -n "$USERS" -s "$SEED" -S \
    >"$D/shuffled.jsonl" || die_setup "gen-events.pl failed"
N=$(grep -c . "$D/inorder.jsonl")
sed "s/.*/INSERT INTO user_profiles (id) VALUES ('&');/" "$D/users.txt" |
    psql_q >/dev/null || die_setup "users not created"
sed 's/^{"id":"\([^"]*\)".*/\1/' "$D/inorder.jsonl" | sort >"$D/events.ids"
[ "$(sort -u "$D/events.ids" | grep -c .)" = "$N" ] ||
    die_setup "event ids are not unique"
split -l 100 -a 4 "$D/shuffled.jsonl" "$D/chunk."
phase "$N events of $USERS users (seed $SEED), $BEES bees, outage $OUTAGE s"

# submit FILE: one process an event line, on the current server; the ids
# go to ids.EPOCH (epoch 1 before the ColonyOS restart, 2 after).
submit() {
	mc submit --key-file "$D/submitter.key" --colony "$FB_COLONY" \
	    --type financebee --funcname validate_revenue \
	    --maxexectime "$PLEASE" --maxretries "$FBD_MAXRETRIES" \
	    --stdin-lines <"$1" >"$D/submit.out" 2>>"$D/submit.err" ||
	    return 1
	grep '^[0-9a-f]\{64\}$' "$D/submit.out" >>"$D/ids.$(cat "$D/epoch")"
}
echo 1 >"$D/epoch"

# A background worker (feeder, storm, churn) stops at a safe point while
# hold.NAME exists, saying so with held.NAME, and goes on when it is gone.
# A worker that has ended says so with done.NAME.
held_or_done() { [ -e "$D/held.$1" ] || [ -e "$D/done.$1" ]; }
hold() { touch "$D/hold.$1"; until_ok 120 held_or_done "$1"; }
release() { rm -f "$D/hold.$1"; until_ok 30 [ ! -e "$D/held.$1" ]; }
held_point() {
	[ -e "$D/hold.$1" ] || return 0
	touch "$D/held.$1"
	while [ -e "$D/hold.$1" ] && [ ! -e "$D/stop" ]; do sleep 0.1; done
	rm -f "$D/held.$1"
}

# The feeder: keeps about BACKLOG processes waiting at ColonyOS, 100
# events a submission, as far as the quota lets it.  Each phase that
# needs processes to flow first raises the quota (feed_more), so that
# bees faster than the script never run out of events before a check
# that waits for a close.
CHUNKS=$(ls "$D"/chunk.* | grep -c .)
echo 0 >"$D/quota"
# feed_more PERCENT: PERCENT more of the chunks (one at least) may go.
feed_more() {
	q=$(( $(cat "$D/quota") + (CHUNKS * $1 + 99) / 100 ))
	[ "$q" -gt "$CHUNKS" ] && q=$CHUNKS
	echo "$q" >"$D/quota.new" && mv "$D/quota.new" "$D/quota"
}
feed_all() { echo "$CHUNKS" >"$D/quota.new" && mv "$D/quota.new" "$D/quota"; }
feeder() {
	i=0
	for c in "$D"/chunk.*; do
		i=$((i + 1))
		while :; do
			[ -e "$D/stop" ] && return
			held_point feed
			if [ "$i" -le "$(cat "$D/quota")" ]; then
				w=$(stat_of waiting)
				case $w in ''|*[!0-9]*) w=$BACKLOG ;; esac
				[ "$w" -lt "$BACKLOG" ] && break
			fi
			sleep 0.2
		done
		until submit "$c"; do
			[ -e "$D/stop" ] && return
			sleep 0.5	# ColonyOS away: submitting again
		done
		rm -f "$c"
	done
	touch "$D/fed" "$D/done.feed"
}

# bees: the bees' pids, cheaply (the master's children; fbd_bee_pids
# scans every process: too slow for a storm on a loaded machine).
bees() {
	for p in $(cat "/proc/$FBD_PID/task/$FBD_PID/children" 2>/dev/null); do
		case $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null) in
		"financebeed: bee "*) echo "$p" ;;
		esac
	done
}

# The storm: kill -9 of a random bee every 100-500 ms (never the one
# stopped on purpose), counted in kills.
storm() {
	n=0
	while [ ! -e "$D/stop" ]; do
		held_point storm
		p=$(bees | grep -vFx "$(cat "$D/stopped.pid" 2>/dev/null)" |
		    shuf -n 1)
		[ -n "$p" ] && kill -KILL "$p" 2>/dev/null && n=$((n + 1)) &&
		    echo "$n" >"$D/kills"
		sleep "0.$(shuf -i 1-5 -n 1)"
	done
	touch "$D/done.storm"
}

# The churn: admin clients all the time (status, metrics, executors), a
# pause and resume now and then, the pool scaled between BEES-1 and
# BEES+2.
churn() {
	n=0 pauses=0 scales=0
	while [ ! -e "$D/stop" ]; do
		held_point churn
		n=$((n + 1))
		ctl status >/dev/null 2>&1
		ctl status --json >/dev/null 2>&1
		ctl metrics >/dev/null 2>&1
		ctl executors >/dev/null 2>&1
		ctl ping >/dev/null 2>&1
		case $((n % 10)) in
		3)	ctl pause >/dev/null 2>&1 && pauses=$((pauses + 1))
			sleep "0.$(shuf -i 2-9 -n 1)"
			ctl resume >/dev/null 2>&1 ;;
		6)	b=$(fbd_status | jq -r '.bees | length' 2>/dev/null)
			case $b in ''|*[!0-9]*) b=$BEES ;; esac
			if [ "$b" -ge $((BEES + 2)) ]; then d=-1
			elif [ "$b" -le $((BEES - 1)) ]; then d=+1
			else d=$(shuf -n 1 -e -- +1 -1)
			fi
			ctl scale "$d" >/dev/null && scales=$((scales + 1)) ;;
		esac
		echo "$n $pauses $scales" >"$D/churn"
		sleep "0.$(shuf -i 1-3 -n 1)"
	done
	touch "$D/done.churn"
}

# progress_from C: until ColonyOS has closed more than C processes.
progress_from() { c=$(closed_now); [ "${c:-0}" -gt "$1" ]; }
# progress SECONDS: until some process is closed, from now; how long it
# took in WAITED.
progress() {
	c0=$(closed_now) t1=$(now)
	until_ok "$1" progress_from "${c0:-0}"
	set -- $?
	WAITED=$(( $(now) - t1 ))
	return "$1"
}
closed_at_least() { c=$(closed_now); [ "${c:-0}" -ge "$1" ]; }
# stuck: what a failed check needs to be understood, kept short (the
# end of a CI log is often all there is): on stderr, after the "not ok".
stuck() {
	diag "stuck at $(( $(now) - T0 ))s: ColonyOS $(stats | jq -c .)," \
	    "kills $(cat "$D/kills" 2>/dev/null), churn $(cat "$D/churn" \
	    2>/dev/null), submitted $(sub_count)"
	{ ctl status 2>&1 | head -n 24
	  echo "financebeed's last warnings:"
	  grep ' warn: ' "$FBD_LOG" | tail -n 8 | cut -c12-200; } |
	    sed 's/^/# /' >&2
	return 1
}
bees_serving() {
	[ "$(fbd_status | jq '[.bees[] | select(.state == "polling" or
	    .state == "working" or .state == "idle")] | length' 2>/dev/null)" \
	    -ge 1 ] 2>/dev/null
}

# --- start ---------------------------------------------------------------------
fbd_start
ok $? "financebeed started ($BEES bees)" || die_setup "financebeed did not start"
fbd_wait_bees "$BEES" 30
ok $? "$BEES bees running" || die_setup "the bees did not start"
feed_more 20
feeder >>"$D/feeder.log" 2>&1 &
fb_track_pid $!
FEEDER=$!
until_ok 60 progress_from 50
ok $? "tasks flow" || stuck
storm >>"$D/storm.log" 2>&1 &
STORM=$!
fb_track_pid $!
churn >>"$D/churn.log" 2>&1 &
CHURN=$!
fb_track_pid $!
phase "feeder, kill storm and admin churn running"

# --- PostgreSQL restarts ----------------------------------------------------------
until_ok 600 closed_at_least $((N * 15 / 100))
phase "PostgreSQL restart ($(sub_count) submitted, $(closed_now) closed)"
pg_down && pg_up
ok $? "PostgreSQL restarted with tasks in flight"
feed_more 15
progress 120
ok $? "processing goes on after the restart (${WAITED} s)" || stuck

# --- a bee stopped past its lease -----------------------------------------------
# A working bee, its process's lease (PLEASE s) run out: ColonyOS gives
# the process to another bee; the stopped one, resumed, finds it lost.
# proc_retries ID: "STATE RETRIES" of a process at ColonyOS.
proc_retries() {
	mc get --key-file "$D/submitter.key" "$1" 2>/dev/null |
	    jq -r '"\(.state) \(.retries)"'
}
# As t/94: processed_webhooks locked, a bee's statement waits on the lock;
# that bee is stopped, the lock released: PostgreSQL commits its event
# while it sleeps.  The storm waits meanwhile: a kill it chose before
# stopped.pid was written would land on the stopped bee.
w= r0=
hold storm
hold_lock
feed_more 10	# for bees to wait on the lock with
for _ in $(seq 1 300); do
	w=$(fbd_status | jq -r '[.bees[] | select(.state == "working" and
	    .pid > 0 and .task.phase == "apply")][0] | select(. != null) |
	    "\(.pid) \(.task.process)"' 2>/dev/null)
	if [ -n "$w" ]; then
		echo "${w% *}" >"$D/stopped.pid"
		if kill -STOP "${w% *}" 2>/dev/null; then
			r=$(proc_retries "${w#* }")
			case $r in 1\ *) r0=${r#* }; break ;; esac
			kill -CONT "${w% *}"
		fi
	fi
	w=
	sleep 0.1
done
release_lock
release storm
[ -n "$w" ]
ok $? "a working bee stopped (SIGSTOP, pid ${w% *})"
spid=${w% *} sproc=${w#* }
phase "bee $spid stopped holding process $sproc (retries $r0)"
# Past the lease: ColonyOS takes the process back (one retry more).
taken() {
	r=$(proc_retries "$sproc")
	[ "${r#* }" -gt "$r0" ] 2>/dev/null
}
until_ok 120 taken
ok $? "past its lease, ColonyOS took its process back" || stuck
kill -0 "$spid"
ok $? "the stopped bee was not killed for it"
kill -CONT "$spid" 2>/dev/null
rm -f "$D/stopped.pid"
phase "bee $spid resumed"
feed_more 5
progress 60
ok $? "processing goes on (${WAITED} s)" || stuck

# --- PostgreSQL down for OUTAGE s -------------------------------------------------
until_ok 600 closed_at_least $((N * 45 / 100))
phase "PostgreSQL down for $OUTAGE s ($(sub_count) submitted, $(closed_now) closed)"
pg_down
ok $? "PostgreSQL stopped"
t0=$(now)
feed_more 15	# submitted meanwhile: work for when it is back
# A bee alive says so; one started during the outage (the storm) exits
# 75 at its start instead, and is respawned (financebeed's bee_setup).
wait_log 'the database unreachable|dependency down' 60
ok $? "the bees notice" || stuck
# The outage lasts OUTAGE seconds: a duration, not a wait for something.
left=$(( OUTAGE - ($(now) - t0) ))
[ "$left" -gt 0 ] && sleep "$left"
pg_up
ok $? "PostgreSQL back after $(( $(now) - t0 )) s"
progress 120
ok $? "processing goes on after the outage (${WAITED} s)" || stuck

# --- ColonyOS restarts empty, forgetting the executors ----------------------------
until_ok 900 closed_at_least $((N * 60 / 100))
phase "ColonyOS restart ($(sub_count) submitted, $(closed_now) closed)"
# No submission and no churn across the restart; the storm goes on.
touch "$D/hold.feed"
hold churn
ctl pause >/dev/null
hold feed
quiet() {
	fbd_status | jq -e '.pool.unsettled == 0 and ([.bees[] |
	    select(.state == "working")] | length) == 0' >/dev/null 2>&1
}
until_ok 120 quiet
ok $? "paused: no bee holds a task, no close left to settle" || stuck
mc dump --colony "$FB_COLONY" --full >"$D/dump.1"
ok $? "the old server's processes dumped ($(grep -c . "$D/dump.1"))"
port=${FB_COLONIES_URL##*:}
port=${port%/api}
kill -KILL "$MC_PID"
until_ok 10 sh -c "! kill -0 $MC_PID 2>/dev/null"
mc_start --listen "127.0.0.1:$port" &&
    mc setup --colony "$FB_COLONY" --server-key-file "$D/server.key" \
    --owner-key-file "$D/owner.key" --submitter-key-file "$D/submitter.key" \
    >/dev/null
ok $? "minicolonies restarted empty on port $port and set up again"
echo 2 >"$D/epoch"
: >"$D/ids.2"
jq -r 'select(.state == 0 or .state == 1) | .spec.args[0]' "$D/dump.1" \
    >"$D/resubmit.jsonl"
R=$(grep -c . "$D/resubmit.jsonl")
[ "$R" -eq 0 ] || submit "$D/resubmit.jsonl"
ok $? "the $R events left open submitted again"
# Counted before the resume: a bee refused at once registers again.
regs=$(grep -c 'registered and approved' "$FBD_LOG")
ctl resume >/dev/null
release churn
feed_more 10
release feed
reg_more() { [ "$(grep -c 'registered and approved' "$FBD_LOG")" -gt "$regs" ]; }
until_ok 60 reg_more
ok $? "the executors are registered again" || stuck
until_ok 120 progress_from 0
ok $? "processing goes on with the new server" || stuck

# --- the end of the storm ----------------------------------------------------------
feed_all
until_ok 1800 [ -e "$D/fed" ]
ok $? "every event submitted"
touch "$D/stop"
wait "$FEEDER" "$STORM" "$CHURN"
phase "storm over: $(cat "$D/kills" 2>/dev/null || echo 0) kills, churn $(cat "$D/churn" 2>/dev/null)"
ctl resume >/dev/null
ctl scale "$BEES" >/dev/null
fbd_wait_bees "$BEES" 60
ok $? "$BEES bees again"
S2=$(grep -c . "$D/ids.2")
all_final() {
	[ "$(stats | jq '.successful + .failed')" = "$S2" ]
}
until_ok 600 all_final
ok $? "every process final ($(stats | jq -c .))"
settled() { fbd_status | jq -e '.pool.unsettled == 0' >/dev/null 2>&1; }
until_ok 30 settled
mc dump --colony "$FB_COLONY" --full >"$D/dump.2"
phase "soak over"

# --- the checks ------------------------------------------------------------------
# The processes of the run: those the old server had closed, and every one
# of the new server.
jq -c 'select(.state == 2 or .state == 3)' "$D/dump.1" >"$D/final.jsonl"
cat "$D/dump.2" >>"$D/final.jsonl"
S1=$(grep -c . "$D/ids.1")
is "$(grep -c . "$D/dump.1"):$(grep -c . "$D/dump.2")" "$S1:$S2" \
    "ColonyOS held every process submitted ($S1 + $S2)"
is "$(jq -r 'select(.state != 2 and .state != 3) | .processid' "$D/dump.2" |
    wc -l)" 0 "every process is final"
closed=$(grep -c . "$D/final.jsonl")
is "$closed" "$((S1 - R + S2))" "closed: the old server's, and every new one"
failed=$(jq -r 'select(.state == 3) | .errors | tostring' "$D/final.jsonl")
is "$(printf '%s' "$failed" | grep -c .)" 0 "none failed" ||
    diag "failed, by cause:" "$(printf '%s\n' "$failed" | sort | uniq -c)"
jq -r 'select(.state == 2) | .out[0].event' "$D/final.jsonl" | sort -u \
    >"$D/closed.ev"
cmp -s "$D/closed.ev" "$D/events.ids"
ok $? "every event closed successful, none other ($(grep -c . "$D/closed.ev") of $N)"
psql_q -c "SELECT event_id FROM processed_webhooks ORDER BY 1" |
    LC_ALL=C sort >"$D/db.ev"
LC_ALL=C sort "$D/events.ids" >"$D/events.sorted"
cmp -s "$D/db.ev" "$D/events.sorted"
ok $? "the database has one marker per event ($(grep -c . "$D/db.ev") of $N)"
once=$(jq -r 'select(.state == 2 and .out[0].outcome != "duplicate") |
    .out[0].event' "$D/final.jsonl" | sort | uniq -d | wc -l)
is "$once" 0 "no event applied by two processes (the rest: duplicate)"
is "$(psql_q -c "SELECT count(*) FROM (SELECT kind, stripe_object_id
    FROM revenue_ledger GROUP BY 1, 2 HAVING count(*) > 1) d")" 0 \
    "no ledger entry twice"
is "$(psql_q -c "SELECT count(*) FROM parked_events")" 0 "nothing left parked"

# fbeectl's totals: closes accepted, by outcome, as ColonyOS has them; the
# events that made a change (all but duplicates), as the database.
jq -r 'if .state == 3 then "failed" else .out[0].outcome end' \
    "$D/final.jsonl" | sort |
    uniq -c | awk '{ printf "%s=%s ", $2, $1 }' >"$D/mc.outcomes"
st=$(fbd_status)
printf '%s' "$st" | jq -r '.pool.tasks | to_entries[] |
    select(.value > 0 and .key != "transient" and .key != "lost") |
    "\(.key)=\(.value)"' | sort | tr '\n' ' ' \
    >"$D/fbd.outcomes"
is "$(cat "$D/fbd.outcomes")" "$(cat "$D/mc.outcomes")" \
    "fbeectl's closes by outcome are ColonyOS's"
ftot=$(printf '%s' "$st" | jq '.pool.tasks | .applied + .duplicate +
    .ignored + .stale + .parked + .failed')
is "$ftot" "$closed" "fbeectl's total closes: ColonyOS's ($closed)"
mtot=$(ctl metrics | awk '/^financebee_tasks_total\{/ && !/transient/ {
    n += $2 } END { print n }')
is "$mtot" "$closed" "the metrics say the same"
first=$(printf '%s' "$st" | jq '.pool.tasks | .applied + .ignored + .stale +
    .parked')
lost=$(printf '%s' "$st" | jq '.pool.tasks.lost')
db=$(psql_q -c "SELECT count(*) FROM processed_webhooks")
# A change committed whose close never landed (its bee killed, or stopped
# past its lease) is counted on the duplicate that closed it later.
[ "$first" -le "$db" ] && [ "$db" -eq "$N" ]
ok $? "the database: $db markers, $first closes made a change, $((ftot - first)) duplicates"

# --- memory at the end ---------------------------------------------------------------
# kB: RSS, PSS, private (clean + dirty) of each, from smaps_rollup.
mem() {
	awk '/^Rss:/ { r = $2 } /^Pss:/ { p = $2 }
	    /^Private_(Clean|Dirty):/ { v += $2 }
	    END { printf "rss %d kB, pss %d kB, private %d kB", r, p, v }' \
	    "/proc/$1/smaps_rollup" 2>/dev/null
}
phase "memory at the end (kB):"
note "  master $FBD_PID: $(mem "$FBD_PID")"
for p in $(fbd_bee_pids); do
	note "  bee $p: $(mem "$p")"
done
note "  bees together: $(for p in $(fbd_bee_pids); do mem "$p"; echo; done |
    awk '{ r += $2; p += $5; v += $8 } END {
    printf "rss %d kB, pss %d kB, private %d kB", r, p, v }')"
kills=$(cat "$D/kills" 2>/dev/null || echo 0)
restarts=$(printf '%s' "$st" | jq .pool.restarts)
ctl status >"$D/status.txt" 2>&1
kill -TERM "$FBD_PID"
fbd_wait_gone 60
is "$FBD_RC" 0 "graceful stop exits 0"
check_no_sanitizer_reports "$FBD_LOG"

# --- the in-order replay ----------------------------------------------------------------
# The same events, in the order they were made, through a second daemon
# with one bee (ColonyOS hands out in submission order) into a fresh
# database: the business state must be the chaos run's.
phase "in-order replay of $N events"
fp=$(fbd_fingerprint)
psql_q -d postgres -c "CREATE DATABASE financebee_replay" >/dev/null
mc_start && mc setup --colony "$FB_COLONY" --server-key-file "$D/server.key" \
    --owner-key-file "$D/owner.key" --submitter-key-file "$D/submitter.key" \
    >/dev/null
ok $? "a second minicolonies for the replay"
FBD_BEES=1 FBD_CONNINFO="dbname=financebee_replay"
FBD_SOCK=$D/replay.sock FBD_LOG=$D/replay.log FBD_CONF=$D/replay.conf
fbd_write_config "$FBD_CONF"
"$FB_BUILDDIR/financebeed" -c "$FBD_CONF" --migrate >"$D/migrate2.log" 2>&1 &&
    sed "s/.*/INSERT INTO user_profiles (id) VALUES ('&');/" "$D/users.txt" |
    PGDATABASE=financebee_replay psql_q >/dev/null
ok $? "the replay database set up"
echo 3 >"$D/epoch"
submit "$D/inorder.jsonl" && fbd_start
ok $? "the events submitted in order, the replay daemon started"
replay_final() {
	[ "$(stats | jq '.successful + .failed')" = "$N" ]
}
until_ok 1200 replay_final
ok $? "the replay closed every event ($(stats | jq -c .))"
rfp=$(PGDATABASE=financebee_replay fbd_fingerprint)
is "$rfp" "$fp" "the state is the in-order replay's (fingerprint $fp)"
kill -TERM "$FBD_PID"
fbd_wait_gone 60

# --- the report ---------------------------------------------------------------------
phase "report"
note "  events: $N of $USERS users; processes submitted: $((S1 + S2)) ($R again after the ColonyOS restart)"
note "  closed: $closed; failed: $(printf '%s' "$failed" | grep -c .)"
note "  fbeectl closes by outcome: $(cat "$D/fbd.outcomes")"
note "  ColonyOS closes by outcome: $(cat "$D/mc.outcomes")"
note "  database markers: $db; lost closes: $lost"
note "  kills: $kills; restarts: $restarts; churn (admin rounds, pauses, scales): $(cat "$D/churn" 2>/dev/null)"
note "  state fingerprint: chaos $fp, replay $rfp"
note "  wall time: $(( $(now) - T0 )) s; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
done_testing
