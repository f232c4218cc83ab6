/*
 * minicolonies-rpc-proc.c: the process RPCs other than assign (which is
 * a long-poll, in minicolonies-queue.c): submit, get, list by state,
 * close as successful or failed, logs, output, cancel and remove-all,
 * each with the real server's order of checks and texts.
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "colonies.h"
#include "minicolonies.h"

void
mc_h_submit(struct mc_req *r)
{
	json_t			*specin, *spec;
	struct mc_process	*p;
	struct mc_executor	*ex;
	char			 msg[512];
	struct sb		 b = { NULL, 0, 0 };
	int64_t			 now;

	if (mc_getobj(r->msg, "spec", &specin) == -1)
		MC_BADJSON(r);
	p = mc_calloc(1, sizeof(*p));
	if (specin != NULL && (spec = mc_spec_normalize(specin, p)) == NULL) {
		mc_proc_free(p);
		MC_BADJSON(r);
	}
	if (specin == NULL) {
		mc_proc_free(p);
		mc_error(r->req, 400,
		    "Failed to submit process spec, msg.FunctionSpec is nil");
		return;
	}
	if (mc_require_member(r->id, p->colony, 1, msg, sizeof(msg)) == -1) {
		json_decref(spec);
		mc_proc_free(p);
		mc_error(r->req, 403, "%s", msg);
		return;
	}
	if (p->priority < MC_MIN_PRIORITY || p->priority > MC_MAX_PRIORITY) {
		json_decref(spec);
		mc_proc_free(p);
		mc_error(r->req, 400, "Failed to submit function spec, "
		    "priority outside range [%d, %d]", MC_MIN_PRIORITY,
		    MC_MAX_PRIORITY);
		return;
	}
	mc_spec_json(&b, spec);
	p->specjson = b.s;
	json_decref(spec);
	memset(&b, 0, sizeof(b));

	mc_randid(p->id);
	memcpy(p->initiatorid, r->id, sizeof(p->initiatorid));
	ex = mc_ex_byid(r->id);
	p->initiatorname = mc_strdup(ex != NULL ? ex->name : "");
	{
		struct timespec	ts;

		/* Go computes it from time.Now() in nanoseconds. */
		clock_gettime(CLOCK_REALTIME, &ts);
		now = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
		p->submit_us = now;
		p->prioritytime = (int64_t)ts.tv_sec * 1000000000 +
		    ts.tv_nsec - (int64_t)p->priority * MC_NS_PER_DAY;
	}
	if (p->maxwaittime > 0)
		p->waitdl_us = now + (int64_t)p->maxwaittime * 1000000;
	p->seq = ++mc_seq;
	p->state = MC_WAITING;
	mc_nstate[MC_WAITING]++;
	TAILQ_INSERT_TAIL(&mc_processes, p, all);
	hmap_put(&mc_byid, p->id, strlen(p->id), p);
	if (p->maxwaittime > 0) {
		TAILQ_INSERT_TAIL(&mc_waitdl, p, run);
		p->onwait = 1;
	}
	/* Reply with the state at submit time, then offer it. */
	mc_proc_json(&b, p, 0);
	mc_reply_sb(r, &b);
	sb_free(&b);
	mc_offer(p);
}

/* Shared head of the process handlers: find it, check membership. */
static struct mc_process *
mc_proc_lookup(struct mc_req *r, const char *nilmsg)
{
	const char		*pid;
	struct mc_process	*p;
	char			 msg[512];

	if (mc_getstr(r->msg, "processid", &pid) == -1) {
		mc_error(r->req, 400, "%s", r->h->badjson);
		return NULL;
	}
	if ((p = hmap_get(&mc_byid, pid, strlen(pid))) == NULL) {
		if (strcmp(nilmsg, "Failed to get process, process not found")
		    == 0)
			mc_error(r->req, 404, "%s", nilmsg);
		else
			mc_error(r->req, 500, "%s", nilmsg);
		return NULL;
	}
	if (mc_require_member(r->id, p->colony, 1, msg, sizeof(msg)) == -1) {
		mc_error(r->req, 403, "%s", msg);
		return NULL;
	}
	return p;
}

void
mc_h_getprocess(struct mc_req *r)
{
	struct mc_process	*p;
	struct sb		 b = { NULL, 0, 0 };

	if ((p = mc_proc_lookup(r,
	    "Failed to get process, process not found")) == NULL)
		return;
	mc_proc_json(&b, p, 0);
	mc_reply_sb(r, &b);
	sb_free(&b);
}

void
mc_h_closesuccessful(struct mc_req *r)
{
	struct mc_process	*p;
	json_t			*out;

	if (mc_getarr(r->msg, "out", &out) == -1)
		MC_BADJSON(r);
	if ((p = mc_proc_lookup(r,
	    "Failed to close process as successful, process is nil")) == NULL)
		return;
	if (p->assigned[0] == '\0') {
		mc_error(r->req, 403, "Failed to close process as successful, "
		    "process is not assigned");
		return;
	}
	if (strcmp(p->assigned, r->id) != 0) {
		mc_error(r->req, 403, "Failed to close process as successful, "
		    "not allowed to close process as successful");
		return;
	}
	/* The output is written before the state is checked (sic). */
	json_decref(p->out);
	p->out = out != NULL ? json_incref(out) : NULL;
	if (p->state == MC_FAILED) {
		mc_error(r->req, 400,
		    "Tried to set failed process as successful");
		return;
	}
	if (p->state == MC_CANCELLED) {
		mc_error(r->req, 400,
		    "Tried to set cancelled process as successful");
		return;
	}
	if (p->state == MC_WAITING) {
		mc_error(r->req, 400, "Tried to set waiting process as "
		    "successful without being running");
		return;
	}
	if (p->state == MC_SUCCESS)
		p->end_us = mc_now_us();
	else
		mc_finish(p, MC_SUCCESS);
	mc_reply_empty(r);
}

void
mc_h_closefailed(struct mc_req *r)
{
	struct mc_process	*p;
	json_t			*errs;

	if (mc_getstrarr(r->msg, "errors", &errs) == -1)
		MC_BADJSON(r);
	if ((p = mc_proc_lookup(r,
	    "Failed to close process as failed, process is nil")) == NULL)
		return;
	if (p->assigned[0] == '\0') {
		mc_error(r->req, 403, "Failed to close process as failed, "
		    "process is not assigned");
		return;
	}
	if (strcmp(p->assigned, r->id) != 0) {
		mc_error(r->req, 403, "Failed to close process as failed, "
		    "not allowed to close process as failed");
		return;
	}
	if (p->state == MC_SUCCESS || p->state == MC_FAILED ||
	    p->state == MC_CANCELLED) {
		mc_error(r->req, 400, "Tried to set %s process as failed",
		    p->state == MC_SUCCESS ? "successful" :
		    p->state == MC_FAILED ? "failed" : "cancelled");
		return;
	}
	json_decref(p->errors);
	p->errors = errs != NULL ? json_incref(errs) : NULL;
	mc_finish(p, MC_FAILED);
	mc_reply_empty(r);
}

void
mc_h_addlog(struct mc_req *r)
{
	struct mc_process	*p;
	const char		*m;

	if (mc_getstr(r->msg, "message", &m) == -1)
		MC_BADJSON(r);
	if ((p = mc_proc_lookup(r, "Failed to add log, process is nil")) ==
	    NULL)
		return;
	if (p->state != MC_RUNNING) {
		mc_error(r->req, 403,
		    "Failed to set output, process is not running");
		return;
	}
	if (strcmp(p->assigned, r->id) != 0) {
		mc_error(r->req, 403, "Failed to add log, not allowed to add "
		    "log, only the assigned Executor may att logs");
		return;
	}
	/* Logs are accepted and dropped: nothing reads them back here. */
	mc_reply_empty(r);
}

void
mc_h_setoutput(struct mc_req *r)
{
	struct mc_process	*p;
	json_t			*out;

	if (mc_getarr(r->msg, "out", &out) == -1)
		MC_BADJSON(r);
	if ((p = mc_proc_lookup(r, "Failed to set output, process is nil")) ==
	    NULL)
		return;
	if (strcmp(p->assigned, r->id) != 0) {
		mc_error(r->req, 403, "Failed to close process as successful, "
		    "not allowed to close process as successful");
		return;
	}
	if (p->state != MC_RUNNING) {
		mc_error(r->req, 403,
		    "Failed to set output, process is not running");
		return;
	}
	json_decref(p->out);
	p->out = out != NULL ? json_incref(out) : NULL;
	mc_reply_empty(r);
}

void
mc_h_cancel(struct mc_req *r)
{
	struct mc_process	*p;

	if ((p = mc_proc_lookup(r,
	    "Failed to cancel process, process is nil")) == NULL)
		return;
	if (p->state != MC_WAITING && p->state != MC_RUNNING) {
		mc_error(r->req, 400, "Failed to cancel process, process is "
		    "not running or waiting");
		return;
	}
	mc_finish(p, MC_CANCELLED);
	mc_reply_empty(r);
}

static int
mc_cmp_waiting(const void *a, const void *b)
{
	const struct mc_process	*x = *(const struct mc_process *const *)a;
	const struct mc_process	*y = *(const struct mc_process *const *)b;

	if (x->prioritytime != y->prioritytime)
		return x->prioritytime < y->prioritytime ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int
mc_cmp_start(const void *a, const void *b)
{
	const struct mc_process	*x = *(const struct mc_process *const *)a;
	const struct mc_process	*y = *(const struct mc_process *const *)b;

	if (x->start_us != y->start_us)
		return x->start_us < y->start_us ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int
mc_cmp_end_desc(const void *a, const void *b)
{
	const struct mc_process	*x = *(const struct mc_process *const *)a;
	const struct mc_process	*y = *(const struct mc_process *const *)b;

	if (x->end_us != y->end_us)
		return x->end_us > y->end_us ? -1 : 1;
	return x->seq > y->seq ? -1 : x->seq < y->seq;
}

void
mc_h_getprocesses(struct mc_req *r)
{
	const char		*colony, *type, *label, *initiator;
	long long		 count, state;
	char			 msg[512];
	struct mc_process	*p, **v;
	size_t			 n = 0, cap, i;
	struct sb		 b = { NULL, 0, 0 };

	if (mc_getstr(r->msg, "colonyname", &colony) == -1 ||
	    mc_getint(r->msg, "count", &count) == -1 ||
	    mc_getint(r->msg, "state", &state) == -1 ||
	    mc_getstr(r->msg, "executortype", &type) == -1 ||
	    mc_getstr(r->msg, "label", &label) == -1 ||
	    mc_getstr(r->msg, "initiator", &initiator) == -1)
		MC_BADJSON(r);
	if (mc_require_member(r->id, colony, 1, msg, sizeof(msg)) == -1) {
		mc_error(r->req, 403, "%s", msg);
		return;
	}
	if (count > MC_MAX_COUNT) {
		mc_error(r->req, 400, "Count is larger than MaxCount limit <%d>",
		    MC_MAX_COUNT);
		return;
	}
	if (*initiator != '\0') {
		/* No users exist in minicolonies. */
		mc_error(r->req, 400, "User <%s> does not exist", initiator);
		return;
	}
	if (state < MC_WAITING || state > MC_FAILED) {
		mc_error(r->req, 400,
		    "Failed to get processes, invalid msg.State");
		return;
	}
	cap = mc_nstate[state] + 1;
	v = mc_calloc(cap, sizeof(*v));
	TAILQ_FOREACH(p, &mc_processes, all) {
		if (p->state != state || strcmp(p->colony, colony) != 0)
			continue;
		if (*type != '\0' && strcmp(p->type, type) != 0)
			continue;
		if (*label != '\0' && strcmp(p->label, label) != 0)
			continue;
		if (n < cap)
			v[n++] = p;
	}
	qsort(v, n, sizeof(*v), state == MC_WAITING ? mc_cmp_waiting :
	    state == MC_RUNNING ? mc_cmp_start : mc_cmp_end_desc);
	if (count >= 0 && n > (size_t)count)
		n = (size_t)count;
	if (n == 0)
		sb_adds(&b, "null");
	else {
		sb_adds(&b, "[");
		for (i = 0; i < n; i++) {
			sb_adds(&b, i ? ",\n  " : "\n  ");
			mc_proc_json(&b, v[i], 1);
		}
		sb_adds(&b, "\n]");
	}
	free(v);
	mc_reply_sb(r, &b);
	sb_free(&b);
}

void
mc_h_removeall(struct mc_req *r)
{
	const char		*colony;
	long long		 state;
	char			 msg[512];
	struct mc_process	*p, *next;

	if (mc_getstr(r->msg, "colonyname", &colony) == -1 ||
	    mc_getint(r->msg, "state", &state) == -1)
		MC_BADJSON(r);
	if (mc_require_owner(r->id, colony, msg, sizeof(msg)) == -1) {
		mc_error(r->req, 403, "%s", msg);
		return;
	}
	for (p = TAILQ_FIRST(&mc_processes); p != NULL; p = next) {
		next = TAILQ_NEXT(p, all);
		if (strcmp(p->colony, colony) != 0)
			continue;
		if (state != -1 && p->state != state)
			continue;
		/* Leave the queues consistent: invalidate, then drop. */
		if (p->state == MC_WAITING || p->state == MC_RUNNING)
			mc_set_state(p, MC_CANCELLED);
		mc_nstate[p->state]--;
		TAILQ_REMOVE(&mc_processes, p, all);
		p->state = -1;
	}
	/* Heaps may still point at dropped processes: purge them. */
	mc_queue_purge();
	/* Now free the dropped ones (they are on no list any more). */
	{
		struct hent	*e, *enext;
		size_t		 i;

		for (i = 0; i < mc_byid.nb; i++) {
			for (e = mc_byid.b[i]; e != NULL; e = enext) {
				enext = e->next;
				p = e->val;
				if (p->state == -1)
					mc_proc_free(p);
			}
		}
	}
	mc_reply_empty(r);
}
