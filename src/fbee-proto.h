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
 *              dberr, httperr, rss (kB), hist [METRICS_NBUCKETS],
 *              hcount, hsum (us)
 *   bye        code (exit status about to be returned), auth (bool: the
 *              colony refused the executor), reason
 * master -> bee
 *   drain, pause, resume, reopen: no fields
 */
#ifndef FBEE_PROTO_H
#define FBEE_PROTO_H

#include <msgpack.h>

#include "financebee.h"

#define FBEE_PROTO_VERSION	1
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
	FBEE_ST_MAX
};

enum fbee_phase {
	FBEE_PH_NONE = 0,
	FBEE_PH_GUARDIAN,
	FBEE_PH_APPLY,
	FBEE_PH_CLOSE,
	FBEE_PH_MAX
};

struct fbee_counters {
	uint64_t		tasks[FBEE_NOUTCOMES];
	uint64_t		lost;
	uint64_t		db_errors;
	uint64_t		http_errors;
	int64_t			rss_kb;
	struct metrics_hist	hist;
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
uint64_t fbee_counters_total(const struct fbee_counters *);

#endif /* FBEE_PROTO_H */
