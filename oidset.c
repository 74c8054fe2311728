/*
 * oidset.c - the object id set of oidset.h.
 */
#include <stdlib.h>

#include "oidset.h"
#include "util.h"

void oidset_clear(struct oidset *s)
{
	free(s->slot);
	s->cap = 1024;
	s->nr = 0;
	s->slot = xcalloc(s->cap, sizeof(*s->slot));
}

void oidset_free(struct oidset *s)
{
	free(s->slot);
	s->slot = NULL;
	s->cap = s->nr = 0;
}

bool oidset_has(const struct oidset *s, uint64_t oid)
{
	if (!s->cap)
		return false;
	for (size_t i = oid_hash(oid) & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
		if (s->slot[i] == oid)
			return true;
		if (!s->slot[i])
			return false;
	}
}

void oidset_add(struct oidset *s, uint64_t oid)
{
	if (!s->cap)
		oidset_clear(s);
	if (oidset_has(s, oid))
		return;
	if ((s->nr + 1) * 2 > s->cap) {
		struct oidset n = { xcalloc(s->cap * 2, sizeof(uint64_t)), s->cap * 2, 0 };

		for (size_t i = 0; i < s->cap; i++)
			if (s->slot[i])
				oidset_add(&n, s->slot[i]);
		free(s->slot);
		*s = n;
	}
	for (size_t i = oid_hash(oid) & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
		if (!s->slot[i]) {
			s->slot[i] = oid;
			s->nr++;
			return;
		}
	}
}

int oidset_for_each(const struct oidset *s, int (*fn)(uint64_t oid, void *arg), void *arg)
{
	for (size_t i = 0; i < s->cap; i++) {
		if (s->slot[i]) {
			int ret = fn(s->slot[i], arg);

			if (ret)
				return ret;
		}
	}
	return 0;
}
