#!/bin/sh
# contrib/demo.sh: install what is missing, build, and run financebee for
# real against a throwaway PostgreSQL 15 cluster and the bundled ColonyOS
# server (minicolonies): 4 bees process the shared real Stripe fixtures plus
# a few hundred generated subscription lifecycles; then `fbeectl status` and
# a summary of the rows.  Everything it starts is stopped on exit.
#
#   sh contrib/demo.sh [--keep] [USERS]     (default 100 generated users)
#
# --keep leaves financebeed, PostgreSQL and minicolonies running after the
# summary, for trying fbeectl by hand; it says how to stop them.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
keep=
if [ "${1:-}" = --keep ]; then
	keep=1
	shift
fi
case ${1:-100} in
*[!0-9]* | "") echo "usage: sh contrib/demo.sh [--keep] [USERS]" >&2; exit 64 ;;
esac
sh contrib/deps.sh
echo "== building"
sh contrib/build.sh build

users=${1:-100}
FB_BUILDDIR=$top/build FB_SRCDIR=$top
export FB_BUILDDIR FB_SRCDIR
# The test harness gives us throwaway servers cleaned up by PID on exit.
. "$top/t/lib/fbtest.sh"
set -e
bin=$FB_BUILDDIR
dir=$(fb_tmpdir)

pg_start
echo "== PostgreSQL 15 (throwaway cluster in $FB_PGDIR)"
echo "== minicolonies (bundled ColonyOS server)"
mc_start
echo "   $FB_COLONIES_URL"

umask 077
printf '%s\n' "$FB_OWNER_KEY" >"$dir/owner.key"
printf '%s\n' "$FB_SERVER_KEY" >"$dir/server.key"
printf '%s\n' "$FB_SUBMITTER_KEY" >"$dir/submitter.key"
"$bin/minicolonies" keygen "$dir/executor.seed" >/dev/null
umask 022
mc setup --colony "$FB_COLONY" --server-key-file "$dir/server.key" \
    --owner-key-file "$dir/owner.key" --submitter-key-file "$dir/submitter.key" \
    >/dev/null

cat >"$dir/financebee.conf" <<EOF
bees = 4;
colonies: {
	url = "$FB_COLONIES_URL";
	colony = "$FB_COLONY";
	executor_type = "financebee";
	executor_prefix = "demo";
	executor_seed_file = "$dir/executor.seed";
	owner_key_file = "$dir/owner.key";
	poll_timeout = 2;
	lease = 30;
};
database: { conninfo = ""; };
$(fb_stripe_conf)
supervision: { task_timeout = 20; shutdown_timeout = 10; };
admin: { socket = "$dir/financebeed.sock"; mode = "0600"; };
log: { level = "info"; target = "$dir/financebeed.log"; };
EOF
chmod 600 "$dir/financebee.conf"

echo "== schema"
"$bin/financebeed" -c "$dir/financebee.conf" --migrate

echo "== generating $users subscription lifecycles"
perl "$top/contrib/gen-events.pl" -n "$users" -s 42 -S -u "$dir/users.txt" \
    >"$dir/events.jsonl"
# The application owns user_profiles; the demo plays the application.
sed "s/.*/INSERT INTO user_profiles(id) VALUES ('&');/" "$dir/users.txt" |
    psql_q >/dev/null

echo "== financebeed with 4 bees"
"$bin/financebeed" -c "$dir/financebee.conf" &
fbpid=$!
fb_track_pid "$fbpid"

submit() {
	mc submit --key-file "$dir/submitter.key" --colony "$FB_COLONY" \
	    --type financebee --maxexectime 30 --maxretries 3 "$@"
}
nfix=$(ls "$FB_FIXTURES"/stripe-events/*.json | wc -l)
submit "$FB_FIXTURES"/stripe-events/*.json >"$dir/ids" </dev/null
submit --stdin-lines <"$dir/events.jsonl" >>"$dir/ids"
total=$(wc -l <"$dir/ids")
echo "   submitted $total processes ($nfix real Stripe fixtures," \
    "$(wc -l <"$dir/events.jsonl") generated events)"

echo "== waiting until every process is closed"
mc wait --colony "$FB_COLONY" --count "$total" --timeout 300
# Bees report their counters every metrics interval; give them one.
for _ in $(seq 1 50); do
	done_tasks=$("$bin/fbeectl" -s "$dir/financebeed.sock" status --json |
	    jq '[.pool.tasks[]] | add')
	[ "$done_tasks" -ge "$total" ] && break
	sleep 0.2
done

echo "== fbeectl status"
"$bin/fbeectl" -s "$dir/financebeed.sock" status

echo "== what the bees did (process outcomes, from minicolonies)"
mc dump --colony "$FB_COLONY" >"$dir/dump.jsonl"
jq -r 'if .state == 2 then "successful " + (.out[0].outcome // "?")
    elif .state == 3 then "failed     " + ((.errors // []) | join("; "))
    else "state " + (.state | tostring) end' "$dir/dump.jsonl" |
    sort | uniq -c | sort -rn | sed 's/^/  /'
echo "== resulting rows"
psql_q -F ' ' -c "SELECT 'subscriptions', status, count(*) FROM subscriptions
    GROUP BY 2 ORDER BY 2" | sed 's/^/   /'
psql_q -F ' ' -c "SELECT 'premium users by tier', coalesce(subscription_tier, '-'),
    count(*) FROM user_profiles WHERE is_premium GROUP BY 2 ORDER BY 2" |
    sed 's/^/   /'
psql_q -F ' ' -c "SELECT 'users without premium', count(*) FROM user_profiles
    WHERE NOT coalesce(is_premium, false)" | sed 's/^/   /'

if [ -n "$keep" ]; then
	cat <<EOF
== still running (--keep): financebeed (pid $fbpid, 4 bees), PostgreSQL,
   minicolonies.  In another terminal:
     $bin/fbeectl -s $dir/financebeed.sock status
     $bin/fbeectl -s $dir/financebeed.sock scale +2
     PGHOST=$PGHOST PGPORT=$PGPORT psql financebee
     tail -f $dir/financebeed.log
   Stop everything: $bin/fbeectl -s $dir/financebeed.sock stop
   (or Ctrl-C here); the throwaway servers are then removed.
EOF
	wait "$fbpid" 2>/dev/null || true
	echo "== financebeed stopped; removing the throwaway servers"
	exit 0
fi
"$bin/fbeectl" -s "$dir/financebeed.sock" stop >/dev/null
wait "$fbpid" 2>/dev/null || true
echo "== done (financebeed stopped; the throwaway servers are removed)"
