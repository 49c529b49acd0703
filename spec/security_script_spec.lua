-- Hostile or careless scripts, and a host that leaves its working
-- directory or reloads: errno numbers the kernel cannot take, numbers that
-- do not fit a stat, names no directory can hold, more xattr names than a
-- small buffer holds, relative paths after daemonizing, reloads that leak
-- or forget, and a memfs whose cost follows the sizes it is asked for.
--
-- Every call that could hang the caller runs in a child process with a
-- deadline; past it the spec kills the host (which aborts the FUSE
-- connection) and fails, so a broken host never leaves a stuck caller.
local mount = require("support.mount")
local shell = require("support.shell")
local sys = require("support.sys")
local unistd = require("posix.unistd")
local wait = require("posix.sys.wait")
local signal = require("posix.signal")
local pstat = require("posix.sys.stat")
local ptime = require("posix.time")
local dirent = require("posix.dirent")
local O = sys.O

local fixtures = mount.repo .. "/spec/fixtures/"

local sh = shell.ok

local function note(what, ...)
  if os.getenv("MOONFS_SPEC_VERBOSE") then
    local parts = {}
    for i = 1, select("#", ...) do parts[#parts + 1] = tostring((select(i, ...))) end
    io.stderr:write(("[security] %s -> %s\n"):format(what, table.concat(parts, " ")))
  end
end

local function now()
  local t = ptime.clock_gettime(ptime.CLOCK_MONOTONIC)
  return t.tv_sec + t.tv_nsec / 1e9
end

local function exists(path) return pstat.lstat(path) ~= nil end

---------------------------------------------------------------- deadlines

-- Values as Lua source, for the trip from a child process.
local function encode(v)
  local t = type(v)
  if t == "nil" or t == "boolean" then return tostring(v) end
  if t == "number" then
    if v ~= v then return "0/0" end
    if v == math.huge then return "1/0" end
    if v == -math.huge then return "-1/0" end
    return ("%.17g"):format(v)
  end
  if t == "string" then return (("%q"):format(v)) end
  if t == "table" then
    local parts = {}
    for k, x in pairs(v) do parts[#parts + 1] = "[" .. encode(k) .. "]=" .. encode(x) end
    return "{" .. table.concat(parts, ",") .. "}"
  end
  return encode(tostring(v))
end

local function write_all(fd, s)
  while #s > 0 do
    local n = unistd.write(fd, s)
    if not n or n <= 0 then return end
    s = s:sub(n + 1)
  end
end

-- Starts fn in a child process; returns a job to `finish`.
local function spawn(fn)
  local r, w = unistd.pipe()
  local pid = unistd.fork()
  if pid == 0 then
    unistd.close(r)
    local res = { n = 0 }
    local packed = { pcall(function()
      local out = { n = 0 }
      local function pack(...) out.n = select("#", ...); for i = 1, out.n do out[i] = (select(i, ...)) end end
      pack(fn())
      return out
    end) }
    local text
    if packed[1] then
      res = packed[2]
      local parts = {}
      for i = 1, res.n do parts[i] = encode(res[i]) end
      text = "return " .. (res.n > 0 and table.concat(parts, ",") or "")
    else
      text = "error(" .. encode("in the child: " .. tostring(packed[2])) .. ", 0)"
    end
    write_all(w, text)
    unistd.close(w)
    unistd._exit(0)
  end
  unistd.close(w)
  return { pid = pid, r = r, out = {} }
end

local function drain(job)
  -- the child writes little, and only at its end: read what is there
  local fcntl = require("posix.fcntl")
  fcntl.fcntl(job.r, fcntl.F_SETFL, fcntl.O_NONBLOCK)
  while true do
    local s = unistd.read(job.r, 65536)
    if not s or s == "" then break end
    job.out[#job.out + 1] = s
  end
end

-- Waits for the job until `deadline` (monotonic seconds); true if it ended.
local function wait_job(job, deadline)
  while true do
    drain(job)
    local p = wait.wait(job.pid, wait.WNOHANG)
    if p == job.pid then
      job.done = true
      drain(job)
      unistd.close(job.r)
      return true
    end
    if now() >= deadline then return false end
    mount.sleep(0.005)
  end
end

-- Once the host is gone the child's request fails and it comes back; if it
-- does not, it is killed (it is ours).
local function reap(job)
  if job.done then return end
  if not wait_job(job, now() + 5) then
    signal.kill(job.pid, signal.SIGKILL)
    wait.wait(job.pid)
    job.done = true
    unistd.close(job.r)
  end
end

local function results(job)
  local chunk = assert(loadstring(table.concat(job.out)))
  return chunk()
end

-- Runs fn() in a child with a deadline of `seconds`; returns what fn
-- returned. Past the deadline the host is killed (a dead server aborts its
-- FUSE connection, which wakes every waiting caller, with no fusectl and
-- no root needed) and the spec fails naming `what`.
local function within(m, seconds, what, fn)
  local job = spawn(fn)
  if not wait_job(job, now() + seconds) then
    if m.pid then signal.kill(m.pid, signal.SIGKILL) end
    reap(job)
    assert(false, ("%s did not return within %g s (the caller hung); the host was killed")
      :format(what, seconds))
  end
  return results(job)
end

-- A log line that names `handler` and the field `field` outside of any
-- path in the line (so "/uid_huge" does not count as naming "uid").
local function names_field(log, handler, fields)
  for line in log:gmatch("[^\n]+") do
    if line:find(handler, 1, true) then
      local rest = line:gsub("/[%w_%-%.]*", " ")
      for _, f in ipairs(fields) do
        if rest:find("%f[%w_]" .. f .. "%f[^%w_]") then return true end
      end
    end
  end
  return false
end

local function fails_with(expected, what, ...)
  local ok, err = ...
  assert(ok == nil, ("%s: expected %s, the call succeeded and returned %s"):format(what, expected, encode(ok)))
  assert(err == expected, ("%s: expected %s, got %s"):format(what, expected, tostring(err)))
end

---------------------------------------------------------------- 5. errno

describe("security: errno values from scripts are checked", function()
  local m
  local ALLOW = { "replying EIO", "'getattr'" }
  before_each(function()
    m = mount.start{ script = fixtures .. "hostile_errno.lua", allow = ALLOW }
  end)
  after_each(function() mount.stop_all() end)

  local function still_serves()
    local got = { within(m, 5, "stat /e2 after the bad errno", function() return sys.stat(m:path("e2")) end) }
    assert(got[2] == "ENOENT", "the mount no longer serves: stat /e2 gave " .. tostring(got[2] or got[1]))
    local root = within(m, 5, "readdir / after the bad errno", function() return sys.readdir(m.dir) end)
    assert(type(root) == "table", "the mount no longer serves: readdir / failed")
    assert.equal("dir", within(m, 5, "stat /", function() return sys.stat(m.dir).type end))
  end

  for _, n in ipairs({ "512", "999", "4095", "600", "134", "0", "-512" }) do
    it("getattr failing with " .. n .. " gives EIO promptly, and the host says so", function()
      local ok, err, num = within(m, 5, "stat /e" .. n, function() return sys.stat(m:path("e" .. n)) end)
      note("errno " .. n, ok and "SUCCEEDED" or err, num)
      fails_with("EIO", "stat /e" .. n, ok, err)
      still_serves()
      local log = m:log_text()
      local named = false
      for line in log:gmatch("[^\n]+") do
        if line:find("'getattr'", 1, true) and line:find("/e" .. n, 1, true) then named = true end
      end
      assert(named, "no log line names handler 'getattr' and /e" .. n .. ":\n" .. log)
      m:stop()
    end)
  end

  for _, case in ipairs({ { "e2", "ENOENT" }, { "e-2", "ENOENT" }, { "nameENOENT", "ENOENT" },
    { "nameEBOGUS", "EIO" } }) do
    it("getattr failing with " .. case[1]:gsub("^e", ""):gsub("^name", "") .. " gives " .. case[2], function()
      local ok, err = within(m, 5, "stat /" .. case[1], function() return sys.stat(m:path(case[1])) end)
      note("errno " .. case[1], ok and "SUCCEEDED" or err)
      fails_with(case[2], "stat /" .. case[1], ok, err)
      still_serves()
      if case[2] == "EIO" then
        assert.matches("'getattr'", m:log_text(), 1, true)
      end
      m:stop()
    end)
  end
end)

---------------------------------------------------------------- 6. numbers

describe("security: numbers from scripts are range-checked, never wrapped", function()
  local ALLOW = { "replying EIO", "'getattr'", "'write'", "'statfs'" }
  after_each(function() mount.stop_all() end)

  local function start(script, options)
    return mount.start{ script = fixtures .. script, options = options, allow = ALLOW }
  end

  -- The control file still works: the mount keeps serving.
  local function still_serves(m)
    local st = within(m, 5, "stat /ok", function() return sys.stat(m:path("ok")) end)
    assert(st and st.size == 5, "the mount no longer serves /ok")
    assert.equal("hello", within(m, 5, "read /ok", function() return sys.read_file(m:path("ok")) end))
  end

  local stats = {
    { "uid_huge", { "uid" } }, { "uid_neg", { "uid" } }, { "gid_huge", { "gid" } },
    { "size_inf", { "size" } }, { "size_2p66", { "size" } }, { "size_2p63", { "size" } },
    { "size_nan", { "size" } }, { "size_frac", { "size" } },
    { "mode_huge", { "mode" } }, { "mode_neg", { "mode" } }, { "mode_badtype", { "mode", "type" } },
    { "mtime_nan", { "mtime" } }, { "mtime_huge", { "mtime" } },
    { "nlink_huge", { "nlink" } }, { "ino_huge", { "ino" } },
  }
  for _, case in ipairs(stats) do
    local name, fields = case[1], case[2]
    it("getattr returning " .. name .. " gives EIO and a log line naming getattr and " .. fields[1], function()
      local m = start("hostile_numbers.lua")
      local st, err = within(m, 5, "stat /" .. name, function() return sys.stat(m:path(name)) end)
      if st then
        note(name, "SUCCEEDED", ("uid=%d gid=%d size=%.0f mode=%06o nlink=%d ino=%.0f mtime=%s"):format(
          st.uid, st.gid, st.size, st.mode, st.nlink, st.ino, tostring(st.mtime_sec)))
        assert(false, ("stat /%s succeeded with a wrapped value: uid=%d gid=%d size=%.0f mode=%06o nlink=%d ino=%.0f mtime=%s")
          :format(name, st.uid, st.gid, st.size, st.mode, st.nlink, st.ino, tostring(st.mtime_sec)))
      end
      note(name, err)
      assert.equal("EIO", err, "stat /" .. name)
      still_serves(m)
      local log = m:log_text()
      assert(names_field(log, "getattr", fields),
        "no log line names handler getattr and field " .. fields[1] .. ":\n" .. log)
      m:stop()
    end)
  end

  it("the control /ok is a 5-byte file", function()
    local m = start("hostile_numbers.lua")
    local st = within(m, 5, "stat /ok", function() return sys.stat(m:path("ok")) end)
    assert.equal(5, st.size)
    assert.equal("file", st.type)
    assert.equal(420, st.perm)
    still_serves(m)
    m:stop()
  end)

  for _, data in ipairs({ "nan", "inf", "-1", "big", "frac" }) do
    it("a write handler returning " .. data .. " gives EIO on the write", function()
      local m = start("hostile_numbers.lua")
      local n, err = within(m, 5, "write " .. data .. " to /w", function()
        local fd, e1, n1 = sys.open(m:path("w"), O.WRONLY)
        if not fd then return nil, "open: " .. e1, n1 end
        local n, e2, n2 = sys.pwrite(fd, data, 0)
        sys.close(fd)
        return n, e2, n2
      end)
      note("write " .. data, n and ("SUCCEEDED " .. n) or err)
      fails_with("EIO", "write " .. data, n, err)
      -- an ordinary write still works
      assert.equal(4, within(m, 5, "write to /w", function()
        local fd = assert(sys.open(m:path("w"), O.WRONLY))
        local k = sys.pwrite(fd, "good", 0)
        sys.close(fd)
        return k
      end))
      still_serves(m)
      assert(names_field(m:log_text(), "'write'", { "write" }), "no log line names handler 'write':\n" .. m:log_text())
      m:stop()
    end)
  end

  for _, bad in ipairs({ "namemax", "blocks" }) do
    it("statfs returning " .. (bad == "namemax" and "namemax = -5" or "blocks = 2^70") .. " gives EIO", function()
      local m = mount.start{ script = fixtures .. "hostile_statfs.lua", options = "bad=" .. bad, allow = ALLOW }
      local sv, err = within(m, 5, "statvfs", function() return sys.statvfs(m.dir) end)
      if sv then
        note("statfs " .. bad, "SUCCEEDED", ("namemax=%.0f blocks=%.0f"):format(sv.namemax, sv.blocks))
        assert(false, ("statvfs succeeded with a wrapped value: namemax=%.0f blocks=%.0f"):format(sv.namemax, sv.blocks))
      end
      note("statfs " .. bad, err)
      assert.equal("EIO", err)
      assert(names_field(m:log_text(), "statfs", { bad }), "no log line names statfs and " .. bad .. ":\n" .. m:log_text())
      assert.equal("dir", within(m, 5, "readdir /", function()
        assert(sys.readdir(m.dir))
        return sys.stat(m.dir).type
      end))
      m:stop()
    end)
  end

  it("statfs with sane fields still works (control)", function()
    local m = mount.start{ script = fixtures .. "hostile_statfs.lua", allow = ALLOW }
    local sv = within(m, 5, "statvfs", function() return sys.statvfs(m.dir) end)
    assert.equal(255, sv.namemax)
    assert.equal(100, sv.blocks)
    m:stop()
  end)
end)

---------------------------------------------------------------- 7. listxattr

describe("security: listxattr with more than 8 KiB of names", function()
  after_each(function() mount.stop_all() end)

  it("memfs: 1,000 user.* names (about 25 KiB) come back exactly", function()
    local m = mount.start{ script = "scripts/memfs.lua" }
    local f = m:path("f")
    assert(sys.write_file(f, "x"))
    local want = {}
    for i = 1, 1000 do
      local name = ("user.attribute_number_%04d"):format(i)
      want[i] = name
      assert(sys.setxattr(f, name, "value " .. i))
    end
    table.sort(want)
    local got, err = within(m, 10, "listxattr", function() return sys.listxattr(f) end)
    note("listxattr memfs", got and (#got .. " names") or err)
    assert(got, "listxattr failed: " .. tostring(err))
    assert.equal(1000, #got, "number of names")
    assert.same(want, got)
    for _, i in ipairs({ 1, 500, 1000 }) do
      assert.equal("value " .. i, sys.getxattr(f, ("user.attribute_number_%04d"):format(i)))
    end
    m:stop()
  end)

  it("a script's listxattr of 2,000 names of 30 bytes comes back exactly", function()
    local m = mount.start{ script = fixtures .. "hostile_listxattr.lua" }
    local f = m:path("f")
    local want = {}
    for i = 1, 2000 do want[i] = ("user.lua_listed_name_%09d"):format(i) end
    table.sort(want)
    local got, err = within(m, 10, "listxattr", function() return sys.listxattr(f) end)
    note("listxattr script", got and (#got .. " names") or err)
    assert(got, "listxattr failed: " .. tostring(err))
    assert.equal(2000, #got, "number of names")
    assert.same(want, got)
    for _, n in ipairs({ want[1], want[1000], want[2000] }) do
      assert.equal("value of " .. n, sys.getxattr(f, n))
    end
    m:stop()
  end)
end)

---------------------------------------------------------------- 8. readdir names

describe("security: readdir names with NUL bytes", function()
  after_each(function() mount.stop_all() end)

  it("lists only good1, good2, good3 and logs each kind of bad name", function()
    local m = mount.start{ script = fixtures .. "hostile_readdir.lua", allow = { "'readdir'", "readdir" } }
    local names, err = within(m, 5, "readdir /", function() return sys.readdir(m.dir) end)
    note("readdir with bad names", names and table.concat(names, ",") or err)
    assert(names, "readdir failed: " .. tostring(err))
    assert.same({ "good1", "good2", "good3" }, names)
    local log = m:log_text()
    local nul, slash = false, false
    for line in log:gmatch("[^\n]+") do
      if line:find("NUL", 1, true) then nul = true end
      if line:find("readdir", 1, true) and (line:find("'/'", 1, true) or line:find("x/y", 1, true)) then
        slash = true
      end
    end
    assert(nul, "no log line mentions the names with NUL bytes:\n" .. log)
    assert(slash, "no log line mentions the name with '/':\n" .. log)
    -- still serving: a second listing and a lookup
    assert.same({ "good1", "good2", "good3" }, within(m, 5, "readdir / again", function() return sys.readdir(m.dir) end))
    assert.equal("file", within(m, 5, "stat /good2", function() return sys.stat(m:path("good2")).type end))
    m:stop()
  end)
end)

---------------------------------------------------------------- 9. working directory

describe("security: paths are resolved before the host leaves its working directory", function()
  local daemons, dirs = {}, {}
  after_each(function()
    for _, d in ipairs(daemons) do
      if mount.is_mounted(d.mnt) then
        if not sh("fusermount3 -u '" .. d.mnt .. "'") then sh("fusermount3 -uz '" .. d.mnt .. "'") end
      end
      if d.pid then
        for _ = 1, 250 do
          if not exists("/proc/" .. d.pid .. "/cmdline") then break end
          mount.sleep(0.02)
        end
        if exists("/proc/" .. d.pid .. "/cmdline") then signal.kill(d.pid, signal.SIGKILL) end
      end
    end
    daemons = {}
    for _, dir in ipairs(dirs) do mount.rmtree(dir) end
    dirs = {}
  end)

  -- The daemon's pid: the process whose command line names the mount point.
  local function find_daemon(mnt)
    for _, entry in ipairs(dirent.dir("/proc")) do
      if tonumber(entry) then
        local f = io.open("/proc/" .. entry .. "/cmdline")
        if f then
          local cmd = f:read("*a") or ""
          f:close()
          local args = {}
          for a in cmd:gmatch("([^%z]*)%z") do args[#args + 1] = a end
          for _, a in ipairs(args) do
            if a == mnt then return tonumber(entry) end
          end
        end
      end
    end
  end

  local function read_text(path)
    local f = io.open(path)
    if not f then return "" end
    local s = f:read("*a")
    f:close()
    return s
  end

  -- Starts a daemon (a shell command line), records it for cleanup.
  local function daemon(cmd, mnt, log)
    local p = io.popen(cmd .. " 2>&1; echo \"exit=$?\"")
    local out = p:read("*a")
    p:close()
    local code = tonumber(out:match("exit=(%d+)%s*$"))
    local d = { mnt = mnt, log = log }
    daemons[#daemons + 1] = d
    assert(code == 0, "the host did not start: " .. out)
    assert(mount.is_mounted(mnt), "not mounted: " .. mnt)
    d.pid = find_daemon(mnt)
    assert(d.pid, "no daemon process found for " .. mnt)
    return d
  end

  -- Sends SIGHUP and waits for the log to say how the reload went; a
  -- request wakes the host, which acts on the signal between requests.
  local function reload(d)
    local before = read_text(d.log)
    signal.kill(d.pid, signal.SIGHUP)
    for _ = 1, 250 do
      sys.readdir(d.mnt)
      local text = read_text(d.log):sub(#before + 1)
      if text:find("reloaded", 1, true) or text:find("failed", 1, true) then return text end
      mount.sleep(0.02)
    end
    assert(false, "the host never logged a reload after SIGHUP:\n" .. read_text(d.log))
  end

  local function q(s) return "'" .. s .. "'" end

  -- Unmounts with fusermount3 -u; the daemon must exit.
  local function finish(d)
    assert(sh("fusermount3 -u '" .. d.mnt .. "'"), "fusermount3 -u " .. d.mnt .. " failed")
    for _ = 1, 250 do
      if not exists("/proc/" .. d.pid .. "/cmdline") then break end
      mount.sleep(0.02)
    end
    assert(not exists("/proc/" .. d.pid .. "/cmdline"), "the daemon is still running after fusermount3 -u")
  end

  it("(a) a daemon started with a relative script path reloads it on SIGHUP", function()
    local dir = mount.tmpdir("daemon")
    dirs[#dirs + 1] = dir
    local mnt, log = dir .. "/mnt", dir .. "/host.log"
    assert(sys.mkdir(mnt))
    local d = daemon("cd " .. q(mount.repo) .. " && " .. q(mount.binary) .. " scripts/hello.lua " .. q(mnt)
      .. " -o log=" .. log, mnt, log)
    assert.equal("Hello from Lua!\n", sys.read_file(mnt .. "/hello.txt"))
    local text = reload(d)
    note("(a) reload", text)
    assert(not text:find("failed", 1, true), "the reload failed:\n" .. read_text(log))
    assert.matches("reloaded", text, 1, true)
    assert.equal("Hello from Lua!\n", sys.read_file(mnt .. "/hello.txt"))
    finish(d)
  end)

  for _, sub in ipairs({ "data", "etc" }) do
    it("(b) -o root=" .. sub .. " (relative) still means the start directory's " .. sub .. " after a reload", function()
      local T = mount.tmpdir("cwd")
      dirs[#dirs + 1] = T
      assert(sys.mkdir(T .. "/" .. sub))
      assert(sys.write_file(T .. "/" .. sub .. "/mark", "T's data"))
      local mnt, log = T .. "/mnt", T .. "/host.log"
      assert(sys.mkdir(mnt))
      local d = daemon("cd " .. q(T) .. " && " .. q(mount.binary) .. " " .. q(mount.repo .. "/scripts/mirror.lua")
        .. " " .. q(mnt) .. " -o root=" .. sub .. ",log=" .. log, mnt, log)
      assert.equal("T's data", sys.read_file(mnt .. "/mark"))
      local text = reload(d)
      note("(b) reload root=" .. sub, text)
      assert(not text:find("failed", 1, true), "the reload failed:\n" .. read_text(log))
      local got, err = sys.read_file(mnt .. "/mark")
      assert(got == "T's data", "after the reload mark reads " .. tostring(got or err))
      local st = sys.lstat(mnt .. "/passwd")
      assert(st == nil, "after the reload the mount shows /etc/passwd")
      local names = sys.readdir(mnt)
      assert.same({ "mark" }, names, "after the reload the mount lists " .. table.concat(names or {}, ","))
      finish(d)
    end)
  end

  it("(c) require('moonfs').cwd is the directory the host was started in, also after a reload", function()
    local T = mount.tmpdir("cwd")
    dirs[#dirs + 1] = T
    local mnt, log = T .. "/mnt", T .. "/host.log"
    assert(sys.mkdir(mnt))
    local d = daemon("cd " .. q(T) .. " && " .. q(mount.binary) .. " " .. q(fixtures .. "hostile_cwd.lua")
      .. " " .. q(mnt) .. " -o log=" .. log, mnt, log)
    local got = sys.read_file(mnt .. "/cwd")
    note("(c) moonfs.cwd", got)
    assert.equal(T, got)
    local text = reload(d)
    assert(not text:find("failed", 1, true), "the reload failed:\n" .. read_text(log))
    mount.sleep(1.1) -- the attribute timeout (1 s): the size is asked for again
    assert.equal(T, sys.read_file(mnt .. "/cwd"))
    finish(d)
  end)
end)

---------------------------------------------------------------- 10. reload

describe("security: reload never loses or leaks", function()
  local dirs = {}
  after_each(function()
    mount.stop_all()
    for _, d in ipairs(dirs) do mount.rmtree(d) end
    dirs = {}
  end)

  local function fd_count(pid)
    local n = 0
    for _, e in ipairs(dirent.dir("/proc/" .. pid .. "/fd") or {}) do
      if e ~= "." and e ~= ".." then n = n + 1 end
    end
    return n
  end

  -- The fd count once it holds still (a directory just listed is released
  -- by the kernel a moment after close).
  local function settled_fds(pid)
    local last = fd_count(pid)
    for _ = 1, 50 do
      mount.sleep(0.02)
      local n = fd_count(pid)
      if n == last then return n end
      last = n
    end
    return last
  end

  local function count(text, word)
    local n = 0
    for _ in text:gmatch(word) do n = n + 1 end
    return n
  end

  local function tmp(tag)
    local d = mount.tmpdir(tag)
    dirs[#dirs + 1] = d
    return d
  end

  local scripts = {
    { name = "hello", read = { ["hello.txt"] = "Hello from Lua!\n" } },
    { name = "memfs", writable = true },
    { name = "mirror", writable = true, root = true },
    { name = "hide", writable = true, root = true },
    { name = "logged", writable = true, root = true },
    { name = "upper", root = true, read = { ["a.txt"] = "SOME TEXT" } },
    { name = "sqlitefs", writable = true, db = true },
    { name = "live", live = true },
  }

  for _, s in ipairs(scripts) do
    it(s.name .. ".lua: 100 reloads keep every file and leak no fd", function()
      local options
      if s.root then
        local src = tmp("src")
        assert(sys.write_file(src .. "/a.txt", "some text"))
        options = "root=" .. src
      elseif s.db then
        options = "db=" .. tmp("db") .. "/files.db"
      end
      local m = mount.start{ script = "scripts/" .. s.name .. ".lua", options = options }
      local P = function(x) return m:path(x) end

      local function workload(i)
        if s.writable then
          assert(sys.write_file(P("f" .. i), "data " .. i), "writing f" .. i)
          assert(sys.stat(P("keep")), "keep is gone")
        elseif s.live then
          assert.matches("^%d%d%d%d%-", sys.read_file(P("clock")))
        else
          for name, text in pairs(s.read) do assert.equal(text, sys.read_file(P(name))) end
        end
      end

      if s.writable then assert(sys.write_file(P("keep"), "kept")) end
      workload(0)
      local before = settled_fds(m.pid)

      for i = 1, 100 do
        m:signal(signal.SIGHUP)
        workload(i)
        local seen
        for _ = 1, 500 do
          sys.readdir(m.dir) -- a request: the host reloads between requests
          seen = count(m:log_text(), "reloaded")
          if seen >= i then break end
          mount.sleep(0.002)
        end
        assert(seen >= i, ("reload %d was never logged (%d so far):\n%s"):format(i, seen, m:log_text()))
      end

      local log = m:log_text()
      assert.equal(100, count(log, "reloaded"), "reloads logged")
      assert(not log:find("failed", 1, true), "a reload failed:\n" .. log)

      local after = settled_fds(m.pid)
      for _ = 1, 100 do
        if after <= before then break end
        mount.sleep(0.02)
        after = fd_count(m.pid)
      end
      note(s.name .. " fds before/after", before, after)

      -- everything written before and between the reloads is still there
      local missing = {}
      if s.writable then
        if sys.read_file(P("keep")) ~= "kept" then missing[#missing + 1] = "keep" end
        for i = 0, 100 do
          if sys.read_file(P("f" .. i)) ~= "data " .. i then missing[#missing + 1] = "f" .. i end
        end
      end
      note(s.name .. " files missing", #missing)
      assert(#missing == 0, ("%d files lost across the reloads: %s"):format(#missing,
        table.concat(missing, " "):sub(1, 200)))
      assert(after == before, ("the host had %d fds before 100 reloads and %d after"):format(before, after))
      workload(101)
      m:stop()
    end)
  end
end)

---------------------------------------------------------------- 11. memfs sizes

describe("security: memfs costs what it holds, not the sizes it is asked for", function()
  after_each(function() mount.stop_all() end)

  it("truncate to 16 TiB and back to 0, 5 times, takes under 5 s; a stat meanwhile is answered", function()
    local m = mount.start{ script = "scripts/memfs.lua", options = "timeout=0",
      allow = { "ran for" } }
    assert(sys.write_file(m:path("f"), "x"))
    assert(sys.write_file(m:path("other"), "other"))
    local start = now()
    local big = spawn(function()
      for _ = 1, 5 do
        assert(sys.truncate(m:path("f"), 2 ^ 44))
        assert(sys.truncate(m:path("f"), 0))
      end
      return true
    end)
    mount.sleep(0.02)
    local small = spawn(function() return sys.stat(m:path("other")).size end)
    local small_done = wait_job(small, now() + 1)
    local small_took = now() - start
    local big_done = wait_job(big, start + 5)
    local took = now() - start
    if not (big_done and small_done) then
      signal.kill(m.pid, signal.SIGKILL)
      reap(big)
      reap(small)
      note("memfs truncate", "aborted after", took)
      assert(false, ("the truncates %s, the stat of another file %s"):format(
        big_done and ("took " .. ("%.2f"):format(took) .. " s") or "did not finish in 5 s",
        small_done and "was answered" or "was not answered within 1 s") .. "; the host was killed")
    end
    note("memfs truncate", ("%.3f s, stat after %.3f s"):format(took, small_took))
    assert.is_true(results(big))
    assert.equal(5, results(small))
    assert.equal(0, sys.stat(m:path("f")).size)
    assert.equal("", sys.read_file(m:path("f")))
    m:stop()
  end)
end)
