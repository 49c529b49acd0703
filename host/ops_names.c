/* Names and attributes: lookup, getattr, setattr, readlink, the creating
 * operations, unlink, rmdir, rename. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ops_private.h"
#include "trace.h"

/* ---- lookup, getattr, setattr ---- */

static void looked_up(struct request *r, int err, struct stat *st)
{
	if (err == ENOENT && ops_config.negative_timeout > 0) {
		struct fuse_entry_param e = { .ino = 0, .entry_timeout = ops_config.negative_timeout };
		if (r->trace.active)
			trace_result(&r->trace, "ENOENT (cached %g s)", ops_config.negative_timeout);
		request_reply_entry(r, &e);
	} else if (err) {
		request_reply_err(r, err);
	} else {
		ops_reply_entry(r, r->node, r->name, r->name_len, st);
	}
}

void ops_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct request *r = request_begin(req, OP_lookup);
	/* The kernel resolves "." and ".." itself; it sends them only to find
	 * a node for a file handle. */
	if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'))) {
		ops_lookup_handle(r, parent, name);
		return;
	}
	if (request_path(r, nodes_get(parent), name, 0) == 0)
		ops_ask_stat(r, BRIDGE_NOREF, looked_up);
}

static void got_attr(struct request *r, int err, struct stat *st)
{
	if (err)
		request_reply_err(r, err);
	else
		ops_reply_attr(r, st);
}

void ops_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct request *r = request_begin(req, OP_getattr);
	struct node *n = nodes_get(ino);
	request_use_open(r, files_handle_for(n, fi));
	if (request_path(r, n, NULL, files_reachable(r->of)) == 0)
		ops_ask_stat(r, r->of ? r->of->handle : BRIDGE_NOREF, got_attr);
}

static void attrs_set(struct request *r, int rc)
{
	ops_stat_result(r, rc, r->of ? r->of->handle : BRIDGE_NOREF, got_attr);
}

void ops_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int valid,
		 struct fuse_file_info *fi)
{
	struct request *r = request_begin(req, OP_setattr);
	struct node *n = nodes_get(ino);
	request_use_open(r, files_handle_for(n, fi));
	if (r->trace.active)
		trace_args(&r->trace, "valid=0x%x", valid);
	if (request_path(r, n, NULL, files_reachable(r->of)) == 0)
		request_call(r, OP_setattr, attrs_set, "sAh", r->path.s, valid, attr,
			     r->of ? r->of->handle : BRIDGE_NOREF);
}

static void link_read(struct request *r, int rc)
{
	const char *target;
	size_t len;
	if (rc >= 0 && bridge_result_bytes(&r->call, 1, &target, &len,
					   "must return the target as a string") != 0)
		rc = -EIO;
	else if (rc >= 0 && (len == 0 || memchr(target, '\0', len)))
		rc = bridge_bad_result(&r->call, "returned an empty target or one with a NUL byte");
	if (rc < 0) {
		request_reply_err(r, -rc);
		return;
	}
	if (r->trace.active)
		trace_result(&r->trace, "\"%.100s\"", target);
	request_reply_readlink(r, target);
}

void ops_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct request *r = request_begin(req, OP_readlink);
	if (request_path(r, nodes_get(ino), NULL, 0) == 0)
		request_call(r, OP_readlink, link_read, "s", r->path.s);
}

/* ---- making names ---- */

static void entry_made(struct request *r, int err, struct stat *st)
{
	if (err)
		request_reply_err(r, err);
	else
		ops_reply_entry(r, r->node, r->name, r->name_len, st);
}

static void made(struct request *r, int rc)
{
	ops_stat_result(r, rc, BRIDGE_NOREF, entry_made);
}

void ops_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	struct request *r = request_begin(req, OP_mknod);
	if (r->trace.active)
		trace_args(&r->trace, "mode=%o", mode);
	if (request_path(r, nodes_get(parent), name, 0) == 0)
		request_call(r, OP_mknod, made, "siu", r->path.s, (int)mode, (uint64_t)rdev);
}

void ops_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct request *r = request_begin(req, OP_mkdir);
	if (r->trace.active)
		trace_args(&r->trace, "mode=%o", mode);
	if (request_path(r, nodes_get(parent), name, 0) == 0)
		request_call(r, OP_mkdir, made, "si", r->path.s, (int)(mode & 07777));
}

void ops_symlink(fuse_req_t req, const char *target, fuse_ino_t parent, const char *name)
{
	struct request *r = request_begin(req, OP_symlink);
	if (r->trace.active)
		trace_args(&r->trace, "target=\"%.100s\"", target);
	if (request_path(r, nodes_get(parent), name, 0) == 0)
		request_call(r, OP_symlink, made, "ss", target, r->path.s);
}

/* The new name is the same inode, whatever the script reports. */
static void link_made(struct request *r, int err, struct stat *st)
{
	if (err) {
		request_reply_err(r, err);
		return;
	}
	nodes_add_name(r->node, r->node2, r->name2);
	ops_reply_entry(r, r->node2, r->name2, r->name2_len, st);
}

static void linked(struct request *r, int rc)
{
	ops_stat_result(r, rc, BRIDGE_NOREF, link_made);
}

/* link(from, to, fh): fh is given for a file with no name left (an
 * O_TMPFILE file, or one unlinked while open), the only way to reach it. */
void ops_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	struct request *r = request_begin(req, OP_link);
	struct node *n = nodes_get(ino);
	request_use_open(r, files_handle_for(n, NULL));
	if (request_path(r, n, NULL, files_reachable(r->of)) == 0 &&
	    request_path2(r, nodes_get(newparent), newname) == 0)
		request_call(r, OP_link, linked, "ssh", r->path.s, r->path2.s,
			     r->of ? r->of->handle : BRIDGE_NOREF);
}

/* ---- removing and moving names ---- */

static void removed(struct request *r, int rc)
{
	if (rc >= 0)
		nodes_unlinked(r->node, r->name);
	request_reply_err(r, ops_errno(rc));
}

void ops_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct request *r = request_begin(req, OP_unlink);
	if (request_path(r, nodes_get(parent), name, 0) == 0)
		request_call(r, OP_unlink, removed, "s", r->path.s);
}

void ops_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct request *r = request_begin(req, OP_rmdir);
	if (request_path(r, nodes_get(parent), name, 0) == 0)
		request_call(r, OP_rmdir, removed, "s", r->path.s);
}

static void renamed(struct request *r, int rc)
{
	if (rc >= 0)
		nodes_renamed(r->node, r->name, r->node2, r->name2, (r->flags & RENAME_EXCHANGE) != 0);
	request_reply_err(r, ops_errno(rc));
}

/* Every flag the kernel sends (RENAME_NOREPLACE, _EXCHANGE, _WHITEOUT)
 * goes to the handler, which refuses what it cannot do. */
void ops_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		const char *newname, unsigned int flags)
{
	struct request *r = request_begin(req, OP_rename);
	r->flags = flags;
	if (r->trace.active && flags)
		trace_args(&r->trace, "flags=%u", flags);
	if (request_path(r, nodes_get(parent), name, 0) == 0 &&
	    request_path2(r, nodes_get(newparent), newname) == 0)
		request_call(r, OP_rename, renamed, "ssi", r->path.s, r->path2.s, (int)flags);
}
