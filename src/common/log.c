/*
 * log.c: one logger for every process.  Each line is formatted whole and
 * written with a single write(2), so lines from the master and its bees
 * never interleave on a shared stderr or file.  Every line names its
 * process ("bee[3]").  errno is preserved across every call.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

static char		 log_proc[64] = FB_NAME;
static enum log_level	 log_lvl = LOG_LEVEL_INFO;
static int		 log_fd = STDERR_FILENO;
static int		 log_syslog;
static char		*log_path;
static int		 log_mirror;	/* warnings to stderr as well */

static const char *const log_names[] = { "error", "warn", "info", "debug" };

int
log_level_parse(const char *s, enum log_level *lvl)
{
	size_t	i;

	for (i = 0; i < sizeof(log_names) / sizeof(log_names[0]); i++) {
		if (strcmp(s, log_names[i]) == 0) {
			*lvl = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

static int
log_open_file(const char *path, char *cause, size_t causelen)
{
	int	fd;

	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd == -1) {
		snprintf(cause, causelen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (log_fd != STDERR_FILENO && log_fd != -1)
		close(log_fd);
	log_fd = fd;
	return 0;
}

int
log_init(const char *procname, enum log_level lvl, const char *target,
    char *cause, size_t causelen)
{
	if (procname != NULL)
		snprintf(log_proc, sizeof(log_proc), "%s", procname);
	log_lvl = lvl;
	if (target == NULL || strcmp(target, "stderr") == 0) {
		if (log_fd != STDERR_FILENO && log_fd != -1)
			close(log_fd);
		log_fd = STDERR_FILENO;
		log_syslog = 0;
		free(log_path);
		log_path = NULL;
		return 0;
	}
	if (strcmp(target, "syslog") == 0) {
		openlog(FB_NAME, LOG_PID | LOG_NDELAY, LOG_DAEMON);
		log_syslog = 1;
		return 0;
	}
	if (target[0] != '/') {
		snprintf(cause, causelen, "log target must be stderr, syslog "
		    "or an absolute path");
		return -1;
	}
	if (log_open_file(target, cause, causelen) == -1)
		return -1;
	log_syslog = 0;
	free(log_path);
	if ((log_path = strdup(target)) == NULL) {
		snprintf(cause, causelen, "out of memory");
		return -1;
	}
	return 0;
}

void
log_procname(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(log_proc, sizeof(log_proc), fmt, ap);
	va_end(ap);
}

/*
 * While on, warnings and errors logged to syslog or a file are written to
 * stderr too: the master's start-up, until its pool is up.
 */
void
log_stderr_mirror(int on)
{
	log_mirror = on;
}

void
log_setlevel(enum log_level lvl)
{
	log_lvl = lvl;
}

int
log_reopen(void)
{
	char	cause[FB_CAUSE_MAX];

	if (log_path == NULL)
		return 0;
	if (log_open_file(log_path, cause, sizeof(cause)) == -1) {
		log_warnx("reopen log: %s", cause);
		return -1;
	}
	return 0;
}

static void
log_emit(enum log_level lvl, const char *err, const char *fmt, va_list ap)
{
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	char		 line[2048], ts[32];
	struct timespec	 now;
	struct tm	 tm;
	int		 saved = errno, n, m;

	if (lvl > log_lvl)
		return;
	n = vsnprintf(line, sizeof(line), fmt, ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	if (err != NULL) {
		m = snprintf(line + n, sizeof(line) - n, ": %s", err);
		if (m > 0)
			n = (size_t)(n + m) >= sizeof(line) ?
			    (int)sizeof(line) - 1 : n + m;
	}
	/* Start-up: a fatal error must reach whoever started the daemon. */
	if (log_mirror && lvl <= LOG_LEVEL_WARN &&
	    (log_syslog || log_fd != STDERR_FILENO)) {
		char	out[2200];
		int	len;

		len = snprintf(out, sizeof(out), "%s: %s: %s\n", FB_NAME,
		    log_proc, line);
		if (len > 0)
			(void)!write(STDERR_FILENO, out, (size_t)len >=
			    sizeof(out) ? sizeof(out) - 1 : (size_t)len);
	}
	if (log_syslog) {
		syslog(prio[lvl], "%s: %s", log_proc, line);
		errno = saved;
		return;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	{
		char	out[2200];
		int	len;

		len = snprintf(out, sizeof(out), "%s.%03ldZ %s %s: %s\n", ts,
		    now.tv_nsec / 1000000, log_proc, log_names[lvl], line);
		if (len < 0)
			len = 0;
		if ((size_t)len >= sizeof(out))
			len = sizeof(out) - 1;
		(void)!write(log_fd, out, len);
	}
	errno = saved;
}

#define LOG_FN(name, lvl, witherr)				\
void								\
name(const char *fmt, ...)					\
{								\
	va_list	ap;						\
	int	e = errno;					\
								\
	va_start(ap, fmt);					\
	log_emit(lvl, witherr ? strerror(e) : NULL, fmt, ap);	\
	va_end(ap);						\
	errno = e;						\
}

LOG_FN(log_warn, LOG_LEVEL_WARN, 1)
LOG_FN(log_warnx, LOG_LEVEL_WARN, 0)
LOG_FN(log_info, LOG_LEVEL_INFO, 0)
LOG_FN(log_debug, LOG_LEVEL_DEBUG, 0)

void
fatal(const char *fmt, ...)
{
	va_list	ap;
	int	e = errno;

	va_start(ap, fmt);
	log_emit(LOG_LEVEL_ERROR, strerror(e), fmt, ap);
	va_end(ap);
	exit(FB_EX_SOFTWARE);
}

void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_emit(LOG_LEVEL_ERROR, NULL, fmt, ap);
	va_end(ap);
	exit(FB_EX_SOFTWARE);
}
