/* The one event loop, libuv's: the FUSE device, the signals, and whatever
 * scripts start through luv (timers, sockets, processes, DNS), which gets
 * the same loop. */
#ifndef MOONFS_LOOP_H
#define MOONFS_LOOP_H

#include <fuse_lowlevel.h>
#include <uv.h>

#include "mailbox.h"

#define LOOP_MAX_WORKERS MAILBOX_WORKERS

/* Before the script loads: luv needs the loop to exist. Also installs the
 * signal handlers: INT and TERM stop, HUP calls on_reload (in the loop,
 * between requests, in every worker), USR1 logs the counters. This is
 * worker 0, the main thread. */
int loop_init(void (*on_reload)(void));

/* In a worker thread of its own (workers.c): its loop. */
int loop_init_worker(int index);

/* This thread's loop, and its worker index. */
uv_loop_t *loop_uv(void);
int loop_worker(void);

/* Tells the loops which worker must serve a raw request (-1: any). */
void loop_set_router(int (*owner)(const void *mem, size_t size));

/* Serves a request (read from a ring, uring.c) as one read from the
 * device, under the host lock. */
int loop_dispatch(const struct fuse_buf *buf, size_t size);

/* The SIGHUP reload, in every worker. */
void loop_reload_all(void);

/* In the daemon after fork: libuv must know. */
void loop_after_fork(void);

/* Serves the session until it is unmounted or a stop signal comes.
 * `spin_us`: how long to keep polling the device for the next request
 * before sleeping (waking a halted CPU costs more than serving one).
 * Returns 0, or a negative errno when reading the device failed. */
int loop_serve(struct fuse_session *se, unsigned spin_us);

/* A stop was asked for (a signal), for whoever watches a long Lua call. */
int loop_stop_requested(void);

/* Closes every handle still open (the script's too) and the loop. */
void loop_close(void);

#endif
