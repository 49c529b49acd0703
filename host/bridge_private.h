/* Shared by the bridge's own files (bridge.c, gateway.c, results.c) and
 * the Lua modules it opens; the rest of the host includes bridge.h only. */
#ifndef MOONFS_BRIDGE_PRIVATE_H
#define MOONFS_BRIDGE_PRIVATE_H

#include <lua.h>

#include "bridge.h"

extern __thread lua_State *bridge_L; /* this worker's */

/* Above 0 while Lua code runs inside the gateway's protection: only then
 * does the -o memory limit refuse an allocation (outside, a refusal would
 * be an error with no handler to catch it). */
extern __thread int bridge_lua_runs;

/* The registry reference of the script's handler for op (LUA_NOREF). */
int bridge_handler_ref(enum op op);

/* The one protected call: the function and its nargs arguments are on top
 * of L's stack. Runs it with a traceback message handler and leaves
 * nresults results (LUA_MULTRET: all), or the error message with its
 * traceback. Returns lua_pcall's status. */
int gateway_pcall(lua_State *L, int nargs, int nresults);

/* Sets up what the gateway needs in a new state. */
void gateway_init(lua_State *L);

/* luv's callbacks go through the gateway too (luv_set_callback). */
int gateway_luv_pcall(lua_State *L, int nargs, int nresults, int flags);

/* Pushes a handler's arguments by the format of bridge_call. */
int bridge_push_args(lua_State *L, const char *fmt, va_list ap);

/* What moonfs.await yields, and what wakes it when its request was
 * interrupted. */
extern char bridge_await_token, bridge_cancel_token;

/* Resumes the waiting handler whose coroutine is at thread_at on L's stack
 * with the nargs values on top of L. Returns 0 when it no longer waits. */
int bridge_wake(lua_State *L, int thread_at, int nargs);

/* The coroutine of the handler running now, or NULL. */
lua_State *bridge_running_thread(void);

/* Pushes the options table (moonfs.options) and the host's library
 * modules (moonfs.core, moonfs.sys). */
void bridge_push_options(lua_State *L);
int luaopen_moonfs_core(lua_State *L);
int luaopen_moonfs_sys(lua_State *L);

#endif
