/*
 * util.h - small helpers every file may use: logging, allocation that never
 * returns NULL, exact reads and writes, size parsing and printing, lists.
 * Nothing here knows about clusters, objects or VDIs.
 */
#ifndef SHEEP_UTIL_H
#define SHEEP_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define MIN(a, b)	((a) < (b) ? (a) : (b))
#define MAX(a, b)	((a) > (b) ? (a) : (b))
#define DIV_ROUND_UP(n, d) (((n) + (d) - 1) / (d))
#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

/* log levels, syslog numbering */
enum {
	SDLOG_EMERG = 0, SDLOG_ALERT, SDLOG_CRIT, SDLOG_ERR, SDLOG_WARNING,
	SDLOG_NOTICE, SDLOG_INFO, SDLOG_DEBUG,
};

extern int sd_log_level;
void log_init(const char *prog, int fd, int level);
int log_get_fd(void);
int log_parse_level(const char *s);
void sd_log(int level, const char *func, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void sd_panic(const char *func, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), noreturn));

#define sd_err(fmt, ...)   sd_log(SDLOG_ERR, __func__, __LINE__, fmt, ##__VA_ARGS__)
#define sd_warn(fmt, ...)  sd_log(SDLOG_WARNING, __func__, __LINE__, fmt, ##__VA_ARGS__)
#define sd_notice(fmt, ...) sd_log(SDLOG_NOTICE, __func__, __LINE__, fmt, ##__VA_ARGS__)
#define sd_info(fmt, ...)  sd_log(SDLOG_INFO, __func__, __LINE__, fmt, ##__VA_ARGS__)
#define sd_debug(fmt, ...) do { if (sd_log_level >= SDLOG_DEBUG) \
	sd_log(SDLOG_DEBUG, __func__, __LINE__, fmt, ##__VA_ARGS__); } while (0)
#define panic(fmt, ...)    sd_panic(__func__, __LINE__, fmt, ##__VA_ARGS__)

void *xmalloc(size_t size);
void *xzalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t size);
char *xstrdup(const char *s);

/* exact IO on blocking fds; return 0 or -errno (-ECONNRESET on early EOF) */
int xread_full(int fd, void *buf, size_t len);
int xwrite_full(int fd, const void *buf, size_t len);
/* a then b in one writev where the socket takes it (one segment, one wakeup) */
int xwrite2_full(int fd, const void *a, size_t alen, const void *b, size_t blen);
ssize_t xpread_full(int fd, void *buf, size_t len, off_t off);
int xpwrite_full(int fd, const void *buf, size_t len, off_t off);
struct iovec;
/* all of cnt iovecs at off; iov is consumed (advanced past what was written) */
int xpwritev_full(int fd, struct iovec *iov, int cnt, off_t off);

/* "10G" -> bytes; 1024-based suffixes k/m/g/t/p/e, either case; -1 on error */
int parse_size(const char *s, uint64_t *out);
/* bytes -> "4.0 GB" style, as dog prints them */
char *size_to_str(uint64_t size, char *buf, size_t len);
int parse_uint(const char *s, uint64_t max, uint64_t *out);

uint64_t now_ctime(void);	/* sec << 32 | usec * 1000, the inode/cluster format */
uint64_t now_usec(void);
int mkdir_p(const char *path, mode_t mode);
/* CRC-32C of buf, continuing from crc (0 to start); crc32c(0, "123456789", 9) = 0xe3069283 */
uint32_t crc32c(uint32_t crc, const void *buf, size_t len);
int fsync_dir(const char *path);

/* intrusive doubly linked list */
struct list_node {
	struct list_node *next, *prev;
};

static inline void list_init(struct list_node *h)
{
	h->next = h->prev = h;
}

static inline bool list_empty(const struct list_node *h)
{
	return h->next == h;
}

static inline void list_add_tail(struct list_node *n, struct list_node *h)
{
	n->prev = h->prev;
	n->next = h;
	h->prev->next = n;
	h->prev = n;
}

static inline void list_del(struct list_node *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->next = n->prev = n;
}

#define list_entry(ptr, type, member) container_of(ptr, type, member)
#define list_first_entry(h, type, member) list_entry((h)->next, type, member)

#endif
