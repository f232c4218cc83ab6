/*
 * financebeed.c: main and command-line options.  One binary plays every
 * role: the supervisor (default), a bee (--bee, re-exec'd by the master),
 * and the operator's one-shot modes (-t, --migrate, --apply, --prune).
 */
#include <sys/prctl.h>
#include <sys/resource.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "financebeed.h"

#define FB_DEFAULT_CONFIG	FB_SYSCONFDIR "/financebee.conf"

enum {
	OPT_MIGRATE = 256,
	OPT_APPLY,
	OPT_DRY_RUN,
	OPT_SIGNATURE,
	OPT_PRUNE,
	OPT_BEE,
	OPT_REGISTER,
	OPT_SETTLE,
	OPT_PROCESS,
	OPT_RETRIES,
	OPT_OUTCOME,
	OPT_QUEUE_DEPTH,
	OPT_GENERATION,
	OPT_CHANNEL_FD,
	OPT_STATUS_FD,
	OPT_CONFIG_FD,
	OPT_INTAKE,
	OPT_LISTEN_FDS,
	OPT_VERSION
};

static __dead void
usage(FILE *f, int status)
{
	fprintf(f,
	    "usage: financebeed [-dt] [-c file]\n"
	    "       financebeed [-c file] --migrate\n"
	    "       financebeed [-c file] --apply event.json [--dry-run] "
	    "[--signature header]\n"
	    "       financebeed [-c file] --prune\n"
	    "       financebeed -V | --version | -h | --help\n");
	exit(status);
}

static unsigned int
parse_uint(const char *s, const char *what)
{
	char		*end;
	unsigned long	 v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *s == '\0' || *end != '\0' || v > UINT_MAX) {
		fprintf(stderr, "financebeed: %s: not a number: %s\n", what, s);
		exit(FB_EX_USAGE);
	}
	return (unsigned int)v;
}

/*
 * Core dumps and ptrace: master, bees and helpers hold private keys,
 * webhook secrets and the database password.  Not dumpable from the first
 * instruction (execve makes a process dumpable again, so every child sets
 * it too); debug.dumpable = true turns dumps back on once the
 * configuration is read.  Secrets also live in secret_alloc() memory,
 * excluded from any dump that is made anyway.
 */
void
financebeed_dumpable(int on)
{
	struct rlimit	rl;

	if (prctl(PR_SET_DUMPABLE, on ? 1 : 0, 0, 0, 0) == -1)
		log_warn("prctl(PR_SET_DUMPABLE)");
	if (!on && getrlimit(RLIMIT_CORE, &rl) == 0 && rl.rlim_cur != 0) {
		rl.rlim_cur = 0;
		(void)setrlimit(RLIMIT_CORE, &rl);
	}
}

/*
 * -t: the checks the daemon makes at start beyond the file itself: an
 * executor identity for every slot, and a log file it can open.
 */
static int
main_check_start(const struct fb_config *cfg, char *cause, size_t causelen)
{
	struct crypto_key	key;
	char			why[FB_CAUSE_MAX / 2], dir[PATH_MAX];
	unsigned int		slot;
	int			fd;

	for (slot = 1; slot <= cfg->bees; slot++) {
		if (config_executor_key(cfg, slot, &key, why,
		    sizeof(why)) == -1) {
			snprintf(cause, causelen, "%s", why);
			return -1;
		}
		crypto_key_clear(&key);
	}
	/* A log file the daemon could open or create; -t creates nothing. */
	if (cfg->log_target != NULL && cfg->log_target[0] == '/') {
		if ((fd = open(cfg->log_target, O_WRONLY | O_APPEND |
		    O_NOCTTY | O_CLOEXEC)) != -1) {
			close(fd);
			return 0;
		}
		if (errno == ENOENT) {
			snprintf(dir, sizeof(dir), "%s", cfg->log_target);
			if (access(dirname(dir), W_OK | X_OK) == 0)
				return 0;
		}
		snprintf(cause, causelen, "%s: log.target: %s: %s", cfg->path,
		    cfg->log_target, strerror(errno));
		return -1;
	}
	return 0;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "config",	required_argument,	NULL, 'c' },
		{ "debug",	no_argument,		NULL, 'd' },
		{ "test",	no_argument,		NULL, 't' },
		{ "migrate",	no_argument,		NULL, OPT_MIGRATE },
		{ "apply",	required_argument,	NULL, OPT_APPLY },
		{ "dry-run",	no_argument,		NULL, OPT_DRY_RUN },
		{ "signature",	required_argument,	NULL, OPT_SIGNATURE },
		{ "prune",	no_argument,		NULL, OPT_PRUNE },
		{ "bee",	required_argument,	NULL, OPT_BEE },
		{ "register",	required_argument,	NULL, OPT_REGISTER },
		{ "settle",	required_argument,	NULL, OPT_SETTLE },
		{ "process",	required_argument,	NULL, OPT_PROCESS },
		{ "retries",	required_argument,	NULL, OPT_RETRIES },
		{ "outcome",	required_argument,	NULL, OPT_OUTCOME },
		{ "queue-depth", no_argument,		NULL, OPT_QUEUE_DEPTH },
		{ "generation",	required_argument,	NULL, OPT_GENERATION },
		{ "channel-fd",	required_argument,	NULL, OPT_CHANNEL_FD },
		{ "status-fd",	required_argument,	NULL, OPT_STATUS_FD },
		{ "config-fd",	required_argument,	NULL, OPT_CONFIG_FD },
		{ "intake",	required_argument,	NULL, OPT_INTAKE },
		{ "listen-fds",	required_argument,	NULL, OPT_LISTEN_FDS },
		{ "version",	no_argument,		NULL, OPT_VERSION },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL,		0,			NULL, 0 }
	};
	struct fb_config	 cfg;
	const char		*cfgpath = FB_DEFAULT_CONFIG;
	const char		*applyfile = NULL, *sighdr = NULL;
	const char		*processid = NULL;
	char			 cause[FB_CAUSE_MAX];
	int			 ch, test = 0, migrate = 0, prune = 0;
	int			 dry_run = 0, debug = 0, bee = 0, reg = 0, rc;
	int			 settle = 0, retries = -1, outcome = -1;
	int			 qd = 0;
	unsigned int		 slot = 0, generation = 0, chanfd = 3;
	int			 statusfd = -1, cfgfd = -1, intake = 0;
	int			 lfds[LISTEN_MAXFDS];
	unsigned int		 nlfds = 0, i;

	/*
	 * A child the master re-executed (bee, registrar, prune) shows its
	 * role in ps(1): its argv memory becomes its title.
	 */
	for (ch = 1; ch < argc; ch++) {
		if (strcmp(argv[ch], "--bee") == 0 ||
		    strcmp(argv[ch], "--register") == 0 ||
		    strcmp(argv[ch], "--config-fd") == 0) {
			argv = proc_title_init(argc, argv);
			break;
		}
	}
	while ((ch = getopt_long(argc, argv, "c:dhtV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			cfgpath = optarg;
			break;
		case 'd':
			debug = 1;
			break;
		case 't':
			test = 1;
			break;
		case OPT_MIGRATE:
			migrate = 1;
			break;
		case OPT_APPLY:
			applyfile = optarg;
			break;
		case OPT_DRY_RUN:
			dry_run = 1;
			break;
		case OPT_SIGNATURE:
			sighdr = optarg;
			break;
		case OPT_PRUNE:
			prune = 1;
			break;
		case OPT_BEE:
			bee = 1;
			slot = parse_uint(optarg, "--bee");
			break;
		case OPT_REGISTER:
			reg = 1;
			slot = parse_uint(optarg, "--register");
			break;
		case OPT_SETTLE:
			settle = 1;
			slot = parse_uint(optarg, "--settle");
			break;
		case OPT_PROCESS:
			processid = optarg;
			break;
		case OPT_RETRIES:
			retries = (int)parse_uint(optarg, "--retries");
			break;
		case OPT_OUTCOME:
			for (outcome = 0; outcome < OUTCOME_TRANSIENT;
			    outcome++)
				if (strcmp(optarg, store_outcome_str(
				    (enum store_outcome)outcome)) == 0)
					break;
			if (outcome == OUTCOME_TRANSIENT)
				usage(stderr, FB_EX_USAGE);
			break;
		case OPT_QUEUE_DEPTH:
			qd = 1;
			break;
		case OPT_GENERATION:
			generation = parse_uint(optarg, "--generation");
			break;
		case OPT_CHANNEL_FD:
			chanfd = parse_uint(optarg, "--channel-fd");
			break;
		case OPT_STATUS_FD:
			statusfd = (int)parse_uint(optarg, "--status-fd");
			break;
		case OPT_CONFIG_FD:
			cfgfd = (int)parse_uint(optarg, "--config-fd");
			break;
		case OPT_INTAKE:
			intake = 1;
			slot = parse_uint(optarg, "--intake");
			break;
		case OPT_LISTEN_FDS:
			nlfds = parse_uint(optarg, "--listen-fds");
			if (nlfds > LISTEN_MAXFDS)
				usage(stderr, FB_EX_USAGE);
			break;
		case 'V':
		case OPT_VERSION:
			printf("financebeed %s (schema %d)\n", PACKAGE_VERSION,
			    FB_SCHEMA_VERSION);
			return FB_EX_OK;
		case 'h':
			usage(stdout, FB_EX_OK);
		default:
			usage(stderr, FB_EX_USAGE);
		}
	}
	if (optind != argc)
		usage(stderr, FB_EX_USAGE);
	if (test + migrate + prune + (applyfile != NULL) + bee + reg +
	    intake + settle + qd > 1)
		usage(stderr, FB_EX_USAGE);
	if ((!settle && (retries != -1 || outcome != -1)) ||
	    settle != (processid != NULL) || (processid != NULL &&
	    (strlen(processid) != CRYPTO_ID_HEXLEN ||
	    strspn(processid, "0123456789abcdef") != CRYPTO_ID_HEXLEN)))
		usage(stderr, FB_EX_USAGE);
	if ((dry_run || sighdr != NULL) && applyfile == NULL)
		usage(stderr, FB_EX_USAGE);
	/* Internal: a snapshot fd only for the children the master starts. */
	if ((cfgfd >= 0 && !bee && !reg && !prune && !intake && !settle &&
	    !qd) || (nlfds > 0 && !intake))
		usage(stderr, FB_EX_USAGE);

	financebeed_dumpable(0);
	/* No-ops unless proc_title_init() ran: the master's children. */
	if (reg)
		proc_title("registrar %u", slot);
	else if (prune)
		proc_title("prune");

	signal(SIGPIPE, SIG_IGN);
	(void)log_init(bee ? "bee" : intake ? "intake" : reg ? "registrar" :
	    settle ? "settle" : qd ? "queue" : (test || migrate ||
	    prune || applyfile != NULL) ? "financebeed" : "master",
	    debug ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO, "stderr", cause,
	    sizeof(cause));
	if (crypto_init() == -1) {
		fprintf(stderr, "financebeed: cannot initialise crypto\n");
		return FB_EX_SOFTWARE;
	}

	memset(&cfg, 0, sizeof(cfg));
	if (intake) {
		/* Inherited from the master as fds 6, 7, ... (proc.c). */
		for (i = 0; i < nlfds; i++)
			lfds[i] = PROC_LISTENFD + (int)i;
		/* Started by hand: no channel. */
		if (fcntl((int)chanfd, F_GETFD) == -1)
			return intake_main(cfgpath, slot, generation, -1,
			    statusfd, cfgfd, lfds, nlfds);
		return intake_main(cfgpath, slot, generation, (int)chanfd,
		    statusfd, cfgfd, lfds, nlfds);
	}
	if (bee)
		return bee_main(cfgpath, slot, generation, (int)chanfd,
		    statusfd, cfgfd);

	/*
	 * The master keeps what it read, for its children (config_load_fd);
	 * a child the master starts (--register, --prune) reads that.
	 */
	if ((cfgfd >= 0 ? config_load_fd(cfgpath, cfgfd, &cfg, cause,
	    sizeof(cause)) : test || migrate || prune || reg || settle || qd ||
	    applyfile != NULL ? config_load(cfgpath, &cfg, cause,
	    sizeof(cause)) : config_load_snapshot(cfgpath, &cfg, &cfgfd, cause,
	    sizeof(cause))) == -1) {
		fprintf(stderr, "financebeed: %s\n", cause);
		return FB_EX_CONFIG;
	}
	if (cfg.dumpable)
		financebeed_dumpable(1);
	if (reg || prune || settle || qd) {
		if (cfgfd >= 0)
			close(cfgfd);
		cfgfd = -1;
	}
	if (test) {
		/* What the master checks before it starts a bee. */
		if (main_check_start(&cfg, cause, sizeof(cause)) == -1) {
			fprintf(stderr, "financebeed: %s\n", cause);
			config_free(&cfg);
			return FB_EX_CONFIG;
		}
		fprintf(stderr, "financebeed: configuration OK: %s\n", cfgpath);
		config_free(&cfg);
		return FB_EX_OK;
	}
	if (reg) {
		log_procname("registrar[%u]", slot);
		rc = log_init(NULL, cfg.log_level, cfg.log_target, cause,
		    sizeof(cause)) == -1 ? FB_EX_CONFIG :
		    registrar_main(&cfg, slot);
	} else if (settle) {
		log_procname("settle[%u]", slot);
		rc = log_init(NULL, cfg.log_level, cfg.log_target, cause,
		    sizeof(cause)) == -1 ? FB_EX_CONFIG :
		    settle_main(&cfg, slot, processid, retries,
		    outcome);
	} else if (qd) {
		log_procname("queue");
		rc = log_init(NULL, cfg.log_level, cfg.log_target, cause,
		    sizeof(cause)) == -1 ? FB_EX_CONFIG :
		    queue_main(&cfg, (int)chanfd);
	} else if (migrate)
		rc = oneshot_migrate(&cfg);
	else if (applyfile != NULL)
		rc = oneshot_apply(&cfg, applyfile, dry_run, sighdr);
	else if (prune) {
		rc = oneshot_prune(&cfg);
	}
	else {
		if (debug)
			cfg.log_level = LOG_LEVEL_DEBUG;
		/* Until the pool is up (master.c turns it off). */
		log_stderr_mirror(1);
		rc = master_main(cfgpath, &cfg, cfgfd, debug);
	}
	config_free(&cfg);
	return rc;
}
