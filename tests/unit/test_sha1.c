/*
 * test_sha1.c - SHA-1 against the FIPS 180 examples and sha1sum.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sha1.h"
#include "unit.h"

static const char *hex(const void *data, size_t len, size_t step)
{
	static char out[2 * SHA1_DIGEST_SIZE + 1];
	uint8_t d[SHA1_DIGEST_SIZE];
	struct sha1_ctx c;

	sha1_init(&c);
	for (size_t off = 0; off < len; off += step)
		sha1_update(&c, (const char *)data + off, len - off < step ? len - off : step);
	sha1_final(&c, d);
	for (int i = 0; i < SHA1_DIGEST_SIZE; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
	return out;
}

TEST(sha1_fips_examples)
{
	const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";

	CHECK(!strcmp(hex("", 0, 1), "da39a3ee5e6b4b0d3255bfef95601890afd80709"));
	CHECK(!strcmp(hex("abc", 3, 3), "a9993e364706816aba3e25717850c26c9cd0d89d"));
	CHECK(!strcmp(hex(two, strlen(two), 64), "84983e441c3bd26ebaae4aa1f95129e5e54670f1"));
}

TEST(sha1_pieces_and_lengths)
{
	char *m = malloc(1000000);

	memset(m, 'a', 1000000);
	/* a million 'a's, fed whole and in odd pieces */
	CHECK(!strcmp(hex(m, 1000000, 1000000), "34aa973cd4c4daa4f61eeb2bdbad27316534016f"));
	CHECK(!strcmp(hex(m, 1000000, 7), "34aa973cd4c4daa4f61eeb2bdbad27316534016f"));
	/* 55, 56 and 64 bytes: the padding's edge cases (sha1sum) */
	CHECK(!strcmp(hex(m, 55, 55), "c1c8bbdc22796e28c0e15163d20899b65621d65a"));
	CHECK(!strcmp(hex(m, 56, 56), "c2db330f6083854c99d4b5bfb6e8f29f201be699"));
	CHECK(!strcmp(hex(m, 64, 64), "0098ba824b5c16427bd7a1122a5a442a25ec644d"));
	free(m);
}

UNIT_MAIN(T(sha1_fips_examples), T(sha1_pieces_and_lengths))
