/* Shared by moonfs.sys's files: sys.c (opening, attributes, names,
 * directories) and sys_data.c (file data, statvfs, extended attributes). */
#ifndef MOONFS_SYS_PRIVATE_H
#define MOONFS_SYS_PRIVATE_H

#include <lauxlib.h>
#include <lua.h>
#include <stdint.h>
#include <sys/types.h>

/* nil, "ENAME: message", errno; and true or that for a status. */
int sys_push_error(lua_State *L, int err);
int sys_push_status(lua_State *L, int rc);

/* Arguments, raising on wrong ones: an fd, an offset. */
int sys_check_fd(lua_State *L, int idx);
off_t sys_check_off(lua_State *L, int idx);
/* A whole number from min to max; check_int: dflt when absent. */
int sys_need_int(lua_State *L, int idx, int64_t min, int64_t max);
int sys_check_int(lua_State *L, int idx, int64_t min, int64_t max, int64_t dflt);

/* A path that names an object through its fd, for the calls with no fd
 * or *at() form (xattrs on any file type, truncate, chmod of a symlink's
 * target-free O_PATH fd). The kernel resolves the magic link to the object
 * itself, so a symlink is not followed. */
struct object {
	int fd, owned;
	char path[32];
};

/* The object named by the dirfd and path at idx, idx + 1, beneath the
 * dirfd; -1 with errno. */
int sys_open_object(lua_State *L, int idx, struct object *o);
void sys_close_object(struct object *o);

/* sys_data.c's functions, for luaopen_moonfs_sys. */
extern const luaL_Reg sys_data_functions[];

#endif
