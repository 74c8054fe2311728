/*
 * inode_index.c - reading and changing a VDI's index in either form
 * (inode_index.h).  The B-tree of a hyper volume lives in data_vdi_id[]:
 * a header {magic 0x6274, depth, entries}, then at depth 1 entries
 * {idx, vdi_id} sorted by idx, at depth 2 entries {highest idx below,
 * oid} sorted by idx, each oid a 4 MiB object holding a depth-1 node.
 */
#include <stdlib.h>
#include <string.h>

#include "inode_index.h"
#include "util.h"

#define NODE_SIZE	SD_INODE_INDEX_SIZE
#define MAX_ENTRIES	((NODE_SIZE - sizeof(struct sd_index_header)) / sizeof(struct sd_index))
#define MAX_INDIRECT	((NODE_SIZE - sizeof(struct sd_index_header)) / \
			 sizeof(struct sd_indirect_idx))

static const struct sd_index_header *root_of(const struct sd_inode *inode)
{
	return (const struct sd_index_header *)inode->data_vdi_id;
}

static const struct sd_index *entries_of(const struct sd_index_header *h)
{
	return (const struct sd_index *)(h + 1);
}

static const struct sd_indirect_idx *indirect_of(const struct sd_index_header *h)
{
	return (const struct sd_indirect_idx *)(h + 1);
}

/* a B-tree that is there and sane; an empty (all-zero) one has no entries */
static bool btree_ok(const struct sd_index_header *h)
{
	if (h->magic != INODE_BTREE_MAGIC)
		return false;
	if (h->depth == 1)
		return h->entries <= MAX_ENTRIES;
	return h->depth == 2 && h->entries <= MAX_INDIRECT;
}

uint64_t inode_nr_objs(const struct sd_inode *inode)
{
	uint8_t bss = inode->block_size_shift ? inode->block_size_shift :
		      SD_DEFAULT_BLOCK_SIZE_SHIFT;

	return DIV_ROUND_UP(inode->vdi_size, UINT64_C(1) << bss);
}

/* first entry with .idx >= idx (n if none) */
static uint32_t lower_bound(const struct sd_index *e, uint32_t n, uint32_t idx)
{
	uint32_t lo = 0, hi = n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (e[mid].idx < idx)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static uint32_t lower_bound_indirect(const struct sd_indirect_idx *e, uint32_t n, uint32_t idx)
{
	uint32_t lo = 0, hi = n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (e[mid].idx < idx)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int walk_node(const struct sd_index_header *h,
		     int (*fn)(uint32_t idx, uint32_t vid, void *arg), void *arg)
{
	const struct sd_index *e = entries_of(h);

	for (uint32_t i = 0; i < h->entries; i++) {
		int ret;

		if (!e[i].vdi_id)
			continue;
		ret = fn(e[i].idx, e[i].vdi_id, arg);
		if (ret)
			return ret;
	}
	return 0;
}

/* read a leaf node object and check it */
static struct sd_index_header *read_leaf(const struct index_reader *rd, uint64_t oid, int *ret)
{
	struct sd_index_header *leaf = xmalloc(NODE_SIZE);

	*ret = rd->read(oid, leaf, NODE_SIZE, rd->ctx);
	if (!*ret && (leaf->magic != INODE_BTREE_MAGIC || leaf->depth != 1 ||
		      leaf->entries > MAX_ENTRIES))
		*ret = SD_RES_EIO;
	if (*ret) {
		free(leaf);
		return NULL;
	}
	return leaf;
}

int inode_index_walk(const struct sd_inode *inode, const struct index_reader *rd,
		     int (*fn)(uint32_t idx, uint32_t vid, void *arg), void *arg)
{
	const struct sd_index_header *h = root_of(inode);
	const struct sd_indirect_idx *ind;

	if (!inode_is_hyper(inode)) {
		uint64_t nr = MIN(inode_nr_objs(inode), SD_INODE_DATA_INDEX);

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
	if (!inode->data_vdi_id[0])
		return 0;	/* nothing written yet */
	if (!btree_ok(h))
		return -SD_RES_EIO;
	if (h->depth == 1)
		return walk_node(h, fn, arg);
	ind = indirect_of(h);
	for (uint32_t i = 0; i < h->entries; i++) {
		int ret;
		struct sd_index_header *leaf = read_leaf(rd, ind[i].oid, &ret);

		if (!leaf)
			return -ret;
		ret = walk_node(leaf, fn, arg);
		free(leaf);
		if (ret)
			return ret;
	}
	return 0;
}

uint32_t inode_index_get(const struct sd_inode *inode, const struct index_reader *rd,
			 uint32_t idx)
{
	const struct sd_index_header *h = root_of(inode);
	struct sd_index_header *leaf;
	const struct sd_indirect_idx *ind;
	uint32_t i, vid = 0;
	int ret;

	if (!inode_is_hyper(inode))
		return idx < SD_INODE_DATA_INDEX ? inode->data_vdi_id[idx] : 0;
	if (!inode->data_vdi_id[0] || !btree_ok(h))
		return 0;
	if (h->depth == 1) {
		i = lower_bound(entries_of(h), h->entries, idx);
		return i < h->entries && entries_of(h)[i].idx == idx ? entries_of(h)[i].vdi_id : 0;
	}
	ind = indirect_of(h);
	i = lower_bound_indirect(ind, h->entries, idx);
	if (i == h->entries)
		return 0;
	leaf = read_leaf(rd, ind[i].oid, &ret);
	if (!leaf)
		return 0;
	i = lower_bound(entries_of(leaf), leaf->entries, idx);
	if (i < leaf->entries && entries_of(leaf)[i].idx == idx)
		vid = entries_of(leaf)[i].vdi_id;
	free(leaf);
	return vid;
}

int inode_index_set(struct sd_inode *inode, uint32_t idx, uint32_t vid, uint32_t *off,
		    uint32_t *len)
{
	struct sd_index_header *h = (struct sd_index_header *)inode->data_vdi_id;
	struct sd_index *e = (struct sd_index *)(h + 1);
	uint32_t i;

	if (!inode_is_hyper(inode)) {
		if (idx >= SD_INODE_DATA_INDEX)
			return SD_RES_INVALID_PARMS;
		inode->data_vdi_id[idx] = vid;
		*off = SD_INODE_HEADER_SIZE + idx * (uint32_t)sizeof(uint32_t);
		*len = sizeof(uint32_t);
		return SD_RES_SUCCESS;
	}
	if (!inode->data_vdi_id[0]) {
		h->magic = INODE_BTREE_MAGIC;
		h->depth = 1;
		h->entries = 0;
	}
	if (!btree_ok(h))
		return SD_RES_EIO;
	if (h->depth != 1)
		return SD_RES_NO_SUPPORT;
	i = lower_bound(e, h->entries, idx);
	if (i < h->entries && e[i].idx == idx) {
		e[i].vdi_id = vid;
		*off = SD_INODE_HEADER_SIZE + (uint32_t)((char *)&e[i] - (char *)h);
		*len = sizeof(e[i]);
		return SD_RES_SUCCESS;
	}
	if (h->entries >= MAX_ENTRIES)
		return SD_RES_NO_SUPPORT;
	memmove(&e[i + 1], &e[i], sizeof(*e) * (h->entries - i));
	e[i].idx = idx;
	e[i].vdi_id = vid;
	h->entries++;
	*off = SD_INODE_HEADER_SIZE;
	*len = (uint32_t)(sizeof(*h) + sizeof(*e) * h->entries);
	return SD_RES_SUCCESS;
}

int inode_index_leaves(const struct sd_inode *inode, uint64_t **oids)
{
	const struct sd_index_header *h = root_of(inode);
	int n = 0;

	*oids = NULL;
	if (!inode_is_hyper(inode) || !inode->data_vdi_id[0] || !btree_ok(h) || h->depth != 2)
		return 0;
	*oids = xcalloc(h->entries ? h->entries : 1, sizeof(**oids));
	for (uint32_t i = 0; i < h->entries; i++)
		(*oids)[n++] = indirect_of(h)[i].oid;
	return n;
}
