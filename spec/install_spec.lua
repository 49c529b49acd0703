-- `make install` into a temporary PREFIX, then mount(8) and an fstab line
-- with the installed moonfs.
--
-- How mount(8) reaches moonfs (util-linux 2.38, fuse3 3.14 on Debian 12):
-- for type fuse.moonfs it runs /sbin/mount.fuse (mount.fuse3), which runs
-- `moonfs SOURCE MOUNTPOINT -o OPTIONS` through /bin/sh. mount(8) removes
-- PATH from the helper's environment, so the shell finds moonfs on its
-- default PATH (/usr/local/bin, /usr/bin, ...), never in PREFIX/bin of a
-- temporary PREFIX. So the mounts run in a private mount namespace in which
-- the temporary PREFIX is bind-mounted on /usr/local: exactly what
-- `make install` (PREFIX=/usr/local) gives, without touching the system.
local mount = require("support.mount")
local shell = require("support.shell")
local daemon = require("support.daemon")
local unistd = require("posix.unistd")
local signal = require("posix.signal")
local wait = require("posix.sys.wait")
local pstat = require("posix.sys.stat")

-- mount.need_root's pending() is not reachable from a support module, so
-- specs skip with busted's own.
local need_root = mount.need_root

local quote, sh = daemon.quote, daemon.sh

local read = shell.read_text

local function ok(cmd)
  local r = os.execute(cmd)
  return r == true or r == 0
end

local write = shell.write_text

describe("make install", function()
  local tmp, prefix

  setup(function()
    tmp = mount.tmpdir("install")
    prefix = tmp .. "/prefix"
  end)
  teardown(function() mount.rmtree(tmp) end)

  local function make(target)
    -- -o moonfs: install the host the specs run, never rebuild it here
    return sh("make -C " .. quote(mount.repo) .. " -o moonfs " .. target .. " DESTDIR= PREFIX="
      .. quote(prefix))
  end

  it("installs the host, its Lua library, the scripts and the man page in PREFIX", function()
    if not pstat.stat(mount.repo .. "/moonfs") then
      pending("no ./moonfs to install (make builds it)")
      return
    end
    local code, out = make("install")
    assert.equal(0, code, out)
    local bin = pstat.stat(prefix .. "/bin/moonfs")
    assert.is_truthy(bin)
    assert.equal(tonumber("755", 8), bin.st_mode % 4096)
    for _, rel in ipairs({ "share/moonfs/lua/moonfs/init.lua", "share/moonfs/lua/moonfs/mirror.lua",
      "share/moonfs/scripts/hello.lua", "share/moonfs/scripts/mirror.lua",
      "share/man/man1/moonfs.1" }) do
      assert.is_truthy(pstat.stat(prefix .. "/" .. rel), "not installed: " .. rel)
    end
    assert.equal(read(mount.repo .. "/host/moonfs.1"), read(prefix .. "/share/man/man1/moonfs.1"))
    -- man finds the page in PREFIX's man directory and renders it
    local mcode, page = sh("LC_ALL=C.UTF-8 MANWIDTH=80 man -M " .. quote(prefix .. "/share/man")
      .. " moonfs")
    assert.equal(0, mcode, page)
    assert.matches("moonfs - mount a filesystem whose behaviour is a Lua script", page, 1, true)
    local vcode, version = sh(quote(prefix .. "/bin/moonfs") .. " --version")
    assert.equal(0, vcode)
    assert.matches("^moonfs %d", version)
  end)

  describe("then mount(8)", function()
    local ns -- pid of a process holding a private mount namespace
    local points = {}

    -- Runs a shell command in the namespace.
    local function in_ns(cmd)
      return sh("nsenter -t " .. ns .. " -m -- sh -c " .. quote(cmd))
    end

    local function mounted(dir)
      for line in io.lines("/proc/" .. ns .. "/mountinfo") do
        local point, fstype = line:match("^%S+ %S+ %S+ %S+ (%S+) .- %- (%S+) ")
        if point == dir then return fstype end
      end
    end

    -- The options of the mount at dir as /proc shows them: mount and super.
    local function options(dir)
      for line in io.lines("/proc/" .. ns .. "/mountinfo") do
        local point, opts, _, super = line:match("^%S+ %S+ %S+ %S+ (%S+) (%S+)(.-) %- %S+ %S+ (%S+)$")
        if point == dir then return "," .. opts .. ",", "," .. super .. "," end
      end
    end

    -- The one host serving dir, and its arguments.
    local function host_of(dir)
      local pids = daemon.pids_for(dir)
      assert.equal(1, #pids, "hosts for " .. dir .. ": " .. #pids)
      return pids[1], daemon.cmdline(pids[1])
    end

    local function unmount(dir)
      local pid = daemon.pids_for(dir)[1]
      local code, out = in_ns("umount " .. quote(dir))
      assert.equal(0, code, out)
      assert.is_nil(mounted(dir))
      if pid then assert.is_true(daemon.wait_gone(pid, 10), "the host did not exit") end
    end

    setup(function()
      if not mount.root or not pstat.stat(prefix .. "/bin/moonfs") then return end
      ns = unistd.fork()
      if ns == 0 then
        unistd.execp("unshare", { [0] = "unshare", "--mount", "--propagation", "private",
          "sleep", "600" })
        unistd._exit(127)
      end
      local own = unistd.readlink("/proc/self/ns/mnt")
      for _ = 1, 250 do
        local theirs = unistd.readlink("/proc/" .. ns .. "/ns/mnt")
        if theirs and theirs ~= own then break end
        mount.sleep(0.02)
      end
      assert(unistd.readlink("/proc/" .. ns .. "/ns/mnt") ~= own, "unshare made no namespace")
      local code, out = in_ns("mount --bind " .. quote(prefix) .. " /usr/local")
      assert(code == 0, out)
    end)

    teardown(function()
      if not ns then return end
      for _, dir in ipairs(points) do
        if mounted(dir) then in_ns("umount -l " .. quote(dir)) end
        for _, pid in ipairs(daemon.pids_for(dir)) do
          if not daemon.wait_gone(pid, 5) then signal.kill(pid, signal.SIGKILL) end
        end
      end
      signal.kill(ns, signal.SIGKILL)
      wait.wait(ns)
    end)

    it("mount -t fuse.moonfs SCRIPT DIR serves the script", function()
      if not need_root("mount(8)") then return end
      assert.is_truthy(ns, "make install did not run")
      local dir = tmp .. "/hello"
      points[#points + 1] = dir
      assert.is_true(ok("mkdir " .. quote(dir)))
      local script = "/usr/local/share/moonfs/scripts/hello.lua"
      local code, out = in_ns("mount -t fuse.moonfs " .. script .. " " .. quote(dir)
        .. " -o timeout=0")
      assert.equal(0, code, out)
      assert.equal("fuse.moonfs", mounted(dir))
      local ccode, text = in_ns("cat " .. quote(dir .. "/hello.txt"))
      assert.equal(0, ccode)
      assert.equal("Hello from Lua!\n", text)
      -- what mount.fuse3 ran: the installed moonfs, found on the shell's PATH
      local pid, args = host_of(dir)
      assert.equal("moonfs", args[1])
      assert.same({ script, dir, "-o" }, { args[2], args[3], args[4] })
      assert.matches("timeout=0", args[5], 1, true)
      assert.equal("/usr/local/bin/moonfs", daemon.readlink("/proc/" .. pid .. "/exe"))
      unmount(dir)
    end)

    it("an fstab line with _netdev, nofail and x-systemd.automount mounts the mirror", function()
      if not need_root("mount(8)") then return end
      assert.is_truthy(ns, "make install did not run")
      local dir, src = tmp .. "/mirror", tmp .. "/src"
      points[#points + 1] = dir
      assert.is_true(ok("mkdir " .. quote(dir) .. " " .. quote(src)))
      write(src .. "/a", "from the mirrored directory\n")
      local fstab = tmp .. "/fstab"
      write(fstab, "# as users write it\n"
        .. "/usr/local/share/moonfs/scripts/mirror.lua  " .. dir .. "  fuse.moonfs  root=" .. src
        .. ",allow_other,nosuid,nodev,_netdev,nofail,x-systemd.automount  0  0\n")
      local code, out = in_ns("mount --fstab " .. quote(fstab) .. " " .. quote(dir))
      assert.equal(0, code, out)
      assert.equal("fuse.moonfs", mounted(dir))
      local ccode, text = in_ns("cat " .. quote(dir .. "/a"))
      assert.equal(0, ccode, text)
      assert.equal("from the mirrored directory\n", text)
      local wcode, wout = in_ns("echo written > " .. quote(dir .. "/b"))
      assert.equal(0, wcode, wout)
      assert.equal("written\n", read(src .. "/b"))

      -- the options that reached moonfs: mount(8) keeps x-* and mount.fuse3
      -- _netdev and nofail to themselves
      local _, args = host_of(dir)
      local given = "," .. args[#args] .. ","
      for _, want in ipairs({ "root=" .. src, "allow_other", "nosuid", "nodev" }) do
        assert.matches("," .. want .. ",", given, 1, true)
      end
      for _, absent in ipairs({ "_netdev", "nofail", "x-systemd", "defaults" }) do
        assert.is_nil(given:find(absent, 1, true), absent .. " reached moonfs: " .. given)
      end
      local opts, super = options(dir)
      assert.matches(",nosuid,", opts, 1, true)
      assert.matches(",nodev,", opts, 1, true)
      assert.matches(",allow_other,", super, 1, true)
      assert.matches(",default_permissions,", super, 1, true) -- the host's choice with allow_other
      unmount(dir)
    end)
  end)

  it("make uninstall removes what make install put there", function()
    if not pstat.stat(prefix .. "/bin/moonfs") then
      pending("nothing was installed")
      return
    end
    local code, out = make("uninstall")
    assert.equal(0, code, out)
    local _, files = sh("find " .. quote(prefix) .. " -type f")
    assert.equal("", files)
  end)
end)
