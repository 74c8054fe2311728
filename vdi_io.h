/*
 * vdi_io.h - a VDI as a block device for clients inside sheep (nbd.c):
 * reads, writes (write-back or durable) and unmaps at any offset and
 * length, through the VDI's index held in memory (vdi_io.c).
 */
#ifndef SHEEP_VDI_IO_H
#define SHEEP_VDI_IO_H

#include <stdbool.h>
#include <stdint.h>

struct vdi_io;

/*
 * Opens vid for IO.  name: the working VDI's name, followed when a snapshot
 * is taken meanwhile (the VDI then has a new vid); NULL for a snapshot,
 * which is read-only.  SD_RES_*.
 */
int vdi_io_open(uint32_t vid, const char *name, struct vdi_io **out);
void vdi_io_close(struct vdi_io *v);
uint32_t vdi_io_obj_size(struct vdi_io *v);

/* how a write becomes durable */
enum vdi_io_mode {
	VDI_IO_WRITE_BACK,	/* acknowledged once every replica has it; durable at gateway_flush */
	VDI_IO_DURABLE,		/* durable before it returns */
};

/* len bytes at off (within the VDI): SD_RES_* */
int vdi_io_read(struct vdi_io *v, void *buf, uint64_t off, uint32_t len);
int vdi_io_write(struct vdi_io *v, const void *buf, uint64_t off, uint32_t len,
		 enum vdi_io_mode mode);
/* object idx forgotten: it reads as zeros, its space is freed once no VDI uses it */
int vdi_io_unmap(struct vdi_io *v, uint32_t idx);
/* whether object idx was ever written (else it is a hole that reads as zeros) */
bool vdi_io_mapped(struct vdi_io *v, uint32_t idx);

#endif
