/*
 * fbee-proto.h: the msgpack wire format between the master and its bees.
 *
 * Each message is one msgpack map with string keys.  Every map carries
 * "v" (FBEE_PROTO_VERSION) and "t" (an enum fbee_type); the other keys
 * depend on the type and are listed below.  Unknown keys are ignored so
 * that a field can be added without a version bump; a wrong version, an
 * unknown type, a field of the wrong type, an over-long string or a
 * message over FBEE_MSG_MAX bytes is a protocol error: the master logs
 * it and kills the bee.
 *
 * bee -> master
 *   hello      slot, pid, gen, proto, exec (executor name), execid
 *   heartbeat  state (enum fbee_state), phase (enum fbee_phase),
 *              proc (process id or ""), event (Stripe event id or ""),
 *              age (ms since the task started)
 *   counters   tasks [7 cumulative counts by enum store_outcome], lost,
 *              dberr, httperr, dbwait, colwait (ms spent waiting for the
 *              database, for ColonyOS), rss (kB), hist [METRICS_NBUCKETS],
 *              hcount, hsum (us), w2c [METRICS_NBUCKETS], w2ccount,
 *              w2csum (webhook -> commit of intake events, us), lag
 *              [METRICS_NBUCKETS], lagcount, lagsum (revenue lag: the
 *              Stripe event's created -> commit of applied events, ms), intake
 *              [INTAKE_R_MAX requests by reply: an intake process, whose
 *              hist is then its ColonyOS submits and httperr their errors],
 *              fcause [FBEE_NFAIL failed tasks by enum fbee_fail], tcause
 *              [FBEE_NTRANSIENT transient failures by enum
 *              fbee_transient], ign, dup [FBEE_NTYPES ignored and
 *              duplicate events by fbee_event_type()]
 *   bye        code (exit status about to be returned), auth (bool: the
 *              colony refused the executor), reason
 * master -> bee
 *   drain, pause, resume, reopen: no fields
 *
 * Next to the channel each bee has a status page (struct fbee_shm), a
 * memfd the master maps and passes as fd 4 ("--status-fd 4"), after the
 * pattern of PostgreSQL's backend status array.  The bee writes its state,
 * phase, task and last beat there at every change, without a syscall; the
 * master reads it for status, the watchdog and the exit log, so these are
 * exact while heartbeat messages are sent only once a second (and at once
 * on pause, drain and bye), and its counters, so that those of a bee
 * killed -9 are not lost.  The master writes cmdseq after each command it
 * sends; the bee reads its channel only when cmdseq moved (from 0, its
 * start) or when it waits.  The master also keeps "paused" there, set
 * before the page is passed to a bee and before every pause or resume
 * message: a bee starts paused when the pool is.
 */
#ifndef FBEE_PROTO_H
#define FBEE_PROTO_H

#include <msgpack.h>

#include "financebeed.h"

#define FBEE_PROTO_VERSION	3	/* 3: causes and event types */
#define FBEE_MSG_MAX		65536	/* bytes, at most, per message */
#define FBEE_NOUTCOMES		(OUTCOME_TRANSIENT + 1)

enum fbee_type {
	FBEE_HELLO = 1,
	FBEE_HEARTBEAT,
	FBEE_COUNTERS,
	FBEE_BYE,
	FBEE_DRAIN = 32,
	FBEE_PAUSE,
	FBEE_RESUME,
	FBEE_REOPEN
};

enum fbee_state {
	FBEE_ST_STARTING = 0,
	FBEE_ST_IDLE,
	FBEE_ST_POLLING,
	FBEE_ST_WORKING,
	FBEE_ST_DRAINING,
	FBEE_ST_PAUSED,
	FBEE_ST_WAITING,	/* for a dependency: see dep in the page */
	FBEE_ST_MAX
};

/* A dependency the bee cannot reach (an outage: a state, not an exit). */
enum fbee_dep {
	FBEE_DEP_NONE = 0,
	FBEE_DEP_DATABASE,
	FBEE_DEP_COLONIES,
	FBEE_DEP_MAX
};

enum fbee_phase {
	FBEE_PH_NONE = 0,
	FBEE_PH_GUARDIAN,
	FBEE_PH_APPLY,
	FBEE_PH_CLOSE,
	FBEE_PH_MAX
};

#define FBEE_SHM_MAGIC		0x66627331U	/* "fbs1" */
#define FBEE_SHM_VERSION	4	/* 4: retries, unsettled closes */
#define FBEE_SHM_SIZE		8192	/* the memfd's size */

/*
 * A bee's counters, cumulative over its life.  tasks[] counts processes
 * closed, by outcome, each once its close was accepted, except
 * tasks[OUTCOME_TRANSIENT]: tasks left unclosed after a transient
 * failure, for ColonyOS to hand out again.
 */
/* Why a task failed for good (closed failed). */
enum fbee_fail {
	FBEE_FAIL_GUARDIAN = 0,	/* bad input: shape, envelope, object */
	FBEE_FAIL_SIGNATURE,	/* Stripe-Signature missing or wrong */
	FBEE_FAIL_LIVEMODE,	/* a live event to a test daemon, or back */
	FBEE_FAIL_UNSUPPORTED,	/* a value financebee does not know */
	FBEE_FAIL_DATABASE,	/* the store refused the change */
	FBEE_NFAIL
};

/* What failed for a while: a try to be made again. */
enum fbee_transient {
	FBEE_TRANSIENT_DATABASE = 0,	/* a store attempt */
	FBEE_TRANSIENT_COLONIES,	/* a ColonyOS call */
	FBEE_TRANSIENT_OTHER,		/* no memory */
	FBEE_NTRANSIENT
};

/* The Stripe event types counted by name; any other is "other". */
#define FBEE_NTYPES		27

struct fbee_counters {
	uint64_t		tasks[FBEE_NOUTCOMES];
	uint64_t		lost;
	uint64_t		db_errors;
	uint64_t		http_errors;
	uint64_t		db_wait_ms;	/* waiting for the database */
	uint64_t		colonies_wait_ms; /* for ColonyOS */
	int64_t			rss_kb;
	struct metrics_hist	hist;
	struct metrics_hist	w2c;		/* webhook -> commit, us */
	struct metrics_hist	lag;		/* event created -> commit, ms */
	uint64_t		intake[INTAKE_R_MAX];	/* intake processes */
	uint64_t		failed[FBEE_NFAIL];
	uint64_t		transient[FBEE_NTRANSIENT];
	uint64_t		ignored[FBEE_NTYPES];
	uint64_t		duplicate[FBEE_NTYPES];
};

/* A close that may or may not have landed; see nunsettled below. */
#define FBEE_UNSETTLED		8
struct fbee_unsettled {
	char			processid[CRYPTO_ID_HEXLEN + 1];
	int32_t			outcome;	/* enum store_outcome */
	int32_t			retries;	/* the process's, at assign */
};

/*
 * A seqlock: the bee makes seq odd, writes the fields, makes seq even
 * again (both with release ordering); a reader copies the page and
 * retries while seq was odd or changed (fbee_shm_read).  Everything in it
 * comes from another process and is checked before use.
 */
struct fbee_shm {
	uint32_t		magic;		/* master: FBEE_SHM_MAGIC */
	uint32_t		version;	/* master: FBEE_SHM_VERSION */
	/* written by the bee */
	uint32_t		seq;
	int32_t			state;		/* enum fbee_state */
	int32_t			phase;		/* enum fbee_phase */
	int32_t			pad;
	int64_t			pid;
	int64_t			since;		/* of the state, monotonic ms */
	int64_t			task_start;	/* monotonic ms, 0 if none */
	int64_t			last_beat;	/* monotonic ms */
	uint64_t		tasks;		/* tasks done */
	uint64_t		polls;		/* assigns answered */
	char			processid[CRYPTO_ID_HEXLEN + 1];
	char			event[256];
	int32_t			dep;		/* enum fbee_dep: down */
	int32_t			pad2;
	int64_t			dep_since;	/* monotonic ms, 0 if none */
	char			dep_cause[256];	/* its last error */
	/*
	 * In phase close, the outcome being closed: the counters count the
	 * task only once the close is accepted, published together with
	 * the state that follows (a bee that dies in phase close leaves
	 * the master to find out whether the close landed).
	 */
	int32_t			outcome;
	int32_t			retries;	/* the process's, at assign */
	/*
	 * Closes that failed on the wire (a timeout, a reset, a 5xx): the
	 * request may still have been served, so the task is not counted
	 * and the master asks ColonyOS (settle.c).  nunsettled counts them
	 * over the bee's life; the last FBEE_UNSETTLED are in the ring, at
	 * index n % FBEE_UNSETTLED, written in the same update that ends
	 * the close phase.
	 */
	uint32_t		nunsettled;
	uint32_t		pad3;
	struct fbee_unsettled	unsettled[FBEE_UNSETTLED];
	struct fbee_counters	c;		/* rss_kb not kept here */
	/* written by the master, on its own cache line */
	uint32_t		cmdseq __attribute__((__aligned__(64)));
	uint32_t		paused;		/* the pool is paused */
};

struct fbee_msg {
	int			type;
	/* hello */
	unsigned int		slot;
	unsigned int		generation;
	unsigned int		proto;
	int64_t			pid;
	char			executor[128];
	char			executorid[CRYPTO_ID_HEXLEN + 1];
	/* heartbeat */
	int			state;
	int			phase;
	char			processid[CRYPTO_ID_HEXLEN + 1];
	char			event[256];
	int64_t			age_ms;
	/* counters */
	struct fbee_counters	c;
	/* bye */
	int			code;
	int			auth;
	char			reason[256];
};

/* metrics.c */
const char *fbee_state_str(int);
const char *fbee_phase_str(int);
const char *fbee_type_str(int);
const char *fbee_fail_str(int);
const char *fbee_transient_str(int);
const char *fbee_event_type_str(int);
/* The index of a Stripe event type, FBEE_NTYPES - 1 ("other") if unknown. */
int	 fbee_event_type(const char *);
/* Pack one message (appended to sbuf). */
int	 fbee_pack(msgpack_sbuffer *, const struct fbee_msg *);
/* Decode and validate one unpacked object. 0, or -1 + cause. */
int	 fbee_decode(const msgpack_object *, struct fbee_msg *, char *,
	    size_t);
/* Pack and write a whole message to a blocking or non-blocking fd. */
int	 fbee_send(int, const struct fbee_msg *, char *, size_t);
/* Counters arithmetic: dst += src. */
void	 fbee_counters_add(struct fbee_counters *,
	    const struct fbee_counters *);
/* dst = the newer of two snapshots of one bee's counters, field by field. */
void	 fbee_counters_max(struct fbee_counters *,
	    const struct fbee_counters *);
uint64_t fbee_counters_total(const struct fbee_counters *);
/* Bee side of the status page: begin and end one update. */
struct fbee_shm *fbee_shm_map(int);	/* the master's page, or NULL */
void	 fbee_shm_write_begin(struct fbee_shm *);
void	 fbee_shm_write_end(struct fbee_shm *);
/* Copy a string into the page, odd characters replaced by '?'. */
void	 fbee_shm_strcpy(char *, size_t, const char *);
/* The same for a message: spaces kept. */
void	 fbee_shm_textcpy(char *, size_t, const char *);
/*
 * Copy a consistent snapshot of a status page and check it (magic,
 * version, enums in range, strings terminated and well formed).  0, 1 if
 * the bee kept writing (no consistent copy; try later), -1 + cause.
 */
int	 fbee_shm_read(const struct fbee_shm *, struct fbee_shm *,
	    char *, size_t);

#endif /* FBEE_PROTO_H */
