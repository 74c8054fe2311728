/*
 * cluster_local.c - the "local" cluster driver: many sheep on one machine
 * (-c local[:DIR], default DIR /tmp/sheep-local).
 *
 * DIR/events is the cluster's total order: an append-only log of records
 * (JOIN, ACCEPT or REFUSE, LEAVE, NOTIFY, BLOCK, UNBLOCK, UPDATE), appended and read only under
 * flock(DIR/lock).  Every member replays the log from the start, so all of
 * them compute the same member list and block queue at every position; a
 * member delivers events to the core only from its own ACCEPT on.  The
 * oldest member (members[0]) accepts joins by appending an ACCEPT carrying
 * the join message as sd_join_handler rewrote it; with no members, the first
 * pending joiner accepts itself.  Failure detection: every member holds
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
#include "event.h"
#include "util.h"

#define EV_MAGIC 0x5348454c	/* "SHEL" */
#define DEFAULT_DIR "/tmp/sheep-local"
#define CHECK_INTERVAL_MS 100

enum { EV_JOIN = 1, EV_ACCEPT, EV_LEAVE, EV_NOTIFY, EV_BLOCK, EV_UNBLOCK, EV_REFUSE, EV_UPDATE };

struct ev_hdr {
	uint32_t magic;
	uint32_t type;
	int32_t pid;		/* of the sender (JOIN, ACCEPT: of the joined node) */
	uint32_t len;		/* payload bytes */
	struct sd_node node;	/* sender; joined node for ACCEPT; left node for LEAVE */
};

struct member {
	struct sd_node node;
	pid_t pid;
};

struct pending_join {
	struct member m;
	void *opaque;
	uint32_t len;
	bool accept_sent;
	struct list_node link;
};

struct block_ev {
	struct member m;
	bool callbacked;
	struct list_node link;
};

static char dir[PATH_MAX];
static int lock_fd = -1, log_fd = -1, ino_fd = -1, timer_fd = -1, alive_fd = -1;
static off_t read_off;
static struct sd_node self;
static pid_t self_pid;
static bool joined, join_sent;

static struct member members[SD_MAX_NODES];
static int nr_members;
static struct list_node pending_joins, blocks;

static bool same_member(const struct member *a, const struct sd_node *n, pid_t pid)
{
	return a->pid == pid && !memcmp(&a->node.nid, &n->nid, sizeof(n->nid.addr) + 2);
}

static bool is_self(const struct sd_node *n, pid_t pid)
{
	struct member me = { self, self_pid };

	return same_member(&me, n, pid);
}

static void member_nodes(struct sd_node *out)
{
	for (int i = 0; i < nr_members; i++)
		out[i] = members[i].node;
}

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
static int append(uint32_t type, const struct sd_node *node, pid_t pid, const void *buf,
		  uint32_t len)
{
	struct ev_hdr h = { .magic = EV_MAGIC, .type = type, .pid = pid, .len = len };
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
	if (ret)
		sd_err("cannot append to %s/events: %s", dir, strerror(-ret));
	return ret;
}

static void drop_blocks_of(const struct sd_node *n, pid_t pid)
{
	struct list_node *p = blocks.next;

	while (p != &blocks) {
		struct block_ev *b = list_entry(p, struct block_ev, link);

		p = p->next;
		if (same_member(&b->m, n, pid)) {
			list_del(&b->link);
			free(b);
		}
	}
}

static void drop_pending(const struct sd_node *n, pid_t pid)
{
	struct list_node *p = pending_joins.next;

	while (p != &pending_joins) {
		struct pending_join *j = list_entry(p, struct pending_join, link);

		p = p->next;
		if (same_member(&j->m, n, pid)) {
			list_del(&j->link);
			free(j->opaque);
			free(j);
		}
	}
}

static void handle(const struct ev_hdr *h, void *payload)
{
	struct sd_node nodes[SD_MAX_NODES];

	switch (h->type) {
	case EV_JOIN: {
		struct pending_join *j = xzalloc(sizeof(*j));

		j->m.node = h->node;
		j->m.pid = h->pid;
		j->opaque = xmalloc(h->len ? h->len : 1);
		memcpy(j->opaque, payload, h->len);
		j->len = h->len;
		list_add_tail(&j->link, &pending_joins);
		break;
	}
	case EV_ACCEPT:
		drop_pending(&h->node, h->pid);
		if (nr_members >= SD_MAX_NODES)
			break;
		members[nr_members].node = h->node;
		members[nr_members].pid = h->pid;
		nr_members++;
		if (is_self(&h->node, h->pid))
			joined = true;
		if (joined) {
			member_nodes(nodes);
			sd_accept_handler(&h->node, nodes, (size_t)nr_members, payload);
		}
		break;
	case EV_REFUSE:
		/* the joiner alone learns why (status KILLED); members are unchanged */
		drop_pending(&h->node, h->pid);
		if (is_self(&h->node, h->pid))
			sd_accept_handler(&h->node, &h->node, 1, payload);
		break;
	case EV_LEAVE: {
		bool was_member = false;

		drop_pending(&h->node, h->pid);
		drop_blocks_of(&h->node, h->pid);
		for (int i = 0; i < nr_members; i++) {
			if (!same_member(&members[i], &h->node, h->pid))
				continue;
			memmove(&members[i], &members[i + 1],
				sizeof(members[0]) * (size_t)(nr_members - i - 1));
			nr_members--;
			was_member = true;
			break;
		}
		if (was_member && joined && !is_self(&h->node, h->pid)) {
			member_nodes(nodes);
			sd_leave_handler(&h->node, nodes, (size_t)nr_members);
		}
		break;
	}
	case EV_UPDATE:
		for (int i = 0; i < nr_members; i++)
			if (same_member(&members[i], &h->node, h->pid))
				members[i].node = h->node;
		if (joined)
			sd_update_node_handler(&h->node);
		break;
	case EV_NOTIFY:
		if (joined)
			sd_notify_handler(&h->node, payload, h->len);
		break;
	case EV_BLOCK: {
		struct block_ev *b = xzalloc(sizeof(*b));

		b->m.node = h->node;
		b->m.pid = h->pid;
		list_add_tail(&b->link, &blocks);
		break;
	}
	case EV_UNBLOCK:
		if (!list_empty(&blocks)) {
			struct block_ev *b = list_first_entry(&blocks, struct block_ev, link);

			if (same_member(&b->m, &h->node, h->pid)) {
				list_del(&b->link);
				free(b);
			}
		}
		if (joined)
			sd_notify_handler(&h->node, payload, h->len);
		break;
	}
}

/* the designated acceptor appends ACCEPTs for pending joins */
static void accept_pending(void)
{
	struct sd_node nodes[SD_MAX_NODES];
	struct list_node *p;

	for (p = pending_joins.next; p != &pending_joins; p = p->next) {
		struct pending_join *j = list_entry(p, struct pending_join, link);
		bool mine;

		if (j->accept_sent)
			continue;
		if (nr_members > 0)
			mine = joined && is_self(&members[0].node, members[0].pid);
		else	/* nobody yet: the first pending joiner accepts itself */
			mine = is_self(&j->m.node, j->m.pid) &&
			       p == pending_joins.next;
		if (!mine)
			return;
		member_nodes(nodes);
		j->accept_sent = true;
		append(sd_join_handler(&j->m.node, nodes, (size_t)nr_members, j->opaque) ?
		       EV_ACCEPT : EV_REFUSE, &j->m.node, j->m.pid, j->opaque, j->len);
		return;	/* the ACCEPT changes the member list: re-evaluate after it */
	}
}

/* read and handle every complete record after read_off; caller holds the lock */
static void catch_up(void)
{
	for (;;) {
		struct ev_hdr h;
		void *payload = NULL;
		ssize_t n = xpread_full(log_fd, &h, sizeof(h), read_off);

		if (n < (ssize_t)sizeof(h)) {
			accept_pending();
			n = xpread_full(log_fd, &h, sizeof(h), read_off);
			if (n < (ssize_t)sizeof(h))
				return;
		}
		if (h.magic != EV_MAGIC || h.len > SD_MAX_EVENT_BUF_SIZE + SD_MAX_NODES *
		    sizeof(struct sd_node) + 4096)
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
		read_off += (off_t)(sizeof(h) + h.len);
		handle(&h, payload);
		free(payload);
	}
}

static void kick_block(void)
{
	struct block_ev *b;

	if (!joined || list_empty(&blocks))
		return;
	b = list_first_entry(&blocks, struct block_ev, link);
	if (!b->callbacked && is_self(&b->m.node, b->m.pid))
		b->callbacked = sd_block_handler(&b->m.node);
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

/* LEAVE for every member or pending joiner whose process is gone */
static void reap_dead(void)
{
	struct list_node *p;

	for (int i = 0; i < nr_members; i++)
		if (!member_alive(members[i].pid)) {
			append(EV_LEAVE, &members[i].node, members[i].pid, NULL, 0);
			catch_up();
			i = -1;	/* the list changed */
		}
	for (p = pending_joins.next; p != &pending_joins;) {
		struct pending_join *j = list_entry(p, struct pending_join, link);

		p = p->next;
		if (!member_alive(j->m.pid)) {
			append(EV_LEAVE, &j->m.node, j->m.pid, NULL, 0);
			catch_up();
			p = pending_joins.next;
		}
	}
}

static void process(bool check_pids)
{
	if (lock())
		return;
	catch_up();
	if (check_pids)
		reap_dead();
	unlock();
	kick_block();
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
		if (h.pid != self_pid && member_alive(h.pid))
			return;
		off += (off_t)(sizeof(h) + h.len);
	}
	if (ftruncate(log_fd, 0) < 0)
		sd_err("cannot reset %s/events: %m", dir);
}

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
	list_init(&pending_joins);
	list_init(&blocks);
	self_pid = getpid();
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

	self = *myself;
	memset(self.__rb, 0, sizeof(self.__rb));
	if (lock())
		return -EIO;
	catch_up();	/* learn the members, reap dead ones (a quick restart) */
	reap_dead();
	for (int i = 0; i < nr_members; i++)
		if (!memcmp(&members[i].node.nid, &self.nid, 18)) {
			unlock();
			sd_err("a live sheep (pid %d) already uses this address and port",
			       members[i].pid);
			return -EADDRINUSE;
		}
	ret = append(EV_JOIN, &self, self_pid, opaque, (uint32_t)opaque_len);
	join_sent = ret == 0;
	catch_up();
	unlock();
	kick_block();
	return ret;
}

static int local_leave(void)
{
	char path[PATH_MAX + 32];
	int ret;

	if (!join_sent || lock())
		return 0;
	ret = append(EV_LEAVE, &self, self_pid, NULL, 0);
	alive_path(path, sizeof(path), self_pid);
	unlink(path);
	unlock();
	return ret;
}

static int broadcast(uint32_t type, void *msg, size_t len)
{
	int ret;

	if (len > SD_MAX_EVENT_BUF_SIZE)
		return -EMSGSIZE;
	if (lock())
		return -EIO;
	ret = append(type, &self, self_pid, msg, (uint32_t)len);
	unlock();
	/* delivery happens from the loop (inotify), never inside this call */
	return ret;
}

static int local_notify(void *msg, size_t msg_len)
{
	return broadcast(EV_NOTIFY, msg, msg_len);
}

static int local_block(void)
{
	return broadcast(EV_BLOCK, NULL, 0);
}

static int local_unblock(void *msg, size_t msg_len)
{
	return broadcast(EV_UNBLOCK, msg, msg_len);
}

static int local_update_node(const struct sd_node *node)
{
	int ret;

	if (lock())
		return -EIO;
	ret = append(EV_UPDATE, node, self_pid, NULL, 0);
	unlock();
	return ret;
}

static struct cluster_driver cdrv_local = {
	.name = "local",
	.init = local_init,
	.get_local_addr = local_get_local_addr,
	.join = local_join,
	.leave = local_leave,
	.notify = local_notify,
	.block = local_block,
	.unblock = local_unblock,
	.update_node = local_update_node,
};

cdrv_register_driver(cdrv_local)
