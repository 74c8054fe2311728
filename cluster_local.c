/*
 * cluster_local.c - the "local" cluster driver (-c local[:DIR]).
 *
 * This version orders events for a single member: the sheep process itself.
 * Events are queued in memory and delivered from the main loop (never from
 * inside the call that produced them), non-block events first, then the
 * head block event, exactly as CLUSTER-DRIVERS.md requires of every driver.
 * Rendezvous of several processes through DIR comes with multi-node support;
 * until then DIR is accepted and ignored.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "cluster.h"
#include "event.h"
#include "util.h"

enum local_event_type { EV_JOIN, EV_NOTIFY, EV_BLOCK };

struct local_event {
	enum local_event_type type;
	struct sd_node sender;
	void *buf;
	size_t len;
	bool callbacked;
	struct list_node link;
};

static int kick_fd = -1;
static struct sd_node self;
static bool joined;
static struct list_node nonblock_queue, block_queue;

static void kick(void)
{
	uint64_t one = 1;

	(void)!write(kick_fd, &one, sizeof(one));
}

static void push(struct list_node *q, enum local_event_type type, const void *buf, size_t len)
{
	struct local_event *ev = xzalloc(sizeof(*ev));

	ev->type = type;
	ev->sender = self;
	if (len) {
		ev->buf = xmalloc(len);
		memcpy(ev->buf, buf, len);
	}
	ev->len = len;
	list_add_tail(&ev->link, q);
	kick();
}

static void free_event(struct local_event *ev)
{
	list_del(&ev->link);
	free(ev->buf);
	free(ev);
}

static void process_events(int fd, uint32_t events, void *data)
{
	uint64_t cnt;

	(void)events;
	(void)data;
	(void)!read(fd, &cnt, sizeof(cnt));
	while (!list_empty(&nonblock_queue)) {
		struct local_event *ev = list_first_entry(&nonblock_queue, struct local_event,
							  link);

		switch (ev->type) {
		case EV_JOIN:
			sd_join_handler(&ev->sender, NULL, 0, ev->buf);
			joined = true;
			sd_accept_handler(&ev->sender, &ev->sender, 1, ev->buf);
			break;
		case EV_NOTIFY:
			sd_notify_handler(&ev->sender, ev->buf, ev->len);
			break;
		case EV_BLOCK:
			break;
		}
		free_event(ev);
	}
	if (!list_empty(&block_queue)) {
		struct local_event *ev = list_first_entry(&block_queue, struct local_event, link);

		if (!ev->callbacked)
			ev->callbacked = sd_block_handler(&ev->sender);
	}
}

static int local_init(const char *option)
{
	(void)option;
	list_init(&nonblock_queue);
	list_init(&block_queue);
	kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (kick_fd < 0)
		return -errno;
	return register_event(kick_fd, process_events, NULL);
}

static int local_get_local_addr(uint8_t addr[16])
{
	memset(addr, 0, 16);
	addr[12] = 127;
	addr[15] = 1;
	return 0;
}

static int local_join(const struct sd_node *myself, void *opaque, size_t opaque_len)
{
	self = *myself;
	push(&nonblock_queue, EV_JOIN, opaque, opaque_len);
	return 0;
}

static int local_leave(void)
{
	return 0;
}

static int local_notify(void *msg, size_t msg_len)
{
	if (msg_len > SD_MAX_EVENT_BUF_SIZE)
		return -EMSGSIZE;
	push(&nonblock_queue, EV_NOTIFY, msg, msg_len);
	return 0;
}

static int local_block(void)
{
	push(&block_queue, EV_BLOCK, NULL, 0);
	return 0;
}

static int local_unblock(void *msg, size_t msg_len)
{
	struct local_event *ev;

	if (list_empty(&block_queue))
		return -EINVAL;
	ev = list_first_entry(&block_queue, struct local_event, link);
	free_event(ev);
	return local_notify(msg, msg_len);
}

static int local_update_node(const struct sd_node *node)
{
	if (joined)
		sd_update_node_handler(node);
	return 0;
}

static struct cluster_driver cdrv_local = {
	.name = "local",
	.init = local_init,
	.get_local_addr = local_get_local_addr,
	.join = local_join,
	.leave = local_leave,
	.notify = local_notify,
	.block = local_block,
	.unblock = local_unblock,
	.update_node = local_update_node,
};

cdrv_register_driver(cdrv_local)
