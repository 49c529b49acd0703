/* The inode table. Scripts see paths; the kernel sees node ids. A node's
 * id is the inode number it is reported with (the script's st_ino, mapped
 * as nodes_report_ino says), so that it stays the same across cache drops
 * and remounts: a file handle (name_to_handle_at, NFS) is the id and the
 * generation, and must find the same file later. Where that number is
 * missing or taken, the id comes from a counter above 2^63. Ids are looked
 * up in a hash table, never trusted as pointers: a handle comes from
 * outside. The generation is the one the script gave with the stat (which
 * tells a file from an earlier one with the same number), else a counter.
 *
 * A node has one or more names (struct dentry); a file reached under two
 * names with the same script-reported st_dev and st_ino and nlink > 1 is
 * one node, so hard links behave as on a local filesystem. Paths are built on demand
 * from the names, so renaming a directory moves everything below it at once. */
#ifndef MOONFS_NODES_H
#define MOONFS_NODES_H

#include <fuse_lowlevel.h>
#include <stdint.h>
#include <sys/stat.h>

struct dentry;
struct open_file;

struct node {
	uint64_t id;            /* the kernel's node id */
	uint64_t nlookup;       /* references the kernel holds */
	uint64_t generation;
	uint64_t number;        /* st_ino when the script gives none */
	uint64_t script_ino;    /* st_ino the script reported, 0 if none */
	uint64_t script_dev;    /* and its st_dev (0 if none) */
	mode_t type;            /* S_IFMT bits */
	uint32_t children;      /* dentries naming this node as parent */
	struct dentry *names;   /* paths are built from the first */
	char *gone_path;        /* the last path, once every name is gone */
	struct node *id_next;   /* chain in the id index */
	struct node *all_prev, *all_next; /* every live node, for nodes_destroy */
	uint32_t holds;         /* requests in flight that use the node */

	/* The size and times last given to the kernel: a writable open that
	 * leaves them as they were need not make the kernel ask again. */
	off_t told_size;
	struct timespec told_mtime, told_ctime;

	/* Open files of this node (see files.c). */
	uint32_t passthrough_opens;
	uint32_t cached_opens;   /* opens served through the page cache */
	uint32_t backing_id;     /* 0 when none is registered */
	struct open_file *open_files; /* for requests about an unlinked node */
};

void nodes_init(void);
/* Calls fn on every live node. */
void nodes_each(void (*fn)(struct node *n));

/* Frees every node and name (at exit: the kernel forgets nothing at unmount). */
void nodes_destroy(void);
struct node *nodes_root(void);

/* The node with kernel id `id`, or NULL. */
struct node *nodes_by_id(uint64_t id);

/* The node of an id the kernel sent. The kernel only sends ids it was
 * given, but should one be unknown, a stand-in node without a name is
 * returned, which every request turns into ESTALE. */
struct node *nodes_get(fuse_ino_t id);

/* The stand-in for unknown ids. */
struct node *nodes_unknown(void);

static inline fuse_ino_t nodes_id(const struct node *n)
{
	return n->id;
}

/* The directory n's first name is in, or NULL (the root, or no name). */
struct node *nodes_parent(const struct node *n);

/* The node named `name` (len bytes) in parent, or NULL. */
struct node *nodes_child(const struct node *parent, const char *name, size_t len);

/* After a node is freed, its last path is kept (a bounded number of them)
 * by id, for finding it again when a file handle names it. Off until
 * turned on: it costs a path per freed node. */
void nodes_keep_forgotten_paths(int on);
const char *nodes_forgotten_path(uint64_t id);

/* Writes the path of `n`, or of its child `name` (name_len bytes) when
 * name is not NULL, into buf (cap bytes) and its length into *length.
 * Returns 0; ERANGE when buf is too small (*length then says how long the
 * path is); or ENOENT when `n` or a directory above it has lost every
 * name (removed, or its name now belongs to another object): its old path
 * may name someone else's file by now. With `last_known` set such a node
 * gets its last path instead, for requests that reach the object through
 * an open handle and pass the path on only for information. */
int nodes_path_into(const struct node *n, const char *name, size_t name_len, int last_known,
		    char *buf, size_t cap, size_t *length);

/* A request in flight uses n: it is not freed until dropped. */
static inline void nodes_hold(struct node *n)
{
	n->holds++;
}
void nodes_drop(struct node *n);

/* After a successful lookup or create of parent/name with attributes *st
 * and the script's generation (0: none): finds or makes the node and
 * counts one kernel reference. NULL on ENOMEM. */
struct node *nodes_remember(struct node *parent, const char *name, size_t len,
			    const struct stat *st, uint32_t generation);

/* A file made without a name (O_TMPFILE), with one kernel reference;
 * `where` stands in for its path in messages. NULL on ENOMEM. */
struct node *nodes_unnamed(const struct stat *st, uint32_t generation, const char *where);

/* A hard link made through the mount: parent/name now also names n. */
void nodes_add_name(struct node *n, struct node *parent, const char *name);

/* The kernel dropped `count` references. */
void nodes_forget(struct node *n, uint64_t count);

/* parent/name no longer exists. */
void nodes_unlinked(struct node *parent, const char *name);

/* A successful rename; exchange swaps the two names. */
void nodes_renamed(struct node *from_parent, const char *from_name, struct node *to_parent,
		   const char *to_name, int exchange);

/* The node the kernel knows at path ("/a/b"), or NULL. */
struct node *nodes_find(const char *path);

/* n and every directory above it still have a name: its path is its own. */
int nodes_named(const struct node *n);

/* Every name of n is gone (it was unlinked while the kernel still knew it). */
static inline int nodes_unlinked_node(const struct node *n)
{
	return n != nodes_root() && !n->names;
}

/* The inode number to report for an object the script described with
 * (dev, ino). Numbers from the first device seen (normally the root's) are
 * reported as they are; those of the k-th other device get k in their top
 * 8 bits, so a tree spanning filesystems keeps its numbers unique (as long
 * as each filesystem's own numbers stay below 2^56, as ext4's, xfs's,
 * btrfs's and tmpfs's do). */
uint64_t nodes_report_ino(uint64_t dev, uint64_t ino);

/* Remembers the attributes an entry or attribute reply gives the kernel. */
static inline void nodes_told(struct node *n, const struct stat *st)
{
	n->told_size = st->st_size;
	n->told_mtime = st->st_mtim;
	n->told_ctime = st->st_ctim;
}

/* Whether st's size and times are the ones last given to the kernel. */
static inline int nodes_kernel_knows(const struct node *n, const struct stat *st)
{
	return st->st_size == n->told_size && st->st_mtim.tv_sec == n->told_mtime.tv_sec &&
	       st->st_mtim.tv_nsec == n->told_mtime.tv_nsec &&
	       st->st_ctim.tv_sec == n->told_ctime.tv_sec &&
	       st->st_ctim.tv_nsec == n->told_ctime.tv_nsec;
}

/* The st_ino to report for n given its stat: the script's number mapped as
 * above, or the host's own number when the script gave none. */
static inline ino_t nodes_st_ino(const struct node *n, const struct stat *st)
{
	return st->st_ino ? (ino_t)nodes_report_ino(st->st_dev, st->st_ino) : (ino_t)n->number;
}

/* Live nodes, for the statistics. */
uint64_t nodes_count(void);

#endif
