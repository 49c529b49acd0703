/* The control socket of a running mount: a Unix socket in the runtime
 * directory, named from the mount point, that `moonfs trace|stats|top|
 * reload|list` talk to. Only the mounting user (and root) can connect.
 *
 * The protocol is a line from the client and the answer until the server
 * closes: "info", "stats", "stats json", "stats raw", "reload", or
 * "trace [ops=a,b] [path=GLOB]", which streams trace lines until the
 * client goes. */
#ifndef MOONFS_CONTROL_H
#define MOONFS_CONTROL_H

#include <stddef.h>
#include <uv.h>

/* The runtime directory: /run/moonfs for root, else
 * $XDG_RUNTIME_DIR/moonfs (or /tmp/moonfs-UID). */
int control_directory(char *buf, size_t size);

/* 0 when dir is a real directory (no symlink) of this user that nobody
 * else can write to; else -1 with *why set. In a shared place such as
 * /tmp another user could otherwise have made it and put a socket of
 * their own where ours is looked for. */
int control_directory_trusted(const char *dir, const char **why);

/* 1 when the process at the other end of a connected socket is this user
 * or root. */
int control_peer_trusted(int fd);

/* The socket of the mount at `mountpoint` (an absolute, resolved path). */
int control_socket_path(const char *mountpoint, char *buf, size_t size);

/* Opens the socket on loop (replacing a stale one from a killed host).
 * `reload` runs a reload asked for. Logs and returns -1 on failure (the
 * mount goes on without). */
int control_start(uv_loop_t *loop, const char *mountpoint, const char *script, int (*reload)(void));

/* Closes the socket and removes its file. */
void control_stop(void);

#endif
