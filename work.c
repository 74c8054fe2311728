/*
 * work.c - a fixed pool of worker threads for disk and network IO.
 *
 * Locking: each queue's pending list is guarded by its lock, done_list by
 * done_lock.
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

#define SERVE_THREADS 4

struct queue {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct list_node pending;
};

static struct queue queues[NR_WQ];
static pthread_mutex_t done_lock = PTHREAD_MUTEX_INITIALIZER;
static struct list_node done_list;
static int done_efd = -1;
static int outstanding;		/* atomic: main thread and request.c's peer threads */

/*
 * any thread: w->done is to run on the main thread.  Only the work that
 * finds done_list empty wakes the loop: the loop takes the whole list at
 * once, after it has read the eventfd, so whatever joins a list not yet
 * taken is run with it.
 */
static void push_done(struct work *w)
{
	uint64_t one = 1;
	bool wake;

	pthread_mutex_lock(&done_lock);
	wake = list_empty(&done_list);
	list_add_tail(&w->link, &done_list);
	pthread_mutex_unlock(&done_lock);
	if (wake)
		(void)!write(done_efd, &one, sizeof(one));
}

static void *worker_main(void *arg)
{
	struct queue *q = arg;

	for (;;) {
		struct work *w;

		pthread_mutex_lock(&q->lock);
		while (list_empty(&q->pending))
			pthread_cond_wait(&q->cond, &q->lock);
		w = list_first_entry(&q->pending, struct work, link);
		list_del(&w->link);
		pthread_mutex_unlock(&q->lock);

		w->fn(w);
		push_done(w);
	}
	return NULL;
}

void queue_done(struct work *w)
{
	work_outstanding_add(1);
	push_done(w);
}

void work_outstanding_add(int n)
{
	uint64_t one = 1;

	/*
	 * Sequentially consistent, as is sys->exiting: a request either sees
	 * the exit coming or is counted before the main loop looks.  The last
	 * one out (a thread of request.c) wakes the loop to look again.
	 */
	if (__atomic_add_fetch(&outstanding, n, __ATOMIC_SEQ_CST) == 0 && n < 0)
		(void)!write(done_efd, &one, sizeof(one));
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
		__atomic_sub_fetch(&outstanding, 1, __ATOMIC_SEQ_CST);	/* we are the loop */
		if (w->done)
			w->done(w);
	}
}

static int start_threads(struct queue *q, int nr)
{
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->cond, NULL);
	list_init(&q->pending);
	for (int i = 0; i < nr; i++) {
		pthread_t t;
		pthread_attr_t attr;
		int ret;

		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		ret = pthread_create(&t, &attr, worker_main, q);
		pthread_attr_destroy(&attr);
		if (ret)
			return -ret;
	}
	return 0;
}

/* nr_threads each for the gateway and peer queues; a few serve threads */
int work_init(int nr_threads)
{
	int ret;

	list_init(&done_list);
	done_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (done_efd < 0)
		return -errno;
	if (register_event(done_efd, done_handler, NULL) < 0)
		return -EINVAL;
	ret = start_threads(&queues[WQ_GATEWAY], nr_threads);
	if (!ret)
		ret = start_threads(&queues[WQ_PEER], nr_threads);
	if (!ret)
		ret = start_threads(&queues[WQ_SERVE], SERVE_THREADS);
	return ret;
}

void queue_work_on(enum wq which, struct work *w)
{
	struct queue *q = &queues[which];

	__atomic_add_fetch(&outstanding, 1, __ATOMIC_SEQ_CST);
	pthread_mutex_lock(&q->lock);
	list_add_tail(&w->link, &q->pending);
	pthread_cond_signal(&q->cond);
	pthread_mutex_unlock(&q->lock);
}

int work_outstanding(void)
{
	return __atomic_load_n(&outstanding, __ATOMIC_SEQ_CST);
}
