#define _GNU_SOURCE
#include "files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "device.h"
#include "lock.h"
#include "log.h"
#include "passthrough.h"
#include "stats.h"

/* ---- who owns which fd ---- */

enum { FD_FREE, FD_HOST, FD_OPEN, FD_SCRIPT };
static unsigned char *fd_kind;
static size_t fd_cap;

static int fd_kind_of(int fd)
{
	return fd >= 0 && (size_t)fd < fd_cap ? fd_kind[fd] : FD_FREE;
}

static void set_fd_kind(int fd, int kind)
{
	if ((size_t)fd >= fd_cap) {
		size_t cap = fd_cap ? fd_cap : 64;
		while (cap <= (size_t)fd)
			cap *= 2;
		unsigned char *grown = realloc(fd_kind, cap);
		if (!grown)
			return; /* only the check for host fds is weaker */
		memset(grown + fd_cap, FD_FREE, cap - fd_cap);
		fd_kind = grown;
		fd_cap = cap;
	}
	fd_kind[fd] = (unsigned char)kind;
}

void files_claim_fds(int claim)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return;
	int own = dirfd(d);
	for (struct dirent *e; (e = readdir(d));) {
		int fd = atoi(e->d_name);
		if (e->d_name[0] != '.' && fd != own && fd_kind_of(fd) == FD_FREE)
			set_fd_kind(fd, claim ? FD_HOST : FD_SCRIPT);
	}
	closedir(d);
}

void files_claim_fd(int fd)
{
	set_fd_kind(fd, FD_HOST);
}

static const char *host_fd_name(int fd)
{
	if (fd == 0)
		return "its standard input";
	if (fd == 1)
		return "its standard output";
	if (fd == 2)
		return "its standard error";
	if (fd == device_fd())
		return "the FUSE device";
	return "one of its own files (log, trace, event loop, io_uring ring)";
}

/* ---- opens ---- */

struct open_file *files_new(struct node *n)
{
	struct open_file *of = calloc(1, sizeof *of);
	if (!of)
		return NULL;
	of->node = n;
	of->worker = lock_worker();
	of->fd = -1;
	of->handle = BRIDGE_NOREF;
	of->refs = 1; /* the open itself, until it is released */
	return of;
}

void files_hold(struct open_file *of)
{
	of->refs++;
}

void files_drop(struct open_file *of)
{
	if (--of->refs > 0)
		return;
	if (files_handle_here(of)) /* else its worker's state is gone (at exit) */
		bridge_unref(of->handle);
	bridge_listing_free(&of->listing);
	if (of->fd >= 0) {
		set_fd_kind(of->fd, FD_FREE);
		close(of->fd);
	}
	free(of);
}

static void unlink_from_node(struct open_file *of)
{
	struct open_file **p = &of->node->open_files;
	while (*p && *p != of)
		p = &(*p)->next_of_node;
	if (*p)
		*p = of->next_of_node;
}

void files_free(struct open_file *of)
{
	if (!of || of->over)
		return;
	of->over = 1;
	if (of->node && of->linked)
		unlink_from_node(of);
	files_drop(of);
}

int files_handle_here(const struct open_file *of)
{
	return BRIDGE_IS_FD_HANDLE(of->handle) || of->worker == lock_worker();
}

int files_owner(const struct open_file *of)
{
	return of->handle == BRIDGE_NOREF || BRIDGE_IS_FD_HANDLE(of->handle) ? -1 : of->worker;
}

struct open_file *files_handle_for(struct node *n, const struct fuse_file_info *fi)
{
	struct open_file *of = files_of(fi);
	if (!of && nodes_unlinked_node(n))
		for (of = n->open_files;
		     of && (of->handle == BRIDGE_NOREF || !files_handle_here(of));
		     of = of->next_of_node)
			;
	return of;
}

/* Refuses fd for `why`; closes it when it was the script's to give. */
static int refuse(int fd, int close_it, const struct bridge_call *c, const char *why)
{
	char msg[200];
	snprintf(msg, sizeof msg, "handed over fd %d, %s", fd, why);
	if (close_it)
		close(fd);
	return bridge_bad_result(c, msg);
}

int files_take_fd(struct open_file *of, int fd, int flags, const struct bridge_call *c)
{
	char why[120];
	switch (fd_kind_of(fd)) {
	case FD_HOST:
		snprintf(why, sizeof why, "which is the host's own (%s)", host_fd_name(fd));
		return refuse(fd, 0, c, why);
	case FD_OPEN:
		return refuse(fd, 0, c, "which another open already holds (each open needs an fd of "
					"its own, which the host closes at release)");
	}
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return refuse(fd, 0, c, "which is not open");
	struct stat st;
	int want_dir = of->node && of->node->type == S_IFDIR;
	if (fstat(fd, &st) != 0 || (S_ISDIR(st.st_mode) && !want_dir))
		return refuse(fd, 1, c, "which is a directory");
	if (want_dir && !S_ISDIR(st.st_mode))
		return refuse(fd, 1, c, "which is not a directory");
	int want = flags & O_ACCMODE, have = fl & O_ACCMODE;
	if ((want != O_RDONLY && have == O_RDONLY) || (want != O_WRONLY && have == O_WRONLY))
		return refuse(fd, 1, c, "without the access mode the caller asked for");
	of->fd = fd;
	of->regular = S_ISREG(st.st_mode);
	/* Pipes, sockets and terminals have no offsets: read and write them
	 * in order. */
	of->sequential = !of->regular && lseek(fd, 0, SEEK_CUR) < 0 && errno == ESPIPE;
	set_fd_kind(fd, FD_OPEN);
	return 0;
}

void files_link(struct open_file *of)
{
	of->next_of_node = of->node->open_files;
	of->node->open_files = of;
	of->linked = 1;
}

uint32_t files_start(struct open_file *of, struct fuse_file_info *fi, int direct_io)
{
	struct node *n = of->node;
	files_link(of);
	of->writable = (fi->flags & O_ACCMODE) != O_RDONLY;
	if (of->fd >= 0 && of->regular && passthrough_available() && !direct_io &&
	    n->cached_opens == 0) {
		if (!n->backing_id)
			n->backing_id = passthrough_register(of->fd);
		if (n->backing_id) {
			of->passthrough = 1;
			n->passthrough_opens++;
			stats.passthrough_opens++;
			return n->backing_id;
		}
	}
	if (of->fd >= 0) {
		stats.fallback_opens++;
		/* The host copies through its own buffers, which O_DIRECT would
		 * require to be aligned; the caller's alignment is kept by the
		 * kernel's direct I/O on the FUSE file. */
		int fl = fcntl(of->fd, F_GETFL);
		if (fl >= 0 && (fl & O_DIRECT))
			fcntl(of->fd, F_SETFL, fl & ~O_DIRECT);
	}
	if (of->sequential) {
		fi->nonseekable = 1;
		direct_io = 1;
	}
	/* A page-cache open of an inode open in passthrough mode fails with
	 * ETXTBSY; direct I/O coexists with it. */
	if (direct_io || n->passthrough_opens > 0) {
		fi->direct_io = 1;
		fi->keep_cache = 0;
		return 0;
	}
	of->cached = 1;
	n->cached_opens++;
	return 0;
}

void files_release(struct open_file *of)
{
	struct node *n = of->node;
	if (of->passthrough)
		n->passthrough_opens--;
	if (of->cached)
		n->cached_opens--;
	of->passthrough = of->cached = 0;
	if (n->backing_id && n->passthrough_opens == 0) {
		passthrough_unregister(n->backing_id);
		n->backing_id = 0;
	}
}

ssize_t files_write(struct open_file *of, const char *buf, size_t size, off_t off)
{
	/* Without the host lock, as a read (request_reply_from_fd). */
	int held = lock_pause();
	ssize_t done = of->sequential ? write(of->fd, buf, size) : pwrite(of->fd, buf, size, off);
	int err = errno;
	lock_resume(held);
	errno = err;
	return done;
}

static void free_opens_of(struct node *n)
{
	while (n->open_files)
		files_free(n->open_files);
}

void files_free_unreleased(void)
{
	nodes_each(free_opens_of);
	free(fd_kind);
	fd_kind = NULL;
	fd_cap = 0;
}
