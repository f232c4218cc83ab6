/*
 * master.h: the master process's state, shared by its files: master.c
 * (pool supervision), reload.c (configuration snapshots and reload),
 * report.c (status and metrics) and control.c (admin commands).
 */
#ifndef FB_MASTER_H
#define FB_MASTER_H

#include <limits.h>
#include <time.h>

#include <msgpack.h>

#include "fbee-proto.h"


#define MASTER_MAX_SLOTS	256
#define MASTER_TICK_MS		500
#define MASTER_RATE_SAMPLES	121	/* one per tick over a minute */
#define MASTER_DEATHS		256
#define MASTER_FAST_KILL_MS	2000	/* fast stop: then SIGKILL */
#define MASTER_START_GRACE_MS	5000	/* silence allowed at start */
#define MASTER_TASK_GRACE_MS	1000
#define MASTER_CLOCK_SLACK_MS	1000	/* bee vs master monotonic reads */
/* Intake processes (intake.c): intake k runs in MASTER_INTAKE(k). */
#define MASTER_MAX_INTAKES	64
#define MASTER_NSLOTS		(MASTER_MAX_SLOTS + MASTER_MAX_INTAKES)
#define MASTER_INTAKE(k)	(&master.slots[MASTER_MAX_SLOTS + (k)])

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
	int			 intake;	/* an intake process, not a bee */
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
	uint64_t		 polls;		/* assigns answered, from the page */

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
	int			 outcome;	/* being closed (page) */
	int			 retries;	/* of its process (page) */
	uint32_t		 nunsettled;	/* closes taken to settle */
	int			 auth_refused;
	int			 dep;		/* enum fbee_dep: it waits for */
	double			 dep_since;	/* wall clock */
	char			 dep_cause[256];
	int			 bye;		/* its last word came */
	int			 rereg;		/* refused, registered again */
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
	struct slot		 slots[MASTER_NSLOTS + 1];	/* bees, intakes */

	struct event		*ev_sig[6];
	struct event		*ev_tick;
	struct event		*ev_stop;
	struct event		*ev_prune;
	struct event		*ev_stats;
	struct event		*ev_queue;
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

	/* intake: its listening sockets, opened once, and its pool */
	int			 lfds[LISTEN_MAXFDS];
	size_t			 nlfds;
	unsigned int		 intake_target;
	struct fbee_counters	 intake_retired;

	int64_t			 owner_down;	/* unreachable at */
	int			 exitcode;
};

extern struct master	 master;

/* master.c */
int	 master_identity(struct slot *, char *, size_t);
pid_t	 master_helper(const char *const *, char *, size_t);
int64_t	 master_register_deadline(void);
int	 master_shm_peek(struct slot *, char *, size_t);
void	 master_spawn(struct slot *);
void	 master_drain_slot(struct slot *);
void	 master_set_target(unsigned int);
int	 master_slot_shown(const struct slot *);
double	 master_now_wall(void);

void	 master_intake_reload(int);

/* reload.c */
void	 reload_roll_next(void);

/* settle.c */
void	 settle_add(unsigned int, const char *, const char *, int, int);
void	 settle_tick(int64_t);
int	 settle_reaped(pid_t, int);
void	 settle_stop(void);
unsigned int settle_pending(unsigned int *);
/* queue.c: the dependency probe (queue depth, database), master side */
void	 queue_start(void);
void	 queue_watchdog(int64_t now);
void	 queue_stop(void);
int	 queue_busy(void);
int	 queue_reaped(pid_t, int status);
json_t	*queue_json(void);
json_t	*queue_dep_json(int database);
int	 queue_answers(int database);
int	 queue_get(int64_t *waiting, int64_t *running);

/* report.c */
void	 report_rate_sample(int64_t now);

#endif /* FB_MASTER_H */
