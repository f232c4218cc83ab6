/*
 * fuzz-admin: the admin protocol (src/financebeed/admin.c) through the
 * entry t/test-admin.c uses: admin_open() serves a socket for a fake
 * master, and each input is the byte stream of one client, sent on a
 * fresh connection and half-closed; the replies are read until the
 * server closes.  admin.c has no parser separable from its bufferevents,
 * so the whole frame parser and dispatcher run as in the master.
 *
 * Checked against the wire format of admin.c and fbeectl(8):
 *  - the reply stream is a sequence of complete frames "STATUS N\n" and
 *    N bytes ending in a newline, STATUS one of OK, ERR, DENIED;
 *  - one reply per complete request line, in order, until a request
 *    that is too long or not text, which gets ERR and ends the
 *    connection; an unterminated last line gets no reply unless it is
 *    already too long.
 * The fuzzer runs as root, so every command is allowed.
 * Seeds: t/fuzz/corpus/admin.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "financebeed.h"
#include "fuzz.h"

#define FUZZ_MAXREQ	4096	/* admin.c ADMIN_MAXREQ */
#define FUZZ_MAXIN	(256 * 1024)

static struct event_base	*fuzz_base;
static char			 fuzz_dir[64], fuzz_path[128];
static unsigned long		 fuzz_bees = 2;
static int			 fuzz_paused;

/* --- a fake master, as in t/test-admin.c ------------------------------- */

json_t *
report_status(void)
{
	return json_pack("{s:i,s:s,s:i,s:i}", "version", 1, "state",
	    fuzz_paused ? "paused" : "running", "bees_target", (int)fuzz_bees,
	    "bees_running", (int)fuzz_bees);
}

json_t *
report_executors(void)
{
	return json_pack("[{s:i,s:s}]", "slot", 1, "name", "fuzz-1");
}

char *
report_metrics_text(void)
{
	return strdup("# TYPE financebee_up gauge\nfinancebee_up 1\n");
}

int
master_intake_scale(char op, unsigned long n, char *cause, size_t causelen)
{
	(void)op;
	(void)n;
	snprintf(cause, causelen, "the intake is not enabled");
	return -1;
}

int
master_scale(char op, unsigned long n, char *cause, size_t causelen)
{
	unsigned long	target;

	if (op == '+')
		target = fuzz_bees + n;
	else if (op == '-')
		target = n >= fuzz_bees ? 0 : fuzz_bees - n;
	else
		target = n;
	if (target < 1 || target > 256) {
		snprintf(cause, causelen, "bees must stay within 1..256");
		return -1;
	}
	fuzz_bees = target;
	return 0;
}

void
master_stop(int fast)
{
	/* The real master would stop; this one serves the next input. */
}

void
master_pause(int pause)
{
	fuzz_paused = pause;
}

struct fuzz_reload {
	void	(*done)(int, const char *, void *);
	void	*arg;
	int	 ok;
};

static void
fuzz_reload_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fuzz_reload	*r = arg;

	r->done(r->ok, r->ok ? NULL : "fuzz: reload refused", r->arg);
	free(r);
}

void
reload_request(void (*done)(int, const char *, void *), void *arg)
{
	static int		 n;
	struct fuzz_reload	*r;

	if ((r = malloc(sizeof(*r))) == NULL)
		abort();
	r->done = done;
	r->arg = arg;
	r->ok = n++ % 2;
	/* As the master: the outcome comes in a later loop iteration. */
	if (event_base_once(fuzz_base, -1, EV_TIMEOUT, fuzz_reload_cb, r,
	    NULL) == -1)
		abort();
}

/* --- the harness ------------------------------------------------------- */

static void
fuzz_cleanup(void)
{
	admin_close();
	rmdir(fuzz_dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct fb_config	 cfg;
	char			 cause[FB_CAUSE_MAX];

	signal(SIGPIPE, SIG_IGN);
	(void)log_init("fuzz-admin", LOG_LEVEL_ERROR, "stderr", cause,
	    sizeof(cause));
	snprintf(fuzz_dir, sizeof(fuzz_dir), "/tmp/fuzz-admin.XXXXXX");
	if (mkdtemp(fuzz_dir) == NULL) {
		perror("mkdtemp");
		abort();
	}
	snprintf(fuzz_path, sizeof(fuzz_path), "%s/admin.sock", fuzz_dir);
	if ((fuzz_base = event_base_new()) == NULL)
		abort();
	memset(&cfg, 0, sizeof(cfg));
	cfg.admin_path = fuzz_path;
	cfg.admin_mode = 0600;
	if (control_open(fuzz_base, &cfg, cause, sizeof(cause)) == -1) {
		fprintf(stderr, "fuzz-admin: %s\n", cause);
		abort();
	}
	atexit(fuzz_cleanup);
	return 0;
}

/* Replies expected for the request stream s (see the top comment). */
static size_t
fuzz_expected(const char *s, size_t len)
{
	const char	*p = s, *end = s + len, *nl;
	size_t		 n = 0, l, i;

	while (p < end) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			return n + ((size_t)(end - p) >= FUZZ_MAXREQ);
		l = (size_t)(nl - p);
		n++;
		if (l >= FUZZ_MAXREQ)
			return n;
		if (l > 0 && p[l - 1] == '\r')
			l--;
		for (i = 0; i < l; i++)
			if ((p[i] < 0x20 || p[i] > 0x7e) && p[i] != '\t')
				return n;
		p = nl + 1;
	}
	return n;
}

/* The number of complete, well-formed frames in r; aborts on others. */
static size_t
fuzz_frames(const char *r, size_t rlen, const char *s, size_t len)
{
	const char	*p = r, *end, *nl, *sp;
	unsigned long	 body;
	size_t		 n = 0;
	char		*e;

	if (rlen == 0)
		return 0;
	end = r + rlen;
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		FUZZ_CHECK(nl != NULL, s, len);
		sp = memchr(p, ' ', (size_t)(nl - p));
		FUZZ_CHECK(sp != NULL, s, len);
		FUZZ_CHECK((sp - p == 2 && memcmp(p, "OK", 2) == 0) ||
		    (sp - p == 3 && memcmp(p, "ERR", 3) == 0) ||
		    (sp - p == 6 && memcmp(p, "DENIED", 6) == 0), s, len);
		FUZZ_CHECK(sp[1] >= '0' && sp[1] <= '9', s, len);
		body = strtoul(sp + 1, &e, 10);
		FUZZ_CHECK(e == nl && body > 0, s, len);
		FUZZ_CHECK((size_t)(end - (nl + 1)) >= body, s, len);
		p = nl + 1 + body;
		FUZZ_CHECK(p[-1] == '\n', s, len);
		n++;
	}
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_un	 sun;
	struct timespec		 t0, t1;
	const char		*s = (const char *)data;
	char			*reply = NULL, buf[65536];
	size_t			 off = 0, rlen = 0, rcap = 0;
	ssize_t			 r;
	int			 fd, wdone = 0;

	if (size > FUZZ_MAXIN)
		return 0;
	if (fuzz_base == NULL)		/* a driver without the hook */
		LLVMFuzzerInitialize(NULL, NULL);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, fuzz_path, strlen(fuzz_path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1 || connect(fd, (struct sockaddr *)&sun,
	    sizeof(sun)) == -1) {
		perror("fuzz-admin: connect");
		abort();
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		/* The client side: write what fits, then half-close. */
		while (!wdone && off < size) {
			r = write(fd, s + off, size - off);
			if (r > 0)
				off += (size_t)r;
			else if (r == -1 && errno == EAGAIN)
				break;
			else
				wdone = 1;	/* the server hung up */
		}
		if (!wdone && off == size) {
			shutdown(fd, SHUT_WR);
			wdone = 1;
		}
		r = read(fd, buf, sizeof(buf));
		if (r == 0 || (r == -1 && errno != EAGAIN))
			break;
		if (r > 0) {
			if (rlen + (size_t)r > rcap) {
				rcap = (rlen + (size_t)r) * 2;
				if ((reply = realloc(reply, rcap)) == NULL)
					abort();
			}
			memcpy(reply + rlen, buf, (size_t)r);
			rlen += (size_t)r;
			continue;
		}
		/* The server side: one round of its event loop. */
		event_base_loop(fuzz_base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (t1.tv_sec - t0.tv_sec > 20) {
			fprintf(stderr, "fuzz-admin: no end of the reply "
			    "after 20 s (%zu of %zu bytes sent, %zu "
			    "received)\n", off, size, rlen);
			abort();
		}
	}
	close(fd);
	FUZZ_CHECK(fuzz_frames(reply, rlen, s, size) ==
	    fuzz_expected(s, size), s, size);
	free(reply);
	/* Let the server see the close and free the client. */
	event_base_loop(fuzz_base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	return 0;
}
