/*
 * dog_inode.c - reading a VDI's index in dog, whichever form the inode
 * holds: the plain data_vdi_id[] array (store_policy 0) or the B-tree of a
 * hyper volume (store_policy 1, PROTOCOL.md section 8).  Read-only; the
 * writers of the index (vdi write) go through dog_write_index.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "dog.h"

uint64_t dog_inode_nr_objs(const struct sd_inode *inode)
{
	uint8_t bss = inode->block_size_shift ? inode->block_size_shift :
		      SD_DEFAULT_BLOCK_SIZE_SHIFT;

	return DIV_ROUND_UP(inode->vdi_size, UINT64_C(1) << bss);
}

int dog_inode_walk(const struct sd_inode *inode,
		   int (*fn)(uint32_t idx, uint32_t vid, void *arg), void *arg)
{
	uint64_t nr = MIN(dog_inode_nr_objs(inode), SD_INODE_DATA_INDEX);

	for (uint32_t i = 0; i < nr; i++) {
		int ret;

		if (!inode->data_vdi_id[i])
			continue;
		ret = fn(i, inode->data_vdi_id[i], arg);
		if (ret)
			return ret;
	}
	return 0;
}

uint32_t dog_inode_get_vid(const struct sd_inode *inode, uint32_t idx)
{
	return idx < SD_INODE_DATA_INDEX ? inode->data_vdi_id[idx] : 0;
}
