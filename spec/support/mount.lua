-- Starts the real moonfs host on a script in a temporary directory, waits
-- for the mount, and takes it down again: unmount (lazily if it must), wait
-- for the host, require exit status 0 and no unexpected error in its log.
--
--   local m = mount.start{ script = "scripts/hello.lua", options = "root=/x" }
--   ... m.dir .. "/hello.txt" ...
--   m:stop()            -- asserts a clean exit; safe to call twice
--
-- Every started mount is remembered; mount.stop_all() (called from the
-- specs' teardown/after_each) takes down whatever a failing spec left.
local unistd = require("posix.unistd")
local wait = require("posix.sys.wait")
local signal = require("posix.signal")
local fcntl = require("posix.fcntl")
local ptime = require("posix.time")

local M = {}
local live = {}

local repo = os.getenv("PWD")
M.repo = repo
M.fixtures = repo .. "/spec/fixtures/"

--- The line of a fixture (in spec/fixtures) that holds `marker`, for
-- file:line checks of messages.
function M.line_of(fixture, marker)
  local f = assert(io.open(M.fixtures .. fixture))
  local n = 0
  for line in f:lines() do
    n = n + 1
    if line:find(marker, 1, true) then f:close(); return n end
  end
  f:close()
  error("no line with " .. marker .. " in " .. fixture, 2)
end
M.binary = os.getenv("MOONFS_BINARY") or (repo .. "/moonfs")
M.valgrind = os.getenv("MOONFS_VALGRIND") == "1"

--- What this run can do. Specs that need more skip with the reason
-- (busted counts them as pending): `if not mount.need_root("...") then return end`.
M.root = unistd.geteuid() == 0

local function kernel_at_least(major, minor)
  local a, b = (require("posix.sys.utsname").uname().release):match("^(%d+)%.(%d+)")
  a, b = tonumber(a), tonumber(b)
  return a > major or (a == major and b >= minor)
end

--- Passthrough needs CAP_SYS_ADMIN and Linux 6.9+.
M.passthrough = M.root and kernel_at_least(6, 9)
M.no_passthrough_reason = not M.root and "passthrough needs root (CAP_SYS_ADMIN)"
  or "passthrough needs Linux 6.9 or newer"

-- busted gives each spec file its own environment with `pending` in it;
-- this module's own environment has none, so it takes the caller's.
local function mark_pending(why)
  local fn = getfenv(3).pending
  assert(fn, "need_root/need_passthrough must be called from a spec")
  fn(why)
end

function M.need_root(what)
  if M.root then return true end
  mark_pending("needs root: " .. what)
  return false
end

function M.need_passthrough()
  if M.passthrough then return true end
  mark_pending(M.no_passthrough_reason)
  return false
end

local function sleep(seconds)
  ptime.nanosleep({ tv_sec = math.floor(seconds), tv_nsec = math.floor((seconds % 1) * 1e9) })
end
M.sleep = sleep

local shell = require("support.shell")
local run = shell.ok

-- Temporary directories made and not yet removed: what M.sweep removes
-- when the run ends, whatever a failing spec left behind.
local made = {}

--- A fresh temporary directory (removed by M.rmtree).
function M.tmpdir(tag)
  local p = io.popen("mktemp -d /tmp/moonfs-spec-" .. (tag or "x") .. ".XXXXXX")
  local dir = p:read("*l")
  p:close()
  made[dir] = true
  return dir
end

-- --one-file-system: a mount still up beneath the directory (a host that
-- would not go) is left alone rather than emptied through.
function M.rmtree(dir)
  if dir and dir:match("^/tmp/moonfs%-spec%-") then
    run("rm -rf --one-file-system '" .. dir .. "'")
    made[dir] = nil
  end
end

local function is_mounted(dir)
  local f = io.open("/proc/self/mountinfo")
  if not f then return false end
  for line in f:lines() do
    local point = line:match("^%S+ %S+ %S+ %S+ (%S+)")
    if point == dir then f:close(); return true end
  end
  f:close()
  return false
end
M.is_mounted = is_mounted

local function read_all(path) return shell.read_text(path) or "" end

local Mount = {}
Mount.__index = Mount

--- Starts the host. opts: script (path relative to the repo or absolute),
-- options (string for -o), args (extra arguments), env (table), and
-- allow = {patterns} of log lines that are expected (e.g. "raised an error"),
-- nofile = the host's limit of open files.
function M.start(opts)
  local self = setmetatable({}, Mount)
  self.tmp = M.tmpdir("mnt")
  self.dir = self.tmp .. "/mnt"
  assert(run("mkdir '" .. self.dir .. "'"))
  self.log = self.tmp .. "/host.log"
  self.allow = opts.allow or {}
  local script = opts.script
  if script:sub(1, 1) ~= "/" then script = repo .. "/" .. script end
  local argv = { [0] = M.binary, script, self.dir, "-f" }
  local program = M.binary
  if M.valgrind then
    -- memcheck: any invalid access or definite leak makes the host exit 99
    program = "valgrind"
    table.insert(argv, 1, M.binary)
    for i, flag in ipairs({ "--quiet", "--error-exitcode=99", "--leak-check=full",
      "--errors-for-leak-kinds=definite" }) do
      table.insert(argv, i, flag)
    end
    argv[0] = program
  end
  if opts.options then argv[#argv + 1] = "-o"; argv[#argv + 1] = opts.options end
  for _, a in ipairs(opts.args or {}) do argv[#argv + 1] = a end

  local pid = unistd.fork()
  if pid == 0 then
    local fd = fcntl.open(self.log, fcntl.O_WRONLY + fcntl.O_CREAT + fcntl.O_TRUNC, 420)
    unistd.dup2(fd, 1)
    unistd.dup2(fd, 2)
    unistd.close(fd) -- the host gets standard output and error, nothing more
    for key, value in pairs(opts.env or {}) do require("posix.stdlib").setenv(key, value) end
    if opts.nofile then
      local resource = require("posix.sys.resource")
      resource.setrlimit(resource.RLIMIT_NOFILE, { rlim_cur = opts.nofile, rlim_max = opts.nofile })
    end
    unistd.execp(program, argv)
    unistd._exit(127)
  end
  self.pid = pid
  live[self] = true

  -- wait for the mount, or for the host to give up
  for _ = 1, M.valgrind and 1200 or 200 do
    if is_mounted(self.dir) then
      -- the first request waits for FUSE's INIT, so the host is ready after it
      require("posix.sys.stat").stat(self.dir)
      return self
    end
    local p, how, status = wait.wait(pid, wait.WNOHANG)
    if p == pid then
      self.pid = nil
      self.status = status
      live[self] = nil
      local log = read_all(self.log)
      M.rmtree(self.tmp)
      error(("moonfs exited (%s %s) before mounting:\n%s"):format(how, tostring(status), log), 2)
    end
    sleep(0.025)
  end
  self:stop(true)
  error("moonfs did not mount in time:\n" .. read_all(self.log), 2)
end

function Mount:path(rel)
  if not rel or rel == "" then return self.dir end
  return self.dir .. "/" .. rel
end

function Mount:log_text()
  return read_all(self.log)
end

--- Sends a signal to the host.
function Mount:signal(sig)
  assert(self.pid, "host not running")
  signal.kill(self.pid, sig)
end

--- Waits up to `seconds` for the host to exit; returns how, status or nil.
function Mount:wait_exit(seconds)
  for _ = 1, math.floor(seconds / 0.02) do
    local p, how, status = wait.wait(self.pid, wait.WNOHANG)
    if p == self.pid then
      self.pid = nil
      self.exit_how, self.exit_status = how, status
      return how, status
    end
    sleep(0.02)
  end
end

--- Reads the host's counters: sends SIGUSR1 and parses the table it logs:
-- {requests = {op = n}, lua = {op = n}, passthrough_opens, fallback_opens,
-- backing_ids, nodes, ring_requests}.
function Mount:stats()
  local before = #self:log_text()
  self:signal(signal.SIGUSR1)
  -- the host acts on the signal before its next wait for a request; poke it
  for _ = 1, M.valgrind and 1000 or 100 do
    require("posix.dirent").dir(self.dir) -- opendir and readdir always reach the host
    local text = self:log_text():sub(before + 1)
    local opens, fallback, backing, nodes = text:match(
      "stats opens: (%d+) passthrough, (%d+) served by the host; backing files now: (%d+); inodes known: (%d+)")
    if opens then
      local counts = { requests = {}, lua = {}, passthrough_opens = tonumber(opens),
        fallback_opens = tonumber(fallback), backing_ids = tonumber(backing), nodes = tonumber(nodes),
        ring_requests = tonumber(text:match("stats io_uring: (%d+)")) }
      for op, requests, calls in text:gmatch("stats (%l[%w_]*) +(%d+) +(%S+)") do
        counts.requests[op] = tonumber(requests)
        counts.lua[op] = tonumber(calls)
      end
      return counts
    end
    sleep(0.02)
  end
  error("no counters in the host's log")
end

--- Log lines that look like errors and match none of the allowed patterns.
-- The frames of a traceback (indented) belong to the message above them.
local function error_lines(log, allow)
  local bad = {}
  for line in log:gmatch("[^\n]+") do
    local lower = line:lower()
    if line:match("^%s") or line == "stack traceback:" then
      -- judged with its message
    elseif lower:find("error") or lower:find("traceback") or lower:find("panic")
      or lower:find("sanitizer") or lower:find("leak") then
      local allowed = false
      for _, pattern in ipairs(allow) do
        if line:find(pattern) then allowed = true end
      end
      if not allowed then bad[#bad + 1] = line end
    end
  end
  return bad
end
M.error_lines = error_lines

--- Unmounts, waits for the host and checks it exited 0 with a clean log.
-- `quiet` skips the checks (cleanup after another failure).
function Mount:stop(quiet)
  if not live[self] then return end
  live[self] = nil
  if is_mounted(self.dir) then
    for _ = 1, 50 do
      if run("fusermount3 -u '" .. self.dir .. "'") or not is_mounted(self.dir) then break end
      sleep(0.1)
    end
    if is_mounted(self.dir) then run("fusermount3 -uz '" .. self.dir .. "'") end
  end
  local how, status
  if self.pid then
    -- generous, for sanitizer builds on a loaded machine; a host that exits
    -- returns at once, one that hangs is still killed
    how, status = self:wait_exit(30)
    if not how then
      signal.kill(self.pid, signal.SIGKILL)
      wait.wait(self.pid)
      self.pid = nil
      how, status = "killed", "after 30 s"
    end
  else
    how, status = self.exit_how, self.exit_status
  end
  local log = self:log_text()
  M.rmtree(self.tmp)
  if quiet then return end
  assert(how == "exited" and status == 0,
    ("moonfs did not exit cleanly (%s %s); its log:\n%s"):format(tostring(how), tostring(status), log))
  self.log_at_stop = log
  local bad = error_lines(log, self.allow)
  assert(#bad == 0, "moonfs printed unexpected errors:\n" .. table.concat(bad, "\n") .. "\n-- full log:\n" .. log)
  return log
end

--- Takes down every mount still up (after a failed spec). Quiet.
function M.stop_all()
  for m in pairs(live) do m:stop(true) end
end

--- At the end of a run (spec/support/helper.lua): every mount still up is
-- taken down, mounts left beneath our temporary directories are detached,
-- and the directories go.
function M.sweep()
  M.stop_all()
  local f = io.open("/proc/self/mountinfo")
  local points = {}
  for line in (f and f:lines() or function() end) do
    local point = line:match("^%S+ %S+ %S+ %S+ (%S+)")
    if point and point:match("^/tmp/moonfs%-spec%-") then points[#points + 1] = point end
  end
  if f then f:close() end
  for _, point in ipairs(points) do
    for dir in pairs(made) do
      if point:sub(1, #dir + 1) == dir .. "/" then run("fusermount3 -uz '" .. point .. "'") end
    end
  end
  for dir in pairs(made) do M.rmtree(dir) end
end

--- Runs the host to completion (for scripts that must fail before mounting,
-- or a daemonizing mount) and returns exit code, combined output.
function M.run_host(args, binary)
  local cmd = { shell.quote(binary or M.binary) }
  for _, a in ipairs(args) do cmd[#cmd + 1] = shell.quote(a) end
  return shell.sh(table.concat(cmd, " "), 600)
end

--- The number of lines of a file of the repository (for size limits).
function M.count_lines(rel)
  local n = 0
  for _ in io.lines(repo .. "/" .. rel) do n = n + 1 end
  return n
end

--- Writes a script to a temporary file and returns its path (the file is
-- removed with the directory returned second).
function M.write_script(source, name)
  local dir = M.tmpdir("script")
  local path = dir .. "/" .. (name or "script.lua")
  local f = assert(io.open(path, "w"))
  f:write(source)
  f:close()
  return path, dir
end

return M
