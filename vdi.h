/*
 * vdi.h - VDI bookkeeping: the in-use and deleted vid bitmaps, the per-VDI
 * state (copies, object size) and the worker-phase VDI operations.
 */
#ifndef SHEEP_VDI_H
#define SHEEP_VDI_H

#include <stdbool.h>
#include <stdint.h>

#include "inode_index.h"
#include "sheep.h"

struct vdi_state {
	uint32_t vid;
	uint8_t copies;
	uint8_t block_size_shift;
	bool snapshot;
	bool deleted;
};

int vdi_init(void);
void vdi_reset(void);
/* scan local inode objects (startup) */
int vdi_load_local(void);
void vdi_mark_in_use(uint32_t vid, uint8_t copies, uint8_t bss, bool snapshot);
void vdi_mark_deleted(uint32_t vid);
bool vdi_get_state(uint32_t vid, struct vdi_state *st);
void vdi_copy_bitmap(void *buf, bool deleted);
uint32_t vdi_object_size(uint64_t oid);
/*
 * a client's WRITE_OBJ that reaches an inode's data index (gateway.c): the
 * write, then the removal of the objects its changed entries pointed at
 * that no remaining VDI points at
 */
int vdi_index_write(uint64_t oid, const void *buf, uint32_t len, uint32_t off);
/* a hyper volume's B-tree leaves, read and written through the gateway */
extern const struct index_io vdi_leaf_io;
/* DISCARD_OBJ of an object of a hyper volume (gateway.c): unlink it from the B-tree */
int vdi_discard_hyper(uint64_t oid);
/*
 * merge the VDIs known to nodes into ours (worker); then done() on the main
 * thread.  refresh: re-read every VDI (a node that was away may have missed
 * snapshots and deletes), else only the unknown ones.
 */
void vdi_sync_from(const struct sd_node *nodes, int nr, bool refresh, void (*done)(void));

/* worker-phase handlers (ops table) */
int vdi_op_new(struct request *req);
int vdi_op_lookup(struct request *req);
int vdi_op_del(struct request *req);
int vdi_op_get_attr(struct request *req);
/*
 * VDI locks (enforced when the cluster was formatted with -l): one table
 * per node, changed only in the cluster's total order, so every member's
 * table is the same; a joiner gets it in the join message.  Main thread.
 */
int vdi_main_lock(const struct sd_req *req, struct sd_rsp *rsp, void *data);
int vdi_main_release(const struct sd_req *req, struct sd_rsp *rsp, void *data);
int vdi_main_force_unlock(const struct sd_req *req, struct sd_rsp *rsp, void *data);
int vdi_local_get_locks(const struct sd_req *req, struct sd_rsp *rsp, void *data);
void vdi_locks_drop_node(const struct node_id *owner);
/* the table as records into buf (at most max); returns how many */
int vdi_locks_export(struct vdi_lock_entry *buf, int max);
void vdi_locks_import(const struct vdi_lock_entry *buf, int nr);

/* ALTER_VDI_COPY (vdi_alter.c): worker phase on the receiver, main phase everywhere */
int vdi_op_alter_copy(struct request *req);
int vdi_main_alter_copy(const struct sd_req *req, struct sd_rsp *rsp, void *data);
/* main-phase handlers */
int vdi_main_new(const struct sd_req *req, struct sd_rsp *rsp, void *data);
int vdi_main_del(const struct sd_req *req, struct sd_rsp *rsp, void *data);
/* RECYCLE_VIDS (internal, format -R): the listed vids are free again */
int vdi_main_recycle(const struct sd_req *req, struct sd_rsp *rsp, void *data);

/* worker threads: a VDI by name, tag or snapshot id (vdi.c says how): SD_RES_SUCCESS, NO_VDI, NO_TAG */
int vdi_find(const char *name, const char *tag, uint32_t snapid, uint32_t *vid,
	     struct sd_inode *hdr);

#endif
