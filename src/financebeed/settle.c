/*
 * settle.c: tasks whose close was in flight when their bee died.
 *
 * A bee counts a task once ColonyOS has accepted its close, and publishes
 * the count with the end of its close phase in one status page update.
 * A bee killed in that phase leaves one question: did the close land?  If
 * it did, the process is final and nobody will count it; if not, ColonyOS
 * hands it out again and the bee that closes it counts it.  The master
 * asks ColonyOS with a child, "financebeed --settle SLOT --process ID"
 * (settle_main below), half a second after the death so that a request
 * already sent is served first, and counts the task when the process is
 * closed and still assigned to the dead bee's executor.  That is well
 * before the lease runs out (a bee closes at the latest two seconds before
 * it), so a re-run cannot be mistaken for the dead bee's close.
 *
 * The child exits 0 (closed by that executor: count it), 1 (not closed by
 * it: do not), 75 (ColonyOS could not say: try again after
 * supervision.respawn_max, up to SETTLE_TRIES times) or 78.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <event2/event.h>

#include "financebeed.h"
#include "master.h"

#define SETTLE_MAX		64	/* tasks awaiting an answer */
#define SETTLE_CHILDREN		4	/* asking at once */
#define SETTLE_DELAY_MS		500	/* let a close in flight land */
#define SETTLE_TRIES		10

struct settle {
	int		used;
	unsigned int	slot;
	char		processid[CRYPTO_ID_HEXLEN + 1];
	int		outcome;
	pid_t		pid;		/* its child, running */
	int64_t		started;	/* the child's start, ms */
	int64_t		due;		/* the next try, ms */
	unsigned int	tries;
};

static struct settle	settles[SETTLE_MAX];

void
settle_add(const struct slot *s)
{
	struct settle	*t = NULL;
	size_t		 i;

	/* From a page that passed fbee_shm_read, so in range; still. */
	if (s->outcome < 0 || s->outcome >= FBEE_NOUTCOMES)
		return;
	for (i = 0; i < SETTLE_MAX; i++) {
		if (!settles[i].used) {
			t = &settles[i];
			break;
		}
	}
	if (t == NULL) {
		log_warnx("slot %u: process %s: too many closes to settle; "
		    "this one is not counted", s->id, s->processid);
		return;
	}
	memset(t, 0, sizeof(*t));
	t->used = 1;
	t->slot = s->id;
	snprintf(t->processid, sizeof(t->processid), "%s", s->processid);
	t->outcome = s->outcome;
	t->due = clock_now_ms() + SETTLE_DELAY_MS;
	log_info("slot %u: process %s event %s: its close was in flight; "
	    "asking ColonyOS whether it landed", s->id, s->processid,
	    s->event[0] != '\0' ? s->event : "-");
}

/* Start the children that are due; kill those past their deadline. */
void
settle_tick(int64_t now)
{
	struct settle	*t;
	const char	*args[5];
	char		 slotarg[16], cause[FB_CAUSE_MAX];
	size_t		 i, running = 0;

	for (i = 0; i < SETTLE_MAX; i++) {
		t = &settles[i];
		if (!t->used || t->pid <= 0)
			continue;
		running++;
		/* Two bounded requests at most, as for a registrar. */
		if (now - t->started > master_register_deadline()) {
			log_warnx("settle: pid %ld has not finished; killing "
			    "it", (long)t->pid);
			kill(t->pid, SIGKILL);
			t->started = now;	/* once */
		}
	}
	if (master.state != MASTER_RUNNING)
		return;
	for (i = 0; i < SETTLE_MAX && running < SETTLE_CHILDREN; i++) {
		t = &settles[i];
		if (!t->used || t->pid > 0 || t->due > now)
			continue;
		snprintf(slotarg, sizeof(slotarg), "%u", t->slot);
		args[0] = "--settle";
		args[1] = slotarg;
		args[2] = "--process";
		args[3] = t->processid;
		args[4] = NULL;
		if ((t->pid = master_helper(args, cause, sizeof(cause))) ==
		    -1) {
			log_warnx("settle: %s", cause);
			t->pid = 0;
			t->due = now + master.cfg->respawn_max_ms;
			continue;
		}
		t->started = now;
		t->tries++;
		running++;
	}
}

/* A child exited: 1 if it was one of ours. */
int
settle_reaped(pid_t pid, int status)
{
	struct settle	*t = NULL;
	struct slot	*s;
	char		 buf[64];
	size_t		 i;

	for (i = 0; i < SETTLE_MAX; i++) {
		if (settles[i].used && settles[i].pid == pid) {
			t = &settles[i];
			break;
		}
	}
	if (t == NULL)
		return 0;
	t->pid = 0;
	s = &master.slots[t->slot];
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		/* The same fold as a bee's counters at its reap. */
		master.retired.tasks[t->outcome]++;
		s->retired.tasks[t->outcome]++;
		log_info("slot %u: process %s: the close landed; counted",
		    t->slot, t->processid);
		t->used = 0;
	} else if (WIFEXITED(status) && WEXITSTATUS(status) == 1) {
		log_info("slot %u: process %s: the close did not land; "
		    "ColonyOS hands it out again", t->slot, t->processid);
		t->used = 0;
	} else if (master.state == MASTER_RUNNING && t->tries < SETTLE_TRIES &&
	    (WIFSIGNALED(status) || WEXITSTATUS(status) == FB_EX_TEMPFAIL)) {
		t->due = clock_now_ms() + master.cfg->respawn_max_ms;
	} else {
		proc_status_str(status, buf, sizeof(buf));
		log_warnx("slot %u: process %s: cannot tell whether its close "
		    "landed (%s, %u tries); not counted", t->slot,
		    t->processid, buf, t->tries);
		t->used = 0;
	}
	return 1;
}

/* Stopping: the children are told to go, nothing new starts. */
void
settle_stop(void)
{
	size_t	i;

	for (i = 0; i < SETTLE_MAX; i++) {
		if (settles[i].used && settles[i].pid > 0)
			kill(settles[i].pid, SIGTERM);
	}
}

/* The number of tasks not settled yet; *running, children running. */
unsigned int
settle_pending(unsigned int *running)
{
	unsigned int	n = 0, r = 0;
	size_t		i;

	for (i = 0; i < SETTLE_MAX; i++) {
		if (!settles[i].used)
			continue;
		n++;
		if (settles[i].pid > 0)
			r++;
	}
	if (running != NULL)
		*running = r;
	return n;
}

/* --- the child ------------------------------------------------------------ */

int
settle_main(const struct fb_config *cfg, unsigned int slot,
    const char *processid)
{
	struct crypto_key	 key;
	struct col_process	 p;
	struct colonies		*c;
	char			 cause[FB_CAUSE_MAX];
	enum col_err		 e;
	int			 rc;

	if (config_executor_key(cfg, slot, &key, cause, sizeof(cause)) == -1) {
		log_warnx("slot %u: %s", slot, cause);
		return FB_EX_CONFIG;
	}
	c = colonies_open(cfg->colonies_url, &key,
	    cfg->http_connect_timeout_ms, cfg->http_timeout_ms);
	if (c == NULL) {
		crypto_key_clear(&key);
		log_warnx("cannot create the ColonyOS client");
		return FB_EX_SOFTWARE;
	}
	e = colonies_get_process(c, processid, &p, cause, sizeof(cause));
	colonies_free(c);
	if (e == COL_NOTFOUND) {
		log_info("process %s: gone from ColonyOS", processid);
		rc = 1;
	} else if (e != COL_OK) {
		log_warnx("process %s: %s: %s", processid, col_err_str(e),
		    cause);
		rc = FB_EX_TEMPFAIL;
	} else if ((p.state == 2 || p.state == 3) &&
	    strcmp(p.assignedexecutorid, key.id) == 0) {
		log_debug("process %s: closed (state %d) by executor %s",
		    processid, p.state, key.id);
		rc = 0;
	} else {
		log_debug("process %s: state %d, assigned to %s", processid,
		    p.state, p.assignedexecutorid[0] != '\0' ?
		    p.assignedexecutorid : "none");
		rc = 1;
	}
	if (e == COL_OK)
		col_process_free(&p);
	crypto_key_clear(&key);
	return rc;
}
