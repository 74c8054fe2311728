/*
 * oidset.h - a set of object ids (open addressing; oid 0 is never a valid
 * object, so it marks a free slot), and the hash that spreads oids over
 * lock stripes.  No locking: the owner of a set guards it.
 */
#ifndef SHEEP_OIDSET_H
#define SHEEP_OIDSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct oidset {
	uint64_t *slot;
	size_t cap, nr;
};

static inline uint64_t oid_hash(uint64_t oid)
{
	oid ^= oid >> 33;
	oid *= UINT64_C(0xff51afd7ed558ccd);
	oid ^= oid >> 33;
	return oid;
}

/* (re)initializes s empty; s must be zeroed or a set */
void oidset_clear(struct oidset *s);
void oidset_free(struct oidset *s);
bool oidset_has(const struct oidset *s, uint64_t oid);
void oidset_add(struct oidset *s, uint64_t oid);
/* calls fn for every member; stops and returns fn's value if non-zero */
int oidset_for_each(const struct oidset *s, int (*fn)(uint64_t oid, void *arg), void *arg);

#endif
