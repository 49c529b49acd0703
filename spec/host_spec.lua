-- The host itself: command line, script loading, the gateway's handling of
-- raised errors and wrong return values, signals, options, counters.
local mount = require("support.mount")
local sys = require("support.sys")
local signal = require("posix.signal")
local ffi = require("ffi")
pcall(ffi.cdef, "int getpid(void);")

local fixtures = mount.repo .. "/spec/fixtures/"

describe("moonfs command line", function()
  it("prints help and version", function()
    local code, out = mount.run_host({ "--help" })
    assert.equal(0, code)
    assert.matches("usage: moonfs SCRIPT MOUNTPOINT", out, 1, true)
    code, out = mount.run_host({ "--version" })
    assert.equal(0, code)
    assert.matches("^moonfs %d+%.%d+%.%d+", out)
  end)

  it("refuses a missing mount point or stray arguments", function()
    local code, out = mount.run_host({ "scripts/hello.lua" })
    assert.equal(2, code)
    assert.matches("usage:", out, 1, true)
    code, out = mount.run_host({ "scripts/hello.lua", "/nonexistent/dir" })
    assert.equal(1, code)
    assert.matches("not a directory", out, 1, true)
    code, out = mount.run_host({ "--bogus", "a", "b" })
    assert.equal(2, code)
    assert.matches("unknown option --bogus", out, 1, true)
  end)
end)

describe("loading a script", function()
  local dir
  before_each(function() dir = mount.tmpdir("load") end)
  after_each(function() mount.rmtree(dir) end)

  local function fails_without_mount(script, expected)
    local code, out = mount.run_host({ fixtures .. script, dir })
    assert.is_true(code ~= 0, "exit code " .. tostring(code))
    assert.matches(expected, out, 1, true)
    assert.is_false(mount.is_mounted(dir))
    return out
  end

  it("reports a syntax error as file:line and mounts nothing", function()
    local out = fails_without_mount("syntax_error.lua", "syntax_error.lua:5:")
    assert.matches("unexpected symbol", out, 1, true)
  end)

  it("reports an error raised while loading, with its line", function()
    fails_without_mount("raises_at_load.lua", "raises_at_load.lua:1: cannot start")
  end)

  it("needs a table of handlers", function()
    fails_without_mount("returns_nothing.lua", "must return a table of handlers")
  end)

  it("refuses a handler that is not a function", function()
    fails_without_mount("not_a_function.lua", "handler 'getattr' is a string, not a function")
  end)

  it("names a misspelt handler and suggests the right one", function()
    local m = mount.start{ script = fixtures .. "misspelt.lua", allow = { "unknown handler" } }
    m:stop()
    assert.matches("unknown handler 'getatr' (did you mean 'getattr'?)", m.log_at_stop, 1, true)
  end)

  it("reports a missing script file", function()
    fails_without_mount("no_such_script.lua", "cannot open")
  end)
end)

describe("moonfs --check", function()
  it("names a misspelt handler and exits non-zero", function()
    local code, out = mount.run_host({ "--check", fixtures .. "misspelt.lua" })
    assert.equal(1, code)
    assert.matches("unknown handler 'getatr'", out, 1, true)
  end)

  it("checks that the root is a directory", function()
    local code, out = mount.run_host({ "--check", fixtures .. "root_is_file.lua" })
    assert.equal(1, code)
    assert.matches("root is a file, not a dir", out, 1, true)
  end)

  it("passes a good script with a one-line summary", function()
    local code, out = mount.run_host({ "--check", "scripts/hello.lua" })
    assert.equal(0, code)
    assert.matches("hello.lua: ok, 3 handlers, root is a directory", out, 1, true)
  end)
end)

describe("the handler gateway", function()
  local m
  setup(function()
    m = mount.start{
      script = fixtures .. "edge.lua",
      options = "color=blue,verbose",
      allow = { "raised an error", "replying EIO", "boom in getattr", "edge%.lua" },
    }
  end)
  teardown(function() mount.stop_all() end)

  it("turns a raised error into EIO, logs the traceback and keeps serving", function()
    assert.same({ nil, "EIO", 5 }, { sys.stat(m:path("boom")) })
    local log = m:log_text()
    assert.matches("handler 'getattr' (/boom) raised an error", log, 1, true)
    assert.matches("edge.lua:26: boom in getattr", log, 1, true)
    assert.matches("stack traceback", log, 1, true)
    assert.equal("fine\n", sys.read_file(m:path("ok")))
  end)

  it("turns wrong return values into EIO with a message naming the handler", function()
    assert.same({ nil, "EIO", 5 }, { sys.stat(m:path("garbage")) })
    assert.same({ nil, "EIO", 5 }, { sys.stat(m:path("badfield")) })
    assert.same({ nil, "EIO", 5 }, { sys.stat(m:path("badtype")) })
    assert.same({ nil, "EIO", 5 }, { sys.stat(m:path("nothing")) })
    assert.same({ nil, "EIO", 5 }, { sys.read_file(m:path("readtable")) })
    assert.same({ nil, "EIO", 5 }, { sys.read_file(m:path("toolong")) })
    local log = m:log_text()
    assert.matches("handler 'getattr' (/garbage) returned number, expected a stat table", log, 1, true)
    assert.matches("field 'size' is a string, expected a whole number", log, 1, true)
    assert.matches("field 'type' is \"blob\"", log, 1, true)
    assert.matches("handler 'getattr' (/nothing) returned nothing", log, 1, true)
    assert.matches("handler 'read' (/readtable) must return a string", log, 1, true)
    assert.matches("returned more bytes than were asked for", log, 1, true)
    assert.equal("fine\n", sys.read_file(m:path("ok")))
  end)

  it("accepts errors as names, numbers and 'NAME: message'", function()
    assert.same({ nil, "EACCES", 13 }, { sys.stat(m:path("eacces")) })
    assert.same({ nil, "EACCES", 13 }, { sys.stat(m:path("number13")) })
    assert.same({ nil, "ENOENT", 2 }, { sys.stat(m:path("message")) })
    assert.same({ nil, "EIO", 5 }, { sys.stat(m:path("bogus")) })
    assert.matches("failed with not an errno", m:log_text(), 1, true)
  end)

  it("hands -o options that are not FUSE's to the script", function()
    assert.equal("color=blue,verbose=true", sys.read_file(m:path("options")))
  end)

  it("tells handlers who is calling", function()
    local uid, gid, pid = sys.read_file(m:path("caller")):match("^(%d+) (%d+) (%d+) (%d+)")
    local unistd = require("posix.unistd")
    assert.equal(unistd.geteuid(), tonumber(uid))
    assert.equal(unistd.getegid(), tonumber(gid))
    assert.equal(ffi.C.getpid(), tonumber(pid))
  end)

  it("says so when a handler runs long, and still answers", function()
    assert.equal("file", sys.stat(m:path("slow")).type)
    assert.matches("handler 'getattr' %(/slow%) ran for [%d.]+ s without waiting; while Lua runs no other request is served", m:log_text())
  end)

  it("rejects names longer than 255 bytes", function()
    assert.same({ nil, "ENAMETOOLONG", 36 }, { sys.stat(m:path(("n"):rep(256))) })
  end)

  it("counts requests and handler calls", function()
    local before = m:stats()
    sys.stat(m:path("ok"))
    sys.read_file(m:path("ok"))
    local after = m:stats()
    assert.is_true(after.lua.getattr > before.lua.getattr)
    assert.is_true(after.requests.read > (before.requests.read or 0))
    assert.equal(0, after.backing_ids)
  end)

  it("unmounts cleanly", function() m:stop() end)
end)

describe("signals and unmounting", function()
  after_each(function() mount.stop_all() end)

  for _, sig in ipairs({ "SIGTERM", "SIGINT" }) do
    it(sig .. " unmounts and the host exits 0", function()
      local m = mount.start{ script = "scripts/hello.lua" }
      m:signal(signal[sig])
      local how, status = m:wait_exit(5)
      assert.equal("exited", how)
      assert.equal(0, status)
      assert.is_false(mount.is_mounted(m.dir))
      m:stop()
    end)
  end

  it("fusermount3 -u ends the host with status 0", function()
    local m = mount.start{ script = "scripts/hello.lua" }
    assert.is_true(mount.is_mounted(m.dir))
    m:stop()
    assert.is_false(mount.is_mounted(m.dir))
  end)

  it("passes FUSE's own options to FUSE", function()
    local m = mount.start{ script = "scripts/hello.lua", options = "fsname=hellofs,ro" }
    local mounts = io.open("/proc/self/mounts"):read("*a")
    assert.matches("hellofs " .. m.dir .. " fuse.moonfs ro", mounts, 1, true)
    m:stop()
  end)

  it("names the mount after the script, so mount -a knows an fstab line is mounted", function()
    local m = mount.start{ script = "scripts/hello.lua" }
    local mounts = io.open("/proc/self/mounts"):read("*a")
    assert.matches(mount.repo .. "/scripts/hello.lua " .. m.dir .. " fuse.moonfs", mounts, 1, true)
    m:stop()
  end)

  it("takes fstab's access-time flags, splice and connection options, and max_read", function()
    local m = mount.start{ script = "scripts/hello.lua", options = "relatime,nodiratime,lazytime,"
      .. "splice_read,splice_move,max_read=65536,max_readahead=65536,readdirplus=no,"
      .. "max_background=20,congestion_threshold=15,async_dio,no_remote_lock" }
    local f = assert(io.open(m:path("hello.txt")))
    assert.equal("Hello from Lua!\n", f:read("*a"))
    f:close()
    assert.matches("max_read=65536", io.open("/proc/self/mounts"):read("*a"), 1, true)
    m:stop()
  end)

  it("refuses atomic_o_trunc and writeback_cache, saying why", function()
    local dir = mount.tmpdir("refused")
    for _, opt in ipairs({ "atomic_o_trunc", "writeback_cache" }) do
      local code, out = mount.run_host({ "scripts/hello.lua", dir, "-f", "-o", opt })
      assert.is_true(code ~= 0, opt .. " was taken")
      assert.matches(opt .. " is not supported", out, 1, true)
    end
    mount.rmtree(dir)
  end)

  it("unmounts a relative mount point when a signal ends the daemon", function()
    local tmp = mount.tmpdir("rel")
    assert(os.execute("mkdir " .. tmp .. "/mnt"))
    local code = os.execute("cd " .. tmp .. " && " .. mount.binary .. " " .. mount.repo
      .. "/scripts/hello.lua mnt -o log=" .. tmp .. "/log")
    assert.is_true(code == 0 or code == true)
    local daemon = require("support.daemon")
    local pid
    for _ = 1, 250 do -- the control socket comes up just after the mount
      local mine = daemon.list()[tmp .. "/mnt"]
      pid = mine and mine.pid
      if pid then break end
      mount.sleep(0.02)
    end
    assert.is_truthy(pid, "no host found for the mount")
    assert.equal(0, signal.kill(pid, signal.SIGTERM))
    assert.is_true(daemon.wait_gone(pid, 10), "the host did not exit")
    local still = mount.is_mounted(tmp .. "/mnt")
    if still then os.execute("fusermount3 -uz " .. tmp .. "/mnt") end
    mount.rmtree(tmp)
    assert.is_false(still, "a dead mount was left behind")
  end)
end)

describe("for script authors", function()
  after_each(function() mount.stop_all() end)

  it("--trace prints one line per request", function()
    local m = mount.start{ script = "scripts/hello.lua", args = { "--trace" } }
    assert.equal("Hello from Lua!\n", sys.read_file(m:path("hello.txt")))
    local log = m:log_text()
    assert.matches("trace [%d:.]+ lookup +/hello%.txt %-> file ino=%d+ size=16", log)
    assert.matches("trace [%d:.]+ read +/hello%.txt size=%d+ offset=0 %-> 16 bytes", log)
    assert.matches("%[lua %d+ us, total %d+ us%]", log)
    m:stop()
  end)

  it("reloads the script on SIGHUP, keeps state and survives a broken reload", function()
    local source = [[
      RELOADS = (RELOADS or -1) + 1 -- a global survives reloads
      local text = "%s"
      return {
        getattr = function(path)
          if path == "/" then return { type = "dir" } end
          if path == "/f" then return { size = #text } end
          if path == "/reloads" then return { size = #tostring(RELOADS) } end
          return nil, "ENOENT"
        end,
        read = function(path, size, offset)
          local s = path == "/f" and text or tostring(RELOADS)
          return s:sub(offset + 1, offset + size)
        end,
      }
    ]]
    local script, dir = mount.write_script(source:format("one"))
    local m = mount.start{ script = script, allow = { "reload of .* failed", "script%.lua:%d+:" } }
    assert.equal("one", sys.read_file(m:path("f")))
    local function rewrite(text)
      local f = assert(io.open(script, "w"))
      f:write(text)
      f:close()
    end
    local function wait_for_log(pattern)
      for _ = 1, 100 do
        if m:log_text():find(pattern) then return true end
        mount.sleep(0.02)
      end
      error("never saw " .. pattern .. " in:\n" .. m:log_text())
    end
    rewrite(source:format("two"))
    m:signal(signal.SIGHUP)
    wait_for_log("reloaded ")
    assert.equal("two", sys.read_file(m:path("f")))
    assert.equal("1", sys.read_file(m:path("reloads")))
    rewrite("return {")
    m:signal(signal.SIGHUP)
    wait_for_log("failed; the old handlers keep serving")
    assert.matches("script.lua:1:", m:log_text(), 1, true)
    assert.equal("two", sys.read_file(m:path("f")))
    m:stop()
    mount.rmtree(dir)
  end)
end)

describe("installed and daemonized", function()
  it("finds its Lua library after make install PREFIX=...", function()
    local prefix = mount.tmpdir("prefix")
    assert.is_true(os.execute("make -s -o moonfs install PREFIX=" .. prefix .. " >/dev/null 2>&1") == 0)
    local code, out = mount.run_host({ "--check", "scripts/memfs.lua" }, prefix .. "/bin/moonfs")
    assert.equal(0, code, out)
    assert.matches("memfs.lua: ok", out, 1, true)
    mount.rmtree(prefix)
  end)

  it("daemonizes without -f, logs to -o log=FILE, and exits after fusermount3 -u", function()
    local dir = mount.tmpdir("daemon")
    local mnt, log = dir .. "/mnt", dir .. "/host.log"
    assert.is_true(os.execute("mkdir " .. mnt) == 0)
    local code, out = mount.run_host({ "scripts/hello.lua", mnt, "-o", "log=" .. log })
    assert.equal(0, code, out)
    local ok, err = pcall(function()
      assert.is_true(mount.is_mounted(mnt))
      assert.equal("Hello from Lua!\n", sys.read_file(mnt .. "/hello.txt"))
    end)
    -- the daemon's pid, from the processes whose command line names the mount
    local pid
    for entry in io.popen("ls /proc"):lines() do
      local f = tonumber(entry) and io.open("/proc/" .. entry .. "/cmdline")
      if f then
        local cmd = f:read("*a") or ""
        f:close()
        if cmd:find(mnt, 1, true) and cmd:find("hello.lua", 1, true) then pid = tonumber(entry) end
      end
    end
    os.execute("fusermount3 -u " .. mnt)
    for _ = 1, 250 do
      if not pid or not io.open("/proc/" .. pid .. "/cmdline") then break end
      mount.sleep(0.02)
    end
    assert(ok, err)
    assert.is_truthy(pid, "no daemon found")
    assert.is_nil(io.open("/proc/" .. pid .. "/cmdline"), "the daemon is still running")
    local text = io.open(log):read("*a")
    assert.matches(mount.passthrough and "passthrough: available" or "passthrough: unavailable", text, 1, true)
    assert.not_matches("[Ee]rror", text)
    assert.is_false(mount.is_mounted(mnt))
    mount.rmtree(dir)
  end)
end)

describe("the host's open-file limit", function()
  -- every open through the mount holds a host fd until its release
  it("is raised from the soft limit it was started with to the hard one", function()
    local resource = require("posix.sys.resource")
    local old = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert(resource.setrlimit(resource.RLIMIT_NOFILE, { rlim_cur = 512, rlim_max = old.rlim_max }))
    local ok, m = pcall(mount.start, { script = "scripts/hello.lua" })
    assert(resource.setrlimit(resource.RLIMIT_NOFILE, old))
    assert(ok, m)
    local limits = assert(io.open("/proc/" .. m.pid .. "/limits")):read("*a")
    local soft, hard = limits:match("Max open files%s+(%S+)%s+(%S+)")
    m:stop()
    assert.equal(hard, soft)
    assert.are_not.equal("512", soft)
  end)
end)
