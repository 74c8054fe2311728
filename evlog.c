/*
 * evlog.c - the membership state machine of the log-based cluster drivers
 * (see evlog.h).  Pure bookkeeping over the records a driver feeds in; the
 * driver owns the log itself, its locking and its wake-ups.  Main thread.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "evlog.h"
#include "sheep.h"
#include "util.h"

struct pending_join {
	struct evlog_member m;
	void *msg;		/* the join message as sent, zero-padded (join_copy) */
	bool accept_sent;
	struct list_node link;
};

struct block_ev {
	struct evlog_member m;
	bool callbacked;
	struct list_node link;
};

static const struct evlog_ops *ops;
static struct sd_node self;
static uint64_t self_inc;
static bool joined, join_sent;
static struct evlog_member members[SD_MAX_NODES];
static int nr_members;
static struct list_node pending_joins, blocks;
static uint64_t last_pos, last_change;	/* where we are; the last membership change */

void evlog_init(const struct evlog_ops *o, uint64_t inc)
{
	ops = o;
	self_inc = inc;
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
	if (based_on < last_change) {
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
	last_change = last_pos;
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

static void apply_leave(const struct ev_hdr *h)
{
	struct sd_node nodes[SD_MAX_NODES];
	bool was_member = false;

	drop_pending(&h->node, h->inc);
	drop_blocks_of(&h->node, h->inc);
	for (int i = 0; i < nr_members; i++) {
		if (!same_member(&members[i], &h->node, h->inc))
			continue;
		memmove(&members[i], &members[i + 1],
			sizeof(members[0]) * (size_t)(nr_members - i - 1));
		nr_members--;
		was_member = true;
		break;
	}
	if (!was_member)
		return;
	last_change = last_pos;
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
		void *msg;

		if (find_pending(&h->node, h->inc))
			break;	/* a retried JOIN */
		msg = join_copy(payload, h->len);
		if (!msg)
			break;	/* not a join message of ours: ignore it */
		j = xzalloc(sizeof(*j));
		j->m.node = h->node;
		j->m.inc = h->inc;
		j->msg = msg;
		list_add_tail(&j->link, &pending_joins);
		break;
	}
	case EV_ACCEPT:
		apply_accept(h, payload);
		break;
	case EV_REFUSE:
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
		last_change = pos;
		if (joined)
			sd_update_node_handler(&h->node);
		break;
	case EV_NOTIFY:
		last_change = pos;	/* a cluster op may change what a join decides */
		if (joined)
			sd_notify_handler(&h->node, (void *)payload, h->len);
		break;
	case EV_BLOCK: {
		struct block_ev *b = xzalloc(sizeof(*b));

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
		last_change = pos;
		if (joined)
			sd_notify_handler(&h->node, (void *)payload, h->len);
		break;
	}
}

/* the oldest member accepts; with no members, the first joiner itself */
void evlog_caught_up(void)
{
	struct sd_node nodes[SD_MAX_NODES];
	struct list_node *p;

	for (p = pending_joins.next; p != &pending_joins; p = p->next) {
		struct pending_join *j = list_entry(p, struct pending_join, link);
		uint8_t *msg;
		size_t len;
		bool mine, ok;

		if (j->accept_sent)
			continue;
		if (nr_members > 0)
			mine = joined && is_self(&members[0].node, members[0].inc);
		else
			mine = is_self(&j->m.node, j->m.inc) && p == pending_joins.next;
		if (!mine)
			return;
		member_nodes(nodes);
		j->accept_sent = true;
		/* decided on a copy: a decision made again starts from what the joiner sent */
		msg = xmalloc(sizeof(uint64_t) + group_join_msg_size());
		memcpy(msg, &last_pos, sizeof(uint64_t));
		memcpy(msg + sizeof(uint64_t), j->msg, group_join_msg_size());
		ok = sd_join_handler(&j->m.node, nodes, (size_t)nr_members, msg + sizeof(uint64_t));
		len = sizeof(uint64_t) + group_join_msg_len(msg + sizeof(uint64_t));
		/* not appended (the coordinator timed out): decide again on the next wake-up */
		if (ops->append(ok ? EV_ACCEPT : EV_REFUSE, &j->m.node, j->m.inc, msg,
				(uint32_t)len))
			j->accept_sent = false;
		free(msg);
		return;	/* the ACCEPT changes the member list: re-evaluate after it */
	}
}

void evlog_reap(void)
{
	struct list_node *p;

	for (int i = 0; i < nr_members; i++)
		if (!is_self(&members[i].node, members[i].inc) && !ops->alive(&members[i]))
			ops->append(EV_LEAVE, &members[i].node, members[i].inc, NULL, 0);
	for (p = pending_joins.next; p != &pending_joins; p = p->next) {
		struct pending_join *j = list_entry(p, struct pending_join, link);

		if (!is_self(&j->m.node, j->m.inc) && !ops->alive(&j->m))
			ops->append(EV_LEAVE, &j->m.node, j->m.inc, NULL, 0);
	}
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
	ret = ops->append(EV_JOIN, &self, self_inc, opaque, (uint32_t)len);
	join_sent = ret == 0;
	return ret;
}

int evlog_leave(void)
{
	if (!join_sent)
		return 0;
	return ops->append(EV_LEAVE, &self, self_inc, NULL, 0);
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
	ret = ops->append(type, node, self_inc, msg, (uint32_t)len);
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
