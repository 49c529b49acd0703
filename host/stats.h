/* Request counters: what reached the host, what reached Lua, and the
 * passthrough state. Cheap enough to be always on. */
#ifndef MOONFS_STATS_H
#define MOONFS_STATS_H

#include <stdint.h>

#include "oplist.h"

struct stats {
	uint64_t requests[OP_COUNT]; /* requests of each kind the host received */
	uint64_t lua_calls[OP_COUNT]; /* calls of each script handler */
	uint64_t passthrough_opens;   /* opens answered with a backing file */
	uint64_t fallback_opens;      /* fd opens whose data the host serves */
	uint64_t backing_ids;         /* backing files registered right now */
};
extern struct stats stats;

/* Writes the counters to the log, one line per kind. */
void stats_log(void);

#endif
