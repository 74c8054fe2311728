/*
 * work.c - a fixed pool of worker threads for disk and network IO.
 *
 * Locking: pending_list is guarded by pending_lock, done_list by done_lock.
 * Workers never call back into the main loop except by appending to
 * done_list and writing the eventfd; the main thread drains done_list and
 * runs each ->done there, so completion handlers own cluster state safely.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "event.h"
#include "work.h"

static pthread_mutex_t pending_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pending_cond = PTHREAD_COND_INITIALIZER;
static struct list_node pending_list;
static pthread_mutex_t done_lock = PTHREAD_MUTEX_INITIALIZER;
static struct list_node done_list;
static int done_efd = -1;
static int outstanding;		/* main thread only */

static void *worker_main(void *arg)
{
	(void)arg;
	for (;;) {
		struct work *w;
		uint64_t one = 1;

		pthread_mutex_lock(&pending_lock);
		while (list_empty(&pending_list))
			pthread_cond_wait(&pending_cond, &pending_lock);
		w = list_first_entry(&pending_list, struct work, link);
		list_del(&w->link);
		pthread_mutex_unlock(&pending_lock);

		w->fn(w);

		pthread_mutex_lock(&done_lock);
		list_add_tail(&w->link, &done_list);
		pthread_mutex_unlock(&done_lock);
		(void)!write(done_efd, &one, sizeof(one));
	}
	return NULL;
}

static void done_handler(int fd, uint32_t events, void *data)
{
	struct list_node list;
	uint64_t cnt;

	(void)events;
	(void)data;
	(void)!read(fd, &cnt, sizeof(cnt));
	list_init(&list);
	pthread_mutex_lock(&done_lock);
	if (!list_empty(&done_list)) {
		/* splice done_list into list */
		list.next = done_list.next;
		list.prev = done_list.prev;
		list.next->prev = &list;
		list.prev->next = &list;
		list_init(&done_list);
	}
	pthread_mutex_unlock(&done_lock);
	while (!list_empty(&list)) {
		struct work *w = list_first_entry(&list, struct work, link);

		list_del(&w->link);
		outstanding--;
		if (w->done)
			w->done(w);
	}
}

int work_init(int nr_threads)
{
	list_init(&pending_list);
	list_init(&done_list);
	done_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (done_efd < 0)
		return -errno;
	if (register_event(done_efd, done_handler, NULL) < 0)
		return -EINVAL;
	for (int i = 0; i < nr_threads; i++) {
		pthread_t t;
		pthread_attr_t attr;
		int ret;

		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		ret = pthread_create(&t, &attr, worker_main, NULL);
		pthread_attr_destroy(&attr);
		if (ret)
			return -ret;
	}
	return 0;
}

void queue_work(struct work *w)
{
	outstanding++;
	pthread_mutex_lock(&pending_lock);
	list_add_tail(&w->link, &pending_list);
	pthread_cond_signal(&pending_cond);
	pthread_mutex_unlock(&pending_lock);
}

int work_outstanding(void)
{
	return outstanding;
}
