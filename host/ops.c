/* The shared steps of the operations, the ones that need no file of their
 * own (init, destroy, forget, statfs, access), and the table for libfuse. */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "device.h"
#include "log.h"
#include "ops_private.h"
#include "passthrough.h"
#include "stats.h"
#include "uring.h"
#include "values.h"

#define NAME_MAX_BYTES 255

struct ops_config ops_config = { .entry_timeout = 1.0, .attr_timeout = 1.0 };

/* ---- attributes and entries ---- */

static void default_stat(const char *path, struct stat *st, int *err)
{
	*err = strcmp(path, "/") == 0 ? 0 : ENOENT;
	memset(st, 0, sizeof *st);
	st->st_mode = S_IFDIR | 0755;
	st->st_nlink = 2;
	st->st_uid = getuid();
	st->st_gid = getgid();
}

static void got_stat(struct request *r, int rc)
{
	struct stat st;
	int err = 0;
	if (rc == -ENOSYS && !bridge_has(OP_getattr))
		default_stat(r->path.s, &st, &err);
	else if (rc < 0)
		err = -rc;
	else if (bridge_result_stat(&r->call, 1, &st, &r->generation) != 0)
		err = EIO;
	r->stat_done(r, err, &st);
}

void ops_ask_stat(struct request *r, bridge_ref handle,
		  void (*done)(struct request *r, int err, struct stat *st))
{
	r->stat_done = done;
	request_call(r, OP_getattr, got_stat, "sh", r->path.s, handle);
}

void ops_stat_result(struct request *r, int rc, bridge_ref handle,
		     void (*done)(struct request *r, int err, struct stat *st))
{
	struct stat st;
	if (rc < 0) {
		done(r, -rc, &st);
	} else if (bridge_result_kind(&r->call, 1) == BRIDGE_NONE) {
		ops_ask_stat(r, handle, done);
	} else {
		int err = bridge_result_stat(&r->call, 1, &st, &r->generation) != 0 ? EIO : 0;
		done(r, err, &st);
	}
}

void ops_fill_entry(struct fuse_entry_param *e, struct node *n, const struct stat *st)
{
	memset(e, 0, sizeof *e);
	e->ino = nodes_id(n);
	e->generation = n->generation;
	e->attr = *st;
	e->attr.st_ino = nodes_st_ino(n, st);
	nodes_told(n, st);
	e->attr_timeout = ops_config.attr_timeout;
	e->entry_timeout = ops_config.entry_timeout;
}

struct node *ops_reply_entry(struct request *r, struct node *parent, const char *name,
			     size_t name_len, struct stat *st)
{
	struct node *n = nodes_remember(parent, name, name_len, st, r->generation);
	if (!n) {
		request_reply_err(r, ENOMEM);
		return NULL;
	}
	struct fuse_entry_param e;
	ops_fill_entry(&e, n, st);
	if (r->trace.active)
		trace_result(&r->trace, "%s ino=%llu size=%lld", values_type_name(st->st_mode),
			     (unsigned long long)e.attr.st_ino, (long long)st->st_size);
	if (request_reply_entry(r, &e) == -ENOENT) {
		nodes_forget(n, 1); /* interrupted: the kernel took no reference */
		return NULL;
	}
	return n;
}

void ops_reply_attr(struct request *r, struct stat *st)
{
	struct node *n = r->node;
	if (n == nodes_root())
		n->script_dev = st->st_dev; /* for the numbers of its entries */
	st->st_ino = nodes_st_ino(n, st);
	nodes_told(n, st);
	if (r->trace.active)
		trace_result(&r->trace, "%s mode=%o size=%lld", values_type_name(st->st_mode),
			     st->st_mode & 07777, (long long)st->st_size);
	request_reply_attr(r, st, ops_config.attr_timeout);
}

int ops_with_handler(struct request *r, enum op op, struct node *n)
{
	int releasing = op == OP_release || op == OP_releasedir;
	int call = bridge_has(op) && (releasing || files_reachable(r->of) || nodes_named(n));
	if (!call && !r->trace.active)
		return 0;
	return request_path(r, n, NULL, 1) == 0 ? call : -1;
}

int ops_take_open(struct request *r, struct open_result *res)
{
	int bad = bridge_result_open(&r->call, res) != 0;
	r->of->handle = res->handle;
	if (res->fd >= 0 && files_take_fd(r->of, res->fd, (int)r->fi.flags, &r->call) != 0)
		return EIO;
	return bad ? EIO : 0;
}

int ops_refuse_enosys(struct request *r)
{
	log_msg("handler '%s' (%s) answered ENOSYS, which the kernel would take as \"never send "
		"%s again\"; replying EIO", op_names[r->op], r->path.s, op_names[r->op]);
	return EIO;
}

/* ---- lifecycle ---- */

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	stats.requests[OP_init]++;
	ops_config.initialized = 1;
	if (ops_config.conn_opts)
		fuse_apply_conn_info_opts(ops_config.conn_opts, conn);
	/* libfuse checks that INIT asks for the max_read the mount was given */
	if (ops_config.max_read)
		conn->max_read = ops_config.max_read;
	passthrough_init(conn);
	device_init_flags2((uint32_t)uring_ask(device_kernel_flags2()));
	/* Locks go to the script only when it has the handlers; otherwise the
	 * kernel keeps them locally, right for a single mount. */
	if (!bridge_has(OP_getlk) || !bridge_has(OP_setlk))
		conn->want &= ~FUSE_CAP_POSIX_LOCKS;
	if (!bridge_has(OP_flock))
		conn->want &= ~FUSE_CAP_FLOCK_LOCKS;
	/* POSIX ACLs kept and checked by the kernel; the umask left to a
	 * script that applies it (the kernel would otherwise strip it from the
	 * mode before a default ACL could apply). */
	if (bridge_script_posix_acl() && (conn->capable & FUSE_CAP_POSIX_ACL))
		conn->want |= FUSE_CAP_POSIX_ACL;
	if (bridge_script_applies_umask())
		conn->want |= conn->capable & FUSE_CAP_DONT_MASK;
	ops_config.kernel_acls = (conn->want & FUSE_CAP_POSIX_ACL) != 0;
	/* File handles only for a script that can find a node again by its
	 * number (ops_handles.c); elsewhere they could not outlive the cache. */
	if (bridge_has(OP_locate) && (conn->capable & FUSE_CAP_EXPORT_SUPPORT)) {
		conn->want |= FUSE_CAP_EXPORT_SUPPORT;
		nodes_keep_forgotten_paths(1);
	} else {
		device_init_no_export();
	}
	bridge_call_simple(OP_init);
}

static void op_destroy(void *userdata)
{
	(void)userdata;
	stats.requests[OP_destroy]++;
	bridge_call_simple(OP_destroy);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	struct request *r = request_begin(req, OP_forget);
	nodes_forget(nodes_get(ino), nlookup);
	request_reply_none(r);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	struct request *r = request_begin(req, OP_forget);
	for (size_t i = 0; i < count; i++)
		nodes_forget(nodes_get(forgets[i].ino), forgets[i].nlookup);
	request_reply_none(r);
}

/* ---- statfs and access ---- */

static void statfs_done(struct request *r, int rc)
{
	struct statvfs sv = { .f_bsize = 4096, .f_frsize = 4096, .f_namemax = NAME_MAX_BYTES };
	if (rc < 0 && !(rc == -ENOSYS && !bridge_has(OP_statfs))) {
		request_reply_err(r, -rc);
		return;
	}
	if (rc >= 0 && bridge_result_statvfs(&r->call, 1, &sv) != 0) {
		request_reply_err(r, EIO);
		return;
	}
	if (r->trace.active)
		trace_result(&r->trace, "blocks=%llu bfree=%llu", (unsigned long long)sv.f_blocks,
			     (unsigned long long)sv.f_bfree);
	request_reply_statfs(r, &sv);
}

/* The filesystem as a whole: any node will do, even one removed. */
static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct request *r = request_begin(req, OP_statfs);
	if (request_path(r, nodes_get(ino), NULL, 1) == 0)
		request_call(r, OP_statfs, statfs_done, "s", r->path.s);
}

static void access_done(struct request *r, int rc)
{
	request_reply_err(r, ops_errno(rc)); /* ENOSYS: the kernel stops asking, all allowed */
}

static void op_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	struct request *r = request_begin(req, OP_access);
	if (r->trace.active)
		trace_args(&r->trace, "mask=%d", mask);
	if (request_path(r, nodes_get(ino), NULL, 0) == 0)
		request_call(r, OP_access, access_done, "si", r->path.s, mask);
}

const struct fuse_lowlevel_ops moonfs_ops = {
	.init = op_init,
	.destroy = op_destroy,
	.lookup = ops_lookup,
	.forget = op_forget,
	.forget_multi = op_forget_multi,
	.getattr = ops_getattr,
	.setattr = ops_setattr,
	.readlink = ops_readlink,
	.mknod = ops_mknod,
	.mkdir = ops_mkdir,
	.unlink = ops_unlink,
	.rmdir = ops_rmdir,
	.symlink = ops_symlink,
	.rename = ops_rename,
	.link = ops_link,
	.open = ops_open,
	.create = ops_create,
	.read = ops_read,
	.write = ops_write,
	.flush = ops_flush,
	.release = ops_release,
	.fsync = ops_fsync,
	.opendir = ops_opendir,
	.readdir = ops_readdir,
	.readdirplus = ops_readdirplus,
	.releasedir = ops_releasedir,
	.fsyncdir = ops_fsyncdir,
	.statfs = op_statfs,
	.setxattr = ops_setxattr,
	.getxattr = ops_getxattr,
	.listxattr = ops_listxattr,
	.removexattr = ops_removexattr,
	.access = op_access,
	.fallocate = ops_fallocate,
	.lseek = ops_lseek,
	.copy_file_range = ops_copy_file_range,
	.ioctl = ops_ioctl,
	.getlk = ops_getlk,
	.setlk = ops_setlk,
	.flock = ops_flock,
};
