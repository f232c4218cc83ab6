/*
 * task.c: what a bee does with one task, and what --apply does with one
 * file: the guardian's checks, then the store, retrying transient failures
 * with bounded, jittered exponential backoff until the deadline.  A task
 * still transient at the deadline is returned as such: the caller leaves it
 * to ColonyOS to re-queue and never closes it failed.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "financebeed.h"

#define TASK_BACKOFF_MIN_MS	10
#define TASK_BACKOFF_MAX_MS	1000

static void
task_sleep_ms(long ms)
{
	struct timespec	ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

void
task_result_clear(struct task_result *r)
{
	json_decref(r->detail);
	memset(r, 0, sizeof(*r));
}

/*
 * The change document's text through the store, retried while transient
 * and another attempt as long as the last still ends before the deadline:
 * the process must be closed before its lease runs out.
 */
void
task_apply_text(struct store *store, const char *doc, const char *event_id,
    int dry_run, int64_t deadline_ms, struct task_result *r)
{
	long		 backoff = TASK_BACKOFF_MIN_MS, wait;
	int64_t		 start, took;

	if (event_id != NULL)
		snprintf(r->event_id, sizeof(r->event_id), "%s", event_id);
	for (;;) {
		json_decref(r->detail);
		r->detail = NULL;
		r->attempts++;
		start = clock_now_ms();
		r->outcome = store_apply_text(store, doc, dry_run,
		    dry_run ? &r->detail : NULL, r->reason, sizeof(r->reason));
		if (r->outcome != OUTCOME_TRANSIENT)
			return;
		took = clock_now_ms() - start;
		wait = clock_jitter(backoff);
		if (clock_now_ms() + wait + took >= deadline_ms)
			return;
		log_debug("event %s: transient (%s), retry in %ld ms",
		    r->event_id, r->reason, wait);
		task_sleep_ms(wait);
		if (backoff < TASK_BACKOFF_MAX_MS)
			backoff = backoff * 2 > TASK_BACKOFF_MAX_MS ?
			    TASK_BACKOFF_MAX_MS : backoff * 2;
	}
}

void
task_apply(struct store *store, json_t *change, int dry_run,
    int64_t deadline_ms, struct task_result *r)
{
	char	*doc;

	if ((doc = json_dumps(change, JSON_COMPACT)) == NULL) {
		r->outcome = OUTCOME_TRANSIENT;
		snprintf(r->reason, sizeof(r->reason), "out of memory");
		return;
	}
	task_apply_text(store, doc, json_string_value(json_object_get(change,
	    "event_id")), dry_run, deadline_ms, r);
	free(doc);
}

/*
 * The change document of the task being run: its buffers are kept from
 * one task to the next (a bee runs one at a time; so does --apply).
 */
static struct fb_change	task_change;

/*
 * Every check that needs no database: the change document's text (valid
 * until the next call), or NULL with r's outcome FAILED (the guardian
 * refused the event) or TRANSIENT (no memory).
 */
const char *
task_check(const struct fb_config *cfg, const struct guardian_input *in,
    struct task_result *r)
{
	struct fb_change	*c = &task_change;
	const char		*doc, *id;
	char			 cause[FB_CAUSE_MAX], num[24];
	size_t			 n;
	int			 rv;

	memset(r, 0, sizeof(*r));
	snprintf(r->event_id, sizeof(r->event_id), "-");
	rv = guardian_check_change(cfg, in, c, cause, sizeof(cause));
	/*
	 * The envelope checked the id (evt_ and letters, digits or _) before
	 * putting it in the change, so a rejection after it names the event.
	 */
	if ((id = change_value(c, "event_id", &n)) != NULL && n >= 2 &&
	    n - 2 < sizeof(r->event_id)) {
		memcpy(r->event_id, id + 1, n - 2);
		r->event_id[n - 2] = '\0';
	}
	if ((id = change_value(c, "type", &n)) != NULL && n >= 2 &&
	    n - 2 < sizeof(r->type)) {
		memcpy(r->type, id + 1, n - 2);
		r->type[n - 2] = '\0';
	}
	/* An integer of at most 19 digits (the envelope checked it). */
	if ((id = change_value(c, "created", &n)) != NULL && n > 0 &&
	    n < sizeof(num)) {
		memcpy(num, id, n);
		num[n] = '\0';
		r->created = strtoll(num, NULL, 10);
	}
	if (rv == -1) {
		r->rejected = 1;
		r->outcome = OUTCOME_FAILED;
		snprintf(r->reason, sizeof(r->reason), "%s", cause);
		return NULL;
	}
	if ((doc = change_text(c, NULL)) == NULL) {
		/* No memory: transient, so the process is re-queued, not lost. */
		r->outcome = OUTCOME_TRANSIENT;
		snprintf(r->reason, sizeof(r->reason), "out of memory building "
		    "the change document");
		return NULL;
	}
	return doc;
}

void
task_run(const struct fb_config *cfg, struct store *store,
    const struct guardian_input *in, int dry_run, int64_t deadline_ms,
    struct task_result *r)
{
	const char	*doc;

	if ((doc = task_check(cfg, in, r)) == NULL)
		return;
	if (in->applying != NULL)
		in->applying(in->applying_arg);
	task_apply_text(store, doc, NULL, dry_run, deadline_ms, r);
}
