/*
 * cluster_local.c - the "local" cluster driver: many sheep on one machine
 * (-c local[:DIR], default DIR /tmp/sheep-local).
 *
 * DIR/events is the cluster's total order: an append-only log of evlog
 * records (evlog.h), appended and read only under flock(DIR/lock); every
 * member replays it through evlog_apply.  The incarnation of a member is
 * its pid.  Failure detection: every member holds
 * flock(DIR/alive.PID) for its lifetime; every 100 ms each member probes the
 * others' files and appends a LEAVE for one whose lock is free.  The kernel
 * drops the lock when the process exits, before it is reaped, so a killed
 * sheep is seen at once even when nobody waits for its zombie.  inotify on the log wakes members up.  Different DIRs are
 * different clusters.  Main thread only.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "cluster.h"
#include "evlog.h"
#include "event.h"
#include "util.h"

#define DEFAULT_DIR "/tmp/sheep-local"
#define CHECK_INTERVAL_MS 100

static char dir[PATH_MAX];
static int lock_fd = -1, log_fd = -1, ino_fd = -1, timer_fd = -1, alive_fd = -1;
static off_t read_off;
static pid_t self_pid;

static int lock(void)
{
	while (flock(lock_fd, LOCK_EX) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

static void unlock(void)
{
	flock(lock_fd, LOCK_UN);
}

/* append one record; caller holds the lock */
static int append(uint32_t type, const struct sd_node *node, uint64_t inc, const void *buf,
		  uint32_t len, uint32_t batch)
{
	struct ev_hdr h = { .magic = EV_MAGIC, .type = type, .inc = inc, .len = len,
			    .batch = batch };
	off_t end = lseek(log_fd, 0, SEEK_END);
	char *rec;
	int ret;

	h.node = *node;
	memset(h.node.__rb, 0, sizeof(h.node.__rb));
	rec = xmalloc(sizeof(h) + len);
	memcpy(rec, &h, sizeof(h));
	if (len)
		memcpy(rec + sizeof(h), buf, len);
	ret = xpwrite_full(log_fd, rec, sizeof(h) + len, end);
	free(rec);
	if (ret) {
		sd_err("cannot append to %s/events: %s", dir, strerror(-ret));
		/* never leave a torn record: every member would wait at it */
		if (ftruncate(log_fd, end) < 0)
			sd_err("cannot trim %s/events: %m", dir);
	}
	return ret;
}

/* read and handle every complete record after read_off; caller holds the lock */
static void catch_up(void)
{
	for (;;) {
		struct ev_hdr h;
		void *payload = NULL;
		ssize_t n = xpread_full(log_fd, &h, sizeof(h), read_off);

		if (n < (ssize_t)sizeof(h)) {
			evlog_caught_up();
			n = xpread_full(log_fd, &h, sizeof(h), read_off);
			if (n < (ssize_t)sizeof(h))
				return;
		}
		if (h.magic != EV_MAGIC || h.len > EV_MAX_PAYLOAD)
			panic("corrupt event log %s/events at offset %lld", dir,
			      (long long)read_off);
		if (h.len) {
			payload = xmalloc(h.len);
			if (xpread_full(log_fd, payload, h.len, read_off + (off_t)sizeof(h)) <
			    (ssize_t)h.len) {
				free(payload);
				return;	/* not complete yet */
			}
		}
		evlog_apply(&h, payload, (uint64_t)read_off);
		read_off += (off_t)(sizeof(h) + h.len);
		free(payload);
	}
}

static void alive_path(char *buf, size_t len, pid_t pid)
{
	snprintf(buf, len, "%s/alive.%d", dir, (int)pid);
}

/* under the cluster lock: is the process that holds alive.PID still there? */
static bool member_alive(pid_t pid)
{
	char path[PATH_MAX + 32];
	bool alive;
	int fd;

	if (pid == self_pid)
		return true;
	alive_path(path, sizeof(path), pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return !(errno == ENOENT || (kill(pid, 0) < 0 && errno == ESRCH));
	alive = flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
	if (!alive)
		unlink(path);	/* a new process with this pid creates it under the lock */
	close(fd);
	return alive;
}

static bool local_alive(const struct evlog_member *m)
{
	return member_alive((pid_t)m->inc);
}

static void process(bool check_pids)
{
	if (lock())
		return;
	catch_up();
	if (check_pids) {
		evlog_reap();
		catch_up();
	}
	unlock();
	evlog_kick_block();
}

static void inotify_handler(int fd, uint32_t events, void *data)
{
	char buf[4096];

	(void)events;
	(void)data;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	process(false);
}

static void timer_handler(int fd, uint32_t events, void *data)
{
	uint64_t n;

	(void)events;
	(void)data;
	(void)!read(fd, &n, sizeof(n));
	process(true);
}

/* under the lock: a log that no live process wrote to belongs to a dead cluster */
static void reset_if_stale(void)
{
	off_t off = 0;
	struct ev_hdr h;

	while (xpread_full(log_fd, &h, sizeof(h), off) == (ssize_t)sizeof(h) &&
	       h.magic == EV_MAGIC) {
		if (h.inc != (uint64_t)self_pid && member_alive((pid_t)h.inc))
			return;
		off += (off_t)(sizeof(h) + h.len);
	}
	if (ftruncate(log_fd, 0) < 0)
		sd_err("cannot reset %s/events: %m", dir);
}

static const struct evlog_ops local_ops = {
	.append = append,
	.alive = local_alive,
	.lock = lock,
	.unlock = unlock,
};

static int local_init(const char *option)
{
	char path[PATH_MAX + 32];
	struct itimerspec its = { .it_interval = { 0, CHECK_INTERVAL_MS * 1000000L },
				  .it_value = { 0, CHECK_INTERVAL_MS * 1000000L } };
	int ret;

	snprintf(dir, sizeof(dir), "%s", option && option[0] ? option : DEFAULT_DIR);
	ret = mkdir_p(dir, 0755);
	if (ret) {
		sd_err("cannot create %s: %s", dir, strerror(-ret));
		return ret;
	}
	self_pid = getpid();
	evlog_init(&local_ops, (uint64_t)self_pid);
	snprintf(path, sizeof(path), "%s/lock", dir);
	lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	snprintf(path, sizeof(path), "%s/events", dir);
	log_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (lock_fd < 0 || log_fd < 0) {
		sd_err("cannot open the local cluster files in %s: %m", dir);
		return -errno;
	}
	ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (ino_fd < 0 || inotify_add_watch(ino_fd, path, IN_MODIFY) < 0) {
		sd_err("inotify on %s: %m", path);
		return -errno;
	}
	timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (timer_fd < 0 || timerfd_settime(timer_fd, 0, &its, NULL) < 0)
		return -errno;
	if (register_event(ino_fd, inotify_handler, NULL) < 0 ||
	    register_event(timer_fd, timer_handler, NULL) < 0)
		return -EINVAL;
	if (lock())
		return -EIO;
	alive_path(path, sizeof(path), self_pid);
	alive_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (alive_fd < 0 || flock(alive_fd, LOCK_EX | LOCK_NB) < 0) {
		sd_err("cannot hold %s: %m", path);
		unlock();
		return -EIO;
	}
	reset_if_stale();
	unlock();
	return 0;
}

static int local_get_local_addr(uint8_t addr[16])
{
	memset(addr, 0, 16);
	addr[12] = 127;
	addr[15] = 1;
	return 0;
}

static int local_join(const struct sd_node *myself, void *opaque, size_t opaque_len)
{
	int ret;

	if (lock())
		return -EIO;
	catch_up();	/* learn the members, reap dead ones (a quick restart) */
	evlog_reap();
	catch_up();
	if (evlog_addr_taken(myself)) {
		unlock();
		sd_err("a live sheep already uses this address and port");
		return -EADDRINUSE;
	}
	ret = evlog_join(myself, opaque, opaque_len);
	catch_up();
	unlock();
	evlog_kick_block();
	return ret;
}

static int local_leave(void)
{
	char path[PATH_MAX + 32];
	int ret;

	if (lock())
		return 0;
	ret = evlog_leave();
	alive_path(path, sizeof(path), self_pid);
	unlink(path);
	unlock();
	return ret;
}

static struct cluster_driver cdrv_local = {
	.name = "local",
	.init = local_init,
	.get_local_addr = local_get_local_addr,
	.join = local_join,
	.leave = local_leave,
	.notify = evlog_notify,
	.block = evlog_block,
	.unblock = evlog_unblock,
	.update_node = evlog_update_node,
};

cdrv_register_driver(cdrv_local)
