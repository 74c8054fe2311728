/*
 * nbd.c - VDIs exported over NBD (fixed newstyle), `--nbd [ADDR:]PORT`.
 *
 * Writes are write-back, as a disk with a volatile cache: a plain write is
 * acknowledged once every replica applied it (gateway_write_obj_lazy, not
 * synced), FLUSH answers once every write acknowledged before it, on any
 * connection, is durable on every node (gateway_flush), a FUA write is
 * durable before its reply.  The VDI IO itself (index, copy-on-write,
 * snapshots taken while attached) is vdi_io.c's.
 *
 * It owns its listener and its connections.  Each connection is served by
 * a thread of its own (its handshake blocks on the client); nothing here
 * runs on the main loop but the accept.  Export names are VDI names,
 * NAME@TAG or NAME:SNAPID for a snapshot (read-only).  All NBD integers
 * are big-endian on the wire (Sheepdog's are little-endian).
 */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nbd.h"
#include "net.h"
#include "sheep.h"
#include "event.h"
#include "gateway.h"
#include "work.h"
#include "vdi.h"
#include "vdi_io.h"

#define NBDMAGIC		0x4e42444d41474943ULL
#define IHAVEOPT		0x49484156454f5054ULL
#define REPLY_MAGIC		0x0003e889045565a9ULL

#define FLAG_FIXED_NEWSTYLE	(1 << 0)
#define FLAG_NO_ZEROES		(1 << 1)

enum {
	OPT_EXPORT_NAME = 1, OPT_ABORT = 2, OPT_LIST = 3, OPT_PEEK_EXPORT = 4,
	OPT_STARTTLS = 5, OPT_INFO = 6, OPT_GO = 7, OPT_STRUCTURED_REPLY = 8,
	OPT_LIST_META_CONTEXT = 9, OPT_SET_META_CONTEXT = 10, OPT_EXTENDED_HEADERS = 11,
};

enum { REP_ACK = 1, REP_SERVER = 2, REP_INFO = 3, REP_META_CONTEXT = 4 };
#define REP_ERR_UNSUP		0x80000001u
#define REP_ERR_POLICY		0x80000002u
#define REP_ERR_INVALID		0x80000003u
#define REP_ERR_UNKNOWN		0x80000006u
#define REP_ERR_TOO_BIG		0x80000009u

enum { INFO_EXPORT = 0, INFO_NAME = 1, INFO_DESCRIPTION = 2, INFO_BLOCK_SIZE = 3 };

/* transmission flags */
#define TF_HAS_FLAGS		(1 << 0)
#define TF_READ_ONLY		(1 << 1)
#define TF_SEND_FLUSH		(1 << 2)
#define TF_SEND_FUA		(1 << 3)
#define TF_SEND_TRIM		(1 << 5)
#define TF_SEND_WRITE_ZEROES	(1 << 6)
#define TF_SEND_DF		(1 << 7)
#define TF_CAN_MULTI_CONN	(1 << 8)
#define TF_SEND_CACHE		(1 << 10)
#define TF_SEND_FAST_ZERO	(1 << 11)

#define MAX_OPTION_LEN		65536	/* longer option data is drained and refused */
#define BLOCK_MIN		1
#define BLOCK_PREFERRED		4096
#define BLOCK_MAX		(32u << 20)
#define HANDSHAKE_TIMEOUT_MS	10000

#define REQUEST_MAGIC		0x25609513u
#define SIMPLE_REPLY_MAGIC	0x67446698u
#define CHUNK_MAGIC		0x668e33efu
#define CHUNK_DONE		1
#define CHUNK_NONE		0
#define CHUNK_OFFSET_DATA	1
#define CHUNK_ERROR		0x8001

enum { CMD_READ = 0, CMD_WRITE = 1, CMD_DISC = 2, CMD_FLUSH = 3, CMD_TRIM = 4, CMD_CACHE = 5,
       CMD_WRITE_ZEROES = 6, CMD_BLOCK_STATUS = 7 };
#define CMD_FLAG_FUA		(1 << 0)
#define CMD_FLAG_DF		(1 << 2)
#define CMD_FLAG_NO_HOLE	(1 << 1)
#define CMD_FLAG_REQ_ONE	(1 << 3)
#define CMD_FLAG_FAST_ZERO	(1 << 4)
#define NBD_ENOTSUP		95
#define CHUNK_BLOCK_STATUS	5
#define STATE_HOLE		(1 << 0)
#define STATE_ZERO		(1 << 1)
#define ALLOC_CTX_ID		1
#define ALLOC_CTX		"base:allocation"

/* errno values on the wire */
#define NBD_EPERM		1
#define NBD_EIO			5
#define NBD_EINVAL		22
#define NBD_ENOSPC		28

struct nbd_conn {
	int fd;
	bool no_zeroes;		/* the client asked for no 124 zero bytes after EXPORT_NAME */
	bool structured;	/* structured replies negotiated */
	bool done;		/* ABORT, or the transmission phase began */
	bool alloc_ctx;		/* base:allocation selected (SET_META_CONTEXT) */
	char ctx_export[SD_MAX_VDI_LEN + SD_MAX_VDI_TAG_LEN + 16];	/* ... for this export */
	struct nbd_export exp;	/* the export GO or EXPORT_NAME chose */
	uint32_t obj_size;	/* the export's object size */
	struct vdi_io *vio;	/* the export's VDI, open in the transmission phase */
	/* transmission: requests run on workers, replies leave whole under send_lock */
	pthread_mutex_t lock;
	pthread_cond_t idle;
	int inflight;		/* under lock */
	pthread_mutex_t send_lock;
};

/* one request in flight */
struct nbd_req {
	struct work w;
	struct nbd_conn *c;
	uint16_t type, flags;
	uint64_t handle, off;
	uint32_t len, err;
	char *buf;
};

#define MAX_INFLIGHT		64	/* per connection; the reader waits beyond */

static int send_all(int fd, const void *buf, size_t len)
{
	return xwrite_full(fd, buf, len);
}

static void put_be16(uint8_t *p, uint16_t v)
{
	v = htobe16(v);
	memcpy(p, &v, 2);
}

static void put_be32(uint8_t *p, uint32_t v)
{
	v = htobe32(v);
	memcpy(p, &v, 4);
}

static void put_be64(uint8_t *p, uint64_t v)
{
	v = htobe64(v);
	memcpy(p, &v, 8);
}

static uint16_t get_be16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return be16toh(v);
}

static uint32_t get_be32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return be32toh(v);
}

static uint64_t get_be64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return be64toh(v);
}

/* one option reply: header and data */
static int opt_reply(struct nbd_conn *c, uint32_t opt, uint32_t type, const void *data,
		     uint32_t len)
{
	uint8_t h[20];

	put_be64(h, REPLY_MAGIC);
	put_be32(h + 8, opt);
	put_be32(h + 12, type);
	put_be32(h + 16, len);
	return xwrite2_full(c->fd, h, sizeof(h), data, len);
}

static int opt_error(struct nbd_conn *c, uint32_t opt, uint32_t type, const char *msg)
{
	sd_info("nbd: option %u refused (%#x): %s", opt, type, msg);
	return opt_reply(c, opt, type, msg, (uint32_t)strlen(msg));
}

static uint16_t export_flags(const struct nbd_conn *c)
{
	uint16_t f = TF_HAS_FLAGS | TF_SEND_FLUSH | TF_CAN_MULTI_CONN | TF_SEND_CACHE;

	if (c->structured)
		f |= TF_SEND_DF;
	if (c->exp.readonly)
		return f | TF_READ_ONLY;
	return f | TF_SEND_FUA | TF_SEND_TRIM | TF_SEND_WRITE_ZEROES | TF_SEND_FAST_ZERO;
}

static int info_reply(struct nbd_conn *c, uint32_t opt, uint16_t type)
{
	uint8_t b[2 + SD_MAX_VDI_LEN + SD_MAX_VDI_TAG_LEN + 16];
	uint32_t len;

	put_be16(b, type);
	switch (type) {
	case INFO_EXPORT:
		put_be64(b + 2, c->exp.size);
		put_be16(b + 10, export_flags(c));
		len = 12;
		break;
	case INFO_NAME:
		len = 2 + (uint32_t)strlen(c->exp.name);
		memcpy(b + 2, c->exp.name, len - 2);
		break;
	case INFO_BLOCK_SIZE:
		put_be32(b + 2, BLOCK_MIN);
		put_be32(b + 6, BLOCK_PREFERRED);
		put_be32(b + 10, BLOCK_MAX);
		len = 14;
		break;
	default:
		return 0;	/* unknown requests are ignored */
	}
	return opt_reply(c, opt, REP_INFO, b, len);
}

/* INFO and GO: name length u32, name, count u16, count info types */
static int opt_info_go(struct nbd_conn *c, uint32_t opt, const uint8_t *d, uint32_t len)
{
	char name[SD_MAX_VDI_LEN + SD_MAX_VDI_TAG_LEN + 16];
	uint32_t nlen;
	uint16_t n;
	bool asked_name = false;
	int ret;

	if (len < 6 || (nlen = get_be32(d)) > len - 6 ||
	    (n = get_be16(d + 4 + nlen), len != 6 + nlen + 2u * n))
		return opt_error(c, opt, REP_ERR_INVALID, "inconsistent lengths in the option");
	if (nlen >= sizeof(name))
		return opt_error(c, opt, REP_ERR_INVALID, "export name too long");
	memcpy(name, d + 4, nlen);
	name[nlen] = '\0';
	ret = nbd_export_find(name, &c->exp);
	if (ret == -ENOENT)
		return opt_error(c, opt, REP_ERR_UNKNOWN, "no such VDI");
	if (ret)
		return opt_error(c, opt, REP_ERR_INVALID, "bad export name");
	for (uint16_t i = 0; i < n; i++)
		asked_name |= get_be16(d + 6 + nlen + 2u * i) == INFO_NAME;
	ret = info_reply(c, opt, INFO_EXPORT) ?: info_reply(c, opt, INFO_BLOCK_SIZE);
	if (!ret && asked_name)
		ret = info_reply(c, opt, INFO_NAME);
	if (!ret)
		ret = opt_reply(c, opt, REP_ACK, NULL, 0);
	if (!ret && opt == OPT_GO) {
		c->done = true;
		if (strcmp(c->ctx_export, name))
			c->alloc_ctx = false;	/* selected for another export */
	}
	return ret;
}

/* EXPORT_NAME: no error reply exists, a missing export closes the connection */
static int opt_export_name(struct nbd_conn *c, uint32_t opt, const uint8_t *d, uint32_t len)
{
	char name[SD_MAX_VDI_LEN + SD_MAX_VDI_TAG_LEN + 16];
	uint8_t b[10 + 124] = { 0 };

	(void)opt;
	if (len >= sizeof(name))
		return -EINVAL;
	memcpy(name, d, len);
	name[len] = '\0';
	if (nbd_export_find(name, &c->exp)) {
		sd_info("nbd: EXPORT_NAME '%s': no such VDI; closing", name);
		return -ENOENT;
	}
	put_be64(b, c->exp.size);
	put_be16(b + 8, export_flags(c));
	c->done = true;
	return send_all(c->fd, b, c->no_zeroes ? 10 : sizeof(b));
}

static int opt_abort(struct nbd_conn *c, uint32_t opt, const uint8_t *d, uint32_t len)
{
	(void)d;
	(void)len;
	c->done = true;
	opt_reply(c, opt, REP_ACK, NULL, 0);	/* the client may be gone already */
	return -ECONNABORTED;
}

static int list_one(const char *name, void *arg)
{
	struct nbd_conn *c = arg;
	uint32_t n = (uint32_t)strlen(name);
	uint8_t b[4 + SD_MAX_VDI_LEN];

	put_be32(b, n);
	memcpy(b + 4, name, n);
	return opt_reply(c, OPT_LIST, REP_SERVER, b, 4 + n);
}

static int opt_list(struct nbd_conn *c, uint32_t opt, const uint8_t *d, uint32_t len)
{
	int ret;

	(void)d;
	if (len)
		return opt_error(c, opt, REP_ERR_INVALID, "LIST takes no data");
	ret = nbd_export_list(list_one, c);
	return ret ? ret : opt_reply(c, opt, REP_ACK, NULL, 0);
}

static int opt_starttls(struct nbd_conn *c, uint32_t opt, const uint8_t *d, uint32_t len)
{
	(void)d;
	(void)len;
	return opt_error(c, opt, REP_ERR_POLICY, "TLS is not offered");
}

static int opt_structured(struct nbd_conn *c, uint32_t opt, const uint8_t *d, uint32_t len)
{
	(void)d;
	if (len)
		return opt_error(c, opt, REP_ERR_INVALID, "STRUCTURED_REPLY takes no data");
	c->structured = true;
	return opt_reply(c, opt, REP_ACK, NULL, 0);
}

/*
 * LIST_META_CONTEXT and SET_META_CONTEXT: export name, then queries.  The
 * one context we have is base:allocation (never-written objects are holes).
 */
static int opt_meta(struct nbd_conn *c, uint32_t opt, const uint8_t *d, uint32_t len)
{
	uint32_t nlen, nq, pos;
	bool want = false;
	uint8_t b[4 + sizeof(ALLOC_CTX)];
	int ret;

	if (opt == OPT_SET_META_CONTEXT && !c->structured)
		return opt_error(c, opt, REP_ERR_INVALID, "structured replies first");
	if (len < 8 || (nlen = get_be32(d)) > len - 8 || nlen >= sizeof(c->ctx_export))
		return opt_error(c, opt, REP_ERR_INVALID, "inconsistent lengths in the option");
	nq = get_be32(d + 4 + nlen);
	pos = 8 + nlen;
	for (uint32_t i = 0; i < nq; i++) {
		uint32_t qlen;

		if (len - pos < 4 || (qlen = get_be32(d + pos)) > len - pos - 4)
			return opt_error(c, opt, REP_ERR_INVALID, "inconsistent lengths in the option");
		if ((qlen == sizeof(ALLOC_CTX) - 1 && !memcmp(d + pos + 4, ALLOC_CTX, qlen)) ||
		    (opt == OPT_LIST_META_CONTEXT && qlen == 5 && !memcmp(d + pos + 4, "base:", 5)))
			want = true;
		pos += 4 + qlen;
	}
	if (pos != len)
		return opt_error(c, opt, REP_ERR_INVALID, "inconsistent lengths in the option");
	if (opt == OPT_LIST_META_CONTEXT && !nq)
		want = true;
	if (opt == OPT_SET_META_CONTEXT) {
		c->alloc_ctx = want;	/* replaces what was selected before */
		memcpy(c->ctx_export, d + 4, nlen);
		c->ctx_export[nlen] = '\0';
	}
	ret = 0;
	if (want) {
		put_be32(b, ALLOC_CTX_ID);
		memcpy(b + 4, ALLOC_CTX, sizeof(ALLOC_CTX) - 1);
		ret = opt_reply(c, opt, REP_META_CONTEXT, b, 4 + sizeof(ALLOC_CTX) - 1);
	}
	return ret ? ret : opt_reply(c, opt, REP_ACK, NULL, 0);
}

/* one table: option -> handler; anything else is answered ERR_UNSUP */
static const struct {
	uint32_t opt;
	int (*fn)(struct nbd_conn *c, uint32_t opt, const uint8_t *d, uint32_t len);
} options[] = {
	{ OPT_EXPORT_NAME, opt_export_name },
	{ OPT_ABORT, opt_abort },
	{ OPT_LIST, opt_list },
	{ OPT_STARTTLS, opt_starttls },
	{ OPT_INFO, opt_info_go },
	{ OPT_GO, opt_info_go },
	{ OPT_STRUCTURED_REPLY, opt_structured },
	{ OPT_LIST_META_CONTEXT, opt_meta },
	{ OPT_SET_META_CONTEXT, opt_meta },
};

/* drain len bytes of option data we will not use */
static int drain(int fd, uint32_t len)
{
	uint8_t sink[4096];

	while (len) {
		uint32_t n = len < sizeof(sink) ? len : (uint32_t)sizeof(sink);
		int ret = xread_full(fd, sink, n);

		if (ret)
			return ret;
		len -= n;
	}
	return 0;
}

/* greeting, client flags, options until GO/EXPORT_NAME (0) or the end (-errno) */
static int handshake(struct nbd_conn *c)
{
	uint8_t g[18], cf[4];
	uint32_t flags;
	int ret;

	put_be64(g, NBDMAGIC);
	put_be64(g + 8, IHAVEOPT);
	put_be16(g + 16, FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES);
	ret = send_all(c->fd, g, sizeof(g)) ?: xread_full(c->fd, cf, sizeof(cf));
	if (ret)
		return ret;
	flags = get_be32(cf);
	if (flags & ~(uint32_t)(FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES))
		return -EPROTO;		/* the spec: drop the connection */
	c->no_zeroes = flags & FLAG_NO_ZEROES;
	while (!c->done) {
		uint8_t h[16], *d = NULL;
		uint32_t opt, len;
		size_t i;

		ret = xread_full(c->fd, h, sizeof(h));
		if (ret)
			return ret;
		if (get_be64(h) != IHAVEOPT)
			return -EPROTO;	/* cannot resynchronise */
		opt = get_be32(h + 8);
		len = get_be32(h + 12);
		if (len > MAX_OPTION_LEN) {
			ret = drain(c->fd, len) ?:
			      opt_error(c, opt, REP_ERR_TOO_BIG, "option data too long");
			if (ret)
				return ret;
			continue;
		}
		d = xmalloc(len + 1);
		ret = xread_full(c->fd, d, len);
		for (i = 0; !ret && i < ARRAY_SIZE(options); i++)
			if (options[i].opt == opt)
				break;
		if (!ret)
			ret = i < ARRAY_SIZE(options) ? options[i].fn(c, opt, d, len) :
			      opt_error(c, opt, REP_ERR_UNSUP, "option not supported");
		free(d);
		if (ret)
			return ret;
	}
	return 0;
}

int nbd_export_find(const char *name, struct nbd_export *exp)
{
	char vname[SD_MAX_VDI_LEN], tag[SD_MAX_VDI_TAG_LEN] = "";
	const char *at = strrchr(name, '@'), *colon = strrchr(name, ':');
	struct sd_inode *hdr;
	uint64_t snapid = 0;
	size_t n = strlen(name);
	int ret;

	if (at) {
		n = (size_t)(at - name);
		if (strlen(at + 1) >= sizeof(tag) || !at[1])
			return -EINVAL;
		strcpy(tag, at + 1);
	} else if (colon) {
		n = (size_t)(colon - name);
		if (parse_uint(colon + 1, UINT32_MAX, &snapid) || !snapid)
			return -EINVAL;
	}
	if (!n || n >= sizeof(vname))
		return -EINVAL;
	memcpy(vname, name, n);
	vname[n] = '\0';
	hdr = xmalloc(SD_INODE_HEADER_SIZE);
	ret = vdi_find(vname, tag, (uint32_t)snapid, &exp->vid, hdr);
	if (ret == SD_RES_SUCCESS) {
		exp->size = hdr->vdi_size;
		exp->readonly = at || colon || hdr->snap_ctime;
		snprintf(exp->name, sizeof(exp->name), "%s", name);
	}
	free(hdr);
	return ret == SD_RES_SUCCESS ? 0 : ret == SD_RES_NO_VDI || ret == SD_RES_NO_TAG ? -ENOENT : -EIO;
}

/* every working VDI (not a snapshot, not deleted), lowest vid first */
int nbd_export_list(int (*fn)(const char *name, void *arg), void *arg)
{
	uint8_t *in_use = xmalloc(SD_VDI_BITMAP_SIZE), *del = xmalloc(SD_VDI_BITMAP_SIZE);
	char name[SD_MAX_VDI_LEN + 1];
	int ret = 0;

	vdi_copy_bitmap(in_use, false);
	vdi_copy_bitmap(del, true);
	for (uint32_t vid = 1; !ret && vid < SD_NR_VDIS; vid++) {
		struct vdi_state st;

		if (!(in_use[vid / 8] & (1 << (vid % 8))) || (del[vid / 8] & (1 << (vid % 8))) ||
		    (vdi_get_state(vid, &st) && (st.snapshot || st.deleted)))
			continue;
		if (gateway_read_obj(vid_to_vdi_oid(vid), name, SD_MAX_VDI_LEN, 0))
			continue;	/* unreadable now: left out of the list */
		name[SD_MAX_VDI_LEN] = '\0';
		if (name[0])
			ret = fn(name, arg);
	}
	free(in_use);
	free(del);
	return ret;
}

static int simple_reply(struct nbd_conn *c, uint32_t err, uint64_t handle, const void *data,
			uint32_t len)
{
	uint8_t h[16];

	put_be32(h, SIMPLE_REPLY_MAGIC);
	put_be32(h + 4, err);
	put_be64(h + 8, handle);
	return xwrite2_full(c->fd, h, sizeof(h), data, err ? 0 : len);
}

static void chunk_header(uint8_t *h, uint16_t type, uint64_t handle, uint32_t len)
{
	put_be32(h, CHUNK_MAGIC);
	put_be16(h + 4, CHUNK_DONE);
	put_be16(h + 6, type);
	put_be64(h + 8, handle);
	put_be32(h + 16, len);
}

/* under structured replies a READ's error or empty answer is a chunk too */
static int error_chunk(struct nbd_conn *c, uint64_t handle, uint32_t err)
{
	uint8_t h[26];

	chunk_header(h, CHUNK_ERROR, handle, 6);
	put_be32(h + 20, err);
	put_be16(h + 24, 0);	/* no message */
	return send_all(c->fd, h, sizeof(h));
}

static int none_chunk(struct nbd_conn *c, uint64_t handle)
{
	uint8_t h[20];

	chunk_header(h, CHUNK_NONE, handle, 0);
	return send_all(c->fd, h, sizeof(h));
}

/* a successful READ under structured replies: one data chunk covering it */
static int data_chunk(struct nbd_conn *c, uint64_t handle, uint64_t off, const void *data,
		      uint32_t len)
{
	uint8_t h[28];

	chunk_header(h, CHUNK_OFFSET_DATA, handle, len + 8);
	put_be64(h + 20, off);
	return xwrite2_full(c->fd, h, sizeof(h), data, len);
}

static uint32_t wire_errno(int res)
{
	switch (res) {
	case SD_RES_SUCCESS:
		return 0;
	case SD_RES_READONLY:
		return NBD_EPERM;
	case SD_RES_NO_SPACE:
		return NBD_ENOSPC;
	case SD_RES_INVALID_PARMS:
		return NBD_EINVAL;
	default:
		return NBD_EIO;
	}
}

/* a plain write is write-back; FUA: durable before the reply */
static enum vdi_io_mode write_mode(const struct nbd_req *r)
{
	return r->flags & CMD_FLAG_FUA ? VDI_IO_DURABLE : VDI_IO_WRITE_BACK;
}

/*
 * TRIM (a hint: whole objects are unmapped, partial ends left) and
 * WRITE_ZEROES (whole objects unmapped unless NO_HOLE, the rest written
 * with zeros; FAST_ZERO: only when unmapping does it all, else ENOTSUP
 * before anything is touched).
 */
static uint32_t trim_or_zero(struct nbd_req *r)
{
	struct nbd_conn *c = r->c;
	bool zero = r->type == CMD_WRITE_ZEROES, no_hole = r->flags & CMD_FLAG_NO_HOLE;
	uint64_t off = r->off, end = r->off + r->len;
	char *zeros = NULL;
	int ret = 0;

	if (zero && (r->flags & CMD_FLAG_FAST_ZERO)) {
		if (no_hole)
			return NBD_ENOTSUP;
		for (uint64_t o = off; o < end;) {
			uint32_t idx = (uint32_t)(o / c->obj_size), in = (uint32_t)(o % c->obj_size);
			uint32_t piece = (uint32_t)MIN(end - o, c->obj_size - in);

			if (piece < c->obj_size && vdi_io_mapped(c->vio, idx))
				return NBD_ENOTSUP;	/* a partial written object: a write */
			o += piece;
		}
	}
	while (!ret && off < end) {
		uint32_t idx = (uint32_t)(off / c->obj_size), in = (uint32_t)(off % c->obj_size);
		uint32_t piece = (uint32_t)MIN(end - off, c->obj_size - in);

		if (piece == c->obj_size && !no_hole) {
			ret = vdi_io_unmap(c->vio, idx);
		} else if (zero && (no_hole || vdi_io_mapped(c->vio, idx))) {
			if (!zeros)
				zeros = xzalloc(c->obj_size);
			ret = vdi_io_write(c->vio, zeros, off, piece, write_mode(r));
		}
		off += piece;
	}
	free(zeros);
	return wire_errno(ret);
}

static int status_chunk(struct nbd_conn *c, uint64_t handle, const void *ext, uint32_t len)
{
	uint8_t h[24];

	chunk_header(h, CHUNK_BLOCK_STATUS, handle, 4 + len);
	put_be32(h + 20, ALLOC_CTX_ID);
	return xwrite2_full(c->fd, h, sizeof(h), ext, len);
}

/* the answer to r, whole, under the connection's send lock */
static int reply(struct nbd_req *r)
{
	struct nbd_conn *c = r->c;
	int ret;

	pthread_mutex_lock(&c->send_lock);
	if (r->type == CMD_BLOCK_STATUS && !r->err)
		ret = status_chunk(c, r->handle, r->buf, r->len);
	else if ((r->type == CMD_READ || r->type == CMD_BLOCK_STATUS) && c->structured)
		ret = r->err ? error_chunk(c, r->handle, r->err) :
		      r->len ? data_chunk(c, r->handle, r->off, r->buf, r->len) :
		      none_chunk(c, r->handle);
	else
		ret = simple_reply(c, r->err, r->handle, r->buf, r->type == CMD_READ ? r->len : 0);
	pthread_mutex_unlock(&c->send_lock);
	return ret;
}

static void req_done(struct nbd_req *r)
{
	struct nbd_conn *c = r->c;

	if (reply(r))
		shutdown(c->fd, SHUT_RDWR);	/* the reader sees it and ends the connection */
	pthread_mutex_lock(&c->lock);
	if (--c->inflight == 0 || c->inflight == MAX_INFLIGHT - 1)
		pthread_cond_broadcast(&c->idle);
	pthread_mutex_unlock(&c->lock);
}

/*
 * Worker thread: base:allocation over [off, off + len): runs of never-written objects
 * (hole and zero) and written ones (0), the total clipped to len; one run
 * with REQ_ONE.  Into r->buf as (length, flags) pairs, r->len their bytes.
 */
static int block_status(struct nbd_req *r, bool one)
{
	struct nbd_conn *c = r->c;
	uint32_t n = 0, cap = 64, *ext = xmalloc(cap * 8), left = r->len;
	uint64_t off = r->off;

	while (left) {
		uint32_t idx = (uint32_t)(off / c->obj_size), o = (uint32_t)(off % c->obj_size);
		uint32_t piece = MIN(left, c->obj_size - o);
		uint32_t flags = vdi_io_mapped(c->vio, idx) ? 0 : STATE_HOLE | STATE_ZERO;

		if (n && ext[2 * n - 1] == flags) {
			ext[2 * n - 2] += piece;
		} else {
			if (one && n)
				break;
			if (n == cap)
				ext = xrealloc(ext, (cap *= 2) * 8);
			ext[2 * n] = piece;
			ext[2 * n + 1] = flags;
			n++;
		}
		off += piece;
		left -= piece;
	}
	r->buf = xmalloc(n * 8);
	for (uint32_t i = 0; i < 2 * n; i++)
		put_be32((uint8_t *)r->buf + 4 * i, ext[i]);
	r->len = n * 8;
	free(ext);
	return SD_RES_SUCCESS;
}

static void req_work(struct work *w)
{
	struct nbd_req *r = container_of(w, struct nbd_req, w);

	if (!r->err && (r->type == CMD_TRIM || r->type == CMD_WRITE_ZEROES))
		r->err = trim_or_zero(r);
	if (!r->err && r->type == CMD_BLOCK_STATUS)
		r->err = wire_errno(block_status(r, r->flags & CMD_FLAG_REQ_ONE));
	if (!r->err && r->type == CMD_READ)
		r->err = wire_errno(vdi_io_read(r->c->vio, r->buf, r->off, r->len));
	if (!r->err && r->type == CMD_WRITE)
		r->err = wire_errno(vdi_io_write(r->c->vio, r->buf, r->off, r->len, write_mode(r)));
	/* every write acknowledged before it, on any connection, durable on every node */
	if (!r->err && r->type == CMD_FLUSH)
		r->err = wire_errno(gateway_flush());
	req_done(r);
}

/* main thread, after req_work */
static void req_free(struct work *w)
{
	struct nbd_req *r = container_of(w, struct nbd_req, w);

	free(r->buf);
	free(r);
}

/* the checks a request gets before it runs: 0 or the wire errno */
static uint32_t check_req(const struct nbd_conn *c, uint16_t type, uint16_t flags,
			  uint64_t off, uint32_t len)
{
	/* FUA is accepted everywhere (a no-op where nothing is written), DF on READ */
	if (flags & ~(CMD_FLAG_FUA | (type == CMD_READ && c->structured ? CMD_FLAG_DF : 0) |
		      (type == CMD_BLOCK_STATUS ? CMD_FLAG_REQ_ONE : 0) |
		      (type == CMD_WRITE_ZEROES ? CMD_FLAG_NO_HOLE | CMD_FLAG_FAST_ZERO : 0)))
		return NBD_EINVAL;
	if (type == CMD_TRIM || type == CMD_WRITE_ZEROES) {
		/* any length within the export (nbdcopy zeroes 99 MiB at once) */
		if (off > c->exp.size || len > c->exp.size - off)
			return type == CMD_WRITE_ZEROES ? NBD_ENOSPC : NBD_EINVAL;
		return c->exp.readonly ? NBD_EPERM : 0;
	}
	if (type == CMD_CACHE && (off > c->exp.size || len > c->exp.size - off))
		return NBD_EINVAL;	/* the spec: a CACHE beyond the end SHOULD get EINVAL */
	if (type == CMD_BLOCK_STATUS)
		return c->alloc_ctx && len && off <= c->exp.size && len <= c->exp.size - off ?
		       0 : NBD_EINVAL;
	if (type == CMD_READ || type == CMD_WRITE) {
		if (len > BLOCK_MAX || off > c->exp.size || len > c->exp.size - off)
			return type == CMD_WRITE ? NBD_ENOSPC : NBD_EINVAL;
		if (type == CMD_WRITE && c->exp.readonly)
			return NBD_EPERM;
		return 0;
	}
	/* FLUSH runs in req_work; CACHE: a hint */
	return type == CMD_FLUSH || type == CMD_CACHE ? 0 : NBD_EINVAL;
}

/*
 * Read requests and hand them to workers; they answer in any order.
 */
static int transmission(struct nbd_conn *c)
{
	int ret = 0;

	set_io_timeout(c->fd, 0);
	for (;;) {
		uint8_t h[28];
		struct nbd_req *r;

		ret = xread_full(c->fd, h, sizeof(h));
		if (ret)
			break;
		if (get_be32(h) != REQUEST_MAGIC) {
			ret = -EPROTO;
			break;
		}
		r = xzalloc(sizeof(*r));
		r->c = c;
		r->type = get_be16(h + 6);
		r->handle = get_be64(h + 8);
		r->off = get_be64(h + 16);
		r->len = get_be32(h + 24);
		if (r->type == CMD_DISC) {
			free(r);
			break;
		}
		if (r->type == CMD_WRITE && r->len > BLOCK_MAX) {
			free(r);
			ret = -EPROTO;	/* a payload we will not take: the spec allows a close */
			break;
		}
		r->flags = get_be16(h + 4);
		r->err = check_req(c, r->type, r->flags, r->off, r->len);
		if ((r->type == CMD_READ && !r->err) || r->type == CMD_WRITE)
			r->buf = xmalloc(MAX(r->len, 1));
		if (r->type == CMD_WRITE && (ret = xread_full(c->fd, r->buf, r->len))) {
			free(r->buf);
			free(r);
			break;
		}
		pthread_mutex_lock(&c->lock);
		while (c->inflight >= MAX_INFLIGHT)
			pthread_cond_wait(&c->idle, &c->lock);
		c->inflight++;
		pthread_mutex_unlock(&c->lock);
		r->w.fn = req_work;
		r->w.done = req_free;
		queue_work(&r->w);
	}
	/* what is in flight finishes (its replies may fail), then the connection goes */
	pthread_mutex_lock(&c->lock);
	while (c->inflight)
		pthread_cond_wait(&c->idle, &c->lock);
	pthread_mutex_unlock(&c->lock);
	return ret;
}

static void *conn_main(void *arg)
{
	struct nbd_conn *c = arg;
	int ret;

	set_io_timeout(c->fd, HANDSHAKE_TIMEOUT_MS);
	ret = handshake(c);
	if (ret && ret != -ECONNABORTED)
		sd_info("nbd: handshake ended: %s", strerror(-ret));
	if (!ret && vdi_io_open(c->exp.vid, c->exp.readonly ? NULL : c->exp.name, &c->vio)) {
		sd_err("nbd: export %s: cannot read its inode; closing", c->exp.name);
		ret = -EIO;
	}
	if (!ret) {
		c->obj_size = vdi_io_obj_size(c->vio);
		ret = transmission(c);
		if (ret)
			sd_info("nbd: export %s: connection ended: %s", c->exp.name,
				strerror(-ret));
	}
	vdi_io_close(c->vio);
	close(c->fd);
	free(c);
	return NULL;
}

void nbd_serve(int fd)
{
	struct nbd_conn *c = xzalloc(sizeof(*c));
	pthread_t t;

	c->fd = fd;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->idle, NULL);
	pthread_mutex_init(&c->send_lock, NULL);
	if (pthread_create(&t, NULL, conn_main, c)) {
		close(fd);
		free(c);
		return;
	}
	pthread_detach(t);
}

static void accept_handler(int fd, uint32_t events, void *data)
{
	(void)events;
	(void)data;
	for (;;) {
		int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC);

		if (cfd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				sd_err("nbd: accept: %m");
			return;
		}
		set_nodelay(cfd);
		nbd_serve(cfd);
	}
}

int nbd_listen(const char *spec)
{
	char host[128] = "";
	const char *colon = strrchr(spec, ':');
	uint64_t port;
	int fd;

	if (colon) {
		size_t n = (size_t)(colon - spec);

		if (n >= sizeof(host))
			return -EINVAL;
		memcpy(host, spec, n);
		host[n] = '\0';
		if (host[0] == '[' && n > 1 && host[n - 1] == ']') {
			memmove(host, host + 1, n - 2);
			host[n - 2] = '\0';
		}
		spec = colon + 1;
	}
	if (parse_uint(spec, 65535, &port) || !port)
		return -EINVAL;
	fd = listen_tcp(host[0] ? host : NULL, (int)port);
	if (fd < 0)
		return fd;
	set_nonblocking(fd);
	return register_event(fd, accept_handler, NULL) < 0 ? -EIO : 0;
}
