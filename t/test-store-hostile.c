/*
 * test-store-hostile.c: the guardian's hostile-input table (t/data/hostile.tsv)
 * replayed end to end through task_run() against a real database, the code
 * path of a bee and of --apply: every rejected input must fail with its
 * expected cause and write no row anywhere; accepted ones must not crash or
 * end transient.  Rows needing options (signatures, other configs) are
 * left to t/32-guardian-hostile.t.
 *
 *	test-store-hostile hostile.tsv financebee.conf
 */
#include <sys/types.h>

#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "financebeed.h"
#include "hostile.h"
#include "tap.h"

#define CLOCK	1764000000	/* the table's clock */

static PGconn	*db;
static const char *fixdir, *datadir;

/* task_run()'s applying hook: counts its calls. */
static void
count_applying(void *arg)
{
	(*(int *)arg)++;
}

static char *
counts(void)
{
	PGresult	*res;
	char		*s;

	res = PQexec(db, "SELECT (SELECT count(*) FROM subscriptions) || '/' || "
	    "(SELECT count(*) FROM processed_webhooks) || '/' || "
	    "(SELECT count(*) FROM parked_events) || '/' || "
	    "(SELECT count(*) FROM revenue_ledger) || '/' || "
	    "(SELECT count(*) FROM user_profiles) || '/' || "
	    "(SELECT count(*) FROM user_profiles WHERE is_premium) || '/' || "
	    "(SELECT coalesce(max(xmin::text::bigint), 0) FROM user_profiles)");
	s = strdup(PQresultStatus(res) == PGRES_TUPLES_OK ?
	    PQgetvalue(res, 0, 0) : PQerrorMessage(db));
	PQclear(res);
	return s;
}

int
main(int argc, char *argv[])
{
	struct fb_config	 cfg;
	struct guardian_input	 in;
	struct task_result	 r;
	struct store		*s;
	FILE			*f;
	regex_t			 re;
	char			*line = NULL, *cols[5], *p, *body, *before, *after;
	char			 cause[FB_CAUSE_MAX];
	size_t			 cap = 0, len, i;
	ssize_t			 n;
	int			 nfailrows = 0, good, calls = 0, hookbad = 0;
	int			 nstore = 0;

	if (argc != 3) {
		fprintf(stderr, "usage: test-store-hostile table.tsv conf\n");
		return 2;
	}
	log_init("test", LOG_LEVEL_ERROR, "stderr", cause, sizeof(cause));
	{
		static char	fd[4096];

		snprintf(fd, sizeof(fd), "%s/stripe-events",
		    getenv("FB_FIXTURES") ? getenv("FB_FIXTURES") : ".");
		fixdir = fd;
	}
	{
		static char	dd[4096];

		snprintf(dd, sizeof(dd), "%s/t/data/events",
		    getenv("FB_SRCDIR") ? getenv("FB_SRCDIR") : ".");
		datadir = dd;
	}
	memset(&cfg, 0, sizeof(cfg));
	if (config_load(argv[2], &cfg, cause, sizeof(cause)) == -1) {
		printf("Bail out! %s\n", cause);
		return 1;
	}
	if ((s = store_open(&cfg, cause, sizeof(cause))) == NULL ||
	    store_check_schema(s, cause, sizeof(cause)) == -1) {
		printf("Bail out! %s\n", cause);
		return 1;
	}
	if ((db = PQconnectdb("")) == NULL || PQstatus(db) != CONNECTION_OK) {
		printf("Bail out! %s\n", PQerrorMessage(db));
		return 1;
	}
	if ((f = fopen(argv[1], "r")) == NULL) {
		printf("Bail out! %s\n", argv[1]);
		return 1;
	}
	while ((n = getline(&line, &cap, f)) != -1) {
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		p = line;
		for (i = 0; i < 5; i++)
			cols[i] = strsep(&p, "\t");
		if (cols[4] == NULL || strcmp(cols[3], "-") != 0)
			continue;
		if ((body = hostile_payload(cols[2], fixdir, datadir,
		    &len)) == NULL) {
			ok(0, "%s: payload %s", cols[0], cols[2]);
			continue;
		}
		memset(&in, 0, sizeof(in));
		in.funcname = cfg.funcnames[0];
		in.args = json_array();
		in.kwargs = json_object();
		in.now = CLOCK;
		in.applying = count_applying;
		in.applying_arg = &calls;
		calls = 0;
		json_array_append_new(in.args, json_stringn_nocheck(body, len));
		free(body);

		PQclear(PQexec(db, "DELETE FROM subscriptions; "
		    "DELETE FROM processed_webhooks; DELETE FROM parked_events; "
		    "DELETE FROM revenue_ledger"));
		before = counts();
		task_run(&cfg, s, &in, 0, clock_now_ms() + 10000, &r);
		after = counts();
		/* The hook runs once iff the store was tried (bee phase). */
		if (calls != (r.attempts > 0 ? 1 : 0))
			hookbad++;
		if (r.attempts > 0)
			nstore++;
		if (strncmp(cols[1], "fail:", 5) == 0) {
			nfailrows++;
			good = r.outcome == OUTCOME_FAILED;
			if (good && regcomp(&re, cols[1] + 5, REG_EXTENDED |
			    REG_NOSUB) == 0) {
				good = regexec(&re, r.reason, 0, NULL, 0) == 0;
				regfree(&re);
			}
			ok(good && strcmp(before, after) == 0, "%s: failed, "
			    "no row written", cols[0]);
			if (!good || strcmp(before, after) != 0)
				printf("# %s '%s' rows %s -> %s\n",
				    store_outcome_str(r.outcome), r.reason,
				    before, after);
		} else {
			good = r.outcome != OUTCOME_TRANSIENT &&
			    (r.outcome != OUTCOME_FAILED ||
			    strcmp(before, after) == 0);
			ok(good, "%s: %s%s%s", cols[0],
			    store_outcome_str(r.outcome),
			    r.reason[0] ? " " : "", r.reason);
		}
		free(before);
		free(after);
		task_result_clear(&r);
		json_decref(in.args);
		json_decref(in.kwargs);
	}
	free(line);
	fclose(f);
	ok(nfailrows >= 50, "%d hostile inputs rejected end to end", nfailrows);
	ok(hookbad == 0 && nstore > 0, "task_run's applying hook ran exactly "
	    "for the %d inputs that reached the store (%d wrong)", nstore,
	    hookbad);
	store_free(s);
	config_free(&cfg);
	PQfinish(db);
	return tap_done();
}
