/* The C/Lua boundary: the lua_State, the script's handlers, and the one
 * gateway through which every call into Lua passes (protected, with a
 * traceback). Arguments go in by a short format, results come out through
 * typed readers that check them; nothing else in the host calls lua_*
 * (the Lua modules moonfs.core and moonfs.sys aside). */
#ifndef MOONFS_BRIDGE_H
#define MOONFS_BRIDGE_H

#include <fuse_lowlevel.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/stat.h>

#include "oplist.h"

/* Script options from -o: parallel arrays of keys and values (value NULL
 * for a bare flag). */
struct script_options {
	int count;
	const char **keys;
	const char **values;
};

/* ---- the script ---- */

struct bridge_settings {
	const struct script_options *options;
	size_t memory_limit;   /* bytes Lua may use; 0: no limit */
	int jit;               /* compile the script's own code with the JIT */
	struct uv_loop_s *loop; /* for require "luv"; NULL: none (--check) */
};

/* Creates the state, loads the script and reads its handler table.
 * `script` is an absolute path and `start_dir` the directory the host was
 * started in (moonfs.cwd): both stay right after the host leaves it.
 * Problems are logged; returns the number of warnings (>= 0), or -1 when
 * the script cannot be used. */
int bridge_open(const char *script, const char *start_dir, const struct bridge_settings *settings);
void bridge_close(void);

/* Re-runs the script and swaps in its handlers; on failure the old ones
 * stay. Returns 0 or -1 (the error is logged). */
int bridge_reload(void);

const char *bridge_start_dir(void);
int bridge_has(enum op op);

/* The script's `timeout` key, or -1 when it has none. */
double bridge_script_timeout(void);

/* The script checks permissions itself: `checks_permissions = true` and an
 * access handler. */
int bridge_script_checks_permissions(void);

/* How many workers the script says it may run on (its `workers` key): a
 * number, -1 for "cpus" (one per CPU), 0 when it says nothing (its state
 * is in Lua: one worker). */
int bridge_script_workers(void);

/* The script asks for POSIX ACLs (`posix_acl = true`): the kernel keeps
 * them from the system.posix_acl_* xattrs and leaves the umask to the
 * script, which gets it as moonfs.caller().umask. */
int bridge_script_posix_acl(void);

/* The script applies the caller's umask to new objects itself
 * (`applies_umask = true`, implied by posix_acl), so the kernel sends
 * modes unmasked and a directory's default ACL can apply. */
int bridge_script_applies_umask(void);

/* ---- kept values ---- */

/* A Lua value the host holds on to (a handle from open), by registry
 * reference. */
typedef int bridge_ref;
#define BRIDGE_NOREF (-2)
/* An fd the script handed over goes back to its handlers as the plain
 * number, which every worker's Lua state can take (workers.c): such a
 * handle is a number, not a reference into one state's registry. */
#define BRIDGE_FD_HANDLE(fd) (-16 - (fd))
#define BRIDGE_IS_FD_HANDLE(ref) ((ref) <= -16)
#define BRIDGE_HANDLE_FD(ref) (-16 - (ref))
void bridge_unref(bridge_ref ref);

/* ---- calls ---- */

/* Who made the request being served, for moonfs.caller() and groups(). */
/* An object whose owner and mode the kernel checked the caller against:
 * the request's own, or the directory of a name it makes or removes. The
 * handler knows it by the first len bytes of path (not owned: valid while
 * the request lives); dev, ino and generation are what the script gave
 * with its stat (ino 0: none given, nothing to compare). */
struct bridge_checked {
	const char *path;
	size_t len;
	uint64_t dev, ino, generation;
};

struct bridge_caller {
	fuse_req_t req;
	uid_t uid;
	gid_t gid;
	pid_t pid;
	mode_t umask;
	struct bridge_checked checked[2]; /* by the handler's first and second path */
};

/* One call of a script handler, in a coroutine of its own. Its results
 * stay readable until bridge_done. */
struct bridge_call {
	enum op op;
	const char *path;  /* for messages */
	const struct bridge_caller *caller;
	struct lua_State *thread; /* the coroutine; the results are at 1 ... */
	int thread_ref;
	int base;          /* always 0: the results start at base + 1 */
	int nresults;
	int timed;         /* measure the time in Lua (for the trace) */
	uint64_t lua_ns;
	unsigned waiting : 1; /* suspended in moonfs.await */
	unsigned dead : 1;    /* raised: the coroutine cannot be used again */
	unsigned cancelled : 1; /* woken by bridge_cancel */
	/* When a call that waited ends: its result, as bridge_call returns. */
	void (*done)(struct bridge_call *c, int rc);
};

/* bridge_call's answer when the handler waits: the host goes on, and
 * c->done(c, rc) comes once the handler has ended. */
#define BRIDGE_WAITING (-0x7fff)

/* Calls the script's handler for `op`. `path` only names the call in
 * messages. The arguments follow `fmt`, one letter each:
 *   s  const char *               a string
 *   l  const char *, size_t       bytes
 *   i  int                        a whole number
 *   u  uint64_t                   a size or offset
 *   b  int                        a boolean
 *   h  bridge_ref                 a kept value (nil for BRIDGE_NOREF)
 *   A  int valid, const struct stat *   setattr's table of changes
 *   L  const struct flock *, uint64_t owner   a lock table
 * Returns the number of results (trailing nils dropped), or -errno: the
 * one the handler returned with `nil, err`; -EIO when it raised or gave an
 * error that is not an errno (logged); -ENOSYS when the script has no such
 * handler; or BRIDGE_WAITING. Every call, failed or not, ends with
 * bridge_done. */
int bridge_call(struct bridge_call *c, enum op op, const char *path, const char *fmt, ...);
int bridge_vcall(struct bridge_call *c, enum op op, const char *path, const char *fmt, va_list ap);
void bridge_done(struct bridge_call *c);

/* The request of a waiting call was interrupted: its handler gets an
 * error at its wait point (which it may catch to clean up), and c->done
 * follows once it has ended. */
void bridge_cancel(struct bridge_call *c);

/* Calls a handler that takes no arguments and returns nothing useful
 * (init, destroy). */
void bridge_call_simple(enum op op);

/* The caller of the handler running now, or NULL. */
const struct bridge_caller *bridge_current_caller(void);

/* ---- results ----
 * Result i counts from 1. Each reader checks what it reads; on a wrong
 * value it logs a line naming the handler, the path and the problem, and
 * returns -EIO. */

enum bridge_kind { BRIDGE_NONE, BRIDGE_TABLE, BRIDGE_STAT, BRIDGE_OTHER };

/* Whether result i is missing (nil), a stat (table or moonfs stat value),
 * or something else. */
enum bridge_kind bridge_result_kind(const struct bridge_call *c, int i);

/* A stat, and (generation not NULL) its generation: 0 when the script
 * gave none. */
int bridge_result_stat(const struct bridge_call *c, int i, struct stat *st, uint32_t *generation);
struct statvfs;
int bridge_result_statvfs(const struct bridge_call *c, int i, struct statvfs *sv);

/* A string; *data stays valid until bridge_done. `need` says what the
 * handler must return, for the message. */
int bridge_result_bytes(const struct bridge_call *c, int i, const char **data, size_t *len,
			const char *need);

/* A whole number from 0 to max. */
int bridge_result_count(const struct bridge_call *c, int i, uint64_t max, uint64_t *out,
			const char *need);

/* A reference to result i (BRIDGE_NOREF for nil). */
bridge_ref bridge_result_keep(const struct bridge_call *c, int i);

/* What open, create and opendir returned: a handle, or an fd handed over
 * with moonfs.fd(fd), with options, and (create) the new file's stat. */
struct open_result {
	bridge_ref handle; /* the value as the script's handlers see it */
	int fd;            /* the fd handed over, or -1 */
	unsigned direct_io : 1, keep_cache : 1, nonseekable : 1, has_stat : 1;
	struct stat st;
	uint32_t generation;
};
int bridge_result_open(const struct bridge_call *c, struct open_result *out);

/* A directory listing in C memory: readdir's names, and the types, inode
 * numbers and stats where the script gave them. */
struct listing {
	uint32_t count;
	struct listing_entry {
		uint64_t ino;      /* 0: none given */
		uint32_t name_at;  /* offset in names */
		uint16_t name_len;
		uint16_t type;     /* S_IFMT bits >> 12, 0: unknown */
	} *entries;
	char *names;               /* each name NUL-terminated */
	/* NULL, or one per entry (st_mode 0 where the script gave none) */
	struct listing_attr {
		struct stat st;
		uint32_t generation;
	} *attrs;
	/* stats_from_dir: attributes come from statting names beneath
	 * stat_dirfd (the listing owns it) when a reply hands them over */
	int stats_from_dir, stat_dirfd;
};
/* Reads readdir's results (names, types, inos, stats); bad entries are
 * skipped and logged. */
int bridge_result_listing(const struct bridge_call *c, struct listing *out);
void bridge_listing_free(struct listing *l);

/* listxattr's names joined with NUL terminators, in memory the caller
 * frees; bad names are skipped and logged. */
int bridge_result_names(const struct bridge_call *c, int i, char **list, size_t *len);

/* A lock table (getlk's answer) into *lock; nil is "no lock in the way"
 * (F_UNLCK). */
struct flock;
int bridge_result_lock(const struct bridge_call *c, int i, struct flock *lock);

/* Logs that the handler of `c` returned something unusable; returns -EIO. */
int bridge_bad_result(const struct bridge_call *c, const char *why);

#endif
