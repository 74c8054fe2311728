/*
 * dog.c - the admin CLI's front: command dispatch, common options, the
 * connection to the sheep named by -a/-p, and result texts.  Commands and
 * output follow Sheepdog's dog so operators' scripts keep working.
 * Subcommands live in dog_vdi.c and dog_cluster.c (cluster and node).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
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
	[SD_RES_FORCE_RECOVER] = "Cluster is running/halted and cannot be force recovered",
	[SD_RES_NO_STORE] = "No targeted backend store",
	[SD_RES_NO_SUPPORT] = "Operation is not supported",
	[SD_RES_KILLED] = "Node is killed",
	[SD_RES_OID_EXIST] = "Object ID exists already",
	[SD_RES_AGAIN] = "Ask to try again",
	[SD_RES_CLUSTER_ERROR] = "Cluster driver error",
	[SD_RES_VDI_NOT_EMPTY] = "VDI is not empty",
	[SD_RES_NOT_FOUND] = "Cannot found target",
	[SD_RES_GATEWAY_MODE] = "Node doesn't have a storage (gateway mode)",
	[SD_RES_INVALID_VNODES_STRATEGY] = "Invalid cluster vnodes strategy",
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

bool dog_node_quiet;

int dog_exec_node(const struct node_id *nid, struct sd_req *hdr, void *data,
		  struct sd_rsp *rsp)
{
	char host[64];
	int fd, ret;

	addr_to_str(nid->addr, host, sizeof(host));
	fd = connect_tcp(host, nid->port, 5000);
	if (fd < 0) {
		if (!dog_node_quiet)
			dog_err("failed to connect to %s:%u: %s", host, nid->port, strerror(-fd));
		return -1;
	}
	hdr->id = next_id++;
	ret = exec_req(fd, hdr, data, rsp, data,
		       (hdr->flags & SD_FLAG_CMD_WRITE) ? 0 : hdr->data_length);
	close(fd);
	if (ret) {
		if (!dog_node_quiet)
			dog_err("failed to communicate with %s:%u: %s", host, nid->port,
				strerror(-ret));
		return -1;
	}
	return 0;
}

int dog_node_list_epoch(struct sd_node **nodes, uint32_t *epoch)
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
	if (epoch)
		*epoch = rsp.epoch;
	return (int)(rsp.data_length / sizeof(struct sd_node));
}

int dog_node_list(struct sd_node **nodes)
{
	return dog_node_list_epoch(nodes, NULL);
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

int dog_read_object(uint64_t oid, void *buf, uint32_t len, uint32_t off)
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

int dog_write_object(uint64_t oid, uint64_t cow, const void *buf, uint32_t len, uint32_t off,
		     bool create)
{
	struct sd_req hdr;
	struct sd_rsp rsp;

	dog_init_req(&hdr, create ? SD_OP_CREATE_AND_WRITE_OBJ : SD_OP_WRITE_OBJ);
	hdr.flags = SD_FLAG_CMD_WRITE | (cow ? SD_FLAG_CMD_COW : 0);
	hdr.data_length = len;
	hdr.obj.oid = oid;
	hdr.obj.cow_oid = cow;
	hdr.obj.offset = off;
	if (dog_exec(&hdr, (void *)buf, &rsp))
		return SD_RES_NETWORK_ERROR;
	return (int)rsp.result;
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
	return dog_write_object(vid_to_vdi_oid(vid), 0, owners, n * (uint32_t)sizeof(uint32_t),
				SD_INODE_HEADER_SIZE + idx * (uint32_t)sizeof(uint32_t), false);
}

static const struct command *const commands[] = {
	&vdi_command, &node_command, &cluster_command, &benchmark_command,
};

/*
 * Sheepdog's usage texts: for each of its subcommands we have, its operands,
 * its options in its order and its words, so `--help` and a usage error read
 * as Sheepdog's.  A subcommand not listed here (ours only) prints ours.
 */
struct opt_help {
	char ch;
	bool arg;
	const char *name, *desc;
};

#define RAW_DESC "raw output mode: omit headers, separate fields with\n" \
	"                          single spaces and print all sizes in decimal bytes"

static const struct opt_help common_help[] = {
	{ 'a', true, "address", "specify the daemon address (default: localhost)" },
	{ 'p', true, "port", "specify the daemon port" },
	{ 'r', false, "raw", RAW_DESC },
	{ 'v', false, "verbose", "print more information than default" },
	{ 'h', false, "help", "display this help and exit" },
	{ 'T', false, "time", "show elapsed time" },
	{ 0, false, NULL, NULL },
};

static const struct opt_help vdi_help[] = {
	{ 'P', false, "prealloc", "preallocate all the data objects" },
	{ 'n', false, "no-share", "share nothing with its parent" },
	{ 'i', true, "index", "specify the index of data objects" },
	{ 's', true, "snapshot", "specify a snapshot id or tag name" },
	{ 'x', false, "exclusive", "write in an exclusive mode" },
	{ 'd', false, "delete", "delete a key" },
	{ 'w', false, "writeback", "use writeback mode" },
	{ 'c', true, "copies", "specify the data redundancy level" },
	{ 'F', true, "from", "create a differential backup from the snapshot" },
	{ 'f', false, "force", "do operation forcibly" },
	{ 'y', false, "hyper", "create a hyper volume" },
	{ 'o', true, "oid", "specify the object id of the tracking object" },
	{ 'e', false, "exist", "only check objects exist or not,\n"
	  "                          neither comparing nor repairing" },
	{ 'z', true, "block_size_shift", "specify the bit shift num for data object size" },
	{ 'R', false, "reduce-identical-snapshots",
	  "do not create snapshot if working VDI doesn't have its own objects" },
	{ 'B', true, "nr-batched-reclamation",
	  "specify a number of batchedreclamation during VDI deletion" },
	{ 'I', true, "reclamation-interval",
	  "specify how long (unit: second)in reclamation loop during VDI deletion" },
	{ 'm', true, "max-reclaim", "specify the maximum number of reclaimed objects (if this "
	  "option is specified, an inode object won't be reclaimed)" },
	{ 0, false, NULL, NULL },
};

static const struct opt_help cluster_help[] = {
	{ 'b', true, "store", "specify backend store" },
	{ 'c', true, "copies", "specify the default data redundancy (number of copies)" },
	{ 'f', false, "force", "do not prompt for confirmation" },
	{ 'F', false, "avoid-diskfull", "skip recovery if recovery process can cause disk full" },
	{ 'l', false, "lock", "Lock vdi to exclude multiple users" },
	{ 'm', false, "multithread", "use multi-thread for 'cluster snapshot save'" },
	{ 'R', false, "recyclevid", "enable recycling of VID" },
	{ 't', false, "strict",
	  "do not serve write request if number of nodes is not sufficient" },
	{ 'z', true, "block_size_shift", "specify the shift num of default data object size" },
	{ 'V', false, "fixedvnodes", "disable automatic vnodes calculation" },
	{ 'd', false, "diff",
	  "just output the changes between the two adjacent epochesfor cluster info" },
	{ 0, false, NULL, NULL },
};

static const struct opt_help node_help[] = {
	{ 'A', false, "all", "show md information of all the nodes" },
	{ 'P', false, "progress", "show progress of recovery in the node" },
	{ 'w', false, "watch", "watch the stat every second" },
	{ 'l', false, "local", "issue request to local node" },
	{ 'f', false, "force", "ignore the confirmation" },
	{ 'i', false, "ioaddr", "show each node's IO address" },
	{ 0, false, NULL, NULL },
};

static const char *const object_subs[] = {
	"location", "show object location information", "map", "show object map information",
	"dump-inode", "dump inode information", NULL };
static const char *const lock_subs[] = {
	"list", "list locked VDIs", "unlock", "unlock locked VDI forcibly", NULL };
static const char *const recover_subs[] = {
	"force", "force recover cluster immediately",
	"enable", "enable automatic recovery and run once recover if necessary",
	"disable", "disable automatic recovery", NULL };
static const char *const snapshot_subs[] = {
	"save", "save snapshot to localpath", "list", "list snapshot of localpath",
	"load", "load snapshot from localpath", "show", "show vdi list from snapshot", NULL };
static const char *const recovery_subs[] = {
	"info", "show recovery information of nodes (default)",
	"set-throttle", "set new throttling", "get-throttle", "get current throttling", NULL };
static const char *const vnodes_subs[] = { "set", "set new vnodes", NULL };
static const char *const md_subs[] = {
	"info", "show multi-disk information", "plug", "plug more disk(s) into node",
	"unplug", "unplug disk(s) from node", NULL };
static const char *const log_subs[] = { "level", "manipulate loglevel", NULL };

static const struct sd_usage {
	const char *cmd, *sub, *arg, *opts, *desc;
	const char *const *subs;	/* name, description pairs */
} sd_usages[] = {
	{ "vdi", "check", "<vdiname>", "seaphT", "check and repair image's consistency", NULL },
	{ "vdi", "create", "<vdiname> <size>", "PycaphrvzT", "create an image", NULL },
	{ "vdi", "snapshot", "<vdiname>", "saphrvTR", "create a snapshot", NULL },
	{ "vdi", "clone", "<src vdi> <dst vdi>", "sPnaphrvT", "clone an image", NULL },
	{ "vdi", "delete", "<vdiname>", "saphTBIm", "delete an image", NULL },
	{ "vdi", "rollback", "<vdiname>", "saphfrvTBI", "rollback to a snapshot", NULL },
	{ "vdi", "list", "[vdiname]", "aprhoT", "list images", NULL },
	{ "vdi", "tree", NULL, "aphT", "show images in tree view format", NULL },
	{ "vdi", "graph", NULL, "aphT", "show images in Graphviz dot format", NULL },
	{ "vdi", "object", "<vdiname>", "isaphT", "show object information in the image",
	  object_subs },
	{ "vdi", "track", "<vdiname>", "isaphoT", "show the object epoch trace in the image",
	  NULL },
	{ "vdi", "setattr", "<vdiname> <key> [value]", "dxaphT", "set a VDI attribute", NULL },
	{ "vdi", "getattr", "<vdiname> <key>", "aphT", "get a VDI attribute", NULL },
	{ "vdi", "resize", "<vdiname> <new size>", "aphT", "resize an image", NULL },
	{ "vdi", "read", "<vdiname> [<offset> [<len>]]", "saphT", "read data from an image",
	  NULL },
	{ "vdi", "write", "<vdiname> [<offset> [<len>]]", "apwhT", "write data to an image",
	  NULL },
	{ "vdi", "backup", "<vdiname>", "sFaphT",
	  "create an incremental backup between two snapshots and outputs to STDOUT", NULL },
	{ "vdi", "restore", "<vdiname>", "saphTBI",
	  "restore snapshot images from a backup provided in STDIN", NULL },
	{ "vdi", "alter-copy", "<vdiname>", "caphTf", "set the vdi's redundancy level", NULL },
	{ "vdi", "lock", NULL, "saphT", "See 'dog vdi lock' for more information", lock_subs },
	{ "cluster", "info", NULL, "aprhvTd", "show cluster information", NULL },
	{ "cluster", "format", NULL, "bcltaphzTVRfF", "create a Sheepdog store", NULL },
	{ "cluster", "shutdown", NULL, "aphT", "stop Sheepdog", NULL },
	{ "cluster", "snapshot", "<tag|idx> <path> [vdi1] [vdi2] ...", "aphTm",
	  "snapshot/restore the cluster", snapshot_subs },
	{ "cluster", "recover", NULL, "afphT", "See 'dog cluster recover' for more information",
	  recover_subs },
	{ "cluster", "reweight", NULL, "aphT", "reweight the cluster", NULL },
	{ "cluster", "check", NULL, "aphT", "check and repair cluster", NULL },
	{ "cluster", "alter-copy", NULL, "aphTcf", "set the cluster's redundancy level", NULL },
	{ "node", "kill", "<node id>", "aprhlT", "kill node", NULL },
	{ "node", "list", NULL, "aprihT", "list nodes", NULL },
	{ "node", "info", NULL, "aprhT", "show information about each node", NULL },
	{ "node", "recovery", "<max> <interval>", "aphPrT",
	  "show recovery information or set/get recovery speed throttling of nodes",
	  recovery_subs },
	{ "node", "md", "[disks]", "aprAfhT", "See 'dog node md' for more information", md_subs },
	{ "node", "stat", NULL, "aprwhT", "show stat information about the node", NULL },
	{ "node", "log", NULL, "aphT", "show or set log level of the node", log_subs },
	{ "node", "vnodes", "<num of vnodes>", "aph", "set new vnodes", vnodes_subs },
	{ "node", "format", "<directory of sheep> <a name of store format>", "aphT",
	  "initialize store format of the node", NULL },
	/* ours takes other options than Sheepdog's: its one-line name only */
	{ "benchmark", "io", "<vdiname>", NULL, "benchmark I/O performance", NULL },
};

static const struct sd_usage *find_sd_usage(const char *cmd, const char *sub)
{
	for (size_t i = 0; i < ARRAY_SIZE(sd_usages); i++)
		if (!strcmp(sd_usages[i].cmd, cmd) && !strcmp(sd_usages[i].sub, sub))
			return &sd_usages[i];
	return NULL;
}

static const struct opt_help *find_opt_help(const char *cmd, char ch)
{
	const struct opt_help *own = !strcmp(cmd, "vdi") ? vdi_help :
				     !strcmp(cmd, "cluster") ? cluster_help :
				     !strcmp(cmd, "node") ? node_help : common_help;

	for (const struct opt_help *o = own; o->ch; o++)
		if (o->ch == ch)
			return o;
	for (const struct opt_help *o = common_help; o->ch; o++)
		if (o->ch == ch)
			return o;
	return NULL;
}

static void print_sd_usage(FILE *f, const struct sd_usage *u)
{
	const struct opt_help *o;
	size_t n = 0;
	char name[64];

	fprintf(f, "Usage: dog %s %s", u->cmd, u->sub);
	while (u->subs && u->subs[2 * n])
		n++;
	for (size_t i = 0; i < n; i++)
		fprintf(f, n == 1 ? " %s" : i ? "|%s" : " {%s", u->subs[2 * i]);
	if (n > 1)
		fputc('}', f);
	for (const char *c = u->opts; *c; c++) {
		o = find_opt_help(u->cmd, *c);
		if (o && o->arg)
			fprintf(f, " [-%c %s]", o->ch, o->name);
		else if (o)
			fprintf(f, " [-%c]", o->ch);
	}
	fprintf(f, u->arg ? " %s\n" : "\n", u->arg);
	if (n) {
		fprintf(f, "Available subcommands:\n");
		for (size_t i = 0; i < n; i++)
			fprintf(f, "  %-24s%s\n", u->subs[2 * i], u->subs[2 * i + 1]);
	}
	fprintf(f, "Options:\n");
	for (const char *c = u->opts; *c; c++) {
		o = find_opt_help(u->cmd, *c);
		if (!o)
			continue;
		snprintf(name, sizeof(name), "-%c, --%s", o->ch, o->name);
		fprintf(f, "  %-24s%s\n", name, o->desc);
	}
}

/*
 * c's subcommands in Sheepdog's order (its table's), ours only after them;
 * out gets at most max of them, the count is returned
 */
static size_t subs_in_order(const struct command *c, const struct subcommand **out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < ARRAY_SIZE(sd_usages); i++)
		for (const struct subcommand *s = c->subs; s->name && n < max; s++)
			if (!strcmp(sd_usages[i].cmd, c->name) && !strcmp(sd_usages[i].sub, s->name))
				out[n++] = s;
	for (const struct subcommand *s = c->subs; s->name && n < max; s++)
		if (!find_sd_usage(c->name, s->name))
			out[n++] = s;
	return n;
}

/* Sheepdog's help: one line per subcommand, name and what it does */
static void main_usage(FILE *f)
{
	fprintf(f, "Sheepdog administrator utility (version 0.1.0)\n"
		   "Usage: dog <command> <subcommand> [options]\n\n"
		   "Available commands:\n");
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
		const struct subcommand *subs[64];
		size_t nr = subs_in_order(commands[i], subs, ARRAY_SIZE(subs));

		for (size_t j = 0; j < nr; j++) {
			const struct sd_usage *u = find_sd_usage(commands[i]->name, subs[j]->name);
			char name[64];

			snprintf(name, sizeof(name), "%s %s", commands[i]->name, subs[j]->name);
			fprintf(f, "  %-24s%s\n", name, u ? u->desc : subs[j]->help);
		}
	}
	fprintf(f, "\nFor more information, run 'dog <command> <subcommand> --help'.\n");
}

/* a bad command line: Sheepdog's pointer to the help */
static int try_help(void)
{
	dog_err("Try 'dog --help' for more information.");
	return EXIT_USAGE;
}

static const char *prog_path = "dog";	/* argv[0], for getopt-style messages */
static const struct command *cur_cmd;
static const struct subcommand *cur_sub;

static void sub_usage(FILE *f, const struct command *c, const struct subcommand *s)
{
	const struct sd_usage *u = find_sd_usage(c->name, s->name);

	if (u && u->opts) {
		print_sd_usage(f, u);
		return;
	}
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
	{ "ioaddr", no_argument, NULL, 'i' },	/* node list */
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
	{ "no-share", no_argument, NULL, 'n' },
	{ "total", required_argument, NULL, 't' },
	{ "time", required_argument, NULL, 'T' },
	{ "exist", no_argument, NULL, 'e' },
	{ "from", required_argument, NULL, 'F' },
	{ "reduce-identical-snapshots", no_argument, NULL, 'R' },
	{ "fixedvnodes", no_argument, NULL, 'V' },
	{ "recyclevid", no_argument, NULL, 'R' },
	{ "all", no_argument, NULL, 'A' },
	{ "oid", required_argument, NULL, 'o' },
	{ "progress", no_argument, NULL, 'P' },
	{ "local", no_argument, NULL, 'l' },
	{ "watch", no_argument, NULL, 'w' },
	{ NULL, 0, NULL, 0 },
};

/* Sheepdog's -a check: a name or address that resolves */
static bool valid_host(const char *host)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;

	if (getaddrinfo(host, NULL, &hints, &res))
		return false;
	freeaddrinfo(res);
	return true;
}

static int parse_port(const char *s)
{
	uint64_t v;

	if (parse_uint(s, 65535, &v) || !v) {
		dog_err("Invalid port number '%s'", s);
		return -1;
	}
	dog_opts.port = (int)v;
	return 0;
}

/* -c as Sheepdog reads it: 1-31 copies; x:y (erasure coding) is not ours */
static int parse_copies(const char *s)
{
	uint64_t v;

	if (strchr(s, ':')) {
		dog_err("Erasure coded redundancy (-c %s) is not supported: use -c x, x "
			"replicated copies", s);
		return -1;
	}
	if (parse_uint(s, SD_MAX_COPIES, &v) || !v) {
		dog_err("Invalid parameter %s\n"
			"To create replicated vdi, set -c x\n"
			"  x(1 to %d)   - number of replicated copies\n"
			"To create erasure coded vdi, set -c x:y\n"
			"  x(2,4,8,16)  - number of data strips\n"
			"  y(1 to 15)   - number of parity strips", s, SD_MAX_COPIES);
		return -1;
	}
	dog_opts.copies = (int)v;
	return 0;
}

/* a 32-bit hex number, digits only */
static int parse_hex32(const char *s, uint64_t *out)
{
	char *end;

	if (!*s || strspn(s, "0123456789abcdefABCDEF") != strlen(s) || strlen(s) > 8)
		return -1;
	*out = strtoull(s, &end, 16);
	return 0;
}

static bool show_elapsed;	/* -T where the subcommand has no -T of its own */

/* vdi delete -B, -I, -m: Sheepdog's strtol and its words (sic) */
static int parse_reclaim(const char *s, int *out, const char *what)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (end == s) {
		dog_err("The %s reclamation is invalid: %s", what, s);
		return EXIT_FAILURE;
	}
	if (v <= 0) {
		dog_err("The %s reclamation must bepositive integer", what);
		return EXIT_FAILURE;
	}
	*out = (int)MIN(v, (long)INT32_MAX);
	return 0;
}

static int parse_common(int argc, char **argv, const struct command *c,
			const struct subcommand *s)
{
	char optstr[64];
	const char *env;
	int opt;
	uint64_t v;

	/* Sheepdog's environment defaults, which -a and -p override */
	env = getenv("SHEEPDOG_DOG_ADDR");
	if (env) {
		if (!valid_host(env)) {
			dog_err("Invalid ip address %s", env);
			return EXIT_FAILURE;
		}
		dog_opts.addr = env;
	}
	env = getenv("SHEEPDOG_DOG_PORT");
	if (env && parse_port(env))
		return EXIT_USAGE;
	/* -r and -v everywhere, as Sheepdog (a no-op where nothing changes) */
	snprintf(optstr, sizeof(optstr), ":a:p:hrv%s%s", s->opts, strchr(s->opts, 'T') ? "" : "T");
	optind = 1;
	opterr = 0;	/* our own message: the same whatever the libc (glibc's words) */
	while ((opt = getopt_long(argc, argv, optstr, long_opts, NULL)) != -1) {
		switch (opt) {
		case 'a':
			if (!valid_host(optarg)) {
				dog_err("Invalid ip address %s", optarg);
				return EXIT_FAILURE;
			}
			dog_opts.addr = optarg;
			break;
		case 'p':
			if (parse_port(optarg))
				return EXIT_USAGE;
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
			if (parse_copies(optarg))
				return EXIT_FAILURE;
			break;
		case 'P':
			dog_opts.prealloc = true;
			dog_opts.progress = true;
			break;
		case 'y':
			dog_opts.hyper = true;
			break;
		case 's':
			if (!parse_uint(optarg, UINT32_MAX, &v) && !v) {
				dog_err("The snapshot id must be larger than zero");
				return EXIT_FAILURE;
			}
			dog_opts.snapshot = optarg;
			break;
		case 'i':
			if (!optarg) {	/* node list -i: the IO addresses */
				dog_opts.show_io = true;
				break;
			}
			if ((strncmp(optarg, "0x", 2) || parse_hex32(optarg + 2, &v)) &&
			    parse_uint(optarg, UINT32_MAX, &v)) {
				dog_err("The index must be a decimal integer or a hexadecimal "
					"integer started with 0x");
				return EXIT_FAILURE;
			}
			dog_opts.index = (uint32_t)v;
			dog_opts.index_set = true;
			break;
		case 'z':
			/* Sheepdog's bounds and words; shifts it allows past 22 are not ours */
			if (parse_uint(optarg, 255, &v) || v > 31) {
				dog_err("Object Size is limited to 2^31. Please set shift bit lower "
					"than 31");
				return EXIT_FAILURE;
			}
			if (v < 20) {
				dog_err("Object Size is larger than 2^20. Please set shift bit larger "
					"than 20");
				return EXIT_FAILURE;
			}
			if (v > 22) {
				dog_err("Invalid block size shift '%s': objects of 1-4 MiB (shift "
					"20-22) only", optarg);
				return EXIT_FAILURE;
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
			dog_opts.local = true;
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
			if (c != &vdi_command)
				dog_opts.bench_mode = optarg;
			else if (parse_reclaim(optarg, &dog_opts.reclaim_max, "maximum number of"))
				return EXIT_FAILURE;
			break;
		case 'I':
			if (parse_reclaim(optarg, &dog_opts.reclaim_interval, "interval of batched"))
				return EXIT_FAILURE;
			break;
		case 'B':
			if (c == &vdi_command) {
				if (parse_reclaim(optarg, &dog_opts.reclaim_batch, "number of batched"))
					return EXIT_FAILURE;
				break;
			}
			if (parse_size(optarg, &v) || !v || v > UINT32_MAX) {
				dog_err("Invalid block size '%s'", optarg);
				return EXIT_USAGE;
			}
			dog_opts.bench_bs = v;
			break;
		case 'n':
			if (!optarg) {	/* vdi clone -n: --no-share */
				dog_opts.no_share = true;
				break;
			}
			if (parse_uint(optarg, 1024, &v) || !v) {
				dog_err("Invalid number of requests in flight '%s': 1-1024", optarg);
				return EXIT_USAGE;
			}
			dog_opts.bench_depth = (uint32_t)v;
			break;
		case 'T':
			if (!strchr(s->opts, 'T')) {
				show_elapsed = true;
				break;
			}
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
		case 'e':
			dog_opts.exist = true;
			break;
		case 'F':
			dog_opts.from = optarg;
			break;
		case 'V':
			dog_opts.fixed_vnodes = true;
			break;
		case 'R':	/* vdi snapshot: reduce; cluster format: recycle vids */
			dog_opts.reduce = true;
			dog_opts.recycle_vid = true;
			break;
		case 'A':
			dog_opts.all = true;
			break;
		case 'o': {	/* vdi track -o: Sheepdog's strtoull, base 16 */
			char *end;

			dog_opts.oid = strtoull(optarg, &end, 16);
			if (end == optarg) {
				dog_err("object id must be a hex integer");
				return EXIT_FAILURE;
			}
			break;
		}
		case 'w':
			dog_opts.watch = true;
			break;
		case ':':
			/* glibc's words, as Sheepdog's dog shows them */
			fprintf(stderr, "%s: option requires an argument -- '%c'\n", prog_path,
				optopt);
			return try_help();
		default:
			if (optopt)
				fprintf(stderr, "%s: invalid option -- '%c'\n", prog_path, optopt);
			else
				fprintf(stderr, "%s: unrecognized option '%s'\n", prog_path,
					argv[optind - 1]);
			return try_help();
		}
	}
	return 0;
}

void dog_usage_stderr(void)
{
	if (cur_cmd && cur_sub)
		sub_usage(stderr, cur_cmd, cur_sub);
}

int dog_main(int argc, char **argv)
{
	const struct command *c = NULL;
	const struct subcommand *s = NULL;
	struct timespec start, end;
	int ret;

	prog_path = argv[0];
	/* as Sheepdog: the help on stdout and 0, also without a command */
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "help")) {
		main_usage(stdout);
		return EXIT_SUCCESS;
	}
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (!strcmp(argv[1], commands[i]->name))
			c = commands[i];
	if (!c) {
		dog_err("Invalid command '%s'", argv[1]);
		return try_help();
	}
	for (s = c->subs; argc >= 3 && s->name; s++)
		if (!strcmp(argv[2], s->name))
			break;
	if (argc < 3 || !s->name) {
		if (argc >= 3 && strcmp(argv[2], "help") && strcmp(argv[2], "--help") &&
		    strcmp(argv[2], "-h"))
			dog_err("Invalid command '%s %s'", c->name, argv[2]);
		const struct subcommand *subs[64];
		size_t nr = subs_in_order(c, subs, ARRAY_SIZE(subs));

		dog_err("Available %s commands:", c->name);
		for (size_t i = 0; i < nr; i++)
			dog_err("  %s %s", c->name, subs[i]->name);
		return EXIT_USAGE;
	}
	cur_cmd = c;
	cur_sub = s;
	/* getopt sees "<subcommand> [options] args" */
	ret = parse_common(argc - 2, argv + 2, c, s);
	if (ret)
		return ret;
	clock_gettime(CLOCK_MONOTONIC, &start);
	ret = s->fn(argc - 2 - optind, argv + 2 + optind);
	if (ret == EXIT_USAGE)
		sub_usage(stderr, c, s);
	if (show_elapsed) {
		clock_gettime(CLOCK_MONOTONIC, &end);
		printf("\nElapsed time: %.3lf seconds\n", (double)(end.tv_sec - start.tv_sec) +
		       (double)(end.tv_nsec - start.tv_nsec) / 1e9);
	}
	if (conn_fd >= 0)
		close(conn_fd);
	return ret;
}
