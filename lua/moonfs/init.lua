--- moonfs: the library filesystem scripts `require "moonfs"`.
--
-- Inside the host it wraps the host's private core (`moonfs.core`) and its
-- syscalls (`moonfs.sys`); outside it (unit specs, plain luajit) the parts
-- that need no host still work: errno names, stat and path helpers.
--
-- Functions that can fail return the value on success and
-- `nil, "ENAME: message", errno` on failure, so a handler can pass a failure
-- straight back to the host with `return moonfs.sys.something(...)`.
-- @module moonfs

local has_core, core = pcall(require, "moonfs.core")
if not has_core then core = nil end

local M = {}

M.version = core and core.version or "dev"

--- Options given with `-o` that were not FUSE's or the host's own:
-- `-o root=/srv,verbose` gives `{root = "/srv", verbose = true}`.
M.options = core and core.options or {}

--- The directory the host was started in (the host itself works from "/"
-- once daemonized): resolve relative paths in options against it.
M.cwd = core and core.cwd or os.getenv("PWD") or "/"

--- An absolute form of `path`: relative paths are taken from `moonfs.cwd`.
function M.absolute(path)
  if path:sub(1, 1) == "/" then return path end
  return (M.cwd == "/" and "" or M.cwd) .. "/" .. path
end

local kept = {}

--- A value that survives reloads (SIGHUP re-runs the script, and every
-- local it made starts again): the first call makes it with `make()`,
-- later calls, in this load or after a reload, return the same value.
-- Keep here what must not be lost or opened twice: a filesystem's
-- contents, a root fd, a database connection.
--
--     local state = moonfs.keep("memfs", function() return { root = new_dir() } end)
function M.keep(key, make)
  local value = kept[key]
  if value == nil then
    value = make()
    kept[key] = value
  end
  return value
end

--- Errno names and numbers, both ways: `errno.ENOENT == 2`,
-- `errno[2] == "ENOENT"`.
M.errno = core and core.errno or require("moonfs.errno")

--- Open flags for the `flags` argument of open and create, with the
-- system's own numbers (they differ between architectures).
M.O = core and core.O or {
  RDONLY = 0, WRONLY = 1, RDWR = 2, ACCMODE = 3,
  CREAT = 0x40, EXCL = 0x80, NOCTTY = 0x100, TRUNC = 0x200, APPEND = 0x400,
  NONBLOCK = 0x800, DSYNC = 0x1000, DIRECT = 0x4000, LARGEFILE = 0x8000,
  DIRECTORY = 0x10000, NOFOLLOW = 0x20000, NOATIME = 0x40000, CLOEXEC = 0x80000,
  SYNC = 0x101000, PATH = 0x200000, TMPFILE = 0x410000,
} -- (outside the host: x86-64 and arm64 values, for unit specs)

local constants = core and core.constants or {}

--- Flags of rename.
M.RENAME_NOREPLACE = constants.RENAME_NOREPLACE or 1
M.RENAME_EXCHANGE = constants.RENAME_EXCHANGE or 2
M.RENAME_WHITEOUT = constants.RENAME_WHITEOUT or 4

--- Flags of setxattr.
M.XATTR_CREATE = constants.XATTR_CREATE or 1
M.XATTR_REPLACE = constants.XATTR_REPLACE or 2

--- Type bits of a mode.
M.S = core and core.S or {
  IFMT = 0xF000, IFSOCK = 0xC000, IFLNK = 0xA000, IFREG = 0x8000,
  IFBLK = 0x6000, IFDIR = 0x4000, IFCHR = 0x2000, IFIFO = 0x1000,
  ISUID = 0x800, ISGID = 0x400, ISVTX = 0x200,
}

--- Hands a file descriptor to the host: `return moonfs.fd(fd)` from open,
-- create or opendir. The host serves the file's data from it (the kernel
-- does, with passthrough) and closes it at release; from then on the fd is
-- the host's, and the script's handlers see it as `fh` (a number). Any
-- other value open returns, a bare number included, is a handle of the
-- script's own.
function M.fd(fd)
  if not core then error("moonfs.fd is only available inside the moonfs host", 2) end
  return core.fd(fd)
end

--- Turns a list of `{name = , type = , ino = , stat = }` tables into the
-- shape readdir returns: names, types, inode numbers, stats (parallel
-- arrays).
function M.entries(list)
  local names, types, inos, stats = {}, {}, {}, {}
  for i, e in ipairs(list) do
    names[i], types[i], inos[i], stats[i] = e.name, e.type or false, e.ino or false, e.stat or false
  end
  return names, types, inos, stats
end

local type_of_bits = {
  [0xC000] = "socket", [0xA000] = "symlink", [0x8000] = "file", [0x6000] = "block",
  [0x4000] = "dir", [0x2000] = "char", [0x1000] = "fifo",
}
local bits_of_type = {}
for bits, name in pairs(type_of_bits) do bits_of_type[name] = bits end

local bit = require("bit")
local band, bor = bit.band, bit.bor

--- The type name ("file", "dir", ...) of a mode number, or nil.
function M.type_of(mode)
  return type_of_bits[band(mode, 0xF000)]
end

--- The type bits of a type name: `type_bits("dir") == 0x4000`.
function M.type_bits(name)
  return bits_of_type[name]
end

--- Permission bits of a mode number.
function M.perm_of(mode)
  return band(mode, 0xFFF)
end

--- Reads a permission given as a number or an octal string ("755",
-- "0644"). Returns the number, or nil and a message.
function M.perm(value)
  if type(value) == "number" and value >= 0 and value <= 0xFFF and value % 1 == 0 then
    return value
  end
  if type(value) == "string" and value:match("^[0-7]+$") then
    local n = tonumber(value, 8)
    if n <= 0xFFF then return n end
  end
  return nil, "not a permission: " .. tostring(value)
end

--- A full mode number from a type name and a permission:
-- `mode("file", "644") == 0x81A4`.
function M.mode(type_name, perm)
  local bits = assert(bits_of_type[type_name], "unknown type")
  return bor(bits, assert(M.perm(perm or 0)))
end

--- The current time as {sec = ..., nsec = ...} (and a float second count).
local ffi = require("ffi")
pcall(ffi.cdef, [[
  struct moonfs_timespec { long tv_sec; long tv_nsec; };
  int clock_gettime(int clk, struct moonfs_timespec *ts);
]])
local ts = ffi.new("struct moonfs_timespec")
function M.now()
  ffi.C.clock_gettime(0, ts)
  local sec, nsec = tonumber(ts.tv_sec), tonumber(ts.tv_nsec)
  return { sec = sec, nsec = nsec }, sec + nsec / 1e9
end

--- Paths. Handlers receive absolute paths without a trailing slash ("/",
-- "/a/b").

--- "/a/b/c" -> "/a/b", "c"; "/a" -> "/", "a"; "/" -> "/", nil
function M.split(path)
  if path == "/" then return "/", nil end
  local dir, name = path:match("^(.*)/([^/]*)$")
  if dir == "" then dir = "/" end
  return dir, name
end

--- The last component of a path.
function M.basename(path)
  local _, name = M.split(path)
  return name or "/"
end

--- Everything but the last component.
function M.dirname(path)
  return (M.split(path))
end

--- Joins a directory path and a name.
function M.join(dir, name)
  if dir == "/" then return "/" .. name end
  return dir .. "/" .. name
end

--- The path relative to the mount's root, for *at() calls on a root dir fd:
-- "/" -> ".", "/a/b" -> "a/b".
function M.relative(path)
  if path == "/" then return "." end
  return path:sub(2)
end

--- Iterates over the components of a path: for name in components("/a/b").
function M.components(path)
  return path:gmatch("[^/]+")
end

--- The caller of the request being served: {uid, gid, pid, umask}, or nil
-- outside a request (in init, at load time, in unit specs).
function M.caller()
  if not core then return nil end
  local uid, gid, pid, umask = core.caller()
  if not uid then return nil end
  return { uid = uid, gid = gid, pid = pid, umask = umask }
end

--- An object the request being served is about, as the kernel knows it:
-- the `dev`, `ino` and `generation` of the stat the script gave for it.
-- The kernel checked the caller's permissions against that stat's owner
-- and mode, so a script acting with more rights than the caller (a mirror
-- run as root) makes sure it acts on that object and no other. `path` is
-- a path the handler was called with, naming an existing object, or the
-- directory of the name a handler makes or removes (create, mkdir,
-- unlink, rename's two, link's new one); nil for any other path, for an
-- object the script gave no st_ino, and outside a request.
function M.request_object(path)
  if not core then return nil end
  local dev, ino, generation = core.request_object(path)
  if not ino then return nil end
  return { dev = dev, ino = ino, generation = generation }
end

--- The caller's supplementary groups as an array of gids, or nil.
function M.groups()
  if not core then return nil end
  return core.groups()
end

--- Request counters: {requests = {op = n}, lua = {op = n}, backing_ids,
-- passthrough_opens, fallback_opens, nodes}.
function M.stats()
  if not core then return nil end
  return core.stats()
end

--- Writes a line to the host's log (stderr in the foreground).
function M.log(...)
  local parts = {}
  for i = 1, select("#", ...) do parts[i] = tostring((select(i, ...))) end
  local line = table.concat(parts, " ")
  if core then core.log(line) else io.stderr:write(line, "\n") end
end

--- Handlers that wait.
--
-- Every handler runs in a coroutine of its own. `moonfs.await` lets it wait
-- for something that finishes later (a luv request, a timer, a socket)
-- while the host goes on serving other requests; the handler carries on
-- when the answer comes, as if the call had simply returned it.

local function pack(...) return { n = select("#", ...), ... } end

-- `level` says whose line an error names: the script's, not this file's.
local function wait(level, fn, ...)
  if not core then error("moonfs.await is only available inside the moonfs host", level) end
  if not core.waitable() then
    error("moonfs.await can only wait in a handler (not while the script loads, in a luv "
      .. "callback, or in a coroutine of the script's own)", level)
  end
  local co = coroutine.running()
  local pending, waiting, early = true, false, nil
  local args = pack(...)
  args.n = args.n + 1
  args[args.n] = function(...)
    if not pending then return end -- a second call of the callback: ignored
    pending = false
    if waiting then core.wake(co, ...) else early = pack(...) end
  end
  fn(unpack(args, 1, args.n))
  if early then return unpack(early, 1, early.n) end -- answered at once
  waiting = true
  local answer = pack(coroutine.yield(core.AWAIT))
  if answer[1] == core.CANCELLED then
    pending = false
    error("moonfs: interrupted (the caller gave up)", level)
  end
  return unpack(answer, 1, answer.n)
end

--- Calls `fn(..., callback)` and waits until `callback` is called; returns
-- what the callback was given. This is luv's callback style:
--
--     local uv = require("luv")
--     local err, data = moonfs.await(uv.fs_read, fd, 4096, 0)
--
-- Only a handler can wait (not the script while it loads, nor a luv
-- callback), and only in its own coroutine. When the caller gives up (a
-- signal interrupts its system call), `await` raises the error
-- "moonfs: interrupted" there: catch it with pcall to clean up; the caller
-- gets EINTR whatever the handler returns.
function M.await(fn, ...)
  local answer = pack(wait(3, fn, ...)) -- not a tail call: that would lose the caller's line
  return unpack(answer, 1, answer.n)
end

--- Waits `seconds` (a handler only; other requests are served meanwhile).
function M.sleep(seconds)
  local uv = require("luv")
  wait(3, function(done)
    local timer = uv.new_timer()
    timer:start(math.max(0, math.floor(seconds * 1000 + 0.5)), 0, function()
      timer:close()
      done()
    end)
  end)
end

--- Telling the kernel that something changed behind its back.
--
-- The kernel caches names and attributes for `timeout` seconds and file
-- data until the file changes through the mount. When the truth changes
-- elsewhere (another mount of a shared store, the server, a timer), say so:

--- The kernel drops what it cached of the file at `path`: attributes and
-- data. Returns true when the kernel knew the file (else nothing was
-- cached). Costs one message to the kernel, sent from a thread of its own.
function M.invalidate(path)
  if not core then return false end
  return core.invalidate(path)
end

--- The kernel drops the name `name` in directory `dir` (a file created or
-- removed elsewhere): its next use looks it up again.
function M.invalidate_entry(dir, name)
  if not core then return false end
  return core.invalidate_entry(dir, name)
end

--- Turns a failure into the `nil, "ENAME: message", errno` shape.
function M.fail(err, message)
  local num = type(err) == "number" and err or M.errno[err]
  local name = type(err) == "string" and err or M.errno[err] or "EIO"
  return nil, message and (name .. ": " .. message) or name, num
end

-- moonfs.sys (host only) and moonfs.mirror load on first use.
setmetatable(M, {
  __index = function(t, key)
    if key == "sys" then
      local ok, sys = pcall(require, "moonfs.sys")
      if not ok then error("moonfs.sys is only available inside the moonfs host", 2) end
      rawset(t, "sys", sys)
      return sys
    elseif key == "mirror" then
      local mirror = require("moonfs.mirror")
      rawset(t, "mirror", mirror)
      return mirror
    end
  end,
})

return M
