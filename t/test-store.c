/*
 * test-store.c: the database side against a real PostgreSQL (t/50-store.t
 * starts it): migrations, schema check, round trips, lifecycle scenarios,
 * order independence over permutations with duplicates, four concurrent
 * appliers, permanent vs transient errors, dry runs and pruning.  Change
 * documents are hand-built here, as stripe_normalize() would make them.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "financebeed.h"
#include "tap.h"

#define U1	"11111111-1111-4111-8111-111111111111"
#define U2	"22222222-2222-4222-8222-222222222222"
#define U3	"33333333-3333-4333-8333-333333333333"
#define UNOUSER	"99999999-9999-4999-8999-999999999999"
#define P0	"1764000000"
#define P1	"1766592000"
#define P2	"1769270400"
#define P3	"1771948800"
#define NSHUFFLE	100	/* random deliveries per scenario */
#define NPERM_MAX	720	/* every order of up to 6 events */
#define NROUNDS		30	/* concurrent rounds per scenario */

static PGconn	*db;		/* the test's own connection, for checks */

static void
diag(const char *fmt, ...)
{
	va_list	ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

/* One value from the check connection (static buffer). */
static const char *
q(const char *sql)
{
	static char	 buf[8192];
	PGresult	*res = PQexec(db, sql);

	if (PQresultStatus(res) != PGRES_TUPLES_OK &&
	    PQresultStatus(res) != PGRES_COMMAND_OK) {
		snprintf(buf, sizeof(buf), "ERROR %s", PQerrorMessage(db));
		PQclear(res);
		return buf;
	}
	if (PQresultStatus(res) == PGRES_COMMAND_OK || PQntuples(res) == 0)
		buf[0] = '\0';
	else
		snprintf(buf, sizeof(buf), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return buf;
}

static void
reset_tables(void)
{
	q("DELETE FROM subscriptions; DELETE FROM processed_webhooks; "
	    "DELETE FROM parked_events; DELETE FROM revenue_ledger; "
	    "UPDATE user_profiles SET is_premium = false, "
	    "subscription_tier = NULL");
}

/* Every row that matters, in a stable text form (order-free columns). */
#define FINGERPRINT_SQL \
	"SELECT coalesce((SELECT string_agg(format('%s:%s:%s', id, " \
	"is_premium, subscription_tier), ' ' ORDER BY id) FROM user_profiles)," \
	"'') || ' | ' || coalesce((SELECT string_agg(format(" \
	"'%s:%s:%s:%s:%s:%s:%s:%s:%s', stripe_subscription_id, subscriber_id, " \
	"status, tier, stripe_customer_id, " \
	"extract(epoch from current_period_start)::bigint, " \
	"extract(epoch from current_period_end)::bigint, cancel_at_period_end, " \
	"stripe_event_created), ' ' ORDER BY stripe_subscription_id) " \
	"FROM subscriptions), '') || ' | ' || coalesce((SELECT string_agg(" \
	"format('%s:%s:%s:%s:%s', kind, stripe_object_id, subscriber_id, " \
	"amount, status), ' ' ORDER BY kind, stripe_object_id) " \
	"FROM revenue_ledger), '') || ' | parked=' || " \
	"(SELECT count(*) FROM parked_events) || ' marks=' || " \
	"(SELECT count(*) FROM processed_webhooks)"

static char *
fingerprint(void)
{
	return strdup(q(FINGERPRINT_SQL));
}

#define COUNTS_SQL \
	"SELECT (SELECT count(*) FROM subscriptions) || '/' || " \
	"(SELECT count(*) FROM processed_webhooks) || '/' || " \
	"(SELECT count(*) FROM parked_events) || '/' || " \
	"(SELECT count(*) FROM revenue_ledger) || '/' || " \
	"(SELECT count(*) FROM user_profiles WHERE is_premium)"

/* --- change documents ------------------------------------------------------ */

static json_t *
change(const char *text)
{
	json_t		*c;
	json_error_t	 err;

	if ((c = json_loads(text, 0, &err)) == NULL) {
		fprintf(stderr, "bad test JSON: %s: %s\n", err.text, text);
		exit(1);
	}
	json_object_set_new(c, "premium_statuses",
	    json_pack("[ss]", "active", "trialing"));
	json_object_set_new(c, "tiers",
	    json_pack("[sss]", "bronze", "silver", "gold"));
	json_object_set_new(c, "livemode", json_false());
	return c;
}

#define CHECKOUT(id, t, user, tier, paid, sub, cus) \
	"{\"event_id\":\"" id "\",\"type\":\"checkout.session.completed\"," \
	"\"kind\":\"checkout\",\"created\":" t ",\"mode\":\"subscription\"," \
	"\"session\":\"cs_" id "\",\"payment_status\":\"paid\"," \
	"\"user_id\":\"" user "\",\"tier\":\"" tier "\",\"paid\":" paid "," \
	"\"subscription\":\"" sub "\",\"customer\":\"" cus "\"," \
	"\"amount_total\":900,\"currency\":\"usd\"}"
#define SUB(id, type, t, sub, cus, status, tier, ps, pe) \
	"{\"event_id\":\"" id "\",\"type\":\"customer.subscription." type "\"," \
	"\"kind\":\"subscription\",\"created\":" t ",\"subscription\":\"" sub \
	"\",\"customer\":\"" cus "\",\"status\":\"" status "\",\"tier\":\"" \
	tier "\",\"period_start\":" ps ",\"period_end\":" pe "," \
	"\"cancel_at_period_end\":false,\"price_ids\":[\"price_" tier "\"]}"
#define INVOICE(id, type, t, inv, sub, cus, amount, ps, pe) \
	"{\"event_id\":\"" id "\",\"type\":\"invoice." type "\"," \
	"\"kind\":\"invoice\",\"created\":" t ",\"invoice\":\"" inv "\"," \
	"\"subscription\":\"" sub "\",\"customer\":\"" cus "\"," \
	"\"amount_paid\":" amount ",\"amount_due\":" amount "," \
	"\"currency\":\"usd\",\"period_start\":" ps ",\"period_end\":" pe "," \
	"\"charge\":\"ch_" inv "\",\"payment_intent\":\"pi_" inv "\"," \
	"\"paid\":true}"
#define REFUND(id, t, ch, cus, refunded) \
	"{\"event_id\":\"" id "\",\"type\":\"charge.refunded\"," \
	"\"kind\":\"refund\",\"created\":" t ",\"charge\":\"" ch "\"," \
	"\"customer\":\"" cus "\",\"payment_intent\":\"pi_" ch "\"," \
	"\"amount\":900,\"amount_refunded\":" refunded ",\"currency\":\"usd\"}"
#define DISPUTE(id, type, t, dp, ch, status) \
	"{\"event_id\":\"" id "\",\"type\":\"charge.dispute." type "\"," \
	"\"kind\":\"dispute\",\"created\":" t ",\"dispute\":\"" dp "\"," \
	"\"charge\":\"" ch "\",\"payment_intent\":\"pi_" ch "\"," \
	"\"amount\":900,\"currency\":\"usd\",\"status\":\"" status "\"," \
	"\"reason\":\"fraudulent\"}"
#define CUSDEL(id, t, cus) \
	"{\"event_id\":\"" id "\",\"type\":\"customer.deleted\"," \
	"\"kind\":\"customer_deleted\",\"created\":" t ",\"customer\":\"" \
	cus "\"}"

#define USERSQL(u) "SELECT CASE WHEN is_premium THEN 't' ELSE 'f' END " \
	"|| ':' || coalesce(subscription_tier, " \
	"'-') FROM user_profiles WHERE id = '" u "'"
#define SUBSQL(s) "SELECT status || ':' || coalesce(tier, '-') || ':' || " \
	"coalesce(extract(epoch from current_period_end)::bigint::text, '-') " \
	"FROM subscriptions WHERE stripe_subscription_id = '" s "'"

struct expect {
	const char	*sql;
	const char	*want;
};

#define MAXEV	12
struct scenario {
	const char	*name;
	const char	*events[MAXEV];		/* in delivery (= created) order */
	struct expect	 after[MAXEV];		/* optional per-step check */
	struct expect	 end[4];
};

static const struct scenario scenarios[] = {
	{ "lifecycle: checkout, created, past_due, active, deleted", {
		CHECKOUT("evt_l1", "1000", U1, "silver", "true", "sub_l", "cus_l"),
		SUB("evt_l2", "created", "1001", "sub_l", "cus_l", "active",
		    "silver", P0, P1),
		SUB("evt_l3", "updated", "2000", "sub_l", "cus_l", "past_due",
		    "silver", P0, P1),
		SUB("evt_l4", "updated", "2100", "sub_l", "cus_l", "active",
		    "silver", P0, P1),
		SUB("evt_l5", "deleted", "3000", "sub_l", "cus_l", "canceled",
		    "silver", P0, P1) },
	    { { USERSQL(U1), "t:silver" }, { USERSQL(U1), "t:silver" },
	      { USERSQL(U1), "f:-" }, { USERSQL(U1), "t:silver" },
	      { USERSQL(U1), "f:-" } },
	    { { SUBSQL("sub_l"), "canceled:silver:" P1 } } },
	{ "plan change via price", {
		CHECKOUT("evt_p1", "1000", U1, "bronze", "true", "sub_p", "cus_p"),
		SUB("evt_p2", "created", "1001", "sub_p", "cus_p", "active",
		    "bronze", P0, P1),
		SUB("evt_p3", "updated", "1500", "sub_p", "cus_p", "active",
		    "gold", P0, P1) },
	    { { USERSQL(U1), "t:bronze" }, { USERSQL(U1), "t:bronze" },
	      { USERSQL(U1), "t:gold" } },
	    { { SUBSQL("sub_p"), "active:gold:" P1 } } },
	{ "renewal via invoice.paid (+ payment_succeeded twin)", {
		CHECKOUT("evt_r1", "1000", U2, "gold", "true", "sub_r", "cus_r"),
		SUB("evt_r2", "created", "1001", "sub_r", "cus_r", "active",
		    "gold", P0, P1),
		INVOICE("evt_r3", "paid", "1002", "in_r1", "sub_r", "cus_r",
		    "1500", P0, P1),
		INVOICE("evt_r4", "payment_succeeded", "1002", "in_r1", "sub_r",
		    "cus_r", "1500", P0, P1),
		INVOICE("evt_r5", "paid", "4000", "in_r2", "sub_r", "cus_r",
		    "1500", P1, P2) },
	    { { NULL, NULL } },
	    { { USERSQL(U2), "t:gold" }, { SUBSQL("sub_r"), "active:gold:" P2 },
	      { "SELECT count(*) || ':' || sum(amount) FROM revenue_ledger "
		"WHERE kind = 'invoice'", "2:3000" } } },
	{ "trial then active", {
		CHECKOUT("evt_t1", "1000", U1, "silver", "true", "sub_t", "cus_t"),
		SUB("evt_t2", "created", "1001", "sub_t", "cus_t", "trialing",
		    "silver", P0, P1),
		SUB("evt_t3", "updated", "5000", "sub_t", "cus_t", "active",
		    "silver", P1, P2) },
	    { { NULL, NULL }, { USERSQL(U1), "t:silver" } },
	    { { USERSQL(U1), "t:silver" }, { SUBSQL("sub_t"), "active:silver:" P2 } } },
	{ "refund and dispute recorded, premium unchanged", {
		CHECKOUT("evt_d1", "1000", U3, "gold", "true", "sub_d", "cus_d"),
		SUB("evt_d2", "created", "1001", "sub_d", "cus_d", "active",
		    "gold", P0, P1),
		REFUND("evt_d3", "2000", "ch_d", "cus_d", "400"),
		REFUND("evt_d4", "2100", "ch_d", "cus_d", "900"),
		DISPUTE("evt_d5", "created", "2200", "dp_d", "ch_d",
		    "needs_response"),
		DISPUTE("evt_d6", "closed", "2300", "dp_d", "ch_d", "lost") },
	    { { NULL, NULL } },
	    { { USERSQL(U3), "t:gold" },
	      { "SELECT string_agg(kind || ':' || amount || ':' || status || "
		"':' || coalesce(subscriber_id::text, '-'), ' ' ORDER BY kind) "
		"FROM revenue_ledger", "dispute:900:lost:" U3 " refund:900:refunded:"
		U3 } } },
	{ "a dispute gets the user of the invoice it disputes", {
		CHECKOUT("evt_q1", "1000", U1, "gold", "true", "sub_q", "cus_q"),
		SUB("evt_q2", "created", "1001", "sub_q", "cus_q", "active",
		    "gold", P0, P1),
		INVOICE("evt_q3", "paid", "1002", "in_q", "sub_q", "cus_q",
		    "1500", P0, P1),
		DISPUTE("evt_q4", "created", "2000", "dp_q", "ch_in_q",
		    "needs_response"),
		DISPUTE("evt_q5", "closed", "2100", "dp_q", "ch_in_q", "won") },
	    { { NULL, NULL } },
	    { { USERSQL(U1), "t:gold" },
	      { "SELECT status || ':' || coalesce(subscriber_id::text, '-') || "
		"':' || coalesce(stripe_subscription_id, '-') || ':' || "
		"coalesce(stripe_customer_id, '-') FROM revenue_ledger WHERE "
		"kind = 'dispute'", "won:" U1 ":sub_q:cus_q" } } },
	{ "customer deleted", {
		CHECKOUT("evt_c1", "1000", U1, "gold", "true", "sub_c", "cus_c"),
		SUB("evt_c2", "created", "1001", "sub_c", "cus_c", "active",
		    "gold", P0, P1),
		CUSDEL("evt_c3", "3000", "cus_c"),
		SUB("evt_c4", "deleted", "3000", "sub_c", "cus_c", "canceled",
		    "gold", P0, P1) },
	    { { NULL, NULL }, { USERSQL(U1), "t:gold" }, { USERSQL(U1), "f:-" } },
	    { { USERSQL(U1), "f:-" }, { SUBSQL("sub_c"), "canceled:gold:" P1 } } },
	{ "subscription events before their checkout (parked)", {
		SUB("evt_k1", "created", "1000", "sub_k", "cus_k", "incomplete",
		    "silver", P0, P1),
		SUB("evt_k2", "updated", "1001", "sub_k", "cus_k", "active",
		    "silver", P0, P1),
		INVOICE("evt_k3", "paid", "1001", "in_k1", "sub_k", "cus_k",
		    "900", P0, P1),
		CHECKOUT("evt_k4", "1002", U2, "silver", "true", "sub_k",
		    "cus_k") },
	    { { "SELECT count(*) FROM parked_events", "1" },
	      { "SELECT count(*) FROM parked_events", "2" },
	      { "SELECT count(*) FROM parked_events", "3" },
	      { "SELECT count(*) FROM parked_events", "0" } },
	    { { USERSQL(U2), "t:silver" }, { SUBSQL("sub_k"), "active:silver:" P1 },
	      { "SELECT string_agg(outcome, ',' ORDER BY event_id) FROM "
		"processed_webhooks", "applied,applied,applied,applied" } } },
	{ "two subscriptions of one customer, highest premium tier wins", {
		CHECKOUT("evt_m1", "1000", U3, "silver", "true", "sub_m1", "cus_m"),
		SUB("evt_m2", "created", "1001", "sub_m1", "cus_m", "active",
		    "silver", P0, P1),
		SUB("evt_m3", "created", "1100", "sub_m2", "cus_m", "trialing",
		    "gold", P0, P1),
		SUB("evt_m4", "deleted", "1200", "sub_m2", "cus_m", "canceled",
		    "gold", P0, P1),
		SUB("evt_m5", "updated", "1300", "sub_m1", "cus_m", "past_due",
		    "silver", P0, P1) },
	    { { NULL, NULL }, { USERSQL(U3), "t:silver" },
	      { USERSQL(U3), "t:gold" }, { USERSQL(U3), "t:silver" },
	      { USERSQL(U3), "f:-" } },
	    { { USERSQL(U3), "f:-" },
	      { "SELECT count(*) FROM subscriptions WHERE subscriber_id = '"
		U3 "'", "2" } } },
	{ "metadata userId maps a subscription without checkout; unpaid "
	  "checkout does not downgrade", {
		"{\"event_id\":\"evt_u1\",\"type\":\"customer.subscription."
		"created\",\"kind\":\"subscription\",\"created\":1000,"
		"\"subscription\":\"sub_u\",\"customer\":\"cus_u\",\"status\":"
		"\"active\",\"user_id\":\"" U2 "\",\"period_start\":" P0
		",\"period_end\":" P1 "}",
		CHECKOUT("evt_u2", "1001", U2, "bronze", "false", "sub_u",
		    "cus_u") },
	    { { USERSQL(U2), "t:-" }, { USERSQL(U2), "t:bronze" } },
	    { { SUBSQL("sub_u"), "active:bronze:" P1 } } },
	{ "a known customer's second subscription: its invoice first", {
		CHECKOUT("evt_n1", "1000", U2, "silver", "true", "sub_n1", "cus_n"),
		SUB("evt_n2", "created", "1001", "sub_n1", "cus_n", "active",
		    "silver", P0, P1),
		SUB("evt_n3", "created", "1100", "sub_n2", "cus_n", "active",
		    "gold", P0, P1),
		INVOICE("evt_n4", "paid", "1101", "in_n2", "sub_n2", "cus_n",
		    "2000", P1, P2) },
	    { { NULL, NULL }, { USERSQL(U2), "t:silver" },
	      { USERSQL(U2), "t:gold" },
	      { "SELECT count(*) FROM parked_events", "0" } },
	    { { SUBSQL("sub_n2"), "active:gold:" P2 },
	      { "SELECT string_agg(outcome, ',' ORDER BY event_id) FROM "
		"processed_webhooks", "applied,applied,applied,applied" } } },
	{ "a subscription mapped by metadata userId unparks what waited", {
		"{\"event_id\":\"evt_w1\",\"type\":\"customer.subscription."
		"created\",\"kind\":\"subscription\",\"created\":1000,"
		"\"subscription\":\"sub_w\",\"customer\":\"cus_w\",\"status\":"
		"\"active\",\"user_id\":\"" U3 "\",\"tier\":\"gold\","
		"\"period_start\":" P0 ",\"period_end\":" P1 "}",
		INVOICE("evt_w2", "paid", "1001", "in_w", "sub_w", "cus_w",
		    "900", P1, P2),
		CUSDEL("evt_w3", "3000", "cus_w") },
	    { { USERSQL(U3), "t:gold" },
	      { SUBSQL("sub_w"), "active:gold:" P2 },
	      { USERSQL(U3), "f:-" } },
	    { { SUBSQL("sub_w"), "canceled:gold:" P2 },
	      { "SELECT count(*) FROM parked_events", "0" } } },
	{ "customer deleted before its checkout arrives", {
		CHECKOUT("evt_x1", "1000", U1, "gold", "true", "sub_x", "cus_x"),
		CUSDEL("evt_x2", "2000", "cus_x") },
	    { { USERSQL(U1), "t:gold" }, { USERSQL(U1), "f:-" } },
	    { { SUBSQL("sub_x"), "canceled:gold:-" } } },
};
#define NSCENARIOS (sizeof(scenarios) / sizeof(scenarios[0]))

static size_t
nevents(const struct scenario *sc)
{
	size_t	n = 0;

	while (n < MAXEV && sc->events[n] != NULL)
		n++;
	return n;
}

static struct fb_config	cfg;

static struct store *
open_store(void)
{
	struct store	*s;
	char		 cause[FB_CAUSE_MAX];

	if ((s = store_open(&cfg, cause, sizeof(cause))) == NULL) {
		printf("Bail out! store_open: %s\n", cause);
		exit(1);
	}
	return s;
}

static enum store_outcome
apply_text(struct store *s, const char *text, char *reason, size_t len)
{
	json_t			*c = change(text), *detail = NULL;
	enum store_outcome	 o;

	o = store_apply(s, c, 0, &detail, reason, len);
	json_decref(c);
	json_decref(detail);
	return o;
}

/* Apply events[order[0..n-1]]; returns the number failed/transient. */
static int
run_order(struct store *s, const struct scenario *sc, const size_t *order,
    size_t n)
{
	char			reason[FB_CAUSE_MAX];
	enum store_outcome	o;
	size_t			i;
	int			bad = 0;

	for (i = 0; i < n; i++) {
		o = apply_text(s, sc->events[order[i]], reason, sizeof(reason));
		if (o == OUTCOME_FAILED || o == OUTCOME_TRANSIENT) {
			diag("%s: event %zu: %s %s", sc->name, order[i],
			    store_outcome_str(o), reason);
			bad++;
		}
	}
	return bad;
}

/* The next order in lexicographic order; 0 after the last one. */
static int
next_order(size_t *a, size_t n)
{
	size_t	i, j, t;

	if (n < 2)
		return 0;
	for (i = n - 1; i > 0 && a[i - 1] >= a[i]; i--)
		;
	if (i == 0)
		return 0;
	for (j = n - 1; a[j] <= a[i - 1]; j--)
		;
	t = a[i - 1];
	a[i - 1] = a[j];
	a[j] = t;
	for (j = n - 1; i < j; i++, j--) {
		t = a[i];
		a[i] = a[j];
		a[j] = t;
	}
	return 1;
}

static size_t
factorial(size_t n)
{
	size_t	f = 1;

	while (n > 1)
		f *= n--;
	return f;
}

/* A shuffled delivery with duplicates: every event once, some twice. */
static size_t
random_order(unsigned int *seed, size_t n, size_t *order)
{
	size_t	i, j, t, m = n;

	for (i = 0; i < n; i++)
		order[i] = i;
	for (i = 0; i < n; i++)
		if (rand_r(seed) % 3 == 0)
			order[m++] = i;
	for (i = m - 1; i > 0; i--) {
		j = (size_t)rand_r(seed) % (i + 1);
		t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	return m;
}

static void
test_scenarios(struct store *s, char **inorder)
{
	const struct scenario	*sc;
	size_t			 i, j, n, m, order[2 * MAXEV], perm[MAXEV];
	char			 reason[FB_CAUSE_MAX], *fp;
	enum store_outcome	 o;
	unsigned int		 seed = 4242;
	int			 bad, mismatch, runs;

	for (i = 0; i < NSCENARIOS; i++) {
		sc = &scenarios[i];
		n = nevents(sc);
		reset_tables();
		bad = 0;
		for (j = 0; j < n; j++) {
			o = apply_text(s, sc->events[j], reason, sizeof(reason));
			if (o == OUTCOME_FAILED || o == OUTCOME_TRANSIENT) {
				bad++;
				diag("event %zu: %s %s", j, store_outcome_str(o),
				    reason);
			}
			if (sc->after[j].sql != NULL) {
				const char	*got = q(sc->after[j].sql);

				if (strcmp(got, sc->after[j].want) != 0) {
					bad++;
					diag("after event %zu: %s = '%s', "
					    "expected '%s'", j, sc->after[j].sql,
					    got, sc->after[j].want);
				}
			}
		}
		ok(bad == 0, "%s: in order, every step as expected", sc->name);
		for (j = 0; j < 4 && sc->end[j].sql != NULL; j++)
			is_str(q(sc->end[j].sql), sc->end[j].want, sc->name);
		inorder[i] = fingerprint();

		/* Replaying everything changes nothing. */
		for (j = 0; j < n; j++)
			order[j] = j;
		run_order(s, sc, order, n);
		fp = fingerprint();
		is_str(fp, inorder[i], "replay of every event is a no-op");
		free(fp);

		mismatch = bad = 0;
		for (runs = 0; runs < NSHUFFLE; runs++) {
			reset_tables();
			m = random_order(&seed, n, order);
			bad += run_order(s, sc, order, m);
			fp = fingerprint();
			if (strcmp(fp, inorder[i]) != 0) {
				if (mismatch++ == 0)
					diag("order %s\n#  got %s\n# want %s",
					    "differs", fp, inorder[i]);
			}
			free(fp);
		}
		ok(mismatch == 0 && bad == 0, "%s: %d shuffled deliveries with "
		    "duplicates converge (%d differ, %d failed)", sc->name,
		    NSHUFFLE, mismatch, bad);

		/*
		 * Every order, when there are few enough, each followed by a
		 * redelivery of one event (a different one each time).
		 */
		if (factorial(n) > NPERM_MAX)
			continue;
		mismatch = bad = runs = 0;
		for (j = 0; j < n; j++)
			perm[j] = j;
		do {
			memcpy(order, perm, n * sizeof(order[0]));
			order[n] = perm[(size_t)runs % n];
			reset_tables();
			bad += run_order(s, sc, order, n + 1);
			fp = fingerprint();
			if (strcmp(fp, inorder[i]) != 0 && mismatch++ == 0)
				diag("order %s\n#  got %s\n# want %s", "differs",
				    fp, inorder[i]);
			free(fp);
			runs++;
		} while (next_order(perm, n));
		ok(mismatch == 0 && bad == 0, "%s: all %d orders, each with a "
		    "duplicate, converge (%d differ, %d failed)", sc->name, runs,
		    mismatch, bad);
	}
}

/*
 * Four processes (one connection each, made once) apply the same scenario
 * at once, each in its own shuffled order with duplicates; a round starts
 * when the parent writes four "go" messages.
 */
struct round_msg {
	int	scenario;
	int	round;
};

static void
concurrency_child(int go, int res, int k)
{
	struct store		*s = open_store();
	struct round_msg	 m;
	struct task_result	 r;
	const struct scenario	*sc;
	size_t			 j, n, cnt_m, order[2 * MAXEV];
	unsigned long		 cnt[3];
	unsigned int		 seed;
	json_t			*c;

	while (read(go, &m, sizeof(m)) == (ssize_t)sizeof(m)) {
		sc = &scenarios[m.scenario];
		n = nevents(sc);
		seed = (unsigned int)(m.scenario * 100000 + m.round * 10 + k);
		cnt_m = random_order(&seed, n, order);
		memset(cnt, 0, sizeof(cnt));
		for (j = 0; j < cnt_m; j++) {
			memset(&r, 0, sizeof(r));
			c = change(sc->events[order[j]]);
			task_apply(s, c, 0, clock_now_ms() + 20000, &r);
			if (r.outcome == OUTCOME_FAILED)
				cnt[0]++;
			if (r.outcome == OUTCOME_TRANSIENT)
				cnt[1]++;
			cnt[2] += r.attempts - 1;
			if (r.outcome >= OUTCOME_FAILED)
				fprintf(stderr, "%s: %s\n",
				    store_outcome_str(r.outcome), r.reason);
			task_result_clear(&r);
			json_decref(c);
		}
		(void)write(res, cnt, sizeof(cnt));
	}
	store_free(s);
	_exit(0);
}

static void
test_concurrency(char **inorder)
{
	struct round_msg	 m;
	size_t			 i;
	int			 go[2], res[2], round, k, status, mismatch = 0;
	unsigned long		 tot[3] = { 0, 0, 0 }, got[3];
	pid_t			 pids[4];
	char			*fp;

	if (pipe(go) == -1 || pipe(res) == -1)
		exit(1);
	fflush(stdout);
	for (k = 0; k < 4; k++) {
		if ((pids[k] = fork()) == -1)
			exit(1);
		if (pids[k] == 0) {
			close(go[1]);
			close(res[0]);
			concurrency_child(go[0], res[1], k);
		}
	}
	close(go[0]);
	close(res[1]);
	for (i = 0; i < NSCENARIOS; i++) {
		for (round = 0; round < NROUNDS; round++) {
			reset_tables();
			m.scenario = (int)i;
			m.round = round;
			for (k = 0; k < 4; k++)
				(void)write(go[1], &m, sizeof(m));
			for (k = 0; k < 4; k++) {
				if (read(res[0], got, sizeof(got)) ==
				    (ssize_t)sizeof(got)) {
					tot[0] += got[0];
					tot[1] += got[1];
					tot[2] += got[2];
				} else
					tot[0]++;	/* a child died */
			}
			fp = fingerprint();
			if (strcmp(fp, inorder[i]) != 0 && mismatch++ == 0)
				diag("%s round %d\n#  got %s\n# want %s",
				    scenarios[i].name, round, fp, inorder[i]);
			free(fp);
		}
	}
	close(go[1]);
	close(res[0]);
	for (k = 0; k < 4; k++)
		while (waitpid(pids[k], &status, 0) == -1 && errno == EINTR)
			;
	ok(mismatch == 0, "4 concurrent appliers x %d rounds x %zu scenarios "
	    "converge to the in-order rows (%d differ)", NROUNDS, NSCENARIOS,
	    mismatch);
	ok(tot[0] == 0 && tot[1] == 0, "no task ended failed (%lu) or "
	    "transient (%lu)", tot[0], tot[1]);
	diag("transient retries absorbed by task_apply: %lu", tot[2]);
}

static void
test_permanent(struct store *s)
{
	static const struct {
		const char	*text;
		const char	*reason;
	} bad[] = {
		{ CHECKOUT("evt_f1", "1", UNOUSER, "gold", "true", "sub_f",
		    "cus_f"), "unknown user " UNOUSER },
		{ CHECKOUT("evt_f2", "1", U1, "platinum", "true", "sub_f",
		    "cus_f"), "unknown tier platinum" },
		{ CHECKOUT("evt_f3", "1", "1' OR '1'='1", "gold", "true",
		    "sub_f", "cus_f"), "user id is not a UUID" },
		{ "{\"event_id\":\"evt_f4\",\"type\":\"checkout.session."
		  "completed\",\"kind\":\"checkout\",\"created\":1,\"mode\":"
		  "\"subscription\",\"user_id\":\"" U1 "\",\"tier\":\"gold\","
		  "\"paid\":true}", "without a subscription id" },
		{ "{\"event_id\":\"evt_f5\",\"kind\":\"subscription\","
		  "\"created\":1}", "without a subscription id" },
		{ "{\"event_id\":\"evt_f6\",\"kind\":\"teleport\","
		  "\"created\":1}", "unknown change kind teleport" },
		{ "{\"kind\":\"ignored\",\"created\":1}", "without event_id" },
		{ "{\"event_id\":\"evt_f8\",\"kind\":\"ignored\","
		  "\"created\":\"yesterday\"}", "without event_id or created" },
		{ "{\"event_id\":\"evt_f9\",\"kind\":\"subscription\","
		  "\"created\":1,\"subscription\":\"sub_f\",\"user_id\":\""
		  UNOUSER "\"}", "unknown user" },
		{ "{\"event_id\":\"evt_f10\",\"kind\":\"invoice\",\"created\":1,"
		  "\"invoice\":\"in_f\",\"subscription\":\"sub_f\",\"paid\":true,"
		  "\"amount_paid\":\"lots\"}", "invalid input syntax" },
	};
	char			 reason[FB_CAUSE_MAX], before[256];
	enum store_outcome	 o;
	size_t			 i;
	int			 c;

	reset_tables();
	apply_text(s, CHECKOUT("evt_f0", "1", U1, "gold", "true", "sub_f0",
	    "cus_f0"), reason, sizeof(reason));
	snprintf(before, sizeof(before), "%s", q(COUNTS_SQL));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		o = apply_text(s, bad[i].text, reason, sizeof(reason));
		c = o == OUTCOME_FAILED && strstr(reason, bad[i].reason) != NULL;
		ok(c, "permanent failure %zu: %s", i, bad[i].reason);
		if (!c)
			diag("  got %s '%s'", store_outcome_str(o), reason);
		is_str(q(COUNTS_SQL), before, "  and not a row written");
	}
}

static void
test_round_trips_dry_run(struct store *s)
{
	char			 reason[FB_CAUSE_MAX], before[256];
	json_t			*c, *detail = NULL;
	enum store_outcome	 o;
	uint64_t		 rt;
	int			 i, good = 1;
	char			 id[64], text[1024], xmax0[32];

	reset_tables();
	snprintf(xmax0, sizeof(xmax0), "%s",
	    q("SELECT txid_snapshot_xmax(txid_current_snapshot())"));
	for (i = 0; i < 20; i++) {
		snprintf(id, sizeof(id), "evt_rt%d", i);
		snprintf(text, sizeof(text), "{\"event_id\":\"%s\",\"type\":"
		    "\"coupon.created\",\"kind\":\"%s\",\"created\":%d%s}", id,
		    i % 2 ? "ignored" : "subscription", 1000 + i, i % 2 ? "" :
		    ",\"subscription\":\"sub_rt\",\"customer\":\"cus_rt\","
		    "\"status\":\"active\"");
		rt = store_round_trips(s);
		o = apply_text(s, text, reason, sizeof(reason));
		if (store_round_trips(s) - rt != 1 || o >= OUTCOME_FAILED)
			good = 0;
		rt = store_round_trips(s);
		o = apply_text(s, text, reason, sizeof(reason));
		if (store_round_trips(s) - rt != 1 || o != OUTCOME_DUPLICATE)
			good = 0;
	}
	ok(good, "exactly 1 round trip per apply, new or duplicate (40 applies)");
	/* Server side: one transaction id per new event, none per duplicate. */
	snprintf(text, sizeof(text), "SELECT txid_snapshot_xmax("
	    "txid_current_snapshot()) - %s", xmax0);
	is_str(q(text), "20", "the server assigned 20 transaction ids to 20 new "
	    "events and 20 duplicates");

	reset_tables();
	apply_text(s, CHECKOUT("evt_dr0", "1", U2, "gold", "true", "sub_dr0",
	    "cus_dr0"), reason, sizeof(reason));
	snprintf(before, sizeof(before), "%s", q(COUNTS_SQL));
	c = change(CHECKOUT("evt_dr1", "1", U1, "gold", "true", "sub_dr",
	    "cus_dr"));
	rt = store_round_trips(s);
	o = store_apply(s, c, 1, &detail, reason, sizeof(reason));
	ok(o == OUTCOME_APPLIED, "dry run reports applied");
	ok(store_round_trips(s) - rt == 3, "dry run: BEGIN, apply, ROLLBACK");
	ok(detail != NULL && json_is_true(json_object_get(json_array_get(
	    json_object_get(detail, "users"), 0), "is_premium")),
	    "dry run detail says the user would become premium");
	is_str(q(COUNTS_SQL), before, "dry run wrote nothing");
	json_decref(detail);
	o = store_apply(s, c, 0, NULL, reason, sizeof(reason));
	ok(o == OUTCOME_APPLIED, "the same event applies for real afterwards");
	json_decref(c);
}

/*
 * The change document's text, as a bee writes it (change.c) and as
 * jansson dumps it (store_apply): every escape must reach PostgreSQL
 * intact.  An ignored change echoes its note back.
 */
static void
test_text(struct store *s)
{
	static const char	 note[] = "q\"b\\s/\n\t\x01\x1f \xc3\xa9 "
	    "\xe6\x97\xa5 \xf0\x9f\x90\x9d end";
	char			 reason[FB_CAUSE_MAX];
	enum store_outcome	 o;
	json_t			*c;
	int			 i;

	for (i = 0; i < 2; i++) {
		c = json_pack("{s:s, s:s, s:s, s:I, s:b, s:n, s:[i, s, {}], "
		    "s:s}", "kind", "ignored", "event_id", i ? "evt_text_1" :
		    "evt_text_0", "type", "test.text", "created",
		    (json_int_t)1764000000, "livemode", 0, "nothing", "list", -7,
		    "x\"y", "note", note);
		if (i == 1)	/* a real: jansson writes it */
			json_object_set_new(c, "ratio", json_real(0.25));
		o = store_apply(s, c, 0, NULL, reason, sizeof(reason));
		ok(o == OUTCOME_IGNORED, "escapes%s: ignored (%s)", i ?
		    " with a real" : "", store_outcome_str(o));
		is_str(reason, note, i ? "the note, through json_dumps, "
		    "with a real" : "the note, through json_dumps");
		json_decref(c);
	}
	{
		struct fb_change	fc;

		change_init(&fc);
		change_cstr(&fc, "kind", "ignored");
		change_cstr(&fc, "event_id", "evt_text_2");
		change_cstr(&fc, "type", "test.text");
		change_int(&fc, "created", 1764000000);
		change_bool(&fc, "livemode", 0);
		change_null(&fc, "nothing");
		change_cstr(&fc, "note", note);
		o = store_apply_text(s, change_text(&fc, NULL), 0, NULL,
		    reason, sizeof(reason));
		ok(o == OUTCOME_IGNORED, "escapes, written by change.c: "
		    "ignored (%s)", store_outcome_str(o));
		is_str(reason, note, "the note, every escape intact");
		change_free(&fc);
	}
	is_str(q("SELECT count(*) FROM processed_webhooks WHERE event_id LIKE "
	    "'evt_text_%'"), "3", "all three recorded once");
}

static void
test_transient(struct store *s)
{
	char			 reason[FB_CAUSE_MAX], sql[256];
	struct task_result	 r;
	struct fb_config	 c2 = cfg;
	struct store		*s2;
	enum store_outcome	 o;
	json_t			*c;
	PGresult		*res;

	reset_tables();
	/* Kill our backend: the next call is transient, the one after works. */
	q("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
	    "WHERE application_name = 'financebee' AND pid <> "
	    "pg_backend_pid()");
	o = apply_text(s, CHECKOUT("evt_tr1", "1", U1, "gold", "true",
	    "sub_tr", "cus_tr"), reason, sizeof(reason));
	ok(o == OUTCOME_TRANSIENT, "connection killed: transient (%s)", reason);
	o = apply_text(s, CHECKOUT("evt_tr1", "1", U1, "gold", "true",
	    "sub_tr", "cus_tr"), reason, sizeof(reason));
	ok(o == OUTCOME_APPLIED, "next call reconnects and applies (%s)",
	    store_outcome_str(o));

	/* A user row locked elsewhere: statement timeout, transient. */
	c2.db_statement_timeout_ms = 300;
	if ((s2 = store_open(&c2, reason, sizeof(reason))) == NULL) {
		ok(0, "store_open: %s", reason);
		return;
	}
	res = PQexec(db, "BEGIN");
	PQclear(res);
	snprintf(sql, sizeof(sql), "SELECT 1 FROM user_profiles WHERE id = "
	    "'%s' FOR UPDATE", U2);
	q(sql);
	c = change(CHECKOUT("evt_tr2", "1", U2, "gold", "true", "sub_tr2",
	    "cus_tr2"));
	memset(&r, 0, sizeof(r));
	task_apply(s2, c, 0, clock_now_ms() + 1500, &r);
	ok(r.outcome == OUTCOME_TRANSIENT && r.attempts > 1,
	    "locked row: statement timeout is transient, retried until the "
	    "deadline (%u attempts: %s)", r.attempts, r.reason);
	task_result_clear(&r);
	res = PQexec(db, "ROLLBACK");
	PQclear(res);
	o = store_apply(s2, c, 0, NULL, reason, sizeof(reason));
	ok(o == OUTCOME_APPLIED, "lock released: applied (%s)", reason);
	json_decref(c);

	/*
	 * A server that stops answering (backend frozen with SIGSTOP): the
	 * client gives up after statement_timeout + grace, drops the
	 * connection and reports transient; the retry is then exactly-once.
	 */
	{
		const char	*pid;
		char		 cmd[128];
		int64_t		 t0;

		pid = q("SELECT pid FROM pg_stat_activity WHERE "
		    "application_name = 'financebee' AND pid <> "
		    "pg_backend_pid() ORDER BY backend_start DESC LIMIT 1");
		snprintf(cmd, sizeof(cmd), "%s", pid);
		c = change(CHECKOUT("evt_tr3", "1", U3, "gold", "true",
		    "sub_tr3", "cus_tr3"));
		if (kill((pid_t)atoi(cmd), SIGSTOP) == 0) {
			t0 = clock_now_ms();
			o = store_apply(s2, c, 0, NULL, reason, sizeof(reason));
			ok(o == OUTCOME_TRANSIENT && strstr(reason, "no reply") &&
			    clock_now_ms() - t0 < 10000, "frozen server: "
			    "transient after the client-side timeout (%s)",
			    reason);
			kill((pid_t)atoi(cmd), SIGCONT);
			o = store_apply(s2, c, 0, NULL, reason, sizeof(reason));
			ok(o == OUTCOME_APPLIED || o == OUTCOME_DUPLICATE,
			    "after it thaws the retry is applied or a "
			    "duplicate (%s)", store_outcome_str(o));
			is_str(q("SELECT count(*) FROM subscriptions WHERE "
			    "stripe_subscription_id = 'sub_tr3'"), "1",
			    "and the effect exists once");
		} else
			ok(0, "cannot SIGSTOP backend %s", cmd);
		json_decref(c);
	}
	store_free(s2);
}

static void
test_schema(struct store *s)
{
	char	cause[FB_CAUSE_MAX], want[32];
	int	v = -1, rc;

	ok(store_check_schema(s, cause, sizeof(cause)) == 0,
	    "store_check_schema accepts version %d", FB_SCHEMA_VERSION);
	q("INSERT INTO financebee_schema_version VALUES (999, 'future')");
	rc = store_check_schema(s, cause, sizeof(cause));
	snprintf(want, sizeof(want), "needs %d", FB_SCHEMA_VERSION);
	ok(rc == -1 && strstr(cause, "999") != NULL &&
	    strstr(cause, want) != NULL, "version 999: refused (%s)",
	    cause);
	rc = store_migrate(s, getenv("FINANCEBEE_SQLDIR"), &v, cause,
	    sizeof(cause));
	ok(rc == -1 && strstr(cause, "newer") != NULL,
	    "--migrate refuses a newer database (%s)", cause);
	q("DELETE FROM financebee_schema_version WHERE version = 999");
	ok(store_check_schema(s, cause, sizeof(cause)) == 0, "back to normal");
	rc = store_migrate(s, "/nonexistent/sql", &v, cause, sizeof(cause));
	ok(rc == -3, "unusable SQL directory: -3 (%s)", cause);
}

static void
test_bad_user_profiles(void)
{
	struct fb_config	 c2 = cfg;
	struct store		*s2;
	char			 cause[FB_CAUSE_MAX];
	int			 v = -1, rc;

	q("DROP DATABASE IF EXISTS fbbadprofiles");
	q("CREATE DATABASE fbbadprofiles");
	c2.conninfo = "dbname=fbbadprofiles";
	if ((s2 = store_open(&c2, cause, sizeof(cause))) == NULL) {
		ok(0, "open fbbadprofiles: %s", cause);
		return;
	}
	{
		PGconn	*b = PQconnectdb("dbname=fbbadprofiles");
		PGresult *res = PQexec(b, "CREATE TABLE user_profiles "
		    "(id uuid PRIMARY KEY, is_premium boolean)");

		PQclear(res);
		PQfinish(b);
	}
	rc = store_migrate(s2, getenv("FINANCEBEE_SQLDIR"), &v, cause,
	    sizeof(cause));
	ok(rc == -1 && strstr(cause, "user_profiles") != NULL &&
	    strstr(cause, "subscription_tier") != NULL &&
	    strstr(cause, "updated_at") != NULL,
	    "user_profiles without our columns: clear failure (%s)", cause);
	rc = store_check_schema(s2, cause, sizeof(cause));
	ok(rc == -1 && strstr(cause, "not installed") != NULL,
	    "and nothing was installed (%s)", cause);
	store_free(s2);
	q("DROP DATABASE fbbadprofiles");
}

static void
test_prune(struct store *s)
{
	char	reason[FB_CAUSE_MAX];
	long	n;

	reset_tables();
	apply_text(s, SUB("evt_pr1", "created", "1", "sub_pr1", "cus_pr1",
	    "active", "gold", P0, P1), reason, sizeof(reason));
	apply_text(s, SUB("evt_pr2", "created", "1", "sub_pr2", "cus_pr2",
	    "active", "gold", P0, P1), reason, sizeof(reason));
	apply_text(s, "{\"event_id\":\"evt_pr3\",\"kind\":\"ignored\","
	    "\"created\":1}", reason, sizeof(reason));
	q("UPDATE processed_webhooks SET processed_at = now() - '40 days'::"
	    "interval WHERE event_id IN ('evt_pr1', 'evt_pr3')");
	q("UPDATE parked_events SET parked_at = now() - '40 days'::interval "
	    "WHERE event_id = 'evt_pr1'");
	n = store_prune(s, 35, reason, sizeof(reason));
	ok(n == 3, "prune removed 2 old markers + 1 old parked event (%ld)", n);
	is_str(q("SELECT string_agg(event_id, ',') FROM processed_webhooks"),
	    "evt_pr2", "the young marker stays");
	is_str(q("SELECT string_agg(event_id, ',') FROM parked_events"),
	    "evt_pr2", "the young parked event stays");
	n = store_prune(s, 35, reason, sizeof(reason));
	ok(n == 0, "prune again: nothing (%ld)", n);
}

int
main(void)
{
	struct store	*s;
	char		 cause[FB_CAUSE_MAX], *inorder[NSCENARIOS], want[32];
	int		 v = -1, rc;
	size_t		 i;

	signal(SIGPIPE, SIG_IGN);
	log_init("test-store", LOG_LEVEL_WARN, "stderr", cause, sizeof(cause));
	memset(&cfg, 0, sizeof(cfg));
	cfg.conninfo = "";
	cfg.db_connect_timeout = 5;
	cfg.db_statement_timeout_ms = 5000;

	if ((db = PQconnectdb("")) == NULL || PQstatus(db) != CONNECTION_OK) {
		printf("Bail out! no database: %s\n", PQerrorMessage(db));
		return 1;
	}
	PQclear(PQexec(db, "SET client_min_messages = warning"));
	s = open_store();
	rc = store_check_schema(s, cause, sizeof(cause));
	ok(rc == -1 && strstr(cause, "--migrate") != NULL,
	    "empty database: schema check says to migrate (%s)", cause);
	rc = store_migrate(s, getenv("FINANCEBEE_SQLDIR"), &v, cause,
	    sizeof(cause));
	ok(rc == 0 && v == FB_SCHEMA_VERSION, "migrate: version %d (%s)", v,
	    rc ? cause : "ok");
	rc = store_migrate(s, getenv("FINANCEBEE_SQLDIR"), &v, cause,
	    sizeof(cause));
	ok(rc == 0 && v == FB_SCHEMA_VERSION, "migrate again: a no-op");
	snprintf(want, sizeof(want), "%d", FB_SCHEMA_VERSION);
	is_str(q("SELECT count(*) FROM financebee_schema_version"), want,
	    "one version row per migration");
	q("INSERT INTO user_profiles (id) VALUES ('" U1 "'), ('" U2 "'), "
	    "('" U3 "')");
	/* No autovacuum ANALYZE taking transaction ids behind our back. */
	q("ALTER TABLE user_profiles SET (autovacuum_enabled = false); "
	    "ALTER TABLE subscriptions SET (autovacuum_enabled = false); "
	    "ALTER TABLE processed_webhooks SET (autovacuum_enabled = false); "
	    "ALTER TABLE parked_events SET (autovacuum_enabled = false); "
	    "ALTER TABLE revenue_ledger SET (autovacuum_enabled = false)");

	test_schema(s);
	test_bad_user_profiles();
	test_round_trips_dry_run(s);
	test_permanent(s);
	test_text(s);
	test_scenarios(s, inorder);
	test_concurrency(inorder);
	test_transient(s);
	test_prune(s);

	for (i = 0; i < NSCENARIOS; i++)
		free(inorder[i]);
	store_free(s);
	PQfinish(db);
	return tap_done();
}
