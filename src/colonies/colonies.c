/*
 * colonies.c: the ColonyOS RPC client.  One HTTP handle (http.c, one
 * libcurl easy handle) per client, reused for every call, so a process keeps one persistent
 * connection to the server.  Every request is a signed envelope (see
 * shared/colonies-protocol.md); every reply is decoded strictly, and no
 * reply, however broken, can crash the caller.
 */
#include <ctype.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colonies.h"

/*
 * The reply size limit (the server has none) follows from the largest
 * event: see colonies_max_reply().  The process around the event (ids,
 * times, kwargs, errors, the executor's fields) gets this much room.
 */
#define COLONIES_DEFAULT_PAYLOAD	(1024 * 1024)
#define COLONIES_PROCESS_ROOM		(64 * 1024)

struct colonies {
	struct http		*http;
	struct crypto_key	 key;
	long			 connect_ms;
	long			 request_ms;
	size_t			 max_reply;
	enum http_fail		 fail;		/* of the last COL_TRANSPORT */

	/* The assign envelope never changes for a (colony, timeout). */
	char			*assign_body;
	size_t			 assign_len;
	char			*assign_colony;
	int			 assign_timeout;

	const char		*buf;		/* reply body, owned by http */
	size_t			 buflen;
};

const char *
col_err_str(enum col_err e)
{
	switch (e) {
	case COL_OK:
		return "ok";
	case COL_NOWORK:
		return "no work";
	case COL_NOTFOUND:
		return "not found";
	case COL_AUTH:
		return "access denied";
	case COL_BADREQ:
		return "bad request";
	case COL_SERVER:
		return "server error";
	case COL_TRANSPORT:
		return "transport error";
	case COL_PROTO:
		return "protocol error";
	case COL_LOST:
		return "process lost";
	}
	return "unknown error";
}

char *
colonies_envelope(const struct crypto_key *key, const char *msgtype,
    const char *payload_json, size_t *len)
{
	char	 sig[CRYPTO_SIG_HEXLEN + 1], *b64, *body;
	size_t	 blen, tlen, n;

	b64 = crypto_base64_encode(payload_json, strlen(payload_json), &blen);
	if (b64 == NULL)
		return NULL;
	if (crypto_sign(key, b64, blen, sig) == -1) {
		free(b64);
		return NULL;
	}
	tlen = strlen(msgtype);
	n = sizeof("{\"signature\":\"\",\"payloadtype\":\"\",\"payload\":\"\"}")
	    - 1 + CRYPTO_SIG_HEXLEN + tlen + blen;
	if ((body = malloc(n + 1)) == NULL) {
		free(b64);
		return NULL;
	}
	snprintf(body, n + 1,
	    "{\"signature\":\"%s\",\"payloadtype\":\"%s\",\"payload\":\"%s\"}",
	    sig, msgtype, b64);
	free(b64);
	if (len != NULL)
		*len = n;
	return body;
}

/* The payload JSON text as the Go client writes it: compact, in order. */
static char *
colonies_payload_text(json_t *payload)
{
	return json_dumps(payload, JSON_COMPACT | JSON_PRESERVE_ORDER);
}

/*
 * Let a caller end a call early (fast shutdown): fn(arg) is polled about
 * once a second while a request is in flight.  An aborted long-poll may
 * strand a process the server handed out at that instant (it comes back
 * after its maxexectime), so use it only when stopping anyway.
 */
/* The timeout of the calls that follow (not the long-poll); the old one. */
long
colonies_set_timeout(struct colonies *c, long ms)
{
	long	old = c->request_ms;

	if (ms > 0)
		c->request_ms = ms;
	return old;
}

void
colonies_set_abort(struct colonies *c, int (*fn)(void *), void *arg)
{
	http_set_abort(c->http, fn, arg);
}

size_t
colonies_max_reply(size_t max_payload)
{
	size_t	n;

	if (max_payload == 0)
		max_payload = COLONIES_DEFAULT_PAYLOAD;
	if (max_payload > (SIZE_MAX - COLONIES_PROCESS_ROOM) / 8)
		return SIZE_MAX / 2;
	/* Escaped event and the process, then base64 (4 per 3), rounded up. */
	n = 6 * max_payload + COLONIES_PROCESS_ROOM;
	return (n + 2) / 3 * 4 + 1024;
}

/* NULL on a bad URL (logged) or no memory. */
struct colonies *
colonies_open(const char *url, const struct crypto_key *key,
    long connect_timeout_ms, long request_timeout_ms)
{
	struct http_opts	o;

	memset(&o, 0, sizeof o);
	o.connect_ms = connect_timeout_ms;
	return colonies_open_opts(url, key, &o, request_timeout_ms, 0);
}

struct colonies *
colonies_open_opts(const char *url, const struct crypto_key *key,
    const struct http_opts *opts, long request_timeout_ms, size_t max_reply)
{
	struct colonies		*c;
	struct http_opts	 o = *opts;
	char			 cause[256];

	/* Holds the private key: secret memory, zeroed (secret.c). */
	if ((c = secret_alloc(sizeof *c)) == NULL)
		return NULL;
	c->key = *key;
	c->connect_ms = o.connect_ms > 0 ? o.connect_ms : 5000;
	c->request_ms = request_timeout_ms > 0 ? request_timeout_ms : 30000;
	c->max_reply = max_reply > 0 ? max_reply : colonies_max_reply(0);
	o.connect_ms = c->connect_ms;
	if ((c->http = http_open_opts(url, &o, cause, sizeof cause)) == NULL) {
		log_warnx("colonies: %s", cause);
		colonies_free(c);
		return NULL;
	}
	return c;
}

enum http_fail
colonies_transport_fail(const struct colonies *c)
{
	return c->fail;
}

void
colonies_free(struct colonies *c)
{
	if (c == NULL)
		return;
	http_free(c->http);
	free(c->assign_body);
	free(c->assign_colony);
	crypto_key_clear(&c->key);
	secret_free(c);
}

/* One POST; on COL_OK, *status and c->buf/c->buflen hold the reply. */
static enum col_err
colonies_post(struct colonies *c, const char *body, size_t len,
    long timeout_ms, long *status, char *cause, size_t causelen)
{
	char	err[256];
	int	st;

	c->buf = "";
	c->buflen = 0;
	*status = 0;
	if (http_post(c->http, body, len, timeout_ms, c->max_reply, &st,
	    &c->buf, &c->buflen, err, sizeof err) == -1) {
		c->buf = "";
		c->buflen = 0;
		c->fail = http_last_fail(c->http);
		snprintf(cause, causelen, "colonies: %s", err);
		return COL_TRANSPORT;
	}
	*status = st;
	return COL_OK;
}

/* Copy a server message into cause without control characters. */
static void
colonies_cause_msg(char *cause, size_t causelen, long status,
    const char *msg)
{
	size_t	i;
	int	n;

	n = snprintf(cause, causelen, "colonies: %ld ", status);
	if (n < 0 || (size_t)n >= causelen)
		return;
	for (i = (size_t)n; *msg != '\0' && i + 1 < causelen; msg++, i++)
		cause[i] = iscntrl((unsigned char)*msg) ? '?' : *msg;
	cause[i] = '\0';
}

static enum col_err
colonies_status_err(long status)
{
	switch (status) {
	case 400:
		return COL_BADREQ;
	case 403:
		return COL_AUTH;
	case 404:
		return COL_NOTFOUND;
	case 408:	/* assignments paused */
	case 429:
		return COL_SERVER;
	}
	if (status >= 500 && status <= 599)
		return COL_SERVER;
	if (status >= 400 && status <= 499)
		return COL_BADREQ;
	return COL_PROTO;
}

/*
 * The envelope exactly as the server writes it:
 * {"payloadtype":"<[a-z0-9]>","payload":"<base64>","error":<bool>} and
 * optional trailing whitespace.  Anything else goes to the full JSON
 * parser, which gives the same answer for this shape but costs ~10 ns a
 * byte on a payload string that can be kilobytes long.
 */
static int
colonies_fast_envelope(const char *b, size_t len, char *type, size_t typelen,
    const char **pl, size_t *pllen, int *error)
{
	const char		*end = b + len, *q;
	size_t			 n;

#define FAST_LIT(s) do {						\
	if ((size_t)(end - b) < sizeof(s) - 1 ||			\
	    memcmp(b, s, sizeof(s) - 1) != 0)				\
		return 0;						\
	b += sizeof(s) - 1;						\
} while (0)
	FAST_LIT("{\"payloadtype\":\"");
	for (q = b; q < end && ((*q >= 'a' && *q <= 'z') ||
	    (*q >= '0' && *q <= '9')); q++)
		;
	if ((n = (size_t)(q - b)) >= typelen)
		return 0;
	memcpy(type, b, n);
	type[n] = '\0';
	b = q;
	FAST_LIT("\",\"payload\":\"");
	/*
	 * The payload runs to the next quote.  Its alphabet is left to the
	 * base64 decoder: a payload it refuses (an escape, a stray byte)
	 * goes back to the full JSON parser, which has the last word.
	 */
	if ((q = memchr(b, '"', (size_t)(end - b))) == NULL)
		return 0;
	*pl = b;
	*pllen = (size_t)(q - b);
	b = q;
	FAST_LIT("\",\"error\":");
	if ((size_t)(end - b) >= 5 && memcmp(b, "true}", 5) == 0) {
		*error = 1;
		b += 5;
	} else if ((size_t)(end - b) >= 6 && memcmp(b, "false}", 6) == 0) {
		*error = 0;
		b += 6;
	} else
		return 0;
#undef FAST_LIT
	for (; b < end; b++)
		if (*b != ' ' && *b != '\t' && *b != '\r' && *b != '\n')
			return 0;
	return 1;
}

/*
 * The reply payload is well-formed ASCII JSON (the server's encoder), and
 * jansson costs ~110 instructions a byte on it: most of an assign reply is
 * the event text as one escaped string.  fbj_parse() (fbj.c) reads it in
 * one pass and gives up on anything it is not sure of: a byte outside
 * printable ASCII, \u0000 or a surrogate escape, a real, an integer beyond
 * int64, a duplicate key, nesting past maxdepth (64 when 0), any syntax
 * error; its tree then becomes the same jansson values, in the arena.
 * NULL means ask jansson, whose answer (value or error) is the only one
 * that counts, with or without JSON_REJECT_DUPLICATES (a duplicate
 * key always gives up here).  Top-level scalars are accepted as with
 * JSON_DECODE_ANY (a caller without it checks the type).  A value
 * returned has no NUL byte and no container below maxdepth.
 */
json_t *
colonies_fast_json(const char *s, size_t len, int maxdepth)
{
	struct fbj_doc	*d;
	json_t		*v;

	if ((d = fbj_parse(s, len, maxdepth)) == NULL)
		return NULL;
	arena_enter();
	v = fbj_to_json(fbj_root(d));
	arena_leave();
	fbj_free(d);
	return v;
}

enum col_err
colonies_decode_reply(long http_status, const char *body, size_t len,
    const char *payloadtype, json_t **payload, char *cause, size_t causelen)
{
	json_t		*env = NULL, *pt, *pl, *er, *value = NULL, *st, *msg;
	json_error_t	 jerr;
	unsigned char	*raw = NULL;
	size_t		 rawlen, b64len;
	enum col_err	 e = COL_PROTO;
	const char	*type, *b64;
	char		*p, typebuf[64];
	int		 iserror;
	json_int_t	 status;

	*payload = NULL;
	if (body == NULL || len == 0) {
		snprintf(cause, causelen, "colonies: HTTP %ld with an empty "
		    "reply", http_status);
		return COL_PROTO;
	}
	if (colonies_fast_envelope(body, len, typebuf, sizeof typebuf, &b64,
	    &b64len, &iserror) &&
	    (raw = crypto_base64_decode(b64, b64len, &rawlen)) != NULL) {
		type = typebuf;
		goto decoded;
	}
	if ((env = json_loadb(body, len, JSON_ALLOW_NUL, &jerr)) == NULL) {
		snprintf(cause, causelen, "colonies: HTTP %ld: reply is not a "
		    "JSON envelope: %s", http_status, jerr.text);
		goto out;
	}
	if (!json_is_object(env)) {
		snprintf(cause, causelen, "colonies: HTTP %ld: reply envelope "
		    "is not an object", http_status);
		goto out;
	}
	pt = json_object_get(env, "payloadtype");
	pl = json_object_get(env, "payload");
	er = json_object_get(env, "error");
	if (!json_is_string(pt) || !json_is_string(pl) || !json_is_boolean(er)) {
		snprintf(cause, causelen, "colonies: HTTP %ld: reply envelope "
		    "%s is missing or has the wrong type", http_status,
		    !json_is_string(pt) ? "payloadtype" :
		    !json_is_string(pl) ? "payload" : "error");
		goto out;
	}
	type = json_string_value(pt);
	if (strlen(type) != json_string_length(pt)) {
		snprintf(cause, causelen, "colonies: HTTP %ld: reply "
		    "payloadtype contains NUL", http_status);
		goto out;
	}
	b64 = json_string_value(pl);
	b64len = json_string_length(pl);
	iserror = json_is_true(er);

	if ((raw = crypto_base64_decode(b64, b64len, &rawlen)) == NULL) {
		snprintf(cause, causelen, "colonies: HTTP %ld: reply payload is "
		    "not base64", http_status);
		goto out;
	}
decoded:
	if ((value = colonies_fast_json((const char *)raw, rawlen, 0)) == NULL)
		value = json_loadb((const char *)raw, rawlen,
		    JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
	if (value == NULL) {
		snprintf(cause, causelen, "colonies: HTTP %ld: reply payload is "
		    "not JSON: %s", http_status, jerr.text);
		goto out;
	}

	if (iserror) {
		st = json_object_get(value, "status");
		msg = json_object_get(value, "message");
		if (strcmp(type, "error") != 0 || !json_is_object(value) ||
		    !json_is_integer(st) ||
		    (msg != NULL && !json_is_string(msg))) {
			snprintf(cause, causelen, "colonies: HTTP %ld: malformed "
			    "error reply", http_status);
			goto out;
		}
		status = json_integer_value(st);
		if (status != http_status) {
			snprintf(cause, causelen, "colonies: HTTP %ld but error "
			    "status %lld", http_status, (long long)status);
			goto out;
		}
		colonies_cause_msg(cause, causelen, http_status,
		    msg != NULL ? json_string_value(msg) : "");
		e = colonies_status_err(http_status);
		goto out;
	}
	if (http_status != 200) {
		snprintf(cause, causelen, "colonies: HTTP %ld without an error "
		    "flag", http_status);
		goto out;
	}
	if (strcmp(type, payloadtype) != 0) {
		snprintf(cause, causelen, "colonies: reply payloadtype "
		    "\"%.64s\", expected \"%s\"", type, payloadtype);
		goto out;
	}
	*payload = value;
	value = NULL;
	e = COL_OK;
out:
	/* Parser texts quote the reply: no control characters in logs. */
	for (p = cause; e != COL_OK && *p != '\0'; p++)
		if (iscntrl((unsigned char)*p))
			*p = '?';
	json_decref(value);
	json_decref(env);
	free(raw);
	return e;
}

/* Sign, send and decode; *reply (if not NULL) gets the payload. */
static enum col_err
colonies_send(struct colonies *c, const char *msgtype, const char *body,
    size_t len, long timeout_ms, json_t **reply, char *cause,
    size_t causelen)
{
	enum col_err	 e;
	long		 status;
	json_t		*value;

	if (reply != NULL)
		*reply = NULL;
	if (timeout_ms <= 0)
		timeout_ms = c->request_ms;
	e = colonies_post(c, body, len, timeout_ms, &status, cause, causelen);
	if (e != COL_OK)
		return e;
	e = colonies_decode_reply(status, c->buf, c->buflen, msgtype, &value,
	    cause, causelen);
	if (e != COL_OK)
		return e;
	if (reply != NULL)
		*reply = value;
	else
		json_decref(value);
	return COL_OK;
}

static enum col_err	colonies_call_text(struct colonies *, const char *,
			    char *, long, json_t **, char *, size_t);

enum col_err
colonies_call(struct colonies *c, const char *msgtype, json_t *payload,
    long timeout_ms, json_t **reply, char *cause, size_t causelen)
{
	char		*text;

	if (reply != NULL)
		*reply = NULL;
	if (!json_is_object(payload) ||
	    json_object_set_new(payload, "msgtype", json_string(msgtype)) ==
	    -1) {
		snprintf(cause, causelen, "colonies: %s: bad payload", msgtype);
		return COL_PROTO;
	}
	if ((text = colonies_payload_text(payload)) == NULL) {
		snprintf(cause, causelen, "colonies: %s: cannot encode payload",
		    msgtype);
		return COL_PROTO;
	}
	return colonies_call_text(c, msgtype, text, timeout_ms, reply, cause,
	    causelen);
}

/* Sign and send a payload text (consumed). */
static enum col_err
colonies_call_text(struct colonies *c, const char *msgtype, char *text,
    long timeout_ms, json_t **reply, char *cause, size_t causelen)
{
	char		*body;
	size_t		 len;
	enum col_err	 e;

	body = colonies_envelope(&c->key, msgtype, text, &len);
	free(text);
	if (body == NULL) {
		snprintf(cause, causelen, "colonies: %s: cannot sign payload",
		    msgtype);
		return COL_PROTO;
	}
	e = colonies_send(c, msgtype, body, len, timeout_ms, reply, cause,
	    causelen);
	free(body);
	return e;
}

/* colonies_call on a payload built here (consumed, may be NULL). */
static enum col_err
colonies_call_new(struct colonies *c, const char *msgtype, json_t *payload,
    json_t **reply, char *cause, size_t causelen)
{
	enum col_err	e;

	if (payload == NULL) {
		snprintf(cause, causelen, "colonies: %s: cannot build payload "
		    "(bad argument)", msgtype);
		return COL_PROTO;
	}
	e = colonies_call(c, msgtype, payload, 0, reply, cause, causelen);
	json_decref(payload);
	return e;
}

const char *
colonies_assign_envelope(struct colonies *c, const char *colony,
    int timeout, size_t *len)
{
	json_t	*p;
	char	*text;

	if (colony == NULL)
		return NULL;
	if (c->assign_body != NULL && c->assign_timeout == timeout &&
	    strcmp(c->assign_colony, colony) == 0)
		goto done;
	free(c->assign_body);
	free(c->assign_colony);
	c->assign_body = c->assign_colony = NULL;
	p = json_pack("{s:s, s:i, s:s, s:s, s:s}", "colonyname", colony,
	    "timeout", timeout, "availablecpu", "", "availablemem", "",
	    "msgtype", "assignprocessmsg");
	if (p == NULL)
		return NULL;
	text = colonies_payload_text(p);
	json_decref(p);
	if (text == NULL)
		return NULL;
	c->assign_body = colonies_envelope(&c->key, "assignprocessmsg", text,
	    &c->assign_len);
	free(text);
	if (c->assign_body == NULL)
		return NULL;
	if ((c->assign_colony = strdup(colony)) == NULL) {
		free(c->assign_body);
		c->assign_body = NULL;
		return NULL;
	}
	c->assign_timeout = timeout;
done:
	if (len != NULL)
		*len = c->assign_len;
	return c->assign_body;
}

enum col_err
colonies_assign(struct colonies *c, const char *colony, int timeout,
    struct col_process *proc, char *cause, size_t causelen)
{
	const char	*body;
	size_t		 len;
	long		 ms;
	json_t		*reply;
	enum col_err	 e;

	memset(proc, 0, sizeof *proc);
	if ((body = colonies_assign_envelope(c, colony, timeout, &len)) ==
	    NULL) {
		snprintf(cause, causelen, "colonies: assignprocessmsg: cannot "
		    "build request");
		return COL_PROTO;
	}
	/*
	 * The HTTP timeout always exceeds the long-poll: a client giving up
	 * just as the server hands out a process strands that process.
	 */
	if (timeout > 2000000)		/* fits a 32-bit long */
		ms = 2000000000L;
	else if (timeout > 0)
		ms = (long)timeout * 1000 + COLONIES_POLL_SLACK_MS;
	else
		ms = c->request_ms;
	e = colonies_send(c, "assignprocessmsg", body, len, ms, &reply, cause,
	    causelen);
	if (e == COL_NOTFOUND)
		return COL_NOWORK;
	if (e != COL_OK)
		return e;
	if (col_process_parse(reply, proc, cause, causelen) == -1)
		e = COL_PROTO;
	json_decref(reply);
	return e;
}

/*
 * A close the server refuses because the process is no longer ours
 * (expired and re-queued, failed, unknown, closed already): retrying
 * can never succeed.
 */
static enum col_err
colonies_close_err(enum col_err e, const char *cause)
{
	if ((e == COL_AUTH && (strstr(cause, "process is not assigned") !=
	    NULL || strstr(cause, "not allowed to close process") != NULL)) ||
	    (e == COL_BADREQ && strstr(cause, "Tried to set ") != NULL) ||
	    (e == COL_SERVER && strstr(cause, "process is nil") != NULL) ||
	    e == COL_NOTFOUND)
		return COL_LOST;
	return e;
}

/*
 * The closesuccessfulmsg payload text, byte for byte what json_pack and
 * colonies_payload_text make of it, without building and dumping an
 * object per task.  NULL (use the general path) unless the process id
 * needs no JSON escaping.
 */
static char *
colonies_close_text_raw(const char *processid, const char *o)
{
	static const char	 fmt[] = "{\"processid\":\"%s\",\"out\":%s,"
				    "\"msgtype\":\"closesuccessfulmsg\"}";
	const char		*s;
	char			*text;
	size_t			 n;

	if (processid == NULL)
		return NULL;
	for (s = processid; *s != '\0'; s++) {
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') ||
		    (*s >= 'A' && *s <= 'Z')))
			return NULL;
	}
	n = sizeof(fmt) + strlen(processid) + strlen(o);
	if ((text = malloc(n)) != NULL)
		snprintf(text, n, fmt, processid, o);
	return text;
}

static char *
colonies_close_text(const char *processid, json_t *out)
{
	char	*o, *text;

	if ((o = json_dumps(out, JSON_COMPACT | JSON_PRESERVE_ORDER)) == NULL)
		return NULL;
	text = colonies_close_text_raw(processid, o);
	free(o);
	return text;
}

/*
 * colonies_close_successful() with out already written as compact JSON
 * text (an array, as json_dumps(JSON_COMPACT | JSON_PRESERVE_ORDER)
 * writes it): no jansson object built and dumped per task.  The caller
 * vouches for the text; it is sent as given.
 */
enum col_err
colonies_close_successful_text(struct colonies *c, const char *processid,
    const char *outjson, char *cause, size_t causelen)
{
	json_t		*out;
	json_error_t	 jerr;
	char		*text;
	enum col_err	 e;

	if (outjson != NULL && outjson[0] == '[' &&
	    (text = colonies_close_text_raw(processid, outjson)) != NULL)
		return colonies_close_err(colonies_call_text(c,
		    "closesuccessfulmsg", text, 0, NULL, cause, causelen),
		    cause);
	/* An id that needs escaping, or no array: the general path. */
	if (outjson != NULL && (out = json_loads(outjson, 0, &jerr)) == NULL) {
		snprintf(cause, causelen, "colonies: closesuccessfulmsg: out "
		    "is not JSON: %s", jerr.text);
		return COL_PROTO;
	}
	e = colonies_close_successful(c, processid, outjson != NULL ? out :
	    NULL, cause, causelen);
	if (outjson != NULL)
		json_decref(out);
	return e;
}

enum col_err
colonies_close_successful(struct colonies *c, const char *processid,
    json_t *out, char *cause, size_t causelen)
{
	json_t	*p;
	char	*text;

	if (out != NULL && !json_is_array(out)) {
		snprintf(cause, causelen, "colonies: closesuccessfulmsg: out "
		    "is not an array");
		return COL_PROTO;
	}
	if (out != NULL && (text = colonies_close_text(processid, out)) != NULL)
		return colonies_close_err(colonies_call_text(c,
		    "closesuccessfulmsg", text, 0, NULL, cause, causelen),
		    cause);
	if (out != NULL)
		p = json_pack("{s:s, s:O}", "processid", processid, "out", out);
	else
		p = json_pack("{s:s, s:o}", "processid", processid, "out",
		    json_array());
	return colonies_close_err(colonies_call_new(c, "closesuccessfulmsg", p,
	    NULL, cause, causelen), cause);
}

enum col_err
colonies_close_failed(struct colonies *c, const char *processid,
    const char **errors, size_t nerrors, char *cause, size_t causelen)
{
	json_t	*p, *a;
	size_t	 i;

	if ((a = json_array()) == NULL)
		return COL_PROTO;
	for (i = 0; i < nerrors; i++) {
		if (json_array_append_new(a, json_string(errors[i])) == -1) {
			json_decref(a);
			snprintf(cause, causelen, "colonies: closefailedmsg: "
			    "error %zu is not UTF-8", i);
			return COL_PROTO;
		}
	}
	p = json_pack("{s:s, s:o}", "processid", processid, "errors", a);
	return colonies_close_err(colonies_call_new(c, "closefailedmsg", p,
	    NULL, cause, causelen), cause);
}

enum col_err
colonies_get_process(struct colonies *c, const char *processid,
    struct col_process *proc, char *cause, size_t causelen)
{
	json_t		*reply;
	enum col_err	 e;

	memset(proc, 0, sizeof *proc);
	e = colonies_call_new(c, "getprocessmsg", json_pack("{s:s}",
	    "processid", processid), &reply, cause, causelen);
	if (e != COL_OK)
		return e;
	if (col_process_parse(reply, proc, cause, causelen) == -1)
		e = COL_PROTO;
	json_decref(reply);
	return e;
}

enum col_err
colonies_add_log(struct colonies *c, const char *processid,
    const char *message, char *cause, size_t causelen)
{
	return colonies_call_new(c, "addlogmsg", json_pack("{s:s, s:s}",
	    "processid", processid, "message", message), NULL, cause,
	    causelen);
}

enum col_err
colonies_add_colony(struct colonies *c, const char *colonyid,
    const char *name, char *cause, size_t causelen)
{
	return colonies_call_new(c, "addcolonymsg",
	    json_pack("{s:{s:s, s:s}}", "colony", "colonyid", colonyid,
	    "name", name), NULL, cause, causelen);
}

enum col_err
colonies_add_executor(struct colonies *c, const char *colony,
    const char *executorid, const char *type, const char *name, char *cause,
    size_t causelen)
{
	return colonies_call_new(c, "addexecutormsg",
	    json_pack("{s:{s:s, s:s, s:s, s:s}}", "executor",
	    "executorid", executorid, "executortype", type,
	    "executorname", name, "colonyname", colony), NULL, cause,
	    causelen);
}

enum col_err
colonies_approve_executor(struct colonies *c, const char *colony,
    const char *name, char *cause, size_t causelen)
{
	return colonies_call_new(c, "approveexecutormsg",
	    json_pack("{s:s, s:s}", "colonyname", colony, "executorname",
	    name), NULL, cause, causelen);
}

enum col_err
colonies_get_executor(struct colonies *c, const char *colony,
    const char *name, json_t **executor, char *cause, size_t causelen)
{
	enum col_err	e;

	e = colonies_call_new(c, "getexecutormsg", json_pack("{s:s, s:s}",
	    "colonyname", colony, "executorname", name), executor, cause,
	    causelen);
	if (e == COL_OK && !json_is_object(*executor)) {
		json_decref(*executor);
		*executor = NULL;
		snprintf(cause, causelen, "colonies: getexecutormsg: reply is "
		    "not an object");
		return COL_PROTO;
	}
	return e;
}

enum col_err
colonies_add_function(struct colonies *c, const char *colony,
    const char *executorname, const char *executortype, const char *funcname,
    char *cause, size_t causelen)
{
	return colonies_call_new(c, "addfunctionmsg",
	    json_pack("{s:{s:s, s:s, s:s, s:s}}", "fun",
	    "executorname", executorname, "executortype", executortype,
	    "colonyname", colony, "funcname", funcname), NULL, cause,
	    causelen);
}

enum col_err
colonies_submit(struct colonies *c, json_t *spec, struct col_process *proc,
    char *cause, size_t causelen)
{
	json_t		*reply;
	enum col_err	 e;

	memset(proc, 0, sizeof *proc);
	if (!json_is_object(spec)) {
		snprintf(cause, causelen, "colonies: submitfuncspecmsg: spec is "
		    "not an object");
		return COL_PROTO;
	}
	e = colonies_call_new(c, "submitfuncspecmsg", json_pack("{s:O}",
	    "spec", spec), &reply, cause, causelen);
	if (e != COL_OK)
		return e;
	if (col_process_parse(reply, proc, cause, causelen) == -1)
		e = COL_PROTO;
	json_decref(reply);
	return e;
}

/* --- the Process object ------------------------------------------------ */

static int
colonies_get_int(json_t *o, const char *key, const char *what, int *out,
    char *cause, size_t causelen)
{
	json_t		*v = json_object_get(o, key);
	json_int_t	 i;

	*out = 0;
	if (v == NULL)
		return 0;
	if (!json_is_integer(v) || (i = json_integer_value(v)) < INT_MIN ||
	    i > INT_MAX) {
		snprintf(cause, causelen, "process: %s%s is not an int", what,
		    key);
		return -1;
	}
	*out = (int)i;
	return 0;
}

/* A string without NUL, copied; absent is "". */
static int
colonies_get_str(json_t *o, const char *key, const char *what, char **out,
    char *cause, size_t causelen)
{
	json_t		*v = json_object_get(o, key);
	const char	*s = "";

	if (v != NULL) {
		if (!json_is_string(v) ||
		    strlen(json_string_value(v)) != json_string_length(v)) {
			snprintf(cause, causelen, "process: %s%s is not a "
			    "string", what, key);
			return -1;
		}
		s = json_string_value(v);
	}
	if ((*out = strdup(s)) == NULL) {
		snprintf(cause, causelen, "process: out of memory");
		return -1;
	}
	return 0;
}

/* An id: "" or up to 64 hex characters. */
static int
colonies_get_id(json_t *o, const char *key, int required, char *out,
    char *cause, size_t causelen)
{
	json_t		*v = json_object_get(o, key);
	const char	*s;
	size_t		 len, i;

	out[0] = '\0';
	if (v == NULL && !required)
		return 0;
	if (!json_is_string(v))
		goto bad;
	s = json_string_value(v);
	len = json_string_length(v);
	if (len > CRYPTO_ID_HEXLEN || (required && len != CRYPTO_ID_HEXLEN))
		goto bad;
	for (i = 0; i < len; i++)
		if (!isxdigit((unsigned char)s[i]))
			goto bad;
	memcpy(out, s, len + 1);
	return 0;
bad:
	snprintf(cause, causelen, "process: %s is not a %sid", key,
	    required ? "64 hex character " : "");
	return -1;
}

/* Array (or null/absent = empty array) / object (or null = {}). */
static int
colonies_get_json(json_t *o, const char *key, const char *what, int isobj,
    json_t **out, char *cause, size_t causelen)
{
	json_t	*v = json_object_get(o, key);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		*out = isobj ? json_object() : json_array();
	else if (isobj ? json_is_object(v) : json_is_array(v))
		*out = json_incref(v);
	else {
		snprintf(cause, causelen, "process: %s%s is not an %s", what,
		    key, isobj ? "object" : "array");
		return -1;
	}
	if (*out == NULL) {
		snprintf(cause, causelen, "process: out of memory");
		return -1;
	}
	return 0;
}

/*
 * Parse a whole Process.  On failure proc is freed and zeroed except
 * proc->processid, which stays set if it was valid: the caller can still
 * close such a process failed instead of leaving it to expire.
 */
int
col_process_parse(json_t *j, struct col_process *proc, char *cause,
    size_t causelen)
{
	json_t	*spec, *cond, *v;
	char	 pid[CRYPTO_ID_HEXLEN + 1];

	memset(proc, 0, sizeof *proc);
	if (!json_is_object(j)) {
		snprintf(cause, causelen, "process: not an object");
		return -1;
	}
	if (colonies_get_id(j, "processid", 1, proc->processid, cause,
	    causelen) == -1)
		return -1;
	if (colonies_get_id(j, "assignedexecutorid", 0,
	    proc->assignedexecutorid, cause, causelen) == -1 ||
	    colonies_get_id(j, "initiatorid", 0, proc->initiatorid, cause,
	    causelen) == -1 ||
	    colonies_get_int(j, "state", "", &proc->state, cause,
	    causelen) == -1 ||
	    colonies_get_int(j, "retries", "", &proc->retries, cause,
	    causelen) == -1)
		goto fail;
	v = json_object_get(j, "isassigned");
	if (v != NULL && !json_is_boolean(v)) {
		snprintf(cause, causelen, "process: isassigned is not a bool");
		goto fail;
	}
	proc->isassigned = json_is_true(v);
	v = json_object_get(j, "prioritytime");
	if (v != NULL && !json_is_integer(v)) {
		snprintf(cause, causelen, "process: prioritytime is not an "
		    "integer");
		goto fail;
	}
	proc->prioritytime = v != NULL ? (int64_t)json_integer_value(v) : 0;
	if (colonies_get_str(j, "submissiontime", "", &proc->submissiontime,
	    cause, causelen) == -1 ||
	    colonies_get_str(j, "starttime", "", &proc->starttime, cause,
	    causelen) == -1 ||
	    colonies_get_str(j, "execdeadline", "", &proc->execdeadline, cause,
	    causelen) == -1 ||
	    colonies_get_json(j, "out", "", 0, &proc->out, cause,
	    causelen) == -1 ||
	    colonies_get_json(j, "errors", "", 0, &proc->errors, cause,
	    causelen) == -1)
		goto fail;

	spec = json_object_get(j, "spec");
	if (!json_is_object(spec)) {
		snprintf(cause, causelen, "process: spec is %s",
		    spec == NULL ? "missing" : "not an object");
		goto fail;
	}
	if (colonies_get_str(spec, "funcname", "spec.", &proc->funcname, cause,
	    causelen) == -1 ||
	    colonies_get_json(spec, "args", "spec.", 0, &proc->args, cause,
	    causelen) == -1 ||
	    colonies_get_json(spec, "kwargs", "spec.", 1, &proc->kwargs, cause,
	    causelen) == -1 ||
	    colonies_get_int(spec, "priority", "spec.", &proc->priority, cause,
	    causelen) == -1 ||
	    colonies_get_int(spec, "maxwaittime", "spec.", &proc->maxwaittime,
	    cause, causelen) == -1 ||
	    colonies_get_int(spec, "maxexectime", "spec.", &proc->maxexectime,
	    cause, causelen) == -1 ||
	    colonies_get_int(spec, "maxretries", "spec.", &proc->maxretries,
	    cause, causelen) == -1)
		goto fail;
	cond = json_object_get(spec, "conditions");
	if (cond != NULL && !json_is_object(cond)) {
		snprintf(cause, causelen, "process: spec.conditions is not an "
		    "object");
		goto fail;
	}
	if (colonies_get_str(cond, "executortype", "spec.conditions.",
	    &proc->executortype, cause, causelen) == -1)
		goto fail;
	v = cond != NULL ? json_object_get(cond, "executornames") : NULL;
	if (v != NULL && !json_is_null(v) && !json_is_array(v)) {
		snprintf(cause, causelen, "process: spec.conditions."
		    "executornames is not an array");
		goto fail;
	}
	proc->raw = json_incref(j);
	return 0;

fail:
	memcpy(pid, proc->processid, sizeof pid);
	col_process_free(proc);
	memcpy(proc->processid, pid, sizeof pid);
	return -1;
}

void
col_process_free(struct col_process *proc)
{
	free(proc->funcname);
	free(proc->executortype);
	free(proc->submissiontime);
	free(proc->starttime);
	free(proc->execdeadline);
	json_decref(proc->args);
	json_decref(proc->kwargs);
	json_decref(proc->out);
	json_decref(proc->errors);
	json_decref(proc->raw);
	memset(proc, 0, sizeof *proc);
}
