/*
 * minicolonies-queue.c: the waiting queues and the leases.  Waiting
 * processes sit in binary heaps per colony + executortype (and per
 * executor name for processes that name theirs), ordered as the real
 * server's "ORDER BY PRIORITY_TIME"; stale heap entries are dropped
 * lazily by generation.  An assign with nothing to take becomes a
 * long-poll that a submit wakes at once; a client hanging up ends it.
 * Once a second the exec and wait deadlines are checked, and stale
 * executors are unregistered on their own timer.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>

#include "colonies.h"
#include "minicolonies.h"

struct mc_heapent {
	int64_t			 pt;
	uint64_t		 seq;
	struct mc_process	*p;
	uint32_t		 qgen;
};

struct mc_poller;
TAILQ_HEAD(mc_pollers, mc_poller);

/* Waiting processes of one colony + executortype (+ executorname). */
struct mc_queue {
	char			*key;
	struct mc_heapent	*h;
	size_t			 n;
	size_t			 cap;
	struct mc_pollers	 pollers;	/* only on the type queue */
};

/* A pending assignprocessmsg long-poll. */
struct mc_poller {
	struct evhttp_request	*req;
	struct evhttp_connection *evcon;
	struct mc_executor	*ex;
	struct mc_queue		*q;
	struct event		*timer;
	struct event		*watch;		/* EOF on the client socket */
	TAILQ_ENTRY(mc_poller)	 entry;
};

struct mc_plist		mc_running = TAILQ_HEAD_INITIALIZER(mc_running);
struct mc_plist		mc_waitdl = TAILQ_HEAD_INITIALIZER(mc_waitdl);
struct hmap		mc_queues;
uint64_t		mc_npollers;

static int
mc_heap_less(const struct mc_heapent *a, const struct mc_heapent *b)
{
	if (a->pt != b->pt)
		return a->pt < b->pt;
	return a->seq < b->seq;
}

static void
mc_heap_push(struct mc_queue *q, struct mc_process *p)
{
	struct mc_heapent	e, t;
	size_t			i, parent;

	if (q->n == q->cap) {
		q->cap = q->cap ? q->cap * 2 : 64;
		if ((q->h = reallocarray(q->h, q->cap, sizeof(*q->h))) == NULL)
			fatal("reallocarray");
	}
	e.pt = p->prioritytime;
	e.seq = p->seq;
	e.p = p;
	e.qgen = p->qgen;
	i = q->n++;
	q->h[i] = e;
	while (i > 0) {
		parent = (i - 1) / 2;
		if (!mc_heap_less(&q->h[i], &q->h[parent]))
			break;
		t = q->h[i];
		q->h[i] = q->h[parent];
		q->h[parent] = t;
		i = parent;
	}
}

static void
mc_heap_pop(struct mc_queue *q)
{
	struct mc_heapent	t;
	size_t			i = 0, l, r, m;

	if (q->n == 0)
		return;
	q->h[0] = q->h[--q->n];
	for (;;) {
		l = 2 * i + 1;
		r = l + 1;
		m = i;
		if (l < q->n && mc_heap_less(&q->h[l], &q->h[m]))
			m = l;
		if (r < q->n && mc_heap_less(&q->h[r], &q->h[m]))
			m = r;
		if (m == i)
			break;
		t = q->h[i];
		q->h[i] = q->h[m];
		q->h[m] = t;
		i = m;
	}
}

/* The best still-valid entry, dropping stale ones (lazy deletion). */
static struct mc_heapent *
mc_heap_top(struct mc_queue *q)
{
	while (q->n > 0) {
		struct mc_heapent *e = &q->h[0];

		if (e->p->state == MC_WAITING && e->p->qgen == e->qgen)
			return e;
		mc_heap_pop(q);
	}
	return NULL;
}

static struct mc_queue *
mc_queue_get(const char *colony, const char *type, const char *name,
    int create)
{
	struct mc_queue	*q;
	char		*key;
	int		 n;

	if (name != NULL)
		n = asprintf(&key, "%s\001%s\001%s", colony, type, name);
	else
		n = asprintf(&key, "%s\001%s", colony, type);
	if (n == -1)
		fatal("asprintf");
	if ((q = hmap_get(&mc_queues, key, (size_t)n)) != NULL || !create) {
		free(key);
		return q;
	}
	q = mc_calloc(1, sizeof(*q));
	q->key = key;
	TAILQ_INIT(&q->pollers);
	hmap_put(&mc_queues, q->key, (size_t)n, q);
	return q;
}

void
mc_set_state(struct mc_process *p, int state)
{
	mc_nstate[p->state]--;
	p->state = state;
	mc_nstate[state]++;
	p->qgen++;
	if (p->onrun && state != MC_RUNNING) {
		TAILQ_REMOVE(&mc_running, p, run);
		p->onrun = 0;
	}
	if (p->onwait && state != MC_WAITING) {
		TAILQ_REMOVE(&mc_waitdl, p, run);
		p->onwait = 0;
	}
}

void
mc_finish(struct mc_process *p, int state)
{
	mc_set_state(p, state);
	p->end_us = mc_now_us();
}

static void
mc_enqueue(struct mc_process *p)
{
	struct mc_queue	*q;
	size_t		 i;

	if (p->nnames == 0) {
		q = mc_queue_get(p->colony, p->type, NULL, 1);
		mc_heap_push(q, p);
		return;
	}
	for (i = 0; i < p->nnames; i++) {
		q = mc_queue_get(p->colony, p->type, p->names[i], 1);
		mc_heap_push(q, p);
	}
}

static int
mc_name_ok(struct mc_process *p, const char *name)
{
	size_t	i;

	if (p->nnames == 0)
		return 1;
	for (i = 0; i < p->nnames; i++)
		if (strcmp(p->names[i], name) == 0)
			return 1;
	return 0;
}

/* The process the real assign query would select for ex, or NULL. */
static struct mc_process *
mc_pick(struct mc_executor *ex)
{
	struct mc_queue		*tq, *nq;
	struct mc_heapent	*a = NULL, *b = NULL;

	if ((tq = mc_queue_get(ex->colony, ex->type, NULL, 0)) != NULL)
		a = mc_heap_top(tq);
	if ((nq = mc_queue_get(ex->colony, ex->type, ex->name, 0)) != NULL)
		b = mc_heap_top(nq);
	if (a != NULL && (b == NULL || mc_heap_less(a, b)))
		return a->p;
	if (b != NULL)
		return b->p;
	return NULL;
}

static void
mc_assign(struct mc_process *p, struct mc_executor *ex)
{
	int64_t	now = mc_now_us();

	mc_set_state(p, MC_RUNNING);
	p->isassigned = 1;
	memcpy(p->assigned, ex->id, sizeof(p->assigned));
	p->start_us = now;
	p->execdl_us = p->maxexectime == -1 ? 0 :
	    now + (int64_t)p->maxexectime * 1000000;
	TAILQ_INSERT_TAIL(&mc_running, p, run);
	p->onrun = 1;
}

/*
 * After removeallprocessesmsg: drop the heap entries of processes marked
 * state -1 (about to be freed) and rebuild each heap.
 */
void
mc_queue_purge(void)
{
	struct hent	*e;
	size_t		 i, j, k;

	for (i = 0; i < mc_queues.nb; i++) {
		for (e = mc_queues.b[i]; e != NULL; e = e->next) {
			struct mc_queue *q = e->val;

			for (j = k = 0; j < q->n; j++)
				if (q->h[j].p->state != -1)
					q->h[k++] = q->h[j];
			q->n = k;
			/* Rebuild the heap order. */
			{
				struct mc_heapent *old = q->h;
				size_t on = q->n;

				q->h = NULL;
				q->n = q->cap = 0;
				for (j = 0; j < on; j++) {
					struct mc_process *pp = old[j].p;
					uint32_t g = pp->qgen;

					pp->qgen = old[j].qgen;
					mc_heap_push(q, pp);
					pp->qgen = g;
				}
				free(old);
			}
		}
	}
}

/* --- long-polls ---------------------------------------------------------- */

static void
mc_poller_free(struct mc_poller *pl)
{
	TAILQ_REMOVE(&pl->q->pollers, pl, entry);
	mc_npollers--;
	if (pl->timer != NULL)
		event_free(pl->timer);
	if (pl->watch != NULL)
		event_free(pl->watch);
	if (pl->evcon != NULL)
		evhttp_connection_set_closecb(pl->evcon, NULL, NULL);
	free(pl);
}

static void
mc_poller_give(struct mc_poller *pl, struct mc_process *p)
{
	struct evhttp_request	*req = pl->req;
	struct sb		 b = { NULL, 0, 0 };

	mc_poller_free(pl);
	mc_proc_json(&b, p, 0);
	mc_send(req, 200, "assignprocessmsg", b.s, b.len);
	sb_free(&b);
	if (mc_verbose)
		log_info("assigned %.12s to a waiting poller", p->id);
}

static void
mc_poller_timeout_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct mc_poller	*pl = arg;
	struct evhttp_request	*req = pl->req;
	struct mc_colony	*c = mc_colony_find(pl->ex->colony);
	int			 paused = c != NULL && c->paused;

	mc_poller_free(pl);
	if (paused)
		mc_error(req, 408,
		    "Assignment timeout: colony assignments are paused");
	else
		mc_error(req, 404, "No process available for assignment");
}

/* The client went away: stop waiting, never assign to it. */
static void
mc_poller_close_cb(struct evhttp_connection *evcon, void *arg)
{
	struct mc_poller	*pl = arg;

	struct evhttp_request	*req = pl->req;

	if (mc_verbose)
		log_info("long-poll client of %s went away", pl->ex->name);
	pl->evcon = NULL;
	mc_poller_free(pl);
	/*
	 * libevent detaches a request the user has not answered yet from
	 * the dying connection and leaves it to us; one still attached is
	 * freed with the connection.
	 */
	if (evhttp_request_get_connection(req) == NULL)
		evhttp_request_free(req);
}

/*
 * evhttp stops reading a connection once a request is read, so it would
 * not see a client hang up during a long-poll.  Watch the socket: EOF or
 * an error frees the connection (and, through its close callback, the
 * poller); data (a pipelined request) just ends the watch.
 */
static void
mc_poller_watch_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct mc_poller	*pl = arg;
	char			 c;
	ssize_t			 n;

	n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n > 0 || (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK ||
	    errno == EINTR))) {
		if (n > 0) {
			event_free(pl->watch);
			pl->watch = NULL;
		}
		return;
	}
	if (pl->evcon != NULL)
		evhttp_connection_free(pl->evcon);
}

/*
 * A process became waiting: hand it to the oldest poller that may take
 * it, else queue it.
 */
void
mc_offer(struct mc_process *p)
{
	struct mc_queue		*q;
	struct mc_poller	*pl;
	struct mc_colony	*c;

	c = mc_colony_find(p->colony);
	q = mc_queue_get(p->colony, p->type, NULL, 0);
	if (q != NULL && (c == NULL || !c->paused)) {
		TAILQ_FOREACH(pl, &q->pollers, entry) {
			if (pl->ex->state != MC_EX_APPROVED)
				continue;
			if (!mc_name_ok(p, pl->ex->name))
				continue;
			mc_assign(p, pl->ex);
			mc_poller_give(pl, p);
			return;
		}
	}
	mc_enqueue(p);
}

/* After a resume: feed waiting pollers from the queues. */
static void
mc_feed_pollers(const char *colony)
{
	struct hent		*e;
	struct mc_queue		*q;
	struct mc_poller	*pl, *next;
	struct mc_process	*p;
	size_t			 i;

	for (i = 0; i < mc_queues.nb; i++) {
		for (e = mc_queues.b[i]; e != NULL; e = e->next) {
			q = e->val;
			for (pl = TAILQ_FIRST(&q->pollers); pl != NULL;
			    pl = next) {
				next = TAILQ_NEXT(pl, entry);
				if (strcmp(pl->ex->colony, colony) != 0 ||
				    pl->ex->state != MC_EX_APPROVED)
					continue;
				if ((p = mc_pick(pl->ex)) == NULL)
					continue;
				mc_assign(p, pl->ex);
				mc_poller_give(pl, p);
			}
		}
	}
}

void
mc_requeue_running_of(const char *exid)
{
	struct mc_process	*p, *next;

	for (p = TAILQ_FIRST(&mc_running); p != NULL; p = next) {
		next = TAILQ_NEXT(p, run);
		if (strcmp(p->assigned, exid) != 0)
			continue;
		mc_set_state(p, MC_WAITING);
		p->isassigned = 0;
		p->assigned[0] = '\0';
		p->end_us = mc_now_us();
		mc_offer(p);
	}
}

void
mc_h_assign(struct mc_req *r)
{
	const char		*colony, *cpu, *mem;
	long long		 timeout;
	struct mc_executor	*ex;
	struct mc_process	*p;
	struct mc_colony	*c;
	struct mc_poller	*pl;
	struct timeval		 tv;
	char			 msg[512];

	if (mc_getstr(r->msg, "colonyname", &colony) == -1 ||
	    mc_getint(r->msg, "timeout", &timeout) == -1 ||
	    mc_getstr(r->msg, "availablecpu", &cpu) == -1 ||
	    mc_getstr(r->msg, "availablemem", &mem) == -1)
		MC_BADJSON(r);
	if (mc_require_member(r->id, colony, 1, msg, sizeof(msg)) == -1) {
		mc_error(r->req, 403, "%s", msg);
		return;
	}
	if (timeout == 0) {
		mc_error(r->req, 400,
		    "Invalid timeout value, timeout cannot be zero");
		return;
	}
	if ((ex = mc_ex_byid(r->id)) == NULL) {
		mc_error(r->req, 500,
		    "Failed to assign process, executor not found");
		return;
	}
	/* Every assign attempt is the executor's heartbeat. */
	ex->lastheard_us = mc_now_us();
	ex->polled = 1;
	c = mc_colony_find(colony);
	if (c != NULL && c->paused && timeout < 0) {
		mc_error(r->req, 503,
		    "No processes available: colony assignments are paused");
		return;
	}
	if ((c == NULL || !c->paused) && (p = mc_pick(ex)) != NULL) {
		struct sb	b = { NULL, 0, 0 };

		mc_assign(p, ex);
		mc_proc_json(&b, p, 0);
		mc_reply_sb(r, &b);
		sb_free(&b);
		return;
	}
	if (timeout < 0) {
		mc_error(r->req, 404, "No process available for assignment");
		return;
	}
	pl = mc_calloc(1, sizeof(*pl));
	pl->req = r->req;
	pl->ex = ex;
	pl->q = mc_queue_get(ex->colony, ex->type, NULL, 1);
	pl->evcon = evhttp_request_get_connection(r->req);
	if ((pl->timer = evtimer_new(mc_base, mc_poller_timeout_cb, pl)) ==
	    NULL)
		fatal("evtimer_new");
	if (timeout > 86400 * 365)
		timeout = 86400 * 365;
	tv.tv_sec = (time_t)timeout;
	tv.tv_usec = 0;
	evtimer_add(pl->timer, &tv);
	TAILQ_INSERT_TAIL(&pl->q->pollers, pl, entry);
	mc_npollers++;
	if (pl->evcon != NULL) {
		struct bufferevent	*bev;

		evhttp_connection_set_closecb(pl->evcon, mc_poller_close_cb,
		    pl);
		bev = evhttp_connection_get_bufferevent(pl->evcon);
		if (bev != NULL && bufferevent_getfd(bev) != -1) {
			pl->watch = event_new(mc_base, bufferevent_getfd(bev),
			    EV_READ | EV_PERSIST, mc_poller_watch_cb, pl);
			if (pl->watch == NULL)
				fatal("event_new");
			event_add(pl->watch, NULL);
		}
	}
}

void
mc_h_pause(struct mc_req *r)
{
	const char		*colony;
	char			 msg[512];
	struct mc_colony	*c;
	int			 pause = strcmp(r->payloadtype,
				    "pauseassignmentsmsg") == 0;

	if (mc_getstr(r->msg, "colonyname", &colony) == -1)
		MC_BADJSON(r);
	if (mc_require_owner(r->id, colony, msg, sizeof(msg)) == -1) {
		mc_error(r->req, 403, "%s", msg);
		return;
	}
	c = mc_colony_find(colony);
	c->paused = pause;
	mc_reply_empty(r);
	if (!pause)
		mc_feed_pollers(colony);
}

/* --- timers -------------------------------------------------------------- */

/* Every second, as the real server: exec and wait deadlines. */
void
mc_expiry_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct mc_process	*p, *next;
	int64_t			 now = mc_now_us(), nows = now / 1000000;
	json_t			*errs;

	for (p = TAILQ_FIRST(&mc_running); p != NULL; p = next) {
		next = TAILQ_NEXT(p, run);
		if (p->maxexectime == -1 || p->execdl_us / 1000000 >= nows)
			continue;
		if (p->maxretries > -1 && p->retries >= p->maxretries) {
			errs = json_array();
			json_array_append_new(errs, json_string(
			    "Maximum execution time limit exceeded"));
			json_decref(p->errors);
			p->errors = errs;
			mc_finish(p, MC_FAILED);
			continue;
		}
		mc_set_state(p, MC_WAITING);
		p->isassigned = 0;
		p->assigned[0] = '\0';
		p->retries++;
		p->end_us = now;
		if (p->maxwaittime > 0) {
			p->waitdl_us = now + (int64_t)p->maxwaittime * 1000000;
			TAILQ_INSERT_TAIL(&mc_waitdl, p, run);
			p->onwait = 1;
		}
		mc_offer(p);
	}
	for (p = TAILQ_FIRST(&mc_waitdl); p != NULL; p = next) {
		next = TAILQ_NEXT(p, run);
		if (p->waitdl_us / 1000000 >= nows)
			continue;
		errs = json_array();
		json_array_append_new(errs,
		    json_string("Maximum waiting time limit exceeded"));
		json_decref(p->errors);
		p->errors = errs;
		mc_finish(p, MC_FAILED);
	}
}

/*
 * Stale executors: those that polled once and then fell silent are
 * removed as removeexecutormsg does (the real cleanup calls the same
 * RemoveExecutorByName); their running processes go back to the queue.
 */
void
mc_cleanup_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct mc_executor	*ex;
	int64_t			 now = mc_now_us();

	TAILQ_FOREACH(ex, &mc_executors, entry) {
		if (!ex->polled || ex->state == MC_EX_UNREGISTERED)
			continue;
		if (now - ex->lastheard_us > (int64_t)mc_stale_s * 1000000) {
			if (mc_verbose)
				log_info("executor %s is stale: unregistered",
				    ex->name);
			mc_ex_remove(ex);
		}
	}
}
