/*
 * admin.c: the admin socket, served from the master's event loop.
 *
 * Wire format (documented for operators in fbeectl(8)).  A client sends
 * one request per line, words separated by spaces or tabs, printable
 * ASCII only, at most ADMIN_MAXREQ bytes including the newline:
 *
 *	COMMAND [ARG ...]\n
 *
 * Every request gets exactly one reply: a header line, then a body of
 * exactly NBYTES bytes (which ends with a newline):
 *
 *	OK NBYTES\n<body>	the command was done
 *	ERR NBYTES\n<body>	it failed or the request was bad; body says why
 *	DENIED NBYTES\n<body>	the peer's credentials do not allow it
 *
 * Bodies are JSON (status, executors), Prometheus text (metrics) or a
 * one-line message.  Requests on one connection are answered in order; a
 * reload holds its connection until the master reports the outcome.  An
 * oversized or non-text request is answered with ERR and the connection is
 * closed.  Peers are identified with SO_PEERCRED: root and the daemon's own
 * user may do everything, members of admin.groups too, members of
 * admin.readonly_groups only the read-only commands.
 *
 * No local user can lock the others out or grow the master: a peer
 * without access is answered DENIED and closed at accept, holding no
 * slot; the last ADMIN_RESERVED of the ADMIN_MAXCLIENTS slots are for
 * full-admin peers; a client has ADMIN_REQUEST_TIMEOUT seconds to send
 * each complete request; a client's unread replies are capped (it is not
 * read meanwhile) and so is everyone's total; refusals are logged at
 * most once per ADMIN_LOG_INTERVAL plus a count.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "financebeed.h"

#define ADMIN_MAXREQ		4096	/* bytes per request line */
#define ADMIN_MAXARGS		8
#define ADMIN_MAXCLIENTS	64
#define ADMIN_RESERVED		4	/* of those, for full-admin peers only */
#define ADMIN_CLIENT_MAXOUT	(64 * 1024)	/* a client's unread replies */
#define ADMIN_TOTAL_MAXOUT	(1024 * 1024)	/* everyone's */
#define ADMIN_MAXIN		(16 * 1024)	/* read ahead per client */
#define ADMIN_REQUEST_TIMEOUT	5	/* s to send a complete request */
#define ADMIN_WRITE_TIMEOUT	10	/* s for a reply to drain */
#define ADMIN_LOG_INTERVAL	10	/* s: refusals logged once per */
#define ADMIN_BACKLOG		16

enum admin_perm {
	ADMIN_PERM_NONE = 0,
	ADMIN_PERM_READ,
	ADMIN_PERM_ALL
};

struct admin_client {
	TAILQ_ENTRY(admin_client) entry;
	struct bufferevent	*bev;
	unsigned long		 id;
	uid_t			 uid;
	gid_t			 gid;
	pid_t			 pid;
	enum admin_perm		 perm;
	int			 held;		/* a command answers later */
	int			 throttled;	/* output too large: not reading */
	int			 closing;	/* close once output is written */
	struct event		*deadline;	/* for its next request */
};
TAILQ_HEAD(admin_clients, admin_client);

/*
 * Refusals are logged at once, then counted: one line per
 * ADMIN_LOG_INTERVAL with the number refused meanwhile, so that nobody
 * floods the log by connecting.
 */
struct admin_ratelog {
	const char		*what;
	struct event		*ev;
	int			 armed;		/* an interval runs */
	unsigned long		 count;		/* refused in it, not logged */
	uid_t			 last_uid;
};


static struct {
	struct event_base	*base;
	struct evconnlistener	*listener;
	struct event		*resume;	/* accept again after EMFILE */
	char			*path;
	mode_t			 mode;
	dev_t			 dev;
	ino_t			 ino;
	gid_t			*admin_gids;
	size_t			 nadmin_gids;
	gid_t			*ro_gids;
	size_t			 nro_gids;
	struct admin_clients	 clients;
	unsigned int		 nclients;
	unsigned long		 nextid;
	const struct admin_cmd	*cmds;
	size_t			 ncmds;
	struct admin_ratelog	 log_noaccess;
	struct admin_ratelog	 log_full;
	struct admin_ratelog	 log_denied;
} admin = {
	.clients = TAILQ_HEAD_INITIALIZER(admin.clients),
	.log_noaccess = { .what = "connections without access" },
	.log_full = { .what = "connections over the client limit" },
	.log_denied = { .what = "commands beyond read-only access" },
};

static void	admin_process(struct admin_client *);

/* --- replies ------------------------------------------------------------ */

static void
admin_reply(struct admin_client *c, const char *status, const char *body,
    size_t len)
{
	struct evbuffer	*out = bufferevent_get_output(c->bev);

	if (evbuffer_add_printf(out, "%s %zu\n", status, len) == -1 ||
	    evbuffer_add(out, body, len) == -1) {
		log_warnx("admin: uid %u: cannot queue reply", (unsigned)c->uid);
		c->closing = 1;
	}
}

/* A body that may lack its final newline (JSON text, metrics). */
void
admin_reply_text(struct admin_client *c, const char *body)
{
	struct evbuffer	*out = bufferevent_get_output(c->bev);
	size_t		 len = strlen(body);
	int		 nl = len == 0 || body[len - 1] != '\n';

	if (evbuffer_add_printf(out, "OK %zu\n", len + nl) == -1 ||
	    evbuffer_add(out, body, len) == -1 ||
	    (nl && evbuffer_add(out, "\n", 1) == -1)) {
		log_warnx("admin: uid %u: cannot queue reply", (unsigned)c->uid);
		c->closing = 1;
	}
}

void
admin_replyf(struct admin_client *c, const char *status, const char *fmt, ...)
{
	char	buf[FB_CAUSE_MAX + 128];
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n > sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	buf[n] = '\0';
	admin_reply(c, status, buf, n);
}

/* JSON bodies are compact, one line, newline-terminated. */
void
admin_reply_json(struct admin_client *c, json_t *j)
{
	char	*s;

	if (j == NULL) {
		admin_replyf(c, "ERR", "no data from the master");
		return;
	}
	/* 15 digits: a rounded figure prints as such, a timestamp whole. */
	s = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII |
	    JSON_REAL_PRECISION(15));
	json_decref(j);
	if (s == NULL) {
		admin_replyf(c, "ERR", "cannot encode the reply");
		return;
	}
	admin_reply_text(c, s);
	free(s);
}

/* --- for the command handlers (control.c) ----------------------------- */

uid_t
admin_client_uid(const struct admin_client *c)
{
	return c->uid;
}

/*
 * Hold a client while its command completes later: nothing more is read
 * from it until admin_release().  The id outlives the client: it may be
 * gone (or the socket closed) by the time the answer comes.
 */
unsigned long
admin_hold(struct admin_client *c)
{
	c->held = 1;
	bufferevent_disable(c->bev, EV_READ);
	return c->id;
}

struct admin_client *
admin_held(unsigned long id)
{
	struct admin_client	*c;

	TAILQ_FOREACH(c, &admin.clients, entry) {
		if (c->id == id)
			return c->held ? c : NULL;
	}
	return NULL;
}

void
admin_release(struct admin_client *c)
{
	c->held = 0;
	if (!c->closing && !c->throttled) {
		bufferevent_enable(c->bev, EV_READ);
		admin_process(c);
	}
}

/* Run fn(arg) in its own loop iteration (it may close the socket). */
int
admin_defer(void (*fn)(int, short, void *), void *arg)
{
	return event_base_once(admin.base, -1, EV_TIMEOUT, fn, arg, NULL);
}

/* --- refusals, logged rate-limited ---------------------------------------- */

static void
admin_ratelog_cb(evutil_socket_t fd, short what, void *arg)
{
	struct admin_ratelog	*r = arg;
	struct timeval		 tv = { ADMIN_LOG_INTERVAL, 0 };

	if (r->count == 0) {
		r->armed = 0;
		return;
	}
	log_warnx("admin: refused %lu more %s in the last %d s (the last "
	    "from uid %u)", r->count, r->what, ADMIN_LOG_INTERVAL,
	    (unsigned)r->last_uid);
	r->count = 0;
	evtimer_add(r->ev, &tv);
}

/* 1 when the caller is to log this refusal itself, 0 when it is counted. */
static int
admin_ratelog(struct admin_ratelog *r, uid_t uid)
{
	struct timeval	tv = { ADMIN_LOG_INTERVAL, 0 };

	r->last_uid = uid;
	if (r->armed) {
		r->count++;
		return 0;
	}
	if (r->ev == NULL && admin.base != NULL)
		r->ev = evtimer_new(admin.base, admin_ratelog_cb, r);
	if (r->ev != NULL && evtimer_add(r->ev, &tv) == 0)
		r->armed = 1;
	return 1;
}

static void
admin_ratelog_free(struct admin_ratelog *r)
{
	if (r->ev != NULL)
		event_free(r->ev);
	r->ev = NULL;
	r->armed = 0;
	r->count = 0;
}

/* --- connections -------------------------------------------------------- */

static int
admin_gid_in(gid_t gid, const gid_t *list, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (list[i] == gid)
			return 1;
	}
	return 0;
}

/*
 * The peer's groups as the kernel has them (SO_PEERGROUPS, Linux 4.13),
 * like a file permission check: no NSS lookup, so a slow directory
 * service never stalls the master, and a process that dropped or was
 * given a group is judged by what it holds.  Without SO_PEERGROUPS only
 * the primary gid counts.
 */
static enum admin_perm
admin_peer_perm(int fd, uid_t uid, gid_t gid)
{
	gid_t		 stackgroups[64], *groups = stackgroups;
	socklen_t	 len = sizeof(stackgroups);
	size_t		 n = 0, i;
	int		 ro = 0;
	enum admin_perm	 perm = ADMIN_PERM_NONE;

	if (uid == 0 || uid == geteuid())
		return ADMIN_PERM_ALL;
	if (admin.nadmin_gids == 0 && admin.nro_gids == 0)
		return ADMIN_PERM_NONE;
#ifdef SO_PEERGROUPS
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == 0)
		n = len / sizeof(gid_t);
	else if (errno == ERANGE && len > 0 && len <= 65536 * sizeof(gid_t) &&
	    (groups = malloc(len)) != NULL) {
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == 0)
			n = len / sizeof(gid_t);
	} else
		groups = stackgroups;
#else
	(void)fd;
	(void)len;
#endif
	for (i = 0; i < n; i++) {
		if (admin_gid_in(groups[i], admin.admin_gids,
		    admin.nadmin_gids)) {
			perm = ADMIN_PERM_ALL;
			break;
		}
		if (admin_gid_in(groups[i], admin.ro_gids, admin.nro_gids))
			ro = 1;
	}
	if (perm == ADMIN_PERM_NONE && admin_gid_in(gid, admin.admin_gids,
	    admin.nadmin_gids))
		perm = ADMIN_PERM_ALL;
	if (perm == ADMIN_PERM_NONE && (ro ||
	    admin_gid_in(gid, admin.ro_gids, admin.nro_gids)))
		perm = ADMIN_PERM_READ;
	if (groups != stackgroups)
		free(groups);
	return perm;
}

static void
admin_client_free(struct admin_client *c)
{
	TAILQ_REMOVE(&admin.clients, c, entry);
	admin.nclients--;
	if (c->deadline != NULL)
		event_free(c->deadline);
	bufferevent_free(c->bev);
	free(c);
}

/* The time a client has to send its next complete request. */
static void
admin_arm(struct admin_client *c)
{
	struct timeval	tv = { ADMIN_REQUEST_TIMEOUT, 0 };

	if (c->deadline != NULL)
		evtimer_add(c->deadline, &tv);
}

/*
 * No complete request in time.  A client waiting for a reload's outcome,
 * or one whose replies are still being written (the write timeout covers
 * a client that stopped reading), is given more time; any other is
 * dropped, so that idle or trickling clients do not hold their slots.
 */
static void
admin_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct admin_client	*c = arg;

	if (c->held || evbuffer_get_length(bufferevent_get_output(c->bev)) >
	    0) {
		admin_arm(c);
		return;
	}
	log_debug("admin: uid %u: no complete request within %d s, closing",
	    (unsigned)c->uid, ADMIN_REQUEST_TIMEOUT);
	admin_client_free(c);
}

/* The replies all clients have not read yet, in bytes. */
static size_t
admin_total_out(void)
{
	struct admin_client	*c;
	size_t			 n = 0;

	TAILQ_FOREACH(c, &admin.clients, entry)
		n += evbuffer_get_length(bufferevent_get_output(c->bev));
	return n;
}

/*
 * May this client's next request be answered now?  One with nothing
 * unread always may (its reply is bounded); one with replies piling up
 * only below its own cap and while everyone's stays below the total cap.
 * A client refused here is read again when its output has drained.
 */
static int
admin_may_serve(struct admin_client *c)
{
	size_t	out = evbuffer_get_length(bufferevent_get_output(c->bev));

	if (out == 0)
		return 1;
	return out <= ADMIN_CLIENT_MAXOUT &&
	    admin_total_out() <= ADMIN_TOTAL_MAXOUT;
}

/* Stop reading; the client is freed once its output has drained. */
static void
admin_client_finish(struct admin_client *c)
{
	c->closing = 1;
	bufferevent_disable(c->bev, EV_READ);
}

static void
admin_dispatch(struct admin_client *c, char *line)
{
	const struct admin_cmd	*cmd = NULL;
	char			*argv[ADMIN_MAXARGS + 1], *p, *w;
	int			 argc = 0;
	size_t			 i;

	for (p = line; (w = strsep(&p, " \t")) != NULL;) {
		if (*w == '\0')
			continue;
		if (argc == ADMIN_MAXARGS) {
			admin_replyf(c, "ERR", "too many arguments");
			return;
		}
		argv[argc++] = w;
	}
	argv[argc] = NULL;
	if (argc == 0) {
		admin_replyf(c, "ERR", "empty request");
		return;
	}
	for (i = 0; i < admin.ncmds; i++) {
		if (strcmp(argv[0], admin.cmds[i].name) == 0) {
			cmd = &admin.cmds[i];
			break;
		}
	}
	if (cmd == NULL) {
		admin_replyf(c, "ERR", "unknown command: %.64s", argv[0]);
		return;
	}
	if (c->perm == ADMIN_PERM_NONE ||
	    (c->perm == ADMIN_PERM_READ && !cmd->readonly)) {
		if (admin_ratelog(&admin.log_denied, c->uid))
			log_warnx("admin: refused %s from uid %u gid %u pid %ld",
			    cmd->name, (unsigned)c->uid, (unsigned)c->gid,
			    (long)c->pid);
		admin_replyf(c, "DENIED", "permission denied: uid %u may not "
		    "run %s", (unsigned)c->uid, cmd->name);
		return;
	}
	if (argc - 1 < cmd->minargs || argc - 1 > cmd->maxargs) {
		admin_replyf(c, "ERR", "usage: %s", cmd->usage);
		return;
	}
	cmd->fn(c, argc, argv);
}

/* Answer every complete request buffered, unless held by a reload. */
static void
admin_process(struct admin_client *c)
{
	struct evbuffer	*in = bufferevent_get_input(c->bev);
	struct evbuffer	*out = bufferevent_get_output(c->bev);
	char		*line;
	size_t		 len, i;

	(void)out;
	while (!c->held && !c->closing) {
		if (!admin_may_serve(c)) {
			/* A client that does not read its replies. */
			c->throttled = 1;
			bufferevent_disable(c->bev, EV_READ);
			break;
		}
		line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF);
		if (line == NULL) {
			if (evbuffer_get_length(in) >= ADMIN_MAXREQ) {
				admin_replyf(c, "ERR", "request too long");
				admin_client_finish(c);
			}
			break;
		}
		if (len >= ADMIN_MAXREQ) {
			free(line);
			admin_replyf(c, "ERR", "request too long");
			admin_client_finish(c);
			break;
		}
		if (len > 0 && line[len - 1] == '\r')
			line[--len] = '\0';
		for (i = 0; i < len; i++) {
			if ((line[i] < 0x20 || line[i] > 0x7e) &&
			    line[i] != '\t')
				break;
		}
		if (i != len) {
			free(line);
			admin_replyf(c, "ERR", "request is not text");
			admin_client_finish(c);
			break;
		}
		admin_arm(c);
		admin_dispatch(c, line);
		free(line);
	}
	if (c->closing)
		bufferevent_disable(c->bev, EV_READ);
}

static void
admin_read_cb(struct bufferevent *bev, void *arg)
{
	admin_process(arg);
}

static void
admin_write_cb(struct bufferevent *bev, void *arg)
{
	struct admin_client	*c = arg;

	if (c->closing && !c->held) {
		admin_client_free(c);
		return;
	}
	if (c->throttled) {
		c->throttled = 0;
		if (!c->held) {
			bufferevent_enable(c->bev, EV_READ);
			admin_process(c);
		}
	}
}

static void
admin_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct admin_client	*c = arg;
	struct evbuffer		*out = bufferevent_get_output(bev);

	if (what & BEV_EVENT_EOF) {
		/*
		 * The peer may have only shut down its side after its last
		 * request: answer what is pending, then close.
		 */
		admin_client_finish(c);
		if (c->held || evbuffer_get_length(out) > 0)
			return;
	} else if (what & BEV_EVENT_TIMEOUT)
		log_debug("admin: uid %u: replies not read for %d s, closing",
		    (unsigned)c->uid, ADMIN_WRITE_TIMEOUT);
	else if (what & BEV_EVENT_ERROR)
		log_debug("admin: uid %u: connection error: %s",
		    (unsigned)c->uid, strerror(errno));
	admin_client_free(c);
}

/* Refused at once: a best-effort reply, and the slot is never taken. */
static void
admin_refuse_fd(int fd, const char *status, const char *msg)
{
	char	buf[160];
	int	n;

	n = snprintf(buf, sizeof(buf), "%s %zu\n%s\n", status,
	    strlen(msg) + 1, msg);
	if (n > 0 && (size_t)n < sizeof(buf))
		(void)!send(fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
	close(fd);
}

static void
admin_accept_cb(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct admin_client	*c;
	struct ucred		 cred;
	socklen_t		 len = sizeof(cred);
	struct timeval		 wtv = { ADMIN_WRITE_TIMEOUT, 0 };
	enum admin_perm		 perm;
	char			 msg[128];

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
		log_warn("admin: SO_PEERCRED");
		close(fd);
		return;
	}
	/* Judged before anything is kept for the peer. */
	if ((perm = admin_peer_perm(fd, cred.uid, cred.gid)) ==
	    ADMIN_PERM_NONE) {
		if (admin_ratelog(&admin.log_noaccess, cred.uid))
			log_warnx("admin: refused uid %u gid %u pid %ld: no "
			    "access", (unsigned)cred.uid, (unsigned)cred.gid,
			    (long)cred.pid);
		snprintf(msg, sizeof(msg), "permission denied: uid %u may "
		    "not use the admin socket", (unsigned)cred.uid);
		admin_refuse_fd(fd, "DENIED", msg);
		return;
	}
	/* The last ADMIN_RESERVED slots are for full-admin peers. */
	if (admin.nclients >= ADMIN_MAXCLIENTS - (perm == ADMIN_PERM_ALL ?
	    0 : ADMIN_RESERVED)) {
		if (admin_ratelog(&admin.log_full, cred.uid))
			log_warnx("admin: too many clients, refusing uid %u",
			    (unsigned)cred.uid);
		admin_refuse_fd(fd, "ERR", "too many clients");
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("admin: calloc");
		close(fd);
		return;
	}
	c->bev = bufferevent_socket_new(admin.base, fd, BEV_OPT_CLOSE_ON_FREE);
	c->deadline = evtimer_new(admin.base, admin_deadline_cb, c);
	if (c->bev == NULL || c->deadline == NULL) {
		log_warnx("admin: cannot create a bufferevent");
		if (c->deadline != NULL)
			event_free(c->deadline);
		if (c->bev != NULL)
			bufferevent_free(c->bev);
		else
			close(fd);
		free(c);
		return;
	}
	c->id = ++admin.nextid;
	c->uid = cred.uid;
	c->gid = cred.gid;
	c->pid = cred.pid;
	c->perm = perm;
	TAILQ_INSERT_TAIL(&admin.clients, c, entry);
	admin.nclients++;
	bufferevent_setcb(c->bev, admin_read_cb, admin_write_cb,
	    admin_event_cb, c);
	bufferevent_set_timeouts(c->bev, NULL, &wtv);
	bufferevent_setwatermark(c->bev, EV_READ, 0, ADMIN_MAXIN);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	admin_arm(c);
	log_debug("admin: client uid %u gid %u pid %ld (%s)",
	    (unsigned)c->uid, (unsigned)c->gid, (long)c->pid,
	    c->perm == ADMIN_PERM_ALL ? "admin" :
	    c->perm == ADMIN_PERM_READ ? "read-only" : "no access");
}

static void
admin_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	if (admin.listener != NULL)
		evconnlistener_enable(admin.listener);
}

/* Out of descriptors: pause accepting for a second instead of spinning. */
static void
admin_accept_error_cb(struct evconnlistener *l, void *arg)
{
	struct timeval	tv = { 1, 0 };

	log_warn("admin: accept");
	if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
	    errno == ENOMEM) {
		evconnlistener_disable(l);
		if (admin.resume != NULL)
			evtimer_add(admin.resume, &tv);
	}
}

/* --- setup -------------------------------------------------------------- */

static int
admin_resolve_groups(char **names, size_t n, const char *key, gid_t **out,
    size_t *nout, char *cause, size_t causelen)
{
	struct group	*gr;
	gid_t		*gids = NULL;
	size_t		 i;

	*out = NULL;
	*nout = 0;
	if (n == 0)
		return 0;
	if ((gids = calloc(n, sizeof(*gids))) == NULL) {
		snprintf(cause, causelen, "%s: %s", key, strerror(errno));
		return -1;
	}
	for (i = 0; i < n; i++) {
		errno = 0;
		if ((gr = getgrnam(names[i])) == NULL) {
			snprintf(cause, causelen, "admin.%s: unknown group "
			    "\"%.64s\"", key, names[i]);
			free(gids);
			return -1;
		}
		gids[i] = gr->gr_gid;
	}
	*out = gids;
	*nout = n;
	return 0;
}

/*
 * Resolve admin.groups and admin.readonly_groups (again, on reload: the
 * socket itself keeps its path and mode until a restart).
 */
int
admin_set_groups(const struct fb_config *cfg, char *cause, size_t causelen)
{
	gid_t	*ag, *rg;
	size_t	 nag, nrg;

	if (admin_resolve_groups(cfg->admin_groups, cfg->nadmin_groups,
	    "groups", &ag, &nag, cause, causelen) == -1)
		return -1;
	if (admin_resolve_groups(cfg->readonly_groups, cfg->nreadonly_groups,
	    "readonly_groups", &rg, &nrg, cause, causelen) == -1) {
		free(ag);
		return -1;
	}
	free(admin.admin_gids);
	free(admin.ro_gids);
	admin.admin_gids = ag;
	admin.nadmin_gids = nag;
	admin.ro_gids = rg;
	admin.nro_gids = nrg;
	return 0;
}

/*
 * A second daemon must not steal a live socket; a socket left behind by a
 * crash is removed.
 */
static int
admin_check_stale(const struct sockaddr_un *sun, char *cause, size_t causelen)
{
	struct stat	 st;
	int		 fd, rc, saved;

	if (lstat(sun->sun_path, &st) == -1) {
		if (errno == ENOENT)
			return 0;
		snprintf(cause, causelen, "admin socket %s: %s", sun->sun_path,
		    strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(cause, causelen, "admin socket %s: exists and is not "
		    "a socket", sun->sun_path);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1) {
		snprintf(cause, causelen, "socket: %s", strerror(errno));
		return -1;
	}
	rc = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
	saved = errno;
	close(fd);
	if (rc == 0 || saved == EAGAIN || saved == EINPROGRESS) {
		snprintf(cause, causelen, "another financebeed is running "
		    "(admin socket %s answers)", sun->sun_path);
		return -1;
	}
	if (saved != ECONNREFUSED) {
		snprintf(cause, causelen, "admin socket %s: %s", sun->sun_path,
		    strerror(saved));
		return -1;
	}
	log_info("admin: removing stale socket %s", sun->sun_path);
	if (unlink(sun->sun_path) == -1 && errno != ENOENT) {
		snprintf(cause, causelen, "unlink %s: %s", sun->sun_path,
		    strerror(errno));
		return -1;
	}
	return 0;
}

int
admin_open(struct event_base *base, const struct fb_config *cfg,
    const struct admin_cmd *cmds, size_t ncmds, char *cause,
    size_t causelen)
{
	struct sockaddr_un	 sun;
	struct stat		 st;
	mode_t			 mode, old;
	int			 fd;

	if (admin.listener != NULL) {
		snprintf(cause, causelen, "admin socket already open");
		return -1;
	}
	admin.cmds = cmds;
	admin.ncmds = ncmds;
	if (cfg->admin_path == NULL || *cfg->admin_path == '\0') {
		snprintf(cause, causelen, "admin.socket: no path");
		return -1;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(cfg->admin_path) >= sizeof(sun.sun_path)) {
		snprintf(cause, causelen, "admin.socket: path too long "
		    "(at most %zu bytes)", sizeof(sun.sun_path) - 1);
		return -1;
	}
	memcpy(sun.sun_path, cfg->admin_path, strlen(cfg->admin_path));
	mode = cfg->admin_mode & 0777;	/* config.c defaults it to 0660 */
	if (admin_set_groups(cfg, cause, causelen) == -1)
		return -1;
	if (admin_check_stale(&sun, cause, causelen) == -1)
		goto fail;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1) {
		snprintf(cause, causelen, "socket: %s", strerror(errno));
		goto fail;
	}
	/* Created with its final mode: no window where it is wider. */
	old = umask(~mode & 0777);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		snprintf(cause, causelen, "bind %s: %s", sun.sun_path,
		    strerror(errno));
		umask(old);
		close(fd);
		goto fail;
	}
	umask(old);
	if (chmod(sun.sun_path, mode) == -1 || lstat(sun.sun_path, &st) == -1 ||
	    listen(fd, ADMIN_BACKLOG) == -1) {
		snprintf(cause, causelen, "admin socket %s: %s", sun.sun_path,
		    strerror(errno));
		unlink(sun.sun_path);
		close(fd);
		goto fail;
	}
	admin.listener = evconnlistener_new(base, admin_accept_cb, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
	if (admin.listener == NULL) {
		snprintf(cause, causelen, "admin socket %s: cannot listen",
		    sun.sun_path);
		unlink(sun.sun_path);
		close(fd);
		goto fail;
	}
	evconnlistener_set_error_cb(admin.listener, admin_accept_error_cb);
	admin.resume = evtimer_new(base, admin_resume_cb, NULL);
	if (admin.resume == NULL || (admin.path = strdup(sun.sun_path)) ==
	    NULL) {
		snprintf(cause, causelen, "admin socket: out of memory");
		admin_close();
		return -1;
	}
	admin.base = base;
	admin.mode = mode;
	admin.dev = st.st_dev;
	admin.ino = st.st_ino;
	log_info("admin: listening on %s (mode %04o)", admin.path,
	    (unsigned)mode);
	return 0;

fail:
	free(admin.admin_gids);
	free(admin.ro_gids);
	admin.admin_gids = admin.ro_gids = NULL;
	admin.nadmin_gids = admin.nro_gids = 0;
	return -1;
}

/*
 * Last chance for a reply such as the one to "stop": one non-blocking
 * write.  The bufferevent keeps its output frozen outside its own
 * callbacks, and the client is freed right after.
 */
static void
admin_flush(struct admin_client *c)
{
	struct evbuffer	*out = bufferevent_get_output(c->bev);

	if (evbuffer_get_length(out) == 0)
		return;
	evbuffer_unfreeze(out, 1);
	(void)evbuffer_write(out, bufferevent_getfd(c->bev));
}

void
admin_close(void)
{
	struct admin_client	*c;
	struct stat		 st;

	while ((c = TAILQ_FIRST(&admin.clients)) != NULL) {
		admin_flush(c);
		admin_client_free(c);
	}
	if (admin.listener != NULL) {
		evconnlistener_free(admin.listener);
		admin.listener = NULL;
	}
	if (admin.resume != NULL) {
		event_free(admin.resume);
		admin.resume = NULL;
	}
	admin_ratelog_free(&admin.log_noaccess);
	admin_ratelog_free(&admin.log_full);
	admin_ratelog_free(&admin.log_denied);
	/* Remove the socket only if it is still ours. */
	if (admin.path != NULL && lstat(admin.path, &st) == 0 &&
	    st.st_dev == admin.dev && st.st_ino == admin.ino)
		unlink(admin.path);
	free(admin.path);
	admin.path = NULL;
	free(admin.admin_gids);
	free(admin.ro_gids);
	admin.admin_gids = admin.ro_gids = NULL;
	admin.nadmin_gids = admin.nro_gids = 0;
	admin.base = NULL;
}
