/*
 * config.c: financebee.conf(5).  One table of keys (config_keys[]) drives
 * the defaults, the type and range checks, the rejection of unknown keys,
 * the reload comparison and the documentation check.  A load fills a fresh
 * struct fb_config; on any error the struct is left zeroed, so a reload
 * can parse into a new struct and swap only on success.
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <ctype.h>
#include <grp.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libconfig.h>
#include <libpq-fe.h>

#include "financebeed.h"

enum config_type {
	CONFIG_BOOL,
	CONFIG_INT,
	CONFIG_SECONDS,		/* int or float seconds, stored * scale */
	CONFIG_STRING,
	CONFIG_LIST,		/* list of strings */
	CONFIG_MODE,		/* octal string, "0660" */
	CONFIG_ENUM,
	CONFIG_PRICES		/* ( { price = ""; tier = ""; }, ... ) */
};

#define CONFIG_BEE	0x01	/* a running bee uses it: replace bees */
#define CONFIG_SECRET	0x02	/* path of a secret file, read at load */
#define CONFIG_ABSPATH	0x04	/* empty or an absolute path */
#define CONFIG_NONEMPTY	0x08	/* string or list must not be empty */
#define CONFIG_UNIQUE	0x10	/* list entries must differ */

#define NOFIELD		((size_t)-1)
#define FIELD(f)	offsetof(struct fb_config, f), \
			sizeof(((struct fb_config *)NULL)->f)
#define COUNT(f)	offsetof(struct fb_config, f)

struct config_key {
	const char		*name;
	enum config_type	 type;
	int			 flags;
	const char		*def;	/* as text; lists comma-separated */
	double			 min;	/* INT, SECONDS (in seconds), MODE */
	double			 max;
	long			 scale;	/* SECONDS: stored = seconds * scale */
	size_t			 off;	/* in struct fb_config, or NOFIELD */
	size_t			 size;
	size_t			 countoff; /* LIST, PRICES */
	const char *const	*values;   /* ENUM */
};

static const char *const config_log_levels[] = {	/* enum log_level */
	"error", "warn", "info", "debug", NULL
};

/* Stripe subscription statuses (stripe-semantics.md). */
static const char *const config_statuses[] = {
	"incomplete", "incomplete_expired", "trialing", "active", "past_due",
	"canceled", "unpaid", "paused", NULL
};

#define K_BOOL(n, fl, d, f) \
	{ n, CONFIG_BOOL, fl, d, 0, 1, 1, FIELD(f), 0, NULL }
#define K_INT(n, fl, d, lo, hi, f) \
	{ n, CONFIG_INT, fl, d, lo, hi, 1, FIELD(f), 0, NULL }
#define K_SECS(n, fl, d, lo, hi, f) \
	{ n, CONFIG_SECONDS, fl, d, lo, hi, 1000, FIELD(f), 0, NULL }
#define K_STR(n, fl, d, f) \
	{ n, CONFIG_STRING, fl, d, 0, 0, 0, FIELD(f), 0, NULL }
#define K_FILE(n, fl) \
	{ n, CONFIG_STRING, (fl) | CONFIG_SECRET | CONFIG_ABSPATH, "", 0, 0, \
	    0, NOFIELD, 0, 0, NULL }
#define K_LIST(n, fl, d, f, c) \
	{ n, CONFIG_LIST, fl, d, 0, 0, 0, FIELD(f), COUNT(c), NULL }

static const struct config_key config_keys[] = {
	K_INT("bees", 0, "4", 1, 256, bees),
	K_STR("pidfile", CONFIG_ABSPATH, "", pidfile),

	K_STR("colonies.url", CONFIG_BEE | CONFIG_NONEMPTY,
	    "http://127.0.0.1:50080/api", colonies_url),
	K_STR("colonies.colony", CONFIG_BEE | CONFIG_NONEMPTY, "financebee",
	    colony),
	K_STR("colonies.executor_type", CONFIG_BEE | CONFIG_NONEMPTY,
	    "financebee", executor_type),
	K_STR("colonies.executor_prefix", CONFIG_BEE | CONFIG_NONEMPTY,
	    "financebee", executor_prefix),
	K_STR("colonies.executor_host", CONFIG_BEE, "", executor_host),
	K_FILE("colonies.executor_seed_file", CONFIG_BEE),
	K_FILE("colonies.executor_keys_file", CONFIG_BEE),
	K_FILE("colonies.owner_key_file", 0),
	K_LIST("colonies.funcnames", CONFIG_BEE | CONFIG_NONEMPTY |
	    CONFIG_UNIQUE, "validate_revenue", funcnames, nfuncnames),
	K_INT("colonies.poll_timeout", CONFIG_BEE, "10", 1, 600, poll_timeout),
	K_SECS("colonies.connect_timeout", CONFIG_BEE, "5", 0.1, 600,
	    http_connect_timeout_ms),
	K_SECS("colonies.request_timeout", CONFIG_BEE, "15", 0.1, 3600,
	    http_timeout_ms),
	K_INT("colonies.lease", CONFIG_BEE, "30", 1, 86400, lease),
	K_STR("colonies.proxy", CONFIG_BEE, "", colonies_proxy),
	K_STR("colonies.ca_file", CONFIG_BEE | CONFIG_ABSPATH, "",
	    colonies_ca_file),
	K_STR("colonies.ca_path", CONFIG_BEE | CONFIG_ABSPATH, "",
	    colonies_ca_path),
	K_STR("colonies.tls_cert_file", CONFIG_BEE | CONFIG_ABSPATH, "",
	    colonies_tls_cert_file),
	K_STR("colonies.tls_key_file", CONFIG_BEE | CONFIG_ABSPATH, "",
	    colonies_tls_key_file),

	K_STR("database.conninfo", CONFIG_BEE, "", conninfo),
	K_FILE("database.conninfo_file", CONFIG_BEE),
	K_INT("database.connect_timeout", CONFIG_BEE, "5", 1, 600,
	    db_connect_timeout),
	K_SECS("database.statement_timeout", CONFIG_BEE, "5", 0.001, 3600,
	    db_statement_timeout_ms),
	K_BOOL("database.transaction_pooling", CONFIG_BEE, "false",
	    db_transaction_pooling),
	K_INT("database.prune_age", 0, "35", 1, 36500, prune_age_days),
	K_SECS("database.prune_interval", 0, "3600", 0, 2592000,
	    prune_interval_ms),

	K_BOOL("stripe.livemode", CONFIG_BEE, "false", livemode),
	K_LIST("stripe.webhook_secrets", CONFIG_BEE | CONFIG_UNIQUE, "",
	    webhook_secrets, nwebhook_secrets),
	K_INT("stripe.signature_tolerance", CONFIG_BEE, "300", 1, 86400,
	    signature_tolerance),
	K_LIST("stripe.tiers", CONFIG_BEE | CONFIG_NONEMPTY | CONFIG_UNIQUE,
	    "bronze,silver,gold", tiers, ntiers),
	{ "stripe.prices", CONFIG_PRICES, CONFIG_BEE, "", 0, 0, 0,
	    FIELD(prices), COUNT(nprices), NULL },
	{ "stripe.premium_statuses", CONFIG_LIST, CONFIG_BEE |
	    CONFIG_NONEMPTY | CONFIG_UNIQUE, "active,trialing", 0, 0, 0,
	    FIELD(premium_statuses), COUNT(npremium_statuses),
	    config_statuses },

	K_INT("guardian.max_payload", CONFIG_BEE, "1048576", 1024, 67108864,
	    max_payload),
	K_INT("guardian.max_depth", CONFIG_BEE, "64", 4, 4096, max_depth),

	K_SECS("supervision.respawn_min", 0, "0.5", 0.01, 3600,
	    respawn_min_ms),
	K_SECS("supervision.respawn_max", 0, "30", 0.01, 86400,
	    respawn_max_ms),
	K_SECS("supervision.healthy_after", 0, "30", 0, 86400,
	    healthy_after_ms),
	K_SECS("supervision.crash_window", 0, "60", 1, 86400,
	    crash_window_ms),
	K_INT("supervision.crash_limit", 0, "5", 1, 10000, crash_limit),
	K_SECS("supervision.shutdown_timeout", 0, "30", 1, 3600,
	    shutdown_timeout_ms),
	K_SECS("supervision.task_timeout", CONFIG_BEE, "20", 0.1, 86400,
	    task_timeout_ms),
	K_SECS("supervision.heartbeat_timeout", 0, "15", 0.1, 3600,
	    heartbeat_timeout_ms),
	K_INT("supervision.tasks_per_bee", CONFIG_BEE, "0", 0, 1000000000,
	    tasks_per_bee),

	K_STR("admin.socket", CONFIG_ABSPATH | CONFIG_NONEMPTY,
	    "/run/financebee/financebeed.sock", admin_path),
	{ "admin.mode", CONFIG_MODE, 0, "0660", 0, 0777, 0, FIELD(admin_mode),
	    0, NULL },
	K_LIST("admin.groups", CONFIG_UNIQUE, "", admin_groups,
	    nadmin_groups),
	K_LIST("admin.readonly_groups", CONFIG_UNIQUE, "", readonly_groups,
	    nreadonly_groups),

	{ "log.level", CONFIG_ENUM, CONFIG_BEE, "info", 0, 0, 0,
	    FIELD(log_level), 0, config_log_levels },
	K_STR("log.target", CONFIG_BEE | CONFIG_NONEMPTY, "stderr",
	    log_target),

	K_SECS("metrics.interval", CONFIG_BEE, "1", 0.05, 60,
	    metrics_interval_ms),

	/* intake.c: the webhook intake processes (CONFIG_BEE: replaced too). */
	K_BOOL("intake.enabled", 0, "false", intake_enabled),
	K_INT("intake.processes", 0, "2", 1, 64, intake_processes),
	K_LIST("intake.listen", CONFIG_NONEMPTY | CONFIG_UNIQUE,
	    "127.0.0.1:8081", intake_listen, nintake_listen),
	K_STR("intake.path", CONFIG_BEE | CONFIG_NONEMPTY,
	    "/api/stripe-webhook", intake_path),
	K_STR("intake.health_path", CONFIG_BEE | CONFIG_NONEMPTY, "/healthz",
	    intake_health_path),
	K_INT("intake.max_body", CONFIG_BEE, "1048576", 1024, 67108864,
	    intake_max_body),
	K_SECS("intake.read_timeout", CONFIG_BEE, "10", 0.1, 3600,
	    intake_read_timeout_ms),
	K_SECS("intake.submit_timeout", CONFIG_BEE, "5", 0.1, 600,
	    intake_submit_timeout_ms),
	K_INT("intake.retry_after", CONFIG_BEE, "5", 1, 3600,
	    intake_retry_after),
	K_STR("intake.executor_type", CONFIG_BEE, "", intake_executor_type),
	K_INT("intake.maxexectime", CONFIG_BEE, "0", -1, 86400,
	    intake_maxexectime),
	K_INT("intake.maxretries", CONFIG_BEE, "3", -1, 1000000,
	    intake_maxretries),
	K_INT("intake.priority", CONFIG_BEE, "0", -50000, 50000,
	    intake_priority),
	K_BOOL("intake.ack_ignored", CONFIG_BEE, "true", intake_ack_ignored),
	K_FILE("intake.key_file", CONFIG_BEE),
	K_STR("intake.name", CONFIG_BEE | CONFIG_NONEMPTY, "financebee-intake",
	    intake_name),
	K_STR("intake.submitter_type", CONFIG_BEE | CONFIG_NONEMPTY,
	    "financebee-submitter", intake_submitter_type),
	K_STR("metrics.listen", 0, "", metrics_listen),
	K_SECS("metrics.stats_interval", 0, "0", 0, 86400, stats_interval_ms),

	K_BOOL("debug.dumpable", CONFIG_BEE, "false", dumpable),
	K_SECS("metrics.queue_interval", 0, "10", 0, 86400, queue_interval_ms),
};
#define CONFIG_NKEYS	(sizeof(config_keys) / sizeof(config_keys[0]))

/* The groups keys live in: any other group or top-level name is unknown. */
static const char *const config_groups[] = {
	"colonies", "database", "stripe", "guardian", "supervision", "admin",
	"log", "metrics", "debug", "intake", NULL
};

#define CONFIG_SECRET_MAX	65536

/*
 * The files one load read: the configuration first, then each secret
 * file, as bytes with their mode.  The master keeps the snapshot of its
 * last good load in a sealed memfd and hands it to every bee it spawns,
 * so that a bee (re)started between two reloads runs the configuration
 * the master runs, not whatever the files hold now.
 */
struct config_file {
	char		*path;
	mode_t		 mode;
	char		*data;		/* NUL-terminated; NULL: not regular */
	size_t		 len;
};
struct config_snap {
	struct config_file	*f;
	size_t			 n;
};

#define CONFIG_FILE_MAX		(4 * 1024 * 1024)
#define CONFIG_SNAP_MAGIC	"financebee-config-snapshot-1\n"

struct config_ctx {
	const char		*path;
	config_t		 lc;
	struct fb_config	*cfg;
	char			*cause;
	size_t			 causelen;
	config_setting_t	*set[CONFIG_NKEYS];	/* NULL: default */
	const char		*str[CONFIG_NKEYS];	/* STRING values */
	struct config_snap	 snap;	/* what was read, or given */
};

static void	config_error(struct config_ctx *, const config_setting_t *,
		    const char *, const char *, ...)
		    __attribute__((__format__(__printf__, 4, 5)));

size_t
config_nkeys(void)
{
	return CONFIG_NKEYS;
}

const char *
config_key_name(size_t i)
{
	if (i >= CONFIG_NKEYS)
		return NULL;
	return config_keys[i].name;
}

static ssize_t
config_find(const char *name)
{
	size_t	i;

	for (i = 0; i < CONFIG_NKEYS; i++)
		if (strcmp(config_keys[i].name, name) == 0)
			return (ssize_t)i;
	return -1;
}

static size_t
config_index(const char *name)
{
	ssize_t	i;

	if ((i = config_find(name)) == -1)
		fatalx("config: no key %s", name);
	return (size_t)i;
}

/* "file:line: key: message", or "file: key: message" for a default. */
static void
config_error(struct config_ctx *ctx, const config_setting_t *s,
    const char *key, const char *fmt, ...)
{
	va_list		 ap;
	char		 msg[FB_CAUSE_MAX];
	const char	*file = ctx->path;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (s != NULL && config_setting_source_file(s) != NULL)
		file = config_setting_source_file(s);
	if (s != NULL && config_setting_source_line(s) != 0)
		snprintf(ctx->cause, ctx->causelen, "%s:%u: %s: %s", file,
		    config_setting_source_line(s), key, msg);
	else
		snprintf(ctx->cause, ctx->causelen, "%s: %s: %s", file, key,
		    msg);
}

static void *
config_field(struct fb_config *cfg, const struct config_key *k)
{
	return (char *)cfg + k->off;
}

static size_t *
config_count(struct fb_config *cfg, const struct config_key *k)
{
	return (size_t *)(void *)((char *)cfg + k->countoff);
}

static void
config_store_int(void *p, size_t size, long long v)
{
	int16_t	v16;
	int32_t	v32;
	int64_t	v64;

	switch (size) {
	case sizeof(v16):
		v16 = (int16_t)v;
		memcpy(p, &v16, size);
		break;
	case sizeof(v32):
		v32 = (int32_t)v;
		memcpy(p, &v32, size);
		break;
	case sizeof(v64):
		v64 = (int64_t)v;
		memcpy(p, &v64, size);
		break;
	default:
		fatalx("config: field of size %zu", size);
	}
}

static char *
config_strdup(const char *s)
{
	char	*p;

	if ((p = strdup(s)) == NULL)
		fatal("strdup");
	return p;
}

static void
config_free_str(char *s)
{
	if (s != NULL) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

static void
config_free_list(char **v, size_t n)
{
	size_t	i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++)
		config_free_str(v[i]);
	free(v);
}

/* 64 hex characters: a secp256k1 key or a seed. */
static int
config_is_hex64(const char *s, size_t len)
{
	unsigned char	b[32];
	int		ok;

	ok = len == 64 && crypto_unhex(s, len, b, sizeof b) == 32;
	explicit_bzero(b, sizeof b);
	return ok;
}

/*
 * The seed in a seed file: 64 hex characters alone, or the output of
 * "fbeectl key generate" ("private-key HEX" then "id ID"), whose private
 * key serves as the seed.  Returns the hex digits, *len set to 64.
 */
static const char *
config_seed_hex(const char *buf, size_t *len)
{
	const char	*s = buf, *e;

	if (config_is_hex64(buf, *len))
		return buf;
	if (strncmp(s, "private-key", 11) != 0 || (s[11] != ' ' &&
	    s[11] != '\t'))
		return NULL;
	s += 11 + strspn(s + 11, " \t");
	e = s + strcspn(s, " \t\r\n");
	if (!config_is_hex64(s, (size_t)(e - s)))
		return NULL;
	/* Only "id ..." may follow, on the next line. */
	e += strspn(e, " \t\r");
	if (*e == '\n' && strncmp(e + 1, "id ", 3) == 0 &&
	    strchr(e + 1, '\n') == NULL)
		e = e + strlen(e);
	if (*e != '\0')
		return NULL;
	*len = 64;
	return s;
}

/* Defaults of list keys are comma-separated in the table. */
static char **
config_split(const char *def, size_t *n)
{
	char		**v;
	const char	 *p, *e;
	size_t		  i = 0, cnt = 0;

	if (*def != '\0')
		for (cnt = 1, p = def; *p != '\0'; p++)
			cnt += (*p == ',');
	if ((v = calloc(cnt + 1, sizeof(*v))) == NULL)
		fatal("calloc");
	for (p = def; i < cnt; p = e + 1) {
		if ((e = strchr(p, ',')) == NULL)
			e = p + strlen(p);
		if ((v[i++] = strndup(p, (size_t)(e - p))) == NULL)
			fatal("strndup");
	}
	*n = cnt;
	return v;
}

/*
 * Duplicates in a list of n strings, in O(n log n): a sorted index of
 * (string, position).  Returns 1 with *dup the first position whose string
 * appeared before, at *orig (what a scan from the top would find first),
 * else 0.  A list of 100,000 entries takes milliseconds, not the seconds a
 * pairwise scan would.
 */
struct config_sref {
	const char	*s;
	size_t		 i;
};

static int
config_sref_cmp(const void *a, const void *b)
{
	const struct config_sref	*x = a, *y = b;
	int				 c;

	if ((c = strcmp(x->s, y->s)) != 0)
		return c;
	return (x->i > y->i) - (x->i < y->i);
}

static struct config_sref *
config_sref_sorted(const char *const *v, size_t n, size_t stride)
{
	struct config_sref	*r;
	size_t			 i;

	if ((r = calloc(n + 1, sizeof(*r))) == NULL)
		fatal("calloc");
	for (i = 0; i < n; i++) {
		r[i].s = *(const char *const *)(const void *)
		    ((const char *)v + i * stride);
		r[i].i = i;
	}
	qsort(r, n, sizeof(*r), config_sref_cmp);
	return r;
}

/* v: n pointers to strings, stride bytes apart (a list, or a field). */
static int
config_first_dup(const char *const *v, size_t n, size_t stride, size_t *dup,
    size_t *orig)
{
	struct config_sref	*r;
	size_t			 i, g;
	int			 found = 0;

	if (n < 2)
		return 0;
	r = config_sref_sorted(v, n, stride);
	for (g = 0; g < n; g = i) {
		for (i = g + 1; i < n && strcmp(r[i].s, r[g].s) == 0; i++)
			;
		if (i - g > 1 && (!found || r[g + 1].i < *dup)) {
			*dup = r[g + 1].i;
			*orig = r[g].i;
			found = 1;
		}
	}
	free(r);
	return found;
}

/* In a sorted index of n entries? */
static int
config_sref_has(const struct config_sref *r, size_t n, const char *s)
{
	size_t	lo = 0, hi = n, mid;
	int	c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if ((c = strcmp(s, r[mid].s)) == 0)
			return 1;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return 0;
}

static int
config_in(const char *s, const char *const *values)
{
	for (; *values != NULL; values++)
		if (strcmp(s, *values) == 0)
			return 1;
	return 0;
}

static void
config_values_text(const char *const *values, char *buf, size_t len)
{
	size_t	n = 0;

	buf[0] = '\0';
	for (; *values != NULL && n < len; values++)
		n += (size_t)snprintf(buf + n, len - n, "%s%s",
		    n == 0 ? "" : ", ", *values);
}

static void
config_snap_free(struct config_snap *sn)
{
	size_t	i;

	for (i = 0; i < sn->n; i++) {
		if (sn->f[i].data != NULL) {
			explicit_bzero(sn->f[i].data, sn->f[i].len);
			free(sn->f[i].data);
		}
		free(sn->f[i].path);
	}
	free(sn->f);
	memset(sn, 0, sizeof(*sn));
}

/* Read a file from disk (not a regular one: its mode only). */
static int
config_disk_read(const char *path, size_t max, struct config_file *f,
    char *why, size_t whylen)
{
	struct stat	 st;
	ssize_t		 r;
	int		 fd;

	memset(f, 0, sizeof(*f));
	/* O_NONBLOCK: a FIFO named as a secret file must not hang us. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY |
	    O_NONBLOCK)) == -1 || fstat(fd, &st) == -1) {
		snprintf(why, whylen, "%s", strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	f->mode = st.st_mode;
	if (S_ISREG(st.st_mode)) {
		if ((f->data = malloc(max + 2)) == NULL)
			fatal("malloc");
		for (;;) {
			r = read(fd, f->data + f->len, max + 1 - f->len);
			if (r == -1 && errno == EINTR)
				continue;
			if (r == -1) {
				snprintf(why, whylen, "%s", strerror(errno));
				break;
			}
			if (r == 0 || (f->len += (size_t)r) > max)
				break;
		}
		if (r == -1 || f->len > max) {
			if (r != -1)
				snprintf(why, whylen, "larger than %zu bytes",
				    max);
			explicit_bzero(f->data, f->len);
			free(f->data);
			f->data = NULL;
			close(fd);
			return -1;
		}
		f->data[f->len] = '\0';
	}
	close(fd);
	if ((f->path = strdup(path)) == NULL)
		fatal("strdup");
	return 0;
}

/*
 * A file the load reads: from the snapshot when it is there (the first
 * entry is the configuration itself, whatever its path), else from disk,
 * then kept in the snapshot.  -1 with the reason in why.
 */
static const struct config_file *
config_get_file(struct config_ctx *ctx, const char *path, size_t max,
    char *why, size_t whylen)
{
	struct config_snap	*sn = &ctx->snap;
	struct config_file	 f, *nf;
	size_t			 i;

	if (path == ctx->path || strcmp(path, ctx->path) == 0) {
		if (sn->n > 0)
			return &sn->f[0];
	} else {
		for (i = 1; i < sn->n; i++)
			if (strcmp(sn->f[i].path, path) == 0)
				return &sn->f[i];
	}
	if (config_disk_read(path, max, &f, why, whylen) == -1)
		return NULL;
	if ((nf = reallocarray(sn->f, sn->n + 1, sizeof(*nf))) == NULL)
		fatal("realloc");
	sn->f = nf;
	sn->f[sn->n] = f;
	return &sn->f[sn->n++];
}

/* The snapshot as the bytes of a sealed memfd; -1 on failure. */
static int
config_snap_fd(const struct config_snap *sn, char *cause, size_t causelen)
{
	uint64_t	 hdr[3];
	size_t		 i;
	int		 fd;

	if ((fd = memfd_create("financebee-config", MFD_CLOEXEC |
	    MFD_ALLOW_SEALING)) == -1) {
		snprintf(cause, causelen, "memfd_create: %s", strerror(errno));
		return -1;
	}
	if (write(fd, CONFIG_SNAP_MAGIC, strlen(CONFIG_SNAP_MAGIC)) == -1)
		goto fail;
	for (i = 0; i < sn->n; i++) {
		hdr[0] = strlen(sn->f[i].path);
		hdr[1] = sn->f[i].mode;
		hdr[2] = sn->f[i].data != NULL ? sn->f[i].len + 1 : 0;
		if (write(fd, hdr, sizeof(hdr)) != (ssize_t)sizeof(hdr) ||
		    write(fd, sn->f[i].path, hdr[0]) != (ssize_t)hdr[0] ||
		    (hdr[2] > 0 && write(fd, sn->f[i].data, hdr[2] - 1) !=
		    (ssize_t)(hdr[2] - 1)))
			goto fail;
	}
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
	    F_SEAL_WRITE | F_SEAL_SEAL) == -1)
		goto fail;
	return fd;
fail:
	snprintf(cause, causelen, "configuration snapshot: %s",
	    strerror(errno));
	close(fd);
	return -1;
}

/* The snapshot of a memfd from config_snap_fd(); -1 if it is not one. */
static int
config_snap_read(int fd, struct config_snap *sn, char *cause,
    size_t causelen)
{
	struct config_file	*nf;
	struct stat		 st;
	uint64_t		 hdr[3];
	char			*buf = NULL, *p, *end;
	size_t			 ml = strlen(CONFIG_SNAP_MAGIC);

	memset(sn, 0, sizeof(*sn));
	if (fstat(fd, &st) == -1 || st.st_size < (off_t)ml ||
	    st.st_size > 64 * CONFIG_FILE_MAX ||
	    (buf = malloc((size_t)st.st_size)) == NULL ||
	    pread(fd, buf, (size_t)st.st_size, 0) != st.st_size ||
	    memcmp(buf, CONFIG_SNAP_MAGIC, ml) != 0)
		goto bad;
	p = buf + ml;
	end = buf + st.st_size;
	while (p < end) {
		if ((size_t)(end - p) < sizeof(hdr))
			goto bad;
		memcpy(hdr, p, sizeof(hdr));
		p += sizeof(hdr);
		if (hdr[0] == 0 || hdr[0] > PATH_MAX ||
		    hdr[2] > CONFIG_FILE_MAX + 1 ||
		    (size_t)(end - p) < hdr[0] + (hdr[2] ? hdr[2] - 1 : 0))
			goto bad;
		if ((nf = reallocarray(sn->f, sn->n + 1, sizeof(*nf))) == NULL)
			fatal("realloc");
		sn->f = nf;
		nf = &sn->f[sn->n++];
		memset(nf, 0, sizeof(*nf));
		if ((nf->path = strndup(p, hdr[0])) == NULL)
			fatal("strndup");
		p += hdr[0];
		nf->mode = (mode_t)hdr[1];
		if (hdr[2] > 0) {
			nf->len = hdr[2] - 1;
			if ((nf->data = malloc(hdr[2])) == NULL)
				fatal("malloc");
			memcpy(nf->data, p, nf->len);
			nf->data[nf->len] = '\0';
			p += nf->len;
		}
	}
	if (sn->n == 0)
		goto bad;
	explicit_bzero(buf, (size_t)st.st_size);
	free(buf);
	return 0;
bad:
	snprintf(cause, causelen, "the configuration snapshot from the "
	    "master is unreadable");
	if (buf != NULL) {
		explicit_bzero(buf, (size_t)st.st_size);
		free(buf);
	}
	config_snap_free(sn);
	return -1;
}

/*
 * libconfig 1.5 keeps a 32-bit integer literal without its L suffix in an
 * int and silently wraps a larger one (4294967300 reads as 4).  Scan the
 * text for such literals before they can pass a range check.
 */
static int
config_check_ints(struct config_ctx *ctx, const char *file)
{
	FILE		*f;
	char		 tok[64];
	long long	 v;
	unsigned int	 line = 1;
	size_t		 n;
	int		 c, prev = ' ', state = 0, hex, isfloat, rc = 0;

	const struct config_file	*cf;
	char				 why[128];

	/* The bytes libconfig parsed (an @include'd file: as it is now). */
	if ((cf = config_get_file(ctx, file, CONFIG_FILE_MAX, why,
	    sizeof(why))) == NULL || cf->data == NULL || cf->len == 0 ||
	    (f = fmemopen(cf->data, cf->len, "r")) == NULL)
		return 0;	/* libconfig read it: a race, not our error */
	while (rc == 0 && (c = getc(f)) != EOF) {
		if (c == '\n')
			line++;
		switch (state) {
		case 1:		/* string */
			if (c == '\\')
				(void)getc(f);
			else if (c == '"')
				state = 0;
			break;
		case 2:		/* line comment */
			if (c == '\n')
				state = 0;
			break;
		case 3:		/* block comment */
			if (c == '*') {
				if ((c = getc(f)) == '/')
					state = 0;
				else if (c != EOF) {
					ungetc(c, f);
					c = '*';
				}
			}
			break;
		default:
			if (c == '"')
				state = 1;
			else if (c == '#')
				state = 2;
			else if (c == '/') {
				if ((c = getc(f)) == '/')
					state = 2;
				else if (c == '*')
					state = 3;
				else {
					if (c != EOF)
						ungetc(c, f);
					c = '/';
				}
			} else if (isdigit(c) && !isalnum(prev) && prev != '_' &&
			    prev != '.') {
				n = 0;
				if (prev == '-')
					tok[n++] = '-';
				tok[n++] = (char)c;
				while ((c = getc(f)) != EOF && n < sizeof(tok) - 1 &&
				    (isalnum(c) || c == '.' || ((c == '+' ||
				    c == '-') && strchr("eE", tok[n - 1]) != NULL &&
				    strchr(tok, 'x') == NULL)))
					tok[n++] = (char)c;
				tok[n] = '\0';
				if (c != EOF)
					ungetc(c, f);
				c = tok[n - 1];
				hex = strchr(tok, 'x') != NULL ||
				    strchr(tok, 'X') != NULL;
				isfloat = !hex && strpbrk(tok, ".eE") != NULL;
				if (isfloat || c == 'L')
					break;
				errno = 0;
				v = strtoll(tok, NULL, hex ? 16 : 10);
				if (errno != 0 || (hex ? (v < 0 ||
				    v > 0xffffffffLL) : (v < INT32_MIN ||
				    v > INT32_MAX))) {
					snprintf(ctx->cause, ctx->causelen,
					    "%s:%u: integer %s does not fit in 32 "
					    "bits", file, line, tok);
					rc = -1;
				}
			}
			break;
		}
		prev = c;
	}
	fclose(f);
	return rc;
}

/*
 * Every setting must be a key of the table, inside one of the known groups.
 * Errors name the first unknown key with its line.
 */
static int
config_check_unknown(struct config_ctx *ctx)
{
	config_setting_t	*root, *s, *m;
	char			 name[256];
	int			 i, j, n, nm;

	root = config_root_setting(&ctx->lc);
	n = config_setting_length(root);
	for (i = 0; i < n; i++) {
		s = config_setting_get_elem(root, (unsigned int)i);
		if (config_find(config_setting_name(s)) != -1)
			continue;
		if (!config_in(config_setting_name(s), config_groups)) {
			config_error(ctx, s, config_setting_name(s),
			    "unknown key");
			return -1;
		}
		if (!config_setting_is_group(s)) {
			config_error(ctx, s, config_setting_name(s),
			    "must be a group: %s: { ... };",
			    config_setting_name(s));
			return -1;
		}
		nm = config_setting_length(s);
		for (j = 0; j < nm; j++) {
			m = config_setting_get_elem(s, (unsigned int)j);
			snprintf(name, sizeof(name), "%s.%s",
			    config_setting_name(s), config_setting_name(m));
			if (config_find(name) == -1) {
				config_error(ctx, m, name, "unknown key");
				return -1;
			}
		}
	}
	return 0;
}

static int
config_get_string(struct config_ctx *ctx, const config_setting_t *s,
    const char *name, const char **out)
{
	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		config_error(ctx, s, name, "must be a string");
		return -1;
	}
	*out = config_setting_get_string(s);
	return 0;
}

static int
config_parse_list(struct config_ctx *ctx, size_t ki)
{
	const struct config_key	*k = &config_keys[ki];
	config_setting_t	*s = ctx->set[ki], *e;
	char			**v, name[256], buf[256];
	const char		*str;
	size_t			 n, i, j;

	if (s == NULL)
		v = config_split(k->def, &n);
	else {
		if (!config_setting_is_aggregate(s) ||
		    config_setting_is_group(s)) {
			config_error(ctx, s, k->name,
			    "must be a list of strings: [ \"a\", \"b\" ]");
			return -1;
		}
		n = (size_t)config_setting_length(s);
		if ((v = calloc(n + 1, sizeof(*v))) == NULL)
			fatal("calloc");
		for (i = 0; i < n; i++) {
			e = config_setting_get_elem(s, (unsigned int)i);
			snprintf(name, sizeof(name), "%s[%zu]", k->name, i);
			if (config_get_string(ctx, e, name, &str) == -1) {
				config_free_list(v, i);
				return -1;
			}
			v[i] = config_strdup(str);
		}
	}
	*(char ***)config_field(ctx->cfg, k) = v;
	*config_count(ctx->cfg, k) = n;

	if ((k->flags & CONFIG_NONEMPTY) && n == 0) {
		config_error(ctx, s, k->name, "must not be empty");
		return -1;
	}
	for (i = 0; i < n; i++) {
		e = s != NULL ? config_setting_get_elem(s, (unsigned int)i) :
		    NULL;
		snprintf(name, sizeof(name), "%s[%zu]", k->name, i);
		if (v[i][0] == '\0') {
			config_error(ctx, e, name, "must not be empty");
			return -1;
		}
		if (k->values != NULL && !config_in(v[i], k->values)) {
			config_values_text(k->values, buf, sizeof(buf));
			config_error(ctx, e, name, "\"%s\" is not one of: %s",
			    v[i], buf);
			return -1;
		}
	}
	if ((k->flags & CONFIG_UNIQUE) && config_first_dup((const char *const *)
	    v, n, sizeof(*v), &i, &j)) {
		e = s != NULL ? config_setting_get_elem(s, (unsigned int)i) :
		    NULL;
		snprintf(name, sizeof(name), "%s[%zu]", k->name, i);
		/* Webhook secrets are never echoed, not even duplicated. */
		if (k->off == offsetof(struct fb_config, webhook_secrets))
			config_error(ctx, e, name, "duplicate of entry %zu", j);
		else
			config_error(ctx, e, name, "duplicate \"%s\"", v[i]);
		return -1;
	}
	return 0;
}

static int
config_parse_prices(struct config_ctx *ctx, size_t ki)
{
	const struct config_key	*k = &config_keys[ki];
	config_setting_t	*s = ctx->set[ki], *e, *m;
	struct fb_price_tier	*p;
	const char		*str;
	char			 name[256];
	size_t			 n, i, j;
	int			 nm;

	if (s == NULL)
		return 0;
	if (!config_setting_is_list(s) && !(config_setting_is_array(s) &&
	    config_setting_length(s) == 0)) {
		config_error(ctx, s, k->name, "must be a list of groups: "
		    "( { price = \"price_...\"; tier = \"...\"; }, ... )");
		return -1;
	}
	n = (size_t)config_setting_length(s);
	if ((p = calloc(n + 1, sizeof(*p))) == NULL)
		fatal("calloc");
	ctx->cfg->prices = p;
	for (i = 0; i < n; i++) {
		e = config_setting_get_elem(s, (unsigned int)i);
		ctx->cfg->nprices = i + 1;	/* config_free sees partial ones */
		snprintf(name, sizeof(name), "%s[%zu]", k->name, i);
		if (!config_setting_is_group(e)) {
			config_error(ctx, e, name, "must be a group: "
			    "{ price = \"price_...\"; tier = \"...\"; }");
			return -1;
		}
		nm = config_setting_length(e);
		for (j = 0; j < (size_t)nm; j++) {
			m = config_setting_get_elem(e, (unsigned int)j);
			if (strcmp(config_setting_name(m), "price") != 0 &&
			    strcmp(config_setting_name(m), "tier") != 0) {
				snprintf(name, sizeof(name), "%s[%zu].%s",
				    k->name, i, config_setting_name(m));
				config_error(ctx, m, name, "unknown key");
				return -1;
			}
		}
		for (j = 0; j < 2; j++) {
			const char *fld = j == 0 ? "price" : "tier";

			snprintf(name, sizeof(name), "%s[%zu].%s", k->name, i,
			    fld);
			if ((m = config_setting_get_member(e, fld)) == NULL) {
				config_error(ctx, e, name, "missing");
				return -1;
			}
			if (config_get_string(ctx, m, name, &str) == -1)
				return -1;
			if (*str == '\0') {
				config_error(ctx, m, name, "must not be empty");
				return -1;
			}
			if (j == 0)
				p[i].price = config_strdup(str);
			else
				p[i].tier = config_strdup(str);
		}
	}
	return 0;
}

static int
config_parse_key(struct config_ctx *ctx, size_t ki)
{
	const struct config_key	*k = &config_keys[ki];
	config_setting_t	*s = ctx->set[ki];
	const char		*str = k->def;
	char			 buf[256], *end;
	long long		 iv = 0;
	double			 dv = 0;
	unsigned long		 mode;
	int			 t;

	if (k->type == CONFIG_LIST)
		return config_parse_list(ctx, ki);
	if (k->type == CONFIG_PRICES)
		return config_parse_prices(ctx, ki);
	t = s != NULL ? config_setting_type(s) : CONFIG_TYPE_NONE;

	switch (k->type) {
	case CONFIG_BOOL:
		if (s == NULL)
			iv = strcmp(k->def, "true") == 0;
		else if (t != CONFIG_TYPE_BOOL) {
			config_error(ctx, s, k->name,
			    "must be true or false");
			return -1;
		} else
			iv = config_setting_get_bool(s);
		config_store_int(config_field(ctx->cfg, k), k->size, iv);
		return 0;
	case CONFIG_INT:
		if (s == NULL)
			iv = strtoll(k->def, NULL, 10);
		else if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64) {
			config_error(ctx, s, k->name, "must be an integer");
			return -1;
		} else
			iv = config_setting_get_int64(s);
		if (iv < (long long)k->min || iv > (long long)k->max) {
			config_error(ctx, s, k->name,
			    "%lld is out of range %.0f..%.0f", iv, k->min,
			    k->max);
			return -1;
		}
		config_store_int(config_field(ctx->cfg, k), k->size,
		    iv * k->scale);
		return 0;
	case CONFIG_SECONDS:
		if (s == NULL)
			dv = strtod(k->def, NULL);
		else if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64)
			dv = (double)config_setting_get_int64(s);
		else if (t == CONFIG_TYPE_FLOAT)
			dv = config_setting_get_float(s);
		else {
			config_error(ctx, s, k->name,
			    "must be a number of seconds");
			return -1;
		}
		if (!isfinite(dv) || dv < k->min || dv > k->max) {
			config_error(ctx, s, k->name,
			    "%g s is out of range %g..%g s", dv, k->min,
			    k->max);
			return -1;
		}
		/* No libm: every minimum is >= 0, so this rounds. */
		config_store_int(config_field(ctx->cfg, k), k->size,
		    (long long)(dv * (double)k->scale + 0.5));
		return 0;
	default:
		break;
	}

	/* String-valued types. */
	if (s != NULL && k->type == CONFIG_MODE &&
	    config_setting_type(s) != CONFIG_TYPE_STRING) {
		config_error(ctx, s, k->name, "must be an octal mode string "
		    "such as \"0660\"");
		return -1;
	}
	if (s != NULL && config_get_string(ctx, s, k->name, &str) == -1)
		return -1;
	ctx->str[ki] = str;
	if ((k->flags & CONFIG_NONEMPTY) && *str == '\0') {
		config_error(ctx, s, k->name, "must not be empty");
		return -1;
	}
	if ((k->flags & CONFIG_ABSPATH) && *str != '\0' && *str != '/') {
		config_error(ctx, s, k->name, "must be an absolute path");
		return -1;
	}
	switch (k->type) {
	case CONFIG_STRING:
		if (k->off != NOFIELD)
			*(char **)config_field(ctx->cfg, k) =
			    config_strdup(str);
		return 0;
	case CONFIG_MODE:
		errno = 0;
		mode = strtoul(str, &end, 8);
		if (*str != '0' || strlen(str) < 3 || *end != '\0' ||
		    errno != 0 || mode > (unsigned long)k->max) {
			config_error(ctx, s, k->name, "must be an octal mode "
			    "string from \"0000\" to \"0%o\"",
			    (unsigned int)k->max);
			return -1;
		}
		config_store_int(config_field(ctx->cfg, k), k->size,
		    (long long)mode);
		return 0;
	case CONFIG_ENUM:
		for (iv = 0; k->values[iv] != NULL; iv++)
			if (strcmp(str, k->values[iv]) == 0)
				break;
		if (k->values[iv] == NULL) {
			config_values_text(k->values, buf, sizeof(buf));
			config_error(ctx, s, k->name, "\"%s\" is not one of: %s",
			    str, buf);
			return -1;
		}
		config_store_int(config_field(ctx->cfg, k), k->size, iv);
		return 0;
	default:
		fatalx("config: key %s of unknown type", k->name);
	}
}

/*
 * Read a secret file: a regular file with no group or other permission
 * bits (ssh's rule), at most CONFIG_SECRET_MAX bytes; one trailing newline
 * is dropped.  Messages name the file, never its content.
 */
static int
config_read_secret(struct config_ctx *ctx, const config_setting_t *s,
    const char *key, const char *file, char **out, size_t *outlen)
{
	const struct config_file	*f;
	char				 why[128], *buf;
	size_t				 len;

	if ((f = config_get_file(ctx, file, CONFIG_SECRET_MAX, why,
	    sizeof(why))) == NULL) {
		config_error(ctx, s, key, "%s: %s", file, why);
		return -1;
	}
	if (!S_ISREG(f->mode) || f->data == NULL) {
		config_error(ctx, s, key, "%s: not a regular file", file);
		return -1;
	}
	if (f->mode & (S_IRWXG | S_IRWXO)) {
		config_error(ctx, s, key, "%s: is readable by group or others; "
		    "chmod 600 it", file);
		return -1;
	}
	len = f->len;
	if (len > 0 && f->data[len - 1] == '\n') {
		len--;
		if (len > 0 && f->data[len - 1] == '\r')
			len--;
	}
	if (memchr(f->data, '\0', len) != NULL) {
		config_error(ctx, s, key, "%s: holds a NUL byte", file);
		return -1;
	}
	if ((buf = malloc(len + 1)) == NULL)
		fatal("malloc");
	memcpy(buf, f->data, len);
	buf[len] = '\0';
	*out = buf;
	if (outlen != NULL)
		*outlen = len;
	return 0;
}

/* A config file holding an inline secret follows the secret file rule. */
static int
config_check_inline(struct config_ctx *ctx, const config_setting_t *s,
    const char *key)
{
	const struct config_file	*f;
	const char			*file = ctx->path;
	char				 why[128];

	if (s != NULL && config_setting_source_file(s) != NULL)
		file = config_setting_source_file(s);
	if ((f = config_get_file(ctx, file, CONFIG_FILE_MAX, why,
	    sizeof(why))) == NULL) {
		config_error(ctx, s, key, "%s: %s", file, why);
		return -1;
	}
	if (f->mode & (S_IRWXG | S_IRWXO)) {
		config_error(ctx, s, key, "holds an inline secret and %s: is "
		    "readable by group or others; chmod 600 it (or move the "
		    "secret to a file)", file);
		return -1;
	}
	return 0;
}

static int
config_conninfo_has_password(const char *conninfo, int *bad)
{
	PQconninfoOption	*opts, *o;
	char			*err = NULL;
	int			 found = 0;

	*bad = 0;
	if ((opts = PQconninfoParse(conninfo, &err)) == NULL) {
		/* libpq's message may quote the string: never shown. */
		if (err != NULL) {
			explicit_bzero(err, strlen(err));
			PQfreemem(err);
		}
		*bad = 1;
		return 0;
	}
	for (o = opts; o->keyword != NULL; o++)
		if (strcmp(o->keyword, "password") == 0 && o->val != NULL &&
		    o->val[0] != '\0')
			found = 1;
	PQconninfoFree(opts);
	return found;
}

static int
config_load_database(struct config_ctx *ctx)
{
	struct fb_config	*cfg = ctx->cfg;
	size_t			 ci = config_index("database.conninfo");
	size_t			 fi = config_index("database.conninfo_file");
	char			*buf;
	int			 bad;

	if (ctx->str[fi][0] != '\0') {
		if (cfg->conninfo[0] != '\0') {
			config_error(ctx, ctx->set[fi], config_keys[fi].name,
			    "set only one of database.conninfo and "
			    "database.conninfo_file");
			return -1;
		}
		if (config_read_secret(ctx, ctx->set[fi], config_keys[fi].name,
		    ctx->str[fi], &buf, NULL) == -1)
			return -1;
		free(cfg->conninfo);
		cfg->conninfo = buf;
		(void)config_conninfo_has_password(cfg->conninfo, &bad);
		if (bad) {
			config_error(ctx, ctx->set[fi], config_keys[fi].name,
			    "%s: not a valid libpq connection string",
			    ctx->str[fi]);
			return -1;
		}
		return 0;
	}
	if (config_conninfo_has_password(cfg->conninfo, &bad) &&
	    config_check_inline(ctx, ctx->set[ci], config_keys[ci].name) == -1)
		return -1;
	if (bad) {
		config_error(ctx, ctx->set[ci], config_keys[ci].name,
		    "not a valid libpq connection string");
		return -1;
	}
	return 0;
}

static int
config_load_webhook_secrets(struct config_ctx *ctx)
{
	struct fb_config	*cfg = ctx->cfg;
	size_t			 ki = config_index("stripe.webhook_secrets");
	config_setting_t	*e;
	char			 name[256], *buf;
	size_t			 i;
	int			 inline_done = 0;

	for (i = 0; i < cfg->nwebhook_secrets; i++) {
		e = ctx->set[ki] != NULL ?
		    config_setting_get_elem(ctx->set[ki], (unsigned int)i) :
		    NULL;
		snprintf(name, sizeof(name), "%s[%zu]", config_keys[ki].name,
		    i);
		if (strncmp(cfg->webhook_secrets[i], "whsec_", 6) == 0 &&
		    cfg->webhook_secrets[i][6] != '\0') {
			if (!inline_done &&
			    config_check_inline(ctx, e, name) == -1)
				return -1;
			inline_done = 1;
			continue;
		}
		if (cfg->webhook_secrets[i][0] != '/') {
			config_error(ctx, e, name, "must be a whsec_ secret or "
			    "the absolute path of a file holding one");
			return -1;
		}
		if (config_read_secret(ctx, e, name, cfg->webhook_secrets[i],
		    &buf, NULL) == -1)
			return -1;
		if (strncmp(buf, "whsec_", 6) != 0 || buf[6] == '\0' ||
		    strpbrk(buf, " \t\r\n") != NULL) {
			config_error(ctx, e, name, "%s: must hold one whsec_ "
			    "secret", cfg->webhook_secrets[i]);
			config_free_str(buf);
			return -1;
		}
		config_free_str(cfg->webhook_secrets[i]);
		cfg->webhook_secrets[i] = buf;
	}
	return 0;
}

/* The intake's submitting identity; required when the intake is on. */
static int
config_load_intake_key(struct config_ctx *ctx)
{
	struct fb_config	*cfg = ctx->cfg;
	size_t			 ii = config_index("intake.key_file");
	size_t			 ei = config_index("intake.enabled");
	char			*buf;
	size_t			 len;

	if (ctx->str[ii][0] == '\0') {
		if (!cfg->intake_enabled)
			return 0;
		config_error(ctx, ctx->set[ei], config_keys[ei].name,
		    "the intake needs intake.key_file (its ColonyOS identity)");
		return -1;
	}
	if (config_read_secret(ctx, ctx->set[ii], config_keys[ii].name,
	    ctx->str[ii], &buf, &len) == -1)
		return -1;
	if (!config_is_hex64(buf, len)) {
		config_free_str(buf);
		config_error(ctx, ctx->set[ii], config_keys[ii].name,
		    "%s: must hold one key of 64 hex characters", ctx->str[ii]);
		return -1;
	}
	cfg->intake_key = buf;
	return 0;
}

static int
config_load_identity(struct config_ctx *ctx)
{
	struct fb_config	*cfg = ctx->cfg;
	size_t			 si = config_index("colonies.executor_seed_file");
	size_t			 ki = config_index("colonies.executor_keys_file");
	size_t			 oi = config_index("colonies.owner_key_file");
	char			*buf, *line, *next;
	const char		*seed;
	size_t			 len, n, lineno;

	if (ctx->str[si][0] != '\0' && ctx->str[ki][0] != '\0') {
		config_error(ctx, ctx->set[ki], config_keys[ki].name,
		    "set only one of colonies.executor_seed_file and "
		    "colonies.executor_keys_file");
		return -1;
	}
	if (ctx->str[si][0] != '\0') {
		if (config_read_secret(ctx, ctx->set[si], config_keys[si].name,
		    ctx->str[si], &buf, &len) == -1)
			return -1;
		if ((seed = config_seed_hex(buf, &len)) == NULL) {
			config_free_str(buf);
			config_error(ctx, ctx->set[si], config_keys[si].name,
			    "%s: must hold 64 hex characters (a 32-byte seed), "
			    "or what \"fbeectl key generate\" prints",
			    ctx->str[si]);
			return -1;
		}
		if ((cfg->executor_seed = malloc(32)) == NULL)
			fatal("malloc");
		(void)crypto_unhex(seed, len, cfg->executor_seed, 32);
		cfg->executor_seed_len = 32;
		config_free_str(buf);
	}
	if (ctx->str[ki][0] != '\0') {
		if (config_read_secret(ctx, ctx->set[ki], config_keys[ki].name,
		    ctx->str[ki], &buf, &len) == -1)
			return -1;
		for (n = 1, line = buf; *line != '\0'; line++)
			n += (*line == '\n');
		if ((cfg->executor_keys = calloc(n + 1, sizeof(char *))) ==
		    NULL)
			fatal("calloc");
		for (lineno = 1, line = buf; line != NULL; line = next,
		    lineno++) {
			if ((next = strchr(line, '\n')) != NULL)
				*next++ = '\0';
			len = strlen(line);
			if (len > 0 && line[len - 1] == '\r')
				line[--len] = '\0';
			if (!config_is_hex64(line, len)) {
				config_error(ctx, ctx->set[ki],
				    config_keys[ki].name, "%s:%zu: must be "
				    "one key of 64 hex characters per line",
				    ctx->str[ki], lineno);
				explicit_bzero(buf, strlen(buf));
				free(buf);
				return -1;
			}
			cfg->executor_keys[cfg->nexecutor_keys++] =
			    config_strdup(line);
			explicit_bzero(line, len);
		}
		free(buf);
		if (cfg->nexecutor_keys < cfg->bees) {
			config_error(ctx, ctx->set[ki], config_keys[ki].name,
			    "%s: holds %zu keys but bees = %u",
			    ctx->str[ki], cfg->nexecutor_keys, cfg->bees);
			return -1;
		}
	}
	if (ctx->str[oi][0] != '\0') {
		if (config_read_secret(ctx, ctx->set[oi], config_keys[oi].name,
		    ctx->str[oi], &buf, &len) == -1)
			return -1;
		if (!config_is_hex64(buf, len)) {
			config_free_str(buf);
			config_error(ctx, ctx->set[oi], config_keys[oi].name,
			    "%s: must hold one key of 64 hex characters",
			    ctx->str[oi]);
			return -1;
		}
		cfg->owner_key = buf;
	}
	return config_load_intake_key(ctx);
}

/* A file libcurl reads when it connects: there now, of the right type. */
static int
config_check_path(struct config_ctx *ctx, const char *key, int dir)
{
	size_t		 ki = config_index(key);
	const char	*path = *(char **)config_field(ctx->cfg,
			    &config_keys[ki]);
	struct stat	 st;

	if (path[0] == '\0')
		return 0;
	if (stat(path, &st) == -1) {
		config_error(ctx, ctx->set[ki], key, "%s: %s", path,
		    strerror(errno));
		return -1;
	}
	if (dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode)) {
		config_error(ctx, ctx->set[ki], key, "%s: not a %s", path,
		    dir ? "directory" : "regular file");
		return -1;
	}
	if (access(path, dir ? R_OK | X_OK : R_OK) == -1) {
		config_error(ctx, ctx->set[ki], key, "%s: %s", path,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * The ColonyOS transport: proxy, CA file and path, client certificate;
 * the key is a secret file (no group or other permission bits), read
 * here only to check it: libcurl reads it when it connects.
 */
static int
config_load_transport(struct config_ctx *ctx)
{
	struct fb_config	*cfg = ctx->cfg;
	size_t			 pi = config_index("colonies.proxy");
	size_t			 ki = config_index("colonies.tls_key_file");
	const char		*p;
	char			*buf;

	for (p = cfg->colonies_proxy; *p != '\0'; p++) {
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) {
			config_error(ctx, ctx->set[pi], config_keys[pi].name,
			    "may not hold spaces or control characters");
			return -1;
		}
	}
	/* user:password@ in the proxy URL is an inline secret. */
	if (strchr(cfg->colonies_proxy, '@') != NULL &&
	    config_check_inline(ctx, ctx->set[pi], config_keys[pi].name) == -1)
		return -1;
	if (config_check_path(ctx, "colonies.ca_file", 0) == -1 ||
	    config_check_path(ctx, "colonies.ca_path", 1) == -1 ||
	    config_check_path(ctx, "colonies.tls_cert_file", 0) == -1)
		return -1;
	if (cfg->colonies_tls_key_file[0] != '\0') {
		if (cfg->colonies_tls_cert_file[0] == '\0') {
			config_error(ctx, ctx->set[ki], config_keys[ki].name,
			    "needs colonies.tls_cert_file");
			return -1;
		}
		if (config_read_secret(ctx, ctx->set[ki], config_keys[ki].name,
		    cfg->colonies_tls_key_file, &buf, NULL) == -1)
			return -1;
		config_free_str(buf);
	}
	return 0;
}

void
config_http_opts(const struct fb_config *cfg, struct http_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->connect_ms = cfg->http_connect_timeout_ms;
	o->proxy = cfg->colonies_proxy;
	o->ca_file = cfg->colonies_ca_file;
	o->ca_path = cfg->colonies_ca_path;
	o->cert_file = cfg->colonies_tls_cert_file;
	o->key_file = cfg->colonies_tls_key_file;
}

/* a must be below (cmp < 0) or at most (cmp <= 0) b: check, blame a. */
static int
config_order(struct config_ctx *ctx, const char *a, const char *b,
    long va, long vb, int strict, const char *what)
{
	size_t			 ia = config_index(a), ib = config_index(b);
	const config_setting_t	*s = ctx->set[ia];
	const char		*key = a;

	if (strict ? va < vb : va <= vb)
		return 0;
	if (s == NULL) {
		s = ctx->set[ib];
		key = b;
	}
	config_error(ctx, s, key, "%s must be %s %s", a, what, b);
	return -1;
}

static int
config_groups_exist(struct config_ctx *ctx, const char *key, char **names,
    size_t n)
{
	size_t	i, ki = config_index(key);

	for (i = 0; i < n; i++) {
		if (getgrnam(names[i]) == NULL) {
			config_error(ctx, ctx->set[ki], key,
			    "no such group: %s", names[i]);
			return -1;
		}
	}
	return 0;
}

/*
 * The host part of the executor names, so that instances with the same
 * configuration on several hosts never claim the same names or keys:
 * colonies.executor_host, or, unset or empty, this machine's host name up
 * to its first dot; "-" for none.  The prefix becomes "<prefix>-<host>"
 * (every user of executor_prefix names slot N "<prefix>-<host>-N") and
 * executor_host holds the host part the keys are derived with.
 */
static int
config_executor_host(struct config_ctx *ctx)
{
	struct fb_config	*cfg = ctx->cfg;
	size_t			 ki = config_index("colonies.executor_host");
	char			 host[256], *pfx;
	const char		*h = cfg->executor_host, *p;

	if (h[0] == '\0') {
		if (gethostname(host, sizeof(host)) == -1) {
			config_error(ctx, ctx->set[ki], config_keys[ki].name,
			    "gethostname: %s", strerror(errno));
			return -1;
		}
		host[sizeof(host) - 1] = '\0';
		host[strcspn(host, ".")] = '\0';
		h = host;
	} else if (strcmp(h, "-") == 0)
		h = "";
	for (p = h; *p != '\0'; p++) {
		if (!isalnum((unsigned char)*p) && strchr("_-", *p) == NULL)
			break;
	}
	if (*p != '\0' || strlen(h) > 63 || (h == host && h[0] == '\0')) {
		config_error(ctx, ctx->set[ki], config_keys[ki].name,
		    "%s%s%smust be 1 to 63 letters, digits, '_' or '-' (or "
		    "\"-\" for none)", h == host ? "the host name \"" : "",
		    h == host ? h : "", h == host ? "\": set this; it " : "");
		return -1;
	}
	if ((h = strdup(h)) == NULL)
		return -1;
	if (h[0] != '\0') {
		if (asprintf(&pfx, "%s-%s", cfg->executor_prefix, h) == -1) {
			free((char *)h);
			return -1;
		}
		config_free_str(cfg->executor_prefix);
		cfg->executor_prefix = pfx;
	}
	config_free_str(cfg->executor_host);
	cfg->executor_host = (char *)h;
	return 0;
}

/* The intake's rules: addresses it can listen on, paths, secrets. */
static int
config_check_intake(struct config_ctx *ctx)
{
	struct fb_config	*cfg = ctx->cfg;
	size_t			 i, ki;
	char			 msg[256];

	ki = config_index("intake.listen");
	for (i = 0; i < cfg->nintake_listen; i++) {
		if (listen_parse(cfg->intake_listen[i], NULL, msg,
		    sizeof(msg)) == -1) {
			config_error(ctx, ctx->set[ki], config_keys[ki].name,
			    "%s", msg);
			return -1;
		}
	}
	ki = config_index("intake.path");
	if (cfg->intake_path[0] != '/') {
		config_error(ctx, ctx->set[ki], config_keys[ki].name,
		    "must start with /");
		return -1;
	}
	ki = config_index("intake.health_path");
	if (cfg->intake_health_path[0] != '/' ||
	    strcmp(cfg->intake_health_path, cfg->intake_path) == 0) {
		config_error(ctx, ctx->set[ki], config_keys[ki].name,
		    "must start with / and differ from intake.path");
		return -1;
	}
	/* A blocked submit must not look like a silent process. */
	if (cfg->intake_enabled && config_order(ctx, "intake.submit_timeout",
	    "supervision.heartbeat_timeout", cfg->intake_submit_timeout_ms,
	    cfg->heartbeat_timeout_ms, 1, "below") == -1)
		return -1;
	ki = config_index("intake.enabled");
	if (cfg->intake_enabled && cfg->nwebhook_secrets == 0) {
		config_error(ctx, ctx->set[ki], config_keys[ki].name,
		    "the intake needs stripe.webhook_secrets: it would "
		    "submit unsigned webhooks");
		return -1;
	}
	return 0;
}

/* "host:port" or "[v6]:port" into its parts; -1 if malformed. */
int
config_hostport(const char *listen, char *host, size_t hostlen,
    unsigned short *port)
{
	const char	*p, *h = listen, *end;
	char		*ep;
	unsigned long	 n;
	size_t		 len;

	if (*h == '[') {
		if ((end = strchr(h, ']')) == NULL || end[1] != ':')
			return -1;
		h++;
		len = (size_t)(end - h);
		p = end + 2;
	} else {
		if ((end = strrchr(h, ':')) == NULL ||
		    memchr(h, ':', (size_t)(end - h)) != NULL)
			return -1;
		len = (size_t)(end - h);
		p = end + 1;
	}
	if (len == 0 || len >= hostlen || *p == '\0')
		return -1;
	n = strtoul(p, &ep, 10);
	if (*ep != '\0' || n == 0 || n > 65535)
		return -1;
	memcpy(host, h, len);
	host[len] = '\0';
	*port = (unsigned short)n;
	return 0;
}

static int
config_check_rules(struct config_ctx *ctx)
{
	struct fb_config	*cfg = ctx->cfg;
	struct config_sref	*tiers;
	size_t			 i, j, ki;
	char			 name[256];
	const char		*url = cfg->colonies_url, *p;
	struct http		*h;
	char			 msg[256];

	if (strncmp(url, "http://", 7) != 0 &&
	    strncmp(url, "https://", 8) != 0) {
		ki = config_index("colonies.url");
		config_error(ctx, ctx->set[ki], config_keys[ki].name,
		    "must start with http:// or https://");
		return -1;
	}
	/* The rest of its syntax too: a bee could not start with it. */
	if ((h = http_open(url, 0, msg, sizeof(msg))) == NULL) {
		ki = config_index("colonies.url");
		config_error(ctx, ctx->set[ki], config_keys[ki].name, "%s",
		    msg);
		return -1;
	}
	http_free(h);
	for (p = cfg->executor_prefix; *p != '\0'; p++) {
		if (!isalnum((unsigned char)*p) && strchr("._-", *p) == NULL) {
			ki = config_index("colonies.executor_prefix");
			config_error(ctx, ctx->set[ki], config_keys[ki].name,
			    "may hold only letters, digits, '.', '_' and '-'");
			return -1;
		}
	}
	if (config_executor_host(ctx) == -1)
		return -1;
	if (config_order(ctx, "supervision.task_timeout", "colonies.lease",
	    cfg->task_timeout_ms, (long)cfg->lease * 1000, 1, "below") == -1)
		return -1;
	if (config_order(ctx, "supervision.respawn_min",
	    "supervision.respawn_max", cfg->respawn_min_ms, cfg->respawn_max_ms,
	    0, "at most") == -1)
		return -1;
	if (config_order(ctx, "metrics.interval",
	    "supervision.heartbeat_timeout", cfg->metrics_interval_ms,
	    cfg->heartbeat_timeout_ms, 1, "below") == -1)
		return -1;

	ki = config_index("stripe.prices");
	tiers = config_sref_sorted((const char *const *)cfg->tiers, cfg->ntiers,
	    sizeof(*cfg->tiers));
	for (i = 0; i < cfg->nprices; i++) {
		if (!config_sref_has(tiers, cfg->ntiers, cfg->prices[i].tier))
			break;
	}
	free(tiers);
	if (i < cfg->nprices) {
		snprintf(name, sizeof(name), "stripe.prices[%zu]", i);
		config_error(ctx, config_setting_get_elem(ctx->set[ki],
		    (unsigned int)i), name, "tier \"%s\" is not in "
		    "stripe.tiers", cfg->prices[i].tier);
		return -1;
	}
	if (cfg->nprices > 1 && config_first_dup((const char *const *)
	    (const void *)&cfg->prices->price, cfg->nprices, sizeof(*cfg->prices), &i, &j)) {
		snprintf(name, sizeof(name), "stripe.prices[%zu]", i);
		config_error(ctx, config_setting_get_elem(ctx->set[ki],
		    (unsigned int)i), name, "price \"%s\" is mapped twice",
		    cfg->prices[i].price);
		return -1;
	}

	ki = config_index("log.target");
	if (strcmp(cfg->log_target, "stderr") != 0 &&
	    strcmp(cfg->log_target, "syslog") != 0 &&
	    cfg->log_target[0] != '/') {
		config_error(ctx, ctx->set[ki], config_keys[ki].name,
		    "must be stderr, syslog or an absolute path");
		return -1;
	}
	/* An unknown group is a configuration error (78), found by -t. */
	if (config_groups_exist(ctx, "admin.groups", cfg->admin_groups,
	    cfg->nadmin_groups) == -1 || config_groups_exist(ctx,
	    "admin.readonly_groups", cfg->readonly_groups,
	    cfg->nreadonly_groups) == -1)
		return -1;
	ki = config_index("admin.socket");
	if (strlen(cfg->admin_path) >= 104) {	/* sun_path, portably */
		config_error(ctx, ctx->set[ki], config_keys[ki].name,
		    "longer than 103 bytes");
		return -1;
	}
	ki = config_index("metrics.listen");
	if (cfg->metrics_listen[0] != '\0') {
		char		host[256];
		unsigned short	port;

		if (config_hostport(cfg->metrics_listen, host, sizeof(host),
		    &port) == -1) {
			config_error(ctx, ctx->set[ki], config_keys[ki].name,
			    "must be host:port or [address]:port");
			return -1;
		}
	}
	return config_check_intake(ctx);
}

/*
 * libconfig 1.5 ends the whole process (exit 2, "input in flex scanner
 * failed") when an @include names what it cannot read as a file: a
 * directory, /proc/self/mem; and waits forever on a FIFO.  A reload must
 * never take the master down, so every @include line (as libconfig's
 * scanner sees one: blanks, @include, blanks, a quoted path) is checked
 * first, and those of the files it names, to libconfig's depth of 10.
 * What cannot be opened is left to libconfig, which reports it.
 */
#define CONFIG_INCLUDE_DEPTH	10

static int
config_check_includes(struct config_ctx *ctx, const char *text,
    const char *file, int depth)
{
	struct stat	 st;
	const char	*p, *q, *eol;
	char		 path[PATH_MAX], *buf;
	size_t		 n, len;
	unsigned int	 line;
	ssize_t		 r;
	int		 fd, rc;

	if (depth >= CONFIG_INCLUDE_DEPTH)
		return 0;	/* libconfig refuses deeper ones itself */
	for (p = text, line = 1; *p != '\0'; p = eol + (*eol != '\0'),
	    line++) {
		eol = p + strcspn(p, "\n");
		for (q = p; *q == ' ' || *q == '\t'; q++)
			;
		if (strncmp(q, "@include", 8) != 0 ||
		    (q[8] != ' ' && q[8] != '\t'))
			continue;
		for (q += 8; *q == ' ' || *q == '\t'; q++)
			;
		if (*q++ != '"')
			continue;
		n = strcspn(q, "\"\\\n");
		if (q[n] != '"' || n == 0 || n >= sizeof(path)) {
			snprintf(ctx->cause, ctx->causelen, "%s:%u: @include: "
			    "the path must be plain text of 1-%zu bytes, "
			    "without escapes", file, line, sizeof(path) - 1);
			return -1;
		}
		memcpy(path, q, n);
		path[n] = '\0';
		/* O_NONBLOCK: a FIFO must not hang us either. */
		if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY |
		    O_NONBLOCK)) == -1)
			continue;
		if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
			close(fd);
			snprintf(ctx->cause, ctx->causelen, "%s:%u: @include "
			    "\"%.200s\": not a regular file", file, line, path);
			return -1;
		}
		if ((buf = malloc(CONFIG_FILE_MAX + 1)) == NULL)
			fatal("malloc");
		for (len = 0; len <= CONFIG_FILE_MAX; len += (size_t)r) {
			r = read(fd, buf + len, CONFIG_FILE_MAX + 1 - len);
			if (r == -1 && errno == EINTR) {
				r = 0;
				continue;
			}
			if (r <= 0)
				break;
		}
		close(fd);
		if (r == -1 || len > CONFIG_FILE_MAX) {
			snprintf(ctx->cause, ctx->causelen, "%s:%u: @include "
			    "\"%.200s\": %s", file, line, path, r == -1 ?
			    strerror(errno) : "too large");
			free(buf);
			return -1;
		}
		buf[len] = '\0';
		rc = config_check_includes(ctx, buf, path, depth + 1);
		free(buf);
		if (rc == -1)
			return -1;
	}
	return 0;
}

/*
 * A load from the files, or (given, a bee) from the master's snapshot;
 * *snapfd (if not NULL) gets the snapshot of this load, for bees.
 */
static void	config_secure(struct fb_config *);

static int
config_load_ctx(const char *path, struct fb_config *cfg,
    struct config_snap *given, int *snapfd, char *cause, size_t causelen)
{
	struct config_ctx		 ctx;
	const struct config_file	*f;
	char				 why[128];
	size_t				 i;
	int				 rc = -1;

	memset(cfg, 0, sizeof(*cfg));
	memset(&ctx, 0, sizeof(ctx));
	ctx.path = path;
	ctx.cfg = cfg;
	ctx.cause = cause;
	ctx.causelen = causelen;
	if (given != NULL) {
		ctx.snap = *given;
		memset(given, 0, sizeof(*given));
	}

	/* One read of the bytes libconfig then parses (and a bee re-parses). */
	if ((f = config_get_file(&ctx, path, CONFIG_FILE_MAX, why,
	    sizeof(why))) == NULL) {
		snprintf(cause, causelen, "%s: %s", path, why);
		config_snap_free(&ctx.snap);
		return -1;
	}
	if (f->data == NULL) {
		snprintf(cause, causelen, "%s: not a regular file", path);
		config_snap_free(&ctx.snap);
		return -1;
	}

	config_init(&ctx.lc);
	if (config_check_includes(&ctx, f->data, path, 0) == -1)
		goto out;
	if (config_read_string(&ctx.lc, f->data) != CONFIG_TRUE) {
		if (config_error_type(&ctx.lc) == CONFIG_ERR_FILE_IO)
			snprintf(cause, causelen, "%s: %s",
			    config_error_file(&ctx.lc) != NULL ?
			    config_error_file(&ctx.lc) : path,
			    config_error_text(&ctx.lc));
		else
			snprintf(cause, causelen, "%s:%d: syntax error: %s",
			    config_error_file(&ctx.lc) != NULL ?
			    config_error_file(&ctx.lc) : path,
			    config_error_line(&ctx.lc),
			    config_error_text(&ctx.lc));
		goto out;
	}
	if (config_check_ints(&ctx, path) == -1)
		goto out;
	for (i = 0; i < ctx.lc.num_filenames; i++)
		if (config_check_ints(&ctx, ctx.lc.filenames[i]) == -1)
			goto out;
	if (config_check_unknown(&ctx) == -1)
		goto out;

	cfg->path = config_strdup(path);
	for (i = 0; i < CONFIG_NKEYS; i++) {
		ctx.set[i] = config_lookup(&ctx.lc, config_keys[i].name);
		if (config_parse_key(&ctx, i) == -1)
			goto out;
	}
	if (config_check_rules(&ctx) == -1 ||
	    config_load_database(&ctx) == -1 ||
	    config_load_webhook_secrets(&ctx) == -1 ||
	    config_load_identity(&ctx) == -1 ||
	    config_load_transport(&ctx) == -1)
		goto out;
	config_secure(cfg);
	if (snapfd != NULL && (*snapfd = config_snap_fd(&ctx.snap, cause,
	    causelen)) == -1)
		goto out;
	rc = 0;

out:
	config_destroy(&ctx.lc);
	config_snap_free(&ctx.snap);
	if (rc == -1)
		config_free(cfg);
	return rc;
}

/* Move one secret string to secret memory (the old copy wiped). */
static void
config_secure_str(char **sp)
{
	char	*p;

	if (*sp == NULL)
		return;
	if ((p = secret_strdup(*sp)) == NULL)
		fatal("secret_strdup");
	config_free_str(*sp);
	*sp = p;
}

/*
 * Every secret the configuration holds, on pages left out of core dumps
 * and wiped when freed (secret.c): the conninfo, webhook secrets, executor
 * keys or seed, the owner key.
 */
static void
config_secure(struct fb_config *cfg)
{
	unsigned char	*seed;
	size_t		 i;

	config_secure_str(&cfg->conninfo);
	for (i = 0; i < cfg->nwebhook_secrets; i++)
		config_secure_str(&cfg->webhook_secrets[i]);
	for (i = 0; i < cfg->nexecutor_keys; i++)
		config_secure_str(&cfg->executor_keys[i]);
	config_secure_str(&cfg->owner_key);
	if (cfg->executor_seed != NULL) {
		if ((seed = secret_alloc(cfg->executor_seed_len)) == NULL)
			fatal("secret_alloc");
		memcpy(seed, cfg->executor_seed, cfg->executor_seed_len);
		explicit_bzero(cfg->executor_seed, cfg->executor_seed_len);
		free(cfg->executor_seed);
		cfg->executor_seed = seed;
	}
	cfg->secured = 1;
}

static void
config_unsecure(struct fb_config *cfg)
{
	size_t	i;

	if (!cfg->secured)
		return;
	secret_free(cfg->conninfo);
	cfg->conninfo = NULL;
	for (i = 0; i < cfg->nwebhook_secrets; i++) {
		secret_free(cfg->webhook_secrets[i]);
		cfg->webhook_secrets[i] = NULL;
	}
	for (i = 0; i < cfg->nexecutor_keys; i++) {
		secret_free(cfg->executor_keys[i]);
		cfg->executor_keys[i] = NULL;
	}
	secret_free(cfg->owner_key);
	cfg->owner_key = NULL;
	secret_free(cfg->executor_seed);
	cfg->executor_seed = NULL;
	cfg->secured = 0;
}

int
config_load(const char *path, struct fb_config *cfg, char *cause,
    size_t causelen)
{
	return config_load_ctx(path, cfg, NULL, NULL, cause, causelen);
}

int
config_load_snapshot(const char *path, struct fb_config *cfg, int *snapfd,
    char *cause, size_t causelen)
{
	*snapfd = -1;
	return config_load_ctx(path, cfg, NULL, snapfd, cause, causelen);
}

int
config_load_fd(const char *path, int snapfd, struct fb_config *cfg,
    char *cause, size_t causelen)
{
	struct config_snap	sn;

	memset(cfg, 0, sizeof(*cfg));
	if (config_snap_read(snapfd, &sn, cause, causelen) == -1)
		return -1;
	return config_load_ctx(path, cfg, &sn, NULL, cause, causelen);
}


void
config_free(struct fb_config *cfg)
{
	const struct config_key	*k;
	size_t			 i;

	config_unsecure(cfg);
	for (i = 0; i < CONFIG_NKEYS; i++) {
		k = &config_keys[i];
		if (k->off == NOFIELD)
			continue;
		switch (k->type) {
		case CONFIG_STRING:
			config_free_str(*(char **)config_field(cfg, k));
			break;
		case CONFIG_LIST:
			config_free_list(*(char ***)config_field(cfg, k),
			    *config_count(cfg, k));
			break;
		default:
			break;
		}
	}
	if (cfg->prices != NULL) {
		for (i = 0; i < cfg->nprices; i++) {
			free(cfg->prices[i].price);
			free(cfg->prices[i].tier);
		}
		free(cfg->prices);
	}
	if (cfg->executor_seed != NULL) {
		explicit_bzero(cfg->executor_seed, cfg->executor_seed_len);
		free(cfg->executor_seed);
	}
	config_free_list(cfg->executor_keys, cfg->nexecutor_keys);
	config_free_str(cfg->owner_key);
	config_free_str(cfg->intake_key);
	free(cfg->path);
	explicit_bzero(cfg, sizeof(*cfg));
}

int
config_executor_key(const struct fb_config *cfg, unsigned int slot,
    struct crypto_key *key, char *cause, size_t causelen)
{
	if (slot == 0) {
		snprintf(cause, causelen, "executor slots count from 1");
		return -1;
	}
	if (cfg->executor_seed != NULL) {
		char	label[128];

		/* The host's own keys: the bare label without a host part. */
		snprintf(label, sizeof(label), "financebee-executor%s%s",
		    cfg->executor_host != NULL && cfg->executor_host[0] != '\0' ?
		    "/" : "", cfg->executor_host != NULL ?
		    cfg->executor_host : "");
		return crypto_key_derive(key, cfg->executor_seed,
		    cfg->executor_seed_len, label, slot, cause, causelen);
	}
	if (cfg->executor_keys != NULL) {
		if (slot > cfg->nexecutor_keys) {
			snprintf(cause, causelen, "%s: colonies."
			    "executor_keys_file holds %zu keys, none for "
			    "slot %u", cfg->path, cfg->nexecutor_keys, slot);
			return -1;
		}
		return crypto_key_parse(key, cfg->executor_keys[slot - 1],
		    strlen(cfg->executor_keys[slot - 1]), cause, causelen);
	}
	snprintf(cause, causelen, "%s: colonies: no executor identity: set "
	    "executor_seed_file or executor_keys_file", cfg->path);
	return -1;
}

static int
config_list_differ(char **a, size_t na, char **b, size_t nb)
{
	size_t	i;

	if (na != nb)
		return 1;
	for (i = 0; i < na; i++)
		if (strcmp(a[i], b[i]) != 0)
			return 1;
	return 0;
}

int
config_bee_settings_differ(const struct fb_config *a,
    const struct fb_config *b)
{
	const struct config_key	*k;
	const char		*pa, *pb;
	size_t			 i, j;

	for (i = 0; i < CONFIG_NKEYS; i++) {
		k = &config_keys[i];
		if (!(k->flags & CONFIG_BEE) || k->off == NOFIELD)
			continue;
		pa = (const char *)a + k->off;
		pb = (const char *)b + k->off;
		switch (k->type) {
		case CONFIG_STRING:
			if (strcmp(*(char *const *)(const void *)pa,
			    *(char *const *)(const void *)pb) != 0)
				return 1;
			break;
		case CONFIG_LIST:
			if (config_list_differ(*(char **const *)(const void *)pa,
			    *(const size_t *)(const void *)((const char *)a +
			    k->countoff),
			    *(char **const *)(const void *)pb,
			    *(const size_t *)(const void *)((const char *)b +
			    k->countoff)))
				return 1;
			break;
		case CONFIG_PRICES:
			if (a->nprices != b->nprices)
				return 1;
			for (j = 0; j < a->nprices; j++)
				if (strcmp(a->prices[j].price,
				    b->prices[j].price) != 0 ||
				    strcmp(a->prices[j].tier,
				    b->prices[j].tier) != 0)
					return 1;
			break;
		default:
			if (memcmp(pa, pb, k->size) != 0)
				return 1;
			break;
		}
	}
	if (strcmp(a->intake_key != NULL ? a->intake_key : "",
	    b->intake_key != NULL ? b->intake_key : "") != 0)
		return 1;
	if (a->executor_seed_len != b->executor_seed_len ||
	    (a->executor_seed_len != 0 && memcmp(a->executor_seed,
	    b->executor_seed, a->executor_seed_len) != 0))
		return 1;
	return config_list_differ(a->executor_keys, a->nexecutor_keys,
	    b->executor_keys, b->nexecutor_keys);
}
