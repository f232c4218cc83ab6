/*
 * test-guardian.c: run guardian_check() over a table of cases and print TAP.
 *
 *   test-guardian [-c] TABLE.tsv
 *   test-guardian -x DIR TABLE.tsv	(export payloads, see export_row)
 *   test-guardian -B ITERATIONS EVENT.json	(a timing loop, no TAP)
 *
 * -c also checks that every file of $FB_FIXTURES/stripe-events and of
 * t/data/events is used by some row.  The table format is described at the
 * top of t/data/hostile.tsv.
 */

#include <sys/stat.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "financebeed.h"
#include "hostile.h"
#include "tap.h"

#define TEST_NOW	INT64_C(1764000000)

static char	 fixdir[4096], datadir[4096];

static void
diag(const char *what, const char *s)
{
	printf("# %s: %s\n", what, s);
}

struct row {
	char	*name, *expect, *payload, *opts, *checks;
};

struct options {
	const char	*funcname;
	json_t		*args, *kwargs;
	char		*secrets[4];
	size_t		 nsecrets;
	const char	*sig;		/* valid[:off] | raw:HDR */
	const char	*sigkey;
	int64_t		 now;
	int64_t		 tolerance;
	int		 livemode;
	int		 maxdepth;
	size_t		 maxpayload;
	int		 nofuncnames;
	int		 bad;
};

static void
parse_opts(char *s, struct options *o)
{
	json_error_t	 err;
	char		*tok, *v;

	memset(o, 0, sizeof *o);
	o->funcname = "validate_revenue";
	o->sigkey = GUARDIAN_KWARG_SIGNATURE;
	o->now = TEST_NOW;
	o->tolerance = 300;
	o->maxdepth = 64;
	o->maxpayload = 1024 * 1024;
	if (strcmp(s, "-") == 0)
		return;
	for (tok = strtok(s, ";"); tok != NULL; tok = strtok(NULL, ";")) {
		if ((v = strchr(tok, '=')) == NULL) {
			o->bad = 1;
			continue;
		}
		*v++ = '\0';
		if (strcmp(tok, "funcname") == 0)
			o->funcname = strcmp(v, "@null") == 0 ? NULL : v;
		else if (strcmp(tok, "args") == 0)
			o->bad |= (o->args = json_loads(v, JSON_DECODE_ANY |
			    JSON_ALLOW_NUL, &err)) == NULL;
		else if (strcmp(tok, "kwargs") == 0)
			o->bad |= (o->kwargs = json_loads(v, JSON_DECODE_ANY,
			    &err)) == NULL;
		else if (strcmp(tok, "secret") == 0 && o->nsecrets < 4)
			o->secrets[o->nsecrets++] = v;
		else if (strcmp(tok, "sig") == 0)
			o->sig = v;
		else if (strcmp(tok, "sigkey") == 0)
			o->sigkey = v;
		else if (strcmp(tok, "now") == 0)
			o->now = strtoll(v, NULL, 10);
		else if (strcmp(tok, "tolerance") == 0)
			o->tolerance = strtoll(v, NULL, 10);
		else if (strcmp(tok, "livemode") == 0)
			o->livemode = atoi(v);
		else if (strcmp(tok, "maxdepth") == 0)
			o->maxdepth = atoi(v);
		else if (strcmp(tok, "maxpayload") == 0)
			o->maxpayload = strtoul(v, NULL, 10);
		else if (strcmp(tok, "nofuncnames") == 0)
			o->nofuncnames = atoi(v);
		else
			o->bad = 1;
	}
}

/* A header as Stripe would send it, signed with the first option secret. */
static void
sign(const char *secret, int64_t t, const char *body, size_t len, char *hdr,
    size_t hdrlen)
{
	unsigned char	 mac[32];
	unsigned int	 maclen = 0;
	char		 hex[65], *msg;
	size_t		 n, i;

	msg = malloc(len + 32);
	n = snprintf(msg, 32, "%lld.", (long long)t);
	memcpy(msg + n, body, len);
	HMAC(EVP_sha256(), secret, strlen(secret), (unsigned char *)msg, n + len,
	    mac, &maclen);
	free(msg);
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", mac[i]);
	snprintf(hdr, hdrlen, "t=%lld,v1=%s", (long long)t, hex);
}

static struct fb_config *
test_config(const struct options *o)
{
	static char *funcnames[] = { "validate_revenue", "validate_revenue_v2" };
	static char *tiers[] = { "bronze", "silver", "gold" };
	static char *premium[] = { "active", "trialing" };
	static struct fb_price_tier prices[] = {
		{ "price_bronze_monthly", "bronze" },
		{ "price_silver_monthly", "silver" },
		{ "price_gold_monthly", "gold" },
		{ "price_gold_yearly", "gold" },
		{ "price_1IDQm5JDPojXS6LNM31hxKzp", "silver" },
		{ "price_000000000000000000000000", "bronze" },
	};
	static struct fb_config cfg;

	memset(&cfg, 0, sizeof cfg);
	cfg.funcnames = funcnames;
	cfg.nfuncnames = o->nofuncnames ? 0 : 2;
	cfg.livemode = o->livemode;
	cfg.webhook_secrets = (char **)o->secrets;
	cfg.nwebhook_secrets = o->nsecrets;
	cfg.signature_tolerance = o->tolerance;
	cfg.prices = prices;
	cfg.nprices = sizeof prices / sizeof prices[0];
	cfg.tiers = tiers;
	cfg.ntiers = 3;
	cfg.premium_statuses = premium;
	cfg.npremium_statuses = 2;
	cfg.max_payload = o->maxpayload;
	cfg.max_depth = o->maxdepth;
	return &cfg;
}

/* "key=value" (strings raw, others compact JSON) or "!key" (absent). */
static void
run_checks(const char *name, json_t *change, char *checks)
{
	char	*tok, *v, *got;
	json_t	*j;

	if (strcmp(checks, "-") == 0)
		return;
	for (tok = strtok(checks, ";"); tok != NULL; tok = strtok(NULL, ";")) {
		if (tok[0] == '!') {
			ok(change != NULL && json_object_get(change, tok + 1) ==
			    NULL, "%s: %s absent", name, tok + 1);
			continue;
		}
		if ((v = strchr(tok, '=')) == NULL) {
			ok(0, "%s: bad check %s", name, tok);
			continue;
		}
		*v++ = '\0';
		j = change != NULL ? json_object_get(change, tok) : NULL;
		if (j == NULL)
			got = strdup("(absent)");
		else if (json_is_string(j))
			got = strdup(json_string_value(j));
		else
			got = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT);
		ok(strcmp(got, v) == 0, "%s: %s=%s", name, tok, v);
		if (strcmp(got, v) != 0)
			diag("got", got);
		free(got);
	}
}

static void
run_row(struct row *r)
{
	struct guardian_input	 in;
	struct options		 o;
	struct fb_config	*cfg;
	regex_t			 re;
	json_t			*change = NULL, *kw;
	char			 cause[FB_CAUSE_MAX] = "", hdr[512], *body;
	char			*dump;
	size_t			 len = 0, i;
	int			 rv, good;

	parse_opts(r->opts, &o);
	if (o.bad) {
		ok(0, "%s: bad options column", r->name);
		return;
	}
	body = hostile_payload(r->payload, fixdir, datadir, &len);
	if (body == NULL && o.args == NULL) {
		ok(0, "%s: cannot build payload %s", r->name, r->payload);
		return;
	}
	cfg = test_config(&o);

	memset(&in, 0, sizeof in);
	in.funcname = o.funcname;
	in.now = o.now;
	/* nocheck: lets a table feed bytes jansson would never produce. */
	if (o.args != NULL)
		in.args = o.args;
	else {
		in.args = json_array();
		json_array_append_new(in.args, json_stringn_nocheck(body, len));
	}
	kw = o.kwargs != NULL ? json_incref(o.kwargs) : json_object();
	if (o.sig != NULL && json_is_object(kw)) {
		if (strncmp(o.sig, "raw:", 4) == 0)
			snprintf(hdr, sizeof hdr, "%s", o.sig + 4);
		else if (strncmp(o.sig, "valid", 5) == 0)
			sign(o.nsecrets ? o.secrets[0] : "whsec_none",
			    o.now + strtoll(o.sig[5] == ':' ? o.sig + 6 : "0",
			    NULL, 10), body, len, hdr, sizeof hdr);
		else if (strncmp(o.sig, "with:", 5) == 0)
			sign(o.sig + 5, o.now, body, len, hdr, sizeof hdr);
		else if (strcmp(o.sig, "upper") == 0) {
			sign(o.nsecrets ? o.secrets[0] : "whsec_none", o.now,
			    body, len, hdr, sizeof hdr);
			for (i = 0; hdr[i] != '\0'; i++)
				hdr[i] = toupper((unsigned char)hdr[i]);
			hdr[0] = 't';	/* only the hex digits */
			memcpy(strchr(hdr, ',') + 1, "v1", 2);
		}
		json_object_set_new(kw, o.sigkey, json_string(hdr));
	}
	in.kwargs = kw;

	rv = guardian_check(cfg, &in, &change, cause, sizeof cause);

	if (strncmp(r->expect, "ok:", 3) == 0) {
		const char *kind = json_string_value(json_object_get(change,
		    "kind"));
		good = rv == 0 && change != NULL && kind != NULL &&
		    strcmp(kind, r->expect + 3) == 0;
		ok(good, "%s: accepted as %s", r->name, r->expect + 3);
		if (rv == -1)
			diag("cause", cause);
		else if (!good && change != NULL) {
			dump = json_dumps(change, JSON_COMPACT);
			diag("change", dump);
			free(dump);
		}
		/* Fields every change carries. */
		if (rv == 0)
			ok(json_is_string(json_object_get(change, "event_id")) &&
			    json_is_integer(json_object_get(change, "created")) &&
			    json_is_boolean(json_object_get(change, "livemode")) &&
			    json_is_array(json_object_get(change, "tiers")) &&
			    json_is_array(json_object_get(change,
			    "premium_statuses")) &&
			    json_object_get(change, "api_version") != NULL,
			    "%s: common fields present", r->name);
		if (getenv("FB_SHOW_CHANGE") != NULL && change != NULL) {
			dump = json_dumps(change, JSON_COMPACT);
			diag("change", dump);
			free(dump);
		}
		run_checks(r->name, change, r->checks);
	} else if (strncmp(r->expect, "fail:", 5) == 0) {
		if (regcomp(&re, r->expect + 5, REG_EXTENDED | REG_NOSUB) != 0) {
			ok(0, "%s: bad regex", r->name);
		} else {
			good = rv == -1 && change == NULL &&
			    regexec(&re, cause, 0, NULL, 0) == 0;
			ok(good, "%s: rejected /%s/", r->name, r->expect + 5);
			if (!good)
				diag("cause", rv == 0 ? "(accepted)" : cause);
			regfree(&re);
		}
		if (getenv("FB_SHOW_CHANGE") != NULL)
			diag("cause", cause);
		/* Causes travel as JSON strings and into logs: ASCII only. */
		for (i = 0; cause[i] != '\0'; i++) {
			if ((unsigned char)cause[i] < 0x20 ||
			    (unsigned char)cause[i] >= 0x7f)
				break;
		}
		if (cause[i] != '\0')
			ok(0, "%s: cause has a non-printable byte at %zu", r->name,
			    i);
		for (i = 0; i < o.nsecrets; i++) {
			if (strstr(cause, o.secrets[i]) != NULL)
				ok(0, "%s: cause leaks a secret", r->name);
		}
	} else
		ok(0, "%s: bad expect column %s", r->name, r->expect);

	json_decref(change);
	json_decref(in.args);
	json_decref(kw);
	json_decref(o.kwargs);
	free(body);
}

/*
 * -x DIR: write each row's args[0] bytes to DIR/NNN.json and DIR/index.tsv
 * (file, name, expect, options), so that other tests can replay the table
 * through other paths (fbeectl, --apply, a real colonies server).
 */
static FILE	*xindex;
static char	 xdir[4096];
static int	 xn;

static void
export_row(struct row *r)
{
	FILE	*f;
	char	 path[8192], file[32], *body;
	size_t	 len = 0;

	xn++;
	body = hostile_payload(r->payload, fixdir, datadir, &len);
	if (body == NULL)
		snprintf(file, sizeof file, "-");
	else {
		snprintf(file, sizeof file, "%03d.json", xn);
		snprintf(path, sizeof path, "%s/%s", xdir, file);
		if ((f = fopen(path, "wb")) == NULL ||
		    fwrite(body, 1, len, f) != len || fclose(f) != 0) {
			fprintf(stderr, "%s: %s\n", path, strerror(errno));
			exit(1);
		}
	}
	fprintf(xindex, "%s\t%s\t%s\t%s\n", file, r->name, r->expect,
	    r->opts);
	free(body);
}

/* Every event file must be used by some row. */
static void
coverage(const char *dir, const char *prefix, char *table)
{
	struct dirent	*de;
	DIR		*d;
	char		 want[1024];
	size_t		 n;

	if ((d = opendir(dir)) == NULL) {
		ok(0, "open %s: %s", dir, strerror(errno));
		return;
	}
	while ((de = readdir(d)) != NULL) {
		n = strlen(de->d_name);
		if (n < 6 || strcmp(de->d_name + n - 5, ".json") != 0)
			continue;
		snprintf(want, sizeof want, "%s%s\t", prefix, de->d_name);
		ok(strstr(table, want) != NULL, "%s%s has a row", prefix,
		    de->d_name);
	}
	closedir(d);
}

/* CPU time: the figure should not depend on the machine's other load. */
static double
now_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* Timing loop for the report: no TAP, no assertion. */
static int
bench(long iters, const char *path, int sign_it)
{
	struct guardian_input	 in;
	struct options		 o;
	struct fb_config	*cfg;
	json_t			*change, *args, *kw;
	char			 cause[FB_CAUSE_MAX], hdr[512], *body, *opts;
	size_t			 len;
	double			 t0, t1;
	long			 i;

	if ((body = hostile_readfile(path, &len)) == NULL) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return 1;
	}
	opts = strdup(sign_it ? "secret=whsec_bench_secret" : "-");
	parse_opts(opts, &o);
	cfg = test_config(&o);
	args = json_pack("[s%]", body, len);
	kw = json_object();
	if (sign_it) {
		sign(o.secrets[0], o.now, body, len, hdr, sizeof hdr);
		json_object_set_new(kw, GUARDIAN_KWARG_SIGNATURE,
		    json_string(hdr));
	}
	memset(&in, 0, sizeof in);
	in.funcname = "validate_revenue";
	in.args = args;
	in.kwargs = kw;
	in.now = o.now;
	t0 = now_us();
	for (i = 0; i < iters; i++) {
		if (guardian_check(cfg, &in, &change, cause, sizeof cause)
		    == -1) {
			fprintf(stderr, "rejected: %s\n", cause);
			return 1;
		}
		json_decref(change);
	}
	t1 = now_us();
	printf("%s: %zu bytes, %s, %ld iterations: %.2f us CPU per "
	    "guardian_check\n", path, len, sign_it ? "signed" : "unsigned",
	    iters, (t1 - t0) / iters);
	t0 = now_us();
	for (i = 0; i < iters; i++)
		json_decref(json_loadb(body, len, 0, NULL));
	t1 = now_us();
	printf("%s: plain json_loadb alone: %.2f us CPU\n", path,
	    (t1 - t0) / iters);
	json_decref(args);
	json_decref(kw);
	free(opts);
	free(body);
	return 0;
}

int
main(int argc, char **argv)
{
	struct row	 r;
	const char	*fx, *src;
	char		*table, *line, *next, *copy, *f[5], xpath[8192];
	size_t		 len;
	int		 cover = 0, i;

	if ((fx = getenv("FB_FIXTURES")) == NULL)
		fx = "t/data";
	if ((src = getenv("FB_SRCDIR")) == NULL)
		src = ".";
	snprintf(fixdir, sizeof fixdir, "%s/stripe-events", fx);
	snprintf(datadir, sizeof datadir, "%s/t/data/events", src);

	if (argc == 4 && strcmp(argv[1], "-B") == 0)
		return bench(atol(argv[2]), argv[3], 0) ||
		    bench(atol(argv[2]), argv[3], 1);
	if (argc == 4 && strcmp(argv[1], "-x") == 0) {
		snprintf(xdir, sizeof xdir, "%s", argv[2]);
		snprintf(xpath, sizeof xpath, "%s/index.tsv", xdir);
		if ((xindex = fopen(xpath, "w")) == NULL) {
			fprintf(stderr, "%s: %s\n", xpath, strerror(errno));
			return 1;
		}
		argv += 2;
		argc -= 2;
	}
	if (argc == 3 && strcmp(argv[1], "-c") == 0) {
		cover = 1;
		argv++;
		argc--;
	}
	if (argc != 2) {
		fprintf(stderr, "usage: test-guardian [-c] table.tsv\n");
		return 2;
	}
	if ((table = hostile_readfile(argv[1], &len)) == NULL) {
		printf("1..1\nnot ok 1 - read %s: %s\n", argv[1],
		    strerror(errno));
		return 1;
	}
	copy = strdup(table);
	for (line = copy; line != NULL && *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		f[0] = line;
		for (i = 1; i < 5; i++) {
			if ((f[i] = strchr(f[i - 1], '\t')) == NULL)
				break;
			*f[i]++ = '\0';
		}
		if (i < 5) {
			ok(0, "row %s: fewer than 5 columns", f[0]);
			continue;
		}
		r.name = f[0];
		r.expect = f[1];
		r.payload = f[2];
		r.opts = f[3];
		r.checks = f[4];
		if (xindex != NULL)
			export_row(&r);
		else
			run_row(&r);
	}
	if (cover) {
		coverage(fixdir, "fixture:", table);
		coverage(datadir, "data:", table);
	}
	free(copy);
	free(table);
	if (xindex != NULL)
		return fclose(xindex) != 0;
	return tap_done();
}
