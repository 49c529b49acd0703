/* moonfs: command line, mount, signals, clean unmount. */
#define _GNU_SOURCE
#include <errno.h>
#include <fuse_lowlevel.h>
#include <luajit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bridge.h"
#include "cli.h"
#include "lint.h"
#include "control.h"
#include "device.h"
#include "files.h"
#include "log.h"
#include "lock.h"
#include "loop.h"
#include "mailbox.h"
#include "uring.h"
#include "workers.h"
#include "nodes.h"
#include "notify.h"
#include "ops.h"
#include "passthrough.h"
#include "request.h"
#include "stats.h"
#include "trace.h"
#include "values.h"
#include "watchdog.h"

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
static unsigned fuse_option_number(const struct command_line *cl, const char *name)
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
static int has_fuse_option(const struct command_line *cl, const char *name)
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

static void append_fuse_opt(struct command_line *cl, const char *opt)
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
static void append_fsname(struct command_line *cl, const char *text)
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

static void free_command_line(struct command_line *cl)
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

static int parse_command_line(int argc, char **argv, struct command_line *cl)
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
static int resolve_paths(struct command_line *cl)
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

/* --check: the script loads, its handler names are right, and its root is
 * a directory. */
static void reload_script(void);

/* --check's getattr("/") may wait (a script over the network): the loop
 * runs until it ends, or for 10 s. */
static int check_rc;
static int check_ended;

static void check_call_ended(struct bridge_call *c, int rc)
{
	(void)c;
	check_rc = rc;
	check_ended = 1;
}

static void check_deadline(uv_timer_t *t)
{
	(void)t;
	check_ended = 1;
	check_rc = -ETIMEDOUT;
}

static int check_getattr(struct bridge_call *call)
{
	call->done = check_call_ended;
	int rc = bridge_call(call, OP_getattr, "/", "s", "/");
	if (rc != BRIDGE_WAITING)
		return rc;
	static uv_timer_t deadline; /* closed once the loop has run again, below */
	uv_timer_init(loop_uv(), &deadline);
	uv_timer_start(&deadline, check_deadline, 10000, 0);
	check_ended = 0;
	while (!check_ended)
		uv_run(loop_uv(), UV_RUN_ONCE);
	uv_close((uv_handle_t *)&deadline, NULL);
	int rc_seen = check_rc;
	if (rc_seen == -ETIMEDOUT)
		bridge_cancel(call);
	while (rc_seen == -ETIMEDOUT && call->waiting) /* its clean-up ends it */
		uv_run(loop_uv(), UV_RUN_ONCE);
	uv_run(loop_uv(), UV_RUN_NOWAIT);
	return rc_seen;
}

static int check_script(const struct command_line *cl)
{
	if (loop_init(reload_script) != 0) { /* luv runs on the host's loop */
		fprintf(stderr, "moonfs: cannot start the event loop\n");
		return 1;
	}
	struct bridge_settings settings = { &cl->script_opts, (size_t)cl->memory_limit, cl->jit,
					    loop_uv() };
	int warnings = bridge_open(cl->script_path, cl->start_dir, &settings);
	if (warnings < 0) {
		loop_close();
		bridge_close();
		return 1;
	}
	int problems = warnings, handlers = 0;
	for (int op = 0; op < OP_COUNT; op++)
		handlers += bridge_has(op);
	if (bridge_has(OP_getattr)) {
		struct bridge_call call = { 0 };
		int rc = check_getattr(&call);
		struct stat st;
		if (rc == -ETIMEDOUT) {
			fprintf(stderr, "moonfs: %s: getattr(\"/\") did not answer within 10 s\n",
				cl->script);
			problems++;
		} else if (rc < 0) {
			fprintf(stderr, "moonfs: %s: getattr(\"/\") failed with %s\n", cl->script,
				values_errno_name(-rc));
			problems++;
		} else if (bridge_result_stat(&call, 1, &st, NULL) != 0) {
			problems++; /* logged */
		} else if (!S_ISDIR(st.st_mode)) {
			fprintf(stderr, "moonfs: %s: getattr(\"/\") says the root is a %s, not a dir\n",
				cl->script, values_type_name(st.st_mode));
			problems++;
		}
		bridge_done(&call);
	}
	loop_close(); /* the script's handles first, while Lua still runs */
	bridge_close();
	int findings = lint_script(cl->script_path);
	if (findings > 0)
		problems += findings;
	if (problems) {
		fprintf(stderr, "moonfs: %s: %d problem%s\n", cl->script, problems,
			problems == 1 ? "" : "s");
		return 1;
	}
	printf("moonfs: %s: ok, %d handler%s, root is a directory%s; spin %u us\n", cl->script,
	       handlers, handlers == 1 ? "" : "s", findings == 0 ? ", luacheck clean" : "",
	       cl->spin_us);
	return 0;
}

static int mount_and_serve(struct command_line *cl, char *argv0);

int main(int argc, char **argv)
{
	int sub = cli_main(argc, argv); /* moonfs trace|stats|top|reload|list */
	if (sub >= 0)
		return sub;
	struct command_line cl;
	if (parse_command_line(argc, argv, &cl) != 0) {
		free_command_line(&cl);
		return 2;
	}
	int rc = resolve_paths(&cl) != 0 ? 1 : cl.check ? check_script(&cl) : mount_and_serve(&cl, argv[0]);
	free_command_line(&cl);
	return rc;
}

static void reload_script(void)
{
	bridge_reload();
}

static void reload_posted(void *unused)
{
	(void)unused;
	bridge_reload();
}

/* moonfs reload: every worker reloads; the answer is the main thread's. */
static int reload_everywhere(void)
{
	for (int i = 1; i < workers_count(); i++)
		mailbox_post(i, reload_posted, NULL);
	return bridge_reload();
}

/* Loads the script, mounts, serves until unmounted, cleans up. */
static int mount_and_serve(struct command_line *cl, char *argv0)
{
	int rc;
	struct stat mst;
	if (!cl->mounted_fd && (stat(cl->mountpoint, &mst) != 0 || !S_ISDIR(mst.st_mode))) {
		fprintf(stderr, "moonfs: mount point %s is not a directory\n", cl->mountpoint);
		return 1;
	}
	log_open(cl->log_file);
	if (cl->trace && trace_start(cl->trace_file) != 0) {
		fprintf(stderr, "moonfs: cannot open trace file %s: %s\n", cl->trace_file,
			strerror(errno));
		return 1;
	}
	nodes_init();
	if (loop_init(reload_script) != 0) {
		fprintf(stderr, "moonfs: cannot start the event loop\n");
		return 1;
	}
	watchdog_start();
	watchdog_set_timeout(cl->handler_timeout);
	files_claim_fds(1); /* standard streams, log, trace, the loop's own */
	struct bridge_settings settings = { &cl->script_opts, (size_t)cl->memory_limit, cl->jit,
					    loop_uv() };
	if (bridge_open(cl->script_path, cl->start_dir, &settings) < 0) {
		bridge_close();
		return 1;
	}
	files_claim_fds(0); /* what the script opened is its own */

	double timeout = cl->timeout >= 0 ? cl->timeout
			 : bridge_script_timeout() >= 0 ? bridge_script_timeout() : 1.0;
	ops_config.entry_timeout = ops_config.attr_timeout = timeout;
	ops_config.negative_timeout = cl->negative_timeout;

	/* A mount shared with other users without permission checks lets each
	 * of them do whatever the host (often root) can: the safe choice is
	 * the default. */
	if (has_fuse_option(cl, "allow_other") && !has_fuse_option(cl, "default_permissions")) {
		if (cl->unchecked_permissions)
			log_msg("allow_other with nodefault_permissions: the kernel checks no "
				"permissions; every user of the mount acts with the host's rights "
				"unless the script refuses");
		else if (bridge_script_checks_permissions())
			log_msg("allow_other: the script checks permissions itself "
				"(checks_permissions and an access handler)");
		else {
			append_fuse_opt(cl, "default_permissions");
			log_msg("allow_other: turned on default_permissions, so the kernel checks "
				"every caller against the owners and modes the script reports "
				"(-o nodefault_permissions turns this off)");
		}
	}

	char *fuse_argv[8];
	int fuse_argc = 0;
	fuse_argv[fuse_argc++] = argv0;
	if (cl->debug)
		fuse_argv[fuse_argc++] = "-d";
	/* The script, as given, names the mount (the source column of
	 * /proc/mounts): mount -a then sees an fstab line as mounted. */
	if (!cl->fuse_opts || !strstr(cl->fuse_opts, "fsname="))
		append_fsname(cl, cl->script);
	if (!strstr(cl->fuse_opts, "subtype="))
		append_fuse_opt(cl, "subtype=moonfs");
	fuse_argv[fuse_argc++] = "-o";
	fuse_argv[fuse_argc++] = cl->fuse_opts;
	fuse_argv[fuse_argc] = NULL;
	struct fuse_args args = FUSE_ARGS_INIT(fuse_argc, fuse_argv);
	/* Takes the connection options out of args; op_init applies them. */
	ops_config.conn_opts = fuse_parse_conn_info_opts(&args);
	ops_config.max_read = fuse_option_number(cl, "max_read");

	struct fuse_session *se = ops_config.conn_opts
		? fuse_session_new(&args, &moonfs_ops, sizeof moonfs_ops, NULL) : NULL;
	fuse_opt_free_args(&args);
	if (!se) {
		bridge_close();
		return 1;
	}
	rc = 1;
	/* The resolved path: the host leaves its working directory when it
	 * daemonizes, and unmounts by this path when a signal ends it. */
	if (fuse_session_mount(se, cl->mount_path) != 0)
		goto out_destroy;
	passthrough_configure(cl->passthrough, has_fuse_option(cl, "allow_other"));
	if (device_setup(se) != 0) {
		fprintf(stderr, "moonfs: cannot take over the FUSE device I/O\n");
		goto out_unmount;
	}
	if (fuse_daemonize(cl->foreground) != 0)
		goto out_unmount;
	if (!cl->foreground) {
		loop_after_fork();
		log_daemonized();
	}
	watchdog_start(); /* again in the daemon: threads do not survive fork */
	if (notify_start(se) != 0)
		goto out_unmount;
	control_start(loop_uv(), cl->mount_path, cl->script_path, reload_everywhere);
	files_claim_fds(1); /* the FUSE device, syslog */
	int workers = workers_count_for(cl->workers, bridge_script_workers(), cl->script);
	workers_start(workers, se, cl->spin_us, &settings, cl->script_path, cl->start_dir);

	/* An unmount or SIGINT/SIGTERM ends serving: both clean ends. */
	int serve_rc = loop_serve(se, cl->spin_us);
	uring_stop_worker();
	if (serve_rc == 0 && !ops_config.initialized) {
		log_msg("the mount ended before the kernel's INIT was answered (see above)");
		serve_rc = -EPROTO;
	}
	control_stop();
	int took = lock_enter();
	request_cancel_waiting();
	lock_leave(took);
	workers_join();
	notify_stop();
	rc = serve_rc == 0 ? 0 : 1;
	if (rc)
		log_msg("reading the FUSE device failed: %s", strerror(-serve_rc));
	if (cl->log_stats)
		stats_log();
out_unmount:
	fuse_session_unmount(se);
out_destroy:
	fuse_session_destroy(se);
	loop_close();
	files_free_unreleased();
	bridge_close();
	nodes_destroy();
	request_free_pool();
	free(ops_config.conn_opts);
	return rc;
}
