/*
 * test-http: http.c against scripted servers (forked children on
 * 127.0.0.1:0): request format, Content-Length, chunked, dribbled and
 * interim replies, keep-alive reuse and reconnects, every malformed reply
 * the client must refuse, timeout, abort, refused connections, URLs.
 *
 *	test-http			plain HTTP
 *	test-http tls CRT KEY WCRT WKEY [CA SCRT SKEY CADIR]
 *					https against an OpenSSL server with a
 *					localhost certificate (and one for
 *					another name; one from a private CA)
 */
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "colonies.h"
#include "tap.h"

#define BIG	(100 * 1024)

/* What the server saw, shared with the parent. */
struct shared {
	int	nconn;
	int	nreq;
	char	firstreq[4096];
};
static struct shared	*sh;

/* A scenario answers request reqno (counted over all connections). */
enum { KEEP, CLOSE, HANG };
typedef int (*scen_fn)(int, int, const char *, size_t);

static SSL	*srv_ssl;	/* the TLS server's connection */

static void
wr(int fd, const char *s, size_t len)
{
	ssize_t	n;

	while (len > 0) {
		if (srv_ssl != NULL)
			n = SSL_write(srv_ssl, s, (int)len);
		else
			n = write(fd, s, len);
		if (n <= 0)
			return;
		s += n;
		len -= (size_t)n;
	}
}

static void
wrs(int fd, const char *s)
{
	wr(fd, s, strlen(s));
}

static ssize_t
rd(int fd, char *buf, size_t len)
{
	if (srv_ssl != NULL)
		return SSL_read(srv_ssl, buf, (int)len);
	return read(fd, buf, len);
}

/* One request: headers and a Content-Length body; -1 at EOF. */
static int
srv_request(int fd, char *hdr, size_t hsize, char **body, size_t *blen)
{
	size_t	 len = 0, clen = 0, have;
	char	*e, *p;
	ssize_t	 n;

	for (;;) {
		if (len + 1 >= hsize)
			return -1;
		if ((n = rd(fd, hdr + len, hsize - len - 1)) <= 0)
			return -1;
		len += (size_t)n;
		hdr[len] = '\0';
		if ((e = strstr(hdr, "\r\n\r\n")) != NULL)
			break;
	}
	if ((p = strcasestr(hdr, "\r\nContent-Length:")) != NULL && p < e)
		clen = strtoul(p + 17, NULL, 10);
	have = len - (size_t)(e + 4 - hdr);
	if ((*body = malloc(clen + 1)) == NULL)
		return -1;
	memcpy(*body, e + 4, have < clen ? have : clen);
	while (have < clen) {
		if ((n = rd(fd, *body + have, clen - have)) <= 0) {
			free(*body);
			return -1;
		}
		have += (size_t)n;
	}
	(*body)[clen] = '\0';
	e[4] = '\0';
	*blen = clen;
	return 0;
}

/* CLOSE, or HANG: the connection stays open, never answered. */
static int
srv_conn(int fd, scen_fn fn)
{
	char	 hdr[8192], *body;
	size_t	 blen;
	int	 r;

	for (;;) {
		if (srv_request(fd, hdr, sizeof hdr, &body, &blen) == -1)
			return CLOSE;
		if (++sh->nreq == 1) {
			hdr[sizeof sh->firstreq - 1] = '\0';
			memcpy(sh->firstreq, hdr, sizeof sh->firstreq);
		}
		r = fn(fd, sh->nreq, body, blen);
		free(body);
		if (r != KEEP)
			return r;
	}
}

static SSL_CTX	*srv_ctx;
static const char	*greet;	/* written at accept, then close */

static void
server(int lfd, scen_fn fn)
{
	int	fd, one = 1;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	for (;;) {
		if ((fd = accept(lfd, NULL, NULL)) == -1)
			continue;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		sh->nconn++;
		if (greet != NULL)
			wrs(fd, greet);
		else if (srv_ctx != NULL) {
			srv_ssl = SSL_new(srv_ctx);
			SSL_set_fd(srv_ssl, fd);
			if (SSL_accept(srv_ssl) == 1)
				srv_conn(fd, fn);
			SSL_free(srv_ssl);
			srv_ssl = NULL;
		} else if (srv_conn(fd, fn) == HANG)
			continue;	/* left open, and to the next client */
		close(fd);
	}
}

/* Listen on 127.0.0.1:0 (or [::1]:0), fork the server, make the URL. */
static pid_t
start(scen_fn fn, int v6, char *url, size_t urllen, int *port)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t		 slen;
	pid_t			 pid;
	int			 lfd;

	memset(sh, 0, sizeof *sh);
	memset(&ss, 0, sizeof ss);
	if (v6) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_loopback;
		slen = sizeof *sin6;
	} else {
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		slen = sizeof *sin;
	}
	if ((lfd = socket(ss.ss_family, SOCK_STREAM, 0)) == -1 ||
	    bind(lfd, (struct sockaddr *)&ss, slen) == -1 ||
	    listen(lfd, 16) == -1 ||
	    getsockname(lfd, (struct sockaddr *)&ss, &slen) == -1) {
		if (lfd != -1)
			close(lfd);
		return -1;
	}
	*port = ntohs(v6 ? sin6->sin6_port : sin->sin_port);
	snprintf(url, urllen, "http://%s:%d/api", v6 ? "[::1]" : "127.0.0.1",
	    *port);
	fflush(stdout);
	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0)
		server(lfd, fn);
	close(lfd);
	return pid;
}

static void
stop(pid_t pid)
{
	int	status;

	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
}

static int
reply_cl(int fd, const char *extra, const char *body, size_t len)
{
	char	hdr[256];

	snprintf(hdr, sizeof hdr, "HTTP/1.1 200 OK\r\nContent-Type: "
	    "application/json\r\n%sContent-Length: %zu\r\n\r\n", extra, len);
	wrs(fd, hdr);
	wr(fd, body, len);
	return KEEP;
}

/* --- scenarios --------------------------------------------------------- */

static int
sc_echo(int fd, int reqno, const char *body, size_t len)
{
	return reply_cl(fd, "", body, len);
}

static int
sc_chunked(int fd, int reqno, const char *body, size_t len)
{
	char	line[64];
	size_t	n, off;

	wrs(fd, "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n");
	for (off = 0; off < len; off += n) {
		n = len - off < 3000 ? len - off : 3000;
		/* Extensions, upper-case hex, odd spacing: all legal. */
		snprintf(line, sizeof line, off == 0 ? "%zX;ext=1\r\n" :
		    "%zX ; a=\"b\"\r\n", n);
		wrs(fd, line);
		wr(fd, body + off, n);
		wrs(fd, "\r\n");
	}
	wrs(fd, "0\r\nX-Trailer: y\r\nX-Other: z\r\n\r\n");
	return KEEP;
}

static int
sc_dribble(int fd, int reqno, const char *body, size_t len)
{
	char	 r[512];
	size_t	 i, n;

	n = (size_t)snprintf(r, sizeof r, reqno == 1 ?
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "%zx\r\n%s\r\n0\r\n\r\n" :
	    "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%s", len, body);
	for (i = 0; i < n; i++) {
		wr(fd, r + i, 1);
		usleep(1000);
	}
	return KEEP;
}

static int
sc_1xx(int fd, int reqno, const char *body, size_t len)
{
	wrs(fd, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n"
	    "X-A: b\r\n\r\n");
	return reply_cl(fd, "", "ok", 2);
}

static int
sc_close(int fd, int reqno, const char *body, size_t len)
{
	reply_cl(fd, "Connection: close\r\n", "ok", 2);
	return CLOSE;
}

/* Closes a kept connection without a word, as an idle timeout does. */
static int
sc_idle_close(int fd, int reqno, const char *body, size_t len)
{
	reply_cl(fd, "", "ok", 2);
	return CLOSE;
}

static int
sc_http10(int fd, int reqno, const char *body, size_t len)
{
	wrs(fd, "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok");
	return KEEP;	/* the client must not reuse it anyway */
}

static int
sc_http10ka(int fd, int reqno, const char *body, size_t len)
{
	wrs(fd, "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\n"
	    "content-length: 2\r\n\r\nok");
	return KEEP;
}

static int
sc_to_eof(int fd, int reqno, const char *body, size_t len)
{
	wrs(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nabc");
	return CLOSE;
}

static int
sc_midbody(int fd, int reqno, const char *body, size_t len)
{
	if (reqno == 1)
		return reply_cl(fd, "", "ok", 2);
	if (reqno == 2)
		wrs(fd, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello");
	else if (reqno == 3)
		return reply_cl(fd, "", "ok", 2);
	else if (reqno == 4)
		wrs(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		    "5\r\nhel");
	else
		return reply_cl(fd, "", "resent", 6);
	return CLOSE;
}

static const char	*canned;

static int
sc_canned(int fd, int reqno, const char *body, size_t len)
{
	wrs(fd, canned);
	return CLOSE;
}

static int
sc_bighdr(int fd, int reqno, const char *body, size_t len)
{
	char	line[128];
	int	i;

	wrs(fd, "HTTP/1.1 200 OK\r\n");
	memset(line, 'a', sizeof line);
	memcpy(line, "X-Pad: ", 7);
	memcpy(line + sizeof line - 2, "\r\n", 2);
	for (i = 0; i < 600; i++)	/* 75 KB */
		wr(fd, line, sizeof line);
	wrs(fd, "Content-Length: 2\r\n\r\nok");
	return CLOSE;
}

/* Valid replies with a few random bytes changed, one per connection. */
#define NFUZZ	300
static const char	*fuzz_base[] = {
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;e=1\r\n"
	    "hello\r\n6\r\n world\r\n0\r\nX-T: y\r\n\r\n",
	"HTTP/1.1 200 OK\r\nContent-Length: 11\r\nConnection: keep-alive"
	    "\r\n\r\nhello world",
	"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 404 Not Found\r\n\r\nabc",
};

static int
sc_fuzz(int fd, int reqno, const char *body, size_t len)
{
	char	r[256];
	size_t	n;
	int	i;

	srandom((unsigned int)reqno);
	snprintf(r, sizeof r, "%s", fuzz_base[reqno % 3]);
	n = strlen(r);
	for (i = 0; i < 1 + reqno % 4; i++)
		r[random() % n] = (char)(random() % 256);
	wr(fd, r, n);
	return CLOSE;
}

static int
sc_hang(int fd, int reqno, const char *body, size_t len)
{
	return HANG;
}

static int	naborts;

static int
abort_cb(void *arg)
{
	int	*n = arg;

	return ++*n >= 2;
}

/* --- hostile servers (issue 13, section 6) ----------------------------- */

/* Raw writes that report a client gone (plain HTTP only). */
static int
wr_raw(int fd, const char *s, size_t len)
{
	ssize_t	n;

	while (len > 0) {
		if ((n = write(fd, s, len)) <= 0)
			return -1;
		s += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The whole reply, one byte per second. */
static int
sc_trickle(int fd, int reqno, const char *body, size_t len)
{
	const char	*r = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

	for (; *r != '\0'; r++) {
		if (wr_raw(fd, r, 1) == -1)
			break;
		sleep(1);
	}
	return CLOSE;
}

static int
sc_continue(int fd, int reqno, const char *body, size_t len)
{
	static const char	c[] = "HTTP/1.1 100 Continue\r\n\r\n";

	while (wr_raw(fd, c, sizeof c - 1) == 0)
		continue;
	return CLOSE;
}

static int
sc_continue_slow(int fd, int reqno, const char *body, size_t len)
{
	static const char	c[] = "HTTP/1.1 100 Continue\r\n\r\n";

	while (wr_raw(fd, c, sizeof c - 1) == 0)
		usleep(200000);
	return CLOSE;
}

static int
sc_endless_headers(int fd, int reqno, const char *body, size_t len)
{
	static const char	h[] = "X-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";

	if (wr_raw(fd, "HTTP/1.1 200 OK\r\n", 17) == 0)
		while (wr_raw(fd, h, sizeof h - 1) == 0)
			continue;
	return CLOSE;
}

static int
sc_endless_line(int fd, int reqno, const char *body, size_t len)
{
	char	a[4096];

	memset(a, 'a', sizeof a);
	if (wr_raw(fd, "HTTP/1.1 200 OK\r\nX-Pad: ", 24) == 0)
		while (wr_raw(fd, a, sizeof a) == 0)
			continue;
	return CLOSE;
}

/* A body that never ends: to EOF, chunked, or over its Content-Length. */
static const char	*endless_head;

static int
sc_endless_body(int fd, int reqno, const char *body, size_t len)
{
	char	a[6 + 16384 + 2];
	size_t	off = 6, n = 16384;

	memset(a, 'a', sizeof a);
	if (strstr(endless_head, "chunked") != NULL) {
		/* Chunks of 0x4000 bytes, each with its size line. */
		memcpy(a, "4000\r\n", 6);
		memcpy(a + 6 + 16384, "\r\n", 2);
		off = 0;
		n = sizeof a;
	}
	if (wr_raw(fd, endless_head, strlen(endless_head)) == 0)
		while (wr_raw(fd, a + off, n) == 0)
			continue;
	return CLOSE;
}

#define BIGREPLY	(8 * 1024 * 1024)

static int
sc_bigreply(int fd, int reqno, const char *body, size_t len)
{
	static char	*big;

	if (len > 2)
		return reply_cl(fd, "", body, len);
	if (big == NULL) {
		big = malloc(BIGREPLY);
		memset(big, 'b', BIGREPLY);
	}
	return reply_cl(fd, "", big, BIGREPLY);
}

/* Request 1 gets a reply libcurl parses but we refuse, on a kept connection. */
static int
sc_refused_then_ok(int fd, int reqno, const char *body, size_t len)
{
	if (reqno == 1) {
		wrs(fd, "HTTP/2.0 200 OK\r\nContent-Length: 4\r\n\r\nlate");
		return KEEP;
	}
	return reply_cl(fd, "", "fresh", 5);
}

/* Request 1 is answered after the client gave up, on the same connection. */
static int
sc_late_then_ok(int fd, int reqno, const char *body, size_t len)
{
	if (reqno == 1) {
		usleep(1500000);
		return reply_cl(fd, "", "late", 4);
	}
	return reply_cl(fd, "", "fresh", 5);
}

/* --- helpers ------------------------------------------------------------ */

static int
post(struct http *h, const char *body, size_t max, long timeout_ms,
    int *status, const char **reply, size_t *rlen, char *cause,
    size_t causelen)
{
	cause[0] = '\0';
	return http_post(h, body, strlen(body), timeout_ms, max, status, reply,
	    rlen, cause, causelen);
}

/* One reply the client must refuse, with cause containing want. */
static void
refuse(const char *what, const char *reply, size_t max, const char *want)
{
	struct http	*h;
	const char	*r;
	char		 url[128], cause[256];
	size_t		 rlen;
	pid_t		 pid;
	int		 port, status, ret;

	canned = reply;
	if ((pid = start(sc_canned, 0, url, sizeof url, &port)) == -1) {
		ok(0, "%s: server", what);
		return;
	}
	h = http_open(url, 5000, cause, sizeof cause);
	ret = post(h, "{}", max, 20000, &status, &r, &rlen, cause,
	    sizeof cause);
	ok(ret == -1 && strstr(cause, want) != NULL, "%s -> error: %s", what,
	    cause);
	ok(http_last_fail(h) == HTTP_FAIL_PROTO || http_last_fail(h) ==
	    HTTP_FAIL_TOOBIG || http_last_fail(h) == HTTP_FAIL_CLOSED,
	    "%s: kind %s", what, http_fail_str(http_last_fail(h)));
	http_free(h);
	stop(pid);
	ok(sh->nreq == 1, "%s: not resent (%d requests)", what, sh->nreq);
}

static long
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * A hostile server: the request fails within timeout + 1 s, with a cause
 * holding want and the kind given.
 */
static void
hostile(const char *what, scen_fn fn, size_t max, long timeout_ms,
    const char *want, enum http_fail kind, long within_ms)
{
	struct http	*h;
	const char	*r;
	char		 url[128], cause[256];
	size_t		 rlen;
	pid_t		 pid;
	long		 t0, ms;
	int		 port, status, ret;

	if ((pid = start(fn, 0, url, sizeof url, &port)) == -1) {
		ok(0, "%s: server", what);
		return;
	}
	h = http_open(url, 5000, cause, sizeof cause);
	t0 = now_ms();
	ret = post(h, "{}", max, timeout_ms, &status, &r, &rlen, cause,
	    sizeof cause);
	ms = now_ms() - t0;
	ok(ret == -1 && strstr(cause, want) != NULL && http_last_fail(h) ==
	    kind, "%s -> %s (%s)", what, cause, http_fail_str(http_last_fail(h)));
	ok(ms <= within_ms, "%s: stopped after %ld ms (at most %ld)", what, ms,
	    within_ms);
	ok(http_buffer_size(h) <= max + 1, "%s: reply buffer %zu bytes, cap "
	    "%zu", what, http_buffer_size(h), max);
	http_free(h);
	stop(pid);
}

static void
test_hostile(void)
{
	struct http	*h;
	const char	*r;
	char		 url[128], cause[256];
	size_t		 rlen;
	pid_t		 pid;
	int		 port, status, ret;

	hostile("one byte per second", sc_trickle, 1024, 2000,
	    "timed out after 2000 ms", HTTP_FAIL_TIMEOUT, 3000);
	hostile("endless 100 Continue", sc_continue, 1024, 2000,
	    "more than 8 interim", HTTP_FAIL_PROTO, 3000);
	hostile("100 Continue every 200 ms", sc_continue_slow, 1024, 1000,
	    "timed out after 1000 ms", HTTP_FAIL_TIMEOUT, 2000);
	hostile("endless headers", sc_endless_headers, 1024, 2000,
	    "headers larger than 65536", HTTP_FAIL_TOOBIG, 3000);
	hostile("one endless header line", sc_endless_line, 1024, 2000,
	    "header line longer than", HTTP_FAIL_TOOBIG, 3000);
	endless_head = "HTTP/1.1 200 OK\r\n\r\n";
	hostile("endless body to EOF", sc_endless_body, 1 << 20, 5000,
	    "body larger than 1048576 bytes", HTTP_FAIL_TOOBIG, 6000);
	endless_head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
	hostile("endless chunked body", sc_endless_body, 1 << 20, 5000,
	    "body larger than 1048576 bytes", HTTP_FAIL_TOOBIG, 6000);
	endless_head = "HTTP/1.1 200 OK\r\nContent-Length: 104857600\r\n\r\n";
	hostile("Content-Length 100 MB, cap 1 MB", sc_endless_body, 1 << 20,
	    5000, "body larger than 1048576 bytes", HTTP_FAIL_TOOBIG, 6000);

	/* Refused at its Content-Length: nothing buffered. */
	pid = start(sc_endless_body, 0, url, sizeof url, &port);
	h = http_open(url, 5000, cause, sizeof cause);
	ret = post(h, "{}", 1 << 20, 5000, &status, &r, &rlen, cause,
	    sizeof cause);
	ok(ret == -1 && http_buffer_size(h) <= 4096, "a reply over the cap by "
	    "its Content-Length is refused unbuffered (buffer %zu bytes)",
	    http_buffer_size(h));
	http_free(h);
	stop(pid);

	/* After a reply we refused, or a timeout: a new connection. */
	pid = start(sc_refused_then_ok, 0, url, sizeof url, &port);
	h = http_open(url, 5000, cause, sizeof cause);
	ret = post(h, "{}", 1024, 5000, &status, &r, &rlen, cause,
	    sizeof cause);
	ok(ret == -1 && strstr(cause, "bad status line") != NULL,
	    "HTTP/2.0 status line on HTTP/1.1 refused: %s", cause);
	ret = post(h, "{}", 1024, 5000, &status, &r, &rlen, cause,
	    sizeof cause);
	ok(ret == 0 && strcmp(r, "fresh") == 0 && sh->nconn == 2,
	    "next request on a new connection (%d): %s", sh->nconn, ret ?
	    cause : r);
	http_free(h);
	stop(pid);

	pid = start(sc_late_then_ok, 0, url, sizeof url, &port);
	h = http_open(url, 5000, cause, sizeof cause);
	ret = post(h, "{}", 1024, 500, &status, &r, &rlen, cause,
	    sizeof cause);
	ok(ret == -1 && http_last_fail(h) == HTTP_FAIL_TIMEOUT,
	    "late reply -> timeout: %s", cause);
	ret = post(h, "{}", 1024, 5000, &status, &r, &rlen, cause,
	    sizeof cause);
	ok(ret == 0 && strcmp(r, "fresh") == 0 && sh->nconn == 2,
	    "after a timeout, a new connection, never the late reply (%d): "
	    "%s", sh->nconn, ret ? cause : r);
	http_free(h);
	stop(pid);
}

/* Private + Pss of this process, kB (smaps_rollup), or -1. */
static long
private_kb(void)
{
	FILE	*f;
	char	 line[256];
	long	 kb = 0, v;

	if ((f = fopen("/proc/self/smaps_rollup", "r")) == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL)
		if ((sscanf(line, "Private_Clean: %ld kB", &v) == 1) ||
		    (sscanf(line, "Private_Dirty: %ld kB", &v) == 1))
			kb += v;
	fclose(f);
	return kb;
}

/* A large reply is allowed, and its memory is given back afterwards. */
static void
test_memory(void)
{
	struct http	*h;
	const char	*r;
	char		 url[128], cause[256];
	size_t		 rlen;
	pid_t		 pid;
	long		 base, peak, after;
	int		 port, status, ret;

	pid = start(sc_bigreply, 0, url, sizeof url, &port);
	h = http_open(url, 5000, cause, sizeof cause);
	ret = post(h, "{\"small\":1}", 1024, 20000, &status, &r, &rlen, cause,
	    sizeof cause);
	base = private_kb();
	ret = post(h, "{}", 2 * BIGREPLY, 20000, &status, &r, &rlen, cause,
	    sizeof cause);
	peak = private_kb();
	ok(ret == 0 && rlen == BIGREPLY && r[0] == 'b' && r[rlen - 1] == 'b',
	    "an 8 MB reply under a 16 MB cap: %s", ret ? cause : "ok");
	ret = post(h, "{\"small\":1}", 1024, 20000, &status, &r, &rlen, cause,
	    sizeof cause);
	after = private_kb();
	ok(ret == 0 && http_buffer_size(h) <= 256 * 1024, "the next request "
	    "gives the buffer back (%zu bytes)", http_buffer_size(h));
#ifdef __SANITIZE_ADDRESS__
	/* ASan keeps freed memory in its quarantine. */
	ok(1, "# SKIP private memory under ASan (%ld, %ld, %ld kB)", base,
	    peak, after);
#else
	ok(base > 0 && after < base + 1024, "private memory %ld kB before, "
	    "%ld kB with the reply, %ld kB after", base, peak, after);
#endif
	http_free(h);
	stop(pid);
}

/* A bound port, closed again: connections to it are refused. */
static int
closed_port(void)
{
	struct sockaddr_in	sin;
	socklen_t		slen = sizeof sin;
	int			lfd;

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&sin, sizeof sin) == -1 ||
	    getsockname(lfd, (struct sockaddr *)&sin, &slen) == -1)
		return -1;
	close(lfd);
	return ntohs(sin.sin_port);
}

/*
 * Proxies: from the environment (http_proxy, NO_PROXY) and from the
 * setting.  The "proxy" is a scripted server that answers itself and
 * records the request line; the origin is a closed port.
 */
static void
test_proxy(void)
{
	struct http_opts	 o;
	struct http		*h;
	const char		*r;
	char			 url[128], origin[128], proxy[128], want[160];
	char			 cause[256];
	size_t			 rlen;
	pid_t			 pid;
	int			 port, cport, status, ret;

	cport = closed_port();
	snprintf(origin, sizeof origin, "http://127.0.0.1:%d/api", cport);
	snprintf(want, sizeof want, "POST http://127.0.0.1:%d/api HTTP/1.1\r\n",
	    cport);
	pid = start(sc_echo, 0, url, sizeof url, &port);
	snprintf(proxy, sizeof proxy, "http://127.0.0.1:%d", port);

	setenv("http_proxy", proxy, 1);
	h = http_open(origin, 5000, cause, sizeof cause);
	ret = post(h, "{\"p\":1}", 100, 5000, &status, &r, &rlen, cause,
	    sizeof cause);
	ok(ret == 0 && strcmp(r, "{\"p\":1}") == 0 && strncmp(sh->firstreq,
	    want, strlen(want)) == 0, "http_proxy from the environment: %s",
	    ret ? cause : "through the proxy");
	http_free(h);
	unsetenv("http_proxy");

	/* The setting, with nothing in the environment. */
	sh->nreq = 0;
	memset(&o, 0, sizeof o);
	o.connect_ms = 5000;
	o.proxy = proxy;
	h = http_open_opts(origin, &o, cause, sizeof cause);
	ret = post(h, "{\"p\":2}", 100, 5000, &status, &r, &rlen, cause,
	    sizeof cause);
	ok(ret == 0 && sh->nreq == 1 && strncmp(sh->firstreq, want,
	    strlen(want)) == 0, "colonies.proxy: %s", ret ? cause :
	    "through the proxy");
	http_free(h);

	/* NO_PROXY: the proxy (a closed port now) is bypassed. */
	snprintf(proxy, sizeof proxy, "http://127.0.0.1:%d", cport);
	setenv("http_proxy", proxy, 1);
	h = http_open(url, 5000, cause, sizeof cause);
	ret = post(h, "{}", 100, 5000, &status, &r, &rlen, cause,
	    sizeof cause);
	ok(ret == -1 && http_last_fail(h) == HTTP_FAIL_CONNECT,
	    "a dead proxy in http_proxy is used: %s", cause);
	http_free(h);
	setenv("NO_PROXY", "127.0.0.1", 1);
	sh->nreq = 0;
	h = http_open(url, 5000, cause, sizeof cause);
	ret = post(h, "{}", 100, 5000, &status, &r, &rlen, cause,
	    sizeof cause);
	ok(ret == 0 && sh->nreq == 1 && strncmp(sh->firstreq, "POST /api ",
	    10) == 0, "NO_PROXY=127.0.0.1 goes direct: %s", ret ? cause :
	    "direct");
	http_free(h);
	unsetenv("NO_PROXY");
	unsetenv("http_proxy");
	stop(pid);
}

static void
test_urls(void)
{
	static const char	*bad[] = {
		"ftp://x/", "http://", "http:///api", "http://h:0/",
		"http://h:65536/", "http://h:/", "http://h:8x/",
		"http://[::1/", "http://[zz]/", "http://u:p@h/",
		"http://h/a b", "http://h/a\r\nX: y", "http://h?x",
		"https//h/",
	};
	struct http	*h;
	char		 cause[256];
	size_t		 i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cause[0] = '\0';
		h = http_open(bad[i], 1000, cause, sizeof cause);
		ok(h == NULL && cause[0] != '\0', "bad URL refused: %s", cause);
		http_free(h);
	}
	h = http_open("http://[::1]:8080/x", 1000, cause, sizeof cause);
	ok(h != NULL, "http://[::1]:8080/x accepted");
	http_free(h);
	h = http_open("HTTPS://colonies.example", 1000, cause, sizeof cause);
	ok(h != NULL, "https URL without path or port accepted");
	http_free(h);
}

static void
test_plain(void)
{
	struct http	*h;
	const char	*r;
	char		 url[128], cause[256], want[256], *big;
	size_t		 rlen;
	pid_t		 pid;
	int		 port, status, ret, i;

	/* Request format, Content-Length replies, reuse. */
	pid = start(sc_echo, 0, url, sizeof url, &port);
	h = http_open(url, 5000, cause, sizeof cause);
	ok(h != NULL, "open %s", url);
	for (i = 0; i < 3; i++) {
		ret = post(h, "{\"a\":\"b\"}", 1024, 20000, &status, &r, &rlen,
		    cause, sizeof cause);
		ok(ret == 0 && status == 200 && rlen == 9 &&
		    strcmp(r, "{\"a\":\"b\"}") == 0,
		    "Content-Length reply %d: %s", i, ret ? cause : r);
	}
	ok(sh->nconn == 1 && sh->nreq == 3, "keep-alive: %d requests on %d "
	    "connection(s)", sh->nreq, sh->nconn);
	snprintf(want, sizeof want, "POST /api HTTP/1.1\r\nHost: 127.0.0.1:%d"
	    "\r\n", port);
	ok(strncmp(sh->firstreq, want, strlen(want)) == 0,
	    "request line and Host");
	ok(strstr(sh->firstreq, "\r\nContent-Type: application/json\r\n") !=
	    NULL && strstr(sh->firstreq, "\r\nContent-Length: 9\r\n") != NULL &&
	    strstr(sh->firstreq, "\r\nUser-Agent: financebee/") != NULL,
	    "Content-Type, Content-Length, User-Agent");
	ok(strcasestr(sh->firstreq, "Expect") == NULL, "no Expect header");
	ret = http_get(h, "/stats?colony=a%20b", 20000, 1024, &status, &r,
	    &rlen, cause, sizeof cause);
	ok(ret == 0 && status == 200 && rlen == 0, "GET: %s", ret ? cause :
	    "ok");
	big = malloc(BIG + 1);
	for (i = 0; i < BIG; i++)
		big[i] = "0123456789abcdefghijklmnopqrstuvwxyz"[i % 36];
	big[BIG] = '\0';
	ret = post(h, big, BIG, 20000, &status, &r, &rlen, cause,
	    sizeof cause);
	ok(ret == 0 && rlen == BIG && memcmp(r, big, BIG) == 0,
	    "100 KB echoed exactly");
	ok(sh->nconn == 1, "still one connection");
	http_free(h);
	stop(pid);

	/* Chunked, with extensions and trailers, small and large. */
	pid = start(sc_chunked, 0, url, sizeof url, &port);
	h = http_open(url, 5000, cause, sizeof cause);
	ret = post(h, "hello world", 1024, 20000, &status, &r, &rlen, cause,
	    sizeof cause);
	ok(ret == 0 && status == 201 && strcmp(r, "hello world") == 0,
	    "chunked with extensions and trailers: %s", ret ? cause : r);
	ret = post(h, big, BIG, 20000, &status, &r, &rlen, cause,
	    sizeof cause);
	ok(ret == 0 && rlen == BIG && memcmp(r, big, BIG) == 0,
	    "100 KB in 3000-byte chunks echoed exactly");
	ret = post(h, big, BIG - 1, 20000, &status, &r, &rlen, cause,
	    sizeof cause);
	ok(ret == -1 && strstr(cause, "larger than") != NULL,
	    "chunked body over the cap -> error: %s", cause);
	ok(sh->nconn == 1 && sh->nreq == 3, "chunked replies kept the "
	    "connection");
	http_free(h);
	stop(pid);

	/* One byte per write, chunked then Content-Length. */
	pid = start(sc_dribble, 0, url, sizeof url, &port);
	h = http_open(url, 5000, cause, sizeof cause);
	for (i = 0; i < 2; i++) {
		ret = post(h, "{\"dribble\":true}", 1024, 20000, &status, &r,
		    &rlen, cause, sizeof cause);
		ok(ret == 0 && status == 200 &&
		    strcmp(r, "{\"dribble\":true}") == 0,
		    "reply dribbled one byte per write (%s): %s", i == 0 ?
		    "chunked" : "Content-Length", ret ? cause : r);
	}
	ok(sh->nconn == 1, "dribbled replies kept the connection");
	http_free(h);
	stop(pid);

	pid = start(sc_1xx, 0, url, sizeof url, &port);
	h = http_open(url, 5000, cause, sizeof cause);
	ret = post(h, "{}", 1024, 20000, &status, &r, &rlen, cause,
	    sizeof cause);
	ok(ret == 0 && status == 200 && strcmp(r, "ok") == 0,
	    "100 and 102 interim replies skipped: %s", ret ? cause : r);
	http_free(h);
	stop(pid);

	/* Connection: close, HTTP/1.0, read to EOF: a new connection each. */
	pid = start(sc_close, 0, url, sizeof url, &port);
	h = http_open(url, 5000, cause, sizeof cause);
	for (i = 0; i < 2; i++) {
		ret = post(h, "{}", 1024, 20000, &status, &r, &rlen, cause,
		    sizeof cause);
		ok(ret == 0 && strcmp(r, "ok") == 0, "Connection: close reply "
		    "%d: %s", i, ret ? cause : r);
	}
	ok(sh->nconn == 2, "Connection: close -> reconnected (%d)",
	    sh->nconn);
	http_free(h);
	stop(pid);

	pid = start(sc_http10, 0, url, sizeof url, &port);
	h = http_open(url, 5000, cause, sizeof cause);
	for (i = 0; i < 2; i++) {
		ret = post(h, "{}", 1024, 20000, &status, &r, &rlen, cause,
		    sizeof cause);
		ok(ret == 0 && strcmp(r, "ok") == 0, "HTTP/1.0 reply %d: %s",
		    i, ret ? cause : r);
	}
	ok(sh->nconn == 2, "HTTP/1.0 without keep-alive not reused (%d)",
	    sh->nconn);
	http_free(h);
	stop(pid);

	pid = start(sc_http10ka, 0, url, sizeof url, &port);
	h = http_open(url, 5000, cause, sizeof cause);
	for (i = 0; i < 2; i++)
		ret = post(h, "{}", 1024, 20000, &status, &r, &rlen, cause,
		    sizeof cause);
	ok(ret == 0 && sh->nconn == 1, "HTTP/1.0 with keep-alive reused");
	http_free(h);
	stop(pid);

	pid = start(sc_to_eof, 0, url, sizeof url, &port);
	h = http_open(url, 5000, cause, sizeof cause);
	for (i = 0; i < 2; i++) {
		ret = post(h, "{}", 1024, 20000, &status, &r, &rlen, cause,
		    sizeof cause);
		ok(ret == 0 && strcmp(r, "abc") == 0, "body read to EOF %d: %s",
		    i, ret ? cause : r);
	}
	ok(sh->nconn == 2, "read to EOF -> reconnected (%d)", sh->nconn);
	http_free(h);
	stop(pid);

	/* The server drops the kept connection: transparently a new one. */
	pid = start(sc_idle_close, 0, url, sizeof url, &port);
	h = http_open(url, 5000, cause, sizeof cause);
	for (i = 0; i < 3; i++) {
		ret = post(h, "{}", 1024, 20000, &status, &r, &rlen, cause,
		    sizeof cause);
		ok(ret == 0 && strcmp(r, "ok") == 0, "request %d after the "
		    "server closed the kept connection: %s", i, ret ? cause :
		    r);
		usleep(20000);
	}
	ok(sh->nconn == 3, "one connection per request (%d)", sh->nconn);
	http_free(h);
	stop(pid);

	/* EOF in a body on a reused connection: error, never resent. */
	pid = start(sc_midbody, 0, url, sizeof url, &port);
	h = http_open(url, 5000, cause, sizeof cause);
	ret = post(h, "{}", 1024, 20000, &status, &r, &rlen, cause,
	    sizeof cause);
	ok(ret == 0, "first reply");
	ret = post(h, "{}", 1024, 20000, &status, &r, &rlen, cause,
	    sizeof cause);
	ok(ret == -1 && strstr(cause, "closed before the end") != NULL,
	    "EOF in a Content-Length body -> error: %s", cause);
	ret = post(h, "{}", 1024, 20000, &status, &r, &rlen, cause,
	    sizeof cause);
	ok(ret == 0 && strcmp(r, "ok") == 0, "next request reconnects");
	ret = post(h, "{}", 1024, 20000, &status, &r, &rlen, cause,
	    sizeof cause);
	ok(ret == -1 && strstr(cause, "closed before the end") != NULL,
	    "EOF in a chunk -> error: %s", cause);
	ok(sh->nreq == 4, "nothing resent after part of a reply (%d "
	    "requests)", sh->nreq);
	http_free(h);
	stop(pid);

	free(big);
}

static void
test_refused(void)
{
	static char	 reply[80000];
	struct sockaddr_in sin;
	struct http	*h;
	const char	*r;
	char		 url[128], cause[256], want[128];
	socklen_t	 slen = sizeof sin;
	size_t		 rlen;
	pid_t		 pid;
	int		 lfd, status, ret, port, i;

	refuse("body over the cap", "HTTP/1.1 200 OK\r\nContent-Length: 200"
	    "\r\n\r\n", 100, "body larger than 100 bytes");
	refuse("read-to-EOF body over the cap", "HTTP/1.1 200 OK\r\n\r\n"
	    "0123456789", 5, "body larger than 5 bytes");
	memset(reply, 0, sizeof reply);
	strcpy(reply, "HTTP/1.1 200 OK\r\nX-Long: ");
	memset(reply + strlen(reply), 'a', 70000);
	/* libcurl buffers a header line up to 100 KB: this one never ends. */
	refuse("one 70 KB header line, then EOF", reply, 100,
	    "closed in the headers");
	refuse("garbage status line", "HTPP/1.1 200 OK\r\n\r\n", 100,
	    "bad status line");
	refuse("status 2x0", "HTTP/1.1 2x0 OK\r\n\r\n", 100,
	    "bad status line");
	refuse("HTTP/2.0", "HTTP/2.0 200 OK\r\n\r\n", 100, "bad status line");
	refuse("bad chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
	    "chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", 100, "bad chunked body");
	refuse("chunk size overflow", "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
	    "chunked\r\n\r\n10000000000000001\r\nx\r\n0\r\n\r\n", 1 << 20,
	    "bad chunked body");
	refuse("chunk longer than its size", "HTTP/1.1 200 OK\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n2\r\nhello\r\n0\r\n\r\n", 100,
	    "bad chunked body");
	refuse("negative Content-Length", "HTTP/1.1 200 OK\r\n"
	    "Content-Length: -5\r\n\r\nhello", 100, "bad Content-Length");
	refuse("conflicting Content-Length", "HTTP/1.1 200 OK\r\n"
	    "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 100,
	    "bad Content-Length");
	refuse("Content-Length list", "HTTP/1.1 200 OK\r\n"
	    "Content-Length: 5, 6\r\n\r\nhello!", 100, "bad Content-Length");
	refuse("huge Content-Length", "HTTP/1.1 200 OK\r\n"
	    "Content-Length: 99999999999999999999999\r\n\r\nhello!", 100,
	    "body larger than 100 bytes");
	refuse("gzip transfer coding", "HTTP/1.1 200 OK\r\n"
	    "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 100,
	    "unsupported transfer encoding");
	refuse("header without a colon", "HTTP/1.1 200 OK\r\nBroken\r\n\r\n",
	    100, "bad header line");
	refuse("empty reply", "", 100, "without a reply");

	pid = start(sc_bighdr, 0, url, sizeof url, &port);
	h = http_open(url, 5000, cause, sizeof cause);
	ret = post(h, "{}", 100, 20000, &status, &r, &rlen, cause,
	    sizeof cause);
	ok(ret == -1 && strstr(cause, "headers larger than 65536") != NULL,
	    "75 KB of headers -> error: %s", cause);
	http_free(h);
	stop(pid);

	canned = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2"
	    "\r\n\r\nok";
	pid = start(sc_canned, 0, url, sizeof url, &port);
	h = http_open(url, 5000, cause, sizeof cause);
	ret = post(h, "{}", 100, 20000, &status, &r, &rlen, cause,
	    sizeof cause);
	ok(ret == 0 && strcmp(r, "ok") == 0, "equal duplicate Content-Length "
	    "accepted: %s", ret ? cause : r);
	http_free(h);
	stop(pid);

	/* Mangled replies: an error or a bounded body, never a crash. */
	pid = start(sc_fuzz, 0, url, sizeof url, &port);
	h = http_open(url, 5000, cause, sizeof cause);
	for (i = 0; i < NFUZZ; i++) {
		ret = post(h, "{}", 100, 20000, &status, &r, &rlen, cause,
		    sizeof cause);
		if (ret == 0 && (rlen > 100 || strlen(r) > rlen))
			break;
	}
	ok(i == NFUZZ, "%d mangled replies handled", i);
	http_free(h);
	stop(pid);

	/* No reply: the deadline, then the abort callback. */
	pid = start(sc_hang, 0, url, sizeof url, &port);
	h = http_open(url, 5000, cause, sizeof cause);
	ret = post(h, "{}", 100, 300, &status, &r, &rlen, cause, sizeof cause);
	ok(ret == -1 && strcmp(cause, "timed out after 300 ms") == 0,
	    "no reply -> timeout: %s", cause);
	http_free(h);
	h = http_open(url, 5000, cause, sizeof cause);
	http_set_abort(h, abort_cb, &naborts);
	ret = post(h, "{}", 100, 60000, &status, &r, &rlen, cause,
	    sizeof cause);
	ok(ret == -1 && naborts >= 2 && strstr(cause, "abort") != NULL,
	    "abort callback ends a hanging request: %s", cause);
	http_free(h);
	stop(pid);
	ok(sh->nreq <= 2, "timed out and aborted requests not resent (%d)",
	    sh->nreq);

	/* Connection refused: bind a port, close it, use it. */
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&sin, sizeof sin) == -1 ||
	    getsockname(lfd, (struct sockaddr *)&sin, &slen) == -1)
		ok(0, "bind");
	close(lfd);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/api",
	    ntohs(sin.sin_port));
	h = http_open(url, 5000, cause, sizeof cause);
	ret = post(h, "{}", 100, 5000, &status, &r, &rlen, cause,
	    sizeof cause);
	snprintf(want, sizeof want, "connect to 127.0.0.1:%d: Connection "
	    "refused", ntohs(sin.sin_port));
	ok(ret == -1 && strcmp(cause, want) == 0, "refused: %s", cause);
	http_free(h);

	/* IPv6 literal, where the machine has ::1. */
	if ((pid = start(sc_echo, 1, url, sizeof url, &port)) == -1) {
		ok(1, "# SKIP no IPv6 loopback");
		return;
	}
	h = http_open(url, 5000, cause, sizeof cause);
	ret = post(h, "v6", 100, 20000, &status, &r, &rlen, cause,
	    sizeof cause);
	snprintf(want, sizeof want, "\r\nHost: [::1]:%d\r\n", port);
	ok(ret == 0 && strcmp(r, "v6") == 0 && strstr(sh->firstreq, want) !=
	    NULL, "IPv6 [::1] URL: %s", ret ? cause : r);
	http_free(h);
	stop(pid);
}

/* --- TLS ----------------------------------------------------------------- */

/*
 * One https request in a child process: the SSL_CTX is made once per
 * process from SSL_CERT_FILE as it is then.  The cause (or the reply)
 * comes back through a pipe, "0 reply" or "1 cause".
 */
/*
 * The connect phase holds the handshake and, with no CA file, the load of
 * the system's CA bundle: 150 ms under ASan on an idle machine, over 5 s
 * once at load 27.  The tests here are about causes, not time.
 */
#define TLS_CONNECT_MS	20000

static void
tls_client_opts(const char *url, const char *certfile,
    const struct http_opts *o, int nreq, char *out, size_t outlen)
{
	struct http	*h;
	const char	*r = "";
	char		 cause[256];
	size_t		 rlen;
	ssize_t		 n;
	pid_t		 pid;
	int		 p[2], status, ret = 0, i;

	if (pipe(p) == -1) {
		snprintf(out, outlen, "1 pipe");
		return;
	}
	fflush(stdout);
	if ((pid = fork()) == 0) {
		close(p[0]);
		if (certfile != NULL)
			setenv("SSL_CERT_FILE", certfile, 1);
		else {
			unsetenv("SSL_CERT_FILE");
			/* The system store, never one holding our test CA. */
			setenv("SSL_CERT_DIR", "/nonexistent", 1);
		}
		h = o != NULL ? http_open_opts(url, o, cause, sizeof cause) :
		    http_open(url, TLS_CONNECT_MS, cause, sizeof cause);
		for (i = 0; i < nreq && ret == 0; i++)
			ret = post(h, "{\"tls\":1}", 100, 20000, &status, &r,
			    &rlen, cause, sizeof cause);
		dprintf(p[1], "%d %s", ret == 0 ? 0 : 1, ret == 0 ? r : cause);
		http_free(h);
		_exit(0);
	}
	close(p[1]);
	n = read(p[0], out, outlen - 1);
	out[n > 0 ? n : 0] = '\0';
	close(p[0]);
	waitpid(pid, &status, 0);
}

static void
tls_client(const char *url, const char *certfile, int nreq, char *out,
    size_t outlen)
{
	tls_client_opts(url, certfile, NULL, nreq, out, outlen);
}

static scen_fn	tls_scen = sc_echo;

static pid_t
tls_start(const char *crt, const char *key, char *url, size_t urllen,
    const char *host, int *port)
{
	pid_t	pid;

	if ((srv_ctx = SSL_CTX_new(TLS_server_method())) == NULL ||
	    SSL_CTX_use_certificate_chain_file(srv_ctx, crt) != 1 ||
	    SSL_CTX_use_PrivateKey_file(srv_ctx, key, SSL_FILETYPE_PEM) != 1) {
		printf("Bail out! cannot load %s / %s\n", crt, key);
		exit(1);
	}
	pid = start(tls_scen, 0, url, urllen, port);
	SSL_CTX_free(srv_ctx);
	srv_ctx = NULL;
	snprintf(url, urllen, "https://%s:%d/api", host, *port);
	return pid;
}

/*
 * A server that takes the connection (the kernel's backlog does) and never
 * answers the ClientHello: the handshake is part of the connect phase, so
 * it ends at the connect timeout, and the cause says so (libcurl's "SSL
 * connection timeout" once read as the 20 s total deadline).
 */
static void
tls_silent(const char *cafile)
{
	struct sockaddr_in	 sin;
	struct http_opts	 o;
	struct http		*h;
	const char		*r;
	char			 url[128], cause[256], want[128];
	socklen_t		 slen = sizeof sin;
	size_t			 rlen;
	int			 lfd, status, ret;

	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((lfd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    bind(lfd, (struct sockaddr *)&sin, sizeof sin) == -1 ||
	    listen(lfd, 16) == -1 ||
	    getsockname(lfd, (struct sockaddr *)&sin, &slen) == -1) {
		ok(0, "silent TLS server: %s", strerror(errno));
		return;
	}
	snprintf(url, sizeof url, "https://127.0.0.1:%d/api",
	    ntohs(sin.sin_port));
	memset(&o, 0, sizeof o);
	o.connect_ms = 500;
	o.ca_file = cafile;
	h = http_open_opts(url, &o, cause, sizeof cause);
	ret = post(h, "{}", 100, 20000, &status, &r, &rlen, cause,
	    sizeof cause);
	snprintf(want, sizeof want, "connect to 127.0.0.1:%d: TLS handshake "
	    "timed out after 500 ms", ntohs(sin.sin_port));
	ok(ret == -1 && strcmp(cause, want) == 0 && http_last_fail(h) ==
	    HTTP_FAIL_CONNECT_TIMEOUT, "no ServerHello: %s (%s)", cause,
	    http_fail_str(http_last_fail(h)));
	http_free(h);
	close(lfd);
}

static void
test_tls(char **argv)
{
	char	url[128], out[512];
	pid_t	pid;
	int	port;

	signal(SIGPIPE, SIG_IGN);
	pid = tls_start(argv[0], argv[1], url, sizeof url, "localhost", &port);
	tls_client(url, argv[0], 3, out, sizeof out);
	ok(strcmp(out, "0 {\"tls\":1}") == 0, "https with SSL_CERT_FILE: %s",
	    out);
	ok(sh->nconn == 1 && sh->nreq == 3, "https keep-alive: %d requests on "
	    "%d connection(s)", sh->nreq, sh->nconn);
	tls_client(url, NULL, 1, out, sizeof out);
	ok(strncmp(out, "1 TLS: certificate verify failed: ", 34) == 0 &&
	    strstr(out, "self") != NULL, "self-signed, not trusted: %s", out);
	snprintf(url, sizeof url, "https://127.0.0.1:%d/api", port);
	tls_client(url, argv[0], 1, out, sizeof out);
	ok(strncmp(out, "1 TLS: certificate verify failed: ", 34) == 0 &&
	    strstr(out, "mismatch") != NULL,
	    "certificate for localhost, URL names 127.0.0.1: %s", out);
	stop(pid);

	pid = tls_start(argv[2], argv[3], url, sizeof url, "localhost", &port);
	tls_client(url, argv[2], 1, out, sizeof out);
	ok(strncmp(out, "1 TLS: certificate verify failed: hostname "
	    "mismatch", 50) == 0, "certificate for another host name: %s", out);
	stop(pid);

	/* A plain HTTP server behind an https URL (as Go's answers). */
	greet = "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP "
	    "request to an HTTPS server.\n";
	pid = start(sc_echo, 0, url, sizeof url, &port);
	greet = NULL;
	snprintf(url, sizeof url, "https://localhost:%d/api", port);
	tls_client(url, argv[0], 1, out, sizeof out);
	ok(strncmp(out, "1 TLS: ", 7) == 0, "https to a plain HTTP server: %s",
	    out);
	stop(pid);
	tls_silent(argv[0]);
}

/* TLS replies cut short: the server closes without close_notify. */
static int
sc_tls_trunc_cl(int fd, int reqno, const char *body, size_t len)
{
	wrs(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort");
	return CLOSE;
}

static int
sc_tls_trunc_eof(int fd, int reqno, const char *body, size_t len)
{
	wrs(fd, "HTTP/1.1 200 OK\r\n\r\npartial");
	return CLOSE;
}

/* The same body to EOF, ended properly with close_notify. */
static int
sc_tls_eof_notify(int fd, int reqno, const char *body, size_t len)
{
	wrs(fd, "HTTP/1.1 200 OK\r\n\r\ncomplete");
	SSL_shutdown(srv_ssl);
	return CLOSE;
}

/*
 * A server certificate from a private CA: refused without the CA,
 * accepted with colonies.ca_file or ca_path (a hashed directory); and
 * truncated replies.  argv: CA.crt SRV.crt SRV.key CADIR.
 */
static void
test_tls_ca(char **argv)
{
	struct http_opts	o;
	char			url[128], out[512];
	pid_t			pid;
	int			port;

	pid = tls_start(argv[1], argv[2], url, sizeof url, "localhost", &port);
	tls_client(url, NULL, 1, out, sizeof out);
	ok(strncmp(out, "1 TLS: certificate verify failed: ", 34) == 0,
	    "private CA, no ca_file: %s", out);
	memset(&o, 0, sizeof o);
	o.connect_ms = TLS_CONNECT_MS;
	o.ca_file = argv[0];
	tls_client_opts(url, NULL, &o, 2, out, sizeof out);
	ok(strcmp(out, "0 {\"tls\":1}") == 0, "private CA in ca_file: %s", out);
	o.ca_file = NULL;
	o.ca_path = argv[3];
	tls_client_opts(url, NULL, &o, 1, out, sizeof out);
	ok(strcmp(out, "0 {\"tls\":1}") == 0, "private CA in ca_path: %s", out);
	stop(pid);

	o.ca_file = argv[0];
	tls_scen = sc_tls_trunc_cl;
	pid = tls_start(argv[1], argv[2], url, sizeof url, "localhost", &port);
	tls_client_opts(url, NULL, &o, 1, out, sizeof out);
	ok(strncmp(out, "1 reply: ", 9) == 0 && strstr(out, "closed") != NULL,
	    "TLS body shorter than its Content-Length: %s", out);
	stop(pid);
	tls_scen = sc_tls_trunc_eof;
	pid = tls_start(argv[1], argv[2], url, sizeof url, "localhost", &port);
	tls_client_opts(url, NULL, &o, 1, out, sizeof out);
	ok(strncmp(out, "1 reply: ", 9) == 0 && strstr(out, "close_notify") !=
	    NULL, "TLS body to EOF without close_notify: %s", out);
	stop(pid);
	tls_scen = sc_tls_eof_notify;
	pid = tls_start(argv[1], argv[2], url, sizeof url, "localhost", &port);
	tls_client_opts(url, NULL, &o, 1, out, sizeof out);
	ok(strcmp(out, "0 complete") == 0, "TLS body to EOF with close_notify: "
	    "%s", out);
	stop(pid);
	tls_scen = sc_echo;
}

/*
 * test-http resolve HOST, run by t/15-http-resolve.t where no nameserver
 * answers (fb_deaf_dns): a request to HOST must give up within its 1 s
 * connect timeout.
 */
static void
test_resolve(const char *host)
{
	struct http		*h;
	struct timespec		 t0, t1;
	const char		*r;
	char			 url[300], cause[256];
	size_t			 rlen;
	long			 ms;
	int			 status, ret;

	snprintf(url, sizeof url, "http://%s:8080/api", host);
	h = http_open(url, 1000, cause, sizeof cause);
	ok(h != NULL, "http_open %s", url);
	if (h == NULL)
		return;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ret = post(h, "{}", 100, 20000, &status, &r, &rlen, cause,
	    sizeof cause);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) /
	    1000000;
	ok(ret != 0, "the request fails");
	ok(strncmp(cause, "resolve ", 8) == 0 &&
	    strstr(cause, ": no answer within 1000 ms") != NULL,
	    "... because the lookup had no answer in the connect timeout "
	    "(%s)", cause);
	ok(ms >= 900 && ms < 5000, "... after %ld ms, not the resolver's 30 s",
	    ms);
	http_free(h);
}

/*
 * test-http eyeballs NAME DEADV6, run by t/16-http-eyeballs.t: NAME has
 * DEADV6 (a black hole) first and 127.0.0.1; a request to NAME must
 * connect over IPv4 well within the connect timeout.
 */
static void
test_eyeballs(const char *name, const char *dead)
{
	struct addrinfo	 hints, *res, *ai;
	struct http	*h;
	const char	*r;
	char		 url[300], cause[256];
	size_t		 rlen;
	pid_t		 pid;
	long		 t0, ms;
	int		 port, status, ret, v4 = 0;

	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(name, "80", &hints, &res) != 0) {
		ok(0, "getaddrinfo %s", name);
		return;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next)
		v4 |= ai->ai_family == AF_INET;
	ok(res->ai_family == AF_INET6 && v4, "%s: IPv6 first, then IPv4",
	    name);
	freeaddrinfo(res);

	/* The IPv6 address alone: connect waits for its whole timeout. */
	snprintf(url, sizeof url, "http://[%s]:8080/api", dead);
	h = http_open(url, 1000, cause, sizeof cause);
	t0 = now_ms();
	ret = post(h, "{}", 100, 5000, &status, &r, &rlen, cause,
	    sizeof cause);
	ms = now_ms() - t0;
	ok(ret == -1 && http_last_fail(h) == HTTP_FAIL_CONNECT_TIMEOUT &&
	    ms >= 900, "%s is a black hole: %s after %ld ms", dead, cause, ms);
	http_free(h);

	if ((pid = start(sc_echo, 0, url, sizeof url, &port)) == -1) {
		ok(0, "server on 127.0.0.1");
		return;
	}
	snprintf(url, sizeof url, "http://%s:%d/api", name, port);
	h = http_open(url, 5000, cause, sizeof cause);
	t0 = now_ms();
	ret = post(h, "{\"v4\":1}", 100, 10000, &status, &r, &rlen, cause,
	    sizeof cause);
	ms = now_ms() - t0;
	ok(ret == 0 && strcmp(r, "{\"v4\":1}") == 0, "%s: connected: %s", name,
	    ret ? cause : "over IPv4");
	ok(ms < 1500, "... after %ld ms, not the 5000 ms connect timeout", ms);
	http_free(h);
	stop(pid);
}

/*
 * test-http udp-sink SECONDS ADDR: a nameserver on ADDR:53 (a loopback
 * address of the caller's own, so that two tests never share one) that
 * never answers, for fb_deaf_dns (t/lib/fbtest.sh); prints "ready" once
 * bound.
 */
static int
udp_sink(const char *secs, const char *addr)
{
	struct sockaddr_in	sin;
	int			fd;

	fd = socket(AF_INET, SOCK_DGRAM, 0);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons(53);
	if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1) {
		fprintf(stderr, "udp-sink: bad address %s\n", addr);
		return 1;
	}
	if (fd == -1 || bind(fd, (struct sockaddr *)&sin, sizeof sin) == -1) {
		fprintf(stderr, "udp-sink: bind %s:53: %s\n", addr,
		    strerror(errno));
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	sleep((unsigned int)atoi(secs));
	return 0;
}

int
main(int argc, char **argv)
{
	sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED |
	    MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		printf("Bail out! mmap\n");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	if ((argc == 6 || argc == 10) && strcmp(argv[1], "tls") == 0) {
		test_tls(argv + 2);
		if (argc == 10)
			test_tls_ca(argv + 6);
	}
	else if (argc == 4 && strcmp(argv[1], "eyeballs") == 0)
		test_eyeballs(argv[2], argv[3]);
	else if (argc == 3 && strcmp(argv[1], "resolve") == 0)
		test_resolve(argv[2]);
	else if (argc == 4 && strcmp(argv[1], "udp-sink") == 0)
		return udp_sink(argv[2], argv[3]);
	else {
		test_urls();
		test_plain();
		test_refused();
		test_hostile();
		test_memory();
		test_proxy();
	}
	return tap_done();
}
