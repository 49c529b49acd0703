#define _GNU_SOURCE
#include "stat_value.h"

#include <lauxlib.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "values.h"

#define METATABLE "moonfs.stat"

/* The userdata: the stat first, so that a pointer to one is a pointer to
 * the other. */
struct stat_value {
	struct stat st;
	uint32_t generation;
};

/* The metatable's identity and a registry reference to it: telling and
 * making stat values then costs no lookup by name. One Lua state per
 * thread; stat_value_forget before it closes. */
static __thread const void *identity;
static __thread int metatable_ref = LUA_NOREF;

void stat_value_forget(void)
{
	identity = NULL;
	metatable_ref = LUA_NOREF;
}

struct stat *stat_value_get(lua_State *L, int idx)
{
	struct stat *st = lua_touserdata(L, idx);
	if (!st || !identity || !lua_getmetatable(L, idx))
		return NULL;
	int ours = lua_topointer(L, -1) == identity;
	lua_pop(L, 1);
	return ours ? st : NULL;
}

uint32_t stat_value_generation(const struct stat *st)
{
	return ((const struct stat_value *)st)->generation;
}

static struct stat *check(lua_State *L)
{
	struct stat *st = stat_value_get(L, 1);
	if (!st)
		luaL_typerror(L, 1, METATABLE);
	return st;
}

static struct timespec *time_field(struct stat *st, char which)
{
	return which == 'a' ? &st->st_atim : which == 'm' ? &st->st_mtim : &st->st_ctim;
}

/* "atime" -> 'a', "mtime_nsec" -> 'm' with *nsec set; 0 when key is neither. */
static char time_key(const char *key, int *nsec)
{
	if ((key[0] != 'a' && key[0] != 'm' && key[0] != 'c') || strncmp(key + 1, "time", 4) != 0)
		return 0;
	*nsec = strcmp(key + 5, "_nsec") == 0;
	return (*nsec || key[5] == '\0') ? key[0] : 0;
}

static int get_field(lua_State *L)
{
	struct stat *st = check(L);
	const char *key = luaL_checkstring(L, 2);
	int nsec;
	char t = time_key(key, &nsec);
	if (t) {
		struct timespec *ts = time_field(st, t);
		lua_pushnumber(L, nsec ? (lua_Number)ts->tv_nsec : (lua_Number)ts->tv_sec);
	} else if (strcmp(key, "type") == 0) {
		lua_pushstring(L, values_type_name(st->st_mode));
	} else if (strcmp(key, "mode") == 0) {
		lua_pushinteger(L, st->st_mode);
	} else if (strcmp(key, "perm") == 0) {
		lua_pushinteger(L, st->st_mode & 07777);
	} else if (strcmp(key, "size") == 0) {
		lua_pushnumber(L, (lua_Number)st->st_size);
	} else if (strcmp(key, "ino") == 0) {
		lua_pushnumber(L, (lua_Number)st->st_ino);
	} else if (strcmp(key, "dev") == 0) {
		lua_pushnumber(L, (lua_Number)st->st_dev);
	} else if (strcmp(key, "nlink") == 0) {
		lua_pushnumber(L, (lua_Number)st->st_nlink);
	} else if (strcmp(key, "uid") == 0) {
		lua_pushnumber(L, st->st_uid);
	} else if (strcmp(key, "gid") == 0) {
		lua_pushnumber(L, st->st_gid);
	} else if (strcmp(key, "blocks") == 0) {
		lua_pushnumber(L, (lua_Number)st->st_blocks);
	} else if (strcmp(key, "rdev") == 0) {
		lua_pushnumber(L, (lua_Number)st->st_rdev);
	} else if (strcmp(key, "blksize") == 0) {
		lua_pushnumber(L, (lua_Number)st->st_blksize);
	} else if (strcmp(key, "generation") == 0) {
		lua_pushnumber(L, stat_value_generation(st));
	} else {
		lua_pushnil(L);
	}
	return 1;
}

/* The new value of a numeric field, checked like a stat table's. */
static uint64_t whole(lua_State *L, const char *key, uint64_t max)
{
	uint64_t v;
	if (values_to_u64(L, 3, max, &v) != 0)
		luaL_error(L, "stat field '%s' must be a whole number from 0 to %llu", key,
			   (unsigned long long)max);
	return v;
}

static int set_field(lua_State *L)
{
	struct stat *st = check(L);
	const char *key = luaL_checkstring(L, 2);
	int nsec;
	char t = time_key(key, &nsec);
	if (t && nsec) {
		time_field(st, t)->tv_nsec = (long)whole(L, key, 999999999);
	} else if (t) {
		const char *why;
		struct timespec ts;
		if (lua_type(L, 3) == LUA_TSTRING || values_to_timespec(L, 3, &ts, &why) != 0)
			return luaL_error(L, "stat field '%s' must be seconds or {sec, nsec}", key);
		*time_field(st, t) = ts;
	} else if (strcmp(key, "type") == 0) {
		mode_t bits = lua_type(L, 3) == LUA_TSTRING ? values_type_bits(lua_tostring(L, 3)) : 0;
		if (!bits)
			return luaL_error(L, "stat field 'type' must be file, dir, symlink, fifo, "
					     "socket, char or block");
		st->st_mode = (st->st_mode & ~S_IFMT) | bits;
	} else if (strcmp(key, "perm") == 0) {
		long perm = values_to_perm(L, 3);
		if (perm < 0)
			return luaL_error(L, "stat field 'perm' must be 0 to 07777 or an octal string");
		st->st_mode = (st->st_mode & S_IFMT) | (mode_t)perm;
	} else if (strcmp(key, "mode") == 0) {
		mode_t mode = (mode_t)whole(L, key, 0xFFFF);
		if (strcmp(values_type_name(mode), "unknown") == 0)
			return luaL_error(L, "stat field 'mode' has no file type");
		st->st_mode = mode;
	} else if (strcmp(key, "size") == 0) {
		st->st_size = (off_t)whole(L, key, INT64_MAX);
	} else if (strcmp(key, "ino") == 0) {
		st->st_ino = (ino_t)whole(L, key, UINT64_MAX);
	} else if (strcmp(key, "dev") == 0) {
		st->st_dev = (dev_t)whole(L, key, UINT64_MAX);
	} else if (strcmp(key, "nlink") == 0) {
		st->st_nlink = (nlink_t)whole(L, key, UINT32_MAX);
	} else if (strcmp(key, "uid") == 0) {
		st->st_uid = (uid_t)whole(L, key, UINT32_MAX - 1);
	} else if (strcmp(key, "gid") == 0) {
		st->st_gid = (gid_t)whole(L, key, UINT32_MAX - 1);
	} else if (strcmp(key, "blocks") == 0) {
		st->st_blocks = (blkcnt_t)whole(L, key, INT64_MAX);
	} else if (strcmp(key, "rdev") == 0) {
		st->st_rdev = (dev_t)whole(L, key, UINT32_MAX);
	} else if (strcmp(key, "generation") == 0) {
		((struct stat_value *)st)->generation = (uint32_t)whole(L, key, UINT32_MAX);
	} else {
		return luaL_error(L, "a stat has no field '%s'", key);
	}
	return 0;
}

static int to_string(lua_State *L)
{
	struct stat *st = check(L);
	lua_pushfstring(L, "stat: %s %s size %s ino %s", values_type_name(st->st_mode),
			lua_pushfstring(L, "%o", (int)(st->st_mode & 07777)),
			lua_pushfstring(L, "%f", (double)st->st_size),
			lua_pushfstring(L, "%f", (double)st->st_ino));
	return 1;
}

static void make_metatable(lua_State *L)
{
	luaL_newmetatable(L, METATABLE);
	lua_pushcfunction(L, get_field);
	lua_setfield(L, -2, "__index");
	lua_pushcfunction(L, set_field);
	lua_setfield(L, -2, "__newindex");
	lua_pushcfunction(L, to_string);
	lua_setfield(L, -2, "__tostring");
	lua_pushliteral(L, "moonfs.stat");
	lua_setfield(L, -2, "__metatable");
	identity = lua_topointer(L, -1);
	metatable_ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

void stat_value_push(lua_State *L, const struct stat *st, uint32_t generation)
{
	struct stat_value *copy = lua_newuserdata(L, sizeof *copy);
	copy->st = *st;
	copy->generation = generation;
	if (!identity)
		make_metatable(L);
	lua_rawgeti(L, LUA_REGISTRYINDEX, metatable_ref);
	lua_setmetatable(L, -2);
}
