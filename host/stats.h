/* Request counters and latencies: what reached the host, what reached
 * Lua, how long each took, and the passthrough state. Cheap enough to be
 * always on: a few additions and two clock reads per request. */
#ifndef MOONFS_STATS_H
#define MOONFS_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "oplist.h"

/* Times in nanoseconds, in buckets of a quarter octave (2^(k/4) ns). */
#define STATS_BUCKETS 256

struct latency {
	uint64_t count, sum_ns, max_ns;
	uint32_t buckets[STATS_BUCKETS];
};

struct stats {
	uint64_t requests[OP_COUNT]; /* requests of each kind the host received */
	uint64_t lua_calls[OP_COUNT]; /* calls of each script handler */
	uint64_t passthrough_opens;   /* opens answered with a backing file */
	uint64_t fallback_opens;      /* fd opens whose data the host serves */
	uint64_t backing_ids;         /* backing files registered right now */
	uint64_t ring_requests;       /* requests taken from io_uring queues */
	struct latency host[OP_COUNT]; /* from arrival to reply */
	struct latency lua[OP_COUNT];  /* of that, running Lua */
};
extern struct stats stats;

uint64_t stats_now(void);

/* A finished request: its time in the host and in Lua. */
void stats_record(enum op op, uint64_t host_ns, uint64_t lua_ns);

/* The time below which a fraction q (0.5, 0.99) of l's samples fall. */
uint64_t stats_quantile(const struct latency *l, double q);

/* Writes the counters to the log, one line per kind. */
void stats_log(void);

/* The counters, latencies and state as JSON (for moonfs stats --json) or
 * as a table, into buf; returns the length (cut at size - 1). `extra`
 * is a JSON fragment ("key": value, ...) or text lines added at the end. */
size_t stats_report(char *buf, size_t size, int json, const char *extra);

#endif
