/*
 * intake.c: a webhook intake process, "financebeed --intake N".
 *
 * NOTES
 *
 * The master starts intake.processes of these beside the bees, with the
 * same supervision (respawn with backoff, crash-loop guard, heartbeats and
 * counters on a channel, a status page).  Each serves HTTP with libevent's
 * evhttp on the listening sockets it inherits from the master (fds 6..,
 * "--listen-fds N"): one accept queue per address, shared by every intake
 * process, which survives the death of any one of them.  Started alone
 * (no --listen-fds) it opens its own sockets with SO_REUSEPORT.
 *
 * One request at a time, start to end: read by evhttp (bounded by
 * intake.max_body and intake.read_timeout), checked (POST only, the
 * Stripe-Signature over the exact body, the event envelope: guardian.c,
 * the very code a bee runs), then submitted to ColonyOS as a
 * validate_revenue process signed with the intake identity, with a
 * blocking call bounded by intake.submit_timeout.  The reply goes out
 * only after that: 200 means ColonyOS holds the process, so Stripe
 * retries everything else.  Concurrency comes from the number of intake
 * processes, not from one process multiplexing submits: the ColonyOS
 * client is blocking, a submit takes a millisecond or two on a healthy
 * server, and a process that is killed mid-request can only lose a request
 * its client sees fail.  Connections queue in the kernel meanwhile.
 *
 * Replies: 200 submitted (or acknowledged without a submission when
 * intake.ack_ignored is set and financebee ignores the event's type); 400
 * bad signature, stale timestamp or not a Stripe event (nothing
 * submitted); 404 another path; 405 another method; 413 a body over
 * intake.max_body; 503 + Retry-After when ColonyOS cannot be reached or
 * refuses the intake identity; 500 when it rejects the submission.
 * GET intake.health_path: 200 when ColonyOS answered within the last
 * seconds (asked with the intake identity), else 503.
 *
 * The submitted process carries the raw body as args[0] and, in kwargs,
 * the Stripe-Signature header, "source" = "intake" and "fb_received_us",
 * the receipt time (Unix microseconds, as a string: kwargs values are
 * strings for the guardian, and ColonyOS passes numbers through float64).
 * A bee judges the signature's age against that time when the process
 * comes from the intake identity (a queue may hold an event longer than
 * the tolerance) and measures webhook->commit from it.
 *
 * Signals: SIGTERM (or "drain" from the master, or the master's death)
 * stops accepting, answers what was already received within a second,
 * then exits 0; a second SIGTERM or SIGQUIT exits at once.
 *
 * Exit status: 0 stopped; 78 configuration (or the colony refused to
 * register the identity).  ColonyOS unreachable at start is not fatal:
 * the process serves, answering 503 until ColonyOS is back.
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "financebeed.h"
#include "fbee-proto.h"

#define INTAKE_TICK_MS		1000
#define INTAKE_DRAIN_MS		1000	/* to answer what was received */
#define INTAKE_HEALTH_TTL_MS	2000	/* a ColonyOS answer stays good */
#define INTAKE_MAX_HEADERS	16384

struct intake {
	unsigned int		 slot;
	unsigned int		 generation;
	int			 fd;		/* the channel, or -1 */
	struct fb_config	 cfg;
	struct event_base	*base;
	struct evhttp		*http;
	struct evhttp_bound_socket *bound[LISTEN_MAXFDS];
	size_t			 nbound;
	struct colonies		*col;
	char			 executorid[CRYPTO_ID_HEXLEN + 1];
	const char		*funcname;
	const char		*extype;
	int			 maxexectime;
	struct event		*ev_chan;
	struct event		*ev_tick;
	struct event		*ev_drain;
	struct event		*ev_sig[4];
	msgpack_unpacker	 unp;
	struct fbee_shm		*shm;
	struct fbee_shm		 shm_local;
	int			 state;
	int64_t			 since;
	int			 draining;
	int			 replying;	/* in intake_reply() */
	int			 orphan;
	int			 sigterms;
	int64_t			 last_counters;
	int64_t			 last_hb;
	uint64_t		 requests;
	struct intake_counters	 c;
	int64_t			 colonies_ok_at;	/* ms, last answer */
	int			 colonies_down;		/* for one log line */
	struct fb_change	 change;
	pid_t			 pid;
};

static const char *const intake_result_names[INTAKE_R_MAX] = {
	"submitted", "ignored", "bad_request", "not_found",
	"method_not_allowed", "too_large", "unavailable", "error"
};

const char *
intake_result_str(int r)
{
	if (r < 0 || r >= INTAKE_R_MAX)
		return "?";
	return intake_result_names[r];
}

static void
intake_send(struct intake *in, const struct fbee_msg *m)
{
	char	cause[FB_CAUSE_MAX];

	if (in->fd == -1 || in->orphan)
		return;
	if (fbee_send(in->fd, m, cause, sizeof(cause)) == -1) {
		log_warnx("channel: %s; lost the master: stopping", cause);
		in->orphan = 1;
	}
}

static void
intake_shm_attach(struct intake *in, int fd)
{
	if ((in->shm = fbee_shm_map(fd)) == NULL)
		in->shm = &in->shm_local;
}

/* The status page at every change; a message at most once a second. */
static void
intake_heartbeat(struct intake *in, int state, int force)
{
	struct fbee_msg	 m;
	struct fbee_shm	*p = in->shm;
	int64_t		 now = clock_now_ms();

	if (state != in->state)
		in->since = now;
	in->state = state;
	fbee_shm_write_begin(p);
	p->state = state;
	p->phase = FBEE_PH_NONE;
	p->pid = (int64_t)in->pid;
	p->since = in->since;
	p->task_start = 0;
	p->last_beat = now;
	p->tasks = in->requests;
	p->polls = 0;
	p->processid[0] = '\0';
	p->event[0] = '\0';
	fbee_shm_write_end(p);
	if (!force && now - in->last_hb < 1000)
		return;
	memset(&m, 0, sizeof(m));
	m.type = FBEE_HEARTBEAT;
	m.state = state;
	m.phase = FBEE_PH_NONE;
	intake_send(in, &m);
	in->last_hb = now;
}

static void
intake_counters(struct intake *in, int force)
{
	struct fbee_msg	m;
	int64_t		now = clock_now_ms();

	if (!force && now - in->last_counters < in->cfg.metrics_interval_ms)
		return;
	in->last_counters = now;
	memset(&m, 0, sizeof(m));
	m.type = FBEE_COUNTERS;
	m.c.rss_kb = metrics_rss_kb(in->pid);
	m.c.http_errors = in->c.submit_errors;
	m.c.hist = in->c.submit_hist;
	memcpy(m.c.intake, in->c.results, sizeof(m.c.intake));
	intake_send(in, &m);
}

static void
intake_bye(struct intake *in, int code, const char *reason)
{
	struct fbee_msg	m;

	intake_counters(in, 1);
	memset(&m, 0, sizeof(m));
	m.type = FBEE_BYE;
	m.code = code;
	snprintf(m.reason, sizeof(m.reason), "%s", reason);
	intake_send(in, &m);
}

/* --- replies --------------------------------------------------------- */

static void
intake_reply(struct intake *in, struct evhttp_request *req, int code,
    const char *reason, int result, const char *fmt, ...)
    __attribute__((__format__(__printf__, 6, 7)));

static void
intake_reply(struct intake *in, struct evhttp_request *req, int code,
    const char *reason, int result, const char *fmt, ...)
{
	struct evkeyvalq	*h = evhttp_request_get_output_headers(req);
	struct evbuffer		*b;
	char			 ra[16];
	va_list			 ap;

	if (result >= 0 && result < INTAKE_R_MAX)
		in->c.results[result]++;
	evhttp_add_header(h, "Content-Type", code == 200 ?
	    "application/json" : "text/plain; charset=utf-8");
	if (code == 503) {
		snprintf(ra, sizeof(ra), "%d", in->cfg.intake_retry_after);
		evhttp_add_header(h, "Retry-After", ra);
	}
	if (code == 405)
		evhttp_add_header(h, "Allow", "POST");
	/* Stopping: no more requests on this connection. */
	if (in->draining)
		evhttp_add_header(h, "Connection", "close");
	in->replying = 1;
	if ((b = evbuffer_new()) == NULL) {
		evhttp_send_reply(req, code, reason, NULL);
		in->replying = 0;
		return;
	}
	va_start(ap, fmt);
	evbuffer_add_vprintf(b, fmt, ap);
	va_end(ap);
	evbuffer_add(b, "\n", 1);
	evhttp_send_reply(req, code, reason, b);
	evbuffer_free(b);
	in->replying = 0;
}

/*
 * evhttp answers a body over intake.max_body (or headers over their
 * limit) with 413 itself, before any callback of ours: libevent 2.1 has
 * no hook for it.  Every connection's output buffer is watched instead,
 * and a status line "HTTP/1.x 413" written outside intake_reply() is
 * counted as too_large, like ours.  The callback runs as evhttp adds the
 * line (evbuffer callbacks are not deferred here).
 */
static void
intake_out_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info,
    void *arg)
{
	struct intake		*in = arg;
	struct evbuffer_ptr	 pos;
	char			 line[12];
	size_t			 len = evbuffer_get_length(buf);

	if (in->replying || info->n_added < sizeof(line) ||
	    len < info->n_added)
		return;
	if (evbuffer_ptr_set(buf, &pos, len - info->n_added,
	    EVBUFFER_PTR_SET) == -1 ||
	    evbuffer_copyout_from(buf, &pos, line, sizeof(line)) !=
	    (ev_ssize_t)sizeof(line))
		return;
	if (memcmp(line, "HTTP/1.", 7) == 0 && memcmp(line + 8, " 413", 4) == 0)
		in->c.results[INTAKE_R_TOOBIG]++;
}

static struct bufferevent *
intake_bev_cb(struct event_base *base, void *arg)
{
	struct bufferevent	*bev;

	/* NULL: evhttp makes its own, and such a 413 goes uncounted. */
	if ((bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE)) ==
	    NULL)
		return NULL;
	if (evbuffer_add_cb(bufferevent_get_output(bev), intake_out_cb,
	    arg) == NULL) {
		bufferevent_free(bev);
		return NULL;
	}
	return bev;
}

/* ColonyOS answered (ok) or could not be reached (!ok): one log line a turn. */
static void
intake_colonies_seen(struct intake *in, int ok, const char *cause)
{
	if (ok) {
		in->colonies_ok_at = clock_now_ms();
		if (in->colonies_down)
			log_info("ColonyOS reachable again");
		in->colonies_down = 0;
		return;
	}
	in->colonies_ok_at = 0;
	if (!in->colonies_down)
		log_warnx("ColonyOS: %s; answering 503 until it is back",
		    cause);
	in->colonies_down = 1;
}

static void
intake_health(struct intake *in, struct evhttp_request *req)
{
	json_t		*ex = NULL;
	char		 cause[FB_CAUSE_MAX];
	enum col_err	 e;
	int		 cmd = evhttp_request_get_command(req);

	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Allow", "GET, HEAD");
		intake_reply(in, req, 405, "Method Not Allowed", -1,
		    "GET only");
		return;
	}
	if (in->colonies_ok_at == 0 ||
	    clock_now_ms() - in->colonies_ok_at > INTAKE_HEALTH_TTL_MS) {
		e = colonies_get_executor(in->col, in->cfg.colony,
		    in->cfg.intake_name, &ex, cause, sizeof(cause));
		json_decref(ex);
		if (e == COL_TRANSPORT || e == COL_SERVER || e == COL_PROTO ||
		    e == COL_AUTH)
			intake_colonies_seen(in, 0, cause);
		else
			intake_colonies_seen(in, 1, NULL);
	}
	if (in->colonies_ok_at != 0)
		intake_reply(in, req, 200, "OK", -1, "{\"colonies\":\"ok\"}");
	else
		intake_reply(in, req, 503, "Service Unavailable", -1,
		    "ColonyOS unreachable");
}

/* The kind normalisation gave: "ignored" events need no bee. */
static int
intake_is_ignored(const struct fb_change *c)
{
	const char	*v;
	size_t		 n;

	v = change_value(c, "kind", &n);
	return v != NULL && n == 9 && memcmp(v, "\"ignored\"", 9) == 0;
}

static void
intake_webhook(struct intake *in, struct evhttp_request *req,
    int64_t received_us)
{
	struct evbuffer		*buf = evhttp_request_get_input_buffer(req);
	struct col_process	 p;
	enum guardian_verdict	 v;
	enum col_err		 e;
	json_t			*spec;
	const char		*body, *sighdr;
	char			 cause[FB_CAUSE_MAX], recv[32];
	size_t			 len;
	int64_t			 t0;

	if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
		intake_reply(in, req, 405, "Method Not Allowed",
		    INTAKE_R_METHOD, "POST only");
		return;
	}
	len = evbuffer_get_length(buf);
	if (len > in->cfg.intake_max_body) {
		intake_reply(in, req, 413, "Payload Too Large",
		    INTAKE_R_TOOBIG, "body over %zu bytes",
		    in->cfg.intake_max_body);
		return;
	}
	body = len > 0 ? (const char *)evbuffer_pullup(buf, -1) : "";
	sighdr = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Stripe-Signature");
	v = guardian_check_webhook(&in->cfg, body, len, sighdr,
	    received_us / 1000000, &in->change, cause, sizeof(cause));
	if (v == GUARDIAN_BAD_SIGNATURE || v == GUARDIAN_BAD_EVENT) {
		log_debug("refused: %s", cause);
		intake_reply(in, req, 400, "Bad Request", INTAKE_R_BADREQ,
		    "%s", cause);
		return;
	}
	if (v == GUARDIAN_OK && in->cfg.intake_ack_ignored &&
	    intake_is_ignored(&in->change)) {
		intake_reply(in, req, 200, "OK", INTAKE_R_IGNORED,
		    "{\"received\":true,\"ignored\":true}");
		return;
	}

	snprintf(recv, sizeof(recv), "%" PRId64, received_us);
	spec = json_pack("{s:s, s:[s%], s:{s:s, s:s, s:s}, s:i, s:i, s:i, "
	    "s:i, s:{s:s, s:s}}",
	    "funcname", in->funcname,
	    "args", body, len,
	    "kwargs", GUARDIAN_KWARG_SIGNATURE, sighdr != NULL ? sighdr : "",
	    GUARDIAN_KWARG_SOURCE, "intake", GUARDIAN_KWARG_RECEIVED, recv,
	    "priority", in->cfg.intake_priority,
	    "maxexectime", in->maxexectime,
	    "maxretries", in->cfg.intake_maxretries,
	    "maxwaittime", 0,
	    "conditions", "colonyname", in->cfg.colony,
	    "executortype", in->extype);
	if (spec == NULL) {
		/* The guardian took it, so this is memory, not the body. */
		intake_reply(in, req, 500, "Internal Server Error",
		    INTAKE_R_ERROR, "out of memory");
		return;
	}
	t0 = clock_now_ms();
	e = colonies_submit(in->col, spec, &p, cause, sizeof(cause));
	json_decref(spec);
	if (e == COL_OK) {
		metrics_hist_add(&in->c.submit_hist,
		    (uint64_t)(clock_now_ms() - t0) * 1000);
		intake_colonies_seen(in, 1, NULL);
		intake_reply(in, req, 200, "OK", INTAKE_R_SUBMITTED,
		    "{\"received\":true,\"process\":\"%s\"}", p.processid);
		col_process_free(&p);
		return;
	}
	col_process_free(&p);
	in->c.submit_errors++;
	if (e == COL_TRANSPORT || e == COL_SERVER || e == COL_PROTO ||
	    e == COL_AUTH) {
		/*
		 * Not known to be submitted (a reply lost after the server
		 * took it included): Stripe sends it again, and the store
		 * makes a second copy a duplicate.
		 */
		intake_colonies_seen(in, 0, cause);
		intake_reply(in, req, 503, "Service Unavailable",
		    INTAKE_R_UNAVAILABLE, "ColonyOS unavailable");
		return;
	}
	log_warnx("submit refused: %s: %s", col_err_str(e), cause);
	intake_reply(in, req, 500, "Internal Server Error", INTAKE_R_ERROR,
	    "submission refused");
}

static void
intake_request_cb(struct evhttp_request *req, void *arg)
{
	struct intake		*in = arg;
	const struct evhttp_uri	*uri = evhttp_request_get_evhttp_uri(req);
	const char		*path = uri != NULL ? evhttp_uri_get_path(uri) :
				    NULL;
	int64_t			 received_us = clock_wall_us();

	in->requests++;
	if (path != NULL && strcmp(path, in->cfg.intake_path) == 0)
		intake_webhook(in, req, received_us);
	else if (path != NULL && strcmp(path, in->cfg.intake_health_path) == 0)
		intake_health(in, req);
	else
		intake_reply(in, req, 404, "Not Found", INTAKE_R_NOTFOUND,
		    "not found");
	/* "idle" throughout: a request is never longer than submit_timeout,
	 * which is below supervision.heartbeat_timeout. */
	intake_heartbeat(in, in->state, 0);
}

/* --- stopping, the channel, signals ------------------------------------ */

static void
intake_drain_done_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct intake	*in = arg;

	(void)fd;
	(void)ev;
	event_base_loopexit(in->base, NULL);
}

/* Stop accepting; answer what was received; then exit. */
static void
intake_drain(struct intake *in, const char *why)
{
	struct timeval	tv;
	size_t		i;

	if (in->draining)
		return;
	in->draining = 1;
	log_info("stopping (%s) after %" PRIu64 " requests", why,
	    in->requests);
	for (i = 0; i < in->nbound; i++)
		evhttp_del_accept_socket(in->http, in->bound[i]);
	in->nbound = 0;
	intake_heartbeat(in, FBEE_ST_DRAINING, 1);
	tv.tv_sec = INTAKE_DRAIN_MS / 1000;
	tv.tv_usec = (INTAKE_DRAIN_MS % 1000) * 1000;
	if (in->cfg.intake_read_timeout_ms < INTAKE_DRAIN_MS) {
		tv.tv_sec = in->cfg.intake_read_timeout_ms / 1000;
		tv.tv_usec = (in->cfg.intake_read_timeout_ms % 1000) * 1000;
	}
	in->ev_drain = evtimer_new(in->base, intake_drain_done_cb, in);
	if (in->ev_drain == NULL || evtimer_add(in->ev_drain, &tv) == -1)
		event_base_loopexit(in->base, NULL);
}

static void
intake_handle(struct intake *in, const struct fbee_msg *m)
{
	switch (m->type) {
	case FBEE_DRAIN:
		intake_drain(in, "drain");
		break;
	case FBEE_PAUSE:
	case FBEE_RESUME:
		break;		/* pausing is for the bees */
	case FBEE_REOPEN:
		(void)log_reopen();
		break;
	default:
		log_warnx("channel: unexpected %s message",
		    fbee_type_str(m->type));
		break;
	}
}

static void
intake_chan_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct intake		*in = arg;
	msgpack_unpacked	 up;
	struct fbee_msg		 m;
	char			 cause[FB_CAUSE_MAX];
	ssize_t			 n;
	int			 rc;

	(void)ev;
	if (!msgpack_unpacker_reserve_buffer(&in->unp, 4096))
		goto orphan;
	n = read(fd, msgpack_unpacker_buffer(&in->unp), 4096);
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0)
		goto orphan;
	msgpack_unpacker_buffer_consumed(&in->unp, (size_t)n);
	msgpack_unpacked_init(&up);
	while ((rc = msgpack_unpacker_next(&in->unp, &up)) ==
	    MSGPACK_UNPACK_SUCCESS) {
		if (fbee_decode(&up.data, &m, cause, sizeof(cause)) == -1) {
			log_warnx("channel: %s", cause);
			msgpack_unpacked_destroy(&up);
			goto orphan;
		}
		intake_handle(in, &m);
	}
	msgpack_unpacked_destroy(&up);
	if (rc != MSGPACK_UNPACK_PARSE_ERROR)
		return;
	log_warnx("channel: undecodable data from the master");

orphan:
	event_del(in->ev_chan);
	in->orphan = 1;
	intake_drain(in, "lost the master");
}

static void
intake_signal_cb(evutil_socket_t sig, short ev, void *arg)
{
	struct intake	*in = arg;

	(void)ev;
	if (sig == SIGTERM && in->sigterms++ == 0) {
		intake_drain(in, "SIGTERM");
		return;
	}
	if (sig == SIGTERM || sig == SIGQUIT) {
		log_info("stopping at once");
		event_base_loopbreak(in->base);
	}
}

static void
intake_tick_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct intake	*in = arg;

	(void)fd;
	(void)ev;
	if (in->orphan && !in->draining)
		intake_drain(in, "lost the master");
	intake_heartbeat(in, in->state, 0);
	intake_counters(in, 0);
}

/* --- setup --------------------------------------------------------------- */

/* With the owner key: add and approve the intake identity (idempotent). */
static int
intake_register(struct intake *in, const struct crypto_key *key)
{
	struct crypto_key	 owner;
	struct colonies		*c;
	char			 cause[FB_CAUSE_MAX];
	enum col_err		 e;

	if (in->cfg.owner_key == NULL || in->cfg.owner_key[0] == '\0')
		return FB_EX_OK;	/* registered by the operator */
	if (crypto_key_parse(&owner, in->cfg.owner_key,
	    strlen(in->cfg.owner_key), cause, sizeof(cause)) == -1) {
		log_warnx("owner key: %s", cause);
		return FB_EX_CONFIG;
	}
	c = colonies_open(in->cfg.colonies_url, &owner,
	    in->cfg.http_connect_timeout_ms, in->cfg.http_timeout_ms);
	crypto_key_clear(&owner);
	if (c == NULL) {
		log_warnx("cannot create the owner's ColonyOS client");
		return FB_EX_SOFTWARE;
	}
	e = colonies_add_executor(c, in->cfg.colony, key->id,
	    in->cfg.intake_submitter_type, in->cfg.intake_name, cause,
	    sizeof(cause));
	if (e == COL_OK || (e == COL_BADREQ && strstr(cause,
	    "already exists") != NULL))
		e = colonies_approve_executor(c, in->cfg.colony,
		    in->cfg.intake_name, cause, sizeof(cause));
	colonies_free(c);
	if (e != COL_OK) {
		log_warnx("cannot register the intake identity %s: %s: %s",
		    in->cfg.intake_name, col_err_str(e), cause);
		return e == COL_TRANSPORT || e == COL_SERVER ? FB_EX_TEMPFAIL :
		    FB_EX_CONFIG;
	}
	return FB_EX_OK;
}

static int
intake_setup(struct intake *in, const char *cfgpath, int cfgfd,
    const int *lfds, size_t nlfds)
{
	struct crypto_key	 key;
	struct fbee_msg		 m;
	struct timeval		 tv;
	char			 cause[FB_CAUSE_MAX];
	int			 fds[LISTEN_MAXFDS], rc;
	size_t			 i, n;

	if ((cfgfd >= 0 ? config_load_fd(cfgpath, cfgfd, &in->cfg, cause,
	    sizeof(cause)) : config_load(cfgpath, &in->cfg, cause,
	    sizeof(cause))) == -1) {
		log_warnx("%s", cause);
		return FB_EX_CONFIG;
	}
	if (cfgfd >= 0)
		close(cfgfd);
	if (log_init(NULL, in->cfg.log_level, in->cfg.log_target, cause,
	    sizeof(cause)) == -1) {
		log_warnx("log: %s", cause);
		return FB_EX_CONFIG;
	}
	if (in->cfg.intake_key == NULL) {
		log_warnx("no intake.key_file: the intake cannot submit");
		return FB_EX_CONFIG;
	}
	if (crypto_key_parse(&key, in->cfg.intake_key,
	    strlen(in->cfg.intake_key), cause, sizeof(cause)) == -1) {
		log_warnx("intake.key_file: %s", cause);
		return FB_EX_CONFIG;
	}
	snprintf(in->executorid, sizeof(in->executorid), "%s", key.id);
	in->funcname = in->cfg.nfuncnames > 0 ? in->cfg.funcnames[0] :
	    "validate_revenue";
	in->extype = in->cfg.intake_executor_type[0] != '\0' ?
	    in->cfg.intake_executor_type : in->cfg.executor_type;
	in->maxexectime = in->cfg.intake_maxexectime != 0 ?
	    in->cfg.intake_maxexectime : in->cfg.lease;

	memset(&m, 0, sizeof(m));
	m.type = FBEE_HELLO;
	m.slot = in->slot;
	m.pid = (int64_t)in->pid;
	m.generation = in->generation;
	m.proto = FBEE_PROTO_VERSION;
	snprintf(m.executor, sizeof(m.executor), "%s", in->cfg.intake_name);
	snprintf(m.executorid, sizeof(m.executorid), "%s", in->executorid);
	intake_send(in, &m);

	/*
	 * ColonyOS down at start: serve anyway, so that webhooks get a 503
	 * at once rather than waiting in the accept queue; the identity is
	 * registered already unless this is the first start.
	 */
	if ((rc = intake_register(in, &key)) != FB_EX_OK &&
	    rc != FB_EX_TEMPFAIL) {
		crypto_key_clear(&key);
		return rc;
	}
	in->col = colonies_open(in->cfg.colonies_url, &key,
	    in->cfg.http_connect_timeout_ms, in->cfg.intake_submit_timeout_ms);
	crypto_key_clear(&key);
	if (in->col == NULL) {
		log_warnx("cannot create the ColonyOS client");
		return FB_EX_SOFTWARE;
	}

	if ((in->base = event_base_new()) == NULL ||
	    (in->http = evhttp_new(in->base)) == NULL) {
		log_warnx("cannot create the event loop");
		return FB_EX_SOFTWARE;
	}
	evhttp_set_max_body_size(in->http, (ev_ssize_t)in->cfg.intake_max_body);
	evhttp_set_max_headers_size(in->http, INTAKE_MAX_HEADERS);
	tv.tv_sec = in->cfg.intake_read_timeout_ms / 1000;
	tv.tv_usec = (in->cfg.intake_read_timeout_ms % 1000) * 1000;
	evhttp_set_timeout_tv(in->http, &tv);
	/* Every method reaches us, so that we answer 405, not 501. */
	evhttp_set_allowed_methods(in->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	    EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT |
	    EVHTTP_REQ_PATCH);
	/* A body over the limit is read and answered 413, not reset. */
	evhttp_set_flags(in->http, EVHTTP_SERVER_LINGERING_CLOSE);
	evhttp_set_gencb(in->http, intake_request_cb, in);
	evhttp_set_bevcb(in->http, intake_bev_cb, in);

	if (nlfds == 0) {
		if (listen_open(in->cfg.intake_listen,
		    in->cfg.nintake_listen, 1, fds, LISTEN_MAXFDS, &n, cause,
		    sizeof(cause)) == -1) {
			log_warnx("intake.listen: %s", cause);
			return FB_EX_TEMPFAIL;
		}
		lfds = fds;
		nlfds = n;
	}
	for (i = 0; i < nlfds && i < LISTEN_MAXFDS; i++) {
		if ((in->bound[in->nbound] = evhttp_accept_socket_with_handle(
		    in->http, lfds[i])) == NULL) {
			log_warnx("cannot accept on fd %d", lfds[i]);
			return FB_EX_SOFTWARE;
		}
		in->nbound++;
	}

	in->ev_tick = event_new(in->base, -1, EV_PERSIST, intake_tick_cb, in);
	tv.tv_sec = INTAKE_TICK_MS / 1000;
	tv.tv_usec = 0;
	if (in->ev_tick == NULL || event_add(in->ev_tick, &tv) == -1)
		return FB_EX_SOFTWARE;
	if (in->fd != -1) {
		in->ev_chan = event_new(in->base, in->fd, EV_READ | EV_PERSIST,
		    intake_chan_cb, in);
		if (in->ev_chan == NULL || event_add(in->ev_chan, NULL) == -1)
			return FB_EX_SOFTWARE;
	}
	in->ev_sig[0] = evsignal_new(in->base, SIGTERM, intake_signal_cb, in);
	in->ev_sig[1] = evsignal_new(in->base, SIGQUIT, intake_signal_cb, in);
	for (i = 0; i < 2; i++)
		if (in->ev_sig[i] == NULL || event_add(in->ev_sig[i],
		    NULL) == -1)
			return FB_EX_SOFTWARE;
	log_info("intake %u ready: %zu listening socket%s, path %s, "
	    "identity %s (%s)", in->slot, in->nbound, in->nbound == 1 ? "" :
	    "s", in->cfg.intake_path, in->cfg.intake_name, in->executorid);
	return FB_EX_OK;
}

int
intake_main(const char *cfgpath, unsigned int slot, unsigned int generation,
    int chanfd, int statusfd, int cfgfd, const int *lfds, size_t nlfds)
{
	struct intake	in;
	size_t		i;
	int		rc;

	log_procname("intake[%u]", slot);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGUSR1, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	memset(&in, 0, sizeof(in));
	in.slot = slot;
	in.generation = generation;
	in.fd = chanfd;
	in.pid = getpid();
	in.since = clock_now_ms();
	change_init(&in.change);
	intake_shm_attach(&in, statusfd);
	if (!msgpack_unpacker_init(&in.unp, 4096)) {
		log_warnx("out of memory");
		return FB_EX_SOFTWARE;
	}
	if ((rc = intake_setup(&in, cfgpath, cfgfd, lfds, nlfds)) ==
	    FB_EX_OK) {
		intake_heartbeat(&in, FBEE_ST_IDLE, 1);
		intake_counters(&in, 1);
		event_base_dispatch(in.base);
		intake_counters(&in, 1);
		log_info("stopped after %" PRIu64 " requests", in.requests);
	} else
		intake_bye(&in, rc, rc == FB_EX_CONFIG ? "configuration" :
		    "dependency down");

	for (i = 0; i < sizeof(in.ev_sig) / sizeof(in.ev_sig[0]); i++)
		if (in.ev_sig[i] != NULL)
			event_free(in.ev_sig[i]);
	if (in.ev_tick != NULL)
		event_free(in.ev_tick);
	if (in.ev_chan != NULL)
		event_free(in.ev_chan);
	if (in.ev_drain != NULL)
		event_free(in.ev_drain);
	if (in.http != NULL)
		evhttp_free(in.http);
	if (in.base != NULL)
		event_base_free(in.base);
	if (in.col != NULL)
		colonies_free(in.col);
	change_free(&in.change);
	config_free(&in.cfg);
	msgpack_unpacker_destroy(&in.unp);
	if (in.shm != &in.shm_local)
		munmap(in.shm, sizeof(*in.shm));
	if (in.fd != -1)
		close(in.fd);
	return rc;
}
