#define _GNU_SOURCE
#include "values.h"

#include <errno.h>
#include <lauxlib.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "stat_value.h"

static uid_t default_uid;
static gid_t default_gid;
static struct timespec default_time;
static __thread int errno_table_ref = LUA_NOREF; /* per Lua state: per worker */

/* Errno numbers on Linux stay below this. */
#define ERRNO_MAX 134

void values_init(lua_State *L, uid_t uid, gid_t gid)
{
	default_uid = uid;
	default_gid = gid;
	if (default_time.tv_sec == 0) /* the first worker's: every worker reports one time */
		clock_gettime(CLOCK_REALTIME, &default_time);

	/* glibc knows the names; one table maps both ways. */
	lua_createtable(L, ERRNO_MAX, ERRNO_MAX);
	for (int e = 1; e < ERRNO_MAX; e++) {
		const char *name = strerrorname_np(e);
		if (!name)
			continue;
		lua_pushstring(L, name);
		lua_pushinteger(L, e);
		lua_rawset(L, -3);
		lua_pushstring(L, name);
		lua_rawseti(L, -2, e);
	}
	/* Aliases glibc reports under one name only. */
	static const struct { const char *name; int value; } aliases[] = {
		{ "EWOULDBLOCK", EWOULDBLOCK }, { "EDEADLOCK", EDEADLOCK },
		{ "ENOTSUP", ENOTSUP },
	};
	for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++) {
		lua_pushstring(L, aliases[i].name);
		lua_pushinteger(L, aliases[i].value);
		lua_rawset(L, -3);
	}
	errno_table_ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

void values_push_errno_table(lua_State *L)
{
	lua_rawgeti(L, LUA_REGISTRYINDEX, errno_table_ref);
}

const char *values_errno_name(int err)
{
	const char *name = err > 0 ? strerrorname_np(err) : NULL;
	return name ? name : "E?";
}

static int errno_by_name(lua_State *L, const char *name, size_t len)
{
	lua_rawgeti(L, LUA_REGISTRYINDEX, errno_table_ref);
	lua_pushlstring(L, name, len);
	lua_rawget(L, -2);
	int err = lua_isnumber(L, -1) ? (int)lua_tointeger(L, -1) : 0;
	lua_pop(L, 2);
	return err;
}

int values_to_errno(lua_State *L, int idx, const char **why)
{
	if (lua_type(L, idx) == LUA_TNUMBER) {
		/* The kernel rejects a reply whose error is outside 1..511 and
		 * then never answers the caller; only the errnos the C library
		 * names are real ones. A negative number is taken as -errno. */
		int64_t n;
		if (values_to_i64(L, idx, -ERRNO_MAX, ERRNO_MAX, &n) == 0 && n != 0 &&
		    strerrorname_np((int)(n < 0 ? -n : n)))
			return (int)(n < 0 ? -n : n);
		*why = "not an errno number the system knows (1 to 133)";
		return 0;
	}
	if (lua_type(L, idx) == LUA_TSTRING) {
		size_t len;
		const char *s = lua_tolstring(L, idx, &len);
		/* "ENOENT" or "ENOENT: No such file" */
		size_t name_len = 0;
		while (name_len < len && s[name_len] != ':' && s[name_len] != ' ')
			name_len++;
		int err = errno_by_name(L, s, name_len);
		if (err)
			return err;
		*why = "the error is not an errno name such as \"ENOENT\"";
		return 0;
	}
	*why = "the error is neither an errno name nor a number";
	return 0;
}

mode_t values_type_bits(const char *name)
{
	switch (name[0]) {
	case 'f':
		return strcmp(name, "file") == 0 ? S_IFREG : strcmp(name, "fifo") == 0 ? S_IFIFO : 0;
	case 'd':
		return strcmp(name, "dir") == 0 ? S_IFDIR : 0;
	case 's':
		return strcmp(name, "symlink") == 0 ? S_IFLNK : strcmp(name, "socket") == 0 ? S_IFSOCK : 0;
	case 'c':
		return strcmp(name, "char") == 0 ? S_IFCHR : 0;
	case 'b':
		return strcmp(name, "block") == 0 ? S_IFBLK : 0;
	}
	return 0;
}

const char *values_type_name(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: return "file";
	case S_IFDIR: return "dir";
	case S_IFLNK: return "symlink";
	case S_IFIFO: return "fifo";
	case S_IFSOCK: return "socket";
	case S_IFCHR: return "char";
	case S_IFBLK: return "block";
	}
	return "unknown";
}

/* Error messages name the field; the message is logged before the next
 * conversion in the same thread, so one buffer per thread is enough. */
static __thread char why_buf[200];

/* 2^63 and 2^64 as doubles: the first values a double holds that no
 * int64_t / uint64_t does. */
#define TWO_POW_63 9223372036854775808.0
#define TWO_POW_64 18446744073709551616.0

/* The conversions test the range before converting (a cast of an
 * out-of-range double is undefined) and compare back instead of calling
 * floor(): the common case costs a few instructions. */
int values_to_u64(lua_State *L, int idx, uint64_t max, uint64_t *out)
{
	if (lua_type(L, idx) != LUA_TNUMBER)
		return -1;
	lua_Number n = lua_tonumber(L, idx);
	/* NaN fails every comparison, so it is caught here too */
	if (!(n >= 0 && n < TWO_POW_64))
		return -1;
	uint64_t v = (uint64_t)n;
	if ((lua_Number)v != n || v > max)
		return -1; /* a fraction, or beyond max */
	*out = v;
	return 0;
}

int values_to_i64(lua_State *L, int idx, int64_t min, int64_t max, int64_t *out)
{
	if (lua_type(L, idx) != LUA_TNUMBER)
		return -1;
	lua_Number n = lua_tonumber(L, idx);
	if (!(n >= -TWO_POW_63 && n < TWO_POW_63))
		return -1;
	int64_t v = (int64_t)n;
	if ((lua_Number)v != n || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

long values_to_perm(lua_State *L, int idx)
{
	if (lua_type(L, idx) == LUA_TNUMBER) {
		uint64_t n;
		return values_to_u64(L, idx, 07777, &n) == 0 ? (long)n : -1;
	}
	if (lua_type(L, idx) == LUA_TSTRING) {
		const char *s = lua_tostring(L, idx);
		char *end;
		long n = strtol(s, &end, 8);
		return (*s && *end == '\0' && n >= 0 && n <= 07777) ? n : -1;
	}
	return -1;
}

/* Describes the value at idx for a message: its type, or the number. */
static const char *describe(lua_State *L, int idx, char *buf, size_t size)
{
	if (lua_type(L, idx) == LUA_TNUMBER)
		snprintf(buf, size, "%.17g", (double)lua_tonumber(L, idx));
	else
		snprintf(buf, size, "a %s", luaL_typename(L, idx));
	return buf;
}

static const char *bad_field(const char *field, const char *expected, lua_State *L, int idx)
{
	char value[48];
	snprintf(why_buf, sizeof why_buf, "field '%s' is %s, expected %s", field,
		 describe(L, idx, value, sizeof value), expected);
	return why_buf;
}

/* Seconds a time may be away from 1970: far beyond any real date, and
 * exactly representable in a Lua number. */
#define TIME_LIMIT 9007199254740991.0 /* 2^53 - 1 */

int values_to_timespec(lua_State *L, int idx, struct timespec *ts, const char **why)
{
	switch (lua_type(L, idx)) {
	case LUA_TNIL:
		ts->tv_sec = 0;
		ts->tv_nsec = UTIME_OMIT;
		return 0;
	case LUA_TNUMBER: {
		lua_Number t = lua_tonumber(L, idx);
		if (!(t >= -TIME_LIMIT && t <= TIME_LIMIT))
			break; /* NaN, infinities and absurd dates */
		lua_Number sec = floor(t);
		ts->tv_sec = (time_t)sec;
		ts->tv_nsec = (long)((t - sec) * 1e9);
		if (ts->tv_nsec > 999999999L)
			ts->tv_nsec = 999999999L;
		return 0;
	}
	case LUA_TSTRING:
		if (strcmp(lua_tostring(L, idx), "now") == 0) {
			ts->tv_sec = 0;
			ts->tv_nsec = UTIME_NOW;
			return 0;
		}
		break;
	case LUA_TTABLE: {
		idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
		lua_getfield(L, idx, "sec");
		if (lua_isnil(L, -1)) {
			lua_pop(L, 1);
			lua_rawgeti(L, idx, 1);
		}
		lua_getfield(L, idx, "nsec");
		if (lua_isnil(L, -1)) {
			lua_pop(L, 1);
			lua_rawgeti(L, idx, 2);
		}
		int64_t sec = 0, nsec = 0;
		int ok = values_to_i64(L, -2, -(int64_t)TIME_LIMIT, (int64_t)TIME_LIMIT, &sec) == 0 &&
			 (lua_isnil(L, -1) || values_to_i64(L, -1, 0, 999999999, &nsec) == 0);
		lua_pop(L, 2);
		if (ok) {
			ts->tv_sec = (time_t)sec;
			ts->tv_nsec = (long)nsec;
			return 0;
		}
		break;
	}
	}
	*why = "a time must be seconds, {sec, nsec} or \"now\" (seconds within 2^53 of 1970, "
	       "nanoseconds 0 to 999999999)";
	return -1;
}

void values_push_timespec(lua_State *L, const struct timespec *ts)
{
	lua_createtable(L, 0, 2);
	lua_pushnumber(L, (lua_Number)ts->tv_sec);
	lua_setfield(L, -2, "sec");
	lua_pushinteger(L, ts->tv_nsec);
	lua_setfield(L, -2, "nsec");
}

int values_get_u64(lua_State *L, int idx, const char *field, uint64_t max, uint64_t *out,
		   const char **why)
{
	lua_getfield(L, idx, field);
	int rc = 0;
	if (!lua_isnil(L, -1) && values_to_u64(L, -1, max, out) != 0) {
		char expected[64];
		snprintf(expected, sizeof expected, "a whole number from 0 to %llu",
			 (unsigned long long)max);
		*why = bad_field(field, expected, L, -1);
		rc = -1;
	}
	lua_pop(L, 1);
	return rc;
}

static int get_time(lua_State *L, int idx, const char *field, const char *nsec_field,
		    struct timespec *ts, const char **why)
{
	lua_getfield(L, idx, field);
	if (lua_isnil(L, -1)) {
		lua_pop(L, 1);
		return 0;
	}
	const char *time_why;
	if (lua_type(L, -1) == LUA_TSTRING ||
	    values_to_timespec(L, -1, ts, &time_why) != 0) {
		*why = bad_field(field, "seconds or {sec, nsec} (within 2^53 s of 1970)", L, -1);
		lua_pop(L, 1);
		return -1;
	}
	lua_pop(L, 1);
	uint64_t nsec = UINT64_MAX;
	if (values_get_u64(L, idx, nsec_field, 999999999, &nsec, why) != 0)
		return -1;
	if (nsec != UINT64_MAX)
		ts->tv_nsec = (long)nsec;
	return 0;
}

/* The mode from the fields mode, type and perm. */
static int get_mode(lua_State *L, int idx, mode_t *out, const char **why)
{
	uint64_t mode = 0;
	int has_mode = 0;
	lua_getfield(L, idx, "mode");
	if (!lua_isnil(L, -1)) {
		if (values_to_u64(L, -1, 0xFFFF, &mode) != 0 ||
		    ((mode & S_IFMT) && strcmp(values_type_name((mode_t)mode), "unknown") == 0)) {
			*why = bad_field("mode", "a mode number (type bits and permissions, at most 0xFFFF)",
					 L, -1);
			lua_pop(L, 1);
			return -1;
		}
		has_mode = 1;
	}
	lua_pop(L, 1);

	lua_getfield(L, idx, "type");
	if (lua_type(L, -1) == LUA_TSTRING) {
		mode_t bits = values_type_bits(lua_tostring(L, -1));
		if (!bits) {
			snprintf(why_buf, sizeof why_buf,
				 "field 'type' is \"%.40s\", expected file, dir, symlink, fifo, socket, char or block",
				 lua_tostring(L, -1));
			*why = why_buf;
			lua_pop(L, 1);
			return -1;
		}
		mode = (mode & ~(uint64_t)S_IFMT) | bits;
	} else if (!lua_isnil(L, -1)) {
		*why = bad_field("type", "a string such as \"file\"", L, -1);
		lua_pop(L, 1);
		return -1;
	}
	lua_pop(L, 1);
	if (!(mode & S_IFMT))
		mode |= S_IFREG;

	lua_getfield(L, idx, "perm");
	if (!lua_isnil(L, -1)) {
		long perm = values_to_perm(L, -1);
		if (perm < 0) {
			*why = lua_type(L, -1) == LUA_TSTRING
				       ? "field 'perm' is not an octal string such as \"644\""
				       : bad_field("perm", "a number from 0 to 07777 or an octal string such as \"644\"",
						   L, -1);
			lua_pop(L, 1);
			return -1;
		}
		mode = (mode & S_IFMT) | (mode_t)perm;
	} else if (!has_mode) {
		/* neither perm nor mode: a default (mode 0 is a real mode) */
		mode |= S_ISDIR(mode) ? 0755 : S_ISLNK(mode) ? 0777 : 0644;
	}
	lua_pop(L, 1);
	*out = (mode_t)mode;
	return 0;
}

int values_to_stat(lua_State *L, int idx, struct stat *st, uint32_t *generation,
		   const char **why)
{
	const struct stat *value = stat_value_get(L, idx);
	if (value) { /* from moonfs.sys: checked when it was made or changed */
		*st = *value;
		*generation = stat_value_generation(value);
		return 0;
	}
	if (lua_type(L, idx) != LUA_TTABLE) {
		snprintf(why_buf, sizeof why_buf, "returned %s, expected a stat table",
			 luaL_typename(L, idx));
		*why = why_buf;
		return -1;
	}
	idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
	memset(st, 0, sizeof *st);
	mode_t mode;
	if (get_mode(L, idx, &mode, why) != 0)
		return -1;
	st->st_mode = mode;

	/* The limits are what the kernel's FUSE attributes can carry: uid and
	 * gid are 32 bits and (uid_t)-1 means "no change" elsewhere, sizes and
	 * block counts are signed 64-bit, rdev 32 bits. */
	uint64_t size = 0, nlink = S_ISDIR(mode) ? 2 : 1, uid = default_uid, gid = default_gid,
		 ino = 0, dev = 0, blocks = UINT64_MAX, rdev = 0, gen = 0;
	if (values_get_u64(L, idx, "size", INT64_MAX, &size, why) ||
	    values_get_u64(L, idx, "nlink", UINT32_MAX, &nlink, why) ||
	    values_get_u64(L, idx, "uid", UINT32_MAX - 1, &uid, why) ||
	    values_get_u64(L, idx, "gid", UINT32_MAX - 1, &gid, why) ||
	    values_get_u64(L, idx, "ino", UINT64_MAX, &ino, why) ||
	    values_get_u64(L, idx, "dev", UINT64_MAX, &dev, why) ||
	    values_get_u64(L, idx, "blocks", INT64_MAX, &blocks, why) ||
	    values_get_u64(L, idx, "rdev", UINT32_MAX, &rdev, why) ||
	    values_get_u64(L, idx, "generation", UINT32_MAX, &gen, why))
		return -1;
	*generation = (uint32_t)gen;
	st->st_size = (off_t)size;
	st->st_nlink = (nlink_t)nlink;
	st->st_uid = (uid_t)uid;
	st->st_gid = (gid_t)gid;
	st->st_ino = (ino_t)ino;
	st->st_dev = (dev_t)dev;
	st->st_blocks = blocks == UINT64_MAX ? (blkcnt_t)(size / 512 + (size % 512 != 0))
					     : (blkcnt_t)blocks;
	st->st_rdev = (dev_t)rdev;
	st->st_blksize = 4096;

	st->st_atim = st->st_mtim = st->st_ctim = default_time;
	if (get_time(L, idx, "atime", "atime_nsec", &st->st_atim, why) ||
	    get_time(L, idx, "mtime", "mtime_nsec", &st->st_mtim, why) ||
	    get_time(L, idx, "ctime", "ctime_nsec", &st->st_ctim, why))
		return -1;
	return 0;
}

/* ---- fds in a box: handed to the host, or a directory to stat in ---- */

/* A kind of boxed fd: its metatable's identity (to test values cheaply)
 * and a registry reference to it, per Lua state (one per thread). */
struct fd_box_kind {
	const char *name;
	lua_CFunction gc; /* NULL: the box does not own its fd */
	int slot;         /* in identity[] and metatable_ref[] */
};
static const struct fd_box_kind handed_kind = { "moonfs.fd", NULL, 0 };
static int stat_dir_gc(lua_State *L);
static const struct fd_box_kind stat_dir_kind = { "moonfs.stat_dir", stat_dir_gc, 1 };
static __thread const void *identity[2];
static __thread int metatable_ref[2];

static int fd_box_tostring(lua_State *L)
{
	lua_getmetatable(L, 1);
	lua_getfield(L, -1, "__name");
	lua_pushfstring(L, "%s(%d)", lua_tostring(L, -1), *(int *)lua_touserdata(L, 1));
	return 1;
}

/* The first use in a Lua state makes the metatable. */
static void push_fd_box(lua_State *L, int fd, const struct fd_box_kind *kind)
{
	int k = kind->slot;
	int *box = lua_newuserdata(L, sizeof *box);
	*box = fd;
	if (!identity[k]) {
		luaL_newmetatable(L, kind->name);
		lua_pushstring(L, kind->name);
		lua_setfield(L, -2, "__name");
		lua_pushcfunction(L, fd_box_tostring);
		lua_setfield(L, -2, "__tostring");
		if (kind->gc) {
			lua_pushcfunction(L, kind->gc);
			lua_setfield(L, -2, "__gc");
		}
		identity[k] = lua_topointer(L, -1);
		metatable_ref[k] = luaL_ref(L, LUA_REGISTRYINDEX);
	}
	lua_rawgeti(L, LUA_REGISTRYINDEX, metatable_ref[k]);
	lua_setmetatable(L, -2);
}

static int *fd_box(lua_State *L, int idx, const struct fd_box_kind *kind)
{
	int k = kind->slot;
	int *box = lua_touserdata(L, idx);
	if (!box || !identity[k] || !lua_getmetatable(L, idx))
		return NULL;
	int ours = lua_topointer(L, -1) == identity[k];
	lua_pop(L, 1);
	return ours ? box : NULL;
}

void values_forget(void)
{
	identity[0] = identity[1] = NULL;
	stat_value_forget();
}

void values_push_handed_fd(lua_State *L, int fd)
{
	push_fd_box(L, fd, &handed_kind);
}

int values_handed_fd(lua_State *L, int idx)
{
	int *box = fd_box(L, idx, &handed_kind);
	return box ? *box : -1;
}

/* A stat directory the host never took is closed with its box. */
static int stat_dir_gc(lua_State *L)
{
	int *box = lua_touserdata(L, 1);
	if (*box >= 0)
		close(*box);
	*box = -2;
	return 0;
}

void values_push_stat_dir(lua_State *L, int fd)
{
	push_fd_box(L, fd, &stat_dir_kind);
}

int values_take_stat_dir(lua_State *L, int idx)
{
	int *box = fd_box(L, idx, &stat_dir_kind);
	if (!box)
		return -1;
	int fd = *box;
	*box = -2;
	return fd == -1 ? -2 : fd;
}

int values_to_statvfs(lua_State *L, int idx, struct statvfs *sv, const char **why)
{
	idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
	/* FUSE carries block and file counts in 64 bits, sizes and the name
	 * length in 32. */
	uint64_t bsize = 4096, frsize = 0, blocks = 0, bfree = 0, bavail = UINT64_MAX, files = 0,
		 ffree = 0, namemax = 255;
	if (values_get_u64(L, idx, "bsize", UINT32_MAX, &bsize, why) ||
	    values_get_u64(L, idx, "frsize", UINT32_MAX, &frsize, why) ||
	    values_get_u64(L, idx, "blocks", UINT64_MAX, &blocks, why) ||
	    values_get_u64(L, idx, "bfree", UINT64_MAX, &bfree, why) ||
	    values_get_u64(L, idx, "bavail", UINT64_MAX, &bavail, why) ||
	    values_get_u64(L, idx, "files", UINT64_MAX, &files, why) ||
	    values_get_u64(L, idx, "ffree", UINT64_MAX, &ffree, why) ||
	    values_get_u64(L, idx, "namemax", UINT32_MAX, &namemax, why))
		return -1;
	memset(sv, 0, sizeof *sv);
	sv->f_bsize = bsize;
	sv->f_frsize = frsize ? frsize : bsize;
	sv->f_blocks = blocks;
	sv->f_bfree = bfree;
	sv->f_bavail = bavail == UINT64_MAX ? bfree : bavail;
	sv->f_files = files;
	sv->f_ffree = ffree;
	sv->f_favail = ffree;
	sv->f_namemax = namemax;
	return 0;
}
