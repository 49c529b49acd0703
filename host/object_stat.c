/* statx into a struct stat, with a generation from the birth time. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "object_stat.h"

/* statx rather than fstatat, at the same cost, for the birth time: it
 * tells a file from an earlier one that had the same inode number, which
 * is what a FUSE generation must do (file handles, NFS). 0: no birth time. */
int object_stat(int dirfd, const char *name, int flags, struct stat *st, uint32_t *generation)
{
	struct statx x;
	if (statx(dirfd, name, flags, STATX_BASIC_STATS | STATX_BTIME, &x) != 0)
		return -1;
	memset(st, 0, sizeof *st);
	st->st_dev = makedev(x.stx_dev_major, x.stx_dev_minor);
	st->st_ino = x.stx_ino;
	st->st_mode = x.stx_mode;
	st->st_nlink = x.stx_nlink;
	st->st_uid = x.stx_uid;
	st->st_gid = x.stx_gid;
	st->st_rdev = makedev(x.stx_rdev_major, x.stx_rdev_minor);
	st->st_size = (off_t)x.stx_size;
	st->st_blksize = (blksize_t)x.stx_blksize;
	st->st_blocks = (blkcnt_t)x.stx_blocks;
	st->st_atim = (struct timespec){ x.stx_atime.tv_sec, x.stx_atime.tv_nsec };
	st->st_mtim = (struct timespec){ x.stx_mtime.tv_sec, x.stx_mtime.tv_nsec };
	st->st_ctim = (struct timespec){ x.stx_ctime.tv_sec, x.stx_ctime.tv_nsec };
	*generation = 0;
	if (x.stx_mask & STATX_BTIME) {
		uint64_t h = ((uint64_t)x.stx_btime.tv_sec * 1000000007ULL) ^ x.stx_btime.tv_nsec;
		h ^= h >> 31;
		h *= 0x9e3779b97f4a7c15ULL;
		*generation = (uint32_t)(h >> 32) | 1; /* never 0 */
	}
	return 0;
}
