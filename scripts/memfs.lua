-- memfs: a complete read-write filesystem that lives in memory, in plain Lua.
--
--   moonfs scripts/memfs.lua MOUNTPOINT -f
--
-- Everything is gone at unmount (a reload keeps it: the tree is kept with
-- moonfs.keep, so SIGHUP picks up new handlers over the same files). The layout mirrors a classic Unix
-- filesystem, which is what makes hard links and open-but-deleted files work:
--
--   * An inode is a Lua table holding everything about one object except its
--     names: type, permissions, owner, times, link count, extended attributes,
--     and its contents (file data, directory entries or symlink target).
--   * A directory's `entries` maps names to inode tables. Two entries holding
--     the same table are hard links; `nlink` counts the names of a file.
--   * open() hands the inode itself back as the file handle, so reads and
--     writes reach the same object after it is renamed or unlinked.
--
-- The kernel resolves symlinks, so every path arriving here is absolute and
-- free of them: handlers just walk it. Modes are only enforced when mounted
-- with -o default_permissions (the kernel then checks what getattr reports).

local moonfs = require("moonfs")
local bit = require("bit")
local band, bor = bit.band, bit.bor

local blocks = require("moonfs.blocks") -- file data in compact blocks of C memory
-- Collect garbage (the strings of written data) before memory grows a
-- fifth past what is live, not the default double: memfs's memory is its files.
collectgarbage("setpause", 120)
local CAPACITY = 1024 * 1024 * 1024 -- what statfs reports as the total size
local MAX_INODES = 1024 * 1024     -- what statfs reports as the inode total
local MAX_FILE_SIZE = 2 ^ 44       -- 16 TiB, as on ext4: beyond it EFBIG
local S_ISUID, S_ISGID = moonfs.S.ISUID, moonfs.S.ISGID
local O_EXCL, O_TRUNC = moonfs.O.EXCL, moonfs.O.TRUNC

local now = moonfs.now   -- {sec=, nsec=}; never modified once stored

---------------------------------------------------------------- inodes

-- The tree and the inode counter: kept across reloads.
local state = moonfs.keep("memfs", function() return { next_ino = 1 } end)

-- A new inode owned by the caller. `parent` decides the group: a directory
-- with the setgid bit passes on its group (and, to directories, the bit),
-- which is how shared project directories keep one group.
local function new_inode(kind, perm, parent)
  local caller = moonfs.caller() or { uid = 0, gid = 0 }
  local gid = caller.gid
  if parent and band(parent.perm, S_ISGID) ~= 0 then
    gid = parent.gid or gid
    if kind == "dir" then perm = bor(perm, S_ISGID) end
  end
  local t = now()
  local node = {
    ino = state.next_ino, type = kind, perm = perm, uid = caller.uid, gid = gid,
    nlink = kind == "dir" and 2 or 0, -- attach() adds one per name
    size = kind == "dir" and 4096 or 0, atime = t, mtime = t, ctime = t, xattrs = {},
  }
  state.next_ino = state.next_ino + 1
  if kind == "dir" then node.entries = {} elseif kind == "file" then node.data = blocks.new() end
  return node
end

-- The root has no owner of its own (there is no caller while the script
-- loads): the host then reports the user who mounted.
if not state.root then
  state.root = new_inode("dir", tonumber("755", 8))
  state.root.uid, state.root.gid = nil, nil
end
local root = state.root

-- The stat table of an inode; passes a lookup's error on unchanged, so
-- handlers can end with `return stat(lookup(path))`.
local function stat(node, err)
  if not node then return nil, err end
  return {
    ino = node.ino, type = node.type, perm = node.perm, nlink = node.nlink,
    uid = node.uid, gid = node.gid, size = node.size, rdev = node.rdev,
    blocks = node.data and math.ceil(node.data:held_bytes() / 512), -- holes take no room
    atime = node.atime, mtime = node.mtime, ctime = node.ctime,
  }
end

-- Adds or removes the name `name` in directory `dir`. A file's link count is
-- its number of names; a directory's is 2 ("." and its name) plus one ".."
-- per subdirectory, so a subdirectory counts against its parent instead.
local function attach(dir, name, node)
  dir.entries[name] = node
  if node.type == "dir" then dir.nlink = dir.nlink + 1 else node.nlink = node.nlink + 1 end
  local t = now()
  dir.mtime, dir.ctime, node.ctime = t, t, t
end

local function detach(dir, name)
  local node = dir.entries[name]
  dir.entries[name] = nil
  if node.type == "dir" then dir.nlink = dir.nlink - 1 else node.nlink = node.nlink - 1 end
  local t = now()
  dir.mtime, dir.ctime, node.ctime = t, t, t
  return node
end

---------------------------------------------------------------- paths

-- The inode at `path`, or nil and an errno name.
local function lookup(path)
  local node = root
  for name in moonfs.components(path) do
    if node.type ~= "dir" then return nil, "ENOTDIR" end
    node = node.entries[name]
    if not node then return nil, "ENOENT" end
  end
  return node
end

-- The directory that holds (or would hold) `path`, and the last name.
local function parent_of(path)
  local dirpath, name = moonfs.split(path)
  if not name then return nil, "EBUSY" end -- "/" has no parent to change
  local dir, err = lookup(dirpath)
  if not dir then return nil, err end
  if dir.type ~= "dir" then return nil, "ENOTDIR" end
  return dir, name
end

-- Makes a new object at `path` (shared by mkdir, mknod, symlink and
-- create); `fields` holds what only some kinds have (rdev, target).
local function make(path, kind, perm, fields)
  local dir, name = parent_of(path)
  if not dir then return nil, name end
  if dir.entries[name] then return nil, "EEXIST" end
  local node = new_inode(kind, perm, dir)
  for key, value in pairs(fields or {}) do node[key] = value end
  attach(dir, name, node)
  return node
end

---------------------------------------------------------------- file data
-- node.data holds the bytes (moonfs.blocks: holes read as zeros, and cost
-- nothing); node.size says how many there are.

-- Truncates or extends. Growing only changes the size (the new bytes read
-- as zeros); shrinking must also drop the data, or growing again later
-- would bring old bytes back.
local function set_size(node, size)
  if size < node.size then node.data:truncate(size) end
  node.size = size
  local t = now()
  node.mtime, node.ctime = t, t
end

-- Changing a program (write, truncate, chown) drops its setuid bit, and its
-- setgid bit when group-executable, so it cannot keep privileges. libfuse
-- asks the kernel to leave this to us (HANDLE_KILLPRIV). Only chown does it
-- for root too; root writing a file keeps the bits, as on Linux.
local function drop_privileges(node, even_for_root)
  local caller = moonfs.caller()
  if node.type ~= "file" or (not even_for_root and caller and caller.uid == 0) then return end
  local bits = band(node.perm, 8) ~= 0 and bor(S_ISUID, S_ISGID) or S_ISUID
  node.perm = band(node.perm, bit.bnot(bits))
end

-- The inode a request is about: the open handle when there is one (it stays
-- valid after unlink or rename), else the path.
local function target(path, fh)
  if fh then return fh end
  return lookup(path)
end

---------------------------------------------------------------- handlers

local fs = {}

function fs.getattr(path, fh)
  return stat(target(path, fh))
end

function fs.setattr(path, changes, fh)
  local node, err = target(path, fh)
  if not node then return nil, err end
  if changes.size then
    if node.type == "dir" then return nil, "EISDIR" end
    if node.type ~= "file" then return nil, "EINVAL" end
    if changes.size > MAX_FILE_SIZE then return nil, "EFBIG" end
    set_size(node, changes.size)
    drop_privileges(node)
  end
  -- chmod changes permission bits only; the type is not the caller's to change
  if changes.mode then node.perm = band(changes.mode, tonumber("7777", 8)) end
  if changes.uid or changes.gid then
    node.uid, node.gid = changes.uid or node.uid, changes.gid or node.gid
    if not changes.mode then drop_privileges(node, true) end
  end
  local t = now()
  for _, field in ipairs({ "atime", "mtime" }) do
    local value = changes[field]
    if value == "now" then node[field] = t
    elseif value then node[field] = { sec = value.sec, nsec = value.nsec } end
  end
  node.ctime = t -- every attribute change is a change of the inode
  return stat(node)
end

function fs.mkdir(path, mode)
  return stat(make(path, "dir", mode))
end

-- Fifos, sockets and device nodes (and plain files, when a program asks).
function fs.mknod(path, mode, rdev)
  local kind = band(mode, moonfs.S.IFMT) == 0 and "file" or moonfs.type_of(mode)
  if not kind or kind == "dir" or kind == "symlink" then return nil, "EINVAL" end
  return stat(make(path, kind, moonfs.perm_of(mode), { rdev = rdev }))
end

function fs.symlink(target_path, path)
  local fields = { target = target_path, size = #target_path }
  return stat(make(path, "symlink", tonumber("777", 8), fields))
end

function fs.readlink(path)
  local node, err = lookup(path)
  if not node then return nil, err end
  if node.type ~= "symlink" then return nil, "EINVAL" end
  return node.target
end

function fs.link(from, to)
  local node, err = lookup(from)
  if not node then return nil, err end
  if node.type == "dir" then return nil, "EPERM" end -- would allow cycles
  local dir, name = parent_of(to)
  if not dir then return nil, name end
  if dir.entries[name] then return nil, "EEXIST" end
  attach(dir, name, node)
  return stat(node)
end

function fs.unlink(path)
  local dir, name = parent_of(path)
  if not dir then return nil, name end
  local node = dir.entries[name]
  if not node then return nil, "ENOENT" end
  if node.type == "dir" then return nil, "EISDIR" end
  detach(dir, name) -- the data stays while an open handle refers to it
end

function fs.rmdir(path)
  local dir, name = parent_of(path)
  if not dir then return nil, name end
  local node = dir.entries[name]
  if not node then return nil, "ENOENT" end
  if node.type ~= "dir" then return nil, "ENOTDIR" end
  if next(node.entries) then return nil, "ENOTEMPTY" end
  detach(dir, name)
  node.nlink = 0
end

-- Is `path` strictly below `dir`? (Moving a directory there would cut it
-- off from the tree.)
local function inside(path, dir)
  return path:sub(1, #dir + 1) == (dir == "/" and "/" or dir .. "/")
end

function fs.rename(from, to, flags)
  -- RENAME_WHITEOUT (for overlay filesystems) and any flag to come: not here
  if flags ~= 0 and flags ~= moonfs.RENAME_NOREPLACE and flags ~= moonfs.RENAME_EXCHANGE then
    return nil, "EINVAL"
  end
  local from_dir, from_name = parent_of(from)
  if not from_dir then return nil, from_name end
  local node = from_dir.entries[from_name]
  if not node then return nil, "ENOENT" end
  local to_dir, to_name = parent_of(to)
  if not to_dir then return nil, to_name end
  local victim = to_dir.entries[to_name]

  if flags == moonfs.RENAME_EXCHANGE then
    if not victim then return nil, "ENOENT" end
    if victim == node then return end
    if (node.type == "dir" and inside(to, from)) or (victim.type == "dir" and inside(from, to)) then
      return nil, "EINVAL"
    end
    -- detach both first so the link counts of both parents come out right
    detach(from_dir, from_name)
    detach(to_dir, to_name)
    attach(from_dir, from_name, victim)
    attach(to_dir, to_name, node)
    return
  end

  if victim and flags == moonfs.RENAME_NOREPLACE then return nil, "EEXIST" end
  if victim == node then return end -- same name, or another hard link to it
  if node.type == "dir" then
    if inside(to, from) then return nil, "EINVAL" end
    if victim and victim.type ~= "dir" then return nil, "ENOTDIR" end
    if victim and next(victim.entries) then return nil, "ENOTEMPTY" end
  elseif victim and victim.type == "dir" then
    return nil, "EISDIR"
  end
  if victim then
    detach(to_dir, to_name)
    if victim.type == "dir" then victim.nlink = 0 end
  end
  detach(from_dir, from_name)
  attach(to_dir, to_name, node) -- also sets the ctime of the moved inode
end

function fs.open(path, flags)
  local node, err = lookup(path)
  if not node then return nil, err end
  if node.type == "dir" and band(flags, 3) ~= 0 then return nil, "EISDIR" end
  if band(flags, O_TRUNC) ~= 0 and node.type == "file" then
    set_size(node, 0)
    drop_privileges(node)
  end
  return node
end

-- The handle, and the new file's stat, which spares the host a getattr.
function fs.create(path, mode, flags)
  local node, err = lookup(path)
  if node then
    if band(flags, O_EXCL) ~= 0 then return nil, "EEXIST" end
    node, err = fs.open(path, flags)
  else
    node, err = make(path, "file", moonfs.perm_of(mode))
  end
  if not node then return nil, err end
  return node, stat(node)
end

function fs.read(path, size, offset, fh)
  local node, err = target(path, fh)
  if not node then return nil, err end
  if node.type ~= "file" then return nil, "EISDIR" end
  return node.data:read(node.size, offset, size) -- atime is left alone, as with noatime
end

function fs.write(path, data, offset, fh)
  local node, err = target(path, fh)
  if not node then return nil, err end
  if node.type ~= "file" then return nil, "EISDIR" end
  if offset + #data > MAX_FILE_SIZE then return nil, "EFBIG" end
  node.data:write(data, offset)
  node.size = math.max(node.size, offset + #data)
  drop_privileges(node)
  local t = now()
  node.mtime, node.ctime = t, t
  return #data
end

-- fallocate(2): allocate (a no-op here but for the size), keep the size,
-- punch a hole, zero a range.
local FALLOC_KEEP_SIZE, FALLOC_PUNCH_HOLE, FALLOC_ZERO_RANGE = 1, 2, 16
function fs.fallocate(path, mode, offset, length, fh)
  local node, err = target(path, fh)
  if not node then return nil, err end
  if node.type ~= "file" then return nil, node.type == "dir" and "EISDIR" or "ENODEV" end
  if offset + length > MAX_FILE_SIZE then return nil, "EFBIG" end
  local keep = band(mode, FALLOC_KEEP_SIZE) ~= 0
  if band(mode, FALLOC_PUNCH_HOLE) ~= 0 then
    if not keep then return nil, "EOPNOTSUPP" end -- punching needs KEEP_SIZE, as on ext4
    node.data:zero(offset, length)
  elseif band(mode, FALLOC_ZERO_RANGE) ~= 0 then
    node.data:zero(offset, length)
  elseif band(mode, bit.bnot(FALLOC_KEEP_SIZE)) ~= 0 then
    return nil, "EOPNOTSUPP" -- collapse, insert, unshare: not here
  end
  if not keep and offset + length > node.size then node.size = offset + length end
  local t = now()
  node.mtime, node.ctime = t, t
end

-- SEEK_DATA and SEEK_HOLE: the holes are the blocks never written.
function fs.lseek(path, offset, whence, fh)
  local node, err = target(path, fh)
  if not node then return nil, err end
  if node.type ~= "file" then return nil, "EINVAL" end
  local found = node.data:seek(node.size, offset, whence == 4) -- 4 is SEEK_HOLE
  if not found then return nil, "ENXIO" end
  return found
end

-- The directory itself is the handle, so fstat of an open directory that
-- was removed still finds it.
function fs.opendir(path)
  return lookup(path)
end

-- Names, with their types and inode numbers as parallel arrays.
function fs.readdir(path, fh)
  local node, err = target(path, fh)
  if not node then return nil, err end
  if node.type ~= "dir" then return nil, "ENOTDIR" end
  local names, types, inos = {}, {}, {}
  for name, child in pairs(node.entries) do
    local i = #names + 1
    names[i], types[i], inos[i] = name, child.type, child.ino
  end
  return names, types, inos
end

-- Usage is counted by walking the tree: simple, and statfs is rare.
-- (Files that are unlinked but still open are not counted.)
function fs.statfs()
  local seen, todo, used, count = {}, { root }, 0, 0
  while #todo > 0 do -- a loop, not recursion: trees can be very deep
    local node = table.remove(todo)
    if not seen[node] then -- (hard links reach a file more than once)
      seen[node] = true
      count, used = count + 1, used + node.size
      for _, child in pairs(node.entries or {}) do todo[#todo + 1] = child end
    end
  end
  local bsize = 4096
  local free = math.max(0, math.floor((CAPACITY - used) / bsize))
  return {
    bsize = bsize, frsize = bsize, blocks = CAPACITY / bsize, bfree = free, bavail = free,
    files = MAX_INODES, ffree = MAX_INODES - count, namemax = 255,
  }
end

-- Attribute names live in namespaces ("user.", "trusted.", ...); Linux
-- refuses a name without one.
local function known_namespace(name)
  return name:match("^user%.") or name:match("^trusted%.") or name:match("^security%.")
end

-- The xattr handlers get a handle only for an object removed while open.
function fs.setxattr(path, name, value, flags, fh)
  local node, err = target(path, fh)
  if not node then return nil, err end
  if not known_namespace(name) then return nil, "EOPNOTSUPP" end
  local present = node.xattrs[name] ~= nil
  if flags == moonfs.XATTR_CREATE and present then return nil, "EEXIST" end
  if flags == moonfs.XATTR_REPLACE and not present then return nil, "ENODATA" end
  node.xattrs[name] = value
  node.ctime = now()
end

function fs.getxattr(path, name, fh)
  local node, err = target(path, fh)
  if not node then return nil, err end
  local value = node.xattrs[name]
  if value == nil then return nil, "ENODATA" end
  return value
end

function fs.listxattr(path, fh)
  local node, err = target(path, fh)
  if not node then return nil, err end
  local names = {}
  for name in pairs(node.xattrs) do names[#names + 1] = name end
  table.sort(names) -- a stable order for listings and tests
  return names
end

function fs.removexattr(path, name, fh)
  local node, err = target(path, fh)
  if not node then return nil, err end
  if node.xattrs[name] == nil then return nil, "ENODATA" end
  node.xattrs[name] = nil
  node.ctime = now()
end

return fs
