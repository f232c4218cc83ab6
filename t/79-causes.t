#!/bin/sh
# Failures by cause, ignored and duplicate events by Stripe event type,
# from the real fixtures: the live-mode one fails ("livemode"), a body
# that is not JSON fails ("guardian"), the types financebee does not
# handle are ignored (some fixtures share an event id, so duplicates come
# at once); submitted again, every event is a duplicate.  The counts by
# type must equal what ColonyOS recorded per process (its outcome) joined
# with each fixture's type; status --json and Prometheus agree.
. "$(dirname "$0")/lib/fbtest.sh"
. "$(dirname "$0")/lib/fbtest-daemon.sh"

FBD_BEES=2
fbd_setup || skip_all "cannot set up PostgreSQL + minicolonies"
plan 14

ctl() { timeout 5 "$FB_BUILDDIR/fbeectl" -s "$FBD_SOCK" "$@"; }
st() { ctl status --json | jq -r ".pool.$1"; }
all_counted() { [ "$(ctl status --json | jq '[.pool.tasks[]] | add')" = "$FBD_SUBMITTED" ]; }
fbd_start || { echo "Bail out! financebeed did not start"; exit 1; }
fbd_wait_bees 2

for f in "$FB_FIXTURES"/stripe-events/*.json; do jq -r .type "$f"; done \
    >"$FBD_DIR/types"
fbd_submit_fixtures
paste "$FBD_DIR/last.ids" "$FBD_DIR/types" >"$FBD_DIR/map"
echo 'this is not json' >"$FBD_DIR/bad.txt"
_fbd_submit --stdin-lines <"$FBD_DIR/bad.txt"
fbd_wait_closed 60
ok $? "every process closed: $FBD_WAIT"
until_ok 10 all_counted
ok $? "every task counted"
is "$(st failed_by_cause.livemode)" 1 "the live-mode fixture: failed, livemode"
is "$(st failed_by_cause.guardian)" 1 "the body that is not JSON: failed, guardian"
is "$(ctl status --json | jq '[.pool.failed_by_cause[]] | add')" "$(st tasks.failed)" \
    "failures by cause add up to the failed tasks"

fbd_submit_fixtures
paste "$FBD_DIR/last.ids" "$FBD_DIR/types" >>"$FBD_DIR/map"
fbd_wait_closed 60
ok $? "the fixtures again: every process closed"
until_ok 10 all_counted
ok $? "every task counted"
is "$(st failed_by_cause.livemode)" 2 "the live-mode fixture failed again"

# What ColonyOS holds: each process' outcome, joined with its type.
ctl metrics >"$FBD_DIR/m.txt"
sed -n 's/^financebee_events_total{outcome="ignored",type="\([^"]*\)"}.*/\1/p' \
    "$FBD_DIR/m.txt" >"$FBD_DIR/table"
mc dump --colony "$FB_COLONY" --full | jq -r 'select(.state == 2) |
    [.processid, .out[0].outcome] | @tsv' | sort >"$FBD_DIR/outs"
sort "$FBD_DIR/map" | join -t "$(printf '\t')" - "$FBD_DIR/outs" |
    awk -F '\t' 'NR == FNR { known[$1] = 1; next }
    $3 == "ignored" || $3 == "duplicate" {
	t = ($2 in known) ? $2 : "other"; n[$3 "\t" t]++ }
    END { for (k in n) print k "\t" n[k] }' "$FBD_DIR/table" - |
    sort >"$FBD_DIR/expected"
ctl status --json | jq -r '.pool | (.ignored_by_type | to_entries[] |
    "ignored\t\(.key)\t\(.value)"), (.duplicate_by_type | to_entries[] |
    "duplicate\t\(.key)\t\(.value)")' | sort >"$FBD_DIR/got"
[ -s "$FBD_DIR/expected" ] && grep -q '^ignored' "$FBD_DIR/expected" &&
    grep -q '^duplicate' "$FBD_DIR/expected" &&
    grep -q 'other' "$FBD_DIR/expected"
ok $? "the fixtures give ignored, duplicate and \"other\" events"
diff "$FBD_DIR/expected" "$FBD_DIR/got" >"$FBD_DIR/diff"
ok $? "status: ignored and duplicate by type = ColonyOS' outcomes by fixture type $(tr '\n\t' '  ' <"$FBD_DIR/diff")"
sed -n 's/^financebee_events_total{outcome="\([a-z]*\)",type="\([^"]*\)"} \([1-9][0-9]*\)$/\1\t\2\t\3/p' \
    "$FBD_DIR/m.txt" | sort >"$FBD_DIR/prom"
diff "$FBD_DIR/expected" "$FBD_DIR/prom" >/dev/null
ok $? "metrics: financebee_events_total agrees"
grep -q '^financebee_failures_total{cause="livemode"} 2$' "$FBD_DIR/m.txt"
ok $? "metrics: financebee_failures_total{cause=\"livemode\"} 2"
if command -v promtool >/dev/null 2>&1; then
	promtool check metrics <"$FBD_DIR/m.txt" >"$FBD_DIR/promtool.out" 2>&1
	ok $? "promtool check metrics: clean ($(tr '\n' ' ' <"$FBD_DIR/promtool.out"))"
else
	ok 0 "# SKIP promtool is not installed"
fi
ctl stop >/dev/null
fbd_wait_gone 30
check_no_sanitizer_reports "$FBD_LOG"
done_testing
