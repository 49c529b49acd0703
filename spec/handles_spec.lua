-- File handles (issue 14): name_to_handle_at on the mirror hands out
-- handles that open_by_handle_at still opens after the kernel dropped its
-- caches and after a remount; a handle to a removed file gives ESTALE,
-- never the file that took its inode number; a removed file still open
-- stays reachable; a script without `locate` says EOPNOTSUPP at once.
local mount = require("support.mount")
local sys = require("support.sys")
local ffi = require("ffi")

for _, decl in ipairs({
  "struct moonfs_handle { unsigned int handle_bytes; int handle_type; unsigned char f_handle[128]; };",
  "int name_to_handle_at(int dirfd, const char *path, struct moonfs_handle *h, int *mount_id, int flags);",
  "int open_by_handle_at(int mount_fd, struct moonfs_handle *h, int flags);",
}) do pcall(ffi.cdef, decl) end
local C = ffi.C
local errno_names = require("moonfs.errno")

local function handle_of(path)
  local h = ffi.new("struct moonfs_handle")
  h.handle_bytes = 128
  local mount_id = ffi.new("int[1]")
  if C.name_to_handle_at(sys.AT_FDCWD, path, h, mount_id, 0) ~= 0 then
    return nil, errno_names[ffi.errno()]
  end
  return h
end

--- Opens the handle on the mount at dir and reads the file: its content,
-- or nil and the errno name.
local function open_handle(dir, h)
  local mfd = assert(sys.open(dir, sys.O.RDONLY + sys.O.DIRECTORY))
  local fd = C.open_by_handle_at(mfd, h, sys.O.RDONLY)
  local err = fd < 0 and errno_names[ffi.errno()] or nil
  sys.close(mfd)
  if fd < 0 then return nil, err end
  local data = sys.read(fd, 4096)
  sys.close(fd)
  return data
end

local function drop_caches()
  local f = assert(io.open("/proc/sys/vm/drop_caches", "w"))
  f:write("3\n")
  f:close()
end

local function write_file(path, data)
  local f = assert(io.open(path, "w"))
  f:write(data)
  f:close()
end

describe("file handles on the mirror", function()
  local src, m
  before_each(function()
    src = mount.tmpdir("src")
    assert(os.execute("mkdir -p '" .. src .. "/d/e'"))
    write_file(src .. "/top", "top file")
    write_file(src .. "/d/e/deep", "deep file")
  end)
  after_each(function()
    mount.stop_all()
    mount.rmtree(src)
  end)
  local function start() return mount.start{ script = "scripts/mirror.lua", options = "root=" .. src } end

  it("opens a handle after the kernel dropped its caches and after a remount", function()
    if not mount.need_root("open_by_handle_at needs CAP_DAC_READ_SEARCH, drop_caches root") then return end
    m = start()
    local top, deep, dir = assert(handle_of(m:path("top"))), assert(handle_of(m:path("d/e/deep"))),
      assert(handle_of(m:path("d/e")))
    assert.equal("top file", open_handle(m.dir, top))
    drop_caches()
    assert.equal("top file", open_handle(m.dir, top))
    assert.equal("deep file", open_handle(m.dir, deep))
    assert.is_truthy(open_handle(m.dir, dir) == nil) -- a directory reads nothing, but opens:
    m:stop()

    -- a new host, which never saw these files: locate finds them
    m = start()
    assert.equal("deep file", open_handle(m.dir, deep))
    assert.equal("top file", open_handle(m.dir, top))
    local mfd = assert(sys.open(m.dir, sys.O.RDONLY + sys.O.DIRECTORY))
    local fd = C.open_by_handle_at(mfd, dir, sys.O.RDONLY + sys.O.DIRECTORY)
    sys.close(mfd)
    assert.is_true(fd >= 0, "the directory handle did not open: " .. tostring(errno_names[ffi.errno()]))
    sys.close(fd)
    assert.is_true((m:stats().lua.locate or 0) >= 1, "the new host found them without locate?")
    m:stop()
  end)

  it("gives ESTALE for a removed file, also when a new file has its inode number", function()
    if not mount.need_root("open_by_handle_at needs CAP_DAC_READ_SEARCH") then return end
    m = start()
    write_file(m:path("old"), "old data")
    local ino = sys.stat(m:path("old")).ino
    local h = assert(handle_of(m:path("old")))
    assert(os.remove(m:path("old")))
    -- ext4 hands a freed inode number out again soon; make files until one has it
    local reused
    for i = 1, 200 do
      local name = m:path("new" .. i)
      write_file(name, "someone else's data")
      if sys.stat(name).ino == ino then reused = name break end
    end
    assert.same({ nil, "ESTALE" }, { open_handle(m.dir, h) })
    drop_caches()
    assert.same({ nil, "ESTALE" }, { open_handle(m.dir, h) })
    m:stop()
    m = start()
    assert.same({ nil, "ESTALE" }, { open_handle(m.dir, h) })
    m:stop()
    if not reused then print("note: no new file took the removed file's inode number") end
  end)

  it("reaches a removed file that is still open", function()
    if not mount.need_root("open_by_handle_at needs CAP_DAC_READ_SEARCH, drop_caches root") then return end
    m = start()
    write_file(m:path("held"), "still here")
    local h = assert(handle_of(m:path("held")))
    local keep = assert(sys.open(m:path("held"), sys.O.RDONLY))
    assert(os.remove(m:path("held")))
    drop_caches()
    assert.equal("still here", open_handle(m.dir, h))
    sys.close(keep)
    drop_caches()
    assert.same({ nil, "ESTALE" }, { open_handle(m.dir, h) })
    m:stop()
  end)

  it("a script without locate refuses handles at once with EOPNOTSUPP", function()
    m = mount.start{ script = "scripts/memfs.lua" }
    write_file(m:path("a"), "a")
    assert.same({ nil, "EOPNOTSUPP" }, { handle_of(m:path("a")) })
    m:stop()
  end)
end)

describe("file handles and locate's answers", function()
  local script_dirs = {}
  after_each(function()
    mount.stop_all()
    for _, dir in ipairs(script_dirs) do mount.rmtree(dir) end
    script_dirs = {}
  end)

  local function script(locate_body)
    local path, dir = mount.write_script([[
local moonfs = require("moonfs")
local files = { ["/a"] = 11, ["/b"] = 12 }
return {
  getattr = function(path)
    if path == "/" then return { type = "dir" } end
    if files[path] then return { ino = files[path], generation = 7, size = 1 } end
    return nil, "ENOENT"
  end,
  readdir = function() return { "a", "b" } end,
  open = function() return {} end,
  read = function(path) return path:sub(2, 2) end,
  locate = function(ino)
]] .. locate_body .. [[
  end,
}
]], "locate.lua")
    script_dirs[#script_dirs + 1] = dir
    return path
  end

  -- Handles made by one host, opened by a second one with another locate.
  local function handle_then(locate_body, allow)
    local m = mount.start{ script = script("return '/a'") }
    local h = assert(handle_of(m:path("a")))
    m:stop()
    m = mount.start{ script = script(locate_body), allow = allow }
    return m, h
  end

  -- The kernel turns every failure to find a handle's file into ESTALE;
  -- the log says what was wrong with the script's answer.
  it("a path to another file, nothing, a bad path or a raise: ESTALE, logged, the mount serves on", function()
    if not mount.need_root("open_by_handle_at needs CAP_DAC_READ_SEARCH") then return end
    local cases = {
      { "return '/b'" },
      { "return nil" },
      { "return nil, 'ENOENT'" },
      { "return '/../etc/passwd'", { "not absolute and plain" } },
      { "return 'a'", { "not absolute and plain" } },
      { "return 42", { "must return the path" } },
      { "error('no index')", { "no index", "raised an error" } },
    }
    for _, case in ipairs(cases) do
      local m, h = handle_then(case[1], case[2])
      assert.same({ nil, "ESTALE" }, { open_handle(m.dir, h) }, case[1])
      for _, expected in ipairs(case[2] or {}) do
        assert.matches(expected, m:log_text(), 1, true)
      end
      local f = assert(io.open(m:path("b")))
      assert.equal("b", f:read("*a"), "the mount stopped serving after " .. case[1])
      f:close()
      m:stop()
    end
    local m, h = handle_then("return '/a'")
    assert.equal("a", open_handle(m.dir, h))
    m:stop()
  end)
end)
