#define _GNU_SOURCE
#include "device.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "log.h"

/* Bits and offsets in the raw messages; not all are in Debian 12's
 * linux/fuse.h (7.38). struct fuse_in_header is 40 bytes, the out one 16. */
#define INIT_EXT_BIT (1u << 30)         /* FUSE_INIT_EXT: flags2 is valid */
#define INIT_KILLPRIV_V2 (1u << 28)     /* FUSE_HANDLE_KILLPRIV_V2 */
#define INIT_PASSTHROUGH_BIT2 (1u << 5) /* FUSE_PASSTHROUGH is bit 37: bit 5 of flags2 */
#define INIT_NO_EXPORT_BIT2 (1u << 6)   /* FUSE_NO_EXPORT_SUPPORT, bit 38 */
#define OPEN_PASSTHROUGH (1u << 7)      /* FOPEN_PASSTHROUGH */
#define IN_OPCODE 4
#define IN_UNIQUE 8
#define IN_HEADER 40
#define INIT_IN_FLAGS (IN_HEADER + 12)
#define INIT_IN_FLAGS2 (IN_HEADER + 16)
#define OUT_UNIQUE 8
#define OUT_HEADER 16
#define INIT_OUT_FLAGS (OUT_HEADER + 12)
#define INIT_OUT_MAX_WRITE (OUT_HEADER + 20)
#define INIT_OUT_MAX_PAGES (OUT_HEADER + 28) /* u16, then map_alignment */
#define INIT_OUT_FLAGS2 (OUT_HEADER + 32)
#define INIT_OUT_MAX_STACK_DEPTH (OUT_HEADER + 36)

static int session_fd = -1;
static uint32_t kernel_flags, kernel_flags2;
static uint64_t init_unique;
static int init_reply_pending;
static int init_passthrough, init_killpriv_v2, init_no_export;
static uint32_t init_extra_flags2;
static int (*take_reply)(const struct iovec *iov, int count, size_t total);
static void (*initialized)(uint32_t max_write, uint32_t max_pages);
/* The reply is written in the thread that sends it, before fuse_reply_*
 * returns, so a thread-local is enough to find it. */
static __thread uint32_t open_reply_backing_id;

int device_fd(void)
{
	return session_fd;
}

int device_kernel_offers_passthrough(void)
{
	return (kernel_flags & INIT_EXT_BIT) && (kernel_flags2 & INIT_PASSTHROUGH_BIT2);
}

int device_kernel_offers_killpriv_v2(void)
{
	return (kernel_flags & INIT_KILLPRIV_V2) != 0;
}

void device_init_reply(int passthrough, int killpriv_v2)
{
	init_passthrough = passthrough;
	init_killpriv_v2 = killpriv_v2;
}

uint32_t device_kernel_flags2(void)
{
	return (kernel_flags & INIT_EXT_BIT) ? kernel_flags2 : 0;
}

void device_init_flags2(uint32_t bits)
{
	init_extra_flags2 |= bits;
}

void device_set_hooks(int (*take)(const struct iovec *iov, int count, size_t total),
		      void (*init_done)(uint32_t max_write, uint32_t max_pages))
{
	take_reply = take;
	initialized = init_done;
}

void device_init_no_export(void)
{
	init_no_export = (kernel_flags & INIT_EXT_BIT) && (kernel_flags2 & INIT_NO_EXPORT_BIT2);
}

void device_mark_open_reply(uint32_t backing_id)
{
	open_reply_backing_id = backing_id;
}

static uint32_t get_u32(const void *buf, size_t off)
{
	uint32_t v;
	memcpy(&v, (const char *)buf + off, sizeof v);
	return v;
}

/* Reads one request; the fd is non-blocking, so with none waiting this
 * fails with EAGAIN and the loop waits (loop.c). */
static void put_u32(char *at, uint32_t v);

void device_adapt_request(void *buf, size_t n)
{
	/* O_TMPFILE comes as FUSE_TMPFILE, which libfuse 3.14 does not know;
	 * its arguments and its reply are those of a CREATE of the name "/"
	 * (the name the kernel gives an unnamed file, which no real create can
	 * have), so it is passed on as one, and ops_create tells them apart. */
	if (n >= IN_HEADER && get_u32(buf, IN_OPCODE) == FUSE_TMPFILE)
		put_u32((char *)buf + IN_OPCODE, FUSE_CREATE);
}

static ssize_t device_read(int fd, void *buf, size_t len, void *userdata)
{
	(void)userdata;
	ssize_t n = read(fd, buf, len);
	if (n > 0)
		device_adapt_request(buf, (size_t)n);
	if (n >= INIT_IN_FLAGS2 + 4 && get_u32(buf, IN_OPCODE) == FUSE_INIT) {
		kernel_flags = get_u32(buf, INIT_IN_FLAGS);
		kernel_flags2 = get_u32(buf, INIT_IN_FLAGS2);
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

static void patch_init_reply(struct iovec *iov, int count)
{
	char *unique = locate(iov, count, OUT_UNIQUE);
	if (!unique || memcmp(unique, &init_unique, 8) != 0)
		return;
	init_reply_pending = 0;
	char *flags = locate(iov, count, INIT_OUT_FLAGS);
	char *flags2 = locate(iov, count, INIT_OUT_FLAGS2);
	char *depth = locate(iov, count, INIT_OUT_MAX_STACK_DEPTH);
	if (!flags || !flags2 || !depth)
		return;
	if (init_killpriv_v2)
		or_u32(flags, INIT_KILLPRIV_V2);
	if (init_passthrough) {
		or_u32(flags, INIT_EXT_BIT);
		or_u32(flags2, INIT_PASSTHROUGH_BIT2);
		put_u32(depth, 1);
	}
	if (init_no_export) {
		or_u32(flags, INIT_EXT_BIT);
		or_u32(flags2, INIT_NO_EXPORT_BIT2);
	}
	if (init_extra_flags2) {
		or_u32(flags, INIT_EXT_BIT);
		or_u32(flags2, init_extra_flags2);
	}
}

/* The kernel refused a reply (a malformed one; ENOENT only means the
 * request was interrupted). Its caller would wait forever, unkillably, and
 * later requests behind it too: answer EIO instead. */
static ssize_t answer_refused_reply(int fd, struct iovec *iov, size_t total)
{
	int err = errno;
	struct fuse_out_header out;
	memcpy(&out, iov[0].iov_base, sizeof out);
	if (out.unique == 0) /* a notification: nobody waits for it */
		return -1;
	log_msg("the kernel refused a reply (%s: %s, error field %d); answering EIO instead",
		strerrorname_np(err), strerror(err), out.error);
	out.len = sizeof out;
	out.error = -EIO;
	if (write(fd, &out, sizeof out) != (ssize_t)sizeof out) {
		errno = err;
		return -1;
	}
	return (ssize_t)total; /* answered: libfuse need not report it again */
}

static ssize_t device_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	(void)userdata;
	size_t total = 0;
	for (int i = 0; i < count; i++)
		total += iov[i].iov_len;
	int init_reply = init_reply_pending && total >= INIT_OUT_MAX_STACK_DEPTH + 4;
	uint32_t max_write = 0, max_pages = 0;
	if (init_reply) {
		patch_init_reply(iov, count);
		char *w = locate(iov, count, INIT_OUT_MAX_WRITE);
		char *p = locate(iov, count, INIT_OUT_MAX_PAGES);
		if (w)
			max_write = get_u32(w, 0);
		if (p)
			max_pages = get_u32(p, 0) & 0xffff;
	}
	if (open_reply_backing_id && total >= OUT_HEADER + 16) {
		/* fuse_open_out ends the reply: {u64 fh; u32 open_flags; u32 backing_id} */
		char *open_flags = locate(iov, count, total - 8);
		char *backing = locate(iov, count, total - 4);
		if (open_flags && backing) {
			or_u32(open_flags, OPEN_PASSTHROUGH);
			put_u32(backing, open_reply_backing_id);
		}
	}
	if (take_reply && take_reply(iov, count, total)) /* for a request from a ring */
		return (ssize_t)total;
	ssize_t written = writev(fd, iov, count);
	if (init_reply && written >= 0 && !init_reply_pending && initialized)
		initialized(max_write, max_pages);
	if (written < 0 && errno != ENOENT && iov[0].iov_len >= OUT_HEADER)
		return answer_refused_reply(fd, iov, total);
	return written;
}

int device_setup(struct fuse_session *se)
{
	static const struct fuse_custom_io io = {
		.read = device_read,
		.writev = device_writev,
	};
	session_fd = fuse_session_fd(se);
	int flags = fcntl(session_fd, F_GETFL);
	if (flags < 0 || fcntl(session_fd, F_SETFL, flags | O_NONBLOCK) != 0)
		return -1;
	return fuse_session_custom_io(se, &io, session_fd) == 0 ? 0 : -1;
}
