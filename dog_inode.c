/*
 * dog_inode.c - dog's view of a VDI's index, whichever form the inode holds
 * (inode_index.c does the work): B-tree leaves are read through the
 * connection to the sheep, changes to the index are written to the inode.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "dog.h"
#include "inode_index.h"

/*
 * The last B-tree leaf read, kept for this command's life: reading a
 * two-level hyper volume object by object asks for the same leaf again and
 * again.  A write through write_leaf drops it.
 */
static struct {
	uint64_t oid;
	char *buf;
} leaf_cache;

static int read_leaf(uint64_t oid, void *buf, uint32_t len, void *ctx)
{
	int ret;

	(void)ctx;
	if (leaf_cache.buf && leaf_cache.oid == oid && len == SD_INODE_INDEX_SIZE) {
		memcpy(buf, leaf_cache.buf, len);
		return SD_RES_SUCCESS;
	}
	ret = dog_read_object(oid, buf, len, 0);
	if (ret != SD_RES_SUCCESS)
		return ret;
	if (len == SD_INODE_INDEX_SIZE) {
		if (!leaf_cache.buf)
			leaf_cache.buf = xmalloc(SD_INODE_INDEX_SIZE);
		memcpy(leaf_cache.buf, buf, len);
		leaf_cache.oid = oid;
	}
	return SD_RES_SUCCESS;
}

static int write_leaf(uint64_t oid, const void *buf, uint32_t len, uint32_t off, bool create,
		      void *ctx)
{
	(void)ctx;
	if (leaf_cache.buf && leaf_cache.oid == oid)
		leaf_cache.oid = 0;	/* forget it: the next read fetches it again */
	return dog_write_object(oid, 0, buf, len, off, create);
}

static const struct index_io reader = { read_leaf, write_leaf, NULL };

uint64_t dog_inode_nr_objs(const struct sd_inode *inode)
{
	return inode_nr_objs(inode);
}

int dog_inode_walk(const struct sd_inode *inode,
		   int (*fn)(uint32_t idx, uint32_t vid, void *arg), void *arg)
{
	int ret = inode_index_walk(inode, &reader, fn, arg);

	if (ret < 0) {
		dog_err("Failed to read the index of VDI %s: %s", inode->name,
			sd_strerror((uint32_t)-ret));
		return -1;
	}
	return ret;
}

uint32_t dog_inode_get_vid(const struct sd_inode *inode, uint32_t idx)
{
	return inode_index_get(inode, &reader, idx);
}

/*
 * SHEEP_TEST_BTREE_NODE_ENTRIES=N: B-tree nodes of at most N entries, so a
 * test reaches a two-level tree with a few writes (the format is the same).
 */
static void test_node_entries(void)
{
	const char *v = getenv("SHEEP_TEST_BTREE_NODE_ENTRIES");
	uint64_t n;

	if (v && !parse_uint(v, inode_index_node_entries, &n) && n >= 2)
		inode_index_node_entries = (uint32_t)n;
}

int dog_inode_set_vid(struct sd_inode *inode, uint32_t idx, uint32_t vid)
{
	test_node_entries();
	return inode_index_set(inode, &reader, idx, vid);
}
