/*
 * test-colonies-client: the client against a scripted fake HTTP server
 * (a forked child on 127.0.0.1): exact request bodies and signatures,
 * keep-alive, no "Expect:", error mapping incl. lost ownership, and
 * transport errors (refused, empty reply, timeout).
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "colonies.h"
#include "tap.h"


#define PRVKEY	"ddf7f7791208083b6a9ed975a72684f6406a269cfa36f1b1c32045c0a71fff05"
#define PID	"654c1973b058776c810ee8c6c342ccbad18092183aa8513d720020e67d32e83a"
#define PROCESS	"{\"processid\":\"" PID "\",\"assignedexecutorid\":\"3fc05cf3" \
	"df4b494e95d6a3d297a34f19938f7daa7422ab0d4f794454133341ac\"," \
	"\"isassigned\":true,\"state\":1,\"prioritytime\":1795596187052970772," \
	"\"spec\":{\"funcname\":\"validate_revenue\",\"args\":[\"{}\"]," \
	"\"kwargs\":{\"source\":\"stripe\"},\"maxexectime\":30,\"maxretries\":3," \
	"\"conditions\":{\"executortype\":\"financebee\"}}}"

/* What the fake server answers, request by request. */
struct reply {
	const char	*type;		/* payloadtype; NULL = special */
	int		 status;
	const char	*payload;	/* JSON, or the error message */
	const char	*special;	/* "close": no reply; "hang": none, 3 s */
};

static const struct reply script[] = {
	{ "assignprocessmsg", 200, PROCESS, NULL },
	{ "error", 404, "No process available for assignment", NULL },
	{ "closesuccessfulmsg", 200, "{}", NULL },
	{ "error", 403, "Failed to close process as successful, process is "
	    "not assigned", NULL },
	{ "error", 400, "Tried to set failed process as failed", NULL },
	{ "error", 500, "Failed to close process as successful, process is "
	    "nil", NULL },
	{ "error", 403, "Failed to close process as failed, not allowed to "
	    "close process as failed", NULL },
	{ "error", 403, "Access denied, not a member of Colony with name "
	    "testcolony", NULL },
	{ "getprocessmsg", 200, PROCESS, NULL },
	{ "addlogmsg", 200, "{}", NULL },
	{ "addcolonymsg", 200, "{\"colonyid\":\"x\",\"name\":\"financebee\"}",
	    NULL },
	{ "addexecutormsg", 200, "{\"executorname\":\"worker-1\"}", NULL },
	{ "approveexecutormsg", 200, "{}", NULL },
	{ "getexecutormsg", 200, "{\"executorname\":\"worker-1\",\"state\":1}",
	    NULL },
	{ "addfunctionmsg", 200, "{\"functionid\":\"f\"}", NULL },
	{ "submitfuncspecmsg", 200, PROCESS, NULL },
	{ "addlogmsg", 200, "{}", NULL },		/* 2 MB body */
	{ "versionmsg", 200, "{\"version\":\"x\"}", NULL },
	{ "assignprocessmsg", 200, "{\"processid\":\"nothex\"}", NULL },
	{ NULL, 0, NULL, "close" },
	{ NULL, 0, NULL, "hang" },
	{ NULL, 0, NULL, "hang" },
};
#define NSCRIPT	(sizeof script / sizeof script[0])

static int
readn(int fd, char *buf, size_t n)
{
	ssize_t	r;

	while (n > 0) {
		if ((r = read(fd, buf, n)) <= 0)
			return -1;
		buf += r;
		n -= (size_t)r;
	}
	return 0;
}

static void
writeall(int fd, const char *buf, size_t n)
{
	ssize_t	w;

	while (n > 0) {
		if ((w = write(fd, buf, n)) <= 0)
			return;
		buf += w;
		n -= (size_t)w;
	}
}

/* The fake server: logs "conn expect len\nbody\n" per request to logfd. */
static __dead void
server(int lfd, FILE *log)
{
	char		 head[8192], *p, *body, *b64, *resp, payload[512];
	size_t		 hlen, clen, next = 0, n;
	int		 fd, conn = 0, expect;
	const struct reply *r;

	signal(SIGPIPE, SIG_IGN);
	/* Never outlive the test, whatever happens to it. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	alarm(120);
	for (;;) {
		if ((fd = accept(lfd, NULL, NULL)) == -1)
			_exit(1);
		conn++;
		for (;;) {
			hlen = 0;
			head[0] = '\0';
			while (strstr(head, "\r\n\r\n") == NULL &&
			    hlen < sizeof head - 1) {
				if (read(fd, head + hlen, 1) != 1)
					goto next_conn;
				head[++hlen] = '\0';
			}
			p = strcasestr(head, "\r\nContent-Length:");
			clen = p ? strtoul(p + 17, NULL, 10) : 0;
			expect = strcasestr(head, "\r\nExpect:") != NULL;
			body = malloc(clen + 1);
			if (readn(fd, body, clen) == -1)
				_exit(1);
			body[clen] = '\0';
			fprintf(log, "%d %d %zu\n%s\n", conn, expect, clen,
			    body);
			fflush(log);
			free(body);
			if (next >= NSCRIPT)
				_exit(1);
			r = &script[next++];
			if (r->special != NULL) {
				if (strcmp(r->special, "hang") == 0)
					sleep(3);
				break;
			}
			if (r->status != 200)
				snprintf(payload, sizeof payload,
				    "{\"status\":%d,\"message\":\"%s\"}",
				    r->status, r->payload);
			else
				snprintf(payload, sizeof payload, "%s",
				    r->payload);
			b64 = crypto_base64_encode(payload, strlen(payload),
			    &n);
			n += 256;
			resp = malloc(n + 256);
			n = (size_t)snprintf(resp, n + 256, "{\"payloadtype\":"
			    "\"%s\",\"payload\":\"%s\",\"error\":%s}", r->type,
			    b64, r->status == 200 ? "false" : "true");
			dprintf(fd, "HTTP/1.1 %d X\r\nContent-Type: text/plain; "
			    "charset=utf-8\r\nContent-Length: %zu\r\n\r\n",
			    r->status, n);
			writeall(fd, resp, n);
			free(resp);
			free(b64);
		}
next_conn:
		close(fd);
	}
}

/* Abort once the call has been in flight for a while (the server hangs). */
static int
abort_cb(void *arg)
{
	static struct timespec	 t0;
	struct timespec		 t;
	int			*n = arg;

	clock_gettime(CLOCK_MONOTONIC, &t);
	if ((*n)++ == 0)
		t0 = t;
	return (t.tv_sec - t0.tv_sec) * 1000 +
	    (t.tv_nsec - t0.tv_nsec) / 1000000 >= 300;
}

struct logged {
	int	 conn;
	int	 expect;
	char	*body;
};

/* Read back the requests the server saw. */
static size_t
read_log(const char *path, struct logged *req, size_t max)
{
	FILE	*f;
	size_t	 n = 0, len;
	int	 conn, expect;

	if ((f = fopen(path, "r")) == NULL)
		return 0;
	while (n < max && fscanf(f, "%d %d %zu\n", &conn, &expect, &len) ==
	    3) {
		req[n].conn = conn;
		req[n].expect = expect;
		req[n].body = malloc(len + 1);
		if (fread(req[n].body, 1, len, f) != len)
			break;
		req[n].body[len] = '\0';
		fgetc(f);
		n++;
	}
	fclose(f);
	return n;
}

/* The payload JSON of a logged request, after checking its signature. */
static char *
payload_of(const char *body, const char *keyid, const char *type)
{
	json_t		*env;
	const char	*pl, *sig, *pt;
	char		 id[CRYPTO_ID_HEXLEN + 1], cause[FB_CAUSE_MAX];
	unsigned char	*raw = NULL;
	size_t		 n;

	if ((env = json_loads(body, 0, NULL)) == NULL)
		return NULL;
	pl = json_string_value(json_object_get(env, "payload"));
	sig = json_string_value(json_object_get(env, "signature"));
	pt = json_string_value(json_object_get(env, "payloadtype"));
	if (pl != NULL && sig != NULL && pt != NULL && strcmp(pt, type) == 0 &&
	    crypto_recover_id(pl, strlen(pl), sig, strlen(sig), id, cause,
	    sizeof cause) == 0 && strcmp(id, keyid) == 0)
		raw = crypto_base64_decode(pl, strlen(pl), &n);
	json_decref(env);
	return (char *)raw;
}

int
main(void)
{
	struct sockaddr_in	 sin;
	socklen_t		 slen = sizeof sin;
	struct crypto_key	 key;
	struct colonies		*c;
	struct col_process	 p;
	struct logged		 req[64];
	char			 cause[FB_CAUSE_MAX], url[128], logpath[256];
	char			*pl, *big;
	const char		*errs[] = { "bad signature", "second \"one\"" };
	const char		*tmp;
	json_t			*out, *j, *spec;
	FILE			*log;
	pid_t			 pid;
	int			 lfd, status, i, naborts = 0;
	enum col_err		 e;
	size_t			 nreq;

	signal(SIGPIPE, SIG_IGN);
	if (crypto_init() == -1 || crypto_key_parse(&key, PRVKEY, 64, cause,
	    sizeof cause) == -1) {
		printf("Bail out! crypto\n");
		return 1;
	}
	if ((tmp = getenv("FB_TMPDIR")) == NULL && (tmp = getenv("TMPDIR")) ==
	    NULL)
		tmp = "/tmp";
	snprintf(logpath, sizeof logpath, "%s/fb-colonies-client.%d.log", tmp,
	    (int)getpid());
	if ((log = fopen(logpath, "w+")) == NULL) {
		printf("Bail out! %s: %s\n", logpath, strerror(errno));
		return 1;
	}

	/* Connection refused first: bind a port, close it, use it. */
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&sin, sizeof sin) == -1 ||
	    getsockname(lfd, (struct sockaddr *)&sin, &slen) == -1) {
		printf("Bail out! bind\n");
		return 1;
	}
	close(lfd);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/api",
	    ntohs(sin.sin_port));
	c = colonies_open(url, &key, 2000, 2000);
	e = colonies_add_log(c, PID, "x", cause, sizeof cause);
	ok(e == COL_TRANSPORT && strncmp(cause, "colonies: ", 10) == 0,
	    "connection refused -> transport: %s", cause);
	ok(strstr(cause, PRVKEY) == NULL, "cause holds no key");
	colonies_free(c);

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	sin.sin_port = 0;
	slen = sizeof sin;
	if (bind(lfd, (struct sockaddr *)&sin, sizeof sin) == -1 ||
	    listen(lfd, 16) == -1 ||
	    getsockname(lfd, (struct sockaddr *)&sin, &slen) == -1) {
		printf("Bail out! listen\n");
		return 1;
	}
	fflush(stdout);
	if ((pid = fork()) == -1) {
		printf("Bail out! fork\n");
		return 1;
	}
	if (pid == 0)
		server(lfd, log);
	close(lfd);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/api",
	    ntohs(sin.sin_port));
	/* Generous: a loaded machine must not turn into a failure. */
	c = colonies_open(url, &key, 10000, 20000);
	ok(c != NULL, "client opened");

	e = colonies_assign(c, "testcolony", 10, &p, cause, sizeof cause);
	ok(e == COL_OK, "assign -> process: %s", e ? cause : "");
	is_str(p.processid, PID, "assigned processid");
	ok(p.prioritytime == INT64_C(1795596187052970772) && p.maxexectime ==
	    30 && p.isassigned, "assigned process fields");
	col_process_free(&p);
	e = colonies_assign(c, "testcolony", 10, &p, cause, sizeof cause);
	ok(e == COL_NOWORK, "assign 404 -> no work: %s", cause);

	out = json_pack("[s, {s:i}, i]", "ok", "amount", 5, 42);
	e = colonies_close_successful(c, PID, out, cause, sizeof cause);
	ok(e == COL_OK, "close successful");
	e = colonies_close_successful(c, PID, NULL, cause, sizeof cause);
	ok(e == COL_LOST, "close: 403 not assigned -> lost: %s", cause);
	e = colonies_close_failed(c, PID, errs, 2, cause, sizeof cause);
	ok(e == COL_LOST, "close: 400 Tried to set -> lost: %s", cause);
	/* The same out as text: the same request (checked below). */
	e = colonies_close_successful_text(c, PID, "[\"ok\",{\"amount\":5},42]",
	    cause, sizeof cause);
	ok(e == COL_LOST, "close: 500 process is nil -> lost: %s", cause);
	e = colonies_close_failed(c, PID, errs, 2, cause, sizeof cause);
	ok(e == COL_LOST, "close: 403 not allowed -> lost: %s", cause);
	e = colonies_close_failed(c, PID, errs, 0, cause, sizeof cause);
	ok(e == COL_AUTH, "close: 403 not a member stays auth: %s", cause);
	json_decref(out);

	e = colonies_get_process(c, PID, &p, cause, sizeof cause);
	ok(e == COL_OK && strcmp(p.funcname, "validate_revenue") == 0,
	    "get process");
	col_process_free(&p);
	ok(colonies_add_log(c, PID, "hello log\n", cause, sizeof cause) ==
	    COL_OK, "add log");
	ok(colonies_add_colony(c, key.id, "financebee", cause, sizeof cause) ==
	    COL_OK, "add colony");
	ok(colonies_add_executor(c, "financebee", key.id, "financebee",
	    "worker-1", cause, sizeof cause) == COL_OK, "add executor");
	ok(colonies_approve_executor(c, "financebee", "worker-1", cause,
	    sizeof cause) == COL_OK, "approve executor");
	j = NULL;
	ok(colonies_get_executor(c, "financebee", "worker-1", &j, cause,
	    sizeof cause) == COL_OK && json_integer_value(json_object_get(j,
	    "state")) == 1, "get executor");
	json_decref(j);
	ok(colonies_add_function(c, "financebee", "worker-1", "financebee",
	    "validate_revenue", cause, sizeof cause) == COL_OK,
	    "add function");
	spec = json_pack("{s:s, s:[s], s:{s:s}, s:i, s:i, s:i, s:i, "
	    "s:{s:s, s:s}}", "funcname", "validate_revenue", "args", "{}",
	    "kwargs", "source", "stripe", "priority", 0, "maxexectime", 30,
	    "maxretries", 3, "maxwaittime", 0, "conditions", "colonyname",
	    "financebee", "executortype", "financebee");
	e = colonies_submit(c, spec, &p, cause, sizeof cause);
	ok(e == COL_OK && strcmp(p.processid, PID) == 0, "submit");
	col_process_free(&p);
	json_decref(spec);

	big = malloc(2 * 1024 * 1024 + 1);
	memset(big, 'a', 2 * 1024 * 1024);
	big[2 * 1024 * 1024] = '\0';
	ok(colonies_add_log(c, PID, big, cause, sizeof cause) == COL_OK,
	    "2 MB request");
	free(big);

	j = json_object();
	e = colonies_call(c, "versionmsg", j, 0, &out, cause, sizeof cause);
	ok(e == COL_OK && strcmp(json_string_value(json_object_get(out,
	    "version")), "x") == 0, "generic call");
	json_decref(out);
	json_decref(j);

	e = colonies_assign(c, "testcolony", 10, &p, cause, sizeof cause);
	ok(e == COL_PROTO && p.processid[0] == '\0',
	    "assign with a bad Process -> protocol error: %s", cause);

	/*
	 * On a fresh connection: on a reused one http.c resends a request
	 * the peer closed without a byte of reply (a stale keep-alive).
	 */
	colonies_free(c);
	c = colonies_open(url, &key, 10000, 20000);
	e = colonies_add_log(c, PID, "x", cause, sizeof cause);
	ok(e == COL_TRANSPORT, "empty reply -> transport: %s", cause);
	colonies_free(c);
	c = colonies_open(url, &key, 10000, 300);
	e = colonies_add_log(c, PID, "x", cause, sizeof cause);
	ok(e == COL_TRANSPORT && strstr(cause, "timed out") != NULL,
	    "no reply within the request timeout -> transport: %s", cause);
	ok(strstr(cause, PRVKEY) == NULL, "cause holds no key");
	colonies_free(c);

	c = colonies_open(url, &key, 10000, 60000);
	colonies_set_abort(c, abort_cb, &naborts);
	e = colonies_assign(c, "testcolony", 30, &p, cause, sizeof cause);
	ok(e == COL_TRANSPORT && naborts > 0 && strstr(cause, "abort") != NULL,
	    "abort callback ends a long-poll -> transport: %s", cause);
	colonies_free(c);

	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);

	/* What the server saw. */
	nreq = read_log(logpath, req, 64);
	unlink(logpath);
	/* The aborted assign may or may not have reached the server. */
	ok(nreq == NSCRIPT || nreq == NSCRIPT - 1, "server saw %zu requests",
	    nreq);
	if (nreq < NSCRIPT - 1) {
		printf("Bail out! server log short\n");
		return 1;
	}
	is_str(req[0].body, "{\"signature\":\"3fd20c443c509dcd64e5658f3cd73cf7"
	    "52d84f759b2aa9bc6f79cd76167cbd77231215e53b2be051f599899f09948e8bb"
	    "855f8834c0ccd3738704b97d745a8e501\",\"payloadtype\":\"assignprocess"
	    "msg\",\"payload\":\"eyJjb2xvbnluYW1lIjoidGVzdGNvbG9ueSIsInRpbWVvdX"
	    "QiOjEwLCJhdmFpbGFibGVjcHUiOiIiLCJhdmFpbGFibGVtZW0iOiIiLCJtc2d0eXBl"
	    "IjoiYXNzaWducHJvY2Vzc21zZyJ9\"}",
	    "assign body on the wire = the 332-byte vector");
	is_str(req[1].body, req[0].body, "second assign: same cached body");
	for (i = 0; i < 19; i++)
		if (req[i].conn != 1 || req[i].expect)
			break;
	ok(i == 19, "19 calls on one kept-alive connection, no Expect: "
	    "(stopped at %d)", i);

	pl = payload_of(req[2].body, key.id, "closesuccessfulmsg");
	is_str(pl, "{\"processid\":\"" PID "\",\"out\":[\"ok\",{\"amount\":5},"
	    "42],\"msgtype\":\"closesuccessfulmsg\"}", "close successful "
	    "payload, signed");
	free(pl);
	pl = payload_of(req[5].body, key.id, "closesuccessfulmsg");
	is_str(pl, "{\"processid\":\"" PID "\",\"out\":[\"ok\",{\"amount\":5},"
	    "42],\"msgtype\":\"closesuccessfulmsg\"}", "close successful "
	    "with out as text: the same payload");
	free(pl);
	pl = payload_of(req[3].body, key.id, "closesuccessfulmsg");
	is_str(pl, "{\"processid\":\"" PID "\",\"out\":[],\"msgtype\":"
	    "\"closesuccessfulmsg\"}", "out NULL -> []");
	free(pl);
	pl = payload_of(req[4].body, key.id, "closefailedmsg");
	is_str(pl, "{\"processid\":\"" PID "\",\"errors\":[\"bad signature\","
	    "\"second \\\"one\\\"\"],\"msgtype\":\"closefailedmsg\"}",
	    "close failed payload");
	free(pl);
	pl = payload_of(req[8].body, key.id, "getprocessmsg");
	is_str(pl, "{\"processid\":\"" PID "\",\"msgtype\":\"getprocessmsg\"}",
	    "get process payload");
	free(pl);
	pl = payload_of(req[9].body, key.id, "addlogmsg");
	is_str(pl, "{\"processid\":\"" PID "\",\"message\":\"hello log\\n\","
	    "\"msgtype\":\"addlogmsg\"}", "add log payload");
	free(pl);
	pl = payload_of(req[10].body, key.id, "addcolonymsg");
	is_str(pl, "{\"colony\":{\"colonyid\":\"3fc05cf3df4b494e95d6a3d297a34f1"
	    "9938f7daa7422ab0d4f794454133341ac\",\"name\":\"financebee\"},"
	    "\"msgtype\":\"addcolonymsg\"}", "add colony payload");
	free(pl);
	pl = payload_of(req[11].body, key.id, "addexecutormsg");
	is_str(pl, "{\"executor\":{\"executorid\":\"3fc05cf3df4b494e95d6a3d297"
	    "a34f19938f7daa7422ab0d4f794454133341ac\",\"executortype\":"
	    "\"financebee\",\"executorname\":\"worker-1\",\"colonyname\":"
	    "\"financebee\"},\"msgtype\":\"addexecutormsg\"}",
	    "add executor payload");
	free(pl);
	pl = payload_of(req[12].body, key.id, "approveexecutormsg");
	is_str(pl, "{\"colonyname\":\"financebee\",\"executorname\":\"worker-1\","
	    "\"msgtype\":\"approveexecutormsg\"}", "approve payload");
	free(pl);
	pl = payload_of(req[13].body, key.id, "getexecutormsg");
	is_str(pl, "{\"colonyname\":\"financebee\",\"executorname\":\"worker-1\","
	    "\"msgtype\":\"getexecutormsg\"}", "get executor payload");
	free(pl);
	pl = payload_of(req[14].body, key.id, "addfunctionmsg");
	is_str(pl, "{\"fun\":{\"executorname\":\"worker-1\",\"executortype\":"
	    "\"financebee\",\"colonyname\":\"financebee\",\"funcname\":"
	    "\"validate_revenue\"},\"msgtype\":\"addfunctionmsg\"}",
	    "add function payload");
	free(pl);
	pl = payload_of(req[15].body, key.id, "submitfuncspecmsg");
	ok(pl != NULL && strncmp(pl, "{\"spec\":{\"funcname\":"
	    "\"validate_revenue\",\"args\":[\"{}\"]", 45) == 0 &&
	    strstr(pl, "\"msgtype\":\"submitfuncspecmsg\"") != NULL,
	    "submit payload: %.60s", pl ? pl : "(null)");
	free(pl);
	ok(strlen(req[16].body) > 2 * 1024 * 1024 && !req[16].expect,
	    "2 MB body sent without Expect: 100-continue");
	pl = payload_of(req[17].body, key.id, "versionmsg");
	is_str(pl, "{\"msgtype\":\"versionmsg\"}", "generic call payload");
	free(pl);
	for (i = 0; (size_t)i < nreq; i++)
		free(req[i].body);
	crypto_key_clear(&key);
	return tap_done();
}
