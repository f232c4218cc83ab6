/*
 * crypto-bench: CPU cost of the per-task client work (thread CPU time,
 * so a busy machine inflates it less than wall time would).
 *
 *	crypto-bench [iterations]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "colonies.h"

#define KEY	"ddf7f7791208083b6a9ed975a72684f6406a269cfa36f1b1c32045c0a71fff05"
#define PID	"654c1973b058776c810ee8c6c342ccbad18092183aa8513d720020e67d32e83a"

/* A typical assign reply: the server pretty-prints the Process. */
static const char process[] =
	"{\n  \"processid\": \"" PID "\",\n"
	"  \"initiatorid\": \"39c9976c8e5d738447fbfd31da82e85b904177a2cc6893be"
	"8789b23e1ec60059\",\n  \"initiatorname\": \"submitter\",\n"
	"  \"assignedexecutorid\": \"3fc05cf3df4b494e95d6a3d297a34f19938f7daa7"
	"422ab0d4f794454133341ac\",\n  \"isassigned\": true,\n  \"state\": 1,\n"
	"  \"prioritytime\": 1795596187052970772,\n"
	"  \"submissiontime\": \"2026-11-25T08:43:07.052971Z\",\n"
	"  \"starttime\": \"2026-11-25T08:43:07.168305Z\",\n"
	"  \"endtime\": \"0001-01-01T00:00:00Z\",\n"
	"  \"waitdeadline\": \"0001-01-01T00:00:00Z\",\n"
	"  \"execdeadline\": \"2026-11-25T08:43:37.168305Z\",\n"
	"  \"retries\": 0,\n  \"attributes\": [],\n  \"spec\": {\n"
	"    \"nodename\": \"\",\n    \"funcname\": \"validate_revenue\",\n"
	"    \"args\": [\"{\\\"id\\\":\\\"evt_1NG8Du2eZvKYlo2CUI79vXWy\\\","
	"\\\"object\\\":\\\"event\\\",\\\"type\\\":\\\"invoice.paid\\\","
	"\\\"created\\\":1700000000,\\\"livemode\\\":false,\\\"data\\\":{"
	"\\\"object\\\":{\\\"id\\\":\\\"in_1\\\",\\\"object\\\":\\\"invoice\\\","
	"\\\"customer\\\":\\\"cus_1\\\",\\\"subscription\\\":\\\"sub_1\\\","
	"\\\"amount_paid\\\":1000,\\\"currency\\\":\\\"usd\\\"}}}\"],\n"
	"    \"kwargs\": {\"source\": \"stripe\"},\n    \"priority\": 0,\n"
	"    \"maxwaittime\": 0,\n    \"maxexectime\": 30,\n"
	"    \"maxretries\": 3,\n    \"conditions\": {\n"
	"      \"colonyname\": \"financebee\",\n      \"executornames\": null,\n"
	"      \"executortype\": \"financebee\",\n      \"dependencies\": [],\n"
	"      \"gpu\": {\"name\": \"\", \"mem\": \"0Mi\", \"count\": 0}\n"
	"    },\n    \"env\": {}\n  },\n  \"parents\": [],\n  \"children\": [],\n"
	"  \"in\": [],\n  \"out\": [],\n  \"errors\": []\n}";

static double
cpu_us(void)
{
	struct timespec	t;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

int
main(int argc, char **argv)
{
	struct crypto_key	 key;
	struct col_process	 p;
	char			 cause[FB_CAUSE_MAX], sig[CRYPTO_SIG_HEXLEN + 1];
	char			 id[CRYPTO_ID_HEXLEN + 1], *b64, *env, *body;
	char			*text;
	unsigned char		 d[32];
	const char		*closereply = "{\"payloadtype\":"
	    "\"closesuccessfulmsg\",\"payload\":\"e30=\",\"error\":false}";
	json_t			*v, *out;
	size_t			 n, envlen;
	double			 t0, total = 0, us;
	int			 i, iters = argc > 1 ? atoi(argv[1]) : 20000;

	if (iters <= 0 || crypto_init() == -1 ||
	    crypto_key_parse(&key, KEY, 64, cause, sizeof cause) == -1)
		return 1;
	b64 = crypto_base64_encode(process, strlen(process), &n);
	envlen = n + 128;
	env = malloc(envlen);
	envlen = (size_t)snprintf(env, envlen, "{\"payloadtype\":"
	    "\"assignprocessmsg\",\"payload\":\"%s\",\"error\":false}", b64);
	free(b64);
	printf("%d iterations, CPU microseconds per operation\n", iters);

	t0 = cpu_us();
	for (i = 0; i < iters; i++)
		crypto_sha3_256(env, 256, d);
	printf("  sha3-256 (256 B)                 %8.2f\n",
	    (cpu_us() - t0) / iters);

	t0 = cpu_us();
	for (i = 0; i < iters; i++)
		crypto_sign(&key, env, 256, sig);
	printf("  sign                             %8.2f\n",
	    (cpu_us() - t0) / iters);

	t0 = cpu_us();
	for (i = 0; i < iters; i++)
		if (crypto_recover_id(env, 256, sig, 130, id, cause,
		    sizeof cause) == -1)
			return 1;
	printf("  recover id (server side)         %8.2f\n",
	    (cpu_us() - t0) / iters);

	t0 = cpu_us();
	for (i = 0; i < iters; i++) {
		if (colonies_decode_reply(200, env, envlen, "assignprocessmsg",
		    &v, cause, sizeof cause) != COL_OK ||
		    col_process_parse(v, &p, cause, sizeof cause) == -1)
			return 1;
		col_process_free(&p);
		json_decref(v);
	}
	us = (cpu_us() - t0) / iters;
	total += us;
	printf("  assign reply decode+parse (%zu B) %7.2f\n", envlen, us);

	t0 = cpu_us();
	for (i = 0; i < iters; i++) {
		out = json_pack("{s:s, s:[{s:s, s:s}], s:s}", "processid", PID,
		    "out", "outcome", "applied", "event", "evt_1",
		    "msgtype", "closesuccessfulmsg");
		text = json_dumps(out, JSON_COMPACT);
		body = colonies_envelope(&key, "closesuccessfulmsg", text, &n);
		free(body);
		free(text);
		json_decref(out);
	}
	us = (cpu_us() - t0) / iters;
	total += us;
	printf("  close request build+sign         %8.2f\n", us);

	t0 = cpu_us();
	for (i = 0; i < iters; i++) {
		colonies_decode_reply(200, closereply, strlen(closereply),
		    "closesuccessfulmsg", &v, cause, sizeof cause);
		json_decref(v);
	}
	us = (cpu_us() - t0) / iters;
	total += us;
	printf("  close reply decode               %8.2f\n", us);
	printf("  client total per task (no HTTP)  %8.2f\n", total);
	free(env);
	crypto_key_clear(&key);
	return 0;
}
