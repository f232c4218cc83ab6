/*
 * registrar.c: financebeed --register SLOT, the child the master starts to
 * add and approve a slot's executor with the colony owner's key.  The two
 * calls are HTTP requests that can take up to colonies.connect_timeout +
 * colonies.request_timeout each (the name lookup counts against the
 * connect timeout): in a child, the master's loop keeps serving the
 * admin socket and supervising its bees meanwhile, and spawns the slot's
 * bee when the child has exited.
 *
 * Exit status: 0 registered and approved; FB_EX_TEMPFAIL ColonyOS could
 * not be reached (the master then waits supervision.respawn_max before
 * trying again); FB_EX_CONFIG the owner key or the slot's identity is
 * unusable; FB_EX_SOFTWARE no client (a bad URL or no memory); 1 the colony
 * refused.  Each failure is logged here, as "registrar[N]".
 */
#include <sys/types.h>

#include <stdio.h>
#include <string.h>

#include "financebeed.h"

int
registrar_main(const struct fb_config *cfg, unsigned int slot)
{
	struct crypto_key	 owner, key;
	struct colonies		*c;
	struct http_opts	 ho;
	char			 cause[FB_CAUSE_MAX], name[128];
	enum col_err		 e;

	snprintf(name, sizeof(name), "%s-%u", cfg->executor_prefix, slot);
	if (cfg->owner_key == NULL || cfg->owner_key[0] == '\0') {
		log_warnx("slot %u: no colonies.owner_key_file", slot);
		return FB_EX_CONFIG;
	}
	if (config_executor_key(cfg, slot, &key, cause, sizeof(cause)) == -1) {
		log_warnx("slot %u: %s", slot, cause);
		return FB_EX_CONFIG;
	}
	if (crypto_key_parse(&owner, cfg->owner_key, strlen(cfg->owner_key),
	    cause, sizeof(cause)) == -1) {
		log_warnx("owner key: %s", cause);
		crypto_key_clear(&key);
		return FB_EX_CONFIG;
	}
	config_http_opts(cfg, &ho);
	c = colonies_open_opts(cfg->colonies_url, &owner, &ho,
	    cfg->http_timeout_ms, colonies_max_reply(cfg->max_payload));
	crypto_key_clear(&owner);
	if (c == NULL) {
		log_warnx("cannot create the owner's ColonyOS client");
		crypto_key_clear(&key);
		return FB_EX_SOFTWARE;
	}
	/* "Already exists" is fine: approving again is what matters. */
	e = colonies_add_executor(c, cfg->colony, key.id, cfg->executor_type,
	    name, cause, sizeof(cause));
	crypto_key_clear(&key);
	if (e != COL_OK && !(e == COL_BADREQ && strstr(cause,
	    "already exists") != NULL)) {
		log_warnx("slot %u: cannot register executor %s: %s: %s",
		    slot, name, col_err_str(e), cause);
		colonies_free(c);
		return e == COL_TRANSPORT ? FB_EX_TEMPFAIL : 1;
	}
	e = colonies_approve_executor(c, cfg->colony, name, cause,
	    sizeof(cause));
	colonies_free(c);
	if (e != COL_OK) {
		log_warnx("slot %u: cannot approve executor %s: %s: %s",
		    slot, name, col_err_str(e), cause);
		return e == COL_TRANSPORT ? FB_EX_TEMPFAIL : 1;
	}
	return FB_EX_OK;
}
