/* Watches the time Lua runs without a clock read per call: a thread looks
 * at a counter every tenth of a second, and a call it sees in k + 1 looks
 * in a row has run at least k tenths. Used for the slow-handler warning. */
#ifndef MOONFS_WATCHDOG_H
#define MOONFS_WATCHDOG_H

/* Starts the thread (again, in a child after daemonizing). */
void watchdog_start(void);

/* Around every entry into Lua, from the thread that runs Lua. */
void watchdog_enter(void);
void watchdog_leave(void);

/* After watchdog_leave: about how many seconds the call ran if it ran a
 * second or more, else 0. */
double watchdog_last_slow(void);

#endif
