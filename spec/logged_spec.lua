-- scripts/logged.lua, mounted for real: a mirror that logs each change to
-- names and metadata while file data goes passthrough.
local mount = require("support.mount")
local sys = require("support.sys")

describe("scripts/logged.lua", function()
  local m, src
  setup(function()
    src = mount.tmpdir("logged")
    assert(sys.write_file(src .. "/data.txt", "original"))
    m = mount.start{ script = "scripts/logged.lua", options = "root=" .. src }
  end)
  teardown(function()
    mount.stop_all()
    mount.rmtree(src)
  end)

  -- The log lines written since `mark` (a length of the log).
  local function changes_since(mark)
    local lines = {}
    for line in m:log_text():sub(mark + 1):gmatch("[^\n]+") do
      if line:find("change: ", 1, true) then lines[#lines + 1] = line:match("change: (.*)$") end
    end
    return lines
  end

  it("is at most 60 lines", function()
    local n = mount.count_lines("scripts/logged.lua")
    assert.is_true(n <= 60, n .. " lines")
  end)

  it("logs every change to names and metadata, and makes it", function()
    local mark = #m:log_text()
    local p = function(rel) return m:path(rel) end
    assert(sys.write_file(p("new.txt"), "abc", nil, tonumber("640", 8)))
    assert(sys.mkdir(p("d"), tonumber("750", 8)))
    assert(sys.rename(p("new.txt"), p("d/moved.txt")))
    assert(sys.chmod(p("d/moved.txt"), tonumber("600", 8)))
    assert(sys.truncate(p("d/moved.txt"), 2))
    assert(sys.utimens(p("d/moved.txt"), { 1000000000, 0 }, { 1234567890, 0 }))
    assert(sys.symlink("moved.txt", p("d/sym")))
    assert(sys.link(p("d/moved.txt"), p("hard")))
    assert(sys.setxattr(p("d/moved.txt"), "user.color", "blue"))
    assert(sys.removexattr(p("d/moved.txt"), "user.color"))
    -- an existing file opened with O_TRUNC: the kernel truncates with a
    -- setattr before the open (moonfs asks it to, so that O_TRUNC clears
    -- setuid/setgid like any truncate)
    assert(sys.write_file(p("data.txt"), "over"))
    assert.same({ nil, "ENOTEMPTY", 39 }, { sys.rmdir(p("d")) })
    assert(sys.unlink(p("d/sym")))
    assert(sys.unlink(p("hard")))
    assert.same({
      "create /new.txt mode=0640", "mkdir /d mode=0750", "rename /new.txt -> /d/moved.txt",
      "setattr /d/moved.txt mode=0600", "setattr /d/moved.txt size=2",
      "setattr /d/moved.txt atime=1000000000 mtime=1234567890",
      "symlink /d/sym -> moved.txt", "link /hard = /d/moved.txt",
      "setxattr /d/moved.txt user.color (4 bytes)", "removexattr /d/moved.txt user.color",
      "setattr /data.txt size=0", "rmdir /d  -> ENOTEMPTY", "unlink /d/sym", "unlink /hard",
    }, changes_since(mark))
    -- the mirror did them all
    assert.same({ "d", "data.txt" }, sys.readdir(src))
    assert.same({ "moved.txt" }, sys.readdir(src .. "/d"))
    assert.equal("ab", sys.read_file(src .. "/d/moved.txt"))
    assert.equal("over", sys.read_file(src .. "/data.txt"))
    local st = sys.stat(src .. "/d/moved.txt")
    assert.equal(tonumber("600", 8), st.perm)
    assert.equal(1234567890, st.mtime_sec)
    assert.equal(tonumber("750", 8), sys.stat(src .. "/d").perm)
  end)

  it("passes file data through: no read or write request reaches the host", function()
    if not mount.need_passthrough() then return end
    local before = m:stats()
    local mark = #m:log_text()
    local fd = assert(sys.open(m:path("data.txt"), sys.O.RDWR))
    local block = ("0123456789abcdef"):rep(4096) -- 64 KiB
    for i = 0, 15 do assert.equal(#block, sys.pwrite(fd, block, i * #block)) end
    assert.equal(block, sys.pread(fd, #block, 3 * #block))
    sys.close(fd)
    assert.equal(16 * #block, #sys.read_file(m:path("data.txt")))
    assert.equal(16 * #block, sys.stat(src .. "/data.txt").size)
    local after = m:stats()
    assert.equal(before.requests.read or 0, after.requests.read or 0)
    assert.equal(before.requests.write or 0, after.requests.write or 0)
    assert.is_true(after.passthrough_opens > before.passthrough_opens)
    assert.same({}, changes_since(mark)) -- reads and writes change no metadata
  end)

  it("unmounts cleanly and the host exits 0", function()
    m:stop()
    assert.is_false(mount.is_mounted(m.dir))
  end)
end)
