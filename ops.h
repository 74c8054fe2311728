/*
 * ops.h - the opcode table: for each opcode, how it runs and its handlers.
 * Adding an opcode means adding one row in ops.c.
 */
#ifndef SHEEP_OPS_H
#define SHEEP_OPS_H

#include <stdbool.h>

#include "sheep.h"

enum op_type {
	OP_GATEWAY,	/* client object IO: the receiving node routes to replicas */
	OP_PEER,	/* sheep-to-sheep: act on the local store only */
	OP_LOCAL,	/* answered by the receiving node alone */
	OP_CLUSTER,	/* applied on every node in the cluster's total order */
};

struct sd_op_template {
	const char *name;
	enum op_type type;
	bool force;		/* allowed before format / while waiting */
	/* worker thread; fills req->rp; returns SD_RES_* */
	int (*process_work)(struct request *req);
	/* main thread; for cluster ops it runs on every node */
	int (*process_main)(const struct sd_req *req, struct sd_rsp *rsp, void *data);
};

const struct sd_op_template *get_sd_op(uint8_t opcode);
/* STAT's counters: a request accepted, and answered (any thread) */
void ops_stat_begin(struct request *req);
void ops_stat_end(struct request *req);
/* the work queue a request's worker phase runs on (work.h) */
enum wq op_queue(const struct sd_req *req, const struct sd_op_template *op);

#endif
