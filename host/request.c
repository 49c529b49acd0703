#define _GNU_SOURCE
#include "request.h"

#include <errno.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "device.h"
#include "files.h"
#include "lock.h"
#include "mailbox.h"
#include "log.h"
#include "stats.h"

#define NAME_MAX_BYTES 255

/* Finished requests, for reuse: most requests cost no allocation. */
static struct request *pool;
/* Requests whose handler waits. */
static struct request *waiting;

struct request *request_begin(fuse_req_t req, enum op op)
{
	struct request *r = pool;
	if (r)
		pool = r->next_free;
	else if (!(r = malloc(sizeof *r)))
		abort(); /* a request we cannot record could not be answered */
	r->req = req;
	r->op = op;
	r->worker = lock_worker();
	r->node = r->node2 = NULL;
	r->of = NULL;
	r->path.s = r->path2.s = NULL;
	r->path.len = r->path2.len = 0;
	r->name = r->name2 = NULL;
	r->name_len = r->name2_len = 0;
	r->size = 0;
	r->offset = 0;
	r->flags = 0;
	r->mode = 0;
	r->generation = 0;
	r->walk_path = NULL;
	r->walk_at = 0;
	r->walk_node = NULL;
	r->finish = NULL;
	r->stat_done = NULL;
	r->call.thread = NULL; /* no results held */
	r->call.lua_ns = 0;
	r->interrupted = 0;
	r->call.timed = 1;
	r->started = stats_now();
	r->lua_ns = 0;
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	r->caller = (struct bridge_caller){ req, ctx->uid, ctx->gid, ctx->pid, ctx->umask, { { 0 } } };
	r->call.caller = &r->caller;
	stats.requests[op]++;
	if (trace_enabled && op != OP_forget)
		trace_begin(&r->trace, op);
	else
		r->trace.active = 0;
	return r;
}

static void free_path(struct request_path *p)
{
	if (p->s && p->s != p->small)
		free(p->s);
	p->s = NULL;
}

int request_path_text(struct request *r, const char *s, size_t len)
{
	free_path(&r->path);
	r->caller.checked[0].path = NULL;
	r->path.s = len < sizeof r->path.small ? r->path.small : malloc(len + 1);
	if (!r->path.s) {
		request_reply_err(r, ENOMEM);
		return -1;
	}
	memcpy(r->path.s, s, len);
	r->path.s[len] = '\0';
	r->path.len = len;
	return 0;
}

/* Ends the request after its reply: trace, holds, results, memory. */
/* The time in Lua of the request so far (its calls' times, once). */
static void count_lua(struct request *r)
{
	r->lua_ns += r->call.lua_ns;
	r->call.lua_ns = 0;
}

/* Writes the request's trace line (before a reply that must be sent
 * before end, while its data is still held). */
static void trace_reply(struct request *r, int err)
{
	count_lua(r);
	if (r->trace.active) {
		r->trace.lua_ns = r->lua_ns;
		trace_end(&r->trace, err);
	}
}

static void end(struct request *r, int err)
{
	trace_reply(r, err);
	stats_record(r->op, stats_now() - r->started, r->lua_ns);
	if (r->call.thread)
		bridge_done(&r->call);
	if (r->of)
		files_drop(r->of);
	if (r->node)
		nodes_drop(r->node);
	if (r->node2)
		nodes_drop(r->node2);
	if (r->walk_node)
		nodes_drop(r->walk_node);
	free(r->walk_path);
	free_path(&r->path);
	free_path(&r->path2);
	r->next_free = pool;
	pool = r;
}

void request_free_pool(void)
{
	while (pool) {
		struct request *next = pool->next_free;
		free(pool);
		pool = next;
	}
}

/* ---- paths ---- */

static int build(struct request *r, struct request_path *p, struct node *n, const char *name,
		 size_t name_len, int through_handle)
{
	size_t len;
	p->s = p->small;
	int err = nodes_path_into(n, name, name_len, through_handle, p->small, sizeof p->small,
				  &len);
	if (err == ERANGE) {
		p->s = malloc(len + 1);
		err = p->s ? nodes_path_into(n, name, name_len, through_handle, p->s, len + 1, &len)
			   : ENOMEM;
	}
	if (err) {
		free_path(p);
		request_reply_err(r, err);
		return -1;
	}
	p->len = len;
	return 0;
}

void request_use_open(struct request *r, struct open_file *of)
{
	r->of = of;
	if (of)
		files_hold(of);
}

void request_hold(struct request *r, struct node *n)
{
	nodes_hold(n);
	if (!r->node)
		r->node = n;
	else
		r->node2 = n;
}

/* The kernel checked the caller against n: the object p names, or with a
 * name (name_len bytes, ending p) the directory it is in. */
static void note_checked(struct bridge_checked *c, const struct request_path *p,
			 const struct node *n, const char *name, size_t name_len)
{
	c->path = p->s;
	c->len = p->len;
	if (name) /* "/d/name" -> "/d"; "/name" -> "/" */
		c->len = p->len > name_len + 1 ? p->len - name_len - 1 : 1;
	c->dev = n->script_dev;
	c->ino = n->script_ino;
	c->generation = n->generation;
}

/* An id the kernel should not have sent (see nodes_get). */
static int unknown_node(struct request *r, struct node *n)
{
	if (n != nodes_unknown())
		return 0;
	request_reply_err(r, ESTALE);
	return 1;
}

int request_path(struct request *r, struct node *n, const char *name, int through_handle)
{
	if (unknown_node(r, n))
		return -1;
	size_t name_len = name ? strlen(name) : 0;
	if (name_len > NAME_MAX_BYTES) {
		request_reply_err(r, ENAMETOOLONG);
		return -1;
	}
	request_hold(r, n);
	if (build(r, &r->path, n, name, name_len, through_handle) != 0)
		return -1;
	if (name) {
		r->name = r->path.s + r->path.len - name_len;
		r->name_len = name_len;
	}
	note_checked(&r->caller.checked[0], &r->path, n, name, name_len);
	if (r->trace.active)
		trace_path(&r->trace, r->path.s, NULL);
	return 0;
}

int request_path2(struct request *r, struct node *n, const char *name)
{
	if (unknown_node(r, n))
		return -1;
	size_t name_len = name ? strlen(name) : 0;
	if (name_len > NAME_MAX_BYTES) {
		request_reply_err(r, ENAMETOOLONG);
		return -1;
	}
	request_hold(r, n);
	if (build(r, &r->path2, n, name, name_len, 0) != 0)
		return -1;
	if (name) {
		r->name2 = r->path2.s + r->path2.len - name_len;
		r->name2_len = name_len;
	}
	note_checked(&r->caller.checked[1], &r->path2, n, name, name_len);
	if (r->trace.active)
		trace_path(&r->trace, r->path.s, r->path2.s);
	return 0;
}

/* ---- calls ---- */

static void unlist(struct request *r)
{
	if (r->prev_waiting)
		r->prev_waiting->next_waiting = r->next_waiting;
	else
		waiting = r->next_waiting;
	if (r->next_waiting)
		r->next_waiting->prev_waiting = r->prev_waiting;
}

/* The handler of a request that waited has ended. */
static void call_done(struct bridge_call *c, int rc)
{
	struct request *r = (struct request *)((char *)c - offsetof(struct request, call));
	unlist(r);
	r->finish(r, r->interrupted ? -EINTR : rc);
}

/* The caller gave up (a signal): the handler is woken at its wait point
 * with an error it may catch to clean up; the answer is EINTR. */
static void cancel_interrupted(void *unused);

/* libfuse calls this in the worker that read the INTERRUPT, holding a
 * lock of its own: the cancellation, which runs Lua, goes by mail to the
 * worker whose Lua state holds the handler, to run on its loop. */
static void on_interrupt(fuse_req_t req, void *data)
{
	(void)req;
	struct request *r = data;
	r->interrupted = 1;
	mailbox_post(r->worker, cancel_interrupted, NULL);
}

void request_call(struct request *r, enum op handler, void (*finish)(struct request *r, int rc),
		  const char *fmt, ...)
{
	if (r->call.thread) { /* the results of an earlier call are done with */
		count_lua(r);
		bridge_done(&r->call);
	}
	r->finish = finish;
	r->call.done = call_done;
	va_list ap;
	va_start(ap, fmt);
	int rc = bridge_vcall(&r->call, handler, r->path.s, fmt, ap);
	va_end(ap);
	if (rc != BRIDGE_WAITING) {
		finish(r, rc);
		return;
	}
	r->prev_waiting = NULL;
	r->next_waiting = waiting;
	if (waiting)
		waiting->prev_waiting = r;
	waiting = r;
	fuse_req_interrupt_func(r->req, on_interrupt, r); /* may call it at once */
}

/* The first waiting request of this worker (its coroutine is in this
 * worker's Lua state), from r on. */
static struct request *mine_from(struct request *r)
{
	while (r && r->worker != lock_worker())
		r = r->next_waiting;
	return r;
}

void request_cancel_waiting(void)
{
	for (int round = 0; mine_from(waiting) && round < 2; round++)
		for (struct request *r = mine_from(waiting), *next; r; r = next) {
			next = mine_from(r->next_waiting);
			r->interrupted = 1;
			bridge_cancel(&r->call);
		}
	struct request *r;
	while ((r = mine_from(waiting))) { /* handlers that caught it and wait again */
		unlist(r);
		log_msg("handler '%s' (%s) still waited at exit", op_names[r->call.op],
			r->path.s ? r->path.s : "");
		request_reply_err(r, EINTR);
	}
}

/* In the worker that owns them: the waiting requests another worker saw
 * interrupted. */
static void cancel_interrupted(void *unused)
{
	(void)unused;
	int took = lock_enter();
	for (struct request *r = mine_from(waiting), *next; r; r = next) {
		next = mine_from(r->next_waiting);
		if (r->interrupted && r->call.waiting && !r->call.cancelled)
			bridge_cancel(&r->call);
	}
	lock_leave(took);
}

/* ---- replies ---- */

void request_reply_err(struct request *r, int err)
{
	fuse_req_t req = r->req;
	end(r, err);
	fuse_reply_err(req, err);
}

void request_reply_none(struct request *r)
{
	fuse_req_t req = r->req;
	end(r, 0);
	fuse_reply_none(req);
}

void request_reply_attr(struct request *r, const struct stat *st, double timeout)
{
	fuse_req_t req = r->req;
	end(r, 0);
	fuse_reply_attr(req, st, timeout);
}

int request_reply_entry(struct request *r, const struct fuse_entry_param *e)
{
	fuse_req_t req = r->req;
	end(r, 0);
	return fuse_reply_entry(req, e);
}

int request_reply_open(struct request *r, uint32_t backing_id)
{
	fuse_req_t req = r->req;
	struct fuse_file_info fi = r->fi;
	end(r, 0);
	device_mark_open_reply(backing_id);
	int rc = fuse_reply_open(req, &fi);
	device_mark_open_reply(0);
	return rc;
}

int request_reply_create(struct request *r, const struct fuse_entry_param *e, uint32_t backing_id)
{
	fuse_req_t req = r->req;
	struct fuse_file_info fi = r->fi;
	end(r, 0);
	device_mark_open_reply(backing_id);
	int rc = fuse_reply_create(req, e, &fi);
	device_mark_open_reply(0);
	return rc;
}

int request_reply_buf(struct request *r, const char *data, size_t len)
{
	fuse_req_t req = r->req;
	/* data may live among the handler's results: reply before ending */
	trace_reply(r, 0);
	int rc = fuse_reply_buf(req, data, len);
	end(r, 0);
	return rc;
}

void request_reply_readlink(struct request *r, const char *target)
{
	fuse_req_t req = r->req;
	trace_reply(r, 0);
	fuse_reply_readlink(req, target);
	end(r, 0);
}

void request_reply_write(struct request *r, size_t written)
{
	fuse_req_t req = r->req;
	end(r, 0);
	fuse_reply_write(req, written);
}

void request_reply_statfs(struct request *r, const struct statvfs *sv)
{
	fuse_req_t req = r->req;
	end(r, 0);
	fuse_reply_statfs(req, sv);
}

void request_reply_xattr_size(struct request *r, size_t size)
{
	fuse_req_t req = r->req;
	end(r, 0);
	fuse_reply_xattr(req, size);
}

void request_reply_from_fd(struct request *r, int fd, size_t size, off_t off, int seekable)
{
	char *data = malloc(size ? size : 1);
	if (!data) {
		request_reply_err(r, ENOMEM);
		return;
	}
	/* The request holds the open file, so fd stays open; other workers
	 * need not wait while a slow disk, or a pipe, is read. */
	int held = lock_pause();
	ssize_t got = seekable ? pread(fd, data, size, off) : read(fd, data, size);
	int err = errno;
	lock_resume(held);
	if (got < 0)
		request_reply_err(r, err);
	else
		request_reply_buf(r, data, (size_t)got);
	free(data);
}

void request_reply_lock(struct request *r, const struct flock *lock)
{
	fuse_req_t req = r->req;
	struct flock copy = *lock;
	end(r, 0);
	fuse_reply_lock(req, &copy);
}

void request_reply_lseek(struct request *r, off_t off)
{
	fuse_req_t req = r->req;
	end(r, 0);
	fuse_reply_lseek(req, off);
}

void request_reply_ioctl(struct request *r, int result, const void *data, size_t len)
{
	fuse_req_t req = r->req;
	/* data may live among the handler's results: reply before ending */
	trace_reply(r, 0);
	fuse_reply_ioctl(req, result, data, len);
	end(r, 0);
}
