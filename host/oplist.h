/* The operations the host serves. One list drives the handler names, the
 * request counters and the trace, so they cannot drift apart. It sits at
 * the bottom: everything may include it, it includes nothing of ours. */
#ifndef MOONFS_OPLIST_H
#define MOONFS_OPLIST_H

/* X(name, is_script_handler) */
#define MOONFS_OPS(X) \
	X(init, 1) X(destroy, 1) X(lookup, 0) X(forget, 0) X(getattr, 1) X(setattr, 1) \
	X(readlink, 1) X(mknod, 1) X(mkdir, 1) X(unlink, 1) X(rmdir, 1) X(symlink, 1) \
	X(rename, 1) X(link, 1) X(open, 1) X(create, 1) X(read, 1) X(write, 1) X(flush, 1) \
	X(release, 1) X(fsync, 1) X(opendir, 1) X(readdir, 1) X(releasedir, 1) \
	X(fsyncdir, 1) X(statfs, 1) X(setxattr, 1) X(getxattr, 1) X(listxattr, 1) \
	X(removexattr, 1) X(access, 1) X(fallocate, 1) X(lseek, 1) X(copy_file_range, 1) \
	X(ioctl, 1) X(getlk, 1) X(setlk, 1) X(flock, 1) X(tmpfile, 1) \
	X(locate, 1)

enum op {
#define OP_ENUM(name, handler) OP_##name,
	MOONFS_OPS(OP_ENUM)
#undef OP_ENUM
	OP_COUNT
};

extern const char *const op_names[OP_COUNT];
extern const unsigned char op_is_handler[OP_COUNT];

#endif
