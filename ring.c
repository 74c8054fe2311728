/*
 * ring.c - consistent hashing with virtual nodes, as Sheepdog places
 * objects: node hash h0 = sd_hash(addr[16] + port[2]); its k-th vnode
 * (k = 1..nr_vnodes) is the k-th iterate of fnv_64a over h0, so h0 itself
 * is no vnode.  An object goes to the
 * first vnode at or after sd_hash(oid), further copies walk the ring and
 * skip nodes whose zone already holds a copy.  Pure functions, no locks.
 */
#include <stdlib.h>
#include <string.h>

#include "ring.h"
#include "util.h"

static int vnode_cmp(const void *a, const void *b)
{
	const struct vnode *x = a, *y = b;

	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	return x->node - y->node;
}

/* a gateway (announced with 0 vnodes) weighs nothing, whatever its disk */
static uint64_t weight_space(const struct sd_node *n)
{
	return n->nr_vnodes ? n->space : 0;
}

void ring_auto_vnodes(struct sd_node *nodes, int nr)
{
	uint64_t sum = 0, avg;
	int weighed = 0;

	for (int i = 0; i < nr; i++) {
		sum += weight_space(&nodes[i]);
		weighed += weight_space(&nodes[i]) > 0;
	}
	if (!weighed)
		return;
	avg = sum / (uint64_t)weighed;
	for (int i = 0; i < nr; i++) {
		/* in float, as Sheepdog computes it, rounded half to even (rintf) */
		float x = SD_DEFAULT_VNODES * ((float)weight_space(&nodes[i]) / (float)avg);
		uint32_t v = x >= 65535.0f ? 65535 : (uint32_t)x;
		float frac = x - (float)v;

		if (v < 65535 && (frac > 0.5f || (frac == 0.5f && (v & 1))))
			v++;
		nodes[i].nr_vnodes = (uint16_t)v;
	}
}

struct ring *ring_build(const struct sd_node *nodes, int nr_nodes, uint32_t epoch)
{
	struct ring *r = xzalloc(sizeof(*r));
	uint32_t zones[SD_MAX_NODES];
	int total = 0, k = 0;

	r->refcnt = 1;
	r->epoch = epoch;
	r->nr_nodes = nr_nodes;
	r->nodes = xcalloc((size_t)MAX(nr_nodes, 1), sizeof(*nodes));
	memcpy(r->nodes, nodes, sizeof(*nodes) * (size_t)nr_nodes);
	for (int i = 0; i < nr_nodes; i++) {
		bool seen = false;

		total += nodes[i].nr_vnodes;
		if (!nodes[i].nr_vnodes)
			continue;
		for (int z = 0; z < r->nr_zones; z++)
			seen |= zones[z] == nodes[i].zone;
		if (!seen && r->nr_zones < SD_MAX_NODES)
			zones[r->nr_zones++] = nodes[i].zone;
	}
	r->vnodes = xcalloc((size_t)MAX(total, 1), sizeof(*r->vnodes));
	for (int i = 0; i < nr_nodes; i++) {
		uint64_t h = sd_hash(&nodes[i].nid, 18);	/* addr[16] + port */

		for (int v = 0; v < nodes[i].nr_vnodes; v++) {
			h = sd_hash_next(h);
			r->vnodes[k].hash = h;
			r->vnodes[k].node = i;
			k++;
		}
	}
	r->nr_vnodes = total;
	qsort(r->vnodes, (size_t)total, sizeof(*r->vnodes), vnode_cmp);
	return r;
}

void ring_free(struct ring *r)
{
	if (!r)
		return;
	free(r->nodes);
	free(r->vnodes);
	free(r);
}

/* first vnode whose hash is >= h, wrapping to 0 */
static int ring_lookup(const struct ring *r, uint64_t h)
{
	int lo = 0, hi = r->nr_vnodes;

	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;

		if (r->vnodes[mid].hash < h)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo == r->nr_vnodes ? 0 : lo;
}

int ring_pick_nodes(const struct ring *r, uint64_t oid, int copies, int *out)
{
	int want = MIN(copies, r->nr_zones), nr = 0, start;

	if (!r->nr_vnodes || want <= 0)
		return 0;
	start = ring_lookup(r, sd_hash_oid(oid));
	for (int i = 0; i < r->nr_vnodes && nr < want; i++) {
		const struct vnode *v = &r->vnodes[(start + i) % r->nr_vnodes];
		bool taken = false;

		for (int j = 0; j < nr; j++)
			taken |= out[j] == v->node ||
				 r->nodes[out[j]].zone == r->nodes[v->node].zone;
		if (!taken)
			out[nr++] = v->node;
	}
	return nr;
}
