/* --trace: one line per request with its operation, path(s), arguments,
 * result and the time spent in Lua. Costs one branch per request when off. */
#ifndef MOONFS_TRACE_H
#define MOONFS_TRACE_H

#include <stdint.h>

#include "ops.h"

extern int trace_enabled;

/* Starts tracing to `file` ("-" or NULL for the log). */
int trace_start(const char *file);
uint64_t trace_now(void);

/* Request lifecycle: begin, what it is about, time in Lua, the result. */
void trace_begin(enum op op);
void trace_path(const char *path, const char *path2);
void trace_args(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void trace_lua_time(uint64_t ns);
/* err > 0 is an errno; otherwise `fmt` summarises the result. */
void trace_end(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
