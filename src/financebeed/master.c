/*
 * master.c: the supervisor.  Slot table, spawn, reap, backoff, watchdog,
 * scale, pause and shutdown, all from one libevent loop (reload.c replaces
 * the configuration, report.c renders status and metrics, control.c
 * serves the admin commands).
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
 * The backoff (per slot) is exponential from respawn_min to respawn_max,
 * jittered, and starts again from respawn_min when a bee dies after serving
 * healthy_after.  The crash-loop guard is the pool's: when crash_limit
 * deaths (75 or crash, any slots) fall within crash_window, the death that
 * reaches the limit puts the pool in a crash loop: no slot respawns faster
 * than respawn_max until a whole window passes without a death.
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
#include <sys/socket.h>
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
#include "master.h"


struct master		 master;

static void	master_schedule(struct slot *, long);
static void	master_check_done(void);
static void	master_notify(void);

/* What the service manager was last told (notify.c). */
static int		 master_ready;
static char		 master_status[160];
static struct event	*master_ev_wd;

double
master_now_wall(void)
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

int
master_identity(struct slot *s, char *cause, size_t causelen)
{
	struct crypto_key	key;

	if (s->intake) {
		/* One identity for every intake process; it registers it. */
		snprintf(s->executor, sizeof(s->executor), "%s",
		    master.cfg->intake_name);
		if (master.cfg->intake_key == NULL ||
		    crypto_key_parse(&key, master.cfg->intake_key,
		    strlen(master.cfg->intake_key), cause, causelen) == -1) {
			if (master.cfg->intake_key == NULL)
				snprintf(cause, causelen, "no intake.key_file");
			s->executorid[0] = '\0';
			return -1;
		}
		s->registered = 1;
		snprintf(s->executorid, sizeof(s->executorid), "%s", key.id);
		crypto_key_clear(&key);
		return 0;
	}
	snprintf(s->executor, sizeof(s->executor), "%s-%u",
	    master.cfg->executor_prefix, s->id);
	if (config_executor_key(master.cfg, s->id, &key, cause, causelen) == -1) {
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
pid_t
master_helper(const char *const *args, char *cause, size_t causelen)
{
	char	*argv[16];
	int	 n = 0;

	argv[n++] = (char *)"financebeed";
	argv[n++] = (char *)"-c";
	argv[n++] = master.cfgpath;
	while (*args != NULL && n < 13)
		argv[n++] = (char *)*args++;
	if (master.cfgfd >= 0) {
		argv[n++] = (char *)"--config-fd";
		argv[n++] = (char *)"5";
	}
	argv[n] = NULL;
	return proc_spawn(argv, NULL, -1, master.cfgfd, cause, causelen);
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
	const char	*args[3] = { "--register", slotarg, NULL };
	pid_t		 pid;

	if (s->reg_pid > 0)
		return 1;
	if (master.cfg->owner_key == NULL || master.cfg->owner_key[0] == '\0')
		return 0;
	/* ColonyOS unreachable a moment ago: start the bee, try later. */
	if (master.owner_down > 0 && clock_now_ms() - master.owner_down <
	    master.cfg->respawn_max_ms)
		return 0;
	master.owner_down = 0;
	snprintf(slotarg, sizeof(slotarg), "%u", s->id);
	if ((pid = master_helper(args, cause, sizeof(cause))) == -1) {
		log_warnx("slot %u: registrar: %s", s->id, cause);
		return 0;
	}
	log_debug("slot %u: registrar pid %ld", s->id, (long)pid);
	s->reg_pid = pid;
	s->reg_started = clock_now_ms();
	s->reg_killed = 0;
	s->reg_gen = master.generation;
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
int64_t
master_register_deadline(void)
{
	return 2 * ((int64_t)master.cfg->http_connect_timeout_ms +
	    master.cfg->http_timeout_ms) + 5000;
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
	if (s->reg_gen != master.generation) {
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
			if (master.state == MASTER_RUNNING && !s->reg_killed &&
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
				master.owner_down = clock_now_ms();
		}
	}
	if (master.state == MASTER_RUNNING && s->wanted && s->state == SLOT_STOPPED)
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

/* The colony served the slot's bee: its executor is registered. */
static void
master_accepted(struct slot *s)
{
	s->registered = 1;
	s->auth_refused = 0;
	s->rereg = 0;
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
	/*
	 * A replacement counts once it serves, not when it starts; while the
	 * pool is paused, once it is ready to (set up, paused).
	 */
	if (s->replacing && s->generation == master.generation &&
	    (state == FBEE_ST_POLLING || state == FBEE_ST_WORKING ||
	    state == FBEE_ST_PAUSED)) {
		s->replacing = 0;
		reload_roll_next();
	}
}

/* Closes the bee could not confirm, new since the last look: settle them. */
static void
master_shm_unsettled(struct slot *s, const struct fbee_shm *snap)
{
	const struct fbee_unsettled	*u;

	if (snap->nunsettled - s->nunsettled > FBEE_UNSETTLED) {
		log_warnx("slot %u: %u closes to settle were overwritten "
		    "before the master saw them; not counted", s->id,
		    snap->nunsettled - s->nunsettled - FBEE_UNSETTLED);
		s->nunsettled = snap->nunsettled - FBEE_UNSETTLED;
	}
	for (; s->nunsettled != snap->nunsettled; s->nunsettled++) {
		u = &snap->unsettled[s->nunsettled % FBEE_UNSETTLED];
		settle_add(s->id, u->processid, NULL, u->outcome, u->retries);
	}
}

/*
 * Take in the bee's status page.  0 (also when it has nothing new or is
 * being written right now: the last snapshot stays), or -1 + cause when
 * it is corrupt; the slot then keeps its last good values.
 */
int
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
	    (snap.task_start < lo || snap.task_start > hi)) ||
	    (snap.dep != FBEE_DEP_NONE && (snap.dep_since < lo ||
	    snap.dep_since > hi))) {
		snprintf(cause, causelen, "times out of range");
		return -1;
	}
	if (snap.nunsettled < s->nunsettled) {
		snprintf(cause, causelen, "unsettled closes went back");
		return -1;
	}
	s->shm_seen = 1;
	/* Exact at every task's end: the page is written with the state. */
	fbee_counters_max(&s->live, &snap.c);
	s->outcome = snap.outcome;
	s->retries = snap.retries;
	master_shm_unsettled(s, &snap);
	if (snap.last_beat > s->last_beat)
		s->last_beat = snap.last_beat;
	s->polls = snap.polls;
	/*
	 * The colony answered an assign: it accepts this executor; unless
	 * the bee has since said in its bye that it was refused.
	 */
	if (!s->bye && (snap.polls > 0 || snap.state == FBEE_ST_WORKING))
		master_accepted(s);
	master_bee_state(s, snap.state, snap.phase, snap.processid, snap.event,
	    snap.task_start, master_now_wall() - (double)(now - snap.since) / 1000);
	/* A dependency outage: shown by status, never counted as a crash. */
	s->dep = snap.dep;
	s->dep_since = snap.dep != FBEE_DEP_NONE ? master_now_wall() -
	    (double)(now - snap.dep_since) / 1000 : 0;
	snprintf(s->dep_cause, sizeof(s->dep_cause), "%s", snap.dep_cause);
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
		master_notify();
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
		    s->beestate == FBEE_ST_POLLING))
			master_accepted(s);
		master_bee_state(s, msg->state, msg->phase, msg->processid,
		    msg->event, clock_now_ms() - msg->age_ms, master_now_wall());
		break;
	case FBEE_COUNTERS:
		/* The page may be ahead of this message; never go back. */
		fbee_counters_max(&s->live, &msg->c);
		s->live.rss_kb = msg->c.rss_kb;
		break;
	case FBEE_BYE:
		s->bye = 1;
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
	s->bye = 0;
	s->shm_seen = 0;
	s->last_beat = 0;
	s->polls = 0;
	s->retries = 0;
	s->nunsettled = 0;
	memset(&s->live, 0, sizeof(s->live));
}

static void
master_shm_free(struct slot *s)
{
	proc_shm_free(s->shm);
	s->shm = NULL;
	s->shm_seen = 0;
}

void
master_spawn(struct slot *s)
{
	char		 slotarg[16], genarg[16], cause[FB_CAUSE_MAX];
	char		 nlfdarg[16];
	char		*argv[16];
	int		 fd = -1, shmfd = -1;
	pid_t		 pid;
	struct fbee_shm	*shm;

	if (master.state != MASTER_RUNNING || !s->wanted ||
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
	snprintf(genarg, sizeof(genarg), "%u", master.generation);
	argv[0] = (char *)"financebeed";
	argv[1] = (char *)"-c";
	argv[2] = master.cfgpath;
	argv[3] = s->intake ? (char *)"--intake" : (char *)"--bee";
	argv[4] = slotarg;
	argv[5] = (char *)"--generation";
	argv[6] = genarg;
	argv[7] = (char *)"--channel-fd";
	argv[8] = (char *)"3";
	argv[9] = (char *)"--status-fd";
	argv[10] = (char *)"4";
	argv[11] = (char *)"--listen-fds";
	snprintf(nlfdarg, sizeof(nlfdarg), "%zu", master.nlfds);
	argv[12] = nlfdarg;
	argv[13] = master.cfgfd >= 0 ? (char *)"--config-fd" : NULL;
	argv[14] = (char *)"5";
	argv[15] = NULL;
	if (!s->intake) {	/* a bee: no sockets */
		argv[11] = argv[13];
		argv[12] = argv[14];
		argv[13] = NULL;
	}
	/* Paused, the bee starts paused, before any message can reach it. */
	if ((shm = proc_shm_create(&shmfd, cause, sizeof(cause))) != NULL)
		shm->paused = master.paused;
	if (shm == NULL || (pid = proc_spawn_fds(argv, &fd, shmfd, master.cfgfd,
	    s->intake ? master.lfds : NULL, s->intake ? master.nlfds : 0,
	    cause, sizeof(cause))) == -1) {
		if (shm != NULL) {
			close(shmfd);
			proc_shm_free(shm);
		}
		log_warnx("slot %u: spawn: %s", s->id, cause);
		snprintf(s->last_exit, sizeof(s->last_exit), "spawn failed");
		master_schedule(s, master.cfg->respawn_max_ms);
		return;
	}
	close(shmfd);	/* the bee has its copy; the mapping stays */
	master_slot_reset_bee(s);
	master_shm_free(s);
	s->shm = shm;
	s->pid = pid;
	s->fd = fd;
	s->generation = master.generation;
	s->state = SLOT_RUNNING;
	s->started = s->last_heard = clock_now_ms();
	s->since = master_now_wall();
	s->cause[0] = '\0';
	if (!msgpack_unpacker_init(&s->unp, 4096))
		fatalx("out of memory");
	s->unp_init = 1;
	s->ev_read = event_new(master.base, fd, EV_READ | EV_PERSIST,
	    master_read_cb, s);
	if (s->ev_read == NULL || event_add(s->ev_read, NULL) == -1)
		fatalx("event_add");
	log_info("slot %u: started %s pid %ld, generation %u%s", s->id,
	    s->intake ? "intake" : "bee", (long)pid, master.generation,
	    master.paused && !s->intake ? ", paused" : "");
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
	s->since = master_now_wall();
	if (s->ev_respawn == NULL)
		s->ev_respawn = evtimer_new(master.base, master_respawn_cb, s);
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

	master.deaths[master.ndeaths++ % MASTER_DEATHS] = now;
	for (i = 0; i < MASTER_DEATHS && i < master.ndeaths; i++) {
		if (now - master.deaths[i] <= master.cfg->crash_window_ms)
			n++;
	}
	if (n >= master.cfg->crash_limit && !master.crash_loop) {
		master.crash_loop = 1;
		log_warnx("crash loop: %u bee deaths within %lds; respawning "
		    "no faster than every %.1fs", n,
		    master.cfg->crash_window_ms / 1000,
		    (double)master.cfg->respawn_max_ms / 1000);
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
	fbee_counters_add(s->intake ? &master.intake_retired : &master.retired,
	    &s->live);
	memset(&s->live, 0, sizeof(s->live));
	lived = clock_now_ms() - s->started >= master.cfg->healthy_after_ms;
	s->pid = 0;
	s->since = master_now_wall();

	if (code == 0)
		log_info("slot %u: bee exited (%s)", s->id, s->last_exit);
	else
		log_warnx("slot %u: bee %s%s%s", s->id, s->last_exit,
		    s->cause[0] != '\0' ? ": " : "", s->cause);
	if (code != 0 && s->beestate == FBEE_ST_WORKING &&
	    s->processid[0] != '\0' && s->phase == FBEE_PH_CLOSE)
		/* Counted if the close landed. */
		settle_add(s->id, s->processid, s->event, s->outcome,
		    s->retries);
	else if (code != 0 && s->beestate == FBEE_ST_WORKING &&
	    s->processid[0] != '\0')
		log_warnx("slot %u: process %s event %s was in hand; ColonyOS "
		    "hands it out again when its lease expires", s->id,
		    s->processid, s->event[0] != '\0' ? s->event : "-");

	/*
	 * A bee of the new generation died before serving: stop replacing,
	 * so that a configuration the bees cannot work with takes out one
	 * slot, not the pool.
	 */
	if (master.rolling && s->replacing && s->generation == master.generation &&
	    code != 0) {
		master.rolling = 0;
		s->replacing = 0;
		log_warnx("reload: the new bee of slot %u failed (%s); the "
		    "other bees keep their configuration until the next "
		    "reload", s->id, s->last_exit);
	}

	if (master.state == MASTER_STOPPING || !s->wanted) {
		s->state = SLOT_STOPPED;
		s->replacing = 0;
		master_check_done();
		if (master.rolling)
			reload_roll_next();
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
		if (master.rolling)
			reload_roll_next();
		return;
	}

	/*
	 * The colony refused the executor although it served this slot
	 * before: the server forgot it (stale-executor cleanup, a server
	 * rebuilt from an empty database).  With the owner's key that is
	 * repaired, not suffered: register it again and restart the bee at
	 * once, without counting a death.  Once per acceptance: refused
	 * again before serving, the slot backs off like any other death.
	 */
	if (code == FB_EX_TEMPFAIL && s->auth_refused && !s->rereg &&
	    master.cfg->owner_key != NULL && master.cfg->owner_key[0] != '\0') {
		log_info("slot %u: the colony no longer knows executor %s; "
		    "registering it again", s->id, s->executor);
		s->rereg = 1;
		s->registered = 0;
		s->reg_tried = 0;
		s->restarts++;
		master.restarts++;
		s->replacing = 0;
		s->state = SLOT_STOPPED;
		master_spawn(s);
		if (master.rolling)
			reload_roll_next();
		return;
	}

	/* 75, a signal, anything else: back off. */
	master_death();
	s->restarts++;
	master.restarts++;
	if (s->auth_refused)
		s->registered = 0;
	if (lived)
		s->backoff_ms = 0;
	if (s->backoff_ms <= 0)
		s->backoff_ms = master.cfg->respawn_min_ms;
	else if (s->backoff_ms * 2 > master.cfg->respawn_max_ms)
		s->backoff_ms = master.cfg->respawn_max_ms;
	else
		s->backoff_ms *= 2;
	delay = clock_jitter(s->backoff_ms);
	if (master.crash_loop) {
		delay = master.cfg->respawn_max_ms;
		if (master_now_wall() + (double)delay / 1000 > master.throttled_until)
			master.throttled_until = master_now_wall() + (double)delay / 1000;
	}
	s->replacing = 0;
	log_info("slot %u: respawn in %.2fs (backoff %.2fs%s)", s->id,
	    (double)delay / 1000, (double)s->backoff_ms / 1000,
	    master.crash_loop ? ", crash loop" : "");
	master_schedule(s, delay);
	if (master.rolling)
		reload_roll_next();
}

static void
master_sigchld(void)
{
	char	buf[64];
	pid_t	pid;
	int	status;
	size_t	i;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (queue_reaped(pid, status)) {
			master_check_done();
			continue;
		}
		if (pid == master.prune_pid) {
			proc_status_str(status, buf, sizeof(buf));
			if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
				log_debug("prune finished");
			else if (master.state == MASTER_STOPPING &&
			    WIFSIGNALED(status))
				/* We stopped it: the next run picks up. */
				log_info("prune interrupted by the stop");
			else
				log_warnx("prune: %s", buf);
			master.prune_pid = 0;
			master_check_done();
			continue;
		}
		if (settle_reaped(pid, status)) {
			master_check_done();
			continue;
		}
		for (i = 1; i <= MASTER_MAX_SLOTS; i++) {
			if (master.slots[i].reg_pid == pid)
				break;
		}
		if (i <= MASTER_MAX_SLOTS) {
			master_registered(&master.slots[i], status);
			continue;
		}
		for (i = 1; i <= MASTER_NSLOTS; i++) {
			if (master.slots[i].pid == pid &&
			    master.slots[i].state == SLOT_RUNNING)
				break;
		}
		if (i > MASTER_NSLOTS) {
			log_debug("reaped unknown child %ld", (long)pid);
			continue;
		}
		master_reaped(&master.slots[i], status);
	}
}

/* --- stop ----------------------------------------------------------------- */

static void
master_check_done(void)
{
	unsigned int	running;
	size_t		i;

	if (master.state != MASTER_STOPPING)
		return;
	for (i = 1; i <= MASTER_NSLOTS; i++) {
		if (master.slots[i].state == SLOT_RUNNING || master.slots[i].reg_pid > 0)
			return;
	}
	(void)settle_pending(&running);
	if (master.prune_pid > 0 || running > 0 || queue_busy())
		return;
	log_info("all bees stopped");
	event_base_loopexit(master.base, NULL);
}

static void
master_stop_timer_cb(evutil_socket_t fd, short ev, void *arg)
{
	size_t	i;

	(void)fd;
	(void)ev;
	(void)arg;
	for (i = 1; i <= MASTER_NSLOTS; i++) {
		master_kill(&master.slots[i], master.fast ? "fast stop" :
		    "shutdown_timeout expired");
		if (master.slots[i].reg_pid > 0)
			kill(master.slots[i].reg_pid, SIGKILL);
	}
	if (master.prune_pid > 0)
		kill(master.prune_pid, SIGKILL);
	settle_stop();
}

void
master_stop(int fast)
{
	struct timeval	 tv;
	struct slot	*s;
	size_t		 i;

	if (master.base == NULL)
		return;
	if (master.state == MASTER_STOPPING && (master.fast || !fast))
		return;
	log_info("%s stop", fast ? "fast" : "graceful");
	notify_send("STOPPING=1\nSTATUS=%s stop", fast ? "fast" : "graceful");
	master.state = MASTER_STOPPING;
	master.fast = fast;
	for (i = 1; i <= MASTER_NSLOTS; i++) {
		s = &master.slots[i];
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
	if (master.prune_pid > 0)
		kill(master.prune_pid, SIGTERM);
	settle_stop();
	queue_stop();
	if (master.ev_stop == NULL)
		master.ev_stop = evtimer_new(master.base, master_stop_timer_cb, NULL);
	tv = ms_tv(fast ? MASTER_FAST_KILL_MS : master.cfg->shutdown_timeout_ms);
	evtimer_add(master.ev_stop, &tv);
	master_check_done();
}

/* --- scale, pause --------------------------------------------------------- */

void
master_drain_slot(struct slot *s)
{
	if (s->state == SLOT_RUNNING && !s->drain_sent) {
		master_send(s, FBEE_DRAIN);
		s->drain_sent = 1;
	}
}

void
master_set_target(unsigned int n)
{
	struct slot	*s;
	unsigned int	 i;

	master.target = n;
	for (i = 1; i <= MASTER_MAX_SLOTS; i++) {
		s = &master.slots[i];
		if (i <= n) {
			s->wanted = 1;
			if (master.state != MASTER_RUNNING)
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
	unsigned long	t = master.target;

	if (master.state != MASTER_RUNNING) {
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
	if (t != master.target)
		log_info("scaling from %u to %lu bees", master.target, t);
	master_set_target((unsigned int)t);
	return 0;
}

void
master_pause(int pause)
{
	struct slot	*s;
	size_t		 i;

	if (master.paused == (pause != 0))
		return;
	master.paused = pause != 0;
	log_info("%s assigning", pause ? "pausing" : "resuming");
	for (i = 1; i <= MASTER_MAX_SLOTS; i++) {
		s = &master.slots[i];
		/* The page first: a bee not yet looking reads it there. */
		if (s->shm != NULL)
			__atomic_store_n(&s->shm->paused, master.paused,
			    __ATOMIC_RELEASE);
		master_send(s, pause ? FBEE_PAUSE : FBEE_RESUME);
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
	    now - s->task_start > master.cfg->task_timeout_ms +
	    MASTER_TASK_GRACE_MS) {
		snprintf(why, sizeof(why), "task running for %.1fs, over "
		    "task_timeout", (double)(now - s->task_start) / 1000);
		master_kill(s, why);
		return;
	}
	switch (s->beestate) {
	case FBEE_ST_STARTING:
		limit = master.cfg->heartbeat_timeout_ms + MASTER_START_GRACE_MS +
		    master.cfg->db_connect_timeout * 1000;
		break;
	case FBEE_ST_POLLING:
		/* A long-poll is silent for up to its HTTP timeout. */
		limit = master.cfg->heartbeat_timeout_ms +
		    (int64_t)master.cfg->poll_timeout * 1000 +
		    COLONIES_POLL_SLACK_MS;
		break;
	case FBEE_ST_WORKING:
		limit = master.cfg->task_timeout_ms + MASTER_TASK_GRACE_MS +
		    master.cfg->heartbeat_timeout_ms;
		break;
	case FBEE_ST_WAITING:
		/* Between page updates, a database probe: connect + query. */
		limit = master.cfg->heartbeat_timeout_ms +
		    master.cfg->db_connect_timeout * 1000 +
		    master.cfg->db_statement_timeout_ms + 2000;
		break;
	default:
		limit = master.cfg->heartbeat_timeout_ms;
		break;
	}
	if (silent > limit) {
		snprintf(why, sizeof(why), "silent for %.1fs while %s",
		    (double)silent / 1000, fbee_state_str(s->beestate));
		master_kill(s, why);
	}
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
	for (i = 1; i <= MASTER_NSLOTS; i++) {
		master_watchdog(&master.slots[i], now);
		master_register_watchdog(&master.slots[i], now);
	}
	settle_tick(now);
	queue_watchdog(now);

	if (master.crash_loop) {
		for (i = 0; i < MASTER_DEATHS && i < master.ndeaths; i++) {
			if (now - master.deaths[i] <= master.cfg->crash_window_ms)
				recent = 1;
		}
		if (!recent) {
			master.crash_loop = 0;
			master.throttled_until = 0;
			log_info("crash loop over");
		}
	}

	report_rate_sample(now);
	master_notify();
}

/*
 * READY=1 once the pool is up: every wanted slot's bee has said hello (it
 * read its configuration and identity), or the slot waits in backoff or
 * has failed, so that a database outage at boot does not fail the unit;
 * STATUS= says which.  Then a new STATUS= line whenever it changes.
 */
static void
master_notify(void)
{
	struct fbee_counters	 c;
	const struct slot	*s;
	char			 line[sizeof(master_status)];
	unsigned int		 i, up = 0, waiting = 0, failed = 0;

	if (master.state != MASTER_RUNNING)
		return;
	c = master.retired;
	for (i = 1; i <= MASTER_MAX_SLOTS; i++) {
		s = &master.slots[i];
		if (s->state == SLOT_RUNNING)
			fbee_counters_add(&c, &s->live);
		if (!s->wanted)
			continue;
		if (s->state == SLOT_RUNNING && s->hello)
			up++;
		else if (s->state == SLOT_FAILED)
			failed++;
		else if (s->state == SLOT_BACKOFF)
			waiting++;
		else
			return;		/* starting: not yet */
	}
	snprintf(line, sizeof(line), "%u of %u bees up%s%s, %" PRIu64
	    " tasks, generation %u%s", up, master.target,
	    failed > 0 ? ", some failed" : "",
	    waiting > 0 ? ", some in backoff" : "",
	    fbee_counters_total(&c), master.generation,
	    master.paused ? ", paused" : master.crash_loop ? ", crash loop" :
	    "");
	if (!master_ready) {
		master_ready = 1;
		snprintf(master_status, sizeof(master_status), "%s", line);
		notify_send("READY=1\nSTATUS=%s\nMAINPID=%ld", line,
		    (long)getpid());
		log_stderr_mirror(0);
		/* The first probe: status tells at once what answers. */
		if (master.ev_queue != NULL)
			queue_start();
		return;
	}
	if (strcmp(line, master_status) != 0) {
		snprintf(master_status, sizeof(master_status), "%s", line);
		notify_send("STATUS=%s", line);
	}
}

/* WatchdogSec=: a ping from the loop at half the period. */
static void
master_watchdog_cb(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
	notify_send("WATCHDOG=1");
}

static void
master_prune_cb(evutil_socket_t fd, short ev, void *arg)
{
	static const char	*args[2] = { "--prune", NULL };
	char			 cause[FB_CAUSE_MAX];
	pid_t			 pid;

	(void)fd;
	(void)ev;
	(void)arg;
	if (master.state != MASTER_RUNNING || master.prune_pid > 0)
		return;
	if ((pid = master_helper(args, cause, sizeof(cause))) == -1) {
		log_warnx("prune: %s", cause);
		return;
	}
	log_debug("prune started, pid %ld", (long)pid);
	master.prune_pid = pid;
}

static void
master_queue_cb(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
	queue_start();
}

static void
master_stats_cb(evutil_socket_t fd, short ev, void *arg)
{
	char	line[512];

	(void)fd;
	(void)ev;
	(void)arg;
	report_stats_line(line, sizeof(line));
	log_info("%s", line);
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
		master_stop(master.state == MASTER_STOPPING);
		break;
	case SIGQUIT:
		master_stop(1);
		break;
	case SIGHUP:
		log_info("SIGHUP: reloading %s", master.cfgpath);
		reload_request(NULL, NULL);
		break;
	case SIGUSR1:
		(void)log_reopen();
		for (i = 1; i <= MASTER_NSLOTS; i++)
			master_send(&master.slots[i], FBEE_REOPEN);
		log_info("logs reopened");
		break;
	}
}

int
master_slot_shown(const struct slot *s)
{
	return s->id <= (s->intake ? master.intake_target : master.target) ||
	    s->state != SLOT_STOPPED;
}

/* --- intake processes (intake.c) ------------------------------------------ */

/* Start or drain intake processes to n, like master_set_target(). */
static void
master_intake_target(unsigned int n)
{
	struct slot	*s;
	unsigned int	 k;

	if (n > 0 && master.nlfds == 0) {
		log_warnx("intake: no listening sockets (intake.enabled needs "
		    "a restart)");
		n = 0;
	}
	master.intake_target = n;
	for (k = 1; k <= MASTER_MAX_INTAKES; k++) {
		s = MASTER_INTAKE(k);
		s->wanted = k <= n;
		if (s->wanted) {
			if (master.state == MASTER_RUNNING &&
			    s->state == SLOT_STOPPED)
				master_spawn(s);
		} else if (s->state == SLOT_BACKOFF || s->state == SLOT_FAILED) {
			if (s->ev_respawn != NULL)
				evtimer_del(s->ev_respawn);
			s->state = SLOT_STOPPED;
		} else if (s->state == SLOT_RUNNING)
			master_drain_slot(s);
	}
}

int
master_intake_scale(char op, unsigned long n, char *cause, size_t causelen)
{
	unsigned long	t = master.intake_target;

	if (master.state != MASTER_RUNNING || master.nlfds == 0) {
		snprintf(cause, causelen, master.nlfds == 0 ? "the intake is "
		    "not enabled" : "the daemon is stopping");
		return -1;
	}
	if (op == '+')
		t = n > MASTER_MAX_INTAKES ? ULONG_MAX : t + n;
	else if (op == '-')
		t = n > t ? ULONG_MAX : t - n;
	else
		t = n;
	if (t > MASTER_MAX_INTAKES) {
		snprintf(cause, causelen, "0 to %d intake processes",
		    MASTER_MAX_INTAKES);
		return -1;
	}
	if (t != master.intake_target)
		log_info("scaling from %u to %lu intake processes",
		    master.intake_target, t);
	master_intake_target((unsigned int)t);
	return 0;
}

/*
 * After a reload: the new count; with changed settings every intake
 * process is drained and respawned with the new snapshot at once (the
 * sockets stay open in the master, so no connection is refused).
 */
void
master_intake_reload(int differ)
{
	struct slot	*s;
	unsigned int	 k;

	for (k = 1; k <= MASTER_MAX_INTAKES; k++) {
		s = MASTER_INTAKE(k);
		s->executorid[0] = '\0';
		if (s->state == SLOT_FAILED && s->wanted)
			s->state = SLOT_STOPPED;
		if (differ && s->state == SLOT_RUNNING)
			master_drain_slot(s);
	}
	master_intake_target(master.cfg->intake_enabled ?
	    master.cfg->intake_processes : 0);
}

static int
master_intake_open(const struct fb_config *cfg, char *cause, size_t causelen)
{
	if (!cfg->intake_enabled)
		return 0;
	return listen_open(cfg->intake_listen, cfg->nintake_listen, 0,
	    master.lfds, LISTEN_MAXFDS, &master.nlfds, cause, causelen);
}

static void
master_intake_close(void)
{
	struct listen_addr	a;
	char			cause[FB_CAUSE_MAX];
	size_t			i;

	for (i = 0; i < master.nlfds; i++)
		close(master.lfds[i]);
	master.nlfds = 0;
	for (i = 0; i < master.cfg->nintake_listen; i++)
		if (listen_parse(master.cfg->intake_listen[i], &a, cause,
		    sizeof(cause)) == 0 && a.family == AF_UNIX)
			(void)unlink(a.path);
}


/* --- main ----------------------------------------------------------------- */

static int
master_pidfile(void)
{
	FILE	*f;

	if (master.cfg->pidfile == NULL || master.cfg->pidfile[0] == '\0')
		return 0;
	if ((f = fopen(master.cfg->pidfile, "w")) == NULL) {
		log_warn("pidfile %s", master.cfg->pidfile);
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

	memset(&master, 0, sizeof(master));
	master.cfg = cfg;
	master.cfgfd = cfgfd;
	master.foreground = foreground;
	master.generation = cfg->generation > 0 ? cfg->generation : 1;
	cfg->generation = master.generation;
	if (realpath(cfgpath, master.cfgpath) == NULL)
		snprintf(master.cfgpath, sizeof(master.cfgpath), "%s", cfgpath);
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
	if ((master.base = event_base_new()) == NULL) {
		log_warnx("event_base_new failed");
		return FB_EX_SOFTWARE;
	}
	for (i = 0; i < 6; i++) {
		master.ev_sig[i] = evsignal_new(master.base, sigs[i], master_signal_cb,
		    NULL);
		if (master.ev_sig[i] == NULL || evsignal_add(master.ev_sig[i],
		    NULL) == -1)
			fatalx("evsignal_add");
	}
	if (control_open(master.base, cfg, cause, sizeof(cause)) == -1) {
		log_warnx("admin socket: %s", cause);
		event_base_free(master.base);
		master.base = NULL;
		return FB_EX_TEMPFAIL;
	}
	if (promhttp_open(master.base, cfg, cause, sizeof(cause)) == -1) {
		log_warnx("%s", cause);
		admin_close();
		event_base_free(master.base);
		master.base = NULL;
		return FB_EX_TEMPFAIL;
	}
	if (master_intake_open(cfg, cause, sizeof(cause)) == -1) {
		log_warnx("intake.listen: %s", cause);
		promhttp_close();
		admin_close();
		event_base_free(master.base);
		master.base = NULL;
		return FB_EX_TEMPFAIL;
	}
	master_ready = 0;
	master_status[0] = '\0';
	if (notify_init(cause, sizeof(cause)) == -1)
		log_warnx("%s", cause);
	if (notify_watchdog_usec() > 0) {
		master_ev_wd = event_new(master.base, -1, EV_PERSIST,
		    master_watchdog_cb, NULL);
		tv.tv_sec = (time_t)(notify_watchdog_usec() / 2 / 1000000);
		tv.tv_usec = (suseconds_t)(notify_watchdog_usec() / 2 % 1000000);
		if (master_ev_wd == NULL || event_add(master_ev_wd, &tv) == -1)
			fatalx("event_add");
		notify_send("WATCHDOG=1");
	}
	(void)master_pidfile();
	master.started = clock_now_ms();
	master.started_wall = time(NULL);
	for (i = 1; i <= MASTER_NSLOTS; i++) {
		master.slots[i].id = (unsigned int)(i > MASTER_MAX_SLOTS ?
		    i - MASTER_MAX_SLOTS : i);
		master.slots[i].intake = i > MASTER_MAX_SLOTS;
		master.slots[i].fd = -1;
		master.slots[i].since = master_now_wall();
	}
	report_rate_sample(master.started);

	master.ev_tick = event_new(master.base, -1, EV_PERSIST, master_tick_cb, NULL);
	tv = ms_tv(MASTER_TICK_MS);
	if (master.ev_tick == NULL || event_add(master.ev_tick, &tv) == -1)
		fatalx("event_add");
	if (cfg->prune_interval_ms > 0) {
		master.ev_prune = event_new(master.base, -1, EV_PERSIST,
		    master_prune_cb, NULL);
		tv = ms_tv(cfg->prune_interval_ms);
		if (master.ev_prune == NULL || event_add(master.ev_prune, &tv) == -1)
			fatalx("event_add");
	}

	if (cfg->stats_interval_ms > 0) {
		master.ev_stats = event_new(master.base, -1, EV_PERSIST,
		    master_stats_cb, NULL);
		tv = ms_tv(cfg->stats_interval_ms);
		if (master.ev_stats == NULL ||
		    event_add(master.ev_stats, &tv) == -1)
			fatalx("event_add");
	}

	if (cfg->queue_interval_ms > 0) {
		master.ev_queue = event_new(master.base, -1, EV_PERSIST,
		    master_queue_cb, NULL);
		tv = ms_tv(cfg->queue_interval_ms);
		if (master.ev_queue == NULL ||
		    event_add(master.ev_queue, &tv) == -1)
			fatalx("event_add");
	}

	log_info("starting %u bees, generation %u, config %s", cfg->bees,
	    master.generation, master.cfgpath);
	master_set_target(cfg->bees);
	if (cfg->intake_enabled) {
		log_info("starting %u intake processes", cfg->intake_processes);
		master_intake_target(cfg->intake_processes);
	}
	event_base_dispatch(master.base);

	log_info("exiting");
	admin_close();
	master_intake_close();
	promhttp_close();
	if (master.ev_stats != NULL)
		event_free(master.ev_stats);
	if (master.ev_queue != NULL)
		event_free(master.ev_queue);
	for (i = 1; i <= MASTER_NSLOTS; i++) {
		master_channel_close(&master.slots[i]);
		master_shm_free(&master.slots[i]);
		if (master.slots[i].ev_respawn != NULL)
			event_free(master.slots[i].ev_respawn);
	}
	for (i = 0; i < 6; i++)
		event_free(master.ev_sig[i]);
	event_free(master.ev_tick);
	if (master_ev_wd != NULL)
		event_free(master_ev_wd);
	master_ev_wd = NULL;
	notify_close();
	if (master.ev_prune != NULL)
		event_free(master.ev_prune);
	if (master.ev_stop != NULL)
		event_free(master.ev_stop);
	event_base_free(master.base);
	master.base = NULL;
	if (cfg->pidfile != NULL && cfg->pidfile[0] != '\0')
		(void)unlink(cfg->pidfile);
	return master.exitcode;
}
