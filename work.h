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

int work_init(int nr_threads);
void queue_work(struct work *w);
/* number of works queued or running, for graceful shutdown */
int work_outstanding(void);

#endif
