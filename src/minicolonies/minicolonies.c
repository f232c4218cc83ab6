/*
 * minicolonies.c: a small, protocol-faithful ColonyOS server for tests,
 * the demo and benchmarks.  One process, one libevent loop, all state in
 * memory.  It answers the RPC envelope as the real server (colonyos/
 * colonies) does, including its error texts, the order of its checks and
 * its quirks (see shared/colonies-protocol.md); where the two differ, the
 * real server is right and this program is wrong.
 *
 * This file: options, the listener, the timers and the loop.  The tour
 * of the other files is at the top of minicolonies.h.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/http.h>

#include "colonies.h"
#include "minicolonies.h"

struct event_base	*mc_base;
char			 mc_server_id[CRYPTO_ID_HEXLEN + 1];
char			 mc_listen_host[256];
int			 mc_listen_port;
int			 mc_verbose;
int			 mc_allow_reregister;
long			 mc_stale_s = 600;
long			 mc_cleanup_s = 60;
static struct evhttp	*mc_http;

static void
mc_signal_cb(evutil_socket_t sig, short ev, void *arg)
{
	log_info("signal %d: exiting", (int)sig);
	event_base_loopbreak(mc_base);
}

/* --- main ---------------------------------------------------------------- */

static int
mc_read_keyfile(const char *path, struct crypto_key *key, char *cause,
    size_t causelen)
{
	FILE	*f;
	char	 buf[256];
	size_t	 n;

	if ((f = fopen(path, "r")) == NULL) {
		snprintf(cause, causelen, "%s: %s", path, strerror(errno));
		return -1;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	while (n > 0 && isspace((unsigned char)buf[n - 1]))
		buf[--n] = '\0';
	if (crypto_key_parse(key, buf, n, cause, causelen) == -1) {
		explicit_bzero(buf, sizeof(buf));
		return -1;
	}
	explicit_bzero(buf, sizeof(buf));
	return 0;
}

static void
mc_serve_usage(void)
{
	fprintf(stderr, "usage: minicolonies serve [--listen HOST:PORT] "
	    "[--port-file FILE] --server-key-file FILE\n"
	    "\t[--stale-executor-duration S] [--cleanup-interval S] "
	    "[--allow-executor-reregister] [-v]\n");
}

int
mc_serve_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "port-file", required_argument, NULL, 'p' },
		{ "server-key-file", required_argument, NULL, 'k' },
		{ "server-id", required_argument, NULL, 'I' },
		{ "stale-executor-duration", required_argument, NULL, 's' },
		{ "cleanup-interval", required_argument, NULL, 'c' },
		{ "allow-executor-reregister", no_argument, NULL, 'r' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char		*listen = "127.0.0.1:50080", *portfile = NULL;
	const char		*keyfile = NULL, *serverid = NULL;
	char			 host[256], cause[FB_CAUSE_MAX], *colon, *end;
	struct crypto_key	 key;
	struct evhttp_bound_socket *bs;
	struct sockaddr_storage	 ss;
	socklen_t		 sslen = sizeof(ss);
	struct event		*ev_exp, *ev_clean, *ev_term, *ev_int;
	struct timeval		 tv;
	unsigned long		 port;
	int			 ch, bound;
	FILE			*f;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (ch) {
		case 'l':
			listen = optarg;
			break;
		case 'p':
			portfile = optarg;
			break;
		case 'k':
			keyfile = optarg;
			break;
		case 'I':
			serverid = optarg;
			break;
		case 's':
			mc_stale_s = strtol(optarg, &end, 10);
			if (*end != '\0' || mc_stale_s < 1) {
				mc_serve_usage();
				return FB_EX_USAGE;
			}
			break;
		case 'c':
			mc_cleanup_s = strtol(optarg, &end, 10);
			if (*end != '\0' || mc_cleanup_s < 1) {
				mc_serve_usage();
				return FB_EX_USAGE;
			}
			break;
		case 'r':
			mc_allow_reregister = 1;
			break;
		case 'v':
			mc_verbose = 1;
			break;
		default:
			mc_serve_usage();
			return ch == 'h' ? 0 : FB_EX_USAGE;
		}
	}
	if (log_init("minicolonies", mc_verbose ? LOG_LEVEL_DEBUG :
	    LOG_LEVEL_INFO, "stderr", cause, sizeof(cause)) == -1)
		fatalx("%s", cause);
	if (crypto_init() == -1)
		fatalx("crypto_init failed");
	if (keyfile != NULL) {
		if (mc_read_keyfile(keyfile, &key, cause, sizeof(cause)) == -1)
			fatalx("server key: %s", cause);
		memcpy(mc_server_id, key.id, sizeof(mc_server_id));
		crypto_key_clear(&key);
	} else if (serverid != NULL && strlen(serverid) == CRYPTO_ID_HEXLEN)
		snprintf(mc_server_id, sizeof(mc_server_id), "%s", serverid);
	else {
		mc_serve_usage();
		return FB_EX_USAGE;
	}

	snprintf(host, sizeof(host), "%s", listen);
	if ((colon = strrchr(host, ':')) == NULL) {
		mc_serve_usage();
		return FB_EX_USAGE;
	}
	*colon = '\0';
	port = strtoul(colon + 1, &end, 10);
	if (*end != '\0' || port > 65535) {
		mc_serve_usage();
		return FB_EX_USAGE;
	}
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}

	signal(SIGPIPE, SIG_IGN);
	{
		struct event_config	*cfg;

		/*
		 * Single-threaded; and coalesce epoll_ctl calls: syscalls are
		 * most of the cost of a request here.
		 */
		if ((cfg = event_config_new()) == NULL)
			fatalx("event_config_new");
		event_config_set_flag(cfg, EVENT_BASE_FLAG_NOLOCK);
		event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
		if ((mc_base = event_base_new_with_config(cfg)) == NULL)
			fatalx("event_base_new");
		event_config_free(cfg);
	}
	if ((mc_http = evhttp_new(mc_base)) == NULL)
		fatalx("evhttp_new");
	evhttp_set_max_body_size(mc_http, MC_MAX_BODY);
	evhttp_set_timeout(mc_http, 120);
	/*
	 * Replies without a body (a panic, a handler that writes none)
	 * carry no Content-Type, as from gin; the others set theirs.
	 */
	evhttp_set_default_content_type(mc_http, NULL);
	evhttp_set_allowed_methods(mc_http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	    EVHTTP_REQ_OPTIONS);
	evhttp_set_gencb(mc_http, mc_http_cb, NULL);
	if ((bs = evhttp_bind_socket_with_handle(mc_http, host,
	    (unsigned short)port)) == NULL)
		fatal("bind %s", listen);
	if (getsockname(evhttp_bound_socket_get_fd(bs),
	    (struct sockaddr *)&ss, &sslen) == -1)
		fatal("getsockname");
	bound = ss.ss_family == AF_INET6 ?
	    ntohs(((struct sockaddr_in6 *)&ss)->sin6_port) :
	    ntohs(((struct sockaddr_in *)&ss)->sin_port);
	snprintf(mc_listen_host, sizeof(mc_listen_host), "%s", host);
	mc_listen_port = bound;

	ev_exp = event_new(mc_base, -1, EV_PERSIST, mc_expiry_cb, NULL);
	tv.tv_sec = 1;
	tv.tv_usec = 0;
	event_add(ev_exp, &tv);
	ev_clean = event_new(mc_base, -1, EV_PERSIST, mc_cleanup_cb, NULL);
	tv.tv_sec = mc_cleanup_s;
	event_add(ev_clean, &tv);
	ev_term = evsignal_new(mc_base, SIGTERM, mc_signal_cb, NULL);
	ev_int = evsignal_new(mc_base, SIGINT, mc_signal_cb, NULL);
	event_add(ev_term, NULL);
	event_add(ev_int, NULL);

	log_info("listening on %s:%d (server id %.12s...)", host, bound,
	    mc_server_id);
	if (portfile != NULL) {
		char	tmp[PATH_MAX];

		/* Write then rename: the harness never reads half a port. */
		snprintf(tmp, sizeof(tmp), "%s.tmp", portfile);
		if ((f = fopen(tmp, "w")) == NULL)
			fatal("%s", tmp);
		fprintf(f, "%d\n", bound);
		if (fclose(f) == EOF || rename(tmp, portfile) == -1)
			fatal("%s", portfile);
	}
	event_base_dispatch(mc_base);
	/* Like the real server: no draining, in-flight polls just die. */
	event_free(ev_exp);
	event_free(ev_clean);
	event_free(ev_term);
	event_free(ev_int);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "serve") == 0)
		return mc_serve_main(argc - 1, argv + 1);
	return mc_cli_main(argc, argv);
}
