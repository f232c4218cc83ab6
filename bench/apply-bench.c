/*
 * apply-bench: the cost of the apply path of a bee (task_run: guardian,
 * normalisation, one fb_apply_event() round trip) on a typical ~5 KB
 * customer.subscription.updated, next to pgbench driving the same SQL
 * function at the same concurrency.  Run by bench/apply-bench.sh, which
 * starts a throwaway PostgreSQL; by hand: PG* environment set,
 *
 *	apply-bench -c financebee.conf [-n events] [-j workers] [-T seconds]
 */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "financebeed.h"

#define NUSERS		1000
#define CREATED0	1766592001LL
#define PGBENCH		"/usr/lib/postgresql/15/bin/pgbench"
#define PGTX		"number of transactions actually processed: "

struct result {
	uint64_t	cpu_us;
	uint64_t	sys_us;
	uint64_t	events;
	uint64_t	round_trips;
	uint64_t	applied;
	uint64_t	bad;
	uint64_t	retries;
	uint64_t	guard_ns;	/* guardian + normalise, in the loop */
	uint64_t	server_calls;	/* of fb_apply_event(), by the server */
	uint64_t	db_ns;		/* CPU of the backends serving them */
};

/*
 * In the loop, guardian + normalise is timed from task_run()'s start to
 * its "applying" hook on the monotonic clock (a vDSO call, not a system
 * call; nothing in between blocks, so it is CPU time unless preempted).
 */
static uint64_t	guard_t0, guard_sum;

static uint64_t
mono_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

static void
guard_done(void *arg)
{
	(void)arg;
	guard_sum += mono_ns() - guard_t0;
}

/*
 * CPU time of a process in ns, from /proc/PID/schedstat: here the
 * PostgreSQL backend serving a worker (same machine, readable as root or
 * as its owner).  0 when unreadable.
 */
static uint64_t
proc_cpu_ns(int pid)
{
	FILE		*f;
	char		 path[64];
	unsigned long long v = 0;

	snprintf(path, sizeof(path), "/proc/%d/schedstat", pid);
	if (pid <= 0 || (f = fopen(path, "r")) == NULL)
		return 0;
	if (fscanf(f, "%llu", &v) != 1)
		v = 0;
	fclose(f);
	return v;
}

/* CPU microseconds of who (RUSAGE_SELF or _CHILDREN): user + system. */
static uint64_t
rusage_us(int who, int sys_only)
{
	struct rusage	ru;
	uint64_t	us;

	getrusage(who, &ru);
	us = (uint64_t)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec;
	if (!sys_only)
		us += (uint64_t)ru.ru_utime.tv_sec * 1000000 +
		    ru.ru_utime.tv_usec;
	return us;
}

static uint64_t
cpu_us(void)
{
	return rusage_us(RUSAGE_SELF, 0);
}

static uint64_t
sys_us(void)
{
	return rusage_us(RUSAGE_SELF, 1);
}

static uint64_t
children_us(void)
{
	return rusage_us(RUSAGE_CHILDREN, 0);
}

static double
wall(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
sql(PGconn *db, const char *q)
{
	PGresult	*res = PQexec(db, q);

	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
	    PQresultStatus(res) != PGRES_TUPLES_OK) {
		fprintf(stderr, "apply-bench: %s: %s", q, PQerrorMessage(db));
		exit(1);
	}
	PQclear(res);
}

/*
 * The server's own count of fb_apply_event() calls (pg_stat_user_functions;
 * main() sets track_functions = pl for the database), once the stats of
 * every backend but ours are in: a backend flushes them when it exits, so
 * first wait for the workers' backends (application_name financebee) to
 * be gone.
 */
static uint64_t
server_calls(PGconn *db)
{
	PGresult	*res;
	uint64_t	 n;
	int		 i, left = 1;

	for (i = 0; i < 100 && left; i++) {
		res = PQexec(db, "SELECT count(*) FROM pg_stat_activity WHERE "
		    "application_name = 'financebee' AND pid <> "
		    "pg_backend_pid()");
		left = PQresultStatus(res) == PGRES_TUPLES_OK &&
		    atoi(PQgetvalue(res, 0, 0)) > 0;
		PQclear(res);
		if (left)
			usleep(50000);
	}
	res = PQexec(db, "SELECT coalesce(sum(calls), 0) FROM "
	    "pg_stat_user_functions WHERE funcname = 'fb_apply_event'");
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		fprintf(stderr, "apply-bench: pg_stat_user_functions: %s",
		    PQerrorMessage(db));
		exit(1);
	}
	n = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return n;
}

/* A basil renewal, with the fields a real subscription object carries. */
static json_t *
event_template(void)
{
	static const char text[] =
	"{\"id\":\"evt_x\",\"object\":\"event\",\"api_version\":"
	"\"2025-03-31.basil\",\"created\":0,\"data\":{\"object\":{"
	"\"id\":\"sub_x\",\"object\":\"subscription\",\"application\":null,"
	"\"application_fee_percent\":null,\"automatic_tax\":{\"disabled_reason\":"
	"null,\"enabled\":false,\"liability\":null},\"billing_cycle_anchor\":"
	"1764000000,\"billing_cycle_anchor_config\":null,\"billing_thresholds\":"
	"null,\"cancel_at\":null,\"cancel_at_period_end\":false,\"canceled_at\":"
	"null,\"cancellation_details\":{\"comment\":null,\"feedback\":null,"
	"\"reason\":null},\"collection_method\":\"charge_automatically\","
	"\"created\":1764000000,\"currency\":\"usd\",\"customer\":\"cus_x\","
	"\"days_until_due\":null,\"default_payment_method\":"
	"\"pm_1SXa2bC3dE4fG5hIcard0001\",\"default_source\":null,"
	"\"default_tax_rates\":[],\"description\":null,\"discounts\":[],"
	"\"ended_at\":null,\"invoice_settings\":{\"account_tax_ids\":null,"
	"\"issuer\":{\"type\":\"self\"}},\"items\":{\"object\":\"list\","
	"\"data\":[{\"id\":\"si_TaZ9aaaaaaaaa1\",\"object\":"
	"\"subscription_item\",\"billing_thresholds\":null,\"created\":"
	"1764000000,\"current_period_end\":1769270400,\"current_period_start\":"
	"1766592000,\"discounts\":[],\"metadata\":{},\"plan\":{\"id\":"
	"\"price_silver_monthly\",\"object\":\"plan\",\"active\":true,"
	"\"aggregate_usage\":null,\"amount\":1999,\"amount_decimal\":\"1999\","
	"\"billing_scheme\":\"per_unit\",\"created\":1760000000,\"currency\":"
	"\"usd\",\"interval\":\"month\",\"interval_count\":1,\"livemode\":false,"
	"\"metadata\":{},\"meter\":null,\"nickname\":\"Silver monthly\","
	"\"product\":\"prod_SfbJ0xK1Lq2w3e\",\"tiers_mode\":null,"
	"\"transform_usage\":null,\"trial_period_days\":null,\"usage_type\":"
	"\"licensed\"},\"price\":{\"id\":\"price_silver_monthly\",\"object\":"
	"\"price\",\"active\":true,\"billing_scheme\":\"per_unit\",\"created\":"
	"1760000000,\"currency\":\"usd\",\"custom_unit_amount\":null,"
	"\"livemode\":false,\"lookup_key\":null,\"metadata\":{},\"nickname\":"
	"\"Silver monthly\",\"product\":\"prod_SfbJ0xK1Lq2w3e\",\"recurring\":{"
	"\"aggregate_usage\":null,\"interval\":\"month\",\"interval_count\":1,"
	"\"meter\":null,\"trial_period_days\":null,\"usage_type\":\"licensed\"},"
	"\"tax_behavior\":\"unspecified\",\"tiers_mode\":null,"
	"\"transform_quantity\":null,\"type\":\"recurring\",\"unit_amount\":1999,"
	"\"unit_amount_decimal\":\"1999\"},\"quantity\":1,\"subscription\":"
	"\"sub_x\",\"tax_rates\":[]}],\"has_more\":false,\"total_count\":1,"
	"\"url\":\"/v1/subscription_items?subscription=sub_x\"},"
	"\"latest_invoice\":\"in_1SXa2bC3dE4fG5hI6jK7lM8n\",\"livemode\":false,"
	"\"metadata\":{\"plan\":\"silver\",\"source\":\"web\"},"
	"\"next_pending_invoice_item_invoice\":null,\"on_behalf_of\":null,"
	"\"pause_collection\":null,\"payment_settings\":{\"payment_method_options\":"
	"null,\"payment_method_types\":null,\"save_default_payment_method\":"
	"\"off\"},\"pending_invoice_item_interval\":null,\"pending_setup_intent\":"
	"null,\"pending_update\":null,\"plan\":{\"id\":\"price_silver_monthly\","
	"\"object\":\"plan\",\"active\":true,\"amount\":1999,\"currency\":\"usd\","
	"\"interval\":\"month\",\"interval_count\":1,\"product\":"
	"\"prod_SfbJ0xK1Lq2w3e\"},\"quantity\":1,\"schedule\":null,"
	"\"start_date\":1764000000,\"status\":\"active\",\"test_clock\":null,"
	"\"transfer_data\":null,\"trial_end\":null,\"trial_settings\":{"
	"\"end_behavior\":{\"missing_payment_method\":\"create_invoice\"}},"
	"\"trial_start\":null},\"previous_attributes\":{\"items\":{\"data\":[{"
	"\"id\":\"si_TaZ9aaaaaaaaa1\",\"current_period_end\":1766592000,"
	"\"current_period_start\":1764000000}]}}},\"livemode\":false,"
	"\"pending_webhooks\":1,\"request\":{\"id\":\"req_h3Q2nK8sZx1aBc\","
	"\"idempotency_key\":null},\"type\":\"customer.subscription.updated\"}";
	json_error_t	err;
	json_t		*j = json_loads(text, 0, &err);

	if (j == NULL) {
		fprintf(stderr, "apply-bench: template: %s\n", err.text);
		exit(1);
	}
	return j;
}

static char *
event_text(json_t *tmpl, unsigned int w, uint64_t i, unsigned int u,
    size_t *len)
{
	json_t	*obj = json_object_get(json_object_get(tmpl, "data"), "object");
	json_t	*item = json_array_get(json_object_get(json_object_get(obj,
		    "items"), "data"), 0);
	char	 id[64], sub[64], cus[64];
	char	*s;

	snprintf(id, sizeof(id), "evt_1Bench%02u%012llu", w,
	    (unsigned long long)i);
	snprintf(sub, sizeof(sub), "sub_1Bench%06u", u);
	snprintf(cus, sizeof(cus), "cus_Bench%06u", u);
	json_object_set_new(tmpl, "id", json_string(id));
	json_object_set_new(tmpl, "created", json_integer(CREATED0 +
	    (json_int_t)i));
	json_object_set_new(obj, "id", json_string(sub));
	json_object_set_new(obj, "customer", json_string(cus));
	json_object_set_new(item, "subscription", json_string(sub));
	/* Stripe sends pretty-printed bodies. */
	s = json_dumps(tmpl, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	*len = strlen(s);
	return s;
}

static void
guardian_in(struct guardian_input *in, const struct fb_config *cfg,
    const char *text, size_t len)
{
	memset(in, 0, sizeof(*in));
	in->funcname = cfg->funcnames[0];
	in->args = json_array();
	in->kwargs = json_object();
	in->now = CREATED0;
	json_array_append_new(in->args, json_stringn_nocheck(text, len));
}

/*
 * Run nworkers processes over their share of the events: raw texts through
 * task_run(), or (texts NULL) normalised change documents through
 * task_apply_text().
 */
static void
run_workers(PGconn *db, const struct fb_config *cfg, unsigned int nworkers,
    unsigned int per, char **texts, size_t *lens, char **docs,
    struct result *tot, double *t0, double *t1)
{
	struct guardian_input	 in;
	struct task_result	 tr;
	struct result		 r;
	struct store		*s;
	char			 cause[FB_CAUSE_MAX];
	unsigned int		 w, k;
	uint64_t		 i, c0, x0, d0;
	int			 go[2], res[2], status, bpid;
	pid_t			*pids;
	char			 x;

	if (pipe(go) == -1 || pipe(res) == -1)
		exit(1);
	pids = calloc(nworkers, sizeof(*pids));
	fflush(stdout);
	for (w = 0; w < nworkers; w++) {
		if ((pids[w] = fork()) != 0)
			continue;
		close(go[1]);
		memset(&r, 0, sizeof(r));
		if ((s = store_open(cfg, cause, sizeof(cause))) == NULL)
			_exit(1);
		(void)read(go[0], &x, 1);
		bpid = store_backend_pid(s);
		d0 = proc_cpu_ns(bpid);
		c0 = cpu_us();
		r.sys_us = sys_us();
		r.round_trips = store_round_trips(s);
		for (i = 0; i < per; i++) {
			k = w * per + (unsigned int)i;
			memset(&tr, 0, sizeof(tr));
			if (texts != NULL) {
				guardian_in(&in, cfg, texts[k], lens[k]);
				in.applying = guard_done;
				guard_t0 = mono_ns();
				task_run(cfg, s, &in, 0, clock_now_ms() + 20000,
				    &tr);
				json_decref(in.args);
				json_decref(in.kwargs);
			} else
				task_apply_text(s, docs[k], NULL, 0,
				    clock_now_ms() + 20000, &tr);
			if (tr.outcome == OUTCOME_APPLIED)
				r.applied++;
			else if (r.bad++ == 0)
				fprintf(stderr, "apply-bench: %s %s\n",
				    store_outcome_str(tr.outcome), tr.reason);
			r.retries += tr.attempts > 0 ? tr.attempts - 1 : 0;
			task_result_clear(&tr);
		}
		r.cpu_us = cpu_us() - c0;
		r.sys_us = sys_us() - r.sys_us;
		/* The same backend still (a reconnect would make this 0). */
		if (store_backend_pid(s) == bpid && proc_cpu_ns(bpid) >= d0)
			r.db_ns = proc_cpu_ns(bpid) - d0;
		r.round_trips = store_round_trips(s) - r.round_trips;
		r.events = per;
		r.guard_ns = guard_sum;
		store_free(s);
		(void)write(res[1], &r, sizeof(r));
		_exit(0);
	}
	close(go[0]);
	close(res[1]);
	sleep(1);		/* let every worker connect */
	memset(tot, 0, sizeof(*tot));
	x0 = server_calls(db);
	*t0 = wall();
	close(go[1]);
	for (w = 0; w < nworkers; w++) {
		if (read(res[0], &r, sizeof(r)) != (ssize_t)sizeof(r)) {
			fprintf(stderr, "apply-bench: a worker died\n");
			exit(1);
		}
		tot->cpu_us += r.cpu_us;
		tot->sys_us += r.sys_us;
		tot->events += r.events;
		tot->round_trips += r.round_trips;
		tot->applied += r.applied;
		tot->bad += r.bad;
		tot->retries += r.retries;
		tot->guard_ns += r.guard_ns;
		tot->db_ns += r.db_ns;
	}
	*t1 = wall();
	close(res[0]);
	for (w = 0; w < nworkers; w++)
		waitpid(pids[w], &status, 0);
	free(pids);
	tot->server_calls = server_calls(db) - x0;
}

/*
 * CPU time, in ns, of the postmaster's children that have exited (cutime +
 * cstime of /proc/PID/stat, clock ticks): pgbench's backends, once they
 * are gone, and autovacuum workers.  0 when unknown.
 */
static uint64_t
reaped_backends_ns(PGconn *db)
{
	PGresult	*res;
	FILE		*f;
	char		 path[PATH_MAX], buf[1024], *p;
	unsigned long long cu = 0, cs = 0;
	int		 pid = 0, i;

	res = PQexec(db, "SHOW data_directory");
	if (PQresultStatus(res) == PGRES_TUPLES_OK) {
		snprintf(path, sizeof(path), "%s/postmaster.pid",
		    PQgetvalue(res, 0, 0));
		if ((f = fopen(path, "r")) != NULL) {
			if (fscanf(f, "%d", &pid) != 1)
				pid = 0;
			fclose(f);
		}
	}
	PQclear(res);
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (pid <= 0 || (f = fopen(path, "r")) == NULL)
		return 0;
	if (fgets(buf, sizeof(buf), f) == NULL ||
	    (p = strrchr(buf, ')')) == NULL) {
		fclose(f);
		return 0;
	}
	fclose(f);
	/* Fields after the name: state is 3; cutime 16, cstime 17. */
	for (i = 3, p += 2; i < 16 && p != NULL; i++)
		if ((p = strchr(p, ' ')) != NULL)
			p++;
	if (p == NULL || sscanf(p, "%llu %llu", &cu, &cs) != 2)
		return 0;
	return (cu + cs) * (1000000000ULL / (unsigned long long)sysconf(
	    _SC_CLK_TCK));
}

/* Run a pgbench command line: its tps (excluding connections) and count. */
static double
pgbench_run(const char *cmd, uint64_t *ntx)
{
	FILE	*p;
	char	 out[512];
	double	 tps = -1;

	*ntx = 0;
	if ((p = popen(cmd, "r")) == NULL)
		return -1;
	while (fgets(out, sizeof(out), p) != NULL) {
		if (strncmp(out, PGTX, strlen(PGTX)) == 0)
			*ntx = strtoull(out + strlen(PGTX), NULL, 10);
		if (strncmp(out, "tps = ", 6) == 0 &&
		    strstr(out, "without") != NULL)
			tps = atof(out + 6);
		if (strstr(out, "error") || strstr(out, "ERROR"))
			fprintf(stderr, "pgbench: %s", out);
	}
	pclose(p);
	return tps;
}

/*
 * -e EVENTS -u USERS: B as the pool sees it.  Every event of a pool run
 * (one JSON text per line) is normalised as a bee does, its change
 * document stored in bench_docs in run order, and pgbench applies each
 * document once, in that order, through the same function: the same
 * statements on the same data.  (The lookup by nextval() is an extra
 * index scan per transaction, so B is, if anything, understated; the
 * subquery makes nextval() run once, not once per row.)
 */
static int
events_pgbench(const struct fb_config *cfg, PGconn *db, const char *evfile,
    const char *usersfile, unsigned int nworkers)
{
	struct guardian_input	 in;
	json_t			*change;
	FILE			*f, *p;
	char			*line = NULL, *doc, cause[FB_CAUSE_MAX], q[1024];
	char			 script[256];
	const char		*vals[2];
	char			 num[32];
	size_t			 cap = 0;
	ssize_t			 len;
	uint64_t		 ndocs = 0, pgtx = 0, c0, b0, b1;
	double			 tps = -1;
	PGresult		*res;
	int			 i, busy;

	sql(db, "DROP TABLE IF EXISTS bench_docs; CREATE TABLE bench_docs "
	    "(i bigint PRIMARY KEY, doc jsonb NOT NULL); DROP SEQUENCE IF "
	    "EXISTS bench_i; CREATE SEQUENCE bench_i");
	if ((f = fopen(usersfile, "r")) == NULL) {
		fprintf(stderr, "apply-bench: %s: %s\n", usersfile,
		    strerror(errno));
		return 1;
	}
	while ((len = getline(&line, &cap, f)) > 0) {
		line[strcspn(line, "\n")] = '\0';
		vals[0] = line;
		res = PQexecParams(db, "INSERT INTO user_profiles (id) VALUES "
		    "($1) ON CONFLICT DO NOTHING", 1, NULL, vals, NULL, NULL, 0);
		PQclear(res);
	}
	fclose(f);
	if ((f = fopen(evfile, "r")) == NULL) {
		fprintf(stderr, "apply-bench: %s: %s\n", evfile,
		    strerror(errno));
		return 1;
	}
	while ((len = getline(&line, &cap, f)) > 0) {
		if (line[len - 1] == '\n')
			line[--len] = '\0';
		guardian_in(&in, cfg, line, (size_t)len);
		change = NULL;
		if (guardian_check(cfg, &in, &change, cause,
		    sizeof(cause)) == 0 && change != NULL &&
		    (doc = json_dumps(change, JSON_COMPACT)) != NULL) {
			snprintf(num, sizeof num, "%llu",
			    (unsigned long long)++ndocs);
			vals[0] = num;
			vals[1] = doc;
			res = PQexecParams(db, "INSERT INTO bench_docs VALUES "
			    "($1, $2)", 2, NULL, vals, NULL, NULL, 0);
			if (PQresultStatus(res) != PGRES_COMMAND_OK)
				fprintf(stderr, "apply-bench: %s",
				    PQerrorMessage(db));
			PQclear(res);
			free(doc);
		}
		json_decref(change);
		json_decref(in.args);
		json_decref(in.kwargs);
	}
	fclose(f);
	free(line);
	sql(db, "VACUUM ANALYZE");

	snprintf(script, sizeof(script), "/tmp/apply-bench.%d.sql",
	    (int)getpid());
	if ((p = fopen(script, "w")) == NULL)
		return 1;
	fprintf(p, "SELECT fb_apply_event(doc) FROM bench_docs "
	    "WHERE i = (SELECT nextval('bench_i'));\n");
	fclose(p);
	snprintf(q, sizeof(q), "%s -n -M prepared -c %u -j %u -t %llu -f %s "
	    "2>&1", getenv("PGBENCH") ? getenv("PGBENCH") : PGBENCH, nworkers,
	    nworkers, (unsigned long long)(ndocs / nworkers), script);
	c0 = children_us();
	b0 = reaped_backends_ns(db);
	tps = pgbench_run(q, &pgtx);
	/* pgbench's backends exit right after it: wait until they have. */
	for (i = 0; i < 100; i++) {
		res = PQexec(db, "SELECT count(*) FROM pg_stat_activity "
		    "WHERE application_name = 'pgbench'");
		busy = PQresultStatus(res) == PGRES_TUPLES_OK &&
		    atoi(PQgetvalue(res, 0, 0)) > 0;
		PQclear(res);
		if (!busy)
			break;
		usleep(50000);
	}
	b1 = reaped_backends_ns(db);
	unlink(script);
	printf("documents: %llu of the events, %u clients\n",
	    (unsigned long long)ndocs, nworkers);
	if (b0 > 0 && pgtx > 0)
		printf("database backend CPU per document (the postmaster's "
		    "reaped children, pgbench's backends and autovacuum): "
		    "%.1f us\n", (double)(b1 - b0) / 1e3 / pgtx);
	printf("pgbench, the events' documents, -c %u -j %u: %.0f tps\n",
	    nworkers, nworkers, tps);
	printf("  pgbench client CPU per transaction (reference): %.1f us\n",
	    pgtx > 0 ? (double)(children_us() - c0) / pgtx : -1.0);
	return tps > 0 ? 0 : 1;
}

int
main(int argc, char *argv[])
{
	struct fb_config	 cfg;
	struct store		*s;
	struct result		 tot, tot2;
	struct guardian_input	 in;
	PGconn			*db;
	struct fb_change	 fc;
	json_t			*tmpl, *change;
	char			**docs;
	char			 cause[FB_CAUSE_MAX], q[1024], script[256];
	char			**texts;
	size_t			*lens, bytes = 0;
	const char		*conf = NULL, *evfile = NULL, *usersfile = NULL;
	unsigned int		 nworkers = 4, w, k, per;
	uint64_t		 n = 20000, i, c0;
	double			 t0, t1, t2, t3, gcpu, tps = -1, pgcpu;
	uint64_t		 gns = 0, g0;
	uint64_t		 pgtx = 0;
	int			 ch, secs = 10, v;
	FILE			*p;

	while ((ch = getopt(argc, argv, "c:e:n:j:T:u:")) != -1) {
		switch (ch) {
		case 'c': conf = optarg; break;
		case 'e': evfile = optarg; break;
		case 'u': usersfile = optarg; break;
		case 'n': n = strtoull(optarg, NULL, 10); break;
		case 'j': nworkers = (unsigned int)atoi(optarg); break;
		case 'T': secs = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: apply-bench -c conf [-n events] "
			    "[-j workers] [-T pgbench-seconds]\n"
			    "       apply-bench -c conf -e events -u users "
			    "[-j workers]\n");
			return 64;
		}
	}
	if (conf == NULL || nworkers < 1 || nworkers > 64 || n < nworkers)
		return 64;
	log_init("apply-bench", LOG_LEVEL_WARN, "stderr", cause, sizeof(cause));
	memset(&cfg, 0, sizeof(cfg));
	arena_init();	/* as a bee does */
	if (config_load(conf, &cfg, cause, sizeof(cause)) == -1) {
		fprintf(stderr, "apply-bench: %s\n", cause);
		return 78;
	}
	if ((s = store_open(&cfg, cause, sizeof(cause))) == NULL ||
	    store_migrate(s, getenv("FINANCEBEE_SQLDIR"), &v, cause,
	    sizeof(cause)) != 0) {
		fprintf(stderr, "apply-bench: %s\n", cause);
		return 75;
	}
	store_free(s);

	/* NUSERS users, each with an active subscription to renew. */
	if ((db = PQconnectdb("")) == NULL || PQstatus(db) != CONNECTION_OK) {
		fprintf(stderr, "apply-bench: %s", PQerrorMessage(db));
		return 75;
	}
	sql(db, "SET client_min_messages = warning");
	sql(db, "TRUNCATE subscriptions, processed_webhooks, parked_events, "
	    "revenue_ledger, user_profiles");
	if (evfile != NULL || usersfile != NULL) {
		if (evfile == NULL || usersfile == NULL)
			return 64;
		v = events_pgbench(&cfg, db, evfile, usersfile, nworkers);
		PQfinish(db);
		config_free(&cfg);
		return v;
	}
	snprintf(q, sizeof(q), "INSERT INTO user_profiles (id) SELECT "
	    "md5(g::text)::uuid FROM generate_series(0, %d) g; "
	    "INSERT INTO subscriptions (subscriber_id, status, tier, "
	    "stripe_subscription_id, stripe_customer_id, stripe_event_created) "
	    "SELECT md5(g::text)::uuid, 'active', 'silver', "
	    "'sub_1Bench' || lpad(g::text, 6, '0'), "
	    "'cus_Bench' || lpad(g::text, 6, '0'), 0 "
	    "FROM generate_series(0, %d) g", NUSERS - 1,
	    NUSERS - 1);
	sql(db, q);
	sql(db, "VACUUM ANALYZE");

	/* Worker w renews users w, w + j, ...: no artificial lock contention. */
	per = (unsigned int)(n / nworkers);
	n = (uint64_t)per * nworkers;
	texts = calloc(n, sizeof(*texts));
	lens = calloc(n, sizeof(*lens));
	docs = calloc(n, sizeof(*docs));
	tmpl = event_template();
	for (w = 0; w < nworkers; w++)
		for (i = 0; i < per; i++) {
			k = w * per + (unsigned int)i;
			texts[k] = event_text(tmpl, w, i, w + nworkers *
			    (unsigned int)(i % (NUSERS / nworkers)), &lens[k]);
			bytes += lens[k];
		}

	/*
	 * The guardian alone (no database), for the split: timed as in the
	 * loop, on the monotonic clock around guardian_check_change() only.
	 */
	change_init(&fc);
	for (i = 0; i < n; i++) {
		guardian_in(&in, &cfg, texts[i], lens[i]);
		g0 = mono_ns();
		if (guardian_check_change(&cfg, &in, &fc, cause,
		    sizeof(cause)) == -1) {
			fprintf(stderr, "apply-bench: guardian: %s\n", cause);
			return 1;
		}
		gns += mono_ns() - g0;
		if ((change = change_json(&fc)) == NULL) {
			fprintf(stderr, "apply-bench: no change document\n");
			return 1;
		}
		if (i == 0) {
			char	*doc = json_dumps(change, JSON_COMPACT);
			char	*lit = PQescapeLiteral(db, doc, strlen(doc));

			snprintf(q, sizeof(q), "DROP TABLE IF EXISTS "
			    "bench_template; CREATE TABLE bench_template "
			    "(doc jsonb); DROP SEQUENCE IF EXISTS "
			    "bench_created; CREATE SEQUENCE bench_created "
			    "START %lld", CREATED0 + 2 * (long long)n + 1);
			sql(db, q);
			{
				char *ins = malloc(strlen(lit) + 64);

				sprintf(ins, "INSERT INTO bench_template VALUES "
				    "(%s)", lit);
				sql(db, ins);
				free(ins);
			}
			PQfreemem(lit);
			free(doc);
		}
		/* For the store-only run: new ids, later snapshots. */
		snprintf(q, sizeof(q), "%s_s", json_string_value(
		    json_object_get(change, "event_id")));
		json_object_set_new(change, "event_id", json_string(q));
		json_object_set_new(change, "created", json_integer(
		    json_integer_value(json_object_get(change, "created")) +
		    (json_int_t)n));
		docs[i] = json_dumps(change, JSON_COMPACT);
		json_decref(change);
		json_decref(in.args);
		json_decref(in.kwargs);
	}
	change_free(&fc);
	gcpu = (double)gns / 1e3 / n;

	/* Calls of fb_apply_event() counted by the server, for new sessions. */
	sql(db, "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET "
	    "track_functions = pl', current_database()); END $$");
	/* The bees: one process and one connection each, as in production. */
	run_workers(db, &cfg, nworkers, per, texts, lens, NULL, &tot, &t0,
	    &t1);
	/* The store alone: the same documents, already normalised. */
	run_workers(db, &cfg, nworkers, per, NULL, NULL, docs, &tot2, &t2,
	    &t3);

	/* pgbench: the same function, the same change document shape. */
	snprintf(script, sizeof(script), "/tmp/apply-bench.%d.sql",
	    (int)getpid());
	if ((p = fopen(script, "w")) == NULL)
		return 1;
	fprintf(p, "\\set u :client_id + %u * random(0, %u)\n"
	    "SELECT fb_apply_event(doc || jsonb_build_object('event_id', "
	    "'evt_pgb' || gen_random_uuid(), 'created', "
	    "nextval('bench_created'), 'subscription', 'sub_1Bench' || "
	    "lpad(:u::text, 6, '0'), 'customer', 'cus_Bench' || "
	    "lpad(:u::text, 6, '0'))) FROM bench_template;\n", nworkers,
	    NUSERS / nworkers - 1);
	fclose(p);
	snprintf(q, sizeof(q), "%s -n -M prepared -c %u -j %u -T %d -f %s "
	    "2>&1", getenv("PGBENCH") ? getenv("PGBENCH") : PGBENCH, nworkers,
	    nworkers, secs, script);
	c0 = children_us();
	tps = pgbench_run(q, &pgtx);
	pgcpu = pgtx > 0 ? (double)(children_us() - c0) / pgtx : -1;
	unlink(script);

	printf("events: %llu x %.0f bytes (pretty-printed basil "
	    "customer.subscription.updated), %u workers\n",
	    (unsigned long long)tot.events, (double)bytes / n, nworkers);
	printf("outcomes: %llu applied, %llu other, %llu transient retries\n",
	    (unsigned long long)tot.applied, (unsigned long long)tot.bad,
	    (unsigned long long)tot.retries);
	printf("bee CPU per event (task_run: guardian + normalise + apply): "
	    "%.1f us\n", (double)tot.cpu_us / tot.events);
	printf("  user %.1f us + system %.1f us\n",
	    (double)(tot.cpu_us - tot.sys_us) / tot.events,
	    (double)tot.sys_us / tot.events);
	printf("  of which guardian + normalise, in this loop: %.1f us "
	    "(alone, in a loop of its own: %.1f us)\n",
	    (double)tot.guard_ns / 1e3 / tot.events, gcpu);
	printf("PostgreSQL round trips per event: %.3f\n",
	    (double)tot.round_trips / tot.events);
	printf("  counted by the server (pg_stat_user_functions): %.3f "
	    "fb_apply_event() calls per event (%llu for %llu events)\n",
	    (double)tot.server_calls / tot.events,
	    (unsigned long long)tot.server_calls,
	    (unsigned long long)tot.events);
	printf("database backend CPU per event (/proc/PID/schedstat of the "
	    "backend serving each worker): %.1f us; store only: %.1f us\n",
	    (double)tot.db_ns / 1e3 / tot.events,
	    (double)tot2.db_ns / 1e3 / tot2.events);
	printf("apply path: %.0f events/s (%u bees)\n",
	    tot.events / (t1 - t0), nworkers);
	printf("store only (task_apply on normalised documents): %.1f us CPU "
	    "per event, %.3f round trips (server: %.3f calls), %.0f "
	    "events/s (%llu applied)\n", (double)tot2.cpu_us / tot2.events,
	    (double)tot2.round_trips / tot2.events,
	    (double)tot2.server_calls / tot2.events, tot2.events / (t3 - t2),
	    (unsigned long long)tot2.applied);
	printf("pgbench, same SQL function, -c %u -j %u -T %d: %.0f tps\n",
	    nworkers, nworkers, secs, tps);
	printf("  pgbench client CPU per transaction (reference): %.1f us\n",
	    pgcpu);
	if (tps > 0)
		printf("apply path / pgbench: %.0f%%\n",
		    100.0 * tot.events / (t1 - t0) / tps);
	PQfinish(db);
	config_free(&cfg);
	return tot.bad != 0 || tot2.bad != 0;
}
