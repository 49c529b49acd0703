/* moonfs.sys: the system calls scripts need to serve a filesystem from a
 * real directory (the mirror is built on them). Paths are relative to a
 * directory fd, as in the *at() calls; sys.AT_FDCWD means the working
 * directory.
 *
 * Every function returns its value(s) on success (true when there is no
 * value) and `nil, "ENOENT: No such file or directory", 2` on failure, so a
 * handler can hand a failure straight back with `return sys.unlink(...)`.
 * Wrong argument types raise: they are bugs in the script, not failures.
 *
 * Nothing here follows a final symlink except open (without O_NOFOLLOW),
 * open_root and readdir, which need a file or directory behind the name.
 * Paths may be longer than PATH_MAX (see struct at). */
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

#include "values.h"

/* openat2(2): glibc 2.36 has no wrapper, older kernel headers no struct. */
#if defined(__has_include)
#if __has_include(<linux/openat2.h>)
#include <linux/openat2.h>
#define HAVE_OPEN_HOW 1
#endif
#endif
#ifndef HAVE_OPEN_HOW
struct open_how {
	uint64_t flags;
	uint64_t mode;
	uint64_t resolve;
};
#define RESOLVE_NO_MAGICLINKS 0x02
#define RESOLVE_BENEATH 0x08
#endif
#ifndef SYS_openat2
#define SYS_openat2 437
#endif

/* openat2 refuses flag bits it does not know (EINVAL) where openat ignores
 * them; the kernel's FUSE open flags can carry such bits (__FMODE_EXEC when
 * a binary is executed), so unknown bits are dropped to keep openat's
 * behaviour. */
#define KNOWN_OPEN_FLAGS                                                                   \
	(O_ACCMODE | O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_APPEND | O_NONBLOCK | O_DSYNC | \
	 O_SYNC | FASYNC | O_DIRECT | O_LARGEFILE | O_DIRECTORY | O_NOFOLLOW | O_NOATIME |     \
	 O_CLOEXEC | O_PATH | O_TMPFILE)

/* ---- results ---- */

static int push_error(lua_State *L, int err)
{
	lua_pushnil(L);
	lua_pushfstring(L, "%s: %s", values_errno_name(err), strerror(err));
	lua_pushinteger(L, err);
	return 3;
}

/* For calls that return 0 or -1 with errno. */
static int push_status(lua_State *L, int rc)
{
	if (rc != 0)
		return push_error(L, errno);
	lua_pushboolean(L, 1);
	return 1;
}

/* ---- arguments ---- */

static int check_fd(lua_State *L, int idx)
{
	lua_Integer fd = luaL_checkinteger(L, idx);
	if (fd != AT_FDCWD && (fd < 0 || fd > INT32_MAX))
		luaL_argerror(L, idx, "not a file descriptor");
	return (int)fd;
}

/* uid and gid: nil or -1 leave the value unchanged, as in chown(2). */
static unsigned check_id(lua_State *L, int idx)
{
	lua_Integer id = luaL_optinteger(L, idx, -1);
	return id < 0 ? (unsigned)-1 : (unsigned)id;
}

static off_t check_off(lua_State *L, int idx)
{
	lua_Number n = luaL_checknumber(L, idx);
	if (n < 0)
		luaL_argerror(L, idx, "negative size or offset");
	return (off_t)n;
}

static void check_time(lua_State *L, int idx, struct timespec *ts)
{
	const char *why;
	if (values_to_timespec(L, idx, ts, &why) != 0)
		luaL_argerror(L, idx, why);
}

/* ---- opening ---- */

static int openat2_missing;

/* openat beneath dirfd: no "..", absolute path or symlink may lead out of
 * it, and no /proc magic link may be crossed. O_CLOEXEC always, so scripts
 * that start programs do not leak the host's fds. -1 with errno on failure. */
static int open_beneath(int dirfd, const char *path, int flags, mode_t mode)
{
	flags = (flags & KNOWN_OPEN_FLAGS) | O_CLOEXEC;
	if (flags & O_PATH) /* the only flags openat2 accepts with O_PATH */
		flags &= O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
	int creating = (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
	if (dirfd != AT_FDCWD && !openat2_missing) {
		struct open_how how = {
			.flags = (uint64_t)(unsigned)flags,
			/* openat2 refuses a mode without O_CREAT, or with type bits */
			.mode = creating ? (mode & 07777) : 0,
			.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
		};
		long fd = syscall(SYS_openat2, dirfd, path, &how, sizeof how);
		if (fd >= 0 || errno != ENOSYS)
			return (int)fd;
		openat2_missing = 1; /* Linux < 5.6: plain openat from now on */
	}
	return openat(dirfd, path, flags, mode);
}

/* A (dirfd, path) pair ready for an *at() call. The kernel refuses a path
 * of PATH_MAX bytes or more (ENAMETOOLONG) although a tree can be deeper,
 * and a mount's handlers get whole paths from its root: such a path is
 * walked in pieces, opening the leading directories O_PATH beneath dirfd,
 * so the call gets the last piece relative to the deepest of them. */
struct at {
	int dirfd;
	const char *path;
	int fd; /* an intermediate directory to close, or -1 */
};

/* Returns 0, or -1 with errno. Short paths (all real ones) cost a strlen. */
static int at_resolve(int dirfd, const char *path, struct at *at)
{
	at->dirfd = dirfd;
	at->path = path;
	at->fd = -1;
	while (strlen(at->path) >= PATH_MAX) {
		/* the last '/' that leaves a prefix the kernel accepts */
		const char *cut = memrchr(at->path, '/', PATH_MAX - 1);
		if (!cut || cut == at->path) {
			errno = ENAMETOOLONG; /* one name longer than any filesystem allows */
			goto fail;
		}
		char prefix[PATH_MAX];
		memcpy(prefix, at->path, (size_t)(cut - at->path));
		prefix[cut - at->path] = '\0';
		int fd = open_beneath(at->dirfd, prefix, O_PATH | O_DIRECTORY, 0);
		if (fd < 0)
			goto fail;
		if (at->fd >= 0)
			close(at->fd);
		at->fd = at->dirfd = fd;
		at->path = cut + 1;
	}
	return 0;
fail:
	if (at->fd >= 0) {
		int err = errno;
		close(at->fd);
		errno = err;
	}
	return -1;
}

/* Closes what at_resolve opened, keeping errno for the caller's report. */
static void at_done(struct at *at)
{
	if (at->fd >= 0) {
		int err = errno;
		close(at->fd);
		errno = err;
	}
}

/* Reads the (dirfd, path) arguments at idx, idx + 1 and resolves them.
 * Every other argument must be checked before: a raised argument error
 * would leak the intermediate fd. */
static int get_at(lua_State *L, int idx, struct at *at)
{
	int dirfd = check_fd(L, idx);
	return at_resolve(dirfd, luaL_checkstring(L, idx + 1), at);
}

/* Ends a call made on `at`: pushes true, or the error of a non-zero rc. */
static int at_status(lua_State *L, struct at *at, int rc)
{
	int err = errno;
	at_done(at);
	if (rc != 0)
		return push_error(L, err);
	lua_pushboolean(L, 1);
	return 1;
}

/* open_beneath for paths of any length. */
static int open_at(int dirfd, const char *path, int flags, mode_t mode)
{
	struct at at;
	if (at_resolve(dirfd, path, &at) != 0)
		return -1;
	int fd = open_beneath(at.dirfd, at.path, flags, mode);
	at_done(&at);
	return fd;
}

/* A path that names the object of an O_PATH fd, for the calls that have no
 * fd or *at() form (xattrs on any file type, truncate). The kernel resolves
 * the magic link to the object itself, so a symlink is not followed. */
struct fd_path {
	int fd;
	char path[32];
};

static int open_fd_path(int dirfd, const char *path, struct fd_path *fp)
{
	fp->fd = open_at(dirfd, path, O_PATH | O_NOFOLLOW, 0);
	if (fp->fd < 0)
		return -1;
	snprintf(fp->path, sizeof fp->path, "/proc/self/fd/%d", fp->fd);
	return 0;
}

/* Closes the fd while keeping errno, so the caller can still report it. */
static void close_fd_path(struct fd_path *fp)
{
	int saved = errno;
	close(fp->fd);
	errno = saved;
}

/* sys.open(dirfd, path, flags, mode) -> fd. mode defaults to 0666 (less the
 * umask) and matters only with O_CREAT or O_TMPFILE. */
static int sys_open(lua_State *L)
{
	int dirfd = check_fd(L, 1);
	const char *path = luaL_checkstring(L, 2);
	int flags = (int)luaL_optinteger(L, 3, O_RDONLY);
	mode_t mode = (mode_t)luaL_optinteger(L, 4, 0666);
	int fd = open_at(dirfd, path, flags, mode);
	if (fd < 0)
		return push_error(L, errno);
	lua_pushinteger(L, fd);
	return 1;
}

/* sys.open_root(path) -> dirfd for the other calls, from a directory given
 * by an ordinary path (symlinks followed). O_PATH: it serves only as an
 * anchor, so no read permission is needed. */
static int sys_open_root(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return push_error(L, errno);
	lua_pushinteger(L, fd);
	return 1;
}

static int sys_close(lua_State *L)
{
	return push_status(L, close(check_fd(L, 1)));
}

/* ---- attributes ---- */

/* sys.stat(dirfd, path) -> stat table of the name itself (lstat). */
static int sys_stat(lua_State *L)
{
	struct stat st;
	struct at at;
	if (get_at(L, 1, &at) != 0)
		return push_error(L, errno);
	int rc = fstatat(at.dirfd, at.path, &st, AT_SYMLINK_NOFOLLOW);
	int err = errno;
	at_done(&at);
	if (rc != 0)
		return push_error(L, err);
	values_push_stat(L, &st);
	return 1;
}

static int sys_fstat(lua_State *L)
{
	struct stat st;
	if (fstat(check_fd(L, 1), &st) != 0)
		return push_error(L, errno);
	values_push_stat(L, &st);
	return 1;
}

/* glibc implements AT_SYMLINK_NOFOLLOW without a race (O_PATH, then the
 * fd's /proc path) and fails with EOPNOTSUPP on a symlink, as Linux does. */
static int sys_chmod(lua_State *L)
{
	mode_t mode = (mode_t)luaL_checkinteger(L, 3);
	struct at at;
	if (get_at(L, 1, &at) != 0)
		return push_error(L, errno);
	return at_status(L, &at, fchmodat(at.dirfd, at.path, mode, AT_SYMLINK_NOFOLLOW));
}

static int sys_fchmod(lua_State *L)
{
	return push_status(L, fchmod(check_fd(L, 1), (mode_t)luaL_checkinteger(L, 2)));
}

static int sys_chown(lua_State *L)
{
	unsigned uid = check_id(L, 3), gid = check_id(L, 4);
	struct at at;
	if (get_at(L, 1, &at) != 0)
		return push_error(L, errno);
	return at_status(L, &at, fchownat(at.dirfd, at.path, uid, gid, AT_SYMLINK_NOFOLLOW));
}

static int sys_fchown(lua_State *L)
{
	return push_status(L, fchown(check_fd(L, 1), check_id(L, 2), check_id(L, 3)));
}

/* sys.utimens(dirfd, path, atime, mtime); a time is nil (leave it),
 * "now", seconds or {sec, nsec}. */
static int sys_utimens(lua_State *L)
{
	struct timespec ts[2];
	check_time(L, 3, &ts[0]);
	check_time(L, 4, &ts[1]);
	struct at at;
	if (get_at(L, 1, &at) != 0)
		return push_error(L, errno);
	return at_status(L, &at, utimensat(at.dirfd, at.path, ts, AT_SYMLINK_NOFOLLOW));
}

static int sys_futimens(lua_State *L)
{
	int fd = check_fd(L, 1);
	struct timespec ts[2];
	check_time(L, 2, &ts[0]);
	check_time(L, 3, &ts[1]);
	return push_status(L, futimens(fd, ts));
}

/* There is no truncateat(); truncate(2) on the fd's /proc path checks
 * write permission as truncate does, without opening the file for writing
 * (which would block on a FIFO or open a device). */
static int sys_truncate(lua_State *L)
{
	int dirfd = check_fd(L, 1);
	const char *path = luaL_checkstring(L, 2);
	off_t size = check_off(L, 3);
	struct fd_path fp;
	if (open_fd_path(dirfd, path, &fp) != 0)
		return push_error(L, errno);
	int rc = truncate(fp.path, size);
	close_fd_path(&fp);
	return push_status(L, rc);
}

static int sys_ftruncate(lua_State *L)
{
	return push_status(L, ftruncate(check_fd(L, 1), check_off(L, 2)));
}

static int sys_access(lua_State *L)
{
	int mask = (int)luaL_checkinteger(L, 3);
	struct at at;
	if (get_at(L, 1, &at) != 0)
		return push_error(L, errno);
	return at_status(L, &at, faccessat(at.dirfd, at.path, mask, AT_SYMLINK_NOFOLLOW));
}

/* ---- names ---- */

static int sys_mkdir(lua_State *L)
{
	mode_t mode = (mode_t)luaL_optinteger(L, 3, 0777);
	struct at at;
	if (get_at(L, 1, &at) != 0)
		return push_error(L, errno);
	return at_status(L, &at, mkdirat(at.dirfd, at.path, mode));
}

/* mode includes the type bits (S_IFIFO, S_IFCHR, ...). */
static int sys_mknod(lua_State *L)
{
	mode_t mode = (mode_t)luaL_checkinteger(L, 3);
	dev_t rdev = (dev_t)luaL_optnumber(L, 4, 0);
	struct at at;
	if (get_at(L, 1, &at) != 0)
		return push_error(L, errno);
	return at_status(L, &at, mknodat(at.dirfd, at.path, mode, rdev));
}

static int sys_unlink(lua_State *L)
{
	struct at at;
	if (get_at(L, 1, &at) != 0)
		return push_error(L, errno);
	return at_status(L, &at, unlinkat(at.dirfd, at.path, 0));
}

static int sys_rmdir(lua_State *L)
{
	struct at at;
	if (get_at(L, 1, &at) != 0)
		return push_error(L, errno);
	return at_status(L, &at, unlinkat(at.dirfd, at.path, AT_REMOVEDIR));
}

/* Resolves the two (dirfd, path) pairs of rename and link. */
static int get_two_ats(lua_State *L, struct at *from, struct at *to)
{
	check_fd(L, 3);
	luaL_checkstring(L, 4); /* before anything is opened */
	if (get_at(L, 1, from) != 0)
		return -1;
	if (get_at(L, 3, to) != 0) {
		at_done(from);
		return -1;
	}
	return 0;
}

/* Ends a call made on two ats. */
static int two_ats_status(lua_State *L, struct at *from, struct at *to, int rc)
{
	int err = errno;
	at_done(from);
	errno = err;
	return at_status(L, to, rc);
}

/* sys.rename(olddirfd, old, newdirfd, new, flags); flags as renameat2:
 * 1 = RENAME_NOREPLACE, 2 = RENAME_EXCHANGE. */
static int sys_rename(lua_State *L)
{
	unsigned flags = (unsigned)luaL_optinteger(L, 5, 0);
	struct at from, to;
	if (get_two_ats(L, &from, &to) != 0)
		return push_error(L, errno);
	return two_ats_status(L, &from, &to,
			      renameat2(from.dirfd, from.path, to.dirfd, to.path, flags));
}

static int sys_symlink(lua_State *L)
{
	const char *target = luaL_checkstring(L, 1);
	struct at at;
	if (get_at(L, 2, &at) != 0)
		return push_error(L, errno);
	return at_status(L, &at, symlinkat(target, at.dirfd, at.path));
}

/* Flags 0: a hard link to a symlink links the symlink, as link(2) does. */
static int sys_link(lua_State *L)
{
	struct at from, to;
	if (get_two_ats(L, &from, &to) != 0)
		return push_error(L, errno);
	return two_ats_status(L, &from, &to, linkat(from.dirfd, from.path, to.dirfd, to.path, 0));
}

static int sys_readlink(lua_State *L)
{
	struct at at;
	if (get_at(L, 1, &at) != 0)
		return push_error(L, errno);
	char stack_buf[4096];
	char *buf = stack_buf;
	size_t size = sizeof stack_buf;
	ssize_t n;
	/* a target that fills the buffer may have been cut short: grow */
	while ((n = readlinkat(at.dirfd, at.path, buf, size)) >= 0 && (size_t)n == size) {
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
	at_done(&at);
	if (n >= 0)
		lua_pushlstring(L, buf, (size_t)n);
	if (buf && buf != stack_buf)
		free(buf);
	return n >= 0 ? 1 : push_error(L, err);
}

/* sys.readdir(dirfd, path) -> names, types, inos: three parallel arrays
 * without "." and "..". A type is "file", "dir", ... or false when the
 * filesystem does not say (DT_UNKNOWN); the caller can stat for it. */
static int sys_readdir(lua_State *L)
{
	int dirfd = check_fd(L, 1);
	const char *path = luaL_checkstring(L, 2);
	int fd = open_at(dirfd, path, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		return push_error(L, errno);
	DIR *dir = fdopendir(fd);
	if (!dir) {
		int err = errno;
		close(fd);
		return push_error(L, err);
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
		return push_error(L, err);
	}
	return 3;
}

/* ---- data ---- */

static int sys_pread(lua_State *L)
{
	int fd = check_fd(L, 1);
	lua_Number want = luaL_checknumber(L, 2);
	off_t off = check_off(L, 3);
	if (want < 0 || want > (lua_Number)(1 << 30))
		luaL_argerror(L, 2, "size must be 0 to 1 GiB");
	size_t size = (size_t)want;
	char *buf = malloc(size ? size : 1);
	if (!buf)
		return push_error(L, ENOMEM);
	ssize_t n = pread(fd, buf, size, off);
	if (n < 0) {
		int err = errno;
		free(buf);
		return push_error(L, err);
	}
	lua_pushlstring(L, buf, (size_t)n);
	free(buf);
	return 1;
}

static int sys_pwrite(lua_State *L)
{
	int fd = check_fd(L, 1);
	size_t len;
	const char *data = luaL_checklstring(L, 2, &len);
	ssize_t n = pwrite(fd, data, len, check_off(L, 3));
	if (n < 0)
		return push_error(L, errno);
	lua_pushnumber(L, (lua_Number)n);
	return 1;
}

/* sys.fsync(fd, datasync): datasync true = fdatasync. */
static int sys_fsync(lua_State *L)
{
	int fd = check_fd(L, 1);
	return push_status(L, lua_toboolean(L, 2) ? fdatasync(fd) : fsync(fd));
}

static int sys_fallocate(lua_State *L)
{
	return push_status(L, fallocate(check_fd(L, 1), (int)luaL_checkinteger(L, 2),
					check_off(L, 3), check_off(L, 4)));
}

/* sys.statvfs(fd) -> the table the statfs handler returns. Works on an
 * O_PATH fd such as open_root's. */
static int sys_statvfs(lua_State *L)
{
	struct statvfs sv;
	if (fstatvfs(check_fd(L, 1), &sv) != 0)
		return push_error(L, errno);
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
	int dirfd = check_fd(L, 1);
	const char *path = luaL_checkstring(L, 2);
	const char *name = luaL_checkstring(L, 3);
	struct fd_path fp;
	if (open_fd_path(dirfd, path, &fp) != 0)
		return push_error(L, errno);
	int rc = push_xattr_bytes(L, fp.path, name);
	close_fd_path(&fp);
	return rc == 0 ? 1 : push_error(L, errno);
}

/* sys.listxattr(dirfd, path) -> array of names. */
static int sys_listxattr(lua_State *L)
{
	int dirfd = check_fd(L, 1);
	const char *path = luaL_checkstring(L, 2);
	struct fd_path fp;
	if (open_fd_path(dirfd, path, &fp) != 0)
		return push_error(L, errno);
	int rc = push_xattr_bytes(L, fp.path, NULL);
	close_fd_path(&fp);
	if (rc != 0)
		return push_error(L, errno);
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
	int dirfd = check_fd(L, 1);
	const char *path = luaL_checkstring(L, 2);
	const char *name = luaL_checkstring(L, 3);
	size_t len;
	const char *value = luaL_checklstring(L, 4, &len);
	int flags = (int)luaL_optinteger(L, 5, 0);
	struct fd_path fp;
	if (open_fd_path(dirfd, path, &fp) != 0)
		return push_error(L, errno);
	int rc = setxattr(fp.path, name, value, len, flags);
	close_fd_path(&fp);
	return push_status(L, rc);
}

static int sys_removexattr(lua_State *L)
{
	int dirfd = check_fd(L, 1);
	const char *path = luaL_checkstring(L, 2);
	const char *name = luaL_checkstring(L, 3);
	struct fd_path fp;
	if (open_fd_path(dirfd, path, &fp) != 0)
		return push_error(L, errno);
	int rc = removexattr(fp.path, name);
	close_fd_path(&fp);
	return push_status(L, rc);
}

int luaopen_moonfs_sys(lua_State *L)
{
	static const luaL_Reg functions[] = {
		{ "open", sys_open },
		{ "open_root", sys_open_root },
		{ "close", sys_close },
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
		{ "fchmod", sys_fchmod },
		{ "fchown", sys_fchown },
		{ "futimens", sys_futimens },
		{ "fsync", sys_fsync },
		{ "fallocate", sys_fallocate },
		{ "statvfs", sys_statvfs },
		{ "readdir", sys_readdir },
		{ "getxattr", sys_getxattr },
		{ "setxattr", sys_setxattr },
		{ "listxattr", sys_listxattr },
		{ "removexattr", sys_removexattr },
		{ "pread", sys_pread },
		{ "pwrite", sys_pwrite },
		{ "access", sys_access },
		{ NULL, NULL },
	};
	lua_newtable(L);
	luaL_register(L, NULL, functions);
	lua_pushinteger(L, AT_FDCWD);
	lua_setfield(L, -2, "AT_FDCWD");
	return 1;
}
