/*
 * dog_farm.c - `dog cluster snapshot save|list|load|show`: Sheepdog's "farm",
 * a whole-cluster backup of the snapshots to a local directory.
 *
 * Owns the farm's on-disk layout, which is Sheepdog's so either dog reads
 * what the other wrote:
 *   DIR/objects/XX/YYYY...  content-addressed files, named by the SHA-1 of
 *                           their bytes (XX: its first byte in hex), stored raw
 *   object                  cut in 128 KiB slices, each such a file; a "slice
 *                           index" file lists their SHA-1s; zero slices dedup
 *   trunk                   one file: an array of struct farm_trunk_entry
 *                           (oid, copies, policy, block size shift, slice index)
 *   DIR/user_snap           a header (magic, copies, policy, shift) then one
 *                           struct farm_snap_log per save (index, tag, time, trunk)
 * A save takes the snapshot VDIs (never working ones) and every object they
 * point at; a load formats the cluster, writes the objects back, registers
 * their VDIs (NOTIFY_VDI_ADD) and puts a new working VDI on the newest
 * snapshot of each name.  Only dog.c's dispatcher calls in here.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dog.h"
#include "sha1.h"

#define FARM_MAGIC	0xfee1c001
#define FARM_VERSION	1
#define FARM_SLICE	(128 * 1024)
#define SHA1_LEN	SHA1_DIGEST_SIZE
#define FARM_TAG_LEN	256

struct farm_trunk_entry {
	uint64_t oid;
	uint8_t nr_copies;
	uint8_t copy_policy;
	uint8_t block_size_shift;
	uint8_t reserved;
	uint8_t sha1[SHA1_LEN];
};

struct farm_log_hdr {
	uint32_t magic;
	uint32_t version;
	uint8_t copy_number;
	uint8_t copy_policy;
	uint8_t block_size_shift;
	uint8_t reserved[21];
};

struct farm_snap_log {
	uint32_t idx;
	char tag[FARM_TAG_LEN];
	uint64_t time;
	uint8_t trunk_sha1[SHA1_LEN];
};

_Static_assert(sizeof(struct farm_trunk_entry) == 32, "trunk entry as Sheepdog's");
_Static_assert(sizeof(struct farm_log_hdr) == 32, "log header as Sheepdog's");
_Static_assert(sizeof(struct farm_snap_log) == 296, "snap log as Sheepdog's");

/* ---- the content-addressed files ------------------------------------------ */

static char farm_dir[4096];

static void sha1_path(const uint8_t *sha1, char *path, size_t len)
{
	char hex[2 * SHA1_LEN + 1];

	for (int i = 0; i < SHA1_LEN; i++)
		snprintf(hex + 2 * i, 3, "%02x", sha1[i]);
	snprintf(path, len, "%s/objects/%.2s/%s", farm_dir, hex, hex + 2);
}

/* store buf under its SHA-1 (once: an existing file is the same bytes) */
static int file_write(const void *buf, size_t len, uint8_t *sum)
{
	char path[4200], tmp[4300];
	int fd;

	sha1(buf, len, sum);
	sha1_path(sum, path, sizeof(path));
	if (access(path, F_OK) == 0)
		return 0;
	snprintf(tmp, sizeof(tmp), "%s.tmp%d", path, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || xwrite_full(fd, buf, len) || close(fd) || rename(tmp, path)) {
		dog_err("failed to write %s: %s", path, strerror(errno));
		if (fd >= 0)
			unlink(tmp);
		return -1;
	}
	return 0;
}

/* a file by SHA-1, checked against it; NULL (message printed) if missing or bad */
static void *file_read(const uint8_t *sum, size_t *len)
{
	char path[4200];
	uint8_t got[SHA1_LEN];
	struct stat st;
	void *buf = NULL;
	int fd;

	sha1_path(sum, path, sizeof(path));
	fd = open(path, O_RDONLY);
	if (fd < 0 || fstat(fd, &st)) {
		dog_err("%s: %s", path, strerror(errno));
		goto out;
	}
	buf = xmalloc((size_t)st.st_size + 1);
	if (xread_full(fd, buf, (size_t)st.st_size)) {
		dog_err("failed to read %s: %s", path, strerror(errno));
		goto bad;
	}
	sha1(buf, (size_t)st.st_size, got);
	if (memcmp(got, sum, SHA1_LEN)) {
		dog_err("%s is damaged: its SHA-1 differs from its name", path);
		goto bad;
	}
	*len = (size_t)st.st_size;
	goto out;
bad:
	free(buf);
	buf = NULL;
out:
	if (fd >= 0)
		close(fd);
	return buf;
}

/* an object: its slices, then the list of their SHA-1s, which names it */
static int slices_write(const void *buf, size_t len, uint8_t *sha1)
{
	size_t nr = DIV_ROUND_UP(len, FARM_SLICE);
	uint8_t *list = xmalloc(nr * SHA1_LEN + 1);
	int ret = 0;

	for (size_t i = 0; i < nr && !ret; i++)
		ret = file_write((const char *)buf + i * FARM_SLICE, MIN(FARM_SLICE,
				 len - i * FARM_SLICE), list + i * SHA1_LEN);
	if (!ret)
		ret = file_write(list, nr * SHA1_LEN, sha1);
	free(list);
	return ret;
}

static void *slices_read(const uint8_t *sha1, size_t *len)
{
	size_t llen, done = 0;
	uint8_t *list = file_read(sha1, &llen);
	char *obj = NULL;

	if (!list)
		return NULL;
	obj = xmalloc(llen / SHA1_LEN * FARM_SLICE + 1);
	for (size_t i = 0; i < llen / SHA1_LEN; i++) {
		size_t n;
		void *s = file_read(list + i * SHA1_LEN, &n);

		if (!s || n > FARM_SLICE) {
			free(s);
			free(obj);
			obj = NULL;
			break;
		}
		memcpy(obj + done, s, n);
		done += n;
		free(s);
	}
	free(list);
	*len = done;
	return obj;
}

/* ---- the directory and the snapshot log ----------------------------------- */

static int farm_init(const char *path)
{
	char sub[4200];
	int fd;

	if (strlen(path) >= sizeof(farm_dir) - 64) {
		dog_err("Path is too long: %s", path);
		return -1;
	}
	snprintf(farm_dir, sizeof(farm_dir), "%s", path);
	if (mkdir(path, 0755) && errno != EEXIST)
		goto fail;
	snprintf(sub, sizeof(sub), "%s/objects", path);
	if (mkdir(sub, 0755) && errno != EEXIST)
		goto fail;
	for (int i = 0; i < 256; i++) {
		snprintf(sub, sizeof(sub), "%s/objects/%02x", path, i);
		if (mkdir(sub, 0755) && errno != EEXIST)
			goto fail;
	}
	snprintf(sub, sizeof(sub), "%s/user_snap", path);
	fd = open(sub, O_WRONLY | O_CREAT, 0644);
	if (fd < 0)
		goto fail;
	close(fd);
	return 0;
fail:
	if (errno == ENOTDIR || errno == EEXIST)
		dog_err("Path is not a directory: %s", path);
	dog_err("Fail to create directory: %s", strerror(errno));
	return -1;
}

/* the log's header and entries; *nr = 0 for an empty log; -1 on error */
static int log_read(struct farm_log_hdr *hdr, struct farm_snap_log **logs, int *nr)
{
	char path[4200];
	struct stat st;
	int fd, ret = -1;

	*logs = NULL;
	*nr = 0;
	snprintf(path, sizeof(path), "%s/user_snap", farm_dir);
	fd = open(path, O_RDONLY);
	if (fd < 0 || fstat(fd, &st)) {
		dog_err("%s: %s", path, strerror(errno));
		goto out;
	}
	if (st.st_size == 0) {
		ret = 0;
		goto out;
	}
	if ((size_t)st.st_size < sizeof(*hdr) || xread_full(fd, hdr, sizeof(*hdr))) {
		dog_err("failed to read log header");
		goto out;
	}
	if (hdr->magic != FARM_MAGIC) {
		dog_err("magic number mismatch");
		goto out;
	}
	*nr = (int)(((size_t)st.st_size - sizeof(*hdr)) / sizeof(**logs));
	*logs = xmalloc(sizeof(**logs) * (size_t)*nr + 1);
	if (xread_full(fd, *logs, sizeof(**logs) * (size_t)*nr)) {
		dog_err("failed to read %s", path);
		goto out;
	}
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	return ret;
}

/* append to the log (with its header first when it is empty) */
static int log_append(const struct farm_log_hdr *hdr, const struct farm_snap_log *log)
{
	char path[4200];
	int fd, ret = 0;

	snprintf(path, sizeof(path), "%s/user_snap", farm_dir);
	fd = open(path, O_WRONLY | O_APPEND);
	if (fd < 0)
		return -1;
	if (hdr && xwrite_full(fd, hdr, sizeof(*hdr)))
		ret = -1;
	if (!ret && xwrite_full(fd, log, sizeof(*log)))
		ret = -1;
	if (close(fd))
		ret = -1;
	if (ret)
		dog_err("failed to write %s: %s", path, strerror(errno));
	return ret;
}

/*
 * the trunk of snapshot <tag|idx>, as Sheepdog finds it: the first entry
 * whose index is idx or whose tag is tag (a tag that is a number is an index)
 */
static int find_trunk(const char *tag, uint8_t *sha1)
{
	struct farm_log_hdr hdr;
	struct farm_snap_log *logs;
	char *end;
	uint32_t idx = (uint32_t)strtoul(tag, &end, 10);
	int nr, ret = -1;

	if (end == tag)
		idx = 0;
	if (log_read(&hdr, &logs, &nr))
		return -1;
	for (int i = 0; i < nr; i++) {
		if (logs[i].idx != idx && strncmp(logs[i].tag, tag, FARM_TAG_LEN))
			continue;
		memcpy(sha1, logs[i].trunk_sha1, SHA1_LEN);
		ret = 0;
		break;
	}
	free(logs);
	return ret;
}

static struct farm_trunk_entry *trunk_read(const uint8_t *sha1, size_t *nr)
{
	size_t len;
	struct farm_trunk_entry *e = file_read(sha1, &len);

	if (!e)
		dog_err("failed to read trunk");
	*nr = e ? len / sizeof(*e) : 0;
	return e;
}

/* ---- talking to the cluster ------------------------------------------------ */

static int read_whole(uint64_t oid, void *buf, uint32_t len)
{
	return dog_read_object(oid, buf, len, 0);
}

static uint32_t object_size(uint64_t oid, uint8_t bss)
{
	if (is_vdi_obj(oid))
		return SD_INODE_SIZE;
	if (oid & VDI_ATTR_BIT)
		return (uint32_t)sizeof(struct sheepdog_vdi_attr);
	return UINT32_C(1) << (bss ? bss : SD_DEFAULT_BLOCK_SIZE_SHIFT);
}

static bool name_wanted(const char *name, int argc, char **argv)
{
	for (int i = 0; i < argc; i++)
		if (!strncmp(name, argv[i], SD_MAX_VDI_LEN))
			return true;
	return argc == 0;
}

/* ---- save ----------------------------------------------------------------- */

struct oid_list {
	struct farm_trunk_entry *e;
	size_t nr, cap;
};

static void oid_add(struct oid_list *l, uint64_t oid, const struct sd_inode *inode)
{
	if (l->nr == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 1024;
		l->e = xrealloc(l->e, l->cap * sizeof(*l->e));
	}
	memset(&l->e[l->nr], 0, sizeof(l->e[l->nr]));
	l->e[l->nr].oid = oid;
	l->e[l->nr].nr_copies = inode->nr_copies;
	l->e[l->nr].copy_policy = inode->copy_policy;
	l->e[l->nr].block_size_shift = inode->block_size_shift;
	l->nr++;
}

static int cmp_entry(const void *a, const void *b)
{
	uint64_t x = ((const struct farm_trunk_entry *)a)->oid;
	uint64_t y = ((const struct farm_trunk_entry *)b)->oid;

	return x < y ? -1 : x > y;
}

/* the objects of every live snapshot VDI named (all when none are) */
static int collect_objects(int argc, char **argv, struct oid_list *l, int *nr_snapshots)
{
	uint8_t *inuse = xzalloc(SD_VDI_BITMAP_SIZE), *deleted = xzalloc(SD_VDI_BITMAP_SIZE);
	struct sd_inode *inode = xmalloc(SD_INODE_HEADER_SIZE + SD_INODE_INDEX_SIZE);
	struct sd_req hdr;
	struct sd_rsp rsp;
	size_t out = 0;
	int ret = -1;

	dog_init_req(&hdr, SD_OP_READ_VDIS);
	hdr.data_length = SD_VDI_BITMAP_SIZE;
	if (dog_exec(&hdr, inuse, &rsp))
		goto out;
	if (rsp.result != SD_RES_SUCCESS) {
		dog_err("%s", sd_strerror(rsp.result));
		goto out;
	}
	dog_init_req(&hdr, SD_OP_READ_DEL_VDIS);
	hdr.data_length = SD_VDI_BITMAP_SIZE;
	if (dog_exec(&hdr, deleted, &rsp))
		goto out;
	if (rsp.result != SD_RES_SUCCESS)
		memset(deleted, 0, SD_VDI_BITMAP_SIZE);
	for (uint32_t vid = 1; vid < SD_NR_VDIS; vid++) {
		uint64_t objsize;
		uint32_t nr_objs, nr_vmstate;

		if (!(inuse[vid >> 3] & (1u << (vid & 7))) || (deleted[vid >> 3] & (1u << (vid & 7))))
			continue;
		if (read_whole(vid_to_vdi_oid(vid), inode,
			       SD_INODE_HEADER_SIZE + SD_INODE_INDEX_SIZE)) {
			dog_err("Failed to read inode header");
			continue;
		}
		if (!inode->snap_ctime || !name_wanted(inode->name, argc, argv))
			continue;	/* only snapshots are saved, as Sheepdog does */
		if (inode->name[0])
			(*nr_snapshots)++;
		oid_add(l, vid_to_vdi_oid(vid), inode);
		objsize = UINT64_C(1) << (inode->block_size_shift ? inode->block_size_shift :
					  SD_DEFAULT_BLOCK_SIZE_SHIFT);
		nr_objs = (uint32_t)MIN(DIV_ROUND_UP(inode->vdi_size, objsize), SD_INODE_DATA_INDEX);
		for (uint32_t i = 0; i < nr_objs; i++)
			if (inode->data_vdi_id[i])
				oid_add(l, vid_to_data_oid(inode->data_vdi_id[i], i), inode);
		nr_vmstate = (uint32_t)DIV_ROUND_UP(inode->vm_state_size, objsize);
		for (uint32_t i = 0; i < nr_vmstate; i++)
			oid_add(l, VMSTATE_BIT | ((uint64_t)vid << VDI_SPACE_SHIFT) | i, inode);
	}
	/* in oid order, each once (Sheepdog's object tree) */
	qsort(l->e, l->nr, sizeof(*l->e), cmp_entry);
	for (size_t i = 0; i < l->nr; i++)
		if (!out || l->e[out - 1].oid != l->e[i].oid)
			l->e[out++] = l->e[i];
	l->nr = out;
	ret = 0;
out:
	free(inuse);
	free(deleted);
	free(inode);
	return ret;
}

static int farm_save(const char *tag, int argc, char **argv)
{
	struct farm_log_hdr hdr = { 0 }, old;
	struct farm_snap_log log = { 0 }, *logs = NULL;
	struct oid_list l = { 0 };
	uint8_t sha1[SHA1_LEN];
	char *buf = NULL, *end;
	int nr_logs, nr_snapshots = 0, ret = -1;

	(void)strtol(tag, &end, 10);
	if (end != tag) {
		dog_err("Tag should not start with number.");
		return EXIT_USAGE;
	}
	if (find_trunk(tag, sha1) == 0) {
		dog_err("Snapshot tag has already been used for another snapshot, please, use "
			"another one.");
		goto out;
	}
	if (log_read(&old, &logs, &nr_logs))
		goto out;
	if (collect_objects(argc, argv, &l, &nr_snapshots))
		goto out;
	if (!nr_snapshots) {
		dog_err("Cannot execute. It may be caused by:");
		if (argc) {
			dog_err("1. The specified VDIs are not found.");
			dog_err("2. The specified VDIs don't have snapshots.");
		} else {
			dog_err("1. The cluster is empty.");
			dog_err("2. All VDIs of the cluster don't have snapshots.");
		}
		goto out;
	}
	if (!nr_logs) {
		struct sd_req req;
		struct sd_rsp rsp;

		dog_init_req(&req, SD_OP_GET_CLUSTER_DEFAULT);
		if (dog_exec(&req, NULL, &rsp))
			goto out;
		if (rsp.result != SD_RES_SUCCESS) {
			dog_err("%s", sd_strerror(rsp.result));
			goto out;
		}
		hdr.magic = FARM_MAGIC;
		hdr.version = FARM_VERSION;
		hdr.copy_number = rsp.cluster_default.nr_copies;
		hdr.copy_policy = rsp.cluster_default.copy_policy;
		hdr.block_size_shift = rsp.cluster_default.block_size_shift;
	}
	buf = xmalloc(SD_INODE_SIZE);
	for (size_t i = 0; i < l.nr; i++) {
		uint32_t size = object_size(l.e[i].oid, l.e[i].block_size_shift);
		int r = read_whole(l.e[i].oid, buf, size);

		if (r || slices_write(buf, size, l.e[i].sha1)) {
			if (r)
				dog_err("Failed to read object %016" PRIx64 ": %s", l.e[i].oid,
					sd_strerror((uint32_t)r));
			dog_err("Fail to save object, oid %016" PRIx64, l.e[i].oid);
			goto out;
		}
	}
	if (file_write(l.e, l.nr * sizeof(*l.e), log.trunk_sha1))
		goto out;
	log.idx = (uint32_t)nr_logs + 1;
	strncpy(log.tag, tag, sizeof(log.tag) - 1);
	log.time = (uint64_t)time(NULL);
	if (log_append(nr_logs ? NULL : &hdr, &log))
		goto out;
	ret = 0;
out:
	free(buf);
	free(l.e);
	free(logs);
	return ret ? EXIT_SYSFAIL : EXIT_SUCCESS;
}

/* ---- list and show -------------------------------------------------------- */

static int farm_list(void)
{
	struct farm_log_hdr hdr;
	struct farm_snap_log *logs;
	int nr;

	if (log_read(&hdr, &logs, &nr))
		return EXIT_SYSFAIL;
	printf("Index\t\tTag\t\tSnapshot Time\n");
	for (int i = 0; i < nr; i++) {
		time_t t = (time_t)logs[i].time;

		logs[i].tag[FARM_TAG_LEN - 1] = '\0';
		printf("%" PRIu32 "\t\t%s\t\t%s", logs[i].idx, logs[i].tag, ctime(&t));
	}
	free(logs);
	return EXIT_SUCCESS;
}

/* a VDI object of the farm, at least min bytes of it; NULL (said) if not */
static struct sd_inode *inode_read(const struct farm_trunk_entry *e, size_t min)
{
	size_t len;
	struct sd_inode *inode = slices_read(e->sha1, &len);

	if (!inode || len < min) {
		dog_err("Fail to load vdi object, oid %016" PRIx64, e->oid);
		free(inode);
		return NULL;
	}
	return inode;
}

static int farm_show(const char *tag, int argc, char **argv)
{
	uint8_t sha1[SHA1_LEN];
	struct farm_trunk_entry *e;
	size_t nr;
	int seq = 0, ret = EXIT_SUCCESS;

	if (find_trunk(tag, sha1)) {
		dog_err("Snapshot index or tag does not exist.");
		return EXIT_SYSFAIL;
	}
	e = trunk_read(sha1, &nr);
	if (!e)
		return EXIT_SYSFAIL;
	for (size_t i = 0; i < nr; i++) {
		struct sd_inode *inode;

		if (!is_vdi_obj(e[i].oid))
			continue;
		inode = inode_read(&e[i], SD_INODE_HEADER_SIZE);
		if (!inode) {
			ret = EXIT_SYSFAIL;
			break;
		}
		/* no names: every VDI object, deleted ones too (Sheepdog's choice) */
		if (!argc || (inode->name[0] && name_wanted(inode->name, argc, argv)))
			printf("%d. VDI id: %" PRIx32 ", name: %s, tag: %s\n", ++seq,
			       inode->vdi_id, inode->name, inode->tag);
		free(inode);
	}
	free(e);
	return ret;
}

/* ---- load ----------------------------------------------------------------- */

static int write_whole(const struct farm_trunk_entry *e, void *buf, uint32_t len)
{
	struct sd_req hdr;
	struct sd_rsp rsp;

	dog_init_req(&hdr, SD_OP_CREATE_AND_WRITE_OBJ);
	hdr.flags = SD_FLAG_CMD_WRITE | SD_FLAG_CMD_DIRECT;
	hdr.data_length = len;
	hdr.obj.oid = e->oid;
	hdr.obj.copies = e->nr_copies;
	hdr.obj.copy_policy = e->copy_policy;
	if (dog_exec(&hdr, buf, &rsp))
		return SD_RES_NETWORK_ERROR;
	return (int)rsp.result;
}

static int notify_vdi_add(const struct farm_trunk_entry *e)
{
	struct sd_req hdr;
	struct sd_rsp rsp;

	dog_init_req(&hdr, SD_OP_NOTIFY_VDI_ADD);
	hdr.vdi_state.new_vid = oid_to_vid(e->oid);
	hdr.vdi_state.copies = e->nr_copies;
	hdr.vdi_state.copy_policy = e->copy_policy;
	hdr.vdi_state.block_size_shift = e->block_size_shift;
	hdr.vdi_state.set_bitmap = 1;
	if (dog_exec(&hdr, NULL, &rsp))
		return -1;
	if (rsp.result != SD_RES_SUCCESS) {
		dog_err("%s", sd_strerror(rsp.result));
		return -1;
	}
	return 0;
}

/* a fresh cluster with the farm's redundancy, as `cluster format` makes it */
static int format_for_load(const struct farm_log_hdr *fh)
{
	uint8_t *bitmap = xzalloc(SD_VDI_BITMAP_SIZE);
	char store[SD_MAX_STORE_NAME] = "plain";
	struct sd_req hdr;
	struct sd_rsp rsp;
	bool empty = true;

	dog_init_req(&hdr, SD_OP_READ_VDIS);
	hdr.data_length = SD_VDI_BITMAP_SIZE;
	if (dog_exec(&hdr, bitmap, &rsp) == 0 && rsp.result == SD_RES_SUCCESS)
		for (size_t i = 0; i < SD_VDI_BITMAP_SIZE && empty; i++)
			empty = !bitmap[i];
	free(bitmap);
	if (!empty && !dog_confirm("    __\n   ()'`;\n   /\\|`\n"
				   "  /  |   Caution! The cluster is not empty.\n"
				   "(/_)_|_  Are you sure you want to continue? [yes/no]: "))
		exit(EXIT_SUCCESS);	/* Sheepdog's confirm(): "no" ends dog, 0 */
	dog_init_req(&hdr, SD_OP_MAKE_FS);
	hdr.flags = SD_FLAG_CMD_WRITE;
	hdr.data_length = (uint32_t)strlen(store) + 1;
	hdr.cluster.copies = fh->copy_number ? fh->copy_number : SD_DEFAULT_COPIES;
	hdr.cluster.copy_policy = fh->copy_policy;
	hdr.cluster.ctime = now_ctime();
	hdr.cluster.block_size_shift = fh->block_size_shift ? fh->block_size_shift :
				       SD_DEFAULT_BLOCK_SIZE_SHIFT;
	/* the strategy the nodes run (Sheepdog's load: auto, and refused on -V nodes) */
	if (dog_vnodes_auto())
		hdr.cluster.flags |= SD_CLUSTER_FLAG_AUTO_VNODES;
	printf("using backend %s store\n", store);
	if (dog_exec(&hdr, store, &rsp))
		return -1;
	if (rsp.result != SD_RES_SUCCESS) {
		dog_err("Format failed: %s", sd_strerror(rsp.result));
		return -1;
	}
	return 0;
}

struct active {
	char name[SD_MAX_VDI_LEN];
	uint32_t vid, snap_id;
	uint64_t size;
	uint8_t copies, policy, bss;
};

static int farm_load(const char *tag, int argc, char **argv)
{
	struct farm_log_hdr fh;
	struct farm_snap_log *logs = NULL;
	struct farm_trunk_entry *e = NULL;
	struct active *act = NULL;
	uint8_t sha1[SHA1_LEN], *want = NULL, *registered = xzalloc(SD_VDI_BITMAP_SIZE);
	size_t nr = 0, nr_act = 0;
	int nr_logs, ret = -1;

	if (find_trunk(tag, sha1)) {
		dog_err("Snapshot index or tag does not exist.");
		goto out;
	}
	if (log_read(&fh, &logs, &nr_logs) || !nr_logs)
		goto out;
	e = trunk_read(sha1, &nr);
	if (!e)
		goto out;
	/* with names: the objects of those VDIs' inodes (and of deleted ones) */
	if (argc) {
		bool any = false;

		want = xzalloc(nr + 1);
		for (size_t i = 0; i < nr; i++) {
			struct sd_inode *inode;

			if (!is_vdi_obj(e[i].oid))
				continue;
			inode = inode_read(&e[i], SD_INODE_HEADER_SIZE + SD_INODE_INDEX_SIZE);
			if (!inode)
				goto out;
			if (!inode->name[0] || name_wanted(inode->name, argc, argv)) {
				for (size_t j = 0; j < nr; j++) {
					uint32_t idx = (uint32_t)(e[j].oid & (SD_INODE_DATA_INDEX - 1));

					if (j == i || (is_data_obj(e[j].oid) &&
						       idx < SD_INODE_DATA_INDEX &&
						       inode->data_vdi_id[idx] == oid_to_vid(e[j].oid)))
						want[j] = 1;
				}
				any = true;
			}
			free(inode);
		}
		if (!any) {
			dog_err("Objects of specified VDIs are not found in local cluster "
				"snapshot storage.");
			goto out;
		}
	}
	/*
	 * every file there and intact before the cluster is wiped (Sheepdog's
	 * dog formats first and stops half-way on a damaged file)
	 */
	for (size_t i = 0; i < nr; i++) {
		size_t len;
		void *buf;

		if (want && !want[i])
			continue;
		buf = slices_read(e[i].sha1, &len);
		if (!buf) {
			dog_err("The farm is damaged (object %016" PRIx64 "): nothing was loaded",
				e[i].oid);
			goto out;
		}
		free(buf);
	}
	if (format_for_load(&fh))
		goto out;
	for (size_t i = 0; i < nr; i++) {
		uint32_t vid = oid_to_vid(e[i].oid);
		size_t len;
		void *buf;
		int r;

		if (want && !want[i])
			continue;
		buf = slices_read(e[i].sha1, &len);
		if (!buf)
			goto fail_obj;
		if (!(registered[vid >> 3] & (1u << (vid & 7)))) {
			if (notify_vdi_add(&e[i])) {
				free(buf);
				goto fail_obj;
			}
			registered[vid >> 3] |= (uint8_t)(1u << (vid & 7));
		}
		r = write_whole(&e[i], buf, (uint32_t)len);
		if (r) {
			dog_err("Failed to write object %016" PRIx64 ": %s", e[i].oid,
				sd_strerror((uint32_t)r));
			free(buf);
			goto fail_obj;
		}
		/* the newest snapshot of each name gets the working VDI */
		if (is_vdi_obj(e[i].oid) && len >= SD_INODE_HEADER_SIZE) {
			const struct sd_inode *inode = buf;
			size_t k;

			for (k = 0; k < nr_act; k++)
				if (!strncmp(act[k].name, inode->name, SD_MAX_VDI_LEN))
					break;
			if (k == nr_act) {
				act = xrealloc(act, sizeof(*act) * (nr_act + 1));
				memset(&act[k], 0, sizeof(act[k]));
				memcpy(act[k].name, inode->name, SD_MAX_VDI_LEN - 1);
				nr_act++;
			} else if (act[k].snap_id >= inode->snap_id) {
				k = SIZE_MAX;
			}
			if (k != SIZE_MAX) {
				act[k].vid = inode->vdi_id;
				act[k].snap_id = inode->snap_id;
				act[k].size = inode->vdi_size;
				act[k].copies = inode->nr_copies;
				act[k].policy = inode->copy_policy;
				act[k].bss = inode->block_size_shift;
			}
		}
		free(buf);
		continue;
fail_obj:
		dog_err("Fail to load object, oid %016" PRIx64, e[i].oid);
		goto out;
	}
	for (size_t k = 0; k < nr_act; k++) {
		char name[SD_MAX_VDI_LEN] = { 0 };
		struct sd_req hdr;
		struct sd_rsp rsp;

		if (!act[k].name[0])
			continue;	/* a deleted VDI's inode: no working VDI */
		memcpy(name, act[k].name, sizeof(name) - 1);
		dog_init_req(&hdr, SD_OP_NEW_VDI);
		hdr.flags = SD_FLAG_CMD_WRITE;
		hdr.data_length = sizeof(name);
		hdr.vdi.vdi_size = act[k].size;
		hdr.vdi.base_vdi_id = act[k].vid;
		hdr.vdi.copies = act[k].copies;
		hdr.vdi.copy_policy = act[k].policy;
		hdr.vdi.block_size_shift = act[k].bss;
		if (dog_exec(&hdr, name, &rsp))
			goto out;
		if (rsp.result != SD_RES_SUCCESS) {
			dog_err("Failed to create VDI %s: %s", name, sd_strerror(rsp.result));
			goto out;
		}
	}
	ret = 0;
out:
	free(logs);
	free(e);
	free(act);
	free(want);
	free(registered);
	return ret ? EXIT_SYSFAIL : EXIT_SUCCESS;
}

/* "cluster snapshot save|list|load|show [-m] <tag|idx> <path> [vdi...]" */
int dog_farm_main(int argc, char **argv)
{
	const char *op = argc ? argv[0] : "";
	int ret;

	if (!strcmp(op, "list")) {
		if (argc < 2)
			return EXIT_USAGE;
		if (farm_init(argv[1]))
			ret = EXIT_SYSFAIL;
		else
			ret = farm_list();
		if (ret)
			dog_err("Fail to list snapshot.");
		return ret;
	}
	if (!argc)
		return EXIT_USAGE;
	if (strcmp(op, "save") && strcmp(op, "load") && strcmp(op, "show")) {
		dog_usage_stderr();	/* Sheepdog: an unknown one is a failure, not 64 */
		return EXIT_FAILURE;
	}
	if (argc < 2)
		return EXIT_USAGE;
	if (argc < 3) {
		dog_err("Please specify the path to %s snapshot.", strcmp(op, "show") ? "save" :
			"show");
		return EXIT_USAGE;
	}
	if (farm_init(argv[2])) {
		ret = EXIT_SYSFAIL;
	} else if (!strcmp(op, "save")) {
		ret = farm_save(argv[1], argc - 3, argv + 3);
		if (ret == EXIT_USAGE)
			return ret;
	} else if (!strcmp(op, "load")) {
		ret = farm_load(argv[1], argc - 3, argv + 3);
	} else {
		ret = farm_show(argv[1], argc - 3, argv + 3);
	}
	if (ret && !strcmp(op, "save"))
		dog_err("Fail to save snapshot to path: %s.", argv[2]);
	else if (ret)
		dog_err("Fail to %s snapshot", op);
	return ret;
}
