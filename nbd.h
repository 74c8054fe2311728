/*
 * nbd.h - VDIs exported over NBD (nbd.c).  WORK IN PROGRESS (issue 18).
 */
#ifndef SHEEP_NBD_H
#define SHEEP_NBD_H

#include <stdbool.h>
#include <stdint.h>

#include "proto.h"

struct nbd_export {
	char name[SD_MAX_VDI_LEN + SD_MAX_VDI_TAG_LEN + 16];	/* as the client named it */
	uint32_t vid;
	uint64_t size;
	bool readonly;		/* a snapshot: NAME@TAG or NAME:SNAPID */
};

/* main thread, at start: listen on [ADDR:]PORT; -EINVAL for a bad spec, else -errno */
int nbd_listen(const char *spec);
/* a new connection accepted on the NBD listener: served by a thread of its own */
void nbd_serve(int fd);
/* the export a client names: 0, -ENOENT (no such VDI) or -EINVAL (a bad name) */
int nbd_export_find(const char *name, struct nbd_export *exp);
/* fn(name, arg) for every VDI that may be exported; stops at fn's first non-zero */
int nbd_export_list(int (*fn)(const char *name, void *arg), void *arg);

#endif
