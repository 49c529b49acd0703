/* The subcommands of `moonfs` that talk to a running mount (trace, stats,
 * top, reload, list), over its control socket (control.h). */
#ifndef MOONFS_CLI_H
#define MOONFS_CLI_H

/* Runs the subcommand named by argv[1]: its exit code, or -1 when argv[1]
 * names none (then argv is a mount's command line). */
int cli_main(int argc, char **argv);

/* For top.c: a connection to the mount with `command` sent (-1 after a
 * message), and everything it answers (malloc'd; closes fd). */
int cli_connect(const char *mountpoint, const char *command);
char *cli_read_all(int fd);

/* moonfs top MOUNTPOINT */
int cli_top(const char *mountpoint);

#endif
