-- scripts/redisfs.lua against a real redis-server (Debian's package), started
-- here on a free loopback port in a temporary directory and stopped by its pid
-- in teardown, also when a spec fails: one mount behaves like a plain
-- directory, two mounts on one server see each other's changes at once (both
-- cache names for 30 s, so only the script's invalidations can make them
-- agree), and a server that dies gives EIO at once and is used again when it
-- comes back.
local mount = require("support.mount")
local sys = require("support.sys")
local D = require("support.differential")
local ffi = require("ffi")
local unistd = require("posix.unistd")
local wait = require("posix.sys.wait")
local signal = require("posix.signal")
local fcntl = require("posix.fcntl")
local psocket = require("posix.sys.socket")
local ptime = require("posix.time")

local function now()
  local t = ptime.clock_gettime(ptime.CLOCK_MONOTONIC)
  return t.tv_sec + t.tv_nsec / 1e9
end

-- Polls fn (every 20 ms) until it returns true; the seconds that took, or nil
-- after `limit` seconds.
local function within(limit, fn)
  local start = now()
  repeat
    if fn() then return now() - start end
    mount.sleep(0.02)
  until now() - start > limit
end

-- Runs fn in a child process, so that a request that hangs cannot hang the
-- spec: fn's string result, or nil and "hung" when the child did not finish
-- within `limit` seconds (it is killed then).
local function in_child(limit, fn)
  local r, w = unistd.pipe()
  local pid = unistd.fork()
  if pid == 0 then
    unistd.close(r)
    local ok, out = pcall(fn)
    unistd.write(w, ok and tostring(out) or "raised: " .. tostring(out))
    unistd._exit(0)
  end
  unistd.close(w)
  local done = within(limit, function() return wait.wait(pid, wait.WNOHANG) == pid end)
  if not done then
    signal.kill(pid, signal.SIGKILL)
    wait.wait(pid)
  end
  local out = unistd.read(r, 65536) or ""
  unistd.close(r)
  if not done then return nil, "hung" end
  return out
end

---------------------------------------------------------------- the server

local function free_port()
  local fd = psocket.socket(psocket.AF_INET, psocket.SOCK_STREAM, 0)
  assert(psocket.bind(fd, { family = psocket.AF_INET, addr = "127.0.0.1", port = 0 }))
  local port = psocket.getsockname(fd).port
  unistd.close(fd)
  return port
end

-- One command in RESP; the raw reply (small replies only), or nil.
local function command(port, ...)
  local fd = psocket.socket(psocket.AF_INET, psocket.SOCK_STREAM, 0)
  local reply
  if psocket.connect(fd, { family = psocket.AF_INET, addr = "127.0.0.1", port = port }) then
    psocket.setsockopt(fd, psocket.SOL_SOCKET, psocket.SO_RCVTIMEO, 1, 0)
    local parts = { "*" .. select("#", ...) .. "\r\n" }
    for _, a in ipairs({ ... }) do parts[#parts + 1] = "$" .. #a .. "\r\n" .. a .. "\r\n" end
    psocket.send(fd, table.concat(parts))
    reply = psocket.recv(fd, 65536)
  end
  unistd.close(fd)
  return reply
end

-- How many clients listen to notifications (each mount does, once it has served a request).
local function listeners(port)
  return select(2, (command(port, "CLIENT", "LIST", "TYPE", "pubsub") or ""):gsub("psub=1", ""))
end

local Redis = {}
Redis.__index = Redis

-- Starts redis-server on `port` with no persistence, in `dir`; waits until
-- it answers PING.
local function start_redis(dir, port)
  local pid = unistd.fork()
  if pid == 0 then
    local fd = fcntl.open(dir .. "/redis.log", fcntl.O_WRONLY + fcntl.O_CREAT + fcntl.O_APPEND, 420)
    unistd.dup2(fd, 1)
    unistd.dup2(fd, 2)
    unistd.close(fd)
    unistd.execp("redis-server", { [0] = "redis-server", "--port", tostring(port), "--bind", "127.0.0.1",
      "--save", "", "--appendonly", "no", "--dir", dir, "--daemonize", "no" })
    unistd._exit(127)
  end
  local self = setmetatable({ pid = pid, port = port, dir = dir }, Redis)
  local up = within(10, function()
    if wait.wait(pid, wait.WNOHANG) == pid then self.pid = nil; return true end
    return (command(port, "PING") or ""):match("^%+PONG") ~= nil
  end)
  if up and self.pid then return self end
  self:kill()
  error("redis-server did not start:\n" .. io.open(dir .. "/redis.log"):read("*a"), 2)
end

-- Stops it by its pid and waits for it: SIGKILL (a crash) unless told
-- otherwise, and SIGKILL anyway when it is still there after 5 s.
function Redis:kill(sig)
  if not self.pid then return end
  signal.kill(self.pid, sig or signal.SIGKILL)
  if not within(5, function() return wait.wait(self.pid, wait.WNOHANG) == self.pid end) then
    signal.kill(self.pid, signal.SIGKILL)
    wait.wait(self.pid)
  end
  self.pid = nil
end

---------------------------------------------------------------- the specs

describe("scripts/redisfs.lua", function()
  local has_redis = os.execute("command -v redis-server >/dev/null 2>&1")
  has_redis = has_redis == true or has_redis == 0
  local dir, port, redis, m, a, b, plain
  -- The kernel checks permissions, as for the plain directory it is
  -- compared with (redisfs itself checks none).
  local function start(options)
    return mount.start{ script = "scripts/redisfs.lua", options = "server=127.0.0.1:" .. port
      .. ",default_permissions" .. (options and "," .. options or "") }
  end

  setup(function()
    if not has_redis then return end
    dir = mount.tmpdir("redis")
    port = free_port()
    redis = start_redis(dir, port)
    plain = mount.tmpdir("plain")
    m = start()
    a = start("timeout=30")
    b = start("timeout=30,negative_timeout=30")
    assert(within(5, function() return listeners(port) == 3 end), "the mounts did not subscribe")
  end)
  teardown(function()
    mount.stop_all()
    if redis then redis:kill(signal.SIGTERM) end
    mount.rmtree(plain)
    mount.rmtree(dir)
  end)
  local function need_redis()
    if has_redis then return true end
    pending("redis-server is not installed (make test installs it)")
    return false
  end
  local function has(list, name)
    for _, each in ipairs(list) do if each == name then return true end end
    return false
  end

  it("is at most 150 lines", function()
    local n = mount.count_lines("scripts/redisfs.lua")
    assert.is_true(n <= 150, n .. " lines")
  end)

  it("works like a plain directory", function()
    if not need_redis() then return end
    -- link counts and times are the script's own (it keeps no link counts, and
    -- one time per object); utimens is checked by value below
    local run = D.new{ roots = { { "plain", plain }, { "redisfs", m.dir } }, times = false,
      ignore = { nlink = true } }
    run:case("write, read, append, truncate", {
      { op = "create", "f", data = "hello\n" },
      { op = "cat", "f" },
      { op = "open", "f", "WRONLY|APPEND" }, { op = "write", "more\n" }, { op = "close" },
      { op = "cat", "f" },
      { op = "open", "f", "RDWR" }, { op = "write", "XYZ", at = 20 }, { op = "read", 100, at = 0 },
      { op = "read", 10, at = 8 }, { op = "read", 10, at = 23 }, { op = "ftruncate", 2 },
      { op = "fstat" }, { op = "close" },
      { op = "truncate", "f", 9 }, { op = "cat", "f" }, { op = "truncate", "f", 0 }, { op = "cat", "f" },
      { op = "create", "f", data = "again" }, { op = "create", "f", data = "hi" }, { op = "cat", "f" },
      { op = "create", "bin", data = "\0\1\2zero\0bytes\255\n" }, { op = "cat", "bin" },
      { op = "create", "big", data = ("0123456789abcdef"):rep(65536 + 7) }, { op = "cat", "big" },
      { op = "open", "big", "RDWR" }, { op = "write", "middle", at = 500000 }, { op = "close" },
      { op = "cat", "big" },
      { op = "open", "new", "WRONLY|CREAT|EXCL", close = true },
      { op = "open", "new", "WRONLY|CREAT|EXCL", close = true },
      { op = "open", "missing", "RDONLY", close = true },
      { op = "stat", "f" }, { op = "stat", "new" }, { op = "readdir", "." },
      { op = "chmod", "f", tonumber("600", 8) }, { op = "stat", "f" },
      { op = "lchown", "f", 1234, 5678 }, { op = "stat", "f" },
      { op = "unlink", "f" }, { op = "unlink", "f" }, { op = "cat", "f" }, { op = "readdir", "." },
    })
    run:case("directories", {
      { op = "mkdir", "d", tonumber("750", 8) }, { op = "mkdir", "d" }, { op = "stat", "d" },
      { op = "create", "d/f", data = "in d" }, { op = "readdir", "d" },
      { op = "rmdir", "d" }, { op = "unlink", "d" }, { op = "rmdir", "d/f" },
      { op = "create", "nowhere/f", data = "x" }, { op = "mkdir", "nowhere/d" },
      { op = "mkdir", "d/sub" }, { op = "create", "d/sub/deep", data = "deep" },
      { op = "readdir", "d" }, { op = "readdir", "d/sub" },
      { op = "unlink", "d/f" }, { op = "unlink", "d/sub/deep" }, { op = "rmdir", "d/sub" },
      { op = "rmdir", "d" }, { op = "stat", "d" }, { op = "readdir", "." },
    })
    run:case("rename", {
      { op = "create", "a", data = "aaa" }, { op = "create", "b", data = "bb" },
      { op = "rename", "a", "b" }, { op = "cat", "b" }, { op = "lstat", "a" },
      { op = "mkdir", "d" }, { op = "mkdir", "d/sub" }, { op = "create", "d/sub/f", data = "deep" },
      { op = "rename", "d", "e" }, { op = "readdir", "e" }, { op = "cat", "e/sub/f" },
      { op = "lstat", "d" }, { op = "lstat", "d/sub/f" },
      { op = "rename", "b", "e/sub/f" }, { op = "cat", "e/sub/f" }, { op = "lstat", "b" },
      { op = "mkdir", "empty" }, { op = "rename", "empty", "e" }, { op = "rename", "e", "empty" },
      { op = "rename", "empty", "moved" }, { op = "readdir", "." },
      { op = "create", "file", data = "f" }, { op = "rename", "file", "moved" },
      { op = "rename", "moved", "file" }, { op = "rename", "e", "e/sub/x" },
      { op = "rename", "file", "nowhere/file" }, { op = "rename", "gone", "x" },
      { op = "readdir", "." },
    })
    run:case("symlinks", {
      { op = "create", "t", data = "target" }, { op = "symlink", "t", "s" },
      { op = "readlink", "s" }, { op = "cat", "s" }, { op = "lstat", "s" }, { op = "stat", "s" },
      { op = "symlink", "nowhere", "dangling" }, { op = "readlink", "dangling" },
      { op = "cat", "dangling" }, { op = "readlink", "t" }, { op = "symlink", "t", "s" },
      { op = "rename", "s", "s2" }, { op = "readlink", "s2" }, { op = "unlink", "s2" },
      { op = "lstat", "s2" }, { op = "readdir", "." },
    })
    run:finish()
  end)

  it("sets times to the nanosecond and refuses rename flags with EINVAL", function()
    if not need_redis() then return end
    assert.equal(1, sys.write_file(m:path("timed"), "x"))
    assert.is_true(sys.utimens(m:path("timed"), "omit", { 1577934245, 123456789 }))
    local st = sys.stat(m:path("timed"))
    assert.same({ 1577934245, 123456789 }, { st.mtime_sec, st.mtime_nsec })
    assert.equal(1, sys.write_file(m:path("other"), "y"))
    -- (the kernel itself answers EEXIST to RENAME_NOREPLACE over an existing name)
    assert.same({ nil, "EINVAL", 22 }, { sys.rename(m:path("timed"), m:path("fresh"), sys.RENAME_NOREPLACE) })
    assert.same({ nil, "EINVAL", 22 }, { sys.rename(m:path("timed"), m:path("other"), sys.RENAME_EXCHANGE) })
    assert.equal("x", sys.read_file(m:path("timed")))
    assert.same({ nil, "ENOENT", 2 }, { sys.stat(m:path("fresh")) })
  end)

  it("keeps its files in the server, under a prefix that other filesystems do not see", function()
    if not need_redis() then return end
    assert.equal(5, sys.write_file(m:path("kept"), "kept!"))
    assert.equal("$4\r\nfile\r\n", command(port, "HGET", "moonfs:P:/kept", "type"))
    assert.equal("$5\r\nkept!\r\n", command(port, "GET", "moonfs:D:/kept"))
    local other = start("prefix=other")
    assert.same({}, sys.readdir(other.dir))
    assert.equal(3, sys.write_file(other:path("mine"), "abc"))
    assert.same({ "mine" }, sys.readdir(other.dir))
    assert.same({ nil, "ENOENT", 2 }, { sys.stat(m:path("mine")) })
    assert.equal(":1\r\n", command(port, "EXISTS", "other:P:/mine"))
    other:stop()
  end)

  it("two mounts on one server see each other's writes at once", function()
    if not need_redis() then return end
    -- each side looks first, so its kernel caches the attributes (for 30 s)
    assert.equal(2, sys.write_file(a:path("shared"), "v1"))
    assert.equal(2, sys.stat(b:path("shared")).size)
    local data = ("\0binary and longer "):rep(5000)
    assert.equal(#data, sys.write_file(a:path("shared"), data))
    assert.is_truthy(within(1, function() return sys.stat(b:path("shared")).size == #data end))
    assert.equal(data, sys.read_file(b:path("shared")))
    assert.equal(#data, sys.stat(a:path("shared")).size)
    assert.equal(3, sys.write_file(b:path("shared"), "new"))
    assert.is_truthy(within(1, function() return sys.stat(a:path("shared")).size == 3 end))
    assert.equal("new", sys.read_file(a:path("shared")))
    assert.equal(tonumber("644", 8), sys.stat(b:path("shared")).perm)
    assert.is_true(sys.chmod(a:path("shared"), tonumber("640", 8)))
    assert.is_truthy(within(1, function() return sys.stat(b:path("shared")).perm == tonumber("640", 8) end))
  end)

  it("a file removed on one mount disappears from the other's listing and stat at once", function()
    if not need_redis() then return end
    assert.equal(4, sys.write_file(a:path("doomed"), "gone"))
    assert.equal("gone", sys.read_file(b:path("doomed")))
    assert.truthy(sys.stat(a:path("doomed")))
    assert.is_true(sys.unlink(b:path("doomed")))
    assert.is_truthy(within(1, function() return sys.stat(a:path("doomed")) == nil end))
    assert.same({ nil, "ENOENT", 2 }, { sys.stat(a:path("doomed")) })
    assert.is_false(has(sys.readdir(a.dir), "doomed"))
  end)

  it("a name made on one mount appears on the other even after it cached its absence", function()
    if not need_redis() then return end
    assert.same({ nil, "ENOENT", 2 }, { sys.stat(b:path("late")) }) -- cached for 30 s
    assert.same({ nil, "ENOENT", 2 }, { sys.stat(b:path("latedir")) })
    assert.equal(4, sys.write_file(a:path("late"), "late"))
    assert.is_true(sys.mkdir(a:path("latedir")))
    assert.is_truthy(within(1, function() return sys.stat(b:path("late")) and sys.stat(b:path("latedir")) end))
    assert.equal("dir", sys.stat(b:path("latedir")).type)
    assert.equal("late", sys.read_file(b:path("late")))
    local names = sys.readdir(b.dir)
    assert.is_true(has(names, "late") and has(names, "latedir"))
    -- a rename on b: a sees the new name and no longer the old one
    assert.is_true(sys.rename(b:path("late"), b:path("latedir/moved")))
    assert.is_truthy(within(1, function() return sys.stat(a:path("late")) == nil end))
    assert.equal("late", sys.read_file(a:path("latedir/moved")))
  end)

  it("leaves working directories alone when names change in them, here or on the other mount", function()
    if not need_redis() then return end
    -- only a name that came or went elsewhere is dropped from the kernel's cache: a directory
    -- dropped for a mere change inside it makes getcwd() fail in it (ENOENT)
    pcall(ffi.cdef, "int chdir(const char *path); char *getcwd(char *buf, size_t size);")
    local out = in_child(10, function()
      local function cwd()
        local buf = ffi.new("char[4096]")
        return ffi.C.getcwd(buf, 4096) ~= nil and ffi.string(buf) or "ENOENT"
      end
      local got = {}
      for i = 1, 3 do
        assert(sys.mkdir(a:path("wd" .. i)))
        assert(ffi.C.chdir(a:path("wd" .. i)) == 0) -- at once, before the news of mkdir is back
        assert(sys.write_file(a:path("wd" .. i .. "/here"), "x"))
        assert(sys.write_file(b:path("wd" .. i .. "/there"), "y"))
        mount.sleep(0.1)
        got[#got + 1] = cwd()
      end
      return table.concat(got, " ")
    end)
    assert.equal(("%s %s %s"):format(a:path("wd1"), a:path("wd2"), a:path("wd3")), out)
  end)

  it("answers EIO at once while the server is gone, and serves again when it is back", function()
    if not need_redis() then return end
    assert.equal(4, sys.write_file(m:path("before"), "here"))
    assert.truthy(sys.stat(m:path("before"))) -- the kernel may cache it (for 1 s)
    redis:kill() -- SIGKILL: a crash
    -- everything fails with EIO, promptly; run in a child so a hang cannot hang the spec
    local out, why = in_child(10, function()
      local began, got = now(), {}
      local function e(_, err) return err or "ok" end
      got[#got + 1] = e(sys.read_file(m:path("before")))
      got[#got + 1] = e(sys.readdir(m.dir))
      got[#got + 1] = e(sys.stat(m:path("never-seen")))
      got[#got + 1] = e(sys.write_file(m:path("new"), "x"))
      got[#got + 1] = e(sys.read_file(a:path("shared")))
      got[#got + 1] = e(sys.readdir(b.dir))
      -- a name the kernel may still cache: EIO at the latest when that time (1 s) is over
      local waited = within(3, function() return e(sys.stat(m:path("before"))) == "EIO" end)
      got[#got + 1] = waited and "EIO" or e(sys.stat(m:path("before")))
      return table.concat(got, " ") .. (" in %.2f s"):format(now() - began)
    end)
    assert.is_not_nil(out, why)
    assert.equal("EIO EIO EIO EIO EIO EIO EIO", out:match("^(.-) in"), out)
    assert.is_true(tonumber(out:match("in (%S+) s")) < 3, out)

    redis = start_redis(dir, port) -- the same port, and empty: no persistence
    assert.is_truthy(within(5, function() return sys.write_file(m:path("after"), "back") == 4 end))
    assert.equal("back", sys.read_file(m:path("after")))
    assert.same({ "after" }, sys.readdir(m.dir))
    -- a and b connect again, and subscribe again: a's new file reaches b's cached absence
    assert.same({ nil, "ENOENT", 2 }, { sys.stat(b:path("again")) })
    assert.same({ nil, "ENOENT", 2 }, { sys.stat(a:path("again")) })
    assert.is_truthy(within(5, function() return listeners(port) == 3 end))
    assert.is_truthy(within(5, function() return sys.write_file(a:path("again"), "again") == 5 end))
    assert.is_truthy(within(1, function() return sys.read_file(b:path("again")) == "again" end))
  end)

  -- Its two connections are kept across reloads (moonfs.keep): a reload
  -- opens no new one and loses no file.
  it("survives 100 reloads during writes with its files, its connections and no new fd", function()
    if not need_redis() then return end
    local r = start()
    local function fds()
      local n = 0
      for _ in io.popen("ls /proc/" .. r.pid .. "/fd"):lines() do n = n + 1 end
      return n
    end
    assert(sys.write_file(r:path("keep"), "kept"))
    assert.is_truthy(within(5, function() return listeners(port) == 4 end))
    local before = fds()
    for i = 1, 100 do
      r:signal(signal.SIGHUP)
      assert(sys.write_file(r:path("f" .. i), "data " .. i))
    end
    assert.is_truthy(within(5, function()
      sys.readdir(r.dir) -- a request: the host reloads between requests
      local _, n = r:log_text():gsub("reloaded", "")
      return n == 100
    end), "not every reload was logged")
    assert.equal("kept", sys.read_file(r:path("keep")))
    for i = 1, 100 do assert.equal("data " .. i, sys.read_file(a:path("f" .. i))) end
    assert.equal(before, fds())
    assert.equal(4, listeners(port))
    for i = 1, 100 do assert(sys.unlink(r:path("f" .. i))) end
    assert(sys.unlink(r:path("keep")))
    r:stop()
    assert.is_truthy(within(5, function() return listeners(port) == 3 end))
  end)

  it("each mount unmounts cleanly and the host exits 0", function()
    if not need_redis() then return end
    for _, each in ipairs({ m, a, b }) do
      each:stop()
      assert.is_false(mount.is_mounted(each.dir))
    end
  end)
end)
