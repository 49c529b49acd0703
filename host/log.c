#define _GNU_SOURCE
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

static FILE *log_file;
static int use_syslog;
/* Workers log from threads of their own; nested: log_limited logs too. */
static pthread_mutex_t log_lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;

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
		openlog("moonfs", LOG_PID | LOG_NDELAY, LOG_DAEMON); /* its socket now, not mid-request */
		use_syslog = 1;
	}
}

static char *capture_buf;
static size_t capture_size, capture_len;

void log_capture(char *buf, size_t size)
{
	pthread_mutex_lock(&log_lock);
	capture_buf = buf;
	capture_size = size;
	capture_len = 0;
	if (buf && size)
		buf[0] = '\0';
	pthread_mutex_unlock(&log_lock);
}

static void log_va_locked(const char *fmt, va_list ap);

static void log_va(const char *fmt, va_list ap)
{
	pthread_mutex_lock(&log_lock);
	log_va_locked(fmt, ap);
	pthread_mutex_unlock(&log_lock);
}

static void log_va_locked(const char *fmt, va_list ap)
{
	if (capture_buf && capture_len + 1 < capture_size) {
		va_list copy;
		va_copy(copy, ap);
		int n = vsnprintf(capture_buf + capture_len, capture_size - capture_len, fmt, copy);
		va_end(copy);
		if (n > 0)
			capture_len += (size_t)n < capture_size - capture_len - 1
					       ? (size_t)n : capture_size - capture_len - 1;
		if (capture_len + 1 < capture_size)
			capture_buf[capture_len++] = '\n';
		capture_buf[capture_len] = '\0';
	}
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
	pthread_mutex_lock(&log_lock);
	int known = 0;
	for (int i = 0; i < seen_count && !known; i++)
		known = strcmp(seen[i], key) == 0;
	if (!known && seen_count < (int)(sizeof seen / sizeof seen[0]))
		seen[seen_count++] = strdup(key);
	if (!known) {
		va_list ap;
		va_start(ap, fmt);
		log_va(fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&log_lock);
}

#define LIMITED_PER_MINUTE 10

static struct limited {
	char *key;
	time_t window;  /* start of the current minute */
	unsigned shown, left_out;
} limited[64];
static int limited_count;

static void log_limited_va(const char *key, const char *fmt, va_list ap);

void log_limited(const char *key, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	pthread_mutex_lock(&log_lock);
	log_limited_va(key, fmt, ap);
	pthread_mutex_unlock(&log_lock);
	va_end(ap);
}

static void log_limited_va(const char *key, const char *fmt, va_list ap)
{
	struct limited *l = NULL;
	for (int i = 0; i < limited_count && !l; i++)
		if (strcmp(limited[i].key, key) == 0)
			l = &limited[i];
	if (!l && limited_count < (int)(sizeof limited / sizeof limited[0])) {
		l = &limited[limited_count];
		l->key = strdup(key);
		if (l->key)
			limited_count++;
		else
			l = NULL;
	}
	time_t now = time(NULL);
	if (l) {
		if (now - l->window >= 60) {
			if (l->left_out)
				log_msg("(%u more like the next were left out in the last minute)",
					l->left_out);
			l->window = now;
			l->shown = l->left_out = 0;
		}
		if (l->shown >= LIMITED_PER_MINUTE) {
			l->left_out++;
			return;
		}
		l->shown++;
	}
	log_va(fmt, ap);
}
