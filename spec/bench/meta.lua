-- Metadata loops for `make bench`, timed from inside one process so that
-- only the system calls are measured (no fork/exec per file).
--
--   luajit spec/bench/meta.lua OP DIR N [SECONDS [PREFIX]]
--   luajit spec/bench/meta.lua OP DIR N --at=T [--seconds=S] [--prefix=P]
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
--
-- With --at=T (seconds since the epoch, CLOCK_REALTIME, fractions allowed)
-- the process builds its names, sleeps until T and only then starts; it
-- prints "COUNT START END" instead, START and END on CLOCK_MONOTONIC (one
-- clock for every process of the machine). That is how run.sh starts
-- several clients together, one process each, and takes their total rate
-- as the sum of COUNTs over the last END minus the first START.
local ffi = require("ffi")

ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk, bench_timespec *ts);
int clock_nanosleep(int clk, int flags, const bench_timespec *t, bench_timespec *rem);
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
local CLOCK_REALTIME, CLOCK_MONOTONIC, TIMER_ABSTIME = 0, 1, 1

local function usage()
  io.stderr:write("usage: luajit meta.lua create|stat|open|readdir|unlink DIR N [SECONDS [PREFIX]]\n" ..
    "       luajit meta.lua OP DIR N --at=T [--seconds=S] [--prefix=P]\n")
  os.exit(2)
end

local op, dir, n = arg[1], arg[2], tonumber(arg[3])
local min_seconds, prefix, start_at = 1, "f", nil
local positional = 0
for i = 4, #arg do
  local key, value = arg[i]:match("^%-%-(%a+)=(.*)$")
  if key == "at" then start_at = tonumber(value) or usage()
  elseif key == "seconds" then min_seconds = tonumber(value) or usage()
  elseif key == "prefix" then prefix = value
  elseif key then usage()
  else
    positional = positional + 1
    if positional == 1 then min_seconds = tonumber(arg[i]) or usage()
    elseif positional == 2 then prefix = arg[i]
    else usage() end
  end
end
if not (op and dir and n) then usage() end

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

-- Several clients start together: sleep until the agreed moment.
if start_at then
  local at = ffi.new("bench_timespec")
  at.tv_sec = math.floor(start_at)
  at.tv_nsec = math.floor((start_at - math.floor(start_at)) * 1e9)
  while C.clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, at, nil) ~= 0 do end -- EINTR
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
local t1 = now()
if start_at then
  io.write(string.format("%d %.6f %.6f\n", done, t0, t1))
else
  io.write(string.format("%.0f\n", done / (t1 - t0)))
end
