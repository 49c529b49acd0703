/* moonfs: --check, and mount, serve, clean unmount (the command line is
 * command_line.c). */
#define _GNU_SOURCE
#include <errno.h>
#include <fuse_lowlevel.h>
#include <luajit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bridge.h"
#include "cli.h"
#include "command_line.h"
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

/* Every open through the mount holds an fd of the host until its release,
 * for all the mount's users together: the usual soft limit of 1024 is one
 * user's build away from EMFILE for everyone. The hard limit is what the
 * administrator allows the host. */
static void raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			log_msg("cannot raise the open-file limit: %s", strerror(errno));
	}
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
	raise_fd_limit();
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
	/* A script that keeps ACLs on disk but not in the kernel (the mirror's
	 * acl=no): other users are checked against the mode bits only. */
	if (has_fuse_option(cl, "allow_other") && bridge_script_applies_umask() &&
	    !bridge_script_posix_acl())
		log_msg("allow_other without posix_acl: other users are checked against the mode "
			"bits alone; an ACL entry that denies a user more than they do is not "
			"enforced");

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
	if (!cl->foreground)
		watchdog_stop(); /* no other thread at the fork (watchdog.h) */
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
