/*
 * financebeed.h: the daemon's program header: every subsystem's exported
 * prototypes, grouped by the file that defines them.
 */
#ifndef FINANCEBEED_H
#define FINANCEBEED_H

#include "common.h"
#include "colonies.h"

#define FB_SCHEMA_VERSION	7	/* sql/NNN_*.sql this binary expects */

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
int	 stripe_normalize(const struct fbj *event, const struct fb_config *,
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
	/* > 0: when our intake received it; the signature is judged then. */
	int64_t		 received;
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
/*
 * The intake's check of a webhook body and its Stripe-Signature header
 * (sighdr may be NULL): signature, strict JSON, envelope, then
 * stripe_normalize() into change.  Bad signature or bad event (not JSON,
 * not an event envelope) are the client's fault; UNNORMALISED is an event
 * a bee would close failed, which the intake still submits so that the
 * failure is recorded in ColonyOS.
 */
enum guardian_verdict {
	GUARDIAN_OK = 0,
	GUARDIAN_BAD_SIGNATURE,
	GUARDIAN_BAD_EVENT,
	GUARDIAN_UNNORMALISED
};
enum guardian_verdict guardian_check_webhook(const struct fb_config *,
	    const char *body, size_t len, const char *sighdr, int64_t now,
	    struct fb_change *, char *, size_t);
#define GUARDIAN_KWARG_RECEIVED	"fb_received_us"	/* intake: Unix us */
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
/*
 * net.c: getaddrinfo() for host:port, giving up at deadline (clock_now_ms()
 * time; budget_ms is what the cause names) or when abort_cb(abort_arg) !=
 * 0 (polled ~1/s): 0 and *res for freeaddrinfo(), or -1 and a cause
 * ("resolve HOST: no answer within N ms", "request aborted", the
 * resolver's error).  For the database host (libcurl has its own).
 */
struct addrinfo;
int	 net_resolve(const char *host, const char *port, int64_t deadline,
	    long budget_ms, int (*abort_cb)(void *), void *abort_arg,
	    struct addrinfo **res, char *cause, size_t causelen);

struct store;
struct store	*store_open(const struct fb_config *, char *, size_t);
struct store	*store_new(const struct fb_config *, char *, size_t);
void		 store_free(struct store *);
/* 0 if the schema is the one this binary was built for, else -1 + cause. */
int		 store_check_schema(struct store *, char *, size_t);
int		 store_schema_version(struct store *, int *, char *, size_t);
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
int		 store_backend_pid(const struct store *);
/* "SELECT 1", reconnecting first if needed: 0, or -1 + cause. */
int		 store_ping(struct store *, char *, size_t);

/* task.c: exactly what a bee does with one task (guardian + apply). */
struct task_result {
	enum store_outcome	 outcome;
	char			 event_id[256];
	char			 type[129];	/* the event type, or "" */
	int64_t			 created;	/* the event's, s; 0 unknown */
	int			 rejected;	/* by the guardian */
	char			 reason[FB_CAUSE_MAX];
	json_t			*detail;	/* what changed: dry runs only */
	unsigned int		 attempts;	/* store_apply calls made */
};
/* The guardian's half, no database: the document text, or NULL + r. */
const char *task_check(const struct fb_config *,
	    const struct guardian_input *, struct task_result *);
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
	char		*executor_prefix;	/* "<prefix>-<host>" once loaded */
	char		*executor_host;		/* "" = none */
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
	char		*colonies_proxy;	/* "": the environment's */
	char		*colonies_ca_file;
	char		*colonies_ca_path;
	char		*colonies_tls_cert_file;
	char		*colonies_tls_key_file;	/* a secret file (mode checked) */

	/* database */
	char		*conninfo;		/* secret: may hold a password */
	long		 db_connect_timeout;	/* s */
	long		 db_statement_timeout_ms;
	int		 db_transaction_pooling; /* no session state */

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

	/* intake (intake.c) */
	int		 intake_enabled;
	unsigned int	 intake_processes;
	char		**intake_listen;	/* host:port, [v6]:port, /path */
	size_t		 nintake_listen;
	char		*intake_path;
	char		*intake_health_path;
	size_t		 intake_max_body;
	long		 intake_read_timeout_ms;
	long		 intake_submit_timeout_ms;
	int		 intake_retry_after;	/* s */
	char		*intake_executor_type;	/* "" = executor_type */
	int		 intake_maxexectime;	/* 0 = lease */
	int		 intake_maxretries;
	int		 intake_priority;
	int		 intake_ack_ignored;
	char		*intake_key;		/* secret: the submitter's key */
	char		*intake_name;		/* its executor name */
	char		*intake_submitter_type;	/* its executor type */
	char		*metrics_listen;	/* "" = no HTTP exporter */
	long		 stats_interval_ms;	/* 0 = no stats line */

	/* debug */
	int		 dumpable;	/* allow core dumps (and ptrace) */

	int		 secured;	/* secrets moved to secret_alloc() */
	long		 queue_interval_ms;	/* 0 = no queue depth */
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
/* The ColonyOS transport options of a configuration (strings borrowed). */
void	 config_http_opts(const struct fb_config *, struct http_opts *);
/* Which changes need bees to be replaced on reload. */
int	 config_bee_settings_differ(const struct fb_config *,
	    const struct fb_config *);
/* "host:port" or "[v6]:port" into its parts; -1 if malformed. */
int	 config_hostport(const char *, char *, size_t, unsigned short *);
/* Key table access, for the docs check and fbeectl. */
size_t	 config_nkeys(void);
const char *config_key_name(size_t);

/* metrics.c: latency histograms and msgpack helpers shared by both sides. */
/*
 * Log-spaced microsecond buckets, four to an octave: upper bounds 1, 2, 3,
 * 4, then 2^k * 5/4, 6/4, 7/4, 8/4 for k = 2..24 (5 us .. 33.5 s); the last
 * bucket is open.  A quantile is exact to within a quarter octave.
 */
#define METRICS_NBUCKETS	97
struct metrics_hist {
	uint64_t	buckets[METRICS_NBUCKETS];
	uint64_t	count;
	uint64_t	sum_us;
};
void	 metrics_hist_add(struct metrics_hist *, uint64_t us);
void	 metrics_hist_merge(struct metrics_hist *, const struct metrics_hist *);
uint64_t metrics_hist_quantile(const struct metrics_hist *, double);
uint64_t metrics_hist_bound(unsigned int);	/* bucket i's upper bound, us */
long	 metrics_rss_kb(pid_t);

/* listen.c: the intake's listening sockets. */
#define LISTEN_MAXFDS	16
struct listen_addr {
	int	 family;	/* AF_UNSPEC (a name), AF_INET6, AF_UNIX */
	char	 host[256];	/* "*" = every address */
	char	 port[8];
	char	 path[108];
};
int	 listen_parse(const char *, struct listen_addr *, char *, size_t);
/* Listening sockets (CLOEXEC, non-blocking) for every address. */
int	 listen_open(char *const *, size_t, int reuseport, int *fds,
	    size_t maxfds, size_t *nfds, char *, size_t);

/*
 * intake.c: financebeed --intake N, a webhook intake process (a child of
 * the master, like a bee).  lfds: its inherited listening sockets, or
 * none to open its own.  Returns its exit status.
 */
enum intake_result {		/* requests, by reply */
	INTAKE_R_SUBMITTED = 0,	/* 200: ColonyOS holds the process */
	INTAKE_R_IGNORED,	/* 200: acknowledged without a submission */
	INTAKE_R_BADREQ,	/* 400 */
	INTAKE_R_NOTFOUND,	/* 404 */
	INTAKE_R_METHOD,	/* 405 */
	INTAKE_R_TOOBIG,	/* 413 */
	INTAKE_R_UNAVAILABLE,	/* 503 */
	INTAKE_R_ERROR,		/* 500 */
	INTAKE_R_MAX
};
struct intake_counters {
	uint64_t		results[INTAKE_R_MAX];
	uint64_t		submit_errors;
	struct metrics_hist	submit_hist;	/* ColonyOS submit, us */
};
const char *intake_result_str(int);
int	 intake_main(const char *cfgpath, unsigned int slot,
	    unsigned int generation, int chanfd, int statusfd, int cfgfd,
	    const int *lfds, size_t nlfds);

/* oneshot.c: --migrate, --apply and --prune; each returns an exit status. */
int	 oneshot_migrate(const struct fb_config *);
int	 oneshot_apply(const struct fb_config *, const char *file, int dry_run,
	    const char *sighdr);
int	 oneshot_prune(const struct fb_config *);

/* registrar.c: financebeed --register SLOT (a child of the master). */
int	 registrar_main(const struct fb_config *, unsigned int slot);
/* settle.c: financebeed --settle SLOT --process ID (a child of the master). */
int	 settle_main(const struct fb_config *, unsigned int slot,
	    const char *processid, int retries, int outcome);

/* financebeed.c: PR_SET_DUMPABLE (and RLIMIT_CORE 0 when off). */
void	 financebeed_dumpable(int);

/* queue.c: financebeed --queue-depth (a child of the master). */
int	 queue_main(const struct fb_config *, int chanfd);

/* master.c: the supervisor.  Returns the daemon's exit status. */
int	 master_main(const char *cfgpath, struct fb_config *, int cfgfd,
	    int foreground);
int	 master_scale(char op, unsigned long n, char *, size_t); /* op '=', '+', '-' */
int	 master_intake_scale(char op, unsigned long n, char *, size_t);
void	 master_stop(int fast);
void	 master_pause(int pause);

/* notify.c: sd_notify(3) without libsystemd; no-ops without NOTIFY_SOCKET. */
int	 notify_init(char *, size_t);
uint64_t notify_watchdog_usec(void);
void	 notify_send(const char *, ...)
	    __attribute__((__format__(__printf__, 1, 2)));
void	 notify_close(void);

/* reload.c: reload; done() runs once with ok=1, or ok=0 and "file:line: ..." */
void	 reload_request(void (*done)(int ok, const char *cause, void *), void *);

/* report.c: for the admin commands. */
json_t	*report_status(void);		/* see fbeectl(8) for the schema */
json_t	*report_executors(void);
char	*report_metrics_text(void);	/* Prometheus text exposition */
void	 report_stats_line(char *, size_t);	/* the periodic log line */

/* promhttp.c: GET /metrics over HTTP (metrics.listen). */
struct event_base;
int	 promhttp_open(struct event_base *, const struct fb_config *, char *,
	    size_t);
void	 promhttp_close(void);

/* control.c: the admin commands; opens the admin socket with them. */
int	 control_open(struct event_base *, const struct fb_config *, char *,
	    size_t);

/* proc.c: fork/exec of bees and helper children, fd and signal hygiene. */
int	 proc_init(char *, size_t);
const char *proc_exe(void);
pid_t	 proc_spawn(char *const argv[], int *chanfd, int statusfd,
	    int cfgfd, char *, size_t);
#define PROC_LISTENFD	6	/* an intake's first listening socket */
pid_t	 proc_spawn_fds(char *const argv[], int *chanfd, int statusfd,
	    int cfgfd, const int *lfds, size_t nlfds, char *, size_t);
struct fbee_shm;
struct fbee_shm *proc_shm_create(int *, char *, size_t);
void	 proc_shm_free(struct fbee_shm *);
void	 proc_status_str(int, char *, size_t);
char	**proc_title_init(int, char *[]);
void	 proc_title(const char *, ...)
	    __attribute__((__format__(__printf__, 1, 2)));

/* bee.c: one worker.  Returns its exit status (see FB_EX_*). */
int	 bee_main(const char *cfgpath, unsigned int slot, unsigned int generation,
	    int chanfd, int statusfd, int cfgfd);

/* admin.c: the admin socket (peers, framing), served from the master's loop. */
struct admin_client;
struct admin_cmd {
	const char	*name;
	int		 readonly;
	int		 minargs;	/* words after the command */
	int		 maxargs;
	const char	*usage;
	void		(*fn)(struct admin_client *, int, char **);
};
int	 admin_open(struct event_base *, const struct fb_config *,
	    const struct admin_cmd *, size_t, char *, size_t);
void	 admin_close(void);
/* Optional, after a successful reload: re-resolve admin.groups and
 * admin.readonly_groups (socket path and mode change only on restart). */
int	 admin_set_groups(const struct fb_config *, char *, size_t);
void	 admin_reply_text(struct admin_client *, const char *);
void	 admin_replyf(struct admin_client *, const char *status,
	    const char *, ...) __attribute__((__format__(__printf__, 3, 4)));
void	 admin_reply_json(struct admin_client *, json_t *);	/* takes it */
uid_t	 admin_client_uid(const struct admin_client *);
unsigned long admin_hold(struct admin_client *);
struct admin_client *admin_held(unsigned long);
void	 admin_release(struct admin_client *);
int	 admin_defer(void (*)(int, short, void *), void *);

#endif /* FINANCEBEED_H */
