/* moonfs --check runs luacheck (Debian's lua-check) on the script when it
 * is installed: undefined globals and unused variables, with file:line. */
#ifndef MOONFS_LINT_H
#define MOONFS_LINT_H

/* Prints each finding on stderr and returns how many there were; -1 when
 * luacheck is not installed (nothing is said then). */
int lint_script(const char *path);

#endif
