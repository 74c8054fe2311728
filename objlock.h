/*
 * objlock.h - the per-object locks every replica IO goes through, and the
 * note of which objects recovery replaced lately.  See objlock.c.
 */
#ifndef SHEEP_OBJLOCK_H
#define SHEEP_OBJLOCK_H

#include <stdbool.h>
#include <stdint.h>

/* once, before any worker runs (recovery_init) */
void objlock_init(void);

/*
 * The object's stripe: IO on a replica holds it shared, recovery of the
 * object exclusive (recovery.c: obj_acquire, recover_epoch, clean-up).
 */
void objlock_rdlock(uint64_t oid);
void objlock_wrlock(uint64_t oid);
void objlock_unlock(uint64_t oid);

/*
 * Around the store call of every write (after checking its epoch): a peer's
 * recovery read of the object waits (obj_drain_begin .. obj_drain_end) until
 * writes of the old epoch in progress are on disk.
 */
void obj_write_begin(uint64_t oid);
void obj_write_end(uint64_t oid);
void obj_drain_begin(uint64_t oid);
void obj_drain_end(uint64_t oid);

/*
 * A write notes obj_arrival() before anything can wait; after obj_acquire,
 * obj_replaced_since(oid, arrival) says recovery replaced the object in
 * between (obj_note_replaced): the copy fetched may already hold this very
 * write.
 */
uint64_t obj_arrival(void);
bool obj_replaced_since(uint64_t oid, uint64_t arrival);
void obj_note_replaced(uint64_t oid);

#endif
