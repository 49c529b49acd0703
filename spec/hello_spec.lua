-- The hello example, mounted for real.
local mount = require("support.mount")
local sys = require("support.sys")

describe("scripts/hello.lua", function()
  local m
  setup(function() m = mount.start{ script = "scripts/hello.lua" } end)
  teardown(function() mount.stop_all() end)

  it("is at most 15 lines", function()
    local n = 0
    for _ in io.lines(mount.repo .. "/scripts/hello.lua") do n = n + 1 end
    assert.is_true(n <= 15, n .. " lines")
  end)

  it("lists and reads its file", function()
    assert.same({ "hello.txt" }, sys.readdir(m.dir))
    assert.equal("Hello from Lua!\n", sys.read_file(m:path("hello.txt")))
    local st = sys.stat(m:path("hello.txt"))
    assert.equal("file", st.type)
    assert.equal(16, st.size)
    assert.equal(tonumber("444", 8), st.perm)
    assert.equal("dir", sys.stat(m.dir).type)
  end)

  it("reads at offsets", function()
    local fd = assert(sys.open(m:path("hello.txt"), sys.O.RDONLY))
    assert.equal("from", sys.pread(fd, 4, 6))
    assert.equal("", sys.pread(fd, 10, 100))
    sys.close(fd)
  end)

  it("refuses what it cannot do", function()
    assert.same({ nil, "ENOENT", 2 }, { sys.stat(m:path("nope")) })
    assert.same({ nil, "EROFS", 30 }, { sys.open(m:path("hello.txt"), sys.O.WRONLY) })
    local _, err = sys.mkdir(m:path("d"))
    assert.equal("ENOSYS", err)
    _, err = sys.unlink(m:path("hello.txt"))
    assert.equal("ENOSYS", err)
  end)

  it("unmounts cleanly and the host exits 0", function()
    m:stop()
    assert.is_false(mount.is_mounted(m.dir))
  end)
end)
