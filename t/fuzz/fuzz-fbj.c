/*
 * fuzz-fbj: fbj_parse() (src/common/fbj.c) against jansson.  Whenever
 * fbj gives an answer it must be the value json_loadb() gives with
 * JSON_REJECT_DUPLICATES (and JSON_DECODE_ANY: fbj takes top-level
 * scalars); a mismatch aborts.  Also checked: the tree's own shape (skip
 * and len, member lookup), the maxdepth bound, and jansson's values
 * through fbj_from_json() and back.
 *
 * Input: the JSON text.  Seeds: t/data/stripe-events, t/data/events.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common.h"
#include "fuzz.h"

/* The nodes of v's subtree equal j; returns v's nesting depth. */
static int
same(const struct fbj *v, json_t *j, const char *s, size_t len)
{
	const struct fbj	*c;
	json_t		*m;
	size_t		 i, n = 1;
	int		 d, depth = 0;

	switch (v->type) {
	case FBJ_OBJECT:
		FUZZ_CHECK(json_is_object(j), s, len);
		FUZZ_CHECK(v->len == json_object_size(j), s, len);
		for (i = 0, c = v + 1; i < v->len; i++, c += c->skip) {
			FUZZ_CHECK(c->key != NULL && c->key[c->klen] == '\0' &&
			    strlen(c->key) == c->klen, s, len);
			m = json_object_getn(j, c->key, c->klen);
			FUZZ_CHECK(m != NULL, s, len);
			/* No duplicate keys: the lookup finds this member. */
			FUZZ_CHECK(fbj_object_get(v, c->key) == c, s, len);
			if ((d = same(c, m, s, len)) > depth)
				depth = d;
			n += c->skip;
		}
		FUZZ_CHECK(v->skip == n, s, len);
		return depth + 1;
	case FBJ_ARRAY:
		FUZZ_CHECK(json_is_array(j), s, len);
		FUZZ_CHECK(v->len == json_array_size(j) &&
		    fbj_array_size(v) == v->len, s, len);
		fbj_array_foreach(v, i, c) {
			FUZZ_CHECK(c->key == NULL, s, len);
			if ((d = same(c, json_array_get(j, i), s, len)) > depth)
				depth = d;
			n += c->skip;
		}
		FUZZ_CHECK(v->skip == n, s, len);
		return depth + 1;
	case FBJ_STRING:
		FUZZ_CHECK(json_is_string(j) && v->len ==
		    json_string_length(j) && memcmp(v->u.s,
		    json_string_value(j), v->len) == 0 &&
		    v->u.s[v->len] == '\0', s, len);
		break;
	case FBJ_INTEGER:
		FUZZ_CHECK(json_is_integer(j) &&
		    json_integer_value(j) == v->u.i, s, len);
		break;
	case FBJ_TRUE:
		FUZZ_CHECK(json_is_true(j), s, len);
		break;
	case FBJ_FALSE:
		FUZZ_CHECK(json_is_false(j), s, len);
		break;
	case FBJ_NULL:
		FUZZ_CHECK(json_is_null(j), s, len);
		break;
	default:
		/* fbj_parse() never makes a real: it gives up on them. */
		FUZZ_CHECK(0, s, len);
	}
	FUZZ_CHECK(v->skip == 1, s, len);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*s = (const char *)data;
	struct fbj_doc	*d, *d2;
	json_error_t	 err;
	json_t		*j, *mine, *back;
	int		 depth;

	d = fbj_parse(s, size, 0);
	j = json_loadb(s, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
	    &err);
	if (d != NULL) {
		/* An answer from fbj is jansson's answer. */
		FUZZ_CHECK(j != NULL, s, size);
		FUZZ_CHECK(fbj_root(d) != NULL, s, size);
		depth = same(fbj_root(d), j, s, size);
		FUZZ_CHECK(depth <= 64, s, size);
		mine = fbj_to_json(fbj_root(d));
		FUZZ_CHECK(mine != NULL && json_equal(mine, j), s, size);
		json_decref(mine);
		fbj_free(d);
		/* maxdepth: exactly the nesting it has is enough. */
		if (depth >= 2 && depth < 64) {
			d = fbj_parse(s, size, depth);
			FUZZ_CHECK(d != NULL, s, size);
			fbj_free(d);
			d = fbj_parse(s, size, depth - 1);
			FUZZ_CHECK(d == NULL, s, size);
		}
	}
	if (j != NULL) {
		/* jansson's own values go through the same tree. */
		d2 = fbj_from_json(j);
		FUZZ_CHECK(d2 != NULL, s, size);
		back = fbj_to_json(fbj_root(d2));
		FUZZ_CHECK(back != NULL && json_equal(back, j), s, size);
		json_decref(back);
		fbj_free(d2);
		json_decref(j);
	}
	return 0;
}
