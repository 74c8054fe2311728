/*
 * repair.h - GET_HASH, REPAIR_REPLICA and OIDS_EXIST: what `dog vdi check`
 * asks of each node (repair.c).  Worker-thread handlers for the ops table.
 */
#ifndef SHEEP_REPAIR_H
#define SHEEP_REPAIR_H

#include "sheep.h"

int repair_op_get_hash(struct request *req);
int repair_op_repair_replica(struct request *req);
int repair_op_oids_exist(struct request *req);

#endif
