/*
 * minicolonies.c: a small, protocol-faithful ColonyOS server for tests,
 * the demo and benchmarks.  One process, one libevent loop, all state in
 * memory.  It answers the RPC envelope as the real server (colonyos/
 * colonies) does, including its error texts, the order of its checks and
 * its quirks (see shared/colonies-protocol.md); where the two differ, the
 * real server is right and this file is wrong.
 *
 * Speed comes from three things: recovered signer ids are cached by
 * SHA3(payload) || signature (an executor's assign envelope never changes),
 * waiting processes sit in per-type binary heaps ordered as the real
 * server's "ORDER BY PRIORITY_TIME", and a submit hands the process straight
 * to the oldest long-poll that may take it.
 *
 * minicolonies-only extras (not ColonyOS): GET /dump (every process, one
 * JSON object per line) and GET /stats (counts by state).  Both are
 * unauthenticated: this is a loopback test server.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
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

#include "colonies.h"
#include "minicolonies.h"

#define MC_MAX_BODY		(64u * 1024 * 1024)
#define MC_CACHE_SLOTS		65536
#define MC_MAX_COUNT		100
#define MC_MIN_PRIORITY		-50000
#define MC_MAX_PRIORITY		50000
#define MC_NS_PER_DAY		(86400LL * 1000000000LL)

enum mc_state {
	MC_WAITING = 0,
	MC_RUNNING,
	MC_SUCCESS,
	MC_FAILED,
	MC_CANCELLED
};

enum mc_exstate {
	MC_EX_PENDING = 0,
	MC_EX_APPROVED,
	MC_EX_REJECTED,
	MC_EX_UNREGISTERED
};

/* A chained hash map from byte-string keys (owned by the value) to values. */
struct hent {
	struct hent	*next;
	uint64_t	 h;
	const char	*key;
	size_t		 klen;
	void		*val;
};
struct hmap {
	struct hent	**b;
	size_t		  nb;
	size_t		  n;
};

struct mc_colony {
	char			 *name;
	char			  id[CRYPTO_ID_HEXLEN + 1];
	int			  paused;
	TAILQ_ENTRY(mc_colony)	  entry;
};

struct mc_executor {
	char			  id[CRYPTO_ID_HEXLEN + 1];
	char			 *name;
	char			 *type;
	char			 *colony;
	char			 *namekey;	/* colony \1 name */
	int			  state;
	int			  polled;	/* ever called assign */
	int			  gone;		/* replaced by a re-register */
	int64_t			  commission_us;
	int64_t			  lastheard_us;
	struct mc_executor	 *idnext;	/* rows sharing this id */
	TAILQ_ENTRY(mc_executor)  entry;
};

struct mc_function {
	char			  functionid[CRYPTO_ID_HEXLEN + 1];
	char			 *executorname;
	char			 *executortype;
	char			 *colony;
	char			 *funcname;
	TAILQ_ENTRY(mc_function)  entry;
};

struct mc_process {
	char			  id[CRYPTO_ID_HEXLEN + 1];
	char			  initiatorid[CRYPTO_ID_HEXLEN + 1];
	char			  assigned[CRYPTO_ID_HEXLEN + 1];
	char			 *initiatorname;
	char			 *colony;
	char			 *type;
	char			**names;
	size_t			  nnames;
	char			 *label;
	char			 *funcname;
	json_t			 *args;
	int			  state;
	int			  isassigned;
	int64_t			  prioritytime;
	int64_t			  submit_us;
	int64_t			  start_us;
	int64_t			  end_us;
	int64_t			  waitdl_us;
	int64_t			  execdl_us;
	int			  retries;
	int			  priority;
	int			  maxwaittime;
	int			  maxexectime;
	int			  maxretries;
	char			 *specjson;	/* rendered at depth 1 */
	json_t			 *out;
	json_t			 *errors;
	uint64_t		  seq;
	uint32_t		  qgen;		/* bumped on every queue change */
	int			  onrun;
	int			  onwait;
	TAILQ_ENTRY(mc_process)	  all;
	TAILQ_ENTRY(mc_process)	  run;		/* running, or waiting w/ deadline */
};
TAILQ_HEAD(mc_plist, mc_process);

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

/*
 * One cached signature recovery, keyed by the payload and signature text
 * themselves: comparing them is far cheaper than the SHA3 of the payload
 * that used to be the key (recovery hashes it again on a miss anyway).
 */
struct mc_cslot {
	char		*payload;
	size_t		 plen;
	uint64_t	 h;
	char		 sig[CRYPTO_SIG_HEXLEN];
	char		 id[CRYPTO_ID_HEXLEN + 1];
	int		 used;
};

struct mc_req {
	struct evhttp_request	*req;
	const char		*payloadtype;
	char			 id[CRYPTO_ID_HEXLEN + 1];	/* signer */
	json_t			*msg;
};

struct mc_handler {
	const char	*type;
	void		(*fn)(struct mc_req *);
	const char	*badjson;
	const char	*mismatch;
	const char	*fields;	/* Go field types, see mc_typecheck */
};

static struct event_base	*mc_base;
static struct evhttp		*mc_http;
static char			 mc_server_id[CRYPTO_ID_HEXLEN + 1];
static int			 mc_verbose;
static int			 mc_allow_reregister;
static long			 mc_stale_s = 600;
static long			 mc_cleanup_s = 60;

static TAILQ_HEAD(, mc_colony)	 mc_colonies =
    TAILQ_HEAD_INITIALIZER(mc_colonies);
static TAILQ_HEAD(, mc_executor) mc_executors =
    TAILQ_HEAD_INITIALIZER(mc_executors);
static TAILQ_HEAD(, mc_function) mc_functions =
    TAILQ_HEAD_INITIALIZER(mc_functions);
static struct mc_plist		 mc_processes =
    TAILQ_HEAD_INITIALIZER(mc_processes);
static struct mc_plist		 mc_running =
    TAILQ_HEAD_INITIALIZER(mc_running);
static struct mc_plist		 mc_waitdl =
    TAILQ_HEAD_INITIALIZER(mc_waitdl);
static struct hmap		 mc_byid;	/* processes */
static struct hmap		 mc_exbyname;
static struct hmap		 mc_exbyid;
static struct hmap		 mc_queues;
static uint64_t			 mc_seq;
static uint64_t			 mc_nstate[5];
static struct mc_cslot		*mc_cache;
static uint64_t			 mc_cache_hits, mc_cache_misses;
static uint64_t			 mc_npollers;

static void	mc_offer(struct mc_process *);

/* --- small helpers ------------------------------------------------------ */

static int64_t
mc_now_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static char *
mc_strdup(const char *s)
{
	char	*p;

	if ((p = strdup(s != NULL ? s : "")) == NULL)
		fatal("strdup");
	return p;
}

static void *
mc_calloc(size_t n, size_t sz)
{
	void	*p;

	if ((p = calloc(n, sz)) == NULL)
		fatal("calloc");
	return p;
}

/* RFC 3339 with trimmed fractional seconds, UTC, as Go prints a time. */
static void
mc_fmt_time(int64_t us, char *buf, size_t len)
{
	static char	last[64];
	static size_t	lastlen;
	static time_t	lastt;
	struct tm	tm;
	time_t		t;
	char		frac[16];
	int		f, i, n;

	if (us == 0) {
		snprintf(buf, len, "0001-01-01T00:00:00Z");
		return;
	}
	t = (time_t)(us / 1000000);
	f = (int)(us % 1000000);
	if (us < 0) {
		/* Never in practice; kept as it always printed. */
		gmtime_r(&t, &tm);
		snprintf(frac, sizeof(frac), ".%06d", f);
		for (i = (int)strlen(frac) - 1; i > 0 && frac[i] == '0'; i--)
			frac[i] = '\0';
		snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d%sZ",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec, f != 0 ? frac : "");
		return;
	}
	/*
	 * An assign reply prints five times, mostly of the same second:
	 * format the date part once per second, the fraction by hand.
	 */
	if (t != lastt || lastlen == 0) {
		gmtime_r(&t, &tm);
		n = snprintf(last, sizeof(last), "%04d-%02d-%02dT%02d:%02d:%02d",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec);
		if (n < 0 || (size_t)n >= sizeof(last))
			n = 0;
		lastlen = (size_t)n;
		lastt = t;
	}
	frac[0] = '\0';
	if (f != 0) {
		frac[0] = '.';
		for (i = 6; i >= 1; i--, f /= 10)
			frac[i] = (char)('0' + f % 10);
		frac[7] = '\0';
		for (i = 6; i > 0 && frac[i] == '0'; i--)
			frac[i] = '\0';
	}
	if (lastlen + strlen(frac) + 2 > len) {
		snprintf(buf, len, "%.*s%sZ", (int)lastlen, last, frac);
		return;
	}
	memcpy(buf, last, lastlen);
	n = (int)strlen(frac);
	memcpy(buf + lastlen, frac, (size_t)n);
	buf[lastlen + (size_t)n] = 'Z';
	buf[lastlen + (size_t)n + 1] = '\0';
}

static void
mc_randid(char *out)
{
	unsigned char	raw[32];

	if (crypto_random(raw, sizeof(raw)) == -1)
		fatal("crypto_random");
	crypto_hex(raw, sizeof(raw), out);
}

/* --- hash map ------------------------------------------------------------ */

static uint64_t
hmap_hash(const char *k, size_t n)
{
	uint64_t	h = 1469598103934665603ULL;
	size_t		i;

	for (i = 0; i < n; i++) {
		h ^= (unsigned char)k[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static void
hmap_resize(struct hmap *m)
{
	struct hent	**nb, *e, *next;
	size_t		  i, nsz = m->nb ? m->nb * 2 : 64;

	nb = mc_calloc(nsz, sizeof(*nb));
	for (i = 0; i < m->nb; i++) {
		for (e = m->b[i]; e != NULL; e = next) {
			next = e->next;
			e->next = nb[e->h & (nsz - 1)];
			nb[e->h & (nsz - 1)] = e;
		}
	}
	free(m->b);
	m->b = nb;
	m->nb = nsz;
}

static void *
hmap_get(struct hmap *m, const char *k, size_t n)
{
	struct hent	*e;
	uint64_t	 h;

	if (m->nb == 0)
		return NULL;
	h = hmap_hash(k, n);
	for (e = m->b[h & (m->nb - 1)]; e != NULL; e = e->next)
		if (e->h == h && e->klen == n && memcmp(e->key, k, n) == 0)
			return e->val;
	return NULL;
}

/* Insert or replace. */
static void
hmap_put(struct hmap *m, const char *k, size_t n, void *val)
{
	struct hent	*e;
	uint64_t	 h = hmap_hash(k, n);

	if (m->n + 1 > m->nb * 2 / 3 + 1 || m->nb == 0)
		hmap_resize(m);
	for (e = m->b[h & (m->nb - 1)]; e != NULL; e = e->next) {
		if (e->h == h && e->klen == n && memcmp(e->key, k, n) == 0) {
			e->key = k;
			e->val = val;
			return;
		}
	}
	e = mc_calloc(1, sizeof(*e));
	e->h = h;
	e->key = k;
	e->klen = n;
	e->val = val;
	e->next = m->b[h & (m->nb - 1)];
	m->b[h & (m->nb - 1)] = e;
	m->n++;
}

static void
hmap_del(struct hmap *m, const char *k, size_t n)
{
	struct hent	**pp, *e;
	uint64_t	  h;

	if (m->nb == 0)
		return;
	h = hmap_hash(k, n);
	for (pp = &m->b[h & (m->nb - 1)]; (e = *pp) != NULL; pp = &e->next) {
		if (e->h == h && e->klen == n && memcmp(e->key, k, n) == 0) {
			*pp = e->next;
			free(e);
			m->n--;
			return;
		}
	}
}

/* --- replies ------------------------------------------------------------- */

static void
mc_send(struct evhttp_request *req, int status, const char *payloadtype,
    const char *json, size_t jsonlen)
{
	struct evbuffer	*buf;
	struct sb	 b = { NULL, 0, 0 };
	char		*b64;
	size_t		 b64len;

	if ((b64 = crypto_base64_encode(json, jsonlen, &b64len)) == NULL)
		fatalx("base64 encode");
	sb_grow(&b, b64len + 96);
	sb_adds(&b, "{\"payloadtype\":");
	sb_gostr(&b, payloadtype, strlen(payloadtype));
	sb_adds(&b, ",\"payload\":\"");
	sb_add(&b, b64, b64len);
	sb_adds(&b, status == 200 ? "\",\"error\":false}" :
	    "\",\"error\":true}");
	free(b64);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "text/plain; charset=utf-8");
	if ((buf = evbuffer_new()) == NULL)
		fatal("evbuffer_new");
	evbuffer_add(buf, b.s, b.len);
	sb_free(&b);
	evhttp_send_reply(req, status, NULL, buf);
	evbuffer_free(buf);
}

static void
mc_error(struct evhttp_request *req, int status, const char *fmt, ...)
    __attribute__((__format__(__printf__, 3, 4)));

static void
mc_error(struct evhttp_request *req, int status, const char *fmt, ...)
{
	struct sb	 b = { NULL, 0, 0 };
	char		*msg;
	va_list		 ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) == -1)
		fatal("vasprintf");
	va_end(ap);
	if (mc_verbose)
		log_info("reply %d: %s", status, msg);
	sb_printf(&b, "{\"status\":%d,\"message\":", status);
	sb_gostr(&b, msg, strlen(msg));
	sb_addc(&b, '}');
	mc_send(req, status, "error", b.s, b.len);
	sb_free(&b);
	free(msg);
}

/* What gin's recovery middleware sends when a Go handler panics. */
static void
mc_panic(struct evhttp_request *req)
{
	if (mc_verbose)
		log_info("reply 500: (nil message: the real server panics)");
	evhttp_send_reply(req, 500, "Internal Server Error", NULL);
}

static void
mc_reply_sb(struct mc_req *r, struct sb *b)
{
	mc_send(r->req, 200, r->payloadtype, b->s, b->len);
}

static void
mc_reply_empty(struct mc_req *r)
{
	mc_send(r->req, 200, r->payloadtype, "{}", 2);
}

/* --- typed access to decoded messages, as Go's Unmarshal would -------- */

/* Go matches struct field names case-insensitively; exact match first. */
static json_t *
mc_get(json_t *o, const char *name)
{
	const char	*k;
	json_t		*v;

	if (o == NULL || !json_is_object(o))
		return NULL;
	if ((v = json_object_get(o, name)) != NULL)
		return v;
	json_object_foreach(o, k, v)
		if (strcasecmp(k, name) == 0)
			return v;
	return NULL;
}

/* 0 and *out ("" if absent or null), or -1 if not a string. */
static int
mc_getstr(json_t *o, const char *name, const char **out)
{
	json_t	*v = mc_get(o, name);

	*out = "";
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return -1;
	*out = json_string_value(v);
	return 0;
}

static int
mc_getint(json_t *o, const char *name, long long *out)
{
	json_t	*v = mc_get(o, name);
	double	 d;

	*out = 0;
	if (v == NULL || json_is_null(v))
		return 0;
	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return 0;
	}
	if (!json_is_real(v))
		return -1;
	d = json_real_value(v);
	if (d != (double)(long long)d || d > 9.2e18 || d < -9.2e18)
		return -1;
	*out = (long long)d;
	return 0;
}

static int
mc_getint32(json_t *o, const char *name, int *out)
{
	long long	v;

	if (mc_getint(o, name, &v) == -1 || v > INT_MAX || v < INT_MIN)
		return -1;
	*out = (int)v;
	return 0;
}

/* Arrays of anything ([]interface{}): absent/null gives NULL. */
static int
mc_getarr(json_t *o, const char *name, json_t **out)
{
	json_t	*v = mc_get(o, name);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_array(v))
		return -1;
	*out = v;
	return 0;
}

static int
mc_getstrarr(json_t *o, const char *name, json_t **out)
{
	json_t	*e;
	size_t	 i;

	if (mc_getarr(o, name, out) == -1)
		return -1;
	if (*out != NULL)
		json_array_foreach(*out, i, e)
			if (!json_is_string(e) && !json_is_null(e))
				return -1;
	return 0;
}

static int
mc_getobj(json_t *o, const char *name, json_t **out)
{
	json_t	*v = mc_get(o, name);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_object(v))
		return -1;
	*out = v;
	return 0;
}

/* --- colonies, executors, membership ----------------------------------- */

static struct mc_colony *
mc_colony_find(const char *name)
{
	struct mc_colony	*c;

	TAILQ_FOREACH(c, &mc_colonies, entry)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

static struct mc_executor *
mc_ex_byname(const char *colony, const char *name)
{
	char			 key[1024];
	int			 n;

	n = snprintf(key, sizeof(key), "%s\001%s", colony, name);
	if (n < 0 || (size_t)n >= sizeof(key))
		return NULL;
	return hmap_get(&mc_exbyname, key, (size_t)n);
}

/* GetExecutorByID: the first row with that id. */
static struct mc_executor *
mc_ex_byid(const char *id)
{
	return hmap_get(&mc_exbyid, id, strlen(id));
}

static void
mc_ex_link(struct mc_executor *ex)
{
	struct mc_executor	*first, *e;

	hmap_put(&mc_exbyname, ex->namekey, strlen(ex->namekey), ex);
	if ((first = mc_ex_byid(ex->id)) == NULL) {
		hmap_put(&mc_exbyid, ex->id, strlen(ex->id), ex);
		return;
	}
	for (e = first; e->idnext != NULL; e = e->idnext)
		;
	e->idnext = ex;
}

static void
mc_ex_unlink(struct mc_executor *ex)
{
	struct mc_executor	*first, **pp;

	hmap_del(&mc_exbyname, ex->namekey, strlen(ex->namekey));
	if ((first = mc_ex_byid(ex->id)) == NULL)
		return;
	if (first == ex) {
		if (ex->idnext != NULL)
			hmap_put(&mc_exbyid, ex->idnext->id,
			    strlen(ex->idnext->id), ex->idnext);
		else
			hmap_del(&mc_exbyid, ex->id, strlen(ex->id));
		ex->idnext = NULL;
		return;
	}
	for (pp = &first->idnext; *pp != NULL; pp = &(*pp)->idnext) {
		if (*pp == ex) {
			*pp = ex->idnext;
			break;
		}
	}
	ex->idnext = NULL;
}

/* Validator.RequireMembership, with its texts. 0 or -1 + message. */
static int
mc_require_member(const char *id, const char *colony, int approved,
    char *msg, size_t msglen)
{
	struct mc_colony	*c = mc_colony_find(colony);
	struct mc_executor	*ex;

	if (c != NULL && (ex = mc_ex_byid(id)) != NULL &&
	    strcmp(ex->colony, c->name) == 0 &&
	    (!approved || ex->state == MC_EX_APPROVED))
		return 0;
	/* The executor check failed: the real server then tries users. */
	if (c == NULL)
		snprintf(msg, msglen, "Colony with name <%s> does not exists",
		    colony);
	else
		snprintf(msg, msglen,
		    "Access denied, not a member of Colony with name <%s>",
		    colony);
	return -1;
}

static int
mc_require_owner(const char *id, const char *colony, char *msg,
    size_t msglen)
{
	struct mc_colony	*c;

	if (*colony == '\0') {
		snprintf(msg, msglen, "Empty Colony name");
		return -1;
	}
	if ((c = mc_colony_find(colony)) == NULL) {
		snprintf(msg, msglen, "Colony with name <%s> does not exists",
		    colony);
		return -1;
	}
	if (strcmp(id, c->id) != 0) {
		snprintf(msg, msglen, "Access denied, not colony owner");
		return -1;
	}
	return 0;
}

/* Executor.ToJSON is json.Marshal: compact. */
static void
mc_ex_json(struct sb *b, struct mc_executor *ex)
{
	char	t1[40], t2[40];

	mc_fmt_time(ex->commission_us, t1, sizeof(t1));
	mc_fmt_time(ex->lastheard_us, t2, sizeof(t2));
	sb_adds(b, "{\"executorid\":");
	sb_gostr(b, ex->id, strlen(ex->id));
	sb_adds(b, ",\"executortype\":");
	sb_gostr(b, ex->type, strlen(ex->type));
	sb_adds(b, ",\"executorname\":");
	sb_gostr(b, ex->name, strlen(ex->name));
	sb_adds(b, ",\"colonyname\":");
	sb_gostr(b, ex->colony, strlen(ex->colony));
	sb_printf(b, ",\"state\":%d,\"requirefuncreg\":false,"
	    "\"commissiontime\":\"%s\",\"lastheardfromtime\":\"%s\","
	    "\"capabilities\":{\"hardware\":null,\"software\":null},"
	    "\"allocations\":{\"projects\":null}}", ex->state, t1, t2);
}

/* --- the waiting queues -------------------------------------------------- */

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

static void
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

/* --- process JSON -------------------------------------------------------- */

/*
 * Appenders for mc_proc_json, which renders every assign reply: plain
 * copies instead of vsnprintf (twice per call) over a 40-argument format.
 */
static void
mc_pj_key(struct sb *b, const char *lead, const char *ind, size_t indlen,
    const char *key)
{
	sb_adds(b, lead);
	sb_add(b, ind, indlen);
	sb_add(b, "  \"", 3);
	sb_adds(b, key);
	sb_add(b, "\": ", 3);
}

static void
mc_pj_qstr(struct sb *b, const char *v)
{
	sb_addc(b, '"');
	sb_adds(b, v);
	sb_addc(b, '"');
}

static void
mc_pj_int(struct sb *b, long long v)
{
	char			 buf[24], *q = buf + sizeof(buf);
	unsigned long long	 u = v < 0 ? 0ULL - (unsigned long long)v :
				    (unsigned long long)v;

	do {
		*--q = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0)
		*--q = '-';
	sb_add(b, q, (size_t)(buf + sizeof(buf) - q));
}

static void
mc_proc_json(struct sb *b, struct mc_process *p, int depth)
{
	char	t[5][40];
	char	ind[16];
	size_t	il;
	int	i;

	for (i = 0; i < depth && i < 7; i++) {
		ind[2 * i] = ' ';
		ind[2 * i + 1] = ' ';
	}
	ind[2 * i] = '\0';
	il = (size_t)(2 * i);
	mc_fmt_time(p->submit_us, t[0], sizeof(t[0]));
	mc_fmt_time(p->start_us, t[1], sizeof(t[1]));
	mc_fmt_time(p->end_us, t[2], sizeof(t[2]));
	mc_fmt_time(p->waitdl_us, t[3], sizeof(t[3]));
	mc_fmt_time(p->execdl_us, t[4], sizeof(t[4]));
	sb_grow(b, 2048 + strlen(p->specjson));
	mc_pj_key(b, "{\n", ind, il, "processid");
	mc_pj_qstr(b, p->id);
	mc_pj_key(b, ",\n", ind, il, "initiatorid");
	mc_pj_qstr(b, p->initiatorid);
	mc_pj_key(b, ",\n", ind, il, "initiatorname");
	sb_gostr(b, p->initiatorname, strlen(p->initiatorname));
	mc_pj_key(b, ",\n", ind, il, "assignedexecutorid");
	mc_pj_qstr(b, p->assigned);
	mc_pj_key(b, ",\n", ind, il, "isassigned");
	sb_adds(b, p->isassigned ? "true" : "false");
	mc_pj_key(b, ",\n", ind, il, "state");
	mc_pj_int(b, p->state);
	mc_pj_key(b, ",\n", ind, il, "prioritytime");
	mc_pj_int(b, (long long)p->prioritytime);
	mc_pj_key(b, ",\n", ind, il, "submissiontime");
	mc_pj_qstr(b, t[0]);
	mc_pj_key(b, ",\n", ind, il, "starttime");
	mc_pj_qstr(b, t[1]);
	mc_pj_key(b, ",\n", ind, il, "endtime");
	mc_pj_qstr(b, t[2]);
	mc_pj_key(b, ",\n", ind, il, "waitdeadline");
	mc_pj_qstr(b, t[3]);
	mc_pj_key(b, ",\n", ind, il, "execdeadline");
	mc_pj_qstr(b, t[4]);
	mc_pj_key(b, ",\n", ind, il, "retries");
	mc_pj_int(b, p->retries);
	mc_pj_key(b, ",\n", ind, il, "attributes");
	sb_add(b, "[]", 2);
	mc_pj_key(b, ",\n", ind, il, "spec");
	if (depth == 0)
		sb_adds(b, p->specjson);
	else {
		/* Re-indent the cached depth-1 rendering. */
		const char	*s;

		for (s = p->specjson; *s != '\0'; s++) {
			sb_addc(b, *s);
			if (*s == '\n')
				sb_adds(b, ind);
		}
	}
	mc_pj_key(b, ",\n", ind, il, "waitforparents");
	sb_adds(b, "false");
	mc_pj_key(b, ",\n", ind, il, "parents");
	sb_add(b, "[]", 2);
	mc_pj_key(b, ",\n", ind, il, "children");
	sb_add(b, "[]", 2);
	mc_pj_key(b, ",\n", ind, il, "processgraphid");
	sb_add(b, "\"\"", 2);
	mc_pj_key(b, ",\n", ind, il, "in");
	sb_add(b, "[]", 2);
	mc_pj_key(b, ",\n", ind, il, "out");
	if (p->out != NULL)
		sb_gojson(b, p->out, depth + 1);
	else
		sb_add(b, "[]", 2);
	mc_pj_key(b, ",\n", ind, il, "errors");
	if (p->errors != NULL)
		sb_gojson(b, p->errors, depth + 1);
	else
		sb_add(b, "[]", 2);
	sb_addc(b, '\n');
	sb_add(b, ind, il);
	sb_addc(b, '}');
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
static void
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

/* --- handlers ------------------------------------------------------------ */

#define MC_BADJSON(r) do {						\
	mc_error((r)->req, 400, "%s", mc_cur->badjson);			\
	return;								\
} while (0)

static const struct mc_handler	*mc_cur;

static void
mc_h_addcolony(struct mc_req *r)
{
	json_t			*col;
	const char		*id, *name;
	struct mc_colony	*c;
	struct sb		 b = { NULL, 0, 0 };

	if (mc_getobj(r->msg, "colony", &col) == -1 ||
	    mc_getstr(col, "colonyid", &id) == -1 ||
	    mc_getstr(col, "name", &name) == -1)
		MC_BADJSON(r);
	if (col == NULL) {
		mc_error(r->req, 400, "Failed to add colony, colony is nil");
		return;
	}
	if (strcmp(r->id, mc_server_id) != 0) {
		mc_error(r->req, 403, "Access denied, not server owner");
		return;
	}
	if (mc_colony_find(name) != NULL) {
		mc_error(r->req, 400, "A Colony with name <%s> already exists",
		    name);
		return;
	}
	c = mc_calloc(1, sizeof(*c));
	c->name = mc_strdup(name);
	snprintf(c->id, sizeof(c->id), "%s", id);
	TAILQ_INSERT_TAIL(&mc_colonies, c, entry);
	/* Colony.ToJSON is json.Marshal: compact. */
	sb_adds(&b, "{\"colonyid\":");
	sb_gostr(&b, c->id, strlen(c->id));
	sb_adds(&b, ",\"name\":");
	sb_gostr(&b, c->name, strlen(c->name));
	sb_adds(&b, "}");
	mc_reply_sb(r, &b);
	sb_free(&b);
}

static void
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

static void
mc_h_addexecutor(struct mc_req *r)
{
	json_t			*exo;
	const char		*id, *type, *name, *colony;
	struct mc_executor	*ex, *old;
	char			 msg[512];
	struct sb		 b = { NULL, 0, 0 };

	if (mc_getobj(r->msg, "executor", &exo) == -1 ||
	    mc_getstr(exo, "executorid", &id) == -1 ||
	    mc_getstr(exo, "executortype", &type) == -1 ||
	    mc_getstr(exo, "executorname", &name) == -1 ||
	    mc_getstr(exo, "colonyname", &colony) == -1)
		MC_BADJSON(r);
	if (exo == NULL) {
		mc_error(r->req, 400, "Failed to add executor, executor is nil");
		return;
	}
	if (mc_require_owner(r->id, colony, msg, sizeof(msg)) == -1) {
		mc_error(r->req, 403, "%s", msg);
		return;
	}
	if ((old = mc_ex_byname(colony, name)) != NULL) {
		if (!mc_allow_reregister) {
			mc_error(r->req, 400,
			    "Executor with name <%s> in Colony <%s> already "
			    "exists", name, colony);
			return;
		}
		mc_ex_unlink(old);
		old->gone = 1;
		TAILQ_REMOVE(&mc_executors, old, entry);
		/* Kept allocated: pollers and logs may point at it. */
		old->state = MC_EX_UNREGISTERED;
	}
	ex = mc_calloc(1, sizeof(*ex));
	snprintf(ex->id, sizeof(ex->id), "%s", id);
	ex->name = mc_strdup(name);
	ex->type = mc_strdup(type);
	ex->colony = mc_strdup(colony);
	if (asprintf(&ex->namekey, "%s\001%s", colony, name) == -1)
		fatal("asprintf");
	ex->state = MC_EX_PENDING;
	ex->commission_us = mc_now_us();
	TAILQ_INSERT_TAIL(&mc_executors, ex, entry);
	mc_ex_link(ex);
	mc_ex_json(&b, ex);
	mc_reply_sb(r, &b);
	sb_free(&b);
}

/* approve / reject / remove / get share their lookup and texts. */
static struct mc_executor *
mc_ex_lookup(struct mc_req *r, const char *verb, int owner)
{
	const char		*colony, *name;
	struct mc_executor	*ex;
	char			 msg[512];

	if (mc_getstr(r->msg, "colonyname", &colony) == -1 ||
	    mc_getstr(r->msg, "executorname", &name) == -1) {
		mc_error(r->req, 400, "%s", mc_cur->badjson);
		return NULL;
	}
	if ((ex = mc_ex_byname(colony, name)) == NULL) {
		mc_error(r->req, 500, "Failed to %s executor, executor is nil",
		    verb);
		return NULL;
	}
	if (owner) {
		if (mc_require_owner(r->id, ex->colony, msg, sizeof(msg)) ==
		    -1) {
			mc_error(r->req, 403, "%s", msg);
			return NULL;
		}
	} else if (mc_require_member(r->id, ex->colony, 1, msg,
	    sizeof(msg)) == -1) {
		mc_error(r->req, 403, "%s", msg);
		return NULL;
	}
	return ex;
}

static void
mc_h_approve(struct mc_req *r)
{
	struct mc_executor	*ex, *e;

	if ((ex = mc_ex_lookup(r, "approve", 1)) == NULL)
		return;
	/* The real server approves by id: every row sharing it. */
	for (e = mc_ex_byid(ex->id); e != NULL; e = e->idnext)
		e->state = MC_EX_APPROVED;
	mc_reply_empty(r);
}

static void
mc_h_reject(struct mc_req *r)
{
	struct mc_executor	*ex, *e;

	if ((ex = mc_ex_lookup(r, "reject", 1)) == NULL)
		return;
	for (e = mc_ex_byid(ex->id); e != NULL; e = e->idnext)
		e->state = MC_EX_REJECTED;
	mc_reply_empty(r);
}

/*
 * RemoveExecutorByName, as removeexecutormsg and the stale cleanup both
 * call it: unregistered (state 3), functions dropped, its running
 * processes back in the queue.
 */
static void
mc_ex_remove(struct mc_executor *ex)
{
	struct mc_function	*f, *next;

	ex->state = MC_EX_UNREGISTERED;
	for (f = TAILQ_FIRST(&mc_functions); f != NULL; f = next) {
		next = TAILQ_NEXT(f, entry);
		if (strcmp(f->colony, ex->colony) == 0 &&
		    strcmp(f->executorname, ex->name) == 0) {
			TAILQ_REMOVE(&mc_functions, f, entry);
			free(f->executorname);
			free(f->executortype);
			free(f->colony);
			free(f->funcname);
			free(f);
		}
	}
	mc_requeue_running_of(ex->id);
}

static void
mc_h_removeexecutor(struct mc_req *r)
{
	struct mc_executor	*ex;

	if ((ex = mc_ex_lookup(r, "remove", 1)) == NULL)
		return;
	mc_ex_remove(ex);
	mc_reply_empty(r);
}

static void
mc_h_getexecutor(struct mc_req *r)
{
	struct mc_executor	*ex;
	struct sb		 b = { NULL, 0, 0 };

	if ((ex = mc_ex_lookup(r, "get", 0)) == NULL)
		return;
	mc_ex_json(&b, ex);
	mc_reply_sb(r, &b);
	sb_free(&b);
}

static void
mc_h_addfunction(struct mc_req *r)
{
	json_t			*fo;
	const char		*exname, *extype, *colony, *funcname;
	struct mc_executor	*ex;
	struct mc_function	*f;
	char			 msg[512];
	struct sb		 b = { NULL, 0, 0 };

	if (mc_getobj(r->msg, "fun", &fo) == -1 ||
	    mc_getstr(fo, "executorname", &exname) == -1 ||
	    mc_getstr(fo, "executortype", &extype) == -1 ||
	    mc_getstr(fo, "colonyname", &colony) == -1 ||
	    mc_getstr(fo, "funcname", &funcname) == -1)
		MC_BADJSON(r);
	if (fo == NULL) {
		mc_error(r->req, 400, "Failed to add function, function is nil");
		return;
	}
	if (mc_require_member(r->id, colony, 1, msg, sizeof(msg)) == -1) {
		mc_error(r->req, 403, "%s", msg);
		return;
	}
	ex = mc_ex_byid(r->id);
	if (ex == NULL || strcmp(ex->name, exname) != 0) {
		mc_error(r->req, 403,
		    "Not allowed to add a function to another executor");
		return;
	}
	f = mc_calloc(1, sizeof(*f));
	mc_randid(f->functionid);
	f->executorname = mc_strdup(exname);
	f->executortype = mc_strdup(extype);
	f->colony = mc_strdup(colony);
	f->funcname = mc_strdup(funcname);
	TAILQ_INSERT_TAIL(&mc_functions, f, entry);
	sb_printf(&b, "{\"functionid\":\"%s\",\"executorname\":",
	    f->functionid);
	sb_gostr(&b, exname, strlen(exname));
	sb_adds(&b, ",\"executortype\":");
	sb_gostr(&b, extype, strlen(extype));
	sb_adds(&b, ",\"colonyname\":");
	sb_gostr(&b, colony, strlen(colony));
	sb_adds(&b, ",\"funcname\":");
	sb_gostr(&b, funcname, strlen(funcname));
	sb_adds(&b, ",\"counter\":0,\"minwaittime\":0,\"maxwaittime\":0,"
	    "\"minexectime\":0,\"maxexectime\":0,\"avgwaittime\":0,"
	    "\"avgexectime\":0}");
	mc_reply_sb(r, &b);
	sb_free(&b);
}

/*
 * Build the stored FunctionSpec as the real server returns it: every
 * field present, in Go's struct order.  -1 if a field has the wrong type.
 */
static json_t *
mc_spec_normalize(json_t *in, struct mc_process *p)
{
	json_t		*spec, *cond, *gpu, *fs, *v, *gin, *fsin, *a;
	const char	*s, *cpu, *mem, *storage, *gname, *gmem;
	long long	 nodes, procs, ppn, walltime, gcount, gnodes;
	int		 prio, mwt, met, mr;
	size_t		 i;

	spec = json_object();
	if (mc_getobj(in, "conditions", &v) == -1)
		goto bad;
	cond = json_object();
	json_object_set_new(spec, "nodename", json_string(""));
	if (mc_getstr(in, "nodename", &s) == -1)
		goto bad2;
	json_object_set_new(spec, "nodename", json_string(s));
	if (mc_getstr(in, "funcname", &s) == -1)
		goto bad2;
	json_object_set_new(spec, "funcname", json_string(s));
	p->funcname = mc_strdup(s);
	if (mc_getarr(in, "args", &a) == -1)
		goto bad2;
	p->args = json_incref(a);
	json_object_set(spec, "args", a != NULL ? a : json_array());
	if (a == NULL)
		json_decref(json_object_get(spec, "args"));
	if (mc_getobj(in, "kwargs", &a) == -1)
		goto bad2;
	if (a != NULL)
		json_object_set(spec, "kwargs", a);
	else
		json_object_set_new(spec, "kwargs", json_object());
	if (mc_getint32(in, "priority", &prio) == -1 ||
	    mc_getint32(in, "maxwaittime", &mwt) == -1 ||
	    mc_getint32(in, "maxexectime", &met) == -1 ||
	    mc_getint32(in, "maxretries", &mr) == -1)
		goto bad2;
	json_object_set_new(spec, "priority", json_integer(prio));
	json_object_set_new(spec, "maxwaittime", json_integer(mwt));
	json_object_set_new(spec, "maxexectime", json_integer(met));
	json_object_set_new(spec, "maxretries", json_integer(mr));
	p->priority = prio;
	p->maxwaittime = mwt;
	p->maxexectime = met;
	p->maxretries = mr;

	if (mc_getstr(v, "colonyname", &s) == -1)
		goto bad2;
	json_object_set_new(cond, "colonyname", json_string(s));
	p->colony = mc_strdup(s);
	if (mc_getstrarr(v, "executornames", &a) == -1)
		goto bad2;
	if (a != NULL) {
		json_object_set(cond, "executornames", a);
		p->nnames = json_array_size(a);
		p->names = mc_calloc(p->nnames + 1, sizeof(char *));
		for (i = 0; i < p->nnames; i++)
			p->names[i] = mc_strdup(
			    json_string_value(json_array_get(a, i)));
	} else
		json_object_set_new(cond, "executornames", json_null());
	if (mc_getstr(v, "executortype", &s) == -1)
		goto bad2;
	json_object_set_new(cond, "executortype", json_string(s));
	p->type = mc_strdup(s);
	if (mc_getstrarr(v, "dependencies", &a) == -1)
		goto bad2;
	json_object_set(cond, "dependencies", a != NULL ? a : json_array());
	if (a == NULL)
		json_decref(json_object_get(cond, "dependencies"));
	if (mc_getint(v, "nodes", &nodes) == -1 ||
	    mc_getstr(v, "cpu", &cpu) == -1 ||
	    mc_getint(v, "processes", &procs) == -1 ||
	    mc_getint(v, "processespernode", &ppn) == -1 ||
	    mc_getstr(v, "mem", &mem) == -1 ||
	    mc_getstr(v, "storage", &storage) == -1 ||
	    mc_getobj(v, "gpu", &gin) == -1 ||
	    mc_getint(v, "walltime", &walltime) == -1 ||
	    mc_getstr(gin, "name", &gname) == -1 ||
	    mc_getstr(gin, "mem", &gmem) == -1 ||
	    mc_getint(gin, "count", &gcount) == -1 ||
	    mc_getint(gin, "nodecount", &gnodes) == -1)
		goto bad2;
	json_object_set_new(cond, "nodes", json_integer(nodes));
	json_object_set_new(cond, "cpu", json_string(*cpu ? cpu : "0m"));
	json_object_set_new(cond, "processes", json_integer(procs));
	json_object_set_new(cond, "processespernode", json_integer(ppn));
	json_object_set_new(cond, "mem", json_string(*mem ? mem : "0Mi"));
	json_object_set_new(cond, "storage",
	    json_string(*storage ? storage : "0Mi"));
	gpu = json_object();
	json_object_set_new(gpu, "name", json_string(gname));
	json_object_set_new(gpu, "mem", json_string(*gmem ? gmem : "0Mi"));
	json_object_set_new(gpu, "count", json_integer(gcount));
	json_object_set_new(gpu, "nodecount", json_integer(gnodes));
	json_object_set_new(cond, "gpu", gpu);
	json_object_set_new(cond, "walltime", json_integer(walltime));
	json_object_set_new(spec, "conditions", cond);

	if (mc_getstr(in, "label", &s) == -1)
		goto bad;
	json_object_set_new(spec, "label", json_string(s));
	p->label = mc_strdup(s);
	if (mc_getobj(in, "fs", &fsin) == -1 ||
	    mc_getstr(fsin, "mount", &s) == -1)
		goto bad;
	fs = json_object();
	json_object_set_new(fs, "mount", json_string(s));
	if (mc_getarr(fsin, "snapshots", &a) == -1) {
		json_decref(fs);
		goto bad;
	}
	json_object_set(fs, "snapshots", a != NULL ? a : json_null());
	if (a == NULL)
		json_decref(json_object_get(fs, "snapshots"));
	if (mc_getarr(fsin, "dirs", &a) == -1) {
		json_decref(fs);
		goto bad;
	}
	json_object_set(fs, "dirs", a != NULL ? a : json_null());
	if (a == NULL)
		json_decref(json_object_get(fs, "dirs"));
	json_object_set_new(spec, "fs", fs);
	if (mc_getobj(in, "env", &a) == -1)
		goto bad;
	if (a != NULL)
		json_object_set(spec, "env", a);
	else
		json_object_set_new(spec, "env", json_object());
	return spec;
bad2:
	json_decref(cond);
bad:
	json_decref(spec);
	return NULL;
}

/* Go map output order: object keys sorted, struct fields in order. */
static void
mc_spec_json(struct sb *b, json_t *spec)
{
	static const char *const specf[] = { "nodename", "funcname", "args",
	    "kwargs", "priority", "maxwaittime", "maxexectime", "maxretries",
	    "conditions", "label", "fs", "env", NULL };
	static const char *const condf[] = { "colonyname", "executornames",
	    "executortype", "dependencies", "nodes", "cpu", "processes",
	    "processespernode", "mem", "storage", "gpu", "walltime", NULL };
	static const char *const gpuf[] = { "name", "mem", "count",
	    "nodecount", NULL };
	static const char *const fsf[] = { "mount", "snapshots", "dirs", NULL };
	const char *const	*f, *const *g;
	json_t			*cond, *sub;
	int			 first, first2;

	sb_adds(b, "{");
	first = 1;
	for (f = specf; *f != NULL; f++) {
		sb_adds(b, first ? "\n    \"" : ",\n    \"");
		first = 0;
		sb_adds(b, *f);
		sb_adds(b, "\": ");
		if (strcmp(*f, "conditions") == 0) {
			cond = json_object_get(spec, "conditions");
			sb_adds(b, "{");
			first2 = 1;
			for (g = condf; *g != NULL; g++) {
				sb_adds(b, first2 ? "\n      \"" :
				    ",\n      \"");
				first2 = 0;
				sb_adds(b, *g);
				sb_adds(b, "\": ");
				if (strcmp(*g, "gpu") == 0) {
					const char *const *h;
					int first3 = 1;

					sub = json_object_get(cond, "gpu");
					sb_adds(b, "{");
					for (h = gpuf; *h != NULL; h++) {
						sb_adds(b, first3 ?
						    "\n        \"" :
						    ",\n        \"");
						first3 = 0;
						sb_adds(b, *h);
						sb_adds(b, "\": ");
						sb_gojson(b,
						    json_object_get(sub, *h),
						    4);
					}
					sb_adds(b, "\n      }");
				} else
					sb_gojson(b, json_object_get(cond, *g),
					    3);
			}
			sb_adds(b, "\n    }");
		} else if (strcmp(*f, "fs") == 0) {
			const char *const *h;
			int first3 = 1;

			sub = json_object_get(spec, "fs");
			sb_adds(b, "{");
			for (h = fsf; *h != NULL; h++) {
				sb_adds(b, first3 ? "\n      \"" :
				    ",\n      \"");
				first3 = 0;
				sb_adds(b, *h);
				sb_adds(b, "\": ");
				sb_gojson(b, json_object_get(sub, *h), 3);
			}
			sb_adds(b, "\n    }");
		} else
			sb_gojson(b, json_object_get(spec, *f), 2);
	}
	sb_adds(b, "\n  }");
}

static void
mc_proc_free(struct mc_process *p)
{
	size_t	i;

	hmap_del(&mc_byid, p->id, strlen(p->id));
	free(p->initiatorname);
	free(p->colony);
	free(p->type);
	for (i = 0; i < p->nnames; i++)
		free(p->names[i]);
	free(p->names);
	free(p->label);
	free(p->funcname);
	json_decref(p->args);
	free(p->specjson);
	json_decref(p->out);
	json_decref(p->errors);
	free(p);
}

static void
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

static void
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

/* Shared head of the process handlers: find it, check membership. */
static struct mc_process *
mc_proc_lookup(struct mc_req *r, const char *nilmsg)
{
	const char		*pid;
	struct mc_process	*p;
	char			 msg[512];

	if (mc_getstr(r->msg, "processid", &pid) == -1) {
		mc_error(r->req, 400, "%s", mc_cur->badjson);
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

static void
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

static void
mc_finish(struct mc_process *p, int state)
{
	mc_set_state(p, state);
	p->end_us = mc_now_us();
}

static void
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

static void
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

static void
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

static void
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

static void
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

static void
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

static void
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

static void
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

static const struct mc_handler mc_handlers[] = {
	{ "addcolonymsg", mc_h_addcolony, "Failed to add colony, invalid JSON",
	    "Failed to add colony, msg.MsgType does not match payloadType",
	    "colony:o,colony.colonyid:s,colony.name:s" },
	{ "addexecutormsg", mc_h_addexecutor,
	    "Failed to add executor, invalid JSON",
	    "Failed to add executor, msg.MsgType does not match payloadType",
	    "executor:o,executor.executorid:s,executor.executortype:s,executor.executorname:s,executor.colonyname:s" },
	{ "approveexecutormsg", mc_h_approve,
	    "Failed to approve executor, invalid JSON",
	    "Failed to approve executor, msg.MsgType does not match "
	    "payloadType",
	    "colonyname:s,executorname:s" },
	{ "rejectexecutormsg", mc_h_reject,
	    "Failed to reject executor, invalid JSON",
	    "Failed to reject executor, msg.MsgType does not match "
	    "payloadType",
	    "colonyname:s,executorname:s" },
	{ "removeexecutormsg", mc_h_removeexecutor,
	    "Failed to remove executor, invalid JSON",
	    "Failed to remove executor, msg.MsgType does not match "
	    "payloadType",
	    "colonyname:s,executorname:s" },
	{ "getexecutormsg", mc_h_getexecutor,
	    "Failed to get executor, invalid JSON",
	    "Failed to get executor, msg.MsgType does not match payloadType",
	    "colonyname:s,executorname:s" },
	{ "addfunctionmsg", mc_h_addfunction,
	    "Failed to add function, invalid JSON",
	    "Failed to add function, msg.MsgType does not match payloadType",
	    "fun:o,fun.executorname:s,fun.executortype:s,fun.colonyname:s,fun.funcname:s" },
	{ "submitfuncspecmsg", mc_h_submit,
	    "Failed to submit process, invalid JSON",
	    "Failed to submit process spec, msg.MsgType does not match "
	    "payloadType",
	    "spec:o" },
	{ "assignprocessmsg", mc_h_assign,
	    "Failed to assign process, invalid JSON",
	    "Failed to assign process, msg.msgType does not match "
	    "payloadType",
	    "colonyname:s,timeout:i,availablecpu:s,availablemem:s" },
	{ "closesuccessfulmsg", mc_h_closesuccessful,
	    "Failed to close successful, invalid JSON",
	    "Failed to close process as successful, msg.MsgType does not "
	    "match payloadType",
	    "processid:s,out:a" },
	{ "closefailedmsg", mc_h_closefailed,
	    "Failed to close failed, invalid JSON",
	    "Failed to close process as failed, msg.MsgType does not match "
	    "payloadType",
	    "processid:s,errors:S" },
	{ "getprocessmsg", mc_h_getprocess,
	    "Failed to get process, invalid JSON",
	    "Failed to get process, msg.MsgType does not match payloadType",
	    "processid:s" },
	{ "getprocessesmsg", mc_h_getprocesses,
	    "Failed to get processes, invalid JSON",
	    "Failed to get processes, msg.MsgType does not match payloadType",
	    "colonyname:s,count:i,state:i,executortype:s,label:s,initiator:s" },
	{ "addlogmsg", mc_h_addlog, "Failed to add log, invalid JSON",
	    "Failed to add log, msg.MsgType does not match payloadType",
	    "processid:s,message:s" },
	{ "setoutputmsg", mc_h_setoutput, "Failed to set output, invalid JSON",
	    "Failed to set output, msg.MsgType does not match payloadType",
	    "processid:s,out:a" },
	{ "cancelprocessmsg", mc_h_cancel,
	    "Failed to cancel process, invalid JSON",
	    "Failed to cancel process, msg.MsgType does not match "
	    "payloadType",
	    "processid:s" },
	{ "removeallprocessesmsg", mc_h_removeall,
	    "Failed to remove all processes, invalid JSON",
	    "Failed to remove all processes, msg.MsgType does not match "
	    "payloadType",
	    "colonyname:s,state:i" },
	{ "pauseassignmentsmsg", mc_h_pause,
	    "Failed to pause assignments, invalid JSON",
	    "Failed to pause assignments, msg.MsgType does not match "
	    "payloadType",
	    "colonyname:s" },
	{ "resumeassignmentsmsg", mc_h_pause,
	    "Failed to resume assignments, invalid JSON",
	    "Failed to resume assignments, msg.MsgType does not match "
	    "payloadType",
	    "colonyname:s" },
};

/* --- the envelope -------------------------------------------------------- */

/*
 * Go decodes the whole message into a typed struct before looking at any
 * field, so a field of the wrong type is "invalid JSON" even when msgtype
 * is wrong too.  fields: "name:T,obj.name:T", T one of s (string), i (int),
 * a (array), S (array of strings), o (object).
 */
static int
mc_typecheck(json_t *msg, const char *fields)
{
	char		 buf[512], *f, *save, *colon, *dot;
	json_t		*o, *dummy;
	const char	*sv;
	long long	 iv;
	int		 rc = 0;

	snprintf(buf, sizeof(buf), "%s", fields);
	for (f = strtok_r(buf, ",", &save); f != NULL && rc == 0;
	    f = strtok_r(NULL, ",", &save)) {
		if ((colon = strchr(f, ':')) == NULL)
			continue;
		*colon = '\0';
		o = msg;
		if ((dot = strchr(f, '.')) != NULL) {
			*dot = '\0';
			if (mc_getobj(msg, f, &o) == -1)
				return -1;
			f = dot + 1;
		}
		switch (colon[1]) {
		case 's':
			rc = mc_getstr(o, f, &sv);
			break;
		case 'i':
			rc = mc_getint(o, f, &iv);
			break;
		case 'a':
			rc = mc_getarr(o, f, &dummy);
			break;
		case 'S':
			rc = mc_getstrarr(o, f, &dummy);
			break;
		case 'o':
			rc = mc_getobj(o, f, &dummy);
			break;
		}
	}
	return rc;
}

/* A quick 64-bit hash for the signature cache (not for hmap: FNV there). */
static uint64_t
mc_cache_hash(const char *k, size_t n, uint64_t h)
{
	uint64_t	w;

	for (; n >= 8; k += 8, n -= 8) {
		memcpy(&w, k, 8);
		h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
		h ^= h >> 29;
	}
	for (; n > 0; k++, n--)
		h = (h ^ (unsigned char)*k) * 0x100000001b3ULL;
	return h ^ (h >> 32);
}

static int
mc_recover(const char *payload, size_t plen, const char *sig, size_t siglen,
    char *id, char *cause, size_t causelen)
{
	unsigned char	 raw[65];
	struct mc_cslot	*s;
	uint64_t	 h;

	if (siglen != CRYPTO_SIG_HEXLEN)
		return crypto_recover_id(payload, plen, sig, siglen, id, cause,
		    causelen);
	h = mc_cache_hash(payload, plen, mc_cache_hash(sig, siglen, plen));
	s = &mc_cache[h & (MC_CACHE_SLOTS - 1)];
	if (s->used && s->h == h && s->plen == plen &&
	    memcmp(s->sig, sig, siglen) == 0 &&
	    memcmp(s->payload, payload, plen) == 0) {
		mc_cache_hits++;
		memcpy(id, s->id, CRYPTO_ID_HEXLEN + 1);
		return 0;
	}
	if (crypto_unhex(sig, siglen, raw, sizeof(raw)) != 65)
		return crypto_recover_id(payload, plen, sig, siglen, id, cause,
		    causelen);
	mc_cache_misses++;
	if (crypto_recover_id(payload, plen, sig, siglen, id, cause,
	    causelen) == -1)
		return -1;
	free(s->payload);
	if ((s->payload = malloc(plen + 1)) == NULL)
		fatal("malloc");
	memcpy(s->payload, payload, plen);
	s->plen = plen;
	s->h = h;
	memcpy(s->sig, sig, siglen);
	memcpy(s->id, id, CRYPTO_ID_HEXLEN + 1);
	s->used = 1;
	return 0;
}

/* The envelope field, or NULL; -1 if present with the wrong type. */
static int
mc_env_field(json_t *env, const char *name, const char *gotype,
    json_t **out, char *err, size_t errlen)
{
	json_t		*v = mc_get(env, name);
	const char	*kind;
	int		 wantbool = strcmp(gotype, "bool") == 0;

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if ((!wantbool && json_is_string(v)) || (wantbool &&
	    json_is_boolean(v))) {
		*out = v;
		return 0;
	}
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		kind = "object";
		break;
	case JSON_ARRAY:
		kind = "array";
		break;
	case JSON_STRING:
		kind = "string";
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		kind = "bool";
		break;
	default:
		kind = "number";
		break;
	}
	snprintf(err, errlen, "json: cannot unmarshal %s into Go struct field "
	    "RPCMsg.%s of type %s", kind, name, gotype);
	return -1;
}

static void
mc_version(struct evhttp_request *req, const char *payloadtype)
{
	static const char	v[] = "{\n  \"buildversion\": \"minicolonies\","
	    "\n  \"buildtime\": \"\"\n}";

	mc_send(req, 200, payloadtype, v, sizeof(v) - 1);
}

/*
 * The envelope as our clients send it: {"k":"v","k":"v","k":"v"} with
 * exactly signature, payloadtype and payload, once each, the values plain
 * printable ASCII.  Scanning that by hand saves jansson's per-character
 * lexing of the long base64 payload, the largest user-space cost of a
 * request after the signature recovery.  Anything else (whitespace,
 * escapes, other or repeated keys, non-string values) returns -1 and takes
 * the general path, so no reply can differ.  On success the three values
 * are NUL-terminated in place.
 */
static int
mc_env_fast(char *body, size_t len, const char **v, size_t *vlen)
{
	static const char *const keys[3] = { "payloadtype", "payload",
	    "signature" };
	size_t	 i = 1, ks, vs, end[3], k, j;
	int	 seen = 0;

	if (len < 2 || body[0] != '{' || body[len - 1] != '}')
		return -1;
	len--;		/* the final '}' */
	for (k = 0; k < 3; k++) {
		if (k > 0 && (i >= len || body[i++] != ','))
			return -1;
		if (i >= len || body[i++] != '"')
			return -1;
		for (ks = i; i < len && body[i] >= 'a' && body[i] <= 'z'; i++)
			;
		for (j = 0; j < 3; j++)
			if (strlen(keys[j]) == i - ks &&
			    memcmp(keys[j], body + ks, i - ks) == 0)
				break;
		if (j == 3 || (seen & (1 << j)))
			return -1;
		seen |= 1 << j;
		if (i + 2 >= len || body[i] != '"' || body[i + 1] != ':' ||
		    body[i + 2] != '"')
			return -1;
		for (i += 3, vs = i; i < len && body[i] != '"'; i++)
			if ((unsigned char)body[i] < 0x20 ||
			    (unsigned char)body[i] > 0x7e || body[i] == '\\')
				return -1;
		if (i >= len)
			return -1;
		v[j] = body + vs;
		vlen[j] = i - vs;
		end[j] = i++;
	}
	if (i != len)
		return -1;
	for (j = 0; j < 3; j++)
		body[end[j]] = '\0';
	return 0;
}

static void
mc_api(struct evhttp_request *req)
{
	struct evbuffer		*in = evhttp_request_get_input_buffer(req);
	size_t			 len = evbuffer_get_length(in);
	const char		*body, *payloadtype, *payload, *sig;
	json_t			*env = NULL, *jpt, *jp, *js, *jerr, *msg;
	json_error_t		 jerror;
	char			 err[512], *mbody;
	struct mc_req		 r;
	const struct mc_handler	*h = NULL;
	unsigned char		*dec;
	size_t			 i, declen, plen, siglen, fl[3];
	const char		*mt, *fv[3];

	mbody = (char *)evbuffer_pullup(in, -1);
	if (mbody != NULL && mc_env_fast(mbody, len, fv, fl) == 0) {
		payloadtype = fv[0];
		payload = fv[1];
		plen = fl[1];
		sig = fv[2];
		siglen = fl[2];
		goto envelope;
	}
	body = mbody != NULL ? mbody : "";
	if (mc_go_syntax(body, len, err, sizeof(err)) == -1) {
		mc_error(req, 400, "%s", err);
		return;
	}
	env = json_loadb(body, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerror);
	if (env == NULL) {
		/* Valid for Go but not for jansson: invalid UTF-8. */
		mc_error(req, 400, "invalid character in string literal");
		return;
	}
	if (json_is_null(env)) {
		json_decref(env);
		mc_panic(req);
		return;
	}
	if (!json_is_object(env)) {
		mc_error(req, 400, "json: cannot unmarshal %s into Go value of "
		    "type rpc.RPCMsg", json_is_array(env) ? "array" :
		    json_is_string(env) ? "string" : json_is_boolean(env) ?
		    "bool" : "number");
		json_decref(env);
		return;
	}
	if (mc_env_field(env, "signature", "string", &js, err,
	    sizeof(err)) == -1 ||
	    mc_env_field(env, "payloadtype", "string", &jpt, err,
	    sizeof(err)) == -1 ||
	    mc_env_field(env, "payload", "string", &jp, err,
	    sizeof(err)) == -1 ||
	    mc_env_field(env, "error", "bool", &jerr, err, sizeof(err)) == -1) {
		mc_error(req, 400, "%s", err);
		json_decref(env);
		return;
	}
	payloadtype = jpt != NULL ? json_string_value(jpt) : "";
	payload = jp != NULL ? json_string_value(jp) : "";
	sig = js != NULL ? json_string_value(js) : "";
	plen = jp != NULL ? json_string_length(jp) : 0;
	siglen = js != NULL ? json_string_length(js) : 0;
envelope:
	if (strcmp(payloadtype, "versionmsg") == 0 ||
	    strcmp(payloadtype, "getserverinfomsg") == 0) {
		mc_version(req, payloadtype);
		json_decref(env);
		return;
	}
	memset(&r, 0, sizeof(r));
	r.req = req;
	r.payloadtype = payloadtype;
	if (mc_recover(payload, plen, sig, siglen, r.id, err,
	    sizeof(err)) == -1) {
		mc_error(req, 403, "%s", err);
		json_decref(env);
		return;
	}
	for (i = 0; i < sizeof(mc_handlers) / sizeof(mc_handlers[0]); i++) {
		if (strcmp(mc_handlers[i].type, payloadtype) == 0) {
			h = &mc_handlers[i];
			break;
		}
	}
	if (h == NULL) {
		if (*payloadtype == '\0')
			mc_error(req, 403, "invalid rpcMsg.PayloadType: empty "
			    "(this usually means the client is misconfigured - "
			    "check that COLONIES_PRVKEY and other environment "
			    "variables are set correctly)");
		else
			mc_error(req, 403, "invalid rpcMsg.PayloadType: %s",
			    payloadtype);
		json_decref(env);
		return;
	}
	mc_cur = h;
	if (mc_verbose)
		log_info("%s from %.12s", payloadtype, r.id);
	/* Go ignores a base64 error and parses what it got (nothing). */
	dec = crypto_base64_decode(payload, plen, &declen);
	if (dec == NULL ||
	    mc_go_syntax((char *)dec, declen, err, sizeof(err)) == -1 ||
	    (msg = json_loadb((char *)dec, declen, JSON_DECODE_ANY |
	    JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &jerror)) == NULL) {
		free(dec);
		mc_error(req, 400, "%s", h->badjson);
		json_decref(env);
		return;
	}
	free(dec);
	if (json_is_null(msg)) {
		json_decref(msg);
		json_decref(env);
		mc_panic(req);
		return;
	}
	if (!json_is_object(msg) || mc_getstr(msg, "msgtype", &mt) == -1) {
		mc_error(req, 400, "%s", h->badjson);
		json_decref(msg);
		json_decref(env);
		return;
	}
	if (mc_typecheck(msg, h->fields) == -1) {
		mc_error(req, 400, "%s", h->badjson);
		json_decref(msg);
		json_decref(env);
		return;
	}
	if (strcmp(mt, payloadtype) != 0) {
		mc_error(req, 400, "%s", h->mismatch);
		json_decref(msg);
		json_decref(env);
		return;
	}
	r.msg = msg;
	h->fn(&r);
	json_decref(msg);
	json_decref(env);
}

/* --- minicolonies-only endpoints ---------------------------------------- */

/* The value of a query parameter, or NULL. */
static char *
mc_query(struct evhttp_request *req, const char *name)
{
	const struct evhttp_uri	*u = evhttp_request_get_evhttp_uri(req);
	struct evkeyvalq	 q;
	const char		*qs, *v;
	char			*r = NULL;

	if (u == NULL || (qs = evhttp_uri_get_query(u)) == NULL)
		return NULL;
	TAILQ_INIT(&q);
	if (evhttp_parse_query_str(qs, &q) == 0 &&
	    (v = evhttp_find_header(&q, name)) != NULL && *v != '\0')
		r = mc_strdup(v);
	evhttp_clear_headers(&q);
	return r;
}

/* What a test compares with its database: one compact line a process. */
static void
mc_dump_summary(struct sb *b, struct mc_process *p)
{
	json_t		*o, *a0, *ev, *id;
	json_error_t	 e;
	unsigned char	 d[32];
	char		 hex[65], t[3][40];
	char		*line;

	mc_fmt_time(p->submit_us, t[0], sizeof(t[0]));
	mc_fmt_time(p->start_us, t[1], sizeof(t[1]));
	mc_fmt_time(p->end_us, t[2], sizeof(t[2]));
	o = json_pack("{s:s, s:i, s:i, s:s, s:b, s:s, s:s, s:s, s:I, s:s, "
	    "s:s, s:s}", "processid", p->id, "state", p->state, "retries",
	    p->retries, "assignedexecutorid", p->assigned, "isassigned",
	    p->isassigned, "funcname", p->funcname ? p->funcname : "",
	    "executortype", p->type ? p->type : "", "initiatorname",
	    p->initiatorname, "prioritytime", (json_int_t)p->prioritytime,
	    "submissiontime", t[0], "starttime", t[1], "endtime", t[2]);
	if (o == NULL)
		return;
	a0 = p->args != NULL ? json_array_get(p->args, 0) : NULL;
	if (a0 != NULL && json_is_string(a0)) {
		crypto_sha3_256(json_string_value(a0), json_string_length(a0),
		    d);
		crypto_hex(d, sizeof(d), hex);
		json_object_set_new(o, "args0_sha3", json_string(hex));
		ev = json_loadb(json_string_value(a0), json_string_length(a0),
		    0, &e);
		if (ev != NULL && (id = json_object_get(ev, "id")) != NULL &&
		    json_is_string(id))
			json_object_set(o, "event_id", id);
		json_decref(ev);
	}
	json_object_set(o, "errors", p->errors ? p->errors : json_array());
	if (p->errors == NULL)
		json_decref(json_object_get(o, "errors"));
	json_object_set(o, "out", p->out ? p->out : json_array());
	if (p->out == NULL)
		json_decref(json_object_get(o, "out"));
	line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER |
	    JSON_REAL_PRECISION(17));
	json_decref(o);
	if (line != NULL) {
		sb_adds(b, line);
		sb_addc(b, '\n');
		free(line);
	}
}

static void
mc_dump(struct evhttp_request *req)
{
	struct mc_process	*p;
	struct evbuffer		*buf;
	struct sb		 b = { NULL, 0, 0 }, line = { NULL, 0, 0 };
	char			*colony = mc_query(req, "colony");
	char			*full = mc_query(req, "full");

	if ((buf = evbuffer_new()) == NULL)
		fatal("evbuffer_new");
	TAILQ_FOREACH(p, &mc_processes, all) {
		if (colony != NULL && strcmp(p->colony, colony) != 0)
			continue;
		b.len = 0;
		if (full == NULL) {
			mc_dump_summary(&b, p);
			evbuffer_add(buf, b.s, b.len);
			continue;
		}
		/* The Process as the API sends it, on one line. */
		mc_proc_json(&b, p, 0);
		{
			size_t	i;

			line.len = 0;
			sb_grow(&line, b.len);
			for (i = 0; i < b.len; i++) {
				if (b.s[i] == '\n') {
					while (i + 1 < b.len && b.s[i + 1] ==
					    ' ')
						i++;
					continue;
				}
				sb_addc(&line, b.s[i]);
			}
			sb_addc(&line, '\n');
			evbuffer_add(buf, line.s, line.len);
		}
	}
	sb_free(&b);
	sb_free(&line);
	free(colony);
	free(full);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "application/x-ndjson");
	evhttp_send_reply(req, 200, "OK", buf);
	evbuffer_free(buf);
}

static void
mc_stats(struct evhttp_request *req)
{
	struct evbuffer		*buf;
	struct mc_executor	*ex;
	struct mc_process	*p;
	uint64_t		 n[5];
	size_t			 nex = 0;
	char			*colony = mc_query(req, "colony");

	TAILQ_FOREACH(ex, &mc_executors, entry)
		nex++;
	if (colony == NULL)
		memcpy(n, mc_nstate, sizeof(n));
	else {
		memset(n, 0, sizeof(n));
		TAILQ_FOREACH(p, &mc_processes, all)
			if (strcmp(p->colony, colony) == 0)
				n[p->state]++;
	}
	free(colony);
	if ((buf = evbuffer_new()) == NULL)
		fatal("evbuffer_new");
	evbuffer_add_printf(buf, "{\"waiting\":%llu,\"running\":%llu,"
	    "\"successful\":%llu,\"failed\":%llu,\"cancelled\":%llu,"
	    "\"executors\":%zu,\"pollers\":%llu,\"sigcache_hits\":%llu,"
	    "\"sigcache_misses\":%llu}\n",
	    (unsigned long long)n[0], (unsigned long long)n[1],
	    (unsigned long long)n[2], (unsigned long long)n[3],
	    (unsigned long long)n[4], nex, (unsigned long long)mc_npollers,
	    (unsigned long long)mc_cache_hits,
	    (unsigned long long)mc_cache_misses);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "application/json");
	evhttp_send_reply(req, 200, "OK", buf);
	evbuffer_free(buf);
}

static void
mc_http_cb(struct evhttp_request *req, void *arg)
{
	const char	*uri = evhttp_request_get_uri(req);
	size_t		 plen = strcspn(uri, "?#");
	int		 method = evhttp_request_get_command(req);
	struct evbuffer	*buf;

	if (plen == 4 && strncmp(uri, "/api", 4) == 0 &&
	    method == EVHTTP_REQ_POST) {
		mc_api(req);
		return;
	}
	if (plen == 7 && strncmp(uri, "/health", 7) == 0 &&
	    method == EVHTTP_REQ_GET) {
		evhttp_send_reply(req, 200, "OK", NULL);
		return;
	}
	if (plen == 5 && strncmp(uri, "/dump", 5) == 0 &&
	    method == EVHTTP_REQ_GET) {
		mc_dump(req);
		return;
	}
	if (plen == 6 && strncmp(uri, "/stats", 6) == 0 &&
	    method == EVHTTP_REQ_GET) {
		mc_stats(req);
		return;
	}
	/* What gin answers for an unknown route. */
	if ((buf = evbuffer_new()) == NULL)
		fatal("evbuffer_new");
	evbuffer_add_printf(buf, "404 page not found");
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "text/plain");
	evhttp_send_reply(req, 404, "Not Found", buf);
	evbuffer_free(buf);
}

/* --- timers -------------------------------------------------------------- */

/* Every second, as the real server: exec and wait deadlines. */
static void
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
static void
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

static void
mc_signal_cb(evutil_socket_t sig, short ev, void *arg)
{
	log_info("signal %d: exiting", (int)sig);
	event_base_loopbreak(mc_base);
}

/* --- main ---------------------------------------------------------------- */

static int
mc_read_keyfile(const char *path, struct crypto_key *key, char *cause,
    size_t causelen)
{
	FILE	*f;
	char	 buf[256];
	size_t	 n;

	if ((f = fopen(path, "r")) == NULL) {
		snprintf(cause, causelen, "%s: %s", path, strerror(errno));
		return -1;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	while (n > 0 && isspace((unsigned char)buf[n - 1]))
		buf[--n] = '\0';
	if (crypto_key_parse(key, buf, n, cause, causelen) == -1) {
		explicit_bzero(buf, sizeof(buf));
		return -1;
	}
	explicit_bzero(buf, sizeof(buf));
	return 0;
}

static void
mc_serve_usage(void)
{
	fprintf(stderr, "usage: minicolonies serve [--listen HOST:PORT] "
	    "[--port-file FILE] --server-key-file FILE\n"
	    "\t[--stale-executor-duration S] [--cleanup-interval S] "
	    "[--allow-executor-reregister] [-v]\n");
}

int
mc_serve_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "port-file", required_argument, NULL, 'p' },
		{ "server-key-file", required_argument, NULL, 'k' },
		{ "server-id", required_argument, NULL, 'I' },
		{ "stale-executor-duration", required_argument, NULL, 's' },
		{ "cleanup-interval", required_argument, NULL, 'c' },
		{ "allow-executor-reregister", no_argument, NULL, 'r' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char		*listen = "127.0.0.1:50080", *portfile = NULL;
	const char		*keyfile = NULL, *serverid = NULL;
	char			 host[256], cause[FB_CAUSE_MAX], *colon, *end;
	struct crypto_key	 key;
	struct evhttp_bound_socket *bs;
	struct sockaddr_storage	 ss;
	socklen_t		 sslen = sizeof(ss);
	struct event		*ev_exp, *ev_clean, *ev_term, *ev_int;
	struct timeval		 tv;
	unsigned long		 port;
	int			 ch, bound;
	FILE			*f;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (ch) {
		case 'l':
			listen = optarg;
			break;
		case 'p':
			portfile = optarg;
			break;
		case 'k':
			keyfile = optarg;
			break;
		case 'I':
			serverid = optarg;
			break;
		case 's':
			mc_stale_s = strtol(optarg, &end, 10);
			if (*end != '\0' || mc_stale_s < 1) {
				mc_serve_usage();
				return FB_EX_USAGE;
			}
			break;
		case 'c':
			mc_cleanup_s = strtol(optarg, &end, 10);
			if (*end != '\0' || mc_cleanup_s < 1) {
				mc_serve_usage();
				return FB_EX_USAGE;
			}
			break;
		case 'r':
			mc_allow_reregister = 1;
			break;
		case 'v':
			mc_verbose = 1;
			break;
		default:
			mc_serve_usage();
			return ch == 'h' ? 0 : FB_EX_USAGE;
		}
	}
	if (log_init("minicolonies", mc_verbose ? LOG_LEVEL_DEBUG :
	    LOG_LEVEL_INFO, "stderr", cause, sizeof(cause)) == -1)
		fatalx("%s", cause);
	if (crypto_init() == -1)
		fatalx("crypto_init failed");
	if (keyfile != NULL) {
		if (mc_read_keyfile(keyfile, &key, cause, sizeof(cause)) == -1)
			fatalx("server key: %s", cause);
		memcpy(mc_server_id, key.id, sizeof(mc_server_id));
		crypto_key_clear(&key);
	} else if (serverid != NULL && strlen(serverid) == CRYPTO_ID_HEXLEN)
		snprintf(mc_server_id, sizeof(mc_server_id), "%s", serverid);
	else {
		mc_serve_usage();
		return FB_EX_USAGE;
	}

	snprintf(host, sizeof(host), "%s", listen);
	if ((colon = strrchr(host, ':')) == NULL) {
		mc_serve_usage();
		return FB_EX_USAGE;
	}
	*colon = '\0';
	port = strtoul(colon + 1, &end, 10);
	if (*end != '\0' || port > 65535) {
		mc_serve_usage();
		return FB_EX_USAGE;
	}
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}

	signal(SIGPIPE, SIG_IGN);
	mc_cache = mc_calloc(MC_CACHE_SLOTS, sizeof(*mc_cache));
	{
		struct event_config	*cfg;

		/*
		 * Single-threaded; and coalesce epoll_ctl calls: syscalls are
		 * most of the cost of a request here.
		 */
		if ((cfg = event_config_new()) == NULL)
			fatalx("event_config_new");
		event_config_set_flag(cfg, EVENT_BASE_FLAG_NOLOCK);
		event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
		if ((mc_base = event_base_new_with_config(cfg)) == NULL)
			fatalx("event_base_new");
		event_config_free(cfg);
	}
	if ((mc_http = evhttp_new(mc_base)) == NULL)
		fatalx("evhttp_new");
	evhttp_set_max_body_size(mc_http, MC_MAX_BODY);
	evhttp_set_timeout(mc_http, 120);
	evhttp_set_allowed_methods(mc_http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	    EVHTTP_REQ_OPTIONS);
	evhttp_set_gencb(mc_http, mc_http_cb, NULL);
	if ((bs = evhttp_bind_socket_with_handle(mc_http, host,
	    (unsigned short)port)) == NULL)
		fatal("bind %s", listen);
	if (getsockname(evhttp_bound_socket_get_fd(bs),
	    (struct sockaddr *)&ss, &sslen) == -1)
		fatal("getsockname");
	bound = ss.ss_family == AF_INET6 ?
	    ntohs(((struct sockaddr_in6 *)&ss)->sin6_port) :
	    ntohs(((struct sockaddr_in *)&ss)->sin_port);

	ev_exp = event_new(mc_base, -1, EV_PERSIST, mc_expiry_cb, NULL);
	tv.tv_sec = 1;
	tv.tv_usec = 0;
	event_add(ev_exp, &tv);
	ev_clean = event_new(mc_base, -1, EV_PERSIST, mc_cleanup_cb, NULL);
	tv.tv_sec = mc_cleanup_s;
	event_add(ev_clean, &tv);
	ev_term = evsignal_new(mc_base, SIGTERM, mc_signal_cb, NULL);
	ev_int = evsignal_new(mc_base, SIGINT, mc_signal_cb, NULL);
	event_add(ev_term, NULL);
	event_add(ev_int, NULL);

	log_info("listening on %s:%d (server id %.12s...)", host, bound,
	    mc_server_id);
	if (portfile != NULL) {
		char	tmp[PATH_MAX];

		/* Write then rename: the harness never reads half a port. */
		snprintf(tmp, sizeof(tmp), "%s.tmp", portfile);
		if ((f = fopen(tmp, "w")) == NULL)
			fatal("%s", tmp);
		fprintf(f, "%d\n", bound);
		if (fclose(f) == EOF || rename(tmp, portfile) == -1)
			fatal("%s", portfile);
	}
	event_base_dispatch(mc_base);
	/* Like the real server: no draining, in-flight polls just die. */
	event_free(ev_exp);
	event_free(ev_clean);
	event_free(ev_term);
	event_free(ev_int);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "serve") == 0)
		return mc_serve_main(argc - 1, argv + 1);
	return mc_cli_main(argc, argv);
}
