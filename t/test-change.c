/*
 * test-change: the change document written as text (src/change.c) is the
 * JSON jansson reads back as the values set: every escape, integer
 * extremes, lists, replacing a key, growth, reuse, and failure past
 * FB_CHANGE_MAXKEYS keys.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "financebeed.h"
#include "tap.h"

/* c's text, read back by jansson (NULs allowed), or NULL. */
static json_t *
reread(struct fb_change *c)
{
	const char	*t;
	size_t		 len;

	if ((t = change_text(c, &len)) == NULL || strlen(t) != len)
		return NULL;
	return json_loadb(t, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL,
	    NULL);
}

static void
test_escapes(struct fb_change *c)
{
	static const char *const utf8[] = {
		"\xc3\xa9", "\xe6\x97\xa5\xe6\x9c\xac", "\xf0\x9f\x90\x9d",
		"q\"b\\s/\n\t\x01\x1f\x7f end", "", NULL
	};
	char		 s[4];
	json_t		*j, *v;
	int		 b, bad = 0, i;

	/* Every ASCII byte, alone and between two letters. */
	for (b = 1; b < 128; b++) {
		change_reset(c);
		s[0] = (char)b;
		change_str(c, "one", s, 1);
		s[0] = 'a';
		s[1] = (char)b;
		s[2] = 'z';
		change_str(c, "three", s, 3);
		j = reread(c);
		v = json_object_get(j, "one");
		if (!json_is_string(v) || json_string_length(v) != 1 ||
		    json_string_value(v)[0] != (char)b)
			bad++;
		v = json_object_get(j, "three");
		if (!json_is_string(v) || json_string_length(v) != 3 ||
		    memcmp(json_string_value(v), s, 3) != 0)
			bad++;
		json_decref(j);
	}
	ok(bad == 0, "bytes 1-127, alone and inside a string, read back "
	    "as written (%d wrong)", bad);

	change_reset(c);
	change_str(c, "nul", "a\0b", 3);
	j = reread(c);
	v = json_object_get(j, "nul");
	ok(json_is_string(v) && json_string_length(v) == 3 &&
	    memcmp(json_string_value(v), "a\0b", 3) == 0,
	    "an embedded NUL is written as \\u0000");
	json_decref(j);

	for (i = 0, bad = 0; utf8[i] != NULL; i++) {
		change_reset(c);
		change_cstr(c, "s", utf8[i]);
		j = reread(c);
		if (!json_is_string(json_object_get(j, "s")) ||
		    strcmp(json_string_value(json_object_get(j, "s")),
		    utf8[i]) != 0)
			bad++;
		json_decref(j);
	}
	ok(bad == 0, "UTF-8 and the empty string pass through (%d wrong)",
	    bad);
}

static void
test_values(struct fb_change *c)
{
	static const char *const list[] = { "active", "tri\"al", "" };
	static const char	 rawl[] = "[\"active\",\"tri\\\"al\",\"\"]";
	const char	*t, *v;
	size_t		 len;
	json_t		*j, *want;

	change_reset(c);
	change_int(c, "min", INT64_MIN);
	change_int(c, "max", INT64_MAX);
	change_int(c, "zero", 0);
	change_int(c, "neg", -1);
	change_bool(c, "t", 1);
	change_bool(c, "f", 0);
	change_null(c, "n");
	change_list(c, "l", list, 3);
	change_list(c, "e", list, 0);
	t = change_text(c, &len);
	is_str(t, "{\"min\":-9223372036854775808,\"max\":9223372036854775807,"
	    "\"zero\":0,\"neg\":-1,\"t\":true,\"f\":false,\"n\":null,"
	    "\"l\":[\"active\",\"tri\\\"al\",\"\"],\"e\":[]}",
	    "integers, booleans, null and lists, byte for byte");
	ok(t != NULL && len == strlen(t), "the length is the text's");
	j = reread(c);
	want = json_pack("{s:I, s:I, s:i, s:i, s:b, s:b, s:n, s:[s, s, s], "
	    "s:[]}", "min", (json_int_t)INT64_MIN, "max",
	    (json_int_t)INT64_MAX, "zero", 0, "neg", -1, "t", 1, "f", 0,
	    "n", "l", "active", "tri\"al", "", "e");
	ok(j != NULL && json_equal(j, want), "jansson reads the values set");
	json_decref(j);
	json_decref(want);
	v = change_value(c, "l", &len);
	ok(v != NULL && len == strlen(rawl) && memcmp(v, rawl, len) == 0,
	    "change_value gives a value's raw text");
	ok(change_value(c, "absent", &len) == NULL, "and NULL for no key");

	/* A key set again keeps its place and takes the new value. */
	change_reset(c);
	change_cstr(c, "kind", "subscription");
	change_int(c, "a", 1);
	change_cstr(c, "kind", "ignored");
	change_cstr(c, "note", "n");
	is_str(change_text(c, NULL), "{\"kind\":\"ignored\",\"a\":1,"
	    "\"note\":\"n\"}", "setting a key again replaces its value");
	change_reset(c);
	is_str(change_text(c, NULL), "{}", "reset: an empty object");
}

static void
test_limits(struct fb_change *c)
{
	static char	 keys[FB_CHANGE_MAXKEYS + 1][8];
	char		*big;
	json_t		*j;
	size_t		 n = 1024 * 1024, i;

	change_reset(c);
	for (i = 0; i < FB_CHANGE_MAXKEYS; i++) {
		snprintf(keys[i], sizeof keys[i], "k%zu", i);
		change_int(c, keys[i], (int64_t)i);
	}
	j = reread(c);
	ok(j != NULL && json_object_size(j) == FB_CHANGE_MAXKEYS,
	    "%d keys fit", FB_CHANGE_MAXKEYS);
	json_decref(j);
	snprintf(keys[i], sizeof keys[i], "k%zu", i);
	change_int(c, keys[i], 0);
	ok(change_text(c, NULL) == NULL, "one more fails the document");
	change_reset(c);
	change_int(c, "k", 1);
	is_str(change_text(c, NULL), "{\"k\":1}", "and reset clears the "
	    "failure");

	/* A megabyte of quotes: six bytes out per byte in at worst. */
	if ((big = malloc(n)) == NULL)
		return;
	memset(big, '"', n);
	change_reset(c);
	change_str(c, "big", big, n);
	change_int(c, "after", 7);
	j = reread(c);
	ok(j != NULL && json_string_length(json_object_get(j, "big")) == n &&
	    json_integer_value(json_object_get(j, "after")) == 7,
	    "a 1 MB string of quotes grows the buffers and reads back");
	json_decref(j);
	free(big);
}

int
main(void)
{
	struct fb_change	c;

	change_init(&c);
	test_escapes(&c);
	test_values(&c);
	test_limits(&c);
	change_free(&c);
	change_init(&c);
	is_str(change_text(&c, NULL), "{}", "a fresh change is an empty "
	    "object");
	change_free(&c);
	return tap_done();
}
