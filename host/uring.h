/* FUSE requests over io_uring, one queue per CPU (uring.c). */
#ifndef MOONFS_URING_H
#define MOONFS_URING_H

#include <fuse_lowlevel.h>
#include <stdint.h>
#include <sys/uio.h>

/* -o noio_uring turns it off (it is on wherever the kernel offers it). */
void uring_set_wanted(int on);

/* At INIT: whether to ask for it, from what the kernel offered; says
 * once why not. Returns the INIT reply's flags2 bit to set, or 0. */
int uring_ask(uint32_t kernel_flags2);
int uring_asked(void);

/* The payload size the kernel will want, from the INIT reply. */
void uring_init_sizes(uint32_t max_write, uint32_t max_pages);

/* The device fd the commands go to, and what serves a request (in
 * /dev/fuse form, under the host lock). */
void uring_configure(struct fuse_session *se, int device_fd,
		     int (*serve)(const struct fuse_buf *buf, size_t size));

/* In each worker's thread, after the INIT reply: sets up its ring and
 * registers the entries of its queues. */
int uring_start_worker(int worker, int workers);
void uring_stop_worker(void);

/* From the device's writev: when the reply is for a request taken from
 * a ring, it goes into that entry; returns 1 then, else 0. */
int uring_take_reply(const struct iovec *iov, int count, size_t total);

#endif
