/*
 * minicolonies-json.c: what the real ColonyOS server's Go JSON code does
 * that jansson does not: Go's syntax error texts, Go's string escaping
 * (\u003c \u003e \u0026) and float64 number formatting, and
 * json.MarshalIndent's layout.  Used by minicolonies only.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colonies.h"
#include "minicolonies.h"

void
sb_grow(struct sb *b, size_t n)
{
	size_t	ncap;

	if (b->len + n + 1 <= b->cap)
		return;
	ncap = b->cap ? b->cap : 256;
	while (ncap < b->len + n + 1)
		ncap *= 2;
	if ((b->s = realloc(b->s, ncap)) == NULL)
		fatal("realloc");
	b->cap = ncap;
}

void
sb_add(struct sb *b, const char *s, size_t n)
{
	sb_grow(b, n);
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

void
sb_adds(struct sb *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

void
sb_addc(struct sb *b, char c)
{
	sb_grow(b, 1);
	b->s[b->len++] = c;
	b->s[b->len] = '\0';
}

void
sb_printf(struct sb *b, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	sb_grow(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void
sb_indent(struct sb *b, int depth)
{
	int	i;

	sb_addc(b, '\n');
	for (i = 0; i < depth; i++)
		sb_add(b, "  ", 2);
}

void
sb_free(struct sb *b)
{
	free(b->s);
	b->s = NULL;
	b->len = b->cap = 0;
}

/* Length of the valid UTF-8 sequence at s (max n bytes), or 0. */
static size_t
utf8_len(const unsigned char *s, size_t n, unsigned int *cp)
{
	unsigned int	c = s[0], v;
	size_t		len, i;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		v = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		v = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		v = c & 0x07;
	} else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		v = v << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && (v < 0x800 || (v >= 0xd800 && v <= 0xdfff))) ||
	    (len == 4 && (v < 0x10000 || v > 0x10ffff)))
		return 0;
	*cp = v;
	return len;
}

/* A JSON string as Go's encoder writes it (HTML-safe escaping). */
void
sb_gostr(struct sb *b, const char *s, size_t n)
{
	static const char	 hex[] = "0123456789abcdef";
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i = 0, start = 0, l;
	unsigned int		 cp;
	char			 esc[8];

	sb_grow(b, n + 2);
	sb_addc(b, '"');
	while (i < n) {
		unsigned char c = p[i];

		if (c >= 0x20 && c != '"' && c != '\\' && c != '<' &&
		    c != '>' && c != '&' && c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0x80) {
			l = utf8_len(p + i, n - i, &cp);
			if (l != 0 && cp != 0x2028 && cp != 0x2029) {
				i += l;
				continue;
			}
			sb_add(b, s + start, i - start);
			if (l == 0) {
				sb_adds(b, "\\ufffd");
				i++;
			} else {
				sb_adds(b, cp == 0x2028 ? "\\u2028" :
				    "\\u2029");
				i += l;
			}
			start = i;
			continue;
		}
		sb_add(b, s + start, i - start);
		switch (c) {
		case '"':
			sb_add(b, "\\\"", 2);
			break;
		case '\\':
			sb_add(b, "\\\\", 2);
			break;
		case '\n':
			sb_add(b, "\\n", 2);
			break;
		case '\r':
			sb_add(b, "\\r", 2);
			break;
		case '\t':
			sb_add(b, "\\t", 2);
			break;
		case '\b':
			sb_add(b, "\\b", 2);
			break;
		case '\f':
			sb_add(b, "\\f", 2);
			break;
		default:
			esc[0] = '\\';
			esc[1] = 'u';
			esc[2] = '0';
			esc[3] = '0';
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 0xf];
			sb_add(b, esc, 6);
			break;
		}
		i++;
		start = i;
	}
	sb_add(b, s + start, n - start);
	sb_addc(b, '"');
}

/* A float64 as Go's encoding/json formats it. */
void
sb_gofloat(struct sb *b, double v)
{
	char	buf[64], *e;
	double	a = fabs(v);
	int	prec;

	if (isnan(v) || isinf(v)) {
		sb_adds(b, "null");
		return;
	}
	if (v == 0) {
		sb_adds(b, signbit(v) ? "-0" : "0");
		return;
	}
	if (a < 1e-6 || a >= 1e21) {
		for (prec = 1; prec <= 17; prec++) {
			snprintf(buf, sizeof(buf), "%.*e", prec - 1, v);
			if (strtod(buf, NULL) == v)
				break;
		}
		/* Go writes e-07 as e-7 and keeps e+21. */
		if ((e = strchr(buf, 'e')) != NULL && (e[1] == '-' ||
		    e[1] == '+') && e[2] == '0' && e[3] != '\0')
			memmove(e + 2, e + 3, strlen(e + 3) + 1);
		sb_adds(b, buf);
		return;
	}
	for (prec = 1; prec <= 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	if (strchr(buf, 'e') != NULL) {
		/* %g chose exponent form; Go wants plain digits here. */
		int	digits;
		char	*dot;

		for (digits = 0; digits <= 20; digits++) {
			snprintf(buf, sizeof(buf), "%.*f", digits, v);
			if (strtod(buf, NULL) == v)
				break;
		}
		if ((dot = strchr(buf, '.')) != NULL) {
			e = buf + strlen(buf) - 1;
			while (e > dot && *e == '0')
				*e-- = '\0';
			if (e == dot)
				*e = '\0';
		}
	}
	sb_adds(b, buf);
}

/*
 * A value as Go's MarshalIndent(v, "", "  ") writes it at depth; depth < 0
 * means compact (json.Marshal).  Numbers went through float64 in Go.
 */
void
sb_gojson(struct sb *b, json_t *v, int depth)
{
	const char	*key;
	json_t		*e;
	size_t		 i, n;
	int		 first;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		if (json_object_size(v) == 0) {
			sb_add(b, "{}", 2);
			break;
		}
		/* Go sorts map keys. */
		{
			const char	**keys;
			size_t		  k = 0;

			n = json_object_size(v);
			keys = calloc(n, sizeof(*keys));
			if (keys == NULL)
				fatal("calloc");
			json_object_foreach(v, key, e)
				keys[k++] = key;
			qsort(keys, k, sizeof(*keys), mc_strptrcmp);
			sb_addc(b, '{');
			for (i = 0; i < k; i++) {
				if (i > 0)
					sb_addc(b, ',');
				if (depth >= 0)
					sb_indent(b, depth + 1);
				sb_gostr(b, keys[i], strlen(keys[i]));
				sb_add(b, depth >= 0 ? ": " : ":",
				    depth >= 0 ? 2 : 1);
				sb_gojson(b, json_object_get(v, keys[i]),
				    depth >= 0 ? depth + 1 : -1);
			}
			if (depth >= 0)
				sb_indent(b, depth);
			sb_addc(b, '}');
			free(keys);
		}
		break;
	case JSON_ARRAY:
		if (json_array_size(v) == 0) {
			sb_add(b, "[]", 2);
			break;
		}
		sb_addc(b, '[');
		first = 1;
		json_array_foreach(v, i, e) {
			if (!first)
				sb_addc(b, ',');
			first = 0;
			if (depth >= 0)
				sb_indent(b, depth + 1);
			sb_gojson(b, e, depth >= 0 ? depth + 1 : -1);
		}
		if (depth >= 0)
			sb_indent(b, depth);
		sb_addc(b, ']');
		break;
	case JSON_STRING:
		sb_gostr(b, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		if (json_integer_value(v) > (1LL << 53) ||
		    json_integer_value(v) < -(1LL << 53))
			sb_gofloat(b, (double)json_integer_value(v));
		else
			sb_printf(b, "%lld", (long long)json_integer_value(v));
		break;
	case JSON_REAL:
		sb_gofloat(b, json_real_value(v));
		break;
	case JSON_TRUE:
		sb_add(b, "true", 4);
		break;
	case JSON_FALSE:
		sb_add(b, "false", 5);
		break;
	default:
		sb_add(b, "null", 4);
		break;
	}
}

int
mc_strptrcmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * Go's encoding/json syntax check, for its error texts: a body that is not
 * JSON gets exactly the message the real server sends.
 */
struct goscan {
	const unsigned char	*s;
	size_t			 n, i;
	char			*err;
	size_t			 errlen;
	int			 failed;
};

static void
goscan_fail(struct goscan *g, const char *ctx)
{
	unsigned char	c;

	if (g->failed)
		return;
	g->failed = 1;
	if (g->i >= g->n) {
		snprintf(g->err, g->errlen, "unexpected end of JSON input");
		return;
	}
	c = g->s[g->i];
	if (c == '\'')
		snprintf(g->err, g->errlen, "invalid character '\\'' %s", ctx);
	else if (c == '"')
		snprintf(g->err, g->errlen, "invalid character '\"' %s", ctx);
	else if (c == '\n')
		snprintf(g->err, g->errlen, "invalid character '\\n' %s", ctx);
	else if (c == '\r')
		snprintf(g->err, g->errlen, "invalid character '\\r' %s", ctx);
	else if (c == '\t')
		snprintf(g->err, g->errlen, "invalid character '\\t' %s", ctx);
	else if (c < 0x20 || c == 0x7f)
		snprintf(g->err, g->errlen, "invalid character '\\x%02x' %s",
		    c, ctx);
	else if (c >= 0x80)
		snprintf(g->err, g->errlen, "invalid character '%c%c' %s",
		    0xc0 | (c >> 6), 0x80 | (c & 0x3f), ctx);
	else
		snprintf(g->err, g->errlen, "invalid character '%c' %s", c,
		    ctx);
}

static void
goscan_ws(struct goscan *g)
{
	while (g->i < g->n && (g->s[g->i] == ' ' || g->s[g->i] == '\t' ||
	    g->s[g->i] == '\n' || g->s[g->i] == '\r'))
		g->i++;
}

static int
goscan_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	    (c >= 'A' && c <= 'F');
}

static void
goscan_string(struct goscan *g)
{
	int	k;

	g->i++;	/* the quote */
	while (g->i < g->n) {
		unsigned char c = g->s[g->i];

		if (c == '"') {
			g->i++;
			return;
		}
		if (c < 0x20) {
			goscan_fail(g, "in string literal");
			return;
		}
		if (c == '\\') {
			g->i++;
			if (g->i >= g->n)
				break;
			c = g->s[g->i];
			if (c == 'u') {
				g->i++;
				for (k = 0; k < 4; k++, g->i++) {
					if (g->i >= g->n)
						break;
					if (!goscan_hex(g->s[g->i])) {
						goscan_fail(g,
						    "in \\u hexadecimal character escape");
						return;
					}
				}
				continue;
			}
			if (strchr("\"\\/bfnrt", c) == NULL || c == '\0') {
				goscan_fail(g, "in string escape code");
				return;
			}
		}
		g->i++;
	}
	goscan_fail(g, "");
}

static int
goscan_digit(struct goscan *g)
{
	return g->i < g->n && g->s[g->i] >= '0' && g->s[g->i] <= '9';
}

static void
goscan_number(struct goscan *g)
{
	if (g->s[g->i] == '-') {
		g->i++;
		if (g->i >= g->n) {
			goscan_fail(g, "");
			return;
		}
		if (!goscan_digit(g)) {
			goscan_fail(g, "in numeric literal");
			return;
		}
	}
	if (g->s[g->i] == '0')
		g->i++;
	else
		while (goscan_digit(g))
			g->i++;
	if (g->i < g->n && g->s[g->i] == '.') {
		g->i++;
		if (g->i >= g->n) {
			goscan_fail(g, "");
			return;
		}
		if (!goscan_digit(g)) {
			goscan_fail(g, "after decimal point in numeric literal");
			return;
		}
		while (goscan_digit(g))
			g->i++;
	}
	if (g->i < g->n && (g->s[g->i] == 'e' || g->s[g->i] == 'E')) {
		g->i++;
		if (g->i < g->n && (g->s[g->i] == '+' || g->s[g->i] == '-'))
			g->i++;
		if (g->i >= g->n) {
			goscan_fail(g, "");
			return;
		}
		if (!goscan_digit(g)) {
			goscan_fail(g, "in exponent of numeric literal");
			return;
		}
		while (goscan_digit(g))
			g->i++;
	}
}

static void
goscan_literal(struct goscan *g, const char *lit)
{
	char	ctx[64];
	size_t	k;

	for (k = 0; lit[k] != '\0'; k++, g->i++) {
		if (g->i >= g->n) {
			goscan_fail(g, "");
			return;
		}
		if (g->s[g->i] != (unsigned char)lit[k]) {
			snprintf(ctx, sizeof(ctx),
			    "in literal %s (expecting '%c')", lit, lit[k]);
			goscan_fail(g, ctx);
			return;
		}
	}
}

static void
goscan_value(struct goscan *g, int depth)
{
	unsigned char	c;

	goscan_ws(g);
	if (g->i >= g->n) {
		goscan_fail(g, "");
		return;
	}
	if (depth > 10000) {
		snprintf(g->err, g->errlen, "exceeded max depth");
		g->failed = 1;
		return;
	}
	c = g->s[g->i];
	if (c == '{') {
		g->i++;
		goscan_ws(g);
		if (g->i < g->n && g->s[g->i] == '}') {
			g->i++;
			return;
		}
		for (;;) {
			goscan_ws(g);
			if (g->i >= g->n || g->s[g->i] != '"') {
				goscan_fail(g,
				    "looking for beginning of object key string");
				return;
			}
			goscan_string(g);
			if (g->failed)
				return;
			goscan_ws(g);
			if (g->i >= g->n || g->s[g->i] != ':') {
				goscan_fail(g, "after object key");
				return;
			}
			g->i++;
			goscan_value(g, depth + 1);
			if (g->failed)
				return;
			goscan_ws(g);
			if (g->i < g->n && g->s[g->i] == ',') {
				g->i++;
				continue;
			}
			if (g->i < g->n && g->s[g->i] == '}') {
				g->i++;
				return;
			}
			goscan_fail(g, "after object key:value pair");
			return;
		}
	}
	if (c == '[') {
		g->i++;
		goscan_ws(g);
		if (g->i < g->n && g->s[g->i] == ']') {
			g->i++;
			return;
		}
		for (;;) {
			goscan_value(g, depth + 1);
			if (g->failed)
				return;
			goscan_ws(g);
			if (g->i < g->n && g->s[g->i] == ',') {
				g->i++;
				continue;
			}
			if (g->i < g->n && g->s[g->i] == ']') {
				g->i++;
				return;
			}
			goscan_fail(g, "after array element");
			return;
		}
	}
	if (c == '"') {
		goscan_string(g);
		return;
	}
	if (c == '-' || (c >= '0' && c <= '9')) {
		goscan_number(g);
		return;
	}
	if (c == 't') {
		goscan_literal(g, "true");
		return;
	}
	if (c == 'f') {
		goscan_literal(g, "false");
		return;
	}
	if (c == 'n') {
		goscan_literal(g, "null");
		return;
	}
	goscan_fail(g, "looking for beginning of value");
}

/* 0 if s is one JSON value as Go sees it, else -1 with Go's error text. */
int
mc_go_syntax(const char *s, size_t n, char *err, size_t errlen)
{
	struct goscan	g;

	memset(&g, 0, sizeof(g));
	g.s = (const unsigned char *)s;
	g.n = n;
	g.err = err;
	g.errlen = errlen;
	goscan_value(&g, 0);
	if (!g.failed) {
		goscan_ws(&g);
		if (g.i < g.n)
			goscan_fail(&g, "after top-level value");
	}
	return g.failed ? -1 : 0;
}
