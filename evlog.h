/*
 * evlog.h - the membership state machine shared by the log-based cluster
 * drivers (local, zookeeper, accord; corosync below).  A driver keeps one
 * totally ordered log of events (JOIN, ACCEPT or REFUSE, LEAVE, NOTIFY,
 * BLOCK, UNBLOCK, UPDATE);
 * every member replays it from the start (or from a snapshot of the state
 * at a position, evlog_snapshot) through evlog_apply(), so all of
 * them compute the same member list and block queue at every position, and
 * a member delivers events to the core only from its own ACCEPT on.  The
 * oldest member accepts joins by appending an ACCEPT that carries the join
 * message as sd_join_handler rewrote it and the log position it was decided
 * at; an ACCEPT with a membership change between that position and its own
 * is stale and ignored everywhere (the acceptor decides again), so drivers
 * whose appends are not serialized with their reads stay correct.
 * Members are told apart by (address, port, incarnation): a pid, a session.
 * A member that applies a LEAVE of itself it did not ask for (the others
 * took it for dead) starts over in place (sheep_restart).
 *
 * Partial history (ops->bootstrap_ok set: corosync): a member sees only the
 * records delivered after it connected, so it cannot replay the past.  Then
 * every record but a JOIN counts one generation (gen); an ACCEPT carries the
 * acceptor's gen at its decision, the member list and block queue it decided
 * on, and the gen at which the acceptor saw the joiner's JOIN number k (a
 * joiner re-sends its JOIN, numbered, whenever the view changes).  Members
 * take the ACCEPT only if no record came between decision and delivery; the
 * joiner computes the same from its own count at its JOIN number k, adopts
 * the list, queue and gen, and from then on is exactly where the members
 * are.  With no members, the one process bootstrap_ok() names accepts itself.
 * Main thread only.
 */
#ifndef SHEEP_EVLOG_H
#define SHEEP_EVLOG_H

#include <stdbool.h>
#include <stdint.h>

#include "proto.h"

enum {
	EV_JOIN = 1, EV_ACCEPT, EV_LEAVE, EV_NOTIFY, EV_BLOCK, EV_UNBLOCK, EV_REFUSE, EV_UPDATE
};

#define EV_MAGIC 0x5348454d	/* "SHEM" */

/* one log record: this header, then len payload bytes */
struct ev_hdr {
	uint32_t magic;
	uint32_t type;
	uint64_t inc;		/* incarnation of the node below */
	uint32_t len;
	uint32_t batch;		/* ACCEPT (full history): its place in an acceptance batch */
	struct sd_node node;	/* sender; joined node for ACCEPT; left node for LEAVE */
};

/* the largest payload a record may have: a join message and some */
#define EV_MAX_PAYLOAD (SD_MAX_EVENT_BUF_SIZE + SD_MAX_NODES * sizeof(struct sd_node) + 4096)

struct evlog_member {
	struct sd_node node;
	uint64_t inc;
};

struct evlog_ops {
	/* append a record to the log (delivery comes later, through evlog_apply) */
	int (*append)(uint32_t type, const struct sd_node *node, uint64_t inc, const void *buf,
		      uint32_t len, uint32_t batch);
	/* is this member (or pending joiner) still there? */
	bool (*alive)(const struct evlog_member *m);
	/* optional: held around appends made on the core's behalf */
	int (*lock)(void);
	void (*unlock)(void);
	/*
	 * set for partial history (see above): with no members, may this
	 * process found the cluster?  (every other connected process is a
	 * joiner we know of, and we are the one the driver picks)
	 */
	bool (*bootstrap_ok)(void);
};

void evlog_init(const struct evlog_ops *ops, uint64_t self_inc);
/* apply the record at log position pos (positions only grow) */
void evlog_apply(const struct ev_hdr *h, const void *payload, uint64_t pos);
/* after applying all there is: accept pending joins if we are the acceptor */
void evlog_caught_up(void);
/* append LEAVE for members and joiners that are gone; true: some were */
bool evlog_reap(void);
/* the core may run the head block if it is ours */
void evlog_kick_block(void);

/* the cluster_driver entry points, identical for every log driver */
int evlog_join(const struct sd_node *myself, const void *opaque, size_t len);
int evlog_leave(void);
int evlog_notify(void *msg, size_t len);
int evlog_block(void);
int evlog_unblock(void *msg, size_t len);
int evlog_update_node(const struct sd_node *node);
/* a live member other than us already uses this address and port */
bool evlog_addr_taken(const struct sd_node *n);
/* partial history: the member or joiner of this incarnation, if any */
bool evlog_node_of(uint64_t inc, struct sd_node *node);
/* a joiner we have seen a JOIN of and no ACCEPT or LEAVE since */
bool evlog_is_pending(uint64_t inc);
bool evlog_joined(void);
/* partial history: number the JOIN we append next (a re-sent one) */
int evlog_rejoin(void);
/* we have appended our own ACCEPT (we found the cluster) */
bool evlog_founding(void);
/* we are the oldest member: the one that accepts joins */
bool evlog_oldest(void);
/* our place among the members in acceptance order (0: the oldest); -1: none */
int evlog_rank(void);
/* the members in acceptance order (the array is evlog's) */
int evlog_members(const struct evlog_member **out);
/*
 * Full history: the state at the last applied position *pos, in a buffer
 * of *len bytes to free (NULL if it would exceed max), so the log before
 * it may go; and a process not yet a member starting from one instead of
 * the log's beginning (-EEXIST: it is a member in it already, its ACCEPT
 * gone; -EINVAL: not a snapshot).
 */
void *evlog_snapshot(size_t max, size_t *len, uint64_t *pos);
int evlog_restore(const void *buf, size_t len, uint64_t *pos);
/* the position of a snapshot (its first 32 bytes do), -1 if it is none */
int64_t evlog_snapshot_pos(const void *buf, size_t len);

#endif
