/* moonfs.core: the raw primitives the Lua library (lua/moonfs) builds its
 * friendly API on. Private: scripts use require "moonfs". */
#define _GNU_SOURCE
#include <lauxlib.h>
#include <lua.h>
#include <sys/types.h>

#include "bridge.h"
#include "log.h"
#include "ops.h"
#include "stats.h"
#include "values.h"


/* uid, gid, pid, umask of the request being served; nil between requests. */
static int core_caller(lua_State *L)
{
	if (!ops_current_req)
		return 0;
	const struct fuse_ctx *ctx = fuse_req_ctx(ops_current_req);
	lua_pushinteger(L, ctx->uid);
	lua_pushinteger(L, ctx->gid);
	lua_pushinteger(L, ctx->pid);
	lua_pushinteger(L, ctx->umask);
	return 4;
}

/* The caller's supplementary groups, read by libfuse from /proc. */
static int core_groups(lua_State *L)
{
	if (!ops_current_req)
		return 0;
	gid_t groups[256];
	int n = fuse_req_getgroups(ops_current_req, 256, groups);
	if (n < 0) {
		lua_pushnil(L);
		lua_pushstring(L, values_errno_name(-n));
		return 2;
	}
	if (n > 256)
		n = 256;
	lua_createtable(L, n, 0);
	for (int i = 0; i < n; i++) {
		lua_pushinteger(L, groups[i]);
		lua_rawseti(L, -2, i + 1);
	}
	return 1;
}

static int core_stats(lua_State *L)
{
	stats_push(L);
	return 1;
}

static int core_log(lua_State *L)
{
	log_msg("%s", luaL_checkstring(L, 1));
	return 0;
}

int luaopen_moonfs_core(lua_State *L)
{
	static const luaL_Reg functions[] = {
		{ "caller", core_caller },
		{ "groups", core_groups },
		{ "stats", core_stats },
		{ "log", core_log },
		{ NULL, NULL },
	};
	lua_newtable(L);
	luaL_register(L, NULL, functions);
	values_push_errno_table(L);
	lua_setfield(L, -2, "errno");
	bridge_push_options(L);
	lua_setfield(L, -2, "options");
	lua_pushstring(L, MOONFS_VERSION);
	lua_setfield(L, -2, "version");
	lua_pushstring(L, bridge_start_dir());
	lua_setfield(L, -2, "cwd");
	return 1;
}
