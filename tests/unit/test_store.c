/*
 * test_store.c - the object store on a real directory: create, partial
 * writes, reads past the written part, idempotent re-create, removal,
 * leftover temp files after a crash, config and epoch log round trips.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"
#include "unit.h"
#include "util.h"

static char dir[] = "/tmp/sheep-unit-store.XXXXXX";

TEST(create_write_read)
{
	uint64_t oid = vid_to_data_oid(0x1234, 7);
	char buf[8192], out[8192];
	uint32_t rlen;

	memset(buf, 0xab, sizeof(buf));
	CHECK_EQ(store_read(oid, out, 10, 0, &rlen), SD_RES_NO_OBJ);
	CHECK_EQ(store_write(oid, buf, 10, 0, 1), SD_RES_NO_OBJ);
	CHECK_EQ(store_create_and_write(oid, SD_DATA_OBJ_SIZE, NULL, buf, 100, 4000, 1),
		 SD_RES_SUCCESS);
	CHECK(store_exists(oid));
	CHECK_EQ(store_read(oid, out, 8192, 0, &rlen), SD_RES_SUCCESS);
	CHECK_EQ(rlen, 8192);
	for (int i = 0; i < 8192; i++)
		if (out[i] != ((i >= 4000 && i < 4100) ? (char)0xab : 0)) {
			CHECK(!"unexpected byte");
			break;
		}
	/* the object is full size even though only 100 bytes were written */
	CHECK_EQ(store_read(oid, out, 16, SD_DATA_OBJ_SIZE - 16, &rlen), SD_RES_SUCCESS);
	memset(buf, 0x11, 16);
	CHECK_EQ(store_write(oid, buf, 16, SD_DATA_OBJ_SIZE - 16, 1), SD_RES_SUCCESS);
	/* nothing may run into the version trailer */
	CHECK_EQ(store_write(oid, buf, 16, SD_DATA_OBJ_SIZE - 8, 1), SD_RES_EIO);
	CHECK_EQ(store_read(oid, out, 16, SD_DATA_OBJ_SIZE - 16, &rlen), SD_RES_SUCCESS);
	CHECK(!memcmp(out, buf, 16));
}

TEST(recreate_keeps_data)
{
	uint64_t oid = vid_to_data_oid(0x1234, 8);
	char a[512], b[512], out[1024];
	uint32_t rlen;

	memset(a, 'a', sizeof(a));
	memset(b, 'b', sizeof(b));
	CHECK_EQ(store_create_and_write(oid, SD_DATA_OBJ_SIZE, NULL, a, 512, 0, 1), SD_RES_SUCCESS);
	/* a retried create (e.g. a client resending after reconnect) must not wipe */
	CHECK_EQ(store_create_and_write(oid, SD_DATA_OBJ_SIZE, NULL, b, 512, 512, 1),
		 SD_RES_SUCCESS);
	CHECK_EQ(store_read(oid, out, 1024, 0, &rlen), SD_RES_SUCCESS);
	CHECK(!memcmp(out, a, 512));
	CHECK(!memcmp(out + 512, b, 512));
}

TEST(create_with_base)
{
	uint64_t oid = vid_to_data_oid(0x1235, 0);
	char *base = xmalloc(SD_DATA_OBJ_SIZE), out[64];
	uint32_t rlen;

	for (uint32_t i = 0; i < SD_DATA_OBJ_SIZE; i++)
		base[i] = (char)(i * 7);
	CHECK_EQ(store_create_and_write(oid, SD_DATA_OBJ_SIZE, base, "xyz", 3, 100, 1),
		 SD_RES_SUCCESS);
	CHECK_EQ(store_read(oid, out, 64, 90, &rlen), SD_RES_SUCCESS);
	CHECK(!memcmp(out, base + 90, 10));
	CHECK(!memcmp(out + 10, "xyz", 3));
	CHECK(!memcmp(out + 13, base + 103, 51));
	free(base);
}

TEST(versions)
{
	uint64_t oid = vid_to_data_oid(0x1236, 3);
	struct obj_version v, w = { 9, 42 };
	char *whole = xmalloc(SD_DATA_OBJ_SIZE), buf[16];
	uint32_t size;

	memset(buf, 0x5a, sizeof(buf));
	CHECK_EQ(store_get_version(oid, &v), SD_RES_NO_OBJ);
	CHECK_EQ(store_create_and_write(oid, SD_DATA_OBJ_SIZE, NULL, buf, 16, 0, 3),
		 SD_RES_SUCCESS);
	CHECK_EQ(store_get_version(oid, &v), SD_RES_SUCCESS);
	CHECK_EQ(v.epoch, 3);
	CHECK_EQ(v.counter, 1);
	/* every write bumps the counter and stamps its epoch */
	CHECK_EQ(store_write(oid, buf, 16, 100, 5), SD_RES_SUCCESS);
	CHECK_EQ(store_write(oid, buf, 16, 200, 5), SD_RES_SUCCESS);
	CHECK_EQ(store_get_version(oid, &v), SD_RES_SUCCESS);
	CHECK_EQ(v.epoch, 5);
	CHECK_EQ(v.counter, 3);
	/* the whole object, without the trailer, with its version */
	CHECK_EQ(store_read_whole(oid, whole, SD_DATA_OBJ_SIZE, &size, &v), SD_RES_SUCCESS);
	CHECK_EQ(size, SD_DATA_OBJ_SIZE);
	CHECK(!memcmp(whole + 200, buf, 16));
	CHECK_EQ(store_read_whole(oid, whole, 4096, &size, &v), SD_RES_EIO);
	/* recovery replaces content and version at once */
	memset(whole, 0x77, SD_DATA_OBJ_SIZE);
	CHECK_EQ(store_replace(oid, whole, SD_DATA_OBJ_SIZE, &w), SD_RES_SUCCESS);
	CHECK_EQ(store_get_version(oid, &v), SD_RES_SUCCESS);
	CHECK_EQ(obj_version_cmp(&v, &w), 0);
	CHECK_EQ(store_read_whole(oid, whole, SD_DATA_OBJ_SIZE, &size, &v), SD_RES_SUCCESS);
	CHECK_EQ((unsigned char)whole[200], 0x77);
	/* ordering: epoch first, then the counter */
	{
		struct obj_version a = { 4, 100 }, b = { 5, 1 }, c = { 5, 2 };

		CHECK(obj_version_cmp(&a, &b) < 0);
		CHECK(obj_version_cmp(&c, &b) > 0);
		CHECK_EQ(obj_version_cmp(&c, &c), 0);
	}
	CHECK_EQ(store_remove(oid), SD_RES_SUCCESS);
	free(whole);
}

static int count_cb(uint64_t oid, void *arg)
{
	(void)oid;
	(*(int *)arg)++;
	return 0;
}

TEST(leftover_tmp_removed)
{
	char path[512];
	int fd, n = 0;

	/* a crash mid-create leaves only a temp file: it must not become an object */
	snprintf(path, sizeof(path), "%s/obj/%016llx.tmp.123", dir, 0x00abcdef00000001ULL);
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	CHECK(fd >= 0);
	close(fd);
	CHECK(!store_exists(0x00abcdef00000001ULL));
	CHECK_EQ(store_init(dir), 0);
	CHECK(access(path, F_OK) != 0);
	store_for_each(count_cb, &n);
	CHECK_EQ(n, 3);
}

TEST(remove_and_wipe)
{
	int n = 0;

	CHECK_EQ(store_remove(vid_to_data_oid(0x1234, 7)), SD_RES_SUCCESS);
	CHECK_EQ(store_remove(vid_to_data_oid(0x1234, 7)), SD_RES_NO_OBJ);
	CHECK_EQ(store_wipe(), 0);
	store_for_each(count_cb, &n);
	CHECK_EQ(n, 0);
}

TEST(config_roundtrip)
{
	struct store_config c = { 0 }, r;

	CHECK_EQ(store_read_config(&r), 0);
	CHECK_EQ(r.ctime, 0);		/* no config yet: unformatted */
	c.ctime = 0x1122334455667788ULL;
	c.copies = 3;
	c.flags = SD_CLUSTER_FLAG_USE_LOCK;
	c.block_size_shift = 22;
	strcpy((char *)c.store, "plain");
	CHECK_EQ(store_write_config(&c), 0);
	CHECK_EQ(store_read_config(&r), 0);
	CHECK(!memcmp(&c, &r, sizeof(c)));
}

TEST(epoch_roundtrip)
{
	struct sd_node nodes[3] = { 0 }, out[8];
	uint64_t t = 0;

	for (int i = 0; i < 3; i++) {
		nodes[i].nid.port = (uint16_t)(7000 + i);
		nodes[i].zone = (uint32_t)i;
	}
	CHECK_EQ(store_latest_epoch(), 0);
	CHECK_EQ(store_write_epoch(1, nodes, 1, 111), 0);
	CHECK_EQ(store_write_epoch(2, nodes, 3, 222), 0);
	CHECK_EQ(store_latest_epoch(), 2);
	CHECK_EQ(store_read_epoch(2, out, 8, &t), 3);
	CHECK_EQ(t, 222);
	CHECK(!memcmp(out, nodes, sizeof(nodes)));
	CHECK_EQ(store_read_epoch(2, out, 2, &t), -E2BIG);
	CHECK(store_read_epoch(9, out, 8, &t) < 0);
	CHECK_EQ(store_wipe_epochs(), 0);
	CHECK_EQ(store_latest_epoch(), 0);
}

/* write-back: applied and readable at once, versions counted, durable at store_flush */
TEST(lazy_writes)
{
	uint64_t oid = vid_to_data_oid(0x1234, 20);
	struct obj_version v;
	char buf[4096], out[4096];
	uint32_t rlen;

	memset(buf, 0x5a, sizeof(buf));
	CHECK_EQ(store_write_lazy(oid, buf, 10, 0, 1), SD_RES_NO_OBJ);
	CHECK_EQ(store_create_lazy(oid, SD_DATA_OBJ_SIZE, buf, 4096, 8192, 2), SD_RES_SUCCESS);
	CHECK_EQ(store_get_version(oid, &v), SD_RES_SUCCESS);
	CHECK_EQ(v.epoch, 2);
	CHECK_EQ(v.counter, 1);
	memset(buf, 0x6b, 512);
	CHECK_EQ(store_write_lazy(oid, buf, 512, 8192, 2), SD_RES_SUCCESS);
	/* a big one, not through the journal */
	char *big = calloc(1, 1 << 20);

	CHECK(big != NULL);
	if (big) {
		memset(big, 0x7c, 1 << 20);
		CHECK_EQ(store_write_lazy(oid, big, 1 << 20, 1 << 20, 2), SD_RES_SUCCESS);
		free(big);
	}
	CHECK_EQ(store_flush(), SD_RES_SUCCESS);
	CHECK_EQ(store_get_version(oid, &v), SD_RES_SUCCESS);
	CHECK_EQ(v.counter, 3);
	CHECK_EQ(store_read(oid, out, 4096, 8192, &rlen), SD_RES_SUCCESS);
	CHECK(out[0] == 0x6b && out[511] == 0x6b && out[512] == 0x5a && out[4095] == 0x5a);
	CHECK_EQ(store_read(oid, out, 16, (1 << 20) + 5, &rlen), SD_RES_SUCCESS);
	CHECK(out[0] == 0x7c && out[15] == 0x7c);
	CHECK_EQ(store_read(oid, out, 16, 0, &rlen), SD_RES_SUCCESS);
	CHECK(out[0] == 0 && out[15] == 0);
	/* a lazy create of an existing object writes into it */
	CHECK_EQ(store_create_lazy(oid, SD_DATA_OBJ_SIZE, "q", 1, 0, 2), SD_RES_SUCCESS);
	CHECK_EQ(store_read(oid, out, 2, 0, &rlen), SD_RES_SUCCESS);
	CHECK(out[0] == 'q' && out[1] == 0);
	CHECK_EQ(store_flush(), SD_RES_SUCCESS);
}

/* what a power cut leaves of a lazy create: full size, zeros, no trailer */
TEST(zero_trailer_is_oldest)
{
	uint64_t oid = vid_to_data_oid(0x1234, 21);
	char path[4200], out[64];
	struct obj_version v;
	uint32_t rlen;
	int fd;

	snprintf(path, sizeof(path), "%s/obj/%016llx", dir, (unsigned long long)oid);
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	CHECK(fd >= 0);
	CHECK_EQ(ftruncate(fd, SD_DATA_OBJ_SIZE + 16), 0);
	close(fd);
	CHECK_EQ(store_get_version(oid, &v), SD_RES_SUCCESS);
	CHECK_EQ(v.epoch, 0);
	CHECK_EQ(v.counter, 0);
	CHECK_EQ(store_read(oid, out, 64, SD_DATA_OBJ_SIZE - 64, &rlen), SD_RES_SUCCESS);
	CHECK_EQ(rlen, 64);
	CHECK_EQ(store_write(oid, "abc", 3, 0, 4), SD_RES_SUCCESS);
	CHECK_EQ(store_get_version(oid, &v), SD_RES_SUCCESS);
	CHECK_EQ(v.epoch, 4);
	CHECK_EQ(v.counter, 1);
	/* a trailer that is neither ours nor zeros is still refused */
	fd = open(path, O_WRONLY);
	CHECK(fd >= 0);
	CHECK_EQ(pwrite(fd, "garbage!", 8, SD_DATA_OBJ_SIZE), 8);
	close(fd);
	CHECK_EQ(store_get_version(oid, &v), SD_RES_EIO);
}

static int run(void)
{
	if (!mkdtemp(dir) || store_init(dir)) {
		perror("store setup");
		return 1;
	}
	return 0;
}

int main(void)
{
	static const struct unit_test tests[] = {
		T(create_write_read), T(recreate_keeps_data), T(create_with_base),
		T(versions), T(leftover_tmp_removed), T(remove_and_wipe), T(config_roundtrip),
		T(epoch_roundtrip), T(lazy_writes), T(zero_trailer_is_oldest),
	};
	char cmd[128];
	int ret;

	if (run())
		return 1;
	ret = unit_run(tests, ARRAY_SIZE(tests));
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		return 1;
	return ret;
}
