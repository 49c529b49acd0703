#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

static FILE *log_file;
static int use_syslog;

void log_open(const char *file)
{
	if (!file)
		return;
	log_file = fopen(file, "a");
	if (!log_file) {
		fprintf(stderr, "moonfs: cannot open log file %s: %m\n", file);
		exit(1);
	}
	setvbuf(log_file, NULL, _IOLBF, 0);
}

void log_daemonized(void)
{
	if (!log_file) {
		openlog("moonfs", LOG_PID, LOG_DAEMON);
		use_syslog = 1;
	}
}

static void log_va(const char *fmt, va_list ap)
{
	if (use_syslog) {
		vsyslog(LOG_NOTICE, fmt, ap);
		return;
	}
	FILE *out = log_file ? log_file : stderr;
	fputs("moonfs: ", out);
	vfprintf(out, fmt, ap);
	fputc('\n', out);
	fflush(out);
}

void log_msg(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_va(fmt, ap);
	va_end(ap);
}

/* A handful of distinct keys at most, so a short list is enough. */
static char *seen[64];
static int seen_count;

void log_once(const char *key, const char *fmt, ...)
{
	for (int i = 0; i < seen_count; i++)
		if (strcmp(seen[i], key) == 0)
			return;
	if (seen_count < (int)(sizeof seen / sizeof seen[0]))
		seen[seen_count++] = strdup(key);
	va_list ap;
	va_start(ap, fmt);
	log_va(fmt, ap);
	va_end(ap);
}
