/*
 * test-config.c: unit tests of config.c (TAP).
 *
 *   test-config		run the tests
 *   test-config keys	print the key table, one name a line (docs check)
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "financebeed.h"
#include "tap.h"

static char	tmpdir[256];

static void	writefile(const char *, mode_t, const char *, ...)
		    __attribute__((__format__(__printf__, 3, 4)));

static const char *
tpath(const char *name)
{
	static char	buf[4][512];
	static int	i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", tmpdir, name);
	return buf[i];
}

static void
writefile(const char *name, mode_t mode, const char *fmt, ...)
{
	va_list		 ap;
	FILE		*f;
	const char	*p = tpath(name);

	unlink(p);
	if ((f = fopen(p, "w")) == NULL) {
		perror(p);
		exit(1);
	}
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fclose(f);
	chmod(p, mode);
}

static int
load(const char *name, struct fb_config *cfg, char *cause, size_t len)
{
	return config_load(tpath(name), cfg, cause, len);
}

static int
iszero(const void *p, size_t len)
{
	const unsigned char	*c = p;
	size_t			 i;

	for (i = 0; i < len; i++)
		if (c[i] != 0)
			return 0;
	return 1;
}

#define SEED1	"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define SEED2	"1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100"
#define KEY1	"fcc79953d8a751bf41db661592dc34d30004b1a651ffa0725b03ac227641499d"
#define KEY2	"ddf7f7791208083b6a9ed975a72684f6406a269cfa36f1b1c32045c0a71fff05"
#define WHSEC	"whsec_unit_test_secret_4711"

static void
test_defaults(void)
{
	struct fb_config	cfg;
	char			cause[FB_CAUSE_MAX];
	int			rc;

	writefile("empty.conf", 0644, "# nothing\n");
	rc = load("empty.conf", &cfg, cause, sizeof(cause));
	ok(rc == 0, "an empty file loads (%s)", rc == 0 ? "ok" : cause);
	if (rc != 0)
		return;
	ok(cfg.bees == 4, "bees defaults to 4");
	ok(strcmp(cfg.colonies_url, "http://127.0.0.1:50080/api") == 0,
	    "colonies.url default");
	{
		char	host[256], want[300];

		gethostname(host, sizeof(host));
		host[sizeof(host) - 1] = '\0';
		host[strcspn(host, ".")] = '\0';
		snprintf(want, sizeof(want), "financebee-%s", host);
		ok(strcmp(cfg.colony, "financebee") == 0 &&
		    strcmp(cfg.executor_type, "financebee") == 0 &&
		    strcmp(cfg.executor_prefix, want) == 0 &&
		    strcmp(cfg.executor_host, host) == 0,
		    "colony, executor_type default to financebee, executor "
		    "names to financebee-<host name> (%s)",
		    cfg.executor_prefix);
	}
	ok(cfg.nfuncnames == 1 && strcmp(cfg.funcnames[0],
	    "validate_revenue") == 0 && cfg.funcnames[1] == NULL,
	    "funcnames default [validate_revenue], NULL-terminated");
	ok(cfg.poll_timeout == 10 && cfg.lease == 30,
	    "poll_timeout 10 s, lease 30 s");
	ok(cfg.http_connect_timeout_ms == 5000 && cfg.http_timeout_ms == 15000,
	    "HTTP timeouts 5000/15000 ms");
	ok(cfg.conninfo != NULL && cfg.conninfo[0] == '\0',
	    "absent conninfo is \"\" (libpq environment)");
	ok(cfg.db_connect_timeout == 5 && cfg.db_statement_timeout_ms == 5000,
	    "database timeouts 5 s / 5000 ms");
	ok(cfg.prune_age_days == 35 && cfg.prune_interval_ms == 3600000,
	    "prune 35 days every 3600000 ms");
	ok(cfg.livemode == 0 && cfg.nwebhook_secrets == 0 &&
	    cfg.signature_tolerance == 300, "stripe livemode, secrets, "
	    "tolerance defaults");
	ok(cfg.ntiers == 3 && strcmp(cfg.tiers[0], "bronze") == 0 &&
	    strcmp(cfg.tiers[2], "gold") == 0, "tiers bronze..gold");
	ok(cfg.npremium_statuses == 2 && strcmp(cfg.premium_statuses[0],
	    "active") == 0 && strcmp(cfg.premium_statuses[1], "trialing") == 0,
	    "premium_statuses active, trialing");
	ok(cfg.nprices == 0, "no prices");
	ok(cfg.max_payload == 1048576 && cfg.max_depth == 64,
	    "guardian defaults");
	ok(cfg.respawn_min_ms == 500 && cfg.respawn_max_ms == 30000 &&
	    cfg.healthy_after_ms == 30000 && cfg.crash_window_ms == 60000 &&
	    cfg.crash_limit == 5 && cfg.shutdown_timeout_ms == 30000 &&
	    cfg.task_timeout_ms == 20000 && cfg.heartbeat_timeout_ms == 15000 &&
	    cfg.tasks_per_bee == 0, "supervision defaults");
	ok(strcmp(cfg.admin_path, "/run/financebee/financebeed.sock") == 0 &&
	    cfg.admin_mode == 0660 && cfg.nadmin_groups == 0 &&
	    cfg.nreadonly_groups == 0, "admin defaults");
	ok(cfg.log_level == LOG_LEVEL_INFO && strcmp(cfg.log_target,
	    "stderr") == 0 && cfg.metrics_interval_ms == 1000,
	    "log and metrics defaults");
	ok(cfg.executor_seed == NULL && cfg.executor_keys == NULL &&
	    cfg.owner_key == NULL, "no identity by default");
	ok(cfg.pidfile != NULL && cfg.pidfile[0] == '\0', "no pidfile");
	ok(strcmp(cfg.path, tpath("empty.conf")) == 0, "path recorded");
	config_free(&cfg);
	ok(iszero(&cfg, sizeof(cfg)), "config_free zeroes the struct");
}

static void
test_values(void)
{
	struct fb_config	cfg;
	char			cause[FB_CAUSE_MAX];
	int			rc;

	writefile("v.conf", 0600,
	    "bees = 7;\n"
	    "supervision: { respawn_min = 0.25; respawn_max = 2; "
	    "task_timeout = 1.5; };\n"
	    "admin: { mode = \"0600\"; groups = [ \"daemon\" ]; };\n"
	    "log: { level = \"debug\"; };\n"
	    "stripe: { tiers = [ \"basic\", \"pro\" ];\n"
	    "  prices = ( { price = \"price_a\"; tier = \"pro\"; },\n"
	    "             { price = \"price_b\"; tier = \"basic\"; } );\n"
	    "  webhook_secrets = [ \"" WHSEC "\" ]; };\n"
	    "database: { conninfo = \"host=/tmp password=hunter2\"; };\n");
	rc = load("v.conf", &cfg, cause, sizeof(cause));
	ok(rc == 0, "values load (%s)", rc == 0 ? "ok" : cause);
	if (rc != 0)
		return;
	ok(cfg.bees == 7, "bees = 7");
	ok(cfg.respawn_min_ms == 250 && cfg.respawn_max_ms == 2000 &&
	    cfg.task_timeout_ms == 1500, "float seconds become ms");
	ok(cfg.admin_mode == 0600 && cfg.nadmin_groups == 1 &&
	    strcmp(cfg.admin_groups[0], "daemon") == 0, "admin mode and groups");
	ok(cfg.log_level == LOG_LEVEL_DEBUG, "log level debug");
	ok(cfg.nprices == 2 && strcmp(cfg.prices[0].price, "price_a") == 0 &&
	    strcmp(cfg.prices[0].tier, "pro") == 0 &&
	    strcmp(cfg.prices[1].tier, "basic") == 0, "price map");
	ok(cfg.nwebhook_secrets == 1 && strcmp(cfg.webhook_secrets[0],
	    WHSEC) == 0, "inline webhook secret kept");
	ok(strcmp(cfg.conninfo, "host=/tmp password=hunter2") == 0,
	    "inline conninfo in a 0600 file");
	config_free(&cfg);
}

static void
test_failure_zeroed(void)
{
	struct fb_config	cfg;
	char			cause[FB_CAUSE_MAX];

	/* Fails late, after lists and strings have been allocated. */
	writefile("late.conf", 0644,
	    "stripe: { tiers = [ \"a\" ]; prices = ( { price = \"p\"; "
	    "tier = \"zzz\"; } ); };\n");
	memset(&cfg, 0xa5, sizeof(cfg));
	ok(load("late.conf", &cfg, cause, sizeof(cause)) == -1,
	    "unknown tier in prices fails");
	ok(strstr(cause, "late.conf:1: stripe.prices[0]") != NULL,
	    "cause names file:line and key (%s)", cause);
	ok(iszero(&cfg, sizeof(cfg)), "failed load leaves the struct zeroed");
}

static void
test_secret_not_in_cause(void)
{
	struct fb_config	cfg;
	char			cause[FB_CAUSE_MAX];

	writefile("whsec", 0644, "%s\n", WHSEC);
	writefile("s.conf", 0600, "stripe: { webhook_secrets = [ \"%s\" ]; };\n",
	    tpath("whsec"));
	ok(load("s.conf", &cfg, cause, sizeof(cause)) == -1,
	    "group-readable secret file refused");
	ok(strstr(cause, "chmod 600") != NULL && strstr(cause, WHSEC) == NULL,
	    "cause says chmod 600, never the secret (%s)", cause);
	writefile("s2.conf", 0600,
	    "stripe: { webhook_secrets = [ \"whsec\" ]; };\n");
	ok(load("s2.conf", &cfg, cause, sizeof(cause)) == -1 &&
	    strstr(cause, "whsec_ secret or") != NULL,
	    "malformed inline secret refused (%s)", cause);
	writefile("s3.conf", 0600,
	    "database: { conninfo = \"host='/tmp password=hunter2\"; };\n");
	ok(load("s3.conf", &cfg, cause, sizeof(cause)) == -1 &&
	    strstr(cause, "hunter2") == NULL && strstr(cause,
	    "database.conninfo") != NULL,
	    "bad conninfo refused without quoting it (%s)", cause);
}

static void
test_differ(void)
{
	struct fb_config	a, b;
	char			cause[FB_CAUSE_MAX];
#define BASE	"colonies: { executor_seed_file = \"%s\"; };\n" \
		"stripe: { webhook_secrets = [ \"%s\" ]; };\n"

	writefile("seed", 0600, SEED1 "\n");
	writefile("whsec", 0600, WHSEC "\n");
	writefile("d1.conf", 0644, BASE, tpath("seed"), tpath("whsec"));
	if (load("d1.conf", &a, cause, sizeof(cause)) == -1) {
		ok(0, "d1.conf loads: %s", cause);
		return;
	}
	writefile("d2.conf", 0644, "bees = 9; admin: { mode = \"0600\"; };\n"
	    "supervision: { respawn_max = 5; };\n"
	    "colonies: { executor_seed_file = \"%s\"; };\n"
	    "stripe: { webhook_secrets = [ \"%s\" ]; };\n",
	    tpath("seed"), tpath("whsec"));
	if (load("d2.conf", &b, cause, sizeof(cause)) == 0) {
		ok(config_bee_settings_differ(&a, &b) == 0,
		    "bees, admin, supervision changes keep the bees");
		config_free(&b);
	} else
		ok(0, "d2.conf loads: %s", cause);
	if (load("d1.conf", &b, cause, sizeof(cause)) == 0) {
		ok(config_bee_settings_differ(&a, &b) == 0,
		    "same file: no difference");
		config_free(&b);
	} else
		ok(0, "d1.conf loads again: %s", cause);

	writefile("whsec", 0600, WHSEC "x\n");
	if (load("d1.conf", &b, cause, sizeof(cause)) == 0) {
		ok(config_bee_settings_differ(&a, &b) == 1,
		    "a rotated webhook secret replaces the bees");
		config_free(&b);
	} else
		ok(0, "d1.conf loads: %s", cause);
	writefile("whsec", 0600, WHSEC "\n");

	writefile("seed", 0600, SEED2 "\n");
	if (load("d1.conf", &b, cause, sizeof(cause)) == 0) {
		ok(config_bee_settings_differ(&a, &b) == 1,
		    "a new executor seed replaces the bees");
		config_free(&b);
	} else
		ok(0, "d1.conf loads: %s", cause);
	writefile("seed", 0600, SEED1 "\n");

	writefile("d3.conf", 0644, "log: { level = \"debug\"; };\n"
	    "colonies: { executor_seed_file = \"%s\"; };\n"
	    "stripe: { webhook_secrets = [ \"%s\" ]; };\n",
	    tpath("seed"), tpath("whsec"));
	if (load("d3.conf", &b, cause, sizeof(cause)) == 0) {
		ok(config_bee_settings_differ(&a, &b) == 1,
		    "a log level change replaces the bees");
		config_free(&b);
	} else
		ok(0, "d3.conf loads: %s", cause);

	writefile("d4.conf", 0644,
	    "stripe: { prices = ( { price = \"p1\"; tier = \"gold\"; } );\n"
	    "  webhook_secrets = [ \"%s\" ]; };\n"
	    "colonies: { executor_seed_file = \"%s\"; };\n",
	    tpath("whsec"), tpath("seed"));
	if (load("d4.conf", &b, cause, sizeof(cause)) == 0) {
		ok(config_bee_settings_differ(&a, &b) == 1 &&
		    config_bee_settings_differ(&b, &a) == 1,
		    "a price map change replaces the bees");
		config_free(&b);
	} else
		ok(0, "d4.conf loads: %s", cause);
	config_free(&a);
}

static void
test_executor_key(int have_crypto)
{
	struct fb_config	cfg;
	struct crypto_key	k1, k2, k3;
	char			cause[FB_CAUSE_MAX];
	int			rc;

	writefile("seed", 0600, SEED1 "\n");
	writefile("k1.conf", 0644,
	    "colonies: { executor_seed_file = \"%s\"; };\n", tpath("seed"));
	rc = load("k1.conf", &cfg, cause, sizeof(cause));
	ok(rc == 0, "seed config loads (%s)", rc == 0 ? "ok" : cause);
	if (rc == 0) {
		ok(cfg.executor_seed_len == 32 && cfg.executor_seed[0] == 0 &&
		    cfg.executor_seed[31] == 0x1f, "seed decoded to 32 bytes");
		if (have_crypto) {
			ok(config_executor_key(&cfg, 1, &k1, cause,
			    sizeof(cause)) == 0 && config_executor_key(&cfg, 2,
			    &k2, cause, sizeof(cause)) == 0 &&
			    config_executor_key(&cfg, 1, &k3, cause,
			    sizeof(cause)) == 0, "slots 1 and 2 derive keys");
			ok(strcmp(k1.id, k2.id) != 0 &&
			    strcmp(k1.id, k3.id) == 0,
			    "per-slot keys differ and are deterministic");
		}
		ok(config_executor_key(&cfg, 0, &k1, cause,
		    sizeof(cause)) == -1, "slot 0 is refused");
		config_free(&cfg);
	}

	/* Two hosts, one configuration: other names, other keys. */
	writefile("h1.conf", 0644, "colonies: { executor_seed_file = \"%s\"; "
	    "executor_host = \"hive-a\"; };\n", tpath("seed"));
	writefile("h2.conf", 0644, "colonies: { executor_seed_file = \"%s\"; "
	    "executor_host = \"hive-b\"; };\n", tpath("seed"));
	writefile("h0.conf", 0644, "colonies: { executor_seed_file = \"%s\"; "
	    "executor_host = \"-\"; };\n", tpath("seed"));
	if (have_crypto && load("h1.conf", &cfg, cause, sizeof(cause)) == 0) {
		ok(strcmp(cfg.executor_prefix, "financebee-hive-a") == 0,
		    "executor_host joins the prefix (%s)", cfg.executor_prefix);
		rc = config_executor_key(&cfg, 1, &k1, cause, sizeof(cause));
		config_free(&cfg);
		if (rc == 0 && load("h2.conf", &cfg, cause,
		    sizeof(cause)) == 0) {
			rc = config_executor_key(&cfg, 1, &k2, cause,
			    sizeof(cause));
			ok(rc == 0 && strcmp(k1.id, k2.id) != 0,
			    "another host's slot 1 has another key");
			config_free(&cfg);
		} else
			ok(0, "h2.conf: %s", cause);
		if (load("h0.conf", &cfg, cause, sizeof(cause)) == 0) {
			rc = config_executor_key(&cfg, 1, &k2, cause,
			    sizeof(cause));
			if (rc == 0)
				rc = crypto_key_derive(&k3, cfg.executor_seed,
				    cfg.executor_seed_len,
				    "financebee-executor", 1, cause,
				    sizeof(cause));
			ok(strcmp(cfg.executor_prefix, "financebee") == 0 &&
			    rc == 0 && strcmp(k2.id, k3.id) == 0,
			    "executor_host \"-\": the names and keys without "
			    "a host part");
			config_free(&cfg);
		} else
			ok(0, "h0.conf: %s", cause);
	} else if (have_crypto)
		ok(0, "h1.conf: %s", cause);
	writefile("h3.conf", 0644, "colonies: { executor_host = \"a.b\"; };\n");
	ok(load("h3.conf", &cfg, cause, sizeof(cause)) == -1 &&
	    strstr(cause, "colonies.executor_host") != NULL,
	    "a dot in executor_host is refused (%s)", cause);

	writefile("keys", 0600, KEY1 "\n" KEY2 "\n");
	writefile("k2.conf", 0644, "bees = 2;\n"
	    "colonies: { executor_keys_file = \"%s\"; };\n", tpath("keys"));
	rc = load("k2.conf", &cfg, cause, sizeof(cause));
	ok(rc == 0, "keys file config loads (%s)", rc == 0 ? "ok" : cause);
	if (rc == 0) {
		ok(cfg.nexecutor_keys == 2 && strcmp(cfg.executor_keys[1],
		    KEY2) == 0, "two keys read, line N = slot N");
		if (have_crypto) {
			rc = config_executor_key(&cfg, 1, &k1, cause,
			    sizeof(cause));
			ok(rc == 0 && memcmp(k1.seckey, "\xfc\xc7\x99\x53",
			    4) == 0, "slot 1 is line 1");
		}
		rc = config_executor_key(&cfg, 3, &k1, cause, sizeof(cause));
		ok(rc == -1 && strstr(cause, "slot 3") != NULL &&
		    strstr(cause, KEY1) == NULL, "slot 3 has no key (%s)",
		    cause);
		config_free(&cfg);
	}
	writefile("k3.conf", 0644, "bees = 3;\n"
	    "colonies: { executor_keys_file = \"%s\"; };\n", tpath("keys"));
	ok(load("k3.conf", &cfg, cause, sizeof(cause)) == -1 &&
	    strstr(cause, "holds 2 keys but bees = 3") != NULL,
	    "fewer keys than bees is refused (%s)", cause);

	writefile("k4.conf", 0644, "bees = 1;\n");
	rc = load("k4.conf", &cfg, cause, sizeof(cause));
	ok(rc == 0, "a config without identity loads (for --migrate etc.)");
	if (rc == 0) {
		ok(config_executor_key(&cfg, 1, &k1, cause,
		    sizeof(cause)) == -1 && strstr(cause,
		    "executor_seed_file") != NULL,
		    "but config_executor_key says what is missing (%s)",
		    cause);
		config_free(&cfg);
	}
}

static void
test_table(void)
{
	size_t		i, j, n = config_nkeys();
	int		uniq = 1;

	ok(n > 40, "key table has %zu keys", n);
	for (i = 0; i < n; i++)
		for (j = 0; j < i; j++)
			if (strcmp(config_key_name(i), config_key_name(j)) == 0)
				uniq = 0;
	ok(uniq, "key names are unique");
	ok(config_key_name(n) == NULL, "past the end is NULL");
}

/*
 * The master's snapshot: a bee loading from it gets what the master read
 * (the file and its secret files), whatever they hold now; a snapshot fd
 * that is not one is an error, not a crash.
 */
static void
test_snapshot(void)
{
	struct fb_config	a, b;
	char			cause[FB_CAUSE_MAX];
	int			fd = -1, junk;

	writefile("snap.seed", 0600, "%s\n", SEED1);
	writefile("snap.whsec", 0600, "%s\n", WHSEC);
	writefile("snap.conf", 0600, "bees = 3;\ncolonies: { "
	    "executor_seed_file = \"%s\"; colony = \"before\"; };\n"
	    "stripe: { webhook_secrets = [ \"%s\" ]; };\n",
	    tpath("snap.seed"), tpath("snap.whsec"));
	ok(config_load_snapshot(tpath("snap.conf"), &a, &fd, cause,
	    sizeof(cause)) == 0 && fd >= 0, "load with a snapshot");
	ok(fd >= 0 && fcntl(fd, F_GETFD) == FD_CLOEXEC &&
	    (fcntl(fd, F_GET_SEALS) & F_SEAL_WRITE) != 0,
	    "the snapshot is CLOEXEC and sealed");

	/* Everything changes on disk; the file even breaks. */
	writefile("snap.seed", 0600, "%s\n", SEED2);
	writefile("snap.whsec", 0644, "whsec_other\n");
	writefile("snap.conf", 0600, "bees = ;\n");
	ok(load("snap.conf", &b, cause, sizeof(cause)) == -1,
	    "the file on disk is broken now");
	ok(config_load_fd(tpath("snap.conf"), fd, &b, cause,
	    sizeof(cause)) == 0, "a bee's load from the snapshot");
	ok(b.bees == 3 && strcmp(b.colony, "before") == 0 &&
	    b.executor_seed_len == 32 && b.executor_seed[1] == 0x01 &&
	    b.nwebhook_secrets == 1 &&
	    strcmp(b.webhook_secrets[0], WHSEC) == 0,
	    "it has the file and secret files as the master read them");
	ok(!config_bee_settings_differ(&a, &b), "the same bee settings as the "
	    "master's");
	config_free(&b);
	ok(config_load_fd(tpath("snap.conf"), fd, &b, cause,
	    sizeof(cause)) == 0 && b.bees == 3, "and again, for the next bee");
	config_free(&b);
	config_free(&a);
	if (fd >= 0)
		close(fd);

	junk = open(tpath("snap.whsec"), O_RDONLY);
	ok(config_load_fd(tpath("snap.conf"), junk, &b, cause,
	    sizeof(cause)) == -1 && strstr(cause, "snapshot") != NULL &&
	    strstr(cause, "whsec_other") == NULL,
	    "a descriptor that is no snapshot is refused (%s)", cause);
	if (junk >= 0)
		close(junk);
	ok(config_load_fd(tpath("snap.conf"), 999, &b, cause,
	    sizeof(cause)) == -1, "so is a closed one");
}

int
main(int argc, char *argv[])
{
	size_t		 i;
	char		 cmd[600];
	int		 have_crypto;

	if (argc == 2 && strcmp(argv[1], "keys") == 0) {
		for (i = 0; i < config_nkeys(); i++)
			printf("%s\n", config_key_name(i));
		return 0;
	}
	snprintf(tmpdir, sizeof(tmpdir), "%s/fbconfig.XXXXXX",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	have_crypto = crypto_init() == 0;
	if (!have_crypto)
		printf("# crypto_init failed: key derivation not tested\n");

	test_table();
	test_defaults();
	test_values();
	test_failure_zeroed();
	test_secret_not_in_cause();
	test_differ();
	test_executor_key(have_crypto);
	test_snapshot();

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", tmpdir);
	return tap_done();
}
