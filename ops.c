/*
 * ops.c - the opcode table and the handlers of local operations.
 *
 * One row per opcode says how it runs (gateway, peer, local, cluster),
 * whether it is allowed before the cluster is formatted ("force"), and its
 * worker and main-thread handlers.  Opcodes not listed here are answered
 * with SD_RES_INVALID_PARMS, as the reference does for obsolete ones
 * (FLUSH_VDI among them: clients then fall back to direct mode).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cluster.h"
#include "gateway.h"
#include "ops.h"
#include "recovery.h"
#include "repair.h"
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

static int local_stat_sheep(const struct sd_req *req, struct sd_rsp *rsp, void *data)
{
	uint64_t size, avail;
	char why[160];

	rsp->data_length = 0;
	if (store_failed(why, sizeof(why))) {
		/* no space to offer, as Sheepdog's sheep without a disk; ours: why, if asked */
		rsp->node.store_size = rsp->node.store_free = 0;
		if (req->data_length) {
			snprintf(data, req->data_length, "%s", why);
			rsp->data_length = (uint32_t)strlen(data) + 1;
		}
		return SD_RES_SUCCESS;
	}
	if (store_stat(&size, &avail))
		return SD_RES_EIO;
	rsp->node.store_size = size;
	rsp->node.store_free = avail;
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

/* STAT_CLUSTER: the epoch history, newest first, as much as fits */
static int local_stat_cluster(const struct sd_req *req, struct sd_rsp *rsp, void *data)
{
	size_t off = 0;
	struct sd_node *nodes = xcalloc(SD_MAX_NODES, sizeof(*nodes));

	for (uint32_t e = sys->epoch; e > 0; e--) {
		uint64_t t = 0;
		int nr = store_read_epoch(e, nodes, SD_MAX_NODES, &t);
		struct epoch_log *log;
		size_t sz;

		if (nr < 0)
			continue;
		sz = sizeof(*log) + sizeof(*nodes) * (size_t)nr;
		if (off + sz > req->data_length)
			break;
		log = (struct epoch_log *)((char *)data + off);
		memset(log, 0, sizeof(*log));
		log->ctime = sys->ctime;
		log->time = t;
		log->epoch = e;
		log->nr_nodes = (uint32_t)nr;
		log->nr_copies = sys->copies;
		log->disable_recovery = recovery_disabled();
		log->copy_policy = sys->copy_policy;
		log->flags = sys->flags;
		/* the backend store, as the reference fills it (dog cluster info -v) */
		memcpy(log->drv_name, sys->store_name,
		       strnlen(sys->store_name, sizeof(log->drv_name) - 1));
		memcpy(log->nodes, nodes, sizeof(*nodes) * (size_t)nr);
		off += sz;
	}
	free(nodes);
	rsp->data_length = (uint32_t)off;
	return cluster_status_result();
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

/*
 * NOTIFY_VDI_ADD (Sheepdog's farm load): the VDI's objects are being written
 * back by the client; take its vid as in use on every node
 */
static int cluster_notify_vdi_add(const struct sd_req *req, struct sd_rsp *rsp, void *data)
{
	(void)rsp;
	(void)data;
	if (!req->vdi_state.new_vid || req->vdi_state.new_vid >= SD_NR_VDIS)
		return SD_RES_INVALID_PARMS;
	vdi_mark_in_use(req->vdi_state.new_vid, req->vdi_state.copies,
			req->vdi_state.block_size_shift, false);
	return SD_RES_SUCCESS;
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
	static const char list[] = "plain";

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
	memcpy(data, &st, sizeof(st));
	rsp->data_length = sizeof(st);
	/* ours: why recovery stopped, after the reference's 24 bytes */
	if (req->data_length >= sizeof(st) + sizeof(reason)) {
		memcpy((char *)data + sizeof(st), reason, sizeof(reason));
		rsp->data_length += sizeof(reason);
	}
	return SD_RES_SUCCESS;
}

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
	[SD_OP_NOTIFY_VDI_ADD] = { "NOTIFY_VDI_ADD", OP_CLUSTER, false, NULL,
				   cluster_notify_vdi_add },
	[SD_OP_RECYCLE_VIDS] = { "RECYCLE_VIDS", OP_CLUSTER, false, NULL, vdi_main_recycle },
	[SD_OP_GET_CLUSTER_DEFAULT] = { "GET_CLUSTER_DEFAULT", OP_LOCAL, true, NULL,
					local_get_cluster_default },

	/* cluster administration */
	[SD_OP_GET_NODE_LIST] = { "GET_NODE_LIST", OP_LOCAL, true, NULL, local_get_node_list },
	[SD_OP_MAKE_FS] = { "MAKE_FS", OP_CLUSTER, true, NULL, group_main_make_fs },
	[SD_OP_SHUTDOWN] = { "SHUTDOWN", OP_CLUSTER, true, NULL, group_main_shutdown },
	[SD_OP_STAT_SHEEP] = { "STAT_SHEEP", OP_LOCAL, false, NULL, local_stat_sheep },
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
	[SD_OP_REWEIGHT] = { "REWEIGHT", OP_CLUSTER, false, NULL, group_main_reweight },
	[SD_OP_SET_VNODES] = { "SET_VNODES", OP_LOCAL, true, NULL, group_set_vnodes },
	[SD_OP_GET_VNODES] = { "GET_VNODES", OP_LOCAL, true, NULL, local_get_vnodes },
	/* vdi check (repair.c) */
	[SD_OP_GET_HASH] = { "GET_HASH", OP_LOCAL, false, repair_op_get_hash, NULL },
	[SD_OP_REPAIR_REPLICA] = { "REPAIR_REPLICA", OP_LOCAL, false, repair_op_repair_replica,
				   NULL },
	[SD_OP_OIDS_EXIST] = { "OIDS_EXIST", OP_LOCAL, true, repair_op_oids_exist, NULL },
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
