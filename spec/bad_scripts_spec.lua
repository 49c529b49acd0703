-- A script's mistakes never take the mount down: a raise in any handler is
-- EIO with a logged traceback, and the next request is served as usual.
local mount = require("support.mount")
local sys = require("support.sys")
local bit = require("bit")

describe("a handler that raises", function()
  local m
  setup(function()
    m = mount.start{ script = mount.repo .. "/spec/fixtures/raise_all.lua",
      allow = { "raised an error", "raised in ", "raise_all%.lua", "replying EIO", "kernel ignores release" } }
  end)
  teardown(function() mount.stop_all() end)

  local function eio(...)
    assert.same({ nil, "EIO", 5 }, { ... })
  end

  it("gives EIO for every operation, and the mount keeps serving", function()
    local p = function(x) return m:path(x) end
    eio(sys.stat(p("raise")))
    eio(sys.chmod(p("file"), 420))
    eio(sys.readlink(p("link")))
    eio(sys.mknod(p("fifo"), 0x1000 + 420))
    eio(sys.mkdir(p("newdir")))
    eio(sys.unlink(p("file")))
    eio(sys.rmdir(p("dir")))
    eio(sys.symlink("x", p("sym")))
    eio(sys.rename(p("file"), p("other")))
    eio(sys.link(p("file"), p("hard")))
    eio(sys.open(p("new"), bit.bor(sys.O.CREAT, sys.O.WRONLY)))
    eio(sys.open(p("file"), sys.O.RDONLY))
    eio(sys.readdir(m.dir))
    eio(sys.statvfs(m.dir))
    eio(sys.setxattr(p("file"), "user.a", "1"))
    eio(sys.getxattr(p("file"), "user.a"))
    eio(sys.listxattr(p("file")))
    eio(sys.removexattr(p("file"), "user.a"))
    local fd = assert(sys.open(p("rw"), sys.O.RDWR))
    eio(sys.pread(fd, 5, 0))
    eio(sys.pwrite(fd, "hello", 0))
    eio(sys.fsync(fd))
    eio(sys.fallocate(fd, 0, 0, 100))
    eio(sys.close(fd)) -- flush raised; release raises too, which the kernel ignores
    assert.equal("dir", sys.stat(p("dir")).type)
    assert.equal(10, sys.stat(p("file")).size)
  end)

  it("logs each raise with the script's file and line", function()
    local log = m:log_text()
    for _, op in ipairs({ "getattr", "setattr", "mkdir", "rename", "open", "read", "write",
      "readdir", "statfs", "getxattr", "flush" }) do
      assert.matches("handler '" .. op .. "' %([^)]*%) raised an error", log)
    end
    assert.matches("raise_all.lua:2: raised in mkdir", log, 1, true)
  end)

  it("unmounts cleanly (release, which the kernel sends after close returns, was logged too)", function()
    m:stop()
    assert.matches("handler 'release' (/rw) raised an error", m.log_at_stop, 1, true)
  end)
end)
