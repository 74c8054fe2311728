/*
 * peer.h - connections to other sheep for object IO (peer.c): which of a
 * node's two addresses they use (its IO NIC while that answers, else its
 * cluster address), the idle ones cached, the busy ones cut when their node
 * leaves or their path fails.  Worker, recovery and peer threads; never the
 * main thread, since these block.
 */
#ifndef SHEEP_PEER_H
#define SHEEP_PEER_H

#include <stdbool.h>
#include <stdint.h>

#include "proto.h"

struct sd_node;

/* a connection lent out: give it back with peer_conn_put */
struct peer_conn {
	int fd;			/* -1: neither address answered */
	bool io;		/* over the node's IO address */
	bool cached;		/* an idle one, possibly dead since */
};

struct peer_conn peer_conn_get(const struct node_id *nid);
/* healthy: the exchange on it completed; else it is reset and closed */
void peer_conn_put(const struct node_id *nid, struct peer_conn *c, bool healthy);

/*
 * One request to nid, answered: 0 (the result is in rsp->result) or
 * SD_RES_NETWORK_ERROR.  A write sent again after a failure carries
 * SD_FLAG_CMD_RESEND, so a replica that had applied it does not again.
 */
int peer_exec(const struct node_id *nid, struct sd_req *hdr, const void *wbuf,
	      struct sd_rsp *rsp, void *rbuf, uint32_t rlen);

/*
 * The request sent over failed (a replica of a fan-out) failed with err
 * (-errno): again, over the cluster address if the IO path is to blame,
 * as peer_exec would.
 */
int peer_resend(const struct node_id *nid, struct sd_req *hdr, const void *wbuf,
		struct sd_rsp *rsp, void *rbuf, uint32_t rlen, const struct peer_conn *failed,
		int err);

/* a new ring: drop idle and cut busy connections to nodes not in it */
void peer_cut_departed(const struct sd_node *nodes, int nr);

/* nid has an IO address of its own */
bool peer_has_io(const struct node_id *nid);

#endif
