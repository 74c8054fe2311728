/*
 * dog_cluster.c - `dog cluster ...` and `dog node ...`: format, info,
 * shutdown, check, alter-copy, recover; node list and per-node capacity.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dog.h"
#include "net.h"

static bool cluster_has_vdis(void)
{
	uint8_t *bitmap = xzalloc(SD_VDI_BITMAP_SIZE);
	struct sd_req hdr;
	struct sd_rsp rsp;
	bool found = false;

	dog_init_req(&hdr, SD_OP_READ_VDIS);
	hdr.data_length = SD_VDI_BITMAP_SIZE;
	if (dog_exec(&hdr, bitmap, &rsp) == 0 && rsp.result == SD_RES_SUCCESS)
		for (size_t i = 0; i < SD_VDI_BITMAP_SIZE && !found; i++)
			found = bitmap[i] != 0;
	free(bitmap);
	return found;
}

/*
 * Sheepdog's check before a format: every storing node must run the vnodes
 * strategy asked for (-V: fixed, else auto), as its CLUSTER_INFO says; 0 or
 * an exit code, message printed.  Ours: a node dog cannot reach at its
 * listed address (a cluster reached through a forwarded port, as the
 * appliance's) is judged by the addressed node's answer.
 */
static int check_vnodes_strategy(void)
{
	size_t len = sizeof(struct cluster_info) + sizeof(struct sd_node) * SD_MAX_NODES;
	struct cluster_info *ci;
	struct sd_node *nodes;
	int nr, ret = 0;

	nr = dog_node_list(&nodes);
	if (nr < 0) {
		free(nodes);
		return EXIT_SYSFAIL;
	}
	ci = xzalloc(len);
	for (int i = 0; i < nr && !ret; i++) {
		struct sd_req hdr;
		struct sd_rsp rsp;
		bool is_auto;

		dog_init_req(&hdr, SD_OP_CLUSTER_INFO);
		hdr.data_length = (uint32_t)len;
		dog_node_quiet = true;
		ret = dog_exec_node(&nodes[i].nid, &hdr, ci, &rsp);
		dog_node_quiet = false;
		if (ret) {
			dog_init_req(&hdr, SD_OP_CLUSTER_INFO);
			hdr.data_length = (uint32_t)len;
			ret = dog_exec(&hdr, ci, &rsp);
		}
		if (ret) {
			dog_err("Fail to execute request");
			ret = EXIT_FAILURE;
		} else if (rsp.result != SD_RES_SUCCESS) {
			dog_err("%s", sd_strerror(rsp.result));
			ret = EXIT_FAILURE;
		} else if (nodes[i].nr_vnodes) {	/* a gateway has no strategy */
			is_auto = ci->flags & SD_CLUSTER_FLAG_AUTO_VNODES;
			if (is_auto && dog_opts.fixed_vnodes) {
				dog_err("Can not apply the option of '-V', because there are vnode "
					"strategy of sheep is auto in the cluster");
				ret = EXIT_FAILURE;
			} else if (!is_auto && !dog_opts.fixed_vnodes) {
				dog_err("Need to specify the option of '-V', because there are vnode "
					"strategy of sheep is fixed in the cluster");
				ret = EXIT_FAILURE;
			}
		}
	}
	free(ci);
	free(nodes);
	return ret;
}

bool dog_vnodes_auto(void)
{
	size_t len = sizeof(struct cluster_info) + sizeof(struct sd_node) * SD_MAX_NODES;
	struct cluster_info *ci = xzalloc(len);
	struct sd_req hdr;
	struct sd_rsp rsp;
	bool is_auto = true;

	dog_init_req(&hdr, SD_OP_CLUSTER_INFO);
	hdr.data_length = (uint32_t)len;
	if (!dog_exec(&hdr, ci, &rsp) && rsp.result == SD_RES_SUCCESS)
		is_auto = ci->flags & SD_CLUSTER_FLAG_AUTO_VNODES;
	free(ci);
	return is_auto;
}

static int cluster_format(int argc, char **argv)
{
	struct sd_req hdr;
	struct sd_rsp rsp;
	char store[SD_MAX_STORE_NAME] = "plain";
	int ret;

	(void)argv;
	if (argc > 0)
		return EXIT_USAGE;
	if (dog_opts.store) {
		if (strcmp(dog_opts.store, "plain") && strcmp(dog_opts.store, "tree")) {
			dog_err("Format failed: %s", sd_strerror(SD_RES_NO_STORE));
			printf("Available stores:\n---------------------------------------\n"
			       "plain\ntree\n");
			return EXIT_SYSFAIL;
		}
		snprintf(store, sizeof(store), "%s", dog_opts.store);
	}
	ret = check_vnodes_strategy();
	if (ret)
		return ret;
	if (!dog_opts.force && cluster_has_vdis() &&
	    !dog_confirm("    __\n   ()'`;\n   /\\|`\n"
		     "  /  |   Caution! The cluster is not empty.\n"
		     "(/_)_|_  Are you sure you want to continue? [yes/no]: "))
		return EXIT_SUCCESS;
	dog_init_req(&hdr, SD_OP_MAKE_FS);
	hdr.flags = SD_FLAG_CMD_WRITE;
	hdr.data_length = (uint32_t)strlen(store) + 1;
	hdr.cluster.copies = (uint8_t)(dog_opts.copies > 0 ? dog_opts.copies : SD_DEFAULT_COPIES);
	hdr.cluster.ctime = now_ctime();
	hdr.cluster.block_size_shift = (uint8_t)(dog_opts.bss > 0 ? dog_opts.bss :
						 SD_DEFAULT_BLOCK_SIZE_SHIFT);
	if (dog_opts.lock)
		hdr.cluster.flags |= SD_CLUSTER_FLAG_USE_LOCK;
	if (dog_opts.strict)
		hdr.cluster.flags |= SD_CLUSTER_FLAG_STRICT;
	if (dog_opts.recycle_vid)
		hdr.cluster.flags |= SD_CLUSTER_FLAG_RECYCLE_VID;
	if (!dog_opts.fixed_vnodes)
		hdr.cluster.flags |= SD_CLUSTER_FLAG_AUTO_VNODES;
	printf("using backend %s store\n", store);
	if (dog_exec(&hdr, store, &rsp))
		return EXIT_SYSFAIL;
	if (rsp.result != SD_RES_SUCCESS) {
		dog_err("Format failed: %s", sd_strerror(rsp.result));
		return EXIT_SYSFAIL;
	}
	return EXIT_SUCCESS;
}

static void format_nodes(const struct sd_node *nodes, uint32_t nr, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (uint32_t i = 0; i < nr && off < len; i++) {
		char a[64];

		addr_to_str(nodes[i].nid.addr, a, sizeof(a));
		off += (size_t)snprintf(buf + off, len - off, "%s%s:%u:%u", i ? ", " : "", a,
					nodes[i].nid.port, nodes[i].nr_vnodes);
	}
}

/*
 * STAT_CLUSTER into *buf: entries of stride bytes (room for *room nodes each),
 * every epoch if the payload allows; 0, or -1 if the sheep was not reached
 */
static int stat_cluster(char **buf, uint32_t *room, struct sd_rsp *rsp)
{
	uint64_t epochs = 64;

	for (*room = 16;;) {
		uint64_t stride = sizeof(struct epoch_log) + sizeof(struct sd_node) * *room;
		uint64_t len = MIN(epochs * stride, SD_MAX_PAYLOAD / stride * stride);
		struct sd_req hdr;

		*buf = xrealloc(*buf, len);
		memset(*buf, 0, len);
		dog_init_req(&hdr, SD_OP_STAT_CLUSTER);
		hdr.data_length = (uint32_t)len;
		hdr.cluster.nodes_nr = *room;
		if (dog_exec(&hdr, *buf, rsp))
			return -1;
		if (rsp->result == SD_RES_BUFFER_SMALL && *room < SD_MAX_NODES)
			*room = MIN(*room * 2, SD_MAX_NODES);	/* an epoch of more nodes */
		else if (rsp->data_length == len && len == epochs * stride && rsp->epoch > epochs)
			epochs = rsp->epoch;			/* more epochs than asked for */
		else
			return 0;
	}
}

static int cluster_info(int argc, char **argv)
{
	struct sd_rsp rsp;
	char *buf = NULL, *nodes_str = xzalloc(65536);
	size_t off = 0, stride;
	uint32_t room;
	int ret = EXIT_SUCCESS;

	(void)argv;
	if (argc > 0)
		return EXIT_USAGE;
	if (stat_cluster(&buf, &room, &rsp)) {
		ret = EXIT_SYSFAIL;
		goto out;
	}
	stride = sizeof(struct epoch_log) + sizeof(struct sd_node) * room;
	if (!dog_opts.raw)
		printf("Cluster status: ");
	if (rsp.result == SD_RES_SUCCESS)
		printf("running, auto-recovery %s\n",
		       rsp.data_length >= sizeof(struct epoch_log) &&
		       ((const struct epoch_log *)buf)->disable_recovery ? "disabled" : "enabled");
	else
		printf("%s\n", sd_strerror(rsp.result));
	if (dog_opts.verbose) {
		/* the reference's lines; -r drops the labels */
		const struct epoch_log *log = (const struct epoch_log *)buf;
		char copy[16];

		if (!log->copy_policy)
			snprintf(copy, sizeof(copy), "%u", log->nr_copies);
		else
			snprintf(copy, sizeof(copy), "%d:%d", log->copy_policy >> 4,
				 log->copy_policy & 0xf);
		printf("%s", dog_opts.raw ? "" : "Cluster store: ");
		if (rsp.result == SD_RES_SUCCESS) {
			printf("%.*s with %s redundancy policy\n", (int)sizeof(log->drv_name),
			       log->drv_name, copy);
			printf("%s%s\n", dog_opts.raw ? "" : "Cluster vnodes strategy: ",
			       log->flags & SD_CLUSTER_FLAG_AUTO_VNODES ? "auto" : "fixed");
		} else {
			printf("%s\n", sd_strerror(rsp.result));
		}
		printf("%s%s\n", dog_opts.raw ? "" : "Cluster vnode mode: ",
		       log->flags & SD_CLUSTER_FLAG_DISKMODE ? "disk" : "node");
	} else {
		putchar('\n');
	}
	if (rsp.data_length < sizeof(struct epoch_log))
		goto out;
	if (!dog_opts.raw) {
		const struct epoch_log *log = (const struct epoch_log *)buf;
		time_t ct = (time_t)(log->ctime >> 32);

		/* ctime() ends in a newline: the reference prints a blank line here */
		printf("Cluster created at %s\n", ctime(&ct));
		printf("Epoch Time           Version [Host:Port:V-Nodes,,,]\n");
	}
	for (; off + stride <= rsp.data_length; off += stride) {
		const struct epoch_log *log = (const struct epoch_log *)(buf + off);
		time_t t = (time_t)log->time;
		char tbuf[64];

		if (log->nr_nodes > room)
			break;
		if (dog_opts.raw)
			snprintf(tbuf, sizeof(tbuf), "%" PRIu64, (uint64_t)t);
		else
			strftime(tbuf, sizeof(tbuf), "%Y-%m-%d %H:%M:%S", localtime(&t));
		format_nodes(log->nodes, log->nr_nodes, nodes_str, 65536);
		printf(dog_opts.raw ? "%s %" PRIu32 " [%s]\n" : "%s %6" PRIu32 " [%s]\n", tbuf,
		       log->epoch, nodes_str);
	}
out:
	free(buf);
	free(nodes_str);
	return ret;
}

static int cluster_shutdown(int argc, char **argv)
{
	struct sd_req hdr;
	struct sd_rsp rsp;

	(void)argv;
	if (argc > 0)
		return EXIT_USAGE;
	dog_init_req(&hdr, SD_OP_SHUTDOWN);
	if (dog_exec(&hdr, NULL, &rsp) || rsp.result != SD_RES_SUCCESS) {
		dog_err("failed to execute request");
		return EXIT_FAILURE;
	}
	return EXIT_SUCCESS;
}

static int node_list(int argc, char **argv)
{
	struct sd_node *nodes;
	int nr;

	(void)argv;
	if (argc > 0)
		return EXIT_USAGE;
	nr = dog_node_list(&nodes);
	if (nr < 0) {
		free(nodes);
		return EXIT_SYSFAIL;
	}
	if (!dog_opts.raw)
		printf("  Id   Host:Port         V-Nodes       Zone%s\n",
		       dog_opts.show_io ? "   IO Host:Port" : "");
	for (int i = 0; i < nr; i++) {
		const struct node_id *nid = &nodes[i].nid;
		char a[64], hp[96], io[96] = "-";

		addr_to_str(nid->addr, a, sizeof(a));
		snprintf(hp, sizeof(hp), "%s:%u", a, nid->port);
		if (nid->io_port) {
			addr_to_str(nid->io_addr, a, sizeof(a));
			snprintf(io, sizeof(io), "%s:%u", a, nid->io_port);
		}
		if (dog_opts.raw)
			printf("%d %s %u %u", i, hp, nodes[i].nr_vnodes, nodes[i].zone);
		else
			printf("%4d   %-20s\t%2u%11u", i, hp, nodes[i].nr_vnodes, nodes[i].zone);
		if (dog_opts.show_io)
			printf(dog_opts.raw ? " %s" : "   %s", io);
		printf("\n");
	}
	free(nodes);
	return EXIT_SUCCESS;
}

static void add_vdi_size(uint32_t vid, const struct sd_inode *inode, void *arg)
{
	(void)vid;
	if (!inode->snap_ctime)
		*(uint64_t *)arg += inode->vdi_size;
}

static int node_info(int argc, char **argv)
{
	struct sd_node *nodes;
	uint64_t total_size = 0, total_avail = 0, total_vdi = 0;
	char s1[32], s2[32], s3[32], s4[32];
	int nr, success = 0;

	(void)argv;
	if (argc > 0)
		return EXIT_USAGE;
	nr = dog_node_list(&nodes);
	if (nr < 0) {
		free(nodes);
		return EXIT_SYSFAIL;
	}
	if (!dog_opts.raw)
		printf("Id\tSize\tUsed\tAvail\tUse%%\n");
	for (int i = 0; i < nr; i++) {
		struct sd_req hdr;
		struct sd_rsp rsp;
		uint64_t size, avail;
		char failed[160] = "";

		/* ours: a node whose store failed says why (Sheepdog's sheep answers nothing) */
		dog_init_req(&hdr, SD_OP_STAT_SHEEP);
		hdr.data_length = sizeof(failed) - 1;
		if (dog_exec_node(&nodes[i].nid, &hdr, failed, &rsp))
			continue;
		if (rsp.result != SD_RES_SUCCESS) {
			dog_err("Response's result: %s", sd_strerror(rsp.result));
			continue;
		}
		failed[MIN(rsp.data_length, sizeof(failed) - 1)] = '\0';
		size = rsp.node.store_size;
		avail = rsp.node.store_free;
		printf(dog_opts.raw ? "%d %s %s %s %d%%" : "%2d\t%s\t%s\t%s\t%3d%%", i,
		       dog_size_str(size, s1, sizeof(s1)), dog_size_str(size - avail, s2, sizeof(s2)),
		       dog_size_str(avail, s3, sizeof(s3)),
		       size ? (int)((double)(size - avail) / (double)size * 100) : 0);
		if (failed[0] && dog_opts.raw)
			printf(" store-failed");
		else if (failed[0])
			printf("\tstore failed, gateway now (%s)", failed);
		printf("\n");
		total_size += size;
		total_avail += avail;
		success++;
	}
	free(nodes);
	if (!success) {
		dog_err("Cannot get information from any nodes");
		return EXIT_SYSFAIL;
	}
	if (dog_for_each_vdi(add_vdi_size, &total_vdi))
		return EXIT_SYSFAIL;
	printf(dog_opts.raw ? "Total %s %s %s %d%% %s\n" :
			      "Total\t%s\t%s\t%s\t%3d%%\n\nTotal virtual image size\t%s\n",
	       dog_size_str(total_size, s1, sizeof(s1)),
	       dog_size_str(total_size - total_avail, s2, sizeof(s2)),
	       dog_size_str(total_avail, s3, sizeof(s3)),
	       total_size ? (int)((double)(total_size - total_avail) / (double)total_size * 100) :
			    0,
	       dog_size_str(total_vdi, s4, sizeof(s4)));
	return EXIT_SUCCESS;
}

static int cluster_reweight(int argc, char **argv)
{
	struct sd_req hdr;
	struct sd_rsp rsp;

	(void)argv;
	if (argc > 0)
		return EXIT_USAGE;
	dog_init_req(&hdr, SD_OP_REWEIGHT);
	if (dog_exec(&hdr, NULL, &rsp))
		return EXIT_FAILURE;
	if (rsp.result != SD_RES_SUCCESS) {
		dog_err("Response's result: %s", sd_strerror(rsp.result));	/* Sheepdog's */
		return EXIT_FAILURE;
	}
	return EXIT_SUCCESS;
}

/* "node vnodes [set N]": show or fix the vnodes of the node addressed */
static int node_vnodes(int argc, char **argv)
{
	struct sd_req hdr;
	struct sd_rsp rsp;
	uint32_t v = 0;
	uint64_t n;
	int ret;

	if (argc == 0) {
		dog_init_req(&hdr, SD_OP_GET_VNODES);
		hdr.data_length = sizeof(v);
		ret = dog_call(&hdr, &v, &rsp, "get vnodes");
		if (!ret)
			printf("%" PRIu32 "\n", v);
		return ret;
	}
	if (strcmp(argv[0], "set")) {
		dog_usage_stderr();	/* Sheepdog: an unknown subcommand fails with 1 */
		return EXIT_FAILURE;
	}
	if (argc != 2)
		return EXIT_USAGE;
	if (parse_uint(argv[1], 65535, &n) || !n) {
		/* Sheepdog's words; it exits 64 without the usage */
		dog_err("Invalid number of vnodes '%s': must be an integer between 1 and 65535",
			argv[1]);
		exit(EXIT_USAGE);
	}
	v = (uint32_t)n;
	dog_init_req(&hdr, SD_OP_SET_VNODES);
	hdr.flags = SD_FLAG_CMD_WRITE;
	hdr.data_length = sizeof(v);
	/* Sheepdog's dog says no more, whatever the reason (auto vnodes...), and exits -1 */
	if (dog_exec(&hdr, &v, &rsp) || rsp.result != SD_RES_SUCCESS) {
		dog_err("Failed to execute request");
		return 255;
	}
	return EXIT_SUCCESS;
}

/*
 * "cluster recover force [-f]": Sheepdog's caution (unless -f), then
 * FORCE_RECOVER; a running cluster answers that it cannot be
 */
static int cluster_force_recover(void)
{
	struct sd_req hdr;
	struct sd_rsp rsp;
	struct sd_node *nodes;
	int ret = EXIT_SUCCESS;

	if (!dog_opts.force &&
	    !dog_confirm("Caution! Please try starting all the cluster nodes normally before\n"
			 "running this command.\n\n"
			 "The cluster may need to be force recovered if:\n"
			 "  - the master node fails to start because of epoch mismatch; or\n"
			 "  - some nodes fail to start after a cluster shutdown.\n\n"
			 "Are you sure you want to continue? [yes/no]: "))
		return EXIT_SUCCESS;
	nodes = xzalloc(sizeof(*nodes) * SD_MAX_NODES);
	dog_init_req(&hdr, SD_OP_FORCE_RECOVER);
	hdr.data_length = sizeof(*nodes) * SD_MAX_NODES;
	if (dog_exec(&hdr, nodes, &rsp)) {
		ret = EXIT_SYSFAIL;
	} else if (rsp.result != SD_RES_SUCCESS) {
		dog_err("failed to execute request, %s", sd_strerror(rsp.result));
		ret = EXIT_FAILURE;
	}
	free(nodes);
	return ret;
}

/* "cluster recover force|enable|disable": automatic recovery on or off, cluster-wide */
static int cluster_recover(int argc, char **argv)
{
	struct sd_req hdr;
	struct sd_rsp rsp;
	uint8_t op;

	if (argc < 1)
		return EXIT_USAGE;
	if (!strcmp(argv[0], "force"))
		return argc > 1 ? EXIT_USAGE : cluster_force_recover();
	if (!strcmp(argv[0], "enable")) {
		op = SD_OP_ENABLE_RECOVER;
	} else if (!strcmp(argv[0], "disable")) {
		op = SD_OP_DISABLE_RECOVER;
	} else {
		/* Sheepdog prints the usage for an unknown one and fails (not 64) */
		dog_usage_stderr();
		return EXIT_FAILURE;
	}
	dog_init_req(&hdr, op);
	if (dog_exec(&hdr, NULL, &rsp))
		return EXIT_FAILURE;
	if (rsp.result != SD_RES_SUCCESS) {
		dog_err("Response's result: %s", sd_strerror(rsp.result));
		return EXIT_FAILURE;
	}
	/* Sheepdog's words, which scripts may read */
	printf("Cluster recovery: %s\n", op == SD_OP_ENABLE_RECOVER ? "enable" : "disable");
	return EXIT_SUCCESS;
}

/* a throttle operand as Sheepdog's dog takes it: decimal, 0 .. max */
static bool parse_throttle_arg(const char *s, uint64_t max, uint64_t *v)
{
	char *end;

	if (!s || !*s || *s == '-' || *s == '+')
		return false;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return !errno && !*end && *v <= max;
}

/* "node recovery set-throttle <max> <interval>": at most max objects per interval ms */
static int node_recovery_set_throttle(int argc, char **argv)
{
	struct recovery_throttling t = { 0 };
	struct sd_req hdr;
	struct sd_rsp rsp;
	uint64_t max, interval;

	if (argc == 0)
		return EXIT_USAGE;
	if (argc == 1) {
		dog_err("Invalid interval max (%s), interval ((null))", argv[0]);
		return EXIT_USAGE;
	}
	if (!parse_throttle_arg(argv[0], UINT32_MAX, &max)) {
		dog_err("Invalid max (%s)", argv[0]);
		return EXIT_USAGE;
	}
	if (!parse_throttle_arg(argv[1], INT64_MAX, &interval)) {
		dog_err("Invalid interval (%s)", argv[1]);
		return EXIT_USAGE;
	}
	if (!max != !interval) {
		dog_err("Invalid interval max (%" PRIu64 "), interval (%" PRIu64 ")", max, interval);
		return EXIT_USAGE;
	}
	t.max_exec_count = (uint32_t)max;
	t.queue_work_interval = interval;
	t.throttling = max && interval;
	dog_init_req(&hdr, SD_OP_SET_RECOVERY);
	hdr.flags = SD_FLAG_CMD_WRITE;
	hdr.data_length = sizeof(t);
	if (dog_exec(&hdr, &t, &rsp))
		return EXIT_SYSFAIL;
	if (rsp.result != SD_RES_SUCCESS) {
		dog_err("Failed to execute request");
		return 255;	/* Sheepdog's dog returns -1 here */
	}
	return EXIT_SUCCESS;
}

/* "node recovery get-throttle": printed on stderr, as Sheepdog's dog logs it */
static int node_recovery_get_throttle(void)
{
	struct recovery_throttling t = { 0 };
	struct sd_req hdr;
	struct sd_rsp rsp;

	dog_init_req(&hdr, SD_OP_GET_RECOVERY);
	hdr.data_length = sizeof(t);
	if (dog_exec(&hdr, &t, &rsp))
		return EXIT_SYSFAIL;
	if (rsp.result != SD_RES_SUCCESS) {
		dog_err("Failed to execute request");
		return 255;
	}
	dog_err("max (%" PRIu32 "), interval (%" PRIu64 ")", t.max_exec_count,
		t.queue_work_interval);
	return EXIT_SUCCESS;
}

/* STAT_RECOVERY of the node addressed; why: ours, the reason a stopped one gives */
static int recovery_state_of(struct recovery_state *st, char *why, size_t len)
{
	struct {
		struct recovery_state st;
		char reason[128];
	} buf = { 0 };
	struct sd_req hdr;
	struct sd_rsp rsp;

	dog_init_req(&hdr, SD_OP_STAT_RECOVERY);
	hdr.data_length = sizeof(buf);
	if (dog_exec(&hdr, &buf, &rsp)) {
		dog_err("Failed to execute request");
		return -1;
	}
	if (rsp.result != SD_RES_SUCCESS) {
		dog_err("%s", sd_strerror(rsp.result));
		return -1;
	}
	*st = buf.st;
	buf.reason[sizeof(buf.reason) - 1] = '\0';
	snprintf(why, len, "%s", buf.reason);
	return 0;
}

/* Sheepdog's progress bar, on a terminal only: "  42.0 % [===>   ] done / total" */
static void show_progress(uint64_t done, uint64_t total)
{
	struct winsize ws;
	char *line;
	int width, bar, n;

	if (!isatty(STDOUT_FILENO) || ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) || !ws.ws_col)
		return;
	width = ws.ws_col;
	bar = width - 30;
	line = xzalloc((size_t)width + 1);
	n = snprintf(line, (size_t)width, "%5.1lf %% [",
		     total ? (double)done / (double)total * 100 : 100.0);
	for (int i = 0; i < bar && n < width - 1; i++) {
		uint64_t lo = total * (uint64_t)i / (uint64_t)bar;
		uint64_t hi = total * (uint64_t)(i + 1) / (uint64_t)bar;

		line[n++] = hi <= done ? '=' : lo <= done ? '>' : ' ';
	}
	if (n < width)
		snprintf(line + n, (size_t)(width - n), "] %" PRIu64 " / %" PRIu64, done, total);
	n = (int)strlen(line);
	memset(line + n, ' ', (size_t)(width - n));
	printf("\r%s", line);
	if (done == total)
		printf("\n");
	fflush(stdout);
	free(line);
}

/* "node recovery -P": follow the addressed node's recovery until it ends */
static int node_recovery_progress(void)
{
	struct recovery_state st;
	uint64_t prev_total;
	char why[128];

	if (recovery_state_of(&st, why, sizeof(why)))
		return EXIT_SYSFAIL;
	if (!st.in_recovery)
		return EXIT_SUCCESS;	/* Sheepdog's: nothing to show, nothing said */
	for (;;) {
		prev_total = st.nr_total;
		if (recovery_state_of(&st, why, sizeof(why)))
			return EXIT_SYSFAIL;
		if (!st.in_recovery) {
			show_progress(prev_total, prev_total);
			return EXIT_SUCCESS;
		}
		switch (st.state) {
		case 0:
			printf("\rpreparing a checked object list...");
			break;
		case 1:
			show_progress(st.nr_finished, st.nr_total);
			break;
		case 2:
			printf("\rnotifying a completion of recovery...");
			break;
		default:	/* ours: stopped, with the reason */
			printf("\n");
			dog_err("recovery stopped: %s", why);
			return EXIT_FAILURE;
		}
		fflush(stdout);
		sleep(1);
	}
}

/*
 * "node recovery [info]": the nodes still recovering, with their progress;
 * "node recovery set-throttle|get-throttle": the node's recovery throttling
 */
static int node_recovery(int argc, char **argv)
{
	struct sd_node *nodes;
	int nr, ret = EXIT_SUCCESS;

	if (argc > 0 && !strcmp(argv[0], "set-throttle"))
		return node_recovery_set_throttle(argc - 1, argv + 1);
	if (argc == 1 && !strcmp(argv[0], "get-throttle"))
		return node_recovery_get_throttle();
	if (argc == 1 && !strcmp(argv[0], "info"))
		argc = 0;
	if (argc > 0)
		return EXIT_USAGE;
	if (dog_opts.progress)
		return node_recovery_progress();
	nr = dog_node_list(&nodes);
	if (nr < 0) {
		free(nodes);
		return EXIT_SYSFAIL;
	}
	if (!dog_opts.raw) {
		printf("Nodes In Recovery:\n");
		printf("  Id   Host:Port         V-Nodes       Zone       Progress\n");
	}
	for (int i = 0; i < nr; i++) {
		struct {
			struct recovery_state st;
			char reason[128];
		} buf = { 0 };
		struct sd_req hdr;
		struct sd_rsp rsp;
		char a[64], hp[96], prog[160];

		dog_init_req(&hdr, SD_OP_STAT_RECOVERY);
		hdr.data_length = sizeof(buf);
		if (dog_exec_node(&nodes[i].nid, &hdr, &buf, &rsp) ||
		    rsp.result != SD_RES_SUCCESS) {
			ret = EXIT_SYSFAIL;
			continue;
		}
		if (!buf.st.in_recovery)
			continue;
		addr_to_str(nodes[i].nid.addr, a, sizeof(a));
		snprintf(hp, sizeof(hp), "%s:%u", a, nodes[i].nid.port);
		buf.reason[sizeof(buf.reason) - 1] = '\0';
		if (buf.st.state == 3)
			snprintf(prog, sizeof(prog), "stopped: %s", buf.reason);
		else
			snprintf(prog, sizeof(prog), "%.1f%%",
				 buf.st.nr_total ? 100.0 * (double)buf.st.nr_finished /
						   (double)buf.st.nr_total : 0.0);
		if (dog_opts.raw)
			printf("%d %s %u %u %" PRIu64 " %" PRIu64 " %s\n", i, hp, nodes[i].nr_vnodes,
			       nodes[i].zone, buf.st.nr_finished, buf.st.nr_total,
			       buf.st.state == 3 ? "stopped" : "recovering");
		else
			printf("%4d   %-20s%5u%11u%15s\n", i, hp, nodes[i].nr_vnodes,
			       nodes[i].zone, prog);
	}
	free(nodes);
	return ret;
}

/* one node's store directories (ours: one), as Sheepdog's dog prints them; NULL: -a/-p's */
static int md_info_node(const struct node_id *nid)
{
	struct sd_md_info *info = xzalloc(sizeof(*info));
	struct sd_req hdr;
	struct sd_rsp rsp;
	char hp[96];

	dog_init_req(&hdr, SD_OP_MD_INFO);
	hdr.data_length = sizeof(*info);
	if (nid)
		node_id_to_str(nid, hp, sizeof(hp));
	else
		snprintf(hp, sizeof(hp), "%s:%d", dog_opts.addr, dog_opts.port);
	if (nid ? dog_exec_node(nid, &hdr, info, &rsp) : dog_exec(&hdr, info, &rsp)) {
		free(info);
		return EXIT_SYSFAIL;
	}
	if (rsp.result != SD_RES_SUCCESS) {
		dog_err("failed to get multi-disk information: %s", sd_strerror(rsp.result));
		free(info);
		return EXIT_FAILURE;
	}
	for (int i = 0; i < info->nr && i < MD_MAX_DISK; i++) {
		const struct md_info *d = &info->disk[i];
		uint64_t size = d->free + d->used;
		int ratio = size ? (int)((double)d->used / (double)size * 100) : 0;
		char s1[32], s2[32], s3[32];

		dog_size_str(size, s1, sizeof(s1));
		dog_size_str(d->used, s2, sizeof(s2));
		dog_size_str(d->free, s3, sizeof(s3));
		if (dog_opts.raw)
			printf("%s %d %s %s %s %d%% %.*s\n", hp, d->idx, s1, s2, s3, ratio,
			       (int)sizeof(d->path), d->path);
		else
			printf("%2d\t%s\t%s\t%s\t%3d%%\t%.*s\n", d->idx, s1, s2, s3, ratio,
			       (int)sizeof(d->path), d->path);
	}
	free(info);
	return EXIT_SUCCESS;
}

/* "node md info [-A]": the store directories of the node addressed, or of all */
static int node_md_info(void)
{
	struct sd_node *nodes;
	int nr, ret = EXIT_SUCCESS;

	if (!dog_opts.raw)
		printf("Id\tSize\tUsed\tAvail\tUse%%\tPath\n");
	if (!dog_opts.all)
		return md_info_node(NULL);
	nr = dog_node_list(&nodes);
	if (nr < 0) {
		free(nodes);
		return EXIT_SYSFAIL;
	}
	for (int i = 0; i < nr && !ret; i++) {
		if (!dog_opts.raw)
			printf("Node %d:\n", i);
		ret = md_info_node(&nodes[i].nid) ? EXIT_FAILURE : EXIT_SUCCESS;
	}
	free(nodes);
	return ret;
}

/* "node md info|plug|unplug": our sheep has one store directory, and answers plug NO_SUPPORT */
static int node_md(int argc, char **argv)
{
	struct sd_req hdr;
	struct sd_rsp rsp;
	bool plug;

	if (argc == 1 && !strcmp(argv[0], "info"))
		return node_md_info();
	if (argc != 2 || (strcmp(argv[0], "plug") && strcmp(argv[0], "unplug")))
		return EXIT_USAGE;
	plug = !strcmp(argv[0], "plug");
	if (!dog_opts.force &&
	    !dog_confirm(plug ? "    __\n   ()'`;\n   /\\|`\n"
			 "  /  |   Caution! The directories to be plugged will be purged.\n"
			 "(/_)_|_  Are you sure you want to continue? [yes/no]: " :
			 "    __\n   ()'`;\n   /\\|`\n"
			 "  /  |   Caution! Recovery will be triggered after unplugging.\n"
			 "(/_)_|_  Are you sure you want to continue? [yes/no]: "))
		return EXIT_SUCCESS;
	dog_init_req(&hdr, plug ? SD_OP_MD_PLUG : SD_OP_MD_UNPLUG);
	hdr.flags = SD_FLAG_CMD_WRITE;
	hdr.data_length = (uint32_t)strlen(argv[1]) + 1;
	if (dog_exec(&hdr, argv[1], &rsp))
		return EXIT_SYSFAIL;
	if (rsp.result != SD_RES_SUCCESS) {
		dog_err("Failed to execute request, look for sheep.log for more information");
		return EXIT_FAILURE;
	}
	return EXIT_SUCCESS;
}

/*
 * "cluster check": vdi check of every VDI and snapshot, in vid order, each
 * announced as Sheepdog's dog does
 */
static void check_one_vdi(uint32_t vid, const struct sd_inode *inode, void *arg)
{
	(void)vid;
	(void)arg;
	if (inode->snap_ctime)
		printf("fix snapshot %s (id: %" PRIu32 ", tag: \"%s\")\n", inode->name,
		       inode->snap_id, inode->tag);
	else
		printf("fix vdi %s\n", inode->name);
	fflush(stdout);
	dog_check_inode(inode);	/* Sheepdog's goes on whatever one VDI's check found */
}

static int cluster_check(int argc, char **argv)
{
	(void)argv;
	if (argc > 0)
		return EXIT_USAGE;
	return dog_for_each_vdi(check_one_vdi, NULL) ? EXIT_SYSFAIL : EXIT_SUCCESS;
}

/*
 * "cluster alter-copy [-c copies] [-f]": the copies of VDIs created from
 * now on, with Sheepdog's defaults, questions and messages
 */
static int cluster_alter_copy(int argc, char **argv)
{
	struct epoch_log *log;
	struct sd_node *nodes = NULL;
	struct sd_req hdr;
	struct sd_rsp rsp;
	int copies = dog_opts.copies, nr, ret = EXIT_FAILURE;

	(void)argv;
	if (argc > 0)
		return EXIT_USAGE;
	if (dog_opts.copy_policy) {
		dog_err("Changing redundancy level of erasure coded vdi is not supported yet.");
		return EXIT_USAGE;
	}
	if (copies <= 0) {
		copies = SD_DEFAULT_COPIES;
		printf("The cluster's redundancy level is not specified, use %d as default.\n",
		       copies);
	}
	nr = dog_node_list(&nodes);
	free(nodes);
	if (nr < 0)
		return EXIT_SYSFAIL;
	if (!dog_opts.force && copies > nr) {
		char q[256];

		snprintf(q, sizeof(q), "Number of copies (%d) is larger than number of nodes "
			 "(%d).\nAre you sure you want to continue? [yes/no]: ", copies, nr);
		if (!dog_confirm(q))
			return EXIT_SUCCESS;
	}
	/* the newest epoch's entry, without its nodes: the cluster's copies */
	log = xzalloc(sizeof(*log));
	dog_init_req(&hdr, SD_OP_STAT_CLUSTER);
	hdr.data_length = sizeof(*log);
	if (dog_exec(&hdr, log, &rsp))
		goto out;
	if (rsp.result != SD_RES_SUCCESS) {
		dog_err("Response's result: %s", sd_strerror(rsp.result));
		goto out;
	}
	if (log->copy_policy) {
		dog_err("The cluster's copy policy is erasure code, changing it is not "
			"supported yet.");
		goto out;
	}
	if (log->nr_copies == copies) {
		dog_err("The cluster's redundancy level is already set to %d, nothing changed.",
			copies);
		goto out;
	}
	if (!dog_opts.force &&
	    !dog_confirm("    __\n   ()'`;\n"
			 "   /\\|`  Caution! Changing cluster's redundancy level will affect\n"
			 "  /  |   all the VDIs to be created later.\n"
			 "(/_)_|_  Are you sure you want to continue? [yes/no]: ")) {
		ret = EXIT_SUCCESS;
		goto out;
	}
	dog_init_req(&hdr, SD_OP_ALTER_CLUSTER_COPY);
	hdr.cluster.copies = (uint8_t)copies;
	if (dog_exec(&hdr, NULL, &rsp))
		goto out;
	if (rsp.result != SD_RES_SUCCESS) {
		dog_err("Response's result: %s", sd_strerror(rsp.result));
		dog_err("Changing the cluster's redundancy level failure.");
		goto out;
	}
	printf("The cluster's redundancy level is set to %d, the old one was %u.\n", copies,
	       log->nr_copies);
	ret = EXIT_SUCCESS;
out:
	free(log);
	return ret;
}

/* "node kill <id>" or "node kill -l": stop a node (KILL_NODE), with Sheepdog's checks */
static int node_kill(int argc, char **argv)
{
	struct sd_node *nodes;
	struct node_id nid;
	struct sd_req hdr;
	struct sd_rsp rsp;
	int nr, ret;

	if (argc > 1)
		return EXIT_USAGE;
	nr = dog_node_list(&nodes);
	if (nr < 0) {
		free(nodes);
		return EXIT_SYSFAIL;
	}
	if (argc == 1) {
		int id;

		/* Sheepdog's words; it exits 64 without the usage */
		if (dog_opts.local) {
			dog_err("don't use -l option and specify node id at the same time");
			exit(EXIT_USAGE);
		}
		if (!argv[0][0] || strspn(argv[0], "0123456789") != strlen(argv[0])) {
			dog_err("Invalid node id '%s', please specify a numeric value", argv[0]);
			exit(EXIT_USAGE);
		}
		id = (int)strtol(argv[0], NULL, 10);
		if (id < 0 || id >= nr) {
			dog_err("Invalid node id '%d'", id);
			exit(EXIT_USAGE);
		}
		nid = nodes[id].nid;
	} else if (!dog_opts.local) {
		dog_err("please specify -l option or node id");
		exit(EXIT_USAGE);
	}
	free(nodes);
	dog_init_req(&hdr, SD_OP_KILL_NODE);
	ret = argc ? dog_exec_node(&nid, &hdr, NULL, &rsp) : dog_exec(&hdr, NULL, &rsp);
	if (!ret && rsp.result != SD_RES_SUCCESS) {
		dog_err("Response's result: %s", sd_strerror(rsp.result));
		ret = -1;
	}
	if (ret) {
		dog_err("Failed to execute request");
		return EXIT_FAILURE;
	}
	return EXIT_SUCCESS;
}

/* one line of node stat: the counters, then the byte totals (and with -w, the rates) */
static void print_stat_line(const char *title, const uint64_t nr[6], uint64_t rx, uint64_t tx,
			    const uint64_t *rate)
{
	char s1[32], s2[32], s3[32], s4[32];

	printf("%s%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64
	       "\t%s\t%s", dog_opts.raw ? "" : title, nr[0], nr[1], nr[2], nr[3], nr[4], nr[5],
	       dog_size_str(rx, s1, sizeof(s1)), dog_size_str(tx, s2, sizeof(s2)));
	if (rate)
		printf("\t%s\t%s\t%" PRIu64, dog_size_str(rate[0], s3, sizeof(s3)),
		       dog_size_str(rate[1], s4, sizeof(s4)), rate[2]);
	printf("\n");
}

/* "node stat [-w]": the addressed node's request counters, as Sheepdog's dog prints them */
static int node_stat(int argc, char **argv)
{
	struct sd_stat st, last = { 0 };
	struct sd_req hdr;
	struct sd_rsp rsp;
	bool first = true;

	(void)argv;
	if (argc > 0)
		return EXIT_USAGE;
	for (;;) {
		dog_init_req(&hdr, SD_OP_STAT);
		hdr.data_length = sizeof(st);
		if (dog_exec(&hdr, &st, &rsp))
			return EXIT_SYSFAIL;
		if (rsp.result != SD_RES_SUCCESS) {
			dog_err("failed to get stat information: %s", sd_strerror(rsp.result));
			return EXIT_FAILURE;
		}
		if (!dog_opts.watch) {
			/* Sheepdog's: read before write, under "Write Read" */
			uint64_t g[6] = { st.gway_active_nr, st.gway_total_nr, st.gway_total_read_nr,
					  st.gway_total_write_nr, st.gway_total_remove_nr,
					  st.gway_total_flush_nr };
			uint64_t p[6] = { st.peer_active_nr, st.peer_total_nr, st.peer_total_read_nr,
					  st.peer_total_write_nr, st.peer_total_remove_nr, 0 };

			if (!dog_opts.raw)
				printf("Request\tActive\tTotal\tWrite\tRead\tRemove\tFlush\t"
				       "All WR\tAll RD\n");
			print_stat_line("Client\t", g, st.gway_total_rx, st.gway_total_tx, NULL);
			print_stat_line("Peer\t", p, st.peer_total_rx, st.peer_total_tx, NULL);
			return EXIT_SUCCESS;
		}
		if (first)
			last = st;
		first = false;
		uint64_t g[6] = { st.gway_active_nr, st.gway_total_nr, st.gway_total_write_nr,
				  st.gway_total_read_nr, st.gway_total_remove_nr,
				  st.gway_total_flush_nr };
		uint64_t p[6] = { st.peer_active_nr, st.peer_total_nr, st.peer_total_write_nr,
				  st.peer_total_read_nr, st.peer_total_remove_nr, 0 };
		uint64_t gr[3] = { st.gway_total_rx - last.gway_total_rx,
				   st.gway_total_tx - last.gway_total_tx,
				   st.gway_total_nr - last.gway_total_nr };
		uint64_t pr[3] = { st.peer_total_rx - last.peer_total_rx,
				   st.peer_total_tx - last.peer_total_tx,
				   st.peer_total_nr - last.peer_total_nr };

		if (!dog_opts.raw)
			printf("Request\tActive\tTotal\tWrite\tRead\tRemove\tFlush\t"
			       "All WR\tAll RD\tWRBW\tRDBW\tRPS\n");
		print_stat_line("Client\t", g, st.gway_total_rx, st.gway_total_tx, gr);
		print_stat_line("Peer\t", p, st.peer_total_rx, st.peer_total_tx, pr);
		fflush(stdout);
		last = st;
		sleep(1);
	}
}

static const char *const log_levels[] = {
	"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
};

/* Sheepdog's dog lists the levels as log lines: on stderr */
static void dump_log_levels(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(log_levels); i++)
		dog_err("%s\t(%zu)", log_levels[i], i);
}

/* "node log level get|set <level>|list": the addressed node's log level */
static int node_log(int argc, char **argv)
{
	struct sd_req hdr;
	struct sd_rsp rsp;
	int32_t level = -1;

	if (argc < 2)
		return argc && strcmp(argv[0], "level") ? (dog_usage_stderr(), EXIT_FAILURE) :
							 EXIT_USAGE;
	if (strcmp(argv[0], "level")) {
		dog_usage_stderr();	/* Sheepdog: an unknown subcommand fails with 1 */
		return EXIT_FAILURE;
	}
	if (!strcmp(argv[1], "list") && argc == 2) {
		dump_log_levels();
		return EXIT_SUCCESS;
	}
	if (!strcmp(argv[1], "get") && argc == 2) {
		dog_init_req(&hdr, SD_OP_GET_LOGLEVEL);
		hdr.data_length = sizeof(level);
		if (dog_exec(&hdr, &level, &rsp) || rsp.result != SD_RES_SUCCESS) {
			dog_err("Failed to execute request");
			return 255;	/* Sheepdog's dog returns -1 */
		}
		dog_err("%s (%" PRId32 ")", level >= 0 && level < (int32_t)ARRAY_SIZE(log_levels) ?
			log_levels[level] : "unknown loglevel", level);
		return EXIT_SUCCESS;
	}
	if (!strcmp(argv[1], "set") && argc == 3) {
		for (size_t i = 0; i < ARRAY_SIZE(log_levels); i++)
			if (!strcmp(argv[2], log_levels[i]))
				level = (int32_t)i;
		if (level < 0) {
			dog_err("invalid loglevel: %s", argv[2]);
			dog_err("available loglevels:");
			dump_log_levels();
			return 255;
		}
		dog_init_req(&hdr, SD_OP_SET_LOGLEVEL);
		hdr.flags = SD_FLAG_CMD_WRITE;
		hdr.data_length = sizeof(level);
		if (dog_exec(&hdr, &level, &rsp) || rsp.result != SD_RES_SUCCESS) {
			dog_err("Failed to execute request");
			return 255;
		}
		return EXIT_SUCCESS;
	}
	if (!strcmp(argv[1], "set") && argc == 2)
		return EXIT_USAGE;
	if (strcmp(argv[1], "set") && strcmp(argv[1], "get") && strcmp(argv[1], "list")) {
		dog_usage_stderr();
		return EXIT_FAILURE;
	}
	return EXIT_USAGE;
}

/*
 * "node format <dir> <store>": Sheepdog's per-node store choice, its file
 * <dir>/node_config (the store's name, 16 bytes), written once.  Our sheep
 * takes the store from `cluster format -b` and does not read it.
 */
static int node_format(int argc, char **argv)
{
	char path[PATH_MAX], store[SD_MAX_STORE_NAME] = { 0 };
	struct stat st;
	int fd;

	if (argc == 1)
		dog_err("specify store format");
	if (argc != 2)
		return EXIT_USAGE;
	if (strcmp(argv[1], "plain") && strcmp(argv[1], "tree")) {
		dog_err("expected store format: plain, tree");
		return EXIT_SYSFAIL;
	}
	snprintf(path, sizeof(path), "%s/node_config", argv[0]);
	if (!stat(path, &st)) {
		dog_err("config file already exists: %s", path);
		return EXIT_SYSFAIL;
	}
	if (errno != ENOENT) {
		dog_err("failed to check existence of config (%s): %s", path, strerror(errno));
		return EXIT_SYSFAIL;
	}
	fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0) {
		dog_err("failed to create a config file (%s): %s", path, strerror(errno));
		return EXIT_SYSFAIL;
	}
	memcpy(store, argv[1], strlen(argv[1]));
	if (xwrite_full(fd, store, sizeof(store))) {
		dog_err("failed to write a config file (%s): %s", path, strerror(errno));
		close(fd);
		return EXIT_SYSFAIL;
	}
	close(fd);
	return EXIT_SUCCESS;
}

static const struct subcommand cluster_subs[] = {
	{ "info", "", "rv", "show cluster information", cluster_info },
	{ "format", "", "b:c:ltz:fVR", "create a Sheepdog store", cluster_format },
	{ "shutdown", "", "", "stop Sheepdog", cluster_shutdown },
	{ "reweight", "", "", "reweight the cluster by free space", cluster_reweight },
	{ "recover", "force|enable|disable", "f",
	  "force recovery, or turn automatic recovery on or off", cluster_recover },
	{ "check", "", "", "check and repair cluster", cluster_check },
	{ "alter-copy", "", "c:f", "set the cluster's redundancy level", cluster_alter_copy },
	{ "snapshot", "{save|list|load|show} [-m] <tag|idx> <path> [vdi1] [vdi2] ...", "m",
	  "snapshot/restore the cluster", dog_farm_main },
	{ NULL, NULL, NULL, NULL, NULL },
};

static const struct subcommand node_subs[] = {
	{ "kill", "<node id>", "l", "kill node", node_kill },
	{ "list", "", "ri", "list nodes", node_list },
	{ "info", "", "r", "show information about each node", node_info },
	{ "recovery", "[info|set-throttle <max> <interval>|get-throttle]", "rP",
	  "show the nodes still recovering, or set/get this node's recovery throttling",
	  node_recovery },
	{ "vnodes", "[set <num>]", "", "show or set the vnodes of a node", node_vnodes },
	{ "md", "info|plug|unplug [<disks>]", "rAf", "show the node's store directory", node_md },
	{ "stat", "", "rw", "show stat information about the node", node_stat },
	{ "log", "level get|set <level>|list", "", "show or set log level of the node", node_log },
	{ "format", "<directory of sheep> <a name of store format>", "",
	  "initialize store format of the node", node_format },
	{ NULL, NULL, NULL, NULL, NULL },
};

const struct command cluster_command = { "cluster", cluster_subs, "Sheepdog cluster commands" };
const struct command node_command = { "node", node_subs, "Sheepdog node commands" };
