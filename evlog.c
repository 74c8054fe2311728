/*
 * evlog.c - the membership state machine of the log-based cluster drivers
 * (see evlog.h).  Pure bookkeeping over the records a driver feeds in; the
 * driver owns the log itself, its locking and its wake-ups.  Main thread.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "daemon.h"
#include "evlog.h"
#include "sheep.h"
#include "util.h"

struct pending_join {
	struct evlog_member m;
	void *msg;		/* the join message as sent, its used part only */
	uint32_t msg_len;
	bool accept_sent;
	uint32_t k;		/* partial history: the number of its first JOIN we saw */
	uint64_t seen_gen;	/* and our gen then */
	struct list_node link;
};

/* partial history: a JOIN's payload starts with its number */
struct join_hdr {
	uint32_t k;
	uint32_t __pad;
};

/* partial history: what an ACCEPT or REFUSE carries before the join message */
struct accept_hdr {
	uint64_t based_on;	/* the acceptor's gen when it decided */
	uint64_t join_gen;	/* its gen when it saw the joiner's JOIN number join_k */
	uint32_t join_k;
	uint32_t nr_members;	/* then nr_members + nr_blocks struct evlog_member */
	uint32_t nr_blocks;
	uint32_t __pad;
};

#define MAX_BLOCKS	4096
#define MY_JOINS	64	/* our own JOINs we remember the gen of */

struct block_ev {
	struct evlog_member m;
	bool callbacked;
	struct list_node link;
};

static const struct evlog_ops *ops;
static struct sd_node self;
static uint64_t self_inc;
static bool joined, join_sent, leaving;
static struct evlog_member members[SD_MAX_NODES];
static int nr_members;
static struct list_node pending_joins, blocks;
static uint64_t last_pos, last_change;	/* where we are; the last membership change */
/* the last change was this entry of an acceptance batch (see decide_batch) */
static struct {
	uint64_t based_on;
	uint32_t k;
	bool set;
} last_batch;
/* partial history (see evlog.h) */
static bool partial, founding;
static uint64_t gen;
static uint32_t next_k;
static struct { uint32_t k; uint64_t gen; bool set; } my_joins[MY_JOINS];
static void *join_msg;
static size_t join_len;

void evlog_init(const struct evlog_ops *o, uint64_t inc)
{
	ops = o;
	self_inc = inc;
	partial = o->bootstrap_ok != NULL;
	list_init(&pending_joins);
	list_init(&blocks);
}

static bool same_member(const struct evlog_member *a, const struct sd_node *n, uint64_t inc)
{
	return a->inc == inc && !memcmp(&a->node.nid, &n->nid, sizeof(n->nid.addr) + 2);
}

static bool is_self(const struct sd_node *n, uint64_t inc)
{
	struct evlog_member me = { self, self_inc };

	return same_member(&me, n, inc);
}

static void member_nodes(struct sd_node *out)
{
	for (int i = 0; i < nr_members; i++)
		out[i] = members[i].node;
}

static void drop_blocks_of(const struct sd_node *n, uint64_t inc)
{
	struct list_node *p = blocks.next;

	while (p != &blocks) {
		struct block_ev *b = list_entry(p, struct block_ev, link);

		p = p->next;
		if (same_member(&b->m, n, inc)) {
			list_del(&b->link);
			free(b);
		}
	}
}

static struct pending_join *find_pending(const struct sd_node *n, uint64_t inc)
{
	struct list_node *p;

	for (p = pending_joins.next; p != &pending_joins; p = p->next) {
		struct pending_join *j = list_entry(p, struct pending_join, link);

		if (same_member(&j->m, n, inc))
			return j;
	}
	return NULL;
}

static void drop_pending(const struct sd_node *n, uint64_t inc)
{
	struct pending_join *j;

	while ((j = find_pending(n, inc))) {
		list_del(&j->link);
		free(j->msg);
		free(j);
	}
}

/*
 * A join message of LEN bytes in a full-size buffer (group_join_msg_size),
 * zeros after it; NULL if LEN is not a join message's.  Records carry only
 * the used part (group_join_msg_len): a full one is half a megabyte, which
 * ZooKeeper keeps in memory for every record of the log.
 */
/* a change other than a batch's ACCEPT (which sets last_batch after this) */
static void set_change(uint64_t pos)
{
	last_change = pos;
	last_batch.set = false;
}

static void *join_copy(const void *msg, uint32_t len)
{
	void *buf;

	if (!group_join_msg_len_ok(len))
		return NULL;
	buf = xzalloc(group_join_msg_size());
	memcpy(buf, msg, len);
	return buf;
}

static void apply_accept(const struct ev_hdr *h, const void *payload)
{
	struct sd_node nodes[SD_MAX_NODES];
	struct pending_join *j = find_pending(&h->node, h->inc);
	uint64_t based_on;
	void *msg;

	/*
	 * No JOIN waits for this ACCEPT: a second copy of one already applied
	 * (the append was retried after a lost reply) or the joiner left first.
	 */
	if (!j || h->len < sizeof(based_on) ||
	    !group_join_msg_len_ok(h->len - sizeof(based_on)))
		return;
	memcpy(&based_on, payload, sizeof(based_on));
	/*
	 * Entry k > 0 of a batch was decided with entries 0..k-1 members: valid
	 * only right after entry k - 1 (the last change, and it was applied)
	 */
	if (h->batch == 0 ? based_on < last_change :
	    !(last_batch.set && last_batch.based_on == based_on && last_batch.k == h->batch - 1)) {
		/* decided before a membership change it did not see: decide again */
		j->accept_sent = false;
		return;
	}
	drop_pending(&h->node, h->inc);
	if (nr_members >= SD_MAX_NODES)
		return;
	members[nr_members].node = h->node;
	members[nr_members].inc = h->inc;
	nr_members++;
	set_change(last_pos);
	last_batch.based_on = based_on;
	last_batch.k = h->batch;
	last_batch.set = true;
	if (is_self(&h->node, h->inc))
		joined = true;
	if (joined) {
		msg = join_copy((const char *)payload + sizeof(based_on),
				h->len - (uint32_t)sizeof(based_on));
		member_nodes(nodes);
		sd_accept_handler(&h->node, nodes, (size_t)nr_members, msg);
		free(msg);
	}
}

static int member_index(const struct sd_node *n, uint64_t inc)
{
	for (int i = 0; i < nr_members; i++)
		if (same_member(&members[i], n, inc))
			return i;
	return -1;
}

static void free_blocks(void)
{
	while (!list_empty(&blocks)) {
		struct block_ev *b = list_first_entry(&blocks, struct block_ev, link);

		list_del(&b->link);
		free(b);
	}
}

/* our gen when our JOIN number k was delivered; false: we do not know it */
static bool my_join_gen(uint32_t k, uint64_t *g)
{
	if (!my_joins[k % MY_JOINS].set || my_joins[k % MY_JOINS].k != k)
		return false;
	*g = my_joins[k % MY_JOINS].gen;
	return true;
}

/*
 * Partial history: an ACCEPT or REFUSE delivered at gen_now.  A member takes
 * it if nothing came between the decision and now; the joiner, which has
 * counted since its JOIN number join_k, computes the same; anyone else still
 * joining only forgets the joiner (it may be a member now).
 */
static void apply_decision_partial(const struct ev_hdr *h, const void *payload, uint64_t gen_now)
{
	struct sd_node nodes[SD_MAX_NODES];
	const struct accept_hdr *a = payload;
	const struct evlog_member *snap;
	struct pending_join *j;
	size_t snap_len;
	const char *msgp;
	uint32_t msg_len;
	uint64_t mine;
	void *msg;
	bool valid;

	if (h->len < sizeof(*a) || a->nr_members > SD_MAX_NODES || a->nr_blocks > MAX_BLOCKS)
		return;
	snap_len = (size_t)(a->nr_members + a->nr_blocks) * sizeof(struct evlog_member);
	if (h->len < sizeof(*a) + snap_len ||
	    !group_join_msg_len_ok(h->len - sizeof(*a) - snap_len))
		return;
	snap = (const struct evlog_member *)(a + 1);
	msgp = (const char *)(a + 1) + snap_len;
	msg_len = h->len - (uint32_t)(sizeof(*a) + snap_len);

	if (joined)
		valid = a->based_on == gen_now && member_index(&h->node, h->inc) < 0;
	else if (is_self(&h->node, h->inc))
		valid = my_join_gen(a->join_k, &mine) && a->based_on == gen_now + (a->join_gen - mine);
	else {
		drop_pending(&h->node, h->inc);
		return;
	}
	if (!valid) {
		/* decided before a record it did not see: the acceptor decides again */
		j = find_pending(&h->node, h->inc);
		if (j)
			j->accept_sent = false;
		if (is_self(&h->node, h->inc))
			founding = false;
		return;
	}
	drop_pending(&h->node, h->inc);
	if (!joined && h->type == EV_ACCEPT) {
		/* ours: from here on we are exactly where the members are */
		free_blocks();
		nr_members = 0;
		for (uint32_t i = 0; i < a->nr_members; i++) {
			members[nr_members++] = snap[i];
			drop_pending(&snap[i].node, snap[i].inc);
		}
		for (uint32_t i = 0; i < a->nr_blocks; i++) {
			struct block_ev *b = xzalloc(sizeof(*b));

			b->m = snap[a->nr_members + i];
			list_add_tail(&b->link, &blocks);
		}
		gen = a->based_on;	/* the caller counts this record */
		founding = false;
	}
	msg = join_copy(msgp, msg_len);
	if (h->type == EV_REFUSE) {
		if (is_self(&h->node, h->inc) && msg)
			sd_accept_handler(&h->node, &h->node, 1, msg);
		free(msg);
		return;
	}
	if (nr_members < SD_MAX_NODES) {
		members[nr_members].node = h->node;
		members[nr_members].inc = h->inc;
		nr_members++;
		if (is_self(&h->node, h->inc))
			joined = true;
		member_nodes(nodes);
		sd_accept_handler(&h->node, nodes, (size_t)nr_members, msg);
	}
	free(msg);
}

static void apply_leave(const struct ev_hdr *h)
{
	struct sd_node nodes[SD_MAX_NODES];
	int i;

	drop_pending(&h->node, h->inc);
	drop_blocks_of(&h->node, h->inc);
	i = member_index(&h->node, h->inc);
	if (i < 0)
		return;
	/*
	 * The others dropped us (they took us for dead: a freeze, a lost
	 * link): we are no member any more, whatever we thought.  Start over.
	 */
	if (joined && !leaving && is_self(&h->node, h->inc))
		sheep_restart("the cluster has dropped this sheep (the others took it for dead)");
	memmove(&members[i], &members[i + 1], sizeof(members[0]) * (size_t)(nr_members - i - 1));
	nr_members--;
	set_change(last_pos);
	if (joined && !is_self(&h->node, h->inc)) {
		member_nodes(nodes);
		sd_leave_handler(&h->node, nodes, (size_t)nr_members);
	}
}

void evlog_apply(const struct ev_hdr *h, const void *payload, uint64_t pos)
{
	last_pos = pos;
	switch (h->type) {
	case EV_JOIN: {
		struct pending_join *j;
		uint32_t k = 0, len;
		void *msg;

		if (partial) {
			struct join_hdr jh;

			if (h->len < sizeof(jh) || member_index(&h->node, h->inc) >= 0)
				return;	/* malformed, or a re-sent JOIN of a member now */
			memcpy(&jh, payload, sizeof(jh));
			k = jh.k;
			if (is_self(&h->node, h->inc)) {
				my_joins[k % MY_JOINS].k = k;
				my_joins[k % MY_JOINS].gen = gen;
				my_joins[k % MY_JOINS].set = true;
			}
			payload = (const char *)payload + sizeof(jh);
		}
		if (find_pending(&h->node, h->inc))
			break;	/* a retried JOIN */
		len = h->len - (partial ? (uint32_t)sizeof(struct join_hdr) : 0);
		if (!group_join_msg_len_ok(len))
			break;	/* not a join message of ours: ignore it */
		/*
		 * Its used part only: in a boot storm every joiner's message waits
		 * here at once, and a full-size copy each (half a megabyte, zeroed)
		 * made a sheep's memory grow by that much per member.
		 */
		msg = xmalloc(len);
		memcpy(msg, payload, len);
		j = xzalloc(sizeof(*j));
		j->m.node = h->node;
		j->m.inc = h->inc;
		j->msg = msg;
		j->msg_len = len;
		j->k = k;
		j->seen_gen = gen;
		list_add_tail(&j->link, &pending_joins);
		break;
	}
	case EV_ACCEPT:
		if (partial)
			apply_decision_partial(h, payload, gen);
		else
			apply_accept(h, payload);
		break;
	case EV_REFUSE:
		if (partial) {
			apply_decision_partial(h, payload, gen);
			break;
		}
		/* the joiner alone learns why (status KILLED); members are unchanged */
		if (!find_pending(&h->node, h->inc))
			break;	/* a second copy */
		drop_pending(&h->node, h->inc);
		if (is_self(&h->node, h->inc) && h->len >= sizeof(uint64_t)) {
			void *msg = join_copy((const char *)payload + sizeof(uint64_t),
					      h->len - (uint32_t)sizeof(uint64_t));

			if (msg)
				sd_accept_handler(&h->node, &h->node, 1, msg);
			free(msg);
		}
		break;
	case EV_LEAVE:
		apply_leave(h);
		break;
	case EV_UPDATE:
		for (int i = 0; i < nr_members; i++)
			if (same_member(&members[i], &h->node, h->inc))
				members[i].node = h->node;
		set_change(pos);
		if (joined)
			sd_update_node_handler(&h->node);
		break;
	case EV_NOTIFY:
		set_change(pos);	/* a cluster op may change what a join decides */
		if (joined)
			sd_notify_handler(&h->node, (void *)payload, h->len);
		break;
	case EV_BLOCK: {
		struct block_ev *b;

		if (partial && !joined)
			break;	/* the queue comes with our ACCEPT */
		b = xzalloc(sizeof(*b));

		b->m.node = h->node;
		b->m.inc = h->inc;
		list_add_tail(&b->link, &blocks);
		break;
	}
	case EV_UNBLOCK:
		if (!list_empty(&blocks)) {
			struct block_ev *b = list_first_entry(&blocks, struct block_ev, link);

			if (same_member(&b->m, &h->node, h->inc)) {
				list_del(&b->link);
				free(b);
			}
		}
		set_change(pos);
		if (joined)
			sd_notify_handler(&h->node, (void *)payload, h->len);
		break;
	}
	if (partial && h->type != EV_JOIN)
		gen++;	/* every record but a JOIN, whatever our state: see evlog.h */
}

/*
 * Snapshots (full history): the state at last_pos, so a log may drop what
 * comes before it.  Layout: struct snap_hdr, the members and the block
 * queue (struct evlog_member each), then each pending join as its member,
 * a uint32 message length, 4 bytes of padding and the message's used part.
 * What only the acceptor or one member knows (accept_sent, callbacked, the
 * deaths seen) is not in it: a sheep restores one only before it is a member.
 */
#define SNAP_MAGIC	0x534e4150	/* "SNAP" */

struct snap_hdr {
	uint32_t magic;
	uint32_t nr_members;
	uint32_t nr_blocks;
	uint32_t nr_pending;
	uint64_t pos;
	uint64_t last_change;
	uint64_t batch_based_on;	/* last_batch */
	uint32_t batch_k;
	uint32_t batch_set;
};

void *evlog_snapshot(size_t max, size_t *len, uint64_t *pos)
{
	struct snap_hdr h = { .magic = SNAP_MAGIC, .nr_members = (uint32_t)nr_members,
			      .pos = last_pos, .last_change = last_change,
			      .batch_based_on = last_batch.based_on, .batch_k = last_batch.k,
			      .batch_set = last_batch.set };
	struct list_node *p;
	size_t n = sizeof(h) + (size_t)nr_members * sizeof(struct evlog_member);
	uint8_t *buf, *at;

	if (partial)
		return NULL;
	for (p = blocks.next; p != &blocks; p = p->next, h.nr_blocks++)
		n += sizeof(struct evlog_member);
	for (p = pending_joins.next; p != &pending_joins; p = p->next, h.nr_pending++)
		n += sizeof(struct evlog_member) + 8 +
		     list_entry(p, struct pending_join, link)->msg_len;
	if (n > max)
		return NULL;	/* a storm of joins waiting: the next one */
	at = buf = xmalloc(n);
	memcpy(at, &h, sizeof(h));
	at += sizeof(h);
	memcpy(at, members, (size_t)nr_members * sizeof(members[0]));
	at += (size_t)nr_members * sizeof(members[0]);
	for (p = blocks.next; p != &blocks; p = p->next, at += sizeof(struct evlog_member))
		memcpy(at, &list_entry(p, struct block_ev, link)->m, sizeof(struct evlog_member));
	for (p = pending_joins.next; p != &pending_joins; p = p->next) {
		struct pending_join *j = list_entry(p, struct pending_join, link);
		uint32_t l[2] = { j->msg_len, 0 };

		memcpy(at, &j->m, sizeof(j->m));
		memcpy(at + sizeof(j->m), l, sizeof(l));
		memcpy(at + sizeof(j->m) + sizeof(l), j->msg, j->msg_len);
		at += sizeof(j->m) + sizeof(l) + j->msg_len;
	}
	*len = n;
	*pos = last_pos;
	return buf;
}

int64_t evlog_snapshot_pos(const void *buf, size_t len)
{
	struct snap_hdr h;

	if (len < sizeof(h))
		return -1;
	memcpy(&h, buf, sizeof(h));
	return h.magic == SNAP_MAGIC && h.pos <= INT64_MAX ? (int64_t)h.pos : -1;
}

int evlog_restore(const void *buf, size_t len, uint64_t *pos)
{
	const uint8_t *at = buf, *end = at + len;
	struct snap_hdr h;
	uint32_t seen = 0;
	size_t fixed;

	if (partial || joined)
		return -EINVAL;
	if (len < sizeof(h))
		return -EINVAL;
	memcpy(&h, at, sizeof(h));
	fixed = sizeof(h) + ((size_t)h.nr_members + h.nr_blocks) * sizeof(struct evlog_member);
	if (h.magic != SNAP_MAGIC || h.nr_members > SD_MAX_NODES || h.nr_blocks > MAX_BLOCKS ||
	    h.nr_pending > SD_MAX_NODES || len < fixed)
		return -EINVAL;
	at += sizeof(h);
	for (uint32_t i = 0; i < h.nr_members; i++) {
		struct evlog_member m;

		memcpy(&m, at + i * sizeof(m), sizeof(m));
		if (is_self(&m.node, m.inc))
			return -EEXIST;	/* accepted already: its ACCEPT is gone with the log */
	}
	/* every length checked before anything is changed */
	for (const uint8_t *q = at + fixed - sizeof(h); q < end; seen++) {
		uint32_t l[2];

		if ((size_t)(end - q) < sizeof(struct evlog_member) + sizeof(l))
			return -EINVAL;
		memcpy(l, q + sizeof(struct evlog_member), sizeof(l));
		if (!group_join_msg_len_ok(l[0]) ||
		    (size_t)(end - q) < sizeof(struct evlog_member) + sizeof(l) + l[0])
			return -EINVAL;
		q += sizeof(struct evlog_member) + sizeof(l) + l[0];
	}
	if (seen != h.nr_pending)
		return -EINVAL;
	while (!list_empty(&pending_joins)) {
		struct pending_join *j = list_first_entry(&pending_joins, struct pending_join, link);

		list_del(&j->link);
		free(j->msg);
		free(j);
	}
	free_blocks();
	memcpy(members, at, (size_t)h.nr_members * sizeof(members[0]));
	nr_members = (int)h.nr_members;
	at += (size_t)h.nr_members * sizeof(members[0]);
	for (uint32_t i = 0; i < h.nr_blocks; i++, at += sizeof(struct evlog_member)) {
		struct block_ev *b = xzalloc(sizeof(*b));

		memcpy(&b->m, at, sizeof(b->m));
		list_add_tail(&b->link, &blocks);
	}
	for (uint32_t i = 0; i < h.nr_pending; i++) {
		struct pending_join *j = xzalloc(sizeof(*j));
		uint32_t l[2];

		memcpy(&j->m, at, sizeof(j->m));
		memcpy(l, at + sizeof(j->m), sizeof(l));
		j->msg_len = l[0];
		j->msg = xmalloc(l[0]);
		memcpy(j->msg, at + sizeof(j->m) + sizeof(l), l[0]);
		at += sizeof(j->m) + sizeof(l) + l[0];
		list_add_tail(&j->link, &pending_joins);
	}
	last_pos = h.pos;
	last_change = h.last_change;
	last_batch.based_on = h.batch_based_on;
	last_batch.k = h.batch_k;
	last_batch.set = h.batch_set != 0;
	*pos = h.pos;
	return 0;
}

bool evlog_oldest(void)
{
	return evlog_rank() == 0;
}

int evlog_rank(void)
{
	if (!joined)
		return -1;
	for (int i = 0; i < nr_members; i++)
		if (is_self(&members[i].node, members[i].inc))
			return i;
	return -1;
}

int evlog_members(const struct evlog_member **out)
{
	*out = members;
	return nr_members;
}

/* partial history: the ACCEPT (or REFUSE) of j, decided now, with our list and queue */
static void decide_partial(struct pending_join *j)
{
	struct sd_node nodes[SD_MAX_NODES];
	struct accept_hdr a = { .based_on = gen, .join_gen = j->seen_gen, .join_k = j->k };
	struct evlog_member *snap;
	struct list_node *p;
	size_t snap_len, len;
	uint8_t *buf, *msg;
	bool ok;

	a.nr_members = (uint32_t)nr_members;
	for (p = blocks.next; p != &blocks && a.nr_blocks < MAX_BLOCKS; p = p->next)
		a.nr_blocks++;
	snap_len = (size_t)(a.nr_members + a.nr_blocks) * sizeof(*snap);
	buf = xzalloc(sizeof(a) + snap_len + group_join_msg_size());
	snap = (struct evlog_member *)(buf + sizeof(a));
	memcpy(snap, members, (size_t)nr_members * sizeof(*snap));
	snap += nr_members;
	for (p = blocks.next; p != &blocks && snap < (struct evlog_member *)(buf + sizeof(a)) +
	     a.nr_members + a.nr_blocks; p = p->next)
		*snap++ = list_entry(p, struct block_ev, link)->m;
	memcpy(buf, &a, sizeof(a));
	msg = buf + sizeof(a) + snap_len;
	memcpy(msg, j->msg, j->msg_len);	/* zeros after it (xzalloc) */
	member_nodes(nodes);
	j->accept_sent = true;
	ok = sd_join_handler(&j->m.node, nodes, (size_t)nr_members, msg);
	len = sizeof(a) + snap_len + group_join_msg_len(msg);
	if (!joined)
		founding = true;
	if (ops->append(ok ? EV_ACCEPT : EV_REFUSE, &j->m.node, j->m.inc, buf, (uint32_t)len, 0)) {
		j->accept_sent = false;
		founding = false;
	}
	free(buf);
}

/*
 * Full history: the acceptor decides the pending joins from first on, one
 * after another, each on the member list with the ones before it added,
 * and appends their ACCEPTs numbered 0, 1, ... (ev_hdr.batch) without
 * waiting to read each back: in a boot storm of 500 sheep that wait made
 * the joins one every 180 ms.  ACCEPT k > 0 of a batch is valid if the last
 * membership change was ACCEPT k - 1 of the same batch (apply_accept).  A
 * batch ends at a refusal and at a decision after which the next one could
 * differ (the cluster runs: every join is an epoch; group_join_batchable).
 */
#define MAX_BATCH	256

static void decide_batch(struct list_node *first)
{
	struct sd_node *nodes = xcalloc(SD_MAX_NODES, sizeof(*nodes));
	uint8_t *msg = xzalloc(sizeof(uint64_t) + group_join_msg_size());
	uint64_t based_on = last_pos;
	int n = nr_members;
	uint32_t k = 0;

	member_nodes(nodes);
	for (struct list_node *p = first; p != &pending_joins && k < MAX_BATCH &&
	     n < SD_MAX_NODES; p = p->next) {
		struct pending_join *j = list_entry(p, struct pending_join, link);
		size_t len;
		bool ok;

		if (j->accept_sent)
			continue;
		/* decided on a copy: a decision made again starts from what the joiner sent */
		memset(msg, 0, sizeof(uint64_t) + group_join_msg_size());
		memcpy(msg, &based_on, sizeof(uint64_t));
		memcpy(msg + sizeof(uint64_t), j->msg, j->msg_len);
		j->accept_sent = true;
		ok = sd_join_handler(&j->m.node, nodes, (size_t)n, msg + sizeof(uint64_t));
		len = sizeof(uint64_t) + group_join_msg_len(msg + sizeof(uint64_t));
		/* not appended (the coordinator timed out): decide again on the next wake-up */
		if (ops->append(ok ? EV_ACCEPT : EV_REFUSE, &j->m.node, j->m.inc, msg,
				(uint32_t)len, k)) {
			j->accept_sent = false;
			break;
		}
		if (!ok || n == 0 || !group_join_batchable(msg + sizeof(uint64_t)))
			break;	/* the founder alone; a refusal or a running cluster ends it */
		nodes[n++] = j->m.node;
		k++;
	}
	free(msg);
	free(nodes);
}

/* the oldest member accepts; with no members, the first joiner itself */
void evlog_caught_up(void)
{
	struct list_node *p;

	for (p = pending_joins.next; p != &pending_joins; p = p->next) {
		struct pending_join *j = list_entry(p, struct pending_join, link);
		bool mine;

		if (j->accept_sent) {
			if (!partial)
				return;	/* a batch in flight: a new one now would be stale */
			continue;
		}
		if (partial) {
			/* a member decides for anyone; a founder only for itself */
			if (nr_members > 0 ? !(joined && is_self(&members[0].node, members[0].inc)) :
			    (joined || !is_self(&j->m.node, j->m.inc) || !ops->bootstrap_ok()))
				continue;
			decide_partial(j);
			return;	/* the ACCEPT changes the member list: re-evaluate after it */
		}
		if (nr_members > 0)
			mine = joined && is_self(&members[0].node, members[0].inc);
		else
			mine = is_self(&j->m.node, j->m.inc) && p == pending_joins.next;
		if (!mine)
			return;
		decide_batch(p);
		return;	/* the ACCEPTs change the member list: re-evaluate after them */
	}
}

/*
 * Who appends a dead member's LEAVE: the oldest live member at once, any
 * other one only if the LEAVE has not come REAP_GRACE_MS after it saw the
 * death (the oldest may be dying too, or slow).  When every survivor
 * appended it, a kill -9 in a cluster of N cost N records read by N
 * members: leave detection drifted past timeout + 2 s as clusters grew.
 */
#define REAP_GRACE_MS	2000
#define MAX_SEEN_DEAD	256

static struct {
	struct evlog_member m;
	uint64_t since;		/* ms */
} seen_dead[MAX_SEEN_DEAD];
static int nr_seen_dead;

/* when we first saw m dead (now if just now), remembered for this reap's next round */
static uint64_t dead_since(const struct evlog_member *m, uint64_t now, int *nr_kept, void *kept)
{
	typeof(seen_dead[0]) *k = kept;
	uint64_t since = now;

	for (int i = 0; i < nr_seen_dead; i++)
		if (same_member(&seen_dead[i].m, &m->node, m->inc))
			since = seen_dead[i].since;
	if (*nr_kept < MAX_SEEN_DEAD)
		k[(*nr_kept)++] = (typeof(seen_dead[0])){ *m, since };
	return since;
}

static bool reap_first(void)
{
	for (int i = 0; i < nr_members; i++) {
		if (is_self(&members[i].node, members[i].inc))
			return true;
		if (ops->alive(&members[i]))
			return false;
	}
	return !joined;	/* a joiner with no live member reaps for itself */
}

static void reap_one(const struct evlog_member *m, bool first, uint64_t now, int *nr_kept,
		     void *kept)
{
	uint64_t since = dead_since(m, now, nr_kept, kept);

	if (first || now - since >= REAP_GRACE_MS)
		ops->append(EV_LEAVE, &m->node, m->inc, NULL, 0, 0);
}

bool evlog_reap(void)
{
	typeof(seen_dead[0]) kept[MAX_SEEN_DEAD];
	uint64_t now = now_usec() / 1000;
	bool first = reap_first();
	struct list_node *p;
	int nr_kept = 0, dead = 0;

	for (int i = 0; i < nr_members; i++)
		if (!is_self(&members[i].node, members[i].inc) && !ops->alive(&members[i])) {
			reap_one(&members[i], first, now, &nr_kept, kept);
			dead++;
		}
	for (p = pending_joins.next; p != &pending_joins; p = p->next) {
		struct pending_join *j = list_entry(p, struct pending_join, link);

		if (!is_self(&j->m.node, j->m.inc) && !ops->alive(&j->m)) {
			reap_one(&j->m, first, now, &nr_kept, kept);
			dead++;
		}
	}
	memcpy(seen_dead, kept, sizeof(kept[0]) * (size_t)nr_kept);
	nr_seen_dead = nr_kept;
	return dead > 0;
}

void evlog_kick_block(void)
{
	struct block_ev *b;

	if (!joined || list_empty(&blocks))
		return;
	b = list_first_entry(&blocks, struct block_ev, link);
	if (!b->callbacked && is_self(&b->m.node, b->m.inc))
		b->callbacked = sd_block_handler(&b->m.node);
}

bool evlog_addr_taken(const struct sd_node *n)
{
	for (int i = 0; i < nr_members; i++)
		if (!memcmp(&members[i].node.nid, &n->nid, 18) && ops->alive(&members[i]))
			return true;
	return false;
}

int evlog_join(const struct sd_node *myself, const void *opaque, size_t len)
{
	int ret;

	self = *myself;
	memset(self.__rb, 0, sizeof(self.__rb));
	if (partial) {
		free(join_msg);
		join_msg = xmalloc(len);
		memcpy(join_msg, opaque, len);
		join_len = len;
		return evlog_rejoin();
	}
	ret = ops->append(EV_JOIN, &self, self_inc, opaque, (uint32_t)len, 0);
	join_sent = ret == 0;
	return ret;
}

int evlog_rejoin(void)
{
	struct join_hdr jh = { .k = next_k };
	uint8_t *buf;
	int ret;

	if (!join_msg || joined || founding)
		return 0;
	buf = xmalloc(sizeof(jh) + join_len);
	memcpy(buf, &jh, sizeof(jh));
	memcpy(buf + sizeof(jh), join_msg, join_len);
	ret = ops->append(EV_JOIN, &self, self_inc, buf, (uint32_t)(sizeof(jh) + join_len), 0);
	free(buf);
	if (!ret) {
		next_k++;
		join_sent = true;
	}
	return ret;
}

bool evlog_founding(void)
{
	return founding;
}

bool evlog_joined(void)
{
	return joined;
}

bool evlog_is_pending(uint64_t inc)
{
	struct list_node *p;

	for (p = pending_joins.next; p != &pending_joins; p = p->next)
		if (list_entry(p, struct pending_join, link)->m.inc == inc)
			return true;
	return false;
}

bool evlog_node_of(uint64_t inc, struct sd_node *node)
{
	struct list_node *p;

	for (int i = 0; i < nr_members; i++)
		if (members[i].inc == inc) {
			*node = members[i].node;
			return true;
		}
	for (p = pending_joins.next; p != &pending_joins; p = p->next) {
		struct pending_join *j = list_entry(p, struct pending_join, link);

		if (j->m.inc == inc) {
			*node = j->m.node;
			return true;
		}
	}
	return false;
}

int evlog_leave(void)
{
	leaving = true;
	if (!join_sent)
		return 0;
	return ops->append(EV_LEAVE, &self, self_inc, NULL, 0, 0);
}

/* delivery comes later, from the driver's loop, never inside these calls */
static int append_locked(uint32_t type, const struct sd_node *node, const void *msg,
			 size_t len)
{
	int ret;

	if (len > SD_MAX_EVENT_BUF_SIZE)
		return -EMSGSIZE;
	if (ops->lock && ops->lock())
		return -EIO;
	ret = ops->append(type, node, self_inc, msg, (uint32_t)len, 0);
	if (ops->unlock)
		ops->unlock();
	return ret;
}

int evlog_notify(void *msg, size_t len)
{
	return append_locked(EV_NOTIFY, &self, msg, len);
}

int evlog_block(void)
{
	return append_locked(EV_BLOCK, &self, NULL, 0);
}

int evlog_unblock(void *msg, size_t len)
{
	return append_locked(EV_UNBLOCK, &self, msg, len);
}

int evlog_update_node(const struct sd_node *node)
{
	return append_locked(EV_UPDATE, node, NULL, 0);
}
