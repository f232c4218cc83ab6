/*
 * fuzz-stripe: the guardian and the Stripe event normaliser
 * (src/financebeed/guardian.c, stripe.c), as a bee runs them: the input
 * is the raw event text, args[0] of a validate_revenue process, checked
 * by guardian_check_change() into a reused change document.
 *
 * Checked: a rejection always has a cause naming a field; an accepted
 * event gives a change document that is a JSON object with an event_id
 * (the event's id) and a known kind; the change_json() form of it is the
 * same object.  The configuration is the one of t/test-guardian.c
 * (test mode, no webhook secret, tiers bronze < silver < gold).
 * Seeds: t/data/stripe-events, t/data/events.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "financebeed.h"
#include "fuzz.h"

static char *fuzz_funcnames[] = { "validate_revenue" };
static char *fuzz_tiers[] = { "bronze", "silver", "gold" };
static char *fuzz_premium[] = { "active", "trialing" };
static struct fb_price_tier fuzz_prices[] = {
	{ "price_bronze_monthly", "bronze" },
	{ "price_silver_monthly", "silver" },
	{ "price_gold_monthly", "gold" },
	{ "price_gold_yearly", "gold" },
	{ "price_1IDQm5JDPojXS6LNM31hxKzp", "silver" },
	{ "price_000000000000000000000000", "bronze" },
};
static struct fb_config		fuzz_cfg;
static struct fb_change		fuzz_change;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_cfg.funcnames = fuzz_funcnames;
	fuzz_cfg.nfuncnames = 1;
	fuzz_cfg.prices = fuzz_prices;
	fuzz_cfg.nprices = sizeof(fuzz_prices) / sizeof(fuzz_prices[0]);
	fuzz_cfg.tiers = fuzz_tiers;
	fuzz_cfg.ntiers = 3;
	fuzz_cfg.premium_statuses = fuzz_premium;
	fuzz_cfg.npremium_statuses = 2;
	fuzz_cfg.max_payload = 1024 * 1024;
	fuzz_cfg.max_depth = 64;
	fuzz_cfg.signature_tolerance = 300;
	change_init(&fuzz_change);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const kinds[] = { "checkout", "subscription",
	    "invoice", "refund", "dispute", "customer_deleted", "ignored",
	    NULL };
	struct guardian_input	 in;
	const char		*s = (const char *)data, *text;
	char			 cause[FB_CAUSE_MAX];
	json_error_t		 err;
	json_t			*args, *doc, *kind, *id, *j;
	size_t			 i, tlen;

	if (fuzz_cfg.tiers == NULL)	/* a driver without the hook */
		LLVMFuzzerInitialize(NULL, NULL);
	/* Any bytes: the guardian sees what jansson's decoder let through,
	 * and more. */
	if ((args = json_array()) == NULL ||
	    json_array_append_new(args, json_stringn_nocheck(s, size)) == -1)
		abort();
	memset(&in, 0, sizeof(in));
	in.funcname = "validate_revenue";
	in.args = args;
	in.now = INT64_C(1764000000);
	cause[0] = '\0';
	if (guardian_check_change(&fuzz_cfg, &in, &fuzz_change, cause,
	    sizeof cause) == -1) {
		FUZZ_CHECK(cause[0] != '\0' && strlen(cause) < sizeof cause,
		    s, size);
		json_decref(args);
		return 0;
	}
	text = change_text(&fuzz_change, &tlen);
	FUZZ_CHECK(text != NULL && strlen(text) == tlen, s, size);
	doc = json_loadb(text, tlen, JSON_REJECT_DUPLICATES, &err);
	FUZZ_CHECK(json_is_object(doc), text, tlen);
	id = json_object_get(doc, "event_id");
	FUZZ_CHECK(json_is_string(id) &&
	    strncmp(json_string_value(id), "evt_", 4) == 0, text, tlen);
	kind = json_object_get(doc, "kind");
	FUZZ_CHECK(json_is_string(kind), text, tlen);
	for (i = 0; kinds[i] != NULL; i++)
		if (strcmp(json_string_value(kind), kinds[i]) == 0)
			break;
	FUZZ_CHECK(kinds[i] != NULL, text, tlen);
	FUZZ_CHECK(json_is_string(json_object_get(doc, "type")) &&
	    json_is_integer(json_object_get(doc, "created")) &&
	    json_is_boolean(json_object_get(doc, "livemode")), text, tlen);
	j = change_json(&fuzz_change);
	FUZZ_CHECK(j != NULL && json_equal(j, doc), text, tlen);
	json_decref(j);
	json_decref(doc);
	json_decref(args);
	return 0;
}
