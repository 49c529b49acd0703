/* Locks: getlk, setlk and flock, for filesystems shared between mounts.
 * Only a script with the handlers gets them (ops.c negotiates); without
 * them the kernel keeps locks locally, right for a single mount. A lock
 * that waits (F_SETLKW, flock without LOCK_NB) waits in its handler like
 * any other request, so the mount goes on, and an interrupt cancels it. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>

#include "ops_private.h"
#include "trace.h"

static void lock_got(struct request *r, int rc)
{
	struct flock lock;
	if (rc >= 0 && bridge_result_lock(&r->call, 1, &lock) != 0)
		rc = -EIO;
	if (rc < 0)
		request_reply_err(r, -rc);
	else
		request_reply_lock(r, &lock);
}

void ops_getlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct flock *lock)
{
	struct request *r = request_begin(req, OP_getlk);
	request_use_open(r, files_of(fi));
	if (request_path(r, nodes_get(ino), NULL, files_reachable(r->of)) == 0)
		request_call(r, OP_getlk, lock_got, "sLh", r->path.s, lock, (uint64_t)fi->lock_owner,
			     r->of ? r->of->handle : BRIDGE_NOREF);
}

static void lock_set(struct request *r, int rc)
{
	request_reply_err(r, ops_errno(rc));
}

void ops_setlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct flock *lock,
	       int sleep)
{
	struct request *r = request_begin(req, OP_setlk);
	request_use_open(r, files_of(fi));
	if (r->trace.active)
		trace_args(&r->trace, "%s%s", lock->l_type == F_UNLCK ? "unlock" : "lock",
			   sleep ? " waiting" : "");
	if (request_path(r, nodes_get(ino), NULL, files_reachable(r->of)) == 0)
		request_call(r, OP_setlk, lock_set, "sLbh", r->path.s, lock, (uint64_t)fi->lock_owner,
			     sleep, r->of ? r->of->handle : BRIDGE_NOREF);
}

/* flock(path, kind, wait, fh): kind "shared", "exclusive" or "unlock". */
void ops_flock(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, int op)
{
	struct request *r = request_begin(req, OP_flock);
	request_use_open(r, files_of(fi));
	int kind = op & (LOCK_SH | LOCK_EX | LOCK_UN);
	const char *name = kind == LOCK_SH ? "shared" : kind == LOCK_EX ? "exclusive" : "unlock";
	if (r->trace.active)
		trace_args(&r->trace, "%s%s", name, op & LOCK_NB ? "" : " waiting");
	if (request_path(r, nodes_get(ino), NULL, files_reachable(r->of)) == 0)
		request_call(r, OP_flock, lock_set, "ssbh", r->path.s, name, !(op & LOCK_NB),
			     r->of ? r->of->handle : BRIDGE_NOREF);
}
