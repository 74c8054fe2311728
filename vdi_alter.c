/*
 * vdi_alter.c - ALTER_VDI_COPY (Sheepdog's `dog vdi alter-copy`): a VDI's
 * number of copies, changed cluster-wide.
 *
 * The worker phase on the receiving node checks the request and makes the
 * inode say the new number (Sheepdog's dog writes it there first; another
 * client may not), so a node that starts later or joins reads it from there.
 * The main phase, on every member in the cluster's order, sets the VDI's
 * state (which the placement of its objects follows) and has recovery check
 * every object again for the current epoch: the nodes that now hold one of
 * the VDI's objects fetch it, and once every member is done the nodes that
 * no longer hold one remove their copy.  Until its object is fetched, a
 * node makes it current before serving any IO of it (recovery.c), so a
 * write with the new number of copies never finds a replica missing.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>

#include "gateway.h"
#include "recovery.h"
#include "vdi.h"

int vdi_op_alter_copy(struct request *req)
{
	const struct sd_req *hdr = &req->rq;
	uint32_t vid = hdr->vdi_state.new_vid;
	uint8_t copies = hdr->vdi_state.copies;
	struct sd_inode *inode;
	struct vdi_state st;
	int ret;

	req->rp.data_length = 0;
	if (hdr->vdi_state.copy_policy)
		return SD_RES_INVALID_PARMS;	/* erasure coding: not built */
	if (!vid || vid >= SD_NR_VDIS || !copies || copies > SD_MAX_COPIES)
		return SD_RES_INVALID_PARMS;
	if (!vdi_get_state(vid, &st) || st.deleted)
		return SD_RES_NO_VDI;
	inode = xmalloc(SD_INODE_HEADER_SIZE);
	ret = gateway_read_obj(vid_to_vdi_oid(vid), inode, SD_INODE_HEADER_SIZE, 0);
	if (ret == SD_RES_SUCCESS && !inode->name[0])
		ret = SD_RES_NO_VDI;
	if (ret == SD_RES_SUCCESS && inode->nr_copies != copies)
		ret = gateway_write_obj(vid_to_vdi_oid(vid), &copies, sizeof(copies),
					(uint32_t)offsetof(struct sd_inode, nr_copies));
	if (ret != SD_RES_SUCCESS)
		sd_err("vdi %06" PRIx32 ": cannot set its copies to %u: result %02x", vid, copies,
		       ret);
	free(inode);
	return ret;
}

int vdi_main_alter_copy(const struct sd_req *req, struct sd_rsp *rsp, void *data)
{
	uint32_t vid = req->vdi_state.new_vid;
	uint8_t copies = req->vdi_state.copies;
	struct vdi_state st;

	(void)rsp;
	(void)data;
	if (!vdi_get_state(vid, &st)) {
		/* not synced here yet: what the request says */
		st.block_size_shift = req->vdi_state.block_size_shift;
		st.snapshot = st.deleted = false;
		st.copies = 0;
	}
	sd_info("vdi %06" PRIx32 ": %u copies (was %u); checking its objects", vid, copies,
		st.copies);
	vdi_mark_in_use(vid, copies, st.block_size_shift, st.snapshot);
	if (st.deleted)
		vdi_mark_deleted(vid);
	recovery_recheck();
	return SD_RES_SUCCESS;
}
