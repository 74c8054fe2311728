/*
 * cluster_accord.c - the "accord" cluster driver:
 *   -c accord:HOST[:PORT][,HOST[:PORT]...][,timeout=10s][,id=NAME]
 *
 * Accord (NTT's leaderless coordination service: every conductor orders each
 * write through corosync and applies it to its own store) is spoken here
 * directly over one TCP connection to one conductor: 32-byte headers in host
 * (little-endian) order, length-prefixed arguments (docs/ACCORD.md).  No
 * client library: the binary stays one static file.
 *
 * The total order: every evlog record (evlog.h) is the key BASE/q/<16 hex>,
 * BASE being /sheep/NAME (default /sheep/default).  One transaction appends
 * it: compare BASE/next with the count we read, move it on by one, create
 * the record's key; it fails if anyone appended meanwhile, and we try again.
 * So the log has no gaps and every member replays it key by key, from the
 * start, as the zookeeper driver replays its sequential znodes.
 * Liveness: our incarnation is the client id our conductor gave us (the
 * first JOINED it sends is ours); a member is alive while the member array
 * of the latest JOINED/LEFT notification lists it, and the survivors append
 * a LEAVE for the rest.  A kill -9'd sheep's connection closes at once; a
 * conductor that dies takes its clients with it (the others send LEFT for
 * every client of its corosync node).
 * A watch on BASE/q/ and a 1 s tick drive catching up.  Every tick also
 * counts our beat in BASE/beat/<client id>: a write is answered only after
 * corosync delivered it, so it proves our conductor still takes part in the
 * order (one whose corosync died goes on answering reads from a frozen
 * store); and a member whose count stops for the timeout is taken for dead
 * even while its conductor still lists it (a conductor sees a lost host
 * late when a reply to it is unacknowledged).  Losing the
 * conductor (end of stream, an error, no answer within the timeout) or a
 * LEFT that names us ends our membership: we start over in place at once (sheep_restart: exec), so
 * nothing more is acknowledged under the old membership, and the new image
 * joins through the first listed conductor that answers.  A beat unanswered
 * for half the timeout after the last answered one loses the link for the
 * core (sd_link_handler): no IO is served from then on, before the others
 * can take us for dead, until an answer comes or we start over.
 * Main thread only.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "cluster.h"
#include "daemon.h"
#include "event.h"
#include "evlog.h"
#include "net.h"
#include "sheep.h"
#include "util.h"

#define DEFAULT_PORT		9090	/* Accord's, and Sheepdog's accord:HOST */
#define DEFAULT_TIMEOUT_MS	10000
#define CONNECT_TIMEOUT_MS	3000	/* per conductor, at most */
#define GREET_TIMEOUT_MS	3000	/* a conductor sends our JOINED in milliseconds */
#define TICK_MS			1000
#define LEASE_SLICE_MS		200	/* how often a wait for the conductor checks our lease */
#define MAX_CONDUCTORS		16
#define MAX_MSG			(64u << 20)
#define WAIT_ENV		"SHEEP_ACCORD_WAIT"

/* ---- Accord's wire format ------------------------------------------------ */

enum { T_REQUEST = 0, T_RESPONSE = 1, T_NOTIFY = 2 };
enum { OP_WRITE = 0, OP_READ = 1, OP_DEL = 2, OP_TX = 3, OP_CMP = 4, OP_ADD_WATCH = 9 };
enum { F_CREATE = 0x2, F_EXCL = 0x8 };
enum { R_SUCCESS = 0, R_EXIST = 0x51, R_NOTFOUND = 0x52, R_NOTEQUAL = 0x53 };
#define N_CREATED	0x1
#define N_JOINED	0x100
#define N_LEFT		0x200
#define N_PREFIX	0x01000000

struct acrd_hdr {
	uint8_t ver;
	uint8_t type;
	uint16_t rsvd;
	uint32_t len;		/* argument bytes after the header */
	uint64_t offset;
	uint32_t id;		/* request sequence, echoed; a watch's id */
	union {
		struct {
			uint8_t op;
			uint8_t rsvd1;
			uint16_t flags;
			uint32_t size;
			uint32_t rsvd2;
		} req;
		struct {
			int32_t result;
			uint8_t rsvd[8];
		} rsp;
		struct {
			uint16_t events;
			uint8_t rsvd[10];
		} ntfy;
	};
} __attribute__((packed));

_Static_assert(sizeof(struct acrd_hdr) == 32, "Accord's header is 32 bytes");
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "Accord sends host order; we speak it as little-endian");

/* a message being built: header, then u32-length-prefixed arguments */
struct abuf {
	char *p;
	size_t len, cap;
};

struct amsg {
	struct acrd_hdr h;
	char *body;
};

struct conductor {
	char host[256];
	int port;
};

static struct conductor cond[MAX_CONDUCTORS];
static int nr_cond, cur = -1;	/* cur: the conductor we talk to */
static int timeout_ms;
static char base[128], next_key[160];
static int cfd = -1, tick_fd = -1;
static char *rx;
static size_t rx_len, rx_cap;
static uint32_t next_id;
static uint64_t self_inc, pos;	/* pos: the next record to apply */
static uint64_t *live;		/* the client ids of the latest member array, sorted */
static size_t nr_live;
static bool up, busy, dirty;
static uint64_t beats;		/* our beat count */
static uint64_t beat_acked;	/* when the conductor last answered a beat of ours */
/* the beat counts of the others, when we last read them and when they moved */
static struct beat_seen {
	uint64_t inc, count, read, changed;
} *seen;
static size_t nr_seen;	/* up: init has succeeded; losses start over from here */

static uint64_t now_ms(void)
{
	return now_usec() / 1000;
}

static const char *cur_name(void)
{
	static char s[300];

	if (cur < 0)
		return "(none)";
	snprintf(s, sizeof(s), strchr(cond[cur].host, ':') ? "[%s]:%d" : "%s:%d", cond[cur].host,
		 cond[cur].port);
	return s;
}

/* everything dropped at once; the new image starts over (never returns) */
static void __attribute__((noreturn)) start_over(const char *why)
{
	if (cfd >= 0)
		close(cfd);	/* the conductor sends LEFT for us */
	setenv(WAIT_ENV, "1", 1);
	sheep_restart(why);
}

/* the conductor is gone: after init we start over; before, the caller fails */
static int lost(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int lost(int err, const char *fmt, ...)
{
	char why[512];
	va_list ap;
	int n;

	n = snprintf(why, sizeof(why), "accord: conductor %s: ", cur_name());
	va_start(ap, fmt);
	vsnprintf(why + n, sizeof(why) - (size_t)n, fmt, ap);
	va_end(ap);
	if (up)
		start_over(why);
	cdrv_set_error("%s", why);
	sd_err("%s", why);
	return err;
}

static void ab_reserve(struct abuf *b, size_t more)
{
	if (b->len + more <= b->cap)
		return;
	b->cap = MAX(b->cap * 2, b->len + more + 256);
	b->p = xrealloc(b->p, b->cap);
}

static void ab_put(struct abuf *b, const void *p, size_t len)
{
	ab_reserve(b, len);
	memcpy(b->p + b->len, p, len);
	b->len += len;
}

static void put_arg(struct abuf *b, const void *p, uint32_t len)
{
	ab_put(b, &len, sizeof(len));
	ab_put(b, p, len);
}

/* keys travel with their NUL, as Accord stores them */
static void put_key(struct abuf *b, const char *key)
{
	put_arg(b, key, (uint32_t)strlen(key) + 1);
}

/* start a request at the end of b; returns where it starts, for req_end */
static size_t req_begin(struct abuf *b, uint8_t op, uint16_t flags, uint32_t size,
			uint64_t offset)
{
	struct acrd_hdr h = { .type = T_REQUEST, .offset = offset };
	size_t at = b->len;

	h.req.op = op;
	h.req.flags = flags;
	h.req.size = size;
	ab_put(b, &h, sizeof(h));
	return at;
}

static void req_end(struct abuf *b, size_t at)
{
	uint32_t len = (uint32_t)(b->len - at - sizeof(struct acrd_hdr));

	memcpy(b->p + at + offsetof(struct acrd_hdr, len), &len, sizeof(len));
}

/* argument i of a message; false if there is none */
static bool get_arg(const struct amsg *m, int i, const char **p, uint32_t *len)
{
	size_t off = 0;

	for (;;) {
		uint32_t l;

		if (off + sizeof(l) > m->h.len)
			return false;
		memcpy(&l, m->body + off, sizeof(l));
		if (l > m->h.len - off - sizeof(l))
			return false;
		if (i-- == 0) {
			*p = m->body + off + sizeof(l);
			*len = l;
			return true;
		}
		off += sizeof(l) + l;
	}
}

/*
 * The next whole message from the conductor, waiting at most wait_ms
 * (0: only what has arrived).  1: got one; 0: none yet; <0: the stream
 * ended, failed or carried something that is not Accord's.
 */
static int recv_msg(struct amsg *m, int wait_ms)
{
	uint64_t deadline = now_ms() + (uint64_t)wait_ms;

	for (;;) {
		struct pollfd pfd = { .fd = cfd, .events = POLLIN };
		struct acrd_hdr h;
		uint64_t now;
		ssize_t n;

		if (rx_len >= sizeof(h)) {
			memcpy(&h, rx, sizeof(h));
			if (h.type > T_NOTIFY || h.len > MAX_MSG)
				return -EPROTO;
			if (rx_len >= sizeof(h) + h.len) {
				m->h = h;
				m->body = xmalloc(h.len + 1);
				memcpy(m->body, rx + sizeof(h), h.len);
				m->body[h.len] = '\0';
				rx_len -= sizeof(h) + h.len;
				memmove(rx, rx + sizeof(h) + h.len, rx_len);
				return 1;
			}
		}
		if (rx_cap - rx_len < 65536) {
			rx_cap = MAX(rx_cap * 2, rx_len + 65536);
			rx = xrealloc(rx, rx_cap);
		}
		now = now_ms();
		if (poll(&pfd, 1, now >= deadline ? 0 : (int)(deadline - now)) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (!(pfd.revents & (POLLIN | POLLHUP | POLLERR)))
			return 0;
		n = read(cfd, rx + rx_len, rx_cap - rx_len);
		if (n == 0)
			return -EPIPE;
		if (n < 0 && errno != EINTR && errno != EAGAIN)
			return -errno;
		if (n > 0)
			rx_len += (size_t)n;
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* a member-array notification: who is connected to Accord now */
static int take_members(const struct amsg *m)
{
	const char *p, *arr;
	uint32_t len, alen;
	uint64_t id;

	if (!get_arg(m, 0, &p, &len) || len != sizeof(id))
		return -EPROTO;
	memcpy(&id, p, sizeof(id));
	if (!get_arg(m, 1, &arr, &alen)) {
		arr = NULL;
		alen = 0;
	}
	if (alen % sizeof(uint64_t))
		return -EPROTO;
	free(live);
	nr_live = alen / sizeof(uint64_t);
	live = xmalloc(MAX(alen, 1));
	if (alen)
		memcpy(live, arr, alen);
	qsort(live, nr_live, sizeof(*live), cmp_u64);
	dirty = true;	/* a member may be gone: reap at once, not at the next tick */
	if (!self_inc && m->h.ntfy.events == N_JOINED)
		self_inc = id;	/* the first JOINED a client sees is its own */
	else if (id == self_inc && m->h.ntfy.events == N_LEFT)
		lost(-ENOTCONN, "it says we left (our connection was taken for dead)");
	return 0;
}

static int handle_notify(const struct amsg *m)
{
	if (m->h.ntfy.events & (N_JOINED | N_LEFT))
		return take_members(m);
	dirty = true;	/* a record appeared: catch up */
	return 0;
}

static int write_all(const char *p, size_t len)
{
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;

	while (len) {
		struct pollfd pfd = { .fd = cfd, .events = POLLOUT };
		uint64_t now = now_ms();
		ssize_t n;

		if (now >= deadline)
			return -ETIMEDOUT;
		if (poll(&pfd, 1, (int)(deadline - now)) < 0 && errno != EINTR)
			return -errno;
		n = send(cfd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno != EINTR && errno != EAGAIN)
			return -errno;
		if (n > 0) {
			p += n;
			len -= (size_t)n;
		}
	}
	return 0;
}

/*
 * One request, answered: its result (R_*), the response in *rsp (free its
 * body) when rsp is given.  Notifications met meanwhile are handled.  A
 * conductor that does not answer within the timeout, or whose stream ends,
 * is lost.
 */
static int call(struct abuf *req, struct amsg *rsp)
{
	uint32_t id = next_id++;
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
	int ret;

	req_end(req, 0);
	memcpy(req->p + offsetof(struct acrd_hdr, id), &id, sizeof(id));
	ret = write_all(req->p, req->len);
	free(req->p);
	*req = (struct abuf){ 0 };
	if (ret)
		return lost(-EIO, "cannot send: %s", strerror(-ret));
	for (;;) {
		uint64_t now = now_ms();
		struct amsg m;

		/*
		 * The others take us for dead once our beat has not moved for
		 * the timeout: half of it without an answer, and no IO is served
		 * until one comes (sd_link_handler).
		 */
		if (sys->joined && beat_acked && now - beat_acked > (uint64_t)timeout_ms / 2)
			sd_link_handler(false);
		ret = recv_msg(&m, now >= deadline ? 0 : (int)MIN(deadline - now, LEASE_SLICE_MS));
		if (ret == 0 && now_ms() < deadline)
			continue;
		if (ret == 0)
			return lost(-ETIMEDOUT, "no answer within %d ms", timeout_ms);
		if (ret < 0)
			return lost(-EIO, "%s", ret == -EPIPE ? "the connection closed" :
				    ret == -EPROTO ? "sent something that is not Accord's" :
				    strerror(-ret));
		if (m.h.type == T_NOTIFY) {
			ret = handle_notify(&m);
			free(m.body);
			if (ret)
				return lost(-EIO, "sent a malformed notification");
			continue;
		}
		if (m.h.type == T_RESPONSE && m.h.id == id) {
			ret = m.h.rsp.result;
			if (rsp)
				*rsp = m;
			else
				free(m.body);
			return ret;
		}
		free(m.body);	/* not ours (every call waits for its own answer) */
	}
}

static char *beat_key_of(uint64_t inc, char *buf, size_t len)
{
	snprintf(buf, len, "%s/beat/%016" PRIx64, base, inc);
	return buf;
}

/* a TX carries each sub-request, header and all, as one argument */
static void tx_add(struct abuf *tx, struct abuf *sub, size_t at)
{
	req_end(sub, at);
	put_arg(tx, sub->p + at, (uint32_t)(sub->len - at));
}

static char *rec_key(uint64_t n, char *buf, size_t len)
{
	snprintf(buf, len, "%s/q/%016" PRIx64, base, n);
	return buf;
}

/* BASE/next: how many records the log has */
static int read_next(uint64_t *n)
{
	struct abuf b = { 0 };
	struct amsg m;
	const char *p;
	uint32_t len;
	int r;

	req_begin(&b, OP_READ, 0, sizeof(*n), 0);
	put_key(&b, next_key);
	r = call(&b, &m);
	if (r < 0)
		return r;
	if (r != R_SUCCESS) {
		sd_err("accord: cannot read %s: result %#x", next_key, r);
		return -EIO;
	}
	r = get_arg(&m, 0, &p, &len) && len == sizeof(*n) ? 0 : -EPROTO;
	if (!r)
		memcpy(n, p, sizeof(*n));
	else
		sd_err("accord: %s is not a record count", next_key);
	free(m.body);
	return r;
}

static int append(uint32_t type, const struct sd_node *node, uint64_t inc, const void *buf,
		  uint32_t len, uint32_t batch)
{
	struct ev_hdr h = { .magic = EV_MAGIC, .type = type, .inc = inc, .len = len,
			    .batch = batch };

	h.node = *node;
	memset(h.node.__rb, 0, sizeof(h.node.__rb));
	for (;;) {
		struct abuf b = { 0 }, sub = { 0 };
		char key[200];
		uint64_t n, n1;
		uint32_t rlen;
		size_t at;
		int r = read_next(&n);

		if (r)
			return r;
		n1 = n + 1;
		/* all or nothing: next is still n; next = n + 1; create record n */
		req_begin(&b, OP_TX, 0, 0, 0);
		at = req_begin(&sub, OP_CMP, 0, 0, 0);
		put_key(&sub, next_key);
		put_arg(&sub, &n, sizeof(n));
		tx_add(&b, &sub, at);
		at = req_begin(&sub, OP_WRITE, 0, sizeof(n1), 0);
		put_key(&sub, next_key);
		put_arg(&sub, &n1, sizeof(n1));
		tx_add(&b, &sub, at);
		at = req_begin(&sub, OP_WRITE, F_CREATE | F_EXCL, (uint32_t)sizeof(h) + len, 0);
		put_key(&sub, rec_key(n, key, sizeof(key)));
		rlen = (uint32_t)sizeof(h) + len;
		ab_put(&sub, &rlen, sizeof(rlen));
		ab_put(&sub, &h, sizeof(h));
		if (len)
			ab_put(&sub, buf, len);
		tx_add(&b, &sub, at);
		free(sub.p);
		r = call(&b, NULL);
		if (r == R_SUCCESS)
			return 0;
		if (r < 0)
			return r;
		if (r != R_NOTEQUAL && r != R_EXIST) {
			sd_err("accord: cannot append to %s: result %#x", base, r);
			return -EIO;
		}
		/* someone appended first: read the count again */
	}
}

/* the beat count of client inc, read through our conductor; 0: none yet */
static uint64_t read_beat(uint64_t inc)
{
	struct abuf b = { 0 };
	struct amsg m;
	const char *p;
	uint64_t n = 0;
	char key[200];
	uint32_t len;
	int r;

	req_begin(&b, OP_READ, 0, sizeof(n), 0);
	put_key(&b, beat_key_of(inc, key, sizeof(key)));
	r = call(&b, &m);
	if (r < 0)
		return 0;
	if (r == R_SUCCESS && get_arg(&m, 0, &p, &len) && len == sizeof(n))
		memcpy(&n, p, sizeof(n));
	if (r >= 0)
		free(m.body);
	return n;
}

static void drop_beat(uint64_t inc)
{
	struct abuf b = { 0 };
	char key[200];

	req_begin(&b, OP_DEL, 0, 0, 0);
	put_key(&b, beat_key_of(inc, key, sizeof(key)));
	call(&b, NULL);	/* NOTFOUND: another member dropped it first */
}

/*
 * Alive: Accord still lists it, and its beat count moved within the
 * timeout.  Accord alone is not enough: a conductor notices a lost host
 * through TCP keepalive only while nothing it sent is unacknowledged, else
 * only when retransmission gives up (tcp_retries2: minutes).  Each member's
 * count is read at most once a tick.
 */
static bool alive(const struct evlog_member *m)
{
	uint64_t now = now_ms(), n;
	struct beat_seen *b = NULL;

	for (size_t i = 0; i < nr_seen; i++)
		if (seen[i].inc == m->inc)
			b = &seen[i];
	if (!bsearch(&m->inc, live, nr_live, sizeof(*live), cmp_u64)) {
		if (b)
			*b = seen[--nr_seen];	/* gone from Accord: forget its beats */
		return false;
	}
	if (m->inc == self_inc)
		return true;
	if (!b) {
		seen = xrealloc(seen, (nr_seen + 1) * sizeof(*seen));
		b = &seen[nr_seen++];
		*b = (struct beat_seen){ .inc = m->inc, .changed = now };
	}
	if (now - b->read >= TICK_MS) {
		b->read = now;
		n = read_beat(m->inc);
		if (n != b->count) {
			b->count = n;
			b->changed = now;
		}
	}
	if (now - b->changed <= (uint64_t)timeout_ms)
		return true;
	sd_notice("accord: client %016" PRIx64 " has not beaten for %" PRIu64 " ms: taken for dead",
		  m->inc, now - b->changed);
	drop_beat(m->inc);
	*b = seen[--nr_seen];
	return false;
}

static const struct evlog_ops accord_ops = {
	.append = append,
	.alive = alive,
};

/* apply the records we have not applied yet, in order; how many, or <0 */
static int apply_new(void)
{
	int applied = 0;

	for (;;) {
		struct abuf b = { 0 };
		struct ev_hdr h;
		struct amsg m;
		const char *p;
		char key[200];
		uint32_t len;
		int r;

		req_begin(&b, OP_READ, 0, (uint32_t)(sizeof(h) + EV_MAX_PAYLOAD), 0);
		put_key(&b, rec_key(pos, key, sizeof(key)));
		r = call(&b, &m);
		if (r < 0)
			return r;
		if (r == R_NOTFOUND)
			return applied;
		if (r != R_SUCCESS) {
			sd_err("accord: cannot read %s: result %#x", key, r);
			return -EIO;
		}
		pos++;
		applied++;
		if (!get_arg(&m, 0, &p, &len) || len < sizeof(h) ||
		    (memcpy(&h, p, sizeof(h)), h.magic != EV_MAGIC) || h.len != len - sizeof(h)) {
			sd_err("accord: %s is not a sheep event, skipped", key);
			free(m.body);
			continue;
		}
		evlog_apply(&h, p + sizeof(h), pos - 1);
		free(m.body);
	}
}

/* apply everything there is; the acceptor may append, then read that too */
static int catch_up(void)
{
	for (int rounds = 0; rounds < 1000; rounds++) {
		int n = apply_new();

		if (n < 0)
			return n;
		if (n == 0 && rounds > 0)
			return 0;
		evlog_caught_up();
	}
	return 0;
}

static void process(void)
{
	if (busy) {
		dirty = true;	/* the running pass goes round again */
		return;
	}
	busy = true;
	do {
		dirty = false;
		if (catch_up())
			break;
		evlog_reap();
		catch_up();
		evlog_kick_block();
	} while (dirty);
	busy = false;
}

static void conductor_handler(int fd, uint32_t events, void *data)
{
	struct amsg m;
	int ret;

	(void)fd;
	(void)events;
	(void)data;
	while ((ret = recv_msg(&m, 0)) > 0) {
		if (m.h.type == T_NOTIFY && handle_notify(&m)) {
			free(m.body);
			lost(-EIO, "sent a malformed notification");
		}
		free(m.body);
	}
	if (ret < 0)
		lost(-EIO, "%s", ret == -EPIPE ? "the connection closed" :
		     ret == -EPROTO ? "sent something that is not Accord's" : strerror(-ret));
	if (dirty && !busy)
		process();
}

/*
 * A write through the conductor's total order, answered only once corosync
 * has delivered it: proof that our conductor still takes part in the order.
 * (A conductor whose corosync died keeps answering reads from its own,
 * frozen store, and drops writes without a word.)
 */
static void beat(void)
{
	struct abuf b = { 0 };
	char key[200];
	int r;

	beats++;
	req_begin(&b, OP_WRITE, F_CREATE, sizeof(beats), 0);
	put_key(&b, beat_key_of(self_inc, key, sizeof(key)));
	put_arg(&b, &beats, sizeof(beats));
	r = call(&b, NULL);
	if (r > 0)
		lost(-EIO, "cannot write %s: result %#x", key, r);
	if (!r) {
		beat_acked = now_ms();
		if (sys->joined)
			sd_link_handler(true);
	}
}

static void tick(int fd, uint32_t events, void *data)
{
	uint64_t n;

	(void)events;
	(void)data;
	(void)!read(fd, &n, sizeof(n));
	beat();
	process();
}

/* HOST, HOST:PORT, [V6], [V6]:PORT; a bare IPv6 address takes the default port */
static int parse_host(const char *s, struct conductor *c)
{
	const char *colon = strrchr(s, ':'), *host = s;
	size_t hlen = strlen(s);
	char *end;
	long port = DEFAULT_PORT;

	if (s[0] == '[') {
		const char *rb = strchr(s, ']');

		if (!rb || (rb[1] && rb[1] != ':'))
			return -EINVAL;
		host = s + 1;
		hlen = (size_t)(rb - host);
		colon = rb[1] ? rb + 1 : NULL;
	} else if (colon && strchr(s, ':') != colon) {
		colon = NULL;	/* more than one ':': an IPv6 address alone */
	} else if (colon) {
		hlen = (size_t)(colon - s);
	}
	if (colon) {
		errno = 0;
		port = strtol(colon + 1, &end, 10);
		if (end == colon + 1 || *end || errno || port < 1 || port > 65535)
			return -EINVAL;
	}
	if (!hlen || hlen >= sizeof(c->host))
		return -EINVAL;
	memcpy(c->host, host, hlen);
	c->host[hlen] = '\0';
	c->port = (int)port;
	return 0;
}

static int parse_option(const char *option, char *id, size_t idlen)
{
	char s[1024], *tok, *save = NULL;

	if (!option || strlen(option) >= sizeof(s)) {
		cdrv_set_error("accord: give the conductors: -c accord:HOST[:PORT][,HOST[:PORT]...]"
			       "[,timeout=10s][,id=NAME]");
		return -EINVAL;
	}
	snprintf(s, sizeof(s), "%s", option);
	timeout_ms = DEFAULT_TIMEOUT_MS;
	snprintf(id, idlen, "default");
	for (tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strncmp(tok, "timeout=", 8)) {
			if (cdrv_parse_timeout(tok + 8, &timeout_ms))
				goto bad_timeout;
		} else if (!strncmp(tok, "id=", 3)) {
			if (cdrv_parse_id(tok + 3, id, idlen)) {
				cdrv_set_error("accord: bad id '%s' (a name without '/')", tok + 3);
				return -EINVAL;
			}
		} else if (strchr(tok, '=')) {
			cdrv_set_error("accord: unknown option '%s' (timeout=, id=)", tok);
			return -EINVAL;
		} else {
			if (nr_cond == MAX_CONDUCTORS) {
				cdrv_set_error("accord: more than %d conductors", MAX_CONDUCTORS);
				return -EINVAL;
			}
			if (parse_host(tok, &cond[nr_cond])) {
				cdrv_set_error("accord: bad conductor '%s' (want HOST or HOST:PORT, "
					       "PORT 1-65535)", tok);
				return -EINVAL;
			}
			nr_cond++;
		}
	}
	if (!nr_cond) {
		cdrv_set_error("accord: no conductor given (-c accord:HOST[:PORT][,HOST[:PORT]...])");
		return -EINVAL;
	}
	return 0;
bad_timeout:
	cdrv_set_error("accord: bad timeout '%s' (1s to 600s, e.g. timeout=10s)", tok + 8);
	return -EINVAL;
}

/*
 * Connect to conductor i and take its greeting: our own JOINED, with our
 * client id and the member array.  0, or why not in why.
 */
static int try_conductor(int i, char *why, size_t len)
{
	uint64_t t0 = now_ms();
	struct amsg m;
	int ret, fd;

	cur = i;
	fd = connect_tcp(cond[i].host, cond[i].port, MIN(timeout_ms, CONNECT_TIMEOUT_MS));
	if (fd < 0) {
		snprintf(why, len, "%s (%s)", cur_name(),
			 fd == -ETIMEDOUT ? "no answer" : strerror(-fd));
		return fd;
	}
	/*
	 * Our end closes with a reset, not a FIN: the conductor notices a
	 * closed client only on an event on its socket, and a FIN'd one gives
	 * none until our kernel drops the orphan (tcp_fin_timeout, 60 s) and
	 * answers a keepalive probe with a reset.  So a kill -9 is seen at once.
	 */
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &(struct linger){ .l_onoff = 1, .l_linger = 0 },
		   sizeof(struct linger));
	cfd = fd;
	rx_len = 0;
	self_inc = 0;
	ret = recv_msg(&m, MIN(timeout_ms, GREET_TIMEOUT_MS));
	if (ret > 0 && (m.h.type != T_NOTIFY || m.h.ntfy.events != N_JOINED ||
			take_members(&m) || !self_inc)) {
		ret = -EPROTO;
		free(m.body);
	} else if (ret > 0) {
		free(m.body);
	}
	if (ret <= 0) {
		snprintf(why, len, "%s (%s)", cur_name(),
			 ret == 0 ? "accepted the connection but sent no Accord greeting: "
				    "not an Accord conductor?" :
			 ret == -EPIPE ? "closed the connection at once: not an Accord conductor?" :
			 ret == -EPROTO ? "sent something that is not Accord's: not an Accord "
					  "conductor" : strerror(-ret));
		close(cfd);
		cfd = -1;
		return ret ? ret : -EPROTO;
	}
	sd_info("accord: connected to %s in %" PRIu64 " ms, client id %016" PRIx64
		", %zu clients", cur_name(), now_ms() - t0, self_inc, nr_live);
	return 0;
}

/* a TERM while we wait for a conductor ends us (its signalfd is not read yet) */
static void exit_if_told(void)
{
	sigset_t p;

	if (sigpending(&p) == 0 && (sigismember(&p, SIGTERM) || sigismember(&p, SIGINT))) {
		sd_notice("accord: told to exit while waiting for a conductor");
		daemon_remove_pidfile();
		_exit(0);
	}
}

/* the first listed conductor that answers; starting over, wait for one */
static int connect_any(bool wait)
{
	char why[MAX_CONDUCTORS * 200], one[200];
	uint64_t t0 = now_ms(), told = 0;

	for (;;) {
		size_t n = 0;

		why[0] = '\0';
		for (int i = 0; i < nr_cond; i++) {
			if (try_conductor(i, one, sizeof(one)) == 0)
				return 0;
			n += (size_t)snprintf(why + n, sizeof(why) - MIN(n, sizeof(why)), "%s%s",
					      i ? "; " : "", one);
			n = MIN(n, sizeof(why) - 1);
		}
		cur = -1;
		if (!wait) {
			cdrv_set_error("accord: no conductor answered: %s", why);
			return -ECONNREFUSED;
		}
		if (!told || now_ms() - told >= 30000) {
			sd_notice("accord: waiting for a conductor (%" PRIu64 " s so far): %s",
				  (now_ms() - t0) / 1000, why);
			told = now_ms();
		}
		for (int i = 0; i < 10; i++) {
			exit_if_told();
			usleep(100000);
		}
	}
}

static int accord_init(const char *option)
{
	struct itimerspec its = { .it_interval = { TICK_MS / 1000, TICK_MS % 1000 * 1000000L },
				  .it_value = { TICK_MS / 1000, TICK_MS % 1000 * 1000000L } };
	struct abuf b = { 0 };
	uint64_t zero = 0;
	char id[64];
	bool wait;
	int r;

	r = parse_option(option, id, sizeof(id));
	if (r) {
		sd_err("%s", cdrv_error());
		return r;
	}
	snprintf(base, sizeof(base), "/sheep/%s", id);
	snprintf(next_key, sizeof(next_key), "%s/next", base);
	wait = getenv(WAIT_ENV) != NULL;
	unsetenv(WAIT_ENV);
	r = connect_any(wait);
	if (r) {
		sd_err("%s", cdrv_error());
		return r;
	}
	/* the log's record count, made once for the cluster */
	req_begin(&b, OP_WRITE, F_CREATE | F_EXCL, sizeof(zero), 0);
	put_key(&b, next_key);
	put_arg(&b, &zero, sizeof(zero));
	r = call(&b, NULL);
	if (r < 0)
		return r;
	if (r != R_SUCCESS && r != R_EXIST)
		return lost(-EIO, "cannot create %s: result %#x", next_key, r);
	/* new records wake us */
	req_begin(&b, OP_ADD_WATCH, 0, 0, 0);
	{
		char prefix[200];
		uint32_t mask = N_CREATED | N_PREFIX;

		snprintf(prefix, sizeof(prefix), "%s/q/", base);
		put_key(&b, prefix);
		put_arg(&b, &mask, sizeof(mask));
	}
	r = call(&b, NULL);
	if (r < 0)
		return r;
	if (r != R_SUCCESS)
		return lost(-EIO, "cannot watch %s/q/: result %#x", base, r);
	tick_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (tick_fd < 0 || timerfd_settime(tick_fd, 0, &its, NULL) < 0)
		return -errno;
	evlog_init(&accord_ops, self_inc);
	r = register_event(cfd, conductor_handler, NULL);
	if (!r)
		r = register_event(tick_fd, tick, NULL);
	if (r)
		return r;
	up = true;
	beat();	/* the members count our beats from our JOIN on */
	sd_info("accord: base %s, timeout %d ms", base, timeout_ms);
	return 0;
}

static int accord_join(const struct sd_node *myself, void *opaque, size_t len)
{
	uint64_t t0 = now_ms(), limit = 2 * (uint64_t)timeout_ms + 2000;
	bool told = false;
	int ret;

	/*
	 * A quick restart: our previous incarnation is still listed until its
	 * conductor sees its connection gone (at once for a closed one, after
	 * the conductor's keepalive for a lost one).
	 */
	for (;;) {
		busy = true;
		catch_up();
		evlog_reap();
		catch_up();
		busy = false;
		if (!evlog_addr_taken(myself))
			break;
		if (now_ms() - t0 > limit) {
			cdrv_set_error("a live sheep already uses this address and port");
			sheep_startup_failed(cdrv_error());
			return -EADDRINUSE;
		}
		if (!told)
			sd_notice("accord: an earlier sheep at this address is still connected; "
				  "waiting up to %" PRIu64 " ms for it to go", limit);
		told = true;
		usleep(200000);
	}
	ret = evlog_join(myself, opaque, len);
	if (!ret)
		process();
	return ret;
}

static struct cluster_driver cdrv_accord = {
	.name = "accord",
	.init = accord_init,
	.join = accord_join,
	.leave = evlog_leave,
	.notify = evlog_notify,
	.block = evlog_block,
	.unblock = evlog_unblock,
	.update_node = evlog_update_node,
	.get_local_addr = net_first_addr,
};

cdrv_register_driver(cdrv_accord)
