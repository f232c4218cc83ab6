/*
 * minicolonies-rpc.c: the table of signed RPCs, each with the real
 * server's "invalid JSON" and "msgtype does not match" texts and the Go
 * types of its message's fields, and the common head of every handler:
 * decode the payload as Go would (into a typed struct, then compare
 * msgtype) before the handler runs.
 */
#include <sys/types.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "colonies.h"
#include "minicolonies.h"

/* Typed access to decoded messages, as Go's Unmarshal would. */

/* Go matches struct field names case-insensitively; exact match first. */
json_t *
mc_get(json_t *o, const char *name)
{
	const char	*k;
	json_t		*v;

	if (o == NULL || !json_is_object(o))
		return NULL;
	if ((v = json_object_get(o, name)) != NULL)
		return v;
	json_object_foreach(o, k, v)
		if (strcasecmp(k, name) == 0)
			return v;
	return NULL;
}

/* 0 and *out ("" if absent or null), or -1 if not a string. */
int
mc_getstr(json_t *o, const char *name, const char **out)
{
	json_t	*v = mc_get(o, name);

	*out = "";
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return -1;
	*out = json_string_value(v);
	return 0;
}

int
mc_getint(json_t *o, const char *name, long long *out)
{
	json_t	*v = mc_get(o, name);
	double	 d;

	*out = 0;
	if (v == NULL || json_is_null(v))
		return 0;
	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return 0;
	}
	if (!json_is_real(v))
		return -1;
	d = json_real_value(v);
	if (d != (double)(long long)d || d > 9.2e18 || d < -9.2e18)
		return -1;
	*out = (long long)d;
	return 0;
}

int
mc_getint32(json_t *o, const char *name, int *out)
{
	long long	v;

	if (mc_getint(o, name, &v) == -1 || v > INT_MAX || v < INT_MIN)
		return -1;
	*out = (int)v;
	return 0;
}

/* Arrays of anything ([]interface{}): absent/null gives NULL. */
int
mc_getarr(json_t *o, const char *name, json_t **out)
{
	json_t	*v = mc_get(o, name);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_array(v))
		return -1;
	*out = v;
	return 0;
}

int
mc_getstrarr(json_t *o, const char *name, json_t **out)
{
	json_t	*e;
	size_t	 i;

	if (mc_getarr(o, name, out) == -1)
		return -1;
	if (*out != NULL)
		json_array_foreach(*out, i, e)
			if (!json_is_string(e) && !json_is_null(e))
				return -1;
	return 0;
}

int
mc_getobj(json_t *o, const char *name, json_t **out)
{
	json_t	*v = mc_get(o, name);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_object(v))
		return -1;
	*out = v;
	return 0;
}

static const struct mc_handler mc_handlers[] = {
	{ "addcolonymsg", mc_h_addcolony, "Failed to add colony, invalid JSON",
	    "Failed to add colony, msg.MsgType does not match payloadType",
	    "colony:o,colony.colonyid:s,colony.name:s" },
	{ "getcolonystatsmsg", mc_h_colonystats,
	    "Failed to get colony statistics, invalid JSON",
	    "Failed to get colony statistics, msg.MsgType does not match "
	    "payloadType",
	    "colonyname:s" },
	{ "addexecutormsg", mc_h_addexecutor,
	    "Failed to add executor, invalid JSON",
	    "Failed to add executor, msg.MsgType does not match payloadType",
	    "executor:o,executor.executorid:s,executor.executortype:s,executor.executorname:s,executor.colonyname:s" },
	{ "approveexecutormsg", mc_h_approve,
	    "Failed to approve executor, invalid JSON",
	    "Failed to approve executor, msg.MsgType does not match "
	    "payloadType",
	    "colonyname:s,executorname:s" },
	{ "rejectexecutormsg", mc_h_reject,
	    "Failed to reject executor, invalid JSON",
	    "Failed to reject executor, msg.MsgType does not match "
	    "payloadType",
	    "colonyname:s,executorname:s" },
	{ "removeexecutormsg", mc_h_removeexecutor,
	    "Failed to remove executor, invalid JSON",
	    "Failed to remove executor, msg.MsgType does not match "
	    "payloadType",
	    "colonyname:s,executorname:s" },
	{ "getexecutormsg", mc_h_getexecutor,
	    "Failed to get executor, invalid JSON",
	    "Failed to get executor, msg.MsgType does not match payloadType",
	    "colonyname:s,executorname:s" },
	{ "addfunctionmsg", mc_h_addfunction,
	    "Failed to add function, invalid JSON",
	    "Failed to add function, msg.MsgType does not match payloadType",
	    "fun:o,fun.executorname:s,fun.executortype:s,fun.colonyname:s,fun.funcname:s" },
	{ "submitfuncspecmsg", mc_h_submit,
	    "Failed to submit process, invalid JSON",
	    "Failed to submit process spec, msg.MsgType does not match "
	    "payloadType",
	    "spec:o" },
	{ "assignprocessmsg", mc_h_assign,
	    "Failed to assign process, invalid JSON",
	    "Failed to assign process, msg.msgType does not match "
	    "payloadType",
	    "colonyname:s,timeout:i,availablecpu:s,availablemem:s" },
	{ "closesuccessfulmsg", mc_h_closesuccessful,
	    "Failed to close successful, invalid JSON",
	    "Failed to close process as successful, msg.MsgType does not "
	    "match payloadType",
	    "processid:s,out:a" },
	{ "closefailedmsg", mc_h_closefailed,
	    "Failed to close failed, invalid JSON",
	    "Failed to close process as failed, msg.MsgType does not match "
	    "payloadType",
	    "processid:s,errors:S" },
	{ "getprocessmsg", mc_h_getprocess,
	    "Failed to get process, invalid JSON",
	    "Failed to get process, msg.MsgType does not match payloadType",
	    "processid:s" },
	{ "getprocessesmsg", mc_h_getprocesses,
	    "Failed to get processes, invalid JSON",
	    "Failed to get processes, msg.MsgType does not match payloadType",
	    "colonyname:s,count:i,state:i,executortype:s,label:s,initiator:s" },
	{ "addlogmsg", mc_h_addlog, "Failed to add log, invalid JSON",
	    "Failed to add log, msg.MsgType does not match payloadType",
	    "processid:s,message:s" },
	{ "setoutputmsg", mc_h_setoutput, "Failed to set output, invalid JSON",
	    "Failed to set output, msg.MsgType does not match payloadType",
	    "processid:s,out:a" },
	{ "cancelprocessmsg", mc_h_cancel,
	    "Failed to cancel process, invalid JSON",
	    "Failed to cancel process, msg.MsgType does not match "
	    "payloadType",
	    "processid:s" },
	{ "removeallprocessesmsg", mc_h_removeall,
	    "Failed to remove all processes, invalid JSON",
	    "Failed to remove all processes, msg.MsgType does not match "
	    "payloadType",
	    "colonyname:s,state:i" },
	{ "pauseassignmentsmsg", mc_h_pause,
	    "Failed to pause assignments, invalid JSON",
	    "Failed to pause assignments, msg.MsgType does not match "
	    "payloadType",
	    "colonyname:s" },
	{ "resumeassignmentsmsg", mc_h_pause,
	    "Failed to resume assignments, invalid JSON",
	    "Failed to resume assignments, msg.MsgType does not match "
	    "payloadType",
	    "colonyname:s" },
};

/* The one RPC the real server answers unsigned through a handler. */
static const struct mc_handler mc_version_handler = {
	"versionmsg", mc_h_version,
	"Failed to get server version, invalid JSON",
	"Failed to get server version, msg.MsgType does not match payloadType",
	"buildversion:s,buildtime:s"
};

/*
 * Go decodes the whole message into a typed struct before looking at any
 * field, so a field of the wrong type is "invalid JSON" even when msgtype
 * is wrong too.  fields: "name:T,obj.name:T", T one of s (string), i (int),
 * a (array), S (array of strings), o (object).
 */
static int
mc_typecheck(json_t *msg, const char *fields)
{
	char		 buf[512], *f, *save, *colon, *dot;
	json_t		*o, *dummy;
	const char	*sv;
	long long	 iv;
	int		 rc = 0;

	snprintf(buf, sizeof(buf), "%s", fields);
	for (f = strtok_r(buf, ",", &save); f != NULL && rc == 0;
	    f = strtok_r(NULL, ",", &save)) {
		if ((colon = strchr(f, ':')) == NULL)
			continue;
		*colon = '\0';
		o = msg;
		if ((dot = strchr(f, '.')) != NULL) {
			*dot = '\0';
			if (mc_getobj(msg, f, &o) == -1)
				return -1;
			f = dot + 1;
		}
		switch (colon[1]) {
		case 's':
			rc = mc_getstr(o, f, &sv);
			break;
		case 'i':
			rc = mc_getint(o, f, &iv);
			break;
		case 'a':
			rc = mc_getarr(o, f, &dummy);
			break;
		case 'S':
			rc = mc_getstrarr(o, f, &dummy);
			break;
		case 'o':
			rc = mc_getobj(o, f, &dummy);
			break;
		}
	}
	return rc;
}

/* The handler of a signed payloadtype, or NULL. */
const struct mc_handler *
mc_rpc_find(const char *payloadtype)
{
	size_t	i;

	for (i = 0; i < sizeof(mc_handlers) / sizeof(mc_handlers[0]); i++)
		if (strcmp(mc_handlers[i].type, payloadtype) == 0)
			return &mc_handlers[i];
	return NULL;
}

/* The handler of a payloadtype accepted without a signature, or NULL. */
const struct mc_handler *
mc_rpc_unsigned(const char *payloadtype)
{
	if (strcmp(payloadtype, mc_version_handler.type) == 0)
		return &mc_version_handler;
	return NULL;
}

/*
 * Decode the payload as CreateXxxMsgFromJSON(rpcMsg.DecodePayload())
 * does, check msgtype as the handlers do, then run the handler.  r has
 * req, payloadtype and (for signed calls) id set.
 */
void
mc_rpc_call(const struct mc_handler *h, struct mc_req *r,
    const char *payload, size_t plen)
{
	unsigned char	*dec;
	size_t		 declen;
	json_t		*msg;
	json_error_t	 jerror;
	const char	*mt;
	char		 err[512];

	r->h = h;
	if (mc_verbose)
		log_info("%s from %.12s", r->payloadtype,
		    *r->id != '\0' ? r->id : "(unsigned)");
	/* Go ignores a base64 error and parses what it got (nothing). */
	dec = crypto_base64_decode(payload, plen, &declen);
	if (dec == NULL ||
	    mc_go_syntax((char *)dec, declen, err, sizeof(err)) == -1 ||
	    (msg = json_loadb((char *)dec, declen, JSON_DECODE_ANY |
	    JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &jerror)) == NULL) {
		free(dec);
		mc_error(r->req, 400, "%s", h->badjson);
		return;
	}
	free(dec);
	if (json_is_null(msg)) {
		/* A nil *Msg: the handler dereferences it and panics. */
		json_decref(msg);
		mc_panic(r->req);
		return;
	}
	if (!json_is_object(msg) || mc_getstr(msg, "msgtype", &mt) == -1 ||
	    mc_typecheck(msg, h->fields) == -1) {
		mc_error(r->req, 400, "%s", h->badjson);
		json_decref(msg);
		return;
	}
	if (strcmp(mt, r->payloadtype) != 0) {
		mc_error(r->req, 400, "%s", h->mismatch);
		json_decref(msg);
		return;
	}
	r->msg = msg;
	h->fn(r);
	json_decref(msg);
}
