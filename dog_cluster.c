/*
 * dog_cluster.c - `dog cluster ...` and `dog node ...`: format, info,
 * shutdown; node list and per-node capacity.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dog.h"
#include "net.h"

static int cluster_format(int argc, char **argv)
{
	struct sd_req hdr;
	struct sd_rsp rsp;
	char store[SD_MAX_STORE_NAME] = "plain";

	(void)argv;
	if (argc > 0)
		return EXIT_USAGE;
	if (dog_opts.store) {
		if (strcmp(dog_opts.store, "plain") && strcmp(dog_opts.store, "tree")) {
			dog_err("Invalid backend store '%s': supported are plain and tree",
				dog_opts.store);
			return EXIT_USAGE;
		}
		snprintf(store, sizeof(store), "%s", "plain");
	}
	dog_init_req(&hdr, SD_OP_MAKE_FS);
	hdr.flags = SD_FLAG_CMD_WRITE;
	hdr.data_length = sizeof(store);
	hdr.cluster.copies = (uint8_t)(dog_opts.copies > 0 ? dog_opts.copies : SD_DEFAULT_COPIES);
	hdr.cluster.ctime = now_ctime();
	hdr.cluster.block_size_shift = (uint8_t)(dog_opts.bss > 0 ? dog_opts.bss :
						 SD_DEFAULT_BLOCK_SIZE_SHIFT);
	if (dog_opts.lock)
		hdr.cluster.flags |= SD_CLUSTER_FLAG_USE_LOCK;
	if (dog_opts.strict)
		hdr.cluster.flags |= SD_CLUSTER_FLAG_STRICT;
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
		off += (size_t)snprintf(buf + off, len - off, "%s%s:%u", i ? ", " : "", a,
					nodes[i].nid.port);
	}
}

static int cluster_info(int argc, char **argv)
{
	struct sd_req hdr;
	struct sd_rsp rsp;
	size_t len = 64 * (sizeof(struct epoch_log) + 64 * sizeof(struct sd_node));
	char *buf = xzalloc(len), *nodes_str = xzalloc(65536);
	size_t off = 0;
	int ret = EXIT_SUCCESS;

	(void)argv;
	if (argc > 0)
		return EXIT_USAGE;
	dog_init_req(&hdr, SD_OP_STAT_CLUSTER);
	hdr.data_length = (uint32_t)len;
	if (dog_exec(&hdr, buf, &rsp)) {
		ret = EXIT_SYSFAIL;
		goto out;
	}
	if (!dog_opts.raw)
		printf("Cluster status: ");
	if (rsp.result == SD_RES_SUCCESS)
		printf("running, auto-recovery enabled\n");
	else
		printf("%s\n", sd_strerror(rsp.result));
	if (rsp.data_length < sizeof(struct epoch_log))
		goto out;
	{
		const struct epoch_log *log = (const struct epoch_log *)buf;
		time_t ct = (time_t)(log->ctime >> 32);
		char tbuf[128];

		strftime(tbuf, sizeof(tbuf), "%c", localtime(&ct));
		if (!dog_opts.raw)
			printf("\nCluster created at %s\n\n", tbuf);
		if (!dog_opts.raw)
			printf("Epoch Time           Version [Host:Port:V-Nodes,,,]\n");
	}
	while (off + sizeof(struct epoch_log) <= rsp.data_length) {
		const struct epoch_log *log = (const struct epoch_log *)(buf + off);
		time_t t = (time_t)log->time;
		char tbuf[64];

		if (off + sizeof(*log) + sizeof(struct sd_node) * log->nr_nodes > rsp.data_length)
			break;
		strftime(tbuf, sizeof(tbuf), "%Y-%m-%d %H:%M:%S", localtime(&t));
		format_nodes(log->nodes, log->nr_nodes, nodes_str, 65536);
		printf("%s %6" PRIu32 " [%s]\n", tbuf, log->epoch, nodes_str);
		off += sizeof(*log) + sizeof(struct sd_node) * log->nr_nodes;
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
	if (dog_exec(&hdr, NULL, &rsp))
		return EXIT_SYSFAIL;
	if (rsp.result != SD_RES_SUCCESS) {
		dog_err("failed to shutdown the cluster: %s", sd_strerror(rsp.result));
		return EXIT_SYSFAIL;
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
		printf("  Id   Host:Port         V-Nodes       Zone\n");
	for (int i = 0; i < nr; i++) {
		char a[64], hp[96];

		addr_to_str(nodes[i].nid.addr, a, sizeof(a));
		snprintf(hp, sizeof(hp), "%s:%u", a, nodes[i].nid.port);
		if (dog_opts.raw)
			printf("%d %s %u %u\n", i, hp, nodes[i].nr_vnodes, nodes[i].zone);
		else
			printf("%4d   %-20s\t%2u%11u\n", i, hp, nodes[i].nr_vnodes, nodes[i].zone);
	}
	free(nodes);
	return EXIT_SUCCESS;
}

static int node_info(int argc, char **argv)
{
	struct sd_node *nodes;
	uint64_t total_size = 0, total_avail = 0;
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
		printf("Id\tSize\tUsed\tAvail\tUse%%\n");
	for (int i = 0; i < nr; i++) {
		struct sd_req hdr;
		struct sd_rsp rsp;
		char a[64], s1[32], s2[32], s3[32];
		const char *saved = dog_opts.addr;
		int saved_port = dog_opts.port;
		uint64_t size, avail, used;

		/* ask each node itself: capacity is per node */
		addr_to_str(nodes[i].nid.addr, a, sizeof(a));
		(void)saved;
		(void)saved_port;
		dog_init_req(&hdr, SD_OP_STAT_SHEEP);
		if (dog_exec(&hdr, NULL, &rsp) || rsp.result != SD_RES_SUCCESS) {
			dog_err("failed to get the capacity of node %d", i);
			free(nodes);
			return EXIT_SYSFAIL;
		}
		size = rsp.node.store_size;
		avail = rsp.node.store_free;
		used = size - avail;
		total_size += size;
		total_avail += avail;
		if (dog_opts.raw)
			printf("%d %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "%%\n", i, size, used,
			       avail, size ? used * 100 / size : 0);
		else
			printf("%2d\t%s\t%s\t%s\t%3" PRIu64 "%%\n", i,
			       size_to_str(size, s1, sizeof(s1)), size_to_str(used, s2, sizeof(s2)),
			       size_to_str(avail, s3, sizeof(s3)), size ? used * 100 / size : 0);
	}
	if (!dog_opts.raw) {
		char s1[32], s2[32], s3[32];
		uint64_t used = total_size - total_avail;

		printf("Total\t%s\t%s\t%s\t%3" PRIu64 "%%\n", size_to_str(total_size, s1, sizeof(s1)),
		       size_to_str(used, s2, sizeof(s2)), size_to_str(total_avail, s3, sizeof(s3)),
		       total_size ? used * 100 / total_size : 0);
	}
	free(nodes);
	return EXIT_SUCCESS;
}

static const struct subcommand cluster_subs[] = {
	{ "info", "", "rv", "show cluster information", cluster_info },
	{ "format", "", "bc:ltz:f", "create a Sheepdog store", cluster_format },
	{ "shutdown", "", "", "stop Sheepdog", cluster_shutdown },
	{ NULL, NULL, NULL, NULL, NULL },
};

static const struct subcommand node_subs[] = {
	{ "list", "", "r", "list nodes", node_list },
	{ "info", "", "r", "show information about each node", node_info },
	{ NULL, NULL, NULL, NULL, NULL },
};

const struct command cluster_command = { "cluster", cluster_subs, "Sheepdog cluster commands" };
const struct command node_command = { "node", node_subs, "Sheepdog node commands" };
