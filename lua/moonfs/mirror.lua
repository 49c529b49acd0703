--- moonfs.mirror: a read-write mirror of a directory, built on moonfs.sys.
--
-- Every path is resolved beneath one directory fd of the root, without
-- following symlinks, so a name in the mount can never reach outside it
-- (moonfs.sys). Opens hand real fds to the host (moonfs.fd): it gives them
-- to the kernel (passthrough) or serves them itself, which is why there
-- are no read/write/flush/release/fsync/fallocate handlers here.
--
-- Scripts customise the mirror by replacing fields of the returned table:
--
--     local fs = require("moonfs").mirror("/srv/data")
--     local getattr = fs.getattr
--     fs.getattr = function(path, fh) ... getattr(path, fh) ... end
--     return fs
-- @module moonfs.mirror

local moonfs = require("moonfs")
local bit = require("bit")
local ffi = require("ffi")

local band, bor, bnot = bit.band, bit.bor, bit.bnot
local O, S = moonfs.O, moonfs.S
local relative, split = moonfs.relative, moonfs.split

-- Separate declarations: one that clashes with a script's own cdef must not
-- take the others with it.
pcall(ffi.cdef, "unsigned int geteuid(void);")
pcall(ffi.cdef, "unsigned int getegid(void);")

local PERM = 0xFFF -- permission bits, setuid/setgid/sticky included
local OPEN_STRIP = bnot(bor(O.CREAT, O.EXCL, O.TRUNC))

--- Builds a mirror of directory `root`.
--
-- Every handler in the table returns its value(s) on success and
-- `nil, "ENAME: message", errno` on failure, as moonfs.sys does.
-- @tparam string root the directory to mirror (a symlink to one is followed;
-- a relative path is taken from the directory the host was started in)
-- @treturn table the handlers, plus `timeout = 86400`.
-- On failure nothing is returned: it raises `"mirror: root DIR: ENOENT: ..."`
-- (level 0, no position), because a script cannot serve without its root.
local function mirror(root)
  if type(root) ~= "string" or root == "" then
    error("mirror: no root directory given; use mirror(\"/some/dir\")", 0)
  end
  local sys = moonfs.sys
  -- Opened once: a reload reuses the fd instead of leaking one.
  root = moonfs.absolute(root)
  local rootfd = moonfs.keep("moonfs.mirror " .. root, function()
    local fd, err = sys.open_root(root)
    if not fd then error("mirror: root " .. root .. ": " .. err, 0) end
    return fd
  end)

  -- As root the host creates everything as uid 0; new objects are then
  -- given to the caller, as the kernel would have made them.
  local host_uid, host_gid = ffi.C.geteuid(), ffi.C.getegid()

  -- Creates with the caller's umask (the mount asks for POSIX ACLs, so the
  -- kernel leaves the mode unmasked): the backing filesystem then applies
  -- the umask, or a directory's default ACL in its place, exactly as for
  -- the caller itself.
  local function with_caller_umask(fn, ...)
    local caller = moonfs.caller()
    local old = caller and sys.umask(caller.umask)
    local a, b, c = fn(...)
    if old then sys.umask(old) end
    return a, b, c
  end

  local function stat(path, fh)
    if type(fh) == "number" then return sys.fstat(fh) end
    return sys.stat(rootfd, relative(path))
  end

  -- The kernel checked the caller's permissions against the owner and mode
  -- of the object it knows at the request's path (or, for a name made or
  -- removed, of its directory). When the backing tree changes behind the
  -- mount the path may lead to another object by now (someone else's file
  -- or directory renamed into its place), and acting on that as root
  -- would act with rights the caller does not have. ESTALE makes the
  -- kernel look the name up again and repeat the call once, checked
  -- against the object that is there now. It does not repeat a call whose
  -- lookup of a new name failed (mkdir, symlink, mknod, link), so the name
  -- is also dropped from its cache: trying again finds what is there now.
  local function stale(path)
    local dir, name = split(path)
    if name then moonfs.invalidate_entry(dir, name) end
    return moonfs.fail("ESTALE", path .. " was replaced behind the mount")
  end

  -- Whether st (of the object at path) is the one the kernel checked.
  local function known(path, st)
    local want = moonfs.request_object(path)
    return not want or (st.ino == want.ino and st.dev == want.dev
                        and (st.generation == 0 or st.generation == want.generation))
  end

  -- An fd of the object at path (O_PATH, unless `flags` say otherwise) and
  -- its stat, when it is the one the kernel checked; the calls made
  -- through the fd reach that object whatever happens to the name.
  local function hold(path, flags)
    local fd, e, n = sys.open(rootfd, relative(path), bor(O.NOFOLLOW, flags or O.PATH))
    if not fd then return nil, e, n end
    local st
    st, e, n = sys.fstat(fd)
    if st and not known(path, st) then st, e, n = stale(path) end
    if not st then
      sys.close(fd)
      return nil, e, n
    end
    return fd, st
  end

  -- Calls fn(dirfd, name, dir_stat) with the directory path is in held:
  -- the kernel checked the caller's right to change that directory.
  -- Returns what fn returns.
  local function in_parent(path, fn)
    local dir, name = split(path)
    local dirfd, st, n = hold(dir, bor(O.PATH, O.DIRECTORY))
    if not dirfd then return nil, st, n end
    local a, b, c = fn(dirfd, name, st)
    sys.close(dirfd)
    return a, b, c
  end

  -- After creating an object, open as `fd` (O_PATH will do) in a directory
  -- of stat `dir_st`: gives it to the caller and puts back the setuid and
  -- setgid bits of `mode` a chown cleared. Returns true, or nil, err, errno.
  local function settle(fd, mode, dir_st)
    local chowned = false
    local caller = host_uid == 0 and moonfs.caller()
    if caller and (caller.uid ~= host_uid or caller.gid ~= host_gid) then
      local uid = caller.uid ~= host_uid and caller.uid or -1
      local gid = caller.gid ~= host_gid and caller.gid or -1
      -- Under a setgid directory the new object keeps the directory's group.
      if band(dir_st.mode, S.ISGID) ~= 0 then gid = -1 end
      if uid ~= -1 or gid ~= -1 then
        local ok, e, n = sys.chown(fd, "", uid, gid)
        if not ok then return nil, e, n end
        chowned = true
      end
    end
    if not mode or not chowned or band(mode, bor(S.ISUID, S.ISGID)) == 0 then return true end
    local st, e, n = sys.fstat(fd)
    if not st then return nil, e, n end
    -- bor keeps the setgid bit a directory inherits from its parent
    local want = bor(band(st.mode, PERM), band(mode, bor(S.ISUID, S.ISGID)))
    if want == band(st.mode, PERM) then return true end
    return sys.chmod(fd, "", want)
  end

  -- After a mkdir, mknod or symlink made as the host: settles the object
  -- at path if it is the one just made (the host's, of type `ifmt`, a file
  -- with no other name), through an fd, so that the chown cannot reach
  -- anything renamed into its place. Anything else there now was put there
  -- behind the mount and is left alone (ESTALE). When settling fails the
  -- creation is undone: a half-made object owned by the wrong user is
  -- worse than none. Returns the stat, or nil, err, errno.
  local function settle_made(dirfd, name, dir_st, mode, ifmt, remove)
    local fd, e, n = sys.open(dirfd, name, bor(O.PATH, O.NOFOLLOW))
    if not fd then return nil, e, n end
    local st
    st, e, n = sys.fstat(fd)
    if st and (band(st.mode, S.IFMT) ~= ifmt or st.uid ~= host_uid
               or (ifmt ~= S.IFDIR and st.nlink ~= 1)) then
      st, e, n = moonfs.fail("ESTALE", name .. " was replaced behind the mount")
    elseif st then
      local ok
      ok, e, n = settle(fd, mode, dir_st)
      if ok then
        st, e, n = sys.fstat(fd)
      else
        st = nil
        remove(dirfd, name)
      end
    end
    sys.close(fd)
    return st, e, n
  end

  local fs = {
    -- Kernel caching of names and attributes, as libfuse's passthrough_hp:
    -- everything changes through the mount, so the kernel can keep what it
    -- knows. Mount with -o timeout=1 when the directory also changes
    -- behind moonfs's back.
    timeout = 86400,
    -- The kernel keeps POSIX ACLs (from the backing files' xattrs) and
    -- leaves umask and default ACLs to the backing filesystem. A script
    -- that sets posix_acl = false (mirror.lua -o acl=no) still creates
    -- with the caller's umask, so default ACLs keep applying.
    posix_acl = true,
    applies_umask = true,
    -- Its state is the backing directory, so it may run on every CPU, one
    -- worker (and Lua state) each. A script built on it that keeps state
    -- of its own in Lua sets workers = nil.
    workers = "cpus",
  }

  -- A lookup (path's directory is the one the kernel checked the caller's
  -- search permission on) stats the name in that directory, held.
  function fs.getattr(path, fh)
    if type(fh) ~= "number" and path ~= "/" and moonfs.request_object((split(path))) then
      return in_parent(path, sys.stat)
    end
    return stat(path, fh)
  end

  -- The changes, made through `fd` (an open file) or through `held`
  -- (an O_PATH fd, of a stat `st`). Returns true or nil, err, errno.
  local function change(changes, fd, held, st)
    local ok, e, n = true, nil, nil
    if not (changes.mode or changes.uid or changes.gid or changes.size or changes.atime
            or changes.mtime) then
      -- Only the change time moves (chown(path, -1, -1)): no call sets it,
      -- but chown(-1, -1) moves it to now, as on a local filesystem.
      if fd then ok, e, n = sys.fchown(fd, -1, -1)
      else ok, e, n = sys.chown(held, "", -1, -1) end
      if not ok then return nil, e, n end
    end
    -- owner before mode: a chown clears setuid/setgid, a mode given with it is final
    if changes.uid or changes.gid then
      local uid, gid = changes.uid or -1, changes.gid or -1
      if fd then ok, e, n = sys.fchown(fd, uid, gid)
      else ok, e, n = sys.chown(held, "", uid, gid) end
      if not ok then return nil, e, n end
    end
    if changes.mode then
      if fd then ok, e, n = sys.fchmod(fd, changes.mode)
      elseif st.type == "symlink" then return moonfs.fail("EOPNOTSUPP") -- as Linux
      else ok, e, n = sys.chmod(held, "", changes.mode) end
      if not ok then return nil, e, n end
    end
    if changes.size then
      if fd then ok, e, n = sys.ftruncate(fd, changes.size)
      else ok, e, n = sys.truncate(held, "", changes.size) end
      if not ok then return nil, e, n end
    end
    if changes.atime or changes.mtime then
      if fd then ok, e, n = sys.futimens(fd, changes.atime, changes.mtime)
      else ok, e, n = sys.utimens(held, "", changes.atime, changes.mtime) end
      if not ok then return nil, e, n end
    end
    return true
  end

  -- Uses the open fd when the kernel names one (ftruncate of an unlinked
  -- file has no path left), else the object the kernel knows at path.
  function fs.setattr(path, changes, fh)
    local fd = type(fh) == "number" and fh or nil
    local held, st, e, n
    if not fd then
      held, st, n = hold(path)
      if not held then return nil, st, n end
    end
    local ok
    ok, e, n = change(changes, fd, held, st)
    if ok then st, e, n = sys.fstat(fd or held) end
    if held then sys.close(held) end
    if not ok then return nil, e, n end
    return st, e, n
  end

  function fs.readlink(path)
    return sys.readlink(rootfd, relative(path))
  end

  function fs.mknod(path, mode, rdev)
    return in_parent(path, function(dirfd, name, dir_st)
      local ok, e, n = with_caller_umask(sys.mknod, dirfd, name, mode, rdev)
      if not ok then return nil, e, n end
      return settle_made(dirfd, name, dir_st, mode, band(mode, S.IFMT), sys.unlink)
    end)
  end

  function fs.mkdir(path, mode)
    return in_parent(path, function(dirfd, name, dir_st)
      local ok, e, n = with_caller_umask(sys.mkdir, dirfd, name, mode)
      if not ok then return nil, e, n end
      return settle_made(dirfd, name, dir_st, mode, S.IFDIR, sys.rmdir)
    end)
  end

  function fs.symlink(target, path)
    return in_parent(path, function(dirfd, name, dir_st)
      local ok, e, n = sys.symlink(target, dirfd, name)
      if not ok then return nil, e, n end
      return settle_made(dirfd, name, dir_st, nil, S.IFLNK, sys.unlink)
    end)
  end

  function fs.unlink(path)
    return in_parent(path, sys.unlink)
  end

  function fs.rmdir(path)
    return in_parent(path, sys.rmdir)
  end

  function fs.rename(from, to, flags)
    return in_parent(from, function(from_dirfd, from_name)
      return in_parent(to, function(to_dirfd, to_name)
        return sys.rename(from_dirfd, from_name, to_dirfd, to_name, flags)
      end)
    end)
  end

  -- fh is given for a file with no name (O_TMPFILE): linked by its fd.
  -- As root the object the kernel knows at `from` is linked through an fd
  -- (linking by fd takes a privilege; without it the host has only its
  -- user's rights, which the backing filesystem checks).
  function fs.link(from, to, fh)
    return in_parent(to, function(dirfd, name)
      local ok, e, n
      if type(fh) == "number" then
        ok, e, n = sys.link(fh, "", dirfd, name)
      elseif host_uid == 0 then
        local held
        held, e, n = hold(from)
        if not held then return nil, e, n end
        ok, e, n = sys.link(held, "", dirfd, name)
        sys.close(held)
      else
        ok, e, n = sys.link(rootfd, relative(from), dirfd, name)
      end
      if not ok then return nil, e, n end
      return sys.stat(dirfd, name)
    end)
  end

  -- open(dir, O_TMPFILE): a file with no name in `dir`, linkable later;
  -- O_EXCL (never linkable) is kept.
  function fs.tmpfile(dir, mode, flags)
    local how = bor(band(flags, bnot(O.CREAT)), O.TMPFILE)
    local dirfd, dir_st, n = hold(dir, bor(O.PATH, O.DIRECTORY))
    if not dirfd then return nil, dir_st, n end
    local fd, e
    fd, e, n = with_caller_umask(sys.open, dirfd, ".", how, mode)
    sys.close(dirfd)
    if not fd then return nil, e, n end
    local ok, st
    ok, e, n = settle(fd, mode, dir_st)
    if ok then st, e, n = sys.fstat(fd) end
    if not st then
      sys.close(fd)
      return nil, e, n
    end
    return moonfs.fd(fd), st
  end

  -- Opens without waiting. A lease on the file (Samba's, an NFS server's
  -- delegation) then gives EAGAIN, the break having begun; a caller that
  -- did not ask for O_NONBLOCK waits for its holder to let go (as long as
  -- the kernel's lease-break-time, 45 s by default, plus a margin), in its
  -- own handler while the host goes on serving others.
  local LEASE_WAIT = 60
  local function open_without_waiting(rel, flags, caller_flags)
    local fd, e, n = sys.open(rootfd, rel, bor(flags, O.NONBLOCK))
    local pause, waited = 0.005, 0
    while n == moonfs.errno.EAGAIN and band(caller_flags, O.NONBLOCK) == 0
          and waited < LEASE_WAIT do
      moonfs.sleep(pause)
      waited = waited + pause
      pause = math.min(pause * 2, 0.2)
      fd, e, n = sys.open(rootfd, rel, bor(flags, O.NONBLOCK))
    end
    return fd, e, n
  end

  -- The kernel sends OPEN only for regular files (it opens the others
  -- itself), so anything else at the name was put there behind the mount:
  -- O_NONBLOCK keeps a FIFO from making the open wait, O_NOFOLLOW a symlink
  -- from leading elsewhere. O_TRUNC waits until the file is known to be
  -- the one the kernel checked (the kernel sends it as a setattr, but a
  -- script may pass it).
  function fs.open(path, flags)
    local fd, e, n = open_without_waiting(relative(path), bor(band(flags, OPEN_STRIP), O.NOFOLLOW),
                                          flags)
    if n == moonfs.errno.ENXIO then return stale(path) end -- a FIFO with no reader
    if not fd then return nil, e, n end
    local st
    st, e, n = sys.fstat(fd)
    if st and not (st.type == "file" and known(path, st)) then st, e, n = stale(path) end
    if st and band(flags, O.NONBLOCK) == 0 then st, e, n = sys.nonblocking(fd, false) end
    if st and band(flags, O.TRUNC) ~= 0 then st, e, n = sys.ftruncate(fd, 0) end
    if not st then
      sys.close(fd)
      return nil, e, n
    end
    return moonfs.fd(fd)
  end

  function fs.create(path, mode, flags)
    flags = bor(flags, O.CREAT, O.NOFOLLOW)
    return in_parent(path, function(dirfd, name, dir_st)
      -- O_EXCL tells whether this call made the file: only then does it
      -- get the caller's ownership. The kernel asks to create only names
      -- it believes missing, so the file exists only when made behind our
      -- back: ESTALE makes the kernel look it up and open it, checking the
      -- caller's permissions against its owner and mode (opening it here,
      -- as root, would not).
      local fd, e, n = with_caller_umask(sys.open, dirfd, name, bor(flags, O.EXCL), mode)
      if not fd and n == moonfs.errno.EEXIST and band(flags, O.EXCL) == 0 then
        return stale(path)
      end
      if not fd then return nil, e, n end
      local ok, st
      ok, e, n = settle(fd, mode, dir_st)
      if ok then st, e, n = sys.fstat(fd) end
      if not st then
        sys.close(fd)
        sys.unlink(dirfd, name)
        return nil, e, n
      end
      return moonfs.fd(fd), st -- the new file's stat spares a getattr
    end)
  end

  -- An open directory is an fd of it: fsyncdir needs one (editors and
  -- databases fsync a directory to make a rename durable), and a listing
  -- reads the directory that was opened even if it was renamed since.
  -- (Only the directory the kernel checked is listed: see stale.)
  function fs.opendir(path)
    local fd, e, n = hold(path, bor(O.RDONLY, O.DIRECTORY))
    if not fd then return nil, e, n end
    return moonfs.fd(fd) -- the host closes it at releasedir
  end

  function fs.fsyncdir(path, datasync, fh)
    if type(fh) == "number" then return sys.fsync(fh, datasync) end
  end

  -- names, types and inos straight from the directory; the types let
  -- `find` and `ls --color` skip a stat per name.
  -- With `plus` (a READDIRPLUS) the stats come along, taken from the
  -- directory itself: cheaper than the kernel asking name by name.
  function fs.readdir(path, fh, plus)
    if type(fh) == "number" then return sys.readdir(fh, ".", plus) end
    return sys.readdir(rootfd, relative(path), plus)
  end

  function fs.statfs(path)
    return sys.statvfs(rootfd)
  end

  -- Calls fn(fd, "", ...) on the request's object: the handle the host
  -- passes for a file removed while open (its old path may name another
  -- file by now), else the object the kernel knows at path (hold).
  local function on_object(fn, path, fh, ...)
    if type(fh) == "number" then return fn(fh, "", ...) end
    local held, e, n = hold(path)
    if not held then return nil, e, n end
    local a, b, c = fn(held, "", ...)
    sys.close(held)
    return a, b, c
  end

  function fs.setxattr(path, name, value, flags, fh)
    return on_object(sys.setxattr, path, fh, name, value, flags)
  end

  function fs.getxattr(path, name, fh)
    return on_object(sys.getxattr, path, fh, name)
  end

  function fs.listxattr(path, fh)
    return on_object(sys.listxattr, path, fh)
  end

  function fs.removexattr(path, name, fh)
    return on_object(sys.removexattr, path, fh, name)
  end

  -- File handles: the path of the file numbered `ino`, which the kernel
  -- no longer has (after a remount; after a cache drop the host first
  -- tries the path the file last had). The tree is searched breadth first
  -- by the numbers readdir gives, so a cold handle costs a scan; the stat
  -- generations (birth times) then tell a reused number from the file the
  -- handle was made for. Filesystems mounted below the root are not
  -- searched.
  function fs.locate(ino)
    local root_dev = sys.stat(rootfd, ".").dev
    local queue, head, tail = { "." }, 1, 1
    while head <= tail do
      local dir = queue[head]
      queue[head] = nil
      head = head + 1
      local names, types, inos = sys.readdir(rootfd, dir)
      for i = 1, names and #names or 0 do
        local rel = dir == "." and names[i] or dir .. "/" .. names[i]
        if inos[i] == ino then return "/" .. rel end
        if types[i] == "dir" or types[i] == false then
          local st = sys.stat(rootfd, rel)
          if st and st.type == "dir" and st.dev == root_dev then
            tail = tail + 1
            queue[tail] = rel
          end
        end
      end
    end
    return nil, "ENOENT"
  end

  return fs
end

return mirror
