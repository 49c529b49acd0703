/* Typed readers of what a handler returned. Each checks the value and,
 * when it is wrong, says so once in the log (handler, path, problem). */
#define _GNU_SOURCE
#include <errno.h>
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>

#include "bridge_private.h"
#include "log.h"
#include "stat_value.h"
#include "values.h"

#define NAME_MAX_BYTES 255

/* The stack index of result i on c->thread, or 0 when the handler
 * returned fewer. */
static int result_at(const struct bridge_call *c, int i)
{
	return i >= 1 && i <= c->nresults ? c->base + i : 0;
}

enum bridge_kind bridge_result_kind(const struct bridge_call *c, int i)
{
	int at = result_at(c, i);
	if (!at || lua_isnil(c->thread, at))
		return BRIDGE_NONE;
	if (stat_value_get(c->thread, at))
		return BRIDGE_STAT;
	return lua_type(c->thread, at) == LUA_TTABLE ? BRIDGE_TABLE : BRIDGE_OTHER;
}

int bridge_result_stat(const struct bridge_call *c, int i, struct stat *st, uint32_t *generation)
{
	int at = result_at(c, i);
	if (!at)
		return bridge_bad_result(c, "returned nothing; return a stat table, or nil, \"ENOENT\"");
	const char *why;
	uint32_t unused;
	if (values_to_stat(c->thread, at, st, generation ? generation : &unused, &why) != 0)
		return bridge_bad_result(c, why);
	return 0;
}

int bridge_result_statvfs(const struct bridge_call *c, int i, struct statvfs *sv)
{
	int at = result_at(c, i);
	if (!at || lua_type(c->thread, at) != LUA_TTABLE)
		return bridge_bad_result(c, "must return a table such as {blocks = ...}");
	const char *why;
	if (values_to_statvfs(c->thread, at, sv, &why) != 0)
		return bridge_bad_result(c, why);
	return 0;
}

int bridge_result_bytes(const struct bridge_call *c, int i, const char **data, size_t *len,
			const char *need)
{
	int at = result_at(c, i);
	if (!at || lua_type(c->thread, at) != LUA_TSTRING)
		return bridge_bad_result(c, need);
	*data = lua_tolstring(c->thread, at, len);
	return 0;
}

int bridge_result_count(const struct bridge_call *c, int i, uint64_t max, uint64_t *out,
			const char *need)
{
	int at = result_at(c, i);
	if (!at || values_to_u64(c->thread, at, max, out) != 0)
		return bridge_bad_result(c, need);
	return 0;
}

bridge_ref bridge_result_keep(const struct bridge_call *c, int i)
{
	int at = result_at(c, i);
	if (!at || lua_isnil(c->thread, at))
		return BRIDGE_NOREF;
	lua_pushvalue(c->thread, at);
	return luaL_ref(c->thread, LUA_REGISTRYINDEX);
}

void bridge_unref(bridge_ref ref)
{
	if (ref != BRIDGE_NOREF && !BRIDGE_IS_FD_HANDLE(ref) && bridge_L)
		luaL_unref(bridge_L, LUA_REGISTRYINDEX, ref);
}

/* ---- open, create, opendir ---- */

/* {direct_io = true, keep_cache = true, nonseekable = true} */
static int read_open_options(const struct bridge_call *c, int at, struct open_result *out)
{
	lua_State *L = c->thread;
	if (lua_type(L, at) != LUA_TTABLE)
		return bridge_bad_result(c, "returned options that are not a table such as "
					    "{direct_io = true}");
	lua_getfield(L, at, "direct_io");
	lua_getfield(L, at, "keep_cache");
	lua_getfield(L, at, "nonseekable");
	out->direct_io = lua_toboolean(L, -3);
	out->keep_cache = lua_toboolean(L, -2);
	out->nonseekable = lua_toboolean(L, -1);
	lua_pop(L, 3);
	return 0;
}

/* A table that carries open options, given where create's stat belongs. */
static int looks_like_options(lua_State *L, int at)
{
	if (lua_type(L, at) != LUA_TTABLE)
		return 0;
	static const char *const keys[] = { "direct_io", "keep_cache", "nonseekable" };
	for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
		lua_getfield(L, at, keys[k]);
		int present = !lua_isnil(L, -1);
		lua_pop(L, 1);
		if (present)
			return 1;
	}
	return 0;
}

int bridge_result_open(const struct bridge_call *c, struct open_result *out)
{
	lua_State *L = c->thread;
	memset(out, 0, sizeof *out);
	out->handle = BRIDGE_NOREF;
	out->fd = -1;
	int value = result_at(c, 1);
	if (value && !lua_isnil(L, value)) {
		int fd = values_handed_fd(L, value);
		if (fd >= 0) { /* the script's handlers see the fd as a plain number */
			out->fd = fd;
			out->handle = BRIDGE_FD_HANDLE(fd);
		} else {
			lua_pushvalue(L, value);
			out->handle = luaL_ref(L, LUA_REGISTRYINDEX);
		}
	}
	int creating = c->op == OP_create || c->op == OP_tmpfile;
	int stat_at = creating ? result_at(c, 2) : 0;
	int options_at = result_at(c, creating ? 3 : 2);
	if (stat_at && !lua_isnil(L, stat_at)) {
		if (looks_like_options(L, stat_at))
			return bridge_bad_result(c, "returned options where the new file's stat belongs: "
						    "create returns handle, stat, options");
		if (bridge_result_stat(c, 2, &out->st, &out->generation) != 0)
			return -EIO;
		out->has_stat = 1;
	}
	if (options_at && !lua_isnil(L, options_at))
		return read_open_options(c, options_at, out);
	return 0;
}

/* ---- names ---- */

/* Why `name` (len bytes) cannot be a directory entry or attribute name,
 * or NULL when it can. */
static const char *bad_name(const char *name, size_t len, int entry)
{
	if (!name)
		return "not a string";
	if (len == 0)
		return "empty";
	if (memchr(name, '\0', len))
		return "contains a NUL byte";
	if (entry && memchr(name, '/', len))
		return "contains '/'";
	if (entry && len > NAME_MAX_BYTES)
		return "longer than 255 bytes";
	return NULL;
}

/* Appends len bytes and a NUL to a growing buffer. -1 when out of memory. */
static int append(char **buf, size_t *used, size_t *cap, const char *s, size_t len)
{
	if (*used + len + 1 > *cap) {
		size_t cap2 = *cap ? *cap : 256;
		while (*used + len + 1 > cap2)
			cap2 *= 2;
		char *grown = realloc(*buf, cap2);
		if (!grown)
			return -1;
		*buf = grown;
		*cap = cap2;
	}
	memcpy(*buf + *used, s, len);
	(*buf)[*used + len] = '\0';
	*used += len + 1;
	return 0;
}

void bridge_listing_free(struct listing *l)
{
	if (l->stats_from_dir)
		close(l->stat_dirfd);
	free(l->entries);
	free(l->names);
	free(l->attrs);
	memset(l, 0, sizeof *l);
}

/* The type and inode number of entry i from the optional parallel arrays.
 * Returns why they are unusable, or NULL. */
static const char *entry_details(lua_State *L, int types, int inos, int i,
				 struct listing_entry *e)
{
	e->type = 0;
	e->ino = 0;
	if (types) {
		lua_rawgeti(L, types, i);
		if (lua_type(L, -1) == LUA_TSTRING)
			e->type = (uint16_t)(values_type_bits(lua_tostring(L, -1)) >> 12);
		lua_pop(L, 1);
	}
	if (inos) {
		lua_rawgeti(L, inos, i);
		int none = lua_isnil(L, -1) || (lua_isboolean(L, -1) && !lua_toboolean(L, -1));
		int bad = !none && values_to_u64(L, -1, UINT64_MAX, &e->ino) != 0;
		lua_pop(L, 1);
		if (bad)
			return "its inode number is not a whole number from 0 to 2^64-1";
	}
	return NULL;
}

/* The stat of entry i from the optional fourth array, for READDIRPLUS;
 * none (st_mode 0) when it is missing or wrong (logged). */
static void entry_stat(const struct bridge_call *c, int stats, int i, struct listing_entry *e,
		       struct listing_attr *a)
{
	lua_State *L = c->thread;
	const char *why = NULL;
	lua_rawgeti(L, stats, i);
	if (lua_toboolean(L, -1) && values_to_stat(L, -1, &a->st, &a->generation, &why) != 0) {
		log_limited("readdir-stat", "handler 'readdir' (%s) returned an unusable stat at "
			    "index %d (%s); looking that name up instead", c->path ? c->path : "", i,
			    why);
		a->st.st_mode = 0;
	}
	lua_pop(L, 1);
	if (a->st.st_mode) { /* the stat knows best */
		e->type = (uint16_t)((a->st.st_mode & S_IFMT) >> 12);
		e->ino = a->st.st_ino;
	}
}

int bridge_result_listing(const struct bridge_call *c, struct listing *out)
{
	lua_State *L = c->thread;
	memset(out, 0, sizeof *out);
	int names = result_at(c, 1), types = result_at(c, 2), inos = result_at(c, 3),
	    stats = result_at(c, 4);
	if (!names || lua_type(L, names) != LUA_TTABLE)
		return bridge_bad_result(c, "must return an array of names (and optionally arrays of "
					    "types and inode numbers)");
	if ((types && !lua_isnil(L, types) && lua_type(L, types) != LUA_TTABLE) ||
	    (inos && !lua_isnil(L, inos) && lua_type(L, inos) != LUA_TTABLE))
		return bridge_bad_result(c, "returned types or inode numbers that are not arrays");
	int stat_dirfd = stats ? values_take_stat_dir(L, stats) : -1;
	if (stat_dirfd >= 0) {
		out->stats_from_dir = 1;
		out->stat_dirfd = stat_dirfd;
	}
	if (stat_dirfd != -1)
		stats = 0;
	if (stats && !lua_isnil(L, stats) && lua_type(L, stats) != LUA_TTABLE) {
		bridge_listing_free(out);
		return bridge_bad_result(c, "returned stats that are neither an array nor the stat "
					    "directory sys.readdir gives");
	}
	types = types && lua_istable(L, types) ? types : 0;
	inos = inos && lua_istable(L, inos) ? inos : 0;
	stats = stats && lua_istable(L, stats) ? stats : 0;
	size_t count = lua_objlen(L, names), used = 0, cap = 0;
	out->entries = malloc((count ? count : 1) * sizeof *out->entries);
	if (stats)
		out->attrs = calloc(count ? count : 1, sizeof *out->attrs);
	if (!out->entries || (stats && !out->attrs)) {
		bridge_listing_free(out);
		return -ENOMEM;
	}
	for (size_t i = 1; i <= count; i++) {
		lua_rawgeti(L, names, (int)i);
		size_t len = 0;
		const char *name = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
		struct listing_entry *e = &out->entries[out->count];
		const char *why = lua_type(L, -1) == LUA_TTABLE
			? "a table: readdir returns names, with types and inode numbers as second and "
			  "third arrays (moonfs.entries converts {name = ...} tables)"
			: bad_name(name, len, 1);
		if (!why)
			why = entry_details(L, types, inos, (int)i, e);
		if (why) {
			log_limited("readdir-name", "handler 'readdir' (%s) returned an unusable "
				    "entry at index %zu (%s); skipping it", c->path ? c->path : "", i, why);
		} else if (!(name[0] == '.' && (len == 1 || (len == 2 && name[1] == '.')))) {
			if (stats)
				entry_stat(c, stats, (int)i, e, &out->attrs[out->count]);
			e->name_at = (uint32_t)used;
			e->name_len = (uint16_t)len;
			if (append(&out->names, &used, &cap, name, len) != 0) {
				lua_pop(L, 1);
				bridge_listing_free(out);
				return -ENOMEM;
			}
			out->count++;
		}
		lua_pop(L, 1);
	}
	return 0;
}

int bridge_result_names(const struct bridge_call *c, int i, char **list, size_t *len)
{
	lua_State *L = c->thread;
	int at = result_at(c, i);
	*list = NULL;
	*len = 0;
	if (!at || lua_type(L, at) != LUA_TTABLE)
		return bridge_bad_result(c, "must return an array of names");
	size_t count = lua_objlen(L, at), cap = 0;
	for (size_t k = 1; k <= count; k++) {
		lua_rawgeti(L, at, (int)k);
		size_t n = 0;
		const char *name = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &n) : NULL;
		const char *why = bad_name(name, n, 0);
		int failed = 0;
		if (why)
			log_limited("listxattr-name", "handler 'listxattr' (%s) returned an unusable "
				    "name at index %zu (%s); skipping it", c->path ? c->path : "", k, why);
		else
			failed = append(list, len, &cap, name, n) != 0;
		lua_pop(L, 1);
		if (failed) {
			free(*list);
			*list = NULL;
			return -ENOMEM;
		}
	}
	return 0;
}

int bridge_result_lock(const struct bridge_call *c, int i, struct flock *lock)
{
	lua_State *L = c->thread;
	int at = result_at(c, i);
	memset(lock, 0, sizeof *lock);
	lock->l_whence = SEEK_SET;
	lock->l_type = F_UNLCK;
	if (!at || lua_isnil(L, at))
		return 0;
	const char *need = "must return nil (no lock in the way) or a lock table {type = \"read\" "
			   "or \"write\", start = , end = , pid = }";
	if (lua_type(L, at) != LUA_TTABLE)
		return bridge_bad_result(c, need);
	lua_getfield(L, at, "type");
	const char *type = lua_tostring(L, -1);
	lock->l_type = !type ? -1 : strcmp(type, "read") == 0 ? F_RDLCK
		     : strcmp(type, "write") == 0 ? F_WRLCK : strcmp(type, "unlock") == 0 ? F_UNLCK : -1;
	lua_pop(L, 1);
	uint64_t start = 0, end = UINT64_MAX, pid = 0;
	const char *why = NULL;
	if (lock->l_type == -1 || values_get_u64(L, at, "start", INT64_MAX, &start, &why) ||
	    values_get_u64(L, at, "end", INT64_MAX, &end, &why) ||
	    values_get_u64(L, at, "pid", INT32_MAX, &pid, &why) || (end != UINT64_MAX && end < start))
		return bridge_bad_result(c, why ? why : need);
	lock->l_start = (off_t)start;
	lock->l_len = end == UINT64_MAX ? 0 : (off_t)(end - start + 1);
	lock->l_pid = (pid_t)pid;
	return 0;
}
