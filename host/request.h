/* One FUSE request, from the moment libfuse hands it over until its one
 * reply. A request is an object of its own: it holds the nodes it is
 * about, owns copies of its paths and names, and can outlive the C call
 * that received it (its handler's results are taken in a finish step that
 * may run later). Every reply goes through here, exactly once, and ends
 * the request: counters, trace, holds and memory in one place. */
#ifndef MOONFS_REQUEST_H
#define MOONFS_REQUEST_H

#include <fuse_lowlevel.h>
#include <fcntl.h>
#include <stdint.h>

#include "bridge.h"
#include "nodes.h"
#include "oplist.h"
#include "trace.h"

struct open_file;

/* A path built for a handler: in the request itself when short. */
struct request_path {
	char *s;
	size_t len;
	char small[240];
};

struct request {
	fuse_req_t req;
	enum op op;
	struct node *node;  /* what the request is about, held while it lives */
	struct node *node2; /* the second node of rename and link, held too */
	struct open_file *of; /* the open it concerns, if any */
	struct request_path path, path2;
	const char *name, *name2; /* the last names, inside path and path2 */
	size_t name_len, name2_len;
	struct fuse_file_info fi; /* a copy, for the reply */
	/* Arguments the finish step still needs. */
	uint64_t size;
	int64_t offset;
	unsigned flags;
	mode_t mode;
	/* The generation the script gave with the stat read last (0: none),
	 * for a node made from that stat. */
	uint32_t generation;
	/* Finding a node by its id for a file handle (ops_handles.c): the path
	 * being walked, how far, and the node reached so far (held). */
	char *walk_path;
	size_t walk_at;
	struct node *walk_node;
	struct bridge_caller caller;
	struct bridge_call call;
	void (*finish)(struct request *r, int rc);
	/* For operations that ask getattr on their way (lookup, create, ...). */
	void (*stat_done)(struct request *r, int err, struct stat *st);
	struct trace_record trace;
	uint64_t started;  /* for the latency counters */
	uint64_t lua_ns;   /* time its handler calls ran */
	unsigned interrupted : 1;
	int worker;          /* whose Lua state runs its handlers */
	struct request *next_free;
	struct request *prev_waiting, *next_waiting; /* while its handler waits */
};

/* Starts a request: counts it, notes its caller, starts its trace line. */
struct request *request_begin(fuse_req_t req, enum op op);

/* Builds the path of node n (or of its child `name`) for the handler into
 * r->path (request_path2: r->path2) and holds n. Returns 0, or -1 after
 * replying: ENAMETOOLONG for a name over 255 bytes, ENOENT for a node that
 * has lost its names unless `through_handle` (see nodes_path_into). */
int request_path(struct request *r, struct node *n, const char *name, int through_handle);
int request_path2(struct request *r, struct node *n, const char *name);

/* Sets r->path to the len bytes at s, for a handler call on a path the
 * request found itself. Returns 0, or -1 after replying ENOMEM. */
int request_path_text(struct request *r, const char *s, size_t len);

/* Holds n for the request without building a path. */
void request_hold(struct request *r, struct node *n);

/* The open the request is about (NULL: none), held while it lives. */
void request_use_open(struct request *r, struct open_file *of);

/* Calls the script's handler for `handler` (usually r->op; lookup asks
 * getattr) with the arguments of `fmt` (see bridge_call), then
 * finish(r, rc) with the handler's result count or -errno; the results
 * are readable in finish through r->call until the reply or the next
 * call. finish must reply or call again. */
void request_call(struct request *r, enum op handler, void (*finish)(struct request *r, int rc),
		  const char *fmt, ...);

/* The replies. Each ends the request; the ones that hand the kernel a
 * reference (entry, create, open) return what libfuse returned, -ENOENT
 * when the request was interrupted and the reference was not taken. */
void request_reply_err(struct request *r, int err);
void request_reply_none(struct request *r);
void request_reply_attr(struct request *r, const struct stat *st, double timeout);
int request_reply_entry(struct request *r, const struct fuse_entry_param *e);
int request_reply_open(struct request *r, uint32_t backing_id);
int request_reply_create(struct request *r, const struct fuse_entry_param *e, uint32_t backing_id);
/* -ENOENT when the request was interrupted (a READDIRPLUS reply then
 * hands the kernel no references). */
int request_reply_buf(struct request *r, const char *data, size_t len);
void request_reply_readlink(struct request *r, const char *target);
void request_reply_write(struct request *r, size_t written);
void request_reply_statfs(struct request *r, const struct statvfs *sv);
void request_reply_xattr_size(struct request *r, size_t size);
void request_reply_lock(struct request *r, const struct flock *lock);
void request_reply_lseek(struct request *r, off_t off);
void request_reply_ioctl(struct request *r, int result, const void *data, size_t len);
/* Reads size bytes at off from fd (at its own position when !seekable)
 * and replies with them. */
void request_reply_from_fd(struct request *r, int fd, size_t size, off_t off, int seekable);

/* At the end of serving: every request whose handler still waits is
 * cancelled and answered (EINTR). */
void request_cancel_waiting(void);

/* Frees the pool of finished requests (at exit). */
void request_free_pool(void);

#endif
