/*
 * fbeectl.c: the operator's client for financebeed's admin socket (wire
 * format in admin.c and fbeectl(8)), and key utilities that never talk to
 * the daemon.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libconfig.h>

#include "financebeed.h"

/* Exit statuses, documented in fbeectl(8). */
#define CTL_EX_OK		0
#define CTL_EX_FAILED		1	/* the daemon answered ERR */
#define CTL_EX_USAGE		64	/* sysexits EX_USAGE */
#define CTL_EX_UNAVAILABLE	69	/* no daemon answers on the socket */
#define CTL_EX_TEMPFAIL		75	/* timeout or broken reply */
#define CTL_EX_NOPERM		77	/* socket or command not allowed */
#define CTL_EX_CONFIG		78	/* -c file unreadable or invalid */

/* The same default as admin.socket in config.c. */
#define CTL_DEFAULT_SOCKET	"/run/financebee/financebeed.sock"
#define CTL_TIMEOUT_MS		30000
#define CTL_RELOAD_TIMEOUT_MS	300000
#define CTL_MAXREPLY		(64 * 1024 * 1024)
#define CTL_MAXREQ		4096
#define CTL_MAXKEYINPUT		4096

struct ctl_reply {
	char	 status[16];	/* OK, ERR, DENIED */
	char	*body;
	size_t	 len;
};

struct ctl_cmd {
	const char	*name;
	int		 minargs;
	int		 maxargs;
	int		 (*fn)(const char *, int, char **);
};

static int	ctl_status(const char *, int, char **);
static int	ctl_executors(const char *, int, char **);
static int	ctl_simple(const char *, int, char **);
static int	ctl_scale(const char *, int, char **);
static int	ctl_stop(const char *, int, char **);
static int	ctl_key(const char *, int, char **);

static const struct ctl_cmd ctl_cmds[] = {
	{ "status",	0, 1, ctl_status },
	{ "executors",	0, 1, ctl_executors },
	{ "metrics",	0, 0, ctl_simple },
	{ "ping",	0, 0, ctl_simple },
	{ "scale",	1, 2, ctl_scale },
	{ "reload",	0, 0, ctl_simple },
	{ "stop",	0, 1, ctl_stop },
	{ "pause",	0, 0, ctl_simple },
	{ "resume",	0, 0, ctl_simple },
	{ "key",	1, 1, ctl_key },
};

static void
usage_print(FILE *f)
{
	fprintf(f,
	    "usage: fbeectl [-s socket] [-c file] command [argument ...]\n"
	    "       fbeectl -V | --version | -h | --help\n"
	    "commands: status [--json], executors [--json], metrics, ping,\n"
	    "          scale [bees|intake] N|+K|-K, reload, stop [--fast],\n"
	    "          pause, resume,\n"
	    "          key generate, key id (private key on standard input)\n");
}

static __dead void
usage(void)
{
	usage_print(stderr);
	exit(CTL_EX_USAGE);
}

/* --- the socket --------------------------------------------------------- */

/* The socket named by admin.socket in a config file, without config_load():
 * fbeectl may run as a user who cannot read the secret files. */
static int
ctl_config_socket(const char *file, char **path)
{
	config_t	 lc;
	const char	*s;
	char		*copy, *dir;
	int		 rc = CTL_EX_OK;

	*path = NULL;
	config_init(&lc);
	if ((copy = strdup(file)) != NULL) {
		dir = dirname(copy);
		config_set_include_dir(&lc, dir);
	}
	if (config_read_file(&lc, file) != CONFIG_TRUE) {
		if (config_error_type(&lc) == CONFIG_ERR_FILE_IO)
			fprintf(stderr, "fbeectl: %s: %s\n", file,
			    strerror(errno != 0 ? errno : EIO));
		else
			fprintf(stderr, "fbeectl: %s:%d: %s\n",
			    config_error_file(&lc) != NULL ?
			    config_error_file(&lc) : file,
			    config_error_line(&lc), config_error_text(&lc));
		rc = CTL_EX_CONFIG;
	} else if (config_lookup_string(&lc, "admin.socket", &s) ==
	    CONFIG_TRUE && *s != '\0') {
		if ((*path = strdup(s)) == NULL) {
			fprintf(stderr, "fbeectl: out of memory\n");
			rc = CTL_EX_CONFIG;
		}
	}
	config_destroy(&lc);
	free(copy);
	return rc;
}

static int
ctl_wait(int fd, short events, int64_t deadline)
{
	struct pollfd	pfd = { fd, events, 0 };
	struct timespec	ts;
	int64_t		now, left;
	int		n;

	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
		if ((left = deadline - now) <= 0)
			return -1;
		n = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (n == 1)
			return 0;
		if (n == -1 && errno != EINTR)
			return -1;
	}
}

static int64_t
ctl_deadline(long ms)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + ms;
}

/* Read exactly len bytes; 0, or -1 on EOF/error/timeout (errno set). */
static int
ctl_read(int fd, void *buf, size_t len, int64_t deadline)
{
	char	*p = buf;
	ssize_t	 n;

	while (len > 0) {
		if (ctl_wait(fd, POLLIN, deadline) == -1) {
			errno = ETIMEDOUT;
			return -1;
		}
		n = read(fd, p, len);
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = ENODATA;	/* EOF: see ctl_request */
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * One request, one framed reply.  Returns CTL_EX_OK with the reply filled
 * in, or the exit status for a transport failure (already reported).
 */
static int
ctl_request(const char *path, const char *line, long timeout_ms,
    struct ctl_reply *r)
{
	struct sockaddr_un	 sun;
	char			 hdr[64], *end;
	size_t			 i, off, len;
	ssize_t			 n;
	int64_t			 deadline = ctl_deadline(timeout_ms);
	unsigned long long	 v;
	int			 fd;

	memset(r, 0, sizeof(*r));
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "fbeectl: %s: socket path too long\n", path);
		return CTL_EX_USAGE;
	}
	memcpy(sun.sun_path, path, strlen(path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		fprintf(stderr, "fbeectl: socket: %s\n", strerror(errno));
		return CTL_EX_TEMPFAIL;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		int	e = errno;

		close(fd);
		if (e == EACCES || e == EPERM) {
			fprintf(stderr, "fbeectl: %s: %s\n", path,
			    strerror(e));
			return CTL_EX_NOPERM;
		}
		if (e == ENOENT || e == ECONNREFUSED || e == ENOTDIR) {
			fprintf(stderr, "fbeectl: financebeed is not running "
			    "(%s: %s)\n", path, strerror(e));
			return CTL_EX_UNAVAILABLE;
		}
		fprintf(stderr, "fbeectl: %s: %s\n", path, strerror(e));
		return CTL_EX_TEMPFAIL;
	}

	len = strlen(line);
	for (off = 0; off < len; off += (size_t)n) {
		if (ctl_wait(fd, POLLOUT, deadline) == -1) {
			errno = ETIMEDOUT;
			goto fail;
		}
		n = send(fd, line + off, len - off, MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR || errno == EAGAIN) {
				n = 0;
				continue;
			}
			/* Refused at once: the daemon's reply may be there. */
			if (errno == EPIPE || errno == ECONNRESET)
				break;
			goto fail;
		}
	}

	/* Header: "STATUS NBYTES\n". */
	for (i = 0; i < sizeof(hdr) - 1; i++) {
		if (ctl_read(fd, &hdr[i], 1, deadline) == -1)
			goto fail;
		if (hdr[i] == '\n')
			break;
	}
	if (i == sizeof(hdr) - 1)
		goto bad;
	hdr[i] = '\0';
	if ((end = strchr(hdr, ' ')) == NULL || end == hdr ||
	    (size_t)(end - hdr) >= sizeof(r->status))
		goto bad;
	memcpy(r->status, hdr, end - hdr);
	r->status[end - hdr] = '\0';
	if (end[1] < '0' || end[1] > '9')
		goto bad;
	errno = 0;
	v = strtoull(end + 1, &end, 10);
	if (errno != 0 || *end != '\0' || v > CTL_MAXREPLY)
		goto bad;
	r->len = (size_t)v;
	if ((r->body = malloc(r->len + 1)) == NULL) {
		fprintf(stderr, "fbeectl: out of memory\n");
		close(fd);
		return CTL_EX_TEMPFAIL;
	}
	if (ctl_read(fd, r->body, r->len, deadline) == -1)
		goto fail;
	r->body[r->len] = '\0';
	close(fd);
	return CTL_EX_OK;

bad:
	fprintf(stderr, "fbeectl: %s: malformed reply from the daemon\n",
	    path);
	close(fd);
	free(r->body);
	r->body = NULL;
	return CTL_EX_TEMPFAIL;
fail:
	fprintf(stderr, "fbeectl: %s: %s\n", path, errno == ETIMEDOUT ?
	    "no reply from the daemon (timeout)" : errno == ENODATA ?
	    "connection closed before the reply was complete" :
	    strerror(errno));
	close(fd);
	free(r->body);
	r->body = NULL;
	return CTL_EX_TEMPFAIL;
}

/* Map a reply to an exit status; print failures on stderr. */
static int
ctl_outcome(const struct ctl_reply *r)
{
	const char	*b = r->body;
	int		 n = (int)r->len;

	if (n > 0 && b[n - 1] == '\n')
		n--;
	if (strcmp(r->status, "OK") == 0)
		return CTL_EX_OK;
	fprintf(stderr, "fbeectl: %.*s\n", n, b);
	if (strcmp(r->status, "DENIED") == 0)
		return CTL_EX_NOPERM;
	return CTL_EX_FAILED;
}

/* Send argv as one request line and print the reply body as it is. */
static int
ctl_run(const char *path, int argc, char **argv, long timeout_ms,
    struct ctl_reply *out)
{
	struct ctl_reply	 r;
	char			 line[CTL_MAXREQ];
	size_t			 len = 0, wl;
	const char		*p;
	int			 i, rc;

	for (i = 0; i < argc; i++) {
		for (p = argv[i]; *p != '\0'; p++) {
			if (*p <= ' ' || *p > '~') {
				fprintf(stderr, "fbeectl: bad argument\n");
				return CTL_EX_USAGE;
			}
		}
		wl = strlen(argv[i]);
		if (len + wl + 2 > sizeof(line)) {
			fprintf(stderr, "fbeectl: request too long\n");
			return CTL_EX_USAGE;
		}
		if (i > 0)
			line[len++] = ' ';
		memcpy(line + len, argv[i], wl);
		len += wl;
	}
	line[len++] = '\n';
	line[len] = '\0';
	if ((rc = ctl_request(path, line, timeout_ms, &r)) != CTL_EX_OK)
		return rc;
	if ((rc = ctl_outcome(&r)) == CTL_EX_OK) {
		if (out != NULL) {
			*out = r;
			return rc;
		}
		fwrite(r.body, 1, r.len, stdout);
		if (fflush(stdout) == EOF)
			rc = CTL_EX_FAILED;
	}
	free(r.body);
	return rc;
}

/* --- commands ----------------------------------------------------------- */

static int
ctl_simple(const char *path, int argc, char **argv)
{
	return ctl_run(path, argc, argv, strcmp(argv[0], "reload") == 0 ?
	    CTL_RELOAD_TIMEOUT_MS : CTL_TIMEOUT_MS, NULL);
}

static int
ctl_scale(const char *path, int argc, char **argv)
{
	const char	*s = argv[argc - 1];

	if (argc == 3 && strcmp(argv[1], "bees") != 0 &&
	    strcmp(argv[1], "intake") != 0) {
		fprintf(stderr, "fbeectl: scale: bees or intake\n");
		return CTL_EX_USAGE;
	}
	if (*s == '+' || *s == '-')
		s++;
	if (*s == '\0' || strspn(s, "0123456789") != strlen(s)) {
		fprintf(stderr, "fbeectl: scale: N, +K or -K\n");
		return CTL_EX_USAGE;
	}
	return ctl_run(path, argc, argv, CTL_TIMEOUT_MS, NULL);
}

static int
ctl_stop(const char *path, int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "--fast") != 0)
		usage();
	return ctl_run(path, argc, argv, CTL_TIMEOUT_MS, NULL);
}

static json_t *
ctl_json_reply(const char *path, const char *cmd, int *rc)
{
	struct ctl_reply	 r;
	char			*argv[] = { (char *)cmd, NULL };
	json_error_t		 err;
	json_t			*j;

	if ((*rc = ctl_run(path, 1, argv, CTL_TIMEOUT_MS, &r)) != CTL_EX_OK)
		return NULL;
	j = json_loadb(r.body, r.len, 0, &err);
	free(r.body);
	if (j == NULL) {
		fprintf(stderr, "fbeectl: %s: bad JSON from the daemon: %s\n",
		    cmd, err.text);
		*rc = CTL_EX_TEMPFAIL;
	}
	return j;
}

static const char *
ctl_str(json_t *o, const char *key, const char *dflt)
{
	json_t	*v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : dflt;
}

/* A number as text, or "-" when absent. */
static const char *
ctl_num(json_t *o, const char *key, int prec, char *buf, size_t len)
{
	json_t	*v = json_object_get(o, key);

	if (!json_is_number(v))
		return "-";
	snprintf(buf, len, "%.*f", prec, json_number_value(v));
	return buf;
}

static void
ctl_duration(double secs, char *buf, size_t len)
{
	unsigned long	s = secs > 0 && secs < 1e12 ? (unsigned long)secs : 0;

	if (s >= 86400)
		snprintf(buf, len, "%lud%luh%lum", s / 86400, s % 86400 / 3600,
		    s % 3600 / 60);
	else if (s >= 3600)
		snprintf(buf, len, "%luh%lum%lus", s / 3600, s % 3600 / 60,
		    s % 60);
	else if (s >= 60)
		snprintf(buf, len, "%lum%lus", s / 60, s % 60);
	else
		snprintf(buf, len, "%.1fs", secs > 0 ? secs : 0.0);
}

/* "12 (applied 10, failed 2)": the total, then the outcomes seen. */
static void
ctl_tasks(json_t *tasks, char *buf, size_t len)
{
	static const char *const outcomes[] = { "applied", "duplicate",
	    "ignored", "stale", "parked", "failed", "transient", "lost" };
	char		 part[512];
	size_t		 i, used = 0;
	double		 total = 0, v;
	json_t		*j;

	part[0] = '\0';
	for (i = 0; i < sizeof(outcomes) / sizeof(outcomes[0]); i++) {
		j = json_object_get(tasks, outcomes[i]);
		if (!json_is_number(j) || (v = json_number_value(j)) == 0)
			continue;
		total += v;
		if (used < sizeof(part))
			used += (size_t)snprintf(part + used,
			    sizeof(part) - used, "%s%s %.0f",
			    used > 0 ? ", " : "", outcomes[i], v);
	}
	if (total == 0)
		snprintf(buf, len, "0");
	else
		snprintf(buf, len, "%.0f (%s)", total, part);
}

static void
ctl_rss(json_t *o, char *buf, size_t len)
{
	json_t	*v = json_object_get(o, "rss_kb");
	double	 kb;

	if (!json_is_number(v) || (kb = json_number_value(v)) < 0) {
		snprintf(buf, len, "-");
		return;
	}
	if (kb >= 1024 * 1024)
		snprintf(buf, len, "%.1fG", kb / (1024 * 1024));
	else if (kb >= 1024)
		snprintf(buf, len, "%.1fM", kb / 1024);
	else
		snprintf(buf, len, "%.0fK", kb);
}

/* "waiting: for the database since 12:00:01 UTC (2m 30s): <error>" */
static void
ctl_print_waiting(json_t *waiting)
{
	const char	*dep;
	json_t		*w;
	time_t		 t;
	struct tm	 tm;
	char		 when[32], dur[64], n[32];
	double		 since;

	json_object_foreach(waiting, dep, w) {
		since = json_number_value(json_object_get(w, "since"));
		t = (time_t)since;
		if (gmtime_r(&t, &tm) == NULL ||
		    strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC",
		    &tm) == 0)
			snprintf(when, sizeof(when), "?");
		ctl_duration((double)time(NULL) - since, dur, sizeof(dur));
		printf("waiting:     for %s since %s (%s, %s bees): %s\n",
		    strcmp(dep, "database") == 0 ? "the database" : "ColonyOS",
		    when, dur, ctl_num(w, "bees", 0, n, sizeof(n)),
		    ctl_str(w, "error", "-"));
	}
}

/* The webhook intake, when the daemon runs one. */
static void
ctl_print_intake(json_t *st)
{
	json_t		*in = json_object_get(st, "intake"), *req, *v, *p;
	json_t		*lat;
	const char	*k;
	char		 n1[32], n2[32], n3[32], n4[32], rss[32];
	size_t		 i;

	if (!json_is_object(in))
		return;
	lat = json_object_get(json_object_get(st, "pool"),
	    "webhook_latency_ms");
	printf("webhook:     receipt to commit p50 %s ms, p95 %s ms, p99 %s ms\n",
	    ctl_num(lat, "p50", 1, n1, sizeof(n1)),
	    ctl_num(lat, "p95", 1, n2, sizeof(n2)),
	    ctl_num(lat, "p99", 1, n3, sizeof(n3)));
	printf("intake:      %s running, %s wanted; replies:",
	    ctl_num(in, "running", 0, n1, sizeof(n1)),
	    ctl_num(in, "target", 0, n2, sizeof(n2)));
	req = json_object_get(in, "requests");
	json_object_foreach(req, k, v)
		printf(" %s %s", k, ctl_num(req, k, 0, n1, sizeof(n1)));
	lat = json_object_get(in, "submit_latency_ms");
	printf("; submit p99 %s ms\n", ctl_num(lat, "p99", 1, n1, sizeof(n1)));
	json_array_foreach(json_object_get(in, "processes"), i, p) {
		ctl_rss(p, rss, sizeof(rss));
		printf("  intake %s: pid %s, %s, %s requests, rss %s, restarts "
		    "%s\n", ctl_num(p, "slot", 0, n1, sizeof(n1)),
		    ctl_num(p, "pid", 0, n2, sizeof(n2)),
		    ctl_str(p, "state", "?"),
		    ctl_num(p, "requests", 0, n3, sizeof(n3)), rss,
		    ctl_num(p, "restarts", 0, n4, sizeof(n4)));
	}
}

/* "queue:       5 waiting, 1 running (2.0 s ago)", and the last error. */
static void
ctl_print_queue(json_t *q)
{
	char	n1[32], n2[32], n3[32];

	if (!json_is_object(q))
		return;
	if (json_is_number(json_object_get(q, "waiting")))
		printf("queue:       %s waiting, %s running (%s s ago)\n",
		    ctl_num(q, "waiting", 0, n1, sizeof(n1)),
		    ctl_num(q, "running", 0, n2, sizeof(n2)),
		    ctl_num(q, "age", 1, n3, sizeof(n3)));
	else
		printf("queue:       unknown\n");
	if (json_is_string(json_object_get(q, "error")))
		printf("queue error: %s\n", ctl_str(q, "error", "-"));
}

/*
 * "colonies:    URL (answers, 2.0 s ago)" and "database:    answers,
 * schema 5 (2.0 s ago)", from the master's last probe of each.
 */
static void
ctl_print_dep(const char *label, json_t *d, const char *url)
{
	char		 n1[32], n2[32], head[600];
	json_t		*a = json_object_get(d, "answers");
	const char	*err = ctl_str(d, "error", NULL);

	if (url != NULL)
		snprintf(head, sizeof(head), "%s ", url);
	else
		head[0] = '\0';
	if (!json_is_boolean(a))
		printf("%-12s %s(%s)\n", label, head, err != NULL ? err :
		    "not probed: metrics.queue_interval is 0, or not yet");
	else if (json_is_true(a) && json_is_number(json_object_get(d,
	    "schema_version")))
		printf("%-12s %sanswers, schema %s (%s s ago)%s%s\n", label,
		    head, ctl_num(d, "schema_version", 0, n1, sizeof(n1)),
		    ctl_num(d, "age", 1, n2, sizeof(n2)),
		    err != NULL ? ": " : "", err != NULL ? err : "");
	else
		printf("%-12s %s%s (%s s ago)%s%s\n", label, head,
		    json_is_true(a) ? "answers" : "DOES NOT ANSWER",
		    ctl_num(d, "age", 1, n2, sizeof(n2)),
		    err != NULL ? ": " : "", err != NULL ? err : "");
}

static void
ctl_print_status(json_t *st)
{
	json_t		*pool, *lat, *bees, *b, *task;
	char		 n1[32], n2[32], n3[32], up[64], tasks[600];
	char		 rss[32];
	size_t		 i;
	const char	*proc, *last;

	pool = json_object_get(st, "pool");
	lat = json_object_get(pool, "latency_ms");
	ctl_duration(json_number_value(json_object_get(st, "uptime")), up,
	    sizeof(up));
	printf("financebeed: %s, pid %s, generation %s, up %s\n",
	    ctl_str(st, "state", "?"), ctl_num(st, "pid", 0, n1,
	    sizeof(n1)), ctl_num(st, "generation", 0, n2, sizeof(n2)), up);
	printf("version:     financebeed %s, database schema %s\n",
	    ctl_str(st, "daemon_version", "?"),
	    ctl_num(st, "schema_version", 0, n1, sizeof(n1)));
	printf("config:      %s\n", ctl_str(st, "config", "-"));
	ctl_print_dep("colonies:", json_object_get(st, "colonies"),
	    ctl_str(st, "colonies_url", "-"));
	ctl_print_dep("database:", json_object_get(st, "database"), NULL);
	printf("bees:        %s running, %s wanted%s\n",
	    ctl_num(st, "bees_running", 0, n1, sizeof(n1)),
	    ctl_num(st, "bees_target", 0, n2, sizeof(n2)),
	    json_is_true(json_object_get(st, "crash_loop")) ?
	    " (crash loop: respawns throttled)" : "");
	ctl_tasks(json_object_get(pool, "tasks"), tasks, sizeof(tasks));
	printf("tasks:       %s\n", tasks);
	printf("throughput:  %s tasks/s over the last minute\n",
	    ctl_num(pool, "throughput_1m", 1, n1, sizeof(n1)));
	printf("latency:     p50 %s ms, p95 %s ms, p99 %s ms\n",
	    ctl_num(lat, "p50", 1, n1, sizeof(n1)),
	    ctl_num(lat, "p95", 1, n2, sizeof(n2)),
	    ctl_num(lat, "p99", 1, n3, sizeof(n3)));
	lat = json_object_get(pool, "revenue_lag_s");
	printf("revenue lag: p50 %s s, p95 %s s, p99 %s s (Stripe's created "
	    "-> commit)\n", ctl_num(lat, "p50", 1, n1, sizeof(n1)),
	    ctl_num(lat, "p95", 1, n2, sizeof(n2)),
	    ctl_num(lat, "p99", 1, n3, sizeof(n3)));
	printf("errors:      db %s, http %s; bee restarts %s\n",
	    ctl_num(pool, "db_errors", 0, n1, sizeof(n1)),
	    ctl_num(pool, "http_errors", 0, n2, sizeof(n2)),
	    ctl_num(pool, "restarts", 0, n3, sizeof(n3)));
	ctl_print_waiting(json_object_get(pool, "waiting"));
	ctl_print_intake(st);
	ctl_print_queue(json_object_get(st, "queue"));

	bees = json_object_get(st, "bees");
	if (!json_is_array(bees) || json_array_size(bees) == 0)
		return;
	printf("\n%4s %7s %4s %-11s %7s %7s %7s %6s %3s %-10s %s\n", "SLOT",
	    "PID", "GEN", "STATE", "P50ms", "P95ms", "P99ms", "RSS", "RST",
	    "LAST EXIT", "TASKS");
	json_array_foreach(bees, i, b) {
		char	c1[32], c2[32], c3[32], c4[32], c5[32], c6[32], c7[32];

		lat = json_object_get(b, "latency_ms");
		ctl_tasks(json_object_get(b, "tasks"), tasks, sizeof(tasks));
		ctl_rss(b, rss, sizeof(rss));
		last = ctl_str(b, "last_exit", "-");
		printf("%4s %7s %4s %-11.11s %7s %7s %7s %6s %3s %-10.10s %s\n",
		    ctl_num(b, "slot", 0, c1, sizeof(c1)),
		    ctl_num(b, "pid", 0, c2, sizeof(c2)),
		    ctl_num(b, "generation", 0, c3, sizeof(c3)),
		    ctl_str(b, "state", "?"),
		    ctl_num(lat, "p50", 1, c4, sizeof(c4)),
		    ctl_num(lat, "p95", 1, c5, sizeof(c5)),
		    ctl_num(lat, "p99", 1, c6, sizeof(c6)), rss,
		    ctl_num(b, "restarts", 0, c7, sizeof(c7)), last, tasks);
		task = json_object_get(b, "task");
		if (json_is_object(task)) {
			proc = ctl_str(task, "process", "-");
			printf("%4s task: process %.12s, event %s, %s, %s s\n",
			    "", proc, ctl_str(task, "event", "-"),
			    ctl_str(task, "phase", "-"), ctl_num(task, "age",
			    1, c1, sizeof(c1)));
		}
		if (json_is_string(json_object_get(b, "cause")))
			printf("%4s cause: %s\n", "", ctl_str(b, "cause", "-"));
	}
}

static int
ctl_json_flag(int argc, char **argv)
{
	if (argc == 1)
		return 0;
	if (strcmp(argv[1], "--json") == 0)
		return 1;
	usage();
}

static int
ctl_status(const char *path, int argc, char **argv)
{
	char	*args[] = { "status", NULL };
	json_t	*st;
	int	 rc;

	if (ctl_json_flag(argc, argv))
		return ctl_run(path, 1, args, CTL_TIMEOUT_MS, NULL);
	if ((st = ctl_json_reply(path, "status", &rc)) == NULL)
		return rc;
	ctl_print_status(st);
	json_decref(st);
	return fflush(stdout) == EOF ? CTL_EX_FAILED : CTL_EX_OK;
}

static int
ctl_executors(const char *path, int argc, char **argv)
{
	char	*args[] = { "executors", NULL }, n1[32];
	json_t	*ex, *e;
	size_t	 i;
	int	 rc;

	if (ctl_json_flag(argc, argv))
		return ctl_run(path, 1, args, CTL_TIMEOUT_MS, NULL);
	if ((ex = ctl_json_reply(path, "executors", &rc)) == NULL)
		return rc;
	printf("%4s %-24s %-10s %s\n", "SLOT", "NAME", "REGISTERED", "ID");
	json_array_foreach(ex, i, e) {
		printf("%4s %-24s %-10s %s\n",
		    ctl_num(e, "slot", 0, n1, sizeof(n1)),
		    ctl_str(e, "name", "-"), ctl_str(e, "registered", "-"),
		    ctl_str(e, "id", "-"));
	}
	json_decref(ex);
	return fflush(stdout) == EOF ? CTL_EX_FAILED : CTL_EX_OK;
}

/* --- keys: never on argv, never echoed ---------------------------------- */

static int
ctl_key_generate(void)
{
	struct crypto_key	k;
	char			cause[FB_CAUSE_MAX];
	char			hex[2 * sizeof(k.seckey) + 1];
	int			rc = CTL_EX_OK;

	if (crypto_key_generate(&k, cause, sizeof(cause)) == -1) {
		fprintf(stderr, "fbeectl: key generate: %s\n", cause);
		return CTL_EX_FAILED;
	}
	crypto_hex(k.seckey, sizeof(k.seckey), hex);
	printf("private-key %s\nid %s\n", hex, k.id);
	if (fflush(stdout) == EOF)
		rc = CTL_EX_FAILED;
	explicit_bzero(hex, sizeof(hex));
	crypto_key_clear(&k);
	return rc;
}

static int
ctl_key_id(void)
{
	struct crypto_key	 k;
	char			 buf[CTL_MAXKEYINPUT + 1], cause[FB_CAUSE_MAX];
	char			*s, *e;
	size_t			 len = 0;
	ssize_t			 n;
	int			 rc = CTL_EX_OK;

	if (isatty(STDIN_FILENO))
		fprintf(stderr, "fbeectl: reading a private key (64 hex "
		    "digits) from standard input\n");
	while (len < sizeof(buf) - 1) {
		n = read(STDIN_FILENO, buf + len, sizeof(buf) - 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		if (memchr(buf, '\n', len) != NULL)
			break;
	}
	buf[len] = '\0';
	/* The first line; "private-key HEX" as "key generate" prints it. */
	if ((e = strchr(buf, '\n')) != NULL)
		*e = '\0';
	else if (len == sizeof(buf) - 1) {
		fprintf(stderr, "fbeectl: key id: input too long\n");
		rc = CTL_EX_FAILED;
		goto out;
	}
	s = buf + strspn(buf, " \t");
	if (strncmp(s, "private-key", 11) == 0 && (s[11] == ' ' ||
	    s[11] == '\t'))
		s += 11 + strspn(s + 11, " \t");
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	if (*s == '\0') {
		fprintf(stderr, "fbeectl: key id: no key on standard input\n");
		rc = CTL_EX_FAILED;
		goto out;
	}
	if (crypto_key_parse(&k, s, strlen(s), cause, sizeof(cause)) == -1) {
		/* crypto.c never puts the key in its cause; make sure. */
		if (strlen(s) >= 4 && strstr(cause, s) != NULL)
			snprintf(cause, sizeof(cause), "not a key");
		fprintf(stderr, "fbeectl: key id: invalid private key: %s\n",
		    cause);
		rc = CTL_EX_FAILED;
		goto out;
	}
	printf("%s\n", k.id);
	if (fflush(stdout) == EOF)
		rc = CTL_EX_FAILED;
	crypto_key_clear(&k);
out:
	explicit_bzero(buf, sizeof(buf));
	return rc;
}

static int
ctl_key(const char *path, int argc, char **argv)
{
	if (crypto_init() == -1) {
		fprintf(stderr, "fbeectl: cannot initialise crypto\n");
		return CTL_EX_FAILED;
	}
	if (strcmp(argv[1], "generate") == 0)
		return ctl_key_generate();
	if (strcmp(argv[1], "id") == 0)
		return ctl_key_id();
	usage();
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "help",	no_argument,	NULL,	'h' },
		{ "version",	no_argument,	NULL,	'V' },
		{ NULL,		0,		NULL,	0 }
	};
	const struct ctl_cmd	*cmd = NULL;
	const char		*sockpath = NULL, *cfgfile = NULL;
	char			*cfgsock = NULL;
	size_t			 i;
	int			 ch, rc;

	signal(SIGPIPE, SIG_IGN);
	while ((ch = getopt_long(argc, argv, "+c:hs:V", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'c':
			cfgfile = optarg;
			break;
		case 's':
			sockpath = optarg;
			break;
		case 'h':
			usage_print(stdout);
			return fflush(stdout) == EOF ? CTL_EX_FAILED :
			    CTL_EX_OK;
		case 'V':
			printf("fbeectl %s\n", PACKAGE_VERSION);
			return fflush(stdout) == EOF ? CTL_EX_FAILED :
			    CTL_EX_OK;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0)
		usage();
	for (i = 0; i < sizeof(ctl_cmds) / sizeof(ctl_cmds[0]); i++) {
		if (strcmp(argv[0], ctl_cmds[i].name) == 0) {
			cmd = &ctl_cmds[i];
			break;
		}
	}
	if (cmd == NULL) {
		fprintf(stderr, "fbeectl: unknown command: %.64s (fbeectl "
		    "--help lists the commands)\n", argv[0]);
		exit(CTL_EX_USAGE);
	}
	if (argc - 1 < cmd->minargs || argc - 1 > cmd->maxargs) {
		if (strcmp(cmd->name, "key") == 0 && argc > 2)
			fprintf(stderr, "fbeectl: a private key is read from "
			    "standard input, never from the command line\n");
		usage();
	}
	if (cmd->fn == ctl_key)
		return ctl_key(NULL, argc, argv);

	if (sockpath == NULL && cfgfile != NULL) {
		if ((rc = ctl_config_socket(cfgfile, &cfgsock)) != CTL_EX_OK)
			return rc;
		sockpath = cfgsock;
	}
	if (sockpath == NULL)
		sockpath = getenv("FBEECTL_SOCKET");
	if (sockpath == NULL || *sockpath == '\0')
		sockpath = CTL_DEFAULT_SOCKET;
	rc = cmd->fn(sockpath, argc, argv);
	free(cfgsock);
	return rc;
}
