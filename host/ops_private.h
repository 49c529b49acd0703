/* Shared by the ops_*.c files only. */
#ifndef MOONFS_OPS_PRIVATE_H
#define MOONFS_OPS_PRIVATE_H

#include <fuse_lowlevel.h>

#include "bridge.h"
#include "files.h"
#include "nodes.h"
#include "ops.h"
#include "request.h"

/* Asks getattr(r->path, handle) and calls done(r, err, st); without a
 * getattr handler the root is a directory and nothing else exists. */
void ops_ask_stat(struct request *r, bridge_ref handle,
		  void (*done)(struct request *r, int err, struct stat *st));

/* For handlers that may return the new object's stat (mknod, mkdir,
 * symlink, link, setattr): its stat as a result, else a getattr. */
void ops_stat_result(struct request *r, int rc, bridge_ref handle,
		     void (*done)(struct request *r, int err, struct stat *st));

/* Replies with the entry of parent/name (name_len bytes) described by st,
 * remembering the node; undone when the request was interrupted. Returns
 * the node, or NULL when no reference was taken. */
struct node *ops_reply_entry(struct request *r, struct node *parent, const char *name,
			     size_t name_len, struct stat *st);
void ops_fill_entry(struct fuse_entry_param *e, struct node *n, const struct stat *st);

/* Replies with the attributes of r->node. */
void ops_reply_attr(struct request *r, struct stat *st);

/* -errno or a result count from a call, as an errno for a reply. */
static inline int ops_errno(int rc)
{
	return rc < 0 ? -rc : 0;
}

/* Takes what open, create or opendir returned into r->of: the handle, and
 * an fd handed over (owned by the open from now on, even when the rest of
 * the result is wrong, so that it is closed). 0 or EIO. */
int ops_take_open(struct request *r, struct open_result *res);

/* An open or opendir handler that answered ENOSYS: the kernel would take
 * it as "this filesystem needs no opens" for good, and later requests
 * would come without any handle. Logged and answered EIO instead. */
int ops_refuse_enosys(struct request *r);

/* For requests on an open (flush, release, fsync, releasedir, fsyncdir):
 * 1 when op's handler is to be called (r->path then built), 0 when not,
 * -1 after replying (no memory for the path). Without a handler no path
 * is built unless for the trace. A removed file the script cannot reach
 * through a handle gets no call, since its old path may name another
 * file by now; releases are called with the last path, so that scripts
 * can free what they hold. */
int ops_with_handler(struct request *r, enum op op, struct node *n);

/* LOOKUP of "." or "..": the kernel finding a node by id for a file
 * handle (ops_handles.c). */
void ops_lookup_handle(struct request *r, fuse_ino_t id, const char *name);

/* The operations, for the table in ops.c. */
void ops_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
void ops_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void ops_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int valid,
		 struct fuse_file_info *fi);
void ops_readlink(fuse_req_t req, fuse_ino_t ino);
void ops_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev);
void ops_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode);
void ops_symlink(fuse_req_t req, const char *target, fuse_ino_t parent, const char *name);
void ops_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname);
void ops_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void ops_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
void ops_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		const char *newname, unsigned int flags);
void ops_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void ops_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		struct fuse_file_info *fi);
void ops_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi);
void ops_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
	       struct fuse_file_info *fi);
void ops_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void ops_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void ops_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);
void ops_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
		   struct fuse_file_info *fi);
void ops_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void ops_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		 struct fuse_file_info *fi);
void ops_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		     struct fuse_file_info *fi);
void ops_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void ops_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);
void ops_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence, struct fuse_file_info *fi);
void ops_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
			 struct fuse_file_info *fi_in, fuse_ino_t ino_out, off_t off_out,
			 struct fuse_file_info *fi_out, size_t len, int flags);
void ops_ioctl(fuse_req_t req, fuse_ino_t ino, unsigned int cmd, void *arg,
	       struct fuse_file_info *fi, unsigned flags, const void *in_buf, size_t in_bufsz,
	       size_t out_bufsz);
void ops_getlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct flock *lock);
void ops_setlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct flock *lock,
	       int sleep);
void ops_flock(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, int op);
void ops_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
		  size_t size, int flags);
void ops_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size);
void ops_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);
void ops_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name);

#endif
