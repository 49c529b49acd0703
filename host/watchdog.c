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

/* One slot per thread that runs Lua (each worker has its own state). */
struct slot {
	/* Odd while Lua runs; each run moves it on by two. */
	_Atomic uint64_t call_seq;
	/* The run the watching thread saw going on for SLOW_TICKS or more,
	 * and how long. */
	_Atomic uint64_t slow_seq;
	_Atomic unsigned slow_ticks;
	/* The run to stop, and why. */
	_Atomic uint64_t stop_seq;
	_Atomic int stop_why;
	pthread_t thread;
	void (*interrupt)(void);
	_Atomic int ready;  /* the fields above are set */
	/* the watching thread's own view */
	uint64_t seen;
	unsigned ticks;
};
#define SLOTS 64
static struct slot slots[SLOTS];
static _Atomic int slot_count;
static __thread struct slot *mine;
static __thread int depth;
static __thread double last_slow;
static __thread char reason[160];

static _Atomic int stop_requested;
static _Atomic unsigned timeout_ticks = 10 * TICKS_PER_SECOND;
static pid_t thread_pid;
static pthread_t watcher;
static _Atomic int watcher_ends;

enum { WHY_TIMEOUT = 1, WHY_STOPPING };

static int stop_signal(void)
{
	return SIGRTMIN + 1;
}

static void on_stop_signal(int sig)
{
	(void)sig;
	struct slot *s = mine;
	uint64_t target = s ? atomic_load(&s->stop_seq) : 0;
	if (s && s->interrupt && target && target == atomic_load(&s->call_seq))
		s->interrupt();
}

void watchdog_set_interrupt(void (*fn)(void))
{
	if (!mine) {
		int at = atomic_fetch_add(&slot_count, 1);
		if (at >= SLOTS)
			return; /* more threads than slots: these are not watched */
		mine = &slots[at];
		mine->thread = pthread_self();
		mine->interrupt = fn;
		atomic_store_explicit(&mine->ready, 1, memory_order_release);
	}
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

/* Asks the slot's thread to stop the run `seq`. */
static void stop(struct slot *s, uint64_t seq, int why)
{
	if (atomic_load(&s->stop_seq) == seq)
		return;
	atomic_store(&s->stop_why, why);
	atomic_store(&s->stop_seq, seq);
	if (s->interrupt)
		pthread_kill(s->thread, stop_signal());
}

static void look(struct slot *s)
{
	uint64_t now = atomic_load_explicit(&s->call_seq, memory_order_relaxed);
	if (!(now & 1) || now != s->seen) {
		s->seen = now;
		s->ticks = 0;
		return;
	}
	unsigned ticks = ++s->ticks; /* it has run at least `ticks` whole ticks */
	if (ticks >= SLOW_TICKS) {
		atomic_store_explicit(&s->slow_ticks, ticks, memory_order_relaxed);
		atomic_store_explicit(&s->slow_seq, now, memory_order_release);
	}
	unsigned limit = atomic_load(&timeout_ticks);
	if (limit && ticks >= limit)
		stop(s, now, WHY_TIMEOUT);
	else if (atomic_load(&stop_requested) && ticks >= TICKS_PER_SECOND)
		stop(s, now, WHY_STOPPING);
}

static void *watch(void *unused)
{
	(void)unused;
	const struct timespec tick = { 0, TICK_NS };
	for (;;) {
		nanosleep(&tick, NULL);
		if (atomic_load(&watcher_ends))
			return NULL;
		int count = atomic_load(&slot_count);
		for (int i = 0; i < count && i < SLOTS; i++)
			if (atomic_load_explicit(&slots[i].ready, memory_order_acquire))
				look(&slots[i]);
	}
	return NULL;
}

void watchdog_start(void)
{
	if (thread_pid == getpid())
		return;
	if (mine) /* after a fork: this thread is the one that runs Lua now */
		mine->thread = pthread_self();
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	/* the Lua thread's stop signal is for it alone */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	if (pthread_create(&watcher, &attr, watch, NULL) == 0)
		thread_pid = getpid();
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
}

void watchdog_stop(void)
{
	if (thread_pid != getpid())
		return;
	atomic_store(&watcher_ends, 1);
	pthread_join(watcher, NULL);
	atomic_store(&watcher_ends, 0);
	thread_pid = 0;
}

/* A run nested in another (a handler resumed from a luv callback) gets a
 * number of its own, and the outer one a new one when it ends: the counter
 * stays odd, and each run is timed and stopped on its own. */
void watchdog_enter(void)
{
	if (mine)
		atomic_fetch_add_explicit(&mine->call_seq, depth++ == 0 ? 1 : 2,
					  memory_order_relaxed);
}

int watchdog_leave(void)
{
	last_slow = 0;
	if (!mine)
		return 0;
	uint64_t ran = atomic_fetch_add_explicit(&mine->call_seq, --depth == 0 ? 1 : 2,
						 memory_order_relaxed);
	if (atomic_load_explicit(&mine->slow_seq, memory_order_acquire) == ran)
		last_slow = (atomic_load_explicit(&mine->slow_ticks, memory_order_relaxed) + 0.5) /
			    TICKS_PER_SECOND;
	return atomic_load(&mine->stop_seq) == ran;
}

int watchdog_stopping(void)
{
	uint64_t target = mine ? atomic_load(&mine->stop_seq) : 0;
	return target && target == atomic_load(&mine->call_seq);
}

const char *watchdog_stop_reason(void)
{
	if (mine && atomic_load(&mine->stop_why) == WHY_STOPPING)
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
