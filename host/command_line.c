#define _GNU_SOURCE
#include "command_line.h"

#include <errno.h>
#include <fuse_lowlevel.h>
#include <luajit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "uring.h"

static const char usage[] =
	"usage: moonfs SCRIPT MOUNTPOINT [-o opt,...] [-f] [-d] [-s] [--trace]\n"
	"       moonfs --check SCRIPT [-o opt,...]\n"
	"       moonfs trace MOUNTPOINT [--ops OP,OP] [--path GLOB]\n"
	"       moonfs stats MOUNTPOINT [--json]\n"
	"       moonfs top MOUNTPOINT\n"
	"       moonfs reload MOUNTPOINT\n"
	"       moonfs list\n"
	"\n"
	"Mounts a filesystem whose operations are the handlers SCRIPT returns.\n"
	"\n"
	"  -f             stay in the foreground (messages go to stderr)\n"
	"  -d             debug: print every FUSE request (implies -f)\n"
	"  -s             accepted for compatibility (one thread runs Lua)\n"
	"  --trace        one line per request: operation, path, result, time\n"
	"  --check        load SCRIPT, check its handlers and root, do not mount\n"
	"  -h, --help     this text\n"
	"  -V, --version  the version\n"
	"\n"
	"Host options (-o):\n"
	"  nopassthrough        serve file data in the host even where the kernel\n"
	"                       could pass it through\n"
	"  nodefault_permissions  with allow_other, do not turn on default_permissions\n"
	"                       (only for scripts that check permissions themselves)\n"
	"  timeout=SECONDS      how long the kernel caches names and attributes\n"
	"                       (default 1, or the script's `timeout`)\n"
	"  negative_timeout=S   how long the kernel caches \"no such file\" (default 0)\n"
	"  log=FILE             append messages to FILE\n"
	"  trace[=FILE]         like --trace, to FILE or the log\n"
	"  stats                log the request counters at unmount\n"
	"  handler_timeout=S    stop a handler that runs this long without waiting\n"
	"                       (default 10; 0: never)\n"
	"  memory=SIZE          memory the script's Lua may use, e.g. 512M (default: a\n"
	"                       quarter of the machine's)\n"
	"  jit                  compile the script's own code with LuaJIT's JIT (faster\n"
	"                       loops; a loop compiled so cannot be stopped)\n"
	"  spin=MICROSECONDS    poll this long for the next request before sleeping\n"
	"                       (default 50; 0 never polls)\n"
	"  noio_uring           read requests from /dev/fuse even where the kernel\n"
	"                       offers io_uring queues\n"
	"  workers=N            threads serving requests at once, each with its own Lua\n"
	"                       state (default: the script's `workers`, else 1)\n"
	"FUSE mount options (-o) such as allow_other, default_permissions, ro,\n"
	"fsname=NAME and auto_unmount go to FUSE. Every other -o key=value or flag\n"
	"is handed to the script as a table: `local options = ...`.\n"
	"Signals: SIGINT/SIGTERM unmount, SIGHUP reloads SCRIPT, SIGUSR1 logs counters.\n";

/* Options that belong to FUSE: libfuse's mount options, and the ones
 * fuse_parse_conn_info_opts takes for the connection (applied at INIT,
 * before the host's own needs). */
static const char *const fuse_options[] = {
	"allow_other", "allow_root", "auto_unmount", "default_permissions", "fsname", "subtype",
	"ro", "rw", "suid", "nosuid", "dev", "nodev", "exec", "noexec", "async", "sync",
	"atime", "noatime", "dirsync", "blkdev", "blksize", "max_read",
	"context", "fscontext", "defcontext", "rootcontext", "max_write", "max_readahead",
	"async_read", "sync_read", "no_remote_lock", "no_remote_flock",
	"no_remote_posix_lock", "auto_inval_data", "no_auto_inval_data", "readdirplus", "async_dio", "no_async_dio", "time_gran",
	"max_background", "congestion_threshold", "no_writeback_cache", NULL,
};

/* Accepted and dropped: access-time flags that fstab lines often carry
 * (the kernel keeps FUSE's access times its own way, and libfuse 3.14
 * refuses them), and splicing, which does not apply: the host reads and
 * writes the FUSE device itself. */
static const char *const dropped_options[] = {
	"diratime", "nodiratime", "relatime", "norelatime", "strictatime", "nostrictatime",
	"lazytime", "nolazytime", "splice_write", "no_splice_write", "splice_move",
	"no_splice_move", "splice_read", "no_splice_read", NULL,
};



static int listed(const char *const *list, const char *key, size_t len)
{
	for (int i = 0; list[i]; i++)
		if (strlen(list[i]) == len && strncmp(list[i], key, len) == 0)
			return 1;
	return 0;
}

static int parse_number(const char *what, const char *value, const char *unit, double *out)
{
	char *end;
	double v = value ? strtod(value, &end) : -1;
	if (!value || *end || !(v >= 0 && v <= 1e9)) { /* NaN fails too */
		fprintf(stderr, "moonfs: -o %s needs a number of %s\n", what, unit);
		return -1;
	}
	*out = v;
	return 0;
}

/* The value of FUSE option name=N, or 0. */
unsigned fuse_option_number(const struct command_line *cl, const char *name)
{
	size_t len = strlen(name);
	for (const char *p = cl->fuse_opts; p && *p;) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		if (n > len && p[len] == '=' && strncmp(p, name, len) == 0)
			return (unsigned)strtoul(p + len + 1, NULL, 10);
		p += n + (end ? 1 : 0);
	}
	return 0;
}

/* Whether the FUSE options include `name` (as a flag or name=value). */
int has_fuse_option(const struct command_line *cl, const char *name)
{
	size_t len = strlen(name);
	for (const char *p = cl->fuse_opts; p && *p;) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		if ((n == len || (n > len && p[len] == '=')) && strncmp(p, name, len) == 0)
			return 1;
		p += n + (end ? 1 : 0);
	}
	return 0;
}

/* A size in bytes, with an optional K, M, G or T (powers of 1024). */
static int parse_size(const char *what, const char *value, double *out)
{
	char *end;
	double v = value ? strtod(value, &end) : -1;
	double unit = 1;
	if (value && *end && !end[1]) {
		const char *units = "KMGT";
		const char *u = strchr(units, *end & ~0x20);
		if (u) {
			for (const char *p = units; p <= u; p++)
				unit *= 1024;
			end++;
		}
	}
	if (!value || *end || !(v >= 0 && v * unit <= 1e18)) {
		fprintf(stderr, "moonfs: -o %s needs a size such as 512M or 4G\n", what);
		return -1;
	}
	*out = v * unit;
	return 0;
}

void append_fuse_opt(struct command_line *cl, const char *opt)
{
	size_t old = cl->fuse_opts ? strlen(cl->fuse_opts) : 0;
	char *s = realloc(cl->fuse_opts, old + strlen(opt) + 2);
	if (!s)
		abort();
	if (old)
		s[old++] = ',';
	strcpy(s + old, opt);
	cl->fuse_opts = s;
}

/* fsname=TEXT, with the commas and backslashes in TEXT escaped for
 * libfuse's option parser. */
void append_fsname(struct command_line *cl, const char *text)
{
	char *opt = malloc(strlen("fsname=") + 2 * strlen(text) + 1);
	if (!opt)
		abort();
	char *o = stpcpy(opt, "fsname=");
	for (const char *t = text; *t; t++) {
		if (*t == ',' || *t == '\\')
			*o++ = '\\';
		*o++ = *t;
	}
	*o = '\0';
	append_fuse_opt(cl, opt);
	free(opt);
}

/* Sorts one -o item into FUSE's, the host's or the script's. */
static int take_option(struct command_line *cl, char *item)
{
	if (!*item)
		return 0;
	char *eq = strchr(item, '=');
	size_t key_len = eq ? (size_t)(eq - item) : strlen(item);
	const char *value = eq ? eq + 1 : NULL;
	if (listed(fuse_options, item, key_len)) {
		append_fuse_opt(cl, item);
		return 0;
	}
	if (listed(dropped_options, item, key_len))
		return 0;
	if (eq)
		*eq = '\0';
	if (strcmp(item, "writeback_cache") == 0) {
		fprintf(stderr, "moonfs: -o writeback_cache is not supported: the kernel refuses it "
				"together with passthrough\n");
		return -1;
	}
	if (strcmp(item, "atomic_o_trunc") == 0) {
		fprintf(stderr, "moonfs: -o atomic_o_trunc is not supported: the host has the kernel "
				"truncate with a setattr, which also clears setuid and setgid\n");
		return -1;
	}
	if (strcmp(item, "nopassthrough") == 0)
		cl->passthrough = 0;
	else if (strcmp(item, "noio_uring") == 0)
		uring_set_wanted(0);
	else if (strcmp(item, "nodefault_permissions") == 0)
		cl->unchecked_permissions = 1;
	else if (strcmp(item, "log") == 0 && value)
		cl->log_file = value;
	else if (strcmp(item, "timeout") == 0)
		return parse_number("timeout", value, "seconds", &cl->timeout);
	else if (strcmp(item, "negative_timeout") == 0)
		return parse_number("negative_timeout", value, "seconds", &cl->negative_timeout);
	else if (strcmp(item, "handler_timeout") == 0)
		return parse_number("handler_timeout", value, "seconds", &cl->handler_timeout);
	else if (strcmp(item, "memory") == 0)
		return parse_size("memory", value, &cl->memory_limit);
	else if (strcmp(item, "workers") == 0) {
		double n;
		if (parse_number("workers", value, "threads (1 to 64)", &n) != 0)
			return -1;
		if (n < 1 || n > 64 || n != (int)n) {
			fprintf(stderr, "moonfs: -o workers needs a whole number from 1 to 64\n");
			return -1;
		}
		cl->workers = (int)n;
	} else if (strcmp(item, "jit") == 0)
		cl->jit = 1;
	else if (strcmp(item, "spin") == 0) {
		double us;
		if (parse_number("spin", value, "microseconds", &us) != 0)
			return -1;
		cl->spin_us = us > 1e6 ? 1000000u : (unsigned)us;
	}
	else if (strcmp(item, "trace") == 0) {
		cl->trace = 1;
		cl->trace_file = value;
	} else if (strcmp(item, "stats") == 0)
		cl->log_stats = 1;
	else {
		struct script_options *so = &cl->script_opts;
		so->keys = realloc(so->keys, sizeof *so->keys * (size_t)(so->count + 1));
		so->values = realloc(so->values, sizeof *so->values * (size_t)(so->count + 1));
		if (!so->keys || !so->values)
			abort();
		so->keys[so->count] = item;
		so->values[so->count] = value;
		so->count++;
	}
	return 0;
}

static int take_option_list(struct command_line *cl, const char *list)
{
	char *copy = strdup(list);
	if (!copy)
		abort();
	cl->copies = realloc(cl->copies, sizeof *cl->copies * (size_t)(cl->copy_count + 1));
	if (!cl->copies)
		abort();
	cl->copies[cl->copy_count++] = copy; /* keys and values point into it */
	for (char *save = NULL, *item = strtok_r(copy, ",", &save); item;
	     item = strtok_r(NULL, ",", &save))
		if (take_option(cl, item) != 0)
			return -1;
	return 0;
}

void free_command_line(struct command_line *cl)
{
	free(cl->script_path);
	free(cl->mount_path);
	free(cl->start_dir);
	for (int i = 0; i < cl->copy_count; i++)
		free(cl->copies[i]);
	free(cl->copies);
	free(cl->fuse_opts);
	free(cl->script_opts.keys);
	free(cl->script_opts.values);
}

int parse_command_line(int argc, char **argv, struct command_line *cl)
{
	memset(cl, 0, sizeof *cl);
	cl->passthrough = 1;
	cl->timeout = -1;
	cl->spin_us = 50;
	cl->handler_timeout = 10;
	/* Lua's memory: a quarter of the machine's by default */
	cl->memory_limit = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE) / 4;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(usage, stdout);
			exit(0);
		} else if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
			printf("moonfs %s (libfuse %s, %s)\n", MOONFS_VERSION, fuse_pkgversion(),
			       LUAJIT_VERSION);
			exit(0);
		} else if (strcmp(a, "-f") == 0) {
			cl->foreground = 1;
		} else if (strcmp(a, "-d") == 0) {
			cl->debug = cl->foreground = 1;
		} else if (strcmp(a, "-s") == 0) {
			/* always single-threaded */
		} else if (strcmp(a, "--trace") == 0) {
			cl->trace = 1;
		} else if (strcmp(a, "--check") == 0) {
			cl->check = 1;
		} else if (strcmp(a, "-o") == 0) {
			if (++i == argc) {
				fprintf(stderr, "moonfs: -o needs options\n");
				return -1;
			}
			if (take_option_list(cl, argv[i]) != 0)
				return -1;
		} else if (strncmp(a, "-o", 2) == 0) {
			if (take_option_list(cl, a + 2) != 0)
				return -1;
		} else if (a[0] == '-' && a[1]) {
			fprintf(stderr, "moonfs: unknown option %s (see moonfs --help)\n", a);
			return -1;
		} else if (!cl->script) {
			cl->script = a;
		} else if (!cl->mountpoint) {
			cl->mountpoint = a;
		} else {
			fprintf(stderr, "moonfs: unexpected argument %s (see moonfs --help)\n", a);
			return -1;
		}
	}
	if (!cl->script || (!cl->mountpoint && !cl->check)) {
		fputs(usage, stderr);
		return -1;
	}
	return 0;
}

/* Paths are resolved now: once daemonized the working directory is "/". */
int resolve_paths(struct command_line *cl)
{
	cl->start_dir = getcwd(NULL, 0);
	if (!cl->start_dir) {
		fprintf(stderr, "moonfs: cannot read the working directory: %s\n", strerror(errno));
		return -1;
	}
	cl->script_path = realpath(cl->script, NULL);
	if (!cl->script_path) {
		fprintf(stderr, "moonfs: cannot open %s: %s\n", cl->script, strerror(errno));
		return -1;
	}
	/* /dev/fd/N: an fd of /dev/fuse already mounted by the caller
	 * (mount.fuse3 -o drop_privileges); libfuse takes it as it is. */
	unsigned fd_number;
	char rest;
	if (cl->mountpoint && sscanf(cl->mountpoint, "/dev/fd/%u%c", &fd_number, &rest) == 1) {
		cl->mounted_fd = 1;
		cl->mount_path = strdup(cl->mountpoint);
	} else if (cl->mountpoint && !(cl->mount_path = realpath(cl->mountpoint, NULL))) {
		fprintf(stderr, "moonfs: mount point %s is not a directory (%s)\n", cl->mountpoint,
			strerror(errno));
		return -1;
	}
	return 0;
}

