/*
 * net.c: name lookups with a deadline.  getaddrinfo() waits as long as the
 * resolver does (timeout x attempts x nameservers: 30 s and more), so the
 * database connection (store.c) sends its host name to getaddrinfo_a(),
 * whose helper thread is waited for until the caller's deadline.  An
 * address literal takes the plain path, with no thread.  (The ColonyOS
 * client has libcurl's threaded resolver, bounded by its connect timeout.)
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "financebeed.h"

#define NET_SLICE_MS	1000	/* abort checks while waiting */

/*
 * A lookup in flight.  One given up on may still be running and writing
 * here: the block is then left to it (a few hundred bytes per abandoned
 * lookup).
 */
struct net_lookup {
	struct gaicb	 cb;
	struct addrinfo	 hints;
	char		 host[256];
	char		 port[16];
};

int
net_resolve(const char *host, const char *port, int64_t deadline,
    long budget_ms, int (*abort_cb)(void *), void *abort_arg,
    struct addrinfo **res, char *cause, size_t causelen)
{
	struct net_lookup	*l;
	struct gaicb		*list[1];
	struct addrinfo		 hints;
	struct timespec		 ts;
	int64_t			 left;
	int			 r;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | AI_NUMERICHOST;
	if ((r = getaddrinfo(host, port, &hints, res)) == 0)
		return 0;
	if (r != EAI_NONAME) {
		snprintf(cause, causelen, "resolve %s: %s", host,
		    r == EAI_SYSTEM ? strerror(errno) : gai_strerror(r));
		return -1;
	}

	if (strlen(host) >= sizeof(l->host) || strlen(port) >= sizeof(l->port)) {
		snprintf(cause, causelen, "resolve: host name too long");
		return -1;
	}
	if ((l = calloc(1, sizeof(*l))) == NULL) {
		snprintf(cause, causelen, "resolve %s: out of memory", host);
		return -1;
	}
	snprintf(l->host, sizeof(l->host), "%s", host);
	snprintf(l->port, sizeof(l->port), "%s", port);
	l->hints = hints;
	l->hints.ai_flags = AI_NUMERICSERV;
	l->cb.ar_name = l->host;
	l->cb.ar_service = l->port;
	l->cb.ar_request = &l->hints;
	list[0] = &l->cb;
	if ((r = getaddrinfo_a(GAI_NOWAIT, list, 1, NULL)) != 0) {
		free(l);
		snprintf(cause, causelen, "resolve %s: %s", host,
		    r == EAI_SYSTEM ? strerror(errno) : gai_strerror(r));
		return -1;
	}
	while ((r = gai_error(&l->cb)) == EAI_INPROGRESS) {
		if (abort_cb != NULL && abort_cb(abort_arg)) {
			snprintf(cause, causelen, "request aborted");
			break;
		}
		if ((left = deadline - clock_now_ms()) <= 0) {
			snprintf(cause, causelen, "resolve %s: no answer within "
			    "%ld ms", host, budget_ms);
			break;
		}
		if (left > NET_SLICE_MS)
			left = NET_SLICE_MS;
		ts.tv_sec = left / 1000;
		ts.tv_nsec = (left % 1000) * 1000000;
		(void)gai_suspend((const struct gaicb *const *)list, 1, &ts);
	}
	if (r == EAI_INPROGRESS) {
		/* Freed unless the helper is still at work on it. */
		switch (gai_cancel(&l->cb)) {
		case EAI_CANCELED:
			free(l);
			break;
		case EAI_ALLDONE:
			if (gai_error(&l->cb) == 0)
				freeaddrinfo(l->cb.ar_result);
			free(l);
			break;
		}
		return -1;
	}
	if (r != 0) {
		snprintf(cause, causelen, "resolve %s: %s", host,
		    r == EAI_SYSTEM ? strerror(errno) : gai_strerror(r));
		free(l);
		return -1;
	}
	*res = l->cb.ar_result;
	free(l);
	return 0;
}
