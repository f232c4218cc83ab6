/*
 * bee.c: one worker ("bee"), a plain sequential loop.
 *
 * NOTES
 *
 * A bee is re-executed by the master as "financebeed -c CFG --bee SLOT
 * --generation G --channel-fd 3 --status-fd 4".  It loads the
 * configuration itself, takes the executor identity of its slot, opens
 * PostgreSQL and the ColonyOS client, then loops: long-poll assign, check
 * and apply the event (task_run), close the process, report.  It holds at
 * most one process at a time.
 *
 * Signals only set flags, checked between steps.  SIGTERM = drain: no new
 * assign, the task in hand is finished and closed, exit 0.  A second SIGTERM
 * or SIGQUIT = abandon: exit at the next step without closing anything; a
 * process in hand is left to ColonyOS, which re-queues it when its
 * maxexectime expires (the store's idempotency makes a re-run harmless).
 * Abandoning also cuts the ColonyOS call in flight, a long-poll included
 * (a drain lets it finish: one cut just as the server hands out a process
 * would strand that process until its maxexectime).
 * SIGINT and SIGHUP are ignored: the master orchestrates the pool.
 *
 * Each state and phase change is written to the status page (fd 4,
 * struct fbee_shm), which costs no syscall; a heartbeat message goes to the
 * master only once a second, or at once when the bee pauses or drains.
 *
 * The master talks on fd 3 (fbee-proto.h): drain, pause, resume, reopen.
 * The channel is read between steps, but only when the master has bumped
 * cmdseq in the page since the last look (or while the bee waits anyway),
 * so the common loop makes no poll() at all; the long-poll is never
 * cut short (colonies-protocol.md section 8: a cancelled long-poll can
 * strand a process), so a drain or pause waits for it to return, and a
 * process it returns is processed and closed normally first.  EOF on the
 * channel means the master is gone: drain and exit.
 *
 * Exit status: 0 drained or recycled (tasks_per_bee), 75 a dependency is
 * down (database at startup, ColonyOS refusing us or unreachable), 78 the
 * configuration or the schema is wrong.  The master acts on these.
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "financebeed.h"
#include "fbee-proto.h"

#define BEE_BACKOFF_MIN_MS	100	/* ColonyOS: between failed assigns */
#define BEE_BACKOFF_MAX_MS	5000
#define BEE_PROBE_MIN_MS	250	/* database: between probes */
#define BEE_PROBE_MAX_MS	5000
#define BEE_DB_FRESH_MS		1000	/* probe before assigning if older */
#define BEE_OUTAGE_LOG_MS	60000	/* "still down" at most this often */
#define BEE_MARGIN_MS		2000	/* before maxexectime */
#define BEE_LATE_CLOSE_MS	1000	/* a close attempted past closeby */

static volatile sig_atomic_t	bee_sigterm;
static volatile sig_atomic_t	bee_sigquit;

struct bee {
	unsigned int		 slot;
	unsigned int		 generation;
	int			 fd;
	struct fb_config	 cfg;
	struct store		*store;
	struct colonies		*col;
	char			 executor[128];
	char			 executorid[CRYPTO_ID_HEXLEN + 1];
	char			 intakeid[CRYPTO_ID_HEXLEN + 1]; /* or "" */
	msgpack_unpacker	 unp;
	int			 draining;
	int			 paused;
	int			 orphan;
	int			 garbage;
	struct fbee_counters	 c;
	int			 c_dirty;	/* unsent changes */
	unsigned long		 ntasks;
	int64_t			 last_counters;
	int64_t			 last_hb;
	int			 state;
	int			 phase;
	int			 hb_state;	/* of the last message */
	int64_t			 since;
	char			 processid[CRYPTO_ID_HEXLEN + 1];
	char			 event[256];
	int64_t			 task_start;	/* ms */
	int64_t			 task_start_us;	/* the same, us */
	int			 outcome;	/* being closed */
	int			 retries;	/* of the process in hand */
	/* Closes that failed on the wire: for the master to settle. */
	uint32_t		 nunsettled;
	struct fbee_unsettled	 unsettled[FBEE_UNSETTLED];
	uint64_t		 polls;
	struct fbee_shm		*shm;		/* the master's page */
	struct fbee_shm		 shm_local;	/* or this, without one */
	uint32_t		 cmdseq;	/* last seen */
	pid_t			 pid;		/* getpid() is a syscall */
	/* A dependency outage (FBEE_DEP_*): a state, never an exit. */
	int64_t			 db_ok_at;	/* the database last answered */
	int			 schema_pending; /* not checked: it was down */
	int			 fatal;		/* exit status the loop must return */
	int			 dep;		/* what is down, or 0 */
	int64_t			 dep_since;	/* monotonic ms */
	int64_t			 dep_acc;	/* wait counted up to here */
	int64_t			 dep_logged;
	char			 dep_cause[256];
};

static void
bee_sig_cb(int sig)
{
	if (sig == SIGTERM) {
		if (bee_sigterm)
			bee_sigquit = 1;
		bee_sigterm = 1;
	} else if (sig == SIGQUIT)
		bee_sigquit = 1;
}

/* colonies_set_abort(): the call in flight ends on abandon. */
static int
bee_abandoning(void *arg)
{
	(void)arg;
	return bee_sigquit != 0;
}

static void
bee_signals(void)
{
	struct sigaction	sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sa.sa_handler = bee_sig_cb;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
}

static void
bee_send(struct bee *b, const struct fbee_msg *m)
{
	char	cause[FB_CAUSE_MAX];

	if (b->fd == -1 || b->orphan)
		return;
	if (fbee_send(b->fd, m, cause, sizeof(cause)) == -1) {
		/* Since reads are rare, this is how a dead master shows. */
		log_warnx("channel: %s; lost the master: draining", cause);
		b->orphan = 1;
		b->draining = 1;
	}
}

/* Map the status page the master passed; without it, a private one. */
static void
bee_shm_attach(struct bee *b, int fd)
{
	if ((b->shm = fbee_shm_map(fd)) == NULL) {
		b->shm = &b->shm_local;
		return;
	}
	/*
	 * Whatever the master sent before we looked is read at the first
	 * look (b->cmdseq stays 0); a pause it has not sent yet is in
	 * the page already.
	 */
	b->paused = __atomic_load_n(&b->shm->paused, __ATOMIC_ACQUIRE) != 0;
}

static void
bee_shm_detach(struct bee *b)
{
	if (b->shm != &b->shm_local)
		munmap(b->shm, sizeof(*b->shm));
	b->shm = &b->shm_local;
}

/* Publish the current state in the page: plain stores, no syscall. */
static void
bee_shm_write(struct bee *b, int64_t now)
{
	struct fbee_shm	*p = b->shm;
	int		 working = b->state == FBEE_ST_WORKING;

	fbee_shm_write_begin(p);
	p->state = b->state;
	p->phase = b->phase;
	p->pid = (int64_t)b->pid;
	p->since = b->since;
	p->task_start = working ? b->task_start : 0;
	p->last_beat = now;
	p->tasks = b->ntasks;
	p->polls = b->polls;
	p->outcome = b->outcome;
	p->retries = working ? b->retries : 0;
	p->nunsettled = b->nunsettled;
	memcpy(p->unsettled, b->unsettled, sizeof(p->unsettled));
	p->c = b->c;
	fbee_shm_strcpy(p->processid, sizeof(p->processid),
	    working ? b->processid : "");
	fbee_shm_strcpy(p->event, sizeof(p->event), working ? b->event : "");
	p->dep = b->dep;
	p->dep_since = b->dep != FBEE_DEP_NONE ? b->dep_since : 0;
	fbee_shm_textcpy(p->dep_cause, sizeof(p->dep_cause),
	    b->dep != FBEE_DEP_NONE ? b->dep_cause : "");
	fbee_shm_write_end(p);
}

/*
 * Every change goes to the page; a message only when the last is a second
 * old, or at once for a pause or a drain, which an operator waits to see.
 */
static void
bee_heartbeat(struct bee *b, int state, int phase)
{
	struct fbee_msg	m;
	int64_t		now = clock_now_ms();

	if (state != b->state || b->hb_state == -1) {
		b->since = now;
		proc_title("bee %u %s", b->slot, fbee_state_str(state));
	}
	b->state = state;
	b->phase = phase;
	bee_shm_write(b, now);
	if (now - b->last_hb < 1000 && (state == b->hb_state ||
	    (state != FBEE_ST_PAUSED && state != FBEE_ST_DRAINING)))
		return;
	memset(&m, 0, sizeof(m));
	m.type = FBEE_HEARTBEAT;
	m.state = state;
	m.phase = phase;
	if (state == FBEE_ST_WORKING) {
		snprintf(m.processid, sizeof(m.processid), "%s", b->processid);
		snprintf(m.event, sizeof(m.event), "%s", b->event);
		m.age_ms = now - b->task_start;
	}
	bee_send(b, &m);
	b->last_hb = now;
	b->hb_state = state;
}

static void
bee_counters(struct bee *b, int force)
{
	struct fbee_msg	m;
	int64_t		now = clock_now_ms();

	if (!force && now - b->last_counters < b->cfg.metrics_interval_ms)
		return;
	b->last_counters = now;
	b->c_dirty = 0;
	b->c.rss_kb = metrics_rss_kb(getpid());
	/* Every failed ColonyOS call is retried (assign, close). */
	b->c.transient[FBEE_TRANSIENT_COLONIES] = b->c.http_errors;
	memset(&m, 0, sizeof(m));
	m.type = FBEE_COUNTERS;
	m.c = b->c;
	bee_send(b, &m);
}

static void
bee_bye(struct bee *b, int code, int auth, const char *reason)
{
	struct fbee_msg	m;

	bee_counters(b, 1);
	memset(&m, 0, sizeof(m));
	m.type = FBEE_BYE;
	m.code = code;
	m.auth = auth;
	snprintf(m.reason, sizeof(m.reason), "%s", reason);
	bee_send(b, &m);
}

/* Test-only (FINANCEBEE_TEST_GARBAGE=SLOT[:MODE]): a misbehaving bee. */
static void
bee_test_garbage(struct bee *b, const char *mode)
{
	msgpack_sbuffer	sb;
	msgpack_packer	pk;
	char		junk[256];
	size_t		i;

	if (strcmp(mode, "shm") == 0) {
		/* A consistent copy of nonsense, then never a fix. */
		log_warnx("test: writing garbage into the status page");
		fbee_shm_write_begin(b->shm);
		memset(&b->shm->state, 0xa5, offsetof(struct fbee_shm,
		    cmdseq) - offsetof(struct fbee_shm, state));
		b->shm->pid = (int64_t)getpid();
		fbee_shm_write_end(b->shm);
		bee_shm_detach(b);
		return;
	}
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	if (strcmp(mode, "version") == 0) {
		msgpack_pack_map(&pk, 2);
		msgpack_pack_str(&pk, 1);
		msgpack_pack_str_body(&pk, "v", 1);
		msgpack_pack_uint64(&pk, 99);
		msgpack_pack_str(&pk, 1);
		msgpack_pack_str_body(&pk, "t", 1);
		msgpack_pack_uint64(&pk, FBEE_HEARTBEAT);
	} else if (strcmp(mode, "big") == 0) {
		/* A string header announcing 1 MiB, then 100 KiB of it. */
		msgpack_pack_str(&pk, 1 << 20);
		for (i = 0; i < 400; i++) {
			memset(junk, 'x', sizeof(junk));
			msgpack_sbuffer_write(&sb, junk, sizeof(junk));
		}
	} else {
		for (i = 0; i < sizeof(junk); i++)
			junk[i] = (char)0xc1;	/* never used */
		msgpack_sbuffer_write(&sb, junk, sizeof(junk));
	}
	log_warnx("test: writing garbage (%s) on the channel", mode);
	if (write(b->fd, sb.data, sb.size) == -1)
		log_warn("test garbage");
	msgpack_sbuffer_destroy(&sb);
}

static void
bee_handle(struct bee *b, const struct fbee_msg *m)
{
	switch (m->type) {
	case FBEE_DRAIN:
		if (!b->draining)
			log_info("draining");
		b->draining = 1;
		break;
	case FBEE_PAUSE:
		b->paused = 1;
		break;
	case FBEE_RESUME:
		b->paused = 0;
		break;
	case FBEE_REOPEN:
		(void)log_reopen();
		break;
	default:
		log_warnx("channel: unexpected %s message",
		    fbee_type_str(m->type));
		break;
	}
}

/* Read what the master sent, waiting up to timeout ms for the first byte. */
static void
bee_channel(struct bee *b, int timeout)
{
	struct pollfd		pfd;
	msgpack_unpacked	up;
	struct fbee_msg		m;
	char			cause[FB_CAUSE_MAX];
	ssize_t			n;
	int			rc;

	if (b->orphan) {
		if (timeout > 0)
			poll(NULL, 0, timeout);
		return;
	}
	pfd.fd = b->fd;
	pfd.events = POLLIN;
	for (;;) {
		rc = poll(&pfd, 1, timeout);
		if (rc == -1 && errno == EINTR)
			return;
		if (rc <= 0)
			return;
		timeout = 0;
		if (!msgpack_unpacker_reserve_buffer(&b->unp, 4096))
			goto orphan;
		n = read(b->fd, msgpack_unpacker_buffer(&b->unp), 4096);
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			return;
		if (n <= 0)
			goto orphan;
		msgpack_unpacker_buffer_consumed(&b->unp, (size_t)n);
		msgpack_unpacked_init(&up);
		while ((rc = msgpack_unpacker_next(&b->unp, &up)) ==
		    MSGPACK_UNPACK_SUCCESS) {
			if (fbee_decode(&up.data, &m, cause,
			    sizeof(cause)) == -1) {
				log_warnx("channel: %s", cause);
				msgpack_unpacked_destroy(&up);
				goto orphan;
			}
			bee_handle(b, &m);
		}
		msgpack_unpacked_destroy(&up);
		if (rc == MSGPACK_UNPACK_PARSE_ERROR) {
			log_warnx("channel: undecodable data from the master");
			goto orphan;
		}
	}

orphan:
	if (!b->orphan)
		log_warnx("lost the master: draining");
	b->orphan = 1;
	b->draining = 1;
}

/* Read the channel if the master said it wrote to it. */
static void
bee_commands(struct bee *b)
{
	uint32_t	c;

	if (b->shm != &b->shm_local) {
		c = __atomic_load_n(&b->shm->cmdseq, __ATOMIC_ACQUIRE);
		if (c == b->cmdseq)
			return;
		b->cmdseq = c;
	}
	bee_channel(b, 0);
}

static const char *
bee_dep_str(int dep)
{
	return dep == FBEE_DEP_DATABASE ? "the database" : "ColonyOS";
}

/* Count the time spent waiting for a dependency, up to now. */
static void
bee_dep_tick(struct bee *b, int64_t now)
{
	if (b->dep == FBEE_DEP_NONE || now <= b->dep_acc)
		return;
	if (b->dep == FBEE_DEP_DATABASE)
		b->c.db_wait_ms += (uint64_t)(now - b->dep_acc);
	else
		b->c.colonies_wait_ms += (uint64_t)(now - b->dep_acc);
	b->dep_acc = now;
	b->c_dirty = 1;
}

/*
 * A dependency failed to answer: the outage starts (logged once), or goes
 * on (logged again at most once a minute), with its last error kept for
 * fbeectl status.
 */
static void
bee_dep_down(struct bee *b, int dep, const char *cause)
{
	int64_t	now = clock_now_ms();

	bee_dep_tick(b, now);
	snprintf(b->dep_cause, sizeof(b->dep_cause), "%s", cause);
	if (b->dep != dep) {
		/* One outage shown at a time: the one that stops us now. */
		b->dep = dep;
		b->dep_since = b->dep_acc = b->dep_logged = now;
		log_warnx("%s unreachable: %s; %s", bee_dep_str(dep), cause,
		    dep == FBEE_DEP_DATABASE ? "no new assigns until it "
		    "answers" : "retrying with backoff");
		return;
	}
	if (now - b->dep_logged >= BEE_OUTAGE_LOG_MS) {
		b->dep_logged = now;
		log_warnx("%s still unreachable after %lld s: %s",
		    bee_dep_str(dep), (long long)(now - b->dep_since) / 1000,
		    cause);
	}
}

static void
bee_dep_up(struct bee *b, int dep)
{
	int64_t	now = clock_now_ms();

	if (b->dep != dep)
		return;
	bee_dep_tick(b, now);
	log_info("%s answers again after %.1f s", bee_dep_str(dep),
	    (double)(now - b->dep_since) / 1000);
	b->dep = FBEE_DEP_NONE;
	b->dep_cause[0] = '\0';
	bee_counters(b, 1);
}

/*
 * Sleep ms while listening to the channel, the page kept fresh (the
 * master's watchdog reads it) and the wait counted.
 */
static void
bee_wait(struct bee *b, int64_t ms)
{
	int64_t	until = clock_now_ms() + ms, now, slice;

	while (!bee_sigquit && !bee_sigterm && !b->draining && !b->paused &&
	    (now = clock_now_ms()) < until) {
		slice = until - now < 500 ? until - now : 500;
		bee_channel(b, (int)slice);
		now = clock_now_ms();
		bee_dep_tick(b, now);
		bee_shm_write(b, now);
		bee_counters(b, 0);
	}
}

/*
 * The database's schema against the binaries': 0, -1 (wrong: exit 78,
 * cause set), -2 (the database does not answer).
 */
static int
bee_schema(struct bee *b, char *cause, size_t causelen)
{
	int	version;

	if (store_schema_version(b->store, &version, cause, causelen) == -2)
		return -2;
	if (store_check_schema(b->store, cause, causelen) == -1)
		return -1;
	return 0;
}

/*
 * Is the database there?  Probed (a "SELECT 1") when it was down, or
 * before an assign when it has not answered for a while: a process is
 * taken only when it can be applied at once.  While it does not answer,
 * wait and probe again with backoff; return 0 once it answers, -1 if the
 * bee must stop waiting (drain, stop, pause).
 */
static int
bee_db_ready(struct bee *b)
{
	char	cause[FB_CAUSE_MAX];
	long	delay = BEE_PROBE_MIN_MS;

	if (b->dep != FBEE_DEP_DATABASE &&
	    clock_now_ms() - b->db_ok_at < BEE_DB_FRESH_MS)
		return 0;
	for (;;) {
		if (store_ping(b->store, cause, sizeof(cause)) == 0 &&
		    b->schema_pending) {
			/* Down when the bee started: check its schema now. */
			switch (bee_schema(b, cause, sizeof(cause))) {
			case -1:
				log_warnx("database schema: %s", cause);
				b->fatal = FB_EX_CONFIG;
				return -1;
			case 0:
				b->schema_pending = 0;
				break;
			}
		}
		if (!b->schema_pending && store_ping(b->store, cause,
		    sizeof(cause)) == 0) {
			b->db_ok_at = clock_now_ms();
			bee_dep_up(b, FBEE_DEP_DATABASE);
			return 0;
		}
		b->c.db_errors++;
		bee_dep_down(b, FBEE_DEP_DATABASE, cause);
		bee_heartbeat(b, FBEE_ST_WAITING, FBEE_PH_NONE);
		bee_wait(b, clock_jitter(delay));
		bee_commands(b);
		if (bee_sigquit || bee_sigterm || b->draining || b->paused)
			return -1;
		if (delay < BEE_PROBE_MAX_MS)
			delay = delay * 2 > BEE_PROBE_MAX_MS ?
			    BEE_PROBE_MAX_MS : delay * 2;
		/* The probe may take connect_timeout: the page says so. */
		bee_heartbeat(b, FBEE_ST_WAITING, FBEE_PH_NONE);
	}
}

/* Best effort, for logs and status only: the "evt_..." near the start. */
static void
bee_event_hint(const json_t *args, char *buf, size_t len)
{
	const char	*s, *p;
	size_t		 n, i;

	buf[0] = '\0';
	if (!json_is_array(args) || !json_is_string(json_array_get(args, 0)))
		return;
	s = json_string_value(json_array_get(args, 0));
	n = json_string_length(json_array_get(args, 0));
	if (n > 512)
		n = 512;
	for (i = 0; i + 5 < n; i++) {
		if (memcmp(s + i, "\"evt_", 5) == 0)
			break;
	}
	if (i + 5 >= n)
		return;
	p = s + i + 1;
	for (i = 0; i < len - 1 && p + i < s + n && p[i] != '"' &&
	    (p[i] == '_' || (p[i] >= '0' && p[i] <= '9') ||
	    (p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z')); i++)
		buf[i] = p[i];
	buf[i] = '\0';
}

/*
 * The close's out, [{"outcome":...,"event":...}], as json_pack and
 * json_dumps (compact, in order) write it, when neither string needs an
 * escape (the guardian checked the event id: evt_ and letters, digits,
 * _): 0, else -1 and the caller builds it with jansson.
 */
static int
bee_out_text(const struct task_result *res, char *buf, size_t len)
{
	const char	*o = store_outcome_str(res->outcome), *ev, *s;
	int		 n;

	ev = res->event_id[0] != '\0' ? res->event_id : "-";
	for (s = ev; *s != '\0'; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') ||
		    (*s >= 'A' && *s <= 'Z') || *s == '_' || *s == '-'))
			return -1;
	for (s = o; *s != '\0'; s++)
		if (!(*s >= 'a' && *s <= 'z'))
			return -1;
	n = snprintf(buf, len, "[{\"outcome\":\"%s\",\"event\":\"%s\"}]",
	    o, ev);
	return n > 0 && (size_t)n < len ? 0 : -1;
}

/*
 * 0 when ColonyOS accepted the close; 1 when no attempt got an answer (a
 * timeout, a reset, a 5xx), so that the close may have landed all the
 * same; -1 when it did not (refused, or never sent).  Logged.
 */
static int
bee_close(struct bee *b, const struct task_result *res, int64_t closeby)
{
	enum col_err	 e;
	json_t		*out;
	const char	*errs[1];
	char		 cause[FB_CAUSE_MAX], outtext[320];
	int		 tries = 0, delay = 50, late;
	int64_t		 left;

	for (;;) {
		/*
		 * No attempt may outlast closeby: past it the lease may be
		 * gone, and the master's watchdog kills a task that runs
		 * over task_timeout (a ColonyOS outage is not a crash).  A
		 * bee that gets there late (it was stopped, swapped out)
		 * makes one short attempt: the effect is committed, so a
		 * close that still lands spares a re-run, and one refused
		 * is counted as lost below.
		 */
		left = closeby - clock_now_ms();
		if ((late = left < 100) && tries > 0) {
			log_warnx("process %s event %s: no time left to close "
			    "it, left to ColonyOS", b->processid, b->event);
			return 1;
		}
		if (late)
			left = BEE_LATE_CLOSE_MS;
		colonies_set_timeout(b->col, left < b->cfg.http_timeout_ms ?
		    (long)left : b->cfg.http_timeout_ms);
		if (res->outcome == OUTCOME_FAILED) {
			errs[0] = res->reason;
			e = colonies_close_failed(b->col, b->processid, errs, 1,
			    cause, sizeof(cause));
		} else if (bee_out_text(res, outtext, sizeof(outtext)) == 0) {
			e = colonies_close_successful_text(b->col, b->processid,
			    outtext, cause, sizeof(cause));
		} else {
			out = json_pack("[{s:s,s:s}]", "outcome",
			    store_outcome_str(res->outcome), "event",
			    res->event_id[0] != '\0' ? res->event_id : "-");
			if (out == NULL) {
				log_warnx("process %s: out of memory",
				    b->processid);
				return -1;
			}
			e = colonies_close_successful(b->col, b->processid,
			    out, cause, sizeof(cause));
			json_decref(out);
		}
		colonies_set_timeout(b->col, b->cfg.http_timeout_ms);
		tries++;
		if (e == COL_OK) {
			if (late)
				log_warnx("process %s event %s: closed late, "
				    "after its deadline", b->processid,
				    b->event);
			return 0;
		}
		if (e != COL_TRANSPORT && e != COL_SERVER && e != COL_PROTO) {
			/*
			 * 403/400: the lease ran out and the process was
			 * re-queued (the bee was stopped, say); its next run
			 * finds the event's marker and closes it duplicate.
			 */
			b->c.lost++;
			log_warnx("process %s event %s: lost ownership, not "
			    "closed (%s: %s)", b->processid, b->event,
			    col_err_str(e), cause);
			return -1;
		}
		b->c.http_errors++;
		if (clock_now_ms() + delay >= closeby || bee_sigquit) {
			log_warnx("process %s event %s: close failed after %d "
			    "tries, left to ColonyOS (%s)", b->processid,
			    b->event, tries, cause);
			return 1;
		}
		log_debug("process %s: close: %s; retrying", b->processid,
		    cause);
		poll(NULL, 0, (int)clock_jitter(delay));
		if (delay < 1000)
			delay *= 2;
	}
}

/* The class of a permanent failure, from who refused it and its words. */
static int
bee_fail_cause(const struct task_result *res)
{
	if (!res->rejected)
		return FBEE_FAIL_DATABASE;
	if (strncmp(res->reason, "kwargs[\"" GUARDIAN_KWARG_SIGNATURE "\"]",
	    sizeof("kwargs[\"" GUARDIAN_KWARG_SIGNATURE "\"]") - 1) == 0)
		return FBEE_FAIL_SIGNATURE;
	if (strstr(res->reason, "livemode: is ") != NULL)
		return FBEE_FAIL_LIVEMODE;
	if (strstr(res->reason, "not a known") != NULL)
		return FBEE_FAIL_UNSUPPORTED;
	return FBEE_FAIL_GUARDIAN;
}

/* A task's outcome in the counters by cause and by event type. */
static void
bee_count(struct bee *b, const struct task_result *res)
{
	/* tasks[] counts closes accepted (bee_task()); these, outcomes. */
	switch (res->outcome) {
	case OUTCOME_FAILED:
		b->c.failed[bee_fail_cause(res)]++;
		break;
	case OUTCOME_IGNORED:
		b->c.ignored[fbee_event_type(res->type)]++;
		break;
	case OUTCOME_DUPLICATE:
		b->c.duplicate[fbee_event_type(res->type)]++;
		break;
	default:
		break;
	}
	/* Store attempts that ended transient; none made: no memory. */
	if (res->outcome == OUTCOME_TRANSIENT && res->attempts == 0)
		b->c.transient[FBEE_TRANSIENT_OTHER]++;
	else if (res->attempts > 0)
		b->c.transient[FBEE_TRANSIENT_DATABASE] += res->attempts -
		    (res->outcome == OUTCOME_TRANSIENT ? 0 : 1);
}

/* task_run()'s hook: the event passed the guardian, the store is next. */
static void
bee_applying(void *arg)
{
	struct bee	*b = arg;

	bee_heartbeat(b, FBEE_ST_WORKING, FBEE_PH_APPLY);
}

/*
 * When our intake received the webhook (kwargs.fb_received_us, Unix us),
 * if the process comes from the intake identity; else 0.  The guardian
 * then judges the signature's age at that time, so that a queue longer
 * than stripe.signature_tolerance does not fail good events, and the bee
 * measures webhook -> commit from it.  Another submitter's claim is
 * ignored: only the intake has checked the timestamp.
 */
static int64_t
bee_received_us(const struct bee *b, const struct col_process *p)
{
	json_t		*v;
	const char	*s;
	char		*end;
	long long	 us;

	if (b->intakeid[0] == '\0' ||
	    strcmp(p->initiatorid, b->intakeid) != 0 ||
	    (v = json_object_get(p->kwargs, GUARDIAN_KWARG_RECEIVED)) ==
	    NULL || !json_is_string(v))
		return 0;
	s = json_string_value(v);
	errno = 0;
	us = strtoll(s, &end, 10);
	if (errno != 0 || *s == '\0' || *end != '\0' || us <= 0 ||
	    us > clock_wall_us() + 60 * 1000000LL)
		return 0;
	return (int64_t)us;
}

/*
 * A close that got no answer may have been served all the same: not
 * counted here, but handed to the master (in the page update that ends
 * the close phase), which asks ColonyOS and counts it if it landed.
 */
static void
bee_unsettled(struct bee *b, const struct task_result *res)
{
	struct fbee_unsettled	*u;

	if ((int)res->outcome < 0 || res->outcome >= OUTCOME_TRANSIENT)
		return;
	u = &b->unsettled[b->nunsettled % FBEE_UNSETTLED];
	memset(u, 0, sizeof(*u));
	snprintf(u->processid, sizeof(u->processid), "%s", b->processid);
	u->outcome = (int32_t)res->outcome;
	u->retries = b->retries;
	b->nunsettled++;
}

static void
bee_task(struct bee *b, struct col_process *p)
{
	struct guardian_input	in;
	struct task_result	res;
	int64_t			limit, closeby, deadline, margin;
	int64_t			received_us, now_us, lag_ms;

	b->task_start_us = clock_now_us();
	b->task_start = b->task_start_us / 1000;
	snprintf(b->processid, sizeof(b->processid), "%s", p->processid);
	b->retries = p->retries > 0 ? p->retries : 0;
	bee_event_hint(p->args, b->event, sizeof(b->event));
	bee_heartbeat(b, FBEE_ST_WORKING, FBEE_PH_GUARDIAN);

	/* Finish well within the lease, so no other bee can hold it too. */
	limit = b->cfg.task_timeout_ms;
	if (p->maxexectime > 0 &&
	    (int64_t)p->maxexectime * 1000 - BEE_MARGIN_MS < limit)
		limit = (int64_t)p->maxexectime * 1000 - BEE_MARGIN_MS;
	if (limit < 500)
		limit = 500;
	margin = limit / 4 < 2000 ? limit / 4 : 2000;
	closeby = b->task_start + limit;
	deadline = closeby - margin;

	memset(&in, 0, sizeof(in));
	in.funcname = p->funcname != NULL ? p->funcname : "";
	in.args = p->args;
	in.kwargs = p->kwargs;
	in.now = (int64_t)time(NULL);
	received_us = bee_received_us(b, p);
	in.received = received_us / 1000000;
	in.applying = bee_applying;
	in.applying_arg = b;
	memset(&res, 0, sizeof(res));
	task_run(&b->cfg, b->store, &in, 0, deadline, &res);
	if (res.event_id[0] != '\0')
		snprintf(b->event, sizeof(b->event), "%s", res.event_id);
	/* Webhook -> commit: from the intake's receipt to now. */
	if (received_us > 0 && res.outcome != OUTCOME_TRANSIENT &&
	    res.outcome != OUTCOME_FAILED && (now_us = clock_wall_us()) >=
	    received_us)
		metrics_hist_add(&b->c.w2c, (uint64_t)(now_us - received_us));
	/* Revenue lag: from the event's creation at Stripe to its commit. */
	if (res.outcome == OUTCOME_APPLIED && res.created > 0) {
		lag_ms = clock_wall_us() / 1000 - res.created * 1000;
		metrics_hist_add(&b->c.lag, lag_ms > 0 ? (uint64_t)lag_ms : 0);
	}
	bee_count(b, &res);

	if (bee_sigquit) {
		log_info("process %s event %s: %s; abandoned without closing "
		    "(fast stop)", b->processid, b->event[0] ? b->event : "-",
		    store_outcome_str(res.outcome));
	} else if (res.outcome == OUTCOME_TRANSIENT) {
		b->c.tasks[OUTCOME_TRANSIENT]++;
		b->c.db_errors++;
		log_warnx("process %s event %s: transient failure, left to "
		    "ColonyOS to re-queue: %s", b->processid,
		    b->event[0] ? b->event : "-", res.reason);
		/* Down, or just this task (a lock, a timeout)?  Ask. */
		if (res.attempts > 0)
			b->db_ok_at = 0;
	} else {
		if (res.attempts > 0)
			b->db_ok_at = clock_now_ms();
		if (res.outcome == OUTCOME_FAILED)
			log_info("process %s event %s: failed: %s",
			    b->processid, b->event[0] ? b->event : "-",
			    res.reason);
		else
			log_debug("process %s event %s: %s", b->processid,
			    b->event[0] ? b->event : "-",
			    store_outcome_str(res.outcome));
		b->outcome = (int)res.outcome;
		bee_heartbeat(b, FBEE_ST_WORKING, FBEE_PH_CLOSE);
		switch (bee_close(b, &res, closeby)) {
		case 0:
			if ((int)res.outcome >= 0 &&
			    (int)res.outcome < FBEE_NOUTCOMES)
				b->c.tasks[res.outcome]++;
			break;
		case 1:
			bee_unsettled(b, &res);
			break;
		default:
			break;
		}
	}
	task_result_clear(&res);
	metrics_hist_add(&b->c.hist, (uint64_t)(clock_now_us() -
	    b->task_start_us));
	b->ntasks++;
	b->c_dirty = 1;
	b->processid[0] = '\0';
	b->event[0] = '\0';
	/* The counters, with the end of the close phase, in one update. */
	bee_heartbeat(b, FBEE_ST_IDLE, FBEE_PH_NONE);
}

static int
bee_setup(struct bee *b, const char *cfgpath, int cfgfd)
{
	struct crypto_key	key;
	struct fbee_msg		m;
	struct http_opts	ho;
	char			cause[FB_CAUSE_MAX];

	/* What the master loaded last, not what the file holds now. */
	if ((cfgfd >= 0 ? config_load_fd(cfgpath, cfgfd, &b->cfg, cause,
	    sizeof(cause)) : config_load(cfgpath, &b->cfg, cause,
	    sizeof(cause))) == -1) {
		log_warnx("%s", cause);
		return FB_EX_CONFIG;
	}
	if (cfgfd >= 0)
		close(cfgfd);
	if (b->cfg.dumpable)
		financebeed_dumpable(1);
	if (log_init(NULL, b->cfg.log_level, b->cfg.log_target, cause,
	    sizeof(cause)) == -1) {
		log_warnx("log: %s", cause);
		return FB_EX_CONFIG;
	}
	snprintf(b->executor, sizeof(b->executor), "%s-%u",
	    b->cfg.executor_prefix, b->slot);
	if (config_executor_key(&b->cfg, b->slot, &key, cause,
	    sizeof(cause)) == -1) {
		log_warnx("executor %s: %s", b->executor, cause);
		return FB_EX_CONFIG;
	}
	snprintf(b->executorid, sizeof(b->executorid), "%s", key.id);
	if (b->cfg.intake_key != NULL) {
		if (crypto_key_parse(&key, b->cfg.intake_key,
		    strlen(b->cfg.intake_key), cause, sizeof(cause)) == -1) {
			log_warnx("intake.key_file: %s", cause);
			return FB_EX_CONFIG;
		}
		snprintf(b->intakeid, sizeof(b->intakeid), "%s", key.id);
		crypto_key_clear(&key);
		if (config_executor_key(&b->cfg, b->slot, &key, cause,
		    sizeof(cause)) == -1)
			return FB_EX_CONFIG;
	}

	memset(&m, 0, sizeof(m));
	m.type = FBEE_HELLO;
	m.slot = b->slot;
	m.pid = (int64_t)getpid();
	m.generation = b->generation;
	m.proto = FBEE_PROTO_VERSION;
	snprintf(m.executor, sizeof(m.executor), "%s", b->executor);
	snprintf(m.executorid, sizeof(m.executorid), "%s", b->executorid);
	bee_send(b, &m);

	if ((b->store = store_new(&b->cfg, cause, sizeof(cause))) == NULL) {
		crypto_key_clear(&key);
		log_warnx("database: %s", cause);
		return FB_EX_TEMPFAIL;
	}
	/*
	 * A database that does not answer is a state of the pool, not a
	 * reason to exit (an exit would count toward the crash-loop guard):
	 * the loop waits for it, as a running bee does, and checks the
	 * schema when it answers.
	 */
	switch (bee_schema(b, cause, sizeof(cause))) {
	case -2:
		b->schema_pending = 1;
		bee_dep_down(b, FBEE_DEP_DATABASE, cause);
		break;
	case -1:
		crypto_key_clear(&key);
		log_warnx("database schema: %s", cause);
		return FB_EX_CONFIG;
	}
	config_http_opts(&b->cfg, &ho);
	b->col = colonies_open_opts(b->cfg.colonies_url, &key, &ho,
	    b->cfg.http_timeout_ms, colonies_max_reply(b->cfg.max_payload));
	crypto_key_clear(&key);
	if (b->col == NULL) {
		log_warnx("cannot create the ColonyOS client");
		return FB_EX_TEMPFAIL;
	}
	colonies_set_abort(b->col, bee_abandoning, NULL);
	log_info("executor %s (%s) ready, generation %u", b->executor,
	    b->executorid, b->generation);
	return FB_EX_OK;
}

static int
bee_loop(struct bee *b)
{
	struct col_process	p;
	enum col_err		e;
	char			cause[FB_CAUSE_MAX], dcause[FB_CAUSE_MAX + 64];
	long			delay = BEE_BACKOFF_MIN_MS;

	bee_heartbeat(b, FBEE_ST_IDLE, FBEE_PH_NONE);
	for (;;) {
		bee_commands(b);
		if (bee_sigquit)
			return FB_EX_OK;
		if (b->draining || bee_sigterm) {
			bee_heartbeat(b, FBEE_ST_DRAINING, FBEE_PH_NONE);
			log_info("drained after %lu tasks", b->ntasks);
			return FB_EX_OK;
		}
		if (b->cfg.tasks_per_bee > 0 &&
		    b->ntasks >= b->cfg.tasks_per_bee) {
			log_info("recycling after %lu tasks", b->ntasks);
			return FB_EX_OK;
		}
		bee_counters(b, 0);
		if (b->paused) {
			bee_heartbeat(b, FBEE_ST_PAUSED, FBEE_PH_NONE);
			bee_channel(b, 1000);
			continue;
		}
		if (bee_db_ready(b) == -1) {
			if (b->fatal != 0) {
				bee_bye(b, b->fatal, 0, "configuration");
				return b->fatal;
			}
			continue;
		}
		bee_heartbeat(b, FBEE_ST_POLLING, FBEE_PH_NONE);
		memset(&p, 0, sizeof(p));
		e = colonies_assign(b->col, b->cfg.colony,
		    b->cfg.poll_timeout, &p, cause, sizeof(cause));
		if (bee_sigquit && e != COL_OK) {
			col_process_free(&p);
			return FB_EX_OK;	/* the poll cut short */
		}
		switch (e) {
		case COL_OK:
			b->polls++;
			delay = BEE_BACKOFF_MIN_MS;
			bee_dep_up(b, FBEE_DEP_COLONIES);
			if (bee_sigquit) {
				log_info("process %s: abandoned without "
				    "closing (fast stop)", p.processid);
				col_process_free(&p);
				return FB_EX_OK;
			}
			bee_task(b, &p);
			col_process_free(&p);
			break;
		case COL_NOWORK:
			b->polls++;
			delay = BEE_BACKOFF_MIN_MS;
			bee_dep_up(b, FBEE_DEP_COLONIES);
			col_process_free(&p);
			/* Idle now: let the master see the last tasks. */
			if (b->c_dirty)
				bee_counters(b, 1);
			break;
		case COL_AUTH:
			col_process_free(&p);
			log_warnx("the colony refuses executor %s (%s): %s",
			    b->executor, b->executorid, cause);
			bee_bye(b, FB_EX_TEMPFAIL, 1, "colony refused the "
			    "executor");
			return FB_EX_TEMPFAIL;
		default:
			/*
			 * ColonyOS unreachable or failing: a state of the
			 * pool, not a reason to exit (an exit would count
			 * toward the crash-loop guard).  Back off, with
			 * jitter so that the bees do not come back in step.
			 */
			col_process_free(&p);
			b->c.http_errors++;
			snprintf(dcause, sizeof(dcause), "assign: %s: %s",
			    col_err_str(e), cause);
			bee_dep_down(b, FBEE_DEP_COLONIES, dcause);
			bee_heartbeat(b, FBEE_ST_WAITING, FBEE_PH_NONE);
			bee_wait(b, clock_jitter(delay));
			if (delay < BEE_BACKOFF_MAX_MS)
				delay = delay * 2 > BEE_BACKOFF_MAX_MS ?
				    BEE_BACKOFF_MAX_MS : delay * 2;
			break;
		}
	}
}

int
bee_main(const char *cfgpath, unsigned int slot, unsigned int generation,
    int chanfd, int statusfd, int cfgfd)
{
	struct bee	 b;
	const char	*g;
	char		*end;
	int		 rc;

	log_procname("bee[%u]", slot);
	proc_title("bee %u starting", slot);
	bee_signals();
	arena_init();
	memset(&b, 0, sizeof(b));
	b.slot = slot;
	b.generation = generation;
	b.fd = chanfd;
	b.hb_state = -1;
	b.pid = getpid();
	b.since = clock_now_ms();
	bee_shm_attach(&b, statusfd);
	if (!msgpack_unpacker_init(&b.unp, 4096)) {
		log_warnx("out of memory");
		return FB_EX_SOFTWARE;
	}
	if ((g = getenv("FINANCEBEE_TEST_GARBAGE")) != NULL &&
	    strtoul(g, &end, 10) == slot && (*end == '\0' || *end == ':'))
		b.garbage = 1;

	rc = bee_setup(&b, cfgpath, cfgfd);
	if (rc == FB_EX_OK && b.garbage)
		bee_test_garbage(&b, *end == ':' ? end + 1 : "junk");
	if (rc == FB_EX_OK)
		rc = bee_loop(&b);
	else
		bee_bye(&b, rc, 0, rc == FB_EX_CONFIG ? "configuration" :
		    "dependency down");
	if (rc == FB_EX_OK)
		bee_counters(&b, 1);
	if (b.col != NULL)
		colonies_free(b.col);
	if (b.store != NULL)
		store_free(b.store);
	config_free(&b.cfg);
	msgpack_unpacker_destroy(&b.unp);
	bee_shm_detach(&b);
	if (b.fd != -1)
		close(b.fd);
	return rc;
}
