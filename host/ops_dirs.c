/* Directories: opendir, readdir, readdirplus, releasedir, fsyncdir. A
 * listing is taken from the script once per pass (offset 0) and served
 * from C memory, so telldir, seekdir and huge directories cost nothing
 * more. READDIRPLUS hands the kernel each entry's attributes as a lookup
 * would, where the script gave a stat with the name or a stat directory
 * to take them from (only for the names a reply carries); `ls -l` and `du`
 * then cost a request per buffer rather than one per name. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lock.h"
#include "object_stat.h"
#include "ops_private.h"
#include "trace.h"

static void dir_opened(struct request *r, int rc)
{
	struct open_result res;
	int err = ops_errno(rc);
	if (rc == -ENOSYS && !bridge_has(OP_opendir))
		err = 0; /* no handler: open directories have no handle */
	else if (rc == -ENOSYS)
		err = ops_refuse_enosys(r);
	else if (rc >= 0)
		err = ops_take_open(r, &res);
	if (err) {
		files_free(r->of);
		request_reply_err(r, err);
		return;
	}
	struct open_file *of = r->of;
	files_link(of);
	r->fi.fh = (uintptr_t)of;
	if (request_reply_open(r, 0) == -ENOENT)
		files_free(of);
}

void ops_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct request *r = request_begin(req, OP_opendir);
	struct node *n = nodes_get(ino);
	r->fi = *fi;
	if (request_path(r, n, NULL, 0) != 0)
		return;
	request_use_open(r, files_new(n));
	if (!r->of) {
		request_reply_err(r, ENOMEM);
		return;
	}
	request_call(r, OP_opendir, dir_opened, "s", r->path.s);
}

/* A d_ino for names the script gave no number for: stable and non-zero. */
static ino_t name_ino(const char *name)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 0x100000001b3ULL;
	return (ino_t)((h >> 1) | 1);
}

/* The reply buffer, kept between requests; the workers share it, so it is
 * used only while the host lock is held. */
static char *reply_buffer(size_t size)
{
	static char *buf;
	static size_t cap;
	if (size > cap) {
		char *grown = realloc(buf, size);
		if (!grown)
			return NULL;
		buf = grown;
		cap = size;
	}
	return buf;
}

#define PLUS 1 /* r->flags of a READDIRPLUS */

/* Entry i (0 ".", 1 "..", then the listing's) as READDIR gives it: its
 * name, and its type and inode number in *st. */
static const char *plain_entry(const struct open_file *of, uint64_t i, struct stat *st)
{
	memset(st, 0, sizeof *st);
	st->st_mode = S_IFDIR;
	if (i < 2) {
		st->st_ino = i == 0 ? of->node->number : 1;
		return i == 0 ? "." : "..";
	}
	const struct listing_entry *e = &of->listing.entries[i - 2];
	const char *name = of->listing.names + e->name_at;
	st->st_mode = (mode_t)e->type << 12;
	st->st_ino = e->ino ? (ino_t)nodes_report_ino(of->node->script_dev, e->ino)
			    : name_ino(name);
	return name;
}

/* Stats the names of the listing's stat directory that a READDIRPLUS
 * reply of r->size bytes from r->offset can carry, with the host lock let
 * go: a cold backing inode is read from the disk, and other workers need
 * not wait for that. Returns one attr per entry from r->offset (st_mode
 * 0: none), *count of them; NULL when there is nothing to stat, no
 * other worker to let go for, or no memory: plus_entry then stats each
 * name itself. */
static struct listing_attr *stat_ahead(const struct request *r, uint64_t *count)
{
	const struct open_file *of = r->of;
	const struct listing *l = &of->listing;
	if (!l->stats_from_dir || !lock_shared())
		return NULL;
	struct fuse_entry_param sizing = { 0 };
	size_t used = 0;
	uint64_t end = (uint64_t)l->count + 2, i;
	for (i = (uint64_t)r->offset; i < end; i++) {
		struct stat st;
		/* with no room given it only says how much the entry needs */
		size_t need = fuse_add_direntry_plus(r->req, NULL, 0, plain_entry(of, i, &st),
						     &sizing, 0);
		if (need > r->size - used)
			break;
		used += need;
	}
	*count = i - (uint64_t)r->offset;
	struct listing_attr *ahead = *count ? calloc(*count, sizeof *ahead) : NULL;
	if (!ahead)
		return NULL;
	int held = lock_pause();
	for (uint64_t k = 0; k < *count; k++) {
		uint64_t at = (uint64_t)r->offset + k;
		if (at < 2 || (l->attrs && l->attrs[at - 2].st.st_mode))
			continue;
		const char *name = l->names + l->entries[at - 2].name_at;
		if (object_stat(l->stat_dirfd, name, AT_SYMLINK_NOFOLLOW, &ahead[k].st,
				&ahead[k].generation) != 0)
			ahead[k].st.st_mode = 0;
	}
	lock_resume(held);
	return ahead;
}

/* Entry i for READDIRPLUS: with its attributes where the listing has them
 * or its stat directory gives them (statted ahead: `statted`, else here),
 * remembered as a lookup would (the node is returned: the kernel takes a
 * reference with the reply); the others go without (node id 0: the
 * kernel looks them up if it needs to). */
static struct node *plus_entry(const struct open_file *of, uint64_t i,
			       const struct listing_attr *statted, const char **name,
			       struct fuse_entry_param *e)
{
	memset(e, 0, sizeof *e);
	*name = plain_entry(of, i, &e->attr);
	if (i < 2)
		return NULL;
	const struct listing *l = &of->listing;
	const struct listing_attr *a = l->attrs ? &l->attrs[i - 2] : NULL;
	struct listing_attr lazy;
	if (!(a && a->st.st_mode) && l->stats_from_dir)
		a = statted ? statted
		    : object_stat(l->stat_dirfd, *name, AT_SYMLINK_NOFOLLOW, &lazy.st,
				  &lazy.generation) == 0 ? &lazy : NULL;
	if (!(a && a->st.st_mode))
		return NULL;
	struct node *n = nodes_remember(of->node, *name, l->entries[i - 2].name_len, &a->st,
					a->generation);
	if (n)
		ops_fill_entry(e, n, &a->st);
	return n;
}

static void reply_entries_plus(struct request *r)
{
	const struct open_file *of = r->of;
	uint32_t count = of->listing.count;
	size_t used = 0;
	/* Before taking the shared reply buffer: the stats let go of the lock. */
	uint64_t ahead_count = 0;
	struct listing_attr *ahead = stat_ahead(r, &ahead_count);
	char *buf = reply_buffer(r->size);
	/* The nodes this reply hands over, to give back if it is not taken. */
	struct node **given = calloc(count ? count : 1, sizeof *given);
	uint32_t given_count = 0;
	if (!buf || !given) {
		free(ahead);
		free(given);
		request_reply_err(r, ENOMEM);
		return;
	}
	for (uint64_t i = (uint64_t)r->offset; i < (uint64_t)count + 2; i++) {
		struct fuse_entry_param e;
		const char *name;
		uint64_t k = i - (uint64_t)r->offset;
		struct node *n = plus_entry(of, i, ahead && k < ahead_count ? &ahead[k] : NULL,
					    &name, &e);
		size_t need = fuse_add_direntry_plus(r->req, buf + used, r->size - used, name, &e,
						     (off_t)(i + 1));
		if (need > r->size - used) {
			if (n)
				nodes_forget(n, 1);
			break;
		}
		used += need;
		if (n)
			given[given_count++] = n;
	}
	if (r->trace.active)
		trace_result(&r->trace, "%zu of %llu bytes from offset %lld of %u names, %u with "
			     "attributes", used, (unsigned long long)r->size, (long long)r->offset,
			     count, given_count);
	if (request_reply_buf(r, buf, used) == -ENOENT) /* interrupted: nothing taken */
		for (uint32_t k = 0; k < given_count; k++)
			nodes_forget(given[k], 1);
	free(given);
	free(ahead);
}

/* Fills the reply from r->of's listing, from r->offset on. Offsets: 1
 * after ".", 2 after "..", k + 2 after the k-th entry. */
static void reply_entries(struct request *r)
{
	if (r->flags == PLUS) {
		reply_entries_plus(r);
		return;
	}
	char *buf = reply_buffer(r->size);
	if (!buf) {
		request_reply_err(r, ENOMEM);
		return;
	}
	const struct open_file *of = r->of;
	uint32_t count = of->listing.count;
	size_t used = 0;
	for (uint64_t i = (uint64_t)r->offset; i < (uint64_t)count + 2; i++) {
		struct stat st;
		const char *name = plain_entry(of, i, &st);
		size_t need = fuse_add_direntry(r->req, buf + used, r->size - used, name, &st,
						(off_t)(i + 1));
		if (need > r->size - used)
			break;
		used += need;
	}
	if (r->trace.active)
		trace_result(&r->trace, "%zu of %llu bytes from offset %lld of %u names", used,
			     (unsigned long long)r->size, (long long)r->offset, count);
	request_reply_buf(r, buf, used);
}

static void listed(struct request *r, int rc)
{
	struct open_file *of = r->of;
	if (rc >= 0) {
		bridge_listing_free(&of->listing);
		of->listed = 0;
		rc = bridge_result_listing(&r->call, &of->listing);
	}
	if (rc < 0) {
		request_reply_err(r, -rc);
		return;
	}
	of->listed = 1;
	reply_entries(r);
}

static void read_directory(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi, int plus)
{
	struct request *r = request_begin(req, OP_readdir);
	request_use_open(r, files_of(fi));
	r->size = size;
	r->offset = off;
	r->flags = plus ? PLUS : 0;
	if (!r->of) {
		request_reply_err(r, EBADF);
		return;
	}
	if (off != 0 && r->of->listed) {
		if (r->trace.active && request_path(r, nodes_get(ino), NULL, 1) != 0)
			return;
		reply_entries(r);
	} else if (request_path(r, nodes_get(ino), NULL, files_reachable(r->of)) == 0) {
		request_call(r, OP_readdir, listed, "shb", r->path.s, r->of->handle, plus);
	}
}

void ops_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		 struct fuse_file_info *fi)
{
	read_directory(req, ino, size, off, fi, 0);
}

void ops_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	read_directory(req, ino, size, off, fi, 1);
}

static void dir_released(struct request *r, int rc)
{
	(void)rc; /* the kernel ignores release errors */
	files_free(r->of);
	request_reply_err(r, 0);
}

void ops_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct request *r = request_begin(req, OP_releasedir);
	struct open_file *of = files_of(fi);
	request_use_open(r, of);
	int call = ops_with_handler(r, OP_releasedir, nodes_get(ino));
	if (call > 0)
		request_call(r, OP_releasedir, dir_released, "sh", r->path.s,
			     of ? of->handle : BRIDGE_NOREF);
	else if (call == 0)
		dir_released(r, 0);
	else
		files_free(of);
}

static void dir_synced(struct request *r, int rc)
{
	request_reply_err(r, ops_errno(rc));
}

void ops_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct request *r = request_begin(req, OP_fsyncdir);
	request_use_open(r, files_of(fi));
	int call = ops_with_handler(r, OP_fsyncdir, nodes_get(ino));
	if (call > 0) {
		request_call(r, OP_fsyncdir, dir_synced, "sbh", r->path.s, datasync,
			     r->of ? r->of->handle : BRIDGE_NOREF);
	} else if (call == 0) {
		int fd = r->of ? r->of->fd : -1;
		int err = fd >= 0 && (datasync ? fdatasync(fd) : fsync(fd)) != 0 ? errno : 0;
		request_reply_err(r, err);
	}
}
