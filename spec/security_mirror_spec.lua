-- Attacks on the mirror by unprivileged users of a mount that root made
-- with allow_other: symlinks swapped into the backing tree behind the
-- kernel's cache, inode numbers that collide across filesystems, names
-- reused after a removal, and allow_other without permission checks.
--
-- Each spec builds its own backing tree and mount, switches to real users
-- (support.users, support.creds) for the attack, and checks the backing
-- tree directly afterwards. They need root; without it they are pending.
local mount = require("support.mount")
local shell = require("support.shell")
local sys = require("support.sys")
local creds = require("support.creds")
local users = require("support.users")
local children = require("support.children")
local signal = require("posix.signal")
local bit = require("bit")
local O = sys.O

local O_PATH = 0x200000
local S_IFIFO = 0x1000

local sh = shell.ok

local function need_root()
  if not creds.available() then
    pending("needs root: creates users and switches to them")
    return false
  end
  return true
end

-- In the describe it is called in: makes the users alice and bob before
-- its specs (as root; `set` receives them) and removes them after.
local function with_alice_and_bob(set)
  setup(function()
    if creds.available() then set(users.create("alice"), users.create("bob")) end
  end)
  teardown(function() users.remove_all() end)
end

-- Notes what an attack got, for the report (MOONFS_SPEC_VERBOSE=1).
local function note(what, ...)
  if os.getenv("MOONFS_SPEC_VERBOSE") then
    local parts = {}
    for i = 1, select("#", ...) do parts[#parts + 1] = tostring((select(i, ...))) end
    io.stderr:write(("[security] %s -> %s\n"):format(what, table.concat(parts, " ")))
  end
end

local function backing_write(path, data, mode, owner)
  assert(sys.write_file(path, data, nil, mode))
  assert(sys.chmod(path, mode)) -- the umask took bits off
  if owner then assert(sys.lchown(path, owner.uid, owner.gid)) end
end

local function backing_mkdir(path, mode, owner)
  assert(sys.mkdir(path, mode))
  assert(sys.chmod(path, mode))
  if owner then assert(sys.lchown(path, owner.uid, owner.gid)) end
end

---------------------------------------------------------------- snapshots

-- Everything about a tree that an attack could change: per name its type,
-- permissions, owner, size, link count, inode, mtime, ctime, contents,
-- symlink target and extended attributes.
local function snapshot(dir)
  local snap = {}
  local function walk(rel)
    local path = rel == "." and dir or (dir .. "/" .. rel)
    local st, err = sys.lstat(path)
    if not st then
      snap[rel] = { missing = err }
      return
    end
    local e = {
      type = st.type, perm = ("%04o"):format(st.perm), uid = st.uid, gid = st.gid, size = st.size,
      nlink = st.nlink, ino = st.ino, mtime = ("%d.%09d"):format(st.mtime_sec, st.mtime_nsec),
      ctime = ("%.17g"):format(st.ctime),
    }
    if st.type == "file" then e.content = sys.read_file(path) end
    if st.type == "symlink" then
      e.target = sys.readlink(path)
    else
      for _, name in ipairs(sys.listxattr(path) or {}) do
        e["xattr " .. name] = sys.getxattr(path, name) or "(unreadable)"
      end
    end
    snap[rel] = e
    if st.type == "dir" then
      for _, name in ipairs(sys.readdir(path) or {}) do
        walk(rel == "." and name or (rel .. "/" .. name))
      end
    end
  end
  walk(".")
  return snap
end

local function show(v) return type(v) == "string" and ("%q"):format(v) or tostring(v) end

-- The differences between two snapshots, one line each (empty: none).
local function differences(before, after)
  local lines = {}
  for name, e in pairs(before) do
    local a = after[name]
    if not a then
      lines[#lines + 1] = name .. ": removed"
    else
      for field, v in pairs(e) do
        if a[field] ~= v then
          lines[#lines + 1] = ("%s: %s was %s, now %s"):format(name, field, show(v), show(a[field]))
        end
      end
      for field, v in pairs(a) do
        if e[field] == nil then lines[#lines + 1] = ("%s: %s appeared: %s"):format(name, field, show(v)) end
      end
    end
  end
  for name, a in pairs(after) do
    if not before[name] then lines[#lines + 1] = ("%s: appeared (%s)"):format(name, tostring(a.type)) end
  end
  table.sort(lines)
  return lines
end

local function assert_unchanged(label, dir, before)
  local lines = differences(before, snapshot(dir))
  assert(#lines == 0, label .. " changed:\n  " .. table.concat(lines, "\n  "))
end

---------------------------------------------------------------- 1. symlink swaps

describe("security: a directory swapped for a symlink behind the mirror's back", function()
  local alice, bob
  local env
  local walking = false
  setup(function()
    if creds.available() then
      alice = users.create("alice")
      bob = users.create("bob")
    end
  end)
  teardown(function()
    mount.stop_all()
    users.remove_all()
  end)
  after_each(function()
    mount.stop_all()
    if env then
      mount.rmtree(env.src)
      if env.outside then mount.rmtree(env.outside) end
    end
    env = nil
  end)

  -- Builds the backing tree and the mount; alice makes alice/d through the
  -- mount and stats every name in it (the kernel caches them for a day);
  -- then, directly on the backing tree, alice/d becomes a symlink to
  -- `variant`'s target: "outside" (a root-owned directory outside the
  -- mirror's root) or "bob" (bob's private directory inside the root).
  local function build(variant)
    env = {}
    env.src = mount.tmpdir("src")
    assert(sys.chmod(env.src, 493))
    local adir = env.src .. "/alice"
    backing_mkdir(adir, 493, alice)
    if variant == "outside" then
      local T = mount.tmpdir("outside")
      env.outside, env.target = T, T
      backing_write(T .. "/victim", "root secret", 420)
      assert(sys.setxattr(T .. "/victim", "user.secret", "root xattr"))
      backing_mkdir(T .. "/sub", 493)
      backing_write(T .. "/sub/file", "in sub", 420)
      backing_mkdir(T .. "/empty", 493)
      assert(sys.symlink("/etc/outside-target", T .. "/ln"))
      backing_write(T .. "/newname", "outside only", 420)
      env.link = T
      env.secret, env.secret_xattr, env.secret_target = "root secret", "root xattr", "/etc/outside-target"
    else
      backing_mkdir(env.src .. "/bob", 493, bob)
      local T = env.src .. "/bob/private"
      backing_mkdir(T, 448, bob)
      backing_write(T .. "/victim", "bob secret", 384, bob)
      assert(sys.setxattr(T .. "/victim", "user.secret", "bob xattr"))
      backing_write(T .. "/newname", "bob only", 384, bob)
      env.target = T
      env.link = "../bob/private"
      env.secret, env.secret_xattr = "bob secret", "bob xattr"
    end

    env.m = mount.start{ script = "scripts/mirror.lua",
      options = "root=" .. env.src .. ",allow_other,default_permissions",
      env = walking and { MOONFS_NO_OPENAT2 = "1" } or nil }
    assert(sys.chmod(env.m.tmp, 493))
    local P = function(rel) return env.m:path(rel) end
    env.P = P
    creds.as(alice, function()
      assert(sys.mkdir(P("alice/d"), 493))
      assert(sys.write_file(P("alice/d/victim"), "alice"))
      assert(sys.mkdir(P("alice/d/sub"), 493))
      assert(sys.mkdir(P("alice/d/empty"), 493))
      assert(sys.symlink("victim", P("alice/d/ln")))
      assert(sys.write_file(P("alice/own"), "own"))
    end)
    env.cached = {}
    creds.as(alice, function()
      for _, rel in ipairs({ "alice/d", "alice/d/victim", "alice/d/sub", "alice/d/empty",
        "alice/d/ln", "alice/own" }) do
        env.cached[rel] = assert(sys.lstat(P(rel)))
      end
    end)
    assert.equal(alice.uid, sys.lstat(adir .. "/d/victim").uid, "setup: alice/d/victim is not alice's")

    -- the swap, on the backing tree only
    assert(sys.rename(adir .. "/d", adir .. "/d.real"))
    assert(sys.symlink(env.link, adir .. "/d"))
    env.before = snapshot(env.target)
    return env
  end

  local function as_alice(fn, ...) return creds.as(alice, fn, ...) end

  -- An attack must fail and leave the target unchanged; the message says
  -- which of the two went wrong (or both).
  local function must_fail(what, label, ok, err, extra)
    local changed = differences(env.before, snapshot(env.target))
    note(what, ok and "SUCCEEDED" or err, extra or "", #changed > 0 and "(target changed)" or "")
    local problems = {}
    if ok then
      problems[#problems + 1] = what .. " succeeded through the swapped symlink" .. (extra and (": " .. extra) or "")
    end
    if #changed > 0 then
      problems[#problems + 1] = label .. " changed:\n  " .. table.concat(changed, "\n  ")
    end
    assert(#problems == 0, table.concat(problems, "\n"))
  end

  -- Opens, reads what it can (for the message) and closes.
  local function open_and_peek(path, flags, mode)
    local fd, err, num = sys.open(path, flags, mode)
    if not fd then return nil, err, num end
    local got = sys.pread(fd, 100, 0)
    sys.close(fd)
    return fd, "opened; read " .. show(got)
  end

  local attacks = {
    { "unlink d/victim", function(P) return sys.unlink(P("alice/d/victim")) end },
    { "rmdir d/sub (a non-empty directory at the target)", function(P) return sys.rmdir(P("alice/d/sub")) end },
    { "rmdir d/empty", function(P) return sys.rmdir(P("alice/d/empty")) end },
    { "mkdir d/x", function(P) return sys.mkdir(P("alice/d/x"), 493) end },
    { "mknod d/fifo (S_IFIFO)", function(P) return sys.mknod(P("alice/d/fifo"), S_IFIFO + 420, 0) end },
    { "symlink d/s", function(P) return sys.symlink("victim", P("alice/d/s")) end },
    { "link d/victim to d/v2", function(P) return sys.link(P("alice/d/victim"), P("alice/d/v2")) end },
    { "link alice/own into d", function(P) return sys.link(P("alice/own"), P("alice/d/own2")) end },
    { "rename d/victim to alice/moved", function(P) return sys.rename(P("alice/d/victim"), P("alice/moved")) end },
    { "rename alice/own over d/victim", function(P) return sys.rename(P("alice/own"), P("alice/d/victim")) end },
    { "chmod d/victim 0777", function(P) return sys.chmod(P("alice/d/victim"), 511) end },
    { "lchown d/victim to alice", function(P)
      return sys.lchown(P("alice/d/victim"), alice.uid, alice.gid)
    end },
    { "utimens d/victim", function(P) return sys.utimens(P("alice/d/victim"), { 1000, 0 }, { 2000, 0 }) end },
    { "truncate d/victim to 0", function(P) return sys.truncate(P("alice/d/victim"), 0) end },
    { "setxattr user.x on d/victim", function(P) return sys.setxattr(P("alice/d/victim"), "user.x", "pwned") end },
    { "removexattr user.secret of d/victim", function(P)
      return sys.removexattr(P("alice/d/victim"), "user.secret")
    end },
    { "open d/victim O_RDWR", function(P) return open_and_peek(P("alice/d/victim"), O.RDWR) end },
    { "create d/newfile (O_CREAT)", function(P)
      return open_and_peek(P("alice/d/newfile"), bit.bor(O.CREAT, O.EXCL, O.WRONLY), 420)
    end },
  }

  -- Reads: they must fail, and never return the target's data.
  local reads = {
    { "readlink d/ln", function(P) return sys.readlink(P("alice/d/ln")) end,
      function(got) return got == env.secret_target end },
    { "getxattr user.secret of d/victim", function(P) return sys.getxattr(P("alice/d/victim"), "user.secret") end,
      function(got) return got == env.secret_xattr end },
    { "listxattr d/victim", function(P) return sys.listxattr(P("alice/d/victim")) end,
      function(got)
        for _, n in ipairs(got) do if n == "user.secret" then return true end end
      end },
    { "open d/victim O_RDONLY and read", function(P)
      local fd, err, num = sys.open(P("alice/d/victim"), O.RDONLY)
      if not fd then return nil, err, num end
      local got = sys.pread(fd, 100, 0)
      sys.close(fd)
      return got
    end, function(got) return got == env.secret end },
    { "stat d/newname (a name only the target has)", function(P) return sys.lstat(P("alice/d/newname")) end,
      function(got) return true end },
    { "readdir d", function(P) return sys.readdir(P("alice/d")) end,
      function(got)
        for _, n in ipairs(got) do if n == "newname" then return true end end
      end },
  }

  local function fmt(v)
    if type(v) == "table" then
      local parts = {}
      for k, x in pairs(v) do parts[#parts + 1] = tostring(k) .. "=" .. tostring(x) end
      table.sort(parts)
      return "{" .. table.concat(parts, ", ") .. "}"
    end
    return show(v)
  end

  -- Both ways the host resolves paths: openat2, and the component walk it
  -- falls back to where openat2 is missing.
  for _, walk in ipairs({ false, true }) do
  local how = walk and ", paths walked without openat2" or ""
  describe("(to a root-owned directory outside the root" .. how .. ")", function()
    before_each(function() walking = walk end)
    for _, a in ipairs(attacks) do
      it(a[1] .. " fails and leaves OUTSIDE unchanged", function()
        if not need_root() then return end
        build("outside")
        local ok, err = as_alice(a[2], env.P)
        must_fail(a[1], "OUTSIDE", ok, err, ok and fmt(err) or nil)
      end)
    end

    for _, r in ipairs(reads) do
      it(r[1] .. " fails and returns nothing of OUTSIDE", function()
        if not need_root() then return end
        build("outside")
        local got, err = as_alice(r[2], env.P)
        if got ~= nil then note(r[1], "returned", fmt(got)) end
        assert(got == nil or not r[3](got), r[1] .. " returned OUTSIDE's data: " .. fmt(got))
        must_fail(r[1], "OUTSIDE", got ~= nil, err, got ~= nil and ("returned " .. fmt(got)) or nil)
      end)
    end

    it("stat of the cached names returns only what was cached before the swap", function()
      if not need_root() then return end
      build("outside")
      for rel, was in pairs(env.cached) do
        local st, err = as_alice(sys.lstat, env.P(rel))
        if st then
          for _, f in ipairs({ "type", "perm", "uid", "gid", "size", "ino", "nlink", "mtime_sec", "mtime_nsec" }) do
            assert(st[f] == was[f], ("stat %s: %s was %s before the swap, now %s"):format(
              rel, f, tostring(was[f]), tostring(st[f])))
          end
        else
          note("stat " .. rel, err)
        end
      end
      assert_unchanged("OUTSIDE (after stat)", env.target, env.before)
    end)

    -- A chown makes the kernel ask again (GETXATTR security.capability,
    -- then GETATTR) before it decides; what the host answers then is what
    -- the next stat shows.
    it("stat of d/victim after the kernel refreshed it (lchown) shows nothing of OUTSIDE", function()
      if not need_root() then return end
      build("outside")
      local ok, err = as_alice(sys.lchown, env.P("alice/d/victim"), alice.uid, alice.gid)
      note("lchown before stat", ok and "SUCCEEDED" or err)
      local st, serr = as_alice(sys.lstat, env.P("alice/d/victim"))
      local was = env.cached["alice/d/victim"]
      if st then
        note("stat d/victim after lchown", "uid " .. st.uid, "size " .. st.size, ("%04o"):format(st.perm))
        for _, f in ipairs({ "type", "perm", "uid", "gid", "size", "ino" }) do
          assert(st[f] == was[f], ("stat d/victim after a refresh: %s was %s before the swap, now %s (OUTSIDE/victim's?)")
            :format(f, tostring(was[f]), tostring(st[f])))
        end
      else
        note("stat d/victim after lchown", serr)
      end
      assert_unchanged("OUTSIDE (after lchown and stat)", env.target, env.before)
    end)
  end)

  describe("(to bob's private directory inside the root" .. how .. ")", function()
    before_each(function() walking = walk end)
    local bob_attacks = {
      { "read bob's victim", function(P)
        local fd, err, num = sys.open(P("alice/d/victim"), O.RDONLY)
        if not fd then return nil, err, num end
        local got = sys.pread(fd, 100, 0)
        sys.close(fd)
        return got
      end },
      { "write bob's victim", function(P)
        local fd, err, num = sys.open(P("alice/d/victim"), O.WRONLY)
        if not fd then return nil, err, num end
        local n, e2, n2 = sys.pwrite(fd, "pwned", 0)
        sys.close(fd)
        if not n then return nil, e2, n2 end
        return "wrote " .. n .. " bytes"
      end },
      { "truncate bob's victim", function(P) return sys.truncate(P("alice/d/victim"), 0) end },
      { "chmod bob's victim 0666", function(P) return sys.chmod(P("alice/d/victim"), 438) end },
      { "unlink bob's victim", function(P) return sys.unlink(P("alice/d/victim")) end },
      { "rename bob's victim into alice's directory", function(P)
        return sys.rename(P("alice/d/victim"), P("alice/stolen"))
      end },
      { "list bob's private directory", function(P) return sys.readdir(P("alice/d")) end },
    }
    for _, a in ipairs(bob_attacks) do
      it(a[1] .. " through alice/d -> ../bob/private fails", function()
        if not need_root() then return end
        build("bob")
        local got, err = as_alice(a[2], env.P)
        if got ~= nil then note(a[1], "returned", fmt(got)) end
        assert(got ~= "bob secret", a[1] .. ": alice read bob's secret through the symlink")
        assert.is_nil(sys.lstat(env.src .. "/alice/stolen"), "bob's file was moved into alice's directory")
        must_fail(a[1], "bob's private directory", got ~= nil, err, got ~= nil and fmt(got) or nil)
      end)
    end
  end)
  end
end)

---------------------------------------------------------------- 2. device and inode

describe("security: inode identity is device and inode number", function()
  local alice
  local src, tmpfs = nil, {}
  setup(function()
    if creds.available() then alice = users.create("alice") end
  end)
  teardown(function() users.remove_all() end)
  after_each(function()
    mount.stop_all()
    for _, d in ipairs(tmpfs) do sh("umount -l '" .. d .. "'") end
    tmpfs = {}
    mount.rmtree(src)
    src = nil
  end)

  -- Two tmpfs filesystems under the mirror's root with colliding inode
  -- numbers: a/secret (root's, 0600) and b/mine (alice's) with the same
  -- st_ino, each with a second hard link.
  local function build()
    src = mount.tmpdir("src")
    assert(sys.chmod(src, 493))
    for _, name in ipairs({ "a", "b" }) do
      local d = src .. "/" .. name
      assert(sys.mkdir(d, 493))
      assert(sh("mount -t tmpfs -o size=4m moonfs-spec '" .. d .. "'"), "cannot mount a tmpfs on " .. d)
      tmpfs[#tmpfs + 1] = d
    end
    local function make_a()
      backing_write(src .. "/a/secret", "root secret", 384)
      assert(sys.link(src .. "/a/secret", src .. "/a/secret2"))
    end
    local function make_b()
      backing_write(src .. "/b/mine", "alice data", 420, alice)
      assert(sys.link(src .. "/b/mine", src .. "/b/mine2"))
    end
    make_a()
    make_b()
    -- tmpfs numbers its inodes per filesystem; make them meet if they don't
    for i = 1, 200 do
      local ia, ib = sys.lstat(src .. "/a/secret").ino, sys.lstat(src .. "/b/mine").ino
      if ia == ib then break end
      local lower = ia < ib and "a" or "b"
      local base = src .. "/" .. lower .. "/"
      assert(sys.unlink(base .. (lower == "a" and "secret" or "mine")))
      assert(sys.unlink(base .. (lower == "a" and "secret2" or "mine2")))
      assert(sys.write_file(base .. "filler" .. i, ""))
      if lower == "a" then make_a() else make_b() end
    end
    local ia, ib = sys.lstat(src .. "/a/secret").ino, sys.lstat(src .. "/b/mine").ino
    assert(ia == ib, ("setup: could not make inode numbers collide (a/secret %d, b/mine %d)"):format(ia, ib))
    assert.equal(2, sys.lstat(src .. "/a/secret").nlink)
    assert.equal(2, sys.lstat(src .. "/b/mine").nlink)
    local m = mount.start{ script = "scripts/mirror.lua",
      options = "root=" .. src .. ",allow_other,default_permissions" }
    assert(sys.chmod(m.tmp, 493))
    -- root looks at its file first: the host learns its inode number
    assert.equal("file", sys.stat(m:path("a/secret")).type)
    assert.equal("root secret", sys.read_file(m:path("a/secret")))
    return m
  end

  it("alice reading b/mine gets her own data, not a/secret with the same st_ino", function()
    if not need_root() then return end
    local m = build()
    local got, err = creds.as(alice, sys.read_file, m:path("b/mine"))
    note("alice reads b/mine", got or err)
    assert(got ~= "root secret", "alice read root's a/secret through b/mine")
    assert.equal("alice data", got, "alice's read of b/mine: " .. tostring(got or err))
  end)

  it("alice's write to b/mine lands in b/mine; a/secret stays root's", function()
    if not need_root() then return end
    local m = build()
    local n, err = creds.as(alice, sys.write_file, m:path("b/mine"), "alice new",
      bit.bor(O.WRONLY, O.TRUNC))
    note("alice writes b/mine", n or err)
    assert.equal("root secret", sys.read_file(src .. "/a/secret"), "a/secret was overwritten through b/mine")
    assert.equal(9, n, "alice's write to b/mine failed: " .. tostring(err))
    assert.equal("alice new", sys.read_file(src .. "/b/mine"), "alice's write did not land in b/mine")
    local st = sys.lstat(src .. "/a/secret")
    assert.equal(0, st.uid)
    assert.equal(384, st.perm)
  end)

  it("a/secret and b/mine have different st_ino through the mount, with their own owners", function()
    if not need_root() then return end
    local m = build()
    local a = assert(sys.stat(m:path("a/secret")))
    local b = assert(creds.as(alice, sys.stat, m:path("b/mine")))
    note("st_ino a/secret, b/mine", a.ino, b.ino)
    assert(a.ino ~= b.ino, "a/secret and b/mine share st_ino " .. a.ino .. " through the mount")
    assert.equal(0, a.uid, "a/secret's owner")
    assert.equal(alice.uid, b.uid, "b/mine's owner")
    assert.equal(384, a.perm)
    assert.equal(420, b.perm)
  end)

  it("hard links on one filesystem still share their st_ino, and b/mine2 reads alice's data", function()
    if not need_root() then return end
    local m = build()
    local a = assert(sys.stat(m:path("a/secret")))
    local a2 = assert(sys.stat(m:path("a/secret2")))
    assert.equal(a.ino, a2.ino, "a/secret and a/secret2 are hard links")
    assert.equal(2, a2.nlink)
    local b = assert(creds.as(alice, sys.stat, m:path("b/mine")))
    local b2 = assert(creds.as(alice, sys.stat, m:path("b/mine2")))
    assert.equal(b.ino, b2.ino, "b/mine and b/mine2 are hard links")
    local got, err = creds.as(alice, sys.read_file, m:path("b/mine2"))
    assert(got ~= "root secret", "alice read root's a/secret through b/mine2")
    assert.equal("alice data", got, "alice's read of b/mine2: " .. tostring(got or err))
  end)
end)

---------------------------------------------------------------- 3. removed nodes

-- A file removed behind the mount whose inode number a new file gets (ext4
-- with a journal hands a freed number to the next file at once): the new
-- file, hard-linked, must not be taken for another name of the old one,
-- whose name the kernel still knows. The generation (birth time) tells
-- them apart.
describe("security: a reused inode number is a new file", function()
  local src, fs_dir, image
  after_each(function()
    mount.stop_all()
    if fs_dir then sh("umount -l '" .. fs_dir .. "'") end
    if image then os.remove(image) end
    mount.rmtree(src)
    src, fs_dir, image = nil, nil, nil
  end)

  it("reads the new file's data through its own names", function()
    if not need_root() then return end
    src = mount.tmpdir("src")
    fs_dir = src .. "/fs"
    image = src .. ".img"
    assert(sys.mkdir(fs_dir, 493))
    assert(sh("truncate -s 16M '" .. image .. "' && mkfs.ext4 -q '" .. image .. "' 2>/dev/null"),
      "setup: cannot make an ext4 image")
    assert(sh("mount -o loop '" .. image .. "' '" .. fs_dir .. "'"), "setup: cannot mount the ext4 image")
    local m = mount.start{ script = "scripts/mirror.lua", options = "root=" .. src }
    assert(sys.write_file(m:path("fs/old"), "old data"))
    assert.equal("old data", sys.read_file(m:path("fs/old"))) -- the kernel knows fs/old
    local old_ino = sys.lstat(fs_dir .. "/old").ino
    assert(sys.unlink(fs_dir .. "/old"))
    -- the number is free once the host's release has closed its fd
    for _ = 1, 100 do
      assert(sys.write_file(fs_dir .. "/new", "new data"))
      if sys.lstat(fs_dir .. "/new").ino == old_ino then break end
      assert(sys.unlink(fs_dir .. "/new"))
      mount.sleep(0.02)
    end
    assert(sys.link(fs_dir .. "/new", fs_dir .. "/new2"))
    assert.equal(old_ino, sys.lstat(fs_dir .. "/new").ino, "setup: ext4 did not reuse the inode number")
    assert.equal("new data", sys.read_file(m:path("fs/new")))
    assert.equal("new data", sys.read_file(m:path("fs/new2")))
    m:stop()
  end)
end)

describe("security: a removed node is never reached again by its old path", function()
  local alice, bob
  local src, m
  with_alice_and_bob(function(a, b) alice, bob = a, b end)
  after_each(function()
    mount.stop_all()
    mount.rmtree(src)
    src = nil
  end)

  local function build()
    src = mount.tmpdir("src")
    assert(sys.chmod(src, 493))
    backing_mkdir(src .. "/shared", tonumber("1777", 8))
    m = mount.start{ script = "scripts/mirror.lua",
      options = "root=" .. src .. ",allow_other,default_permissions" }
    assert(sys.chmod(m.tmp, 493))
    return function(rel) return m:path(rel) end
  end

  it("(a) truncate through alice's O_PATH fd of an unlinked file fails; bob's new file keeps its data", function()
    if not need_root() then return end
    local P = build()
    local fd = creds.as(alice, function()
      assert(sys.write_file(P("shared/f"), "alice"))
      local fd = assert(sys.open(P("shared/f"), O_PATH))
      assert(sys.unlink(P("shared/f")))
      return fd
    end)
    creds.as(bob, function() assert(sys.write_file(P("shared/f"), "bob", nil, 384)) end)
    local ok, err = creds.as(alice, sys.truncate, "/proc/self/fd/" .. fd, 0)
    sys.close(fd)
    note("(a) truncate /proc/self/fd/N", ok and "SUCCEEDED" or err)
    assert.equal("bob", sys.read_file(src .. "/shared/f"), "bob's file was truncated through alice's old fd")
    assert(not ok, "truncate through the old fd succeeded")
    assert(err == "ENOENT" or err == "ESTALE", "expected ENOENT or ESTALE, got " .. tostring(err))
  end)

  it("(b) chmod through alice's O_PATH fd of a removed directory fails; bob's new directory stays 0700", function()
    if not need_root() then return end
    local P = build()
    local fd = creds.as(alice, function()
      assert(sys.mkdir(P("shared/d"), 493))
      local fd = assert(sys.open(P("shared/d"), bit.bor(O_PATH, O.DIRECTORY)))
      assert(sys.rmdir(P("shared/d")))
      return fd
    end)
    creds.as(bob, function() assert(sys.mkdir(P("shared/d"), 448)) end)
    assert.equal(448, sys.lstat(src .. "/shared/d").perm, "setup: bob's directory is not 0700")
    local ok, err = creds.as(alice, sys.chmod, "/proc/self/fd/" .. fd, 511)
    sys.close(fd)
    note("(b) chmod /proc/self/fd/N", ok and "SUCCEEDED" or err)
    local st = sys.lstat(src .. "/shared/d")
    assert.equal(bob.uid, st.uid)
    assert(st.perm == 448, ("bob's directory is now %04o: chmod through alice's old fd reached it"):format(st.perm))
    assert(not ok, "chmod through the old fd succeeded")
    assert(err == "ENOENT" or err == "ESTALE", "expected ENOENT or ESTALE, got " .. tostring(err))
  end)

  describe("(c) through an open handle of an unlinked file", function()
    local fd, P
    -- alice opens g, writes "alice", unlinks it; bob makes a new g (0644, "bob")
    local function build_c()
      P = build()
      fd = creds.as(alice, function()
        local fd = assert(sys.open(P("shared/g"), bit.bor(O.CREAT, O.RDWR, O.EXCL), 420))
        assert.equal(5, sys.pwrite(fd, "alice", 0))
        assert(sys.unlink(P("shared/g")))
        return fd
      end)
      creds.as(bob, function() assert(sys.write_file(P("shared/g"), "bob", nil, 420)) end)
    end
    after_each(function()
      if fd then sys.close(fd) end
      fd = nil
    end)

    local function bob_unchanged()
      local st = assert(sys.lstat(src .. "/shared/g"), "bob's file is gone")
      assert.equal("bob", sys.read_file(src .. "/shared/g"), "bob's file content changed")
      assert(st.perm == 420, ("bob's file mode changed to %04o"):format(st.perm))
      assert.equal(3, st.size, "bob's file size changed")
      assert.equal(bob.uid, st.uid, "bob's file owner changed")
    end

    it("ftruncate acts on alice's file; fstat then says size 1", function()
      if not need_root() then return end
      build_c()
      local ok, err = creds.as(alice, sys.ftruncate, fd, 1)
      note("(c) ftruncate", ok and "ok" or err)
      assert(ok, "ftruncate failed: " .. tostring(err))
      local st = assert(creds.as(alice, sys.fstat, fd))
      assert.equal(1, st.size, "fstat after ftruncate")
      assert.equal("a", creds.as(alice, sys.pread, fd, 10, 0))
      bob_unchanged()
    end)

    it("fchmod acts on alice's file, not on bob's new one", function()
      if not need_root() then return end
      build_c()
      local ok, err = creds.as(alice, sys.fchmod, fd, 384)
      note("(c) fchmod", ok and "ok" or err)
      bob_unchanged()
      assert(ok, "fchmod failed: " .. tostring(err))
      local st = assert(creds.as(alice, sys.fstat, fd))
      assert(st.perm == 384, ("fstat after fchmod 0600 says %04o"):format(st.perm))
    end)

    it("fstat describes alice's file, not bob's", function()
      if not need_root() then return end
      build_c()
      assert(creds.as(alice, sys.ftruncate, fd, 1))
      assert(creds.as(alice, sys.fchmod, fd, 384))
      local st, err = creds.as(alice, sys.fstat, fd)
      assert(st, "fstat failed: " .. tostring(err))
      note("(c) fstat", st.size, ("%04o"):format(st.perm), st.uid)
      assert.equal(1, st.size, "fstat size")
      assert.equal(alice.uid, st.uid, "fstat owner")
      assert(st.perm == 384, ("fstat mode %04o"):format(st.perm))
      bob_unchanged()
    end)

    it("pwrite writes alice's file", function()
      if not need_root() then return end
      build_c()
      local n, err = creds.as(alice, sys.pwrite, fd, "Z", 0)
      note("(c) pwrite", n or err)
      assert.equal(1, n, "pwrite failed: " .. tostring(err))
      assert.equal("Zlice", creds.as(alice, sys.pread, fd, 10, 0))
      bob_unchanged()
    end)
  end)
end)

---------------------------------------------------------------- 4. allow_other

describe("security: allow_other without default_permissions", function()
  local alice, bob
  local src
  with_alice_and_bob(function(a, b) alice, bob = a, b end)
  after_each(function()
    mount.stop_all()
    mount.rmtree(src)
    src = nil
  end)

  local function build(options)
    src = mount.tmpdir("src")
    assert(sys.chmod(src, 493))
    backing_write(src .. "/alicefile", "alice private", 384, alice)
    local m = mount.start{ script = "scripts/mirror.lua", options = "root=" .. src .. "," .. options,
      allow = { "default_permissions" } }
    assert(sys.chmod(m.tmp, 493))
    return m
  end

  it("turns default_permissions on and says so", function()
    if not need_root() then return end
    local m = build("allow_other")
    assert.equal("alice private", creds.as(alice, sys.read_file, m:path("alicefile")))
    assert.matches("default_permissions", m:log_text(), 1, true)
    m:stop()
  end)

  it("bob cannot read alice's 0600 file (EACCES)", function()
    if not need_root() then return end
    local m = build("allow_other")
    local got, err = creds.as(bob, sys.read_file, m:path("alicefile"))
    note("bob reads alice's file", got and ("SUCCEEDED " .. show(got)) or err)
    assert(got == nil, "bob read alice's 0600 file: " .. show(got))
    assert.equal("EACCES", err)
  end)

  it("bob cannot lchown alice's file to himself (EPERM)", function()
    if not need_root() then return end
    local m = build("allow_other")
    local ok, err = creds.as(bob, sys.lchown, m:path("alicefile"), bob.uid, bob.gid)
    note("bob chowns alice's file", ok and "SUCCEEDED" or err)
    local st = sys.lstat(src .. "/alicefile")
    assert.equal(alice.uid, st.uid, "alice's file now belongs to uid " .. st.uid)
    assert(not ok, "bob's lchown succeeded")
    assert.equal("EPERM", err)
  end)

  -- An ACL entry that takes from bob what the mode bits give everyone.
  it("enforces a backing file's ACL for other users; with acl=no says it will not", function()
    if not need_root() then return end
    if not sh("command -v setfacl") then
      pending("setfacl is not installed (acl)")
      return
    end
    local m = build("allow_other")
    backing_write(src .. "/shared", "for all but bob", 420, alice)
    if not sh("setfacl -m u:" .. bob.uid .. ":--- " .. shell.quote(src .. "/shared")) then
      pending("the temporary filesystem has no POSIX ACLs")
      return
    end
    assert.equal("for all but bob", creds.as(alice, sys.read_file, m:path("shared")))
    local got, err = creds.as(bob, sys.read_file, m:path("shared"))
    assert(got == nil, "bob read a file his ACL entry denies him: " .. show(got))
    assert.equal("EACCES", err)
    assert.not_matches("not enforced", m:log_text(), 1, true)
    m:stop()
    mount.rmtree(src)
    m = build("allow_other,acl=no")
    assert.matches("allow_other without posix_acl: other users are checked against the mode bits alone",
      m:log_text(), 1, true)
    m:stop()
  end)

  it("with nodefault_permissions says permission checks are off, and mounts", function()
    if not need_root() then return end
    local m = build("allow_other,nodefault_permissions")
    assert.equal("alice private", sys.read_file(m:path("alicefile")))
    assert.matches("nodefault_permissions", m:log_text(), 1, true)
    m:stop()
  end)
end)

---------------------------------------------------------------- 5. names that lead elsewhere

-- The kernel checks a caller against the owner and mode it cached for a
-- name; the root host then acts on whatever the name leads to. Renamed
-- behind the mount (alice may rename bob's entries in a directory she can
-- write), her cached name leads to bob's file: the host must see that it
-- is not the object the kernel checked (ESTALE: the kernel looks the name
-- up again and repeats the call, checked against bob's owner and mode).
describe("security: another user's file renamed onto a name the kernel knows", function()
  local alice, bob
  local src, m, P
  with_alice_and_bob(function(a, b) alice, bob = a, b end)
  after_each(function()
    children.kill_everything(m)
    mount.stop_all()
    mount.rmtree(src)
    if children.dir then mount.rmtree(children.dir) end
    src, m, children.dir = nil, nil, nil
  end)

  -- proj (0777, no sticky bit) holds alice's "mine" (0666, known to the
  -- kernel) and bob's "bobfile" (0600); `swap` renames bobfile onto mine
  -- in the backing tree, as alice.
  local function build(options)
    src = mount.tmpdir("src")
    children.dir = mount.tmpdir("results")
    assert(sys.chmod(src, 493))
    backing_mkdir(src .. "/proj", 511)
    backing_write(src .. "/proj/bobfile", "bob's secret", 384, bob)
    m = mount.start{ script = "scripts/mirror.lua",
      options = "root=" .. src .. ",allow_other,default_permissions" .. (options or "") }
    assert(sys.chmod(m.tmp, 493))
    P = function(rel) return m:path(rel) end
    creds.as(alice, function()
      assert(sys.write_file(P("proj/mine"), "alice's", nil, 438))
      assert(sys.chmod(P("proj/mine"), 438))
      assert.equal(alice.uid, sys.stat(P("proj/mine")).uid)
    end)
  end
  local function swap(onto)
    creds.as(alice, function()
      assert(sys.rename(src .. "/proj/" .. onto, src .. "/proj/old-" .. onto))
      assert(sys.rename(src .. "/proj/bobfile", src .. "/proj/" .. onto))
    end)
    return snapshot(src .. "/proj/" .. onto)
  end
  -- what: the call; allowed: the errors it may fail with; then its results
  local function denied(what, allowed, ok, err)
    note(what, ok and "SUCCEEDED" or err)
    assert(not ok, what .. " succeeded on bob's file")
    for _, e in ipairs(allowed) do if err == e then return end end
    error(what .. ": expected " .. table.concat(allowed, " or ") .. ", got " .. tostring(err))
  end

  it("alice cannot open it for writing or reading", function()
    if not need_root() then return end
    build()
    local before = swap("mine")
    denied("open O_RDWR", { "EACCES" }, creds.as(alice, sys.open, P("proj/mine"), O.RDWR))
    denied("read", { "EACCES" }, creds.as(alice, sys.read_file, P("proj/mine")))
    assert_unchanged("bob's file", src .. "/proj/mine", before)
    -- the kernel now knows bob's file: its owner is shown
    assert.equal(bob.uid, sys.stat(P("proj/mine")).uid)
  end)

  for _, a in ipairs({
    { "chmod", function() return sys.chmod(P("proj/mine"), 511) end, { "EPERM" } },
    { "truncate", function() return sys.truncate(P("proj/mine"), 0) end, { "EACCES" } },
    { "utimensat", function() return sys.utimens(P("proj/mine"), { 1 }, { 1 }) end, { "EPERM" } },
    { "setxattr", function() return sys.setxattr(P("proj/mine"), "user.alice", "x") end,
      { "EACCES", "EPERM" } },
    { "link", function() return sys.link(P("proj/mine"), P("proj/mylink")) end, { "EPERM" } },
  }) do
    it("alice's " .. a[1] .. " does not reach it", function()
      if not need_root() then return end
      build()
      local before = swap("mine")
      denied(a[1], a[3], creds.as(alice, a[2]))
      assert_unchanged("bob's file", src .. "/proj/mine", before)
      assert.is_nil(sys.lstat(src .. "/proj/mylink"))
    end)
  end

  it("a name the kernel believes missing: open(O_CREAT|O_TRUNC) does not open bob's file", function()
    if not need_root() then return end
    build(",negative_timeout=600")
    creds.as(alice, function() assert.is_nil(sys.stat(P("proj/new"))) end) -- cached: missing
    creds.as(alice, sys.rename, src .. "/proj/bobfile", src .. "/proj/new")
    local before = snapshot(src .. "/proj/new")
    denied("open O_CREAT|O_WRONLY|O_TRUNC", { "EACCES" },
      creds.as(alice, sys.open, P("proj/new"), bit.bor(O.CREAT, O.WRONLY, O.TRUNC), 438))
    assert_unchanged("bob's file", src .. "/proj/new", before)
  end)

  it("a FIFO renamed onto a cached file neither blocks the host nor is opened by it", function()
    if not need_root() then return end
    build()
    creds.as(alice, function()
      assert(sys.mknod(src .. "/proj/fifo", bit.bor(S_IFIFO, 438), 0))
      assert(sys.rename(src .. "/proj/fifo", src .. "/proj/mine"))
    end)
    -- alice's own process may wait on the FIFO, the host must not (O_RDWR:
    -- opening does not wait for a writer, reading then does)
    local pid = children.spawn(function()
      return creds.as(alice, function()
        local fd = assert(sys.open(P("proj/mine"), O.RDWR))
        return sys.read(fd, 10)
      end)
    end)
    mount.sleep(0.3)
    -- another user is still served at once
    local st = children.in_child(m, 5, function()
      return creds.as(bob, function() return sys.stat(P("proj")) and "served" end)
    end)
    assert.equal("served", st)
    assert.equal("fifo", sys.lstat(P("proj/mine")).type)
    signal.kill(pid, signal.SIGKILL) -- alice's reader, waiting for a writer
    children.reap({ pid }, 5, m)
    assert.is_nil(m:log_text():find("traceback", 1, true))
  end)
end)

-- The same with a directory: alice renames bob's private directory onto
-- her own empty one, which the kernel knows (a rename within one parent
-- needs no write permission on the directory moved). Through the mount she
-- must neither list it nor make, remove or rename anything in it.
describe("security: another user's directory renamed onto a directory the kernel knows", function()
  local alice, bob
  local src, m, P
  with_alice_and_bob(function(a, b) alice, bob = a, b end)
  after_each(function()
    mount.stop_all()
    mount.rmtree(src)
    src, m = nil, nil
  end)

  -- proj (0777) holds alice's empty "mine" (0777, known to the kernel,
  -- listed once) and bob's "private" (0700) with "secret" in it; then
  -- private is renamed onto mine in the backing tree, as alice.
  local function build()
    src = mount.tmpdir("src")
    assert(sys.chmod(src, 493))
    backing_mkdir(src .. "/proj", 511)
    backing_mkdir(src .. "/proj/private", 448, bob)
    backing_write(src .. "/proj/private/secret", "bob's secret", 384, bob)
    m = mount.start{ script = "scripts/mirror.lua",
      options = "root=" .. src .. ",allow_other,default_permissions" }
    assert(sys.chmod(m.tmp, 493))
    P = function(rel) return m:path(rel) end
    creds.as(alice, function()
      assert(sys.mkdir(P("proj/mine"), 511))
      assert(sys.chmod(P("proj/mine"), 511))
      assert(sys.readdir(P("proj/mine")))
    end)
    creds.as(alice, sys.rename, src .. "/proj/private", src .. "/proj/mine")
    return snapshot(src .. "/proj/mine")
  end

  for _, a in ipairs({
    { "readdir", function() return sys.readdir(P("proj/mine")) end },
    { "stat of a name in it", function() return sys.stat(P("proj/mine/secret")) end },
    { "create", function() return sys.write_file(P("proj/mine/new"), "x") end },
    { "mkdir", function() return sys.mkdir(P("proj/mine/d"), 511) end },
    { "symlink", function() return sys.symlink("x", P("proj/mine/l")) end },
    { "unlink", function() return sys.unlink(P("proj/mine/secret")) end },
    { "rename out", function() return sys.rename(P("proj/mine/secret"), P("proj/stolen")) end },
    { "rename in", function()
      assert(sys.write_file(P("proj/planted"), "x"))
      return sys.rename(P("proj/planted"), P("proj/mine/planted"))
    end },
  }) do
    it("alice's " .. a[1] .. " does not reach it", function()
      if not need_root() then return end
      local before = build()
      local ok, err = creds.as(alice, a[2])
      note(a[1], ok and "SUCCEEDED" or err)
      assert_unchanged("bob's directory", src .. "/proj/mine", before)
      assert(not ok, a[1] .. " succeeded in bob's directory")
      if err == "ESTALE" then
        -- the kernel does not repeat a call whose lookup of a new name
        -- failed; the next try sees bob's directory
        ok, err = creds.as(alice, a[2])
        assert_unchanged("bob's directory", src .. "/proj/mine", before)
        assert(not ok, a[1] .. " succeeded in bob's directory on a second try")
      end
      assert.equal("EACCES", err)
    end)
  end
end)
