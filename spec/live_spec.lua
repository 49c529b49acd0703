-- scripts/live.lua, mounted for real: a clock, the uptime and the process
-- list, made fresh at each open and never cached by the kernel.
local mount = require("support.mount")
local sys = require("support.sys")
local unistd = require("posix.unistd")
local wait = require("posix.sys.wait")
local signal = require("posix.signal")

describe("scripts/live.lua", function()
  local m
  setup(function() m = mount.start{ script = "scripts/live.lua" } end)
  teardown(function() mount.stop_all() end)

  it("is at most 60 lines", function()
    local n = mount.count_lines("scripts/live.lua")
    assert.is_true(n <= 60, n .. " lines")
  end)

  it("lists its files; their size is unknown (0) yet they read in full", function()
    assert.same({ "clock", "procs", "uptime" }, sys.readdir(m.dir))
    local st = sys.stat(m:path("clock"))
    assert.equal("file", st.type)
    assert.equal(0, st.size)
    assert.matches("^%d%d%d%d%-%d%d%-%d%d %d%d:%d%d:%d%d%.%d%d%d\n$", sys.read_file(m:path("clock")))
    assert.same({ nil, "EACCES", 13 }, { sys.open(m:path("clock"), sys.O.WRONLY) })
  end)

  it("tells a different time at each open, the same within one open", function()
    local function seconds(text)
      local h, min, s = text:match(" (%d+):(%d+):([%d.]+)\n$")
      return h * 3600 + min * 60 + s
    end
    local fd = assert(sys.open(m:path("clock"), sys.O.RDONLY))
    local first = sys.pread(fd, 100, 0)
    mount.sleep(1.1)
    assert.equal(first, sys.pread(fd, 100, 0)) -- the snapshot taken at open
    sys.close(fd)
    local second = sys.read_file(m:path("clock"))
    assert.are_not.equal(first, second)
    local elapsed = (seconds(second) - seconds(first)) % 86400
    assert.is_true(elapsed >= 1.05 and elapsed < 3, "elapsed " .. elapsed)
  end)

  it("shows the uptime", function()
    local ours = tonumber(sys.read_file(m:path("uptime")):match("^([%d.]+)\n$"))
    local real = tonumber(io.open("/proc/uptime"):read("*a"):match("^[%d.]+"))
    assert.is_true(math.abs(real - ours) < 2, ours .. " vs " .. real)
  end)

  it("lists running processes; one that exits is gone at once", function()
    local pid = unistd.fork()
    if pid == 0 then
      unistd.exec("/bin/sleep", { "30" })
      unistd._exit(127)
    end
    for _ = 1, 200 do -- until the child has exec'd
      local f = io.open("/proc/" .. pid .. "/comm")
      local comm = f and f:read("*a")
      if f then f:close() end
      if comm == "sleep\n" then break end
      mount.sleep(0.01)
    end
    local pids = sys.readdir(m:path("procs"))
    assert.truthy(table.concat(pids, " "):find("%f[%d]" .. pid .. "%f[%D]"))
    assert.same({ "cmdline", "comm" }, sys.readdir(m:path("procs/" .. pid)))
    assert.equal("/bin/sleep 30\n", sys.read_file(m:path("procs/" .. pid .. "/cmdline")))
    assert.equal("sleep\n", sys.read_file(m:path("procs/" .. pid .. "/comm")))
    assert.equal("dir", sys.stat(m:path("procs/" .. pid)).type)
    signal.kill(pid, signal.SIGKILL)
    wait.wait(pid)
    -- timeout = 0: no cached entry keeps the process alive in the mount
    assert.same({ nil, "ENOENT", 2 }, { sys.stat(m:path("procs/" .. pid)) })
    assert.same({ nil, "ENOENT", 2 }, { sys.stat(m:path("procs/" .. pid .. "/cmdline")) })
    assert.same({ nil, "ENOENT", 2 }, { sys.stat(m:path("procs/1/nothing")) })
  end)

  it("unmounts cleanly and the host exits 0", function()
    m:stop()
    assert.is_false(mount.is_mounted(m.dir))
  end)
end)
