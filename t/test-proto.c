/*
 * test-proto.c: the master/bee channel format (fbee-proto.h) and the
 * latency histogram of metrics.c.  TAP.
 */
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "financebeed.h"
#include "fbee-proto.h"

static int	tn, tfailed;

static void
ok(int cond, const char *desc)
{
	tn++;
	printf("%sok %d - %s\n", cond ? "" : "not ", tn, desc);
	if (!cond)
		tfailed++;
}

/* Pack m, unpack it again with a streaming unpacker fed byte by byte. */
static int
roundtrip(const struct fbee_msg *m, struct fbee_msg *out, char *cause,
    size_t len)
{
	msgpack_sbuffer		sb;
	msgpack_unpacker	unp;
	msgpack_unpacked	up;
	size_t			i;
	int			rc = -1, got = 0;

	msgpack_sbuffer_init(&sb);
	if (fbee_pack(&sb, m) == -1) {
		snprintf(cause, len, "pack failed");
		msgpack_sbuffer_destroy(&sb);
		return -1;
	}
	msgpack_unpacker_init(&unp, 16);
	msgpack_unpacked_init(&up);
	for (i = 0; i < sb.size; i++) {
		msgpack_unpacker_reserve_buffer(&unp, 1);
		memcpy(msgpack_unpacker_buffer(&unp), sb.data + i, 1);
		msgpack_unpacker_buffer_consumed(&unp, 1);
		if (msgpack_unpacker_next(&unp, &up) == MSGPACK_UNPACK_SUCCESS) {
			got++;
			if (i != sb.size - 1)
				snprintf(cause, len, "message ended early");
			else
				rc = fbee_decode(&up.data, out, cause, len);
		}
	}
	if (got != 1) {
		snprintf(cause, len, "%d messages decoded", got);
		rc = -1;
	}
	msgpack_unpacked_destroy(&up);
	msgpack_unpacker_destroy(&unp);
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

/* Decode a hand-built object. */
static int
decode_packed(void (*build)(msgpack_packer *), char *cause, size_t len)
{
	msgpack_sbuffer		sb;
	msgpack_packer		pk;
	msgpack_unpacked	up;
	struct fbee_msg		m;
	int			rc;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	build(&pk);
	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, sb.data, sb.size, NULL) !=
	    MSGPACK_UNPACK_SUCCESS) {
		snprintf(cause, len, "unpack failed");
		rc = -2;
	} else
		rc = fbee_decode(&up.data, &m, cause, len);
	msgpack_unpacked_destroy(&up);
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

static void
key(msgpack_packer *pk, const char *k)
{
	msgpack_pack_str(pk, strlen(k));
	msgpack_pack_str_body(pk, k, strlen(k));
}

/* A map of n keys that starts with the version and the type given. */
static void
head(msgpack_packer *pk, size_t n, uint64_t type)
{
	msgpack_pack_map(pk, n);
	key(pk, "v");
	msgpack_pack_uint64(pk, FBEE_PROTO_VERSION);
	key(pk, "t");
	msgpack_pack_uint64(pk, type);
}

static void
b_version(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 2);
	key(pk, "v");
	msgpack_pack_uint64(pk, FBEE_PROTO_VERSION + 1);
	key(pk, "t");
	msgpack_pack_uint64(pk, FBEE_HEARTBEAT);
}

static void
b_type(msgpack_packer *pk)
{
	head(pk, 2, 77);
}

static void
b_notmap(msgpack_packer *pk)
{
	msgpack_pack_array(pk, 2);
	msgpack_pack_uint64(pk, FBEE_PROTO_VERSION);
	msgpack_pack_uint64(pk, FBEE_HEARTBEAT);
}

static void
b_noversion(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 1);
	key(pk, "t");
	msgpack_pack_uint64(pk, FBEE_HEARTBEAT);
}

static void
b_badstate(msgpack_packer *pk)
{
	head(pk, 3, FBEE_HEARTBEAT);
	key(pk, "state");
	msgpack_pack_uint64(pk, 1000);
}

static void
b_wrongtype(msgpack_packer *pk)
{
	head(pk, 3, FBEE_HEARTBEAT);
	key(pk, "proc");
	msgpack_pack_int64(pk, -5);
}

static void
b_longstr(msgpack_packer *pk)
{
	char	buf[300];

	memset(buf, 'a', sizeof(buf));
	head(pk, 3, FBEE_HEARTBEAT);
	key(pk, "event");
	msgpack_pack_str(pk, sizeof(buf));
	msgpack_pack_str_body(pk, buf, sizeof(buf));
}

static void
b_ctlstr(msgpack_packer *pk)
{
	head(pk, 3, FBEE_HEARTBEAT);
	key(pk, "event");
	msgpack_pack_str(pk, 5);
	msgpack_pack_str_body(pk, "ab\ncd", 5);
}

static void
b_shorthist(msgpack_packer *pk)
{
	head(pk, 3, FBEE_COUNTERS);
	key(pk, "hist");
	msgpack_pack_array(pk, 3);
	msgpack_pack_uint64(pk, 1);
	msgpack_pack_uint64(pk, 2);
	msgpack_pack_uint64(pk, 3);
}

/* One cause too many: a bee of another build. */
static void
b_longcause(msgpack_packer *pk)
{
	int	i;

	head(pk, 3, FBEE_COUNTERS);
	key(pk, "fcause");
	msgpack_pack_array(pk, FBEE_NFAIL + 1);
	for (i = 0; i <= FBEE_NFAIL; i++)
		msgpack_pack_uint64(pk, 1);
}

static void
b_negdup(msgpack_packer *pk)
{
	int	i;

	head(pk, 3, FBEE_COUNTERS);
	key(pk, "dup");
	msgpack_pack_array(pk, FBEE_NTYPES);
	for (i = 0; i < FBEE_NTYPES; i++)
		msgpack_pack_int64(pk, i == 3 ? -1 : 1);
}

static void
b_intkey(msgpack_packer *pk)
{
	head(pk, 3, FBEE_HEARTBEAT);
	msgpack_pack_uint64(pk, 7);
	msgpack_pack_uint64(pk, 7);
}

static void
b_unknownkey(msgpack_packer *pk)
{
	head(pk, 3, FBEE_DRAIN);
	key(pk, "future");
	msgpack_pack_str(pk, 3);
	msgpack_pack_str_body(pk, "yes", 3);
}

/* Messages the decoder must refuse (ret -1) or take (0), by builder. */
static const struct bad_msg {
	void		(*build)(msgpack_packer *);
	int		  ret;
	const char	 *cause;	/* in the cause, or NULL: any */
	const char	 *what;
} bad_msgs[] = {
	{ b_version, -1, "version", "wrong version refused" },
	{ b_type, -1, "unknown message type", "unknown type refused" },
	{ b_notmap, -1, NULL, "a non-map refused" },
	{ b_noversion, -1, NULL, "a message without a version refused" },
	{ b_badstate, -1, NULL, "an out-of-range state refused" },
	{ b_wrongtype, -1, NULL, "a field of the wrong type refused" },
	{ b_longstr, -1, NULL, "an over-long string refused" },
	{ b_ctlstr, -1, NULL, "a string with a control character refused" },
	{ b_shorthist, -1, NULL, "a histogram of the wrong length refused" },
	{ b_longcause, -1, NULL, "a cause array of the wrong length refused" },
	{ b_negdup, -1, NULL, "a negative count refused" },
	{ b_intkey, -1, NULL, "a non-string key refused" },
	{ b_unknownkey, 0, NULL, "an unknown key is ignored" },
};

/* A good status page of a working bee. */
static void
shm_good(struct fbee_shm *p)
{
	memset(p, 0, sizeof(*p));
	p->magic = FBEE_SHM_MAGIC;
	p->version = FBEE_SHM_VERSION;
	fbee_shm_write_begin(p);
	p->state = FBEE_ST_WORKING;
	p->phase = FBEE_PH_APPLY;
	p->pid = 42;
	p->since = p->task_start = p->last_beat = 1000;
	memset(p->processid, 'a', CRYPTO_ID_HEXLEN);
	snprintf(p->event, sizeof(p->event), "evt_1");
	fbee_shm_write_end(p);
}

static int
shm_check(void (*spoil)(struct fbee_shm *))
{
	struct fbee_shm	p, out;
	char		cause[FB_CAUSE_MAX];

	shm_good(&p);
	spoil(&p);
	cause[0] = '\0';
	return fbee_shm_read(&p, &out, cause, sizeof(cause));
}

static void spoil_magic(struct fbee_shm *p) { p->magic++; }
static void spoil_state(struct fbee_shm *p) { p->state = FBEE_ST_MAX; }
static void spoil_negstate(struct fbee_shm *p) { p->state = -1; }
static void spoil_phase(struct fbee_shm *p) { p->phase = 99; }
static void spoil_unterm(struct fbee_shm *p)
{
	memset(p->processid, 'a', sizeof(p->processid));
}
static void spoil_nonhex(struct fbee_shm *p) { p->processid[3] = 'g'; }
static void spoil_short(struct fbee_shm *p) { p->processid[10] = '\0'; }
static void spoil_evunterm(struct fbee_shm *p)
{
	memset(p->event, 'e', sizeof(p->event));
}
static void spoil_evquote(struct fbee_shm *p) { p->event[2] = '"'; }
static void spoil_evnl(struct fbee_shm *p) { p->event[2] = '\n'; }
static void spoil_time(struct fbee_shm *p) { p->last_beat = -5; }
static void spoil_noproc(struct fbee_shm *p) { p->processid[0] = '\0'; }
static void spoil_odd(struct fbee_shm *p) { p->seq |= 1; }
static void spoil_upper(struct fbee_shm *p) { p->processid[5] = 'F'; }
/* A hostile event id, as a bee copies it: must pass, not get it killed. */
static void spoil_hostile(struct fbee_shm *p)
{
	fbee_shm_strcpy(p->event, sizeof(p->event),
	    "evt_\"x\ny\\z \x01\xc3\xa9\x7f");
}
/* Unsettled closes: n in all, the ring holding the last FBEE_UNSETTLED. */
static void
shm_unsettled(struct fbee_shm *p, uint32_t n)
{
	uint32_t	i;

	p->nunsettled = n;
	for (i = 0; i < n && i < FBEE_UNSETTLED; i++) {
		memset(p->unsettled[i].processid, 'b', CRYPTO_ID_HEXLEN);
		p->unsettled[i].outcome = OUTCOME_APPLIED;
		p->unsettled[i].retries = (int32_t)i;
	}
}
static void spoil_unsettled_ok(struct fbee_shm *p) { shm_unsettled(p, 3); }
static void spoil_unsettled_wrapped(struct fbee_shm *p)
{
	shm_unsettled(p, FBEE_UNSETTLED * 5 + 1);
}
static void spoil_unsettled_noproc(struct fbee_shm *p)
{
	shm_unsettled(p, 3);
	p->unsettled[2].processid[0] = '\0';
}
static void spoil_unsettled_nonhex(struct fbee_shm *p)
{
	shm_unsettled(p, 3);
	p->unsettled[1].processid[7] = 'x';
}
static void spoil_unsettled_transient(struct fbee_shm *p)
{
	shm_unsettled(p, 1);
	p->unsettled[0].outcome = OUTCOME_TRANSIENT;
}
static void spoil_unsettled_retries(struct fbee_shm *p)
{
	shm_unsettled(p, 2);
	p->unsettled[1].retries = -1;
}
static void spoil_retries(struct fbee_shm *p) { p->retries = -3; }
static void spoil_none(struct fbee_shm *p) { (void)p; }
static void spoil_idle(struct fbee_shm *p)
{
	p->state = FBEE_ST_IDLE;
	p->processid[0] = '\0';
	p->event[0] = '\0';
	p->task_start = 0;
}

/* Pages fbee_shm_read must refuse (ret -1) or take (0), by spoiler. */
static const struct spoil {
	void		(*spoil)(struct fbee_shm *);
	int		  ret;
	const char	 *what;
} spoils[] = {
	{ spoil_magic, -1, "status page: bad magic" },
	{ spoil_state, -1, "status page: state too big" },
	{ spoil_negstate, -1, "status page: negative state" },
	{ spoil_phase, -1, "status page: bad phase" },
	{ spoil_unterm, -1, "status page: process id not terminated" },
	{ spoil_nonhex, -1, "status page: process id not hex" },
	{ spoil_short, -1, "status page: process id too short" },
	{ spoil_evunterm, -1, "status page: event not terminated" },
	{ spoil_evquote, -1, "status page: quote in the event" },
	{ spoil_evnl, -1, "status page: newline in the event" },
	{ spoil_time, -1, "status page: negative time" },
	{ spoil_noproc, -1, "status page: working without a process" },
	{ spoil_unsettled_ok, 0, "status page: closes to settle" },
	{ spoil_unsettled_wrapped, 0,
	    "status page: closes to settle, the ring wrapped" },
	{ spoil_unsettled_noproc, -1,
	    "status page: a close to settle without a process" },
	{ spoil_unsettled_nonhex, -1,
	    "status page: a close to settle, process id not hex" },
	{ spoil_unsettled_transient, -1,
	    "status page: a close to settle of a transient outcome" },
	{ spoil_unsettled_retries, -1,
	    "status page: a close to settle, negative retries" },
	{ spoil_retries, -1, "status page: negative retries" },
};

/* The event a writer puts with counter i: 250 times one letter. */
static void
shm_race_event(char *buf, int64_t i)
{
	memset(buf, 'a' + (int)(i % 26), 250);
	buf[250] = '\0';
}

/*
 * A writer process rewrites a shared page as fast as it can, each time
 * with the same counter in every field and most of its time between the
 * first and the last field; a consistent copy never mixes two.
 */
static int
shm_race(int *reads)
{
	struct fbee_shm	*p, out;
	char		 cause[FB_CAUSE_MAX], want[256];
	struct timespec	 t0, t1;
	pid_t		 pid;
	int64_t		 i;
	int		 bad = 0, rc;

	*reads = 0;
	p = mmap(NULL, sizeof(*p), PROT_READ | PROT_WRITE, MAP_SHARED |
	    MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	shm_good(p);
	shm_race_event(p->event, p->since);
	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		for (i = 1;; i++) {
			fbee_shm_write_begin(p);
			p->since = i;
			shm_race_event(p->event, i);
			p->task_start = p->last_beat = i;
			fbee_shm_write_end(p);
			/* Room for the reader on a busy machine. */
			if (i % 8 == 0)
				usleep(20);
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		rc = fbee_shm_read(p, &out, cause, sizeof(cause));
		if (rc == 0) {
			(*reads)++;
			shm_race_event(want, out.since);
			if (out.task_start != out.since ||
			    out.last_beat != out.since ||
			    strcmp(out.event, want) != 0) {
				if (bad++ == 0)
					printf("# torn: %lld %lld %lld\n",
					    (long long)out.since,
					    (long long)out.task_start,
					    (long long)out.last_beat);
			}
		} else if (rc == -1) {
			if (bad++ == 0)
				printf("# rejected: %s\n", cause);
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
	} while ((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) /
	    1000000 < (*reads < 1000 ? 10000 : 300));
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	munmap(p, sizeof(*p));
	return bad;
}

int
main(void)
{
	struct fbee_msg		m, out;
	struct metrics_hist	h;
	char			cause[FB_CAUSE_MAX];
	uint64_t		q50, q99;
	int			i, sp[2];
	long			rss;

	printf("1..74\n");

	memset(&m, 0, sizeof(m));
	m.type = FBEE_HELLO;
	m.slot = 7;
	m.pid = 4242;
	m.generation = 3;
	m.proto = FBEE_PROTO_VERSION;
	snprintf(m.executor, sizeof(m.executor), "financebee-7");
	memset(m.executorid, 'a', CRYPTO_ID_HEXLEN);
	ok(roundtrip(&m, &out, cause, sizeof(cause)) == 0, "hello round trip");
	ok(out.type == FBEE_HELLO && out.slot == 7 && out.pid == 4242 &&
	    out.generation == 3 && out.proto == FBEE_PROTO_VERSION,
	    "hello numbers survive");
	ok(strcmp(out.executor, "financebee-7") == 0 &&
	    strlen(out.executorid) == CRYPTO_ID_HEXLEN, "hello strings survive");

	memset(&m, 0, sizeof(m));
	m.type = FBEE_HEARTBEAT;
	m.state = FBEE_ST_WORKING;
	m.phase = FBEE_PH_CLOSE;
	memset(m.processid, 'f', CRYPTO_ID_HEXLEN);
	snprintf(m.event, sizeof(m.event), "evt_123");
	m.age_ms = 1234;
	ok(roundtrip(&m, &out, cause, sizeof(cause)) == 0,
	    "heartbeat round trip");
	ok(out.state == FBEE_ST_WORKING && out.phase == FBEE_PH_CLOSE &&
	    out.age_ms == 1234 && strcmp(out.event, "evt_123") == 0 &&
	    strcmp(out.processid, m.processid) == 0,
	    "heartbeat fields survive");

	memset(&m, 0, sizeof(m));
	m.type = FBEE_COUNTERS;
	for (i = 0; i < FBEE_NOUTCOMES; i++)
		m.c.tasks[i] = (uint64_t)i * 1000 + 1;
	m.c.lost = 2;
	m.c.db_errors = 3;
	m.c.http_errors = 4;
	m.c.rss_kb = 5000;
	metrics_hist_add(&m.c.hist, 100);
	metrics_hist_add(&m.c.hist, UINT64_C(1) << 40);
	metrics_hist_add(&m.c.w2c, 7000);
	metrics_hist_add(&m.c.lag, 3600000);
	m.c.db_wait_ms = 6;
	m.c.colonies_wait_ms = 8;
	for (i = 0; i < INTAKE_R_MAX; i++)
		m.c.intake[i] = (uint64_t)i + 9;
	for (i = 0; i < FBEE_NFAIL; i++)
		m.c.failed[i] = (uint64_t)i * 7 + 1;
	for (i = 0; i < FBEE_NTRANSIENT; i++)
		m.c.transient[i] = (uint64_t)i * 11 + 2;
	for (i = 0; i < FBEE_NTYPES; i++) {
		m.c.ignored[i] = (uint64_t)i * 13 + 3;
		m.c.duplicate[i] = UINT64_MAX - (uint64_t)i;
	}
	ok(roundtrip(&m, &out, cause, sizeof(cause)) == 0,
	    "counters round trip");
	ok(memcmp(&out.c, &m.c, sizeof(m.c)) == 0, "counters survive");
	ok(out.c.failed[FBEE_FAIL_DATABASE] == FBEE_FAIL_DATABASE * 7 + 1 &&
	    out.c.transient[FBEE_TRANSIENT_OTHER] ==
	    FBEE_TRANSIENT_OTHER * 11 + 2 &&
	    out.c.ignored[FBEE_NTYPES - 1] == (FBEE_NTYPES - 1) * 13 + 3 &&
	    out.c.duplicate[FBEE_NTYPES - 1] == UINT64_MAX - (FBEE_NTYPES - 1),
	    "causes and event types survive, last entries included");
	{
		struct fbee_counters	sum = m.c;

		fbee_counters_add(&sum, &m.c);
		ok(sum.failed[2] == 2 * m.c.failed[2] &&
		    sum.transient[1] == 2 * m.c.transient[1] &&
		    sum.ignored[5] == 2 * m.c.ignored[5],
		    "counters_add sums causes and types");
	}
	ok(fbee_event_type("invoice.paid") >= 0 &&
	    strcmp(fbee_event_type_str(fbee_event_type("invoice.paid")),
	    "invoice.paid") == 0 && fbee_event_type("coupon.created") ==
	    FBEE_NTYPES - 1 && fbee_event_type(NULL) == FBEE_NTYPES - 1 &&
	    strcmp(fbee_event_type_str(FBEE_NTYPES - 1), "other") == 0,
	    "event types: known ones by name, the rest \"other\"");

	memset(&m, 0, sizeof(m));
	m.type = FBEE_BYE;
	m.code = FB_EX_TEMPFAIL;
	m.auth = 1;
	snprintf(m.reason, sizeof(m.reason), "colony refused the executor");
	ok(roundtrip(&m, &out, cause, sizeof(cause)) == 0 &&
	    out.code == FB_EX_TEMPFAIL && out.auth == 1 &&
	    strcmp(out.reason, m.reason) == 0, "bye round trip");

	memset(&m, 0, sizeof(m));
	m.type = FBEE_DRAIN;
	ok(roundtrip(&m, &out, cause, sizeof(cause)) == 0 &&
	    out.type == FBEE_DRAIN, "drain round trip");
	m.type = FBEE_REOPEN;
	ok(roundtrip(&m, &out, cause, sizeof(cause)) == 0 &&
	    out.type == FBEE_REOPEN, "reopen round trip");
	m.type = 99;
	ok(roundtrip(&m, &out, cause, sizeof(cause)) == -1,
	    "an unknown type is not packed");

	for (i = 0; i < (int)(sizeof(bad_msgs) / sizeof(bad_msgs[0])); i++) {
		const struct bad_msg	*b = &bad_msgs[i];

		cause[0] = '\0';
		ok(decode_packed(b->build, cause, sizeof(cause)) == b->ret &&
		    (b->cause == NULL || strstr(cause, b->cause) != NULL),
		    b->what);
	}

	/* fbee_send over a real socketpair, read back whole. */
	ok(socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0, "socketpair");
	memset(&m, 0, sizeof(m));
	m.type = FBEE_PAUSE;
	ok(fbee_send(sp[0], &m, cause, sizeof(cause)) == 0, "fbee_send");
	{
		msgpack_unpacked	up;
		char			buf[64];
		ssize_t			n = read(sp[1], buf, sizeof(buf));

		msgpack_unpacked_init(&up);
		ok(n > 0 && msgpack_unpack_next(&up, buf, (size_t)n, NULL) ==
		    MSGPACK_UNPACK_SUCCESS && fbee_decode(&up.data, &out, cause,
		    sizeof(cause)) == 0 && out.type == FBEE_PAUSE,
		    "what fbee_send wrote decodes");
		msgpack_unpacked_destroy(&up);
	}
	close(sp[0]);
	close(sp[1]);

	memset(&h, 0, sizeof(h));
	ok(metrics_hist_quantile(&h, 0.5) == 0, "empty histogram: 0");
	metrics_hist_add(&h, 0);
	metrics_hist_add(&h, 1);
	ok(h.buckets[0] == 2, "0 and 1 us land in the first bucket");
	metrics_hist_add(&h, 3);
	ok(h.buckets[2] == 1, "3 us lands in the <= 3 us bucket");
	metrics_hist_add(&h, UINT64_C(1) << 50);
	ok(h.buckets[METRICS_NBUCKETS - 1] == 1,
	    "huge values land in the last bucket");
	ok(h.count == 4 && h.sum_us == 4 + (UINT64_C(1) << 50),
	    "count and sum");

	{
		/* Every value up to 2^26 us lands where the bounds say. */
		uint64_t	 v, lo, hi;
		unsigned int	 b, bad = 0, mono = 1;
		static const uint64_t	 golden[] = { 1, 2, 3, 4, 5, 6, 7, 8,
		    10, 12, 14, 16, 20, 24, 28, 32, 40 };

		for (b = 0; b < 17; b++)
			if (metrics_hist_bound(b) != golden[b])
				bad++;
		ok(bad == 0 && metrics_hist_bound(METRICS_NBUCKETS - 2) ==
		    UINT64_C(1) << 25, "bucket bounds: 1 2 3 4 5 6 7 8 10 12 "
		    "... 2^25 us");
		for (b = 1; b < METRICS_NBUCKETS - 1; b++)
			if (metrics_hist_bound(b) <= metrics_hist_bound(b - 1))
				mono = 0;
		ok(mono, "bounds strictly increase");
		for (v = 0; v <= (UINT64_C(1) << 26); v += 1 + v / 64) {
			memset(&h, 0, sizeof(h));
			metrics_hist_add(&h, v);
			for (b = 0; b < METRICS_NBUCKETS && h.buckets[b] == 0;
			    b++)
				;
			lo = b == 0 ? 0 : metrics_hist_bound(b - 1);
			hi = metrics_hist_bound(b);
			if (!(v == 0 ? b == 0 : (v > lo && v <= hi)))
				bad++;
		}
		ok(bad == 0, "each value lands in the bucket whose bounds "
		    "hold it");
	}

	memset(&h, 0, sizeof(h));
	for (i = 0; i < 990; i++)
		metrics_hist_add(&h, 1000);	/* bucket <= 1024 us */
	for (i = 0; i < 10; i++)
		metrics_hist_add(&h, 100000);	/* bucket <= 131072 us */
	q50 = metrics_hist_quantile(&h, 0.5);
	q99 = metrics_hist_quantile(&h, 0.995);
	ok(q50 > 896 && q50 <= 1024, "p50 inside the 896-1024 us bucket");
	ok(q99 > 98304 && q99 <= 114688, "p99.5 inside the 96-112 ms bucket");
	{
		struct metrics_hist	h2 = h;

		metrics_hist_merge(&h2, &h);
		ok(h2.count == 2 * h.count && h2.buckets[10] ==
		    2 * h.buckets[10], "merge adds");
	}

	{
		struct fbee_shm	p;
		uint32_t	s0;
		int		reads, bad;

		ok(shm_check(spoil_none) == 0, "status page: a good one");
		ok(shm_check(spoil_idle) == 0, "status page: an idle one");
		ok(shm_check(spoil_odd) == 1, "status page: being written: "
		    "try later");
		ok(shm_check(spoil_upper) == 0, "status page: upper case hex "
		    "(ColonyOS accepts it)");
		ok(shm_check(spoil_hostile) == 0, "status page: a hostile "
		    "event id, sanitised by the bee, passes");
		{
			char	ev[8];

			fbee_shm_strcpy(ev, sizeof(ev), "evt_\"\n123456");
			ok(strcmp(ev, "evt_??1") == 0, "status page: strings "
			    "sanitised and truncated");
		}
		for (i = 0; i < (int)(sizeof(spoils) / sizeof(spoils[0])); i++)
			ok(shm_check(spoils[i].spoil) == spoils[i].ret,
			    spoils[i].what);
		memset(&p, 0, sizeof(p));
		s0 = p.seq;
		fbee_shm_write_begin(&p);
		ok(p.seq == s0 + 1, "status page: odd while written");
		fbee_shm_write_end(&p);
		ok(p.seq == s0 + 2, "status page: even again after");
		{
			struct fbee_shm	*pg;
			char		 why[FB_CAUSE_MAX];
			int		 fd;

			pg = proc_shm_create(&fd, why, sizeof(why));
			ok(pg != NULL && pg->magic == FBEE_SHM_MAGIC &&
			    pg->version == FBEE_SHM_VERSION && pg->seq == 0,
			    "status page: created, stamped, zeroed");
			ok(pg != NULL && ftruncate(fd, 0) == -1 &&
			    errno == EPERM, "status page: a bee cannot "
			    "shrink it under the master");
			ok(pg != NULL && (fcntl(fd, F_GETFD) & FD_CLOEXEC),
			    "status page: close-on-exec in the master");
			if (pg != NULL) {
				close(fd);
				proc_shm_free(pg);
			}
		}
		bad = shm_race(&reads);
		printf("# %d consistent reads against a busy writer\n", reads);
		ok(bad == 0 && reads > 0, "status page: no torn snapshot "
		    "against a busy writer");
	}

	rss = metrics_rss_kb(getpid());
	ok(rss > 0 && rss < 1024 * 1024, "our own RSS is plausible");
	ok(metrics_rss_kb(999999999) == -1, "RSS of no process: -1");

	return tfailed == 0 ? 0 : 1;
}
