-- Metadata loops for `make bench`, timed from inside one process so that
-- only the system calls are measured (no fork/exec per file).
--
--   luajit spec/bench/meta.lua OP DIR N [SECONDS [PREFIX]]
--
-- OP is one of
--   create   open(O_CREAT|O_EXCL|O_WRONLY) + close of DIR/f000000 .. N-1
--            (PREFIX, default "f", replaces the "f")
--   stat     stat of every file
--   open     open(O_RDONLY) + close of every file
--   readdir  opendir/readdir/closedir of DIR, repeated for at least SECONDS
--            (default 1) and 3 passes; counts every entry returned
--   unlink   unlink of every file
-- Prints the rate (operations or entries per second) on stdout; on the
-- first failing call prints the errno to stderr and exits 1.
local ffi = require("ffi")

ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk, bench_timespec *ts);
int open(const char *path, int flags, ...);
int close(int fd);
int stat(const char *path, void *buf);
int unlink(const char *path);
char *strerror(int errnum);
typedef struct bench_DIR bench_DIR;
struct bench_dirent {
  uint64_t d_ino; int64_t d_off; uint16_t d_reclen; uint8_t d_type; char d_name[256];
};
bench_DIR *opendir(const char *name);
struct bench_dirent *readdir(bench_DIR *d);
int closedir(bench_DIR *d);
]]

local C = ffi.C
local O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_CLOEXEC = 0, 1, 0x40, 0x80, 0x80000
local CLOCK_MONOTONIC = 1

local op, dir, n, min_seconds = arg[1], arg[2], tonumber(arg[3]), tonumber(arg[4] or "1")
local prefix = arg[5] or "f"
if not (op and dir and n) then
  io.stderr:write("usage: luajit meta.lua create|stat|open|readdir|unlink DIR N [SECONDS [PREFIX]]\n")
  os.exit(2)
end

local ts = ffi.new("bench_timespec")
local function now()
  C.clock_gettime(CLOCK_MONOTONIC, ts)
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end

local function fail(what, path)
  local e = ffi.errno()
  io.stderr:write(string.format("meta.lua %s %s: %s (errno %d)\n", what, path,
    ffi.string(C.strerror(e)), e))
  os.exit(1)
end

-- Names are built before the clock starts.
local names = {}
for i = 1, n do names[i] = string.format("%s/%s%06d", dir, prefix, i - 1) end
local statbuf = ffi.new("uint8_t[256]") -- struct stat is 144 bytes on x86_64

local loops = {
  create = function()
    for i = 1, n do
      local fd = C.open(names[i], O_CREAT + O_EXCL + O_WRONLY + O_CLOEXEC, ffi.cast("int", 420))
      if fd < 0 then fail("create", names[i]) end
      C.close(fd)
    end
    return n
  end,
  stat = function()
    for i = 1, n do
      if C.stat(names[i], statbuf) ~= 0 then fail("stat", names[i]) end
    end
    return n
  end,
  open = function()
    for i = 1, n do
      local fd = C.open(names[i], O_RDONLY + O_CLOEXEC)
      if fd < 0 then fail("open", names[i]) end
      C.close(fd)
    end
    return n
  end,
  unlink = function()
    for i = 1, n do
      if C.unlink(names[i]) ~= 0 then fail("unlink", names[i]) end
    end
    return n
  end,
}

local function readdir_pass()
  local d = C.opendir(dir)
  if d == nil then fail("opendir", dir) end
  local count = 0
  ffi.errno(0)
  while C.readdir(d) ~= nil do count = count + 1 end
  if ffi.errno() ~= 0 then fail("readdir", dir) end
  C.closedir(d)
  return count
end

local t0, done
if op == "readdir" then
  t0 = now()
  local passes = 0
  done = 0
  repeat
    local c = readdir_pass()
    if c < n then
      io.stderr:write(string.format("meta.lua readdir %s: %d entries, expected at least %d\n", dir, c, n))
      os.exit(1)
    end
    done = done + c
    passes = passes + 1
  until passes >= 3 and now() - t0 >= min_seconds
elseif loops[op] then
  t0 = now()
  done = loops[op]()
else
  io.stderr:write("meta.lua: unknown operation " .. tostring(op) .. "\n")
  os.exit(2)
end
local elapsed = now() - t0
io.write(string.format("%.0f\n", done / elapsed))
