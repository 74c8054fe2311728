/*
 * repair.c - the node's side of `dog vdi check`: GET_HASH (the SHA-1 of this
 * node's copy of an object), REPAIR_REPLICA (replace this node's copy with
 * the one of the node named in forw) and OIDS_EXIST (which of a list of
 * objects this node lacks), as Sheepdog's dog sends them.  The check itself
 * (which node should hold what, which copy wins) is the dog's.
 *
 * Handlers run on worker threads (ops.c rows) and touch only the local store,
 * through the same per-object locking as replica IO (objlock.h, recovery.h).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "gateway.h"
#include "net.h"
#include "objlock.h"
#include "ops.h"
#include "recovery.h"
#include "repair.h"
#include "sha1.h"
#include "store.h"
#include "vdi.h"

/*
 * The digest covers the object's data at its full size (a copy created by a
 * partial write reads as zeros past it), not the version trailer: two copies
 * with the same bytes are the same copy.
 */
int repair_op_get_hash(struct request *req)
{
	uint64_t oid = req->rq.obj.oid;
	uint32_t size = vdi_object_size(oid), rlen;
	char *buf;
	int ret;

	req->rp.data_length = 0;
	ret = obj_acquire(oid);
	if (ret)
		return ret;
	/* an open file may outlive its name: a copy removed underneath us is gone */
	if (!store_exists(oid)) {
		obj_release(oid);
		return SD_RES_NO_OBJ;
	}
	buf = xmalloc(size);
	ret = store_read(oid, buf, size, 0, &rlen);
	obj_release(oid);
	if (ret == SD_RES_SUCCESS)
		sha1(buf, size, req->rp.hash.digest);
	free(buf);
	return ret;
}

int repair_op_repair_replica(struct request *req)
{
	uint64_t oid = req->rq.forw.oid;
	uint32_t size = oid & VDI_BIT ? SD_INODE_SIZE :
			MAX(vdi_object_size(oid), UINT32_C(1) << 22);
	struct node_id src = { 0 };
	struct obj_version ver;
	struct sd_req hdr = { 0 };
	struct sd_rsp rsp;
	char *buf = xmalloc(size), name[64];
	int ret;

	req->rp.data_length = 0;
	memcpy(src.addr, req->rq.forw.addr, sizeof(src.addr));
	src.port = req->rq.forw.port;
	node_id_to_str(&src, name, sizeof(name));
	/* the source's copy whole, with its version, as recovery fetches it */
	hdr.proto_ver = SD_SHEEP_PROTO_VER;
	hdr.opcode = SD_OP_READ_PEER;
	hdr.flags = SD_FLAG_CMD_RECOVERY;
	hdr.epoch = gateway_epoch();
	hdr.obj.oid = oid;
	hdr.data_length = size;
	ret = gateway_peer_exec(&src, &hdr, NULL, &rsp, buf, size);
	if (ret == SD_RES_SUCCESS && (!rsp.data_length || rsp.data_length != rsp.recov.obj_size))
		ret = SD_RES_EIO;
	if (ret) {
		sd_err("oid %016" PRIx64 ": cannot read the copy of %s to repair ours: result %02x",
		       oid, name, ret);
		goto out;
	}
	ver.epoch = rsp.recov.ver_epoch;
	ver.counter = rsp.recov.ver_counter;
	/* writes in progress here land first; the copy then replaces them */
	obj_drain_begin(oid);
	ret = store_replace(oid, buf, rsp.data_length, &ver);
	obj_drain_end(oid);
	if (ret)
		sd_err("oid %016" PRIx64 ": cannot store the copy of %s: result %02x", oid, name,
		       ret);
	else
		sd_notice("oid %016" PRIx64 ": replica repaired from %s", oid, name);
out:
	free(buf);
	return ret;
}

/* the oids of the payload this node lacks, in place; NO_OBJ if any */
int repair_op_oids_exist(struct request *req)
{
	uint64_t *oids = req->data;
	uint32_t n = req->rq.data_length / (uint32_t)sizeof(uint64_t), missing = 0;

	if (!(req->rq.flags & SD_FLAG_CMD_WRITE))
		n = 0;
	for (uint32_t i = 0; i < n; i++)
		if (!store_exists(oids[i]))
			oids[missing++] = oids[i];
	req->rp.data_length = missing * (uint32_t)sizeof(uint64_t);
	return missing ? SD_RES_NO_OBJ : SD_RES_SUCCESS;
}
