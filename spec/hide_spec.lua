-- scripts/hide.lua, mounted for real: a mirror in which names matching
-- patterns do not exist and cannot be made.
local mount = require("support.mount")
local sys = require("support.sys")

describe("scripts/hide.lua", function()
  local m, src
  setup(function()
    src = mount.tmpdir("hide")
    for _, name in ipairs({ "keep.txt", "a.bak", "a.bakx", "x.tmp", "xtmp", "core", "core.txt" }) do
      assert(sys.write_file(src .. "/" .. name, "contents of " .. name))
    end
    assert(sys.mkdir(src .. "/sub"))
    assert(sys.write_file(src .. "/sub/deep.bak", "deep"))
    assert(sys.write_file(src .. "/sub/ok", "ok"))
    assert(sys.mkdir(src .. "/cache.tmp"))
    assert(sys.write_file(src .. "/cache.tmp/inner", "inner"))
    -- a Lua pattern and two globs
    m = mount.start{ script = "scripts/hide.lua", options = "root=" .. src .. ",hide=%.bak$:*.tmp:core" }
  end)
  teardown(function()
    mount.stop_all()
    mount.rmtree(src)
  end)

  it("is at most 60 lines", function()
    local n = mount.count_lines("scripts/hide.lua")
    assert.is_true(n <= 60, n .. " lines")
  end)

  it("leaves hidden names out of listings", function()
    assert.same({ "a.bakx", "core.txt", "keep.txt", "sub", "xtmp" }, sys.readdir(m.dir))
    assert.same({ "ok" }, sys.readdir(m:path("sub")))
  end)

  it("gives ENOENT for hidden names and everything below them", function()
    for _, rel in ipairs({ "a.bak", "x.tmp", "core", "sub/deep.bak", "cache.tmp", "cache.tmp/inner" }) do
      assert.same({ nil, "ENOENT", 2 }, { sys.stat(m:path(rel)) }, rel)
    end
    assert.same({ nil, "ENOENT", 2 }, { sys.open(m:path("a.bak"), sys.O.RDONLY) })
    assert.same({ nil, "ENOENT", 2 }, { sys.unlink(m:path("a.bak")) })
    assert.same({ nil, "ENOENT", 2 }, { sys.rename(m:path("x.tmp"), m:path("visible")) })
    assert.same({ nil, "ENOENT", 2 }, { sys.readdir(m:path("cache.tmp")) })
    assert.equal("contents of a.bakx", sys.read_file(m:path("a.bakx")))
    assert.equal("ok", sys.read_file(m:path("sub/ok")))
  end)

  it("refuses to make a hidden name with EACCES", function()
    assert.same({ nil, "EACCES", 13 }, { sys.write_file(m:path("new.bak"), "x") })
    assert.same({ nil, "EACCES", 13 }, { sys.write_file(m:path("a.bak"), "overwrite") }) -- exists below
    assert.same({ nil, "EACCES", 13 }, { sys.mkdir(m:path("d.tmp")) })
    assert.same({ nil, "EACCES", 13 }, { sys.symlink("keep.txt", m:path("core")) })
    assert.same({ nil, "EACCES", 13 }, { sys.link(m:path("keep.txt"), m:path("sub/k.bak")) })
    assert.same({ nil, "EACCES", 13 }, { sys.rename(m:path("keep.txt"), m:path("keep.bak")) })
    assert.equal("contents of a.bak", sys.read_file(src .. "/a.bak"))
    assert.same({ "a.bak", "a.bakx", "cache.tmp", "core", "core.txt", "keep.txt", "sub", "x.tmp", "xtmp" },
      sys.readdir(src))
  end)

  it("mirrors everything else, data passthrough", function()
    local before = m:stats()
    assert.equal(5, sys.write_file(m:path("new.txt"), "fresh"))
    assert.equal("fresh", sys.read_file(m:path("new.txt")))
    assert.is_true(sys.rename(m:path("new.txt"), m:path("sub/moved.txt")))
    assert.equal("fresh", sys.read_file(src .. "/sub/moved.txt"))
    local after = m:stats()
    if mount.passthrough then
      assert.is_true(after.passthrough_opens >= before.passthrough_opens + 2)
      assert.equal(before.requests.read or 0, after.requests.read or 0)
    else -- the host serves the data from the fd, still without Lua
      assert.is_true(after.fallback_opens >= before.fallback_opens + 2)
    end
    assert.equal(before.lua.read or 0, after.lua.read or 0)
  end)

  it("hides *.bak by default", function()
    local d = mount.start{ script = "scripts/hide.lua", options = "root=" .. src }
    assert.same({ "a.bakx", "cache.tmp", "core", "core.txt", "keep.txt", "sub", "x.tmp", "xtmp" },
      sys.readdir(d.dir))
    assert.same({ nil, "ENOENT", 2 }, { sys.stat(d:path("a.bak")) })
    d:stop()
  end)

  -- The mirror's stats are a stat directory, taken by name: the filtered
  -- listing keeps them, and ls -l needs no lookup per name.
  it("gives ls -l the attributes with the names, hidden ones left out", function()
    local before = m:stats()
    local p = io.popen("ls -ln '" .. m.dir .. "'")
    local out = p:read("*a")
    p:close()
    assert.matches(" keep.txt\n", out)
    assert.not_matches("%.bak\n", out)
    local lookups = (m:stats().requests.lookup or 0) - (before.requests.lookup or 0)
    assert.equal(0, lookups)
  end)

  it("unmounts cleanly and the host exits 0", function()
    m:stop()
    assert.is_false(mount.is_mounted(m.dir))
  end)
end)
