#define _GNU_SOURCE
#include "loop.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lock.h"
#include "mailbox.h"
#include "log.h"
#include "stats.h"
#include "watchdog.h"

/* Requests served per wake-up before timers and sockets get their turn. */
#define BATCH 64

/* Each worker thread (workers.c) runs a loop of its own; worker 0 is the
 * main thread, which also takes the signals. */
struct worker_loop {
	uv_loop_t loop;
	uv_async_t wake; /* mail from other threads (mailbox.h) */
};
static struct worker_loop loops[LOOP_MAX_WORKERS];
static __thread struct worker_loop *mine;
static __thread int my_index;
static __thread uv_poll_t device_poll;
static __thread struct fuse_buf buffer;
static __thread int serve_error;
static __thread int serving;
static __thread struct fuse_session *session;
static __thread uint64_t spin_ns;
static uv_async_t signal_wake;
static void (*reload)(void);
static int (*route)(const void *mem, size_t size);

/* Set by the signal handlers, acted on in the loop. */
static atomic_int stop_signal, reload_signal, stats_signal;

uv_loop_t *loop_uv(void)
{
	return &mine->loop;
}

int loop_worker(void)
{
	return lock_worker();
}

int loop_stop_requested(void)
{
	return atomic_load(&stop_signal) != 0;
}

static void on_signal(int sig)
{
	int saved = errno;
	if (sig == SIGHUP)
		atomic_store(&reload_signal, 1);
	else if (sig == SIGUSR1)
		atomic_store(&stats_signal, 1);
	else {
		atomic_store(&stop_signal, sig);
		watchdog_request_stop(); /* Lua that runs on is stopped */
	}
	uv_async_send(&signal_wake); /* async-signal-safe */
	errno = saved;
}

static void stop_here(void *unused)
{
	(void)unused;
	if (serving && uv_is_active((uv_handle_t *)&device_poll))
		uv_poll_stop(&device_poll);
	uv_stop(&mine->loop);
}

/* Ends serving in every worker. */
static void stop_serving(void)
{
	if (session)
		fuse_session_exit(session);
	for (int i = 0; i < LOOP_MAX_WORKERS; i++)
		if (i != my_index)
			mailbox_post(i, stop_here, NULL);
	stop_here(NULL);
}

static void reload_here(void *unused)
{
	(void)unused;
	if (reload)
		reload();
}

static void on_wake(uv_async_t *handle)
{
	(void)handle;
	mailbox_deliver(my_index);
}

static int init_mine(int index)
{
	mine = &loops[index];
	my_index = index;
	lock_set_worker(index);
	if (uv_loop_init(&mine->loop) != 0 ||
	    uv_async_init(&mine->loop, &mine->wake, on_wake) != 0)
		return -1;
	uv_unref((uv_handle_t *)&mine->wake); /* it alone keeps nothing running */
	mailbox_open(index, &mine->wake);
	return 0;
}

void loop_set_router(int (*owner)(const void *mem, size_t size))
{
	route = owner;
}

struct forwarded {
	size_t size;
	char mem[];
};

static void serve_forwarded(void *arg)
{
	struct forwarded *f = arg;
	struct fuse_buf buf = { .size = f->size, .mem = f->mem };
	int took = lock_enter();
	if (session && !fuse_session_exited(session))
		fuse_session_process_buf(session, &buf);
	lock_leave(took);
	free(f);
}

/* Serves a request read here, or hands it to the worker that must serve
 * it. Called with the host lock held. */
static void dispatch(const struct fuse_buf *buf, size_t size);

int loop_dispatch(const struct fuse_buf *buf, size_t size)
{
	dispatch(buf, size);
	return 0;
}

static void dispatch(const struct fuse_buf *buf, size_t size)
{
	int owner = route ? route(buf->mem, size) : -1;
	if (owner >= 0 && owner != my_index) {
		struct forwarded *f = malloc(sizeof *f + size);
		if (f) {
			f->size = size;
			memcpy(f->mem, buf->mem, size);
			if (mailbox_post(owner, serve_forwarded, f) == 0)
				return;
			free(f);
		}
	}
	fuse_session_process_buf(session, buf);
}

int loop_init_worker(int index)
{
	if (index <= 0 || index >= LOOP_MAX_WORKERS)
		return -1;
	return init_mine(index);
}

/* Signals are acted on here, between requests, where Lua may be entered. */
static void on_signal_wake(uv_async_t *handle)
{
	(void)handle;
	if (atomic_exchange(&stats_signal, 0)) {
		int took = lock_enter();
		stats_log();
		lock_leave(took);
	}
	if (atomic_exchange(&reload_signal, 0))
		loop_reload_all();
	if (atomic_load(&stop_signal))
		stop_serving();
}

void loop_reload_all(void)
{
	for (int i = 1; i < LOOP_MAX_WORKERS; i++)
		mailbox_post(i, reload_here, NULL);
	reload_here(NULL);
}

int loop_init(void (*on_reload)(void))
{
	reload = on_reload;
	if (init_mine(0) != 0 || uv_async_init(&mine->loop, &signal_wake, on_signal_wake) != 0)
		return -1;
	uv_unref((uv_handle_t *)&signal_wake); /* it alone keeps nothing running */
	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	const int signals[] = { SIGINT, SIGTERM, SIGHUP, SIGUSR1 };
	for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++)
		sigaction(signals[i], &sa, NULL);
	signal(SIGPIPE, SIG_IGN); /* a script's closed socket must not end the host */
	return 0;
}

void loop_after_fork(void)
{
	uv_loop_fork(&mine->loop);
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Reads and serves up to BATCH requests. A request that follows within
 * spin_ns of the last is picked up by polling: on virtual machines a
 * halted CPU takes far longer to wake (hundreds of microseconds, measured
 * here) than a request takes to serve, and a CPU that polls is not
 * halted. Each turn of the poll yields the CPU, so that polling uses only
 * time no caller wants: with more busy threads than CPUs, workers that
 * merely paused took it from the callers they were waiting for. */
static void on_device_readable(uv_poll_t *handle, int status, int events)
{
	(void)handle;
	(void)events;
	uint64_t deadline = 0;
	for (int served = 0; served < BATCH && !fuse_session_exited(session);) {
		/* On unmount the poll reports an error, and the read says ENODEV,
		 * which libfuse takes as the end of the session. */
		int n = fuse_session_receive_buf(session, &buffer);
		if (n == -EAGAIN && status < 0) {
			serve_error = -EIO;
			break;
		}
		if (n == -EAGAIN) {
			uint64_t now = spin_ns ? now_ns() : 0;
			if (!deadline)
				deadline = now + spin_ns;
			if (now >= deadline)
				break;
			sched_yield();
			continue;
		}
		if (n == -EINTR)
			continue;
		if (n < 0) {
			serve_error = n;
			break;
		}
		if (n == 0) /* unmounted: libfuse marked the session exited */
			break;
		int took = lock_enter();
		dispatch(&buffer, (size_t)n);
		lock_leave(took);
		served++;
		deadline = 0;
	}
	if (fuse_session_exited(session) || serve_error)
		stop_serving();
}

int loop_serve(struct fuse_session *se, unsigned spin_us)
{
	session = se;
	spin_ns = (uint64_t)spin_us * 1000u;
	serve_error = 0;
	if (uv_poll_init(&mine->loop, &device_poll, fuse_session_fd(se)) != 0 ||
	    uv_poll_start(&device_poll, UV_READABLE, on_device_readable) != 0)
		return -EIO;
	serving = 1;
	if (atomic_load(&stop_signal)) /* a signal before the loop ran */
		stop_serving();
	while (!fuse_session_exited(se) && !serve_error && !atomic_load(&stop_signal))
		uv_run(&mine->loop, UV_RUN_DEFAULT);
	if (fuse_session_exited(se) || serve_error) /* the others stop too */
		stop_serving();
	if (uv_is_active((uv_handle_t *)&device_poll))
		uv_poll_stop(&device_poll);
	uv_close((uv_handle_t *)&device_poll, NULL);
	serving = 0;
	free(buffer.mem);
	buffer.mem = NULL;
	return serve_error;
}

static void close_one(uv_handle_t *handle, void *arg)
{
	(void)arg;
	if (!uv_is_closing(handle))
		uv_close(handle, NULL);
}

void loop_close(void)
{
	mailbox_close(my_index);
	uv_run(&mine->loop, UV_RUN_NOWAIT); /* takes back a uv_stop that is still pending */
	uv_walk(&mine->loop, close_one, NULL);
	uv_run(&mine->loop, UV_RUN_DEFAULT); /* the close callbacks */
	if (uv_loop_close(&mine->loop) != 0)
		log_msg("the event loop still had work at exit");
}
