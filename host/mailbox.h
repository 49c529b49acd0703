/* Work for another worker's thread (workers.c): a cancelled request, a
 * reload, the stop, a request whose handle lives in that worker's Lua
 * state. Each worker's loop registers its wake-up; anyone may post. */
#ifndef MOONFS_MAILBOX_H
#define MOONFS_MAILBOX_H

#include <uv.h>

#define MAILBOX_WORKERS 64

/* The worker's loop takes its mail when `wake` fires. */
void mailbox_open(int worker, uv_async_t *wake);
/* No more mail: what is left is dropped. */
void mailbox_close(int worker);
int mailbox_is_open(int worker);

/* Runs run(arg) in worker's thread, soon. Safe from any thread. -1 when
 * the worker has no open mailbox. */
int mailbox_post(int worker, void (*run)(void *arg), void *arg);

/* In the worker's thread: runs what was posted, in order. */
void mailbox_deliver(int worker);

#endif
