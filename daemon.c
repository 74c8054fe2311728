/*
 * daemon.c - the daemon's shared state and lifecycle, below every subsystem:
 * `sys` (the node's cluster state, declared in sheep.h), the pipe to the
 * launcher that waits for our join (sheep_ready, sheep_startup_failed), the
 * stop request (sheep_request_exit), the pidfile, and the restart in place
 * (sheep_restart).  sheep.c hands in the pipe, pidfile and argv at start and
 * decides when the process stops; group.c and the cluster drivers call the
 * hooks.  Nothing here calls up into them.
 */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "daemon.h"
#include "sheep.h"

static struct system_info sys_info;
struct system_info *sys = &sys_info;

/*
 * ready_fd is answered once, by the main thread (joined, or the start
 * failed) or handed to a new image by sheep_restart, which the zookeeper
 * driver's freeze watch may call from its own thread: ready_lock keeps the
 * three apart (a restart holds it into exec), and a restart after a failed
 * start exits instead, its launcher already gone.
 */
static pthread_mutex_t ready_lock = PTHREAD_MUTEX_INITIALIZER;
static int ready_fd = -1;	/* write end of the daemonize pipe */
static bool start_failed;
static bool pidfile_written;
static char pidfile[PATH_MAX * 2];
static char **saved_argv;

void daemon_set_ready_fd(int fd)
{
	ready_fd = fd;
}

int daemon_ready_fd(void)
{
	return ready_fd;
}

void daemon_set_pidfile(const char *path)
{
	snprintf(pidfile, sizeof(pidfile), "%s", path);
}

void daemon_write_pidfile(void)
{
	FILE *f;

	if (!pidfile[0])
		return;
	f = fopen(pidfile, "w");
	if (f) {
		fprintf(f, "%d\n", getpid());
		fclose(f);
		pidfile_written = true;
	} else {
		sd_err("cannot write pidfile %s: %m", pidfile);
	}
}

void daemon_remove_pidfile(void)
{
	if (pidfile_written)
		unlink(pidfile);
}

void daemon_set_argv(char **argv)
{
	saved_argv = argv;
}

/* called by group.c once we are a member: the parent may return now */
void sheep_ready(void)
{
	pthread_mutex_lock(&ready_lock);
	if (ready_fd >= 0) {
		char ok = 'R';

		(void)!write(ready_fd, &ok, 1);
		close(ready_fd);
		ready_fd = -1;
	}
	pthread_mutex_unlock(&ready_lock);
}

/* startup failed after daemonizing: the launcher prints why and exits 1 */
void sheep_startup_failed(const char *why)
{
	pthread_mutex_lock(&ready_lock);
	start_failed = true;
	if (ready_fd >= 0) {
		char buf[512];
		int n = snprintf(buf, sizeof(buf), "E%s", why);

		(void)!write(ready_fd, buf, (size_t)MIN(n, (int)sizeof(buf) - 1));
		close(ready_fd);
		ready_fd = -1;
	} else {
		fprintf(stderr, "sheep: %s\n", why);
	}
	pthread_mutex_unlock(&ready_lock);
}

void sheep_request_exit(void)
{
	__atomic_store_n(&sys->exiting, true, __ATOMIC_SEQ_CST);	/* see work_outstanding_add */
}

/*
 * Start over as a new member: the cluster has gone on without us (our
 * coordination session expired).  exec drops every thread, connection and
 * lock at once, so nothing more is served under the old membership; the
 * new image joins as a new incarnation and recovers like any rejoining node.
 */
void sheep_restart(const char *why)
{
	char fd[16];

	pthread_mutex_lock(&ready_lock);	/* held into exec; a second restart waits here */
	if (start_failed || !saved_argv) {
		sd_err("%s; not restarting: %s", why,
		       start_failed ? "the start has failed" : "no command line to restart");
		daemon_remove_pidfile();
		_exit(1);
	}
	sd_err("%s; restarting to rejoin the cluster", why);
	setenv("SHEEP_REEXEC", "1", 1);
	/* not joined yet: the launcher still waits; the new image answers it */
	if (ready_fd >= 0) {
		snprintf(fd, sizeof(fd), "%d", ready_fd);
		setenv("SHEEP_READY_FD", fd, 1);
	}
	execv("/proc/self/exe", saved_argv);
	sd_err("cannot restart: %m");
	_exit(1);
}
