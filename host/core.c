/* moonfs.core: the raw primitives the Lua library (lua/moonfs) builds its
 * friendly API on. Private: scripts use require "moonfs". */
#define _GNU_SOURCE
#include <fcntl.h>
#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/xattr.h>

#include "bridge_private.h"
#include "lock.h"
#include "log.h"
#include "nodes.h"
#include "notify.h"
#include "stats.h"
#include "values.h"

/* uid, gid, pid, umask of the request being served; nil between requests. */
static int core_caller(lua_State *L)
{
	const struct bridge_caller *c = bridge_current_caller();
	if (!c)
		return 0;
	lua_pushnumber(L, c->uid);
	lua_pushnumber(L, c->gid);
	lua_pushinteger(L, c->pid);
	lua_pushinteger(L, c->umask);
	return 4;
}

/* request_object(path): the st_dev, st_ino and generation the script gave
 * for an object the kernel checked the request's caller against (struct
 * bridge_checked), when path is the one the handler knows it by; nothing
 * otherwise. */
static int core_request_object(lua_State *L)
{
	size_t len;
	const char *path = luaL_checklstring(L, 1, &len);
	const struct bridge_caller *c = bridge_current_caller();
	for (int i = 0; c && i < 2; i++) {
		const struct bridge_checked *k = &c->checked[i];
		if (k->path && k->ino && k->len == len && memcmp(k->path, path, len) == 0) {
			lua_pushnumber(L, (lua_Number)k->dev);
			lua_pushnumber(L, (lua_Number)k->ino);
			lua_pushnumber(L, (lua_Number)k->generation);
			return 3;
		}
	}
	return 0;
}

/* The caller's supplementary groups, read by libfuse from /proc. */
static int core_groups(lua_State *L)
{
	const struct bridge_caller *c = bridge_current_caller();
	if (!c || !c->req)
		return 0;
	gid_t groups[256];
	int n = fuse_req_getgroups(c->req, 256, groups);
	if (n < 0) {
		lua_pushnil(L);
		lua_pushstring(L, values_errno_name(-n));
		return 2;
	}
	if (n > 256)
		n = 256;
	lua_createtable(L, n, 0);
	for (int i = 0; i < n; i++) {
		lua_pushnumber(L, groups[i]);
		lua_rawseti(L, -2, i + 1);
	}
	return 1;
}

static void push_counts(lua_State *L, const uint64_t *counts, int handlers_only)
{
	lua_createtable(L, 0, OP_COUNT);
	for (int op = 0; op < OP_COUNT; op++) {
		if (handlers_only && !op_is_handler[op])
			continue;
		lua_pushnumber(L, (lua_Number)counts[op]);
		lua_setfield(L, -2, op_names[op]);
	}
}

/* The functions below run in Lua, without the host lock (lock.h): they
 * take it around the shared state they read, and never raise while they
 * hold it. */

static int core_stats(lua_State *L)
{
	struct stats copy;
	int took = lock_enter();
	copy = stats;
	uint64_t nodes = nodes_count();
	lock_leave(took);
	lua_createtable(L, 0, 6);
	push_counts(L, copy.requests, 0);
	lua_setfield(L, -2, "requests");
	push_counts(L, copy.lua_calls, 1);
	lua_setfield(L, -2, "lua");
	lua_pushnumber(L, (lua_Number)copy.backing_ids);
	lua_setfield(L, -2, "backing_ids");
	lua_pushnumber(L, (lua_Number)copy.passthrough_opens);
	lua_setfield(L, -2, "passthrough_opens");
	lua_pushnumber(L, (lua_Number)copy.fallback_opens);
	lua_setfield(L, -2, "fallback_opens");
	lua_pushnumber(L, (lua_Number)nodes);
	lua_setfield(L, -2, "nodes");
	lua_pushnumber(L, (lua_Number)copy.ring_requests);
	lua_setfield(L, -2, "ring_requests");
	return 1;
}

static int core_log(lua_State *L)
{
	log_msg("%s", luaL_checkstring(L, 1));
	return 0;
}

/* fd(n): the marker that hands an fd to the host (see moonfs.fd). */
static int core_fd(lua_State *L)
{
	int64_t fd;
	if (values_to_i64(L, 1, 0, INT32_MAX, &fd) != 0)
		luaL_argerror(L, 1, "not a file descriptor");
	values_push_handed_fd(L, (int)fd);
	return 1;
}

/* wake(co, ...): resumes the handler waiting in co with the values;
 * false when it no longer waits. */
static int core_wake(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTHREAD);
	int nargs = lua_gettop(L) - 1;
	int took = lock_enter(); /* the handler's request ends in host code */
	int woke = bridge_wake(L, 1, nargs);
	lock_leave(took);
	lua_pushboolean(L, woke);
	return 1;
}

/* waitable(): whether the code running now is a handler's own coroutine,
 * the only place moonfs.await can wait. */
static int core_waitable(lua_State *L)
{
	lua_pushboolean(L, L == bridge_running_thread());
	return 1;
}

/* invalidate(path): the kernel drops what it cached of the file at path
 * (attributes and data). True when the kernel knows the file. */
static int core_invalidate(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	int took = lock_enter();
	struct node *n = nodes_find(path);
	int known = n && notify_inode(nodes_id(n)) == 0;
	lock_leave(took);
	lua_pushboolean(L, known);
	return 1;
}

/* invalidate_entry(dir, name): the kernel drops the name (a file made or
 * removed elsewhere). True when the kernel knows the directory. */
static int core_invalidate_entry(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	size_t len;
	const char *name = luaL_checklstring(L, 2, &len);
	if (len == 0 || len > 255 || memchr(name, '/', len) || memchr(name, '\0', len))
		return luaL_argerror(L, 2, "not a name");
	int took = lock_enter();
	struct node *dir = nodes_find(path);
	int known = dir && notify_entry(nodes_id(dir), name, len) == 0;
	lock_leave(took);
	lua_pushboolean(L, known);
	return 1;
}

struct constant {
	const char *name;
	lua_Number value;
};

static void push_constants(lua_State *L, const struct constant *c)
{
	lua_newtable(L);
	for (; c->name; c++) {
		lua_pushnumber(L, c->value);
		lua_setfield(L, -2, c->name);
	}
}

/* The system's own numbers (they differ between architectures). The
 * kernel sends O_LARGEFILE in open flags, which 64-bit C headers define as
 * 0: its real bit is __O_LARGEFILE. */
#ifdef __O_LARGEFILE
#define KERNEL_O_LARGEFILE __O_LARGEFILE
#else
#define KERNEL_O_LARGEFILE O_LARGEFILE
#endif
static const struct constant open_flags[] = {
	{ "RDONLY", O_RDONLY }, { "WRONLY", O_WRONLY }, { "RDWR", O_RDWR },
	{ "ACCMODE", O_ACCMODE }, { "CREAT", O_CREAT }, { "EXCL", O_EXCL },
	{ "NOCTTY", O_NOCTTY }, { "TRUNC", O_TRUNC }, { "APPEND", O_APPEND },
	{ "NONBLOCK", O_NONBLOCK }, { "DSYNC", O_DSYNC }, { "DIRECT", O_DIRECT },
	{ "LARGEFILE", KERNEL_O_LARGEFILE }, { "DIRECTORY", O_DIRECTORY }, { "NOFOLLOW", O_NOFOLLOW },
	{ "NOATIME", O_NOATIME }, { "CLOEXEC", O_CLOEXEC }, { "SYNC", O_SYNC },
	{ "PATH", O_PATH }, { "TMPFILE", O_TMPFILE }, { NULL, 0 },
};
static const struct constant mode_bits[] = {
	{ "IFMT", S_IFMT }, { "IFSOCK", S_IFSOCK }, { "IFLNK", S_IFLNK }, { "IFREG", S_IFREG },
	{ "IFBLK", S_IFBLK }, { "IFDIR", S_IFDIR }, { "IFCHR", S_IFCHR }, { "IFIFO", S_IFIFO },
	{ "ISUID", S_ISUID }, { "ISGID", S_ISGID }, { "ISVTX", S_ISVTX }, { NULL, 0 },
};
static const struct constant other[] = {
	{ "RENAME_NOREPLACE", RENAME_NOREPLACE }, { "RENAME_EXCHANGE", RENAME_EXCHANGE },
	{ "RENAME_WHITEOUT", RENAME_WHITEOUT }, { "XATTR_CREATE", XATTR_CREATE },
	{ "XATTR_REPLACE", XATTR_REPLACE }, { "AT_FDCWD", AT_FDCWD }, { NULL, 0 },
};

int luaopen_moonfs_core(lua_State *L)
{
	static const luaL_Reg functions[] = {
		{ "caller", core_caller },
		{ "groups", core_groups },
		{ "request_object", core_request_object },
		{ "stats", core_stats },
		{ "log", core_log },
		{ "fd", core_fd },
		{ "wake", core_wake },
		{ "waitable", core_waitable },
		{ "invalidate", core_invalidate },
		{ "invalidate_entry", core_invalidate_entry },
		{ NULL, NULL },
	};
	lua_newtable(L);
	luaL_register(L, NULL, functions);
	values_push_errno_table(L);
	lua_setfield(L, -2, "errno");
	bridge_push_options(L);
	lua_setfield(L, -2, "options");
	lua_pushstring(L, MOONFS_VERSION);
	lua_setfield(L, -2, "version");
	lua_pushstring(L, bridge_start_dir());
	lua_setfield(L, -2, "cwd");
	push_constants(L, open_flags);
	lua_setfield(L, -2, "O");
	push_constants(L, mode_bits);
	lua_setfield(L, -2, "S");
	push_constants(L, other);
	lua_setfield(L, -2, "constants");
	lua_pushlightuserdata(L, &bridge_await_token);
	lua_setfield(L, -2, "AWAIT");
	lua_pushlightuserdata(L, &bridge_cancel_token);
	lua_setfield(L, -2, "CANCELLED");
	return 1;
}
