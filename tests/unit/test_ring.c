/*
 * test_ring.c - placement: copies on distinct nodes and zones, the number
 * of copies capped by zones, balance across equal nodes, weighting by
 * vnodes, and minimal movement when a node joins or leaves.
 */
#include <stdlib.h>
#include <string.h>

#include "ring.h"
#include "unit.h"
#include "util.h"

static void make_nodes(struct sd_node *n, int nr, int zones)
{
	memset(n, 0, sizeof(*n) * (size_t)nr);
	for (int i = 0; i < nr; i++) {
		n[i].nid.addr[12] = 127;
		n[i].nid.addr[15] = 1;
		n[i].nid.port = (uint16_t)(7000 + i);
		n[i].nr_vnodes = 512;
		n[i].zone = (uint32_t)(zones ? i % zones : i);
	}
}

#define NR_OIDS 200000

static uint64_t test_oid(int i)
{
	return ((uint64_t)(0x100 + i % 50) << 32) | (uint64_t)(i / 50);
}

TEST(distinct_nodes_and_zones)
{
	struct sd_node n[8];
	struct ring *r;
	int out[8];

	make_nodes(n, 8, 4);
	r = ring_build(n, 8, 1);
	CHECK_EQ(r->nr_zones, 4);
	for (int i = 0; i < 10000; i++) {
		int nr = ring_pick_nodes(r, test_oid(i), 3, out);

		CHECK_EQ(nr, 3);
		for (int a = 0; a < nr; a++)
			for (int b = a + 1; b < nr; b++)
				if (n[out[a]].zone == n[out[b]].zone) {
					CHECK(!"two copies in one zone");
					i = 10000;
				}
	}
	/* copies = min(copies, zones) */
	CHECK_EQ(ring_pick_nodes(r, 42, 6, out), 4);
	ring_free(r);
}

TEST(deterministic_and_matches_reference_hashes)
{
	struct sd_node n[3];
	struct ring *r;
	int a[3], b[3];
	uint64_t h;

	make_nodes(n, 3, 0);
	r = ring_build(n, 3, 1);
	ring_pick_nodes(r, 0x007c2b2500000000ULL, 3, a);
	ring_pick_nodes(r, 0x007c2b2500000000ULL, 3, b);
	CHECK(!memcmp(a, b, sizeof(a)));
	/*
	 * node 0's first vnode is the next fnv_64a round over sd_hash of its
	 * 18-byte address+port, as Sheepdog's; that hash itself is no vnode
	 */
	h = sd_hash(&n[0].nid, 18);
	{
		bool first = false, base = false;

		for (int i = 0; i < r->nr_vnodes; i++) {
			first |= r->vnodes[i].hash == sd_hash_next(h) && r->vnodes[i].node == 0;
			base |= r->vnodes[i].hash == h;
		}
		CHECK(first);
		CHECK(!base);
	}
	/* the primary copy is the first vnode at or after the object's hash */
	{
		uint64_t oh = sd_hash_oid(0x007c2b2500000000ULL);
		uint64_t best = UINT64_MAX, lowest = UINT64_MAX;
		int best_node = -1, lowest_node = -1;

		for (int i = 0; i < r->nr_vnodes; i++) {
			if (r->vnodes[i].hash >= oh && r->vnodes[i].hash < best) {
				best = r->vnodes[i].hash;
				best_node = r->vnodes[i].node;
			}
			if (r->vnodes[i].hash < lowest) {
				lowest = r->vnodes[i].hash;
				lowest_node = r->vnodes[i].node;
			}
		}
		CHECK_EQ(a[0], best_node >= 0 ? best_node : lowest_node);
	}
	ring_free(r);
}

static void counts(struct ring *r, int copies, int *cnt)
{
	int out[8];

	memset(cnt, 0, sizeof(int) * (size_t)r->nr_nodes);
	for (int i = 0; i < NR_OIDS; i++) {
		int nr = ring_pick_nodes(r, test_oid(i), copies, out);

		for (int j = 0; j < nr; j++)
			cnt[out[j]]++;
	}
}

TEST(balance_within_10_percent)
{
	for (int nr = 3; nr <= 8; nr++) {
		struct sd_node n[8];
		int cnt[8];
		struct ring *r;
		double avg;

		make_nodes(n, nr, 0);
		r = ring_build(n, nr, 1);
		counts(r, 3, cnt);
		avg = 3.0 * NR_OIDS / nr;
		for (int i = 0; i < nr; i++) {
			double dev = (cnt[i] - avg) / avg;

			if (dev > 0.10 || dev < -0.10) {
				fprintf(stderr, "  %d nodes: node %d holds %d, average %.0f\n", nr, i,
					cnt[i], avg);
				CHECK(!"imbalance over 10%");
			}
		}
		ring_free(r);
	}
}

TEST(weighting_by_vnodes)
{
	struct sd_node n[4];
	int cnt[4];
	struct ring *r;

	make_nodes(n, 4, 0);
	n[3].nr_vnodes = 1024;	/* twice the weight */
	r = ring_build(n, 4, 1);
	counts(r, 1, cnt);
	/* the big node gets about 2/5 of single-copy objects */
	CHECK(cnt[3] > NR_OIDS * 0.34 && cnt[3] < NR_OIDS * 0.46);
	ring_free(r);
	/* a gateway-only node (0 vnodes) stores nothing */
	make_nodes(n, 4, 0);
	n[1].nr_vnodes = 0;
	r = ring_build(n, 4, 1);
	counts(r, 2, cnt);
	CHECK_EQ(cnt[1], 0);
	ring_free(r);
}

TEST(auto_vnodes_follow_space)
{
	struct sd_node n[4];

	make_nodes(n, 4, 0);
	for (int i = 0; i < 4; i++)
		n[i].space = 100ULL << 30;
	ring_auto_vnodes(n, 4);
	for (int i = 0; i < 4; i++)
		CHECK_EQ(n[i].nr_vnodes, SD_DEFAULT_VNODES);	/* equal disks: 128 each */
	/* 2, 4 and 8 GB: 128 x space / average, as Sheepdog's recalculate_vnodes */
	make_nodes(n, 3, 0);
	n[0].space = 2000000000ULL;
	n[1].space = 4000000000ULL;
	n[2].space = 8000000000ULL;
	ring_auto_vnodes(n, 3);
	CHECK_EQ(n[0].nr_vnodes, 55);
	CHECK_EQ(n[1].nr_vnodes, 110);
	CHECK_EQ(n[2].nr_vnodes, 219);
	/* a gateway (announced 0) gets none and does not count in the average */
	make_nodes(n, 3, 0);
	n[0].space = n[1].space = n[2].space = 1ULL << 30;
	n[2].nr_vnodes = 0;
	ring_auto_vnodes(n, 3);
	CHECK_EQ(n[0].nr_vnodes, 128);
	CHECK_EQ(n[2].nr_vnodes, 0);
	/* no space known anywhere: the announced weights stay */
	make_nodes(n, 2, 0);
	ring_auto_vnodes(n, 2);
	CHECK_EQ(n[0].nr_vnodes, 512);
}

static int node_id_cmp_port(const struct sd_node *a, const struct sd_node *b)
{
	return a->nid.port != b->nid.port;
}

static int moved(struct ring *a, struct ring *b, int copies)
{
	int moves = 0, x[8], y[8];

	for (int i = 0; i < NR_OIDS; i++) {
		int na = ring_pick_nodes(a, test_oid(i), copies, x);
		int nb = ring_pick_nodes(b, test_oid(i), copies, y);

		/* count placements in b that a did not have (compare node ids) */
		for (int j = 0; j < nb; j++) {
			bool had = false;

			for (int k = 0; k < na; k++)
				had |= !node_id_cmp_port(&a->nodes[x[k]], &b->nodes[y[j]]);
			moves += !had;
		}
	}
	return moves;
}

TEST(minimal_movement_on_join_and_leave)
{
	struct sd_node n[6];
	struct ring *r5, *r6;
	int m;
	double frac;

	make_nodes(n, 6, 0);
	r5 = ring_build(n, 5, 1);
	r6 = ring_build(n, 6, 2);
	/* a 6th node joins: about 1/6 of the placements move, to it */
	m = moved(r5, r6, 1);
	frac = (double)m / NR_OIDS;
	CHECK(frac > 0.10 && frac < 0.23);
	/* and leaves again: the same amount moves back */
	m = moved(r6, r5, 1);
	frac = (double)m / NR_OIDS;
	CHECK(frac > 0.10 && frac < 0.23);
	ring_free(r5);
	ring_free(r6);
}

UNIT_MAIN(T(distinct_nodes_and_zones), T(deterministic_and_matches_reference_hashes),
	  T(balance_within_10_percent), T(weighting_by_vnodes), T(auto_vnodes_follow_space),
	  T(minimal_movement_on_join_and_leave))
