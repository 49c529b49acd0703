-- The kernel's operations beyond read and write (issue 12), on real
-- mounts: SEEK_DATA/SEEK_HOLE, copy_file_range and the attribute ioctls
-- through the mirror (answered from the backing fds), the same operations
-- as handlers of a script with handle opens (results, errors, and the
-- kernel's defaults without them), locks kept by a script (getlk, setlk,
-- flock; waiting and interrupted locks) or by the kernel, and memfs's
-- fallocate.
--
-- Whatever may block (a lock that waits) runs in a forked child that the
-- spec waits for with a deadline; past it the host is killed by pid, the
-- children too, and the spec fails. The suite never hangs.
local mount = require("support.mount")
local shell = require("support.shell")
local sys = require("support.sys")
local bit = require("bit")
local ffi = require("ffi")
local unistd = require("posix.unistd")
local signal = require("posix.signal")
local ptime = require("posix.time")
local O = sys.O

local fixtures = mount.repo .. "/spec/fixtures/"
local MiB = 1048576
local SEEK_DATA, SEEK_HOLE = 3, 4
local F_GETLK, F_SETLK, F_SETLKW = 5, 6, 7
local F_RDLCK, F_WRLCK, F_UNLCK = 0, 1, 2
local LOCK_SH, LOCK_EX, LOCK_NB, LOCK_UN = 1, 2, 4, 8

for _, decl in ipairs({
  "ssize_t copy_file_range(int fd_in, int64_t *off_in, int fd_out, int64_t *off_out, size_t len, unsigned int flags);",
  "int ioctl(int fd, unsigned long request, ...);",
  "int flock(int fd, int operation);",
  "int fcntl(int fd, int cmd, ...);",
  "struct ops_spec_flock { short l_type; short l_whence; int64_t l_start; int64_t l_len; int l_pid; };",
}) do pcall(ffi.cdef, decl) end
local C = ffi.C
local errno_names = require("moonfs.errno")

---------------------------------------------------------------------------
-- helpers

local function fail()
  local e = ffi.errno()
  return nil, errno_names[e] or tostring(e), e
end

local function fails(expected, ...)
  local ok, err = ...
  assert.is_nil(ok, "expected " .. expected .. ", the call succeeded")
  assert.equal(expected, err)
end

local function now()
  local ts = ptime.clock_gettime(ptime.CLOCK_MONOTONIC)
  return ts.tv_sec + ts.tv_nsec / 1e9
end

local read_text = shell.read_text

local q, sh = shell.quote, shell.sh

local function have(tool)
  return (sh("command -v " .. tool)) == 0
end

local line_of = mount.line_of

-- Deterministic bytes that differ at every offset of a block.
local function pattern(size, seed)
  local t = {}
  for i = 1, 4096 do t[i] = string.char((i * 31 + seed * 7) % 256) end
  return (table.concat(t)):rep(math.ceil(size / 4096)):sub(1, size)
end

local function lseek(fd, offset, whence)
  local r = C.lseek(fd, offset, whence)
  if r < 0 then return fail() end
  return tonumber(r)
end

--- The data extents of an open file, found with SEEK_DATA and SEEK_HOLE:
-- {{start, stop}, ...}.
local function extents(fd)
  local list, pos = {}, 0
  while true do
    local d, err = lseek(fd, pos, SEEK_DATA)
    if not d then
      assert(err == "ENXIO", "SEEK_DATA from " .. pos .. ": " .. tostring(err))
      return list
    end
    local h = assert(lseek(fd, d, SEEK_HOLE))
    list[#list + 1] = { d, h }
    pos = h
  end
end

local function extents_of(path)
  local fd = assert(sys.open(path, O.RDONLY))
  local list = extents(fd)
  sys.close(fd)
  return list
end

local function copy_file_range(fd_in, off_in, fd_out, off_out, len)
  local pin, pout = ffi.new("int64_t[1]", off_in), ffi.new("int64_t[1]", off_out)
  local n = C.copy_file_range(fd_in, pin, fd_out, pout, len, 0)
  if n < 0 then return fail() end
  return tonumber(n), tonumber(pin[0]), tonumber(pout[0])
end

-- ioctl numbers: _IOC(dir, type, nr, size)
local IOC_WRITE, IOC_READ = 1, 2
local function IOC(dir, kind, nr, size)
  return bit.bor(bit.lshift(dir, 30), bit.lshift(size, 16), bit.lshift(string.byte(kind), 8), nr) % 2 ^ 32
end
local FS_IOC_GETFLAGS = IOC(IOC_READ, "f", 1, 8)
local FS_IOC_SETFLAGS = IOC(IOC_WRITE, "f", 2, 8)
local FS_IOC_GETVERSION = IOC(IOC_READ, "v", 1, 8)
local FS_IOC_FSGETXATTR = IOC(IOC_READ, "X", 31, 28)
local FS_IOC_FIEMAP = IOC(IOC_READ + IOC_WRITE, "f", 11, 32)
local FS_IMMUTABLE_FL, FS_NODUMP_FL = 0x10, 0x40

--- ioctl(fd, cmd, buf): the result and the buffer's bytes afterwards.
local function ioctl(fd, cmd, data, size)
  local buf = ffi.new("char[?]", math.max(size or #(data or ""), 1))
  if data then ffi.copy(buf, data, #data) end
  local rc = C.ioctl(fd, ffi.cast("unsigned long", cmd), buf)
  if rc < 0 then return fail() end
  return rc, ffi.string(buf, size or #(data or ""))
end

local function getflags(path)
  local fd, err = sys.open(path, bit.bor(O.RDONLY, 0x800)) -- O_NONBLOCK, as lsattr
  if not fd then return nil, err end
  local v = ffi.new("int[1]")
  local rc = C.ioctl(fd, ffi.cast("unsigned long", FS_IOC_GETFLAGS), v)
  local r, e, n = rc == 0 and v[0] or nil, fail()
  sys.close(fd)
  if rc ~= 0 then return r, e, n end
  return r
end

local function setflags(path, flags)
  local fd, err = sys.open(path, bit.bor(O.RDONLY, 0x800))
  if not fd then return nil, err end
  local v = ffi.new("int[1]", flags)
  local rc = C.ioctl(fd, ffi.cast("unsigned long", FS_IOC_SETFLAGS), v)
  local _, e, n = fail()
  sys.close(fd)
  if rc ~= 0 then return nil, e, n end
  return true
end

local function posix_lock(fd, cmd, kind, start, len)
  local fl = ffi.new("struct ops_spec_flock")
  fl.l_type, fl.l_whence, fl.l_start, fl.l_len = kind, 0, start, len
  local rc = C.fcntl(fd, cmd, fl)
  if rc < 0 then return fail() end
  return { type = fl.l_type, start = tonumber(fl.l_start), len = tonumber(fl.l_len), pid = fl.l_pid }
end

local function flock(fd, op)
  if C.flock(fd, op) ~= 0 then return fail() end
  return true
end

---------------------------------------------------------------------------
-- children with deadlines (for whatever may wait)

local results -- a directory for the children's results
local children = require("support.children")
local spawn, in_child, kill_everything = children.spawn, children.in_child, children.kill_everything
local function reap(pid, seconds, m) return children.reap({ pid }, seconds, m)[pid] end

--- Waits until `file` has a line matching `pat` (plain), at most `seconds`.
local function wait_line(file, pat, seconds, m)
  local deadline = now() + (seconds or 10)
  repeat
    if (read_text(file) or ""):find(pat, 1, true) then return end
    mount.sleep(0.01)
  until now() > deadline
  kill_everything(m)
  error(("no %q in %s after %s s:\n%s"):format(pat, file, seconds or 10, read_text(file) or ""), 2)
end

local function requests(counts, op) return counts.requests[op] or 0 end
local function calls(counts, op) return counts.lua[op] or 0 end

---------------------------------------------------------------------------
-- 1. the mirror: holes and copies stay on the backing files

for _, mode in ipairs({ "passthrough", "nopassthrough" }) do
  describe("the mirror with " .. mode, function()
    local busted_it = it
    local function it(name, fn)
      busted_it(name, function()
        if mode == "passthrough" and not mount.need_passthrough() then return end
        fn()
      end)
    end
    local m, src, out, p, b
    setup(function()
      src = mount.tmpdir("src")
      out = mount.tmpdir("out")
      m = mount.start{ script = "scripts/mirror.lua",
        options = "root=" .. src .. (mode == "nopassthrough" and ",nopassthrough" or "") }
      p = function(x) return m:path(x) end
      b = function(x) return src .. "/" .. x end
    end)
    teardown(function()
      mount.stop_all()
      mount.rmtree(src)
      mount.rmtree(out)
    end)

    -- 4 KiB at 1 MiB, 8 KiB at 3 MiB, 12 KiB at the end of 5 MiB + 12 KiB.
    local LAYOUT = { { MiB, 4096, 1 }, { 3 * MiB, 8192, 2 }, { 5 * MiB, 12288, 3 } }
    local SIZE = 5 * MiB + 12288
    local function make_sparse(path)
      local fd = assert(sys.open(path, bit.bor(O.CREAT, O.RDWR, O.TRUNC), 420))
      for _, piece in ipairs(LAYOUT) do
        assert.equal(piece[2], sys.pwrite(fd, pattern(piece[2], piece[3]), piece[1]))
      end
      assert(sys.fsync(fd))
      sys.close(fd)
    end

    it("answers SEEK_DATA and SEEK_HOLE as the backing file does", function()
      make_sparse(p("sparse"))
      local backing = extents_of(b("sparse"))
      assert.is_true(#backing >= 1 and backing[1][1] > 0,
        "the backing filesystem keeps no holes (data from offset 0)")
      local before = m:stats()
      local fd = assert(sys.open(p("sparse"), O.RDONLY))
      local bfd = assert(sys.open(b("sparse"), O.RDONLY))
      local offsets = { 0, 1, 4096, MiB - 1, MiB, MiB + 4095, MiB + 4096, 2 * MiB, 3 * MiB + 100,
        3 * MiB + 8192, 4 * MiB, 5 * MiB, SIZE - 1, SIZE, SIZE + 1, 8 * MiB }
      for _, off in ipairs(offsets) do
        for _, whence in ipairs({ SEEK_DATA, SEEK_HOLE }) do
          local want, want_err = lseek(bfd, off, whence)
          local got, got_err = lseek(fd, off, whence)
          assert.equal(want, got, ("whence %d from %d"):format(whence, off))
          assert.equal(want_err, got_err, ("whence %d from %d"):format(whence, off))
        end
      end
      -- the position moved as lseek says: a read there reads the data
      assert.equal(MiB, lseek(fd, 0, SEEK_DATA))
      assert.equal(pattern(16, 1), sys.read(fd, 16))
      sys.close(fd)
      sys.close(bfd)
      assert.same(backing, extents_of(p("sparse")))
      local after = m:stats()
      assert.is_true(requests(after, "lseek") > requests(before, "lseek"), "no lseek reached the host")
      assert.equal(0, calls(after, "lseek")) -- answered from the fd, not by Lua
    end)

    it("keeps the holes of a file copied with cp --sparse=always", function()
      make_sparse(p("sparse"))
      local source = extents_of(b("sparse"))
      local code, text = sh("cp --sparse=always " .. q(p("sparse")) .. " " .. q(out .. "/copy")
        .. " && cp --sparse=always " .. q(p("sparse")) .. " " .. q(p("copy")))
      assert.equal(0, code, text)
      for _, copy in ipairs({ out .. "/copy", p("copy"), b("copy") }) do
        assert(sys.read_file(copy) == sys.read_file(b("sparse")), copy .. " differs from the source")
        assert.same(source, extents_of(copy), copy)
        assert.equal(SIZE, sys.stat(copy).size)
        -- the copy holds about what the source holds, nowhere near 5 MiB
        assert.is_true(sys.stat(copy).blocks <= sys.stat(b("sparse")).blocks + 64,
          ("%s takes %d blocks, the source %d"):format(copy, sys.stat(copy).blocks,
            sys.stat(b("sparse")).blocks))
      end
      assert.is_true(sys.stat(b("copy")).blocks < 2 * 1024, "the mirror's own copy is not sparse")
    end)

    it("copies 256 MiB with cp inside the mount without a read or write request", function()
      local code, text = sh("head -c " .. 256 * MiB .. " /dev/urandom > " .. q(b("big")))
      assert.equal(0, code, text)
      local before = m:stats()
      code, text = sh("cp " .. q(p("big")) .. " " .. q(p("big2")), 300)
      assert.equal(0, code, text)
      local after = m:stats()
      assert.equal(0, requests(after, "read") - requests(before, "read"), "read requests")
      assert.equal(0, requests(after, "write") - requests(before, "write"), "write requests")
      assert.is_true(requests(after, "copy_file_range") > requests(before, "copy_file_range"),
        "cp sent no copy_file_range")
      assert.equal(0, calls(after, "copy_file_range")) -- the host copied between the fds
      code, text = sh("cmp " .. q(p("big")) .. " " .. q(p("big2")) .. " && cmp " .. q(b("big")) .. " "
        .. q(b("big2")))
      assert.equal(0, code, text)
      assert(sys.unlink(p("big")))
      assert(sys.unlink(p("big2")))
    end)

    it("serves copy_file_range(2) between two files of the mount", function()
      local data = pattern(200000, 9)
      assert(sys.write_file(p("cfr_src"), data))
      local before = m:stats()
      local fin = assert(sys.open(p("cfr_src"), O.RDONLY))
      local fout = assert(sys.open(p("cfr_dst"), bit.bor(O.CREAT, O.WRONLY, O.TRUNC), 420))
      local n, off_in, off_out = copy_file_range(fin, 1000, fout, 5, 100000)
      assert.equal(100000, n)
      assert.equal(101000, off_in)
      assert.equal(100005, off_out)
      -- past the end of the source: nothing more to copy
      assert.equal(0, (copy_file_range(fin, 200000, fout, 0, 100)))
      sys.close(fin)
      sys.close(fout)
      local after = m:stats()
      assert.equal(0, requests(after, "read") - requests(before, "read"))
      assert.equal(0, requests(after, "write") - requests(before, "write"))
      assert.is_true(requests(after, "copy_file_range") > requests(before, "copy_file_range"),
        "the copy did not reach the host")
      local want = ("\0"):rep(5) .. data:sub(1001, 101000)
      assert(sys.read_file(p("cfr_dst")) == want, "the copy through the mount differs")
      assert(sys.read_file(b("cfr_dst")) == want, "the backing copy differs")
      assert.equal(100005, sys.stat(p("cfr_dst")).size)
    end)

    it("unmounts cleanly", function() m:stop() end)
  end)
end

---------------------------------------------------------------------------
-- 2. the mirror: ioctls

describe("the mirror's ioctls", function()
  local m, src, p, b, user
  local users = require("support.users")
  local creds = require("support.creds")
  setup(function()
    src = mount.tmpdir("src")
    m = mount.start{ script = "scripts/mirror.lua",
      options = "root=" .. src .. (mount.root and ",allow_other" or "") }
    p = function(x) return m:path(x) end
    b = function(x) return src .. "/" .. x end
    assert(sys.chmod(src, 493)) -- other users reach the mount point and its root
    assert(sys.chmod(m.tmp, 493))
  end)
  teardown(function()
    -- an immutable file left by a failure would survive rm -rf
    if mount.root then sh("chattr -R -i -a " .. q(src)) end
    mount.stop_all()
    mount.rmtree(src)
    if user then users.remove_all() end
  end)

  --- Whether the backing filesystem has attribute flags at all.
  local function flags_supported()
    if not have("lsattr") then
      pending("lsattr is not installed (e2fsprogs)")
      return false
    end
    assert(sys.write_file(b("probe"), "x"))
    local code, text = sh("lsattr " .. q(b("probe")))
    if code ~= 0 then
      pending("the backing filesystem has no attribute flags: " .. text)
      return false
    end
    return true
  end

  it("lsattr shows the backing file's flags", function()
    if not flags_supported() then return end
    assert(sys.write_file(p("f"), "hello\n"))
    local code, backing = sh("lsattr " .. q(b("f")))
    assert.equal(0, code, backing)
    local code2, mounted = sh("lsattr " .. q(p("f")))
    assert.equal(0, code2, mounted)
    assert.equal(backing:match("^(%S+)"), mounted:match("^(%S+)"))
    -- and a directory's
    assert(sys.mkdir(p("d")))
    local _, bd = sh("lsattr -d " .. q(b("d")))
    local code3, md = sh("lsattr -d " .. q(p("d")))
    assert.equal(0, code3, md)
    assert.equal(bd:match("^(%S+)"), md:match("^(%S+)"))
    -- the fsxattr ioctl (xfs_io's) agrees too
    local fd = assert(sys.open(p("f"), O.RDONLY))
    local bfd = assert(sys.open(b("f"), O.RDONLY))
    local _, got = ioctl(fd, FS_IOC_FSGETXATTR, nil, 28)
    local _, want = ioctl(bfd, FS_IOC_FSGETXATTR, nil, 28)
    sys.close(fd)
    sys.close(bfd)
    if want then assert.equal(want, got) end
  end)

  it("chattr +i makes a file immutable as on the backing filesystem (root)", function()
    if not mount.need_root("chattr +i needs CAP_LINUX_IMMUTABLE") then return end
    if not flags_supported() then return end
    assert(sys.write_file(p("imm"), "keep\n"))
    finally(function() sh("chattr -i " .. q(b("imm"))) end)
    local code, text = sh("chattr +i " .. q(p("imm")))
    assert.equal(0, code, text)
    assert.equal(FS_IMMUTABLE_FL, bit.band(assert(getflags(b("imm"))), FS_IMMUTABLE_FL),
      "the backing file is not immutable")
    local _, listed = sh("lsattr " .. q(p("imm")))
    assert.matches("^%-%-%-%-i", listed)
    fails("EPERM", sys.open(p("imm"), O.WRONLY))
    fails("EPERM", sys.open(p("imm"), bit.bor(O.WRONLY, O.APPEND)))
    fails("EPERM", sys.unlink(p("imm")))
    fails("EPERM", sys.rename(p("imm"), p("moved")))
    assert.equal("keep\n", sys.read_file(p("imm")))
    code, text = sh("chattr -i " .. q(p("imm")))
    assert.equal(0, code, text)
    assert.equal(0, bit.band(assert(getflags(b("imm"))), FS_IMMUTABLE_FL))
    assert(sys.write_file(p("imm"), "changed\n"))
    assert.equal("changed\n", sys.read_file(b("imm")))
  end)

  it("lets other users change flags only on their own files, and never the immutable flag", function()
    if not mount.need_root("switches to another user") then return end
    if not flags_supported() then return end
    user = users.create("ops")
    assert(sys.write_file(p("roots"), "r\n"))
    assert(sys.mkdir(p("own"), 511))
    assert(sys.chmod(p("own"), 511))
    local mine = p("own/mine")
    assert(creds.as(user, sys.write_file, mine, "m\n"))
    assert.equal(user.uid, sys.stat(b("own/mine")).uid)
    local before_roots = assert(getflags(b("roots")))
    -- another's file: refused, unchanged
    fails("EPERM", creds.as(user, setflags, p("roots"), bit.bor(before_roots, FS_NODUMP_FL)))
    assert.equal(before_roots, getflags(b("roots")))
    -- its own file: nodump yes, immutable no
    local flags = assert(creds.as(user, getflags, mine))
    assert(creds.as(user, setflags, mine, bit.bor(flags, FS_NODUMP_FL)))
    assert.equal(FS_NODUMP_FL, bit.band(assert(getflags(b("own/mine"))), FS_NODUMP_FL))
    finally(function() sh("chattr -i " .. q(b("own/mine"))) end)
    fails("EPERM", creds.as(user, setflags, mine, bit.bor(flags, FS_IMMUTABLE_FL)))
    assert.equal(0, bit.band(assert(getflags(b("own/mine"))), FS_IMMUTABLE_FL))
  end)

  it("FIEMAP: the kernel refuses it on FUSE files (EOPNOTSUPP) without asking the host", function()
    assert(sys.write_file(p("fiemap"), pattern(64 * 1024, 4)))
    local fd = assert(sys.open(p("fiemap"), O.RDONLY))
    local bfd = assert(sys.open(b("fiemap"), O.RDONLY))
    sys.fsync(fd)
    sys.fsync(bfd)
    -- struct fiemap: fm_start, fm_length, fm_flags, fm_mapped_extents, fm_extent_count, reserved;
    -- then room for 16 extents of 56 bytes
    local request = ffi.new("uint64_t[4]")
    request[1] = 0xffffffffffffffffULL
    ffi.cast("uint32_t *", request)[6] = 16
    local bytes = ffi.string(request, 32) .. ("\0"):rep(16 * 56)
    local before = m:stats()
    fails("EOPNOTSUPP", ioctl(fd, FS_IOC_FIEMAP, bytes))
    assert.equal(requests(before, "ioctl"), requests(m:stats(), "ioctl"), "FIEMAP reached the host")
    local rc, got = ioctl(bfd, FS_IOC_FIEMAP, bytes)
    sys.close(fd)
    sys.close(bfd)
    if rc then -- the backing filesystem maps its extents
      local mapped = ffi.cast("const uint32_t *", got)[5]
      assert.is_true(mapped >= 1, "the backing file has no extents")
    end
  end)

  it("filefrag falls back to FIBMAP, which finds no extents (root)", function()
    if not mount.need_root("filefrag's FIBMAP fallback needs root") then return end
    if not have("filefrag") then
      pending("filefrag is not installed (e2fsprogs)")
      return
    end
    assert(sys.write_file(p("frag"), pattern(64 * 1024, 4)))
    local fd = assert(sys.open(p("frag"), O.RDONLY))
    sys.fsync(fd)
    sys.close(fd)
    local bcode, backing = sh("filefrag " .. q(b("frag")))
    local code, mounted = sh("filefrag -v " .. q(p("frag")))
    assert.equal(0, code, mounted)
    assert.is_nil(mounted:lower():find("not supported", 1, true), mounted)
    assert.matches("File size of " .. p("frag"):gsub("%p", "%%%0") .. " is 65536", mounted)
    -- FUSE files show no extents; the backing file has them
    assert.matches(": 0 extents found", mounted, 1, true)
    if bcode == 0 then
      local n = tonumber(backing:match(": (%d+) extents? found"))
      assert.is_true(n and n >= 1, backing)
    end
  end)

  it("refuses every other ioctl with ENOTTY, also ones the backing file answers", function()
    assert(sys.write_file(p("io"), "x"))
    local fd = assert(sys.open(p("io"), O.RDONLY))
    local bfd = assert(sys.open(b("io"), O.RDONLY))
    local before = m:stats()
    local backing_ok = ioctl(bfd, FS_IOC_GETVERSION, nil, 8)
    fails("ENOTTY", ioctl(fd, FS_IOC_GETVERSION, nil, 8))
    fails("ENOTTY", ioctl(fd, IOC(IOC_READ + IOC_WRITE, "M", 1, 16), ("z"):rep(16)))
    fails("ENOTTY", ioctl(fd, IOC(0, "M", 2, 0)))
    local after = m:stats()
    sys.close(fd)
    sys.close(bfd)
    assert.is_true(requests(after, "ioctl") - requests(before, "ioctl") >= 3,
      "the ioctls did not reach the host")
    if backing_ok then assert.is_number(backing_ok) end
  end)

  it("unmounts cleanly", function() m:stop() end)
end)

---------------------------------------------------------------------------
-- 3. handle opens: lseek, copy_file_range and ioctl handlers

describe("a script's lseek, copy_file_range and ioctl handlers", function()
  local m, rec, out, p
  local allow = { "raised an error", "replying EIO", "raised on purpose", "ops_handles%.lua",
    "must return", "returned more bytes" }
  setup(function()
    rec = mount.tmpdir("rec")
    out = mount.tmpdir("out")
    m = mount.start{ script = fixtures .. "ops_handles.lua", options = "record=" .. rec .. "/calls",
      allow = allow }
    p = function(x) return m:path(x) end
  end)
  teardown(function()
    mount.stop_all()
    mount.rmtree(rec)
    mount.rmtree(out)
  end)

  local function calls_since(mark)
    return (read_text(rec .. "/calls") or ""):sub(mark + 1)
  end
  local function mark() return #(read_text(rec .. "/calls") or "") end

  it("lseek: the handler's offsets reach the caller, with the open's handle", function()
    local at = mark()
    local fd = assert(sys.open(p("data"), O.RDONLY))
    assert.equal(8192, lseek(fd, 0, SEEK_DATA))
    assert.equal("DDDD", sys.read(fd, 4)) -- the position is where the handler said
    assert.equal(12288, lseek(fd, 8192, SEEK_HOLE))
    assert.equal(40960, lseek(fd, 12288, SEEK_DATA))
    assert.equal(65536, lseek(fd, 40960, SEEK_HOLE))
    assert.equal(0, lseek(fd, 0, SEEK_HOLE))
    fails("ENXIO", lseek(fd, 65536, SEEK_DATA))
    sys.close(fd)
    local log = calls_since(at)
    for _, line in ipairs({ "lseek /data data 0 fh=/data", "lseek /data hole 8192 fh=/data",
      "lseek /data data 12288 fh=/data", "lseek /data hole 40960 fh=/data",
      "lseek /data data 65536 fh=/data" }) do
      assert.matches(line, log, 1, true)
    end
  end)

  it("lseek: cp --sparse=always finds the holes the handler reports", function()
    local at = mark()
    local code, text = sh("cp --sparse=always " .. q(p("data")) .. " " .. q(out .. "/data"))
    assert.equal(0, code, text)
    assert(sys.read_file(out .. "/data") == sys.read_file(p("data")))
    assert.matches("lseek /data data 0", calls_since(at), 1, true)
    assert.same({ { 8192, 12288 }, { 40960, 65536 } }, extents_of(out .. "/data"))
  end)

  it("lseek: a raise is EIO with the script's line, an errno passes, a wrong value is EIO", function()
    local fd = assert(sys.open(p("raise"), O.RDONLY))
    fails("EIO", lseek(fd, 0, SEEK_DATA))
    sys.close(fd)
    local log = m:log_text()
    assert.matches("handler 'lseek' (/raise) raised an error; replying EIO", log, 1, true)
    assert.matches("ops_handles.lua:" .. line_of("ops_handles.lua", "LSEEK RAISE LINE") .. ": lseek raised on purpose",
      log, 1, true)
    fd = assert(sys.open(p("errno"), O.RDONLY))
    fails("EOVERFLOW", lseek(fd, 0, SEEK_HOLE))
    sys.close(fd)
    fd = assert(sys.open(p("wrong"), O.RDONLY))
    fails("EIO", lseek(fd, 0, SEEK_DATA))
    sys.close(fd)
    assert.matches("handler 'lseek' (/wrong) must return the offset found", m:log_text(), 1, true)
    -- and the handler is still asked afterwards
    fd = assert(sys.open(p("data"), O.RDONLY))
    assert.equal(40960, lseek(fd, 12288, SEEK_DATA))
    sys.close(fd)
  end)

  it("copy_file_range: the handler's count reaches the caller; cp copies through it", function()
    local at = mark()
    local src = sys.read_file(p("src"))
    assert.equal(10000, #src)
    local fin = assert(sys.open(p("src"), O.RDONLY))
    local fout = assert(sys.open(p("dst1"), bit.bor(O.CREAT, O.RDWR, O.TRUNC), 420))
    local n, off_in, off_out = copy_file_range(fin, 500, fout, 0, 5000)
    assert.equal(1000, n) -- the handler copies at most 1000 a call
    assert.equal(1500, off_in)
    assert.equal(1000, off_out)
    sys.close(fin)
    sys.close(fout)
    assert.equal(src:sub(501, 1500), sys.read_file(p("dst1")))
    assert.matches("copy_file_range /src 500 fh=/src -> /dst1 0 fh=/dst1 length=5000 flags=0",
      calls_since(at), 1, true)

    local before = m:stats()
    local code, text = sh("cp " .. q(p("src")) .. " " .. q(p("dst2")))
    assert.equal(0, code, text)
    local after = m:stats()
    assert.equal(src, sys.read_file(p("dst2")))
    assert.is_true(calls(after, "copy_file_range") - calls(before, "copy_file_range") >= 10,
      "cp did not copy through the handler")
    assert.equal(0, calls(after, "write") - calls(before, "write"), "cp wrote through write")
  end)

  it("copy_file_range: a raise is EIO with the script's line, an errno passes, wrong counts are EIO", function()
    local fout = assert(sys.open(p("dst3"), bit.bor(O.CREAT, O.RDWR, O.TRUNC), 420))
    local function copy_from(name)
      local fin = assert(sys.open(p(name), O.RDONLY))
      local a, b_, c = copy_file_range(fin, 0, fout, 0, 2000)
      sys.close(fin)
      return a, b_, c
    end
    fails("EIO", copy_from("cfr_raise"))
    fails("ENOSPC", copy_from("cfr_errno"))
    fails("EIO", copy_from("cfr_wrong"))
    fails("EIO", copy_from("cfr_toomany"))
    sys.close(fout)
    local log = m:log_text()
    assert.matches("handler 'copy_file_range' (/cfr_raise) raised an error; replying EIO", log, 1, true)
    assert.matches("ops_handles.lua:" .. line_of("ops_handles.lua", "CFR RAISE LINE")
      .. ": copy_file_range raised on purpose", log, 1, true)
    assert.matches("handler 'copy_file_range' (/cfr_wrong) must return the number of bytes copied", log, 1, true)
    assert.matches("handler 'copy_file_range' (/cfr_toomany) must return the number of bytes copied", log, 1, true)
    assert.equal("", sys.read_file(p("dst3")))
  end)

  it("ioctl: the handler gets the command and the bytes in; its result and bytes come back", function()
    local at = mark()
    local fd = assert(sys.open(p("src"), O.RDONLY))
    local rc, got = ioctl(fd, IOC(IOC_READ + IOC_WRITE, "M", 1, 16), "abcdefghijklmnop")
    assert.equal(42, rc)
    assert.equal("ponmlkjihgfedcba", got)
    assert.equal(7, (ioctl(fd, IOC(0, "M", 2, 0))))
    rc, got = ioctl(fd, IOC(IOC_READ, "M", 3, 4), nil, 4)
    assert.equal(0, rc)
    assert.equal("\1\2\3\4", got)
    fails("EACCES", ioctl(fd, IOC(0, "M", 4, 0)))
    fails("ENOTTY", ioctl(fd, IOC(0, "M", 5, 0))) -- ENOSYS from the handler
    fails("ENOTTY", ioctl(fd, IOC(0, "Q", 1, 0)))
    sys.close(fd)
    local log = calls_since(at)
    assert.matches("ioctl /src cmd=c0104d01 nr=1 in=16 fh=/src", log, 1, true)
    assert.matches("ioctl cmd as a number: 3222293761", log, 1, true) -- as C writes 0xC0104D01
    assert.matches("ioctl /src cmd=00004d02 nr=2 in=0 fh=/src", log, 1, true)
    assert.matches("ioctl /src cmd=80044d03 nr=3 in=0 fh=/src", log, 1, true)
  end)

  it("ioctl: a raise is EIO with the script's line, wrong results are EIO", function()
    local fd = assert(sys.open(p("src"), O.RDONLY))
    fails("EIO", ioctl(fd, IOC(0, "M", 6, 0)))
    fails("EIO", ioctl(fd, IOC(0, "M", 7, 0)))
    fails("EIO", ioctl(fd, IOC(IOC_READ, "M", 8, 4), nil, 4))
    assert.equal(7, (ioctl(fd, IOC(0, "M", 2, 0)))) -- still served
    sys.close(fd)
    local log = m:log_text()
    assert.matches("handler 'ioctl' (/src) raised an error; replying EIO", log, 1, true)
    assert.matches("ops_handles.lua:" .. line_of("ops_handles.lua", "IOCTL RAISE LINE") .. ": ioctl raised on purpose",
      log, 1, true)
    assert.matches("handler 'ioctl' (/src) must return a result", log, 1, true)
    assert.matches("handler 'ioctl' (/src) returned more bytes than the ioctl gives back", log, 1, true)
  end)

  it("unmounts cleanly", function() m:stop() end)
end)

describe("a script without lseek, copy_file_range and ioctl handlers", function()
  local m, p
  setup(function()
    m = mount.start{ script = fixtures .. "ops_handles.lua", options = "plain" }
    p = function(x) return m:path(x) end
  end)
  teardown(function() mount.stop_all() end)

  it("gets the kernel's lseek: the whole file is data", function()
    local fd = assert(sys.open(p("data"), O.RDONLY))
    assert.equal(100, lseek(fd, 100, SEEK_DATA))
    assert.equal(65536, lseek(fd, 100, SEEK_HOLE))
    fails("ENXIO", lseek(fd, 65536, SEEK_DATA))
    assert.equal(0, lseek(fd, 0, SEEK_DATA))
    sys.close(fd)
    local counts = m:stats()
    assert.is_true(requests(counts, "lseek") <= 1, "lseek was asked again after ENOSYS")
    assert.equal(0, calls(counts, "lseek"))
  end)

  it("copies through read and write: copy_file_range(2) and cp still work", function()
    local src = sys.read_file(p("src"))
    local before = m:stats()
    local fin = assert(sys.open(p("src"), O.RDONLY))
    local fout = assert(sys.open(p("dst"), bit.bor(O.CREAT, O.RDWR, O.TRUNC), 420))
    local n = copy_file_range(fin, 500, fout, 0, 5000)
    assert.equal(5000, n)
    sys.close(fin)
    sys.close(fout)
    assert.equal(src:sub(501, 5500), sys.read_file(p("dst")))
    local code, text = sh("cp " .. q(p("src")) .. " " .. q(p("dst2")))
    assert.equal(0, code, text)
    assert.equal(src, sys.read_file(p("dst2")))
    local after = m:stats()
    assert.is_true(calls(after, "write") - calls(before, "write") >= 2, "the copies did not write")
    assert.is_true(calls(after, "read") - calls(before, "read") >= 1, "the copies did not read")
    assert.equal(0, calls(after, "copy_file_range"))
    assert.is_true(requests(after, "copy_file_range") <= 1, "copy_file_range was asked again after ENOSYS")
  end)

  it("answers every ioctl ENOTTY", function()
    local fd = assert(sys.open(p("src"), O.RDONLY))
    fails("ENOTTY", ioctl(fd, IOC(IOC_READ + IOC_WRITE, "M", 1, 16), ("a"):rep(16)))
    fails("ENOTTY", ioctl(fd, IOC(0, "M", 2, 0)))
    sys.close(fd)
    assert.equal(0, calls(m:stats(), "ioctl"))
  end)

  it("unmounts cleanly", function() m:stop() end)
end)

---------------------------------------------------------------------------
-- 4. locks

describe("locks kept by a script", function()
  local m, rec, p
  local open_fds = {}
  local function keep_open(fd) open_fds[#open_fds + 1] = fd; return fd end
  before_each(function()
    results = mount.tmpdir("results")
    children.dir = results
    rec = results .. "/locks"
    m = mount.start{ script = fixtures .. "ops_locks.lua", options = "timeout=0,record=" .. rec }
    p = function(x) return m:path(x) end
  end)
  after_each(function()
    for _, fd in ipairs(open_fds) do sys.close(fd) end
    open_fds = {}
    kill_everything(nil)
    mount.stop_all()
    mount.rmtree(results)
  end)

  local function recorded() return read_text(rec) or "" end

  it("flock(1) and flock(2) reach the flock handler", function()
    if not have("flock") then pending("flock(1) is not installed (util-linux)"); return end
    local fd = keep_open(assert(sys.open(p("b"), O.RDONLY)))
    assert(flock(fd, LOCK_EX))
    assert.matches("flock /b exclusive wait -> ok", recorded(), 1, true)
    -- another open: refused at once
    local code = sh("flock -n " .. q(p("b")) .. " true", 20)
    assert.equal(1, code)
    assert.matches("flock /b exclusive nowait -> EAGAIN", recorded(), 1, true)
    local fd2 = keep_open(assert(sys.open(p("b"), O.RDONLY)))
    fails("EAGAIN", flock(fd2, bit.bor(LOCK_SH, LOCK_NB)))
    assert.matches("flock /b shared nowait -> EAGAIN", recorded(), 1, true)
    assert(flock(fd, LOCK_UN))
    assert.matches("flock /b unlock wait -> ok", recorded(), 1, true)
    -- free now: flock(1) takes it, and the host unlocks it at its release
    local text
    code, text = sh("flock " .. q(p("b")) .. " true", 20)
    assert.equal(0, code, text)
    assert.matches("flock /b unlock nowait -> ok", recorded(), 1, true)
    assert(flock(fd2, bit.bor(LOCK_SH, LOCK_NB)))
    assert.matches("flock /b shared nowait -> ok", recorded(), 1, true)
  end)

  it("a flock that waits: others are served meanwhile; it gets the lock once it is free", function()
    local fd = keep_open(assert(sys.open(p("b"), O.RDONLY)))
    assert(flock(fd, LOCK_EX))
    local child = spawn(function()
      local cfd = assert(sys.open(p("b"), O.RDONLY))
      local t0 = now()
      local ok, err = flock(cfd, LOCK_EX)
      local took = now() - t0
      sys.close(cfd)
      return ok and "ok" or err, took
    end)
    wait_line(rec, "flock /b exclusive wait -> waiting", 10, m) -- the child's, in its handler
    mount.sleep(0.3)
    local t0 = now()
    for i = 1, 50 do
      assert.equal("file", sys.stat(p("other")).type, "stat " .. i)
    end
    assert.equal("cccc\n", sys.read_file(p("c")))
    local took = now() - t0
    assert.is_true(took < 1, ("50 stats took %.2f s while a lock waited"):format(took))
    assert.is_nil(read_text(results .. "/" .. child), "the child's flock ended before the unlock")
    assert(flock(fd, LOCK_UN))
    local r = reap(child, 20, m)
    assert.is_true(r.ok, tostring(r.values and r.values[1]))
    assert.equal("ok", r.values[1])
    assert.is_true(tonumber(r.values[2]) >= 0.3, "the child did not wait")
    assert.matches("flock /b exclusive wait -> waiting", recorded(), 1, true)
    local _, waited = recorded():gsub("flock /b exclusive wait %-> waited", "")
    assert.equal(1, waited)
  end)

  it("a flock that waits is cancelled when its caller is interrupted (flock -w)", function()
    if not have("flock") then pending("flock(1) is not installed (util-linux)"); return end
    local fd = keep_open(assert(sys.open(p("b"), O.RDONLY)))
    assert(flock(fd, LOCK_EX))
    local t0 = now()
    local code, text = sh("flock -w 1 " .. q(p("b")) .. " true", 20)
    local took = now() - t0
    assert.equal(1, code, text)
    assert.is_true(took >= 0.9 and took < 5, ("flock -w 1 took %.2f s"):format(took))
    assert.matches("flock /b exclusive wait -> waiting", recorded(), 1, true)
    wait_line(rec, "flock /b exclusive wait -> cancelled: moonfs: interrupted (the caller gave up)", 5, m)
    -- the mount keeps serving, the lock is still the parent's
    assert.equal("cccc\n", sys.read_file(p("c")))
    assert.equal(1, (sh("flock -n " .. q(p("b")) .. " true", 20)))
    assert(flock(fd, LOCK_UN))
    assert.equal(0, (sh("flock -n " .. q(p("b")) .. " true", 20)))
    assert.is_nil(m:log_text():find("raised an error", 1, true), m:log_text())
  end)

  it("fcntl locks reach setlk and getlk, with ranges, types and the holder's pid", function()
    local me = unistd.getpid()
    local fd = keep_open(assert(sys.open(p("a"), O.RDWR)))
    assert(posix_lock(fd, F_SETLK, F_WRLCK, 0, 100))
    assert.matches("setlk /a write 0-99 nowait -> ok", recorded(), 1, true)
    local got = { in_child(m, 20, function()
      local cfd = assert(sys.open(p("a"), O.RDWR))
      local l = assert(posix_lock(cfd, F_GETLK, F_WRLCK, 50, 11))
      local _, again = posix_lock(cfd, F_SETLK, F_RDLCK, 50, 11)
      local other = posix_lock(cfd, F_SETLK, F_WRLCK, 200, 0) -- to the end: free
      local l2 = assert(posix_lock(cfd, F_GETLK, F_WRLCK, 100, 10))
      sys.close(cfd) -- drops the child's own lock (the host unlocks at close)
      return l.type, l.start, l.len, l.pid, again, other and "ok" or "refused", l2.type
    end) }
    assert.same({ tostring(F_WRLCK), "0", "100", tostring(me), "EAGAIN", "ok", tostring(F_UNLCK) },
      got)
    local log = recorded()
    assert.matches("getlk /a write 50-60 -> write 0-99 pid=" .. me, log, 1, true)
    assert.matches("setlk /a read 50-60 nowait -> EAGAIN", log, 1, true)
    assert.matches("setlk /a write 200-eof nowait -> ok", log, 1, true)
    assert.matches("getlk /a write 100-109 -> none", log, 1, true)
    -- the parent's own view: no conflict with itself
    local mine = assert(posix_lock(fd, F_GETLK, F_WRLCK, 0, 0))
    assert.equal(F_UNLCK, mine.type)
    assert(posix_lock(fd, F_SETLK, F_UNLCK, 0, 0))
    assert.matches("setlk /a unlock 0-eof nowait -> ok", recorded(), 1, true)
  end)

  it("closing a file drops the fcntl locks its process held on it", function()
    local locked = in_child(m, 20, function()
      local cfd = assert(sys.open(p("c"), O.RDWR))
      assert(posix_lock(cfd, F_SETLK, F_WRLCK, 0, 0))
      sys.close(cfd)
      return "closed"
    end)
    assert.equal("closed", locked)
    local fd = keep_open(assert(sys.open(p("c"), O.RDWR)))
    -- a local filesystem drops the lock at close: the parent gets it at once
    assert(posix_lock(fd, F_SETLK, F_WRLCK, 0, 0))
    assert.matches("setlk /c unlock 0-eof nowait -> ok", recorded(), 1, true)
    assert(posix_lock(fd, F_SETLK, F_UNLCK, 0, 0))
  end)

  it("an fcntl lock that waits: others are served meanwhile; it gets the lock when freed", function()
    local fd = keep_open(assert(sys.open(p("a"), O.RDWR)))
    assert(posix_lock(fd, F_SETLK, F_WRLCK, 0, 100))
    local child = spawn(function()
      local cfd = assert(sys.open(p("a"), O.RDWR))
      local t0 = now()
      local ok, err = posix_lock(cfd, F_SETLKW, F_WRLCK, 10, 10)
      local took = now() - t0
      local l = assert(posix_lock(cfd, F_GETLK, F_WRLCK, 0, 0))
      sys.close(cfd)
      return ok and "ok" or err, took, l.type
    end)
    wait_line(rec, "setlk /a write 10-19 wait -> waiting", 10, m)
    mount.sleep(0.3)
    local t0 = now()
    for i = 1, 50 do
      assert.equal("file", sys.stat(p("other")).type, "stat " .. i)
    end
    local took = now() - t0
    assert.is_true(took < 1, ("50 stats took %.2f s while a lock waited"):format(took))
    assert.is_nil(read_text(results .. "/" .. child), "the waiting lock ended before the unlock")
    assert(posix_lock(fd, F_SETLK, F_UNLCK, 0, 100))
    local r = reap(child, 20, m)
    assert.is_true(r.ok, tostring(r.values and r.values[1]))
    assert.equal("ok", r.values[1])
    assert.is_true(tonumber(r.values[2]) >= 0.3, "the lock did not wait")
    assert.equal(tostring(F_UNLCK), r.values[3]) -- a lock of its own conflicts with nothing
    assert.matches("setlk /a write 10-19 wait -> waited", recorded(), 1, true)
  end)

  it("an fcntl lock that waits is cancelled when its caller is killed by SIGINT", function()
    local fd = keep_open(assert(sys.open(p("a"), O.RDWR)))
    assert(posix_lock(fd, F_SETLK, F_WRLCK, 0, 0))
    local child = spawn(function()
      local cfd = assert(sys.open(p("a"), O.RDWR))
      posix_lock(cfd, F_SETLKW, F_RDLCK, 0, 1)
      return "not interrupted"
    end, { sigint = "default" })
    wait_line(rec, "setlk /a read 0-0 wait -> waiting", 10, m)
    mount.sleep(0.2)
    local t0 = now()
    signal.kill(child, signal.SIGINT)
    local r = reap(child, 20, m)
    local took = now() - t0
    assert.equal("killed", r.how)
    assert.equal(signal.SIGINT, r.status)
    assert.is_true(took < 2, ("the child took %.2f s to die"):format(took))
    wait_line(rec, "setlk /a read 0-0 wait -> cancelled: moonfs: interrupted (the caller gave up)", 5, m)
    -- the mount keeps serving, the parent still holds its lock
    assert.equal("cccc\n", sys.read_file(p("c")))
    local other = in_child(m, 20, function()
      local cfd = assert(sys.open(p("a"), O.RDWR))
      local _, err = posix_lock(cfd, F_SETLK, F_RDLCK, 0, 1)
      sys.close(cfd)
      return err
    end)
    assert.equal("EAGAIN", other)
    assert.is_nil(m:log_text():find("raised an error", 1, true), m:log_text())
  end)

  it("unmounts cleanly", function()
    m:stop()
  end)
end)

describe("locks without lock handlers (the mirror)", function()
  local m, src, p
  before_each(function()
    results = mount.tmpdir("results")
    children.dir = results
    src = mount.tmpdir("src")
    m = mount.start{ script = "scripts/mirror.lua", options = "root=" .. src }
    p = function(x) return m:path(x) end
  end)
  after_each(function()
    kill_everything(nil)
    mount.stop_all()
    mount.rmtree(src)
    mount.rmtree(results)
  end)

  it("stay in the kernel and conflict as usual", function()
    assert(sys.write_file(p("f"), "locked\n"))
    local fd = assert(sys.open(p("f"), O.RDWR))
    local fd2 = assert(sys.open(p("f"), O.RDONLY))
    local closed = false
    local function close()
      if not closed then sys.close(fd); sys.close(fd2); closed = true end
    end
    finally(close)
    assert(flock(fd, LOCK_EX))
    fails("EAGAIN", flock(fd2, bit.bor(LOCK_SH, LOCK_NB)))
    if have("flock") then assert.equal(1, (sh("flock -n " .. q(p("f")) .. " true", 20))) end
    assert(flock(fd, LOCK_UN))
    assert(flock(fd2, bit.bor(LOCK_SH, LOCK_NB)))
    assert(flock(fd2, LOCK_UN))

    local me = unistd.getpid()
    assert(posix_lock(fd, F_SETLK, F_WRLCK, 0, 100))
    local got = { in_child(m, 20, function()
      local cfd = assert(sys.open(p("f"), O.RDWR))
      local l = assert(posix_lock(cfd, F_GETLK, F_RDLCK, 10, 1))
      local _, err = posix_lock(cfd, F_SETLK, F_RDLCK, 10, 1)
      local free = posix_lock(cfd, F_SETLK, F_RDLCK, 100, 1)
      sys.close(cfd)
      return l.type, l.pid, err, free and "ok" or "refused"
    end) }
    assert.same({ tostring(F_WRLCK), tostring(me), "EAGAIN", "ok" }, got)
    local counts = m:stats()
    for _, op in ipairs({ "getlk", "setlk", "flock" }) do
      assert.equal(0, requests(counts, op), op .. " reached the host")
    end
    close()
    m:stop()
  end)
end)

---------------------------------------------------------------------------
-- 5. memfs: fallocate and holes

describe("memfs's fallocate", function()
  local m, p
  setup(function()
    m = mount.start{ script = "scripts/memfs.lua" }
    p = function(x) return m:path(x) end
  end)
  teardown(function() mount.stop_all() end)

  local function fallocate(args, name)
    local code, text = sh("fallocate " .. args .. " " .. q(p(name)), 20)
    return code, text
  end

  it("fallocate -l 1M makes a file of 1 MiB of zeros that holds no memory", function()
    local code, text = fallocate("-l 1M", "a")
    assert.equal(0, code, text)
    local st = sys.stat(p("a"))
    assert.equal(MiB, st.size)
    assert.equal(0, st.blocks)
    assert(sys.read_file(p("a")) == ("\0"):rep(MiB))
    -- all hole: SEEK_HOLE finds offset 0, SEEK_DATA nothing
    local fd = assert(sys.open(p("a"), O.RDONLY))
    assert.equal(0, lseek(fd, 0, SEEK_HOLE))
    fails("ENXIO", lseek(fd, 0, SEEK_DATA))
    sys.close(fd)
  end)

  it("fallocate -p punches a hole and keeps the size; whole blocks become holes", function()
    local data = pattern(MiB, 5)
    assert(sys.write_file(p("b"), data))
    local blocks = sys.stat(p("b")).blocks
    local code, text = fallocate("-p -o 4096 -l 8192", "b")
    assert.equal(0, code, text)
    local want = data:sub(1, 4096) .. ("\0"):rep(8192) .. data:sub(12289)
    assert.equal(MiB, sys.stat(p("b")).size)
    assert(sys.read_file(p("b")) == want, "after punching 4096+8192")
    -- memfs keeps data in 64 KiB blocks: a punch of whole blocks frees them
    code, text = fallocate("-p -o 65536 -l 131072", "b")
    assert.equal(0, code, text)
    want = want:sub(1, 65536) .. ("\0"):rep(131072) .. want:sub(196609)
    assert(sys.read_file(p("b")) == want, "after punching 64 KiB blocks")
    assert.equal(MiB, sys.stat(p("b")).size)
    assert.equal(blocks - 131072 / 512, sys.stat(p("b")).blocks)
    local fd = assert(sys.open(p("b"), O.RDONLY))
    assert.equal(65536, lseek(fd, 0, SEEK_HOLE))
    assert.equal(196608, lseek(fd, 65536, SEEK_DATA))
    assert.equal(MiB, lseek(fd, 196608, SEEK_HOLE))
    sys.close(fd)
    assert.same({ { 0, 65536 }, { 196608, MiB } }, extents_of(p("b")))
  end)

  it("fallocate -z zeros a range, and grows the file without -n", function()
    local data = pattern(100000, 6)
    assert(sys.write_file(p("z"), data))
    local code, text = fallocate("-z -o 1000 -l 2000", "z")
    assert.equal(0, code, text)
    local want = data:sub(1, 1000) .. ("\0"):rep(2000) .. data:sub(3001)
    assert(sys.read_file(p("z")) == want, "after zeroing 1000+2000")
    assert.equal(100000, sys.stat(p("z")).size)
    code, text = fallocate("-z -o 99000 -l 5000", "z")
    assert.equal(0, code, text)
    assert.equal(104000, sys.stat(p("z")).size)
    assert(sys.read_file(p("z")) == want:sub(1, 99000) .. ("\0"):rep(5000), "after zeroing past the end")
  end)

  it("fallocate -n keeps the size; without it the file grows", function()
    assert(sys.write_file(p("n"), "12345"))
    local code, text = fallocate("-n -o 0 -l 1M", "n")
    assert.equal(0, code, text)
    assert.equal(5, sys.stat(p("n")).size)
    assert.equal("12345", sys.read_file(p("n")))
    code, text = fallocate("-o 4096 -l 4096", "n")
    assert.equal(0, code, text)
    assert.equal(8192, sys.stat(p("n")).size)
    assert.equal("12345" .. ("\0"):rep(8192 - 5), sys.read_file(p("n")))
  end)

  it("refuses what it does not do: collapse, insert", function()
    assert(sys.write_file(p("c"), pattern(262144, 7)))
    local code, text = fallocate("-c -o 0 -l 65536", "c")
    assert.are_not.equal(0, code)
    assert.matches("Operation not supported", text, 1, true)
    assert.equal(262144, sys.stat(p("c")).size)
    assert(sys.read_file(p("c")) == pattern(262144, 7))
  end)

  it("unmounts cleanly", function() m:stop() end)
end)
