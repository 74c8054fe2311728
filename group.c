/*
 * group.c - cluster membership, the epoch, cluster state, and the
 * totally ordered execution of cluster operations.
 *
 * Owns sys->status/epoch/nodes and the epoch log; runs only on the main
 * thread, driven by the cluster driver's callbacks.  A cluster op either
 * rides a notify (main-thread only ops: format, shutdown) or takes the
 * cluster-wide block, runs its worker phase here, and unblocks with the
 * result; every node then applies the main phase at the same point of the
 * total order.  The node that sent the op answers its client.
 */
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cluster.h"
#include "gateway.h"
#include "net.h"
#include "ops.h"
#include "recovery.h"
#include "ring.h"
#include "sheep.h"
#include "store.h"
#include "vdi.h"

/* what travels through notify/unblock: request, response, payload */
struct vdi_op_message {
	struct sd_req req;
	struct sd_rsp rsp;
	uint8_t data[];
};

static struct list_node pending_block_list;	/* waiting for the block */
static struct list_node pending_notify_list;	/* waiting for our own notify */
static bool block_running;
static const struct sd_node *cur_sender;	/* during a main phase */

const struct sd_node *group_sender(void)
{
	return cur_sender ? cur_sender : &sys->this_node;
}

int node_cmp(const struct sd_node *a, const struct sd_node *b)
{
	int r = memcmp(a->nid.addr, b->nid.addr, sizeof(a->nid.addr));

	if (r)
		return r;
	return (int)a->nid.port - (int)b->nid.port;
}

bool node_is_local(const struct sd_node *n)
{
	return node_cmp(n, &sys->this_node) == 0;
}

static int node_qsort_cmp(const void *a, const void *b)
{
	return node_cmp(a, b);
}

static bool same_nodes(const struct sd_node *a, int na, const struct sd_node *b, int nb)
{
	if (na != nb)
		return false;
	for (int i = 0; i < na; i++)
		if (node_cmp(&a[i], &b[i]))
			return false;
	return true;
}

static bool node_in(const struct sd_node *n, const struct sd_node *set, int nr)
{
	for (int i = 0; i < nr; i++)
		if (!node_cmp(n, &set[i]))
			return true;
	return false;
}

/*
 * sys->nodes carry the weights in use (what rings and the epoch log get);
 * announced[] what each member said of itself, in the same order: a cluster
 * of fixed vnodes uses those, an auto one weighs the members by their space.
 */
static uint16_t announced[SD_MAX_NODES];

static void weigh_members(void)
{
	for (int i = 0; i < sys->nr_nodes; i++)
		sys->nodes[i].nr_vnodes = announced[i];
	if (sys->flags & SD_CLUSTER_FLAG_AUTO_VNODES)
		ring_auto_vnodes(sys->nodes, sys->nr_nodes);
}

static void set_members(const struct sd_node *members, size_t nr)
{
	free(sys->nodes);
	sys->nodes = xcalloc(nr ? nr : 1, sizeof(*members));
	memcpy(sys->nodes, members, nr * sizeof(*members));
	for (size_t i = 0; i < nr; i++)
		memset(sys->nodes[i].__rb, 0, sizeof(sys->nodes[i].__rb));
	qsort(sys->nodes, nr, sizeof(*members), node_qsort_cmp);
	sys->nr_nodes = (int)MIN(nr, (size_t)SD_MAX_NODES);
	for (int i = 0; i < sys->nr_nodes; i++)
		announced[i] = sys->nodes[i].nr_vnodes;
	weigh_members();
}

static void log_epoch(void)
{
	int ret = store_write_epoch(sys->epoch, sys->nodes, sys->nr_nodes,
				    (uint64_t)time(NULL));

	if (ret)
		sd_err("epoch %" PRIu32 ": cannot write epoch log: %s", sys->epoch,
		       strerror(-ret));
}

static struct sd_node *latest_epoch_nodes(int *nr)
{
	struct sd_node *nodes = xcalloc(SD_MAX_NODES, sizeof(*nodes));
	int n = sys->epoch ? store_read_epoch(sys->epoch, nodes, SD_MAX_NODES, NULL) : 0;

	*nr = n < 0 ? 0 : n;
	return nodes;
}

static size_t cinfo_size(int nr_nodes)
{
	return sizeof(struct cluster_info) + sizeof(struct sd_node) * (size_t)nr_nodes;
}

size_t group_join_msg_size(void)
{
	return cinfo_size(SD_MAX_NODES);
}

/* lock entries that fit after nr_nodes nodes and the table's count; -1: not the count */
static long lock_room(int nr_nodes)
{
	size_t used = cinfo_size(nr_nodes) + sizeof(uint32_t), max = group_join_msg_size();

	return used > max ? -1 : (long)((max - used) / sizeof(struct vdi_lock_entry));
}

/*
 * A join message travels as its used prefix: the fixed part, the nodes, the
 * lock table's count and entries (the count is 0 in a buffer that was zeroed
 * past what was received).  The largest is group_join_msg_size().
 */
size_t group_join_msg_len(const void *msg)
{
	const struct cluster_info *ci = msg;
	size_t len;
	uint32_t n;

	if (ci->nr_nodes < 0 || ci->nr_nodes > SD_MAX_NODES)
		return sizeof(*ci);	/* malformed: the fixed part says why it is refused */
	len = cinfo_size(ci->nr_nodes);
	if (lock_room(ci->nr_nodes) < 0)
		return group_join_msg_size();
	memcpy(&n, (const char *)msg + len, sizeof(n));
	if (n > (uint32_t)lock_room(ci->nr_nodes))
		return group_join_msg_size();
	return len + sizeof(n) + n * sizeof(struct vdi_lock_entry);
}

/*
 * May the next join be decided before this decision is applied (an
 * acceptance batch, evlog)?  Only while the cluster waits and the decision
 * changes none of its parameters: then a member applying it changes nothing
 * a decision reads but the member list, which the batch adds to itself.
 */
bool group_join_batchable(const void *msg)
{
	const struct cluster_info *ci = msg;

	return ci->status == SD_STATUS_WAIT && sys->status == SD_STATUS_WAIT &&
	       ci->ctime == sys->ctime;
}

bool group_join_msg_len_ok(size_t len)
{
	return len >= sizeof(struct cluster_info) && len <= group_join_msg_size();
}

void group_fill_cinfo(struct cluster_info *ci, const struct sd_node *nodes, int nr)
{
	memset(ci, 0, sizeof(*ci));
	ci->proto_ver = SD_SHEEP_PROTO_VER;
	ci->nr_nodes = (int16_t)nr;
	ci->epoch = sys->epoch;
	ci->ctime = sys->ctime;
	ci->flags = sys->flags;
	ci->nr_copies = sys->copies;
	ci->copy_policy = sys->copy_policy;
	ci->status = sys->status;
	ci->disable_recovery = recovery_disabled();	/* a joiner takes the members' switch */
	ci->block_size_shift = sys->block_size_shift;
	memcpy(ci->default_store, sys->store_name, sizeof(ci->default_store));
	memcpy(ci->nodes, nodes, sizeof(*nodes) * (size_t)nr);
}

/* the join message: our view of the cluster, nodes of our latest epoch */
static struct cluster_info *build_cinfo(size_t *len)
{
	int nr;
	struct sd_node *nodes = latest_epoch_nodes(&nr);
	struct cluster_info *ci = xzalloc(cinfo_size(SD_MAX_NODES));

	group_fill_cinfo(ci, nodes, nr);
	free(nodes);
	*len = group_join_msg_len(ci);
	return ci;
}

/* all nodes of the latest epoch are present: the cluster may run */
static bool epoch_nodes_gathered(const struct cluster_info *ci, const struct sd_node *members,
				 int nr_members)
{
	for (int i = 0; i < ci->nr_nodes; i++)
		if (!node_in(&ci->nodes[i], members, nr_members))
			return false;
	return true;
}

static void copy_cluster_params(struct cluster_info *dst, const struct cluster_info *src)
{
	dst->ctime = src->ctime;
	dst->flags = src->flags;
	dst->nr_copies = src->nr_copies;
	dst->copy_policy = src->copy_policy;
	dst->block_size_shift = src->block_size_shift;
	memcpy(dst->default_store, src->default_store, sizeof(dst->default_store));
}

/*
 * Runs on one member (the first) for every joiner; what it leaves in the
 * join message is what every member applies at accept, so all decisions
 * about status and epoch are made here, once.
 */
bool sd_join_handler(const struct sd_node *joining, const struct sd_node *members,
		     size_t nr_members, void *opaque)
{
	struct cluster_info *ci = opaque, *mine, *view;
	struct sd_node *all;
	char name[64];
	size_t len;

	node_id_to_str(&joining->nid, name, sizeof(name));
	if (ci->nr_nodes < 0 || ci->nr_nodes > SD_MAX_NODES) {
		sd_err("%s: join refused: a malformed join message", name);
		ci->nr_nodes = 0;
		ci->status = SD_STATUS_KILLED;
		return false;
	}
	if (ci->proto_ver != SD_SHEEP_PROTO_VER) {
		sd_err("%s: join refused: protocol version %u, we speak %u", name,
		       ci->proto_ver, SD_SHEEP_PROTO_VER);
		ci->proto_ver = SD_SHEEP_PROTO_VER;
		ci->status = SD_STATUS_KILLED;
		return false;
	}
	if (nr_members == 0) {
		/* first node: decide on its own view */
		if (!ci->ctime)
			ci->status = SD_STATUS_WAIT;
		else
			ci->status = epoch_nodes_gathered(ci, joining, 1) ? SD_STATUS_OK :
				     SD_STATUS_WAIT;
		return true;
	}
	if (sys->ctime && ci->ctime && ci->ctime != sys->ctime) {
		sd_err("%s: join refused: it belongs to another cluster (ctime %016" PRIx64
		       ", ours %016" PRIx64 ")", name, ci->ctime, sys->ctime);
		ci->ctime = sys->ctime;	/* tells the joiner why */
		ci->status = SD_STATUS_KILLED;
		return false;
	}

	if (sys->ctime && !ci->ctime && joining->nr_vnodes &&
	    ((ci->flags ^ sys->flags) & SD_CLUSTER_FLAG_AUTO_VNODES)) {
		/* Sheepdog's rule: a new storing node follows the cluster's strategy */
		sd_err("%s: join refused: vnodes strategy mismatch: cluster %s, node %s", name,
		       sys->flags & SD_CLUSTER_FLAG_AUTO_VNODES ? "auto" : "fixed",
		       ci->flags & SD_CLUSTER_FLAG_AUTO_VNODES ? "auto" : "fixed");
		ci->ctime = sys->ctime;	/* with flags: tells the joiner why */
		ci->flags = sys->flags;
		ci->status = SD_STATUS_KILLED;
		return false;
	}

	mine = build_cinfo(&len);
	all = xcalloc(nr_members + 1, sizeof(*all));
	memcpy(all, members, nr_members * sizeof(*all));
	all[nr_members] = *joining;
	qsort(all, nr_members + 1, sizeof(*all), node_qsort_cmp);
	if (sys->status == SD_STATUS_OK) {
		/* a running cluster: every join is a new epoch */
		mine->epoch = sys->epoch + 1;
		mine->status = SD_STATUS_OK;
	} else if (mine->ctime || ci->ctime) {
		/*
		 * Formatted but waiting for the nodes of the latest epoch: the
		 * newest view (ours or the joiner's) says who must be back.
		 */
		view = ci->ctime && ci->epoch > mine->epoch ? ci : mine;
		if (view != mine) {
			copy_cluster_params(mine, ci);
			mine->epoch = ci->epoch;
			mine->nr_nodes = ci->nr_nodes;
			memcpy(mine->nodes, ci->nodes, sizeof(*ci->nodes) * (size_t)ci->nr_nodes);
		}
		if (epoch_nodes_gathered(mine, all, (int)nr_members + 1)) {
			mine->status = SD_STATUS_OK;
			if (!same_nodes(mine->nodes, mine->nr_nodes, all, (int)nr_members + 1))
				mine->epoch++;
		} else {
			mine->status = SD_STATUS_WAIT;
		}
	} else {
		mine->status = SD_STATUS_WAIT;	/* waiting for format */
	}
	/*
	 * The decision goes back without the node list: nobody reads it at
	 * accept (the members' list is the driver's), and it made every ACCEPT
	 * of a 1000-member cluster 80 KB, read by every member.
	 */
	memcpy(ci, mine, sizeof(*ci));
	ci->nr_nodes = 0;
	/* the lock table rides in the free space after the node list, if any */
	if (lock_room(ci->nr_nodes) >= 0) {
		char *tail = (char *)ci + cinfo_size(ci->nr_nodes);
		uint32_t n = (uint32_t)vdi_locks_export((struct vdi_lock_entry *)(tail + 4),
							(int)lock_room(ci->nr_nodes));

		memcpy(tail, &n, sizeof(n));
	}
	free(all);
	free(mine);
	return true;
}

static void refused(const struct cluster_info *ci)
{
	char why[256];

	if (ci->ctime && sys->ctime && ci->ctime != sys->ctime)
		snprintf(why, sizeof(why),
			 "the cluster refused us: this store belongs to another cluster "
			 "(ctime %016" PRIx64 ", the running cluster's is %016" PRIx64
			 "); start on an empty store to join", sys->ctime, ci->ctime);
	else if (ci->ctime && !sys->ctime &&
		 ((ci->flags ^ sys->flags) & SD_CLUSTER_FLAG_AUTO_VNODES))
		snprintf(why, sizeof(why), "the cluster refused us: %s",
			 ci->flags & SD_CLUSTER_FLAG_AUTO_VNODES ?
			 "it weighs vnodes automatically (formatted without -V): start this "
			 "node without -V" :
			 "it has fixed vnodes (formatted with -V): start this node with -V N");
	else
		snprintf(why, sizeof(why),
			 "the cluster refused us (protocol version); see its members' logs");
	sd_err("%s", why);
	sheep_startup_failed(why);
	sys->status = SD_STATUS_KILLED;
	sheep_request_exit();
}

/* the cluster parameters in sys, to STORE/config */
static int save_cluster_config(void)
{
	struct store_config cfg = { 0 };

	cfg.ctime = sys->ctime;
	cfg.flags = sys->flags;
	cfg.copies = sys->copies;
	memcpy(cfg.store, sys->store_name, sizeof(cfg.store));
	cfg.copy_policy = sys->copy_policy;
	cfg.block_size_shift = sys->block_size_shift;
	cfg.version = STORE_CONFIG_VERSION;
	cfg.space = sys->this_node.space;
	return store_write_config(&cfg);
}

/* an unformatted node joining a formatted cluster takes its parameters */
static void adopt_cluster_params(const struct cluster_info *ci)
{
	int ret;

	sys->ctime = ci->ctime;
	sys->copies = ci->nr_copies;
	sys->copy_policy = ci->copy_policy;
	sys->flags = ci->flags;
	sys->block_size_shift = ci->block_size_shift;
	memcpy(sys->store_name, ci->default_store, sizeof(sys->store_name));
	sys->store_name[sizeof(sys->store_name) - 1] = '\0';
	ret = save_cluster_config();
	if (ret)
		sd_err("cannot write the cluster config: %s", strerror(-ret));
}

/* a new ring for the gateway, and recovery for the epoch it belongs to */
static void update_ring(void)
{
	/* recovery first: no IO of the new epoch may find objects "done" */
	recovery_start(sys->epoch);
	gateway_set_ring(sys->nodes, sys->nr_nodes, sys->epoch);
}

/*
 * A node that was away missed the epochs in between: copy their node lists
 * from a member, so its epoch history (dog cluster info) is complete.
 */
struct epoch_sync {
	struct work work;
	struct sd_node *nodes;
	int nr;
	uint32_t upto;
};

/* one pass over the epochs we lack; returns how many are still missing */
static int fetch_missing_epochs(const struct epoch_sync *es, char *buf, size_t len)
{
	struct sd_node probe;
	int missing = 0;

	for (uint32_t e = 1; e < es->upto; e++) {
		bool got = false;

		if (store_read_epoch(e, &probe, 1, NULL) != -ENOENT)
			continue;	/* we have it (or it has many nodes: -E2BIG) */
		for (int i = 0; i < es->nr && !got; i++) {
			struct sd_req hdr = { 0 };
			struct sd_rsp rsp;
			uint64_t t;
			int nr;

			hdr.proto_ver = SD_SHEEP_PROTO_VER;
			hdr.opcode = SD_OP_GET_EPOCH;
			hdr.obj.tgt_epoch = e;
			hdr.data_length = (uint32_t)len;
			if (gateway_peer_exec(&es->nodes[i].nid, &hdr, NULL, &rsp, buf,
					      (uint32_t)len) != SD_RES_SUCCESS ||
			    rsp.data_length < sizeof(t) ||
			    (rsp.data_length - sizeof(t)) % sizeof(struct sd_node))
				continue;
			nr = (int)((rsp.data_length - sizeof(t)) / sizeof(struct sd_node));
			memcpy(&t, buf + rsp.data_length - sizeof(t), sizeof(t));
			got = store_write_epoch(e, (struct sd_node *)buf, nr, t) == 0;
		}
		missing += !got;
	}
	return missing;
}

static void epoch_sync_fn(struct work *w)
{
	struct epoch_sync *es = container_of(w, struct epoch_sync, work);
	size_t len = sizeof(struct sd_node) * SD_MAX_NODES + sizeof(uint64_t);
	char *buf = xmalloc(len);
	int missing = 0;

	/* a few passes: a member busy restarting may not answer at once */
	for (int pass = 0; pass < 3; pass++) {
		if (pass)
			sleep(1);
		missing = fetch_missing_epochs(es, buf, len);
		if (!missing)
			break;
	}
	if (missing)
		sd_warn("%d epochs before %" PRIu32 " could not be fetched from any member",
			missing, es->upto);
	free(buf);
}

static void epoch_sync_done(struct work *w)
{
	struct epoch_sync *es = container_of(w, struct epoch_sync, work);

	free(es->nodes);
	free(es);
}

static void sync_epochs_from(const struct sd_node *nodes, int nr)
{
	struct epoch_sync *es = xzalloc(sizeof(*es));

	es->nodes = xcalloc((size_t)nr, sizeof(*nodes));
	memcpy(es->nodes, nodes, sizeof(*nodes) * (size_t)nr);
	es->nr = nr;
	es->upto = sys->epoch;
	es->work.fn = epoch_sync_fn;
	es->work.done = epoch_sync_done;
	queue_work(&es->work);
}

static void store_out_of_service(void);

/*
 * Keeps the nodes that store (vnodes), returns how many.  The VDI bitmaps
 * are merged from them alone: every VDI has its inode on storing nodes, and
 * a gateway knows only what it learned from them and from the log.  A join
 * so costs a bitmap from each storing member, not one from every member and
 * one for every member (N x 4 MiB: 4 GB per join in a 1000-sheep cluster).
 */
static int storing_only(struct sd_node *nodes, int nr)
{
	int n = 0;

	for (int i = 0; i < nr; i++)
		if (nodes[i].nr_vnodes)
			nodes[n++] = nodes[i];
	return n;
}

void sd_accept_handler(const struct sd_node *joined, const struct sd_node *members,
		       size_t nr_members, const void *opaque)
{
	const struct cluster_info *ci = opaque;
	bool self = node_is_local(joined), was_running = sys->status == SD_STATUS_OK;
	char name[64];

	node_id_to_str(&joined->nid, name, sizeof(name));
	if (self) {
		if (ci->status == SD_STATUS_KILLED) {
			refused(ci);
			return;
		}
		sys->joined = true;
		store_out_of_service();	/* a failure found while joining */
		if (nr_members > 1)	/* the message is a member's: its recovery switch */
			recovery_set_disabled(ci->disable_recovery);
		if (ci->ctime && nr_members > 1 && ci->nr_nodes >= 0 &&
		    ci->nr_nodes <= SD_MAX_NODES && lock_room(ci->nr_nodes) >= 0) {
			const char *tail = (const char *)ci + cinfo_size(ci->nr_nodes);
			uint32_t n;

			memcpy(&n, tail, sizeof(n));
			vdi_locks_import((const struct vdi_lock_entry *)(tail + 4),
					 (int)MIN(n, (uint32_t)lock_room(ci->nr_nodes)));
		}
	} else if (!sys->joined) {
		return;
	} else if (ci->status == SD_STATUS_KILLED) {
		sd_warn("%s was refused", name);
		return;
	}
	if (ci->ctime && ci->ctime != sys->ctime)
		adopt_cluster_params(ci);
	sd_info("%s joined, %zu members", name, nr_members);
	set_members(members, nr_members);
	sys->status = ci->status;
	if (sys->status == SD_STATUS_OK) {
		if (ci->epoch != sys->epoch) {
			sys->epoch = ci->epoch;
			log_epoch();
			sd_info("epoch %" PRIu32 ", %d nodes", sys->epoch, sys->nr_nodes);
		}
		update_ring();
	}
	if (self || (sys->status == SD_STATUS_OK && !was_running)) {
		struct sd_node *others = xcalloc(nr_members ? nr_members : 1, sizeof(*others));
		int n = 0;

		for (size_t i = 0; i < nr_members; i++)
			if (!node_is_local(&members[i]))
				others[n++] = members[i];
		/*
		 * We joined, or the cluster runs again after waiting for its
		 * nodes: fetch the epochs we missed while away (in the background).
		 */
		if (n && sys->ctime && sys->status == SD_STATUS_OK)
			sync_epochs_from(others, n);
		if (self && n && sys->ctime) {
			int ns = storing_only(others, n);

			vdi_sync_from(others, ns, true, sheep_ready);
		} else if (self) {
			sheep_ready();
		}
		free(others);
	}
	if (!self && sys->status == SD_STATUS_OK && joined->nr_vnodes)
		vdi_sync_from(joined, 1, false, NULL);
}

void sd_leave_handler(const struct sd_node *left, const struct sd_node *members,
		      size_t nr_members)
{
	char name[64];

	if (!sys->joined)
		return;
	node_id_to_str(&left->nid, name, sizeof(name));
	sd_info("%s left, %zu members", name, nr_members);
	set_members(members, nr_members);
	vdi_locks_drop_node(&left->nid);
	if (sys->status == SD_STATUS_OK) {
		sys->epoch++;
		log_epoch();
		sd_info("epoch %" PRIu32 ", %d nodes", sys->epoch, sys->nr_nodes);
		update_ring();
	}
}

void sd_link_handler(bool ok)
{
	if (__atomic_exchange_n(&sys->link_lost, !ok, __ATOMIC_ACQ_REL) == !ok)
		return;
	if (ok)
		sd_notice("cluster link back: IO resumes");
	else
		sd_notice("cluster link lost: IO halted until it is back (or until this node "
			  "starts over, if the others drop it)");
}

/*
 * A member announced a new weight, space or zone: when that changes a
 * weight in use or a zone, a new ring, so a new epoch.
 */
void sd_update_node_handler(const struct sd_node *node)
{
	struct sd_node *before;
	bool changed = false;
	char name[64];
	int i;

	for (i = 0; i < sys->nr_nodes; i++)
		if (!node_cmp(&sys->nodes[i], node))
			break;
	if (i == sys->nr_nodes)
		return;
	before = xcalloc((size_t)sys->nr_nodes, sizeof(*before));
	memcpy(before, sys->nodes, sizeof(*before) * (size_t)sys->nr_nodes);
	announced[i] = node->nr_vnodes;
	sys->nodes[i].space = node->space;
	sys->nodes[i].zone = node->zone;
	if (node_is_local(node)) {
		sys->this_node.nr_vnodes = node->nr_vnodes;
		sys->this_node.zone = node->zone;
		sys->this_node.space = node->space;
	}
	weigh_members();
	for (int j = 0; j < sys->nr_nodes; j++)
		changed |= before[j].nr_vnodes != sys->nodes[j].nr_vnodes ||
			   before[j].zone != sys->nodes[j].zone;
	free(before);
	if (!changed)
		return;
	node_id_to_str(&node->nid, name, sizeof(name));
	sd_info("%s now has %u vnodes, zone %" PRIu32 ", space %" PRIu64, name,
		sys->nodes[i].nr_vnodes, node->zone, node->space);
	if (sys->status == SD_STATUS_OK) {
		sys->epoch++;
		log_epoch();
		sd_info("epoch %" PRIu32 ", %d nodes", sys->epoch, sys->nr_nodes);
		update_ring();
	}
}

static int announce_vnodes(uint16_t vnodes, uint64_t space)
{
	struct sd_node n = sys->this_node;

	n.nr_vnodes = vnodes;
	n.space = space;
	memset(n.__rb, 0, sizeof(n.__rb));
	return sys->cdrv->update_node(&n) < 0 ? SD_RES_CLUSTER_ERROR : SD_RES_SUCCESS;
}

/*
 * REWEIGHT, on every node: measure the space again (free space plus what
 * the store holds, as Sheepdog's md_get_size) on a worker, and announce it
 * when it moved by 1% or more; in an auto cluster every member reweighs.
 */
struct reweight {
	struct work work;
	uint64_t space;
};

static uint64_t dir_used;

static int add_usage(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)path;
	(void)ftw;
	if (flag == FTW_F)
		dir_used += (uint64_t)st->st_blocks * 512;
	return 0;
}

static void reweight_fn(struct work *w)
{
	struct reweight *rw = container_of(w, struct reweight, work);
	uint64_t size, avail;

	if (store_stat(&size, &avail))
		return;
	dir_used = 0;	/* one reweight at a time: the main thread waits for done */
	if (nftw(store_dir(), add_usage, 16, FTW_PHYS))
		return;
	rw->space = avail + dir_used;
}

static bool reweighing;

static void reweight_done(struct work *w)
{
	struct reweight *rw = container_of(w, struct reweight, work);
	uint64_t old = sys->this_node.space, new = rw->space;
	struct store_config cfg;

	reweighing = false;
	if (new && (!old || (double)(new > old ? new - old : old - new) / (double)old >= 0.01)) {
		sd_info("reweight: space %" PRIu64 " -> %" PRIu64, old, new);
		if (store_read_config(&cfg) == 0) {
			cfg.space = new;
			store_write_config(&cfg);
		}
		announce_vnodes(sys->this_node.nr_vnodes, new);
	}
	free(rw);
}

int group_main_reweight(const struct sd_req *req, struct sd_rsp *rsp, void *data)
{
	struct reweight *rw;

	(void)req;
	(void)rsp;
	(void)data;
	if (!sys->this_node.nr_vnodes || reweighing)
		return SD_RES_SUCCESS;	/* a gateway weighs nothing */
	rw = xzalloc(sizeof(*rw));
	rw->work.fn = reweight_fn;
	rw->work.done = reweight_done;
	reweighing = true;
	queue_work(&rw->work);
	return SD_RES_SUCCESS;
}

/* SET_VNODES, local: this node's weight in a cluster of fixed vnodes */
int group_set_vnodes(const struct sd_req *req, struct sd_rsp *rsp, void *data)
{
	uint32_t v;

	rsp->data_length = 0;
	/* Sheepdog's dog sends 8 bytes (the size of a pointer), the value first */
	if (req->data_length < sizeof(v) || req->data_length > 8 ||
	    !(req->flags & SD_FLAG_CMD_WRITE))
		return SD_RES_INVALID_PARMS;
	memcpy(&v, data, sizeof(v));
	if (v < 1 || v > 65535)
		return SD_RES_INVALID_PARMS;
	if (!sys->this_node.nr_vnodes)
		return SD_RES_GATEWAY_MODE;
	if (sys->flags & SD_CLUSTER_FLAG_AUTO_VNODES)
		return SD_RES_INVALID_VNODES_STRATEGY;
	if (v == sys->this_node.nr_vnodes)
		return SD_RES_SUCCESS;
	return announce_vnodes((uint16_t)v, sys->this_node.space);
}

/*
 * The store failed (store.c): the node stays a member, as a gateway (0
 * vnodes, announced like a weight change), so the next epoch leaves it out
 * of every object's holders and the others' recovery restores the copies
 * it held.  Fixed for the life of the process: restarting the sheep on a
 * good disk is how it stores again.  Main thread; again after joining, for
 * a failure found before.
 */
static void store_out_of_service(void)
{
	char why[160];

	if (!store_failed(why, sizeof(why)) || !sys->this_node.nr_vnodes)
		return;
	sys->vnodes_fixed = true;
	if (!sys->joined)
		return;
	sd_err("the store failed (%s): this node is a gateway from now on; restart its sheep "
	       "on a good disk to store objects again", why);
	if (announce_vnodes(0, 0) != SD_RES_SUCCESS)
		sd_err("cannot announce this node as a gateway: its peers keep retrying it");
}

static void store_failure_done(struct work *w)
{
	free(w);
	store_out_of_service();
}

/* any thread: store.c found its disk failed */
static void store_failure_seen(void)
{
	struct work *w = xzalloc(sizeof(*w));

	w->done = store_failure_done;
	queue_done(w);
}

static struct vdi_op_message *build_msg(const struct request *req, size_t *len)
{
	const void *data = NULL;
	uint32_t dlen = 0;
	struct vdi_op_message *m;

	if ((req->rq.flags & SD_FLAG_CMD_WRITE) && req->rq.data_length) {
		data = req->data;
		dlen = req->rq.data_length;
	} else if (req->rp.result == SD_RES_SUCCESS && req->rp.data_length) {
		data = req->data;
		dlen = req->rp.data_length;
	}
	if (sizeof(*m) + dlen > SD_MAX_EVENT_BUF_SIZE)
		return NULL;
	m = xzalloc(sizeof(*m) + dlen);
	m->req = req->rq;
	m->rsp = req->rp;
	if (dlen)
		memcpy(m->data, data, dlen);
	*len = sizeof(*m) + dlen;
	return m;
}

static void fail_request(struct request *req, int result)
{
	req->rp.result = (uint32_t)result;
	request_done(req);
}

void queue_cluster_request(struct request *req)
{
	if (req->op->process_work) {
		list_add_tail(&req->link, &pending_block_list);
		if (sys->cdrv->block() < 0) {
			list_del(&req->link);
			fail_request(req, SD_RES_CLUSTER_ERROR);
		}
	} else {
		size_t len;
		struct vdi_op_message *m;

		req->rp.result = SD_RES_SUCCESS;
		m = build_msg(req, &len);
		if (!m) {
			fail_request(req, SD_RES_INVALID_PARMS);
			return;
		}
		list_add_tail(&req->link, &pending_notify_list);
		if (sys->cdrv->notify(m, len) < 0) {
			list_del(&req->link);
			fail_request(req, SD_RES_CLUSTER_ERROR);
		}
		free(m);
	}
}

static void cluster_op_work(struct work *w)
{
	struct request *req = container_of(w, struct request, work);

	req->rp.result = (uint32_t)req->op->process_work(req);
}

static void cluster_op_done(struct work *w)
{
	struct request *req = container_of(w, struct request, work);
	struct vdi_op_message *m;
	size_t len;

	block_running = false;
	list_del(&req->link);
	m = build_msg(req, &len);
	if (!m) {
		/* keep the total order going: unblock with a failure */
		req->rp.result = SD_RES_INVALID_PARMS;
		req->rp.data_length = 0;
		m = build_msg(req, &len);
	}
	list_add_tail(&req->link, &pending_notify_list);
	if (sys->cdrv->unblock(m, len) < 0) {
		list_del(&req->link);
		fail_request(req, SD_RES_CLUSTER_ERROR);
	}
	free(m);
}

bool sd_block_handler(const struct sd_node *sender)
{
	struct request *req;

	if (!node_is_local(sender) || block_running)
		return false;
	if (list_empty(&pending_block_list)) {
		sd_err("block event without a pending request");
		return false;
	}
	req = list_first_entry(&pending_block_list, struct request, link);
	block_running = true;
	req->work.fn = cluster_op_work;
	req->work.done = cluster_op_done;
	queue_work(&req->work);
	return true;
}

void sd_notify_handler(const struct sd_node *sender, void *msg, size_t msg_len)
{
	struct vdi_op_message *m = msg;
	const struct sd_op_template *op;
	int ret;

	if (msg_len < sizeof(*m)) {
		sd_err("short cluster message (%zu bytes)", msg_len);
		return;
	}
	if (!sys->joined)
		return;
	{
		uint32_t want = (m->req.flags & SD_FLAG_CMD_WRITE) ? m->req.data_length :
				(m->rsp.result == SD_RES_SUCCESS ? m->rsp.data_length : 0);

		if (msg_len - sizeof(*m) < want) {
			sd_err("cluster message for op %02x is short (%zu bytes)", m->req.opcode,
			       msg_len);
			m->rsp.result = SD_RES_INVALID_PARMS;
			m->req.data_length = m->rsp.data_length = 0;
		}
	}
	op = get_sd_op(m->req.opcode);
	ret = (int)m->rsp.result;
	if (!op) {
		sd_err("unknown cluster op %02x", m->req.opcode);
		ret = SD_RES_INVALID_PARMS;
	} else if (ret == SD_RES_SUCCESS && op->process_main) {
		cur_sender = sender;
		ret = op->process_main(&m->req, &m->rsp, m->data);
		cur_sender = NULL;
	}
	if (node_is_local(sender) && !(m->req.flags & SD_FLAG_CMD_INTERNAL)) {
		struct request *req;

		if (list_empty(&pending_notify_list)) {
			sd_err("our own notify for op %02x has no pending request",
			       m->req.opcode);
			return;
		}
		req = list_first_entry(&pending_notify_list, struct request, link);
		list_del(&req->link);
		req->rp = m->rsp;
		req->rp.result = (uint32_t)ret;
		request_done(req);
	}
}

/* what COMPLETE_RECOVERY carries */
struct recovery_done_msg {
	struct node_id nid;
	uint32_t epoch;
	uint32_t __pad;
};

int group_notify_internal(uint8_t opcode, const void *data, uint32_t len)
{
	struct vdi_op_message *m;
	int ret;

	if (sizeof(*m) + len > SD_MAX_EVENT_BUF_SIZE)
		return -EMSGSIZE;
	m = xzalloc(sizeof(*m) + len);
	m->req.proto_ver = SD_SHEEP_PROTO_VER;
	m->req.opcode = opcode;
	m->req.flags = SD_FLAG_CMD_WRITE | SD_FLAG_CMD_INTERNAL;
	m->req.data_length = len;
	memcpy(m->data, data, len);
	ret = sys->cdrv->notify(m, sizeof(*m) + len) < 0 ? -EIO : 0;
	free(m);
	return ret;
}

/* our recovery of epoch is complete: tell every member, in order */
int group_notify_recovery_complete(uint32_t epoch)
{
	struct recovery_done_msg d = { .nid = sys->this_node.nid, .epoch = epoch };
	int ret = group_notify_internal(SD_OP_COMPLETE_RECOVERY, &d, sizeof(d));

	if (ret)
		sd_err("cannot announce the end of recovery of epoch %" PRIu32 " yet", epoch);
	return ret;
}

int group_main_recovery_complete(const struct sd_req *req, struct sd_rsp *rsp, void *data)
{
	struct recovery_done_msg d;

	(void)rsp;
	if (req->data_length != sizeof(d) || !(req->flags & SD_FLAG_CMD_INTERNAL))
		return SD_RES_INVALID_PARMS;
	memcpy(&d, data, sizeof(d));
	recovery_node_done(&d.nid, d.epoch);
	return SD_RES_SUCCESS;
}

int group_main_recover_switch(const struct sd_req *req, struct sd_rsp *rsp, void *data)
{
	(void)rsp;
	(void)data;
	recovery_set_disabled(req->opcode == SD_OP_DISABLE_RECOVER);
	sd_info("automatic recovery %s",
		req->opcode == SD_OP_DISABLE_RECOVER ? "disabled" : "enabled");
	return SD_RES_SUCCESS;
}

/* MAKE_FS main phase, on every node */
/* the store name of a MAKE_FS payload is exactly NAME (NUL-padded), not a prefix of it */
static bool store_name_is(const char *data, uint32_t len, const char *name)
{
	return strnlen(data, len) == strlen(name) && !memcmp(data, name, strlen(name));
}

int group_main_make_fs(const struct sd_req *req, struct sd_rsp *rsp, void *data)
{
	int ret;

	(void)rsp;
	/* Sheepdog's dog sends 0 copies without -c: the default, as its sheep */
	if (req->cluster.copies > SD_MAX_COPIES)
		return SD_RES_INVALID_PARMS;
	if (req->cluster.copy_policy)	/* erasure coding: not built yet */
		return SD_RES_NO_SUPPORT;
	if (req->data_length && (req->flags & SD_FLAG_CMD_WRITE) &&
	    !store_name_is(data, req->data_length, "plain") &&
	    !store_name_is(data, req->data_length, "tree"))
		return SD_RES_NO_STORE;
	if (req->cluster.block_size_shift &&
	    (req->cluster.block_size_shift < 20 || req->cluster.block_size_shift > 22))
		return SD_RES_INVALID_PARMS;
	ret = store_wipe();
	if (!ret)
		ret = store_wipe_epochs();
	if (ret) {
		sd_err("format: cannot wipe the store: %s", strerror(-ret));
		return SD_RES_EIO;
	}
	vdi_reset();
	recovery_reset();
	sys->ctime = req->cluster.ctime;
	sys->copies = req->cluster.copies ? req->cluster.copies : SD_DEFAULT_COPIES;
	sys->copy_policy = req->cluster.copy_policy;
	sys->flags = req->cluster.flags;
	sys->block_size_shift = req->cluster.block_size_shift ?
				req->cluster.block_size_shift : SD_DEFAULT_BLOCK_SIZE_SHIFT;
	memset(sys->store_name, 0, sizeof(sys->store_name));
	if (req->data_length && (req->flags & SD_FLAG_CMD_WRITE))
		memcpy(sys->store_name, data, MIN(req->data_length, sizeof(sys->store_name) - 1));
	else
		strcpy(sys->store_name, "plain");

	ret = save_cluster_config();
	if (ret) {
		sd_err("format: cannot write config: %s", strerror(-ret));
		return SD_RES_EIO;
	}
	weigh_members();
	sys->epoch = 1;
	log_epoch();
	sys->status = SD_STATUS_OK;
	update_ring();
	sd_info("cluster formatted: copies %u, epoch 1, %d nodes", sys->copies, sys->nr_nodes);
	return SD_RES_SUCCESS;
}

/* the cluster runs (or is halted) or was never formatted: nothing to force */
static bool force_recover_refused(void)
{
	return sys->status != SD_STATUS_WAIT || !sys->ctime;
}

/* a local op to nid (the answer's header carries its epoch): SD_RES_* */
static int ask_node_list(const struct node_id *nid, struct sd_node *nodes, struct sd_rsp *rsp)
{
	struct sd_req hdr = { 0 };

	hdr.proto_ver = SD_SHEEP_PROTO_VER;
	hdr.opcode = SD_OP_GET_NODE_LIST;
	hdr.data_length = sizeof(*nodes) * SD_MAX_NODES;
	return gateway_peer_exec(nid, &hdr, NULL, rsp, nodes, hdr.data_length);
}

/*
 * FORCE_RECOVER, worker phase on the node asked (dog cluster recover
 * force), the cluster blocked.  A running, halted or unformatted cluster
 * answers FORCE_RECOVER, as Sheepdog's sheep.  A cluster waiting for nodes
 * of its latest epoch will run with the members present: the new epoch is
 * one past the newest any member has (the members, as the main thread
 * lists them, asked through our own port), carried in rp.epoch.
 */
int group_force_recover_work(struct request *req)
{
	struct sd_node *members = xcalloc(SD_MAX_NODES, sizeof(*members));
	struct sd_node *scratch = xcalloc(SD_MAX_NODES, sizeof(*scratch));
	struct sd_rsp rsp;
	uint32_t newest;
	int ret, nr;

	req->rp.data_length = 0;
	if (force_recover_refused()) {
		ret = SD_RES_FORCE_RECOVER;
		goto out;
	}
	ret = ask_node_list(&sys->this_node.nid, members, &rsp);
	if (ret)
		goto out;
	nr = (int)(rsp.data_length / sizeof(*members));
	newest = rsp.epoch;
	for (int i = 0; i < nr && !ret; i++) {
		if (node_is_local(&members[i]))
			continue;
		ret = ask_node_list(&members[i].nid, scratch, &rsp);
		newest = MAX(newest, rsp.epoch);
	}
	if (ret) {
		sd_err("force recover: a member did not answer: result %02x", ret);
		goto out;
	}
	req->rp.epoch = newest + 1;
out:
	free(members);
	free(scratch);
	return ret;
}

/* FORCE_RECOVER main phase, on every node: run with the members present */
int group_main_force_recover(const struct sd_req *req, struct sd_rsp *rsp, void *data)
{
	struct sd_node *others;
	int n = 0;

	(void)req;
	(void)data;
	if (force_recover_refused())
		return SD_RES_FORCE_RECOVER;
	if (rsp->epoch <= sys->epoch) {
		/* a newer member came in between: ask again */
		sd_err("force recover: epoch %" PRIu32 " is not past ours (%" PRIu32 ")",
		       rsp->epoch, sys->epoch);
		return SD_RES_FORCE_RECOVER;
	}
	sys->epoch = rsp->epoch;
	log_epoch();
	sys->status = SD_STATUS_OK;
	update_ring();
	sd_notice("force recover: the cluster runs with %d nodes, epoch %" PRIu32, sys->nr_nodes,
		  sys->epoch);
	/* the epochs a member missed while away, as when a waiting cluster starts */
	others = xcalloc((size_t)MAX(sys->nr_nodes, 1), sizeof(*others));
	for (int i = 0; i < sys->nr_nodes; i++)
		if (!node_is_local(&sys->nodes[i]))
			others[n++] = sys->nodes[i];
	if (n)
		sync_epochs_from(others, n);
	free(others);
	return SD_RES_SUCCESS;
}

/* SHUTDOWN main phase, on every node */
int group_main_shutdown(const struct sd_req *req, struct sd_rsp *rsp, void *data)
{
	struct store_config cfg;

	(void)req;
	(void)rsp;
	(void)data;
	if (store_read_config(&cfg) == 0 && cfg.ctime) {
		cfg.shutdown = 1;
		store_write_config(&cfg);
	}
	sys->status = SD_STATUS_SHUTDOWN;
	sd_info("cluster shutdown requested");
	sheep_request_exit();
	return SD_RES_SUCCESS;
}

/*
 * A restart into a cluster of fixed vnodes without -V keeps the weight this
 * node had (its -V, or dog node vnodes set) rather than the default, so no
 * data moves (Sheepdog refuses such a start); -V given wins, logged.
 */
static void keep_own_vnodes(void)
{
	struct sd_node *nodes;
	int nr;

	if (!sys->ctime || (sys->flags & SD_CLUSTER_FLAG_AUTO_VNODES) ||
	    !sys->this_node.nr_vnodes)
		return;
	nodes = latest_epoch_nodes(&nr);
	for (int i = 0; i < nr; i++) {
		if (node_cmp(&nodes[i], &sys->this_node) || !nodes[i].nr_vnodes ||
		    nodes[i].nr_vnodes == sys->this_node.nr_vnodes)
			continue;
		if (sys->vnodes_fixed) {
			sd_notice("-V %u replaces this node's %u vnodes of epoch %" PRIu32,
				  sys->this_node.nr_vnodes, nodes[i].nr_vnodes, sys->epoch);
		} else {
			sd_info("keeping this node's %u vnodes of epoch %" PRIu32,
				nodes[i].nr_vnodes, sys->epoch);
			sys->this_node.nr_vnodes = nodes[i].nr_vnodes;
		}
	}
	free(nodes);
}

int group_init(const char *driver_spec)
{
	char name[64];
	const char *colon = strchr(driver_spec, ':');
	size_t nlen = colon ? (size_t)(colon - driver_spec) : strlen(driver_spec);
	struct store_config cfg;
	struct cluster_info *ci;
	size_t len;
	int ret;

	list_init(&pending_block_list);
	list_init(&pending_notify_list);
	if (nlen >= sizeof(name)) {
		sd_err("invalid cluster driver '%s'", driver_spec);
		return -EINVAL;
	}
	memcpy(name, driver_spec, nlen);
	name[nlen] = '\0';
	sys->cdrv = cdrv_find(name);
	if (!sys->cdrv) {
		char names[256];

		sd_err("unknown cluster driver '%s' (built in: %s)", name,
		       cdrv_names(names, sizeof(names)));
		return -ENOENT;
	}
	snprintf(sys->cdrv_option, sizeof(sys->cdrv_option), "%s", colon ? colon + 1 : "");

	ret = store_read_config(&cfg);
	if (ret) {
		sd_err("cannot read %s/config: %s", store_dir(), strerror(-ret));
		return ret;
	}
	sys->ctime = cfg.ctime;
	sys->copies = cfg.copies;
	sys->copy_policy = cfg.copy_policy;
	sys->flags = cfg.flags;
	/* not formatted: our own vnodes strategy, which a format without -V expects */
	if (!cfg.ctime && !sys->vnodes_fixed)
		sys->flags |= SD_CLUSTER_FLAG_AUTO_VNODES;
	sys->block_size_shift = cfg.block_size_shift ? cfg.block_size_shift :
				SD_DEFAULT_BLOCK_SIZE_SHIFT;
	memcpy(sys->store_name, cfg.store, sizeof(sys->store_name));
	sys->store_name[sizeof(sys->store_name) - 1] = '\0';
	sys->epoch = sys->ctime ? store_latest_epoch() : 0;
	sys->status = SD_STATUS_WAIT;
	keep_own_vnodes();
	if (cfg.shutdown) {
		cfg.shutdown = 0;
		store_write_config(&cfg);
	}

	ret = sys->cdrv->init(sys->cdrv_option);
	if (ret < 0) {
		sd_err("cluster driver %s failed to start", name);
		return ret;
	}
	store_watch(store_failure_seen);
	ci = build_cinfo(&len);
	ret = sys->cdrv->join(&sys->this_node, ci, len);
	free(ci);
	if (ret < 0) {
		sd_err("cannot join the cluster through %s", name);
		return ret;
	}
	return 0;
}
