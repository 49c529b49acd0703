-- Daemonized moonfs hosts, started the way users start them: without -f,
-- messages to -o log=FILE. The host detaches, so it is found by its mount
-- point (`moonfs list`, cross-checked with /proc/*/cmdline), stopped with
-- fusermount3 -u, and waited for until its pid is gone.
--
--   local daemon = require("support.daemon")
--   local d = daemon.start{ script = "scripts/hello.lua", options = "timeout=0" }
--   ... d.dir, d.pid, d.log ...
--   daemon.stop(d)          -- asserts the host went and its log is clean
--   daemon.stop_all()       -- in teardown/after_each: takes down what is left
--
-- start{as = user} runs the host (and fusermount3, and `moonfs list`) as
-- that user ({name, uid, gid} from support.users), with a clean environment;
-- env = {XDG_RUNTIME_DIR = ...} adds to it.
local mount = require("support.mount")
local shell = require("support.shell")
local signal = require("posix.signal")

local M = {}
local live = {}
local started = 0

local ok, quote = shell.ok, shell.quote
M.quote = quote

--- Runs a shell command; returns its exit code and its output (stdout and
-- stderr together).
function M.sh(cmd) return shell.sh(cmd, 600) end

--- The prefix that runs a command as `who` (nil: as we are), with a clean
-- environment plus `env`.
function M.as(who, env)
  if not who then
    local parts = {}
    for k, v in pairs(env or {}) do parts[#parts + 1] = k .. "=" .. quote(v) end
    return #parts > 0 and ("env " .. table.concat(parts, " ") .. " ") or ""
  end
  local parts = { "setpriv", "--reuid=" .. who.uid, "--regid=" .. who.gid, "--clear-groups",
    "env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/", "LANG=C.UTF-8" }
  for k, v in pairs(env or {}) do parts[#parts + 1] = k .. "=" .. quote(v) end
  return table.concat(parts, " ") .. " "
end

-- readlink(2) (luaposix's refuses /proc/PID/fd links, whose size lstat
-- does not tell).
local ffi = require("ffi")
pcall(ffi.cdef, "long readlink(const char *path, char *buf, size_t size);")
function M.readlink(path)
  local buf = ffi.new("char[4096]")
  local n = ffi.C.readlink(path, buf, 4096)
  if n < 0 then return nil end
  return ffi.string(buf, n)
end

local function read_all(path) return shell.read_text(path) or "" end

--- The arguments of process `pid` (nil when it is gone).
function M.cmdline(pid)
  local s = read_all("/proc/" .. pid .. "/cmdline")
  if s == "" then return nil end
  local args = {}
  for a in s:gmatch("([^%z]*)%z") do args[#args + 1] = a end
  return args
end

--- Whether pid runs (a zombie does not).
function M.alive(pid)
  local stat = read_all("/proc/" .. pid .. "/stat")
  if stat == "" then return false end
  return stat:match("^%d+ %b() (%a)") ~= "Z"
end

--- The pids of moonfs hosts with `dir` as an argument.
function M.pids_for(dir)
  local pids = {}
  local p = io.popen("ls /proc")
  for name in p:lines() do
    if name:match("^%d+$") then
      local args = M.cmdline(name)
      if args and args[1]:match("moonfs[^/]*$") and M.alive(name) then
        for i = 2, #args do
          if args[i] == dir then pids[#pids + 1] = tonumber(name) break end
        end
      end
    end
  end
  p:close()
  return pids
end

--- Waits up to `seconds` for pid to go; returns whether it went.
function M.wait_gone(pid, seconds)
  for _ = 1, math.floor((seconds or 10) / 0.02) do
    if not M.alive(pid) then return true end
    mount.sleep(0.02)
  end
  return not M.alive(pid)
end

--- `moonfs list` as `who`: {mount point = {script, pid, up}}, and its text.
function M.list(who, env)
  local code, out = M.sh(M.as(who, env) .. quote(mount.binary) .. " list")
  assert(code == 0, "moonfs list failed: " .. out)
  local mounts = {}
  for line in out:gmatch("[^\n]+") do
    local point, script, pid, up = line:match("^(/%S*)%s+(%S+)%s+(%d+)%s+(%d+:%d%d:%d%d)$")
    if point then mounts[point] = { script = script, pid = tonumber(pid), up = up } end
  end
  return mounts, out
end

--- Starts a daemonized host; returns {dir, tmp, log, pid, as, env}.
-- opts: script, options (string), dir (an existing mount point: reuse it),
-- as, env, allow = {log patterns that are expected}.
function M.start(opts)
  local d = { as = opts.as, env = opts.env, allow = opts.allow or {} }
  if opts.dir then
    d.dir, d.tmp = opts.dir, opts.tmp -- the caller's: it removes them
  else
    d.tmp = mount.tmpdir("daemon")
    d.owns_tmp = true
    d.dir = d.tmp .. "/mnt"
    assert(ok("mkdir " .. quote(d.dir)))
    if opts.as then
      assert(ok(("chown -R %d:%d %s"):format(opts.as.uid, opts.as.gid, quote(d.tmp))))
    end
  end
  started = started + 1
  d.log = opts.log or (d.tmp .. "/host-" .. started .. ".log")
  local script = opts.script
  if script:sub(1, 1) ~= "/" then script = mount.repo .. "/" .. script end
  d.script = script
  local options = "log=" .. d.log .. (opts.options and ("," .. opts.options) or "")
  local code, out = M.sh(M.as(opts.as, opts.env) .. quote(mount.binary) .. " " .. quote(script)
    .. " " .. quote(d.dir) .. " -o " .. quote(options))
  if code ~= 0 then
    error(("moonfs exited %s before daemonizing:\n%s%s"):format(tostring(code), out,
      read_all(d.log)), 2)
  end
  live[d] = true
  -- the parent exits once the filesystem is mounted; the control socket
  -- comes up just after, in the daemon
  for _ = 1, 250 do
    local mounts = M.list(opts.as, opts.env)
    if mounts[d.dir] then
      d.pid = mounts[d.dir].pid
      break
    end
    mount.sleep(0.02)
  end
  if not d.pid then
    local pids = M.pids_for(d.dir)
    d.pid = pids[1]
    M.stop(d, true)
    error("the daemon at " .. d.dir .. " never showed in moonfs list:\n" .. read_all(d.log), 2)
  end
  return d
end

function M.log_text(d)
  return read_all(d.log)
end

local error_lines = mount.error_lines

--- Unmounts with fusermount3 -u (as the user who mounted), waits for the
-- host to go and checks its log. `quiet`: no checks (cleanup).
function M.stop(d, quiet)
  if not live[d] then return end
  live[d] = nil
  local prefix = M.as(d.as)
  for _ = 1, 50 do
    if not mount.is_mounted(d.dir) then break end
    if M.sh(prefix .. "fusermount3 -u " .. quote(d.dir)) == 0 then break end
    mount.sleep(0.1)
  end
  if mount.is_mounted(d.dir) then M.sh("fusermount3 -uz " .. quote(d.dir)) end
  local gone = not d.pid or M.wait_gone(d.pid, 30) -- generous, as in mount.lua
  if not gone then
    signal.kill(d.pid, signal.SIGKILL)
    M.wait_gone(d.pid, 5)
  end
  local log = read_all(d.log)
  if d.owns_tmp then mount.rmtree(d.tmp) end
  if quiet then return end
  assert(gone, "the host did not exit after the unmount; its log:\n" .. log)
  local bad = error_lines(log, d.allow)
  assert(#bad == 0, "moonfs logged unexpected errors:\n" .. table.concat(bad, "\n")
    .. "\n-- full log:\n" .. log)
  return log
end

function M.stop_all()
  for d in pairs(live) do M.stop(d, true) end
end

return M
