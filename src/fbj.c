/*
 * fbj.c: the read-only JSON tree of an event (see financebee.h).
 *
 * The guardian used to build the event as jansson values: a hash table
 * per object, a copy of every key and string, a free per value.  For a
 * 6.4 KB subscription event that was ~150k of its ~224k instructions
 * (callgrind).  Here one pass of the shared lexer (jsonlex.h) fills one
 * node array and one string buffer; freeing is two free() calls.
 *
 * fbj_parse() gives the tree of exactly what jansson would accept, or
 * gives up (NULL) where it is not sure; guardian.c then asks jansson,
 * whose value or error is the only one that counts, and turns a value
 * into the same tree with fbj_from_json().
 */
#include <stdlib.h>
#include <string.h>

#include "financebee.h"
#include "jsonlex.h"

#define FBJ_MAX_DEPTH	64
#define FBJ_MAX_NODES	(1u << 24)

struct fbj_doc {
	fbj_t		*nodes;
	size_t		 n;
	size_t		 cap;
	char		*str;		/* every unescaped string and key */
	json_t		*owner;		/* fbj_from_json: strings live here */
};

struct fbjp {
	struct fbj_doc	*d;
	const char	*p;
	const char	*end;
	char		*o;		/* next free byte of d->str */
	int		 maxdepth;
};

static int	fbjp_value(struct fbjp *, int, const char *, uint32_t);

const fbj_t *
fbj_root(const struct fbj_doc *d)
{
	return d != NULL && d->n > 0 ? d->nodes : NULL;
}

void
fbj_free(struct fbj_doc *d)
{
	if (d == NULL)
		return;
	free(d->nodes);
	free(d->str);
	json_decref(d->owner);
	free(d);
}

/* A new node (index) with its key; -1 when out of room. */
static long
fbj_node(struct fbj_doc *d, int type, const char *key, uint32_t klen)
{
	fbj_t	*nn;
	size_t	 cap;

	if (d->n == d->cap) {
		cap = d->cap ? d->cap * 2 : 256;
		if (cap > FBJ_MAX_NODES ||
		    (nn = realloc(d->nodes, cap * sizeof(*nn))) == NULL)
			return -1;
		d->nodes = nn;
		d->cap = cap;
	}
	nn = &d->nodes[d->n];
	memset(nn, 0, sizeof(*nn));
	nn->type = (uint8_t)type;
	nn->key = key;
	nn->klen = klen;
	nn->skip = 1;
	return (long)d->n++;
}

static uint32_t
fbj_hash(const char *s, size_t n)
{
	uint32_t	h = 2166136261u;

	while (n-- > 0)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

/* 1 when two members of object idx have the same key. */
static int
fbj_dup_keys(const struct fbj_doc *d, size_t idx)
{
	const fbj_t	*o = &d->nodes[idx], *a, *b;
	const fbj_t	*small[16];
	uint32_t	 stack[256], *tab = stack, h, mask;
	size_t		 i, j, size;
	int		 dup = 0;

	if (o->len < 2)
		return 0;
	if (o->len <= 16) {
		for (i = 0, a = o + 1; i < o->len; i++, a += a->skip) {
			for (j = 0; j < i; j++) {
				b = small[j];
				if (b->klen == a->klen &&
				    memcmp(b->key, a->key, a->klen) == 0)
					return 1;
			}
			small[i] = a;
		}
		return 0;
	}
	for (size = 32; size < 2 * o->len; size *= 2)
		;
	if (size > sizeof(stack) / sizeof(stack[0]) &&
	    (tab = malloc(size * sizeof(*tab))) == NULL)
		return 1;	/* give up: jansson decides */
	memset(tab, 0, size * sizeof(*tab));
	mask = (uint32_t)size - 1;
	/* Slots hold a node's offset from o (never 0). */
	for (i = 0, a = o + 1; i < o->len && !dup; i++, a += a->skip) {
		for (h = fbj_hash(a->key, a->klen) & mask; tab[h] != 0;
		    h = (h + 1) & mask) {
			b = o + tab[h];
			if (b->klen == a->klen &&
			    memcmp(b->key, a->key, a->klen) == 0) {
				dup = 1;
				break;
			}
		}
		tab[h] = (uint32_t)(a - o);
	}
	if (tab != stack)
		free(tab);
	return dup;
}

/* A string after its quote, into d->str; its start, or NULL. */
static const char *
fbjp_string(struct fbjp *f, uint32_t *len)
{
	char	*s = f->o;
	ssize_t	 n;

	if ((n = jlex_string(&f->p, f->end, s)) == -1 || n > UINT32_MAX - 1)
		return NULL;
	s[n] = '\0';
	f->o += n + 1;
	*len = (uint32_t)n;
	return s;
}

static int
fbjp_container(struct fbjp *f, int depth, long idx, char close)
{
	const char	*key = NULL;
	uint32_t	 klen = 0;
	size_t		 count = 0;

	f->p++;
	f->p = jlex_ws(f->p, f->end);
	if (f->p < f->end && *f->p == close) {
		f->p++;
		return 0;
	}
	for (;;) {
		if (close == '}') {
			f->p = jlex_ws(f->p, f->end);
			if (f->p >= f->end || *f->p != '"')
				return -1;
			f->p++;
			if ((key = fbjp_string(f, &klen)) == NULL)
				return -1;
			f->p = jlex_ws(f->p, f->end);
			if (f->p >= f->end || *f->p != ':')
				return -1;
			f->p++;
		}
		if (fbjp_value(f, depth + 1, key, klen) == -1)
			return -1;
		count++;
		f->p = jlex_ws(f->p, f->end);
		if (f->p >= f->end)
			return -1;
		if (*f->p == close) {
			f->p++;
			break;
		}
		if (*f->p++ != ',')
			return -1;
	}
	f->d->nodes[idx].len = count;
	f->d->nodes[idx].skip = (uint32_t)(f->d->n - (size_t)idx);
	if (close == '}' && fbj_dup_keys(f->d, (size_t)idx))
		return -1;	/* jansson names the key and the line */
	return 0;
}

static int
fbjp_value(struct fbjp *f, int depth, const char *key, uint32_t klen)
{
	struct fbj_doc	*d = f->d;
	const char	*s;
	uint32_t	 len;
	int64_t		 i;
	long		 idx;

	f->p = jlex_ws(f->p, f->end);
	if (f->p >= f->end)
		return -1;
	switch (*f->p) {
	case '{':
	case '[':
		if (depth >= f->maxdepth || (idx = fbj_node(d, *f->p == '{' ?
		    FBJ_OBJECT : FBJ_ARRAY, key, klen)) == -1)
			return -1;
		return fbjp_container(f, depth, idx, *f->p == '{' ? '}' : ']');
	case '"':
		f->p++;
		if ((s = fbjp_string(f, &len)) == NULL ||
		    (idx = fbj_node(d, FBJ_STRING, key, klen)) == -1)
			return -1;
		d->nodes[idx].s = s;
		d->nodes[idx].len = len;
		return 0;
	case 't':
		return jlex_lit(&f->p, f->end, "true", 4) == -1 ? -1 :
		    fbj_node(d, FBJ_TRUE, key, klen) == -1 ? -1 : 0;
	case 'f':
		return jlex_lit(&f->p, f->end, "false", 5) == -1 ? -1 :
		    fbj_node(d, FBJ_FALSE, key, klen) == -1 ? -1 : 0;
	case 'n':
		return jlex_lit(&f->p, f->end, "null", 4) == -1 ? -1 :
		    fbj_node(d, FBJ_NULL, key, klen) == -1 ? -1 : 0;
	default:
		if (jlex_int(&f->p, f->end, &i) == -1 ||
		    (idx = fbj_node(d, FBJ_INTEGER, key, klen)) == -1)
			return -1;
		d->nodes[idx].u.i = i;
		return 0;
	}
}

struct fbj_doc *
fbj_parse(const char *s, size_t len, int maxdepth)
{
	struct fbj_doc	*d;
	struct fbjp	 f;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	/* Every string's text and NUL fit in the bytes of its token. */
	if ((d->str = malloc(len + 1)) == NULL) {
		free(d);
		return NULL;
	}
	memset(&f, 0, sizeof(f));
	f.d = d;
	f.p = s;
	f.end = s + len;
	f.o = d->str;
	f.maxdepth = maxdepth > 0 && maxdepth < FBJ_MAX_DEPTH ? maxdepth :
	    FBJ_MAX_DEPTH;
	if (fbjp_value(&f, 0, NULL, 0) == -1 ||
	    jlex_ws(f.p, f.end) != f.end) {
		fbj_free(d);
		return NULL;
	}
	return d;
}

static size_t
fbj_count(json_t *j)
{
	const char	*k;
	json_t		*v;
	size_t		 n = 1, i;

	if (json_is_object(j))
		json_object_foreach(j, k, v)
			n += fbj_count(v);
	else if (json_is_array(j))
		json_array_foreach(j, i, v)
			n += fbj_count(v);
	return n;
}

static void
fbj_fill(struct fbj_doc *d, json_t *j, const char *key)
{
	const char	*k;
	json_t		*v;
	fbj_t		*nn;
	size_t		 idx = d->n++, i;

	nn = &d->nodes[idx];
	memset(nn, 0, sizeof(*nn));
	nn->key = key;
	nn->klen = key != NULL ? (uint32_t)strlen(key) : 0;
	switch (json_typeof(j)) {
	case JSON_OBJECT:
		nn->type = FBJ_OBJECT;
		nn->len = json_object_size(j);
		json_object_foreach(j, k, v)
			fbj_fill(d, v, k);
		break;
	case JSON_ARRAY:
		nn->type = FBJ_ARRAY;
		nn->len = json_array_size(j);
		json_array_foreach(j, i, v)
			fbj_fill(d, v, NULL);
		break;
	case JSON_STRING:
		nn->type = FBJ_STRING;
		nn->s = json_string_value(j);
		nn->len = json_string_length(j);
		break;
	case JSON_INTEGER:
		nn->type = FBJ_INTEGER;
		nn->u.i = (int64_t)json_integer_value(j);
		break;
	case JSON_REAL:
		nn->type = FBJ_REAL;
		nn->u.r = json_real_value(j);
		break;
	case JSON_TRUE:
		nn->type = FBJ_TRUE;
		break;
	case JSON_FALSE:
		nn->type = FBJ_FALSE;
		break;
	case JSON_NULL:
		nn->type = FBJ_NULL;
		break;
	}
	/* Re-fetch: the array does not move (sized up front). */
	d->nodes[idx].skip = (uint32_t)(d->n - idx);
}

struct fbj_doc *
fbj_from_json(json_t *j)
{
	struct fbj_doc	*d;
	size_t		 n;

	if (j == NULL || (d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	n = fbj_count(j);
	if (n > FBJ_MAX_NODES ||
	    (d->nodes = calloc(n, sizeof(*d->nodes))) == NULL) {
		free(d);
		return NULL;
	}
	d->cap = n;
	d->owner = json_incref(j);
	fbj_fill(d, j, NULL);
	return d;
}

json_t *
fbj_to_json(const fbj_t *v)
{
	const fbj_t	*c;
	json_t		*j;
	size_t		 i;

	if (v == NULL)
		return NULL;
	switch (v->type) {
	case FBJ_OBJECT:
		j = json_object();
		for (i = 0, c = v + 1; j != NULL && i < v->len; i++,
		    c += c->skip)
			json_object_setn_new_nocheck(j, c->key, c->klen,
			    fbj_to_json(c));
		return j;
	case FBJ_ARRAY:
		j = json_array();
		for (i = 0, c = v + 1; j != NULL && i < v->len; i++,
		    c += c->skip)
			json_array_append_new(j, fbj_to_json(c));
		return j;
	case FBJ_STRING:
		/* The text was valid UTF-8 (lexer or jansson): no check. */
		return json_stringn_nocheck(v->s, v->len);
	case FBJ_INTEGER:
		return json_integer((json_int_t)v->u.i);
	case FBJ_REAL:
		return json_real(v->u.r);
	case FBJ_TRUE:
		return json_true();
	case FBJ_FALSE:
		return json_false();
	default:
		return json_null();
	}
}

const char *
fbj_typename(const fbj_t *v)
{
	if (v == NULL)
		return "missing";
	switch (v->type) {
	case FBJ_OBJECT:
		return "an object";
	case FBJ_ARRAY:
		return "an array";
	case FBJ_STRING:
		return "a string";
	case FBJ_INTEGER:
	case FBJ_REAL:
		return "a number";
	case FBJ_TRUE:
	case FBJ_FALSE:
		return "a boolean";
	default:
		return "null";
	}
}
