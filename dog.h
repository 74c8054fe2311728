/*
 * dog.h - what the dog subcommands share: the connection to one sheep,
 * option parsing, result texts and exit codes.
 */
#ifndef SHEEP_DOG_H
#define SHEEP_DOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"
#include "util.h"

/* exit codes (include/exits.h of the reference) */
#define EXIT_SYSFAIL	2
#define EXIT_EXISTS	3
#define EXIT_FULL	4
#define EXIT_MISSING	5
#define EXIT_USAGE	64

struct dog_opts {
	const char *addr;
	int port;
	bool raw;
	bool verbose;
	bool force;
	bool prealloc;
	bool hyper;
	bool lock;
	bool strict;
	bool del;		/* -d (setattr) */
	bool exclusive;		/* -x (setattr) */
	bool no_share;		/* -n (clone) */
	bool exist;		/* -e (vdi check: existence only) */
	bool reduce;		/* -R (vdi snapshot: skip if nothing of its own) */
	const char *from;	/* -F (vdi backup: the older snapshot) */
	bool fixed_vnodes;	/* -V (cluster format) */
	bool recycle_vid;	/* -R (cluster format) */
	bool all;		/* -A (node md info: every node) */
	bool progress;		/* -P (node recovery: follow this node's progress) */
	bool local;		/* -l (node kill: the node addressed) */
	bool watch;		/* -w (node stat: every second) */
	bool show_io;		/* -i (node list: each node's IO address) */
	int copies;		/* -1: not given */
	int copy_policy;
	int bss;		/* -1: not given */
	const char *snapshot;	/* -s */
	const char *store;	/* -b */
	uint32_t index;		/* -i */
	bool index_set;
	/* benchmark io */
	const char *bench_mode;	/* -m */
	uint64_t bench_bs;	/* -B */
	uint32_t bench_depth;	/* -n */
	uint64_t bench_total;	/* -t SIZE */
	uint64_t bench_seconds;	/* -T */
	/* vdi delete, rollback, restore: how the index is zeroed (0: not given) */
	int reclaim_batch;	/* -B */
	int reclaim_interval;	/* -I, seconds */
	int reclaim_max;	/* -m (delete) */
	uint64_t oid;		/* -o (vdi track: the object to follow) */
};

extern struct dog_opts dog_opts;

struct subcommand {
	const char *name;
	const char *args;	/* usage text after the name */
	const char *opts;	/* accepted short options, getopt style */
	const char *help;
	int (*fn)(int argc, char **argv);
};

struct command {
	const char *name;
	const struct subcommand *subs;
	const char *help;
};

/* dog_vdi_admin.c: rows of vdi_command, and "vdi object dump-inode", "vdi lock list" */
int vdi_graph(int argc, char **argv);
int vdi_track(int argc, char **argv);
int vdi_alter_copy(int argc, char **argv);
int vdi_dump_inode(const char *path);
int vdi_lock_list(void);
/* dog_check.c, dog_backup.c: rows of vdi_command */
int vdi_check(int argc, char **argv);
/*
 * check and repair every replica of inode's objects (read with its index;
 * -e: only which are missing), "finish check&repair NAME": an exit code
 */
int dog_check_inode(const struct sd_inode *inode);
int vdi_backup(int argc, char **argv);
int vdi_restore(int argc, char **argv);

extern const struct command vdi_command, node_command, cluster_command, benchmark_command;

/* one request on the shared connection; 0 or -1 (message already printed) */
int dog_exec(struct sd_req *hdr, void *data, struct sd_rsp *rsp);
/*
 * dog_exec, then the exit code: 0, 2 if the sheep could not be reached, else
 * "Failed to <what>: <reason>" on stderr and the result's exit code
 */
int dog_call(struct sd_req *hdr, void *data, struct sd_rsp *rsp, const char *what, ...)
	__attribute__((format(printf, 4, 5)));
/* one request on a fresh connection to a given node */
extern bool dog_node_quiet;	/* set: no message when the node cannot be reached */
int dog_exec_node(const struct node_id *nid, struct sd_req *hdr, void *data,
		  struct sd_rsp *rsp);
void dog_init_req(struct sd_req *hdr, uint8_t opcode);
const char *sd_strerror(uint32_t result);
void dog_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int result_to_exit(uint32_t result);
/* a size as dog prints it: "4.0 GB", or plain bytes with -r */
char *dog_size_str(uint64_t size, char *buf, size_t len);
/* call fn for every live (not deleted) VDI; the inode has header + index */
int dog_for_each_vdi(void (*fn)(uint32_t vid, const struct sd_inode *inode, void *arg),
		     void *arg);
int dog_node_list(struct sd_node **nodes);
/* the same, and the epoch of the sheep that answered */
int dog_node_list_epoch(struct sd_node **nodes, uint32_t *epoch);
bool dog_confirm(const char *question);
/* the running subcommand's usage on stderr (a subcommand that fails without 64) */
void dog_usage_stderr(void);
/* whether the addressed node runs auto vnodes (its CLUSTER_INFO; true if it cannot say) */
bool dog_vnodes_auto(void);
/* "cluster snapshot ...": Sheepdog's farm backups (dog_farm.c) */
int dog_farm_main(int argc, char **argv);

/* VDI helpers shared by subcommands */
int dog_find_vdi(const char *name, const char *tag, uint32_t snapid, uint32_t *vid,
		 uint32_t *result);
/*
 * One object's IO, SD_RES_* (NETWORK_ERROR: the sheep was not reached): a
 * read's short answer is padded with zeros; a write with create makes the
 * object (copying cow first when non-zero)
 */
int dog_read_object(uint64_t oid, void *buf, uint32_t len, uint32_t off);
int dog_write_object(uint64_t oid, uint64_t cow, const void *buf, uint32_t len, uint32_t off,
		     bool create);
int dog_read_inode(uint32_t vid, struct sd_inode *inode, uint32_t len);
/*
 * NEW_VDI of name (dog_vdi.c): from base (a snapshot when snapshot, else a
 * clone/rollback), with like's copies, policies and object size (NULL: the
 * sheep decides); SD_RES_*, the new vid in *vid
 */
int dog_new_vdi(const char *name, uint64_t size, uint32_t base, bool snapshot,
		const struct sd_inode *like, uint32_t *vid);
/* point data_vdi_id[idx .. idx+n-1] of vid's inode at owners[]: a result code */
int dog_write_index(uint32_t vid, uint32_t idx, uint32_t n, const uint32_t *owners);
/*
 * dog_inode.c: the index of an inode read with its index (header + index),
 * either form: the plain array, or a hyper volume's B-tree (store_policy 1),
 * whose leaf nodes may be objects of their own (read from the cluster).
 * walk calls fn for every allocated index in order, stops at fn's non-zero
 * value and returns it (-1: a B-tree node could not be read, message printed).
 */
int dog_inode_walk(const struct sd_inode *inode,
		   int (*fn)(uint32_t idx, uint32_t vid, void *arg), void *arg);
/* the VDI that owns object idx, 0 if unallocated (or unreadable) */
uint32_t dog_inode_get_vid(const struct sd_inode *inode, uint32_t idx);
/* the number of index slots the VDI's size spans */
uint64_t dog_inode_nr_objs(const struct sd_inode *inode);
/*
 * point idx at vid, in inode (read with its index; inode->vdi_id names it)
 * and in the cluster: a result code (NO_SPACE: a hyper volume's B-tree is full)
 */
int dog_inode_set_vid(struct sd_inode *inode, uint32_t idx, uint32_t vid);

/* look a VDI up by name and -s (a tag or a snapshot id); an exit code, message printed */
int dog_open_vdi(const char *name, uint32_t *vid);
/*
 * delete VDI name (snapshot snapid or tag, or the working VDI) as Sheepdog's
 * dog does: zero its index in batches (-B, -I, -m), then DEL_VDI; an exit code
 */
int dog_delete_vdi(const char *name, uint32_t snapid, const char *tag);

#endif
