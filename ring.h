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
 * The vnodes a node announces when -V is not given: one per 256 MiB of free
 * space, so shares follow capacity; at least RING_MIN_AUTO_VNODES so a tiny
 * disk still takes part.  Shares within 10% of each other need a few
 * hundred vnodes per node (128 leave more), which disks of 64 GiB and up get.
 */
#define RING_AUTO_VNODE_BYTES	(256ULL << 20)
#define RING_MIN_AUTO_VNODES	64
uint16_t ring_auto_vnodes(uint64_t space);

#endif
