/* Conversions between Lua values and the C shapes FUSE wants: stat tables,
 * errno names, times. Shared by the request handlers and moonfs.sys. */
#ifndef MOONFS_VALUES_H
#define MOONFS_VALUES_H

#include <lua.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

/* Builds the errno name table; sets the owner and time used for stat
 * fields a script leaves out. */
void values_init(lua_State *L, uid_t uid, gid_t gid);

/* Before the Lua state of this thread closes: what values_init and the
 * value types cached about it. */
void values_forget(void);

/* Pushes the table errno name -> number (and number -> name). */
void values_push_errno_table(lua_State *L);

/* "ENOENT" for 2; never NULL. */
const char *values_errno_name(int err);

/* Reads an error value (number, "ENOENT", "ENOENT: text"). Returns a
 * positive errno, or 0 when the value is not one (then *why says why). */
int values_to_errno(lua_State *L, int idx, const char **why);

/* Fills *st from the stat table (or moonfs stat value) at idx, and
 * *generation from its `generation` field (0 when it has none). Returns 0,
 * or -1 with *why set to a message naming the bad field. */
int values_to_stat(lua_State *L, int idx, struct stat *st, uint32_t *generation,
		   const char **why);

/* Fills *sv from the table a statfs handler returned (fields bsize,
 * frsize, blocks, bfree, bavail, files, ffree, namemax; all optional).
 * Returns 0, or -1 with *why naming the bad field. */
struct statvfs;
int values_to_statvfs(lua_State *L, int idx, struct statvfs *sv, const char **why);

/* moonfs.fd(fd): the one way a script hands an fd to the host. Pushes
 * the marker; values_handed_fd gives the fd of one, or -1 for any other
 * value. */
void values_push_handed_fd(lua_State *L, int fd);
int values_handed_fd(lua_State *L, int idx);

/* A stat directory: what sys.readdir(dirfd, path, true) returns in place
 * of an array of stats. It owns an fd of the listed directory; the host
 * takes it (values_take_stat_dir gives the fd; -2 for one already taken,
 * as by a script that returns a listing it kept: its names then go without
 * attributes; -1 for any other value) and stats only the names it hands
 * the kernel with attributes, when it hands them over, instead of every
 * name of every pass. A box never taken closes its fd when collected. */
void values_push_stat_dir(lua_State *L, int fd);
int values_take_stat_dir(lua_State *L, int idx);

/* A time value: nil (omit), "now", seconds, or {sec, nsec}. Returns 0 or
 * -1 with *why set. nil gives UTIME_OMIT, "now" UTIME_NOW. */
int values_to_timespec(lua_State *L, int idx, struct timespec *ts, const char **why);

/* Pushes {sec = ..., nsec = ...}. */
void values_push_timespec(lua_State *L, const struct timespec *ts);

/* S_IFREG for "file", ...; 0 for an unknown name. And back again. */
mode_t values_type_bits(const char *name);
const char *values_type_name(mode_t mode);

/* Parses a permission: number, or an octal string such as "755".
 * Returns -1 when it is neither. */
long values_to_perm(lua_State *L, int idx);

/* Numbers from scripts are checked, never wrapped: the value at idx must
 * be a whole number within the bounds (NaN, infinities and fractions are
 * refused). Return 0, or -1 leaving *out alone. */
int values_to_u64(lua_State *L, int idx, uint64_t max, uint64_t *out);
int values_to_i64(lua_State *L, int idx, int64_t min, int64_t max, int64_t *out);

/* Reads the optional field `field` of the table at idx with
 * values_to_u64; leaves *out alone when it is nil. Returns 0, or -1 with
 * *why naming the field and the value. */
int values_get_u64(lua_State *L, int idx, const char *field, uint64_t max, uint64_t *out,
		   const char **why);

#endif
