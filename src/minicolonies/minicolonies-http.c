/*
 * minicolonies-http.c: the HTTP side.  POST /api takes the RPC envelope
 * as the real server's gin handler does (Go's JSON errors, the unsigned
 * versionmsg and getserverinfomsg, then the signature: recovered signer
 * ids are cached by payload and signature, since an executor's assign
 * envelope never changes) and hands it to the RPC table; GET /health
 * answers empty.  minicolonies-only extras (not ColonyOS): GET /dump
 * (every process, one JSON object per line) and GET /stats (counts by
 * state), both unauthenticated: this is a loopback test server.
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "colonies.h"
#include "minicolonies.h"

#define MC_CACHE_SLOTS		65536

/*
 * One cached signature recovery, keyed by the payload and signature text
 * themselves: comparing them is far cheaper than the SHA3 of the payload
 * that used to be the key (recovery hashes it again on a miss anyway).
 */
struct mc_cslot {
	char		*payload;
	size_t		 plen;
	uint64_t	 h;
	char		 sig[CRYPTO_SIG_HEXLEN];
	char		 id[CRYPTO_ID_HEXLEN + 1];
	int		 used;
};

static struct mc_cslot	*mc_cache;
static uint64_t		 mc_cache_hits, mc_cache_misses;

void
mc_send(struct evhttp_request *req, int status, const char *payloadtype,
    const char *json, size_t jsonlen)
{
	struct evbuffer	*buf;
	struct sb	 b = { NULL, 0, 0 };
	char		*b64;
	size_t		 b64len;

	if ((b64 = crypto_base64_encode(json, jsonlen, &b64len)) == NULL)
		fatalx("base64 encode");
	sb_grow(&b, b64len + 96);
	sb_adds(&b, "{\"payloadtype\":");
	sb_gostr(&b, payloadtype, strlen(payloadtype));
	sb_adds(&b, ",\"payload\":\"");
	sb_add(&b, b64, b64len);
	sb_adds(&b, status == 200 ? "\",\"error\":false}" :
	    "\",\"error\":true}");
	free(b64);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "text/plain; charset=utf-8");
	if ((buf = evbuffer_new()) == NULL)
		fatal("evbuffer_new");
	evbuffer_add(buf, b.s, b.len);
	sb_free(&b);
	evhttp_send_reply(req, status, NULL, buf);
	evbuffer_free(buf);
}

void
mc_error(struct evhttp_request *req, int status, const char *fmt, ...)
{
	struct sb	 b = { NULL, 0, 0 };
	char		*msg;
	va_list		 ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) == -1)
		fatal("vasprintf");
	va_end(ap);
	if (mc_verbose)
		log_info("reply %d: %s", status, msg);
	sb_printf(&b, "{\"status\":%d,\"message\":", status);
	sb_gostr(&b, msg, strlen(msg));
	sb_addc(&b, '}');
	mc_send(req, status, "error", b.s, b.len);
	sb_free(&b);
	free(msg);
}

/* What gin's recovery middleware sends when a Go handler panics. */
void
mc_panic(struct evhttp_request *req)
{
	if (mc_verbose)
		log_info("reply 500: (nil message: the real server panics)");
	evhttp_send_reply(req, 500, "Internal Server Error", NULL);
}

void
mc_reply_sb(struct mc_req *r, struct sb *b)
{
	mc_send(r->req, 200, r->payloadtype, b->s, b->len);
}

void
mc_reply_empty(struct mc_req *r)
{
	mc_send(r->req, 200, r->payloadtype, "{}", 2);
}

/* A gin handler that returns without writing: 200, empty body. */
void
mc_reply_nothing(struct mc_req *r)
{
	if (mc_verbose)
		log_info("reply 200: (nothing: the real handler writes none)");
	evhttp_send_reply(r->req, 200, "OK", NULL);
}

/* A quick 64-bit hash for the signature cache (not for hmap: FNV there). */
static uint64_t
mc_cache_hash(const char *k, size_t n, uint64_t h)
{
	uint64_t	w;

	for (; n >= 8; k += 8, n -= 8) {
		memcpy(&w, k, 8);
		h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
		h ^= h >> 29;
	}
	for (; n > 0; k++, n--)
		h = (h ^ (unsigned char)*k) * 0x100000001b3ULL;
	return h ^ (h >> 32);
}

static int
mc_recover(const char *payload, size_t plen, const char *sig, size_t siglen,
    char *id, char *cause, size_t causelen)
{
	unsigned char	 raw[65];
	struct mc_cslot	*s;
	uint64_t	 h;

	if (mc_cache == NULL)
		mc_cache = mc_calloc(MC_CACHE_SLOTS, sizeof(*mc_cache));
	if (siglen != CRYPTO_SIG_HEXLEN)
		return crypto_recover_id(payload, plen, sig, siglen, id, cause,
		    causelen);
	h = mc_cache_hash(payload, plen, mc_cache_hash(sig, siglen, plen));
	s = &mc_cache[h & (MC_CACHE_SLOTS - 1)];
	if (s->used && s->h == h && s->plen == plen &&
	    memcmp(s->sig, sig, siglen) == 0 &&
	    memcmp(s->payload, payload, plen) == 0) {
		mc_cache_hits++;
		memcpy(id, s->id, CRYPTO_ID_HEXLEN + 1);
		return 0;
	}
	if (crypto_unhex(sig, siglen, raw, sizeof(raw)) != 65)
		return crypto_recover_id(payload, plen, sig, siglen, id, cause,
		    causelen);
	mc_cache_misses++;
	if (crypto_recover_id(payload, plen, sig, siglen, id, cause,
	    causelen) == -1)
		return -1;
	free(s->payload);
	if ((s->payload = malloc(plen + 1)) == NULL)
		fatal("malloc");
	memcpy(s->payload, payload, plen);
	s->plen = plen;
	s->h = h;
	memcpy(s->sig, sig, siglen);
	memcpy(s->id, id, CRYPTO_ID_HEXLEN + 1);
	s->used = 1;
	return 0;
}

/* The envelope field, or NULL; -1 if present with the wrong type. */
static int
mc_env_field(json_t *env, const char *name, const char *gotype,
    json_t **out, char *err, size_t errlen)
{
	json_t		*v = mc_get(env, name);
	const char	*kind;
	int		 wantbool = strcmp(gotype, "bool") == 0;

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if ((!wantbool && json_is_string(v)) || (wantbool &&
	    json_is_boolean(v))) {
		*out = v;
		return 0;
	}
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		kind = "object";
		break;
	case JSON_ARRAY:
		kind = "array";
		break;
	case JSON_STRING:
		kind = "string";
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		kind = "bool";
		break;
	default:
		kind = "number";
		break;
	}
	snprintf(err, errlen, "json: cannot unmarshal %s into Go struct field "
	    "RPCMsg.%s of type %s", kind, name, gotype);
	return -1;
}

/*
 * The envelope as our clients send it: {"k":"v","k":"v","k":"v"} with
 * exactly signature, payloadtype and payload, once each, the values plain
 * printable ASCII.  Scanning that by hand saves jansson's per-character
 * lexing of the long base64 payload, the largest user-space cost of a
 * request after the signature recovery.  Anything else (whitespace,
 * escapes, other or repeated keys, non-string values) returns -1 and takes
 * the general path, so no reply can differ.  On success the three values
 * are NUL-terminated in place.
 */
static int
mc_env_fast(char *body, size_t len, const char **v, size_t *vlen)
{
	static const char *const keys[3] = { "payloadtype", "payload",
	    "signature" };
	size_t	 i = 1, ks, vs, end[3], k, j;
	int	 seen = 0;

	if (len < 2 || body[0] != '{' || body[len - 1] != '}')
		return -1;
	len--;		/* the final '}' */
	for (k = 0; k < 3; k++) {
		if (k > 0 && (i >= len || body[i++] != ','))
			return -1;
		if (i >= len || body[i++] != '"')
			return -1;
		for (ks = i; i < len && body[i] >= 'a' && body[i] <= 'z'; i++)
			;
		for (j = 0; j < 3; j++)
			if (strlen(keys[j]) == i - ks &&
			    memcmp(keys[j], body + ks, i - ks) == 0)
				break;
		if (j == 3 || (seen & (1 << j)))
			return -1;
		seen |= 1 << j;
		if (i + 2 >= len || body[i] != '"' || body[i + 1] != ':' ||
		    body[i + 2] != '"')
			return -1;
		for (i += 3, vs = i; i < len && body[i] != '"'; i++)
			if ((unsigned char)body[i] < 0x20 ||
			    (unsigned char)body[i] > 0x7e || body[i] == '\\')
				return -1;
		if (i >= len)
			return -1;
		v[j] = body + vs;
		vlen[j] = i - vs;
		end[j] = i++;
	}
	if (i != len)
		return -1;
	for (j = 0; j < 3; j++)
		body[end[j]] = '\0';
	return 0;
}

static void
mc_api(struct evhttp_request *req)
{
	struct evbuffer		*in = evhttp_request_get_input_buffer(req);
	size_t			 len = evbuffer_get_length(in);
	const char		*body, *payloadtype, *payload, *sig;
	json_t			*env = NULL, *jpt, *jp, *js, *jerr;
	json_error_t		 jerror;
	char			 err[512], *mbody;
	struct mc_req		 r;
	const struct mc_handler	*h;
	size_t			 plen, siglen, fl[3];
	const char		*fv[3];

	mbody = (char *)evbuffer_pullup(in, -1);
	if (mbody != NULL && mc_env_fast(mbody, len, fv, fl) == 0) {
		payloadtype = fv[0];
		payload = fv[1];
		plen = fl[1];
		sig = fv[2];
		siglen = fl[2];
		goto envelope;
	}
	body = mbody != NULL ? mbody : "";
	if (mc_go_syntax(body, len, err, sizeof(err)) == -1) {
		mc_error(req, 400, "%s", err);
		return;
	}
	env = json_loadb(body, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerror);
	if (env == NULL) {
		/* Valid for Go but not for jansson: invalid UTF-8. */
		mc_error(req, 400, "invalid character in string literal");
		return;
	}
	if (json_is_null(env)) {
		json_decref(env);
		mc_panic(req);
		return;
	}
	if (!json_is_object(env)) {
		mc_error(req, 400, "json: cannot unmarshal %s into Go value of "
		    "type rpc.RPCMsg", json_is_array(env) ? "array" :
		    json_is_string(env) ? "string" : json_is_boolean(env) ?
		    "bool" : "number");
		json_decref(env);
		return;
	}
	if (mc_env_field(env, "signature", "string", &js, err,
	    sizeof(err)) == -1 ||
	    mc_env_field(env, "payloadtype", "string", &jpt, err,
	    sizeof(err)) == -1 ||
	    mc_env_field(env, "payload", "string", &jp, err,
	    sizeof(err)) == -1 ||
	    mc_env_field(env, "error", "bool", &jerr, err, sizeof(err)) == -1) {
		mc_error(req, 400, "%s", err);
		json_decref(env);
		return;
	}
	payloadtype = jpt != NULL ? json_string_value(jpt) : "";
	payload = jp != NULL ? json_string_value(jp) : "";
	sig = js != NULL ? json_string_value(js) : "";
	plen = jp != NULL ? json_string_length(jp) : 0;
	siglen = js != NULL ? json_string_length(js) : 0;
envelope:
	memset(&r, 0, sizeof(r));
	r.req = req;
	r.payloadtype = payloadtype;
	/* Both are answered before the signature is looked at. */
	if ((h = mc_rpc_unsigned(payloadtype)) != NULL) {
		mc_rpc_call(h, &r, payload, plen);
		json_decref(env);
		return;
	}
	if (strcmp(payloadtype, "getserverinfomsg") == 0) {
		mc_serverinfo(req);
		json_decref(env);
		return;
	}
	if (mc_recover(payload, plen, sig, siglen, r.id, err,
	    sizeof(err)) == -1) {
		mc_error(req, 403, "%s", err);
		json_decref(env);
		return;
	}
	if ((h = mc_rpc_find(payloadtype)) == NULL) {
		if (*payloadtype == '\0')
			mc_error(req, 403, "invalid rpcMsg.PayloadType: empty "
			    "(this usually means the client is misconfigured - "
			    "check that COLONIES_PRVKEY and other environment "
			    "variables are set correctly)");
		else
			mc_error(req, 403, "invalid rpcMsg.PayloadType: %s",
			    payloadtype);
		json_decref(env);
		return;
	}
	mc_rpc_call(h, &r, payload, plen);
	json_decref(env);
}

/* --- minicolonies-only endpoints ---------------------------------------- */

/* The value of a query parameter, or NULL. */
static char *
mc_query(struct evhttp_request *req, const char *name)
{
	const struct evhttp_uri	*u = evhttp_request_get_evhttp_uri(req);
	struct evkeyvalq	 q;
	const char		*qs, *v;
	char			*r = NULL;

	if (u == NULL || (qs = evhttp_uri_get_query(u)) == NULL)
		return NULL;
	TAILQ_INIT(&q);
	if (evhttp_parse_query_str(qs, &q) == 0 &&
	    (v = evhttp_find_header(&q, name)) != NULL && *v != '\0')
		r = mc_strdup(v);
	evhttp_clear_headers(&q);
	return r;
}

/* What a test compares with its database: one compact line a process. */
static void
mc_dump_summary(struct sb *b, struct mc_process *p)
{
	json_t		*o, *a0, *ev, *id;
	json_error_t	 e;
	unsigned char	 d[32];
	char		 hex[65], t[3][40];
	char		*line;

	mc_fmt_time(p->submit_us, t[0], sizeof(t[0]));
	mc_fmt_time(p->start_us, t[1], sizeof(t[1]));
	mc_fmt_time(p->end_us, t[2], sizeof(t[2]));
	o = json_pack("{s:s, s:i, s:i, s:s, s:b, s:s, s:s, s:s, s:I, s:s, "
	    "s:s, s:s}", "processid", p->id, "state", p->state, "retries",
	    p->retries, "assignedexecutorid", p->assigned, "isassigned",
	    p->isassigned, "funcname", p->funcname ? p->funcname : "",
	    "executortype", p->type ? p->type : "", "initiatorname",
	    p->initiatorname, "prioritytime", (json_int_t)p->prioritytime,
	    "submissiontime", t[0], "starttime", t[1], "endtime", t[2]);
	if (o == NULL)
		return;
	a0 = p->args != NULL ? json_array_get(p->args, 0) : NULL;
	if (a0 != NULL && json_is_string(a0)) {
		crypto_sha3_256(json_string_value(a0), json_string_length(a0),
		    d);
		crypto_hex(d, sizeof(d), hex);
		json_object_set_new(o, "args0_sha3", json_string(hex));
		ev = json_loadb(json_string_value(a0), json_string_length(a0),
		    0, &e);
		if (ev != NULL && (id = json_object_get(ev, "id")) != NULL &&
		    json_is_string(id))
			json_object_set(o, "event_id", id);
		json_decref(ev);
	}
	json_object_set(o, "errors", p->errors ? p->errors : json_array());
	if (p->errors == NULL)
		json_decref(json_object_get(o, "errors"));
	json_object_set(o, "out", p->out ? p->out : json_array());
	if (p->out == NULL)
		json_decref(json_object_get(o, "out"));
	line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER |
	    JSON_REAL_PRECISION(17));
	json_decref(o);
	if (line != NULL) {
		sb_adds(b, line);
		sb_addc(b, '\n');
		free(line);
	}
}

static void
mc_dump(struct evhttp_request *req)
{
	struct mc_process	*p;
	struct evbuffer		*buf;
	struct sb		 b = { NULL, 0, 0 }, line = { NULL, 0, 0 };
	char			*colony = mc_query(req, "colony");
	char			*full = mc_query(req, "full");

	if ((buf = evbuffer_new()) == NULL)
		fatal("evbuffer_new");
	TAILQ_FOREACH(p, &mc_processes, all) {
		if (colony != NULL && strcmp(p->colony, colony) != 0)
			continue;
		b.len = 0;
		if (full == NULL) {
			mc_dump_summary(&b, p);
			evbuffer_add(buf, b.s, b.len);
			continue;
		}
		/* The Process as the API sends it, on one line. */
		mc_proc_json(&b, p, 0);
		{
			size_t	i;

			line.len = 0;
			sb_grow(&line, b.len);
			for (i = 0; i < b.len; i++) {
				if (b.s[i] == '\n') {
					while (i + 1 < b.len && b.s[i + 1] ==
					    ' ')
						i++;
					continue;
				}
				sb_addc(&line, b.s[i]);
			}
			sb_addc(&line, '\n');
			evbuffer_add(buf, line.s, line.len);
		}
	}
	sb_free(&b);
	sb_free(&line);
	free(colony);
	free(full);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "application/x-ndjson");
	evhttp_send_reply(req, 200, "OK", buf);
	evbuffer_free(buf);
}

static void
mc_stats(struct evhttp_request *req)
{
	struct evbuffer		*buf;
	struct mc_executor	*ex;
	struct mc_process	*p;
	uint64_t		 n[5];
	size_t			 nex = 0;
	char			*colony = mc_query(req, "colony");

	TAILQ_FOREACH(ex, &mc_executors, entry)
		nex++;
	if (colony == NULL)
		memcpy(n, mc_nstate, sizeof(n));
	else {
		memset(n, 0, sizeof(n));
		TAILQ_FOREACH(p, &mc_processes, all)
			if (strcmp(p->colony, colony) == 0)
				n[p->state]++;
	}
	free(colony);
	if ((buf = evbuffer_new()) == NULL)
		fatal("evbuffer_new");
	evbuffer_add_printf(buf, "{\"waiting\":%llu,\"running\":%llu,"
	    "\"successful\":%llu,\"failed\":%llu,\"cancelled\":%llu,"
	    "\"executors\":%zu,\"pollers\":%llu,\"sigcache_hits\":%llu,"
	    "\"sigcache_misses\":%llu}\n",
	    (unsigned long long)n[0], (unsigned long long)n[1],
	    (unsigned long long)n[2], (unsigned long long)n[3],
	    (unsigned long long)n[4], nex, (unsigned long long)mc_npollers,
	    (unsigned long long)mc_cache_hits,
	    (unsigned long long)mc_cache_misses);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "application/json");
	evhttp_send_reply(req, 200, "OK", buf);
	evbuffer_free(buf);
}

void
mc_http_cb(struct evhttp_request *req, void *arg)
{
	const char	*uri = evhttp_request_get_uri(req);
	size_t		 plen = strcspn(uri, "?#");
	int		 method = evhttp_request_get_command(req);
	struct evbuffer	*buf;

	if (plen == 4 && strncmp(uri, "/api", 4) == 0 &&
	    method == EVHTTP_REQ_POST) {
		mc_api(req);
		return;
	}
	if (plen == 7 && strncmp(uri, "/health", 7) == 0 &&
	    method == EVHTTP_REQ_GET) {
		/* gin's c.String(200, ""). */
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Content-Type", "text/plain; charset=utf-8");
		evhttp_send_reply(req, 200, "OK", NULL);
		return;
	}
	if (plen == 5 && strncmp(uri, "/dump", 5) == 0 &&
	    method == EVHTTP_REQ_GET) {
		mc_dump(req);
		return;
	}
	if (plen == 6 && strncmp(uri, "/stats", 6) == 0 &&
	    method == EVHTTP_REQ_GET) {
		mc_stats(req);
		return;
	}
	/* What gin answers for an unknown route. */
	if ((buf = evbuffer_new()) == NULL)
		fatal("evbuffer_new");
	evbuffer_add_printf(buf, "404 page not found");
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "text/plain");
	evhttp_send_reply(req, 404, "Not Found", buf);
	evbuffer_free(buf);
}
