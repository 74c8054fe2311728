/*
 * gateway.c - client object IO and the peer side of replication.
 *
 * The gateway validates a request against the object's size, picks the
 * object's nodes on the current ring and sends the request to all of them
 * in parallel (writes: acknowledged only when every replica acknowledged)
 * or to one of them (reads: the local copy first, then the others).  A peer
 * whose epoch differs answers OLD/NEW_NODE_VER; the gateway waits for its
 * own view to catch up and retries.  Every replica IO, local or from a peer,
 * first makes the object current on this node (recovery.c: obj_acquire), so
 * a holder that missed writes never serves or extends a stale copy; the
 * per-object locks around a write are objlock.c's.
 *
 * Worker threads only.  The ring is replaced by the main thread
 * (gateway_set_ring) and shared by reference count under ring_lock; idle
 * peer connections are cached per node under conn_lock, which also lists
 * the ones lent out, so a new ring cuts those to nodes that left.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gateway.h"
#include "net.h"
#include "objlock.h"
#include "peer.h"
#include "recovery.h"
#include "ring.h"
#include "store.h"
#include "vdi.h"
#include "wtag.h"

#define EPOCH_RETRY_MS		50
#define EPOCH_RETRIES		200	/* 10 s for a membership change to settle */

static pthread_mutex_t ring_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ring *cur_ring;

void gateway_set_ring(const struct sd_node *nodes, int nr, uint32_t epoch)
{
	struct ring *r = ring_build(nodes, nr, epoch), *old;

	pthread_mutex_lock(&ring_lock);
	old = cur_ring;
	cur_ring = r;
	if (old && --old->refcnt == 0)
		ring_free(old);
	pthread_mutex_unlock(&ring_lock);
	peer_cut_departed(nodes, nr);
}

struct ring *gateway_get_ring(void)
{
	struct ring *r;

	pthread_mutex_lock(&ring_lock);
	r = cur_ring;
	if (r)
		r->refcnt++;
	pthread_mutex_unlock(&ring_lock);
	return r;
}

void gateway_put_ring(struct ring *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&ring_lock);
	if (--r->refcnt == 0)
		ring_free(r);
	pthread_mutex_unlock(&ring_lock);
}

uint32_t gateway_epoch(void)
{
	uint32_t e;

	pthread_mutex_lock(&ring_lock);
	e = cur_ring ? cur_ring->epoch : 0;
	pthread_mutex_unlock(&ring_lock);
	return e;
}

static bool nid_is_local(const struct node_id *nid)
{
	return !memcmp(nid->addr, sys->this_node.nid.addr, 16) &&
	       nid->port == sys->this_node.nid.port;
}

int gateway_peer_exec(const struct node_id *nid, struct sd_req *hdr, const void *wbuf,
		      struct sd_rsp *rsp, void *rbuf, uint32_t rlen)
{
	int ret = peer_exec(nid, hdr, wbuf, rsp, rbuf, rlen);

	return ret ? ret : (int)rsp->result;
}

uint8_t gateway_object_copies(uint64_t oid, uint8_t hint)
{
	struct vdi_state st;

	if (hint)
		return hint;
	if (vdi_get_state(oid_to_vid(oid), &st) && st.copies)
		return st.copies;
	return sys->copies ? sys->copies : 1;
}

/* one peer request as it goes on the wire */
struct peer_io {
	uint8_t opcode;		/* SD_OP_*_PEER */
	uint64_t oid;
	uint32_t offset;
	const void *wbuf;
	uint32_t wlen;
	void *rbuf;
	uint32_t rlen;
	uint32_t objsize;
	uint32_t epoch;		/* of the write, stamped into the object's version */
	uint64_t arrival;	/* writes: obj_arrival() when it came (0: not noted) */
	uint64_t tag;		/* writes: wtag.c's, the same for every replica and resend */
	bool lazy;		/* writes: write-back, durable at the next flush (store.h) */
};

static int local_store_io(const struct peer_io *io)
{
	uint32_t rlen, mine;
	int ret = obj_acquire(io->oid);

	if (ret)
		return ret;
	if (io->opcode == SD_OP_READ_PEER) {
		ret = store_read(io->oid, io->rbuf, io->rlen, io->offset, &rlen);
		obj_release(io->oid);
		return ret;
	}
	/* a write of an epoch we have left must not land after a peer recovered from us */
	obj_write_begin(io->oid);
	mine = gateway_epoch();
	if (io->epoch != mine)
		ret = io->epoch < mine ? SD_RES_OLD_NODE_VER : SD_RES_NEW_NODE_VER;
	else if ((io->opcode == SD_OP_WRITE_PEER || io->opcode == SD_OP_CREATE_AND_WRITE_PEER) &&
		 obj_replaced_since(io->oid, io->arrival) &&
		 store_holds(io->oid, io->wbuf, io->wlen, io->offset, io->epoch))
		/*
		 * Recovery replaced the object after this write came, with a
		 * copy that already has these bytes and was last written in
		 * this write's epoch: from a peer that applied this write first.
		 * Applying it again would change nothing but the version, one
		 * ahead of the peers' (the next restart would copy the object
		 * again).  A write resent in a later epoch is applied: its peers
		 * apply it again too.
		 */
		ret = SD_RES_SUCCESS;
	else if (io->opcode == SD_OP_WRITE_PEER)
		ret = (io->lazy ? store_write_lazy : store_write)(io->oid, io->wbuf, io->wlen,
								  io->offset, io->epoch);
	else if (io->opcode == SD_OP_CREATE_AND_WRITE_PEER && io->lazy)
		ret = store_create_lazy(io->oid, io->objsize, io->wbuf, io->wlen, io->offset,
					io->epoch);
	else if (io->opcode == SD_OP_CREATE_AND_WRITE_PEER)
		ret = store_create_and_write(io->oid, io->objsize, NULL, io->wbuf, io->wlen,
					     io->offset, io->epoch);
	else if (io->opcode == SD_OP_REMOVE_PEER)
		ret = store_remove(io->oid);
	else
		ret = SD_RES_INVALID_PARMS;
	obj_write_end(io->oid);
	obj_release(io->oid);
	return ret;
}

/*
 * IO on this node's replica.  Once our store has failed (store.h), the
 * sender is told to retry, as after a lost connection: group.c is turning
 * this node into a gateway, and the next ring leaves it out.
 */
static int local_io(const struct peer_io *io)
{
	int ret = local_store_io(io);

	if (ret == SD_RES_EIO && store_failed(NULL, 0))
		ret = SD_RES_NETWORK_ERROR;
	return ret;
}

static void fill_peer_req(struct sd_req *hdr, const struct peer_io *io, uint32_t epoch,
			  uint8_t copies)
{
	memset(hdr, 0, sizeof(*hdr));
	hdr->proto_ver = SD_SHEEP_PROTO_VER;
	hdr->opcode = io->opcode;
	hdr->epoch = epoch;
	hdr->obj.oid = io->oid;
	hdr->obj.offset = io->offset;
	hdr->obj.copies = copies;
	if (io->opcode != SD_OP_READ_PEER)
		hdr->obj.cow_oid = io->tag;	/* a peer write has no COW source */
	if (io->wlen || io->opcode == SD_OP_CREATE_AND_WRITE_PEER ||
	    io->opcode == SD_OP_WRITE_PEER) {
		hdr->flags = SD_FLAG_CMD_WRITE | (io->lazy ? SD_FLAG_CMD_LAZY : 0);
		hdr->data_length = io->wlen;
	} else {
		hdr->data_length = io->rlen;
	}
}

/* one node, blocking: SD_RES_* or SD_RES_NETWORK_ERROR */
static int node_io(const struct sd_node *n, const struct peer_io *io, uint32_t epoch,
		   uint8_t copies)
{
	struct sd_req hdr;
	struct sd_rsp rsp;
	int ret;

	if (nid_is_local(&n->nid)) {
		struct peer_io l = *io;

		l.epoch = epoch;
		return local_io(&l);
	}
	fill_peer_req(&hdr, io, epoch, copies);
	ret = peer_exec(&n->nid, &hdr, io->wbuf, &rsp, io->rbuf, io->rlen);
	if (ret)
		return ret;
	if (rsp.result == SD_RES_SUCCESS && io->opcode == SD_OP_READ_PEER &&
	    rsp.data_length < io->rlen)
		memset((char *)io->rbuf + rsp.data_length, 0, io->rlen - rsp.data_length);
	return (int)rsp.result;
}

static bool epoch_mismatch(int res)
{
	return res == SD_RES_OLD_NODE_VER || res == SD_RES_NEW_NODE_VER;
}

/*
 * Replica failures are retried every EPOCH_RETRY_MS until the membership
 * settles: a halted or departing replica would log twenty lines a second.
 * At most FAILURE_LOG_BURST a second, the rest counted in the next line.
 */
#define FAILURE_LOG_BURST	5

static bool failure_log_due(void)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static uint64_t second, dropped;
	static int n;
	uint64_t now = now_usec() / 1000000, told = 0;
	bool due;

	pthread_mutex_lock(&lock);
	if (now != second) {
		told = dropped;
		second = now;
		n = 0;
		dropped = 0;
	}
	due = n++ < FAILURE_LOG_BURST;
	if (!due)
		dropped++;
	pthread_mutex_unlock(&lock);
	if (told)
		sd_err("%" PRIu64 " more replica failures not logged in the last second", told);
	return due;
}

/*
 * Apply a write-type io on every holder in parallel: send to the remote ones,
 * do the local one, then collect.  Returns the first failure, or success
 * only if every holder succeeded.
 */
static int fanout_write(const struct ring *r, const int *idx, int nr, const struct peer_io *io,
			uint8_t copies)
{
	struct peer_conn conns[SD_MAX_COPIES];
	int res[SD_MAX_COPIES], err[SD_MAX_COPIES], ret = SD_RES_SUCCESS;
	uint64_t arrival;
	struct sd_req hdr;

	fill_peer_req(&hdr, io, r->epoch, copies);
	/*
	 * Our own copy is made current before the peers have the write: made
	 * current after, it would be fetched whole from a peer that already
	 * applied it (every write of a gateway still checking its objects
	 * after a restart cost a 4 MiB copy).  A failure shows in local_io.
	 */
	for (int i = 0; i < nr; i++)
		if (nid_is_local(&r->nodes[idx[i]].nid) && obj_acquire(io->oid) == SD_RES_SUCCESS)
			obj_release(io->oid);
	/* after that copy, before any peer can have the write: only a later fetch may hold it */
	arrival = obj_arrival();
	for (int i = 0; i < nr; i++) {
		const struct sd_node *n = &r->nodes[idx[i]];

		conns[i] = (struct peer_conn){ .fd = -1 };
		res[i] = SD_RES_SUCCESS;
		err[i] = 0;
		if (nid_is_local(&n->nid))
			continue;
		conns[i] = peer_conn_get(&n->nid);
		if (conns[i].fd < 0) {
			res[i] = SD_RES_NETWORK_ERROR;
			continue;
		}
		err[i] = xwrite2_full(conns[i].fd, &hdr, sizeof(hdr), io->wbuf, hdr.data_length);
	}
	for (int i = 0; i < nr; i++)
		if (nid_is_local(&r->nodes[idx[i]].nid)) {
			struct peer_io l = *io;

			l.epoch = r->epoch;
			l.arrival = arrival;
			res[i] = local_io(&l);
		}
	for (int i = 0; i < nr; i++) {
		const struct node_id *nid = &r->nodes[idx[i]].nid;
		struct sd_rsp rsp = { 0 };
		char sink[64];

		if (conns[i].fd < 0)
			continue;
		if (!err[i])
			err[i] = xread_full(conns[i].fd, &rsp, sizeof(rsp));
		if (!err[i] && rsp.data_length)
			err[i] = rsp.data_length > sizeof(sink) ? -EPROTO :
				 xread_full(conns[i].fd, sink, rsp.data_length);
		peer_conn_put(nid, &conns[i], !err[i]);
		if (!err[i]) {
			res[i] = (int)rsp.result;
			continue;
		}
		/*
		 * The node's IO path failed: once more over its cluster address,
		 * marked as resent, while the ring is the same.  Anything else
		 * (a node cut because it left, a dead idle connection) fails the
		 * fan-out, which is tried again whole on the current ring: a
		 * write resent to a node that left could wait out a frozen one
		 * and land after its client gave up and wrote anew.
		 */
		if (!conns[i].io || gateway_epoch() != r->epoch) {
			res[i] = SD_RES_NETWORK_ERROR;
			continue;
		}
		struct sd_req again = hdr;

		res[i] = peer_resend(nid, &again, io->wbuf, &rsp, sink, sizeof(sink), &conns[i],
				     err[i]);
		if (res[i] == SD_RES_SUCCESS)
			res[i] = (int)rsp.result;
	}
	for (int i = 0; i < nr; i++) {
		if (res[i] == SD_RES_NO_OBJ && io->opcode == SD_OP_REMOVE_PEER)
			res[i] = SD_RES_SUCCESS;	/* already gone: what we wanted */
		if (res[i] == SD_RES_SUCCESS)
			continue;
		if (ret == SD_RES_SUCCESS || epoch_mismatch(res[i]))
			ret = res[i];
		/* a missing object on remove is fine; on write the caller repairs */
		if ((res[i] != SD_RES_NO_OBJ || io->opcode == SD_OP_CREATE_AND_WRITE_PEER) &&
		    failure_log_due()) {
			char name[64];

			node_id_to_str(&r->nodes[idx[i]].nid, name, sizeof(name));
			sd_err("oid %016" PRIx64 ": op %02x on %s failed: result %02x", io->oid,
			       io->opcode, name, res[i]);
		}
	}
	return ret;
}

/*
 * Cut from the cluster driver (sd_link_handler): the others may be about to
 * go on without us, so this node serves no IO until the link is back or it
 * starts over.  Waited out like a membership change.
 */
static bool link_lost(void)
{
	return __atomic_load_n(&sys->link_lost, __ATOMIC_ACQUIRE);
}

static int do_write_io(const struct peer_io *orig, uint8_t hint)
{
	uint8_t copies = gateway_object_copies(orig->oid, hint);
	struct peer_io tagged = *orig, *io = &tagged;

	tagged.tag = wtag_new();
	for (int attempt = 0;; attempt++) {
		struct ring *r;
		int idx[SD_MAX_COPIES], nr, ret;

		if (link_lost()) {
			if (attempt >= EPOCH_RETRIES)
				return SD_RES_HALT;
			usleep(EPOCH_RETRY_MS * 1000);
			continue;
		}
		r = gateway_get_ring();
		if (!r)
			return SD_RES_HALT;
		nr = ring_pick_nodes(r, io->oid, copies, idx);
		if (nr == 0) {
			gateway_put_ring(r);
			return SD_RES_HALT;
		}
		ret = fanout_write(r, idx, nr, io, copies);
		gateway_put_ring(r);
		if ((!epoch_mismatch(ret) && ret != SD_RES_NETWORK_ERROR) ||
		    attempt >= EPOCH_RETRIES)
			return ret;
		usleep(EPOCH_RETRY_MS * 1000);
	}
}

static int do_read_io(const struct peer_io *io, uint8_t hint)
{
	uint8_t copies = gateway_object_copies(io->oid, hint);

	for (int attempt = 0;; attempt++) {
		struct ring *r;
		int idx[SD_MAX_COPIES], nr, ret = SD_RES_NO_OBJ;
		bool retry = false;

		if (link_lost()) {
			if (attempt >= EPOCH_RETRIES)
				return SD_RES_HALT;
			usleep(EPOCH_RETRY_MS * 1000);
			continue;
		}
		r = gateway_get_ring();
		if (!r)
			return SD_RES_HALT;
		nr = ring_pick_nodes(r, io->oid, copies, idx);
		/* the local replica first */
		for (int i = 1; i < nr; i++)
			if (nid_is_local(&r->nodes[idx[i]].nid)) {
				int t = idx[0];

				idx[0] = idx[i];
				idx[i] = t;
			}
		for (int i = 0; i < nr; i++) {
			int res = node_io(&r->nodes[idx[i]], io, r->epoch, copies);

			if (res == SD_RES_SUCCESS) {
				gateway_put_ring(r);
				return res;
			}
			/* a peer's view or connection may be catching up: try again */
			retry |= epoch_mismatch(res) || res == SD_RES_NETWORK_ERROR;
			if (res != SD_RES_NO_OBJ)
				ret = res;
		}
		gateway_put_ring(r);
		if (!retry || attempt >= EPOCH_RETRIES)
			return ret;
		usleep(EPOCH_RETRY_MS * 1000);
	}
}

static int check_range(uint64_t oid, uint32_t len, uint32_t off)
{
	uint32_t size = vdi_object_size(oid);

	if (off > size || len > size - off) {
		sd_err("oid %016" PRIx64 ": %u bytes at %u exceed the object size %u", oid, len,
		       off, size);
		return SD_RES_INVALID_PARMS;
	}
	return SD_RES_SUCCESS;
}

/*
 * Writes to an object of a snapshot are refused (clients must COW), and to
 * one of a deleted VDI (a client still attached would leave objects no VDI
 * points at)
 */
static int check_writable(uint64_t oid)
{
	struct vdi_state st;

	if (!is_data_obj(oid) || !vdi_get_state(oid_to_vid(oid), &st))
		return SD_RES_SUCCESS;
	return st.deleted ? SD_RES_NO_VDI : st.snapshot ? SD_RES_READONLY : SD_RES_SUCCESS;
}

int gateway_read_obj(uint64_t oid, void *buf, uint32_t len, uint32_t off)
{
	struct peer_io io = { .opcode = SD_OP_READ_PEER, .oid = oid, .offset = off,
			      .rbuf = buf, .rlen = len };
	int ret = check_range(oid, len, off);

	if (ret)
		return ret;
	return do_read_io(&io, 0);
}

static int write_obj(uint64_t oid, const void *buf, uint32_t len, uint32_t off, bool lazy)
{
	struct peer_io io = { .opcode = SD_OP_WRITE_PEER, .oid = oid, .offset = off,
			      .wbuf = buf, .wlen = len, .lazy = lazy };
	int ret = check_range(oid, len, off);

	if (!ret)
		ret = check_writable(oid);
	if (ret)
		return ret;
	return do_write_io(&io, 0);
}

int gateway_write_obj(uint64_t oid, const void *buf, uint32_t len, uint32_t off)
{
	return write_obj(oid, buf, len, off, false);
}

int gateway_write_obj_lazy(uint64_t oid, const void *buf, uint32_t len, uint32_t off)
{
	return write_obj(oid, buf, len, off, true);
}

static int create_and_write(uint64_t oid, uint64_t cow_oid, const void *buf, uint32_t len,
			    uint32_t off, uint8_t copies, bool lazy)
{
	uint32_t size = vdi_object_size(oid);
	/* a copy-on-write create is durable: after a power loss, zeros are not its old data */
	struct peer_io io = { .opcode = SD_OP_CREATE_AND_WRITE_PEER, .oid = oid,
			      .offset = off, .wbuf = buf, .wlen = len, .objsize = size,
			      .lazy = lazy && !cow_oid };
	char *whole = NULL;
	int ret = check_range(oid, len, off);

	if (!ret)
		ret = check_writable(oid);
	if (ret)
		return ret;
	if (cow_oid) {
		/* copy-on-write: the new object is the source with the write applied */
		if (vdi_object_size(cow_oid) != size)
			return SD_RES_INVALID_PARMS;
		whole = xmalloc(size);
		ret = gateway_read_obj(cow_oid, whole, size, 0);
		if (ret) {
			sd_err("oid %016" PRIx64 ": cannot read cow source %016" PRIx64, oid,
			       cow_oid);
			free(whole);
			return ret;
		}
		memcpy(whole + off, buf, len);
		io.wbuf = whole;
		io.wlen = size;
		io.offset = 0;
	}
	ret = do_write_io(&io, copies);
	free(whole);
	return ret;
}

int gateway_create_and_write_obj(uint64_t oid, uint64_t cow_oid, const void *buf,
				 uint32_t len, uint32_t off)
{
	return create_and_write(oid, cow_oid, buf, len, off, 0, false);
}

int gateway_create_obj_lazy(uint64_t oid, uint64_t cow_oid, const void *buf, uint32_t len,
			    uint32_t off)
{
	return create_and_write(oid, cow_oid, buf, len, off, 0, true);
}

int gateway_create_obj_copies(uint64_t oid, const void *buf, uint32_t len, uint8_t copies)
{
	return create_and_write(oid, 0, buf, len, 0, copies, false);
}

int gateway_remove_obj(uint64_t oid)
{
	struct peer_io io = { .opcode = SD_OP_REMOVE_PEER, .oid = oid };

	return do_write_io(&io, 0);
}

/*
 * Every lazy write acknowledged so far durable: FLUSH_PEER to every node of
 * the ring at once (a write's replicas, and any node recovery copied it
 * from), our own store too.  A node that does not answer is waited out
 * like a membership change: once the ring leaves it out, its replicas'
 * other copies are the ones made durable.
 */
/* our store's lazy writes durable; a store that failed holds none */
static int flush_local(void)
{
	int ret = store_flush();

	return ret == SD_RES_EIO && store_failed(NULL, 0) ? SD_RES_SUCCESS : ret;
}

static int flush_ring(const struct ring *r)
{
	int ret = SD_RES_SUCCESS, nr = r->nr_nodes;
	struct peer_conn *conns = xcalloc((size_t)nr, sizeof(*conns));
	struct sd_req hdr = { .proto_ver = SD_SHEEP_PROTO_VER, .opcode = SD_OP_FLUSH_PEER,
			      .epoch = r->epoch };

	for (int i = 0; i < nr; i++) {
		conns[i] = (struct peer_conn){ .fd = -1 };
		if (nid_is_local(&r->nodes[i].nid))
			continue;
		conns[i] = peer_conn_get(&r->nodes[i].nid);
		if (conns[i].fd < 0)
			ret = SD_RES_NETWORK_ERROR;
		else if (xwrite_full(conns[i].fd, &hdr, sizeof(hdr)))
			peer_conn_put(&r->nodes[i].nid, &conns[i], false);	/* fd -1 now */
	}
	for (int i = 0; i < nr; i++)
		if (nid_is_local(&r->nodes[i].nid)) {
			int res = flush_local();

			if (res != SD_RES_SUCCESS)
				ret = res;
		}
	for (int i = 0; i < nr; i++) {
		struct sd_rsp rsp = { 0 };

		if (conns[i].fd < 0) {
			if (!nid_is_local(&r->nodes[i].nid) && ret == SD_RES_SUCCESS)
				ret = SD_RES_NETWORK_ERROR;
			continue;
		}
		if (xread_full(conns[i].fd, &rsp, sizeof(rsp)) || rsp.data_length) {
			peer_conn_put(&r->nodes[i].nid, &conns[i], false);
			if (ret == SD_RES_SUCCESS)
				ret = SD_RES_NETWORK_ERROR;
			continue;
		}
		peer_conn_put(&r->nodes[i].nid, &conns[i], true);
		if (rsp.result != SD_RES_SUCCESS && ret == SD_RES_SUCCESS)
			ret = (int)rsp.result;
	}
	free(conns);
	return ret;
}

int gateway_flush(void)
{
	for (int attempt = 0;; attempt++) {
		struct ring *r = gateway_get_ring();
		int ret;

		if (!r)
			return SD_RES_HALT;
		ret = flush_ring(r);
		gateway_put_ring(r);
		if (ret != SD_RES_NETWORK_ERROR || attempt >= EPOCH_RETRIES)
			return ret;
		usleep(EPOCH_RETRY_MS * 1000);
	}
}

/* FLUSH_PEER: our store's lazy writes durable */
int peer_flush(struct request *req)
{
	req->rp.data_length = 0;
	return flush_local();
}

int gateway_op_create_and_write(struct request *req)
{
	const struct sd_req *hdr = &req->rq;
	uint32_t len = (hdr->flags & SD_FLAG_CMD_WRITE) ? hdr->data_length : 0;
	uint64_t cow = (hdr->flags & SD_FLAG_CMD_COW) ? hdr->obj.cow_oid : 0;

	req->rp.data_length = 0;
	return gateway_create_and_write_obj(hdr->obj.oid, cow, req->data, len, hdr->obj.offset);
}

int gateway_op_read(struct request *req)
{
	const struct sd_req *hdr = &req->rq;
	uint32_t size = vdi_object_size(hdr->obj.oid), len = hdr->data_length;
	int ret;

	/* a read past the end is clamped, as a file read would be */
	if (hdr->obj.offset > size)
		return SD_RES_INVALID_PARMS;
	len = MIN(len, size - hdr->obj.offset);
	ret = gateway_read_obj(hdr->obj.oid, req->data, len, hdr->obj.offset);
	if (ret == SD_RES_SUCCESS) {
		req->rp.data_length = len;
		req->rp.obj.copies = gateway_object_copies(hdr->obj.oid, hdr->obj.copies);
	}
	return ret;
}

/* a snapshot is frozen for clients: its data objects and its inode */
static bool client_readonly(uint64_t oid)
{
	struct vdi_state st;

	return (is_data_obj(oid) || is_vdi_obj(oid)) && vdi_get_state(oid_to_vid(oid), &st) &&
	       st.snapshot;
}

/*
 * A client's write.  One that reaches an inode's data index goes through
 * vdi.c, which removes the objects its changed entries no longer point at
 * once no VDI does (Sheepdog's reference drop).  A snapshot's inode takes
 * only writes that zero index entries: Sheepdog's dog deletes a snapshot so.
 */
static int client_write(uint64_t oid, const char *data, uint32_t len, uint32_t off)
{
	const uint32_t index_end = SD_INODE_HEADER_SIZE + SD_INODE_INDEX_SIZE;
	uint64_t end = (uint64_t)off + len;
	bool in_index = is_vdi_obj(oid) && off >= SD_INODE_HEADER_SIZE && end <= index_end;

	if (client_readonly(oid)) {
		for (uint32_t i = 0; in_index && i < len; i++)
			in_index = !data[i];
		if (!in_index)
			return SD_RES_READONLY;
	}
	if (is_vdi_obj(oid) && len && end > SD_INODE_HEADER_SIZE && off < index_end)
		return vdi_index_write(oid, data, len, off);
	return gateway_write_obj(oid, data, len, off);
}

int gateway_op_write(struct request *req)
{
	const struct sd_req *hdr = &req->rq;
	uint32_t len = (hdr->flags & SD_FLAG_CMD_WRITE) ? hdr->data_length : 0;

	req->rp.data_length = 0;
	return client_write(hdr->obj.oid, req->data, len, hdr->obj.offset);
}

int gateway_op_remove(struct request *req)
{
	req->rp.data_length = 0;
	return gateway_remove_obj(req->rq.obj.oid);
}

/* DISCARD_OBJ: unmap a data object from its VDI, then drop it if owned */
int gateway_op_discard(struct request *req)
{
	uint64_t oid = req->rq.obj.oid;
	uint32_t vid = oid_to_vid(oid), idx = data_oid_to_idx(oid), owner = 0, zero = 0;
	uint64_t inode = vid_to_vdi_oid(vid);
	uint32_t off;
	int ret;

	uint8_t policy = 0;

	req->rp.data_length = 0;
	if (!is_data_obj(oid))
		return SD_RES_INVALID_PARMS;
	if (client_readonly(oid))
		return SD_RES_READONLY;
	/* a hyper volume's index is a B-tree (vdi.c) */
	ret = gateway_read_obj(inode, &policy, 1, offsetof(struct sd_inode, store_policy));
	if (ret)
		return ret;
	if (policy)
		return vdi_discard_hyper(oid);
	if (idx >= SD_INODE_DATA_INDEX)
		return SD_RES_INVALID_PARMS;
	off = SD_INODE_HEADER_SIZE + idx * (uint32_t)sizeof(uint32_t);
	ret = gateway_read_obj(inode, &owner, sizeof(owner), off);
	if (ret || !owner)
		return ret;
	/* the entry goes, and with it the object if no VDI points at it any more */
	return vdi_index_write(inode, &zero, sizeof(zero), off);
}

/* peer side: act on the local store, if the sender sees the same epoch */
static int peer_check_epoch(const struct sd_req *hdr)
{
	uint32_t mine = gateway_epoch();

	if (hdr->epoch < mine)
		return SD_RES_OLD_NODE_VER;
	if (hdr->epoch > mine)
		return SD_RES_NEW_NODE_VER;
	return SD_RES_SUCCESS;
}

/*
 * READ_PEER with SD_FLAG_CMD_RECOVERY, for a node that recovers the object:
 * this node's copy as it is, whole, with its version (data_length 0: the
 * version only).  No epoch check and no recovery here, so it never waits for
 * other nodes (it runs on the serve queue).
 */
static int peer_recovery_read(struct request *req)
{
	struct obj_version ver;
	uint32_t size = 0;
	int ret;

	/* we must have seen the requester's epoch: no old-epoch write may follow */
	if (gateway_epoch() < req->rq.epoch)
		return SD_RES_NEW_NODE_VER;
	obj_drain_begin(req->rq.obj.oid);
	if (req->rq.data_length)
		ret = store_read_whole(req->rq.obj.oid, req->data, req->rq.data_length, &size,
				       &ver);
	else
		ret = store_get_version(req->rq.obj.oid, &ver);
	obj_drain_end(req->rq.obj.oid);
	if (ret)
		return ret;
	req->rp.data_length = req->rq.data_length ? size : 0;
	req->rp.recov.ver_epoch = ver.epoch;
	req->rp.recov.ver_counter = ver.counter;
	req->rp.recov.obj_size = size;
	return SD_RES_SUCCESS;
}

int peer_op(struct request *req)
{
	const struct sd_req *hdr = &req->rq;
	struct peer_io io = { .opcode = hdr->opcode, .oid = hdr->obj.oid,
			      .offset = hdr->obj.offset, .epoch = hdr->epoch,
			      .arrival = req->arrival, .lazy = hdr->flags & SD_FLAG_CMD_LAZY };
	uint32_t size = vdi_object_size(hdr->obj.oid);
	int ret;

	req->rp.data_length = 0;
	if (hdr->opcode == SD_OP_READ_PEER && (hdr->flags & SD_FLAG_CMD_RECOVERY))
		return peer_recovery_read(req);
	if (link_lost())
		return SD_RES_NETWORK_ERROR;	/* the sender tries another replica, or again */
	ret = peer_check_epoch(hdr);
	if (ret)
		return ret;
	if (hdr->opcode == SD_OP_READ_PEER) {
		if (hdr->obj.offset > size)
			return SD_RES_INVALID_PARMS;
		io.rbuf = req->data;
		io.rlen = MIN(hdr->data_length, size - hdr->obj.offset);
	} else if (hdr->opcode != SD_OP_REMOVE_PEER) {
		io.wbuf = req->data;
		io.wlen = (hdr->flags & SD_FLAG_CMD_WRITE) ? hdr->data_length : 0;
		io.objsize = size;
		ret = check_range(hdr->obj.oid, io.wlen, hdr->obj.offset);
		if (ret)
			return ret;
	}
	if (hdr->opcode == SD_OP_READ_PEER) {
		ret = local_io(&io);
		if (ret == SD_RES_SUCCESS)
			req->rp.data_length = io.rlen;
		return ret;
	}
	/* a write its gateway sent again over another path is applied once */
	if (wtag_begin(hdr->obj.cow_oid, hdr->flags & SD_FLAG_CMD_RESEND, &ret)) {
		ret = local_io(&io);
		wtag_end(hdr->obj.cow_oid, ret);
	} else {
		sd_notice("oid %016" PRIx64 ": a write resent over another path was taken here "
			  "already (result %02x): not applied again", hdr->obj.oid, ret);
	}
	return ret;
}
