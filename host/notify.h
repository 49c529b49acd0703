/* Telling the kernel that something changed behind its back (another
 * mount, a server, a timer): cached attributes and data of a file, or a
 * name, are dropped. The notifications are written from a thread of their
 * own: the kernel takes the directory's lock to drop a name, and a request
 * in that directory whose handler waits may hold it, so writing them from
 * the loop could block the very handler that would release it. */
#ifndef MOONFS_NOTIFY_H
#define MOONFS_NOTIFY_H

#include <fuse_lowlevel.h>

int notify_start(struct fuse_session *se);
void notify_stop(void);

/* Queue a notification; 0, or -1 when the host is not serving. */
int notify_inode(fuse_ino_t ino);
int notify_entry(fuse_ino_t parent, const char *name, size_t len);

/* Makes the kernel ask for the inode's attributes again, written at once
 * so that the reply that follows is not overtaken: for a change the
 * request's own caller must see. 0, or -1. */
int notify_attributes_now(fuse_ino_t ino);

#endif
