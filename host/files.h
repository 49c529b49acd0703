/* Open files and directories: what the script's open handed back (an fd
 * or a handle of its own), how the kernel is told to serve the data
 * (passthrough, the page cache, direct I/O), and the host's own data path
 * for fds the kernel cannot pass through.
 *
 * Ownership: an fd handed over with moonfs.fd(fd) belongs to the host from
 * then on; it is closed at release (or at once when it cannot be used).
 * The host refuses fds it owns itself (standard input, output and error,
 * the FUSE device, its log) and fds another open already holds. */
#ifndef MOONFS_FILES_H
#define MOONFS_FILES_H

#include <fuse_lowlevel.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "bridge.h"
#include "nodes.h"

struct open_file {
	struct node *node;
	int worker;           /* whose Lua state holds the handle (workers.c) */
	int fd;               /* the fd handed over, or -1 */
	bridge_ref handle;    /* what the script's handlers get as fh */
	struct listing listing; /* directories: the names of this pass */
	int listed;           /* listing holds a pass */
	struct open_file *next_of_node;
	unsigned passthrough : 1; /* data goes through the backing file */
	unsigned cached : 1;      /* data goes through the page cache */
	unsigned sequential : 1;  /* a pipe, socket or tty: no offsets */
	unsigned regular : 1;     /* the fd is a regular file */
	unsigned linked : 1;      /* listed on its node */
	unsigned writable : 1;    /* opened for writing */
	unsigned over : 1;        /* released, or never handed to the kernel */
	unsigned refs;            /* the open itself, and requests that use it */
};

/* A new open of n. files_free ends it: off its node's list, and freed
 * (its fd closed, its handle let go) once no request uses it any more. */
struct open_file *files_new(struct node *n);
void files_free(struct open_file *of);

/* A request that may outlive the open's release keeps it alive. */
void files_hold(struct open_file *of);
void files_drop(struct open_file *of);

/* The open of a request (NULL when the kernel names none). */
static inline struct open_file *files_of(const struct fuse_file_info *fi)
{
	return fi ? (struct open_file *)(uintptr_t)fi->fh : NULL;
}

/* The open a request is about: its own, or, for a node that has lost its
 * names, an open of it that holds a script handle (fstat and fchmod come
 * without one, and the old path may name another file by now). */
struct open_file *files_handle_for(struct node *n, const struct fuse_file_info *fi);

/* Whether this worker's handlers can be given the open's handle: an fd
 * is a number any worker can take; any other handle lives in the Lua
 * state of the worker that opened it. */
int files_handle_here(const struct open_file *of);

/* The worker that must serve a request on `of`: the one whose Lua state
 * holds its handle, or -1 when any will do. */
int files_owner(const struct open_file *of);

/* Whether a handler can reach the object through the open's handle
 * rather than by its path. */
static inline int files_reachable(const struct open_file *of)
{
	return of && of->handle != BRIDGE_NOREF;
}

/* Takes the fd that call c's handler handed over, for an open with
 * `flags` (of a directory: the fd must be one; of a file: it must not).
 * Returns 0, or -EIO after logging why it cannot be used. */
int files_take_fd(struct open_file *of, int fd, int flags, const struct bridge_call *c);

/* Lists the open on its node (files_start does it for files). */
void files_link(struct open_file *of);

/* Decides how the open is served and sets fi's flags for the reply:
 * passthrough for an fd the kernel accepts; otherwise the page cache, or
 * direct I/O beside passthrough opens of the same inode (the kernel allows
 * no other mix). Returns the backing id the reply must carry, or 0. */
uint32_t files_start(struct open_file *of, struct fuse_file_info *fi, int direct_io);

/* At RELEASE, or when the kernel did not take the open: drops its counts
 * and, at the inode's last passthrough open, the backing file. */
void files_release(struct open_file *of);

/* The host's data path for fds it serves itself. */
ssize_t files_write(struct open_file *of, const char *buf, size_t size, off_t off);

/* The host's own fds: the first call marks every fd open now; later calls
 * mark the fds opened since the previous call when `claim` is set, and
 * only note them (the script's own) when it is not. */
void files_claim_fds(int claim);

/* fd is the host's (one it opened after files_claim_fds: an io_uring
 * ring). Under the host lock. */
void files_claim_fd(int fd);

/* Frees the opens the kernel never released (at exit). */
void files_free_unreleased(void);

#endif
