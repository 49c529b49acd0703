-- Directory listing: big directories and offsets that survive telldir,
-- seekdir and rewinddir.
local mount = require("support.mount")
local sys = require("support.sys")
local ffi = require("ffi")

-- support.sys declares spec_DIR, opendir, readdir and closedir
ffi.cdef [[
long telldir(spec_DIR *dir);
void seekdir(spec_DIR *dir, long pos);
void rewinddir(spec_DIR *dir);
]]
local C = ffi.C

local function next_name(dir)
  local e = C.readdir(dir)
  if e == nil then return nil end
  return ffi.string(e.d_name), e.d_type
end

describe("readdir", function()
  local m
  setup(function() m = mount.start{ script = mount.repo .. "/spec/fixtures/bigdir.lua" } end)
  teardown(function() mount.stop_all() end)

  it("lists a directory of 100,000 entries", function()
    local names = assert(sys.readdir(m:path("big")))
    assert.equal(100000, #names)
    assert.equal("entry-000001", names[1])
    assert.equal("entry-100000", names[100000])
  end)

  it("gives . and .. and the types the script reports", function()
    local dir = C.opendir(m.dir)
    local seen = {}
    while true do
      local name, dtype = next_name(dir)
      if not name then break end
      seen[name] = dtype
    end
    C.closedir(dir)
    assert.equal(4, seen["."]) -- DT_DIR
    assert.equal(4, seen[".."])
    assert.equal(4, seen.big)
  end)

  it("returns to a telldir position with seekdir, and to the start with rewinddir", function()
    local dir = C.opendir(m:path("big"))
    local first = next_name(dir)
    for _ = 1, 5000 do next_name(dir) end
    local pos = C.telldir(dir)
    local after = {}
    for i = 1, 300 do after[i] = next_name(dir) end
    for _ = 1, 20000 do next_name(dir) end
    C.seekdir(dir, pos)
    for i = 1, 300 do assert.equal(after[i], (next_name(dir))) end
    C.rewinddir(dir)
    assert.equal(first, (next_name(dir)))
    C.closedir(dir)
  end)

  it("unmounts cleanly", function() m:stop() end)
end)

describe("readdir through the mirror", function()
  it("reports each name's inode number and type as stat does", function()
    local src = mount.tmpdir("src")
    local m = mount.start{ script = "scripts/mirror.lua", options = "root=" .. src }
    assert(sys.write_file(m:path("file"), "x"))
    assert(sys.mkdir(m:path("dir")))
    assert(sys.symlink("file", m:path("link")))
    local dir = C.opendir(m.dir)
    local seen = {}
    while true do
      local e = C.readdir(dir)
      if e == nil then break end
      seen[ffi.string(e.d_name)] = { ino = tonumber(e.d_ino), type = e.d_type }
    end
    C.closedir(dir)
    assert.same({ ino = sys.lstat(m:path("file")).ino, type = 8 }, seen.file)  -- DT_REG
    assert.same({ ino = sys.lstat(m:path("dir")).ino, type = 4 }, seen.dir)    -- DT_DIR
    assert.same({ ino = sys.lstat(m:path("link")).ino, type = 10 }, seen.link) -- DT_LNK
    m:stop()
    mount.rmtree(src)
  end)
end)

describe("READDIRPLUS", function()
  local src, m
  setup(function()
    src = mount.tmpdir("plus")
    assert(sys.mkdir(src .. "/sub", 493))
    for i = 1, 500 do
      local f = assert(io.open(("%s/f%03d"):format(src, i), "w"))
      f:write(("x"):rep(i))
      f:close()
    end
  end)
  teardown(function()
    mount.stop_all()
    mount.rmtree(src)
  end)

  local function ls_l(dir)
    local p = io.popen("ls -ln '" .. dir .. "' 2>&1")
    local out = p:read("*a")
    p:close()
    return out:gsub("^total %d+\n", "")
  end

  it("gives ls -l every name's attributes without a lookup per name, as the backing directory has them", function()
    m = mount.start{ script = "scripts/mirror.lua", options = "root=" .. src }
    local before = m:stats()
    local through, direct = ls_l(m.dir), ls_l(src)
    local after = m:stats()
    assert.equal(direct, through)
    local lookups = (after.requests.lookup or 0) - (before.requests.lookup or 0)
    assert.is_true(lookups < 10, lookups .. " lookups for ls -l of 501 names")
    -- a stat later finds the name known: no lookup either
    assert.equal(7, sys.stat(m:path("f007")).size)
    assert.equal(lookups, (m:stats().requests.lookup or 0) - (before.requests.lookup or 0))
  end)

  it("hands the kernel references it gives back: after a cache drop the host knows only the root", function()
    if not mount.need_root("drop_caches needs root") then return end
    ls_l(m.dir)
    assert.is_true(m:stats().nodes > 500)
    local nodes
    for _ = 1, 100 do
      -- again each time: one pass spares dentries used a moment ago (the
      -- kernel gives referenced ones a second chance), and forgets arrive
      -- in batches
      local f = assert(io.open("/proc/sys/vm/drop_caches", "w"))
      f:write("3\n")
      f:close()
      nodes = m:stats().nodes
      if nodes == 1 then break end
      mount.sleep(0.05)
    end
    assert.equal(1, nodes)
  end)

  it("a listing without stats works as before: the kernel looks names up", function()
    local script, script_dir = mount.write_script([[
local names = { "a", "b" }
return {
  getattr = function(path)
    if path == "/" then return { type = "dir" } end
    if path == "/a" or path == "/b" then return { size = 3 } end
    return nil, "ENOENT"
  end,
  readdir = function() return names end,
}
]], "nostats.lua")
    local plain = mount.start{ script = script }
    local out = ls_l(plain.dir)
    assert.matches(" 3 [^\n]* a\n", out)
    assert.is_true((plain:stats().requests.lookup or 0) >= 2)
    plain:stop()
    mount.rmtree(script_dir)
  end)

  -- The mirror hands its stats as sys.readdir's stat directory: the host
  -- stats a name only when a reply carries it with attributes. Counted
  -- with strace: a plain ls of 3,000 names gets attributes for its first
  -- buffer only (adaptive READDIRPLUS), so far fewer than 3,000 statx.
  it("stats only the names a reply hands over, not every name of the pass", function()
    if not mount.need_root("strace attaches to the host (ptrace)") then return end
    local big = mount.tmpdir("plus-big")
    for i = 1, 3000 do assert(io.open(("%s/f%04d"):format(big, i), "w")):close() end
    local mb = mount.start{ script = "scripts/mirror.lua", options = "root=" .. big }
    local trace = big .. ".strace"
    local strace = io.popen(("exec strace -f -qq -e trace=statx -o '%s' -p %d 2>&1"):format(trace, mb.pid), "r")
    local attached = false
    for _ = 1, 200 do -- strace is attached once the host's tracer is set
      local status = io.open("/proc/" .. mb.pid .. "/status"):read("*a")
      if not status:match("TracerPid:%s+0\n") then attached = true; break end
      mount.sleep(0.01)
    end
    assert.is_true(attached, "strace did not attach")
    local p = io.popen("ls '" .. mb.dir .. "' | wc -l")
    local listed = tonumber(p:read("*a"))
    p:close()
    os.execute(("kill -INT $(cat /proc/%d/status | awk '/TracerPid/ {print $2}')"):format(mb.pid))
    strace:close()
    local calls = 0
    for line in io.lines(trace) do if line:match("statx%(") then calls = calls + 1 end end
    os.remove(trace)
    mb:stop()
    mount.rmtree(big)
    assert.equal(3000, listed)
    assert.is_true(calls > 0 and calls < 1000, calls .. " statx calls for a plain ls of 3,000 names")
  end)

  -- Names a script adds to the stat directory's listing, which the
  -- directory does not have, go without attributes: the kernel looks them
  -- up. Names it drops are never shown.
  it("takes from the stat directory by name: added names are looked up, dropped ones gone", function()
    local script, script_dir = mount.write_script(([[
local moonfs = require("moonfs")
local sys = require("moonfs.sys")
local fs = moonfs.mirror(%q)
local readdir, getattr = fs.readdir, fs.getattr
function fs.readdir(path, fh, plus)
  local names, types, inos, stats = readdir(path, fh, plus)
  local kept = {}
  for i, name in ipairs(names) do
    if name ~= "f002" then kept[#kept + 1] = name end
  end
  kept[#kept + 1] = "virtual"
  return kept, nil, nil, stats
end
function fs.getattr(path, fh)
  if path == "/virtual" then return { size = 4242 } end
  return getattr(path, fh)
end
return fs
]]):format(src), "filtered.lua")
    local f = mount.start{ script = script }
    local out = ls_l(f.dir)
    f:stop()
    mount.rmtree(script_dir)
    assert.matches(" 4242 [^\n]* virtual\n", out)
    assert.matches(" 7 [^\n]* f007\n", out)
    assert.not_matches("f002", out, 1, true)
  end)

  -- A stat directory's fd goes to the host with the first listing that
  -- carries it; a script that keeps its listing and returns it again gets
  -- the same names served (without attributes: the kernel looks them up).
  it("serves a listing a script keeps and returns again", function()
    local script, script_dir = mount.write_script(([[
local moonfs = require("moonfs")
local fs = moonfs.mirror(%q)
local readdir, kept = fs.readdir, nil
function fs.readdir(path, fh, plus)
  if path ~= "/" then return readdir(path, fh, plus) end
  if not kept then kept = { readdir(path, fh, true) } end
  return kept[1], kept[2], kept[3], kept[4]
end
return fs
]]):format(src), "kept.lua")
    local k = mount.start{ script = script }
    local first, second = ls_l(k.dir), ls_l(k.dir)
    k:stop()
    mount.rmtree(script_dir)
    assert.equal(ls_l(src), first)
    assert.equal(first, second)
  end)

  it("refuses stats that are neither an array nor a stat directory, and serves on", function()
    local script, script_dir = mount.write_script([[
return {
  getattr = function(path) return { type = path == "/" and "dir" or "file" } end,
  readdir = function(path, fh, plus) return { "a" }, nil, nil, "stats" end,
}
]], "badstats.lua")
    local b = mount.start{ script = script, allow = { "neither an array nor the stat directory" } }
    local ok, err = sys.stat(b:path("a"))
    assert.truthy(ok, err)
    local p = io.popen("ls '" .. b.dir .. "' 2>&1; echo status=$?")
    local out = p:read("*a")
    p:close()
    assert.matches("status=[12]", out)
    assert.matches("Input/output error", out, 1, true)
    assert.truthy(sys.stat(b:path("a")))
    b:stop()
    mount.rmtree(script_dir)
    assert.matches("handler 'readdir' .*neither an array nor the stat directory sys.readdir gives",
      b.log_at_stop)
  end)

  it("unmounts cleanly", function() m:stop() end)
end)
