#!/bin/sh
# financebeed --migrate / --apply / --dry-run / --prune end to end (config,
# guardian, stripe normalisation, store): every shared fixture gets its
# expected outcome, a generated lifecycle converges whatever the delivery
# order, and the schema and database failures exit with the right status.
. "$(dirname "$0")/lib/fbtest.sh"
FBD=$FB_BUILDDIR/financebeed
[ -x "$FBD" ] || skip_all "financebeed not built"
pg_start || { echo "Bail out! PostgreSQL did not start"; exit 1; }
T=$(fb_tmpdir)
conf() {	# conf FILE [conninfo]
	cat >"$1" <<EOC
database: { conninfo = "${2:-}"; connect_timeout = 2; statement_timeout = 3; };
$(fb_stripe_conf)
EOC
}
CONF=$T/fb.conf
conf "$CONF"
fbd() { "$FBD" -c "$CONF" "$@"; }
reset_db() { psql_q -c "DELETE FROM subscriptions; DELETE FROM processed_webhooks;
	DELETE FROM parked_events; DELETE FROM revenue_ledger;
	UPDATE user_profiles SET is_premium = false, subscription_tier = NULL" >/dev/null; }
counts() { psql_q -c "SELECT (SELECT count(*) FROM subscriptions) || '/' ||
	(SELECT count(*) FROM processed_webhooks) || '/' ||
	(SELECT count(*) FROM parked_events) || '/' ||
	(SELECT count(*) FROM revenue_ledger) || '/' ||
	(SELECT count(*) FROM user_profiles) || '/' ||
	(SELECT count(*) FROM user_profiles WHERE is_premium)"; }

# --- migrations -------------------------------------------------------------
# An installation of version 1 first (only 001 in the directory), then the
# upgrade to what this binary needs.
mkdir "$T/sql1"
cp "$FINANCEBEE_SQLDIR/001_init.sql" "$T/sql1/"
out=$(FINANCEBEE_SQLDIR=$T/sql1 fbd --migrate 2>&1); rc=$?
is "$rc:$out" "0:schema version 1" "--migrate with 001 only: version 1"
out=$(fbd --apply "$(ls "$FB_FIXTURES"/stripe-events/*.json | head -1)" 2>&1)
rc=$?
is "$rc" 78 "a version 1 database is refused by this binary" ||
    diag "$out"
# Money recorded by version 1: a refund and a dispute of one charge, the
# customer's subscription known.  004 gives the dispute its customer/user.
psql_q -c "INSERT INTO user_profiles (id) VALUES
	('0c1d2e3f-4a5b-4c6d-8e7f-8091a2b3c4d5');
    INSERT INTO subscriptions (subscriber_id, stripe_subscription_id,
	stripe_customer_id) VALUES
	('0c1d2e3f-4a5b-4c6d-8e7f-8091a2b3c4d5', 'sub_v1', 'cus_v1');
    INSERT INTO revenue_ledger (kind, stripe_object_id, event_id,
	stripe_customer_id, charge, amount, status) VALUES
	('refund', 'ch_v1', 'evt_v1r', 'cus_v1', 'ch_v1', 500, 'refunded'),
	('dispute', 'dp_v1', 'evt_v1d', NULL, 'ch_v1', 500, 'lost')" >/dev/null
out=$(fbd --migrate 2>&1); rc=$?
is "$rc:$out" "0:schema version 7" "--migrate upgrades to schema version 7"
is "$(psql_q -c "SELECT stripe_customer_id || ':' || subscriber_id
    FROM revenue_ledger WHERE kind = 'dispute'")" \
    "cus_v1:0c1d2e3f-4a5b-4c6d-8e7f-8091a2b3c4d5" \
    "004: a dispute recorded before it gets the customer and user of its refund"
psql_q -c "DELETE FROM revenue_ledger; DELETE FROM subscriptions;
    DELETE FROM user_profiles" >/dev/null
is "$(psql_q -c "SELECT array_to_string(proconfig, ',') FROM pg_proc
    WHERE proname = 'fb_apply_event'")" "enable_seqscan=off" \
    "002: fb_apply_event never plans a sequential scan where an index fits"
out=$(fbd --migrate 2>&1); rc=$?
is "$rc:$out" "0:schema version 7" "--migrate again is a no-op"
is "$(psql_q -c "SELECT string_agg(version || ':' || name, ' '
    ORDER BY version) FROM financebee_schema_version")" \
    "1:001_init.sql 2:002_index_plans.sql 3:003_unpark.sql 4:004_dispute_link.sql 5:005_apply_cost.sql 6:006_apply_cpu.sql 7:007_fewer_statements.sql" \
    "one version row per migration"

# --- every shared fixture, alone on an empty database ----------------------
while read -r file want; do
	reset_db
	out=$(fbd --apply "$FB_FIXTURES/stripe-events/$file" 2>&1); rc=$?
	got=$(printf '%s\n' "$out" | head -1 | cut -d' ' -f2)
	case $want in failed) wrc=65 ;; *) wrc=0 ;; esac
	is "$got:$rc" "$want:$wrc" "$file -> $want" || diag "$out"
	if [ "$want" = failed ]; then
		is "$(counts)" "0/0/0/0/0/0" "  nothing written"
	else
		out=$(fbd --apply "$FB_FIXTURES/stripe-events/$file" 2>&1)
		like "$out" "^[^ ]+ duplicate already $want at " "  again: duplicate"
	fi
done <<'EOF2'
lago-api__charge.dispute.created__1.json applied
lago-api__payment_intent.payment_failed__1.json ignored
stripe-ruby-mock__charge.dispute.closed__1.json applied
stripe-ruby-mock__charge.dispute.created__1.json applied
stripe-ruby-mock__charge.refunded__1.json applied
stripe-ruby-mock__checkout.session.completed__1.json ignored
stripe-ruby-mock__checkout.session.completed__2.json ignored
stripe-ruby-mock__checkout.session.completed__3.json ignored
stripe-ruby-mock__coupon.created__1.json ignored
stripe-ruby-mock__customer.deleted__1.json parked
stripe-ruby-mock__customer.subscription.created__1.json parked
stripe-ruby-mock__customer.subscription.created__2.json parked
stripe-ruby-mock__customer.subscription.deleted__1.json parked
stripe-ruby-mock__customer.subscription.deleted__2.json parked
stripe-ruby-mock__customer.subscription.trial_will_end__1.json ignored
stripe-ruby-mock__customer.subscription.updated__1.json parked
stripe-ruby-mock__customer.subscription.updated__2.json parked
stripe-ruby-mock__invoice.paid__1.json ignored
stripe-ruby-mock__invoice.payment_action_required__1.json ignored
stripe-ruby-mock__invoice.payment_failed__2.json ignored
stripe-ruby-mock__invoice.payment_succeeded__1.json parked
stripe-ruby-mock__invoice.upcoming__1.json ignored
stripe-sync-engine__charge.dispute.created__1.json applied
stripe-sync-engine__checkout.session.completed__1.json failed
stripe-sync-engine__customer.subscription.created__1.json parked
stripe-sync-engine__invoice_payment.paid__1.json ignored
EOF2
n=$(ls "$FB_FIXTURES"/stripe-events/*.json | wc -l)
is "$n" 26 "the table covers every fixture file"

# A rejection names the event once the envelope's id has been checked.
out=$(fbd --apply "$FB_FIXTURES/stripe-events/stripe-sync-engine__checkout.session.completed__1.json" 2>&1)
like "$out" "^evt_T8nSaZqtPudigUMqnnbY4D4v failed event\.livemode: is true" \
    "a live-mode event is rejected by its id"
printf '{"object":"event","id":"evt_1","type":"x.y","created":"soon"}' \
    >"$T/badcreated.json"
out=$(fbd --apply "$T/badcreated.json" 2>&1)
like "$out" "^evt_1 failed event\.created: must be an integer" \
    "a bad created is rejected by the event's id"
printf '{"object":"event","id":"nope","type":"x.y"}' >"$T/badid.json"
out=$(fbd --apply "$T/badid.json" 2>&1)
like "$out" '^- failed event\.id: "nope" is not evt_' \
    "a bad id is rejected without one"

# A real 2013 subscription lifecycle parked, then claimed by a checkout.
reset_db
U=5b7a1e0c-3f0e-4d7a-9c1e-2a6b8d4f0e11
psql_q -c "INSERT INTO user_profiles (id) VALUES ('$U')" >/dev/null
for f in customer.subscription.created__1 customer.subscription.updated__1; do
	fbd --apply "$FB_FIXTURES/stripe-events/stripe-ruby-mock__$f.json" >/dev/null
done
sed -e 's/cs_test_[A-Za-z0-9]*/cs_test_h4claim/' \
    "$FB_SRCDIR/t/data/events/basil-checkout-completed-subscription.json" |
    perl -0pe 's/"subscription": *"[^"]*"/"subscription":"su_00000000000000"/;
	s/"customer": *"[^"]*"/"customer":"cus_00000000000000"/;
	s/"userId": *"[^"]*"/"userId":"'$U'"/; s/"id": *"evt_[^"]*"/"id":"evt_h4claim"/' \
    >"$T/claim.json"
out=$(fbd --apply "$T/claim.json" 2>&1)
like "$out" "^evt_h4claim applied" "checkout claims the parked 2013 events" || diag "$out"
is "$(psql_q -c "SELECT status || ':' || subscriber_id FROM subscriptions")" \
    "active:$U" "  the subscription is the user's, active"
is "$(psql_q -c "SELECT count(*) FROM parked_events")" 0 "  nothing left parked"
is "$(psql_q -c "SELECT is_premium FROM user_profiles WHERE id = '$U'")" t \
    "  the user is premium"

# --- dry run ------------------------------------------------------------------
reset_db
before=$(counts)
out=$(fbd --apply "$T/claim.json" --dry-run 2>&1); rc=$?
first=$(printf '%s\n' "$out" | sed -n 1p)
second=$(printf '%s\n' "$out" | sed -n 2p)
is "$rc:$first" "0:evt_h4claim applied" "--dry-run: first line as usual"
like "$second" "^dry-run \{.*\"is_premium\":true" \
    "--dry-run: second line tells what would change"
is "$(counts)" "$before" "--dry-run wrote nothing"

fingerprint() { psql_q -c "SELECT coalesce((SELECT string_agg(format('%s:%s:%s',
	id, is_premium, subscription_tier), ' ' ORDER BY id) FROM user_profiles), '')
	|| ' | ' || coalesce((SELECT string_agg(format('%s:%s:%s:%s:%s:%s:%s:%s',
	stripe_subscription_id, subscriber_id, status, tier, stripe_customer_id,
	extract(epoch from current_period_start)::bigint,
	extract(epoch from current_period_end)::bigint, cancel_at_period_end),
	' ' ORDER BY stripe_subscription_id) FROM subscriptions), '') || ' | ' ||
	coalesce((SELECT string_agg(format('%s:%s:%s:%s:%s', kind, stripe_object_id,
	subscriber_id, amount, status), ' ' ORDER BY kind, stripe_object_id)
	FROM revenue_ledger), '') || ' | ' || (SELECT count(*) FROM parked_events)"; }
# --- a basil lifecycle from t/data/events, step by step, then out of order -----
EV=$FB_SRCDIR/t/data/events
LU=7c9e6679-7425-40de-944b-e07fc1f90ae7
psql_q -c "INSERT INTO user_profiles (id) VALUES ('$LU')" >/dev/null
lifecycle="checkout-completed-subscription:t:silver
subscription-created-items-period:t:silver
subscription-updated-renewal:t:bronze
invoice-paid-parent:t:bronze
subscription-paused:f:-
charge-refunded:f:-
subscription-resumed:t:silver
subscription-deleted:f:-"
user_state() { psql_q -c "SELECT CASE WHEN is_premium THEN 't' ELSE 'f' END ||
	':' || coalesce(subscription_tier, '-') FROM user_profiles WHERE id = '$LU'"; }
reset_db
for step in $lifecycle; do
	f=${step%%:*}
	out=$(fbd --apply "$EV/basil-$f.json" 2>&1)
	is "$(user_state)" "${step#*:}" "lifecycle $f: user ${step#*:}" || diag "$out"
done
is "$(psql_q -c "SELECT status || ':' || tier || ':' ||
	extract(epoch from current_period_end)::bigint FROM subscriptions")" \
    "canceled:bronze:1769270400" "  ends canceled, bronze, paid through the invoice"
is "$(psql_q -c "SELECT string_agg(kind || ':' || amount || ':' || subscriber_id,
	' ' ORDER BY kind) FROM revenue_ledger")" "invoice:999:$LU refund:999:$LU" \
    "  the invoice and the refund are on the user's ledger"
lwant=$(fingerprint)
reset_db
for f in $(printf '%s\n' $lifecycle | cut -d: -f1 | sed -n '1!G;h;$p'); do
	fbd --apply "$EV/basil-$f.json" >/dev/null 2>&1
done
is "$(fingerprint)" "$lwant" "  the same events in reverse order end in the same rows"
reset_db
for f in $(printf '%s\n' $lifecycle | cut -d: -f1 | sed 1d) checkout-completed-subscription; do
	out=$(fbd --apply "$EV/basil-$f.json" 2>&1)
done
like "$out" "applied$" "  checkout last: applied, claiming the parked events"
is "$(fingerprint)" "$lwant" "  and the same rows again"

# --- a generated lifecycle: in order and shuffled converge --------------------
apply_lines() {	# apply_lines FILE: one event per line through --apply
	i=0; bad=0
	while IFS= read -r line; do
		i=$((i + 1))
		printf '%s' "$line" >"$T/ev.json"
		out=$(fbd --apply "$T/ev.json" 2>&1) || { bad=$((bad + 1)); diag "$out"; }
	done <"$1"
	return $bad
}
perl "$FB_SRCDIR/contrib/gen-events.pl" -n 3 -s 7 -u "$T/users.txt" >"$T/inorder.jsonl"
perl "$FB_SRCDIR/contrib/gen-events.pl" -n 3 -s 7 -S >"$T/shuffled.jsonl"
psql_q -c "DELETE FROM user_profiles" >/dev/null
while read -r u; do psql_q -c "INSERT INTO user_profiles (id) VALUES ('$u')" >/dev/null; done <"$T/users.txt"
reset_db
apply_lines "$T/inorder.jsonl"; ok $? "generated lifecycle ($(wc -l <"$T/inorder.jsonl") events) applies in order"
want=$(fingerprint)
is "$(psql_q -c 'SELECT count(*) FROM parked_events')" 0 "  nothing left parked"
like "$(psql_q -c 'SELECT count(*) FROM user_profiles WHERE is_premium')" '^[1-9]' \
    "  some users are premium"
reset_db
apply_lines "$T/shuffled.jsonl"; ok $? "the same events shuffled apply"
is "$(fingerprint)" "$want" "  and end in the same rows"

# --- prune ---------------------------------------------------------------------
psql_q -c "UPDATE processed_webhooks SET processed_at = now() - '40 days'::interval
	WHERE event_id IN (SELECT event_id FROM processed_webhooks LIMIT 3)" >/dev/null
out=$(fbd --prune 2>&1); rc=$?
is "$rc:$out" "0:pruned 3 rows older than 35 days" "--prune deletes old markers"

# --- schema and database failures ------------------------------------------------
psql_q -c "INSERT INTO financebee_schema_version VALUES (999, 'future')" >/dev/null
out=$(fbd --apply "$T/claim.json" 2>&1); rc=$?
is "$rc" 78 "--apply on a schema version 999 database exits 78"
like "$out" "schema version 999, this binary needs 7" "  with a clear message"
out=$(fbd --migrate 2>&1); rc=$?
like "$rc:$out" "^65:.*newer than" "--migrate refuses a newer database"
psql_q -c "DELETE FROM financebee_schema_version WHERE version = 999" >/dev/null

psql_q -c "CREATE DATABASE fbbad" >/dev/null
PGDATABASE=fbbad psql_q -c "CREATE TABLE user_profiles (id uuid PRIMARY KEY, tier text)" >/dev/null
out=$(PGDATABASE=fbbad fbd --migrate 2>&1); rc=$?
is "$rc" 65 "--migrate with a foreign user_profiles exits 65"
like "$out" "user_profiles exists but lacks column\(s\): subscription_tier text, is_premium boolean, updated_at" \
    "  naming the missing columns"
is "$(PGDATABASE=fbbad psql_q -c "SELECT count(*) FROM pg_tables WHERE tablename IN
	('subscriptions', 'financebee_schema_version')")" 0 "  and installs nothing"

conf "$T/down.conf" "host=$T/nonexistent password=hunter2secret"
chmod 600 "$T/down.conf"
out=$("$FBD" -c "$T/down.conf" --migrate 2>&1); rc=$?
is "$rc" 75 "database down: --migrate exits 75"
unlike "$out" "hunter2secret" "  and the password is not in the message"
out=$("$FBD" -c "$T/down.conf" --apply "$T/claim.json" 2>&1); rc=$?
is "$rc" 75 "database down: --apply exits 75"
# The guardian runs before the database is touched: bad input is bad input.
printf '{"id": "evt_dup", "id": "evt_dup2"}' >"$T/hostile.json"
out=$("$FBD" -c "$T/down.conf" --apply "$T/hostile.json" 2>&1); rc=$?
is "$rc" 65 "database down: a hostile body is still bad input (65), not 75"
like "$out" "duplicate object key" "  naming what is wrong with it"
done_testing
