/*
 * cluster_corosync.c - the "corosync" cluster driver, the default:
 *   -c corosync[:ID]      (CPG group "sheep", or "sheep:ID" for a second cluster)
 *
 * corosync's CPG gives the total order: agreed delivery with virtual
 * synchrony, so every process in the group sees the same messages and the
 * same view changes in the same order.  Each message is one evlog record
 * (evlog.h) in its partial-history mode, since a process sees only what is
 * delivered after it joined the group; a process that leaves the group is
 * applied as a LEAVE at that point of the order, on every member alike.  A
 * process is (corosync nodeid, pid), its incarnation nodeid << 32 | pid, so
 * a sheep restarted on the same host is a new member.
 *
 * Quorum (votequorum, through corosync's quorum API): we join only while
 * quorate.  Losing quorum (a view change that leaves us without it, or the
 * quorum service saying so) or losing corosync itself makes us start over in
 * place (sheep_restart) before anything more is applied, so a minority never
 * takes the majority's leave and never acknowledges a write as a member; the
 * new image waits, serving nothing, until corosync and quorum are back.
 * The first calls into corosync are bounded: a musl-built client hangs on
 * corosync's default shared-memory IPC.  Main thread only, but for that
 * bounded first connection.
 */
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <corosync/cfg.h>
#include <corosync/cpg.h>
#include <corosync/quorum.h>

#include "cluster.h"
#include "daemon.h"
#include "event.h"
#include "evlog.h"
#include "sheep.h"
#include "util.h"

#define GROUP_PREFIX		"sheep"
#define CONNECT_TIMEOUT_MS	5000	/* a healthy corosync answers in milliseconds */
#define SEND_TIMEOUT_MS		30000	/* flow control holding us back longer: corosync is stuck */
#define TICK_MS			1000
#define REJOIN_S		5	/* a joiner re-sends its JOIN this often */
#define MAX_RECORD		(8u << 20)
#define WAIT_ENV		"SHEEP_COROSYNC_WAIT"
#define LOST_QUORUM		"corosync: this node lost quorum (a partition, or too many nodes gone)"

static cpg_handle_t cpg;
static quorum_handle_t qh;
static bool connected, in_group, quorate, want_join, wait_for_corosync;
static int cpg_fd = -1, q_fd = -1, tick_fd = -1;
static struct cpg_name group;
static uint32_t my_nodeid;
static uint64_t self_inc, pos;
static struct cpg_address view[CPG_MEMBERS_MAX];
static size_t nr_view;
static time_t last_join_sent;
static struct sd_node join_node;	/* what the core asked us to join with */
static void *join_opaque;
static size_t join_len;

static uint64_t inc_of(uint32_t nodeid, uint32_t pid)
{
	return (uint64_t)nodeid << 32 | pid;
}

static bool in_view(uint64_t inc)
{
	for (size_t i = 0; i < nr_view; i++)
		if (inc_of(view[i].nodeid, view[i].pid) == inc)
			return true;
	return false;
}

/* everything dropped at once; the new image starts over (never returns) */
static void __attribute__((noreturn)) start_over(const char *why)
{
	if (connected) {
		cpg_finalize(cpg);
		quorum_finalize(qh);
	}
	setenv(WAIT_ENV, "1", 1);
	sheep_restart(why);
}

static void lost_corosync(const char *what, cs_error_t err) __attribute__((noreturn));

static int append(uint32_t type, const struct sd_node *node, uint64_t inc, const void *buf,
		  uint32_t len, uint32_t batch)
{
	struct ev_hdr h = { .magic = EV_MAGIC, .type = type, .inc = inc, .len = len,
			    .batch = batch };
	struct iovec iov[2] = { { &h, sizeof(h) }, { (void *)buf, len } };
	cs_error_t err;
	int waited = 0;

	if (!in_group)
		return -ENOTCONN;
	h.node = *node;
	memset(h.node.__rb, 0, sizeof(h.node.__rb));
	while ((err = cpg_mcast_joined(cpg, CPG_TYPE_AGREED, iov, len ? 2 : 1)) ==
	       CS_ERR_TRY_AGAIN && waited < SEND_TIMEOUT_MS) {
		/* flow control: corosync drains its queue on its own, without us */
		usleep(2000);
		waited += 2;
	}
	if (err == CS_ERR_LIBRARY || err == CS_ERR_BAD_HANDLE)
		lost_corosync("cpg_mcast_joined", err);
	if (err != CS_OK) {
		sd_err("corosync: cannot send a %u-byte record: error %d", len, err);
		return -EIO;
	}
	return 0;
}

static bool alive(const struct evlog_member *m)
{
	return in_view(m->inc);
}

/*
 * With no members anywhere, the process of the lowest (nodeid, pid) in the
 * view founds the cluster, once every other process in it is a joiner we
 * know of: a member never sends a JOIN, so one in the view stops us.
 */
static bool bootstrap_ok(void)
{
	uint64_t lowest = UINT64_MAX;

	for (size_t i = 0; i < nr_view; i++) {
		uint64_t inc = inc_of(view[i].nodeid, view[i].pid);

		if (inc < lowest)
			lowest = inc;
		if (inc != self_inc && !evlog_is_pending(inc))
			return false;
	}
	return lowest == self_inc;
}

static const struct evlog_ops corosync_ops = {
	.append = append,
	.alive = alive,
	.bootstrap_ok = bootstrap_ok,
};

static void deliver(cpg_handle_t h, const struct cpg_name *name, uint32_t nodeid, uint32_t pid,
		    void *msg, size_t len)
{
	struct ev_hdr hdr;

	(void)h;
	(void)name;
	if (len < sizeof(hdr) || len > MAX_RECORD) {
		sd_err("corosync: dropped a %zu-byte message from node %" PRIu32 " pid %" PRIu32,
		       len, nodeid, pid);
		return;
	}
	memcpy(&hdr, msg, sizeof(hdr));
	if (hdr.magic != EV_MAGIC || hdr.len != len - sizeof(hdr)) {
		sd_err("corosync: dropped a malformed message from node %" PRIu32 " pid %" PRIu32,
		       nodeid, pid);
		return;
	}
	evlog_apply(&hdr, (const char *)msg + sizeof(hdr), ++pos);
}

static bool have_quorum(void)
{
	int q = 0;

	return quorum_getquorate(qh, &q) == CS_OK && q;
}

static void confchg(cpg_handle_t h, const struct cpg_name *name,
		    const struct cpg_address *memb, size_t nr_memb,
		    const struct cpg_address *left, size_t nr_left,
		    const struct cpg_address *joined, size_t nr_joined)
{
	(void)h;
	(void)name;
	(void)joined;
	for (size_t i = 0; i < nr_left; i++)
		if (inc_of(left[i].nodeid, left[i].pid) == self_inc)
			start_over("corosync: we were removed from the group");
	/* a minority must not take the majority's leave: start over first */
	if (nr_left && !have_quorum())
		start_over("corosync: a view change left this node without quorum (a partition, "
			   "or too many nodes gone)");
	nr_view = MIN(nr_memb, (size_t)CPG_MEMBERS_MAX);
	memcpy(view, memb, nr_view * sizeof(view[0]));
	for (size_t i = 0; i < nr_left; i++) {
		struct ev_hdr leave = { .magic = EV_MAGIC, .type = EV_LEAVE,
					.inc = inc_of(left[i].nodeid, left[i].pid) };

		/* counted everywhere, known or not: evlog's generations see every record */
		evlog_node_of(leave.inc, &leave.node);
		sd_debug("corosync: node %" PRIu32 " pid %" PRIu32 " left the group (reason %u)",
			 left[i].nodeid, left[i].pid, left[i].reason);
		evlog_apply(&leave, NULL, ++pos);
	}
	/* a joiner makes itself known to whoever came in since its JOIN */
	if (nr_joined && !evlog_joined() && evlog_rejoin() == 0)
		last_join_sent = time(NULL);
}

static void quorum_changed(quorum_handle_t h, uint32_t q, uint64_t ring_seq, uint32_t nr,
			   uint32_t *nodes)
{
	(void)h;
	(void)ring_seq;
	(void)nr;
	(void)nodes;
	quorate = q;
	if (!q && in_group)
		start_over(LOST_QUORUM);
}

static void lost_corosync(const char *what, cs_error_t err)
{
	char why[160];

	snprintf(why, sizeof(why), "corosync: %s failed (error %d): corosync is gone", what, err);
	start_over(why);
}

static void post_dispatch(void)
{
	evlog_caught_up();
	evlog_kick_block();
}

static int start_join(void);

/* connected and quorate, asked to join and not yet in the group: join now */
static void join_if_ready(void)
{
	if (quorate && want_join && !in_group && start_join())
		start_over("corosync: cannot join the sheep group");
}

static void dispatch_cpg(void)
{
	cs_error_t err = cpg_dispatch(cpg, CS_DISPATCH_ALL);

	if (err != CS_OK && err != CS_ERR_TRY_AGAIN)
		lost_corosync("cpg_dispatch", err);
}

static void cpg_ready(int fd, uint32_t events, void *data)
{
	(void)fd;
	(void)events;
	(void)data;
	dispatch_cpg();
	post_dispatch();
}

static void quorum_ready(int fd, uint32_t events, void *data)
{
	cs_error_t err;

	(void)fd;
	(void)events;
	(void)data;
	err = quorum_dispatch(qh, CS_DISPATCH_ALL);
	if (err != CS_OK && err != CS_ERR_TRY_AGAIN)
		lost_corosync("quorum_dispatch", err);
	join_if_ready();
}

/*
 * The first calls run on a thread of their own so that a hang (shared-memory
 * IPC between a musl client and a glibc corosync) becomes an error.
 */
struct connect_job {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done, abandoned, shm;
	cs_error_t err;
	const char *step;
	uint32_t quorum_type;
	int quorate;
};

static cpg_model_v1_data_t model = {
	.model = CPG_MODEL_V1,
	.cpg_deliver_fn = deliver,
	.cpg_confchg_fn = confchg,
};

static quorum_callbacks_t quorum_cbs = { .quorum_notify_fn = quorum_changed };

/*
 * A musl client over corosync's shared-memory IPC: glibc's corosync and musl
 * lay out the shared semaphores differently, so any call that waits for a
 * reply may sleep forever (measured: 3 to 5 in 10 first calls).  Such a
 * connection maps the response ring from /dev/shm; a socket one does not.
 */
static bool musl_on_shm(void)
{
#ifdef __GLIBC__
	return false;
#else
	char line[512];
	bool shm = false;
	FILE *f = fopen("/proc/self/maps", "r");

	if (!f)
		return false;
	while (!shm && fgets(line, sizeof(line), f))
		shm = strstr(line, "/qb-response-cpg-header") != NULL;
	fclose(f);
	return shm;
#endif
}

static void *connect_thread(void *arg)
{
	struct connect_job *job = arg;
	cs_error_t err;
	bool abandoned;

	job->step = "cpg_initialize";
	err = cpg_model_initialize(&cpg, CPG_MODEL_V1, (cpg_model_data_t *)&model, NULL);
	if (err == CS_OK && musl_on_shm()) {
		job->shm = true;
		cpg_finalize(cpg);
		err = CS_ERR_NOT_SUPPORTED;
	} else if (err == CS_OK) {
		job->step = "cpg_local_get";
		err = cpg_local_get(cpg, &my_nodeid);
		if (err == CS_OK) {
			job->step = "quorum_initialize";
			err = quorum_initialize(&qh, &quorum_cbs, &job->quorum_type);
			if (err == CS_OK) {
				job->step = "quorum_getquorate";
				err = quorum_getquorate(qh, &job->quorate);
				if (err != CS_OK)
					quorum_finalize(qh);
			}
		}
		if (err != CS_OK)
			cpg_finalize(cpg);
	}
	pthread_mutex_lock(&job->lock);
	job->err = err;
	job->done = true;
	abandoned = job->abandoned;
	pthread_cond_signal(&job->cond);
	pthread_mutex_unlock(&job->lock);
	if (abandoned)
		free(job);
	return NULL;
}

/* 0, -ECONNREFUSED (no corosync), -ETIMEDOUT (hung), -EINVAL (no quorum provider) */
static int connect_corosync(bool quiet)
{
	struct connect_job *job = xzalloc(sizeof(*job));
	struct timespec until;
	pthread_t t;
	int ret = 0;

	pthread_mutex_init(&job->lock, NULL);
	pthread_cond_init(&job->cond, NULL);
	if (pthread_create(&t, NULL, connect_thread, job)) {
		free(job);
		return -EAGAIN;
	}
	pthread_detach(t);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += CONNECT_TIMEOUT_MS / 1000;
	pthread_mutex_lock(&job->lock);
	while (!job->done)
		if (pthread_cond_timedwait(&job->cond, &job->lock, &until) == ETIMEDOUT)
			break;
	if (!job->done) {
		/* the thread may never come back: it frees the job if it does */
		job->abandoned = true;
		pthread_mutex_unlock(&job->lock);
		cdrv_set_error("corosync did not answer %s within %d s. A sheep built with musl "
			       "(the static binary) hangs on corosync's shared-memory IPC: set "
			       "`system { qb_ipc_type: socket }` in corosync.conf and restart "
			       "corosync", job->step, CONNECT_TIMEOUT_MS / 1000);
		sd_err("%s", cdrv_error());
		return -ETIMEDOUT;
	}
	pthread_mutex_unlock(&job->lock);
	if (job->shm) {
		cdrv_set_error("corosync talks to us over shared memory, on which a sheep built "
			       "with musl (the static binary) can hang forever: set `system { "
			       "qb_ipc_type: socket }` in corosync.conf and restart corosync");
		sd_err("%s", cdrv_error());
		ret = -ETIMEDOUT;
	} else if (job->err != CS_OK) {
		if (!quiet) {
			cdrv_set_error("no corosync answered (%s: error %d). Start corosync on this "
				       "node (its corosync.conf needs a nodelist, `quorum { provider: "
				       "corosync_votequorum }` and `system { qb_ipc_type: socket }`), "
				       "or pick another cluster driver: -c local or "
				       "-c zookeeper:HOST:PORT", job->step, job->err);
			sd_err("%s", cdrv_error());
		}
		ret = -ECONNREFUSED;
	} else if (job->quorum_type != QUORUM_SET) {
		cdrv_set_error("corosync runs without a quorum provider, so a partition would "
			       "split the cluster in two: add `quorum { provider: "
			       "corosync_votequorum }` to corosync.conf");
		sd_err("%s", cdrv_error());
		cpg_finalize(cpg);
		quorum_finalize(qh);
		ret = -EINVAL;
	} else {
		quorate = job->quorate;
	}
	pthread_mutex_destroy(&job->lock);
	pthread_cond_destroy(&job->cond);
	free(job);
	return ret;
}

static int register_fds(void)
{
	cs_error_t err;

	err = cpg_fd_get(cpg, &cpg_fd);
	if (err == CS_OK)
		err = quorum_fd_get(qh, &q_fd);
	if (err == CS_OK)
		err = quorum_trackstart(qh, CS_TRACK_CHANGES);
	if (err != CS_OK) {
		sd_err("corosync: cannot watch the group and quorum: error %d", err);
		return -EIO;
	}
	if (register_event(cpg_fd, cpg_ready, NULL) < 0 ||
	    register_event(q_fd, quorum_ready, NULL) < 0)
		return -EIO;
	return 0;
}

static int start_join(void)
{
	cs_error_t err;
	int waited = 0;

	while ((err = cpg_join(cpg, &group)) == CS_ERR_TRY_AGAIN && waited < SEND_TIMEOUT_MS) {
		usleep(10000);
		waited += 10;
	}
	if (err != CS_OK) {
		sd_err("corosync: cannot join group %s: error %d", group.value, err);
		return -EIO;
	}
	in_group = true;
	sd_notice("corosync: node %" PRIu32 " pid %d joined group %s", my_nodeid, getpid(),
		  group.value);
	last_join_sent = time(NULL);
	return evlog_join(&join_node, join_opaque, join_len);
}

/* connect_corosync succeeded: we are this incarnation, watched by the loop */
static int now_connected(void)
{
	connected = true;
	self_inc = inc_of(my_nodeid, (uint32_t)getpid());
	evlog_init(&corosync_ops, self_inc);
	sd_notice("corosync: connected as node %" PRIu32 "%s", my_nodeid,
		  quorate ? "" : "; waiting for quorum");
	return register_fds();
}

static void tick(int fd, uint32_t events, void *data)
{
	uint64_t n;

	(void)events;
	(void)data;
	(void)!read(fd, &n, sizeof(n));
	if (!connected) {
		if (connect_corosync(true))
			return;
		if (now_connected())
			start_over("corosync: cannot watch the connection");
		join_if_ready();
		return;
	}
	/*
	 * corosync gone: over socket IPC (datagrams) its death need not wake
	 * any fd (it does not for the musl build), so ask it every tick: one
	 * local round trip, which a dead corosync fails at once.  A quorum
	 * lost without a word from the quorum service ends here too.
	 */
	dispatch_cpg();
	{
		int q = 0;
		cs_error_t err = quorum_getquorate(qh, &q);

		if (err != CS_OK && err != CS_ERR_TRY_AGAIN)
			lost_corosync("quorum_getquorate", err);
		if (err == CS_OK && !q && in_group)
			start_over(LOST_QUORUM);
	}
	/* a joiner nobody has answered: make sure its JOIN reached the deciders */
	if (in_group && !evlog_joined() && !evlog_founding() &&
	    time(NULL) - last_join_sent >= REJOIN_S && evlog_rejoin() == 0)
		last_join_sent = time(NULL);
	post_dispatch();
}

static int corosync_init(const char *option)
{
	struct itimerspec its = { { TICK_MS / 1000, 0 }, { TICK_MS / 1000, 0 } };
	int ret;

	if (option && *option) {
		if (strlen(option) > 64 || option[strspn(option, "abcdefghijklmnopqrstuvwxyz"
							   "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")]) {
			cdrv_set_error("invalid corosync option '%s' (want corosync[:ID], ID of "
				       "letters, digits, '_', '.' or '-')", option);
			sd_err("%s", cdrv_error());
			return -EINVAL;
		}
		snprintf(group.value, sizeof(group.value), "%s:%s", GROUP_PREFIX, option);
	} else {
		snprintf(group.value, sizeof(group.value), "%s", GROUP_PREFIX);
	}
	group.length = (uint32_t)strlen(group.value);
	wait_for_corosync = getenv(WAIT_ENV) != NULL;
	unsetenv(WAIT_ENV);

	tick_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (tick_fd < 0 || timerfd_settime(tick_fd, 0, &its, NULL) < 0 ||
	    register_event(tick_fd, tick, NULL) < 0)
		return errno ? -errno : -EIO;
	ret = connect_corosync(wait_for_corosync);
	if (ret == -ECONNREFUSED && wait_for_corosync) {
		sd_notice("corosync: not there yet; waiting for it (and quorum) to rejoin");
		return 0;	/* the tick connects */
	}
	if (ret)
		return ret;
	return now_connected();
}

static int corosync_join(const struct sd_node *myself, void *opaque, size_t len)
{
	/* sent once we are connected, quorate and in the group */
	join_node = *myself;
	join_opaque = xmalloc(len);
	memcpy(join_opaque, opaque, len);
	join_len = len;
	want_join = true;
	if (connected && quorate)
		return start_join();
	/* no quorum (yet): whoever started us need not wait for it */
	sheep_ready();
	return 0;
}

static int corosync_leave(void)
{
	return evlog_leave();
}

/* this node's address on the corosync ring */
static int corosync_local_addr(uint8_t addr[16])
{
	corosync_cfg_handle_t h;
	corosync_cfg_node_address_t a[4];
	unsigned int nodeid;
	int n = 0, ret = -ENOENT;

	/* corosync_cfg_initialize can hang like cpg (musl, shm IPC): init gives that error */
	if (connect_corosync(true))
		return -ENOENT;
	cpg_finalize(cpg);
	quorum_finalize(qh);
	if (corosync_cfg_initialize(&h, NULL) != CS_OK)
		return -ENOENT;
	if (corosync_cfg_local_get(h, &nodeid) == CS_OK &&
	    corosync_cfg_get_node_addrs(h, nodeid, 4, &n, a) == CS_OK && n > 0) {
		const struct sockaddr *sa = (const struct sockaddr *)a[0].address;

		memset(addr, 0, 16);
		if (sa->sa_family == AF_INET) {
			memcpy(addr + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
			ret = 0;
		} else if (sa->sa_family == AF_INET6) {
			memcpy(addr, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
			ret = 0;
		}
	}
	corosync_cfg_finalize(h);
	return ret;
}

static struct cluster_driver cdrv_corosync = {
	.name = "corosync",
	.init = corosync_init,
	.get_local_addr = corosync_local_addr,
	.join = corosync_join,
	.leave = corosync_leave,
	.notify = evlog_notify,
	.block = evlog_block,
	.unblock = evlog_unblock,
	.update_node = evlog_update_node,
};

cdrv_register_driver(cdrv_corosync)
