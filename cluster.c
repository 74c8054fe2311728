/*
 * cluster.c - the registry of linked-in cluster drivers.  Each cluster_*.c
 * registers its ops table from a constructor, so the list is exactly what
 * the Makefile linked; nothing here names a driver.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cluster.h"
#include "util.h"

static struct cluster_driver *drivers;
static char last_error[512];

void cdrv_set_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
}

const char *cdrv_error(void)
{
	return last_error;
}

void cdrv_register(struct cluster_driver *drv)
{
	if (!drv->init || !drv->join || !drv->leave || !drv->notify || !drv->block ||
	    !drv->unblock || !drv->update_node)
		panic("cluster driver %s lacks a mandatory operation", drv->name);
	drv->next = drivers;
	drivers = drv;
}

const struct cluster_driver *cdrv_find(const char *name)
{
	for (struct cluster_driver *d = drivers; d; d = d->next)
		if (!strcmp(d->name, name))
			return d;
	return NULL;
}

const char *cdrv_names(char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (struct cluster_driver *d = drivers; d && off < len; d = d->next) {
		size_t n = strlen(d->name);

		if (off + n + 2 > len)
			break;
		if (off)
			buf[off++] = ' ';
		memcpy(buf + off, d->name, n + 1);
		off += n;
	}
	return buf;
}
