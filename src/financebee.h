/*
 * financebee: Stripe revenue events from ColonyOS applied to PostgreSQL
 * exactly once.  The program header: every subsystem's exported
 * prototypes, grouped by the file that defines them.
 */
#ifndef FINANCEBEE_H
#define FINANCEBEE_H

#include <sys/types.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#define FB_NAME			"financebee"
#define FB_SCHEMA_VERSION	4	/* sql/NNN_*.sql this binary expects */

/* sysexits(3) values that carry meaning between the bees and the master. */
#define FB_EX_OK		0
#define FB_EX_USAGE		64
#define FB_EX_DATAERR		65	/* permanent failure of an event */
#define FB_EX_SOFTWARE		70
#define FB_EX_TEMPFAIL		75	/* a dependency is down: retry later */
#define FB_EX_CONFIG		78	/* configuration: never respawn */

#define FB_CAUSE_MAX		512

#ifndef __dead
#define __dead __attribute__((__noreturn__))
#endif

/* log.c */
enum log_level {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG
};
/* target: "stderr", "syslog" or an absolute file path. 0 or -1 + cause. */
int	 log_init(const char *procname, enum log_level, const char *target,
	    char *cause, size_t causelen);
void	 log_procname(const char *fmt, ...)
	    __attribute__((__format__(__printf__, 1, 2)));
void	 log_setlevel(enum log_level);
int	 log_reopen(void);	/* SIGUSR1: reopen a file target */
int	 log_level_parse(const char *, enum log_level *);
void	 log_warn(const char *, ...)
	    __attribute__((__format__(__printf__, 1, 2)));
void	 log_warnx(const char *, ...)
	    __attribute__((__format__(__printf__, 1, 2)));
void	 log_info(const char *, ...)
	    __attribute__((__format__(__printf__, 1, 2)));
void	 log_debug(const char *, ...)
	    __attribute__((__format__(__printf__, 1, 2)));
__dead void fatal(const char *, ...)
	    __attribute__((__format__(__printf__, 1, 2)));
__dead void fatalx(const char *, ...)
	    __attribute__((__format__(__printf__, 1, 2)));

/* crypto.c */
#define CRYPTO_ID_HEXLEN	64	/* ColonyOS ids and process ids */
#define CRYPTO_SIG_HEXLEN	130	/* r(32) || s(32) || v(1), hex */
struct crypto_key {
	unsigned char	seckey[32];
	unsigned char	pubkey[65];		/* 04 || X || Y */
	char		id[CRYPTO_ID_HEXLEN + 1];
};
int	 crypto_init(void);
void	 crypto_sha3_256(const void *, size_t, unsigned char [32]);
void	 crypto_hex(const unsigned char *, size_t, char *);	/* lowercase, NUL */
/* Either case; returns bytes written, -1 if odd/non-hex/too long. */
int	 crypto_unhex(const char *, size_t, unsigned char *, size_t);
int	 crypto_hexval(int);	/* of one hex digit, either case; or -1 */
/* 64 hex chars, 0 < d < n. The cause never contains the key. */
int	 crypto_key_parse(struct crypto_key *, const char *, size_t,
	    char *, size_t);
int	 crypto_key_generate(struct crypto_key *, char *, size_t);
/*
 * Deterministic per-slot key from a secret seed (executor identities):
 * d = SHA3-256(seed || label || 0x00 || decimal(slot)), see crypto.c.
 * A NULL label is "".
 */
int	 crypto_key_derive(struct crypto_key *, const unsigned char *, size_t,
	    const char *, unsigned int, char *, size_t);
void	 crypto_key_clear(struct crypto_key *);
/* Sign msg (the base64 payload text) as ColonyOS does; sig gets 130 hex + NUL. */
int	 crypto_sign(const struct crypto_key *, const char *, size_t, char *);
/*
 * Recover the signer's id as the real server does.  On failure, cause gets
 * the exact message the real server sends (e.g. "Invalid signature length").
 */
int	 crypto_recover_id(const char *, size_t, const char *, size_t, char *,
	    char *, size_t);
/* Standard base64 with padding; malloc'd, NUL-terminated; len excludes it. */
char	*crypto_base64_encode(const void *, size_t, size_t *);
/* Strict (no whitespace, exact padding); NULL if invalid. */
unsigned char *crypto_base64_decode(const char *, size_t, size_t *);
int	 crypto_random(void *, size_t);	/* getrandom(2); 0 or -1 */

/* arena.c: jansson values of one parse, bump-allocated (bees). */
void	 arena_init(void);
void	 arena_enter(void);
void	 arena_leave(void);
size_t	 arena_inuse(int *);

/*
 * net.c: getaddrinfo() for host:port, giving up at deadline (task_now_ms()
 * time; budget_ms is what the cause names) or when abort_cb(abort_arg) !=
 * 0 (polled ~1/s): 0 and *res for freeaddrinfo(), or -1 and a cause
 * ("resolve HOST: no answer within N ms", "request aborted", the
 * resolver's error).
 */
struct addrinfo;
int	 net_resolve(const char *host, const char *port, int64_t deadline,
	    long budget_ms, int (*abort_cb)(void *), void *abort_arg,
	    struct addrinfo **res, char *cause, size_t causelen);

/* http.c: a blocking HTTP/1.1 client (http and https) for the RPC. */
struct http;
/* http://host[:port][/path] or https://...; connects on first use. */
struct http	*http_open(const char *url, long connect_ms, char *, size_t);
void		 http_free(struct http *);
/* fn(arg) != 0 (polled ~1/s and on EINTR) ends the request in flight. */
void		 http_set_abort(struct http *, int (*)(void *), void *);
/*
 * One request on the kept connection: 0 with *status and the reply body
 * (NUL-terminated, owned by the handle until the next call), or -1 and a
 * one-line cause.  A body over max bytes is an error; timeout_ms bounds
 * the whole request.
 */
int		 http_post(struct http *, const char *body, size_t len,
		    long timeout_ms, size_t max, int *status,
		    const char **reply, size_t *replylen, char *, size_t);
int		 http_get(struct http *, const char *target, long timeout_ms,
		    size_t max, int *status, const char **reply,
		    size_t *replylen, char *, size_t);

/* colonies.c: the ColonyOS RPC client. */
enum col_err {
	COL_OK = 0,
	COL_NOWORK,	/* 404 on assign: the long-poll ended empty */
	COL_NOTFOUND,	/* 404 on other calls */
	COL_AUTH,	/* 403: signature, membership, ownership */
	COL_BADREQ,	/* 400 */
	COL_SERVER,	/* 5xx */
	COL_TRANSPORT,	/* connect, timeout, reset, empty reply */
	COL_PROTO,	/* a reply we cannot decode */
	COL_LOST	/* we no longer own the process (close after expiry...) */
};
const char *col_err_str(enum col_err);

struct col_process {
	char		 processid[CRYPTO_ID_HEXLEN + 1];
	char		 assignedexecutorid[CRYPTO_ID_HEXLEN + 1];
	char		 initiatorid[CRYPTO_ID_HEXLEN + 1];
	int		 state;		/* 0 waiting 1 running 2 ok 3 failed 4 cancelled */
	int		 isassigned;
	int64_t		 prioritytime;
	int		 retries;
	int		 maxretries;
	int		 maxexectime;
	int		 maxwaittime;
	int		 priority;
	char		*funcname;
	char		*executortype;
	char		*submissiontime;
	char		*starttime;
	char		*execdeadline;
	json_t		*args;		/* array, never NULL after a parse */
	json_t		*kwargs;	/* object, never NULL after a parse */
	json_t		*out;
	json_t		*errors;
	json_t		*raw;		/* the whole decoded object */
};
void	 col_process_free(struct col_process *);
/*
 * Decoders, exported for the fuzz tests.  On failure col_process_parse
 * leaves only proc->processid set (if it was valid), so a caller can still
 * close a malformed process failed.
 */
int	 col_process_parse(json_t *, struct col_process *, char *, size_t);
enum col_err colonies_decode_reply(long, const char *, size_t, const char *,
	    json_t **, char *, size_t);
/* json_loadb for plain ASCII JSON, NULL when unsure (see colonies.c). */
json_t	*colonies_fast_json(const char *, size_t, int maxdepth);

/*
 * The HTTP body of a signed request, as the Go client writes it:
 * {"signature":..,"payloadtype":msgtype,"payload":base64(payload_json)}.
 * NUL-terminated, malloc'd; *len (if not NULL) excludes the NUL.
 */
char	*colonies_envelope(const struct crypto_key *, const char *msgtype,
	    const char *payload_json, size_t *len);

struct colonies;
/* The cached signed assign body of a client (exported for the tests). */
const char	*colonies_assign_envelope(struct colonies *, const char *colony,
		    int timeout, size_t *len);
struct colonies	*colonies_open(const char *url, const struct crypto_key *,
		    long connect_timeout_ms, long request_timeout_ms);
void		 colonies_free(struct colonies *);
/* abort(arg) != 0 (polled ~1/s) ends the call in flight: COL_TRANSPORT. */
void		 colonies_set_abort(struct colonies *, int (*)(void *), void *);
/* The HTTP timeout of an assign is its poll timeout plus this slack. */
#define COLONIES_POLL_SLACK_MS	10000
enum col_err colonies_assign(struct colonies *, const char *colony, int timeout,
	    struct col_process *, char *, size_t);
enum col_err colonies_close_successful(struct colonies *, const char *processid,
	    json_t *out, char *, size_t);
enum col_err colonies_close_failed(struct colonies *, const char *processid,
	    const char **errors, size_t nerrors, char *, size_t);
enum col_err colonies_get_process(struct colonies *, const char *processid,
	    struct col_process *, char *, size_t);
enum col_err colonies_add_log(struct colonies *, const char *processid,
	    const char *message, char *, size_t);
enum col_err colonies_add_colony(struct colonies *, const char *colonyid,
	    const char *name, char *, size_t);
enum col_err colonies_add_executor(struct colonies *, const char *colony,
	    const char *executorid, const char *type, const char *name,
	    char *, size_t);
enum col_err colonies_approve_executor(struct colonies *, const char *colony,
	    const char *name, char *, size_t);
enum col_err colonies_get_executor(struct colonies *, const char *colony,
	    const char *name, json_t **executor, char *, size_t);
enum col_err colonies_add_function(struct colonies *, const char *colony,
	    const char *executorname, const char *executortype,
	    const char *funcname, char *, size_t);
/* spec is a FunctionSpec object; the reply Process is parsed into *. */
enum col_err colonies_submit(struct colonies *, json_t *spec,
	    struct col_process *, char *, size_t);
/*
 * Generic signed call: payload object gets msgtype added; reply decoded
 * (*reply may be JSON null; reply may be NULL).  timeout_ms <= 0: the
 * client's request timeout.  Closes return COL_LOST when the process is
 * no longer ours (do not retry those).
 */
enum col_err colonies_call(struct colonies *, const char *msgtype,
	    json_t *payload, long timeout_ms, json_t **reply, char *, size_t);

/*
 * fbj.c: a read-only JSON tree for the event text, built in one pass and
 * freed in one call.  The nodes of a value sit in pre-order in one
 * array: a container's first child follows it, and v + v->skip is the
 * next sibling.  Accessors take NULL and values of the wrong type as
 * jansson's do (NULL, 0, false), so the code reading an event reads like
 * jansson code, without a hash table, a key copy or a free per value.
 */
enum fbj_type {
	FBJ_OBJECT, FBJ_ARRAY, FBJ_STRING, FBJ_INTEGER, FBJ_REAL, FBJ_TRUE,
	FBJ_FALSE, FBJ_NULL
};
typedef struct fbj {		/* 32 bytes: two to a cache line */
	const char	*key;	/* a member's key, NUL-terminated, or NULL */
	union {
		const char *s;	/* a string's value, NUL-terminated */
		int64_t	 i;
		double	 r;
	}		 u;
	uint32_t	 len;	/* a string's length; a container's children */
	uint32_t	 skip;	/* nodes in this subtree, itself included */
	uint32_t	 klen;
	uint8_t		 type;	/* enum fbj_type */
} fbj_t;
struct fbj_doc;
/*
 * The text as json_loadb(s, len, JSON_REJECT_DUPLICATES) would load it,
 * or NULL: unsure (non-ASCII, a real, \u0000, nesting past maxdepth, any
 * error); jansson then decides, and fbj_from_json() takes its answer.
 */
struct fbj_doc	*fbj_parse(const char *, size_t, int maxdepth);
struct fbj_doc	*fbj_from_json(json_t *);	/* holds its own reference */
const fbj_t	*fbj_root(const struct fbj_doc *);
void		 fbj_free(struct fbj_doc *);
json_t		*fbj_to_json(const fbj_t *);	/* a deep copy */
const char	*fbj_typename(const fbj_t *);	/* "an object", "null"... */

static inline int fbj_is(const fbj_t *v, int t) { return v != NULL && v->type == t; }
#define fbj_is_object(v)	fbj_is((v), FBJ_OBJECT)
#define fbj_is_array(v)		fbj_is((v), FBJ_ARRAY)
#define fbj_is_string(v)	fbj_is((v), FBJ_STRING)
#define fbj_is_integer(v)	fbj_is((v), FBJ_INTEGER)
#define fbj_is_true(v)		fbj_is((v), FBJ_TRUE)
#define fbj_is_null(v)		fbj_is((v), FBJ_NULL)
#define fbj_is_boolean(v)	(fbj_is((v), FBJ_TRUE) || fbj_is((v), FBJ_FALSE))

static inline const char *
fbj_string_value(const fbj_t *v)
{
	return fbj_is_string(v) ? v->u.s : NULL;
}

static inline size_t
fbj_string_length(const fbj_t *v)
{
	return fbj_is_string(v) ? v->len : 0;
}

static inline int64_t
fbj_integer_value(const fbj_t *v)
{
	return fbj_is_integer(v) ? v->u.i : 0;
}

static inline size_t
fbj_array_size(const fbj_t *a)
{
	return fbj_is_array(a) ? a->len : 0;
}

/* A member by key (a linear scan: events have tens of keys), or NULL. */
static inline const fbj_t *
fbj_object_get(const fbj_t *o, const char *key)
{
	const fbj_t	*c;
	size_t		 i, n;

	if (!fbj_is_object(o))
		return NULL;
	n = strlen(key);
	for (i = 0, c = o + 1; i < o->len; i++, c += c->skip)
		if (c->klen == n && memcmp(c->key, key, n) == 0)
			return c;
	return NULL;
}

/* As json_array_foreach; nothing for a value that is not an array. */
#define fbj_array_foreach(a, i, v)					\
	for ((i) = 0, (v) = (a) != NULL ? (a) + 1 : NULL;		\
	    (i) < fbj_array_size(a);					\
	    (i)++, (v) += (v)->skip)

/*
 * stripe.c: Stripe signature verification and event normalisation.
 *
 * stripe_normalize() turns a parsed event into the "change document", the
 * JSON object store.c hands to the database function fb_apply_event().
 * Its fields (absent = unknown, never guessed):
 *
 *  all:           event_id, type, created (int), livemode (bool),
 *                 api_version (string|null), kind (see below),
 *                 premium_statuses [..], tiers [.. lowest first]
 *  "checkout":    session, mode (always "subscription": other modes are
 *                 "ignored"), payment_status, user_id (lowercase uuid;
 *                 always present), tier (always, one of tiers), customer,
 *                 subscription (always), amount_total, currency,
 *                 paid (bool: payment_status paid|no_payment_required,
 *                 or async_payment_succeeded; false for async_payment_failed)
 *  "subscription": subscription, customer, status, period_start,
 *                 period_end, cancel_at_period_end (bool), price_ids [..],
 *                 tier (from the price map, or absent), user_id
 *                 (metadata.userId, or absent), trial_end, note (only when
 *                 a non-UUID metadata.userId was ignored).  status is
 *                 "canceled" for customer.subscription.deleted.
 *  "invoice":     invoice.paid|payment_succeeded|payment_failed with a
 *                 subscription only: invoice, subscription (always),
 *                 customer, amount_paid, amount_due, currency,
 *                 period_start, period_end (min/max over the subscription's
 *                 non-proration lines), paid (bool; false for
 *                 payment_failed).  One-off invoices and other invoice.*
 *                 types (upcoming...) are "ignored".
 *  "refund":      charge, customer, payment_intent, invoice, amount,
 *                 amount_refunded, currency
 *  "dispute":     dispute, charge, payment_intent, amount, currency,
 *                 status, reason
 *  "customer_deleted": customer
 *  "ignored":     note (why: unknown type, non-subscription checkout,
 *                 one-off invoice, trial_will_end notification)
 */
enum stripe_sig_result {
	STRIPE_SIG_OK = 0,
	STRIPE_SIG_MALFORMED,	/* header unparsable, bad t, no v1 */
	STRIPE_SIG_MISMATCH,	/* no v1 matches any secret */
	STRIPE_SIG_TOO_OLD,
	STRIPE_SIG_TOO_NEW
};
enum stripe_sig_result stripe_verify_signature(const char *header,
	    const void *body, size_t bodylen, char *const *secrets,
	    size_t nsecrets, int64_t now, int64_t tolerance, char *, size_t);
const char *stripe_sig_result_str(enum stripe_sig_result);
/*
 * change.c: the change document fb_apply_event() reads, a flat JSON object
 * written as text while it is set.  Keys are literals (plain identifiers);
 * setting a key again replaces its value.  A failed set (no memory, more
 * than FB_CHANGE_MAXKEYS keys) makes change_text() return NULL.
 */
#define FB_CHANGE_MAXKEYS	32
struct fb_change {
	struct {
		const char	*key;
		size_t		 off, len;	/* of the value, in buf */
	}		 ent[FB_CHANGE_MAXKEYS];
	unsigned int	 n;
	int		 failed;
	char		*buf;		/* the values, as JSON text */
	size_t		 len, cap;
	char		*text;		/* change_text() */
	size_t		 textcap;
};
void	 change_init(struct fb_change *);
void	 change_reset(struct fb_change *);	/* empty, buffers kept */
void	 change_free(struct fb_change *);
void	 change_str(struct fb_change *, const char *key, const char *, size_t);
void	 change_cstr(struct fb_change *, const char *key, const char *);
void	 change_int(struct fb_change *, const char *key, int64_t);
void	 change_bool(struct fb_change *, const char *key, int);
void	 change_null(struct fb_change *, const char *key);
void	 change_list(struct fb_change *, const char *key,
	    const char *const *, size_t);
const char *change_text(struct fb_change *, size_t *);
const char *change_value(const struct fb_change *, const char *key, size_t *);
json_t	*change_json(struct fb_change *);

struct fb_config;
/* 0 with the change written, or -1 with cause naming the field and rule. */
int	 stripe_normalize(const fbj_t *event, const struct fb_config *,
	    struct fb_change *, char *, size_t);
/* Untrusted text made printable and short for a cause; returns buf. */
const char *stripe_quote(const char *, size_t, char *, size_t);

/* guardian.c: every check that runs before the database is touched. */
#define GUARDIAN_KWARG_SIGNATURE "Stripe-Signature"	/* the header value */
#define GUARDIAN_KWARG_SOURCE	"source"	/* free text, informational */
#define GUARDIAN_MAX_PAYLOAD	(1024 * 1024)	/* max_payload = 0 */
#define GUARDIAN_MAX_DEPTH	64		/* max_depth = 0 */
struct guardian_input {
	const char	*funcname;
	json_t		*args;		/* process spec args */
	json_t		*kwargs;	/* process spec kwargs */
	int64_t		 now;		/* injectable clock for tests */
	/* Optional: task_run() calls it when the event enters the store. */
	void		(*applying)(void *);
	void		*applying_arg;
};
/*
 * 0 with *change set (the normalised event), or -1 with cause naming the
 * field and the rule ("args[0]: duplicate key \"id\" at line 1").
 */
int	 guardian_check(const struct fb_config *, const struct guardian_input *,
	    json_t **change, char *, size_t);
/* The same, as a bee runs it: the change written into c (reset first). */
int	 guardian_check_change(const struct fb_config *,
	    const struct guardian_input *, struct fb_change *c, char *, size_t);
/* Strict JSON: no duplicate keys, valid UTF-8, no trailing data, depth bound. */
struct fbj_doc *guardian_parse_json(const char *, size_t, int maxdepth, char *,
	    size_t);

/*
 * store.c: PostgreSQL. One round trip per applied event: the prepared
 * "SELECT fb_apply_event($1::jsonb)" (sql/001_init.sql) with the change
 * document.  Outcomes: applied; duplicate (event id seen before: nothing
 * written); ignored (marker only); stale (older than the subscription's last
 * applied snapshot, or the subscription is canceled/incomplete_expired:
 * status untouched); parked (no user known yet: kept until the checkout
 * that names the user, which applies it in created order).  FAILED =
 * SQLSTATE class FB (unknown user/tier, bad user id...), 22 or 23: the
 * statement rolled back, no row written.  Everything else (serialization,
 * deadlock, timeouts, connection loss, server trouble) is TRANSIENT; the
 * connection is then remade on the next call.
 */
enum store_outcome {
	OUTCOME_APPLIED = 0,
	OUTCOME_DUPLICATE,
	OUTCOME_IGNORED,
	OUTCOME_STALE,
	OUTCOME_PARKED,
	OUTCOME_FAILED,		/* permanent: close the process failed */
	OUTCOME_TRANSIENT	/* retry; never close failed */
};
const char *store_outcome_str(enum store_outcome);
struct store;
struct store	*store_open(const struct fb_config *, char *, size_t);
void		 store_free(struct store *);
/* 0 if the schema is the one this binary was built for, else -1 + cause. */
int		 store_check_schema(struct store *, char *, size_t);
/* sqldir NULL = FB_SQLDIR.  0, or -1 a migration failed (SQL/data), -2 the
 * database is unreachable, -3 the SQL directory is unusable. */
int		 store_migrate(struct store *, const char *sqldir, int *version,
		    char *, size_t);
/* Rows deleted (markers + never-matched parked events), or -1. */
long		 store_prune(struct store *, int max_age_days, char *, size_t);
/* reason gets the permanent/transient cause; detail (may be NULL) a JSON
 * summary of what changed (for --dry-run and the close result). */
enum store_outcome store_apply(struct store *, json_t *change, int dry_run,
		    json_t **detail, char *reason, size_t);
/* The same for a change document's text (NUL-terminated), as a bee does. */
enum store_outcome store_apply_text(struct store *, const char *doc,
		    int dry_run, json_t **detail, char *reason, size_t);
uint64_t	 store_round_trips(const struct store *);

/* task.c: exactly what a bee does with one task (guardian + apply). */
struct task_result {
	enum store_outcome	 outcome;
	char			 event_id[256];
	char			 reason[FB_CAUSE_MAX];
	json_t			*detail;	/* what changed: dry runs only */
	unsigned int		 attempts;	/* store_apply calls made */
};
/* Retries transient failures with bounded backoff until deadline (ms). */
void	 task_run(const struct fb_config *, struct store *,
	    const struct guardian_input *, int dry_run, int64_t deadline_ms,
	    struct task_result *);
/* The apply-and-retry half of task_run(), for a change document. */
void	 task_apply(struct store *, json_t *change, int dry_run,
	    int64_t deadline_ms, struct task_result *);
/* The same for its text, as task_run() does (event_id for the result). */
void	 task_apply_text(struct store *, const char *doc, const char *event_id,
	    int dry_run, int64_t deadline_ms, struct task_result *);
void	 task_result_clear(struct task_result *);
int64_t	 task_now_ms(void);	/* CLOCK_MONOTONIC */

/* config.c: see financebee.conf(5); one table of keys drives everything. */
struct fb_price_tier {
	char	*price;
	char	*tier;
};
struct fb_config {
	char		*path;
	unsigned int	 generation;

	unsigned int	 bees;

	/* colonies */
	char		*colonies_url;
	char		*colony;
	char		*executor_type;
	char		*executor_prefix;
	unsigned char	*executor_seed;		/* secret: per-slot keys */
	size_t		 executor_seed_len;
	char		**executor_keys;	/* secret: or one key per slot */
	size_t		 nexecutor_keys;
	char		*owner_key;		/* secret, optional: colony owner */
	char		**funcnames;		/* allowlist */
	size_t		 nfuncnames;
	int		 poll_timeout;		/* s */
	int		 lease;			/* s: the maxexectime submitters set */
	long		 http_connect_timeout_ms;
	long		 http_timeout_ms;	/* non-poll calls */

	/* database */
	char		*conninfo;		/* secret: may hold a password */
	long		 db_connect_timeout;	/* s */
	long		 db_statement_timeout_ms;

	/* stripe */
	int		 livemode;
	char		**webhook_secrets;	/* secret */
	size_t		 nwebhook_secrets;
	int64_t		 signature_tolerance;	/* s */
	struct fb_price_tier *prices;
	size_t		 nprices;
	char		**tiers;		/* lowest first */
	size_t		 ntiers;
	char		**premium_statuses;
	size_t		 npremium_statuses;

	/* guardian */
	size_t		 max_payload;
	int		 max_depth;

	/* supervision */
	long		 respawn_min_ms;
	long		 respawn_max_ms;
	long		 healthy_after_ms;
	long		 crash_window_ms;
	unsigned int	 crash_limit;
	long		 shutdown_timeout_ms;
	long		 task_timeout_ms;
	long		 heartbeat_timeout_ms;
	unsigned long	 tasks_per_bee;		/* 0 = never recycle */
	int		 prune_age_days;
	long		 prune_interval_ms;	/* 0 = off */

	/* admin */
	char		*admin_path;
	mode_t		 admin_mode;
	char		**admin_groups;
	size_t		 nadmin_groups;
	char		**readonly_groups;
	size_t		 nreadonly_groups;
	char		*pidfile;		/* "" = none */

	/* logging, metrics */
	enum log_level	 log_level;
	char		*log_target;
	long		 metrics_interval_ms;
};
/* -1 with "file:line: key: message" in cause. Never prints a secret. */
int	 config_load(const char *path, struct fb_config *, char *, size_t);
/*
 * The master's load: also *snapfd, a sealed memfd (CLOEXEC) holding the
 * bytes of the configuration and of every secret file it read.  A bee
 * loads from that (config_load_fd), not from the files, so that it runs
 * what the master loaded last, whatever the files hold now.
 */
int	 config_load_snapshot(const char *path, struct fb_config *, int *snapfd,
	    char *, size_t);
int	 config_load_fd(const char *path, int snapfd, struct fb_config *,
	    char *, size_t);
void	 config_free(struct fb_config *);
/* The executor key of a slot (derived from the seed or from the list). */
int	 config_executor_key(const struct fb_config *, unsigned int slot,
	    struct crypto_key *, char *, size_t);
/* Which changes need bees to be replaced on reload. */
int	 config_bee_settings_differ(const struct fb_config *,
	    const struct fb_config *);
/* Key table access, for the docs check and fbeectl. */
size_t	 config_nkeys(void);
const char *config_key_name(size_t);

/* metrics.c: latency histograms and msgpack helpers shared by both sides. */
#define METRICS_NBUCKETS	24	/* 2^i microseconds, i = 0..23 */
struct metrics_hist {
	uint64_t	buckets[METRICS_NBUCKETS];
	uint64_t	count;
	uint64_t	sum_us;
};
void	 metrics_hist_add(struct metrics_hist *, uint64_t us);
void	 metrics_hist_merge(struct metrics_hist *, const struct metrics_hist *);
uint64_t metrics_hist_quantile(const struct metrics_hist *, double);
long	 metrics_rss_kb(pid_t);

/* oneshot.c: --migrate, --apply and --prune; each returns an exit status. */
int	 oneshot_migrate(const struct fb_config *);
int	 oneshot_apply(const struct fb_config *, const char *file, int dry_run,
	    const char *sighdr);
int	 oneshot_prune(const struct fb_config *);

/* registrar.c: financebeed --register SLOT (a child of the master). */
int	 registrar_main(const struct fb_config *, unsigned int slot);

/* master.c: the supervisor.  Returns the daemon's exit status. */
int	 master_main(const char *cfgpath, struct fb_config *, int cfgfd,
	    int foreground);
/* Called by admin.c, in the master's event loop. */
json_t	*master_status(void);		/* see fbeectl(8) for the schema */
json_t	*master_executors(void);
char	*master_metrics_text(void);	/* Prometheus text exposition */
int	 master_scale(char op, unsigned long n, char *, size_t); /* op '=', '+', '-' */
void	 master_stop(int fast);
void	 master_pause(int pause);
/* Reload; done() runs once with ok=1, or ok=0 and "file:line: ..." */
void	 master_reload(void (*done)(int ok, const char *cause, void *), void *);

/* proc.c: fork/exec of bees and helper children, fd and signal hygiene. */
int	 proc_init(char *, size_t);
const char *proc_exe(void);
pid_t	 proc_spawn(char *const argv[], int *chanfd, int statusfd,
	    int cfgfd, char *, size_t);
struct fbee_shm;
struct fbee_shm *proc_shm_create(int *, char *, size_t);
void	 proc_shm_free(struct fbee_shm *);
void	 proc_status_str(int, char *, size_t);

/* bee.c: one worker.  Returns its exit status (see FB_EX_*). */
int	 bee_main(const char *cfgpath, unsigned int slot, unsigned int generation,
	    int chanfd, int statusfd, int cfgfd);

/* admin.c: the admin socket, served from the master's event loop. */
struct event_base;
int	 admin_open(struct event_base *, const struct fb_config *, char *,
	    size_t);
void	 admin_close(void);
/* Optional, after a successful reload: re-resolve admin.groups and
 * admin.readonly_groups (socket path and mode change only on restart). */
int	 admin_set_groups(const struct fb_config *, char *, size_t);

#endif /* FINANCEBEE_H */
