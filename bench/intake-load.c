/*
 * intake-load: a load generator for financebeed's webhook intake.
 *
 *   intake-load -u http://127.0.0.1:8081/api/stripe-webhook -s whsec_...
 *       -e events.jsonl -n N [-c CONC | -r RATE | -b] [-p PREFIX] [-o out.tsv]
 *
 * Bodies are the lines of events.jsonl, in turn, each with its event id
 * (the first "evt_..." string) replaced by a unique evt_PREFIX_SEQ and
 * signed as Stripe does (Stripe-Signature: t=NOW,v1=HMAC-SHA256(secret,
 * "t.body")), at the moment it is sent.  Closed loop (-c): CONC
 * connections, each sends its next request when the last is answered.
 * Open loop (-r): RATE requests a second whatever the answers, on as many
 * keep-alive connections as needed (up to 1,000).  Burst (-b): all N at
 * once.  Prints a summary; -o writes one line per request: event id, send
 * and answer times (Unix us), HTTP status (0 = no answer), for the
 * webhook -> commit join with the database.  Asserts nothing.
 */
#include <sys/types.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#define LOAD_MAXCONN	1000

struct load_req {
	char		 id[96];
	int64_t		 sent_us;
	int64_t		 done_us;
	int		 status;
};

struct load_conn {
	struct evhttp_connection	*evcon;
	int				 busy;
};

static struct event_base	*base;
static struct evhttp_uri	*uri;
static const char		*secret;
static char			**bodies;
static size_t			 nbodies;
static const char		*prefix = "load";
static struct load_req		*reqs;
static size_t			 nreq, nsent, ndone;
static struct load_conn		 conns[LOAD_MAXCONN];
static size_t			 nconns;
static double			 rate;
static int			 conc, burst;
static int64_t			 t_start;
static struct event		*ev_tick;

static int64_t
now_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void send_next(struct load_conn *);

static void
done_cb(struct evhttp_request *r, void *arg)
{
	struct load_req		*q = arg;
	struct load_conn	*c;
	size_t			 i;

	q->done_us = now_us();
	q->status = r != NULL ? evhttp_request_get_response_code(r) : 0;
	ndone++;
	/* Which connection: the one whose request this was. */
	c = NULL;
	for (i = 0; i < nconns; i++) {
		if (conns[i].busy == (int)(q - reqs) + 1) {
			c = &conns[i];
			break;
		}
	}
	if (c != NULL) {
		c->busy = 0;
		if (q->status == 0) {
			/* A dead connection: make a new one next time. */
			evhttp_connection_free_on_completion(c->evcon);
			c->evcon = NULL;
		}
		if (conc > 0 && nsent < nreq)
			send_next(c);
	}
	if (ndone == nreq)
		event_base_loopexit(base, NULL);
}

static char *
make_body(size_t seq, size_t *len)
{
	const char	*src = bodies[seq % nbodies], *p, *e;
	char		 id[96];
	char		*out;
	size_t		 n;

	snprintf(id, sizeof(id), "evt_%s_%zu", prefix, seq);
	snprintf(reqs[seq].id, sizeof(reqs[seq].id), "%s", id);
	n = strlen(src);
	if ((p = strstr(src, "\"evt_")) == NULL ||
	    (e = strchr(p + 1, '"')) == NULL) {
		*len = n;
		return strdup(src);
	}
	if ((out = malloc(n + sizeof(id) + 2)) == NULL)
		return NULL;
	memcpy(out, src, (size_t)(p - src) + 1);
	*len = (size_t)(p - src) + 1;
	memcpy(out + *len, id, strlen(id));
	*len += strlen(id);
	memcpy(out + *len, e, n - (size_t)(e - src));
	*len += n - (size_t)(e - src);
	out[*len] = '\0';
	return out;
}

static void
sign(const char *body, size_t len, char *hdr, size_t hdrlen)
{
	unsigned char	 mac[EVP_MAX_MD_SIZE];
	unsigned int	 maclen = 0, i;
	char		 ts[32], hex[2 * EVP_MAX_MD_SIZE + 1], *msg;
	size_t		 tl;

	snprintf(ts, sizeof(ts), "%lld.", (long long)time(NULL));
	tl = strlen(ts);
	if ((msg = malloc(tl + len)) == NULL)
		exit(1);
	memcpy(msg, ts, tl);
	memcpy(msg + tl, body, len);
	HMAC(EVP_sha256(), secret, (int)strlen(secret),
	    (const unsigned char *)msg, tl + len, mac, &maclen);
	free(msg);
	for (i = 0; i < maclen; i++)
		snprintf(hex + 2 * i, 3, "%02x", mac[i]);
	ts[tl - 1] = '\0';
	snprintf(hdr, hdrlen, "t=%s,v1=%s", ts, hex);
}

static void
send_next(struct load_conn *c)
{
	struct evhttp_request	*r;
	struct load_req		*q;
	struct evkeyvalq	*h;
	char			 sig[256], hostport[300];
	char			*body;
	size_t			 len, seq = nsent;

	if (c->evcon == NULL) {
		c->evcon = evhttp_connection_base_new(base, NULL,
		    evhttp_uri_get_host(uri), (unsigned short)
		    (evhttp_uri_get_port(uri) > 0 ? evhttp_uri_get_port(uri) :
		    80));
		if (c->evcon == NULL) {
			fprintf(stderr, "intake-load: connection failed\n");
			exit(1);
		}
		evhttp_connection_set_timeout(c->evcon, 60);
	}
	q = &reqs[seq];
	nsent++;
	if ((body = make_body(seq, &len)) == NULL) {
		fprintf(stderr, "intake-load: out of memory\n");
		exit(1);
	}
	sign(body, len, sig, sizeof(sig));
	r = evhttp_request_new(done_cb, q);
	h = evhttp_request_get_output_headers(r);
	snprintf(hostport, sizeof(hostport), "%s", evhttp_uri_get_host(uri));
	evhttp_add_header(h, "Host", hostport);
	evhttp_add_header(h, "Content-Type", "application/json");
	evhttp_add_header(h, "Stripe-Signature", sig);
	evbuffer_add(evhttp_request_get_output_buffer(r), body, len);
	free(body);
	c->busy = (int)seq + 1;
	q->sent_us = now_us();
	if (evhttp_make_request(c->evcon, r, EVHTTP_REQ_POST,
	    evhttp_uri_get_path(uri)) == -1) {
		q->status = 0;
		q->done_us = q->sent_us;
		c->busy = 0;
		ndone++;
	}
}

static struct load_conn *
idle_conn(void)
{
	size_t	i;

	for (i = 0; i < nconns; i++)
		if (!conns[i].busy)
			return &conns[i];
	if (nconns < LOAD_MAXCONN)
		return &conns[nconns++];
	return NULL;
}

/* Open loop: every millisecond, send what the rate says is due. */
static void
tick_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct load_conn	*c;
	size_t			 due;

	(void)fd;
	(void)ev;
	(void)arg;
	due = (size_t)((double)(now_us() - t_start) / 1e6 * rate) + 1;
	if (due > nreq)
		due = nreq;
	while (nsent < due && (c = idle_conn()) != NULL)
		send_next(c);
	if (nsent == nreq)
		event_del(ev_tick);
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t	x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static void
load_events(const char *path)
{
	FILE	*f;
	char	*line = NULL;
	size_t	 cap = 0;
	ssize_t	 n;

	if ((f = fopen(path, "r")) == NULL) {
		fprintf(stderr, "intake-load: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	while ((n = getline(&line, &cap, f)) > 0) {
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (n == 0)
			continue;
		bodies = realloc(bodies, (nbodies + 1) * sizeof(*bodies));
		if (bodies == NULL || (bodies[nbodies++] = strdup(line)) == NULL)
			exit(1);
	}
	free(line);
	fclose(f);
}

int
main(int argc, char *argv[])
{
	struct timeval	 tv;
	const char	*url = NULL, *events = NULL, *out = NULL;
	int64_t		*lat, maxlat = 0;
	size_t		 i, n200 = 0, nlat = 0, bystatus[600];
	double		 secs;
	FILE		*f;
	int		 ch;

	while ((ch = getopt(argc, argv, "bc:e:n:o:p:r:s:u:")) != -1) {
		switch (ch) {
		case 'b':
			burst = 1;
			break;
		case 'c':
			conc = atoi(optarg);
			break;
		case 'e':
			events = optarg;
			break;
		case 'n':
			nreq = strtoul(optarg, NULL, 10);
			break;
		case 'o':
			out = optarg;
			break;
		case 'p':
			prefix = optarg;
			break;
		case 'r':
			rate = atof(optarg);
			break;
		case 's':
			secret = optarg;
			break;
		case 'u':
			url = optarg;
			break;
		default:
			goto usage;
		}
	}
	if (url == NULL || events == NULL || secret == NULL || nreq == 0 ||
	    (conc > 0) + (rate > 0) + burst != 1) {
usage:
		fprintf(stderr, "usage: intake-load -u URL -s SECRET -e "
		    "events.jsonl -n N (-c CONC | -r RATE | -b) [-p PREFIX] "
		    "[-o out.tsv]\n");
		return 2;
	}
	if ((uri = evhttp_uri_parse(url)) == NULL ||
	    evhttp_uri_get_host(uri) == NULL) {
		fprintf(stderr, "intake-load: bad URL %s\n", url);
		return 2;
	}
	load_events(events);
	if (nbodies == 0) {
		fprintf(stderr, "intake-load: no events in %s\n", events);
		return 2;
	}
	if ((reqs = calloc(nreq, sizeof(*reqs))) == NULL ||
	    (base = event_base_new()) == NULL)
		return 1;
	t_start = now_us();
	if (conc > 0) {
		for (i = 0; i < (size_t)conc && i < LOAD_MAXCONN && nsent < nreq;
		    i++)
			send_next(&conns[nconns++]);
	} else {
		if (burst)
			rate = 1e12;
		ev_tick = event_new(base, -1, EV_PERSIST, tick_cb, NULL);
		tv.tv_sec = 0;
		tv.tv_usec = 1000;
		event_add(ev_tick, &tv);
		tick_cb(-1, 0, NULL);
	}
	event_base_dispatch(base);
	secs = (double)(now_us() - t_start) / 1e6;

	memset(bystatus, 0, sizeof(bystatus));
	lat = calloc(nreq, sizeof(*lat));
	for (i = 0; i < nreq; i++) {
		bystatus[reqs[i].status >= 0 && reqs[i].status < 600 ?
		    reqs[i].status : 0]++;
		if (reqs[i].status == 200) {
			n200++;
			lat[nlat++] = reqs[i].done_us - reqs[i].sent_us;
			if (lat[nlat - 1] > maxlat)
				maxlat = lat[nlat - 1];
		}
	}
	qsort(lat, nlat, sizeof(*lat), cmp_i64);
	printf("sent %zu accepted %zu in %.2f s (%.0f/s); errors:", nreq,
	    n200, secs, (double)nreq / secs);
	for (i = 0; i < 600; i++)
		if (i != 200 && bystatus[i] > 0)
			printf(" %zu=%zu", i, bystatus[i]);
	printf("%s\n", n200 == nreq ? " none" : "");
	if (nlat > 0)
		printf("reply latency ms: p50 %.1f p95 %.1f p99 %.1f max %.1f\n",
		    lat[nlat / 2] / 1e3, lat[(size_t)(nlat * 0.95)] / 1e3,
		    lat[(size_t)(nlat * 0.99)] / 1e3, maxlat / 1e3);
	if (out != NULL && (f = fopen(out, "w")) != NULL) {
		for (i = 0; i < nreq; i++)
			fprintf(f, "%s\t%" PRId64 "\t%" PRId64 "\t%d\n",
			    reqs[i].id, reqs[i].sent_us, reqs[i].done_us,
			    reqs[i].status);
		fclose(f);
	}
	return 0;
}
