/*
 * cluster_zookeeper.c - the "zookeeper" cluster driver:
 *   -c zookeeper:HOST:PORT[,HOST:PORT...][/ID][,timeout=30s|MS][,id=NAME][,keep=60s]
 *
 * The total order is ZooKeeper's: every evlog record (evlog.h) is a
 * persistent sequential znode BASE/queue/ev-NNNNNNNNNN, BASE being
 * /sheep/NAME (default /sheep/default), and every member replays the
 * queue in sequence order, a joiner from the snapshot of the state the
 * oldest member keeps in BASE/snap; the records a snapshot covers are
 * deleted once it has for keep= (snapshot()).  Liveness: each member holds an ephemeral
 * BASE/member/<session id>; its incarnation is its session id, so a quick
 * restart at the same address is a new member and the old one leaves when
 * its session is gone.  When a member znode disappears the survivors append
 * its LEAVE (duplicates are ignored when applied).  ZooKeeper's watches fire
 * on its own thread and only poke an eventfd; everything else runs on the
 * main thread.  If our session expires (or we were frozen longer than the
 * session timeout), the cluster has moved on without us: we start over at
 * once (sheep_restart: exec), so no IO is served as a stale member, and
 * rejoin as a new member that recovers like any other.  While our client
 * is not connected (it gives a silent server up after 2/3 of the session
 * timeout) the link is lost for the core (sd_link_handler): no IO is served
 * until it reconnects, so a sheep cut off from ZooKeeper -- its cluster NIC
 * down -- stops before the ensemble expires it and the others go on.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
#include <zookeeper/zookeeper.h>

#include "cluster.h"
#include "event.h"
#include "evlog.h"
#include "net.h"
#include "sheep.h"
#include "util.h"

#define DEFAULT_TIMEOUT_MS	30000
#define TICK_MS			500
#define MAX_HOSTS_LEN		1024

static zhandle_t *zh;
static char base[256], queue_dir[300], member_dir[300];
static int wake_fd = -1, tick_fd = -1;
static uint64_t self_inc;
static int64_t last_seq = -1;
static int session_timeout_ms;
static uint64_t last_pong;		/* when ZooKeeper last answered a ping (atomic) */
static uint64_t last_ping;		/* when we last sent one */
static char hosts_str[MAX_HOSTS_LEN];	/* for messages */
static uint64_t lost_since;		/* when the connection went; 0 while connected */
static char *rec_buf;			/* one record, read from the queue */
static struct String_vector live;	/* member znode names, sorted */
static char snap_path[310];		/* BASE/snap: the log's state at a position */
static int64_t snap_pos = -1;		/* the newest snapshot we know of */
static int64_t last_ctime;		/* ZooKeeper's clock when our last record was made (ms) */
static int keep_opt_ms;			/* keep=: 0 for the default (keep_ms) */
static unsigned nr_appended;		/* records we appended */
static bool members_changed = true;	/* atomic: the member watch fired (or a session event) */
static bool queue_touched = true;	/* atomic: the queue's data watch fired: set it again */
static bool oldest_gone;		/* atomic: one of the oldest members' znodes went */
static int64_t tail_hint = -1;		/* the records up to this one exist (or were trimmed) */

static uint64_t now_ms(void);

static void zk_watcher(zhandle_t *z, int type, int state, const char *path, void *ctx)
{
	uint64_t one = 1;

	(void)z;
	(void)state;
	(void)path;
	(void)ctx;
	/*
	 * The member list is listed again only when it changed (a listing is
	 * every member): its child watch fired (the WATCHERS oldest members
	 * hold one); for the others an exists watch on one of those oldest
	 * members' znodes (DELETED) starts a grace (watch_oldest).  The
	 * queue's watch is a data watch on the queue znode, which every append
	 * touches (CHANGED).
	 */
	if (type == ZOO_SESSION_EVENT || type == ZOO_CHILD_EVENT)
		__atomic_store_n(&members_changed, true, __ATOMIC_RELEASE);
	if (type == ZOO_DELETED_EVENT)
		__atomic_store_n(&oldest_gone, true, __ATOMIC_RELEASE);
	if (type == ZOO_SESSION_EVENT || type == ZOO_CHANGED_EVENT)
		__atomic_store_n(&queue_touched, true, __ATOMIC_RELEASE);
	if (wake_fd >= 0)
		(void)!write(wake_fd, &one, sizeof(one));
}

static int append(uint32_t type, const struct sd_node *node, uint64_t inc, const void *buf,
		  uint32_t len, uint32_t batch)
{
	struct ev_hdr h = { .magic = EV_MAGIC, .type = type, .inc = inc, .len = len,
			    .batch = batch };
	char path[320], *rec = xmalloc(sizeof(h) + len);
	zoo_op_result_t res[2];
	struct Stat st;
	zoo_op_t ops[2];
	int rc;

	h.node = *node;
	memset(h.node.__rb, 0, sizeof(h.node.__rb));
	memcpy(rec, &h, sizeof(h));
	if (len)
		memcpy(rec + sizeof(h), buf, len);
	snprintf(path, sizeof(path), "%s/ev-", queue_dir);
	/* the record, and a touch of the queue's own data: that wakes the readers */
	zoo_create_op_init(&ops[0], path, rec, (int)(sizeof(h) + len), &ZOO_OPEN_ACL_UNSAFE,
			   ZOO_SEQUENCE, NULL, 0);
	zoo_set_op_init(&ops[1], queue_dir, NULL, -1, -1, &st);
	rc = zoo_multi(zh, 2, ops, res);
	free(rec);
	if (rc != ZOK) {
		sd_err("zookeeper: cannot append to %s: %s", queue_dir, zerror(rc));
		return -EIO;
	}
	nr_appended++;
	tail_hint = MAX(tail_hint, (int64_t)st.version - 1);
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool zk_alive(const struct evlog_member *m)
{
	char name[32];

	snprintf(name, sizeof(name), "%016" PRIx64, m->inc);
	return bsearch(&(const char *){ name }, live.data, (size_t)live.count, sizeof(char *),
		       cmp_str) != NULL;
}

static const struct evlog_ops zk_ops = {
	.append = append,
	.alive = zk_alive,
};

/*
 * Who watches the member list.  A child watch held by every member made
 * each join and leave cost N listings of N names (ZooKeeper: 1.9 s of CPU
 * per leave at 200 sheep; a boot storm N^3).  So only the WATCHERS oldest
 * members hold it, and reap (the oldest at once, the others after a grace:
 * evlog_reap); every other member and joiner holds an exists watch on one
 * of those oldest members' znodes (watch_oldest), and lists the members,
 * and reaps, only when one of them is gone and its LEAVE has not come 2 s
 * later (oldest_grace).
 */
#define WATCHERS	3

/* the member znode of the sheep life with this incarnation (session id) */
#define MEMBER_PATH_LEN	(sizeof(member_dir) + 32)
static void member_path(char *path, uint64_t inc)
{
	snprintf(path, MEMBER_PATH_LEN, "%s/%016" PRIx64, member_dir, inc);
}

static bool watching;			/* we hold the member list's child watch */
static uint64_t watched;		/* the oldest member we hold an exists watch on */

static bool is_watcher(void)
{
	int r = evlog_rank();

	return r >= 0 && r < WATCHERS;
}

#define GONE_GRACE_MS	2000

/*
 * One of the oldest members' znodes went: the watchers left alive append
 * its LEAVE.  Only if that has not come GONE_GRACE_MS later (every watcher
 * died?) do we look for ourselves: the oldest members' znodes, then, if one
 * is gone, the whole list (and we reap).  Listing at once, every member of
 * a 1000-sheep cluster listed 1000 names whenever one of the oldest died.
 */
static void oldest_grace(void)
{
	static uint64_t since;
	const struct evlog_member *m;
	int n = MIN(evlog_members(&m), WATCHERS);

	if (__atomic_exchange_n(&oldest_gone, false, __ATOMIC_ACQ_REL) && !since)
		since = now_ms();
	if (!since || now_ms() - since < GONE_GRACE_MS)
		return;
	since = 0;
	for (int i = 0; i < n; i++) {
		char path[MEMBER_PATH_LEN];

		member_path(path, m[i].inc);
		if (zoo_exists(zh, path, 0, NULL) == ZNONODE) {
			__atomic_store_n(&members_changed, true, __ATOMIC_RELEASE);
			return;
		}
	}
}

/*
 * Not a watcher: an exists watch on one of the WATCHERS oldest members,
 * which one by our session id, so a watcher's death wakes a third of the
 * others, not all of them; if all three die, everyone's is among them.
 */
static void watch_oldest(void)
{
	const struct evlog_member *m;
	int n = MIN(evlog_members(&m), WATCHERS), rc;
	char path[MEMBER_PATH_LEN];
	uint64_t inc;

	if (watching)
		return;
	oldest_grace();
	if (!n)
		return;
	inc = m[self_inc % (uint64_t)n].inc;
	if (inc == watched)
		return;
	member_path(path, inc);
	rc = zoo_exists(zh, path, 1, NULL);
	if (rc == ZNONODE)	/* gone already: as if its watch had fired */
		__atomic_store_n(&oldest_gone, true, __ATOMIC_RELEASE);
	if (rc == ZOK || rc == ZNONODE)
		watched = inc;
}

/* the live member znodes (watched by a watcher); true: listed just now */
static int refresh_members(bool *listed)
{
	struct String_vector v = { 0, NULL };
	bool w = is_watcher();
	int rc;

	*listed = false;
	if (w && !watching)	/* we became one: list, with the watch */
		__atomic_store_n(&members_changed, true, __ATOMIC_RELEASE);
	if (!__atomic_exchange_n(&members_changed, false, __ATOMIC_ACQ_REL))
		return 0;	/* no watch of ours has fired */
	rc = zoo_get_children(zh, member_dir, w, &v);
	if (rc != ZOK) {
		__atomic_store_n(&members_changed, true, __ATOMIC_RELEASE);
		sd_err("zookeeper: cannot list %s: %s", member_dir, zerror(rc));
		return -EIO;
	}
	watching = w;
	deallocate_String_vector(&live);
	live = v;
	qsort(live.data, (size_t)live.count, sizeof(char *), cmp_str);
	*listed = true;
	return 0;
}

/* reap with a fresh listing; one not watching lists again until the dead are gone */
static void reap(bool listed)
{
	if (!watching && !listed)
		return;	/* our listing may be old: a member since then would look dead */
	/* a LEAVE it appends wakes us through the queue's watch */
	if (evlog_reap() && !watching)
		__atomic_store_n(&members_changed, true, __ATOMIC_RELEASE);
}

/*
 * A queue record by its sequence number: applied (ZOK), ZNONODE, or an
 * error.  Records are read one by one by number, never by listing the
 * queue: a listing returns its whole history, and every member listing it
 * at every event made a boot storm of N sheep cost N^3 (300 sheep: 100 s to
 * join, two thirds of it CPU).  Their numbers follow each other (a delete
 * does not move ZooKeeper's sequence counter); the records trim() deletes
 * are behind every reader, and a gap a reader does meet (it fell that far
 * behind, or a record was deleted by hand) is found by the listing
 * gap_check() makes now and then.
 */
static int apply_seq(int64_t seq)
{
	char path[sizeof(queue_dir) + 32];
	int len = (int)(sizeof(struct ev_hdr) + EV_MAX_PAYLOAD), rc;
	struct ev_hdr h;
	struct Stat st;

	snprintf(path, sizeof(path), "%s/ev-%010" PRId64, queue_dir, seq);
	rc = zoo_get(zh, path, 0, rec_buf, &len, &st);
	if (rc != ZOK) {
		if (rc != ZNONODE)
			sd_err("zookeeper: cannot read %s: %s", path, zerror(rc));
		return rc;
	}
	last_seq = seq;
	last_ctime = st.ctime;
	memcpy(&h, rec_buf, sizeof(h));
	if (len < (int)sizeof(h) || h.magic != EV_MAGIC || h.len != (uint32_t)len - sizeof(h)) {
		sd_err("zookeeper: %s is not a sheep event, skipped", path);
		return ZOK;
	}
	evlog_apply(&h, rec_buf + sizeof(h), (uint64_t)seq);
	return ZOK;
}

#define GAP_CHECK_MS	5000
#define SNAP_EVERY	256		/* records between two snapshots, at least */
#define SNAP_MAX	1000000		/* bytes: within ZooKeeper's 1 MiB for a znode */
#define SNAP_CHECK_MS	5000

/*
 * A process not yet a member starts from the snapshot, if there is one and
 * it is ahead of us: 0 with last_seq at its position.  Accepted already
 * (our ACCEPT was in what the log dropped), we start over as a new member.
 */
static int load_snapshot(void)
{
	char *buf = xmalloc(SNAP_MAX);
	int len = SNAP_MAX, rc = zoo_get(zh, snap_path, 0, buf, &len, NULL), ret;
	int64_t at;
	uint64_t pos;

	if (rc != ZOK) {
		free(buf);
		if (rc != ZNONODE)
			sd_err("zookeeper: cannot read %s: %s", snap_path, zerror(rc));
		return -ENOENT;
	}
	at = evlog_snapshot_pos(buf, (size_t)len);
	ret = at < 0 ? -EINVAL : at <= last_seq ? -ENOENT : evlog_restore(buf, (size_t)len, &pos);
	if (ret == -EEXIST)
		sheep_restart("zookeeper: we were accepted in a part of the log that is gone now "
			      "(we read it too slowly): joining again");
	free(buf);
	if (ret == -EINVAL)
		sd_err("zookeeper: %s is not a snapshot of ours: ignored", snap_path);
	if (ret)
		return ret;
	last_seq = (int64_t)pos;
	snap_pos = last_seq;
	sd_info("zookeeper: starting from the snapshot of the log at %" PRId64, last_seq);
	return 0;
}

/*
 * The next record is not there: is there a later one (a gap)?  Listed at
 * the first catch-up and then at most every GAP_CHECK_MS.  Moves last_seq
 * before the lowest later record and says so.
 */
static bool gap_check(void)
{
	static uint64_t last_check;
	struct String_vector v = { 0, NULL };
	int64_t lowest = -1;

	if (last_seq >= 0 && now_ms() - last_check < GAP_CHECK_MS)
		return false;
	last_check = now_ms();
	if (zoo_get_children(zh, queue_dir, 0, &v) != ZOK)
		return false;
	for (int i = 0; i < v.count; i++) {
		long long q;

		if (sscanf(v.data[i], "ev-%lld", &q) == 1 && q > last_seq && (lowest < 0 || q < lowest))
			lowest = q;
	}
	deallocate_String_vector(&v);
	if (lowest < 0 || lowest == last_seq + 1)
		return false;
	/* a member cannot skip what it has not delivered */
	if (evlog_joined())
		sheep_restart("zookeeper: records of the log we had not read are gone (we fell "
			      "further behind than the log is kept): the cluster has gone on "
			      "without us");
	/* one not yet a member starts from the snapshot that covers them */
	switch (load_snapshot()) {
	case 0:
		if (last_seq + 1 >= lowest)
			return true;
		break;
	case -EINVAL:
		return false;	/* the oldest member soon writes a good one (snapshot()) */
	}
	if (last_seq >= 0)
		sd_notice("zookeeper: records %" PRId64 "-%" PRId64 " of the queue are gone; going on "
			  "at %" PRId64, last_seq + 1, lowest - 1, lowest);
	last_seq = lowest - 1;
	return true;
}

/*
 * Apply every queued record we have not applied yet, in sequence order.
 * What wakes us for the next one is a data watch on the queue znode, which
 * every append touches in the same transaction (append()), set again before
 * we read whenever it fired.  An exists watch on the next record's name, as
 * before, stayed on the server whenever that record came in between (and
 * zoo_remove_watches does not remove a watch on the server, measured with
 * ZooKeeper 3.8): 7531 watches left at 200 sheep.  The queue znode's
 * version counts the appends, so records up to version - 1 are there: we
 * read up to that and do not ask for the one after (a third of the round
 * trips per record per member in a boot storm), but every GAP_CHECK_MS.
 */
static int catch_up(void)
{
	static uint64_t last_probe;

	for (;;) {
		struct Stat st;
		bool probe;
		int rc;
		unsigned n;

		if (__atomic_exchange_n(&queue_touched, false, __ATOMIC_ACQ_REL)) {
			rc = zoo_exists(zh, queue_dir, 1, &st);
			if (rc != ZOK) {
				__atomic_store_n(&queue_touched, true, __ATOMIC_RELEASE);
				sd_err("zookeeper: cannot watch %s: %s", queue_dir, zerror(rc));
				return -EIO;
			}
			tail_hint = MAX(tail_hint, (int64_t)st.version - 1);
		}
		probe = now_ms() - last_probe >= GAP_CHECK_MS;
		if (last_seq < tail_hint || probe) {
			if (last_seq >= tail_hint)
				last_probe = now_ms();
			rc = apply_seq(last_seq + 1);
			if (rc == ZOK)
				continue;
			if (rc != ZNONODE)
				return -EIO;
			/* one that should be there is not: gone (trimmed, deleted) */
			if (last_seq < tail_hint && gap_check())
				continue;
		}
		/* at the end: the acceptor may append, then read that too */
		n = nr_appended;
		evlog_caught_up();
		if (nr_appended != n)
			continue;
		return 0;
	}
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * The link as the core sees it.  While it is lost the client library logs
 * every failed connect (a dozen lines a second with the NIC down): it is
 * silenced until the link is back, our own line having said it.
 */
static void link_state(bool ok)
{
	static bool lost;

	if (ok == !lost)
		return;
	lost = !ok;
	zoo_set_debug_level(ok ? ZOO_LOG_LEVEL_ERROR : (ZooLogLevel)0);
	sd_link_handler(ok);
}

static void pong(int rc, const struct Stat *stat, const void *data)
{
	(void)stat;
	(void)data;
	if (rc == ZOK || rc == ZNONODE)
		__atomic_store_n(&last_pong, now_ms(), __ATOMIC_RELEASE);
}

/*
 * Our lease: the ensemble expires a session it has not heard from for the
 * whole timeout, and the others then go on without us.  Our client gives
 * up on a silent server only after 2/3 of it, a margin a starved machine
 * can overrun; so we ask ZooKeeper ourselves six times a timeout (at most
 * four times a second) and count the link lost once no answer came for
 * half of it.  The watch thread does, not the main loop: a synchronous
 * call of ours blocks it until the client gives up.
 */
static bool lease_holds(void)
{
	uint64_t now = now_ms(), pong_at = __atomic_load_n(&last_pong, __ATOMIC_ACQUIRE);

	if (zoo_state(zh) != ZOO_CONNECTED_STATE)
		return false;
	if (now - last_ping >= (uint64_t)MAX(250, session_timeout_ms / 6)) {
		last_ping = now;
		zoo_aexists(zh, base, 0, pong, NULL);
	}
	return now - pong_at <= (uint64_t)session_timeout_ms / 2;
}

/*
 * Frozen (SIGSTOP, a stalled VM) for longer than the session timeout: the
 * ensemble has expired us even if our client has not heard yet.  Watched by
 * a thread of its own that only sleeps, so a main loop that is merely busy
 * or waits on a slow disk is not taken for a frozen process (the client
 * library's own thread keeps the session alive meanwhile).  The same thread
 * keeps our lease (lease_holds).
 */
static void *freeze_watch(void *arg)
{
	uint64_t last = now_ms(), now;
	char why[160];

	(void)arg;
	for (;; last = now) {
		usleep(TICK_MS * 1000);
		now = now_ms();
		if (__atomic_load_n(&sys->joined, __ATOMIC_ACQUIRE))
			link_state(lease_holds());
		if (now - last <= (uint64_t)session_timeout_ms)
			continue;
		snprintf(why, sizeof(why), "zookeeper: this process was stopped for %" PRIu64
			 " ms, longer than the session timeout: the cluster has gone on "
			 "without us", now - last);
		sheep_restart(why);
	}
	return NULL;
}

static void check_session(void)
{
	if (zoo_state(zh) == ZOO_EXPIRED_SESSION_STATE)
		sheep_restart("zookeeper: our session expired: the cluster has gone on without us");
}

/* how long a sheep not yet joined waits for ZooKeeper before its start fails */
static uint64_t join_limit_ms(void)
{
	return 2 * (uint64_t)session_timeout_ms + 2000;
}

/* the start fails: in the log, and the launcher prints why */
static void fail_start(const char *why)
{
	sd_err("%s", why);
	sheep_startup_failed(why);
}

/*
 * Not joined yet and no server answering for twice the session timeout: the
 * start fails with a reason instead of leaving its launcher waiting for good.
 * A member keeps waiting (its session holds while the ensemble has no quorum).
 */
static void check_joining(void)
{
	uint64_t now = now_ms(), limit = join_limit_ms();
	char why[MAX_HOSTS_LEN + 128];

	if (zoo_state(zh) == ZOO_CONNECTED_STATE) {
		lost_since = 0;
		return;
	}
	if (!lost_since)
		lost_since = now;
	if (sys->joined || sys->exiting || now - lost_since < limit)
		return;
	snprintf(why, sizeof(why), "cannot join: no ZooKeeper server of %s answered for %" PRIu64
		 " ms", hosts_str, now - lost_since);
	fail_start(why);
	sheep_request_exit();
}

/* records stay this long after a snapshot covers them (keep=) */
static int64_t keep_ms(void)
{
	return keep_opt_ms ? keep_opt_ms : MAX((int64_t)60000, 3 * (int64_t)session_timeout_ms);
}

static void deleted(int rc, const void *data)
{
	(void)data;
	if (rc != ZOK && rc != ZNONODE)
		sd_err("zookeeper: cannot trim the log: %s", zerror(rc));
}

/* delete the records up to upto (they are behind every reader) */
static void trim(int64_t upto)
{
	struct String_vector v = { 0, NULL };
	char path[sizeof(queue_dir) + 32];
	int n = 0;

	if (zoo_get_children(zh, queue_dir, 0, &v) != ZOK)
		return;
	for (int i = 0; i < v.count; i++) {
		long long q;

		if (sscanf(v.data[i], "ev-%lld", &q) != 1 || q > upto)
			continue;
		snprintf(path, sizeof(path), "%s/%s", queue_dir, v.data[i]);
		if (zoo_adelete(zh, path, -1, deleted, NULL) == ZOK)
			n++;
	}
	deallocate_String_vector(&v);
	if (n)
		sd_info("zookeeper: %d records of the log up to %" PRId64 " deleted", n, upto);
}

/*
 * Trimming the log (it would grow with the cluster's history, and a joiner
 * would read all of it).  The oldest member, once SNAP_EVERY records came
 * after the snapshot and the snapshot is keep_ms() old (ZooKeeper's clock),
 * writes the state at its position in BASE/snap and deletes the records the
 * snapshot it replaces covered: a snapshot covered them for keep_ms()
 * already, every reader has long passed them (one that has not is too far
 * behind to be a member: gap_check) and a joiner starts from the snapshot.
 * So the log holds what came in the last two such periods.
 */
static void snapshot(void)
{
	static uint64_t last_try;
	char hdr[64];
	int hlen = sizeof(hdr), rc;
	int64_t old_pos = -1;
	bool foreign;
	uint64_t pos;
	struct Stat st;
	size_t len;
	void *buf;

	if (!evlog_oldest() || now_ms() - last_try < SNAP_CHECK_MS)
		return;
	last_try = now_ms();
	rc = zoo_get(zh, snap_path, 0, hdr, &hlen, &st);
	if (rc == ZOK) {
		/* one that is not ours (written by hand?) is replaced at once */
		old_pos = evlog_snapshot_pos(hdr, (size_t)hlen);
		snap_pos = MAX(snap_pos, old_pos);
		if (old_pos >= 0 &&
		    (last_seq - snap_pos < SNAP_EVERY || last_ctime - st.mtime < keep_ms()))
			return;
	} else if (rc != ZNONODE || last_seq - snap_pos < SNAP_EVERY) {
		return;
	}
	foreign = rc == ZOK && old_pos < 0;
	buf = evlog_snapshot(SNAP_MAX, &len, &pos);
	if (!buf)
		return;	/* too many joins waiting to fit: later */
	if (rc == ZOK)
		rc = zoo_set(zh, snap_path, buf, (int)len, st.version);
	else
		rc = zoo_create(zh, snap_path, buf, (int)len, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
	free(buf);
	if (rc != ZOK) {
		/* another oldest member did (ZBADVERSION, ZNODEEXISTS): fine */
		if (rc != ZBADVERSION && rc != ZNODEEXISTS)
			sd_err("zookeeper: cannot write %s: %s", snap_path, zerror(rc));
		return;
	}
	snap_pos = (int64_t)pos;
	if (old_pos >= 0)
		trim(old_pos);
	else if (foreign)
		sd_err("zookeeper: %s is not a snapshot of ours: replaced", snap_path);
}

static void process(void)
{
	bool listed;

	check_session();
	check_joining();
	if (zoo_state(zh) != ZOO_CONNECTED_STATE)
		return;	/* the client library reconnects; the session still holds */
	if (catch_up() || refresh_members(&listed))
		return;
	reap(listed);
	watch_oldest();
	evlog_kick_block();
	snapshot();
}

static void wake_handler(int fd, uint32_t events, void *data)
{
	uint64_t n;

	(void)events;
	(void)data;
	(void)!read(fd, &n, sizeof(n));
	process();
}

/* host list, timeout=, id= */
static int parse_option(const char *option, char *hosts, size_t hlen, int *timeout_ms,
			int *keep, char *id, size_t idlen)
{
	char s[MAX_HOSTS_LEN], *tok, *save = NULL;

	snprintf(s, sizeof(s), "%s", option ? option : "");
	hosts[0] = '\0';
	*timeout_ms = DEFAULT_TIMEOUT_MS;
	snprintf(id, idlen, "default");
	for (tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strncmp(tok, "timeout=", 8)) {
			if (cdrv_parse_timeout(tok + 8, timeout_ms))
				goto bad_timeout;
		} else if (!strncmp(tok, "keep=", 5)) {
			if (cdrv_parse_timeout(tok + 5, keep)) {
				sd_err("zookeeper: bad keep '%s' (1s to 600s, e.g. keep=60s)", tok + 5);
				return -EINVAL;
			}
		} else if (!strncmp(tok, "id=", 3)) {
			if (cdrv_parse_id(tok + 3, id, idlen)) {
				sd_err("zookeeper: bad id '%s'", tok + 3);
				return -EINVAL;
			}
		} else if (strchr(tok, ':')) {
			size_t l = strlen(hosts);
			char *slash = strchr(tok, '/');

			/* Sheepdog's HOST:PORT,...,HOST:PORT/CLUSTER_ID names the cluster */
			if (slash) {
				*slash = '\0';
				if (!slash[1] || strlen(slash + 1) >= idlen || strchr(slash + 1, '/')) {
					sd_err("zookeeper: bad cluster id '%s'", slash + 1);
					return -EINVAL;
				}
				snprintf(id, idlen, "%s", slash + 1);
			}
			snprintf(hosts + l, hlen - l, "%s%s", l ? "," : "", tok);
		} else {
			sd_err("zookeeper: bad option '%s' (want HOST:PORT,...,timeout=10s,id=NAME,"
			       "keep=60s)",
			       tok);
			return -EINVAL;
		}
	}
	if (!hosts[0]) {
		sd_err("zookeeper: no server given (-c zookeeper:HOST:PORT[,HOST:PORT...])");
		return -EINVAL;
	}
	return 0;
bad_timeout:
	sd_err("zookeeper: bad timeout '%s' (1s to 600s, e.g. timeout=10s)", tok + 8);
	return -EINVAL;
}

static void mkpath(const char *path)
{
	int rc = zoo_create(zh, path, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);

	if (rc != ZOK && rc != ZNODEEXISTS)
		sd_err("zookeeper: cannot create %s: %s", path, zerror(rc));
}

static int zk_init(const char *option)
{
	struct itimerspec its = { .it_interval = { 0, TICK_MS * 1000000L },
				  .it_value = { 0, TICK_MS * 1000000L } };
	char hosts[MAX_HOSTS_LEN], id[64];
	int timeout_ms, ret = parse_option(option, hosts, sizeof(hosts), &timeout_ms, &keep_opt_ms,
					   id, sizeof(id));

	if (ret)
		return ret;
	zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
	{
		/* the client library's own complaints go to our log, not a terminal */
		int fd = fcntl(log_get_fd(), F_DUPFD_CLOEXEC, 0);
		FILE *f = fd >= 0 ? fdopen(fd, "a") : NULL;

		if (f) {
			setvbuf(f, NULL, _IOLBF, 0);
			zoo_set_log_stream(f);
		} else if (fd >= 0) {
			close(fd);
		}
	}
	wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	tick_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (wake_fd < 0 || tick_fd < 0 || timerfd_settime(tick_fd, 0, &its, NULL) < 0)
		return -errno;
	zh = zookeeper_init(hosts, zk_watcher, timeout_ms, NULL, NULL, 0);
	if (!zh) {
		sd_err("zookeeper: cannot start a client for %s: %m", hosts);
		return -EIO;
	}
	for (int waited = 0; zoo_state(zh) != ZOO_CONNECTED_STATE; waited += 50) {
		if (waited >= timeout_ms) {
			sd_err("zookeeper: no server of %s answered within %d ms", hosts,
			       timeout_ms);
			return -ETIMEDOUT;
		}
		usleep(50000);
	}
	self_inc = (uint64_t)zoo_client_id(zh)->client_id;
	last_pong = now_ms();
	session_timeout_ms = timeout_ms;
	snprintf(hosts_str, sizeof(hosts_str), "%s", hosts);
	snprintf(base, sizeof(base), "/sheep/%s", id);
	snprintf(queue_dir, sizeof(queue_dir), "%s/queue", base);
	snprintf(member_dir, sizeof(member_dir), "%s/member", base);
	snprintf(snap_path, sizeof(snap_path), "%s/snap", base);
	mkpath("/sheep");
	mkpath(base);
	mkpath(queue_dir);
	mkpath(member_dir);
	rec_buf = xmalloc(sizeof(struct ev_hdr) + EV_MAX_PAYLOAD);
	evlog_init(&zk_ops, self_inc);
	{
		pthread_t t;
		int err = pthread_create(&t, NULL, freeze_watch, NULL);

		if (err) {
			sd_err("zookeeper: cannot start the freeze watch: %s", strerror(err));
			return -err;
		}
		pthread_detach(t);
	}
	if (register_event(wake_fd, wake_handler, NULL) < 0 ||
	    register_event(tick_fd, wake_handler, NULL) < 0)
		return -EINVAL;
	sd_info("zookeeper: connected to %s, session %016" PRIx64 ", timeout %d ms, base %s",
		hosts, self_inc, timeout_ms, base);
	return 0;
}

static int zk_join(const struct sd_node *myself, void *opaque, size_t len)
{
	char path[MEMBER_PATH_LEN];
	bool told = false;
	int rc, ret;

	member_path(path, self_inc);
	rc = zoo_create(zh, path, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL, NULL, 0);
	if (rc != ZOK) {
		sd_err("zookeeper: cannot create %s: %s", path, zerror(rc));
		return -EIO;
	}
	/*
	 * A quick restart: our previous incarnation leaves when its session
	 * ends.  Meanwhile a lost connection is waited out (the client library
	 * reconnects) and an expired session (we were frozen, say) starts over
	 * as a member's does, the launcher still waiting for the new image:
	 * neither fails the start.  The wait adds up each pass's own time, a
	 * pass counting at most one session timeout: a call blocked on an
	 * unreachable server counts, a freeze does not use the wait up (the
	 * freeze watch restarts us).
	 */
	load_snapshot();	/* rather than the whole log since the cluster's start */
	for (uint64_t waited = 0, limit = join_limit_ms();;) {
		uint64_t t0 = now_ms();
		bool listed, answered;

		/* listed every pass: we may wait for our old session's znode to go */
		__atomic_store_n(&members_changed, true, __ATOMIC_RELEASE);
		answered = !catch_up() && !refresh_members(&listed);
		if (answered) {
			reap(listed);
			catch_up();
			if (!evlog_addr_taken(myself))
				break;
			if (!told)
				sd_notice("zookeeper: an earlier sheep at this address still has a "
					  "session; waiting up to %" PRIu64 " ms for it to end", limit);
			told = true;
		} else {
			check_session();
		}
		if (waited > limit) {
			char why[MAX_HOSTS_LEN + 128];

			if (answered)
				snprintf(why, sizeof(why), "a live sheep already uses this address and port");
			else
				snprintf(why, sizeof(why), "cannot join: no ZooKeeper server of %s answered "
					 "while we waited for our old session to end", hosts_str);
			fail_start(why);
			return answered ? -EADDRINUSE : -EIO;
		}
		usleep(200000);
		waited += MIN(now_ms() - t0, (uint64_t)session_timeout_ms);
	}
	ret = evlog_join(myself, opaque, len);
	if (ret)
		check_session();
	else
		process();
	return ret;
}

static int zk_leave(void)
{
	char path[MEMBER_PATH_LEN];
	int ret;

	/* no server: the others see us leave when our session ends */
	if (zoo_state(zh) != ZOO_CONNECTED_STATE)
		return 0;
	ret = evlog_leave();
	member_path(path, self_inc);
	zoo_delete(zh, path, -1);
	return ret;
}

static struct cluster_driver cdrv_zookeeper = {
	.name = "zookeeper",
	.init = zk_init,
	.join = zk_join,
	.leave = zk_leave,
	.notify = evlog_notify,
	.block = evlog_block,
	.unblock = evlog_unblock,
	.update_node = evlog_update_node,
	.get_local_addr = net_first_addr,
};

cdrv_register_driver(cdrv_zookeeper)
