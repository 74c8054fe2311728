/*
 * test_util.c - size parsing and printing, number parsing, lists.
 */
#include <stdint.h>

#include "unit.h"
#include "util.h"

TEST(parse_size_units)
{
	uint64_t v;

	CHECK(parse_size("0", &v) == 0 && v == 0);
	CHECK(parse_size("512", &v) == 0 && v == 512);
	CHECK(parse_size("1k", &v) == 0 && v == 1024);
	CHECK(parse_size("4M", &v) == 0 && v == 4194304);
	CHECK(parse_size("10G", &v) == 0 && v == 10737418240ULL);
	CHECK(parse_size("10g", &v) == 0 && v == 10737418240ULL);
	CHECK(parse_size("4T", &v) == 0 && v == 4398046511104ULL);
	CHECK(parse_size("1GB", &v) == 0 && v == 1073741824ULL);
	CHECK(parse_size("1GiB", &v) == 0 && v == 1073741824ULL);
	CHECK(parse_size("1.5G", &v) == 0 && v == 1610612736ULL);
	CHECK(parse_size("0.5k", &v) == 0 && v == 512);
}

TEST(parse_size_rejects)
{
	uint64_t v;

	CHECK(parse_size("", &v) < 0);
	CHECK(parse_size("-1", &v) < 0);
	CHECK(parse_size("G", &v) < 0);
	CHECK(parse_size("10X", &v) < 0);
	CHECK(parse_size("10GG", &v) < 0);
	CHECK(parse_size("1.5", &v) < 0);	/* a fraction of a byte */
	CHECK(parse_size("1.G", &v) < 0);
	CHECK(parse_size(" 10G", &v) < 0);
	CHECK(parse_size("99999999999999999999", &v) < 0);
	CHECK(parse_size("16E", &v) < 0);	/* 2^64 overflows */
	CHECK(parse_size("17179869184G", &v) < 0);
}

TEST(size_to_str_formats)
{
	char b[32];

	CHECK(!strcmp(size_to_str(0, b, sizeof(b)), "0.0 MB"));
	CHECK(!strcmp(size_to_str(4194304, b, sizeof(b)), "4.0 MB"));
	CHECK(!strcmp(size_to_str(12582912, b, sizeof(b)), "12 MB"));
	CHECK(!strcmp(size_to_str(10737418240ULL, b, sizeof(b)), "10 GB"));
	CHECK(!strcmp(size_to_str(1073741824ULL, b, sizeof(b)), "1.0 GB"));
	CHECK(!strcmp(size_to_str(4398046511104ULL, b, sizeof(b)), "4.0 TB"));
}

TEST(parse_uint_bounds)
{
	uint64_t v;

	CHECK(parse_uint("7000", 65535, &v) == 0 && v == 7000);
	CHECK(parse_uint("65536", 65535, &v) < 0);
	CHECK(parse_uint("12a", 65535, &v) < 0);
	CHECK(parse_uint("", 65535, &v) < 0);
	CHECK(parse_uint("-5", 65535, &v) < 0);
}

TEST(list_ops)
{
	struct item {
		int v;
		struct list_node link;
	} a = { 1, { 0, 0 } }, b = { 2, { 0, 0 } };
	struct list_node head;

	list_init(&head);
	CHECK(list_empty(&head));
	list_add_tail(&a.link, &head);
	list_add_tail(&b.link, &head);
	CHECK_EQ(list_first_entry(&head, struct item, link)->v, 1);
	list_del(&a.link);
	CHECK_EQ(list_first_entry(&head, struct item, link)->v, 2);
	list_del(&b.link);
	CHECK(list_empty(&head));
}

TEST(crc32c_known_values)
{
	char buf[1000];

	/* the check value of CRC-32C, and its chaining over split buffers */
	CHECK_EQ(crc32c(0, "123456789", 9), 0xe3069283);
	CHECK_EQ(crc32c(0, "", 0), 0);
	for (int i = 0; i < (int)sizeof(buf); i++)
		buf[i] = (char)(i * 31 + 7);
	for (int cut = 0; cut < 20; cut++)	/* every alignment of the 8-byte loop */
		CHECK_EQ(crc32c(crc32c(0, buf, (size_t)cut), buf + cut, sizeof(buf) - (size_t)cut),
			 crc32c(0, buf, sizeof(buf)));
}

UNIT_MAIN(T(parse_size_units), T(parse_size_rejects), T(size_to_str_formats),
	  T(parse_uint_bounds), T(list_ops), T(crc32c_known_values))
