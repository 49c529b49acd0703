/* The FUSE device I/O, owned by the host (fuse_session_custom_io): libfuse
 * 3.14 has no passthrough API, so the host adds the few bytes itself to the
 * INIT reply and to OPEN/CREATE replies (the same bytes libfuse 3.17 sends).
 * Reads do not block: the event loop (loop.c) waits for the device. */
#ifndef MOONFS_DEVICE_H
#define MOONFS_DEVICE_H

#include <fuse_lowlevel.h>
#include <stdint.h>
#include <sys/uio.h>

/* Takes over the session's device I/O and makes the fd non-blocking. */
int device_setup(struct fuse_session *se);
int device_fd(void);

/* What the kernel's INIT request offered. */
int device_kernel_offers_passthrough(void);
int device_kernel_offers_killpriv_v2(void);

/* What the INIT reply turns on (decided in the INIT handler, which runs
 * before the reply is written). */
void device_init_reply(int passthrough, int killpriv_v2);

/* The INIT reply tells the kernel that the mount has no file handles, so
 * that name_to_handle_at fails at once (EOPNOTSUPP) rather than handing
 * out handles that fail later (Linux 6.9+; older kernels ignore it). */
void device_init_no_export(void);

/* Puts a request into the form libfuse 3.14 knows (FUSE_TMPFILE as a
 * CREATE of "/"), for requests that did not come through its read. */
void device_adapt_request(void *buf, size_t len);

/* What the kernel's INIT offered in flags2 (0 without FUSE_INIT_EXT). */
uint32_t device_kernel_flags2(void);

/* More flags2 bits for the INIT reply (io_uring's). */
void device_init_flags2(uint32_t bits);

/* take: offered every reply first; when it returns 1 the reply went
 * elsewhere (a ring entry, uring.c). init_done: after the INIT reply is
 * written, with the sizes it gave the kernel. */
void device_set_hooks(int (*take)(const struct iovec *iov, int count, size_t total),
		      void (*init_done)(uint32_t max_write, uint32_t max_pages));

/* Marks the OPEN/CREATE reply about to be sent by this thread as
 * passthrough with `backing_id` (0: unmarked). */
void device_mark_open_reply(uint32_t backing_id);

#endif
