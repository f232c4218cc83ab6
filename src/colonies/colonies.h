/*
 * colonies.h: the ColonyOS client library: identities and signatures
 * (crypto.c), the HTTP transport (http.c, net.c) and the RPCs with their
 * strict reply decoding (colonies.c).  Depends only on common.h.
 */
#ifndef FB_COLONIES_H
#define FB_COLONIES_H

#include "common.h"

/* crypto.c */
#define CRYPTO_ID_HEXLEN	64	/* ColonyOS ids and process ids */
#define CRYPTO_SIG_HEXLEN	130	/* r(32) || s(32) || v(1), hex */
struct crypto_key {
	unsigned char	seckey[32];
	unsigned char	pubkey[65];		/* 04 || X || Y */
	char		id[CRYPTO_ID_HEXLEN + 1];
};
int	 crypto_init(void);
void	 crypto_sha3_256(const void *, size_t, unsigned char [32]);
void	 crypto_hex(const unsigned char *, size_t, char *);	/* lowercase, NUL */
/* Either case; returns bytes written, -1 if odd/non-hex/too long. */
int	 crypto_unhex(const char *, size_t, unsigned char *, size_t);
/* 64 hex chars, 0 < d < n. The cause never contains the key. */
int	 crypto_key_parse(struct crypto_key *, const char *, size_t,
	    char *, size_t);
int	 crypto_key_generate(struct crypto_key *, char *, size_t);
/*
 * Deterministic per-slot key from a secret seed (executor identities):
 * d = SHA3-256(seed || label || 0x00 || decimal(slot)), see crypto.c.
 * A NULL label is "".
 */
int	 crypto_key_derive(struct crypto_key *, const unsigned char *, size_t,
	    const char *, unsigned int, char *, size_t);
void	 crypto_key_clear(struct crypto_key *);
/* Sign msg (the base64 payload text) as ColonyOS does; sig gets 130 hex + NUL. */
int	 crypto_sign(const struct crypto_key *, const char *, size_t, char *);
/*
 * Recover the signer's id as the real server does.  On failure, cause gets
 * the exact message the real server sends (e.g. "Invalid signature length").
 */
int	 crypto_recover_id(const char *, size_t, const char *, size_t, char *,
	    char *, size_t);
/* Standard base64 with padding; malloc'd, NUL-terminated; len excludes it. */
char	*crypto_base64_encode(const void *, size_t, size_t *);
/* Strict (no whitespace, exact padding); NULL if invalid. */
unsigned char *crypto_base64_decode(const char *, size_t, size_t *);
int	 crypto_random(void *, size_t);	/* getrandom(2); 0 or -1 */

/*
 * net.c: getaddrinfo() for host:port, giving up at deadline (clock_now_ms()
 * time; budget_ms is what the cause names) or when abort_cb(abort_arg) !=
 * 0 (polled ~1/s): 0 and *res for freeaddrinfo(), or -1 and a cause
 * ("resolve HOST: no answer within N ms", "request aborted", the
 * resolver's error).
 */
struct addrinfo;
int	 net_resolve(const char *host, const char *port, int64_t deadline,
	    long budget_ms, int (*abort_cb)(void *), void *abort_arg,
	    struct addrinfo **res, char *cause, size_t causelen);

/* http.c: a blocking HTTP/1.1 client (http and https) for the RPC. */
struct http;
/* http://host[:port][/path] or https://...; connects on first use. */
struct http	*http_open(const char *url, long connect_ms, char *, size_t);
void		 http_free(struct http *);
/* fn(arg) != 0 (polled ~1/s and on EINTR) ends the request in flight. */
void		 http_set_abort(struct http *, int (*)(void *), void *);
/*
 * One request on the kept connection: 0 with *status and the reply body
 * (NUL-terminated, owned by the handle until the next call), or -1 and a
 * one-line cause.  A body over max bytes is an error; timeout_ms bounds
 * the whole request.
 */
int		 http_post(struct http *, const char *body, size_t len,
		    long timeout_ms, size_t max, int *status,
		    const char **reply, size_t *replylen, char *, size_t);
int		 http_get(struct http *, const char *target, long timeout_ms,
		    size_t max, int *status, const char **reply,
		    size_t *replylen, char *, size_t);

/* colonies.c: the ColonyOS RPC client. */
enum col_err {
	COL_OK = 0,
	COL_NOWORK,	/* 404 on assign: the long-poll ended empty */
	COL_NOTFOUND,	/* 404 on other calls */
	COL_AUTH,	/* 403: signature, membership, ownership */
	COL_BADREQ,	/* 400 */
	COL_SERVER,	/* 5xx */
	COL_TRANSPORT,	/* connect, timeout, reset, empty reply */
	COL_PROTO,	/* a reply we cannot decode */
	COL_LOST	/* we no longer own the process (close after expiry...) */
};
const char *col_err_str(enum col_err);

struct col_process {
	char		 processid[CRYPTO_ID_HEXLEN + 1];
	char		 assignedexecutorid[CRYPTO_ID_HEXLEN + 1];
	char		 initiatorid[CRYPTO_ID_HEXLEN + 1];
	int		 state;		/* 0 waiting 1 running 2 ok 3 failed 4 cancelled */
	int		 isassigned;
	int64_t		 prioritytime;
	int		 retries;
	int		 maxretries;
	int		 maxexectime;
	int		 maxwaittime;
	int		 priority;
	char		*funcname;
	char		*executortype;
	char		*submissiontime;
	char		*starttime;
	char		*execdeadline;
	json_t		*args;		/* array, never NULL after a parse */
	json_t		*kwargs;	/* object, never NULL after a parse */
	json_t		*out;
	json_t		*errors;
	json_t		*raw;		/* the whole decoded object */
};
void	 col_process_free(struct col_process *);
/*
 * Decoders, exported for the fuzz tests.  On failure col_process_parse
 * leaves only proc->processid set (if it was valid), so a caller can still
 * close a malformed process failed.
 */
int	 col_process_parse(json_t *, struct col_process *, char *, size_t);
enum col_err colonies_decode_reply(long, const char *, size_t, const char *,
	    json_t **, char *, size_t);
/* json_loadb for plain ASCII JSON, NULL when unsure (see colonies.c). */
json_t	*colonies_fast_json(const char *, size_t, int maxdepth);

/*
 * The HTTP body of a signed request, as the Go client writes it:
 * {"signature":..,"payloadtype":msgtype,"payload":base64(payload_json)}.
 * NUL-terminated, malloc'd; *len (if not NULL) excludes the NUL.
 */
char	*colonies_envelope(const struct crypto_key *, const char *msgtype,
	    const char *payload_json, size_t *len);

struct colonies;
/* The cached signed assign body of a client (exported for the tests). */
const char	*colonies_assign_envelope(struct colonies *, const char *colony,
		    int timeout, size_t *len);
struct colonies	*colonies_open(const char *url, const struct crypto_key *,
		    long connect_timeout_ms, long request_timeout_ms);
void		 colonies_free(struct colonies *);
/* abort(arg) != 0 (polled ~1/s) ends the call in flight: COL_TRANSPORT. */
void		 colonies_set_abort(struct colonies *, int (*)(void *), void *);
long		 colonies_set_timeout(struct colonies *, long ms);
/* The HTTP timeout of an assign is its poll timeout plus this slack. */
#define COLONIES_POLL_SLACK_MS	10000
enum col_err colonies_assign(struct colonies *, const char *colony, int timeout,
	    struct col_process *, char *, size_t);
enum col_err colonies_close_successful(struct colonies *, const char *processid,
	    json_t *out, char *, size_t);
enum col_err colonies_close_failed(struct colonies *, const char *processid,
	    const char **errors, size_t nerrors, char *, size_t);
enum col_err colonies_get_process(struct colonies *, const char *processid,
	    struct col_process *, char *, size_t);
enum col_err colonies_add_log(struct colonies *, const char *processid,
	    const char *message, char *, size_t);
enum col_err colonies_add_colony(struct colonies *, const char *colonyid,
	    const char *name, char *, size_t);
enum col_err colonies_add_executor(struct colonies *, const char *colony,
	    const char *executorid, const char *type, const char *name,
	    char *, size_t);
enum col_err colonies_approve_executor(struct colonies *, const char *colony,
	    const char *name, char *, size_t);
enum col_err colonies_get_executor(struct colonies *, const char *colony,
	    const char *name, json_t **executor, char *, size_t);
enum col_err colonies_add_function(struct colonies *, const char *colony,
	    const char *executorname, const char *executortype,
	    const char *funcname, char *, size_t);
/* spec is a FunctionSpec object; the reply Process is parsed into *. */
enum col_err colonies_submit(struct colonies *, json_t *spec,
	    struct col_process *, char *, size_t);
/*
 * Generic signed call: payload object gets msgtype added; reply decoded
 * (*reply may be JSON null; reply may be NULL).  timeout_ms <= 0: the
 * client's request timeout.  Closes return COL_LOST when the process is
 * no longer ours (do not retry those).
 */
enum col_err colonies_call(struct colonies *, const char *msgtype,
	    json_t *payload, long timeout_ms, json_t **reply, char *, size_t);

#endif /* FB_COLONIES_H */
