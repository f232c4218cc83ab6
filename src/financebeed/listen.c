/*
 * listen.c: the intake's listening sockets.  An address is "host:port"
 * (IPv4 or a name), "[v6]:port", "*:port" (every address) or the absolute
 * path of a Unix socket.  The master opens them once and every intake
 * process inherits them (one accept queue, which outlives any one intake
 * process); an intake process started alone opens its own with
 * SO_REUSEPORT, so that several can share a port.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "financebeed.h"

#define LISTEN_BACKLOG	1024

int
listen_parse(const char *s, struct listen_addr *a, char *cause,
    size_t causelen)
{
	struct listen_addr	 tmp;
	const char		*colon, *p;
	char			*end;
	size_t			 hl;
	long			 port;

	if (a == NULL)
		a = &tmp;
	memset(a, 0, sizeof(*a));
	if (s[0] == '/') {
		if (strlen(s) >= sizeof(a->path)) {
			snprintf(cause, causelen, "%s: longer than %zu bytes",
			    s, sizeof(a->path) - 1);
			return -1;
		}
		a->family = AF_UNIX;
		snprintf(a->path, sizeof(a->path), "%s", s);
		return 0;
	}
	if (s[0] == '[') {
		if ((p = strchr(s, ']')) == NULL || p[1] != ':') {
			snprintf(cause, causelen, "%s: not [address]:port", s);
			return -1;
		}
		a->family = AF_INET6;
		hl = (size_t)(p - s - 1);
		s++;
		colon = p + 1;
	} else {
		if ((colon = strrchr(s, ':')) == NULL ||
		    memchr(s, ':', (size_t)(colon - s)) != NULL) {
			snprintf(cause, causelen, "%s: not host:port, "
			    "[address]:port or /path", s);
			return -1;
		}
		a->family = AF_UNSPEC;
		hl = (size_t)(colon - s);
	}
	if (hl == 0 || hl >= sizeof(a->host)) {
		snprintf(cause, causelen, "%.*s: bad host", (int)hl, s);
		return -1;
	}
	memcpy(a->host, s, hl);
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno != 0 || colon[1] == '\0' || *end != '\0' || port < 1 ||
	    port > 65535) {
		snprintf(cause, causelen, "%s: bad port", colon + 1);
		return -1;
	}
	snprintf(a->port, sizeof(a->port), "%ld", port);
	return 0;
}

static int
listen_socket(int family, int type, char *cause, size_t causelen)
{
	int	fd;

	if ((fd = socket(family, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) ==
	    -1)
		snprintf(cause, causelen, "socket: %s", strerror(errno));
	return fd;
}

static int
listen_unix(const struct listen_addr *a, char *cause, size_t causelen)
{
	struct sockaddr_un	sun;
	struct stat		st;
	int			fd;

	/* A socket left by a dead instance is removed; anything else is not. */
	if (lstat(a->path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(cause, causelen, "%s: exists and is not a "
			    "socket", a->path);
			return -1;
		}
		(void)unlink(a->path);
	}
	if ((fd = listen_socket(AF_UNIX, SOCK_STREAM, cause, causelen)) == -1)
		return -1;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", a->path);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    chmod(a->path, 0666) == -1 || listen(fd, LISTEN_BACKLOG) == -1) {
		snprintf(cause, causelen, "%s: %s", a->path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int
listen_open(char *const *addrs, size_t naddrs, int reuseport, int *fds,
    size_t maxfds, size_t *nfds, char *cause, size_t causelen)
{
	struct listen_addr	 a;
	struct addrinfo		 hints, *res, *ai;
	size_t			 i;
	int			 fd, on = 1, rc;

	*nfds = 0;
	for (i = 0; i < naddrs; i++) {
		if (listen_parse(addrs[i], &a, cause, causelen) == -1)
			goto fail;
		if (a.family == AF_UNIX) {
			if (*nfds == maxfds)
				goto toomany;
			if ((fd = listen_unix(&a, cause, causelen)) == -1)
				goto fail;
			fds[(*nfds)++] = fd;
			continue;
		}
		memset(&hints, 0, sizeof(hints));
		hints.ai_family = a.family;
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
		if ((rc = getaddrinfo(strcmp(a.host, "*") == 0 ? NULL : a.host,
		    a.port, &hints, &res)) != 0) {
			snprintf(cause, causelen, "%s: %s", addrs[i],
			    gai_strerror(rc));
			goto fail;
		}
		for (ai = res; ai != NULL; ai = ai->ai_next) {
			if (*nfds == maxfds) {
				freeaddrinfo(res);
				goto toomany;
			}
			if ((fd = listen_socket(ai->ai_family, SOCK_STREAM,
			    cause, causelen)) == -1) {
				freeaddrinfo(res);
				goto fail;
			}
			(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on,
			    sizeof(on));
			if (reuseport)
				(void)setsockopt(fd, SOL_SOCKET, SO_REUSEPORT,
				    &on, sizeof(on));
			if (ai->ai_family == AF_INET6)
				(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY,
				    &on, sizeof(on));
			if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1 ||
			    listen(fd, LISTEN_BACKLOG) == -1) {
				snprintf(cause, causelen, "%s: %s", addrs[i],
				    strerror(errno));
				close(fd);
				freeaddrinfo(res);
				goto fail;
			}
			fds[(*nfds)++] = fd;
		}
		freeaddrinfo(res);
	}
	return 0;

toomany:
	snprintf(cause, causelen, "more than %zu listening sockets", maxfds);
fail:
	while (*nfds > 0)
		close(fds[--(*nfds)]);
	return -1;
}
