#!/bin/sh
# fbeectl against the real daemon, with PostgreSQL and minicolonies: status,
# executors and metrics agree with what the bees did; scale, pause, resume,
# reload (good and bad) and stop work; no configured secret is ever shown.
. "$(dirname "$0")/lib/fbtest.sh"

D=$FB_BUILDDIR/financebeed
CTL=$FB_BUILDDIR/fbeectl
[ -x "$D" ] && [ -x "$CTL" ] && [ -x "$FB_BUILDDIR/minicolonies" ] ||
    skip_all "financebeed, fbeectl or minicolonies not built"
command -v openssl >/dev/null 2>&1 || skip_all "openssl not installed"

dir=$(fb_tmpdir)
S=$dir/fb.sock
OUT=$dir/outputs	# everything fbeectl printed, grepped for secrets
: >"$OUT"
ctl() { "$CTL" -s "$S" "$@" 2>>"$OUT" | tee -a "$OUT"; }
st() { "$CTL" -s "$S" status --json 2>>"$OUT" | tee -a "$OUT" | jq -r "$@"; }

running_is() { [ "$(st .bees_running)" = "$1" ] && [ "$(st .bees_target)" = "$1" ]; }
all_bees() { [ "$(st "[.bees[] | select(.state != \"$1\" and .state != \"$2\")] | length")" = 0 ]; }
pool_total() { st '[.pool.tasks[]] | add'; }

pg_start || exit 1
RANDOM=${RANDOM:-$$}	# mc_start names its port file with it; dash has none
export RANDOM
mc_start || exit 1

# Secrets: keys, the executor seed, a webhook secret, a DSN password.
umask 077
echo "$FB_SERVER_KEY" >"$dir/server.key"
echo "$FB_OWNER_KEY" >"$dir/owner.key"
echo "$FB_SUBMITTER_KEY" >"$dir/submitter.key"
SEED=5eed5eed00112233445566778899aabbccddeeff00112233445566778899aabb
echo "$SEED" >"$dir/seed"
WHSEC=whsec_fbtest72c0ffee5ecret0123456789
echo "$WHSEC" >"$dir/whsec"
DBPW=dbpw72notshownanywhere
echo "dbname=$PGDATABASE host=$PGHOST port=$PGPORT user=$PGUSER password=$DBPW" \
    >"$dir/conninfo"
umask 022

mc setup --colony "$FB_COLONY" --server-key-file "$dir/server.key" \
    --owner-key-file "$dir/owner.key" --submitter-key-file "$dir/submitter.key" \
    >/dev/null 2>&1
ok $? "minicolonies colony set up"

# writeconf BEES: the daemon's configuration.
writeconf() {
	cat >"$dir/fb.conf.new" <<EOF
bees = $1;
pidfile = "";
colonies: {
	url = "$FB_COLONIES_URL";
	colony = "$FB_COLONY";
	executor_type = "financebee";
	executor_prefix = "fbt72";
	executor_host = "-";
	executor_seed_file = "$dir/seed";
	owner_key_file = "$dir/owner.key";
	poll_timeout = 1;
};
database: { conninfo_file = "$dir/conninfo"; prune_interval = 0; };
stripe: { livemode = false; webhook_secrets = [ "$dir/whsec" ]; };
admin: { socket = "$S"; mode = "0600"; };
log: { level = "debug"; target = "stderr"; };
metrics: { interval = 0.2; };
EOF
	chmod 600 "$dir/fb.conf.new"
	mv "$dir/fb.conf.new" "$dir/fb.conf"
}
writeconf 2

"$D" -c "$dir/fb.conf" --migrate >"$dir/migrate.log" 2>&1
ok $? "schema migrated" || cat "$dir/migrate.log" >&2

"$D" -d -c "$dir/fb.conf" >"$dir/daemon.log" 2>&1 &
DPID=$!
fb_track_pid "$DPID"
until_ok 30 "$CTL" -s "$S" ping >/dev/null 2>&1
ok $? "financebeed answers on its admin socket" || { cat "$dir/daemon.log" >&2; exit 1; }
is "$(stat -c %a "$S")" "600" "socket has the configured mode"

# --- status, executors -------------------------------------------------------
until_ok 30 running_is 2
ok $? "status: 2 bees running, 2 wanted"
until_ok 30 all_bees idle polling
ok $? "status: every bee is idle or polling" ||
    diag "$(st '.bees[] | "\(.slot) \(.state) \(.last_exit) \(.cause)"')"
is "$(st '.version, .state, (.bees | length)' | tr '\n' ' ')" "1 running 2 " \
    "status --json: version 1, running, two bee entries"
is "$(st '[.bees[].pid | select(. > 0)] | length')" "2" "each bee has a pid"
like "$(ctl status)" 'financebeed: running, pid [0-9]+, generation 1' \
    "status table headline"
is "$(ctl executors --json | jq -r '[.[] | .name + ":" + .registered] | join(" ")')" \
    "fbt72-1:yes fbt72-2:yes" "executors: both registered by the owner key"
is "$(ctl executors --json | jq -r '[.[].id | test("^[0-9a-f]{64}$")] | all')" \
    "true" "executors: ids are 64 hex"

# --- tasks: counters grow as events are processed ---------------------------------
before=$(pool_total)
is "$before" "0" "no task counted yet"
# The pool idles a few seconds before work comes, so that a rate since
# start (idle seconds counted as work at rate zero) shows below.
up_at_least() { st --argjson u "$1" '.uptime >= $u' | grep -qx true; }
until_ok 30 up_at_least 3
u0=$(st .uptime)
n=0
for f in "$FB_FIXTURES"/stripe-events/*.json; do
	ts=$(date +%s)
	sig=$( { printf '%s.' "$ts"; cat "$f"; } |
	    openssl dgst -sha256 -hmac "$WHSEC" -r | cut -d' ' -f1)
	mc submit --key-file "$dir/submitter.key" --colony "$FB_COLONY" \
	    --type financebee --maxexectime 30 \
	    --kwargs "{\"Stripe-Signature\":\"t=$ts,v1=$sig\"}" "$f" \
	    >/dev/null 2>>"$dir/submit.log" && n=$((n + 1))
done
[ "$n" -ge 10 ]
ok $? "submitted $n signed fixture events"
mc wait --colony "$FB_COLONY" --count "$n" --timeout 60 >"$dir/wait.out" 2>&1
ok $? "every process closed: $(cat "$dir/wait.out")"
tot() { [ "$(pool_total)" = "$n" ]; }
until_ok 20 tot
is "$(pool_total)" "$n" "status: pool tasks by outcome add up to $n"
is "$(st '[.bees[].tasks[]] | add')" "$n" "status: per-bee tasks add up to $n"
is "$(st '.pool.tasks.applied + .pool.tasks.ignored + .pool.tasks.duplicate > 0')" \
    "true" "status: some events applied or ignored (signatures verified)"
like "$(st '.pool.latency_ms.p50')" '^[0-9.]+(e[-+]?[0-9]+)?$' "status: latency p50 is a number"
# What an operator checks first: versions and where ColonyOS is.
is "$(st .daemon_version)" \
    "$(sed -n 's/^#define PACKAGE_VERSION "\(.*\)"$/\1/p' "$FB_BUILDDIR/config.h")" \
    "status: daemon_version is the configured package version"
is "$(st .schema_version)" "$(ls "$FB_SRCDIR"/sql/[0-9][0-9][0-9]_*.sql | wc -l)" \
    "status: schema_version is the number of the last migration"
is "$(st .colonies_url)" "$FB_COLONIES_URL" "status: colonies_url"
ctl status >"$dir/status.txt"
grep -q "^colonies: *$FB_COLONIES_URL " "$dir/status.txt" &&
    grep -q "^version: *financebeed $(st .daemon_version), database schema" "$dir/status.txt"
ok $? "status text shows the version and the ColonyOS URL"
# Figures are rounded to what they mean: no binary noise in the JSON.
"$CTL" -s "$S" status --json >"$dir/status.json"
! grep -Eo '[0-9]\.[0-9]{7,}' "$dir/status.json"
ok $? "status --json: no float noise (at most 6 decimals)"

# Younger than a minute, the rate covers the time since work began, not
# since start: the window starts at most a tick (0.5 s, 1 s allowed) before
# the submission at uptime u0, so throughput times (uptime - u0 + 1) is at
# least the task count.  (Once the master is older than a minute, only
# its sign can be checked here.)
is "$(st --argjson n "$n" --argjson u0 "$u0" 'if .uptime < 55 then
	.pool.throughput_1m * (.uptime - $u0 + 1) >= $n - 0.5
    else .pool.throughput_1m >= 0 end')" "true" \
    "status: throughput_1m counts from the first task ($(st '.uptime, .pool.throughput_1m' | tr '\n' ' ')u0 $u0, $n tasks)"
# What the master's probe says of the dependencies (metrics.queue_interval
# 10 s by default, the first probe at start).
probed() { st '.colonies.answers and .database.answers' | grep -qx true; }
until_ok 30 probed
ok $? "status: ColonyOS and the database answer the master's probe"
is "$(st '.database.schema_version, .colonies.url' | tr '\n' ' ')" \
    "$(ls "$FB_SRCDIR"/sql/[0-9][0-9][0-9]_*.sql | wc -l) $FB_COLONIES_URL " \
    "status: the database's schema version and the ColonyOS URL"
ctl status >"$dir/status.txt"
grep -q "^colonies: *$FB_COLONIES_URL answers ([0-9.]* s ago)\$" "$dir/status.txt" &&
    grep -q "^database: *answers, schema [0-9]* ([0-9.]* s ago)\$" "$dir/status.txt"
ok $? "status text: ColonyOS and the database answer" || cat "$dir/status.txt" >&2

# --- metrics ----------------------------------------------------------------------
ctl metrics >"$dir/metrics" 
ok $? "metrics exits 0"
# Task durations are measured in microseconds: no task (an HTTP exchange
# and a database round trip) takes 1 us or less, and none is rounded down
# to 0 as whole milliseconds would be.
first=$(sed -n 's/^financebee_task_duration_seconds_bucket{le="1e-06"} \([0-9]*\)$/\1/p' "$dir/metrics")
total=$(sed -n 's/^financebee_task_duration_seconds_count \([0-9]*\)$/\1/p' "$dir/metrics")
[ "$first" = 0 ] && [ "${total:-0}" -ge "$n" ]
ok $? "metrics: durations in us (le=1e-06: ${first:-none} of ${total:-none})"
families=$(sed -n 's/^\([a-z_]*\)\({.*\)\{0,1\} .*/\1/p' "$dir/metrics" |
    sed 's/_\(bucket\|sum\|count\)$//' | sort -u)
bad=
for f in $families; do
	grep -q "^# TYPE $f " "$dir/metrics" && grep -q "^# HELP $f " "$dir/metrics" ||
	    bad="$bad $f"
done
[ -n "$families" ]
ok $? "metrics: samples present"
is "$bad" "" "metrics: every family has HELP and TYPE lines"
grep -q '^financebee_up 1$' "$dir/metrics"
ok $? "metrics: financebee_up 1"
mtot=$(awk '/^financebee_tasks_total\{/ { s += $2 } END { print s + 0 }' "$dir/metrics")
stot=$(st '[.pool.tasks | to_entries[] | select(.key != "lost") | .value] | add')
is "$mtot" "$stot" "metrics: financebee_tasks_total matches status ($stot)"
for o in applied failed ignored; do
	m=$(sed -n "s/^financebee_tasks_total{outcome=\"$o\"} //p" "$dir/metrics")
	is "$m" "$(st ".pool.tasks.$o")" "metrics: $o count matches status"
done

# --- scale ----------------------------------------------------------------------
is "$(ctl scale 3)" "scaling to 3 bees" "scale 3"
until_ok 30 running_is 3
ok $? "3 bees running"
ctl scale -2 >/dev/null
until_ok 30 running_is 1
ok $? "scale -2: 1 bee running"
ctl scale +1 >/dev/null
until_ok 30 running_is 2
ok $? "scale +1: 2 bees running"
"$CTL" -s "$S" scale 999 >/dev/null 2>"$dir/scale.err"
is "$?" "1" "scale 999 refused (exit 1)"
like "$(cat "$dir/scale.err")" 'at most' "... with the master's reason"

# --- pause, resume ---------------------------------------------------------------
is "$(ctl pause)" "paused" "pause"
is "$(st .state)" "paused" "status: paused"
until_ok 20 all_bees paused paused
ok $? "every bee reports paused" || diag "$(st '[.bees[].state] | join(" ")')"
is "$(ctl resume)" "resumed" "resume"
is "$(st .state)" "running" "status: running again"
until_ok 20 all_bees idle polling
ok $? "bees poll again"

# --- reload ---------------------------------------------------------------------
writeconf 2
is "$(ctl reload)" "reloaded" "reload of a good configuration"
is "$(st .generation)" "2" "generation 2 after the reload"
cp "$dir/fb.conf" "$dir/fb.conf.good"
writeconf 1000
"$CTL" -s "$S" reload >/dev/null 2>"$dir/reload.err"
is "$?" "1" "reload of a bad configuration exits 1"
like "$(cat "$dir/reload.err")" "fb\\.conf:[0-9]+: bees" \
    "... and prints the error with file:line and key"
cat "$dir/reload.err" >>"$OUT"
is "$(st .generation)" "2" "the running configuration is kept"
is "$(ctl ping)" "pong" "daemon alive after a rejected reload"
cp "$dir/fb.conf.good" "$dir/fb.conf"

# --- readonly access through -c ------------------------------------------------------
is "$("$CTL" -c "$dir/fb.conf" ping)" "pong" "fbeectl -c reads admin.socket"

# --- stop --------------------------------------------------------------------------
is "$(ctl stop)" "stopping" "stop"
until_ok 30 sh -c "! kill -0 $DPID 2>/dev/null"
ok $? "financebeed exited after stop"
wait "$DPID"
is "$?" "0" "... with status 0"
[ ! -e "$S" ]
ok $? "admin socket removed"
"$CTL" -s "$S" status >/dev/null 2>&1
is "$?" "69" "fbeectl after stop: exit 69"

# --- no secret anywhere ----------------------------------------------------------------
leaks=
for s in "$FB_OWNER_KEY" "$SEED" "$WHSEC" "$DBPW" "$FB_SUBMITTER_KEY"; do
	grep -qF -- "$s" "$OUT" "$dir/daemon.log" "$dir/metrics" && leaks="$leaks ${s%"${s#????}"}..."
done
is "$leaks" "" "no configured secret in fbeectl output or the daemon log"
check_no_sanitizer_reports "$dir/daemon.log"
done_testing
