-- upper.lua: a read-only view of a directory in which every file's contents
-- are in upper case; names stay as they are.
-- Shows the synthetic read path: open returns a handle (a table holding the
-- real fd), not the fd itself, so every read of the file comes to the `read`
-- handler, which changes the bytes on their way. Had open returned the fd,
-- the kernel would serve reads straight from the file (passthrough) and
-- never show the script a byte.
-- Run: moonfs scripts/upper.lua MNT -o root=DIR -f
local moonfs, bit = require("moonfs"), require("bit")
local sys = moonfs.sys
local root = (...).root or error("upper.lua needs -o root=DIR (the directory to show)", 0)
-- every path below is relative to it; kept, so a reload does not open it again
local rootfd = moonfs.keep("rootfd", function() return assert(sys.open_root(root)) end)
local rel = moonfs.relative -- "/a/b" -> "a/b", "/" -> "."

local function readonly() return nil, "EROFS" end

return {
  getattr = function(path)
    local st, err = sys.stat(rootfd, rel(path))
    if not st then return nil, err end
    -- string.upper changes only the ASCII letters a-z, byte for byte: the
    -- size stays right. The write bits go: nothing here can be changed.
    st.perm = bit.band(st.mode, tonumber("555", 8))
    return st
  end,
  readdir = function(path) return sys.readdir(rootfd, rel(path)) end,
  readlink = function(path) return sys.readlink(rootfd, rel(path)) end,
  statfs = function(path) return sys.statvfs(rootfd) end,

  open = function(path, flags)
    if flags % 4 ~= 0 then return nil, "EROFS" end -- O_WRONLY or O_RDWR
    local fd, err = sys.open(rootfd, rel(path), moonfs.O.RDONLY)
    if not fd then return nil, err end
    return { fd = fd } -- a handle: read and release get it back
  end,
  read = function(path, size, offset, handle)
    local data, err = sys.pread(handle.fd, size, offset)
    if not data then return nil, err end
    return data:upper()
  end,
  release = function(path, handle) sys.close(handle.fd) end,

  -- Everything that would change the directory fails as on a read-only
  -- mount (without these handlers the kernel would see ENOSYS).
  mkdir = readonly, mknod = readonly, create = readonly, symlink = readonly, link = readonly,
  unlink = readonly, rmdir = readonly, rename = readonly, setattr = readonly,
  setxattr = readonly, removexattr = readonly,
}
