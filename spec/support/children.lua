-- Children with deadlines, for specs of requests that may wait: spawn runs
-- a function in a forked process, which leaves what it returned (or the
-- error it raised) in children.dir; reap waits for children with a
-- deadline and, past it, kills the host and every child, so that nothing a
-- spec waits for can hang the run.
--
--   children.dir = mount.tmpdir("results")     -- before each spec
--   local pid = children.spawn(function() return sys.read_file(path) end)
--   local r = children.reap({ pid }, 20, m)[pid] -- r.ok, r.values, r.how
--   children.kill_everything(nil)               -- after each spec
local unistd = require("posix.unistd")
local wait = require("posix.sys.wait")
local signal = require("posix.signal")
local ptime = require("posix.time")
local mount = require("support.mount")

local M = {}
M.dir = nil -- where the children leave their results
local running = {} -- pid -> true until reaped

local function now()
  local t = ptime.clock_gettime(ptime.CLOCK_MONOTONIC)
  return t.tv_sec + t.tv_nsec / 1e9
end

-- Values <-> a string: each as "<length>\n<bytes>".
local function encode(...)
  local parts = {}
  for i = 1, select("#", ...) do
    local s = tostring((select(i, ...)))
    parts[#parts + 1] = #s .. "\n" .. s
  end
  return table.concat(parts)
end

local function decode(s)
  local values, at = {}, 1
  while at <= #s do
    local len, rest = s:match("^(%d+)\n()", at)
    assert(len, "a child's result is garbled: " .. s)
    len = tonumber(len)
    values[#values + 1] = s:sub(rest, rest + len - 1)
    at = rest + len
  end
  return values
end

--- What child `pid` left in M.dir: its first line, "ok" or "error", and
-- its values; nil while it has left nothing.
local function result_of(pid)
  local f = io.open(M.dir .. "/" .. pid)
  if not f then return nil end
  local text = f:read("*a")
  f:close()
  return text:sub(1, 3) == "ok\n", decode(text:match("^%a+\n(.*)$"))
end

--- Forks a child that runs fn() and records what it returns (as strings)
-- or the error it raised. opts.sigint: "default" (the signal kills the
-- child) or "catch" (a handler: system calls fail with EINTR). Without it
-- the child keeps busted's own SIGINT handler (the interpreter's).
function M.spawn(fn, opts)
  local pid = assert(unistd.fork())
  if pid == 0 then
    if opts and opts.sigint == "default" then
      signal.signal(signal.SIGINT, signal.SIG_DFL)
    elseif opts and opts.sigint == "catch" then
      signal.signal(signal.SIGINT, function() end)
    end
    local out = { pcall(fn) }
    local f = io.open(M.dir .. "/" .. unistd.getpid(), "w")
    if f then
      f:write(out[1] and "ok\n" or "error\n", encode(unpack(out, 2, table.maxn(out))))
      f:close()
    end
    unistd._exit(out[1] and 0 or 1)
  end
  running[pid] = true
  return pid
end

--- Kills the host of `m` by pid (its callers are woken with ENOTCONN),
-- then every child still running.
function M.kill_everything(m)
  if m and m.pid then signal.kill(m.pid, signal.SIGKILL) end
  local deadline = now() + 5
  while next(running) and now() < deadline do
    for pid in pairs(running) do
      if wait.wait(pid, wait.WNOHANG) == pid then running[pid] = nil end
    end
    mount.sleep(0.01)
  end
  for pid in pairs(running) do
    signal.kill(pid, signal.SIGKILL)
    wait.wait(pid)
    running[pid] = nil
  end
end

--- Waits for the children `pids` for at most `seconds`. Returns
-- {[pid] = {how =, status =, at = when it was reaped, ok =, values = {...}}}.
-- Past the deadline: kills the host and the children, and fails.
function M.reap(pids, seconds, m)
  local deadline = now() + seconds
  local done, left = {}, #pids
  while true do
    for _, pid in ipairs(pids) do
      if not done[pid] then
        local p, how, status = wait.wait(pid, wait.WNOHANG)
        if p == pid then
          running[pid] = nil
          local r = { how = how, status = status, at = now() }
          r.ok, r.values = result_of(pid)
          done[pid] = r
          left = left - 1
        end
      end
    end
    if left == 0 then return done end
    if now() > deadline then
      M.kill_everything(m)
      error(("%d of %d children were still waiting after %.1f s; the host was killed. Its log:\n%s")
        :format(left, #pids, seconds, m and m:log_text() or ""), 2)
    end
    mount.sleep(0.002)
  end
end

--- Runs fn in a child and returns its values (strings), failing if the
-- child raised or did not end within `seconds`.
function M.in_child(m, seconds, fn, opts)
  local pid = M.spawn(fn, opts)
  local r = M.reap({ pid }, seconds, m)[pid]
  assert(r.ok, "the child failed: " .. tostring(r.values and r.values[1]) .. " (" .. tostring(r.how)
    .. " " .. tostring(r.status) .. ")")
  return unpack(r.values)
end

return M
