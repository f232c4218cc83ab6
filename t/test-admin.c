/*
 * test-admin.c: admin.c against a fake master, driven by t/71-admin.t.
 *
 *	test-admin serve -s path [-m mode] [-g group,...] [-r group,...]
 *		serve the admin socket for a fake master until "stop".
 *		FAKE_RELOAD_FAIL=msg makes reloads fail with msg;
 *		FAKE_RELOAD_DELAY_MS delays their outcome (default 100).
 *	test-admin raw path
 *		send stdin, half-close, copy every reply byte to stdout.
 *	test-admin flood path n
 *		hold n idle connections, then print what one more gets.
 *	test-admin hog path n
 *		n pipelined requests from a client that does not read.
 *	test-admin answer path
 *		answer one request with stdin, whatever it holds.
 *	test-admin idle path n secs
 *		open n connections that send nothing, print "connected n",
 *		then after secs (or once all are closed) how the server
 *		ended them: DENIED at once, ERR (full), dropped later, open.
 *	test-admin pipe path n secs cmd
 *		n clients pipelining "cmd" without reading, for secs.
 *	test-admin trickle path
 *		send a request one byte every 300 ms; print when dropped.
 *	FAKE_METRICS_KB=n: the fake master's metrics text is n KiB.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "financebeed.h"

static struct event_base	*base;
static const char		*fake_state = "running";
static unsigned long		 fake_bees = 2;
static unsigned int		 fake_generation = 1;
static unsigned int		 fake_reloads;

json_t *
report_status(void)
{
	json_t		*bees;
	unsigned long	 i;

	bees = json_array();
	for (i = 1; i <= fake_bees; i++)
		json_array_append_new(bees, json_pack("{s:i,s:i,s:i,s:s,"
		    "s:s,s:n,s:{s:i,s:i},s:{s:f,s:f,s:f},s:i,s:i,s:n,s:f}",
		    "slot", (int)i, "pid", 1000 + (int)i,
		    "generation", (int)fake_generation,
		    "executor", "fake-1", "state", "idle", "task",
		    "tasks", "applied", 3, "failed", 1,
		    "latency_ms", "p50", 1.5, "p95", 2.5, "p99", 3.5,
		    "rss_kb", 3000, "restarts", 0, "last_exit",
		    "since", 1764060000.5));
	/* Slot 1 works on a task; the last slot waits out a backoff. */
	if (fake_bees >= 2) {
		json_object_set_new(json_array_get(bees, 0), "state",
		    json_string("working"));
		json_object_set_new(json_array_get(bees, 0), "task",
		    json_pack("{s:s,s:s,s:s,s:f}", "process",
		    "0123456789abcdef0123456789abcdef0123456789abcdef"
		    "0123456789abcdef", "event", "evt_fake_1", "phase",
		    "apply", "age", 0.25));
		json_object_set_new(json_array_get(bees, fake_bees - 1),
		    "state", json_string("backoff"));
		json_object_set_new(json_array_get(bees, fake_bees - 1),
		    "last_exit", json_string("exit 75"));
		json_object_set_new(json_array_get(bees, fake_bees - 1),
		    "cause", json_string("database unreachable"));
	}
	return json_pack("{s:i,s:s,s:i,s:s,s:i,s:i,s:f,s:i,s:i,s:b,s:n,"
	    "s:{s:{s:i,s:i},s:f,s:{s:f,s:f,s:f},s:i,s:i,s:i},s:o}",
	    "version", 1, "state", fake_state, "pid", (int)getpid(),
	    "config", "/fake/financebee.conf", "generation",
	    (int)fake_generation, "started", 1764060000, "uptime", 12.5,
	    "bees_target", (int)fake_bees, "bees_running", (int)fake_bees,
	    "crash_loop", 0, "throttled_until",
	    "pool", "tasks", "applied", (int)(3 * fake_bees), "failed",
	    (int)fake_bees, "throughput_1m", 0.5, "latency_ms", "p50", 1.5,
	    "p95", 2.5, "p99", 3.5, "db_errors", 0, "http_errors", 0,
	    "restarts", 0, "bees", bees);
}

json_t *
report_executors(void)
{
	return json_pack("[{s:i,s:s,s:s,s:s}]", "slot", 1, "name", "fake-1",
	    "id", "2036f5bc759cfb3589fb4e2342bc9b3c843c5ef27dc8ded538de328a"
	    "7567089b", "registered", "unknown");
}

char *
report_metrics_text(void)
{
	const char	*kb = getenv("FAKE_METRICS_KB");
	char		*s, *p;
	size_t		 len, pad;

	if (asprintf(&s, "# HELP financebee_up Whether the master runs.\n"
	    "# TYPE financebee_up gauge\nfinancebee_up 1\n"
	    "# HELP financebee_bees Bees by state.\n"
	    "# TYPE financebee_bees gauge\nfinancebee_bees{state=\"idle\"} "
	    "%lu\n", fake_bees) == -1)
		return NULL;
	/* As large as a real master's with many slots: comment lines. */
	if (kb != NULL && (pad = (size_t)atol(kb) * 1024) > (len = strlen(s))) {
		if ((p = realloc(s, pad + 1)) == NULL) {
			free(s);
			return NULL;
		}
		s = p;
		memset(s + len, '#', pad - len);
		for (p = s + len + 63; p < s + pad; p += 64)
			*p = '\n';
		s[pad - 1] = '\n';
		s[pad] = '\0';
	}
	return s;
}

int
master_scale(char op, unsigned long n, char *cause, size_t causelen)
{
	unsigned long	target;

	if (op == '+')
		target = fake_bees + n;
	else if (op == '-')
		target = n >= fake_bees ? 0 : fake_bees - n;
	else
		target = n;
	if (target < 1 || target > 256) {
		snprintf(cause, causelen, "bees must stay within 1..256");
		return -1;
	}
	fake_bees = target;
	return 0;
}

int
master_intake_scale(char op, unsigned long n, char *cause, size_t causelen)
{
	(void)op;
	(void)n;
	snprintf(cause, causelen, "the intake is not enabled");
	return -1;
}

void
master_stop(int fast)
{
	/* Like the real master with no bee left: the loop ends at once. */
	fake_state = "stopping";
	event_base_loopexit(base, NULL);
}

void
master_pause(int pause)
{
	fake_state = pause ? "paused" : "running";
}

struct fake_reload {
	void	(*done)(int, const char *, void *);
	void	*arg;
};

static void
fake_reload_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fake_reload	*r = arg;
	const char		*fail = getenv("FAKE_RELOAD_FAIL");

	fake_state = "running";
	if (fail != NULL)
		r->done(0, fail, r->arg);
	else {
		fake_generation++;
		r->done(1, NULL, r->arg);
	}
	free(r);
}

void
reload_request(void (*done)(int, const char *, void *), void *arg)
{
	struct fake_reload	*r;
	const char		*d = getenv("FAKE_RELOAD_DELAY_MS");
	long			 ms = d != NULL ? atol(d) : 100;
	struct timeval		 tv = { ms / 1000, (ms % 1000) * 1000 };

	fake_reloads++;
	if ((r = malloc(sizeof(*r))) == NULL)
		fatal("malloc");
	r->done = done;
	r->arg = arg;
	fake_state = "reloading";
	event_base_once(base, -1, EV_TIMEOUT, fake_reload_cb, r, &tv);
}

static char **
split(char *s, size_t *n)
{
	char	**v = NULL, *w;

	*n = 0;
	while ((w = strsep(&s, ",")) != NULL) {
		if (*w == '\0')
			continue;
		if ((v = reallocarray(v, *n + 1, sizeof(*v))) == NULL)
			fatal("reallocarray");
		v[(*n)++] = w;
	}
	return v;
}

static int
serve(int argc, char **argv)
{
	struct fb_config	 cfg;
	char			 cause[FB_CAUSE_MAX];
	int			 ch, rc;

	memset(&cfg, 0, sizeof(cfg));
	cfg.admin_mode = 0660;
	while ((ch = getopt(argc, argv, "g:m:r:s:")) != -1) {
		switch (ch) {
		case 'g':
			cfg.admin_groups = split(optarg, &cfg.nadmin_groups);
			break;
		case 'm':
			cfg.admin_mode = (mode_t)strtoul(optarg, NULL, 8);
			break;
		case 'r':
			cfg.readonly_groups = split(optarg,
			    &cfg.nreadonly_groups);
			break;
		case 's':
			cfg.admin_path = optarg;
			break;
		default:
			return 2;
		}
	}
	(void)log_init("test-admin", LOG_LEVEL_DEBUG, "stderr", cause,
	    sizeof(cause));
	signal(SIGPIPE, SIG_IGN);
	if ((base = event_base_new()) == NULL)
		fatalx("event_base_new");
	if (control_open(base, &cfg, cause, sizeof(cause)) == -1) {
		fprintf(stderr, "test-admin: %s\n", cause);
		event_base_free(base);
		free(cfg.admin_groups);
		free(cfg.readonly_groups);
		return 1;
	}
	rc = event_base_dispatch(base);
	admin_close();
	event_base_free(base);
	free(cfg.admin_groups);
	free(cfg.readonly_groups);
	log_info("exiting (%d), %u reloads", rc, fake_reloads);
	return rc == -1 ? 1 : 0;
}

static int
connect_to(const char *path)
{
	struct sockaddr_un	sun;
	int			fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		return -1;
	memcpy(sun.sun_path, path, strlen(path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Copy replies to stdout until EOF, reset or 20 s of silence. */
static void
drain(int fd)
{
	struct pollfd	pfd = { fd, POLLIN, 0 };
	char		buf[4096];
	ssize_t		n;

	while (poll(&pfd, 1, 20000) == 1) {
		if ((n = read(fd, buf, sizeof(buf))) <= 0)
			break;
		fwrite(buf, 1, n, stdout);
	}
	fflush(stdout);
}

static int
raw(const char *path)
{
	char	buf[4096];
	ssize_t	n, w, off;
	int	fd;

	signal(SIGPIPE, SIG_IGN);
	if ((fd = connect_to(path)) == -1) {
		fprintf(stderr, "test-admin: connect %s: %s\n", path,
		    strerror(errno));
		return 1;
	}
	while ((n = read(STDIN_FILENO, buf, sizeof(buf))) > 0) {
		for (off = 0; off < n; off += w) {
			if ((w = write(fd, buf + off, n - off)) == -1)
				goto out;	/* the server may have hung up */
		}
	}
out:
	shutdown(fd, SHUT_WR);
	drain(fd);
	close(fd);
	return 0;
}

static int
flood(const char *path, int n)
{
	struct pollfd	 pfd;
	char		 reply[64];
	ssize_t		 r;
	int		*fds, i, fd, tries;

	signal(SIGPIPE, SIG_IGN);
	if ((fds = calloc(n, sizeof(*fds))) == NULL)
		return 1;
	/*
	 * Each held connection must have been answered, so that the server
	 * counts exactly n clients; one refused because an earlier client
	 * was not yet gone is retried.
	 */
	for (i = 0; i < n; i++) {
		for (tries = 0; tries < 200; tries++) {
			if ((fds[i] = connect_to(path)) == -1) {
				fprintf(stderr, "test-admin: connect %d: %s\n",
				    i, strerror(errno));
				return 1;
			}
			pfd.fd = fds[i];
			pfd.events = POLLIN;
			if (write(fds[i], "ping\n", 5) == 5 &&
			    poll(&pfd, 1, 20000) == 1 &&
			    (r = read(fds[i], reply, sizeof(reply) - 1)) > 0) {
				reply[r] = '\0';
				if (strncmp(reply, "OK ", 3) == 0)
					break;
			}
			close(fds[i]);
			usleep(50000);
		}
		if (tries == 200) {
			fprintf(stderr, "test-admin: client %d refused\n", i);
			return 1;
		}
	}
	if ((fd = connect_to(path)) == -1) {
		fprintf(stderr, "test-admin: connect: %s\n", strerror(errno));
		return 1;
	}
	(void)!write(fd, "ping\n", 5);
	drain(fd);
	close(fd);
	for (i = 0; i < n; i++)
		close(fds[i]);
	free(fds);
	return 0;
}

/*
 * Pipeline n "status" requests without reading until the server stops
 * reading us, check that another client is still served, then read and
 * count every framed reply.
 */
static int
hog(const char *path, int n)
{
	struct pollfd	 pfd;
	char		 buf[65536], *p;
	size_t		 have = 0, need = 0;
	ssize_t		 r;
	int		 fd, other, sent = 0, got = 0, ok = 0, stalled = 0;

	signal(SIGPIPE, SIG_IGN);
	if ((fd = connect_to(path)) == -1)
		return 1;
	/* Stuff requests until the socket is full both ways. */
	pfd.fd = fd;
	pfd.events = POLLOUT;
	while (sent < n) {
		if (poll(&pfd, 1, 500) != 1) {
			stalled = 1;
			break;
		}
		if (send(fd, "status\n", 7, MSG_DONTWAIT) != 7)
			break;
		sent++;
	}
	if ((other = connect_to(path)) == -1)
		return 1;
	(void)!write(other, "ping\n", 5);
	pfd.fd = other;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, 20000) == 1 &&
	    (r = read(other, buf, sizeof(buf) - 1)) > 0) {
		buf[r] = '\0';
		printf("other client: %s", strcmp(buf, "OK 5\npong\n") == 0 ?
		    "served\n" : "bad reply\n");
	} else
		printf("other client: no reply\n");
	close(other);
	printf("stalled: %s\n", stalled ? "yes" : "no");

	/* Read every reply, sending the rest as room appears. */
	for (;;) {
		pfd.fd = fd;
		pfd.events = POLLIN | (sent < n ? POLLOUT : 0);
		if (got == n || poll(&pfd, 1, 20000) != 1)
			break;
		if ((pfd.revents & POLLOUT) && sent < n &&
		    send(fd, "status\n", 7, MSG_DONTWAIT) == 7)
			sent++;
		if (!(pfd.revents & (POLLIN | POLLHUP)))
			continue;
		if ((r = read(fd, buf + have, sizeof(buf) - have)) <= 0)
			break;
		have += (size_t)r;
		/* Consume complete "OK N\n<N bytes>" frames. */
		for (;;) {
			if (need == 0) {
				if ((p = memchr(buf, '\n', have)) == NULL)
					break;
				*p = '\0';
				if (strncmp(buf, "OK ", 3) == 0)
					ok++;
				need = (size_t)(p - buf) + 1 +
				    strtoul(buf + 3, NULL, 10);
			}
			if (have < need)
				break;
			memmove(buf, buf + need, have - need);
			have -= need;
			need = 0;
			got++;
		}
	}
	printf("replies: %d of %d, OK %d\n", got, n, ok);
	close(fd);
	return 0;
}

/*
 * Serve one connection with stdin as the reply, for fbeectl's handling of
 * broken daemons.  Listens on a temporary name renamed to path, so that the
 * path answers as soon as it exists.
 */
static int
answer(const char *path)
{
	struct sockaddr_un	 sun;
	char			 tmp[sizeof(sun.sun_path)], req[4096];
	char			 reply[65536];
	size_t			 len = 0;
	ssize_t			 r;
	int			 l, fd;

	signal(SIGPIPE, SIG_IGN);
	while (len < sizeof(reply) &&
	    (r = read(STDIN_FILENO, reply + len, sizeof(reply) - len)) > 0)
		len += (size_t)r;
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return 1;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, tmp, strlen(tmp));
	unlink(tmp);
	if ((l = socket(AF_UNIX, SOCK_STREAM, 0)) == -1 ||
	    bind(l, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    listen(l, 1) == -1 || rename(tmp, path) == -1) {
		perror("test-admin: answer");
		return 1;
	}
	if ((fd = accept(l, NULL, NULL)) == -1)
		return 1;
	(void)!read(fd, req, sizeof(req));
	if (len > 0)
		(void)!write(fd, reply, len);
	close(fd);
	close(l);
	unlink(path);
	return 0;
}

static double
now_s(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
idle(const char *path, int n, int secs)
{
	struct pollfd	*pfd;
	char		 buf[256];
	double		 t0, *when, lo = 1e9, hi = 0;
	int		*kind, i, open, denied = 0, full = 0, dropped = 0;
	ssize_t		 r;

	signal(SIGPIPE, SIG_IGN);
	if ((pfd = calloc(n, sizeof(*pfd))) == NULL ||
	    (when = calloc(n, sizeof(*when))) == NULL ||
	    (kind = calloc(n, sizeof(*kind))) == NULL)
		return 1;
	t0 = now_s();
	for (i = 0; i < n; i++) {
		if ((pfd[i].fd = connect_to(path)) == -1) {
			fprintf(stderr, "test-admin: connect %d: %s\n", i,
			    strerror(errno));
			return 1;
		}
		pfd[i].events = POLLIN;
	}
	printf("connected %d\n", n);
	fflush(stdout);
	open = n;
	while (open > 0 && now_s() - t0 < secs) {
		if (poll(pfd, n, 100) <= 0)
			continue;
		for (i = 0; i < n; i++) {
			if (pfd[i].fd == -1 || pfd[i].revents == 0)
				continue;
			r = read(pfd[i].fd, buf, sizeof(buf) - 1);
			if (r > 0) {
				buf[r] = '\0';
				if (kind[i] == 0)
					kind[i] = strncmp(buf, "DENIED", 6) == 0 ?
					    1 : strncmp(buf, "ERR", 3) == 0 ? 2 : 3;
				continue;
			}
			when[i] = now_s() - t0;
			close(pfd[i].fd);
			pfd[i].fd = -1;
			open--;
			if (kind[i] == 1)
				denied++;
			else if (kind[i] == 2)
				full++;
			else {
				dropped++;
				if (when[i] < lo)
					lo = when[i];
				if (when[i] > hi)
					hi = when[i];
			}
		}
	}
	printf("denied %d, full %d, dropped %d", denied, full, dropped);
	if (dropped > 0)
		printf(" (after %.1f-%.1f s)", lo, hi);
	printf(", open %d\n", open);
	return 0;
}

static int
flood_pipe(const char *path, int n, int secs, const char *cmd)
{
	struct pollfd	*pfd;
	char		 req[64];
	double		 t0;
	long		 sent = 0;
	int		 i;
	size_t		 len;

	signal(SIGPIPE, SIG_IGN);
	snprintf(req, sizeof(req), "%s\n", cmd);
	len = strlen(req);
	if ((pfd = calloc(n, sizeof(*pfd))) == NULL)
		return 1;
	for (i = 0; i < n; i++) {
		if ((pfd[i].fd = connect_to(path)) == -1)
			return 1;
		pfd[i].events = POLLOUT;
	}
	printf("connected %d\n", n);
	fflush(stdout);
	t0 = now_s();
	while (now_s() - t0 < secs) {
		if (poll(pfd, n, 100) <= 0)
			continue;
		for (i = 0; i < n; i++) {
			if (pfd[i].revents & (POLLERR | POLLHUP)) {
				pfd[i].fd = -pfd[i].fd - 1;	/* ignored */
				continue;
			}
			if ((pfd[i].revents & POLLOUT) &&
			    send(pfd[i].fd, req, len, MSG_DONTWAIT) ==
			    (ssize_t)len)
				sent++;
		}
	}
	printf("flooders %d, requests %ld\n", n, sent);
	return 0;
}

static int
trickle(const char *path)
{
	struct pollfd	pfd;
	char		buf[256];
	double		t0;
	int		fd;

	signal(SIGPIPE, SIG_IGN);
	if ((fd = connect_to(path)) == -1)
		return 1;
	t0 = now_s();
	pfd.fd = fd;
	pfd.events = POLLIN;
	while (now_s() - t0 < 20) {
		if (send(fd, "s", 1, MSG_NOSIGNAL) != 1)
			break;
		if (poll(&pfd, 1, 300) == 1 && read(fd, buf, sizeof(buf)) <= 0)
			break;
	}
	if (now_s() - t0 < 20)
		printf("dropped after %.1f s\n", now_s() - t0);
	else
		printf("open after 20 s\n");
	close(fd);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "serve") == 0)
		return serve(argc - 1, argv + 1);
	if (argc == 3 && strcmp(argv[1], "raw") == 0)
		return raw(argv[2]);
	if (argc == 4 && strcmp(argv[1], "flood") == 0)
		return flood(argv[2], atoi(argv[3]));
	if (argc == 4 && strcmp(argv[1], "hog") == 0)
		return hog(argv[2], atoi(argv[3]));
	if (argc == 3 && strcmp(argv[1], "answer") == 0)
		return answer(argv[2]);
	if (argc == 5 && strcmp(argv[1], "idle") == 0)
		return idle(argv[2], atoi(argv[3]), atoi(argv[4]));
	if (argc == 6 && strcmp(argv[1], "pipe") == 0)
		return flood_pipe(argv[2], atoi(argv[3]), atoi(argv[4]),
		    argv[5]);
	if (argc == 3 && strcmp(argv[1], "trickle") == 0)
		return trickle(argv[2]);
	fprintf(stderr, "usage: test-admin serve|raw|flood ...\n");
	return 2;
}
