/* Data beyond read and write: lseek (SEEK_DATA, SEEK_HOLE),
 * copy_file_range, ioctl. For opens with an fd the host answers from the
 * fd itself, no Lua, no data through user space; handle opens may have
 * handlers of their own. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ops_private.h"
#include "trace.h"

/* ---- lseek ---- */

static void sought(struct request *r, int rc)
{
	uint64_t off;
	if (rc >= 0 && bridge_result_count(&r->call, 1, INT64_MAX, &off,
					   "must return the offset found (a whole number)") != 0)
		rc = -EIO;
	if (rc < 0)
		request_reply_err(r, -rc); /* ENOSYS: the kernel's own answer from then on */
	else
		request_reply_lseek(r, (off_t)off);
}

void ops_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence, struct fuse_file_info *fi)
{
	struct request *r = request_begin(req, OP_lseek);
	request_use_open(r, files_of(fi));
	if (r->trace.active)
		trace_args(&r->trace, "%s from %lld", whence == SEEK_DATA ? "data" : "hole",
			   (long long)off);
	if (r->of && r->of->fd >= 0) {
		if (r->trace.active && request_path(r, nodes_get(ino), NULL, 1) != 0)
			return;
		off_t found = lseek(r->of->fd, off, whence);
		if (found < 0)
			request_reply_err(r, errno);
		else
			request_reply_lseek(r, found);
		return;
	}
	if (request_path(r, nodes_get(ino), NULL, files_reachable(r->of)) == 0)
		request_call(r, OP_lseek, sought, "suih", r->path.s, (uint64_t)off, whence,
			     r->of ? r->of->handle : BRIDGE_NOREF);
}

/* ---- copy_file_range ---- */

static void copied(struct request *r, int rc)
{
	uint64_t n;
	if (rc >= 0 && bridge_result_count(&r->call, 1, r->size, &n,
					   "must return the number of bytes copied (0 to the length "
					   "given)") != 0)
		rc = -EIO;
	if (rc < 0)
		request_reply_err(r, -rc); /* ENOSYS: the kernel copies through read and write */
	else
		request_reply_write(r, (size_t)n);
}

/* Between two fd opens an in-kernel copy (reflink where the backing
 * filesystem can); else copy_file_range(from, off_in, fh_in, to, off_out,
 * fh_out, length, flags) if the script has it. */
void ops_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
			 struct fuse_file_info *fi_in, fuse_ino_t ino_out, off_t off_out,
			 struct fuse_file_info *fi_out, size_t len, int flags)
{
	struct request *r = request_begin(req, OP_copy_file_range);
	struct open_file *in = files_of(fi_in), *out = files_of(fi_out);
	if (r->trace.active)
		trace_args(&r->trace, "%zu bytes", len);
	if (in && out && in->fd >= 0 && out->fd >= 0) {
		if (r->trace.active && (request_path(r, nodes_get(ino_in), NULL, 1) != 0 ||
					request_path2(r, nodes_get(ino_out), NULL) != 0))
			return;
		loff_t from = off_in, to = off_out;
		ssize_t n = copy_file_range(in->fd, &from, out->fd, &to, len, (unsigned)flags);
		if (n < 0)
			request_reply_err(r, errno);
		else
			request_reply_write(r, (size_t)n);
		return;
	}
	r->size = len;
	if (request_path(r, nodes_get(ino_in), NULL, files_reachable(in)) == 0 &&
	    request_path2(r, nodes_get(ino_out), NULL) == 0)
		request_call(r, OP_copy_file_range, copied, "suhsuhui", r->path.s, (uint64_t)off_in,
			     in ? in->handle : BRIDGE_NOREF, r->path2.s, (uint64_t)off_out,
			     out ? out->handle : BRIDGE_NOREF, (uint64_t)len, flags);
}

/* ---- ioctl ---- */

static void ioctl_done(struct request *r, int rc)
{
	uint64_t result = 0;
	const char *data = "";
	size_t len = 0;
	if (rc >= 1 && bridge_result_count(&r->call, 1, INT32_MAX, &result,
					   "must return a result (a whole number from 0) and the "
					   "bytes to give back") != 0)
		rc = -EIO;
	if (rc >= 2 && bridge_result_bytes(&r->call, 2, &data, &len,
					   "must return the bytes to give back as a string") != 0)
		rc = -EIO;
	if (rc >= 2 && len > r->size)
		rc = bridge_bad_result(&r->call, "returned more bytes than the ioctl gives back");
	if (rc < 0)
		request_reply_err(r, -rc == ENOSYS ? ENOTTY : -rc);
	else
		request_reply_ioctl(r, (int)result, data, len);
}

/* Attribute flags a caller changes only as root (CAP_LINUX_IMMUTABLE on
 * a local filesystem), which the host, acting as root, would not check. */
#define PRIVILEGED_FLAGS (FS_IMMUTABLE_FL | FS_APPEND_FL)
#define PRIVILEGED_XFLAGS (FS_XFLAG_IMMUTABLE | FS_XFLAG_APPEND)

/* Whether the caller may change the attributes of the file behind fd as
 * `wanted` says: its owner or root, and root alone for the privileged
 * flags and project ids. */
static int may_set(int fd, uid_t caller, unsigned int cmd, const void *wanted)
{
	struct stat st;
	if (fstat(fd, &st) != 0)
		return errno;
	if (caller != 0 && caller != st.st_uid)
		return EPERM;
	if (caller == 0)
		return 0;
	if (cmd == FS_IOC_SETFLAGS) {
		unsigned int now = 0, want;
		memcpy(&want, wanted, sizeof want);
		if (ioctl(fd, FS_IOC_GETFLAGS, &now) != 0)
			return errno;
		return ((now ^ want) & PRIVILEGED_FLAGS) ? EPERM : 0;
	}
	struct fsxattr now, want;
	memcpy(&want, wanted, sizeof want);
	if (ioctl(fd, FS_IOC_FSGETXATTR, &now) != 0)
		return errno;
	return ((now.fsx_xflags ^ want.fsx_xflags) & PRIVILEGED_XFLAGS) ||
			       now.fsx_projid != want.fsx_projid ? EPERM : 0;
}

/* The ioctls forwarded to an fd the host serves: the inode's attribute
 * flags (lsattr, chattr) and fsxattr (xfs_io), which the kernel asks for
 * as restricted ioctls. Anything else is refused with ENOTTY: the host
 * runs an ioctl with its own rights, and others could reach beyond the
 * file (a filesystem resize, a device's controls) or need checks only the
 * kernel can make. FS_IOC_FIEMAP and FIONREAD never come here: the kernel
 * answers them itself. */
static void ioctl_on_fd(struct request *r, unsigned int cmd, const void *in, size_t in_size,
			size_t out_size)
{
	int fd = r->of->fd;
	union {
		unsigned int flags;
		struct fsxattr fsx;
	} buf;
	memset(&buf, 0, sizeof buf);
	size_t size = cmd == FS_IOC_FSGETXATTR || cmd == FS_IOC_FSSETXATTR ? sizeof buf.fsx
									   : sizeof buf.flags;
	int err;
	switch (cmd) {
	case FS_IOC_GETFLAGS:
	case FS_IOC_FSGETXATTR:
		if (ioctl(fd, cmd, &buf) != 0)
			break;
		request_reply_ioctl(r, 0, &buf, out_size < size ? out_size : size);
		return;
	case FS_IOC_SETFLAGS:
	case FS_IOC_FSSETXATTR:
		if (in_size < size) {
			errno = EINVAL;
			break;
		}
		memcpy(&buf, in, size);
		if ((err = may_set(fd, r->caller.uid, cmd, &buf)) != 0) {
			errno = err;
			break;
		}
		if (ioctl(fd, cmd, &buf) != 0)
			break;
		request_reply_ioctl(r, 0, NULL, 0);
		return;
	default:
		errno = ENOTTY;
	}
	request_reply_err(r, errno);
}

void ops_ioctl(fuse_req_t req, fuse_ino_t ino, unsigned int cmd, void *arg,
	       struct fuse_file_info *fi, unsigned flags, const void *in_buf, size_t in_bufsz,
	       size_t out_bufsz)
{
	(void)arg;
	struct request *r = request_begin(req, OP_ioctl);
	request_use_open(r, files_of(fi));
	if (r->trace.active)
		trace_args(&r->trace, "cmd=0x%x in=%zu out=%zu", cmd, in_bufsz, out_bufsz);
	if (flags & FUSE_IOCTL_COMPAT) { /* a 32-bit caller: argument layouts differ */
		request_reply_err(r, ENOTTY);
		return;
	}
	if (r->of && r->of->fd >= 0) {
		if (r->trace.active && request_path(r, nodes_get(ino), NULL, 1) != 0)
			return;
		ioctl_on_fd(r, cmd, in_buf, in_bufsz, out_bufsz);
		return;
	}
	r->size = out_bufsz;
	if (request_path(r, nodes_get(ino), NULL, files_reachable(r->of)) == 0)
		request_call(r, OP_ioctl, ioctl_done, "sulh", r->path.s, (uint64_t)cmd,
			     in_buf ? (const char *)in_buf : "", in_bufsz,
			     r->of ? r->of->handle : BRIDGE_NOREF);
}
