/*
 * change.c: the change document (see financebee.h), written as text.
 *
 * stripe_normalize() used to build it as jansson values and store.c to
 * write those out: ~180 allocations and ~26k instructions per event
 * (callgrind on apply-bench), for a flat object of some twenty members
 * whose every value is a string, an integer, a boolean, null or a list
 * of strings.  Here each value is written as JSON text as it is set, into
 * one buffer that is reused from event to event, and change_text() joins
 * the members.  Setting a key again replaces its value, as
 * json_object_set_new() did; members keep the order of their first set.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "financebeed.h"

void
change_init(struct fb_change *c)
{
	memset(c, 0, sizeof(*c));
}

void
change_reset(struct fb_change *c)
{
	c->n = 0;
	c->len = 0;
	c->failed = 0;
}

void
change_free(struct fb_change *c)
{
	free(c->buf);
	free(c->text);
	change_init(c);
}

/* Room for n more bytes of value text, or the change is failed. */
static char *
change_room(struct fb_change *c, size_t n)
{
	char	*b;
	size_t	 want;

	if (c->failed)
		return NULL;
	if (n > c->cap - c->len) {
		want = c->cap ? c->cap : 1024;
		while (want - c->len < n) {
			if (want > SIZE_MAX / 2) {
				c->failed = 1;
				return NULL;
			}
			want *= 2;
		}
		if ((b = realloc(c->buf, want)) == NULL) {
			c->failed = 1;
			return NULL;
		}
		c->buf = b;
		c->cap = want;
	}
	return c->buf + c->len;
}

/* The value just written at [off, len) becomes key's. */
static void
change_commit(struct fb_change *c, const char *key, size_t off)
{
	unsigned int	i;

	if (c->failed)
		return;
	for (i = 0; i < c->n; i++)
		if (c->ent[i].key == key || (c->ent[i].key[0] == key[0] &&
		    strcmp(c->ent[i].key, key) == 0))
			break;
	if (i == c->n) {
		if (c->n == FB_CHANGE_MAXKEYS) {
			c->failed = 1;
			return;
		}
		c->ent[c->n++].key = key;
	}
	c->ent[i].off = off;
	c->ent[i].len = c->len - off;
}

/* s as a JSON string at p (room for 6n + 2); its end. */
static char *
change_quote(char *p, const char *s, size_t n)
{
	static const char	 hex[] = "0123456789abcdef";
	unsigned char		 ch;
	size_t			 i;

	*p++ = '"';
	for (i = 0; i < n; i++) {
		ch = (unsigned char)s[i];
		if (ch >= 0x20 && ch != '"' && ch != '\\') {
			*p++ = (char)ch;
			continue;
		}
		*p++ = '\\';
		if (ch == '"' || ch == '\\') {
			*p++ = (char)ch;
			continue;
		}
		*p++ = 'u';
		*p++ = '0';
		*p++ = '0';
		*p++ = hex[ch >> 4];
		*p++ = hex[ch & 0xf];
	}
	*p++ = '"';
	return p;
}

void
change_str(struct fb_change *c, const char *key, const char *s, size_t n)
{
	size_t	 off = c->len;
	char	*p;

	if (n > (SIZE_MAX - 2) / 6) {
		c->failed = 1;
		return;
	}
	if ((p = change_room(c, 6 * n + 2)) == NULL)
		return;
	c->len = (size_t)(change_quote(p, s, n) - c->buf);
	change_commit(c, key, off);
}

void
change_cstr(struct fb_change *c, const char *key, const char *s)
{
	change_str(c, key, s, strlen(s));
}

void
change_int(struct fb_change *c, const char *key, int64_t i)
{
	size_t		 off = c->len;
	char		 num[24], *n = num + sizeof(num), *p;
	uint64_t	 u;

	/* By hand: printf's code is cold after each database round trip. */
	u = i < 0 ? -(uint64_t)i : (uint64_t)i;
	do
		*--n = (char)('0' + u % 10);
	while ((u /= 10) != 0);
	if (i < 0)
		*--n = '-';
	if ((p = change_room(c, sizeof(num))) == NULL)
		return;
	memcpy(p, n, (size_t)(num + sizeof(num) - n));
	c->len += (size_t)(num + sizeof(num) - n);
	change_commit(c, key, off);
}

static void
change_lit(struct fb_change *c, const char *key, const char *lit)
{
	size_t	 off = c->len, n = strlen(lit);
	char	*p;

	if ((p = change_room(c, n)) == NULL)
		return;
	memcpy(p, lit, n);
	c->len += n;
	change_commit(c, key, off);
}

void
change_bool(struct fb_change *c, const char *key, int b)
{
	change_lit(c, key, b ? "true" : "false");
}

void
change_null(struct fb_change *c, const char *key)
{
	change_lit(c, key, "null");
}

void
change_list(struct fb_change *c, const char *key, const char *const *list,
    size_t n)
{
	size_t	 off = c->len, i, l;
	char	*p;

	if ((p = change_room(c, 1)) == NULL)
		return;
	*p = '[';
	c->len++;
	for (i = 0; i < n; i++) {
		l = strlen(list[i]);
		if (l > (SIZE_MAX - 3) / 6) {
			c->failed = 1;
			return;
		}
		if ((p = change_room(c, 6 * l + 3)) == NULL)
			return;
		if (i > 0)
			*p++ = ',';
		c->len = (size_t)(change_quote(p, list[i], l) - c->buf);
	}
	if ((p = change_room(c, 1)) == NULL)
		return;
	*p = ']';
	c->len++;
	change_commit(c, key, off);
}

/*
 * The document, NUL-terminated, valid until the next change to c; NULL
 * when a set failed (out of memory, more than FB_CHANGE_MAXKEYS keys).
 * Keys are the callers' literals, plain identifiers, written as they are.
 */
const char *
change_text(struct fb_change *c, size_t *lenp)
{
	size_t		 need = 3, i, kl;
	char		*p, *t;

	if (c->failed)
		return NULL;
	for (i = 0; i < c->n; i++)
		need += strlen(c->ent[i].key) + 4 + c->ent[i].len;
	if (need > c->textcap) {
		if ((t = realloc(c->text, need)) == NULL)
			return NULL;
		c->text = t;
		c->textcap = need;
	}
	p = c->text;
	*p++ = '{';
	for (i = 0; i < c->n; i++) {
		if (i > 0)
			*p++ = ',';
		*p++ = '"';
		kl = strlen(c->ent[i].key);
		memcpy(p, c->ent[i].key, kl);
		p += kl;
		*p++ = '"';
		*p++ = ':';
		memcpy(p, c->buf + c->ent[i].off, c->ent[i].len);
		p += c->ent[i].len;
	}
	*p++ = '}';
	*p = '\0';
	if (lenp != NULL)
		*lenp = (size_t)(p - c->text);
	return c->text;
}

/* The raw text of key's value (a string keeps its quotes), or NULL. */
const char *
change_value(const struct fb_change *c, const char *key, size_t *lenp)
{
	unsigned int	i;

	for (i = 0; i < c->n; i++) {
		if (strcmp(c->ent[i].key, key) == 0) {
			*lenp = c->ent[i].len;
			return c->buf + c->ent[i].off;
		}
	}
	return NULL;
}

/* The document as jansson values (tests, --apply, benchmarks), or NULL. */
json_t *
change_json(struct fb_change *c)
{
	const char	*t;
	size_t		 len;

	if ((t = change_text(c, &len)) == NULL)
		return NULL;
	return json_loadb(t, len, JSON_REJECT_DUPLICATES, NULL);
}
