#define _GNU_SOURCE
#include "lint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* luacheck on PATH, or NULL. */
static char *find_luacheck(void)
{
	const char *path = getenv("PATH");
	char *dirs = strdup(path && *path ? path : "/usr/local/bin:/usr/bin:/bin");
	char *found = NULL;
	for (char *save = NULL, *dir = strtok_r(dirs, ":", &save); dir && !found;
	     dir = strtok_r(NULL, ":", &save)) {
		char *candidate;
		if (asprintf(&candidate, "%s/luacheck", dir) < 0)
			break;
		if (access(candidate, X_OK) == 0)
			found = candidate;
		else
			free(candidate);
	}
	free(dirs);
	return found;
}

int lint_script(const char *script)
{
	char *luacheck = find_luacheck();
	int out[2];
	if (!luacheck || pipe(out) != 0) {
		free(luacheck);
		return -1;
	}
	pid_t pid = fork();
	if (pid == 0) {
		dup2(out[1], STDOUT_FILENO);
		close(out[0]);
		close(out[1]);
		/* Globals the script reads but never sets, locals it never uses;
		 * unused handler arguments are fine (the signatures are fixed). */
		execl(luacheck, "luacheck", "--no-color", "--codes", "--formatter", "plain",
		      "--std", "luajit", "--no-unused-args", "--only", "11", "--only", "21", "--",
		      script, (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	free(luacheck);
	int findings = 0;
	FILE *f = fdopen(out[0], "r");
	char line[1024];
	while (f && fgets(line, sizeof line, f)) {
		fprintf(stderr, "moonfs: %s", line);
		findings++;
	}
	if (f)
		fclose(f);
	int status;
	waitpid(pid, &status, 0);
	return WIFEXITED(status) && WEXITSTATUS(status) == 127 ? -1 : findings;
}
