/*
 * report.c: what the admin socket shows of the pool: status (JSON, see
 * fbeectl(8)), the executors, and the Prometheus text exposition.  Reads
 * the master's slot table; changes nothing but the throughput ring.
 */
#include <sys/types.h>

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "financebeed.h"
#include "master.h"

/*
 * A figure rounded to what it means (status is read by people and
 * scripts: 0.3, not 0.30000000000000004; see admin_reply_json()).
 */
static double
report_round(double v, int decimals)
{
	double	f = 1;

	while (decimals-- > 0)
		f *= 10;
	return round(v * f) / f;
}

static uint64_t
report_total_tasks(void)
{
	uint64_t	n = fbee_counters_total(&master.retired);
	size_t		i;

	for (i = 1; i <= MASTER_MAX_SLOTS; i++)
		n += fbee_counters_total(&master.slots[i].live);
	return n;
}

/*
 * One sample of the task total per tick, a minute of them in a ring; the
 * first is taken at start.
 */
void
report_rate_sample(int64_t now)
{
	master.rate_total[master.rate_head] = report_total_tasks();
	master.rate_ms[master.rate_head] = now;
	master.rate_head = (master.rate_head + 1) % MASTER_RATE_SAMPLES;
	if (master.rate_n < MASTER_RATE_SAMPLES)
		master.rate_n++;
}

static const char *const report_outcomes[FBEE_NOUTCOMES] = {
	"applied", "duplicate", "ignored", "stale", "parked", "failed",
	"transient"
};

static json_t *
report_tasks_json(const struct fbee_counters *c)
{
	json_t	*o = json_object();
	size_t	 i;

	for (i = 0; i < FBEE_NOUTCOMES; i++)
		json_object_set_new(o, report_outcomes[i],
		    json_integer((json_int_t)c->tasks[i]));
	json_object_set_new(o, "lost", json_integer((json_int_t)c->lost));
	return o;
}

/* {name: count} of n counters; with sparse, only those not 0. */
static json_t *
report_by_json(const uint64_t *v, size_t n, const char *(*name)(int),
    int sparse)
{
	json_t	*o = json_object();
	size_t	 i;

	for (i = 0; i < n; i++)
		if (!sparse || v[i] != 0)
			json_object_set_new(o, name((int)i),
			    json_integer((json_int_t)v[i]));
	return o;
}

static json_t *
report_latency_json(const struct metrics_hist *h)
{
	/* Microseconds, as milliseconds with three decimals. */
	return json_pack("{s:f,s:f,s:f}",
	    "p50", report_round(metrics_hist_quantile(h, 0.50) / 1e3, 3),
	    "p95", report_round(metrics_hist_quantile(h, 0.95) / 1e3, 3),
	    "p99", report_round(metrics_hist_quantile(h, 0.99) / 1e3, 3));
}

static const char *
report_slot_state(const struct slot *s)
{
	switch (s->state) {
	case SLOT_RUNNING:
		if (s->drain_sent && s->beestate != FBEE_ST_WORKING)
			return "draining";
		return fbee_state_str(s->beestate);
	case SLOT_BACKOFF:
		return "backoff";
	case SLOT_FAILED:
		return "failed";
	case SLOT_STOPPED:
		if (s->reg_pid > 0)
			return "registering";
		break;
	}
	return "stopped";
}

/*
 * Tasks per second over the last minute.  A daemon younger than that has
 * no minute behind it: its window starts at the last sample before its
 * first task (not at its start, which would count the idle seconds before
 * any work came as work at rate zero), so the figure is the rate at which
 * it has worked since work began.
 */
static double
report_throughput(void)
{
	int64_t	now = clock_now_ms();
	size_t	oldest;

	if (master.rate_n == 0)
		return 0;
	if (master.rate_n < MASTER_RATE_SAMPLES) {
		for (oldest = 0; oldest + 1 < master.rate_n &&
		    master.rate_total[oldest + 1] == master.rate_total[0];
		    oldest++)
			;
	} else
		oldest = master.rate_head;
	if (now <= master.rate_ms[oldest])
		return 0;
	return report_round((double)(report_total_tasks() -
	    master.rate_total[oldest]) * 1000 / (double)(now -
	    master.rate_ms[oldest]), 2);
}

static const char *
report_dep_str(int dep)
{
	return dep == FBEE_DEP_DATABASE ? "database" : "colonies";
}

/*
 * The pool waits for a dependency when one of its bees does: since the
 * first of them noticed, with the error the last of them saw.
 */
static void
report_waiting_add(json_t *waiting, const struct slot *s)
{
	json_t	*w;
	double	 since;

	if ((w = json_object_get(waiting, report_dep_str(s->dep))) == NULL) {
		json_object_set_new(waiting, report_dep_str(s->dep),
		    json_pack("{s:f,s:s,s:i}", "since", s->dep_since, "error",
		    s->dep_cause, "bees", 1));
		return;
	}
	since = json_real_value(json_object_get(w, "since"));
	if (s->dep_since < since)
		json_object_set_new(w, "since", json_real(s->dep_since));
	else
		json_object_set_new(w, "error", json_string(s->dep_cause));
	json_object_set_new(w, "bees", json_integer(json_integer_value(
	    json_object_get(w, "bees")) + 1));
}

/* The intake processes: a summary and one entry each (intake.c). */
static json_t *
report_intake_json(void)
{
	struct fbee_counters	 all, sc;
	struct slot		*s;
	json_t			*procs, *req, *e;
	unsigned int		 k, running = 0;
	size_t			 i;
	char			 cause[FB_CAUSE_MAX];

	all = master.intake_retired;
	procs = json_array();
	for (k = 1; k <= MASTER_MAX_INTAKES; k++) {
		s = MASTER_INTAKE(k);
		(void)master_shm_peek(s, cause, sizeof(cause));
		fbee_counters_add(&all, &s->live);
		if (s->state == SLOT_RUNNING)
			running++;
		if (!master_slot_shown(s))
			continue;
		sc = s->retired;
		fbee_counters_add(&sc, &s->live);
		e = json_pack("{s:I,s:I,s:I,s:s,s:I,s:I,s:I,s:s?,s:f}",
		    "slot", (json_int_t)s->id,
		    "pid", (json_int_t)(s->state == SLOT_RUNNING ? s->pid : 0),
		    "generation", (json_int_t)s->generation,
		    "state", report_slot_state(s),
		    "requests", (json_int_t)(sc.intake[INTAKE_R_SUBMITTED] +
		    sc.intake[INTAKE_R_IGNORED]),
		    "rss_kb", (json_int_t)(s->state == SLOT_RUNNING ?
		    s->live.rss_kb : 0),
		    "restarts", (json_int_t)s->restarts,
		    "last_exit", s->last_exit[0] != '\0' ? s->last_exit : NULL,
		    "since", s->since);
		if (e != NULL)
			json_array_append_new(procs, e);
	}
	req = json_object();
	for (i = 0; i < INTAKE_R_MAX; i++)
		json_object_set_new(req, intake_result_str((int)i),
		    json_integer((json_int_t)all.intake[i]));
	return json_pack("{s:I,s:I,s:o,s:o,s:I,s:o}",
	    "target", (json_int_t)master.intake_target,
	    "running", (json_int_t)running,
	    "requests", req,
	    "submit_latency_ms", report_latency_json(&all.hist),
	    "submit_errors", (json_int_t)all.http_errors,
	    "processes", procs);
}

json_t *
report_status(void)
{
	struct fbee_counters	 pool, sc;
	struct slot		*s;
	json_t			*o, *bees, *b, *task, *p, *waiting;
	unsigned int		 running = 0;
	size_t			 i;
	const char		*state;
	char			 cause[FB_CAUSE_MAX];

	pool = master.retired;
	bees = json_array();
	waiting = json_object();
	for (i = 1; i <= MASTER_MAX_SLOTS; i++) {
		s = &master.slots[i];
		/* A corrupt page: its last good values; the watchdog acts. */
		(void)master_shm_peek(s, cause, sizeof(cause));
		fbee_counters_add(&pool, &s->live);
		if (s->state == SLOT_RUNNING)
			running++;
		if (!master_slot_shown(s))
			continue;
		sc = s->retired;
		fbee_counters_add(&sc, &s->live);
		task = json_null();
		if (s->state == SLOT_RUNNING &&
		    s->beestate == FBEE_ST_WORKING && s->processid[0] != '\0') {
			json_decref(task);
			task = json_pack("{s:s,s:s?,s:s,s:f}",
			    "process", s->processid,
			    "event", s->event[0] != '\0' ? s->event : NULL,
			    "phase", fbee_phase_str(s->phase),
			    "age", report_round((double)(clock_now_ms() -
			    s->task_start) / 1000, 3));
		}
		b = json_pack("{s:I,s:I,s:I,s:s,s:s,s:o,s:o,s:o,s:I,s:I,s:s?,"
		    "s:f,s:I,s:f}",
		    "slot", (json_int_t)s->id,
		    "pid", (json_int_t)(s->state == SLOT_RUNNING ? s->pid : 0),
		    "generation", (json_int_t)s->generation,
		    "executor", s->executor,
		    "state", report_slot_state(s),
		    "task", task,
		    "tasks", report_tasks_json(&sc),
		    "latency_ms", report_latency_json(&sc.hist),
		    "rss_kb", (json_int_t)(s->state == SLOT_RUNNING ?
		    s->live.rss_kb : 0),
		    "restarts", (json_int_t)s->restarts,
		    "last_exit", s->last_exit[0] != '\0' ? s->last_exit : NULL,
		    "since", s->since,
		    "polls", (json_int_t)(s->state == SLOT_RUNNING ? s->polls : 0),
		    "beat", s->state == SLOT_RUNNING && s->last_beat > 0 ?
		    report_round(master_now_wall() - (double)(clock_now_ms() -
		    s->last_beat) / 1000, 3) : 0.0);
		if (b == NULL)
			continue;
		if (s->cause[0] != '\0' && (s->state == SLOT_FAILED ||
		    s->state == SLOT_BACKOFF))
			json_object_set_new(b, "cause", json_string(s->cause));
		if (s->state == SLOT_RUNNING && s->dep != FBEE_DEP_NONE) {
			json_object_set_new(b, "waiting_for", json_pack(
			    "{s:s,s:f,s:s}", "dependency",
			    report_dep_str(s->dep), "since", s->dep_since,
			    "error", s->dep_cause));
			report_waiting_add(waiting, s);
		}
		json_array_append_new(bees, b);
	}
	if (master.state == MASTER_STOPPING)
		state = "stopping";
	else if (master.rolling)
		state = "reloading";
	else if (master.paused)
		state = "paused";
	else
		state = "running";
	p = json_pack("{s:o,s:f,s:o,s:o,s:o,s:I,s:I,s:I,s:o,s:f,s:f,s:I}",
	    "tasks", report_tasks_json(&pool),
	    "throughput_1m", report_throughput(),
	    "latency_ms", report_latency_json(&pool.hist),
	    "webhook_latency_ms", report_latency_json(&pool.w2c),
	    "revenue_lag_s", report_latency_json(&pool.lag),
	    "db_errors", (json_int_t)pool.db_errors,
	    "http_errors", (json_int_t)pool.http_errors,
	    "restarts", (json_int_t)master.restarts,
	    "waiting", waiting,
	    "db_wait_s", report_round((double)pool.db_wait_ms / 1000, 3),
	    "colonies_wait_s", report_round((double)pool.colonies_wait_ms /
	    1000, 3),
	    "unsettled", (json_int_t)settle_pending(NULL));
	if (p != NULL) {
		json_object_set_new(p, "failed_by_cause", report_by_json(
		    pool.failed, FBEE_NFAIL, fbee_fail_str, 0));
		json_object_set_new(p, "transient_by_cause", report_by_json(
		    pool.transient, FBEE_NTRANSIENT, fbee_transient_str, 0));
		json_object_set_new(p, "ignored_by_type", report_by_json(
		    pool.ignored, FBEE_NTYPES, fbee_event_type_str, 1));
		json_object_set_new(p, "duplicate_by_type", report_by_json(
		    pool.duplicate, FBEE_NTYPES, fbee_event_type_str, 1));
	}
	o = json_pack("{s:i,s:s,s:I,s:s,s:I,s:I,s:f,s:I,s:I,s:b,s:o,s:o,"
	    "s:o}",
	    "version", 1,
	    "state", state,
	    "pid", (json_int_t)getpid(),
	    "config", master.cfgpath,
	    "generation", (json_int_t)master.generation,
	    "started", (json_int_t)master.started_wall,
	    "uptime", report_round((double)(clock_now_ms() - master.started) /
	    1000, 3),
	    "bees_target", (json_int_t)master.target,
	    "bees_running", (json_int_t)running,
	    "crash_loop", master.crash_loop,
	    "throttled_until", master.crash_loop && master.throttled_until > 0 ?
	    json_real(master.throttled_until) : json_null(),
	    "pool", p != NULL ? p : json_null(),
	    "bees", bees);
	if (o != NULL) {
		json_object_set_new(o, "daemon_version",
		    json_string(PACKAGE_VERSION));
		json_object_set_new(o, "schema_version",
		    json_integer(FB_SCHEMA_VERSION));
		json_object_set_new(o, "colonies_url",
		    json_string(master.cfg->colonies_url));
		json_object_set_new(o, "queue", queue_json());
		json_object_set_new(o, "colonies", queue_dep_json(0));
		json_object_set_new(o, "database", queue_dep_json(1));
	}
	if (o != NULL && (master.nlfds > 0 || master.intake_target > 0))
		json_object_set_new(o, "intake", report_intake_json());
	return o;
}

json_t *
report_executors(void)
{
	struct slot	*s;
	json_t		*a = json_array(), *e;
	char		 cause[FB_CAUSE_MAX];
	size_t		 i;
	const char	*reg;

	for (i = 1; i <= MASTER_MAX_SLOTS; i++) {
		s = &master.slots[i];
		if (!master_slot_shown(s))
			continue;
		if (s->executorid[0] == '\0')
			(void)master_identity(s, cause, sizeof(cause));
		if (s->registered == 1)
			reg = "yes";
		else if (s->auth_refused)
			reg = "no";
		else
			reg = "unknown";
		e = json_pack("{s:I,s:s,s:s,s:s}", "slot", (json_int_t)s->id,
		    "name", s->executor, "id", s->executorid,
		    "registered", reg);
		if (e != NULL)
			json_array_append_new(a, e);
	}
	return a;
}

/* A growing buffer for the metrics text. */
struct mbuf {
	char	*p;
	size_t	 len;
	size_t	 cap;
	int	 oom;
};

static void mbuf_printf(struct mbuf *, const char *, ...)
    __attribute__((__format__(__printf__, 2, 3)));

static void
mbuf_printf(struct mbuf *b, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;
	char	*np;

	if (b->oom)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = 1;
			return;
		}
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		if ((np = realloc(b->p, b->cap * 2 + (size_t)n)) == NULL) {
			b->oom = 1;
			return;
		}
		b->p = np;
		b->cap = b->cap * 2 + (size_t)n;
	}
}

static unsigned int
report_waiting_count(int dep)
{
	unsigned int	n = 0;
	size_t		i;

	for (i = 1; i <= MASTER_MAX_SLOTS; i++)
		if (master.slots[i].state == SLOT_RUNNING &&
		    master.slots[i].dep == dep)
			n++;
	return n;
}

static void	report_hist_metrics(struct mbuf *, const char *, const char *,
		    const struct metrics_hist *, double);

/* Prometheus lines for the intake and the webhook -> commit latency. */
static void
report_intake_metrics(struct mbuf *b, const struct fbee_counters *pool)
{
	struct fbee_counters	 all = master.intake_retired;
	unsigned int		 k;
	size_t			 i;

	for (k = 1; k <= MASTER_MAX_INTAKES; k++)
		fbee_counters_add(&all, &MASTER_INTAKE(k)->live);
	mbuf_printf(b, "# HELP financebee_intake_requests_total Webhook "
	    "requests answered by the intake, by reply.\n"
	    "# TYPE financebee_intake_requests_total counter\n");
	for (i = 0; i < INTAKE_R_MAX; i++)
		mbuf_printf(b, "financebee_intake_requests_total{reply=\"%s\"} "
		    "%" PRIu64 "\n", intake_result_str((int)i), all.intake[i]);
	report_hist_metrics(b, "financebee_webhook_to_commit_seconds",
	    "From the intake's receipt of a webhook to its commit by a bee.",
	    &pool->w2c, 1e6);
}

/* A histogram family from h, whose unit is 1/per of a second. */
static void
report_hist_metrics(struct mbuf *b, const char *name, const char *help,
    const struct metrics_hist *h, double per)
{
	uint64_t	cum = 0;
	size_t		i;

	mbuf_printf(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help,
	    name);
	for (i = 0; i < METRICS_NBUCKETS - 1; i++) {
		cum += h->buckets[i];
		mbuf_printf(b, "%s_bucket{le=\"%.6g\"} %" PRIu64 "\n", name,
		    (double)metrics_hist_bound((unsigned int)i) / per, cum);
	}
	mbuf_printf(b, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n"
	    "%s_sum %.6f\n%s_count %" PRIu64 "\n", name, h->count, name,
	    (double)h->sum_us / per, name, h->count);
}

/* financebee_dependency_up: 1 or 0 as the last probe found, when it did. */
static void
report_up_metrics(struct mbuf *b)
{
	int	col = queue_answers(0), db = queue_answers(1);

	if (col < 0 && db < 0)
		return;
	mbuf_printf(b, "# HELP financebee_dependency_up Whether the "
	    "dependency answered the master's last probe.\n"
	    "# TYPE financebee_dependency_up gauge\n");
	if (col >= 0)
		mbuf_printf(b, "financebee_dependency_up{dependency="
		    "\"colonies\"} %d\n", col);
	if (db >= 0)
		mbuf_printf(b, "financebee_dependency_up{dependency="
		    "\"database\"} %d\n", db);
}

char *
report_metrics_text(void)
{
	struct fbee_counters	 pool;
	struct mbuf		 b;
	struct slot		*s;
	unsigned int		 bystate[FBEE_ST_MAX + 4];
	static const char *const extra[4] = { "backoff", "failed", "stopped",
	    "registering" };
	uint64_t		 cum = 0;
	int64_t			 qw, qr;
	size_t			 i, j;
	char			 cause[FB_CAUSE_MAX];

	memset(&b, 0, sizeof(b));
	b.cap = 4096;
	if ((b.p = malloc(b.cap)) == NULL)
		return NULL;
	b.p[0] = '\0';
	memset(bystate, 0, sizeof(bystate));
	pool = master.retired;
	for (i = 1; i <= MASTER_MAX_SLOTS; i++) {
		s = &master.slots[i];
		(void)master_shm_peek(s, cause, sizeof(cause));
		fbee_counters_add(&pool, &s->live);
		if (!master_slot_shown(s))
			continue;
		if (s->state == SLOT_RUNNING)
			bystate[s->beestate < FBEE_ST_MAX ? s->beestate : 0]++;
		else if (s->state == SLOT_BACKOFF)
			bystate[FBEE_ST_MAX]++;
		else if (s->state == SLOT_FAILED)
			bystate[FBEE_ST_MAX + 1]++;
		else if (s->reg_pid > 0)
			bystate[FBEE_ST_MAX + 3]++;
		else
			bystate[FBEE_ST_MAX + 2]++;
	}
	mbuf_printf(&b, "# HELP financebee_up Whether the supervisor is "
	    "running.\n# TYPE financebee_up gauge\nfinancebee_up 1\n");
	mbuf_printf(&b, "# HELP financebee_tasks_total Processes closed, by "
	    "outcome (transient: left unclosed to be retried).\n"
	    "# TYPE financebee_tasks_total counter\n");
	for (i = 0; i < FBEE_NOUTCOMES; i++)
		mbuf_printf(&b, "financebee_tasks_total{outcome=\"%s\"} %"
		    PRIu64 "\n", report_outcomes[i], pool.tasks[i]);
	mbuf_printf(&b, "# HELP financebee_lost_total Processes whose "
	    "ownership was lost before the close.\n"
	    "# TYPE financebee_lost_total counter\n"
	    "financebee_lost_total %" PRIu64 "\n", pool.lost);
	mbuf_printf(&b, "# HELP financebee_task_duration_seconds Time from "
	    "assignment to close.\n"
	    "# TYPE financebee_task_duration_seconds histogram\n");
	for (i = 0; i < METRICS_NBUCKETS - 1; i++) {
		cum += pool.hist.buckets[i];
		mbuf_printf(&b, "financebee_task_duration_seconds_bucket"
		    "{le=\"%.6g\"} %" PRIu64 "\n",
		    (double)metrics_hist_bound((unsigned int)i) / 1e6, cum);
	}
	mbuf_printf(&b, "financebee_task_duration_seconds_bucket{le=\"+Inf\"} "
	    "%" PRIu64 "\n", pool.hist.count);
	mbuf_printf(&b, "financebee_task_duration_seconds_sum %.6f\n"
	    "financebee_task_duration_seconds_count %" PRIu64 "\n",
	    (double)pool.hist.sum_us / 1e6, pool.hist.count);
	mbuf_printf(&b, "# HELP financebee_bees Bees by state.\n"
	    "# TYPE financebee_bees gauge\n");
	for (i = 0; i < FBEE_ST_MAX; i++)
		mbuf_printf(&b, "financebee_bees{state=\"%s\"} %u\n",
		    fbee_state_str((int)i), bystate[i]);
	for (j = 0; j < 4; j++)
		mbuf_printf(&b, "financebee_bees{state=\"%s\"} %u\n", extra[j],
		    bystate[FBEE_ST_MAX + j]);
	mbuf_printf(&b, "# HELP financebee_bees_target Bees wanted.\n"
	    "# TYPE financebee_bees_target gauge\n"
	    "financebee_bees_target %u\n", master.target);
	mbuf_printf(&b, "# HELP financebee_bee_restarts_total Bees respawned "
	    "after a failure.\n# TYPE financebee_bee_restarts_total counter\n"
	    "financebee_bee_restarts_total %u\n", master.restarts);
	mbuf_printf(&b, "# HELP financebee_crash_loop Whether respawns are "
	    "throttled.\n# TYPE financebee_crash_loop gauge\n"
	    "financebee_crash_loop %d\n", master.crash_loop);
	mbuf_printf(&b, "# HELP financebee_db_errors_total Transient database "
	    "failures.\n# TYPE financebee_db_errors_total counter\n"
	    "financebee_db_errors_total %" PRIu64 "\n", pool.db_errors);
	mbuf_printf(&b, "# HELP financebee_db_wait_seconds_total Time bees "
	    "spent waiting for the database to answer.\n"
	    "# TYPE financebee_db_wait_seconds_total counter\n"
	    "financebee_db_wait_seconds_total %.3f\n",
	    (double)pool.db_wait_ms / 1000);
	mbuf_printf(&b, "# HELP financebee_colonies_wait_seconds_total Time "
	    "bees spent waiting for ColonyOS to answer.\n"
	    "# TYPE financebee_colonies_wait_seconds_total counter\n"
	    "financebee_colonies_wait_seconds_total %.3f\n",
	    (double)pool.colonies_wait_ms / 1000);
	mbuf_printf(&b, "# HELP financebee_waiting_bees Bees waiting for a "
	    "dependency.\n# TYPE financebee_waiting_bees gauge\n"
	    "financebee_waiting_bees{dependency=\"database\"} %u\n"
	    "financebee_waiting_bees{dependency=\"colonies\"} %u\n",
	    report_waiting_count(FBEE_DEP_DATABASE),
	    report_waiting_count(FBEE_DEP_COLONIES));
	mbuf_printf(&b, "# HELP financebee_http_errors_total Failed ColonyOS "
	    "calls.\n# TYPE financebee_http_errors_total counter\n"
	    "financebee_http_errors_total %" PRIu64 "\n", pool.http_errors);
	mbuf_printf(&b, "# HELP financebee_failures_total Tasks failed for "
	    "good, by cause.\n# TYPE financebee_failures_total counter\n");
	for (i = 0; i < FBEE_NFAIL; i++)
		mbuf_printf(&b, "financebee_failures_total{cause=\"%s\"} %"
		    PRIu64 "\n", fbee_fail_str((int)i), pool.failed[i]);
	mbuf_printf(&b, "# HELP financebee_retries_total Transient failures, "
	    "tried again, by cause.\n"
	    "# TYPE financebee_retries_total counter\n");
	for (i = 0; i < FBEE_NTRANSIENT; i++)
		mbuf_printf(&b, "financebee_retries_total{cause=\"%s\"} %"
		    PRIu64 "\n", fbee_transient_str((int)i),
		    pool.transient[i]);
	mbuf_printf(&b, "# HELP financebee_events_total Events ignored or "
	    "already applied, by Stripe event type.\n"
	    "# TYPE financebee_events_total counter\n");
	for (i = 0; i < FBEE_NTYPES; i++)
		mbuf_printf(&b, "financebee_events_total{outcome=\"ignored\","
		    "type=\"%s\"} %" PRIu64 "\n"
		    "financebee_events_total{outcome=\"duplicate\","
		    "type=\"%s\"} %" PRIu64 "\n",
		    fbee_event_type_str((int)i), pool.ignored[i],
		    fbee_event_type_str((int)i), pool.duplicate[i]);
	mbuf_printf(&b, "# HELP financebee_bee_rss_bytes Resident memory of "
	    "each bee.\n# TYPE financebee_bee_rss_bytes gauge\n");
	for (i = 1; i <= MASTER_MAX_SLOTS; i++) {
		s = &master.slots[i];
		if (s->state == SLOT_RUNNING && s->live.rss_kb > 0)
			mbuf_printf(&b, "financebee_bee_rss_bytes{slot=\"%u\"} "
			    "%" PRId64 "\n", s->id, s->live.rss_kb * 1024);
	}
	report_intake_metrics(&b, &pool);
	report_hist_metrics(&b, "financebee_revenue_lag_seconds", "From the "
	    "Stripe event's creation (its created field) to its commit, of "
	    "applied events.", &pool.lag, 1e3);
	mbuf_printf(&b, "# HELP financebee_master_rss_bytes Resident memory "
	    "of the master.\n# TYPE financebee_master_rss_bytes gauge\n"
	    "financebee_master_rss_bytes %ld\n", metrics_rss_kb(getpid()) *
	    1024);
	/* Absent until measured: no gauge stands for "unknown". */
	report_up_metrics(&b);
	if (queue_get(&qw, &qr) == 0)
		mbuf_printf(&b, "# HELP financebee_queue_waiting Processes "
		    "waiting at the ColonyOS server (last measured).\n"
		    "# TYPE financebee_queue_waiting gauge\n"
		    "financebee_queue_waiting %" PRId64 "\n"
		    "# HELP financebee_queue_running Processes running at the "
		    "ColonyOS server (last measured).\n"
		    "# TYPE financebee_queue_running gauge\n"
		    "financebee_queue_running %" PRId64 "\n", qw, qr);
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

/*
 * The periodic stats line (metrics.stats_interval): what an operator
 * tails the log for, in one line.
 */
void
report_stats_line(char *buf, size_t len)
{
	struct fbee_counters	 pool;
	struct slot		*s;
	unsigned int		 running = 0;
	long			 beekb = 0;
	size_t			 i;
	char			 cause[FB_CAUSE_MAX], qbuf[48];
	int64_t			 qw, qr;

	pool = master.retired;
	for (i = 1; i <= MASTER_MAX_SLOTS; i++) {
		s = &master.slots[i];
		(void)master_shm_peek(s, cause, sizeof(cause));
		fbee_counters_add(&pool, &s->live);
		if (s->state == SLOT_RUNNING) {
			running++;
			beekb += (long)s->live.rss_kb;
		}
	}
	if (queue_get(&qw, &qr) == 0)
		snprintf(qbuf, sizeof(qbuf), "%" PRId64 " waiting %" PRId64
		    " running", qw, qr);
	else
		snprintf(qbuf, sizeof(qbuf), "unknown");
	snprintf(buf, len, "stats: %.2f tasks/s, p95 %.3f ms, tasks %" PRIu64
	    " (applied %" PRIu64 ", failed %" PRIu64 ", transient %" PRIu64
	    "), errors db %" PRIu64 " http %" PRIu64 ", bees %u/%u, "
	    "queue %s, rss master %ld kB, bees %ld kB",
	    report_throughput(),
	    (double)metrics_hist_quantile(&pool.hist, 0.95) / 1e3,
	    fbee_counters_total(&pool), pool.tasks[OUTCOME_APPLIED],
	    pool.tasks[OUTCOME_FAILED], pool.tasks[OUTCOME_TRANSIENT],
	    pool.db_errors, pool.http_errors, running, master.target, qbuf,
	    metrics_rss_kb(getpid()), beekb);
}
