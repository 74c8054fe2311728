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

/* look a VDI up by name and the -s option (a tag or a snapshot id) */
static int open_vdi(const char *name, uint32_t *vid)
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

/* point data_vdi_id[idx] of vid's inode at owner */
static int update_index(uint32_t vid, uint32_t idx, uint32_t owner)
{
	return write_object(vid_to_vdi_oid(vid), 0, &owner, sizeof(owner),
			    SD_INODE_HEADER_SIZE + idx * (uint32_t)sizeof(uint32_t), false);
}

static int vdi_create(int argc, char **argv)
{
	char name[SD_MAX_VDI_LEN] = { 0 };
	struct sd_req hdr;
	struct sd_rsp rsp;
	uint64_t size;
	uint32_t vid;

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
	if (dog_exec(&hdr, name, &rsp))
		return EXIT_SYSFAIL;
	if (rsp.result != SD_RES_SUCCESS) {
		dog_err("Failed to create VDI %s: %s", name, sd_strerror(rsp.result));
		return result_to_exit(rsp.result);
	}
	vid = rsp.vdi.vdi_id;
	if (dog_opts.prealloc) {
		uint32_t objsize = UINT32_C(1) << rsp.vdi.block_size_shift;
		uint64_t nr = DIV_ROUND_UP(size, objsize);

		for (uint64_t i = 0; i < nr; i++) {
			int r = write_object(vid_to_data_oid(vid, (uint32_t)i), 0, NULL, 0, 0, true);

			if (!r)
				r = update_index(vid, (uint32_t)i, vid);
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
	if (dog_exec(&hdr, buf, &rsp))
		return EXIT_SYSFAIL;
	if (rsp.result != SD_RES_SUCCESS) {
		dog_err("Failed to delete %s: %s", argv[0], sd_strerror(rsp.result));
		return result_to_exit(rsp.result);
	}
	return EXIT_SUCCESS;
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
	ret = open_vdi(argv[0], &vid);
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
	ret = open_vdi(argv[0], &vid);
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
				r = update_index(vid, idx, vid);
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
	ret = open_vdi(argv[0], &vid);
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

	ret = open_vdi(name, &vid);
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

	ret = open_vdi(name, &vid);
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

static const struct subcommand vdi_subs[] = {
	{ "create", "[-P] [-c copies] [-z bss] <vdiname> <size>", "Pc:z:y",
	  "create an image", vdi_create },
	{ "delete", "[-s snapshot] <vdiname>", "s:", "delete an image", vdi_delete },
	{ "list", "[vdiname]", "r", "list images", vdi_list },
	{ "read", "[-s snapshot] <vdiname> [<offset> [<len>]]", "s:",
	  "read data from an image", vdi_read },
	{ "write", "<vdiname> [<offset> [<len>]]", "w", "write data to an image", vdi_write },
	{ "resize", "<vdiname> <new size>", "", "resize an image", vdi_resize },
	{ "object", "[location|map] [-i index] [-s snapshot] <vdiname>", "i:s:",
	  "show where an object lives", vdi_object },
	{ NULL, NULL, NULL, NULL, NULL },
};

const struct command vdi_command = { "vdi", vdi_subs, "Sheepdog VDI commands" };
