/*
 * dog_vdi.c - `dog vdi ...`: create, list, delete, read, write, resize.
 * Reads and writes go object by object exactly as Sheepdog's dog does:
 * CREATE_AND_WRITE for a new object followed by an update of the inode's
 * data_vdi_id entry, WRITE for an object the VDI already owns.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dog.h"
#include "inode_index.h"
#include "net.h"
#include "ring.h"

static int check_name(const char *name)
{
	if (!name[0] || strlen(name) >= SD_MAX_VDI_LEN) {
		dog_err("Invalid VDI name '%s': 1-%d characters", name, SD_MAX_VDI_LEN - 1);
		return -1;
	}
	return 0;
}

int dog_open_vdi(const char *name, uint32_t *vid)
{
	const char *tag = NULL;
	uint64_t snapid = 0;
	uint32_t result;

	if (check_name(name))
		return EXIT_USAGE;
	if (dog_opts.snapshot && parse_uint(dog_opts.snapshot, UINT32_MAX, &snapid))
		tag = dog_opts.snapshot;
	if (dog_find_vdi(name, tag, (uint32_t)snapid, vid, &result) == 0)
		return EXIT_SUCCESS;
	if (result == SD_RES_NETWORK_ERROR)
		return EXIT_SYSFAIL;
	/* Sheepdog's words, which scripts grep for */
	dog_err("Failed to open VDI %s (snapshot id: %u snapshot tag: %s): %s", name,
		(uint32_t)snapid, tag ? tag : "", sd_strerror(result));
	return EXIT_FAILURE;
}

static void size_hint(void)
{
	dog_err("You may use B, K, M, G, T or P suffixes for bytes, kilobytes, megabytes, "
		"gigabytes, terabytes and petabytes.");
}



static int vdi_create(int argc, char **argv)
{
	char name[SD_MAX_VDI_LEN] = { 0 };
	struct sd_req hdr;
	struct sd_rsp rsp;
	uint64_t size;
	uint32_t vid;
	int ret;

	if (argc < 2) {
		if (argc)
			dog_err("Please specify the VDI size");
		return EXIT_USAGE;
	}
	if (argc > 2)
		return EXIT_USAGE;
	if (check_name(argv[0]))
		return EXIT_USAGE;
	if (parse_size(argv[1], &size) || size == 0) {
		dog_err("Invalid size '%s'", argv[1]);
		size_hint();
		return EXIT_USAGE;
	}
	/* more copies than nodes is allowed, as in Sheepdog: placement takes min(copies, zones) */
	if (dog_opts.hyper && dog_opts.bss > 0) {
		dog_err("Don't specify both -y and -z options, please");
		return EXIT_FAILURE;
	}
	if (size > SD_OLD_MAX_VDI_SIZE && !dog_opts.hyper) {
		char max[32], hyper_max[32];

		dog_err("VDI size is larger than %s bytes, please use '-y' to create a hyper "
			"volume with size up to %s bytes or use '-z' to create larger object "
			"size volume", size_to_str(SD_OLD_MAX_VDI_SIZE, max, sizeof(max)),
			size_to_str(SD_MAX_VDI_SIZE, hyper_max, sizeof(hyper_max)));
		return EXIT_USAGE;
	}
	if (size > SD_MAX_VDI_SIZE) {
		dog_err("VDI size is too large");
		return EXIT_USAGE;
	}
	strncpy(name, argv[0], sizeof(name) - 1);
	dog_init_req(&hdr, SD_OP_NEW_VDI);
	hdr.flags = SD_FLAG_CMD_WRITE;
	hdr.data_length = sizeof(name);
	hdr.vdi.vdi_size = size;
	hdr.vdi.copies = (uint8_t)(dog_opts.copies > 0 ? dog_opts.copies : 0);
	hdr.vdi.block_size_shift = (uint8_t)(dog_opts.bss > 0 ? dog_opts.bss : 0);
	if (dog_opts.hyper) {	/* a B-tree index; 4 MiB objects, as Sheepdog's dog forces */
		hdr.vdi.store_policy = 1;
		hdr.vdi.block_size_shift = SD_DEFAULT_BLOCK_SIZE_SHIFT;
	}
	ret = dog_call(&hdr, name, &rsp, "create VDI %s", name);
	if (ret)
		return ret;
	vid = rsp.vdi.vdi_id;
	if (dog_opts.prealloc) {
		uint32_t objsize = UINT32_C(1) << rsp.vdi.block_size_shift;
		uint64_t nr = DIV_ROUND_UP(size, objsize);
		struct sd_inode *inode = NULL;

		if (dog_opts.hyper) {
			inode = xmalloc(SD_INODE_HEADER_SIZE + SD_INODE_INDEX_SIZE);
			if (dog_read_inode(vid, inode, SD_INODE_HEADER_SIZE + SD_INODE_INDEX_SIZE)) {
				free(inode);
				return EXIT_FAILURE;
			}
		}
		for (uint64_t i = 0; i < nr; i++) {
			int r = dog_write_object(vid_to_data_oid(vid, (uint32_t)i), 0, NULL, 0, 0, true);

			if (!r)
				r = inode ? dog_inode_set_vid(inode, (uint32_t)i, vid) :
				    dog_write_index(vid, (uint32_t)i, 1, &vid);
			if (r)
				free(inode);
			if (r) {
				dog_err("Failed to preallocate object %" PRIu64 " of %s: %s", i, name,
					sd_strerror((uint32_t)r));
				return result_to_exit((uint32_t)r);
			}
		}
		free(inode);
	}
	if (dog_opts.verbose)	/* Sheepdog's -v line */
		printf(dog_opts.raw ? "%x\n" : "VDI ID of newly created VDI: %x\n", vid);
	return EXIT_SUCCESS;
}

/* Sheepdog's dog's batch of index entries zeroed per write (-B) */
#define RECLAIM_BATCH	128

/*
 * Zero the flat index of vid (inode read with its index) as Sheepdog's dog
 * does before DEL_VDI, so that its sheep drops the objects' references (ours
 * reclaims them the same way): -B entries per write, -I seconds between
 * writes, at most -m entries.  A hyper volume's B-tree is DEL_VDI's to walk.
 */
static int zero_index(uint32_t vid, struct sd_inode *inode)
{
	uint32_t batch = dog_opts.reclaim_batch ? (uint32_t)dog_opts.reclaim_batch : RECLAIM_BATCH;
	uint32_t max = (uint32_t)dog_opts.reclaim_max, done = 0, i = 0, *idx = inode->data_vdi_id;
	uint64_t nr = MIN(dog_inode_nr_objs(inode), (uint64_t)SD_INODE_DATA_INDEX);

	if (inode->store_policy)
		return EXIT_SUCCESS;
	while (i < nr && !(max && done >= max)) {
		uint32_t first, last, filled = 0;

		while (i < nr && !idx[i])
			i++;
		if (i == nr)
			break;
		first = last = i;
		for (; i < nr && filled < batch && !(max && done >= max); i++) {
			if (!idx[i])
				continue;
			idx[i] = 0;
			last = i;
			filled++;
			done++;
		}
		if (dog_write_index(vid, first, last - first + 1, idx + first)) {
			dog_err("failed to update inode for discarding objects: %016" PRIx64,
				vid_to_vdi_oid(vid));
			return EXIT_FAILURE;
		}
		while (i < nr && !idx[i])
			i++;
		if (i < nr && dog_opts.reclaim_interval && !(max && done >= max))
			sleep((unsigned int)dog_opts.reclaim_interval);
	}
	return EXIT_SUCCESS;
}

int dog_delete_vdi(const char *name, uint32_t snapid, const char *tag)
{
	char buf[SD_MAX_VDI_LEN + SD_MAX_VDI_TAG_LEN] = { 0 };
	struct sd_inode *inode;
	struct sd_req hdr;
	struct sd_rsp rsp;
	uint32_t vid, result;
	int ret;

	/*
	 * Sheepdog's messages; its dog means EXIT_MISSING for a missing VDI
	 * (and 1 for other failures) but exits 0 (a slip in its do_vdi_delete)
	 */
	if (dog_find_vdi(name, tag, snapid, &vid, &result)) {
		if (result == SD_RES_NETWORK_ERROR)
			return EXIT_SYSFAIL;
		dog_err("Failed to open VDI %s (snapshot id: %" PRIu32 " snapshot tag: %s): %s",
			name, snapid, tag ? tag : "", sd_strerror(result));
		return result == SD_RES_NO_VDI || result == SD_RES_NO_TAG ? EXIT_MISSING :
									  EXIT_FAILURE;
	}
	inode = xmalloc(SD_INODE_HEADER_SIZE + SD_INODE_INDEX_SIZE);
	ret = dog_read_object(vid_to_vdi_oid(vid), inode, SD_INODE_HEADER_SIZE + SD_INODE_INDEX_SIZE,
			  0);
	if (ret) {
		dog_err("failed to read inode object: %016" PRIx64, vid_to_vdi_oid(vid));
		free(inode);
		return ret == SD_RES_NETWORK_ERROR ? EXIT_SYSFAIL : EXIT_FAILURE;
	}
	ret = zero_index(vid, inode);
	free(inode);
	if (ret || dog_opts.reclaim_max)
		return ret;	/* -m: the VDI stays, with what is left of its index */
	strncpy(buf, name, SD_MAX_VDI_LEN - 1);
	if (tag)
		strncpy(buf + SD_MAX_VDI_LEN, tag, SD_MAX_VDI_TAG_LEN - 1);
	dog_init_req(&hdr, SD_OP_DEL_VDI);
	hdr.flags = SD_FLAG_CMD_WRITE;
	hdr.data_length = sizeof(buf);
	hdr.vdi.snapid = snapid;
	ret = dog_call(&hdr, buf, &rsp, "delete %s", name);
	return ret == EXIT_FAILURE && rsp.result == SD_RES_NO_VDI ? EXIT_MISSING : ret;
}

static int vdi_delete(int argc, char **argv)
{
	uint64_t snapid = 0;

	if (argc < 1)
		return EXIT_USAGE;
	if (check_name(argv[0]))
		return EXIT_USAGE;
	if (dog_opts.snapshot && parse_uint(dog_opts.snapshot, UINT32_MAX, &snapid))
		snapid = 0;
	return dog_delete_vdi(argv[0], (uint32_t)snapid, snapid ? NULL : dog_opts.snapshot);
}

static int count_owned(uint32_t idx, uint32_t owner, void *arg)
{
	uint64_t *n = arg;

	(void)idx;
	if (owner == n[0])
		n[1]++;
	return 0;
}

static int count_all(uint32_t idx, uint32_t owner, void *arg)
{
	(void)idx;
	(void)owner;
	(*(uint64_t *)arg)++;
	return 0;
}

/*
 * vdi list's header goes out with its first row, or at the end: after any
 * connection error, in program order, as Sheepdog's buffered stdout shows
 * it whatever the C library buffers
 */
static void list_header(void)
{
	static bool done;

	if (!done && !dog_opts.raw)
		printf("  Name        Id    Size    Used  Shared    Creation time   VDI id  Copies"
		       "  Tag   Block Size Shift\n");
	done = true;
}

static void print_vdi(uint32_t vid, const struct sd_inode *inode, void *arg)
{
	const char *filter = arg;
	uint64_t used = 0, shared = 0, objsize;
	char s1[32], s2[32], s3[32], tbuf[64], copies[8];
	time_t ct = (time_t)(inode->create_time >> 32);
	struct tm tm;
	char kind = inode->snap_ctime ? 's' :
		    (inode->snap_id == 1 && inode->parent_vdi_id ? 'c' : ' ');

	if (filter && strncmp(inode->name, filter, SD_MAX_VDI_LEN))
		return;
	list_header();
	objsize = UINT64_C(1) << (inode->block_size_shift ? inode->block_size_shift :
				  SD_DEFAULT_BLOCK_SIZE_SHIFT);
	if (inode_is_hyper(inode)) {
		uint64_t n[2] = { vid, 0 };	/* the VDI; then its own objects, in n[1] */
		uint64_t all = 0;

		dog_inode_walk(inode, count_owned, n);
		dog_inode_walk(inode, count_all, &all);
		used = n[1] * objsize;
		shared = (all - n[1]) * objsize;
	} else {
		uint32_t nr_objs = (uint32_t)MIN(DIV_ROUND_UP(inode->vdi_size, objsize),
						 SD_INODE_DATA_INDEX);

		for (uint32_t i = 0; i < nr_objs; i++) {
			if (!inode->data_vdi_id[i])
				continue;
			if (inode->data_vdi_id[i] == vid)
				used += objsize;
			else
				shared += objsize;
		}
	}
	snprintf(copies, sizeof(copies), "%u", inode->nr_copies);
	dog_size_str(inode->vdi_size, s1, sizeof(s1));
	dog_size_str(used, s2, sizeof(s2));
	dog_size_str(shared, s3, sizeof(s3));
	if (dog_opts.raw) {
		/* machine-readable: epoch seconds, names with blanks escaped */
		printf("%c ", kind == ' ' ? '=' : kind);
		for (const char *p = inode->name; *p; p++) {
			if (*p == ' ' || *p == '\t' || *p == '\\')
				putchar('\\');
			putchar(*p);
		}
		printf(" %u %s %s %s %" PRIu64 " %" PRIx32 " %s %s %u\n",
		       inode->snap_ctime ? inode->snap_id : 0, s1, s2, s3, (uint64_t)ct, vid,
		       copies, inode->tag, inode->block_size_shift);
		return;
	}
	localtime_r(&ct, &tm);
	strftime(tbuf, sizeof(tbuf), "%Y-%m-%d %H:%M", &tm);
	printf("%c %-8s %5u %7s %7s %7s %s  %7" PRIx32 " %6s %13s %3u\n", kind, inode->name,
	       inode->snap_ctime ? inode->snap_id : 0, s1, s2, s3, tbuf, vid, copies, inode->tag,
	       inode->block_size_shift);
}

static int vdi_list(int argc, char **argv)
{
	int ret;

	if (argc > 1)
		return EXIT_USAGE;
	ret = dog_for_each_vdi(print_vdi, argc ? argv[0] : NULL);
	list_header();
	return ret ? EXIT_SYSFAIL : EXIT_SUCCESS;
}

/*
 * parse [OFFSET [LEN]] against the VDI size as Sheepdog's dog does: an
 * offset past the end is an error, a length past the end is clamped.
 */
static int parse_range(int argc, char **argv, uint64_t vdi_size, const char *what,
		       uint64_t *off, uint64_t *len, bool *len_given)
{
	*off = 0;
	*len = 0;
	*len_given = false;
	if (argc > 0 && parse_size(argv[0], off)) {
		dog_err("Invalid size '%s'", argv[0]);
		size_hint();
		return EXIT_USAGE;
	}
	if (argc > 1) {
		if (parse_size(argv[1], len)) {
			dog_err("Invalid size '%s'", argv[1]);
			size_hint();
			return EXIT_USAGE;
		}
		*len_given = true;
	}
	if (*off > vdi_size) {
		dog_err("%s offset is beyond the end of the VDI", what);
		return EXIT_FAILURE;
	}
	if (!*len_given || *len > vdi_size - *off)
		*len = vdi_size - *off;
	return 0;
}

static int vdi_read(int argc, char **argv)
{
	struct sd_inode *inode = xmalloc(SD_INODE_HEADER_SIZE + SD_INODE_INDEX_SIZE);
	uint64_t off, len, objsize;
	bool len_given;
	char *buf = NULL;
	uint32_t vid;
	int ret;

	if (argc < 1 || argc > 3) {
		ret = EXIT_USAGE;
		goto out;
	}
	ret = dog_open_vdi(argv[0], &vid);
	if (ret)
		goto out;
	if (dog_read_inode(vid, inode, SD_INODE_HEADER_SIZE + SD_INODE_INDEX_SIZE)) {
		ret = EXIT_SYSFAIL;
		goto out;
	}
	ret = parse_range(argc - 1, argv + 1, inode->vdi_size, "Read", &off, &len, &len_given);
	if (ret)
		goto out;
	objsize = UINT64_C(1) << inode->block_size_shift;
	buf = xmalloc(objsize);
	while (len) {
		uint32_t idx = (uint32_t)(off / objsize), o = (uint32_t)(off % objsize);
		uint32_t n = (uint32_t)MIN(len, objsize - o);
		uint32_t owner = dog_inode_get_vid(inode, idx);

		if (owner) {
			uint64_t oid = vid_to_data_oid(owner, idx);
			int r = dog_read_object(oid, buf, n, o);

			if (r) {
				/* Sheepdog's two lines (no colon in the first, as its dog) */
				if (r != SD_RES_NETWORK_ERROR)
					dog_err("Failed to read object %016" PRIx64 " %s", oid,
						sd_strerror((uint32_t)r));
				dog_err("Failed to read VDI");
				ret = r == SD_RES_NETWORK_ERROR ? EXIT_SYSFAIL : EXIT_FAILURE;
				goto out;
			}
		} else {
			memset(buf, 0, n);
		}
		if (xwrite_full(STDOUT_FILENO, buf, n)) {
			dog_err("Failed to write to stdout: %s", strerror(errno));
			ret = EXIT_SYSFAIL;
			goto out;
		}
		off += n;
		len -= n;
	}
out:
	free(buf);
	free(inode);
	return ret;
}

/* read up to len bytes from stdin; returns bytes read (short at EOF) or -1 */
static ssize_t read_stdin(char *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = read(STDIN_FILENO, buf + done, len - done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

static int vdi_write(int argc, char **argv)
{
	struct sd_inode *inode = xmalloc(SD_INODE_HEADER_SIZE + SD_INODE_INDEX_SIZE);
	uint64_t off, len, objsize;
	bool len_given;
	char *buf = NULL;
	uint32_t vid;
	int ret;

	if (argc < 1 || argc > 3) {
		ret = EXIT_USAGE;
		goto out;
	}
	ret = dog_open_vdi(argv[0], &vid);
	if (ret)
		goto out;
	if (dog_read_inode(vid, inode, SD_INODE_HEADER_SIZE + SD_INODE_INDEX_SIZE)) {
		ret = EXIT_SYSFAIL;
		goto out;
	}
	ret = parse_range(argc - 1, argv + 1, inode->vdi_size, "Write", &off, &len, &len_given);
	if (ret)
		goto out;
	objsize = UINT64_C(1) << inode->block_size_shift;
	buf = xmalloc(objsize);
	while (len) {
		uint32_t idx = (uint32_t)(off / objsize), o = (uint32_t)(off % objsize);
		uint32_t want = (uint32_t)MIN(len, objsize - o);
		uint32_t owner = dog_inode_get_vid(inode, idx);
		ssize_t n = read_stdin(buf, want);
		uint64_t oid = vid_to_data_oid(vid, idx);
		int r;

		if (n < 0) {
			dog_err("Failed to read from stdin: %s", strerror(errno));
			ret = EXIT_SYSFAIL;
			goto out;
		}
		/*
		 * input that ends early: as Sheepdog's dog, zeros to the end of
		 * this piece (at most the rest of the object), which is the last
		 */
		if ((uint32_t)n < want) {
			memset(buf + n, 0, want - (uint32_t)n);
			len = want;
		}
		if (owner == vid) {
			r = dog_write_object(oid, 0, buf, want, o, false);
		} else {
			uint64_t cow = owner ? vid_to_data_oid(owner, idx) : 0;

			r = dog_write_object(oid, cow, buf, want, o, true);
			if (!r) {
				r = dog_inode_set_vid(inode, idx, vid);
				if (r)
					oid = vid_to_vdi_oid(vid);
			}
		}
		if (r) {
			/* Sheepdog's two lines; its dog then exits 0, we exit 1 */
			if (r != SD_RES_NETWORK_ERROR)
				dog_err("Failed to write object %016" PRIx64 ": %s", oid,
					sd_strerror((uint32_t)r));
			dog_err("Failed to write VDI");
			ret = r == SD_RES_NETWORK_ERROR ? EXIT_SYSFAIL : EXIT_FAILURE;
			goto out;
		}
		off += want;
		len -= want;
	}
out:
	free(buf);
	free(inode);
	return ret;
}

static int vdi_resize(int argc, char **argv)
{
	struct sd_inode *inode = xmalloc(SD_INODE_HEADER_SIZE);
	uint64_t size;
	uint32_t vid;
	int ret, r;

	if (argc < 2) {
		if (argc)
			dog_err("Please specify the new size for the VDI");
		ret = EXIT_USAGE;
		goto out;
	}
	if (parse_size(argv[1], &size) || size == 0) {
		dog_err("Invalid size '%s'", argv[1]);
		size_hint();
		ret = EXIT_USAGE;
		goto out;
	}
	ret = dog_open_vdi(argv[0], &vid);
	if (ret)
		goto out;
	if (dog_read_inode(vid, inode, SD_INODE_HEADER_SIZE)) {
		ret = EXIT_SYSFAIL;
		goto out;
	}
	if (size < inode->vdi_size) {
		dog_err("Shrinking VDIs is not implemented");
		ret = EXIT_USAGE;
		goto out;
	}
	if (size > (inode_is_hyper(inode) ? SD_MAX_VDI_SIZE : SD_OLD_MAX_VDI_SIZE)) {
		dog_err("New VDI size is too large. This volume's max size is %" PRIu64,
			inode_is_hyper(inode) ? SD_MAX_VDI_SIZE : SD_OLD_MAX_VDI_SIZE);
		ret = EXIT_USAGE;
		goto out;
	}
	r = dog_write_object(vid_to_vdi_oid(vid), 0, &size, sizeof(size),
			 (uint32_t)offsetof(struct sd_inode, vdi_size), false);
	if (r) {
		dog_err("Failed to update an inode header: %s", sd_strerror((uint32_t)r));
		ret = result_to_exit((uint32_t)r);
	}
out:
	free(inode);
	return ret;
}

/* where the ring puts oid, as Sheepdog's dog prints it */
static void print_expected_location(const struct sd_node *nodes, int nr, uint64_t oid,
				    int copies)
{
	struct ring *r;
	int picked[SD_MAX_COPIES], n;

	if (nr < copies) {
		printf("\nBecause number of nodes (%d) is less than number of copies (%d), the "
		       "object should be located at every nodes.\n", nr, copies);
		return;
	}
	printf("\nAccording to sheepdog algorithm, the object should be located at:\n");
	r = ring_build(nodes, nr, 0);
	n = ring_pick_nodes(r, oid, MIN(copies, SD_MAX_COPIES), picked);
	for (int i = 0; i < n; i++) {
		char name[64];

		node_id_to_str(&r->nodes[picked[i]].nid, name, sizeof(name));
		printf(i < n - 1 ? "%s " : "%s", name);
	}
	printf("\n");
	ring_free(r);
}

/* which members hold oid: Sheepdog's "vdi object location" lines */
static int print_obj_location(uint64_t oid, int copies)
{
	struct sd_node *nodes;
	int nr = dog_node_list(&nodes), ret = EXIT_SUCCESS;

	if (nr < 0) {
		free(nodes);
		return EXIT_SYSFAIL;
	}
	for (int i = 0; i < nr; i++) {
		struct sd_req hdr;
		struct sd_rsp rsp;
		char name[64];

		node_id_to_str(&nodes[i].nid, name, sizeof(name));
		dog_init_req(&hdr, SD_OP_EXIST);
		hdr.obj.oid = oid;
		if (dog_exec_node(&nodes[i].nid, &hdr, NULL, &rsp)) {
			ret = EXIT_SYSFAIL;
			continue;
		}
		if (rsp.result == SD_RES_SUCCESS) {
			printf("%s has the object\n", name);
		} else if (rsp.result == SD_RES_NO_OBJ) {
			printf("%s doesn't have the object\n", name);
		} else if (rsp.result == SD_RES_OLD_NODE_VER || rsp.result == SD_RES_NEW_NODE_VER) {
			dog_err("The node list has changed: please try again");
			ret = EXIT_FAILURE;
		} else {
			dog_err("%s: hit an unexpected error (%s)", name, sd_strerror(rsp.result));
			ret = EXIT_FAILURE;
		}
	}
	print_expected_location(nodes, nr, oid, copies);
	free(nodes);
	return ret;
}

static int object_location(const char *name)
{
	struct sd_inode *inode = xmalloc(SD_INODE_HEADER_SIZE + SD_INODE_INDEX_SIZE);
	uint32_t vid, idx = dog_opts.index;
	int ret, nr;
	struct sd_node *nodes;

	ret = dog_open_vdi(name, &vid);
	if (!ret && dog_read_inode(vid, inode, SD_INODE_HEADER_SIZE + SD_INODE_INDEX_SIZE))
		ret = EXIT_SYSFAIL;
	if (ret) {
		dog_err("FATAL: no inode objects");
		goto out;
	}
	nr = dog_node_list(&nodes);
	free(nodes);
	if (nr < 0) {
		ret = EXIT_SYSFAIL;
		goto out;
	}
	if (!dog_opts.index_set) {
		printf("Looking for the inode object 0x%" PRIx32 " with %d nodes\n\n", vid, nr);
		ret = print_obj_location(vid_to_vdi_oid(vid), inode->nr_copies);
	} else if (idx >= SD_INODE_DATA_INDEX && !inode_is_hyper(inode)) {
		printf("The offset is too large!\n");
		ret = EXIT_FAILURE;
	} else if (dog_inode_get_vid(inode, idx)) {
		uint64_t oid = vid_to_data_oid(dog_inode_get_vid(inode, idx), idx);

		printf("Looking for the object %016" PRIx64 " (vid 0x%" PRIx32 " idx %" PRIu32
		       ", %u copies) with %d nodes\n\n", oid, vid, idx, inode->nr_copies, nr);
		ret = print_obj_location(oid, inode->nr_copies);
	} else {
		printf("The inode object 0x%" PRIx32 " idx %" PRIu32 " is not allocated\n", vid,
		       idx);
	}
out:
	free(inode);
	return ret;
}

static int print_map_entry(uint32_t idx, uint32_t owner, void *arg)
{
	(void)arg;
	printf("%08" PRIu32 " %8" PRIx32 "\n", idx, owner);
	return 0;
}

/* the allocated indexes and the VDI that owns each */
static int object_map(const char *name)
{
	struct sd_inode *inode = xmalloc(SD_INODE_HEADER_SIZE + SD_INODE_INDEX_SIZE);
	uint32_t vid;
	int ret;

	ret = dog_open_vdi(name, &vid);
	if (!ret && dog_read_inode(vid, inode, SD_INODE_HEADER_SIZE + SD_INODE_INDEX_SIZE))
		ret = EXIT_SYSFAIL;
	if (ret) {
		dog_err("FATAL: %s not found", name);
	} else if (dog_opts.index_set) {
		uint32_t i = dog_opts.index;

		printf("Index       VID\n");
		printf("%08" PRIu32 " %8" PRIx32 "\n", i,
		       i < SD_INODE_DATA_INDEX ? inode->data_vdi_id[i] : 0);
	} else {
		printf("Index       VID\n");
		if (dog_inode_walk(inode, print_map_entry, NULL))
			ret = EXIT_FAILURE;
	}
	free(inode);
	return ret;
}

/* "vdi object [location|map] <vdi>": location when no subcommand is named */
static int vdi_object(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[0], "location"))
		return object_location(argv[1]);
	if (argc == 2 && !strcmp(argv[0], "map"))
		return object_map(argv[1]);
	if (argc == 2 && !strcmp(argv[0], "dump-inode"))
		return vdi_dump_inode(argv[1]);
	if (argc == 1 && (!strcmp(argv[0], "location") || !strcmp(argv[0], "map") ||
			  !strcmp(argv[0], "dump-inode"))) {
		/* a subcommand without its operand: Sheepdog's usage of it */
		printf("Usage: dog vdi object %s [-i index] [-s snapshot] [-a address] [-p port] "
		       "[-h] [-T] <vdiname>\n"
		       "Options:\n"
		       "  -i, --index             specify the index of data objects\n"
		       "  -s, --snapshot          specify a snapshot id or tag name\n"
		       "  -a, --address           specify the daemon address (default: localhost)\n"
		       "  -p, --port              specify the daemon port\n"
		       "  -h, --help              display this help and exit\n"
		       "  -T, --time              show elapsed time\n", argv[0]);
		exit(EXIT_USAGE);	/* its usage only, not the whole command's */
	}
	if (argc == 2) {
		dog_usage_stderr();	/* Sheepdog: an unknown subcommand fails with 1 */
		return EXIT_FAILURE;
	}
	if (argc != 1)
		return EXIT_USAGE;
	return object_location(argv[0]);
}

/* open name (honouring -s) and read its inode header */
static int open_vdi_header(const char *name, uint32_t *vid, struct sd_inode *inode)
{
	int ret = dog_open_vdi(name, vid);

	if (ret)
		return ret;
	return dog_read_inode(*vid, inode, SD_INODE_HEADER_SIZE) ? EXIT_SYSFAIL : EXIT_SUCCESS;
}

int dog_new_vdi(const char *name, uint64_t size, uint32_t base, bool snapshot,
		const struct sd_inode *like, uint32_t *vid)
{
	char buf[SD_MAX_VDI_LEN] = { 0 };
	struct sd_req hdr;
	struct sd_rsp rsp;

	strncpy(buf, name, sizeof(buf) - 1);
	dog_init_req(&hdr, SD_OP_NEW_VDI);
	hdr.flags = SD_FLAG_CMD_WRITE;
	hdr.data_length = sizeof(buf);
	hdr.vdi.vdi_size = size;
	hdr.vdi.base_vdi_id = base;
	hdr.vdi.snapid = snapshot ? 1 : 0;
	if (like) {
		hdr.vdi.copies = like->nr_copies;
		hdr.vdi.copy_policy = like->copy_policy;
		hdr.vdi.store_policy = like->store_policy;
		hdr.vdi.block_size_shift = like->block_size_shift;
	}
	if (dog_exec(&hdr, buf, &rsp))
		return SD_RES_NETWORK_ERROR;
	if (rsp.result == SD_RES_SUCCESS && vid)
		*vid = rsp.vdi.vdi_id;
	return (int)rsp.result;
}

static int own_object(uint32_t idx, uint32_t owner, void *arg)
{
	(void)idx;
	return owner == *(uint32_t *)arg;
}

/* snapshot -R: 1 if the working VDI vid owns no object yet, 0 if it does, -1 error */
static int has_own_objects(uint32_t vid)
{
	struct sd_inode *inode = xmalloc(SD_INODE_HEADER_SIZE + SD_INODE_INDEX_SIZE);
	int ret = -1;

	if (!dog_read_inode(vid, inode, SD_INODE_HEADER_SIZE + SD_INODE_INDEX_SIZE)) {
		ret = dog_inode_walk(inode, own_object, &vid);
		ret = ret < 0 ? -1 : !ret;
	}
	free(inode);
	return ret;
}

static int vdi_snapshot(int argc, char **argv)
{
	struct sd_inode *inode = xmalloc(SD_INODE_HEADER_SIZE);
	char tag[SD_MAX_VDI_TAG_LEN] = { 0 };
	const char *want = dog_opts.snapshot;
	uint32_t vid, other, result, new_vid = 0;
	int ret = EXIT_SUCCESS, r;

	if (argc != 1) {
		ret = EXIT_USAGE;
		goto out;
	}
	dog_opts.snapshot = NULL;	/* -s names the new snapshot, not the one to open */
	if (want && !parse_uint(want, UINT32_MAX, &(uint64_t){ 0 })) {
		dog_err("Please specify a non-integer value for a snapshot tag name");
		ret = EXIT_USAGE;
		goto out;
	}
	if (check_name(argv[0])) {
		ret = EXIT_USAGE;
		goto out;
	}
	if (dog_find_vdi(argv[0], NULL, 0, &vid, &result)) {
		if (result == SD_RES_NETWORK_ERROR) {
			ret = EXIT_SYSFAIL;
			goto out;
		}
		dog_err("Failed to create snapshot for %s: %s", argv[0], sd_strerror(result));
		ret = EXIT_FAILURE;
		goto out;
	}
	if (dog_read_inode(vid, inode, SD_INODE_HEADER_SIZE)) {
		ret = EXIT_SYSFAIL;
		goto out;
	}
	if (want) {
		if (strlen(want) >= SD_MAX_VDI_TAG_LEN) {
			dog_err("Snapshot tag is too long: at most %d characters",
				SD_MAX_VDI_TAG_LEN - 1);
			ret = EXIT_USAGE;
			goto out;
		}
		if (dog_find_vdi(argv[0], want, 0, &other, &result) == 0) {
			dog_err("Failed to create snapshot for %s, maybe snapshot id (0) or tag "
				"(%s) is existed", argv[0], want);
			ret = EXIT_FAILURE;
			goto out;
		}
		strncpy(tag, want, sizeof(tag) - 1);
	}
	if (inode->store_policy) {
		dog_err("creating a snapshot of hypervolume is not supported");
		ret = EXIT_FAILURE;
		goto out;
	}
	if (dog_opts.reduce) {
		ret = has_own_objects(vid);
		if (ret > 0) {
			/* silent unless -v, as Sheepdog's */
			if (dog_opts.verbose)
				dog_err("VDI %s doesn't have its own objects, skipping creation "
					"of snapshot", argv[0]);
			ret = EXIT_SUCCESS;
			goto out;
		}
		if (ret < 0) {
			ret = EXIT_SYSFAIL;
			goto out;
		}
	}
	/* the tag goes into the working inode, which becomes the snapshot */
	r = dog_write_object(vid_to_vdi_oid(vid), 0, tag, sizeof(tag),
			 (uint32_t)offsetof(struct sd_inode, tag), false);
	if (!r)
		r = dog_new_vdi(argv[0], inode->vdi_size, vid, true, NULL, &new_vid);
	if (r) {
		dog_err("Failed to create snapshot for %s: %s", argv[0], sd_strerror((uint32_t)r));
		ret = result_to_exit((uint32_t)r);
	} else if (dog_opts.verbose) {
		printf(dog_opts.raw ? "%x %x\n" : "new VID of original VDI: %x, VDI ID of newly "
		       "created snapshot: %x\n", new_vid, vid);
	}
out:
	free(inode);
	return ret;
}

/*
 * clone -P / -n, as Sheepdog's dog: the clone gets its own copy of every
 * object the snapshot has (-P also a zero object where it has none), so
 * it shares nothing that the copy covers
 */
static int clone_copy_objects(const struct sd_inode *src, uint32_t new_vid, bool prealloc)
{
	uint32_t objsize = UINT32_C(1) << src->block_size_shift;
	uint32_t nr = (uint32_t)MIN(DIV_ROUND_UP(src->vdi_size, objsize), SD_INODE_DATA_INDEX);
	char *buf = xmalloc(objsize);
	int r = 0;

	for (uint32_t idx = 0; idx < nr && !r; idx++) {
		uint32_t len = 0;

		if (src->data_vdi_id[idx]) {
			r = dog_read_object(vid_to_data_oid(src->data_vdi_id[idx], idx), buf, objsize, 0);
			len = objsize;
		} else if (!prealloc) {
			continue;
		}
		if (!r)
			r = dog_write_object(vid_to_data_oid(new_vid, idx), 0, buf, len, 0, true);
		if (!r)
			r = dog_write_index(new_vid, idx, 1, &new_vid);
	}
	free(buf);
	return r;
}

static int vdi_clone(int argc, char **argv)
{
	struct sd_inode *inode = xmalloc(SD_INODE_HEADER_SIZE + SD_INODE_INDEX_SIZE);
	uint32_t vid, new_vid;
	int ret, r;

	if (argc != 2) {
		if (argc == 1)
			dog_err("Destination VDI name must be specified");
		ret = EXIT_USAGE;
		goto out;
	}
	if (check_name(argv[1])) {
		ret = EXIT_USAGE;
		goto out;
	}
	if (!dog_opts.snapshot) {
		dog_err("Only snapshot VDIs can be cloned");
		dog_err("Please specify the '-s' option");
		ret = EXIT_USAGE;
		goto out;
	}
	ret = dog_open_vdi(argv[0], &vid);
	if (ret)
		goto out;
	if (dog_read_inode(vid, inode, SD_INODE_HEADER_SIZE + SD_INODE_INDEX_SIZE)) {
		ret = EXIT_SYSFAIL;
		goto out;
	}
	if (!inode->snap_ctime) {
		dog_err("Only snapshot VDIs can be cloned");
		dog_err("Please specify the '-s' option");
		ret = EXIT_USAGE;
		goto out;
	}
	if (dog_opts.no_share) {
		char name[SD_MAX_VDI_LEN] = { 0 };
		struct sd_req hdr;
		struct sd_rsp rsp;

		/* -n: a VDI of its own (no parent), with the snapshot's copies and size */
		strncpy(name, argv[1], sizeof(name) - 1);
		dog_init_req(&hdr, SD_OP_NEW_VDI);
		hdr.flags = SD_FLAG_CMD_WRITE;
		hdr.data_length = sizeof(name);
		hdr.vdi.vdi_size = inode->vdi_size;
		hdr.vdi.copies = inode->nr_copies;
		hdr.vdi.copy_policy = inode->copy_policy;
		hdr.vdi.block_size_shift = inode->block_size_shift;
		r = dog_exec(&hdr, name, &rsp) ? SD_RES_NETWORK_ERROR : (int)rsp.result;
		new_vid = rsp.vdi.vdi_id;
	} else {
		r = dog_new_vdi(argv[1], inode->vdi_size, vid, false, NULL, &new_vid);
	}
	if (!r && (dog_opts.prealloc || dog_opts.no_share)) {
		r = clone_copy_objects(inode, new_vid, dog_opts.prealloc);
		if (r) {
			dog_err("Failed to copy the objects of %s to %s: %s", argv[0], argv[1],
				sd_strerror((uint32_t)r));
			ret = r == SD_RES_NETWORK_ERROR ? EXIT_SYSFAIL : EXIT_FAILURE;
			goto out;
		}
	}
	if (r) {
		dog_err("Failed to create VDI %s: %s", argv[1], sd_strerror((uint32_t)r));
		ret = r == SD_RES_NETWORK_ERROR ? EXIT_SYSFAIL : result_to_exit((uint32_t)r);
	} else if (dog_opts.verbose) {
		printf(dog_opts.raw ? "%x\n" : "VDI ID of newly created clone: %x\n", new_vid);
	}
out:
	free(inode);
	return ret;
}

static int vdi_rollback(int argc, char **argv)
{
	struct sd_inode *inode = xmalloc(SD_INODE_HEADER_SIZE);
	uint32_t snap, cur, result, new_vid = 0;
	int ret, r;

	if (argc != 1) {
		ret = EXIT_USAGE;
		goto out;
	}
	if (!dog_opts.snapshot) {
		dog_err("Please specify the '-s' option");
		ret = EXIT_USAGE;
		goto out;
	}
	ret = open_vdi_header(argv[0], &snap, inode);
	if (ret)
		goto out;
	if (!dog_opts.force &&
	    !dog_confirm("This operation discards any changes made since the previous\n"
			 "snapshot was taken.  Continue? [yes/no]: ")) {
		ret = EXIT_SUCCESS;
		goto out;
	}
	/* drop the working VDI (if the name has one), then a new one that starts as the snapshot */
	if (dog_find_vdi(argv[0], NULL, 0, &cur, &result) == 0) {
		ret = dog_delete_vdi(argv[0], 0, NULL);
	} else if (result == SD_RES_NETWORK_ERROR) {
		ret = EXIT_SYSFAIL;
	} else if (result != SD_RES_NO_VDI) {
		dog_err("Failed to delete %s: %s", argv[0], sd_strerror(result));
		ret = EXIT_FAILURE;
	}
	if (ret == EXIT_SYSFAIL)
		goto out;
	if (ret) {
		dog_err("Failed to delete the current state");
		ret = EXIT_FAILURE;
		goto out;
	}
	r = dog_new_vdi(argv[0], inode->vdi_size, snap, false, NULL, &new_vid);
	if (r) {
		dog_err("Failed to roll back %s: %s", argv[0], sd_strerror((uint32_t)r));
		ret = result_to_exit((uint32_t)r);
	} else if (dog_opts.verbose) {
		printf(dog_opts.raw ? "%x\n" : "New VDI ID of rollbacked VDI: %x\n", new_vid);
	}
out:
	free(inode);
	return ret;
}

/* vdi tree: every family as a tree of snapshots and clones */
struct tree_node {
	uint32_t vid, parent;
	char name[SD_MAX_VDI_LEN];
	char label[64];
	int first_child, next_sibling;
};

struct tree {
	struct tree_node *n;
	int nr;
};

static void collect_tree(uint32_t vid, const struct sd_inode *inode, void *arg)
{
	struct tree *t = arg;
	struct tree_node *n;

	t->n = xrealloc(t->n, sizeof(*t->n) * (size_t)(t->nr + 1));
	n = &t->n[t->nr++];
	memset(n, 0, sizeof(*n));
	n->vid = vid;
	n->parent = inode->parent_vdi_id;
	memcpy(n->name, inode->name, sizeof(n->name) - 1);
	n->first_child = n->next_sibling = -1;
	if (inode->snap_ctime) {
		time_t ti = (time_t)(inode->create_time >> 32);
		struct tm tm;

		localtime_r(&ti, &tm);
		strftime(n->label, sizeof(n->label), "[%Y-%m-%d %H:%M]", &tm);
	} else {
		snprintf(n->label, sizeof(n->label), "(you are here)");
	}
}

/* print node i at column col; prefix holds the continuation bars */
static void print_tree(const struct tree *t, int i, const char *parent_name, char *prefix,
		       size_t plen)
{
	const struct tree_node *n = &t->n[i];
	char text[SD_MAX_VDI_LEN + 80];
	size_t base = strlen(prefix), width;
	int c;

	if (!parent_name || strcmp(parent_name, n->name))
		snprintf(text, sizeof(text), "%s---%s", n->name, n->label);
	else
		snprintf(text, sizeof(text), "%s", n->label);
	fputs(text, stdout);
	if (n->first_child < 0) {
		putchar('\n');
		return;
	}
	width = strlen(text);
	c = n->first_child;
	if (t->n[c].next_sibling < 0) {
		fputs("---", stdout);
		if (base + width + 3 < plen) {
			memset(prefix + base, ' ', width + 3);
			prefix[base + width + 3] = '\0';
		}
		print_tree(t, c, n->name, prefix, plen);
		prefix[base] = '\0';
		return;
	}
	for (bool first = true; c >= 0; c = t->n[c].next_sibling, first = false) {
		bool last = t->n[c].next_sibling < 0;

		if (!first)
			printf("%s%*s", prefix, (int)width, "");
		fputs(first ? "-+-" : last ? " `-" : " |-", stdout);
		if (base + width + 3 < plen) {
			memset(prefix + base, ' ', width + 3);
			if (!last)
				prefix[base + width + 1] = '|';
			prefix[base + width + 3] = '\0';
		}
		print_tree(t, c, n->name, prefix, plen);
		prefix[base] = '\0';
	}
}

static int vdi_tree(int argc, char **argv)
{
	struct tree t = { 0 };
	char prefix[4096] = "";

	(void)argv;
	if (argc > 0)
		return EXIT_USAGE;
	if (dog_for_each_vdi(collect_tree, &t))
		return EXIT_SYSFAIL;
	/* children in vid order, under their parent */
	for (int i = t.nr - 1; i >= 0; i--) {
		for (int p = 0; p < t.nr; p++) {
			if (t.n[i].parent && t.n[p].vid == t.n[i].parent) {
				t.n[i].next_sibling = t.n[p].first_child;
				t.n[p].first_child = i;
				break;
			}
		}
	}
	for (int i = 0; i < t.nr; i++) {
		bool has_parent = false;

		for (int p = 0; p < t.nr && !has_parent; p++)
			has_parent = t.n[i].parent && t.n[p].vid == t.n[i].parent;
		if (!has_parent)
			print_tree(&t, i, NULL, prefix, sizeof(prefix));
	}
	free(t.n);
	return EXIT_SUCCESS;
}

/*
 * The cluster's VDI locks into e (room for max), from the VDI states (GET_VDI_COPIES),
 * which both our sheep and Sheepdog's serve: the count, or -1 (the sheep refused) /
 * -2 (not reached), the message printed.
 */
static int get_vdi_locks(struct vdi_lock_entry *e, int max)
{
	uint32_t len = 512 * sizeof(struct sd_vdi_state);
	struct sd_vdi_state *vs = NULL;
	struct sd_req hdr;
	struct sd_rsp rsp;
	int n = 0;

	for (;;) {
		vs = xrealloc(vs, len);
		dog_init_req(&hdr, SD_OP_GET_VDI_COPIES);
		hdr.data_length = len;
		if (dog_exec(&hdr, vs, &rsp)) {
			free(vs);
			return -2;
		}
		if (rsp.result != SD_RES_BUFFER_SMALL || len > SD_MAX_PAYLOAD / 2)
			break;
		len *= 2;
	}
	if (rsp.result != SD_RES_SUCCESS) {
		dog_err("Failed to get the VDI locks: %s", sd_strerror(rsp.result));
		free(vs);
		return -1;
	}
	for (uint32_t i = 0; i < rsp.data_length / sizeof(*vs); i++) {
		if (vs[i].lock_state == LOCK_STATE_LOCKED && n < max)
			e[n++] = (struct vdi_lock_entry){ vs[i].vid, LOCK_TYPE_NORMAL,
							  vs[i].lock_owner };
		for (uint32_t j = 0; vs[i].lock_state == LOCK_STATE_SHARED &&
				     j < vs[i].nr_participants && j < SD_MAX_COPIES && n < max; j++)
			e[n++] = (struct vdi_lock_entry){ vs[i].vid, LOCK_TYPE_SHARED,
							  vs[i].participants[j] };
	}
	free(vs);
	return n;
}

/*
 * "vdi lock unlock": every holder of vid's lock releases it.  A release counts
 * for the node that receives it, so each goes to its holder's node.
 */
static int unlock_vdi(const char *name, uint32_t vid)
{
	int max = 4096, nr, found = 0, ret = EXIT_SUCCESS;
	struct vdi_lock_entry *e = xmalloc(sizeof(*e) * (size_t)max);

	nr = get_vdi_locks(e, max);
	if (nr < 0) {
		free(e);
		return nr == -2 ? EXIT_SYSFAIL : EXIT_FAILURE;
	}
	for (int i = 0; i < nr; i++) {
		struct sd_req hdr;
		struct sd_rsp rsp;

		if (e[i].vid != vid)
			continue;
		found++;
		dog_init_req(&hdr, SD_OP_RELEASE_VDI);
		hdr.vdi.base_vdi_id = vid;
		hdr.vdi.type = e[i].type;
		if (dog_exec_node(&e[i].owner, &hdr, NULL, &rsp)) {
			ret = EXIT_SYSFAIL;
		} else if (rsp.result != SD_RES_SUCCESS) {
			dog_err("Failed to unlock %s: %s", name, sd_strerror(rsp.result));
			ret = EXIT_FAILURE;
		}
	}
	free(e);
	if (!found) {
		dog_err("VDI %s is not locked", name);
		return EXIT_FAILURE;
	}
	return ret;
}

/* "vdi lock list" / "vdi lock unlock <vdi>" */
static int vdi_lock(int argc, char **argv)
{
	/* Sheepdog's table; -r (ours) one line per holder: name, holder, type */
	if (argc == 1 && !strcmp(argv[0], "list") && !dog_opts.raw)
		return vdi_lock_list();
	if (argc == 1 && !strcmp(argv[0], "list")) {
		size_t len = 1 << 20;
		struct vdi_lock_entry *e = xmalloc(len);
		struct sd_inode *inode = xmalloc(SD_INODE_HEADER_SIZE);
		int nr = get_vdi_locks(e, (int)(len / sizeof(*e)));
		int ret = nr == -2 ? EXIT_SYSFAIL : nr < 0 ? EXIT_FAILURE : EXIT_SUCCESS;

		for (int i = 0; !ret && i < nr; i++) {
			char owner[64];

			node_id_to_str(&e[i].owner, owner, sizeof(owner));
			if (dog_read_inode(e[i].vid, inode, SD_INODE_HEADER_SIZE))
				snprintf(inode->name, sizeof(inode->name), "%06x", e[i].vid);
			printf("%s %s %s\n", inode->name, owner,
			       e[i].type == LOCK_TYPE_SHARED ? "shared" : "exclusive");
		}
		free(e);
		free(inode);
		return ret;
	}
	if (argc == 2 && !strcmp(argv[0], "unlock")) {
		uint64_t snapid = 0;
		uint32_t vid, result;
		const char *tag = NULL;
		char desc[SD_MAX_VDI_LEN + SD_MAX_VDI_TAG_LEN + 64];

		if (dog_opts.snapshot && parse_uint(dog_opts.snapshot, UINT32_MAX, &snapid))
			tag = dog_opts.snapshot;
		if (check_name(argv[1]))
			return EXIT_USAGE;
		/* Sheepdog's description of the VDI: name, snapshot id or tag, vid */
		if (snapid)
			snprintf(desc, sizeof(desc), "%s (snapid=%" PRIu64, argv[1], snapid);
		else if (tag)
			snprintf(desc, sizeof(desc), "%s (tag=%s", argv[1], tag);
		else
			snprintf(desc, sizeof(desc), "%s (", argv[1]);
		if (dog_find_vdi(argv[1], tag, (uint32_t)snapid, &vid, &result)) {
			if (result == SD_RES_NETWORK_ERROR)
				return EXIT_SYSFAIL;
			desc[strlen(desc) - (snapid || tag ? 0 : 2)] = '\0';
			dog_err("Failed to find VDI %s%s: %s", desc, snapid || tag ? ")" : "",
				sd_strerror(result));
			return EXIT_FAILURE;
		}
		snprintf(desc + strlen(desc), sizeof(desc) - strlen(desc), "%svid=%" PRIx32 ")",
			 snapid || tag ? ", " : "", vid);
		return unlock_vdi(desc, vid);
	}
	if (argc && strcmp(argv[0], "list") && strcmp(argv[0], "unlock")) {
		dog_usage_stderr();	/* Sheepdog: an unknown subcommand fails with 1 */
		return EXIT_FAILURE;
	}
	return EXIT_USAGE;
}

/* GET_VDI_ATTR for vdi/key with flags; the attribute's oid in *oid */
static int attr_request(const char *vdi, const char *key, const void *value, uint32_t vlen,
			uint16_t flags, uint64_t *oid)
{
	struct sheepdog_vdi_attr *a = xzalloc(sizeof(*a));
	struct sd_req hdr;
	struct sd_rsp rsp;
	uint64_t snapid = 0;
	int ret;

	strncpy(a->name, vdi, sizeof(a->name) - 1);
	if (dog_opts.snapshot && parse_uint(dog_opts.snapshot, UINT32_MAX, &snapid))
		strncpy(a->tag, dog_opts.snapshot, sizeof(a->tag) - 1);
	a->snap_id = (uint32_t)snapid;
	strncpy(a->key, key, sizeof(a->key) - 1);
	if (vlen)
		memcpy(a->value, value, vlen);
	a->value_len = vlen;
	dog_init_req(&hdr, SD_OP_GET_VDI_ATTR);
	hdr.flags = SD_FLAG_CMD_WRITE | flags;
	hdr.data_length = SD_VDI_ATTR_HEADER + vlen;
	hdr.vdi.snapid = (uint32_t)snapid;
	ret = dog_exec(&hdr, a, &rsp) ? SD_RES_NETWORK_ERROR : (int)rsp.result;
	if (!ret)
		*oid = VDI_ATTR_BIT | ((uint64_t)rsp.vdi.vdi_id << 32) | rsp.vdi.attr_id;
	free(a);
	return ret;
}

/* Sheepdog's texts and exits; "set" says which command failed */
static int attr_error(const char *key, int r, bool set)
{
	if (r == SD_RES_NETWORK_ERROR)
		return EXIT_SYSFAIL;
	if (r == SD_RES_NO_OBJ) {
		dog_err("Attribute '%s' not found", key);
		return EXIT_MISSING;
	}
	if (r == SD_RES_VDI_EXIST) {
		dog_err("The attribute '%s' already exists", key);
		return EXIT_EXISTS;
	}
	if (r == SD_RES_NO_VDI) {
		dog_err("VDI not found");
		return EXIT_MISSING;
	}
	if (set) {
		dog_err("Failed to set attribute: %s", sd_strerror((uint32_t)r));
		return EXIT_FAILURE;
	}
	dog_err("Failed to find attribute oid: %s", sd_strerror((uint32_t)r));
	return EXIT_MISSING;
}

static int vdi_setattr(int argc, char **argv)
{
	char *value = NULL;
	size_t vlen = 0;
	uint64_t oid;
	uint16_t flags;
	int r;

	if (argc < 2 || argc > 3) {
		if (argc == 1)
			dog_err("Please specify the attribute key");
		return EXIT_USAGE;
	}
	if (check_name(argv[0]))
		return EXIT_USAGE;
	if (strlen(argv[1]) >= SD_MAX_VDI_ATTR_KEY_LEN || !argv[1][0]) {
		dog_err("Invalid key '%s': 1-%d characters", argv[1], SD_MAX_VDI_ATTR_KEY_LEN - 1);
		return EXIT_USAGE;
	}
	if (dog_opts.del) {
		flags = SD_FLAG_CMD_DEL;	/* a value given with -d is ignored, as Sheepdog does */
	} else {
		flags = SD_FLAG_CMD_CREAT | (dog_opts.exclusive ? SD_FLAG_CMD_EXCL : 0);
		value = xmalloc(SD_MAX_VDI_ATTR_VALUE_LEN + 1);
		if (argc == 3) {
			vlen = strlen(argv[2]);
			if (vlen > SD_MAX_VDI_ATTR_VALUE_LEN) {
				dog_err("Value is too big: at most %d bytes",
					SD_MAX_VDI_ATTR_VALUE_LEN);
				free(value);
				return EXIT_USAGE;
			}
			memcpy(value, argv[2], vlen);
		} else {
			vlen = fread(value, 1, SD_MAX_VDI_ATTR_VALUE_LEN + 1, stdin);
			if (vlen > SD_MAX_VDI_ATTR_VALUE_LEN) {
				dog_err("Value is too big: at most %d bytes",
					SD_MAX_VDI_ATTR_VALUE_LEN);
				free(value);
				return EXIT_USAGE;
			}
		}
	}
	r = attr_request(argv[0], argv[1], value, (uint32_t)vlen, flags, &oid);
	free(value);
	return r ? attr_error(argv[1], r, true) : EXIT_SUCCESS;
}

static int vdi_getattr(int argc, char **argv)
{
	struct sheepdog_vdi_attr *a;
	uint64_t oid;
	int r;

	if (argc != 2) {
		if (argc == 1)
			dog_err("Please specify the attribute key");
		return EXIT_USAGE;
	}
	if (check_name(argv[0]))
		return EXIT_USAGE;
	r = attr_request(argv[0], argv[1], NULL, 0, 0, &oid);
	if (r)
		return attr_error(argv[1], r, false);
	a = xmalloc(sizeof(*a));
	r = dog_read_object(oid, a, sizeof(*a), 0);
	if (!r && a->value_len <= SD_MAX_VDI_ATTR_VALUE_LEN)
		fwrite(a->value, 1, a->value_len, stdout);
	free(a);
	if (r == SD_RES_NETWORK_ERROR)
		return EXIT_SYSFAIL;
	if (r) {
		dog_err("Failed to read attribute oid: %s", sd_strerror((uint32_t)r));
		return EXIT_SYSFAIL;
	}
	return EXIT_SUCCESS;
}

static const struct subcommand vdi_subs[] = {
	{ "create", "[-P] [-c copies] [-z bss] <vdiname> <size>", "Pc:z:y",
	  "create an image", vdi_create },
	{ "delete", "[-s snapshot] <vdiname>", "s:B:I:m:", "delete an image", vdi_delete },
	{ "list", "[vdiname]", "r", "list images", vdi_list },
	{ "read", "[-s snapshot] <vdiname> [<offset> [<len>]]", "s:",
	  "read data from an image", vdi_read },
	{ "write", "<vdiname> [<offset> [<len>]]", "w", "write data to an image", vdi_write },
	{ "resize", "<vdiname> <new size>", "", "resize an image", vdi_resize },
	{ "snapshot", "[-s snapshot] [-R] [-v] <vdiname>", "s:Rvr", "create a snapshot",
	  vdi_snapshot },
	{ "clone", "[-s snapshot] <src vdi> <dst vdi>", "s:Pn", "clone an image", vdi_clone },
	{ "rollback", "-s snapshot [-f] <vdiname>", "s:fB:I:", "roll back to a snapshot",
	  vdi_rollback },
	{ "tree", "", "", "show images in tree view format", vdi_tree },
	{ "graph", "", "", "show images in Graphviz dot format", vdi_graph },
	{ "track", "[-i index] [-o oid] [-s snapshot] <vdiname>", "i:o:s:",
	  "show the object epoch trace in the image", vdi_track },
	{ "alter-copy", "[-c copies] [-f] <vdiname>", "c:f", "set the vdi's redundancy level",
	  vdi_alter_copy },
	{ "setattr", "[-d] [-x] [-s snapshot] <vdiname> <key> [value]", "dxs:",
	  "set a VDI attribute (value from stdin if omitted)", vdi_setattr },
	{ "getattr", "[-s snapshot] <vdiname> <key>", "s:", "get a VDI attribute", vdi_getattr },
	{ "lock", "{list|unlock} [-s snapshot] [<vdiname>]", "s:r", "show or break VDI locks",
	  vdi_lock },
	{ "object", "[location|map] [-i index] [-s snapshot] <vdiname>", "i:s:",
	  "show where an object lives", vdi_object },
	{ "check", "[-s snapshot] [-e] <vdiname>", "s:e", "check and repair image's consistency",
	  vdi_check },
	{ "backup", "-F from -s snapshot <vdiname>", "s:F:",
	  "create an incremental backup between two snapshots and outputs to STDOUT",
	  vdi_backup },
	{ "restore", "-s snapshot <vdiname>", "s:B:I:",
	  "restore snapshot images from a backup provided in STDIN", vdi_restore },
	{ NULL, NULL, NULL, NULL, NULL },
};

const struct command vdi_command = { "vdi", vdi_subs, "Sheepdog VDI commands" };
