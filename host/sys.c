/* moonfs.sys: the system calls scripts need to serve a filesystem from a
 * real directory (the mirror is built on them). Paths are relative to a
 * directory fd, as in the *at() calls; sys.AT_FDCWD means the working
 * directory.
 *
 * Every function returns its value(s) on success (true when there is no
 * value) and `nil, "ENOENT: No such file or directory", 2` on failure, so a
 * handler can hand a failure straight back with `return sys.unlink(...)`.
 * Wrong arguments (types, numbers out of range) raise: they are bugs in the
 * script, not failures.
 *
 * A path relative to a directory fd is resolved beneath it and never
 * through a symlink, the last name included (beneath.h says why): a
 * symlink on the way gives ELOOP, a way out EXDEV. An empty path names the
 * fd itself. Only open_root follows symlinks, and AT_FDCWD keeps the
 * plain meaning of a path. Paths may be longer than PATH_MAX. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <limits.h>
#include <lua.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "beneath.h"
#include "object_stat.h"
#include "sys_private.h"
#include "bridge.h"
#include "stat_value.h"
#include "values.h"

/* ---- results ---- */

int sys_push_error(lua_State *L, int err)
{
	lua_pushnil(L);
	lua_pushfstring(L, "%s: %s", values_errno_name(err), strerror(err));
	lua_pushinteger(L, err);
	return 3;
}

/* For calls that return 0 or -1 with errno. */
int sys_push_status(lua_State *L, int rc)
{
	if (rc != 0)
		return sys_push_error(L, errno);
	lua_pushboolean(L, 1);
	return 1;
}

/* ---- arguments ---- */

/* Wrong arguments raise: they are bugs in the script, not failures. */
int sys_check_fd(lua_State *L, int idx)
{
	int64_t fd;
	if (values_to_i64(L, idx, AT_FDCWD, INT32_MAX, &fd) != 0 || (fd < 0 && fd != AT_FDCWD))
		luaL_argerror(L, idx, "not a file descriptor");
	return (int)fd;
}

/* uid and gid: nil or -1 leave the value unchanged, as in chown(2). */
static unsigned check_id(lua_State *L, int idx)
{
	if (lua_isnoneornil(L, idx))
		return (unsigned)-1;
	int64_t id;
	if (values_to_i64(L, idx, -1, (int64_t)UINT32_MAX - 1, &id) != 0)
		luaL_argerror(L, idx, "not a user or group id (0 to 4294967294, or -1)");
	return (unsigned)id;
}

off_t sys_check_off(lua_State *L, int idx)
{
	uint64_t n;
	if (values_to_u64(L, idx, INT64_MAX, &n) != 0)
		luaL_argerror(L, idx, "not a size or offset (a whole number from 0 to 2^63-1)");
	return (off_t)n;
}

int sys_check_int(lua_State *L, int idx, int64_t min, int64_t max, int64_t dflt)
{
	if (lua_isnoneornil(L, idx))
		return (int)dflt;
	int64_t n;
	if (values_to_i64(L, idx, min, max, &n) != 0)
		luaL_argerror(L, idx, "a whole number out of range");
	return (int)n;
}

/* A required whole number. */
int sys_need_int(lua_State *L, int idx, int64_t min, int64_t max)
{
	int64_t n;
	if (values_to_i64(L, idx, min, max, &n) != 0)
		luaL_argerror(L, idx, lua_isnoneornil(L, idx) ? "a number is required"
							      : "a whole number out of range");
	return (int)n;
}

static mode_t check_mode(lua_State *L, int idx, mode_t dflt)
{
	return (mode_t)sys_check_int(L, idx, 0, 0xFFFF, dflt);
}

static void check_time(lua_State *L, int idx, struct timespec *ts)
{
	const char *why;
	if (values_to_timespec(L, idx, ts, &why) != 0)
		luaL_argerror(L, idx, why);
}

/* Reads (dirfd, path) at idx, idx + 1 and resolves the parent directory
 * beneath dirfd (beneath.h). Every other argument must be checked before:
 * a raised argument error would leak the parent's fd. */
static int get_at(lua_State *L, int idx, struct beneath *at)
{
	int dirfd = sys_check_fd(L, idx);
	return beneath_parent(dirfd, luaL_checkstring(L, idx + 1), at);
}

/* Ends a call made on `at`: pushes true, or the error of a non-zero rc. */
static int at_status(lua_State *L, struct beneath *at, int rc)
{
	int err = errno;
	beneath_done(at);
	if (rc != 0)
		return sys_push_error(L, err);
	lua_pushboolean(L, 1);
	return 1;
}



int sys_open_object(lua_State *L, int idx, struct object *o)
{
	int dirfd = sys_check_fd(L, idx);
	o->fd = beneath_object(dirfd, luaL_checkstring(L, idx + 1), &o->owned);
	if (o->fd < 0)
		return -1;
	snprintf(o->path, sizeof o->path, "/proc/self/fd/%d", o->fd);
	return 0;
}

/* Closes the object's fd if it was opened, keeping errno for the report. */
void sys_close_object(struct object *o)
{
	if (o->owned) {
		int saved = errno;
		close(o->fd);
		errno = saved;
	}
}

/* ---- opening ---- */

/* sys.open(dirfd, path, flags, mode) -> fd. mode defaults to 0666 (less the
 * umask) and matters only with O_CREAT or O_TMPFILE. Never follows a
 * symlink (ELOOP), never leaves dirfd (EXDEV). */
static int sys_open(lua_State *L)
{
	int dirfd = sys_check_fd(L, 1);
	const char *path = luaL_checkstring(L, 2);
	int flags = sys_check_int(L, 3, INT32_MIN, INT32_MAX, O_RDONLY);
	mode_t mode = check_mode(L, 4, 0666);
	int fd = beneath_open(dirfd, path, flags, mode);
	if (fd < 0)
		return sys_push_error(L, errno);
	lua_pushinteger(L, fd);
	return 1;
}

/* sys.open_root(path) -> dirfd for the other calls, from a directory given
 * by an ordinary path (symlinks followed; a relative path is taken from the
 * directory the host was started in). O_PATH: it serves only as an anchor,
 * so no read permission is needed. */
static int sys_open_root(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	char joined[PATH_MAX];
	if (path[0] != '/') {
		if ((size_t)snprintf(joined, sizeof joined, "%s/%s", bridge_start_dir(), path) >=
		    sizeof joined)
			return sys_push_error(L, ENAMETOOLONG);
		path = joined;
	}
	int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return sys_push_error(L, errno);
	lua_pushinteger(L, fd);
	return 1;
}

/* sys.umask(mask) -> the previous mask. The mirror creates with its
 * caller's umask, so the backing filesystem applies it (or a default ACL
 * in its place) as it would for the caller. */
static int sys_umask(lua_State *L)
{
	lua_pushinteger(L, umask((mode_t)sys_need_int(L, 1, 0, 0777)));
	return 1;
}

static int sys_close(lua_State *L)
{
	return sys_push_status(L, close(sys_check_fd(L, 1)));
}

/* sys.nonblocking(fd, on): sets or clears O_NONBLOCK. The mirror opens with
 * it, so that a FIFO renamed onto a name cannot make the open wait, and
 * clears it once it knows the file is a regular one. */
static int sys_nonblocking(lua_State *L)
{
	int fd = sys_check_fd(L, 1);
	int on = lua_toboolean(L, 2);
	int flags = fcntl(fd, F_GETFL);
	if (flags < 0)
		return sys_push_error(L, errno);
	return sys_push_status(L, fcntl(fd, F_SETFL, on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK));
}

/* ---- attributes ---- */

/* An empty name stands for the directory fd itself (AT_EMPTY_PATH). */
static int empty_flag(const struct beneath *at)
{
	return at->name[0] ? 0 : AT_EMPTY_PATH;
}

/* sys.stat(dirfd, path) -> stat table of the name itself (lstat). */
static int sys_stat(lua_State *L)
{
	struct stat st;
	uint32_t generation;
	struct beneath at;
	if (get_at(L, 1, &at) != 0)
		return sys_push_error(L, errno);
	int rc = object_stat(at.dirfd, at.name, AT_SYMLINK_NOFOLLOW | empty_flag(&at), &st,
			     &generation);
	int err = errno;
	beneath_done(&at);
	if (rc != 0)
		return sys_push_error(L, err);
	stat_value_push(L, &st, generation);
	return 1;
}

static int sys_fstat(lua_State *L)
{
	struct stat st;
	uint32_t generation;
	if (object_stat(sys_check_fd(L, 1), "", AT_EMPTY_PATH, &st, &generation) != 0)
		return sys_push_error(L, errno);
	stat_value_push(L, &st, generation);
	return 1;
}

/* glibc implements AT_SYMLINK_NOFOLLOW without a race (O_PATH, then the
 * fd's /proc path) and fails with EOPNOTSUPP on a symlink, as Linux does. */
static int sys_chmod(lua_State *L)
{
	mode_t mode = (mode_t)sys_need_int(L, 3, 0, 07777);
	struct object o;
	if (lua_isstring(L, 2) && lua_tostring(L, 2)[0] == '\0') {
		if (sys_open_object(L, 1, &o) != 0) /* the fd itself */
			return sys_push_error(L, errno);
		int rc = chmod(o.path, mode);
		sys_close_object(&o);
		return sys_push_status(L, rc);
	}
	struct beneath at;
	if (get_at(L, 1, &at) != 0)
		return sys_push_error(L, errno);
	return at_status(L, &at, fchmodat(at.dirfd, at.name, mode, AT_SYMLINK_NOFOLLOW));
}

static int sys_fchmod(lua_State *L)
{
	return sys_push_status(L, fchmod(sys_check_fd(L, 1), (mode_t)sys_need_int(L, 2, 0, 07777)));
}

static int sys_chown(lua_State *L)
{
	unsigned uid = check_id(L, 3), gid = check_id(L, 4);
	struct beneath at;
	if (get_at(L, 1, &at) != 0)
		return sys_push_error(L, errno);
	return at_status(L, &at, fchownat(at.dirfd, at.name, uid, gid,
					  AT_SYMLINK_NOFOLLOW | empty_flag(&at)));
}

static int sys_fchown(lua_State *L)
{
	return sys_push_status(L, fchown(sys_check_fd(L, 1), check_id(L, 2), check_id(L, 3)));
}

/* sys.utimens(dirfd, path, atime, mtime); a time is nil (leave it),
 * "now", seconds or {sec, nsec}. */
static int sys_utimens(lua_State *L)
{
	struct timespec ts[2];
	check_time(L, 3, &ts[0]);
	check_time(L, 4, &ts[1]);
	struct beneath at;
	if (get_at(L, 1, &at) != 0)
		return sys_push_error(L, errno);
	if (!at.name[0]) { /* the fd itself: through its /proc path */
		char path[32];
		snprintf(path, sizeof path, "/proc/self/fd/%d", at.dirfd);
		return at_status(L, &at, utimensat(AT_FDCWD, path, ts, 0));
	}
	return at_status(L, &at, utimensat(at.dirfd, at.name, ts, AT_SYMLINK_NOFOLLOW));
}

static int sys_futimens(lua_State *L)
{
	int fd = sys_check_fd(L, 1);
	struct timespec ts[2];
	check_time(L, 2, &ts[0]);
	check_time(L, 3, &ts[1]);
	return sys_push_status(L, futimens(fd, ts));
}

/* There is no truncateat(); truncate(2) on the object's /proc path checks
 * write permission as truncate does, without opening the file for writing
 * (which would block on a FIFO or open a device). */
static int sys_truncate(lua_State *L)
{
	off_t size = sys_check_off(L, 3);
	struct object o;
	if (sys_open_object(L, 1, &o) != 0)
		return sys_push_error(L, errno);
	int rc = truncate(o.path, size);
	sys_close_object(&o);
	return sys_push_status(L, rc);
}

static int sys_ftruncate(lua_State *L)
{
	return sys_push_status(L, ftruncate(sys_check_fd(L, 1), sys_check_off(L, 2)));
}

static int sys_access(lua_State *L)
{
	int mask = sys_need_int(L, 3, 0, 7);
	struct beneath at;
	if (get_at(L, 1, &at) != 0)
		return sys_push_error(L, errno);
	return at_status(L, &at, faccessat(at.dirfd, at.name, mask,
					   AT_SYMLINK_NOFOLLOW | empty_flag(&at)));
}

/* ---- names ---- */

static int sys_mkdir(lua_State *L)
{
	mode_t mode = check_mode(L, 3, 0777);
	struct beneath at;
	if (get_at(L, 1, &at) != 0)
		return sys_push_error(L, errno);
	return at_status(L, &at, mkdirat(at.dirfd, at.name, mode));
}

/* mode includes the type bits (S_IFIFO, S_IFCHR, ...). */
static int sys_mknod(lua_State *L)
{
	mode_t mode = (mode_t)sys_need_int(L, 3, 0, 0xFFFF);
	dev_t rdev = (dev_t)sys_check_int(L, 4, 0, UINT32_MAX, 0);
	struct beneath at;
	if (get_at(L, 1, &at) != 0)
		return sys_push_error(L, errno);
	return at_status(L, &at, mknodat(at.dirfd, at.name, mode, rdev));
}

static int sys_unlink(lua_State *L)
{
	struct beneath at;
	if (get_at(L, 1, &at) != 0)
		return sys_push_error(L, errno);
	return at_status(L, &at, unlinkat(at.dirfd, at.name, 0));
}

static int sys_rmdir(lua_State *L)
{
	struct beneath at;
	if (get_at(L, 1, &at) != 0)
		return sys_push_error(L, errno);
	return at_status(L, &at, unlinkat(at.dirfd, at.name, AT_REMOVEDIR));
}

/* Resolves the two (dirfd, path) pairs of rename and link. */
static int get_two_ats(lua_State *L, struct beneath *from, struct beneath *to)
{
	sys_check_fd(L, 3);
	luaL_checkstring(L, 4); /* before anything is opened */
	if (get_at(L, 1, from) != 0)
		return -1;
	if (get_at(L, 3, to) != 0) {
		beneath_done(from);
		return -1;
	}
	return 0;
}

/* Ends a call made on two ats. */
static int two_ats_status(lua_State *L, struct beneath *from, struct beneath *to, int rc)
{
	int err = errno;
	beneath_done(from);
	errno = err;
	return at_status(L, to, rc);
}

/* sys.rename(olddirfd, old, newdirfd, new, flags); flags as renameat2
 * (moonfs.RENAME_NOREPLACE, _EXCHANGE, _WHITEOUT). */
static int sys_rename(lua_State *L)
{
	unsigned flags = (unsigned)sys_check_int(L, 5, 0, UINT32_MAX, 0);
	struct beneath from, to;
	if (get_two_ats(L, &from, &to) != 0)
		return sys_push_error(L, errno);
	return two_ats_status(L, &from, &to,
			      renameat2(from.dirfd, from.name, to.dirfd, to.name, flags));
}

static int sys_symlink(lua_State *L)
{
	const char *target = luaL_checkstring(L, 1);
	struct beneath at;
	if (get_at(L, 2, &at) != 0)
		return sys_push_error(L, errno);
	return at_status(L, &at, symlinkat(target, at.dirfd, at.name));
}

/* A hard link to a symlink links the symlink, as link(2) does; an empty
 * source path links the fd itself (an O_TMPFILE file, say). */
static int sys_link(lua_State *L)
{
	struct beneath from, to;
	if (get_two_ats(L, &from, &to) != 0)
		return sys_push_error(L, errno);
	return two_ats_status(L, &from, &to, linkat(from.dirfd, from.name, to.dirfd, to.name,
						    empty_flag(&from)));
}

static int sys_readlink(lua_State *L)
{
	struct beneath at;
	if (get_at(L, 1, &at) != 0)
		return sys_push_error(L, errno);
	char stack_buf[4096];
	char *buf = stack_buf;
	size_t size = sizeof stack_buf;
	ssize_t n;
	/* a target that fills the buffer may have been cut short: grow */
	while ((n = readlinkat(at.dirfd, at.name, buf, size)) >= 0 && (size_t)n == size) {
		if (buf != stack_buf)
			free(buf);
		size *= 2;
		if (!(buf = malloc(size))) {
			errno = ENOMEM;
			n = -1;
			break;
		}
	}
	int err = errno;
	beneath_done(&at);
	if (n >= 0)
		lua_pushlstring(L, buf, (size_t)n);
	if (buf && buf != stack_buf)
		free(buf);
	return n >= 0 ? 1 : sys_push_error(L, err);
}

/* sys.readdir(dirfd, path[, with_stats]) -> names, types, inos[, stats]:
 * parallel arrays without "." and "..". A type is "file", "dir", ... or
 * false when the filesystem does not say (DT_UNKNOWN); the caller can
 * stat for it. With with_stats, the stats are a stat directory (values.h)
 * rather than an array: READDIRPLUS wants attributes for the names of one
 * reply buffer, and a pass listing 10,000 names for a plain `ls` would
 * otherwise stat all of them. */
static int sys_readdir(lua_State *L)
{
	int dirfd = sys_check_fd(L, 1);
	const char *path = luaL_checkstring(L, 2);
	int with_stats = lua_toboolean(L, 3);
	int fd = beneath_open(dirfd, path[0] ? path : ".", O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		return sys_push_error(L, errno);
	/* the stat directory: the host stats names beneath it when it hands
	 * them to the kernel (values.h), so a pass costs no stat per name */
	int stat_dir = with_stats ? fcntl(fd, F_DUPFD_CLOEXEC, 3) : -1;
	DIR *dir = with_stats && stat_dir < 0 ? NULL : fdopendir(fd);
	if (!dir) {
		int err = errno;
		close(fd);
		if (stat_dir >= 0)
			close(stat_dir);
		return sys_push_error(L, err);
	}
	lua_newtable(L);
	lua_newtable(L);
	lua_newtable(L);
	int names = lua_gettop(L) - 2, types = names + 1, inos = names + 2;
	int count = 0;
	struct dirent *d;
	for (;;) {
		errno = 0;
		if (!(d = readdir(dir)))
			break;
		if (d->d_name[0] == '.' &&
		    (d->d_name[1] == '\0' || (d->d_name[1] == '.' && d->d_name[2] == '\0')))
			continue;
		count++;
		lua_pushstring(L, d->d_name);
		lua_rawseti(L, names, count);
		if (d->d_type == DT_UNKNOWN)
			lua_pushboolean(L, 0);
		else
			lua_pushstring(L, values_type_name(DTTOIF(d->d_type)));
		lua_rawseti(L, types, count);
		lua_pushnumber(L, (lua_Number)d->d_ino);
		lua_rawseti(L, inos, count);
	}
	int err = errno;
	closedir(dir);
	if (err) {
		lua_pop(L, 3);
		if (stat_dir >= 0)
			close(stat_dir);
		return sys_push_error(L, err);
	}
	if (!with_stats)
		return 3;
	values_push_stat_dir(L, stat_dir);
	return 4;
}

int luaopen_moonfs_sys(lua_State *L)
{
	static const luaL_Reg functions[] = {
		{ "open", sys_open },
		{ "open_root", sys_open_root },
		{ "close", sys_close },
		{ "umask", sys_umask },
		{ "stat", sys_stat },
		{ "fstat", sys_fstat },
		{ "mkdir", sys_mkdir },
		{ "mknod", sys_mknod },
		{ "unlink", sys_unlink },
		{ "rmdir", sys_rmdir },
		{ "rename", sys_rename },
		{ "symlink", sys_symlink },
		{ "readlink", sys_readlink },
		{ "link", sys_link },
		{ "chmod", sys_chmod },
		{ "chown", sys_chown },
		{ "utimens", sys_utimens },
		{ "truncate", sys_truncate },
		{ "ftruncate", sys_ftruncate },
		{ "nonblocking", sys_nonblocking },
		{ "fchmod", sys_fchmod },
		{ "fchown", sys_fchown },
		{ "futimens", sys_futimens },
		{ "readdir", sys_readdir },
		{ "access", sys_access },
		{ NULL, NULL },
	};
	lua_newtable(L);
	luaL_register(L, NULL, functions);
	luaL_register(L, NULL, sys_data_functions);
	lua_pushinteger(L, AT_FDCWD);
	lua_setfield(L, -2, "AT_FDCWD");
	return 1;
}
