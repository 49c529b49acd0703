/* Watches the time Lua runs without a clock read per call: a thread looks
 * at a counter every tenth of a second, and a call it sees in k + 1 looks
 * in a row has run at least k tenths. It reports handlers that run long,
 * and stops one that runs past -o handler_timeout without waiting (or any
 * Lua that runs on after a stop signal): it signals the thread that runs
 * Lua, whose handler sets a Lua hook that raises an error. */
#ifndef MOONFS_WATCHDOG_H
#define MOONFS_WATCHDOG_H

/* Starts the thread (again, in a child after daemonizing). */
void watchdog_start(void);

/* Ends the thread and waits for it (at most a tick): a fork must find no
 * other thread, which could hold a lock (the allocator's, stdio's) that
 * the child would then wait for for ever. */
void watchdog_stop(void);

/* Seconds a handler may run without waiting; 0: no limit. */
void watchdog_set_timeout(double seconds);

/* `interrupt` runs in a signal handler on the thread that calls this: it
 * must only arrange for the running Lua to stop (lua_sethook). */
void watchdog_set_interrupt(void (*interrupt)(void));

/* A stop was asked for (SIGINT, SIGTERM): Lua that runs on for more than a
 * second is stopped. Async-signal-safe. */
void watchdog_request_stop(void);

/* Around every run of Lua, from the thread that runs Lua. watchdog_leave
 * returns 1 when the run was being stopped (the hook must go). */
void watchdog_enter(void);
int watchdog_leave(void);

/* For the hook: whether the Lua running now is to stop, and why. */
int watchdog_stopping(void);
const char *watchdog_stop_reason(void);

/* After watchdog_leave: about how many seconds the run lasted if it ran a
 * second or more, else 0. */
double watchdog_last_slow(void);

#endif
