/*
 * minicolonies-cli-cmd.c: the client commands that go through the C
 * ColonyOS client (colonies.c): keys, colony and executor setup, submit,
 * get, list, assign, close, fail and log.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "colonies.h"
#include "minicolonies.h"

int
cli_keygen(struct cli *o)
{
	struct crypto_key	key;
	char			cause[FB_CAUSE_MAX], hex[65];
	int			fd;
	FILE			*f;

	if (o->nargs != 1)
		return cli_die("usage: minicolonies keygen FILE");
	if (crypto_key_generate(&key, cause, sizeof(cause)) == -1)
		return cli_die("keygen: %s", cause);
	if ((fd = open(o->args[0], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) == -1 || (f = fdopen(fd, "w")) == NULL) {
		crypto_key_clear(&key);
		return cli_die("%s: %s", o->args[0], strerror(errno));
	}
	crypto_hex(key.seckey, sizeof(key.seckey), hex);
	fprintf(f, "%s\n", hex);
	explicit_bzero(hex, sizeof(hex));
	if (fclose(f) == EOF) {
		crypto_key_clear(&key);
		return cli_die("%s: %s", o->args[0], strerror(errno));
	}
	printf("%s\n", key.id);
	crypto_key_clear(&key);
	return 0;
}

int
cli_id(struct cli *o)
{
	struct crypto_key	key;

	if (cli_key(&o->key, "", &key) != 0)
		return 1;
	printf("%s\n", key.id);
	crypto_key_clear(&key);
	return 0;
}

int
cli_colony_add(struct cli *o)
{
	struct colonies		*c;
	struct crypto_key	 owner;
	char			 cause[FB_CAUSE_MAX];
	enum col_err		 e;

	if (o->name == NULL)
		return cli_die("colony add: --name is required");
	if (cli_key(&o->owner, "owner", &owner) != 0)
		return 1;
	if ((c = cli_open(o, &o->server, "server")) == NULL) {
		crypto_key_clear(&owner);
		return 1;
	}
	e = colonies_add_colony(c, owner.id, o->name, cause, sizeof(cause));
	crypto_key_clear(&owner);
	colonies_free(c);
	if (e != COL_OK)
		return cli_err("colony add", e, cause);
	printf("%s\n", o->name);
	return 0;
}

int
cli_executor_add(struct cli *o)
{
	struct colonies		*c;
	struct crypto_key	 ex;
	char			 cause[FB_CAUSE_MAX], id[CRYPTO_ID_HEXLEN + 1];
	enum col_err		 e;

	if (o->colony == NULL || o->name == NULL || o->type == NULL)
		return cli_die("executor add: --colony, --name and --type are "
		    "required");
	if (o->id != NULL)
		snprintf(id, sizeof(id), "%s", o->id);
	else {
		if (cli_key(&o->executor, "executor", &ex) != 0)
			return 1;
		memcpy(id, ex.id, sizeof(id));
		crypto_key_clear(&ex);
	}
	if ((c = cli_open(o, &o->owner, "owner")) == NULL)
		return 1;
	e = colonies_add_executor(c, o->colony, id, o->type, o->name, cause,
	    sizeof(cause));
	if (e == COL_OK && o->approve)
		e = colonies_approve_executor(c, o->colony, o->name, cause,
		    sizeof(cause));
	colonies_free(c);
	if (e != COL_OK)
		return cli_err("executor add", e, cause);
	printf("%s\n", id);
	return 0;
}

int
cli_executor_simple(struct cli *o, const char *verb)
{
	struct colonies	*c;
	json_t		*p, *reply = NULL;
	char		 cause[FB_CAUSE_MAX], msgtype[64];
	enum col_err	 e;
	int		 get = strcmp(verb, "get") == 0;

	if (o->colony == NULL || o->name == NULL)
		return cli_die("executor %s: --colony and --name are required",
		    verb);
	if ((c = cli_open(o, get ? &o->key : &o->owner,
	    get ? "" : "owner")) == NULL)
		return 1;
	snprintf(msgtype, sizeof(msgtype), "%sexecutormsg", verb);
	p = json_pack("{s:s, s:s}", "colonyname", o->colony, "executorname",
	    o->name);
	e = colonies_call(c, msgtype, p, CLI_REQUEST_MS, &reply, cause,
	    sizeof(cause));
	json_decref(p);
	colonies_free(c);
	if (e != COL_OK)
		return cli_err(msgtype, e, cause);
	if (get && reply != NULL) {
		char *s = json_dumps(reply, JSON_COMPACT | JSON_PRESERVE_ORDER);

		if (s != NULL)
			printf("%s\n", s);
		free(s);
	}
	json_decref(reply);
	return 0;
}

int
cli_setup(struct cli *o)
{
	struct colonies		*c;
	struct crypto_key	 owner, sub;
	char			 cause[FB_CAUSE_MAX];
	enum col_err		 e;
	const char		*subname = o->subname ? o->subname : "submitter";
	const char		*subtype = o->subtype ? o->subtype : "submitter";

	if (o->colony == NULL)
		return cli_die("setup: --colony is required");
	if (cli_key(&o->owner, "owner", &owner) != 0)
		return 1;
	if (cli_key(&o->submitter, "submitter", &sub) != 0) {
		crypto_key_clear(&owner);
		return 1;
	}
	if ((c = cli_open(o, &o->server, "server")) == NULL) {
		crypto_key_clear(&owner);
		crypto_key_clear(&sub);
		return 1;
	}
	e = colonies_add_colony(c, owner.id, o->colony, cause, sizeof(cause));
	colonies_free(c);
	/* Idempotent-ish: an existing colony is fine. */
	if (e != COL_OK && !(e == COL_BADREQ && strstr(cause,
	    "already exists") != NULL)) {
		crypto_key_clear(&owner);
		crypto_key_clear(&sub);
		return cli_err("setup: add colony", e, cause);
	}
	c = colonies_open(o->url, &owner, CLI_CONNECT_MS, CLI_REQUEST_MS);
	crypto_key_clear(&owner);
	if (c == NULL) {
		crypto_key_clear(&sub);
		return cli_die("cannot create a ColonyOS client");
	}
	e = colonies_add_executor(c, o->colony, sub.id, subtype, subname,
	    cause, sizeof(cause));
	crypto_key_clear(&sub);
	if (e != COL_OK && !(e == COL_BADREQ && strstr(cause,
	    "already exists") != NULL)) {
		colonies_free(c);
		return cli_err("setup: add submitter", e, cause);
	}
	e = colonies_approve_executor(c, o->colony, subname, cause,
	    sizeof(cause));
	colonies_free(c);
	if (e != COL_OK)
		return cli_err("setup: approve submitter", e, cause);
	return 0;
}

static json_t *
cli_spec(struct cli *o, const char *arg, size_t arglen)
{
	json_t		*spec, *cond, *kw, *names, *a;
	json_error_t	 jerr;
	char		*s, *tok, *save;

	if ((a = json_stringn(arg, arglen)) == NULL) {
		cli_die("submit: argument is not valid UTF-8");
		return NULL;
	}
	if (o->kwargs != NULL) {
		if ((kw = json_loads(o->kwargs, 0, &jerr)) == NULL ||
		    !json_is_object(kw)) {
			json_decref(kw);
			json_decref(a);
			cli_die("submit: --kwargs must be a JSON object");
			return NULL;
		}
	} else
		kw = json_object();
	cond = json_pack("{s:s, s:s}", "colonyname", o->colony,
	    "executortype", o->type);
	if (o->names != NULL) {
		names = json_array();
		if ((s = strdup(o->names)) == NULL)
			fatal("strdup");
		for (tok = strtok_r(s, ",", &save); tok != NULL;
		    tok = strtok_r(NULL, ",", &save))
			json_array_append_new(names, json_string(tok));
		free(s);
		json_object_set_new(cond, "executornames", names);
	}
	spec = json_pack("{s:s, s:[o], s:o, s:i, s:i, s:i, s:i, s:o}",
	    "funcname", o->funcname, "args", a, "kwargs", kw,
	    "priority", o->priority, "maxwaittime", o->maxwaittime,
	    "maxexectime", o->maxexectime, "maxretries", o->maxretries,
	    "conditions", cond);
	if (spec != NULL && o->label != NULL)
		json_object_set_new(spec, "label", json_string(o->label));
	return spec;
}

static int
cli_submit_one(struct cli *o, struct colonies *c, const char *arg,
    size_t len)
{
	struct col_process	 p;
	json_t			*spec;
	char			 cause[FB_CAUSE_MAX];
	enum col_err		 e;

	if ((spec = cli_spec(o, arg, len)) == NULL)
		return 1;
	memset(&p, 0, sizeof(p));
	e = colonies_submit(c, spec, &p, cause, sizeof(cause));
	json_decref(spec);
	if (e != COL_OK)
		return cli_err("submit", e, cause);
	printf("%s\n", p.processid);
	col_process_free(&p);
	return 0;
}

int
cli_submit(struct cli *o)
{
	struct colonies	*c;
	char		*buf = NULL, *line = NULL;
	size_t		 len, cap = 0;
	ssize_t		 n;
	int		 i, ret = 0;
	FILE		*f;

	if (o->colony == NULL || o->type == NULL)
		return cli_die("submit: --colony and --type are required");
	if (o->nargs == 0 && !o->stdinlines)
		return cli_die("submit: give FILE... or --stdin-lines");
	if ((c = cli_open(o, &o->key, "")) == NULL)
		return 1;
	for (i = 0; i < o->nargs && ret == 0; i++) {
		if ((f = fopen(o->args[i], "rb")) == NULL) {
			ret = cli_die("%s: %s", o->args[i], strerror(errno));
			break;
		}
		{
			struct sb	b = { NULL, 0, 0 };
			char		chunk[65536];
			size_t		r;

			sb_grow(&b, 1);
			while ((r = fread(chunk, 1, sizeof(chunk), f)) > 0)
				sb_add(&b, chunk, r);
			fclose(f);
			ret = cli_submit_one(o, c, b.s, b.len);
			sb_free(&b);
		}
	}
	if (o->stdinlines) {
		while (ret == 0 && (n = getline(&line, &cap, stdin)) != -1) {
			len = (size_t)n;
			while (len > 0 && (line[len - 1] == '\n' ||
			    line[len - 1] == '\r'))
				len--;
			if (len == 0)
				continue;
			ret = cli_submit_one(o, c, line, len);
		}
		free(line);
	}
	free(buf);
	fflush(stdout);
	colonies_free(c);
	return ret;
}

static void
cli_print_json(json_t *v)
{
	char	*s;

	s = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
	if (s != NULL)
		printf("%s\n", s);
	free(s);
}

int
cli_get_cmd(struct cli *o)
{
	struct colonies		*c;
	struct col_process	 p;
	char			 cause[FB_CAUSE_MAX];
	enum col_err		 e;
	int			 i, ret = 0;

	if (o->nargs == 0)
		return cli_die("get: PROCESSID... required");
	if ((c = cli_open(o, &o->key, "")) == NULL)
		return 1;
	for (i = 0; i < o->nargs; i++) {
		memset(&p, 0, sizeof(p));
		e = colonies_get_process(c, o->args[i], &p, cause,
		    sizeof(cause));
		if (e != COL_OK) {
			ret = cli_err("get", e, cause);
			continue;
		}
		cli_print_json(p.raw);
		col_process_free(&p);
	}
	colonies_free(c);
	return ret;
}

int
cli_list(struct cli *o)
{
	struct colonies	*c;
	json_t		*p, *reply = NULL, *e1;
	char		 cause[FB_CAUSE_MAX];
	enum col_err	 e;
	size_t		 i;

	if (o->colony == NULL || o->state < 0)
		return cli_die("list: --colony and --state are required");
	if ((c = cli_open(o, &o->key, "")) == NULL)
		return 1;
	p = json_pack("{s:s, s:I, s:i, s:s, s:s, s:s}", "colonyname",
	    o->colony, "count", (json_int_t)(o->count > 0 ? o->count : 100),
	    "state", o->state, "executortype", o->type ? o->type : "",
	    "label", o->label ? o->label : "", "initiator", "");
	e = colonies_call(c, "getprocessesmsg", p, CLI_REQUEST_MS, &reply,
	    cause, sizeof(cause));
	json_decref(p);
	colonies_free(c);
	if (e != COL_OK)
		return cli_err("list", e, cause);
	if (json_is_array(reply))
		json_array_foreach(reply, i, e1)
			cli_print_json(e1);
	json_decref(reply);
	return 0;
}

int
cli_assign(struct cli *o)
{
	struct colonies		*c;
	struct col_process	 p;
	char			 cause[FB_CAUSE_MAX];
	enum col_err		 e;

	if (o->colony == NULL)
		return cli_die("assign: --colony is required");
	if ((c = cli_open(o, &o->key, "")) == NULL)
		return 1;
	memset(&p, 0, sizeof(p));
	e = colonies_assign(c, o->colony, o->timeout != 0 ? (int)o->timeout :
	    10, &p, cause, sizeof(cause));
	colonies_free(c);
	if (e != COL_OK)
		return cli_err("assign", e, cause);
	cli_print_json(p.raw);
	col_process_free(&p);
	return 0;
}

int
cli_close(struct cli *o, int failed)
{
	struct colonies	*c;
	json_t		*out = NULL;
	json_error_t	 jerr;
	char		 cause[FB_CAUSE_MAX];
	enum col_err	 e;

	if (o->nargs != 1)
		return cli_die("%s: one PROCESSID required",
		    failed ? "fail" : "close");
	if (!failed && o->out != NULL && ((out = json_loads(o->out, 0,
	    &jerr)) == NULL || !json_is_array(out))) {
		json_decref(out);
		return cli_die("close: --out must be a JSON array");
	}
	if ((c = cli_open(o, &o->key, "")) == NULL) {
		json_decref(out);
		return 1;
	}
	if (failed)
		e = colonies_close_failed(c, o->args[0], o->errors,
		    o->nerrors, cause, sizeof(cause));
	else
		e = colonies_close_successful(c, o->args[0], out, cause,
		    sizeof(cause));
	json_decref(out);
	colonies_free(c);
	if (e != COL_OK)
		return cli_err(failed ? "fail" : "close", e, cause);
	return 0;
}

int
cli_log(struct cli *o)
{
	struct colonies	*c;
	char		 cause[FB_CAUSE_MAX];
	enum col_err	 e;

	if (o->nargs != 1 || o->message == NULL)
		return cli_die("log: PROCESSID and --message required");
	if ((c = cli_open(o, &o->key, "")) == NULL)
		return 1;
	e = colonies_add_log(c, o->args[0], o->message, cause, sizeof(cause));
	colonies_free(c);
	if (e != COL_OK)
		return cli_err("log", e, cause);
	return 0;
}
