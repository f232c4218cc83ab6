/* t/fixtures.h: the shared Stripe event fixtures, read into memory. */
#ifndef FIXTURES_H
#define FIXTURES_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Every *.json of $FB_FIXTURES/stripe-events (default
 * t/data), NUL-terminated, at most max of them; the count.
 */
static int
fixtures_load(char **texts, size_t *lens, int max)
{
	const char	*dir = getenv("FB_FIXTURES");
	char		 path[1024];
	struct dirent	*de;
	DIR		*d;
	FILE		*f;
	long		 n;
	int		 ntexts = 0;

	if (dir == NULL)
		dir = "t/data";
	snprintf(path, sizeof path, "%s/stripe-events", dir);
	if ((d = opendir(path)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL && ntexts < max) {
		if (strstr(de->d_name, ".json") == NULL)
			continue;
		snprintf(path, sizeof path, "%s/stripe-events/%s", dir,
		    de->d_name);
		if ((f = fopen(path, "rb")) == NULL)
			continue;
		fseek(f, 0, SEEK_END);
		n = ftell(f);
		rewind(f);
		texts[ntexts] = malloc((size_t)n + 1);
		if (fread(texts[ntexts], 1, (size_t)n, f) == (size_t)n) {
			texts[ntexts][n] = '\0';
			lens[ntexts++] = (size_t)n;
		} else
			free(texts[ntexts]);
		fclose(f);
	}
	closedir(d);
	return ntexts;
}

#endif
