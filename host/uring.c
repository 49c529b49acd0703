/* FUSE over io_uring (Linux 6.14+, kernel doc filesystems/fuse-io-uring).
 *
 * The kernel keeps one queue per CPU and puts a request on the queue of
 * the CPU its caller runs on. For each queue the host registers entries:
 * a header buffer and a payload buffer, each with one io_uring command
 * outstanding; the command completes when the kernel has written a
 * request into the entry, and the reply goes back with the next command
 * (COMMIT_AND_FETCH), which also waits for the entry's next request. The
 * worker pinned to that CPU serves its queue, so neither side wakes the
 * other CPU. INIT, interrupts, forgets and notifications stay on
 * /dev/fuse, which the workers keep reading.
 *
 * libfuse 3.14 knows nothing of this: a request from a ring entry is put
 * back into the /dev/fuse format and handed to libfuse like any other;
 * its reply, which libfuse writes through the host's device I/O
 * (device.c), is taken here by its unique id and goes into the entry.
 * Everything here runs under the host lock (lock.h), except the reaping
 * of completions, which each worker does for its own ring. */
#define _GNU_SOURCE
#include "uring.h"

#include <errno.h>
#include <liburing.h>
#include <linux/fuse.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "device.h"
#include "files.h"
#include "lock.h"
#include "log.h"
#include "loop.h"
#include "stats.h"

/* The kernel's interface (include/uapi/linux/fuse.h, 7.42), which
 * Debian 12's headers predate. */
#define OVER_IO_URING_BIT2 (1u << 9) /* FUSE_OVER_IO_URING is bit 41 */
#define HEADER_IN_OUT 128
#define HEADER_OP 128
struct ring_ent_in_out {
	uint64_t flags;
	uint64_t commit_id;
	uint32_t payload_sz;
	uint32_t padding;
	uint64_t reserved;
};
struct ring_headers {
	char in_out[HEADER_IN_OUT]; /* fuse_in_header in, fuse_out_header back */
	char op_in[HEADER_OP];      /* the operation's own header */
	struct ring_ent_in_out ent;
};
struct ring_cmd {
	uint64_t flags;
	uint64_t commit_id;
	uint16_t qid;
	uint8_t padding[6];
};
enum { CMD_REGISTER = 1, CMD_COMMIT_AND_FETCH = 2 };

/* Entries per queue: each holds one request from its arrival to its
 * reply, so a handler that waits holds one; more than enough for the
 * requests a queue has in flight at once. */
#define ENTRIES_PER_QUEUE 64

struct entry {
	struct ring *ring;
	uint16_t qid;
	uint64_t unique;          /* of the request it holds; 0: none */
	struct ring_headers *headers;
	char *payload;
	struct iovec iov[2];
	struct entry *hash_next;  /* in the table of requests by unique */
};

struct ring {
	struct io_uring uring;
	int worker;
	int entry_count;
	struct entry *entries;
	char *memory;             /* headers and payloads, one mapping */
	size_t memory_size;
	uv_poll_t poll;
	char *request;            /* a request rebuilt in /dev/fuse form */
};

static int wanted = 1;
static int offered, asked;
static _Atomic int running_rings;
static int fuse_fd = -1;
static uint32_t payload_size;
static struct fuse_session *session;
static int (*serve_request)(const struct fuse_buf *buf, size_t size);
static __thread struct ring *my_ring;

/* Requests taken from rings and not yet answered, by unique id. */
#define PENDING_BUCKETS 1024
static struct entry *pending[PENDING_BUCKETS];

static size_t bucket(uint64_t unique)
{
	return (unique ^ (unique >> 17)) & (PENDING_BUCKETS - 1);
}

void uring_set_wanted(int on)
{
	wanted = on;
}

/* /sys/module/fuse/parameters/enable_uring, for the message. */
static const char *why_not_offered(void)
{
	FILE *f = fopen("/sys/module/fuse/parameters/enable_uring", "r");
	if (!f)
		return "this kernel has no FUSE over io_uring (Linux 6.14+ with "
		       "CONFIG_FUSE_IO_URING)";
	int c = fgetc(f);
	fclose(f);
	return c == 'Y' ? "the kernel did not offer it"
			: "it is off: as root, echo 1 > /sys/module/fuse/parameters/enable_uring "
			  "before mounting";
}

int uring_ask(uint32_t kernel_flags2)
{
	offered = (kernel_flags2 & OVER_IO_URING_BIT2) != 0;
	asked = offered && wanted;
	if (!wanted)
		log_msg("io_uring: turned off with -o noio_uring; requests come through /dev/fuse");
	else if (!offered)
		log_msg("io_uring: unavailable, %s; requests come through /dev/fuse",
			why_not_offered());
	return asked ? (int)OVER_IO_URING_BIT2 : 0;
}

void uring_configure(struct fuse_session *se, int fd,
		     int (*serve)(const struct fuse_buf *buf, size_t size))
{
	session = se;
	fuse_fd = fd;
	serve_request = serve;
}

void uring_init_sizes(uint32_t max_write, uint32_t max_pages)
{
	uint32_t size = 128 * 1024;
	if (max_write > size)
		size = max_write;
	if (max_pages * 4096u > size)
		size = max_pages * 4096u;
	payload_size = size;
}

int uring_asked(void)
{
	return asked;
}

/* Puts a command for entry e on its ring: REGISTER, or the reply written
 * into e and the fetch of its next request. */
static int queue_command(struct entry *e, int op, uint64_t commit_id)
{
	struct io_uring *u = &e->ring->uring;
	struct io_uring_sqe *sqe = io_uring_get_sqe(u);
	if (!sqe) {
		io_uring_submit(u);
		sqe = io_uring_get_sqe(u);
		if (!sqe)
			return -EBUSY;
	}
	memset(sqe, 0, 128); /* an SQE128: the command lives in its second half */
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = fuse_fd;
	sqe->cmd_op = (uint32_t)op;
	if (op == CMD_REGISTER) {
		sqe->addr = (uint64_t)(uintptr_t)e->iov;
		sqe->len = 2;
	}
	struct ring_cmd *cmd = (struct ring_cmd *)sqe->cmd;
	cmd->qid = e->qid;
	cmd->commit_id = commit_id;
	io_uring_sqe_set_data(sqe, e);
	int rc = io_uring_submit(u);
	return rc < 0 ? rc : 0;
}

/* A request the kernel put in entry e: back into /dev/fuse form, and to
 * libfuse. Under the host lock. */
static void serve_entry(struct entry *e)
{
	const struct fuse_in_header *in = (const void *)e->headers->in_out;
	uint32_t payload = e->headers->ent.payload_sz;
	if (in->len < sizeof *in + payload || in->len - sizeof *in - payload > HEADER_OP ||
	    payload > payload_size) {
		log_once("uring-shape", "io_uring: a request of a shape the host does not know "
			 "(opcode %u, length %u, payload %u); answering EIO", in->opcode, in->len,
			 payload);
		struct fuse_out_header out = { sizeof out, -EIO, in->unique };
		memcpy(e->headers->in_out, &out, sizeof out);
		e->headers->ent.payload_sz = 0;
		queue_command(e, CMD_COMMIT_AND_FETCH, e->headers->ent.commit_id);
		return;
	}
	size_t op_size = in->len - sizeof *in - payload;
	char *buf = e->ring->request;
	memcpy(buf, in, sizeof *in);
	memcpy(buf + sizeof *in, e->headers->op_in, op_size);
	memcpy(buf + sizeof *in + op_size, e->payload, payload);
	device_adapt_request(buf, in->len); /* as for a request read from /dev/fuse */
	e->unique = in->unique;
	size_t at = bucket(e->unique);
	e->hash_next = pending[at];
	pending[at] = e;
	struct fuse_buf fb = { .size = in->len, .mem = buf };
	stats.ring_requests++;
	serve_request(&fb, in->len);
}

int uring_take_reply(const struct iovec *iov, int count, size_t total)
{
	if (!atomic_load(&running_rings) || iov[0].iov_len < sizeof(struct fuse_out_header))
		return 0;
	const struct fuse_out_header *out = iov[0].iov_base;
	if (!out->unique)
		return 0; /* a notification: /dev/fuse */
	struct entry **p = &pending[bucket(out->unique)];
	while (*p && (*p)->unique != out->unique)
		p = &(*p)->hash_next;
	struct entry *e = *p;
	if (!e)
		return 0; /* a request that came through /dev/fuse */
	*p = e->hash_next;
	e->unique = 0;
	size_t body = total - sizeof *out;
	if (body > payload_size) {
		log_msg("io_uring: a reply of %zu bytes does not fit the %u-byte buffer; EIO", body,
			payload_size);
		struct fuse_out_header err = { sizeof err, -EIO, out->unique };
		memcpy(e->headers->in_out, &err, sizeof err);
		body = 0;
	} else {
		memcpy(e->headers->in_out, out, sizeof *out);
		size_t at = 0;
		size_t first = iov[0].iov_len - sizeof *out;
		memcpy(e->payload, (const char *)iov[0].iov_base + sizeof *out, first);
		at = first;
		for (int i = 1; i < count; i++) {
			memcpy(e->payload + at, iov[i].iov_base, iov[i].iov_len);
			at += iov[i].iov_len;
		}
	}
	e->headers->ent.payload_sz = (uint32_t)body;
	int rc = queue_command(e, CMD_COMMIT_AND_FETCH, e->headers->ent.commit_id);
	if (rc < 0)
		log_msg("io_uring: cannot send a reply: %s", strerror(-rc));
	return 1;
}

/* The kernel completed commands of this worker's ring. */
static void on_ring(uv_poll_t *poll, int status, int events)
{
	(void)poll;
	(void)status;
	(void)events;
	struct ring *r = my_ring;
	struct io_uring_cqe *cqe;
	int took = lock_enter();
	while (io_uring_peek_cqe(&r->uring, &cqe) == 0) {
		struct entry *e = io_uring_cqe_get_data(cqe);
		int res = cqe->res;
		io_uring_cqe_seen(&r->uring, cqe);
		if (res == 0) {
			serve_entry(e);
		} else if (res != -ENOTCONN && res != -ECANCELED && res != -ENODEV) {
			log_once("uring-cqe", "io_uring: the kernel refused an entry: %s; its queue "
				 "serves with fewer entries", strerror(-res));
		}
	}
	lock_leave(took);
}

/* Queues of the kernel (one per possible CPU) this worker serves: those
 * with qid % workers == worker. */
static int possible_cpus(void)
{
	int n = 0;
	FILE *f = fopen("/sys/devices/system/cpu/possible", "r");
	if (f) {
		int lo, hi;
		while (fscanf(f, "%d", &lo) == 1) {
			hi = lo;
			if (fgetc(f) == '-' && fscanf(f, "%d", &hi) == 1)
				fgetc(f);
			n += hi - lo + 1;
		}
		fclose(f);
	}
	return n > 0 ? n : (int)sysconf(_SC_NPROCESSORS_CONF);
}

int uring_start_worker(int worker, int workers)
{
	if (!asked || !payload_size)
		return 0;
	int cpus = possible_cpus();
	int queues = 0;
	for (int q = worker; q < cpus; q += workers)
		queues++;
	if (!queues)
		return 0;
	struct ring *r = calloc(1, sizeof *r);
	if (!r)
		return -ENOMEM;
	r->worker = worker;
	r->entry_count = queues * ENTRIES_PER_QUEUE;
	struct io_uring_params params = { .flags = IORING_SETUP_SQE128 };
	int rc = io_uring_queue_init_params((unsigned)r->entry_count * 2, &r->uring, &params);
	if (rc < 0) {
		log_msg("io_uring: cannot set up a ring: %s; worker %d reads /dev/fuse", strerror(-rc),
			worker);
		free(r);
		return rc;
	}
	size_t per_entry = sizeof(struct ring_headers) + payload_size;
	per_entry = (per_entry + 4095) & ~(size_t)4095;
	r->memory_size = per_entry * (size_t)r->entry_count;
	r->memory = mmap(NULL, r->memory_size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	r->entries = calloc((size_t)r->entry_count, sizeof *r->entries);
	r->request = malloc(sizeof(struct fuse_in_header) + HEADER_OP + payload_size);
	if (r->memory == MAP_FAILED || !r->entries || !r->request) {
		if (r->memory != MAP_FAILED)
			munmap(r->memory, r->memory_size);
		free(r->entries);
		free(r->request);
		io_uring_queue_exit(&r->uring);
		free(r);
		return -ENOMEM;
	}
	my_ring = r;
	int k = 0, registered = 0;
	int took = lock_enter();
	files_claim_fd(r->uring.ring_fd); /* never a script's to hand over */
	for (int q = worker; q < cpus; q += workers)
		for (int i = 0; i < ENTRIES_PER_QUEUE; i++, k++) {
			struct entry *e = &r->entries[k];
			char *at = r->memory + per_entry * (size_t)k;
			e->ring = r;
			e->qid = (uint16_t)q;
			e->headers = (struct ring_headers *)at;
			e->payload = at + sizeof(struct ring_headers);
			e->iov[0] = (struct iovec){ e->headers, sizeof *e->headers };
			e->iov[1] = (struct iovec){ e->payload, payload_size };
			registered += queue_command(e, CMD_REGISTER, 0) == 0;
		}
	atomic_fetch_add(&running_rings, 1);
	lock_leave(took);
	if (uv_poll_init(loop_uv(), &r->poll, r->uring.ring_fd) != 0 ||
	    uv_poll_start(&r->poll, UV_READABLE, on_ring) != 0) {
		log_msg("io_uring: worker %d cannot watch its ring", worker);
		return -EIO;
	}
	r->poll.data = r;
	/* Its queues' requests come from callers on these CPUs: serve them there. */
	if (workers >= cpus) {
		cpu_set_t one;
		CPU_ZERO(&one);
		CPU_SET(worker, &one);
		sched_setaffinity(0, sizeof one, &one);
	}
	if (worker == 0)
		log_msg("io_uring: serving %d queue%s from %d worker%s, %d entries each, %u-byte "
			"payloads", cpus, cpus == 1 ? "" : "s", workers, workers == 1 ? "" : "s",
			ENTRIES_PER_QUEUE, payload_size);
	(void)registered;
	return 0;
}

static void free_ring(uv_handle_t *handle)
{
	free(handle->data);
}

void uring_stop_worker(void)
{
	struct ring *r = my_ring;
	if (!r)
		return;
	my_ring = NULL;
	int took = lock_enter();
	atomic_fetch_sub(&running_rings, 1);
	/* requests still held by this ring's entries get no reply through it */
	for (int i = 0; i < r->entry_count; i++) {
		struct entry *e = &r->entries[i];
		if (!e->unique)
			continue;
		struct entry **p = &pending[bucket(e->unique)];
		while (*p && *p != e)
			p = &(*p)->hash_next;
		if (*p)
			*p = e->hash_next;
	}
	lock_leave(took);
	io_uring_queue_exit(&r->uring);
	munmap(r->memory, r->memory_size);
	free(r->entries);
	free(r->request);
	uv_close((uv_handle_t *)&r->poll, free_ring); /* r goes with its handle */
}
