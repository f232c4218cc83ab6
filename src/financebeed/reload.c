/*
 * reload.c: configuration snapshots and reload.  A reload parses the file
 * into a fresh struct and swaps it in only when everything about it checks
 * out (snapshot, executor identity, admin groups); bees of an older
 * generation are then replaced one at a time, each drained first.
 */
#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "financebeed.h"
#include "master.h"


struct reload_done {
	void	(*done)(int, const char *, void *);
	void	 *arg;
	int	  ok;
	char	  cause[FB_CAUSE_MAX];
};

static void
reload_done_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct reload_done	*d = arg;

	(void)fd;
	(void)ev;
	d->done(d->ok, d->ok ? NULL : d->cause, d->arg);
	free(d);
}

/* Replace bees of an older generation one at a time: drain, then respawn. */
void
reload_roll_next(void)
{
	struct slot	*s;
	size_t		 i;

	if (!master.rolling || master.state != MASTER_RUNNING)
		return;
	for (i = 1; i <= MASTER_MAX_SLOTS; i++) {
		if (master.slots[i].replacing)
			return;
	}
	for (i = 1; i <= MASTER_MAX_SLOTS; i++) {
		s = &master.slots[i];
		if (s->wanted && s->state == SLOT_RUNNING && !s->drain_sent &&
		    s->generation < master.generation) {
			log_info("slot %u: replacing bee pid %ld (generation "
			    "%u -> %u)", s->id, (long)s->pid, s->generation,
			    master.generation);
			s->replacing = 1;
			master_drain_slot(s);
			return;
		}
	}
	master.rolling = 0;
	log_info("reload complete: generation %u", master.generation);
}

static int
reload_now(char *cause, size_t causelen)
{
	struct fb_config	 n;
	struct crypto_key	 key;
	struct slot		*s;
	unsigned int		 oldbees;
	int			 differ, cfgfd;
	size_t			 i;

	memset(&n, 0, sizeof(n));
	if (config_load_snapshot(master.cfgpath, &n, &cfgfd, cause, causelen) == -1)
		return -1;
	if (config_executor_key(&n, 1, &key, cause, causelen) == -1) {
		close(cfgfd);
		config_free(&n);
		return -1;
	}
	crypto_key_clear(&key);
	if (admin_set_groups(&n, cause, causelen) == -1) {
		close(cfgfd);
		config_free(&n);
		return -1;
	}
	/* From now on, every bee spawned gets the new one. */
	if (master.cfgfd >= 0)
		close(master.cfgfd);
	master.cfgfd = cfgfd;
	differ = config_bee_settings_differ(master.cfg, &n);
	oldbees = master.cfg->bees;
	if ((master.cfg->admin_path == NULL) != (n.admin_path == NULL) ||
	    (n.admin_path != NULL &&
	    strcmp(master.cfg->admin_path, n.admin_path) != 0))
		log_warnx("reload: admin.socket changes need a restart");
	if (strcmp(master.cfg->metrics_listen, n.metrics_listen) != 0)
		log_warnx("reload: metrics.listen changes need a restart");
	if (master.cfg->stats_interval_ms != n.stats_interval_ms)
		log_warnx("reload: metrics.stats_interval changes need a "
		    "restart");
	if (master.cfg->queue_interval_ms != n.queue_interval_ms)
		log_warnx("reload: metrics.queue_interval changes need a "
		    "restart");
	if (master.foreground)
		n.log_level = LOG_LEVEL_DEBUG;
	else if (strcmp(master.cfg->log_target, n.log_target) != 0 &&
	    log_init(NULL, n.log_level, n.log_target, cause, causelen) == -1) {
		log_warnx("reload: log: %s; keeping the old target", cause);
		(void)log_init(NULL, n.log_level, master.cfg->log_target, cause,
		    causelen);
	}
	master.generation++;
	n.generation = master.generation;
	config_free(master.cfg);
	*master.cfg = n;

	log_setlevel(master.cfg->log_level);
	for (i = 1; i <= MASTER_MAX_SLOTS; i++) {
		s = &master.slots[i];
		s->executorid[0] = '\0';
		s->registered = 0;
		if (s->state == SLOT_RUNNING && !differ)
			s->generation = master.generation;
		if (s->state == SLOT_FAILED && s->wanted) {
			s->state = SLOT_STOPPED;
			master_spawn(s);
		}
		if (s->executorid[0] == '\0')
			(void)master_identity(s, cause, causelen);
	}
	log_info("reloaded %s: generation %u%s", master.cfgpath, master.generation,
	    differ ? ", replacing bees" : "");
	if (oldbees != master.cfg->bees)
		master_set_target(master.cfg->bees);
	master_intake_reload(differ);
	if (differ) {
		master.rolling = 1;
		reload_roll_next();
	}
	return 0;
}

void
reload_request(void (*done)(int, const char *, void *), void *arg)
{
	struct reload_done	*d;
	struct timeval			 tv = { 0, 0 };
	char				 cause[FB_CAUSE_MAX];
	int				 ok;

	if (master.state != MASTER_RUNNING) {
		snprintf(cause, sizeof(cause), "the daemon is stopping");
		ok = 0;
	} else {
		notify_send("RELOADING=1\nMONOTONIC_USEC=%lld",
		    (long long)clock_now_ms() * 1000);
		if (reload_now(cause, sizeof(cause)) == -1) {
			log_warnx("reload failed, keeping the running "
			    "configuration: %s", cause);
			ok = 0;
			notify_send("READY=1\nSTATUS=reload failed, kept "
			    "generation %u", master.generation);
		} else {
			ok = 1;
			notify_send("READY=1\nSTATUS=reloaded: generation %u",
			    master.generation);
		}
	}
	if (done == NULL)
		return;
	if ((d = calloc(1, sizeof(*d))) == NULL) {
		done(ok, ok ? NULL : cause, arg);
		return;
	}
	d->done = done;
	d->arg = arg;
	d->ok = ok;
	snprintf(d->cause, sizeof(d->cause), "%s", ok ? "" : cause);
	if (event_base_once(master.base, -1, EV_TIMEOUT, reload_done_cb, d,
	    &tv) == -1) {
		done(ok, ok ? NULL : cause, arg);
		free(d);
	}
}

