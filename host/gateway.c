/* The gateway: every call into Lua passes here, protected, with a
 * traceback, counted and watched (a handler that runs long is reported). */
#define _GNU_SOURCE
#include <errno.h>
#include <lauxlib.h>
#include <stdarg.h>
#include <string.h>

#include "bridge_private.h"
#include "log.h"
#include "stats.h"
#include "trace.h"
#include "values.h"
#include "watchdog.h"

static int traceback_ref = LUA_NOREF;
static const struct bridge_caller *current_caller;

static int traceback(lua_State *L)
{
	const char *msg = lua_tostring(L, 1);
	if (!msg)
		msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
	luaL_traceback(L, L, msg, 1);
	return 1;
}

void gateway_init(lua_State *L)
{
	lua_pushcfunction(L, traceback);
	traceback_ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

int gateway_pcall(lua_State *L, int nargs, int nresults)
{
	int fn = lua_gettop(L) - nargs;
	lua_rawgeti(L, LUA_REGISTRYINDEX, traceback_ref);
	lua_insert(L, fn);
	watchdog_enter();
	int rc = lua_pcall(L, nargs, nresults, fn);
	watchdog_leave();
	lua_remove(L, fn);
	return rc;
}

const struct bridge_caller *bridge_current_caller(void)
{
	return current_caller;
}

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

static int push_args(lua_State *L, const char *fmt, va_list ap)
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
			else
				lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
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

static const char *name_of(const struct bridge_call *c)
{
	return c->path ? c->path : "";
}

int bridge_call(struct bridge_call *c, enum op op, const char *path, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = bridge_vcall(c, op, path, fmt, ap);
	va_end(ap);
	return rc;
}

int bridge_vcall(struct bridge_call *c, enum op op, const char *path, const char *fmt, va_list ap)
{
	lua_State *L = bridge_L;
	c->op = op;
	c->path = path;
	c->base = lua_gettop(L);
	c->nresults = 0;
	c->lua_ns = 0;
	int ref = bridge_handler_ref(op);
	if (ref == LUA_NOREF)
		return -ENOSYS;
	stats.lua_calls[op]++;
	lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
	int nargs = push_args(L, fmt, ap);

	const struct bridge_caller *outer = current_caller;
	current_caller = c->caller;
	uint64_t started = c->timed ? trace_now() : 0;
	int rc = gateway_pcall(L, nargs, LUA_MULTRET);
	if (c->timed)
		c->lua_ns = trace_now() - started;
	current_caller = outer;
	double slow = watchdog_last_slow();
	if (slow > 0)
		log_msg("handler '%s' (%s) ran for %.1f s; the host serves one request at a "
			"time, so every other request waited", op_names[op], name_of(c), slow);
	if (rc != 0) {
		log_msg("handler '%s' (%s) %s; replying EIO\n%s", op_names[op], name_of(c),
			rc == LUA_ERRMEM ? "ran out of memory" : "raised an error",
			lua_tostring(L, -1));
		lua_settop(L, c->base);
		return -EIO;
	}
	int n = lua_gettop(L) - c->base;
	while (n > 0 && lua_isnil(L, c->base + n))
		n--;
	c->nresults = n;
	int first = c->base + 1;
	if (n >= 2 && (lua_isnil(L, first) || (lua_isboolean(L, first) && !lua_toboolean(L, first)))) {
		const char *why;
		int err = values_to_errno(L, first + 1, &why);
		if (err)
			return -err;
		char msg[200];
		snprintf(msg, sizeof msg, "failed with %.80s, which is not an errno: %s",
			 lua_type(L, first + 1) == LUA_TSTRING || lua_type(L, first + 1) == LUA_TNUMBER
				 ? lua_tostring(L, first + 1)
				 : luaL_typename(L, first + 1),
			 why);
		return bridge_bad_result(c, msg);
	}
	return n;
}

void bridge_done(struct bridge_call *c)
{
	lua_settop(bridge_L, c->base);
}

void bridge_call_simple(enum op op)
{
	struct bridge_call c = { 0 };
	bridge_call(&c, op, NULL, "");
	bridge_done(&c);
}

int bridge_bad_result(const struct bridge_call *c, const char *why)
{
	log_msg("handler '%s' (%s) %s; replying EIO", op_names[c->op], name_of(c), why);
	return -EIO;
}
