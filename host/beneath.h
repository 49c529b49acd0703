/* Paths resolved beneath a directory fd, never following a symlink.
 *
 * A mirror run by root acts for other users on a tree those users can
 * change behind its back: a directory swapped for a symlink between the
 * kernel's lookup and the host's call would otherwise steer a plain *at()
 * call outside the tree, or onto another user's files inside it. The
 * kernel resolves symlinks itself before a request reaches a script, so a
 * symlink in the middle of a request's path is always such a swap.
 *
 * So every call here first opens the parent directory with openat2
 * (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS) and then
 * acts on the final name relative to that fd, with the *at() call's own
 * no-follow form. A swap is answered with ELOOP (a symlink on the way) or
 * EXDEV (an escape), never with an action elsewhere. Where openat2 is
 * missing (Linux before 5.6, valgrind) the path is walked one component
 * at a time with O_NOFOLLOW instead, ".." refused.
 *
 * dirfd AT_FDCWD keeps the plain meaning of a path (the script's own
 * business: /proc, its own files). Paths longer than PATH_MAX are walked
 * in pieces, since a mount's tree can be deeper than the kernel accepts in
 * one path. */
#ifndef MOONFS_BENEATH_H
#define MOONFS_BENEATH_H

#include <sys/types.h>

/* A (directory fd, final name) pair ready for an *at() call. */
struct beneath {
	int dirfd;        /* the directory holding `name` */
	const char *name; /* no '/'; "" means dirfd itself (AT_EMPTY_PATH) */
	int opened;       /* an fd to close in beneath_done, or -1 */
};

/* Resolves `path` relative to `dirfd` into *at. Returns 0, or -1 with
 * errno. The name points into `path`, which must outlive *at. */
int beneath_parent(int dirfd, const char *path, struct beneath *at);

/* Closes what beneath_parent opened, keeping errno. */
void beneath_done(struct beneath *at);

/* open(2) of `path` beneath `dirfd`: no symlink anywhere, no escape.
 * O_CLOEXEC always. Unknown flag bits are dropped (openat2 refuses them
 * where openat ignored them). -1 with errno on failure. */
int beneath_open(int dirfd, const char *path, int flags, mode_t mode);

/* An O_PATH fd of the object at `path` itself (a symlink is not
 * followed), or `dirfd` when `path` is "". *owned says whether the caller
 * must close it. -1 with errno on failure. */
int beneath_object(int dirfd, const char *path, int *owned);

#endif
