/* moonfs top MOUNTPOINT: a live view of a running mount, redrawn every
 * second: requests per second and latency per operation, the busiest
 * paths, the passthrough share. Fits 80 columns; q quits. The busiest
 * paths come from a trace stream the view holds while it runs. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "oplist.h"

#define PATHS 64

struct sample {
	uint64_t requests[OP_COUNT], count[OP_COUNT], sum_ns[OP_COUNT], p99_ns[OP_COUNT];
	uint64_t passthrough, fallback, inodes;
};

static struct termios saved_tty;
static int tty_saved;
static volatile sig_atomic_t stop;

static void restore_tty(void)
{
	if (tty_saved)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved_tty);
	fputs("\033[?25h", stdout); /* the cursor back */
	fflush(stdout);
}

static void on_stop(int sig)
{
	(void)sig;
	stop = 1;
}

static int take_sample(const char *mountpoint, struct sample *s)
{
	int fd = cli_connect(mountpoint, "stats raw");
	char *text = fd < 0 ? NULL : cli_read_all(fd);
	if (!text)
		return -1;
	memset(s, 0, sizeof *s);
	for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char name[64];
		unsigned long long a, b, c, d;
		int n = sscanf(line, "%63s %llu %llu %llu %llu", name, &a, &b, &c, &d);
		if (n == 3 && strcmp(name, "opens") == 0) {
			s->passthrough = a;
			s->fallback = b;
		} else if (n == 2 && strcmp(name, "inodes") == 0) {
			s->inodes = a;
		} else if (n == 5) {
			for (int op = 0; op < OP_COUNT; op++)
				if (strcmp(op_names[op], name) == 0) {
					s->requests[op] = a;
					s->count[op] = b;
					s->sum_ns[op] = c;
					s->p99_ns[op] = d;
				}
		}
	}
	free(text);
	return 0;
}

/* The busiest paths of the last interval, counted from the trace stream. */
struct path_count {
	char path[200];
	unsigned count;
};
static struct path_count paths[PATHS];
static char pending[8192];
static size_t pending_len;

static void count_path(const char *line)
{
	/* "HH:MM:SS.us op path[ args] -> result  [...]" */
	char op[32], path[200];
	if (sscanf(line, "%*s %31s %199s", op, path) != 2 || path[0] != '/')
		return;
	struct path_count *least = &paths[0];
	for (int i = 0; i < PATHS; i++) {
		if (paths[i].count && strcmp(paths[i].path, path) == 0) {
			paths[i].count++;
			return;
		}
		if (paths[i].count < least->count)
			least = &paths[i];
	}
	/* space-saving: the least counted slot takes the new path */
	snprintf(least->path, sizeof least->path, "%s", path);
	least->count++;
}

static void read_trace(int fd)
{
	for (;;) {
		ssize_t n = read(fd, pending + pending_len, sizeof pending - pending_len - 1);
		if (n <= 0)
			return;
		pending_len += (size_t)n;
		pending[pending_len] = '\0';
		char *start = pending, *nl;
		while ((nl = strchr(start, '\n'))) {
			*nl = '\0';
			count_path(start);
			start = nl + 1;
		}
		pending_len = strlen(start);
		memmove(pending, start, pending_len);
		if (pending_len == sizeof pending - 1)
			pending_len = 0; /* a line too long to matter */
	}
}

static int by_count(const void *a, const void *b)
{
	const struct path_count *x = a, *y = b;
	return (int)y->count - (int)x->count;
}

/* Operations by requests in the last interval, then by total. */
static const struct sample *busiest_sample, *busiest_was;
static int by_activity(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	uint64_t dx = busiest_sample->requests[x] - busiest_was->requests[x];
	uint64_t dy = busiest_sample->requests[y] - busiest_was->requests[y];
	if (dx != dy)
		return dx < dy ? 1 : -1;
	uint64_t tx = busiest_sample->requests[x], ty = busiest_sample->requests[y];
	return tx < ty ? 1 : tx > ty ? -1 : x - y;
}

static void draw(const char *mountpoint, const char *info, const struct sample *was,
		 const struct sample *now, double seconds)
{
	struct winsize ws = { .ws_row = 24, .ws_col = 80 };
	ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws);
	int rows = ws.ws_row ? ws.ws_row : 24, used = 0;
	uint64_t total = 0;
	for (int op = 0; op < OP_COUNT; op++)
		total += now->requests[op] - was->requests[op];
	uint64_t opens = now->passthrough + now->fallback;
	printf("\033[H\033[2J");
	printf("moonfs top  %-40.40s  q quits\n%s\n", mountpoint, info);
	printf("%.0f requests/s   opens served passthrough: %.0f%%   inodes known: %llu\n\n",
	       (double)total / seconds, opens ? 100.0 * (double)now->passthrough / (double)opens : 0.0,
	       (unsigned long long)now->inodes);
	printf("%-18s %10s %11s %11s %12s\n", "OPERATION", "REQ/S", "MEAN US", "P99 US", "TOTAL");
	used = 6;
	/* The busiest operations first, idle ones left out; the paths get
	 * the rows they need, up to a third of the screen, the rest is the
	 * operations'. */
	qsort(paths, PATHS, sizeof paths[0], by_count);
	int path_rows = 0;
	while (path_rows < PATHS && paths[path_rows].count)
		path_rows++;
	int most_paths = (rows - 8) / 3 > 2 ? (rows - 8) / 3 : 2;
	if (path_rows > most_paths)
		path_rows = most_paths;
	int order[OP_COUNT], shown = 0;
	for (int op = 0; op < OP_COUNT; op++)
		if (now->requests[op])
			order[shown++] = op;
	busiest_sample = now;
	busiest_was = was;
	qsort(order, (size_t)shown, sizeof order[0], by_activity);
	for (int i = 0; i < shown && used < rows - path_rows - 3; i++) {
		int op = order[i];
		uint64_t n = now->count[op] - was->count[op];
		double mean = n ? (double)(now->sum_ns[op] - was->sum_ns[op]) / (double)n / 1000.0 : 0;
		printf("%-18s %10.0f %11.1f %11.1f %12llu\n", op_names[op],
		       (double)(now->requests[op] - was->requests[op]) / seconds, mean,
		       (double)now->p99_ns[op] / 1000.0, (unsigned long long)now->requests[op]);
		used++;
	}
	printf("\n%-66s %11s\n", "BUSIEST PATHS (last interval)", "REQ/S");
	used += 2;
	for (int i = 0; i < PATHS && paths[i].count && used < rows - 1; i++, used++)
		printf("%-66.66s %11.0f\n", paths[i].path, paths[i].count / seconds);
	memset(paths, 0, sizeof paths);
	fflush(stdout);
}

int cli_top(const char *mountpoint)
{
	int fd = cli_connect(mountpoint, "info");
	char *info = fd < 0 ? NULL : cli_read_all(fd);
	if (!info)
		return 1;
	char script[4096] = "", line[4400];
	int pid = 0;
	long long since = 0;
	sscanf(info, "%*[^\t]\t%4095[^\t]\t%d\t%lld", script, &pid, &since);
	free(info);
	int trace = cli_connect(mountpoint, "trace");
	char ok[3];
	if (trace >= 0 && (read(trace, ok, 3) != 3 || memcmp(ok, "ok\n", 3) != 0)) {
		close(trace);
		trace = -1;
	}
	if (trace >= 0)
		fcntl(trace, F_SETFL, fcntl(trace, F_GETFL) | O_NONBLOCK);
	if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved_tty) == 0) {
		struct termios raw = saved_tty;
		raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		tcsetattr(STDIN_FILENO, TCSANOW, &raw);
		tty_saved = 1;
	}
	atexit(restore_tty);
	struct sigaction sa = { .sa_handler = on_stop };
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	fputs("\033[?25l", stdout); /* no cursor while drawing */
	struct sample was, now;
	if (take_sample(mountpoint, &was) != 0)
		return 1;
	struct timespec last;
	clock_gettime(CLOCK_MONOTONIC, &last);
	while (!stop) {
		struct pollfd fds[2] = { { STDIN_FILENO, POLLIN, 0 }, { trace, POLLIN, 0 } };
		int n = poll(fds, trace >= 0 ? 2 : 1, 200);
		if (n > 0 && (fds[0].revents & POLLIN)) {
			char key;
			if (read(STDIN_FILENO, &key, 1) == 1 && (key == 'q' || key == 'Q'))
				break;
		}
		if (trace >= 0 && (fds[1].revents & (POLLIN | POLLHUP)))
			read_trace(trace);
		struct timespec t;
		clock_gettime(CLOCK_MONOTONIC, &t);
		double seconds = (double)(t.tv_sec - last.tv_sec) + (double)(t.tv_nsec - last.tv_nsec) / 1e9;
		if (seconds < 1.0)
			continue;
		if (take_sample(mountpoint, &now) != 0)
			break; /* the mount went away */
		long long up = (long long)time(NULL) - since;
		snprintf(line, sizeof line, "%.60s  pid %d  up %lld:%02lld:%02lld", script, pid, up / 3600,
			 up / 60 % 60, up % 60);
		draw(mountpoint, line, &was, &now, seconds);
		was = now;
		last = t;
	}
	if (trace >= 0)
		close(trace);
	return 0;
}
