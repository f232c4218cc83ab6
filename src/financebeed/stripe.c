/*
 * stripe.c: Stripe webhook signatures and the normalisation of a parsed
 * event into the "change document" that fb_apply_event() applies.
 *
 * Nothing here touches the network or the database; every rule broken by
 * an event is a permanent failure whose cause names the field.
 */

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nettle/hmac.h>
#include <openssl/crypto.h>

#include "financebeed.h"

#define STRIPE_HEADER_MAX	4096	/* a real header is ~150 bytes */
#define STRIPE_V1_MAX		16	/* v1 values looked at per header */
#define STRIPE_ID_MAX		255
#define STRIPE_ITEMS_MAX	250	/* subscription items / invoice lines */
#define STRIPE_TS_MIN		INT64_C(946684800)	/* 2000-01-01 */
#define STRIPE_TS_MAX		INT64_C(7258118400)	/* 2200-01-01 */

static const char *const stripe_statuses[] = {
	"incomplete", "incomplete_expired", "trialing", "active", "past_due",
	"canceled", "unpaid", "paused", NULL
};
static const char *const stripe_default_tiers[] = {
	"bronze", "silver", "gold", NULL
};
static const char *const stripe_default_premium[] = {
	"active", "trialing", NULL
};

/* Expected id prefixes; NULL list = any well-formed id. */
static const char *const pfx_sub[] = { "sub_", "su_", NULL };
static const char *const pfx_cus[] = { "cus_", NULL };
static const char *const pfx_cs[] = { "cs_", NULL };
static const char *const pfx_in[] = { "in_", NULL };
static const char *const pfx_ch[] = { "ch_", "py_", NULL };
static const char *const pfx_pi[] = { "pi_", NULL };
static const char *const pfx_dp[] = { "dp_", "du_", NULL };

/* Cold: every call is a rejection, so the compiler moves those paths out
 * of the way of the ones an accepted event runs. */
static void	stripe_cause(char *, size_t, const char *, ...)
		    __attribute__((__cold__, __format__(__printf__, 3, 4)));

/*
 * A field's path for causes: pre, then [idx] unless idx is STRIPE_NOIDX,
 * then the strings that follow, up to NULL; truncated to fit.  Built for
 * every item of every event, so without printf (whose code, cold after
 * the database round trip, cost more than the rest of the normalisation).
 */
#define STRIPE_NOIDX	((size_t)-1)
static const char *
stripe_path(char *buf, size_t buflen, const char *pre, size_t idx, ...)
{
	va_list		 ap;
	const char	*s;
	char		 num[24], *n = num + sizeof(num);
	size_t		 o = 0, l;

	if (buflen == 0)
		return buf;
	l = strlen(pre);
	if (l > buflen - 1)
		l = buflen - 1;
	memcpy(buf, pre, l);
	o = l;
	if (idx != STRIPE_NOIDX) {
		*--n = ']';
		do
			*--n = (char)('0' + idx % 10);
		while ((idx /= 10) != 0);
		*--n = '[';
		l = (size_t)(num + sizeof(num) - n);
		if (l > buflen - 1 - o)
			l = buflen - 1 - o;
		memcpy(buf + o, n, l);
		o += l;
	}
	va_start(ap, idx);
	while ((s = va_arg(ap, const char *)) != NULL) {
		l = strlen(s);
		if (l > buflen - 1 - o)
			l = buflen - 1 - o;
		memcpy(buf + o, s, l);
		o += l;
	}
	va_end(ap);
	buf[o] = '\0';
	return buf;
}

static void
stripe_cause(char *cause, size_t causelen, const char *fmt, ...)
{
	va_list	ap;

	if (cause == NULL || causelen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(cause, causelen, fmt, ap);
	va_end(ap);
}

/*
 * Quote untrusted text for a cause: printable ASCII kept, the rest as \xNN,
 * cut after 48 input bytes.  Always NUL-terminates buf.
 */
const char *
stripe_quote(const char *s, size_t n, char *buf, size_t buflen)
{
	size_t	i, o = 0;
	int	cut = 0;

	if (buflen < 8) {
		if (buflen > 0)
			buf[0] = '\0';
		return buf;
	}
	if (n > 48) {
		n = 48;
		cut = 1;
	}
	buf[o++] = '"';
	for (i = 0; i < n && o + 8 < buflen; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
			buf[o++] = c;
		else
			o += snprintf(buf + o, buflen - o, "\\x%02x", c);
	}
	if (i < n)
		cut = 1;
	buf[o++] = '"';
	if (cut && o + 4 < buflen) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}

/* --- signatures -------------------------------------------------------- */

static int
stripe_unhex32(const char *s, size_t n, unsigned char out[32])
{
	return n == 64 && crypto_unhex(s, n, out, 32) == 32 ? 0 : -1;
}

/* nettle's HMAC-SHA256: no OpenSSL provider to initialise (crypto.c). */
static int
stripe_hmac(const char *key, const char *t, size_t tlen, const void *body,
    size_t bodylen, unsigned char out[32])
{
	struct hmac_sha256_ctx	ctx;

	hmac_sha256_set_key(&ctx, strlen(key), (const uint8_t *)key);
	hmac_sha256_update(&ctx, tlen, (const uint8_t *)t);
	hmac_sha256_update(&ctx, 1, (const uint8_t *)".");
	hmac_sha256_update(&ctx, bodylen, body);
	hmac_sha256_digest(&ctx, SHA256_DIGEST_SIZE, out);
	explicit_bzero(&ctx, sizeof ctx);
	return 0;
}

/*
 * Policy (see stripe-semantics.md §2.3):
 *  - items split on ','; each needs '='; keys and values are exact (no
 *    trimming: "t=1, v1=..." has a key " v1" and therefore no v1);
 *  - exactly one t: 1-12 digits, no leading zero;
 *  - v1 values must be 64 hex digits, decoded case-insensitively (as
 *    stripe-go does: uppercase hex is accepted), other v1 values are skipped;
 *    v0 and unknown keys are ignored;
 *  - the HMAC is checked before the timestamp, so a forged header never
 *    learns whether its t was in the window;
 *  - |now - t| <= tolerance, both directions;
 *  - no secret configured: nothing can match (MISMATCH); guardian.c does
 *    not call us then.
 * Causes never contain a secret, an expected signature or a received one.
 */
enum stripe_sig_result
stripe_verify_signature(const char *header, const void *body, size_t bodylen,
    char *const *secrets, size_t nsecrets, int64_t now, int64_t tolerance,
    char *cause, size_t causelen)
{
	unsigned char	 sigs[STRIPE_V1_MAX][32], mac[32];
	const char	*p, *item, *eq, *end, *t = NULL;
	size_t		 hlen, klen, vlen, tlen = 0, nsigs = 0, nbad = 0;
	size_t		 nitem = 0, i, j;
	int64_t		 ts = 0;
	int		 matched = 0;

	if (header == NULL || *header == '\0') {
		stripe_cause(cause, causelen, "no signature header");
		return STRIPE_SIG_MALFORMED;
	}
	hlen = strlen(header);
	if (hlen > STRIPE_HEADER_MAX) {
		stripe_cause(cause, causelen, "signature header is %zu bytes "
		    "(more than %d)", hlen, STRIPE_HEADER_MAX);
		return STRIPE_SIG_MALFORMED;
	}

	for (p = header; p <= header + hlen; p = end + 1) {
		item = p;
		if ((end = strchr(item, ',')) == NULL)
			end = header + hlen;
		nitem++;
		eq = memchr(item, '=', end - item);
		if (eq == NULL) {
			stripe_cause(cause, causelen, "signature header item %zu "
			    "has no '='", nitem);
			return STRIPE_SIG_MALFORMED;
		}
		klen = eq - item;
		vlen = end - eq - 1;
		if (klen == 1 && item[0] == 't') {
			if (t != NULL) {
				stripe_cause(cause, causelen, "signature header "
				    "has more than one t");
				return STRIPE_SIG_MALFORMED;
			}
			t = eq + 1;
			tlen = vlen;
		} else if (klen == 2 && item[0] == 'v' && item[1] == '1') {
			if (nsigs < STRIPE_V1_MAX &&
			    stripe_unhex32(eq + 1, vlen, sigs[nsigs]) == 0)
				nsigs++;
			else
				nbad++;
		}
		/* v0 and unknown schemes are ignored. */
		if (*end == '\0')
			break;
	}

	if (t == NULL) {
		stripe_cause(cause, causelen, "signature header has no "
		    "timestamp (t=)");
		return STRIPE_SIG_MALFORMED;
	}
	if (tlen < 1 || tlen > 12 || t[0] == '0') {
		stripe_cause(cause, causelen, "signature timestamp t is not "
		    "1-12 digits without a leading zero");
		return STRIPE_SIG_MALFORMED;
	}
	for (i = 0; i < tlen; i++) {
		if (t[i] < '0' || t[i] > '9') {
			stripe_cause(cause, causelen, "signature timestamp t "
			    "is not a decimal number");
			return STRIPE_SIG_MALFORMED;
		}
		ts = ts * 10 + (t[i] - '0');
	}
	if (nsigs == 0) {
		if (nbad > 0)
			stripe_cause(cause, causelen, "no v1 signature of 64 "
			    "hex digits (%zu malformed v1 ignored)", nbad);
		else
			stripe_cause(cause, causelen, "no v1 signature");
		return STRIPE_SIG_MALFORMED;
	}
	if (nsecrets == 0) {
		stripe_cause(cause, causelen, "no webhook secret configured "
		    "to verify the signature");
		return STRIPE_SIG_MISMATCH;
	}

	for (j = 0; j < nsecrets && !matched; j++) {
		if (secrets[j] == NULL ||
		    stripe_hmac(secrets[j], t, tlen, body, bodylen, mac) == -1)
			continue;
		for (i = 0; i < nsigs; i++) {
			/* No early exit: time does not depend on which matched. */
			if (CRYPTO_memcmp(mac, sigs[i], sizeof mac) == 0)
				matched = 1;
		}
	}
	OPENSSL_cleanse(mac, sizeof mac);
	if (!matched) {
		stripe_cause(cause, causelen, "no v1 signature matches the "
		    "body with the configured webhook secret%s (%zu v1, "
		    "%zu secret%s tried)", nsecrets == 1 ? "" : "s", nsigs,
		    nsecrets, nsecrets == 1 ? "" : "s");
		return STRIPE_SIG_MISMATCH;
	}

	if (tolerance < 0)
		tolerance = 0;
	if (now - ts > tolerance) {
		stripe_cause(cause, causelen, "signature timestamp t=%" PRId64
		    " is %" PRId64 " s old (tolerance %" PRId64 " s)", ts,
		    now - ts, tolerance);
		return STRIPE_SIG_TOO_OLD;
	}
	if (ts - now > tolerance) {
		stripe_cause(cause, causelen, "signature timestamp t=%" PRId64
		    " is %" PRId64 " s in the future (tolerance %" PRId64 " s)",
		    ts, ts - now, tolerance);
		return STRIPE_SIG_TOO_NEW;
	}
	return STRIPE_SIG_OK;
}

const char *
stripe_sig_result_str(enum stripe_sig_result r)
{
	switch (r) {
	case STRIPE_SIG_OK:
		return "ok";
	case STRIPE_SIG_MALFORMED:
		return "malformed";
	case STRIPE_SIG_MISMATCH:
		return "mismatch";
	case STRIPE_SIG_TOO_OLD:
		return "too old";
	case STRIPE_SIG_TOO_NEW:
		return "too new";
	}
	return "unknown";
}

/* --- field access -------------------------------------------------------- */

/* The price ids of a subscription, each once (items are bounded). */
#define STRIPE_PRICES_MAX	(STRIPE_ITEMS_MAX + 1)
struct stripe_prices {
	const char	*id[STRIPE_PRICES_MAX];	/* in the event's tree */
	size_t		 n;
};

/* One normalisation: causes name fields by their path from the event. */
struct stripe_ctx {
	const struct fb_config	*cfg;
	const struct fbj		*obj;		/* data.object */
	struct fb_change	*change;
	char			*cause;
	size_t			 causelen;
};

static int
stripe_id_ok(const char *s, size_t n)
{
	size_t	i;

	if (n < 1 || n > STRIPE_ID_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		if (!isalnum((unsigned char)s[i]) && s[i] != '_')
			return 0;
	}
	return 1;
}

/*
 * A reference to another Stripe object: an id string, or the expanded
 * object with an "id".  NULL/absent gives *out = NULL (or a failure when
 * required).
 */
static int
stripe_ref(struct stripe_ctx *sc, const struct fbj *obj, const char *key,
    const char *path, const char *what, const char *const *pfx, int required,
    const char **out)
{
	char		 q[160];
	const struct fbj	*v;
	const char	*s;
	size_t		 n, i;

	*out = NULL;
	v = obj != NULL ? fbj_object_get(obj, key) : NULL;
	if (fbj_is_object(v))
		v = fbj_object_get(v, "id");
	if (v == NULL || fbj_is_null(v)) {
		if (!required)
			return 0;
		stripe_cause(sc->cause, sc->causelen, "%s: missing (a Stripe %s "
		    "id is required)", path, what);
		return -1;
	}
	if (!fbj_is_string(v)) {
		stripe_cause(sc->cause, sc->causelen, "%s: must be a string "
		    "(a Stripe %s id)", path, what);
		return -1;
	}
	s = fbj_string_value(v);
	n = fbj_string_length(v);
	if (!stripe_id_ok(s, n) || strlen(s) != n) {
		stripe_cause(sc->cause, sc->causelen, "%s: %s is not a valid "
		    "Stripe id (1-%d letters, digits or _)", path,
		    stripe_quote(s, n, q, sizeof q), STRIPE_ID_MAX);
		return -1;
	}
	if (pfx != NULL) {
		for (i = 0; pfx[i] != NULL; i++) {
			if (strncmp(s, pfx[i], strlen(pfx[i])) == 0)
				break;
		}
		if (pfx[i] == NULL) {
			stripe_cause(sc->cause, sc->causelen, "%s: %s is not a "
			    "Stripe %s id (expected prefix %s)", path,
			    stripe_quote(s, n, q, sizeof q), what, pfx[0]);
			return -1;
		}
	}
	*out = s;
	return 0;
}

/* Copy a reference into the change under name (absent stays absent). */
static int
stripe_put_ref(struct stripe_ctx *sc, const char *name, const struct fbj *obj,
    const char *key, const char *path, const char *what,
    const char *const *pfx, int required)
{
	const char	*s;

	if (stripe_ref(sc, obj, key, path, what, pfx, required, &s) == -1)
		return -1;
	if (s != NULL)
		change_cstr(sc->change, name, s);
	return 0;
}

/*
 * A reference the effect does not depend on, only the linking of money
 * rows (an invoice's charge and payment intent, for disputes): kept when
 * it is a well-formed id, left out otherwise.  Real payloads carry
 * placeholders there (stripe-ruby-mock's "charge": "_00000000000000").
 */
static void
stripe_put_link(struct stripe_ctx *sc, const char *name, const struct fbj *obj,
    const char *key, const char *const *pfx)
{
	const char	*s;

	if (stripe_ref(sc, obj, key, key, name, pfx, 0, &s) == -1)
		sc->cause[0] = '\0';
	else if (s != NULL)
		change_cstr(sc->change, name, s);
}

/* An integer in [min, max]; absent/null leaves *present = 0. */
static int
stripe_int(struct stripe_ctx *sc, const struct fbj *obj, const char *key,
    const char *path, int64_t min, int64_t max, int64_t *out, int *present)
{
	const struct fbj	*v;
	int64_t	 i;

	*present = 0;
	v = obj != NULL ? fbj_object_get(obj, key) : NULL;
	if (v == NULL || fbj_is_null(v))
		return 0;
	if (!fbj_is_integer(v)) {
		stripe_cause(sc->cause, sc->causelen, "%s: must be an integer",
		    path);
		return -1;
	}
	i = fbj_integer_value(v);
	if (i < min || i > max) {
		if (min == STRIPE_TS_MIN)
			stripe_cause(sc->cause, sc->causelen, "%s: %" PRId64
			    " is not a timestamp between 2000 and 2200", path, i);
		else
			stripe_cause(sc->cause, sc->causelen, "%s: %" PRId64
			    " is out of range %" PRId64 "..%" PRId64, path, i,
			    min, max);
		return -1;
	}
	*out = i;
	*present = 1;
	return 0;
}

static int
stripe_put_int(struct stripe_ctx *sc, const char *name, const struct fbj *obj,
    const char *key, const char *path, int64_t min, int64_t max)
{
	int64_t	i;
	int	present;

	if (stripe_int(sc, obj, key, path, min, max, &i, &present) == -1)
		return -1;
	if (present)
		change_int(sc->change, name, i);
	return 0;
}

static int
stripe_put_amount(struct stripe_ctx *sc, const char *name, const struct fbj *obj,
    const char *key, const char *path)
{
	return stripe_put_int(sc, name, obj, key, path, 0,
	    INT64_C(1000000000000000));
}

static int
stripe_put_bool(struct stripe_ctx *sc, const char *name, const struct fbj *obj,
    const char *key, const char *path)
{
	const struct fbj	*v;

	v = fbj_object_get(obj, key);
	if (v == NULL || fbj_is_null(v))
		return 0;
	if (!fbj_is_boolean(v)) {
		stripe_cause(sc->cause, sc->causelen, "%s: must be true or false",
		    path);
		return -1;
	}
	change_bool(sc->change, name, fbj_is_true(v));
	return 0;
}

/* A short token: [a-z0-9_] (statuses, modes, reasons), 1-64 chars. */
static int
stripe_token(struct stripe_ctx *sc, const struct fbj *obj, const char *key,
    const char *path, int required, const char **out)
{
	char		 q[160];
	const struct fbj	*v;
	const char	*s;
	size_t		 n, i;

	*out = NULL;
	v = fbj_object_get(obj, key);
	if (v == NULL || fbj_is_null(v)) {
		if (!required)
			return 0;
		stripe_cause(sc->cause, sc->causelen, "%s: missing", path);
		return -1;
	}
	if (!fbj_is_string(v)) {
		stripe_cause(sc->cause, sc->causelen, "%s: must be a string",
		    path);
		return -1;
	}
	s = fbj_string_value(v);
	n = fbj_string_length(v);
	for (i = 0; i < n; i++) {
		if (!islower((unsigned char)s[i]) &&
		    !isdigit((unsigned char)s[i]) && s[i] != '_')
			break;
	}
	if (n < 1 || n > 64 || i < n) {
		stripe_cause(sc->cause, sc->causelen, "%s: %s is not a word of "
		    "1-64 lowercase letters, digits or _", path,
		    stripe_quote(s, n, q, sizeof q));
		return -1;
	}
	*out = s;
	return 0;
}

static int
stripe_put_token(struct stripe_ctx *sc, const char *name, const struct fbj *obj,
    const char *key, const char *path)
{
	const char	*s;

	if (stripe_token(sc, obj, key, path, 0, &s) == -1)
		return -1;
	if (s != NULL)
		change_cstr(sc->change, name, s);
	return 0;
}

/* ISO currency: three letters, stored lowercase. */
static int
stripe_put_currency(struct stripe_ctx *sc, const struct fbj *obj, const char *path)
{
	char		 q[160], cur[4];
	const struct fbj	*v;
	const char	*s;
	size_t		 i;

	v = fbj_object_get(obj, "currency");
	if (v == NULL || fbj_is_null(v))
		return 0;
	if (!fbj_is_string(v)) {
		stripe_cause(sc->cause, sc->causelen, "%s: must be a string (a "
		    "three-letter currency code)", path);
		return -1;
	}
	if (fbj_string_length(v) != 3)
		goto bad;
	s = fbj_string_value(v);
	for (i = 0; i < 3; i++) {
		if (!isalpha((unsigned char)s[i]))
			goto bad;
		cur[i] = tolower((unsigned char)s[i]);
	}
	cur[3] = '\0';
	change_cstr(sc->change, "currency", cur);
	return 0;
bad:
	stripe_quote(fbj_string_value(v), fbj_string_length(v), q, sizeof q);
	stripe_cause(sc->cause, sc->causelen, "%s: %s is not a three-letter "
	    "currency code", path, q);
	return -1;
}

/* Canonical 8-4-4-4-12 hex UUID; lowercased into out[37]. */
static int
stripe_uuid(const char *s, size_t n, char out[37])
{
	size_t	i;

	if (n != 36)
		return -1;
	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return -1;
			out[i] = '-';
		} else {
			if (!isxdigit((unsigned char)s[i]))
				return -1;
			out[i] = tolower((unsigned char)s[i]);
		}
	}
	out[36] = '\0';
	return 0;
}

static int
stripe_in_list(const char *s, char *const *list, size_t n,
    const char *const *deflist)
{
	size_t	i;

	if (n == 0) {
		for (i = 0; deflist[i] != NULL; i++) {
			if (strcmp(s, deflist[i]) == 0)
				return (int)i;
		}
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (list[i] != NULL && strcmp(s, list[i]) == 0)
			return (int)i;
	}
	return -1;
}

static int
stripe_tier_rank(const struct fb_config *cfg, const char *tier)
{
	return stripe_in_list(tier, cfg->tiers, cfg->ntiers,
	    stripe_default_tiers);
}

/* A configured list of names, or the default when none is configured. */
static void
stripe_put_list(struct stripe_ctx *sc, const char *name, char *const *list,
    size_t n, const char *const *deflist)
{
	size_t	 i;

	if (n == 0) {
		for (i = 0; deflist[i] != NULL; i++)
			;
		change_list(sc->change, name, deflist, i);
	} else
		change_list(sc->change, name, (const char *const *)list, n);
}

/* --- one function per kind -------------------------------------------- */

static int
stripe_ignore(struct stripe_ctx *sc, const char *note)
{
	change_cstr(sc->change, "kind", "ignored");
	change_cstr(sc->change, "note", note);
	return 0;
}

static int
stripe_checkout(struct stripe_ctx *sc, const char *type)
{
	char		 q[160], uuid[37], note[128];
	const struct fbj	*o = sc->obj, *md, *v;
	const char	*mode, *pstatus, *field, *tier;
	int		 paid;

	if (stripe_token(sc, o, "mode", "data.object.mode", 1, &mode) == -1)
		return -1;
	if (strcmp(mode, "subscription") != 0) {
		snprintf(note, sizeof note, "checkout mode \"%s\" is not a "
		    "subscription", mode);
		return stripe_ignore(sc, note);
	}
	change_cstr(sc->change, "kind", "checkout");
	change_cstr(sc->change, "mode", mode);
	if (stripe_put_ref(sc, "session", o, "id", "data.object.id",
	    "checkout session", pfx_cs, 1) == -1)
		return -1;
	if (stripe_token(sc, o, "payment_status", "data.object.payment_status",
	    1, &pstatus) == -1)
		return -1;
	change_cstr(sc->change, "payment_status", pstatus);

	md = fbj_object_get(o, "metadata");
	if (md != NULL && !fbj_is_null(md) && !fbj_is_object(md)) {
		stripe_cause(sc->cause, sc->causelen, "data.object.metadata: "
		    "must be an object");
		return -1;
	}
	if (!fbj_is_object(md))
		md = NULL;

	/* userId: metadata first, client_reference_id as the fallback. */
	field = "data.object.metadata.userId";
	v = md != NULL ? fbj_object_get(md, "userId") : NULL;
	if (v == NULL || fbj_is_null(v)) {
		v = fbj_object_get(o, "client_reference_id");
		if (v != NULL && !fbj_is_null(v))
			field = "data.object.client_reference_id";
	}
	if (v == NULL || fbj_is_null(v)) {
		stripe_cause(sc->cause, sc->causelen, "data.object.metadata."
		    "userId: missing (and no client_reference_id): the checkout "
		    "cannot be linked to a user");
		return -1;
	}
	if (!fbj_is_string(v)) {
		stripe_cause(sc->cause, sc->causelen, "%s: must be a string "
		    "(a user UUID)", field);
		return -1;
	}
	if (stripe_uuid(fbj_string_value(v), fbj_string_length(v),
	    uuid) == -1) {
		stripe_cause(sc->cause, sc->causelen, "%s: not a UUID: %s",
		    field, stripe_quote(fbj_string_value(v),
		    fbj_string_length(v), q, sizeof q));
		return -1;
	}
	change_cstr(sc->change, "user_id", uuid);

	v = md != NULL ? fbj_object_get(md, "tier") : NULL;
	if (v == NULL || fbj_is_null(v)) {
		stripe_cause(sc->cause, sc->causelen, "data.object.metadata."
		    "tier: missing");
		return -1;
	}
	if (!fbj_is_string(v)) {
		stripe_cause(sc->cause, sc->causelen, "data.object.metadata."
		    "tier: must be a string");
		return -1;
	}
	tier = fbj_string_value(v);
	if (strlen(tier) != fbj_string_length(v) ||
	    stripe_tier_rank(sc->cfg, tier) == -1) {
		stripe_cause(sc->cause, sc->causelen, "data.object.metadata."
		    "tier: %s is not one of the configured tiers",
		    stripe_quote(tier, fbj_string_length(v), q, sizeof q));
		return -1;
	}
	change_cstr(sc->change, "tier", tier);

	if (stripe_put_ref(sc, "customer", o, "customer",
	    "data.object.customer", "customer", pfx_cus, 0) == -1)
		return -1;
	if (stripe_ref(sc, o, "subscription", "data.object.subscription",
	    "subscription", pfx_sub, 0, &field) == -1)
		return -1;
	if (field == NULL) {
		stripe_cause(sc->cause, sc->causelen, "data.object.subscription: "
		    "missing in a subscription-mode checkout");
		return -1;
	}
	change_cstr(sc->change, "subscription", field);
	if (stripe_put_amount(sc, "amount_total", o, "amount_total",
	    "data.object.amount_total") == -1 ||
	    stripe_put_currency(sc, o, "data.object.currency") == -1)
		return -1;

	if (strcmp(type, "checkout.session.async_payment_succeeded") == 0)
		paid = 1;
	else if (strcmp(type, "checkout.session.async_payment_failed") == 0)
		paid = 0;
	else
		paid = strcmp(pstatus, "paid") == 0 ||
		    strcmp(pstatus, "no_payment_required") == 0;
	change_bool(sc->change, "paid", paid);
	return 0;
}

/* One bound of the period: top level if present, else min/max over items. */
static int
stripe_sub_bound(struct stripe_ctx *sc, const struct fbj *items, const char *key,
    int wantmax, int64_t *out, int *present)
{
	char	 path[96];
	const struct fbj	*it;
	size_t	 i;
	int64_t	 v;
	int	 has;

	stripe_path(path, sizeof path, "data.object.", STRIPE_NOIDX, key,
	    (const char *)NULL);
	if (stripe_int(sc, sc->obj, key, path, STRIPE_TS_MIN, STRIPE_TS_MAX,
	    out, present) == -1)
		return -1;
	if (*present)
		return 0;
	fbj_array_foreach(items, i, it) {
		stripe_path(path, sizeof path, "data.object.items.data", i, ".",
		    key, (const char *)NULL);
		if (stripe_int(sc, it, key, path, STRIPE_TS_MIN, STRIPE_TS_MAX,
		    &v, &has) == -1)
			return -1;
		if (has && (!*present || (wantmax ? v > *out : v < *out)))
			*out = v;
		*present |= has;
	}
	return 0;
}

/* Period rule of §1.2; absent stays absent (never written as NULL). */
static int
stripe_sub_period(struct stripe_ctx *sc, const struct fbj *items)
{
	int64_t	start = 0, end = 0;
	int	hasstart, hasend;

	if (stripe_sub_bound(sc, items, "current_period_start", 0, &start,
	    &hasstart) == -1 ||
	    stripe_sub_bound(sc, items, "current_period_end", 1, &end,
	    &hasend) == -1)
		return -1;
	if (hasstart && hasend && end < start) {
		stripe_cause(sc->cause, sc->causelen, "data.object: current "
		    "period ends (%" PRId64 ") before it starts (%" PRId64 ")",
		    end, start);
		return -1;
	}
	if (hasstart)
		change_int(sc->change, "period_start", start);
	if (hasend)
		change_int(sc->change, "period_end", end);
	return 0;
}

static int
stripe_add_price(struct stripe_ctx *sc, struct stripe_prices *prices,
    const struct fbj *holder,
    const char *key, const char *path, int *best)
{
	char		 q[160];
	const struct fbj	*v;
	const char	*s;
	size_t		 n, i;
	int		 rank;

	v = holder != NULL ? fbj_object_get(holder, key) : NULL;
	if (fbj_is_object(v))
		v = fbj_object_get(v, "id");
	if (v == NULL || fbj_is_null(v))
		return 0;
	if (!fbj_is_string(v)) {
		stripe_cause(sc->cause, sc->causelen, "%s: must be a string",
		    path);
		return -1;
	}
	s = fbj_string_value(v);
	n = fbj_string_length(v);
	/* Plan ids are free-form (custom ids exist): printable, bounded. */
	for (i = 0; i < n; i++) {
		if (s[i] <= 0x20 || s[i] >= 0x7f || s[i] == '"' || s[i] == '\\')
			break;
	}
	if (n == 0 || n > STRIPE_ID_MAX || i < n) {
		stripe_cause(sc->cause, sc->causelen, "%s: %s is not a valid "
		    "price id", path, stripe_quote(s, n, q, sizeof q));
		return -1;
	}
	for (i = 0; i < prices->n; i++) {
		if (strcmp(prices->id[i], s) == 0)
			return 0;
	}
	if (prices->n == STRIPE_PRICES_MAX) {
		stripe_cause(sc->cause, sc->causelen, "%s: more than %d "
		    "distinct prices", path, STRIPE_PRICES_MAX);
		return -1;
	}
	prices->id[prices->n++] = s;
	for (i = 0; i < sc->cfg->nprices; i++) {
		if (sc->cfg->prices[i].price == NULL ||
		    sc->cfg->prices[i].tier == NULL ||
		    strcmp(sc->cfg->prices[i].price, s) != 0)
			continue;
		rank = stripe_tier_rank(sc->cfg, sc->cfg->prices[i].tier);
		if (rank > *best)
			*best = rank;
	}
	return 0;
}

static int
stripe_sub_prices(struct stripe_ctx *sc, const struct fbj *items)
{
	char		 path[96];
	struct stripe_prices	 prices;
	const struct fbj	*it;
	size_t		 i;
	int		 best = -1, pass;

	prices.n = 0;
	/* items[].price, else the legacy top-level plan, else items[].plan */
	for (pass = 0; pass < 3 && prices.n == 0; pass++) {
		if (pass == 1) {
			if (stripe_add_price(sc, &prices, fbj_object_get(sc->obj,
			    "plan"), "id", "data.object.plan.id", &best) == -1)
				goto fail;
			continue;
		}
		fbj_array_foreach(items, i, it) {
			stripe_path(path, sizeof path, "data.object.items.data",
			    i, pass == 0 ? ".price.id" : ".plan.id",
			    (const char *)NULL);
			if (stripe_add_price(sc, &prices, it, pass == 0 ?
			    "price" : "plan", path, &best) == -1)
				goto fail;
		}
	}
	if (prices.n == 0)
		return 0;
	change_list(sc->change, "price_ids", prices.id, prices.n);
	if (best >= 0) {
		change_cstr(sc->change, "tier", sc->cfg->ntiers
		    ? sc->cfg->tiers[best] : stripe_default_tiers[best]);
	}
	return 0;
fail:
	return -1;
}

static int
stripe_subscription(struct stripe_ctx *sc, const char *type)
{
	char		 q[160], uuid[37], path[64];
	const struct fbj	*o = sc->obj, *items, *md, *v, *it;
	const char	*status;
	size_t		 i;

	change_cstr(sc->change, "kind", "subscription");
	if (stripe_put_ref(sc, "subscription", o, "id", "data.object.id",
	    "subscription", pfx_sub, 1) == -1 ||
	    stripe_put_ref(sc, "customer", o, "customer",
	    "data.object.customer", "customer", pfx_cus, 0) == -1)
		return -1;
	if (stripe_token(sc, o, "status", "data.object.status",
	    strcmp(type, "customer.subscription.deleted") != 0, &status) == -1)
		return -1;
	if (status != NULL && stripe_in_list(status, NULL, 0,
	    stripe_statuses) == -1) {
		stripe_cause(sc->cause, sc->causelen, "data.object.status: %s is "
		    "not a known subscription status", stripe_quote(status,
		    strlen(status), q, sizeof q));
		return -1;
	}
	if (strcmp(type, "customer.subscription.deleted") == 0)
		status = "canceled";
	change_cstr(sc->change, "status", status);

	items = fbj_object_get(o, "items");
	if (items != NULL && !fbj_is_null(items)) {
		if (!fbj_is_object(items) ||
		    !fbj_is_array(fbj_object_get(items, "data"))) {
			stripe_cause(sc->cause, sc->causelen, "data.object.items: "
			    "must be a list object with a data array");
			return -1;
		}
		items = fbj_object_get(items, "data");
		if (fbj_array_size(items) > STRIPE_ITEMS_MAX) {
			stripe_cause(sc->cause, sc->causelen, "data.object.items."
			    "data: more than %d items", STRIPE_ITEMS_MAX);
			return -1;
		}
		fbj_array_foreach(items, i, it) {
			if (!fbj_is_object(it)) {
				snprintf(path, sizeof path, "data.object.items."
				    "data[%zu]", i);
				stripe_cause(sc->cause, sc->causelen, "%s: must "
				    "be an object", path);
				return -1;
			}
		}
	} else
		items = NULL;

	if (stripe_sub_period(sc, items) == -1 ||
	    stripe_sub_prices(sc, items) == -1 ||
	    stripe_put_bool(sc, "cancel_at_period_end", o,
	    "cancel_at_period_end", "data.object.cancel_at_period_end") == -1 ||
	    stripe_put_int(sc, "trial_end", o, "trial_end",
	    "data.object.trial_end", STRIPE_TS_MIN, STRIPE_TS_MAX) == -1)
		return -1;

	/* metadata is free-form: a userId that is not a UUID is noted, not fatal. */
	md = fbj_object_get(o, "metadata");
	v = fbj_is_object(md) ? fbj_object_get(md, "userId") : NULL;
	if (v != NULL && !fbj_is_null(v)) {
		if (fbj_is_string(v) && stripe_uuid(fbj_string_value(v),
		    fbj_string_length(v), uuid) == 0)
			change_cstr(sc->change, "user_id", uuid);
		else
			change_cstr(sc->change, "note", 
			    "data.object.metadata.userId ignored: not a UUID");
	}
	return 0;
}

/* The subscription a line belongs to, any API version; NULL if none. */
static int
stripe_line_sub(struct stripe_ctx *sc, const struct fbj *line, size_t i,
    const char **out)
{
	char		 path[128];
	const struct fbj	*v, *type;

	*out = NULL;
	stripe_path(path, sizeof path, "data.object.lines.data", i,
	    ".subscription", (const char *)NULL);
	if (stripe_ref(sc, line, "subscription", path, "subscription", pfx_sub,
	    0, out) == -1)
		return -1;
	if (*out != NULL)
		return 0;
	v = fbj_object_get(fbj_object_get(line, "parent"),
	    "subscription_item_details");
	if (fbj_is_object(v)) {
		stripe_path(path, sizeof path, "data.object.lines.data", i,
		    ".parent.subscription_item_details.subscription",
		    (const char *)NULL);
		if (stripe_ref(sc, v, "subscription", path, "subscription",
		    pfx_sub, 0, out) == -1)
			return -1;
		if (*out != NULL)
			return 0;
	}
	/* Pre-2014: a line of type "subscription" carries the id itself. */
	type = fbj_object_get(line, "type");
	if (fbj_is_string(type) &&
	    strcmp(fbj_string_value(type), "subscription") == 0) {
		stripe_path(path, sizeof path, "data.object.lines.data", i,
		    ".id", (const char *)NULL);
		if (stripe_ref(sc, line, "id", path, "line", NULL, 0,
		    out) == -1)
			return -1;
		if (*out != NULL && strncmp(*out, "sub_", 4) != 0 &&
		    strncmp(*out, "su_", 3) != 0)
			*out = NULL;
	}
	return 0;
}

static int
stripe_invoice(struct stripe_ctx *sc, const char *type)
{
	char		 path[128];
	const struct fbj	*o = sc->obj, *lines, *line, *v, *per;
	const char	*sub = NULL, *lsub;
	size_t		 i;
	int64_t		 start = 0, end = 0, s, e;
	int		 hasper = 0, ps, pe;

	lines = fbj_object_get(fbj_object_get(o, "lines"), "data");
	if (fbj_object_get(o, "lines") != NULL &&
	    !fbj_is_null(fbj_object_get(o, "lines")) && !fbj_is_array(lines)) {
		stripe_cause(sc->cause, sc->causelen, "data.object.lines: must be "
		    "a list object with a data array");
		return -1;
	}
	if (fbj_array_size(lines) > STRIPE_ITEMS_MAX) {
		stripe_cause(sc->cause, sc->causelen, "data.object.lines.data: "
		    "more than %d lines", STRIPE_ITEMS_MAX);
		return -1;
	}
	fbj_array_foreach(lines, i, line) {
		if (!fbj_is_object(line)) {
			stripe_cause(sc->cause, sc->causelen, "data.object.lines."
			    "data[%zu]: must be an object", i);
			return -1;
		}
	}

	if (stripe_ref(sc, o, "subscription", "data.object.subscription",
	    "subscription", pfx_sub, 0, &sub) == -1)
		return -1;
	v = fbj_object_get(fbj_object_get(o, "parent"),
	    "subscription_details");
	if (sub == NULL && fbj_is_object(v) && stripe_ref(sc, v,
	    "subscription", "data.object.parent.subscription_details."
	    "subscription", "subscription", pfx_sub, 0, &sub) == -1)
		return -1;
	fbj_array_foreach(lines, i, line) {
		if (sub != NULL)
			break;
		if (stripe_line_sub(sc, line, i, &sub) == -1)
			return -1;
	}
	if (sub == NULL)
		return stripe_ignore(sc, "one-off invoice (no subscription)");

	change_cstr(sc->change, "kind", "invoice");
	change_cstr(sc->change, "subscription", sub);
	if (stripe_put_ref(sc, "invoice", o, "id", "data.object.id", "invoice",
	    pfx_in, 0) == -1 ||
	    stripe_put_ref(sc, "customer", o, "customer",
	    "data.object.customer", "customer", pfx_cus, 0) == -1 ||
	    stripe_put_amount(sc, "amount_paid", o, "amount_paid",
	    "data.object.amount_paid") == -1 ||
	    stripe_put_amount(sc, "amount_due", o, "amount_due",
	    "data.object.amount_due") == -1 ||
	    stripe_put_currency(sc, o, "data.object.currency") == -1)
		return -1;
	/* Before basil the invoice names its payment: disputes map to it. */
	stripe_put_link(sc, "charge", o, "charge", pfx_ch);
	stripe_put_link(sc, "payment_intent", o, "payment_intent", pfx_pi);

	/* Service period: the non-proration lines of that subscription. */
	fbj_array_foreach(lines, i, line) {
		if (stripe_line_sub(sc, line, i, &lsub) == -1)
			return -1;
		/* Proration flag: line.proration, in basil under parent. */
		if (lsub == NULL || strcmp(lsub, sub) != 0 ||
		    fbj_is_true(fbj_object_get(line, "proration")) ||
		    fbj_is_true(fbj_object_get(fbj_object_get(
		    fbj_object_get(line, "parent"),
		    "subscription_item_details"), "proration")))
			continue;
		per = fbj_object_get(line, "period");
		if (per == NULL || fbj_is_null(per))
			continue;
		if (!fbj_is_object(per)) {
			stripe_cause(sc->cause, sc->causelen, "data.object.lines."
			    "data[%zu].period: must be an object", i);
			return -1;
		}
		stripe_path(path, sizeof path, "data.object.lines.data", i,
		    ".period.start", (const char *)NULL);
		if (stripe_int(sc, per, "start", path, STRIPE_TS_MIN,
		    STRIPE_TS_MAX, &s, &ps) == -1)
			return -1;
		stripe_path(path, sizeof path, "data.object.lines.data", i,
		    ".period.end", (const char *)NULL);
		if (stripe_int(sc, per, "end", path, STRIPE_TS_MIN,
		    STRIPE_TS_MAX, &e, &pe) == -1)
			return -1;
		if (!ps || !pe)
			continue;
		if (e < s) {
			stripe_cause(sc->cause, sc->causelen, "data.object.lines."
			    "data[%zu].period: end (%" PRId64 ") is before start "
			    "(%" PRId64 ")", i, e, s);
			return -1;
		}
		if (!hasper || s < start)
			start = s;
		if (!hasper || e > end)
			end = e;
		hasper = 1;
	}
	if (hasper) {
		change_int(sc->change, "period_start", start);
		change_int(sc->change, "period_end", end);
	}
	change_bool(sc->change, "paid",
	    strcmp(type, "invoice.payment_failed") != 0);
	return 0;
}

static int
stripe_refund(struct stripe_ctx *sc)
{
	const struct fbj	*o = sc->obj;

	change_cstr(sc->change, "kind", "refund");
	if (stripe_put_ref(sc, "charge", o, "id", "data.object.id", "charge",
	    pfx_ch, 1) == -1 ||
	    stripe_put_ref(sc, "customer", o, "customer",
	    "data.object.customer", "customer", pfx_cus, 0) == -1 ||
	    stripe_put_ref(sc, "payment_intent", o, "payment_intent",
	    "data.object.payment_intent", "payment intent", pfx_pi, 0) == -1 ||
	    stripe_put_ref(sc, "invoice", o, "invoice", "data.object.invoice",
	    "invoice", pfx_in, 0) == -1 ||
	    stripe_put_amount(sc, "amount", o, "amount",
	    "data.object.amount") == -1 ||
	    stripe_put_amount(sc, "amount_refunded", o, "amount_refunded",
	    "data.object.amount_refunded") == -1 ||
	    stripe_put_currency(sc, o, "data.object.currency") == -1)
		return -1;
	return 0;
}

static int
stripe_dispute(struct stripe_ctx *sc)
{
	const struct fbj	*o = sc->obj;

	change_cstr(sc->change, "kind", "dispute");
	if (stripe_put_ref(sc, "dispute", o, "id", "data.object.id", "dispute",
	    pfx_dp, 1) == -1 ||
	    stripe_put_ref(sc, "charge", o, "charge", "data.object.charge",
	    "charge", pfx_ch, 0) == -1 ||
	    stripe_put_ref(sc, "payment_intent", o, "payment_intent",
	    "data.object.payment_intent", "payment intent", pfx_pi, 0) == -1 ||
	    stripe_put_amount(sc, "amount", o, "amount",
	    "data.object.amount") == -1 ||
	    stripe_put_currency(sc, o, "data.object.currency") == -1 ||
	    stripe_put_token(sc, "status", o, "status",
	    "data.object.status") == -1 ||
	    stripe_put_token(sc, "reason", o, "reason",
	    "data.object.reason") == -1)
		return -1;
	return 0;
}

static int
stripe_prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

/* data.object.object, when present, must be what the event type carries. */
static int
stripe_objtype(struct stripe_ctx *sc, const char *type, const char *want)
{
	char	 q[160];
	const struct fbj	*v;

	v = fbj_object_get(sc->obj, "object");
	if (v == NULL || fbj_is_null(v))
		return 0;
	if (fbj_is_string(v) && strcmp(fbj_string_value(v), want) == 0)
		return 0;
	if (fbj_is_string(v))
		stripe_quote(fbj_string_value(v), fbj_string_length(v), q,
		    sizeof q);
	else
		snprintf(q, sizeof q, "not a string");
	stripe_cause(sc->cause, sc->causelen, "data.object.object: is %s but a "
	    "%s event carries a %s", q, type, want);
	return -1;
}

/*
 * The envelope (id, type, created, livemode, data.object) has been checked
 * by guardian.c; here it is only copied.
 */
int
stripe_normalize(const struct fbj *event, const struct fb_config *cfg,
    struct fb_change *change, char *cause, size_t causelen)
{
	struct stripe_ctx	 sc;
	const struct fbj		*v;
	const char		*type;
	int			 rv;

	memset(&sc, 0, sizeof sc);
	sc.cfg = cfg;
	sc.cause = cause;
	sc.causelen = causelen;
	sc.obj = fbj_object_get(fbj_object_get(event, "data"), "object");
	v = fbj_object_get(event, "type");
	if (!fbj_is_string(v) || !fbj_is_object(sc.obj) ||
	    !fbj_is_string(fbj_object_get(event, "id")) ||
	    !fbj_is_integer(fbj_object_get(event, "created"))) {
		stripe_cause(cause, causelen, "event: id, type, created or "
		    "data.object missing");
		return -1;
	}
	type = fbj_string_value(v);

	/* The change copies what it is given: it outlives the event. */
	sc.change = change;
	change_reset(change);
	v = fbj_object_get(event, "id");
	change_str(change, "event_id", fbj_string_value(v),
	    fbj_string_length(v));
	v = fbj_object_get(event, "type");
	change_str(change, "type", fbj_string_value(v), fbj_string_length(v));
	change_int(change, "created",
	    fbj_integer_value(fbj_object_get(event, "created")));
	change_bool(change, "livemode",
	    fbj_is_true(fbj_object_get(event, "livemode")));
	v = fbj_object_get(event, "api_version");
	if (fbj_is_string(v))
		change_str(change, "api_version", fbj_string_value(v),
		    fbj_string_length(v));
	else
		change_null(change, "api_version");
	stripe_put_list(&sc, "premium_statuses", cfg->premium_statuses,
	    cfg->npremium_statuses, stripe_default_premium);
	stripe_put_list(&sc, "tiers", cfg->tiers, cfg->ntiers,
	    stripe_default_tiers);

	if (strcmp(type, "checkout.session.completed") == 0 ||
	    strcmp(type, "checkout.session.async_payment_succeeded") == 0 ||
	    strcmp(type, "checkout.session.async_payment_failed") == 0)
		rv = stripe_objtype(&sc, type, "checkout.session") == -1 ? -1 :
		    stripe_checkout(&sc, type);
	else if (strcmp(type, "customer.subscription.trial_will_end") == 0)
		rv = stripe_ignore(&sc, "notification only (trial_will_end)");
	else if (strcmp(type, "customer.subscription.created") == 0 ||
	    strcmp(type, "customer.subscription.updated") == 0 ||
	    strcmp(type, "customer.subscription.deleted") == 0 ||
	    strcmp(type, "customer.subscription.paused") == 0 ||
	    strcmp(type, "customer.subscription.resumed") == 0 ||
	    strcmp(type, "customer.subscription.pending_update_applied") == 0 ||
	    strcmp(type, "customer.subscription.pending_update_expired") == 0)
		rv = stripe_objtype(&sc, type, "subscription") == -1 ? -1 :
		    stripe_subscription(&sc, type);
	else if (strcmp(type, "invoice.paid") == 0 ||
	    strcmp(type, "invoice.payment_succeeded") == 0 ||
	    strcmp(type, "invoice.payment_failed") == 0)
		rv = stripe_objtype(&sc, type, "invoice") == -1 ? -1 :
		    stripe_invoice(&sc, type);
	else if (strcmp(type, "charge.refunded") == 0)
		rv = stripe_objtype(&sc, type, "charge") == -1 ? -1 :
		    stripe_refund(&sc);
	else if (stripe_prefix(type, "charge.dispute."))
		rv = stripe_objtype(&sc, type, "dispute") == -1 ? -1 :
		    stripe_dispute(&sc);
	else if (strcmp(type, "customer.deleted") == 0) {
		change_cstr(change, "kind", "customer_deleted");
		rv = stripe_objtype(&sc, type, "customer") == -1 ? -1 :
		    stripe_put_ref(&sc, "customer", sc.obj, "id",
		    "data.object.id", "customer", pfx_cus, 1);
	} else
		rv = stripe_ignore(&sc, "event type not handled");

	/* A set that failed for want of memory shows in change_text(). */
	return rv;
}
