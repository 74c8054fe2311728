/*
 * sheep.h - what the whole daemon shares: the node's cluster state (owned by
 * the main thread) and the request that carries one client operation from
 * the socket through a handler and back.
 */
#ifndef SHEEP_SHEEP_H
#define SHEEP_SHEEP_H

#include <stdbool.h>
#include <stdint.h>

#include "daemon.h"
#include "proto.h"
#include "util.h"
#include "work.h"

struct cluster_driver;
struct sd_op_template;
struct client;

/* main-thread state; worker threads may read the fixed fields set at start */
struct system_info {
	struct sd_node this_node;
	const struct cluster_driver *cdrv;
	char cdrv_option[256];

	/* cluster state */
	uint8_t status;			/* SD_STATUS_* */
	bool joined;
	uint64_t ctime;			/* 0: not formatted */
	uint32_t epoch;
	uint8_t copies;
	uint8_t copy_policy;
	uint8_t block_size_shift;
	uint16_t flags;
	char store_name[SD_MAX_STORE_NAME];

	struct sd_node *nodes;		/* current members, sorted by node id */
	int nr_nodes;

	bool vnodes_fixed;		/* -V: unformatted, this node asks for fixed vnodes */
	bool exiting;			/* graceful stop requested */
	/* the cluster driver lost its link: serve no IO (sd_link_handler; atomic) */
	bool link_lost;
};

extern struct system_info *sys;

/* one client (or cluster) operation */
struct request {
	struct sd_req rq;
	struct sd_rsp rp;
	void *data;		/* request payload, reused for the response payload */
	void *data_mem;		/* what was allocated for data (data is aligned in it) */
	uint32_t data_size;	/* allocated bytes in data */
	uint64_t arrival;	/* objlock.c's obj_arrival() when its header came */
	const struct sd_op_template *op;
	struct client *ci;	/* NULL once the client went away */
	struct work work;
	struct list_node link;	/* client tx queue or pending cluster list */
	bool counted;		/* in the STAT counters (ops_stat_begin) */
};

/* request.c */
int create_listen_ports(const char *bindaddr, int port, const char *unix_path);
void put_request(struct request *req);
/* serve the protocol on an accepted (or socketpair) fd */
int client_attach(int fd);
int clients_open(void);
/* hand a finished request back to its client (main thread) */
void request_done(struct request *req);

/* group.c */
int group_init(const char *driver_spec);
void queue_cluster_request(struct request *req);
bool node_is_local(const struct sd_node *n);
/* the sender of the cluster op whose main phase is running (main thread) */
const struct sd_node *group_sender(void);
/*
 * The join message: a buffer of group_join_msg_size() bytes, of which the
 * first group_join_msg_len() travel (the rest reads as zeros); a received
 * length is checked with group_join_msg_len_ok().
 */
size_t group_join_msg_size(void);
/* this node's cluster parameters and status, with nodes, in a cluster_info */
void group_fill_cinfo(struct cluster_info *ci, const struct sd_node *nodes, int nr);
size_t group_join_msg_len(const void *msg);
bool group_join_msg_len_ok(size_t len);
/* the next join may be decided before this decision is applied (evlog batches) */
bool group_join_batchable(const void *msg);
int node_cmp(const struct sd_node *a, const struct sd_node *b);
int group_main_make_fs(const struct sd_req *req, struct sd_rsp *rsp, void *data);
int group_main_shutdown(const struct sd_req *req, struct sd_rsp *rsp, void *data);
int group_notify_recovery_complete(uint32_t epoch);
/* an internal op (SD_FLAG_CMD_INTERNAL) through the total order: 0 or -errno */
int group_notify_internal(uint8_t opcode, const void *data, uint32_t len);
int group_main_recovery_complete(const struct sd_req *req, struct sd_rsp *rsp, void *data);
int group_main_recover_switch(const struct sd_req *req, struct sd_rsp *rsp, void *data);
int group_main_reweight(const struct sd_req *req, struct sd_rsp *rsp, void *data);
int group_set_vnodes(const struct sd_req *req, struct sd_rsp *rsp, void *data);
int group_force_recover_work(struct request *req);
int group_main_force_recover(const struct sd_req *req, struct sd_rsp *rsp, void *data);

#endif
