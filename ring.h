/*
 * ring.h - object placement: the virtual-node ring of docs/PROTOCOL.md.  A ring
 * is built once per membership change by the main thread and is immutable
 * afterwards, so worker threads share it by reference count.
 */
#ifndef SHEEP_RING_H
#define SHEEP_RING_H

#include <stdint.h>

#include "proto.h"

struct vnode {
	uint64_t hash;
	int node;		/* index into ring->nodes */
};

struct ring {
	int refcnt;		/* guarded by the ring lock in gateway.c */
	uint32_t epoch;
	int nr_nodes;
	struct sd_node *nodes;
	int nr_vnodes;
	struct vnode *vnodes;	/* sorted by hash */
	int nr_zones;
};

/* vnode weights: each node's nr_vnodes (0 = gateway only, no data) */
struct ring *ring_build(const struct sd_node *nodes, int nr_nodes, uint32_t epoch);
void ring_free(struct ring *r);
/* the nodes (indexes into r->nodes) holding oid: min(copies, zones) of them */
int ring_pick_nodes(const struct ring *r, uint64_t oid, int copies, int *out);
/*
 * Auto vnodes (a cluster formatted without -V), Sheepdog's weighing: each
 * node with space gets SD_DEFAULT_VNODES x its space / the average space of
 * those nodes, rounded (128 each on equal disks; 2, 4 and 8 GB get 55, 110
 * and 219); a node announced with 0 vnodes (a gateway) or no space gets 0.
 * Rewrites nodes[].nr_vnodes in place.
 */
void ring_auto_vnodes(struct sd_node *nodes, int nr);

#endif
