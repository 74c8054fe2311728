/*
 * wtag.c - a replica's short memory of the peer writes it took, by tag.
 *
 * A gateway tags every replica write (obj.cow_oid of a *_PEER write) and,
 * when the connection it went over failed (peer.c), sends it again with the
 * same tag and SD_FLAG_CMD_RESEND, over the node's other address.  The
 * first copy may have arrived and been applied, or still be applying on
 * its own peer thread: a resend of a tag seen here waits for that write to
 * end and answers its result instead of applying it a second time (which
 * would leave this replica's version one ahead of the others', and could
 * land after a later write).  A tag not seen -- the first copy never
 * arrived whole, or was forgotten -- is applied as a new write.
 *
 * One direct-mapped table, allocated on first use, under its own lock;
 * peer threads only.  A slot is reused by a later write unless it is still
 * being applied, so a resend within seconds finds its tag.
 */
#include <pthread.h>
#include <stdlib.h>
#include <sys/random.h>
#include <time.h>

#include "util.h"
#include "wtag.h"

#define NR_SLOTS	65536	/* ~6 s of writes at 10k a second */
#define WAIT_MS		30000	/* a first copy applying longer is not waited for */

enum { EMPTY, APPLYING, DONE };

struct slot {
	uint64_t tag;
	int state;
	int result;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ended = PTHREAD_COND_INITIALIZER;
static struct slot *slots;

uint64_t wtag_new(void)
{
	static uint64_t next;
	uint64_t t;

	if (!__atomic_load_n(&next, __ATOMIC_RELAXED)) {
		uint64_t seed = 0;

		/* where this gateway's tags start: its own, among all gateways' */
		if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
			seed = now_usec() * 0x9e3779b97f4a7c15ULL;
		seed |= 1;
		uint64_t zero = 0;

		__atomic_compare_exchange_n(&next, &zero, seed, false, __ATOMIC_RELAXED,
					    __ATOMIC_RELAXED);
	}
	do
		t = __atomic_fetch_add(&next, 1, __ATOMIC_RELAXED);
	while (!t);
	return t;
}

static struct slot *slot_of(uint64_t tag)
{
	if (!slots)
		slots = xcalloc(NR_SLOTS, sizeof(*slots));
	return &slots[(tag * 0x9e3779b97f4a7c15ULL) >> 48];
}

bool wtag_begin(uint64_t tag, bool resend, int *result)
{
	struct timespec until;
	struct slot *s;
	bool apply = true;

	if (!tag)
		return true;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += WAIT_MS / 1000;
	pthread_mutex_lock(&lock);
	s = slot_of(tag);
	if (resend && s->tag == tag) {
		while (s->tag == tag && s->state == APPLYING &&
		       pthread_cond_timedwait(&ended, &lock, &until) == 0)
			;
		if (s->tag == tag && s->state == DONE) {
			*result = s->result;
			apply = false;
		}
	}
	if (apply && s->state != APPLYING)
		*s = (struct slot){ .tag = tag, .state = APPLYING };
	pthread_mutex_unlock(&lock);
	return apply;
}

void wtag_end(uint64_t tag, int result)
{
	struct slot *s;

	if (!tag)
		return;
	pthread_mutex_lock(&lock);
	s = slot_of(tag);
	if (s->tag == tag && s->state == APPLYING) {
		s->state = DONE;
		s->result = result;
		pthread_cond_broadcast(&ended);
	}
	pthread_mutex_unlock(&lock);
}
