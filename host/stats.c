#include "stats.h"

#include <stdio.h>

#include "log.h"
#include "nodes.h"

struct stats stats;

static void push_counts(lua_State *L, const uint64_t *counts, int handlers_only)
{
	lua_createtable(L, 0, OP_COUNT);
	for (int op = 0; op < OP_COUNT; op++) {
		if (handlers_only && !op_is_handler[op])
			continue;
		lua_pushnumber(L, (lua_Number)counts[op]);
		lua_setfield(L, -2, op_names[op]);
	}
}

void stats_push(lua_State *L)
{
	lua_createtable(L, 0, 6);
	push_counts(L, stats.requests, 0);
	lua_setfield(L, -2, "requests");
	push_counts(L, stats.lua_calls, 1);
	lua_setfield(L, -2, "lua");
	lua_pushnumber(L, (lua_Number)stats.backing_ids);
	lua_setfield(L, -2, "backing_ids");
	lua_pushnumber(L, (lua_Number)stats.passthrough_opens);
	lua_setfield(L, -2, "passthrough_opens");
	lua_pushnumber(L, (lua_Number)stats.fallback_opens);
	lua_setfield(L, -2, "fallback_opens");
	lua_pushnumber(L, (lua_Number)nodes_count());
	lua_setfield(L, -2, "nodes");
}

/* A table a class can read: which operations reached the host, which
 * reached the script, how many opens went passthrough. */
void stats_log(void)
{
	log_msg("stats %-12s %10s %13s", "operation", "requests", "script calls");
	for (int op = 0; op < OP_COUNT; op++) {
		if (!stats.requests[op] && !stats.lua_calls[op])
			continue;
		char calls[24] = "-";
		if (op_is_handler[op])
			snprintf(calls, sizeof calls, "%llu", (unsigned long long)stats.lua_calls[op]);
		log_msg("stats %-12s %10llu %13s", op_names[op], (unsigned long long)stats.requests[op],
			calls);
	}
	log_msg("stats opens: %llu passthrough, %llu served by the host; backing files now: %llu; "
		"inodes known: %llu",
		(unsigned long long)stats.passthrough_opens, (unsigned long long)stats.fallback_opens,
		(unsigned long long)stats.backing_ids, (unsigned long long)nodes_count());
}
