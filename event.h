/*
 * event.h - the main loop: epoll over registered fds, each with a handler.
 * Only the main thread calls these.
 */
#ifndef SHEEP_EVENT_H
#define SHEEP_EVENT_H

#include <stdint.h>

typedef void (*event_handler_t)(int fd, uint32_t events, void *data);

int event_init(void);
int register_event(int fd, event_handler_t h, void *data);
int modify_event(int fd, uint32_t events);
void unregister_event(int fd);
/* run until event_loop_stop(); returns 0 */
int event_loop(void);
void event_loop_stop(void);
/* one batch of events, waiting at most timeout_ms; returns the count */
int event_loop_once(int timeout_ms);
/* called after every batch of events; may call event_loop_stop() */
void event_set_post_hook(void (*fn)(void));

#endif
