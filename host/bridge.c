#define _GNU_SOURCE
#include <errno.h>
#include <lauxlib.h>
#include <libgen.h>
#include <limits.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lua5.1/luv/luv.h> /* Debian's luv for Lua 5.1, which LuaJIT is */

#include "bridge_private.h"
#include "lock.h"
#include "log.h"
#include "values.h"

#ifndef MOONFS_LUA_DIR
#define MOONFS_LUA_DIR "/usr/local/share/moonfs/lua"
#endif

/* Each worker thread opens the script in a Lua state of its own
 * (workers.c): all of this is per thread. */
__thread lua_State *bridge_L;
static __thread struct bridge_settings settings;
static __thread int handler_ref[OP_COUNT];
/* The keys of the script's table that are settings, not handlers. */
struct script_keys {
	double timeout;          /* -1: none */
	int checks_permissions;
	int posix_acl;
	int applies_umask;
	int workers;             /* 0: not declared; -1: "cpus" */
};
static __thread struct script_keys keys = { -1, 0, 0, 0, 0 };
static __thread char *script_path;
static __thread char *start_dir;
static __thread int options_ref = LUA_NOREF;

int bridge_has(enum op op)
{
	return handler_ref[op] != LUA_NOREF;
}

int bridge_handler_ref(enum op op)
{
	return handler_ref[op];
}

double bridge_script_timeout(void)
{
	return keys.timeout;
}

int bridge_script_checks_permissions(void)
{
	return keys.checks_permissions && bridge_has(OP_access);
}

int bridge_script_posix_acl(void)
{
	return keys.posix_acl;
}

int bridge_script_applies_umask(void)
{
	return keys.applies_umask || keys.posix_acl;
}

int bridge_script_workers(void)
{
	return keys.workers;
}

/* Absolute directory of this executable, for finding lua/ in the tree. */
static int exe_dir(char *buf, size_t size)
{
	ssize_t n = readlink("/proc/self/exe", buf, size - 1);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	char *slash = strrchr(buf, '/');
	if (!slash)
		return -1;
	*slash = '\0';
	return 0;
}

/* Sets package[field] to `head` followed by the absolute entries of its
 * current value (never "./?.lua": no surprises from the working directory). */
static void set_search_path(const char *field, const char *head)
{
	lua_State *L = bridge_L;
	lua_getglobal(L, "package");
	lua_getfield(L, -1, field);
	const char *old = lua_tostring(L, -1);
	size_t cap = strlen(head) + (old ? strlen(old) : 0) + 2;
	char *value = malloc(cap);
	if (!value)
		abort();
	strcpy(value, head);
	size_t len = strlen(value);
	for (const char *p = old ? old : ""; *p;) {
		const char *end = strchr(p, ';');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		if (n > 0 && p[0] == '/') {
			memcpy(value + len, p, n);
			len += n;
			value[len++] = ';';
		}
		p += n + (end ? 1 : 0);
	}
	value[len] = '\0';
	lua_pop(L, 1);
	lua_pushstring(L, value);
	lua_setfield(L, -2, field);
	lua_pop(L, 1);
	free(value);
}

/* package.path: moonfs's own library (from the source tree when run from
 * there, else where `make install` put it), the script's directory, then
 * the system's entries, never relative ones. */
static void set_package_path(const char *script)
{
	/* In the source tree lua/ sits beside the binary; installed, it is in
	 * ../share/moonfs/lua (wherever PREFIX was), else where the build said. */
	char dir[PATH_MAX], lua_dir[PATH_MAX + 32], probe[PATH_MAX + 64];
	snprintf(lua_dir, sizeof lua_dir, "%s", MOONFS_LUA_DIR);
	if (exe_dir(dir, sizeof dir) == 0) {
		static const char *const beside[] = { "lua", "../share/moonfs/lua" };
		for (size_t i = 0; i < sizeof beside / sizeof beside[0]; i++) {
			snprintf(probe, sizeof probe, "%s/%s/moonfs/init.lua", dir, beside[i]);
			if (access(probe, R_OK) == 0) {
				snprintf(lua_dir, sizeof lua_dir, "%s/%s", dir, beside[i]);
				break;
			}
		}
	}
	char script_dir[PATH_MAX];
	char *real = realpath(script, NULL);
	snprintf(script_dir, sizeof script_dir, "%s", real ? real : script);
	free(real);
	char *sd = dirname(script_dir);

	char head[3 * PATH_MAX + 64];
	snprintf(head, sizeof head, "%s/?.lua;%s/?/init.lua;%s/?.lua;", lua_dir, lua_dir, sd);
	set_search_path("path", head);
	set_search_path("cpath", "");
}

static void preload(const char *name, lua_CFunction open)
{
	lua_State *L = bridge_L;
	lua_getglobal(L, "package");
	lua_getfield(L, -1, "preload");
	lua_pushcfunction(L, open);
	lua_setfield(L, -2, name);
	lua_pop(L, 2);
}

/* Small edit distance, for "did you mean" on misspelt handler names. */
static int distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 30 || lb > 30)
		return 99;
	int row[32];
	for (size_t j = 0; j <= lb; j++)
		row[j] = (int)j;
	for (size_t i = 1; i <= la; i++) {
		int diag = row[0];
		row[0] = (int)i;
		for (size_t j = 1; j <= lb; j++) {
			int up = row[j];
			int cost = a[i - 1] == b[j - 1] ? 0 : 1;
			int best = diag + cost;
			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

static const char *closest_handler(const char *name)
{
	const char *best = NULL;
	int best_d = 3;
	for (int op = 0; op < OP_COUNT; op++) {
		if (!op_is_handler[op])
			continue;
		int d = distance(name, op_names[op]);
		if (d < best_d) {
			best_d = d;
			best = op_names[op];
		}
	}
	return best;
}

/* Reads the handler table at the top of the stack into new_refs. Returns
 * the number of warnings, or -1 when the table cannot be used. */
static int read_handlers(int new_refs[OP_COUNT], struct script_keys *found)
{
	lua_State *L = bridge_L;
	int warnings = 0, errors = 0;
	for (int op = 0; op < OP_COUNT; op++)
		new_refs[op] = LUA_NOREF;
	found->timeout = -1;
	found->checks_permissions = found->posix_acl = found->applies_umask = found->workers = 0;
	struct { const char *name; int *value; } flags[] = {
		{ "checks_permissions", &found->checks_permissions },
		{ "posix_acl", &found->posix_acl },
		{ "applies_umask", &found->applies_umask },
	};
	int table = lua_gettop(L);
	lua_pushnil(L);
	while (lua_next(L, table)) {
		if (lua_type(L, -2) != LUA_TSTRING) {
			log_msg("%s: the handler table has a key that is not a name (a %s)",
				script_path, luaL_typename(L, -2));
			warnings++;
			lua_pop(L, 1);
			continue;
		}
		const char *key = lua_tostring(L, -2);
		if (strcmp(key, "timeout") == 0) {
			lua_Number t = lua_tonumber(L, -1);
			if (lua_type(L, -1) != LUA_TNUMBER || !(t >= 0 && t <= 1e9)) {
				log_msg("%s: 'timeout' must be a number of seconds from 0 to 1e9, not %s",
					script_path, lua_type(L, -1) == LUA_TNUMBER ? lua_tostring(L, -1)
										  : luaL_typename(L, -1));
				errors++;
			} else {
				found->timeout = lua_tonumber(L, -1);
			}
			lua_pop(L, 1);
			continue;
		}
		if (strcmp(key, "workers") == 0) {
			lua_Number n = lua_tonumber(L, -1);
			if (lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), "cpus") == 0) {
				found->workers = -1;
			} else if (lua_type(L, -1) == LUA_TNUMBER && n >= 1 && n <= 64 &&
				   n == (int)n) {
				found->workers = (int)n;
			} else {
				log_msg("%s: 'workers' must be a whole number from 1 to 64 or \"cpus\"",
					script_path);
				errors++;
			}
			lua_pop(L, 1);
			continue;
		}
		int *flag = NULL;
		for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
			if (strcmp(key, flags[i].name) == 0)
				flag = flags[i].value;
		if (flag) {
			*flag = lua_toboolean(L, -1);
			lua_pop(L, 1);
			continue;
		}
		int found = -1;
		for (int op = 0; op < OP_COUNT; op++)
			if (op_is_handler[op] && strcmp(op_names[op], key) == 0)
				found = op;
		if (found < 0) {
			const char *guess = closest_handler(key);
			if (guess)
				log_msg("%s: unknown handler '%s' (did you mean '%s'?)",
					script_path, key, guess);
			else
				log_msg("%s: unknown handler '%s'", script_path, key);
			warnings++;
			lua_pop(L, 1);
		} else if (!lua_isfunction(L, -1)) {
			log_msg("%s: handler '%s' is a %s, not a function", script_path,
				key, luaL_typename(L, -1));
			errors++;
			lua_pop(L, 1);
		} else {
			new_refs[found] = luaL_ref(L, LUA_REGISTRYINDEX);
		}
	}
	if (errors) {
		for (int op = 0; op < OP_COUNT; op++)
			luaL_unref(L, LUA_REGISTRYINDEX, new_refs[op]);
		return -1;
	}
	return warnings;
}

/* The script's own functions run in LuaJIT's interpreter unless -o jit:
 * compiled code never looks at hooks, so a loop compiled by the JIT could
 * not be stopped (-o handler_timeout). Libraries it requires keep the JIT. */
static void interpret_only(lua_State *L)
{
	lua_getglobal(L, "jit");
	lua_getfield(L, -1, "off");
	lua_pushvalue(L, -3);
	lua_pushboolean(L, 1);
	if (lua_pcall(L, 2, 0, 0) != 0) /* a host without the jit library: nothing to do */
		lua_pop(L, 1);
	lua_pop(L, 1);
}

/* Loads and runs the script; leaves its handler table on the stack. */
static int run_script(void)
{
	lua_State *L = bridge_L;
	if (luaL_loadfile(L, script_path) != 0) {
		log_msg("%s", lua_tostring(L, -1));
		lua_pop(L, 1);
		return -1;
	}
	if (!settings.jit)
		interpret_only(L);
	lua_rawgeti(L, LUA_REGISTRYINDEX, options_ref);
	int rc = gateway_pcall(L, 1, 1);
	if (rc != 0) {
		log_msg("%s", lua_tostring(L, -1));
		lua_pop(L, 1);
		return -1;
	}
	if (!lua_istable(L, -1)) {
		log_msg("%s must return a table of handlers, e.g. `return { getattr = ... }`; it returned %s",
			script_path, luaL_typename(L, -1));
		lua_pop(L, 1);
		return -1;
	}
	return 0;
}

const char *bridge_start_dir(void)
{
	return start_dir ? start_dir : "/";
}

/* Lua's memory, counted against -o memory: past the limit an allocation
 * fails and the handler gets Lua's "not enough memory" error. */
static __thread size_t lua_bytes;

static void *allocate(void *ud, void *ptr, size_t old, size_t size)
{
	(void)ud;
	if (!ptr)
		old = 0;
	if (size == 0) {
		free(ptr);
		lua_bytes -= old;
		return NULL;
	}
	if (settings.memory_limit && bridge_lua_runs > 0 && size > old &&
	    lua_bytes - old + size > settings.memory_limit)
		return NULL;
	void *grown = realloc(ptr, size);
	if (grown)
		lua_bytes = lua_bytes - old + size;
	return grown;
}

/* An error with no protection around it: a host bug. Say so before the
 * host stops (LuaJIT aborts after this). */
static int panic(lua_State *L)
{
	log_msg("Lua failed outside any handler (a host bug): %s", lua_tostring(L, -1));
	return 0;
}

/* require "luv": luv on the host's loop, opened on the main state (its
 * callbacks run there), with the loop's own controls refused. */
static int refuse_loop_control(lua_State *L)
{
	return luaL_error(L, "the host runs the event loop; a script never runs or stops it");
}

static int open_luv(lua_State *L)
{
	lua_State *main = bridge_L;
	luv_set_loop(main, settings.loop);
	luv_set_callback(main, gateway_luv_pcall);
	luaopen_luv(main);
	static const char *const refused[] = { "run", "stop", "loop_close", "loop_configure" };
	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
		lua_pushcfunction(main, refuse_loop_control);
		lua_setfield(main, -2, refused[i]);
	}
	if (L != main)
		lua_xmove(main, L, 1);
	return 1;
}

int bridge_open(const char *script, const char *dir, const struct bridge_settings *given)
{
	settings = *given;
	const struct script_options *opts = settings.options;
	script_path = strdup(script);
	start_dir = strdup(dir);
	lua_bytes = 0;
	lua_State *L = bridge_L = lua_newstate(allocate, NULL);
	if (!L || !script_path || !start_dir) {
		log_msg("out of memory");
		return -1;
	}
	lua_atpanic(L, panic);
	luaL_openlibs(L);
	gateway_init(L);
	for (int op = 0; op < OP_COUNT; op++)
		handler_ref[op] = LUA_NOREF;
	values_init(L, getuid(), getgid());
	set_package_path(script);
	preload("moonfs.core", luaopen_moonfs_core);
	preload("moonfs.sys", luaopen_moonfs_sys);
	if (settings.loop)
		preload("luv", open_luv);

	lua_createtable(L, 0, opts->count);
	for (int i = 0; i < opts->count; i++) {
		if (opts->values[i])
			lua_pushstring(L, opts->values[i]);
		else
			lua_pushboolean(L, 1);
		lua_setfield(L, -2, opts->keys[i]);
	}
	options_ref = luaL_ref(L, LUA_REGISTRYINDEX);

	if (run_script() != 0)
		return -1;
	int warnings = read_handlers(handler_ref, &keys);
	lua_pop(L, 1);
	return warnings;
}

void bridge_push_options(lua_State *L)
{
	lua_rawgeti(L, LUA_REGISTRYINDEX, options_ref);
}

int bridge_reload(void)
{
	lua_State *L = bridge_L;
	if (run_script() != 0) {
		log_msg("reload of %s failed; the old handlers keep serving", script_path);
		return -1;
	}
	int new_refs[OP_COUNT];
	struct script_keys reloaded; /* mount settings: only a new mount takes them */
	int warnings = read_handlers(new_refs, &reloaded);
	lua_pop(L, 1);
	if (warnings < 0) {
		log_msg("reload of %s failed; the old handlers keep serving", script_path);
		return -1;
	}
	for (int op = 0; op < OP_COUNT; op++) {
		luaL_unref(L, LUA_REGISTRYINDEX, handler_ref[op]);
		handler_ref[op] = new_refs[op];
	}
	if (lock_worker() == 0) /* one line per reload, however many workers */
		log_msg("reloaded %s", script_path);
	return 0;
}

void bridge_close(void)
{
	values_forget();
	if (bridge_L)
		lua_close(bridge_L);
	bridge_L = NULL;
	free(script_path);
	script_path = NULL;
	free(start_dir);
	start_dir = NULL;
}

