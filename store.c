/*
 * store.c - one file per object under <dir>/obj, named by its 16-hex oid.
 *
 * A file is the object's data followed by a 16-byte version trailer (see
 * store.h); a write updates data and trailer, then syncs once.
 *
 * Durability rules: a write is acknowledged only after it is durable (unless
 * -n): small writes, and every write to an object with journaled writes
 * since the last checkpoint, by a group commit of the journal (journal.c;
 * replayed at start), the others by fdatasync of the object; an object is
 * created as <oid>.tmp.<tid>, filled, synced and then linked to
 * its name (link fails if a concurrent create won, and then we write into the
 * winner), and the directory is synced, so after kill -9 or power loss an
 * object is either absent or whole.  ENOSPC/EDQUOT map to SD_RES_NO_SPACE and
 * leave existing objects untouched.  Safe to call from any thread; the
 * config and epoch files are written by the main thread only.  obj_locks
 * order the writes of one object with their journal entries (replay must
 * apply them in the order they were applied); taken before the journal's.
 *
 * Write-back (store_write_lazy, store_create_lazy; the NBD export's plain
 * writes): applied to the page cache and acknowledged without a sync; the
 * object joins the dirty set (small ones: a journal entry not waited for),
 * and store_flush makes every such write durable (journal group commit,
 * then fdatasync of every dirty object).  A lazy create is ordered against
 * the index entry its gateway writes next: the file is sized in full and
 * linked, and the directory synced (metadata only), before it is
 * acknowledged; after a power cut it is there, at worst with zeros and an
 * all-zero trailer, which reads as the oldest version (0, 0).  A restart
 * syncs the filesystem once (syncfs), since a dirty set dies with the
 * process while its page cache does not.
 *
 * A failed disk takes the store out of service (store_failed): an object IO
 * that fails with EIO (or EROFS, ENXIO, ENODEV), or finds <dir>/obj gone
 * or replaced, and a check of <dir>/obj every second (a removed directory
 * goes unnoticed by files already open), mark it failed for the life of
 * the process.  From then on it holds nothing: no object, version or list
 * is served, reads and writes answer SD_RES_EIO, and the disk is not
 * touched again, so a disk that comes back never serves what it missed.
 * The owner (group.c) is told once and turns the node into a gateway.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "journal.h"
#include "oidset.h"
#include "store.h"
#include "util.h"

#define NR_OBJ_LOCKS	1024
/* the journal takes writes up to this size; larger ones go straight to their object */
#define JOURNAL_WRITE_MAX	(128U << 10)

bool store_nosync;
struct store_journal_conf store_journal;
static pthread_mutex_t obj_locks[NR_OBJ_LOCKS];
/* objects with lazy writes not yet synced (store_flush empties it) */
static pthread_mutex_t dirty_lock = PTHREAD_MUTEX_INITIALIZER;
static struct oidset dirty;
static char base_dir[1024];
static char obj_dir[1100];
static char epoch_dir[1100];

/* the store's health: failed is set once (atomic), after fail_reason */
static int failed;
static char fail_reason[160];
static dev_t obj_dir_dev;
static ino_t obj_dir_ino;
static void (*failure_handler)(void);	/* store_watch, before any IO */

const char *store_dir(void)
{
	return base_dir;
}

bool store_failed(char *reason, size_t len)
{
	if (!__atomic_load_n(&failed, __ATOMIC_ACQUIRE))
		return false;
	if (reason)
		snprintf(reason, len, "%s", fail_reason);
	return true;
}

/* the first failure found takes the store out of service and tells the owner */
static void store_fail(const char *what, int err)
{
	static pthread_mutex_t fail_lock = PTHREAD_MUTEX_INITIALIZER;
	bool first;

	pthread_mutex_lock(&fail_lock);
	first = !__atomic_load_n(&failed, __ATOMIC_ACQUIRE);
	if (first) {
		snprintf(fail_reason, sizeof(fail_reason), "%s: %s", what, strerror(err));
		__atomic_store_n(&failed, 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&fail_lock);
	if (!first)
		return;
	sd_err("the store %s failed (%s): out of service from now on", base_dir, fail_reason);
	if (failure_handler)
		failure_handler();
}

/* errors that mean the device, not one object: the store cannot be trusted */
static bool disk_error(int err)
{
	return err == EIO || err == EROFS || err == ENXIO || err == ENODEV;
}

/* 0 if <dir>/obj is the directory store_init opened, else an errno */
static int obj_dir_check(void)
{
	struct stat st;

	if (stat(obj_dir, &st) < 0)
		return errno;
	if (st.st_dev != obj_dir_dev || st.st_ino != obj_dir_ino)
		return ESTALE;
	return 0;
}

/*
 * dir_err from obj_dir_check: <dir>/obj is gone, replaced or unreadable
 * (other errors, ENOMEM say, are not the disk's and change nothing)
 */
static void obj_dir_failed(int dir_err)
{
	if (dir_err == ENOENT || dir_err == ENOTDIR)
		store_fail("the object directory is gone", dir_err);
	else if (dir_err == ESTALE)
		store_fail("the object directory was replaced", dir_err);
	else if (disk_error(dir_err))
		store_fail("the object directory", dir_err);
}

/* an object IO error: the disk's own take the store out of service */
static void note_io_error(int err)
{
	int dir_err;

	if (disk_error(err))
		store_fail("object IO", err);
	else if (err == ENOENT && (dir_err = obj_dir_check()))
		obj_dir_failed(dir_err);
}

/* once a second: a removed, replaced or unreadable object directory */
static void *health_thread(void *arg)
{
	(void)arg;
	while (!store_failed(NULL, 0)) {
		int err = obj_dir_check();

		if (err)
			obj_dir_failed(err);
		sleep(1);
	}
	return NULL;
}

void store_watch(void (*on_failure)(void))
{
	pthread_t t;

	failure_handler = on_failure;
	if (pthread_create(&t, NULL, health_thread, NULL) == 0)
		pthread_detach(t);
	else
		sd_err("cannot start the store's health check");
}

static int err_to_res(int err)
{
	if (err < 0)
		err = -err;
	note_io_error(err);
	if (err && store_failed(NULL, 0))
		return SD_RES_EIO;
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

struct trailer {
	uint32_t magic;
	uint32_t epoch;
	uint64_t counter;
};
_Static_assert(sizeof(struct trailer) == 16, "the version trailer is 16 bytes");

/*
 * Open object files, cached: open + fstat + close were 7% of sheep's
 * samples in a profile of 4 KiB writes.  One slot per hash bucket; a slot busy with
 * another object means an uncached open.  A file renamed or unlinked (only
 * store.c does either while sheep runs) is forgotten right after, and
 * closed by its last user.  The slot also keeps the file's version trailer
 * and where it sits, as store_write last wrote it (fstat + pread of it were
 * 6% of sheep's samples); only a user of the slot holding obj_lock(oid)
 * touches those.
 */
struct fd_slot {
	pthread_mutex_t mu;
	uint64_t oid;		/* 0: empty */
	int fd;
	int users;
	bool stale;		/* renamed or unlinked: close when the last user is done */
	bool have_trailer;
	struct trailer trailer;
	off_t trailer_pos;
};

static struct fd_slot *fd_slots;
static size_t nr_fd_slots;

static void init_fd_cache(void)
{
	struct rlimit rl;

	/* the cache may take a quarter of the descriptors; raise the limit for it */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max && rl.rlim_cur < 8192) {
		rl.rlim_cur = MIN(rl.rlim_max, 8192);
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	nr_fd_slots = MIN(1024, rl.rlim_cur / 4);
	fd_slots = xcalloc(nr_fd_slots ? nr_fd_slots : 1, sizeof(*fd_slots));
	for (size_t i = 0; i < nr_fd_slots; i++)
		pthread_mutex_init(&fd_slots[i].mu, NULL);
}

/* store_init: cached files may belong to another store */
static void drop_fd_cache(void)
{
	for (size_t i = 0; i < nr_fd_slots; i++) {
		struct fd_slot *s = &fd_slots[i];

		pthread_mutex_lock(&s->mu);
		if (s->oid && !s->users)
			close(s->fd);
		else if (s->oid)
			s->stale = true;
		if (!s->users)
			s->oid = 0;
		pthread_mutex_unlock(&s->mu);
	}
}

/* a read-write fd of oid, or -1 with errno set; put_obj_fd when done */
static int get_obj_fd(uint64_t oid, struct fd_slot **slot)
{
	struct fd_slot *s;
	int fd, err;

	*slot = NULL;
	if (!nr_fd_slots)
		return open_obj(oid, O_RDWR);
	s = &fd_slots[oid_hash(oid) % nr_fd_slots];
	pthread_mutex_lock(&s->mu);
	if (s->oid == oid && !s->stale) {
		s->users++;
		fd = s->fd;
		*slot = s;
	} else if (!s->users) {
		if (s->oid)
			close(s->fd);
		s->oid = 0;
		fd = open_obj(oid, O_RDWR);
		err = errno;
		if (fd >= 0) {
			s->oid = oid;
			s->fd = fd;
			s->users = 1;
			s->stale = false;
			s->have_trailer = false;
			*slot = s;
		}
		errno = err;
	} else {
		fd = open_obj(oid, O_RDWR);
	}
	pthread_mutex_unlock(&s->mu);
	return fd;
}

static void put_obj_fd(int fd, struct fd_slot *s)
{
	if (!s) {
		close(fd);
		return;
	}
	pthread_mutex_lock(&s->mu);
	if (!--s->users && s->stale) {
		close(s->fd);
		s->oid = 0;
		s->stale = false;
	}
	pthread_mutex_unlock(&s->mu);
}

/* oid's file was just renamed over or unlinked */
static void forget_obj_fd(uint64_t oid)
{
	struct fd_slot *s;

	if (!nr_fd_slots)
		return;
	s = &fd_slots[oid_hash(oid) % nr_fd_slots];
	pthread_mutex_lock(&s->mu);
	if (s->oid == oid && !s->stale) {
		if (s->users) {
			s->stale = true;
		} else {
			close(s->fd);
			s->oid = 0;
		}
	}
	pthread_mutex_unlock(&s->mu);
}

static void init_obj_locks(void)
{
	for (int i = 0; i < NR_OBJ_LOCKS; i++)
		pthread_mutex_init(&obj_locks[i], NULL);
	init_fd_cache();
}

static pthread_mutex_t *obj_lock(uint64_t oid)
{
	return &obj_locks[oid_hash(oid) % NR_OBJ_LOCKS];
}

/*
 * Object data goes to the page cache in pieces of at most this much: one
 * big write makes the kernel (6.x ext4) use folios as big as the write, and
 * then every later small write and sync of the object walks the whole
 * folio.  Measured on 4 MiB objects: create + fdatasync 10.0 ms of CPU in
 * one 4 MiB write, 2.5 ms in 128 KiB pieces; a later 4 KiB write + sync
 * 150 us against 67 us; overwriting all 4 MiB about the same either way.
 */
#define WRITE_PIECE	(128U << 10)

static int write_data(int fd, const void *buf, uint32_t len, uint32_t off)
{
	const char *p = buf;

	while (len) {
		uint32_t n = MIN(len, WRITE_PIECE - off % WRITE_PIECE);
		int ret = xpwrite_full(fd, p, n, off);

		if (ret)
			return ret;
		p += n;
		off += n;
		len -= n;
	}
	return 0;
}

/*
 * Writes of at least DIRECT_MIN, page-aligned, go to the disk with O_DIRECT
 * instead of through the page cache: no copy into it, no writeback work.
 * Measured (3 nodes, 3 copies, 1 GiB of 4 MiB writes, three A/B pairs):
 * sheep CPU per GiB overwritten 3.3-3.5 -> 2.0-2.2 s, allocating 7.5-8.1 ->
 * 2.5-3.0 s; throughput overwriting 178-200 -> 150-168 MiB/s (this virtual
 * disk takes 4 MiB writes better from the page cache: fio, 24 writers of
 * 4 MiB + fdatasync, 394 MiB/s buffered, 320 direct).  A filesystem without
 * O_DIRECT (tmpfs before Linux 6.6) is noticed once, then the page cache is
 * used.  The fdatasync after the write still flushes the disk's cache.
 */
#define DIRECT_MIN	(1U << 20)
static bool direct_unsupported;	/* atomic */

static bool direct_ok(const void *buf, uint32_t len, uint32_t off)
{
	return len >= DIRECT_MIN && !((uintptr_t)buf % 4096) && !(len % 4096) && !(off % 4096) &&
	       !__atomic_load_n(&direct_unsupported, __ATOMIC_RELAXED);
}

/* 0, -errno, or 1: no O_DIRECT here, write through the page cache */
static int write_direct(const char *path, const void *buf, uint32_t len, uint32_t off)
{
	int fd = open(path, O_WRONLY | O_DIRECT | O_CLOEXEC), ret;

	if (fd < 0 && errno != EINVAL)
		return -errno;
	ret = fd < 0 ? -EINVAL : xpwrite_full(fd, buf, len, off);
	if (fd >= 0)
		close(fd);
	if (ret == -EINVAL) {
		if (!__atomic_exchange_n(&direct_unsupported, true, __ATOMIC_RELAXED))
			sd_notice("%s: no O_DIRECT on this filesystem; big writes use the page "
				  "cache", path);
		return 1;
	}
	return ret;
}

/* data into an object's file (fd, path): direct when it can, else in pieces */
static int write_obj_data(int fd, const char *path, const void *buf, uint32_t len, uint32_t off)
{
	int ret = direct_ok(buf, len, off) ? write_direct(path, buf, len, off) : 1;

	return ret == 1 ? write_data(fd, buf, len, off) : ret;
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

static int journal_setup(void);

int store_init(const char *dir)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct stat st;
	int ret;

	pthread_once(&once, init_obj_locks);
	drop_fd_cache();
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
	if (stat(obj_dir, &st) < 0)
		return -errno;
	obj_dir_dev = st.st_dev;
	obj_dir_ino = st.st_ino;
	ret = remove_tmp_files();
	if (ret)
		return ret;
	/* lazy writes of an earlier run may still be in the page cache: durable now */
	if (!store_nosync) {
		int dfd = open(obj_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (dfd >= 0) {
			if (syncfs(dfd) < 0)
				sd_err("syncfs %s: %m", obj_dir);
			close(dfd);
		}
	}
	return journal_setup();
}

#define TRAILER_MAGIC 0x564f4853	/* "SHOV" */

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
	if (n < (ssize_t)sizeof(*t))
		return -EINVAL;
	if (t->magic == 0 && t->epoch == 0 && t->counter == 0)
		t->magic = TRAILER_MAGIC;	/* a lazy create cut by a power loss: (0, 0) */
	return t->magic == TRAILER_MAGIC ? 0 : -EINVAL;
}

int store_read(uint64_t oid, void *buf, uint32_t len, uint32_t off, uint32_t *rlen)
{
	struct trailer t;
	off_t end;
	struct fd_slot *slot;
	ssize_t n;
	int fd;

	if (store_failed(NULL, 0))
		return SD_RES_EIO;
	fd = get_obj_fd(oid, &slot);
	if (fd < 0)
		return err_to_res(errno);
	/* never past the data: the version trailer is not content */
	if (read_trailer(fd, &t, &end) == 0 && (uint64_t)off + len > (uint64_t)end)
		n = off >= end ? 0 : xpread_full(fd, buf, (size_t)(end - off), off);
	else
		n = xpread_full(fd, buf, len, off);
	put_obj_fd(fd, slot);
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

/*
 * Whether a write goes through the journal: a small one, and any one to an
 * object with journaled writes since the last checkpoint (else a replay
 * would put those older writes over it).  obj_lock(oid) held.
 */
static bool journaled(uint64_t oid, uint32_t len)
{
	if (!journal_enabled() || (store_journal.skip && !is_vdi_obj(oid)))
		return false;
	return len <= JOURNAL_WRITE_MAX || journal_dirty(oid);
}

static void mark_dirty(uint64_t oid)
{
	pthread_mutex_lock(&dirty_lock);
	oidset_add(&dirty, oid);
	pthread_mutex_unlock(&dirty_lock);
}

static int write_obj(uint64_t oid, const void *buf, uint32_t len, uint32_t off, uint32_t epoch,
		     bool lazy)
{
	struct trailer t;
	uint64_t ticket = 0;
	struct fd_slot *slot;
	bool jw = false;
	off_t pos;
	int fd, ret;

	if (store_failed(NULL, 0))
		return SD_RES_EIO;
	/* the lock first: a removal or rename in between cannot leave us the old file */
	pthread_mutex_lock(obj_lock(oid));
	fd = get_obj_fd(oid, &slot);
	if (fd < 0) {
		ret = errno;
		pthread_mutex_unlock(obj_lock(oid));
		return err_to_res(ret);
	}
	if (slot && slot->have_trailer) {
		t = slot->trailer;
		pos = slot->trailer_pos;
		ret = 0;
	} else {
		ret = read_trailer(fd, &t, &pos);
	}
	if (!ret && (uint64_t)off + len > (uint64_t)pos)
		ret = -EINVAL;	/* would run into the trailer */
	if (!ret) {
		jw = journaled(oid, len);
		if (jw || lazy) {
			ret = write_data(fd, buf, len, off);
		} else {
			char path[PATH_MAX];

			obj_path(oid, path, sizeof(path));
			ret = write_obj_data(fd, path, buf, len, off);
		}
	}
	if (!ret) {
		t.counter++;
		t.epoch = MAX(t.epoch, epoch);
		ret = xpwrite_full(fd, &t, sizeof(t), pos);
		if (slot) {
			/* after a failed write the file's trailer is unknown: read it again */
			slot->have_trailer = !ret;
			slot->trailer = t;
			slot->trailer_pos = pos;
		}
	}
	if (!ret && jw) {
		ret = journal_append(oid, buf, len, off, t.epoch, t.counter, &ticket);
		if (ret == -E2BIG) {
			/* too big for any journal: empty it, then this write syncs in place */
			jw = false;
			ret = journal_checkpoint();
		}
	}
	if (!ret && lazy && !jw)
		mark_dirty(oid);	/* under the lock: a flush that missed it syncs it next */
	pthread_mutex_unlock(obj_lock(oid));
	if (!ret && !lazy)
		ret = jw ? journal_commit(ticket) : sync_fd(fd);
	put_obj_fd(fd, slot);
	if (ret) {
		sd_err("oid %016" PRIx64 ": write of %u at %u failed: %s", oid, len, off,
		       strerror(-ret));
		return err_to_res(ret);
	}
	return SD_RES_SUCCESS;
}

int store_write(uint64_t oid, const void *buf, uint32_t len, uint32_t off, uint32_t epoch)
{
	return write_obj(oid, buf, len, off, epoch, false);
}

int store_write_lazy(uint64_t oid, const void *buf, uint32_t len, uint32_t off, uint32_t epoch)
{
	return write_obj(oid, buf, len, off, epoch, true);
}

/*
 * Whether the object's data at off already is buf (len > 0 bytes), written
 * in epoch (its version's), and on disk: synced here, as a concurrent write
 * of the same bytes may not have been yet.  False on any doubt.
 */
bool store_holds(uint64_t oid, const void *buf, uint32_t len, uint32_t off, uint32_t epoch)
{
	struct fd_slot *slot;
	struct trailer t;
	bool same = false;
	off_t end;
	char *mine;
	int fd;

	if (store_failed(NULL, 0))
		return false;
	if (!len || !buf)
		return false;
	fd = get_obj_fd(oid, &slot);
	if (fd < 0)
		return false;
	mine = malloc(len);
	if (mine && read_trailer(fd, &t, &end) == 0 && t.epoch == epoch &&
	    (uint64_t)off + len <= (uint64_t)end)
		same = xpread_full(fd, mine, len, off) == (ssize_t)len && !memcmp(mine, buf, len) &&
		       !sync_fd(fd);
	free(mine);
	put_obj_fd(fd, slot);
	return same;
}

/* journal replay: the write as it was, and the version it left */
static int apply_journaled(uint64_t oid, const void *buf, uint32_t len, uint32_t off,
			   uint32_t epoch, uint64_t counter)
{
	struct trailer t = { .magic = TRAILER_MAGIC, .epoch = epoch, .counter = counter }, old;
	off_t pos;
	int fd, ret;

	fd = open_obj(oid, O_RDWR);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;	/* removed since */
	ret = read_trailer(fd, &old, &pos);
	if (!ret && (uint64_t)off + len > (uint64_t)pos)
		ret = -EINVAL;
	if (!ret)
		ret = write_data(fd, buf, len, off);
	if (!ret)
		ret = xpwrite_full(fd, &t, sizeof(t), pos);
	close(fd);
	if (ret == -EINVAL) {
		/* not an object file we can write into: recovery replaces it */
		sd_err("oid %016" PRIx64 ": journaled write of %u at %u does not fit the "
		       "object; skipped", oid, len, off);
		return 0;
	}
	return ret;
}

/* journal checkpoints and replay: always synced, even under -n (it was acknowledged) */
static int sync_obj(uint64_t oid)
{
	int fd = open_obj(oid, O_RDONLY), ret = 0;

	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fdatasync(fd) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

static const struct journal_ops journal_ops = {
	.apply = apply_journaled,
	.sync_obj = sync_obj,
};

static int journal_setup(void)
{
	char path[PATH_MAX + 16], owner[PATH_MAX];
	const char *dir = store_journal.dir[0] ? store_journal.dir : base_dir;
	uint64_t size = store_nosync ? 0 : store_journal.size;
	int ret;

	if (!realpath(base_dir, owner))
		snprintf(owner, sizeof(owner), "%s", base_dir);
	snprintf(path, sizeof(path), "%s/journal", dir);
	ret = journal_open(path, size, owner, &journal_ops);
	if (ret == -EBUSY)
		sd_err("journal %s is in use by another sheep", path);
	else if (ret)
		sd_err("journal %s: %s", path, strerror(-ret));
	else if (size)
		sd_info("journal %s, %" PRIu64 " MiB%s", path, size >> 20,
			store_journal.skip ? ", VDI objects only" : "");
	return ret;
}

int store_get_version(uint64_t oid, struct obj_version *ver)
{
	struct trailer t;
	struct fd_slot *slot;
	off_t pos;
	int fd, ret;

	if (store_failed(NULL, 0))
		return SD_RES_NO_OBJ;	/* a failed store holds nothing */
	fd = get_obj_fd(oid, &slot);
	if (fd < 0)
		return err_to_res(errno);
	ret = read_trailer(fd, &t, &pos);
	put_obj_fd(fd, slot);
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

	if (store_failed(NULL, 0))
		return SD_RES_NO_OBJ;
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
 * oid is about to be removed or replaced whole: its journaled writes must
 * never be replayed onto what comes next.  obj_lock(oid) held.
 */
static int void_journaled(uint64_t oid)
{
	uint64_t ticket;
	int ret;

	if (!journal_enabled() || !journal_dirty(oid))
		return 0;
	/* its journaled writes in the file first: the removal or rename may yet fail */
	ret = sync_obj(oid);
	if (!ret)
		ret = journal_barrier(oid, &ticket);
	return ret ? ret : journal_commit(ticket);
}

/*
 * Create oid as a temp file, sync it and move it into place: link() when a
 * concurrent create must win (replace false), rename() to replace.
 */
static int create_obj(uint64_t oid, uint32_t objsize, const void *base, const void *buf,
		      uint32_t len, uint32_t off, const struct trailer *t, bool replace, bool lazy)
{
	char path[PATH_MAX], tmp[PATH_MAX + 32];
	int fd, ret;

	if (store_failed(NULL, 0))
		return SD_RES_EIO;
	obj_path(oid, path, sizeof(path));
	if (!replace && access(path, F_OK) == 0)
		return write_obj(oid, buf, len, off, t->epoch, lazy);

	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)syscall(SYS_gettid));
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return err_to_res(errno);
	/* the full size with the trailer at once: what a power loss leaves of a lazy create */
	if (ftruncate(fd, (off_t)objsize + (off_t)sizeof(*t)) < 0) {
		ret = -errno;
		goto out_unlink;
	}
	ret = xpwrite_full(fd, t, sizeof(*t), objsize);
	if (ret)
		goto out_unlink;
	if (base) {
		ret = write_obj_data(fd, tmp, base, objsize, 0);
		if (ret)
			goto out_unlink;
	}
	if (len) {
		ret = lazy ? write_data(fd, buf, len, off) : write_obj_data(fd, tmp, buf, len, off);
		if (ret)
			goto out_unlink;
	}
	ret = lazy ? 0 : sync_fd(fd);
	if (ret)
		goto out_unlink;
	close(fd);
	fd = -1;
	if (replace) {
		pthread_mutex_lock(obj_lock(oid));
		ret = void_journaled(oid);
		if (!ret && rename(tmp, path) < 0)
			ret = -errno;
		if (!ret)
			forget_obj_fd(oid);
		pthread_mutex_unlock(obj_lock(oid));
		if (ret) {
			unlink(tmp);
			sd_err("oid %016" PRIx64 ": replace failed: %s", oid, strerror(-ret));
			return err_to_res(ret);
		}
	} else if (link(tmp, path) < 0) {
		ret = -errno;
		unlink(tmp);
		if (ret == -EEXIST)	/* a concurrent create won: write into it */
			return write_obj(oid, buf, len, off, t->epoch, lazy);
		sd_err("oid %016" PRIx64 ": link failed: %s", oid, strerror(-ret));
		return err_to_res(ret);
	} else {
		unlink(tmp);
	}
	if (lazy)
		mark_dirty(oid);
	if (!store_nosync) {
		/* lazy: the name and size, not the data (one journal commit) */
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

	return create_obj(oid, objsize, base, buf, len, off, &t, false, false);
}

int store_create_lazy(uint64_t oid, uint32_t objsize, const void *buf, uint32_t len, uint32_t off,
		      uint32_t epoch)
{
	struct trailer t = { .magic = TRAILER_MAGIC, .epoch = epoch, .counter = 1 };

	return create_obj(oid, objsize, NULL, buf, len, off, &t, false, true);
}

static int sync_each(uint64_t oid, void *arg)
{
	(void)arg;
	return sync_obj(oid);
}

static int readd_one(uint64_t oid, void *arg)
{
	(void)arg;
	oidset_add(&dirty, oid);
	return 0;
}

/* store_flush: start the writeback of one dirty object (all of them go out at once) */
static int start_one(uint64_t oid, void *arg)
{
	int fd = open_obj(oid, O_RDONLY);

	(void)arg;
	if (fd >= 0) {
		sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
		close(fd);
	}
	return 0;
}

int store_flush(void)
{
	struct oidset d;
	int ret;

	if (store_failed(NULL, 0))
		return SD_RES_EIO;
	pthread_mutex_lock(&dirty_lock);
	d = dirty;
	memset(&dirty, 0, sizeof(dirty));
	pthread_mutex_unlock(&dirty_lock);
	ret = journal_enabled() ? journal_sync() : 0;
	if (!ret && !store_nosync) {
		oidset_for_each(&d, start_one, NULL);
		ret = oidset_for_each(&d, sync_each, NULL);
	}
	if (ret) {
		/* not durable: they stay dirty for the next flush, which fails again or not */
		pthread_mutex_lock(&dirty_lock);
		oidset_for_each(&d, readd_one, NULL);
		pthread_mutex_unlock(&dirty_lock);
		sd_err("flush failed: %s", strerror(-ret));
	}
	oidset_free(&d);
	return ret ? err_to_res(ret) : SD_RES_SUCCESS;
}

int store_replace(uint64_t oid, const void *buf, uint32_t size, const struct obj_version *ver)
{
	struct trailer t = { .magic = TRAILER_MAGIC, .epoch = ver->epoch,
			     .counter = ver->counter };

	return create_obj(oid, size, buf, NULL, 0, 0, &t, true, false);
}

int store_remove(uint64_t oid)
{
	char path[PATH_MAX];
	int ret;

	if (store_failed(NULL, 0))
		return SD_RES_EIO;
	obj_path(oid, path, sizeof(path));
	pthread_mutex_lock(obj_lock(oid));
	ret = void_journaled(oid);
	if (!ret && unlink(path) < 0)
		ret = -errno;
	if (!ret)
		forget_obj_fd(oid);
	pthread_mutex_unlock(obj_lock(oid));
	return err_to_res(ret);
}

bool store_exists(uint64_t oid)
{
	char path[PATH_MAX];

	if (store_failed(NULL, 0))
		return false;
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
	DIR *d;
	struct dirent *de;
	int ret = 0;

	if (store_failed(NULL, 0))
		return 0;	/* it holds nothing */
	d = opendir(obj_dir);
	if (!d) {
		ret = -errno;
		note_io_error(-ret);
		return store_failed(NULL, 0) ? 0 : ret;
	}
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
	int ret;

	if (store_failed(NULL, 0))
		return 0;	/* nothing to wipe, and the disk is not touched */
	/* first, so no write of the old objects is ever replayed onto new ones */
	ret = journal_reset();

	if (!ret)
		ret = store_for_each(remove_one, NULL);
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
