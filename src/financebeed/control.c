/*
 * control.c: the admin commands: what each one does to the pool and what
 * it answers.  admin.c owns the socket, the peers and the framing; the
 * master, reload.c and report.c do the work.
 */
#include <sys/types.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "financebeed.h"

static void	control_cmd_status(struct admin_client *, int, char **);
static void	control_cmd_executors(struct admin_client *, int, char **);
static void	control_cmd_metrics(struct admin_client *, int, char **);
static void	control_cmd_ping(struct admin_client *, int, char **);
static void	control_cmd_scale(struct admin_client *, int, char **);
static void	control_cmd_reload(struct admin_client *, int, char **);
static void	control_cmd_stop(struct admin_client *, int, char **);
static void	control_cmd_pause(struct admin_client *, int, char **);
static void	control_cmd_resume(struct admin_client *, int, char **);

static const struct admin_cmd control_cmds[] = {
	{ "status",	1, 0, 0, "status",		control_cmd_status },
	{ "executors",	1, 0, 0, "executors",		control_cmd_executors },
	{ "metrics",	1, 0, 0, "metrics",		control_cmd_metrics },
	{ "ping",	1, 0, 0, "ping",		control_cmd_ping },
	{ "scale",	0, 1, 2, "scale [bees|intake] N|+K|-K",
	    control_cmd_scale },
	{ "reload",	0, 0, 0, "reload",		control_cmd_reload },
	{ "stop",	0, 0, 1, "stop [--fast]",	control_cmd_stop },
	{ "pause",	0, 0, 0, "pause",		control_cmd_pause },
	{ "resume",	0, 0, 0, "resume",		control_cmd_resume },
};

int
control_open(struct event_base *base, const struct fb_config *cfg,
    char *cause, size_t causelen)
{
	return admin_open(base, cfg, control_cmds,
	    sizeof(control_cmds) / sizeof(control_cmds[0]), cause, causelen);
}


static void
control_cmd_status(struct admin_client *c, int argc, char **argv)
{
	admin_reply_json(c, report_status());
}

static void
control_cmd_executors(struct admin_client *c, int argc, char **argv)
{
	admin_reply_json(c, report_executors());
}

static void
control_cmd_metrics(struct admin_client *c, int argc, char **argv)
{
	char	*text;

	if ((text = report_metrics_text()) == NULL) {
		admin_replyf(c, "ERR", "no metrics from the master");
		return;
	}
	admin_reply_text(c, text);
	free(text);
}

static void
control_cmd_ping(struct admin_client *c, int argc, char **argv)
{
	admin_replyf(c, "OK", "pong");
}

static void
control_cmd_scale(struct admin_client *c, int argc, char **argv)
{
	json_t		*st;
	const char	*s = argv[argc - 1];
	char		 cause[FB_CAUSE_MAX], op = '=';
	unsigned long	 n = 0;
	size_t		 i;
	int		 intake = 0;

	/* "scale intake N": the intake processes (intake.c). */
	if (argc == 3) {
		if (strcmp(argv[1], "intake") == 0)
			intake = 1;
		else if (strcmp(argv[1], "bees") != 0) {
			admin_replyf(c, "ERR", "scale: bees or intake");
			return;
		}
	}

	if (*s == '+' || *s == '-')
		op = *s++;
	if (*s == '\0' || strlen(s) > 9) {
		admin_replyf(c, "ERR", "scale: bad count (N, +K or -K)");
		return;
	}
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9') {
			admin_replyf(c, "ERR", "scale: bad count (N, +K or -K)");
			return;
		}
		n = n * 10 + (unsigned long)(s[i] - '0');
	}
	cause[0] = '\0';
	if (intake) {
		if (master_intake_scale(op, n, cause, sizeof(cause)) == -1) {
			admin_replyf(c, "ERR", "scale: %s", cause);
			return;
		}
		log_info("admin: uid %u: scale intake %s",
		    (unsigned)admin_client_uid(c), s);
		admin_replyf(c, "OK", "scaling intake processes");
		return;
	}
	if (master_scale(op, n, cause, sizeof(cause)) == -1) {
		admin_replyf(c, "ERR", "scale: %s",
		    cause[0] != '\0' ? cause : "refused");
		return;
	}
	log_info("admin: uid %u: scale %s", (unsigned)admin_client_uid(c), s);
	if ((st = report_status()) != NULL &&
	    json_is_integer(json_object_get(st, "bees_target")))
		admin_replyf(c, "OK", "scaling to %" JSON_INTEGER_FORMAT
		    " bees", json_integer_value(json_object_get(st,
		    "bees_target")));
	else
		admin_replyf(c, "OK", "scaling");
	json_decref(st);
}

/*
 * The client may be gone by the time the master reports, and admin_close()
 * may have run: the argument is the client's id, never a pointer.
 */
static void
control_reload_done_cb(int ok, const char *cause, void *arg)
{
	struct admin_client	*c;

	if ((c = admin_held((unsigned long)(uintptr_t)arg)) == NULL) {
		log_debug("admin: reload finished after its client left");
		return;
	}
	if (ok)
		admin_replyf(c, "OK", "reloaded");
	else
		admin_replyf(c, "ERR", "reload failed: %s",
		    cause != NULL ? cause : "unknown error");
	admin_release(c);
}

static void
control_cmd_reload(struct admin_client *c, int argc, char **argv)
{
	unsigned long	id;

	log_info("admin: uid %u: reload", (unsigned)admin_client_uid(c));
	id = admin_hold(c);
	/* done may run before reload_request() returns. */
	reload_request(control_reload_done_cb, (void *)(uintptr_t)id);
}

/*
 * Deferred to its own loop iteration: the master may close the admin socket
 * (and free this client) from master_stop().
 */
static void
control_stop_cb(evutil_socket_t fd, short what, void *arg)
{
	master_stop(arg != NULL);
}

static void
control_cmd_stop(struct admin_client *c, int argc, char **argv)
{
	int	fast = 0;

	if (argc == 2) {
		if (strcmp(argv[1], "--fast") != 0) {
			admin_replyf(c, "ERR", "usage: stop [--fast]");
			return;
		}
		fast = 1;
	}
	log_info("admin: uid %u: stop%s", (unsigned)admin_client_uid(c),
	    fast ? " --fast" : "");
	if (admin_defer(control_stop_cb, fast ? (void *)1 : NULL) == -1) {
		admin_replyf(c, "ERR", "stop: cannot schedule");
		return;
	}
	admin_replyf(c, "OK", fast ? "stopping (fast)" : "stopping");
}

static void
control_cmd_pause(struct admin_client *c, int argc, char **argv)
{
	log_info("admin: uid %u: pause", (unsigned)admin_client_uid(c));
	master_pause(1);
	admin_replyf(c, "OK", "paused");
}

static void
control_cmd_resume(struct admin_client *c, int argc, char **argv)
{
	log_info("admin: uid %u: resume", (unsigned)admin_client_uid(c));
	master_pause(0);
	admin_replyf(c, "OK", "resumed");
}
