-- Faults: a killed host, a full or read-only backing filesystem, running
-- out of file descriptors. The caller sees the errno the backing
-- filesystem gave, and the host recovers.
local mount = require("support.mount")
local shell = require("support.shell")
local sys = require("support.sys")
local signal = require("posix.signal")
local bit = require("bit")
local O = sys.O

local run = shell.ok

local function fails(expected, ...)
  local ok, err = ...
  assert.is_nil(ok, "expected " .. expected .. ", the call succeeded")
  assert.equal(expected, err)
end

describe("faults", function()
  local dirs = {}
  local function tmp(tag)
    local d = mount.tmpdir(tag)
    dirs[#dirs + 1] = d
    return d
  end
  local tmpfs = {}
  local function small_tmpfs(size)
    local d = tmp("tmpfs")
    assert(run("mount -t tmpfs -o size=" .. size .. " moonfs-spec " .. d))
    tmpfs[#tmpfs + 1] = d
    return d
  end
  after_each(function()
    mount.stop_all()
    for _, d in ipairs(tmpfs) do run("umount -l " .. d) end
    tmpfs = {}
    for _, d in ipairs(dirs) do mount.rmtree(d) end
    dirs = {}
  end)

  it("after kill -9, fusermount3 -u recovers the mount point", function()
    local src = tmp("src")
    local m = mount.start{ script = "scripts/mirror.lua", options = "root=" .. src }
    m:signal(signal.SIGKILL)
    local how = m:wait_exit(5)
    assert.equal("killed", how)
    fails("ENOTCONN", sys.stat(m:path("x")))
    assert(run("fusermount3 -u " .. m.dir))
    assert.is_false(mount.is_mounted(m.dir))
    assert.equal("dir", sys.stat(m.dir).type)
    mount.rmtree(m.tmp)
  end)

  it("passes ENOSPC of a full backing filesystem to the caller", function()
    if not mount.need_root("mounts a small tmpfs") then return end
    local src = small_tmpfs("1m")
    local m = mount.start{ script = "scripts/mirror.lua", options = "root=" .. src }
    local fd = assert(sys.open(m:path("big"), bit.bor(O.CREAT, O.WRONLY), 420))
    local chunk = ("z"):rep(65536)
    local err
    for i = 0, 40 do
      local n, e = sys.pwrite(fd, chunk, i * 65536)
      if not n then err = e break end
    end
    assert.equal("ENOSPC", err)
    sys.close(fd)
    assert(sys.unlink(m:path("big")))
    assert(sys.write_file(m:path("small"), "fits again"))
    assert.equal("fits again", sys.read_file(m:path("small")))
    m:stop()
  end)

  it("passes EROFS of a read-only backing filesystem to the caller", function()
    if not mount.need_root("mounts a small tmpfs") then return end
    local src = small_tmpfs("1m")
    assert(sys.write_file(src .. "/existing", "old"))
    assert(run("mount -o remount,ro " .. src))
    local m = mount.start{ script = "scripts/mirror.lua", options = "root=" .. src }
    fails("EROFS", sys.open(m:path("new"), bit.bor(O.CREAT, O.WRONLY)))
    fails("EROFS", sys.mkdir(m:path("d")))
    fails("EROFS", sys.open(m:path("existing"), O.WRONLY))
    fails("EROFS", sys.unlink(m:path("existing")))
    assert.equal("old", sys.read_file(m:path("existing")))
    m:stop()
  end)

  it("gives EMFILE when the host runs out of fds, and recovers", function()
    local src = tmp("src")
    local m = mount.start{ script = "scripts/mirror.lua", options = "root=" .. src, nofile = 48 }
    local fds, err = {}, nil
    for i = 1, 100 do
      local fd, e = sys.open(m:path("f" .. i), bit.bor(O.CREAT, O.RDWR), 420)
      if not fd then err = e break end
      fds[#fds + 1] = fd
    end
    assert.equal("EMFILE", err)
    assert.is_true(#fds > 10)
    for _, fd in ipairs(fds) do sys.close(fd) end
    for i = 1, 60 do
      assert(sys.write_file(m:path("f" .. i), "ok " .. i))
    end
    assert.equal("ok 60", sys.read_file(m:path("f60")))
    m:stop()
  end)
end)
