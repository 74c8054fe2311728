/*
 * inode_index.c - reading and changing a VDI's index in either form
 * (inode_index.h).  The B-tree of a hyper volume lives in data_vdi_id[]:
 * a header {magic 0x6274, depth, entries}, then at depth 1 entries
 * {idx, vdi_id} sorted by idx, at depth 2 entries {highest idx below,
 * oid} sorted by idx, each oid a 4 MiB object holding a depth-1 node.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "inode_index.h"
#include "util.h"

#define NODE_SIZE	SD_INODE_INDEX_SIZE
#define MAX_ENTRIES	((NODE_SIZE - sizeof(struct sd_index_header)) / sizeof(struct sd_index))
#define MAX_INDIRECT	((NODE_SIZE - sizeof(struct sd_index_header)) / \
			 sizeof(struct sd_indirect_idx))

uint32_t inode_index_node_entries = MAX_ENTRIES;

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

/*
 * first entry with .idx >= idx (n if none) in entries of `size` bytes that
 * start with their u32 idx: struct sd_index and struct sd_indirect_idx alike
 */
static uint32_t lower_bound_of(const void *entries, size_t size, uint32_t n, uint32_t idx)
{
	uint32_t lo = 0, hi = n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2, at;

		memcpy(&at, (const char *)entries + (size_t)mid * size, sizeof(at));
		if (at < idx)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static uint32_t lower_bound(const struct sd_index *e, uint32_t n, uint32_t idx)
{
	return lower_bound_of(e, sizeof(*e), n, idx);
}

static uint32_t lower_bound_indirect(const struct sd_indirect_idx *e, uint32_t n, uint32_t idx)
{
	return lower_bound_of(e, sizeof(*e), n, idx);
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
static struct sd_index_header *read_leaf(const struct index_io *rd, uint64_t oid, int *ret)
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

int inode_index_walk(const struct sd_inode *inode, const struct index_io *rd,
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

uint32_t inode_index_get(const struct sd_inode *inode, const struct index_io *rd,
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

/* the inode bytes a change of the root spans: btree_counter .. the last root entry */
static void root_range(const struct sd_inode *inode, uint32_t *off, uint32_t *len)
{
	const struct sd_index_header *h = root_of(inode);
	size_t esz = h->depth == 1 ? sizeof(struct sd_index) : sizeof(struct sd_indirect_idx);

	*off = (uint32_t)offsetof(struct sd_inode, btree_counter);
	*len = (uint32_t)(SD_INODE_HEADER_SIZE + sizeof(*h) + esz * h->entries) - *off;
}

static uint64_t new_leaf_oid(struct sd_inode *inode)
{
	return vid_to_btree_oid(inode->vdi_id, inode->btree_counter++);
}

/* a node's entries from first on, then its header (the count that takes them in) */
static int write_node_tail(const struct index_io *io, uint64_t oid,
			   const struct sd_index_header *h, uint32_t first)
{
	const struct sd_index *e = entries_of(h);
	int ret = SD_RES_SUCCESS;

	if (first < h->entries)
		ret = io->write(oid, &e[first], (uint32_t)(sizeof(*e) * (h->entries - first)),
				(uint32_t)(sizeof(*h) + sizeof(*e) * first), false, io->ctx);
	return ret ? ret : io->write(oid, h, sizeof(*h), 0, false, io->ctx);
}

static int create_leaf(const struct index_io *io, uint64_t oid, const struct sd_index *e,
		       uint32_t n)
{
	struct sd_index_header *leaf = xzalloc(NODE_SIZE);
	int ret;

	leaf->magic = INODE_BTREE_MAGIC;
	leaf->depth = 1;
	leaf->entries = n;
	memcpy(leaf + 1, e, sizeof(*e) * n);
	ret = io->write(oid, leaf, NODE_SIZE, 0, true, io->ctx);
	free(leaf);
	return ret;
}

static void insert_entry(struct sd_index_header *h, uint32_t pos, uint32_t idx, uint32_t vid)
{
	struct sd_index *e = (struct sd_index *)(h + 1);

	memmove(&e[pos + 1], &e[pos], sizeof(*e) * (h->entries - pos));
	e[pos].idx = idx;
	e[pos].vdi_id = vid;
	h->entries++;
}

static void insert_indirect(struct sd_index_header *h, uint32_t pos, uint32_t idx, uint64_t oid)
{
	struct sd_indirect_idx *e = (struct sd_indirect_idx *)(h + 1);

	memmove(&e[pos + 1], &e[pos], sizeof(*e) * (h->entries - pos));
	e[pos].idx = idx;
	e[pos].oid = oid;
	h->entries++;
}

/* a full one-level root becomes two leaves under a two-level root */
static int root_to_two_levels(struct sd_inode *inode, const struct index_io *io)
{
	struct sd_index_header *h = (struct sd_index_header *)inode->data_vdi_id;
	struct sd_index *e = (struct sd_index *)(h + 1), *copy;
	uint32_t n = h->entries, half = n / 2;
	uint64_t left = new_leaf_oid(inode), right = new_leaf_oid(inode);
	int ret;

	copy = xmalloc(sizeof(*e) * n);
	memcpy(copy, e, sizeof(*e) * n);
	ret = create_leaf(io, left, copy, half);
	if (!ret)
		ret = create_leaf(io, right, copy + half, n - half);
	if (!ret) {
		memset(e, 0, sizeof(*e) * n);
		h->depth = 2;
		h->entries = 0;
		insert_indirect(h, 0, copy[half - 1].idx, left);
		insert_indirect(h, 1, copy[n - 1].idx, right);
	} else {
		inode->btree_counter -= 2;
	}
	free(copy);
	return ret;
}

/* two levels: one step; SD_RES_AGAIN after a split (search again) */
static int set_two_levels(struct sd_inode *inode, const struct index_io *io, uint32_t idx,
			  uint32_t vid, bool *root_changed)
{
	struct sd_index_header *h = (struct sd_index_header *)inode->data_vdi_id;
	struct sd_indirect_idx *ind = (struct sd_indirect_idx *)(h + 1);
	struct sd_index_header *leaf;
	struct sd_index *e;
	uint32_t i = lower_bound_indirect(ind, h->entries, idx), pos;
	bool past_end = i == h->entries;
	int ret;

	if (!h->entries)
		return SD_RES_EIO;
	if (past_end)
		i = h->entries - 1;	/* the last leaf, if it has room */
	leaf = read_leaf(io, ind[i].oid, &ret);
	if (!leaf)
		return ret;
	e = (struct sd_index *)(leaf + 1);
	pos = lower_bound(e, leaf->entries, idx);
	if (pos < leaf->entries && e[pos].idx == idx) {
		e[pos].vdi_id = vid;
		ret = io->write(ind[i].oid, &e[pos], sizeof(*e),
				(uint32_t)(sizeof(*leaf) + sizeof(*e) * pos), false, io->ctx);
	} else if (leaf->entries < inode_index_node_entries) {
		insert_entry(leaf, pos, idx, vid);
		ret = write_node_tail(io, ind[i].oid, leaf, pos);
		if (!ret && past_end) {
			ind[i].idx = idx;
			*root_changed = true;
		}
	} else if (past_end) {
		/* a new last leaf with the one entry */
		struct sd_index one = { idx, vid };
		uint64_t oid;

		if (h->entries >= MAX_INDIRECT) {
			free(leaf);
			return SD_RES_NO_SPACE;
		}
		oid = new_leaf_oid(inode);
		ret = create_leaf(io, oid, &one, 1);
		if (!ret) {
			insert_indirect(h, h->entries, idx, oid);
			*root_changed = true;
		} else {
			inode->btree_counter--;
		}
	} else {
		/* a full leaf: its lower half moves to a new leaf before it */
		uint32_t half = leaf->entries / 2, low_max = e[half - 1].idx;
		uint64_t oid;

		if (h->entries >= MAX_INDIRECT) {
			free(leaf);
			return SD_RES_NO_SPACE;
		}
		oid = new_leaf_oid(inode);
		ret = create_leaf(io, oid, e, half);
		if (!ret) {
			memmove(e, e + half, sizeof(*e) * (leaf->entries - half));
			leaf->entries -= half;
			memset(e + leaf->entries, 0, sizeof(*e) * half);
			ret = write_node_tail(io, ind[i].oid, leaf, 0);
		}
		if (!ret) {
			insert_indirect(h, i, low_max, oid);
			*root_changed = true;
		}
		free(leaf);
		return ret ? ret : SD_RES_AGAIN;
	}
	free(leaf);
	return ret;
}
/* the inode's own bytes [off, off + len) as they are in memory */
static int write_inode(struct sd_inode *inode, const struct index_io *io, uint32_t off,
		       uint32_t len)
{
	return io->write(vid_to_vdi_oid(inode->vdi_id), (char *)inode + off, len, off, false,
			 io->ctx);
}

int inode_index_set(struct sd_inode *inode, const struct index_io *io, uint32_t idx,
		    uint32_t vid)
{
	struct sd_index_header *h = (struct sd_index_header *)inode->data_vdi_id;
	struct sd_index *e = (struct sd_index *)(h + 1);
	bool root_changed = false;
	uint32_t i, off, len;
	int ret;

	if (!inode_is_hyper(inode)) {
		if (idx >= SD_INODE_DATA_INDEX)
			return SD_RES_INVALID_PARMS;
		inode->data_vdi_id[idx] = vid;
		return write_inode(inode, io, SD_INODE_HEADER_SIZE + idx * 4, 4);
	}
	if (!inode->data_vdi_id[0]) {
		h->magic = INODE_BTREE_MAGIC;
		h->depth = 1;
		h->entries = 0;
	}
	if (!btree_ok(h))
		return SD_RES_EIO;
	if (h->depth == 1) {
		i = lower_bound(e, h->entries, idx);
		off = SD_INODE_HEADER_SIZE + (uint32_t)sizeof(*h) + i * (uint32_t)sizeof(*e);
		if (i < h->entries && e[i].idx == idx) {
			e[i].vdi_id = vid;
			return write_inode(inode, io, off, sizeof(*e));
		}
		if (h->entries < inode_index_node_entries) {
			/* the entries from i on, then the count that takes them in */
			insert_entry(h, i, idx, vid);
			ret = write_inode(inode, io, off, (h->entries - i) * (uint32_t)sizeof(*e));
			return ret ? ret : write_inode(inode, io, SD_INODE_HEADER_SIZE, sizeof(*h));
		}
		ret = root_to_two_levels(inode, io);
		if (ret)
			return ret;
		root_changed = true;
	}
	do
		ret = set_two_levels(inode, io, idx, vid, &root_changed);
	while (ret == SD_RES_AGAIN);
	if (root_changed) {
		/* a split's leaves are written: their root must be, whatever came after */
		int r;

		root_range(inode, &off, &len);
		r = write_inode(inode, io, off, len);
		ret = ret ? ret : r;
	}
	return ret;
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
