/* The few Lua 5.2+ C API calls LuaJIT 2.1 lacks. */
#ifndef MOONFS_COMPAT_H
#define MOONFS_COMPAT_H

#include <lua.h>

static inline int compat_absindex(lua_State *L, int idx)
{
	return (idx > 0 || idx <= LUA_REGISTRYINDEX) ? idx : lua_gettop(L) + idx + 1;
}

#endif
