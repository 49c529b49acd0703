#include "nodes.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#include <sys/random.h>

struct dentry {
	struct node *parent;
	struct node *node;
	struct dentry *hash_next;  /* chain in the name index */
	struct dentry *next_alias; /* the node's other names */
	uint64_t hash;
	size_t len;
	char name[];
};

static struct node root = { .id = FUSE_ROOT_ID, .nlookup = 1, .number = 1, .type = S_IFDIR };
static struct node unknown = { .id = 0, .type = S_IFREG };
static uint64_t next_number = 2;
static uint64_t next_counter_id = 1;
static uint64_t next_generation;
static uint64_t live_nodes = 1;

/* Ids from the counter live above 2^63, away from most inode numbers. */
#define COUNTER_IDS (1ULL << 63)

/* Two chained hash tables that double when full: names by (parent, name),
 * nodes by id. */
static struct dentry **name_index;
static size_t name_buckets, name_count;
static struct node **id_index;
static size_t id_buckets, id_count;

void nodes_init(void)
{
	root.all_prev = root.all_next = &root;
	name_buckets = id_buckets = 1024;
	name_index = calloc(name_buckets, sizeof *name_index);
	id_index = calloc(id_buckets, sizeof *id_index);
	if (!name_index || !id_index)
		abort();
	/* Counter generations start at random: a handle from an earlier run
	 * then finds a different generation (ESTALE), not another file. */
	uint32_t start = 0;
	if (getrandom(&start, sizeof start, 0) != sizeof start)
		start = (uint32_t)(uintptr_t)&start;
	next_generation = start | 1;
}

void nodes_each(void (*fn)(struct node *n))
{
	fn(&root);
	for (struct node *n = root.all_next, *next; n != &root; n = next) {
		next = n->all_next;
		fn(n);
	}
}

void nodes_destroy(void)
{
	for (size_t b = 0; b < name_buckets; b++) {
		struct dentry *d = name_index[b], *next;
		for (; d; d = next) {
			next = d->hash_next;
			free(d);
		}
	}
	struct node *n = root.all_next, *next;
	for (; n != &root; n = next) {
		next = n->all_next;
		free(n->gone_path);
		free(n);
	}
	free(name_index);
	free(id_index);
	name_index = NULL;
	id_index = NULL;
	nodes_keep_forgotten_paths(0);
	root.all_prev = root.all_next = &root;
}

struct node *nodes_root(void)
{
	return &root;
}

uint64_t nodes_count(void)
{
	return live_nodes;
}

static uint64_t mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}


/* Devices in the order first seen; see nodes_report_ino. */
#define DEVICE_SLOTS 256
static uint64_t devices[DEVICE_SLOTS];
static int device_count;

uint64_t nodes_report_ino(uint64_t dev, uint64_t ino)
{
	int k = 0;
	while (k < device_count && devices[k] != dev)
		k++;
	if (k == device_count) {
		if (device_count == DEVICE_SLOTS) {
			log_once("devices", "more than %d filesystems below the root: inode numbers "
				 "reported for the rest may repeat", DEVICE_SLOTS);
			k = DEVICE_SLOTS - 1;
		} else {
			devices[device_count++] = dev;
		}
	}
	return k == 0 ? ino : ino ^ ((uint64_t)k << 56);
}

static uint64_t name_hash(const struct node *parent, const char *name, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ (uint64_t)(uintptr_t)parent;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)name[i]) * 0x100000001b3ULL;
	return mix(h);
}

static void name_index_grow(void)
{
	size_t buckets = name_buckets * 2;
	struct dentry **index = calloc(buckets, sizeof *index);
	if (!index)
		return; /* longer chains, still correct */
	for (size_t b = 0; b < name_buckets; b++) {
		struct dentry *d = name_index[b], *next;
		for (; d; d = next) {
			next = d->hash_next;
			d->hash_next = index[d->hash & (buckets - 1)];
			index[d->hash & (buckets - 1)] = d;
		}
	}
	free(name_index);
	name_index = index;
	name_buckets = buckets;
}

static struct dentry *find_hashed(const struct node *parent, const char *name, size_t len,
				  uint64_t hash)
{
	for (struct dentry *d = name_index[hash & (name_buckets - 1)]; d; d = d->hash_next)
		if (d->hash == hash && d->parent == parent && d->len == len &&
		    memcmp(d->name, name, len) == 0)
			return d;
	return NULL;
}

static struct dentry *find_dentry(const struct node *parent, const char *name)
{
	size_t len = strlen(name);
	return find_hashed(parent, name, len, name_hash(parent, name, len));
}

static void id_insert(struct node *n)
{
	if (id_count >= id_buckets) {
		size_t buckets = id_buckets * 2;
		struct node **index = calloc(buckets, sizeof *index);
		if (index) {
			for (size_t b = 0; b < id_buckets; b++) {
				struct node *m = id_index[b], *next;
				for (; m; m = next) {
					next = m->id_next;
					size_t at = mix(m->id) & (buckets - 1);
					m->id_next = index[at];
					index[at] = m;
				}
			}
			free(id_index);
			id_index = index;
			id_buckets = buckets;
		}
	}
	size_t at = mix(n->id) & (id_buckets - 1);
	n->id_next = id_index[at];
	id_index[at] = n;
	id_count++;
}

static void id_remove(struct node *n)
{
	struct node **p = &id_index[mix(n->id) & (id_buckets - 1)];
	for (; *p; p = &(*p)->id_next)
		if (*p == n) {
			*p = n->id_next;
			id_count--;
			return;
		}
}

struct node *nodes_by_id(uint64_t id)
{
	if (id == FUSE_ROOT_ID)
		return &root;
	for (struct node *n = id_index[mix(id) & (id_buckets - 1)]; n; n = n->id_next)
		if (n->id == id)
			return n;
	return NULL;
}

struct node *nodes_get(fuse_ino_t id)
{
	struct node *n = nodes_by_id(id);
	return n ? n : &unknown;
}

struct node *nodes_unknown(void)
{
	return &unknown;
}

/* Another name of a file the script described with (dev, ino) and
 * generation (0: none given): hard links are one node. A node whose
 * generation differs is an earlier file whose number was reused, and its
 * names lead elsewhere by now. Directories cannot be hard-linked. */
static struct node *find_link(uint64_t dev, uint64_t ino, uint32_t generation, mode_t type)
{
	if (type == S_IFDIR)
		return NULL;
	struct node *n = nodes_by_id(nodes_report_ino(dev, ino));
	if (n && n->script_ino == ino && n->script_dev == dev && n->type == type &&
	    (generation == 0 || n->generation == generation))
		return n;
	return NULL;
}

/* ---- the paths of freed nodes, by id ---- */

#define FORGOTTEN_SLOTS 8192
static struct forgotten {
	uint64_t id;
	char *path;
} *forgotten;

void nodes_keep_forgotten_paths(int on)
{
	if (on && !forgotten) {
		forgotten = calloc(FORGOTTEN_SLOTS, sizeof *forgotten);
	} else if (!on && forgotten) {
		for (size_t i = 0; i < FORGOTTEN_SLOTS; i++)
			free(forgotten[i].path);
		free(forgotten);
		forgotten = NULL;
	}
}

const char *nodes_forgotten_path(uint64_t id)
{
	struct forgotten *f = forgotten ? &forgotten[mix(id) & (FORGOTTEN_SLOTS - 1)] : NULL;
	return f && f->id == id ? f->path : NULL;
}

static char *last_path(const struct node *n);

/* A node about to be freed while it still has its names. */
static void remember_forgotten(const struct node *n)
{
	if (!forgotten || !n->names || !nodes_named(n))
		return;
	struct forgotten *f = &forgotten[mix(n->id) & (FORGOTTEN_SLOTS - 1)];
	free(f->path);
	f->id = n->id;
	f->path = last_path(n);
}

static void maybe_free(struct node *n);

/* Takes a name out of both lists. The node itself is left for the caller
 * to free; the parent is freed here if this was all that kept it. */
static void unlink_dentry(struct dentry *d, int remember_path)
{
	struct node *n = d->node, *parent = d->parent;
	if (remember_path && n->names == d && !d->next_alias && !n->gone_path)
		n->gone_path = last_path(n);
	struct dentry **p = &name_index[d->hash & (name_buckets - 1)];
	while (*p != d)
		p = &(*p)->hash_next;
	*p = d->hash_next;
	name_count--;
	for (p = &n->names; *p != d; p = &(*p)->next_alias)
		;
	*p = d->next_alias;
	free(d);
	parent->children--;
	maybe_free(parent);
}

static void remove_dentry(struct dentry *d)
{
	struct node *n = d->node;
	unlink_dentry(d, 1);
	maybe_free(n);
}

static void maybe_free(struct node *n)
{
	if (n == &root || n == &unknown || n->nlookup > 0 || n->children > 0 || n->holds > 0)
		return;
	remember_forgotten(n);
	while (n->names)
		unlink_dentry(n->names, 0);
	id_remove(n);
	n->all_prev->all_next = n->all_next;
	n->all_next->all_prev = n->all_prev;
	free(n->gone_path);
	free(n);
	live_nodes--;
}

static void add_hashed(struct node *n, struct node *parent, const char *name, size_t len,
		       uint64_t hash)
{
	struct dentry *d = malloc(sizeof *d + len + 1);
	if (!d)
		abort(); /* a name we cannot record would leave paths wrong */
	d->parent = parent;
	d->node = n;
	d->len = len;
	memcpy(d->name, name, len);
	d->name[len] = '\0';
	d->hash = hash;
	if (name_count >= name_buckets)
		name_index_grow();
	struct dentry **bucket = &name_index[d->hash & (name_buckets - 1)];
	d->hash_next = *bucket;
	*bucket = d;
	name_count++;
	d->next_alias = NULL;
	struct dentry **tail = &n->names;
	while (*tail)
		tail = &(*tail)->next_alias;
	*tail = d;
	parent->children++;
	free(n->gone_path);
	n->gone_path = NULL;
}

static void add_dentry(struct node *n, struct node *parent, const char *name)
{
	size_t len = strlen(name);
	add_hashed(n, parent, name, len, name_hash(parent, name, len));
}

static uint64_t free_counter_id(void)
{
	uint64_t id;
	do
		id = COUNTER_IDS | next_counter_id++;
	while (nodes_by_id(id));
	return id;
}

static struct node *new_node(mode_t type, uint64_t script_dev, uint64_t script_ino,
			     uint32_t generation)
{
	struct node *n = calloc(1, sizeof *n);
	if (!n)
		return NULL;
	n->type = type;
	n->number = next_number++;
	n->generation = generation ? generation : (uint32_t)next_generation++;
	n->script_ino = script_ino;
	n->script_dev = script_dev;
	n->id = script_ino ? nodes_report_ino(script_dev, script_ino) : 0;
	if (n->id <= FUSE_ROOT_ID || nodes_by_id(n->id))
		n->id = free_counter_id();
	id_insert(n);
	n->all_next = root.all_next;
	n->all_prev = &root;
	root.all_next->all_prev = n;
	root.all_next = n;
	live_nodes++;
	return n;
}

struct node *nodes_remember(struct node *parent, const char *name, size_t len,
			    const struct stat *st, uint32_t generation)
{
	mode_t type = st->st_mode & S_IFMT;
	uint64_t sino = st->st_ino, sdev = st->st_dev;
	uint64_t hash = name_hash(parent, name, len);
	struct dentry *d = find_hashed(parent, name, len, hash);
	if (d) {
		struct node *n = d->node;
		if (n->type == type &&
		    (sino == 0 || n->script_ino == 0 ||
		     (n->script_ino == sino && n->script_dev == sdev)) &&
		    (generation == 0 || n->generation == generation)) {
			if (!n->script_ino && sino) { /* its id stays: the kernel knows it */
				n->script_ino = sino;
				n->script_dev = sdev;
			}
			n->nlookup++;
			return n;
		}
		/* The name now belongs to another object. Keep n alive while
		 * its dentry goes, in case it is the one we reuse below. */
		n->nlookup++;
		remove_dentry(d);
		n->nlookup--;
		maybe_free(n);
	}
	struct node *n = NULL;
	if (sino && st->st_nlink > 1)
		n = find_link(sdev, sino, generation, type);
	if (!n)
		n = new_node(type, sdev, sino, generation);
	if (!n)
		return NULL;
	add_hashed(n, parent, name, len, hash);
	n->nlookup++;
	return n;
}

struct node *nodes_unnamed(const struct stat *st, uint32_t generation, const char *where)
{
	struct node *n = new_node(st->st_mode & S_IFMT, st->st_dev, st->st_ino, generation);
	if (!n)
		return NULL;
	n->gone_path = strdup(where);
	n->nlookup++;
	return n;
}

void nodes_add_name(struct node *n, struct node *parent, const char *name)
{
	struct dentry *d = find_dentry(parent, name);
	if (d && d->node == n)
		return;
	n->nlookup++; /* n may have no other reference while the stale name goes */
	if (d)
		remove_dentry(d);
	add_dentry(n, parent, name);
	n->nlookup--;
}

struct node *nodes_parent(const struct node *n)
{
	return n != &root && n->names ? n->names->parent : NULL;
}

struct node *nodes_child(const struct node *parent, const char *name, size_t len)
{
	struct dentry *d = find_hashed(parent, name, len, name_hash(parent, name, len));
	return d ? d->node : NULL;
}

void nodes_drop(struct node *n)
{
	n->holds--;
	maybe_free(n);
}

void nodes_forget(struct node *n, uint64_t count)
{
	n->nlookup = n->nlookup > count ? n->nlookup - count : 0;
	maybe_free(n);
}

void nodes_unlinked(struct node *parent, const char *name)
{
	struct dentry *d = find_dentry(parent, name);
	if (d)
		remove_dentry(d);
}

/* Gives the dentry a new parent and name, keeping it first among the
 * node's names when it was (paths are built from the first). */
static void move_dentry(struct dentry *d, struct node *parent, const char *name)
{
	struct node *n = d->node;
	int was_first = n->names == d;
	unlink_dentry(d, 0);
	add_dentry(n, parent, name);
	if (was_first && n->names->next_alias) {
		struct dentry *moved = n->names, *prev = NULL;
		while (moved->next_alias) {
			prev = moved;
			moved = moved->next_alias;
		}
		prev->next_alias = NULL;
		moved->next_alias = n->names;
		n->names = moved;
	}
}

void nodes_renamed(struct node *from_parent, const char *from_name, struct node *to_parent,
		   const char *to_name, int exchange)
{
	struct dentry *from = find_dentry(from_parent, from_name);
	struct dentry *to = find_dentry(to_parent, to_name);
	if (exchange) {
		struct node *from_node = from ? from->node : NULL;
		struct node *to_node = to ? to->node : NULL;
		/* Hold both nodes and both parents while their names are moved. */
		if (from_node)
			from_node->nlookup++;
		if (to_node)
			to_node->nlookup++;
		from_parent->nlookup++;
		to_parent->nlookup++;
		if (from)
			unlink_dentry(from, 0);
		if (to)
			unlink_dentry(to, 0);
		if (from_node) {
			add_dentry(from_node, to_parent, to_name);
			nodes_forget(from_node, 1);
		}
		if (to_node) {
			add_dentry(to_node, from_parent, from_name);
			nodes_forget(to_node, 1);
		}
		nodes_forget(from_parent, 1);
		nodes_forget(to_parent, 1);
		return;
	}
	if (to && to != from)
		remove_dentry(to);
	if (from) {
		to_parent->nlookup++;
		move_dentry(from, to_parent, to_name);
		nodes_forget(to_parent, 1);
	}
}

struct node *nodes_find(const char *path)
{
	struct node *n = &root;
	while (*path) {
		while (*path == '/')
			path++;
		size_t len = strcspn(path, "/");
		if (!len)
			break;
		struct dentry *d = find_hashed(n, path, len, name_hash(n, path, len));
		if (!d)
			return NULL;
		n = d->node;
		path += len;
	}
	return n;
}

int nodes_named(const struct node *n)
{
	while (n != &root && n->names)
		n = n->names->parent;
	return n == &root;
}

int nodes_path_into(const struct node *n, const char *name, size_t name_len, int last_known,
		    char *buf, size_t cap, size_t *length)
{
	size_t len = name ? name_len + 1 : 0;
	const struct node *top = n;
	/* First pass: the length, stopping at the root or at a node that
	 * has lost all its names. */
	while (top != &root && top->names) {
		len += top->names->len + 1;
		top = top->names->parent;
	}
	const char *prefix = "";
	if (top != &root) {
		if (!last_known || !top->gone_path)
			return ENOENT;
		prefix = top->gone_path; /* stands in for the rest */
	}
	size_t prefix_len = strlen(prefix);
	len += prefix_len;
	*length = len ? len : 1;
	if (*length + 1 > cap)
		return ERANGE;
	if (len == 0) {
		memcpy(buf, "/", 2);
		return 0;
	}
	buf[len] = '\0';
	size_t at = len;
	if (name) {
		at -= name_len + 1;
		buf[at] = '/';
		memcpy(buf + at + 1, name, name_len);
	}
	for (const struct node *m = n; m != top; m = m->names->parent) {
		at -= m->names->len + 1;
		buf[at] = '/';
		memcpy(buf + at + 1, m->names->name, m->names->len);
	}
	memcpy(buf, prefix, prefix_len);
	return 0;
}

/* The last path of a node losing its last name, kept for the requests
 * that still reach it through a handle. */
static char *last_path(const struct node *n)
{
	char small[256];
	size_t len;
	int rc = nodes_path_into(n, NULL, 0, 1, small, sizeof small, &len);
	if (rc == 0)
		return strdup(small);
	if (rc != ERANGE)
		return strdup("");
	char *buf = malloc(len + 1);
	if (buf && nodes_path_into(n, NULL, 0, 1, buf, len + 1, &len) != 0) {
		free(buf);
		buf = NULL;
	}
	return buf ? buf : strdup("");
}
