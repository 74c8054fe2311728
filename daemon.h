/*
 * daemon.h - the daemon's lifecycle hooks (daemon.c): what any subsystem
 * may call to say the start is done or failed, to ask the process to stop,
 * or to start over in place; and what sheep.c hands in at start.
 */
#ifndef SHEEP_DAEMON_H
#define SHEEP_DAEMON_H

/* sheep.c, at start: the launcher's pipe (-1: none), the pidfile, our argv */
void daemon_set_ready_fd(int fd);
int daemon_ready_fd(void);
void daemon_set_pidfile(const char *path);
void daemon_write_pidfile(void);
void daemon_remove_pidfile(void);
void daemon_set_argv(char **argv);

void sheep_request_exit(void);
void sheep_ready(void);		/* we joined; let the launcher return */
void sheep_startup_failed(const char *why);
/* leave everything and start again as a new member (never returns) */
void sheep_restart(const char *why) __attribute__((noreturn));

#endif
