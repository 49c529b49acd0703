#define _GNU_SOURCE
#include "beneath.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_openat2
#define SYS_openat2 437
#endif

#define RESOLVE_FLAGS (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)

/* openat2 refuses flag bits it does not know (EINVAL) where openat ignores
 * them; the kernel's FUSE open flags can carry such bits (__FMODE_EXEC when
 * a binary is executed), so unknown bits are dropped. */
#define KNOWN_OPEN_FLAGS                                                                   \
	(O_ACCMODE | O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_APPEND | O_NONBLOCK | O_DSYNC | \
	 O_SYNC | FASYNC | O_DIRECT | O_LARGEFILE | O_DIRECTORY | O_NOFOLLOW | O_NOATIME |     \
	 O_CLOEXEC | O_PATH | O_TMPFILE)

/* 1 once openat2 failed with ENOSYS; MOONFS_NO_OPENAT2=1 starts with it
 * (the specs run the attacks on both paths). */
static int openat2_missing = -1;

/* Without openat2 (Linux before 5.6, or valgrind, which does not know the
 * call) the same rules by hand: one component at a time, each opened
 * O_NOFOLLOW relative to the last. ".." is refused outright (EXDEV); paths
 * from the kernel never contain it. */
static int open_by_walking(int dirfd, const char *path, int flags, mode_t mode)
{
	char name[NAME_MAX + 1];
	int fd = dirfd;
	if (!*path) {
		errno = ENOENT;
		return -1;
	}
	for (;;) {
		while (*path == '/')
			path++;
		size_t len = strcspn(path, "/");
		const char *rest = path + len;
		while (*rest == '/')
			rest++;
		int last = *rest == '\0';
		int next;
		if (len > NAME_MAX) {
			errno = ENAMETOOLONG;
			next = -1;
		} else if (len == 2 && path[0] == '.' && path[1] == '.') {
			errno = EXDEV;
			next = -1;
		} else {
			memcpy(name, len ? path : ".", len ? len : 1);
			name[len ? len : 1] = '\0';
			next = last ? openat(fd, name, flags | O_NOFOLLOW, mode)
				    : openat(fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		}
		if (fd != dirfd) {
			int err = errno;
			close(fd);
			errno = err;
		}
		if (next < 0 || last)
			return next;
		fd = next;
		path = rest;
	}
}

/* One open of a path shorter than PATH_MAX: beneath dirfd, or plain for
 * AT_FDCWD. */
static int open_once(int dirfd, const char *path, int flags, mode_t mode)
{
	if (dirfd == AT_FDCWD)
		return openat(dirfd, path, flags, mode);
	int creating = (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
	if (openat2_missing < 0) {
		const char *forced = getenv("MOONFS_NO_OPENAT2");
		openat2_missing = forced && strcmp(forced, "1") == 0;
	}
	if (!openat2_missing) {
		struct open_how how = {
			.flags = (uint64_t)(unsigned)flags,
			/* openat2 refuses a mode without O_CREAT, or with type bits */
			.mode = creating ? (mode & 07777) : 0,
			.resolve = RESOLVE_FLAGS,
		};
		int fd = (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
		if (fd >= 0 || errno != ENOSYS)
			return fd;
		openat2_missing = 1;
	}
	return open_by_walking(dirfd, path, flags, mode);
}

/* Opens (O_PATH) the directory named by the first `len` bytes of `path`,
 * in pieces shorter than PATH_MAX. Returns dirfd itself when len is 0.
 * -1 with errno on failure. */
static int open_directory(int dirfd, const char *path, size_t len)
{
	char piece[PATH_MAX];
	int fd = dirfd;
	while (len > 0) {
		size_t n = len;
		if (n >= PATH_MAX) {
			/* the last '/' that leaves a piece the kernel accepts */
			const char *cut = memrchr(path, '/', PATH_MAX - 1);
			if (!cut || cut == path) {
				errno = ENAMETOOLONG; /* one name longer than any filesystem allows */
				goto fail;
			}
			n = (size_t)(cut - path);
		}
		memcpy(piece, path, n);
		piece[n] = '\0';
		int next = open_once(fd, piece, O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
		if (next < 0)
			goto fail;
		if (fd != dirfd)
			close(fd);
		fd = next;
		path += n;
		len -= n;
		while (len > 0 && *path == '/') {
			path++;
			len--;
		}
	}
	return fd;
fail:
	if (fd != dirfd) {
		int err = errno;
		close(fd);
		errno = err;
	}
	return -1;
}

int beneath_parent(int dirfd, const char *path, struct beneath *at)
{
	at->dirfd = dirfd;
	at->name = path;
	at->opened = -1;
	size_t len = strlen(path);
	if (dirfd == AT_FDCWD && len < PATH_MAX)
		return 0; /* a plain path, for the kernel to resolve as usual */
	if (dirfd != AT_FDCWD && path[0] == '/') {
		errno = EXDEV; /* an absolute path leaves any directory */
		return -1;
	}
	const char *slash = strrchr(path, '/');
	size_t dir_len = slash ? (size_t)(slash - path) : 0;
	at->name = slash ? slash + 1 : path;
	if (strcmp(at->name, "..") == 0) {
		/* "a/..": the directory it names is the object; act on "." in it */
		dir_len = len;
		at->name = ".";
	}
	if (dir_len == 0 && slash == path) {
		errno = ENAMETOOLONG; /* "/" and one name longer than PATH_MAX */
		return -1;
	}
	int fd = open_directory(dirfd, path, dir_len);
	if (fd < 0)
		return -1;
	if (fd != dirfd)
		at->opened = at->dirfd = fd;
	return 0;
}

void beneath_done(struct beneath *at)
{
	if (at->opened >= 0) {
		int err = errno;
		close(at->opened);
		errno = err;
		at->opened = -1;
	}
}

int beneath_open(int dirfd, const char *path, int flags, mode_t mode)
{
	flags = (flags & KNOWN_OPEN_FLAGS) | O_CLOEXEC;
	if (flags & O_PATH) /* the only flags openat2 accepts with O_PATH */
		flags &= O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
	if (strlen(path) < PATH_MAX)
		return open_once(dirfd, path, flags, mode);
	struct beneath at;
	if (beneath_parent(dirfd, path, &at) != 0)
		return -1;
	int fd = open_once(at.dirfd, at.name[0] ? at.name : ".", flags, mode);
	beneath_done(&at);
	return fd;
}

int beneath_object(int dirfd, const char *path, int *owned)
{
	*owned = 0;
	if (path[0] == '\0')
		return dirfd;
	int fd = beneath_open(dirfd, path, O_PATH | O_NOFOLLOW, 0);
	if (fd >= 0)
		*owned = 1;
	return fd;
}
