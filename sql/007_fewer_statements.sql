-- 007_fewer_statements.sql: financebee schema version 7.
--
-- The same rules, results, locks and lock order as version 6, in fewer
-- statements and fewer row writes per event (issue #16).  Counted in
-- instructions of a backend (bench/db-replay.sh: valgrind, single-user
-- mode, the first 2,500 change documents of a shuffled gen-events.pl run
-- of 1,252 users, one transaction each): 930k per event at version 6,
-- 913k now, with the same replies and the same rows (890k without the
-- ON CONFLICT kept on the final marker: see fb_apply_event).
--
-- - The exactly-once marker is written once, with its outcome, when the
--   event is done (it was inserted first and updated last: a speculative
--   insertion, then an update of the row, two statements).  The event id
--   is locked first (advisory lock class 1178748418, apart from the keys'
--   class 1178748417, and the only lock of that class a transaction
--   takes, so it joins no lock cycle), then the marker is read: a
--   concurrent delivery of the same event waits for the first one's
--   commit and then sees it as a duplicate, as the insertion made it do.
-- - Parking an event writes its marker in the statement that parks it;
--   unparking one writes its marker's outcome and removes it in one.
-- - A new subscriptions row and the customer's money it attaches are one
--   statement; a paid invoice reads its subscription and records the
--   money in one, and runs no update when it does not move the paid
--   period (the second of invoice.paid and invoice.payment_succeeded).
--
-- What is not merged, and why: a statement's cost is mostly per plan
-- node, relation and index it sets up, not per statement, and the
-- subscriptions table's generated columns are prepared again by every
-- statement that writes it.  Merged into one statement with writable
-- CTEs, a write that is usually skipped (a subscription's update, an
-- invoice's period) is set up on every call; the read-then-update pairs
-- cost more that way (measured: 956k and 1,031k per event), and reads
-- that must follow a lock (the user's subscriptions after the user's row
-- lock) must stay a statement of their own, whose snapshot is taken after
-- the lock.

CREATE OR REPLACE FUNCTION fb_park(c jsonb, sub text, cus text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	n	integer;
BEGIN
	WITH m AS (
		INSERT INTO processed_webhooks (event_id, type, outcome)
		    VALUES (c->>'event_id', c->>'type', 'parked')
		    ON CONFLICT DO NOTHING RETURNING 1)
	INSERT INTO parked_events (event_id, type, kind,
	    stripe_subscription_id, stripe_customer_id, created, change)
	SELECT c->>'event_id', c->>'type', c->>'kind', sub, cus,
	    (c->>'created')::bigint, c FROM m;
	GET DIAGNOSTICS n = ROW_COUNT;
	IF n = 0 THEN
		RAISE EXCEPTION 'event % was applied concurrently',
		    c->>'event_id' USING ERRCODE = '40001';
	END IF;
	RETURN jsonb_build_object('outcome', 'parked',
	    'reason', 'no user known yet for ' ||
		coalesce('subscription ' || sub, 'customer ' || cus),
	    'detail', jsonb_build_object('parked', jsonb_build_object(
		'subscription', sub, 'customer', cus)), 'marked', true);
END
$$;

-- As in 003_unpark.sql; the marker's outcome and the parked row's removal
-- are one statement.
CREATE OR REPLACE FUNCTION fb_unpark(sub text, cus text) RETURNS jsonb
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
		WITH m AS (
			UPDATE processed_webhooks SET outcome = pr->>'outcome'
			    WHERE event_id = p.event_id)
		DELETE FROM parked_events WHERE id = p.id;
		users := users || coalesce(pr->'users', '[]');
		applied := applied || jsonb_build_object('event_id', p.event_id,
		    'outcome', pr->>'outcome');
	END LOOP;
	RETURN jsonb_build_object('users', users, 'unparked', applied);
END
$$;

-- fb_apply_subscription: as in 006_apply_cpu.sql; a new row and the money
-- it attaches are one statement.
CREATE OR REPLACE FUNCTION fb_apply_subscription(c jsonb, from_park boolean)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	nil	text;
	sub	text := c->>'subscription';
	cus	text := c->>'customer';
	created	bigint := (c->>'created')::bigint;
	st	text := c->>'status';
	rid	bigint;
	rstatus	text;
	rcreated bigint;
	uid	uuid;
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
	SELECT id, subscriber_id, status, stripe_event_created
	    INTO rid, uid, rstatus, rcreated FROM subscriptions
	    WHERE stripe_subscription_id = sub FOR UPDATE;
	IF rid IS NOT NULL AND (rcreated > created) IS NOT TRUE THEN
		-- A terminal status is never left (no resurrection); a newer
		-- snapshot still records its period, so the row does not
		-- depend on whether customer.deleted came first.
		UPDATE subscriptions SET
		    status = CASE WHEN rstatus IN ('canceled',
			'incomplete_expired') THEN status
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
		    WHERE id = rid;
	END IF;
	IF rid IS NOT NULL THEN
		IF rcreated > created THEN
			RETURN jsonb_build_object('outcome', 'stale', 'reason',
			    format('older than the last applied event of %s '
				'(created %s < %s)', sub, created, rcreated));
		END IF;
		IF rstatus IN ('canceled', 'incomplete_expired') THEN
			RETURN jsonb_build_object('outcome', 'stale', 'reason',
			    format('subscription %s is already %s', sub,
				rstatus));
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
		-- The row, and the customer's money recorded before it
		-- (fb_attach_ledger()).
		WITH i AS (
			INSERT INTO subscriptions (subscriber_id, status, tier,
			    stripe_subscription_id, stripe_customer_id,
			    sub_period_start, sub_period_end,
			    cancel_at_period_end, trial_end,
			    stripe_event_created)
			VALUES (uid, st, c->>'tier', sub, cus,
			    fb_ts(c->'period_start'), fb_ts(c->'period_end'),
			    coalesce((c->>'cancel_at_period_end')::boolean,
				false),
			    fb_ts(c->'trial_end'), created))
		UPDATE revenue_ledger SET subscriber_id = uid,
		    updated_at = now()
		    WHERE stripe_customer_id = cus AND subscriber_id IS NULL;
		un := fb_unpark(sub, cus);
	END IF;
	RETURN jsonb_build_object('outcome', 'applied', 'users',
	    jsonb_build_array(uid) || coalesce(un->'users', '[]'),
	    'detail', jsonb_build_object('subscription', sub,
		'status', coalesce(st, rstatus)) || CASE WHEN un IS NULL
		THEN '{}' ELSE jsonb_build_object('unparked',
		    un->'unparked') END);
END
$$;

-- fb_apply_invoice: as in 006_apply_cpu.sql.  The subscription is read
-- (and locked) and the money recorded with its user in one statement; the
-- period is pushed forward only when it moves.
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
	ipe	timestamptz;
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
	WITH s AS (
		SELECT id, subscriber_id, invoice_period_end
		    FROM subscriptions
		    WHERE stripe_subscription_id = sub FOR UPDATE),
	l AS (
		INSERT INTO revenue_ledger AS l (kind, stripe_object_id,
		    event_id, stripe_subscription_id, stripe_customer_id,
		    subscriber_id, charge, payment_intent, amount, currency,
		    status, stripe_event_created)
		VALUES ('invoice', inv, c->>'event_id', sub, c->>'customer',
		    (SELECT s.subscriber_id FROM s), ch, pi,
		    (c->>'amount_paid')::bigint, c->>'currency', 'paid',
		    (c->>'created')::bigint)
		ON CONFLICT (kind, stripe_object_id) DO UPDATE
		    SET subscriber_id = coalesce(l.subscriber_id,
			excluded.subscriber_id),
			charge = coalesce(l.charge, excluded.charge),
			payment_intent = coalesce(l.payment_intent,
			    excluded.payment_intent),
			updated_at = now()
		    WHERE (l.subscriber_id IS NULL
			AND excluded.subscriber_id IS NOT NULL)
			OR (l.charge IS NULL AND excluded.charge IS NOT NULL)
			OR (l.payment_intent IS NULL
			    AND excluded.payment_intent IS NOT NULL))
	SELECT s.id, s.subscriber_id, s.invoice_period_end INTO sid, uid, ipe
	    FROM s;
	nil := fb_link_disputes(ch, pi, c->>'customer', sub, uid)::text;
	IF sid IS NULL THEN
		IF from_park THEN
			RETURN jsonb_build_object('outcome', 'parked');
		END IF;
		RETURN fb_park(c, sub, NULL);
	END IF;
	-- The row is locked (and every writer of it holds "s:"): what was
	-- read is what the update would see.  An invoice that does not move
	-- the period (the second of invoice.paid and payment_succeeded) runs
	-- no statement.
	IF pe IS NOT NULL AND (ipe IS NULL OR pe > ipe) THEN
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

-- fb_apply_checkout: as in 006_apply_cpu.sql; a new row and the money it
-- attaches are one statement.
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
		WITH i AS (
			INSERT INTO subscriptions (subscriber_id, status, tier,
			    stripe_subscription_id, stripe_customer_id,
			    checkout_session)
			VALUES (uid, CASE WHEN paid THEN 'active'
			    ELSE 'incomplete' END, ctier, sub, cus,
			    c->>'session'))
		UPDATE revenue_ledger SET subscriber_id = uid,
		    updated_at = now()
		    WHERE stripe_customer_id = cus AND subscriber_id IS NULL;
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

-- The one statement a bee runs per event, as in version 6 (with the
-- setting of version 2), but for the marker: the event id locked and the
-- marker read first, the marker written last with the outcome (by
-- fb_park() for a parked event).  A duplicate still writes nothing.
-- The final insert keeps ON CONFLICT DO NOTHING and turns a conflict
-- into SQLSTATE 40001, which the bee retries (into a duplicate): the
-- lock makes a conflict impossible under READ COMMITTED, but under a
-- REPEATABLE READ default the marker read may predate the other
-- delivery's commit, and a plain insert would fail it for good (23505).
CREATE OR REPLACE FUNCTION fb_apply_event(c jsonb) RETURNS jsonb
LANGUAGE plpgsql SET enable_seqscan = off AS $$
DECLARE
	nil	text;
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
	nil := pg_advisory_xact_lock(1178748418, hashtext(ev))::text;
	SELECT * INTO prev FROM processed_webhooks WHERE event_id = ev;
	IF FOUND THEN
		RETURN jsonb_build_object('outcome', 'duplicate', 'reason',
		    format('already %s at %s', prev.outcome,
			to_char(prev.processed_at AT TIME ZONE 'UTC',
			    'YYYY-MM-DD"T"HH24:MI:SS"Z"')));
	END IF;
	res := fb_dispatch(c, false);
	IF res ? 'marked' THEN
		res := res - 'marked';
	ELSE
		INSERT INTO processed_webhooks (event_id, type, outcome)
		    VALUES (ev, c->>'type', res->>'outcome')
		    ON CONFLICT DO NOTHING;
		GET DIAGNOSTICS n = ROW_COUNT;
		IF n = 0 THEN
			RAISE EXCEPTION 'event % was applied concurrently', ev
			    USING ERRCODE = '40001';
		END IF;
	END IF;
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
