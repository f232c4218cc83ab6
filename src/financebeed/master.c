/*
 * master.c: the supervisor.  Slot table, spawn, reap, backoff, watchdog,
 * scale, pause, reload and shutdown, all from one libevent loop.
 *
 * NOTES
 *
 * The master never touches a task.  It keeps a table of slots 1..N; slot
 * N runs one bee, executor "<prefix>-N" with the key config_executor_key(N).
 * Bees are re-executed copies of this binary (proc.c), each with its own
 * socketpair channel carrying msgpack messages (fbee-proto.h): hello,
 * heartbeats, counters and a last "bye" from the bee; drain, pause, resume
 * and reopen from the master.  Anything malformed on a channel gets that
 * bee SIGKILLed and respawned; the master itself never dies of a bee.
 *
 * Each bee also has a status page (struct fbee_shm), mapped by both: the
 * bee writes its state, task and last beat there at every change, and the
 * master reads it for status, the watchdog and the exit log, so these are
 * exact although heartbeat messages come only once a second.  A page that
 * fails the checks (fbee_shm_read) is treated like a malformed message.
 *
 * Every signal is a libevent event and every delay a timer; the master
 * blocks only in the rare owner-key calls that register and approve
 * executors, each bounded by the HTTP timeouts.  SIGCHLD reaps with
 * waitpid(-1, WNOHANG) until nothing is left.
 *
 * A dead bee's exit status decides what happens to its slot:
 *   0	drained or recycled: respawned at once if the slot is wanted;
 *   75	a dependency is down: respawned after a backoff;
 *   78	configuration: the slot is marked failed and not respawned
 *	(until a successful reload);
 *   else	a crash: respawned after a backoff.
 * The backoff is exponential from respawn_min to respawn_max, jittered, and
 * starts again from respawn_min once a bee has served healthy_after.  When
 * crash_limit deaths (75 or crash) fall within crash_window the pool is in a
 * crash loop: no slot respawns faster than respawn_max until a whole
 * window passes without a death.
 *
 * Invariant: a bee holds at most one process, and only while it is
 * "working".  Nothing the master does closes or strands a process: a drain
 * (stop, scale-down, reload) lets the bee finish and close its task; a kill
 * (watchdog, fast stop, shutdown_timeout, protocol error) leaves the
 * process to ColonyOS, which re-queues it when its maxexectime expires, and
 * the store's idempotency turns a re-run into a duplicate.  The watchdog
 * kills a bee working longer than task_timeout, which is below the lease,
 * so no two bees ever hold one process.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "financebeed.h"
#include "fbee-proto.h"

#define MASTER_MAX_SLOTS	256
#define MASTER_TICK_MS		500
#define MASTER_RATE_SAMPLES	121	/* one per tick over a minute */
#define MASTER_DEATHS		256
#define MASTER_FAST_KILL_MS	2000	/* fast stop: then SIGKILL */
#define MASTER_START_GRACE_MS	5000	/* silence allowed at start */
#define MASTER_TASK_GRACE_MS	1000
#define MASTER_CLOCK_SLACK_MS	1000	/* bee vs master monotonic reads */

enum slot_state {
	SLOT_STOPPED = 0,
	SLOT_RUNNING,
	SLOT_BACKOFF,
	SLOT_FAILED
};

enum master_state {
	MASTER_RUNNING = 0,
	MASTER_STOPPING
};

struct slot {
	unsigned int		 id;
	enum slot_state		 state;
	int			 wanted;
	pid_t			 pid;
	unsigned int		 generation;
	int			 fd;
	struct event		*ev_read;
	struct event		*ev_respawn;
	msgpack_unpacker	 unp;
	int			 unp_init;
	struct fbee_shm		*shm;		/* the bee's status page */
	int			 shm_seen;	/* a good snapshot came */
	int64_t			 last_beat;	/* from the page, ms */

	/* identity */
	char			 executor[128];
	char			 executorid[CRYPTO_ID_HEXLEN + 1];
	int			 registered;	/* -1 ?, 0 no, 1 yes */
	pid_t			 reg_pid;	/* its registrar, running */
	int64_t			 reg_started;	/* when, ms */
	int			 reg_killed;	/* past its deadline */
	unsigned int		 reg_gen;	/* the generation it runs for */
	int			 reg_tried;	/* for the next spawn */

	/* as reported by the bee */
	int			 hello;
	int			 beestate;
	int			 phase;
	char			 processid[CRYPTO_ID_HEXLEN + 1];
	char			 event[256];
	int64_t			 task_start;	/* monotonic ms */
	int64_t			 last_heard;
	int			 auth_refused;
	struct fbee_counters	 live;
	struct fbee_counters	 retired;	/* its dead bees' */

	/* supervision */
	int			 drain_sent;
	int			 replacing;	/* reload */
	int			 killed;
	int64_t			 started;	/* ms */
	double			 since;		/* wall clock */
	long			 backoff_ms;
	unsigned int		 restarts;
	char			 last_exit[64];
	char			 cause[FB_CAUSE_MAX];
};

struct master {
	struct event_base	*base;
	struct fb_config	*cfg;
	char			 cfgpath[PATH_MAX];
	int			 cfgfd;		/* its snapshot, for bees */
	int			 foreground;
	enum master_state	 state;
	int			 fast;
	int			 paused;
	int			 rolling;
	unsigned int		 generation;
	unsigned int		 target;
	time_t			 started_wall;
	int64_t			 started;
	struct slot		 slots[MASTER_MAX_SLOTS + 1];

	struct event		*ev_sig[6];
	struct event		*ev_tick;
	struct event		*ev_stop;
	struct event		*ev_prune;
	pid_t			 prune_pid;

	int64_t			 deaths[MASTER_DEATHS];
	size_t			 ndeaths;
	int			 crash_loop;
	double			 throttled_until;

	struct fbee_counters	 retired;	/* all dead bees' */
	unsigned int		 restarts;
	uint64_t		 rate_total[MASTER_RATE_SAMPLES];
	int64_t			 rate_ms[MASTER_RATE_SAMPLES];
	size_t			 rate_n;
	size_t			 rate_head;

	int64_t			 owner_down;	/* unreachable at */
	int			 exitcode;
};

static struct master	 m;

static void	master_spawn(struct slot *);
static void	master_schedule(struct slot *, long);
static void	master_roll_next(void);
static void	master_check_done(void);

static double
now_wall(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct timeval
ms_tv(long ms)
{
	struct timeval	tv;

	if (ms < 0)
		ms = 0;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	return tv;
}

/* --- identities ----------------------------------------------------------- */

static int
master_identity(struct slot *s, char *cause, size_t causelen)
{
	struct crypto_key	key;

	snprintf(s->executor, sizeof(s->executor), "%s-%u",
	    m.cfg->executor_prefix, s->id);
	if (config_executor_key(m.cfg, s->id, &key, cause, causelen) == -1) {
		s->executorid[0] = '\0';
		return -1;
	}
	snprintf(s->executorid, sizeof(s->executorid), "%s", key.id);
	crypto_key_clear(&key);
	return 0;
}

/*
 * A helper child: "financebeed -c FILE MODE [ARG]", with the configuration
 * snapshot as fd 5 when there is one (like a bee, it does not re-read the
 * files).
 */
static pid_t
master_helper(const char *mode, const char *arg, char *cause,
    size_t causelen)
{
	char	*argv[8];
	int	 n = 0;

	argv[n++] = (char *)"financebeed";
	argv[n++] = (char *)"-c";
	argv[n++] = m.cfgpath;
	argv[n++] = (char *)mode;
	if (arg != NULL)
		argv[n++] = (char *)arg;
	if (m.cfgfd >= 0) {
		argv[n++] = (char *)"--config-fd";
		argv[n++] = (char *)"5";
	}
	argv[n] = NULL;
	return proc_spawn(argv, NULL, -1, m.cfgfd, cause, causelen);
}

/*
 * With the colony owner's key, a child adds and approves the slot's
 * executor (registrar.c): both calls are idempotent enough, and approving
 * again also restores an executor the stale-executor cleanup unregistered.
 * 1 when a registrar runs for the slot (its bee is spawned when it is
 * done), 0 when the bee is to start now.
 */
static int
master_register_start(struct slot *s)
{
	char		 slotarg[16], cause[FB_CAUSE_MAX];
	pid_t		 pid;

	if (s->reg_pid > 0)
		return 1;
	if (m.cfg->owner_key == NULL || m.cfg->owner_key[0] == '\0')
		return 0;
	/* ColonyOS unreachable a moment ago: start the bee, try later. */
	if (m.owner_down > 0 && clock_now_ms() - m.owner_down <
	    m.cfg->respawn_max_ms)
		return 0;
	m.owner_down = 0;
	snprintf(slotarg, sizeof(slotarg), "%u", s->id);
	if ((pid = master_helper("--register", slotarg, cause,
	    sizeof(cause))) == -1) {
		log_warnx("slot %u: registrar: %s", s->id, cause);
		return 0;
	}
	log_debug("slot %u: registrar pid %ld", s->id, (long)pid);
	s->reg_pid = pid;
	s->reg_started = clock_now_ms();
	s->reg_killed = 0;
	s->reg_gen = m.generation;
	return 1;
}

/*
 * A registrar makes two requests, each bounded by connect_timeout (name
 * lookup included) + request_timeout; the deadline is the backstop for
 * anything else that stops it (a stuck library, SIGSTOP): past twice the
 * two timeouts and five seconds, it is killed and counted as ColonyOS
 * being unreachable, so the slot's bee starts and the registration is
 * tried again after supervision.respawn_max.
 */
static int64_t
master_register_deadline(void)
{
	return 2 * ((int64_t)m.cfg->http_connect_timeout_ms +
	    m.cfg->http_timeout_ms) + 5000;
}

static void
master_register_watchdog(struct slot *s, int64_t now)
{
	if (s->reg_pid <= 0 || s->reg_killed ||
	    now - s->reg_started < master_register_deadline())
		return;
	log_warnx("slot %u: registrar pid %ld has not finished in %lld s; "
	    "killing it, the bee starts unregistered", s->id,
	    (long)s->reg_pid, (long long)(master_register_deadline() / 1000));
	kill(s->reg_pid, SIGKILL);
	s->reg_killed = 1;
}

/* The registrar of slot s has exited: note what it did, start the bee. */
static void
master_registered(struct slot *s, int status)
{
	char	buf[64];

	s->reg_pid = 0;
	if (s->reg_gen != m.generation) {
		/* A reload since: another identity, perhaps; again. */
		s->reg_tried = 0;
	} else {
		s->reg_tried = 1;
		if (WIFEXITED(status) && WEXITSTATUS(status) == FB_EX_OK) {
			if (s->registered != 1)
				log_info("slot %u: executor %s registered and "
				    "approved", s->id, s->executor);
			s->registered = 1;
		} else {
			/* It logged why it exited 1, 75 or 78; not a crash. */
			proc_status_str(status, buf, sizeof(buf));
			if (m.state == MASTER_RUNNING && !s->reg_killed &&
			    (!WIFEXITED(status) || (WEXITSTATUS(status) != 1 &&
			    WEXITSTATUS(status) != FB_EX_TEMPFAIL &&
			    WEXITSTATUS(status) != FB_EX_CONFIG)))
				log_warnx("slot %u: registrar: %s", s->id, buf);
			else
				log_debug("slot %u: registrar: %s", s->id, buf);
			s->registered = -1;
			if ((WIFEXITED(status) &&
			    WEXITSTATUS(status) == FB_EX_TEMPFAIL) ||
			    s->reg_killed)
				m.owner_down = clock_now_ms();
		}
	}
	if (m.state == MASTER_RUNNING && s->wanted && s->state == SLOT_STOPPED)
		master_spawn(s);
	master_check_done();
}

/* --- channel -------------------------------------------------------------- */

static void
master_send(struct slot *s, int type)
{
	struct fbee_msg	msg;
	char		cause[FB_CAUSE_MAX];

	if (s->state != SLOT_RUNNING || s->fd == -1)
		return;
	memset(&msg, 0, sizeof(msg));
	msg.type = type;
	if (fbee_send(s->fd, &msg, cause, sizeof(cause)) == -1) {
		log_warnx("slot %u: pid %ld: %s: %s", s->id, (long)s->pid,
		    fbee_type_str(type), cause);
		return;
	}
	/* After the write: the bee reads its channel when this moves. */
	if (s->shm != NULL)
		__atomic_add_fetch(&s->shm->cmdseq, 1, __ATOMIC_RELEASE);
}

/* What the bee reports, from its page or (before it has one) a message. */
static void
master_bee_state(struct slot *s, int state, int phase, const char *processid,
    const char *event, int64_t task_start, double since)
{
	if (state == FBEE_ST_WORKING) {
		if (s->beestate != FBEE_ST_WORKING ||
		    strcmp(s->processid, processid) != 0)
			s->task_start = task_start;
		snprintf(s->processid, sizeof(s->processid), "%s", processid);
		snprintf(s->event, sizeof(s->event), "%s", event);
	} else {
		s->processid[0] = '\0';
		s->event[0] = '\0';
	}
	if (s->beestate != state)
		s->since = since;
	s->beestate = state;
	s->phase = phase;
	/* A replacement counts once it serves, not when it starts. */
	if (s->replacing && s->generation == m.generation &&
	    (state == FBEE_ST_POLLING || state == FBEE_ST_WORKING)) {
		s->replacing = 0;
		master_roll_next();
	}
}

/*
 * Take in the bee's status page.  0 (also when it has nothing new or is
 * being written right now: the last snapshot stays), or -1 + cause when
 * it is corrupt; the slot then keeps its last good values.
 */
static int
master_shm_peek(struct slot *s, char *cause, size_t causelen)
{
	struct fbee_shm	snap;
	int64_t		now = clock_now_ms(), lo, hi;
	int		rc;

	if (s->shm == NULL || s->state != SLOT_RUNNING)
		return 0;
	if ((rc = fbee_shm_read(s->shm, &snap, cause, causelen)) == 1)
		return 0;
	if (rc == -1)
		return -1;
	if (snap.pid != (int64_t)s->pid) {
		snprintf(cause, causelen, "pid %lld is not the bee's",
		    (long long)snap.pid);
		return -1;
	}
	lo = s->started - MASTER_CLOCK_SLACK_MS;
	hi = now + MASTER_CLOCK_SLACK_MS;
	if (snap.since < lo || snap.since > hi || snap.last_beat < lo ||
	    snap.last_beat > hi || (snap.state == FBEE_ST_WORKING &&
	    (snap.task_start < lo || snap.task_start > hi))) {
		snprintf(cause, causelen, "times out of range");
		return -1;
	}
	s->shm_seen = 1;
	if (snap.last_beat > s->last_beat)
		s->last_beat = snap.last_beat;
	/* The colony answered an assign: it accepts this executor. */
	if (snap.polls > 0 || snap.state == FBEE_ST_WORKING) {
		s->registered = 1;
		s->auth_refused = 0;
	}
	master_bee_state(s, snap.state, snap.phase, snap.processid, snap.event,
	    snap.task_start, now_wall() - (double)(now - snap.since) / 1000);
	return 0;
}

static void
master_channel_close(struct slot *s)
{
	if (s->ev_read != NULL) {
		event_free(s->ev_read);
		s->ev_read = NULL;
	}
	if (s->fd != -1) {
		close(s->fd);
		s->fd = -1;
	}
	if (s->unp_init) {
		msgpack_unpacker_destroy(&s->unp);
		s->unp_init = 0;
	}
}

static void
master_kill(struct slot *s, const char *why)
{
	char	cause[FB_CAUSE_MAX];

	if (s->state != SLOT_RUNNING || s->pid <= 0 || s->killed)
		return;
	(void)master_shm_peek(s, cause, sizeof(cause));	/* for the log */
	if (s->beestate == FBEE_ST_WORKING && s->processid[0] != '\0')
		log_warnx("slot %u: killing pid %ld (%s) holding process %s "
		    "event %s", s->id, (long)s->pid, why, s->processid,
		    s->event[0] != '\0' ? s->event : "-");
	else
		log_warnx("slot %u: killing pid %ld (%s)", s->id,
		    (long)s->pid, why);
	snprintf(s->cause, sizeof(s->cause), "killed: %.400s", why);
	s->killed = 1;
	kill(s->pid, SIGKILL);
	master_channel_close(s);
}

static void
master_message(struct slot *s, const struct fbee_msg *msg)
{
	char	cause[FB_CAUSE_MAX], why[FB_CAUSE_MAX + 32];

	s->last_heard = clock_now_ms();
	switch (msg->type) {
	case FBEE_HELLO:
		if (msg->proto != FBEE_PROTO_VERSION || msg->slot != s->id ||
		    msg->pid != (int64_t)s->pid) {
			master_kill(s, "hello does not match the slot");
			return;
		}
		s->hello = 1;
		snprintf(s->executor, sizeof(s->executor), "%s", msg->executor);
		snprintf(s->executorid, sizeof(s->executorid), "%s",
		    msg->executorid);
		log_debug("slot %u: pid %ld hello, executor %s", s->id,
		    (long)s->pid, s->executor);
		break;
	case FBEE_HEARTBEAT:
		if (s->shm_seen) {
			/* The page says more, and more exactly. */
			if (master_shm_peek(s, cause, sizeof(cause)) == -1) {
				snprintf(why, sizeof(why), "status page: %s",
				    cause);
				master_kill(s, why);
			}
			break;
		}
		/* Polling again, or working: the colony accepted this bee. */
		if (msg->state == FBEE_ST_WORKING ||
		    (msg->state == FBEE_ST_POLLING &&
		    s->beestate == FBEE_ST_POLLING)) {
			s->registered = 1;
			s->auth_refused = 0;
		}
		master_bee_state(s, msg->state, msg->phase, msg->processid,
		    msg->event, clock_now_ms() - msg->age_ms, now_wall());
		break;
	case FBEE_COUNTERS:
		s->live = msg->c;
		break;
	case FBEE_BYE:
		s->auth_refused = msg->auth;
		if (msg->reason[0] != '\0')
			snprintf(s->cause, sizeof(s->cause), "%s",
			    msg->reason);
		break;
	default:
		master_kill(s, "unexpected message type from a bee");
		break;
	}
}

/* Returns -1 when the bee was killed or its channel closed. */
static int
master_read(struct slot *s)
{
	msgpack_unpacked	up;
	struct fbee_msg		msg;
	char			cause[FB_CAUSE_MAX], why[FB_CAUSE_MAX + 32];
	ssize_t			n;
	int			rc, reads;

	/* Bounded: a chatty bee must not starve the loop (level-triggered). */
	for (reads = 0; reads < 64; reads++) {
		if (s->fd == -1)
			return -1;
		if (!msgpack_unpacker_reserve_buffer(&s->unp, 4096)) {
			master_kill(s, "out of memory for its channel");
			return -1;
		}
		n = read(s->fd, msgpack_unpacker_buffer(&s->unp), 4096);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return 0;
		if (n <= 0) {
			if (n == -1)
				log_warn("slot %u: channel", s->id);
			master_channel_close(s);
			return -1;
		}
		msgpack_unpacker_buffer_consumed(&s->unp, (size_t)n);
		msgpack_unpacked_init(&up);
		while ((rc = msgpack_unpacker_next(&s->unp, &up)) ==
		    MSGPACK_UNPACK_SUCCESS) {
			if (fbee_decode(&up.data, &msg, cause,
			    sizeof(cause)) == -1) {
				msgpack_unpacked_destroy(&up);
				snprintf(why, sizeof(why), "protocol error: %s",
				    cause);
				master_kill(s, why);
				return -1;
			}
			master_message(s, &msg);
			if (s->fd == -1) {
				msgpack_unpacked_destroy(&up);
				return -1;
			}
		}
		msgpack_unpacked_destroy(&up);
		if (rc == MSGPACK_UNPACK_PARSE_ERROR) {
			master_kill(s, "protocol error: undecodable message");
			return -1;
		}
		/* Bytes of the unfinished message, parsed or not. */
		if (msgpack_unpacker_message_size(&s->unp) > FBEE_MSG_MAX) {
			master_kill(s, "protocol error: message over 64 KiB");
			return -1;
		}
	}
	return 0;
}

static void
master_read_cb(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)master_read(arg);
}

/* --- spawning and reaping ------------------------------------------------- */

static void
master_slot_reset_bee(struct slot *s)
{
	s->hello = 0;
	s->beestate = FBEE_ST_STARTING;
	s->phase = FBEE_PH_NONE;
	s->processid[0] = '\0';
	s->event[0] = '\0';
	s->drain_sent = 0;
	s->killed = 0;
	s->shm_seen = 0;
	s->last_beat = 0;
	memset(&s->live, 0, sizeof(s->live));
}

static void
master_shm_free(struct slot *s)
{
	proc_shm_free(s->shm);
	s->shm = NULL;
	s->shm_seen = 0;
}

static void
master_spawn(struct slot *s)
{
	char		 slotarg[16], genarg[16], cause[FB_CAUSE_MAX];
	char		*argv[14];
	int		 fd = -1, shmfd = -1;
	pid_t		 pid;
	struct fbee_shm	*shm;

	if (m.state != MASTER_RUNNING || !s->wanted ||
	    s->state == SLOT_RUNNING)
		return;
	if (s->executorid[0] == '\0' && master_identity(s, cause,
	    sizeof(cause)) == -1) {
		log_warnx("slot %u: %s", s->id, cause);
		s->state = SLOT_FAILED;
		snprintf(s->cause, sizeof(s->cause), "%s", cause);
		return;
	}
	if ((s->registered != 1 || s->auth_refused) && !s->reg_tried &&
	    master_register_start(s))
		return;		/* master_registered() comes back */
	s->reg_tried = 0;

	snprintf(slotarg, sizeof(slotarg), "%u", s->id);
	snprintf(genarg, sizeof(genarg), "%u", m.generation);
	argv[0] = (char *)"financebeed";
	argv[1] = (char *)"-c";
	argv[2] = m.cfgpath;
	argv[3] = (char *)"--bee";
	argv[4] = slotarg;
	argv[5] = (char *)"--generation";
	argv[6] = genarg;
	argv[7] = (char *)"--channel-fd";
	argv[8] = (char *)"3";
	argv[9] = (char *)"--status-fd";
	argv[10] = (char *)"4";
	argv[11] = m.cfgfd >= 0 ? (char *)"--config-fd" : NULL;
	argv[12] = (char *)"5";
	argv[13] = NULL;
	if ((shm = proc_shm_create(&shmfd, cause, sizeof(cause))) == NULL ||
	    (pid = proc_spawn(argv, &fd, shmfd, m.cfgfd, cause,
	    sizeof(cause))) == -1) {
		if (shm != NULL) {
			close(shmfd);
			proc_shm_free(shm);
		}
		log_warnx("slot %u: spawn: %s", s->id, cause);
		snprintf(s->last_exit, sizeof(s->last_exit), "spawn failed");
		master_schedule(s, m.cfg->respawn_max_ms);
		return;
	}
	close(shmfd);	/* the bee has its copy; the mapping stays */
	master_slot_reset_bee(s);
	master_shm_free(s);
	s->shm = shm;
	s->pid = pid;
	s->fd = fd;
	s->generation = m.generation;
	s->state = SLOT_RUNNING;
	s->started = s->last_heard = clock_now_ms();
	s->since = now_wall();
	s->cause[0] = '\0';
	if (!msgpack_unpacker_init(&s->unp, 4096))
		fatalx("out of memory");
	s->unp_init = 1;
	s->ev_read = event_new(m.base, fd, EV_READ | EV_PERSIST,
	    master_read_cb, s);
	if (s->ev_read == NULL || event_add(s->ev_read, NULL) == -1)
		fatalx("event_add");
	log_info("slot %u: started bee pid %ld, generation %u", s->id,
	    (long)pid, m.generation);
	if (m.paused)
		master_send(s, FBEE_PAUSE);
}

static void
master_respawn_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct slot	*s = arg;

	(void)fd;
	(void)ev;
	if (s->state != SLOT_BACKOFF)
		return;
	s->state = SLOT_STOPPED;
	if (s->wanted)
		master_spawn(s);
}

static void
master_schedule(struct slot *s, long delay)
{
	struct timeval	tv = ms_tv(delay);

	s->state = SLOT_BACKOFF;
	s->since = now_wall();
	if (s->ev_respawn == NULL)
		s->ev_respawn = evtimer_new(m.base, master_respawn_cb, s);
	if (s->ev_respawn == NULL || evtimer_add(s->ev_respawn, &tv) == -1)
		fatalx("evtimer_add");
}

/* Count a death; decide whether the pool is in a crash loop. */
static void
master_death(void)
{
	int64_t		now = clock_now_ms();
	unsigned int	n = 0;
	size_t		i;

	m.deaths[m.ndeaths++ % MASTER_DEATHS] = now;
	for (i = 0; i < MASTER_DEATHS && i < m.ndeaths; i++) {
		if (now - m.deaths[i] <= m.cfg->crash_window_ms)
			n++;
	}
	if (n >= m.cfg->crash_limit && !m.crash_loop) {
		m.crash_loop = 1;
		log_warnx("crash loop: %u bee deaths within %lds; respawning "
		    "no faster than every %.1fs", n,
		    m.cfg->crash_window_ms / 1000,
		    (double)m.cfg->respawn_max_ms / 1000);
	}
}

static void
master_reaped(struct slot *s, int status)
{
	char	cause[FB_CAUSE_MAX];
	long	delay;
	int	code = -1, lived;

	(void)master_read(s);	/* the bee's last counters and bye */
	master_channel_close(s);
	/* Its last word, exact even after a kill -9, then gone. */
	(void)master_shm_peek(s, cause, sizeof(cause));
	master_shm_free(s);
	proc_status_str(status, s->last_exit, sizeof(s->last_exit));
	if (WIFEXITED(status))
		code = WEXITSTATUS(status);
	fbee_counters_add(&s->retired, &s->live);
	fbee_counters_add(&m.retired, &s->live);
	memset(&s->live, 0, sizeof(s->live));
	lived = clock_now_ms() - s->started >= m.cfg->healthy_after_ms;
	s->pid = 0;
	s->since = now_wall();

	if (code == 0)
		log_info("slot %u: bee exited (%s)", s->id, s->last_exit);
	else
		log_warnx("slot %u: bee %s%s%s", s->id, s->last_exit,
		    s->cause[0] != '\0' ? ": " : "", s->cause);
	if (code != 0 && s->beestate == FBEE_ST_WORKING &&
	    s->processid[0] != '\0')
		log_warnx("slot %u: process %s event %s was in hand; ColonyOS "
		    "hands it out again when its lease expires", s->id,
		    s->processid, s->event[0] != '\0' ? s->event : "-");

	/*
	 * A bee of the new generation died before serving: stop replacing,
	 * so that a configuration the bees cannot work with takes out one
	 * slot, not the pool.
	 */
	if (m.rolling && s->replacing && s->generation == m.generation &&
	    code != 0) {
		m.rolling = 0;
		s->replacing = 0;
		log_warnx("reload: the new bee of slot %u failed (%s); the "
		    "other bees keep their configuration until the next "
		    "reload", s->id, s->last_exit);
	}

	if (m.state == MASTER_STOPPING || !s->wanted) {
		s->state = SLOT_STOPPED;
		s->replacing = 0;
		master_check_done();
		if (m.rolling)
			master_roll_next();
		return;
	}
	if (code == FB_EX_OK) {
		s->state = SLOT_STOPPED;
		s->backoff_ms = 0;
		master_spawn(s);
		return;
	}
	if (code == FB_EX_CONFIG) {
		s->state = SLOT_FAILED;
		s->replacing = 0;
		if (s->cause[0] == '\0')
			snprintf(s->cause, sizeof(s->cause), "configuration");
		log_warnx("slot %u: configuration error (exit 78); not "
		    "respawned until a reload", s->id);
		if (m.rolling)
			master_roll_next();
		return;
	}

	/* 75, a signal, anything else: back off. */
	master_death();
	s->restarts++;
	m.restarts++;
	if (s->auth_refused)
		s->registered = 0;
	if (lived)
		s->backoff_ms = 0;
	if (s->backoff_ms <= 0)
		s->backoff_ms = m.cfg->respawn_min_ms;
	else if (s->backoff_ms * 2 > m.cfg->respawn_max_ms)
		s->backoff_ms = m.cfg->respawn_max_ms;
	else
		s->backoff_ms *= 2;
	delay = clock_jitter(s->backoff_ms);
	if (m.crash_loop) {
		delay = m.cfg->respawn_max_ms;
		if (now_wall() + (double)delay / 1000 > m.throttled_until)
			m.throttled_until = now_wall() + (double)delay / 1000;
	}
	s->replacing = 0;
	log_info("slot %u: respawn in %.2fs", s->id, (double)delay / 1000);
	master_schedule(s, delay);
	if (m.rolling)
		master_roll_next();
}

static void
master_sigchld(void)
{
	char	buf[64];
	pid_t	pid;
	int	status;
	size_t	i;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid == m.prune_pid) {
			proc_status_str(status, buf, sizeof(buf));
			if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
				log_debug("prune finished");
			else if (m.state == MASTER_STOPPING &&
			    WIFSIGNALED(status))
				/* We stopped it: the next run picks up. */
				log_info("prune interrupted by the stop");
			else
				log_warnx("prune: %s", buf);
			m.prune_pid = 0;
			master_check_done();
			continue;
		}
		for (i = 1; i <= MASTER_MAX_SLOTS; i++) {
			if (m.slots[i].reg_pid == pid)
				break;
		}
		if (i <= MASTER_MAX_SLOTS) {
			master_registered(&m.slots[i], status);
			continue;
		}
		for (i = 1; i <= MASTER_MAX_SLOTS; i++) {
			if (m.slots[i].pid == pid &&
			    m.slots[i].state == SLOT_RUNNING)
				break;
		}
		if (i > MASTER_MAX_SLOTS) {
			log_debug("reaped unknown child %ld", (long)pid);
			continue;
		}
		master_reaped(&m.slots[i], status);
	}
}

/* --- stop ----------------------------------------------------------------- */

static void
master_check_done(void)
{
	size_t	i;

	if (m.state != MASTER_STOPPING)
		return;
	for (i = 1; i <= MASTER_MAX_SLOTS; i++) {
		if (m.slots[i].state == SLOT_RUNNING || m.slots[i].reg_pid > 0)
			return;
	}
	if (m.prune_pid > 0)
		return;
	log_info("all bees stopped");
	event_base_loopexit(m.base, NULL);
}

static void
master_stop_timer_cb(evutil_socket_t fd, short ev, void *arg)
{
	size_t	i;

	(void)fd;
	(void)ev;
	(void)arg;
	for (i = 1; i <= MASTER_MAX_SLOTS; i++) {
		master_kill(&m.slots[i], m.fast ? "fast stop" :
		    "shutdown_timeout expired");
		if (m.slots[i].reg_pid > 0)
			kill(m.slots[i].reg_pid, SIGKILL);
	}
	if (m.prune_pid > 0)
		kill(m.prune_pid, SIGKILL);
}

void
master_stop(int fast)
{
	struct timeval	 tv;
	struct slot	*s;
	size_t		 i;

	if (m.base == NULL)
		return;
	if (m.state == MASTER_STOPPING && (m.fast || !fast))
		return;
	log_info("%s stop", fast ? "fast" : "graceful");
	m.state = MASTER_STOPPING;
	m.fast = fast;
	for (i = 1; i <= MASTER_MAX_SLOTS; i++) {
		s = &m.slots[i];
		if (s->state == SLOT_BACKOFF || s->state == SLOT_FAILED) {
			if (s->ev_respawn != NULL)
				evtimer_del(s->ev_respawn);
			s->state = SLOT_STOPPED;
		}
		if (s->reg_pid > 0)
			kill(s->reg_pid, SIGTERM);
		if (s->state != SLOT_RUNNING)
			continue;
		if (fast) {
			kill(s->pid, SIGQUIT);
		} else {
			master_send(s, FBEE_DRAIN);
			kill(s->pid, SIGTERM);
			s->drain_sent = 1;
		}
	}
	if (m.prune_pid > 0)
		kill(m.prune_pid, SIGTERM);
	if (m.ev_stop == NULL)
		m.ev_stop = evtimer_new(m.base, master_stop_timer_cb, NULL);
	tv = ms_tv(fast ? MASTER_FAST_KILL_MS : m.cfg->shutdown_timeout_ms);
	evtimer_add(m.ev_stop, &tv);
	master_check_done();
}

/* --- scale, pause --------------------------------------------------------- */

static void
master_drain_slot(struct slot *s)
{
	if (s->state == SLOT_RUNNING && !s->drain_sent) {
		master_send(s, FBEE_DRAIN);
		s->drain_sent = 1;
	}
}

static void
master_set_target(unsigned int n)
{
	struct slot	*s;
	unsigned int	 i;

	m.target = n;
	for (i = 1; i <= MASTER_MAX_SLOTS; i++) {
		s = &m.slots[i];
		if (i <= n) {
			s->wanted = 1;
			if (m.state != MASTER_RUNNING)
				continue;
			if (s->state == SLOT_STOPPED)
				master_spawn(s);
			continue;
		}
		s->wanted = 0;
		if (s->state == SLOT_BACKOFF || s->state == SLOT_FAILED) {
			if (s->ev_respawn != NULL)
				evtimer_del(s->ev_respawn);
			s->state = SLOT_STOPPED;
		} else if (s->state == SLOT_RUNNING)
			master_drain_slot(s);
	}
}

int
master_scale(char op, unsigned long n, char *cause, size_t causelen)
{
	unsigned long	t = m.target;

	if (m.state != MASTER_RUNNING) {
		snprintf(cause, causelen, "the daemon is stopping");
		return -1;
	}
	switch (op) {
	case '=':
		t = n;
		break;
	case '+':
		t = n > MASTER_MAX_SLOTS ? ULONG_MAX : t + n;
		break;
	case '-':
		if (n > t) {
			snprintf(cause, causelen, "cannot remove %lu of %lu "
			    "bees", n, t);
			return -1;
		}
		t -= n;
		break;
	default:
		snprintf(cause, causelen, "unknown operation '%c'", op);
		return -1;
	}
	if (t > MASTER_MAX_SLOTS) {
		snprintf(cause, causelen, "at most %d bees", MASTER_MAX_SLOTS);
		return -1;
	}
	if (t != m.target)
		log_info("scaling from %u to %lu bees", m.target, t);
	master_set_target((unsigned int)t);
	return 0;
}

void
master_pause(int pause)
{
	size_t	i;

	if (m.paused == (pause != 0))
		return;
	m.paused = pause != 0;
	log_info("%s assigning", pause ? "pausing" : "resuming");
	for (i = 1; i <= MASTER_MAX_SLOTS; i++)
		master_send(&m.slots[i], pause ? FBEE_PAUSE : FBEE_RESUME);
}

/* --- reload --------------------------------------------------------------- */

struct master_reload_done {
	void	(*done)(int, const char *, void *);
	void	 *arg;
	int	  ok;
	char	  cause[FB_CAUSE_MAX];
};

static void
master_reload_done_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct master_reload_done	*d = arg;

	(void)fd;
	(void)ev;
	d->done(d->ok, d->ok ? NULL : d->cause, d->arg);
	free(d);
}

/* Replace bees of an older generation one at a time: drain, then respawn. */
static void
master_roll_next(void)
{
	struct slot	*s;
	size_t		 i;

	if (!m.rolling || m.state != MASTER_RUNNING)
		return;
	for (i = 1; i <= MASTER_MAX_SLOTS; i++) {
		if (m.slots[i].replacing)
			return;
	}
	for (i = 1; i <= MASTER_MAX_SLOTS; i++) {
		s = &m.slots[i];
		if (s->wanted && s->state == SLOT_RUNNING && !s->drain_sent &&
		    s->generation < m.generation) {
			log_info("slot %u: replacing bee pid %ld (generation "
			    "%u -> %u)", s->id, (long)s->pid, s->generation,
			    m.generation);
			s->replacing = 1;
			master_drain_slot(s);
			return;
		}
	}
	m.rolling = 0;
	log_info("reload complete: generation %u", m.generation);
}

static int
master_reload_now(char *cause, size_t causelen)
{
	struct fb_config	 n;
	struct crypto_key	 key;
	struct slot		*s;
	unsigned int		 oldbees;
	int			 differ, cfgfd;
	size_t			 i;

	memset(&n, 0, sizeof(n));
	if (config_load_snapshot(m.cfgpath, &n, &cfgfd, cause, causelen) == -1)
		return -1;
	if (config_executor_key(&n, 1, &key, cause, causelen) == -1) {
		close(cfgfd);
		config_free(&n);
		return -1;
	}
	crypto_key_clear(&key);
	if (admin_set_groups(&n, cause, causelen) == -1) {
		close(cfgfd);
		config_free(&n);
		return -1;
	}
	/* From now on, every bee spawned gets the new one. */
	if (m.cfgfd >= 0)
		close(m.cfgfd);
	m.cfgfd = cfgfd;
	differ = config_bee_settings_differ(m.cfg, &n);
	oldbees = m.cfg->bees;
	if ((m.cfg->admin_path == NULL) != (n.admin_path == NULL) ||
	    (n.admin_path != NULL &&
	    strcmp(m.cfg->admin_path, n.admin_path) != 0))
		log_warnx("reload: admin.socket changes need a restart");
	if (m.foreground)
		n.log_level = LOG_LEVEL_DEBUG;
	else if (strcmp(m.cfg->log_target, n.log_target) != 0 &&
	    log_init(NULL, n.log_level, n.log_target, cause, causelen) == -1) {
		log_warnx("reload: log: %s; keeping the old target", cause);
		(void)log_init(NULL, n.log_level, m.cfg->log_target, cause,
		    causelen);
	}
	m.generation++;
	n.generation = m.generation;
	config_free(m.cfg);
	*m.cfg = n;

	log_setlevel(m.cfg->log_level);
	for (i = 1; i <= MASTER_MAX_SLOTS; i++) {
		s = &m.slots[i];
		s->executorid[0] = '\0';
		s->registered = 0;
		if (s->state == SLOT_RUNNING && !differ)
			s->generation = m.generation;
		if (s->state == SLOT_FAILED && s->wanted) {
			s->state = SLOT_STOPPED;
			master_spawn(s);
		}
		if (s->executorid[0] == '\0')
			(void)master_identity(s, cause, causelen);
	}
	log_info("reloaded %s: generation %u%s", m.cfgpath, m.generation,
	    differ ? ", replacing bees" : "");
	if (oldbees != m.cfg->bees)
		master_set_target(m.cfg->bees);
	if (differ) {
		m.rolling = 1;
		master_roll_next();
	}
	return 0;
}

void
master_reload(void (*done)(int, const char *, void *), void *arg)
{
	struct master_reload_done	*d;
	struct timeval			 tv = { 0, 0 };
	char				 cause[FB_CAUSE_MAX];
	int				 ok;

	if (m.state != MASTER_RUNNING) {
		snprintf(cause, sizeof(cause), "the daemon is stopping");
		ok = 0;
	} else if (master_reload_now(cause, sizeof(cause)) == -1) {
		log_warnx("reload failed, keeping the running configuration: "
		    "%s", cause);
		ok = 0;
	} else
		ok = 1;
	if (done == NULL)
		return;
	if ((d = calloc(1, sizeof(*d))) == NULL) {
		done(ok, ok ? NULL : cause, arg);
		return;
	}
	d->done = done;
	d->arg = arg;
	d->ok = ok;
	snprintf(d->cause, sizeof(d->cause), "%s", ok ? "" : cause);
	if (event_base_once(m.base, -1, EV_TIMEOUT, master_reload_done_cb, d,
	    &tv) == -1) {
		done(ok, ok ? NULL : cause, arg);
		free(d);
	}
}

/* --- timers --------------------------------------------------------------- */

static void
master_watchdog(struct slot *s, int64_t now)
{
	int64_t	limit, silent;
	char	why[FB_CAUSE_MAX + 32], cause[FB_CAUSE_MAX];

	/* A bee that closed its channel but lives on is silent too. */
	if (s->state != SLOT_RUNNING || s->killed)
		return;
	if (master_shm_peek(s, cause, sizeof(cause)) == -1) {
		snprintf(why, sizeof(why), "status page: %s", cause);
		master_kill(s, why);
		return;
	}
	/* A message or a page update: either shows the bee alive. */
	silent = now - (s->last_beat > s->last_heard ? s->last_beat :
	    s->last_heard);
	if (s->beestate == FBEE_ST_WORKING &&
	    now - s->task_start > m.cfg->task_timeout_ms +
	    MASTER_TASK_GRACE_MS) {
		snprintf(why, sizeof(why), "task running for %.1fs, over "
		    "task_timeout", (double)(now - s->task_start) / 1000);
		master_kill(s, why);
		return;
	}
	switch (s->beestate) {
	case FBEE_ST_STARTING:
		limit = m.cfg->heartbeat_timeout_ms + MASTER_START_GRACE_MS +
		    m.cfg->db_connect_timeout * 1000;
		break;
	case FBEE_ST_POLLING:
		/* A long-poll is silent for up to its HTTP timeout. */
		limit = m.cfg->heartbeat_timeout_ms +
		    (int64_t)m.cfg->poll_timeout * 1000 +
		    COLONIES_POLL_SLACK_MS;
		break;
	case FBEE_ST_WORKING:
		limit = m.cfg->task_timeout_ms + MASTER_TASK_GRACE_MS +
		    m.cfg->heartbeat_timeout_ms;
		break;
	default:
		limit = m.cfg->heartbeat_timeout_ms;
		break;
	}
	if (silent > limit) {
		snprintf(why, sizeof(why), "silent for %.1fs while %s",
		    (double)silent / 1000, fbee_state_str(s->beestate));
		master_kill(s, why);
	}
}

static uint64_t
master_total_tasks(void)
{
	uint64_t	n = fbee_counters_total(&m.retired);
	size_t		i;

	for (i = 1; i <= MASTER_MAX_SLOTS; i++)
		n += fbee_counters_total(&m.slots[i].live);
	return n;
}

/*
 * One sample of the task total per tick, a minute of them in a ring; the
 * first is taken at start, so a daemon younger than a minute reports its
 * rate since it started rather than nothing.
 */
static void
master_rate_sample(int64_t now)
{
	m.rate_total[m.rate_head] = master_total_tasks();
	m.rate_ms[m.rate_head] = now;
	m.rate_head = (m.rate_head + 1) % MASTER_RATE_SAMPLES;
	if (m.rate_n < MASTER_RATE_SAMPLES)
		m.rate_n++;
}

static void
master_tick_cb(evutil_socket_t fd, short ev, void *arg)
{
	int64_t	now = clock_now_ms();
	size_t	i;
	int	recent = 0;

	(void)fd;
	(void)ev;
	(void)arg;
	for (i = 1; i <= MASTER_MAX_SLOTS; i++) {
		master_watchdog(&m.slots[i], now);
		master_register_watchdog(&m.slots[i], now);
	}

	if (m.crash_loop) {
		for (i = 0; i < MASTER_DEATHS && i < m.ndeaths; i++) {
			if (now - m.deaths[i] <= m.cfg->crash_window_ms)
				recent = 1;
		}
		if (!recent) {
			m.crash_loop = 0;
			m.throttled_until = 0;
			log_info("crash loop over");
		}
	}

	master_rate_sample(now);
}

static void
master_prune_cb(evutil_socket_t fd, short ev, void *arg)
{
	char	 cause[FB_CAUSE_MAX];
	pid_t	 pid;

	(void)fd;
	(void)ev;
	(void)arg;
	if (m.state != MASTER_RUNNING || m.prune_pid > 0)
		return;
	if ((pid = master_helper("--prune", NULL, cause,
	    sizeof(cause))) == -1) {
		log_warnx("prune: %s", cause);
		return;
	}
	log_debug("prune started, pid %ld", (long)pid);
	m.prune_pid = pid;
}

static void
master_signal_cb(evutil_socket_t sig, short ev, void *arg)
{
	size_t	i;

	(void)ev;
	(void)arg;
	switch (sig) {
	case SIGCHLD:
		master_sigchld();
		break;
	case SIGTERM:
	case SIGINT:
		/* A second TERM/INT while draining means hurry up. */
		master_stop(m.state == MASTER_STOPPING);
		break;
	case SIGQUIT:
		master_stop(1);
		break;
	case SIGHUP:
		log_info("SIGHUP: reloading %s", m.cfgpath);
		master_reload(NULL, NULL);
		break;
	case SIGUSR1:
		(void)log_reopen();
		for (i = 1; i <= MASTER_MAX_SLOTS; i++)
			master_send(&m.slots[i], FBEE_REOPEN);
		log_info("logs reopened");
		break;
	}
}

/* --- status for admin.c --------------------------------------------------- */

static const char *const master_outcomes[FBEE_NOUTCOMES] = {
	"applied", "duplicate", "ignored", "stale", "parked", "failed",
	"transient"
};

static json_t *
master_tasks_json(const struct fbee_counters *c)
{
	json_t	*o = json_object();
	size_t	 i;

	for (i = 0; i < FBEE_NOUTCOMES; i++)
		json_object_set_new(o, master_outcomes[i],
		    json_integer((json_int_t)c->tasks[i]));
	json_object_set_new(o, "lost", json_integer((json_int_t)c->lost));
	return o;
}

static json_t *
master_latency_json(const struct metrics_hist *h)
{
	return json_pack("{s:f,s:f,s:f}",
	    "p50", (double)metrics_hist_quantile(h, 0.50) / 1000,
	    "p95", (double)metrics_hist_quantile(h, 0.95) / 1000,
	    "p99", (double)metrics_hist_quantile(h, 0.99) / 1000);
}

static const char *
master_slot_state(const struct slot *s)
{
	switch (s->state) {
	case SLOT_RUNNING:
		if (s->drain_sent && s->beestate != FBEE_ST_WORKING)
			return "draining";
		return fbee_state_str(s->beestate);
	case SLOT_BACKOFF:
		return "backoff";
	case SLOT_FAILED:
		return "failed";
	case SLOT_STOPPED:
		if (s->reg_pid > 0)
			return "registering";
		break;
	}
	return "stopped";
}

static int
master_slot_shown(const struct slot *s)
{
	return s->id <= m.target || s->state != SLOT_STOPPED;
}

static double
master_throughput(void)
{
	int64_t	now = clock_now_ms();
	size_t	oldest;

	if (m.rate_n == 0)
		return 0;
	oldest = m.rate_n < MASTER_RATE_SAMPLES ? 0 : m.rate_head;
	if (now <= m.rate_ms[oldest])
		return 0;
	return (double)(master_total_tasks() - m.rate_total[oldest]) * 1000 /
	    (double)(now - m.rate_ms[oldest]);
}

json_t *
master_status(void)
{
	struct fbee_counters	 pool, sc;
	struct slot		*s;
	json_t			*o, *bees, *b, *task, *p;
	unsigned int		 running = 0;
	size_t			 i;
	const char		*state;
	char			 cause[FB_CAUSE_MAX];

	pool = m.retired;
	bees = json_array();
	for (i = 1; i <= MASTER_MAX_SLOTS; i++) {
		s = &m.slots[i];
		/* A corrupt page: its last good values; the watchdog acts. */
		(void)master_shm_peek(s, cause, sizeof(cause));
		fbee_counters_add(&pool, &s->live);
		if (s->state == SLOT_RUNNING)
			running++;
		if (!master_slot_shown(s))
			continue;
		sc = s->retired;
		fbee_counters_add(&sc, &s->live);
		task = json_null();
		if (s->state == SLOT_RUNNING &&
		    s->beestate == FBEE_ST_WORKING && s->processid[0] != '\0') {
			json_decref(task);
			task = json_pack("{s:s,s:s?,s:s,s:f}",
			    "process", s->processid,
			    "event", s->event[0] != '\0' ? s->event : NULL,
			    "phase", fbee_phase_str(s->phase),
			    "age", (double)(clock_now_ms() - s->task_start) / 1000);
		}
		b = json_pack("{s:I,s:I,s:I,s:s,s:s,s:o,s:o,s:o,s:I,s:I,s:s?,"
		    "s:f}",
		    "slot", (json_int_t)s->id,
		    "pid", (json_int_t)(s->state == SLOT_RUNNING ? s->pid : 0),
		    "generation", (json_int_t)s->generation,
		    "executor", s->executor,
		    "state", master_slot_state(s),
		    "task", task,
		    "tasks", master_tasks_json(&sc),
		    "latency_ms", master_latency_json(&sc.hist),
		    "rss_kb", (json_int_t)(s->state == SLOT_RUNNING ?
		    s->live.rss_kb : 0),
		    "restarts", (json_int_t)s->restarts,
		    "last_exit", s->last_exit[0] != '\0' ? s->last_exit : NULL,
		    "since", s->since);
		if (b == NULL)
			continue;
		if (s->cause[0] != '\0' && (s->state == SLOT_FAILED ||
		    s->state == SLOT_BACKOFF))
			json_object_set_new(b, "cause", json_string(s->cause));
		json_array_append_new(bees, b);
	}
	if (m.state == MASTER_STOPPING)
		state = "stopping";
	else if (m.rolling)
		state = "reloading";
	else if (m.paused)
		state = "paused";
	else
		state = "running";
	p = json_pack("{s:o,s:f,s:o,s:I,s:I,s:I}",
	    "tasks", master_tasks_json(&pool),
	    "throughput_1m", master_throughput(),
	    "latency_ms", master_latency_json(&pool.hist),
	    "db_errors", (json_int_t)pool.db_errors,
	    "http_errors", (json_int_t)pool.http_errors,
	    "restarts", (json_int_t)m.restarts);
	o = json_pack("{s:i,s:s,s:I,s:s,s:I,s:I,s:f,s:I,s:I,s:b,s:o,s:o,"
	    "s:o}",
	    "version", 1,
	    "state", state,
	    "pid", (json_int_t)getpid(),
	    "config", m.cfgpath,
	    "generation", (json_int_t)m.generation,
	    "started", (json_int_t)m.started_wall,
	    "uptime", (double)(clock_now_ms() - m.started) / 1000,
	    "bees_target", (json_int_t)m.target,
	    "bees_running", (json_int_t)running,
	    "crash_loop", m.crash_loop,
	    "throttled_until", m.crash_loop && m.throttled_until > 0 ?
	    json_real(m.throttled_until) : json_null(),
	    "pool", p != NULL ? p : json_null(),
	    "bees", bees);
	return o;
}

json_t *
master_executors(void)
{
	struct slot	*s;
	json_t		*a = json_array(), *e;
	char		 cause[FB_CAUSE_MAX];
	size_t		 i;
	const char	*reg;

	for (i = 1; i <= MASTER_MAX_SLOTS; i++) {
		s = &m.slots[i];
		if (!master_slot_shown(s))
			continue;
		if (s->executorid[0] == '\0')
			(void)master_identity(s, cause, sizeof(cause));
		if (s->registered == 1)
			reg = "yes";
		else if (s->auth_refused)
			reg = "no";
		else
			reg = "unknown";
		e = json_pack("{s:I,s:s,s:s,s:s}", "slot", (json_int_t)s->id,
		    "name", s->executor, "id", s->executorid,
		    "registered", reg);
		if (e != NULL)
			json_array_append_new(a, e);
	}
	return a;
}

/* A growing buffer for the metrics text. */
struct mbuf {
	char	*p;
	size_t	 len;
	size_t	 cap;
	int	 oom;
};

static void mbuf_printf(struct mbuf *, const char *, ...)
    __attribute__((__format__(__printf__, 2, 3)));

static void
mbuf_printf(struct mbuf *b, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;
	char	*np;

	if (b->oom)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = 1;
			return;
		}
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		if ((np = realloc(b->p, b->cap * 2 + (size_t)n)) == NULL) {
			b->oom = 1;
			return;
		}
		b->p = np;
		b->cap = b->cap * 2 + (size_t)n;
	}
}

char *
master_metrics_text(void)
{
	struct fbee_counters	 pool;
	struct mbuf		 b;
	struct slot		*s;
	unsigned int		 bystate[FBEE_ST_MAX + 4];
	static const char *const extra[4] = { "backoff", "failed", "stopped",
	    "registering" };
	uint64_t		 cum = 0;
	size_t			 i, j;
	char			 cause[FB_CAUSE_MAX];

	memset(&b, 0, sizeof(b));
	b.cap = 4096;
	if ((b.p = malloc(b.cap)) == NULL)
		return NULL;
	b.p[0] = '\0';
	memset(bystate, 0, sizeof(bystate));
	pool = m.retired;
	for (i = 1; i <= MASTER_MAX_SLOTS; i++) {
		s = &m.slots[i];
		(void)master_shm_peek(s, cause, sizeof(cause));
		fbee_counters_add(&pool, &s->live);
		if (!master_slot_shown(s))
			continue;
		if (s->state == SLOT_RUNNING)
			bystate[s->beestate < FBEE_ST_MAX ? s->beestate : 0]++;
		else if (s->state == SLOT_BACKOFF)
			bystate[FBEE_ST_MAX]++;
		else if (s->state == SLOT_FAILED)
			bystate[FBEE_ST_MAX + 1]++;
		else if (s->reg_pid > 0)
			bystate[FBEE_ST_MAX + 3]++;
		else
			bystate[FBEE_ST_MAX + 2]++;
	}
	mbuf_printf(&b, "# HELP financebee_up Whether the supervisor is "
	    "running.\n# TYPE financebee_up gauge\nfinancebee_up 1\n");
	mbuf_printf(&b, "# HELP financebee_tasks_total Tasks finished, by "
	    "outcome.\n# TYPE financebee_tasks_total counter\n");
	for (i = 0; i < FBEE_NOUTCOMES; i++)
		mbuf_printf(&b, "financebee_tasks_total{outcome=\"%s\"} %"
		    PRIu64 "\n", master_outcomes[i], pool.tasks[i]);
	mbuf_printf(&b, "# HELP financebee_lost_total Processes whose "
	    "ownership was lost before the close.\n"
	    "# TYPE financebee_lost_total counter\n"
	    "financebee_lost_total %" PRIu64 "\n", pool.lost);
	mbuf_printf(&b, "# HELP financebee_task_duration_seconds Time from "
	    "assignment to close.\n"
	    "# TYPE financebee_task_duration_seconds histogram\n");
	for (i = 0; i < METRICS_NBUCKETS - 1; i++) {
		cum += pool.hist.buckets[i];
		mbuf_printf(&b, "financebee_task_duration_seconds_bucket"
		    "{le=\"%.6f\"} %" PRIu64 "\n",
		    (double)((uint64_t)1 << i) / 1e6, cum);
	}
	mbuf_printf(&b, "financebee_task_duration_seconds_bucket{le=\"+Inf\"} "
	    "%" PRIu64 "\n", pool.hist.count);
	mbuf_printf(&b, "financebee_task_duration_seconds_sum %.6f\n"
	    "financebee_task_duration_seconds_count %" PRIu64 "\n",
	    (double)pool.hist.sum_us / 1e6, pool.hist.count);
	mbuf_printf(&b, "# HELP financebee_bees Bees by state.\n"
	    "# TYPE financebee_bees gauge\n");
	for (i = 0; i < FBEE_ST_MAX; i++)
		mbuf_printf(&b, "financebee_bees{state=\"%s\"} %u\n",
		    fbee_state_str((int)i), bystate[i]);
	for (j = 0; j < 4; j++)
		mbuf_printf(&b, "financebee_bees{state=\"%s\"} %u\n", extra[j],
		    bystate[FBEE_ST_MAX + j]);
	mbuf_printf(&b, "# HELP financebee_bees_target Bees wanted.\n"
	    "# TYPE financebee_bees_target gauge\n"
	    "financebee_bees_target %u\n", m.target);
	mbuf_printf(&b, "# HELP financebee_bee_restarts_total Bees respawned "
	    "after a failure.\n# TYPE financebee_bee_restarts_total counter\n"
	    "financebee_bee_restarts_total %u\n", m.restarts);
	mbuf_printf(&b, "# HELP financebee_crash_loop Whether respawns are "
	    "throttled.\n# TYPE financebee_crash_loop gauge\n"
	    "financebee_crash_loop %d\n", m.crash_loop);
	mbuf_printf(&b, "# HELP financebee_db_errors_total Transient database "
	    "failures.\n# TYPE financebee_db_errors_total counter\n"
	    "financebee_db_errors_total %" PRIu64 "\n", pool.db_errors);
	mbuf_printf(&b, "# HELP financebee_http_errors_total Failed ColonyOS "
	    "calls.\n# TYPE financebee_http_errors_total counter\n"
	    "financebee_http_errors_total %" PRIu64 "\n", pool.http_errors);
	mbuf_printf(&b, "# HELP financebee_bee_rss_bytes Resident memory of "
	    "each bee.\n# TYPE financebee_bee_rss_bytes gauge\n");
	for (i = 1; i <= MASTER_MAX_SLOTS; i++) {
		s = &m.slots[i];
		if (s->state == SLOT_RUNNING && s->live.rss_kb > 0)
			mbuf_printf(&b, "financebee_bee_rss_bytes{slot=\"%u\"} "
			    "%" PRId64 "\n", s->id, s->live.rss_kb * 1024);
	}
	mbuf_printf(&b, "# HELP financebee_master_rss_bytes Resident memory "
	    "of the master.\n# TYPE financebee_master_rss_bytes gauge\n"
	    "financebee_master_rss_bytes %ld\n", metrics_rss_kb(getpid()) *
	    1024);
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

/* --- main ----------------------------------------------------------------- */

static int
master_pidfile(void)
{
	FILE	*f;

	if (m.cfg->pidfile == NULL || m.cfg->pidfile[0] == '\0')
		return 0;
	if ((f = fopen(m.cfg->pidfile, "w")) == NULL) {
		log_warn("pidfile %s", m.cfg->pidfile);
		return -1;
	}
	fprintf(f, "%ld\n", (long)getpid());
	fclose(f);
	return 0;
}

int
master_main(const char *cfgpath, struct fb_config *cfg, int cfgfd,
    int foreground)
{
	static const int	 sigs[6] = {
		SIGCHLD, SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1
	};
	struct crypto_key	 key;
	struct timeval		 tv;
	char			 cause[FB_CAUSE_MAX];
	size_t			 i;

	memset(&m, 0, sizeof(m));
	m.cfg = cfg;
	m.cfgfd = cfgfd;
	m.foreground = foreground;
	m.generation = cfg->generation > 0 ? cfg->generation : 1;
	cfg->generation = m.generation;
	if (realpath(cfgpath, m.cfgpath) == NULL)
		snprintf(m.cfgpath, sizeof(m.cfgpath), "%s", cfgpath);
	log_procname("master");
	if (!foreground && log_init("master", cfg->log_level, cfg->log_target,
	    cause, sizeof(cause)) == -1) {
		log_warnx("log: %s", cause);
		return FB_EX_CONFIG;
	}
	if (config_executor_key(cfg, 1, &key, cause, sizeof(cause)) == -1) {
		log_warnx("executor identity: %s", cause);
		return FB_EX_CONFIG;
	}
	crypto_key_clear(&key);
	if (proc_init(cause, sizeof(cause)) == -1) {
		log_warnx("%s", cause);
		return FB_EX_SOFTWARE;
	}
	if ((m.base = event_base_new()) == NULL) {
		log_warnx("event_base_new failed");
		return FB_EX_SOFTWARE;
	}
	for (i = 0; i < 6; i++) {
		m.ev_sig[i] = evsignal_new(m.base, sigs[i], master_signal_cb,
		    NULL);
		if (m.ev_sig[i] == NULL || evsignal_add(m.ev_sig[i],
		    NULL) == -1)
			fatalx("evsignal_add");
	}
	if (admin_open(m.base, cfg, cause, sizeof(cause)) == -1) {
		log_warnx("admin socket: %s", cause);
		event_base_free(m.base);
		m.base = NULL;
		return FB_EX_TEMPFAIL;
	}
	(void)master_pidfile();
	m.started = clock_now_ms();
	m.started_wall = time(NULL);
	for (i = 1; i <= MASTER_MAX_SLOTS; i++) {
		m.slots[i].id = (unsigned int)i;
		m.slots[i].fd = -1;
		m.slots[i].since = now_wall();
	}
	master_rate_sample(m.started);

	m.ev_tick = event_new(m.base, -1, EV_PERSIST, master_tick_cb, NULL);
	tv = ms_tv(MASTER_TICK_MS);
	if (m.ev_tick == NULL || event_add(m.ev_tick, &tv) == -1)
		fatalx("event_add");
	if (cfg->prune_interval_ms > 0) {
		m.ev_prune = event_new(m.base, -1, EV_PERSIST,
		    master_prune_cb, NULL);
		tv = ms_tv(cfg->prune_interval_ms);
		if (m.ev_prune == NULL || event_add(m.ev_prune, &tv) == -1)
			fatalx("event_add");
	}

	log_info("starting %u bees, generation %u, config %s", cfg->bees,
	    m.generation, m.cfgpath);
	master_set_target(cfg->bees);
	event_base_dispatch(m.base);

	log_info("exiting");
	admin_close();
	for (i = 1; i <= MASTER_MAX_SLOTS; i++) {
		master_channel_close(&m.slots[i]);
		master_shm_free(&m.slots[i]);
		if (m.slots[i].ev_respawn != NULL)
			event_free(m.slots[i].ev_respawn);
	}
	for (i = 0; i < 6; i++)
		event_free(m.ev_sig[i]);
	event_free(m.ev_tick);
	if (m.ev_prune != NULL)
		event_free(m.ev_prune);
	if (m.ev_stop != NULL)
		event_free(m.ev_stop);
	event_base_free(m.base);
	m.base = NULL;
	if (cfg->pidfile != NULL && cfg->pidfile[0] != '\0')
		(void)unlink(cfg->pidfile);
	return m.exitcode;
}
