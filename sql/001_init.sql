-- 001_init.sql: financebee schema version 1.
--
-- Applied by "financebeed --migrate" inside the one transaction that also
-- records the version in financebee_schema_version (under an advisory
-- lock); do not run it by hand.
--
-- Everything the daemon writes goes through fb_apply_event(change jsonb):
-- one statement, one round trip, one transaction per event.  Permanent
-- failures raise SQLSTATE class "FB" (the statement rolls back: no marker,
-- no rows); store.c maps them to a failed task with the message as reason.
--
--	FB001 unknown user	FB002 unknown tier	FB003 no subscription id
--	FB004 bad user id	FB005 malformed change	FB100 user_profiles shape

-- user_profiles belongs to the application: create it when absent, and
-- refuse to go on when it lacks a column we write.
DO $$
DECLARE
	rel	regclass := to_regclass('user_profiles');
	bad	text;
BEGIN
	IF rel IS NULL THEN
		CREATE TABLE user_profiles (
			id			uuid PRIMARY KEY,
			subscription_tier	text,
			is_premium		boolean NOT NULL DEFAULT false,
			updated_at		timestamptz NOT NULL DEFAULT now()
		);
		RETURN;
	END IF;
	SELECT string_agg(format('%s %s', w.col, w.typ), ', ' ORDER BY w.n)
	    INTO bad
	    FROM (VALUES (1, 'id', 'uuid'), (2, 'subscription_tier', 'text'),
		(3, 'is_premium', 'boolean'),
		(4, 'updated_at', 'timestamp with time zone')) AS w(n, col, typ)
	    WHERE NOT EXISTS (SELECT 1 FROM pg_attribute a
		WHERE a.attrelid = rel AND a.attname = w.col
		AND NOT a.attisdropped
		AND format_type(a.atttypid, NULL) IN (w.typ,
		    CASE w.typ WHEN 'text' THEN 'character varying' END));
	IF bad IS NOT NULL THEN
		RAISE EXCEPTION 'table user_profiles exists but lacks column(s): %',
		    bad USING ERRCODE = 'FB100',
		    HINT = 'financebee updates user_profiles(id uuid, '
			'subscription_tier text, is_premium boolean, '
			'updated_at timestamptz)';
	END IF;
END
$$;

-- One row per Stripe subscription.  creator_id is kept nullable: no Stripe
-- event carries a creator, the application may fill it.  Periods are kept
-- per source so the result does not depend on delivery order: subscription
-- events set sub_period_* (guarded by stripe_event_created), paid invoices
-- only push invoice_period_* forward; the effective period is the later.
CREATE TABLE subscriptions (
	id			bigserial PRIMARY KEY,
	subscriber_id		uuid NOT NULL,
	creator_id		uuid,
	status			text,
	tier			text,
	stripe_subscription_id	text NOT NULL UNIQUE,
	stripe_customer_id	text,
	sub_period_start	timestamptz,
	sub_period_end		timestamptz,
	invoice_period_start	timestamptz,
	invoice_period_end	timestamptz,
	current_period_start	timestamptz GENERATED ALWAYS AS (
	    CASE WHEN invoice_period_end IS NULL
		OR sub_period_end >= invoice_period_end
	    THEN coalesce(sub_period_start, invoice_period_start)
	    ELSE invoice_period_start END) STORED,
	current_period_end	timestamptz GENERATED ALWAYS AS (
	    greatest(sub_period_end, invoice_period_end)) STORED,
	cancel_at_period_end	boolean NOT NULL DEFAULT false,
	trial_end		timestamptz,
	checkout_session	text,
	stripe_event_created	bigint,
	created_at		timestamptz NOT NULL DEFAULT now(),
	updated_at		timestamptz NOT NULL DEFAULT now()
);
-- "Active-ish" = not terminal; also serves the premium recomputation.
CREATE INDEX subscriptions_subscriber_live ON subscriptions (subscriber_id)
    WHERE status NOT IN ('canceled', 'incomplete_expired');
CREATE INDEX subscriptions_status_period ON subscriptions
    (status, current_period_end);
CREATE INDEX subscriptions_customer ON subscriptions (stripe_customer_id);

-- The exactly-once marker: one row per event id ever handled (pruned after
-- database.prune_age days, beyond Stripe's 3-day retry window).
CREATE TABLE processed_webhooks (
	event_id		text PRIMARY KEY,
	type			text,
	outcome			text,
	processed_at		timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX processed_webhooks_processed_at ON processed_webhooks
    (processed_at);

-- Events that arrived before the checkout revealing their user.  Applied
-- in created order by that checkout; never-matched ones are pruned.
CREATE TABLE parked_events (
	id			bigserial PRIMARY KEY,
	event_id		text NOT NULL UNIQUE,
	type			text,
	kind			text NOT NULL,
	stripe_subscription_id	text,
	stripe_customer_id	text,
	created			bigint NOT NULL,
	change			jsonb NOT NULL,
	parked_at		timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX parked_events_subscription ON parked_events
    (stripe_subscription_id);
CREATE INDEX parked_events_customer ON parked_events (stripe_customer_id);
CREATE INDEX parked_events_parked_at ON parked_events (parked_at);

-- Money: one row per paid invoice (invoice.paid and
-- invoice.payment_succeeded record it once), per refunded charge (amount =
-- the cumulative amount refunded) and per dispute (latest status).
CREATE TABLE revenue_ledger (
	id			bigserial PRIMARY KEY,
	kind			text NOT NULL
	    CHECK (kind IN ('invoice', 'refund', 'dispute')),
	stripe_object_id	text NOT NULL,
	event_id		text NOT NULL,
	stripe_subscription_id	text,
	stripe_customer_id	text,
	subscriber_id		uuid,
	charge			text,
	payment_intent		text,
	amount			bigint,
	currency		text,
	status			text,
	reason			text,
	stripe_event_created	bigint,
	recorded_at		timestamptz NOT NULL DEFAULT now(),
	updated_at		timestamptz NOT NULL DEFAULT now(),
	UNIQUE (kind, stripe_object_id)
);
CREATE INDEX revenue_ledger_subscriber ON revenue_ledger (subscriber_id);
CREATE INDEX revenue_ledger_customer ON revenue_ledger (stripe_customer_id)
    WHERE subscriber_id IS NULL;

-- Serialise every transaction touching the same subscription or customer
-- (parking against a concurrent checkout, customer deletion against
-- subscription events).  Keys are taken in one sorted batch so two
-- transactions never wait on each other in opposite orders.
CREATE FUNCTION fb_lock_keys(keys text[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	h	integer;
BEGIN
	FOR h IN SELECT DISTINCT hashtext(k) FROM unnest(keys) AS k
	    WHERE k IS NOT NULL ORDER BY 1 LOOP
		PERFORM pg_advisory_xact_lock(1178748417, h);
	END LOOP;
END
$$;

CREATE FUNCTION fb_uuid(s text) RETURNS uuid
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
	IF s IS NULL OR s !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
		RAISE EXCEPTION 'user id is not a UUID: %', left(s, 64)
		    USING ERRCODE = 'FB004';
	END IF;
	RETURN s::uuid;
END
$$;

CREATE FUNCTION fb_ts(v jsonb) RETURNS timestamptz
LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN jsonb_typeof(v) = 'number'
	    THEN to_timestamp((v #>> '{}')::bigint) END
$$;

CREATE FUNCTION fb_textarray(v jsonb) RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN jsonb_typeof(v) = 'array'
	    THEN ARRAY(SELECT jsonb_array_elements_text(v)) END
$$;

-- Money recorded before its customer had a user gets the user when the
-- first subscription row of that customer appears (under the "c:" lock).
CREATE FUNCTION fb_attach_ledger(cus text, uid uuid) RETURNS void
LANGUAGE sql AS $$
	UPDATE revenue_ledger SET subscriber_id = uid, updated_at = now()
	    WHERE stripe_customer_id = cus AND subscriber_id IS NULL;
$$;

CREATE FUNCTION fb_park(c jsonb, sub text, cus text) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO parked_events (event_id, type, kind,
	    stripe_subscription_id, stripe_customer_id, created, change)
	VALUES (c->>'event_id', c->>'type', c->>'kind', sub, cus,
	    (c->>'created')::bigint, c);
	RETURN jsonb_build_object('outcome', 'parked',
	    'reason', 'no user known yet for ' ||
		coalesce('subscription ' || sub, 'customer ' || cus),
	    'detail', jsonb_build_object('parked', jsonb_build_object(
		'subscription', sub, 'customer', cus)));
END
$$;

-- customer.subscription.*: upsert guarded by event.created and terminal
-- states (§3.3 of the notes); map to a user by subscription id, then
-- metadata.userId, then customer id, else park.
CREATE FUNCTION fb_apply_subscription(c jsonb, from_park boolean)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	sub	text := c->>'subscription';
	cus	text := c->>'customer';
	created	bigint := (c->>'created')::bigint;
	st	text := c->>'status';
	r	subscriptions%ROWTYPE;
	uid	uuid;
	terminal boolean;
BEGIN
	IF sub IS NULL THEN
		RAISE EXCEPTION 'subscription event without a subscription id'
		    USING ERRCODE = 'FB005';
	END IF;
	IF c->>'type' = 'customer.subscription.deleted' THEN
		st := 'canceled';
	END IF;
	PERFORM fb_lock_keys(ARRAY['s:' || sub, 'c:' || cus]);
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
		PERFORM fb_attach_ledger(cus, uid);
	END IF;
	RETURN jsonb_build_object('outcome', 'applied', 'users',
	    jsonb_build_array(uid), 'detail', jsonb_build_object(
		'subscription', sub, 'status', coalesce(st, r.status)));
END
$$;

-- invoice.paid / payment_succeeded: record the revenue once per invoice,
-- push the paid period forward.  Unknown subscription: record the money
-- and park the event for its period.
CREATE FUNCTION fb_apply_invoice(c jsonb, from_park boolean) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	inv	text := c->>'invoice';
	sub	text := c->>'subscription';
	ps	timestamptz := fb_ts(c->'period_start');
	pe	timestamptz := fb_ts(c->'period_end');
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
	PERFORM fb_lock_keys(ARRAY['s:' || sub]);
	SELECT id, subscriber_id INTO sid, uid FROM subscriptions
	    WHERE stripe_subscription_id = sub FOR UPDATE;
	INSERT INTO revenue_ledger AS l (kind, stripe_object_id, event_id,
	    stripe_subscription_id, stripe_customer_id, subscriber_id, amount,
	    currency, status, stripe_event_created)
	VALUES ('invoice', inv, c->>'event_id', sub, c->>'customer', uid,
	    (c->>'amount_paid')::bigint, c->>'currency', 'paid',
	    (c->>'created')::bigint)
	ON CONFLICT (kind, stripe_object_id) DO UPDATE
	    SET subscriber_id = excluded.subscriber_id, updated_at = now()
	    WHERE l.subscriber_id IS NULL AND excluded.subscriber_id IS NOT NULL;
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

CREATE FUNCTION fb_apply_checkout(c jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	sub	text := c->>'subscription';
	cus	text := c->>'customer';
	ctier	text := c->>'tier';
	paid	boolean := coalesce((c->>'paid')::boolean, false);
	uid	uuid;
	r	subscriptions%ROWTYPE;
	p	parked_events%ROWTYPE;
	pr	jsonb;
	users	jsonb := '[]';
	applied	jsonb := '[]';
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
	PERFORM fb_lock_keys(ARRAY['s:' || sub, 'c:' || cus]);
	SELECT * INTO r FROM subscriptions
	    WHERE stripe_subscription_id = sub FOR UPDATE;
	IF NOT FOUND THEN
		INSERT INTO subscriptions (subscriber_id, status, tier,
		    stripe_subscription_id, stripe_customer_id,
		    checkout_session)
		VALUES (uid, CASE WHEN paid THEN 'active' ELSE 'incomplete' END,
		    ctier, sub, cus, c->>'session');
		PERFORM fb_attach_ledger(cus, uid);
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

	-- Events parked for this subscription (or customer) now have a user.
	FOR p IN SELECT * FROM parked_events
	    WHERE stripe_subscription_id = sub
		OR (cus IS NOT NULL AND stripe_customer_id = cus
		    AND kind <> 'invoice')
	    ORDER BY created, id FOR UPDATE LOOP
		BEGIN
			pr := fb_dispatch(p.change, true);
		EXCEPTION WHEN OTHERS THEN
			IF SQLSTATE NOT LIKE 'FB%' THEN
				RAISE;
			END IF;
			pr := jsonb_build_object('outcome', 'failed',
			    'reason', SQLERRM);
		END;
		IF pr->>'outcome' = 'parked' THEN
			CONTINUE;
		END IF;
		UPDATE processed_webhooks SET outcome = pr->>'outcome'
		    WHERE event_id = p.event_id;
		DELETE FROM parked_events WHERE id = p.id;
		users := users || coalesce(pr->'users', '[]');
		applied := applied || jsonb_build_object('event_id', p.event_id,
		    'outcome', pr->>'outcome');
	END LOOP;
	RETURN jsonb_build_object('outcome', 'applied', 'users', users,
	    'detail', jsonb_build_object('subscription', sub,
		'user', uid, 'paid', paid, 'unparked', applied));
END
$$;

CREATE FUNCTION fb_apply_refund(c jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	ch	text := c->>'charge';
	uid	uuid;
BEGIN
	IF ch IS NULL THEN
		RETURN jsonb_build_object('outcome', 'ignored',
		    'reason', 'refund without a charge id');
	END IF;
	PERFORM fb_lock_keys(ARRAY['c:' || (c->>'customer')]);
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
	RETURN jsonb_build_object('outcome', 'applied', 'detail',
	    jsonb_build_object('refund', ch, 'user', uid));
END
$$;

CREATE FUNCTION fb_apply_dispute(c jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	dp	text := c->>'dispute';
BEGIN
	IF dp IS NULL THEN
		RETURN jsonb_build_object('outcome', 'ignored',
		    'reason', 'dispute without an id');
	END IF;
	-- Basil disputes carry no customer; without a stored payment map the
	-- user stays unknown (subscriber_id NULL), for operators to follow.
	INSERT INTO revenue_ledger AS l (kind, stripe_object_id, event_id,
	    charge, payment_intent, amount, currency, status, reason,
	    stripe_event_created)
	VALUES ('dispute', dp, c->>'event_id', c->>'charge',
	    c->>'payment_intent', (c->>'amount')::bigint, c->>'currency',
	    c->>'status', c->>'reason', (c->>'created')::bigint)
	ON CONFLICT (kind, stripe_object_id) DO UPDATE SET
	    status = excluded.status, reason = excluded.reason,
	    amount = excluded.amount, event_id = excluded.event_id,
	    stripe_event_created = excluded.stripe_event_created,
	    updated_at = now()
	    WHERE l.stripe_event_created IS NULL
		OR excluded.stripe_event_created >= l.stripe_event_created;
	RETURN jsonb_build_object('outcome', 'applied', 'detail',
	    jsonb_build_object('dispute', dp, 'status', c->>'status'));
END
$$;

-- customer.deleted: Stripe cancels the customer's subscriptions.  Unknown
-- customer: park it, so a late checkout does not resurrect them.
CREATE FUNCTION fb_apply_customer_deleted(c jsonb, from_park boolean)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	cus	text := c->>'customer';
	users	jsonb;
	n	integer;
BEGIN
	IF cus IS NULL THEN
		RETURN jsonb_build_object('outcome', 'ignored',
		    'reason', 'customer.deleted without a customer id');
	END IF;
	PERFORM fb_lock_keys(ARRAY['c:' || cus]);
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

CREATE FUNCTION fb_dispatch(c jsonb, from_park boolean) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
	CASE c->>'kind'
	WHEN 'subscription' THEN
		RETURN fb_apply_subscription(c, from_park);
	WHEN 'invoice' THEN
		RETURN fb_apply_invoice(c, from_park);
	WHEN 'checkout' THEN
		RETURN fb_apply_checkout(c);
	WHEN 'refund' THEN
		RETURN fb_apply_refund(c);
	WHEN 'dispute' THEN
		RETURN fb_apply_dispute(c);
	WHEN 'customer_deleted' THEN
		RETURN fb_apply_customer_deleted(c, from_park);
	WHEN 'ignored' THEN
		RETURN jsonb_build_object('outcome', 'ignored',
		    'reason', coalesce(c->>'note', c->>'type'));
	ELSE
		RAISE EXCEPTION 'unknown change kind %',
		    coalesce(left(c->>'kind', 64), 'null')
		    USING ERRCODE = 'FB005';
	END CASE;
END
$$;

-- Premium and tier of each touched user from ALL their subscriptions, the
-- user's row locked (sorted, after every subscription row: one lock order).
CREATE FUNCTION fb_recompute(users uuid[], ps text[], tiers text[])
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	u	uuid;
	prem	boolean;
	t	text;
	n	integer;
	res	jsonb := '[]';
BEGIN
	FOR u IN SELECT DISTINCT x FROM unnest(users) AS x
	    WHERE x IS NOT NULL ORDER BY 1 LOOP
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

-- The one statement a bee runs per event.  Returns {"outcome", "reason",
-- "detail"}.  A duplicate writes nothing at all.
CREATE FUNCTION fb_apply_event(c jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	ev	text := c->>'event_id';
	res	jsonb;
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
	IF jsonb_array_length(coalesce(res->'users', '[]')) > 0 THEN
		SELECT array_agg(DISTINCT x::uuid) INTO users
		    FROM jsonb_array_elements_text(res->'users') AS x;
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

-- Pruning, one bounded batch per call (store.c loops): parked events that
-- never matched, then markers, both older than the age.
CREATE FUNCTION fb_prune(days integer, batch integer) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	n	bigint;
	m	bigint;
BEGIN
	DELETE FROM parked_events WHERE id IN (SELECT id FROM parked_events
	    WHERE parked_at < now() - make_interval(days => days)
	    LIMIT batch);
	GET DIAGNOSTICS n = ROW_COUNT;
	DELETE FROM processed_webhooks WHERE event_id IN (SELECT event_id
	    FROM processed_webhooks
	    WHERE processed_at < now() - make_interval(days => days)
	    LIMIT batch);
	GET DIAGNOSTICS m = ROW_COUNT;
	RETURN n + m;
END
$$;
