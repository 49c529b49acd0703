#define _GNU_SOURCE
#include "passthrough.h"

#include <errno.h>
#include <linux/fuse.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "log.h"
#include "stats.h"

/* Not in Debian 12's linux/fuse.h (7.38); values from the kernel's UAPI. */
struct backing_map {
	int32_t fd;
	uint32_t flags;
	uint64_t padding;
};
#define BACKING_OPEN _IOW(229, 1, struct backing_map)
#define BACKING_CLOSE _IOW(229, 2, uint32_t)
#define INIT_PASSTHROUGH_BIT2 (1u << 5) /* FUSE_PASSTHROUGH is bit 37: bit 5 of flags2 */
#define INIT_EXT_BIT (1u << 30)         /* FUSE_INIT_EXT: flags2 is valid */
#define OPEN_PASSTHROUGH (1u << 7)      /* FOPEN_PASSTHROUGH */
#define INIT_KILLPRIV_V2 (1u << 28)     /* FUSE_HANDLE_KILLPRIV_V2 (not in libfuse 3.14) */

/* Offsets in the raw messages (struct fuse_in_header is 40 bytes, the out
 * header 16). */
#define IN_OPCODE 4
#define IN_UNIQUE 8
#define IN_HEADER 40
#define INIT_IN_FLAGS2 (IN_HEADER + 16)
#define OUT_ERROR 4
#define OUT_UNIQUE 8
#define OUT_HEADER 16
#define INIT_OUT_FLAGS (OUT_HEADER + 12)
#define INIT_OUT_FLAGS2 (OUT_HEADER + 32)
#define INIT_OUT_MAX_STACK_DEPTH (OUT_HEADER + 36)

static int session_fd = -1;
static int wanted;
static int kernel_offers;
static uint32_t kernel_flags;
static int shared_mount;
static int killpriv_v2;
static int available;
static uint64_t init_unique;
static int init_reply_pending;
/* The backing id for the OPEN/CREATE reply being written; the reply is
 * written in the thread that sends it, before fuse_reply_* returns. */
static __thread uint32_t reply_backing_id;

static uint32_t get_u32(const void *buf, size_t off)
{
	uint32_t v;
	memcpy(&v, (const char *)buf + off, sizeof v);
	return v;
}

static void (*idle_hook)(void);

void passthrough_set_idle_hook(void (*hook)(void))
{
	idle_hook = hook;
}

static ssize_t device_read(int fd, void *buf, size_t len, void *userdata)
{
	(void)userdata;
	if (idle_hook)
		idle_hook();
	ssize_t n = read(fd, buf, len);
	if (n >= INIT_IN_FLAGS2 + 4 && get_u32(buf, IN_OPCODE) == FUSE_INIT) {
		uint32_t flags = get_u32(buf, IN_HEADER + 12);
		kernel_flags = flags;
		kernel_offers = (flags & INIT_EXT_BIT) &&
				(get_u32(buf, INIT_IN_FLAGS2) & INIT_PASSTHROUGH_BIT2);
		memcpy(&init_unique, (char *)buf + IN_UNIQUE, sizeof init_unique);
		init_reply_pending = 1;
	}
	return n;
}

/* Finds byte `off` of the message spread over iov; NULL if out of range or
 * if the u32 there straddles two iovecs (libfuse never does that). */
static char *locate(struct iovec *iov, int count, size_t off)
{
	for (int i = 0; i < count; i++) {
		if (off + 4 <= iov[i].iov_len)
			return (char *)iov[i].iov_base + off;
		if (off < iov[i].iov_len)
			return NULL;
		off -= iov[i].iov_len;
	}
	return NULL;
}

static void or_u32(char *at, uint32_t bits)
{
	uint32_t v;
	memcpy(&v, at, 4);
	v |= bits;
	memcpy(at, &v, 4);
}

static void put_u32(char *at, uint32_t v)
{
	memcpy(at, &v, 4);
}

static ssize_t device_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	(void)userdata;
	size_t total = 0;
	for (int i = 0; i < count; i++)
		total += iov[i].iov_len;

	if (init_reply_pending && total >= INIT_OUT_MAX_STACK_DEPTH + 4) {
		char *unique = locate(iov, count, OUT_UNIQUE);
		if (unique && memcmp(unique, &init_unique, 8) == 0) {
			init_reply_pending = 0;
			char *flags = locate(iov, count, INIT_OUT_FLAGS);
			char *flags2 = locate(iov, count, INIT_OUT_FLAGS2);
			char *depth = locate(iov, count, INIT_OUT_MAX_STACK_DEPTH);
			if (killpriv_v2 && flags)
				or_u32(flags, INIT_KILLPRIV_V2);
			if (available && flags && flags2 && depth) {
				or_u32(flags, INIT_EXT_BIT);
				or_u32(flags2, INIT_PASSTHROUGH_BIT2);
				put_u32(depth, 1);
			}
		}
	}
	if (reply_backing_id && total >= OUT_HEADER + 16) {
		/* fuse_open_out ends the reply: {u64 fh; u32 open_flags; u32 backing_id} */
		char *open_flags = locate(iov, count, total - 8);
		char *backing = locate(iov, count, total - 4);
		if (open_flags && backing) {
			or_u32(open_flags, OPEN_PASSTHROUGH);
			put_u32(backing, reply_backing_id);
		}
	}
	return writev(fd, iov, count);
}

int passthrough_setup(struct fuse_session *se, int want, int shared)
{
	static const struct fuse_custom_io io = {
		.read = device_read,
		.writev = device_writev,
	};
	wanted = want;
	shared_mount = shared;
	session_fd = fuse_session_fd(se);
	return fuse_session_custom_io(se, &io, session_fd) == 0 ? 0 : -1;
}

static int has_cap_sys_admin(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	if (!f)
		return 0;
	char line[256];
	unsigned long long caps = 0;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "CapEff: %llx", &caps) == 1)
			break;
	fclose(f);
	return (caps >> 21) & 1; /* CAP_SYS_ADMIN */
}

void passthrough_init(struct fuse_conn_info *conn)
{
	/* The kernel refuses passthrough together with writeback caching. */
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
	/* Who clears setuid/setgid after a write, truncate or chown. By
	 * default the kernel does, with a SETATTR of the mode, after asking
	 * for security.capability before every write: a round trip per write
	 * for scripts with a getxattr handler, passthrough writes included.
	 * KILLPRIV_V2 hands the clearing to the filesystem and spares that
	 * round trip, but passthrough writes never reach the host, so they
	 * could not clear the bits. Only callers without CAP_FSETID need
	 * them cleared, and without allow_other every caller is the root that
	 * mounted (passthrough needs root): there V2 loses nothing. */
	conn->want &= ~FUSE_CAP_HANDLE_KILLPRIV;
	/* O_TRUNC as a SETATTR before OPEN, so that it too clears setuid. */
	conn->want &= ~FUSE_CAP_ATOMIC_O_TRUNC;

	const char *why = NULL;
	if (!wanted)
		why = "turned off with -o nopassthrough";
	else if (!kernel_offers)
		why = "the kernel does not offer it (needs Linux 6.9+ with CONFIG_FUSE_PASSTHROUGH)";
	else if (!has_cap_sys_admin())
		why = "the host lacks CAP_SYS_ADMIN (mount as root)";
	available = why == NULL;
	killpriv_v2 = available && !shared_mount && (kernel_flags & INIT_KILLPRIV_V2);
	if (available)
		log_msg("passthrough: available; file data of fd opens stays in the kernel");
	else
		log_msg("passthrough: unavailable, %s; the host serves file data from the fds itself",
			why);
}

static void use_direct_io(struct fuse_file_info *fi)
{
	fi->direct_io = 1;
	fi->keep_cache = 0;
}

void passthrough_open(struct open_file *of, struct fuse_file_info *fi, int script_direct_io)
{
	struct node *n = of->node;
	n->opens++;
	if (of->fd >= 0 && available && !script_direct_io && n->cached_opens == 0) {
		if (!n->backing_id) {
			struct backing_map map = { .fd = of->fd };
			int id = ioctl(session_fd, BACKING_OPEN, &map);
			if (id > 0) {
				n->backing_id = (uint32_t)id;
				stats.backing_ids++;
			} else {
				char key[64];
				snprintf(key, sizeof key, "backing:%d", errno);
				log_once(key,
					 "passthrough: the kernel refused an fd (%s: %s); the host serves such files itself",
					 strerrorname_np(errno), strerror(errno));
			}
		}
		if (n->backing_id) {
			of->passthrough = 1;
			n->passthrough_opens++;
			stats.passthrough_opens++;
			return;
		}
	}
	if (of->fd >= 0)
		stats.fallback_opens++;
	/* A page-cache open of an inode open in passthrough mode fails with
	 * ETXTBSY; direct_io coexists with it. */
	if (script_direct_io || n->passthrough_opens > 0) {
		use_direct_io(fi);
		return;
	}
	of->cached = 1;
	n->cached_opens++;
}

int passthrough_reply_open(fuse_req_t req, struct open_file *of, struct fuse_file_info *fi)
{
	reply_backing_id = of->passthrough ? of->node->backing_id : 0;
	int rc = fuse_reply_open(req, fi);
	reply_backing_id = 0;
	return rc;
}

int passthrough_reply_create(fuse_req_t req, const struct fuse_entry_param *e,
			     struct open_file *of, struct fuse_file_info *fi)
{
	reply_backing_id = of->passthrough ? of->node->backing_id : 0;
	int rc = fuse_reply_create(req, e, fi);
	reply_backing_id = 0;
	return rc;
}

void passthrough_release(struct open_file *of)
{
	struct node *n = of->node;
	if (of->passthrough)
		n->passthrough_opens--;
	if (of->cached)
		n->cached_opens--;
	n->opens--;
	if (n->backing_id && n->passthrough_opens == 0) {
		uint32_t id = n->backing_id;
		if (ioctl(session_fd, BACKING_CLOSE, &id) != 0)
			log_msg("passthrough: closing backing id %u failed: %s", id, strerror(errno));
		n->backing_id = 0;
		stats.backing_ids--;
	}
}

void passthrough_open_failed(struct open_file *of)
{
	passthrough_release(of);
}

void passthrough_read(fuse_req_t req, struct open_file *of, size_t size, off_t off)
{
	struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);
	buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	buf.buf[0].fd = of->fd;
	buf.buf[0].pos = off;
	fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
}

void passthrough_write(fuse_req_t req, struct open_file *of, const char *buf, size_t size,
		       off_t off)
{
	ssize_t n = pwrite(of->fd, buf, size, off);
	if (n < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_write(req, (size_t)n);
}
