/*
 * recovery.c - keeping every replica current across membership changes.
 *
 * Every object file carries a version (store.h): the epoch of its last
 * write and a write counter.  After every epoch change (and when a stopped
 * cluster starts again) each node treats all of its objects as unverified.
 * Before an object is read or written here it is made current (obj_acquire):
 * the node asks the other members for their versions and, if one is newer,
 * fetches that copy whole.  The newest copy the members have counts only if
 * every epoch since its own had a holder that is still a member (vouched);
 * else newer acknowledged writes may have left with those holders, and the
 * object answers SD_RES_HALT until one is back.  Meanwhile a background
 * thread does the same for every object the node should hold, in bulk: it
 * gathers every member's object list with versions and fetches what is
 * missing or behind here, so objects several epochs behind and stale copies
 * of a node that was away are both repaired.  When it is done the node
 * broadcasts COMPLETE_RECOVERY; when every member has, each node removes the
 * objects it no longer holds, so the last copy of anything is never removed
 * before its new holders have it.
 *
 * Locking: objlock.c's per-object stripes (IO shares, recovery of an object
 * is exclusive); rec_lock guards the epoch, the done set and the statistics.
 * Serving a peer's recovery read takes no stripe lock, so two nodes that
 * recover the same object from each other cannot deadlock.  The main thread
 * calls recovery_start/recovery_node_done/recovery_set_*; the recovery
 * thread and workers do the IO.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "event.h"
#include "gateway.h"
#include "net.h"
#include "objlock.h"
#include "oidset.h"
#include "recovery.h"
#include "ring.h"
#include "store.h"
#include "vdi.h"

#define RETRY_MS	500

static pthread_mutex_t rec_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t rec_cond = PTHREAD_COND_INITIALIZER;
static uint32_t want_epoch;	/* the epoch to recover for (main thread sets it) */
static uint32_t finished_epoch;	/* the last epoch whose recovery completed */
static bool recovering;		/* objects not in done may be stale */
static struct oidset done;	/* objects current for want_epoch */
static bool disabled;
static uint32_t throttle_max;	/* -R, SET_RECOVERY: at most max objects ... */
static uint64_t throttle_ms;	/* ... per throttle_ms; both 0: no throttling */
static uint64_t throttle_gen;	/* bumped by every change: a throttled wait ends */
/* the epoch a format started: nothing to recover there, so not shown as recovering */
static uint32_t quiet_epoch;
static bool quiet_next;
static struct recovery_state stat;
static char stop_reason[128];
static int complete_efd = -1;
/* an announcement that failed (the coordinator was away) is made again from here */
static int announce_tfd = -1;
#define ANNOUNCE_RETRY_MS	1000
static uint64_t fetched_objs, fetched_bytes;	/* copied in, since start */
/* bumped by recovery_recheck: a pass of an older generation is not complete */
static uint64_t pass_gen;

/* main thread: which members finished recovery of sys->epoch */
static struct node_id *completed;
static int nr_completed;
static uint32_t gc_epoch;

static bool is_done(uint64_t oid)
{
	bool r;

	pthread_mutex_lock(&rec_lock);
	r = !recovering || oidset_has(&done, oid);
	pthread_mutex_unlock(&rec_lock);
	return r;
}

static void mark_done(uint64_t oid, uint32_t epoch)
{
	pthread_mutex_lock(&rec_lock);
	if (want_epoch == epoch)
		oidset_add(&done, oid);
	pthread_mutex_unlock(&rec_lock);
}

static uint32_t current_want(void)
{
	uint32_t e;

	pthread_mutex_lock(&rec_lock);
	e = want_epoch;
	pthread_mutex_unlock(&rec_lock);
	return e;
}

/* the largest the object can be, whatever this node thinks its VDI is */
static uint32_t fetch_size(uint64_t oid)
{
	if (oid & VDI_BIT)
		return SD_INODE_SIZE;
	return MAX(vdi_object_size(oid), UINT32_C(1) << 22);
}

/* one member's version of oid: 0 and *ver, SD_RES_NO_OBJ, or another error */
static int peer_version(const struct sd_node *n, uint64_t oid, uint32_t epoch,
			struct obj_version *ver)
{
	struct sd_req hdr = { 0 };
	struct sd_rsp rsp;
	int ret;

	hdr.proto_ver = SD_SHEEP_PROTO_VER;
	hdr.epoch = epoch;
	hdr.opcode = SD_OP_READ_PEER;
	hdr.flags = SD_FLAG_CMD_RECOVERY;
	hdr.obj.oid = oid;
	ret = gateway_peer_exec(&n->nid, &hdr, NULL, &rsp, NULL, 0);
	if (ret == SD_RES_SUCCESS) {
		ver->epoch = rsp.recov.ver_epoch;
		ver->counter = rsp.recov.ver_counter;
	}
	return ret;
}

/*
 * Copy oid from node n if its copy is newer than ours (have/mine).  Returns
 * SD_RES_SUCCESS when we now hold a copy at least as new as n's.
 */
static int fetch_from(const struct sd_node *n, uint64_t oid, uint32_t epoch, bool have,
		      const struct obj_version *mine)
{
	uint32_t size = fetch_size(oid);
	struct sd_req hdr = { 0 };
	struct sd_rsp rsp;
	struct obj_version got;
	char *buf = xmalloc(size);
	int ret;

	hdr.proto_ver = SD_SHEEP_PROTO_VER;
	hdr.opcode = SD_OP_READ_PEER;
	hdr.flags = SD_FLAG_CMD_RECOVERY;
	hdr.obj.oid = oid;
	hdr.epoch = epoch;
	hdr.data_length = size;
	ret = gateway_peer_exec(&n->nid, &hdr, NULL, &rsp, buf, size);
	if (ret == SD_RES_SUCCESS) {
		got.epoch = rsp.recov.ver_epoch;
		got.counter = rsp.recov.ver_counter;
		if (rsp.data_length != rsp.recov.obj_size || !rsp.data_length)
			ret = SD_RES_EIO;
		else if (!have || obj_version_cmp(&got, mine) > 0) {
			ret = store_replace(oid, buf, rsp.data_length, &got);
			if (ret == SD_RES_SUCCESS)
				obj_note_replaced(oid);
		}
		if (ret == SD_RES_SUCCESS) {
			pthread_mutex_lock(&rec_lock);
			fetched_objs++;
			fetched_bytes += rsp.data_length;
			pthread_mutex_unlock(&rec_lock);
		}
	}
	free(buf);
	return ret;
}

int recovery_repair_from(const struct node_id *nid, uint64_t oid, uint32_t epoch)
{
	struct sd_node n = { .nid = *nid };
	struct obj_version none = { 0, 0 };
	int ret;

	objlock_wrlock(oid);
	ret = fetch_from(&n, oid, epoch, false, &none);
	objlock_unlock(oid);
	return ret;
}

struct candidate {
	int node;
	struct obj_version ver;
};

/* ---- is the newest copy among the members? ------------------------------ */

static pthread_mutex_t past_lock = PTHREAD_MUTEX_INITIALIZER;
/*
 * The last epoch every member finished recovering here (we saw them all
 * complete): each holder then had the newest copy of everything it holds,
 * so nothing before it needs vouching.  In memory: 0 after a start.
 */
static uint32_t settled;
static struct ring **past;	/* rings of earlier epochs, by epoch, built when asked */
static uint32_t nr_past;

/* the ring of epoch e from the epoch log; NULL if we have no record of it */
static struct ring *past_ring(uint32_t e)
{
	if (e >= nr_past) {
		uint32_t n = MAX(e + 1, nr_past * 2);

		past = xrealloc(past, n * sizeof(*past));
		memset(past + nr_past, 0, (n - nr_past) * sizeof(*past));
		nr_past = n;
	}
	if (!past[e]) {
		struct sd_node *nodes = xmalloc(SD_MAX_NODES * sizeof(*nodes));
		int n = store_read_epoch(e, nodes, SD_MAX_NODES, NULL);

		if (n > 0)
			past[e] = ring_build(nodes, n, e);
		free(nodes);
	}
	return past[e];
}

static void forget_past(void)
{
	pthread_mutex_lock(&past_lock);
	for (uint32_t e = 0; e < nr_past; e++)
		if (past[e])
			ring_free(past[e]);
	free(past);
	past = NULL;
	nr_past = 0;
	pthread_mutex_unlock(&past_lock);
}

static bool in_ring(const struct ring *r, const struct node_id *nid)
{
	for (int i = 0; i < r->nr_nodes; i++)
		if (node_id_eq(&r->nodes[i].nid, nid))
			return true;
	return false;
}

/*
 * May the newest copy the members have (of epoch from) be taken as the
 * newest there is?  An acknowledged write reached every holder of its
 * epoch.  If every epoch since from had a holder that is a member now (and
 * every member answered), a newer write would show as a member's newer
 * copy, so there is none.  An epoch whose holders are all gone may have
 * taken newer writes with them: then a member's older copy (one it kept
 * from an earlier epoch) is no base for reads or writes until one of them
 * is back.
 */
static bool vouched(uint64_t oid, uint32_t from, const struct ring *now)
{
	int copies = gateway_object_copies(oid, 0);
	bool ok = true;

	from = MAX(from, __atomic_load_n(&settled, __ATOMIC_RELAXED));
	pthread_mutex_lock(&past_lock);
	for (uint32_t e = MAX(from, 1); e < now->epoch && ok; e++) {
		struct ring *r = past_ring(e);
		int idx[SD_MAX_COPIES], n;
		bool kept = false;

		if (!r)
			continue;	/* no record of that epoch here */
		n = ring_pick_nodes(r, oid, copies, idx);
		for (int i = 0; i < n && !kept; i++)
			kept = in_ring(now, &r->nodes[idx[i]].nid);
		if (!kept) {
			ok = false;
			sd_warn("oid %016" PRIx64 ": every holder of epoch %" PRIu32 " is gone; "
				"the copies here (of epoch %" PRIu32 ") may be older: waiting for one",
				oid, e, from);
		}
	}
	pthread_mutex_unlock(&past_lock);
	return ok;
}

/*
 * Make our copy of oid as new as the newest copy of any member.  Every
 * member must answer (having no copy is an answer): one that does not may
 * hold the newest copy, so we fail and try again later rather than settle
 * for an older one.  Caller holds the stripe exclusively.
 */
static int resolve(uint64_t oid, uint32_t epoch)
{
	struct ring *r = gateway_get_ring();
	struct candidate *c;
	struct obj_version mine, best = { 0, 0 };
	bool have;
	int nr = 0, ret = SD_RES_SUCCESS;

	if (!r)
		return SD_RES_HALT;
	have = store_get_version(oid, &mine) == SD_RES_SUCCESS;
	c = xcalloc((size_t)MAX(r->nr_nodes, 1), sizeof(*c));
	for (int i = 0; i < r->nr_nodes && !ret; i++) {
		int res;

		if (node_is_local(&r->nodes[i]))
			continue;
		res = peer_version(&r->nodes[i], oid, epoch, &c[nr].ver);
		if (res == SD_RES_SUCCESS) {
			c[nr].node = i;
			if (obj_version_cmp(&c[nr].ver, &best) > 0)
				best = c[nr].ver;
			nr++;
		} else if (res != SD_RES_NO_OBJ) {
			ret = res;	/* unknown: maybe the newest copy is there */
		}
	}
	if (!ret && (nr || have)) {
		struct obj_version top = have && obj_version_cmp(&mine, &best) > 0 ? mine : best;

		if (!vouched(oid, top.epoch, r))
			ret = SD_RES_HALT;
	}
	if (!ret && nr && (!have || obj_version_cmp(&best, &mine) > 0)) {
		ret = SD_RES_NO_OBJ;
		for (int i = 0; i < nr; i++) {
			if (obj_version_cmp(&c[i].ver, &best))
				continue;	/* only the newest will do */
			ret = fetch_from(&r->nodes[c[i].node], oid, epoch, have, &mine);
			if (ret == SD_RES_SUCCESS || ret == SD_RES_NO_SPACE)
				break;
		}
	}
	if (ret && ret != SD_RES_NO_SPACE && ret != SD_RES_NEW_NODE_VER && ret != SD_RES_HALT)
		sd_err("oid %016" PRIx64 ": cannot recover it yet: result %02x", oid, ret);
	free(c);
	gateway_put_ring(r);
	return ret;
}

int obj_acquire(uint64_t oid)
{
	for (;;) {
		uint32_t e;
		int ret;

		objlock_rdlock(oid);
		if (is_done(oid))
			return SD_RES_SUCCESS;
		objlock_unlock(oid);

		objlock_wrlock(oid);
		e = current_want();
		ret = is_done(oid) ? SD_RES_SUCCESS : resolve(oid, e);
		if (ret == SD_RES_SUCCESS)
			mark_done(oid, e);
		objlock_unlock(oid);
		if (ret)
			return ret;
	}
}

void obj_release(uint64_t oid)
{
	objlock_unlock(oid);
}

/* ---- object lists ---------------------------------------------------- */

struct list_buf {
	struct obj_list_entry *e;
	size_t nr, cap;
};

static void list_push(struct list_buf *l, const struct obj_list_entry *e)
{
	if (l->nr == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 1024;
		l->e = xrealloc(l->e, l->cap * sizeof(*l->e));
	}
	l->e[l->nr++] = *e;
}

static int collect_local(uint64_t oid, void *arg)
{
	struct obj_list_entry e = { .oid = oid };
	struct obj_version v;

	if (store_get_version(oid, &v) == SD_RES_SUCCESS) {
		e.epoch = v.epoch;
		e.counter = v.counter;
		list_push(arg, &e);
	}
	return 0;
}

static struct obj_version entry_ver(const struct obj_list_entry *e)
{
	struct obj_version v = { e->epoch, e->counter };

	return v;
}

static int entry_cmp(const void *a, const void *b)
{
	const struct obj_list_entry *x = a, *y = b;

	return x->oid < y->oid ? -1 : x->oid > y->oid;
}

static void local_list(struct list_buf *l)
{
	store_for_each(collect_local, l);
	qsort(l->e, l->nr, sizeof(*l->e), entry_cmp);
}

/* GET_OBJ_LIST (serve queue): our objects after obj.oid, with versions */
int recovery_op_get_obj_list(struct request *req)
{
	struct list_buf l = { 0 };
	size_t max = req->rq.data_length / sizeof(struct obj_list_entry), n = 0, i = 0;

	local_list(&l);
	while (i < l.nr && req->rq.obj.oid && l.e[i].oid <= req->rq.obj.oid)
		i++;
	for (; i < l.nr && n < max; i++, n++)
		memcpy((char *)req->data + n * sizeof(*l.e), &l.e[i], sizeof(*l.e));
	req->rp.data_length = (uint32_t)(n * sizeof(*l.e));
	req->rp.recov.more = i < l.nr;
	free(l.e);
	return SD_RES_SUCCESS;
}

#define LIST_PAGE (SD_MAX_PAYLOAD / sizeof(struct obj_list_entry) * sizeof(struct obj_list_entry))

static int remote_list(const struct sd_node *n, struct list_buf *l)
{
	char *buf = xmalloc(LIST_PAGE);
	uint64_t after = 0;
	int ret;

	for (;;) {
		struct sd_req hdr = { 0 };
		struct sd_rsp rsp;

		hdr.proto_ver = SD_SHEEP_PROTO_VER;
		hdr.opcode = SD_OP_GET_OBJ_LIST;
		hdr.obj.oid = after;
		hdr.data_length = LIST_PAGE;
		ret = gateway_peer_exec(&n->nid, &hdr, NULL, &rsp, buf, LIST_PAGE);
		if (ret)
			break;
		for (size_t i = 0; i < rsp.data_length / sizeof(struct obj_list_entry); i++) {
			struct obj_list_entry e;

			memcpy(&e, buf + i * sizeof(e), sizeof(e));
			list_push(l, &e);
			after = e.oid;
		}
		if (!rsp.recov.more || !rsp.data_length)
			break;
	}
	free(buf);
	return ret;
}

/* ---- the recovery thread ---------------------------------------------- */

/* progress of epoch e, unless a newer epoch has started meanwhile */
static void set_state(uint32_t e, uint32_t state, uint64_t finished, uint64_t total)
{
	pthread_mutex_lock(&rec_lock);
	if (want_epoch == e) {
		stat.state = state;
		stat.nr_finished = finished;
		stat.nr_total = total;
		stat.in_recovery = state != RECOVERY_DONE && e != quiet_epoch;
	}
	pthread_mutex_unlock(&rec_lock);
}

/* false if the epoch moved on or a re-check began; waits while recovery is disabled */
static bool still_wanted(uint32_t epoch, uint64_t gen)
{
	bool ok;

	pthread_mutex_lock(&rec_lock);
	while (disabled && want_epoch == epoch)
		pthread_cond_wait(&rec_cond, &rec_lock);
	ok = want_epoch == epoch && pass_gen == gen;
	pthread_mutex_unlock(&rec_lock);
	return ok;
}

/* after every max objects, wait ms, or less if the throttling or the epoch changes */
static void throttle(uint64_t n)
{
	struct timespec until;
	uint64_t gen;
	uint32_t e;

	pthread_mutex_lock(&rec_lock);
	if (!throttle_max || !throttle_ms || n % throttle_max) {
		pthread_mutex_unlock(&rec_lock);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += (time_t)(throttle_ms / 1000);
	until.tv_nsec += (long)(throttle_ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	gen = throttle_gen;
	e = want_epoch;
	while (throttle_gen == gen && want_epoch == e &&
	       pthread_cond_timedwait(&rec_cond, &rec_lock, &until) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&rec_lock);
}

static bool holds(const struct ring *r, uint64_t oid)
{
	int idx[SD_MAX_COPIES], nr = ring_pick_nodes(r, oid, gateway_object_copies(oid, 0), idx);

	for (int i = 0; i < nr; i++)
		if (node_is_local(&r->nodes[idx[i]]))
			return true;
	return false;
}

/* whether this node has vnodes among these nodes (holds objects) */
static bool stores_among(const struct sd_node *nodes, int nr)
{
	for (int i = 0; i < nr; i++)
		if (node_is_local(&nodes[i]))
			return nodes[i].nr_vnodes > 0;
	return false;
}

/*
 * One pass for epoch e: 0 when every object we should hold is current,
 * -EAGAIN to try again later, -ENOSPC when the disk is full.
 */
static int recover_epoch(uint32_t e, uint64_t gen)
{
	struct ring *r = gateway_get_ring();
	struct list_buf all = { 0 };
	uint64_t total = 0, finished = 0;
	bool storing;
	int ret = 0;

	if (!r || r->epoch != e) {
		gateway_put_ring(r);
		return -EAGAIN;
	}
	set_state(e, RECOVERY_PREPARING, 0, 0);
	local_list(&all);
	storing = stores_among(r->nodes, r->nr_nodes);
	/*
	 * A member with no vnodes (a gateway) should hold nothing: it gathers
	 * no lists (each gateway asking every member made an epoch cost N^2
	 * requests in a cluster of gateways), and its leftovers go at gc
	 */
	for (int i = 0; storing && i < r->nr_nodes; i++) {
		char name[64];

		if (node_is_local(&r->nodes[i]))
			continue;
		if (remote_list(&r->nodes[i], &all)) {
			node_id_to_str(&r->nodes[i].nid, name, sizeof(name));
			sd_warn("recovery of epoch %" PRIu32 ": no object list from %s yet", e,
				name);
			gateway_put_ring(r);
			free(all.e);
			return -EAGAIN;
		}
	}
	/* one entry per oid we should hold, with the newest version any member has */
	qsort(all.e, all.nr, sizeof(*all.e), entry_cmp);
	for (size_t i = 0, j; i < all.nr; i = j) {
		struct obj_list_entry best = all.e[i];

		for (j = i + 1; j < all.nr && all.e[j].oid == best.oid; j++) {
			struct obj_version v = entry_ver(&all.e[j]), b = entry_ver(&best);

			if (obj_version_cmp(&v, &b) > 0)
				best = all.e[j];
		}
		if (holds(r, best.oid))
			all.e[total++] = best;
	}
	set_state(e, RECOVERY_OBJECTS, 0, total);
	for (size_t i = 0; i < total && !ret; i++) {
		uint64_t oid = all.e[i].oid;
		struct obj_version best = entry_ver(&all.e[i]), mine;
		bool have;

		if (!still_wanted(e, gen)) {
			ret = -EAGAIN;
			break;
		}
		objlock_wrlock(oid);
		if (!is_done(oid)) {
			int res = SD_RES_SUCCESS;

			have = store_get_version(oid, &mine) == SD_RES_SUCCESS;
			if (!have || obj_version_cmp(&mine, &best) < 0)
				res = resolve(oid, e);
			else if (!vouched(oid, mine.epoch, r))
				res = SD_RES_HALT;
			if (res == SD_RES_SUCCESS)
				mark_done(oid, e);
			else if (res == SD_RES_NO_SPACE)
				ret = -ENOSPC;
			else
				ret = -EAGAIN;
		}
		objlock_unlock(oid);
		set_state(e, RECOVERY_OBJECTS, ++finished, total);
		throttle(finished);
	}
	gateway_put_ring(r);
	free(all.e);
	return ret;
}

static void *recovery_thread(void *arg)
{
	uint64_t objs0 = 0, bytes0 = 0;
	uint32_t last = 0;

	(void)arg;
	for (;;) {
		uint64_t gen;
		uint32_t e;
		int ret;

		pthread_mutex_lock(&rec_lock);
		while (want_epoch == finished_epoch || disabled)
			pthread_cond_wait(&rec_cond, &rec_lock);
		e = want_epoch;
		gen = pass_gen;
		stop_reason[0] = '\0';
		if (e != last) {	/* count what this epoch copies in */
			objs0 = fetched_objs;
			bytes0 = fetched_bytes;
			last = e;
		}
		pthread_mutex_unlock(&rec_lock);

		ret = recover_epoch(e, gen);
		if (ret == -ENOSPC) {
			sd_err("recovery of epoch %" PRIu32 " stopped: the disk is full; free space "
			       "or add nodes (nothing was removed)", e);
			pthread_mutex_lock(&rec_lock);
			if (want_epoch == e) {
				snprintf(stop_reason, sizeof(stop_reason), "disk full");
				stat.state = RECOVERY_STOPPED;
			}
			/* wait for the next epoch, or a retry after RETRY_MS * 20 */
			pthread_mutex_unlock(&rec_lock);
			usleep(RETRY_MS * 20 * 1000);
			continue;
		}
		if (ret) {
			usleep(RETRY_MS * 1000);
			continue;
		}
		pthread_mutex_lock(&rec_lock);
		if (want_epoch == e && pass_gen == gen) {
			uint64_t one = 1;

			finished_epoch = e;
			recovering = false;
			stat.state = RECOVERY_DONE;
			stat.in_recovery = 0;
			sd_info("recovery of epoch %" PRIu32 " complete: %" PRIu64 " objects checked, "
				"%" PRIu64 " copied in (%" PRIu64 " bytes)", e, stat.nr_total,
				fetched_objs - objs0, fetched_bytes - bytes0);
			(void)!write(complete_efd, &one, sizeof(one));
		}
		pthread_mutex_unlock(&rec_lock);
	}
	return NULL;
}

/* ---- main thread -------------------------------------------------------- */

static void complete_handler(int fd, uint32_t events, void *data)
{
	uint64_t n;
	uint32_t e;

	(void)events;
	(void)data;
	(void)!read(fd, &n, sizeof(n));
	pthread_mutex_lock(&rec_lock);
	e = finished_epoch;
	pthread_mutex_unlock(&rec_lock);
	/*
	 * Until every member announced, nobody drops the copies it no longer
	 * holds: a lost announcement (a ZooKeeper leader lost, say) is tried
	 * again while this epoch is the current one
	 */
	if (e == sys->epoch && !stores_among(sys->nodes, sys->nr_nodes)) {
		recovery_node_done(&sys->this_node.nid, e);	/* our gc may be due */
		return;
	}
	if (e == sys->epoch && group_notify_recovery_complete(e)) {
		struct itimerspec again = { .it_value = { .tv_nsec = ANNOUNCE_RETRY_MS * 1000000L } };

		timerfd_settime(announce_tfd, 0, &again, NULL);
	}
}

int recovery_init(void)
{
	pthread_t t;
	int ret;

	objlock_init();
	oidset_clear(&done);
	stat.state = RECOVERY_DONE;
	complete_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	announce_tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (complete_efd < 0 || announce_tfd < 0)
		return -errno;
	if (register_event(complete_efd, complete_handler, NULL) < 0 ||
	    register_event(announce_tfd, complete_handler, NULL) < 0)
		return -EINVAL;
	ret = pthread_create(&t, NULL, recovery_thread, NULL);
	if (ret)
		return -ret;
	pthread_detach(t);
	return 0;
}

/* main thread: no member has finished the epoch being started */
static void forget_completed(void)
{
	free(completed);
	completed = NULL;
	nr_completed = 0;
}

void recovery_start(uint32_t epoch)
{
	pthread_mutex_lock(&rec_lock);
	if (want_epoch != epoch || finished_epoch != epoch) {
		if (want_epoch != epoch)
			oidset_clear(&done);
		want_epoch = epoch;
		recovering = true;
		quiet_epoch = quiet_next ? epoch : 0;
		stat.in_recovery = !quiet_next;
		stat.state = RECOVERY_PREPARING;
		stat.nr_finished = stat.nr_total = 0;
		pthread_cond_broadcast(&rec_cond);
	}
	quiet_next = false;
	pthread_mutex_unlock(&rec_lock);
	forget_completed();
}

/*
 * At format: the new cluster's epochs start over at 1, so nothing the old
 * one recovered or cleaned up may count.  Kept, the old finished epoch made
 * the new cluster's first epoch of that number look recovered already (the
 * node stayed "recovering" and never cleaned up), and the old clean-up epoch
 * skipped the new cluster's clean-up at that number.  A pass still running
 * for an old epoch of another number stops at its next object; one of the
 * same number goes on with the old cluster's list, whose objects are gone
 * from every wiped store (a fetch in flight across the wipe is not
 * covered: it may bring an old object back).
 */
void recovery_reset(void)
{
	pthread_mutex_lock(&rec_lock);
	want_epoch = finished_epoch = 0;
	forget_past();	/* epochs start over at 1 */
	__atomic_store_n(&settled, 0, __ATOMIC_RELAXED);
	/* as Sheepdog, a freshly formatted node is not "in recovery" (dog node recovery) */
	quiet_next = true;
	oidset_clear(&done);
	pthread_cond_broadcast(&rec_cond);
	pthread_mutex_unlock(&rec_lock);
	gc_epoch = 0;
	forget_completed();
}

/*
 * Main thread, on every member in the same order (ALTER_VDI_COPY): a VDI's
 * number of copies changed, so which node should hold its objects did too.
 * Recovery of the current epoch runs again, as after a membership change:
 * every object counts as unverified (IO here first makes it current, which
 * fetches a copy this node should now hold), the pass fetches every object
 * this node should hold with the new numbers, a pass under way starts over,
 * and once every member has completed again, each removes the copies it no
 * longer needs (fewer copies).  Placement keeps the first holders of an
 * object whatever its number of copies, so an earlier completion counted
 * meanwhile removes nothing that is still needed.
 */
void recovery_recheck(void)
{
	pthread_mutex_lock(&rec_lock);
	if (want_epoch) {
		pass_gen++;
		oidset_clear(&done);
		recovering = true;
		finished_epoch = 0;
		quiet_epoch = 0;
		stat.in_recovery = 1;
		stat.state = RECOVERY_PREPARING;
		stat.nr_finished = stat.nr_total = 0;
		pthread_cond_broadcast(&rec_cond);
	}
	pthread_mutex_unlock(&rec_lock);
	gc_epoch = 0;
	forget_completed();
}

void recovery_set_disabled(bool off)
{
	pthread_mutex_lock(&rec_lock);
	disabled = off;
	pthread_cond_broadcast(&rec_cond);
	pthread_mutex_unlock(&rec_lock);
}

bool recovery_disabled(void)
{
	bool d;

	pthread_mutex_lock(&rec_lock);
	d = disabled;
	pthread_mutex_unlock(&rec_lock);
	return d;
}

void recovery_set_throttle(uint32_t max, uint64_t interval_ms)
{
	pthread_mutex_lock(&rec_lock);
	throttle_max = max;
	throttle_ms = interval_ms;
	throttle_gen++;
	pthread_cond_broadcast(&rec_cond);
	pthread_mutex_unlock(&rec_lock);
}

void recovery_get_throttle(uint32_t *max, uint64_t *interval_ms)
{
	pthread_mutex_lock(&rec_lock);
	*max = throttle_max;
	*interval_ms = throttle_ms;
	pthread_mutex_unlock(&rec_lock);
}

void recovery_get_state(struct recovery_state *st, char *reason, size_t len)
{
	pthread_mutex_lock(&rec_lock);
	*st = stat;
	snprintf(reason, len, "%s", stop_reason);
	pthread_mutex_unlock(&rec_lock);
}

/* ---- removing what we no longer hold ------------------------------------ */

struct gc_work {
	struct work work;
	uint32_t epoch;
	uint64_t removed;
};

static int gc_one(uint64_t oid, void *arg)
{
	struct gc_work *gw = arg;
	struct ring *r = gateway_get_ring();

	if (!r || r->epoch != gw->epoch) {
		gateway_put_ring(r);
		return 1;	/* the membership moved on: stop */
	}
	if (!holds(r, oid)) {
		objlock_wrlock(oid);
		if (gateway_epoch() == gw->epoch && store_remove(oid) == SD_RES_SUCCESS)
			gw->removed++;
		objlock_unlock(oid);
	}
	gateway_put_ring(r);
	return 0;
}

static void gc_fn(struct work *w)
{
	struct gc_work *gw = container_of(w, struct gc_work, work);

	store_for_each(gc_one, gw);
}

static void gc_done(struct work *w)
{
	struct gc_work *gw = container_of(w, struct gc_work, work);

	if (gw->removed)
		sd_info("epoch %" PRIu32 ": removed %" PRIu64 " objects now held by others",
			gw->epoch, gw->removed);
	free(gw);
}

void recovery_node_done(const struct node_id *nid, uint32_t epoch)
{
	struct gc_work *gw;

	if (epoch != sys->epoch || gc_epoch == epoch)
		return;
	for (int i = 0; i < nr_completed; i++)
		if (node_id_eq(&completed[i], nid))
			return;
	completed = xrealloc(completed, sizeof(*completed) * (size_t)(nr_completed + 1));
	completed[nr_completed++] = *nid;
	/* the members that store: a gateway has what it should (nothing) and does not announce */
	for (int i = 0; i < sys->nr_nodes; i++) {
		bool found = !sys->nodes[i].nr_vnodes;

		for (int j = 0; j < nr_completed && !found; j++)
			found = node_id_eq(&completed[j], &sys->nodes[i].nid);
		if (!found)
			return;
	}
	/* every member has what it should: drop our copies of the rest */
	gc_epoch = epoch;
	if (epoch > settled)
		__atomic_store_n(&settled, epoch, __ATOMIC_RELAXED);
	gw = xzalloc(sizeof(*gw));
	gw->epoch = epoch;
	gw->work.fn = gc_fn;
	gw->work.done = gc_done;
	queue_work_on(WQ_PEER, &gw->work);
}
