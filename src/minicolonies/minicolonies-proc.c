/*
 * minicolonies-proc.c: the Process object.  A submitted FunctionSpec is
 * normalised into the one the real server stores (every field, Go's
 * defaults), rendered once as Go's json.MarshalIndent would, and the
 * Process around it is rendered field by field on every reply: this is
 * the hot path of an assign.
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colonies.h"
#include "minicolonies.h"

struct mc_plist		mc_processes = TAILQ_HEAD_INITIALIZER(mc_processes);
struct hmap		mc_byid;
uint64_t		mc_seq;
uint64_t		mc_nstate[MC_NSTATES];

/*
 * Appenders for mc_proc_json, which renders every assign reply: plain
 * copies instead of vsnprintf (twice per call) over a 40-argument format.
 */
static void
mc_pj_key(struct sb *b, const char *lead, const char *ind, size_t indlen,
    const char *key)
{
	sb_adds(b, lead);
	sb_add(b, ind, indlen);
	sb_add(b, "  \"", 3);
	sb_adds(b, key);
	sb_add(b, "\": ", 3);
}

static void
mc_pj_qstr(struct sb *b, const char *v)
{
	sb_addc(b, '"');
	sb_adds(b, v);
	sb_addc(b, '"');
}

static void
mc_pj_int(struct sb *b, long long v)
{
	char			 buf[24], *q = buf + sizeof(buf);
	unsigned long long	 u = v < 0 ? 0ULL - (unsigned long long)v :
				    (unsigned long long)v;

	do {
		*--q = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0)
		*--q = '-';
	sb_add(b, q, (size_t)(buf + sizeof(buf) - q));
}

void
mc_proc_json(struct sb *b, struct mc_process *p, int depth)
{
	char	t[5][40];
	char	ind[16];
	size_t	il;
	int	i;

	for (i = 0; i < depth && i < 7; i++) {
		ind[2 * i] = ' ';
		ind[2 * i + 1] = ' ';
	}
	ind[2 * i] = '\0';
	il = (size_t)(2 * i);
	mc_fmt_time(p->submit_us, t[0], sizeof(t[0]));
	mc_fmt_time(p->start_us, t[1], sizeof(t[1]));
	mc_fmt_time(p->end_us, t[2], sizeof(t[2]));
	mc_fmt_time(p->waitdl_us, t[3], sizeof(t[3]));
	mc_fmt_time(p->execdl_us, t[4], sizeof(t[4]));
	sb_grow(b, 2048 + strlen(p->specjson));
	mc_pj_key(b, "{\n", ind, il, "processid");
	mc_pj_qstr(b, p->id);
	mc_pj_key(b, ",\n", ind, il, "initiatorid");
	mc_pj_qstr(b, p->initiatorid);
	mc_pj_key(b, ",\n", ind, il, "initiatorname");
	sb_gostr(b, p->initiatorname, strlen(p->initiatorname));
	mc_pj_key(b, ",\n", ind, il, "assignedexecutorid");
	mc_pj_qstr(b, p->assigned);
	mc_pj_key(b, ",\n", ind, il, "isassigned");
	sb_adds(b, p->isassigned ? "true" : "false");
	mc_pj_key(b, ",\n", ind, il, "state");
	mc_pj_int(b, p->state);
	mc_pj_key(b, ",\n", ind, il, "prioritytime");
	mc_pj_int(b, (long long)p->prioritytime);
	mc_pj_key(b, ",\n", ind, il, "submissiontime");
	mc_pj_qstr(b, t[0]);
	mc_pj_key(b, ",\n", ind, il, "starttime");
	mc_pj_qstr(b, t[1]);
	mc_pj_key(b, ",\n", ind, il, "endtime");
	mc_pj_qstr(b, t[2]);
	mc_pj_key(b, ",\n", ind, il, "waitdeadline");
	mc_pj_qstr(b, t[3]);
	mc_pj_key(b, ",\n", ind, il, "execdeadline");
	mc_pj_qstr(b, t[4]);
	mc_pj_key(b, ",\n", ind, il, "retries");
	mc_pj_int(b, p->retries);
	mc_pj_key(b, ",\n", ind, il, "attributes");
	sb_add(b, "[]", 2);
	mc_pj_key(b, ",\n", ind, il, "spec");
	if (depth == 0)
		sb_adds(b, p->specjson);
	else {
		/* Re-indent the cached depth-1 rendering. */
		const char	*s;

		for (s = p->specjson; *s != '\0'; s++) {
			sb_addc(b, *s);
			if (*s == '\n')
				sb_adds(b, ind);
		}
	}
	mc_pj_key(b, ",\n", ind, il, "waitforparents");
	sb_adds(b, "false");
	mc_pj_key(b, ",\n", ind, il, "parents");
	sb_add(b, "[]", 2);
	mc_pj_key(b, ",\n", ind, il, "children");
	sb_add(b, "[]", 2);
	mc_pj_key(b, ",\n", ind, il, "processgraphid");
	sb_add(b, "\"\"", 2);
	mc_pj_key(b, ",\n", ind, il, "in");
	sb_add(b, "[]", 2);
	mc_pj_key(b, ",\n", ind, il, "out");
	if (p->out != NULL)
		sb_gojson(b, p->out, depth + 1);
	else
		sb_add(b, "[]", 2);
	mc_pj_key(b, ",\n", ind, il, "errors");
	if (p->errors != NULL)
		sb_gojson(b, p->errors, depth + 1);
	else
		sb_add(b, "[]", 2);
	sb_addc(b, '\n');
	sb_add(b, ind, il);
	sb_addc(b, '}');
}

/*
 * Build the stored FunctionSpec as the real server returns it: every
 * field present, in Go's struct order.  -1 if a field has the wrong type.
 */
json_t *
mc_spec_normalize(json_t *in, struct mc_process *p)
{
	json_t		*spec, *cond, *gpu, *fs, *v, *gin, *fsin, *a;
	const char	*s, *cpu, *mem, *storage, *gname, *gmem;
	long long	 nodes, procs, ppn, walltime, gcount, gnodes;
	int		 prio, mwt, met, mr;
	size_t		 i;

	spec = json_object();
	if (mc_getobj(in, "conditions", &v) == -1)
		goto bad;
	cond = json_object();
	json_object_set_new(spec, "nodename", json_string(""));
	if (mc_getstr(in, "nodename", &s) == -1)
		goto bad2;
	json_object_set_new(spec, "nodename", json_string(s));
	if (mc_getstr(in, "funcname", &s) == -1)
		goto bad2;
	json_object_set_new(spec, "funcname", json_string(s));
	p->funcname = mc_strdup(s);
	if (mc_getarr(in, "args", &a) == -1)
		goto bad2;
	p->args = json_incref(a);
	json_object_set(spec, "args", a != NULL ? a : json_array());
	if (a == NULL)
		json_decref(json_object_get(spec, "args"));
	if (mc_getobj(in, "kwargs", &a) == -1)
		goto bad2;
	if (a != NULL)
		json_object_set(spec, "kwargs", a);
	else
		json_object_set_new(spec, "kwargs", json_object());
	if (mc_getint32(in, "priority", &prio) == -1 ||
	    mc_getint32(in, "maxwaittime", &mwt) == -1 ||
	    mc_getint32(in, "maxexectime", &met) == -1 ||
	    mc_getint32(in, "maxretries", &mr) == -1)
		goto bad2;
	json_object_set_new(spec, "priority", json_integer(prio));
	json_object_set_new(spec, "maxwaittime", json_integer(mwt));
	json_object_set_new(spec, "maxexectime", json_integer(met));
	json_object_set_new(spec, "maxretries", json_integer(mr));
	p->priority = prio;
	p->maxwaittime = mwt;
	p->maxexectime = met;
	p->maxretries = mr;

	if (mc_getstr(v, "colonyname", &s) == -1)
		goto bad2;
	json_object_set_new(cond, "colonyname", json_string(s));
	p->colony = mc_strdup(s);
	if (mc_getstrarr(v, "executornames", &a) == -1)
		goto bad2;
	if (a != NULL) {
		json_object_set(cond, "executornames", a);
		p->nnames = json_array_size(a);
		p->names = mc_calloc(p->nnames + 1, sizeof(char *));
		for (i = 0; i < p->nnames; i++)
			p->names[i] = mc_strdup(
			    json_string_value(json_array_get(a, i)));
	} else
		json_object_set_new(cond, "executornames", json_null());
	if (mc_getstr(v, "executortype", &s) == -1)
		goto bad2;
	json_object_set_new(cond, "executortype", json_string(s));
	p->type = mc_strdup(s);
	if (mc_getstrarr(v, "dependencies", &a) == -1)
		goto bad2;
	json_object_set(cond, "dependencies", a != NULL ? a : json_array());
	if (a == NULL)
		json_decref(json_object_get(cond, "dependencies"));
	if (mc_getint(v, "nodes", &nodes) == -1 ||
	    mc_getstr(v, "cpu", &cpu) == -1 ||
	    mc_getint(v, "processes", &procs) == -1 ||
	    mc_getint(v, "processespernode", &ppn) == -1 ||
	    mc_getstr(v, "mem", &mem) == -1 ||
	    mc_getstr(v, "storage", &storage) == -1 ||
	    mc_getobj(v, "gpu", &gin) == -1 ||
	    mc_getint(v, "walltime", &walltime) == -1 ||
	    mc_getstr(gin, "name", &gname) == -1 ||
	    mc_getstr(gin, "mem", &gmem) == -1 ||
	    mc_getint(gin, "count", &gcount) == -1 ||
	    mc_getint(gin, "nodecount", &gnodes) == -1)
		goto bad2;
	json_object_set_new(cond, "nodes", json_integer(nodes));
	json_object_set_new(cond, "cpu", json_string(*cpu ? cpu : "0m"));
	json_object_set_new(cond, "processes", json_integer(procs));
	json_object_set_new(cond, "processespernode", json_integer(ppn));
	json_object_set_new(cond, "mem", json_string(*mem ? mem : "0Mi"));
	json_object_set_new(cond, "storage",
	    json_string(*storage ? storage : "0Mi"));
	gpu = json_object();
	json_object_set_new(gpu, "name", json_string(gname));
	json_object_set_new(gpu, "mem", json_string(*gmem ? gmem : "0Mi"));
	json_object_set_new(gpu, "count", json_integer(gcount));
	json_object_set_new(gpu, "nodecount", json_integer(gnodes));
	json_object_set_new(cond, "gpu", gpu);
	json_object_set_new(cond, "walltime", json_integer(walltime));
	json_object_set_new(spec, "conditions", cond);

	if (mc_getstr(in, "label", &s) == -1)
		goto bad;
	json_object_set_new(spec, "label", json_string(s));
	p->label = mc_strdup(s);
	if (mc_getobj(in, "fs", &fsin) == -1 ||
	    mc_getstr(fsin, "mount", &s) == -1)
		goto bad;
	fs = json_object();
	json_object_set_new(fs, "mount", json_string(s));
	if (mc_getarr(fsin, "snapshots", &a) == -1) {
		json_decref(fs);
		goto bad;
	}
	json_object_set(fs, "snapshots", a != NULL ? a : json_null());
	if (a == NULL)
		json_decref(json_object_get(fs, "snapshots"));
	if (mc_getarr(fsin, "dirs", &a) == -1) {
		json_decref(fs);
		goto bad;
	}
	json_object_set(fs, "dirs", a != NULL ? a : json_null());
	if (a == NULL)
		json_decref(json_object_get(fs, "dirs"));
	json_object_set_new(spec, "fs", fs);
	if (mc_getobj(in, "env", &a) == -1)
		goto bad;
	if (a != NULL)
		json_object_set(spec, "env", a);
	else
		json_object_set_new(spec, "env", json_object());
	return spec;
bad2:
	json_decref(cond);
bad:
	json_decref(spec);
	return NULL;
}

/* Go map output order: object keys sorted, struct fields in order. */
void
mc_spec_json(struct sb *b, json_t *spec)
{
	static const char *const specf[] = { "nodename", "funcname", "args",
	    "kwargs", "priority", "maxwaittime", "maxexectime", "maxretries",
	    "conditions", "label", "fs", "env", NULL };
	static const char *const condf[] = { "colonyname", "executornames",
	    "executortype", "dependencies", "nodes", "cpu", "processes",
	    "processespernode", "mem", "storage", "gpu", "walltime", NULL };
	static const char *const gpuf[] = { "name", "mem", "count",
	    "nodecount", NULL };
	static const char *const fsf[] = { "mount", "snapshots", "dirs", NULL };
	const char *const	*f, *const *g;
	json_t			*cond, *sub;
	int			 first, first2;

	sb_adds(b, "{");
	first = 1;
	for (f = specf; *f != NULL; f++) {
		sb_adds(b, first ? "\n    \"" : ",\n    \"");
		first = 0;
		sb_adds(b, *f);
		sb_adds(b, "\": ");
		if (strcmp(*f, "conditions") == 0) {
			cond = json_object_get(spec, "conditions");
			sb_adds(b, "{");
			first2 = 1;
			for (g = condf; *g != NULL; g++) {
				sb_adds(b, first2 ? "\n      \"" :
				    ",\n      \"");
				first2 = 0;
				sb_adds(b, *g);
				sb_adds(b, "\": ");
				if (strcmp(*g, "gpu") == 0) {
					const char *const *h;
					int first3 = 1;

					sub = json_object_get(cond, "gpu");
					sb_adds(b, "{");
					for (h = gpuf; *h != NULL; h++) {
						sb_adds(b, first3 ?
						    "\n        \"" :
						    ",\n        \"");
						first3 = 0;
						sb_adds(b, *h);
						sb_adds(b, "\": ");
						sb_gojson(b,
						    json_object_get(sub, *h),
						    4);
					}
					sb_adds(b, "\n      }");
				} else
					sb_gojson(b, json_object_get(cond, *g),
					    3);
			}
			sb_adds(b, "\n    }");
		} else if (strcmp(*f, "fs") == 0) {
			const char *const *h;
			int first3 = 1;

			sub = json_object_get(spec, "fs");
			sb_adds(b, "{");
			for (h = fsf; *h != NULL; h++) {
				sb_adds(b, first3 ? "\n      \"" :
				    ",\n      \"");
				first3 = 0;
				sb_adds(b, *h);
				sb_adds(b, "\": ");
				sb_gojson(b, json_object_get(sub, *h), 3);
			}
			sb_adds(b, "\n    }");
		} else
			sb_gojson(b, json_object_get(spec, *f), 2);
	}
	sb_adds(b, "\n  }");
}

void
mc_proc_free(struct mc_process *p)
{
	size_t	i;

	hmap_del(&mc_byid, p->id, strlen(p->id));
	free(p->initiatorname);
	free(p->colony);
	free(p->type);
	for (i = 0; i < p->nnames; i++)
		free(p->names[i]);
	free(p->names);
	free(p->label);
	free(p->funcname);
	json_decref(p->args);
	free(p->specjson);
	json_decref(p->out);
	json_decref(p->errors);
	free(p);
}
