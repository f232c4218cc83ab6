/*
 * guardian.c: every check a task passes before the database is touched:
 * the process shape (funcname, args, kwargs), size, the Stripe signature,
 * strict JSON, the event envelope, then stripe_normalize().
 *
 * Every failure is permanent (the process is closed failed with the cause)
 * and the cause names the field and the rule broken.
 *
 * kwargs policy: an object (null or absent = {}), at most GUARDIAN_KWARGS_MAX
 * keys, every value a string of at most GUARDIAN_KWARG_MAXLEN bytes.
 * Known keys: "Stripe-Signature" (exact spelling; near-misses such as
 * "stripe-signature" or "stripe_signature" are rejected rather than
 * ignored, so a misspelt header is never mistaken for an absent one) and
 * "source" (informational).  Other keys are ignored.
 *
 * Signature policy: with webhook secrets configured the header is required
 * and verified over the exact bytes of args[0]; with none configured a
 * header, if present, is ignored (test deployments without a secret).
 */

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "financebeed.h"

#define GUARDIAN_KWARGS_MAX	16
#define GUARDIAN_KWARG_MAXLEN	4096
#define GUARDIAN_TS_MIN		INT64_C(1230768000)	/* 2009-01-01 */
#define GUARDIAN_TS_MAX		INT64_C(7258118400)	/* 2200-01-01 */

/* Cold: every call is a rejection, so the compiler moves those paths out
 * of the way of the ones an accepted event runs. */
static void	guardian_cause(char *, size_t, const char *, ...)
		    __attribute__((__cold__, __format__(__printf__, 3, 4)));

static void
guardian_cause(char *cause, size_t causelen, const char *fmt, ...)
{
	va_list	ap;

	if (cause == NULL || causelen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(cause, causelen, fmt, ap);
	va_end(ap);
}

/*
 * Depth of [ and { outside strings, checked before jansson sees the text
 * so that absurd nesting costs one linear scan.  Also finds raw NUL bytes.
 */
static int
guardian_prescan(const char *buf, size_t len, int maxdepth, char *cause,
    size_t causelen)
{
	size_t	i;
	int	depth = 0, instr = 0;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)buf[i];

		if (c == '\0') {
			guardian_cause(cause, causelen, "invalid JSON: NUL byte "
			    "at byte %zu", i);
			return -1;
		}
		if (instr) {
			if (c == '\\')
				i++;
			else if (c == '"')
				instr = 0;
			continue;
		}
		switch (c) {
		case '"':
			instr = 1;
			break;
		case '[':
		case '{':
			if (++depth > maxdepth) {
				guardian_cause(cause, causelen, "invalid JSON: "
				    "nested deeper than %d levels at byte %zu",
				    maxdepth, i);
				return -1;
			}
			break;
		case ']':
		case '}':
			depth--;
			break;
		}
	}
	return 0;
}

struct fbj_doc *
guardian_parse_json(const char *buf, size_t len, int maxdepth, char *cause,
    size_t causelen)
{
	struct fbj_doc	*d;
	json_error_t	 err;
	json_t		*j;
	char		*p;

	if (maxdepth <= 0)
		maxdepth = GUARDIAN_MAX_DEPTH;
	if (len == 0) {
		guardian_cause(cause, causelen, "invalid JSON: empty");
		return NULL;
	}
	/*
	 * jansson's lexer costs ~110 instructions a byte, and its values a
	 * hash table each; fbj_parse() gives the same value or gives up, and
	 * jansson then decides.  What it accepts has no NUL byte and no
	 * nesting beyond maxdepth, so the prescan (a linear pass of its own)
	 * only runs when it gives up.
	 */
	d = fbj_parse(buf, len, maxdepth);
	if (d != NULL && !fbj_is_object(fbj_root(d)) &&
	    !fbj_is_array(fbj_root(d))) {
		fbj_free(d);
		d = NULL;
	}
	if (d != NULL)
		return d;
	if (guardian_prescan(buf, len, maxdepth, cause, causelen) == -1)
		return NULL;
	/*
	 * No JSON_DECODE_ANY (top level must be an object or array), no
	 * JSON_DISABLE_EOF_CHECK (trailing data is an error), no
	 * JSON_ALLOW_NUL; jansson rejects bad UTF-8, a BOM, NaN and comments.
	 */
	j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &err);
	if (j == NULL) {
		/* jansson quotes the offending bytes: keep the cause ASCII. */
		for (p = err.text; *p != '\0'; p++) {
			if (*p < 0x20 || *p >= 0x7f)
				*p = '?';
		}
		guardian_cause(cause, causelen, "invalid JSON: %s near byte %d",
		    err.text, err.position);
		return NULL;
	}
	if ((d = fbj_from_json(j)) == NULL)
		guardian_cause(cause, causelen, "out of memory");
	json_decref(j);
	return d;
}

static int
guardian_funcname(const struct fb_config *cfg, const char *funcname,
    char *cause, size_t causelen)
{
	char	q[160];
	size_t	i;

	if (funcname == NULL || *funcname == '\0') {
		guardian_cause(cause, causelen, "funcname: missing");
		return -1;
	}
	/* An empty allowlist means the built-in default. */
	if (cfg->nfuncnames == 0) {
		if (strcmp(funcname, "validate_revenue") == 0)
			return 0;
	}
	for (i = 0; i < cfg->nfuncnames; i++) {
		if (cfg->funcnames[i] != NULL &&
		    strcmp(funcname, cfg->funcnames[i]) == 0)
			return 0;
	}
	guardian_cause(cause, causelen, "funcname: %s is not in the allowlist "
	    "(colonies.funcnames)", stripe_quote(funcname, strlen(funcname), q,
	    sizeof q));
	return -1;
}

static const char *
guardian_typename(json_t *j)
{
	switch (json_typeof(j)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "unknown";
}

static int
guardian_kwargs(json_t *kwargs, const char **sighdr, char *cause,
    size_t causelen)
{
	char		 q[160];
	const char	*key;
	json_t		*v;
	size_t		 n;

	*sighdr = NULL;
	if (kwargs == NULL || json_is_null(kwargs))
		return 0;
	if (!json_is_object(kwargs)) {
		guardian_cause(cause, causelen, "kwargs: must be an object, "
		    "not %s", guardian_typename(kwargs));
		return -1;
	}
	if ((n = json_object_size(kwargs)) > GUARDIAN_KWARGS_MAX) {
		guardian_cause(cause, causelen, "kwargs: %zu keys, more than %d",
		    n, GUARDIAN_KWARGS_MAX);
		return -1;
	}
	json_object_foreach(kwargs, key, v) {
		stripe_quote(key, strlen(key), q, sizeof q);
		if (!json_is_string(v)) {
			guardian_cause(cause, causelen, "kwargs[%s]: must be a "
			    "string, not %s", q, guardian_typename(v));
			return -1;
		}
		if (json_string_length(v) > GUARDIAN_KWARG_MAXLEN) {
			guardian_cause(cause, causelen, "kwargs[%s]: %zu bytes, "
			    "more than %d", q, json_string_length(v),
			    GUARDIAN_KWARG_MAXLEN);
			return -1;
		}
		if (strlen(json_string_value(v)) != json_string_length(v)) {
			guardian_cause(cause, causelen, "kwargs[%s]: contains a "
			    "NUL byte", q);
			return -1;
		}
		if (strcmp(key, GUARDIAN_KWARG_SIGNATURE) == 0) {
			*sighdr = json_string_value(v);
			continue;
		}
		if (strcasecmp(key, "stripe-signature") == 0 ||
		    strcasecmp(key, "stripe_signature") == 0 ||
		    strcasecmp(key, "stripesignature") == 0) {
			guardian_cause(cause, causelen, "kwargs[%s]: the "
			    "signature key must be spelt \"%s\"", q,
			    GUARDIAN_KWARG_SIGNATURE);
			return -1;
		}
	}
	return 0;
}

/* [A-Za-z0-9_] */
static int
guardian_word(const char *s, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (!isalnum((unsigned char)s[i]) && s[i] != '_')
			return 0;
	}
	return 1;
}

static int
guardian_envelope(const struct fb_config *cfg, const struct fbj *ev,
    struct fb_change *change, char *cause, size_t causelen)
{
	char		 q[160];
	const struct fbj	*v, *data, *obj;
	const char	*s;
	size_t		 n, i;
	int64_t		 created;
	int		 live;

	if (!fbj_is_object(ev)) {
		guardian_cause(cause, causelen, "args[0]: the event must be a "
		    "JSON object, not %s", fbj_typename(ev));
		return -1;
	}

	v = fbj_object_get(ev, "object");
	if (v == NULL || fbj_is_null(v)) {
		guardian_cause(cause, causelen, "event.object: missing (must be "
		    "\"event\")");
		return -1;
	}
	if (!fbj_is_string(v)) {
		guardian_cause(cause, causelen, "event.object: must be the string "
		    "\"event\"");
		return -1;
	}
	if (strcmp(fbj_string_value(v), "event") != 0) {
		s = fbj_string_value(v);
		guardian_cause(cause, causelen, "event.object: is %s; only "
		    "snapshot events (\"event\") are accepted%s",
		    stripe_quote(s, fbj_string_length(v), q, sizeof q),
		    strncmp(s, "v2.", 3) == 0 ? ", not thin events" : "");
		return -1;
	}

	v = fbj_object_get(ev, "id");
	if (v == NULL || fbj_is_null(v)) {
		guardian_cause(cause, causelen, "event.id: missing");
		return -1;
	}
	if (!fbj_is_string(v)) {
		guardian_cause(cause, causelen, "event.id: must be a string, "
		    "not %s", fbj_typename(v));
		return -1;
	}
	s = fbj_string_value(v);
	n = fbj_string_length(v);
	if (n < 5 || n > 254 || strncmp(s, "evt_", 4) != 0 ||
	    !guardian_word(s + 4, n - 4)) {
		guardian_cause(cause, causelen, "event.id: %s is not evt_ "
		    "followed by 1-250 letters, digits or _",
		    stripe_quote(s, n, q, sizeof q));
		return -1;
	}
	/* Known from here on, so a later rejection can name the event. */
	change_str(change, "event_id", s, n);

	v = fbj_object_get(ev, "type");
	if (v == NULL || fbj_is_null(v)) {
		guardian_cause(cause, causelen, "event.type: missing");
		return -1;
	}
	if (!fbj_is_string(v)) {
		guardian_cause(cause, causelen, "event.type: must be a string, "
		    "not %s", fbj_typename(v));
		return -1;
	}
	s = fbj_string_value(v);
	n = fbj_string_length(v);
	for (i = 0; i < n; i++) {
		if (!islower((unsigned char)s[i]) &&
		    !isdigit((unsigned char)s[i]) && s[i] != '_' && s[i] != '.')
			break;
	}
	if (n < 1 || n > 128 || i < n) {
		guardian_cause(cause, causelen, "event.type: %s is not 1-128 "
		    "characters of [a-z0-9_.]", stripe_quote(s, n, q, sizeof q));
		return -1;
	}

	v = fbj_object_get(ev, "created");
	if (v == NULL || fbj_is_null(v)) {
		guardian_cause(cause, causelen, "event.created: missing");
		return -1;
	}
	if (!fbj_is_integer(v)) {
		guardian_cause(cause, causelen, "event.created: must be an "
		    "integer (Unix seconds), not %s", fbj_typename(v));
		return -1;
	}
	created = fbj_integer_value(v);
	if (created < GUARDIAN_TS_MIN || created > GUARDIAN_TS_MAX) {
		guardian_cause(cause, causelen, "event.created: %" PRId64 " is "
		    "not a time between 2009 and 2200", created);
		return -1;
	}

	v = fbj_object_get(ev, "livemode");
	if (v == NULL || fbj_is_null(v)) {
		guardian_cause(cause, causelen, "event.livemode: missing");
		return -1;
	}
	if (!fbj_is_boolean(v)) {
		guardian_cause(cause, causelen, "event.livemode: must be true or "
		    "false, not %s", fbj_typename(v));
		return -1;
	}
	live = fbj_is_true(v);
	if (live != (cfg->livemode != 0)) {
		guardian_cause(cause, causelen, "event.livemode: is %s but this "
		    "daemon accepts %s events only (stripe.livemode = %s)",
		    live ? "true" : "false", cfg->livemode ? "live-mode" :
		    "test-mode", cfg->livemode ? "true" : "false");
		return -1;
	}

	v = fbj_object_get(ev, "api_version");
	if (v != NULL && !fbj_is_null(v)) {
		if (!fbj_is_string(v)) {
			guardian_cause(cause, causelen, "event.api_version: must "
			    "be a string or null, not %s", fbj_typename(v));
			return -1;
		}
		s = fbj_string_value(v);
		n = fbj_string_length(v);
		for (i = 0; i < n; i++) {
			if (!isalnum((unsigned char)s[i]) && s[i] != '-' &&
			    s[i] != '.' && s[i] != '_')
				break;
		}
		if (n < 1 || n > 64 || i < n) {
			guardian_cause(cause, causelen, "event.api_version: %s "
			    "is not a Stripe API version",
			    stripe_quote(s, n, q, sizeof q));
			return -1;
		}
	}

	data = fbj_object_get(ev, "data");
	if (data == NULL) {
		guardian_cause(cause, causelen, "event.data: missing");
		return -1;
	}
	if (!fbj_is_object(data)) {
		guardian_cause(cause, causelen, "event.data: must be an object, "
		    "not %s", fbj_typename(data));
		return -1;
	}
	obj = fbj_object_get(data, "object");
	if (obj == NULL) {
		guardian_cause(cause, causelen, "data.object: missing");
		return -1;
	}
	if (!fbj_is_object(obj)) {
		guardian_cause(cause, causelen, "data.object: must be an object, "
		    "not %s", fbj_typename(obj));
		return -1;
	}
	v = fbj_object_get(obj, "livemode");
	if (v != NULL && !fbj_is_null(v)) {
		if (!fbj_is_boolean(v)) {
			guardian_cause(cause, causelen, "data.object.livemode: "
			    "must be true or false, not %s",
			    fbj_typename(v));
			return -1;
		}
		if (fbj_is_true(v) != live) {
			guardian_cause(cause, causelen, "data.object.livemode: "
			    "is %s but event.livemode is %s",
			    fbj_is_true(v) ? "true" : "false",
			    live ? "true" : "false");
			return -1;
		}
	}
	return 0;
}

int
guardian_check(const struct fb_config *cfg, const struct guardian_input *in,
    json_t **change, char *cause, size_t causelen)
{
	struct fb_change	c;
	int			rv;

	*change = NULL;
	change_init(&c);
	if ((rv = guardian_check_change(cfg, in, &c, cause, causelen)) == 0 &&
	    (*change = change_json(&c)) == NULL) {
		guardian_cause(cause, causelen, "out of memory");
		rv = -1;
	}
	change_free(&c);
	return rv;
}

static enum guardian_verdict guardian_body(const struct fb_config *,
	    const char *, size_t, const char *, int64_t, const char *,
	    struct fb_change *, char *, size_t);

int
guardian_check_change(const struct fb_config *cfg,
    const struct guardian_input *in, struct fb_change *change, char *cause,
    size_t causelen)
{
	json_t		*a0;
	const char	*body, *sighdr;
	size_t		 len, maxpayload, n;

	change_reset(change);
	if (guardian_funcname(cfg, in->funcname, cause, causelen) == -1)
		return -1;

	if (!json_is_array(in->args)) {
		guardian_cause(cause, causelen, "args: must be an array holding "
		    "the raw event text, not %s", in->args == NULL ? "missing" :
		    guardian_typename(in->args));
		return -1;
	}
	if ((n = json_array_size(in->args)) != 1) {
		guardian_cause(cause, causelen, "args: must hold exactly one "
		    "element (the raw event text), not %zu", n);
		return -1;
	}
	a0 = json_array_get(in->args, 0);
	if (!json_is_string(a0)) {
		guardian_cause(cause, causelen, "args[0]: must be a string "
		    "holding the raw event text, not %s", guardian_typename(a0));
		return -1;
	}
	body = json_string_value(a0);
	len = json_string_length(a0);
	if (strlen(body) != len) {
		guardian_cause(cause, causelen, "args[0]: contains a NUL byte at "
		    "byte %zu", strlen(body));
		return -1;
	}

	if (guardian_kwargs(in->kwargs, &sighdr, cause, causelen) == -1)
		return -1;

	maxpayload = cfg->max_payload ? cfg->max_payload : GUARDIAN_MAX_PAYLOAD;
	if (len == 0) {
		guardian_cause(cause, causelen, "args[0]: the event text is "
		    "empty");
		return -1;
	}
	if (len > maxpayload) {
		guardian_cause(cause, causelen, "args[0]: the event is %zu bytes, "
		    "more than guardian.max_payload (%zu)", len, maxpayload);
		return -1;
	}

	/* The intake judged the timestamp when the webhook came in. */
	return guardian_body(cfg, body, len, sighdr, in->received > 0 ?
	    in->received : in->now, "args[0]", change, cause, causelen) ==
	    GUARDIAN_OK ? 0 : -1;
}

/* Signature, strict JSON, envelope, normalisation of a raw event text. */
static enum guardian_verdict
guardian_body(const struct fb_config *cfg, const char *body, size_t len,
    const char *sighdr, int64_t now, const char *what,
    struct fb_change *change, char *cause, size_t causelen)
{
	char		 sigcause[FB_CAUSE_MAX];
	struct fbj_doc	*ev;
	int		 rv;

	if (cfg->nwebhook_secrets > 0) {
		if (sighdr == NULL) {
			guardian_cause(cause, causelen, "kwargs[\"%s\"]: missing, "
			    "but webhook secrets are configured: the signature "
			    "is required", GUARDIAN_KWARG_SIGNATURE);
			return GUARDIAN_BAD_SIGNATURE;
		}
		if (stripe_verify_signature(sighdr, body, len,
		    cfg->webhook_secrets, cfg->nwebhook_secrets, now,
		    cfg->signature_tolerance, sigcause, sizeof sigcause) !=
		    STRIPE_SIG_OK) {
			guardian_cause(cause, causelen, "kwargs[\"%s\"]: %s",
			    GUARDIAN_KWARG_SIGNATURE, sigcause);
			return GUARDIAN_BAD_SIGNATURE;
		}
	}

	ev = guardian_parse_json(body, len, cfg->max_depth, sigcause,
	    sizeof sigcause);
	if (ev == NULL) {
		guardian_cause(cause, causelen, "%s: %s", what, sigcause);
		return GUARDIAN_BAD_EVENT;
	}
	if (guardian_envelope(cfg, fbj_root(ev), change, cause,
	    causelen) == -1) {
		fbj_free(ev);
		return GUARDIAN_BAD_EVENT;
	}
	rv = stripe_normalize(fbj_root(ev), cfg, change, cause, causelen);
	fbj_free(ev);
	return rv == 0 ? GUARDIAN_OK : GUARDIAN_UNNORMALISED;
}

enum guardian_verdict
guardian_check_webhook(const struct fb_config *cfg, const char *body,
    size_t len, const char *sighdr, int64_t now, struct fb_change *change,
    char *cause, size_t causelen)
{
	size_t	maxpayload;

	change_reset(change);
	maxpayload = cfg->max_payload ? cfg->max_payload : GUARDIAN_MAX_PAYLOAD;
	if (len == 0 || len > maxpayload || memchr(body, '\0', len) != NULL) {
		guardian_cause(cause, causelen, "body: empty, over "
		    "guardian.max_payload or holding a NUL byte");
		return GUARDIAN_BAD_EVENT;
	}
	return guardian_body(cfg, body, len, sighdr, now, "body", change,
	    cause, causelen);
}
