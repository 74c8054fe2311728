/*
 * event.c - an epoll loop owned by the main thread.
 *
 * Handlers are looked up through a small table keyed by fd, so a handler may
 * unregister any fd (its own included) while events are being dispatched:
 * a stale event for an fd unregistered earlier in the same batch is dropped.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "event.h"
#include "util.h"

struct event_info {
	event_handler_t handler;
	void *data;
	uint64_t gen;		/* changes on every (re)registration */
};

static int efd = -1;
static struct event_info *events;
static int nr_events_slots;
static uint64_t next_gen = 1;
static volatile int loop_running;
static void (*post_hook)(void);

void event_set_post_hook(void (*fn)(void))
{
	post_hook = fn;
}

int event_init(void)
{
	efd = epoll_create1(EPOLL_CLOEXEC);
	if (efd < 0)
		return -errno;
	return 0;
}

int register_event(int fd, event_handler_t h, void *data)
{
	struct epoll_event ev = { .events = EPOLLIN };

	if (fd >= nr_events_slots) {
		int n = MAX(fd + 1, nr_events_slots * 2);

		events = xrealloc(events, sizeof(*events) * (size_t)n);
		memset(events + nr_events_slots, 0,
		       sizeof(*events) * (size_t)(n - nr_events_slots));
		nr_events_slots = n;
	}
	events[fd].handler = h;
	events[fd].data = data;
	events[fd].gen = next_gen++;
	ev.data.u64 = ((uint64_t)(uint32_t)fd << 32) | (events[fd].gen & 0xffffffff);
	if (epoll_ctl(efd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int err = -errno;

		events[fd].handler = NULL;
		return err;
	}
	return 0;
}

int modify_event(int fd, uint32_t ev_mask)
{
	struct epoll_event ev = { .events = ev_mask };

	if (fd >= nr_events_slots || !events[fd].handler)
		return -ENOENT;
	ev.data.u64 = ((uint64_t)(uint32_t)fd << 32) | (events[fd].gen & 0xffffffff);
	if (epoll_ctl(efd, EPOLL_CTL_MOD, fd, &ev) < 0)
		return -errno;
	return 0;
}

void unregister_event(int fd)
{
	if (fd < 0 || fd >= nr_events_slots || !events[fd].handler)
		return;
	epoll_ctl(efd, EPOLL_CTL_DEL, fd, NULL);
	events[fd].handler = NULL;
	events[fd].data = NULL;
}

int event_loop_once(int timeout_ms)
{
	struct epoll_event evs[128];
	int n = epoll_wait(efd, evs, (int)ARRAY_SIZE(evs), timeout_ms);

	if (n < 0) {
		if (errno == EINTR)
			return 0;
		panic("epoll_wait: %m");
	}
	for (int i = 0; i < n; i++) {
		int fd = (int)(evs[i].data.u64 >> 32);
		uint32_t gen = (uint32_t)evs[i].data.u64;
		struct event_info *ei;

		if (fd >= nr_events_slots)
			continue;
		ei = &events[fd];
		if (!ei->handler || (uint32_t)ei->gen != gen)
			continue;
		ei->handler(fd, evs[i].events, ei->data);
	}
	if (post_hook)
		post_hook();
	return n;
}

int event_loop(void)
{
	loop_running = 1;
	while (loop_running)
		event_loop_once(-1);
	return 0;
}

void event_loop_stop(void)
{
	loop_running = 0;
}
