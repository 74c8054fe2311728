/*
 * store.h - the local object store and the node's persistent metadata
 * (config file, epoch log).  Called from worker threads (object IO) and from
 * the main thread (config, epochs); it holds no cluster state itself.
 */
#ifndef SHEEP_STORE_H
#define SHEEP_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"

#define STORE_CONFIG_VERSION 1

/* <dir>/config, 40 bytes, the reference layout */
struct store_config {
	uint64_t ctime;
	uint16_t flags;
	uint8_t copies;
	uint8_t store[SD_MAX_STORE_NAME];
	uint8_t shutdown;
	uint8_t copy_policy;
	uint8_t block_size_shift;
	uint16_t version;
	uint64_t space;
};
_Static_assert(sizeof(struct store_config) == 40, "config file is 40 bytes");

extern bool store_nosync;	/* -n: skip fdatasync (tests of throughput only) */

/* -j size=N[,dir=D][,skip]: set before store_init */
struct store_journal_conf {
	uint64_t size;		/* bytes; 0: no journal (the default) */
	char dir[1024];		/* where the file "journal" lives; "": the store */
	bool skip;		/* journal VDI objects only; data objects sync in place */
};
extern struct store_journal_conf store_journal;

/*
 * Opens the store at dir and its journal, replaying what the journal holds
 * from an earlier run (also when this run has none).
 */
int store_init(const char *dir);
const char *store_dir(void);

/*
 * Every object file ends with a version trailer: the epoch of the last write
 * and a counter bumped by every write.  Replicas that saw the same writes
 * have the same version; recovery keeps the highest (epoch first).
 */
struct obj_version {
	uint32_t epoch;
	uint64_t counter;
};

static inline int obj_version_cmp(const struct obj_version *a, const struct obj_version *b)
{
	if (a->epoch != b->epoch)
		return a->epoch < b->epoch ? -1 : 1;
	if (a->counter != b->counter)
		return a->counter < b->counter ? -1 : 1;
	return 0;
}

/* object IO; all return SD_RES_*.  epoch: the epoch the write belongs to */
int store_read(uint64_t oid, void *buf, uint32_t len, uint32_t off, uint32_t *rlen);
int store_write(uint64_t oid, const void *buf, uint32_t len, uint32_t off, uint32_t epoch);
/*
 * Write-back: applied and acknowledged without a sync; store_flush makes
 * every lazy write before it durable (store.c's opening comment).
 * store_create_lazy takes no base: a copy-on-write create stays durable.
 */
int store_write_lazy(uint64_t oid, const void *buf, uint32_t len, uint32_t off, uint32_t epoch);
int store_create_lazy(uint64_t oid, uint32_t objsize, const void *buf, uint32_t len, uint32_t off,
		      uint32_t epoch);
int store_flush(void);
/* whether the object's data at off already is buf (len > 0 bytes), its version of epoch,
 * and synced; false on any doubt */
bool store_holds(uint64_t oid, const void *buf, uint32_t len, uint32_t off, uint32_t epoch);
/*
 * Create oid of objsize bytes, atomically: it appears complete or not at all.
 * Its initial content is base (objsize bytes) or zeros, with buf applied at
 * off.  If oid already exists, buf is written into it instead (a retried
 * create must not wipe what an earlier one wrote).
 */
int store_create_and_write(uint64_t oid, uint32_t objsize, const void *base,
			   const void *buf, uint32_t len, uint32_t off, uint32_t epoch);
/* the object's version: SD_RES_NO_OBJ if absent */
int store_get_version(uint64_t oid, struct obj_version *ver);
/*
 * The whole object and its version, consistent with each other, for a peer
 * that recovers it; *size is the object's data size.
 */
int store_read_whole(uint64_t oid, void *buf, uint32_t max, uint32_t *size,
		     struct obj_version *ver);
/* replace (or create) oid atomically with data and version (recovery) */
int store_replace(uint64_t oid, const void *buf, uint32_t size, const struct obj_version *ver);
int store_remove(uint64_t oid);
bool store_exists(uint64_t oid);
/* calls fn for every object; stops and returns fn's value if non-zero */
int store_for_each(int (*fn)(uint64_t oid, void *arg), void *arg);
int store_wipe(void);
int store_stat(uint64_t *size, uint64_t *free);

/*
 * A failed disk (store.c's opening comment says what counts) takes the store
 * out of service for the life of the process: it holds nothing from then on
 * (no versions, no list, nothing to wipe) and reads and writes answer
 * SD_RES_EIO.  store_watch (main thread, once, after store_init) starts the
 * check of the object directory every second and sets on_failure, called
 * once on the thread that found the failure.  store_failed copies why
 * into reason (if not NULL).
 */
void store_watch(void (*on_failure)(void));
bool store_failed(char *reason, size_t len);

/* config and epoch log (main thread) */
int store_read_config(struct store_config *cfg);
int store_write_config(const struct store_config *cfg);
int store_write_epoch(uint32_t epoch, const struct sd_node *nodes, int nr, uint64_t time);
/* returns the number of nodes or -errno; *time may be NULL */
int store_read_epoch(uint32_t epoch, struct sd_node *nodes, int max, uint64_t *time);
uint32_t store_latest_epoch(void);
int store_wipe_epochs(void);

#endif
