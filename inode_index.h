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
/* write len bytes at off of object oid (create: a new 4 MiB object): SD_RES_* */
typedef int (*index_write_fn)(uint64_t oid, const void *buf, uint32_t len, uint32_t off,
			      bool create, void *ctx);

/* how B-tree leaf objects (and, for write, the inode) are read and written */
struct index_io {
	index_read_fn read;
	index_write_fn write;
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
int inode_index_walk(const struct sd_inode *inode, const struct index_io *rd,
		     int (*fn)(uint32_t idx, uint32_t vid, void *arg), void *arg);
/* the VDI owning object idx; 0 if unallocated or its leaf unreadable */
uint32_t inode_index_get(const struct sd_inode *inode, const struct index_io *rd,
			 uint32_t idx);
/*
 * Point idx at vid in the in-memory inode and in the cluster, through
 * io->write: the inode's changed bytes (4 for the array; the entries that
 * moved and the count for a one-level tree), and a B-tree's leaf objects as
 * Sheepdog lays them out (a full root splits into two leaves, a full leaf
 * in two, a new last leaf when the last is full).  SD_RES_*.
 */
int inode_index_set(struct sd_inode *inode, const struct index_io *io, uint32_t idx,
		    uint32_t vid);
/* entries per B-tree node; tests lower it to reach two levels quickly */
extern uint32_t inode_index_node_entries;
/* the leaf objects (4 MiB each) of a two-level B-tree, for delete: count, oids in *oids */
int inode_index_leaves(const struct sd_inode *inode, uint64_t **oids);

#endif
