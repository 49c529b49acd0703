#define _GNU_SOURCE
#include "passthrough.h"

#include <errno.h>
#include <linux/fuse.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "device.h"
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

static int wanted;
static int shared_mount;
static int available;

void passthrough_configure(int want, int shared)
{
	wanted = want;
	shared_mount = shared;
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
	else if (!device_kernel_offers_passthrough())
		why = "the kernel does not offer it (needs Linux 6.9+ with CONFIG_FUSE_PASSTHROUGH)";
	else if (!has_cap_sys_admin())
		why = "the host lacks CAP_SYS_ADMIN (mount as root)";
	available = why == NULL;
	device_init_reply(available, available && !shared_mount && device_kernel_offers_killpriv_v2());
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
			int id = ioctl(device_fd(), BACKING_OPEN, &map);
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
	device_mark_open_reply(of->passthrough ? of->node->backing_id : 0);
	int rc = fuse_reply_open(req, fi);
	device_mark_open_reply(0);
	return rc;
}

int passthrough_reply_create(fuse_req_t req, const struct fuse_entry_param *e,
			     struct open_file *of, struct fuse_file_info *fi)
{
	device_mark_open_reply(of->passthrough ? of->node->backing_id : 0);
	int rc = fuse_reply_create(req, e, fi);
	device_mark_open_reply(0);
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
		if (ioctl(device_fd(), BACKING_CLOSE, &id) != 0)
			log_msg("passthrough: closing backing id %u failed: %s", id, strerror(errno));
		n->backing_id = 0;
		stats.backing_ids--;
	}
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
