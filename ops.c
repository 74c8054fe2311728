/*
 * ops.c - the opcode table and the handlers of local operations.
 *
 * One row per opcode says how it runs (gateway, peer, local, cluster),
 * whether it is allowed before the cluster is formatted ("force"), and its
 * worker and main-thread handlers.  Every opcode the reference's sheep
 * serves has a row: served as it serves it, or answered NO_SUPPORT for a
 * feature we do not have, so that its dog says why.  FLUSH_VDI answers
 * INVALID_PARMS as the reference's does: QEMU then switches to direct mode.
 * Opcodes not listed (unassigned, or without a handler in the reference
 * either) are answered with SD_RES_INVALID_PARMS by request.c.
 */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "cluster.h"
#include "gateway.h"
#include "ops.h"
#include "recovery.h"
#include "sha1.h"
#include "store.h"
#include "vdi.h"

static int local_get_node_list(const struct sd_req *req, struct sd_rsp *rsp, void *data)
{
	size_t need = sizeof(struct sd_node) * (size_t)sys->nr_nodes;

	if (req->data_length < need)
		return SD_RES_BUFFER_SMALL;
	memcpy(data, sys->nodes, need);
	rsp->data_length = (uint32_t)need;
	rsp->node.nr_nodes = (uint32_t)sys->nr_nodes;
	return SD_RES_SUCCESS;
}

static uint64_t dir_used_bytes(const char *dir);

/*
 * STAT_SHEEP, as Sheepdog's sheep: the space its store's objects take
 * (st_blocks of each object file) plus the free space of the file system;
 * free is the latter.  A gateway offers nothing.  On a worker: it reads the
 * object directory.
 */
static int local_stat_sheep(struct request *req)
{
	struct sd_rsp *rsp = &req->rp;
	struct statvfs vs;
	char why[160], path[PATH_MAX];
	uint64_t used;

	rsp->data_length = 0;
	rsp->node.store_size = rsp->node.store_free = 0;
	if (store_failed(why, sizeof(why))) {
		/* no space to offer, as Sheepdog's sheep without a disk; ours: why, if asked */
		if (req->rq.data_length) {
			snprintf(req->data, req->rq.data_length, "%s", why);
			rsp->data_length = (uint32_t)strlen(req->data) + 1;
		}
		return SD_RES_SUCCESS;
	}
	if (!sys->this_node.nr_vnodes)
		return SD_RES_SUCCESS;	/* -g */
	snprintf(path, sizeof(path), "%s/obj", store_dir());
	if (statvfs(path, &vs) < 0)
		return SD_RES_EIO;
	used = dir_used_bytes(path);
	rsp->node.store_free = (uint64_t)vs.f_bavail * vs.f_frsize;
	rsp->node.store_size = rsp->node.store_free + used;
	return SD_RES_SUCCESS;
}

static int cluster_status_result(void)
{
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

/*
 * STAT_CLUSTER: the epoch history, newest first, as many as fit.  Each entry
 * takes the room of cluster.nodes_nr nodes, the reference's layout (its dog
 * sizes the buffer so, and alter-copy asks for one entry without nodes); an
 * epoch of more nodes answers BUFFER_SMALL, and the client asks again.
 */
static int local_stat_cluster(const struct sd_req *req, struct sd_rsp *rsp, void *data)
{
	uint32_t room = req->cluster.nodes_nr;
	uint64_t stride = sizeof(struct epoch_log) + sizeof(struct sd_node) * (uint64_t)room;
	uint64_t max = req->data_length / stride, n = 0;
	struct sd_node *nodes = xcalloc(SD_MAX_NODES, sizeof(*nodes));
	int ret = SD_RES_SUCCESS;

	for (uint32_t e = sys->epoch; e > 0 && n < max; e--) {
		uint64_t t = 0;
		int nr = store_read_epoch(e, nodes, SD_MAX_NODES, &t);
		struct epoch_log *log = (struct epoch_log *)((char *)data + n * stride);

		if (nr < 0)
			continue;
		if (room && (uint32_t)nr > room) {
			ret = SD_RES_BUFFER_SMALL;
			break;
		}
		memset(log, 0, sizeof(*log));
		log->ctime = sys->ctime;
		log->time = t;
		log->epoch = e;
		log->nr_nodes = room ? (uint32_t)nr : 0;
		log->nr_copies = sys->copies;
		log->disable_recovery = recovery_disabled();
		log->copy_policy = sys->copy_policy;
		log->flags = sys->flags;
		/* the store's name: Sheepdog's dog prints "Cluster store: plain ..." from it */
		memcpy(log->drv_name, sys->store_name, sizeof(log->drv_name));
		memset(log->nodes, 0, sizeof(*nodes) * (size_t)room);
		memcpy(log->nodes, nodes, sizeof(*nodes) * (size_t)log->nr_nodes);
		n++;
	}
	free(nodes);
	rsp->data_length = ret ? 0 : (uint32_t)(n * stride);
	return ret ? ret : cluster_status_result();
}

static int local_get_epoch(const struct sd_req *req, struct sd_rsp *rsp, void *data)
{
	struct sd_node *nodes = xcalloc(SD_MAX_NODES, sizeof(*nodes));
	uint64_t t = 0;
	int nr = store_read_epoch(req->obj.tgt_epoch, nodes, SD_MAX_NODES, &t);
	int ret = SD_RES_SUCCESS;
	size_t len = sizeof(*nodes) * (size_t)(nr > 0 ? nr : 0);

	/* the nodes of the epoch, then its time (u64), as the reference sends */
	if (nr < 0) {
		ret = SD_RES_NO_TAG;
	} else if (len + sizeof(t) > req->data_length) {
		ret = SD_RES_BUFFER_SMALL;
	} else {
		memcpy(data, nodes, len);
		memcpy((char *)data + len, &t, sizeof(t));
		rsp->data_length = (uint32_t)(len + sizeof(t));
	}
	free(nodes);
	return ret;
}

static int local_get_cluster_default(const struct sd_req *req, struct sd_rsp *rsp, void *data)
{
	(void)req;
	(void)data;
	rsp->cluster_default.nr_copies = sys->copies;
	rsp->cluster_default.copy_policy = sys->copy_policy;
	rsp->cluster_default.block_size_shift = sys->block_size_shift;
	rsp->data_length = 0;
	return SD_RES_SUCCESS;
}

static int read_bitmap(const struct sd_req *req, struct sd_rsp *rsp, void *data, bool deleted)
{
	if (req->data_length != SD_VDI_BITMAP_SIZE)
		return SD_RES_INVALID_PARMS;
	vdi_copy_bitmap(data, deleted);
	rsp->data_length = SD_VDI_BITMAP_SIZE;
	return SD_RES_SUCCESS;
}

static int local_read_vdis(const struct sd_req *req, struct sd_rsp *rsp, void *data)
{
	return read_bitmap(req, rsp, data, false);
}

static int local_read_del_vdis(const struct sd_req *req, struct sd_rsp *rsp, void *data)
{
	return read_bitmap(req, rsp, data, true);
}

static int local_get_store_list(const struct sd_req *req, struct sd_rsp *rsp, void *data)
{
	static const char list[] = "tree plain ";	/* as the reference lists them */

	if (req->data_length < sizeof(list))
		return SD_RES_BUFFER_SMALL;
	memcpy(data, list, sizeof(list));
	rsp->data_length = sizeof(list);
	return SD_RES_SUCCESS;
}

static int local_get_loglevel(const struct sd_req *req, struct sd_rsp *rsp, void *data)
{
	int32_t level = sd_log_level;

	if (req->data_length < sizeof(level))
		return SD_RES_BUFFER_SMALL;
	memcpy(data, &level, sizeof(level));
	rsp->data_length = sizeof(level);
	return SD_RES_SUCCESS;
}

static int local_set_loglevel(const struct sd_req *req, struct sd_rsp *rsp, void *data)
{
	int32_t level;

	if (req->data_length != sizeof(level) || !(req->flags & SD_FLAG_CMD_WRITE))
		return SD_RES_INVALID_PARMS;
	memcpy(&level, data, sizeof(level));
	if (level < 0 || level > SDLOG_DEBUG)
		return SD_RES_INVALID_PARMS;
	sd_log_level = level;
	rsp->data_length = 0;
	return SD_RES_SUCCESS;
}

static int local_kill_node(const struct sd_req *req, struct sd_rsp *rsp, void *data)
{
	(void)req;
	(void)rsp;
	(void)data;
	sd_notice("killed by request");
	sys->status = SD_STATUS_KILLED;
	sheep_request_exit();
	return SD_RES_SUCCESS;
}

static int local_exist(struct request *req)
{
	req->rp.data_length = 0;
	return store_exists(req->rq.obj.oid) ? SD_RES_SUCCESS : SD_RES_NO_OBJ;
}

static int local_get_vnodes(const struct sd_req *req, struct sd_rsp *rsp, void *data)
{
	uint32_t v = sys->this_node.nr_vnodes;

	if (req->data_length < sizeof(v))
		return SD_RES_BUFFER_SMALL;
	memcpy(data, &v, sizeof(v));
	rsp->data_length = sizeof(v);
	return SD_RES_SUCCESS;
}

static int local_stat_recovery(const struct sd_req *req, struct sd_rsp *rsp, void *data)
{
	struct recovery_state st;
	char reason[128];

	if (req->data_length < sizeof(st))
		return SD_RES_BUFFER_SMALL;
	recovery_get_state(&st, reason, sizeof(reason));
	/* ours: why recovery stopped, after the reference's 24 bytes */
	if (req->data_length >= sizeof(st) + sizeof(reason)) {
		memcpy((char *)data + sizeof(st), reason, sizeof(reason));
		rsp->data_length = sizeof(st) + sizeof(reason);
	} else {
		/* the reference's states end at 2; its dog -P gives up on others */
		if (st.state == RECOVERY_STOPPED)
			st.state = RECOVERY_OBJECTS;
		rsp->data_length = sizeof(st);
	}
	memcpy(data, &st, sizeof(st));
	return SD_RES_SUCCESS;
}

/* CLUSTER_INFO: Sheepdog's dog reads it before format and vdi create */
static int local_cluster_info(const struct sd_req *req, struct sd_rsp *rsp, void *data)
{
	struct cluster_info *ci = data;
	size_t len = sizeof(*ci) + sizeof(struct sd_node) * (size_t)sys->nr_nodes;

	if (req->data_length < len)
		return SD_RES_BUFFER_SMALL;
	group_fill_cinfo(ci, sys->nodes, sys->nr_nodes);
	rsp->data_length = (uint32_t)len;
	return SD_RES_SUCCESS;
}

static int local_get_recovery(const struct sd_req *req, struct sd_rsp *rsp, void *data)
{
	struct recovery_throttling t = { 0 };

	if (req->data_length < sizeof(t))
		return SD_RES_BUFFER_SMALL;
	recovery_get_throttle(&t.max_exec_count, &t.queue_work_interval);
	t.throttling = t.max_exec_count && t.queue_work_interval;
	memcpy(data, &t, sizeof(t));
	rsp->data_length = sizeof(t);
	return SD_RES_SUCCESS;
}

/* SET_RECOVERY: this node's throttling, as -R max=N,interval=MS sets it at start */
static int local_set_recovery(const struct sd_req *req, struct sd_rsp *rsp, void *data)
{
	struct recovery_throttling t;

	if (req->data_length < sizeof(t) || !(req->flags & SD_FLAG_CMD_WRITE))
		return SD_RES_INVALID_PARMS;
	memcpy(&t, data, sizeof(t));
	recovery_set_throttle(t.max_exec_count, t.queue_work_interval);
	sd_info("recovery throttling: at most %" PRIu32 " objects per %" PRIu64 " ms%s",
		t.max_exec_count, t.queue_work_interval,
		t.max_exec_count && t.queue_work_interval ? "" : " (off)");
	rsp->data_length = 0;
	return SD_RES_SUCCESS;
}

/* bytes the object files under dir take on disk */
static uint64_t dir_used_bytes(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	uint64_t used = 0;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		struct stat st;

		if (de->d_name[0] == '.' ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISREG(st.st_mode))
			continue;
		used += (uint64_t)st.st_blocks * 512;
	}
	closedir(d);
	return used;
}

/* MD_INFO: our one object directory, as the reference's md shows a single disk */
static int local_md_info(struct request *req)
{
	struct sd_md_info *info = req->data;
	struct md_info *disk = &info->disk[0];
	struct statvfs vs;

	if (req->rq.data_length < sizeof(*info))
		return SD_RES_BUFFER_SMALL;
	memset(info, 0, sizeof(*info));
	snprintf(disk->path, sizeof(disk->path), "%s/obj", store_dir());
	if (statvfs(disk->path, &vs) < 0)
		return SD_RES_EIO;
	disk->free = (uint64_t)vs.f_bavail * vs.f_frsize;
	disk->used = dir_used_bytes(disk->path);
	info->nr = 1;
	req->rp.data_length = sizeof(*info);
	return SD_RES_SUCCESS;
}

/*
 * GET_HASH (Sheepdog's vdi check compares replicas by it): SHA-1 of the whole
 * object, zeros past what is stored, once it is current on this node
 */
static int gateway_get_hash(struct request *req)
{
	uint64_t oid = req->rq.obj.oid;
	uint32_t size = vdi_object_size(oid), chunk = 1 << 20;
	char *buf;
	struct sha1_ctx c;
	int ret;

	req->rp.data_length = 0;
	if (!sys->this_node.nr_vnodes)
		return SD_RES_NO_OBJ;	/* a gateway stores nothing */
	ret = obj_acquire(oid);
	if (ret)
		return ret;
	if (!store_exists(oid)) {
		obj_release(oid);
		return SD_RES_NO_OBJ;
	}
	buf = xmalloc(chunk);
	sha1_init(&c);
	for (uint32_t off = 0; off < size && !ret; off += chunk) {
		uint32_t len = MIN(chunk, size - off), rlen;

		ret = store_read(oid, buf, len, off, &rlen);
		if (!ret)
			sha1_update(&c, buf, len);
	}
	obj_release(oid);
	if (!ret)
		sha1_final(&c, req->rp.hash.digest);
	free(buf);
	return ret;
}

/* REPAIR_REPLICA: copy an object from the node named, as Sheepdog's vdi check repairs */
static int gateway_repair_replica(struct request *req)
{
	struct node_id nid = { 0 };

	req->rp.data_length = 0;
	if (!sys->this_node.nr_vnodes)
		return SD_RES_NO_SUPPORT;	/* a gateway stores nothing */
	memcpy(nid.addr, req->rq.forw.addr, sizeof(nid.addr));
	nid.port = req->rq.forw.port;
	return recovery_repair_from(&nid, req->rq.forw.oid, req->rq.epoch);
}

/* OIDS_EXIST: NO_OBJ with the oids this node lacks, in the request's order */
static int local_oids_exist(struct request *req)
{
	uint64_t *oids = req->data;
	uint32_t n = req->rq.data_length / sizeof(*oids), missing = 0;

	if (!(req->rq.flags & SD_FLAG_CMD_WRITE))
		n = 0;
	for (uint32_t i = 0; i < n; i++)
		if (!sys->this_node.nr_vnodes || !store_exists(oids[i]))
			oids[missing++] = oids[i];
	req->rp.data_length = missing * (uint32_t)sizeof(*oids);
	return missing ? SD_RES_NO_OBJ : SD_RES_SUCCESS;
}

static void fill_vdi_state(struct sd_vdi_state *vs, const struct vdi_state *st,
			   const struct vdi_lock_entry *locks, int nr_locks)
{
	memset(vs, 0, sizeof(*vs));
	vs->vid = st->vid;
	vs->nr_copies = st->copies;
	vs->snapshot = st->snapshot;
	vs->deleted = st->deleted;
	vs->block_size_shift = st->block_size_shift;
	vs->lock_state = LOCK_STATE_UNLOCKED;
	for (int i = 0; i < nr_locks; i++) {
		if (locks[i].vid != st->vid)
			continue;
		if (locks[i].type != LOCK_TYPE_SHARED) {
			vs->lock_state = LOCK_STATE_LOCKED;
			vs->lock_owner = locks[i].owner;
		} else if (vs->nr_participants < SD_MAX_COPIES) {
			/* we keep no modified/invalidated state: every holder shares */
			vs->lock_state = LOCK_STATE_SHARED;
			vs->participants_state[vs->nr_participants] = SHARED_LOCK_STATE_SHARED;
			vs->participants[vs->nr_participants++] = locks[i].owner;
		}
	}
}

/* GET_VDI_COPIES: every VDI this node knows, with its copies and its lock */
static int local_get_vdi_copies(const struct sd_req *req, struct sd_rsp *rsp, void *data)
{
	uint8_t *in_use = xmalloc(SD_VDI_BITMAP_SIZE);
	struct vdi_lock_entry *locks = xcalloc(SD_MAX_NODES, sizeof(*locks));
	uint32_t max = req->data_length / sizeof(struct sd_vdi_state), n = 0;
	int nr_locks = vdi_locks_export(locks, SD_MAX_NODES), ret = SD_RES_SUCCESS;

	vdi_copy_bitmap(in_use, false);
	for (uint32_t byte = 0; byte < SD_VDI_BITMAP_SIZE; byte++) {
		for (uint32_t bit = 0; in_use[byte] && bit < 8; bit++) {
			struct vdi_state st;

			if (!(in_use[byte] >> bit & 1) || !vdi_get_state(byte * 8 + bit, &st))
				continue;
			if (n == max) {
				ret = SD_RES_BUFFER_SMALL;
				goto out;
			}
			fill_vdi_state((struct sd_vdi_state *)data + n++, &st, locks, nr_locks);
		}
	}
out:
	rsp->data_length = ret == SD_RES_SUCCESS ? n * (uint32_t)sizeof(struct sd_vdi_state) : 0;
	free(in_use);
	free(locks);
	return ret;
}

/* NOTIFY_VDI_ADD (Sheepdog's `cluster snapshot load`): record a VDI, on every node */
static int cluster_notify_vdi_add(const struct sd_req *req, struct sd_rsp *rsp, void *data)
{
	struct vdi_state st;
	uint8_t bss = req->vdi_state.block_size_shift ? req->vdi_state.block_size_shift :
		      sys->block_size_shift;
	uint32_t old = req->vdi_state.old_vid;

	(void)rsp;
	(void)data;
	if (!req->vdi_state.new_vid || req->vdi_state.new_vid >= SD_NR_VDIS || old >= SD_NR_VDIS)
		return SD_RES_INVALID_PARMS;
	if (old)	/* the previous working VDI becomes a snapshot */
		vdi_mark_in_use(old, vdi_get_state(old, &st) ? st.copies : req->vdi_state.copies,
				vdi_get_state(old, &st) ? st.block_size_shift : bss, true);
	vdi_mark_in_use(req->vdi_state.new_vid,
			req->vdi_state.copies ? req->vdi_state.copies : sys->copies, bss, false);
	return SD_RES_SUCCESS;
}

/*
 * ALTER_CLUSTER_COPY (Sheepdog's cluster alter-copy), on every node: the
 * copies of VDIs created from now on; existing VDIs keep theirs
 */
static int cluster_alter_copy(const struct sd_req *req, struct sd_rsp *rsp, void *data)
{
	struct store_config cfg;
	int ret;

	(void)rsp;
	(void)data;
	if (req->cluster.copy_policy || !req->cluster.copies ||
	    req->cluster.copies > SD_MAX_COPIES)
		return SD_RES_INVALID_PARMS;	/* erasure coding: neither has the reference */
	ret = store_read_config(&cfg);
	if (!ret) {
		cfg.copies = req->cluster.copies;
		ret = store_write_config(&cfg);
	}
	if (ret) {
		sd_err("alter copies: cannot write the config: %s", strerror(-ret));
		return SD_RES_EIO;
	}
	sd_info("the cluster's redundancy: %u copies (was %u)", req->cluster.copies, sys->copies);
	sys->copies = req->cluster.copies;
	return SD_RES_SUCCESS;
}

/*
 * STAT's counters, as the reference counts: client object IO and flushes
 * ("gateway"), replica IO ("peer").  Bumped by any thread: atomics.
 */
static struct sd_stat stats;

static void stat_add(uint64_t *v, uint64_t n)
{
	__atomic_add_fetch(v, n, __ATOMIC_RELAXED);
}

void ops_stat_begin(struct request *req)
{
	const struct sd_req *hdr = &req->rq;
	bool write = hdr->flags & SD_FLAG_CMD_WRITE;

	switch (hdr->opcode) {
	case SD_OP_CREATE_AND_WRITE_OBJ:
	case SD_OP_WRITE_OBJ:
		stat_add(&stats.gway_total_write_nr, 1);
		break;
	case SD_OP_READ_OBJ:
		stat_add(&stats.gway_total_read_nr, 1);
		break;
	case SD_OP_REMOVE_OBJ:
		stat_add(&stats.gway_total_remove_nr, 1);
		break;
	case SD_OP_FLUSH_VDI:
		stat_add(&stats.gway_total_flush_nr, 1);
		stat_add(&stats.gway_total_nr, 1);
		stat_add(&stats.gway_active_nr, 1);
		req->counted = true;
		return;
	case SD_OP_CREATE_AND_WRITE_PEER:
	case SD_OP_WRITE_PEER:
		stat_add(&stats.peer_total_write_nr, 1);
		break;
	case SD_OP_READ_PEER:
		stat_add(&stats.peer_total_read_nr, 1);
		break;
	case SD_OP_REMOVE_PEER:
		stat_add(&stats.peer_total_remove_nr, 1);
		break;
	default:
		return;
	}
	req->counted = true;
	if (hdr->opcode >= SD_OP_INTERNAL_MIN) {
		stat_add(&stats.peer_total_nr, 1);
		stat_add(&stats.peer_active_nr, 1);
		stat_add(write ? &stats.peer_total_rx : &stats.peer_total_tx, hdr->data_length);
	} else {
		stat_add(&stats.gway_total_nr, 1);
		stat_add(&stats.gway_active_nr, 1);
		stat_add(write ? &stats.gway_total_rx : &stats.gway_total_tx, hdr->data_length);
	}
}

void ops_stat_end(struct request *req)
{
	if (!req->counted)
		return;
	req->counted = false;
	__atomic_sub_fetch(req->rq.opcode >= SD_OP_INTERNAL_MIN ? &stats.peer_active_nr :
			   &stats.gway_active_nr, 1, __ATOMIC_RELAXED);
}

/* STAT: the counters (dog node stat) */
static int local_stat(const struct sd_req *req, struct sd_rsp *rsp, void *data)
{
	struct sd_stat *out = data;
	const uint64_t *in = (const uint64_t *)&stats;

	if (req->data_length < sizeof(*out))
		return SD_RES_BUFFER_SMALL;
	for (size_t i = 0; i < sizeof(*out) / sizeof(uint64_t); i++)
		((uint64_t *)out)[i] = __atomic_load_n(&in[i], __ATOMIC_RELAXED);
	rsp->data_length = sizeof(*out);
	return SD_RES_SUCCESS;
}

/* the reference does nothing for these either: its object cache is gone */
static int local_nothing_to_do(const struct sd_req *req, struct sd_rsp *rsp, void *data)
{
	(void)req;
	(void)data;
	rsp->data_length = 0;
	return SD_RES_SUCCESS;
}

/* obsolete: the reference answers so, and QEMU then stops sending it */
static int local_flush_vdi(const struct sd_req *req, struct sd_rsp *rsp, void *data)
{
	(void)req;
	(void)rsp;
	(void)data;
	return SD_RES_INVALID_PARMS;
}

/* a feature of the reference's sheep that ours does not have */
static int not_supported(const struct sd_req *req, struct sd_rsp *rsp, void *data)
{
	(void)data;
	sd_debug("op %02x: not supported", req->opcode);
	rsp->data_length = 0;
	return SD_RES_NO_SUPPORT;
}

#define NO_SUPPORT(op)	[SD_OP_##op] = { #op, OP_LOCAL, true, NULL, not_supported }

static const struct sd_op_template ops[256] = {
	/* client object IO */
	[SD_OP_CREATE_AND_WRITE_OBJ] = { "CREATE_AND_WRITE_OBJ", OP_GATEWAY, false,
					 gateway_op_create_and_write, NULL },
	[SD_OP_READ_OBJ] = { "READ_OBJ", OP_GATEWAY, false, gateway_op_read, NULL },
	[SD_OP_WRITE_OBJ] = { "WRITE_OBJ", OP_GATEWAY, false, gateway_op_write, NULL },
	[SD_OP_REMOVE_OBJ] = { "REMOVE_OBJ", OP_GATEWAY, false, gateway_op_remove, NULL },
	[SD_OP_DISCARD_OBJ] = { "DISCARD_OBJ", OP_GATEWAY, false, gateway_op_discard, NULL },

	/* replication between sheep */
	[SD_OP_CREATE_AND_WRITE_PEER] = { "CREATE_AND_WRITE_PEER", OP_PEER, false, peer_op, NULL },
	[SD_OP_READ_PEER] = { "READ_PEER", OP_PEER, false, peer_op, NULL },
	[SD_OP_WRITE_PEER] = { "WRITE_PEER", OP_PEER, false, peer_op, NULL },
	[SD_OP_REMOVE_PEER] = { "REMOVE_PEER", OP_PEER, false, peer_op, NULL },
	/* ours: every lazy write (SD_FLAG_CMD_LAZY) so far durable */
	[SD_OP_FLUSH_PEER] = { "FLUSH_PEER", OP_PEER, false, peer_flush, NULL },

	/* VDIs: worker phase on the sender, main phase everywhere */
	[SD_OP_NEW_VDI] = { "NEW_VDI", OP_CLUSTER, false, vdi_op_new, vdi_main_new },
	[SD_OP_LOCK_VDI] = { "LOCK_VDI", OP_CLUSTER, false, vdi_op_lookup, vdi_main_lock },
	[SD_OP_RELEASE_VDI] = { "RELEASE_VDI", OP_CLUSTER, false, NULL, vdi_main_release },
	[SD_OP_GET_VDI_ATTR] = { "GET_VDI_ATTR", OP_CLUSTER, false, vdi_op_get_attr, NULL },
	[SD_OP_GET_VDI_LOCKS] = { "GET_VDI_LOCKS", OP_LOCAL, false, NULL, vdi_local_get_locks },
	[SD_OP_FORCE_UNLOCK_VDI] = { "FORCE_UNLOCK_VDI", OP_CLUSTER, false, NULL,
				     vdi_main_force_unlock },
	/* a lookup changes nothing: no cluster round, so it works without quorum */
	[SD_OP_GET_VDI_INFO] = { "GET_VDI_INFO", OP_GATEWAY, false, vdi_op_lookup, NULL },
	[SD_OP_READ_VDIS] = { "READ_VDIS", OP_LOCAL, true, NULL, local_read_vdis },
	[SD_OP_DEL_VDI] = { "DEL_VDI", OP_CLUSTER, false, vdi_op_del, vdi_main_del },
	[SD_OP_RECYCLE_VIDS] = { "RECYCLE_VIDS", OP_CLUSTER, false, NULL, vdi_main_recycle },
	[SD_OP_GET_CLUSTER_DEFAULT] = { "GET_CLUSTER_DEFAULT", OP_LOCAL, true, NULL,
					local_get_cluster_default },

	/* cluster administration */
	[SD_OP_GET_NODE_LIST] = { "GET_NODE_LIST", OP_LOCAL, true, NULL, local_get_node_list },
	[SD_OP_MAKE_FS] = { "MAKE_FS", OP_CLUSTER, true, NULL, group_main_make_fs },
	[SD_OP_SHUTDOWN] = { "SHUTDOWN", OP_CLUSTER, true, NULL, group_main_shutdown },
	[SD_OP_STAT_SHEEP] = { "STAT_SHEEP", OP_LOCAL, false, local_stat_sheep, NULL },
	[SD_OP_STAT_CLUSTER] = { "STAT_CLUSTER", OP_LOCAL, true, NULL, local_stat_cluster },
	[SD_OP_GET_STORE_LIST] = { "GET_STORE_LIST", OP_LOCAL, true, NULL,
				   local_get_store_list },
	[SD_OP_KILL_NODE] = { "KILL_NODE", OP_LOCAL, true, NULL, local_kill_node },
	[SD_OP_GET_EPOCH] = { "GET_EPOCH", OP_LOCAL, true, NULL, local_get_epoch },
	[SD_OP_GET_LOGLEVEL] = { "GET_LOGLEVEL", OP_LOCAL, true, NULL, local_get_loglevel },
	[SD_OP_SET_LOGLEVEL] = { "SET_LOGLEVEL", OP_LOCAL, true, NULL, local_set_loglevel },
	[SD_OP_EXIST] = { "EXIST", OP_LOCAL, true, local_exist, NULL },
	[SD_OP_READ_DEL_VDIS] = { "READ_DEL_VDIS", OP_LOCAL, true, NULL, local_read_del_vdis },
	[SD_OP_GET_OBJ_LIST] = { "GET_OBJ_LIST", OP_LOCAL, true, recovery_op_get_obj_list, NULL },
	[SD_OP_STAT_RECOVERY] = { "STAT_RECOVERY", OP_LOCAL, true, NULL, local_stat_recovery },
	[SD_OP_COMPLETE_RECOVERY] = { "COMPLETE_RECOVERY", OP_CLUSTER, true, NULL,
				      group_main_recovery_complete },
	[SD_OP_ENABLE_RECOVER] = { "ENABLE_RECOVER", OP_CLUSTER, false, NULL,
				   group_main_recover_switch },
	[SD_OP_DISABLE_RECOVER] = { "DISABLE_RECOVER", OP_CLUSTER, false, NULL,
				    group_main_recover_switch },
	[SD_OP_FORCE_RECOVER] = { "FORCE_RECOVER", OP_CLUSTER, true, group_force_recover_work,
				  group_main_force_recover },
	[SD_OP_REWEIGHT] = { "REWEIGHT", OP_CLUSTER, false, NULL, group_main_reweight },
	[SD_OP_SET_VNODES] = { "SET_VNODES", OP_LOCAL, true, NULL, group_set_vnodes },
	[SD_OP_GET_VNODES] = { "GET_VNODES", OP_LOCAL, true, NULL, local_get_vnodes },
	[SD_OP_CLUSTER_INFO] = { "CLUSTER_INFO", OP_LOCAL, true, NULL, local_cluster_info },
	[SD_OP_GET_RECOVERY] = { "GET_RECOVERY", OP_LOCAL, true, NULL, local_get_recovery },
	[SD_OP_SET_RECOVERY] = { "SET_RECOVERY", OP_LOCAL, true, NULL, local_set_recovery },
	[SD_OP_MD_INFO] = { "MD_INFO", OP_LOCAL, false, local_md_info, NULL },
	/* waits, as a read, until its object is current here: the gateway queue */
	[SD_OP_GET_HASH] = { "GET_HASH", OP_GATEWAY, false, gateway_get_hash, NULL },
	[SD_OP_REPAIR_REPLICA] = { "REPAIR_REPLICA", OP_GATEWAY, false, gateway_repair_replica,
				   NULL },
	[SD_OP_OIDS_EXIST] = { "OIDS_EXIST", OP_LOCAL, true, local_oids_exist, NULL },
	[SD_OP_GET_VDI_COPIES] = { "GET_VDI_COPIES", OP_LOCAL, true, NULL, local_get_vdi_copies },
	[SD_OP_NOTIFY_VDI_ADD] = { "NOTIFY_VDI_ADD", OP_CLUSTER, true, NULL,
				   cluster_notify_vdi_add },
	[SD_OP_NOTIFY_VDI_DEL] = { "NOTIFY_VDI_DEL", OP_LOCAL, true, NULL, local_nothing_to_do },
	[SD_OP_FLUSH_DEL_CACHE] = { "FLUSH_DEL_CACHE", OP_LOCAL, false, NULL,
				    local_nothing_to_do },
	[SD_OP_DELETE_CACHE] = { "DELETE_CACHE", OP_LOCAL, false, NULL, local_nothing_to_do },
	[SD_OP_ALTER_CLUSTER_COPY] = { "ALTER_CLUSTER_COPY", OP_CLUSTER, false, NULL,
				       cluster_alter_copy },
	[SD_OP_STAT] = { "STAT", OP_LOCAL, false, NULL, local_stat },
	[SD_OP_ALTER_VDI_COPY] = { "ALTER_VDI_COPY", OP_CLUSTER, false, vdi_op_alter_copy,
				   vdi_main_alter_copy },
	[SD_OP_FLUSH_VDI] = { "FLUSH_VDI", OP_LOCAL, false, NULL, local_flush_vdi },

	/* the reference's features we do not have: its dog prints the reason */
	NO_SUPPORT(CLEANUP),
	NO_SUPPORT(TRACE_STATUS),		/* dog trace */
	NO_SUPPORT(TRACE_READ_BUF),
	NO_SUPPORT(TRACE_ENABLE),
	NO_SUPPORT(TRACE_DISABLE),
	NO_SUPPORT(MD_PLUG),		/* node md plug|unplug: one store directory */
	NO_SUPPORT(MD_UNPLUG),
	NO_SUPPORT(NFS_CREATE),
	NO_SUPPORT(NFS_DELETE),
	NO_SUPPORT(DECREF_OBJ),		/* generational refcounts */
	NO_SUPPORT(DECREF_PEER),
	NO_SUPPORT(VDI_STATE_CHECKPOINT_CTL),
	NO_SUPPORT(INODE_COHERENCE),
};

enum wq op_queue(const struct sd_req *req, const struct sd_op_template *op)
{
	switch (op->type) {
	case OP_PEER:
		/* a recovery read never waits for another node */
		if (req->opcode == SD_OP_READ_PEER && (req->flags & SD_FLAG_CMD_RECOVERY))
			return WQ_SERVE;
		return WQ_PEER;
	case OP_LOCAL:
		return WQ_SERVE;	/* local disk only */
	default:
		return WQ_GATEWAY;
	}
}

const struct sd_op_template *get_sd_op(uint8_t opcode)
{
	return ops[opcode].name ? &ops[opcode] : NULL;
}
