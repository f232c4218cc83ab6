/*
 * minicolonies-state.c: what the server knows besides processes: its
 * colonies, their executors (by name and by id, rows sharing an id
 * chained) and registered functions, the membership and ownership checks
 * with the real server's texts, and the small helpers every file uses
 * (wall clock, Go time format, ids, a hash map).
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "colonies.h"
#include "minicolonies.h"

struct mc_colonylist	mc_colonies = TAILQ_HEAD_INITIALIZER(mc_colonies);
struct mc_exlist	mc_executors = TAILQ_HEAD_INITIALIZER(mc_executors);
struct mc_funclist	mc_functions = TAILQ_HEAD_INITIALIZER(mc_functions);
static struct hmap	mc_exbyname;
static struct hmap	mc_exbyid;

int64_t
mc_now_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

char *
mc_strdup(const char *s)
{
	char	*p;

	if ((p = strdup(s != NULL ? s : "")) == NULL)
		fatal("strdup");
	return p;
}

void *
mc_calloc(size_t n, size_t sz)
{
	void	*p;

	if ((p = calloc(n, sz)) == NULL)
		fatal("calloc");
	return p;
}

/* RFC 3339 with trimmed fractional seconds, UTC, as Go prints a time. */
void
mc_fmt_time(int64_t us, char *buf, size_t len)
{
	static char	last[64];
	static size_t	lastlen;
	static time_t	lastt;
	struct tm	tm;
	time_t		t;
	char		frac[16];
	int		f, i, n;

	if (us == 0) {
		snprintf(buf, len, "0001-01-01T00:00:00Z");
		return;
	}
	t = (time_t)(us / 1000000);
	f = (int)(us % 1000000);
	if (us < 0) {
		/* Never in practice; kept as it always printed. */
		gmtime_r(&t, &tm);
		snprintf(frac, sizeof(frac), ".%06d", f);
		for (i = (int)strlen(frac) - 1; i > 0 && frac[i] == '0'; i--)
			frac[i] = '\0';
		snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d%sZ",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec, f != 0 ? frac : "");
		return;
	}
	/*
	 * An assign reply prints five times, mostly of the same second:
	 * format the date part once per second, the fraction by hand.
	 */
	if (t != lastt || lastlen == 0) {
		gmtime_r(&t, &tm);
		n = snprintf(last, sizeof(last), "%04d-%02d-%02dT%02d:%02d:%02d",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec);
		if (n < 0 || (size_t)n >= sizeof(last))
			n = 0;
		lastlen = (size_t)n;
		lastt = t;
	}
	frac[0] = '\0';
	if (f != 0) {
		frac[0] = '.';
		for (i = 6; i >= 1; i--, f /= 10)
			frac[i] = (char)('0' + f % 10);
		frac[7] = '\0';
		for (i = 6; i > 0 && frac[i] == '0'; i--)
			frac[i] = '\0';
	}
	if (lastlen + strlen(frac) + 2 > len) {
		snprintf(buf, len, "%.*s%sZ", (int)lastlen, last, frac);
		return;
	}
	memcpy(buf, last, lastlen);
	n = (int)strlen(frac);
	memcpy(buf + lastlen, frac, (size_t)n);
	buf[lastlen + (size_t)n] = 'Z';
	buf[lastlen + (size_t)n + 1] = '\0';
}

void
mc_randid(char *out)
{
	unsigned char	raw[32];

	if (crypto_random(raw, sizeof(raw)) == -1)
		fatal("crypto_random");
	crypto_hex(raw, sizeof(raw), out);
}

/* --- hash map ------------------------------------------------------------ */

static uint64_t
hmap_hash(const char *k, size_t n)
{
	uint64_t	h = 1469598103934665603ULL;
	size_t		i;

	for (i = 0; i < n; i++) {
		h ^= (unsigned char)k[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static void
hmap_resize(struct hmap *m)
{
	struct hent	**nb, *e, *next;
	size_t		  i, nsz = m->nb ? m->nb * 2 : 64;

	nb = mc_calloc(nsz, sizeof(*nb));
	for (i = 0; i < m->nb; i++) {
		for (e = m->b[i]; e != NULL; e = next) {
			next = e->next;
			e->next = nb[e->h & (nsz - 1)];
			nb[e->h & (nsz - 1)] = e;
		}
	}
	free(m->b);
	m->b = nb;
	m->nb = nsz;
}

void *
hmap_get(struct hmap *m, const char *k, size_t n)
{
	struct hent	*e;
	uint64_t	 h;

	if (m->nb == 0)
		return NULL;
	h = hmap_hash(k, n);
	for (e = m->b[h & (m->nb - 1)]; e != NULL; e = e->next)
		if (e->h == h && e->klen == n && memcmp(e->key, k, n) == 0)
			return e->val;
	return NULL;
}

/* Insert or replace. */
void
hmap_put(struct hmap *m, const char *k, size_t n, void *val)
{
	struct hent	*e;
	uint64_t	 h = hmap_hash(k, n);

	if (m->n + 1 > m->nb * 2 / 3 + 1 || m->nb == 0)
		hmap_resize(m);
	for (e = m->b[h & (m->nb - 1)]; e != NULL; e = e->next) {
		if (e->h == h && e->klen == n && memcmp(e->key, k, n) == 0) {
			e->key = k;
			e->val = val;
			return;
		}
	}
	e = mc_calloc(1, sizeof(*e));
	e->h = h;
	e->key = k;
	e->klen = n;
	e->val = val;
	e->next = m->b[h & (m->nb - 1)];
	m->b[h & (m->nb - 1)] = e;
	m->n++;
}

void
hmap_del(struct hmap *m, const char *k, size_t n)
{
	struct hent	**pp, *e;
	uint64_t	  h;

	if (m->nb == 0)
		return;
	h = hmap_hash(k, n);
	for (pp = &m->b[h & (m->nb - 1)]; (e = *pp) != NULL; pp = &e->next) {
		if (e->h == h && e->klen == n && memcmp(e->key, k, n) == 0) {
			*pp = e->next;
			free(e);
			m->n--;
			return;
		}
	}
}

/* --- colonies, executors, membership ----------------------------------- */

struct mc_colony *
mc_colony_find(const char *name)
{
	struct mc_colony	*c;

	TAILQ_FOREACH(c, &mc_colonies, entry)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

struct mc_executor *
mc_ex_byname(const char *colony, const char *name)
{
	char			 key[1024];
	int			 n;

	n = snprintf(key, sizeof(key), "%s\001%s", colony, name);
	if (n < 0 || (size_t)n >= sizeof(key))
		return NULL;
	return hmap_get(&mc_exbyname, key, (size_t)n);
}

/* GetExecutorByID: the first row with that id. */
struct mc_executor *
mc_ex_byid(const char *id)
{
	return hmap_get(&mc_exbyid, id, strlen(id));
}

void
mc_ex_link(struct mc_executor *ex)
{
	struct mc_executor	*first, *e;

	hmap_put(&mc_exbyname, ex->namekey, strlen(ex->namekey), ex);
	if ((first = mc_ex_byid(ex->id)) == NULL) {
		hmap_put(&mc_exbyid, ex->id, strlen(ex->id), ex);
		return;
	}
	for (e = first; e->idnext != NULL; e = e->idnext)
		;
	e->idnext = ex;
}

void
mc_ex_unlink(struct mc_executor *ex)
{
	struct mc_executor	*first, **pp;

	hmap_del(&mc_exbyname, ex->namekey, strlen(ex->namekey));
	if ((first = mc_ex_byid(ex->id)) == NULL)
		return;
	if (first == ex) {
		if (ex->idnext != NULL)
			hmap_put(&mc_exbyid, ex->idnext->id,
			    strlen(ex->idnext->id), ex->idnext);
		else
			hmap_del(&mc_exbyid, ex->id, strlen(ex->id));
		ex->idnext = NULL;
		return;
	}
	for (pp = &first->idnext; *pp != NULL; pp = &(*pp)->idnext) {
		if (*pp == ex) {
			*pp = ex->idnext;
			break;
		}
	}
	ex->idnext = NULL;
}

/* Validator.RequireMembership, with its texts. 0 or -1 + message. */
int
mc_require_member(const char *id, const char *colony, int approved,
    char *msg, size_t msglen)
{
	struct mc_colony	*c = mc_colony_find(colony);
	struct mc_executor	*ex;

	if (c != NULL && (ex = mc_ex_byid(id)) != NULL &&
	    strcmp(ex->colony, c->name) == 0 &&
	    (!approved || ex->state == MC_EX_APPROVED))
		return 0;
	/* The executor check failed: the real server then tries users. */
	if (c == NULL)
		snprintf(msg, msglen, "Colony with name <%s> does not exists",
		    colony);
	else
		snprintf(msg, msglen,
		    "Access denied, not a member of Colony with name <%s>",
		    colony);
	return -1;
}

int
mc_require_owner(const char *id, const char *colony, char *msg,
    size_t msglen)
{
	struct mc_colony	*c;

	if (*colony == '\0') {
		snprintf(msg, msglen, "Empty Colony name");
		return -1;
	}
	if ((c = mc_colony_find(colony)) == NULL) {
		snprintf(msg, msglen, "Colony with name <%s> does not exists",
		    colony);
		return -1;
	}
	if (strcmp(id, c->id) != 0) {
		snprintf(msg, msglen, "Access denied, not colony owner");
		return -1;
	}
	return 0;
}

/* Executor.ToJSON is json.Marshal: compact. */
void
mc_ex_json(struct sb *b, struct mc_executor *ex)
{
	char	t1[40], t2[40];

	mc_fmt_time(ex->commission_us, t1, sizeof(t1));
	mc_fmt_time(ex->lastheard_us, t2, sizeof(t2));
	sb_adds(b, "{\"executorid\":");
	sb_gostr(b, ex->id, strlen(ex->id));
	sb_adds(b, ",\"executortype\":");
	sb_gostr(b, ex->type, strlen(ex->type));
	sb_adds(b, ",\"executorname\":");
	sb_gostr(b, ex->name, strlen(ex->name));
	sb_adds(b, ",\"colonyname\":");
	sb_gostr(b, ex->colony, strlen(ex->colony));
	sb_printf(b, ",\"state\":%d,\"requirefuncreg\":false,"
	    "\"commissiontime\":\"%s\",\"lastheardfromtime\":\"%s\","
	    "\"capabilities\":{\"hardware\":null,\"software\":null},"
	    "\"allocations\":{\"projects\":null}}", ex->state, t1, t2);
}

/*
 * RemoveExecutorByName, as removeexecutormsg and the stale cleanup both
 * call it: unregistered (state 3), functions dropped, its running
 * processes back in the queue.
 */
void
mc_ex_remove(struct mc_executor *ex)
{
	struct mc_function	*f, *next;

	ex->state = MC_EX_UNREGISTERED;
	for (f = TAILQ_FIRST(&mc_functions); f != NULL; f = next) {
		next = TAILQ_NEXT(f, entry);
		if (strcmp(f->colony, ex->colony) == 0 &&
		    strcmp(f->executorname, ex->name) == 0) {
			TAILQ_REMOVE(&mc_functions, f, entry);
			free(f->executorname);
			free(f->executortype);
			free(f->colony);
			free(f->funcname);
			free(f);
		}
	}
	mc_requeue_running_of(ex->id);
}
