/* A stat as a Lua value: moonfs.sys.stat returns one, scripts read and
 * change its fields as they would a stat table's (st.size, st.perm = ...),
 * and the host takes it back without a field-by-field round trip. */
#ifndef MOONFS_STAT_VALUE_H
#define MOONFS_STAT_VALUE_H

#include <lua.h>
#include <sys/stat.h>

#include <stdint.h>

/* Pushes a stat value; `generation` tells this object from an earlier one
 * that had the same inode number (0: unknown). */
void stat_value_push(lua_State *L, const struct stat *st, uint32_t generation);

/* The stat inside the value at idx, or NULL when it is not one. */
struct stat *stat_value_get(lua_State *L, int idx);

/* The generation of a stat that stat_value_get returned. */
uint32_t stat_value_generation(const struct stat *st);

/* Before the Lua state of this thread closes. */
void stat_value_forget(void);

#endif
