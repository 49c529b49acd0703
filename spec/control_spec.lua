-- Talking to a running, daemonized mount through its control socket:
-- moonfs list, trace, stats, top, reload; the socket itself (its mode, its
-- removal, a stale one replaced, other users kept out); and the luacheck
-- part of moonfs --check.
local mount = require("support.mount")
local shell = require("support.shell")
local daemon = require("support.daemon")
local json = require("support.json")
local users = require("support.users")
local creds = require("support.creds")
local unistd = require("posix.unistd")
local fcntl = require("posix.fcntl")
local signal = require("posix.signal")
local wait = require("posix.sys.wait")
local pstat = require("posix.sys.stat")
local dirent = require("posix.dirent")
local socket = require("posix.sys.socket")

-- mount.need_root's pending() is not reachable from a support module, so
-- specs skip with busted's own.
local need_root = mount.need_root

local quote, sh = daemon.quote, daemon.sh
local moonfs = quote(mount.binary)

local read = shell.read_text

local write = shell.write_text

-- Two read-only files whose reads always reach the host (direct_io), so
-- counts of reads are exact.
local function script_source(text)
  return ([[
-- control_spec: reads always reach the host
local text = %q
local files = { ["/hello.txt"] = true, ["/other.txt"] = true }
return {
  getattr = function(path)
    if path == "/" then return { type = "dir", perm = "755" } end
    if files[path] then return { type = "file", perm = "444", size = #text } end
    return nil, "ENOENT"
  end,
  readdir = function() return { "hello.txt", "other.txt" } end,
  open = function() return 1, { direct_io = true } end,
  read = function(path, size, offset) return text:sub(offset + 1, offset + size) end,
}
]]):format(text)
end

local scripts = {} -- directories of written scripts, removed in teardown

local function new_script(text)
  local path, dir = mount.write_script(script_source(text or "one\n"), "ctl.lua")
  scripts[#scripts + 1] = dir
  return path
end

-- A pattern that matches s literally.
local function literal(s)
  return (s:gsub("%p", "%%%0"))
end

local function cat(path)
  return sh("cat " .. quote(path))
end

-- Starts `moonfs ARGS...` with standard output and error to `out`; returns its pid.
local function spawn(args, out)
  local pid = unistd.fork()
  if pid == 0 then
    local fd = fcntl.open(out, fcntl.O_WRONLY + fcntl.O_CREAT + fcntl.O_TRUNC, 420)
    unistd.dup2(fd, 1)
    unistd.dup2(fd, 2)
    unistd.close(fd)
    args[0] = mount.binary
    unistd.execp(mount.binary, args)
    unistd._exit(127)
  end
  return pid
end

-- Waits for a child to exit; returns how, status (nil, nil after `seconds`).
local function reap(pid, seconds)
  for _ = 1, math.floor((seconds or 5) / 0.02) do
    local p, how, status = wait.wait(pid, wait.WNOHANG)
    if p == pid then return how, status end
    mount.sleep(0.02)
  end
end

local function stop_viewer(pid)
  signal.kill(pid, signal.SIGINT)
  local how, status = reap(pid, 5)
  if not how then
    signal.kill(pid, signal.SIGKILL)
    wait.wait(pid)
  end
  return how, status
end

-- Trace lines of a text: {op, path, line}.
local function trace_lines(text)
  local out = {}
  for line in text:gmatch("[^\n]+") do
    local op, path = line:match("^%d%d:%d%d:%d%d%.%d+ (%l[%w_]*) +(%S+)")
    out[#out + 1] = { op = op, path = path, line = line }
  end
  return out
end

-- Does stat-probes on the mount until every viewer's output shows one, so
-- that the viewers are known to be attached.
local function attach(dir, outs, probe)
  for i = 1, 200 do
    if probe then cat(dir .. probe) else sh("stat " .. quote(dir .. "/probe-" .. i)) end
    local all = true
    for _, out in ipairs(outs) do
      if not (read(out) or ""):find(probe or "/probe%-") then all = false end
    end
    if all then return end
    mount.sleep(0.05)
  end
  error("the trace viewers never showed the probes")
end

-- Waits until `out` has grown past `from` and stopped growing.
local function settle(out, from)
  local last = -1
  for _ = 1, 100 do
    local n = #(read(out) or "")
    if n > from and n == last then return read(out):sub(from + 1) end
    last = n
    mount.sleep(0.1)
  end
  return (read(out) or ""):sub(from + 1)
end

local function stats_json(dir)
  local code, out = sh(moonfs .. " stats " .. quote(dir) .. " --json")
  assert.equal(0, code, out)
  return json.decode(out), out
end

local function op_count(stats, op, field)
  local o = stats.operations[op]
  return o and o[field] or 0
end

-- The path of the control socket process `pid` listens on.
local function control_socket(pid)
  local inodes = {}
  for name in dirent.files("/proc/" .. pid .. "/fd") do
    local link = daemon.readlink("/proc/" .. pid .. "/fd/" .. name)
    local inode = link and link:match("^socket:%[(%d+)%]$")
    if inode then inodes[inode] = true end
  end
  for line in io.lines("/proc/net/unix") do
    local inode, path = line:match("^%S+: %S+ %S+ %S+ %S+ %S+ (%d+) (/%S+)$")
    if inode and inodes[inode] and path:match("%.sock$") then return path end
  end
end

teardown(function()
  daemon.stop_all()
  for _, dir in ipairs(scripts) do mount.rmtree(dir) end
  users.remove_all()
end)

describe("moonfs list", function()
  after_each(function() daemon.stop_all() end)

  it("shows each daemonized mount: mount point, script, pid, uptime", function()
    local script = new_script()
    local a = daemon.start{ script = script }
    local b = daemon.start{ script = "scripts/memfs.lua" }
    mount.sleep(1.1)
    local mounts, text = daemon.list()
    assert.matches("^MOUNT POINT%s+SCRIPT%s+PID%s+UP\n", text)
    for _, d in ipairs({ a, b }) do
      local m = mounts[d.dir]
      assert.is_truthy(m, d.dir .. " is not in:\n" .. text)
      assert.equal(d.script, m.script)
      assert.same({ m.pid }, daemon.pids_for(d.dir))
      local h, mi, s = m.up:match("^(%d+):(%d%d):(%d%d)$")
      assert.is_true(tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(s) >= 1, m.up)
    end
    daemon.stop(b)
    mounts = daemon.list()
    assert.is_nil(mounts[b.dir])
    assert.is_truthy(mounts[a.dir])
    daemon.stop(a)
  end)
end)

describe("moonfs trace", function()
  local d, viewers
  before_each(function()
    d = daemon.start{ script = new_script(), options = "timeout=0" }
    viewers = {}
  end)
  after_each(function()
    for _, pid in ipairs(viewers) do stop_viewer(pid) end
    daemon.stop_all()
  end)

  local function viewer(out, ...)
    local pid = spawn({ "trace", d.dir, ... }, out)
    viewers[#viewers + 1] = pid
    return pid
  end

  it("shows the requests of a cat done after it attached, and ends on Ctrl-C", function()
    local out = d.tmp .. "/trace.out"
    local pid = viewer(out)
    attach(d.dir, { out })
    local from = #read(out)
    assert.equal(0, (cat(d.dir .. "/hello.txt")))
    local seen = {}
    for _, t in ipairs(trace_lines(settle(out, from))) do
      assert.is_truthy(t.op, "not a trace line: " .. t.line)
      if t.path == "/hello.txt" then seen[t.op] = seen[t.op] or t.line end
    end
    assert.is_truthy(seen.lookup, "no lookup of /hello.txt")
    assert.is_truthy(seen.open)
    assert.matches("read +/hello.txt size=%d+ offset=0 %-> 4 bytes  %[lua %d+ us, total %d+ us%]",
      seen.read)
    assert.is_truthy(seen.release)
    table.remove(viewers)
    local how, status = stop_viewer(pid)
    assert.same({ "exited", 0 }, { how, status })
    daemon.stop(d)
  end)

  it("with --ops and --path shows only the matching requests", function()
    local out = d.tmp .. "/filtered.out"
    viewer(out, "--ops", "read", "--path", "/hello*")
    attach(d.dir, { out }, "/hello.txt")
    local from = #read(out)
    cat(d.dir .. "/other.txt")
    cat(d.dir .. "/hello.txt")
    sh("ls -l " .. quote(d.dir))
    local new = trace_lines(settle(out, from))
    assert.is_true(#new >= 1, "no line for the read of /hello.txt")
    for _, t in ipairs(trace_lines(read(out))) do
      assert.equal("read", t.op, t.line)
      assert.equal("/hello.txt", t.path, t.line)
    end
    daemon.stop(d)
  end)

  it("serves two viewers at once", function()
    local a, b = d.tmp .. "/a.out", d.tmp .. "/b.out"
    viewer(a)
    viewer(b)
    attach(d.dir, { a, b })
    local from_a, from_b = #read(a), #read(b)
    cat(d.dir .. "/hello.txt")
    for _, new in ipairs({ settle(a, from_a), settle(b, from_b) }) do
      assert.matches("read +/hello.txt", new)
    end
    daemon.stop(d)
  end)

  it("ends by itself, with status 0, when the mount goes", function()
    local out = d.tmp .. "/end.out"
    local pid = viewer(out)
    attach(d.dir, { out })
    d.owns_tmp = false -- keep the output file past the unmount
    daemon.stop(d)
    local how, status = reap(pid, 5)
    table.remove(viewers)
    mount.rmtree(d.tmp)
    assert.same({ "exited", 0 }, { how, status })
  end)

  it("refuses an unknown operation and a bad flag", function()
    local code, out = sh(moonfs .. " trace " .. quote(d.dir) .. " --ops lookup,bogus")
    assert.equal(1, code)
    assert.matches("refused", out, 1, true)
    code, out = sh(moonfs .. " trace " .. quote(d.dir) .. " --bogus x")
    assert.equal(2, code)
    assert.matches("usage:", out, 1, true)
    daemon.stop(d)
  end)
end)

describe("moonfs stats", function()
  after_each(function() daemon.stop_all() end)

  it("--json parses, and its counts match the work done", function()
    local d = daemon.start{ script = new_script("0123456789abcdef\n") }
    local before = stats_json(d.dir)
    local n = 25
    local fd = assert(fcntl.open(d.dir .. "/hello.txt", fcntl.O_RDONLY))
    for _ = 1, n do
      assert(unistd.lseek(fd, 0, unistd.SEEK_SET))
      assert.equal("0123", unistd.read(fd, 4))
    end
    unistd.close(fd)
    local after, text = stats_json(d.dir)
    assert.equal(n, op_count(after, "read", "requests") - op_count(before, "read", "requests"))
    assert.equal(n, op_count(after, "read", "lua_calls") - op_count(before, "read", "lua_calls"))
    assert.equal(n, after.operations.read.host.count - (before.operations.read
      and before.operations.read.host.count or 0))
    assert.equal(1, op_count(after, "open", "requests") - op_count(before, "open", "requests"))
    assert.equal(1, op_count(after, "open", "lua_calls") - op_count(before, "open", "lua_calls"))
    local l = after.operations.read.host
    assert.is_true(l.max_us >= l.p99_us and l.p99_us >= l.p50_us and l.mean_us > 0, text)
    assert.equal(d.pid, after.pid)
    assert.equal(0, after.passthrough_opens) -- handle opens, not fds
    for _, key in ipairs({ "fallback_opens", "backing_files", "inodes", "host_rss_mib", "uptime_s" }) do
      assert.equal("number", type(after[key]), key)
    end
    daemon.stop(d)
  end)

  it("prints a table with the same counts", function()
    local d = daemon.start{ script = new_script() }
    for _ = 1, 3 do cat(d.dir .. "/hello.txt") end
    local code, text = sh(moonfs .. " stats " .. quote(d.dir))
    assert.equal(0, code, text)
    local j = stats_json(d.dir)
    assert.matches("^operation +requests +lua +mean us +p50 us +p99 us +max us +lua us\n", text)
    local reads, calls = text:match("\nread +(%d+) +(%d+) ")
    assert.equal(op_count(j, "read", "requests"), tonumber(reads))
    assert.equal(op_count(j, "read", "lua_calls"), tonumber(calls))
    assert.matches("\nopens: %d+ passthrough, %d+ served by the host; backing files now: %d+; "
      .. "inodes known: %d+\n", text)
    assert.matches("host memory: [%d.]+ MiB resident; up %d+ s; pid " .. d.pid, text)
    daemon.stop(d)
  end)

  it("fails for a directory that is no moonfs mount", function()
    local dir = mount.tmpdir("nomount")
    local code, out = sh(moonfs .. " stats " .. quote(dir))
    mount.rmtree(dir)
    assert.equal(1, code)
    assert.matches("is not a running moonfs mount of yours", out, 1, true)
  end)
end)

describe("moonfs reload", function()
  after_each(function() daemon.stop_all() end)

  it("reports a broken script with file:line, keeps the old handlers, then reloads the fix", function()
    local script = new_script("one\n")
    local d = daemon.start{ script = script, options = "timeout=0",
      allow = { "ctl%.lua:%d+:", "reload of .* failed" } }
    assert.same({ 0, "one\n" }, { cat(d.dir .. "/hello.txt") })

    -- a syntax error on line 5 of the copy
    local lines = {}
    for line in io.lines(script) do lines[#lines + 1] = line end
    table.insert(lines, 5, "local broken = = 1")
    write(script, table.concat(lines, "\n") .. "\n")
    local code, out = sh(moonfs .. " reload " .. quote(d.dir))
    assert.equal(1, code, out)
    assert.matches(script .. ":5: unexpected symbol near '='", out, 1, true)
    assert.matches("the old handlers keep serving", out, 1, true)
    assert.same({ 0, "one\n" }, { cat(d.dir .. "/hello.txt") })

    -- an error raised while loading: file:line too
    write(script, "error('no config here')\n")
    code, out = sh(moonfs .. " reload " .. quote(d.dir))
    assert.equal(1, code, out)
    assert.matches(script .. ":1: no config here", out, 1, true)
    assert.same({ 0, "one\n" }, { cat(d.dir .. "/hello.txt") })

    write(script, script_source("two\n"))
    code, out = sh(moonfs .. " reload " .. quote(d.dir))
    assert.equal(0, code, out)
    assert.matches("reloaded " .. script, out, 1, true)
    assert.same({ 0, "two\n" }, { cat(d.dir .. "/hello.txt") })
    daemon.stop(d)
  end)
end)

describe("moonfs top", function()
  local server = "moonfs-spec-" .. unistd.getpid()
  local tmux = "tmux -L " .. server .. " -f /dev/null "
  local load
  after_each(function()
    if load then
      signal.kill(load, signal.SIGKILL)
      wait.wait(load)
      load = nil
    end
    sh(tmux .. "kill-server")
    daemon.stop_all()
  end)

  it("draws the operations of a running workload in an 80x24 tmux pane; q quits", function()
    if sh("command -v tmux") ~= 0 then
      pending("tmux is not installed (make deps installs it)")
      return
    end
    local d = daemon.start{ script = new_script() }
    load = unistd.fork()
    if load == 0 then
      unistd.execp("sh", { [0] = "sh", "-c", "while :; do cat " .. quote(d.dir .. "/hello.txt")
        .. " >/dev/null; sleep 0.02; done" })
      unistd._exit(127)
    end
    local code, out = sh("TERM=xterm " .. tmux .. "new-session -d -s top -x 80 -y 24 "
      .. quote(moonfs .. " top " .. quote(d.dir) .. "; echo top-exited=$?; sleep 60"))
    assert.equal(0, code, out)
    local pane, reads, busiest
    for _ = 1, 60 do
      mount.sleep(0.25)
      _, pane = sh(tmux .. "capture-pane -p -t top")
      reads = tonumber(pane:match("\nread +(%d+) +[%d.]+ +[%d.]+ +%d+\n"))
      busiest = pane:match("BUSIEST PATHS.-\n/hello%.txt +(%d+)")
      if reads and reads > 0 and busiest and tonumber(busiest) > 0 then break end
    end
    assert.equal(1, (pane:find("moonfs top  " .. d.dir:sub(1, 30), 1, true)), pane)
    assert.matches("q quits", pane, 1, true)
    assert.matches("pid " .. d.pid, pane, 1, true)
    assert.matches("%d+ requests/s", pane)
    assert.matches("OPERATION +REQ/S +MEAN US +P99 US +TOTAL", pane)
    assert.is_true(reads and reads > 0, "no reads per second in the pane:\n" .. pane)
    assert.is_true(busiest and tonumber(busiest) > 0, "/hello.txt is not among the busiest paths:\n" .. pane)
    for line in pane:gmatch("[^\n]+") do assert.is_true(#line <= 80, line) end

    sh(tmux .. "send-keys -t top q")
    for _ = 1, 50 do
      _, pane = sh(tmux .. "capture-pane -p -t top")
      if pane:find("top-exited=", 1, true) then break end
      mount.sleep(0.1)
    end
    assert.matches("top-exited=0", pane, 1, true)
    signal.kill(load, signal.SIGKILL)
    wait.wait(load)
    load = nil
    daemon.stop(d)
  end)
end)

describe("the control socket", function()
  after_each(function() daemon.stop_all() end)

  it("is the mounting user's alone (mode 0600) and goes at unmount", function()
    local d = daemon.start{ script = new_script() }
    local path = control_socket(d.pid)
    assert.is_truthy(path, "the host listens on no .sock")
    local st = pstat.stat(path)
    assert.is_true(pstat.S_ISSOCK(st.st_mode) ~= 0)
    assert.equal(tonumber("600", 8), st.st_mode % 4096)
    assert.equal(unistd.geteuid(), st.st_uid)
    local parent = pstat.stat(path:match("^(.*)/[^/]+$"))
    assert.equal(tonumber("700", 8), parent.st_mode % 4096)
    daemon.stop(d)
    assert.is_nil(pstat.lstat(path))
  end)

  it("left by a killed host is replaced by the next mount at the same mount point", function()
    local tmp = mount.tmpdir("stale")
    finally(function() mount.rmtree(tmp) end)
    local dir = tmp .. "/mnt"
    assert.equal(0, (sh("mkdir " .. quote(dir))))
    local script = new_script()
    local first = daemon.start{ script = script, dir = dir, tmp = tmp }
    local path = control_socket(first.pid)
    signal.kill(first.pid, signal.SIGKILL)
    assert.is_true(daemon.wait_gone(first.pid, 5))
    first.pid = nil
    assert.equal(0, (sh("fusermount3 -u " .. quote(dir))))
    daemon.stop(first, true)
    assert.is_truthy(pstat.lstat(path), "the killed host's socket is gone already")
    assert.is_nil(daemon.list()[dir], "a dead mount is listed")

    local second = daemon.start{ script = script, dir = dir, tmp = tmp }
    assert.equal(path, control_socket(second.pid))
    assert.equal(second.pid, stats_json(dir).pid)
    assert.equal(second.pid, daemon.list()[dir].pid)
    assert.same({ 0, "one\n" }, { cat(dir .. "/hello.txt") })
    assert.is_nil(daemon.log_text(second):find("another moonfs answers", 1, true))
    daemon.stop(second)
    assert.is_nil(pstat.lstat(path))
  end)

  it("keeps other users out", function()
    if not need_root("switching to another user") then return end
    local user = users.create("ctl")
    -- allow_other, so that the user can reach the mount point at all
    local d = daemon.start{ script = new_script(), options = "allow_other" }
    assert.equal(0, (sh("chmod 755 " .. quote(d.tmp))))
    local path = control_socket(d.pid)

    local code, out = sh(daemon.as(user) .. moonfs .. " stats " .. quote(d.dir))
    assert.equal(1, code, out)
    assert.matches("is not a running moonfs mount of yours", out, 1, true)
    -- even when told where root's sockets are
    code, out = sh(daemon.as(user, { XDG_RUNTIME_DIR = path:match("^(.*)/moonfs/") })
      .. moonfs .. " stats " .. quote(d.dir))
    assert.equal(1, code, out)
    assert.matches("not using .*/moonfs: owned by another user", out)
    code, out = sh(daemon.as(user) .. moonfs .. " reload " .. quote(d.dir))
    assert.equal(1, code, out)
    -- and a plain connect to the socket
    local ok, err, errno = creds.as(user, function()
      local fd = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM, 0)
      local a, b, c = socket.connect(fd, { family = socket.AF_UNIX, path = path })
      unistd.close(fd)
      return a, b, c
    end)
    assert.is_nil(ok)
    assert.equal(13, errno, err) -- EACCES
    -- root gets in
    assert.equal(d.pid, stats_json(d.dir).pid)
    daemon.stop(d)
  end)

  it("is not looked for in a directory another user made", function()
    if not need_root("switching to another user") then return end
    local victim = users.create("vic")
    -- someone else made the victim's fallback directory first, open to all
    local dir = "/tmp/moonfs-" .. victim.uid
    finally(function() sh("rm -rf " .. dir) end)
    assert.equal(0, (sh("rm -rf " .. dir .. " && mkdir -m 777 " .. dir)))
    local code, out = sh(daemon.as(victim, { XDG_RUNTIME_DIR = "" }) .. moonfs .. " list")
    assert.equal(1, code, out)
    assert.matches("not using " .. dir .. ": owned by another user", out, 1, true)
    code, out = sh(daemon.as(victim, { XDG_RUNTIME_DIR = "" }) .. moonfs .. " stats /tmp")
    assert.equal(1, code, out)
    assert.matches("owned by another user", out, 1, true)
    -- the victim's own directory, but open to others: refused too
    assert.equal(0, (sh("chown " .. victim.uid .. " " .. dir)))
    code, out = sh(daemon.as(victim, { XDG_RUNTIME_DIR = "" }) .. moonfs .. " list")
    assert.equal(1, code, out)
    assert.matches("mode must be 0700", out, 1, true)
  end)
end)

describe("moonfs --check with luacheck", function()
  local has_luacheck = sh("command -v luacheck") == 0

  it("reports an undefined global with file:line and exits non-zero", function()
    if not has_luacheck then pending("luacheck (lua-check) is not installed") return end
    local path, dir = mount.write_script(
      "return { getattr = function(p) return lookup_table[p] end }\n", "undefined.lua")
    scripts[#scripts + 1] = dir
    local code, out = mount.run_host({ "--check", path })
    assert.equal(1, code, out)
    assert.matches(literal(path) .. ":1:%d+: %(W113%) accessing undefined variable 'lookup_table'", out)
  end)

  it("reports an unused local variable", function()
    if not has_luacheck then pending("luacheck (lua-check) is not installed") return end
    local path, dir = mount.write_script([[
return {
  getattr = function(path)
    local unused = 1
    if path == "/" then return { type = "dir" } end
    return nil, "ENOENT"
  end,
}
]], "unused.lua")
    scripts[#scripts + 1] = dir
    local code, out = mount.run_host({ "--check", path })
    assert.equal(1, code, out)
    assert.matches(literal(path) .. ":3:%d+: %(W211%) unused variable 'unused'", out)
  end)

  it("passes every shipped script", function()
    if not has_luacheck then pending("luacheck (lua-check) is not installed") return end
    local tmp = mount.tmpdir("check")
    finally(function() mount.rmtree(tmp) end)
    local checked = 0
    for name in dirent.files(mount.repo .. "/scripts") do
      -- redisfs.lua connects to a server when it loads
      if name:match("%.lua$") and name ~= "redisfs.lua" then
        local code, out = mount.run_host({ "--check", "scripts/" .. name, "-o",
          "root=" .. tmp .. ",db=" .. tmp .. "/x.db" })
        assert.equal(0, code, name .. ":\n" .. out)
        assert.matches(name .. ": ok, %d+ handlers?, root is a directory, luacheck clean", out)
        checked = checked + 1
      end
    end
    assert.is_true(checked >= 8)
  end)
end)
