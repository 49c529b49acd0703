/* A handler's arguments, pushed by the short format of bridge_call. */
#define _GNU_SOURCE
#include <lauxlib.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "bridge_private.h"
#include "values.h"

/* A time change of setattr: "now", {sec, nsec}, or absent. */
static void push_time_change(lua_State *L, int valid, int set_bit, int now_bit,
			     const struct timespec *ts, const char *field)
{
	if ((valid & now_bit) || ((valid & set_bit) && ts->tv_nsec == UTIME_NOW))
		lua_pushliteral(L, "now");
	else if (valid & set_bit)
		values_push_timespec(L, ts);
	else
		return;
	lua_setfield(L, -2, field);
}

/* setattr's `changes`: only what is being set. */
static void push_changes(lua_State *L, int valid, const struct stat *attr)
{
	lua_createtable(L, 0, 4);
	if (valid & FUSE_SET_ATTR_MODE) {
		lua_pushinteger(L, attr->st_mode & 07777);
		lua_setfield(L, -2, "mode");
	}
	if (valid & FUSE_SET_ATTR_UID) {
		lua_pushnumber(L, attr->st_uid);
		lua_setfield(L, -2, "uid");
	}
	if (valid & FUSE_SET_ATTR_GID) {
		lua_pushnumber(L, attr->st_gid);
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
}

/* A POSIX lock as a table: {type = "read" | "write" | "unlock", start,
 * end (absent: to the end of the file), pid, owner (a hex string: the
 * kernel's lock owner, which tells apart the holders that share a pid)}. */
static void push_lock(lua_State *L, const struct flock *lock, uint64_t owner)
{
	lua_createtable(L, 0, 5);
	lua_pushstring(L, lock->l_type == F_RDLCK ? "read" : lock->l_type == F_WRLCK ? "write"
										      : "unlock");
	lua_setfield(L, -2, "type");
	lua_pushnumber(L, (lua_Number)lock->l_start);
	lua_setfield(L, -2, "start");
	if (lock->l_len > 0) {
		lua_pushnumber(L, (lua_Number)(lock->l_start + lock->l_len - 1));
		lua_setfield(L, -2, "end");
	}
	lua_pushinteger(L, lock->l_pid);
	lua_setfield(L, -2, "pid");
	char hex[24];
	snprintf(hex, sizeof hex, "%016llx", (unsigned long long)owner);
	lua_pushstring(L, hex);
	lua_setfield(L, -2, "owner");
}

int bridge_push_args(lua_State *L, const char *fmt, va_list ap)
{
	int n = 0;
	for (; *fmt; fmt++, n++) {
		switch (*fmt) {
		case 's':
			lua_pushstring(L, va_arg(ap, const char *));
			break;
		case 'l': {
			const char *data = va_arg(ap, const char *);
			lua_pushlstring(L, data, va_arg(ap, size_t));
			break;
		}
		case 'i':
			lua_pushinteger(L, va_arg(ap, int));
			break;
		case 'u':
			lua_pushnumber(L, (lua_Number)va_arg(ap, uint64_t));
			break;
		case 'b':
			lua_pushboolean(L, va_arg(ap, int));
			break;
		case 'h': {
			bridge_ref ref = va_arg(ap, bridge_ref);
			if (ref == BRIDGE_NOREF)
				lua_pushnil(L);
			else if (BRIDGE_IS_FD_HANDLE(ref))
				lua_pushinteger(L, BRIDGE_HANDLE_FD(ref));
			else
				lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
			break;
		}
		case 'L': {
			const struct flock *lock = va_arg(ap, const struct flock *);
			push_lock(L, lock, va_arg(ap, uint64_t));
			break;
		}
		case 'A': {
			int valid = va_arg(ap, int);
			push_changes(L, valid, va_arg(ap, const struct stat *));
			break;
		}
		default:
			luaL_error(L, "moonfs: bad argument format '%c'", *fmt); /* a host bug */
		}
	}
	return n;
}

