-- Passthrough through the mirror: file data stays in the kernel, is the
-- same bytes as the backing directory's, and the host's own fallback gives
-- the same results.
local mount = require("support.mount")
local sys = require("support.sys")
local bit = require("bit")
local ffi = require("ffi")
local O = sys.O

local MiB = 1048576

local function fails(expected, ...)
  local ok, err = ...
  assert.is_nil(ok, "expected " .. expected .. ", the call succeeded")
  assert.equal(expected, err)
end

-- Deterministic bytes that differ at every offset of a block.
local function pattern(size, seed)
  local t = {}
  for i = 1, 4096 do t[i] = string.char((i * 31 + seed * 7) % 256) end
  local block = table.concat(t)
  return block:rep(math.ceil(size / 4096)):sub(1, size)
end

-- Writes `total` bytes in 1 MiB pieces and reads them back in 1 MiB pieces.
local function stream(path, total)
  local piece = pattern(MiB, 3)
  local fd = assert(sys.open(path, bit.bor(O.CREAT, O.WRONLY, O.TRUNC), 420))
  for off = 0, total - 1, MiB do assert.equal(MiB, sys.pwrite(fd, piece, off)) end
  assert(sys.close(fd))
  fd = assert(sys.open(path, O.RDONLY))
  for off = 0, total - 1, MiB do
    local got = sys.pread(fd, MiB, off)
    assert(got == piece, "wrong bytes at " .. off)
  end
  assert(sys.close(fd))
end

local function sum_requests(counts, ops)
  local n = 0
  for _, op in ipairs(ops) do n = n + (counts.requests[op] or 0) end
  return n
end

local function total_requests(counts)
  local n = 0
  for _, v in pairs(counts.requests) do n = n + v end
  return n
end

for _, mode in ipairs({ "passthrough", "nopassthrough" }) do
  describe("the mirror with " .. mode, function()
    -- Where passthrough cannot be had (not root, an older kernel) its half
    -- skips with the reason; the host's own data path is tested anyway.
    local busted_it = it
    local function it(name, fn)
      busted_it(name, function()
        if mode == "passthrough" and not mount.need_passthrough() then return end
        fn()
      end)
    end
    local m, src, p, b
    setup(function()
      src = mount.tmpdir("src")
      m = mount.start{ script = "scripts/mirror.lua",
        options = "root=" .. src .. (mode == "nopassthrough" and ",nopassthrough" or "") }
      p = function(x) return m:path(x) end
      b = function(x) return src .. "/" .. x end
    end)
    teardown(function()
      mount.stop_all()
      mount.rmtree(src)
    end)

    it("says whether passthrough is available", function()
      if mode == "passthrough" then
        assert.matches("passthrough: available", m:log_text(), 1, true)
      else
        assert.matches("passthrough: unavailable, turned off with -o nopassthrough", m:log_text(), 1, true)
      end
    end)

    it("moves 256 MiB with " .. (mode == "passthrough" and "fewer than 200" or "over 1,000") .. " requests to the host", function()
      local before = m:stats()
      stream(p("stream"), 256 * MiB)
      local after = m:stats()
      local used = total_requests(after) - total_requests(before)
      local data_requests = sum_requests(after, { "read", "write" }) - sum_requests(before, { "read", "write" })
      if mode == "passthrough" then
        assert.equal(0, data_requests)
        assert.is_true(used < 200, used .. " requests")
      else
        assert.is_true(data_requests > 1000, data_requests .. " read/write requests")
      end
      assert.equal(0, (after.lua.read or 0) + (after.lua.write or 0)) -- fd data never enters Lua
      assert.equal(256 * MiB, sys.stat(b("stream")).size)
      assert(sys.unlink(p("stream")))
    end)

    it("writes the same bytes as the backing file: random, appending, truncating", function()
      local fd = assert(sys.open(p("r"), bit.bor(O.CREAT, O.RDWR), 420))
      local model = {}
      local seed = 7
      for i = 1, 300 do
        seed = (seed * 1103515245 + 12345) % 2147483648
        local off = seed % (3 * MiB)
        local len = 1 + (seed % 9000)
        local data = pattern(len, i)
        assert.equal(len, sys.pwrite(fd, data, off))
        model[#model + 1] = { off, data }
      end
      assert(sys.fsync(fd))
      local size = sys.stat(p("r")).size
      local got = sys.pread(fd, size, 0)
      assert(got == sys.read_file(b("r")), "mount and backing file differ")
      for _, w in ipairs({ model[#model], model[#model - 1] }) do
        assert(got:sub(w[1] + 1, w[1] + #w[2]) == w[2])
      end
      assert(sys.ftruncate(fd, 1000))
      assert.equal(1000, #sys.pread(fd, 5000, 0))
      assert.equal(1000, sys.stat(b("r")).size)
      sys.close(fd)
      local afd = assert(sys.open(p("r"), bit.bor(O.WRONLY, O.APPEND)))
      assert(sys.write(afd, "tail"))
      sys.close(afd)
      assert.equal(1004, sys.stat(p("r")).size)
      assert.equal("tail", sys.read_file(b("r")):sub(1001))
      assert(sys.truncate(p("r"), 0))
      assert.equal("", sys.read_file(b("r")))
    end)

    it("serves one file opened O_RDONLY, O_RDWR and O_APPEND at once", function()
      assert(sys.write_file(p("c"), "0123456789"))
      local r = assert(sys.open(p("c"), O.RDONLY))
      local rw = assert(sys.open(p("c"), O.RDWR))
      local ap = assert(sys.open(p("c"), bit.bor(O.WRONLY, O.APPEND)))
      assert(sys.pwrite(rw, "AB", 0))
      assert(sys.write(ap, "XY"))
      assert.equal("AB23456789XY", sys.pread(r, 100, 0))
      assert.equal("AB23456789XY", sys.pread(rw, 100, 0))
      sys.close(r); sys.close(rw); sys.close(ap)
      assert.equal("AB23456789XY", sys.read_file(b("c")))
    end)

    it("keeps open files working across rename and unlink", function()
      assert(sys.mkdir(p("dir")))
      local fd = assert(sys.open(p("dir/f"), bit.bor(O.CREAT, O.RDWR), 420))
      assert(sys.pwrite(fd, "one", 0))
      assert(sys.rename(p("dir"), p("dir2")))
      assert(sys.pwrite(fd, "two", 3))
      assert.equal("onetwo", sys.read_file(p("dir2/f")))
      assert.equal("onetwo", sys.read_file(b("dir2/f")))
      assert(sys.unlink(p("dir2/f")))
      assert(sys.pwrite(fd, "three", 6))
      assert.equal("onetwothree", sys.pread(fd, 100, 0))
      assert.equal(0, assert(sys.fstat(fd)).nlink)
      assert(sys.close(fd))
      fails("ENOENT", sys.stat(p("dir2/f")))
    end)

    it("reads and writes through mmap", function()
      assert(sys.write_file(p("mm"), pattern(65536, 1)))
      local fd = assert(sys.open(p("mm"), O.RDWR))
      local addr = sys.mmap(nil, 65536, 3, 1, fd, 0) -- PROT_READ|WRITE, MAP_SHARED
      assert.is_true(ffi.cast("intptr_t", addr) ~= -1)
      local bytes = ffi.cast("char *", addr)
      assert(ffi.string(bytes, 65536) == pattern(65536, 1))
      ffi.copy(bytes + 100, "mapped!", 7)
      assert.equal(0, sys.msync(addr, 65536, 4)) -- MS_SYNC
      sys.munmap(addr, 65536)
      sys.close(fd)
      assert.equal("mapped!", sys.read_file(b("mm")):sub(101, 107))
    end)

    it("keeps a sparse file over 4 GiB", function()
      local fd = assert(sys.open(p("sparse"), bit.bor(O.CREAT, O.RDWR), 420))
      local far = 5 * 1024 * MiB
      assert.equal(4, sys.pwrite(fd, "edge", far))
      assert(sys.fsync(fd))
      assert.equal("edge", sys.pread(fd, 4, far))
      assert.equal(("\0"):rep(16), sys.pread(fd, 16, 4 * 1024 * MiB))
      sys.close(fd)
      assert.equal(far + 4, sys.stat(p("sparse")).size)
      assert.equal(far + 4, sys.stat(b("sparse")).size)
      assert.is_true(sys.stat(b("sparse")).blocks < 1000)
      assert(sys.unlink(p("sparse")))
    end)

    it("has no backing file left once every file is closed", function()
      local counts = m:stats()
      assert.equal(0, counts.backing_ids)
      if mode == "passthrough" then
        assert.is_true(counts.passthrough_opens > 0)
      else
        assert.equal(0, counts.passthrough_opens)
        assert.is_true(counts.fallback_opens > 0)
      end
    end)

    it("unmounts cleanly", function() m:stop() end)
  end)
end

describe("an fd the kernel refuses as a backing file", function()
  -- A mirror of a moonfs mount: the inner mount's files are FUSE files
  -- themselves, which the kernel refuses to stack (ELOOP); the outer host
  -- must then serve the data from the fd itself.
  local inner, outer, src
  setup(function()
    src = mount.tmpdir("src")
    inner = mount.start{ script = "scripts/mirror.lua", options = "root=" .. src }
    outer = mount.start{ script = "scripts/mirror.lua", options = "root=" .. inner.dir,
      allow = { "passthrough: the kernel refused an fd" } }
  end)
  teardown(function()
    mount.stop_all()
    mount.rmtree(src)
  end)

  it("still returns the right bytes, and says why once", function()
    if not mount.need_passthrough() then return end
    local data = pattern(3 * MiB + 17, 5)
    assert.equal(#data, sys.write_file(outer:path("f"), data))
    assert(sys.read_file(outer:path("f")) == data)
    assert(sys.read_file(src .. "/f") == data)
    assert(sys.read_file(outer:path("f")) == data)
    local log = outer:log_text()
    local _, refusals = log:gsub("the kernel refused an fd", "")
    assert.equal(1, refusals)
    local counts = outer:stats()
    assert.is_true(counts.fallback_opens >= 2)
    assert.is_true(counts.requests.write > 0 and counts.requests.read > 0)
    assert.equal(0, counts.backing_ids)
  end)

  it("unmounts cleanly", function()
    outer:stop()
    inner:stop()
  end)
end)
