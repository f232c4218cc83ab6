/*
 * test-fbj: the guardian's read-only event tree (src/fbj.c).  Whatever
 * fbj_parse() accepts, jansson (JSON_REJECT_DUPLICATES) accepts as the
 * same value; what it is unsure of it gives up on.  Checked on every
 * shared Stripe fixture, thousands of mutations of them, and the edge
 * cases of the lexer by name.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common.h"
#include "tap.h"
#include "fixtures.h"

#define MAXFILES	64

static char	*texts[MAXFILES];
static size_t	 lens[MAXFILES];
static int	 ntexts;
static unsigned int seed = 20261201;

static unsigned int
rnd(void)
{
	seed = seed * 1103515245 + 12345;
	return seed >> 8;
}

/*
 * 1: fbj accepted and jansson agrees on the value; 0: fbj gave up;
 * -1: fbj accepted what jansson refuses, or another value.
 */
static int
agree(const char *s, size_t len, int maxdepth)
{
	struct fbj_doc	*d, *d2;
	json_error_t	 err;
	json_t		*j, *mine, *back;
	int		 rv;

	d = fbj_parse(s, len, maxdepth);
	j = json_loadb(s, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
	    &err);
	if (d == NULL) {
		rv = 0;
		/* jansson's own values go through the same tree. */
		if (j != NULL) {
			d2 = fbj_from_json(j);
			back = fbj_to_json(fbj_root(d2));
			if (d2 == NULL || !json_equal(back, j))
				rv = -1;
			json_decref(back);
			fbj_free(d2);
		}
	} else {
		mine = fbj_to_json(fbj_root(d));
		rv = j != NULL && json_equal(mine, j) ? 1 : -1;
		if (rv == -1)
			printf("# disagree on %.*s\n", (int)(len > 120 ? 120 :
			    len), s);
		json_decref(mine);
		fbj_free(d);
	}
	json_decref(j);
	return rv;
}

static void
test_fixtures(void)
{
	size_t	 i, k, fast = 0, bad = 0, ascii;
	char	*m;
	int	 f, rv, nfast = 0;
	const char junk[] = "{}[]\":,\\0123456789.eE+-ntfu \t\n\x01\x7f\x80\xc3\xa9\xff";

	for (f = 0; f < ntexts; f++) {
		for (ascii = 1, i = 0; i < lens[f]; i++)
			if ((unsigned char)texts[f][i] >= 0x7f)
				ascii = 0;
		rv = agree(texts[f], lens[f], 64);
		if (rv == -1 || (ascii && rv != 1))
			bad++;
		nfast += rv == 1;
	}
	ok(ntexts > 20 && bad == 0, "%d fixtures: the same value as jansson, "
	    "%d on the fast path (every ASCII one)", ntexts,
	    nfast);

	for (bad = 0, k = 0; k < 6000 && ntexts > 0; k++) {
		f = (int)(rnd() % (unsigned int)ntexts);
		m = malloc(lens[f] + 1);
		memcpy(m, texts[f], lens[f] + 1);
		for (i = 1 + rnd() % 3; i > 0; i--)
			m[rnd() % lens[f]] = junk[rnd() % (sizeof junk - 1)];
		rv = agree(m, lens[f], 64);
		bad += rv == -1;
		fast += rv == 1;
		free(m);
	}
	ok(bad == 0, "6000 mutated fixtures: never a value jansson would not "
	    "give (%zu on the fast path)", fast);
}

static void
test_cases(void)
{
	static const struct {
		const char	*text;
		int		 want;	/* 1 fast and equal, 0 gives up */
	} c[] = {
		{ "{}", 1 }, { "[]", 1 }, { " {\"a\" : [ 1 , -2, true, false, "
		    "null, \"x\"] } \n", 1 },
		{ "{\"a\":1,\"a\":2}", 0 },
		{ "{\"a\":{\"b\":1},\"c\":[{\"d\":1,\"d\":1}]}", 0 },
		{ "\"\\u00e9\\u20ac\\/\\b\\f\\n\\r\\t\\\"\\\\\"", 1 },
		{ "\"\\ud83d\\ude00\"", 0 }, { "\"\\u0000\"", 0 },
		{ "\"\xc3\xa9\"", 0 }, { "\"\x7f\"", 0 }, { "\"\x01\"", 0 },
		{ "1.5", 0 }, { "1e3", 0 }, { "-0", 1 }, { "01", 0 },
		{ "9223372036854775807", 1 }, { "-9223372036854775807", 1 },
		{ "9223372036854775808", 0 }, { "{\"a\":1}x", 0 },
		{ "{\"a\":1,}", 0 }, { "[1,]", 0 }, { "{\"a\"1}", 0 },
		{ "[tru]", 0 }, { "", 0 }, { "\"abc", 0 }, { "\"\\x\"", 0 },
		{ "\"\\u12\"", 0 }, { "[[[[1]]]]", 1 },
	};
	char	 big[4096];
	size_t	 i, n;
	int	 rv, wrong = 0;

	for (i = 0; i < sizeof c / sizeof c[0]; i++) {
		rv = agree(c[i].text, strlen(c[i].text), 64);
		if (rv != c[i].want) {
			printf("# case %zu: got %d\n", i, rv);
			wrong++;
		}
	}
	ok(wrong == 0, "%zu lexer cases: taken or given up as expected, and "
	    "equal to jansson when taken", i);

	ok(agree("[[[[1]]]]", 9, 4) == 1 && agree("[[[[[1]]]]]", 11, 4) == 0,
	    "nesting past maxdepth gives up");

	/* An object of 40 keys: the hash-table duplicate check. */
	n = (size_t)snprintf(big, sizeof big, "{");
	for (i = 0; i < 40; i++)
		n += (size_t)snprintf(big + n, sizeof big - n, "%s\"key%02zu\":%zu",
		    i ? "," : "", i, i);
	snprintf(big + n, sizeof big - n, "}");
	ok(agree(big, strlen(big), 64) == 1, "40 distinct keys: taken");
	memcpy(strstr(big, "\"key39\""), "\"key07\"", 7);
	ok(agree(big, strlen(big), 64) == 0, "40 keys, the last a duplicate "
	    "of the 8th: given up (jansson refuses)");
}

static void
test_access(void)
{
	struct fbj_doc	*d;
	const struct fbj	*r, *v;
	size_t		 i, n = 0;
	const char	 t[] = "{\"s\":\"a\\u0000\",\"i\":42,\"a\":[1,{\"x\":2},3],"
	    "\"o\":{},\"t\":true,\"n\":null}";
	const char	 t2[] = "{\"s\":\"ab\",\"i\":42,\"a\":[1,{\"x\":2},3],"
	    "\"o\":{},\"t\":true,\"n\":null}";

	/* \u0000 makes fbj give up: jansson rejects it without ALLOW_NUL. */
	ok(fbj_parse(t, strlen(t), 64) == NULL, "\\u0000 gives up");
	d = fbj_parse(t2, strlen(t2), 64);
	r = fbj_root(d);
	ok(r != NULL && fbj_is_object(r) && r->len == 6, "root object, 6 "
	    "members");
	ok(strcmp(fbj_string_value(fbj_object_get(r, "s")), "ab") == 0 &&
	    fbj_string_length(fbj_object_get(r, "s")) == 2 &&
	    fbj_integer_value(fbj_object_get(r, "i")) == 42 &&
	    fbj_is_true(fbj_object_get(r, "t")) &&
	    fbj_is_null(fbj_object_get(r, "n")) &&
	    fbj_is_object(fbj_object_get(r, "o")), "members by key");
	fbj_array_foreach(fbj_object_get(r, "a"), i, v)
		n += (size_t)(fbj_is_integer(v) ? fbj_integer_value(v) :
		    fbj_integer_value(fbj_object_get(v, "x")) * 10);
	ok(n == 24 && fbj_array_size(fbj_object_get(r, "a")) == 3,
	    "array elements in order, siblings past a nested object");
	ok(fbj_object_get(r, "missing") == NULL &&
	    fbj_object_get(fbj_object_get(r, "a"), "x") == NULL &&
	    fbj_object_get(NULL, "x") == NULL && fbj_string_value(NULL) ==
	    NULL && fbj_integer_value(fbj_object_get(r, "s")) == 0 &&
	    fbj_array_size(r) == 0 && !fbj_is_boolean(NULL),
	    "wrong types and NULL give NULL, 0 and false, as jansson's do");
	n = 0;
	fbj_array_foreach(fbj_object_get(r, "o"), i, v)
		n++;
	fbj_array_foreach((const struct fbj *)NULL, i, v)
		n++;
	ok(n == 0, "foreach over a non-array or NULL runs no iteration");
	ok(strcmp(fbj_typename(fbj_object_get(r, "o")), "an object") == 0 &&
	    strcmp(fbj_typename(NULL), "missing") == 0, "type names");
	fbj_free(d);
	fbj_free(NULL);
}

int
main(void)
{
	ntexts = fixtures_load(texts, lens, MAXFILES);
	test_fixtures();
	test_cases();
	test_access();
	return tap_done();
}
