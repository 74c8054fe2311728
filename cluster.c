/*
 * cluster.c - the registry of linked-in cluster drivers.  Each cluster_*.c
 * registers its ops table from a constructor, so the list is exactly what
 * the Makefile linked; nothing here names a driver.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
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

int cdrv_parse_timeout(const char *v, int *ms)
{
	char *end;
	double d = strtod(v, &end);
	int t;

	if (end == v || d <= 0)
		return -EINVAL;
	if (!strcmp(end, "ms") || !*end)
		t = d > 600000 ? 600001 : (int)d;
	else if (!strcmp(end, "s"))
		t = d > 600 ? 600001 : (int)(d * 1000);
	else
		return -EINVAL;
	if (t < 1000 || t > 600000)
		return -EINVAL;
	*ms = t;
	return 0;
}

int cdrv_parse_id(const char *v, char *id, size_t len)
{
	if (!*v || strlen(v) >= len || strchr(v, '/'))
		return -EINVAL;
	snprintf(id, len, "%s", v);
	return 0;
}
