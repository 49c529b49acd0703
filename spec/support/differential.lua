-- Differential testing: the same operations, described as data, run against
-- two roots (a plain directory and a moonfs mount, say) in lock step; every
-- result is compared (return value, errno name) and so is the state of the
-- paths a step touches: lstat fields that matter, which watched names are
-- the same inode, and whether mtime/ctime changed since the previous look.
--
--   local D = require("support.differential")
--   local run = D.new{ roots = { { "plain", dir1 }, { "mirror", mnt } },
--                      users = { alice = { uid = 1001, gid = 1001, groups = { 1001, 1003 } } } }
--   run:case("rename over a file", {
--     { op = "create", "a", data = "x" },
--     { op = "create", "b", data = "yy" },
--     { op = "rename", "a", "b" },
--     { op = "open", "b", "RDONLY", as = "alice", close = true },
--   })
--   run:finish()      -- raises with every mismatch found (case, step, both sides)
--
-- Each `run` gets a fresh directory in both roots and each case a fresh
-- subdirectory of it; steps run with that subdirectory as the working
-- directory, so paths are relative and have the same length on both sides.
-- A step runs as root unless it says `as = "name"` (credentials from
-- `users`, switched with support.creds and restored after the step).
--
-- Steps: { op = NAME, positional args..., options... }. See `ops` below for
-- the list; flags are strings like "WRONLY|CREAT|EXCL", modes numbers.
-- Common options: as = user name, umask = number (default 022),
-- watch = { extra paths to compare after the step }, times = false (do not
-- compare time changes for this step), ignore = { field names }.
local ffi = require("ffi")
local bit = require("bit")
local sys = require("support.sys")
local creds = require("support.creds")

for _, decl in ipairs({
  "int chdir(const char *path);",
  "char *getcwd(char *buf, size_t size);",
  "unsigned int umask(unsigned int mask);",
  "int chown(const char *path, unsigned int uid, unsigned int gid);",
  "int fchown(int fd, unsigned int uid, unsigned int gid);",
  "int fchmod(int fd, unsigned int mode);",
  "int futimens(int fd, const struct spec_timespec times[2]);",
}) do pcall(ffi.cdef, decl) end
local C = ffi.C

local D = {}

local function getcwd()
  local buf = ffi.new("char[4097]")
  assert(C.getcwd(buf, 4097) ~= nil, "getcwd failed")
  return ffi.string(buf)
end
local home = getcwd()
-- DIFFERENTIAL_TRACE=1 prints every step and its result on the first root
local trace = os.getenv("DIFFERENTIAL_TRACE")

local function fail()
  local e = ffi.errno()
  return nil, require("moonfs.errno")[e] or tostring(e), e
end

---------------------------------------------------------------- values

D.O = {
  RDONLY = 0, WRONLY = 1, RDWR = 2, CREAT = 0x40, EXCL = 0x80, NOCTTY = 0x100, TRUNC = 0x200,
  APPEND = 0x400, NONBLOCK = 0x800, DIRECTORY = 0x10000, NOFOLLOW = 0x20000,
  NOATIME = 0x40000, PATH = 0x200000, SYNC = 0x101000, DSYNC = 0x1000,
}
local function parse_flags(spec, table_, what)
  if type(spec) == "number" then return spec end
  local n = 0
  for word in tostring(spec or "RDONLY"):gmatch("[^|%s]+") do
    local v = table_[word:upper():gsub("^O_", "")]
    assert(v, "unknown " .. what .. " flag " .. word)
    n = bit.bor(n, v)
  end
  return n
end
D.flags = function(spec) return parse_flags(spec, D.O, "open") end

local RENAME = { NOREPLACE = 1, EXCHANGE = 2, WHITEOUT = 4 }
local XATTR = { CREATE = 1, REPLACE = 2 }
local ACCESS = { F = 0, X = 1, W = 2, R = 4 }
local TYPE_BITS = { file = 0x8000, dir = 0x4000, char = 0x2000, block = 0x6000, fifo = 0x1000,
  socket = 0xC000, symlink = 0xA000 }
local UNCHANGED = 4294967295
-- an owner argument: nil or -1 = leave unchanged
local function id(v) if v == nil or v == -1 then return UNCHANGED end return v end

-- Canonical text of a value (sorted keys), for comparing and for messages.
local function show(v, short)
  local t = type(v)
  if t == "string" then
    if short and #v > 48 then
      local sum = 0
      for i = 1, #v do sum = (sum * 31 + v:byte(i)) % 4294967291 end
      return (("%q"):format(v:sub(1, 24)):gsub("\\\n", "\\n"))
        .. ("..(%d bytes, hash %x)"):format(#v, sum)
    end
    return (("%q"):format(v):gsub("\\\n", "\\n"))
  elseif t == "table" then
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    table.sort(keys, function(a, b)
      if type(a) == type(b) then return a < b end
      return type(a) == "number"
    end)
    local parts = {}
    for _, k in ipairs(keys) do
      if type(k) == "number" and k >= 1 and k <= #v then
        parts[#parts + 1] = show(v[k], short)
      else
        parts[#parts + 1] = tostring(k) .. "=" .. show(v[k], short)
      end
    end
    return "{" .. table.concat(parts, " ") .. "}"
  end
  return tostring(v)
end
D.show = function(v, short) return (show(v, short)) end

local function octal(n) return ("0%o"):format(n) end

--- A step as text: rename("a", "b", flags=NOREPLACE) as alice
function D.format_step(step)
  local args = {}
  for _, v in ipairs(step) do
    args[#args + 1] = type(v) == "number" and step.op:match("mod") and octal(v) or (show(v, true))
  end
  local keys = {}
  for k in pairs(step) do
    if type(k) == "string" and k ~= "op" and k ~= "as" and k ~= "watch" and k ~= "note" then
      keys[#keys + 1] = k
    end
  end
  table.sort(keys)
  for _, k in ipairs(keys) do
    local v = step[k]
    if (k == "mode" or k == "umask") and type(v) == "number" then v = octal(v) else v = show(v, true) end
    args[#args + 1] = k .. "=" .. v
  end
  local text = step.op .. "(" .. table.concat(args, ", ") .. ")"
  if step.as then text = text .. " as " .. step.as end
  return text
end

-- What a stat table is compared on.
local function norm_stat(st, ignore)
  local t = {
    type = st.type, perm = octal(st.perm), nlink = st.nlink, uid = st.uid, gid = st.gid,
  }
  -- the size of a directory is the filesystem's business (ext4 4096, tmpfs
  -- 40 + entries, memfs whatever): not compared
  if st.type ~= "dir" then t.size = st.size end
  if st.type == "char" or st.type == "block" then t.rdev = st.rdev_major .. ":" .. st.rdev_minor end
  if ignore then for f in pairs(ignore) do t[f] = nil end end
  return t
end
D.norm_stat = norm_stat

---------------------------------------------------------------- operations

local function dev(major, minor)
  return bit.bor(bit.lshift(bit.band(major or 0, 0xfff), 8), bit.band(minor or 0, 0xff))
end

local function fd_of(r, name)
  local f = r.fds[name or "fd"]
  if not f then return nil end
  return f.fd
end
local function no_fd() return nil, "EBADF", 9 end

local function utime_value(v)
  if v == nil or v == "omit" then return "omit" end
  if v == "now" then return "now" end
  if type(v) == "number" then return { v, 0 } end
  return v
end

-- op(r, step, ignore) -> value or nil, "ENAME"; r = the root's state (fds).
-- A value that is a stat table is normalised by the caller.
local ops = {}
-- which positional arguments are paths (watched after the step)
local path_args = {}
local function def(name, paths, fn) ops[name] = fn; path_args[name] = paths end

def("open", { 1 }, function(r, s)
  local fd, err, num = sys.open(s[1], D.flags(s[2] or s.flags), s.mode or 420)
  if not fd then return nil, err, num end
  if s.close then sys.close(fd); return true end
  local name = s.fd or "fd"
  if r.fds[name] then sys.close(r.fds[name].fd) end
  r.fds[name] = { fd = fd, path = s[1] }
  return true
end)
def("close", {}, function(r, s)
  local name = s.fd or s[1] or "fd"
  local f = r.fds[name]
  if not f then return no_fd() end
  r.fds[name] = nil
  return sys.close(f.fd)
end)
def("write", {}, function(r, s)
  local fd = fd_of(r, s.fd); if not fd then return no_fd() end
  if s.at then return sys.pwrite(fd, s[1] or s.data, s.at) end
  return sys.write(fd, s[1] or s.data)
end)
def("read", {}, function(r, s)
  local fd = fd_of(r, s.fd); if not fd then return no_fd() end
  if s.at then return sys.pread(fd, s[1] or s.size or 65536, s.at) end
  return sys.read(fd, s[1] or s.size or 65536)
end)
def("lseek", {}, function(r, s)
  local fd = fd_of(r, s.fd); if not fd then return no_fd() end
  return sys.lseek(fd, s[1], s.whence or 0)
end)
def("fstat", {}, function(r, s)
  local fd = fd_of(r, s.fd); if not fd then return no_fd() end
  return sys.fstat(fd)
end)
def("ftruncate", {}, function(r, s)
  local fd = fd_of(r, s.fd); if not fd then return no_fd() end
  return sys.ftruncate(fd, s[1])
end)
def("fchmod", {}, function(r, s)
  local fd = fd_of(r, s.fd); if not fd then return no_fd() end
  if C.fchmod(fd, s[1]) < 0 then return fail() end
  return true
end)
def("fchown", {}, function(r, s)
  local fd = fd_of(r, s.fd); if not fd then return no_fd() end
  if C.fchown(fd, id(s[1]), id(s[2])) < 0 then return fail() end
  return true
end)
def("futimens", {}, function(r, s)
  local fd = fd_of(r, s.fd); if not fd then return no_fd() end
  local ts = ffi.new("struct spec_timespec[2]")
  for i, t in ipairs({ utime_value(s.atime), utime_value(s.mtime) }) do
    if t == "now" then ts[i - 1].tv_nsec = sys.UTIME_NOW
    elseif t == "omit" then ts[i - 1].tv_nsec = sys.UTIME_OMIT
    else ts[i - 1].tv_sec, ts[i - 1].tv_nsec = t[1], t[2] or 0 end
  end
  if C.futimens(fd, ts) < 0 then return fail() end
  return true
end)
def("fsync", {}, function(r, s)
  local fd = fd_of(r, s.fd); if not fd then return no_fd() end
  if s.data_only then return sys.fdatasync(fd) end
  return sys.fsync(fd)
end)
def("stat", { 1 }, function(r, s) return sys.stat(s[1]) end)
def("lstat", { 1 }, function(r, s) return sys.lstat(s[1]) end)
def("mkdir", { 1 }, function(r, s) return sys.mkdir(s[1], s[2] or s.mode or 493) end)
def("rmdir", { 1 }, function(r, s) return sys.rmdir(s[1]) end)
def("unlink", { 1 }, function(r, s) return sys.unlink(s[1]) end)
def("rename", { 1, 2 }, function(r, s)
  return sys.rename(s[1], s[2], s.flags and parse_flags(s.flags, RENAME, "rename") or 0)
end)
def("link", { 1, 2 }, function(r, s) return sys.link(s[1], s[2]) end)
def("symlink", { 2 }, function(r, s) return sys.symlink(s[1], s[2]) end)
def("readlink", { 1 }, function(r, s) return sys.readlink(s[1]) end)
def("chmod", { 1 }, function(r, s) return sys.chmod(s[1], s[2] or s.mode) end)
def("chown", { 1 }, function(r, s)
  if C.chown(s[1], id(s[2]), id(s[3])) < 0 then return fail() end
  return true
end)
def("lchown", { 1 }, function(r, s) return sys.lchown(s[1], id(s[2]), id(s[3])) end)
def("truncate", { 1 }, function(r, s) return sys.truncate(s[1], s[2]) end)
def("utimens", { 1 }, function(r, s)
  return sys.utimens(s[1], utime_value(s.atime), utime_value(s.mtime), s.nofollow)
end)
def("mknod", { 1 }, function(r, s)
  local mode = bit.bor(TYPE_BITS[s.type or "file"], s.mode or 420)
  return sys.mknod(s[1], mode, dev(s.major, s.minor))
end)
def("mkfifo", { 1 }, function(r, s) return sys.mknod(s[1], bit.bor(0x1000, s.mode or 420), 0) end)
def("access", { 1 }, function(r, s) return sys.access(s[1], parse_flags(s[2] or "F", ACCESS, "access")) end)
def("readdir", { 1 }, function(r, s) return sys.readdir(s[1] or ".") end)
def("setxattr", { 1 }, function(r, s)
  return sys.setxattr(s[1], s[2], s[3], s.flags and parse_flags(s.flags, XATTR, "xattr") or 0)
end)
def("getxattr", { 1 }, function(r, s) return sys.getxattr(s[1], s[2]) end)
def("listxattr", { 1 }, function(r, s) return sys.listxattr(s[1]) end)
def("removexattr", { 1 }, function(r, s) return sys.removexattr(s[1], s[2]) end)
-- create(path, data=, mode=, flags=): open + write + close; the byte count
def("create", { 1 }, function(r, s)
  return sys.write_file(s[1], s.data or s[2] or "", s.flags and D.flags(s.flags)
    or D.flags("WRONLY|CREAT|TRUNC"), s.mode or 420)
end)
-- cat(path): the whole file
def("cat", { 1 }, function(r, s) return sys.read_file(s[1]) end)
-- noop: compares the watched paths only
def("noop", {}, function() return true end)

D.ops = ops

---------------------------------------------------------------- the run

local Run = {}
Run.__index = Run
local counter = 0

local function parent_of(p)
  if p == "." or p == "" then return nil end
  local dir = p:match("^(.*)/[^/]*$")
  if not dir then return "." end
  if dir == "" then return nil end -- absolute
  return dir
end

--- opts: roots = { {name, dir}, {name, dir} }, users = {name = {uid, gid, groups}},
-- seed (printed in failures), ignore = { field = true } (never compared),
-- times = false (never compare time changes), lenient_times = true (see
-- Run:step), max_failures (default 20).
function D.new(opts)
  local self = setmetatable({}, Run)
  assert(#opts.roots == 2, "two roots")
  self.users = opts.users or {}
  self.seed = opts.seed
  self.ignore = opts.ignore or {}
  self.times = opts.times ~= false
  self.lenient_times = opts.lenient_times
  self.failures = {}
  self.max_failures = opts.max_failures or 20
  self.ncase = 0
  counter = counter + 1
  local top
  repeat
    top = ("run%d"):format(counter)
    local exists = sys.lstat(opts.roots[1][2] .. "/" .. top) or sys.lstat(opts.roots[2][2] .. "/" .. top)
    if exists then counter = counter + 1 end
  until not exists
  self.roots = {}
  for i, root in ipairs(opts.roots) do
    local dir = root[2] .. "/" .. top
    assert(sys.mkdir(dir, 493))
    assert(sys.chmod(dir, 493))
    self.roots[i] = { name = root[1], dir = dir, fds = {}, times = {} }
  end
  return self
end

local function pack(...) return { n = select("#", ...), ... } end

-- Runs fn with the working directory `dir` and umask `mask`, as `who`.
local function within(dir, mask, who, fn, ...)
  if C.chdir(dir) ~= 0 then error("cannot chdir to " .. dir .. ": errno " .. ffi.errno()) end
  local old = C.umask(mask)
  local results = pack(pcall(creds.as, who, fn, ...))
  C.umask(old)
  C.chdir(home)
  if not results[1] then error(results[2], 0) end
  return unpack(results, 2, results.n)
end

-- Result of an operation, normalised: {ok = value} or {err = "ENAME"}.
local function outcome(ignore, v, err)
  if v == nil then return { err = err or "nil" } end
  if type(v) == "table" and v.type and v.perm then return { ok = norm_stat(v, ignore) } end
  return { ok = v }
end

-- The watched paths of a step, sorted.
local function watched(self, step, r)
  local set, list = {}, {}
  local function add(p)
    if p and not set[p] then set[p] = true; list[#list + 1] = p end
  end
  for _, i in ipairs(path_args[step.op] or {}) do
    local p = step[i]
    if type(p) == "string" then
      p = p:gsub("/+$", "")
      if p == "" then p = "." end
      add(p)
      add(parent_of(p))
    end
  end
  if step.fd or ({ write = 1, ftruncate = 1, fchmod = 1, fchown = 1, futimens = 1, fsync = 1,
    close = 1, read = 1, fstat = 1 })[step.op] then
    local f = r.fds[step.fd or (step.op == "close" and step[1]) or "fd"]
    if f then add(f.path); add(parent_of(f.path)) end
  end
  for _, p in ipairs(step.watch or {}) do add(p) end
  table.sort(list)
  return list
end

-- lstat of every watched path: state (compared exactly) and time changes.
local function look(self, r, paths, step, ignore, succeeded)
  local state, inos = {}, {}
  -- the object whose times a utimens/futimens step sets
  local target = step.target
  if target then -- given explicitly
  elseif step.op == "utimens" then target = (step[1]:gsub("/+$", ""))
  end -- futimens: the fd's file may no longer have the name it was opened with
  local compare_times = self.times and step.times ~= false
  for _, p in ipairs(paths) do
    local st, err = sys.lstat(p)
    if not st then
      state[p] = "missing (" .. err .. ")"
      r.times[p] = nil
    else
      local s = norm_stat(st, ignore)
      inos[#inos + 1] = { p, st.ino }
      if compare_times then
        local before = r.times[p]
        -- another object now has this name (renamed over it, exchanged):
        -- its times have nothing to do with the previous one's
        if before and before.ino == st.ino then
          s.mtime = st.mtime ~= before.mtime and "changed" or "same"
          s.ctime = st.ctime ~= before.ctime and "changed" or "same"
          -- atime uses the coarse clock (no multigrain timestamps): a
          -- UTIME_NOW may land on the value it already had
          if p == target and (step.nofollow or st.type ~= "symlink") and step.atime ~= "now" then
            s.atime = st.atime ~= before.atime and "changed" or "same"
          end
        end
        if succeeded and p == target and (step.nofollow or st.type ~= "symlink") then
          -- explicit times are compared as values
          if type(step.atime) == "number" or type(step.atime) == "table" then s.atime_value = st.atime end
          if type(step.mtime) == "number" or type(step.mtime) == "table" then s.mtime_value = st.mtime end
        end
        if ignore then for f in pairs(ignore) do s[f] = nil end end
      end
      r.times[p] = { mtime = st.mtime, ctime = st.ctime, atime = st.atime, ino = st.ino }
      state[p] = s
    end
  end
  -- which watched names are the same file (hard links, exchanged names)
  for i, a in ipairs(inos) do
    for j = 1, i - 1 do
      if inos[j][2] == a[2] then
        if type(state[a[1]]) == "table" then state[a[1]].same_as = inos[j][1] end
        break
      end
    end
  end
  return state
end

-- Runs one step on one root: outcome, watched state.
local function run_on(self, r, step, cwd)
  local fn = ops[step.op]
  assert(fn, "unknown op " .. tostring(step.op))
  local ignore
  if step.ignore or next(self.ignore) then
    ignore = {}
    for f in pairs(self.ignore) do ignore[f] = true end
    for _, f in ipairs(step.ignore or {}) do ignore[f] = true end
  end
  local who
  if step.as then
    who = self.users[step.as]
    assert(who, "unknown user " .. step.as)
  end
  local paths = watched(self, step, r)
  local res = outcome(ignore, within(cwd, step.umask or 18, who, fn, r, step))
  local state = within(cwd, 18, nil, look, self, r, paths, step, ignore, res.ok ~= nil)
  return res, state
end

-- The lines that describe how the two sides' outcomes and watched states
-- differ (empty when they agree).
local function differences(a, b, ra, sa, rb, sb)
  local lines = {}
  if show(ra) ~= show(rb) then
    lines[#lines + 1] = ("  result  %-7s %s"):format(a.name .. ":", show(ra, true))
    lines[#lines + 1] = ("          %-7s %s"):format(b.name .. ":", show(rb, true))
  end
  local paths = {}
  for p in pairs(sa) do paths[#paths + 1] = p end
  table.sort(paths)
  for _, p in ipairs(paths) do
    if show(sa[p]) ~= show(sb[p]) then
      -- only the fields that differ
      local da, db = {}, {}
      if type(sa[p]) == "table" and type(sb[p]) == "table" then
        for k, v in pairs(sa[p]) do if show(v) ~= show(sb[p][k]) then da[k] = v; db[k] = sb[p][k] or "-" end end
        for k, v in pairs(sb[p]) do if sa[p][k] == nil then da[k] = "-"; db[k] = v end end
      else
        da, db = sa[p], sb[p]
      end
      local label = #p > 40 and (p:sub(1, 16) .. ("..(%d bytes)..").format("..(%d bytes)..", #p) .. p:sub(-12)) or p
      lines[#lines + 1] = ("  %-7s %-7s %s"):format(label, a.name .. ":", show(da, true))
      lines[#lines + 1] = ("  %-7s %-7s %s"):format("", b.name .. ":", show(db, true))
    end
  end
  return lines
end

--- Runs one step on both roots; returns nil when they agree, else a
-- message describing the difference and, as the third value, true when
-- the only difference is a time the reference kept and the other side
-- changed (see Run:case).
function Run:step(step, index)
  local a, b = self.roots[1], self.roots[2]
  local case = self.current
  local ra, sa = run_on(self, a, step, a.dir .. "/" .. case.dir)
  local rb, sb = run_on(self, b, step, b.dir .. "/" .. case.dir)
  -- A name whose object was replaced on one side only: inode numbers get
  -- reused (ext4 hands a freed one to the next file), so one side may not
  -- notice. Its times are then not comparable; same_as still is.
  for p, x in pairs(sa) do
    local y = sb[p]
    if type(x) == "table" and type(y) == "table" and (x.mtime == nil) ~= (y.mtime == nil) then
      x.mtime, x.ctime, x.atime, y.mtime, y.ctime, y.atime = nil, nil, nil, nil, nil, nil
    end
  end
  -- The reference keeping a time that the other side changed: ext4's
  -- multigrain timestamps (6.13+) now and then leave ctime/mtime as they
  -- were after a change. Set aside here; the other direction (a missed
  -- change) always fails.
  local kept = {}
  for p, x in pairs(sa) do
    local y = sb[p]
    if type(x) == "table" and type(y) == "table" then
      for _, f in ipairs({ "mtime", "ctime" }) do
        if x[f] == "same" and y[f] == "changed" then
          kept[#kept + 1] = { x, y, f }
          x[f], y[f] = nil, nil
        end
      end
    end
  end
  local lines = differences(a, b, ra, sa, rb, sb)
  local only_kept_times = false
  if #kept > 0 then
    if self.lenient_times then
      -- counted, not failed (the soak's hundreds of thousands of steps)
      self.lenient_count = (self.lenient_count or 0) + #kept
    else
      only_kept_times = #lines == 0
      for _, k in ipairs(kept) do k[1][k[3]], k[2][k[3]] = "same", "changed" end
      lines = differences(a, b, ra, sa, rb, sb)
    end
  end
  if trace then
    io.stderr:write(("[%s #%d] %s -> %s\n"):format(case.name, index or 0, D.format_step(step), show(ra, true)))
  end
  if #lines == 0 then return nil, ra end
  local head = ("%s vs %s: case %q, step %d: %s"):format(a.name, b.name, case.name, index or 0,
    D.format_step(step))
  if step.note then head = head .. "  -- " .. step.note end
  if self.seed then head = head .. ("  [seed %s]"):format(tostring(self.seed)) end
  return head .. "\n" .. table.concat(lines, "\n"), ra, only_kept_times
end

local function close_all(r)
  for name, f in pairs(r.fds) do sys.close(f.fd); r.fds[name] = nil end
end

--- Starts a case: a fresh subdirectory in both roots (opts.mode, default
-- 0755; opts.uid/gid owner) that the steps run in.
function Run:begin(name, opts)
  opts = opts or {}
  self.ncase = self.ncase + 1
  self.current = { name = name, dir = ("c%d"):format(self.ncase) }
  for _, r in ipairs(self.roots) do
    close_all(r)
    r.times = {}
    local dir = r.dir .. "/" .. self.current.dir
    assert(sys.mkdir(dir, 493))
    if opts.uid or opts.gid then assert(sys.lchown(dir, opts.uid or 0, opts.gid or 0)) end
    assert(sys.chmod(dir, opts.mode or 493))
  end
end

--- Runs a case; stops at its first mismatch (later steps would only show
-- the consequences) and records it. Returns true when all steps agreed.
-- A case whose only mismatch is a time the reference kept (see Run:step)
-- runs once more in fresh directories: that is the disk's timestamp
-- granularity, which does not repeat, while a host that changes a time it
-- should not does it every time.
function Run:case(name, steps, opts, rerun)
  self:begin(name, opts)
  for i, step in ipairs(steps) do
    local diff, _, only_kept_times = self:step(step, i)
    if diff and only_kept_times and not rerun then
      self:close()
      self.reruns = (self.reruns or 0) + 1
      io.stderr:write(("differential: case %q runs again, the reference kept a time:\n%s\n"):format(name, diff))
      return self:case(name, steps, opts, true)
    end
    if diff then
      if rerun then diff = diff .. "\n  (the same on a second run of the case)" end
      if #self.failures < self.max_failures then self.failures[#self.failures + 1] = diff end
      self.failed_cases = (self.failed_cases or 0) + 1
      self:close()
      return false
    end
  end
  self:close()
  return true
end

--- Closes every fd the steps left open.
function Run:close()
  for _, r in ipairs(self.roots) do close_all(r) end
end

--- true when every case agreed, else false and the mismatches as text
-- (for `assert(run:result())` in a spec).
function Run:result()
  self:close()
  if #self.failures == 0 then return true end
  local extra = (self.failed_cases or 0) - #self.failures
  return false, ("%d case(s) differ:\n\n"):format(self.failed_cases or #self.failures)
    .. table.concat(self.failures, "\n\n")
    .. (extra > 0 and ("\n\n(and %d more)"):format(extra) or "")
end

--- Raises with every recorded mismatch, if any.
function Run:finish()
  local ok, text = self:result()
  if not ok then error(text, 0) end
end

---------------------------------------------------------------- trees

-- Every entry under dir: { ["rel/path"] = {stat fields, data = contents or
-- target, xattrs} }.
function D.snapshot(dir, ignore)
  local out = {}
  local function walk(rel)
    local full = rel == "" and dir or dir .. "/" .. rel
    local names, err = sys.readdir(full)
    if not names then out[rel .. "/"] = "readdir failed: " .. tostring(err); return end
    for _, name in ipairs(names) do
      local p = rel == "" and name or rel .. "/" .. name
      local st, e = sys.lstat(dir .. "/" .. p)
      if not st then
        out[p] = "lstat failed: " .. tostring(e)
      else
        local s = norm_stat(st, ignore)
        if st.type == "file" then
          s.data = sys.read_file(dir .. "/" .. p) or "unreadable"
        elseif st.type == "symlink" then
          s.data = sys.readlink(dir .. "/" .. p)
        end
        if st.type == "file" or st.type == "dir" then
          local names_ = sys.listxattr(dir .. "/" .. p)
          if names_ and #names_ > 0 then
            s.xattrs = {}
            for _, n in ipairs(names_) do s.xattrs[n] = sys.getxattr(dir .. "/" .. p, n) or "?" end
          end
        end
        s.ino = st.ino
        out[p] = s
        if st.type == "dir" then walk(p) end
      end
    end
  end
  walk("")
  -- hard links: the first name (sorted) of each inode
  local names = {}
  for p in pairs(out) do names[#names + 1] = p end
  table.sort(names)
  local first = {}
  for _, p in ipairs(names) do
    local s = out[p]
    if type(s) == "table" then
      if first[s.ino] then s.same_as = first[s.ino] else first[s.ino] = p end
      s.ino = nil
    end
  end
  return out
end

--- Differences between two trees as lines of text (empty when equal).
function D.compare_trees(dir_a, dir_b, names, ignore)
  names = names or { "a", "b" }
  local ta, tb = D.snapshot(dir_a, ignore), D.snapshot(dir_b, ignore)
  local all, lines = {}, {}
  for p in pairs(ta) do all[p] = true end
  for p in pairs(tb) do all[p] = true end
  local sorted = {}
  for p in pairs(all) do sorted[#sorted + 1] = p end
  table.sort(sorted)
  for _, p in ipairs(sorted) do
    local a, b = ta[p], tb[p]
    if show(a) ~= show(b) then
      lines[#lines + 1] = ("  %s\n    %-7s %s\n    %-7s %s"):format(p, names[1] .. ":", show(a, true),
        names[2] .. ":", show(b, true))
    end
  end
  return lines
end

return D
