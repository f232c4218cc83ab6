/*
 * http-bench [N [DELAY_US]]: the client CPU of one HTTP request through
 * src/colonies/http.c on a kept connection, against a forked loopback
 * server that answers each request after DELAY_US microseconds (default
 * 300, so that the client waits as a bee does).  Prints user, system and
 * total CPU per request (getrusage of the client only).  Asserts nothing.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "colonies.h"

static void
bench_serve(int lfd, useconds_t delay)
{
	static const char	body[] = "{\"signature\":\"aa\",\"payloadtype\":"
	    "\"x\",\"payload\":\"eyJhIjoxfQ==\"}";
	char			buf[65536], rep[512];
	ssize_t			r;
	int			fd, one = 1, n;

	n = snprintf(rep, sizeof rep, "HTTP/1.1 200 OK\r\nContent-Type: "
	    "application/json\r\nContent-Length: %zu\r\n\r\n%s",
	    sizeof body - 1, body);
	if ((fd = accept(lfd, NULL, NULL)) == -1)
		_exit(1);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	for (;;) {
		/* One request per read: they are small. */
		if ((r = read(fd, buf, sizeof buf)) <= 0)
			_exit(0);
		if (delay > 0)
			usleep(delay);
		if (write(fd, rep, (size_t)n) != n)
			_exit(0);
	}
}

static double
bench_cpu(int who_sys)
{
	struct rusage	ru;

	getrusage(RUSAGE_SELF, &ru);
	return who_sys ? ru.ru_stime.tv_sec * 1e6 + ru.ru_stime.tv_usec :
	    ru.ru_utime.tv_sec * 1e6 + ru.ru_utime.tv_usec;
}

int
main(int argc, char **argv)
{
	struct sockaddr_in	 sin;
	socklen_t		 slen = sizeof sin;
	struct http		*h;
	const char		*r;
	char			 url[64], cause[256], req[1501];
	double			 u0 = 0, s0 = 0, u1, s1;
	size_t			 rlen;
	pid_t			 pid;
	int			 lfd, st, i, n;

	n = argc > 1 ? atoi(argv[1]) : 20000;
	signal(SIGPIPE, SIG_IGN);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((lfd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    bind(lfd, (struct sockaddr *)&sin, sizeof sin) == -1 ||
	    listen(lfd, 4) == -1 ||
	    getsockname(lfd, (struct sockaddr *)&sin, &slen) == -1) {
		perror("http-bench: listen");
		return 1;
	}
	if ((pid = fork()) == 0)
		bench_serve(lfd, (useconds_t)(argc > 2 ? atoi(argv[2]) : 300));
	close(lfd);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/api",
	    ntohs(sin.sin_port));
	memset(req, 'a', sizeof req - 1);	/* a close-sized request */
	req[sizeof req - 1] = '\0';
	if ((h = http_open(url, 5000, cause, sizeof cause)) == NULL) {
		fprintf(stderr, "http-bench: %s\n", cause);
		return 1;
	}
	for (i = 0; i < 100 + n; i++) {
		if (i == 100) {
			u0 = bench_cpu(0);
			s0 = bench_cpu(1);
		}
		if (http_post(h, req, sizeof req - 1, 5000, 1 << 20, &st, &r,
		    &rlen, cause, sizeof cause) == -1) {
			fprintf(stderr, "http-bench: %s\n", cause);
			return 1;
		}
	}
	u1 = bench_cpu(0);
	s1 = bench_cpu(1);
	printf("http-bench: %d requests, per request: user %.1f us, system "
	    "%.1f us, total %.1f us\n", n, (u1 - u0) / n, (s1 - s0) / n,
	    (u1 - u0 + s1 - s0) / n);
	http_free(h);
	kill(pid, SIGTERM);
	waitpid(pid, &st, 0);
	return 0;
}
