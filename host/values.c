#define _GNU_SOURCE
#include "values.h"

#include <errno.h>
#include <lauxlib.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uid_t default_uid;
static gid_t default_gid;
static struct timespec default_time;
static int errno_table_ref = LUA_NOREF;

/* Errno numbers on Linux stay below this. */
#define ERRNO_MAX 134

void values_init(lua_State *L, uid_t uid, gid_t gid)
{
	default_uid = uid;
	default_gid = gid;
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
		lua_Integer n = lua_tointeger(L, idx);
		if (n < 0)
			n = -n;
		if (n > 0 && n < 4096)
			return (int)n;
		*why = "error number out of range";
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

long values_to_perm(lua_State *L, int idx)
{
	if (lua_type(L, idx) == LUA_TNUMBER) {
		lua_Integer n = lua_tointeger(L, idx);
		return (n >= 0 && n <= 07777) ? (long)n : -1;
	}
	if (lua_type(L, idx) == LUA_TSTRING) {
		const char *s = lua_tostring(L, idx);
		char *end;
		long n = strtol(s, &end, 8);
		return (*s && *end == '\0' && n >= 0 && n <= 07777) ? n : -1;
	}
	return -1;
}

/* Error messages name the field; one static buffer is enough because the
 * host is single-threaded and the message is logged at once. */
static char why_buf[160];

static const char *bad_field(const char *field, const char *expected, lua_State *L, int idx)
{
	snprintf(why_buf, sizeof why_buf, "field '%s' is %s, expected %s", field,
		 luaL_typename(L, idx), expected);
	return why_buf;
}

int values_to_timespec(lua_State *L, int idx, struct timespec *ts, const char **why)
{
	switch (lua_type(L, idx)) {
	case LUA_TNIL:
		ts->tv_sec = 0;
		ts->tv_nsec = UTIME_OMIT;
		return 0;
	case LUA_TNUMBER: {
		lua_Number t = lua_tonumber(L, idx);
		ts->tv_sec = (time_t)t;
		ts->tv_nsec = (long)((t - (lua_Number)ts->tv_sec) * 1e9);
		if (ts->tv_nsec < 0) {
			ts->tv_sec -= 1;
			ts->tv_nsec += 1000000000L;
		}
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
		int ok = lua_type(L, -2) == LUA_TNUMBER &&
			 (lua_isnil(L, -1) || lua_type(L, -1) == LUA_TNUMBER);
		ts->tv_sec = (time_t)lua_tointeger(L, -2);
		ts->tv_nsec = (long)lua_tointeger(L, -1);
		lua_pop(L, 2);
		if (ok && ts->tv_nsec >= 0 && ts->tv_nsec < 1000000000L)
			return 0;
		break;
	}
	}
	*why = "a time must be seconds, {sec, nsec} or \"now\"";
	return -1;
}

void values_push_timespec(lua_State *L, const struct timespec *ts)
{
	lua_createtable(L, 0, 2);
	lua_pushinteger(L, ts->tv_sec);
	lua_setfield(L, -2, "sec");
	lua_pushinteger(L, ts->tv_nsec);
	lua_setfield(L, -2, "nsec");
}

/* Reads an optional non-negative integer field; leaves *out alone when the
 * field is absent. */
static int get_count(lua_State *L, int idx, const char *field, unsigned long long *out,
		     const char **why)
{
	lua_getfield(L, idx, field);
	int type = lua_type(L, -1);
	if (type == LUA_TNUMBER) {
		lua_Number n = lua_tonumber(L, -1);
		if (n < 0) {
			snprintf(why_buf, sizeof why_buf, "field '%s' is negative", field);
			*why = why_buf;
			lua_pop(L, 1);
			return -1;
		}
		*out = (unsigned long long)n;
	} else if (type != LUA_TNIL) {
		*why = bad_field(field, "a number", L, -1);
		lua_pop(L, 1);
		return -1;
	}
	lua_pop(L, 1);
	return 0;
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
		*why = bad_field(field, "seconds or {sec, nsec}", L, -1);
		lua_pop(L, 1);
		return -1;
	}
	lua_pop(L, 1);
	unsigned long long nsec = ULLONG_MAX;
	if (get_count(L, idx, nsec_field, &nsec, why) != 0)
		return -1;
	if (nsec != ULLONG_MAX && nsec < 1000000000ULL)
		ts->tv_nsec = (long)nsec;
	return 0;
}

int values_to_stat(lua_State *L, int idx, struct stat *st, const char **why)
{
	if (lua_type(L, idx) != LUA_TTABLE) {
		snprintf(why_buf, sizeof why_buf, "returned %s, expected a stat table",
			 luaL_typename(L, idx));
		*why = why_buf;
		return -1;
	}
	idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
	memset(st, 0, sizeof *st);

	mode_t mode = 0;
	int has_mode = 0;
	lua_getfield(L, idx, "mode");
	if (lua_type(L, -1) == LUA_TNUMBER) {
		mode = (mode_t)lua_tointeger(L, -1);
		has_mode = 1;
	} else if (!lua_isnil(L, -1)) {
		*why = bad_field("mode", "a number", L, -1);
		lua_pop(L, 1);
		return -1;
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
		mode = (mode & ~S_IFMT) | bits;
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
				       : bad_field("perm", "a number or an octal string such as \"644\"", L, -1);
			lua_pop(L, 1);
			return -1;
		}
		mode = (mode & S_IFMT) | (mode_t)perm;
	} else if (!has_mode) {
		/* neither perm nor mode: a default (mode 0 is a real mode) */
		mode |= S_ISDIR(mode) ? 0755 : S_ISLNK(mode) ? 0777 : 0644;
	}
	lua_pop(L, 1);
	st->st_mode = mode;

	unsigned long long size = 0, nlink = S_ISDIR(mode) ? 2 : 1, uid = default_uid,
			   gid = default_gid, ino = 0, blocks = ULLONG_MAX, rdev = 0;
	if (get_count(L, idx, "size", &size, why) || get_count(L, idx, "nlink", &nlink, why) ||
	    get_count(L, idx, "uid", &uid, why) || get_count(L, idx, "gid", &gid, why) ||
	    get_count(L, idx, "ino", &ino, why) || get_count(L, idx, "blocks", &blocks, why) ||
	    get_count(L, idx, "rdev", &rdev, why))
		return -1;
	st->st_size = (off_t)size;
	st->st_nlink = (nlink_t)nlink;
	st->st_uid = (uid_t)uid;
	st->st_gid = (gid_t)gid;
	st->st_ino = (ino_t)ino;
	st->st_blocks = blocks == ULLONG_MAX ? (blkcnt_t)((size + 511) / 512) : (blkcnt_t)blocks;
	st->st_rdev = (dev_t)rdev;
	st->st_blksize = 4096;

	st->st_atim = st->st_mtim = st->st_ctim = default_time;
	if (get_time(L, idx, "atime", "atime_nsec", &st->st_atim, why) ||
	    get_time(L, idx, "mtime", "mtime_nsec", &st->st_mtim, why) ||
	    get_time(L, idx, "ctime", "ctime_nsec", &st->st_ctim, why))
		return -1;
	return 0;
}

void values_push_stat(lua_State *L, const struct stat *st)
{
	lua_createtable(L, 0, 16);
	lua_pushstring(L, values_type_name(st->st_mode));
	lua_setfield(L, -2, "type");
	lua_pushinteger(L, st->st_mode);
	lua_setfield(L, -2, "mode");
	lua_pushnumber(L, (lua_Number)st->st_ino);
	lua_setfield(L, -2, "ino");
	lua_pushinteger(L, (lua_Integer)st->st_nlink);
	lua_setfield(L, -2, "nlink");
	lua_pushinteger(L, st->st_uid);
	lua_setfield(L, -2, "uid");
	lua_pushinteger(L, st->st_gid);
	lua_setfield(L, -2, "gid");
	lua_pushnumber(L, (lua_Number)st->st_size);
	lua_setfield(L, -2, "size");
	lua_pushnumber(L, (lua_Number)st->st_blocks);
	lua_setfield(L, -2, "blocks");
	lua_pushnumber(L, (lua_Number)st->st_rdev);
	lua_setfield(L, -2, "rdev");
	lua_pushinteger(L, st->st_atim.tv_sec);
	lua_setfield(L, -2, "atime");
	lua_pushinteger(L, st->st_atim.tv_nsec);
	lua_setfield(L, -2, "atime_nsec");
	lua_pushinteger(L, st->st_mtim.tv_sec);
	lua_setfield(L, -2, "mtime");
	lua_pushinteger(L, st->st_mtim.tv_nsec);
	lua_setfield(L, -2, "mtime_nsec");
	lua_pushinteger(L, st->st_ctim.tv_sec);
	lua_setfield(L, -2, "ctime");
	lua_pushinteger(L, st->st_ctim.tv_nsec);
	lua_setfield(L, -2, "ctime_nsec");
}
