/*
 * stubs.c - the daemon entry points that group.c calls into sheep.c,
 * for unit tests and the fuzzer, which link the core without sheep.c.
 */
#include <unistd.h>

#include "sheep.h"

void sheep_ready(void)
{
}

void sheep_startup_failed(const char *why)
{
	(void)why;
}

void sheep_restart(const char *why)
{
	(void)why;
	_exit(1);
}

void sheep_request_exit(void)
{
	sys->exiting = true;
}
