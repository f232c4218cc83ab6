/*
 * oneshot.c: the operator's one-shot modes, --migrate, --apply and --prune.
 * --apply runs exactly the code path of a bee (task_run) on a file, so an
 * event can be replayed or tried (--dry-run) by hand.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "financebeed.h"

#define ONESHOT_DEFAULT_DEADLINE_MS	20000

static const char *
oneshot_sqldir(void)
{
	const char	*d = getenv("FINANCEBEE_SQLDIR");

	return (d != NULL && *d != '\0') ? d : FB_SQLDIR;
}

static struct store *
oneshot_store(const struct fb_config *cfg)
{
	struct store	*s;
	char		 cause[FB_CAUSE_MAX];

	if ((s = store_open(cfg, cause, sizeof(cause))) == NULL)
		fprintf(stderr, "financebeed: %s\n", cause);
	return s;
}

int
oneshot_migrate(const struct fb_config *cfg)
{
	struct store	*s;
	char		 cause[FB_CAUSE_MAX];
	int		 version, rc;

	if ((s = oneshot_store(cfg)) == NULL)
		return FB_EX_TEMPFAIL;
	rc = store_migrate(s, oneshot_sqldir(), &version, cause, sizeof(cause));
	store_free(s);
	switch (rc) {
	case 0:
		printf("schema version %d\n", version);
		return FB_EX_OK;
	case -2:
		fprintf(stderr, "financebeed: migrate: %s\n", cause);
		return FB_EX_TEMPFAIL;
	case -3:
		fprintf(stderr, "financebeed: migrate: %s\n", cause);
		return FB_EX_CONFIG;
	default:
		fprintf(stderr, "financebeed: migrate failed, nothing changed: "
		    "%s\n", cause);
		return FB_EX_DATAERR;
	}
}

/* One line, whatever the id or reason holds. */
static void
oneshot_print_clean(FILE *f, const char *s)
{
	for (; *s != '\0'; s++)
		fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, f);
}

int
oneshot_apply(const struct fb_config *cfg, const char *file, int dry_run,
    const char *sighdr)
{
	struct guardian_input	 in;
	struct task_result	 r;
	struct store		*s;
	FILE			*f;
	char			*buf, *text, cause[FB_CAUSE_MAX];
	const char		*doc;
	size_t			 cap, len;
	int64_t			 deadline;
	int			 rc;

	cap = (cfg->max_payload > 0 ? cfg->max_payload : 1048576) + 1;
	if ((f = fopen(file, "rb")) == NULL) {
		fprintf(stderr, "financebeed: %s: %s\n", file, strerror(errno));
		return FB_EX_USAGE;
	}
	if ((buf = malloc(cap)) == NULL) {
		fclose(f);
		fprintf(stderr, "financebeed: out of memory\n");
		return FB_EX_SOFTWARE;
	}
	/* Bounded: one byte over max_payload is enough for the guardian. */
	len = fread(buf, 1, cap, f);
	if (ferror(f)) {
		fprintf(stderr, "financebeed: %s: read error\n", file);
		fclose(f);
		free(buf);
		return FB_EX_USAGE;
	}
	fclose(f);

	/* Exactly what a bee hands over: the raw text as args[0]. */
	memset(&in, 0, sizeof(in));
	in.funcname = cfg->nfuncnames > 0 ? cfg->funcnames[0] :
	    "validate_revenue";
	in.args = json_array();
	in.kwargs = json_object();
	json_array_append_new(in.args, json_stringn_nocheck(buf, len));
	if (sighdr != NULL)
		json_object_set_new(in.kwargs, "Stripe-Signature",
		    json_string_nocheck(sighdr));
	in.now = (int64_t)time(NULL);
	free(buf);

	/*
	 * Every check that needs no database first: a bad body is bad input
	 * (65) whether or not the database is up.
	 */
	doc = task_check(cfg, &in, &r);
	json_decref(in.args);
	json_decref(in.kwargs);
	if (doc != NULL) {
		if ((s = oneshot_store(cfg)) == NULL)
			return FB_EX_TEMPFAIL;
		if (store_check_schema(s, cause, sizeof(cause)) == -1) {
			fprintf(stderr, "financebeed: %s\n", cause);
			store_free(s);
			return FB_EX_CONFIG;
		}
		deadline = clock_now_ms() + (cfg->task_timeout_ms > 0 ?
		    cfg->task_timeout_ms : ONESHOT_DEFAULT_DEADLINE_MS);
		task_apply_text(s, doc, NULL, dry_run, deadline, &r);
		store_free(s);
	}

	oneshot_print_clean(stdout, r.event_id);
	printf(" %s", store_outcome_str(r.outcome));
	if (r.reason[0] != '\0') {
		fputc(' ', stdout);
		oneshot_print_clean(stdout, r.reason);
	}
	fputc('\n', stdout);
	if (dry_run) {
		/* Second line: what would have changed (rolled back). */
		text = r.detail != NULL ? json_dumps(r.detail,
		    JSON_COMPACT | JSON_SORT_KEYS) : NULL;
		printf("dry-run %s\n", text != NULL ? text : "{}");
		free(text);
	}
	switch (r.outcome) {
	case OUTCOME_FAILED:
		rc = FB_EX_DATAERR;
		break;
	case OUTCOME_TRANSIENT:
		rc = FB_EX_TEMPFAIL;
		break;
	default:
		rc = FB_EX_OK;
		break;
	}
	task_result_clear(&r);
	return rc;
}

int
oneshot_prune(const struct fb_config *cfg)
{
	struct store	*s;
	char		 cause[FB_CAUSE_MAX];
	long		 n;

	if ((s = oneshot_store(cfg)) == NULL)
		return FB_EX_TEMPFAIL;
	if (store_check_schema(s, cause, sizeof(cause)) == -1) {
		fprintf(stderr, "financebeed: %s\n", cause);
		store_free(s);
		return FB_EX_CONFIG;
	}
	n = store_prune(s, cfg->prune_age_days > 0 ? cfg->prune_age_days : 35,
	    cause, sizeof(cause));
	store_free(s);
	if (n == -1) {
		fprintf(stderr, "financebeed: prune: %s\n", cause);
		return FB_EX_TEMPFAIL;
	}
	printf("pruned %ld rows older than %d days\n", n,
	    cfg->prune_age_days > 0 ? cfg->prune_age_days : 35);
	return FB_EX_OK;
}
