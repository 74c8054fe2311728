/*
 * dog_check.c - `dog vdi check [-s snap] [-e] <vdi>`: verify every replica
 * of a VDI's objects (its inode and the data objects its index points at)
 * and repair the copies that differ from the majority or are missing, as
 * Sheepdog's dog does: GET_HASH on each node that should hold the object
 * (the ring of the current node list), a majority vote over the digests,
 * REPAIR_REPLICA to each odd one out naming a node of the majority.  With -e
 * only OIDS_EXIST: which holders lack which objects, nothing repaired.
 * Progress bars (a terminal only in Sheepdog's dog) are not drawn.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dog.h"
#include "net.h"
#include "ring.h"
#include "sha1.h"

struct check {
	const struct sd_inode *inode;
	struct ring *ring;
	uint32_t epoch;
	int copies;
	int *fds;		/* a connection per node of the ring, -1 until used */
	int ret;
};

/* ring node i's connection, opened on first use; -1: not reached (said why) */
static int node_fd(struct check *c, int i)
{
	const struct node_id *nid = &c->ring->nodes[i].nid;

	if (c->fds[i] < 0) {
		char host[64], name[64];

		addr_to_str(nid->addr, host, sizeof(host));
		c->fds[i] = connect_tcp(host, nid->port, 5000);
		if (c->fds[i] < 0) {
			dog_err("failed to connect to %s: %s",
				node_id_to_str(nid, name, sizeof(name)), strerror(-c->fds[i]));
			return -1;
		}
	}
	return c->fds[i];
}

static void node_failed(struct check *c, int i, int err)
{
	char name[64];

	dog_err("failed to communicate with %s: %s",
		node_id_to_str(&c->ring->nodes[i].nid, name, sizeof(name)), strerror(-err));
	close(c->fds[i]);
	c->fds[i] = -1;
}

/* one request to ring node i over its own connection; -1: not reached */
static int node_exec(struct check *c, int i, struct sd_req *hdr, void *data,
		     struct sd_rsp *rsp, uint32_t rlen)
{
	int fd = node_fd(c, i), ret;

	if (fd < 0)
		return -1;
	ret = exec_req(fd, hdr, data, rsp, data, rlen);
	if (ret) {
		node_failed(c, i, ret);
		return -1;
	}
	return 0;
}

struct replica {
	int node;
	bool found;
	uint8_t digest[SHA1_DIGEST_SIZE];
};

/* an object of a batch: its holders and what each said */
struct checked {
	uint64_t oid;
	int nr;
	struct replica r[SD_MAX_COPIES];
};

/* Boyer-Moore majority vote over the copies found; NULL if none has one */
static const struct replica *majority(const struct replica *r, int nr, bool *none_found)
{
	const struct replica *cand = NULL;
	int count = 0, live = 0;

	for (int i = 0; i < nr; i++) {
		if (!r[i].found)
			continue;
		live++;
		if (!count)
			cand = &r[i];
		count += !memcmp(cand->digest, r[i].digest, SHA1_DIGEST_SIZE) ? 1 : -1;
	}
	*none_found = !cand;
	if (!cand)
		return NULL;
	count = 0;
	for (int i = 0; i < nr; i++)
		if (r[i].found && !memcmp(cand->digest, r[i].digest, SHA1_DIGEST_SIZE))
			count++;
	return count > live / 2 ? cand : NULL;
}

/* the vote on one object, and REPAIR_REPLICA to each holder out of line */
static void repair_object(struct check *c, const struct checked *o)
{
	const struct replica *best;
	bool none;

	best = majority(o->r, o->nr, &none);
	if (!best) {
		dog_err(none ? "no node has %016" PRIx64 : "no majority of %016" PRIx64, o->oid);
		return;
	}
	for (int i = 0; i < o->nr; i++) {
		const struct replica *r = &o->r[i];
		const struct node_id *src = &c->ring->nodes[best->node].nid;
		struct sd_req hdr;
		struct sd_rsp rsp;

		if (r == best || (r->found && !memcmp(r->digest, best->digest, SHA1_DIGEST_SIZE)))
			continue;
		dog_init_req(&hdr, SD_OP_REPAIR_REPLICA);
		hdr.epoch = c->epoch;
		hdr.forw.oid = o->oid;
		memcpy(hdr.forw.addr, src->addr, sizeof(hdr.forw.addr));
		hdr.forw.port = src->port;
		if (node_exec(c, r->node, &hdr, NULL, &rsp, 0) || rsp.result != SD_RES_SUCCESS) {
			char n1[64], n2[64];

			node_id_to_str(src, n1, sizeof(n1));
			node_id_to_str(&c->ring->nodes[r->node].nid, n2, sizeof(n2));
			dog_err("failed to repair object %016" PRIx64 " from %s to %s", o->oid, n1,
				n2);
			continue;
		}
		printf("fixed %s %016" PRIx64 "\n", r->found ? "replica" : "missing", o->oid);
	}
}

/*
 * GET_HASH of every holder of every object of the batch: each node's
 * requests go out together on its connection and are matched back by id
 * (a sheep answers in completion order), so the nodes hash in parallel.
 */
#define BATCH	32

static void hash_batch(struct check *c, struct checked *o, int n)
{
	int nr_nodes = c->ring->nr_nodes;

	for (int k = 0; k < n; k++) {
		int idx[SD_MAX_COPIES];

		o[k].nr = ring_pick_nodes(c->ring, o[k].oid, c->copies, idx);
		for (int j = 0; j < o[k].nr; j++) {
			o[k].r[j].node = idx[j];
			o[k].r[j].found = false;
		}
	}
	for (int i = 0; i < nr_nodes; i++) {
		int fd = -1, sent = 0, ret = 0;

		for (int k = 0; k < n && !ret; k++) {
			for (int j = 0; j < o[k].nr && !ret; j++) {
				struct sd_req hdr;

				if (o[k].r[j].node != i)
					continue;
				if (fd < 0 && (fd = node_fd(c, i)) < 0)
					exit(EXIT_SYSFAIL);
				dog_init_req(&hdr, SD_OP_GET_HASH);
				hdr.id = (uint32_t)(k * SD_MAX_COPIES + j);
				hdr.obj.oid = o[k].oid;
				hdr.obj.tgt_epoch = c->epoch;
				ret = xwrite_full(fd, &hdr, sizeof(hdr));
				sent++;
			}
		}
		for (; sent > 0 && !ret; sent--) {
			struct sd_rsp rsp;
			struct replica *r;
			int k, j;
			char name[64];

			ret = xread_full(fd, &rsp, sizeof(rsp));
			if (ret)
				break;
			k = (int)(rsp.id / SD_MAX_COPIES);
			j = (int)(rsp.id % SD_MAX_COPIES);
			if (k >= n || j >= o[k].nr || o[k].r[j].node != i || rsp.data_length) {
				ret = -EPROTO;
				break;
			}
			r = &o[k].r[j];
			if (rsp.result == SD_RES_SUCCESS) {
				r->found = true;
				memcpy(r->digest, rsp.hash.digest, SHA1_DIGEST_SIZE);
			} else if (rsp.result != SD_RES_NO_OBJ) {
				node_id_to_str(&c->ring->nodes[i].nid, name, sizeof(name));
				dog_err("failed to read %016" PRIx64 " from %s, %s", o[k].oid, name,
					sd_strerror(rsp.result));
				exit(EXIT_FAILURE);
			}
		}
		if (ret) {
			node_failed(c, i, ret);
			exit(EXIT_SYSFAIL);
		}
	}
	for (int k = 0; k < n; k++)
		repair_object(c, &o[k]);
}

struct batch {
	struct check *c;
	struct checked o[BATCH];
	int n;
};

static void check_object(struct batch *b, uint64_t oid)
{
	b->o[b->n++].oid = oid;
	if (b->n == BATCH) {
		hash_batch(b->c, b->o, b->n);
		b->n = 0;
	}
}

static int check_data_obj(uint32_t idx, uint32_t vid, void *arg)
{
	check_object(arg, vid_to_data_oid(vid, idx));
	return 0;
}

struct oid_list {
	uint64_t *v;
	uint32_t n, cap;
};

static int add_oid(uint32_t idx, uint32_t vid, void *arg)
{
	struct oid_list *l = arg;

	if (l->n == l->cap) {
		l->cap *= 2;
		l->v = xrealloc(l->v, sizeof(uint64_t) * l->cap);
	}
	l->v[l->n++] = vid_to_data_oid(vid, idx);
	return 0;
}

/* -e: ask every node which of the objects it should hold it lacks */
static int check_exist(struct check *c)
{
	struct ring *r = c->ring;
	uint64_t **oids = xcalloc((size_t)r->nr_nodes, sizeof(*oids));
	uint32_t *nr = xcalloc((size_t)r->nr_nodes, sizeof(*nr));
	uint32_t *cap = xcalloc((size_t)r->nr_nodes, sizeof(*cap));
	int total = 0;
	struct oid_list all = { NULL, 0, 0 };

	/* the inode first, then the data objects in index order */
	all.v = xmalloc(sizeof(uint64_t) * 64);
	all.cap = 64;
	all.v[all.n++] = vid_to_vdi_oid(c->inode->vdi_id);
	if (dog_inode_walk(c->inode, add_oid, &all))
		exit(EXIT_FAILURE);
	for (uint32_t k = 0; k < all.n; k++) {
		int idx[SD_MAX_COPIES], n = ring_pick_nodes(r, all.v[k], c->copies, idx);

		for (int j = 0; j < n; j++) {
			int ni = idx[j];

			if (nr[ni] == cap[ni]) {
				cap[ni] = cap[ni] ? cap[ni] * 2 : 64;
				oids[ni] = xrealloc(oids[ni], sizeof(uint64_t) * cap[ni]);
			}
			oids[ni][nr[ni]++] = all.v[k];
		}
	}
	for (int ni = 0; ni < r->nr_nodes; ni++) {
		struct sd_req hdr;
		struct sd_rsp rsp;
		char name[64];

		if (!nr[ni])
			continue;
		dog_init_req(&hdr, SD_OP_OIDS_EXIST);
		hdr.flags = SD_FLAG_CMD_WRITE | SD_FLAG_CMD_PIGGYBACK;
		hdr.data_length = nr[ni] * (uint32_t)sizeof(uint64_t);
		if (node_exec(c, ni, &hdr, oids[ni], &rsp, hdr.data_length))
			exit(EXIT_SYSFAIL);
		node_id_to_str(&r->nodes[ni].nid, name, sizeof(name));
		for (uint32_t k = 0; k < rsp.data_length / sizeof(uint64_t); k++) {
			printf("[%s] oid %016" PRIx64 " is missing.\n", name, oids[ni][k]);
			total++;
		}
	}
	for (int ni = 0; ni < r->nr_nodes; ni++)
		free(oids[ni]);
	free(oids);
	free(nr);
	free(cap);
	free(all.v);
	if (!total) {
		printf("%s is fine, no object is missing.\n", c->inode->name);
		return EXIT_SUCCESS;
	}
	printf("%s lost %d object(s).\n", c->inode->name, total);
	return EXIT_FAILURE;
}

/* what check_run does with c: -e's existence check, or check and repair */
static int check_run(struct check *c)
{
	struct batch *b;
	int ret;

	if (dog_opts.exist)
		return check_exist(c);
	b = xzalloc(sizeof(*b));
	b->c = c;
	check_object(b, vid_to_vdi_oid(c->inode->vdi_id));
	ret = dog_inode_walk(c->inode, check_data_obj, b);
	if (!ret && b->n)
		hash_batch(c, b->o, b->n);
	free(b);
	if (ret)
		return EXIT_FAILURE;
	printf("finish check&repair %s\n", c->inode->name);
	return EXIT_SUCCESS;
}

int dog_check_inode(const struct sd_inode *inode)
{
	struct sd_node *nodes = xzalloc(sizeof(*nodes) * SD_MAX_NODES);
	struct check c = { .inode = inode };
	struct sd_req hdr;
	struct sd_rsp rsp;
	int ret, nr;

	/* the node list and the epoch it belongs to: placement and REPAIR_REPLICA's epoch */
	dog_init_req(&hdr, SD_OP_GET_NODE_LIST);
	hdr.data_length = sizeof(*nodes) * SD_MAX_NODES;
	ret = dog_call(&hdr, nodes, &rsp, "get node list");
	if (ret) {
		free(nodes);
		return ret;
	}
	nr = (int)(rsp.data_length / sizeof(*nodes));
	c.epoch = rsp.epoch;
	c.ring = ring_build(nodes, nr, c.epoch);
	c.copies = MIN((int)inode->nr_copies, c.ring->nr_zones);
	c.fds = xmalloc(sizeof(int) * (size_t)MAX(nr, 1));
	for (int i = 0; i < nr; i++)
		c.fds[i] = -1;
	ret = check_run(&c);
	for (int i = 0; i < nr; i++)
		if (c.fds[i] >= 0)
			close(c.fds[i]);
	free(c.fds);
	ring_free(c.ring);
	free(nodes);
	return ret;
}

int vdi_check(int argc, char **argv)
{
	struct sd_inode *inode = xmalloc(SD_INODE_HEADER_SIZE + SD_INODE_INDEX_SIZE);
	uint32_t vid;
	int ret;

	if (argc != 1) {
		ret = argc ? EXIT_USAGE : (dog_err("Please specify the VDI name"), EXIT_USAGE);
		goto out;
	}
	ret = dog_open_vdi(argv[0], &vid);
	if (!ret && dog_read_inode(vid, inode, SD_INODE_HEADER_SIZE + SD_INODE_INDEX_SIZE))
		ret = EXIT_FAILURE;
	if (ret) {
		dog_err("FATAL: no inode objects");
		goto out;
	}
	ret = dog_check_inode(inode);
out:
	free(inode);
	return ret;
}
