/*
 * vdi_io.c - a VDI as a block device for clients inside sheep (nbd.c): the
 * logic a Sheepdog client (dog, QEMU's old driver) runs on its side, here
 * next to the gateway.  An object the VDI owns is written in place; a new
 * one is created (copy-on-write from the VDI that owned it: a snapshot, a
 * clone's parent) and then entered in the inode's index, flat or a hyper
 * volume's B-tree (inode_index.c).
 *
 * The index is read once per VDI and shared by every opener in this sheep
 * (struct vdi_cache, by vid), so a write on one connection is seen by a read
 * on another (NBD multi-conn).  What this sheep changes, it changes in the
 * cluster first, then here.  Changes through other gateways while the VDI is
 * open are noticed where it matters: a hole is looked up again before it
 * reads as zeros, an object that is gone (NO_OBJ) is looked up again, and a
 * write refused as READONLY means a snapshot was taken (dog vdi snapshot):
 * the working VDI is found again by name, and every opener goes on in its
 * new vid (the old cache names it in moved_to).  A snapshot taken through
 * another sheep reaches this one a little later than dog's answer: a
 * write in place, an object's creation and an unmap check the inode's
 * snap_ctime in the cluster first (check_frozen; creations and unmaps after
 * changing the index too), so nothing issued after the snapshot lands in
 * it, and no change to a frozen index goes unseen.
 *
 * Locking: alloc_locks (striped by oid) make an object's creation and its
 * index entry one step; cache->lock guards the in-memory index against a
 * change; caches_lock the list and the reference counts; v->lock which
 * cache a handle uses.  Worker threads only (the gateway blocks).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gateway.h"
#include "inode_index.h"
#include "vdi.h"
#include "vdi_io.h"

#define NR_ALLOC_LOCKS	256
#define FOLLOW_TRIES	200	/* 10 s for a snapshot to reach this node */
#define FOLLOW_WAIT_MS	50

struct vdi_cache {
	struct vdi_cache *next;
	uint32_t vid;
	int refs;			/* caches_lock */
	uint32_t moved_to;		/* atomic: a snapshot was taken, the VDI is this vid now */
	uint32_t obj_size;
	pthread_rwlock_t lock;
	struct sd_inode *inode;		/* header and index */
};

struct vdi_io {
	pthread_mutex_t lock;
	struct vdi_cache *cur;
	char name[SD_MAX_VDI_LEN];	/* "" : a snapshot, never followed */
};

static pthread_mutex_t alloc_locks[NR_ALLOC_LOCKS];
static pthread_once_t alloc_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t caches_lock = PTHREAD_MUTEX_INITIALIZER;
static struct vdi_cache *caches;

static void alloc_locks_init(void)
{
	for (int i = 0; i < NR_ALLOC_LOCKS; i++)
		pthread_mutex_init(&alloc_locks[i], NULL);
}

static pthread_mutex_t *alloc_lock(uint64_t oid)
{
	return &alloc_locks[(oid * 0x9e3779b97f4a7c15ULL) >> 56];
}

static int read_inode(uint32_t vid, struct sd_inode *inode)
{
	return gateway_read_obj(vid_to_vdi_oid(vid), inode,
				SD_INODE_HEADER_SIZE + SD_INODE_INDEX_SIZE, 0);
}

/* the shared cache of vid, one more reference */
static int cache_get(uint32_t vid, struct vdi_cache **out)
{
	struct vdi_cache *c;
	struct sd_inode *inode;
	int ret;

	pthread_mutex_lock(&caches_lock);
	for (c = caches; c && c->vid != vid; c = c->next)
		;
	if (c)
		c->refs++;
	pthread_mutex_unlock(&caches_lock);
	if (c) {
		*out = c;
		return SD_RES_SUCCESS;
	}
	inode = xmalloc(SD_INODE_HEADER_SIZE + SD_INODE_INDEX_SIZE);
	ret = read_inode(vid, inode);
	if (ret) {
		free(inode);
		return ret;
	}
	pthread_mutex_lock(&caches_lock);
	for (c = caches; c && c->vid != vid; c = c->next)
		;
	if (c) {
		c->refs++;	/* another opener read it meanwhile */
		free(inode);
	} else {
		c = xzalloc(sizeof(*c));
		c->vid = vid;
		c->refs = 1;
		c->inode = inode;
		c->obj_size = inode->block_size_shift ? 1U << inode->block_size_shift :
			      SD_DATA_OBJ_SIZE;
		pthread_rwlock_init(&c->lock, NULL);
		c->next = caches;
		caches = c;
	}
	pthread_mutex_unlock(&caches_lock);
	*out = c;
	return SD_RES_SUCCESS;
}

static void cache_put(struct vdi_cache *c)
{
	struct vdi_cache **p;

	pthread_mutex_lock(&caches_lock);
	if (--c->refs) {
		pthread_mutex_unlock(&caches_lock);
		return;
	}
	for (p = &caches; *p != c; p = &(*p)->next)
		;
	*p = c->next;
	pthread_mutex_unlock(&caches_lock);
	pthread_rwlock_destroy(&c->lock);
	free(c->inode);
	free(c);
}

int vdi_io_open(uint32_t vid, const char *name, struct vdi_io **out)
{
	struct vdi_io *v = xzalloc(sizeof(*v));
	int ret;

	pthread_once(&alloc_once, alloc_locks_init);
	ret = cache_get(vid, &v->cur);
	if (ret) {
		free(v);
		return ret;
	}
	if (name)
		snprintf(v->name, sizeof(v->name), "%s", name);
	pthread_mutex_init(&v->lock, NULL);
	*out = v;
	return SD_RES_SUCCESS;
}

void vdi_io_close(struct vdi_io *v)
{
	if (!v)
		return;
	cache_put(v->cur);
	pthread_mutex_destroy(&v->lock);
	free(v);
}

uint32_t vdi_io_obj_size(struct vdi_io *v)
{
	return v->cur->obj_size;	/* the same in every vid of the VDI */
}

/* the handle's cache, held; moved on first if a snapshot was taken */
static struct vdi_cache *hold(struct vdi_io *v)
{
	struct vdi_cache *c, *old = NULL, *next;
	uint32_t to;

	pthread_mutex_lock(&v->lock);
	to = __atomic_load_n(&v->cur->moved_to, __ATOMIC_ACQUIRE);
	if (to && cache_get(to, &next) == SD_RES_SUCCESS) {
		old = v->cur;
		v->cur = next;
	}
	c = v->cur;
	pthread_mutex_lock(&caches_lock);
	c->refs++;
	pthread_mutex_unlock(&caches_lock);
	pthread_mutex_unlock(&v->lock);
	if (old)
		cache_put(old);
	return c;
}

/*
 * A write to c was refused as READONLY: if the working VDI of v's name now
 * has another vid (a snapshot was taken), every opener of c moves to it.
 */
static bool follow_snapshot(struct vdi_io *v, struct vdi_cache *c)
{
	struct sd_inode *hdr;
	uint32_t vid = c->vid;
	int ret = SD_RES_SUCCESS;

	if (!v->name[0])
		return false;
	hdr = xmalloc(SD_INODE_HEADER_SIZE);
	/* frozen: the new working VDI exists, or is about to (this node may learn of it last) */
	for (int i = 0; i < FOLLOW_TRIES; i++) {
		if (i)
			usleep(FOLLOW_WAIT_MS * 1000);
		ret = vdi_find(v->name, "", 0, &vid, hdr);
		if (ret == SD_RES_SUCCESS && vid != c->vid)
			break;
	}
	free(hdr);
	if (ret || vid == c->vid)
		return false;
	sd_info("vdi %s: a snapshot was taken; IO goes on in vid %06" PRIx32 " (was %06" PRIx32
		")", v->name, vid, c->vid);
	__atomic_store_n(&c->moved_to, vid, __ATOMIC_RELEASE);
	return true;
}

static uint32_t cached_owner(struct vdi_cache *c, uint32_t idx)
{
	uint32_t owner;

	pthread_rwlock_rdlock(&c->lock);
	owner = inode_index_get(c->inode, &vdi_leaf_io, idx);
	pthread_rwlock_unlock(&c->lock);
	return owner;
}

static bool is_hyper(const struct vdi_cache *c)
{
	return inode_is_hyper(c->inode);	/* fixed at creation */
}

/* owner of idx as the cluster has it now (the B-tree changes through us only) */
static int fresh_owner(struct vdi_cache *c, uint32_t idx, uint32_t *owner)
{
	int ret;

	if (is_hyper(c)) {
		*owner = cached_owner(c, idx);
		return SD_RES_SUCCESS;
	}
	if (idx >= SD_INODE_DATA_INDEX)
		return SD_RES_INVALID_PARMS;
	ret = gateway_read_obj(vid_to_vdi_oid(c->vid), owner, sizeof(*owner),
			       SD_INODE_HEADER_SIZE + idx * (uint32_t)sizeof(*owner));
	if (!ret) {
		pthread_rwlock_wrlock(&c->lock);
		c->inode->data_vdi_id[idx] = *owner;
		pthread_rwlock_unlock(&c->lock);
	}
	return ret;
}

/* a hyper volume's B-tree as the cluster has it, after a change that failed or was not ours */
static void reload(struct vdi_cache *c)
{
	struct sd_inode *inode = xmalloc(SD_INODE_HEADER_SIZE + SD_INODE_INDEX_SIZE);

	if (read_inode(c->vid, inode) == SD_RES_SUCCESS) {
		pthread_rwlock_wrlock(&c->lock);
		memcpy(c->inode, inode, SD_INODE_HEADER_SIZE + SD_INODE_INDEX_SIZE);
		pthread_rwlock_unlock(&c->lock);
	}
	free(inode);
}

/* index entry idx -> owner: in the cluster, then here.  alloc_lock held */
static int enter(struct vdi_cache *c, uint32_t idx, uint32_t owner)
{
	uint32_t off = SD_INODE_HEADER_SIZE + idx * (uint32_t)sizeof(owner);
	int ret;

	if (is_hyper(c)) {
		if (owner) {
			pthread_rwlock_wrlock(&c->lock);
			ret = inode_index_set(c->inode, &vdi_leaf_io, idx, owner);
			pthread_rwlock_unlock(&c->lock);
		} else {
			/* vdi.c unlinks it from the B-tree as the cluster has it */
			ret = vdi_discard_hyper(vid_to_data_oid(c->vid, idx));
		}
		if (ret || !owner)
			reload(c);	/* the B-tree as the cluster has it now */
		return ret;
	}
	/* vdi.c drops the object the entry pointed at once no VDI does */
	ret = vdi_index_write(vid_to_vdi_oid(c->vid), &owner, sizeof(owner), off);
	if (!ret) {
		pthread_rwlock_wrlock(&c->lock);
		c->inode->data_vdi_id[idx] = owner;
		pthread_rwlock_unlock(&c->lock);
	}
	return ret;
}

/*
 * Whether c's VDI was frozen by a snapshot, as the cluster has it: the
 * snapshot marks its inode before copying the index (vdi.c), so an entry
 * entered before this answers false was copied; READONLY otherwise.
 */
static int check_frozen(struct vdi_cache *c)
{
	uint64_t ctime = 0;
	int ret = gateway_read_obj(vid_to_vdi_oid(c->vid), &ctime, sizeof(ctime),
				   (uint32_t)offsetof(struct sd_inode, snap_ctime));

	return ret ? ret : ctime ? SD_RES_READONLY : SD_RES_SUCCESS;
}

static int write_obj(uint64_t oid, const void *buf, uint32_t len, uint32_t off, bool lazy)
{
	return lazy ? gateway_write_obj_lazy(oid, buf, len, off) :
		      gateway_write_obj(oid, buf, len, off);
}

static int write_piece(struct vdi_cache *c, const char *buf, uint32_t idx, uint32_t off,
		       uint32_t len, bool lazy)
{
	uint64_t oid = vid_to_data_oid(c->vid, idx);
	uint32_t owner = cached_owner(c, idx);
	/*
	 * In place only while the VDI is not frozen: a snapshot taken through
	 * another sheep reaches this one later than dog's answer, and the
	 * object is the snapshot's too (a write issued after the freeze would
	 * land in it).  One small read, usually of the local copy.
	 */
	int ret = owner != c->vid ? SD_RES_NO_OBJ : check_frozen(c);

	if (ret == SD_RES_SUCCESS)
		ret = write_obj(oid, buf, len, off, lazy);
	if (ret != SD_RES_NO_OBJ)
		return ret;
	/* not ours yet (or no more): create it, one writer at a time */
	pthread_mutex_lock(alloc_lock(oid));
	ret = fresh_owner(c, idx, &owner);
	if (!ret && owner == c->vid) {
		ret = write_obj(oid, buf, len, off, lazy);
	} else if (!ret) {
		uint64_t cow = owner ? vid_to_data_oid(owner, idx) : 0;

		/*
		 * A snapshot under way elsewhere: never into the frozen index (the
		 * snapshot would hold a write issued after it), and if it froze
		 * between the check and the entry, the write goes again into the
		 * new VDI (READONLY: the caller follows it).
		 */
		ret = check_frozen(c);
		/* a lazy create's name and size are durable: the entry never points at nothing */
		if (!ret)
			ret = lazy ? gateway_create_obj_lazy(oid, cow, buf, len, off) :
				     gateway_create_and_write_obj(oid, cow, buf, len, off);
		if (!ret)
			ret = enter(c, idx, c->vid);
		if (!ret)
			ret = check_frozen(c);
	}
	pthread_mutex_unlock(alloc_lock(oid));
	return ret;
}

static int read_piece(struct vdi_cache *c, char *buf, uint32_t idx, uint32_t off, uint32_t len)
{
	uint32_t owner = cached_owner(c, idx);
	int ret = SD_RES_SUCCESS;

	for (int tries = 0; tries < 2; tries++) {
		/* a hole, or an object gone: the cluster may know better (another gateway) */
		if ((!owner || tries) && (ret = fresh_owner(c, idx, &owner)))
			return ret;
		if (!owner) {
			memset(buf, 0, len);
			return SD_RES_SUCCESS;
		}
		ret = gateway_read_obj(vid_to_data_oid(owner, idx), buf, len, off);
		if (ret != SD_RES_NO_OBJ)
			return ret;
	}
	return ret;
}

/* fn over the pieces of [off, off + len), one object each */
static int each_piece(struct vdi_io *v, char *buf, uint64_t off, uint32_t len, bool write,
		      bool lazy)
{
	while (len) {
		struct vdi_cache *c = hold(v);
		uint32_t idx = (uint32_t)(off / c->obj_size), o = (uint32_t)(off % c->obj_size);
		uint32_t n = MIN(len, c->obj_size - o);
		int ret = write ? write_piece(c, buf, idx, o, n, lazy) : read_piece(c, buf, idx, o, n);
		bool again = ret == SD_RES_READONLY && write && follow_snapshot(v, c);

		cache_put(c);
		if (again)
			continue;
		if (ret)
			return ret;
		buf += n;
		off += n;
		len -= n;
	}
	return SD_RES_SUCCESS;
}

int vdi_io_read(struct vdi_io *v, void *buf, uint64_t off, uint32_t len)
{
	return each_piece(v, buf, off, len, false, false);
}

int vdi_io_write(struct vdi_io *v, const void *buf, uint64_t off, uint32_t len,
		 enum vdi_io_mode mode)
{
	/* each_piece does not write into buf when writing */
	return each_piece(v, (char *)buf, off, len, true, mode == VDI_IO_WRITE_BACK);
}

int vdi_io_unmap(struct vdi_io *v, uint32_t idx)
{
	for (;;) {
		struct vdi_cache *c = hold(v);
		uint64_t oid = vid_to_data_oid(c->vid, idx);
		uint32_t owner;
		bool again;
		int ret;

		struct vdi_state st;

		pthread_mutex_lock(alloc_lock(oid));
		/* a snapshot's index is frozen (the gateway checks data objects only) */
		ret = vdi_get_state(c->vid, &st) && st.snapshot ? SD_RES_READONLY :
		      fresh_owner(c, idx, &owner);
		/* as a create: never into a frozen index; frozen meanwhile: again in the new VDI */
		if (!ret && owner)
			ret = check_frozen(c);
		if (!ret && owner)
			ret = enter(c, idx, 0);
		if (!ret && owner)
			ret = check_frozen(c);
		pthread_mutex_unlock(alloc_lock(oid));
		again = ret == SD_RES_READONLY && follow_snapshot(v, c);
		cache_put(c);
		if (!again)
			return ret;
	}
}

bool vdi_io_mapped(struct vdi_io *v, uint32_t idx)
{
	struct vdi_cache *c = hold(v);
	bool mapped = cached_owner(c, idx) != 0;

	cache_put(c);
	return mapped;
}
