/*
 * cluster.h - the cluster driver interface: membership and one total order
 * of events, delivered identically on every member.  Drivers live in
 * cluster_*.c and register themselves; the core never names a driver.
 * Contract: docs/CLUSTER-DRIVERS.md.
 */
#ifndef SHEEP_CLUSTER_H
#define SHEEP_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"

struct cluster_driver {
	const char *name;
	/* connect to the coordination service and register fds with the loop */
	int (*init)(const char *option);
	/* optional: this node's address when -y was not given */
	int (*get_local_addr)(uint8_t addr[16]);
	/* broadcast a join carrying opaque (a struct cluster_info) */
	int (*join)(const struct sd_node *myself, void *opaque, size_t opaque_len);
	int (*leave)(void);
	/* totally ordered broadcast, the sender included */
	int (*notify)(void *msg, size_t msg_len);
	/* serialize a worker phase cluster-wide; unblock delivers msg as notify */
	int (*block)(void);
	int (*unblock)(void *msg, size_t msg_len);
	int (*update_node)(const struct sd_node *node);
	struct cluster_driver *next;
};

void cdrv_register(struct cluster_driver *drv);
const struct cluster_driver *cdrv_find(const char *name);
/* names of all linked-in drivers, space separated */
const char *cdrv_names(char *buf, size_t len);
/* a driver's own words for why init failed, for the operator; "" if none */
void cdrv_set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *cdrv_error(void);
/*
 * the coordination drivers' shared options: timeout=V (a bare number is ms,
 * as Sheepdog's timeout=3000; or Ns, Nms; 1 s to 600 s) and id=NAME (no '/',
 * shorter than len): 0, or -EINVAL for a bad value
 */
int cdrv_parse_timeout(const char *v, int *ms);
int cdrv_parse_id(const char *v, char *id, size_t len);

#define cdrv_register_driver(drv)					\
	static void __attribute__((constructor)) register_##drv(void)	\
	{								\
		cdrv_register(&drv);					\
	}

/*
 * callbacks into the core, main thread only (group.c).  sd_join_handler runs
 * on one member and may rewrite opaque; false refuses the joiner: the driver
 * then delivers sd_accept_handler (with the rewritten opaque, which says why)
 * to the joiner alone and the membership does not change.
 */
bool sd_join_handler(const struct sd_node *joining, const struct sd_node *members,
		     size_t nr_members, void *opaque);
void sd_accept_handler(const struct sd_node *joined, const struct sd_node *members,
		       size_t nr_members, const void *opaque);
void sd_leave_handler(const struct sd_node *left, const struct sd_node *members,
		      size_t nr_members);
void sd_notify_handler(const struct sd_node *sender, void *msg, size_t msg_len);
bool sd_block_handler(const struct sd_node *sender);
void sd_update_node_handler(const struct sd_node *node);
/*
 * The driver's link to its coordination service: lost (ok false) as soon as
 * the driver knows it may be cut off, early enough that the others cannot
 * have gone on without us yet (zookeeper: no answer to our own pings for
 * half the session timeout); back (ok true) when it answers again.
 * Meanwhile this node serves no IO.  A driver that stays cut off longer than
 * the others wait starts over (sheep_restart).  Unlike the callbacks above,
 * any thread may call it (it flips an atomic flag and logs): a lease kept
 * off the main loop is not delayed by a blocking call there.
 */
void sd_link_handler(bool ok);

#endif
