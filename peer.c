/*
 * peer.c - connections to other sheep for object IO, and which of a node's
 * two addresses they go to.
 *
 * A node started with -i advertises an IO address beside its cluster
 * address.  Object IO to it (a gateway's replica IO, recovery fetches, peer
 * reads) goes to the IO address while that path answers.  When it does not
 * -- a connect refused or timed out while the cluster address answers, or a
 * connection that stops answering (TCP user timeout and keepalive bound
 * that to about 2 s) -- the path is taken for down: its connections are
 * cut, the request is sent again over the cluster address (a write marked
 * as resent: wtag.c keeps a replica from applying it twice) and so is all
 * IO after it.  A probe thread asks every path that is down once a second;
 * when it answers, new IO goes back to it and the idle fallback connections
 * are dropped.  Nodes without an IO address are reached at their cluster
 * address only.
 *
 * Idle connections are cached per node and path; the ones lent out are
 * listed too, so that a new ring cuts those to nodes that left and a failed
 * path cuts its own.  All of it under conn_lock.  Worker, recovery, peer and
 * probe threads; never the main thread.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net.h"
#include "peer.h"
#include "sheep.h"

#define PEER_TIMEOUT_MS		30000	/* a peer busy that long is taken for gone */
#define CLUSTER_CONNECT_MS	3000
#define IO_CONNECT_MS		1000	/* the IO path may fall back: fail over fast */
/* a path that stops acknowledging (no RST, no link event) is dropped after ~2 s */
#define PATH_USER_TIMEOUT_MS	1500
#define PATH_KEEPIDLE_S		1
#define PATH_KEEPINTVL_S	1
#define PATH_KEEPCNT		2
#define PROBE_MS		1000	/* a round of probes starts every second */
#define PROBE_CONNECT_MS	500	/* a SYN lost to a dead link is not waited out */
#define MAX_IDLE_CONNS		128	/* all peers together; each worker may hold one per peer */
#define MAX_BUSY_CONNS		1024
#define MAX_DOWN_PATHS		1024

struct conn {
	struct node_id nid;
	int fd;
	bool io;
};

/* an IO path taken for down: since when, and why */
struct down_path {
	struct node_id nid;
	uint64_t since_us;
};

static pthread_mutex_t conn_lock = PTHREAD_MUTEX_INITIALIZER;
static struct conn idle[MAX_IDLE_CONNS];
static int nr_idle;
/*
 * Connections lent out (a request in flight on them), so that a membership
 * change or a failed path can cut them: a peer whose link died answers
 * nothing, and the request would otherwise wait for its timeout.
 */
static struct conn busy[MAX_BUSY_CONNS];
static int nr_busy;
static struct down_path downs[MAX_DOWN_PATHS];
static int nr_down;
static pthread_once_t probe_once = PTHREAD_ONCE_INIT;

static bool addr_set(const uint8_t a[16])
{
	static const uint8_t zero[16];

	return memcmp(a, zero, 16) != 0;
}

bool peer_has_io(const struct node_id *nid)
{
	return nid->io_port && addr_set(nid->io_addr) &&
	       (memcmp(nid->io_addr, nid->addr, 16) || nid->io_port != nid->port);
}

static char *io_str(const struct node_id *nid, char *buf, size_t len)
{
	char a[64];

	snprintf(buf, len, "%s:%u", addr_to_str(nid->io_addr, a, sizeof(a)), nid->io_port);
	return buf;
}

/* a connection given up: reset, so nothing left in its send queue is delivered later */
static void close_reset(int fd)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(fd);
}

/* caller holds conn_lock */
static int down_index(const struct node_id *nid)
{
	for (int i = 0; i < nr_down; i++)
		if (node_id_eq(&downs[i].nid, nid))
			return i;
	return -1;
}

/* caller holds conn_lock */
static void busy_add(const struct node_id *nid, int fd, bool io)
{
	if (fd >= 0 && nr_busy < MAX_BUSY_CONNS)
		busy[nr_busy++] = (struct conn){ .nid = *nid, .fd = fd, .io = io };
}

/* caller holds conn_lock */
static void busy_del(int fd)
{
	for (int i = 0; i < nr_busy; i++)
		if (busy[i].fd == fd) {
			busy[i] = busy[--nr_busy];
			return;
		}
}

/* caller holds conn_lock: drop idle and cut busy connections to nid on one path */
static void cut_path(const struct node_id *nid, bool io)
{
	for (int i = 0; i < nr_idle;) {
		if (!node_id_eq(&idle[i].nid, nid) || idle[i].io != io) {
			i++;
			continue;
		}
		close_reset(idle[i].fd);
		idle[i] = idle[--nr_idle];
	}
	if (!io)
		return;		/* fallback connections in flight finish their request */
	for (int i = 0; i < nr_busy; i++)
		if (node_id_eq(&busy[i].nid, nid) && busy[i].io)
			shutdown(busy[i].fd, SHUT_RDWR);	/* the owner fails over at once */
}

static void *probe_main(void *arg);

static void start_probe(void)
{
	pthread_t t;
	int err = pthread_create(&t, NULL, probe_main, NULL);

	if (err)
		sd_err("cannot start the IO path probe: %s", strerror(err));
	else
		pthread_detach(t);
}

/* the IO path to nid failed with err while its cluster address answers */
static void path_down(const struct node_id *nid, int err)
{
	char name[80], io[80];
	bool was_down;

	pthread_mutex_lock(&conn_lock);
	was_down = down_index(nid) >= 0;
	if (!was_down && nr_down < MAX_DOWN_PATHS)
		downs[nr_down++] = (struct down_path){ .nid = *nid, .since_us = now_usec() };
	cut_path(nid, true);
	pthread_mutex_unlock(&conn_lock);
	if (was_down)
		return;
	pthread_once(&probe_once, start_probe);
	node_id_to_str(nid, name, sizeof(name));
	sd_notice("IO path to %s: %s failed (%s); IO goes over %s", name,
		  io_str(nid, io, sizeof(io)), strerror(-err), name);
}

/* the probe reached nid's IO address: new IO goes there again */
static void path_up(const struct node_id *nid)
{
	char name[80], io[80];
	uint64_t since = 0;
	int i;

	pthread_mutex_lock(&conn_lock);
	i = down_index(nid);
	if (i >= 0) {
		since = downs[i].since_us;
		downs[i] = downs[--nr_down];
		cut_path(nid, false);
	}
	pthread_mutex_unlock(&conn_lock);
	if (i < 0)
		return;
	node_id_to_str(nid, name, sizeof(name));
	sd_notice("IO path to %s: %s answers again; IO goes back to it (after %" PRIu64 " ms)",
		  name, io_str(nid, io, sizeof(io)), (now_usec() - since) / 1000);
}

static bool path_is_down(const struct node_id *nid)
{
	bool down;

	pthread_mutex_lock(&conn_lock);
	down = down_index(nid) >= 0;
	pthread_mutex_unlock(&conn_lock);
	return down;
}

/* a new connection to addr:port, with the liveness bounds every peer connection has */
static int connect_peer(const uint8_t addr[16], uint16_t port, int timeout_ms)
{
	char host[64];
	int fd = connect_tcp(addr_to_str(addr, host, sizeof(host)), port, timeout_ms);

	if (fd >= 0) {
		set_io_timeout(fd, PEER_TIMEOUT_MS);
		set_liveness(fd, PATH_USER_TIMEOUT_MS, PATH_KEEPIDLE_S, PATH_KEEPINTVL_S,
			     PATH_KEEPCNT);
	}
	return fd;
}

/* an idle connection to nid on the path asked for, or -1 */
static int idle_take(const struct node_id *nid, bool io)
{
	int fd = -1;

	pthread_mutex_lock(&conn_lock);
	for (int i = 0; i < nr_idle; i++)
		if (node_id_eq(&idle[i].nid, nid) && idle[i].io == io) {
			fd = idle[i].fd;
			idle[i] = idle[--nr_idle];
			busy_add(nid, fd, io);
			break;
		}
	pthread_mutex_unlock(&conn_lock);
	return fd;
}

/*
 * A connection to nid: over its IO address unless it has none, its path is
 * down, or io_err says a request over it just failed; then over its
 * cluster address, and if that answers, the IO path is to blame.
 */
static struct peer_conn conn_get(const struct node_id *nid, int io_err)
{
	struct peer_conn c = { .fd = -1 };
	bool io = peer_has_io(nid);

	if (io && !io_err && !path_is_down(nid)) {
		c.fd = idle_take(nid, true);
		if (c.fd >= 0) {
			c.io = c.cached = true;
			return c;
		}
		c.fd = connect_peer(nid->io_addr, nid->io_port, IO_CONNECT_MS);
		if (c.fd >= 0) {
			c.io = true;
			goto out;
		}
		io_err = c.fd;
	}
	c.fd = idle_take(nid, false);
	if (c.fd >= 0) {
		c.cached = true;
	} else {
		c.fd = connect_peer(nid->addr, nid->port, CLUSTER_CONNECT_MS);
		if (c.fd < 0)
			return c;	/* the node, not a path: the membership will tell */
	}
	if (io && io_err)
		path_down(nid, io_err);
	if (c.cached)
		return c;
out:
	pthread_mutex_lock(&conn_lock);
	busy_add(nid, c.fd, c.io);
	pthread_mutex_unlock(&conn_lock);
	return c;
}

struct peer_conn peer_conn_get(const struct node_id *nid)
{
	return conn_get(nid, 0);
}

void peer_conn_put(const struct node_id *nid, struct peer_conn *c, bool healthy)
{
	int fd = c->fd;

	if (fd < 0)
		return;
	c->fd = -1;
	pthread_mutex_lock(&conn_lock);
	busy_del(fd);
	/* a fallback connection is not kept once the IO path is back */
	if (healthy && (c->io || !peer_has_io(nid) || down_index(nid) >= 0) &&
	    nr_idle < MAX_IDLE_CONNS) {
		idle[nr_idle++] = (struct conn){ .nid = *nid, .fd = fd, .io = c->io };
		fd = -1;
	}
	pthread_mutex_unlock(&conn_lock);
	if (fd >= 0) {
		if (healthy)
			close(fd);
		else
			close_reset(fd);
	}
}

static bool peer_reset(int err)
{
	return err == -ECONNRESET || err == -EPIPE;
}

static bool is_peer_write(uint8_t opcode)
{
	return opcode == SD_OP_WRITE_PEER || opcode == SD_OP_CREATE_AND_WRITE_PEER ||
	       opcode == SD_OP_REMOVE_PEER;
}

/*
 * After a request over c failed with err: the IO path is suspect unless a
 * cached connection was merely reset (the peer restarted: a fresh one
 * tells); a cached cluster connection gets one fresh try.
 */
static int next_io_err(const struct peer_conn *c, int err, bool *again)
{
	*again = c->io || c->cached;
	if (c->io && !(c->cached && peer_reset(err)))
		return err ? err : -EIO;
	return 0;
}

int peer_resend(const struct node_id *nid, struct sd_req *hdr, const void *wbuf,
		struct sd_rsp *rsp, void *rbuf, uint32_t rlen, const struct peer_conn *failed,
		int err)
{
	bool again;
	int io_err = next_io_err(failed, err, &again);

	if (!again)
		return SD_RES_NETWORK_ERROR;
	if (is_peer_write(hdr->opcode))
		hdr->flags |= SD_FLAG_CMD_RESEND;
	for (int attempt = 0; attempt < 2; attempt++) {
		struct peer_conn c = conn_get(nid, io_err);
		int ret;

		if (c.fd < 0)
			break;
		ret = exec_req(c.fd, hdr, wbuf, rsp, rbuf, rlen);
		peer_conn_put(nid, &c, ret == 0);
		if (!ret)
			return SD_RES_SUCCESS;
		io_err = next_io_err(&c, ret, &again);
		if (!again)
			break;
	}
	return SD_RES_NETWORK_ERROR;
}

int peer_exec(const struct node_id *nid, struct sd_req *hdr, const void *wbuf,
	      struct sd_rsp *rsp, void *rbuf, uint32_t rlen)
{
	struct peer_conn c = conn_get(nid, 0);
	int ret;

	if (c.fd < 0)
		return SD_RES_NETWORK_ERROR;
	ret = exec_req(c.fd, hdr, wbuf, rsp, rbuf, rlen);
	peer_conn_put(nid, &c, ret == 0);
	return ret ? peer_resend(nid, hdr, wbuf, rsp, rbuf, rlen, &c, ret) : SD_RES_SUCCESS;
}

static bool nid_in(const struct node_id *nid, const struct sd_node *nodes, int nr)
{
	for (int i = 0; i < nr; i++)
		if (node_id_eq(&nodes[i].nid, nid))
			return true;
	return false;
}

void peer_cut_departed(const struct sd_node *nodes, int nr)
{
	pthread_mutex_lock(&conn_lock);
	for (int i = 0; i < nr_idle;) {
		if (nid_in(&idle[i].nid, nodes, nr)) {
			i++;
			continue;
		}
		close_reset(idle[i].fd);
		idle[i] = idle[--nr_idle];
	}
	/* the owner sees its request fail at once and closes the fd (peer_conn_put) */
	for (int i = 0; i < nr_busy; i++)
		if (!nid_in(&busy[i].nid, nodes, nr))
			shutdown(busy[i].fd, SHUT_RDWR);
	for (int i = 0; i < nr_down;) {
		if (nid_in(&downs[i].nid, nodes, nr))
			i++;
		else
			downs[i] = downs[--nr_down];
	}
	pthread_mutex_unlock(&conn_lock);
}

/* one round trip to nid's IO address: a request any sheep answers from its main loop */
static bool probe(const struct node_id *nid)
{
	struct sd_req hdr = { .proto_ver = SD_SHEEP_PROTO_VER, .opcode = SD_OP_GET_LOGLEVEL,
			      .data_length = sizeof(uint32_t) };
	struct sd_rsp rsp;
	uint32_t level;
	int fd, ret;

	fd = connect_peer(nid->io_addr, nid->io_port, PROBE_CONNECT_MS);
	if (fd < 0)
		return false;
	set_io_timeout(fd, PROBE_CONNECT_MS);
	ret = exec_req(fd, &hdr, NULL, &rsp, &level, sizeof(level));
	close_reset(fd);
	return ret == 0 && rsp.result == SD_RES_SUCCESS;
}

static void *probe_main(void *arg)
{
	uint64_t round = now_usec();

	(void)arg;
	for (;;) {
		struct node_id todo[64];
		uint64_t now = now_usec();
		int n = 0;

		/* a round every PROBE_MS, however long the last one's probes waited */
		round += PROBE_MS * 1000;
		if (round > now)
			usleep((useconds_t)(round - now));
		else
			round = now;
		pthread_mutex_lock(&conn_lock);
		for (int i = 0; i < nr_down && n < (int)ARRAY_SIZE(todo); i++)
			todo[n++] = downs[i].nid;
		pthread_mutex_unlock(&conn_lock);
		for (int i = 0; i < n; i++)
			if (probe(&todo[i]))
				path_up(&todo[i]);
	}
	return NULL;
}
