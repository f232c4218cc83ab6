/*
 * minicolonies-cli.c: the minicolonies client, the driver for tests, the
 * demo and benchmarks: options, usage, keys, and the commands that speak
 * HTTP themselves (stats, dump, wait, sign, raw); those that go through
 * the C ColonyOS client are in minicolonies-cli-cmd.c.  Private keys come
 * from files or environment variables, never from the command line.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "colonies.h"
#include "minicolonies.h"

enum {
	O_URL = 256, O_KEYFILE, O_KEYENV, O_SERVERKEYFILE, O_SERVERKEYENV,
	O_OWNERKEYFILE, O_OWNERKEYENV, O_EXKEYFILE, O_EXKEYENV,
	O_SUBKEYFILE, O_SUBKEYENV, O_NAME, O_COLONY, O_TYPE, O_ID, O_APPROVE,
	O_FUNCNAME, O_MAXEXEC, O_MAXRETRIES, O_MAXWAIT, O_PRIORITY, O_KWARGS,
	O_NAMES, O_STDINLINES, O_STATE, O_COUNT, O_TIMEOUT, O_OUT, O_ERROR,
	O_PAYLOADTYPE, O_JSON, O_RAW, O_FULL, O_SUBNAME, O_SUBTYPE, O_LABEL,
	O_MESSAGE, O_BODYFILE, O_OUTFILE, O_HELP
};

static const struct option cli_opts[] = {
	{ "url", required_argument, NULL, O_URL },
	{ "key-file", required_argument, NULL, O_KEYFILE },
	{ "key-env", required_argument, NULL, O_KEYENV },
	{ "server-key-file", required_argument, NULL, O_SERVERKEYFILE },
	{ "server-key-env", required_argument, NULL, O_SERVERKEYENV },
	{ "owner-key-file", required_argument, NULL, O_OWNERKEYFILE },
	{ "owner-key-env", required_argument, NULL, O_OWNERKEYENV },
	{ "executor-key-file", required_argument, NULL, O_EXKEYFILE },
	{ "executor-key-env", required_argument, NULL, O_EXKEYENV },
	{ "submitter-key-file", required_argument, NULL, O_SUBKEYFILE },
	{ "submitter-key-env", required_argument, NULL, O_SUBKEYENV },
	{ "name", required_argument, NULL, O_NAME },
	{ "colony", required_argument, NULL, O_COLONY },
	{ "type", required_argument, NULL, O_TYPE },
	{ "id", required_argument, NULL, O_ID },
	{ "approve", no_argument, NULL, O_APPROVE },
	{ "funcname", required_argument, NULL, O_FUNCNAME },
	{ "maxexectime", required_argument, NULL, O_MAXEXEC },
	{ "maxretries", required_argument, NULL, O_MAXRETRIES },
	{ "maxwaittime", required_argument, NULL, O_MAXWAIT },
	{ "priority", required_argument, NULL, O_PRIORITY },
	{ "kwargs", required_argument, NULL, O_KWARGS },
	{ "executor-names", required_argument, NULL, O_NAMES },
	{ "label", required_argument, NULL, O_LABEL },
	{ "stdin-lines", no_argument, NULL, O_STDINLINES },
	{ "state", required_argument, NULL, O_STATE },
	{ "count", required_argument, NULL, O_COUNT },
	{ "timeout", required_argument, NULL, O_TIMEOUT },
	{ "out", required_argument, NULL, O_OUT },
	{ "error", required_argument, NULL, O_ERROR },
	{ "message", required_argument, NULL, O_MESSAGE },
	{ "payloadtype", required_argument, NULL, O_PAYLOADTYPE },
	{ "json", required_argument, NULL, O_JSON },
	{ "raw", no_argument, NULL, O_RAW },
	{ "full", no_argument, NULL, O_FULL },
	{ "submitter-name", required_argument, NULL, O_SUBNAME },
	{ "submitter-type", required_argument, NULL, O_SUBTYPE },
	{ "body-file", required_argument, NULL, O_BODYFILE },
	{ "out-file", required_argument, NULL, O_OUTFILE },
	{ "help", no_argument, NULL, O_HELP },
	{ NULL, 0, NULL, 0 }
};

void
mc_usage(FILE *f)
{
	fprintf(f,
"usage: minicolonies serve [--listen HOST:PORT] [--port-file FILE]\n"
"                          --server-key-file FILE [--stale-executor-duration S]\n"
"                          [--cleanup-interval S] [--allow-executor-reregister] [-v]\n"
"       minicolonies COMMAND [options] --url URL\n"
"\n"
"Keys are read from a file (--X-key-file F) or an environment variable\n"
"(--X-key-env VAR), never from the command line.  URL is the /api URL.\n"
"\n"
"  keygen FILE                       write a new private key (mode 0600), print its id\n"
"  id --key-file F                   print the id of a key\n"
"  colony add --name N --server-key-file F --owner-key-file F\n"
"  executor add --colony C --name N --type T (--id ID | --executor-key-file F)\n"
"               --owner-key-file F [--approve]\n"
"  executor approve|reject|remove --colony C --name N --owner-key-file F\n"
"  executor get --colony C --name N --key-file F\n"
"  setup --colony C --server-key-file F --owner-key-file F --submitter-key-file F\n"
"        [--submitter-name submitter] [--submitter-type submitter]\n"
"  submit --key-file F --colony C --type T [--funcname validate_revenue]\n"
"         [--maxexectime 30] [--maxretries 3] [--maxwaittime 0] [--priority 0]\n"
"         [--kwargs JSON] [--executor-names a,b] [--label L]\n"
"         (FILE... | --stdin-lines)    one process per file / line; prints ids\n"
"  get --key-file F PROCESSID...     one compact Process JSON line each\n"
"  list --key-file F --colony C --state S [--count N] [--type T]\n"
"  assign --key-file F --colony C [--timeout 10]   prints the Process (exit 3: none)\n"
"  close --key-file F PROCESSID [--out JSON-ARRAY]\n"
"  fail --key-file F PROCESSID [--error MSG]...\n"
"  log --key-file F PROCESSID --message TEXT\n"
"  wait --colony C --count N [--timeout S]\n"
"        wait until N processes are final; prints\n"
"        successful=X failed=Y waiting=Z running=W (exit 1 on timeout)\n"
"  stats [--colony C]                counts by state (GET /stats)\n"
"  dump [--colony C] [--full]        every process, one JSON line (GET /dump)\n"
"  sign --key-file F --payloadtype T (--json TEXT | --raw --json B64TEXT)\n"
"        print a signed envelope (for raw protocol tests with curl)\n"
"  raw (--key-file F --payloadtype T --json TEXT | --body-file F) [--out-file F]\n"
"        POST a signed (or a given) envelope; print the HTTP status, the reply\n"
"        payloadtype and the error message on three lines; the decoded\n"
"        reply payload goes to --out-file\n"
"\n"
"minicolonies-only endpoints (not ColonyOS, unauthenticated, loopback use):\n"
"  GET /stats[?colony=C]  {\"waiting\":..,\"running\":..,\"successful\":..,\n"
"                          \"failed\":..,\"cancelled\":..,...}\n"
"  GET /dump[?colony=C][&full=1]  one JSON object per process and line\n");
}

int
cli_die(const char *fmt, ...)
{
	va_list	ap;

	fprintf(stderr, "minicolonies: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	return 1;
}

/* Load a key from its file or environment variable. */
int
cli_key(const struct cli_keysrc *src, const char *role,
    struct crypto_key *key)
{
	char		 buf[512], cause[FB_CAUSE_MAX];
	const char	*s;
	size_t		 n;
	FILE		*f;

	if (src->file != NULL) {
		if ((f = fopen(src->file, "r")) == NULL)
			return cli_die("%s key: %s: %s", role, src->file,
			    strerror(errno));
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = '\0';
	} else if (src->env != NULL) {
		if ((s = getenv(src->env)) == NULL)
			return cli_die("%s key: environment variable %s is "
			    "not set", role, src->env);
		snprintf(buf, sizeof(buf), "%s", s);
		n = strlen(buf);
	} else
		return cli_die("%s key missing (--%s%skey-file F or "
		    "--%s%skey-env VAR)", role, *role == '\0' ? "" : role,
		    *role == '\0' ? "" : "-", *role == '\0' ? "" : role,
		    *role == '\0' ? "" : "-");
	while (n > 0 && isspace((unsigned char)buf[n - 1]))
		buf[--n] = '\0';
	if (crypto_key_parse(key, buf, n, cause, sizeof(cause)) == -1) {
		explicit_bzero(buf, sizeof(buf));
		return cli_die("%s key: %s", role, cause);
	}
	explicit_bzero(buf, sizeof(buf));
	return 0;
}

struct colonies *
cli_open(struct cli *o, const struct cli_keysrc *src, const char *role)
{
	struct crypto_key	 key;
	struct colonies		*c;

	if (o->url == NULL) {
		cli_die("--url URL is required");
		return NULL;
	}
	if (cli_key(src, role, &key) != 0)
		return NULL;
	c = colonies_open(o->url, &key, CLI_CONNECT_MS, CLI_REQUEST_MS);
	crypto_key_clear(&key);
	if (c == NULL)
		cli_die("cannot create a ColonyOS client for %s", o->url);
	return c;
}

int
cli_err(const char *what, enum col_err e, const char *cause)
{
	fprintf(stderr, "minicolonies: %s: %s: %s\n", what, col_err_str(e),
	    cause);
	return e == COL_NOWORK ? 3 : 1;
}

/* --- HTTP GET of the minicolonies-only endpoints -------------------------- */

/* Percent-encode a query value (RFC 3986 unreserved kept). */
static void
cli_escape(struct sb *b, const char *s)
{
	static const char	hex[] = "0123456789ABCDEF";
	unsigned char		c;

	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~')
			sb_addc(b, (char)c);
		else {
			sb_addc(b, '%');
			sb_addc(b, hex[c >> 4]);
			sb_addc(b, hex[c & 15]);
		}
	}
}

static int
cli_get(struct cli *o, const char *path, struct sb *b)
{
	struct http	*h;
	struct sb	 target = { NULL, 0, 0 };
	const char	*reply;
	char		*base, cause[256];
	size_t		 n, replylen;
	int		 status = 0, ret = 0;

	if (o->url == NULL)
		return cli_die("--url URL is required");
	if ((base = strdup(o->url)) == NULL)
		return cli_die("strdup");
	n = strlen(base);
	if (n >= 4 && strcmp(base + n - 4, "/api") == 0)
		base[n - 4] = '\0';
	if ((h = http_open(base, CLI_CONNECT_MS, cause, sizeof cause)) ==
	    NULL) {
		ret = cli_die("%s: %s", base, cause);
		free(base);
		return ret;
	}
	sb_grow(&target, 1);
	sb_adds(&target, path);
	sb_adds(&target, strchr(path, '?') ? "&colony=" : "?colony=");
	if (o->colony != NULL)
		cli_escape(&target, o->colony);
	b->len = 0;
	sb_grow(b, 1);
	b->s[0] = '\0';
	if (http_get(h, target.s, CLI_REQUEST_MS, CLI_MAX_REPLY, &status,
	    &reply, &replylen, cause, sizeof cause) == -1)
		ret = cli_die("GET %s%s: %s", base, target.s, cause);
	else if (status != 200)
		ret = cli_die("GET %s%s: HTTP %d", base, target.s, status);
	else
		sb_add(b, reply, replylen);
	http_free(h);
	sb_free(&target);
	free(base);
	return ret;
}


static int
cli_stats_counts(struct cli *o, json_int_t *v)
{
	struct sb	 b = { NULL, 0, 0 };
	json_t		*j;
	json_error_t	 jerr;
	static const char *const k[] = { "waiting", "running", "successful",
	    "failed", "cancelled" };
	int		 i;

	if (cli_get(o, "/stats", &b) != 0) {
		sb_free(&b);
		return -1;
	}
	j = json_loadb(b.s, b.len, 0, &jerr);
	sb_free(&b);
	if (j == NULL)
		return cli_die("/stats: bad reply") ? -1 : -1;
	for (i = 0; i < 5; i++)
		v[i] = json_integer_value(json_object_get(j, k[i]));
	json_decref(j);
	return 0;
}

static int
cli_wait(struct cli *o)
{
	json_int_t		v[5];
	struct timespec		t0, now, nap = { 0, 100 * 1000000L };
	double			elapsed;
	long			timeout = o->timeout > 0 ? o->timeout : 60;

	if (o->count < 0)
		return cli_die("wait: --count N is required");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if (cli_stats_counts(o, v) == -1)
			return 1;
		if (v[2] + v[3] + v[4] >= o->count)
			break;
		clock_gettime(CLOCK_MONOTONIC, &now);
		elapsed = (double)(now.tv_sec - t0.tv_sec) +
		    (double)(now.tv_nsec - t0.tv_nsec) / 1e9;
		if (elapsed >= (double)timeout) {
			printf("successful=%lld failed=%lld waiting=%lld "
			    "running=%lld\n", (long long)v[2], (long long)v[3],
			    (long long)v[0], (long long)v[1]);
			fprintf(stderr, "minicolonies: wait: timed out after "
			    "%ld s\n", timeout);
			return 1;
		}
		nanosleep(&nap, NULL);
	}
	printf("successful=%lld failed=%lld waiting=%lld running=%lld\n",
	    (long long)v[2], (long long)v[3], (long long)v[0],
	    (long long)v[1]);
	return 0;
}

static int
cli_fetch(struct cli *o, const char *path)
{
	struct sb	b = { NULL, 0, 0 };

	if (cli_get(o, path, &b) != 0) {
		sb_free(&b);
		return 1;
	}
	fwrite(b.s, 1, b.len, stdout);
	sb_free(&b);
	return 0;
}

static int
cli_sign(struct cli *o, struct sb *res)
{
	struct crypto_key	 key;
	char			 sig[CRYPTO_SIG_HEXLEN + 1], *b64;
	size_t			 b64len;
	struct sb		 b = { NULL, 0, 0 };

	if (o->payloadtype == NULL || o->json == NULL)
		return cli_die("sign: --payloadtype and --json are required");
	if (cli_key(&o->key, "", &key) != 0)
		return 1;
	if (o->raw)
		b64 = strdup(o->json);
	else
		b64 = crypto_base64_encode(o->json, strlen(o->json), &b64len);
	if (b64 == NULL) {
		crypto_key_clear(&key);
		return cli_die("out of memory");
	}
	if (crypto_sign(&key, b64, strlen(b64), sig) == -1) {
		crypto_key_clear(&key);
		free(b64);
		return cli_die("sign failed");
	}
	crypto_key_clear(&key);
	sb_adds(&b, "{\"signature\":\"");
	sb_adds(&b, sig);
	sb_adds(&b, "\",\"payloadtype\":");
	sb_gostr(&b, o->payloadtype, strlen(o->payloadtype));
	sb_adds(&b, ",\"payload\":");
	sb_gostr(&b, b64, strlen(b64));
	sb_adds(&b, "}");
	if (res != NULL)
		*res = b;
	else {
		printf("%s\n", b.s);
		sb_free(&b);
	}
	free(b64);
	return 0;
}

/* The raw protocol driver of the shell tests: one process per call. */
static int
cli_raw(struct cli *o)
{
	struct sb	 body = { NULL, 0, 0 }, reply = { NULL, 0, 0 };
	struct http	*h;
	const char	*rbody;
	char		 cause[256];
	size_t		 rlen;
	int		 status = 0, rc;
	json_t		*env, *pt, *pl, *err, *m;
	json_error_t	 jerr;
	unsigned char	*dec = NULL;
	size_t		 declen = 0;
	FILE		*f;

	if (o->url == NULL)
		return cli_die("--url URL is required");
	if (o->bodyfile != NULL) {
		char	chunk[65536];
		size_t	r;

		if ((f = fopen(o->bodyfile, "rb")) == NULL)
			return cli_die("%s: %s", o->bodyfile, strerror(errno));
		sb_grow(&body, 1);
		while ((r = fread(chunk, 1, sizeof(chunk), f)) > 0)
			sb_add(&body, chunk, r);
		fclose(f);
	} else if (cli_sign(o, &body) != 0)
		return 1;
	if ((h = http_open(o->url, CLI_CONNECT_MS, cause, sizeof cause)) ==
	    NULL) {
		sb_free(&body);
		return cli_die("%s: %s", o->url, cause);
	}
	rc = http_post(h, body.s, body.len, o->timeout > 0 ?
	    o->timeout * 1000 : 60000L, CLI_MAX_REPLY, &status, &rbody, &rlen,
	    cause, sizeof cause);
	sb_free(&body);
	if (rc == -1) {
		http_free(h);
		printf("000\n\n%s\n", cause);
		return 0;
	}
	sb_add(&reply, rbody, rlen);
	http_free(h);
	printf("%d\n", status);
	env = reply.len > 0 ? json_loadb(reply.s, reply.len, 0, &jerr) : NULL;
	pt = json_object_get(env, "payloadtype");
	pl = json_object_get(env, "payload");
	printf("%s\n", json_is_string(pt) ? json_string_value(pt) : "");
	if (json_is_string(pl))
		dec = crypto_base64_decode(json_string_value(pl),
		    json_string_length(pl), &declen);
	m = NULL;
	if (dec != NULL && (err = json_loadb((char *)dec, declen,
	    JSON_DECODE_ANY, &jerr)) != NULL) {
		m = json_object_get(err, "message");
		printf("%s\n", json_is_string(m) ? json_string_value(m) : "");
		json_decref(err);
	} else
		printf("\n");
	if (o->outfile != NULL && (f = fopen(o->outfile, "wb")) != NULL) {
		if (dec != NULL)
			fwrite(dec, 1, declen, f);
		else
			fwrite(reply.s, 1, reply.len, f);
		fclose(f);
	}
	free(dec);
	json_decref(env);
	sb_free(&reply);
	return 0;
}

static long
cli_num(const char *s, const char *what, int *bad)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0) {
		fprintf(stderr, "minicolonies: %s: not a number: %s\n", what,
		    s);
		*bad = 1;
	}
	return v;
}

int
mc_cli_main(int argc, char **argv)
{
	struct cli	 o;
	const char	*cmd, *sub = NULL;
	int		 ch, bad = 0, ret;

	if (argc < 2 || strcmp(argv[1], "help") == 0 ||
	    strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		mc_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? FB_EX_USAGE : 0;
	}
	memset(&o, 0, sizeof(o));
	o.funcname = "validate_revenue";
	o.maxexectime = 30;
	o.maxretries = 3;
	o.state = -1;
	o.count = -1;
	cmd = argv[1];
	argc--;
	argv++;
	if ((strcmp(cmd, "colony") == 0 || strcmp(cmd, "executor") == 0) &&
	    argc >= 2 && argv[1][0] != '-') {
		sub = argv[1];
		argc--;
		argv++;
	}
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", cli_opts, NULL)) != -1) {
		switch (ch) {
		case O_URL:
			o.url = optarg;
			break;
		case O_KEYFILE:
			o.key.file = optarg;
			break;
		case O_KEYENV:
			o.key.env = optarg;
			break;
		case O_SERVERKEYFILE:
			o.server.file = optarg;
			break;
		case O_SERVERKEYENV:
			o.server.env = optarg;
			break;
		case O_OWNERKEYFILE:
			o.owner.file = optarg;
			break;
		case O_OWNERKEYENV:
			o.owner.env = optarg;
			break;
		case O_EXKEYFILE:
			o.executor.file = optarg;
			break;
		case O_EXKEYENV:
			o.executor.env = optarg;
			break;
		case O_SUBKEYFILE:
			o.submitter.file = optarg;
			break;
		case O_SUBKEYENV:
			o.submitter.env = optarg;
			break;
		case O_NAME:
			o.name = optarg;
			break;
		case O_COLONY:
			o.colony = optarg;
			break;
		case O_TYPE:
			o.type = optarg;
			break;
		case O_ID:
			o.id = optarg;
			break;
		case O_APPROVE:
			o.approve = 1;
			break;
		case O_FUNCNAME:
			o.funcname = optarg;
			break;
		case O_MAXEXEC:
			o.maxexectime = (int)cli_num(optarg, "--maxexectime",
			    &bad);
			break;
		case O_MAXRETRIES:
			o.maxretries = (int)cli_num(optarg, "--maxretries",
			    &bad);
			break;
		case O_MAXWAIT:
			o.maxwaittime = (int)cli_num(optarg, "--maxwaittime",
			    &bad);
			break;
		case O_PRIORITY:
			o.priority = (int)cli_num(optarg, "--priority", &bad);
			break;
		case O_KWARGS:
			o.kwargs = optarg;
			break;
		case O_NAMES:
			o.names = optarg;
			break;
		case O_LABEL:
			o.label = optarg;
			break;
		case O_STDINLINES:
			o.stdinlines = 1;
			break;
		case O_STATE:
			o.state = (int)cli_num(optarg, "--state", &bad);
			break;
		case O_COUNT:
			o.count = cli_num(optarg, "--count", &bad);
			break;
		case O_TIMEOUT:
			o.timeout = cli_num(optarg, "--timeout", &bad);
			break;
		case O_OUT:
			o.out = optarg;
			break;
		case O_ERROR:
			if (o.nerrors < sizeof(o.errors) / sizeof(o.errors[0]))
				o.errors[o.nerrors++] = optarg;
			break;
		case O_MESSAGE:
			o.message = optarg;
			break;
		case O_PAYLOADTYPE:
			o.payloadtype = optarg;
			break;
		case O_JSON:
			o.json = optarg;
			break;
		case O_RAW:
			o.raw = 1;
			break;
		case O_FULL:
			o.full = 1;
			break;
		case O_SUBNAME:
			o.subname = optarg;
			break;
		case O_SUBTYPE:
			o.subtype = optarg;
			break;
		case O_BODYFILE:
			o.bodyfile = optarg;
			break;
		case O_OUTFILE:
			o.outfile = optarg;
			break;
		case 'h':
		case O_HELP:
			mc_usage(stdout);
			return 0;
		default:
			mc_usage(stderr);
			return FB_EX_USAGE;
		}
	}
	if (bad)
		return FB_EX_USAGE;
	o.args = argv + optind;
	o.nargs = argc - optind;
	if (crypto_init() == -1)
		return cli_die("crypto_init failed");
	signal(SIGPIPE, SIG_IGN);

	if (strcmp(cmd, "keygen") == 0)
		ret = cli_keygen(&o);
	else if (strcmp(cmd, "id") == 0)
		ret = cli_id(&o);
	else if (strcmp(cmd, "colony") == 0 && sub != NULL &&
	    strcmp(sub, "add") == 0)
		ret = cli_colony_add(&o);
	else if (strcmp(cmd, "executor") == 0 && sub != NULL &&
	    strcmp(sub, "add") == 0)
		ret = cli_executor_add(&o);
	else if (strcmp(cmd, "executor") == 0 && sub != NULL &&
	    (strcmp(sub, "approve") == 0 || strcmp(sub, "reject") == 0 ||
	    strcmp(sub, "remove") == 0 || strcmp(sub, "get") == 0))
		ret = cli_executor_simple(&o, sub);
	else if (strcmp(cmd, "setup") == 0)
		ret = cli_setup(&o);
	else if (strcmp(cmd, "submit") == 0)
		ret = cli_submit(&o);
	else if (strcmp(cmd, "get") == 0)
		ret = cli_get_cmd(&o);
	else if (strcmp(cmd, "list") == 0)
		ret = cli_list(&o);
	else if (strcmp(cmd, "assign") == 0)
		ret = cli_assign(&o);
	else if (strcmp(cmd, "close") == 0)
		ret = cli_close(&o, 0);
	else if (strcmp(cmd, "fail") == 0)
		ret = cli_close(&o, 1);
	else if (strcmp(cmd, "log") == 0)
		ret = cli_log(&o);
	else if (strcmp(cmd, "wait") == 0)
		ret = cli_wait(&o);
	else if (strcmp(cmd, "stats") == 0)
		ret = cli_fetch(&o, "/stats");
	else if (strcmp(cmd, "dump") == 0)
		ret = cli_fetch(&o, o.full ? "/dump?full=1" : "/dump");
	else if (strcmp(cmd, "sign") == 0)
		ret = cli_sign(&o, NULL);
	else if (strcmp(cmd, "raw") == 0)
		ret = cli_raw(&o);
	else {
		fprintf(stderr, "minicolonies: unknown command: %s%s%s\n", cmd,
		    sub ? " " : "", sub ? sub : "");
		mc_usage(stderr);
		ret = FB_EX_USAGE;
	}
	fflush(stdout);
	return ret;
}
