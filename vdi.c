/*
 * vdi.c - VDI ids, the vid bitmaps and the VDI operations.
 *
 * A name hashes (FNV-1a) to a starting vid; its VDIs occupy the run of set
 * bits from there (open addressing), so lookups scan that run newest first
 * and read inode headers.  Deleted VDIs keep their bit (the run must not
 * break) and get a bit in the deleted bitmap.  The bitmaps and the state
 * table are written by the main thread (cluster main phases, startup) and by
 * the join-time sync worker, and read by workers (lookups, object sizes):
 * vdi_lock guards both.  Bits are only ever set, so merging views is a union,
 * except in a cluster formatted with -R (RECYCLE_VID), as Sheepdog's: a new
 * VDI takes the lowest free vid, lookups scan every vid, and once every VDI
 * of a snapshot/clone family is deleted their inodes go and their vids are
 * cleared everywhere in one cluster op (RECYCLE_VIDS), free for new VDIs.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "gateway.h"
#include "net.h"
#include "store.h"
#include "vdi.h"
#include "inode_index.h"

static pthread_mutex_t vdi_lock = PTHREAD_MUTEX_INITIALIZER;
static uint8_t *in_use_bitmap;		/* SD_VDI_BITMAP_SIZE */
static uint8_t *deleted_bitmap;

/* open-addressing table of vdi_state keyed by vid (vid 0 = empty slot) */
static struct vdi_state *states;
static size_t states_cap, states_nr;

/*
 * Reclaim (vdi_index_write): on this node, a VDI's client index writes, each
 * with the removal of the objects it dropped, run one at a time under the
 * VDI's stripe of index_locks, and NEW_VDI holds its base's stripe from
 * reading the base's index until the new VDI is in creating (below), so a
 * reclaim's family scan sees every VDI that copied an index it read.
 * creating: the VDI our NEW_VDI made, until its main phase sets its bit
 * (cluster operations run one at a time); guarded by vdi_lock.
 */
#define NR_INDEX_LOCKS	64
static pthread_mutex_t index_locks[NR_INDEX_LOCKS];
static uint32_t creating, creating_base;

static bool test_bit(const uint8_t *map, uint32_t nr)
{
	return map[nr >> 3] & (1u << (nr & 7));
}

static void set_bit(uint8_t *map, uint32_t nr)
{
	map[nr >> 3] |= (uint8_t)(1u << (nr & 7));
}

static void clear_bit(uint8_t *map, uint32_t nr)
{
	map[nr >> 3] &= (uint8_t)~(1u << (nr & 7));
}

#define RECYCLE_BATCH	8192	/* vids per RECYCLE_VIDS message (32 KiB) */

static bool recycling(void)
{
	return sys->flags & SD_CLUSTER_FLAG_RECYCLE_VID;
}

static struct vdi_state *state_slot(uint32_t vid)
{
	size_t i = (vid * 2654435761u) & (states_cap - 1);

	while (states[i].vid && states[i].vid != vid)
		i = (i + 1) & (states_cap - 1);
	return &states[i];
}

static void state_grow(void)
{
	struct vdi_state *old = states;
	size_t old_cap = states_cap;

	states_cap = old_cap ? old_cap * 2 : 1024;
	states = xcalloc(states_cap, sizeof(*states));
	for (size_t i = 0; i < old_cap; i++)
		if (old[i].vid)
			*state_slot(old[i].vid) = old[i];
	free(old);
}

static pthread_mutex_t *index_lock(uint32_t vid)
{
	return &index_locks[(vid * 2654435761u) % NR_INDEX_LOCKS];
}

int vdi_init(void)
{
	for (int i = 0; i < NR_INDEX_LOCKS; i++)
		pthread_mutex_init(&index_locks[i], NULL);
	in_use_bitmap = xzalloc(SD_VDI_BITMAP_SIZE);
	deleted_bitmap = xzalloc(SD_VDI_BITMAP_SIZE);
	state_grow();
	return 0;
}

void vdi_reset(void)
{
	pthread_mutex_lock(&vdi_lock);
	memset(in_use_bitmap, 0, SD_VDI_BITMAP_SIZE);
	memset(deleted_bitmap, 0, SD_VDI_BITMAP_SIZE);
	memset(states, 0, states_cap * sizeof(*states));
	states_nr = 0;
	creating = creating_base = 0;
	pthread_mutex_unlock(&vdi_lock);
}

void vdi_mark_in_use(uint32_t vid, uint8_t copies, uint8_t bss, bool snapshot)
{
	struct vdi_state *st;

	pthread_mutex_lock(&vdi_lock);
	set_bit(in_use_bitmap, vid);
	clear_bit(deleted_bitmap, vid);	/* a recycled vid lives again */
	if ((states_nr + 1) * 2 > states_cap)
		state_grow();
	st = state_slot(vid);
	if (!st->vid)
		states_nr++;
	st->vid = vid;
	st->copies = copies;
	st->block_size_shift = bss;
	st->snapshot = snapshot;
	st->deleted = false;
	pthread_mutex_unlock(&vdi_lock);
}

void vdi_mark_deleted(uint32_t vid)
{
	struct vdi_state *st;

	pthread_mutex_lock(&vdi_lock);
	set_bit(in_use_bitmap, vid);
	set_bit(deleted_bitmap, vid);
	st = state_slot(vid);
	if (st->vid)
		st->deleted = true;
	pthread_mutex_unlock(&vdi_lock);
}

bool vdi_get_state(uint32_t vid, struct vdi_state *out)
{
	struct vdi_state *st;
	bool found;

	pthread_mutex_lock(&vdi_lock);
	st = state_slot(vid);
	found = st->vid != 0;
	if (found)
		*out = *st;
	pthread_mutex_unlock(&vdi_lock);
	return found;
}

void vdi_copy_bitmap(void *buf, bool deleted)
{
	pthread_mutex_lock(&vdi_lock);
	memcpy(buf, deleted ? deleted_bitmap : in_use_bitmap, SD_VDI_BITMAP_SIZE);
	pthread_mutex_unlock(&vdi_lock);
}

/* NEW_VDI made vid from base (vid 0: done, in the bitmap or failed) */
static void set_creating(uint32_t vid, uint32_t base)
{
	pthread_mutex_lock(&vdi_lock);
	creating = vid;
	creating_base = base;
	pthread_mutex_unlock(&vdi_lock);
}

static bool vid_in_use(uint32_t vid)
{
	bool r;

	pthread_mutex_lock(&vdi_lock);
	r = test_bit(in_use_bitmap, vid);
	pthread_mutex_unlock(&vdi_lock);
	return r;
}

uint32_t vdi_object_size(uint64_t oid)
{
	struct vdi_state st;

	if (oid & VDI_BIT)
		return SD_INODE_SIZE;
	if (oid & VDI_ATTR_BIT)
		return SD_VDI_ATTR_SIZE;
	if (oid & (VDI_BTREE_BIT | LEDGER_BIT))
		return SD_DATA_OBJ_SIZE;
	if (vdi_get_state(oid_to_vid(oid), &st) && st.block_size_shift)
		return UINT32_C(1) << st.block_size_shift;
	return UINT32_C(1) << (sys->block_size_shift ? sys->block_size_shift :
			       SD_DEFAULT_BLOCK_SIZE_SHIFT);
}

static uint32_t next_vid(uint32_t vid)
{
	vid = (vid + 1) & (SD_NR_VDIS - 1);
	return vid ? vid : 1;
}

static uint32_t prev_vid(uint32_t vid)
{
	vid = (vid - 1) & (SD_NR_VDIS - 1);
	return vid ? vid : SD_NR_VDIS - 1;
}

static int load_one(uint64_t oid, void *arg)
{
	struct sd_inode *hdr = arg;
	uint32_t rlen, vid = oid_to_vid(oid);

	if (!is_vdi_obj(oid) || (uint32_t)oid != 0)
		return 0;
	if (store_read(oid, hdr, SD_INODE_HEADER_SIZE, 0, &rlen) != SD_RES_SUCCESS) {
		sd_err("vdi %06" PRIx32 ": unreadable inode header", vid);
		return 0;
	}
	vdi_mark_in_use(vid, hdr->nr_copies, hdr->block_size_shift, hdr->snap_ctime != 0);
	if (!hdr->name[0])
		vdi_mark_deleted(vid);
	return 0;
}

int vdi_load_local(void)
{
	struct sd_inode *hdr = xmalloc(SD_INODE_HEADER_SIZE);
	int ret = store_for_each(load_one, hdr);

	free(hdr);
	return ret;
}

/* name and tag from a request payload: name[256] [+ tag[256]] */
static int parse_name(const struct request *req, char *name, char *tag)
{
	uint32_t len = (req->rq.flags & SD_FLAG_CMD_WRITE) ? req->rq.data_length : 0;
	const char *p = req->data;

	name[0] = tag[0] = '\0';
	if (len == 0 || len > SD_MAX_VDI_LEN + SD_MAX_VDI_TAG_LEN)
		return SD_RES_INVALID_PARMS;
	memcpy(name, p, MIN(len, SD_MAX_VDI_LEN));
	name[MIN(len, SD_MAX_VDI_LEN - 1)] = '\0';
	if (len > SD_MAX_VDI_LEN) {
		uint32_t tlen = len - SD_MAX_VDI_LEN;

		memcpy(tag, p + SD_MAX_VDI_LEN, tlen);
		tag[MIN(tlen, SD_MAX_VDI_TAG_LEN - 1)] = '\0';
	}
	if (!name[0])
		return SD_RES_INVALID_PARMS;
	return SD_RES_SUCCESS;
}

/* -R: every live vid, highest first (*nr of them) */
static uint32_t *live_vids(uint32_t *nr)
{
	uint8_t *in_use = xmalloc(SD_VDI_BITMAP_SIZE), *del = xmalloc(SD_VDI_BITMAP_SIZE);
	uint32_t *out = NULL, n = 0, cap = 0;

	vdi_copy_bitmap(in_use, false);
	vdi_copy_bitmap(del, true);
	for (uint32_t byte = SD_VDI_BITMAP_SIZE; byte-- > 0;) {
		if (!in_use[byte])
			continue;
		for (uint32_t vid = byte * 8 + 7; vid + 1 > byte * 8; vid--) {
			if (!vid || !test_bit(in_use, vid) || test_bit(del, vid))
				continue;
			if (n == cap) {
				cap = cap ? cap * 2 : 64;
				out = xrealloc(out, sizeof(*out) * cap);
			}
			out[n++] = vid;
		}
	}
	free(in_use);
	free(del);
	*nr = n;
	return out;
}

/*
 * Find a VDI by name: the working VDI when neither tag nor snapid is given,
 * else the snapshot with that tag or id.  Scans the name's run of vids newest
 * first (-R: every live vid, highest first, as Sheepdog's full scan).  hdr
 * (SD_INODE_HEADER_SIZE bytes) receives the inode header.
 */
int vdi_find(const char *name, const char *tag, uint32_t snapid, uint32_t *vid_out,
	     struct sd_inode *hdr)
{
	uint32_t start = sd_hash_vdi(name, strlen(name)), end = start, count = 0;
	uint32_t *cand = NULL;
	bool name_seen = false;
	int ret = SD_RES_NO_VDI;

	if (recycling()) {
		cand = live_vids(&count);
	} else {
		while (vid_in_use(end) && count < SD_NR_VDIS) {
			end = next_vid(end);
			count++;
		}
	}
	/* walk the run [start, end) backwards: newest first */
	for (uint32_t i = 0, vid = end; i < count; i++) {
		vid = cand ? cand[i] : prev_vid(vid);
		ret = gateway_read_obj(vid_to_vdi_oid(vid), hdr, SD_INODE_HEADER_SIZE, 0);
		if (ret == SD_RES_NO_OBJ)
			continue;
		if (ret)
			goto out;
		ret = SD_RES_NO_VDI;
		if (strncmp(hdr->name, name, SD_MAX_VDI_LEN))
			continue;
		name_seen = true;
		if (tag && tag[0]) {
			if (strncmp(hdr->tag, tag, SD_MAX_VDI_TAG_LEN))
				continue;
		} else if (snapid) {
			if (hdr->snap_id != snapid)
				continue;
		} else if (hdr->snap_ctime) {
			continue;
		}
		*vid_out = vid;
		ret = SD_RES_SUCCESS;
		goto out;
	}
	ret = name_seen && tag && tag[0] ? SD_RES_NO_TAG : SD_RES_NO_VDI;
out:
	free(cand);
	return ret;
}

/* the highest snap_id among the live VDIs named name (0: none) */
static uint32_t max_snap_id(const char *name)
{
	struct sd_inode *hdr = xmalloc(SD_INODE_HEADER_SIZE);
	uint32_t vid = sd_hash_vdi(name, strlen(name)), max = 0;

	for (uint32_t n = 0; vid_in_use(vid) && n < SD_NR_VDIS; n++, vid = next_vid(vid)) {
		if (gateway_read_obj(vid_to_vdi_oid(vid), hdr, SD_INODE_HEADER_SIZE, 0))
			continue;
		if (!strncmp(hdr->name, name, SD_MAX_VDI_LEN))
			max = MAX(max, hdr->snap_id);
	}
	free(hdr);
	return max;
}

static int find_free_vid(uint32_t start, uint32_t *vid)
{
	uint32_t v = start && !recycling() ? start : 1;	/* -R: the lowest free vid */

	for (uint32_t n = 0; n < SD_NR_VDIS; n++, v = next_vid(v)) {
		if (!vid_in_use(v)) {
			*vid = v;
			return SD_RES_SUCCESS;
		}
	}
	return SD_RES_FULL_VDI;
}

/* the full inode (header + index) of vid; NULL on error (*ret says why) */
static struct sd_inode *read_full_inode(uint32_t vid, int *ret)
{
	struct sd_inode *inode = xmalloc(SD_INODE_HEADER_SIZE + SD_INODE_INDEX_SIZE);

	*ret = gateway_read_obj(vid_to_vdi_oid(vid), inode,
				SD_INODE_HEADER_SIZE + SD_INODE_INDEX_SIZE, 0);
	if (*ret) {
		free(inode);
		return NULL;
	}
	return inode;
}

/*
 * The inode of a new hyper volume (store_policy 1): its index starts as an
 * empty one-level B-tree root {magic, depth 1, 0 entries}, as Sheepdog's
 * sheep writes it (its dog refuses a hyper inode without that root);
 * *len grows to take the root's header in.
 */
static struct sd_inode *new_hyper_inode(size_t *len)
{
	struct sd_inode *inode = xzalloc(SD_INODE_HEADER_SIZE + SD_INODE_INDEX_SIZE);
	struct sd_index_header *root = (struct sd_index_header *)inode->data_vdi_id;

	root->magic = INODE_BTREE_MAGIC;
	root->depth = 1;
	root->entries = 0;
	*len += sizeof(*root);
	return inode;
}

/*
 * NEW_VDI.  Without base_vdi_id: a new, empty VDI.  With base_vdi_id and
 * snapid != 0: a snapshot of the working VDI base: a new working inode (next
 * free vid of the name's run, snap_id + 1, parent = base) shares base's
 * objects through a copy of its index, and base becomes read-only
 * (snap_ctime set).  With base_vdi_id and snapid == 0: a clone named name
 * whose objects are base's until written (copy-on-write).
 */
int vdi_op_new(struct request *req)
{
	const struct sd_req *hdr = &req->rq;
	char name[SD_MAX_VDI_LEN], tag[SD_MAX_VDI_TAG_LEN], found_name[SD_MAX_VDI_LEN];
	struct sd_inode *inode = NULL, *found;
	uint32_t base = hdr->vdi.base_vdi_id, vid, old;
	bool snapshot = base && hdr->vdi.snapid, rebase = false, base_locked = false;
	bool frozen_early = false;
	size_t len = SD_INODE_HEADER_SIZE;
	uint64_t now = now_ctime();
	int ret;

	req->rp.data_length = 0;
	ret = parse_name(req, name, tag);
	if (ret)
		return ret;
	if (hdr->vdi.store_policy > 1) {
		sd_err("%s: store policy %u is not supported", name, hdr->vdi.store_policy);
		return SD_RES_NO_SUPPORT;
	}
	if (hdr->vdi.copy_policy) {	/* erasure coding: not built yet */
		sd_err("%s: erasure coding (copy policy %#x) is not supported", name,
		       hdr->vdi.copy_policy);
		return SD_RES_NO_SUPPORT;
	}
	if (!base && hdr->vdi.snapid)
		return SD_RES_INVALID_PARMS;
	found = xzalloc(SD_INODE_HEADER_SIZE);
	ret = vdi_find(name, NULL, 0, &old, found);
	if (ret != SD_RES_SUCCESS && ret != SD_RES_NO_VDI)
		goto out;
	if (snapshot && ret != SD_RES_SUCCESS)
		goto out;	/* only a name with a working VDI has snapshots */
	/*
	 * A snapshot whose base is not the working VDI (Sheepdog's rebase, what
	 * its dog's vdi restore sends): the working VDI old becomes the snapshot
	 * and the new working VDI starts as base, a snapshot of the name.
	 */
	rebase = snapshot && old != base;
	if (!snapshot && ret == SD_RES_SUCCESS) {
		ret = SD_RES_VDI_EXIST;
		goto out;
	}
	if (base) {
		/* until the new VDI is in creating: no reclaim of base's index meanwhile */
		pthread_mutex_lock(index_lock(base));
		base_locked = true;
		/*
		 * A snapshot freezes the working VDI before its index is copied: a
		 * gateway writing into it (vdi_io.c) checks snap_ctime before each
		 * write and after entering a new object, so nothing issued later
		 * lands in the snapshot and an entry the copy may have missed is
		 * written again in the new VDI.
		 */
		if (snapshot && !rebase) {
			ret = gateway_write_obj(vid_to_vdi_oid(base), &now, sizeof(now),
						(uint32_t)offsetof(struct sd_inode, snap_ctime));
			if (ret) {
				sd_err("%s: cannot mark %06" PRIx32 " as a snapshot: result %02x",
				       name, base, ret);
				ret = SD_RES_VDI_WRITE;
				goto out;
			}
			frozen_early = true;
		}
		inode = read_full_inode(base, &ret);
		if (!inode)
			goto out;
		if (!inode->name[0]) {
			ret = SD_RES_NO_BASE_VDI;
			goto out;
		}
		if (inode_is_hyper(inode) && inode->data_vdi_id[0] &&
		    ((struct sd_index_header *)inode->data_vdi_id)->depth > 1) {
			/* its leaf objects would be shared: not done (Sheepdog copies them) */
			sd_err("%s: cannot share the two-level index of %06" PRIx32, name, base);
			ret = SD_RES_NO_SUPPORT;
			goto out;
		}
		if ((!snapshot || rebase) && !inode->snap_ctime) {
			/* a clone shares objects: only a frozen (snapshot) base may be shared */
			ret = SD_RES_INVALID_PARMS;
			goto out;
		}
		len += SD_INODE_INDEX_SIZE;
	} else {
		uint8_t copies = hdr->vdi.copies ? hdr->vdi.copies : sys->copies;
		uint8_t bss = hdr->vdi.block_size_shift ? hdr->vdi.block_size_shift :
			      sys->block_size_shift;

		if (copies < 1 || copies > SD_MAX_COPIES || bss < 20 || bss > 22 ||
		    hdr->vdi.vdi_size > (hdr->vdi.store_policy ? SD_MAX_VDI_SIZE :
					 SD_OLD_MAX_VDI_SIZE) ||
		    (hdr->vdi.store_policy && bss != SD_DEFAULT_BLOCK_SIZE_SHIFT)) {
			ret = SD_RES_INVALID_PARMS;
			goto out;
		}
		inode = hdr->vdi.store_policy ? new_hyper_inode(&len) :
			xzalloc(SD_INODE_HEADER_SIZE);
		inode->vdi_size = hdr->vdi.vdi_size;
		inode->copy_policy = hdr->vdi.copy_policy;
		inode->nr_copies = copies;
		inode->block_size_shift = bss;
		inode->store_policy = hdr->vdi.store_policy;
	}
	ret = find_free_vid(sd_hash_vdi(name, strlen(name)), &vid);
	if (ret)
		goto out;

	memcpy(found_name, inode->name, SD_MAX_VDI_LEN);
	memset(inode->name, 0, sizeof(inode->name));
	memcpy(inode->name, name, strlen(name));
	memset(inode->tag, 0, sizeof(inode->tag));
	inode->create_time = now;
	inode->snap_ctime = 0;
	inode->vdi_id = vid;
	inode->parent_vdi_id = base;
	/* a snapshot, or a rollback (same name as base), continues the snap_id line */
	inode->snap_id = snapshot || (base && !strncmp(inode->name, found_name, SD_MAX_VDI_LEN)) ?
			 inode->snap_id + 1 : 1;
	if (rebase)	/* the working VDI has the name's highest snap_id */
		inode->snap_id = found->snap_id + 1;
	else if (base && !snapshot && inode->snap_id > 1)
		/* a new working VDI of a name with snapshots: after the newest (Sheepdog's) */
		inode->snap_id = max_snap_id(name) + 1;
	if (base && (!snapshot || rebase) && hdr->vdi.vdi_size)
		inode->vdi_size = MAX(inode->vdi_size, hdr->vdi.vdi_size);
	/* as many copies as the new VDI's, not the cluster's: its state is not set yet */
	ret = gateway_create_obj_copies(vid_to_vdi_oid(vid), inode, (uint32_t)len,
					inode->nr_copies);
	if (ret) {
		sd_err("%s: cannot create inode %06" PRIx32 ": result %02x", name, vid, ret);
		ret = SD_RES_VDI_WRITE;	/* as the reference answers, whatever the cause */
		goto out;
	}
	if (base)
		set_creating(vid, base);
	if (snapshot && rebase) {
		/* the old working VDI becomes the read-only snapshot */
		uint32_t frozen = old;

		ret = gateway_write_obj(vid_to_vdi_oid(frozen), &now, sizeof(now),
					(uint32_t)offsetof(struct sd_inode, snap_ctime));
		if (ret) {
			sd_err("%s: cannot mark %06" PRIx32 " as a snapshot: result %02x", name,
			       frozen, ret);
			gateway_remove_obj(vid_to_vdi_oid(vid));	/* no orphan working inode */
			set_creating(0, 0);
			ret = SD_RES_VDI_WRITE;
			goto out;
		}
	}
	sd_info("%s vdi %s, vid %06" PRIx32 "%s%06" PRIx32 ", %" PRIu64 " bytes, %u copies",
		snapshot ? "snapshot of" : base ? "cloned" : "created", name, vid,
		base ? " from " : "", base, inode->vdi_size, inode->nr_copies);
	req->rp.vdi.vdi_id = vid;
	/* ours: the VDI a rebase froze, for every node's vdi_main_new */
	req->rp.vdi.rsvd = rebase ? old : 0;
	req->rp.vdi.copies = inode->nr_copies;
	req->rp.vdi.block_size_shift = inode->block_size_shift;
out:
	if (ret && frozen_early) {
		uint64_t zero = 0;	/* no new working VDI: the old one works on */

		if (gateway_write_obj(vid_to_vdi_oid(base), &zero, sizeof(zero),
				      (uint32_t)offsetof(struct sd_inode, snap_ctime)))
			sd_err("%s: %06" PRIx32 " stays marked as a snapshot", name, base);
	}
	if (base_locked)
		pthread_mutex_unlock(index_lock(base));
	free(inode);
	free(found);
	return ret;
}

int vdi_main_new(const struct sd_req *req, struct sd_rsp *rsp, void *data)
{
	struct vdi_state st;

	(void)data;
	vdi_mark_in_use(rsp->vdi.vdi_id, rsp->vdi.copies, rsp->vdi.block_size_shift, false);
	pthread_mutex_lock(&vdi_lock);
	if (creating == rsp->vdi.vdi_id)
		creating = creating_base = 0;	/* in the bitmap now */
	pthread_mutex_unlock(&vdi_lock);
	if (req->vdi.base_vdi_id && req->vdi.snapid) {
		uint32_t base = req->vdi.base_vdi_id;

		if (vdi_get_state(base, &st))
			vdi_mark_in_use(base, st.copies, st.block_size_shift, true);
		else
			vdi_mark_in_use(base, rsp->vdi.copies, rsp->vdi.block_size_shift, true);
	}
	if (rsp->vdi.rsvd) {
		uint32_t frozen = rsp->vdi.rsvd;

		if (vdi_get_state(frozen, &st))
			vdi_mark_in_use(frozen, st.copies, st.block_size_shift, true);
	}
	return SD_RES_SUCCESS;
}

int vdi_op_lookup(struct request *req)
{
	char name[SD_MAX_VDI_LEN], tag[SD_MAX_VDI_TAG_LEN];
	struct sd_inode *inode;
	uint32_t vid;
	int ret;

	req->rp.data_length = 0;
	ret = parse_name(req, name, tag);
	if (ret)
		return ret;
	inode = xmalloc(SD_INODE_HEADER_SIZE);
	ret = vdi_find(name, tag, req->rq.vdi.snapid, &vid, inode);
	if (ret == SD_RES_SUCCESS) {
		req->rp.vdi.vdi_id = vid;
		req->rp.vdi.copies = inode->nr_copies;
		req->rp.vdi.block_size_shift = inode->block_size_shift;
	}
	free(inode);
	return ret;
}

/* the root of vid's snapshot/clone tree, following parent links */
static int family_root(uint32_t vid, struct sd_inode *hdr, uint32_t *root)
{
	for (int depth = 0; depth < 4096; depth++) {
		int ret = gateway_read_obj(vid_to_vdi_oid(vid), hdr, SD_INODE_HEADER_SIZE, 0);

		if (ret)
			return ret;	/* unknown family: deleting could hurt it */
		if (!hdr->parent_vdi_id) {
			*root = vid;
			return SD_RES_SUCCESS;
		}
		vid = hdr->parent_vdi_id;
	}
	return SD_RES_EIO;	/* a parent loop */
}

static bool vid_deleted(uint32_t vid)
{
	struct vdi_state st;

	return vdi_get_state(vid, &st) && st.deleted;
}

/*
 * The live (not deleted) VDIs of victim's family other than victim: the
 * only ones whose index can point at objects victim points at.  all: every
 * VDI of the family with an inode, deleted or not, victim included.
 */
static uint32_t *family_of(uint32_t victim, bool all, int *nr, int *ret)
{
	struct sd_inode *hdr = xmalloc(SD_INODE_HEADER_SIZE);
	uint32_t root, other, *out = NULL;
	uint8_t *bitmap = xmalloc(SD_VDI_BITMAP_SIZE);
	int n = 0;

	*ret = family_root(victim, hdr, &root);
	if (*ret) {
		free(bitmap);
		free(hdr);
		*nr = 0;
		return NULL;
	}
	pthread_mutex_lock(&vdi_lock);
	memcpy(bitmap, in_use_bitmap, SD_VDI_BITMAP_SIZE);
	if (creating)
		set_bit(bitmap, creating);	/* already holds a copy of its base's index */
	pthread_mutex_unlock(&vdi_lock);
	for (uint32_t vid = 1; vid < SD_NR_VDIS; vid++) {
		if (!(vid & 7) && !bitmap[vid >> 3]) {
			vid += 7;
			continue;
		}
		if (!test_bit(bitmap, vid) || (!all && (vid == victim || vid_deleted(vid))))
			continue;
		*ret = family_root(vid, hdr, &other);
		if (*ret == SD_RES_NO_OBJ) {
			*ret = SD_RES_SUCCESS;	/* a vid whose inode was never written */
			continue;
		}
		if (*ret)
			break;
		if (other != root)
			continue;
		out = xrealloc(out, sizeof(*out) * (size_t)(n + 1));
		out[n++] = vid;
	}
	free(bitmap);
	free(hdr);
	*nr = n;
	return out;
}

/* entries [start, start + n) of vid's flat index */
static int read_entries(uint32_t vid, uint32_t start, uint32_t n, uint32_t *out)
{
	return gateway_read_obj(vid_to_vdi_oid(vid), out, n * (uint32_t)sizeof(*out),
				SD_INODE_HEADER_SIZE + start * (uint32_t)sizeof(*out));
}

static bool in_list(const uint32_t *list, int nr, uint32_t vid)
{
	for (int i = 0; i < nr; i++)
		if (list[i] == vid)
			return true;
	return false;
}

/* nobody but vid can point at vid's objects: a working VDI no NEW_VDI is copying */
static bool owns_alone(uint32_t vid)
{
	struct vdi_state st;
	bool copying;

	pthread_mutex_lock(&vdi_lock);
	copying = creating_base == vid;
	pthread_mutex_unlock(&vdi_lock);
	return !copying && vdi_get_state(vid, &st) && !st.snapshot && !st.deleted;
}

/*
 * The objects vid's flat index no longer points at: object (owner[i], start
 * + i) for every non-zero owner[i].  Removes those no remaining VDI points
 * at, the rule of DEL_VDI and of the reclaim of client index writes: an
 * object is shared by every VDI of a snapshot/clone family whose index
 * points at it, so it goes only once no live VDI of vid's family other than
 * vid points at it (its owner, when live, among them).  A live owner outside
 * the family keeps its objects.  A working VDI's own objects are its alone
 * (only snapshots are shared), so no family scan for those.  owner[] is
 * trimmed to what was removed.
 */
#define CHECKED	0x80000000u	/* above any vid: an owner already asked */

static int drop_unshared(uint32_t vid, uint32_t start, uint32_t *owner, uint32_t n,
			 uint64_t *removed)
{
	uint32_t lo = n, hi = 0, *family = NULL, *other = NULL, o;
	bool alone = owns_alone(vid), scan = false;
	int ret = SD_RES_SUCCESS, nr = 0;

	/* a live owner that still points at its object keeps it (one read per owner) */
	for (uint32_t i = 0; i < n; i++) {
		if (!owner[i] || (owner[i] & CHECKED) || owner[i] == vid || vid_deleted(owner[i]))
			continue;
		o = owner[i];
		if (!other)
			other = xmalloc(sizeof(*other) * n);
		ret = read_entries(o, start + i, n - i, other + i);
		if (ret)
			goto out;
		for (uint32_t j = i; j < n; j++)
			if (owner[j] == o)
				owner[j] = other[j] == o ? 0 : o | CHECKED;
	}
	for (uint32_t i = 0; i < n; i++) {
		owner[i] &= ~CHECKED;
		if (!owner[i])
			continue;
		if (owner[i] != vid || !alone)
			scan = true;
		lo = MIN(lo, i);
		hi = i;
	}
	if (!scan)
		goto remove;
	family = family_of(vid, false, &nr, &ret);
	if (ret)
		goto out;
	if (!other)
		other = xmalloc(sizeof(*other) * n);
	for (uint32_t i = lo; i <= hi && lo < n; i++)
		if (owner[i] && owner[i] != vid && !vid_deleted(owner[i]) &&
		    !in_list(family, nr, owner[i]))
			owner[i] = 0;
	for (int f = 0; f < nr && lo < n; f++) {
		ret = read_entries(family[f], start + lo, hi - lo + 1, other + lo);
		if (ret)
			goto out;
		for (uint32_t i = lo; i <= hi; i++)
			if (owner[i] && other[i] == owner[i])
				owner[i] = 0;
	}
remove:
	for (uint32_t i = lo; i <= hi && lo < n; i++) {
		int r;

		if (!owner[i])
			continue;
		r = gateway_remove_obj(vid_to_data_oid(owner[i], start + i));
		if (r && r != SD_RES_NO_OBJ) {
			sd_err("vdi %06" PRIx32 ": cannot remove object %016" PRIx64 ": result %02x",
			       vid, vid_to_data_oid(owner[i], start + i), r);
			ret = r;
			goto out;
		}
		(*removed)++;
	}
out:
	free(family);
	free(other);
	return ret;
}

static int read_leaf(uint64_t oid, void *buf, uint32_t len, void *ctx)
{
	(void)ctx;
	return gateway_read_obj(oid, buf, len, 0);
}

static int write_leaf(uint64_t oid, const void *buf, uint32_t len, uint32_t off, bool create,
		      void *ctx)
{
	(void)ctx;
	return create ? gateway_create_and_write_obj(oid, 0, buf, len, off) :
			gateway_write_obj(oid, buf, len, off);
}

const struct index_io vdi_leaf_io = { read_leaf, write_leaf, NULL };

struct del_hyper {
	uint32_t vid;
	struct sd_inode **family;
	int nr;
	uint64_t removed;
};

static int del_hyper_one(uint32_t idx, uint32_t owner, void *arg)
{
	struct del_hyper *d = arg;
	int r;

	if (owner != d->vid && !vid_deleted(owner))
		return 0;
	for (int f = 0; f < d->nr; f++)
		if (inode_index_get(d->family[f], &vdi_leaf_io, idx) == owner)
			return 0;
	r = gateway_remove_obj(vid_to_data_oid(owner, idx));
	if (r && r != SD_RES_NO_OBJ) {
		sd_err("vdi %06" PRIx32 ": cannot remove object %" PRIu32 ": result %02x", d->vid,
		       idx, r);
		return r;
	}
	d->removed++;
	return 0;
}

/* DEL_VDI of a hyper volume: its objects through the B-tree, then the tree's leaves */
static int del_hyper_objects(uint32_t vid, const struct sd_inode *inode, const uint32_t *family,
			     int nr, uint64_t *removed)
{
	struct del_hyper d = { .vid = vid, .nr = 0 };
	uint64_t *leaves = NULL;
	int ret = SD_RES_SUCCESS, n;

	d.family = xcalloc((size_t)MAX(nr, 1), sizeof(*d.family));
	for (int f = 0; f < nr; f++) {
		d.family[d.nr] = read_full_inode(family[f], &ret);
		if (!d.family[d.nr])
			goto out;
		d.nr++;
	}
	ret = inode_index_walk(inode, &vdi_leaf_io, del_hyper_one, &d);
	if (ret < 0)
		ret = -ret;
	if (ret)
		goto out;
	n = nr ? 0 : inode_index_leaves(inode, &leaves);
	for (int i = 0; i < n; i++) {
		int r = gateway_remove_obj(leaves[i]);

		if (r && r != SD_RES_NO_OBJ)
			sd_err("vdi %06" PRIx32 ": cannot remove index node %016" PRIx64
			       ": result %02x", vid, leaves[i], r);
	}
out:
	*removed = d.removed;
	for (int f = 0; f < d.nr; f++)
		free(d.family[f]);
	free(d.family);
	free(leaves);
	return ret;
}

int vdi_discard_hyper(uint64_t oid)
{
	uint32_t vid = oid_to_vid(oid), idx = data_oid_to_idx(oid), owner;
	int ret;
	struct sd_inode *inode = read_full_inode(vid, &ret);

	if (!inode)
		return ret;
	owner = inode_index_get(inode, &vdi_leaf_io, idx);
	if (!owner)
		goto out;
	ret = inode_index_set(inode, &vdi_leaf_io, idx, 0);
	if (!ret && owner == vid) {
		ret = gateway_remove_obj(oid);
		if (ret == SD_RES_NO_OBJ)
			ret = SD_RES_SUCCESS;
	}
out:
	free(inode);
	return ret;
}

/*
 * -R: the vids of a family whose last VDI this delete was, found by the
 * delete's worker phase; the sender's main phase hands them to every node
 * (RECYCLE_VIDS).  Deletes run one at a time (the cluster block), so one
 * slot is enough.  vdi_lock guards it.
 */
static uint32_t recycle_victim, *recycle_vids;
static int recycle_nr;

/* worker: the whole family of victim is deleted; drop its inodes, keep its vids to free */
static void collect_family(uint32_t victim)
{
	int nr, ret;
	uint32_t *vids = family_of(victim, true, &nr, &ret);

	if (ret) {
		sd_err("vid %06" PRIx32 ": cannot find its family to recycle: result %02x",
		       victim, ret);
		free(vids);
		return;
	}
	for (int i = 0; i < nr; i++) {
		int r = gateway_remove_obj(vid_to_vdi_oid(vids[i]));

		if (r && r != SD_RES_NO_OBJ)
			sd_err("vid %06" PRIx32 ": cannot remove its inode: result %02x", vids[i], r);
	}
	pthread_mutex_lock(&vdi_lock);
	free(recycle_vids);
	recycle_victim = victim;
	recycle_vids = vids;
	recycle_nr = nr;
	pthread_mutex_unlock(&vdi_lock);
}

/*
 * DEL_VDI.  An object is shared by every VDI of a snapshot/clone family
 * whose index points at it, so deleting a VDI removes only the objects it
 * points at that no remaining VDI points at (drop_unshared).  The inode
 * stays, with its name cleared, so the vid run and the family's parent
 * links stay intact.
 */
int vdi_op_del(struct request *req)
{
	char name[SD_MAX_VDI_LEN], tag[SD_MAX_VDI_TAG_LEN];
	struct sd_inode *inode = xmalloc(SD_INODE_HEADER_SIZE);
	uint32_t vid, *family = NULL;
	uint64_t removed = 0;
	bool locked = false;
	int ret, nr = 0;

	req->rp.data_length = 0;
	ret = parse_name(req, name, tag);
	if (ret)
		goto out;
	ret = vdi_find(name, tag, req->rq.vdi.snapid, &vid, inode);
	if (ret)
		goto out;
	free(inode);
	/* one at a time with the reclaim of this VDI's index writes on this node */
	pthread_mutex_lock(index_lock(vid));
	locked = true;
	inode = read_full_inode(vid, &ret);
	if (!inode)
		goto out;
	if (inode_is_hyper(inode)) {
		family = family_of(vid, false, &nr, &ret);
		if (!ret)
			ret = del_hyper_objects(vid, inode, family, nr, &removed);
	} else {
		ret = drop_unshared(vid, 0, inode->data_vdi_id, SD_INODE_DATA_INDEX, &removed);
		if (!ret && recycling())	/* is any of its family left? */
			family = family_of(vid, false, &nr, &ret);
	}
	if (ret)
		goto out;
	/* re-read: the index above was trimmed; the inode keeps its own */
	free(inode);
	inode = xmalloc(SD_INODE_HEADER_SIZE);
	ret = gateway_read_obj(vid_to_vdi_oid(vid), inode, SD_INODE_HEADER_SIZE, 0);
	if (ret)
		goto out;
	memset(inode->name, 0, sizeof(inode->name));
	ret = gateway_write_obj(vid_to_vdi_oid(vid), inode, SD_INODE_HEADER_SIZE, 0);
	if (ret)
		goto out;
	sd_info("deleted vdi %s%s%s, vid %06" PRIx32 ", %" PRIu64 " objects removed", name,
		tag[0] ? " tag " : "", tag, vid, removed);
	req->rp.vdi.vdi_id = vid;
	if (recycling() && !nr)
		collect_family(vid);
out:
	if (locked)
		pthread_mutex_unlock(index_lock(vid));
	free(family);
	free(inode);
	return ret;
}

/*
 * A client's write that reaches an inode's data index (gateway.c): the
 * write, then the reclaim of the objects its changed entries pointed at
 * (drop_unshared), as Sheepdog's sheep drops their references: its dog
 * deletes a VDI by zeroing the index in batches before DEL_VDI, and QEMU
 * discards an object by zeroing its entry.  A VDI's writes take their turn
 * on this node, so the entries read before a write are the ones it
 * replaces.  A hyper volume's B-tree is left to DEL_VDI and DISCARD_OBJ.
 * The write's result: objects a failed reclaim leaves are logged.
 */
int vdi_index_write(uint64_t oid, const void *buf, uint32_t len, uint32_t off)
{
	uint32_t vid = oid_to_vid(oid), *old = NULL, *now = NULL, first, n, lo, hi;
	uint64_t end = (uint64_t)off + len, removed = 0;
	uint8_t policy;
	int ret, r;

	if (!len || end <= SD_INODE_HEADER_SIZE || off >= SD_INODE_HEADER_SIZE +
						  SD_INODE_INDEX_SIZE ||
	    end > SD_INODE_HEADER_SIZE + SD_INODE_INDEX_SIZE + SD_INODE_GREF_SIZE)
		return gateway_write_obj(oid, buf, len, off);	/* checks the range */
	lo = MAX(off, (uint32_t)SD_INODE_HEADER_SIZE);
	hi = (uint32_t)MIN(end, (uint64_t)SD_INODE_HEADER_SIZE + SD_INODE_INDEX_SIZE);
	first = (lo - SD_INODE_HEADER_SIZE) / (uint32_t)sizeof(*old);
	n = DIV_ROUND_UP(hi - SD_INODE_HEADER_SIZE, (uint32_t)sizeof(*old)) - first;
	pthread_mutex_lock(index_lock(vid));
	ret = gateway_read_obj(oid, &policy, 1, (uint32_t)offsetof(struct sd_inode, store_policy));
	if (ret)
		goto out;
	if (policy) {
		ret = gateway_write_obj(oid, buf, len, off);
		goto out;
	}
	old = xmalloc(sizeof(*old) * n);
	now = xmalloc(sizeof(*now) * n);
	ret = read_entries(vid, first, n, old);
	if (!ret)
		ret = gateway_write_obj(oid, buf, len, off);
	if (ret)
		goto out;
	memcpy(now, old, sizeof(*now) * n);
	memcpy((char *)now + (lo - SD_INODE_HEADER_SIZE - first * sizeof(*now)),
	       (const char *)buf + (lo - off), hi - lo);
	for (uint32_t i = 0; i < n; i++)
		if (old[i] == now[i])
			old[i] = 0;	/* not dropped */
	r = drop_unshared(vid, first, old, n, &removed);
	if (r)
		sd_err("vdi %06" PRIx32 ": objects dropped from index %" PRIu32 "-%" PRIu32
		       " may be left behind: result %02x", vid, first, first + n - 1, r);
	else if (removed)
		sd_debug("vdi %06" PRIx32 ": %" PRIu64 " objects reclaimed from index %" PRIu32
			 "-%" PRIu32, vid, removed, first, first + n - 1);
out:
	pthread_mutex_unlock(index_lock(vid));
	free(old);
	free(now);
	return ret;
}

int vdi_main_del(const struct sd_req *req, struct sd_rsp *rsp, void *data)
{
	uint32_t *vids = NULL;
	int nr = 0;

	(void)req;
	(void)data;
	vdi_mark_deleted(rsp->vdi.vdi_id);
	if (!node_is_local(group_sender()))
		return SD_RES_SUCCESS;
	pthread_mutex_lock(&vdi_lock);
	if (recycle_vids && recycle_victim == rsp->vdi.vdi_id) {
		vids = recycle_vids;
		nr = recycle_nr;
		recycle_vids = NULL;
	}
	pthread_mutex_unlock(&vdi_lock);
	/* the vids go free on every node at the same point of the total order */
	for (int off = 0; off < nr; off += RECYCLE_BATCH) {
		int n = MIN(nr - off, RECYCLE_BATCH);

		if (group_notify_internal(SD_OP_RECYCLE_VIDS, vids + off,
					  (uint32_t)(n * (int)sizeof(*vids))))
			sd_err("cannot recycle %d vids", n);
	}
	free(vids);
	return SD_RES_SUCCESS;
}

int vdi_main_recycle(const struct sd_req *req, struct sd_rsp *rsp, void *data)
{
	uint32_t n = req->data_length / sizeof(uint32_t);

	(void)rsp;
	if (!(req->flags & SD_FLAG_CMD_INTERNAL) || req->data_length % sizeof(uint32_t))
		return SD_RES_INVALID_PARMS;
	pthread_mutex_lock(&vdi_lock);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t vid;
		struct vdi_state *st;

		memcpy(&vid, (const char *)data + i * sizeof(vid), sizeof(vid));
		if (!vid || vid >= SD_NR_VDIS)
			continue;
		clear_bit(in_use_bitmap, vid);
		clear_bit(deleted_bitmap, vid);
		st = state_slot(vid);
		if (st->vid)
			st->deleted = true;
	}
	pthread_mutex_unlock(&vdi_lock);
	sd_info("%" PRIu32 " vids of a deleted family are free again", n);
	return SD_RES_SUCCESS;
}

/* ---- attributes ----------------------------------------------------------- */

#define ATTR_PROBES 4096

static uint64_t attr_oid(uint32_t vid, uint32_t attr_id)
{
	return VDI_ATTR_BIT | ((uint64_t)vid << 32) | attr_id;
}

/*
 * GET_VDI_ATTR: find the attribute object of (VDI, key), probing from the
 * key's hash; CREAT makes it (EXCL: only if new) with the value sent, an
 * existing key gets the new value; DEL clears the key (the slot stays, so
 * later keys of the same probe run are still found).
 */
int vdi_op_get_attr(struct request *req)
{
	const struct sd_req *hdr = &req->rq;
	struct sheepdog_vdi_attr *in = req->data, *cur;
	uint32_t len = (hdr->flags & SD_FLAG_CMD_WRITE) ? hdr->data_length : 0;
	uint32_t vid, start, free_slot = UINT32_MAX, id;
	struct sd_inode *inode;
	int ret;

	req->rp.data_length = 0;
	if (len < SD_VDI_ATTR_HEADER || len > SD_VDI_ATTR_SIZE ||
	    in->value_len > len - SD_VDI_ATTR_HEADER)
		return SD_RES_INVALID_PARMS;
	in->name[SD_MAX_VDI_LEN - 1] = '\0';
	in->tag[SD_MAX_VDI_TAG_LEN - 1] = '\0';
	in->key[SD_MAX_VDI_ATTR_KEY_LEN - 1] = '\0';
	if (!in->key[0])
		return SD_RES_INVALID_PARMS;
	inode = xmalloc(SD_INODE_HEADER_SIZE);
	ret = vdi_find(in->name, in->tag, in->snap_id ? in->snap_id : hdr->vdi.snapid, &vid,
		       inode);
	free(inode);
	if (ret)
		return ret;
	start = (uint32_t)sd_hash_vdi(in->key, strlen(in->key));
	cur = xmalloc(SD_VDI_ATTR_HEADER);
	ret = SD_RES_NO_OBJ;
	for (uint32_t n = 0; n < ATTR_PROBES; n++) {
		int r;

		id = start + n;
		r = gateway_read_obj(attr_oid(vid, id), cur, SD_VDI_ATTR_HEADER, 0);
		if (r == SD_RES_NO_OBJ)
			break;
		if (r) {
			ret = r;
			goto out;
		}
		if (!cur->key[0]) {
			if (free_slot == UINT32_MAX)
				free_slot = id;
			continue;
		}
		if (strncmp(cur->key, in->key, SD_MAX_VDI_ATTR_KEY_LEN))
			continue;
		/* the key exists */
		if ((hdr->flags & SD_FLAG_CMD_CREAT) && (hdr->flags & SD_FLAG_CMD_EXCL)) {
			ret = SD_RES_VDI_EXIST;
		} else if (hdr->flags & SD_FLAG_CMD_DEL) {
			static const char zero[SD_MAX_VDI_ATTR_KEY_LEN];

			ret = gateway_write_obj(attr_oid(vid, id), zero, sizeof(zero),
						(uint32_t)offsetof(struct sheepdog_vdi_attr, key));
		} else if (hdr->flags & SD_FLAG_CMD_CREAT) {
			in->ctime = cur->ctime;
			ret = gateway_write_obj(attr_oid(vid, id), in, len, 0);
		} else {
			ret = SD_RES_SUCCESS;
		}
		goto found;
	}
	if (ret != SD_RES_NO_OBJ || !(hdr->flags & SD_FLAG_CMD_CREAT) ||
	    (hdr->flags & SD_FLAG_CMD_DEL))
		goto out;
	if (free_slot != UINT32_MAX)
		id = free_slot;
	in->ctime = now_ctime();
	ret = gateway_create_and_write_obj(attr_oid(vid, id), 0, in, len, 0);
found:
	if (ret == SD_RES_SUCCESS) {
		req->rp.vdi.vdi_id = vid;
		req->rp.vdi.attr_id = id;
	}
out:
	free(cur);
	return ret;
}

/* ---- locks ---------------------------------------------------------------- */

static struct vdi_lock_entry *locks;
static int nr_locks;

static bool use_locks(void)
{
	return sys->flags & SD_CLUSTER_FLAG_USE_LOCK;
}

static void lock_del(int i)
{
	locks[i] = locks[--nr_locks];
}

static void lock_add(uint32_t vid, uint32_t type, const struct node_id *owner)
{
	locks = xrealloc(locks, sizeof(*locks) * (size_t)(nr_locks + 1));
	memset(&locks[nr_locks], 0, sizeof(*locks));
	locks[nr_locks].vid = vid;
	locks[nr_locks].type = type;
	locks[nr_locks].owner = *owner;
	nr_locks++;
}

/*
 * LOCK_VDI main phase, everywhere: an exclusive (normal) lock conflicts
 * with any lock of another holder, a shared one only with another holder's
 * exclusive lock.  Holders are nodes (the gateway the client came through).
 */
int vdi_main_lock(const struct sd_req *req, struct sd_rsp *rsp, void *data)
{
	const struct node_id *owner = &group_sender()->nid;
	uint32_t vid = rsp->vdi.vdi_id, type = req->vdi.type;
	bool mine = false;

	(void)data;
	if (!use_locks())
		return SD_RES_SUCCESS;
	if (type != LOCK_TYPE_NORMAL && type != LOCK_TYPE_SHARED)
		return SD_RES_INVALID_PARMS;
	for (int i = 0; i < nr_locks; i++) {
		if (locks[i].vid != vid)
			continue;
		if (node_id_eq(&locks[i].owner, owner)) {
			mine = true;
			continue;
		}
		if (type == LOCK_TYPE_NORMAL || locks[i].type == LOCK_TYPE_NORMAL)
			return SD_RES_VDI_LOCKED;
	}
	if (!mine)
		lock_add(vid, type, owner);
	return SD_RES_SUCCESS;
}

/* RELEASE_VDI main phase: the sender's lock on vdi.base_vdi_id */
int vdi_main_release(const struct sd_req *req, struct sd_rsp *rsp, void *data)
{
	const struct node_id *owner = &group_sender()->nid;

	(void)rsp;
	(void)data;
	if (!use_locks())
		return SD_RES_SUCCESS;
	for (int i = 0; i < nr_locks; i++)
		if (locks[i].vid == req->vdi.base_vdi_id &&
		    (node_id_eq(&locks[i].owner, owner) ||
		     /* as the reference: a normal release ends an exclusive lock, whoever holds
		      * it (Sheepdog's dog vdi lock unlock, sent to any node) */
		     (req->vdi.type == LOCK_TYPE_NORMAL && locks[i].type == LOCK_TYPE_NORMAL))) {
			lock_del(i);
			return SD_RES_SUCCESS;
		}
	return SD_RES_VDI_NOT_LOCKED;
}

/* FORCE_UNLOCK_VDI (ours) main phase: every lock on vdi.base_vdi_id */
int vdi_main_force_unlock(const struct sd_req *req, struct sd_rsp *rsp, void *data)
{
	bool found = false;

	(void)rsp;
	(void)data;
	for (int i = 0; i < nr_locks;) {
		if (locks[i].vid == req->vdi.base_vdi_id) {
			lock_del(i);
			found = true;
		} else {
			i++;
		}
	}
	return found ? SD_RES_SUCCESS : SD_RES_VDI_NOT_LOCKED;
}

int vdi_local_get_locks(const struct sd_req *req, struct sd_rsp *rsp, void *data)
{
	int n = MIN(nr_locks, (int)(req->data_length / sizeof(*locks)));

	memcpy(data, locks, sizeof(*locks) * (size_t)n);
	rsp->data_length = (uint32_t)(sizeof(*locks) * (size_t)n);
	return n < nr_locks ? SD_RES_BUFFER_SMALL : SD_RES_SUCCESS;
}

/* a node left: its clients are gone, and so are their locks */
void vdi_locks_drop_node(const struct node_id *owner)
{
	for (int i = 0; i < nr_locks;) {
		if (node_id_eq(&locks[i].owner, owner))
			lock_del(i);
		else
			i++;
	}
}

int vdi_locks_export(struct vdi_lock_entry *buf, int max)
{
	int n = MIN(nr_locks, max);

	memcpy(buf, locks, sizeof(*locks) * (size_t)n);
	return n;
}

void vdi_locks_import(const struct vdi_lock_entry *buf, int nr)
{
	free(locks);
	locks = NULL;
	nr_locks = 0;
	for (int i = 0; i < nr; i++)
		lock_add(buf[i].vid, buf[i].type, &buf[i].owner);
}

/*
 * Join-time sync: a node's local store holds only the inodes placed on it,
 * so on every join the members merge each other's vid bitmaps and read the
 * headers of VDIs they did not know.
 */
struct vdi_sync {
	struct work work;
	struct sd_node *nodes;
	int nr;
	bool refresh;		/* re-read every VDI, not only unknown ones */
	void (*done)(void);
};

static int fetch_bitmap(const struct sd_node *n, uint8_t opcode, uint8_t *buf)
{
	struct sd_req hdr = { 0 };
	struct sd_rsp rsp;
	char host[64];
	int fd, ret;

	addr_to_str(n->nid.addr, host, sizeof(host));
	fd = connect_tcp(host, n->nid.port, 3000);
	if (fd < 0)
		return fd;
	set_io_timeout(fd, 10000);
	hdr.proto_ver = opcode >= SD_OP_INTERNAL_MIN ? SD_SHEEP_PROTO_VER : SD_PROTO_VER;
	hdr.opcode = opcode;
	hdr.data_length = SD_VDI_BITMAP_SIZE;
	ret = exec_req(fd, &hdr, NULL, &rsp, buf, SD_VDI_BITMAP_SIZE);
	close(fd);
	if (!ret && rsp.result != SD_RES_SUCCESS)
		ret = -EIO;
	return ret;
}

static void sync_work(struct work *w)
{
	struct vdi_sync *vs = container_of(w, struct vdi_sync, work);
	uint8_t *in_use = xzalloc(SD_VDI_BITMAP_SIZE), *del = xzalloc(SD_VDI_BITMAP_SIZE);
	uint8_t *tmp = xmalloc(SD_VDI_BITMAP_SIZE);
	struct sd_inode *hdr = xmalloc(SD_INODE_HEADER_SIZE);

	for (int i = 0; i < vs->nr; i++) {
		char name[64];

		node_id_to_str(&vs->nodes[i].nid, name, sizeof(name));
		if (fetch_bitmap(&vs->nodes[i], SD_OP_READ_VDIS, tmp)) {
			sd_err("cannot fetch the VDI bitmap of %s", name);
			continue;
		}
		for (size_t b = 0; b < SD_VDI_BITMAP_SIZE; b++)
			in_use[b] |= tmp[b];
		if (fetch_bitmap(&vs->nodes[i], SD_OP_READ_DEL_VDIS, tmp) == 0)
			for (size_t b = 0; b < SD_VDI_BITMAP_SIZE; b++)
				del[b] |= tmp[b];
	}
	for (uint32_t vid = 1; vid < SD_NR_VDIS; vid++) {
		if (!(vid & 7) && !in_use[vid >> 3]) {
			vid += 7;	/* a whole empty byte */
			continue;
		}
		if (test_bit(del, vid))
			vdi_mark_deleted(vid);	/* always: we may have missed the delete */
		if (!test_bit(in_use, vid) || (!vs->refresh && vid_in_use(vid)))
			continue;
		if (gateway_read_obj(vid_to_vdi_oid(vid), hdr, SD_INODE_HEADER_SIZE, 0) ==
		    SD_RES_SUCCESS) {
			vdi_mark_in_use(vid, hdr->nr_copies, hdr->block_size_shift,
					hdr->snap_ctime != 0);
			if (!hdr->name[0])
				vdi_mark_deleted(vid);
		} else {
			sd_err("VDI %" PRIx32 ": cannot read its inode", vid);
			vdi_mark_in_use(vid, 0, 0, false);
		}
		if (test_bit(del, vid))
			vdi_mark_deleted(vid);
	}
	free(in_use);
	free(del);
	free(tmp);
	free(hdr);
}

static void sync_done(struct work *w)
{
	struct vdi_sync *vs = container_of(w, struct vdi_sync, work);

	if (vs->done)
		vs->done();
	free(vs->nodes);
	free(vs);
}

void vdi_sync_from(const struct sd_node *nodes, int nr, bool refresh, void (*done)(void))
{
	struct vdi_sync *vs = xzalloc(sizeof(*vs));

	vs->refresh = refresh;
	vs->nodes = xcalloc((size_t)(nr ? nr : 1), sizeof(*nodes));
	memcpy(vs->nodes, nodes, sizeof(*nodes) * (size_t)nr);
	vs->nr = nr;
	vs->done = done;
	vs->work.fn = sync_work;
	vs->work.done = sync_done;
	queue_work(&vs->work);
}
