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
#include "net.h"

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
	dog_err("Cannot get VDI info for %s%s%s: %s", name, dog_opts.snapshot ? " " : "",
		dog_opts.snapshot ? dog_opts.snapshot : "", sd_strerror(result));
	dog_err("Failed to open VDI %s", name);
	return EXIT_FAILURE;
}

static int write_object(uint64_t oid, uint64_t cow_oid, const void *buf, uint32_t len,
			uint32_t off, bool create)
{
	struct sd_req hdr;
	struct sd_rsp rsp;

	dog_init_req(&hdr, create ? SD_OP_CREATE_AND_WRITE_OBJ : SD_OP_WRITE_OBJ);
	hdr.flags = SD_FLAG_CMD_WRITE | (cow_oid ? SD_FLAG_CMD_COW : 0);
	hdr.data_length = len;
	hdr.obj.oid = oid;
	hdr.obj.cow_oid = cow_oid;
	hdr.obj.offset = off;
	if (dog_exec(&hdr, (void *)buf, &rsp))
		return SD_RES_NETWORK_ERROR;
	return (int)rsp.result;
}

static int read_object(uint64_t oid, void *buf, uint32_t len, uint32_t off)
{
	struct sd_req hdr;
	struct sd_rsp rsp;

	dog_init_req(&hdr, SD_OP_READ_OBJ);
	hdr.data_length = len;
	hdr.obj.oid = oid;
	hdr.obj.offset = off;
	if (dog_exec(&hdr, buf, &rsp))
		return SD_RES_NETWORK_ERROR;
	if (rsp.result == SD_RES_SUCCESS && rsp.data_length < len)
		memset((char *)buf + rsp.data_length, 0, len - rsp.data_length);
	return (int)rsp.result;
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
		dog_err(argc ? "Please specify the VDI size" : "Please specify the VDI name");
		return EXIT_USAGE;
	}
	if (argc > 2)
		return EXIT_USAGE;
	if (check_name(argv[0]))
		return EXIT_USAGE;
	if (parse_size(argv[1], &size) || size == 0) {
		dog_err("Invalid size '%s'", argv[1]);
		dog_err("You may use k, M, G or T suffixes for kilobytes, megabytes, gigabytes "
			"and terabytes.");
		return EXIT_USAGE;
	}
	if (dog_opts.copies > 0) {
		struct sd_node *nodes;
		int nr = dog_node_list(&nodes);

		free(nodes);
		if (nr < 0)
			return EXIT_SYSFAIL;
		if (dog_opts.copies > nr) {
			dog_err("There are not enough nodes(%d) to hold the copies(%d)", nr,
				dog_opts.copies);
			return EXIT_USAGE;
		}
	}
	if (dog_opts.hyper) {
		dog_err("Hyper volumes (-y) are not supported yet");
		return EXIT_USAGE;
	}
	if (size > SD_OLD_MAX_VDI_SIZE) {
		dog_err("VDI size is larger than %" PRIu64 " bytes, please use '-y' to create "
			"a hyper volume with size up to %" PRIu64 " bytes",
			SD_OLD_MAX_VDI_SIZE, (uint64_t)SD_DATA_OBJ_SIZE << 32);
		return EXIT_USAGE;
	}
	strncpy(name, argv[0], sizeof(name) - 1);
	dog_init_req(&hdr, SD_OP_NEW_VDI);
	hdr.flags = SD_FLAG_CMD_WRITE;
	hdr.data_length = sizeof(name);
	hdr.vdi.vdi_size = size;
	hdr.vdi.copies = (uint8_t)(dog_opts.copies > 0 ? dog_opts.copies : 0);
	hdr.vdi.block_size_shift = (uint8_t)(dog_opts.bss > 0 ? dog_opts.bss : 0);
	ret = dog_call(&hdr, name, &rsp, "create VDI %s", name);
	if (ret)
		return ret;
	vid = rsp.vdi.vdi_id;
	if (dog_opts.prealloc) {
		uint32_t objsize = UINT32_C(1) << rsp.vdi.block_size_shift;
		uint64_t nr = DIV_ROUND_UP(size, objsize);

		for (uint64_t i = 0; i < nr; i++) {
			int r = write_object(vid_to_data_oid(vid, (uint32_t)i), 0, NULL, 0, 0, true);

			if (!r)
				r = dog_write_index(vid, (uint32_t)i, 1, &vid);
			if (r) {
				dog_err("Failed to preallocate object %" PRIu64 " of %s: %s", i, name,
					sd_strerror((uint32_t)r));
				return result_to_exit((uint32_t)r);
			}
		}
	}
	return EXIT_SUCCESS;
}

static int vdi_delete(int argc, char **argv)
{
	char buf[SD_MAX_VDI_LEN + SD_MAX_VDI_TAG_LEN] = { 0 };
	struct sd_req hdr;
	struct sd_rsp rsp;
	uint64_t snapid = 0;

	if (argc != 1)
		return argc ? EXIT_USAGE : (dog_err("Please specify the VDI name"), EXIT_USAGE);
	if (check_name(argv[0]))
		return EXIT_USAGE;
	strncpy(buf, argv[0], SD_MAX_VDI_LEN - 1);
	if (dog_opts.snapshot && parse_uint(dog_opts.snapshot, UINT32_MAX, &snapid))
		strncpy(buf + SD_MAX_VDI_LEN, dog_opts.snapshot, SD_MAX_VDI_TAG_LEN - 1);
	dog_init_req(&hdr, SD_OP_DEL_VDI);
	hdr.flags = SD_FLAG_CMD_WRITE;
	hdr.data_length = sizeof(buf);
	hdr.vdi.snapid = (uint32_t)snapid;
	return dog_call(&hdr, buf, &rsp, "delete %s", argv[0]);
}

static void print_vdi(uint32_t vid, const struct sd_inode *inode, void *arg)
{
	const char *filter = arg;
	uint64_t used = 0, shared = 0, objsize;
	uint32_t nr_objs;
	char s1[32], s2[32], s3[32], tbuf[64], copies[8];
	time_t ct = (time_t)(inode->create_time >> 32);
	struct tm tm;
	char kind = inode->snap_ctime ? 's' :
		    (inode->snap_id == 1 && inode->parent_vdi_id ? 'c' : ' ');

	if (filter && strncmp(inode->name, filter, SD_MAX_VDI_LEN))
		return;
	objsize = UINT64_C(1) << (inode->block_size_shift ? inode->block_size_shift :
				  SD_DEFAULT_BLOCK_SIZE_SHIFT);
	nr_objs = (uint32_t)MIN(DIV_ROUND_UP(inode->vdi_size, objsize), SD_INODE_DATA_INDEX);
	for (uint32_t i = 0; i < nr_objs; i++) {
		if (!inode->data_vdi_id[i])
			continue;
		if (inode->data_vdi_id[i] == vid)
			used += objsize;
		else
			shared += objsize;
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
	if (argc > 1)
		return EXIT_USAGE;
	if (!dog_opts.raw)
		printf("  Name        Id    Size    Used  Shared    Creation time   VDI id  Copies"
		       "  Tag   Block Size Shift\n");
	if (dog_for_each_vdi(print_vdi, argc ? argv[0] : NULL))
		return EXIT_SYSFAIL;
	return EXIT_SUCCESS;
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
		dog_err("Invalid offset '%s'", argv[0]);
		return EXIT_USAGE;
	}
	if (argc > 1) {
		if (parse_size(argv[1], len)) {
			dog_err("Invalid length '%s'", argv[1]);
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
		uint32_t owner = inode->data_vdi_id[idx];

		if (owner) {
			int r = read_object(vid_to_data_oid(owner, idx), buf, n, o);

			if (r) {
				dog_err("Failed to read VDI %s at %" PRIu64 ": %s", argv[0], off,
					sd_strerror((uint32_t)r));
				ret = result_to_exit((uint32_t)r);
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
		uint32_t want = (uint32_t)MIN(len, objsize - o), owner = inode->data_vdi_id[idx];
		ssize_t n = read_stdin(buf, want);
		int r;

		if (n < 0) {
			dog_err("Failed to read from stdin: %s", strerror(errno));
			ret = EXIT_SYSFAIL;
			goto out;
		}
		if (n == 0) {
			if (len_given) {
				dog_err("Input ended %" PRIu64 " bytes short of the length given", len);
				ret = EXIT_FAILURE;
			}
			goto out;
		}
		if (owner == vid) {
			r = write_object(vid_to_data_oid(vid, idx), 0, buf, (uint32_t)n, o, false);
		} else {
			uint64_t cow = owner ? vid_to_data_oid(owner, idx) : 0;

			r = write_object(vid_to_data_oid(vid, idx), cow, buf, (uint32_t)n, o, true);
			if (!r)
				r = dog_write_index(vid, idx, 1, &vid);
			if (!r)
				inode->data_vdi_id[idx] = vid;
		}
		if (r) {
			dog_err("Failed to write VDI %s at %" PRIu64 ": %s", argv[0], off,
				sd_strerror((uint32_t)r));
			ret = result_to_exit((uint32_t)r);
			goto out;
		}
		off += (uint64_t)n;
		len -= (uint64_t)n;
		if ((uint32_t)n < want) {
			if (len_given) {
				dog_err("Input ended %" PRIu64 " bytes short of the length given", len);
				ret = EXIT_FAILURE;
			}
			goto out;
		}
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

	if (argc != 2) {
		ret = EXIT_USAGE;
		goto out;
	}
	if (parse_size(argv[1], &size) || size == 0) {
		dog_err("Invalid size '%s'", argv[1]);
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
	if (size > SD_OLD_MAX_VDI_SIZE) {
		dog_err("New VDI size is too large. This volume's max size is %" PRIu64,
			SD_OLD_MAX_VDI_SIZE);
		ret = EXIT_USAGE;
		goto out;
	}
	r = write_object(vid_to_vdi_oid(vid), 0, &size, sizeof(size),
			 (uint32_t)offsetof(struct sd_inode, vdi_size), false);
	if (r) {
		dog_err("Failed to update an inode header: %s", sd_strerror((uint32_t)r));
		ret = result_to_exit((uint32_t)r);
	}
out:
	free(inode);
	return ret;
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
			printf("%s has the object (should be %d copies)\n", name, copies);
		} else if (rsp.result == SD_RES_NO_OBJ) {
			printf("%s doesn't have the object\n", name);
		} else {
			dog_err("%s: hit an unexpected error (%s)", name, sd_strerror(rsp.result));
			ret = EXIT_FAILURE;
		}
	}
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
	if (ret)
		goto out;
	if (dog_read_inode(vid, inode, SD_INODE_HEADER_SIZE + SD_INODE_INDEX_SIZE)) {
		ret = EXIT_SYSFAIL;
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
	} else if (idx >= SD_INODE_DATA_INDEX) {
		dog_err("The index %" PRIu32 " is out of range (0-%" PRIu32 ")", idx,
			SD_INODE_DATA_INDEX - 1);
		ret = EXIT_USAGE;
	} else if (inode->data_vdi_id[idx]) {
		uint64_t oid = vid_to_data_oid(inode->data_vdi_id[idx], idx);

		printf("Looking for the object 0x%" PRIx64 " (vid 0x%" PRIx32 " idx %" PRIu32
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

/* the allocated indexes and the VDI that owns each */
static int object_map(const char *name)
{
	struct sd_inode *inode = xmalloc(SD_INODE_HEADER_SIZE + SD_INODE_INDEX_SIZE);
	uint32_t vid;
	int ret;

	ret = dog_open_vdi(name, &vid);
	if (!ret && dog_read_inode(vid, inode, SD_INODE_HEADER_SIZE + SD_INODE_INDEX_SIZE))
		ret = EXIT_SYSFAIL;
	if (!ret) {
		printf("Index       VID\n");
		for (uint32_t i = 0; i < SD_INODE_DATA_INDEX; i++)
			if (inode->data_vdi_id[i])
				printf("%08" PRIu32 " %8" PRIx32 "\n", i, inode->data_vdi_id[i]);
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
	if (argc == 2) {
		dog_err("Unknown object subcommand '%s' (location, map)", argv[0]);
		return EXIT_USAGE;
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

/* NEW_VDI name from base: a snapshot (snapid 1) or a clone/rollback (0) */
static int new_vdi_from(const char *name, uint32_t base, bool snapshot, uint64_t size,
			uint32_t *vid)
{
	char buf[SD_MAX_VDI_LEN] = { 0 };
	struct sd_req hdr;
	struct sd_rsp rsp;

	strncpy(buf, name, sizeof(buf) - 1);
	dog_init_req(&hdr, SD_OP_NEW_VDI);
	hdr.flags = SD_FLAG_CMD_WRITE;
	hdr.data_length = sizeof(buf);
	hdr.vdi.base_vdi_id = base;
	hdr.vdi.snapid = snapshot ? 1 : 0;
	hdr.vdi.vdi_size = size;
	if (dog_exec(&hdr, buf, &rsp))
		return SD_RES_NETWORK_ERROR;
	if (rsp.result == SD_RES_SUCCESS && vid)
		*vid = rsp.vdi.vdi_id;
	return (int)rsp.result;
}

static int vdi_snapshot(int argc, char **argv)
{
	struct sd_inode *inode = xmalloc(SD_INODE_HEADER_SIZE);
	char tag[SD_MAX_VDI_TAG_LEN] = { 0 };
	const char *want = dog_opts.snapshot;
	uint32_t vid, other, result;
	int ret, r;

	if (argc != 1) {
		ret = argc ? EXIT_USAGE : (dog_err("Please specify the VDI name"), EXIT_USAGE);
		goto out;
	}
	dog_opts.snapshot = NULL;	/* -s names the new snapshot, not the one to open */
	ret = open_vdi_header(argv[0], &vid, inode);
	if (ret)
		goto out;
	if (want) {
		if (strlen(want) >= SD_MAX_VDI_TAG_LEN) {
			dog_err("Snapshot tag is too long: at most %d characters",
				SD_MAX_VDI_TAG_LEN - 1);
			ret = EXIT_USAGE;
			goto out;
		}
		if (dog_find_vdi(argv[0], want, 0, &other, &result) == 0) {
			dog_err("Failed to create snapshot for %s: tag %s already exists", argv[0],
				want);
			ret = EXIT_EXISTS;
			goto out;
		}
		strncpy(tag, want, sizeof(tag) - 1);
	}
	/* the tag goes into the working inode, which becomes the snapshot */
	r = write_object(vid_to_vdi_oid(vid), 0, tag, sizeof(tag),
			 (uint32_t)offsetof(struct sd_inode, tag), false);
	if (!r)
		r = new_vdi_from(argv[0], vid, true, inode->vdi_size, NULL);
	if (r) {
		dog_err("Failed to create snapshot for %s: %s", argv[0], sd_strerror((uint32_t)r));
		ret = result_to_exit((uint32_t)r);
	}
out:
	free(inode);
	return ret;
}

static int vdi_clone(int argc, char **argv)
{
	struct sd_inode *inode = xmalloc(SD_INODE_HEADER_SIZE);
	uint32_t vid;
	int ret, r;

	if (argc != 2) {
		ret = EXIT_USAGE;
		goto out;
	}
	if (check_name(argv[1])) {
		ret = EXIT_USAGE;
		goto out;
	}
	if (dog_opts.prealloc) {
		dog_err("Preallocated clones (-P) are not supported yet");
		ret = EXIT_USAGE;
		goto out;
	}
	ret = open_vdi_header(argv[0], &vid, inode);
	if (ret)
		goto out;
	if (!inode->snap_ctime) {
		dog_err("Only snapshot VDIs can be cloned");
		dog_err("Please specify snapshot with '-s' option");
		ret = EXIT_USAGE;
		goto out;
	}
	r = new_vdi_from(argv[1], vid, false, inode->vdi_size, NULL);
	if (r) {
		dog_err("Failed to create VDI %s: %s", argv[1], sd_strerror((uint32_t)r));
		ret = result_to_exit((uint32_t)r);
	}
out:
	free(inode);
	return ret;
}

static int vdi_rollback(int argc, char **argv)
{
	struct sd_inode *inode = xmalloc(SD_INODE_HEADER_SIZE);
	char buf[SD_MAX_VDI_LEN + SD_MAX_VDI_TAG_LEN] = { 0 };
	struct sd_req hdr;
	struct sd_rsp rsp;
	uint32_t snap;
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
	/* drop the working VDI, then a new one that starts as the snapshot */
	strncpy(buf, argv[0], SD_MAX_VDI_LEN - 1);
	dog_init_req(&hdr, SD_OP_DEL_VDI);
	hdr.flags = SD_FLAG_CMD_WRITE;
	hdr.data_length = sizeof(buf);
	if (dog_exec(&hdr, buf, &rsp)) {
		ret = EXIT_SYSFAIL;
		goto out;
	}
	if (rsp.result != SD_RES_SUCCESS && rsp.result != SD_RES_NO_VDI) {
		dog_err("Failed to delete the current VDI %s: %s", argv[0],
			sd_strerror(rsp.result));
		ret = result_to_exit(rsp.result);
		goto out;
	}
	r = new_vdi_from(argv[0], snap, false, inode->vdi_size, NULL);
	if (r) {
		dog_err("Failed to roll back %s: %s", argv[0], sd_strerror((uint32_t)r));
		ret = result_to_exit((uint32_t)r);
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
	if (argc == 1 && !strcmp(argv[0], "list")) {
		size_t len = 1 << 20;
		struct vdi_lock_entry *e = xmalloc(len);
		struct sd_inode *inode = xmalloc(SD_INODE_HEADER_SIZE);
		int nr = get_vdi_locks(e, (int)(len / sizeof(*e)));
		int ret = nr == -2 ? EXIT_SYSFAIL : nr < 0 ? EXIT_FAILURE : EXIT_SUCCESS;

		if (!ret) {
			if (!dog_opts.raw)
				printf("VDI                  Owner                  Type\n");
			for (int i = 0; i < nr; i++) {
				char owner[64];

				node_id_to_str(&e[i].owner, owner, sizeof(owner));
				if (dog_read_inode(e[i].vid, inode, SD_INODE_HEADER_SIZE))
					snprintf(inode->name, sizeof(inode->name), "%06x", e[i].vid);
				printf(dog_opts.raw ? "%s %s %s\n" : "%-20s %-22s %s\n", inode->name,
				       owner, e[i].type == LOCK_TYPE_SHARED ? "shared" : "exclusive");
			}
		}
		free(e);
		free(inode);
		return ret;
	}
	if (argc == 2 && !strcmp(argv[0], "unlock")) {
		uint32_t vid;
		int ret = dog_open_vdi(argv[1], &vid);

		if (ret)
			return ret;
		return unlock_vdi(argv[1], vid);
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

static int attr_error(const char *vdi, const char *key, int r)
{
	if (r == SD_RES_NO_OBJ) {
		dog_err("Attribute '%s' not found", key);
		return EXIT_MISSING;
	}
	if (r == SD_RES_VDI_EXIST) {
		dog_err("Attribute '%s' already exists", key);
		return EXIT_EXISTS;
	}
	if (r == SD_RES_NO_VDI || r == SD_RES_NO_TAG) {
		dog_err("VDI not found: %s", vdi);
		return EXIT_MISSING;
	}
	dog_err("Failed to access attribute '%s' of %s: %s", key, vdi, sd_strerror((uint32_t)r));
	return r == SD_RES_NETWORK_ERROR ? EXIT_SYSFAIL : EXIT_FAILURE;
}

static int vdi_setattr(int argc, char **argv)
{
	char *value = NULL;
	size_t vlen = 0;
	uint64_t oid;
	uint16_t flags;
	int r;

	if (argc < 2 || argc > 3)
		return EXIT_USAGE;
	if (check_name(argv[0]))
		return EXIT_USAGE;
	if (strlen(argv[1]) >= SD_MAX_VDI_ATTR_KEY_LEN || !argv[1][0]) {
		dog_err("Invalid key '%s': 1-%d characters", argv[1], SD_MAX_VDI_ATTR_KEY_LEN - 1);
		return EXIT_USAGE;
	}
	if (dog_opts.del) {
		if (argc == 3)
			return EXIT_USAGE;
		flags = SD_FLAG_CMD_DEL;
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
	return r ? attr_error(argv[0], argv[1], r) : EXIT_SUCCESS;
}

static int vdi_getattr(int argc, char **argv)
{
	struct sheepdog_vdi_attr *a;
	uint64_t oid;
	int r;

	if (argc != 2)
		return EXIT_USAGE;
	if (check_name(argv[0]))
		return EXIT_USAGE;
	r = attr_request(argv[0], argv[1], NULL, 0, 0, &oid);
	if (r)
		return attr_error(argv[0], argv[1], r);
	a = xmalloc(sizeof(*a));
	r = read_object(oid, a, sizeof(*a), 0);
	if (!r && a->value_len <= SD_MAX_VDI_ATTR_VALUE_LEN)
		fwrite(a->value, 1, a->value_len, stdout);
	free(a);
	return r ? attr_error(argv[0], argv[1], r) : EXIT_SUCCESS;
}

static const struct subcommand vdi_subs[] = {
	{ "create", "[-P] [-c copies] [-z bss] <vdiname> <size>", "Pc:z:y",
	  "create an image", vdi_create },
	{ "delete", "[-s snapshot] <vdiname>", "s:", "delete an image", vdi_delete },
	{ "list", "[vdiname]", "r", "list images", vdi_list },
	{ "read", "[-s snapshot] <vdiname> [<offset> [<len>]]", "s:",
	  "read data from an image", vdi_read },
	{ "write", "<vdiname> [<offset> [<len>]]", "w", "write data to an image", vdi_write },
	{ "resize", "<vdiname> <new size>", "", "resize an image", vdi_resize },
	{ "snapshot", "[-s snapshot] <vdiname>", "s:", "create a snapshot", vdi_snapshot },
	{ "clone", "[-s snapshot] <src vdi> <dst vdi>", "s:P", "clone an image", vdi_clone },
	{ "rollback", "-s snapshot [-f] <vdiname>", "s:f", "roll back to a snapshot",
	  vdi_rollback },
	{ "tree", "", "", "show images in tree view format", vdi_tree },
	{ "setattr", "[-d] [-x] [-s snapshot] <vdiname> <key> [value]", "dxs:",
	  "set a VDI attribute (value from stdin if omitted)", vdi_setattr },
	{ "getattr", "[-s snapshot] <vdiname> <key>", "s:", "get a VDI attribute", vdi_getattr },
	{ "lock", "{list|unlock} [-s snapshot] [<vdiname>]", "s:r", "show or break VDI locks",
	  vdi_lock },
	{ "object", "[location|map] [-i index] [-s snapshot] <vdiname>", "i:s:",
	  "show where an object lives", vdi_object },
	{ NULL, NULL, NULL, NULL, NULL },
};

const struct command vdi_command = { "vdi", vdi_subs, "Sheepdog VDI commands" };
