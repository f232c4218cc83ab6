/*
 * colonies.h: the ColonyOS client library: identities and signatures
 * (crypto.c), the HTTP transport (http.c, on libcurl) and the RPCs with their
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
/* crypto_sign()'s nonce: secp256k1_nonce_function_rfc6979 on nettle. */
int	 crypto_nonce_rfc6979(unsigned char *, const unsigned char *,
	    const unsigned char *, const unsigned char *, void *, unsigned int);
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
 * http.c: the HTTP transport (libcurl) for the RPC: one easy handle, one
 * kept connection, one request at a time.
 */
struct http;
struct http_opts {
	long		 connect_ms;	/* lookup + connect + TLS; <= 0: 5000 */
	const char	*proxy;		/* NULL/"": the environment's */
	const char	*ca_file;	/* NULL/"": SSL_CERT_FILE or the system's */
	const char	*ca_path;	/* NULL/"": SSL_CERT_DIR or the system's */
	const char	*cert_file;	/* client certificate (PEM), optional */
	const char	*key_file;	/* its key, if not in cert_file */
};
/* What ended a failed request, for causes and metrics. */
enum http_fail {
	HTTP_FAIL_NONE = 0,
	HTTP_FAIL_RESOLVE,		/* the name does not resolve */
	HTTP_FAIL_RESOLVE_TIMEOUT,	/* no answer within the connect timeout */
	HTTP_FAIL_CONNECT,		/* refused, unreachable */
	HTTP_FAIL_CONNECT_TIMEOUT,	/* no connection within the timeout */
	HTTP_FAIL_TLS,			/* handshake, certificate */
	HTTP_FAIL_TIMEOUT,		/* the request's total deadline */
	HTTP_FAIL_CLOSED,		/* closed or reset before the reply's end */
	HTTP_FAIL_TOOBIG,		/* body or headers over their limit */
	HTTP_FAIL_PROTO,		/* a malformed reply */
	HTTP_FAIL_ABORT,		/* the abort callback */
	HTTP_FAIL_OTHER			/* out of memory, proxy, ... */
};
#define HTTP_FAIL_COUNT	(HTTP_FAIL_OTHER + 1)
const char	*http_fail_str(enum http_fail);
/* http://host[:port][/path] or https://...; connects on first use. */
struct http	*http_open(const char *url, long connect_ms, char *, size_t);
struct http	*http_open_opts(const char *url, const struct http_opts *,
		    char *, size_t);
void		 http_free(struct http *);
/* fn(arg) != 0 (polled at least once a second) ends the request in flight. */
void		 http_set_abort(struct http *, int (*)(void *), void *);
/*
 * One request on the kept connection: 0 with *status and the reply body
 * (NUL-terminated, owned by the handle until the next call), or -1 and a
 * one-line cause (its kind: http_last_fail()).  A body over max bytes is
 * an error; timeout_ms bounds the whole request (connect, send, reply).
 * After any error the next request opens a new connection.
 */
int		 http_post(struct http *, const char *body, size_t len,
		    long timeout_ms, size_t max, int *status,
		    const char **reply, size_t *replylen, char *, size_t);
int		 http_get(struct http *, const char *target, long timeout_ms,
		    size_t max, int *status, const char **reply,
		    size_t *replylen, char *, size_t);
enum http_fail	 http_last_fail(const struct http *);
size_t		 http_buffer_size(const struct http *);	/* for the tests */

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
/*
 * With transport options (proxy, CA, client certificate) and the largest
 * reply accepted (0: colonies_max_reply(0)).
 */
struct colonies	*colonies_open_opts(const char *url, const struct crypto_key *,
		    const struct http_opts *, long request_timeout_ms,
		    size_t max_reply);
/*
 * The largest reply that can carry a process whose event (args[0]) is at
 * most max_payload bytes (0: 1 MiB): the event escaped in JSON (at worst
 * 6 bytes per byte, as Go escapes <, >, & and control characters), the
 * process around it, base64 in the envelope.
 */
size_t		 colonies_max_reply(size_t max_payload);
/* The kind of the last COL_TRANSPORT failure (metrics by cause). */
enum http_fail	 colonies_transport_fail(const struct colonies *);
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
/* The same, out given as compact JSON text (an array), sent as written. */
enum col_err colonies_close_successful_text(struct colonies *,
	    const char *processid, const char *outjson, char *, size_t);
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
