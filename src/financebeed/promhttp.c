/*
 * promhttp.c: GET /metrics over HTTP for Prometheus, which cannot scrape a
 * Unix socket.  Off unless metrics.listen names an address; served from
 * the master's event loop with evhttp, the same text as "fbeectl metrics".
 * It answers nothing else: no other path, no other method, no body.
 */
#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include "financebeed.h"

#define PROMHTTP_TIMEOUT	10	/* s for a request to come and go */
#define PROMHTTP_MAXHEADERS	8192
#define PROMHTTP_MAXBODY	4096

static struct evhttp	*promhttp;

static void
promhttp_cb(struct evhttp_request *req, void *arg)
{
	struct evbuffer	*out;
	const char	*path;
	char		*text;

	(void)arg;
	path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	if (path == NULL || strcmp(path, "/metrics") != 0) {
		evhttp_send_error(req, HTTP_NOTFOUND, "only /metrics here");
		return;
	}
	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET &&
	    evhttp_request_get_command(req) != EVHTTP_REQ_HEAD) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Allow", "GET, HEAD");
		evhttp_send_error(req, HTTP_BADMETHOD, NULL);
		return;
	}
	if ((text = report_metrics_text()) == NULL ||
	    (out = evbuffer_new()) == NULL) {
		free(text);
		evhttp_send_error(req, HTTP_INTERNAL, "no metrics");
		return;
	}
	evbuffer_add(out, text, strlen(text));
	free(text);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
	evhttp_send_reply(req, HTTP_OK, "OK", out);
	evbuffer_free(out);
}

int
promhttp_open(struct event_base *base, const struct fb_config *cfg,
    char *cause, size_t causelen)
{
	char		 host[256];
	unsigned short	 port;

	if (cfg->metrics_listen == NULL || cfg->metrics_listen[0] == '\0')
		return 0;
	if (config_hostport(cfg->metrics_listen, host, sizeof(host),
	    &port) == -1) {
		snprintf(cause, causelen, "metrics.listen: not host:port");
		return -1;
	}
	if ((promhttp = evhttp_new(base)) == NULL) {
		snprintf(cause, causelen, "metrics.listen: evhttp_new failed");
		return -1;
	}
	evhttp_set_timeout(promhttp, PROMHTTP_TIMEOUT);
	evhttp_set_max_headers_size(promhttp, PROMHTTP_MAXHEADERS);
	evhttp_set_max_body_size(promhttp, PROMHTTP_MAXBODY);
	evhttp_set_allowed_methods(promhttp, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD |
	    EVHTTP_REQ_POST | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE);
	evhttp_set_gencb(promhttp, promhttp_cb, NULL);
	if (evhttp_bind_socket(promhttp, host, port) == -1) {
		snprintf(cause, causelen, "metrics.listen: cannot listen on "
		    "%s", cfg->metrics_listen);
		evhttp_free(promhttp);
		promhttp = NULL;
		return -1;
	}
	log_info("metrics: serving http://%s/metrics", cfg->metrics_listen);
	return 0;
}

void
promhttp_close(void)
{
	if (promhttp != NULL)
		evhttp_free(promhttp);
	promhttp = NULL;
}
