/* The one lua_State, the script's handlers, and the single gateway through
 * which every call into Lua passes (protected, with a traceback). */
#ifndef MOONFS_BRIDGE_H
#define MOONFS_BRIDGE_H

#include <lua.h>

#include "ops.h"

/* Script options from -o: parallel arrays of keys and values (value NULL
 * for a bare flag). */
struct script_options {
	int count;
	const char **keys;
	const char **values;
};

/* Creates the state, loads the script and reads its handler table.
 * `script` is an absolute path and `start_dir` the directory the host was
 * started in (moonfs.cwd): both stay right after the host leaves it.
 * Problems are printed to stderr; returns the number of warnings (>= 0), or
 * -1 when the script cannot be used. */
int bridge_open(const char *script, const char *start_dir, const struct script_options *opts);

/* The directory the host was started in. */
const char *bridge_start_dir(void);

/* Pushes the script's options table (moonfs.options). */
void bridge_push_options(lua_State *L);
void bridge_close(void);

/* Re-runs the script and swaps in its handlers; on failure the old ones
 * stay. Returns 0 or -1 (the error is logged). */
int bridge_reload(void);

lua_State *bridge_state(void);
int bridge_has(enum op op);

/* The script's `timeout` key, or -1 when it has none. */
double bridge_script_timeout(void);

/* The script checks permissions itself: `checks_permissions = true` and an
 * access handler. */
int bridge_script_checks_permissions(void);

/* Gateway. bridge_push_handler pushes what a call needs and returns the
 * stack base (-1 when the script has no such handler); the caller pushes
 * the arguments and calls bridge_call, which returns the number of results
 * (at bridge_result(base, 1..n); trailing nils dropped, so a handler that
 * returned only nils gives 0) or a negative errno: the one the handler
 * returned with `nil, err`, or -EIO when it raised (traceback logged).
 * bridge_pop(base) drops everything. */
int bridge_push_handler(enum op op);
int bridge_call(enum op op, int base, int nargs, const char *path);
static inline int bridge_result(int base, int i)
{
	return base + 1 + i;
}
void bridge_pop(int base);

/* Logs that `op` on `path` returned something unusable and returns -EIO. */
int bridge_bad_result(enum op op, const char *path, const char *why);

#endif
