/* The host lock. With several workers (workers.c) the host's C state
 * (nodes, open files, requests, counters, the trace) is shared between
 * their threads; a worker holds this one lock while it runs host code and
 * lets go of it while its Lua runs and while it waits for the device, so
 * that Lua, and the system calls scripts make, run in parallel. With one
 * worker the lock is never contended and costs two atomic operations per
 * request. */
#ifndef MOONFS_LOCK_H
#define MOONFS_LOCK_H

/* Takes the lock unless this thread holds it; returns whether it took it
 * (for lock_leave). */
int lock_enter(void);
void lock_leave(int took);

/* Before Lua runs: lets go of the lock if this thread holds it; returns
 * whether it did (for lock_resume, after Lua). */
int lock_pause(void);
void lock_resume(int was_held);

/* Whether this thread holds the lock. */
int lock_held(void);

/* Whether other workers may want the lock (more than one serves): with
 * one, letting go of it for a slow system call gains nothing. */
int lock_shared(void);

/* Which worker this thread is (0: the main thread, and threads that are
 * no worker). */
int lock_worker(void);
void lock_set_worker(int index);

#endif
