/*
 * fbee-proto.c: the master<->bee wire format of fbee-proto.h: the msgpack
 * messages of the channel and the status page.  Both sides use these
 * functions, so the format lives in exactly one place.
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "financebeed.h"
#include "fbee-proto.h"
static const char *const fbee_states[FBEE_ST_MAX] = {
	"starting", "idle", "polling", "working", "draining", "paused",
	"waiting"
};
static const char *const fbee_phases[FBEE_PH_MAX] = {
	"none", "guardian", "apply", "close"
};

const char *
fbee_state_str(int st)
{
	if (st < 0 || st >= FBEE_ST_MAX)
		return "unknown";
	return fbee_states[st];
}

const char *
fbee_phase_str(int ph)
{
	if (ph < 0 || ph >= FBEE_PH_MAX)
		return "unknown";
	return fbee_phases[ph];
}

static const char *const fbee_fails[FBEE_NFAIL] = {
	"guardian", "signature", "livemode", "unsupported", "database"
};

static const char *const fbee_transients[FBEE_NTRANSIENT] = {
	"database", "colonies", "other"
};

/*
 * The types stripe.c handles, and the ones Stripe sends most that it
 * ignores: a bounded table, so that a sender cannot grow the metrics.
 */
static const char *const fbee_event_types[FBEE_NTYPES] = {
	"checkout.session.completed",
	"checkout.session.async_payment_succeeded",
	"checkout.session.async_payment_failed",
	"customer.subscription.created",
	"customer.subscription.updated",
	"customer.subscription.deleted",
	"customer.subscription.paused",
	"customer.subscription.resumed",
	"customer.subscription.pending_update_applied",
	"customer.subscription.pending_update_expired",
	"customer.subscription.trial_will_end",
	"invoice.paid",
	"invoice.payment_succeeded",
	"invoice.payment_failed",
	"invoice.payment_action_required",
	"invoice.upcoming",
	"invoice.created",
	"invoice.finalized",
	"charge.refunded",
	"charge.dispute.created",
	"charge.dispute.updated",
	"charge.dispute.closed",
	"customer.created",
	"customer.updated",
	"customer.deleted",
	"payment_intent.succeeded",
	"other"
};

const char *
fbee_fail_str(int i)
{
	return i >= 0 && i < FBEE_NFAIL ? fbee_fails[i] : "unknown";
}

const char *
fbee_transient_str(int i)
{
	return i >= 0 && i < FBEE_NTRANSIENT ? fbee_transients[i] : "unknown";
}

const char *
fbee_event_type_str(int i)
{
	return i >= 0 && i < FBEE_NTYPES ? fbee_event_types[i] : "unknown";
}

int
fbee_event_type(const char *type)
{
	int	i;

	for (i = 0; type != NULL && i < FBEE_NTYPES - 1; i++)
		if (strcmp(type, fbee_event_types[i]) == 0)
			return i;
	return FBEE_NTYPES - 1;
}

const char *
fbee_type_str(int t)
{
	switch (t) {
	case FBEE_HELLO:
		return "hello";
	case FBEE_HEARTBEAT:
		return "heartbeat";
	case FBEE_COUNTERS:
		return "counters";
	case FBEE_BYE:
		return "bye";
	case FBEE_DRAIN:
		return "drain";
	case FBEE_PAUSE:
		return "pause";
	case FBEE_RESUME:
		return "resume";
	case FBEE_REOPEN:
		return "reopen";
	}
	return "unknown";
}

/* --- packing ------------------------------------------------------------ */

static void
pk_key(msgpack_packer *pk, const char *k)
{
	size_t	len = strlen(k);

	msgpack_pack_str(pk, len);
	msgpack_pack_str_body(pk, k, len);
}

static void
pk_str(msgpack_packer *pk, const char *k, const char *v)
{
	size_t	len = strlen(v);

	pk_key(pk, k);
	msgpack_pack_str(pk, len);
	msgpack_pack_str_body(pk, v, len);
}

static void
pk_u64(msgpack_packer *pk, const char *k, uint64_t v)
{
	pk_key(pk, k);
	msgpack_pack_uint64(pk, v);
}

static void
pk_i64(msgpack_packer *pk, const char *k, int64_t v)
{
	pk_key(pk, k);
	msgpack_pack_int64(pk, v);
}

static void
pk_u64s(msgpack_packer *pk, const char *k, const uint64_t *v, size_t n)
{
	size_t	i;

	pk_key(pk, k);
	msgpack_pack_array(pk, n);
	for (i = 0; i < n; i++)
		msgpack_pack_uint64(pk, v[i]);
}

int
fbee_pack(msgpack_sbuffer *sb, const struct fbee_msg *m)
{
	msgpack_packer	pk;

	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	switch (m->type) {
	case FBEE_HELLO:
		msgpack_pack_map(&pk, 8);
		break;
	case FBEE_HEARTBEAT:
		msgpack_pack_map(&pk, 7);
		break;
	case FBEE_COUNTERS:
		msgpack_pack_map(&pk, 23);	/* v, t + 21 counters */
		break;
	case FBEE_BYE:
		msgpack_pack_map(&pk, 5);
		break;
	case FBEE_DRAIN:
	case FBEE_PAUSE:
	case FBEE_RESUME:
	case FBEE_REOPEN:
		msgpack_pack_map(&pk, 2);
		break;
	default:
		return -1;
	}
	pk_u64(&pk, "v", FBEE_PROTO_VERSION);
	pk_u64(&pk, "t", (uint64_t)m->type);
	switch (m->type) {
	case FBEE_HELLO:
		pk_u64(&pk, "slot", m->slot);
		pk_i64(&pk, "pid", m->pid);
		pk_u64(&pk, "gen", m->generation);
		pk_u64(&pk, "proto", m->proto);
		pk_str(&pk, "exec", m->executor);
		pk_str(&pk, "execid", m->executorid);
		break;
	case FBEE_HEARTBEAT:
		pk_u64(&pk, "state", (uint64_t)m->state);
		pk_u64(&pk, "phase", (uint64_t)m->phase);
		pk_str(&pk, "proc", m->processid);
		pk_str(&pk, "event", m->event);
		pk_i64(&pk, "age", m->age_ms);
		break;
	case FBEE_COUNTERS:
		pk_u64s(&pk, "tasks", m->c.tasks, FBEE_NOUTCOMES);
		pk_u64(&pk, "lost", m->c.lost);
		pk_u64(&pk, "dberr", m->c.db_errors);
		pk_u64(&pk, "httperr", m->c.http_errors);
		pk_u64(&pk, "dbwait", m->c.db_wait_ms);
		pk_u64(&pk, "colwait", m->c.colonies_wait_ms);
		pk_i64(&pk, "rss", m->c.rss_kb);
		pk_u64s(&pk, "hist", m->c.hist.buckets, METRICS_NBUCKETS);
		pk_u64(&pk, "hcount", m->c.hist.count);
		pk_u64(&pk, "hsum", m->c.hist.sum_us);
		pk_u64s(&pk, "w2c", m->c.w2c.buckets, METRICS_NBUCKETS);
		pk_u64(&pk, "w2ccount", m->c.w2c.count);
		pk_u64(&pk, "w2csum", m->c.w2c.sum_us);
		pk_u64s(&pk, "lag", m->c.lag.buckets, METRICS_NBUCKETS);
		pk_u64(&pk, "lagcount", m->c.lag.count);
		pk_u64(&pk, "lagsum", m->c.lag.sum_us);
		pk_u64s(&pk, "intake", m->c.intake, INTAKE_R_MAX);
		pk_u64s(&pk, "fcause", m->c.failed, FBEE_NFAIL);
		pk_u64s(&pk, "tcause", m->c.transient, FBEE_NTRANSIENT);
		pk_u64s(&pk, "ign", m->c.ignored, FBEE_NTYPES);
		pk_u64s(&pk, "dup", m->c.duplicate, FBEE_NTYPES);
		break;
	case FBEE_BYE:
		pk_i64(&pk, "code", m->code);
		pk_u64(&pk, "auth", m->auth ? 1 : 0);
		pk_str(&pk, "reason", m->reason);
		break;
	}
	return 0;
}

int
fbee_send(int fd, const struct fbee_msg *m, char *cause, size_t causelen)
{
	msgpack_sbuffer	 sb;
	size_t		 off = 0;
	ssize_t		 n;

	msgpack_sbuffer_init(&sb);
	if (fbee_pack(&sb, m) == -1) {
		msgpack_sbuffer_destroy(&sb);
		snprintf(cause, causelen, "cannot pack message type %d",
		    m->type);
		return -1;
	}
	while (off < sb.size) {
		n = write(fd, sb.data + off, sb.size - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(cause, causelen, "write: %s", strerror(errno));
			msgpack_sbuffer_destroy(&sb);
			return -1;
		}
		off += (size_t)n;
	}
	msgpack_sbuffer_destroy(&sb);
	return 0;
}

/* --- decoding ------------------------------------------------------------ */

static int
dec_u64(const msgpack_object *o, uint64_t *v)
{
	if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return -1;
	*v = o->via.u64;
	return 0;
}

static int
dec_i64(const msgpack_object *o, int64_t *v)
{
	if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
		if (o->via.u64 > INT64_MAX)
			return -1;
		*v = (int64_t)o->via.u64;
		return 0;
	}
	if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
		*v = o->via.i64;
		return 0;
	}
	return -1;
}

static int
dec_uint(const msgpack_object *o, unsigned int max, unsigned int *v)
{
	uint64_t	u;

	if (dec_u64(o, &u) == -1 || u > max)
		return -1;
	*v = (unsigned int)u;
	return 0;
}

/* Strings must fit with their NUL and hold no NUL or control character. */
static int
dec_str(const msgpack_object *o, char *buf, size_t len)
{
	uint32_t	i;

	if (o->type != MSGPACK_OBJECT_STR || o->via.str.size >= len)
		return -1;
	for (i = 0; i < o->via.str.size; i++) {
		if ((unsigned char)o->via.str.ptr[i] < 0x20 ||
		    o->via.str.ptr[i] == 0x7f)
			return -1;
	}
	memcpy(buf, o->via.str.ptr, o->via.str.size);
	buf[o->via.str.size] = '\0';
	return 0;
}

static int
dec_u64s(const msgpack_object *o, uint64_t *v, size_t n)
{
	size_t	i;

	if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != n)
		return -1;
	for (i = 0; i < n; i++) {
		if (dec_u64(&o->via.array.ptr[i], &v[i]) == -1)
			return -1;
	}
	return 0;
}

static int
key_is(const msgpack_object *k, const char *s)
{
	size_t	len = strlen(s);

	return k->via.str.size == len && memcmp(k->via.str.ptr, s, len) == 0;
}

static int
fbee_decode_field(const msgpack_object *k, const msgpack_object *v,
    struct fbee_msg *m)
{
	unsigned int	u;

	switch (m->type) {
	case FBEE_HELLO:
		if (key_is(k, "slot"))
			return dec_uint(v, 65535, &m->slot);
		if (key_is(k, "pid"))
			return dec_i64(v, &m->pid);
		if (key_is(k, "gen"))
			return dec_uint(v, UINT32_MAX, &m->generation);
		if (key_is(k, "proto"))
			return dec_uint(v, UINT32_MAX, &m->proto);
		if (key_is(k, "exec"))
			return dec_str(v, m->executor, sizeof(m->executor));
		if (key_is(k, "execid"))
			return dec_str(v, m->executorid, sizeof(m->executorid));
		break;
	case FBEE_HEARTBEAT:
		if (key_is(k, "state")) {
			if (dec_uint(v, FBEE_ST_MAX - 1, &u) == -1)
				return -1;
			m->state = (int)u;
			return 0;
		}
		if (key_is(k, "phase")) {
			if (dec_uint(v, FBEE_PH_MAX - 1, &u) == -1)
				return -1;
			m->phase = (int)u;
			return 0;
		}
		if (key_is(k, "proc"))
			return dec_str(v, m->processid, sizeof(m->processid));
		if (key_is(k, "event"))
			return dec_str(v, m->event, sizeof(m->event));
		if (key_is(k, "age"))
			return dec_i64(v, &m->age_ms);
		break;
	case FBEE_COUNTERS:
		if (key_is(k, "tasks"))
			return dec_u64s(v, m->c.tasks, FBEE_NOUTCOMES);
		if (key_is(k, "lost"))
			return dec_u64(v, &m->c.lost);
		if (key_is(k, "dberr"))
			return dec_u64(v, &m->c.db_errors);
		if (key_is(k, "dbwait"))
			return dec_u64(v, &m->c.db_wait_ms);
		if (key_is(k, "colwait"))
			return dec_u64(v, &m->c.colonies_wait_ms);
		if (key_is(k, "httperr"))
			return dec_u64(v, &m->c.http_errors);
		if (key_is(k, "rss"))
			return dec_i64(v, &m->c.rss_kb);
		if (key_is(k, "hist"))
			return dec_u64s(v, m->c.hist.buckets, METRICS_NBUCKETS);
		if (key_is(k, "hcount"))
			return dec_u64(v, &m->c.hist.count);
		if (key_is(k, "hsum"))
			return dec_u64(v, &m->c.hist.sum_us);
		if (key_is(k, "w2c"))
			return dec_u64s(v, m->c.w2c.buckets, METRICS_NBUCKETS);
		if (key_is(k, "w2ccount"))
			return dec_u64(v, &m->c.w2c.count);
		if (key_is(k, "w2csum"))
			return dec_u64(v, &m->c.w2c.sum_us);
		if (key_is(k, "lag"))
			return dec_u64s(v, m->c.lag.buckets, METRICS_NBUCKETS);
		if (key_is(k, "lagcount"))
			return dec_u64(v, &m->c.lag.count);
		if (key_is(k, "lagsum"))
			return dec_u64(v, &m->c.lag.sum_us);
		if (key_is(k, "intake"))
			return dec_u64s(v, m->c.intake, INTAKE_R_MAX);
		if (key_is(k, "fcause"))
			return dec_u64s(v, m->c.failed, FBEE_NFAIL);
		if (key_is(k, "tcause"))
			return dec_u64s(v, m->c.transient, FBEE_NTRANSIENT);
		if (key_is(k, "ign"))
			return dec_u64s(v, m->c.ignored, FBEE_NTYPES);
		if (key_is(k, "dup"))
			return dec_u64s(v, m->c.duplicate, FBEE_NTYPES);
		break;
	case FBEE_BYE:
		if (key_is(k, "code")) {
			int64_t	c;

			if (dec_i64(v, &c) == -1 || c < 0 || c > 255)
				return -1;
			m->code = (int)c;
			return 0;
		}
		if (key_is(k, "auth")) {
			if (dec_uint(v, 1, &u) == -1)
				return -1;
			m->auth = (int)u;
			return 0;
		}
		if (key_is(k, "reason"))
			return dec_str(v, m->reason, sizeof(m->reason));
		break;
	}
	return 0;	/* unknown keys are ignored */
}

int
fbee_decode(const msgpack_object *o, struct fbee_msg *m, char *cause,
    size_t causelen)
{
	const msgpack_object_kv	*kv;
	uint64_t		 v = 0, t = 0;
	uint32_t		 i;
	int			 havev = 0, havet = 0;

	memset(m, 0, sizeof(*m));
	if (o->type != MSGPACK_OBJECT_MAP) {
		snprintf(cause, causelen, "message is not a map (type %d)",
		    (int)o->type);
		return -1;
	}
	for (i = 0; i < o->via.map.size; i++) {
		kv = &o->via.map.ptr[i];
		if (kv->key.type != MSGPACK_OBJECT_STR) {
			snprintf(cause, causelen, "key %u is not a string", i);
			return -1;
		}
		if (key_is(&kv->key, "v")) {
			if (dec_u64(&kv->val, &v) == -1)
				goto badfield;
			havev = 1;
		} else if (key_is(&kv->key, "t")) {
			if (dec_u64(&kv->val, &t) == -1)
				goto badfield;
			havet = 1;
		}
	}
	if (!havev || !havet) {
		snprintf(cause, causelen, "message without %s",
		    havev ? "type" : "version");
		return -1;
	}
	if (v != FBEE_PROTO_VERSION) {
		snprintf(cause, causelen, "protocol version %" PRIu64
		    ", expected %d", v, FBEE_PROTO_VERSION);
		return -1;
	}
	if (t > 255 || strcmp(fbee_type_str((int)t), "unknown") == 0) {
		snprintf(cause, causelen, "unknown message type %" PRIu64, t);
		return -1;
	}
	m->type = (int)t;
	for (i = 0; i < o->via.map.size; i++) {
		kv = &o->via.map.ptr[i];
		if (fbee_decode_field(&kv->key, &kv->val, m) == -1)
			goto badfield;
	}
	return 0;

badfield:
	{
		char	k[33];
		size_t	j, n = kv->key.via.str.size;

		if (n > sizeof(k) - 1)
			n = sizeof(k) - 1;
		for (j = 0; j < n; j++) {
			k[j] = kv->key.via.str.ptr[j];
			if ((unsigned char)k[j] < 0x20 ||
			    (unsigned char)k[j] >= 0x7f)
				k[j] = '?';
		}
		k[n] = '\0';
		snprintf(cause, causelen, "%s message: bad value for \"%s\"",
		    fbee_type_str(m->type), k);
	}
	return -1;
}

void
fbee_counters_add(struct fbee_counters *dst, const struct fbee_counters *src)
{
	size_t	i;

	for (i = 0; i < FBEE_NOUTCOMES; i++)
		dst->tasks[i] += src->tasks[i];
	dst->lost += src->lost;
	dst->db_errors += src->db_errors;
	dst->http_errors += src->http_errors;
	dst->db_wait_ms += src->db_wait_ms;
	dst->colonies_wait_ms += src->colonies_wait_ms;
	metrics_hist_merge(&dst->hist, &src->hist);
	for (i = 0; i < FBEE_NFAIL; i++)
		dst->failed[i] += src->failed[i];
	for (i = 0; i < FBEE_NTRANSIENT; i++)
		dst->transient[i] += src->transient[i];
	for (i = 0; i < FBEE_NTYPES; i++) {
		dst->ignored[i] += src->ignored[i];
		dst->duplicate[i] += src->duplicate[i];
	}
	metrics_hist_merge(&dst->w2c, &src->w2c);
	metrics_hist_merge(&dst->lag, &src->lag);
	for (i = 0; i < INTAKE_R_MAX; i++)
		dst->intake[i] += src->intake[i];
}

_Static_assert(sizeof(struct fbee_shm) <= FBEE_SHM_SIZE,
    "the status page outgrew its memfd");

#define FBEE_MAX(a, b)	do { if ((b) > (a)) (a) = (b); } while (0)

/* Every field only grows during a bee's life (rss_kb is not a counter). */
void
fbee_counters_max(struct fbee_counters *dst, const struct fbee_counters *src)
{
	size_t	i;

	for (i = 0; i < FBEE_NOUTCOMES; i++)
		FBEE_MAX(dst->tasks[i], src->tasks[i]);
	FBEE_MAX(dst->lost, src->lost);
	FBEE_MAX(dst->db_errors, src->db_errors);
	FBEE_MAX(dst->http_errors, src->http_errors);
	for (i = 0; i < METRICS_NBUCKETS; i++)
		FBEE_MAX(dst->hist.buckets[i], src->hist.buckets[i]);
	FBEE_MAX(dst->hist.count, src->hist.count);
	FBEE_MAX(dst->hist.sum_us, src->hist.sum_us);
	FBEE_MAX(dst->db_wait_ms, src->db_wait_ms);
	FBEE_MAX(dst->colonies_wait_ms, src->colonies_wait_ms);
	for (i = 0; i < METRICS_NBUCKETS; i++)
		FBEE_MAX(dst->w2c.buckets[i], src->w2c.buckets[i]);
	FBEE_MAX(dst->w2c.count, src->w2c.count);
	FBEE_MAX(dst->w2c.sum_us, src->w2c.sum_us);
	for (i = 0; i < METRICS_NBUCKETS; i++)
		FBEE_MAX(dst->lag.buckets[i], src->lag.buckets[i]);
	FBEE_MAX(dst->lag.count, src->lag.count);
	FBEE_MAX(dst->lag.sum_us, src->lag.sum_us);
	for (i = 0; i < INTAKE_R_MAX; i++)
		FBEE_MAX(dst->intake[i], src->intake[i]);
	for (i = 0; i < FBEE_NFAIL; i++)
		FBEE_MAX(dst->failed[i], src->failed[i]);
	for (i = 0; i < FBEE_NTRANSIENT; i++)
		FBEE_MAX(dst->transient[i], src->transient[i]);
	for (i = 0; i < FBEE_NTYPES; i++) {
		FBEE_MAX(dst->ignored[i], src->ignored[i]);
		FBEE_MAX(dst->duplicate[i], src->duplicate[i]);
	}
}

uint64_t
fbee_counters_total(const struct fbee_counters *c)
{
	uint64_t	n = 0;
	size_t		i;

	for (i = 0; i < FBEE_NOUTCOMES; i++)
		n += c->tasks[i];
	return n;
}

/* --- the status page (fbee-proto.h) --------------------------------------- */

void
fbee_shm_write_begin(struct fbee_shm *p)
{
	uint32_t	s = __atomic_load_n(&p->seq, __ATOMIC_RELAXED);

	__atomic_store_n(&p->seq, (s + 1) | 1, __ATOMIC_RELAXED);
	/* The odd seq must be visible before any field changes. */
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

void
fbee_shm_write_end(struct fbee_shm *p)
{
	uint32_t	s = __atomic_load_n(&p->seq, __ATOMIC_RELAXED);

	__atomic_store_n(&p->seq, (s + 1) & ~1U, __ATOMIC_RELEASE);
}

/* Printable, and nothing that breaks a log line or JSON. */
static int
fbee_shm_char(char c)
{
	return c > ' ' && c <= '~' && c != '"' && c != '\\';
}

/* hex: 1 a process id, 0 a token, -1 a message (spaces allowed). */
static int
fbee_shm_str(const char *s, size_t size, int hex)
{
	const char	*end;
	size_t		 i, n;

	if ((end = memchr(s, '\0', size)) == NULL)
		return -1;
	n = (size_t)(end - s);
	for (i = 0; i < n; i++) {
		if (hex == 1 && !isxdigit((unsigned char)s[i]))
			return -1;
		if (!fbee_shm_char(s[i]) && !(hex == -1 && s[i] == ' '))
			return -1;
	}
	if (hex == -1)
		return 0;
	return hex && n != 0 && n != CRYPTO_ID_HEXLEN ? -1 : 0;
}

/*
 * What a bee writes must pass fbee_shm_read even when the event id came
 * from a hostile task: a page the master rejects gets the bee killed.
 */
void
fbee_shm_strcpy(char *dst, size_t size, const char *src)
{
	size_t	i;

	for (i = 0; i + 1 < size && src[i] != '\0'; i++)
		dst[i] = fbee_shm_char(src[i]) ? src[i] : '?';
	dst[i] = '\0';
}

void
fbee_shm_textcpy(char *dst, size_t size, const char *src)
{
	size_t	i;

	for (i = 0; i + 1 < size && src[i] != '\0'; i++)
		dst[i] = fbee_shm_char(src[i]) || src[i] == ' ' ? src[i] : '?';
	dst[i] = '\0';
}

int
fbee_shm_read(const struct fbee_shm *p, struct fbee_shm *out, char *cause,
    size_t causelen)
{
	const struct fbee_unsettled *u;
	uint32_t	s1, s2, i;
	int		tries;

	for (tries = 0; tries < 64; tries++) {
		s1 = __atomic_load_n(&p->seq, __ATOMIC_ACQUIRE);
		if (s1 & 1)
			continue;
		memcpy(out, p, sizeof(*out));
		/* The copy must be done before seq is read again. */
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		s2 = __atomic_load_n(&p->seq, __ATOMIC_RELAXED);
		if (s1 == s2)
			break;
	}
	if (tries == 64 || out->seq == 0)
		return 1;
	if (out->magic != FBEE_SHM_MAGIC || out->version != FBEE_SHM_VERSION) {
		snprintf(cause, causelen, "bad magic or version");
		return -1;
	}
	if (out->state < 0 || out->state >= FBEE_ST_MAX) {
		snprintf(cause, causelen, "state %d out of range", out->state);
		return -1;
	}
	if (out->phase < 0 || out->phase >= FBEE_PH_MAX) {
		snprintf(cause, causelen, "phase %d out of range", out->phase);
		return -1;
	}
	if (fbee_shm_str(out->processid, sizeof(out->processid), 1) == -1) {
		snprintf(cause, causelen, "malformed process id");
		return -1;
	}
	if (fbee_shm_str(out->event, sizeof(out->event), 0) == -1) {
		snprintf(cause, causelen, "malformed event id");
		return -1;
	}
	if (out->dep < 0 || out->dep >= FBEE_DEP_MAX ||
	    fbee_shm_str(out->dep_cause, sizeof(out->dep_cause), -1) == -1) {
		snprintf(cause, causelen, "malformed dependency state");
		return -1;
	}
	if (out->since < 0 || out->task_start < 0 || out->last_beat < 0 ||
	    out->dep_since < 0) {
		snprintf(cause, causelen, "negative time");
		return -1;
	}
	if (out->state == FBEE_ST_WORKING && (out->processid[0] == '\0' ||
	    out->task_start == 0)) {
		snprintf(cause, causelen, "working without a process");
		return -1;
	}
	if (out->state == FBEE_ST_WORKING && out->phase == FBEE_PH_CLOSE &&
	    (out->outcome < 0 || out->outcome >= FBEE_NOUTCOMES)) {
		snprintf(cause, causelen, "outcome %d out of range",
		    out->outcome);
		return -1;
	}
	if (out->retries < 0) {
		snprintf(cause, causelen, "retries %d out of range",
		    out->retries);
		return -1;
	}
	for (i = 0; i < FBEE_UNSETTLED && i < out->nunsettled; i++) {
		u = &out->unsettled[i];
		if (u->processid[0] == '\0' || fbee_shm_str(u->processid,
		    sizeof(u->processid), 1) == -1 || u->outcome < 0 ||
		    u->outcome >= OUTCOME_TRANSIENT || u->retries < 0) {
			snprintf(cause, causelen, "malformed unsettled close "
			    "%u", i);
			return -1;
		}
	}
	return 0;
}

/*
 * Map the status page the master passed as fd (closed here); NULL when
 * there is none or it is not a page of this version (the caller then
 * keeps a private one).
 */
struct fbee_shm *
fbee_shm_map(int fd)
{
	struct fbee_shm	*p;
	struct stat	 st;
	void		*m;

	if (fd == -1)
		return NULL;
	if (fstat(fd, &st) == -1 || st.st_size < (off_t)sizeof(*p)) {
		log_warnx("status page: bad fd %d", fd);
		close(fd);
		return NULL;
	}
	m = mmap(NULL, sizeof(*p), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED) {
		log_warn("status page: mmap");
		return NULL;
	}
	p = m;
	if (p->magic != FBEE_SHM_MAGIC || p->version != FBEE_SHM_VERSION) {
		log_warnx("status page: not version %d", FBEE_SHM_VERSION);
		munmap(m, sizeof(*p));
		return NULL;
	}
	return p;
}
