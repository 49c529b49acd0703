/* The FUSE operations: one short function each, in ops_*.c. Arguments
 * in, one call of the script's handler through the request layer, one
 * reply. */
#ifndef MOONFS_OPS_H
#define MOONFS_OPS_H

#include <fuse_lowlevel.h>

/* The table handed to fuse_session_new. */
extern const struct fuse_lowlevel_ops moonfs_ops;

/* Settings the operations need; filled from the command line. */
struct fuse_conn_info_opts;

struct ops_config {
	double entry_timeout;
	double attr_timeout;
	double negative_timeout;
	struct fuse_conn_info_opts *conn_opts; /* from -o, applied at INIT */
	unsigned max_read;                     /* -o max_read=, 0: none */
	int initialized;                       /* INIT was answered */
	int kernel_acls;                       /* the kernel keeps POSIX ACLs */
};
extern struct ops_config ops_config;

#endif
