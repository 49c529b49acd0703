#define _GNU_SOURCE
#include "control.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "lock.h"
#include "log.h"
#include "mailbox.h"
#include "nodes.h"
#include "oplist.h"
#include "stats.h"
#include "trace.h"

/* A viewer's queue may hold this much before its lines are dropped. */
#define VIEWER_BACKLOG (1 << 20)

struct client {
	uv_pipe_t pipe;
	char line[512];
	size_t len;
	int viewer;               /* streams trace lines */
	unsigned char ops[OP_COUNT]; /* which operations it wants (all when none set) */
	int any_op;
	char glob[256];           /* paths it wants ("" for all) */
	uint64_t dropped;
	struct client *next;
};

static uv_pipe_t server;
static int serving;
static char socket_path[108];
static char mount_point[4096], script_path[4096];
static time_t started;
static int (*reload_script)(void);
static struct client *viewers;
static int viewer_count;

int control_directory(char *buf, size_t size)
{
	const char *runtime = getenv("XDG_RUNTIME_DIR");
	int n;
	if (geteuid() == 0)
		n = snprintf(buf, size, "/run/moonfs");
	else if (runtime && *runtime == '/')
		n = snprintf(buf, size, "%s/moonfs", runtime);
	else
		n = snprintf(buf, size, "/tmp/moonfs-%u", (unsigned)geteuid());
	return n > 0 && (size_t)n < size ? 0 : -1;
}

int control_directory_trusted(const char *dir, const char **why)
{
	struct stat st;
	*why = NULL;
	if (lstat(dir, &st) != 0)
		*why = strerror(errno);
	else if (!S_ISDIR(st.st_mode))
		*why = "not a directory (a symlink?)";
	else if (st.st_uid != geteuid())
		*why = "owned by another user";
	else if (st.st_mode & 077)
		*why = "open to other users (its mode must be 0700)";
	return *why ? -1 : 0;
}

int control_peer_trusted(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof cred;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
		return 0;
	return cred.uid == geteuid() || cred.uid == 0;
}

int control_socket_path(const char *mountpoint, char *buf, size_t size)
{
	char dir[sizeof socket_path];
	if (control_directory(dir, sizeof dir) != 0)
		return -1;
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a: a short, stable name */
	for (const char *p = mountpoint; *p; p++)
		h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
	int n = snprintf(buf, size, "%s/%016llx.sock", dir, (unsigned long long)h);
	return n > 0 && (size_t)n < size ? 0 : -1;
}

/* ---- writing to clients ---- */

struct write_req {
	uv_write_t req;
	int close_after;
	char data[];
};

static void on_closed(uv_handle_t *handle)
{
	free(handle->data);
}

static void drop_viewer(struct client *c);

static void close_client(struct client *c)
{
	if (c->viewer)
		drop_viewer(c);
	if (!uv_is_closing((uv_handle_t *)&c->pipe))
		uv_close((uv_handle_t *)&c->pipe, on_closed);
}

static void on_written(uv_write_t *req, int status)
{
	struct write_req *w = (struct write_req *)req;
	struct client *c = req->handle->data;
	if ((status < 0 || w->close_after) && c)
		close_client(c);
	free(w);
}

static void send_text(struct client *c, const char *data, size_t len, int close_after)
{
	struct write_req *w = malloc(sizeof *w + len);
	if (!w) {
		close_client(c);
		return;
	}
	memcpy(w->data, data, len);
	w->close_after = close_after;
	uv_buf_t buf = uv_buf_init(w->data, (unsigned)len);
	if (uv_write(&w->req, (uv_stream_t *)&c->pipe, &buf, 1, on_written) != 0) {
		free(w);
		close_client(c);
	}
}

/* ---- trace viewers ---- */

static void sink_here(const struct trace_record *t, const char *line);

/* A trace line from another worker, on its way to the main thread, which
 * alone writes to the viewers. */
struct posted_line {
	struct trace_record record;
	char line[];
};

static void deliver_line(void *arg)
{
	struct posted_line *p = arg;
	sink_here(&p->record, p->line);
	free(p);
}

static void sink(const struct trace_record *t, const char *line)
{
	if (lock_worker() == 0) {
		sink_here(t, line);
		return;
	}
	size_t len = strlen(line);
	struct posted_line *p = malloc(sizeof *p + len + 1);
	if (!p)
		return;
	p->record = *t;
	memcpy(p->line, line, len + 1);
	if (mailbox_post(0, deliver_line, p) != 0)
		free(p);
}

static void sink_here(const struct trace_record *t, const char *line)
{
	for (struct client *c = viewers; c; c = c->next) {
		if (!c->any_op && !c->ops[t->op])
			continue;
		if (c->glob[0]) {
			char path[sizeof t->paths];
			snprintf(path, sizeof path, "%.*s", (int)t->path_len, t->paths);
			if (fnmatch(c->glob, path, 0) != 0)
				continue;
		}
		if (uv_stream_get_write_queue_size((uv_stream_t *)&c->pipe) > VIEWER_BACKLOG) {
			c->dropped++; /* a viewer that cannot keep up must not eat the host's memory */
			continue;
		}
		char text[1200];
		int n = c->dropped ? snprintf(text, sizeof text, "(%llu lines dropped: the viewer "
					      "was too slow)\n%s\n", (unsigned long long)c->dropped, line)
				   : snprintf(text, sizeof text, "%s\n", line);
		c->dropped = 0;
		send_text(c, text, n < (int)sizeof text ? (size_t)n : sizeof text - 1, 0);
	}
}

static void drop_viewer(struct client *c)
{
	for (struct client **p = &viewers; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			break;
		}
	c->viewer = 0;
	trace_set_viewers(--viewer_count, sink);
}

/* "trace [ops=lookup,read] [path=GLOB]" */
static int start_viewer(struct client *c, char *args)
{
	c->any_op = 1;
	for (char *save = NULL, *word = strtok_r(args, " ", &save); word;
	     word = strtok_r(NULL, " ", &save)) {
		if (strncmp(word, "ops=", 4) == 0) {
			c->any_op = 0;
			for (char *s2 = NULL, *op = strtok_r(word + 4, ",", &s2); op;
			     op = strtok_r(NULL, ",", &s2)) {
				int found = 0;
				for (int k = 0; k < OP_COUNT; k++)
					if (strcmp(op_names[k], op) == 0)
						c->ops[k] = found = 1;
				if (!found)
					return -1;
			}
		} else if (strncmp(word, "path=", 5) == 0) {
			snprintf(c->glob, sizeof c->glob, "%s", word + 5);
		} else {
			return -1;
		}
	}
	c->viewer = 1;
	c->next = viewers;
	viewers = c;
	trace_set_viewers(++viewer_count, sink);
	return 0;
}

/* ---- commands ---- */

static void host_memory(char *buf, size_t size, int json)
{
	long rss_pages = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (f) {
		long total;
		if (fscanf(f, "%ld %ld", &total, &rss_pages) != 2)
			rss_pages = 0;
		fclose(f);
	}
	double rss_mib = (double)rss_pages * (double)sysconf(_SC_PAGESIZE) / 1048576.0;
	if (json)
		snprintf(buf, size, "\"host_rss_mib\": %.1f, \"uptime_s\": %lld, \"pid\": %d",
			 rss_mib, (long long)(time(NULL) - started), (int)getpid());
	else
		snprintf(buf, size, "host memory: %.1f MiB resident; up %lld s; pid %d\n", rss_mib,
			 (long long)(time(NULL) - started), (int)getpid());
}

/* "stats raw": one line per operation, numbers only, for moonfs top. */
static size_t raw_stats(char *buf, size_t size)
{
	size_t len = 0;
	for (int op = 0; op < OP_COUNT && len < size; op++) {
		const struct latency *h = &stats.host[op];
		int n = snprintf(buf + len, size - len, "%s %llu %llu %llu %llu\n", op_names[op],
				 (unsigned long long)stats.requests[op], (unsigned long long)h->count,
				 (unsigned long long)h->sum_ns,
				 (unsigned long long)stats_quantile(h, 0.99));
		len += n > 0 ? (size_t)n : 0;
	}
	if (len < size) {
		int n = snprintf(buf + len, size - len, "opens %llu %llu\ninodes %llu\n",
				 (unsigned long long)stats.passthrough_opens,
				 (unsigned long long)stats.fallback_opens,
				 (unsigned long long)nodes_count());
		len += n > 0 ? (size_t)n : 0;
	}
	return len < size ? len : size - 1;
}

static void run_command_locked(struct client *c, char *line, char *out, size_t out_size,
			       char *extra, size_t extra_size);

static void run_command(struct client *c, char *line)
{
	static char out[64 * 1024];
	char extra[256];
	int took = lock_enter(); /* the counters and nodes are shared with the workers */
	run_command_locked(c, line, out, sizeof out, extra, sizeof extra);
	lock_leave(took);
}

static void run_command_locked(struct client *c, char *line, char *out, size_t out_size,
			       char *extra, size_t extra_size)
{
	if (strcmp(line, "info") == 0) {
		int n = snprintf(out, out_size, "%s\t%s\t%d\t%lld\n", mount_point, script_path,
				 (int)getpid(), (long long)started);
		send_text(c, out, (size_t)n, 1);
	} else if (strcmp(line, "stats") == 0 || strcmp(line, "stats json") == 0) {
		int json = line[5] != '\0';
		host_memory(extra, extra_size, json);
		send_text(c, out, stats_report(out, out_size, json, extra), 1);
	} else if (strcmp(line, "stats raw") == 0) {
		send_text(c, out, raw_stats(out, out_size), 1);
	} else if (strcmp(line, "reload") == 0) {
		char messages[4096];
		log_capture(messages, sizeof messages);
		int rc = reload_script ? reload_script() : -1;
		log_capture(NULL, 0);
		int n = snprintf(out, out_size, "%s\n%s", rc == 0 ? "ok" : "failed", messages);
		send_text(c, out, n < (int)out_size ? (size_t)n : out_size - 1, 1);
	} else if (strncmp(line, "trace", 5) == 0 && (line[5] == '\0' || line[5] == ' ')) {
		if (start_viewer(c, line + 5) != 0)
			send_text(c, "failed\nunknown operation or option\n", 35, 1);
		else
			send_text(c, "ok\n", 3, 0);
	} else {
		send_text(c, "failed\nunknown command\n", 23, 1);
	}
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
	(void)handle;
	static char chunk[512];
	(void)suggested;
	*buf = uv_buf_init(chunk, sizeof chunk);
}

static void on_read(uv_stream_t *stream, ssize_t n, const uv_buf_t *buf)
{
	struct client *c = stream->data;
	if (n < 0) { /* the client went (a viewer's Ctrl-C) */
		close_client(c);
		return;
	}
	if (c->viewer)
		return; /* a viewer has nothing more to say */
	for (ssize_t i = 0; i < n; i++) {
		if (buf->base[i] == '\n') {
			c->line[c->len] = '\0';
			c->len = 0;
			run_command(c, c->line);
			return;
		}
		if (c->len + 1 < sizeof c->line)
			c->line[c->len++] = buf->base[i];
	}
}

static void on_connection(uv_stream_t *listener, int status)
{
	if (status < 0)
		return;
	struct client *c = calloc(1, sizeof *c);
	if (!c)
		return;
	uv_pipe_init(listener->loop, &c->pipe, 0);
	c->pipe.data = c;
	uv_os_fd_t fd;
	if (uv_accept(listener, (uv_stream_t *)&c->pipe) != 0 ||
	    uv_fileno((uv_handle_t *)&c->pipe, &fd) != 0 || !control_peer_trusted(fd) ||
	    uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read) != 0)
		close_client(c);
}

/* Whether a host answers on the socket at path (else it is stale). */
static int live(const char *path)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path);
	int ok = connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0;
	close(fd);
	return ok;
}

int control_start(uv_loop_t *loop, const char *mountpoint, const char *script, int (*reload)(void))
{
	char dir[sizeof socket_path];
	if (control_directory(dir, sizeof dir) != 0 ||
	    control_socket_path(mountpoint, socket_path, sizeof socket_path) != 0)
		return -1;
	const char *why;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		log_msg("control socket: cannot make %s: %s", dir, strerror(errno));
		return -1;
	}
	if (control_directory_trusted(dir, &why) != 0) {
		log_msg("control socket: %s is %s; this mount has no control socket", dir, why);
		return -1;
	}
	if (live(socket_path)) {
		log_msg("control socket: another moonfs answers at %s; this mount has none",
			socket_path);
		return -1;
	}
	unlink(socket_path); /* a stale one, from a host that was killed */
	snprintf(mount_point, sizeof mount_point, "%s", mountpoint);
	snprintf(script_path, sizeof script_path, "%s", script);
	started = time(NULL);
	reload_script = reload;
	mode_t old = umask(0177); /* the socket is the user's alone (root can always) */
	int rc = uv_pipe_init(loop, &server, 0);
	if (rc == 0)
		rc = uv_pipe_bind(&server, socket_path);
	umask(old);
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&server, 8, on_connection);
	if (rc != 0) {
		log_msg("control socket: %s: %s", socket_path, uv_strerror(rc));
		if (!uv_is_closing((uv_handle_t *)&server))
			uv_close((uv_handle_t *)&server, NULL);
		return -1;
	}
	uv_unref((uv_handle_t *)&server); /* it keeps nothing running by itself */
	serving = 1;
	return 0;
}

void control_stop(void)
{
	if (!serving)
		return;
	while (viewers)
		close_client(viewers);
	uv_close((uv_handle_t *)&server, NULL);
	unlink(socket_path);
	serving = 0;
}
