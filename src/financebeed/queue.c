/*
 * queue.c: the queue depth, processes waiting and running at the ColonyOS
 * server.  Every metrics.queue_interval the master starts a child,
 * "financebeed --queue-depth", which asks getcolonystatsmsg with slot 1's
 * executor key (only an approved member of the colony may ask: the server
 * answers anyone else an empty HTTP 200), writes one line of JSON on its
 * channel (fd 3) and exits.  The master reads that line when it reaps the
 * child, without blocking: the socket holds it already.  Like a
 * registrar, a child past its deadline is killed, and a stop kills it.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "financebeed.h"
#include "master.h"

#define QUEUE_LINE_MAX	512

static struct {
	pid_t		 pid;
	int		 fd;		/* the master's end of the channel */
	int64_t		 started;	/* ms */
	int		 killed;
	int		 valid;		/* waiting/running were measured */
	int64_t		 waiting;
	int64_t		 running;
	int64_t		 measured;	/* ms, of the last answer */
	char		 error[FB_CAUSE_MAX];	/* of the last try, or "" */
} queue = { 0, -1, 0, 0, 0, 0, 0, 0, "" };

/* --- the child ------------------------------------------------------------ */

static void
queue_answer(int fd, json_t *o)
{
	char	*s;
	size_t	 len;

	if (o == NULL || (s = json_dumps(o, JSON_COMPACT)) == NULL)
		return;
	len = strlen(s);
	if (len < QUEUE_LINE_MAX)
		(void)write(fd, s, len);
	free(s);
	json_decref(o);
}

static int
queue_fail(int fd, int code, const char *fmt, ...)
    __attribute__((__format__(__printf__, 3, 4)));

static int
queue_fail(int fd, int code, const char *fmt, ...)
{
	char	msg[FB_CAUSE_MAX];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_debug("%s", msg);
	queue_answer(fd, json_pack("{s:s}", "error", msg));
	return code;
}

int
queue_main(const struct fb_config *cfg, int fd)
{
	struct crypto_key	 key;
	struct colonies		*c;
	json_t			*p, *reply = NULL, *w, *r;
	char			 cause[FB_CAUSE_MAX];
	enum col_err		 e;

	if (config_executor_key(cfg, 1, &key, cause, sizeof(cause)) == -1)
		return queue_fail(fd, FB_EX_CONFIG, "%s", cause);
	c = colonies_open(cfg->colonies_url, &key,
	    cfg->http_connect_timeout_ms, cfg->http_timeout_ms);
	crypto_key_clear(&key);
	if (c == NULL)
		return queue_fail(fd, FB_EX_SOFTWARE, "cannot create the "
		    "ColonyOS client");
	if ((p = json_pack("{s:s}", "colonyname", cfg->colony)) == NULL) {
		colonies_free(c);
		return queue_fail(fd, FB_EX_SOFTWARE, "out of memory");
	}
	e = colonies_call(c, "getcolonystatsmsg", p, 0, &reply, cause,
	    sizeof(cause));
	json_decref(p);
	colonies_free(c);
	/* The server's answer to a non-member: 200 and nothing. */
	if (e == COL_PROTO && strstr(cause, "empty reply") != NULL)
		return queue_fail(fd, 1, "not a member of the colony");
	if (e != COL_OK)
		return queue_fail(fd, e == COL_TRANSPORT ? FB_EX_TEMPFAIL : 1,
		    "%s: %s", col_err_str(e), cause);
	w = json_object_get(reply, "waitingprocesses");
	r = json_object_get(reply, "runningprocesses");
	if (!json_is_integer(w) || !json_is_integer(r) ||
	    json_integer_value(w) < 0 || json_integer_value(r) < 0) {
		json_decref(reply);
		return queue_fail(fd, 1, "getcolonystatsmsg: no process "
		    "counts in the reply");
	}
	queue_answer(fd, json_pack("{s:I,s:I}", "waiting",
	    json_integer_value(w), "running", json_integer_value(r)));
	json_decref(reply);
	return FB_EX_OK;
}

/* --- the master ----------------------------------------------------------- */

/*
 * Each try is one request bounded by connect_timeout + request_timeout;
 * past that and five seconds, the child is stuck (SIGSTOPped server,
 * library): killed, and the error says so.
 */
static int64_t
queue_deadline(void)
{
	return (int64_t)master.cfg->http_connect_timeout_ms +
	    master.cfg->http_timeout_ms + 5000;
}

void
queue_start(void)
{
	char	*argv[8], cause[FB_CAUSE_MAX];
	int	 n = 0, fd;
	pid_t	 pid;

	if (master.state != MASTER_RUNNING || queue.pid > 0)
		return;
	argv[n++] = (char *)"financebeed";
	argv[n++] = (char *)"-c";
	argv[n++] = master.cfgpath;
	argv[n++] = (char *)"--queue-depth";
	if (master.cfgfd >= 0) {
		argv[n++] = (char *)"--config-fd";
		argv[n++] = (char *)"5";
	}
	argv[n] = NULL;
	if ((pid = proc_spawn(argv, &fd, -1, master.cfgfd, cause,
	    sizeof(cause))) == -1) {
		snprintf(queue.error, sizeof(queue.error), "%s", cause);
		return;
	}
	queue.pid = pid;
	queue.fd = fd;
	queue.started = clock_now_ms();
	queue.killed = 0;
}

void
queue_watchdog(int64_t now)
{
	if (queue.pid <= 0 || queue.killed || now - queue.started <
	    queue_deadline())
		return;
	kill(queue.pid, SIGKILL);
	queue.killed = 1;
}

/* A stop: the child is not waited for. */
void
queue_stop(void)
{
	if (queue.pid > 0)
		kill(queue.pid, SIGKILL);
}

int
queue_busy(void)
{
	return queue.pid > 0;
}

/* If pid is the queue child: read its answer, keep it, return 1. */
int
queue_reaped(pid_t pid, int status)
{
	char	 buf[QUEUE_LINE_MAX], sbuf[64];
	ssize_t	 n;
	json_t	*o, *e;
	int64_t	 w, r;

	if (pid != queue.pid || pid <= 0)
		return 0;
	queue.pid = 0;
	n = read(queue.fd, buf, sizeof(buf) - 1);
	close(queue.fd);
	queue.fd = -1;
	if (queue.killed) {
		snprintf(queue.error, sizeof(queue.error), "no answer from "
		    "ColonyOS in %lld s", (long long)(queue_deadline() / 1000));
		return 1;
	}
	if (n <= 0) {
		proc_status_str(status, sbuf, sizeof(sbuf));
		snprintf(queue.error, sizeof(queue.error), "queue-depth child "
		    "gave no answer (%s)", sbuf);
		return 1;
	}
	buf[n] = '\0';
	o = json_loads(buf, 0, NULL);
	if ((e = json_object_get(o, "error")) != NULL && json_is_string(e)) {
		snprintf(queue.error, sizeof(queue.error), "%s",
		    json_string_value(e));
	} else if (json_unpack(o, "{s:I,s:I}", "waiting", &w, "running",
	    &r) == 0 && w >= 0 && r >= 0) {
		queue.valid = 1;
		queue.waiting = w;
		queue.running = r;
		queue.measured = clock_now_ms();
		queue.error[0] = '\0';
	} else
		snprintf(queue.error, sizeof(queue.error), "queue-depth child "
		    "gave a malformed answer");
	json_decref(o);
	return 1;
}

/* status: {"waiting", "running", "age", "error"}, null when off. */
json_t *
queue_json(void)
{
	if (master.ev_queue == NULL)
		return json_null();
	return json_pack("{s:o,s:o,s:o,s:s?}",
	    "waiting", queue.valid ? json_integer(queue.waiting) : json_null(),
	    "running", queue.valid ? json_integer(queue.running) : json_null(),
	    "age", queue.valid ? json_real(round((double)(clock_now_ms() -
	    queue.measured) / 100) / 10) : json_null(),
	    "error", queue.error[0] != '\0' ? queue.error : NULL);
}

/* 0 with *waiting and *running when measured, -1 when not known. */
int
queue_get(int64_t *waiting, int64_t *running)
{
	if (!queue.valid)
		return -1;
	*waiting = queue.waiting;
	*running = queue.running;
	return 0;
}
