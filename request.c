/*
 * request.c - client connections and the life of a request.
 *
 * The main thread reads 48-byte headers and payloads from non-blocking
 * sockets, checks versions and cluster state, and dispatches through the ops
 * table: worker phases go to the pool, cluster ops to group.c.  Responses
 * are queued per connection in completion order (clients match them by id)
 * and written without blocking.  A connection stops reading while it has
 * MAX_INFLIGHT requests outstanding, which bounds the memory one client can
 * pin.  A client that closes with requests in flight is detached from them;
 * they finish and are freed.  Nothing here touches the disk.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "event.h"
#include "net.h"
#include "ops.h"
#include "objlock.h"
#include "recovery.h"
#include "sheep.h"

#define MAX_INFLIGHT 64
/* an accepted connection that stops acknowledging is dropped after ~30 s */
#define CLIENT_USER_TIMEOUT_MS	30000
#define CLIENT_KEEPIDLE_S	5
#define CLIENT_KEEPINTVL_S	5
#define CLIENT_KEEPCNT		3

static int nr_clients;		/* open connections */

struct client {
	int fd;
	int refcnt;		/* the connection itself + each request in flight */
	bool closed;
	int inflight;
	bool rx_paused;
	/* receive state: header, then payload */
	struct sd_req rx_hdr;
	size_t rx_off;
	struct request *rx_req;
	/* transmit queue of finished requests */
	struct list_node tx_list;
	size_t tx_off;
	uint32_t ev_mask;	/* what epoll watches for now (EPOLLIN on register) */
};


static void client_put(struct client *ci)
{
	if (--ci->refcnt == 0)
		free(ci);
}

/*
 * Payload buffers of big requests (up to one object) are kept for the next
 * request instead of going back to malloc: musl maps and unmaps every
 * allocation this big, so each 4 MiB request paid 1024 page faults and the
 * kernel zeroing its pages, on the node that received it and on every
 * replica (glibc keeps them in its heap: sheep.c raises its mmap
 * threshold).  At most POOL_MAX idle buffers stay, 4 MiB each: enough for
 * a client at depth 8 and the writes other gateways forward meanwhile.
 * Page-aligned inside a plain allocation: big writes go to disk from here
 * with O_DIRECT (store.c); posix_memalign fragmented glibc's heap (peak RSS
 * per node 38-51 -> 112-167 MiB under 4 MiB writes at depth 8).
 */
#define POOL_MIN	(64U << 10)
#define POOL_CAP	(SD_DATA_OBJ_SIZE + 4096)
#define POOL_MAX	16

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static void *pool[POOL_MAX];
static int pool_nr;

static bool pooled(uint32_t len)
{
	return len >= POOL_MIN && len + 4096 <= POOL_CAP;
}

static void *buf_get(uint32_t len)
{
	void *p = NULL;

	if (!pooled(len))
		return xmalloc(len >= 4096 ? len + 4096 : len);
	pthread_mutex_lock(&pool_lock);
	if (pool_nr)
		p = pool[--pool_nr];
	pthread_mutex_unlock(&pool_lock);
	return p ? p : xmalloc(POOL_CAP);
}

static void buf_put(void *p, uint32_t len)
{
	if (p && pooled(len)) {
		pthread_mutex_lock(&pool_lock);
		if (pool_nr < POOL_MAX) {
			pool[pool_nr++] = p;
			p = NULL;
		}
		pthread_mutex_unlock(&pool_lock);
	}
	free(p);
}

void put_request(struct request *req)
{
	buf_put(req->data_mem, req->data_size);
	free(req);
}

static struct request *alloc_request(const struct sd_req *hdr)
{
	struct request *req = xzalloc(sizeof(*req));

	req->rq = *hdr;
	req->arrival = obj_arrival();
	list_init(&req->link);
	if (hdr->data_length) {
		req->data_mem = buf_get(hdr->data_length);
		req->data = hdr->data_length >= 4096 ?
			(void *)(((uintptr_t)req->data_mem + 4095) & ~(uintptr_t)4095) :
			req->data_mem;
		req->data_size = hdr->data_length;
	}
	return req;
}

static void client_close(struct client *ci)
{
	if (ci->closed)
		return;
	ci->closed = true;
	nr_clients--;
	unregister_event(ci->fd);
	close(ci->fd);
	if (ci->rx_req) {
		put_request(ci->rx_req);
		ci->rx_req = NULL;
	}
	while (!list_empty(&ci->tx_list)) {
		struct request *req = list_first_entry(&ci->tx_list, struct request, link);

		list_del(&req->link);
		put_request(req);
	}
	client_put(ci);
}

static void client_update_events(struct client *ci)
{
	uint32_t ev = 0;

	if (ci->closed)
		return;
	if (!ci->rx_paused)
		ev |= EPOLLIN;
	if (!list_empty(&ci->tx_list))
		ev |= EPOLLOUT;
	/* one epoll_ctl per change, not per wake-up */
	if (ev != ci->ev_mask && !modify_event(ci->fd, ev))
		ci->ev_mask = ev;
}

/* write as much of the tx queue as the socket takes; false if the client died */
static bool client_flush(struct client *ci)
{
	while (!list_empty(&ci->tx_list)) {
		struct request *req = list_first_entry(&ci->tx_list, struct request, link);
		size_t dlen = req->rp.data_length, total = SD_RSP_SIZE + dlen;
		struct iovec iov[2];
		int cnt = 0;
		ssize_t n;

		if (ci->tx_off < SD_RSP_SIZE) {
			iov[cnt].iov_base = (char *)&req->rp + ci->tx_off;
			iov[cnt++].iov_len = SD_RSP_SIZE - ci->tx_off;
			if (dlen) {
				iov[cnt].iov_base = req->data;
				iov[cnt++].iov_len = dlen;
			}
		} else {
			iov[cnt].iov_base = (char *)req->data + (ci->tx_off - SD_RSP_SIZE);
			iov[cnt++].iov_len = total - ci->tx_off;
		}
		n = writev(ci->fd, iov, cnt);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return true;
			sd_debug("client fd %d: write: %m", ci->fd);
			client_close(ci);
			return false;
		}
		ci->tx_off += (size_t)n;
		if (ci->tx_off < total)
			continue;
		ci->tx_off = 0;
		list_del(&req->link);
		put_request(req);
	}
	return true;
}

static void client_resume_rx(struct client *ci)
{
	if (ci->rx_paused && ci->inflight < MAX_INFLIGHT)
		ci->rx_paused = false;
}

/* the response header echoes opcode and id and carries our epoch */
static void fill_response(struct request *req)
{
	req->rp.opcode = req->rq.opcode;
	req->rp.id = req->rq.id;
	req->rp.epoch = sys->epoch;
	/*
	 * A write is answered with a bare header: tgt reads no payload after a
	 * write response and would desynchronise on one.
	 */
	/* a piggyback request (OIDS_EXIST) has an answer on failure too: the missing oids */
	if ((req->rp.result != SD_RES_SUCCESS && !(req->rq.flags & SD_FLAG_CMD_PIGGYBACK)) ||
	    req->rp.data_length > req->data_size ||
	    ((req->rq.flags & SD_FLAG_CMD_WRITE) && !(req->rq.flags & SD_FLAG_CMD_PIGGYBACK)))
		req->rp.data_length = 0;
}

void request_done(struct request *req)
{
	struct client *ci = req->ci;

	ops_stat_end(req);
	if (!ci) {
		put_request(req);
		return;
	}
	ci->inflight--;
	if (ci->closed) {
		put_request(req);
		client_put(ci);
		return;
	}
	fill_response(req);
	list_add_tail(&req->link, &ci->tx_list);
	client_put(ci);
	if (!client_flush(ci))
		return;
	client_resume_rx(ci);
	client_update_events(ci);
}

static void finish_with(struct request *req, int result)
{
	req->rp.result = (uint32_t)result;
	request_done(req);
}

static void do_work(struct work *w)
{
	struct request *req = container_of(w, struct request, work);

	req->rp.result = (uint32_t)req->op->process_work(req);
}

static void do_work_done(struct work *w)
{
	struct request *req = container_of(w, struct request, work);

	if (req->rp.result == SD_RES_SUCCESS && req->op->process_main)
		req->rp.result = (uint32_t)req->op->process_main(&req->rq, &req->rp, req->data);
	request_done(req);
}

static int check_request(const struct sd_req *hdr, const struct sd_op_template *op)
{
	if (hdr->opcode >= SD_OP_INTERNAL_MIN) {
		if (hdr->proto_ver != SD_SHEEP_PROTO_VER)
			return SD_RES_VER_MISMATCH;
	} else if (hdr->proto_ver > SD_PROTO_VER) {
		return SD_RES_VER_MISMATCH;
	}
	if (!op || (hdr->flags & SD_FLAG_CMD_INTERNAL))
		return SD_RES_INVALID_PARMS;	/* internal notifies come from sheep itself */
	if (op->force)
		return SD_RES_SUCCESS;
	switch (sys->status) {
	case SD_STATUS_OK:
		return SD_RES_SUCCESS;
	case SD_STATUS_SHUTDOWN:
		return SD_RES_SHUTDOWN;
	case SD_STATUS_KILLED:
		return SD_RES_KILLED;
	default:
		return sys->ctime ? SD_RES_WAIT_FOR_JOIN : SD_RES_WAIT_FOR_FORMAT;
	}
}

static void queue_request(struct request *req)
{
	const struct sd_op_template *op = get_sd_op(req->rq.opcode);
	int ret;

	ret = check_request(&req->rq, op);
	if (ret != SD_RES_SUCCESS) {
		sd_debug("op %02x: refused with %02x", req->rq.opcode, ret);
		finish_with(req, ret);
		return;
	}
	req->op = op;
	ops_stat_begin(req);
	if (sys->exiting && op->type != OP_LOCAL) {
		finish_with(req, SD_RES_SHUTDOWN);
		return;
	}
	switch (op->type) {
	case OP_CLUSTER:
		queue_cluster_request(req);
		return;
	case OP_GATEWAY:
	case OP_PEER:
	case OP_LOCAL:
		if (op->process_work) {
			req->work.fn = do_work;
			req->work.done = do_work_done;
			queue_work_on(op_queue(&req->rq, op), &req->work);
		} else {
			finish_with(req, op->process_main(&req->rq, &req->rp, req->data));
		}
		return;
	}
}

static bool peer_conn_start(struct client *ci, struct request *req);

/* req is ci's now: in flight, holding a reference to ci until request_done */
static void client_take(struct client *ci, struct request *req)
{
	req->ci = ci;
	ci->refcnt++;
	ci->inflight++;
}

/* a payload follows the header */
static bool has_payload(const struct sd_req *hdr)
{
	return (hdr->flags & SD_FLAG_CMD_WRITE) && hdr->data_length;
}

/* a complete request: the connection's own thread takes it, or the ops table */
static void dispatch(struct client *ci, struct request *req)
{
	if (peer_conn_start(ci, req))
		return;
	client_take(ci, req);
	queue_request(req);
}

/* a complete header arrived: set up the payload phase or dispatch */
static int rx_header_done(struct client *ci)
{
	struct sd_req *hdr = &ci->rx_hdr;
	bool payload = has_payload(hdr);

	if (hdr->data_length > SD_MAX_PAYLOAD) {
		if (payload) {
			/* cannot skip an absurd payload cheaply: drop the client */
			sd_err("client fd %d: op %02x payload of %u bytes is too large, closing",
			       ci->fd, hdr->opcode, hdr->data_length);
			return -EPROTO;
		}
		struct sd_req h = *hdr;

		h.data_length = 0;
		struct request *req = alloc_request(&h);

		client_take(ci, req);
		finish_with(req, SD_RES_INVALID_PARMS);
		return 0;
	}
	ci->rx_req = alloc_request(hdr);
	ci->rx_off = 0;
	if (!payload) {
		struct request *req = ci->rx_req;

		ci->rx_req = NULL;
		dispatch(ci, req);
	}
	return 0;
}

static void client_handler(int fd, uint32_t events, void *data)
{
	struct client *ci = data;

	if (events & (EPOLLERR | EPOLLHUP) && !(events & EPOLLIN)) {
		client_close(ci);
		return;
	}
	if (events & EPOLLOUT) {
		if (!client_flush(ci))
			return;
		client_resume_rx(ci);
	}
	ci->refcnt++;		/* hold the client across dispatches below */
	while ((events & EPOLLIN) && !ci->closed && !ci->rx_paused) {
		void *buf;
		size_t want;
		ssize_t n;

		if (ci->rx_req) {
			buf = (char *)ci->rx_req->data + ci->rx_off;
			want = ci->rx_req->rq.data_length - ci->rx_off;
		} else {
			buf = (char *)&ci->rx_hdr + ci->rx_off;
			want = SD_REQ_SIZE - ci->rx_off;
		}
		n = read(fd, buf, want);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				client_close(ci);
			break;
		}
		if (n == 0) {
			client_close(ci);
			break;
		}
		ci->rx_off += (size_t)n;
		if ((size_t)n < want)
			continue;
		if (ci->rx_req) {
			struct request *req = ci->rx_req;

			ci->rx_req = NULL;
			ci->rx_off = 0;
			dispatch(ci, req);
		} else if (rx_header_done(ci) < 0) {
			client_close(ci);
			break;
		} else if (!ci->rx_req) {
			ci->rx_off = 0;
		}
		if (ci->inflight >= MAX_INFLIGHT)
			ci->rx_paused = true;
	}
	if (!ci->closed)
		client_update_events(ci);
	client_put(ci);
}

static struct client *client_new(int fd)
{
	struct client *ci = xzalloc(sizeof(*ci));

	ci->fd = fd;
	ci->refcnt = 1;
	ci->ev_mask = EPOLLIN;
	list_init(&ci->tx_list);
	set_nonblocking(fd);
	if (register_event(fd, client_handler, ci) < 0) {
		close(fd);
		free(ci);
		return NULL;
	}
	nr_clients++;
	return ci;
}

int client_attach(int fd)
{
	return client_new(fd) ? 0 : -EINVAL;
}

/*
 * Connections from other sheep carry one replication request at a time: the
 * sender waits for each answer before the next (gateway.c, recovery.c).  The
 * first replication request on such a connection moves it to a thread of its
 * own that reads, does and answers each request in turn, instead of two
 * thread hand-offs per request (main loop -> worker -> main loop).  A request
 * of another kind, or PEER_IDLE_S without any, hands the connection back to
 * the main loop, so idle cached connections hold no thread.  Bounded: past
 * MAX_PEER_THREADS connections stay on the main loop and the pool.
 */
#define MAX_PEER_THREADS 256
#define PEER_IDLE_S 30

struct peer_conn {
	int fd;
	struct request *req;	/* the next request to serve; NULL: none yet */
	bool bad;		/* req had an absurd length: answer INVALID_PARMS */
	struct work work;	/* to hand the connection back */
};

static int peer_threads;	/* atomic */

static bool served_inline(const struct sd_op_template *op)
{
	return op && op->type == OP_PEER && op->process_work && !op->process_main;
}

/*
 * The next request into pc->req; false when the sender closed, broke the
 * protocol or stalled mid-request (the connection is done), or sent nothing
 * for PEER_IDLE_S (pc->req NULL: hand it back).  As on the main loop
 * (rx_header_done), a length past SD_MAX_PAYLOAD ends the connection if a
 * payload follows, else is answered INVALID_PARMS.
 */
static bool peer_conn_read(struct peer_conn *pc)
{
	struct sd_req hdr;
	struct request *req;
	bool payload;
	ssize_t n;

	pc->req = NULL;
	do {
		n = recv(pc->fd, &hdr, sizeof(hdr), 0);
	} while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return true;	/* idle */
	if (n <= 0 || ((size_t)n < sizeof(hdr) &&
		       xread_full(pc->fd, (char *)&hdr + n, sizeof(hdr) - (size_t)n)))
		return false;
	payload = has_payload(&hdr);
	pc->bad = hdr.data_length > SD_MAX_PAYLOAD;
	if (pc->bad) {
		if (payload)
			return false;
		hdr.data_length = 0;
	}
	req = alloc_request(&hdr);
	if (payload && xread_full(pc->fd, req->data, hdr.data_length)) {
		put_request(req);
		return false;
	}
	pc->req = req;
	return true;
}

/* main thread: the connection is the main loop's again, with its next request if any */
static void peer_conn_return(struct work *w)
{
	struct peer_conn *pc = container_of(w, struct peer_conn, work);
	struct client *ci = client_new(pc->fd);
	struct request *req = pc->req;
	bool bad = pc->bad;

	free(pc);
	if (!req)
		return;
	if (!ci) {
		put_request(req);
		return;
	}
	client_take(ci, req);
	if (bad)
		finish_with(req, SD_RES_INVALID_PARMS);
	else
		queue_request(req);
}

static void *peer_conn_main(void *arg)
{
	struct peer_conn *pc = arg;
	struct timeval idle = { .tv_sec = PEER_IDLE_S };
	int fd = pc->fd, fl = fcntl(fd, F_GETFL), ret;

	if (fl >= 0)
		fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &idle, sizeof(idle));
	for (;;) {
		struct request *req = pc->req;

		/* counted in work_outstanding from its arrival to its answer */
		req->op = get_sd_op(req->rq.opcode);
		ret = pc->bad ? SD_RES_INVALID_PARMS : check_request(&req->rq, req->op);
		if (ret == SD_RES_SUCCESS && __atomic_load_n(&sys->exiting, __ATOMIC_SEQ_CST))
			ret = SD_RES_SHUTDOWN;
		if (ret == SD_RES_SUCCESS)
			ops_stat_begin(req);
		req->rp.result = (uint32_t)(ret == SD_RES_SUCCESS ? req->op->process_work(req) : ret);
		fill_response(req);
		ret = xwrite2_full(fd, &req->rp, SD_RSP_SIZE, req->data, req->rp.data_length);
		ops_stat_end(req);
		put_request(req);
		pc->req = NULL;
		work_outstanding_add(-1);
		if (ret || !peer_conn_read(pc))
			break;
		if (!pc->req || !served_inline(get_sd_op(pc->req->rq.opcode))) {
			/* idle, or not replication: the main loop takes the connection back */
			pc->work.fn = NULL;
			pc->work.done = peer_conn_return;
			/* counted in work_outstanding before it stops counting here */
			queue_done(&pc->work);
			__atomic_sub_fetch(&peer_threads, 1, __ATOMIC_RELAXED);
			return NULL;
		}
		work_outstanding_add(1);
	}
	close(fd);
	free(pc);
	__atomic_sub_fetch(&peer_threads, 1, __ATOMIC_RELAXED);
	return NULL;
}

/* main thread: move ci to a thread of its own if req starts a replication stream */
static bool peer_conn_start(struct client *ci, struct request *req)
{
	struct peer_conn *pc;
	pthread_attr_t attr;
	pthread_t t;
	int err;

	if (!served_inline(get_sd_op(req->rq.opcode)) || ci->inflight ||
	    !list_empty(&ci->tx_list) ||
	    __atomic_load_n(&peer_threads, __ATOMIC_RELAXED) >= MAX_PEER_THREADS)
		return false;
	pc = xzalloc(sizeof(*pc));
	pc->fd = ci->fd;
	pc->req = req;
	/* off the event loop before the thread may close the descriptor */
	unregister_event(ci->fd);
	__atomic_add_fetch(&peer_threads, 1, __ATOMIC_RELAXED);
	work_outstanding_add(1);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	err = pthread_create(&t, &attr, peer_conn_main, pc);
	pthread_attr_destroy(&attr);
	if (err) {
		__atomic_sub_fetch(&peer_threads, 1, __ATOMIC_RELAXED);
		work_outstanding_add(-1);
		free(pc);
		ci->ev_mask = EPOLLIN;
		if (register_event(ci->fd, client_handler, ci) < 0)
			client_close(ci);
		return false;
	}
	/* the descriptor is the thread's now; closed to client_handler */
	ci->fd = -1;
	ci->closed = true;
	nr_clients--;
	client_put(ci);
	return true;
}

/* open connections: on the main loop, and those a thread of their own serves */
int clients_open(void)
{
	return nr_clients + __atomic_load_n(&peer_threads, __ATOMIC_RELAXED);
}

static void listen_handler(int fd, uint32_t events, void *data)
{
	(void)events;
	(void)data;
	for (;;) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (cfd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				sd_err("accept: %m");
			return;
		}
		set_nodelay(cfd);
		/*
		 * A client or peer whose path died (an IO NIC cut, no RST) is
		 * let go: its thread or buffers are not held for good.  Fails
		 * harmlessly on a Unix socket.
		 */
		set_liveness(cfd, CLIENT_USER_TIMEOUT_MS, CLIENT_KEEPIDLE_S, CLIENT_KEEPINTVL_S,
			     CLIENT_KEEPCNT);
		client_attach(cfd);
	}
}

int create_listen_ports(const char *bindaddr, int port, const char *unix_path)
{
	int fd;

	fd = listen_tcp(bindaddr, port);
	if (fd < 0) {
		sd_err("cannot listen on %s:%d: %s", bindaddr ? bindaddr : "*", port,
		       strerror(-fd));
		return fd;
	}
	set_nonblocking(fd);
	register_event(fd, listen_handler, NULL);
	if (unix_path) {
		fd = listen_unix(unix_path);
		if (fd < 0) {
			sd_err("cannot listen on %s: %s", unix_path, strerror(-fd));
			return fd;
		}
		set_nonblocking(fd);
		register_event(fd, listen_handler, NULL);
	}
	return 0;
}
