/*
 * queue.c: the dependency probe.  Every metrics.queue_interval (and once
 * when the pool starts) the master starts a child, "financebeed
 * --queue-depth", which asks two questions and writes both answers as one
 * line of JSON on its channel (fd 3) before it exits:
 *
 *  - ColonyOS: getcolonystatsmsg with slot 1's executor key, giving the
 *    queue depth (processes waiting and running).  Only an approved member
 *    of the colony may ask: the server answers anyone else an empty HTTP
 *    200.  Any HTTP reply means the server answers.
 *  - the database: a connection with the bees' settings and the schema
 *    version it holds.
 *
 * The master reads that line when it reaps the child, without blocking:
 * the socket holds it already.  Like a registrar, a child past its
 * deadline is killed, and a stop kills it.
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

#define QUEUE_LINE_MAX	(4 * FB_CAUSE_MAX)	/* two causes and the JSON */

/* What the master knows of one dependency from the last probe. */
struct queue_dep {
	int		 answers;	/* 1, 0, or -1 when not known */
	int64_t		 checked;	/* ms, of the last probe that said */
	int		 schema;	/* the database's, or -1 */
	char		 error[FB_CAUSE_MAX];	/* of the last probe, or "" */
};

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
	struct queue_dep colonies;
	struct queue_dep database;
} queue = { 0, -1, 0, 0, 0, 0, 0, 0, "", { -1, 0, -1, "" },
    { -1, 0, -1, "" } };

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

/* {"answers", "waiting", "running", "error"}: the ColonyOS half. */
static json_t *
queue_ask_colonies(const struct fb_config *cfg)
{
	struct crypto_key	 key;
	struct colonies		*c;
	json_t			*p, *reply = NULL, *w, *r, *o;
	char			 cause[FB_CAUSE_MAX], msg[FB_CAUSE_MAX + 32];
	enum col_err		 e;

	if (config_executor_key(cfg, 1, &key, cause, sizeof(cause)) == -1)
		return json_pack("{s:n,s:s}", "answers", "error", cause);
	c = colonies_open(cfg->colonies_url, &key,
	    cfg->http_connect_timeout_ms, cfg->http_timeout_ms);
	crypto_key_clear(&key);
	if (c == NULL)
		return json_pack("{s:n,s:s}", "answers", "error",
		    "cannot create the ColonyOS client");
	if ((p = json_pack("{s:s}", "colonyname", cfg->colony)) == NULL) {
		colonies_free(c);
		return NULL;
	}
	e = colonies_call(c, "getcolonystatsmsg", p, 0, &reply, cause,
	    sizeof(cause));
	json_decref(p);
	colonies_free(c);
	if (e != COL_OK) {
		/* The server's answer to a non-member: 200 and nothing. */
		if (e == COL_PROTO && strstr(cause, "empty reply") != NULL)
			snprintf(msg, sizeof(msg), "not a member of the "
			    "colony");
		else
			snprintf(msg, sizeof(msg), "%s: %s", col_err_str(e),
			    cause);
		log_debug("queue: %s", msg);
		return json_pack("{s:b,s:s}", "answers", e != COL_TRANSPORT,
		    "error", msg);
	}
	w = json_object_get(reply, "waitingprocesses");
	r = json_object_get(reply, "runningprocesses");
	if (!json_is_integer(w) || !json_is_integer(r) ||
	    json_integer_value(w) < 0 || json_integer_value(r) < 0)
		o = json_pack("{s:b,s:s}", "answers", 1, "error",
		    "getcolonystatsmsg: no process counts in the reply");
	else
		o = json_pack("{s:b,s:I,s:I}", "answers", 1, "waiting",
		    json_integer_value(w), "running", json_integer_value(r));
	json_decref(reply);
	return o;
}

/* {"answers", "schema_version", "error"}: the database half. */
static json_t *
queue_ask_database(const struct fb_config *cfg)
{
	struct store	*st;
	char		 cause[FB_CAUSE_MAX];
	int		 version;
	json_t		*o;

	if ((st = store_open(cfg, cause, sizeof(cause))) == NULL)
		return json_pack("{s:b,s:s}", "answers", 0, "error", cause);
	if (store_schema_version(st, &version, cause, sizeof(cause)) != 0)
		o = json_pack("{s:b,s:s}", "answers", 0, "error", cause);
	else if (store_check_schema(st, cause, sizeof(cause)) == -1)
		o = json_pack("{s:b,s:i,s:s}", "answers", 1, "schema_version",
		    version, "error", cause);
	else
		o = json_pack("{s:b,s:i}", "answers", 1, "schema_version",
		    version);
	store_free(st);
	return o;
}

int
queue_main(const struct fb_config *cfg, int fd)
{
	json_t	*col, *db;
	int	 rc;

	col = queue_ask_colonies(cfg);
	db = queue_ask_database(cfg);
	rc = col != NULL && db != NULL ? FB_EX_OK : FB_EX_SOFTWARE;
	queue_answer(fd, json_pack("{s:o?,s:o?}", "colonies", col,
	    "database", db));
	return rc;
}

/* --- the master ----------------------------------------------------------- */

/*
 * Each try is one request bounded by connect_timeout + request_timeout,
 * then one database connection and two statements; past that and five
 * seconds, the child is stuck (SIGSTOPped server, library): killed, and
 * the error says so.
 */
static int64_t
queue_deadline(void)
{
	return (int64_t)master.cfg->http_connect_timeout_ms +
	    master.cfg->http_timeout_ms +
	    (int64_t)master.cfg->db_connect_timeout * 1000 +
	    2 * (int64_t)master.cfg->db_statement_timeout_ms + 5000;
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

static void
queue_dep_fail(struct queue_dep *d, const char *error)
{
	d->answers = -1;
	snprintf(d->error, sizeof(d->error), "%s", error);
}

/* One half of the child's answer: {"answers", "error", ...}. */
static void
queue_dep_read(struct queue_dep *d, json_t *o, int64_t now)
{
	json_t	*a = json_object_get(o, "answers");
	json_t	*e = json_object_get(o, "error");
	json_t	*v = json_object_get(o, "schema_version");

	if (!json_is_object(o)) {
		queue_dep_fail(d, "the probe gave no answer");
		return;
	}
	d->answers = json_is_boolean(a) ? json_is_true(a) : -1;
	d->checked = now;
	d->schema = json_is_integer(v) ? (int)json_integer_value(v) : -1;
	snprintf(d->error, sizeof(d->error), "%s", json_is_string(e) ?
	    json_string_value(e) : "");
}

/* If pid is the queue child: read its answer, keep it, return 1. */
int
queue_reaped(pid_t pid, int status)
{
	char	 buf[QUEUE_LINE_MAX], sbuf[64];
	ssize_t	 n;
	json_t	*o, *c, *e;
	int64_t	 w, r, now = clock_now_ms();

	if (pid != queue.pid || pid <= 0)
		return 0;
	queue.pid = 0;
	n = read(queue.fd, buf, sizeof(buf) - 1);
	close(queue.fd);
	queue.fd = -1;
	if (queue.killed) {
		snprintf(queue.error, sizeof(queue.error), "no answer in "
		    "%lld s", (long long)(queue_deadline() / 1000));
		queue_dep_fail(&queue.colonies, queue.error);
		queue_dep_fail(&queue.database, queue.error);
		return 1;
	}
	if (n <= 0) {
		proc_status_str(status, sbuf, sizeof(sbuf));
		snprintf(queue.error, sizeof(queue.error), "queue-depth child "
		    "gave no answer (%s)", sbuf);
		queue_dep_fail(&queue.colonies, queue.error);
		queue_dep_fail(&queue.database, queue.error);
		return 1;
	}
	buf[n] = '\0';
	o = json_loads(buf, 0, NULL);
	c = json_object_get(o, "colonies");
	queue_dep_read(&queue.colonies, c, now);
	queue_dep_read(&queue.database, json_object_get(o, "database"), now);
	if ((e = json_object_get(c, "error")) != NULL && json_is_string(e)) {
		snprintf(queue.error, sizeof(queue.error), "%s",
		    json_string_value(e));
	} else if (json_unpack(c, "{s:I,s:I}", "waiting", &w, "running",
	    &r) == 0 && w >= 0 && r >= 0) {
		queue.valid = 1;
		queue.waiting = w;
		queue.running = r;
		queue.measured = now;
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

/* 1 or 0 as the last probe of ColonyOS (0) or the database (1) found, -1. */
int
queue_answers(int database)
{
	if (master.ev_queue == NULL)
		return -1;
	return database ? queue.database.answers : queue.colonies.answers;
}

/*
 * status: {"answers", "age", "error"} for ColonyOS (which also carries
 * its URL) and the database (which also carries its schema version):
 * answers is null until probed, or when the probe is off.
 */
json_t *
queue_dep_json(int database)
{
	struct queue_dep	*d = database ? &queue.database :
				    &queue.colonies;
	json_t			*o;

	o = json_pack("{s:o,s:o,s:s?}",
	    "answers", d->answers < 0 || master.ev_queue == NULL ?
	    json_null() : json_boolean(d->answers),
	    "age", d->checked > 0 && master.ev_queue != NULL ?
	    json_real(round((double)(clock_now_ms() - d->checked) / 100) /
	    10) : json_null(),
	    "error", d->error[0] != '\0' && master.ev_queue != NULL ?
	    d->error : NULL);
	if (o == NULL)
		return json_null();
	if (database)
		json_object_set_new(o, "schema_version", d->schema >= 0 ?
		    json_integer(d->schema) : json_null());
	else
		json_object_set_new(o, "url",
		    json_string(master.cfg->colonies_url));
	return o;
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
