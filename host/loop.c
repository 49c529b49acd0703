#define _GNU_SOURCE
#include "loop.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "stats.h"
#include "watchdog.h"

/* Requests served per wake-up before timers and sockets get their turn. */
#define BATCH 64

static uv_loop_t loop;
static uv_async_t signal_wake;
static uv_poll_t device_poll;
static struct fuse_session *session;
static struct fuse_buf buffer;
static uint64_t spin_ns;
static int serve_error;
static void (*reload)(void);

/* Set by the signal handlers, acted on in the loop. */
static atomic_int stop_signal, reload_signal, stats_signal;

uv_loop_t *loop_uv(void)
{
	return &loop;
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

static void stop_serving(void)
{
	if (session)
		fuse_session_exit(session);
	if (uv_is_active((uv_handle_t *)&device_poll))
		uv_poll_stop(&device_poll);
	uv_stop(&loop);
}

/* Signals are acted on here, between requests, where Lua may be entered. */
static void on_signal_wake(uv_async_t *handle)
{
	(void)handle;
	if (atomic_exchange(&stats_signal, 0))
		stats_log();
	if (atomic_exchange(&reload_signal, 0) && reload)
		reload();
	if (atomic_load(&stop_signal))
		stop_serving();
}

int loop_init(void (*on_reload)(void))
{
	reload = on_reload;
	if (uv_loop_init(&loop) != 0 || uv_async_init(&loop, &signal_wake, on_signal_wake) != 0)
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
	uv_loop_fork(&loop);
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
 * halted. */
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
#if defined(__x86_64__) || defined(__i386__)
			__builtin_ia32_pause();
#endif
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
		fuse_session_process_buf(session, &buffer);
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
	if (uv_poll_init(&loop, &device_poll, fuse_session_fd(se)) != 0 ||
	    uv_poll_start(&device_poll, UV_READABLE, on_device_readable) != 0)
		return -EIO;
	if (atomic_load(&stop_signal)) /* a signal before the loop ran */
		stop_serving();
	while (!fuse_session_exited(se) && !serve_error && !atomic_load(&stop_signal))
		uv_run(&loop, UV_RUN_DEFAULT);
	if (uv_is_active((uv_handle_t *)&device_poll))
		uv_poll_stop(&device_poll);
	uv_close((uv_handle_t *)&device_poll, NULL);
	free(buffer.mem);
	buffer.mem = NULL;
	session = NULL;
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
	uv_walk(&loop, close_one, NULL);
	uv_run(&loop, UV_RUN_DEFAULT); /* the close callbacks */
	if (uv_loop_close(&loop) != 0)
		log_msg("the event loop still had work at exit");
}
