/*
 * fbj.c: the read-only JSON tree of an event (see financebee.h).
 *
 * The guardian used to build the event as jansson values: a hash table
 * per object, a copy of every key and string, a free per value.  For a
 * 6.4 KB subscription event that was ~150k of its ~224k instructions
 * (callgrind).  Here one pass of the lexer below fills one
 * node array and one string buffer; freeing is two free() calls.
 * colonies_fast_json() turns the same tree into jansson values, for the
 * ColonyOS replies.
 *
 * fbj_parse() gives the tree of exactly what jansson would accept, or
 * gives up (NULL) where it is not sure; guardian.c then asks jansson,
 * whose value or error is the only one that counts, and turns a value
 * into the same tree with fbj_from_json().
 */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "common.h"

/* --- the lexer: what it refuses, the parser gives up on ------------- */

/* JSON whitespace. */
static const unsigned char jlex_isws[256] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 1, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

/* Printable ASCII but the quote and the backslash: copied as is. */
static const unsigned char jlex_isplain[256] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

/*
 * Whitespace.  Compact text has none, so one look decides, and a single
 * space (after a colon) a second.  A pretty-printed event (Stripe's
 * bodies are) has a newline and an indent of spaces after every comma:
 * the spaces are skipped 16 at a time with SSE2, which every x86-64 has
 * (elsewhere, and in the last 16 bytes, one at a time).
 */
static inline const char *
jlex_ws(const char *p, const char *end)
{
	if (p >= end || !jlex_isws[(unsigned char)*p])
		return p;
	if (*p == ' ' && (end - p < 2 || !jlex_isws[(unsigned char)p[1]]))
		return p + 1;
	for (;;) {
		while (p < end && *p != ' ' && jlex_isws[(unsigned char)*p])
			p++;
#if defined(__SSE2__)
		while (end - p >= 16) {
			unsigned int	m;

			m = (unsigned int)_mm_movemask_epi8(_mm_cmpeq_epi8(
			    _mm_loadu_si128((const __m128i *)(const void *)p),
			    _mm_set1_epi8(' ')));
			if (m != 0xffff) {
				p += __builtin_ctz(~m);
				break;
			}
			p += 16;
		}
#endif
		while (p < end && *p == ' ')
			p++;
		if (p >= end || !jlex_isws[(unsigned char)*p])
			return p;
	}
}

/*
 * Eight bytes at a time: a flag (bit 7) in each byte that is not plain
 * (below 0x20, 0x7f and above, the quote, the backslash).  Exact about
 * "any" and about the lowest flag; flags above the lowest may be false.
 */
#define JLEX_ONES	UINT64_C(0x0101010101010101)
#define JLEX_HIGHS	UINT64_C(0x8080808080808080)
#define JLEX_ZERO(v)	(((v) - JLEX_ONES) & ~(v) & JLEX_HIGHS)

/* Index of the first flagged byte in memory order (0: let the loop look). */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define JLEX_FIRST(x)	(__builtin_ctzll(x) / 8)
#else
#define JLEX_FIRST(x)	0	/* borrows run toward lower addresses */
#endif

static inline uint64_t
jlex_unplain8(uint64_t x)
{
	return ((x - JLEX_ONES * 0x20) & ~x & JLEX_HIGHS) |
	    JLEX_ZERO(x ^ (JLEX_ONES * '"')) |
	    JLEX_ZERO(x ^ (JLEX_ONES * '\\')) |
	    JLEX_ZERO(x ^ (JLEX_ONES * 0x7f)) | (x & JLEX_HIGHS);
}

/*
 * A string, after its opening quote at *pp, unescaped into o, which has
 * room for end - *pp bytes (unescaped text is never longer).  Returns
 * its length and moves *pp past the closing quote, or -1: give up.
 */
static inline ssize_t
jlex_string(const char **pp, const char *end, char *o)
{
	const char	*p = *pp;
	char		*o0 = o;
	unsigned int	 u;
	uint64_t	 x;
	int		 i, h;

	for (;;) {
#if defined(__SSE2__)
		/*
		 * Sixteen at a time, as below: a signed byte below 0x20 is a
		 * control byte or not ASCII (0x80 and above are negative).
		 */
		while (end - p >= 16) {
			__m128i		 v;
			unsigned int	 m;

			v = _mm_loadu_si128((const __m128i *)(const void *)p);
			_mm_storeu_si128((__m128i *)(void *)o, v);
			m = (unsigned int)_mm_movemask_epi8(_mm_or_si128(
			    _mm_or_si128(_mm_cmplt_epi8(v, _mm_set1_epi8(0x20)),
			    _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7f))),
			    _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
			    _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')))));
			if (m != 0) {
				o += __builtin_ctz(m);
				p += __builtin_ctz(m);
				goto special;
			}
			o += 16;
			p += 16;
		}
#endif
		/*
		 * Eight at a time, all eight copied (the output never runs
		 * ahead of the input, so there is room), then a step to the
		 * first byte that is not plain: the lowest flag of each test
		 * is exact (a false flag only ever sits above a true one).
		 */
		while (end - p >= 8) {
			memcpy(&x, p, 8);
			memcpy(o, p, 8);
			if ((x = jlex_unplain8(x)) != 0) {
				i = JLEX_FIRST(x);
				o += i;
				p += i;
				break;
			}
			o += 8;
			p += 8;
		}
		while (p < end && jlex_isplain[(unsigned char)*p])
			*o++ = *p++;
#if defined(__SSE2__)
special:
#endif
		if (p >= end)
			return -1;
		if (*p == '"') {
			*pp = p + 1;
			return o - o0;
		}
		if (*p != '\\' || ++p >= end)
			return -1;
		switch (*p) {
		case '"':
		case '\\':
		case '/':
			*o++ = *p;
			break;
		case 'b':
			*o++ = '\b';
			break;
		case 'f':
			*o++ = '\f';
			break;
		case 'n':
			*o++ = '\n';
			break;
		case 'r':
			*o++ = '\r';
			break;
		case 't':
			*o++ = '\t';
			break;
		case 'u':
			if (end - p < 5)
				return -1;
			for (u = 0, i = 1; i <= 4; i++) {
				if ((h = hexval((unsigned char)p[i])) == -1)
					return -1;
				u = u << 4 | (unsigned int)h;
			}
			/* 6 bytes in, at most 3 out. */
			p += 5;
			if (u == 0 || (u >= 0xd800 && u <= 0xdfff))
				return -1;
			if (u < 0x80) {
				*o++ = (char)u;
			} else if (u < 0x800) {
				*o++ = (char)(0xc0 | u >> 6);
				*o++ = (char)(0x80 | (u & 0x3f));
			} else {
				*o++ = (char)(0xe0 | u >> 12);
				*o++ = (char)(0x80 | ((u >> 6) & 0x3f));
				*o++ = (char)(0x80 | (u & 0x3f));
			}
			continue;
		default:
			return -1;
		}
		p++;
	}
}

/* A literal (true, false, null) at *pp: 0 and past it, or -1. */
static inline int
jlex_lit(const char **pp, const char *end, const char *lit, size_t n)
{
	if ((size_t)(end - *pp) < n || memcmp(*pp, lit, n) != 0)
		return -1;
	*pp += n;
	return 0;
}

/* An integer in int64 at *pp, as jansson reads it, or -1: give up. */
static inline int
jlex_int(const char **pp, const char *end, int64_t *out)
{
	const char		*p = *pp;
	unsigned long long	 n = 0;
	int			 neg = 0, nd = 0;

	if (p < end && *p == '-') {
		neg = 1;
		p++;
	}
	if (p < end && *p == '0' && end - p > 1 && p[1] >= '0' && p[1] <= '9')
		return -1;
	for (; p < end && *p >= '0' && *p <= '9'; p++) {
		if (++nd > 19)
			return -1;
		n = n * 10 + (unsigned long long)(*p - '0');
	}
	if (nd == 0 || n > LLONG_MAX || (p < end && (*p == '.' ||
	    *p == 'e' || *p == 'E')))
		return -1;
	*out = neg ? -(int64_t)n : (int64_t)n;
	*pp = p;
	return 0;
}

/* --- the tree ------------------------------------------------------ */

#define FBJ_MAX_DEPTH	64
#define FBJ_MAX_NODES	(1u << 24)

struct fbj_doc {
	struct fbj		*nodes;
	size_t		 n;
	size_t		 cap;
	char		*str;		/* every unescaped string and key */
	size_t		 strsize;
	json_t		*owner;		/* fbj_from_json: strings live here */
};

/*
 * The buffers of the last document freed, for the next parse: a bee
 * parses two texts a task, one at a time, and malloc'ing and freeing
 * tens of kilobytes each time showed as malloc_consolidate in its
 * profile.  Bounded; off under AddressSanitizer, which then sees every
 * buffer.  Single-threaded processes only, as arena.c.
 */
#define FBJ_SPARE_MAX	(256 * 1024)
#if !defined(FB_ASAN)
static struct fbj_doc	*fbj_spare;
#endif

struct fbjp {
	struct fbj_doc	*d;
	const char	*p;
	const char	*end;
	char		*o;		/* next free byte of d->str */
	int		 maxdepth;
};

static int	fbjp_value(struct fbjp *, int, const char *, uint32_t);

const struct fbj *
fbj_root(const struct fbj_doc *d)
{
	return d != NULL && d->n > 0 ? d->nodes : NULL;
}

void
fbj_free(struct fbj_doc *d)
{
	if (d == NULL)
		return;
#if !defined(FB_ASAN)
	if (fbj_spare == NULL && d->owner == NULL &&
	    d->cap * sizeof(*d->nodes) <= FBJ_SPARE_MAX &&
	    d->strsize <= FBJ_SPARE_MAX) {
		d->n = 0;
		fbj_spare = d;
		return;
	}
#endif
	free(d->nodes);
	free(d->str);
	json_decref(d->owner);
	free(d);
}

/* Double the node array; -1 when out of room. */
static int
fbj_grow(struct fbj_doc *d)
{
	struct fbj	*nn;
	size_t	 cap;

	cap = d->cap ? d->cap * 2 : 256;
	if (cap > FBJ_MAX_NODES ||
	    (nn = realloc(d->nodes, cap * sizeof(*nn))) == NULL)
		return -1;
	d->nodes = nn;
	d->cap = cap;
	return 0;
}

/* A new node (index) with its key; -1 when out of room.  One per value. */
static inline long
fbj_node(struct fbj_doc *d, int type, const char *key, uint32_t klen)
{
	struct fbj	*nn;

	if (d->n == d->cap && fbj_grow(d) == -1)
		return -1;
	nn = &d->nodes[d->n];
	nn->key = key;
	nn->u.i = 0;
	nn->len = 0;
	nn->skip = 1;
	nn->klen = klen;
	nn->type = (uint8_t)type;
	return (long)d->n++;
}

/*
 * A key's hash for the duplicate check: its length and its first and
 * last eight bytes, multiplied in.  Keys that share those only cost a
 * memcmp more; a byte-at-a-time hash over every key of an event was an
 * eighth of the parse (callgrind).
 */
static uint32_t
fbj_hash(const char *s, size_t n)
{
	uint64_t	a = 0, b = 0;

	memcpy(&a, s, n < 8 ? n : 8);
	if (n > 8)
		memcpy(&b, s + n - 8, 8);
	a = (a ^ (uint64_t)n) * UINT64_C(0x9e3779b97f4a7c15);
	b = (b ^ (a >> 29)) * UINT64_C(0xbf58476d1ce4e5b9);
	return (uint32_t)((a ^ b) >> 32);
}

/* 1 when two members of object idx have the same key. */
static int
fbj_dup_keys(const struct fbj_doc *d, size_t idx)
{
	const struct fbj	*o = &d->nodes[idx], *a, *b;
	const struct fbj	*small[16];
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
	f->d->nodes[idx].len = (uint32_t)count;
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
		d->nodes[idx].u.s = s;
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
	char		*str;

#if !defined(FB_ASAN)
	d = fbj_spare;
	fbj_spare = NULL;
#else
	d = NULL;
#endif
	if (d == NULL && (d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	/* Every string's text and NUL fit in the bytes of its token. */
	if (d->strsize < len + 1) {
		if ((str = realloc(d->str, len + 1)) == NULL) {
			fbj_free(d);
			return NULL;
		}
		d->str = str;
		d->strsize = len + 1;
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
	struct fbj		*nn;
	size_t		 idx = d->n++, i;

	nn = &d->nodes[idx];
	memset(nn, 0, sizeof(*nn));
	nn->key = key;
	nn->klen = key != NULL ? (uint32_t)strlen(key) : 0;
	switch (json_typeof(j)) {
	case JSON_OBJECT:
		nn->type = FBJ_OBJECT;
		nn->len = (uint32_t)json_object_size(j);
		json_object_foreach(j, k, v)
			fbj_fill(d, v, k);
		break;
	case JSON_ARRAY:
		nn->type = FBJ_ARRAY;
		nn->len = (uint32_t)json_array_size(j);
		json_array_foreach(j, i, v)
			fbj_fill(d, v, NULL);
		break;
	case JSON_STRING:
		nn->type = FBJ_STRING;
		nn->u.s = json_string_value(j);
		nn->len = (uint32_t)json_string_length(j);
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
fbj_to_json(const struct fbj *v)
{
	const struct fbj	*c;
	json_t		*j;
	size_t		 i;

	if (v == NULL)
		return NULL;
	switch (v->type) {
	case FBJ_OBJECT:
		j = json_object();
		for (i = 0, c = v + 1; j != NULL && i < v->len; i++,
		    c += c->skip) {
			if (json_object_setn_new_nocheck(j, c->key, c->klen,
			    fbj_to_json(c)) == -1) {
				json_decref(j);
				j = NULL;
			}
		}
		return j;
	case FBJ_ARRAY:
		j = json_array();
		for (i = 0, c = v + 1; j != NULL && i < v->len; i++,
		    c += c->skip) {
			if (json_array_append_new(j, fbj_to_json(c)) == -1) {
				json_decref(j);
				j = NULL;
			}
		}
		return j;
	case FBJ_STRING:
		/* The text was valid UTF-8 (lexer or jansson): no check. */
		return json_stringn_nocheck(v->u.s, v->len);
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
fbj_typename(const struct fbj *v)
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
