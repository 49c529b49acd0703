/* --trace: one line per request with its operation, path(s), arguments,
 * result and the time spent in Lua. Each request carries its own record,
 * so requests that overlap are traced correctly. Costs one branch per
 * request when off. */
#ifndef MOONFS_TRACE_H
#define MOONFS_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "oplist.h"

/* Someone wants trace lines: --trace, or a viewer (moonfs trace MNT). */
extern int trace_enabled;

struct trace_record {
	enum op op;
	int active;
	uint64_t started;
	uint64_t lua_ns;
	char paths[512];
	size_t path_len;   /* of the first path, within paths */
	char args[160];
	char result[160];
};

/* Starts tracing to `file` ("-" or NULL for the log). */
int trace_start(const char *file);

/* Viewers attached to the running mount: while there are any (count > 0),
 * every finished request's line also goes to sink. */
void trace_set_viewers(int count, void (*sink)(const struct trace_record *t, const char *line));
uint64_t trace_now(void);

/* A request's record: begin, what it is about, the result, end. Only
 * called when trace_enabled. */
void trace_begin(struct trace_record *t, enum op op);
void trace_path(struct trace_record *t, const char *path, const char *path2);
void trace_args(struct trace_record *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The result line, when it says more than "ok" (kept until trace_end). */
void trace_result(struct trace_record *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Writes the line; err > 0 is an errno. */
void trace_end(struct trace_record *t, int err);

#endif
