/* Extended attributes. The kernel names no open file for these; for a
 * node removed while open the handlers get that open's handle, the only
 * safe way to it. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "notify.h"
#include "ops_private.h"
#include "trace.h"

/* Starts an xattr request on node ino: its path, and the handle of an open
 * of it when it has lost its names. Returns the handle, or -1 after
 * replying. */
static int begin_xattr(struct request *r, fuse_ino_t ino)
{
	struct node *n = nodes_get(ino);
	request_use_open(r, files_handle_for(n, NULL));
	return request_path(r, n, NULL, files_reachable(r->of));
}

static bridge_ref handle_of(const struct request *r)
{
	return r->of ? r->of->handle : BRIDGE_NOREF;
}

/* The value or the list, or for size 0 (the caller probing) its size;
 * ERANGE when it does not fit. */
static void reply_value(struct request *r, const char *data, size_t len)
{
	if (r->size == 0) {
		if (r->trace.active)
			trace_result(&r->trace, "size %zu", len);
		request_reply_xattr_size(r, len);
	} else if (len > r->size) {
		request_reply_err(r, ERANGE);
	} else {
		if (r->trace.active)
			trace_result(&r->trace, "%zu bytes", len);
		request_reply_buf(r, data, len);
	}
}

static void xattr_done(struct request *r, int rc)
{
	request_reply_err(r, ops_errno(rc));
}

/* Setting or removing a file's access ACL changes its mode's group bits
 * on the backing filesystem. A kernel that keeps ACLs updates the mode
 * itself; otherwise it is told to fetch it again before the caller's
 * next stat. */
static void access_acl_done(struct request *r, int rc)
{
	if (rc >= 0)
		notify_attributes_now(nodes_id(r->node));
	xattr_done(r, rc);
}

/* Whether a change of xattr `name` may change the file's mode unseen. */
static int changes_mode(const char *name)
{
	return !ops_config.kernel_acls && strcmp(name, "system.posix_acl_access") == 0;
}

void ops_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
		  size_t size, int flags)
{
	struct request *r = request_begin(req, OP_setxattr);
	if (r->trace.active)
		trace_args(&r->trace, "%s (%zu bytes) flags=%d", name, size, flags);
	if (begin_xattr(r, ino) == 0)
		request_call(r, OP_setxattr, changes_mode(name) ? access_acl_done : xattr_done,
			     "sslih", r->path.s, name, value, size, flags, handle_of(r));
}

static void value_got(struct request *r, int rc)
{
	const char *data;
	size_t len;
	if (rc >= 0 && bridge_result_bytes(&r->call, 1, &data, &len,
					   "must return the value as a string, or nil, \"ENODATA\"") != 0)
		rc = -EIO;
	if (rc < 0)
		request_reply_err(r, -rc);
	else
		reply_value(r, data, len);
}

void ops_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct request *r = request_begin(req, OP_getxattr);
	r->size = size;
	if (r->trace.active)
		trace_args(&r->trace, "%s", name);
	if (begin_xattr(r, ino) == 0)
		request_call(r, OP_getxattr, value_got, "ssh", r->path.s, name, handle_of(r));
}

static void names_got(struct request *r, int rc)
{
	char *list = NULL;
	size_t len = 0;
	if (rc >= 0)
		rc = bridge_result_names(&r->call, 1, &list, &len);
	if (rc < 0)
		request_reply_err(r, -rc);
	else
		reply_value(r, list, len);
	free(list);
}

void ops_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct request *r = request_begin(req, OP_listxattr);
	r->size = size;
	if (begin_xattr(r, ino) == 0)
		request_call(r, OP_listxattr, names_got, "sh", r->path.s, handle_of(r));
}

void ops_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct request *r = request_begin(req, OP_removexattr);
	if (r->trace.active)
		trace_args(&r->trace, "%s", name);
	if (begin_xattr(r, ino) == 0)
		request_call(r, OP_removexattr, changes_mode(name) ? access_acl_done : xattr_done,
			     "ssh", r->path.s, name, handle_of(r));
}
