/*
 * dog.c - the admin CLI's front: command dispatch, common options, the
 * connection to the sheep named by -a/-p, and result texts.  Commands and
 * output follow Sheepdog's dog so operators' scripts keep working.
 * Subcommands live in dog_vdi.c and dog_cluster.c (cluster and node).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "dog.h"
#include "net.h"

struct dog_opts dog_opts = {
	.addr = "127.0.0.1",
	.port = SD_LISTEN_PORT,
	.copies = -1,
	.bss = -1,
};

static int conn_fd = -1;
static uint32_t next_id = 1;

static const char *const results[256] = {
	[SD_RES_SUCCESS] = "Success",
	[SD_RES_UNKNOWN] = "Unknown error",
	[SD_RES_NO_OBJ] = "No object found",
	[SD_RES_EIO] = "I/O error",
	[SD_RES_VDI_EXIST] = "VDI exists already",
	[SD_RES_INVALID_PARMS] = "Invalid parameters",
	[SD_RES_SYSTEM_ERROR] = "System error",
	[SD_RES_VDI_LOCKED] = "VDI is already locked",
	[SD_RES_NO_VDI] = "No VDI found",
	[SD_RES_NO_BASE_VDI] = "No base VDI found",
	[SD_RES_VDI_READ] = "Failed to read from requested VDI",
	[SD_RES_VDI_WRITE] = "Failed to write to requested VDI",
	[SD_RES_BASE_VDI_READ] = "Failed to read from base VDI",
	[SD_RES_BASE_VDI_WRITE] = "Failed to write to base VDI",
	[SD_RES_NO_TAG] = "Failed to find requested tag",
	[SD_RES_STARTUP] = "System is still booting",
	[SD_RES_VDI_NOT_LOCKED] = "VDI isn't locked",
	[SD_RES_SHUTDOWN] = "System is shutting down",
	[SD_RES_NO_MEM] = "Out of memory on server",
	[SD_RES_FULL_VDI] = "Maximum number of VDIs reached",
	[SD_RES_VER_MISMATCH] = "Protocol version mismatch",
	[SD_RES_NO_SPACE] = "Server has no space for new objects",
	[SD_RES_WAIT_FOR_FORMAT] = "Waiting for cluster to be formatted",
	[SD_RES_WAIT_FOR_JOIN] = "Waiting for other nodes to join cluster",
	[SD_RES_JOIN_FAILED] = "Node has failed to join cluster",
	[SD_RES_HALT] = "IO has halted as there are not enough living nodes",
	[SD_RES_READONLY] = "Object is read-only",
	[SD_RES_INODE_INVALIDATED] = "Inode object is invalidated",
	[SD_RES_OLD_NODE_VER] = "Request has an old epoch",
	[SD_RES_NEW_NODE_VER] = "Request has a new epoch",
	[SD_RES_NOT_FORMATTED] = "Cluster has not been formatted",
	[SD_RES_INVALID_CTIME] = "Creation times differ",
	[SD_RES_INVALID_EPOCH] = "Invalid epoch",
	[SD_RES_NETWORK_ERROR] = "Network error between sheep",
	[SD_RES_BUFFER_SMALL] = "The buffer is too small",
	[SD_RES_NO_STORE] = "No targeted backend store",
	[SD_RES_NO_SUPPORT] = "Operation is not supported",
	[SD_RES_KILLED] = "Node is killed",
	[SD_RES_OID_EXIST] = "Object ID exists already",
	[SD_RES_AGAIN] = "Ask to try again",
	[SD_RES_CLUSTER_ERROR] = "Cluster driver error",
	[SD_RES_VDI_NOT_EMPTY] = "VDI is not empty",
	[SD_RES_NOT_FOUND] = "Cannot found target",
	[SD_RES_GATEWAY_MODE] = "Node doesn't have a storage (gateway mode)",
};

const char *sd_strerror(uint32_t result)
{
	static char buf[32];

	if (result < 256 && results[result])
		return results[result];
	snprintf(buf, sizeof(buf), "Invalid error code %x", result);
	return buf;
}

void dog_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* as Sheepdog's dog: a request the cluster refused is a plain failure */
int result_to_exit(uint32_t result)
{
	return result == SD_RES_SUCCESS ? EXIT_SUCCESS : EXIT_FAILURE;
}

char *dog_size_str(uint64_t size, char *buf, size_t len)
{
	if (dog_opts.raw) {
		snprintf(buf, len, "%" PRIu64, size);
		return buf;
	}
	return size_to_str(size, buf, len);
}

/* ask on the terminal; anything but "yes" (or end of input) says no */
bool dog_confirm(const char *question)
{
	char answer[16] = "";

	fputs(question, stdout);
	fflush(stdout);
	if (!fgets(answer, sizeof(answer), stdin))
		return false;
	return !strncasecmp(answer, "yes", 3);
}

int dog_for_each_vdi(void (*fn)(uint32_t vid, const struct sd_inode *inode, void *arg),
		     void *arg)
{
	uint8_t *bitmap = xmalloc(SD_VDI_BITMAP_SIZE);
	struct sd_inode *inode = xmalloc(SD_INODE_HEADER_SIZE + SD_INODE_INDEX_SIZE);
	struct sd_req hdr;
	struct sd_rsp rsp;
	int ret = -1;

	dog_init_req(&hdr, SD_OP_READ_VDIS);
	hdr.data_length = SD_VDI_BITMAP_SIZE;
	if (dog_exec(&hdr, bitmap, &rsp))
		goto out;
	if (rsp.result != SD_RES_SUCCESS) {
		dog_err("Failed to read VDIs: %s", sd_strerror(rsp.result));
		goto out;
	}
	for (uint32_t vid = 1; vid < SD_NR_VDIS; vid++) {
		if (!(bitmap[vid >> 3] & (1u << (vid & 7))))
			continue;
		if (dog_read_inode(vid, inode, SD_INODE_HEADER_SIZE + SD_INODE_INDEX_SIZE))
			goto out;
		if (inode->name[0])
			fn(vid, inode, arg);
	}
	ret = 0;
out:
	free(bitmap);
	free(inode);
	return ret;
}

void dog_init_req(struct sd_req *hdr, uint8_t opcode)
{
	memset(hdr, 0, sizeof(*hdr));
	hdr->opcode = opcode;
	hdr->proto_ver = opcode >= SD_OP_INTERNAL_MIN ? SD_SHEEP_PROTO_VER : SD_PROTO_VER;
}

int dog_exec(struct sd_req *hdr, void *data, struct sd_rsp *rsp)
{
	int ret;

	if (conn_fd < 0) {
		conn_fd = connect_tcp(dog_opts.addr, dog_opts.port, 5000);
		if (conn_fd < 0) {
			dog_err("failed to connect to %s:%d: %s", dog_opts.addr, dog_opts.port,
				strerror(-conn_fd));
			return -1;
		}
	}
	hdr->id = next_id++;
	ret = exec_req(conn_fd, hdr, data, rsp, data,
		       (hdr->flags & SD_FLAG_CMD_WRITE) ? 0 : hdr->data_length);
	if (ret) {
		dog_err("failed to communicate with %s:%d: %s", dog_opts.addr, dog_opts.port,
			strerror(-ret));
		close(conn_fd);
		conn_fd = -1;
		return -1;
	}
	return 0;
}

int dog_call(struct sd_req *hdr, void *data, struct sd_rsp *rsp, const char *fmt, ...)
{
	char what[512];
	va_list ap;

	if (dog_exec(hdr, data, rsp))
		return EXIT_SYSFAIL;
	if (rsp->result == SD_RES_SUCCESS)
		return EXIT_SUCCESS;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	dog_err("Failed to %s: %s", what, sd_strerror(rsp->result));
	return result_to_exit(rsp->result);
}

int dog_exec_node(const struct node_id *nid, struct sd_req *hdr, void *data,
		  struct sd_rsp *rsp)
{
	char host[64];
	int fd, ret;

	addr_to_str(nid->addr, host, sizeof(host));
	fd = connect_tcp(host, nid->port, 5000);
	if (fd < 0) {
		dog_err("failed to connect to %s:%u: %s", host, nid->port, strerror(-fd));
		return -1;
	}
	hdr->id = next_id++;
	ret = exec_req(fd, hdr, data, rsp, data,
		       (hdr->flags & SD_FLAG_CMD_WRITE) ? 0 : hdr->data_length);
	close(fd);
	if (ret) {
		dog_err("failed to communicate with %s:%u: %s", host, nid->port, strerror(-ret));
		return -1;
	}
	return 0;
}

int dog_node_list(struct sd_node **nodes)
{
	struct sd_req hdr;
	struct sd_rsp rsp;
	size_t len = sizeof(struct sd_node) * SD_MAX_NODES;

	*nodes = xzalloc(len);
	dog_init_req(&hdr, SD_OP_GET_NODE_LIST);
	hdr.data_length = (uint32_t)len;
	if (dog_exec(&hdr, *nodes, &rsp))
		return -1;
	if (rsp.result != SD_RES_SUCCESS) {
		dog_err("Failed to get node list: %s", sd_strerror(rsp.result));
		return -1;
	}
	return (int)(rsp.data_length / sizeof(struct sd_node));
}

int dog_find_vdi(const char *name, const char *tag, uint32_t snapid, uint32_t *vid,
		 uint32_t *result)
{
	char buf[SD_MAX_VDI_LEN + SD_MAX_VDI_TAG_LEN] = { 0 };
	struct sd_req hdr;
	struct sd_rsp rsp;

	if (strlen(name) >= SD_MAX_VDI_LEN) {
		dog_err("VDI name is too long: at most %d characters", SD_MAX_VDI_LEN - 1);
		*result = SD_RES_INVALID_PARMS;
		return -1;
	}
	strncpy(buf, name, SD_MAX_VDI_LEN - 1);
	if (tag)
		strncpy(buf + SD_MAX_VDI_LEN, tag, SD_MAX_VDI_TAG_LEN - 1);
	dog_init_req(&hdr, SD_OP_GET_VDI_INFO);
	hdr.flags = SD_FLAG_CMD_WRITE;
	hdr.data_length = sizeof(buf);
	hdr.vdi.snapid = snapid;
	if (dog_exec(&hdr, buf, &rsp)) {
		*result = SD_RES_NETWORK_ERROR;
		return -1;
	}
	*result = rsp.result;
	if (rsp.result != SD_RES_SUCCESS)
		return -1;
	*vid = rsp.vdi.vdi_id;
	return 0;
}

int dog_read_inode(uint32_t vid, struct sd_inode *inode, uint32_t len)
{
	struct sd_req hdr;
	struct sd_rsp rsp;

	dog_init_req(&hdr, SD_OP_READ_OBJ);
	hdr.data_length = len;
	hdr.obj.oid = vid_to_vdi_oid(vid);
	if (dog_exec(&hdr, inode, &rsp))
		return -1;
	if (rsp.result != SD_RES_SUCCESS) {
		dog_err("Failed to read inode of VDI %x: %s", vid, sd_strerror(rsp.result));
		return -1;
	}
	return 0;
}

int dog_write_index(uint32_t vid, uint32_t idx, uint32_t n, const uint32_t *owners)
{
	struct sd_req hdr;
	struct sd_rsp rsp;

	dog_init_req(&hdr, SD_OP_WRITE_OBJ);
	hdr.flags = SD_FLAG_CMD_WRITE;
	hdr.data_length = n * (uint32_t)sizeof(uint32_t);
	hdr.obj.oid = vid_to_vdi_oid(vid);
	hdr.obj.offset = SD_INODE_HEADER_SIZE + idx * (uint32_t)sizeof(uint32_t);
	if (dog_exec(&hdr, (void *)owners, &rsp))
		return SD_RES_NETWORK_ERROR;
	return (int)rsp.result;
}

static const struct command *const commands[] = {
	&vdi_command, &node_command, &cluster_command, &benchmark_command,
};

static void main_usage(FILE *f)
{
	fprintf(f, "Sheepdog administrator utility (version 0.1.0)\n"
		   "Usage: dog [options] <command> <subcommand> [arguments]\n\n"
		   "Available commands:\n");
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		for (const struct subcommand *s = commands[i]->subs; s->name; s++)
			fprintf(f, "  %s %s %s\n", commands[i]->name, s->name, s->args);
	fprintf(f, "\nFor more information run 'dog <command> <subcommand> --help'.\n");
}

static void sub_usage(FILE *f, const struct command *c, const struct subcommand *s)
{
	fprintf(f, "Usage: dog %s %s %s\n%s\n", c->name, s->name, s->args, s->help);
	fprintf(f, "Options:\n"
		   "  -a, --address           specify the daemon address (default: 127.0.0.1)\n"
		   "  -p, --port              specify the daemon port (default: %d)\n"
		   "  -h, --help              display this help and exit\n", SD_LISTEN_PORT);
}

static const struct option long_opts[] = {
	{ "address", required_argument, NULL, 'a' },
	{ "port", required_argument, NULL, 'p' },
	{ "raw", no_argument, NULL, 'r' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "copies", required_argument, NULL, 'c' },
	{ "prealloc", no_argument, NULL, 'P' },
	{ "hyper", no_argument, NULL, 'y' },
	{ "snapshot", required_argument, NULL, 's' },
	{ "index", required_argument, NULL, 'i' },
	{ "block_size_shift", required_argument, NULL, 'z' },
	{ "backend", required_argument, NULL, 'b' },
	{ "force", no_argument, NULL, 'f' },
	{ "lock", no_argument, NULL, 'l' },
	{ "strict", no_argument, NULL, 't' },
	{ "delete", no_argument, NULL, 'd' },
	{ "exclusive", no_argument, NULL, 'x' },
	{ "mode", required_argument, NULL, 'm' },
	{ "block-size", required_argument, NULL, 'B' },
	{ "nr-threads", required_argument, NULL, 'n' },
	{ "total", required_argument, NULL, 't' },
	{ "time", required_argument, NULL, 'T' },
	{ "all", no_argument, NULL, 'A' },
	{ NULL, 0, NULL, 0 },
};

static int parse_common(int argc, char **argv, const struct command *c,
			const struct subcommand *s)
{
	char optstr[64];
	int opt;
	uint64_t v;

	snprintf(optstr, sizeof(optstr), ":a:p:h%s", s->opts);
	optind = 1;
	opterr = 0;	/* our own message: the same whatever the libc (glibc's words) */
	while ((opt = getopt_long(argc, argv, optstr, long_opts, NULL)) != -1) {
		switch (opt) {
		case 'a':
			dog_opts.addr = optarg;
			break;
		case 'p':
			if (parse_uint(optarg, 65535, &v) || !v) {
				dog_err("Invalid port number '%s'", optarg);
				return EXIT_USAGE;
			}
			dog_opts.port = (int)v;
			break;
		case 'h':
			sub_usage(stdout, c, s);
			exit(EXIT_SUCCESS);
		case 'r':
			dog_opts.raw = true;
			break;
		case 'v':
			dog_opts.verbose = true;
			break;
		case 'c':
			if (parse_uint(optarg, UINT32_MAX, &v) || !v) {
				dog_err("There must be at least one copy of data");
				return EXIT_FAILURE;
			}
			if (v > SD_MAX_COPIES) {
				dog_err("Redundancy may not exceed %d copies", SD_MAX_COPIES);
				return EXIT_FAILURE;
			}
			dog_opts.copies = (int)v;
			break;
		case 'P':
			dog_opts.prealloc = true;
			break;
		case 'y':
			dog_opts.hyper = true;
			break;
		case 's':
			dog_opts.snapshot = optarg;
			break;
		case 'i':
			if (parse_uint(optarg, UINT32_MAX, &v)) {
				dog_err("Invalid index '%s'", optarg);
				return EXIT_USAGE;
			}
			dog_opts.index = (uint32_t)v;
			dog_opts.index_set = true;
			break;
		case 'z':
			if (parse_uint(optarg, 31, &v) || v < 20 || v > 22) {
				dog_err("Invalid block size shift '%s': it must be 20-22", optarg);
				return EXIT_USAGE;
			}
			dog_opts.bss = (int)v;
			break;
		case 'b':
			dog_opts.store = optarg;
			break;
		case 'f':
			dog_opts.force = true;
			break;
		case 'l':
			dog_opts.lock = true;
			break;
		case 't':
			if (!optarg) {	/* vdi create -t: --strict */
				dog_opts.strict = true;
				break;
			}
			if (parse_size(optarg, &v) || !v) {
				dog_err("Invalid total '%s'", optarg);
				return EXIT_USAGE;
			}
			dog_opts.bench_total = v;
			break;
		case 'm':
			dog_opts.bench_mode = optarg;
			break;
		case 'B':
			if (parse_size(optarg, &v) || !v || v > UINT32_MAX) {
				dog_err("Invalid block size '%s'", optarg);
				return EXIT_USAGE;
			}
			dog_opts.bench_bs = v;
			break;
		case 'n':
			if (parse_uint(optarg, 1024, &v) || !v) {
				dog_err("Invalid number of requests in flight '%s': 1-1024", optarg);
				return EXIT_USAGE;
			}
			dog_opts.bench_depth = (uint32_t)v;
			break;
		case 'T':
			if (parse_uint(optarg, 86400, &v) || !v) {
				dog_err("Invalid time '%s': 1-86400 seconds", optarg);
				return EXIT_USAGE;
			}
			dog_opts.bench_seconds = v;
			break;
		case 'd':
			dog_opts.del = true;
			break;
		case 'x':
			dog_opts.exclusive = true;
			break;
		case 'A':
			dog_opts.all = true;
			break;
		case ':':
			fprintf(stderr, "%s: option requires an argument -- '%c'\n", argv[0], optopt);
			sub_usage(stderr, c, s);
			return EXIT_USAGE;
		default:
			if (optopt)
				fprintf(stderr, "%s: invalid option -- '%c'\n", argv[0], optopt);
			else
				fprintf(stderr, "%s: unrecognized option '%s'\n", argv[0],
					argv[optind - 1]);
			sub_usage(stderr, c, s);
			return EXIT_USAGE;
		}
	}
	return 0;
}

int dog_main(int argc, char **argv)
{
	const struct command *c = NULL;
	const struct subcommand *s = NULL;
	int ret;

	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		main_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : EXIT_SUCCESS;
	}
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (!strcmp(argv[1], commands[i]->name))
			c = commands[i];
	if (!c) {
		dog_err("Invalid command '%s'", argv[1]);
		main_usage(stderr);
		return EXIT_USAGE;
	}
	if (argc < 3) {
		dog_err("Specify a subcommand of '%s'", c->name);
		for (s = c->subs; s->name; s++)
			fprintf(stderr, "  %s %s %s\n", c->name, s->name, s->args);
		return EXIT_USAGE;
	}
	for (s = c->subs; s->name; s++)
		if (!strcmp(argv[2], s->name))
			break;
	if (!s->name) {
		dog_err("Invalid subcommand '%s' of '%s'", argv[2], c->name);
		return EXIT_USAGE;
	}
	/* getopt sees "<subcommand> [options] args" */
	ret = parse_common(argc - 2, argv + 2, c, s);
	if (ret)
		return ret;
	ret = s->fn(argc - 2 - optind, argv + 2 + optind);
	if (ret == EXIT_USAGE)
		sub_usage(stderr, c, s);
	if (conn_fd >= 0)
		close(conn_fd);
	return ret;
}
