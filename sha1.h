/*
 * sha1.h - SHA-1 (FIPS 180-4), for GET_HASH: Sheepdog's `dog vdi check`
 * compares the replicas of an object by their SHA-1.  Not for security.
 */
#ifndef SHEEP_SHA1_H
#define SHEEP_SHA1_H

#include <stddef.h>
#include <stdint.h>

#define SHA1_DIGEST_SIZE	20

struct sha1_ctx {
	uint32_t h[5];
	uint64_t len;		/* bytes hashed so far */
	uint8_t block[64];
	size_t used;		/* bytes in block */
};

void sha1_init(struct sha1_ctx *c);
void sha1_update(struct sha1_ctx *c, const void *data, size_t len);
void sha1_final(struct sha1_ctx *c, uint8_t digest[SHA1_DIGEST_SIZE]);
/* the digest of one buffer */
void sha1(const void *data, size_t len, uint8_t digest[SHA1_DIGEST_SIZE]);

#endif
