/*
 * gateway.c - client object IO.
 *
 * Validates each request against the object's size (derived from the oid and
 * the VDI's block size) and applies it to the nodes that hold the object.
 * Worker threads only; never touches cluster state except through vdi.c's
 * locked lookups.  With one node every object lives in the local store;
 * replica fan-out arrives with multi-node support.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "gateway.h"
#include "store.h"
#include "vdi.h"

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

/* writes to an object of a snapshot are refused: clients must COW */
static int check_writable(uint64_t oid)
{
	struct vdi_state st;

	if (is_data_obj(oid) && vdi_get_state(oid_to_vid(oid), &st) && st.snapshot)
		return SD_RES_READONLY;
	return SD_RES_SUCCESS;
}

int gateway_read_obj(uint64_t oid, void *buf, uint32_t len, uint32_t off)
{
	uint32_t rlen;
	int ret = check_range(oid, len, off);

	if (ret)
		return ret;
	return store_read(oid, buf, len, off, &rlen);
}

int gateway_write_obj(uint64_t oid, const void *buf, uint32_t len, uint32_t off)
{
	int ret = check_range(oid, len, off);

	if (!ret)
		ret = check_writable(oid);
	if (ret)
		return ret;
	return store_write(oid, buf, len, off);
}

int gateway_create_and_write_obj(uint64_t oid, uint64_t cow_oid, const void *buf,
				 uint32_t len, uint32_t off)
{
	uint32_t size = vdi_object_size(oid), rlen;
	void *base = NULL;
	int ret = check_range(oid, len, off);

	if (!ret)
		ret = check_writable(oid);
	if (ret)
		return ret;
	if (cow_oid) {
		if (vdi_object_size(cow_oid) != size)
			return SD_RES_INVALID_PARMS;
		base = xmalloc(size);
		ret = store_read(cow_oid, base, size, 0, &rlen);
		if (ret) {
			sd_err("oid %016" PRIx64 ": cannot read cow source %016" PRIx64, oid,
			       cow_oid);
			free(base);
			return ret;
		}
	}
	ret = store_create_and_write(oid, size, base, buf, len, off);
	free(base);
	return ret;
}

int gateway_remove_obj(uint64_t oid)
{
	return store_remove(oid);
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
		req->rp.obj.copies = hdr->obj.copies;
	}
	return ret;
}

int gateway_op_write(struct request *req)
{
	const struct sd_req *hdr = &req->rq;
	uint32_t len = (hdr->flags & SD_FLAG_CMD_WRITE) ? hdr->data_length : 0;

	req->rp.data_length = 0;
	return gateway_write_obj(hdr->obj.oid, req->data, len, hdr->obj.offset);
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

	req->rp.data_length = 0;
	if (!is_data_obj(oid) || idx >= SD_INODE_DATA_INDEX)
		return SD_RES_INVALID_PARMS;
	off = SD_INODE_HEADER_SIZE + idx * (uint32_t)sizeof(uint32_t);
	ret = gateway_read_obj(inode, &owner, sizeof(owner), off);
	if (ret)
		return ret;
	if (!owner)
		return SD_RES_SUCCESS;
	ret = gateway_write_obj(inode, &zero, sizeof(zero), off);
	if (ret)
		return ret;
	if (owner == vid) {
		ret = gateway_remove_obj(oid);
		if (ret == SD_RES_NO_OBJ)
			ret = SD_RES_SUCCESS;
	}
	return ret;
}
