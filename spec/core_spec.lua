-- The script API of moonfs 0.2 and the defects of issue 9 (part 1), checked
-- from outside: real mounts driven with ordinary system calls.
--
--   explicit fd handover (moonfs.fd), -o spin, O_DIRECT on every mount kind,
--   renameat2 flags, the system's constants, create in one Lua call,
--   readdir's one shape, moonfs.sys.stat values, ENOSYS from open/opendir.
local mount = require("support.mount")
local sys = require("support.sys")
local bit = require("bit")
local ffi = require("ffi")
local dirent = require("posix.dirent")

local O = sys.O
local fixtures = mount.repo .. "/spec/fixtures/"
local MiB = 1048576

-- Renamed symbols, so no other spec's declarations can clash with these.
pcall(ffi.cdef, [[int core_posix_memalign(void **p, size_t align, size_t size) __asm__("posix_memalign");]])
pcall(ffi.cdef, [[void core_free(void *p) __asm__("free");]])
pcall(ffi.cdef, [[void *core_opendir(const char *path) __asm__("opendir");]])
pcall(ffi.cdef, [[int core_closedir(void *dir) __asm__("closedir");]])
pcall(ffi.cdef, [[
struct core_dirent { uint64_t d_ino; int64_t d_off; uint16_t d_reclen; uint8_t d_type; char d_name[256]; };
struct core_dirent *core_readdir(void *dir) __asm__("readdir");
]])

---------------------------------------------------------------------------
-- helpers

local function fails(expected, ...)
  local ok, err = ...
  assert.is_nil(ok, "expected " .. expected .. ", the call succeeded (" .. tostring(ok) .. ")")
  assert.equal(expected, err)
end

-- Deterministic bytes that differ at every offset of a block.
local function pattern(size, seed)
  local t = {}
  for i = 1, 4096 do t[i] = string.char((i * 31 + seed * 7) % 256) end
  return (table.concat(t)):rep(math.ceil(size / 4096)):sub(1, size)
end

-- The same text as spec/fixtures/core_pipes.lua makes.
local function pipe_pattern(n, seed)
  local t = {}
  for i = 1, n do t[i] = string.char(32 + (i * 7 + seed) % 95) end
  return table.concat(t)
end

--- The fds of a process: {[fd] = link target}.
local function fds_of(pid)
  local fds = {}
  local dir = "/proc/" .. pid .. "/fd"
  for name in dirent.files(dir) do
    if name:match("^%d+$") then
      -- (luaposix's readlink fails on /proc links, whose st_size is wrong)
      fds[tonumber(name)] = sys.readlink(dir .. "/" .. name) or "?"
    end
  end
  return fds
end

local function count(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n
end

--- Values of C macros from the system headers, compiled and run once:
-- {["O.DIRECT"] = 16384, ["S.IFDIR"] = 16384, RENAME_WHITEOUT = 4, ...}.
-- `names` maps a key to the macro (`["O.DIRECT"] = "O_DIRECT"`).
local function header_constants(names)
  local dir = mount.tmpdir("probe")
  local lines = {
    "#define _GNU_SOURCE",
    "#include <fcntl.h>",
    "#include <stdio.h>",
    "#include <sys/stat.h>",
    "#include <sys/xattr.h>",
    "int main(void) {",
  }
  for key, macro in pairs(names) do
    lines[#lines + 1] = ('  printf("%%s=%%lld\\n", "%s", (long long)(%s));'):format(key, macro)
  end
  lines[#lines + 1] = "  return 0;\n}\n"
  local f = assert(io.open(dir .. "/probe.c", "w"))
  f:write(table.concat(lines, "\n"))
  f:close()
  local p = io.popen(("cc -o '%s/probe' '%s/probe.c' 2>&1 && '%s/probe'"):format(dir, dir, dir))
  local out = p:read("*a")
  p:close()
  mount.rmtree(dir)
  local values = {}
  for key, value in out:gmatch("([%w_.]+)=(%-?%d+)") do values[key] = tonumber(value) end
  for key in pairs(names) do
    assert(values[key], "the C probe gave no value for " .. key .. ":\n" .. out)
  end
  return values
end

local O_DIRECT -- the system's, from luaposix when it has it, else the headers
local function o_direct()
  if not O_DIRECT then
    O_DIRECT = require("posix.fcntl").O_DIRECT
      or header_constants({ ["O.DIRECT"] = "O_DIRECT" })["O.DIRECT"]
  end
  return O_DIRECT
end

--- A 4096-aligned buffer of `size` bytes (freed by the caller with core_free).
local function aligned(size)
  local p = ffi.new("void *[1]")
  assert(ffi.C.core_posix_memalign(p, 4096, size) == 0, "posix_memalign failed")
  return ffi.cast("char *", p[0])
end

--- Entries of a directory as libc's readdir gives them:
-- {name = {ino = , type = }}, "." and ".." included.
local function dir_entries(path)
  local d = ffi.C.core_opendir(path)
  if d == nil then return nil, ffi.errno() end
  local entries = {}
  while true do
    local e = ffi.C.core_readdir(d)
    if e == nil then break end
    entries[ffi.string(e.d_name)] = { ino = tonumber(e.d_ino), type = e.d_type }
  end
  ffi.C.core_closedir(d)
  return entries
end

local function names_without_dots(entries)
  local names = {}
  for name in pairs(entries) do
    if name ~= "." and name ~= ".." then names[#names + 1] = name end
  end
  table.sort(names)
  return names
end

--- Reads a file with read(2) in pieces of `piece` bytes, like cat.
local function read_sequentially(path, piece)
  local fd, err, num = sys.open(path, O.RDONLY)
  if not fd then return nil, err, num end
  local parts = {}
  while true do
    local chunk, e2, n2 = sys.read(fd, piece)
    if not chunk then sys.close(fd); return nil, e2, n2 end
    if #chunk == 0 then break end
    parts[#parts + 1] = chunk
  end
  sys.close(fd)
  return table.concat(parts)
end

local shell = require("support.shell").sh

local line_of = mount.line_of

---------------------------------------------------------------------------
-- 1. explicit fd handover

describe("explicit fd handover", function()
  local tmp
  after_each(function()
    mount.stop_all()
    mount.rmtree(tmp)
    tmp = nil
  end)

  it("takes a bare integer from open as a handle, and leaves the host's fd 3 alone", function()
    local m = mount.start{ script = fixtures .. "core_counter.lua" }
    local before = fds_of(m.pid)
    local fd3 = before[3]
    assert.is_not_nil(fd3, "the host has no fd 3 to lose")
    local fd = assert(sys.open(m:path("f"), O.RDONLY))
    assert.equal("handle number 3\n", sys.pread(fd, 4096, 0)) -- read got fh == 3
    assert(sys.close(fd))
    assert.equal("handle number 4\n", sys.read_file(m:path("f"))) -- and still serves
    assert.equal("handle number 5\n", sys.read_file(m:path("f")))
    m:stats() -- a round trip after the releases (they are sent asynchronously)
    local after = fds_of(m.pid)
    assert.equal(fd3, after[3], "the host's fd 3 was closed or replaced")
    for fd, target in pairs(before) do -- fds 4 and 5 were handles too
      assert.equal(target, after[fd], "fd " .. fd .. " of the host changed")
    end
    assert.equal("file", sys.stat(m:path("f")).type)
    m:stop() -- exits 0, no error in the log
  end)

  it("refuses the host's own fds (0, 1, 2, the FUSE device) with EIO and goes on logging", function()
    local m = mount.start{ script = fixtures .. "core_hostfd.lua",
      allow = { "which is the host's own", "raised an error", "raised on purpose", "core_hostfd%.lua" } }
    local before = fds_of(m.pid)
    local device
    for fd, target in pairs(before) do
      if target == "/dev/fuse" then device = fd end
    end
    assert.is_not_nil(device, "no fd of the host links to /dev/fuse")
    for _, fd in ipairs({ 0, 1, 2 }) do assert.is_not_nil(before[fd], "the host has no fd " .. fd) end
    -- every fd the host has now is its own: the standard streams, the
    -- device, and whatever it inherited or opened for itself
    for fd in pairs(before) do
      fails("EIO", sys.open(m:path("fd" .. fd), O.RDONLY))
      assert.matches(("handler 'open' (/fd%d) handed over fd %d, which is the host's own"):format(fd, fd),
        m:log_text(), 1, true)
    end
    local log = m:log_text()
    assert.matches("(/fd" .. device .. ") handed over fd " .. device .. ", which is the host's own (the FUSE device)",
      log, 1, true)
    assert.matches("(/fd2) handed over fd 2, which is the host's own (its standard error)", log, 1, true)
    m:stats()
    local after = fds_of(m.pid)
    for fd, target in pairs(before) do
      assert.equal(target, after[fd], "fd " .. fd .. " of the host changed")
    end
    -- still serving, and its log lines still reach its stderr
    assert.equal("file", sys.stat(m:path("ok")).type)
    assert.equal("ok\n", sys.read_file(m:path("ok")))
    fails("EIO", sys.stat(m:path("raise")))
    assert.matches("raised on purpose in getattr", m:log_text(), 1, true)
    m:stop()
  end)

  it("closes an fd handed over with a second value that is not options (no leak)", function()
    local m = mount.start{ script = fixtures .. "core_hostfd.lua",
      allow = { "returned options that are not a table" } }
    fails("EIO", sys.open(m:path("leak"), O.RDONLY)) -- warm up: lookup, log line
    assert.matches("handler 'open' (/leak) returned options that are not a table", m:log_text(), 1, true)
    m:stats()
    local before = count(fds_of(m.pid))
    for _ = 1, 50 do fails("EIO", sys.open(m:path("leak"), O.RDONLY)) end
    m:stats()
    local after = count(fds_of(m.pid))
    assert.equal(before, after, "fds of the host before and after 50 refused opens")
    assert.equal("ok\n", sys.read_file(m:path("ok")))
    m:stop()
  end)

  describe("a pipe or a socket", function()
    local m
    before_each(function() m = mount.start{ script = fixtures .. "core_pipes.lua" } end)

    it("reads a pipe in order, as cat does", function()
      local want = pipe_pattern(10000, 1)
      local got, err = read_sequentially(m:path("pipe"), 1000)
      assert.is_nil(err)
      assert(got == want, ("pipe: got %d bytes, not the %d written"):format(#(got or ""), #want))
      local code, out = shell("cat '" .. m:path("pipe") .. "'")
      assert.equal(0, code, out)
      assert(out == want, "cat: got " .. #out .. " bytes, not the ones written")
      m:stop()
    end)

    it("reads a socket in order", function()
      local want = pipe_pattern(5000, 2)
      local got, err = read_sequentially(m:path("sock"), 4096)
      assert.is_nil(err)
      assert(got == want, ("socket: got %d bytes, not the %d written"):format(#(got or ""), #want))
      m:stop()
    end)

    it("writes through a pipe", function()
      local fd = assert(sys.open(m:path("sink"), O.WRONLY))
      assert.equal(6, sys.write(fd, "first "))
      assert.equal(7, sys.write(fd, "second\n"))
      assert(sys.close(fd))
      local got
      for _ = 1, 50 do -- the release that closes the write end is asynchronous
        got = sys.read_file(m:path("sunk"))
        if got == "first second\n" then break end
        mount.sleep(0.02)
      end
      assert.equal("first second\n", got)
      m:stop()
    end)

    it("opens it nonseekable: lseek fails with ESPIPE", function()
      for _, name in ipairs({ "pipe", "sock" }) do
        local fd = assert(sys.open(m:path(name), O.RDONLY))
        local ok, err = sys.lseek(fd, 0, 0)
        local ok2, err2 = sys.lseek(fd, 100, 0)
        sys.close(fd)
        assert.is_nil(ok, name .. ": lseek succeeded")
        assert.equal("ESPIPE", err)
        assert.is_nil(ok2)
        assert.equal("ESPIPE", err2)
      end
      m:stop()
    end)
  end)

  it("refuses the same fd for a second open while the first holds it", function()
    tmp = mount.tmpdir("shared")
    assert(sys.write_file(tmp .. "/data", "shared bytes\n"))
    local m = mount.start{ script = fixtures .. "core_shared.lua", options = "file=" .. tmp .. "/data",
      allow = { "which another open already holds" } }
    local first = assert(sys.open(m:path("f"), O.RDONLY))
    assert.equal("shared bytes\n", sys.pread(first, 100, 0))
    fails("EIO", sys.open(m:path("f"), O.RDONLY))
    assert.matches("handler 'open' %(/f%) handed over fd %d+, which another open already holds", m:log_text())
    assert.equal("shared bytes\n", sys.pread(first, 100, 0)) -- the first is unharmed
    assert(sys.close(first))
    m:stop()
  end)
end)

---------------------------------------------------------------------------
-- 2. -o spin

describe("-o spin", function()
  after_each(function() mount.stop_all() end)

  it("is parsed by the host (--check shows it)", function()
    for _, n in ipairs({ 0, 50, 7 }) do
      local code, out = mount.run_host({ "--check", "scripts/hello.lua", "-o", "spin=" .. n })
      assert.equal(0, code, out)
      assert.matches("spin " .. n .. " us", out, 1, true)
    end
  end)

  it("does not reach the script's options", function()
    local m = mount.start{ script = fixtures .. "edge.lua", options = "spin=0,color=blue" }
    assert.equal("color=blue", sys.read_file(m:path("options")))
    m:stop()
  end)
end)

---------------------------------------------------------------------------
-- 3. O_DIRECT

-- O_DIRECT writes of 512 B to 1 MiB at aligned offsets, read back with
-- O_DIRECT; returns the file's expected contents.
local function direct_io_round_trip(path)
  local flags = bit.bor(o_direct(), O.RDWR, O.CREAT, O.TRUNC)
  local fd = assert(sys.open(path, flags, 420))
  local model = ""
  local buf = aligned(MiB)
  local back = aligned(MiB)
  local ok, why = pcall(function()
    for i, size in ipairs({ 512, 4096, 65536, MiB }) do
      local offset = size * 3 -- a multiple of the size, so aligned for each
      local data = pattern(size, i)
      ffi.copy(buf, data, size)
      local n = tonumber(ffi.C.pwrite(fd, buf, size, offset))
      assert(n == size, ("O_DIRECT pwrite of %d at %d: %s"):format(size, offset,
        n < 0 and tostring(require("moonfs.errno")[ffi.errno()]) or n .. " bytes"))
      if #model < offset then model = model .. ("\0"):rep(offset - #model) end
      model = model:sub(1, offset) .. data .. model:sub(offset + size + 1)
      ffi.fill(back, size, 0xEE)
      n = tonumber(ffi.C.pread(fd, back, size, offset))
      assert(n == size, ("O_DIRECT pread of %d at %d: %s"):format(size, offset,
        n < 0 and tostring(require("moonfs.errno")[ffi.errno()]) or n .. " bytes"))
      assert(ffi.string(back, size) == data, ("O_DIRECT read of %d at %d differs"):format(size, offset))
    end
  end)
  ffi.C.core_free(buf)
  ffi.C.core_free(back)
  sys.close(fd)
  assert(ok, why)
  return model
end

describe("O_DIRECT", function()
  it("works on the plain backing directory (the reference)", function()
    local dir = mount.tmpdir("direct")
    local ok, why = pcall(function()
      local code, out = shell("dd if=/dev/zero of='" .. dir .. "/dd' bs=4096 count=1 oflag=direct")
      assert.equal(0, code, out)
      local model = direct_io_round_trip(dir .. "/f")
      assert(sys.read_file(dir .. "/f") == model)
    end)
    mount.rmtree(dir)
    assert(ok, why)
  end)

  for _, kind in ipairs({ "mirror", "mirror,nopassthrough", "memfs" }) do
    describe("on " .. kind, function()
      local m, src
      before_each(function()
        if kind == "memfs" then
          m = mount.start{ script = "scripts/memfs.lua" }
        else
          src = mount.tmpdir("src")
          m = mount.start{ script = "scripts/mirror.lua",
            options = "root=" .. src .. (kind:find("nopassthrough") and ",nopassthrough" or "") }
        end
      end)
      after_each(function()
        mount.stop_all()
        mount.rmtree(src)
        src = nil
      end)

      it("dd oflag=direct exits 0", function()
        local code, out = shell("dd if=/dev/zero of='" .. m:path("dd") .. "' bs=4096 count=1 oflag=direct")
        assert.equal(0, code, out)
        assert.equal(4096, sys.stat(m:path("dd")).size)
        assert(sys.read_file(m:path("dd")) == ("\0"):rep(4096))
        m:stop()
      end)

      it("writes and reads 512 B, 4 KiB, 64 KiB and 1 MiB, byte for byte", function()
        local model = direct_io_round_trip(m:path("f"))
        assert.equal(#model, sys.stat(m:path("f")).size)
        assert(sys.read_file(m:path("f")) == model, "the file read back without O_DIRECT differs")
        if src then
          assert(sys.read_file(src .. "/f") == model, "the backing file differs")
        end
        m:stop()
      end)
    end)
  end
end)

---------------------------------------------------------------------------
-- 4. renameat2 flags

local RENAME_WHITEOUT = 4

describe("renameat2(RENAME_WHITEOUT)", function()
  local src
  after_each(function()
    mount.stop_all()
    mount.rmtree(src)
    src = nil
  end)

  it("on the mirror, as root, leaves a whiteout in the backing directory", function()
    if not mount.need_root("RENAME_WHITEOUT needs CAP_MKNOD") then return end
    src = mount.tmpdir("src")
    local m = mount.start{ script = "scripts/mirror.lua", options = "root=" .. src }
    assert(sys.write_file(m:path("a"), "moved\n"))
    local before = m:stats()
    assert(sys.rename(m:path("a"), m:path("b"), RENAME_WHITEOUT))
    local after = m:stats()
    assert.equal(1, after.lua.rename - (before.lua.rename or 0))
    local wh = assert(sys.lstat(src .. "/a"))
    assert.equal("char", wh.type)
    assert.equal(0, wh.rdev_major)
    assert.equal(0, wh.rdev_minor)
    assert.equal("moved\n", sys.read_file(src .. "/b"))
    assert.equal("moved\n", sys.read_file(m:path("b")))
    local through = assert(sys.lstat(m:path("a")))
    assert.equal("char", through.type)
    m:stop()
  end)

  it("on memfs fails with EINVAL, from the script", function()
    local m = mount.start{ script = "scripts/memfs.lua" }
    assert(sys.write_file(m:path("a"), "stays\n"))
    local before = m:stats()
    fails("EINVAL", sys.rename(m:path("a"), m:path("b"), RENAME_WHITEOUT))
    local after = m:stats()
    assert.equal(1, after.lua.rename - (before.lua.rename or 0), "the rename handler was not asked")
    assert.equal("stays\n", sys.read_file(m:path("a")))
    fails("ENOENT", sys.stat(m:path("b")))
    m:stop()
  end)
end)

---------------------------------------------------------------------------
-- 5. constants

describe("the constants scripts get", function()
  after_each(function() mount.stop_all() end)

  it("are the system's", function()
    local m = mount.start{ script = fixtures .. "core_constants.lua" }
    local text = assert(sys.read_file(m:path("constants")))
    m:stop()
    local got = {}
    for key, value in text:gmatch("([%w_.]+)=([^\n]*)\n") do got[key] = tonumber(value) end
    for _, key in ipairs({ "O.DIRECTORY", "O.NOFOLLOW", "O.DIRECT", "O.TMPFILE", "O.CREAT",
      "S.IFDIR", "S.IFREG", "S.IFMT", "RENAME_WHITEOUT" }) do
      assert.is_not_nil(got[key], key .. " is missing")
    end
    local macros = {}
    for key in pairs(got) do
      macros[key] = key:gsub("^O%.", "O_"):gsub("^S%.", "S_")
    end
    local headers = header_constants(macros)
    local fcntl, stat = require("posix.fcntl"), require("posix.sys.stat")
    for key, value in pairs(got) do
      local posix_value = key:match("^O%.") and fcntl[macros[key]] or key:match("^S%.") and stat[macros[key]]
      if posix_value then
        assert.equal(posix_value, headers[key], "luaposix and the headers disagree on " .. key)
        assert.equal(posix_value, value, key .. " differs from luaposix")
      end
      assert.equal(headers[key], value, key .. " differs from the system headers")
    end
    assert.equal(4, got.RENAME_WHITEOUT)
  end)
end)

---------------------------------------------------------------------------
-- 6. and 7. create

-- Creates names n1..n10 with O_CREAT|O_EXCL. Returns the create calls and
-- the getattr calls made for the creates.
--
-- The kernel looks every name up before it creates it with O_EXCL (even a
-- cached negative entry is revalidated for LOOKUP_EXCL), and a lookup is a
-- getattr call; so are GETATTR requests. Those are taken out of the count.
local function create_ten(m)
  local before = m:stats()
  for i = 1, 10 do
    local fd = assert(sys.open(m:path("n" .. i), bit.bor(O.CREAT, O.EXCL, O.WRONLY), 420))
    assert(sys.close(fd))
  end
  local after = m:stats()
  for i = 1, 10 do assert.equal("file", sys.stat(m:path("n" .. i)).type) end
  local function delta(kind, op) return (after[kind][op] or 0) - (before[kind][op] or 0) end
  local lookups = delta("requests", "lookup")
  assert.equal(10, lookups, "lookups before the creates")
  return delta("lua", "create"), delta("lua", "getattr") - lookups - delta("requests", "getattr")
end

describe("create", function()
  local src
  after_each(function()
    mount.stop_all()
    mount.rmtree(src)
    src = nil
  end)

  it("costs one Lua call on the mirror", function()
    src = mount.tmpdir("src")
    local m = mount.start{ script = "scripts/mirror.lua", options = "root=" .. src }
    local creates, getattrs = create_ten(m)
    assert.equal(10, creates)
    assert.equal(0, getattrs)
    m:stop()
  end)

  it("costs one Lua call on memfs", function()
    local m = mount.start{ script = "scripts/memfs.lua", options = "timeout=60" }
    local creates, getattrs = create_ten(m)
    assert.equal(10, creates)
    assert.equal(0, getattrs)
    m:stop()
  end)

  it("that returns only a handle still works, with one getattr each", function()
    local m = mount.start{ script = fixtures .. "core_create.lua", options = "timeout=60" }
    local creates, getattrs = create_ten(m)
    assert.equal(10, creates)
    assert.equal(10, getattrs)
    assert(sys.write_file(m:path("n1"), "written", O.WRONLY))
    assert.equal("written", sys.read_file(m:path("n1")))
    m:stop()
  end)

  it("that returns options where the stat belongs fails with EIO and says so", function()
    local m = mount.start{ script = fixtures .. "core_create.lua",
      allow = { "create returns handle, stat, options" } }
    fails("EIO", sys.open(m:path("bad1"), bit.bor(O.CREAT, O.EXCL, O.WRONLY), 420))
    assert.matches("create returns handle, stat, options", m:log_text(), 1, true)
    assert.matches("handler 'create' (/bad1)", m:log_text(), 1, true)
    local fd = assert(sys.open(m:path("good"), bit.bor(O.CREAT, O.EXCL, O.WRONLY), 420))
    assert(sys.close(fd))
    m:stop()
  end)
end)

---------------------------------------------------------------------------
-- 8. readdir

describe("readdir results", function()
  after_each(function() mount.stop_all() end)

  it("skip an entry in the old table form, with a log line naming moonfs.entries", function()
    local m = mount.start{ script = fixtures .. "core_readdir.lua", allow = { "unusable entry" } }
    local entries = assert(dir_entries(m:path("old")))
    assert.same({}, names_without_dots(entries))
    assert.is_not_nil(entries["."])
    local log = m:log_text()
    assert.matches("handler 'readdir' (/old) returned an unusable entry at index 1", log, 1, true)
    assert.matches("moonfs.entries", log, 1, true)
    m:stop()
  end)

  it("from moonfs.entries carry the type and the inode number", function()
    local m = mount.start{ script = fixtures .. "core_readdir.lua" }
    local entries = assert(dir_entries(m:path("new")))
    assert.same({ "a" }, names_without_dots(entries))
    assert.equal(4, entries.a.type) -- DT_DIR
    assert.equal(5, entries.a.ino)
    assert.equal("dir", sys.stat(m:path("new/a")).type)
    m:stop()
  end)
end)

---------------------------------------------------------------------------
-- 9. moonfs.sys.stat values

describe("moonfs.sys.stat values", function()
  local m, src
  before_each(function()
    src = mount.tmpdir("src")
    assert(sys.write_file(src .. "/f", "hello"))
    m = mount.start{ script = fixtures .. "core_stat.lua", options = "root=" .. src,
      allow = { "raised an error", "stat field", "core_stat%.lua" } }
  end)
  after_each(function()
    mount.stop_all()
    mount.rmtree(src)
  end)

  it("can be read and changed like tables", function()
    local st = assert(sys.stat(m:path("f")))
    assert.equal("file", st.type)
    assert.equal(12345, st.size)
    assert.equal(tonumber("600", 8), st.perm)
    assert.equal("dir", sys.stat(m.dir).type)
    m:stop()
  end)

  it("raise on a bad value, with the script's line in the traceback", function()
    fails("EIO", sys.stat(m:path("baduid")))
    fails("EIO", sys.stat(m:path("badsize")))
    local log = m:log_text()
    assert.matches("handler 'getattr' (/baduid) raised an error", log, 1, true)
    assert.matches("handler 'getattr' (/badsize) raised an error", log, 1, true)
    assert.matches("stat field 'uid'", log, 1, true)
    assert.matches("stat field 'size'", log, 1, true)
    assert.matches("core_stat.lua:" .. line_of("core_stat.lua", "BAD UID LINE"), log, 1, true)
    assert.matches("core_stat.lua:" .. line_of("core_stat.lua", "BAD SIZE LINE"), log, 1, true)
    assert.equal(12345, sys.stat(m:path("f")).size) -- still serving
    m:stop()
  end)
end)

---------------------------------------------------------------------------
-- 10. ENOSYS from open and opendir

describe("ENOSYS from open or opendir", function()
  local m
  before_each(function()
    m = mount.start{ script = fixtures .. "core_enosys.lua", allow = { "answered ENOSYS" } }
  end)
  after_each(function() mount.stop_all() end)

  it("from open gives EIO, and later opens still reach the handler", function()
    fails("EIO", sys.open(m:path("nosys"), O.RDONLY))
    assert.matches("handler 'open' (/nosys) answered ENOSYS", m:log_text(), 1, true)
    local before = m:stats()
    assert.equal("open 1 of /f\n", sys.read_file(m:path("f")))
    assert.equal("open 2 of /g\n", sys.read_file(m:path("g")))
    fails("EIO", sys.open(m:path("nosys"), O.RDONLY))
    assert.equal("open 3 of /f\n", sys.read_file(m:path("f")))
    local after = m:stats()
    assert.equal(4, after.lua.open - before.lua.open)
    m:stop()
  end)

  it("from opendir gives EIO, and later opendirs still reach the handler", function()
    local entries, errno = dir_entries(m:path("nodir"))
    assert.is_nil(entries)
    assert.equal(5, errno) -- EIO
    fails("EIO", sys.readdir(m:path("nodir")))
    assert.matches("handler 'opendir' (/nodir) answered ENOSYS", m:log_text(), 1, true)
    assert.same({ "dirhandle" }, names_without_dots(assert(dir_entries(m:path("d")))))
    assert.same({ "dirhandle" }, sys.readdir(m:path("d")))
    assert.equal("open 1 of /f\n", sys.read_file(m:path("f")))
    m:stop()
  end)
end)
