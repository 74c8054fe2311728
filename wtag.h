/*
 * wtag.h - a replica's memory of the peer writes it took, by tag (wtag.c),
 * so that a write sent again over another path is applied once.
 */
#ifndef SHEEP_WTAG_H
#define SHEEP_WTAG_H

#include <stdbool.h>
#include <stdint.h>

/* gateway: a tag for a new replica write, never 0 */
uint64_t wtag_new(void);

/*
 * Replica, before applying a tagged write: true to apply it; false when it
 * is a resend of a write already taken here, whose result is in *result
 * (waited for if it was still being applied).  Each true is followed by
 * wtag_end with the write's result.
 */
bool wtag_begin(uint64_t tag, bool resend, int *result);
void wtag_end(uint64_t tag, int result);

#endif
