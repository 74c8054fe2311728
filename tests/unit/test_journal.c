/*
 * test_journal.c - the write journal through the store: a power cut is
 * played by putting an object file back as it was before the journaled
 * writes (their pages never reached the disk) and opening the store again;
 * replay must bring back exactly the acknowledged writes, in order, and
 * never an older write over what replaced or removed its object.
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

static char dir[] = "/tmp/sheep-unit-journal.XXXXXX";
static char other[] = "/tmp/sheep-unit-journal2.XXXXXX";
static const uint64_t OBJ_FILE = SD_DATA_OBJ_SIZE + 16;	/* data and version trailer */

static void obj_file(const char *d, uint64_t oid, char *path, size_t len)
{
	snprintf(path, len, "%s/obj/%016llx", d, (unsigned long long)oid);
}

/* the object file's bytes, as the disk holds them "now" */
static char *snapshot(uint64_t oid)
{
	char path[512], *buf = xmalloc(OBJ_FILE);
	int fd;

	obj_file(dir, oid, path, sizeof(path));
	fd = open(path, O_RDONLY);
	CHECK(fd >= 0);
	CHECK_EQ(xpread_full(fd, buf, OBJ_FILE, 0), OBJ_FILE);
	close(fd);
	return buf;
}

/* the power cut: the object file loses everything written since snap */
static void power_cut(uint64_t oid, char *snap)
{
	char path[512];
	int fd;

	obj_file(dir, oid, path, sizeof(path));
	fd = open(path, O_WRONLY);
	CHECK(fd >= 0);
	CHECK_EQ(xpwrite_full(fd, snap, OBJ_FILE, 0), 0);
	close(fd);
	free(snap);
}

static bool has(uint64_t oid, uint32_t off, uint32_t len, char c)
{
	char *buf = xmalloc(len);
	uint32_t rlen;
	bool ok = store_read(oid, buf, len, off, &rlen) == SD_RES_SUCCESS;

	for (uint32_t i = 0; ok && i < len; i++)
		ok = buf[i] == c;
	free(buf);
	return ok;
}

static void fill_write(uint64_t oid, uint32_t off, uint32_t len, char c)
{
	char *buf = xmalloc(len);

	memset(buf, c, len);
	CHECK_EQ(store_write(oid, buf, len, off, 2), SD_RES_SUCCESS);
	free(buf);
}

static int reopen(void)
{
	return store_init(dir);
}

TEST(replay_brings_back_small_writes)
{
	uint64_t oid = vid_to_data_oid(0x77, 1);
	struct obj_version v;
	char *snap;

	CHECK_EQ(store_create_and_write(oid, SD_DATA_OBJ_SIZE, NULL, NULL, 0, 0, 1),
		 SD_RES_SUCCESS);
	snap = snapshot(oid);
	fill_write(oid, 8192, 4096, 'a');
	fill_write(oid, 100, 512, 'b');
	fill_write(oid, 8192 + 1024, 100, 'c');	/* over part of 'a': order matters */
	power_cut(oid, snap);
	CHECK(has(oid, 8192, 16, 0));		/* the cut really lost them */
	CHECK_EQ(reopen(), 0);
	CHECK(has(oid, 8192, 1024, 'a'));
	CHECK(has(oid, 8192 + 1024, 100, 'c'));
	CHECK(has(oid, 8192 + 1124, 4096 - 1124, 'a'));
	CHECK(has(oid, 100, 512, 'b'));
	CHECK(has(oid, 0, 100, 0));
	/* and the version they left: created (1) + three writes, epoch 2 */
	CHECK_EQ(store_get_version(oid, &v), SD_RES_SUCCESS);
	CHECK_EQ(v.counter, 4);
	CHECK_EQ(v.epoch, 2);
	/* replayed once: a second open finds nothing left to do and changes nothing */
	CHECK_EQ(reopen(), 0);
	CHECK(has(oid, 8192 + 1024, 100, 'c'));
	CHECK_EQ(store_remove(oid), SD_RES_SUCCESS);
}

TEST(big_write_on_a_journaled_object_is_journaled_too)
{
	uint64_t oid = vid_to_data_oid(0x77, 2);
	char *snap;

	CHECK_EQ(store_create_and_write(oid, SD_DATA_OBJ_SIZE, NULL, NULL, 0, 0, 1),
		 SD_RES_SUCCESS);
	snap = snapshot(oid);
	fill_write(oid, 0, 4096, 'a');
	/*
	 * 1 MiB would sync in place, but the object has a journaled write: a
	 * replay would put 'a' back over it unless it is journaled as well
	 */
	fill_write(oid, 0, 1 << 20, 'B');
	power_cut(oid, snap);
	CHECK_EQ(reopen(), 0);
	CHECK(has(oid, 0, 1 << 20, 'B'));
	CHECK_EQ(store_remove(oid), SD_RES_SUCCESS);
}

TEST(removed_or_replaced_objects_never_get_old_writes)
{
	uint64_t gone = vid_to_data_oid(0x77, 3), repl = vid_to_data_oid(0x77, 4);
	struct obj_version w = { 7, 99 }, v;
	char *whole = xmalloc(SD_DATA_OBJ_SIZE);

	CHECK_EQ(store_create_and_write(gone, SD_DATA_OBJ_SIZE, NULL, NULL, 0, 0, 1),
		 SD_RES_SUCCESS);
	fill_write(gone, 0, 4096, 'a');
	CHECK_EQ(store_remove(gone), SD_RES_SUCCESS);
	/* created again: its content is 'n', the journaled 'a' belongs to the old one */
	memset(whole, 'n', SD_DATA_OBJ_SIZE);
	CHECK_EQ(store_create_and_write(gone, SD_DATA_OBJ_SIZE, whole, NULL, 0, 0, 3),
		 SD_RES_SUCCESS);

	CHECK_EQ(store_create_and_write(repl, SD_DATA_OBJ_SIZE, NULL, NULL, 0, 0, 1),
		 SD_RES_SUCCESS);
	fill_write(repl, 4096, 4096, 'a');
	memset(whole, 'r', SD_DATA_OBJ_SIZE);
	CHECK_EQ(store_replace(repl, whole, SD_DATA_OBJ_SIZE, &w), SD_RES_SUCCESS);

	CHECK_EQ(reopen(), 0);
	CHECK(has(gone, 0, 8192, 'n'));
	CHECK(has(repl, 0, 3 * 4096, 'r'));
	CHECK_EQ(store_get_version(repl, &v), SD_RES_SUCCESS);
	CHECK_EQ(obj_version_cmp(&v, &w), 0);
	/* a removed object stays removed */
	fill_write(gone, 0, 4096, 'z');
	CHECK_EQ(store_remove(gone), SD_RES_SUCCESS);
	CHECK_EQ(reopen(), 0);
	CHECK(!store_exists(gone));
	CHECK_EQ(store_remove(repl), SD_RES_SUCCESS);
	free(whole);
}

TEST(torn_entry_ends_the_replay)
{
	uint64_t oid = vid_to_data_oid(0x77, 5);
	char path[600], *snap, byte;
	struct stat st;
	int fd;

	CHECK_EQ(reopen(), 0);	/* an empty journal: entries start at its front */
	CHECK_EQ(store_create_and_write(oid, SD_DATA_OBJ_SIZE, NULL, NULL, 0, 0, 1),
		 SD_RES_SUCCESS);
	snap = snapshot(oid);
	fill_write(oid, 0, 4096, 'a');		/* entry 0: 4 KiB at 4096 */
	fill_write(oid, 4096, 4096, 'b');	/* entry 1: 8 KiB at 12288 */
	/* a cut in the middle of writing entry 1: one byte of its data is wrong */
	snprintf(path, sizeof(path), "%s/journal", dir);
	fd = open(path, O_RDWR);
	CHECK(fd >= 0 && fstat(fd, &st) == 0);
	CHECK_EQ(pread(fd, &byte, 1, 12288 + 64 + 100), 1);
	byte ^= 1;
	CHECK_EQ(pwrite(fd, &byte, 1, 12288 + 64 + 100), 1);
	close(fd);
	power_cut(oid, snap);
	CHECK_EQ(reopen(), 0);
	CHECK(has(oid, 0, 4096, 'a'));
	CHECK(has(oid, 4096, 4096, 0));		/* not half of 'b', not garbage */
	CHECK_EQ(store_remove(oid), SD_RES_SUCCESS);
}

TEST(wraps_around_and_keeps_everything)
{
	uint64_t oid = vid_to_data_oid(0x77, 6);
	char buf[4096];

	CHECK_EQ(store_create_and_write(oid, SD_DATA_OBJ_SIZE, NULL, NULL, 0, 0, 1),
		 SD_RES_SUCCESS);
	/* 2 MiB of journal, 8 KiB per entry: 600 writes wrap it twice */
	for (int i = 0; i < 600; i++) {
		memset(buf, 'A' + i % 26, sizeof(buf));
		CHECK_EQ(store_write(oid, buf, sizeof(buf), (uint32_t)(i % 1024) * 4096, 2),
			 SD_RES_SUCCESS);
	}
	CHECK_EQ(reopen(), 0);
	for (int i = 0; i < 600; i += 37)
		CHECK(has(oid, (uint32_t)(i % 1024) * 4096, 4096, (char)('A' + i % 26)));
	CHECK_EQ(store_remove(oid), SD_RES_SUCCESS);
}

TEST(skip_journals_vdi_objects_only)
{
	uint64_t data = vid_to_data_oid(0x77, 8), inode = vid_to_vdi_oid(0x77);
	char *snap_data, *snap_inode;

	store_journal.skip = true;
	CHECK_EQ(reopen(), 0);
	CHECK_EQ(store_create_and_write(data, SD_DATA_OBJ_SIZE, NULL, NULL, 0, 0, 1),
		 SD_RES_SUCCESS);
	CHECK_EQ(store_create_and_write(inode, SD_DATA_OBJ_SIZE, NULL, NULL, 0, 0, 1),
		 SD_RES_SUCCESS);
	snap_data = snapshot(data);
	snap_inode = snapshot(inode);
	fill_write(data, 0, 4096, 'd');
	fill_write(inode, 0, 4096, 'i');
	/* the cut takes both back; only the inode's write was journaled */
	power_cut(data, snap_data);
	power_cut(inode, snap_inode);
	CHECK_EQ(reopen(), 0);
	CHECK(has(inode, 0, 4096, 'i'));
	CHECK(has(data, 0, 4096, 0));
	CHECK_EQ(store_remove(data), SD_RES_SUCCESS);
	CHECK_EQ(store_remove(inode), SD_RES_SUCCESS);
	store_journal.skip = false;
	CHECK_EQ(reopen(), 0);
}

TEST(journal_of_another_store_is_refused)
{
	uint64_t oid = vid_to_data_oid(0x77, 7);

	/* both stores keep their journal in one directory: the second is refused */
	snprintf(store_journal.dir, sizeof(store_journal.dir), "%s/j", other);
	CHECK_EQ(mkdir_p(store_journal.dir, 0755), 0);
	CHECK_EQ(reopen(), 0);
	CHECK_EQ(store_create_and_write(oid, SD_DATA_OBJ_SIZE, NULL, NULL, 0, 0, 1),
		 SD_RES_SUCCESS);
	fill_write(oid, 0, 4096, 'a');
	CHECK_EQ(store_init(other), -EEXIST);
	/* its own store takes it back, and a journal of size 0 replays, then goes */
	store_journal.size = 0;
	CHECK_EQ(reopen(), 0);
	CHECK(has(oid, 0, 4096, 'a'));
	CHECK(access(store_journal.dir, F_OK) == 0);
	{
		char path[1200];

		snprintf(path, sizeof(path), "%s/journal", store_journal.dir);
		CHECK(access(path, F_OK) != 0);
	}
	/* no journal: writes sync in place */
	fill_write(oid, 0, 4096, 'q');
	CHECK(has(oid, 0, 4096, 'q'));
	CHECK_EQ(store_remove(oid), SD_RES_SUCCESS);
	store_journal.dir[0] = '\0';
	store_journal.size = 2 << 20;
}

int main(void)
{
	static const struct unit_test tests[] = {
		T(replay_brings_back_small_writes), T(big_write_on_a_journaled_object_is_journaled_too),
		T(removed_or_replaced_objects_never_get_old_writes), T(torn_entry_ends_the_replay),
		T(wraps_around_and_keeps_everything), T(skip_journals_vdi_objects_only),
		T(journal_of_another_store_is_refused),
	};
	char cmd[128];
	int ret;

	store_journal.size = 2 << 20;
	if (!mkdtemp(dir) || !mkdtemp(other) || store_init(dir)) {
		perror("store setup");
		return 1;
	}
	ret = unit_run(tests, ARRAY_SIZE(tests));
	snprintf(cmd, sizeof(cmd), "rm -rf %s %s", dir, other);
	if (system(cmd))
		return 1;
	return ret;
}
