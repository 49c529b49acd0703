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

int passthrough_available(void)
{
	return available;
}

uint32_t passthrough_register(int fd)
{
	struct backing_map map = { .fd = fd };
	int id = ioctl(device_fd(), BACKING_OPEN, &map);
	if (id > 0) {
		stats.backing_ids++;
		return (uint32_t)id;
	}
	char key[64];
	snprintf(key, sizeof key, "backing:%d", errno);
	log_once(key, "passthrough: the kernel refused an fd (%s: %s); the host serves such files itself",
		 strerrorname_np(errno), strerror(errno));
	return 0;
}

void passthrough_unregister(uint32_t id)
{
	if (ioctl(device_fd(), BACKING_CLOSE, &id) != 0)
		log_msg("passthrough: closing backing id %u failed: %s", id, strerror(errno));
	stats.backing_ids--;
}
