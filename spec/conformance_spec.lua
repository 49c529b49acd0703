-- Differential conformance: every case runs the same system calls against a
-- plain directory (ext4 or whatever /tmp is) and against a moonfs mount, as
-- root and as unprivileged users with supplementary groups, and requires
-- the same results, errno names, stat fields and time changes
-- (support/differential.lua). Targets: the mirror (mounted as root with
-- allow_other,default_permissions over a backing directory) with two
-- workers and with one, memfs (same options, no backing directory), and a
-- second plain directory, which checks the engine and the cases themselves.
--
-- Each area is one `it`; each case in it starts from fresh directories.
-- A case stops at its first difference (the rest would only show the
-- consequences); the failure names the case, the step and both results.
-- DIFFERENTIAL_TRACE=1 prints every step; CONFORMANCE_TARGETS=mirror,memfs
-- picks targets.
--
-- Not compared, on purpose (see support/differential.lua):
-- - the size and st_blocks of directories: each filesystem's own business
--   (ext4 says 4096, tmpfs counts entries), POSIX leaves it open;
-- - atime, except right after utimensat sets it: relatime and the coarse
--   clock make it unpredictable on ext4 itself;
-- - opening device nodes: libfuse mounts with nodev (creating them is
--   compared).
local mount = require("support.mount")
local sys = require("support.sys")
local D = require("support.differential")
local creds = require("support.creds")

-- alice and carol share the supplementary group 1003; bob is alone.
local SHARED = 1003
local USERS = {
  alice = { uid = 1001, gid = 1001, groups = { 1001, SHARED } },
  bob = { uid = 1002, gid = 1002, groups = { 1002 } },
  carol = { uid = 1004, gid = 1004, groups = { 1004, SHARED } },
}
local WHO = { "root", "alice", "carol", "bob" }
local function as(who) if who ~= "root" then return who end end

local function o(s) return tonumber(s, 8) end
local function name(n, c) return (c or "n"):rep(n) end

---------------------------------------------------------------- areas
-- Each area: { name, function(run, target) run:case(...) ... end }

local areas = {}
local function area(title, fn) areas[#areas + 1] = { title, fn } end

area("open: O_CREAT, O_EXCL, O_TRUNC, O_APPEND", function(run)
  run:case("O_CREAT honours the mode and the umask", {
    { op = "open", "f", "WRONLY|CREAT", mode = o"0666", close = true },
    { op = "open", "g", "WRONLY|CREAT", mode = o"0777", umask = o"0000", close = true },
    { op = "open", "h", "RDWR|CREAT", mode = o"0000", close = true },
    { op = "open", "s", "WRONLY|CREAT", mode = o"7777", umask = o"0000", close = true },
    { op = "open", "u", "WRONLY|CREAT", mode = o"0777", umask = o"0077", close = true },
    { op = "stat", "h" },
  })
  run:case("O_CREAT with mode 0 still opens for the creator", {
    { op = "open", "h", "RDWR|CREAT", mode = o"0000", as = "alice", fd = "h" },
    { op = "write", "data", fd = "h" },
    { op = "close", fd = "h" },
    { op = "open", "h", "RDONLY", as = "alice", close = true },
  }, { mode = o"0777" })
  run:case("O_EXCL", {
    { op = "create", "f", data = "x" },
    { op = "open", "f", "WRONLY|CREAT|EXCL", close = true },
    { op = "open", "n", "WRONLY|CREAT|EXCL", close = true },
    { op = "open", "f", "WRONLY|EXCL", close = true },
    { op = "symlink", "nowhere", "dl" },
    { op = "open", "dl", "WRONLY|CREAT|EXCL", close = true },
    { op = "open", "dl", "WRONLY|CREAT", close = true, watch = { "nowhere" } },
    { op = "mkdir", "d" },
    { op = "open", "d", "RDONLY|CREAT|EXCL", close = true },
    { op = "open", "d", "RDONLY|CREAT", close = true },
    { op = "readdir", "." },
  })
  run:case("O_TRUNC", {
    { op = "create", "f", data = "hello" },
    { op = "open", "f", "WRONLY|TRUNC", close = true },
    { op = "create", "g", data = "abc" },
    { op = "open", "g", "RDONLY|TRUNC", close = true, note = "Linux truncates" },
    { op = "create", "e" },
    { op = "open", "e", "WRONLY|TRUNC", close = true },
    { op = "mkdir", "d" },
    { op = "open", "d", "RDONLY|TRUNC", close = true },
    { op = "create", "ro", data = "keep" },
    { op = "chmod", "ro", o"0444" },
    { op = "open", "ro", "WRONLY|TRUNC", close = true },
    { op = "create", "ro2", data = "keep" },
    { op = "lchown", "ro2", 1001, 1001 },
    { op = "chmod", "ro2", o"0444" },
    { op = "open", "ro2", "WRONLY|TRUNC", as = "alice", close = true },
    { op = "open", "ro2", "RDONLY|TRUNC", as = "alice", close = true },
    { op = "cat", "ro2" },
    { op = "mkfifo", "p" },
    { op = "open", "p", "WRONLY|NONBLOCK|TRUNC", close = true },
  })
  run:case("O_APPEND", {
    { op = "create", "f", data = "abc" },
    { op = "open", "f", "WRONLY|APPEND" },
    { op = "write", "de" },
    { op = "write", "fg", at = 0, note = "pwrite appends with O_APPEND on Linux" },
    { op = "fstat" },
    { op = "close" },
    { op = "cat", "f" },
    { op = "open", "f", "RDWR|APPEND" },
    { op = "read", 3, at = 1 },
    { op = "lseek", 0 },
    { op = "write", "X" },
    { op = "read", 10, at = 0 },
    { op = "close" },
    { op = "open", "g", "WRONLY|CREAT|APPEND|TRUNC" },
    { op = "write", "1" },
    { op = "write", "2" },
    { op = "close" },
    { op = "cat", "g" },
  })
end)

area("open: O_DIRECTORY, O_NOFOLLOW, ENOTDIR, EISDIR", function(run)
  run:case("O_DIRECTORY", {
    { op = "mkdir", "d" },
    { op = "create", "f" },
    { op = "symlink", "d", "ld" },
    { op = "symlink", "f", "lf" },
    { op = "open", "d", "RDONLY|DIRECTORY", close = true },
    { op = "open", "f", "RDONLY|DIRECTORY", close = true },
    { op = "open", "ld", "RDONLY|DIRECTORY", close = true },
    { op = "open", "lf", "RDONLY|DIRECTORY", close = true },
    { op = "open", "missing", "RDONLY|DIRECTORY", close = true },
    { op = "open", "n", "RDONLY|CREAT|DIRECTORY", close = true },
    { op = "open", "d", "WRONLY|DIRECTORY", close = true },
    { op = "open", "f/", "RDONLY", close = true },
    { op = "open", "d/", "RDONLY", close = true },
  })
  run:case("O_NOFOLLOW", {
    { op = "create", "f", data = "x" },
    { op = "symlink", "f", "lf" },
    { op = "mkdir", "d" },
    { op = "symlink", "d", "ld" },
    { op = "create", "d/x" },
    { op = "open", "lf", "RDONLY|NOFOLLOW", close = true },
    { op = "open", "lf", "WRONLY|CREAT|NOFOLLOW", close = true },
    { op = "open", "f", "RDONLY|NOFOLLOW", close = true },
    { op = "open", "ld/x", "RDONLY|NOFOLLOW", close = true },
    { op = "open", "ld", "RDONLY|NOFOLLOW|DIRECTORY", close = true },
    { op = "open", "lf", "PATH|NOFOLLOW", close = true },
    { op = "symlink", "dangling", "dl" },
    { op = "open", "dl", "WRONLY|CREAT|NOFOLLOW", close = true, watch = { "dangling" } },
  })
  run:case("EISDIR and ENOTDIR on open", {
    { op = "mkdir", "d" },
    { op = "create", "f" },
    { op = "open", "d", "WRONLY", close = true },
    { op = "open", "d", "RDWR", close = true },
    { op = "open", "d", "RDONLY", close = true },
    { op = "open", "d", "WRONLY|CREAT", close = true },
    { op = "open", "f/x", "RDONLY", close = true },
    { op = "open", "f/x", "WRONLY|CREAT", close = true },
    { op = "open", "f/", "WRONLY", close = true },
    { op = "open", "n/", "WRONLY|CREAT", close = true },
    { op = "open", "missing/x", "WRONLY|CREAT", close = true },
    { op = "open", "", "RDONLY", close = true },
  })
end)

area("open: permissions", function(run)
  local modes = { o"0000", o"0400", o"0200", o"0600", o"0040", o"0020", o"0060", o"0004", o"0002",
    o"0006", o"0066", o"0606", o"0660", o"0777", o"0707" }
  for _, mode in ipairs(modes) do
    local steps = {
      { op = "create", "f", data = "data" },
      { op = "lchown", "f", 1001, SHARED },
      { op = "chmod", "f", mode },
    }
    for _, who in ipairs(WHO) do
      for _, acc in ipairs({ "RDONLY", "WRONLY", "RDWR" }) do
        steps[#steps + 1] = { op = "open", "f", acc, as = as(who), close = true }
      end
      steps[#steps + 1] = { op = "access", "f", "R", as = as(who) }
      steps[#steps + 1] = { op = "access", "f", "W", as = as(who) }
      steps[#steps + 1] = { op = "access", "f", "X", as = as(who) }
    end
    run:case(("file 0%o owned by alice:shared, opened by each user"):format(mode), steps)
  end
  run:case("group access through the primary gid", {
    { op = "create", "f", data = "data" },
    { op = "lchown", "f", 1001, 1002 },
    { op = "chmod", "f", o"0060" },
    { op = "open", "f", "RDWR", as = "bob", close = true },
    { op = "open", "f", "RDONLY", as = "carol", close = true },
    { op = "open", "f", "RDONLY", as = "alice", close = true },
  })
  run:case("supplementary groups grant access", {
    { op = "create", "f", data = "secret" },
    { op = "lchown", "f", 0, SHARED },
    { op = "chmod", "f", o"0640" },
    { op = "cat", "f", as = "alice" },
    { op = "cat", "f", as = "carol" },
    { op = "cat", "f", as = "bob" },
    { op = "open", "f", "WRONLY", as = "carol", close = true },
    { op = "mkdir", "g" },
    { op = "lchown", "g", 0, SHARED },
    { op = "chmod", "g", o"0770" },
    { op = "create", "g/by-carol", data = "c", as = "carol" },
    { op = "create", "g/by-bob", data = "b", as = "bob" },
    { op = "readdir", "g", as = "alice" },
    { op = "readdir", "g", as = "bob" },
  })
end)

area("directory permissions", function(run)
  local modes = { o"0700", o"0500", o"0300", o"0100", o"0600", o"0070", o"0050", o"0030", o"0007",
    o"0003", o"0005", o"0001", o"0707", o"0750" }
  for _, mode in ipairs(modes) do
    local steps = {
      { op = "mkdir", "d" },
      { op = "create", "d/f", data = "x" },
      { op = "chmod", "d/f", o"0666" },
      { op = "lchown", "d", 1001, SHARED },
      { op = "chmod", "d", mode },
    }
    for _, who in ipairs(WHO) do
      local u = as(who)
      for _, s in ipairs({
        { op = "readdir", "d", as = u },
        { op = "stat", "d/f", as = u },
        { op = "open", "d/f", "RDONLY", as = u, close = true },
        { op = "access", "d", "W", as = u },
        { op = "open", "d/new", "WRONLY|CREAT|EXCL", as = u, close = true },
        { op = "open", "d/f", "WRONLY|CREAT|EXCL", as = u, close = true },
        { op = "unlink", "d/new", as = u },
        { op = "rename", "d/f", "d/g", as = u },
        { op = "rename", "d/g", "d/f", as = u },
        { op = "mkdir", "d/sub", as = u },
        { op = "rmdir", "d/sub", as = u },
        { op = "symlink", "f", "d/l", as = u },
        { op = "unlink", "d/l", as = u },
      }) do steps[#steps + 1] = s end
    end
    run:case(("directory 0%o owned by alice:shared"):format(mode), steps, { mode = o"0777" })
  end
end)

area("credentials: owner of what users create", function(run)
  local steps = {}
  for _, who in ipairs({ "alice", "bob", "carol" }) do
    local p = who:sub(1, 1)
    for _, s in ipairs({
      { op = "create", p .. "f", data = "x", as = who },
      { op = "mkdir", p .. "d", as = who },
      { op = "mkfifo", p .. "p", as = who },
      { op = "symlink", "target", p .. "s", as = who },
      { op = "mknod", p .. "m", type = "file", mode = o"0600", as = who },
      { op = "link", p .. "f", p .. "l", as = who },
      { op = "create", p .. "u", data = "x", umask = o"0077", mode = o"0777", as = who },
      { op = "mkdir", p .. "du", mode = o"0777", umask = o"0002", as = who },
    }) do steps[#steps + 1] = s end
  end
  run:case("files, dirs, fifos, symlinks and links belong to their creator", steps, { mode = o"0777" })
  run:case("a group-writable directory, through a supplementary group", {
    { op = "create", "f", data = "x", as = "carol" },
    { op = "mkdir", "d", as = "alice" },
    { op = "create", "g", data = "x", as = "bob" },
    { op = "lstat", "f" },
  }, { uid = 0, gid = SHARED, mode = o"0770" })
end)

area("chmod", function(run)
  run:case("who may chmod", {
    { op = "create", "f" },
    { op = "lchown", "f", 1001, 1001 },
    { op = "chmod", "f", o"0600", as = "alice" },
    { op = "chmod", "f", o"0777", as = "bob" },
    { op = "chmod", "f", o"0644" },
    { op = "chmod", "missing", o"0644" },
    { op = "symlink", "f", "lf" },
    { op = "chmod", "lf", o"0640", watch = { "f" } },
    { op = "chmod", "lf", o"0640", as = "alice", watch = { "f" } },
    { op = "chmod", "f", o"7777" },
    { op = "chmod", "f", o"4755", as = "alice" },
    { op = "mkdir", "d" },
    { op = "chmod", "d", o"1777" },
    { op = "chmod", "d", o"2755" },
    { op = "open", "f", "RDONLY", as = "alice", fd = "a" },
    { op = "fchmod", o"0700", fd = "a" },
    { op = "open", "f", "RDONLY", fd = "r" },
    { op = "fchmod", o"0644", fd = "r" },
    { op = "open", "f", "RDONLY", as = "bob", fd = "b" },
    { op = "fchmod", o"0777", fd = "b", as = "bob" },
  })
  run:case("chmod clears setgid when the owner is not in the file's group", {
    { op = "create", "f" },
    { op = "lchown", "f", 1001, 1002 },
    { op = "chmod", "f", o"2755", as = "alice" },
    { op = "create", "g" },
    { op = "lchown", "g", 1001, SHARED },
    { op = "chmod", "g", o"2755", as = "alice" },
    { op = "chmod", "f", o"2755" },
    { op = "mkdir", "d" },
    { op = "lchown", "d", 1001, 1002 },
    { op = "chmod", "d", o"2755", as = "alice" },
    { op = "chmod", "f", o"1755", as = "alice", note = "sticky on a file" },
  })
end)

area("chown", function(run)
  run:case("who may chown", {
    { op = "create", "f" },
    { op = "lchown", "f", 1001, 1001 },
    { op = "lchown", "f", 1002, -1, as = "alice" },
    { op = "lchown", "f", -1, SHARED, as = "alice" },
    { op = "lchown", "f", -1, 1002, as = "alice" },
    { op = "lchown", "f", 1001, -1, as = "alice" },
    { op = "lchown", "f", -1, -1, as = "alice" },
    { op = "lchown", "f", -1, -1, as = "bob" },
    { op = "lchown", "f", 1002, 1002, as = "bob" },
    { op = "lchown", "f", 1002, 1002 },
    { op = "lchown", "missing", 1, 1 },
    { op = "symlink", "f", "lf" },
    { op = "chown", "lf", 1004, 1004, watch = { "f" } },
    { op = "lchown", "lf", 1001, 1001, watch = { "f" } },
    { op = "lchown", "lf", -1, SHARED, as = "alice" },
    { op = "open", "f", "RDONLY", fd = "r" },
    { op = "fchown", 1001, SHARED, fd = "r" },
    { op = "open", "f", "RDONLY", as = "alice", fd = "a" },
    { op = "fchown", -1, 1001, fd = "a", as = "alice" },
    { op = "fchown", 1002, -1, fd = "a", as = "alice" },
  })
  run:case("root's chown clears setuid and setgid (group exec)", {
    { op = "create", "f" },
    { op = "lchown", "f", 1001, 1001 },
    { op = "chmod", "f", o"6755" },
    { op = "lchown", "f", 1002, -1 },
  })
  run:case("chown keeps setgid without group exec", {
    { op = "create", "f" },
    { op = "chmod", "f", o"2644" },
    { op = "lchown", "f", 1002, -1 },
  })
  run:case("the owner's chgrp clears setuid and setgid", {
    { op = "create", "f" },
    { op = "lchown", "f", 1001, 1001 },
    { op = "chmod", "f", o"6755" },
    { op = "lchown", "f", -1, SHARED, as = "alice" },
  })
  run:case("chown(-1, -1) clears setuid and changes ctime", {
    { op = "create", "f" },
    { op = "chmod", "f", o"4755" },
    { op = "lchown", "f", -1, -1 },
  })
  run:case("chown(-1, -1) by the owner changes ctime", {
    { op = "create", "f" },
    { op = "lchown", "f", 1001, 1001 },
    { op = "lchown", "f", -1, -1, as = "alice" },
  })
  run:case("chown keeps the bits of a directory", {
    { op = "mkdir", "d" },
    { op = "chmod", "d", o"6755" },
    { op = "lchown", "d", 1001, SHARED },
  })
end)

area("truncate and ftruncate", function(run, target)
  local steps = {
    { op = "create", "f", data = "hello world" },
    { op = "truncate", "f", 5 },
    { op = "cat", "f" },
    { op = "truncate", "f", 20 },
    { op = "cat", "f" },
    { op = "truncate", "f", 20 },
    { op = "truncate", "f", 0 },
    { op = "truncate", "missing", 0 },
    { op = "mkdir", "d" },
    { op = "truncate", "d", 0 },
    { op = "truncate", "f", -1 },
    { op = "mkfifo", "p" },
    { op = "truncate", "p", 0 },
    { op = "symlink", "f", "lf" },
    { op = "truncate", "lf", 3, watch = { "f" } },
    { op = "truncate", "f/x", 0 },
  }
  if target.big_files then
    steps[#steps + 1] = { op = "truncate", "f", 2 ^ 50, note = "past ext4's limit" }
  end
  run:case("truncate", steps)
  run:case("ftruncate", {
    { op = "create", "f", data = "hello" },
    { op = "open", "f", "RDONLY", fd = "r" },
    { op = "ftruncate", 0, fd = "r" },
    { op = "open", "f", "WRONLY", fd = "w" },
    { op = "ftruncate", 3, fd = "w" },
    { op = "ftruncate", -1, fd = "w" },
    { op = "ftruncate", 8, fd = "w" },
    { op = "read", 100, at = 0, fd = "r" },
    { op = "mkdir", "d" },
    { op = "open", "d", "RDONLY|DIRECTORY", fd = "d" },
    { op = "ftruncate", 0, fd = "d" },
    { op = "lchown", "f", 1001, 1001 },
    { op = "chmod", "f", o"0400" },
    { op = "open", "f", "RDWR", as = "alice", fd = "a" },
    { op = "open", "f", "WRONLY", fd = "w2" },
    { op = "chmod", "f", o"0444" },
    { op = "ftruncate", 1, fd = "w2", as = "alice", note = "an fd open for writing may truncate" },
  })
  run:case("truncate needs write permission", {
    { op = "create", "f", data = "root's" },
    { op = "truncate", "f", 1, as = "alice" },
    { op = "create", "g", data = "alice's" },
    { op = "lchown", "g", 1001, 1001 },
    { op = "chmod", "g", o"0444" },
    { op = "truncate", "g", 1, as = "alice" },
    { op = "truncate", "g", 1 },
    { op = "create", "h", data = "shared" },
    { op = "lchown", "h", 0, SHARED },
    { op = "chmod", "h", o"0664" },
    { op = "truncate", "h", 2, as = "alice" },
    { op = "truncate", "h", 2, as = "bob" },
  })
  run:case("truncate by a user clears setuid and setgid", {
    { op = "create", "f", data = "xx" },
    { op = "lchown", "f", 0, SHARED },
    { op = "chmod", "f", o"6777" },
    { op = "truncate", "f", 1, as = "alice" },
  })
  run:case("truncate by root keeps setuid", {
    { op = "create", "f", data = "xx" },
    { op = "chmod", "f", o"4777" },
    { op = "truncate", "f", 1 },
  })
  run:case("write by a user clears setuid", {
    { op = "create", "f", data = "xx" },
    { op = "chmod", "f", o"4777" },
    { op = "open", "f", "WRONLY", as = "bob" },
    { op = "write", "y", at = 0, as = "bob" },
    { op = "close" },
  })
  run:case("write by a user clears setgid with group exec", {
    { op = "create", "f", data = "xx" },
    { op = "chmod", "f", o"2777" },
    { op = "open", "f", "WRONLY", as = "bob" },
    { op = "write", "y", at = 0, as = "bob" },
    { op = "close" },
  })
  run:case("write by root keeps setuid", {
    { op = "create", "f", data = "xx" },
    { op = "chmod", "f", o"4777" },
    { op = "open", "f", "WRONLY" },
    { op = "write", "y", at = 0 },
    { op = "close" },
  })
  run:case("O_TRUNC by a user clears setuid", {
    { op = "create", "f", data = "xx" },
    { op = "chmod", "f", o"4777" },
    { op = "open", "f", "WRONLY|TRUNC", as = "bob", close = true },
  })
end)

area("utimensat", function(run)
  run:case("explicit times, UTIME_NOW, UTIME_OMIT", {
    { op = "create", "f" },
    { op = "utimens", "f", atime = { 1000, 500 }, mtime = { 2000, 600 } },
    { op = "utimens", "f", atime = "omit", mtime = { 3000, 0 } },
    { op = "utimens", "f", atime = "now", mtime = "omit" },
    { op = "utimens", "f", atime = "omit", mtime = "omit" },
    { op = "utimens", "f", atime = "now", mtime = "now" },
    { op = "utimens", "f", atime = { 0, 0 }, mtime = { -1000, 0 } },
    { op = "symlink", "f", "lf" },
    { op = "utimens", "lf", atime = { 4000, 0 }, mtime = { 5000, 0 }, nofollow = true, watch = { "f" } },
    { op = "utimens", "lf", atime = { 6000, 0 }, mtime = { 7000, 0 }, watch = { "f" }, target = "f" },
    { op = "utimens", "missing", atime = "now", mtime = "now" },
    { op = "mkdir", "d" },
    { op = "utimens", "d", atime = { 8000, 0 }, mtime = { 9000, 1 } },
    { op = "utimens", "f", atime = { 1, 1000000000 }, mtime = "omit" },
  })
  run:case("who may set which times", {
    { op = "create", "f" },
    { op = "lchown", "f", 1001, SHARED },
    { op = "chmod", "f", o"0664" },
    { op = "utimens", "f", atime = { 100, 0 }, mtime = { 200, 0 }, as = "alice" },
    { op = "utimens", "f", atime = { 300, 0 }, mtime = { 400, 0 }, as = "carol" },
    { op = "utimens", "f", atime = "now", mtime = "now", as = "carol" },
    { op = "utimens", "f", atime = "now", mtime = "omit", as = "carol" },
    { op = "utimens", "f", atime = "now", mtime = "now", as = "bob" },
    { op = "utimens", "f", atime = { 500, 0 }, mtime = { 600, 0 }, as = "bob" },
    { op = "utimens", "f", atime = "omit", mtime = "omit", as = "bob" },
    { op = "utimens", "f", atime = { 700, 0 }, mtime = { 800, 0 } },
    { op = "create", "g" },
    { op = "lchown", "g", 1001, 1001 },
    { op = "chmod", "g", o"0444" },
    { op = "utimens", "g", atime = "now", mtime = "now", as = "alice" },
    { op = "utimens", "g", atime = { 1, 0 }, mtime = { 2, 0 }, as = "alice" },
    { op = "utimens", "g", atime = "now", mtime = "now", as = "carol" },
    { op = "open", "f", "RDONLY", as = "carol" },
    { op = "futimens", atime = "now", mtime = "now", as = "carol" },
    { op = "futimens", atime = { 5, 0 }, mtime = { 6, 0 }, as = "carol" },
    { op = "close" },
  })
end)

area("link and unlink", function(run)
  run:case("link", {
    { op = "create", "f", data = "x" },
    { op = "link", "f", "g" },
    { op = "stat", "g" },
    { op = "link", "f", "g" },
    { op = "mkdir", "d" },
    { op = "link", "f", "d/h", watch = { "f", "g" } },
    { op = "link", "d", "e" },
    { op = "link", "missing", "m" },
    { op = "link", "f", "nodir/x" },
    { op = "link", "f/x", "y" },
    { op = "symlink", "f", "lf" },
    { op = "link", "lf", "lf2", watch = { "f" } },
    { op = "symlink", "dangling", "dl" },
    { op = "link", "dl", "dl2" },
    { op = "link", "f", "lf" },
    { op = "mkfifo", "p" },
    { op = "link", "p", "p2" },
    { op = "unlink", "g", watch = { "f", "d/h" } },
    { op = "unlink", "f", watch = { "d/h" } },
    { op = "cat", "d/h" },
  })
  run:case("an open file outlives its name", {
    { op = "create", "f", data = "abc" },
    { op = "open", "f", "RDWR" },
    { op = "unlink", "f" },
    { op = "fstat" },
    { op = "write", "XY", at = 1 },
    { op = "read", 10, at = 0 },
    { op = "ftruncate", 2 },
    { op = "fstat" },
    { op = "fchmod", o"0600" },
    { op = "fstat" },
    { op = "close" },
    { op = "readdir", "." },
  })
  run:case("an fd keeps its file when the name is reused", {
    { op = "create", "f", data = "old" },
    { op = "open", "f", "RDWR" },
    { op = "unlink", "f" },
    { op = "create", "f", data = "new file" },
    { op = "fchmod", o"0600", watch = { "f" } },
    { op = "fchown", 1001, 1001, watch = { "f" } },
    { op = "futimens", atime = { 10, 0 }, mtime = { 20, 0 }, watch = { "f" } },
    { op = "fstat" },
    { op = "ftruncate", 1, watch = { "f" } },
    { op = "fstat" },
    { op = "close" },
    { op = "cat", "f" },
  })
  run:case("a directory fd keeps its directory when the name is reused", {
    { op = "mkdir", "d" },
    { op = "chmod", "d", o"0700" },
    { op = "open", "d", "RDONLY|DIRECTORY" },
    { op = "rmdir", "d" },
    { op = "fstat" },
    { op = "mkdir", "d" },
    { op = "fstat" },
    { op = "fchmod", o"0750", watch = { "d" } },
    { op = "close" },
  })
  run:case("link permissions", {
    { op = "create", "f", data = "x" },
    { op = "mkdir", "ro" },
    { op = "chmod", "ro", o"0755" },
    { op = "link", "f", "alices", as = "alice" },
    { op = "link", "f", "ro/x", as = "alice" },
    { op = "link", "f", "ro/x" },
  }, { mode = o"0777" })
  run:case("unlink", {
    { op = "create", "f" },
    { op = "mkdir", "d" },
    { op = "unlink", "d" },
    { op = "unlink", "missing" },
    { op = "unlink", "f/x" },
    { op = "unlink", "f/" },
    { op = "symlink", "d", "ld" },
    { op = "unlink", "ld/" },
    { op = "unlink", "ld", watch = { "d" } },
    { op = "create", "d/x" },
    { op = "chmod", "d", o"0555" },
    { op = "unlink", "d/x", as = "alice" },
    { op = "unlink", "d/x" },
    { op = "unlink", "." },
  }, { mode = o"0777" })
end)

area("mkdir and rmdir", function(run)
  run:case("mkdir", {
    { op = "mkdir", "d" },
    { op = "mkdir", "d" },
    { op = "mkdir", "e", mode = o"0777", umask = o"0000" },
    { op = "mkdir", "s", mode = o"1777", umask = o"0000", note = "S_ISGID dropped, S_ISVTX kept" },
    { op = "mkdir", "t", mode = o"7777", umask = o"0000" },
    { op = "create", "f" },
    { op = "mkdir", "f" },
    { op = "mkdir", "f/x" },
    { op = "mkdir", "missing/x" },
    { op = "symlink", "d", "ld" },
    { op = "mkdir", "ld" },
    { op = "symlink", "nowhere", "dl" },
    { op = "mkdir", "dl" },
    { op = "mkdir", "d/e/" },
    { op = "mkdir", "d/e/f/g" },
    { op = "stat", "d" },
    { op = "mkdir", "ro" },
    { op = "chmod", "ro", o"0555" },
    { op = "mkdir", "ro/x", as = "alice" },
    { op = "mkdir", "ro/x" },
  }, { mode = o"0777" })
  run:case("rmdir", {
    { op = "mkdir", "d" },
    { op = "mkdir", "d/e" },
    { op = "create", "d/f" },
    { op = "rmdir", "d" },
    { op = "rmdir", "d/f" },
    { op = "unlink", "d/f" },
    { op = "rmdir", "d/e/" },
    { op = "rmdir", "missing" },
    { op = "mkdir", "x" },
    { op = "rmdir", "x/." },
    { op = "rmdir", "x/.." },
    { op = "symlink", "x", "lx" },
    { op = "rmdir", "lx" },
    { op = "rmdir", "lx/" },
    { op = "rmdir", "d" },
    { op = "mkdir", "ro" },
    { op = "mkdir", "ro/y" },
    { op = "chmod", "ro", o"0555" },
    { op = "rmdir", "ro/y", as = "alice" },
    { op = "rmdir", "ro/y" },
    { op = "mkdir", "mine", as = "alice" },
    { op = "rmdir", "mine", as = "bob" },
    { op = "rmdir", "mine", as = "alice" },
  }, { mode = o"0777" })
end)

area("mkfifo and mknod", function(run)
  run:case("mkfifo", {
    { op = "mkfifo", "p", mode = o"0640" },
    { op = "mkfifo", "p" },
    { op = "open", "p", "RDONLY|NONBLOCK", close = true },
    { op = "open", "p", "WRONLY|NONBLOCK", close = true },
    { op = "mkfifo", "q", mode = o"0777", umask = o"0000", as = "alice" },
    { op = "mkfifo", "f/x" },
  }, { mode = o"0777" })
  run:case("mknod", {
    { op = "mknod", "null", type = "char", mode = o"0666", major = 1, minor = 3 },
    { op = "mknod", "loop", type = "block", mode = o"0640", major = 7, minor = 0 },
    { op = "mknod", "fifo", type = "fifo", mode = o"0644" },
    { op = "mknod", "sock", type = "socket", mode = o"0755" },
    { op = "mknod", "reg", type = "file", mode = o"0600" },
    { op = "mknod", "dir", type = "dir", mode = o"0755" },
    { op = "mknod", "null", type = "char", major = 1, minor = 3 },
    { op = "mknod", "u", type = "char", major = 1, minor = 3, as = "alice" },
    { op = "mknod", "ub", type = "block", major = 7, minor = 0, as = "alice" },
    { op = "mknod", "ureg", type = "file", mode = o"0644", as = "alice" },
    { op = "mknod", "usock", type = "socket", mode = o"0644", as = "alice" },
    { op = "lchown", "null", 1001, 1001 },
    { op = "chmod", "null", o"0600" },
    -- Opening the device nodes is left out: libfuse mounts with nodev.
  }, { mode = o"0777" })
end)

area("rename: files and directories", function(run)
  run:case("files", {
    { op = "create", "a", data = "A" },
    { op = "create", "b", data = "BB" },
    { op = "rename", "a", "c" },
    { op = "rename", "c", "b" },
    { op = "cat", "b" },
    { op = "rename", "missing", "x" },
    { op = "rename", "b", "b" },
    { op = "link", "b", "b2" },
    { op = "rename", "b", "b2", note = "two links of one file: nothing happens" },
    { op = "mkdir", "d" },
    { op = "rename", "b", "d" },
    { op = "rename", "d", "b" },
    { op = "rename", "b", "d/b", watch = { "b2" } },
    { op = "rename", "d/b", "nodir/b" },
    { op = "rename", "b2", "b2/x" },
    { op = "rename", "b2/", "x" },
    { op = "symlink", "b2", "l" },
    { op = "rename", "l", "l2" },
    { op = "rename", "d/b", "l2", watch = { "b2" } },
    { op = "readlink", "l2" },
    { op = "cat", "l2" },
  })
  run:case("directories", {
    { op = "mkdir", "a" },
    { op = "mkdir", "a/sub" },
    { op = "mkdir", "b" },
    { op = "mkdir", "c" },
    { op = "create", "c/f" },
    { op = "rename", "a", "b" },
    { op = "rename", "b", "c" },
    { op = "rename", "b", "b/sub/x" },
    { op = "rename", "b", "b/x" },
    { op = "rename", "b/sub", "b/sub/x" },
    { op = "rename", "b/sub", "." },
    { op = "rename", ".", "y" },
    { op = "rename", "b/..", "y" },
    { op = "rename", "b/sub", "c/sub", watch = { "b", "c" } },
    { op = "stat", "c/sub/.." },
    { op = "rename", "c/sub", "top", watch = { "c" } },
    { op = "rename", "top/", "top2/" },
    { op = "create", "file" },
    { op = "rename", "file", "top2/" },
    { op = "mkdir", "e" },
    { op = "rename", "e", "top2/e" },
    { op = "rename", "top2", "top3", watch = { "top3/e" } },
  })
  run:case("RENAME_NOREPLACE and RENAME_EXCHANGE", {
    { op = "create", "a", data = "A" },
    { op = "create", "b", data = "BB" },
    { op = "rename", "a", "b", flags = "NOREPLACE" },
    { op = "rename", "a", "c", flags = "NOREPLACE" },
    { op = "rename", "c", "b", flags = "EXCHANGE" },
    { op = "cat", "b" },
    { op = "cat", "c" },
    { op = "rename", "c", "nothing", flags = "EXCHANGE" },
    { op = "rename", "c", "b", flags = "EXCHANGE|NOREPLACE" },
    { op = "mkdir", "d" },
    { op = "create", "d/inside" },
    { op = "rename", "d", "b", flags = "EXCHANGE" },
    { op = "stat", "b/inside" },
    { op = "mkdir", "e" },
    { op = "mkdir", "e/f" },
    { op = "rename", "b", "e/f", flags = "EXCHANGE", watch = { "e" } },
    { op = "rename", "e", "e/f", flags = "EXCHANGE" },
    { op = "rename", "e/f", "e/f", flags = "EXCHANGE" },
    { op = "mkdir", "g" },
    { op = "rename", "g", "d", flags = "NOREPLACE" },
  })
  run:case("permissions", {
    { op = "mkdir", "ro" },
    { op = "create", "ro/f" },
    { op = "chmod", "ro", o"0555" },
    { op = "rename", "ro/f", "f", as = "alice" },
    { op = "create", "mine", as = "alice" },
    { op = "rename", "mine", "ro/mine", as = "alice" },
    { op = "mkdir", "d", as = "bob" },
    { op = "chmod", "d", o"0555", as = "bob" },
    { op = "mkdir", "into", mode = o"0777", umask = o"0000", as = "bob" },
    { op = "rename", "d", "into/d", as = "bob", note = "moving a directory needs write access to it" },
    { op = "chmod", "d", o"0755", as = "bob" },
    { op = "rename", "d", "into/d", as = "bob" },
    { op = "mkdir", "other" },
    { op = "chmod", "other", o"0555" },
    { op = "rename", "other", "into/other", as = "bob" },
  }, { mode = o"0777" })
end)

area("rename: sticky directories", function(run)
  run:case("sticky", {
    { op = "mkdir", "t" },
    { op = "chmod", "t", o"1777" },
    { op = "create", "t/alices", as = "alice" },
    { op = "create", "t/bobs", as = "bob" },
    { op = "mkdir", "t/alicedir", as = "alice" },
    { op = "rename", "t/alices", "t/x", as = "bob" },
    { op = "rename", "t/bobs", "t/alices", as = "bob" },
    { op = "rename", "t/bobs", "t/y", as = "bob" },
    { op = "rename", "t/y", "t/bobs", as = "bob" },
    { op = "unlink", "t/alices", as = "bob" },
    { op = "rmdir", "t/alicedir", as = "bob" },
    { op = "rename", "t/alices", "t/z", as = "alice" },
    { op = "rename", "t/z", "t/alices" },
    { op = "rename", "t/bobs", "t/alices", flags = "EXCHANGE", as = "bob" },
    { op = "lchown", "t", 1001, 1001 },
    { op = "unlink", "t/bobs", as = "alice", note = "the owner of the sticky directory may" },
    { op = "unlink", "t/alices", as = "alice" },
  }, { mode = o"0777" })
end)

area("symlinks, ELOOP, ENAMETOOLONG", function(run)
  run:case("symlink and readlink", {
    { op = "symlink", "target", "l" },
    { op = "readlink", "l" },
    { op = "lstat", "l" },
    { op = "stat", "l" },
    { op = "symlink", "x", "l" },
    { op = "symlink", "", "empty" },
    { op = "create", "f" },
    { op = "readlink", "f" },
    { op = "readlink", "missing" },
    { op = "symlink", "../up/../and/down", "rel" },
    { op = "readlink", "rel" },
    { op = "symlink", "/abs/olute", "abs" },
    { op = "readlink", "abs" },
    { op = "symlink", name(4095, "t"), "long" },
    { op = "readlink", "long" },
    { op = "symlink", name(4096, "t"), "toolong" },
    { op = "symlink", "sp ace\ttab\nnl", "odd" },
    { op = "readlink", "odd" },
    { op = "symlink", "x", "f/x" },
    { op = "symlink", "t", "l2", as = "alice" },
    { op = "readlink", "l2", as = "bob" },
  }, { mode = o"0777" })
  local chain = { { op = "create", "f" }, { op = "symlink", "f", "l0" } }
  for i = 1, 40 do chain[#chain + 1] = { op = "symlink", "l" .. (i - 1), "l" .. i } end
  for _, s in ipairs({
    { op = "stat", "l39" },
    { op = "stat", "l40" },
    { op = "symlink", "self", "self" },
    { op = "stat", "self" },
    { op = "open", "self", "RDONLY", close = true },
    { op = "open", "self", "WRONLY|CREAT", close = true },
    { op = "symlink", "b", "a" },
    { op = "symlink", "a", "b" },
    { op = "stat", "a" },
    { op = "stat", "a/x" },
    { op = "chmod", "a", o"0644" },
    { op = "truncate", "a", 0 },
    { op = "lstat", "a" },
    { op = "unlink", "a" },
  }) do chain[#chain + 1] = s end
  run:case("ELOOP", chain)
  local n255, n256 = name(255), name(256)
  run:case("names of 255 and 256 bytes", {
    { op = "create", n255, data = "x" },
    { op = "stat", n255 },
    { op = "create", n256 },
    { op = "stat", n256 },
    { op = "open", n256, "RDONLY", close = true },
    { op = "mkdir", name(255, "d") },
    { op = "mkdir", name(256, "d") },
    { op = "rmdir", name(256, "d") },
    { op = "symlink", "t", name(255, "s") },
    { op = "symlink", "t", name(256, "s") },
    { op = "link", n255, name(255, "l") },
    { op = "link", n255, name(256, "l") },
    { op = "rename", n255, name(256, "r") },
    { op = "rename", n255, name(255, "r") },
    { op = "mknod", name(256, "p"), type = "fifo" },
    { op = "unlink", name(256, "r") },
    { op = "chmod", n256, o"0644" },
    { op = "readdir", "." },
  })
  -- a path of 4095 bytes below the working directory, built with 16
  -- directories of 250 bytes
  local steps, path = {}, nil
  for i = 1, 16 do
    path = path and (path .. "/" .. name(250, string.char(96 + i))) or name(250, "a")
    steps[#steps + 1] = { op = "mkdir", path }
  end
  local file = path .. "/" .. name(4095 - #path - 1, "f")
  assert(#file == 4095)
  for _, s in ipairs({
    { op = "create", file, data = "deep" },
    { op = "cat", file },
    { op = "stat", file },
    { op = "create", file .. "g" },
    { op = "stat", file .. "g" },
    { op = "mkdir", path .. "/" .. name(4095 - #path - 1, "e") },
    { op = "unlink", file },
  }) do steps[#steps + 1] = s end
  run:case("paths of 4095 and 4096 bytes", steps)
end)

area("ENOTDIR and EISDIR for every operation", function(run)
  local steps = { { op = "create", "f", data = "x" }, { op = "mkdir", "d" } }
  for _, s in ipairs({
    { op = "stat", "f/x" }, { op = "lstat", "f/" }, { op = "open", "f/x", "RDONLY", close = true },
    { op = "mkdir", "f/x" }, { op = "rmdir", "f/x" }, { op = "rmdir", "f" }, { op = "unlink", "f/x" },
    { op = "rename", "f/x", "y" }, { op = "rename", "f", "f/x" }, { op = "rename", "d", "f" },
    { op = "rename", "f", "d/" }, { op = "link", "f/x", "y" }, { op = "link", "f", "f/x" },
    { op = "symlink", "t", "f/x" }, { op = "readlink", "f/x" }, { op = "chmod", "f/x", o"0644" },
    { op = "lchown", "f/x", 1, 1 }, { op = "truncate", "f/x", 0 }, { op = "utimens", "f/x", atime = "now" },
    { op = "mknod", "f/x", type = "fifo" }, { op = "access", "f/x", "F" }, { op = "readdir", "f" },
    { op = "setxattr", "f/x", "user.a", "v" }, { op = "getxattr", "f/x", "user.a" },
    { op = "listxattr", "f/x" }, { op = "removexattr", "f/x", "user.a" },
    { op = "open", "d", "WRONLY", close = true }, { op = "truncate", "d", 0 }, { op = "unlink", "d" },
    { op = "rename", "f", "d" }, { op = "link", "d", "y" }, { op = "open", "d", "RDWR|CREAT", close = true },
    { op = "create", "d", data = "x" },
  }) do steps[#steps + 1] = s end
  run:case("every operation on a path through a file, and on a directory", steps)
end)

area("setgid directories", function(run)
  run:case("new entries inherit the group; directories the bit", {
    { op = "mkdir", "sg" },
    { op = "lchown", "sg", 0, SHARED },
    { op = "chmod", "sg", o"2777" },
    { op = "create", "sg/root" },
    { op = "mkdir", "sg/rootdir" },
    { op = "mkfifo", "sg/rootfifo" },
    { op = "symlink", "t", "sg/rootlink" },
    { op = "create", "sg/alice", as = "alice" },
    { op = "mkdir", "sg/alicedir", as = "alice" },
    { op = "open", "sg/alicesg", "WRONLY|CREAT", mode = o"2755", umask = o"0000", as = "alice", close = true },
    { op = "create", "sg/bob", as = "bob" },
    { op = "mkdir", "sg/bobdir", as = "bob" },
    { op = "open", "sg/bobsg", "WRONLY|CREAT", mode = o"2775", umask = o"0000", as = "bob", close = true,
      note = "setgid dropped: bob is not in the group" },
    { op = "mknod", "sg/bobnod", type = "file", mode = o"2775", umask = o"0000", as = "bob" },
    { op = "mkdir", "sg/rootdir/deeper", as = "bob" },
    { op = "create", "plain", as = "bob" },
    { op = "rename", "plain", "sg/moved", as = "bob" },
    { op = "link", "sg/moved", "sg/linked", as = "bob" },
  }, { mode = o"0777" })
end)

area("times of the object and its parent", function(run)
  run:case("a file", {
    { op = "create", "f", data = "abc" },
    { op = "open", "f", "RDONLY", fd = "r" },
    { op = "read", 10, fd = "r" },
    { op = "close", fd = "r" },
    { op = "open", "f", "WRONLY" },
    { op = "write", "zz", at = 1 },
    { op = "fsync" },
    { op = "write", "", at = 1 },
    { op = "close" },
    { op = "chmod", "f", o"0600" },
    { op = "lchown", "f", 1001, -1 },
    { op = "truncate", "f", 1 },
    { op = "truncate", "f", 1 },
    { op = "utimens", "f", atime = { 1, 0 }, mtime = { 2, 0 } },
    { op = "setxattr", "f", "user.k", "v" },
    { op = "link", "f", "g" },
    { op = "rename", "g", "h", watch = { "f" } },
    { op = "unlink", "h", watch = { "f" } },
    { op = "readdir", "." },
    { op = "open", "f", "RDONLY", close = true },
    { op = "open", "f", "WRONLY|TRUNC", close = true },
    { op = "open", "f", "WRONLY|CREAT", close = true },
  })
  run:case("directories", {
    { op = "mkdir", "d" },
    { op = "mkdir", "d/e" },
    { op = "create", "d/f" },
    { op = "rename", "d/f", "d/e/f" },
    { op = "mkdir", "x" },
    { op = "rename", "d/e", "x/e", watch = { "d", "x" } },
    { op = "rename", "x/e", "x/e2" },
    { op = "symlink", "t", "d/s" },
    { op = "mkfifo", "d/p" },
    { op = "unlink", "d/p" },
    { op = "rmdir", "x/e2/f" },
    { op = "unlink", "x/e2/f" },
    { op = "rmdir", "x/e2" },
    { op = "chmod", "d", o"0700" },
    { op = "setxattr", "d", "user.k", "v" },
    { op = "create", "d/n" },
    { op = "rename", "d/n", "d/s", flags = "EXCHANGE" },
  })
end)

area("extended attributes", function(run)
  run:case("user xattrs", {
    { op = "create", "f" },
    { op = "setxattr", "f", "user.a", "1" },
    { op = "getxattr", "f", "user.a" },
    { op = "setxattr", "f", "user.a", "2", flags = "CREATE" },
    { op = "setxattr", "f", "user.b", "2", flags = "REPLACE" },
    { op = "setxattr", "f", "user.b", "", flags = "CREATE" },
    { op = "getxattr", "f", "user.b" },
    { op = "setxattr", "f", "user.bin", "\0\1\2\255" },
    { op = "getxattr", "f", "user.bin" },
    { op = "listxattr", "f" },
    { op = "removexattr", "f", "user.a" },
    { op = "removexattr", "f", "user.a" },
    { op = "getxattr", "f", "user.a" },
    { op = "listxattr", "f" },
    { op = "mkdir", "d" },
    { op = "setxattr", "d", "user.dir", "yes" },
    { op = "getxattr", "d", "user.dir" },
    { op = "mkfifo", "p" },
    { op = "setxattr", "p", "user.x", "1" },
    { op = "getxattr", "missing", "user.a" },
    { op = "setxattr", "f", "nonamespace", "1" },
    { op = "setxattr", "f", "user." .. name(256), "1" },
  })
  run:case("permissions", {
    { op = "create", "f" },
    { op = "setxattr", "f", "user.a", "1" },
    { op = "getxattr", "f", "user.a", as = "alice" },
    { op = "setxattr", "f", "user.a", "2", as = "alice" },
    { op = "removexattr", "f", "user.a", as = "alice" },
    { op = "chmod", "f", o"0600" },
    { op = "getxattr", "f", "user.a", as = "alice" },
    { op = "listxattr", "f", as = "alice" },
    { op = "lchown", "f", 1001, 1001 },
    { op = "setxattr", "f", "user.b", "3", as = "alice" },
    { op = "setxattr", "f", "trusted.t", "3", as = "alice" },
  })
end)

---------------------------------------------------------------- targets

local function open_up(dir)
  -- the specs chdir as root, but make the temporary parents searchable anyway
  assert(sys.chmod(dir, 493))
end

local targets = {
  {
    name = "plain", -- the engine and the cases, against a second plain directory
    big_files = true,
    start = function()
      local dir = mount.tmpdir("conf-other")
      open_up(dir)
      return dir, function() mount.rmtree(dir) end
    end,
  },
  {
    name = "mirror", -- two workers: requests served by two threads at once
    big_files = true,
    start = function()
      local backing = mount.tmpdir("conf-backing")
      open_up(backing)
      local m = mount.start{ script = "scripts/mirror.lua",
        options = "root=" .. backing .. ",allow_other,default_permissions,workers=2" }
      open_up(m.tmp)
      return m.dir, function() m:stop(); mount.rmtree(backing) end
    end,
  },
  {
    name = "mirror-1", -- one worker
    big_files = false,
    start = function()
      local backing = mount.tmpdir("conf-backing")
      open_up(backing)
      local m = mount.start{ script = "scripts/mirror.lua",
        options = "root=" .. backing .. ",allow_other,default_permissions,workers=1" }
      open_up(m.tmp)
      return m.dir, function() m:stop(); mount.rmtree(backing) end
    end,
  },
  {
    name = "mirror-uring", -- requests through the kernel's io_uring queues
    big_files = false,
    unavailable = function() return require("support.uring").unavailable() end,
    start = function()
      local uring = require("support.uring")
      local backing = mount.tmpdir("conf-backing")
      open_up(backing)
      uring.enable()
      local m = mount.start{ script = "scripts/mirror.lua",
        options = "root=" .. backing .. ",allow_other,default_permissions,workers=2" }
      open_up(m.tmp)
      return m.dir, function()
        local counts = m:stats()
        m:stop()
        uring.restore()
        mount.rmtree(backing)
        assert(counts.ring_requests > 0, "no request came through io_uring")
      end
    end,
  },
  {
    name = "memfs",
    big_files = true,
    start = function()
      local m = mount.start{ script = "scripts/memfs.lua", options = "allow_other,default_permissions" }
      open_up(m.tmp)
      return m.dir, function() m:stop() end
    end,
  },
}

-- CONFORMANCE_TARGETS=mirror,memfs limits the targets (default: all).
local only = os.getenv("CONFORMANCE_TARGETS")

for _, target in ipairs(targets) do
  local why_not = not creds.available() and "the conformance specs run as root (they act as "
    .. "several users)" or target.unavailable and target.unavailable()
  if why_not then
    describe("conformance: " .. target.name .. " vs a plain directory", function()
      it("is skipped", function() pending(why_not) end)
    end)
  elseif not only or (("," .. only .. ","):find("," .. target.name .. ",", 1, true)) then
    describe("conformance: " .. target.name .. " vs a plain directory", function()
      local plain, dir, stop
      setup(function()
        assert(creds.available(), "the conformance specs run as root")
        plain = mount.tmpdir("conf-plain")
        open_up(plain)
        dir, stop = target.start()
      end)
      teardown(function()
        local ok, err = pcall(function() if stop then stop() end end)
        mount.stop_all()
        mount.rmtree(plain)
        assert(ok, err)
      end)

      for _, a in ipairs(areas) do
        it(a[1], function()
          local run = D.new{ roots = { { "plain", plain }, { target.name, dir } }, users = USERS,
            ignore = target.ignore }
          a[2](run, target)
          assert(run:result())
        end)
      end
    end)
  end
end
