/* Files: open, create, read, write, flush, release, fsync, fallocate. An
 * fd handed over by open or create is served by the kernel (passthrough)
 * or by the host in C; only handles reach the script's read and write. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "notify.h"
#include "ops_private.h"
#include "trace.h"
#include "values.h"

/* ---- open and create ---- */

/* Reads what open or create returned into r->of and r->fi. 0 or an errno. */
static int take_open_result(struct request *r, struct open_result *res)
{
	if (ops_take_open(r, res) != 0)
		return EIO;
	r->fi.direct_io = res->direct_io;
	r->fi.keep_cache = res->keep_cache;
	r->fi.nonseekable = res->nonseekable;
	return 0;
}

/* Starts the open r->of and replies; e is the new entry for create. */
static void reply_open(struct request *r, struct fuse_entry_param *e)
{
	struct open_file *of = r->of;
	uint32_t backing = files_start(of, &r->fi, r->fi.direct_io);
	r->fi.fh = (uintptr_t)of;
	if (r->trace.active)
		trace_result(&r->trace, "%s", of->passthrough ? "fd passthrough"
					      : of->fd >= 0 ? "fd served by host" : "handle");
	struct node *n = of->node;
	int rc = e ? request_reply_create(r, e, backing) : request_reply_open(r, backing);
	if (rc == -ENOENT) { /* interrupted: the kernel will never release it */
		files_release(of);
		if (e)
			nodes_forget(n, 1);
		files_free(of);
	}
}

static void opened(struct request *r, int rc)
{
	struct open_result res;
	int err = ops_errno(rc);
	if (rc == -ENOSYS && !bridge_has(OP_open)) {
		/* No open handler: reads go to read; writes need a write handler. */
		err = (r->fi.flags & O_ACCMODE) != O_RDONLY && !bridge_has(OP_write) ? EROFS : 0;
	} else if (rc == -ENOSYS) {
		err = ops_refuse_enosys(r);
	} else if (rc >= 0) {
		err = take_open_result(r, &res);
	}
	if (err) {
		files_free(r->of);
		request_reply_err(r, err);
		return;
	}
	reply_open(r, NULL);
}

/* An open of a file removed while open (only a file handle reaches it):
 * it has no path for the script, so the host opens it again through an fd
 * an earlier open handed over, as the kernel would through /proc. 0 when
 * there is none (the caller answers ENOENT). */
static int reopen_removed(struct request *r, struct node *n)
{
	struct open_file *from = n->open_files;
	while (from && (from->fd < 0 || !from->regular))
		from = from->next_of_node;
	if (!from)
		return 0;
	char proc[40];
	snprintf(proc, sizeof proc, "/proc/self/fd/%d", from->fd);
	int fd = open(proc, (r->fi.flags & ~(O_CREAT | O_EXCL | O_NOCTTY)) | O_CLOEXEC);
	if (fd < 0) {
		request_reply_err(r, errno);
		return 1;
	}
	request_hold(r, n);
	request_use_open(r, files_new(n));
	if (!r->of || files_take_fd(r->of, fd, r->fi.flags, &r->call) != 0) {
		if (r->of)
			files_free(r->of);
		else
			close(fd);
		request_reply_err(r, r->of ? EIO : ENOMEM);
		return 1;
	}
	if (r->trace.active)
		trace_path(&r->trace, n->gone_path ? n->gone_path : "(removed)", NULL);
	reply_open(r, NULL);
	return 1;
}

void ops_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct request *r = request_begin(req, OP_open);
	struct node *n = nodes_get(ino);
	r->fi = *fi;
	if (r->trace.active)
		trace_args(&r->trace, "flags=0%o", fi->flags);
	if (nodes_unlinked_node(n) && reopen_removed(r, n))
		return;
	if (request_path(r, n, NULL, 0) != 0)
		return;
	request_use_open(r, files_new(n));
	if (!r->of) {
		request_reply_err(r, ENOMEM);
		return;
	}
	request_call(r, OP_open, opened, "si", r->path.s, fi->flags);
}

/* The reply to a create or tmpfile: the new node's entry with the open, or
 * the error (ENOMEM when no node could be made). */
static void reply_made(struct request *r, struct node *n, int err, const struct stat *st)
{
	if (!n) {
		files_free(r->of);
		request_reply_err(r, err ? err : ENOMEM);
		return;
	}
	r->of->node = n;
	struct fuse_entry_param e;
	ops_fill_entry(&e, n, st);
	reply_open(r, &e);
}

static void created_with_stat(struct request *r, int err, struct stat *st)
{
	struct node *n = err ? NULL : nodes_remember(r->node, r->name, r->name_len, st,
						    r->generation);
	reply_made(r, n, err, st);
}

static void created(struct request *r, int rc)
{
	struct open_result res;
	int err = rc < 0 ? -rc : take_open_result(r, &res);
	if (err) { /* ENOSYS without a handler: the kernel goes on with mknod and open */
		files_free(r->of);
		request_reply_err(r, err);
	} else if (res.has_stat) {
		r->generation = res.generation;
		created_with_stat(r, 0, &res.st);
	} else {
		ops_ask_stat(r, r->of->handle, created_with_stat);
	}
}

/* ---- O_TMPFILE ---- */

static void tmpfile_made(struct request *r, int rc)
{
	struct open_result res;
	int err = rc < 0 ? -rc : take_open_result(r, &res);
	if (!err && !res.has_stat)
		err = -bridge_bad_result(&r->call, "must return the new file's stat too: handle, stat");
	char where[300];
	snprintf(where, sizeof where, "%.280s/(tmpfile)", strcmp(r->path.s, "/") ? r->path.s : "");
	struct node *n = err ? NULL : nodes_unnamed(&res.st, res.generation, where);
	reply_made(r, n, err, &res.st);
}

/* tmpfile(dir, mode, flags): an open file with no name, which linkat may
 * name later. ENOSYS without a handler: the kernel then says EOPNOTSUPP. */
static void make_tmpfile(struct request *r, fuse_ino_t parent, mode_t mode)
{
	if (r->trace.active)
		trace_args(&r->trace, "mode=%o flags=0%o", mode, r->fi.flags);
	if (request_path(r, nodes_get(parent), NULL, 0) != 0)
		return;
	request_use_open(r, files_new(NULL));
	if (!r->of) {
		request_reply_err(r, ENOMEM);
		return;
	}
	request_call(r, OP_tmpfile, tmpfile_made, "sii", r->path.s, (int)mode, r->fi.flags);
}

void ops_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		struct fuse_file_info *fi)
{
	if (strcmp(name, "/") == 0) { /* FUSE_TMPFILE, passed on as CREATE (device.c) */
		struct request *r = request_begin(req, OP_tmpfile);
		r->fi = *fi;
		make_tmpfile(r, parent, mode);
		return;
	}
	struct request *r = request_begin(req, OP_create);
	r->fi = *fi;
	if (r->trace.active)
		trace_args(&r->trace, "mode=%o flags=0%o", mode, fi->flags);
	if (request_path(r, nodes_get(parent), name, 0) != 0)
		return;
	request_use_open(r, files_new(NULL));
	if (!r->of) {
		request_reply_err(r, ENOMEM);
		return;
	}
	request_call(r, OP_create, created, "sii", r->path.s, (int)mode, fi->flags);
}

/* ---- data ---- */

/* The path of a request the host serves without the script, for the
 * trace only. */
static void trace_data(struct request *r, struct open_file *of, const char *what, size_t size,
		       off_t off)
{
	if (request_path(r, of->node, NULL, 1) == 0)
		trace_result(&r->trace, "served by host %s fd %d, %zu bytes at %lld", what, of->fd,
			     size, (long long)off);
}

static void data_read(struct request *r, int rc)
{
	const char *data;
	size_t len;
	if (rc > 0 && bridge_result_bytes(&r->call, 1, &data, &len, "must return a string") != 0)
		rc = -EIO;
	else if (rc > 0 && len > r->size)
		rc = bridge_bad_result(&r->call, "returned more bytes than were asked for "
						 "(use offset and size)");
	else if (rc == 0)
		data = "", len = 0;
	if (rc < 0) {
		request_reply_err(r, -rc);
		return;
	}
	if (r->trace.active)
		trace_result(&r->trace, "%zu bytes", len);
	request_reply_buf(r, data, len);
}

void ops_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct request *r = request_begin(req, OP_read);
	struct open_file *of = files_of(fi);
	if (of && of->fd >= 0) {
		if (r->trace.active)
			trace_data(r, of, "from", size, off);
		request_reply_from_fd(r, of->fd, size, off, !of->sequential);
		return;
	}
	r->size = size;
	if (r->trace.active)
		trace_args(&r->trace, "size=%zu offset=%lld", size, (long long)off);
	if (request_path(r, nodes_get(ino), NULL, files_reachable(of)) == 0)
		request_call(r, OP_read, data_read, "suuh", r->path.s, (uint64_t)size, (uint64_t)off,
			     of ? of->handle : BRIDGE_NOREF);
}

static void data_written(struct request *r, int rc)
{
	uint64_t written = r->size;
	if (rc > 0 && bridge_result_count(&r->call, 1, r->size, &written,
					  "must return the number of bytes written (a whole number "
					  "from 0 to the size given)") != 0)
		rc = -EIO;
	if (rc < 0) {
		request_reply_err(r, -rc);
		return;
	}
	if (r->trace.active)
		trace_result(&r->trace, "%llu bytes", (unsigned long long)written);
	request_reply_write(r, (size_t)written);
}

void ops_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
	       struct fuse_file_info *fi)
{
	struct request *r = request_begin(req, OP_write);
	struct open_file *of = files_of(fi);
	if (of && of->fd >= 0) {
		if (r->trace.active)
			trace_data(r, of, "to", size, off);
		ssize_t n = files_write(of, buf, size, off);
		if (n < 0)
			request_reply_err(r, errno);
		else
			request_reply_write(r, (size_t)n);
		return;
	}
	r->size = size;
	if (r->trace.active)
		trace_args(&r->trace, "size=%zu offset=%lld", size, (long long)off);
	if (request_path(r, nodes_get(ino), NULL, files_reachable(of)) == 0)
		request_call(r, OP_write, data_written, "sluh", r->path.s, buf, size, (uint64_t)off,
			     of ? of->handle : BRIDGE_NOREF);
}

/* ---- flush, release, fsync, fallocate ---- */

static void flushed(struct request *r, int rc)
{
	request_reply_err(r, ops_errno(rc));
}

static void flush_now(struct request *r, int call)
{
	if (call > 0)
		request_call(r, OP_flush, flushed, "sh", r->path.s, r->of ? r->of->handle : BRIDGE_NOREF);
	else if (call == 0) /* ENOSYS: the kernel stops sending FLUSH, a round trip per close */
		request_reply_err(r, bridge_has(OP_flush) || bridge_has(OP_setlk) ? 0 : ENOSYS);
}

static void unlocked_at_close(struct request *r, int rc)
{
	if (rc < 0 && rc != -EIO)
		log_msg("handler 'setlk' (%s) failed to drop the locks of a closing file: %s",
			r->path.s, values_errno_name(-rc));
	flush_now(r, bridge_has(OP_flush));
}

/* A close drops the POSIX locks its process holds on the file: with lock
 * handlers the host asks setlk to unlock the whole file for the owner the
 * kernel names, before the flush handler. */
void ops_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct request *r = request_begin(req, OP_flush);
	request_use_open(r, files_of(fi));
	int locks = bridge_has(OP_setlk);
	int call = locks ? (request_path(r, nodes_get(ino), NULL, 1) == 0 ? 1 : -1)
			 : ops_with_handler(r, OP_flush, nodes_get(ino));
	if (call > 0 && locks) {
		struct flock all = { .l_type = F_UNLCK, .l_whence = SEEK_SET, .l_pid = r->caller.pid };
		request_call(r, OP_setlk, unlocked_at_close, "sLbh", r->path.s, &all,
			     (uint64_t)fi->lock_owner, 0, r->of ? r->of->handle : BRIDGE_NOREF);
	} else {
		flush_now(r, call);
	}
}

/* Writes through a passthrough open, mmap's included, change the backing
 * file's times and size behind the kernel's cached attributes: when such
 * an open ends or is synced, the kernel is told to ask again, unless the
 * file's size and times are still those it was last given (an open that
 * wrote nothing: the next stat or open then costs no GETATTR). Plain
 * writes make the kernel ask again by themselves. */
static void attributes_changed(struct open_file *of)
{
	struct stat st;
	if (!of || !of->passthrough || !of->writable)
		return;
	if (fstat(of->fd, &st) == 0 && nodes_kernel_knows(of->node, &st))
		return;
	notify_inode(nodes_id(of->node));
}

static void released(struct request *r, int rc)
{
	if (rc < 0 && rc != -EIO)
		log_msg("handler 'release' (%s) failed with %s; the kernel ignores release errors",
			r->path.s, values_errno_name(-rc));
	attributes_changed(r->of);
	if (r->of) {
		files_release(r->of);
		files_free(r->of);
	}
	request_reply_err(r, 0);
}

static void release_now(struct request *r, int rc)
{
	(void)rc; /* logged by the bridge when it raised */
	if (bridge_has(OP_release))
		request_call(r, OP_release, released, "sh", r->path.s,
			     r->of ? r->of->handle : BRIDGE_NOREF);
	else
		released(r, 0);
}

void ops_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct request *r = request_begin(req, OP_release);
	struct open_file *of = files_of(fi);
	request_use_open(r, of);
	/* The last close of an open drops the flock it holds. */
	int unlock = fi->flock_release && bridge_has(OP_flock);
	int call = unlock ? (request_path(r, nodes_get(ino), NULL, 1) == 0 ? 1 : -1)
			  : ops_with_handler(r, OP_release, nodes_get(ino));
	if (call > 0 && unlock) {
		request_call(r, OP_flock, release_now, "ssbh", r->path.s, "unlock", 0,
			     of ? of->handle : BRIDGE_NOREF);
	} else if (call > 0) {
		request_call(r, OP_release, released, "sh", r->path.s, of ? of->handle : BRIDGE_NOREF);
	} else if (call == 0) {
		released(r, 0);
	} else if (of) { /* no memory for the path, and replied: the open still goes */
		files_release(of);
		files_free(of);
	}
}

static void synced(struct request *r, int rc)
{
	attributes_changed(r->of);
	request_reply_err(r, ops_errno(rc));
}

void ops_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct request *r = request_begin(req, OP_fsync);
	request_use_open(r, files_of(fi));
	int call = ops_with_handler(r, OP_fsync, nodes_get(ino));
	if (call > 0) {
		request_call(r, OP_fsync, synced, "sbh", r->path.s, datasync,
			     r->of ? r->of->handle : BRIDGE_NOREF);
	} else if (call == 0) {
		int fd = r->of ? r->of->fd : -1;
		int err = fd >= 0 && (datasync ? fdatasync(fd) : fsync(fd)) != 0 ? errno : 0;
		attributes_changed(r->of);
		request_reply_err(r, err);
	}
}

static void allocated(struct request *r, int rc)
{
	request_reply_err(r, ops_errno(rc));
}

void ops_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
		   struct fuse_file_info *fi)
{
	struct request *r = request_begin(req, OP_fallocate);
	request_use_open(r, files_of(fi));
	if (!bridge_has(OP_fallocate)) {
		int fd = r->of ? r->of->fd : -1;
		int err = fd < 0 ? ENOSYS : fallocate(fd, mode, offset, length) == 0 ? 0 : errno;
		request_reply_err(r, err);
		return;
	}
	if (request_path(r, nodes_get(ino), NULL, files_reachable(r->of)) == 0)
		request_call(r, OP_fallocate, allocated, "siuuh", r->path.s, mode, (uint64_t)offset,
			     (uint64_t)length, r->of ? r->of->handle : BRIDGE_NOREF);
}
