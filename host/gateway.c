/* The gateway: every call into Lua passes here, protected, with a
 * traceback, counted and watched.
 *
 * Handlers run in coroutines. One that waits (moonfs.await, over luv)
 * yields a token; the host then goes on serving, and resumes it when what
 * it waits for arrives (bridge_wake). A handler that never waits runs to
 * its end in one resume, which costs about what a pcall does. Finished
 * coroutines are kept for the next call. */
#define _GNU_SOURCE
#include <errno.h>
#include <lauxlib.h>
#include <stdarg.h>
#include <string.h>

#include "bridge_private.h"
#include "lock.h"
#include "log.h"
#include "stats.h"
#include "trace.h"
#include "values.h"
#include "watchdog.h"

#define POOL 64

/* Each worker thread has a Lua state of its own (workers.c), so all of
 * this is per thread. */
static __thread int traceback_ref = LUA_NOREF;
static __thread int waiting_ref = LUA_NOREF; /* table: coroutine -> its call (light userdata) */
static __thread int pool[POOL];              /* references of finished coroutines */
static __thread int pooled;
static __thread struct bridge_call *running; /* the call whose handler runs now */
__thread int bridge_lua_runs;                /* > 0 while Lua code runs (protected) */
static __thread const struct bridge_caller *current_caller;

/* The values a waiting handler yields, and the one it is woken with when
 * its request is interrupted. Their addresses are unique light userdata. */
char bridge_await_token, bridge_cancel_token;

static int traceback(lua_State *L)
{
	const char *msg = lua_tostring(L, 1);
	if (!msg)
		msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
	luaL_traceback(L, L, msg, 1);
	return 1;
}

/* Raised into Lua that runs too long (see watchdog.c): the hook stays set
 * until the call ends, so a pcall in the script cannot swallow it. */
static void stop_hook(lua_State *L, lua_Debug *ar)
{
	if (!watchdog_stopping()) {
		lua_sethook(L, NULL, 0, 0);
		return;
	}
	/* where the loop is, for the message (luaL_where sees the hook) */
	if (lua_getinfo(L, "Sl", ar) && ar->currentline > 0)
		lua_pushfstring(L, "%s:%d: %s", ar->short_src, ar->currentline, watchdog_stop_reason());
	else
		lua_pushstring(L, watchdog_stop_reason());
	lua_error(L);
}

/* From the watchdog's signal, on the thread that runs Lua. */
static void interrupt_lua(void)
{
	if (bridge_L)
		lua_sethook(bridge_L, stop_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

void gateway_init(lua_State *L)
{
	lua_pushcfunction(L, traceback);
	traceback_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	lua_newtable(L);
	waiting_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	pooled = 0;
	watchdog_set_interrupt(interrupt_lua);
}

/* After any run of Lua: drop a stop hook, and give back memory after the
 * script ran out of it. */
static void after_run(lua_State *L, int status)
{
	if (watchdog_leave())
		lua_sethook(L, NULL, 0, 0);
	if (status == LUA_ERRMEM)
		lua_gc(L, LUA_GCCOLLECT, 0);
}

int gateway_pcall(lua_State *L, int nargs, int nresults)
{
	int fn = lua_gettop(L) - nargs;
	lua_rawgeti(L, LUA_REGISTRYINDEX, traceback_ref);
	lua_insert(L, fn);
	watchdog_enter();
	bridge_lua_runs++;
	int locked = lock_pause(); /* Lua runs without the host lock */
	int rc = lua_pcall(L, nargs, nresults, fn);
	lock_resume(locked);
	bridge_lua_runs--;
	after_run(L, rc);
	lua_remove(L, fn);
	return rc;
}

/* luv's callbacks (timers, sockets, ...) come through here too. */
int gateway_luv_pcall(lua_State *L, int nargs, int nresults, int flags)
{
	(void)flags;
	int base = lua_gettop(L) - nargs - 1;
	int rc = gateway_pcall(L, nargs, nresults);
	if (rc != 0) {
		log_msg("a luv callback %s\n%s", rc == LUA_ERRMEM ? "ran out of memory" :
			"raised an error", lua_tostring(L, -1));
		lua_settop(L, base);
		return -rc;
	}
	return nresults == LUA_MULTRET ? lua_gettop(L) - base : nresults;
}

const struct bridge_caller *bridge_current_caller(void)
{
	return current_caller;
}

lua_State *bridge_running_thread(void)
{
	return running ? running->thread : NULL;
}

static const char *name_of(const struct bridge_call *c)
{
	return c->path ? c->path : "";
}

/* ---- coroutines ---- */

static lua_State *take_thread(int *ref)
{
	lua_State *L = bridge_L;
	if (pooled > 0) {
		*ref = pool[--pooled];
		lua_rawgeti(L, LUA_REGISTRYINDEX, *ref);
	} else {
		lua_newthread(L);
		lua_pushvalue(L, -1);
		*ref = luaL_ref(L, LUA_REGISTRYINDEX);
	}
	lua_State *co = lua_tothread(L, -1);
	lua_pop(L, 1);
	return co;
}

/* Keeps a finished coroutine for the next call; lets go of one that
 * failed or still waits (it can never be resumed by a new call). */
static void release_thread(struct bridge_call *c)
{
	if (!c->thread)
		return;
	if (!c->dead && !c->waiting && lua_status(c->thread) == 0 && pooled < POOL) {
		lua_settop(c->thread, 0);
		pool[pooled++] = c->thread_ref;
	} else {
		luaL_unref(bridge_L, LUA_REGISTRYINDEX, c->thread_ref);
	}
	c->thread = NULL;
}

static void set_waiting(struct bridge_call *c, int waiting)
{
	lua_State *L = bridge_L;
	lua_rawgeti(L, LUA_REGISTRYINDEX, waiting_ref);
	lua_pushthread(c->thread);
	lua_xmove(c->thread, L, 1);
	if (waiting)
		lua_pushlightuserdata(L, c);
	else
		lua_pushnil(L);
	lua_rawset(L, -3);
	lua_pop(L, 1);
	c->waiting = waiting;
}

/* The results of a handler that ended: a count, or -errno. */
static int ended(struct bridge_call *c)
{
	lua_State *co = c->thread;
	int n = lua_gettop(co);
	while (n > 0 && lua_isnil(co, n))
		n--;
	c->nresults = n;
	if (n >= 2 && (lua_isnil(co, 1) || (lua_isboolean(co, 1) && !lua_toboolean(co, 1)))) {
		const char *why;
		int err = values_to_errno(co, 2, &why);
		if (err)
			return -err;
		char msg[200];
		snprintf(msg, sizeof msg, "failed with %.80s, which is not an errno: %s",
			 lua_type(co, 2) == LUA_TSTRING || lua_type(co, 2) == LUA_TNUMBER
				 ? lua_tostring(co, 2)
				 : luaL_typename(co, 2),
			 why);
		return bridge_bad_result(c, msg);
	}
	return n;
}

/* Runs the handler of c until it ends or waits. */
static int resume(struct bridge_call *c, int nargs)
{
	lua_State *co = c->thread;
	struct bridge_call *outer = running;
	const struct bridge_caller *outer_caller = current_caller;
	running = c;
	current_caller = c->caller;
	uint64_t started = c->timed ? trace_now() : 0;
	watchdog_enter();
	bridge_lua_runs++;
	int locked = lock_pause(); /* Lua runs without the host lock */
	int status = lua_resume(co, nargs);
	lock_resume(locked);
	bridge_lua_runs--;
	after_run(co, status);
	if (c->timed)
		c->lua_ns += trace_now() - started;
	running = outer;
	current_caller = outer_caller;
	double slow = watchdog_last_slow();
	if (slow > 0)
		log_msg("handler '%s' (%s) ran for %.1f s without waiting; while Lua runs no "
			"other request is served (moonfs.await lets a handler wait)",
			op_names[c->op], name_of(c), slow);
	if (status == LUA_YIELD && lua_gettop(co) == 1 &&
	    lua_touserdata(co, 1) == &bridge_await_token) {
		lua_settop(co, 0);
		set_waiting(c, 1);
		return BRIDGE_WAITING;
	}
	if (status == LUA_YIELD) {
		c->dead = 1;
		log_msg("handler '%s' (%s) yielded outside moonfs.await (a handler waits only "
			"through moonfs.await); replying EIO", op_names[c->op], name_of(c));
		return -EIO;
	}
	if (status != 0 && c->cancelled) {
		c->dead = 1; /* the interruption, raised at the wait point: no bug */
		return -EINTR;
	}
	if (status == LUA_ERRMEM) {
		/* where it was (no allocation needed), then let go of what its
		 * stack still holds before anything else is allocated */
		lua_Debug ar;
		char where[300] = "";
		for (int level = 0; lua_getstack(co, level, &ar); level++)
			if (lua_getinfo(co, "Sl", &ar) && ar.what[0] != 'C') {
				if (ar.currentline > 0)
					snprintf(where, sizeof where, " at %s:%d", ar.short_src,
						 ar.currentline);
				else
					snprintf(where, sizeof where, " in the function at %s:%d",
						 ar.short_src, ar.linedefined);
				break;
			}
		c->dead = 1;
		lua_settop(co, 0);
		lua_gc(bridge_L, LUA_GCCOLLECT, 0);
		log_msg("handler '%s' (%s) ran out of memory (-o memory)%s; replying EIO",
			op_names[c->op], name_of(c), where);
		return -EIO;
	}
	if (status != 0) {
		c->dead = 1;
		const char *msg = lua_tostring(co, -1);
		luaL_traceback(bridge_L, co, msg ? msg : "(error object is not a string)", 0);
		log_msg("handler '%s' (%s) %s; replying EIO\n%s", op_names[c->op], name_of(c),
			status == LUA_ERRMEM ? "ran out of memory (-o memory)" : "raised an error",
			lua_tostring(bridge_L, -1));
		lua_pop(bridge_L, 1);
		return -EIO;
	}
	return ended(c);
}

int bridge_call(struct bridge_call *c, enum op op, const char *path, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = bridge_vcall(c, op, path, fmt, ap);
	va_end(ap);
	return rc;
}

int bridge_vcall(struct bridge_call *c, enum op op, const char *path, const char *fmt, va_list ap)
{
	c->op = op;
	c->path = path;
	c->base = 0;
	c->nresults = 0;
	c->lua_ns = 0;
	c->waiting = c->dead = c->cancelled = 0;
	c->thread = NULL;
	int ref = bridge_handler_ref(op);
	if (ref == LUA_NOREF)
		return -ENOSYS;
	stats.lua_calls[op]++;
	lua_State *co = c->thread = take_thread(&c->thread_ref);
	lua_rawgeti(co, LUA_REGISTRYINDEX, ref);
	int nargs = bridge_push_args(co, fmt, ap);
	return resume(c, nargs);
}

/* Resumes c with the values on top of L, then tells its owner when the
 * handler ended. */
static void continue_call(struct bridge_call *c, lua_State *L, int nargs)
{
	set_waiting(c, 0);
	lua_xmove(L, c->thread, nargs);
	int rc = resume(c, nargs);
	if (rc != BRIDGE_WAITING)
		c->done(c, rc);
}

int bridge_wake(lua_State *L, int thread_at, int nargs)
{
	lua_rawgeti(L, LUA_REGISTRYINDEX, waiting_ref);
	lua_pushvalue(L, thread_at);
	lua_rawget(L, -2);
	struct bridge_call *c = lua_touserdata(L, -1);
	lua_pop(L, 2);
	if (!c || !c->waiting)
		return 0; /* it ended meanwhile (an interrupt): a late wake-up */
	continue_call(c, L, nargs);
	return 1;
}

void bridge_cancel(struct bridge_call *c)
{
	if (!c->waiting)
		return;
	c->cancelled = 1;
	lua_pushlightuserdata(bridge_L, &bridge_cancel_token);
	continue_call(c, bridge_L, 1);
}

void bridge_done(struct bridge_call *c)
{
	if (c->waiting)
		set_waiting(c, 0);
	release_thread(c);
}

void bridge_call_simple(enum op op)
{
	struct bridge_call c = { 0 };
	int rc = bridge_call(&c, op, NULL, "");
	if (rc == BRIDGE_WAITING)
		log_msg("handler '%s' waited; init and destroy run to their end without waiting",
			op_names[op]);
	bridge_done(&c);
}

int bridge_bad_result(const struct bridge_call *c, const char *why)
{
	log_msg("handler '%s' (%s) %s; replying EIO", op_names[c->op], name_of(c), why);
	return -EIO;
}
