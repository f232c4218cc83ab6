/*
 * test-colonies-decode: colonies_decode_reply() and col_process_parse()
 * on real replies from the protocol doc, then on thousands of mutations
 * (fixed seed): every input must give a code and a cause, never a crash
 * (the ASan build checks the memory side).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colonies.h"
#include "tap.h"


/* The real assign reply payload of the protocol doc, section 7. */
static const char real_process[] =
	"{\n"
	"  \"processid\": \"654c1973b058776c810ee8c6c342ccbad18092183aa8513d720020e67d32e83a\",\n"
	"  \"initiatorid\": \"39c9976c8e5d738447fbfd31da82e85b904177a2cc6893be8789b23e1ec60059\",\n"
	"  \"initiatorname\": \"submitter\",\n"
	"  \"assignedexecutorid\": \"6d1b0299f4650cedde5017db9efaa604de225f8bc1659e3b9a9f59e8d84ffd8b\",\n"
	"  \"isassigned\": true,\n"
	"  \"state\": 1,\n"
	"  \"prioritytime\": 1795596187052970772,\n"
	"  \"submissiontime\": \"2026-11-25T08:43:07.052971Z\",\n"
	"  \"starttime\": \"2026-11-25T08:43:07.168305Z\",\n"
	"  \"endtime\": \"0001-01-01T00:00:00Z\",\n"
	"  \"waitdeadline\": \"0001-01-01T00:00:00Z\",\n"
	"  \"execdeadline\": \"2026-11-25T08:43:37.168305Z\",\n"
	"  \"retries\": 0,\n"
	"  \"attributes\": [],\n"
	"  \"spec\": {\n"
	"    \"nodename\": \"\",\n"
	"    \"funcname\": \"validate_revenue\",\n"
	"    \"args\": [\"{\\\"id\\\":\\\"evt_1\\\",\\\"type\\\":\\\"invoice.paid\\\"}\"],\n"
	"    \"kwargs\": {\"source\": \"stripe\"},\n"
	"    \"priority\": 0,\n"
	"    \"maxwaittime\": 0,\n"
	"    \"maxexectime\": 30,\n"
	"    \"maxretries\": 3,\n"
	"    \"conditions\": {\n"
	"      \"colonyname\": \"financebee\", \"executornames\": null, \"executortype\": \"financebee\",\n"
	"      \"dependencies\": [], \"nodes\": 0, \"cpu\": \"0m\", \"processes\": 0, \"processespernode\": 0,\n"
	"      \"mem\": \"0Mi\", \"storage\": \"0Mi\",\n"
	"      \"gpu\": {\"name\": \"\", \"mem\": \"0Mi\", \"count\": 0, \"nodecount\": 0},\n"
	"      \"walltime\": 0\n"
	"    },\n"
	"    \"label\": \"\",\n"
	"    \"fs\": {\"mount\": \"\", \"snapshots\": null, \"dirs\": null},\n"
	"    \"env\": {}\n"
	"  },\n"
	"  \"waitforparents\": false,\n"
	"  \"parents\": [],\n"
	"  \"children\": [],\n"
	"  \"processgraphid\": \"\",\n"
	"  \"in\": [],\n"
	"  \"out\": [],\n"
	"  \"errors\": []\n"
	"}\n";

static uint32_t	rnd_state = 20261125;

static uint32_t
rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 17;
	rnd_state ^= rnd_state << 5;
	return rnd_state;
}

/* A reply envelope around payload text, as the server writes it. */
static char *
envelope(const char *type, const char *payload, size_t len, int error)
{
	char	*b64, *out;
	size_t	 n;

	b64 = crypto_base64_encode(payload, len, &n);
	n += strlen(type) + 64;
	out = malloc(n);
	snprintf(out, n, "{\"payloadtype\":\"%s\",\"payload\":\"%s\","
	    "\"error\":%s}", type, b64, error ? "true" : "false");
	free(b64);
	return out;
}

static char *
error_envelope(int status, const char *message)
{
	char	buf[1024];

	snprintf(buf, sizeof buf, "{\"status\":%d,\"message\":\"%s\"}",
	    status, message);
	return envelope("error", buf, strlen(buf), 1);
}

struct outcome {
	enum col_err	 e;
	json_t		*v;
	char		 cause[FB_CAUSE_MAX];
};

static void
decode(long status, const char *body, size_t len, const char *type,
    struct outcome *o)
{
	o->cause[0] = '\0';
	o->v = (json_t *)1;
	o->e = colonies_decode_reply(status, body, len, type, &o->v, o->cause,
	    sizeof o->cause);
}

static void
test_envelopes(void)
{
	struct outcome	 o;
	char		*env;
	const char	*s;
	size_t		 i;
	struct {
		int		 status;
		const char	*msg;
		enum col_err	 e;
		const char	*cause;
	} errs[] = {
		{ 404, "No process available for assignment", COL_NOTFOUND,
		  "colonies: 404 No process available for assignment" },
		{ 403, "Access denied, not a member of Colony with name "
		  "\\u003cfb\\u003e", COL_AUTH, "colonies: 403 Access denied, "
		  "not a member of Colony with name <fb>" },
		{ 400, "Invalid timeout value, timeout cannot be zero",
		  COL_BADREQ, "colonies: 400 Invalid timeout value, timeout "
		  "cannot be zero" },
		{ 500, "Failed to close process as successful, process is nil",
		  COL_SERVER, "colonies: 500 Failed to close process as "
		  "successful, process is nil" },
		{ 503, "paused", COL_SERVER, "colonies: 503 paused" },
		{ 408, "paused", COL_SERVER, "colonies: 408 paused" },
		{ 403, "line\\nbreak\\u001b[31m", COL_AUTH,
		  "colonies: 403 line?break?[31m" },
	};

	s = "{\"payloadtype\":\"closesuccessfulmsg\",\"payload\":\"e30=\","
	    "\"error\":false}";
	decode(200, s, strlen(s), "closesuccessfulmsg", &o);
	ok(o.e == COL_OK && json_is_object(o.v) && json_object_size(o.v) == 0,
	    "success {} decodes to an empty object");
	json_decref(o.v);
	decode(200, s, strlen(s), "closefailedmsg", &o);
	ok(o.e == COL_PROTO && o.v == NULL && strstr(o.cause, "payloadtype"),
	    "wrong payloadtype is a protocol error: %s", o.cause);
	decode(500, s, strlen(s), "closesuccessfulmsg", &o);
	ok(o.e == COL_PROTO, "HTTP 500 with error=false: %s", o.cause);

	env = envelope("getprocessesmsg", "null", 4, 0);
	decode(200, env, strlen(env), "getprocessesmsg", &o);
	ok(o.e == COL_OK && json_is_null(o.v), "null payload is JSON null");
	json_decref(o.v);
	free(env);

	for (i = 0; i < sizeof errs / sizeof errs[0]; i++) {
		env = error_envelope(errs[i].status, errs[i].msg);
		decode(errs[i].status, env, strlen(env), "assignprocessmsg",
		    &o);
		ok(o.e == errs[i].e && o.v == NULL, "HTTP %d -> %s",
		    errs[i].status, col_err_str(errs[i].e));
		is_str(o.cause, errs[i].cause, "error cause");
		decode(200, env, strlen(env), "assignprocessmsg", &o);
		ok(o.e == COL_PROTO, "error=true with HTTP 200: %s", o.cause);
		decode(errs[i].status == 404 ? 400 : 404, env, strlen(env),
		    "assignprocessmsg", &o);
		ok(o.e == COL_PROTO, "HTTP status disagrees with error status: "
		    "%s", o.cause);
		free(env);
	}

	env = envelope("assignprocessmsg", real_process,
	    strlen(real_process), 0);
	decode(200, env, strlen(env), "assignprocessmsg", &o);
	ok(o.e == COL_OK && json_is_object(o.v), "real Process reply decodes");
	{
		struct col_process	p;
		char			cause[FB_CAUSE_MAX];

		ok(col_process_parse(o.v, &p, cause, sizeof cause) == 0,
		    "real Process parses");
		is_str(p.processid, "654c1973b058776c810ee8c6c342ccbad18092183a"
		    "a8513d720020e67d32e83a", "processid");
		is_str(p.assignedexecutorid, "6d1b0299f4650cedde5017db9efaa604d"
		    "e225f8bc1659e3b9a9f59e8d84ffd8b", "assignedexecutorid");
		is_str(p.initiatorid, "39c9976c8e5d738447fbfd31da82e85b904177a2"
		    "cc6893be8789b23e1ec60059", "initiatorid");
		ok(p.prioritytime == INT64_C(1795596187052970772),
		    "prioritytime exact as int64 (%lld)",
		    (long long)p.prioritytime);
		ok(p.state == 1 && p.isassigned == 1 && p.retries == 0 &&
		    p.maxretries == 3 && p.maxexectime == 30 &&
		    p.maxwaittime == 0 && p.priority == 0, "int fields");
		is_str(p.funcname, "validate_revenue", "funcname");
		is_str(p.executortype, "financebee", "executortype");
		is_str(p.submissiontime, "2026-11-25T08:43:07.052971Z",
		    "submissiontime");
		is_str(p.starttime, "2026-11-25T08:43:07.168305Z", "starttime");
		is_str(p.execdeadline, "2026-11-25T08:43:37.168305Z",
		    "execdeadline");
		ok(json_array_size(p.args) == 1, "one arg");
		is_str(json_string_value(json_array_get(p.args, 0)),
		    "{\"id\":\"evt_1\",\"type\":\"invoice.paid\"}", "args[0]");
		is_str(json_string_value(json_object_get(p.kwargs, "source")),
		    "stripe", "kwargs.source");
		ok(json_is_array(p.out) && json_is_array(p.errors) &&
		    p.raw == o.v, "out, errors, raw");
		col_process_free(&p);
		ok(p.raw == NULL && p.args == NULL && p.funcname == NULL &&
		    p.processid[0] == '\0', "col_process_free zeroes");
	}
	json_decref(o.v);

	/* Truncation at every byte: never OK, never a crash. */
	{
		size_t	len = strlen(env), nok = 0, ncause = 0;

		for (i = 0; i < len; i++) {
			char	*t = malloc(i + 1);

			memcpy(t, env, i);
			t[i] = '\0';
			decode(200, t, i, "assignprocessmsg", &o);
			nok += o.e == COL_OK;
			ncause += o.e != COL_OK && o.cause[0] != '\0' &&
			    o.v == NULL;
			if (o.e == COL_OK)
				json_decref(o.v);
			free(t);
		}
		ok(nok == 0 && ncause == len, "%zu truncations all rejected "
		    "with a cause", len);
	}
	free(env);
}

static void
test_proto_errors(void)
{
	struct outcome	 o;
	size_t		 i;
	char		*deep;
	const char	*bad[] = {
		"",
		"<html><body>502 Bad Gateway</body></html>",
		"{\"payloadtype\":\"x\",\"payload\":\"e30=\",\"error\":false",
		"[]",
		"null",
		"{}",
		"{\"payloadtype\":1,\"payload\":\"e30=\",\"error\":false}",
		"{\"payloadtype\":\"x\",\"payload\":1,\"error\":false}",
		"{\"payloadtype\":\"x\",\"payload\":\"e30=\",\"error\":\"no\"}",
		"{\"payloadtype\":\"x\",\"payload\":\"e30=\"}",
		"{\"payloadtype\":\"x\",\"payload\":\"e30\",\"error\":false}",
		"{\"payloadtype\":\"x\",\"payload\":\"e3!=\",\"error\":false}",
		"{\"payloadtype\":\"x\",\"payload\":\"aGVsbG8=\",\"error\":false}",
		"{\"payloadtype\":\"x\",\"payload\":\"\",\"error\":false}",
		"{\"payloadtype\":\"x\\u0000y\",\"payload\":\"e30=\",\"error\":false}",
		"{\"payloadtype\":\"x\",\"payload\":\"e30=\",\"error\":false} x",
		/* error replies with a malformed error payload */
		"{\"payloadtype\":\"error\",\"payload\":\"e30=\",\"error\":true}",
		"{\"payloadtype\":\"x\",\"payload\":\"eyJzdGF0dXMiOjQwNCwibWVzc2FnZSI6IngifQ==\",\"error\":true}",
		"{\"payloadtype\":\"error\",\"payload\":\"eyJzdGF0dXMiOiI0MDQiLCJtZXNzYWdlIjoieCJ9\",\"error\":true}",
		"{\"payloadtype\":\"error\",\"payload\":\"eyJzdGF0dXMiOjQwNCwibWVzc2FnZSI6MX0=\",\"error\":true}",
	};

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		decode(i < 16 ? 200 : 404, bad[i], strlen(bad[i]), "x", &o);
		ok(o.e == COL_PROTO && o.v == NULL && o.cause[0] != '\0',
		    "bad reply %zu -> protocol error: %s", i, o.cause);
	}
	decode(200, NULL, 0, "x", &o);
	ok(o.e == COL_PROTO, "NULL body: %s", o.cause);

	/* Deep nesting inside the payload and as the envelope itself. */
	deep = malloc(200001);
	memset(deep, '[', 100000);
	memset(deep + 100000, ']', 100000);
	deep[200000] = '\0';
	{
		char	*env = envelope("x", deep, 200000, 0);

		decode(200, env, strlen(env), "x", &o);
		ok(o.e == COL_PROTO, "100000-deep payload: %s", o.cause);
		free(env);
	}
	decode(200, deep, 200000, "x", &o);
	ok(o.e == COL_PROTO, "100000-deep envelope: %s", o.cause);
	free(deep);
}

/* A Process payload with one field replaced (NULL value = removed). */
static json_t *
process_with(const char *obj, const char *key, json_t *value)
{
	json_t	*p, *o;

	p = json_loads(real_process, 0, NULL);
	o = p;
	if (strcmp(obj, "spec") == 0)
		o = json_object_get(p, "spec");
	else if (strcmp(obj, "conditions") == 0)
		o = json_object_get(json_object_get(p, "spec"), "conditions");
	if (value == NULL)
		json_object_del(o, key);
	else
		json_object_set_new(o, key, value);
	return p;
}

static void
test_process_fields(void)
{
	struct col_process	 p;
	char			 cause[FB_CAUSE_MAX];
	json_t			*j;
	size_t			 i, t;
	int			 rc;
	struct {
		const char	*obj, *key;
		const char	*good;	/* type letters that must parse */
	} fields[] = {
		{ "", "processid", "" },
		{ "", "assignedexecutorid", "" },
		{ "", "initiatorid", "" },
		{ "", "state", "i" },
		{ "", "isassigned", "b" },
		{ "", "prioritytime", "i" },
		{ "", "retries", "i" },
		{ "", "submissiontime", "s" },
		{ "", "starttime", "s" },
		{ "", "execdeadline", "s" },
		{ "", "out", "na" },
		{ "", "errors", "na" },
		{ "", "spec", "o" },
		{ "spec", "funcname", "s" },
		{ "spec", "args", "na" },
		{ "spec", "kwargs", "no" },
		{ "spec", "priority", "i" },
		{ "spec", "maxwaittime", "i" },
		{ "spec", "maxexectime", "i" },
		{ "spec", "maxretries", "i" },
		{ "spec", "conditions", "o" },
		{ "conditions", "executortype", "s" },
		{ "conditions", "executornames", "na" },
	};
	const char	*letters = "nbifsao";

	for (i = 0; i < sizeof fields / sizeof fields[0]; i++) {
		for (t = 0; letters[t] != '\0'; t++) {
			json_t	*v;

			switch (letters[t]) {
			case 'n': v = json_null(); break;
			case 'b': v = json_true(); break;
			case 'i': v = json_integer(7); break;
			case 'f': v = json_real(1.5); break;
			case 's': v = json_string("x"); break;
			case 'a': v = json_pack("[s]", "x"); break;
			default: v = json_pack("{s:i}", "x", 1); break;
			}
			j = process_with(fields[i].obj, fields[i].key, v);
			cause[0] = '\0';
			rc = col_process_parse(j, &p, cause, sizeof cause);
			if (strchr(fields[i].good, letters[t]) != NULL ||
			    (strcmp(fields[i].obj, "spec") == 0 &&
			    strcmp(fields[i].key, "conditions") == 0 &&
			    letters[t] == 'o'))
				ok(rc == 0, "%s.%s as %c accepted", fields[i].obj,
				    fields[i].key, letters[t]);
			else
				ok(rc == -1 && strstr(cause, fields[i].key) !=
				    NULL, "%s.%s as %c rejected: %s",
				    fields[i].obj, fields[i].key, letters[t],
				    cause);
			if (rc == -1 && strcmp(fields[i].key, "processid") != 0)
				ok(strcmp(p.processid, "654c1973b058776c810ee8"
				    "c6c342ccbad18092183aa8513d720020e67d32e83a")
				    == 0 && p.funcname == NULL && p.raw == NULL,
				    "failed parse keeps only processid");
			col_process_free(&p);
			json_decref(j);
		}
	}

	j = process_with("spec", "args", json_null());
	json_object_set_new(json_object_get(j, "spec"), "kwargs", json_null());
	ok(col_process_parse(j, &p, cause, sizeof cause) == 0 &&
	    json_is_array(p.args) && json_array_size(p.args) == 0 &&
	    json_is_object(p.kwargs) && json_object_size(p.kwargs) == 0,
	    "null args/kwargs become [] and {}");
	col_process_free(&p);
	json_decref(j);

	j = process_with("", "processid", json_string("654c1973"));
	ok(col_process_parse(j, &p, cause, sizeof cause) == -1 &&
	    p.processid[0] == '\0', "short processid rejected: %s", cause);
	json_decref(j);
	j = process_with("", "processid", json_string("z54c1973b058776c810ee8"
	    "c6c342ccbad18092183aa8513d720020e67d32e83a"));
	ok(col_process_parse(j, &p, cause, sizeof cause) == -1,
	    "non-hex processid rejected: %s", cause);
	json_decref(j);
	j = process_with("spec", "funcname", json_stringn("validate_revenue\0x",
	    18));
	ok(col_process_parse(j, &p, cause, sizeof cause) == -1,
	    "funcname with NUL rejected: %s", cause);
	json_decref(j);
	j = process_with("", "state", json_integer(INT64_C(1) << 40));
	ok(col_process_parse(j, &p, cause, sizeof cause) == -1,
	    "state beyond int rejected: %s", cause);
	json_decref(j);
	ok(col_process_parse(NULL, &p, cause, sizeof cause) == -1,
	    "NULL rejected");
	j = json_array();
	ok(col_process_parse(j, &p, cause, sizeof cause) == -1,
	    "array rejected");
	json_decref(j);
}

/* Huge numbers in the payload text: rejected or exact, never wrong. */
static void
test_numbers(void)
{
	struct outcome		 o;
	struct col_process	 p;
	char			 cause[FB_CAUSE_MAX], *txt, *env;
	const char		*pt = "\"prioritytime\": 1795596187052970772";
	const char		*repl[] = {
		"\"prioritytime\": 99999999999999999999",
		"\"prioritytime\": 1e400",
		"\"prioritytime\": 1795596187052970772.0",
		"\"prioritytime\": -9223372036854775808",
		"\"prioritytime\": 9223372036854775807",
	};
	size_t			 i, n;
	char			*at;

	for (i = 0; i < sizeof repl / sizeof repl[0]; i++) {
		n = strlen(real_process) + 64;
		txt = malloc(n);
		at = strstr(real_process, pt);
		snprintf(txt, n, "%.*s%s%s", (int)(at - real_process),
		    real_process, repl[i], at + strlen(pt));
		env = envelope("assignprocessmsg", txt, strlen(txt), 0);
		decode(200, env, strlen(env), "assignprocessmsg", &o);
		if (i < 3) {
			ok(o.e == COL_PROTO || (o.e == COL_OK &&
			    col_process_parse(o.v, &p, cause, sizeof cause) ==
			    -1), "%s rejected", repl[i]);
		} else {
			ok(o.e == COL_OK && col_process_parse(o.v, &p, cause,
			    sizeof cause) == 0 && p.prioritytime ==
			    (i == 3 ? INT64_MIN : INT64_MAX), "%s exact",
			    repl[i]);
			col_process_free(&p);
		}
		if (o.e == COL_OK)
			json_decref(o.v);
		free(env);
		free(txt);
	}
}

/* args[0] escapes decode to the exact bytes. */
#define PL "{\"processid\":\"654c1973b058776c810ee8c6c342ccbad18092183aa85" \
	    "13d720020e67d32e83a\",\"spec\":{\"funcname\":\"validate_revenue\"," \
	    "\"args\":[\"%s\"],\"kwargs\":{}}}"
static void
test_unicode(void)
{
	struct outcome		 o;
	struct col_process	 p;
	char			 cause[FB_CAUSE_MAX], *txt, *env;
	struct {
		const char	*json;
		const char	*bytes;
	} vec[] = {
		{ "\\u003cb\\u003e \\u0026 \\\"q\\\" \\\\ \\/",
		  "<b> & \"q\" \\ /" },
		{ "\\ud83d\\ude00 \xf0\x9f\x90\x9d caf\xc3\xa9 \\u00e9",
		  "\xf0\x9f\x98\x80 \xf0\x9f\x90\x9d caf\xc3\xa9 \xc3\xa9" },
		{ "tab\\tnl\\ncr\\r\\u0001\\u001f\\b\\f",
		  "tab\tnl\ncr\r\x01\x1f\b\f" },
		{ "{\\\"id\\\":\\\"evt_\\\\u0000\\\"}",
		  "{\"id\":\"evt_\\u0000\"}" },
		{ "\\uffff\\u2028\\u0800", "\xef\xbf\xbf\xe2\x80\xa8\xe0\xa0\x80" },
	};
	const char	*bad[] = {
		"\\ud83d", "\\ude00", "\\ud83dx", "\\u12", "\xff", "\xc3",
		"\xed\xa0\x80", "a\x01b",
	};
	size_t			 i, n;

	for (i = 0; i < sizeof vec / sizeof vec[0]; i++) {
		n = strlen(PL) + strlen(vec[i].json) + 1;
		txt = malloc(n);
		snprintf(txt, n, PL, vec[i].json);
		env = envelope("getprocessmsg", txt, strlen(txt), 0);
		decode(200, env, strlen(env), "getprocessmsg", &o);
		if (ok(o.e == COL_OK && col_process_parse(o.v, &p, cause,
		    sizeof cause) == 0, "unicode vector %zu parses", i)) {
			const char *s = json_string_value(json_array_get(p.args,
			    0));

			ok(s != NULL && json_string_length(json_array_get(
			    p.args, 0)) == strlen(vec[i].bytes) &&
			    memcmp(s, vec[i].bytes, strlen(vec[i].bytes)) == 0,
			    "args[0] byte for byte");
			col_process_free(&p);
		}
		if (o.e == COL_OK)
			json_decref(o.v);
		free(env);
		free(txt);
	}
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		n = strlen(PL) + strlen(bad[i]) + 1;
		txt = malloc(n);
		snprintf(txt, n, PL, bad[i]);
		env = envelope("getprocessmsg", txt, strlen(txt), 0);
		decode(200, env, strlen(env), "getprocessmsg", &o);
		ok(o.e == COL_PROTO, "bad string %zu rejected: %s", i,
		    o.cause);
		if (o.e == COL_OK)
			json_decref(o.v);
		free(env);
		free(txt);
	}
	/* A real NUL in args[0] decodes (the guardian rejects it later). */
	n = strlen(PL) + 16;
	txt = malloc(n);
	snprintf(txt, n, PL, "a\\u0000b");
	env = envelope("getprocessmsg", txt, strlen(txt), 0);
	decode(200, env, strlen(env), "getprocessmsg", &o);
	ok(o.e == COL_OK && col_process_parse(o.v, &p, cause, sizeof cause) ==
	    0 && json_string_length(json_array_get(p.args, 0)) == 3,
	    "\\u0000 in args[0] keeps its length (3)");
	if (o.e == COL_OK) {
		col_process_free(&p);
		json_decref(o.v);
	}
	free(env);
	free(txt);
}

/*
 * The decoder has a fast path for the server's exact envelope shape; a
 * leading space forces the full parser.  Both must agree on everything.
 */
static int
same_both_ways(long status, const char *body, size_t len, const char *type)
{
	struct outcome	 a, b;
	char		*spaced;
	int		 same;

	spaced = malloc(len + 2);
	spaced[0] = ' ';
	memcpy(spaced + 1, body, len);
	spaced[len + 1] = '\0';
	decode(status, body, len, type, &a);
	decode(status, spaced, len + 1, type, &b);
	same = a.e == b.e && strcmp(a.cause, b.cause) == 0 &&
	    ((a.v == NULL && b.v == NULL) || (a.v != NULL && b.v != NULL &&
	    json_equal(a.v, b.v)));
	if (!same)
		printf("# differ: %d/%d '%s' / '%s' on %.*s\n", a.e, b.e,
		    a.cause, b.cause, (int)(len > 200 ? 200 : len), body);
	json_decref(a.v);
	json_decref(b.v);
	free(spaced);
	return same;
}

static void
test_fast_path(void)
{
	const char	*v[] = {
		"{\"payloadtype\":\"closesuccessfulmsg\",\"payload\":\"e30=\","
		    "\"error\":false}",
		"{\"payloadtype\":\"closesuccessfulmsg\",\"payload\":\"e30=\","
		    "\"error\":false}\n",
		"{\"payloadtype\":\"closesuccessfulmsg\",\"payload\":\"e30=\","
		    "\"error\":false}x",
		"{\"payloadtype\":\"closesuccessfulmsg\",\"payload\":\"e30=\","
		    "\"error\":false,\"x\":1}",
		"{\"payloadtype\":\"closesuccessfulmsg\",\"payload\":\"e30=\","
		    "\"error\":false}}",
		"{\"payloadtype\":\"closesuccessfulmsg\",\"payload\":\"e\\u0033"
		    "0=\",\"error\":false}",
		"{\"payloadtype\":\"closesuccessfulmsg\",\"payload\":\"e30\","
		    "\"error\":false}",
		"{\"payloadtype\":\"closesuccessfulmsg\",\"payload\":\"e\\/0=\","
		    "\"error\":false}",
		"{\"payloadtype\":\"closesuccessfulmsg\",\"payload\":\"e3\x01=\","
		    "\"error\":false}",
		"{\"payloadtype\":\"\",\"payload\":\"\",\"error\":false}",
		"{\"payloadtype\":\"error\",\"payload\":\"eyJzdGF0dXMiOjQwNCwi"
		    "bWVzc2FnZSI6IngifQ==\",\"error\":true}",
		"{\"payloadtype\":\"error\",\"payload\":\"eyJzdGF0dXMiOjQwNCwi"
		    "bWVzc2FnZSI6IngifQ==\",\"error\":tru}",
		"{\"payloadtype\":\"closesuccessfulmsg\",\"payload\":\"e30=\","
		    "\"error\":false",
	};
	size_t		 i, n = 0;

	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		n += same_both_ways(200, v[i], strlen(v[i]),
		    "closesuccessfulmsg");
		n += same_both_ways(404, v[i], strlen(v[i]),
		    "closesuccessfulmsg");
	}
	ok(n == 2 * i, "fast and full envelope parsers agree on %zu cases",
	    2 * i);
}

/* Random mutations of the envelope text and of the payload text. */
static void
test_fuzz(void)
{
	struct outcome		 o;
	struct col_process	 p;
	char			 cause[FB_CAUSE_MAX], *env, *m;
	size_t			 len, plen, i, k, nflips, ok_env = 0, ok_proc = 0;
	size_t			 bad = 0;
	const char		 junk[] = "{}[]\":,\\0123456789.eE+-ntfu \x80\xff";

	env = envelope("assignprocessmsg", real_process, strlen(real_process),
	    0);
	len = strlen(env);
	plen = strlen(real_process);
	m = malloc(len > plen ? len + 1 : plen + 1);
	for (i = 0; i < 3000; i++) {
		memcpy(m, env, len + 1);
		nflips = 1 + rnd() % 4;
		for (k = 0; k < nflips; k++) {
			if (rnd() % 2)
				m[rnd() % len] = (char)(rnd() & 0xff);
			else
				m[rnd() % len] = junk[rnd() % (sizeof junk - 1)];
		}
		if (i % 10 == 0 && !same_both_ways(200, m, len,
		    "assignprocessmsg"))
			bad++;
		decode(rnd() % 8 ? 200 : 404, m, len, "assignprocessmsg", &o);
		if (o.e == COL_OK) {
			ok_env++;
			if (col_process_parse(o.v, &p, cause, sizeof cause) == 0)
				col_process_free(&p);
			json_decref(o.v);
		} else if (o.cause[0] == '\0' || o.v != NULL)
			bad++;
	}
	ok(bad == 0, "3000 envelope mutations: each a code and a cause, "
	    "fast and full parsers agree (%zu still decoded)", ok_env);

	bad = 0;
	for (i = 0; i < 5000; i++) {
		char	*e2;

		memcpy(m, real_process, plen + 1);
		nflips = 1 + rnd() % 3;
		for (k = 0; k < nflips; k++) {
			if (rnd() % 3 == 0)
				m[rnd() % plen] = (char)(rnd() & 0xff);
			else
				m[rnd() % plen] = junk[rnd() %
				    (sizeof junk - 1)];
		}
		e2 = envelope("assignprocessmsg", m, plen, 0);
		decode(200, e2, strlen(e2), "assignprocessmsg", &o);
		if (o.e == COL_OK) {
			cause[0] = '\0';
			if (col_process_parse(o.v, &p, cause, sizeof cause) ==
			    0) {
				ok_proc++;
				if (p.args == NULL || p.kwargs == NULL ||
				    p.funcname == NULL || p.raw != o.v)
					bad++;
				col_process_free(&p);
			} else if (cause[0] == '\0')
				bad++;
			json_decref(o.v);
		} else if (o.cause[0] == '\0')
			bad++;
		free(e2);
	}
	ok(bad == 0, "5000 payload mutations: parse or a cause (%zu parsed)",
	    ok_proc);
	free(m);
	free(env);
}

int
main(void)
{
	if (crypto_init() == -1) {
		printf("Bail out! crypto_init\n");
		return 1;
	}
	test_envelopes();
	test_proto_errors();
	test_process_fields();
	test_numbers();
	test_unicode();
	test_fast_path();
	test_fuzz();
	ok(strcmp(col_err_str(COL_LOST), "process lost") == 0 &&
	    strcmp(col_err_str((enum col_err)99), "unknown error") == 0,
	    "col_err_str");
	return tap_done();
}
