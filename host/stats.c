#include "stats.h"

#include <stdio.h>

#include "log.h"
#include "nodes.h"

struct stats stats;

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
