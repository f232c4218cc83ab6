/*
 * notify.c: the service manager's readiness protocol (sd_notify(3)) in a
 * few lines, without libsystemd: one datagram per message to the Unix
 * socket named by $NOTIFY_SOCKET (a path, or an abstract name after '@').
 * Without $NOTIFY_SOCKET every call does nothing.  The variables are read
 * once and removed from the environment, so that no bee inherits them.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "financebeed.h"

static int			notify_fd = -1;
static struct sockaddr_un	notify_sun;
static socklen_t		notify_len;
static uint64_t			notify_wd_usec;

int
notify_init(char *cause, size_t causelen)
{
	const char	*path, *s;
	char		*end;
	size_t		 len;
	unsigned long long v;

	if ((s = getenv("WATCHDOG_USEC")) != NULL) {
		errno = 0;
		v = strtoull(s, &end, 10);
		/* WATCHDOG_PID, when set, names the process meant. */
		if (errno == 0 && *s != '\0' && *end == '\0' && v > 0 &&
		    ((s = getenv("WATCHDOG_PID")) == NULL ||
		    strtol(s, NULL, 10) == (long)getpid()))
			notify_wd_usec = v;
	}
	(void)unsetenv("WATCHDOG_USEC");
	(void)unsetenv("WATCHDOG_PID");
	if ((path = getenv("NOTIFY_SOCKET")) == NULL || *path == '\0') {
		(void)unsetenv("NOTIFY_SOCKET");
		return 0;
	}
	len = strlen(path);
	if ((path[0] != '/' && path[0] != '@') ||
	    len >= sizeof(notify_sun.sun_path)) {
		snprintf(cause, causelen, "NOTIFY_SOCKET: not a socket path "
		    "or abstract name: %.64s", path);
		(void)unsetenv("NOTIFY_SOCKET");
		return -1;
	}
	memset(&notify_sun, 0, sizeof(notify_sun));
	notify_sun.sun_family = AF_UNIX;
	memcpy(notify_sun.sun_path, path, len);
	if (path[0] == '@')
		notify_sun.sun_path[0] = '\0';
	notify_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	(void)unsetenv("NOTIFY_SOCKET");
	if ((notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1) {
		snprintf(cause, causelen, "NOTIFY_SOCKET: socket: %s",
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* Microseconds between WATCHDOG=1 pings the manager expects; 0 = none. */
uint64_t
notify_watchdog_usec(void)
{
	return notify_fd == -1 ? 0 : notify_wd_usec;
}

/* Send "KEY=value\n..." lines; errors are not the daemon's concern. */
void
notify_send(const char *fmt, ...)
{
	char	buf[512];
	va_list	ap;
	int	n;

	if (notify_fd == -1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	while (sendto(notify_fd, buf, (size_t)n, MSG_NOSIGNAL,
	    (struct sockaddr *)&notify_sun, notify_len) == -1 &&
	    errno == EINTR)
		;
}

void
notify_close(void)
{
	if (notify_fd != -1)
		close(notify_fd);
	notify_fd = -1;
}
