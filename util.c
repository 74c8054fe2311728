/*
 * util.c - logging, allocation, exact IO, size parsing.
 *
 * Logging is thread safe: one line per write(2) to the log fd, so worker
 * threads and the main loop never interleave inside a line.  Allocation
 * failures are fatal (a storage daemon that cannot allocate 48 bytes cannot
 * make progress anyway, and half-handled OOM paths are where data gets lost).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

int sd_log_level = SDLOG_INFO;
static int log_fd = 2;
static const char *log_prog = "sheep";

static const char *const level_names[] = {
	"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
};

void log_init(const char *prog, int fd, int level)
{
	log_prog = prog;
	log_fd = fd;
	sd_log_level = level;
}

int log_get_fd(void)
{
	return log_fd;
}

int log_parse_level(const char *s)
{
	for (size_t i = 0; i < ARRAY_SIZE(level_names); i++)
		if (!strcmp(s, level_names[i]))
			return (int)i;
	if (s[0] >= '0' && s[0] <= '7' && s[1] == '\0')
		return s[0] - '0';
	return -1;
}

static void vlog(int level, const char *func, int line, const char *fmt, va_list ap)
{
	char buf[1024];
	struct timeval tv;
	struct tm tm;
	int n;

	gettimeofday(&tv, NULL);
	localtime_r(&tv.tv_sec, &tm);
	n = snprintf(buf, sizeof(buf), "%s %04d-%02d-%02d %02d:%02d:%02d.%06ld %s %s(%d) ",
		     level_names[level], tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		     tm.tm_hour, tm.tm_min, tm.tm_sec, (long)tv.tv_usec, log_prog, func, line);
	if (n < 0 || (size_t)n >= sizeof(buf))
		n = 0;
	n += vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	if ((size_t)n >= sizeof(buf) - 1)
		n = sizeof(buf) - 2;
	if (n > 0 && buf[n - 1] != '\n')
		buf[n++] = '\n';
	(void)!write(log_fd, buf, (size_t)n);
}

void sd_log(int level, const char *func, int line, const char *fmt, ...)
{
	va_list ap;

	if (level > sd_log_level)
		return;
	va_start(ap, fmt);
	vlog(level, func, line, fmt, ap);
	va_end(ap);
}

void sd_panic(const char *func, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(SDLOG_EMERG, func, line, fmt, ap);
	va_end(ap);
	abort();
}

void *xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);

	if (!p)
		panic("out of memory allocating %zu bytes", size);
	return p;
}

void *xzalloc(size_t size)
{
	return xcalloc(1, size);
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		panic("out of memory allocating %zu x %zu bytes", n, size);
	return p;
}

void *xrealloc(void *old, size_t size)
{
	void *p = realloc(old, size ? size : 1);

	if (!p)
		panic("out of memory reallocating %zu bytes", size);
	return p;
}

char *xstrdup(const char *s)
{
	char *p = strdup(s);

	if (!p)
		panic("out of memory");
	return p;
}

int xread_full(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		ssize_t n = read(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -ECONNRESET;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* drops the first n bytes from the *cnt iovecs at *v (after a partial write) */
static void iov_advance(struct iovec **v, int *cnt, size_t n)
{
	while (*cnt && n >= (*v)->iov_len) {
		n -= (*v)->iov_len;
		(*v)++;
		(*cnt)--;
	}
	if (*cnt) {
		(*v)->iov_base = (char *)(*v)->iov_base + n;
		(*v)->iov_len -= n;
	}
}

/* every byte of the iovecs, at off (positional) or at the file position */
static int writev_all(int fd, struct iovec *v, int cnt, off_t off, bool positional)
{
	iov_advance(&v, &cnt, 0);	/* nothing to write is not a write */
	while (cnt) {
		ssize_t n = positional ? pwritev(fd, v, cnt, off) : writev(fd, v, cnt);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;	/* no progress: never spin */
		off += n;
		iov_advance(&v, &cnt, (size_t)n);
	}
	return 0;
}

int xwrite2_full(int fd, const void *a, size_t alen, const void *b, size_t blen)
{
	struct iovec iov[2] = { { (void *)a, alen }, { (void *)b, blen } };

	return writev_all(fd, iov, 2, 0, false);
}

int xpwritev_full(int fd, struct iovec *iov, int cnt, off_t off)
{
	return writev_all(fd, iov, cnt, off, true);
}

int xwrite_full(int fd, const void *buf, size_t len)
{
	return xwrite2_full(fd, buf, len, NULL, 0);
}

/* returns bytes read (short only at end of file) or -errno */
ssize_t xpread_full(int fd, void *buf, size_t len, off_t off)
{
	char *p = buf;
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, p + done, len - done, off + (off_t)done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

int xpwrite_full(int fd, const void *buf, size_t len, off_t off)
{
	const char *p = buf;

	while (len) {
		ssize_t n = pwrite(fd, p, len, off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		p += n;
		off += n;
		len -= (size_t)n;
	}
	return 0;
}

int parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || !isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return -1;
	*out = v;
	return 0;
}

int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	uint64_t frac_num = 0, frac_den = 1;
	int shift = 0;

	if (!s || !isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	if (*end == '.') {
		/* "1.5G" as Sheepdog's dog accepts it; only meaningful with a unit */
		for (end++; isdigit((unsigned char)*end); end++) {
			if (frac_den > UINT64_MAX / 100)
				return -1;
			frac_num = frac_num * 10 + (uint64_t)(*end - '0');
			frac_den *= 10;
		}
		if (frac_den == 1)
			return -1;
	}
	switch (*end) {
	case 'k': case 'K': shift = 10; break;
	case 'm': case 'M': shift = 20; break;
	case 'g': case 'G': shift = 30; break;
	case 't': case 'T': shift = 40; break;
	case 'p': case 'P': shift = 50; break;
	case 'e': case 'E': shift = 60; break;
	case '\0': break;
	default: return -1;
	}
	if (*end) {
		end++;
		/* accept an optional B / iB after the unit: 10G, 10GB, 10GiB */
		if (*end == 'i')
			end++;
		if (*end == 'b' || *end == 'B')
			end++;
		if (*end)
			return -1;
	}
	if (frac_den > 1 && !shift)
		return -1;
	if (shift && v > (UINT64_MAX >> shift))
		return -1;
	*out = (uint64_t)v << shift;
	if (frac_den > 1) {
		/* frac_num / frac_den < 1, so this cannot exceed 2^shift */
		uint64_t add = (uint64_t)(((unsigned __int128)frac_num << shift) / frac_den);

		if (*out > UINT64_MAX - add)
			return -1;
		*out += add;
	}
	return 0;
}

char *size_to_str(uint64_t size, char *buf, size_t len)
{
	static const char *const units[] = { "MB", "GB", "TB", "PB", "EB", "ZB", "YB" };
	double s = (double)size / 1048576.0;
	size_t i = 0;

	while (s >= 1024 && i < ARRAY_SIZE(units) - 1) {
		s /= 1024;
		i++;
	}
	if (s >= 10)
		snprintf(buf, len, "%.0f %s", s, units[i]);
	else
		snprintf(buf, len, "%.1f %s", s, units[i]);
	return buf;
}

uint64_t now_ctime(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return ((uint64_t)tv.tv_sec << 32) | ((uint64_t)tv.tv_usec * 1000);
}

uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

int mkdir_p(const char *path, mode_t mode)
{
	char tmp[PATH_MAX];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, path, len + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY);
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/* CRC-32C (Castagnoli, reflected 0x82f63b78), eight bytes per step */
static uint32_t crc_table[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0x82f63b78 & (0u - (c & 1)));
		crc_table[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^
					  crc_table[0][crc_table[t - 1][i] & 0xff];
}

uint32_t crc32c(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	pthread_once(&crc_once, crc_init);
	crc = ~crc;
	while (len && ((uintptr_t)p & 7)) {
		crc = (crc >> 8) ^ crc_table[0][(crc ^ *p++) & 0xff];
		len--;
	}
	for (; len >= 8; len -= 8, p += 8) {
		uint64_t w;

		memcpy(&w, p, 8);
		w ^= crc;
		crc = crc_table[7][w & 0xff] ^ crc_table[6][(w >> 8) & 0xff] ^
		      crc_table[5][(w >> 16) & 0xff] ^ crc_table[4][(w >> 24) & 0xff] ^
		      crc_table[3][(w >> 32) & 0xff] ^ crc_table[2][(w >> 40) & 0xff] ^
		      crc_table[1][(w >> 48) & 0xff] ^ crc_table[0][w >> 56];
	}
	while (len--)
		crc = (crc >> 8) ^ crc_table[0][(crc ^ *p++) & 0xff];
	return ~crc;
}
