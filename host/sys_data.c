/* moonfs.sys, continued: file data through fds, statvfs, and extended
 * attributes (see sys.c for the conventions). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <lua.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "beneath.h"
#include "sys_private.h"
#include "values.h"

/* ---- data ---- */

static int sys_pread(lua_State *L)
{
	int fd = sys_check_fd(L, 1);
	uint64_t want;
	if (values_to_u64(L, 2, 1 << 30, &want) != 0)
		luaL_argerror(L, 2, "size must be a whole number from 0 to 1 GiB");
	off_t off = sys_check_off(L, 3);
	size_t size = (size_t)want;
	char *buf = malloc(size ? size : 1);
	if (!buf)
		return sys_push_error(L, ENOMEM);
	ssize_t n = pread(fd, buf, size, off);
	if (n < 0) {
		int err = errno;
		free(buf);
		return sys_push_error(L, err);
	}
	lua_pushlstring(L, buf, (size_t)n);
	free(buf);
	return 1;
}

static int sys_pwrite(lua_State *L)
{
	int fd = sys_check_fd(L, 1);
	size_t len;
	const char *data = luaL_checklstring(L, 2, &len);
	ssize_t n = pwrite(fd, data, len, sys_check_off(L, 3));
	if (n < 0)
		return sys_push_error(L, errno);
	lua_pushnumber(L, (lua_Number)n);
	return 1;
}

/* sys.fsync(fd, datasync): datasync true = fdatasync. */
static int sys_fsync(lua_State *L)
{
	int fd = sys_check_fd(L, 1);
	return sys_push_status(L, lua_toboolean(L, 2) ? fdatasync(fd) : fsync(fd));
}

static int sys_fallocate(lua_State *L)
{
	return sys_push_status(L, fallocate(sys_check_fd(L, 1), sys_need_int(L, 2, 0, INT32_MAX),
					sys_check_off(L, 3), sys_check_off(L, 4)));
}

/* sys.statvfs(fd) -> the table the statfs handler returns. Works on an
 * O_PATH fd such as open_root's. */
static int sys_statvfs(lua_State *L)
{
	struct statvfs sv;
	if (fstatvfs(sys_check_fd(L, 1), &sv) != 0)
		return sys_push_error(L, errno);
	lua_createtable(L, 0, 9);
#define FIELD(name) (lua_pushnumber(L, (lua_Number)sv.f_##name), lua_setfield(L, -2, #name))
	FIELD(bsize);
	FIELD(frsize);
	FIELD(blocks);
	FIELD(bfree);
	FIELD(bavail);
	FIELD(files);
	FIELD(ffree);
	FIELD(favail);
	FIELD(namemax);
#undef FIELD
	return 1;
}

/* ---- extended attributes ---- */

/* The xattr calls work through the object's /proc fd path: the path-based
 * calls would follow a symlink and the l*xattr ones would act on the
 * magic link itself, while the fd path lands on the object, symlinks
 * included (lgetxattr semantics), without an fd that can read or write it. */

/* Calls get (getxattr or listxattr) with a buffer that grows until the
 * value fits; the value can change size between the calls, hence ERANGE
 * retries. Pushes the bytes or returns -1 with errno. */
static int push_xattr_bytes(lua_State *L, const char *path, const char *name)
{
	char stack_buf[1024];
	char *buf = stack_buf;
	size_t size = sizeof stack_buf;
	for (;;) {
		ssize_t n = name ? getxattr(path, name, buf, size) : listxattr(path, buf, size);
		if (n >= 0) {
			lua_pushlstring(L, buf, (size_t)n);
			if (buf != stack_buf)
				free(buf);
			return 0;
		}
		int err = errno;
		if (buf != stack_buf)
			free(buf);
		if (err != ERANGE) {
			errno = err;
			return -1;
		}
		n = name ? getxattr(path, name, NULL, 0) : listxattr(path, NULL, 0);
		if (n < 0)
			return -1;
		size = (size_t)n + 1;
		buf = malloc(size);
		if (!buf) {
			errno = ENOMEM;
			return -1;
		}
	}
}

/* sys.getxattr(dirfd, path, name) -> value (a string of bytes). */
static int sys_getxattr(lua_State *L)
{
	const char *name = luaL_checkstring(L, 3);
	struct object o;
	if (sys_open_object(L, 1, &o) != 0)
		return sys_push_error(L, errno);
	int rc = push_xattr_bytes(L, o.path, name);
	sys_close_object(&o);
	return rc == 0 ? 1 : sys_push_error(L, errno);
}

/* sys.listxattr(dirfd, path) -> array of names. */
static int sys_listxattr(lua_State *L)
{
	struct object o;
	if (sys_open_object(L, 1, &o) != 0)
		return sys_push_error(L, errno);
	int rc = push_xattr_bytes(L, o.path, NULL);
	sys_close_object(&o);
	if (rc != 0)
		return sys_push_error(L, errno);
	size_t len;
	const char *list = lua_tolstring(L, -1, &len);
	lua_newtable(L);
	int count = 0;
	for (size_t at = 0; at < len;) { /* "name\0name\0" */
		size_t n = strnlen(list + at, len - at);
		if (n > 0) {
			lua_pushlstring(L, list + at, n);
			lua_rawseti(L, -2, ++count);
		}
		at += n + 1;
	}
	return 1;
}

/* sys.setxattr(dirfd, path, name, value, flags); flags 1 = XATTR_CREATE,
 * 2 = XATTR_REPLACE. */
static int sys_setxattr(lua_State *L)
{
	const char *name = luaL_checkstring(L, 3);
	size_t len;
	const char *value = luaL_checklstring(L, 4, &len);
	int flags = sys_check_int(L, 5, 0, 3, 0);
	struct object o;
	if (sys_open_object(L, 1, &o) != 0)
		return sys_push_error(L, errno);
	int rc = setxattr(o.path, name, value, len, flags);
	sys_close_object(&o);
	return sys_push_status(L, rc);
}

static int sys_removexattr(lua_State *L)
{
	const char *name = luaL_checkstring(L, 3);
	struct object o;
	if (sys_open_object(L, 1, &o) != 0)
		return sys_push_error(L, errno);
	int rc = removexattr(o.path, name);
	sys_close_object(&o);
	return sys_push_status(L, rc);
}

const luaL_Reg sys_data_functions[] = {
	{ "fsync", sys_fsync },
	{ "fallocate", sys_fallocate },
	{ "statvfs", sys_statvfs },
	{ "getxattr", sys_getxattr },
	{ "setxattr", sys_setxattr },
	{ "listxattr", sys_listxattr },
	{ "removexattr", sys_removexattr },
	{ "pread", sys_pread },
	{ "pwrite", sys_pwrite },
	{ NULL, NULL },
};
