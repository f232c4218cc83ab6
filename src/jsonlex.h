/*
 * jsonlex.h: the lexer shared by the two strict fast JSON parsers
 * (colonies.c's fastj, which builds jansson values, and fbj.c, which
 * builds a read-only tree).  Both give up, and let jansson decide, on
 * anything these helpers refuse: a byte outside printable ASCII in a
 * string, \u0000 or a surrogate escape, a real, an integer beyond int64.
 */
#ifndef JSONLEX_H
#define JSONLEX_H

#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "financebee.h"

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

static inline const char *
jlex_ws(const char *p, const char *end)
{
	while (p < end && jlex_isws[(unsigned char)*p])
		p++;
	return p;
}

/*
 * Eight bytes at a time: non-zero when any of them is not plain (below
 * 0x20, 0x7f and above, the quote, the backslash).  Exact about "any",
 * which is all that is asked; the byte loop then finds which.
 */
#define JLEX_ONES	UINT64_C(0x0101010101010101)
#define JLEX_HIGHS	UINT64_C(0x8080808080808080)
#define JLEX_ZERO(v)	(((v) - JLEX_ONES) & ~(v) & JLEX_HIGHS)

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
		while (end - p >= 8) {
			memcpy(&x, p, 8);
			if (jlex_unplain8(x) != 0)
				break;
			memcpy(o, p, 8);
			o += 8;
			p += 8;
		}
		while (p < end && jlex_isplain[(unsigned char)*p])
			*o++ = *p++;
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
				if ((h = crypto_hexval((unsigned char)p[i])) == -1)
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

#endif /* JSONLEX_H */
