/*
 * t/fuzz/driver.c: runs a libFuzzer target without libFuzzer, for the
 * ordinary build (any compiler): each argument is an input file or a
 * directory of them (read in name order), each input is passed once to
 * LLVMFuzzerTestOneInput(), and a target's check aborts as under the
 * fuzzer.  t/85-fuzz-corpus.t replays the seed corpora this way.
 *
 *	fuzz-NAME [FILE|DIR ...]
 */
#include <sys/stat.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

/* Defined by the targets that need it. */
int	LLVMFuzzerInitialize(int *, char ***) __attribute__((__weak__));

static unsigned long	driver_runs;

static int
driver_file(const char *path)
{
	FILE	*f;
	char	*buf;
	long	 n;

	if ((f = fopen(path, "rb")) == NULL || fseek(f, 0, SEEK_END) == -1 ||
	    (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) == -1) {
		perror(path);
		if (f != NULL)
			fclose(f);
		return -1;
	}
	/* One byte more: a zero-length malloc may be NULL. */
	if ((buf = malloc((size_t)n + 1)) == NULL ||
	    fread(buf, 1, (size_t)n, f) != (size_t)n) {
		perror(path);
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	LLVMFuzzerTestOneInput((const uint8_t *)buf, (size_t)n);
	free(buf);
	driver_runs++;
	return 0;
}

static int
driver_path(const char *path)
{
	struct dirent	**names;
	struct stat	  st;
	char		  sub[4096];
	int		  i, n, rc = 0;

	if (stat(path, &st) == -1) {
		perror(path);
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return driver_file(path);
	if ((n = scandir(path, &names, NULL, alphasort)) == -1) {
		perror(path);
		return -1;
	}
	for (i = 0; i < n; i++) {
		snprintf(sub, sizeof(sub), "%s/%s", path, names[i]->d_name);
		if (names[i]->d_name[0] != '.' && stat(sub, &st) == 0 &&
		    S_ISREG(st.st_mode) && driver_file(sub) == -1)
			rc = -1;
		free(names[i]);
	}
	free(names);
	return rc;
}

int
main(int argc, char **argv)
{
	int	i, rc = 0;

	if (LLVMFuzzerInitialize != NULL)
		LLVMFuzzerInitialize(&argc, &argv);
	for (i = 1; i < argc; i++)
		if (driver_path(argv[i]) == -1)
			rc = 1;
	printf("%s: %lu inputs\n", argv[0], driver_runs);
	return rc;
}
