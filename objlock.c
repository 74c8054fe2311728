/*
 * objlock.c - per-object locks shared by the gateway's replica IO and
 * recovery, and the short memory of objects recovery replaced.
 *
 * It owns three tables hashed by oid, nothing else: the stripe rwlocks
 * (replica IO shared, recovery of an object exclusive), the in-flight
 * rwlocks (writes shared, a peer's recovery read exclusive) and the
 * replaced[] slots.  Callers: gateway.c (local_io, peer_recovery_read,
 * fanout_write), recovery.c (obj_acquire, recover_epoch, clean-up) and
 * request.c (obj_arrival), all on worker, peer or recovery threads; never
 * the main thread, since these block.  It makes nothing current itself:
 * that is recovery.c's obj_acquire.
 */
#include <pthread.h>

#include "objlock.h"
#include "oidset.h"

#define NR_STRIPES	4096
#define NR_REPLACED	1024

static pthread_rwlock_t stripes[NR_STRIPES];
/* writes in progress (shared) vs. a peer's recovery read (exclusive) */
static pthread_rwlock_t inflight[NR_STRIPES];

/*
 * Objects recovery replaced lately, and when (a sequence number): a write
 * that arrived before its object was replaced may find itself already in
 * the copy fetched, when a peer applied it first (obj_replaced_since).  A
 * slot holds one object; losing one costs only a version bump.  replaced[]
 * is guarded by replaced_lock; replace_seq is also read without it (atomic).
 */
static pthread_mutex_t replaced_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	uint64_t oid, seq;
} replaced[NR_REPLACED];
static uint64_t replace_seq;

void objlock_init(void)
{
	for (int i = 0; i < NR_STRIPES; i++) {
		pthread_rwlock_init(&stripes[i], NULL);
		pthread_rwlock_init(&inflight[i], NULL);
	}
}

static pthread_rwlock_t *stripe(uint64_t oid)
{
	return &stripes[oid_hash(oid) % NR_STRIPES];
}

void objlock_rdlock(uint64_t oid)
{
	pthread_rwlock_rdlock(stripe(oid));
}

void objlock_wrlock(uint64_t oid)
{
	pthread_rwlock_wrlock(stripe(oid));
}

void objlock_unlock(uint64_t oid)
{
	pthread_rwlock_unlock(stripe(oid));
}

void obj_write_begin(uint64_t oid)
{
	pthread_rwlock_rdlock(&inflight[oid_hash(oid) % NR_STRIPES]);
}

void obj_write_end(uint64_t oid)
{
	pthread_rwlock_unlock(&inflight[oid_hash(oid) % NR_STRIPES]);
}

void obj_drain_begin(uint64_t oid)
{
	pthread_rwlock_wrlock(&inflight[oid_hash(oid) % NR_STRIPES]);
}

void obj_drain_end(uint64_t oid)
{
	pthread_rwlock_unlock(&inflight[oid_hash(oid) % NR_STRIPES]);
}

/* never 0: the sequence number the next replacement will get */
uint64_t obj_arrival(void)
{
	return __atomic_load_n(&replace_seq, __ATOMIC_ACQUIRE) + 1;
}

bool obj_replaced_since(uint64_t oid, uint64_t arrival)
{
	unsigned int h = oid_hash(oid) % NR_REPLACED;
	bool r;

	/* not noted, or nothing replaced since: no lock on the write path */
	if (!arrival || __atomic_load_n(&replace_seq, __ATOMIC_ACQUIRE) < arrival)
		return false;
	pthread_mutex_lock(&replaced_lock);
	r = replaced[h].oid == oid && replaced[h].seq >= arrival;
	pthread_mutex_unlock(&replaced_lock);
	return r;
}

void obj_note_replaced(uint64_t oid)
{
	unsigned int h = oid_hash(oid) % NR_REPLACED;

	pthread_mutex_lock(&replaced_lock);
	replaced[h].oid = oid;
	replaced[h].seq = __atomic_add_fetch(&replace_seq, 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&replaced_lock);
}
