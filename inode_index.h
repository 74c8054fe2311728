/*
 * inode_index.h - a VDI's index, whichever form its inode holds: the plain
 * data_vdi_id[] array (store_policy 0) or a hyper volume's B-tree
 * (store_policy 1, proto.h).  Shared by sheep (vdi.c) and dog, as
 * Sheepdog's sd_inode.c is; the caller supplies how a B-tree leaf object is
 * read.  Pure otherwise; any thread, one inode per caller.
 */
#ifndef SHEEP_INODE_INDEX_H
#define SHEEP_INODE_INDEX_H

#include <stdbool.h>
#include <stdint.h>

#include "proto.h"

/* read len bytes of object oid into buf: SD_RES_* */
typedef int (*index_read_fn)(uint64_t oid, void *buf, uint32_t len, void *ctx);

struct index_reader {
	index_read_fn read;
	void *ctx;
};

static inline bool inode_is_hyper(const struct sd_inode *inode)
{
	return inode->store_policy == 1;
}

/* index slots the VDI's size spans */
uint64_t inode_nr_objs(const struct sd_inode *inode);
/*
 * fn for every allocated index in order (inode read with its index); stops
 * at fn's non-zero value and returns it, or an SD_RES_* if a B-tree leaf
 * could not be read (then as a negative number).
 */
int inode_index_walk(const struct sd_inode *inode, const struct index_reader *rd,
		     int (*fn)(uint32_t idx, uint32_t vid, void *arg), void *arg);
/* the VDI owning object idx; 0 if unallocated or its leaf unreadable */
uint32_t inode_index_get(const struct sd_inode *inode, const struct index_reader *rd,
			 uint32_t idx);
/*
 * Point idx at vid in the in-memory inode and say which bytes of the inode
 * object changed (*off, *len), for the caller to write.  A hyper volume's
 * B-tree is changed while it is one node (up to 524287 objects allocated);
 * a tree of two levels, or one that would need a second, answers
 * SD_RES_NO_SUPPORT and is left as it was.
 */
int inode_index_set(struct sd_inode *inode, uint32_t idx, uint32_t vid, uint32_t *off,
		    uint32_t *len);
/* the leaf objects (4 MiB each) of a two-level B-tree, for delete: count, oids in *oids */
int inode_index_leaves(const struct sd_inode *inode, uint64_t **oids);

#endif
