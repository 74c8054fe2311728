/*
 * gateway.h - object IO on behalf of clients: validates the request against
 * the object's size and sends it to the nodes that hold the object.  Runs on
 * worker threads only.
 */
#ifndef SHEEP_GATEWAY_H
#define SHEEP_GATEWAY_H

#include <stdint.h>

#include "sheep.h"

int gateway_read_obj(uint64_t oid, void *buf, uint32_t len, uint32_t off);
int gateway_write_obj(uint64_t oid, const void *buf, uint32_t len, uint32_t off);
int gateway_create_and_write_obj(uint64_t oid, uint64_t cow_oid, const void *buf,
				 uint32_t len, uint32_t off);
/*
 * A new object of copies replicas (its VDI's state may not be known yet,
 * as for NEW_VDI's inode); 0: as gateway_create_and_write_obj.
 */
int gateway_create_obj_copies(uint64_t oid, const void *buf, uint32_t len, uint8_t copies);
int gateway_remove_obj(uint64_t oid);
/*
 * Write-back (the NBD export's plain writes): acknowledged once every replica
 * applied it, durable at the next gateway_flush, which makes every lazy
 * write acknowledged before it durable on every node.  A copy-on-write
 * create is durable anyway.
 */
int gateway_write_obj_lazy(uint64_t oid, const void *buf, uint32_t len, uint32_t off);
int gateway_create_obj_lazy(uint64_t oid, uint64_t cow_oid, const void *buf, uint32_t len,
			    uint32_t off);
int gateway_flush(void);
int peer_flush(struct request *req);

struct ring;

/* main thread: a new membership or epoch; workers pick it up */
void gateway_set_ring(const struct sd_node *nodes, int nr, uint32_t epoch);
uint32_t gateway_epoch(void);
/* the current ring, held until gateway_put_ring (NULL before the cluster runs) */
struct ring *gateway_get_ring(void);
void gateway_put_ring(struct ring *r);
/* copies of oid: hint if non-zero, else its VDI's, else the cluster's */
uint8_t gateway_object_copies(uint64_t oid, uint8_t hint);
/* one request to a peer over a cached connection: SD_RES_* (NETWORK_ERROR) */
int gateway_peer_exec(const struct node_id *nid, struct sd_req *hdr, const void *wbuf,
		      struct sd_rsp *rsp, void *rbuf, uint32_t rlen);

/* ops table handlers */
int peer_op(struct request *req);
int gateway_op_create_and_write(struct request *req);
int gateway_op_read(struct request *req);
int gateway_op_write(struct request *req);
int gateway_op_remove(struct request *req);
int gateway_op_discard(struct request *req);

#endif
