/* The subcommands that talk to a running mount through its control socket:
 * trace, stats, top, reload, list. Plain blocking sockets: a client does
 * one thing at a time. */
#define _GNU_SOURCE
#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "control.h"

static const char usage[] =
	"usage: moonfs trace MOUNTPOINT [--ops OP,OP] [--path GLOB]\n"
	"       moonfs stats MOUNTPOINT [--json]\n"
	"       moonfs top MOUNTPOINT\n"
	"       moonfs reload MOUNTPOINT\n"
	"       moonfs list\n";

/* Connects to the mount at `mountpoint` and sends `command`. */
int cli_connect(const char *mountpoint, const char *command)
{
	char *real = realpath(mountpoint, NULL);
	char path[108];
	if (!real || control_socket_path(real, path, sizeof path) != 0) {
		fprintf(stderr, "moonfs: %s: %s\n", mountpoint, real ? "no control socket" : strerror(errno));
		free(real);
		return -1;
	}
	char dir[108];
	const char *why = NULL;
	if (control_directory(dir, sizeof dir) != 0 ||
	    (access(dir, F_OK) == 0 && control_directory_trusted(dir, &why) != 0)) {
		fprintf(stderr, "moonfs: not using %s: %s\n", dir, why ? why : "path too long");
		free(real);
		return -1;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path);
	const char *problem = NULL;
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0)
		problem = strerror(errno);
	else if (!control_peer_trusted(fd))
		problem = "answered by another user";
	if (problem) {
		fprintf(stderr, "moonfs: %s is not a running moonfs mount of yours (%s: %s)\n", real,
			path, problem);
		if (fd >= 0)
			close(fd);
		free(real);
		return -1;
	}
	free(real);
	size_t len = strlen(command);
	if (write(fd, command, len) != (ssize_t)len || write(fd, "\n", 1) != 1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Reads everything the server sends into a string (freed by the caller). */
char *cli_read_all(int fd)
{
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	for (ssize_t n; buf; len += (size_t)n) {
		if (len + 1024 > cap) {
			char *grown = realloc(buf, cap *= 2);
			if (!grown)
				break;
			buf = grown;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n <= 0)
			break;
	}
	if (buf)
		buf[len] = '\0';
	close(fd);
	return buf;
}

static int cmd_stats(int argc, char **argv)
{
	int json = argc > 3 && strcmp(argv[3], "--json") == 0;
	int fd = cli_connect(argv[2], json ? "stats json" : "stats");
	char *text = fd < 0 ? NULL : cli_read_all(fd);
	if (!text)
		return 1;
	fputs(text, stdout);
	free(text);
	return 0;
}

static int cmd_reload(int argc, char **argv)
{
	(void)argc;
	int fd = cli_connect(argv[2], "reload");
	char *text = fd < 0 ? NULL : cli_read_all(fd);
	if (!text)
		return 1;
	int ok = strncmp(text, "ok\n", 3) == 0;
	const char *messages = strchr(text, '\n');
	fputs(messages ? messages + 1 : "", ok ? stdout : stderr);
	free(text);
	return ok ? 0 : 1;
}

static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
	(void)sig;
	interrupted = 1;
}

static int cmd_trace(int argc, char **argv)
{
	char command[600] = "trace";
	for (int i = 3; i < argc; i++) {
		const char *key = strcmp(argv[i], "--ops") == 0 ? "ops" :
				  strcmp(argv[i], "--path") == 0 ? "path" : NULL;
		if (!key || i + 1 == argc) {
			fputs(usage, stderr);
			return 2;
		}
		size_t used = strlen(command);
		snprintf(command + used, sizeof command - used, " %s=%s", key, argv[++i]);
	}
	int fd = cli_connect(argv[2], command);
	if (fd < 0)
		return 1;
	struct sigaction sa = { .sa_handler = on_interrupt };
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	char buf[4096];
	ssize_t n = read(fd, buf, 3);
	if (n != 3 || memcmp(buf, "ok\n", 3) != 0) {
		fprintf(stderr, "moonfs: %s: the mount refused: unknown operation in --ops?\n", argv[2]);
		close(fd);
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (!interrupted && (n = read(fd, buf, sizeof buf)) > 0)
		if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n)
			break;
	close(fd);
	return 0;
}

/* "list": the mounts of this user, asked through each socket. */
static int cmd_list(void)
{
	char dir[108];
	const char *why = NULL;
	if (control_directory(dir, sizeof dir) != 0)
		return 1;
	if (access(dir, F_OK) == 0 && control_directory_trusted(dir, &why) != 0) {
		fprintf(stderr, "moonfs: not using %s: %s\n", dir, why);
		return 1;
	}
	DIR *d = opendir(dir);
	printf("%-32s %-28s %8s %10s\n", "MOUNT POINT", "SCRIPT", "PID", "UP");
	for (struct dirent *e; d && (e = readdir(d));) {
		size_t len = strlen(e->d_name);
		if (len < 6 || strcmp(e->d_name + len - 5, ".sock") != 0)
			continue;
		struct sockaddr_un addr = { .sun_family = AF_UNIX };
		if ((size_t)snprintf(addr.sun_path, sizeof addr.sun_path, "%s/%s", dir, e->d_name) >=
		    sizeof addr.sun_path)
			continue;
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0 ||
		    !control_peer_trusted(fd) || write(fd, "info\n", 5) != 5) {
			if (fd >= 0)
				close(fd);
			continue; /* a stale socket of a killed host */
		}
		char *info = cli_read_all(fd);
		char mount[4096], script[4096];
		int pid;
		long long since;
		if (info && sscanf(info, "%4095[^\t]\t%4095[^\t]\t%d\t%lld", mount, script, &pid,
				   &since) == 4) {
			long long up = (long long)time(NULL) - since;
			printf("%-32s %-28s %8d %4lld:%02lld:%02lld\n", mount, script, pid, up / 3600,
			       up / 60 % 60, up % 60);
		}
		free(info);
	}
	if (d)
		closedir(d);
	return 0;
}

int cli_main(int argc, char **argv)
{
	if (argc < 2)
		return -1;
	const char *cmd = argv[1];
	if (strcmp(cmd, "list") == 0)
		return cmd_list();
	static const char *const with_mount[] = { "trace", "stats", "top", "reload" };
	int known = 0;
	for (size_t i = 0; i < sizeof with_mount / sizeof with_mount[0]; i++)
		known |= strcmp(cmd, with_mount[i]) == 0;
	if (!known)
		return -1;
	if (argc < 3) {
		fputs(usage, stderr);
		return 2;
	}
	if (strcmp(cmd, "trace") == 0)
		return cmd_trace(argc, argv);
	if (strcmp(cmd, "stats") == 0)
		return cmd_stats(argc, argv);
	if (strcmp(cmd, "reload") == 0)
		return cmd_reload(argc, argv);
	return cli_top(argv[2]);
}
