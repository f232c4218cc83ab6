/*
 * store.c: PostgreSQL.  Every event is one call of the SQL function
 * fb_apply_event() (sql/001_init.sql) through one prepared statement: one
 * round trip, one autocommit transaction.  The SQL side owns the rules; this
 * file owns the connection, the timeouts, the migrations and the mapping of
 * errors to permanent or transient outcomes.
 *
 * Every call is sent asynchronously and waited for with poll(2) up to the
 * statement timeout plus a grace period, so a dead network cannot block a
 * bee; a connection that timed out or broke is dropped and made again on
 * the next call.
 *
 * Behind a pooler in transaction mode (PgBouncer pool_mode = transaction,
 * database.transaction_pooling = true) two transactions of one connection
 * may run on two server sessions, so nothing may rely on session state:
 * no named prepared statement and no session SET.  Then every transaction
 * carries its own "SET LOCAL statement_timeout" in the same simple-query
 * message as its statement (one message, one implicit transaction, one
 * round trip), and the apply statement is sent as text.  Such a pooler
 * left unconfigured shows as a prepared statement that vanishes (SQLSTATE
 * 26000) or that a new connection already has (42P05): the store then
 * switches to that mode for good, with a warning.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "financebeed.h"

#define STORE_APPLY_STMT	"fb_apply"
#define STORE_APPLY_SQL		"SELECT fb_apply_event($1::jsonb)"
#define STORE_GRACE_MS		2000	/* beyond statement_timeout */
#define STORE_MIGRATE_TIMEOUT_MS 300000
#define STORE_PRUNE_BATCH	5000
#define STORE_LOCK_MIGRATE	"1178748417, 0"
#define STORE_MAX_MIGRATIONS	1000

struct store {
	PGconn		*conn;
	char		*conninfo;
	long		 connect_timeout;	/* s */
	long		 stmt_timeout_ms;
	uint64_t	 round_trips;
	int		 prepared;	/* on this connection */
	int		 pooled;	/* no session state (see above) */
};

static const char *const store_outcomes[] = {
	"applied", "duplicate", "ignored", "stale", "parked", "failed",
	"transient"
};

const char *
store_outcome_str(enum store_outcome o)
{
	if ((size_t)o >= sizeof(store_outcomes) / sizeof(store_outcomes[0]))
		return "unknown";
	return store_outcomes[o];
}

static int
store_outcome_parse(const char *s, enum store_outcome *o)
{
	size_t	i;

	for (i = 0; i < sizeof(store_outcomes) / sizeof(store_outcomes[0]); i++) {
		if (strcmp(s, store_outcomes[i]) == 0) {
			*o = (enum store_outcome)i;
			return 0;
		}
	}
	return -1;
}

/* libpq messages end in a newline and may span lines: make one line. */
static void
store_cause(char *cause, size_t causelen, const char *prefix, const char *msg)
{
	char	*p;

	if (msg == NULL || *msg == '\0')
		msg = "unknown error";
	snprintf(cause, causelen, "%s%s", prefix, msg);
	for (p = cause; *p != '\0'; p++) {
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
	}
	while (p > cause && p[-1] == ' ')
		*--p = '\0';
}

/*
 * libpq never prints a password, but its conninfo syntax errors quote the
 * offending token, which may be part of one ("password=se cret").  Withhold
 * those messages, and blank any password value that still shows.
 */
static void
store_redact(char *cause, size_t causelen, const char *conninfo)
{
	const char	*p, *v;
	char		 pw[256], *hit;
	size_t		 n;

	if (strstr(cause, "connection info string") != NULL ||
	    strstr(cause, "URI") != NULL || strstr(cause, "percent") != NULL) {
		snprintf(cause, causelen,
		    "database: malformed conninfo (details withheld)");
		return;
	}
	for (p = conninfo; (p = strstr(p, "password")) != NULL; p++) {
		v = p + 8;
		while (*v == ' ')
			v++;
		if (*v++ != '=')
			continue;
		while (*v == ' ' || *v == '\'')
			v++;
		n = strcspn(v, " '");
		if (n == 0 || n >= sizeof(pw))
			continue;
		memcpy(pw, v, n);
		pw[n] = '\0';
		while ((hit = strstr(cause, pw)) != NULL)
			memset(hit, '*', n);
	}
	/* URI form: scheme://user:password@host */
	if ((p = strstr(conninfo, "://")) != NULL &&
	    (v = strchr(p + 3, '@')) != NULL &&
	    (p = memchr(p + 3, ':', (size_t)(v - p - 3))) != NULL &&
	    (n = (size_t)(v - p - 1)) > 0 && n < sizeof(pw)) {
		memcpy(pw, p + 1, n);
		pw[n] = '\0';
		while ((hit = strstr(cause, pw)) != NULL)
			memset(hit, '*', n);
	}
	explicit_bzero(pw, sizeof(pw));
}

static void
store_notice_cb(void *arg, const char *msg)
{
	(void)arg;
	log_debug("postgresql: %.*s", (int)strcspn(msg, "\n"), msg);
}

static void
store_disconnect(struct store *s)
{
	if (s->conn != NULL) {
		PQfinish(s->conn);
		s->conn = NULL;
	}
}

/*
 * Wait for the result of a sent query until timeout_ms.  Returns the last
 * result (the caller clears it) or NULL with cause; on NULL the connection
 * is gone (timed out or broken) and has been dropped.
 */
static PGresult *
store_wait(struct store *s, long timeout_ms, char *cause, size_t causelen)
{
	PGresult	*res, *last = NULL;
	struct pollfd	 pfd;
	int64_t		 deadline = clock_now_ms() + timeout_ms, left;
	int		 flush, n;

	s->round_trips++;
	for (;;) {
		flush = PQflush(s->conn);
		if (flush == -1)
			goto broken;
		while (flush == 1 || PQisBusy(s->conn)) {
			left = deadline - clock_now_ms();
			if (left <= 0) {
				snprintf(cause, causelen, "database: no reply "
				    "within %ld ms", timeout_ms);
				store_disconnect(s);
				PQclear(last);
				return NULL;
			}
			pfd.fd = PQsocket(s->conn);
			pfd.events = POLLIN | (flush == 1 ? POLLOUT : 0);
			n = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
			if (n == -1 && errno != EINTR) {
				snprintf(cause, causelen, "database: poll: %s",
				    strerror(errno));
				store_disconnect(s);
				PQclear(last);
				return NULL;
			}
			if (n > 0 && (pfd.revents & (POLLIN | POLLHUP |
			    POLLERR)) && PQconsumeInput(s->conn) == 0)
				goto broken;
			if (flush == 1 && (flush = PQflush(s->conn)) == -1)
				goto broken;
		}
		if ((res = PQgetResult(s->conn)) == NULL)
			break;
		PQclear(last);
		last = res;
	}
	if (last == NULL)
		goto broken;
	if (PQstatus(s->conn) == CONNECTION_BAD) {
		/* The result may be a synthesized "connection lost" error. */
		if (PQresultStatus(last) != PGRES_FATAL_ERROR)
			goto broken;
	}
	return last;

broken:
	store_cause(cause, causelen, "database: connection lost: ",
	    PQerrorMessage(s->conn));
	PQclear(last);
	store_disconnect(s);
	return NULL;
}

static PGresult *
store_exec(struct store *s, const char *sql, long timeout_ms, char *cause,
    size_t causelen)
{
	if (PQsendQuery(s->conn, sql) == 0) {
		store_cause(cause, causelen, "database: ",
		    PQerrorMessage(s->conn));
		store_disconnect(s);
		return NULL;
	}
	return store_wait(s, timeout_ms, cause, causelen);
}

/*
 * One statement in its own transaction, bounded by statement_timeout: the
 * session's setting, or, pooled, a SET LOCAL sent in the same message.
 * The result is the statement's (the last).
 */
static PGresult *
store_exec_tx(struct store *s, const char *sql, char *cause, size_t causelen)
{
	PGresult	*res;
	char		*q;

	if (!s->pooled)
		return store_exec(s, sql, s->stmt_timeout_ms + STORE_GRACE_MS,
		    cause, causelen);
	if (asprintf(&q, "SET LOCAL statement_timeout = %ld; %s",
	    s->stmt_timeout_ms, sql) == -1) {
		snprintf(cause, causelen, "database: out of memory");
		return NULL;
	}
	res = store_exec(s, q, s->stmt_timeout_ms + STORE_GRACE_MS, cause,
	    causelen);
	free(q);
	return res;
}

static PGresult *
store_exec_params(struct store *s, const char *sql, int nparams,
    const char *const *values, char *cause, size_t causelen)
{
	if (PQsendQueryParams(s->conn, sql, nparams, NULL, values, NULL, NULL,
	    0) == 0) {
		store_cause(cause, causelen, "database: ",
		    PQerrorMessage(s->conn));
		store_disconnect(s);
		return NULL;
	}
	return store_wait(s, s->stmt_timeout_ms + STORE_GRACE_MS, cause,
	    causelen);
}

/* Is this SQLSTATE worth a retry?  See store_apply(). */
static int
store_sqlstate_transient(const char *st)
{
	if (st == NULL)
		return 1;
	if (strncmp(st, "FB", 2) == 0 || strncmp(st, "22", 2) == 0 ||
	    strncmp(st, "23", 2) == 0)
		return 0;
	return 1;
}

static int
store_result_ok(struct store *s, PGresult *res, const char *what, char *cause,
    size_t causelen)
{
	ExecStatusType	st = PQresultStatus(res);
	char		pfx[128];

	(void)s;
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return 0;
	snprintf(pfx, sizeof(pfx), "%s: ", what);
	store_cause(cause, causelen, pfx,
	    PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) != NULL ?
	    PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) :
	    PQresultErrorMessage(res));
	return -1;
}

static int	store_prepare_once(struct store *, char *, size_t);

#define STORE_MAX_ADDRS		16

/* The value of keyword in a parsed conninfo, else getenv(env), else NULL. */
static const char *
store_opt(PQconninfoOption *opts, const char *keyword, const char *env)
{
	PQconninfoOption	*o;

	for (o = opts; o != NULL && o->keyword != NULL; o++) {
		if (strcmp(o->keyword, keyword) == 0 && o->val != NULL &&
		    o->val[0] != '\0')
			return o->val;
	}
	return env != NULL && getenv(env) != NULL && getenv(env)[0] != '\0' ?
	    getenv(env) : NULL;
}

/*
 * libpq looks its host name up with getaddrinfo(), which connect_timeout
 * does not bound.  A single host name (not a socket directory, not an
 * address, no hostaddr, no service file) is looked up here, within
 * connect_timeout, and libpq is handed each of its addresses as hostaddr,
 * the name kept as host (for TLS verification and .pgpass), one host entry
 * per address, tried in order as libpq would.  Host lists and services
 * are left to libpq.  0 with *hostp and *addrp malloc'd (or both NULL:
 * nothing to do), -1 with a "database: ..." cause when the lookup fails.
 */
static int
store_lookup(struct store *s, char **hostp, char **addrp, char *cause,
    size_t causelen)
{
	PQconninfoOption	*opts;
	struct addrinfo		*res = NULL, *ai;
	unsigned char		 bin[sizeof(struct in6_addr)];
	char			 a[NI_MAXHOST], why[FB_CAUSE_MAX];
	char			*hosts = NULL, *addrs = NULL;
	const char		*host, *port;
	size_t			 hl, al, n = 0;
	int			 rv = 0;

	*hostp = *addrp = NULL;
	/* A plain database name, or malformed (libpq will say): the env. */
	if ((opts = PQconninfoParse(s->conninfo, NULL)) == NULL &&
	    (opts = PQconninfoParse("", NULL)) == NULL)
		return 0;
	host = store_opt(opts, "host", "PGHOST");
	port = store_opt(opts, "port", "PGPORT");
	if (host == NULL || host[0] == '/' || host[0] == '@' ||
	    strchr(host, ',') != NULL ||
	    store_opt(opts, "hostaddr", "PGHOSTADDR") != NULL ||
	    store_opt(opts, "service", "PGSERVICE") != NULL ||
	    (port != NULL && strchr(port, ',') != NULL) ||
	    inet_pton(AF_INET, host, bin) == 1 ||
	    inet_pton(AF_INET6, host, bin) == 1)
		goto out;
	if (net_resolve(host, port != NULL ? port : "5432", clock_now_ms() +
	    s->connect_timeout * 1000, s->connect_timeout * 1000, NULL, NULL,
	    &res, why, sizeof(why)) == -1) {
		store_cause(cause, causelen, "database: ", why);
		rv = -1;
		goto out;
	}
	hl = strlen(host) + 1;
	hosts = calloc(STORE_MAX_ADDRS, hl);
	addrs = calloc(STORE_MAX_ADDRS, sizeof(a));
	if (hosts == NULL || addrs == NULL) {
		snprintf(cause, causelen, "database: out of memory");
		rv = -1;
		goto out;
	}
	for (ai = res; ai != NULL && n < STORE_MAX_ADDRS; ai = ai->ai_next) {
		if (getnameinfo(ai->ai_addr, ai->ai_addrlen, a, sizeof(a), NULL,
		    0, NI_NUMERICHOST) != 0)
			continue;
		al = strlen(addrs);
		snprintf(addrs + al, STORE_MAX_ADDRS * sizeof(a) - al, "%s%s",
		    n > 0 ? "," : "", a);
		al = strlen(hosts);
		snprintf(hosts + al, STORE_MAX_ADDRS * hl - al, "%s%s",
		    n > 0 ? "," : "", host);
		n++;
	}
	if (n == 0) {
		snprintf(cause, causelen, "database: resolve %s: no usable "
		    "address", host);
		rv = -1;
		goto out;
	}
	*hostp = hosts;
	*addrp = addrs;
	hosts = addrs = NULL;
out:
	free(hosts);
	free(addrs);
	if (res != NULL)
		freeaddrinfo(res);
	PQconninfoFree(opts);
	return rv;
}

static int
store_connect(struct store *s, char *cause, size_t causelen)
{
	const char	*keys[6], *vals[6];
	char		 ct[32], sql[128], *hosts, *addrs;
	PGresult	*res;
	int		 n = 0;

	store_disconnect(s);
	if (store_lookup(s, &hosts, &addrs, cause, causelen) == -1)
		return -1;
	snprintf(ct, sizeof(ct), "%ld", s->connect_timeout);
	/* The conninfo first: what follows overrides what it expands to. */
	keys[n] = "dbname";
	vals[n++] = s->conninfo;
	if (hosts != NULL) {
		keys[n] = "host";
		vals[n++] = hosts;
		keys[n] = "hostaddr";
		vals[n++] = addrs;
	}
	keys[n] = "connect_timeout";
	vals[n++] = ct;
	keys[n] = "application_name";
	vals[n++] = FB_NAME;
	keys[n] = NULL;
	vals[n] = NULL;

	/* libpq never puts the password in PQerrorMessage(). */
	s->conn = PQconnectdbParams(keys, vals, 1);
	free(hosts);
	free(addrs);
	s->round_trips++;
	if (s->conn == NULL) {
		snprintf(cause, causelen, "database: out of memory");
		return -1;
	}
	if (PQstatus(s->conn) != CONNECTION_OK) {
		store_cause(cause, causelen, "database: ",
		    PQerrorMessage(s->conn));
		store_redact(cause, causelen, s->conninfo);
		store_disconnect(s);
		return -1;
	}
	PQsetNoticeProcessor(s->conn, store_notice_cb, NULL);
	s->prepared = 0;
	if (s->pooled)
		return 0;

	snprintf(sql, sizeof(sql), "SET statement_timeout = %ld",
	    s->stmt_timeout_ms);
	if ((res = store_exec(s, sql, s->stmt_timeout_ms + STORE_GRACE_MS,
	    cause, causelen)) == NULL)
		return -1;
	if (store_result_ok(s, res, "database", cause, causelen) == -1) {
		PQclear(res);
		store_disconnect(s);
		return -1;
	}
	PQclear(res);
	/* Best effort: fails harmlessly before --migrate; retried on use. */
	if (store_prepare_once(s, cause, causelen) == -1 && s->conn == NULL)
		return -1;
	return 0;
}

/*
 * A named prepared statement that is missing in the next transaction, or
 * present on a connection that never made it: a pooler in transaction
 * mode hands this connection's transactions to several server sessions.
 */
static void
store_pooler_seen(struct store *s)
{
	log_warnx("database: the prepared statement vanished between two "
	    "transactions, or came from another client: a pooler in "
	    "transaction mode?  Set database.transaction_pooling = true; "
	    "going on without prepared statements");
	s->pooled = 1;
}

/* Prepare the apply statement on demand (needs the schema installed). */
static int
store_prepare(struct store *s, char *cause, size_t causelen)
{
	PGresult	*res;
	const char	*st;
	int		 rc;

	if (PQsendPrepare(s->conn, STORE_APPLY_STMT, STORE_APPLY_SQL, 1,
	    NULL) == 0) {
		store_cause(cause, causelen, "database: ",
		    PQerrorMessage(s->conn));
		store_disconnect(s);
		return -1;
	}
	if ((res = store_wait(s, s->stmt_timeout_ms + STORE_GRACE_MS, cause,
	    causelen)) == NULL)
		return -1;
	st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	if (st != NULL && strcmp(st, "42P05") == 0) {
		PQclear(res);
		store_pooler_seen(s);
		return 0;
	}
	rc = store_result_ok(s, res, "database: prepare", cause, causelen);
	PQclear(res);
	return rc;
}

static int
store_prepare_once(struct store *s, char *cause, size_t causelen)
{
	if (s->prepared || s->pooled)
		return 0;
	if (store_prepare(s, cause, causelen) == -1)
		return -1;
	s->prepared = 1;
	return 0;
}

static int
store_ensure(struct store *s, char *cause, size_t causelen)
{
	if (s->conn != NULL && PQstatus(s->conn) == CONNECTION_OK)
		return 0;
	return store_connect(s, cause, causelen);
}

/* A store not connected yet: the first statement connects. */
struct store *
store_new(const struct fb_config *cfg, char *cause, size_t causelen)
{
	struct store	*s;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(cause, causelen, "out of memory");
		return NULL;
	}
	/* Secret memory: it may hold the password (secret.c). */
	s->conninfo = secret_strdup(cfg->conninfo != NULL ? cfg->conninfo :
	    "");
	if (s->conninfo == NULL) {
		free(s);
		snprintf(cause, causelen, "out of memory");
		return NULL;
	}
	s->connect_timeout = cfg->db_connect_timeout > 0 ?
	    cfg->db_connect_timeout : 5;
	s->stmt_timeout_ms = cfg->db_statement_timeout_ms > 0 ?
	    cfg->db_statement_timeout_ms : 5000;
	s->pooled = cfg->db_transaction_pooling;
	return s;
}

struct store *
store_open(const struct fb_config *cfg, char *cause, size_t causelen)
{
	struct store	*s;

	if ((s = store_new(cfg, cause, causelen)) == NULL)
		return NULL;
	if (store_connect(s, cause, causelen) == -1) {
		store_free(s);
		return NULL;
	}
	return s;
}

void
store_free(struct store *s)
{
	if (s == NULL)
		return;
	store_disconnect(s);
	secret_free(s->conninfo);
	free(s);
}

uint64_t
store_round_trips(const struct store *s)
{
	return s->round_trips;
}

/* The server process serving this connection (a pooler's, pooled), or 0. */
int
store_backend_pid(const struct store *s)
{
	return s->conn != NULL ? PQbackendPID(s->conn) : 0;
}

/* 0 with *version (0: not installed), -1 on a query error, -2 unreachable. */
int
store_schema_version(struct store *s, int *version, char *cause,
    size_t causelen)
{
	PGresult	*res;
	const char	*st;

	if (store_ensure(s, cause, causelen) == -1)
		return -2;
	res = store_exec_tx(s, "SELECT coalesce(max(version), 0) "
	    "FROM financebee_schema_version", cause, causelen);
	if (res == NULL)
		return -2;
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		if (st != NULL && strcmp(st, "42P01") == 0) {
			*version = 0;
			PQclear(res);
			return 0;
		}
		store_result_ok(s, res, "database", cause, causelen);
		PQclear(res);
		return -1;
	}
	*version = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

int
store_check_schema(struct store *s, char *cause, size_t causelen)
{
	int	version, rc;

	if ((rc = store_schema_version(s, &version, cause, causelen)) != 0)
		return -1;
	if (version == 0) {
		snprintf(cause, causelen, "database schema not installed "
		    "(run financebeed --migrate)");
		return -1;
	}
	if (version != FB_SCHEMA_VERSION) {
		snprintf(cause, causelen, "database schema version %d, this "
		    "binary needs %d (run the matching financebeed --migrate)",
		    version, FB_SCHEMA_VERSION);
		return -1;
	}
	return 0;
}

/* --- migrations ----------------------------------------------------------- */

struct store_migration {
	int	 version;
	char	*name;
};

static int
store_migration_cmp(const void *a, const void *b)
{
	const struct store_migration	*x = a, *y = b;

	return (x->version > y->version) - (x->version < y->version);
}

/* NNN_name.sql, name of [A-Za-z0-9_-]. */
static int
store_migration_name(const char *n)
{
	size_t	len = strlen(n), i;

	if (len < 9 || strcmp(n + len - 4, ".sql") != 0)
		return -1;
	for (i = 0; i < 3; i++)
		if (!isdigit((unsigned char)n[i]))
			return -1;
	if (n[3] != '_')
		return -1;
	for (i = 4; i < len - 4; i++)
		if (!isalnum((unsigned char)n[i]) && n[i] != '_' && n[i] != '-')
			return -1;
	return (n[0] - '0') * 100 + (n[1] - '0') * 10 + (n[2] - '0');
}

static char *
store_read_file(const char *path, char *cause, size_t causelen)
{
	FILE	*f;
	char	*buf;
	long	 len;

	if ((f = fopen(path, "re")) == NULL) {
		snprintf(cause, causelen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fseek(f, 0, SEEK_END) == -1 || (len = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) == -1 || len > 16 * 1024 * 1024) {
		snprintf(cause, causelen, "%s: cannot size", path);
		fclose(f);
		return NULL;
	}
	if ((buf = malloc((size_t)len + 1)) == NULL) {
		snprintf(cause, causelen, "out of memory");
		fclose(f);
		return NULL;
	}
	if (fread(buf, 1, (size_t)len, f) != (size_t)len) {
		snprintf(cause, causelen, "%s: short read", path);
		free(buf);
		fclose(f);
		return NULL;
	}
	buf[len] = '\0';
	fclose(f);
	if (strlen(buf) != (size_t)len) {
		snprintf(cause, causelen, "%s: NUL byte", path);
		free(buf);
		return NULL;
	}
	return buf;
}

static int
store_list_migrations(const char *dir, struct store_migration **out,
    size_t *nout, char *cause, size_t causelen)
{
	DIR			*d;
	struct dirent		*de;
	struct store_migration	*m = NULL, *tmp;
	size_t			 n = 0, i;
	int			 v;

	if ((d = opendir(dir)) == NULL) {
		snprintf(cause, causelen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if ((v = store_migration_name(de->d_name)) <= 0)
			continue;
		if (n == STORE_MAX_MIGRATIONS ||
		    (tmp = reallocarray(m, n + 1, sizeof(*m))) == NULL)
			goto fail;
		m = tmp;
		m[n].version = v;
		if ((m[n].name = strdup(de->d_name)) == NULL)
			goto fail;
		n++;
	}
	closedir(d);
	qsort(m, n, sizeof(*m), store_migration_cmp);
	for (i = 0; i < n; i++) {
		if (m[i].version != (int)i + 1) {
			snprintf(cause, causelen, "%s: migrations must be "
			    "numbered 001, 002, ... without gaps or twins "
			    "(at %s)", dir, m[i].name);
			goto bad;
		}
	}
	if (n == 0) {
		snprintf(cause, causelen, "%s: no NNN_name.sql migrations", dir);
		goto bad;
	}
	*out = m;
	*nout = n;
	return 0;

fail:
	closedir(d);
	snprintf(cause, causelen, "out of memory");
bad:
	for (i = 0; i < n; i++)
		free(m[i].name);
	free(m);
	return -1;
}

/*
 * Apply every pending migration in one transaction under an advisory lock.
 * Returns 0, or -1 (a migration failed: data/SQL), -2 (database unreachable)
 * or -3 (the SQL directory is unusable), with cause.
 */
int
store_migrate(struct store *s, const char *sqldir, int *version, char *cause,
    size_t causelen)
{
	struct store_migration	*m = NULL;
	size_t			 n = 0, i;
	PGresult		*res;
	char			 path[PATH_MAX], sql[256], what[PATH_MAX + 32];
	char			*text;
	const char		*v[2];
	char			 vb[16];
	int			 cur, rc = -1;

	if (sqldir == NULL)
		sqldir = FB_SQLDIR;
	if (store_list_migrations(sqldir, &m, &n, cause, causelen) == -1)
		return -3;
	if (store_ensure(s, cause, causelen) == -1) {
		rc = -2;
		goto out;
	}

	snprintf(sql, sizeof(sql), "BEGIN; SET LOCAL statement_timeout = %d; "
	    "SELECT pg_advisory_xact_lock(" STORE_LOCK_MIGRATE "); "
	    "CREATE TABLE IF NOT EXISTS financebee_schema_version ("
	    "version integer PRIMARY KEY, name text NOT NULL, "
	    "applied_at timestamptz NOT NULL DEFAULT now())",
	    STORE_MIGRATE_TIMEOUT_MS);
	if ((res = store_exec(s, sql, STORE_MIGRATE_TIMEOUT_MS +
	    STORE_GRACE_MS, cause, causelen)) == NULL) {
		rc = -2;
		goto out;
	}
	if (store_result_ok(s, res, "database: migrate", cause,
	    causelen) == -1) {
		PQclear(res);
		goto rollback;
	}
	PQclear(res);
	if ((res = store_exec(s, "SELECT coalesce(max(version), 0) FROM "
	    "financebee_schema_version", s->stmt_timeout_ms + STORE_GRACE_MS,
	    cause, causelen)) == NULL) {
		rc = -2;
		goto out;
	}
	if (store_result_ok(s, res, "database: migrate", cause,
	    causelen) == -1) {
		PQclear(res);
		goto rollback;
	}
	cur = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	if (cur > (int)n) {
		snprintf(cause, causelen, "database schema version %d is newer "
		    "than the newest migration in %s (%zu)", cur, sqldir, n);
		goto rollback;
	}

	for (i = (size_t)cur; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", sqldir, m[i].name);
		if ((text = store_read_file(path, cause, causelen)) == NULL) {
			rc = -3;
			goto rollback;
		}
		res = store_exec(s, text, STORE_MIGRATE_TIMEOUT_MS +
		    STORE_GRACE_MS, cause, causelen);
		free(text);
		if (res == NULL) {
			rc = -2;
			goto out;
		}
		snprintf(what, sizeof(what), "%s", m[i].name);
		if (store_result_ok(s, res, what, cause, causelen) == -1) {
			PQclear(res);
			goto rollback;
		}
		PQclear(res);
		snprintf(vb, sizeof(vb), "%d", m[i].version);
		v[0] = vb;
		v[1] = m[i].name;
		if ((res = store_exec_params(s, "INSERT INTO "
		    "financebee_schema_version (version, name) "
		    "VALUES ($1, $2)", 2, v, cause, causelen)) == NULL) {
			rc = -2;
			goto out;
		}
		if (store_result_ok(s, res, "database: migrate", cause,
		    causelen) == -1) {
			PQclear(res);
			goto rollback;
		}
		PQclear(res);
		cur = m[i].version;
	}
	if ((res = store_exec(s, "COMMIT", STORE_MIGRATE_TIMEOUT_MS,
	    cause, causelen)) == NULL) {
		rc = -2;
		goto out;
	}
	if (store_result_ok(s, res, "database: commit", cause,
	    causelen) == -1) {
		PQclear(res);
		goto rollback;
	}
	PQclear(res);
	*version = cur;
	rc = 0;
	/* The function may be new: prepare now, not on the first event. */
	(void)store_prepare_once(s, sql, sizeof(sql));
	goto out;

rollback:
	if (s->conn != NULL && (res = store_exec(s, "ROLLBACK",
	    s->stmt_timeout_ms + STORE_GRACE_MS, sql, sizeof(sql))) != NULL)
		PQclear(res);
out:
	for (i = 0; i < n; i++)
		free(m[i].name);
	free(m);
	return rc;
}

/* --- events ------------------------------------------------------------------ */

static enum store_outcome
store_apply_result(PGresult *res, json_t **detail, char *reason,
    size_t reasonlen)
{
	struct fbj_doc		*d;
	const struct fbj		*j, *o, *r;
	json_t			*loaded;
	enum store_outcome	 outcome;
	const char		*st, *text;
	size_t			 len;

	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		store_cause(reason, reasonlen, "",
		    PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) != NULL ?
		    PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) :
		    PQresultErrorMessage(res));
		if (store_sqlstate_transient(st)) {
			size_t	l = strlen(reason);

			snprintf(reason + l, reasonlen - l, " (SQLSTATE %s)",
			    st != NULL ? st : "none");
			return OUTCOME_TRANSIENT;
		}
		return OUTCOME_FAILED;
	}
	if (PQntuples(res) != 1 || PQnfields(res) != 1 ||
	    PQgetisnull(res, 0, 0)) {
		snprintf(reason, reasonlen, "database: unexpected reply shape");
		return OUTCOME_TRANSIENT;
	}
	/* The event's parser when it can (see fbj.c), else jansson's. */
	text = PQgetvalue(res, 0, 0);
	len = (size_t)PQgetlength(res, 0, 0);
	if ((d = fbj_parse(text, len, 0)) == NULL &&
	    (loaded = json_loadb(text, len, 0, NULL)) != NULL) {
		d = fbj_from_json(loaded);
		json_decref(loaded);
	}
	j = fbj_root(d);
	if (!fbj_is_object(j) || !fbj_is_string(o = fbj_object_get(j,
	    "outcome")) || store_outcome_parse(fbj_string_value(o),
	    &outcome) == -1 || outcome == OUTCOME_TRANSIENT) {
		fbj_free(d);
		snprintf(reason, reasonlen, "database: unexpected reply");
		return OUTCOME_TRANSIENT;
	}
	if (fbj_is_string(r = fbj_object_get(j, "reason")))
		snprintf(reason, reasonlen, "%s", fbj_string_value(r));
	if (detail != NULL && (r = fbj_object_get(j, "detail")) != NULL)
		*detail = fbj_to_json(r);
	fbj_free(d);
	return outcome;
}

/*
 * Permanent: our own SQLSTATE class FB, data exceptions (22) and integrity
 * violations (23): the event itself is bad.  Anything else (serialization,
 * deadlock, lock or statement timeout, connection, resources, a missing
 * function after a botched deploy...) is transient: the task is left to be
 * retried rather than closed failed, so no event is lost to an outage.
 */
enum store_outcome
store_apply(struct store *s, json_t *change, int dry_run, json_t **detail,
    char *reason, size_t reasonlen)
{
	enum store_outcome	 outcome;
	char			*text;

	if (detail != NULL)
		*detail = NULL;
	if ((text = json_dumps(change, JSON_COMPACT)) == NULL) {
		snprintf(reason, reasonlen, "change document not serialisable");
		return OUTCOME_FAILED;
	}
	outcome = store_apply_text(s, text, dry_run, detail, reason,
	    reasonlen);
	free(text);
	return outcome;
}

/* Pooled: the timeout and the call in one message, the document inline. */
static PGresult *
store_apply_pooled(struct store *s, const char *text, char *reason,
    size_t reasonlen)
{
	PGresult	*res;
	char		*lit, *q;

	if ((lit = PQescapeLiteral(s->conn, text, strlen(text))) == NULL) {
		store_cause(reason, reasonlen, "database: ",
		    PQerrorMessage(s->conn));
		return NULL;
	}
	if (asprintf(&q, "SET LOCAL statement_timeout = %ld; "
	    "SELECT fb_apply_event(%s::jsonb)", s->stmt_timeout_ms, lit) == -1) {
		PQfreemem(lit);
		snprintf(reason, reasonlen, "database: out of memory");
		return NULL;
	}
	PQfreemem(lit);
	res = store_exec(s, q, s->stmt_timeout_ms + STORE_GRACE_MS, reason,
	    reasonlen);
	free(q);
	return res;
}

enum store_outcome
store_apply_text(struct store *s, const char *text, int dry_run,
    json_t **detail, char *reason, size_t reasonlen)
{
	PGresult		*res;
	const char		*vals[1], *st;
	enum store_outcome	 outcome;

	if (detail != NULL)
		*detail = NULL;
	*reason = '\0';
	if (store_ensure(s, reason, reasonlen) == -1 ||
	    store_prepare_once(s, reason, reasonlen) == -1)
		return OUTCOME_TRANSIENT;
	if (dry_run) {
		if ((res = store_exec(s, "BEGIN", s->stmt_timeout_ms +
		    STORE_GRACE_MS, reason, reasonlen)) == NULL)
			return OUTCOME_TRANSIENT;
		PQclear(res);
	}
again:
	if (s->pooled)
		res = store_apply_pooled(s, text, reason, reasonlen);
	else {
		vals[0] = text;
		if (PQsendQueryPrepared(s->conn, STORE_APPLY_STMT, 1, vals,
		    NULL, NULL, 0) == 0) {
			store_cause(reason, reasonlen, "database: ",
			    PQerrorMessage(s->conn));
			store_disconnect(s);
			return OUTCOME_TRANSIENT;
		}
		res = store_wait(s, s->stmt_timeout_ms + STORE_GRACE_MS, reason,
		    reasonlen);
	}
	if (res == NULL)
		return OUTCOME_TRANSIENT;
	st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	if (!s->pooled && !dry_run && st != NULL && strcmp(st, "26000") == 0) {
		/* Prepared on one server session, run on another. */
		PQclear(res);
		store_pooler_seen(s);
		goto again;
	}
	outcome = store_apply_result(res, detail, reason, reasonlen);
	PQclear(res);
	if (dry_run && s->conn != NULL) {
		char	tmp[FB_CAUSE_MAX];

		if ((res = store_exec(s, "ROLLBACK", s->stmt_timeout_ms +
		    STORE_GRACE_MS, tmp, sizeof(tmp))) != NULL)
			PQclear(res);
	}
	return outcome;
}

/*
 * A cheap probe: (re)connect if needed and run "SELECT 1".  0 when the
 * database answers, else -1 + cause (the connection is dropped).
 */
int
store_ping(struct store *s, char *cause, size_t causelen)
{
	PGresult	*res;
	int		 rc;

	if (store_ensure(s, cause, causelen) == -1)
		return -1;
	if ((res = store_exec(s, "SELECT 1", s->stmt_timeout_ms +
	    STORE_GRACE_MS, cause, causelen)) == NULL)
		return -1;
	rc = store_result_ok(s, res, "database", cause, causelen);
	PQclear(res);
	if (rc == -1)
		store_disconnect(s);
	return rc;
}

/*
 * Delete markers and never-matched parked events older than max_age_days,
 * in bounded batches (each its own short transaction).  Rows deleted, or -1.
 */
long
store_prune(struct store *s, int max_age_days, char *cause, size_t causelen)
{
	PGresult	*res;
	char		 q[64];
	long		 total = 0, n;
	int		 i;

	if (max_age_days < 1) {
		snprintf(cause, causelen, "prune age must be at least 1 day");
		return -1;
	}
	if (store_ensure(s, cause, causelen) == -1)
		return -1;
	snprintf(q, sizeof(q), "SELECT fb_prune(%d, %d)", max_age_days,
	    STORE_PRUNE_BATCH);
	for (i = 0; i < 100000; i++) {
		res = store_exec_tx(s, q, cause, causelen);
		if (res == NULL)
			return -1;
		if (store_result_ok(s, res, "database: prune", cause,
		    causelen) == -1) {
			PQclear(res);
			return -1;
		}
		n = atol(PQgetvalue(res, 0, 0));
		PQclear(res);
		total += n;
		if (n == 0)
			break;
	}
	return total;
}
