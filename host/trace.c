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

static struct {
	enum op op;
	uint64_t started;
	uint64_t lua_ns;
	int active;
	char paths[512];
	char args[160];
} cur;

int trace_start(const char *file)
{
	if (file && strcmp(file, "-") != 0) {
		out = fopen(file, "a");
		if (!out)
			return -1;
		setvbuf(out, NULL, _IOLBF, 0);
	}
	trace_enabled = 1;
	return 0;
}

uint64_t trace_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void trace_begin(enum op op)
{
	cur.op = op;
	cur.started = trace_now();
	cur.lua_ns = 0;
	cur.paths[0] = cur.args[0] = '\0';
	cur.active = 1;
}

void trace_path(const char *path, const char *path2)
{
	if (path2)
		snprintf(cur.paths, sizeof cur.paths, "%s -> %s", path, path2);
	else
		snprintf(cur.paths, sizeof cur.paths, "%s", path ? path : "");
}

void trace_args(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cur.args, sizeof cur.args, fmt, ap);
	va_end(ap);
}

void trace_lua_time(uint64_t ns)
{
	cur.lua_ns += ns;
}

void trace_end(int err, const char *fmt, ...)
{
	if (!cur.active)
		return;
	cur.active = 0;
	char result[160] = "";
	if (err > 0) {
		snprintf(result, sizeof result, "%s", values_errno_name(err));
	} else if (fmt) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(result, sizeof result, fmt, ap);
		va_end(ap);
	} else {
		snprintf(result, sizeof result, "ok");
	}
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	struct tm tm;
	localtime_r(&now.tv_sec, &tm);
	uint64_t total_us = (trace_now() - cur.started) / 1000;
	char line[1024];
	snprintf(line, sizeof line, "%02d:%02d:%02d.%06ld %-11s %s%s%s -> %s  [lua %llu us, total %llu us]",
		 tm.tm_hour, tm.tm_min, tm.tm_sec, now.tv_nsec / 1000, op_names[cur.op], cur.paths,
		 cur.args[0] ? " " : "", cur.args, result, (unsigned long long)(cur.lua_ns / 1000),
		 (unsigned long long)total_us);
	if (out)
		fprintf(out, "%s\n", line);
	else
		log_msg("trace %s", line);
}
