/*
 * financebeed.c: main and command-line options.  One binary plays every
 * role: the supervisor (default), a bee (--bee, re-exec'd by the master),
 * and the operator's one-shot modes (-t, --migrate, --apply, --prune).
 */
#include <errno.h>
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
	OPT_QUEUE_DEPTH,
	OPT_GENERATION,
	OPT_CHANNEL_FD,
	OPT_STATUS_FD,
	OPT_CONFIG_FD,
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
	    "       financebeed --version\n");
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
		{ "queue-depth", no_argument,		NULL, OPT_QUEUE_DEPTH },
		{ "generation",	required_argument,	NULL, OPT_GENERATION },
		{ "channel-fd",	required_argument,	NULL, OPT_CHANNEL_FD },
		{ "status-fd",	required_argument,	NULL, OPT_STATUS_FD },
		{ "config-fd",	required_argument,	NULL, OPT_CONFIG_FD },
		{ "version",	no_argument,		NULL, OPT_VERSION },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL,		0,			NULL, 0 }
	};
	struct fb_config	 cfg;
	const char		*cfgpath = FB_DEFAULT_CONFIG;
	const char		*applyfile = NULL, *sighdr = NULL;
	char			 cause[FB_CAUSE_MAX];
	int			 ch, test = 0, migrate = 0, prune = 0;
	int			 dry_run = 0, debug = 0, bee = 0, reg = 0, rc;
	int			 qd = 0;
	unsigned int		 slot = 0, generation = 0, chanfd = 3;
	int			 statusfd = -1, cfgfd = -1;

	while ((ch = getopt_long(argc, argv, "c:dht", longopts, NULL)) != -1) {
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
	if (test + migrate + prune + (applyfile != NULL) + bee + reg + qd > 1)
		usage(stderr, FB_EX_USAGE);
	if ((dry_run || sighdr != NULL) && applyfile == NULL)
		usage(stderr, FB_EX_USAGE);
	/* Internal: a snapshot fd only for the children the master starts. */
	if (cfgfd >= 0 && !bee && !reg && !prune && !qd)
		usage(stderr, FB_EX_USAGE);

	signal(SIGPIPE, SIG_IGN);
	(void)log_init(bee ? "bee" : reg ? "registrar" : qd ? "queue" : (test || migrate ||
	    prune || applyfile != NULL) ? "financebeed" : "master",
	    debug ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO, "stderr", cause,
	    sizeof(cause));
	if (crypto_init() == -1) {
		fprintf(stderr, "financebeed: cannot initialise crypto\n");
		return FB_EX_SOFTWARE;
	}

	memset(&cfg, 0, sizeof(cfg));
	if (bee)
		return bee_main(cfgpath, slot, generation, (int)chanfd,
		    statusfd, cfgfd);

	/*
	 * The master keeps what it read, for its children (config_load_fd);
	 * a child the master starts (--register, --prune) reads that.
	 */
	if ((cfgfd >= 0 ? config_load_fd(cfgpath, cfgfd, &cfg, cause,
	    sizeof(cause)) : test || migrate || prune || reg || qd ||
	    applyfile != NULL ? config_load(cfgpath, &cfg, cause,
	    sizeof(cause)) : config_load_snapshot(cfgpath, &cfg, &cfgfd, cause,
	    sizeof(cause))) == -1) {
		fprintf(stderr, "financebeed: %s\n", cause);
		return FB_EX_CONFIG;
	}
	if (reg || prune || qd) {
		if (cfgfd >= 0)
			close(cfgfd);
		cfgfd = -1;
	}
	if (test) {
		fprintf(stderr, "financebeed: configuration OK: %s\n", cfgpath);
		config_free(&cfg);
		return FB_EX_OK;
	}
	if (reg) {
		log_procname("registrar[%u]", slot);
		rc = log_init(NULL, cfg.log_level, cfg.log_target, cause,
		    sizeof(cause)) == -1 ? FB_EX_CONFIG :
		    registrar_main(&cfg, slot);
	} else if (qd) {
		log_procname("queue");
		rc = log_init(NULL, cfg.log_level, cfg.log_target, cause,
		    sizeof(cause)) == -1 ? FB_EX_CONFIG :
		    queue_main(&cfg, (int)chanfd);
	} else if (migrate)
		rc = oneshot_migrate(&cfg);
	else if (applyfile != NULL)
		rc = oneshot_apply(&cfg, applyfile, dry_run, sighdr);
	else if (prune)
		rc = oneshot_prune(&cfg);
	else {
		if (debug)
			cfg.log_level = LOG_LEVEL_DEBUG;
		rc = master_main(cfgpath, &cfg, cfgfd, debug);
	}
	config_free(&cfg);
	return rc;
}
