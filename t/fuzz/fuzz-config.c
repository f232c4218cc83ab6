/*
 * fuzz-config: the configuration loader (src/financebeed/config.c).  The
 * input is the text of financebee.conf; it reaches config_load_fd() in a
 * configuration snapshot (the sealed memfd a bee loads from) that also
 * holds the secret files a configuration may name:
 *
 *	/fuzz/seed	64 hex characters (colonies.executor_seed_file)
 *	/fuzz/keys	four executor keys, one a line
 *	/fuzz/owner	a key (colonies.owner_key_file)
 *	/fuzz/whsec	a webhook secret (stripe.webhook_secrets)
 *	/fuzz/conninfo	a libpq string with a password
 *	/fuzz/open	a secret file readable by others (refused)
 *	/fuzz/dir	not a regular file
 *
 * so that the load reads nothing from disk but what the text names
 * outside /fuzz.  Inputs with an @include are skipped (libconfig would
 * read the named file itself).
 *
 * Checked: a failure has a cause that never holds a secret file's
 * content (unless the text holds it too); a success has every default filled in and ranges kept, and
 * config_bee_settings_differ() of a configuration with itself is 0.
 * Seeds: t/fuzz/corpus/config (plus etc/financebee.conf, contrib/fuzz.sh).
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "financebeed.h"
#include "fuzz.h"

#define FUZZ_CONF	"/fuzz/financebee.conf"
#define FUZZ_MAGIC	"financebee-config-snapshot-1\n"

static const struct {
	const char	*path;
	mode_t		 mode;
	const char	*data;		/* NULL: not a regular file */
	const char	*secret;	/* must never appear in a cause */
} fuzz_files[] = {
	{ "/fuzz/seed", S_IFREG | 0600,
	  "5eed5eed0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f607182935eed\n",
	  "5eed5eed0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f607182935eed" },
	{ "/fuzz/keys", S_IFREG | 0600,
	  "6b6579316b6579316b6579316b6579316b6579316b6579316b6579316b657931\n"
	  "6b6579326b6579326b6579326b6579326b6579326b6579326b6579326b657932\n"
	  "6b6579336b6579336b6579336b6579336b6579336b6579336b6579336b657933\n"
	  "6b6579346b6579346b6579346b6579346b6579346b6579346b6579346b657934",
	  "6b6579316b6579316b6579316b6579316b6579316b6579316b6579316b657931" },
	{ "/fuzz/owner", S_IFREG | 0600,
	  "0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e01\n",
	  "0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e01" },
	{ "/fuzz/whsec", S_IFREG | 0600, "whsec_FuzzSecretNeverShown\n",
	  "FuzzSecretNeverShown" },
	{ "/fuzz/conninfo", S_IFREG | 0600,
	  "host=/nonexistent dbname=fb password=FuzzPassNeverShown\n",
	  "FuzzPassNeverShown" },
	{ "/fuzz/open", S_IFREG | 0644,
	  "whsec_FuzzOpenSecretNeverShown\n", "FuzzOpenSecretNeverShown" },
	{ "/fuzz/dir", S_IFDIR | 0700, NULL, NULL },
};
#define FUZZ_NFILES	(sizeof(fuzz_files) / sizeof(fuzz_files[0]))

/* One file of the snapshot, appended to *buf (as config.c writes it). */
static void
fuzz_put(char **buf, size_t *len, const char *path, mode_t mode,
    const char *data, size_t dlen)
{
	uint64_t	hdr[3];
	size_t		n;

	hdr[0] = strlen(path);
	hdr[1] = mode;
	hdr[2] = data != NULL ? dlen + 1 : 0;
	n = *len + sizeof(hdr) + hdr[0] + dlen;
	if ((*buf = realloc(*buf, n)) == NULL)
		abort();
	memcpy(*buf + *len, hdr, sizeof(hdr));
	memcpy(*buf + *len + sizeof(hdr), path, hdr[0]);
	if (dlen > 0)
		memcpy(*buf + *len + sizeof(hdr) + hdr[0], data, dlen);
	*len = n;
}

static void
fuzz_check_loaded(const struct fb_config *c, const char *s, size_t len)
{
	FUZZ_CHECK(c->bees >= 1 && c->bees <= 256, s, len);
	FUZZ_CHECK(c->colonies_url != NULL && c->colony != NULL &&
	    c->executor_type != NULL && c->executor_prefix != NULL &&
	    c->conninfo != NULL && c->admin_path != NULL &&
	    c->log_target != NULL && c->pidfile != NULL, s, len);
	FUZZ_CHECK(c->colony[0] != '\0' && c->admin_path[0] == '/', s, len);
	FUZZ_CHECK(c->nfuncnames >= 1 && c->ntiers >= 1 &&
	    c->npremium_statuses >= 1, s, len);
	FUZZ_CHECK(c->poll_timeout >= 1 && c->lease >= 1 &&
	    c->max_depth >= 4 && c->max_payload >= 1024, s, len);
	FUZZ_CHECK(c->task_timeout_ms < (long)c->lease * 1000 &&
	    c->respawn_min_ms <= c->respawn_max_ms, s, len);
	FUZZ_CHECK(c->executor_seed_len == 0 || c->executor_seed_len == 32,
	    s, len);
	FUZZ_CHECK(c->nexecutor_keys == 0 || c->nexecutor_keys >= c->bees,
	    s, len);
	FUZZ_CHECK(config_bee_settings_differ(c, c) == 0, s, len);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fb_config	 cfg;
	const char		*s = (const char *)data;
	char			 cause[FB_CAUSE_MAX], *snap;
	size_t			 i, snaplen;
	int			 fd, rc;

	if (size > 65536 || memmem(s, size, "@include", 8) != NULL)
		return 0;
	snaplen = strlen(FUZZ_MAGIC);
	if ((snap = malloc(snaplen)) == NULL)
		abort();
	memcpy(snap, FUZZ_MAGIC, snaplen);
	fuzz_put(&snap, &snaplen, FUZZ_CONF, S_IFREG | 0600, s, size);
	for (i = 0; i < FUZZ_NFILES; i++)
		fuzz_put(&snap, &snaplen, fuzz_files[i].path,
		    fuzz_files[i].mode, fuzz_files[i].data,
		    fuzz_files[i].data != NULL ? strlen(fuzz_files[i].data) :
		    0);
	if ((fd = memfd_create("fuzz-config", MFD_CLOEXEC)) == -1 ||
	    write(fd, snap, snaplen) != (ssize_t)snaplen)
		abort();
	free(snap);
	cause[0] = '\0';
	rc = config_load_fd(FUZZ_CONF, fd, &cfg, cause, sizeof cause);
	close(fd);
	if (rc == 0) {
		fuzz_check_loaded(&cfg, s, size);
		config_free(&cfg);
		return 0;
	}
	FUZZ_CHECK(cause[0] != '\0' && strlen(cause) < sizeof cause, s, size);
	/* (Unless the text itself holds it, in a key name for instance.) */
	for (i = 0; i < FUZZ_NFILES; i++)
		FUZZ_CHECK(fuzz_files[i].secret == NULL ||
		    strstr(cause, fuzz_files[i].secret) == NULL ||
		    memmem(s, size, fuzz_files[i].secret,
		    strlen(fuzz_files[i].secret)) != NULL, s, size);
	return 0;
}
