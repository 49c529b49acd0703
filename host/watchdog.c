#define _GNU_SOURCE
#include "watchdog.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#define TICK_NS 100000000L
#define TICKS_PER_SECOND 10
#define SLOW_TICKS 10 /* a second */

/* Odd while Lua runs; each run moves it on by two. */
static _Atomic uint64_t call_seq;
/* The run the thread saw going on for SLOW_TICKS or more, and how long. */
static _Atomic uint64_t slow_seq;
static _Atomic unsigned slow_ticks;
/* The run to stop, and why. */
static _Atomic uint64_t stop_seq;
static _Atomic int stop_why;
static _Atomic int stop_requested;
static _Atomic unsigned timeout_ticks = 10 * TICKS_PER_SECOND;

static int depth;
static double last_slow;
static pid_t thread_pid;
static pthread_t lua_thread;
static void (*interrupt)(void);
static char reason[160];

enum { WHY_TIMEOUT = 1, WHY_STOPPING };

static int stop_signal(void)
{
	return SIGRTMIN + 1;
}

static void on_stop_signal(int sig)
{
	(void)sig;
	uint64_t target = atomic_load(&stop_seq);
	if (interrupt && target && target == atomic_load(&call_seq))
		interrupt();
}

void watchdog_set_interrupt(void (*fn)(void))
{
	interrupt = fn;
	lua_thread = pthread_self();
	struct sigaction sa = { .sa_handler = on_stop_signal, .sa_flags = SA_RESTART };
	sigemptyset(&sa.sa_mask);
	sigaction(stop_signal(), &sa, NULL);
}

void watchdog_set_timeout(double seconds)
{
	atomic_store(&timeout_ticks, (unsigned)(seconds * TICKS_PER_SECOND + 0.5));
}

void watchdog_request_stop(void)
{
	atomic_store(&stop_requested, 1);
}

/* Asks the Lua thread to stop the run `seq`. */
static void stop(uint64_t seq, int why)
{
	if (atomic_load(&stop_seq) == seq)
		return;
	atomic_store(&stop_why, why);
	atomic_store(&stop_seq, seq);
	if (interrupt)
		pthread_kill(lua_thread, stop_signal());
}

static void *watch(void *unused)
{
	(void)unused;
	uint64_t seen = 0;
	unsigned ticks = 0;
	const struct timespec tick = { 0, TICK_NS };
	for (;;) {
		nanosleep(&tick, NULL);
		uint64_t now = atomic_load_explicit(&call_seq, memory_order_relaxed);
		if (!(now & 1) || now != seen) {
			seen = now;
			ticks = 0;
			continue;
		}
		ticks++; /* it has run at least `ticks` whole ticks */
		if (ticks >= SLOW_TICKS) {
			atomic_store_explicit(&slow_ticks, ticks, memory_order_relaxed);
			atomic_store_explicit(&slow_seq, now, memory_order_release);
		}
		unsigned limit = atomic_load(&timeout_ticks);
		if (limit && ticks >= limit)
			stop(now, WHY_TIMEOUT);
		else if (atomic_load(&stop_requested) && ticks >= TICKS_PER_SECOND)
			stop(now, WHY_STOPPING);
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
	/* the Lua thread's stop signal is for it alone */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	if (pthread_create(&t, &attr, watch, NULL) == 0)
		thread_pid = getpid();
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	lua_thread = pthread_self();
}

/* A run nested in another (a handler resumed from a luv callback) gets a
 * number of its own, and the outer one a new one when it ends: the counter
 * stays odd, and each run is timed and stopped on its own. */
void watchdog_enter(void)
{
	atomic_fetch_add_explicit(&call_seq, depth++ == 0 ? 1 : 2, memory_order_relaxed);
}

int watchdog_leave(void)
{
	uint64_t ran = atomic_fetch_add_explicit(&call_seq, --depth == 0 ? 1 : 2,
						 memory_order_relaxed);
	last_slow = 0;
	if (atomic_load_explicit(&slow_seq, memory_order_acquire) == ran)
		last_slow = (atomic_load_explicit(&slow_ticks, memory_order_relaxed) + 0.5) /
			    TICKS_PER_SECOND;
	return atomic_load(&stop_seq) == ran;
}

int watchdog_stopping(void)
{
	uint64_t target = atomic_load(&stop_seq);
	return target && target == atomic_load(&call_seq);
}

const char *watchdog_stop_reason(void)
{
	if (atomic_load(&stop_why) == WHY_STOPPING)
		return "moonfs: stopped: the host is stopping (SIGINT or SIGTERM) and this Lua "
		       "ran on";
	snprintf(reason, sizeof reason,
		 "moonfs: stopped: ran for more than %.1f s without waiting (-o handler_timeout)",
		 atomic_load(&timeout_ticks) / (double)TICKS_PER_SECOND);
	return reason;
}

double watchdog_last_slow(void)
{
	return last_slow;
}
