/*
 * colonies-bench: assign+close throughput of a ColonyOS server (normally
 * minicolonies) with N no-op executors, each its own process, key and
 * colonies.c client.  Sets up the colony, a submitter and N executors,
 * pre-submits the processes, then releases the executors at once; each
 * does assign(timeout 1) -> close_successful until the queue is empty.
 * Prints cycles/s and assign/close latency percentiles.
 *
 *   colonies-bench --url URL --server-key-file F --owner-key-file F
 *       --submitter-key-file F [--colony C] [--executors N] [--count K]
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "colonies.h"

struct bench_result {
	uint64_t	cycles;
	uint64_t	errors;
	int64_t		last_us;	/* CLOCK_MONOTONIC of the last close */
};

static int64_t
bench_now_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void
bench_key(const char *path, struct crypto_key *key)
{
	char	 buf[256], cause[FB_CAUSE_MAX];
	size_t	 n;
	FILE	*f;

	if ((f = fopen(path, "r")) == NULL)
		fatal("%s", path);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	while (n > 0 && isspace((unsigned char)buf[n - 1]))
		buf[--n] = '\0';
	if (crypto_key_parse(key, buf, n, cause, sizeof(cause)) == -1)
		fatalx("%s: %s", path, cause);
	explicit_bzero(buf, sizeof(buf));
}

/* CPU seconds (user + system) used so far by pid, or -1. */
static double
bench_cpu(pid_t pid)
{
	char		 path[64], buf[1024], *p;
	unsigned long	 ut, st;
	FILE		*f;
	size_t		 n;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* Fields after the ")" of the command name: state is field 3. */
	if ((p = strrchr(buf, ')')) == NULL || sscanf(p + 2,
	    "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut,
	    &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static int
bench_cmp(const void *a, const void *b)
{
	uint32_t	x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static double
bench_pct(uint32_t *v, size_t n, double q)
{
	size_t	i;

	if (n == 0)
		return 0;
	i = (size_t)(q * (double)(n - 1) + 0.5);
	return (double)v[i] / 1000.0;
}

/*
 * One executor: assign -> close until an assign finds the queue empty.
 * Samples stay in memory and go to fd at the end, so a full pipe never
 * slows the measured loop.
 */
static int
bench_executor(const char *url, const char *colony,
    const struct crypto_key *key, long max, int startfd, int outfd)
{
	struct colonies		*c;
	struct col_process	 p;
	struct bench_result	 r = { 0, 0, 0 };
	char			 cause[FB_CAUSE_MAX], go;
	uint32_t		*s, end[2];
	size_t			 ns = 0;
	int64_t			 t0, t1, t2;
	json_t			*out;
	enum col_err		 e;

	if ((s = calloc((size_t)max * 2 + 2, sizeof(*s))) == NULL)
		fatal("calloc");
	if ((c = colonies_open(url, key, 5000, 30000)) == NULL)
		fatalx("colonies_open");
	if (read(startfd, &go, 1) == -1)	/* the start barrier (EOF) */
		fatal("read");
	out = json_array();
	for (;;) {
		memset(&p, 0, sizeof(p));
		t0 = bench_now_us();
		e = colonies_assign(c, colony, 1, &p, cause, sizeof(cause));
		t1 = bench_now_us();
		if (e == COL_NOWORK)
			break;
		if (e != COL_OK) {
			log_warnx("assign: %s", cause);
			if (++r.errors > 100)
				break;
			continue;
		}
		e = colonies_close_successful(c, p.processid, out, cause,
		    sizeof(cause));
		t2 = bench_now_us();
		col_process_free(&p);
		if (e != COL_OK) {
			log_warnx("close: %s", cause);
			r.errors++;
			continue;
		}
		r.cycles++;
		r.last_us = t2;
		if (ns < (size_t)max) {
			s[2 * ns] = (uint32_t)(t1 - t0);
			s[2 * ns + 1] = (uint32_t)(t2 - t1);
			ns++;
		}
	}
	json_decref(out);
	colonies_free(c);
	end[0] = end[1] = UINT32_MAX;
	if ((ns > 0 && write(outfd, s, ns * 2 * sizeof(*s)) !=
	    (ssize_t)(ns * 2 * sizeof(*s))) ||
	    write(outfd, end, sizeof(end)) != sizeof(end) ||
	    write(outfd, &r, sizeof(r)) != sizeof(r))
		fatal("write");
	free(s);
	return 0;
}

static void
bench_usage(void)
{
	fprintf(stderr, "usage: colonies-bench --url URL --server-key-file F "
	    "--owner-key-file F --submitter-key-file F\n"
	    "\t[--colony C] [--executors N] [--count K] [--server-pid PID]\n"
	    "\t[--args-file F]\n");
	exit(FB_EX_USAGE);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "server-key-file", required_argument, NULL, 's' },
		{ "owner-key-file", required_argument, NULL, 'o' },
		{ "submitter-key-file", required_argument, NULL, 'b' },
		{ "colony", required_argument, NULL, 'c' },
		{ "executors", required_argument, NULL, 'n' },
		{ "count", required_argument, NULL, 'k' },
		{ "server-pid", required_argument, NULL, 'P' },
		{ "args-file", required_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 }
	};
	const char		*url = NULL, *sfile = NULL, *ofile = NULL;
	const char		*bfile = NULL, *colony = "bench";
	char			*args = NULL;
	struct crypto_key	 server, owner, sub, *keys;
	struct colonies		*c;
	struct col_process	 p;
	char			 cause[FB_CAUSE_MAX], name[64];
	int			 ch, n = 4, i, startp[2], *outp;
	long			 count = 20000, k;
	enum col_err		 e;
	pid_t			*pids;
	json_t			*spec;
	int64_t			 t0, t1;
	uint32_t		*as, *cs, s[2];
	size_t			 na = 0, cap;
	struct bench_result	 r, tot = { 0, 0, 0 };
	FILE			*f;
	pid_t			 spid = 0;
	double			 cpu0, cpu1;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'u':
			url = optarg;
			break;
		case 's':
			sfile = optarg;
			break;
		case 'o':
			ofile = optarg;
			break;
		case 'b':
			bfile = optarg;
			break;
		case 'c':
			colony = optarg;
			break;
		case 'n':
			n = atoi(optarg);
			break;
		case 'k':
			count = atol(optarg);
			break;
		case 'P':
			spid = (pid_t)atol(optarg);
			break;
		case 'a':
			/* args[0] of every process, e.g. the pool's events. */
			if ((f = fopen(optarg, "r")) == NULL)
				fatal("%s", optarg);
			{
				static char	buf[1 << 20];
				size_t		len;

				len = fread(buf, 1, sizeof(buf) - 1, f);
				buf[len] = '\0';
				args = buf;
			}
			fclose(f);
			break;
		default:
			bench_usage();
		}
	}
	if (url == NULL || sfile == NULL || ofile == NULL || bfile == NULL ||
	    n < 1 || n > 256 || count < 1)
		bench_usage();
	if (log_init("colonies-bench", LOG_LEVEL_INFO, "stderr", cause,
	    sizeof(cause)) == -1 || crypto_init() == -1)
		fatalx("init: %s", cause);
	signal(SIGPIPE, SIG_IGN);
	bench_key(sfile, &server);
	bench_key(ofile, &owner);
	bench_key(bfile, &sub);

	/* Colony, submitter, executors: existing ones are fine. */
	if ((c = colonies_open(url, &server, 5000, 30000)) == NULL)
		fatalx("colonies_open");
	e = colonies_add_colony(c, owner.id, colony, cause, sizeof(cause));
	if (e != COL_OK && strstr(cause, "already exists") == NULL)
		fatalx("add colony: %s", cause);
	colonies_free(c);
	if ((c = colonies_open(url, &owner, 5000, 30000)) == NULL)
		fatalx("colonies_open");
	e = colonies_add_executor(c, colony, sub.id, "bench-submitter",
	    "bench-submitter", cause, sizeof(cause));
	if (e != COL_OK && strstr(cause, "already exists") == NULL)
		fatalx("add submitter: %s", cause);
	if (colonies_approve_executor(c, colony, "bench-submitter", cause,
	    sizeof(cause)) != COL_OK)
		fatalx("approve submitter: %s", cause);
	keys = calloc((size_t)n, sizeof(*keys));
	pids = calloc((size_t)n, sizeof(*pids));
	outp = calloc((size_t)n * 2, sizeof(*outp));
	if (keys == NULL || pids == NULL || outp == NULL)
		fatal("calloc");
	for (i = 0; i < n; i++) {
		if (crypto_key_generate(&keys[i], cause, sizeof(cause)) == -1)
			fatalx("keygen: %s", cause);
		snprintf(name, sizeof(name), "bench-%d-%d-%ld", n, i,
		    (long)getpid());
		if (colonies_add_executor(c, colony, keys[i].id, "bench", name,
		    cause, sizeof(cause)) != COL_OK ||
		    colonies_approve_executor(c, colony, name, cause,
		    sizeof(cause)) != COL_OK)
			fatalx("add executor: %s", cause);
	}
	colonies_free(c);

	/* Pre-submit the no-op processes. */
	if ((c = colonies_open(url, &sub, 5000, 30000)) == NULL)
		fatalx("colonies_open");
	t0 = bench_now_us();
	for (k = 0; k < count; k++) {
		spec = json_pack("{s:s, s:[s], s:i, s:i, s:{s:s, s:s}}",
		    "funcname", "noop", "args", args != NULL ? args : "{}",
		    "maxexectime", -1,
		    "maxretries", 0, "conditions", "colonyname", colony,
		    "executortype", "bench");
		memset(&p, 0, sizeof(p));
		e = colonies_submit(c, spec, &p, cause, sizeof(cause));
		json_decref(spec);
		if (e != COL_OK)
			fatalx("submit: %s", cause);
		col_process_free(&p);
	}
	t1 = bench_now_us();
	colonies_free(c);
	fprintf(stderr, "submitted %ld processes in %.2f s (%.0f/s)\n", count,
	    (double)(t1 - t0) / 1e6, (double)count * 1e6 / (double)(t1 - t0));

	if (pipe(startp) == -1)
		fatal("pipe");
	fflush(NULL);
	for (i = 0; i < n; i++) {
		if (pipe(outp + 2 * i) == -1)
			fatal("pipe");
		if ((pids[i] = fork()) == -1)
			fatal("fork");
		if (pids[i] == 0) {
			close(startp[1]);
			close(outp[2 * i]);
			_exit(bench_executor(url, colony, &keys[i], count,
			    startp[0], outp[2 * i + 1]));
		}
		close(outp[2 * i + 1]);
	}
	close(startp[0]);
	sleep(1);	/* let every child open its client */
	cpu0 = bench_cpu(spid);
	t0 = bench_now_us();
	close(startp[1]);
	t1 = 0;

	cap = (size_t)count + 16;
	as = calloc(cap, sizeof(*as));
	cs = calloc(cap, sizeof(*cs));
	if (as == NULL || cs == NULL)
		fatal("calloc");
	/* Each child writes its samples only when done. */
	for (i = 0; i < n; i++) {
		if ((f = fdopen(outp[2 * i], "r")) == NULL)
			fatal("fdopen");
		for (;;) {
			if (fread(s, sizeof(s), 1, f) != 1)
				fatalx("executor %d: short read", i);
			if (s[0] == UINT32_MAX && s[1] == UINT32_MAX)
				break;
			if (na < cap) {
				as[na] = s[0];
				cs[na] = s[1];
				na++;
			}
		}
		if (fread(&r, sizeof(r), 1, f) != 1)
			fatalx("executor %d: no totals", i);
		fclose(f);
		tot.cycles += r.cycles;
		tot.errors += r.errors;
		if (r.last_us > tot.last_us)
			tot.last_us = r.last_us;
	}
	for (i = 0; i < n; i++)
		waitpid(pids[i], NULL, 0);
	/* The work ends with the last close, not with the final empty poll. */
	t1 = tot.last_us > t0 ? tot.last_us : bench_now_us();
	cpu1 = bench_cpu(spid);
	qsort(as, na, sizeof(*as), bench_cmp);
	qsort(cs, na, sizeof(*cs), bench_cmp);
	printf("executors=%d cycles=%llu errors=%llu seconds=%.2f "
	    "cycles_per_s=%.0f assign_p50_ms=%.3f assign_p99_ms=%.3f "
	    "close_p50_ms=%.3f close_p99_ms=%.3f\n", n,
	    (unsigned long long)tot.cycles, (unsigned long long)tot.errors,
	    (double)(t1 - t0) / 1e6,
	    (double)tot.cycles * 1e6 / (double)(t1 - t0),
	    bench_pct(as, na, 0.5), bench_pct(as, na, 0.99),
	    bench_pct(cs, na, 0.5), bench_pct(cs, na, 0.99));
	if (cpu0 >= 0 && cpu1 >= 0 && tot.cycles > 0)
		printf("server_cpu_s=%.2f server_cpu_us_per_cycle=%.1f "
		    "(= %.0f cycles/s per fully used core)\n", cpu1 - cpu0,
		    (cpu1 - cpu0) * 1e6 / (double)tot.cycles,
		    (double)tot.cycles / (cpu1 - cpu0));
	free(as);
	free(cs);
	for (i = 0; i < n; i++)
		crypto_key_clear(&keys[i]);
	free(keys);
	free(pids);
	free(outp);
	crypto_key_clear(&server);
	crypto_key_clear(&owner);
	crypto_key_clear(&sub);
	return tot.errors == 0 ? 0 : 1;
}
