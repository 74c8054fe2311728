/*
 * recovery.h - making replicas current after membership changes (the
 * per-object locks themselves are objlock.h's).
 */
#ifndef SHEEP_RECOVERY_H
#define SHEEP_RECOVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sheep.h"

enum {
	RECOVERY_PREPARING = 0,	/* gathering the members' object lists */
	RECOVERY_OBJECTS = 1,	/* bringing objects up to date */
	RECOVERY_DONE = 2,
	RECOVERY_STOPPED = 3,	/* ours: an error (disk full) stopped it */
};

int recovery_init(void);

/*
 * Worker threads: before any IO on a replica, make it current on this node
 * and hold it (shared) until obj_release.  SD_RES_* on failure (then nothing
 * is held).
 */
int obj_acquire(uint64_t oid);
void obj_release(uint64_t oid);

/*
 * REPAIR_REPLICA (Sheepdog's vdi check; worker): replace this node's copy of
 * oid by nid's, whatever the versions: the caller found ours damaged or missing.
 */
int recovery_repair_from(const struct node_id *nid, uint64_t oid, uint32_t epoch);

/* GET_OBJ_LIST handler (serve queue) */
int recovery_op_get_obj_list(struct request *req);

/* main thread */
void recovery_start(uint32_t epoch);
void recovery_reset(void);
/* a VDI's copies changed: recover the current epoch again (every member) */
void recovery_recheck(void);
void recovery_node_done(const struct node_id *nid, uint32_t epoch);
void recovery_set_disabled(bool off);
bool recovery_disabled(void);
/* at most max objects per interval_ms (0, 0: no throttling); any thread */
void recovery_set_throttle(uint32_t max, uint64_t interval_ms);
void recovery_get_throttle(uint32_t *max, uint64_t *interval_ms);
void recovery_get_state(struct recovery_state *st, char *reason, size_t len);

#endif
