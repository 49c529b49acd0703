/* placeholder until moonfs.sys lands */
#include <lua.h>
int luaopen_moonfs_sys(lua_State *L)
{
	lua_newtable(L);
	return 1;
}
