/*
 * http.c: the HTTP transport of the ColonyOS RPC, on libcurl: one easy
 * handle per client, reused for every request, so a process keeps one
 * persistent connection to the server (or its proxy); it runs on the
 * client's own multi handle (http_perform()).
 *
 * libcurl gives what a hand-written client lacked on real networks:
 * happy eyeballs on dual-stack hosts, a threaded resolver bounded by the
 * connect timeout, proxies from the environment (http_proxy, HTTPS_PROXY,
 * NO_PROXY) or the configuration, CA file and path settings, client
 * certificates.  What this file adds is the defence against a hostile or
 * broken server: one total deadline per request (CURLOPT_TIMEOUT_MS:
 * connect, send and the whole reply), a cap on the reply body (refused at
 * its Content-Length, else stopped by the write callback at the cap), on
 * the headers and on the number of interim (1xx) replies; a TLS reply cut
 * short is an error, even one delimited by the connection's end; after any failure the connection is dropped, the
 * next request opens a new one; a buffer grown by one large reply is
 * given back.
 */
#include <sys/types.h>

#include <ctype.h>
#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <openssl/ssl.h>

#include "colonies.h"

#define HTTP_MAX_HEADERS	(64 * 1024)	/* status lines + headers */
#define HTTP_MAX_INTERIM	8		/* 1xx replies before the real one */
#define HTTP_KEEP_BODY		(256 * 1024)	/* reply buffer kept between calls */
#define HTTP_MIN_BODY		4096

struct http_sock {
	curl_socket_t		 fd;
	short			 events;	/* POLLIN, POLLOUT */
};

struct http {
	CURL			*curl;
	CURLM			*multi;		/* drives curl, holds the connection */
	/* What libcurl waits for (its socket and timer callbacks). */
	struct http_sock	*socks;
	size_t			 nsocks;
	size_t			 socksize;
	struct pollfd		*pfds;
	long			 timer_ms;	/* -1: none */
	int			 sock_nomem;
	struct curl_slist	*post_hdrs;
	struct curl_slist	*get_hdrs;
	char			*url;		/* as given */
	char			*base;		/* scheme://host[:port], for GET */
	char			*host;		/* without brackets, for causes */
	char			*hostport;	/* for causes */
	char			*target;	/* URL of a GET */
	int			 tls;
	int			 url_is_post;	/* CURLOPT_URL is url */
	long			 connect_ms;

	int			(*abort_cb)(void *);
	void			*abort_arg;

	char			*body;		/* reply body, NUL-terminated */
	size_t			 bodylen;
	size_t			 bodysize;

	/* Per request. */
	size_t			 max;
	long			 timeout_ms;
	size_t			 hdrbytes;
	int			 ninterim;
	int			 toobig;	/* body over max */
	int			 hdrtoobig;	/* headers over HTTP_MAX_HEADERS */
	int			 interim;	/* too many 1xx replies */
	int			 isinterim;	/* headers of a 1xx reply */
	int			 hdrdone;	/* the final reply's headers ended */
	int			 hasclen;
	int			 chunked;
	int			 close_notify;	/* TLS: the peer said it is done */
	uint64_t		 clen;
	const char		*badframe;	/* what the header check refused */
	int			 aborted;
	int			 nomem;
	enum http_fail		 fail;
	char			 errbuf[CURL_ERROR_SIZE];
};

static int	http_inited;

const char *
http_fail_str(enum http_fail f)
{
	switch (f) {
	case HTTP_FAIL_NONE:
		return "none";
	case HTTP_FAIL_RESOLVE:
		return "resolve";
	case HTTP_FAIL_RESOLVE_TIMEOUT:
		return "resolve timeout";
	case HTTP_FAIL_CONNECT:
		return "connect";
	case HTTP_FAIL_CONNECT_TIMEOUT:
		return "connect timeout";
	case HTTP_FAIL_TLS:
		return "tls";
	case HTTP_FAIL_TIMEOUT:
		return "timeout";
	case HTTP_FAIL_CLOSED:
		return "closed";
	case HTTP_FAIL_TOOBIG:
		return "too large";
	case HTTP_FAIL_PROTO:
		return "malformed";
	case HTTP_FAIL_ABORT:
		return "aborted";
	case HTTP_FAIL_OTHER:
		return "other";
	}
	return "unknown";
}

/*
 * The Debian libcurl must have the threaded resolver (a lookup bounded by
 * the connect timeout, abandoned when it runs out): 0, or -1 and a cause.
 */
static int
http_init(char *cause, size_t causelen)
{
	curl_version_info_data	*v;

	if (http_inited)
		return 0;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(cause, causelen, "curl_global_init failed");
		return -1;
	}
	v = curl_version_info(CURLVERSION_NOW);
	if (!(v->features & CURL_VERSION_ASYNCHDNS) ||
	    !(v->features & CURL_VERSION_SSL)) {
		snprintf(cause, causelen, "libcurl %s lacks the asynchronous "
		    "resolver or TLS", v->version);
		return -1;
	}
	http_inited = 1;
	return 0;
}

static int
http_host_char(int c, int v6)
{
	if (isalnum(c) || c == '-' || c == '.' || c == '_')
		return 1;
	return v6 && (c == ':' || c == '%');
}

/*
 * Check http://host[:port][/path] or https://... as the old client did
 * (no user:password@, query or fragment: the URL names one server and
 * one path), and keep the parts causes name.
 */
static int
http_parse_url(struct http *h, const char *url, char *cause, size_t causelen)
{
	const char	*p, *hs, *he, *path;
	unsigned long	 port = 0;
	int		 v6 = 0;
	size_t		 i, schemelen;

	if (strncasecmp(url, "http://", 7) == 0) {
		h->tls = 0;
		schemelen = 7;
	} else if (strncasecmp(url, "https://", 8) == 0) {
		h->tls = 1;
		schemelen = 8;
	} else {
		snprintf(cause, causelen, "URL must start with http:// or "
		    "https://");
		return -1;
	}
	p = url + schemelen;
	if (*p == '[') {
		v6 = 1;
		hs = ++p;
		if ((he = strchr(p, ']')) == NULL) {
			snprintf(cause, causelen, "URL: missing ] after IPv6 "
			    "address");
			return -1;
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
		return -1;
	}
	for (i = 0; hs + i < he; i++) {
		if (!http_host_char((unsigned char)hs[i], v6)) {
			snprintf(cause, causelen, "URL: bad character in host "
			    "name (no user:password@ or query here)");
			return -1;
		}
	}
	if (v6 && memchr(hs, ':', (size_t)(he - hs)) == NULL) {
		snprintf(cause, causelen, "URL: bad IPv6 address");
		return -1;
	}
	if (*p == ':') {
		const char	*ps = ++p;

		while (*p >= '0' && *p <= '9' && port <= 65535)
			port = port * 10 + (unsigned long)(*p++ - '0');
		if (p == ps || port == 0 || port > 65535 || (*p != '\0' &&
		    *p != '/')) {
			snprintf(cause, causelen, "URL: bad port");
			return -1;
		}
	}
	if (*p != '\0' && *p != '/') {
		snprintf(cause, causelen, "URL: bad character after host name");
		return -1;
	}
	path = p;
	for (; *p != '\0'; p++) {
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f ||
		    *p == '#') {
			snprintf(cause, causelen, "URL: bad character in path");
			return -1;
		}
	}
	if (port == 0)
		port = h->tls ? 443 : 80;
	h->host = strndup(hs, (size_t)(he - hs));
	h->base = strndup(url, (size_t)(path - url));
	if (asprintf(&h->hostport, "%s%.*s%s:%lu", v6 ? "[" : "",
	    (int)(he - hs), hs, v6 ? "]" : "", port) == -1)
		h->hostport = NULL;
	/* curl sends "/" for an empty path; say it in the URL anyway. */
	if (asprintf(&h->url, "%s%s", url, *path == '\0' ? "/" : "") == -1)
		h->url = NULL;
	if (h->host == NULL || h->base == NULL || h->hostport == NULL ||
	    h->url == NULL) {
		snprintf(cause, causelen, "out of memory");
		return -1;
	}
	return 0;
}

/* Room for need bytes: exactly (a known length), else doubling to the cap. */
static int
http_grow(struct http *h, size_t need, int exact)
{
	size_t	 want;
	char	*p;

	if (need <= h->bodysize)
		return 0;
	want = h->bodysize > HTTP_MIN_BODY ? h->bodysize : HTTP_MIN_BODY;
	while (want < need)
		want = want > SIZE_MAX / 2 ? need : want * 2;
	if (exact || (want > h->max + 1 && need <= h->max + 1))
		want = exact ? need : h->max + 1;
	if ((p = realloc(h->body, want)) == NULL)
		return -1;
	h->body = p;
	h->bodysize = want;
	return 0;
}

/* The reply body, up to h->max bytes: more ends the transfer. */
static size_t
http_write_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	struct http	*h = arg;
	curl_off_t	 clen;
	size_t		 n = size * nmemb;

	if (n > h->max - h->bodylen) {
		h->toobig = 1;
		return 0;
	}
	if (h->bodylen + n + 1 > h->bodysize) {
		/* Known length: one allocation of the right size. */
		if (h->bodylen == 0 && curl_easy_getinfo(h->curl,
		    CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &clen) == CURLE_OK &&
		    clen > 0 && (uint64_t)clen <= h->max && (size_t)clen >= n &&
		    http_grow(h, (size_t)clen + 1, 1) == -1) {
			h->nomem = 1;
			return 0;
		}
		if (http_grow(h, h->bodylen + n + 1, 0) == -1) {
			h->nomem = 1;
			return 0;
		}
	}
	memcpy(h->body + h->bodylen, data, n);
	h->bodylen += n;
	h->body[h->bodylen] = '\0';
	return n;
}

/* Content-Length: digits only, and every copy the same. */
static int
http_hdr_clen(struct http *h, const char *v, size_t len)
{
	uint64_t	n = 0;
	size_t		i;

	if (len == 0)
		return -1;
	for (i = 0; i < len; i++) {
		if (!isdigit((unsigned char)v[i]) || n > (UINT64_MAX - 9) / 10)
			return -1;
		n = n * 10 + (uint64_t)(v[i] - '0');
	}
	if (h->hasclen && n != h->clen)
		return -1;
	h->hasclen = 1;
	h->clen = n;
	return 0;
}

/*
 * Status lines and headers of every reply, interim ones included: a
 * budget for their size and for the number of 1xx replies, so neither
 * endless headers nor endless "100 Continue" keep a request alive; and
 * the framing checks libcurl leaves out: one Content-Length value,
 * "chunked" as the only transfer coding, headers that end.
 */
static size_t
http_header_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	struct http	*h = arg;
	size_t		 n = size * nmemb, len = n, nlen;
	const char	*v, *sp;

	h->hdrbytes += n;
	if (h->hdrbytes > HTTP_MAX_HEADERS) {
		h->hdrtoobig = 1;
		return 0;
	}
	while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
		len--;
	if (len >= 12 && strncmp(data, "HTTP/", 5) == 0) {
		/* A status line: a new reply, interim or final. */
		h->hasclen = h->chunked = 0;
		if ((sp = memchr(data, ' ', len)) == NULL ||
		    (size_t)(sp - data) + 1 >= len) {
			h->badframe = "bad status line";
			return 0;
		}
		h->isinterim = sp[1] == '1';
		if (h->isinterim && ++h->ninterim > HTTP_MAX_INTERIM) {
			h->interim = 1;
			return 0;
		}
		return n;
	}
	if (len == 0) {
		if (!h->isinterim)
			h->hdrdone = 1;
		return n;
	}
	if ((v = memchr(data, ':', len)) == NULL)
		return n;	/* libcurl refuses it */
	nlen = (size_t)(v - data);
	for (v++; v < data + len && (*v == ' ' || *v == '\t'); v++)
		continue;
	len -= (size_t)(v - data);
	while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t'))
		len--;
	if (nlen == 14 && strncasecmp(data, "Content-Length", 14) == 0 &&
	    http_hdr_clen(h, v, len) == -1) {
		h->badframe = "bad Content-Length";
		return 0;
	}
	if (nlen == 17 && strncasecmp(data, "Transfer-Encoding", 17) == 0) {
		if (!(len == 7 && strncasecmp(v, "chunked", 7) == 0)) {
			h->badframe = "unsupported transfer encoding";
			return 0;
		}
		h->chunked = 1;
	}
	return n;
}

static int
http_xferinfo_cb(void *arg, curl_off_t dltotal, curl_off_t dlnow,
    curl_off_t ultotal, curl_off_t ulnow)
{
	struct http	*h = arg;

	if (h->abort_cb != NULL && h->abort_cb(h->abort_arg)) {
		h->aborted = 1;
		return 1;
	}
	return 0;
}

/*
 * A reply whose body ends with the connection is complete only if TLS
 * says so with close_notify: libcurl 7.88 takes any EOF for the end, so
 * a truncated reply would pass.  OpenSSL's info callback sees the alert;
 * our ex_data on each SSL_CTX (libcurl makes one per connection) names
 * the handle.
 */
static int	http_ssl_idx = -1;

static void
http_ssl_info_cb(const SSL *ssl, int where, int ret)
{
	struct http	*h;

	if ((where & SSL_CB_READ_ALERT) != SSL_CB_READ_ALERT ||
	    (ret & 0xff) != SSL_AD_CLOSE_NOTIFY)
		return;
	if ((h = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), http_ssl_idx)) !=
	    NULL)
		h->close_notify = 1;
}

static CURLcode
http_sslctx_cb(CURL *curl, void *sslctx, void *arg)
{
	if (http_ssl_idx == -1 && (http_ssl_idx = SSL_CTX_get_ex_new_index(0,
	    NULL, NULL, NULL, NULL)) == -1)
		return CURLE_OUT_OF_MEMORY;
	if (SSL_CTX_set_ex_data(sslctx, http_ssl_idx, arg) != 1)
		return CURLE_OUT_OF_MEMORY;
	SSL_CTX_set_info_callback(sslctx, http_ssl_info_cb);
	return CURLE_OK;
}

static int
http_setopts(struct http *h, const struct http_opts *o, char *cause,
    size_t causelen)
{
	CURL		*c = h->curl;
	CURLcode	 rc = CURLE_OK;
	const char	*env;

#define SET(opt, val) do {						\
	if (rc == CURLE_OK)						\
		rc = curl_easy_setopt(c, opt, val);			\
} while (0)
	SET(CURLOPT_NOSIGNAL, 1L);
	/*
	 * A lookup that runs out of time is left to its thread (it frees
	 * itself when the resolver answers); without this libcurl joins
	 * it, and the request lasts as long as the resolver's own timeout.
	 */
	SET(CURLOPT_QUICK_EXIT, 1L);
	SET(CURLOPT_TCP_NODELAY, 1L);
	SET(CURLOPT_TCP_KEEPALIVE, 1L);
	SET(CURLOPT_MAXCONNECTS, 1L);	/* a new connection retires the old */
	SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_ERRORBUFFER, h->errbuf);
	SET(CURLOPT_USERAGENT, "financebee/" PACKAGE_VERSION);
	SET(CURLOPT_CONNECTTIMEOUT_MS, h->connect_ms);
	SET(CURLOPT_WRITEFUNCTION, http_write_cb);
	SET(CURLOPT_WRITEDATA, h);
	SET(CURLOPT_HEADERFUNCTION, http_header_cb);
	SET(CURLOPT_HEADERDATA, h);
	SET(CURLOPT_XFERINFOFUNCTION, http_xferinfo_cb);
	SET(CURLOPT_XFERINFODATA, h);
	SET(CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
	SET(CURLOPT_URL, h->url);
	/*
	 * The proxy: the setting, else the environment's as libcurl reads
	 * it (http_proxy for http, https_proxy or HTTPS_PROXY for https,
	 * then all_proxy or ALL_PROXY; no_proxy or NO_PROXY), read here once:
	 * left to libcurl, every request would copy and scan the
	 * environment again for a URL that never changes.
	 */
	if (o != NULL && o->proxy != NULL && o->proxy[0] != '\0')
		SET(CURLOPT_PROXY, o->proxy);
	else {
		if (h->tls) {
			if ((env = getenv("https_proxy")) == NULL || *env == '\0')
				env = getenv("HTTPS_PROXY");
		} else
			env = getenv("http_proxy");
		if (env == NULL || *env == '\0')
			if ((env = getenv("all_proxy")) == NULL || *env == '\0')
				env = getenv("ALL_PROXY");
		SET(CURLOPT_PROXY, env != NULL ? env : "");
	}
	if ((env = getenv("no_proxy")) == NULL || *env == '\0')
		env = getenv("NO_PROXY");
	if (env != NULL && *env != '\0')
		SET(CURLOPT_NOPROXY, env);
	if (h->tls) {
		SET(CURLOPT_SSL_CTX_FUNCTION, http_sslctx_cb);
		SET(CURLOPT_SSL_CTX_DATA, h);
		/*
		 * CA: the setting, else OpenSSL's SSL_CERT_FILE/SSL_CERT_DIR
		 * (which libcurl does not read), else the system's bundle.
		 */
		if (o != NULL && o->ca_file != NULL && o->ca_file[0] != '\0')
			SET(CURLOPT_CAINFO, o->ca_file);
		else if ((env = getenv("SSL_CERT_FILE")) != NULL &&
		    *env != '\0')
			SET(CURLOPT_CAINFO, env);
		if (o != NULL && o->ca_path != NULL && o->ca_path[0] != '\0')
			SET(CURLOPT_CAPATH, o->ca_path);
		else if ((env = getenv("SSL_CERT_DIR")) != NULL &&
		    *env != '\0')
			SET(CURLOPT_CAPATH, env);
		if (o != NULL && o->cert_file != NULL &&
		    o->cert_file[0] != '\0')
			SET(CURLOPT_SSLCERT, o->cert_file);
		if (o != NULL && o->key_file != NULL && o->key_file[0] != '\0')
			SET(CURLOPT_SSLKEY, o->key_file);
	}
#undef SET
	if (rc != CURLE_OK) {
		snprintf(cause, causelen, "libcurl: %s", curl_easy_strerror(rc));
		return -1;
	}
	return 0;
}

/* libcurl's socket callback: what it waits for on a socket, or no more. */
static int
http_socket_cb(CURL *easy, curl_socket_t fd, int what, void *arg,
    void *sockp)
{
	struct http	*h = arg;
	struct http_sock *ns;
	struct pollfd	*np;
	size_t		 i, n;

	for (i = 0; i < h->nsocks && h->socks[i].fd != fd; i++)
		continue;
	if (what == CURL_POLL_REMOVE) {
		if (i < h->nsocks)
			h->socks[i] = h->socks[--h->nsocks];
		return 0;
	}
	if (i == h->nsocks) {
		if (h->nsocks == h->socksize) {
			n = h->socksize > 0 ? h->socksize * 2 : 4;
			if ((ns = reallocarray(h->socks, n, sizeof *ns)) ==
			    NULL) {
				h->sock_nomem = 1;
				return -1;
			}
			h->socks = ns;
			if ((np = reallocarray(h->pfds, n, sizeof *np)) ==
			    NULL) {
				h->sock_nomem = 1;
				return -1;
			}
			h->pfds = np;
			h->socksize = n;
		}
		h->socks[h->nsocks++].fd = fd;
	}
	h->socks[i].events = (short)((what & CURL_POLL_IN ? POLLIN : 0) |
	    (what & CURL_POLL_OUT ? POLLOUT : 0));
	return 0;
}

/* libcurl's timer callback: act again in ms (-1: no timer). */
static int
http_timer_cb(CURLM *multi, long ms, void *arg)
{
	struct http	*h = arg;

	h->timer_ms = ms;
	return 0;
}

/* The multi handle of one client: one connection kept, no more. */
static CURLM *
http_multi_new(struct http *h)
{
	CURLM	*m;

	if ((m = curl_multi_init()) == NULL)
		return NULL;
	h->nsocks = 0;
	h->timer_ms = -1;
	if (curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, 1L) != CURLM_OK ||
	    curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, http_socket_cb) !=
	    CURLM_OK ||
	    curl_multi_setopt(m, CURLMOPT_SOCKETDATA, h) != CURLM_OK ||
	    curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, http_timer_cb) !=
	    CURLM_OK ||
	    curl_multi_setopt(m, CURLMOPT_TIMERDATA, h) != CURLM_OK) {
		curl_multi_cleanup(m);
		return NULL;
	}
	return m;
}

struct http *
http_open(const char *url, long connect_ms, char *cause, size_t causelen)
{
	struct http_opts	o;

	memset(&o, 0, sizeof o);
	o.connect_ms = connect_ms;
	return http_open_opts(url, &o, cause, causelen);
}

/* http://host[:port][/path] or https://...; NULL and a cause if not. */
struct http *
http_open_opts(const char *url, const struct http_opts *o, char *cause,
    size_t causelen)
{
	struct http	*h;

	if ((h = calloc(1, sizeof *h)) == NULL) {
		snprintf(cause, causelen, "out of memory");
		return NULL;
	}
	h->connect_ms = o != NULL && o->connect_ms > 0 ? o->connect_ms : 5000;
	if (http_parse_url(h, url, cause, causelen) == -1 ||
	    http_init(cause, causelen) == -1)
		goto fail;
	if ((h->curl = curl_easy_init()) == NULL ||
	    (h->multi = http_multi_new(h)) == NULL ||
	    (h->post_hdrs = curl_slist_append(NULL,
	    "Content-Type: application/json")) == NULL ||
	    curl_slist_append(h->post_hdrs, "Expect:") == NULL ||
	    curl_slist_append(h->post_hdrs, "Accept:") == NULL ||
	    (h->get_hdrs = curl_slist_append(NULL, "Accept:")) == NULL) {
		snprintf(cause, causelen, "out of memory");
		goto fail;
	}
	if (http_setopts(h, o, cause, causelen) == -1)
		goto fail;
	h->url_is_post = 1;
	return h;

fail:
	http_free(h);
	return NULL;
}

void
http_free(struct http *h)
{
	if (h == NULL)
		return;
	if (h->multi != NULL)
		curl_multi_cleanup(h->multi);
	if (h->curl != NULL)
		curl_easy_cleanup(h->curl);
	free(h->socks);
	free(h->pfds);
	curl_slist_free_all(h->post_hdrs);
	curl_slist_free_all(h->get_hdrs);
	free(h->url);
	free(h->base);
	free(h->host);
	free(h->hostport);
	free(h->target);
	free(h->body);
	free(h);
}

/*
 * fn(arg) != 0 ends the request in flight; it is asked at least once a
 * second while a request waits (libcurl's progress callback while its
 * transfer runs, http_perform() when a second passes with nothing to do).
 */
void
http_set_abort(struct http *h, int (*fn)(void *), void *arg)
{
	h->abort_cb = fn;
	h->abort_arg = arg;
	(void)curl_easy_setopt(h->curl, CURLOPT_NOPROGRESS, fn != NULL ? 0L :
	    1L);
}

enum http_fail
http_last_fail(const struct http *h)
{
	return h->fail;
}

size_t
http_buffer_size(const struct http *h)
{
	return h->bodysize;
}

/* curl's message, or its code's text; never empty. */
static const char *
http_errtext(struct http *h, CURLcode rc)
{
	size_t	len = strlen(h->errbuf);

	while (len > 0 && (h->errbuf[len - 1] == '\n' ||
	    h->errbuf[len - 1] == '\r'))
		h->errbuf[--len] = '\0';
	return len > 0 ? h->errbuf : curl_easy_strerror(rc);
}

/* One line, one cause, one kind for a failed transfer. */
static void
http_fail_cause(struct http *h, CURLcode rc, char *cause, size_t causelen)
{
	const char	*e = http_errtext(h, rc), *p;
	long		 oserr = 0, limit;

	if (h->aborted || rc == CURLE_ABORTED_BY_CALLBACK) {
		h->fail = HTTP_FAIL_ABORT;
		snprintf(cause, causelen, "request aborted");
		return;
	}
	if (h->toobig || rc == CURLE_FILESIZE_EXCEEDED) {
		h->fail = HTTP_FAIL_TOOBIG;
		snprintf(cause, causelen, "reply: body larger than %zu bytes",
		    h->max);
		return;
	}
	if (h->hdrtoobig) {
		h->fail = HTTP_FAIL_TOOBIG;
		snprintf(cause, causelen, "reply: headers larger than %d bytes",
		    HTTP_MAX_HEADERS);
		return;
	}
	if (h->interim) {
		h->fail = HTTP_FAIL_PROTO;
		snprintf(cause, causelen, "reply: more than %d interim (1xx) "
		    "replies", HTTP_MAX_INTERIM);
		return;
	}
	if (h->badframe != NULL) {
		if (h->fail == HTTP_FAIL_NONE)
			h->fail = HTTP_FAIL_PROTO;
		snprintf(cause, causelen, "reply: %s", h->badframe);
		return;
	}
	if (h->nomem) {
		h->fail = HTTP_FAIL_OTHER;
		snprintf(cause, causelen, "out of memory");
		return;
	}
	(void)curl_easy_getinfo(h->curl, CURLINFO_OS_ERRNO, &oserr);
	limit = h->connect_ms < h->timeout_ms ? h->connect_ms : h->timeout_ms;
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		if (strncmp(e, "Resolving timed out", 19) == 0) {
			h->fail = HTTP_FAIL_RESOLVE_TIMEOUT;
			snprintf(cause, causelen, "resolve %s: no answer within "
			    "%ld ms", h->host, limit);
		} else if (strncmp(e, "Connection timed out", 20) == 0 ||
		    strncmp(e, "Failed to connect", 17) == 0) {
			h->fail = HTTP_FAIL_CONNECT_TIMEOUT;
			snprintf(cause, causelen, "connect to %s: timed out "
			    "after %ld ms", h->hostport, limit);
		} else if (strncmp(e, "SSL connection timeout", 22) == 0) {
			/* The handshake is part of the connect phase. */
			h->fail = HTTP_FAIL_CONNECT_TIMEOUT;
			snprintf(cause, causelen, "connect to %s: TLS handshake "
			    "timed out after %ld ms", h->hostport, limit);
		} else {
			h->fail = HTTP_FAIL_TIMEOUT;
			snprintf(cause, causelen, "timed out after %ld ms",
			    h->timeout_ms);
		}
		return;
	case CURLE_COULDNT_RESOLVE_HOST:
		h->fail = HTTP_FAIL_RESOLVE;
		snprintf(cause, causelen, "resolve %s: %s", h->host, e);
		return;
	case CURLE_COULDNT_RESOLVE_PROXY:
		h->fail = HTTP_FAIL_RESOLVE;
		snprintf(cause, causelen, "proxy: %s", e);
		return;
	case CURLE_COULDNT_CONNECT:
		h->fail = HTTP_FAIL_CONNECT;
		if (oserr != 0 && strstr(e, "proxy") == NULL)
			snprintf(cause, causelen, "connect to %s: %s",
			    h->hostport, strerror((int)oserr));
		else
			snprintf(cause, causelen, "connect: %s", e);
		return;
	case CURLE_PEER_FAILED_VERIFICATION:
		h->fail = HTTP_FAIL_TLS;
		if ((p = strstr(e, "certificate problem: ")) != NULL)
			e = p + 21;
		else if (strncmp(e, "SSL: ", 5) == 0)
			e += 5;
		snprintf(cause, causelen, "TLS: certificate verify failed: %s%s",
		    strstr(e, "match") != NULL ? "hostname mismatch: " : "", e);
		return;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_USE_SSL_FAILED:
		h->fail = HTTP_FAIL_TLS;
		snprintf(cause, causelen, "TLS: %s", e);
		return;
	case CURLE_GOT_NOTHING:
		h->fail = HTTP_FAIL_CLOSED;
		snprintf(cause, causelen, "server closed the connection "
		    "without a reply");
		return;
	case CURLE_PARTIAL_FILE:
		h->fail = HTTP_FAIL_CLOSED;
		snprintf(cause, causelen, "reply: connection closed before the "
		    "end of the body (%s)", e);
		return;
	case CURLE_RECV_ERROR:
		if (strstr(e, "unexpected eof") != NULL ||
		    strstr(e, "unexpected EOF") != NULL) {
			h->fail = HTTP_FAIL_CLOSED;
			snprintf(cause, causelen, "reply: TLS connection closed "
			    "before the end of the reply (no close_notify)");
			return;
		}
		if (strstr(e, "chunk") != NULL) {
			h->fail = HTTP_FAIL_PROTO;
			snprintf(cause, causelen, "reply: bad chunked body: %s",
			    e);
			return;
		}
		h->fail = HTTP_FAIL_CLOSED;
		snprintf(cause, causelen, "receive: %s", e);
		return;
	case CURLE_SEND_ERROR:
		h->fail = HTTP_FAIL_CLOSED;
		snprintf(cause, causelen, "send: %s", e);
		return;
	case CURLE_UNSUPPORTED_PROTOCOL:
		h->fail = HTTP_FAIL_PROTO;
		snprintf(cause, causelen, "reply: bad status line (%s)", e);
		return;
	case CURLE_WEIRD_SERVER_REPLY:
		h->fail = HTTP_FAIL_PROTO;
		if (strstr(e, "response code") != NULL ||
		    strstr(e, "status") != NULL)
			snprintf(cause, causelen, "reply: bad status line (%s)",
			    e);
		else if (strstr(e, "colon") != NULL)
			snprintf(cause, causelen, "reply: bad header line (%s)",
			    e);
		else if (strstr(e, "Content-Length") != NULL)
			snprintf(cause, causelen, "reply: bad Content-Length "
			    "(%s)", e);
		else
			snprintf(cause, causelen, "reply: malformed: %s", e);
		return;
	case CURLE_HTTP2:
	case CURLE_BAD_CONTENT_ENCODING:
	case CURLE_RANGE_ERROR:
		h->fail = HTTP_FAIL_PROTO;
		snprintf(cause, causelen, "reply: malformed: %s", e);
		return;
	case CURLE_OUT_OF_MEMORY:
		/* Before the headers end: libcurl's limit on one line. */
		if (!h->hdrdone) {
			h->fail = HTTP_FAIL_TOOBIG;
			snprintf(cause, causelen, "reply: a header line longer "
			    "than libcurl's limit (%d bytes)",
			    CURL_MAX_HTTP_HEADER);
		} else {
			h->fail = HTTP_FAIL_OTHER;
			snprintf(cause, causelen, "out of memory");
		}
		return;
	default:
		h->fail = HTTP_FAIL_OTHER;
		snprintf(cause, causelen, "%s", e);
		return;
	}
}

/*
 * After a failure the connection is never used again, whatever libcurl
 * thinks of it (it keeps a connection whose reply it parsed but we
 * refused): a copy of the handle with the same options and no
 * connection replaces it.  Only a failure pays for this.
 */
static void
http_reset(struct http *h)
{
	CURL	*c;
	CURLM	*m;

	/* The connection is in the multi handle's cache: a new one. */
	if ((c = curl_easy_duphandle(h->curl)) == NULL) {
		/* No memory: at least no reuse of this one. */
		(void)curl_easy_setopt(h->curl, CURLOPT_FRESH_CONNECT, 1L);
		return;
	}
	/* The old one's sockets are closed (and forgotten) first. */
	curl_multi_cleanup(h->multi);
	if ((h->multi = m = http_multi_new(h)) == NULL) {
		/* The next request fails with "out of memory". */
		curl_easy_cleanup(c);
		return;
	}
	curl_easy_cleanup(h->curl);
	h->curl = c;
	(void)curl_easy_setopt(h->curl, CURLOPT_FRESH_CONNECT, 0L);
}

/*
 * curl_easy_perform(), but on our multi handle, driven by
 * curl_multi_socket_action() and our own poll() on the sockets libcurl
 * names (its socket callback) until its timer (its timer callback) runs
 * out.  The easy interface polls its multi handle (and its wakeup
 * socket) before it sends anything, and checks each socket for readiness
 * with another poll() before it reads: told which socket is ready, it
 * reads at once.  The deadline (libcurl's timer), the progress callback
 * (asked at least once a second: the wait's bound) and every option work
 * as with curl_easy_perform().
 */
static CURLcode
http_perform(struct http *h)
{
	CURLMsg		*msg;
	CURLMcode	 mc;
	CURLcode	 rc = CURLE_OK;
	size_t		 i, n;
	long		 wait;
	int		 running = 1, left, nready, bits;

	if (h->multi == NULL)
		return CURLE_OUT_OF_MEMORY;
	h->sock_nomem = 0;
	if ((mc = curl_multi_add_handle(h->multi, h->curl)) != CURLM_OK)
		goto done;
	/* Adding set the timer to 0: start. */
	mc = curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0,
	    &running);
	while (mc == CURLM_OK && running > 0 && !h->sock_nomem) {
		wait = h->timer_ms < 0 || h->timer_ms > 1000 ? 1000 :
		    h->timer_ms;
		if (wait == 0) {
			/* Due now: no poll() for it. */
			mc = curl_multi_socket_action(h->multi,
			    CURL_SOCKET_TIMEOUT, 0, &running);
			continue;
		}
		n = h->nsocks;
		for (i = 0; i < n; i++) {
			h->pfds[i].fd = h->socks[i].fd;
			h->pfds[i].events = h->socks[i].events;
			h->pfds[i].revents = 0;
		}
		nready = poll(n > 0 ? h->pfds : NULL, (nfds_t)n, (int)wait);
		if (nready == -1 && errno != EINTR) {
			rc = CURLE_RECV_ERROR;
			break;
		}
		if (nready <= 0) {
			/*
			 * The timer ran out, or the second's bound: libcurl
			 * runs only a transfer whose timer is due, so the
			 * abort callback is asked here.
			 */
			if (h->abort_cb != NULL && h->abort_cb(h->abort_arg)) {
				h->aborted = 1;
				rc = CURLE_ABORTED_BY_CALLBACK;
				break;
			}
			mc = curl_multi_socket_action(h->multi,
			    CURL_SOCKET_TIMEOUT, 0, &running);
			continue;
		}
		for (i = 0; i < n && mc == CURLM_OK; i++) {
			if (h->pfds[i].revents == 0)
				continue;
			bits = 0;
			if (h->pfds[i].revents & (POLLIN | POLLHUP))
				bits |= CURL_CSELECT_IN;
			if (h->pfds[i].revents & POLLOUT)
				bits |= CURL_CSELECT_OUT;
			if (h->pfds[i].revents & (POLLERR | POLLNVAL))
				bits |= CURL_CSELECT_ERR;
			mc = curl_multi_socket_action(h->multi, h->pfds[i].fd,
			    bits, &running);
		}
	}
	while (mc == CURLM_OK && rc == CURLE_OK &&
	    (msg = curl_multi_info_read(h->multi, &left)) != NULL)
		if (msg->msg == CURLMSG_DONE && msg->easy_handle == h->curl)
			rc = msg->data.result;
	(void)curl_multi_remove_handle(h->multi, h->curl);
	if (h->sock_nomem && rc == CURLE_OK)
		rc = CURLE_OUT_OF_MEMORY;
done:
	if (mc != CURLM_OK)
		rc = mc == CURLM_OUT_OF_MEMORY ? CURLE_OUT_OF_MEMORY :
		    CURLE_BAD_FUNCTION_ARGUMENT;
	return rc;
}

static int
http_request(struct http *h, int post, const char *target, const char *body,
    size_t len, long timeout_ms, size_t max, int *status,
    const char **reply, size_t *replylen, char *cause, size_t causelen)
{
	CURLcode	 rc;
	long		 code = 0, vers = 0;
	size_t		 n;

	*status = 0;
	if (reply != NULL)
		*reply = NULL;
	if (replylen != NULL)
		*replylen = 0;
	/* Give back what one large reply took (and the heap it left). */
	if (h->bodysize > HTTP_KEEP_BODY) {
		free(h->body);
		h->body = NULL;
		h->bodysize = 0;
		(void)malloc_trim(0);
	}
	h->max = max < SIZE_MAX - 1 ? max : SIZE_MAX - 2;
	h->timeout_ms = timeout_ms > 0 ? timeout_ms : 30000;
	h->bodylen = 0;
	h->hdrbytes = 0;
	h->ninterim = 0;
	h->toobig = h->hdrtoobig = h->interim = h->aborted = h->nomem = 0;
	h->isinterim = h->hdrdone = h->hasclen = h->chunked = 0;
	h->close_notify = 0;
	h->badframe = NULL;
	h->fail = HTTP_FAIL_NONE;
	h->errbuf[0] = '\0';
	if (http_grow(h, 1, 0) == -1) {
		h->fail = HTTP_FAIL_OTHER;
		snprintf(cause, causelen, "out of memory");
		return -1;
	}
	h->body[0] = '\0';

	if (post) {
		if (!h->url_is_post)
			(void)curl_easy_setopt(h->curl, CURLOPT_URL, h->url);
		h->url_is_post = 1;
		(void)curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, body);
		(void)curl_easy_setopt(h->curl, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)len);
		(void)curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER,
		    h->post_hdrs);
	} else {
		n = strlen(h->base) + strlen(target) + 1;
		free(h->target);
		if ((h->target = malloc(n)) == NULL) {
			h->fail = HTTP_FAIL_OTHER;
			snprintf(cause, causelen, "out of memory");
			return -1;
		}
		snprintf(h->target, n, "%s%s", h->base, target);
		(void)curl_easy_setopt(h->curl, CURLOPT_URL, h->target);
		h->url_is_post = 0;
		(void)curl_easy_setopt(h->curl, CURLOPT_HTTPGET, 1L);
		(void)curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER,
		    h->get_hdrs);
	}
	(void)curl_easy_setopt(h->curl, CURLOPT_TIMEOUT_MS, h->timeout_ms);
	(void)curl_easy_setopt(h->curl, CURLOPT_MAXFILESIZE_LARGE,
	    (curl_off_t)(h->max > INT64_MAX ? INT64_MAX : h->max));

	rc = http_perform(h);
	if (rc == CURLE_OK) {
		(void)curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &code);
		(void)curl_easy_getinfo(h->curl, CURLINFO_HTTP_VERSION, &vers);
		if (!h->hdrdone) {
			h->badframe = "connection closed in the headers";
			rc = CURLE_WEIRD_SERVER_REPLY;
		} else if (code < 200 || code > 999 ||
		    (vers != CURL_HTTP_VERSION_1_0 &&
		    vers != CURL_HTTP_VERSION_1_1)) {
			h->badframe = "bad status line";
			rc = CURLE_WEIRD_SERVER_REPLY;
		} else if (h->tls && !h->hasclen && !h->chunked &&
		    code != 204 && code != 304 && !h->close_notify) {
			h->badframe = "TLS connection closed before the end of "
			    "the reply (no close_notify)";
			h->fail = HTTP_FAIL_CLOSED;
			rc = CURLE_RECV_ERROR;
		}
	}
	if (rc != CURLE_OK) {
		http_fail_cause(h, rc, cause, causelen);
		http_reset(h);
		h->bodylen = 0;
		h->body[0] = '\0';
		return -1;
	}
	*status = (int)code;
	if (reply != NULL)
		*reply = h->body;
	if (replylen != NULL)
		*replylen = h->bodylen;
	return 0;
}

/*
 * POST body (JSON) to the URL's path and read the reply: 0 and the
 * status, with the body in a buffer the handle owns until the next
 * call, or -1 and a one-line cause (http_last_fail() says its kind).  A
 * reply body over max bytes is an error.  timeout_ms bounds the whole
 * request, connect included.
 */
int
http_post(struct http *h, const char *body, size_t len, long timeout_ms,
    size_t max, int *status, const char **reply, size_t *replylen,
    char *cause, size_t causelen)
{
	return http_request(h, 1, NULL, body != NULL ? body : "", len,
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
	return http_request(h, 0, target, NULL, 0, timeout_ms, max, status,
	    reply, replylen, cause, causelen);
}
