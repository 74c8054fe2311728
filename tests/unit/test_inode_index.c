/*
 * test_inode_index.c - a VDI's index in both forms (inode_index.c): the
 * plain array, and a hyper volume's B-tree at one level and grown to two
 * (small nodes), and a two-level tree laid out here as Sheepdog writes it.
 * Every write goes to an in-memory cluster; the inode written there must
 * equal the one in memory.  Plus SHA-1 (sha1.c) test vectors.
 */
#include <stdlib.h>

#include "inode_index.h"
#include "sha1.h"
#include "unit.h"
#include "util.h"

#define INODE_LEN	(SD_INODE_HEADER_SIZE + SD_INODE_INDEX_SIZE)
#define VID		0x1234

/* the in-memory cluster: the inode (whole) and leaves (their first LEAF_KEEP bytes) */
#define LEAF_KEEP	65536
#define MAX_LEAVES	256
static uint8_t *shadow;
static struct {
	uint64_t oid;
	uint8_t *data;
} store[MAX_LEAVES];
static int nr_store, nr_writes, nr_inode_writes;
static uint32_t last_off, last_len;

static uint8_t *leaf_of(uint64_t oid, bool create)
{
	for (int i = 0; i < nr_store; i++)
		if (store[i].oid == oid)
			return store[i].data;
	if (!create || nr_store == MAX_LEAVES)
		return NULL;
	store[nr_store].oid = oid;
	store[nr_store].data = xzalloc(LEAF_KEEP);
	return store[nr_store++].data;
}

static int mem_read(uint64_t oid, void *buf, uint32_t len, void *ctx)
{
	uint8_t *d = leaf_of(oid, false);

	(void)ctx;
	if (!d)
		return SD_RES_NO_OBJ;
	memset(buf, 0, len);
	memcpy(buf, d, MIN(len, LEAF_KEEP));
	return SD_RES_SUCCESS;
}

static int mem_write(uint64_t oid, const void *buf, uint32_t len, uint32_t off, bool create,
		     void *ctx)
{
	uint8_t *d;

	(void)ctx;
	nr_writes++;
	if (oid == vid_to_vdi_oid(VID)) {
		if (create || (uint64_t)off + len > INODE_LEN)
			return SD_RES_INVALID_PARMS;
		memcpy(shadow + off, buf, len);
		nr_inode_writes++;
		last_off = off;
		last_len = len;
		return SD_RES_SUCCESS;
	}
	d = leaf_of(oid, create);
	if (!d)
		return SD_RES_NO_OBJ;
	if (off < LEAF_KEEP)
		memcpy(d + off, buf, MIN(len, LEAF_KEEP - off));
	return SD_RES_SUCCESS;
}

static const struct index_io io = { mem_read, mem_write, NULL };

static struct sd_inode *new_inode(uint8_t policy, uint64_t size)
{
	struct sd_inode *inode = xzalloc(INODE_LEN);

	inode->store_policy = policy;
	inode->vdi_size = size;
	inode->block_size_shift = 22;
	inode->vdi_id = VID;
	free(shadow);
	shadow = xzalloc(INODE_LEN);
	memcpy(shadow, inode, SD_INODE_HEADER_SIZE);
	return inode;
}

static void drop_store(void)
{
	for (int i = 0; i < nr_store; i++)
		free(store[i].data);
	nr_store = 0;
}

/* what was written of the inode is what the inode holds */
static bool shadow_matches(const struct sd_inode *inode)
{
	return !memcmp(shadow, inode, INODE_LEN);
}

struct seen {
	uint32_t idx[16], vid[16];
	int n;
};

static int note(uint32_t idx, uint32_t vid, void *arg)
{
	struct seen *s = arg;

	if (s->n < 16) {
		s->idx[s->n] = idx;
		s->vid[s->n] = vid;
	}
	s->n++;
	return 0;
}

TEST(plain_array)
{
	struct sd_inode *inode = new_inode(0, 16 << 20);
	struct seen s = { .n = 0 };

	CHECK_EQ(inode_index_set(inode, &io, 2, 7), SD_RES_SUCCESS);
	CHECK_EQ(last_off, SD_INODE_HEADER_SIZE + 8);
	CHECK_EQ(last_len, 4);
	CHECK(shadow_matches(inode));
	CHECK_EQ(inode_index_get(inode, &io, 2), 7);
	CHECK_EQ(inode_index_get(inode, &io, 3), 0);
	inode->data_vdi_id[5] = 9;	/* past the size's 4 objects: not walked */
	CHECK_EQ(inode_index_walk(inode, &io, note, &s), 0);
	CHECK_EQ(s.n, 1);
	CHECK_EQ(s.idx[0], 2);
	free(inode);
}

TEST(btree_one_level)
{
	struct sd_inode *inode = new_inode(1, SD_MAX_VDI_SIZE);
	struct sd_index_header *h = (struct sd_index_header *)inode->data_vdi_id;
	const uint32_t idx[] = { 3000000000u, 5, 1u << 20, 0, 4000000000u };
	struct seen s = { .n = 0 };

	CHECK_EQ(inode_index_get(inode, &io, 5), 0);	/* empty: all zeros */
	CHECK_EQ(inode_index_walk(inode, &io, note, &s), 0);
	CHECK_EQ(s.n, 0);
	for (size_t i = 0; i < ARRAY_SIZE(idx); i++)
		CHECK_EQ(inode_index_set(inode, &io, idx[i], 100 + (uint32_t)i), 0);
	CHECK_EQ(h->magic, INODE_BTREE_MAGIC);
	CHECK_EQ(h->depth, 1);
	CHECK_EQ(h->entries, 5);
	CHECK(shadow_matches(inode));
	/* an insert writes the entries that moved, then the header */
	CHECK_EQ(last_off, SD_INODE_HEADER_SIZE);
	CHECK_EQ(last_len, 8);
	for (size_t i = 0; i < ARRAY_SIZE(idx); i++)
		CHECK_EQ(inode_index_get(inode, &io, idx[i]), 100 + i);
	CHECK_EQ(inode_index_get(inode, &io, 6), 0);
	/* an update touches its entry only */
	nr_inode_writes = 0;
	CHECK_EQ(inode_index_set(inode, &io, 5, 77), 0);
	CHECK_EQ(nr_inode_writes, 1);
	CHECK_EQ(last_off, SD_INODE_HEADER_SIZE + 8 + 1 * 8);
	CHECK_EQ(last_len, 8);
	CHECK_EQ(inode_index_walk(inode, &io, note, &s), 0);
	CHECK_EQ(s.n, 5);
	CHECK_EQ(s.idx[0], 0);
	CHECK_EQ(s.idx[1], 5);
	CHECK_EQ(s.vid[1], 77);
	CHECK_EQ(s.idx[2], 1u << 20);
	CHECK_EQ(s.idx[4], 4000000000u);
	/* discard: an entry pointing at no VDI is a hole */
	CHECK_EQ(inode_index_set(inode, &io, 1u << 20, 0), 0);
	CHECK_EQ(inode_index_get(inode, &io, 1u << 20), 0);
	s.n = 0;
	inode_index_walk(inode, &io, note, &s);
	CHECK_EQ(s.n, 4);
	CHECK(shadow_matches(inode));
	free(inode);
}

TEST(btree_two_levels_as_sheepdog_writes_it)
{
	struct sd_inode *inode = new_inode(1, SD_MAX_VDI_SIZE);
	struct sd_index_header *h = (struct sd_index_header *)inode->data_vdi_id;
	struct sd_indirect_idx *ind = (struct sd_indirect_idx *)(h + 1);
	const uint32_t at[2][2] = { { 1, 9 }, { 70000, 1u << 31 } };
	struct seen s = { .n = 0 };
	uint64_t *oids;

	/* two leaves {1, 9} and {70000, 2^31} */
	for (int l = 0; l < 2; l++) {
		struct sd_index_header *leaf = (struct sd_index_header *)leaf_of(
			vid_to_btree_oid(VID, (uint32_t)l), true);
		struct sd_index *e = (struct sd_index *)(leaf + 1);

		leaf->magic = INODE_BTREE_MAGIC;
		leaf->depth = 1;
		leaf->entries = 2;
		for (int i = 0; i < 2; i++) {
			e[i].idx = at[l][i];
			e[i].vdi_id = VID;
		}
		ind[l].idx = at[l][1];
		ind[l].oid = vid_to_btree_oid(VID, (uint32_t)l);
	}
	h->magic = INODE_BTREE_MAGIC;
	h->depth = 2;
	h->entries = 2;
	inode->btree_counter = 2;
	CHECK_EQ(inode_index_get(inode, &io, 9), VID);
	CHECK_EQ(inode_index_get(inode, &io, 70000), VID);
	CHECK_EQ(inode_index_get(inode, &io, 1u << 31), VID);
	CHECK_EQ(inode_index_get(inode, &io, 10), 0);
	CHECK_EQ(inode_index_get(inode, &io, (1u << 31) + 1), 0);
	CHECK_EQ(inode_index_walk(inode, &io, note, &s), 0);
	CHECK_EQ(s.n, 4);
	CHECK_EQ(s.idx[2], 70000);
	CHECK_EQ(inode_index_leaves(inode, &oids), 2);
	CHECK_EQ(oids[1], vid_to_btree_oid(VID, 1));
	free(oids);
	/* an insert into a leaf with room writes that leaf, not the inode */
	nr_inode_writes = 0;
	CHECK_EQ(inode_index_set(inode, &io, 12, 5), 0);
	CHECK_EQ(nr_inode_writes, 0);
	CHECK_EQ(inode_index_get(inode, &io, 12), 5);
	CHECK_EQ(h->entries, 2);
	/* an unreadable leaf stops the walk with its result */
	ind[1].oid = vid_to_btree_oid(VID, 7);
	s.n = 0;
	CHECK_EQ(inode_index_walk(inode, &io, note, &s), -SD_RES_NO_OBJ);
	drop_store();
	free(inode);
}

static int ascending(uint32_t idx, uint32_t vid, void *arg)
{
	int64_t *last = arg;

	if ((int64_t)idx <= last[0] || vid != (idx ^ 0x5a5a) + 1)
		last[1]++;	/* out of order, or the wrong owner */
	last[0] = idx;
	last[2]++;
	return 0;
}

TEST(btree_grows_to_two_levels)
{
	struct sd_inode *inode = new_inode(1, SD_MAX_VDI_SIZE);
	struct sd_index_header *h = (struct sd_index_header *)inode->data_vdi_id;
	uint32_t idx[120], seed = 12345;
	int64_t last[3] = { -1, 0, 0 };
	int bad = 0;

	inode_index_node_entries = 4;	/* splits after a handful of entries */
	for (int i = 0; i < 120; i++) {
		/* the first 40 ascending (new last leaves), then scattered (splits) */
		seed = seed * 1103515245 + 12345;
		idx[i] = i < 40 ? (uint32_t)i * 1000 : (seed >> 1) % 40000 + 1;
		for (int j = 0; j < i; j++)
			if (idx[j] == idx[i])
				idx[i] = 40000 + (uint32_t)i;	/* keep them distinct */
		CHECK_EQ(inode_index_set(inode, &io, idx[i], (idx[i] ^ 0x5a5a) + 1), 0);
		if (i == 4) {
			/* the fifth entry split the root: the root and the counter are written */
			CHECK_EQ(h->depth, 2);
			CHECK_EQ(last_off, offsetof(struct sd_inode, btree_counter));
			CHECK(last_len > SD_INODE_HEADER_SIZE - last_off);
		}
	}
	CHECK_EQ(h->depth, 2);
	CHECK(h->entries > 20);
	CHECK_EQ(inode->btree_counter, nr_store);
	CHECK(shadow_matches(inode));
	for (int i = 0; i < 120; i++)
		bad += inode_index_get(inode, &io, idx[i]) != (idx[i] ^ 0x5a5a) + 1;
	CHECK_EQ(bad, 0);
	CHECK_EQ(inode_index_get(inode, &io, 39999), 0);
	CHECK_EQ(inode_index_walk(inode, &io, ascending, last), 0);
	CHECK_EQ(last[1], 0);
	CHECK_EQ(last[2], 120);
	/* the tree as written reads the same */
	last[0] = -1;
	last[2] = 0;
	CHECK_EQ(inode_index_walk((struct sd_inode *)shadow, &io, ascending, last), 0);
	CHECK_EQ(last[1], 0);
	CHECK_EQ(last[2], 120);
	/* an update in place writes one entry of one leaf, not the root */
	nr_writes = 0;
	CHECK_EQ(inode_index_set(inode, &io, idx[7], 3), 0);
	CHECK_EQ(nr_writes, 1);
	CHECK_EQ(inode_index_get(inode, &io, idx[7]), 3);
	inode_index_node_entries = (SD_INODE_INDEX_SIZE - 8) / 8;
	drop_store();
	free(inode);
}

TEST(sha1_vectors)
{
	static const char *in[] = { "", "abc",
		"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq" };
	static const char *out[] = { "da39a3ee5e6b4b0d3255bfef95601890afd80709",
		"a9993e364706816aba3e25717850c26c9cd0d89d",
		"84983e441c3bd26ebaae4aa1f95129e5e54670f1" };
	char *big = malloc(1000000);
	uint8_t d[SHA1_DIGEST_SIZE];
	char hex[41];

	for (int i = 0; i < 3; i++) {
		sha1(in[i], strlen(in[i]), d);
		for (int j = 0; j < SHA1_DIGEST_SIZE; j++)
			snprintf(hex + 2 * j, 3, "%02x", d[j]);
		CHECK(!strcmp(hex, out[i]));
	}
	memset(big, 'a', 1000000);
	sha1(big, 1000000, d);
	for (int j = 0; j < SHA1_DIGEST_SIZE; j++)
		snprintf(hex + 2 * j, 3, "%02x", d[j]);
	CHECK(!strcmp(hex, "34aa973cd4c4daa4f61eeb2bdbad27316534016f"));
	free(big);
}

UNIT_MAIN(T(plain_array), T(btree_one_level), T(btree_two_levels_as_sheepdog_writes_it),
	  T(btree_grows_to_two_levels), T(sha1_vectors))
