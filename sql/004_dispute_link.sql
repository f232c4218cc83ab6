-- 004_dispute_link.sql: financebee schema version 4.
--
-- A dispute names its charge and payment intent, never its customer, so up
-- to version 3 every dispute row had no user.  The money rows that do know
-- the customer name the same payment: a refund (its charge, its payment
-- intent) and, before basil, an invoice (its "charge" and
-- "payment_intent"; the change document carries them from this version
-- on).  Whichever of them is recorded first, the dispute row ends with
-- the customer, subscription and user of the payment: a dispute looks for
-- them when it is recorded, and a refund or invoice fills them into the
-- disputes of its payment that lack them.  Every writer of such a row
-- takes the "ch:" and "pi:" locks of its payment after its subscription
-- and customer keys: they are always the last locks a transaction
-- takes, so no two transactions wait on each other in opposite orders.
-- Basil invoices name no payment (invoice_payment.paid is the bridge,
-- not recorded yet): their disputes stay without a user, as before.

CREATE INDEX revenue_ledger_charge ON revenue_ledger (charge)
    WHERE charge IS NOT NULL;
CREATE INDEX revenue_ledger_payment_intent ON revenue_ledger (payment_intent)
    WHERE payment_intent IS NOT NULL;

-- Disputes recorded before this version: what a refund of the same
-- payment knows (invoices did not record their payment until now).
UPDATE revenue_ledger d SET
    stripe_customer_id = r.stripe_customer_id,
    subscriber_id = coalesce(d.subscriber_id, r.subscriber_id),
    updated_at = now()
    FROM revenue_ledger r
    WHERE d.kind = 'dispute' AND d.stripe_customer_id IS NULL
	AND r.kind = 'refund' AND r.stripe_customer_id IS NOT NULL
	AND (r.charge = d.charge OR r.payment_intent = d.payment_intent);
UPDATE revenue_ledger d SET subscriber_id = s.subscriber_id, updated_at = now()
    FROM (SELECT DISTINCT ON (stripe_customer_id) stripe_customer_id,
	    subscriber_id FROM subscriptions
	ORDER BY stripe_customer_id, id) s
    WHERE d.kind = 'dispute' AND d.subscriber_id IS NULL
	AND d.stripe_customer_id = s.stripe_customer_id;

-- The customer a refund or an invoice of the payment names, if any.
CREATE FUNCTION fb_payment_customer(ch text, pi text) RETURNS text
LANGUAGE sql STABLE AS $$
	SELECT stripe_customer_id FROM revenue_ledger
	    WHERE kind IN ('invoice', 'refund')
		AND (charge = ch OR payment_intent = pi)
		AND stripe_customer_id IS NOT NULL
	    ORDER BY stripe_subscription_id IS NULL, id LIMIT 1;
$$;

-- What a payment's refund or invoice knows, into its disputes.
CREATE FUNCTION fb_link_disputes(ch text, pi text, cus text, sub text,
    uid uuid) RETURNS void
LANGUAGE sql AS $$
	UPDATE revenue_ledger SET
	    stripe_customer_id = coalesce(stripe_customer_id, cus),
	    stripe_subscription_id = coalesce(stripe_subscription_id, sub),
	    subscriber_id = coalesce(subscriber_id, uid),
	    updated_at = now()
	    WHERE kind = 'dispute' AND (charge = ch OR payment_intent = pi)
		AND ((stripe_customer_id IS NULL AND cus IS NOT NULL)
		    OR (stripe_subscription_id IS NULL AND sub IS NOT NULL)
		    OR (subscriber_id IS NULL AND uid IS NOT NULL));
$$;

-- invoice.paid / payment_succeeded: as in version 1, with the invoice's
-- payment recorded and its disputes linked.
CREATE OR REPLACE FUNCTION fb_apply_invoice(c jsonb, from_park boolean) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
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
	PERFORM fb_lock_keys(ARRAY['s:' || sub]);
	PERFORM fb_lock_keys(ARRAY['ch:' || ch, 'pi:' || pi]);
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
	PERFORM fb_link_disputes(ch, pi, c->>'customer', sub, uid);
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

-- charge.refunded: as in version 1, and its disputes linked.
CREATE OR REPLACE FUNCTION fb_apply_refund(c jsonb) RETURNS jsonb
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
	PERFORM fb_lock_keys(ARRAY['ch:' || ch, 'pi:' || (c->>'payment_intent')]);
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
	PERFORM fb_link_disputes(ch, c->>'payment_intent', c->>'customer',
	    NULL, uid);
	RETURN jsonb_build_object('outcome', 'applied', 'detail',
	    jsonb_build_object('refund', ch, 'user', uid));
END
$$;

-- charge.dispute.*: as in version 1, with the customer, subscription and
-- user of its payment when a refund or an invoice of it is recorded.  The
-- customer's "c:" lock is taken once it is known, so that a checkout
-- attaching the customer's money (fb_attach_ledger) sees this row.
CREATE OR REPLACE FUNCTION fb_apply_dispute(c jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
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
	PERFORM fb_lock_keys(ARRAY['c:' || cus]);
	PERFORM fb_lock_keys(ARRAY['ch:' || ch, 'pi:' || pi]);
	IF fb_payment_customer(ch, pi) IS DISTINCT FROM cus THEN
		RAISE EXCEPTION 'the payment of dispute % was recorded '
		    'concurrently', dp USING ERRCODE = '40001';
	END IF;
	SELECT stripe_subscription_id INTO sub FROM revenue_ledger
	    WHERE kind = 'invoice' AND (charge = ch OR payment_intent = pi)
		AND stripe_subscription_id IS NOT NULL
	    ORDER BY id LIMIT 1;
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
	PERFORM fb_link_disputes(ch, pi, cus, sub, uid);
	RETURN jsonb_build_object('outcome', 'applied', 'detail',
	    jsonb_build_object('dispute', dp, 'status', c->>'status',
		'user', uid));
END
$$;
