/* Where the host's messages go: stderr in the foreground, a file with
 * -o log=FILE, syslog once daemonized without one. */
#ifndef MOONFS_LOG_H
#define MOONFS_LOG_H

#include <stddef.h>

void log_open(const char *file);
void log_daemonized(void);
void log_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Like log_msg, but only the first time `key` is seen: for reasons that
 * would otherwise repeat on every request. */
void log_once(const char *key, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Like log_msg, but at most a few lines a minute per `key`, then a count
 * of what was left out: for what a script can repeat on every request. */
void log_limited(const char *key, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Also copies every message into buf (size bytes, cut when full) until
 * log_capture(NULL, 0): so a reload asked for over the control socket can
 * tell the one who asked what went wrong. */
void log_capture(char *buf, size_t size);

#endif
