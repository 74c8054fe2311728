/*
 * work.h - the worker pool.  fn runs on a worker thread and must not touch
 * main-thread state; done runs afterwards on the main thread.
 */
#ifndef SHEEP_WORK_H
#define SHEEP_WORK_H

#include "util.h"

struct work {
	void (*fn)(struct work *w);
	void (*done)(struct work *w);
	struct list_node link;
};

/*
 * Three queues so that a request never waits for a thread of the kind it
 * occupies: client-facing work (gateway, cluster ops) calls peers, whose
 * peer work may recover an object by asking other nodes' serve work, which
 * only touches the local disk.  gateway -> peer -> serve, never a cycle.
 */
enum wq { WQ_GATEWAY, WQ_PEER, WQ_SERVE, NR_WQ };

int work_init(int nr_threads);
void queue_work_on(enum wq q, struct work *w);
static inline void queue_work(struct work *w)
{
	queue_work_on(WQ_GATEWAY, w);
}
/* number of works queued or running, for graceful shutdown */
int work_outstanding(void);
/* any thread: requests served outside the pool count too (request.c) */
void work_outstanding_add(int n);
/* any thread: run w->done on the main thread, w->fn not at all */
void queue_done(struct work *w);

#endif
