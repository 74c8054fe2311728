/*
 * store.c - one file per object under <dir>/obj, named by its 16-hex oid.
 *
 * A file is the object's data followed by a 16-byte version trailer (see
 * store.h); a write updates data and trailer, then syncs once.
 *
 * Durability rules: a write is acknowledged only after fdatasync (unless -n);
 * an object is created as <oid>.tmp.<tid>, filled, synced and then linked to
 * its name (link fails if a concurrent create won, and then we write into the
 * winner), and the directory is synced, so after kill -9 or power loss an
 * object is either absent or whole.  ENOSPC/EDQUOT map to SD_RES_NO_SPACE and
 * leave existing objects untouched.  Safe to call from any thread; the
 * config and epoch files are written by the main thread only.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "store.h"
#include "util.h"

bool store_nosync;
static char base_dir[1024];
static char obj_dir[1100];
static char epoch_dir[1100];

const char *store_dir(void)
{
	return base_dir;
}

static int err_to_res(int err)
{
	if (err < 0)
		err = -err;
	switch (err) {
	case 0:
		return SD_RES_SUCCESS;
	case ENOENT:
		return SD_RES_NO_OBJ;
	case ENOSPC:
	case EDQUOT:
		return SD_RES_NO_SPACE;
	case ENOMEM:
		return SD_RES_NO_MEM;
	default:
		return SD_RES_EIO;
	}
}

static void obj_path(uint64_t oid, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%016" PRIx64, obj_dir, oid);
}

/* an object's file, opened with flags: fd, or -1 with errno set */
static int open_obj(uint64_t oid, int flags)
{
	char path[PATH_MAX];

	obj_path(oid, path, sizeof(path));
	return open(path, flags | O_CLOEXEC);
}

static int sync_fd(int fd)
{
	if (store_nosync)
		return 0;
	return fdatasync(fd) < 0 ? -errno : 0;
}

static int remove_tmp_files(void)
{
	DIR *d = opendir(obj_dir);
	struct dirent *de;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		char p[PATH_MAX];

		if (!strstr(de->d_name, ".tmp"))
			continue;
		snprintf(p, sizeof(p), "%s/%s", obj_dir, de->d_name);
		sd_info("removing leftover %s", p);
		unlink(p);
	}
	closedir(d);
	return 0;
}

int store_init(const char *dir)
{
	int ret;

	if (snprintf(base_dir, sizeof(base_dir), "%s", dir) >= (int)sizeof(base_dir))
		return -ENAMETOOLONG;
	snprintf(obj_dir, sizeof(obj_dir), "%s/obj", base_dir);
	snprintf(epoch_dir, sizeof(epoch_dir), "%s/epoch", base_dir);
	ret = mkdir_p(obj_dir, 0755);
	if (ret)
		return ret;
	ret = mkdir_p(epoch_dir, 0755);
	if (ret)
		return ret;
	return remove_tmp_files();
}

#define TRAILER_MAGIC 0x564f4853	/* "SHOV" */

struct trailer {
	uint32_t magic;
	uint32_t epoch;
	uint64_t counter;
};
_Static_assert(sizeof(struct trailer) == 16, "the version trailer is 16 bytes");

/* the trailer of an open object file, and where it sits */
static int read_trailer(int fd, struct trailer *t, off_t *pos)
{
	struct stat st;
	ssize_t n;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (st.st_size < (off_t)sizeof(*t))
		return -EINVAL;
	*pos = st.st_size - (off_t)sizeof(*t);
	n = xpread_full(fd, t, sizeof(*t), *pos);
	if (n < 0)
		return (int)n;
	if (n < (ssize_t)sizeof(*t) || t->magic != TRAILER_MAGIC)
		return -EINVAL;
	return 0;
}

int store_read(uint64_t oid, void *buf, uint32_t len, uint32_t off, uint32_t *rlen)
{
	struct trailer t;
	off_t end;
	ssize_t n;
	int fd;

	fd = open_obj(oid, O_RDONLY);
	if (fd < 0)
		return err_to_res(errno);
	/* never past the data: the version trailer is not content */
	if (read_trailer(fd, &t, &end) == 0 && (uint64_t)off + len > (uint64_t)end)
		n = off >= end ? 0 : xpread_full(fd, buf, (size_t)(end - off), off);
	else
		n = xpread_full(fd, buf, len, off);
	close(fd);
	if (n < 0) {
		sd_err("oid %016" PRIx64 ": read failed: %s", oid, strerror((int)-n));
		return err_to_res((int)n);
	}
	/* objects are created at full size; a short read means past the end */
	if ((uint32_t)n < len)
		memset((char *)buf + n, 0, len - (size_t)n);
	*rlen = len;
	return SD_RES_SUCCESS;
}

int store_write(uint64_t oid, const void *buf, uint32_t len, uint32_t off, uint32_t epoch)
{
	struct trailer t;
	off_t pos;
	int fd, ret;

	fd = open_obj(oid, O_RDWR);
	if (fd < 0)
		return err_to_res(errno);
	ret = read_trailer(fd, &t, &pos);
	if (!ret && (uint64_t)off + len > (uint64_t)pos)
		ret = -EINVAL;	/* would run into the trailer */
	if (!ret)
		ret = xpwrite_full(fd, buf, len, off);
	if (!ret) {
		t.counter++;
		t.epoch = MAX(t.epoch, epoch);
		ret = xpwrite_full(fd, &t, sizeof(t), pos);
	}
	if (!ret)
		ret = sync_fd(fd);
	close(fd);
	if (ret) {
		sd_err("oid %016" PRIx64 ": write of %u at %u failed: %s", oid, len, off,
		       strerror(-ret));
		return err_to_res(ret);
	}
	return SD_RES_SUCCESS;
}

int store_get_version(uint64_t oid, struct obj_version *ver)
{
	struct trailer t;
	off_t pos;
	int fd, ret;

	fd = open_obj(oid, O_RDONLY);
	if (fd < 0)
		return err_to_res(errno);
	ret = read_trailer(fd, &t, &pos);
	close(fd);
	if (ret)
		return err_to_res(ret);
	ver->epoch = t.epoch;
	ver->counter = t.counter;
	return SD_RES_SUCCESS;
}

int store_read_whole(uint64_t oid, void *buf, uint32_t max, uint32_t *size,
		     struct obj_version *ver)
{
	struct trailer t1, t2;
	off_t pos;
	int fd, ret = 0;

	fd = open_obj(oid, O_RDONLY);
	if (fd < 0)
		return err_to_res(errno);
	/* a write in between changes the trailer: read again */
	for (int tries = 0; tries < 10; tries++) {
		ssize_t n;

		ret = read_trailer(fd, &t1, &pos);
		if (ret)
			break;
		if ((uint64_t)pos > max) {
			ret = -E2BIG;
			break;
		}
		n = xpread_full(fd, buf, (size_t)pos, 0);
		if (n < 0) {
			ret = (int)n;
			break;
		}
		ret = read_trailer(fd, &t2, &pos);
		if (ret || (t1.epoch == t2.epoch && t1.counter == t2.counter))
			break;
	}
	close(fd);
	if (ret)
		return err_to_res(ret);
	*size = (uint32_t)pos;
	ver->epoch = t1.epoch;
	ver->counter = t1.counter;
	return SD_RES_SUCCESS;
}

/*
 * Create oid as a temp file, sync it and move it into place: link() when a
 * concurrent create must win (replace false), rename() to replace.
 */
static int create_obj(uint64_t oid, uint32_t objsize, const void *base, const void *buf,
		      uint32_t len, uint32_t off, const struct trailer *t, bool replace)
{
	char path[PATH_MAX], tmp[PATH_MAX + 32];
	int fd, ret;

	obj_path(oid, path, sizeof(path));
	if (!replace && access(path, F_OK) == 0)
		return store_write(oid, buf, len, off, t->epoch);

	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)syscall(SYS_gettid));
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return err_to_res(errno);
	if (ftruncate(fd, objsize) < 0) {
		ret = -errno;
		goto out_unlink;
	}
	ret = xpwrite_full(fd, t, sizeof(*t), objsize);
	if (ret)
		goto out_unlink;
	if (base) {
		ret = xpwrite_full(fd, base, objsize, 0);
		if (ret)
			goto out_unlink;
	}
	if (len) {
		ret = xpwrite_full(fd, buf, len, off);
		if (ret)
			goto out_unlink;
	}
	ret = sync_fd(fd);
	if (ret)
		goto out_unlink;
	close(fd);
	fd = -1;
	if (replace) {
		if (rename(tmp, path) < 0) {
			ret = -errno;
			unlink(tmp);
			sd_err("oid %016" PRIx64 ": rename failed: %s", oid, strerror(-ret));
			return err_to_res(ret);
		}
	} else if (link(tmp, path) < 0) {
		ret = -errno;
		unlink(tmp);
		if (ret == -EEXIST)	/* a concurrent create won: write into it */
			return store_write(oid, buf, len, off, t->epoch);
		sd_err("oid %016" PRIx64 ": link failed: %s", oid, strerror(-ret));
		return err_to_res(ret);
	} else {
		unlink(tmp);
	}
	if (!store_nosync) {
		ret = fsync_dir(obj_dir);
		if (ret)
			return err_to_res(ret);
	}
	return SD_RES_SUCCESS;

out_unlink:
	sd_err("oid %016" PRIx64 ": create failed: %s", oid, strerror(-ret));
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return err_to_res(ret);
}

int store_create_and_write(uint64_t oid, uint32_t objsize, const void *base,
			   const void *buf, uint32_t len, uint32_t off, uint32_t epoch)
{
	struct trailer t = { .magic = TRAILER_MAGIC, .epoch = epoch, .counter = 1 };

	return create_obj(oid, objsize, base, buf, len, off, &t, false);
}

int store_replace(uint64_t oid, const void *buf, uint32_t size, const struct obj_version *ver)
{
	struct trailer t = { .magic = TRAILER_MAGIC, .epoch = ver->epoch,
			     .counter = ver->counter };

	return create_obj(oid, size, buf, NULL, 0, 0, &t, true);
}

int store_remove(uint64_t oid)
{
	char path[PATH_MAX];

	obj_path(oid, path, sizeof(path));
	if (unlink(path) < 0)
		return err_to_res(errno);
	return SD_RES_SUCCESS;
}

bool store_exists(uint64_t oid)
{
	char path[PATH_MAX];

	obj_path(oid, path, sizeof(path));
	return access(path, F_OK) == 0;
}

static int parse_oid_name(const char *name, uint64_t *oid)
{
	char *end;

	if (strlen(name) != 16)
		return -1;
	errno = 0;
	*oid = strtoull(name, &end, 16);
	return (errno || *end) ? -1 : 0;
}

int store_for_each(int (*fn)(uint64_t oid, void *arg), void *arg)
{
	DIR *d = opendir(obj_dir);
	struct dirent *de;
	int ret = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		uint64_t oid;

		if (parse_oid_name(de->d_name, &oid))
			continue;
		ret = fn(oid, arg);
		if (ret)
			break;
	}
	closedir(d);
	return ret;
}

static int remove_one(uint64_t oid, void *arg)
{
	(void)arg;
	store_remove(oid);
	return 0;
}

int store_wipe(void)
{
	int ret = store_for_each(remove_one, NULL);

	if (ret)
		return ret;
	return fsync_dir(obj_dir);
}

int store_stat(uint64_t *size, uint64_t *free)
{
	struct statvfs vs;

	if (statvfs(base_dir, &vs) < 0)
		return -errno;
	*size = (uint64_t)vs.f_blocks * vs.f_frsize;
	*free = (uint64_t)vs.f_bavail * vs.f_frsize;
	return 0;
}

/* write a small metadata file atomically: tmp, fsync, rename, fsync dir */
static int write_file_atomic(const char *dir, const char *name, const void *a, size_t alen,
			     const void *b, size_t blen)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	int fd, ret;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	ret = xwrite_full(fd, a, alen);
	if (!ret && blen)
		ret = xwrite_full(fd, b, blen);
	if (!ret && fsync(fd) < 0)
		ret = -errno;
	close(fd);
	if (!ret && rename(tmp, path) < 0)
		ret = -errno;
	if (ret) {
		unlink(tmp);
		return ret;
	}
	return fsync_dir(dir);
}

int store_read_config(struct store_config *cfg)
{
	char path[PATH_MAX];
	int fd, ret;

	memset(cfg, 0, sizeof(*cfg));
	snprintf(path, sizeof(path), "%s/config", base_dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	ret = xread_full(fd, cfg, sizeof(*cfg));
	close(fd);
	if (ret == -ECONNRESET)
		return -EINVAL;		/* truncated config */
	return ret;
}

int store_write_config(const struct store_config *cfg)
{
	return write_file_atomic(base_dir, "config", cfg, sizeof(*cfg), NULL, 0);
}

int store_write_epoch(uint32_t epoch, const struct sd_node *nodes, int nr, uint64_t time)
{
	char name[16];

	snprintf(name, sizeof(name), "%08u", epoch);
	return write_file_atomic(epoch_dir, name, nodes, sizeof(*nodes) * (size_t)nr,
				 &time, sizeof(time));
}

int store_read_epoch(uint32_t epoch, struct sd_node *nodes, int max, uint64_t *time)
{
	char path[PATH_MAX];
	struct stat st;
	int fd, nr, ret;
	uint64_t t;

	snprintf(path, sizeof(path), "%s/%08u", epoch_dir, epoch);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || st.st_size < 8 ||
	    (st.st_size - 8) % (off_t)sizeof(struct sd_node)) {
		close(fd);
		return -EINVAL;
	}
	nr = (int)((st.st_size - 8) / (off_t)sizeof(struct sd_node));
	if (nr > max) {
		close(fd);
		return -E2BIG;
	}
	ret = xread_full(fd, nodes, sizeof(*nodes) * (size_t)nr);
	if (!ret)
		ret = xread_full(fd, &t, sizeof(t));
	close(fd);
	if (ret)
		return ret;
	if (time)
		*time = t;
	return nr;
}

uint32_t store_latest_epoch(void)
{
	DIR *d = opendir(epoch_dir);
	struct dirent *de;
	uint32_t max = 0;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		uint64_t e;

		if (strlen(de->d_name) == 8 && !parse_uint(de->d_name, UINT32_MAX, &e) &&
		    e > max)
			max = (uint32_t)e;
	}
	closedir(d);
	return max;
}

int store_wipe_epochs(void)
{
	DIR *d = opendir(epoch_dir);
	struct dirent *de;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		char p[PATH_MAX];

		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", epoch_dir, de->d_name);
		unlink(p);
	}
	closedir(d);
	return fsync_dir(epoch_dir);
}
