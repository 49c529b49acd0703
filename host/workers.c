/* Workers: threads that serve requests at once, each with a Lua state
 * and an event loop of its own, all reading the one FUSE device. The
 * host's C state is shared under the host lock (lock.h), which a worker
 * lets go of while its Lua runs, so handlers and the system calls they
 * make run in parallel.
 *
 * Each worker runs the script in its own state, so a script that keeps
 * its files in Lua tables (memfs) would see a different tree in each: the
 * script must say that it may run on several (`workers = N` or "cpus"),
 * which the mirror does; its state lives in the backing directory.
 *
 * A handle the script returned from open lives in one worker's state;
 * requests on that open are handed to that worker. An fd handed over is
 * a plain number that every worker can take, so fd opens (the mirror's)
 * are served by whichever worker reads the request. */
#define _GNU_SOURCE
#include "workers.h"

#include <errno.h>
#include <linux/fuse.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "device.h"
#include "files.h"
#include "lock.h"
#include "log.h"
#include "loop.h"
#include "mailbox.h"
#include "request.h"
#include "uring.h"

struct worker {
	int index;
	pthread_t thread;
	int started;
};

static struct worker workers[LOOP_MAX_WORKERS];
static int worker_count = 1;
static struct fuse_session *session;
static unsigned spin;
static struct bridge_settings base;
static char *script, *start_dir;
static pthread_mutex_t ready_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ready_cond = PTHREAD_COND_INITIALIZER;
static int ready, failed;

/* The worker that must serve a raw request: the owner of the open it
 * names when that open's handle lives in one Lua state; else -1. */
static int owner_of(const void *mem, size_t size)
{
	const struct fuse_in_header *in = mem;
	if (size < sizeof *in)
		return -1;
	const char *arg = (const char *)mem + sizeof *in;
	size_t arg_size = size - sizeof *in, at = 0;
	switch (in->opcode) {
	case FUSE_READ: case FUSE_WRITE: case FUSE_RELEASE: case FUSE_FLUSH: case FUSE_FSYNC:
	case FUSE_READDIR: case FUSE_READDIRPLUS: case FUSE_RELEASEDIR: case FUSE_FSYNCDIR:
	case FUSE_GETLK: case FUSE_SETLK: case FUSE_SETLKW: case FUSE_IOCTL: case FUSE_LSEEK:
	case FUSE_COPY_FILE_RANGE: case FUSE_FALLOCATE: case FUSE_POLL:
		at = 0; /* these in-arguments all begin with the fh */
		break;
	case FUSE_GETATTR:
		if (arg_size < sizeof(struct fuse_getattr_in) ||
		    !(((const struct fuse_getattr_in *)arg)->getattr_flags & FUSE_GETATTR_FH))
			return -1;
		at = offsetof(struct fuse_getattr_in, fh);
		break;
	case FUSE_SETATTR:
		if (arg_size < sizeof(struct fuse_setattr_in) ||
		    !(((const struct fuse_setattr_in *)arg)->valid & FATTR_FH))
			return -1;
		at = offsetof(struct fuse_setattr_in, fh);
		break;
	default:
		return -1;
	}
	uint64_t fh;
	if (arg_size < at + sizeof fh)
		return -1;
	memcpy(&fh, arg + at, sizeof fh);
	return fh ? files_owner((const struct open_file *)(uintptr_t)fh) : -1;
}

static void *serve(void *arg)
{
	struct worker *w = arg;
	/* The main thread takes the process's signals; a worker only the
	 * watchdog's, which is sent to it alone. */
	sigset_t process_signals;
	sigemptyset(&process_signals);
	const int signals[] = { SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGPIPE };
	for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++)
		sigaddset(&process_signals, signals[i]);
	pthread_sigmask(SIG_BLOCK, &process_signals, NULL);
	/* A umask of its own: the mirror creates with each caller's. */
	if (unshare(CLONE_FS) != 0)
		log_msg("worker %d: unshare(CLONE_FS): %s; umasks are shared", w->index,
			strerror(errno));
	int ok = loop_init_worker(w->index) == 0;
	struct bridge_settings settings = base;
	settings.loop = loop_uv();
	if (ok && bridge_open(script, start_dir, &settings) < 0)
		ok = 0;
	if (ok) {
		int took = lock_enter();
		files_claim_fds(0); /* what this worker's script opened is its own */
		lock_leave(took);
	}
	pthread_mutex_lock(&ready_lock);
	ready++;
	failed += !ok;
	pthread_cond_broadcast(&ready_cond);
	pthread_mutex_unlock(&ready_lock);
	if (ok) {
		int rc = loop_serve(session, spin);
		if (rc)
			log_msg("worker %d: reading the FUSE device failed: %s", w->index,
				strerror(-rc));
		uring_stop_worker();
		int took = lock_enter();
		request_cancel_waiting();
		lock_leave(took);
	}
	loop_close();
	bridge_close();
	return NULL;
}

/* After the INIT reply: each worker sets up its ring (uring.c). */
static void start_ring(void *unused)
{
	(void)unused;
	uring_start_worker(lock_worker(), worker_count);
}

static void initialized(uint32_t max_write, uint32_t max_pages)
{
	if (!uring_asked())
		return;
	uring_init_sizes(max_write, max_pages);
	for (int i = 0; i < worker_count; i++)
		mailbox_post(i, start_ring, NULL);
}

int workers_count_for(int asked, int script_says, const char *script_name)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	if (cpus < 1)
		cpus = 1;
	int want = asked > 0 ? asked : script_says == -1 ? (int)cpus : script_says > 0 ? script_says : 1;
	if (want > 1 && script_says == 0) {
		log_msg("%s says nothing about workers (no `workers` key): its state may live in "
			"Lua, which each worker would hold a copy of; serving with one worker "
			"(a script whose state is in a backing store declares workers = \"cpus\")",
			script_name);
		want = 1;
	}
	return want > LOOP_MAX_WORKERS ? LOOP_MAX_WORKERS : want;
}

int workers_start(int count, struct fuse_session *se, unsigned spin_us,
		  const struct bridge_settings *settings, const char *script_path,
		  const char *dir)
{
	worker_count = count;
	loop_set_router(owner_of);
	uring_configure(se, fuse_session_fd(se), loop_dispatch);
	device_set_hooks(uring_take_reply, initialized);
	if (count <= 1)
		return 0;
	session = se;
	spin = spin_us;
	base = *settings;
	script = strdup(script_path);
	start_dir = strdup(dir);
	if (!script || !start_dir)
		return -1;
	for (int i = 1; i < count; i++) {
		workers[i].index = i;
		if (pthread_create(&workers[i].thread, NULL, serve, &workers[i]) != 0) {
			log_msg("cannot start worker %d: %s", i, strerror(errno));
			break;
		}
		workers[i].started = 1;
	}
	int started = 0;
	for (int i = 1; i < count; i++)
		started += workers[i].started;
	pthread_mutex_lock(&ready_lock);
	while (ready < started)
		pthread_cond_wait(&ready_cond, &ready_lock);
	int bad = failed;
	pthread_mutex_unlock(&ready_lock);
	if (bad)
		log_msg("%d of %d workers could not load the script", bad, count - 1);
	log_msg("serving with %d workers", started + 1 - bad);
	return 0;
}

void workers_join(void)
{
	for (int i = 1; i < worker_count; i++)
		if (workers[i].started) {
			pthread_join(workers[i].thread, NULL);
			workers[i].started = 0;
		}
	free(script);
	free(start_dir);
	script = start_dir = NULL;
}

int workers_count(void)
{
	return worker_count;
}
