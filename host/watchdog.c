#define _GNU_SOURCE
#include "watchdog.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#define TICK_NS 100000000L
#define SLOW_TICKS 10 /* a second */

/* Odd while Lua runs; each call moves it on by two. */
static _Atomic uint64_t call_seq;
/* The call the thread saw running for SLOW_TICKS or more, and for how long. */
static _Atomic uint64_t slow_seq;
static _Atomic unsigned slow_ticks;
static int depth;
static double last_slow;
static pid_t thread_pid;

static void *watch(void *unused)
{
	(void)unused;
	uint64_t seen = 0;
	unsigned ticks = 0;
	const struct timespec tick = { 0, TICK_NS };
	for (;;) {
		nanosleep(&tick, NULL);
		uint64_t now = atomic_load_explicit(&call_seq, memory_order_relaxed);
		if ((now & 1) && now == seen) {
			ticks++; /* it has run at least `ticks` whole ticks */
			if (ticks >= SLOW_TICKS) {
				atomic_store_explicit(&slow_ticks, ticks, memory_order_relaxed);
				atomic_store_explicit(&slow_seq, now, memory_order_release);
			}
		} else {
			seen = now;
			ticks = 0;
		}
	}
	return NULL;
}

void watchdog_start(void)
{
	if (thread_pid == getpid())
		return;
	pthread_t t;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	if (pthread_create(&t, &attr, watch, NULL) == 0)
		thread_pid = getpid();
	pthread_attr_destroy(&attr);
}

void watchdog_enter(void)
{
	if (depth++ == 0)
		atomic_fetch_add_explicit(&call_seq, 1, memory_order_relaxed);
}

void watchdog_leave(void)
{
	if (--depth > 0)
		return;
	uint64_t running = atomic_fetch_add_explicit(&call_seq, 1, memory_order_relaxed);
	last_slow = 0;
	if (atomic_load_explicit(&slow_seq, memory_order_acquire) == running)
		last_slow = (atomic_load_explicit(&slow_ticks, memory_order_relaxed) + 0.5) *
			    (TICK_NS / 1e9);
}

double watchdog_last_slow(void)
{
	return last_slow;
}
