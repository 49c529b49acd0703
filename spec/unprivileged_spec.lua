-- A user without root mounts through fusermount3: hello, memfs and the
-- mirror, daemonized as users run them. Passthrough is reported unavailable
-- once, with the reason, and the host serves file data itself; the user's
-- control sockets are in its own runtime directory and `moonfs list` shows
-- only its mounts.
--
-- Root sets up: /dev/fuse must be open to users (Debian's default mode is
-- 0666; libfuse 3.14 falls back to fusermount3 only when mount(2) fails
-- with EPERM, not when /dev/fuse cannot be opened), so the spec makes it
-- 0666 and puts the mode back afterwards; and it creates the user.
local mount = require("support.mount")
local daemon = require("support.daemon")
local json = require("support.json")
local users = require("support.users")
local pstat = require("posix.sys.stat")
local dirent = require("posix.dirent")

-- mount.need_root's pending() is not reachable from a support module, so
-- specs skip with busted's own.
local need_root = mount.need_root

local quote, sh = daemon.quote, daemon.sh
local moonfs = quote(mount.binary)
local UNAVAILABLE = "passthrough: unavailable, the host lacks CAP_SYS_ADMIN"

local function count(text, plain)
  local n, at = 0, 1
  while true do
    local i = text:find(plain, at, true)
    if not i then return n end
    n, at = n + 1, i + #plain
  end
end

-- The type and super options of the mount at dir.
local function mount_info(dir)
  for line in io.lines("/proc/self/mountinfo") do
    local point, fstype, super = line:match("^%S+ %S+ %S+ %S+ (%S+) .- %- (%S+) %S+ (%S+)$")
    if point == dir then return fstype, "," .. super .. "," end
  end
end

describe("an unprivileged user", function()
  local user, tmp, runtime, fuse_mode, fallback_dir
  local reason -- why the user cannot run moonfs from this tree, if it cannot

  -- Runs a shell command as the user (env: added to a clean environment).
  local function as_user(cmd, env)
    return sh(daemon.as(user, env) .. "sh -c " .. quote(cmd))
  end

  setup(function()
    if not mount.root then return end
    fuse_mode = pstat.stat("/dev/fuse").st_mode % 4096
    assert(pstat.chmod("/dev/fuse", tonumber("666", 8)))
    user = users.create("unpriv")
    tmp = mount.tmpdir("unpriv")
    runtime = tmp .. "/run"
    assert(sh("mkdir -m 700 " .. quote(runtime) .. " && chown -R " .. user.uid .. ":" .. user.gid
      .. " " .. quote(tmp)) == 0)
    fallback_dir = "/tmp/moonfs-" .. user.uid
    if as_user("test -x " .. moonfs .. " && test -r " .. quote(mount.repo .. "/scripts/mirror.lua")
      .. " && test -r " .. quote(mount.repo .. "/lua/moonfs/init.lua")) ~= 0 then
      reason = "the user " .. user.name .. " cannot read " .. mount.repo
    end
  end)

  teardown(function()
    daemon.stop_all()
    if fuse_mode then pstat.chmod("/dev/fuse", fuse_mode) end
    if user then
      local st = pstat.lstat(fallback_dir)
      if st and st.st_uid == user.uid then sh("rm -rf " .. quote(fallback_dir)) end
    end
    users.remove_all()
    mount.rmtree(tmp)
  end)

  after_each(function() daemon.stop_all() end)

  local function ready()
    if not need_root("setting up /dev/fuse and a user") then return false end
    if reason then
      pending(reason)
      return false
    end
    return true
  end

  -- The user's daemonized mount of script; checks it went through
  -- fusermount3 (the kernel has the user as its owner).
  local function user_mount(script, options, env)
    local d = daemon.start{ script = script, options = options, as = user, env = env }
    local fstype, super = mount_info(d.dir)
    assert.equal("fuse.moonfs", fstype)
    assert.matches(",user_id=" .. user.uid .. ",", super, 1, true)
    return d
  end

  local function says_unavailable_once(d)
    local log = daemon.log_text(d)
    assert.equal(1, count(log, UNAVAILABLE), log)
  end

  it("mounts hello through fusermount3 and reads it", function()
    if not ready() then return end
    local d = user_mount("scripts/hello.lua", nil, { XDG_RUNTIME_DIR = runtime })
    assert.same({ 0, "Hello from Lua!\n" }, { as_user("cat " .. quote(d.dir .. "/hello.txt")) })
    assert.same({ 0, "Hello from Lua!\n" }, { as_user("cat " .. quote(d.dir .. "/hello.txt")) })
    -- without allow_other the mount is the user's alone, root included
    local f, err = io.open(d.dir .. "/hello.txt")
    assert.is_nil(f)
    assert.matches("Permission denied", err, 1, true)
    says_unavailable_once(d)
    -- its control socket is in $XDG_RUNTIME_DIR/moonfs, the user's, mode 0600
    local sockets = {}
    for name in dirent.files(runtime .. "/moonfs") do
      if name:match("%.sock$") then sockets[#sockets + 1] = runtime .. "/moonfs/" .. name end
    end
    assert.equal(1, #sockets)
    local st = pstat.stat(sockets[1])
    assert.equal(user.uid, st.st_uid)
    assert.equal(tonumber("600", 8), st.st_mode % 4096)
    daemon.stop(d) -- fusermount3 -u as the user; the host exits, its log is clean
    assert.is_nil(pstat.lstat(sockets[1]))
  end)

  it("mounts memfs and writes, renames and reads in it", function()
    if not ready() then return end
    local d = user_mount("scripts/memfs.lua")
    local dir = quote(d.dir)
    local code, out = as_user("cd " .. dir .. " && mkdir d && echo data > d/f && mv d/f g && cat g"
      .. " && ls -a d && stat -c '%U %s' g")
    assert.equal(0, code, out)
    assert.equal("data\n.\n..\n" .. user.name .. " 5\n", out)
    says_unavailable_once(d)
    -- without XDG_RUNTIME_DIR the socket is in /tmp/moonfs-UID, the user's alone
    local st = pstat.lstat(fallback_dir)
    assert.is_truthy(st)
    assert.equal(user.uid, st.st_uid)
    assert.equal(tonumber("700", 8), st.st_mode % 4096)
    daemon.stop(d)
  end)

  it("mounts the mirror of its own directory; the host serves the data", function()
    if not ready() then return end
    local src = tmp .. "/src"
    assert.equal(0, (as_user("mkdir " .. quote(src))))
    local d = user_mount("scripts/mirror.lua", "root=" .. src)
    local code, out = as_user("cd " .. quote(d.dir) .. " && head -c 300000 /dev/zero | tr '\\0' x > big"
      .. " && echo hi > small && cat small && wc -c < big")
    assert.equal(0, code, out)
    assert.equal("hi\n300000\n", out)
    local st = pstat.stat(src .. "/big")
    assert.equal(300000, st.st_size)
    assert.equal(user.uid, st.st_uid)

    -- the user asks its own mount for the counters
    local scode, text = as_user(moonfs .. " stats " .. quote(d.dir) .. " --json")
    assert.equal(0, scode, text)
    local stats = json.decode(text)
    assert.equal(0, stats.passthrough_opens)
    assert.is_true(stats.fallback_opens >= 3, text) -- big, small, small again
    assert.equal(0, stats.backing_files)
    -- reads and writes reached the host, and the host served them in C
    assert.is_true(stats.operations.write.requests >= 2, text)
    assert.equal(0, stats.operations.write.lua_calls)
    assert.is_true(stats.operations.read.requests >= 1, text)
    assert.equal(0, stats.operations.read.lua_calls)
    says_unavailable_once(d)
    daemon.stop(d)
  end)

  it("sees only its own mounts in moonfs list", function()
    if not ready() then return end
    local root_mount = mount.start{ script = "scripts/hello.lua" }
    local a = user_mount("scripts/hello.lua", nil, { XDG_RUNTIME_DIR = runtime })
    local b = user_mount("scripts/memfs.lua")

    local mine = daemon.list(user)
    assert.is_truthy(mine[b.dir], "the user's mount is not listed")
    assert.equal(b.pid, mine[b.dir].pid)
    assert.is_nil(mine[a.dir]) -- that one's socket is under XDG_RUNTIME_DIR
    assert.is_nil(mine[root_mount.dir])
    local in_runtime = daemon.list(user, { XDG_RUNTIME_DIR = runtime })
    assert.is_truthy(in_runtime[a.dir])
    assert.is_nil(in_runtime[b.dir])
    assert.is_nil(in_runtime[root_mount.dir])
    local roots = daemon.list()
    assert.is_truthy(roots[root_mount.dir])
    assert.is_nil(roots[a.dir])
    assert.is_nil(roots[b.dir])
    -- nor can the user reach root's mount
    local code, out = as_user(moonfs .. " stats " .. quote(root_mount.dir))
    assert.equal(1, code, out)
    daemon.stop(a)
    daemon.stop(b)
    root_mount:stop()
  end)

  it("needs user_allow_other in /etc/fuse.conf for -o allow_other", function()
    if not ready() then return end
    local conf = io.open("/etc/fuse.conf")
    local text = conf and conf:read("*a") or ""
    if conf then conf:close() end
    if text:match("\n%s*user_allow_other") or text:match("^%s*user_allow_other") then
      pending("/etc/fuse.conf allows it on this machine")
      return
    end
    local dir = tmp .. "/other"
    assert.equal(0, (as_user("mkdir " .. quote(dir))))
    local code, out = as_user(moonfs .. " " .. quote(mount.repo .. "/scripts/hello.lua") .. " "
      .. quote(dir) .. " -o allow_other,log=" .. quote(tmp .. "/other.log"))
    assert.equal(1, code, out)
    assert.matches("option allow_other only allowed if 'user_allow_other' is set in /etc/fuse.conf",
      out, 1, true)
    assert.is_nil(mount_info(dir))
  end)
end)
