/*
 * dog_backup.c - `dog vdi backup -F from -s to <vdi>` and `dog vdi restore
 * -s snap <vdi>`, in Sheepdog's backup format so either dog reads the
 * other's files: an 8-byte header (version 1, magic 0x11921192), then for
 * every object that differs between the two snapshots a 16-byte record
 * (idx, offset, length, 0) and the bytes of the differing 512-byte sectors
 * at offset, then an end record with idx 0xffffffff.  All little-endian.
 *
 * Restore applies a backup on top of the snapshot it was made from: as
 * Sheepdog's dog, it drops the working VDI, writes the changes into a new
 * VDI based on the snapshot (copy-on-write), which then becomes a snapshot
 * when the working VDI is recreated from the previous working VDI's parent.
 * Unlike Sheepdog's, it checks the file's header before dropping anything,
 * and a restore that failed still leaves a working VDI (the parent's copy).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dog.h"

#define BACKUP_VERSION	1
#define BACKUP_MAGIC	0x11921192
#define BACKUP_END	UINT32_MAX
#define SECTOR		512

struct backup_hdr {
	uint32_t version;
	uint32_t magic;
};

struct backup_rec {
	uint32_t idx;
	uint32_t offset;
	uint32_t length;
	uint32_t reserved;
};

_Static_assert(sizeof(struct backup_rec) == 16, "backup record is 16 bytes");


/* open name at snapshot snap (a tag or an id) and read its inode with index */
static int open_snapshot(const char *name, const char *snap, uint32_t *vid,
			 struct sd_inode *inode)
{
	const char *saved = dog_opts.snapshot;
	int ret;

	dog_opts.snapshot = snap;
	ret = dog_open_vdi(name, vid);
	dog_opts.snapshot = saved;
	if (!ret && dog_read_inode(*vid, inode, SD_INODE_HEADER_SIZE + SD_INODE_INDEX_SIZE))
		ret = EXIT_FAILURE;
	return ret;
}

/* the record for idx: to's bytes where they differ from from's, whole sectors */
static int diff_object(uint32_t idx, uint32_t from_vid, uint32_t to_vid, uint32_t objsize,
		       char *to, char *from, struct backup_rec *rec)
{
	memset(to, 0, objsize);
	memset(from, 0, objsize);
	if (to_vid && dog_read_object(vid_to_data_oid(to_vid, idx), to, objsize, 0)) {
		dog_err("Failed to read object %" PRIx32 ", %" PRIu32, to_vid, idx);
		return EXIT_FAILURE;
	}
	if (from_vid && dog_read_object(vid_to_data_oid(from_vid, idx), from, objsize, 0)) {
		dog_err("Failed to read object %" PRIx32 ", %" PRIu32, from_vid, idx);
		return EXIT_FAILURE;
	}
	rec->idx = idx;
	rec->offset = 0;
	rec->length = objsize;
	rec->reserved = 0;
	while (rec->length && !memcmp(to + rec->offset, from + rec->offset, SECTOR)) {
		rec->offset += SECTOR;
		rec->length -= SECTOR;
	}
	while (rec->length && !memcmp(to + rec->offset + rec->length - SECTOR,
				      from + rec->offset + rec->length - SECTOR, SECTOR))
		rec->length -= SECTOR;
	return EXIT_SUCCESS;
}

struct idx_list {
	struct {
		uint32_t idx, vid;
	} *e;
	size_t n, cap;
};

static int collect(uint32_t idx, uint32_t vid, void *arg)
{
	struct idx_list *l = arg;

	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 256;
		l->e = xrealloc(l->e, sizeof(*l->e) * l->cap);
	}
	l->e[l->n].idx = idx;
	l->e[l->n++].vid = vid;
	return 0;
}

int vdi_backup(int argc, char **argv)
{
	struct sd_inode *from = xmalloc(SD_INODE_HEADER_SIZE + SD_INODE_INDEX_SIZE);
	struct sd_inode *to = xmalloc(SD_INODE_HEADER_SIZE + SD_INODE_INDEX_SIZE);
	struct backup_hdr bh = { BACKUP_VERSION, BACKUP_MAGIC };
	struct backup_rec rec;
	struct idx_list fl = { NULL, 0, 0 }, tl = { NULL, 0, 0 };
	char *tbuf = NULL, *fbuf = NULL;
	uint32_t from_vid, to_vid, objsize;
	uint64_t nr;
	int ret;

	if (argc != 1) {
		ret = argc ? EXIT_USAGE : (dog_err("Please specify the VDI name"), EXIT_USAGE);
		goto out;
	}
	if (!dog_opts.snapshot || !dog_opts.from) {
		dog_err("Please specify snapshots with '-F' and '-s' options");
		ret = EXIT_USAGE;
		goto out;
	}
	ret = open_snapshot(argv[0], dog_opts.from, &from_vid, from);
	if (!ret)
		ret = open_snapshot(argv[0], dog_opts.snapshot, &to_vid, to);
	if (ret)
		goto out;
	objsize = UINT32_C(1) << from->block_size_shift;
	tbuf = xmalloc(objsize);
	fbuf = xmalloc(objsize);
	if (xwrite_full(STDOUT_FILENO, &bh, sizeof(bh))) {
		dog_err("failed to write backup header, %s", strerror(errno));
		ret = EXIT_SYSFAIL;
		goto out;
	}
	/* the indexes either snapshot has allocated, in order (walks: cheap for a B-tree) */
	if (dog_inode_walk(from, collect, &fl) || dog_inode_walk(to, collect, &tl)) {
		ret = EXIT_FAILURE;
		goto out;
	}
	nr = dog_inode_nr_objs(to);
	for (size_t fi = 0, ti = 0; fi < fl.n || ti < tl.n;) {
		uint32_t idx, fv = 0, tv = 0;

		if (ti == tl.n || (fi < fl.n && fl.e[fi].idx < tl.e[ti].idx)) {
			idx = fl.e[fi].idx;
			fv = fl.e[fi++].vid;
		} else if (fi == fl.n || tl.e[ti].idx < fl.e[fi].idx) {
			idx = tl.e[ti].idx;
			tv = tl.e[ti++].vid;
		} else {
			idx = tl.e[ti].idx;
			fv = fl.e[fi++].vid;
			tv = tl.e[ti++].vid;
		}
		if (idx >= nr)
			break;
		ret = diff_object(idx, fv, tv, objsize, tbuf, fbuf, &rec);
		if (ret)
			goto out;
		if (!rec.length)
			continue;
		if (xwrite_full(STDOUT_FILENO, &rec, sizeof(rec)) ||
		    xwrite_full(STDOUT_FILENO, tbuf + rec.offset, rec.length)) {
			dog_err("failed to write backup data, %s", strerror(errno));
			ret = EXIT_SYSFAIL;
			goto out;
		}
	}
	memset(&rec, 0, sizeof(rec));
	rec.idx = BACKUP_END;
	if (xwrite_full(STDOUT_FILENO, &rec, sizeof(rec))) {
		dog_err("failed to write end marker, %s", strerror(errno));
		ret = EXIT_SYSFAIL;
		goto out;
	}
	fsync(STDOUT_FILENO);
	ret = EXIT_SUCCESS;
out:
	free(fl.e);
	free(tl.e);
	free(tbuf);
	free(fbuf);
	free(from);
	free(to);
	return ret;
}

/* as Sheepdog's dog: the index zeroed (-B, -I), then DEL_VDI; an exit code */
static int delete_working(const char *name)
{
	return dog_delete_vdi(name, 0, NULL);
}


/* the records of stdin into a new VDI based on snapshot snap */
static int apply_backup(const char *name, const struct sd_inode *snap)
{
	uint32_t objsize = UINT32_C(1) << snap->block_size_shift, vid;
	struct backup_rec rec;
	char *buf;
	int ret, r;

	r = dog_new_vdi(name, snap->vdi_size, snap->vdi_id, false, snap, &vid);
	if (r) {
		dog_err("Failed to create VDI %s: %s", name, sd_strerror((uint32_t)r));
		dog_err("Failed to read VDI");
		return EXIT_FAILURE;
	}
	buf = xmalloc(objsize);
	for (;;) {
		uint32_t parent;

		if (xread_full(STDIN_FILENO, &rec, sizeof(rec))) {
			dog_err("failed to read backup data");
			ret = EXIT_SYSFAIL;
			break;
		}
		if (rec.idx == BACKUP_END) {
			ret = EXIT_SUCCESS;
			break;
		}
		if (rec.length > objsize || rec.offset > objsize - rec.length ||
		    xread_full(STDIN_FILENO, buf, rec.length)) {
			dog_err("failed to read backup data");
			ret = EXIT_SYSFAIL;
			break;
		}
		parent = dog_inode_get_vid(snap, rec.idx);
		r = dog_write_object(vid_to_data_oid(vid, rec.idx),
			      parent ? vid_to_data_oid(parent, rec.idx) : 0, buf, rec.length,
			      rec.offset, true);
		if (!r)
			r = dog_write_index(vid, rec.idx, 1, &vid);
		if (r) {
			dog_err("failed to restore backup");
			delete_working(name);
			ret = EXIT_FAILURE;
			break;
		}
	}
	free(buf);
	return ret;
}

int vdi_restore(int argc, char **argv)
{
	struct sd_inode *snap = xmalloc(SD_INODE_HEADER_SIZE + SD_INODE_INDEX_SIZE);
	struct sd_inode *cur = xmalloc(SD_INODE_HEADER_SIZE + SD_INODE_INDEX_SIZE);
	struct sd_inode *parent = xmalloc(SD_INODE_HEADER_SIZE);
	uint32_t snap_vid, cur_vid;
	struct backup_hdr bh;
	bool recreate = false;
	int ret, r;

	if (argc != 1) {
		ret = argc ? EXIT_USAGE : (dog_err("Please specify the VDI name"), EXIT_USAGE);
		goto out;
	}
	if (!dog_opts.snapshot) {
		dog_err("We can restore a backup file only to snapshots");
		dog_err("Please specify the '-s' option");
		ret = EXIT_USAGE;
		goto out;
	}
	ret = open_snapshot(argv[0], dog_opts.snapshot, &snap_vid, snap);
	if (ret)
		goto out;
	ret = open_snapshot(argv[0], NULL, &cur_vid, cur);
	if (ret)
		goto out;
	if (!cur->parent_vdi_id || dog_read_inode(cur->parent_vdi_id, parent,
						  SD_INODE_HEADER_SIZE)) {
		printf("error\n");
		ret = EXIT_FAILURE;
		goto out;
	}
	if (isatty(STDIN_FILENO)) {
		dog_err("stdin must be pipe");
		ret = EXIT_USAGE;
		goto out;
	}
	/* ours: the header before anything changes (Sheepdog's dog lost the VDI here) */
	memset(&bh, 0, sizeof(bh));
	if (xread_full(STDIN_FILENO, &bh, sizeof(bh)))
		dog_err("failed to read backup header, %s", strerror(errno));
	if (bh.version != BACKUP_VERSION || bh.magic != BACKUP_MAGIC) {
		dog_err("The backup file is corrupted");
		ret = EXIT_SYSFAIL;
		goto out;
	}
	/* drop the working VDI first, or the restored state would snapshot it */
	if (delete_working(argv[0])) {
		dog_err("Failed to delete the current state");
		ret = EXIT_FAILURE;
		goto out;
	}
	recreate = true;
	ret = apply_backup(argv[0], snap);
out:
	if (recreate) {
		/* the working VDI again, from the old one's parent; the restored one a snapshot */
		r = dog_new_vdi(argv[0], cur->vdi_size, cur->parent_vdi_id, true, cur, NULL);
		if (r == SD_RES_NO_VDI)	/* ours: nothing restored, a working VDI all the same */
			r = dog_new_vdi(argv[0], cur->vdi_size, cur->parent_vdi_id, false, cur, NULL);
		if (r) {
			dog_err("Failed to create VDI %s: %s", argv[0], sd_strerror((uint32_t)r));
			dog_err("failed to resume the current vdi");
			ret = EXIT_FAILURE;
		}
	}
	free(snap);
	free(cur);
	free(parent);
	return ret;
}
