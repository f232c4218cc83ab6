/*
 * http.c: a minimal blocking HTTP/1.1 client for the ColonyOS RPC: one
 * request at a time on one kept-alive connection, http or https
 * (OpenSSL).  It replaced libcurl, whose dependency chain cost ~1.4 MB of
 * resident pages in every process (measured beside libpq, which maps much
 * of the same chain) and whose event loop cost several poll()s per
 * request.
 *
 * The common path on a kept connection is one send() of headers and body
 * and blocking recv()s, no poll: the socket has SO_RCVTIMEO/SO_SNDTIMEO
 * set to a slice (HTTP_SLICE_MS, less when the deadline is nearer), and
 * every expiry of a slice checks the request deadline and the abort
 * callback.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "colonies.h"

#define HTTP_SLICE_MS		1000		/* abort/deadline checks */
#define HTTP_MAX_HEADERS	(64 * 1024)	/* status line + headers */
#define HTTP_MAX_LINE		4096		/* chunk size line */
#define HTTP_INBUF		16384
#define HTTP_KEEP_BODY		(4 * 1024 * 1024)

struct http {
	char		*host;		/* without brackets */
	char		*port;
	char		*path;
	char		*hostport;	/* for causes and the Host header */
	int		 tls;
	long		 connect_ms;

	int		 fd;
	SSL		*ssl;
	int		 reused;	/* a reply was read on this connection */
	long		 slice_ms;	/* SO_RCVTIMEO/SO_SNDTIMEO now set */

	int		(*abort_cb)(void *);
	void		*abort_arg;

	char		*req;		/* request head (+ body for TLS) */
	size_t		 reqsize;
	char		*in;		/* received, not yet consumed */
	size_t		 inoff;
	size_t		 inlen;
	size_t		 insize;
	char		*body;		/* reply body, NUL-terminated */
	size_t		 bodylen;
	size_t		 bodysize;

	/* Per request. */
	int64_t		 deadline;	/* monotonic ms */
	long		 timeout_ms;
	size_t		 got;		/* bytes of reply received */
	int		 dead;		/* EOF/reset before any reply byte */
};

static SSL_CTX	*http_ssl_ctx;

static int
http_host_char(int c, int v6)
{
	if (isalnum(c) || c == '-' || c == '.' || c == '_')
		return 1;
	return v6 && (c == ':' || c == '%');
}

/* http://host[:port][/path] and https://...; NULL and a cause if not. */
struct http *
http_open(const char *url, long connect_ms, char *cause, size_t causelen)
{
	struct http	*h;
	const char	*p, *hs, *he, *ps = NULL, *pe = NULL, *path;
	unsigned long	 port = 0;
	int		 tls, v6 = 0;
	size_t		 i;

	if (strncasecmp(url, "http://", 7) == 0) {
		tls = 0;
		p = url + 7;
	} else if (strncasecmp(url, "https://", 8) == 0) {
		tls = 1;
		p = url + 8;
	} else {
		snprintf(cause, causelen, "URL must start with http:// or "
		    "https://");
		return NULL;
	}
	if (*p == '[') {
		v6 = 1;
		hs = ++p;
		if ((he = strchr(p, ']')) == NULL) {
			snprintf(cause, causelen, "URL: missing ] after IPv6 "
			    "address");
			return NULL;
		}
		p = he + 1;
	} else {
		hs = p;
		while (*p != '\0' && *p != ':' && *p != '/')
			p++;
		he = p;
	}
	if (he == hs) {
		snprintf(cause, causelen, "URL: no host name");
		return NULL;
	}
	for (i = 0; hs + i < he; i++) {
		if (!http_host_char((unsigned char)hs[i], v6)) {
			snprintf(cause, causelen, "URL: bad character in host "
			    "name (no user:password@ or query here)");
			return NULL;
		}
	}
	if (v6 && memchr(hs, ':', (size_t)(he - hs)) == NULL) {
		snprintf(cause, causelen, "URL: bad IPv6 address");
		return NULL;
	}
	if (*p == ':') {
		ps = ++p;
		while (*p >= '0' && *p <= '9' && port <= 65535)
			port = port * 10 + (unsigned long)(*p++ - '0');
		pe = p;
		if (pe == ps || port == 0 || port > 65535 || (*p != '\0' &&
		    *p != '/')) {
			snprintf(cause, causelen, "URL: bad port");
			return NULL;
		}
	}
	if (*p != '\0' && *p != '/') {
		snprintf(cause, causelen, "URL: bad character after host name");
		return NULL;
	}
	path = *p == '\0' ? "/" : p;
	/* The path goes verbatim into the request line. */
	for (p = path; *p != '\0'; p++) {
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f ||
		    *p == '#') {
			snprintf(cause, causelen, "URL: bad character in path");
			return NULL;
		}
	}

	if ((h = calloc(1, sizeof *h)) == NULL)
		goto nomem;
	h->fd = -1;
	h->tls = tls;
	h->connect_ms = connect_ms > 0 ? connect_ms : 5000;
	if (port == 0)
		port = tls ? 443 : 80;
	h->host = strndup(hs, (size_t)(he - hs));
	h->path = strdup(path);
	if (asprintf(&h->port, "%lu", port) == -1)
		h->port = NULL;
	/* The Host header names the port only when it is not the default. */
	if (asprintf(&h->hostport, "%s%.*s%s%s%s", v6 ? "[" : "",
	    (int)(he - hs), hs, v6 ? "]" : "", ps != NULL && port !=
	    (tls ? 443UL : 80UL) ? ":" : "", ps != NULL && port != (tls ?
	    443UL : 80UL) ? h->port : "") == -1)
		h->hostport = NULL;
	if (h->host == NULL || h->path == NULL || h->port == NULL ||
	    h->hostport == NULL) {
		http_free(h);
		goto nomem;
	}
	return h;

nomem:
	snprintf(cause, causelen, "out of memory");
	return NULL;
}

static void
http_disconnect(struct http *h)
{
	if (h->ssl != NULL) {
		/* No close_notify: the peer may be gone, and it costs a write. */
		SSL_free(h->ssl);
		h->ssl = NULL;
	}
	if (h->fd != -1) {
		close(h->fd);
		h->fd = -1;
	}
	h->reused = 0;
	h->inoff = h->inlen = 0;
}

void
http_free(struct http *h)
{
	if (h == NULL)
		return;
	http_disconnect(h);
	free(h->host);
	free(h->port);
	free(h->path);
	free(h->hostport);
	free(h->req);
	free(h->in);
	free(h->body);
	free(h);
}

/*
 * fn(arg) != 0 ends the request in flight; it is called about once a
 * second while a request waits, and when a signal interrupts a wait.
 */
void
http_set_abort(struct http *h, int (*fn)(void *), void *arg)
{
	h->abort_cb = fn;
	h->abort_arg = arg;
}

/*
 * Before each blocking wait: -1 (cause set) when the request is over,
 * else the socket timeouts are at most the time left.
 */
static int
http_wait_check(struct http *h, char *cause, size_t causelen)
{
	struct timeval	tv;
	int64_t		left;
	long		want;

	if (h->abort_cb != NULL && h->abort_cb(h->abort_arg)) {
		snprintf(cause, causelen, "request aborted");
		return -1;
	}
	left = h->deadline - clock_now_ms();
	if (left <= 0) {
		snprintf(cause, causelen, "timed out after %ld ms",
		    h->timeout_ms);
		return -1;
	}
	want = left < HTTP_SLICE_MS ? (long)left : HTTP_SLICE_MS;
	if (want != h->slice_ms) {
		tv.tv_sec = want / 1000;
		tv.tv_usec = (want % 1000) * 1000;
		if (setsockopt(h->fd, SOL_SOCKET, SO_RCVTIMEO, &tv,
		    sizeof tv) == -1 || setsockopt(h->fd, SOL_SOCKET,
		    SO_SNDTIMEO, &tv, sizeof tv) == -1) {
			snprintf(cause, causelen, "setsockopt: %s",
			    strerror(errno));
			return -1;
		}
		h->slice_ms = want;
	}
	return 0;
}

/* The first OpenSSL error, or what errno says. */
static void
http_ssl_cause(const char *what, char *cause, size_t causelen)
{
	unsigned long	 e = ERR_get_error();
	const char	*r;

	if (e != 0 && (r = ERR_reason_error_string(e)) != NULL)
		snprintf(cause, causelen, "TLS: %s: %s", what, r);
	else if (errno != 0)
		snprintf(cause, causelen, "TLS: %s: %s", what,
		    strerror(errno));
	else
		snprintf(cause, causelen, "TLS: %s failed", what);
	ERR_clear_error();
}

static int
http_ssl_init(char *cause, size_t causelen)
{
	SSL_CTX	*ctx;

	if (http_ssl_ctx != NULL)
		return 0;
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		http_ssl_cause("cannot create a context", cause, causelen);
		return -1;
	}
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
		SSL_CTX_free(ctx);
		http_ssl_cause("cannot require TLS 1.2", cause, causelen);
		return -1;
	}
	/* The system store, or SSL_CERT_FILE / SSL_CERT_DIR when set. */
	if (SSL_CTX_set_default_verify_paths(ctx) != 1)
		ERR_clear_error();
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_mode(ctx, SSL_MODE_AUTO_RETRY);
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
	/*
	 * A server may close without close_notify; replies are framed by
	 * Content-Length or chunks, so a truncated one is still detected.
	 */
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
#endif
	http_ssl_ctx = ctx;
	return 0;
}

static int
http_ssl_connect(struct http *h, char *cause, size_t causelen)
{
	struct in6_addr	 a6;
	struct in_addr	 a4;
	long		 vr;
	int		 r, isip;

	if (http_ssl_init(cause, causelen) == -1)
		return -1;
	ERR_clear_error();
	if ((h->ssl = SSL_new(http_ssl_ctx)) == NULL ||
	    SSL_set_fd(h->ssl, h->fd) != 1) {
		http_ssl_cause("cannot create a session", cause, causelen);
		return -1;
	}
	isip = inet_pton(AF_INET, h->host, &a4) == 1 ||
	    inet_pton(AF_INET6, h->host, &a6) == 1;
	/* SNI only for names; the certificate must match name or address. */
	if ((!isip && SSL_set_tlsext_host_name(h->ssl, h->host) != 1) ||
	    (isip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(h->ssl),
	    h->host) != 1 : SSL_set1_host(h->ssl, h->host) != 1)) {
		http_ssl_cause("cannot set the host name", cause, causelen);
		return -1;
	}
	for (;;) {
		errno = 0;
		if ((r = SSL_connect(h->ssl)) == 1)
			return 0;
		switch (SSL_get_error(h->ssl, r)) {
		case SSL_ERROR_WANT_READ:
		case SSL_ERROR_WANT_WRITE:
			break;
		case SSL_ERROR_SYSCALL:
			if (errno == EINTR || errno == EAGAIN) {
				ERR_clear_error();
				break;
			}
			/* FALLTHROUGH */
		default:
			goto fail;
		}
		if (http_wait_check(h, cause, causelen) == -1) {
			if (strncmp(cause, "timed out", 9) == 0)
				snprintf(cause, causelen, "TLS: handshake "
				    "timed out");
			return -1;
		}
	}
fail:
	if ((vr = SSL_get_verify_result(h->ssl)) != X509_V_OK) {
		snprintf(cause, causelen, "TLS: certificate verify failed: %s",
		    X509_verify_cert_error_string(vr));
		ERR_clear_error();
	} else
		http_ssl_cause("handshake with the server", cause, causelen);
	return -1;
}

static void
http_addr_str(const struct sockaddr *sa, socklen_t salen, char *buf,
    size_t len)
{
	char	host[NI_MAXHOST], serv[NI_MAXSERV];

	if (getnameinfo(sa, salen, host, sizeof host, serv, sizeof serv,
	    NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		snprintf(buf, len, "?");
	else if (sa->sa_family == AF_INET6)
		snprintf(buf, len, "[%s]:%s", host, serv);
	else
		snprintf(buf, len, "%s:%s", host, serv);
}

/* One address: non-blocking connect, polled with the connect timeout. */
static int
http_connect_one(struct http *h, struct addrinfo *ai, int64_t deadline,
    char *cause, size_t causelen)
{
	struct pollfd	pfd;
	char		addr[NI_MAXHOST + NI_MAXSERV + 4];
	socklen_t	elen;
	int64_t		left;
	int		fd, err, one = 1, flags, r;

	http_addr_str(ai->ai_addr, ai->ai_addrlen, addr, sizeof addr);
	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, ai->ai_protocol);
	if (fd == -1) {
		snprintf(cause, causelen, "connect to %s: %s", addr,
		    strerror(errno));
		return -1;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == -1) {
		if (errno != EINPROGRESS) {
			err = errno;
			goto fail;
		}
		for (;;) {
			if (h->abort_cb != NULL && h->abort_cb(h->abort_arg)) {
				close(fd);
				snprintf(cause, causelen, "request aborted");
				return -1;
			}
			if ((left = deadline - clock_now_ms()) <= 0) {
				close(fd);
				snprintf(cause, causelen, "connect to %s: timed "
				    "out after %ld ms", addr, h->connect_ms);
				return -1;
			}
			pfd.fd = fd;
			pfd.events = POLLOUT;
			r = poll(&pfd, 1, left < HTTP_SLICE_MS ? (int)left :
			    HTTP_SLICE_MS);
			if (r == -1 && errno != EINTR) {
				err = errno;
				goto fail;
			}
			if (r > 0)
				break;
		}
		elen = sizeof err;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) == -1)
			err = errno;
		if (err != 0)
			goto fail;
	}
	/* Blocking from now on: waits are bounded by SO_RCVTIMEO/SNDTIMEO. */
	if ((flags = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == -1 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one) == -1) {
		err = errno;
		goto fail;
	}
	h->fd = fd;
	h->slice_ms = 0;	/* no timeout set yet */
	return 0;

fail:
	close(fd);
	snprintf(cause, causelen, "connect to %s: %s", addr, strerror(err));
	return -1;
}

/* Names are looked up within the connect deadline (net.c). */
static int
http_resolve(struct http *h, int64_t deadline, struct addrinfo **res,
    char *cause, size_t causelen)
{
	return net_resolve(h->host, h->port, deadline, h->connect_ms,
	    h->abort_cb, h->abort_arg, res, cause, causelen);
}

static int
http_connect(struct http *h, char *cause, size_t causelen)
{
	struct addrinfo	*res, *ai;
	int64_t		 deadline;
	int		 r;

	deadline = clock_now_ms() + h->connect_ms;
	if (deadline > h->deadline)
		deadline = h->deadline;
	if (http_resolve(h, deadline, &res, cause, causelen) == -1)
		return -1;
	r = -1;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if ((r = http_connect_one(h, ai, deadline, cause,
		    causelen)) == 0)
			break;
		if (strcmp(cause, "request aborted") == 0)
			break;
	}
	freeaddrinfo(res);
	if (r == -1)
		return -1;
	if (h->tls) {
		/* The handshake counts against the connect timeout too. */
		deadline = h->deadline;
		if (h->deadline > clock_now_ms() + h->connect_ms)
			h->deadline = clock_now_ms() + h->connect_ms;
		r = http_ssl_connect(h, cause, causelen);
		h->deadline = deadline;
		if (r == -1) {
			http_disconnect(h);
			return -1;
		}
	}
	return 0;
}

/* Is this error a connection the peer closed or reset? */
static int
http_gone(int err)
{
	return err == EPIPE || err == ECONNRESET || err == ECONNABORTED ||
	    err == ENOTCONN;
}

/* Send all of iov; -1 with a cause (h->dead set if the peer is gone). */
static int
http_send(struct http *h, struct iovec *iov, int iovcnt, char *cause,
    size_t causelen)
{
	struct msghdr	 msg;
	ssize_t		 n;
	int		 r, i;

	if (h->ssl != NULL) {
		for (i = 0; i < iovcnt; i++) {
			while (iov[i].iov_len > 0) {
				ERR_clear_error();
				errno = 0;
				r = SSL_write(h->ssl, iov[i].iov_base,
				    iov[i].iov_len > INT32_MAX ? INT32_MAX :
				    (int)iov[i].iov_len);
				if (r > 0) {
					iov[i].iov_base = (char *)
					    iov[i].iov_base + r;
					iov[i].iov_len -= (size_t)r;
					continue;
				}
				switch (SSL_get_error(h->ssl, r)) {
				case SSL_ERROR_WANT_READ:
				case SSL_ERROR_WANT_WRITE:
					break;
				case SSL_ERROR_SYSCALL:
					if (errno == EINTR || errno == EAGAIN)
						break;
					/* FALLTHROUGH */
				default:
					h->dead = errno == 0 || http_gone(errno);
					http_ssl_cause("send", cause, causelen);
					return -1;
				}
				if (http_wait_check(h, cause, causelen) == -1)
					return -1;
			}
		}
		return 0;
	}
	memset(&msg, 0, sizeof msg);
	while (iovcnt > 0) {
		msg.msg_iov = iov;
		msg.msg_iovlen = (size_t)iovcnt;
		if ((n = sendmsg(h->fd, &msg, MSG_NOSIGNAL)) == -1) {
			if (errno == EINTR || errno == EAGAIN ||
			    errno == EWOULDBLOCK) {
				if (http_wait_check(h, cause, causelen) == -1)
					return -1;
				continue;
			}
			h->dead = http_gone(errno);
			snprintf(cause, causelen, "send: %s", strerror(errno));
			return -1;
		}
		while (iovcnt > 0 && (size_t)n >= iov->iov_len) {
			n -= (ssize_t)iov->iov_len;
			iov++;
			iovcnt--;
		}
		if (iovcnt > 0) {
			iov->iov_base = (char *)iov->iov_base + n;
			iov->iov_len -= (size_t)n;
		}
	}
	return 0;
}

/*
 * Receive up to len bytes into buf: >0, 0 at EOF, -1 with a cause.  An
 * EOF or reset before any byte of the reply sets h->dead.
 */
static ssize_t
http_recv(struct http *h, char *buf, size_t len, char *cause,
    size_t causelen)
{
	ssize_t	n;
	int	r;

	if (len > INT32_MAX)
		len = INT32_MAX;
	for (;;) {
		if (h->ssl != NULL) {
			ERR_clear_error();
			errno = 0;
			if ((r = SSL_read(h->ssl, buf, (int)len)) > 0) {
				h->got += (size_t)r;
				return r;
			}
			switch (SSL_get_error(h->ssl, r)) {
			case SSL_ERROR_ZERO_RETURN:
				h->dead = h->got == 0;
				return 0;
			case SSL_ERROR_WANT_READ:
			case SSL_ERROR_WANT_WRITE:
				break;
			case SSL_ERROR_SYSCALL:
				if (errno == EINTR || errno == EAGAIN)
					break;
				if (errno == 0) {
					h->dead = h->got == 0;
					return 0;
				}
				/* FALLTHROUGH */
			default:
				h->dead = h->got == 0 && http_gone(errno);
				http_ssl_cause("receive", cause, causelen);
				return -1;
			}
		} else {
			if ((n = recv(h->fd, buf, len, 0)) > 0) {
				h->got += (size_t)n;
				return n;
			}
			if (n == 0) {
				h->dead = h->got == 0;
				return 0;
			}
			if (errno != EINTR && errno != EAGAIN &&
			    errno != EWOULDBLOCK) {
				h->dead = h->got == 0 && http_gone(errno);
				snprintf(cause, causelen, "receive: %s",
				    strerror(errno));
				return -1;
			}
		}
		if (http_wait_check(h, cause, causelen) == -1)
			return -1;
	}
}

static int
http_grow(char **buf, size_t *size, size_t need)
{
	size_t	 want;
	char	*p;

	if (need <= *size)
		return 0;
	want = *size ? *size : HTTP_INBUF;
	while (want < need)
		want *= 2;
	if ((p = realloc(*buf, want)) == NULL)
		return -1;
	*buf = p;
	*size = want;
	return 0;
}

/* More bytes into h->in; 0 at EOF (cause set), -1 on error. */
static int
http_fill(struct http *h, char *cause, size_t causelen)
{
	ssize_t	n;

	if (h->inoff > 0) {
		memmove(h->in, h->in + h->inoff, h->inlen);
		h->inoff = 0;
	}
	if (h->inlen == h->insize && http_grow(&h->in, &h->insize,
	    h->insize + 1) == -1) {
		snprintf(cause, causelen, "out of memory");
		return -1;
	}
	n = http_recv(h, h->in + h->inlen, h->insize - h->inlen, cause,
	    causelen);
	if (n == 0)
		snprintf(cause, causelen, "%s", h->got == 0 ? "server closed "
		    "the connection without a reply" : "reply: connection "
		    "closed before the end of the reply");
	if (n <= 0)
		return (int)n;
	h->inlen += (size_t)n;
	return 1;
}

/*
 * The next line of h->in (CRLF or LF ended, without it), reading as
 * needed, at most max bytes; NULL with a cause.
 */
static char *
http_line(struct http *h, size_t max, const char *what, char *cause,
    size_t causelen)
{
	char	*s, *nl;
	size_t	 len;
	int	 r;

	for (;;) {
		s = h->in + h->inoff;
		if ((nl = memchr(s, '\n', h->inlen)) != NULL)
			break;
		if (h->inlen >= max) {
			snprintf(cause, causelen, "reply: %s longer than %zu "
			    "bytes", what, max);
			return NULL;
		}
		if ((r = http_fill(h, cause, causelen)) <= 0)
			return NULL;
	}
	len = (size_t)(nl - s);
	h->inoff += len + 1;
	h->inlen -= len + 1;
	if (len > 0 && s[len - 1] == '\r')
		len--;
	s[len] = '\0';
	return s;
}

/* Room for len more body bytes (and the NUL), within max. */
static int
http_body_reserve(struct http *h, size_t len, size_t max, char *cause,
    size_t causelen)
{
	if (len > max - h->bodylen) {
		snprintf(cause, causelen, "reply: body larger than %zu bytes",
		    max);
		return -1;
	}
	if (http_grow(&h->body, &h->bodysize, h->bodylen + len + 1) == -1) {
		snprintf(cause, causelen, "out of memory");
		return -1;
	}
	return 0;
}

static int
http_body_add(struct http *h, const char *data, size_t len, size_t max,
    char *cause, size_t causelen)
{
	if (http_body_reserve(h, len, max, cause, causelen) == -1)
		return -1;
	memcpy(h->body + h->bodylen, data, len);
	h->bodylen += len;
	h->body[h->bodylen] = '\0';
	return 0;
}

/* Exactly len body bytes: what h->in holds, then straight into h->body. */
static int
http_body_read(struct http *h, size_t len, size_t max, char *cause,
    size_t causelen)
{
	size_t	n;
	ssize_t	r;

	n = h->inlen < len ? h->inlen : len;
	if (http_body_add(h, h->in + h->inoff, n, max, cause, causelen) == -1)
		return -1;
	h->inoff += n;
	h->inlen -= n;
	len -= n;
	if (len == 0)
		return 0;
	if (http_body_reserve(h, len, max, cause, causelen) == -1)
		return -1;
	while (len > 0) {
		r = http_recv(h, h->body + h->bodylen, len, cause, causelen);
		if (r == 0)
			snprintf(cause, causelen, "reply: connection closed "
			    "before the end of the body");
		if (r <= 0)
			return -1;
		h->bodylen += (size_t)r;
		len -= (size_t)r;
	}
	h->body[h->bodylen] = '\0';
	return 0;
}

static int
http_chunked(struct http *h, size_t max, char *cause, size_t causelen)
{
	char		*line, *p;
	uint64_t	 size;
	size_t		 trailers = 0;
	int		 d;

	for (;;) {
		if ((line = http_line(h, HTTP_MAX_LINE, "chunk size line",
		    cause, causelen)) == NULL)
			return -1;
		size = 0;
		for (p = line; isxdigit((unsigned char)*p); p++) {
			d = isdigit((unsigned char)*p) ? *p - '0' :
			    tolower((unsigned char)*p) - 'a' + 10;
			if (size > (UINT64_MAX >> 4)) {
				snprintf(cause, causelen, "reply: bad chunk "
				    "size");
				return -1;
			}
			size = size << 4 | (uint64_t)d;
		}
		/* Then only whitespace and extensions (ignored). */
		while (*p == ' ' || *p == '\t')
			p++;
		if (p == line || (*p != '\0' && *p != ';')) {
			snprintf(cause, causelen, "reply: bad chunk size");
			return -1;
		}
		if (size == 0)
			break;
		if (size > max - h->bodylen) {
			snprintf(cause, causelen, "reply: body larger than %zu "
			    "bytes", max);
			return -1;
		}
		if (http_body_read(h, (size_t)size, max, cause, causelen) == -1)
			return -1;
		if ((line = http_line(h, HTTP_MAX_LINE, "chunk end", cause,
		    causelen)) == NULL)
			return -1;
		if (*line != '\0') {
			snprintf(cause, causelen, "reply: chunk longer than its "
			    "size");
			return -1;
		}
	}
	/* Trailers, ignored, up to an empty line. */
	for (;;) {
		if ((line = http_line(h, HTTP_MAX_HEADERS, "trailer", cause,
		    causelen)) == NULL)
			return -1;
		if (*line == '\0')
			return 0;
		trailers += strlen(line) + 2;
		if (trailers > HTTP_MAX_HEADERS) {
			snprintf(cause, causelen, "reply: trailers larger than "
			    "%d bytes", HTTP_MAX_HEADERS);
			return -1;
		}
	}
}

/* Does the comma-separated header value v hold token tok? */
static int
http_has_token(const char *v, const char *tok)
{
	size_t	n = strlen(tok), len;

	while (*v != '\0') {
		while (*v == ' ' || *v == '\t' || *v == ',')
			v++;
		len = strcspn(v, ",");
		while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t'))
			len--;
		if (len == n && strncasecmp(v, tok, n) == 0)
			return 1;
		v += strcspn(v, ",");
	}
	return 0;
}

/* The last transfer coding is chunked (others are not supported). */
static int
http_te(const char *v, int *chunked, char *cause, size_t causelen)
{
	const char	*last = v, *p;
	size_t		 len;

	for (p = v; *p != '\0'; p++)
		if (*p == ',')
			last = p + 1;
	while (*last == ' ' || *last == '\t')
		last++;
	len = strlen(last);
	while (len > 0 && (last[len - 1] == ' ' || last[len - 1] == '\t'))
		len--;
	if (len != 7 || strncasecmp(last, "chunked", 7) != 0 || last != v) {
		snprintf(cause, causelen, "reply: unsupported transfer "
		    "encoding");
		return -1;
	}
	*chunked = 1;
	return 0;
}

/*
 * Read one reply (1xx skipped).  *keep says whether the connection can
 * serve another request.
 */
static int
http_read_reply(struct http *h, size_t max, int *status, int *keep,
    char *cause, size_t causelen)
{
	char		*line, *v, *p;
	uint64_t	 clen = 0;
	size_t		 hlen;
	int		 minor, code, chunked, haslen, isclose, iskeep, r;

	for (;;) {
		if ((line = http_line(h, HTTP_MAX_HEADERS, "status line",
		    cause, causelen)) == NULL)
			return -1;
		hlen = strlen(line) + 2;
		if (strncmp(line, "HTTP/1.", 7) != 0 || (line[7] != '0' &&
		    line[7] != '1') || line[8] != ' ' ||
		    !isdigit((unsigned char)line[9]) ||
		    !isdigit((unsigned char)line[10]) ||
		    !isdigit((unsigned char)line[11]) ||
		    (line[12] != ' ' && line[12] != '\0') || line[9] == '0') {
			snprintf(cause, causelen, "reply: bad status line");
			return -1;
		}
		minor = line[7] - '0';
		code = (line[9] - '0') * 100 + (line[10] - '0') * 10 +
		    (line[11] - '0');
		chunked = haslen = isclose = iskeep = 0;
		for (;;) {
			if ((line = http_line(h, HTTP_MAX_HEADERS, "header",
			    cause, causelen)) == NULL)
				return -1;
			hlen += strlen(line) + 2;
			if (hlen > HTTP_MAX_HEADERS) {
				snprintf(cause, causelen, "reply: headers "
				    "larger than %d bytes", HTTP_MAX_HEADERS);
				return -1;
			}
			if (*line == '\0')
				break;
			if ((v = strchr(line, ':')) == NULL || v == line ||
			    strcspn(line, " \t") < (size_t)(v - line)) {
				snprintf(cause, causelen, "reply: bad header "
				    "line");
				return -1;
			}
			*v++ = '\0';
			while (*v == ' ' || *v == '\t')
				v++;
			p = v + strlen(v);
			while (p > v && (p[-1] == ' ' || p[-1] == '\t'))
				*--p = '\0';
			if (strcasecmp(line, "Content-Length") == 0) {
				uint64_t	n = 0;

				for (p = v; isdigit((unsigned char)*p); p++) {
					if (n > (UINT64_MAX - 9) / 10)
						break;
					n = n * 10 + (uint64_t)(*p - '0');
				}
				if (p == v || *p != '\0' || (haslen &&
				    n != clen)) {
					snprintf(cause, causelen, "reply: bad "
					    "Content-Length");
					return -1;
				}
				clen = n;
				haslen = 1;
			} else if (strcasecmp(line,
			    "Transfer-Encoding") == 0) {
				if (http_te(v, &chunked, cause, causelen) == -1)
					return -1;
			} else if (strcasecmp(line, "Connection") == 0) {
				isclose |= http_has_token(v, "close");
				iskeep |= http_has_token(v, "keep-alive");
			}
		}
		if (code == 101) {
			snprintf(cause, causelen, "reply: unexpected 101 "
			    "Switching Protocols");
			return -1;
		}
		if (code >= 200)
			break;
		/* 1xx: an interim reply, the real one follows. */
	}
	*status = code;
	*keep = !isclose && (minor == 1 || iskeep);
	if (code == 204 || code == 304)
		return 0;
	if (chunked)
		return http_chunked(h, max, cause, causelen);
	if (haslen) {
		if (clen > max) {
			snprintf(cause, causelen, "reply: body larger than %zu "
			    "bytes", max);
			return -1;
		}
		return http_body_read(h, (size_t)clen, max, cause, causelen);
	}
	/* Neither: the body ends at EOF, and so does the connection. */
	*keep = 0;
	for (;;) {
		if (http_body_add(h, h->in + h->inoff, h->inlen, max, cause,
		    causelen) == -1)
			return -1;
		h->inoff = h->inlen = 0;
		if ((r = http_fill(h, cause, causelen)) <= 0)
			return r;
	}
}

static int
http_request(struct http *h, const char *method, const char *target,
    const char *body, size_t len, long timeout_ms, size_t max, int *status,
    const char **reply, size_t *replylen, char *cause, size_t causelen)
{
	struct iovec	 iov[2];
	char		 clen[48];
	int		 n, keep, tries, wasreused, r;

	*status = 0;
	if (reply != NULL)
		*reply = NULL;
	if (replylen != NULL)
		*replylen = 0;
	/* Do not keep a huge buffer around after one huge reply. */
	if (h->bodysize > HTTP_KEEP_BODY) {
		free(h->body);
		h->body = NULL;
		h->bodysize = 0;
	}
	if (http_grow(&h->body, &h->bodysize, 1) == -1 ||
	    http_grow(&h->in, &h->insize, HTTP_INBUF) == -1 ||
	    http_grow(&h->req, &h->reqsize, 512) == -1) {
		snprintf(cause, causelen, "out of memory");
		return -1;
	}
	if (body != NULL)
		snprintf(clen, sizeof clen, "Content-Length: %zu\r\n", len);
	else
		clen[0] = '\0';
	h->timeout_ms = timeout_ms > 0 ? timeout_ms : 30000;
	h->deadline = clock_now_ms() + h->timeout_ms;

	for (;;) {
		n = snprintf(h->req, h->reqsize, "%s %s HTTP/1.1\r\n"
		    "Host: %s\r\nUser-Agent: financebee/%s\r\n%s%s\r\n",
		    method, target != NULL ? target : h->path, h->hostport,
		    PACKAGE_VERSION, body != NULL ? "Content-Type: "
		    "application/json\r\n" : "", clen);
		if (n < 0) {
			snprintf(cause, causelen, "cannot format the request");
			return -1;
		}
		if ((size_t)n < h->reqsize)
			break;
		if (http_grow(&h->req, &h->reqsize, (size_t)n + 1) == -1) {
			snprintf(cause, causelen, "out of memory");
			return -1;
		}
	}
	/* TLS: one record for a small request, not two. */
	if (h->tls && len > 0 && (size_t)n < 16384 &&
	    len <= 16384 - (size_t)n) {
		if (http_grow(&h->req, &h->reqsize, (size_t)n + len) == -1) {
			snprintf(cause, causelen, "out of memory");
			return -1;
		}
		memcpy(h->req + n, body, len);
		n += (int)len;
		len = 0;
	}

	/*
	 * A reused connection the server closed while idle (its keep-alive
	 * timeout) shows as EOF or a reset before any byte of the reply:
	 * then reconnect and send once more, as libcurl did.  This can
	 * repeat a request the server got but did not answer, which the
	 * ColonyOS calls tolerate (an assign is a long-poll, a repeated close
	 * is refused as not assigned and handled as lost).  Never resend
	 * after a byte of the reply was read.
	 */
	for (tries = 0;; tries++) {
		wasreused = h->fd != -1 && h->reused;
		h->got = 0;
		h->dead = 0;
		h->bodylen = 0;
		h->body[0] = '\0';
		if (h->fd == -1 && http_connect(h, cause, causelen) == -1)
			return -1;
		if (http_wait_check(h, cause, causelen) == -1) {
			http_disconnect(h);
			return -1;
		}
		iov[0].iov_base = h->req;
		iov[0].iov_len = (size_t)n;
		iov[1].iov_base = (void *)(uintptr_t)body;
		iov[1].iov_len = len;
		r = http_send(h, iov, len > 0 ? 2 : 1, cause, causelen);
		if (r == 0)
			r = http_read_reply(h, max, status, &keep, cause,
			    causelen);
		if (r == 0)
			break;
		http_disconnect(h);
		if (!(h->dead && wasreused && tries == 0))
			return -1;
	}
	/* Bytes after the reply: the peer is out of step, do not reuse. */
	if (keep && h->inlen == 0)
		h->reused = 1;
	else
		http_disconnect(h);
	if (reply != NULL)
		*reply = h->body;
	if (replylen != NULL)
		*replylen = h->bodylen;
	return 0;
}

/*
 * POST body (JSON) to the URL's path and read the reply: 0 and the
 * status, with the body in a buffer the handle owns until the next
 * call, or -1 and a one-line cause.  A reply body over max bytes is an
 * error.  timeout_ms bounds the whole request, connect included.
 */
int
http_post(struct http *h, const char *body, size_t len, long timeout_ms,
    size_t max, int *status, const char **reply, size_t *replylen,
    char *cause, size_t causelen)
{
	return http_request(h, "POST", NULL, body != NULL ? body : "", len,
	    timeout_ms, max, status, reply, replylen, cause, causelen);
}

/* GET target (a path on the URL's server), as http_post. */
int
http_get(struct http *h, const char *target, long timeout_ms, size_t max,
    int *status, const char **reply, size_t *replylen, char *cause,
    size_t causelen)
{
	const char	*p;

	for (p = target; *p != '\0'; p++) {
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) {
			snprintf(cause, causelen, "bad character in path");
			return -1;
		}
	}
	if (*target != '/') {
		snprintf(cause, causelen, "path must start with /");
		return -1;
	}
	return http_request(h, "GET", target, NULL, 0, timeout_ms, max,
	    status, reply, replylen, cause, causelen);
}
