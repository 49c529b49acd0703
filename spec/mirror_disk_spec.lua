-- The mirror as the disk (issue 14): files with no name (O_TMPFILE, named
-- later with linkat), modes and ACLs of new files under default ACLs and
-- umasks exactly as on the backing filesystem, and times after writes
-- through a shared mmap. Each is compared with the backing directory or
-- with a plain directory that was given the same treatment.
local mount = require("support.mount")
local sys = require("support.sys")
local bit = require("bit")
local ffi = require("ffi")
local O = sys.O

for _, decl in ipairs({
  "int linkat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, int flags);",
}) do pcall(ffi.cdef, decl) end
local C = ffi.C
local errno_names = require("moonfs.errno")

local O_TMPFILE = bit.bor(0x400000, O.DIRECTORY) -- __O_TMPFILE | O_DIRECTORY, as the C library's
local AT_SYMLINK_FOLLOW, AT_EMPTY_PATH = 0x400, 0x1000
local MiB = 1048576

local function fails(expected, ...)
  local ok, err = ...
  assert.is_nil(ok, "expected " .. expected .. ", the call succeeded")
  assert.equal(expected, err)
end

local function linkat(dirfd, old, new, flags)
  if C.linkat(dirfd, old, sys.AT_FDCWD, new, flags) ~= 0 then
    local e = ffi.errno()
    return nil, errno_names[e] or tostring(e), e
  end
  return true
end

local shell = require("support.shell")
local q, sh = shell.quote, shell.sh

local function have(tool) return (sh("command -v " .. tool)) == 0 end

local function pattern(size, seed)
  local t = {}
  for i = 1, 4096 do t[i] = string.char((i * 31 + seed * 7) % 256) end
  return (table.concat(t)):rep(math.ceil(size / 4096)):sub(1, size)
end

local function requests(counts, op) return counts.requests[op] or 0 end

---------------------------------------------------------------------------
-- 1. O_TMPFILE

describe("O_TMPFILE through the mirror", function()
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
    assert(sys.mkdir(p("t"), 511))
    assert(sys.chmod(p("t"), 511))
  end)
  teardown(function()
    mount.stop_all()
    mount.rmtree(src)
    if user then users.remove_all() end
  end)

  it("makes a file with no name, which linkat via /proc/self/fd names with its data", function()
    local fd = assert(sys.open(p("t"), bit.bor(O_TMPFILE, O.RDWR), 384))
    local data = pattern(300000, 1)
    assert.equal(#data, sys.pwrite(fd, data, 0))
    local st = assert(sys.fstat(fd))
    assert.equal("file", st.type)
    assert.equal(0, st.nlink)
    assert.equal(384, st.perm)
    assert.equal(#data, st.size)
    assert.same({}, sys.readdir(p("t")))
    assert.same({}, sys.readdir(b("t")))
    assert(linkat(sys.AT_FDCWD, "/proc/self/fd/" .. fd, p("t/named"), AT_SYMLINK_FOLLOW))
    assert.equal(1, sys.fstat(fd).nlink)
    -- the same file, under its new name, here and in the backing directory
    local named = assert(sys.stat(p("t/named")))
    assert.equal(st.ino, named.ino)
    assert.equal(384, named.perm)
    assert.same({ "named" }, sys.readdir(p("t")))
    assert.same({ "named" }, sys.readdir(b("t")))
    assert(sys.read_file(p("t/named")) == data, "the data under the new name")
    assert(sys.read_file(b("t/named")) == data, "the data in the backing file")
    assert.equal(384, sys.stat(b("t/named")).perm)
    -- still open: writes reach the named file
    assert(sys.pwrite(fd, "tail", #data))
    sys.close(fd)
    assert.equal(#data + 4, sys.stat(p("t/named")).size)
    assert.equal("tail", sys.read_file(b("t/named")):sub(-4))
  end)

  it("names it with linkat(fd, \"\", AT_EMPTY_PATH) (root)", function()
    if not mount.need_root("linkat with AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH") then return end
    local fd = assert(sys.open(p("t"), bit.bor(O_TMPFILE, O.WRONLY), 416))
    assert(sys.pwrite(fd, "empty path\n", 0))
    assert(linkat(fd, "", p("t/empty"), AT_EMPTY_PATH))
    sys.close(fd)
    assert.equal("empty path\n", sys.read_file(p("t/empty")))
    assert.equal("empty path\n", sys.read_file(b("t/empty")))
    assert.equal(416, sys.stat(b("t/empty")).perm)
  end)

  it("keeps an O_EXCL one unnamed for ever, and frees it at close", function()
    local fd = assert(sys.open(p("t"), bit.bor(O_TMPFILE, O.RDWR, O.EXCL), 384))
    assert(sys.pwrite(fd, "never named", 0))
    fails("ENOENT", linkat(sys.AT_FDCWD, "/proc/self/fd/" .. fd, p("t/excl"), AT_SYMLINK_FOLLOW))
    sys.close(fd)
    fails("ENOENT", sys.stat(p("t/excl")))
    fails("ENOENT", sys.stat(b("t/excl")))
  end)

  it("moves its data without a read or write request (passthrough)", function()
    if not mount.need_passthrough() then return end
    local before = m:stats()
    local fd = assert(sys.open(p("t"), bit.bor(O_TMPFILE, O.RDWR), 384))
    local data = pattern(MiB, 2)
    for off = 0, 15 * MiB, MiB do assert.equal(MiB, sys.pwrite(fd, data, off)) end
    for off = 0, 15 * MiB, MiB do assert(sys.pread(fd, MiB, off) == data, "at " .. off) end
    assert(linkat(sys.AT_FDCWD, "/proc/self/fd/" .. fd, p("t/fast"), AT_SYMLINK_FOLLOW))
    sys.close(fd)
    local after = m:stats()
    assert.equal(0, requests(after, "read") - requests(before, "read"))
    assert.equal(0, requests(after, "write") - requests(before, "write"))
    assert.equal(1, requests(after, "tmpfile") - requests(before, "tmpfile"))
    assert.is_true(after.passthrough_opens > before.passthrough_opens)
    assert.equal(16 * MiB, sys.stat(b("t/fast")).size)
    assert(sys.unlink(p("t/fast")))
  end)

  it("gives the file to the user who made it (root, allow_other)", function()
    if not mount.need_root("switches to another user") then return end
    user = users.create("tmpf")
    local fd = assert(creds.as(user, sys.open, p("t"), bit.bor(O_TMPFILE, O.RDWR), 420))
    assert.equal(user.uid, sys.fstat(fd).uid)
    assert(creds.as(user, sys.pwrite, fd, "users\n", 0))
    assert(creds.as(user, linkat, sys.AT_FDCWD, "/proc/self/fd/" .. fd, p("t/users"), AT_SYMLINK_FOLLOW))
    sys.close(fd)
    local st = assert(sys.stat(b("t/users")))
    assert.equal(user.uid, st.uid)
    assert.equal(user.gid, st.gid)
    assert.equal("users\n", sys.read_file(b("t/users")))
  end)

  it("unmounts cleanly", function() m:stop() end)
end)

describe("O_TMPFILE on a script without a tmpfile handler (memfs)", function()
  local m
  setup(function() m = mount.start{ script = "scripts/memfs.lua" } end)
  teardown(function() mount.stop_all() end)

  it("fails with EOPNOTSUPP, and the mount goes on", function()
    assert(sys.mkdir(m:path("d")))
    fails("EOPNOTSUPP", sys.open(m:path("d"), bit.bor(O_TMPFILE, O.RDWR), 384))
    fails("EOPNOTSUPP", sys.open(m.dir, bit.bor(O_TMPFILE, O.WRONLY), 384))
    assert.same({ "d" }, sys.readdir(m.dir))
    assert(sys.write_file(m:path("d/f"), "still here"))
    assert.equal("still here", sys.read_file(m:path("d/f")))
    assert.equal(0, m:stats().lua.tmpfile or 0)
    m:stop()
  end)
end)

---------------------------------------------------------------------------
-- 2. default ACLs and umasks

-- With -o acl=no the kernel neither keeps nor checks ACLs, but the files
-- and their ACLs must come out the same: the mirror still applies the
-- caller's umask itself, and the host makes the kernel fetch the mode
-- again after an access ACL changed.
for _, acl_option in ipairs({ "", ",acl=no" }) do
  describe("new files through the mirror" .. (acl_option == "" and "" or " (-o acl=no)")
    .. " under default ACLs and umasks", function()
    local m, src, plain, p, b
    setup(function()
      src = mount.tmpdir("src")
      plain = mount.tmpdir("plain")
      m = mount.start{ script = "scripts/mirror.lua", options = "root=" .. src .. acl_option }
      p = function(x) return m:path(x) end
      b = function(x) return src .. "/" .. x end
    end)
    teardown(function()
      mount.stop_all()
      mount.rmtree(src)
      mount.rmtree(plain)
    end)

    --- Whether the tools and the backing filesystem's ACLs are there.
    local function acls_available()
      if not (have("setfacl") and have("getfacl")) then
        pending("setfacl/getfacl are not installed (acl)")
        return false
      end
      assert(sys.write_file(plain .. "/probe", "x"))
      local code, text = sh("setfacl -m u:nobody:r " .. q(plain .. "/probe"))
      os.remove(plain .. "/probe")
      if code ~= 0 then
        pending("the temporary filesystem has no POSIX ACLs: " .. text)
        return false
      end
      return true
    end

    -- statx for the mode only (coreutils asks for what its format needs)
    local function mode_alone(path)
      local code, text = sh("stat -c %a " .. q(path))
      assert.equal(0, code, text)
      return (text:gsub("%s+$", ""))
    end

    local function getfacl(path)
      local code, text = sh("getfacl -c -n " .. q(path))
      assert.equal(0, code, text)
      return text
    end

    -- The default ACL of the first spec gives new directories no search
    -- permission (u::rw), so nothing is made inside them there.
    local DEFAULT = "u::rw,g::r,o::-,u:nobody:rwx,g:adm:r-x"
    local SEARCHABLE = "u::rwx,g::r-x,o::-,u:nobody:rwx,g:adm:r-x,m::r-x"
    local UMASKS = { "022", "077", "002", "000" }
    -- how each name is made, with the caller's umask
    local NESTED = { "s", "mkdir -p %s/sub" } -- a directory that inherits, and one inside it
    local MAKERS = {
      { "f", ": > %s" }, -- open(O_CREAT, 0666)
      { "t", "touch %s" },
      { "d", "mkdir %s" },
      { "x", "P=%s luajit -e 'local ffi = require(\"ffi\"); ffi.cdef(\"int open(const char *, int, ...);\"); "
        .. "assert(ffi.C.open(os.getenv(\"P\"), 65, ffi.cast(\"int\", 488)) >= 0)'" }, -- O_CREAT|O_WRONLY, 0750
      { "n", "mknod %s p" },
    }

    --- Makes every name of MAKERS (and NESTED when `nested`) under every
    -- umask in `dir`; returns the names.
    local function populate(dir, nested)
      local names = {}
      local makers = { unpack(MAKERS) }
      if nested then makers[#makers + 1] = NESTED end
      for _, umask in ipairs(UMASKS) do
        for _, maker in ipairs(makers) do
          local name = maker[1] .. umask
          local code, text = sh("umask " .. umask .. " && " .. maker[2]:format(q(dir .. "/" .. name)))
          assert.equal(0, code, name .. ": " .. text)
          names[#names + 1] = name
          if maker[1] == "s" then names[#names + 1] = name .. "/sub" end
        end
      end
      return names
    end

    --- Compares every name's mode and ACL in the mount with the plain directory's.
    local function compare(mounted, reference, names)
      for _, name in ipairs(names) do
        local a = assert(sys.lstat(mounted .. "/" .. name))
        local r = assert(sys.lstat(reference .. "/" .. name))
        assert.equal(("%04o"):format(r.perm), ("%04o"):format(a.perm), name .. ": mode")
        assert.equal(r.type, a.type, name)
        assert.equal(getfacl(reference .. "/" .. name), getfacl(mounted .. "/" .. name), name .. ": ACL")
      end
    end

    it("are made with the backing filesystem's modes and ACLs: default ACL set in the backing directory", function()
      if not acls_available() then return end
      for _, dir in ipairs({ b("acl"), plain .. "/acl" }) do
        assert(sys.mkdir(dir, 493))
        local code, text = sh("setfacl -d -m " .. DEFAULT .. " " .. q(dir))
        assert.equal(0, code, text)
      end
      assert.equal(getfacl(plain .. "/acl"), getfacl(p("acl")))
      local names = populate(p("acl"))
      assert.same(names, populate(plain .. "/acl"))
      compare(p("acl"), plain .. "/acl", names)
      compare(b("acl"), plain .. "/acl", names)
      -- a spot check that the default ACL did act: 0666 under umask 077 is not 0600
      assert.equal(tonumber("660", 8), sys.stat(p("acl/f077")).perm)
    end)

    it("are made with the backing filesystem's modes and ACLs: default ACL set through the mount", function()
      if not acls_available() then return end
      assert(sys.mkdir(p("acl2"), 493))
      assert(sys.mkdir(plain .. "/acl2", 493))
      for _, dir in ipairs({ p("acl2"), plain .. "/acl2" }) do
        local code, text = sh("setfacl -d -m " .. SEARCHABLE .. " " .. q(dir))
        assert.equal(0, code, text)
      end
      assert.equal(getfacl(plain .. "/acl2"), getfacl(b("acl2")))
      local names = populate(p("acl2"), true)
      populate(plain .. "/acl2", true)
      compare(p("acl2"), plain .. "/acl2", names)
    end)

    it("are made with the caller's umask where there is no default ACL", function()
      if not acls_available() then return end
      assert(sys.mkdir(p("plain"), 493))
      assert(sys.mkdir(plain .. "/plain", 493))
      local names = populate(p("plain"), true)
      populate(plain .. "/plain", true)
      compare(p("plain"), plain .. "/plain", names)
      assert.equal(tonumber("600", 8), sys.stat(p("plain/f077")).perm)
      assert.equal(tonumber("750", 8), sys.stat(p("plain/x022")).perm)
      assert.equal(tonumber("700", 8), sys.stat(p("plain/d077")).perm)
    end)

    it("show a changed ACL's mode bits at once (setfacl, chmod through the mount)", function()
      if not acls_available() then return end
      for _, dir in ipairs({ p("ch"), plain .. "/ch" }) do
        assert(sys.mkdir(dir, 493))
        assert(sys.write_file(dir .. "/f", "x", nil, 420))
        assert(sys.chmod(dir .. "/f", 420))
      end
      assert.equal(tonumber("644", 8), sys.stat(p("ch/f")).perm) -- cached by the kernel now
      local steps = {
        "setfacl -m u:nobody:rwx %s", "setfacl -m u:nobody:r %s", "chmod 600 %s",
        "setfacl -m g:adm:rw %s", "setfacl -b %s", "setfacl -m m::r %s",
      }
      for _, step in ipairs(steps) do
        local code, text = sh(step:format(q(p("ch/f"))))
        assert.equal(0, code, step .. ": " .. text)
        code, text = sh(step:format(q(plain .. "/ch/f")))
        assert.equal(0, code, step .. ": " .. text)
        local want = sys.stat(plain .. "/ch/f").perm
        -- asking for the mode alone, as ls -l does (a full stat refreshes
        -- everything after the ctime an xattr change made stale)
        assert.equal(("%o"):format(want), mode_alone(p("ch/f")), "after " .. step)
        assert.equal(("%04o"):format(want), ("%04o"):format(sys.stat(p("ch/f")).perm), "after " .. step)
        assert.equal(("%04o"):format(want), ("%04o"):format(sys.stat(b("ch/f")).perm), "after " .. step)
        assert.equal(getfacl(plain .. "/ch/f"), getfacl(p("ch/f")), "after " .. step)
      end
    end)

    it("unmounts cleanly", function() m:stop() end)
  end)
end

---------------------------------------------------------------------------
-- 3. times after writes through a shared mmap

for _, mode in ipairs({ "passthrough", "nopassthrough" }) do
  describe("times after mmap writes through the mirror with " .. mode, function()
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

    local PAST = 978307200 -- 2001-01-01 00:00:00 UTC

    --- Writes `text` at offset 100 of `name` through a shared mapping; `how`
    -- is "msync" (msync, munmap, close) or "close" (munmap, close).
    local function write_mapped(name, text, how)
      local size = 65536
      assert(sys.write_file(p(name), pattern(size, 3)))
      local code, out = sh("touch -d '2001-01-01 00:00:00 UTC' " .. q(p(name)))
      assert.equal(0, code, out)
      local before = assert(sys.stat(p(name)))
      assert.equal(PAST, before.mtime_sec)
      assert.equal(PAST, sys.stat(b(name)).mtime_sec)
      local fd = assert(sys.open(p(name), O.RDWR))
      local addr = sys.mmap(nil, size, 3, 1, fd, 0) -- PROT_READ|PROT_WRITE, MAP_SHARED
      assert.is_true(ffi.cast("intptr_t", addr) ~= -1, "mmap failed")
      ffi.copy(ffi.cast("char *", addr) + 100, text, #text)
      if how == "msync" then assert.equal(0, sys.msync(addr, size, 4)) end -- MS_SYNC
      assert.equal(0, sys.munmap(addr, size))
      assert(sys.close(fd))
      return before
    end

    local function agree(name, before)
      local mounted, backing = assert(sys.stat(p(name))), assert(sys.stat(b(name)))
      assert.is_true(backing.mtime > PAST + 1000, "the backing file's mtime did not move")
      assert.is_true(math.abs(mounted.mtime - backing.mtime) <= 1,
        ("mtime: %.3f through the mount, %.3f in the backing file"):format(mounted.mtime, backing.mtime))
      assert.is_true(math.abs(mounted.ctime - backing.ctime) <= 1,
        ("ctime: %.3f through the mount, %.3f in the backing file"):format(mounted.ctime, backing.ctime))
      assert.is_true(mounted.mtime > before.mtime + 1000, "the mtime through the mount did not move")
      assert.is_true(mounted.ctime >= before.ctime)
    end

    it("stat agrees with the backing file after msync, munmap and close", function()
      local before = write_mapped("ms", "through msync", "msync")
      agree("ms", before)
      assert.equal("through msync", sys.read_file(b("ms")):sub(101, 113))
      assert.equal("through msync", sys.read_file(p("ms")):sub(101, 113))
    end)

    it("stat agrees with the backing file after munmap and close without msync", function()
      local before = write_mapped("nosync", "no msync", "close")
      agree("nosync", before)
      assert.equal("no msync", sys.read_file(b("nosync")):sub(101, 108))
    end)

    -- The host compares the file with what it last told the kernel: only a
    -- change makes the kernel ask again.
    it("a writable open that changes nothing costs no GETATTR afterwards", function()
      if mode ~= "passthrough" then return end
      for i = 1, 20 do assert(sys.close(assert(sys.open(p("w" .. i), O.CREAT + O.WRONLY, 420)))) end
      local before = m:stats()
      for i = 1, 20 do assert(sys.close(assert(sys.open(p("w" .. i), O.RDWR)))) end
      mount.sleep(0.2) -- invalidations go out from a thread of their own
      for i = 1, 20 do assert.equal(0, sys.stat(p("w" .. i)).size) end
      local getattrs = requests(m:stats(), "getattr") - requests(before, "getattr")
      assert.is_true(getattrs < 5, getattrs .. " GETATTRs for 20 files") -- 20 when each open invalidates
      -- a write through the open still shows
      local fd = assert(sys.open(p("w1"), O.RDWR))
      assert(sys.pwrite(fd, "abc", 0))
      assert(sys.close(fd))
      assert.equal(3, sys.stat(p("w1")).size)
    end)

    it("unmounts cleanly", function() m:stop() end)
  end)
end

-- POSIX ACLs make the kernel check permissions itself, and it refreshes a
-- directory's attributes (a GETATTR) after every change in it before the
-- next check. -o acl=no spares that where no ACLs are wanted.
describe("the mirror with -o acl=no", function()
  local function churn(options)
    local src = mount.tmpdir("noacl")
    local m = mount.start{ script = "scripts/mirror.lua", options = "root=" .. src .. options }
    local before = m:stats()
    for i = 1, 50 do assert(sys.write_file(m:path("f" .. i), "x")) end
    for i = 1, 50 do assert(sys.unlink(m:path("f" .. i))) end
    local getattrs = requests(m:stats(), "getattr") - requests(before, "getattr")
    local mounts = io.open("/proc/self/mounts"):read("*a")
    local line = mounts:match("[^\n]*" .. m.dir:gsub("%p", "%%%0") .. "[^\n]*")
    m:stop()
    mount.rmtree(src)
    return getattrs, line
  end

  it("mounts without default_permissions and asks no attributes of the directory per change", function()
    local with_acl, acl_line = churn("")
    local without, line = churn(",acl=no")
    assert.matches("default_permissions", acl_line, 1, true)
    assert.not_matches("default_permissions", line, 1, true)
    assert.is_true(with_acl >= 50, with_acl .. " getattrs with ACLs")
    assert.is_true(without < 10, without .. " getattrs with acl=no")
  end)

  it("refuses an acl= that is neither yes nor no, saying so", function()
    local dir = mount.tmpdir("noacl")
    local code, out = mount.run_host({ "scripts/mirror.lua", dir, "-f", "-o", "root=" .. dir .. ",acl=maybe" })
    mount.rmtree(dir)
    assert.is_true(code ~= 0)
    assert.matches("mirror.lua: acl= is yes or no", out, 1, true)
  end)
end)

---------------------------------------------------------------------------
-- 5. Leases

-- A lease on a backing file (Samba's, an NFS server's delegation) makes an
-- open that conflicts with it wait until its holder lets go. The mirror
-- waits in the opening caller's handler, so that the host serves others
-- meanwhile, even with one worker; an O_NONBLOCK open gets EAGAIN at once.
describe("a lease on a backing file", function()
  local children = require("support.children")
  local signal = require("posix.signal")
  pcall(ffi.cdef, "int fcntl(int fd, int cmd, ...);")
  local F_SETLEASE, F_RDLCK, F_UNLCK = 1024, 0, 2
  local SIGIO = 29 -- (Linux; luaposix does not name it)
  local m, src, lease_fd, old_sigio
  before_each(function()
    src = mount.tmpdir("src")
    children.dir = mount.tmpdir("results")
    assert(sys.write_file(src .. "/leased", "data"))
    assert(sys.write_file(src .. "/other", "other"))
    m = mount.start{ script = "scripts/mirror.lua", options = "root=" .. src .. ",workers=1" }
    assert.equal("data", sys.read_file(m:path("leased"))) -- known, closed
    -- the holder is this process: the break's SIGIO must not end it
    old_sigio = signal.signal(SIGIO, signal.SIG_IGN)
    lease_fd = assert(sys.open(src .. "/leased", O.RDONLY))
    assert.equal(0, C.fcntl(lease_fd, F_SETLEASE, ffi.new("int", F_RDLCK)), "taking a read lease")
  end)
  after_each(function()
    if lease_fd then sys.close(lease_fd) end
    lease_fd = nil
    signal.signal(SIGIO, old_sigio or signal.SIG_DFL)
    children.kill_everything(m)
    mount.stop_all()
    mount.rmtree(src)
    mount.rmtree(children.dir)
  end)

  local ptime = require("posix.time")
  local function now()
    local t = ptime.clock_gettime(ptime.CLOCK_REALTIME)
    return t.tv_sec + t.tv_nsec / 1e9
  end

  it("an open for writing waits for the holder; other requests are served meanwhile", function()
    local writer = children.spawn(function()
      local fd = assert(sys.open(m:path("leased"), O.WRONLY))
      sys.close(fd)
      return now()
    end)
    mount.sleep(0.3)
    assert.equal("other", children.in_child(m, 3, function() return sys.read_file(m:path("other")) end))
    local released = now()
    assert.equal(0, C.fcntl(lease_fd, F_SETLEASE, ffi.new("int", F_UNLCK)))
    local r = children.reap({ writer }, 10, m)[writer]
    assert(r.ok, tostring(r.values and r.values[1]))
    assert(tonumber(r.values[1]) >= released, "the open did not wait for the lease's holder")
  end)

  it("an O_NONBLOCK open for writing fails with EAGAIN at once", function()
    local O_NONBLOCK = 0x800
    fails("EAGAIN", sys.open(m:path("leased"), bit.bor(O.WRONLY, O_NONBLOCK)))
    assert.equal("other", sys.read_file(m:path("other")))
  end)
end)
