/* A backing object's stat, with a FUSE generation: for moonfs.sys and for
 * the READDIRPLUS replies the host fills from a backing directory itself. */
#ifndef MOONFS_OBJECT_STAT_H
#define MOONFS_OBJECT_STAT_H

#include <stdint.h>
#include <sys/stat.h>

/* statx of name relative to dirfd (flags as statx takes them) into *st;
 * *generation tells the object from an earlier one that had the same
 * inode number (0: the filesystem keeps no birth time). 0, or -1 with
 * errno. */
int object_stat(int dirfd, const char *name, int flags, struct stat *st, uint32_t *generation);

#endif
