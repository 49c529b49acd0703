/* The command line: usage, -o options sorted into FUSE's, the host's and
 * the script's, and the paths resolved while the host is still where it
 * was started. */
#ifndef MOONFS_COMMAND_LINE_H
#define MOONFS_COMMAND_LINE_H

#include "bridge.h"

struct command_line {
	const char *script;
	const char *mountpoint;
	int foreground, debug, check, passthrough, log_stats;
	int unchecked_permissions; /* -o nodefault_permissions */
	int mounted_fd;            /* the mount point is /dev/fd/N */
	const char *log_file;
	const char *trace_file;
	int trace;
	double timeout, negative_timeout;
	unsigned spin_us;
	double handler_timeout;
	double memory_limit;
	int jit;
	int workers;               /* -o workers=N; 0: not given */
	char *script_path; /* absolute, so that a reload finds it after daemonizing */
	char *mount_path;  /* absolute, resolved: names the control socket */
	char *start_dir;   /* where the host was started: moonfs.cwd */
	char *fuse_opts;  /* comma-separated, for libfuse */
	char **copies;    /* the -o strings that keys and values point into */
	int copy_count;
	struct script_options script_opts;
};

/* Fills cl from argv; prints what is wrong and returns -1 (exit 2). */
int parse_command_line(int argc, char **argv, struct command_line *cl);
void free_command_line(struct command_line *cl);

/* The script's, the mount point's and the working directory's absolute
 * paths. -1 after saying why. */
int resolve_paths(struct command_line *cl);

/* Whether the FUSE options include `name` (a flag or name=value); the
 * number of name=N (0: none); adding one. */
int has_fuse_option(const struct command_line *cl, const char *name);
unsigned fuse_option_number(const struct command_line *cl, const char *name);
void append_fuse_opt(struct command_line *cl, const char *opt);
/* fsname=TEXT, escaped for libfuse's option parser. */
void append_fsname(struct command_line *cl, const char *text);

#endif
