/* File handles (name_to_handle_at, NFS): a handle is a node id and
 * generation. When the kernel no longer has the inode of a handle, it
 * asks LOOKUP(id, "."); to reconnect a directory to the tree, LOOKUP(id,
 * ".."). Only mounts whose script has a `locate` handler get these (see
 * op_init): ids are inode numbers, so the file can be found again.
 *
 * Finding an id the host has forgotten: first the path the node had when
 * it was freed (after a cache drop), else the path locate(ino) gives
 * (after a remount). Either is walked from the root one name at a time
 * with the script's getattr, as ordinary lookups would, and counts only
 * when it ends at a node with that very id; the kernel then compares the
 * generation with the handle's. While it looks, the request keeps the id
 * asked for in r->size, and in r->flags whether locate was tried. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops_private.h"
#include "trace.h"
#include "values.h"

/* Replies with the entry of a node the host has, taking a reference. */
static void reply_node(struct request *r, struct node *n, struct stat *st)
{
	if ((st->st_mode & S_IFMT) != n->type) {
		request_reply_err(r, ESTALE);
		return;
	}
	n->nlookup++;
	struct fuse_entry_param e;
	ops_fill_entry(&e, n, st);
	if (r->trace.active)
		trace_result(&r->trace, "%s ino=%llu (by handle)", values_type_name(st->st_mode),
			     (unsigned long long)e.attr.st_ino);
	if (request_reply_entry(r, &e) == -ENOENT)
		nodes_forget(n, 1);
}

static void known_node_stat(struct request *r, int err, struct stat *st)
{
	if (err)
		request_reply_err(r, err == ENOENT ? ESTALE : err);
	else
		reply_node(r, r->node, st);
}

/* ---- walking a path to the node ---- */

static void locate(struct request *r);
static void walk_step(struct request *r);

/* The walk did not end at the node: try locate, or give up. */
static void walk_failed(struct request *r)
{
	free(r->walk_path);
	r->walk_path = NULL;
	if (r->walk_node) {
		nodes_drop(r->walk_node);
		r->walk_node = NULL;
	}
	if (r->flags == 0 && bridge_has(OP_locate))
		locate(r);
	else
		request_reply_err(r, ESTALE);
}

/* The name [walk_at, end) of the walk path. */
static size_t name_end(const struct request *r)
{
	const char *p = r->walk_path + r->walk_at;
	return r->walk_at + strcspn(p, "/");
}

static void walked(struct request *r, int err, struct stat *st)
{
	size_t end = name_end(r);
	const char *name = r->walk_path + r->walk_at;
	struct node *n = err ? NULL : nodes_remember(r->walk_node, name, end - r->walk_at, st,
						       r->generation);
	if (!n) {
		walk_failed(r);
		return;
	}
	nodes_drop(r->walk_node);
	r->walk_node = n;
	nodes_hold(n);
	if (r->walk_path[end] == '\0') { /* the last name: is it the node asked for? */
		if (nodes_id(n) != (uint64_t)r->size) {
			nodes_forget(n, 1);
			walk_failed(r);
			return;
		}
		n->nlookup--; /* reply_node counts the kernel's reference */
		reply_node(r, n, st);
		return;
	}
	nodes_forget(n, 1); /* the kernel does not know it; its child will hold it */
	r->walk_at = end + 1;
	walk_step(r);
}

static void walk_step(struct request *r)
{
	size_t end = name_end(r);
	const char *name = r->walk_path + r->walk_at;
	/* Directories the host already knows are passed without a call. */
	struct node *known = r->walk_path[end] ? nodes_child(r->walk_node, name, end - r->walk_at)
					       : NULL;
	if (known && known->type == S_IFDIR) {
		nodes_drop(r->walk_node);
		r->walk_node = known;
		nodes_hold(known);
		r->walk_at = end + 1;
		walk_step(r);
		return;
	}
	if (request_path_text(r, r->walk_path, end) == 0)
		ops_ask_stat(r, BRIDGE_NOREF, walked);
}

/* A path fit to walk: absolute, no empty, "." or ".." names, none over
 * 255 bytes. */
static int walkable(const char *path, size_t len)
{
	if (len < 2 || len >= PATH_MAX || path[0] != '/' || memchr(path, '\0', len))
		return 0;
	for (const char *p = path + 1, *end = path + len; p <= end;) {
		const char *slash = memchr(p, '/', (size_t)(end - p));
		size_t n = (size_t)((slash ? slash : end) - p);
		if (n == 0 || n > 255 || (n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.'))
			return 0;
		p += n + 1;
	}
	return 1;
}

static void walk(struct request *r, const char *path, size_t len)
{
	r->walk_path = strndup(path, len);
	if (!r->walk_path) {
		request_reply_err(r, ENOMEM);
		return;
	}
	r->walk_at = 1;
	r->walk_node = nodes_root();
	nodes_hold(r->walk_node);
	walk_step(r);
}

static void located(struct request *r, int rc)
{
	const char *path;
	size_t len;
	if (rc == -ENOENT || rc == 0) {
		request_reply_err(r, ESTALE);
	} else if (rc < 0) {
		request_reply_err(r, -rc);
	} else if (bridge_result_bytes(&r->call, 1, &path, &len,
				       "must return the path of the file, or nil") != 0) {
		request_reply_err(r, EIO);
	} else if (!walkable(path, len)) {
		request_reply_err(r, -bridge_bad_result(&r->call, "returned a path that is not "
								  "absolute and plain (\"/a/b\")"));
	} else {
		walk(r, path, len);
	}
}

static void locate(struct request *r)
{
	r->flags = 1; /* tried */
	char what[40]; /* stands in for the path in messages */
	int len = snprintf(what, sizeof what, "ino %llu", (unsigned long long)r->size);
	if (r->trace.active)
		trace_args(&r->trace, "locate %s", what);
	if (request_path_text(r, what, (size_t)len) == 0)
		request_call(r, OP_locate, located, "u", r->size);
}

/* ---- the two lookups ---- */

void ops_lookup_handle(struct request *r, fuse_ino_t id, const char *name)
{
	struct node *n = nodes_by_id(id);
	if (strcmp(name, "..") == 0) { /* the parent of a directory the kernel has */
		struct node *parent = n ? nodes_parent(n) : NULL;
		if (!parent) {
			request_reply_err(r, ESTALE);
			return;
		}
		if (request_path(r, parent, NULL, 0) == 0)
			ops_ask_stat(r, BRIDGE_NOREF, known_node_stat);
		return;
	}
	if (n) {
		if (!nodes_named(n))
			request_reply_err(r, ESTALE);
		else if (request_path(r, n, NULL, 0) == 0)
			ops_ask_stat(r, BRIDGE_NOREF, known_node_stat);
		return;
	}
	r->size = id;
	const char *last = nodes_forgotten_path(id);
	if (last && strcmp(last, "/") != 0)
		walk(r, last, strlen(last));
	else if (bridge_has(OP_locate))
		locate(r);
	else
		request_reply_err(r, ESTALE);
}
