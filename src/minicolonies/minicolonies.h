/*
 * minicolonies.h: the bundled ColonyOS server's internal interfaces, one
 * block per file.  Not part of financebee proper: minicolonies links
 * libcolonies and libcommon only.
 *
 *   minicolonies.c		main, options, the event loop
 *   minicolonies-http.c	evhttp intake, the envelope, signatures, replies
 *   minicolonies-rpc.c		the RPC table, Go-Unmarshal-like field access
 *   minicolonies-rpc-colony.c	colony, executor, function and stats RPCs
 *   minicolonies-rpc-proc.c	process RPCs (submit, get, list, close, ...)
 *   minicolonies-queue.c	waiting queues, long-polls, leases, timers
 *   minicolonies-proc.c	the Process object: spec, Go JSON rendering
 *   minicolonies-state.c	colonies, executors, membership, hash map
 *   minicolonies-json.c	Go-compatible JSON text
 *   minicolonies-cli.c		the client: options, keys, raw HTTP commands
 *   minicolonies-cli-cmd.c	the client commands over the C client
 */
#ifndef MINICOLONIES_H
#define MINICOLONIES_H

#include <sys/queue.h>

#include <stdint.h>
#include <stdio.h>

#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>

#include "colonies.h"

#define MC_MAX_BODY		(64u * 1024 * 1024)
#define MC_MAX_COUNT		100
#define MC_MIN_PRIORITY		-50000
#define MC_MAX_PRIORITY		50000
#define MC_NS_PER_DAY		(86400LL * 1000000000LL)
#define MC_BUILD_VERSION	"minicolonies-" PACKAGE_VERSION

enum mc_state {
	MC_WAITING = 0,
	MC_RUNNING,
	MC_SUCCESS,
	MC_FAILED,
	MC_CANCELLED
};
#define MC_NSTATES		5

enum mc_exstate {
	MC_EX_PENDING = 0,
	MC_EX_APPROVED,
	MC_EX_REJECTED,
	MC_EX_UNREGISTERED
};

/* A growable string buffer, always NUL-terminated. */
struct sb {
	char	*s;
	size_t	 len;
	size_t	 cap;
};

/* A chained hash map from byte-string keys (owned by the value) to values. */
struct hent {
	struct hent	*next;
	uint64_t	 h;
	const char	*key;
	size_t		 klen;
	void		*val;
};
struct hmap {
	struct hent	**b;
	size_t		  nb;
	size_t		  n;
};

struct mc_colony {
	char			 *name;
	char			  id[CRYPTO_ID_HEXLEN + 1];
	int			  paused;
	TAILQ_ENTRY(mc_colony)	  entry;
};
TAILQ_HEAD(mc_colonylist, mc_colony);

struct mc_executor {
	char			  id[CRYPTO_ID_HEXLEN + 1];
	char			 *name;
	char			 *type;
	char			 *colony;
	char			 *namekey;	/* colony \1 name */
	int			  state;
	int			  polled;	/* ever called assign */
	int			  gone;		/* replaced by a re-register */
	int64_t			  commission_us;
	int64_t			  lastheard_us;
	struct mc_executor	 *idnext;	/* rows sharing this id */
	TAILQ_ENTRY(mc_executor)  entry;
};
TAILQ_HEAD(mc_exlist, mc_executor);

struct mc_function {
	char			  functionid[CRYPTO_ID_HEXLEN + 1];
	char			 *executorname;
	char			 *executortype;
	char			 *colony;
	char			 *funcname;
	TAILQ_ENTRY(mc_function)  entry;
};
TAILQ_HEAD(mc_funclist, mc_function);

struct mc_process {
	char			  id[CRYPTO_ID_HEXLEN + 1];
	char			  initiatorid[CRYPTO_ID_HEXLEN + 1];
	char			  assigned[CRYPTO_ID_HEXLEN + 1];
	char			 *initiatorname;
	char			 *colony;
	char			 *type;
	char			**names;
	size_t			  nnames;
	char			 *label;
	char			 *funcname;
	json_t			 *args;
	int			  state;
	int			  isassigned;
	int64_t			  prioritytime;
	int64_t			  submit_us;
	int64_t			  start_us;
	int64_t			  end_us;
	int64_t			  waitdl_us;
	int64_t			  execdl_us;
	int			  retries;
	int			  priority;
	int			  maxwaittime;
	int			  maxexectime;
	int			  maxretries;
	char			 *specjson;	/* rendered at depth 1 */
	json_t			 *out;
	json_t			 *errors;
	uint64_t		  seq;
	uint32_t		  qgen;		/* bumped on every queue change */
	int			  onrun;
	int			  onwait;
	TAILQ_ENTRY(mc_process)	  all;
	TAILQ_ENTRY(mc_process)	  run;		/* running, or waiting w/ deadline */
};
TAILQ_HEAD(mc_plist, mc_process);

/* A decoded, signed RPC on its way through a handler. */
struct mc_handler;
struct mc_req {
	struct evhttp_request	*req;
	const char		*payloadtype;
	char			 id[CRYPTO_ID_HEXLEN + 1];	/* signer */
	json_t			*msg;
	const struct mc_handler	*h;
};

/* A handler's texts: its "invalid JSON" reply, for MC_BADJSON. */
struct mc_handler {
	const char	*type;
	void		(*fn)(struct mc_req *);
	const char	*badjson;
	const char	*mismatch;
	const char	*fields;	/* Go field types, see mc_rpc_typecheck */
};

#define MC_BADJSON(r) do {						\
	mc_error((r)->req, 400, "%s", (r)->h->badjson);			\
	return;								\
} while (0)

/* minicolonies.c */
extern struct event_base	*mc_base;
extern char			 mc_server_id[CRYPTO_ID_HEXLEN + 1];
extern char			 mc_listen_host[256];
extern int			 mc_listen_port;
extern int			 mc_verbose;
extern int			 mc_allow_reregister;
extern long			 mc_stale_s;
extern long			 mc_cleanup_s;
int	 mc_serve_main(int, char **);

/* minicolonies-http.c */
void	 mc_http_cb(struct evhttp_request *, void *);
void	 mc_send(struct evhttp_request *, int, const char *, const char *,
	    size_t);
void	 mc_error(struct evhttp_request *, int, const char *, ...)
	    __attribute__((__format__(__printf__, 3, 4)));
void	 mc_panic(struct evhttp_request *);
void	 mc_reply_sb(struct mc_req *, struct sb *);
void	 mc_reply_empty(struct mc_req *);
void	 mc_reply_nothing(struct mc_req *);

/* minicolonies-rpc.c */
const struct mc_handler *mc_rpc_find(const char *);
const struct mc_handler *mc_rpc_unsigned(const char *);
void	 mc_rpc_call(const struct mc_handler *, struct mc_req *,
	    const char *, size_t);
json_t	*mc_get(json_t *, const char *);
int	 mc_getstr(json_t *, const char *, const char **);
int	 mc_getint(json_t *, const char *, long long *);
int	 mc_getint32(json_t *, const char *, int *);
int	 mc_getarr(json_t *, const char *, json_t **);
int	 mc_getstrarr(json_t *, const char *, json_t **);
int	 mc_getobj(json_t *, const char *, json_t **);

/* minicolonies-rpc-colony.c */
void	 mc_h_version(struct mc_req *);
void	 mc_serverinfo(struct evhttp_request *);
void	 mc_h_addcolony(struct mc_req *);
void	 mc_h_colonystats(struct mc_req *);
void	 mc_h_addexecutor(struct mc_req *);
void	 mc_h_approve(struct mc_req *);
void	 mc_h_reject(struct mc_req *);
void	 mc_h_removeexecutor(struct mc_req *);
void	 mc_h_getexecutor(struct mc_req *);
void	 mc_h_addfunction(struct mc_req *);

/* minicolonies-rpc-proc.c */
void	 mc_h_submit(struct mc_req *);
void	 mc_h_getprocess(struct mc_req *);
void	 mc_h_getprocesses(struct mc_req *);
void	 mc_h_closesuccessful(struct mc_req *);
void	 mc_h_closefailed(struct mc_req *);
void	 mc_h_addlog(struct mc_req *);
void	 mc_h_setoutput(struct mc_req *);
void	 mc_h_cancel(struct mc_req *);
void	 mc_h_removeall(struct mc_req *);

/* minicolonies-queue.c */
extern struct mc_plist		 mc_running;
extern struct mc_plist		 mc_waitdl;
extern struct hmap		 mc_queues;
extern uint64_t			 mc_npollers;
void	 mc_set_state(struct mc_process *, int);
void	 mc_finish(struct mc_process *, int);
void	 mc_offer(struct mc_process *);
void	 mc_requeue_running_of(const char *);
void	 mc_queue_purge(void);
void	 mc_h_assign(struct mc_req *);
void	 mc_h_pause(struct mc_req *);
void	 mc_expiry_cb(evutil_socket_t, short, void *);
void	 mc_cleanup_cb(evutil_socket_t, short, void *);

/* minicolonies-proc.c */
extern struct mc_plist		 mc_processes;
extern struct hmap		 mc_byid;
extern uint64_t			 mc_seq;
extern uint64_t			 mc_nstate[MC_NSTATES];
json_t	*mc_spec_normalize(json_t *, struct mc_process *);
void	 mc_spec_json(struct sb *, json_t *);
void	 mc_proc_json(struct sb *, struct mc_process *, int);
void	 mc_proc_free(struct mc_process *);

/* minicolonies-state.c */
extern struct mc_colonylist	 mc_colonies;
extern struct mc_exlist		 mc_executors;
extern struct mc_funclist	 mc_functions;
int64_t	 mc_now_us(void);
char	*mc_strdup(const char *);
void	*mc_calloc(size_t, size_t);
void	 mc_fmt_time(int64_t, char *, size_t);
void	 mc_randid(char *);
void	*hmap_get(struct hmap *, const char *, size_t);
void	 hmap_put(struct hmap *, const char *, size_t, void *);
void	 hmap_del(struct hmap *, const char *, size_t);
struct mc_colony *mc_colony_find(const char *);
struct mc_executor *mc_ex_byname(const char *, const char *);
struct mc_executor *mc_ex_byid(const char *);
void	 mc_ex_link(struct mc_executor *);
void	 mc_ex_unlink(struct mc_executor *);
void	 mc_ex_remove(struct mc_executor *);
int	 mc_require_member(const char *, const char *, int, char *, size_t);
int	 mc_require_owner(const char *, const char *, char *, size_t);
void	 mc_ex_json(struct sb *, struct mc_executor *);

/* minicolonies-json.c */
void	 sb_grow(struct sb *, size_t);
void	 sb_add(struct sb *, const char *, size_t);
void	 sb_adds(struct sb *, const char *);
void	 sb_addc(struct sb *, char);
void	 sb_printf(struct sb *, const char *, ...)
	    __attribute__((__format__(__printf__, 2, 3)));
void	 sb_indent(struct sb *, int);
void	 sb_free(struct sb *);
void	 sb_gostr(struct sb *, const char *, size_t);
void	 sb_gofloat(struct sb *, double);
void	 sb_gojson(struct sb *, json_t *, int);
int	 mc_strptrcmp(const void *, const void *);
int	 mc_go_syntax(const char *, size_t, char *, size_t);

/* minicolonies-cli.c */
#define CLI_CONNECT_MS	5000
#define CLI_REQUEST_MS	30000
/* Replies of the minicolonies-only endpoints and of raw calls. */
#define CLI_MAX_REPLY	(256UL * 1024 * 1024)

struct cli_keysrc {
	const char	*file;
	const char	*env;
};

struct cli {
	const char		*url;
	struct cli_keysrc	 key, server, owner, executor, submitter;
	const char		*name;
	const char		*colony;
	const char		*type;
	const char		*id;
	int			 approve;
	const char		*funcname;
	int			 maxexectime;
	int			 maxretries;
	int			 maxwaittime;
	int			 priority;
	const char		*kwargs;
	const char		*names;
	const char		*label;
	int			 stdinlines;
	int			 state;
	long			 count;
	long			 timeout;
	const char		*out;
	const char		*errors[64];
	size_t			 nerrors;
	const char		*message;
	const char		*payloadtype;
	const char		*json;
	int			 raw;
	int			 full;
	const char		*subname;
	const char		*subtype;
	const char		*bodyfile;
	const char		*outfile;
	char			**args;
	int			 nargs;
};

int	 mc_cli_main(int, char **);
void	 mc_usage(FILE *);
int	 cli_die(const char *, ...)
	    __attribute__((__format__(__printf__, 1, 2)));
int	 cli_key(const struct cli_keysrc *, const char *,
	    struct crypto_key *);
struct colonies *cli_open(struct cli *, const struct cli_keysrc *,
	    const char *);
int	 cli_err(const char *, enum col_err, const char *);

/* minicolonies-cli-cmd.c */
int	 cli_keygen(struct cli *);
int	 cli_id(struct cli *);
int	 cli_colony_add(struct cli *);
int	 cli_executor_add(struct cli *);
int	 cli_executor_simple(struct cli *, const char *);
int	 cli_setup(struct cli *);
int	 cli_submit(struct cli *);
int	 cli_get_cmd(struct cli *);
int	 cli_list(struct cli *);
int	 cli_assign(struct cli *);
int	 cli_close(struct cli *, int);
int	 cli_log(struct cli *);

#endif /* MINICOLONIES_H */
