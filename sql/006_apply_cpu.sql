-- 006_apply_cpu.sql: financebee schema version 6.
--
-- The same rules, results, locks and lock order, for less of the
-- database's CPU per event (issue #16).  Counted in instructions of a
-- backend (valgrind, single-user mode, the first 1,000 change documents
-- of a shuffled gen-events.pl run of 1,252 users, one at a time): 1,104k
-- per event at version 5, 940k now.
--
-- "WHERE stripe_customer_id = cus ORDER BY id LIMIT 1" (the user of a
-- customer: a new subscription, a refund, a dispute) may be planned, and
-- its plan cached for the connection, as a walk of the primary key in id
-- order that filters on the customer: when the statistics are of a small
-- table, that looks as cheap as the customer's index and spares a sort.
-- It then reads every subscription for a customer that has none: seen
-- as 78 blocks a call on 1,300 rows, 180 us, growing with the table.
-- The customer's index now carries id as well, so one index gives both
-- the rows and their order, the cheapest plan for any statistics; the
-- same writes as before.
DROP INDEX subscriptions_customer;
CREATE INDEX subscriptions_customer ON subscriptions (stripe_customer_id, id);

-- A statement of a PL/pgSQL function is planned for its first five calls
-- with the parameters' values, and then once for all (a generic plan)
-- when that plan is not dearer than the custom ones were on average.
-- fb_link_disputes() ran "charge = ch OR payment_intent = pi" with ch and
-- pi NULL for every basil invoice (they name no payment): the planner
-- folds that to a constant false, a plan of cost zero that no generic
-- plan can match, so the statement was planned again on every call
-- (pg_stat_statements: 2,100 plans for 2,096 calls).  Now nothing is run
-- when there is nothing to link, and each shape of the key (charge,
-- payment intent, or both) is its own statement with its own stable
-- plan; the same for fb_payment_customer().
CREATE OR REPLACE FUNCTION fb_link_disputes(ch text, pi text, cus text,
    sub text, uid uuid) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	IF cus IS NULL AND sub IS NULL AND uid IS NULL THEN
		RETURN;
	ELSIF ch IS NOT NULL AND pi IS NOT NULL THEN
		UPDATE revenue_ledger SET
		    stripe_customer_id = coalesce(stripe_customer_id, cus),
		    stripe_subscription_id = coalesce(stripe_subscription_id,
			sub),
		    subscriber_id = coalesce(subscriber_id, uid),
		    updated_at = now()
		    WHERE kind = 'dispute' AND (charge = ch OR
			payment_intent = pi)
			AND ((stripe_customer_id IS NULL AND cus IS NOT NULL)
			OR (stripe_subscription_id IS NULL AND sub IS NOT NULL)
			OR (subscriber_id IS NULL AND uid IS NOT NULL));
	ELSIF ch IS NOT NULL THEN
		UPDATE revenue_ledger SET
		    stripe_customer_id = coalesce(stripe_customer_id, cus),
		    stripe_subscription_id = coalesce(stripe_subscription_id,
			sub),
		    subscriber_id = coalesce(subscriber_id, uid),
		    updated_at = now()
		    WHERE kind = 'dispute' AND charge = ch
			AND ((stripe_customer_id IS NULL AND cus IS NOT NULL)
			OR (stripe_subscription_id IS NULL AND sub IS NOT NULL)
			OR (subscriber_id IS NULL AND uid IS NOT NULL));
	ELSIF pi IS NOT NULL THEN
		UPDATE revenue_ledger SET
		    stripe_customer_id = coalesce(stripe_customer_id, cus),
		    stripe_subscription_id = coalesce(stripe_subscription_id,
			sub),
		    subscriber_id = coalesce(subscriber_id, uid),
		    updated_at = now()
		    WHERE kind = 'dispute' AND payment_intent = pi
			AND ((stripe_customer_id IS NULL AND cus IS NOT NULL)
			OR (stripe_subscription_id IS NULL AND sub IS NOT NULL)
			OR (subscriber_id IS NULL AND uid IS NOT NULL));
	END IF;
END
$$;

CREATE OR REPLACE FUNCTION fb_payment_customer(ch text, pi text) RETURNS text
LANGUAGE plpgsql STABLE AS $$
BEGIN
	IF ch IS NOT NULL AND pi IS NOT NULL THEN
		RETURN (SELECT stripe_customer_id FROM revenue_ledger
		    WHERE kind IN ('invoice', 'refund')
			AND (charge = ch OR payment_intent = pi)
			AND stripe_customer_id IS NOT NULL
		    ORDER BY stripe_subscription_id IS NULL, id LIMIT 1);
	ELSIF ch IS NOT NULL THEN
		RETURN (SELECT stripe_customer_id FROM revenue_ledger
		    WHERE kind IN ('invoice', 'refund') AND charge = ch
			AND stripe_customer_id IS NOT NULL
		    ORDER BY stripe_subscription_id IS NULL, id LIMIT 1);
	ELSIF pi IS NOT NULL THEN
		RETURN (SELECT stripe_customer_id FROM revenue_ledger
		    WHERE kind IN ('invoice', 'refund') AND payment_intent = pi
			AND stripe_customer_id IS NOT NULL
		    ORDER BY stripe_subscription_id IS NULL, id LIMIT 1);
	END IF;
	RETURN NULL;
END
$$;

-- fb_lock_keys() ran a statement (unnest, DISTINCT, sort) for one or two
-- keys: ~60,000 instructions a call, and an invoice makes two calls.  One
-- or two keys are now hashed, ordered and locked by PL/pgSQL assignments,
-- which need no executor (the void result is cast to text only to be
-- assigned).  The same locks in the same order: the distinct hashes of the
-- non-NULL keys, ascending (pg_advisory_xact_lock() is strict: a NULL key
-- locks nothing).  Longer lists keep the statement.
CREATE OR REPLACE FUNCTION fb_lock_keys(keys text[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	a	integer;
	b	integer;
	done	text;
BEGIN
	IF cardinality(keys) = 1 THEN
		done := pg_advisory_xact_lock(1178748417, hashtext(keys[1]))::text;
	ELSIF cardinality(keys) = 2 THEN
		a := hashtext(keys[1]);
		b := hashtext(keys[2]);
		done := pg_advisory_xact_lock(1178748417, least(a, b))::text;
		IF a <> b THEN
			done := pg_advisory_xact_lock(1178748417,
			    greatest(a, b))::text;
		END IF;
	ELSIF cardinality(keys) > 2 THEN
		PERFORM pg_advisory_xact_lock(1178748417, h)
		    FROM (SELECT DISTINCT hashtext(k) AS h FROM unnest(keys) AS k
			WHERE k IS NOT NULL ORDER BY 1) AS s;
	END IF;
END
$$;

-- The elements of a JSON array as text (as jsonb_array_elements_text()
-- gives them), NULL for anything else: a loop of assignments, not a
-- statement.  The lists are the configuration's few tiers and statuses.
CREATE OR REPLACE FUNCTION fb_textarray(v jsonb) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
	r	text[] := '{}';
	i	integer;
BEGIN
	IF jsonb_typeof(v) IS DISTINCT FROM 'array' THEN
		RETURN NULL;
	END IF;
	FOR i IN 0 .. jsonb_array_length(v) - 1 LOOP
		r := r || (v->>i);
	END LOOP;
	RETURN r;
END
$$;

-- A call of a function for its effect alone ("PERFORM f(...)") is a
-- statement: the executor is set up and torn down around it.  Assigned,
-- the same call is an expression that PL/pgSQL evaluates by itself, so
-- the appliers below assign the void result of fb_lock_keys(),
-- fb_link_disputes() and fb_attach_ledger() (cast to text) to a variable
-- that nothing reads.  Their bodies are otherwise those of the versions
-- named.

-- fb_apply_subscription: as in 003_unpark.sql.
CREATE OR REPLACE FUNCTION fb_apply_subscription(c jsonb, from_park boolean)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	nil	text;
	sub	text := c->>'subscription';
	cus	text := c->>'customer';
	created	bigint := (c->>'created')::bigint;
	st	text := c->>'status';
	r	subscriptions%ROWTYPE;
	uid	uuid;
	terminal boolean;
	un	jsonb;
BEGIN
	IF sub IS NULL THEN
		RAISE EXCEPTION 'subscription event without a subscription id'
		    USING ERRCODE = 'FB005';
	END IF;
	IF c->>'type' = 'customer.subscription.deleted' THEN
		st := 'canceled';
	END IF;
	nil := fb_lock_keys(ARRAY['s:' || sub, 'c:' || cus])::text;
	SELECT * INTO r FROM subscriptions
	    WHERE stripe_subscription_id = sub FOR UPDATE;
	IF FOUND THEN
		IF r.stripe_event_created > created THEN
			RETURN jsonb_build_object('outcome', 'stale', 'reason',
			    format('older than the last applied event of %s '
				'(created %s < %s)', sub, created,
				r.stripe_event_created));
		END IF;
		uid := r.subscriber_id;
		-- A terminal status is never left (no resurrection); a newer
		-- snapshot still records its period, so the row does not
		-- depend on whether customer.deleted came first.
		terminal := r.status IN ('canceled', 'incomplete_expired');
		UPDATE subscriptions SET
		    status = CASE WHEN terminal THEN status
			ELSE coalesce(st, status) END,
		    tier = coalesce(c->>'tier', tier),
		    stripe_customer_id = coalesce(cus, stripe_customer_id),
		    sub_period_start = coalesce(fb_ts(c->'period_start'),
			sub_period_start),
		    sub_period_end = coalesce(fb_ts(c->'period_end'),
			sub_period_end),
		    cancel_at_period_end = coalesce(
			(c->>'cancel_at_period_end')::boolean,
			cancel_at_period_end),
		    trial_end = coalesce(fb_ts(c->'trial_end'), trial_end),
		    stripe_event_created = created,
		    updated_at = now()
		    WHERE id = r.id;
		IF terminal THEN
			RETURN jsonb_build_object('outcome', 'stale', 'reason',
			    format('subscription %s is already %s', sub,
				r.status));
		END IF;
	ELSE
		IF c ? 'user_id' THEN
			uid := fb_uuid(c->>'user_id');
			PERFORM 1 FROM user_profiles WHERE id = uid;
			IF NOT FOUND THEN
				RAISE EXCEPTION 'unknown user %', uid
				    USING ERRCODE = 'FB001';
			END IF;
		ELSIF cus IS NOT NULL THEN
			SELECT subscriber_id INTO uid FROM subscriptions
			    WHERE stripe_customer_id = cus ORDER BY id LIMIT 1;
		END IF;
		IF uid IS NULL THEN
			IF from_park THEN
				RETURN jsonb_build_object('outcome', 'parked');
			END IF;
			RETURN fb_park(c, sub, cus);
		END IF;
		INSERT INTO subscriptions (subscriber_id, status, tier,
		    stripe_subscription_id, stripe_customer_id,
		    sub_period_start, sub_period_end, cancel_at_period_end,
		    trial_end, stripe_event_created)
		VALUES (uid, st, c->>'tier', sub, cus,
		    fb_ts(c->'period_start'), fb_ts(c->'period_end'),
		    coalesce((c->>'cancel_at_period_end')::boolean, false),
		    fb_ts(c->'trial_end'), created);
		nil := fb_attach_ledger(cus, uid)::text;
		un := fb_unpark(sub, cus);
	END IF;
	RETURN jsonb_build_object('outcome', 'applied', 'users',
	    jsonb_build_array(uid) || coalesce(un->'users', '[]'),
	    'detail', jsonb_build_object('subscription', sub,
		'status', coalesce(st, r.status)) || CASE WHEN un IS NULL
		THEN '{}' ELSE jsonb_build_object('unparked',
		    un->'unparked') END);
END
$$;

-- fb_apply_invoice: as in 004_dispute_link.sql.
CREATE OR REPLACE FUNCTION fb_apply_invoice(c jsonb, from_park boolean) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	nil	text;
	inv	text := c->>'invoice';
	sub	text := c->>'subscription';
	ps	timestamptz := fb_ts(c->'period_start');
	pe	timestamptz := fb_ts(c->'period_end');
	ch	text := c->>'charge';
	pi	text := c->>'payment_intent';
	uid	uuid;
	sid	bigint;
BEGIN
	IF inv IS NULL THEN
		RETURN jsonb_build_object('outcome', 'ignored',
		    'reason', 'invoice without an id');
	END IF;
	IF sub IS NULL THEN
		RETURN jsonb_build_object('outcome', 'ignored',
		    'reason', 'invoice not linked to a subscription');
	END IF;
	IF NOT coalesce((c->>'paid')::boolean, false) THEN
		RETURN jsonb_build_object('outcome', 'ignored',
		    'reason', 'invoice not paid');
	END IF;
	nil := fb_lock_keys(ARRAY['s:' || sub])::text;
	nil := fb_lock_keys(ARRAY['ch:' || ch, 'pi:' || pi])::text;
	SELECT id, subscriber_id INTO sid, uid FROM subscriptions
	    WHERE stripe_subscription_id = sub FOR UPDATE;
	INSERT INTO revenue_ledger AS l (kind, stripe_object_id, event_id,
	    stripe_subscription_id, stripe_customer_id, subscriber_id, charge,
	    payment_intent, amount, currency, status, stripe_event_created)
	VALUES ('invoice', inv, c->>'event_id', sub, c->>'customer', uid, ch,
	    pi, (c->>'amount_paid')::bigint, c->>'currency', 'paid',
	    (c->>'created')::bigint)
	ON CONFLICT (kind, stripe_object_id) DO UPDATE
	    SET subscriber_id = coalesce(l.subscriber_id,
		excluded.subscriber_id),
		charge = coalesce(l.charge, excluded.charge),
		payment_intent = coalesce(l.payment_intent,
		    excluded.payment_intent),
		updated_at = now()
	    WHERE (l.subscriber_id IS NULL AND excluded.subscriber_id IS NOT NULL)
		OR (l.charge IS NULL AND excluded.charge IS NOT NULL)
		OR (l.payment_intent IS NULL
		    AND excluded.payment_intent IS NOT NULL);
	nil := fb_link_disputes(ch, pi, c->>'customer', sub, uid)::text;
	IF sid IS NULL THEN
		IF from_park THEN
			RETURN jsonb_build_object('outcome', 'parked');
		END IF;
		RETURN fb_park(c, sub, NULL);
	END IF;
	IF pe IS NOT NULL THEN
		UPDATE subscriptions SET
		    invoice_period_start = CASE WHEN invoice_period_end IS NULL
			OR pe > invoice_period_end THEN ps
			ELSE invoice_period_start END,
		    invoice_period_end = greatest(invoice_period_end, pe),
		    updated_at = now()
		    WHERE id = sid AND (invoice_period_end IS NULL
			OR pe > invoice_period_end);
	END IF;
	RETURN jsonb_build_object('outcome', 'applied', 'detail',
	    jsonb_build_object('invoice', inv, 'subscription', sub,
		'period_end', pe));
END
$$;

-- fb_apply_checkout: as in 003_unpark.sql.
CREATE OR REPLACE FUNCTION fb_apply_checkout(c jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	nil	text;
	sub	text := c->>'subscription';
	cus	text := c->>'customer';
	ctier	text := c->>'tier';
	paid	boolean := coalesce((c->>'paid')::boolean, false);
	uid	uuid;
	r	subscriptions%ROWTYPE;
	users	jsonb := '[]';
	un	jsonb;
BEGIN
	IF c->>'mode' IS DISTINCT FROM 'subscription' THEN
		RETURN jsonb_build_object('outcome', 'ignored', 'reason',
		    'checkout mode ' || coalesce(c->>'mode', 'null'));
	END IF;
	uid := fb_uuid(c->>'user_id');
	PERFORM 1 FROM user_profiles WHERE id = uid;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'unknown user %', uid USING ERRCODE = 'FB001';
	END IF;
	IF (ctier = ANY (fb_textarray(c->'tiers'))) IS NOT TRUE THEN
		RAISE EXCEPTION 'unknown tier %', coalesce(left(ctier, 64), 'null')
		    USING ERRCODE = 'FB002';
	END IF;
	IF sub IS NULL THEN
		IF NOT paid THEN
			RETURN jsonb_build_object('outcome', 'ignored',
			    'reason', 'unpaid checkout without a subscription');
		END IF;
		RAISE EXCEPTION 'checkout without a subscription id'
		    USING ERRCODE = 'FB003';
	END IF;
	nil := fb_lock_keys(ARRAY['s:' || sub, 'c:' || cus])::text;
	SELECT * INTO r FROM subscriptions
	    WHERE stripe_subscription_id = sub FOR UPDATE;
	IF NOT FOUND THEN
		INSERT INTO subscriptions (subscriber_id, status, tier,
		    stripe_subscription_id, stripe_customer_id,
		    checkout_session)
		VALUES (uid, CASE WHEN paid THEN 'active' ELSE 'incomplete' END,
		    ctier, sub, cus, c->>'session');
		nil := fb_attach_ledger(cus, uid)::text;
	ELSE
		-- The checkout names the user.  The status it implies only
		-- stands until a subscription event says otherwise, and never
		-- goes back from paid.
		IF r.subscriber_id <> uid THEN
			users := users || to_jsonb(r.subscriber_id);
		END IF;
		UPDATE subscriptions SET
		    subscriber_id = uid,
		    tier = coalesce(tier, ctier),
		    stripe_customer_id = coalesce(stripe_customer_id, cus),
		    checkout_session = coalesce(checkout_session, c->>'session'),
		    status = CASE WHEN stripe_event_created IS NOT NULL THEN status
			WHEN paid THEN 'active'
			ELSE coalesce(status, 'incomplete') END,
		    updated_at = now()
		    WHERE id = r.id;
	END IF;
	users := users || to_jsonb(uid);

	un := fb_unpark(sub, cus);
	users := users || (un->'users');
	RETURN jsonb_build_object('outcome', 'applied', 'users', users,
	    'detail', jsonb_build_object('subscription', sub,
		'user', uid, 'paid', paid, 'unparked', un->'unparked'));
END
$$;

-- fb_apply_refund: as in 004_dispute_link.sql.
CREATE OR REPLACE FUNCTION fb_apply_refund(c jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	nil	text;
	ch	text := c->>'charge';
	uid	uuid;
BEGIN
	IF ch IS NULL THEN
		RETURN jsonb_build_object('outcome', 'ignored',
		    'reason', 'refund without a charge id');
	END IF;
	nil := fb_lock_keys(ARRAY['c:' || (c->>'customer')])::text;
	nil := fb_lock_keys(ARRAY['ch:' || ch, 'pi:' || (c->>'payment_intent')])::text;
	SELECT subscriber_id INTO uid FROM subscriptions
	    WHERE stripe_customer_id = c->>'customer' ORDER BY id LIMIT 1;
	INSERT INTO revenue_ledger AS l (kind, stripe_object_id, event_id,
	    stripe_customer_id, subscriber_id, charge, payment_intent, amount,
	    currency, status, stripe_event_created)
	VALUES ('refund', ch, c->>'event_id', c->>'customer', uid, ch,
	    c->>'payment_intent', (c->>'amount_refunded')::bigint,
	    c->>'currency', 'refunded', (c->>'created')::bigint)
	ON CONFLICT (kind, stripe_object_id) DO UPDATE SET
	    amount = greatest(l.amount, excluded.amount),
	    subscriber_id = coalesce(l.subscriber_id, excluded.subscriber_id),
	    event_id = CASE WHEN excluded.amount > l.amount
		THEN excluded.event_id ELSE l.event_id END,
	    updated_at = now();
	nil := fb_link_disputes(ch, c->>'payment_intent', c->>'customer',
	    NULL, uid)::text;
	RETURN jsonb_build_object('outcome', 'applied', 'detail',
	    jsonb_build_object('refund', ch, 'user', uid));
END
$$;

-- fb_apply_dispute: as in 004_dispute_link.sql.
CREATE OR REPLACE FUNCTION fb_apply_dispute(c jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	nil	text;
	dp	text := c->>'dispute';
	ch	text := c->>'charge';
	pi	text := c->>'payment_intent';
	cus	text;
	sub	text;
	uid	uuid;
BEGIN
	IF dp IS NULL THEN
		RETURN jsonb_build_object('outcome', 'ignored',
		    'reason', 'dispute without an id');
	END IF;
	-- The customer's lock comes before the payment's, as everywhere, so
	-- it is read first; a refund or invoice of the payment committed
	-- between that read and the locks makes this a retry (SQLSTATE 40001,
	-- transient), never a wait in the wrong order.
	cus := fb_payment_customer(ch, pi);
	nil := fb_lock_keys(ARRAY['c:' || cus])::text;
	nil := fb_lock_keys(ARRAY['ch:' || ch, 'pi:' || pi])::text;
	IF fb_payment_customer(ch, pi) IS DISTINCT FROM cus THEN
		RAISE EXCEPTION 'the payment of dispute % was recorded '
		    'concurrently', dp USING ERRCODE = '40001';
	END IF;
	-- The first by id of a payment's few rows, without "ORDER BY id
	-- LIMIT 1", which may be planned as a walk of the whole primary key.
	SELECT (array_agg(stripe_subscription_id ORDER BY id))[1] INTO sub
	    FROM revenue_ledger
	    WHERE kind = 'invoice' AND (charge = ch OR payment_intent = pi)
		AND stripe_subscription_id IS NOT NULL;
	IF cus IS NOT NULL THEN
		SELECT subscriber_id INTO uid FROM subscriptions
		    WHERE stripe_customer_id = cus ORDER BY id LIMIT 1;
	END IF;
	INSERT INTO revenue_ledger AS l (kind, stripe_object_id, event_id,
	    stripe_subscription_id, stripe_customer_id, subscriber_id,
	    charge, payment_intent, amount, currency, status, reason,
	    stripe_event_created)
	VALUES ('dispute', dp, c->>'event_id', sub, cus, uid, ch, pi,
	    (c->>'amount')::bigint, c->>'currency', c->>'status',
	    c->>'reason', (c->>'created')::bigint)
	ON CONFLICT (kind, stripe_object_id) DO UPDATE SET
	    status = excluded.status, reason = excluded.reason,
	    amount = excluded.amount, event_id = excluded.event_id,
	    stripe_event_created = excluded.stripe_event_created,
	    updated_at = now()
	    WHERE l.stripe_event_created IS NULL
		OR excluded.stripe_event_created >= l.stripe_event_created;
	-- The links, whether or not this event is the newer: what the row
	-- lacks, as a refund or invoice of the payment fills it.
	nil := fb_link_disputes(ch, pi, cus, sub, uid)::text;
	RETURN jsonb_build_object('outcome', 'applied', 'detail',
	    jsonb_build_object('dispute', dp, 'status', c->>'status',
		'user', uid));
END
$$;

-- fb_apply_customer_deleted: as in 001_init.sql.
CREATE OR REPLACE FUNCTION fb_apply_customer_deleted(c jsonb, from_park boolean)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	nil	text;
	cus	text := c->>'customer';
	users	jsonb;
	n	integer;
BEGIN
	IF cus IS NULL THEN
		RETURN jsonb_build_object('outcome', 'ignored',
		    'reason', 'customer.deleted without a customer id');
	END IF;
	nil := fb_lock_keys(ARRAY['c:' || cus])::text;
	WITH u AS (
		UPDATE subscriptions SET status = 'canceled', updated_at = now()
		    WHERE stripe_customer_id = cus AND (status IS NULL
			OR status NOT IN ('canceled', 'incomplete_expired'))
		    RETURNING subscriber_id)
	SELECT coalesce(jsonb_agg(subscriber_id), '[]'), count(*)
	    INTO users, n FROM u;
	IF n = 0 THEN
		PERFORM 1 FROM subscriptions WHERE stripe_customer_id = cus;
		IF NOT FOUND THEN
			IF from_park THEN
				RETURN jsonb_build_object('outcome', 'parked');
			END IF;
			RETURN fb_park(c, NULL, cus);
		END IF;
	END IF;
	RETURN jsonb_build_object('outcome', 'applied', 'users', users,
	    'detail', jsonb_build_object('customer', cus, 'canceled', n));
END
$$;

-- Premium and tier of each touched user, as in version 1; the users are
-- walked with FOREACH, and one user (nearly every event) is not first
-- sorted and deduplicated by a statement.
CREATE OR REPLACE FUNCTION fb_recompute(users uuid[], ps text[], tiers text[])
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	u	uuid;
	list	uuid[];
	prem	boolean;
	t	text;
	n	integer;
	res	jsonb := '[]';
BEGIN
	IF cardinality(users) = 1 THEN
		list := users;
	ELSE
		SELECT array_agg(DISTINCT x ORDER BY x) INTO list
		    FROM unnest(users) AS x WHERE x IS NOT NULL;
	END IF;
	FOREACH u IN ARRAY coalesce(list, '{}') LOOP
		IF u IS NULL THEN
			CONTINUE;
		END IF;
		PERFORM 1 FROM user_profiles WHERE id = u FOR UPDATE;
		IF NOT FOUND THEN
			CONTINUE;
		END IF;
		SELECT count(*) > 0, (array_agg(s.tier ORDER BY
		    array_position(tiers, s.tier) DESC NULLS LAST))[1]
		    INTO prem, t FROM subscriptions s
		    WHERE s.subscriber_id = u AND s.status = ANY (ps)
			AND s.status NOT IN ('canceled', 'incomplete_expired');
		UPDATE user_profiles SET is_premium = prem,
		    subscription_tier = t, updated_at = now()
		    WHERE id = u AND (is_premium IS DISTINCT FROM prem
			OR subscription_tier IS DISTINCT FROM t);
		GET DIAGNOSTICS n = ROW_COUNT;
		res := res || jsonb_build_object('id', u, 'is_premium', prem,
		    'subscription_tier', t, 'changed', n > 0);
	END LOOP;
	RETURN res;
END
$$;

-- The one statement a bee runs per event, as in version 1 (and with the
-- setting of version 2, which CREATE OR REPLACE would otherwise drop);
-- the users of a one-user result are read without a statement.
CREATE OR REPLACE FUNCTION fb_apply_event(c jsonb) RETURNS jsonb
LANGUAGE plpgsql SET enable_seqscan = off AS $$
DECLARE
	ev	text := c->>'event_id';
	res	jsonb;
	u	jsonb;
	users	uuid[];
	prev	processed_webhooks%ROWTYPE;
	n	integer;
BEGIN
	IF jsonb_typeof(c) IS DISTINCT FROM 'object' OR ev IS NULL OR ev = ''
	    OR jsonb_typeof(c->'created') IS DISTINCT FROM 'number' THEN
		RAISE EXCEPTION 'change document without event_id or created'
		    USING ERRCODE = 'FB005';
	END IF;
	INSERT INTO processed_webhooks (event_id, type)
	    VALUES (ev, c->>'type') ON CONFLICT DO NOTHING;
	GET DIAGNOSTICS n = ROW_COUNT;
	IF n = 0 THEN
		SELECT * INTO prev FROM processed_webhooks WHERE event_id = ev;
		RETURN jsonb_build_object('outcome', 'duplicate', 'reason',
		    format('already %s at %s', prev.outcome,
			to_char(prev.processed_at AT TIME ZONE 'UTC',
			    'YYYY-MM-DD"T"HH24:MI:SS"Z"')));
	END IF;
	res := fb_dispatch(c, false);
	UPDATE processed_webhooks SET outcome = res->>'outcome'
	    WHERE event_id = ev;
	u := coalesce(res->'users', '[]');
	IF jsonb_array_length(u) > 0 THEN
		IF jsonb_array_length(u) = 1 THEN
			users := ARRAY[(u->>0)::uuid];
		ELSE
			SELECT array_agg(DISTINCT x::uuid) INTO users
			    FROM jsonb_array_elements_text(u) AS x;
		END IF;
		res := jsonb_set(res, '{detail}',
		    coalesce(res->'detail', '{}') || jsonb_build_object('users',
			fb_recompute(users, coalesce(
			    fb_textarray(c->'premium_statuses'),
			    ARRAY['active', 'trialing']),
			    coalesce(fb_textarray(c->'tiers'), '{}'))));
	END IF;
	RETURN res - 'users';
END
$$;
