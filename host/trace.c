#define _GNU_SOURCE
#include "trace.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "values.h"

int trace_enabled;
static FILE *out;
static int to_log;  /* --trace or -o trace */
static int viewers;
static void (*viewer_sink)(const struct trace_record *t, const char *line);

int trace_start(const char *file)
{
	if (file && strcmp(file, "-") != 0) {
		out = fopen(file, "a");
		if (!out)
			return -1;
		setvbuf(out, NULL, _IOLBF, 0);
	}
	to_log = 1;
	trace_enabled = 1;
	return 0;
}

void trace_set_viewers(int count, void (*sink)(const struct trace_record *t, const char *line))
{
	viewers = count;
	viewer_sink = sink;
	trace_enabled = to_log || viewers > 0;
}

uint64_t trace_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void trace_begin(struct trace_record *t, enum op op)
{
	t->op = op;
	t->started = trace_now();
	t->lua_ns = 0;
	t->paths[0] = t->args[0] = t->result[0] = '\0';
	t->path_len = 0;
	t->active = 1;
}

void trace_path(struct trace_record *t, const char *path, const char *path2)
{
	if (path2)
		snprintf(t->paths, sizeof t->paths, "%s -> %s", path, path2);
	else
		snprintf(t->paths, sizeof t->paths, "%s", path ? path : "");
	t->path_len = path ? strnlen(path, sizeof t->paths - 1) : 0;
}

void trace_args(struct trace_record *t, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(t->args, sizeof t->args, fmt, ap);
	va_end(ap);
}

void trace_result(struct trace_record *t, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(t->result, sizeof t->result, fmt, ap);
	va_end(ap);
}

void trace_end(struct trace_record *t, int err)
{
	if (!t->active)
		return;
	t->active = 0;
	const char *result = err > 0 ? values_errno_name(err) : t->result[0] ? t->result : "ok";
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	struct tm tm;
	localtime_r(&now.tv_sec, &tm);
	uint64_t total_us = (trace_now() - t->started) / 1000;
	char line[1024];
	snprintf(line, sizeof line, "%02d:%02d:%02d.%06ld %-11s %s%s%s -> %s  [lua %llu us, total %llu us]",
		 tm.tm_hour, tm.tm_min, tm.tm_sec, now.tv_nsec / 1000, op_names[t->op], t->paths,
		 t->args[0] ? " " : "", t->args, result, (unsigned long long)(t->lua_ns / 1000),
		 (unsigned long long)total_us);
	if (to_log && out)
		fprintf(out, "%s\n", line);
	else if (to_log)
		log_msg("trace %s", line);
	if (viewers > 0 && viewer_sink)
		viewer_sink(t, line);
}
