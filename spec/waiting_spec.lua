-- Handlers that wait (issue 10): handlers run in coroutines on the host's
-- libuv loop, moonfs.await/sleep, interrupts, runaway handlers, memory
-- limits, luv for real, cache invalidation from scripts.
--
-- Whatever may block (a read of a slow file, a host that misbehaves) runs
-- in a forked child that the spec waits for with a deadline; past it the
-- host is killed by pid (a dead host aborts the FUSE connection and wakes
-- every caller), the children are killed, and the spec fails. The suite
-- never hangs.
local mount = require("support.mount")
local shell = require("support.shell")
local sys = require("support.sys")
local wait = require("posix.sys.wait")
local signal = require("posix.signal")
local ptime = require("posix.time")

local fixtures = mount.repo .. "/spec/fixtures/"
local HELLO = "Hello from Lua!\n"

---------------------------------------------------------------------------
-- helpers

local function now()
  local ts = ptime.clock_gettime(ptime.CLOCK_MONOTONIC)
  return ts.tv_sec + ts.tv_nsec / 1e9
end

local read_text = shell.read_text

local write_text = shell.write_text

local line_of = mount.line_of

-- The same bytes as spec/fixtures/waiting_slow.lua serves as /pattern.
local function pattern(size)
  local t = {}
  for i = 1, size do t[i] = string.char(65 + (i * 7 + math.floor(i / 26)) % 26) end
  return table.concat(t)
end

local results -- a directory for the children's results, one per spec
local children = require("support.children")
local spawn, reap, in_child = children.spawn, children.reap, children.in_child
local kill_everything = children.kill_everything

--- Reads a whole file in a child: returns data, or nil and the errno name;
-- then the seconds the read took.
local function read_in_child(m, rel, seconds)
  local data, err, took = in_child(m, seconds or 20, function()
    local t0 = now()
    local data, err = sys.read_file(m:path(rel))
    return data or "", err or "", now() - t0
  end)
  if err ~= "" then return nil, err, tonumber(took) end
  return data, nil, tonumber(took)
end

--- Waits until the host's log has `text` (plain), at most `seconds`.
-- Past the deadline: kills everything and fails.
local function wait_log(m, text, seconds)
  local deadline = now() + (seconds or 10)
  repeat
    if m:log_text():find(text, 1, true) then return end
    mount.sleep(0.01)
  until now() > deadline
  kill_everything(m)
  error(("no %q in the host's log after %s s:\n%s"):format(text, seconds or 10, m:log_text()), 2)
end

local function count(text, plain)
  local n, at = 0, 1
  while true do
    local s, e = text:find(plain, at, true)
    if not s then return n end
    n, at = n + 1, e + 1
  end
end

local function setup_each()
  results = mount.tmpdir("results")
  children.dir = results
end

local function teardown_each()
  kill_everything(nil)
  mount.stop_all()
  mount.rmtree(results)
end

---------------------------------------------------------------------------

describe("a handler that waits", function()
  before_each(setup_each)
  after_each(teardown_each)

  it("does not hold up others: 1,000 stats of other files finish while a getattr sleeps 2 s", function()
    local m = mount.start{ script = fixtures .. "waiting_slow.lua", options = "timeout=0" }
    local slow = spawn(function()
      local t0 = now()
      local st, err = sys.stat(m:path("slowstat"))
      return st and st.size or "", err or "", now() - t0
    end)
    wait_log(m, "started getattr /slowstat", 10) -- the slow one is in its handler now
    local before = m:stats()
    local stats = spawn(function()
      local t0 = now()
      local wrong = 0
      for i = 1, 1000 do
        local n = i % 20 + 1
        local st = sys.stat(m:path("f" .. n))
        if not st or st.size ~= n then wrong = wrong + 1 end
      end
      return now() - t0, wrong
    end)
    local r = reap({ stats }, 30, m)[stats]
    assert.is_true(r.ok, "the stat child failed")
    local p = wait.wait(slow, wait.WNOHANG)
    local took, wrong = tonumber(r.values[1]), tonumber(r.values[2])
    assert.equal(0, wrong)
    assert.is_true(took < 1, ("1,000 stats took %.3f s while a handler waited"):format(took))
    -- and the slow stat had not ended yet (it takes at least 2 s)
    assert.are_not.equal(slow, p, "the slow stat ended before the 1,000 others")
    local after = m:stats()
    -- timeout=0: every stat reached the script
    assert.is_true(after.lua.getattr - before.lua.getattr >= 1000,
      ("only %d getattr calls for 1,000 stats"):format(after.lua.getattr - before.lua.getattr))

    local s = reap({ slow }, 30, m)[slow]
    assert.is_true(s.ok)
    local size, err, slow_took = s.values[1], s.values[2], tonumber(s.values[3])
    assert.equal("", err)
    assert.equal("5", size)
    assert.is_true(slow_took >= 1.9, ("the slow stat took only %.3f s"):format(slow_took))
    m:stop()
  end)

  it("serves 100 concurrent reads of a file whose read sleeps 1 s in about one wait", function()
    local m = mount.start{ script = fixtures .. "waiting_slow.lua" }
    local expected = pattern(4096)
    local t0 = now()
    local pids = {}
    for i = 1, 100 do
      pids[i] = spawn(function()
        local fd = assert(sys.open(m:path("pattern"), sys.O.RDONLY))
        local a = now()
        local data, err = sys.pread(fd, 16, (i - 1) * 16)
        local b = now()
        sys.close(fd)
        return data or "", err or "", a, b
      end)
    end
    local forked = now() - t0
    local done = reap(pids, 120, m)
    local total = now() - t0
    local first, last = math.huge, 0
    for i, pid in ipairs(pids) do
      local r = done[pid]
      assert.is_true(r.ok, "child " .. i .. " failed")
      local data, err, a, b = r.values[1], r.values[2], tonumber(r.values[3]), tonumber(r.values[4])
      assert.equal("", err, "read " .. i)
      assert.equal(expected:sub((i - 1) * 16 + 1, i * 16), data, "the bytes of read " .. i)
      assert.is_true(b - a >= 0.9, ("read %d took only %.3f s: it did not wait"):format(i, b - a))
      first, last = math.min(first, a), math.max(last, b)
    end
    assert.is_true(last - first < 3, ("100 reads of 1 s each took %.2f s from the first start to "
      .. "the last end (forking took %.2f s)"):format(last - first, forked))
    assert.is_true(total < 4, ("100 reads took %.2f s in all"):format(total))
    m:stop()
  end)

  it("replies in any order: a short wait started second ends first", function()
    local m = mount.start{ script = fixtures .. "waiting_slow.lua" }
    local function reader(rel)
      return function()
        local t0 = now()
        local data, err = sys.read_file(m:path(rel))
        return data or "", err or "", t0, now()
      end
    end
    local a = spawn(reader("sleep1"))
    mount.sleep(0.1)
    local b = spawn(reader("sleep01"))
    local done = reap({ a, b }, 30, m)
    local ra, rb = done[a], done[b]
    assert.is_true(ra.ok and rb.ok)
    assert.equal("A", ra.values[1])
    assert.equal("B", rb.values[1])
    local a_start, a_end = tonumber(ra.values[3]), tonumber(ra.values[4])
    local b_start, b_end = tonumber(rb.values[3]), tonumber(rb.values[4])
    assert.is_true(a_start < b_start, "A started first")
    assert.is_true(b_end < a_end,
      ("B (0.1 s) ended %.3f s after A's start, A (1 s) at %.3f s"):format(b_end - a_start, a_end - a_start))
    assert.is_true(b_end - b_start < 0.8, ("B took %.3f s"):format(b_end - b_start))
    m:stop()
  end)

  it("that never waits works as before, and --trace shows its time in Lua", function()
    local m = mount.start{ script = fixtures .. "waiting_slow.lua", args = { "--trace" } }
    assert.equal(HELLO, read_in_child(m, "hello.txt"))
    assert.equal("B", read_in_child(m, "sleep01"))
    local log = m:log_text()
    local line = log:match("[^\n]*trace [^\n]* read +/hello%.txt [^\n]*")
    assert.truthy(line, "no trace line of the read:\n" .. log)
    assert.matches("^moonfs: trace %d%d:%d%d:%d%d%.%d+ read +/hello%.txt size=%d+ offset=0 %-> 16 bytes  "
      .. "%[lua %d+ us, total %d+ us%]$", line)
    -- a handler that waited: its total includes the wait, its Lua time does not
    local lua, total = log:match("trace [^\n]* read +/sleep01 [^\n]*%-> 1 bytes  %[lua (%d+) us, total (%d+) us%]")
    assert.truthy(lua, "no trace line of the waiting read:\n" .. log)
    -- (libuv counts a timer from its loop's cached time: a little under 0.1 s is possible)
    assert.is_true(tonumber(total) >= 90000, "total " .. total .. " us for a read that slept 0.1 s")
    assert.is_true(tonumber(lua) < tonumber(total), ("lua %s us, total %s us"):format(lua, total))
    m:stop()
  end)
end)

describe("interrupts", function()
  local cleanup_file
  before_each(function()
    setup_each()
    cleanup_file = results .. "/cleanup"
  end)
  after_each(teardown_each)

  local function start(options)
    return mount.start{ script = fixtures .. "waiting_slow.lua",
      options = "cleanup=" .. cleanup_file .. (options and "," .. options or "") }
  end

  --- The clean-ups the fixture recorded, each "<op> <path>"; every one must
  -- have caught the interruption's error.
  local function cleaned_up(file)
    local list = {}
    for line in (read_text(file) or ""):gmatch("[^\n]+") do
      local what, err = line:match("^(%a+ /%w+): (.*)$")
      assert.truthy(what, line)
      assert.matches("moonfs: interrupted (the caller gave up)", err, 1, true)
      list[#list + 1] = what
    end
    return list
  end

  local function slow_read(m, rel)
    return function()
      local fd = assert(sys.open(m:path(rel), sys.O.RDONLY))
      local t0 = now()
      local data, err = sys.pread(fd, 1, 0)
      local took = now() - t0
      sys.close(fd)
      return data or "", err or "", took
    end
  end

  --- Starts `fn` in a child, waits for `started` in the log and 0.3 s more,
  -- sends SIGINT; returns the child's record and the seconds from the signal
  -- to its end.
  local function interrupt(m, fn, started, sigint)
    local pid = spawn(fn, { sigint = sigint })
    wait_log(m, started, 10)
    mount.sleep(0.3)
    local t0 = now()
    signal.kill(pid, signal.SIGINT)
    local r = reap({ pid }, 40, m)[pid]
    return r, r.at - t0
  end

  it("Ctrl-C on a direct_io read waiting in its handler: the caller ends at once, the handler cleans up", function()
    local m = start()
    local r, took = interrupt(m, slow_read(m, "sleep30"), "started read /sleep30", "default")
    assert.equal("killed", r.how, "the reader was not killed by its SIGINT")
    assert.equal(signal.SIGINT, r.status)
    assert.is_true(took < 1, ("the reader took %.2f s to end after SIGINT"):format(took))
    -- the handler's pcall branch ran
    assert.same({ "read /sleep30" }, cleaned_up(cleanup_file))
    assert.matches("cleanup read /sleep30: [^\n]*moonfs: interrupted %(the caller gave up%)", m:log_text())
    -- the mount keeps serving
    assert.equal(HELLO, read_in_child(m, "hello.txt"))
    assert.equal("B", read_in_child(m, "sleep01"))
    -- an interruption is not a script bug
    local log = m:log_text()
    assert.is_nil(log:find("raised an error", 1, true), log)
    assert.is_nil(log:find("replying EIO", 1, true), log)
    m:stop()
  end)

  it("a caught SIGINT: the read fails with EINTR, whether the handler re-raises, ignores or swallows it", function()
    local m = start()
    for _, case in ipairs({ "sleep30", "sleep30plain", "sleep30swallow" }) do
      local r, took = interrupt(m, slow_read(m, case), "started read /" .. case, "catch")
      assert.is_true(r.ok, case .. ": the reader failed")
      local data, err, read_took = r.values[1], r.values[2], tonumber(r.values[3])
      assert.equal("", data, case)
      assert.equal("EINTR", err, case)
      assert.is_true(took < 1, ("%s: the reader took %.2f s to end after SIGINT"):format(case, took))
      assert.is_true(read_took < 5, case)
    end
    assert.same({ "read /sleep30", "read /sleep30swallow" }, cleaned_up(cleanup_file))
    assert.equal(HELLO, read_in_child(m, "hello.txt"))
    assert.is_nil(m:log_text():find("raised an error", 1, true), m:log_text())
    m:stop()
  end)

  it("a clean-up that waits itself delays the EINTR by its own wait only", function()
    local m = start()
    local r, took = interrupt(m, slow_read(m, "sleep30again"), "started read /sleep30again", "catch")
    assert.is_true(r.ok)
    assert.equal("EINTR", r.values[2])
    assert.is_true(took >= 0.4 and took < 2, ("the reader ended %.2f s after SIGINT"):format(took))
    assert.same({ "read /sleep30again" }, cleaned_up(cleanup_file))
    assert.equal(HELLO, read_in_child(m, "hello.txt"))
    m:stop()
  end)

  it("Ctrl-C on a stat whose getattr waits: the caller ends at once", function()
    local m = start("timeout=0")
    local r, took = interrupt(m, function()
      local st, err = sys.stat(m:path("slowname30"))
      return st and st.type or "", err or ""
    end, "started getattr /slowname30", "default")
    assert.equal("killed", r.how, "the stat was not killed by its SIGINT")
    assert.equal(signal.SIGINT, r.status)
    assert.is_true(took < 1, ("the stat took %.2f s to end after SIGINT"):format(took))
    assert.same({ "getattr /slowname30" }, cleaned_up(cleanup_file))
    assert.equal(HELLO, read_in_child(m, "hello.txt"))
    assert.equal("file", sys.stat(m:path("f3")).type)
    assert.is_nil(m:log_text():find("raised an error", 1, true), m:log_text())
    m:stop()
  end)
end)

describe("runaway handlers", function()
  before_each(setup_each)
  after_each(teardown_each)

  local allow = { "raised an error", "replying EIO" }

  --- Reads /loop and /pcall_loop under handler_timeout=1: both get EIO after
  -- about a second, and /ok still reads after each. Returns the host's log.
  local function stop_two_loops(m)
    for _, name in ipairs({ "loop", "pcall_loop" }) do
      local data, err, took = read_in_child(m, name, 20)
      assert.is_nil(data, name)
      assert.equal("EIO", err, name)
      assert.is_true(took >= 0.9 and took < 3.5, ("the read of /%s ended after %.2f s"):format(name, took))
      assert.matches("handler 'read' (/" .. name .. ") raised an error; replying EIO", m:log_text(), 1, true)
      assert.equal("fine\n", read_in_child(m, "ok"), "after /" .. name)
    end
    local log = m:log_text()
    -- a pcall in the script did not swallow the second stop
    assert.equal(2, count(log, "moonfs: stopped: ran for more than 1.0 s without waiting (-o handler_timeout)"))
    return log
  end

  it("are stopped after -o handler_timeout (a pcall cannot swallow it), and the mount keeps serving", function()
    local m = mount.start{ script = fixtures .. "waiting_runaway.lua", options = "handler_timeout=1",
      allow = allow }
    stop_two_loops(m)
    m:stop()
  end)

  it("are stopped with a log that names the script's file:line of the loop", function()
    local m = mount.start{ script = fixtures .. "waiting_runaway.lua", options = "handler_timeout=1",
      allow = allow }
    local log = stop_two_loops(m)
    m:stop()
    for _, marker in ipairs({ "-- LOOP LINE", "-- PCALL LOOP LINE" }) do
      local where = "waiting_runaway.lua:" .. line_of("waiting_runaway.lua", marker) .. ":"
      assert.matches(where, log, 1, true)
    end
  end)

  for _, sig in ipairs({ "SIGTERM", "SIGINT" }) do
    it(sig .. " while a handler loops (handler_timeout=0): the host unmounts and exits 0", function()
      local m = mount.start{ script = fixtures .. "waiting_runaway.lua", options = "handler_timeout=0",
        allow = allow }
      local reader = spawn(function()
        local data, err = sys.read_file(m:path("loop"))
        return data or "", err or ""
      end)
      mount.sleep(0.5) -- the handler loops now
      local t0 = now()
      m:signal(signal[sig])
      local how, status = m:wait_exit(10)
      local took = now() - t0
      if not how then kill_everything(m) end
      assert.equal("exited", how, "the host did not exit within 10 s of " .. sig .. ":\n" .. m:log_text())
      assert.equal(0, status)
      assert.is_true(took < 3, ("the host took %.2f s to exit after %s"):format(took, sig))
      assert.is_false(mount.is_mounted(m.dir))
      local r = reap({ reader }, 10, m)[reader]
      assert.is_true(r.ok)
      assert.equal("", r.values[1])
      assert.is_truthy(r.values[2] == "EIO" or r.values[2] == "ENOTCONN",
        "the looping read failed with " .. r.values[2])
      assert.matches("moonfs: stopped: the host is stopping", m:log_text(), 1, true)
      m:stop()
    end)
  end

  it("that exhaust -o memory get EIO, and the host survives", function()
    local m = mount.start{ script = fixtures .. "waiting_runaway.lua", options = "memory=64M",
      allow = { "ran out of memory", "replying EIO" } }
    for round = 1, 2 do
      local data, err, took = read_in_child(m, "mem", 60)
      assert.is_nil(data)
      assert.equal("EIO", err, "round " .. round)
      assert.equal(round, count(m:log_text(), "handler 'read' (/mem) ran out of memory (-o memory)"))
      local ok, ok_err = read_in_child(m, "ok")
      assert.equal("fine\n", ok, ("round %d (the /mem read took %.2f s): the next read failed with %s; "
        .. "the host's log:\n%s"):format(round, took, tostring(ok_err), m:log_text()))
    end
    -- the traceback names the script
    assert.matches("waiting_runaway.lua", m:log_text(), 1, true)
    m:stop()
  end)

  it("in the script's main chunk during a reload are stopped; the old handlers keep serving", function()
    local marker, version = results .. "/marker", results .. "/version"
    write_text(version, "1")
    local m = mount.start{ script = fixtures .. "waiting_reload.lua",
      options = "handler_timeout=1,marker=" .. marker .. ",version=" .. version,
      allow = { "raised an error", "stopped" } }
    assert.equal("1", read_in_child(m, "version"))
    write_text(version, "2")
    write_text(marker, "loop\n")
    local t0 = now()
    m:signal(signal.SIGHUP)
    wait_log(m, "reload of " .. fixtures .. "waiting_reload.lua failed; the old handlers keep serving", 20)
    local took = now() - t0
    assert.is_true(took < 4, ("the reload was stopped after %.2f s"):format(took))
    local log = m:log_text()
    assert.matches("moonfs: stopped: ran for more than 1.0 s without waiting", log, 1, true)
    assert.matches("waiting_reload.lua:" .. line_of("waiting_reload.lua", "-- RELOAD LOOP LINE") .. ":", log, 1, true)
    assert.equal("1", read_in_child(m, "version"))
    -- and a reload that can finish still works
    os.remove(marker)
    m:signal(signal.SIGHUP)
    wait_log(m, "reloaded " .. fixtures .. "waiting_reload.lua", 20)
    assert.equal("2", read_in_child(m, "version"))
    m:stop()
  end)
end)

describe("moonfs.await where it cannot wait", function()
  before_each(setup_each)
  after_each(teardown_each)

  it("at script load: the host refuses to mount and names the line", function()
    local dir = mount.tmpdir("load")
    finally(function()
      if mount.is_mounted(dir) then os.execute("fusermount3 -u '" .. dir .. "'") end
      mount.rmtree(dir)
    end)
    local code, out = mount.run_host({ "20", mount.binary, fixtures .. "waiting_await_at_load.lua", dir }, "timeout")
    assert.are_not.equal(124, code, "the host was still running after 20 s:\n" .. out)
    assert.are_not.equal(0, code, out)
    assert.is_false(mount.is_mounted(dir))
    assert.matches("waiting_await_at_load.lua:" .. line_of("waiting_await_at_load.lua", "AWAIT AT LOAD LINE")
      .. ":", out, 1, true)
    assert.matches("can only wait in a handler", out, 1, true)
  end)

  it("in a luv callback, in a coroutine of the script's own; uv.run, uv.stop, uv.loop_close", function()
    local m = mount.start{ script = fixtures .. "waiting_misuse.lua",
      allow = { "raised an error", "replying EIO" } }
    -- a timer callback: the read answers, the callback's error is logged
    assert.equal("started\n", read_in_child(m, "timer_await"))
    wait_log(m, "a luv callback raised an error", 10)
    local log = m:log_text()
    local after = log:sub((log:find("a luv callback raised an error", 1, true)))
    assert.matches("can only wait in a handler", after, 1, true)
    assert.matches("waiting_misuse.lua:" .. line_of("waiting_misuse.lua", "TIMER AWAIT LINE") .. ":", after, 1, true)

    -- a coroutine of the script's own: the error reaches the handler
    local data, err = read_in_child(m, "coroutine_await")
    assert.is_nil(data)
    assert.equal("EIO", err)
    log = m:log_text()
    assert.matches("handler 'read' (/coroutine_await) raised an error; replying EIO", log, 1, true)
    after = log:sub((log:find("(/coroutine_await) raised an error", 1, true)))
    assert.matches("can only wait in a handler", after, 1, true)
    assert.matches("waiting_misuse.lua:" .. line_of("waiting_misuse.lua", "COROUTINE AWAIT LINE") .. ":",
      after, 1, true)

    -- the event loop is the host's
    for _, name in ipairs({ "uv_run", "uv_stop", "uv_loop_close" }) do
      data, err = read_in_child(m, name)
      assert.is_nil(data, name)
      assert.equal("EIO", err, name)
      log = m:log_text()
      local at = log:find("handler 'read' (/" .. name .. ") raised an error; replying EIO", 1, true)
      assert.truthy(at, name .. ": no error line in\n" .. log)
      assert.matches("the host runs the event loop", log:sub(at), 1, true)
    end
    assert.equal("fine\n", read_in_child(m, "ok"))
    m:stop()
  end)
end)

describe("luv in handlers", function()
  before_each(setup_each)
  after_each(teardown_each)

  it("reads a file, resolves localhost and runs a child process through moonfs.await", function()
    local source = results .. "/source.txt"
    local text = ("a line of the source file\n"):rep(40)
    write_text(source, text)
    local m = mount.start{ script = fixtures .. "waiting_luv.lua", options = "source=" .. source }
    assert.equal(text, read_in_child(m, "fsread"))

    local dns = assert(read_in_child(m, "dns"))
    local loopback = { ["127.0.0.1"] = true, ["::1"] = true }
    local n = 0
    for addr in dns:gmatch("[^\n]+") do
      assert.is_true(loopback[addr] or false, "localhost resolved to " .. addr)
      n = n + 1
    end
    assert.is_true(n >= 1, "localhost resolved to nothing")

    local out = assert(read_in_child(m, "spawn"))
    local pid = out:match("^code=7 signal=0 out%-(%d+)\n$")
    assert.truthy(pid, "the child process gave: " .. out)
    assert.are_not.equal(m.pid, tonumber(pid))
    m:stop()
  end)
end)

describe("moonfs.invalidate", function()
  before_each(setup_each)
  after_each(teardown_each)

  local function command(m, what)
    in_child(m, 20, function()
      local fd = assert(sys.open(m:path("ctl"), sys.O.WRONLY))
      local n, err = sys.pwrite(fd, what, 0)
      sys.close(fd)
      assert(n == #what, "writing " .. what .. " to ctl: " .. tostring(err))
      return n
    end)
  end

  it("shows content, sizes and names changed behind the kernel's cache of 60 s", function()
    local m = mount.start{ script = fixtures .. "waiting_inval.lua", options = "negative_timeout=60" }
    assert.equal("one\n", read_in_child(m, "f"))
    assert.equal(4, sys.stat(m:path("f")).size)
    assert.same({ nil, "ENOENT", 2 }, { sys.stat(m:path("g")) })

    -- changed without telling: the kernel's caches still answer (so what
    -- follows shows invalidation, not an absent cache)
    command(m, "silent")
    assert.equal("one\n", read_in_child(m, "f"))
    assert.equal(4, sys.stat(m:path("f")).size)
    assert.same({ nil, "ENOENT", 2 }, { sys.stat(m:path("g")) })

    -- told from a handler
    command(m, "tell")
    assert.matches("invalidated /f g: true true", m:log_text(), 1, true)
    assert.equal("two two\n", read_in_child(m, "f"))
    assert.equal(8, sys.stat(m:path("f")).size)
    local g = sys.stat(m:path("g"))
    assert.truthy(g, "the new name g stays invisible")
    assert.equal(8, g.size)

    -- told from a luv timer, outside any handler
    assert.same({ nil, "ENOENT", 2 }, { sys.stat(m:path("h")) })
    command(m, "timer")
    wait_log(m, "invalidated /f h:", 10)
    assert.matches("invalidated /f h: true true", m:log_text(), 1, true)
    assert.equal("three three three\n", read_in_child(m, "f"))
    assert.equal(18, sys.stat(m:path("f")).size)
    assert.truthy(sys.stat(m:path("h")), "the new name h stays invisible")
    m:stop()
  end)
end)
