-- 003_unpark.sql: financebee schema version 3.
--
-- A parked event waits for the subscriptions row that gives it a user.
-- Up to version 2 only a checkout applied what was parked, so an event
-- parked for a subscription whose row came from a subscription event
-- (a known customer's second subscription, or one mapped by its
-- metadata userId) stayed parked: an invoice.paid that beat its
-- customer.subscription.created never extended the period, although the
-- same two events in the other order did.  Now every new subscriptions
-- row, whichever event creates it, applies what waited for it, in
-- created order, in the same transaction.

-- Apply, in created order, the events parked for subscription sub, and
-- those parked for customer cus that need no subscription row of their
-- own (everything but invoices).  An applied event may create another
-- subscriptions row and so apply parked events itself; those are gone
-- by the time this loop reaches them, hence the re-check.  Returns
-- {"users": [...], "unparked": [{"event_id", "outcome"}, ...]}.
CREATE FUNCTION fb_unpark(sub text, cus text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	p	parked_events%ROWTYPE;
	pr	jsonb;
	users	jsonb := '[]';
	applied	jsonb := '[]';
BEGIN
	FOR p IN SELECT * FROM parked_events
	    WHERE stripe_subscription_id = sub
		OR (cus IS NOT NULL AND stripe_customer_id = cus
		    AND kind <> 'invoice')
	    ORDER BY created, id FOR UPDATE LOOP
		PERFORM 1 FROM parked_events WHERE id = p.id;
		IF NOT FOUND THEN
			CONTINUE;
		END IF;
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
	RETURN jsonb_build_object('users', users, 'unparked', applied);
END
$$;

-- customer.subscription.*: as in version 1, and a new row applies what
-- was parked for it.
CREATE OR REPLACE FUNCTION fb_apply_subscription(c jsonb, from_park boolean)
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
	un	jsonb;
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

-- checkout.session.completed: as in version 1, the unparking moved to
-- fb_unpark().
CREATE OR REPLACE FUNCTION fb_apply_checkout(c jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
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

	un := fb_unpark(sub, cus);
	users := users || (un->'users');
	RETURN jsonb_build_object('outcome', 'applied', 'users', users,
	    'detail', jsonb_build_object('subscription', sub,
		'user', uid, 'paid', paid, 'unparked', un->'unparked'));
END
$$;
