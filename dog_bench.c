/*
 * dog_bench.c - `dog benchmark io`: a load generator that speaks the
 * Sheepdog protocol to one sheep (the gateway), keeping N requests in flight
 * on one connection (pipelined; sheep answers in completion order), and
 * prints throughput, IOPS and the latency distribution.
 *
 *   dog benchmark io [-m write|read|randwrite|randread] [-B SIZE] [-n DEPTH]
 *                    [-t TOTAL] [-T SECONDS] [-r] VDI
 *
 * Reads and random writes need every object of the VDI allocated and its
 * own (write it sequentially first, or create it with -P); a sequential
 * write of whole objects allocates as it goes, like `dog vdi write`.
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

#define BENCH_MAX_DEPTH	1024

struct slot {
	uint64_t t0;		/* ns, when sent */
	uint32_t idx;		/* object index */
	bool create;		/* allocates object idx */
	bool busy;
};

struct bench {
	int fd;
	uint32_t vid;
	struct sd_inode *inode;
	uint64_t objsize, bs, span;	/* span: bytes the run may touch */
	bool write, random;
	uint64_t next_off, rng;
	uint8_t *wbuf, *rbuf;
	struct slot slots[BENCH_MAX_DEPTH];
	uint64_t *lat;			/* ns per completed request */
	size_t nlat, cap;
	bool *created;			/* objects this run allocated */
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* send request number `slot` for the next offset */
static int bench_send(struct bench *b, uint32_t slot)
{
	struct slot *s = &b->slots[slot];
	struct sd_req hdr;
	uint64_t off;
	uint32_t idx;

	if (b->random) {
		off = xorshift(&b->rng) % (b->span / b->bs) * b->bs;
	} else {
		off = b->next_off;
		b->next_off += b->bs;
	}
	idx = (uint32_t)(off / b->objsize);
	s->create = b->write && b->inode->data_vdi_id[idx] != b->vid;
	dog_init_req(&hdr, !b->write ? SD_OP_READ_OBJ :
			   s->create ? SD_OP_CREATE_AND_WRITE_OBJ : SD_OP_WRITE_OBJ);
	hdr.id = slot;
	hdr.flags = b->write ? SD_FLAG_CMD_WRITE : 0;
	hdr.data_length = (uint32_t)b->bs;
	hdr.obj.oid = vid_to_data_oid(b->vid, idx);
	hdr.obj.offset = (uint32_t)(off % b->objsize);
	s->idx = idx;
	s->busy = true;
	s->t0 = now_ns();
	if (xwrite2_full(b->fd, &hdr, sizeof(hdr), b->wbuf, b->write ? b->bs : 0)) {
		dog_err("failed to send a request: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* wait for one answer; returns its slot, or -1 */
static int bench_recv(struct bench *b)
{
	struct sd_rsp rsp;
	struct slot *s;

	if (xread_full(b->fd, &rsp, sizeof(rsp))) {
		dog_err("failed to read an answer: %s", strerror(errno));
		return -1;
	}
	if (rsp.id >= BENCH_MAX_DEPTH || !b->slots[rsp.id].busy) {
		dog_err("an answer to a request never sent (id %u)", rsp.id);
		return -1;
	}
	s = &b->slots[rsp.id];
	if (rsp.data_length) {
		if (rsp.data_length > b->bs || xread_full(b->fd, b->rbuf, rsp.data_length)) {
			dog_err("failed to read %u bytes of data", rsp.data_length);
			return -1;
		}
	}
	if (rsp.result != SD_RES_SUCCESS) {
		dog_err("Failed to %s object %u: %s", b->write ? "write" : "read", s->idx,
			sd_strerror(rsp.result));
		return -1;
	}
	if (b->nlat == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 4096;
		b->lat = xrealloc(b->lat, b->cap * sizeof(*b->lat));
	}
	b->lat[b->nlat++] = now_ns() - s->t0;
	if (s->create) {
		b->inode->data_vdi_id[s->idx] = b->vid;
		b->created[s->idx] = true;
	}
	s->busy = false;
	return (int)rsp.id;
}

/* point the inode's index at the objects this run allocated, a run at a time */
static int bench_update_index(struct bench *b)
{
	uint32_t n = (uint32_t)(b->span / b->objsize), i = 0, j;	/* created[] has n */

	while (i < n) {
		int r;

		if (!b->created[i]) {
			i++;
			continue;
		}
		for (j = i; j < n && b->created[j]; j++)
			;
		r = dog_write_index(b->vid, i, j - i, &b->inode->data_vdi_id[i]);
		if (r) {
			dog_err("Failed to update the index of the VDI: %s", sd_strerror((uint32_t)r));
			return -1;
		}
		i = j;
	}
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int bench_io(int argc, char **argv)
{
	const char *mode = dog_opts.bench_mode ? dog_opts.bench_mode : "write";
	uint32_t depth = dog_opts.bench_depth ? dog_opts.bench_depth : 1, i, nobj;
	struct bench b = { .fd = -1, .rng = 0x9e3779b97f4a7c15ULL ^ (uint64_t)getpid() };
	uint64_t total, deadline = 0, issued = 0, nreq, t0, t1;
	double secs;
	int ret = EXIT_FAILURE;

	if (argc != 1)
		return EXIT_USAGE;
	if (!strcmp(mode, "write") || !strcmp(mode, "randwrite"))
		b.write = true;
	else if (strcmp(mode, "read") && strcmp(mode, "randread")) {
		dog_err("Invalid mode '%s': write, read, randwrite or randread", mode);
		return EXIT_USAGE;
	}
	b.random = !strncmp(mode, "rand", 4);
	ret = dog_open_vdi(argv[0], &b.vid);
	if (ret)
		return ret;
	ret = EXIT_FAILURE;
	b.inode = xmalloc(SD_INODE_HEADER_SIZE + SD_INODE_INDEX_SIZE);
	if (dog_read_inode(b.vid, b.inode, SD_INODE_HEADER_SIZE + SD_INODE_INDEX_SIZE)) {
		ret = EXIT_SYSFAIL;
		goto out;
	}
	if (b.inode->store_policy) {
		dog_err("VDI %s is a hyper volume: benchmark io does not support them", argv[0]);
		ret = EXIT_USAGE;
		goto out;
	}
	b.objsize = UINT64_C(1) << b.inode->block_size_shift;
	b.bs = dog_opts.bench_bs ? dog_opts.bench_bs : b.objsize;
	if (b.bs < 512 || b.bs > b.objsize || b.objsize % b.bs) {
		dog_err("Invalid block size %" PRIu64 ": a divisor of the object size (%" PRIu64
			") from 512 bytes", b.bs, b.objsize);
		ret = EXIT_USAGE;
		goto out;
	}
	total = dog_opts.bench_total ? dog_opts.bench_total : b.inode->vdi_size;
	b.span = b.inode->vdi_size - b.inode->vdi_size % b.objsize;
	if (b.span < b.objsize) {
		dog_err("VDI %s is smaller than one object: nothing to do", argv[0]);
		goto out;
	}
	if (!b.random)
		total = MIN(total, b.span);
	/* the objects this run touches; only a sequential write of whole ones allocates */
	nobj = (uint32_t)(b.random ? b.span / b.objsize : (total + b.objsize - 1) / b.objsize);
	for (i = 0; i < nobj; i++) {
		if (b.inode->data_vdi_id[i] == b.vid || (b.write && !b.random && b.bs == b.objsize))
			continue;
		dog_err("VDI has unallocated data: write it sequentially in whole objects first, "
			"or create it with -P");
		goto out;
	}
	nreq = total / b.bs;
	if (!nreq) {
		dog_err("Invalid total %" PRIu64 ": less than one request", total);
		ret = EXIT_USAGE;
		goto out;
	}
	if (dog_opts.bench_seconds) {
		deadline = now_ns() + dog_opts.bench_seconds * 1000000000ULL;
		if (!dog_opts.bench_total && b.random)
			nreq = UINT64_MAX;
	}
	b.fd = connect_tcp(dog_opts.addr, dog_opts.port, 5000);
	if (b.fd < 0) {
		dog_err("failed to connect to %s:%d: %s", dog_opts.addr, dog_opts.port,
			strerror(-b.fd));
		ret = EXIT_SYSFAIL;
		goto out;
	}
	set_nodelay(b.fd);
	depth = MIN(depth, BENCH_MAX_DEPTH);
	b.wbuf = xmalloc(b.bs);
	b.rbuf = xmalloc(b.bs);
	b.created = xzalloc(b.span / b.objsize * sizeof(bool));
	for (uint64_t k = 0; k < b.bs; k += 8) {
		uint64_t r = xorshift(&b.rng);

		memcpy(b.wbuf + k, &r, 8);
	}

	t0 = now_ns();
	for (i = 0; i < depth && issued < nreq; i++, issued++)
		if (bench_send(&b, i))
			goto out;
	for (uint64_t inflight = issued; inflight;) {
		int slot = bench_recv(&b);

		if (slot < 0)
			goto out;
		inflight--;
		if (issued < nreq && (!deadline || now_ns() < deadline)) {
			if (bench_send(&b, (uint32_t)slot))
				goto out;
			issued++;
			inflight++;
		}
	}
	t1 = now_ns();
	if (bench_update_index(&b))
		goto out;

	secs = (double)(t1 - t0) / 1e9;
	qsort(b.lat, b.nlat, sizeof(*b.lat), cmp_u64);
	{
		double mib = (double)b.nlat * (double)b.bs / 1048576.0;
		double p50 = (double)b.lat[b.nlat / 2] / 1e3;
		double p99 = (double)b.lat[MIN(b.nlat - 1, b.nlat * 99 / 100)] / 1e3;

		if (dog_opts.raw)
			printf("%s %" PRIu64 " %u %zu %.3f %.1f %.0f %.0f %.0f\n", mode, b.bs, depth,
			       b.nlat, secs, mib / secs, (double)b.nlat / secs, p50, p99);
		else
			printf("%s: %zu requests of %" PRIu64 " bytes, queue depth %u, in %.2f s: "
			       "%.1f MiB/s, %.0f IOPS, latency p50 %.0f us, p99 %.0f us\n", mode,
			       b.nlat, b.bs, depth, secs, mib / secs, (double)b.nlat / secs, p50,
			       p99);
	}
	ret = EXIT_SUCCESS;
out:
	if (b.fd >= 0)
		close(b.fd);
	free(b.wbuf);
	free(b.rbuf);
	free(b.lat);
	free(b.created);
	free(b.inode);
	return ret;
}

static const struct subcommand benchmark_subs[] = {
	{ "io", "[-m mode] [-B block size] [-n depth] [-t total] [-T seconds] [-r] <vdiname>",
	  "m:B:n:t:T:r",
	  "measure IO through one sheep: -m write (default), read, randwrite or randread;\n"
	  "-B request size (default: the object size); -n requests in flight (default 1);\n"
	  "-t bytes in all (default: the VDI size); -T stop after this many seconds", bench_io },
	{ NULL, NULL, NULL, NULL, NULL },
};

const struct command benchmark_command = { "benchmark", benchmark_subs,
					   "Sheepdog benchmark commands" };
