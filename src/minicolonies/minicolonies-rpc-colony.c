/*
 * minicolonies-rpc-colony.c: the colony, executor and function RPCs and
 * the colony statistics, with the real server's authorisation rules
 * (server key, colony owner, approved member) and texts.
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "colonies.h"
#include "minicolonies.h"

void
mc_h_addcolony(struct mc_req *r)
{
	json_t			*col;
	const char		*id, *name;
	struct mc_colony	*c;
	struct sb		 b = { NULL, 0, 0 };

	if (mc_getobj(r->msg, "colony", &col) == -1 ||
	    mc_getstr(col, "colonyid", &id) == -1 ||
	    mc_getstr(col, "name", &name) == -1)
		MC_BADJSON(r);
	if (col == NULL) {
		mc_error(r->req, 400, "Failed to add colony, colony is nil");
		return;
	}
	if (strcmp(r->id, mc_server_id) != 0) {
		mc_error(r->req, 403, "Access denied, not server owner");
		return;
	}
	if (mc_colony_find(name) != NULL) {
		mc_error(r->req, 400, "A Colony with name <%s> already exists",
		    name);
		return;
	}
	c = mc_calloc(1, sizeof(*c));
	c->name = mc_strdup(name);
	snprintf(c->id, sizeof(c->id), "%s", id);
	TAILQ_INSERT_TAIL(&mc_colonies, c, entry);
	/* Colony.ToJSON is json.Marshal: compact. */
	sb_adds(&b, "{\"colonyid\":");
	sb_gostr(&b, c->id, strlen(c->id));
	sb_adds(&b, ",\"name\":");
	sb_gostr(&b, c->name, strlen(c->name));
	sb_adds(&b, "}");
	mc_reply_sb(r, &b);
	sb_free(&b);
}

void
mc_h_addexecutor(struct mc_req *r)
{
	json_t			*exo;
	const char		*id, *type, *name, *colony;
	struct mc_executor	*ex, *old;
	char			 msg[512];
	struct sb		 b = { NULL, 0, 0 };

	if (mc_getobj(r->msg, "executor", &exo) == -1 ||
	    mc_getstr(exo, "executorid", &id) == -1 ||
	    mc_getstr(exo, "executortype", &type) == -1 ||
	    mc_getstr(exo, "executorname", &name) == -1 ||
	    mc_getstr(exo, "colonyname", &colony) == -1)
		MC_BADJSON(r);
	if (exo == NULL) {
		mc_error(r->req, 400, "Failed to add executor, executor is nil");
		return;
	}
	if (mc_require_owner(r->id, colony, msg, sizeof(msg)) == -1) {
		mc_error(r->req, 403, "%s", msg);
		return;
	}
	if ((old = mc_ex_byname(colony, name)) != NULL) {
		if (!mc_allow_reregister) {
			mc_error(r->req, 400,
			    "Executor with name <%s> in Colony <%s> already "
			    "exists", name, colony);
			return;
		}
		mc_ex_unlink(old);
		old->gone = 1;
		TAILQ_REMOVE(&mc_executors, old, entry);
		/* Kept allocated: pollers and logs may point at it. */
		old->state = MC_EX_UNREGISTERED;
	}
	ex = mc_calloc(1, sizeof(*ex));
	snprintf(ex->id, sizeof(ex->id), "%s", id);
	ex->name = mc_strdup(name);
	ex->type = mc_strdup(type);
	ex->colony = mc_strdup(colony);
	if (asprintf(&ex->namekey, "%s\001%s", colony, name) == -1)
		fatal("asprintf");
	ex->state = MC_EX_PENDING;
	ex->commission_us = mc_now_us();
	TAILQ_INSERT_TAIL(&mc_executors, ex, entry);
	mc_ex_link(ex);
	mc_ex_json(&b, ex);
	mc_reply_sb(r, &b);
	sb_free(&b);
}

/* approve / reject / remove / get share their lookup and texts. */
static struct mc_executor *
mc_ex_lookup(struct mc_req *r, const char *verb, int owner)
{
	const char		*colony, *name;
	struct mc_executor	*ex;
	char			 msg[512];

	if (mc_getstr(r->msg, "colonyname", &colony) == -1 ||
	    mc_getstr(r->msg, "executorname", &name) == -1) {
		mc_error(r->req, 400, "%s", r->h->badjson);
		return NULL;
	}
	if ((ex = mc_ex_byname(colony, name)) == NULL) {
		mc_error(r->req, 500, "Failed to %s executor, executor is nil",
		    verb);
		return NULL;
	}
	if (owner) {
		if (mc_require_owner(r->id, ex->colony, msg, sizeof(msg)) ==
		    -1) {
			mc_error(r->req, 403, "%s", msg);
			return NULL;
		}
	} else if (mc_require_member(r->id, ex->colony, 1, msg,
	    sizeof(msg)) == -1) {
		mc_error(r->req, 403, "%s", msg);
		return NULL;
	}
	return ex;
}

void
mc_h_approve(struct mc_req *r)
{
	struct mc_executor	*ex, *e;

	if ((ex = mc_ex_lookup(r, "approve", 1)) == NULL)
		return;
	/* The real server approves by id: every row sharing it. */
	for (e = mc_ex_byid(ex->id); e != NULL; e = e->idnext)
		e->state = MC_EX_APPROVED;
	mc_reply_empty(r);
}

void
mc_h_reject(struct mc_req *r)
{
	struct mc_executor	*ex, *e;

	if ((ex = mc_ex_lookup(r, "reject", 1)) == NULL)
		return;
	for (e = mc_ex_byid(ex->id); e != NULL; e = e->idnext)
		e->state = MC_EX_REJECTED;
	mc_reply_empty(r);
}

void
mc_h_removeexecutor(struct mc_req *r)
{
	struct mc_executor	*ex;

	if ((ex = mc_ex_lookup(r, "remove", 1)) == NULL)
		return;
	mc_ex_remove(ex);
	mc_reply_empty(r);
}

void
mc_h_getexecutor(struct mc_req *r)
{
	struct mc_executor	*ex;
	struct sb		 b = { NULL, 0, 0 };

	if ((ex = mc_ex_lookup(r, "get", 0)) == NULL)
		return;
	mc_ex_json(&b, ex);
	mc_reply_sb(r, &b);
	sb_free(&b);
}

void
mc_h_addfunction(struct mc_req *r)
{
	json_t			*fo;
	const char		*exname, *extype, *colony, *funcname;
	struct mc_executor	*ex;
	struct mc_function	*f;
	char			 msg[512];
	struct sb		 b = { NULL, 0, 0 };

	if (mc_getobj(r->msg, "fun", &fo) == -1 ||
	    mc_getstr(fo, "executorname", &exname) == -1 ||
	    mc_getstr(fo, "executortype", &extype) == -1 ||
	    mc_getstr(fo, "colonyname", &colony) == -1 ||
	    mc_getstr(fo, "funcname", &funcname) == -1)
		MC_BADJSON(r);
	if (fo == NULL) {
		mc_error(r->req, 400, "Failed to add function, function is nil");
		return;
	}
	if (mc_require_member(r->id, colony, 1, msg, sizeof(msg)) == -1) {
		mc_error(r->req, 403, "%s", msg);
		return;
	}
	ex = mc_ex_byid(r->id);
	if (ex == NULL || strcmp(ex->name, exname) != 0) {
		mc_error(r->req, 403,
		    "Not allowed to add a function to another executor");
		return;
	}
	f = mc_calloc(1, sizeof(*f));
	mc_randid(f->functionid);
	f->executorname = mc_strdup(exname);
	f->executortype = mc_strdup(extype);
	f->colony = mc_strdup(colony);
	f->funcname = mc_strdup(funcname);
	TAILQ_INSERT_TAIL(&mc_functions, f, entry);
	sb_printf(&b, "{\"functionid\":\"%s\",\"executorname\":",
	    f->functionid);
	sb_gostr(&b, exname, strlen(exname));
	sb_adds(&b, ",\"executortype\":");
	sb_gostr(&b, extype, strlen(extype));
	sb_adds(&b, ",\"colonyname\":");
	sb_gostr(&b, colony, strlen(colony));
	sb_adds(&b, ",\"funcname\":");
	sb_gostr(&b, funcname, strlen(funcname));
	sb_adds(&b, ",\"counter\":0,\"minwaittime\":0,\"maxwaittime\":0,"
	    "\"minexectime\":0,\"maxexectime\":0,\"avgwaittime\":0,"
	    "\"avgexectime\":0}");
	mc_reply_sb(r, &b);
	sb_free(&b);
}

/*
 * versionmsg (unsigned): rpc.VersionMsg as json.Marshal writes it, with
 * the build version and build time a Go binary gets from -ldflags; ours
 * has no build time to report, like a Go build without them.
 */
void
mc_h_version(struct mc_req *r)
{
	struct sb	b = { NULL, 0, 0 };

	sb_adds(&b, "{\"buildversion\":");
	sb_gostr(&b, MC_BUILD_VERSION, strlen(MC_BUILD_VERSION));
	sb_adds(&b, ",\"buildtime\":\"\",\"msgtype\":\"versionmsg\"}");
	mc_reply_sb(r, &b);
	sb_free(&b);
}

/*
 * getserverinfomsg (unsigned, payload not even decoded): core.ServerInfo
 * as buildServerInfoFromEnv() makes it: BUILD_VERSION and BUILD_TIME
 * from the environment (else the version, and the time of the request
 * in RFC 3339), and one "http" backend whose host, port and TLS come
 * from COLONIES_SERVER_HTTP_HOST, _PORT and _TLS; where the real server
 * falls back to its defaults (0.0.0.0, 50080) this one gives the
 * address it listens on.  tls and insecure are omitempty: false is not
 * written.
 */
void
mc_serverinfo(struct evhttp_request *req)
{
	struct sb	 b = { NULL, 0, 0 };
	const char	*version, *btime, *host, *v;
	char		 now[32];
	struct tm	 tm;
	time_t		 t;
	int		 port = mc_listen_port, p;

	if ((version = getenv("BUILD_VERSION")) == NULL || *version == '\0')
		version = MC_BUILD_VERSION;
	if ((btime = getenv("BUILD_TIME")) == NULL || *btime == '\0') {
		t = time(NULL);
		gmtime_r(&t, &tm);
		strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", &tm);
		btime = now;
	}
	if ((host = getenv("COLONIES_SERVER_HTTP_HOST")) == NULL ||
	    *host == '\0')
		host = mc_listen_host;
	/* fmt.Sscanf("%d"): a leading integer, else the default stays. */
	if ((v = getenv("COLONIES_SERVER_HTTP_PORT")) != NULL &&
	    sscanf(v, "%d", &p) == 1)
		port = p;
	v = getenv("COLONIES_SERVER_HTTP_TLS");
	sb_adds(&b, "{\"buildversion\":");
	sb_gostr(&b, version, strlen(version));
	sb_adds(&b, ",\"buildtime\":");
	sb_gostr(&b, btime, strlen(btime));
	sb_printf(&b, ",\"backends\":[{\"type\":\"http\",\"port\":%d", port);
	if (*host != '\0') {
		sb_adds(&b, ",\"host\":");
		sb_gostr(&b, host, strlen(host));
	}
	if (v != NULL && strcmp(v, "true") == 0)
		sb_adds(&b, ",\"tls\":true");
	sb_adds(&b, "}]}");
	mc_send(req, 200, "getserverinfomsg", b.s, b.len);
	sb_free(&b);
}

/*
 * getcolonystatsmsg: core.Statistics, json.Marshal, for one colony
 * ("colonies" is 1; no workflows here).  The colony is looked up before
 * membership is checked, and a caller that is not an approved member
 * gets no error: the real handler just returns (HTTP 200, empty body).
 */
void
mc_h_colonystats(struct mc_req *r)
{
	const char		*colony;
	struct mc_colony	*c;
	struct mc_executor	*ex;
	struct mc_process	*p;
	uint64_t		 n[MC_NSTATES];
	unsigned long		 nex = 0, nactive = 0, nunreg = 0;
	char			 msg[512];
	struct sb		 b = { NULL, 0, 0 };

	if (mc_getstr(r->msg, "colonyname", &colony) == -1)
		MC_BADJSON(r);
	if ((c = mc_colony_find(colony)) == NULL) {
		mc_error(r->req, 400, "Colony with name <%s> not found", colony);
		return;
	}
	if (mc_require_member(r->id, c->name, 1, msg, sizeof(msg)) == -1) {
		mc_reply_nothing(r);
		return;
	}
	TAILQ_FOREACH(ex, &mc_executors, entry) {
		if (strcmp(ex->colony, c->name) != 0)
			continue;
		nex++;
		if (ex->state == MC_EX_APPROVED)
			nactive++;
		else if (ex->state == MC_EX_UNREGISTERED)
			nunreg++;
	}
	memset(n, 0, sizeof(n));
	TAILQ_FOREACH(p, &mc_processes, all)
		if (strcmp(p->colony, c->name) == 0)
			n[p->state]++;
	sb_printf(&b, "{\"colonies\":1,\"executors\":%lu,"
	    "\"activeexecutors\":%lu,\"unregisteredexecutors\":%lu,"
	    "\"waitingprocesses\":%llu,\"runningprocesses\":%llu,"
	    "\"successfulprocesses\":%llu,\"failedprocesses\":%llu,"
	    "\"cancelledprocesses\":%llu,\"waitingworkflows\":0,"
	    "\"runningworkflows\":0,\"successfulworkflows\":0,"
	    "\"failedworkflows\":0,\"cancelledworkflows\":0}", nex, nactive,
	    nunreg, (unsigned long long)n[MC_WAITING],
	    (unsigned long long)n[MC_RUNNING],
	    (unsigned long long)n[MC_SUCCESS],
	    (unsigned long long)n[MC_FAILED],
	    (unsigned long long)n[MC_CANCELLED]);
	mc_reply_sb(r, &b);
	sb_free(&b);
}
