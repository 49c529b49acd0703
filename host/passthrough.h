/* FUSE passthrough on libfuse 3.14, which has no API for it: backing files
 * are registered with ioctls on the session fd, and device.c adds the
 * bits to the INIT and OPEN/CREATE replies.
 *
 * Rules kept here (fs/fuse/iomode.c): one backing id per inode, shared by
 * all its passthrough opens and closed at the last release; an inode open
 * in passthrough mode only admits further passthrough or direct_io opens,
 * and one open through the page cache admits no passthrough open. */
#ifndef MOONFS_PASSTHROUGH_H
#define MOONFS_PASSTHROUGH_H

#include <fuse_lowlevel.h>
#include <stdint.h>

#include "nodes.h"

/* One open file or directory, kept in fi->fh. */
struct open_file {
	struct node *node;
	int fd;             /* the fd the script returned, -1 for none */
	int handle_ref;     /* the script's handle (or the fd as a number) */
	int entries_ref;    /* directories: {names, types, inos} of the pass */
	uint32_t entry_count;
	struct open_file *next_of_node; /* the node's other open files */
	unsigned passthrough : 1; /* data goes through the backing file */
	unsigned cached : 1;      /* data goes through the page cache */
};

/* -o nopassthrough gives want = 0; `shared` is set when other users may
 * use the mount (allow_other). */
void passthrough_configure(int want, int shared);

/* Called from the INIT handler: negotiates and says once whether
 * passthrough is available and, if not, why. */
void passthrough_init(struct fuse_conn_info *conn);

/* Decides how an open is served and sets fi's flags: passthrough for an fd
 * the kernel accepts, else the host serves the fd (or Lua serves the
 * handle). Must be followed by passthrough_reply_open/create. */
void passthrough_open(struct open_file *of, struct fuse_file_info *fi, int script_direct_io);

/* Send the reply, marked for passthrough when the open is. */
int passthrough_reply_open(fuse_req_t req, struct open_file *of, struct fuse_file_info *fi);
int passthrough_reply_create(fuse_req_t req, const struct fuse_entry_param *e,
			     struct open_file *of, struct fuse_file_info *fi);

/* At RELEASE: drops the open's counts and, at the inode's last, its
 * backing id. */
void passthrough_release(struct open_file *of);

/* Read and write served by the host from the open's fd. */
void passthrough_read(fuse_req_t req, struct open_file *of, size_t size, off_t off);
void passthrough_write(fuse_req_t req, struct open_file *of, const char *buf, size_t size,
		       off_t off);

#endif
