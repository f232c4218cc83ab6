/*
 * proc.c: the one place the master forks.  A child gets a clean slate:
 * a bee its own end of a CLOEXEC socketpair as fd 3 (the channel) and its
 * status page as fd 4 (fbee-proto.h), every child (bee, registrar, prune)
 * the master's configuration snapshot as fd 5 (config_load_fd);
 * stdin/stdout/stderr, default signal dispositions and an empty mask, and
 * nothing else; then it re-executes this very binary, so no libevent,
 * libpq or OpenSSL state crosses the fork.
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "financebeed.h"
#include "fbee-proto.h"

#define PROC_CHANFD	3
#define PROC_STATUSFD	4
#define PROC_CONFIGFD	5

static char	proc_exe_path[PATH_MAX];
static char	*proc_title_area;	/* the original argv strings */
static size_t	 proc_title_len;

/*
 * The binary a child runs.  /proc/self/exe is stable even when the file
 * on disk is replaced by an upgrade: the bees always match the master (a
 * new binary would speak another channel protocol version).
 */
int
proc_init(char *cause, size_t causelen)
{
	if (access("/proc/self/exe", X_OK) == 0) {
		snprintf(proc_exe_path, sizeof(proc_exe_path), "%s",
		    "/proc/self/exe");
		return 0;
	}
	snprintf(cause, causelen, "/proc/self/exe: %s", strerror(errno));
	return -1;
}

const char *
proc_exe(void)
{
	return proc_exe_path;
}

/* In the child: fd from to fd to, without CLOEXEC. */
static int
proc_child_fd(int from, int to)
{
	if (from == to)
		return fcntl(to, F_SETFD, 0);
	return dup2(from, to) == -1 ? -1 : 0;	/* dup2 clears CLOEXEC */
}

/* In the child, between fork and exec: async-signal-safe calls only. */
static __dead void
proc_child(char *const argv[], int chanfd, int statusfd, int cfgfd)
{
	struct sigaction	sa;
	sigset_t		none;
	int			sig, keep;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (sig = 1; sig < NSIG; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		(void)sigaction(sig, &sa, NULL);
	}
	/* Out of the way first, so that one dup2 cannot clobber another. */
	if (statusfd != -1 &&
	    (statusfd = fcntl(statusfd, F_DUPFD_CLOEXEC, 10)) == -1)
		_exit(FB_EX_SOFTWARE);
	if (cfgfd != -1 && (cfgfd = fcntl(cfgfd, F_DUPFD_CLOEXEC, 10)) == -1)
		_exit(FB_EX_SOFTWARE);
	/* The fds the child gets, from 3 up; the gaps closed. */
	keep = STDERR_FILENO;
	if (chanfd != -1) {
		if (proc_child_fd(chanfd, PROC_CHANFD) == -1)
			_exit(FB_EX_SOFTWARE);
		keep = PROC_CHANFD;
	}
	if (statusfd != -1) {
		if (proc_child_fd(statusfd, PROC_STATUSFD) == -1)
			_exit(FB_EX_SOFTWARE);
		keep = PROC_STATUSFD;
	}
	if (cfgfd != -1) {
		if (proc_child_fd(cfgfd, PROC_CONFIGFD) == -1)
			_exit(FB_EX_SOFTWARE);
		keep = PROC_CONFIGFD;
	}
	if (chanfd == -1 && keep > PROC_CHANFD)
		(void)close(PROC_CHANFD);
	if (statusfd == -1 && keep > PROC_STATUSFD)
		(void)close(PROC_STATUSFD);
	if (close_range((unsigned int)keep + 1, ~0U, 0) == -1) {
		for (sig = keep + 1; sig < 1024; sig++)
			(void)close(sig);
	}
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execv(proc_exe_path, argv);
	_exit(127);
}

/*
 * A bee's status page: a zeroed shared mapping of a CLOEXEC memfd of fixed
 * size (sealed), stamped with the magic and version.  *fd is for
 * proc_spawn; the mapping outlives it.  NULL + cause on failure.
 */
struct fbee_shm *
proc_shm_create(int *fd, char *cause, size_t causelen)
{
	struct fbee_shm	*p;

	if ((*fd = memfd_create("financebee-status", MFD_CLOEXEC |
	    MFD_ALLOW_SEALING)) == -1) {
		snprintf(cause, causelen, "memfd_create: %s", strerror(errno));
		return NULL;
	}
	if (ftruncate(*fd, FBEE_SHM_SIZE) == -1) {
		snprintf(cause, causelen, "ftruncate: %s", strerror(errno));
		close(*fd);
		return NULL;
	}
	/* A bee that shrank the file would get the master a SIGBUS. */
	if (fcntl(*fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
	    F_SEAL_SEAL) == -1) {
		snprintf(cause, causelen, "F_ADD_SEALS: %s", strerror(errno));
		close(*fd);
		return NULL;
	}
	p = mmap(NULL, FBEE_SHM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, *fd,
	    0);
	if (p == MAP_FAILED) {
		snprintf(cause, causelen, "mmap: %s", strerror(errno));
		close(*fd);
		return NULL;
	}
	p->magic = FBEE_SHM_MAGIC;
	p->version = FBEE_SHM_VERSION;
	return p;
}

void
proc_shm_free(struct fbee_shm *p)
{
	if (p != NULL)
		munmap(p, FBEE_SHM_SIZE);
}

/*
 * Start argv[] as a child.  With chanfd != NULL, *chanfd gets the master's
 * end of the channel (non-blocking, CLOEXEC) and the child gets the other
 * end as fd 3; statusfd (if not -1) becomes its fd 4 and cfgfd (if not -1)
 * its fd 5.  Returns the pid, or -1 + cause.
 */
pid_t
proc_spawn(char *const argv[], int *chanfd, int statusfd, int cfgfd,
    char *cause, size_t causelen)
{
	sigset_t	all, oset;
	pid_t		pid;
	int		sp[2] = { -1, -1 }, saved;

	if (proc_exe_path[0] == '\0') {
		snprintf(cause, causelen, "proc_init was not called");
		return -1;
	}
	if (chanfd != NULL && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC,
	    0, sp) == -1) {
		snprintf(cause, causelen, "socketpair: %s", strerror(errno));
		return -1;
	}
	fflush(stdout);
	fflush(stderr);
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &oset);
	pid = fork();
	if (pid == 0) {
		if (sp[0] != -1)
			close(sp[0]);
		proc_child(argv, sp[1], statusfd, cfgfd);
	}
	saved = errno;
	sigprocmask(SIG_SETMASK, &oset, NULL);
	if (pid == -1) {
		snprintf(cause, causelen, "fork: %s", strerror(saved));
		if (sp[0] != -1) {
			close(sp[0]);
			close(sp[1]);
		}
		return -1;
	}
	if (chanfd != NULL) {
		close(sp[1]);
		if (fcntl(sp[0], F_SETFL, fcntl(sp[0], F_GETFL) |
		    O_NONBLOCK) == -1) {
			snprintf(cause, causelen, "fcntl: %s", strerror(errno));
			close(sp[0]);
			kill(pid, SIGKILL);
			return -1;
		}
		*chanfd = sp[0];
	}
	return pid;
}

/* "exit 75" or "signal 9" (+ " (core dumped)"). */
void
proc_status_str(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exit %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "signal %d%s", WTERMSIG(status),
		    WCOREDUMP(status) ? " (core dumped)" : "");
	else
		snprintf(buf, len, "status %#x", (unsigned int)status);
}

/*
 * Process titles, as nginx and PostgreSQL do them: a child started with
 * its role in argv keeps a copy of argv to parse, and its original argv
 * memory, which ps(1) reads through /proc/PID/cmdline, becomes the title
 * ("financebeed: bee 3 polling").  Its name for top(1), pgrep(1) and the
 * journal ("comm") is "financebeed", not the "exe" of /proc/self/exe.
 * Returns the copy; the original argv if anything fails.
 */
char **
proc_title_init(int argc, char *argv[])
{
	char	**copy;
	int	  i;

	(void)prctl(PR_SET_NAME, (unsigned long)FB_NAME "d", 0, 0, 0);
	if (argc < 1 || (copy = calloc((size_t)argc + 1, sizeof(*copy))) ==
	    NULL)
		return argv;
	for (i = 0; i < argc; i++) {
		/* Only a contiguous run of strings is ours to reuse. */
		if (i > 0 && argv[i] != argv[i - 1] + strlen(argv[i - 1]) + 1)
			break;
		if ((copy[i] = strdup(argv[i])) == NULL)
			break;
	}
	if (i < argc) {
		while (i-- > 0)
			free(copy[i]);
		free(copy);
		return argv;
	}
	proc_title_area = argv[0];
	proc_title_len = (size_t)(argv[argc - 1] + strlen(argv[argc - 1]) -
	    argv[0]) + 1;
	return copy;
}

void
proc_title(const char *fmt, ...)
{
	va_list	ap;
	int	n;

	if (proc_title_area == NULL || proc_title_len < 2)
		return;
	memset(proc_title_area, '\0', proc_title_len);
	n = snprintf(proc_title_area, proc_title_len, "%s: ", FB_NAME "d");
	if (n < 0 || (size_t)n >= proc_title_len)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(proc_title_area + n, proc_title_len - (size_t)n, fmt,
	    ap);
	va_end(ap);
}
