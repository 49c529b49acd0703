/* FUSE passthrough on libfuse 3.14, which has no API for it: only the
 * kernel protocol. Negotiation at INIT (device.c adds the bits to the
 * reply), and backing files registered and closed with ioctls on the
 * session fd. Which open uses which backing file is files.c's business. */
#ifndef MOONFS_PASSTHROUGH_H
#define MOONFS_PASSTHROUGH_H

#include <fuse_lowlevel.h>
#include <stdint.h>

/* -o nopassthrough gives want = 0; `shared` is set when other users may
 * use the mount (allow_other). */
void passthrough_configure(int want, int shared);

/* Called from the INIT handler: negotiates and says once whether
 * passthrough is available and, if not, why. */
void passthrough_init(struct fuse_conn_info *conn);

int passthrough_available(void);

/* Registers fd as a backing file: its id (> 0), or 0 when the kernel
 * refuses it (each distinct reason is logged once). */
uint32_t passthrough_register(int fd);
void passthrough_unregister(uint32_t id);

#endif
