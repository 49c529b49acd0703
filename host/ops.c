/* One thin shim per FUSE operation: build the path, call the script's
 * handler through the bridge, check what it returned, reply exactly once. */
#define _GNU_SOURCE
#include "ops.h"

#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bridge.h"
#include "log.h"
#include "nodes.h"
#include "passthrough.h"
#include "stats.h"
#include "trace.h"
#include "values.h"

const char *const op_names[OP_COUNT] = {
#define OP_NAME(name, handler) #name,
	MOONFS_OPS(OP_NAME)
#undef OP_NAME
};
const unsigned char op_is_handler[OP_COUNT] = {
#define OP_HANDLER(name, handler) handler,
	MOONFS_OPS(OP_HANDLER)
#undef OP_HANDLER
};

struct ops_config ops_config = { 1.0, 1.0, 0.0 };
fuse_req_t ops_current_req;

#define NAME_MAX_BYTES 255

static lua_State *state(void)
{
	return bridge_state();
}

/* ---- the request lifecycle: begin, then exactly one reply ---- */

static void begin(fuse_req_t req, enum op op)
{
	stats.requests[op]++;
	ops_current_req = req;
	if (trace_enabled)
		trace_begin(op);
}

static void traced_path(const char *path, const char *path2)
{
	if (trace_enabled)
		trace_path(path, path2);
}

static void reply_err(fuse_req_t req, int err)
{
	if (trace_enabled)
		trace_end(err, NULL);
	ops_current_req = NULL;
	fuse_reply_err(req, err);
}

/* -errno or a count of results from the bridge, as a reply errno. */
static int as_errno(int rc)
{
	return rc < 0 ? -rc : 0;
}

/* ---- paths ---- */

/* Builds the path of node `n` (or of its child `name`) or replies with an
 * error and returns NULL: ENOENT for a node that has lost its names, unless
 * the request reaches it `through_handle` (see nodes_path). */
static const char *path_or_reply(fuse_req_t req, struct node *n, const char *name, int slot,
				 int through_handle)
{
	if (name && strlen(name) > NAME_MAX_BYTES) {
		reply_err(req, ENAMETOOLONG);
		return NULL;
	}
	const char *path = nodes_path(n, name, slot, through_handle);
	if (!path)
		reply_err(req, errno);
	return path;
}

/* The start of most requests: count it, build the path of node `n` (or
 * of its child `name`), push the script's handler. Returns the stack base,
 * or -1 after replying (ENOSYS when the script has no such handler). */
static int begin_with_handler(fuse_req_t req, enum op op, struct node *n, const char *name,
			      int through_handle, const char **path)
{
	begin(req, op);
	*path = path_or_reply(req, n, name, 0, through_handle);
	if (!*path)
		return -1;
	traced_path(*path, NULL);
	int base = bridge_push_handler(op);
	if (base < 0)
		reply_err(req, ENOSYS);
	return base;
}

/* ---- handles ---- */

static void push_handle(lua_State *L, const struct open_file *of)
{
	if (of && of->handle_ref != LUA_NOREF)
		lua_rawgeti(L, LUA_REGISTRYINDEX, of->handle_ref);
	else
		lua_pushnil(L);
}

static struct open_file *file_of(const struct fuse_file_info *fi)
{
	return fi ? (struct open_file *)(uintptr_t)fi->fh : NULL;
}

static struct open_file *new_open_file(struct node *n)
{
	struct open_file *of = calloc(1, sizeof *of);
	if (!of)
		return NULL;
	of->node = n;
	of->fd = -1;
	of->handle_ref = of->entries_ref = LUA_NOREF;
	return of;
}

/* Open files are listed on their node so that a request without a handle
 * about an unlinked file (fstat) can still reach the file, not its old path. */
static void link_open_file(struct open_file *of)
{
	of->next_of_node = of->node->open_files;
	of->node->open_files = of;
}

/* The open file a request is about: its own, or for an unlinked node an
 * open of it that holds a script handle, since fstat and fchmod arrive
 * without one and the old path may be gone or name another file by now. */
static struct open_file *handle_for(struct node *n, const struct fuse_file_info *fi)
{
	struct open_file *of = file_of(fi);
	if (!of && nodes_unlinked_node(n))
		for (of = n->open_files; of && of->handle_ref == LUA_NOREF; of = of->next_of_node)
			;
	return of;
}

/* Whether the script can reach the object through the open's handle (an
 * fd or its own value) rather than through a path. */
static int reachable(const struct open_file *of)
{
	return of && of->handle_ref != LUA_NOREF;
}

static void free_open_file(struct open_file *of)
{
	lua_State *L = state();
	if (of->node) {
		struct open_file **p = &of->node->open_files;
		while (*p && *p != of)
			p = &(*p)->next_of_node;
		if (*p)
			*p = of->next_of_node;
	}
	luaL_unref(L, LUA_REGISTRYINDEX, of->handle_ref);
	luaL_unref(L, LUA_REGISTRYINDEX, of->entries_ref);
	if (of->fd >= 0)
		close(of->fd);
	free(of);
}

static void free_opens_of(struct node *n)
{
	while (n->open_files)
		free_open_file(n->open_files);
}

void ops_free_unreleased(void)
{
	nodes_each(free_opens_of);
}

/* ---- attributes ---- */

/* Calls getattr(path, fh) into *st. Returns 0 or a positive errno. Without
 * a handler the root is a directory and nothing else exists. */
static int get_stat(const char *path, const struct open_file *of, struct stat *st)
{
	lua_State *L = state();
	int base = bridge_push_handler(OP_getattr);
	if (base < 0) {
		if (strcmp(path, "/") != 0)
			return ENOENT;
		memset(st, 0, sizeof *st);
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
		st->st_uid = getuid();
		st->st_gid = getgid();
		return 0;
	}
	lua_pushstring(L, path);
	push_handle(L, of);
	int rc = bridge_call(OP_getattr, base, 2, path);
	if (rc == 0)
		rc = bridge_bad_result(OP_getattr, path,
				       "returned nothing; return a stat table, or nil, \"ENOENT\"");
	if (rc > 0) {
		const char *why;
		if (values_to_stat(L, bridge_result(base, 1), st, &why) != 0)
			rc = bridge_bad_result(OP_getattr, path, why);
	}
	bridge_pop(base);
	return rc < 0 ? -rc : 0;
}

/* The stat table a creating handler returned, else a getattr of the path. */
static int created_stat(enum op op, int base, int nresults, const char *path,
			const struct open_file *of, struct stat *st)
{
	if (nresults > 0 && lua_type(state(), bridge_result(base, 1)) == LUA_TTABLE) {
		const char *why;
		if (values_to_stat(state(), bridge_result(base, 1), st, &why) == 0)
			return 0;
		return -bridge_bad_result(op, path, why);
	}
	return get_stat(path, of, st);
}

static void fill_entry(struct fuse_entry_param *e, struct node *n, const struct stat *st)
{
	memset(e, 0, sizeof *e);
	e->ino = nodes_id(n);
	e->generation = n->generation;
	e->attr = *st;
	e->attr.st_ino = nodes_st_ino(n, st);
	e->attr_timeout = ops_config.attr_timeout;
	e->entry_timeout = ops_config.entry_timeout;
}

static void reply_entry(fuse_req_t req, struct node *parent, const char *name,
			const struct stat *st)
{
	struct node *n = nodes_remember(parent, name, st);
	if (!n) {
		reply_err(req, ENOMEM);
		return;
	}
	struct fuse_entry_param e;
	fill_entry(&e, n, st);
	if (trace_enabled)
		trace_end(0, "%s ino=%llu size=%lld", values_type_name(st->st_mode),
			  (unsigned long long)e.attr.st_ino, (long long)st->st_size);
	ops_current_req = NULL;
	if (fuse_reply_entry(req, &e) == -ENOENT)
		nodes_forget(n, 1); /* the request was interrupted */
}

static void reply_attr(fuse_req_t req, struct node *n, struct stat *st)
{
	if (n == nodes_root())
		n->script_dev = st->st_dev; /* for the numbers of its entries */
	st->st_ino = nodes_st_ino(n, st);
	if (trace_enabled)
		trace_end(0, "%s mode=%o size=%lld", values_type_name(st->st_mode),
			  st->st_mode & 07777, (long long)st->st_size);
	ops_current_req = NULL;
	fuse_reply_attr(req, st, ops_config.attr_timeout);
}

/* ---- lifecycle ---- */

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	stats.requests[OP_init]++;
	passthrough_init(conn);
	/* Scripts that never implemented these must not see them. */
	conn->want &= ~(FUSE_CAP_POSIX_LOCKS | FUSE_CAP_FLOCK_LOCKS);
	int base = bridge_push_handler(OP_init);
	if (base >= 0) {
		bridge_call(OP_init, base, 0, NULL);
		bridge_pop(base);
	}
}

static void op_destroy(void *userdata)
{
	(void)userdata;
	stats.requests[OP_destroy]++;
	int base = bridge_push_handler(OP_destroy);
	if (base >= 0) {
		bridge_call(OP_destroy, base, 0, NULL);
		bridge_pop(base);
	}
}

/* ---- names ---- */

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	begin(req, OP_lookup);
	struct node *p = nodes_get(parent);
	const char *path = path_or_reply(req, p, name, 0, 0);
	if (!path)
		return;
	traced_path(path, NULL);
	struct stat st;
	int err = get_stat(path, NULL, &st);
	if (err == ENOENT && ops_config.negative_timeout > 0) {
		struct fuse_entry_param e = { .ino = 0, .entry_timeout = ops_config.negative_timeout };
		if (trace_enabled)
			trace_end(ENOENT, NULL);
		ops_current_req = NULL;
		fuse_reply_entry(req, &e);
		return;
	}
	if (err) {
		reply_err(req, err);
		return;
	}
	reply_entry(req, p, name, &st);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	stats.requests[OP_forget]++;
	nodes_forget(nodes_get(ino), nlookup);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	stats.requests[OP_forget]++;
	for (size_t i = 0; i < count; i++)
		nodes_forget(nodes_get(forgets[i].ino), forgets[i].nlookup);
	fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	begin(req, OP_getattr);
	struct node *n = nodes_get(ino);
	struct open_file *of = handle_for(n, fi);
	const char *path = path_or_reply(req, n, NULL, 0, reachable(of));
	if (!path)
		return;
	traced_path(path, NULL);
	struct stat st;
	int err = get_stat(path, of, &st);
	if (err)
		reply_err(req, err);
	else
		reply_attr(req, n, &st);
}

static void push_time_change(lua_State *L, int valid, int set_bit, int now_bit,
			     const struct timespec *ts, const char *field)
{
	if (valid & now_bit) {
		lua_pushliteral(L, "now");
	} else if (valid & set_bit) {
		if (ts->tv_nsec == UTIME_NOW)
			lua_pushliteral(L, "now");
		else
			values_push_timespec(L, ts);
	} else {
		return;
	}
	lua_setfield(L, -2, field);
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int valid,
		       struct fuse_file_info *fi)
{
	struct node *n = nodes_get(ino);
	struct open_file *of = handle_for(n, fi);
	const char *path;
	int base = begin_with_handler(req, OP_setattr, n, NULL, reachable(of), &path);
	if (base < 0)
		return;
	lua_State *L = state();
	lua_pushstring(L, path);
	lua_createtable(L, 0, 4);
	if (valid & FUSE_SET_ATTR_MODE) {
		lua_pushinteger(L, attr->st_mode & 07777);
		lua_setfield(L, -2, "mode");
	}
	if (valid & FUSE_SET_ATTR_UID) {
		lua_pushinteger(L, attr->st_uid);
		lua_setfield(L, -2, "uid");
	}
	if (valid & FUSE_SET_ATTR_GID) {
		lua_pushinteger(L, attr->st_gid);
		lua_setfield(L, -2, "gid");
	}
	if (valid & FUSE_SET_ATTR_SIZE) {
		lua_pushnumber(L, (lua_Number)attr->st_size);
		lua_setfield(L, -2, "size");
	}
	push_time_change(L, valid, FUSE_SET_ATTR_ATIME, FUSE_SET_ATTR_ATIME_NOW, &attr->st_atim,
			 "atime");
	push_time_change(L, valid, FUSE_SET_ATTR_MTIME, FUSE_SET_ATTR_MTIME_NOW, &attr->st_mtim,
			 "mtime");
	if (valid & FUSE_SET_ATTR_CTIME) { /* e.g. chown(path, -1, -1) */
		values_push_timespec(L, &attr->st_ctim);
		lua_setfield(L, -2, "ctime");
	}
	if (trace_enabled)
		trace_args("valid=0x%x", valid);
	push_handle(L, of);
	int rc = bridge_call(OP_setattr, base, 3, path);
	struct stat st;
	if (rc >= 0)
		rc = -created_stat(OP_setattr, base, rc, path, of, &st);
	bridge_pop(base);
	if (rc < 0)
		reply_err(req, -rc);
	else
		reply_attr(req, n, &st);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	const char *path;
	int base = begin_with_handler(req, OP_readlink, nodes_get(ino), NULL, 0, &path);
	if (base < 0)
		return;
	lua_State *L = state();
	lua_pushstring(L, path);
	int rc = bridge_call(OP_readlink, base, 1, path);
	size_t len = 0;
	const char *target = NULL;
	if (rc >= 0) {
		if (rc == 0 || lua_type(L, bridge_result(base, 1)) != LUA_TSTRING)
			rc = bridge_bad_result(OP_readlink, path, "must return the target as a string");
		else if ((target = lua_tolstring(L, bridge_result(base, 1), &len)),
			 len == 0 || memchr(target, '\0', len))
			rc = bridge_bad_result(OP_readlink, path,
					       "returned an empty target or one with a NUL byte");
	}
	if (rc < 0) {
		bridge_pop(base);
		reply_err(req, -rc);
		return;
	}
	if (trace_enabled)
		trace_end(0, "\"%.100s\"", target);
	ops_current_req = NULL;
	fuse_reply_readlink(req, target);
	bridge_pop(base);
}

/* mknod, mkdir, symlink and link: call the handler, then reply with the
 * entry of the new name. The handler's arguments are already pushed. */
static void finish_new_entry(fuse_req_t req, enum op op, int base, int nargs,
			     struct node *parent, const char *name, const char *path)
{
	int rc = bridge_call(op, base, nargs, path);
	struct stat st;
	if (rc >= 0)
		rc = -created_stat(op, base, rc, path, NULL, &st);
	bridge_pop(base);
	if (rc < 0)
		reply_err(req, -rc);
	else
		reply_entry(req, parent, name, &st);
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		     dev_t rdev)
{
	struct node *p = nodes_get(parent);
	const char *path;
	int base = begin_with_handler(req, OP_mknod, p, name, 0, &path);
	if (base < 0)
		return;
	if (trace_enabled)
		trace_args("mode=%o", mode);
	lua_State *L = state();
	lua_pushstring(L, path);
	lua_pushinteger(L, mode);
	lua_pushnumber(L, (lua_Number)rdev);
	finish_new_entry(req, OP_mknod, base, 3, p, name, path);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct node *p = nodes_get(parent);
	const char *path;
	int base = begin_with_handler(req, OP_mkdir, p, name, 0, &path);
	if (base < 0)
		return;
	if (trace_enabled)
		trace_args("mode=%o", mode);
	lua_State *L = state();
	lua_pushstring(L, path);
	lua_pushinteger(L, mode & 07777);
	finish_new_entry(req, OP_mkdir, base, 2, p, name, path);
}

static void op_symlink(fuse_req_t req, const char *target, fuse_ino_t parent, const char *name)
{
	struct node *p = nodes_get(parent);
	const char *path;
	int base = begin_with_handler(req, OP_symlink, p, name, 0, &path);
	if (base < 0)
		return;
	if (trace_enabled)
		trace_args("target=\"%.100s\"", target);
	lua_State *L = state();
	lua_pushstring(L, target);
	lua_pushstring(L, path);
	finish_new_entry(req, OP_symlink, base, 2, p, name, path);
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	begin(req, OP_link);
	struct node *n = nodes_get(ino), *p = nodes_get(newparent);
	const char *from = path_or_reply(req, n, NULL, 0, 0);
	const char *to = from ? path_or_reply(req, p, newname, 1, 0) : NULL;
	if (!to)
		return;
	traced_path(from, to);
	lua_State *L = state();
	int base = bridge_push_handler(OP_link);
	if (base < 0) {
		reply_err(req, ENOSYS);
		return;
	}
	lua_pushstring(L, from);
	lua_pushstring(L, to);
	int rc = bridge_call(OP_link, base, 2, to);
	struct stat st;
	if (rc >= 0)
		rc = -created_stat(OP_link, base, rc, to, NULL, &st);
	bridge_pop(base);
	if (rc < 0) {
		reply_err(req, -rc);
		return;
	}
	/* The new name is the same inode, whatever the script reports. */
	nodes_add_name(n, p, newname);
	reply_entry(req, p, newname, &st);
}

static void remove_name(fuse_req_t req, enum op op, fuse_ino_t parent, const char *name)
{
	begin(req, op);
	struct node *p = nodes_get(parent);
	const char *path = path_or_reply(req, p, name, 0, 0);
	if (!path)
		return;
	traced_path(path, NULL);
	lua_State *L = state();
	int base = bridge_push_handler(op);
	if (base < 0) {
		reply_err(req, ENOSYS);
		return;
	}
	lua_pushstring(L, path);
	int rc = bridge_call(op, base, 1, path);
	bridge_pop(base);
	if (rc >= 0)
		nodes_unlinked(p, name);
	reply_err(req, as_errno(rc));
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_name(req, OP_unlink, parent, name);
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_name(req, OP_rmdir, parent, name);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		      const char *newname, unsigned int flags)
{
	begin(req, OP_rename);
	struct node *p = nodes_get(parent), *np = nodes_get(newparent);
	const char *from = path_or_reply(req, p, name, 0, 0);
	const char *to = from ? path_or_reply(req, np, newname, 1, 0) : NULL;
	if (!to)
		return;
	traced_path(from, to);
	if (trace_enabled && flags)
		trace_args("flags=%u", flags);
	if (flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE)) {
		reply_err(req, EINVAL);
		return;
	}
	lua_State *L = state();
	int base = bridge_push_handler(OP_rename);
	if (base < 0) {
		reply_err(req, ENOSYS);
		return;
	}
	lua_pushstring(L, from);
	lua_pushstring(L, to);
	lua_pushinteger(L, flags);
	int rc = bridge_call(OP_rename, base, 3, from);
	bridge_pop(base);
	if (rc >= 0)
		nodes_renamed(p, name, np, newname, (flags & RENAME_EXCHANGE) != 0);
	reply_err(req, as_errno(rc));
}

/* ---- files ---- */

/* Reads what open/create returned (results start at base+1) into `of`:
 * an integer is an fd the host takes over, anything else a handle.
 * Returns 0 or a positive errno; *direct_io is set from the options. */
static int take_open_result(enum op op, int base, int nresults, const char *path, int flags,
			    struct open_file *of, int *direct_io, struct fuse_file_info *fi)
{
	lua_State *L = state();
	*direct_io = 0;
	if (nresults == 0)
		return 0;
	int value = bridge_result(base, 1);
	if (nresults >= 2) {
		int opts = bridge_result(base, 2);
		if (lua_type(L, opts) != LUA_TTABLE)
			return -bridge_bad_result(op, path,
						  "returned a second value that is not an options table");
		lua_getfield(L, opts, "direct_io");
		*direct_io = lua_toboolean(L, -1);
		lua_getfield(L, opts, "keep_cache");
		fi->keep_cache = lua_toboolean(L, -1);
		lua_getfield(L, opts, "nonseekable");
		fi->nonseekable = lua_toboolean(L, -1);
		lua_pop(L, 3);
	}
	if (lua_type(L, value) == LUA_TNUMBER) {
		int64_t fd;
		if (values_to_i64(L, value, 0, INT32_MAX, &fd) != 0)
			return -bridge_bad_result(op, path, "returned a number that is not a valid fd");
		int fl = fcntl(fd, F_GETFL);
		if (fl < 0)
			return -bridge_bad_result(op, path, "returned an fd that is not open");
		struct stat st;
		if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
			close(fd);
			return -bridge_bad_result(op, path, "returned an fd of a directory");
		}
		int want = flags & O_ACCMODE, have = fl & O_ACCMODE;
		if ((want != O_RDONLY && have == O_RDONLY) || (want != O_WRONLY && have == O_WRONLY)) {
			close(fd);
			return -bridge_bad_result(op, path,
						  "returned an fd without the access mode the caller asked for");
		}
		of->fd = (int)fd;
	}
	lua_pushvalue(L, value);
	of->handle_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	return 0;
}

static void finish_open(fuse_req_t req, struct open_file *of, struct fuse_file_info *fi,
			int direct_io, const struct fuse_entry_param *e)
{
	passthrough_open(of, fi, direct_io);
	link_open_file(of);
	fi->fh = (uintptr_t)of;
	if (trace_enabled)
		trace_end(0, "%s%s", of->fd >= 0 ? "fd " : "handle",
			  of->passthrough ? "passthrough" : of->fd >= 0 ? "served by host" : "");
	ops_current_req = NULL;
	int rc = e ? passthrough_reply_create(req, e, of, fi) : passthrough_reply_open(req, of, fi);
	if (rc == -ENOENT) {
		/* Interrupted: the kernel will never release this open. */
		passthrough_release(of);
		if (e)
			nodes_forget(of->node, 1);
		free_open_file(of);
	}
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	begin(req, OP_open);
	struct node *n = nodes_get(ino);
	const char *path = path_or_reply(req, n, NULL, 0, 0);
	if (!path)
		return;
	traced_path(path, NULL);
	if (trace_enabled)
		trace_args("flags=0%o", fi->flags);
	struct open_file *of = new_open_file(n);
	if (!of) {
		reply_err(req, ENOMEM);
		return;
	}
	lua_State *L = state();
	int direct_io = 0;
	int base = bridge_push_handler(OP_open);
	if (base >= 0) {
		lua_pushstring(L, path);
		lua_pushinteger(L, fi->flags);
		int rc = bridge_call(OP_open, base, 2, path);
		if (rc >= 0)
			rc = -take_open_result(OP_open, base, rc, path, fi->flags, of, &direct_io, fi);
		bridge_pop(base);
		if (rc < 0) {
			free_open_file(of);
			reply_err(req, -rc);
			return;
		}
	} else if ((fi->flags & O_ACCMODE) != O_RDONLY && !bridge_has(OP_write)) {
		/* Nothing could take the data: say so at open, not at write. */
		free_open_file(of);
		reply_err(req, EROFS);
		return;
	}
	finish_open(req, of, fi, direct_io, NULL);
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	begin(req, OP_create);
	struct node *p = nodes_get(parent);
	const char *path = path_or_reply(req, p, name, 0, 0);
	if (!path)
		return;
	traced_path(path, NULL);
	if (trace_enabled)
		trace_args("mode=%o flags=0%o", mode, fi->flags);
	lua_State *L = state();
	int base = bridge_push_handler(OP_create);
	if (base < 0) {
		reply_err(req, ENOSYS); /* the kernel falls back to mknod + open */
		return;
	}
	struct open_file *of = new_open_file(NULL);
	if (!of) {
		bridge_pop(base);
		reply_err(req, ENOMEM);
		return;
	}
	lua_pushstring(L, path);
	lua_pushinteger(L, mode);
	lua_pushinteger(L, fi->flags);
	int direct_io = 0;
	int rc = bridge_call(OP_create, base, 3, path);
	if (rc >= 0)
		rc = -take_open_result(OP_create, base, rc, path, fi->flags, of, &direct_io, fi);
	bridge_pop(base);
	struct stat st;
	if (rc >= 0)
		rc = -get_stat(path, of, &st);
	if (rc < 0) {
		free_open_file(of);
		reply_err(req, -rc);
		return;
	}
	of->node = nodes_remember(p, name, &st);
	if (!of->node) {
		free_open_file(of);
		reply_err(req, ENOMEM);
		return;
	}
	struct fuse_entry_param e;
	fill_entry(&e, of->node, &st);
	finish_open(req, of, fi, direct_io, &e);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	begin(req, OP_read);
	struct open_file *of = file_of(fi);
	if (of->fd >= 0) {
		if (trace_enabled) {
			trace_path(nodes_path(of->node, NULL, 0, 1), NULL);
			trace_end(0, "served by host from fd %d, %zu bytes at %lld", of->fd, size,
				  (long long)off);
		}
		ops_current_req = NULL;
		passthrough_read(req, of, size, off);
		return;
	}
	const char *path = path_or_reply(req, nodes_get(ino), NULL, 0, reachable(of));
	if (!path)
		return;
	traced_path(path, NULL);
	if (trace_enabled)
		trace_args("size=%zu offset=%lld", size, (long long)off);
	lua_State *L = state();
	int base = bridge_push_handler(OP_read);
	if (base < 0) {
		reply_err(req, ENOSYS);
		return;
	}
	lua_pushstring(L, path);
	lua_pushnumber(L, (lua_Number)size);
	lua_pushnumber(L, (lua_Number)off);
	push_handle(L, of);
	int rc = bridge_call(OP_read, base, 4, path);
	size_t len = 0;
	const char *data = "";
	if (rc > 0) {
		if (lua_type(L, bridge_result(base, 1)) != LUA_TSTRING)
			rc = bridge_bad_result(OP_read, path, "must return a string");
		else if ((data = lua_tolstring(L, bridge_result(base, 1), &len)), len > size)
			rc = bridge_bad_result(OP_read, path,
					       "returned more bytes than were asked for (use offset and size)");
	}
	if (rc < 0) {
		bridge_pop(base);
		reply_err(req, -rc);
		return;
	}
	if (trace_enabled)
		trace_end(0, "%zu bytes", len);
	ops_current_req = NULL;
	fuse_reply_buf(req, data, len);
	bridge_pop(base);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	begin(req, OP_write);
	struct open_file *of = file_of(fi);
	if (of->fd >= 0) {
		if (trace_enabled) {
			trace_path(nodes_path(of->node, NULL, 0, 1), NULL);
			trace_end(0, "served by host to fd %d, %zu bytes at %lld", of->fd, size,
				  (long long)off);
		}
		ops_current_req = NULL;
		passthrough_write(req, of, buf, size, off);
		return;
	}
	const char *path = path_or_reply(req, nodes_get(ino), NULL, 0, reachable(of));
	if (!path)
		return;
	traced_path(path, NULL);
	if (trace_enabled)
		trace_args("size=%zu offset=%lld", size, (long long)off);
	lua_State *L = state();
	int base = bridge_push_handler(OP_write);
	if (base < 0) {
		reply_err(req, ENOSYS);
		return;
	}
	lua_pushstring(L, path);
	lua_pushlstring(L, buf, size);
	lua_pushnumber(L, (lua_Number)off);
	push_handle(L, of);
	int rc = bridge_call(OP_write, base, 4, path);
	size_t written = size;
	if (rc > 0) {
		uint64_t n;
		if (values_to_u64(L, bridge_result(base, 1), size, &n) != 0)
			rc = bridge_bad_result(OP_write, path,
					       "must return the number of bytes written (a whole number from 0 to the size given)");
		else
			written = (size_t)n;
	}
	bridge_pop(base);
	if (rc < 0) {
		reply_err(req, -rc);
		return;
	}
	if (trace_enabled)
		trace_end(0, "%zu bytes", written);
	ops_current_req = NULL;
	fuse_reply_write(req, written);
}

/* flush, release, fsync, releasedir, fsyncdir: handler(path, [datasync,] fh).
 * Returns a negative errno, or >= 0 (also when there is no handler). A
 * removed file the script cannot reach through a handle gets no flush or
 * fsync call (its old path may name another file); releases are always
 * called, with the last path, so scripts can free what they hold. */
static int call_with_handle(enum op op, struct node *n, struct open_file *of, int datasync,
			    int with_datasync, int *had_handler)
{
	int releasing = op == OP_release || op == OP_releasedir;
	const char *path = nodes_path(n, NULL, 0, releasing || reachable(of));
	*had_handler = bridge_has(op);
	if (!path)
		return errno == ENOENT ? 0 : -errno;
	traced_path(path, NULL);
	lua_State *L = state();
	int base = bridge_push_handler(op);
	if (base < 0)
		return 0;
	lua_pushstring(L, path);
	if (with_datasync)
		lua_pushboolean(L, datasync);
	push_handle(L, of);
	int rc = bridge_call(op, base, with_datasync ? 3 : 2, path);
	bridge_pop(base);
	return rc;
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	begin(req, OP_flush);
	int had;
	int rc = call_with_handle(OP_flush, nodes_get(ino), file_of(fi), 0, 0, &had);
	/* Without a handler, ENOSYS: the kernel then stops sending FLUSH,
	 * which saves a round trip on every close. */
	reply_err(req, had ? as_errno(rc) : ENOSYS);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	begin(req, OP_release);
	struct open_file *of = file_of(fi);
	int had;
	int rc = call_with_handle(OP_release, nodes_get(ino), of, 0, 0, &had);
	if (rc < 0 && rc != -EIO)
		log_msg("handler 'release' failed with %s; the kernel ignores release errors",
			values_errno_name(-rc));
	passthrough_release(of);
	free_open_file(of);
	reply_err(req, 0);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	begin(req, OP_fsync);
	struct open_file *of = file_of(fi);
	int had;
	int rc = call_with_handle(OP_fsync, nodes_get(ino), of, datasync, 1, &had);
	if (!had && of->fd >= 0 && (datasync ? fdatasync(of->fd) : fsync(of->fd)) != 0)
		rc = -errno;
	reply_err(req, as_errno(rc));
}

static void op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
			 struct fuse_file_info *fi)
{
	begin(req, OP_fallocate);
	struct open_file *of = file_of(fi);
	const char *path = path_or_reply(req, nodes_get(ino), NULL, 0, reachable(of));
	if (!path)
		return;
	traced_path(path, NULL);
	lua_State *L = state();
	int base = bridge_push_handler(OP_fallocate);
	if (base < 0) {
		int err = ENOSYS;
		if (of && of->fd >= 0)
			err = fallocate(of->fd, mode, offset, length) == 0 ? 0 : errno;
		reply_err(req, err);
		return;
	}
	lua_pushstring(L, path);
	lua_pushinteger(L, mode);
	lua_pushnumber(L, (lua_Number)offset);
	lua_pushnumber(L, (lua_Number)length);
	push_handle(L, of);
	int rc = bridge_call(OP_fallocate, base, 5, path);
	bridge_pop(base);
	reply_err(req, as_errno(rc));
}

/* ---- directories ---- */

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	begin(req, OP_opendir);
	struct node *n = nodes_get(ino);
	const char *path = path_or_reply(req, n, NULL, 0, 0);
	if (!path)
		return;
	traced_path(path, NULL);
	struct open_file *of = new_open_file(n);
	if (!of) {
		reply_err(req, ENOMEM);
		return;
	}
	lua_State *L = state();
	int base = bridge_push_handler(OP_opendir);
	if (base >= 0) {
		lua_pushstring(L, path);
		int rc = bridge_call(OP_opendir, base, 1, path);
		if (rc > 0) {
			lua_pushvalue(L, bridge_result(base, 1));
			of->handle_ref = luaL_ref(L, LUA_REGISTRYINDEX);
		}
		bridge_pop(base);
		if (rc < 0) {
			free_open_file(of);
			reply_err(req, -rc);
			return;
		}
	}
	link_open_file(of);
	fi->fh = (uintptr_t)of;
	if (trace_enabled)
		trace_end(0, NULL);
	ops_current_req = NULL;
	if (fuse_reply_open(req, fi) == -ENOENT)
		free_open_file(of);
}

/* Asks the script for the directory's names, for a new pass (offset 0).
 * Keeps {names, types, inos} (the last two may be nil) for the pass. */
static int load_entries(struct open_file *of, const char *path)
{
	lua_State *L = state();
	luaL_unref(L, LUA_REGISTRYINDEX, of->entries_ref);
	of->entries_ref = LUA_NOREF;
	of->entry_count = 0;
	int base = bridge_push_handler(OP_readdir);
	if (base < 0)
		return ENOSYS;
	lua_pushstring(L, path);
	push_handle(L, of);
	int rc = bridge_call(OP_readdir, base, 2, path);
	if (rc >= 0 && (rc == 0 || lua_type(L, bridge_result(base, 1)) != LUA_TTABLE))
		rc = bridge_bad_result(OP_readdir, path,
				       "must return an array of names (or of {name = ...} tables)");
	for (int i = 2; rc >= i && i <= 3; i++)
		if (!lua_isnil(L, bridge_result(base, i)) &&
		    lua_type(L, bridge_result(base, i)) != LUA_TTABLE)
			rc = bridge_bad_result(OP_readdir, path,
					       i == 2 ? "returned types that are not an array"
						      : "returned inode numbers that are not an array");
	if (rc > 0) {
		of->entry_count = (uint32_t)lua_objlen(L, bridge_result(base, 1));
		lua_createtable(L, 3, 0);
		for (int i = 1; i <= 3 && i <= rc; i++) {
			lua_pushvalue(L, bridge_result(base, i));
			lua_rawseti(L, -2, i);
		}
		of->entries_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	}
	bridge_pop(base);
	return as_errno(rc);
}

static mode_t entry_type(lua_State *L, int idx)
{
	if (lua_type(L, idx) == LUA_TSTRING)
		return values_type_bits(lua_tostring(L, idx));
	return 0;
}

/* A d_ino for names the script gave no ino for: stable and non-zero. */
static ino_t name_ino(const char *name)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 0x100000001b3ULL;
	return (ino_t)((h >> 1) | 1);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	begin(req, OP_readdir);
	struct open_file *of = file_of(fi);
	struct node *n = nodes_get(ino);
	const char *path = path_or_reply(req, n, NULL, 0, reachable(of));
	if (!path)
		return;
	traced_path(path, NULL);
	if (off == 0 || of->entries_ref == LUA_NOREF) {
		int err = load_entries(of, path);
		if (err) {
			reply_err(req, err);
			return;
		}
	}
	lua_State *L = state();
	char *buf = malloc(size);
	if (!buf) {
		reply_err(req, ENOMEM);
		return;
	}
	int top = lua_gettop(L);
	lua_rawgeti(L, LUA_REGISTRYINDEX, of->entries_ref);
	lua_rawgeti(L, top + 1, 1);
	lua_rawgeti(L, top + 1, 2);
	lua_rawgeti(L, top + 1, 3);
	int entries = top + 2, types = top + 3, inos = top + 4;
	size_t used = 0;
	/* Offsets: 1 after ".", 2 after "..", k + 2 after the script's k-th. */
	for (off_t i = off; i < (off_t)of->entry_count + 2; i++) {
		struct stat st = { 0 };
		const char *name;
		if (i == 0) {
			name = ".";
			st.st_ino = n->number;
			st.st_mode = S_IFDIR;
		} else if (i == 1) {
			name = "..";
			st.st_ino = 1;
			st.st_mode = S_IFDIR;
		} else {
			lua_rawgeti(L, entries, (int)(i - 1));
			int item = lua_gettop(L), ino_at = 0;
			if (lua_type(L, item) == LUA_TTABLE) {
				lua_getfield(L, item, "name");
				lua_getfield(L, item, "type");
				st.st_mode = entry_type(L, -1);
				lua_getfield(L, item, "ino");
				ino_at = lua_gettop(L);
				lua_pushvalue(L, item + 1); /* the name on top */
			} else {
				if (!lua_isnil(L, types)) {
					lua_rawgeti(L, types, (int)(i - 1));
					st.st_mode = entry_type(L, -1);
					lua_pop(L, 1);
				}
				if (!lua_isnil(L, inos)) {
					lua_rawgeti(L, inos, (int)(i - 1));
					ino_at = lua_gettop(L);
					lua_pushvalue(L, item); /* the name on top */
				}
			}
			size_t len = 0;
			name = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
			uint64_t ino = 0;
			const char *why = !name ? "not a string" : len == 0 ? "empty"
				: memchr(name, '\0', len) ? "contains a NUL byte"
				: memchr(name, '/', len) ? "contains '/'"
				: len > NAME_MAX_BYTES ? "longer than 255 bytes"
				: ino_at && !lua_isnil(L, ino_at) &&
				  values_to_u64(L, ino_at, UINT64_MAX, &ino) != 0
				? "its inode number is not a whole number from 0 to 2^64-1" : NULL;
			if (why) {
				log_limited("readdir-name", "handler 'readdir' (%s) returned an unusable "
					    "entry at index %lld (%s); skipping it",
					    path, (long long)(i - 1), why);
				lua_settop(L, inos);
				continue;
			}
			if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
				lua_settop(L, inos);
				continue;
			}
			st.st_ino = ino ? (ino_t)nodes_report_ino(n->script_dev, ino) : name_ino(name);
		}
		size_t need = fuse_add_direntry(req, buf + used, size - used, name, &st, i + 1);
		lua_settop(L, inos);
		if (need > size - used)
			break;
		used += need;
	}
	lua_settop(L, top);
	if (trace_enabled)
		trace_end(0, "%zu of %zu bytes from offset %lld of %u names", used, size, (long long)off,
			  of->entry_count);
	ops_current_req = NULL;
	fuse_reply_buf(req, buf, used);
	free(buf);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	begin(req, OP_releasedir);
	struct open_file *of = file_of(fi);
	int had;
	call_with_handle(OP_releasedir, nodes_get(ino), of, 0, 0, &had);
	free_open_file(of);
	reply_err(req, 0);
}

static void op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	begin(req, OP_fsyncdir);
	int had;
	int rc = call_with_handle(OP_fsyncdir, nodes_get(ino), file_of(fi), datasync, 1, &had);
	reply_err(req, as_errno(rc));
}

/* ---- the rest ---- */

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	begin(req, OP_statfs);
	const char *path = path_or_reply(req, nodes_get(ino), NULL, 0, 1);
	if (!path)
		return;
	traced_path(path, NULL);
	struct statvfs sv = { .f_bsize = 4096, .f_frsize = 4096, .f_namemax = NAME_MAX_BYTES };
	lua_State *L = state();
	int base = bridge_push_handler(OP_statfs);
	if (base >= 0) {
		lua_pushstring(L, path);
		int rc = bridge_call(OP_statfs, base, 1, path);
		if (rc >= 0 && (rc == 0 || lua_type(L, bridge_result(base, 1)) != LUA_TTABLE))
			rc = bridge_bad_result(OP_statfs, path, "must return a table such as {blocks = ...}");
		if (rc < 0) {
			bridge_pop(base);
			reply_err(req, -rc);
			return;
		}
		const char *why;
		if (values_to_statvfs(L, bridge_result(base, 1), &sv, &why) != 0) {
			rc = bridge_bad_result(OP_statfs, path, why);
			bridge_pop(base);
			reply_err(req, -rc);
			return;
		}
		bridge_pop(base);
	}
	if (trace_enabled)
		trace_end(0, "blocks=%lu bfree=%lu", (unsigned long)sv.f_blocks,
			  (unsigned long)sv.f_bfree);
	ops_current_req = NULL;
	fuse_reply_statfs(req, &sv);
}

/* Replies to getxattr/listxattr with a value of `len` bytes: its size when
 * the caller probes with size 0, ERANGE when it does not fit. */
static void reply_xattr_value(fuse_req_t req, const char *data, size_t len, size_t size)
{
	if (size == 0) {
		if (trace_enabled)
			trace_end(0, "size %zu", len);
		ops_current_req = NULL;
		fuse_reply_xattr(req, len);
	} else if (len > size) {
		reply_err(req, ERANGE);
	} else {
		if (trace_enabled)
			trace_end(0, "%zu bytes", len);
		ops_current_req = NULL;
		fuse_reply_buf(req, data, len);
	}
}

static void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
			size_t size, int flags)
{
	struct node *n = nodes_get(ino);
	struct open_file *of = handle_for(n, NULL);
	const char *path;
	int base = begin_with_handler(req, OP_setxattr, n, NULL, reachable(of), &path);
	if (base < 0)
		return;
	if (trace_enabled)
		trace_args("%s (%zu bytes) flags=%d", name, size, flags);
	lua_State *L = state();
	lua_pushstring(L, path);
	lua_pushstring(L, name);
	lua_pushlstring(L, value, size);
	lua_pushinteger(L, flags);
	push_handle(L, of);
	int rc = bridge_call(OP_setxattr, base, 5, path);
	bridge_pop(base);
	reply_err(req, as_errno(rc));
}

static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct node *n = nodes_get(ino);
	struct open_file *of = handle_for(n, NULL);
	const char *path;
	int base = begin_with_handler(req, OP_getxattr, n, NULL, reachable(of), &path);
	if (base < 0)
		return;
	if (trace_enabled)
		trace_args("%s", name);
	lua_State *L = state();
	lua_pushstring(L, path);
	lua_pushstring(L, name);
	push_handle(L, of);
	int rc = bridge_call(OP_getxattr, base, 3, path);
	if (rc >= 0 && (rc == 0 || lua_type(L, bridge_result(base, 1)) != LUA_TSTRING))
		rc = bridge_bad_result(OP_getxattr, path,
				       "must return the value as a string, or nil, \"ENODATA\"");
	if (rc < 0) {
		bridge_pop(base);
		reply_err(req, -rc);
		return;
	}
	size_t len;
	const char *data = lua_tolstring(L, bridge_result(base, 1), &len);
	reply_xattr_value(req, data, len, size);
	bridge_pop(base);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct node *n = nodes_get(ino);
	struct open_file *of = handle_for(n, NULL);
	const char *path;
	int base = begin_with_handler(req, OP_listxattr, n, NULL, reachable(of), &path);
	if (base < 0)
		return;
	lua_State *L = state();
	lua_pushstring(L, path);
	push_handle(L, of);
	int rc = bridge_call(OP_listxattr, base, 2, path);
	if (rc >= 0 && (rc == 0 || lua_type(L, bridge_result(base, 1)) != LUA_TTABLE))
		rc = bridge_bad_result(OP_listxattr, path, "must return an array of names");
	if (rc < 0) {
		bridge_pop(base);
		reply_err(req, -rc);
		return;
	}
	/* Names joined with NUL terminators, as listxattr(2) returns them,
	 * built in C memory: the Lua stack is in use while the list is read. */
	int list = bridge_result(base, 1);
	size_t count = lua_objlen(L, list), used = 0, cap = 256;
	char *data = malloc(cap);
	for (size_t i = 1; data && i <= count; i++) {
		lua_rawgeti(L, list, (int)i);
		size_t len;
		const char *name = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
		if (!name || len == 0 || memchr(name, '\0', len)) {
			log_limited("listxattr-name", "handler 'listxattr' (%s) returned an unusable "
				    "name at index %zu (%s); skipping it", path, i,
				    !name ? "not a string" : len == 0 ? "empty" : "contains a NUL byte");
		} else {
			if (used + len + 1 > cap) {
				while (used + len + 1 > cap)
					cap *= 2;
				char *grown = realloc(data, cap);
				if (!grown)
					free(data);
				data = grown;
			}
			if (data) {
				memcpy(data + used, name, len + 1);
				used += len + 1;
			}
		}
		lua_pop(L, 1);
	}
	bridge_pop(base);
	if (!data)
		reply_err(req, ENOMEM);
	else
		reply_xattr_value(req, data, used, size);
	free(data);
}

static void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct node *n = nodes_get(ino);
	struct open_file *of = handle_for(n, NULL);
	const char *path;
	int base = begin_with_handler(req, OP_removexattr, n, NULL, reachable(of), &path);
	if (base < 0)
		return;
	if (trace_enabled)
		trace_args("%s", name);
	lua_State *L = state();
	lua_pushstring(L, path);
	lua_pushstring(L, name);
	push_handle(L, of);
	int rc = bridge_call(OP_removexattr, base, 3, path);
	bridge_pop(base);
	reply_err(req, as_errno(rc));
}

static void op_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	begin(req, OP_access);
	const char *path = path_or_reply(req, nodes_get(ino), NULL, 0, 0);
	if (!path)
		return;
	traced_path(path, NULL);
	if (trace_enabled)
		trace_args("mask=%d", mask);
	lua_State *L = state();
	int base = bridge_push_handler(OP_access);
	if (base < 0) {
		reply_err(req, ENOSYS); /* the kernel then stops asking: all allowed */
		return;
	}
	lua_pushstring(L, path);
	lua_pushinteger(L, mask);
	int rc = bridge_call(OP_access, base, 2, path);
	bridge_pop(base);
	reply_err(req, as_errno(rc));
}

const struct fuse_lowlevel_ops moonfs_ops = {
	.init = op_init,
	.destroy = op_destroy,
	.lookup = op_lookup,
	.forget = op_forget,
	.forget_multi = op_forget_multi,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.readlink = op_readlink,
	.mknod = op_mknod,
	.mkdir = op_mkdir,
	.unlink = op_unlink,
	.rmdir = op_rmdir,
	.symlink = op_symlink,
	.rename = op_rename,
	.link = op_link,
	.open = op_open,
	.create = op_create,
	.read = op_read,
	.write = op_write,
	.flush = op_flush,
	.release = op_release,
	.fsync = op_fsync,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.releasedir = op_releasedir,
	.fsyncdir = op_fsyncdir,
	.statfs = op_statfs,
	.setxattr = op_setxattr,
	.getxattr = op_getxattr,
	.listxattr = op_listxattr,
	.removexattr = op_removexattr,
	.access = op_access,
	.fallocate = op_fallocate,
};
