/*
 * t/hostile.c: the payload column of t/data/hostile.tsv (see the top of that
 * file) turned into bytes; shared by the guardian table test and its
 * end-to-end replay against the database.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostile.h"

char *
hostile_readfile(const char *path, size_t *len)
{
	FILE	*f;
	char	*buf = NULL;
	long	 n;

	if ((f = fopen(path, "rb")) == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0 && (buf = malloc(n + 1)) != NULL) {
		if (fread(buf, 1, n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		} else {
			buf[n] = '\0';
			*len = n;
		}
	}
	fclose(f);
	return buf;
}

/* \n \t \\ \xHH (\x00 makes a NUL byte). */
static char *
unescape(const char *s, size_t *len)
{
	char	*out, *o;
	unsigned int c;

	o = out = malloc(strlen(s) + 1);
	while (*s != '\0') {
		if (s[0] == '\\' && s[1] == 'n') {
			*o++ = '\n';
			s += 2;
		} else if (s[0] == '\\' && s[1] == 't') {
			*o++ = '\t';
			s += 2;
		} else if (s[0] == '\\' && s[1] == '\\') {
			*o++ = '\\';
			s += 2;
		} else if (s[0] == '\\' && s[1] == 'x' &&
		    sscanf(s + 2, "%2x", &c) == 1) {
			*o++ = (char)c;
			s += 4;
		} else
			*o++ = *s++;
	}
	*o = '\0';
	*len = o - out;
	return out;
}

static char *
repeat(const char *head, const char *unit, size_t n, const char *mid,
    const char *unit2, size_t n2, const char *tail, size_t *len)
{
	size_t	 hl = strlen(head), ul = strlen(unit), ml = strlen(mid);
	size_t	 u2 = strlen(unit2), tl = strlen(tail), i, o = 0;
	char	*b;

	*len = hl + ul * n + ml + u2 * n2 + tl;
	b = malloc(*len + 1);
	memcpy(b + o, head, hl);
	o += hl;
	for (i = 0; i < n; i++, o += ul)
		memcpy(b + o, unit, ul);
	memcpy(b + o, mid, ml);
	o += ml;
	for (i = 0; i < n2; i++, o += u2)
		memcpy(b + o, unit2, u2);
	memcpy(b + o, tail, tl);
	b[*len] = '\0';
	return b;
}

/* payload column -> bytes (malloc'd). */
char *
hostile_payload(const char *spec, const char *fixdir, const char *datadir,
    size_t *len)
{
	char		 path[8192];
	unsigned long	 n;

	if (strncmp(spec, "fixture:", 8) == 0) {
		snprintf(path, sizeof path, "%s/%s", fixdir, spec + 8);
		return hostile_readfile(path, len);
	}
	if (strncmp(spec, "data:", 5) == 0) {
		snprintf(path, sizeof path, "%s/%s", datadir, spec + 5);
		return hostile_readfile(path, len);
	}
	if (strncmp(spec, "inline:", 7) == 0)
		return unescape(spec + 7, len);
	if (sscanf(spec, "gen:deep:%lu", &n) == 1)
		return repeat("", "[", n, "", "]", n, "", len);
	if (sscanf(spec, "gen:deepobj:%lu", &n) == 1)
		return repeat("", "{\"a\":", n, "1", "}", n, "", len);
	if (sscanf(spec, "gen:deepstr:%lu", &n) == 1)	/* brackets in a string */
		return repeat("{\"id\":\"evt_deepstr\",\"object\":\"event\","
		    "\"type\":\"coupon.created\",\"created\":1764000000,"
		    "\"livemode\":false,\"data\":{\"object\":{\"note\":\"", "[{",
		    n, "", "", 0, "\"}}}", len);
	if (sscanf(spec, "gen:big:%lu", &n) == 1)
		return repeat("{\"id\":\"evt_big\",\"object\":\"event\","
		    "\"type\":\"coupon.created\",\"created\":1764000000,"
		    "\"livemode\":false,\"data\":{\"object\":{\"pad\":\"", "x", n,
		    "", "", 0, "\"}}}", len);
	if (sscanf(spec, "gen:manykeys:%lu", &n) == 1)
		return repeat("{\"id\":\"evt_keys\",\"object\":\"event\","
		    "\"type\":\"coupon.created\",\"created\":1764000000,"
		    "\"livemode\":false,\"data\":{\"object\":{\"k\":[", "1,", n,
		    "1", "", 0, "]}}}", len);
	return NULL;
}
