-- scripts/sqlitefs.lua, mounted for real: files in an SQLite database that
-- survive a remount.
local mount = require("support.mount")
local sys = require("support.sys")

describe("scripts/sqlitefs.lua", function()
  local m, dir, db
  local function start() return mount.start{ script = "scripts/sqlitefs.lua", options = "db=" .. db } end
  setup(function()
    dir = mount.tmpdir("sqlite")
    db = dir .. "/files.db"
    m = start()
  end)
  teardown(function()
    mount.stop_all()
    mount.rmtree(dir)
  end)

  it("is at most 60 lines", function()
    local n = mount.count_lines("scripts/sqlitefs.lua")
    assert.is_true(n <= 60, n .. " lines")
  end)

  it("creates, lists, reads and writes files and directories", function()
    assert.same({}, sys.readdir(m.dir))
    assert.equal(6, sys.write_file(m:path("a.txt"), "hello\n"))
    assert.is_true(sys.mkdir(m:path("d"), tonumber("750", 8)))
    local binary = "\0\1\2zero\0bytes\255\n"
    assert.equal(#binary, sys.write_file(m:path("d/bin"), binary))
    assert.same({ "a.txt", "d" }, sys.readdir(m.dir))
    assert.same({ "bin" }, sys.readdir(m:path("d")))
    assert.equal("hello\n", sys.read_file(m:path("a.txt")))
    assert.equal(binary, sys.read_file(m:path("d/bin")))
    local st = sys.stat(m:path("d/bin"))
    assert.equal("file", st.type)
    assert.equal(#binary, st.size)
    assert.equal("dir", sys.stat(m:path("d")).type)
    assert.equal(tonumber("750", 8), sys.stat(m:path("d")).perm)
    assert.same({ nil, "ENOENT", 2 }, { sys.stat(m:path("nope")) })
  end)

  it("writes at offsets, truncates, chmods, renames and removes", function()
    local fd = assert(sys.open(m:path("a.txt"), sys.O.RDWR))
    assert.equal(3, sys.pwrite(fd, "XYZ", 8)) -- past the end: a hole of zeros
    assert.equal("hello\n\0\0XYZ", sys.pread(fd, 100, 0))
    sys.close(fd)
    assert.is_true(sys.truncate(m:path("a.txt"), 4))
    assert.equal("hell", sys.read_file(m:path("a.txt")))
    assert.equal(2, sys.write_file(m:path("a.txt"), "hi")) -- O_TRUNC
    assert.equal("hi", sys.read_file(m:path("a.txt")))
    assert.is_true(sys.chmod(m:path("a.txt"), tonumber("600", 8)))
    assert.equal(tonumber("600", 8), sys.stat(m:path("a.txt")).perm)

    assert.is_true(sys.mkdir(m:path("tmp")))
    assert.equal(4, sys.write_file(m:path("tmp/gone"), "gone"))
    assert.same({ nil, "ENOTEMPTY", 39 }, { sys.rmdir(m:path("tmp")) })
    assert.is_true(sys.unlink(m:path("tmp/gone")))
    assert.is_true(sys.rmdir(m:path("tmp")))
    assert.is_true(sys.mkdir(m:path("d/sub")))
    assert.equal(4, sys.write_file(m:path("d/sub/deep"), "deep"))
    assert.is_true(sys.rename(m:path("d"), m:path("e"))) -- moves everything below it
    assert.same({ "a.txt", "e" }, sys.readdir(m.dir))
    assert.equal("deep", sys.read_file(m:path("e/sub/deep")))
    assert.equal(5, sys.write_file(m:path("old"), "other"))
    assert.is_true(sys.rename(m:path("old"), m:path("e/sub/deep"))) -- replaces
    assert.equal("other", sys.read_file(m:path("e/sub/deep")))
    assert.same({ nil, "ENOENT", 2 }, { sys.stat(m:path("old")) })
    assert.same({ nil, "ENOENT", 2 }, { sys.stat(m:path("d/sub/deep")) })
  end)

  it("keeps everything in the database across a remount", function()
    m:stop()
    m = start()
    assert.same({ "a.txt", "e" }, sys.readdir(m.dir))
    assert.same({ "bin", "sub" }, sys.readdir(m:path("e")))
    assert.equal("hi", sys.read_file(m:path("a.txt")))
    assert.equal(tonumber("600", 8), sys.stat(m:path("a.txt")).perm)
    assert.equal("\0\1\2zero\0bytes\255\n", sys.read_file(m:path("e/bin")))
    assert.equal("other", sys.read_file(m:path("e/sub/deep")))
    -- and it really is an SQLite database, readable without moonfs
    local conn = require("luasql.sqlite3").sqlite3():connect(db)
    local cur = conn:execute("SELECT data FROM node WHERE path = '/e/sub/deep'")
    assert.equal("other", cur:fetch())
    cur:close()
    conn:close()
  end)

  it("unmounts cleanly and the host exits 0", function()
    m:stop()
    assert.is_false(mount.is_mounted(m.dir))
  end)
end)
