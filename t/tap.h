/* t/tap.h: the TAP helpers of the C test programs. */
#ifndef TAP_H
#define TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int	tap_n, tap_failed;

static inline int ok(int, const char *, ...)
    __attribute__((__format__(__printf__, 2, 3)));

static inline int
ok(int cond, const char *fmt, ...)
{
	va_list	ap;

	tap_n++;
	printf("%s %d - ", cond ? "ok" : "not ok", tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!cond)
		tap_failed++;
	return cond;
}

static inline int
is_str(const char *got, const char *want, const char *what)
{
	if (ok(got != NULL && want != NULL && strcmp(got, want) == 0, "%s",
	    what))
		return 1;
	printf("#   got:      '%s'\n#   expected: '%s'\n",
	    got ? got : "(null)", want ? want : "(null)");
	return 0;
}

/* Print the plan; the exit status is non-zero when a test failed. */
static inline int
tap_done(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed != 0;
}

#endif
