/*
 * journal.h - the write journal (journal.c).  store.c is its only user: it
 * applies a small write to the object file (page cache only), appends the
 * same write here and waits for a group commit, instead of syncing the
 * object file for every write.
 */
#ifndef SHEEP_JOURNAL_H
#define SHEEP_JOURNAL_H

#include <stdbool.h>
#include <stdint.h>

/* what the journal needs from the store: replay a write, make an object durable */
struct journal_ops {
	/* write buf at off into oid and set its version; an absent oid is not an error */
	int (*apply)(uint64_t oid, const void *buf, uint32_t len, uint32_t off, uint32_t epoch,
		     uint64_t counter);
	/* fdatasync oid's file; an absent oid is not an error */
	int (*sync_obj)(uint64_t oid);
};

#define JOURNAL_MIN_SIZE	(1ULL << 20)
#define JOURNAL_MAX_SIZE	(64ULL << 30)

/*
 * Opens (creating or resizing it) the journal file at path, locks it, and
 * replays what an earlier run left in it through ops.  owner names the
 * store (its path): entries of another store are never replayed.  size 0
 * replays what is there, removes the file and journals nothing.  0 or -errno.
 */
int journal_open(const char *path, uint64_t size, const char *owner,
		 const struct journal_ops *ops);
bool journal_enabled(void);
/* oid has entries since the last checkpoint (its file may not be durable) */
bool journal_dirty(uint64_t oid);
/*
 * Appends a write of oid (its version after the write: epoch, counter),
 * returning in *ticket what journal_commit waits for.  Blocks while a
 * checkpoint runs.  -E2BIG if len can never fit.
 */
int journal_append(uint64_t oid, const void *buf, uint32_t len, uint32_t off, uint32_t epoch,
		   uint64_t counter, uint64_t *ticket);
/* earlier entries of oid are void (it is being removed or replaced whole) */
int journal_barrier(uint64_t oid, uint64_t *ticket);
/* waits until the entry of ticket (and all before it) is durable; 0 or -EIO */
int journal_commit(uint64_t ticket);
/* waits until everything appended so far is durable; 0 or -EIO */
int journal_sync(void);
/* makes every journaled object durable and empties the journal */
int journal_checkpoint(void);
/* empties the journal without syncing anything (the store was wiped) */
int journal_reset(void);
void journal_close(void);

#endif
