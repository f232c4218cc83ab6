/*
 * test-stripe.c: stripe_verify_signature() against the shared vectors
 * (V1-V4, header variants H1-H10) and our documented policy, with an
 * injected clock.  TAP.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "financebeed.h"
#include "tap.h"


static char *v1secret = "whsec_test_secret";
static const char *v1body =
    "{\"id\":\"evt_test_1\",\"object\":\"event\","
    "\"type\":\"checkout.session.completed\"}";
static const char *v1sig =
    "ca796b857b81e24d595a4c37abf88d2fafb533a32ede6ce4cfc9b0e892a35b08";
#define V1T	INT64_C(1700000000)

/* Verify and check the result; the cause must never leak the secrets. */
static enum stripe_sig_result
check(const char *name, const char *hdr, const char *body, size_t len,
    char *const *secrets, size_t n, int64_t now, int64_t tol,
    enum stripe_sig_result want, const char *causepart)
{
	enum stripe_sig_result	r;
	char			cause[FB_CAUSE_MAX] = "";
	size_t			i;
	int			leak = 0;

	r = stripe_verify_signature(hdr, body, len, secrets, n, now, tol,
	    cause, sizeof cause);
	ok(r == want, "%s: %s (want %s)%s%s", name, stripe_sig_result_str(r),
	    stripe_sig_result_str(want), r != STRIPE_SIG_OK ? ": " : "",
	    r != STRIPE_SIG_OK ? cause : "");
	if (causepart != NULL)
		ok(strstr(cause, causepart) != NULL, "%s: cause mentions \"%s\"",
		    name, causepart);
	for (i = 0; i < n; i++) {
		if (secrets[i] != NULL && strstr(cause, secrets[i]) != NULL)
			leak = 1;
	}
	if (strstr(cause, "whsec") != NULL || strstr(cause, v1sig) != NULL)
		leak = 1;
	if (leak)
		ok(0, "%s: cause leaks a secret or a signature", name);
	return r;
}

/* Our policy for each header variant of the vectors file. */
static const struct {
	const char		*name;
	enum stripe_sig_result	 want;
	const char		*causepart;
} variants[] = {
	{ "H1-multiple-v1-second-valid", STRIPE_SIG_OK, NULL },
	{ "H2-v0-only", STRIPE_SIG_MALFORMED, "no v1 signature" },
	/* Policy: 64 hex digits decoded case-insensitively (as stripe-go). */
	{ "H3-uppercase-hex", STRIPE_SIG_OK, NULL },
	{ "H4-missing-t", STRIPE_SIG_MALFORMED, "no timestamp" },
	{ "H5-non-numeric-t", STRIPE_SIG_MALFORMED, "timestamp t" },
	/* Policy: no trimming; " v1" is an unknown key, so there is no v1. */
	{ "H6-spaces-after-comma", STRIPE_SIG_MALFORMED, "no v1 signature" },
	{ "H7-unknown-scheme-extra", STRIPE_SIG_OK, NULL },
	/* Policy: more than one t is malformed. */
	{ "H8-duplicate-t", STRIPE_SIG_MALFORMED, "more than one t" },
	{ "H9-truncated-signature", STRIPE_SIG_MALFORMED, "64 hex digits" },
	{ "H10-empty-header", STRIPE_SIG_MALFORMED, "no signature header" },
};

static void
test_vectors(json_t *root)
{
	json_t		*vecs, *v, *vars;
	char		*secrets[1], *body, name[128];
	const char	*hdr;
	size_t		 i, j, len;
	int64_t		 t;

	vecs = json_object_get(root, "vectors");
	ok(json_array_size(vecs) == 4, "vectors file has 4 vectors");
	json_array_foreach(vecs, i, v) {
		const char *vname = json_string_value(json_object_get(v, "name"));
		secrets[0] = (char *)json_string_value(json_object_get(v,
		    "secret"));
		t = json_integer_value(json_object_get(v, "timestamp"));
		hdr = json_string_value(json_object_get(v, "header"));
		len = json_string_length(json_object_get(v, "payload_utf8"));
		ok(len == (size_t)json_integer_value(json_object_get(v,
		    "payload_len")), "%s: payload length %zu", vname, len);
		body = malloc(len + 1);
		memcpy(body, json_string_value(json_object_get(v,
		    "payload_utf8")), len + 1);
		check(vname, hdr, body, len, secrets, 1, t, 300,
		    STRIPE_SIG_OK, NULL);
		/* One byte more or less, or one flipped bit, must not verify. */
		snprintf(name, sizeof name, "%s with the last byte dropped",
		    vname);
		if (len > 0)
			check(name, hdr, body, len - 1, secrets, 1, t, 300,
			    STRIPE_SIG_MISMATCH, "no v1 signature matches");
		if (len > 0) {
			body[len / 2] ^= 1;
			snprintf(name, sizeof name, "%s with one bit flipped",
			    vname);
			check(name, hdr, body, len, secrets, 1, t, 300,
			    STRIPE_SIG_MISMATCH, NULL);
			body[len / 2] ^= 1;
		}
		free(body);
	}

	vars = json_object_get(root, "header_variants_on_V1");
	ok(json_array_size(vars) == sizeof variants / sizeof variants[0],
	    "every header variant has a policy (%zu in the file)",
	    json_array_size(vars));
	json_array_foreach(vars, i, v) {
		const char *vname = json_string_value(json_object_get(v, "name"));
		for (j = 0; j < sizeof variants / sizeof variants[0]; j++) {
			if (strcmp(variants[j].name, vname) == 0)
				break;
		}
		if (j == sizeof variants / sizeof variants[0]) {
			ok(0, "%s: no policy for this variant", vname);
			continue;
		}
		secrets[0] = v1secret;
		check(vname, json_string_value(json_object_get(v, "header")),
		    v1body, strlen(v1body), secrets, 1, V1T, 300,
		    variants[j].want, variants[j].causepart);
	}
}

static void
test_tolerance(void)
{
	char	*secrets[1] = { v1secret }, hdr[256];

	snprintf(hdr, sizeof hdr, "t=1700000000,v1=%s", v1sig);
	check("now = t + 300 (edge, old side)", hdr, v1body, strlen(v1body),
	    secrets, 1, V1T + 300, 300, STRIPE_SIG_OK, NULL);
	check("now = t + 301", hdr, v1body, strlen(v1body), secrets, 1,
	    V1T + 301, 300, STRIPE_SIG_TOO_OLD, "301 s old");
	check("now = t + 1 day", hdr, v1body, strlen(v1body), secrets, 1,
	    V1T + 86400, 300, STRIPE_SIG_TOO_OLD, NULL);
	check("now = t - 300 (edge, future side)", hdr, v1body, strlen(v1body),
	    secrets, 1, V1T - 300, 300, STRIPE_SIG_OK, NULL);
	check("now = t - 301", hdr, v1body, strlen(v1body), secrets, 1,
	    V1T - 301, 300, STRIPE_SIG_TOO_NEW, "in the future");
	check("tolerance 0, now = t", hdr, v1body, strlen(v1body), secrets, 1,
	    V1T, 0, STRIPE_SIG_OK, NULL);
	check("tolerance 0, now = t + 1", hdr, v1body, strlen(v1body), secrets,
	    1, V1T + 1, 0, STRIPE_SIG_TOO_OLD, NULL);
	check("tolerance 600, now = t + 599", hdr, v1body, strlen(v1body),
	    secrets, 1, V1T + 599, 600, STRIPE_SIG_OK, NULL);
	/* The HMAC is checked first: a forgery learns nothing about t. */
	check("forged and stale", "t=1700000000,v1=00000000000000000000000000"
	    "00000000000000000000000000000000000000", v1body, strlen(v1body),
	    secrets, 1, V1T + 86400, 300, STRIPE_SIG_MISMATCH, NULL);
}

static void
test_secrets(void)
{
	char	*rolling[2] = { "whsec_previous_secret", v1secret };
	char	*wrong[2] = { "whsec_a", "whsec_b" };
	char	*none[1] = { NULL };
	char	 hdr[256];

	snprintf(hdr, sizeof hdr, "t=1700000000,v1=%s", v1sig);
	check("rolling: the second secret matches", hdr, v1body,
	    strlen(v1body), rolling, 2, V1T, 300, STRIPE_SIG_OK, NULL);
	check("rolling: the first secret matches", hdr, v1body,
	    strlen(v1body), rolling + 1, 1, V1T, 300, STRIPE_SIG_OK, NULL);
	check("two wrong secrets", hdr, v1body, strlen(v1body), wrong, 2, V1T,
	    300, STRIPE_SIG_MISMATCH, "2 secrets tried");
	check("empty secret list", hdr, v1body, strlen(v1body), none, 0, V1T,
	    300, STRIPE_SIG_MISMATCH, "no webhook secret configured");
	check("NULL header", NULL, v1body, strlen(v1body), rolling, 2, V1T,
	    300, STRIPE_SIG_MALFORMED, "no signature header");
	snprintf(hdr, sizeof hdr, "t=1700000000,v1=%.64s,v1=%s",
	    "1111111111111111111111111111111111111111111111111111111111111111",
	    v1sig);
	check("old-secret v1 first, ours second", hdr, v1body, strlen(v1body),
	    rolling + 1, 1, V1T, 300, STRIPE_SIG_OK, NULL);
}

/* "@" becomes the V1 signature, "#" its first 63 digits. */
static void
subst(const char *tmpl, char *out, size_t outlen)
{
	size_t	o = 0, n;

	for (; *tmpl != '\0' && o + 65 < outlen; tmpl++) {
		if (*tmpl == '@' || *tmpl == '#') {
			n = *tmpl == '@' ? 64 : 63;
			memcpy(out + o, v1sig, n);
			o += n;
		} else
			out[o++] = *tmpl;
	}
	out[o] = '\0';
}

static void
test_malformed(void)
{
	char	*secrets[1] = { v1secret }, hdr[6000];
	static const struct {
		const char *name, *fmt, *causepart;
	} bad[] = {
		{ "t with a leading zero", "t=01700000000,v1=@", "leading zero" },
		{ "t with a plus sign", "t=+1700000000,v1=@", "timestamp t" },
		{ "t with a space", "t= 1700000000,v1=@", "timestamp t" },
		{ "empty t", "t=,v1=@", "timestamp t" },
		{ "13-digit t", "t=1700000000000,v1=@", "1-12 digits" },
		{ "negative t", "t=-1,v1=@", "timestamp t" },
		{ "t=0", "t=0,v1=@", "leading zero" },
		{ "item without =", "t=1700000000,v1,v1=@", "has no '='" },
		{ "trailing comma", "t=1700000000,v1=@,", "has no '='" },
		{ "leading comma", ",t=1700000000,v1=@", "has no '='" },
		{ "space before t", " t=1700000000,v1=@", "no timestamp" },
		{ "key T uppercase", "T=1700000000,v1=@", "no timestamp" },
		{ "key V1 uppercase", "t=1700000000,V1=@", "no v1 signature" },
		{ "v1 with 65 hex digits", "t=1700000000,v1=@0", "64 hex digits" },
		{ "v1 with a non-hex digit", "t=1700000000,v1=g#",
		    "64 hex digits" },
		{ "v1 quoted", "t=1700000000,v1=\"@\"", "64 hex digits" },
	};
	size_t	i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		subst(bad[i].fmt, hdr, sizeof hdr);
		check(bad[i].name, hdr, v1body, strlen(v1body), secrets, 1, V1T,
		    300, STRIPE_SIG_MALFORMED, bad[i].causepart);
	}
	memset(hdr, 'x', 5000);
	memcpy(hdr, "t=1700000000,v9=", 16);
	hdr[5000] = '\0';
	check("5000-byte header", hdr, v1body, strlen(v1body), secrets, 1, V1T,
	    300, STRIPE_SIG_MALFORMED, "more than");
	/* A body with a NUL byte is signed over its length, not strlen(). */
	check("body with a NUL byte after the signed text", "t=1700000000,v1="
	    "ca796b857b81e24d595a4c37abf88d2fafb533a32ede6ce4cfc9b0e892a35b08",
	    "{\"id\":\"evt_test_1\",\"object\":\"event\",\"type\":\"checkout."
	    "session.completed\"}\0x", 74, secrets, 1, V1T, 300,
	    STRIPE_SIG_MISMATCH, NULL);
}

int
main(void)
{
	json_error_t	 err;
	json_t		*root;
	char		 path[4096];
	const char	*fx;

	if ((fx = getenv("FB_FIXTURES")) == NULL)
		fx = "t/data";
	snprintf(path, sizeof path, "%s/stripe-signature-vectors.json", fx);
	root = json_load_file(path, JSON_REJECT_DUPLICATES, &err);
	ok(root != NULL, "load %s%s%s", path, root ? "" : ": ",
	    root ? "" : err.text);
	if (root != NULL)
		test_vectors(root);
	test_tolerance();
	test_secrets();
	test_malformed();
	json_decref(root);
	return tap_done();
}
