/*
 * settle.c: tasks whose close may or may not have landed.
 *
 * A bee counts a task once ColonyOS has accepted its close, and publishes
 * the count with the end of its close phase in one status page update.
 * Two cases leave a question, did the close land?
 *  - the bee was killed in its close phase (its last page says so);
 *  - every attempt to close got no answer (a timeout, a reset, a 5xx):
 *    the bee gives up at its deadline and hands the task over in the page
 *    update that ends the close phase (struct fbee_shm, unsettled).  A
 *    request may have been served all the same: a server that was stopped
 *    serves what it had received when it resumes.
 * If the close landed, the process is final and nobody else will count
 * it; if not, ColonyOS hands the process out again when the lease runs
 * out, with its retries one higher, and the bee that closes it then
 * counts it.  The master asks ColonyOS with a child, "financebeed --settle
 * SLOT --process ID --retries N --outcome O" (settle_main below), half a
 * second after it learns of the task so that a request already sent is
 * served first, and counts the task when the process was closed by the
 * slot's executor in the run the bee had (retries still N), the way the
 * bee closed it (successful, or failed with the bee's reason rather than
 * the server's "Maximum execution time limit exceeded").  While that run
 * is still on (running, assigned to the slot's executor, retries N) the
 * answer may yet come: the child asks again later, as when ColonyOS does
 * not answer.
 *
 * The child exits 0 (closed in that run: count it), 1 (not: do not), 75
 * (no answer yet: ask again after supervision.respawn_max, for up to
 * SETTLE_GIVEUP_MS) or 78.
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
/* The error the server closes a process with when its last lease ends. */
#define SETTLE_SERVER_EXPIRY	"Maximum execution time limit exceeded"
#define SETTLE_GIVEUP_MS	(3600 * 1000)	/* then: not counted, logged */

struct settle {
	int		used;
	unsigned int	slot;
	char		processid[CRYPTO_ID_HEXLEN + 1];
	int		outcome;
	int		retries;	/* the process's, when the bee had it */
	pid_t		pid;		/* its child, running */
	int64_t		added;		/* ms */
	int64_t		started;	/* the child's start, ms */
	int64_t		due;		/* the next try, ms */
	unsigned int	tries;
};

static struct settle	settles[SETTLE_MAX];

void
settle_add(unsigned int slot, const char *processid, const char *event,
    int outcome, int retries)
{
	struct settle	*t = NULL;
	size_t		 i;

	/* From a page that passed fbee_shm_read, so in range; still. */
	if (outcome < 0 || outcome >= OUTCOME_TRANSIENT || retries < 0)
		return;
	for (i = 0; i < SETTLE_MAX; i++) {
		if (settles[i].used && settles[i].slot == slot &&
		    strcmp(settles[i].processid, processid) == 0 &&
		    settles[i].retries == retries)
			return;		/* asked already */
		if (!settles[i].used && t == NULL)
			t = &settles[i];
	}
	if (t == NULL) {
		log_warnx("slot %u: process %s: too many closes to settle; "
		    "this one is not counted", slot, processid);
		return;
	}
	memset(t, 0, sizeof(*t));
	t->used = 1;
	t->slot = slot;
	snprintf(t->processid, sizeof(t->processid), "%s", processid);
	t->outcome = outcome;
	t->retries = retries;
	t->added = clock_now_ms();
	t->due = t->added + SETTLE_DELAY_MS;
	if (event != NULL)
		log_info("slot %u: process %s event %s: its close was in "
		    "flight; asking ColonyOS whether it landed", slot,
		    processid, event[0] != '\0' ? event : "-");
	else
		log_info("slot %u: process %s: its close got no answer; "
		    "asking ColonyOS whether it landed", slot, processid);
}

/* Start the children that are due; kill those past their deadline. */
void
settle_tick(int64_t now)
{
	struct settle	*t;
	const char	*args[9];
	char		 slotarg[16], retriesarg[16], cause[FB_CAUSE_MAX];
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
		snprintf(retriesarg, sizeof(retriesarg), "%d", t->retries);
		args[0] = "--settle";
		args[1] = slotarg;
		args[2] = "--process";
		args[3] = t->processid;
		args[4] = "--retries";
		args[5] = retriesarg;
		args[6] = "--outcome";
		args[7] = store_outcome_str((enum store_outcome)t->outcome);
		args[8] = NULL;
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
	} else if (master.state == MASTER_RUNNING &&
	    clock_now_ms() - t->added < SETTLE_GIVEUP_MS &&
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

/* Did the bee's close make the process what it is? */
static int
settle_closed_so(const struct col_process *p, int outcome)
{
	json_t	*e;

	if (p->state == 2)
		return outcome != OUTCOME_FAILED;
	if (p->state != 3 || (outcome != -1 && outcome != OUTCOME_FAILED))
		return 0;
	/* The server fails a process whose last lease ran out, not us. */
	e = json_is_array(p->errors) ? json_array_get(p->errors, 0) : NULL;
	return !(json_is_string(e) && strcmp(json_string_value(e),
	    SETTLE_SERVER_EXPIRY) == 0);
}

/*
 * retries: the process's when the bee had it, -1 for any; outcome: how
 * the bee closed it (enum store_outcome), -1 for any.
 */
int
settle_main(const struct fb_config *cfg, unsigned int slot,
    const char *processid, int retries, int outcome)
{
	struct crypto_key	 key;
	struct col_process	 p;
	struct colonies		*c;
	char			 cause[FB_CAUSE_MAX];
	enum col_err		 e;
	int			 rc, run;

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
		crypto_key_clear(&key);
		return 1;
	}
	if (e != COL_OK) {
		log_warnx("process %s: %s: %s", processid, col_err_str(e),
		    cause);
		crypto_key_clear(&key);
		return FB_EX_TEMPFAIL;
	}
	/* The bee's run: assigned to its executor, not handed out since. */
	run = strcmp(p.assignedexecutorid, key.id) == 0 &&
	    (retries == -1 || p.retries == retries);
	if (run && p.state == 1) {
		log_info("process %s: still running under executor %s; "
		    "asking again later", processid, key.id);
		rc = FB_EX_TEMPFAIL;
	} else if (run && settle_closed_so(&p, outcome)) {
		log_debug("process %s: closed (state %d) by executor %s",
		    processid, p.state, key.id);
		rc = 0;
	} else {
		log_debug("process %s: state %d, retries %d, assigned to %s",
		    processid, p.state, p.retries,
		    p.assignedexecutorid[0] != '\0' ? p.assignedexecutorid :
		    "none");
		rc = 1;
	}
	col_process_free(&p);
	crypto_key_clear(&key);
	return rc;
}
