/*
 * dog_vdi_admin.c - `dog vdi graph|track|alter-copy`, `vdi object dump-inode`
 * and `vdi lock list`, with Sheepdog's output (scripts read it): graph is
 * Graphviz dot, track the placement of one object in every epoch, and
 * alter-copy changes a standalone VDI's number of copies (the inode, then
 * ALTER_VDI_COPY, after which the sheep bring the objects to that number).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dog.h"
#include "net.h"
#include "ring.h"

/* ---- vdi graph ------------------------------------------------------------ */

static void graph_node(uint32_t vid, const struct sd_inode *inode, void *arg)
{
	time_t t = (time_t)(inode->create_time >> 32);
	char date[32], clock[32], size[32];
	struct tm tm;

	(void)arg;
	localtime_r(&t, &tm);
	strftime(date, sizeof(date), "%Y-%m-%d", &tm);
	strftime(clock, sizeof(clock), "%H:%M:%S", &tm);
	printf("  \"%" PRIx32 "\" -> \"%" PRIx32 "\";\n", inode->parent_vdi_id, vid);
	printf("  \"%" PRIx32 "\" [\n    group = \"%s\",\n    label = \"", vid, inode->name);
	/* "Tag" is the snapshot id (0 for a working VDI), as Sheepdog prints it */
	printf("Name: %10s\\nTag:  %10" PRIx32 "\\nSize: %10s\\nDate: %10s\\nTime: %10s",
	       inode->name, inode->snap_ctime ? inode->snap_id : 0,
	       dog_size_str(inode->vdi_size, size, sizeof(size)), date, clock);
	if (inode->snap_ctime)
		printf("\"\n  ];\n\n");
	else
		printf("\",\n    color=\"red\"\n  ];\n\n");
}

int vdi_graph(int argc, char **argv)
{
	(void)argv;
	if (argc > 0)
		return EXIT_USAGE;
	printf("digraph G {\n  node [shape = \"box\", fontname = \"Courier\"];\n\n"
	       "  \"0\" [shape = \"ellipse\", label = \"root\"];\n\n");
	if (dog_for_each_vdi(graph_node, NULL))
		return EXIT_SYSFAIL;
	printf("}\n");
	return EXIT_SUCCESS;
}

/* ---- vdi track ------------------------------------------------------------ */

/*
 * Where oid lives in every epoch, newest first: the epoch log (STAT_CLUSTER)
 * gives each epoch's members, the ring of those members the holders.  An
 * epoch with fewer members than copies lists them all.
 */
static int track_object(uint64_t oid, uint8_t copies, int nr_nodes, uint32_t epoch)
{
	uint32_t room = (uint32_t)MAX(nr_nodes, 1), nr_logs;
	size_t stride, len;
	char *logs = NULL;
	struct sd_req hdr;
	struct sd_rsp rsp;

	for (;;) {
		stride = sizeof(struct epoch_log) + room * sizeof(struct sd_node);
		len = MAX(epoch, 1) * stride;
		if (len > SD_MAX_PAYLOAD) {
			dog_err("Failed to get the epoch log: too many epochs");
			free(logs);
			return EXIT_FAILURE;
		}
		logs = xrealloc(logs, len);
		dog_init_req(&hdr, SD_OP_STAT_CLUSTER);
		hdr.data_length = (uint32_t)len;
		hdr.cluster.nodes_nr = room;
		if (dog_exec(&hdr, logs, &rsp)) {
			free(logs);
			return EXIT_SYSFAIL;
		}
		if (rsp.result != SD_RES_BUFFER_SMALL)
			break;
		room *= 2;	/* an older epoch had more members */
	}
	if (rsp.result != SD_RES_SUCCESS) {
		printf("%s\n", sd_strerror(rsp.result));
		free(logs);
		return EXIT_SYSFAIL;
	}
	nr_logs = rsp.data_length / (uint32_t)stride;
	for (uint32_t i = 0; i < nr_logs; i++) {
		struct epoch_log *log = (struct epoch_log *)(logs + i * stride);
		int picked[SD_MAX_COPIES], n;
		uint32_t members = MIN(log->nr_nodes, room);
		struct ring *r;
		char name[64];

		printf("\nobj %016" PRIx64 " locations at epoch %" PRIu32 ", copies = %u\n",
		       oid, log->epoch, copies);
		printf("---------------------------------------------------\n");
		if (members < copies) {
			for (uint32_t j = 0; j < members; j++)
				printf("%s\n", node_id_to_str(&log->nodes[j].nid, name, sizeof(name)));
			continue;
		}
		r = ring_build(log->nodes, (int)members, log->epoch);
		n = ring_pick_nodes(r, oid, MIN(copies, SD_MAX_COPIES), picked);
		for (int j = 0; j < n; j++)
			printf("%s\n", node_id_to_str(&r->nodes[picked[j]].nid, name, sizeof(name)));
		ring_free(r);
	}
	free(logs);
	return EXIT_SUCCESS;
}

int vdi_track(int argc, char **argv)
{
	struct sd_inode *inode = xmalloc(SD_INODE_HEADER_SIZE + SD_INODE_INDEX_SIZE);
	struct sd_node *nodes = NULL;
	uint64_t oid = dog_opts.oid;
	uint32_t vid, epoch = 0;
	uint8_t copies;
	int ret, nr;

	if (argc != 1) {
		free(inode);
		return EXIT_USAGE;
	}
	ret = dog_open_vdi(argv[0], &vid);
	if (!ret && dog_read_inode(vid, inode, SD_INODE_HEADER_SIZE + SD_INODE_INDEX_SIZE))
		ret = EXIT_FAILURE;
	if (ret) {
		dog_err("FATAL: no inode objects");
		free(inode);
		return ret == EXIT_SYSFAIL ? EXIT_SYSFAIL : EXIT_FAILURE;
	}
	copies = inode->nr_copies;
	nr = dog_node_list_epoch(&nodes, &epoch);
	free(nodes);
	if (nr < 0) {
		free(inode);
		return EXIT_SYSFAIL;
	}
	if (!oid && !dog_opts.index_set) {
		printf("Tracking the inode object 0x%" PRIx32 " with %d nodes\n", vid, nr);
		oid = vid_to_vdi_oid(vid);
	} else if (!oid) {
		uint32_t idx = dog_opts.index;

		oid = vid_to_data_oid(dog_inode_get_vid(inode, idx), idx);
		printf("Tracking the object %016" PRIx64 " (the inode vid 0x%" PRIx32 " idx %"
		       PRIu32 ") with %d nodes\n", oid, vid, idx, nr);
	} else {
		printf("Tracking the object %016" PRIx64 " (the inode vid 0x%" PRIx32
		       ") with %d nodes\n", oid, vid, nr);
	}
	free(inode);
	return track_object(oid, copies, nr, epoch);
}

/* ---- vdi object dump-inode ------------------------------------------------ */

/* an inode object file of a store, printed field by field */
int vdi_dump_inode(const char *path)
{
	struct sd_inode *inode = xzalloc(sizeof(*inode));
	size_t got = 0;
	int fd = open(path, O_RDONLY);

	if (fd < 0) {
		dog_err("failed to open inode object file: %s", strerror(errno));
		free(inode);
		return EXIT_FAILURE;
	}
	while (got < sizeof(*inode)) {
		ssize_t n = read(fd, (char *)inode + got, sizeof(*inode) - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (got != sizeof(*inode)) {
		dog_err("failed to read inode object file: %s", strerror(errno));
		close(fd);
		free(inode);
		return EXIT_FAILURE;
	}
	close(fd);
	printf("name: %.*s\n", SD_MAX_VDI_LEN, inode->name);
	printf("tag: %.*s\n", SD_MAX_VDI_TAG_LEN, inode->tag);
	printf("create_time: %" PRIx64 "\n", inode->create_time);
	printf("snap_ctime: %" PRIx64 "\n", inode->snap_ctime);
	printf("vm_clock_nsec: %" PRIx64 "\n", inode->vm_clock_nsec);
	printf("vdi_size: %" PRIu64 "\n", inode->vdi_size);
	printf("vm_state_size: %" PRIu64 "\n", inode->vm_state_size);
	printf("copy_policy: %d\n", inode->copy_policy);
	printf("store_policy: %d\n", inode->store_policy);
	printf("nr_copies: %d\n", inode->nr_copies);
	printf("block_size_shift: %d\n", inode->block_size_shift);
	printf("snap_id: %" PRIu32 "\n", inode->snap_id);
	printf("vdi_id: %" PRIx32 "\n", inode->vdi_id);
	printf("parent_vdi_id: %" PRIx32 "\n", inode->parent_vdi_id);
	printf("btree_counter: %" PRIu32 "\n", inode->btree_counter);
	printf("data_vdi_id:\n");
	for (uint32_t i = 0; i < SD_INODE_DATA_INDEX; i++)
		if (inode->data_vdi_id[i])
			printf("%" PRIu32 ": %" PRIx32 "\n", i, inode->data_vdi_id[i]);
	printf("gref:\n");
	for (uint32_t i = 0; i < SD_INODE_DATA_INDEX; i++) {
		if (inode->data_vdi_id[i])
			printf("%" PRIu32 ": %" PRIx32 ", %" PRId32 ", %" PRId32 "\n", i,
			       inode->data_vdi_id[i], inode->gref[i].generation,
			       inode->gref[i].count);
		else if (inode->gref[i].generation || inode->gref[i].count)
			printf("WARNING: index %" PRIu32 " doesn't have data vdi ID but its "
			       "generation and count is not zero(%" PRId32 ", %" PRId32 ")\n", i,
			       inode->gref[i].generation, inode->gref[i].count);
	}
	free(inode);
	return EXIT_SUCCESS;
}

/* ---- vdi lock list -------------------------------------------------------- */

struct lock_states {
	struct sd_vdi_state *vs;
	uint32_t nr;
};

static const struct sd_vdi_state *find_state(const struct lock_states *ls, uint32_t vid)
{
	for (uint32_t i = 0; i < ls->nr; i++)
		if (ls->vs[i].vid == vid)
			return &ls->vs[i];
	return NULL;
}

/* a holder as Sheepdog's node_id_to_str writes it */
static void print_holder(const struct node_id *nid)
{
	char a[64];
	bool v4 = !memcmp(nid->addr, (const uint8_t[12]){ 0 }, 12);

	addr_to_str(nid->addr, a, sizeof(a));
	printf(" %s ip:%s port:%u", v4 ? "IPv4" : "IPv6", a, nid->port);
}

static void lock_row(uint32_t vid, const struct sd_inode *inode, void *arg)
{
	const struct sd_vdi_state *st = find_state(arg, vid);
	bool clone = inode->snap_id == 1 && inode->parent_vdi_id;
	char tag[SD_MAX_VDI_TAG_LEN + 1];

	if (!st || st->lock_state == LOCK_STATE_UNLOCKED)
		return;
	snprintf(tag, sizeof(tag), "%.*s", SD_MAX_VDI_TAG_LEN, inode->tag);
	printf("%c %-8s  %5" PRIu32 "  %6" PRIx32 "  %-13s ",
	       inode->snap_ctime ? 's' : clone ? 'c' : ' ', inode->name,
	       inode->snap_ctime ? inode->snap_id : 0, vid, tag);
	if (st->lock_state == LOCK_STATE_LOCKED) {
		print_holder(&st->lock_owner);
		printf("\n");
		return;
	}
	for (uint32_t j = 0; j < st->nr_participants && j < SD_MAX_COPIES; j++) {
		static const char *const states[] = { "UNKNOWN 0, BUG!", "modified", "shared",
						      "invalidated" };
		uint32_t s = st->participants_state[j];

		print_holder(&st->participants[j]);
		if (s < ARRAY_SIZE(states) && s)
			printf("(%s)", states[s]);
		else
			printf("(UNKNOWN %" PRIu32 ", BUG!)", s);
	}
	printf("\n");
}

/*
 * Sheepdog's table: one row per locked VDI (vid order), its holder, or each
 * holder of a shared lock with its state; from the VDI states (GET_VDI_COPIES)
 */
int vdi_lock_list(void)
{
	uint32_t len = 512 * sizeof(struct sd_vdi_state);
	struct lock_states ls = { 0 };
	struct sd_req hdr;
	struct sd_rsp rsp;
	int ret;

	for (;;) {
		ls.vs = xrealloc(ls.vs, len);
		dog_init_req(&hdr, SD_OP_GET_VDI_COPIES);
		hdr.data_length = len;
		if (dog_exec(&hdr, ls.vs, &rsp)) {
			dog_err("Failed to get VDI state");
			free(ls.vs);
			return EXIT_SYSFAIL;
		}
		if (rsp.result != SD_RES_BUFFER_SMALL || len > SD_MAX_PAYLOAD / 2)
			break;
		len *= 2;
	}
	if (rsp.result != SD_RES_SUCCESS) {
		dog_err("failed to execute SD_OP_GET_VDI_COPIES: %s", sd_strerror(rsp.result));
		dog_err("Failed to get VDI state");
		free(ls.vs);
		return EXIT_SYSFAIL;
	}
	ls.nr = rsp.data_length / (uint32_t)sizeof(*ls.vs);
	printf("  Name         Id  VDI id  Tag            Owner node(s)\n");
	ret = dog_for_each_vdi(lock_row, &ls) ? EXIT_SYSFAIL : EXIT_SUCCESS;
	free(ls.vs);
	return ret;
}

/* ---- vdi alter-copy ------------------------------------------------------- */

struct family_scan {
	uint32_t vid;
	const char *name;
	bool has_child;
};

static void find_child(uint32_t vid, const struct sd_inode *inode, void *arg)
{
	struct family_scan *f = arg;

	/* Sheepdog's tree: a child is a later VDI of the same name (snapshots) */
	if (inode->parent_vdi_id == f->vid && vid > f->vid &&
	    !strncmp(inode->name, f->name, SD_MAX_VDI_LEN))
		f->has_child = true;
}

#define ALTER_COPY_CAUTION \
	"    __\n" \
	"   ()'`;\n" \
	"   /\\|`  Caution! Changing VDI's redundancy level will affect\n" \
	"  /  |   the VDI itself only and trigger recovery.\n" \
	"(/_)_|_  Are you sure you want to continue? [yes/no]: "

/* write n bytes at off of vid's inode: a result code */
static int write_inode(uint32_t vid, const void *buf, uint32_t n, uint32_t off)
{
	return dog_write_object(vid_to_vdi_oid(vid), 0, buf, n, off, false);
}

/*
 * "vdi alter-copy [-c copies] [-f] <vdi>", Sheepdog's checks and words: a
 * standalone VDI (no parent, no snapshots) only.  The inode says the new
 * number first, then ALTER_VDI_COPY has every sheep place the VDI's objects
 * on that many nodes; if the sheep refuses, the inode gets its old number
 * back (Sheepdog's dog leaves the new one there).
 */
int vdi_alter_copy(int argc, char **argv)
{
	struct sd_inode *inode = xmalloc(SD_INODE_HEADER_SIZE);
	struct family_scan fam = { 0 };
	uint32_t off = (uint32_t)offsetof(struct sd_inode, nr_copies), vid;
	struct sd_node *nodes = NULL;
	uint8_t copies, old;
	struct sd_req hdr;
	struct sd_rsp rsp;
	int ret = EXIT_FAILURE, nr, r;

	if (argc != 1) {
		ret = EXIT_USAGE;
		goto out;
	}
	if (dog_opts.copies <= 0) {
		dog_opts.copies = SD_DEFAULT_COPIES;
		printf("The vdi's redundancy level is not specified, use %d as default.\n",
		       SD_DEFAULT_COPIES);
	}
	copies = (uint8_t)dog_opts.copies;
	nr = dog_node_list(&nodes);
	free(nodes);
	if (nr < 0) {
		ret = EXIT_SYSFAIL;
		goto out;
	}
	if (!dog_opts.force && copies > nr) {
		char q[256];

		snprintf(q, sizeof(q), "Number of copies (%d) is larger than number of nodes "
			 "(%d).\nAre you sure you want to continue? [yes/no]: ", copies, nr);
		if (!dog_confirm(q)) {
			ret = EXIT_SUCCESS;
			goto out;
		}
	}
	dog_opts.snapshot = NULL;	/* the working VDI, as Sheepdog's */
	if (dog_open_vdi(argv[0], &vid) || dog_read_inode(vid, inode, SD_INODE_HEADER_SIZE)) {
		dog_err("Reading %s's vdi object failure.", argv[0]);
		goto out;
	}
	if (inode->copy_policy) {
		dog_err("%s's copy policy is erasure code, changing it is not supported yet.",
			argv[0]);
		goto out;
	}
	old = inode->nr_copies;
	if (old == copies) {
		dog_err("%s's redundancy level is already set to %d, nothing changed.", argv[0],
			old);
		goto out;
	}
	fam.vid = vid;
	fam.name = inode->name;
	if (dog_for_each_vdi(find_child, &fam)) {
		ret = EXIT_SYSFAIL;
		goto out;
	}
	if (inode->parent_vdi_id || fam.has_child) {
		dog_err("Only standalone vdi supports changing redundancy level.");
		dog_err("Please clone %s with -n (--no-share) option first.", argv[0]);
		goto out;
	}
	if (!dog_opts.force && !dog_confirm(ALTER_COPY_CAUTION)) {
		ret = EXIT_SUCCESS;
		goto out;
	}
	r = write_inode(vid, &copies, 1, off);
	if (r) {
		dog_err("Overwrite the vdi object's header of %s failure while setting its "
			"redundancy level.", argv[0]);
		goto out;
	}
	dog_init_req(&hdr, SD_OP_ALTER_VDI_COPY);
	hdr.vdi_state.new_vid = vid;
	hdr.vdi_state.copies = copies;
	hdr.vdi_state.block_size_shift = inode->block_size_shift;
	if (dog_exec(&hdr, NULL, &rsp)) {
		dog_err("Changing %s's redundancy level failure.", argv[0]);
		ret = EXIT_SYSFAIL;
		goto out;
	}
	if (rsp.result != SD_RES_SUCCESS) {
		dog_err("Response's result: %s", sd_strerror(rsp.result));
		dog_err("Changing %s's redundancy level failure.", argv[0]);
		if (write_inode(vid, &old, 1, off))
			dog_err("%s's inode still says %d copies", argv[0], copies);
		goto out;
	}
	dog_err("%s's redundancy level is set to %d, the old one was %d.", argv[0], copies, old);
	ret = EXIT_SUCCESS;
out:
	free(inode);
	return ret;
}
