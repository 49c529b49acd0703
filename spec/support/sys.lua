-- The system calls specs drive mounts with. luaposix where it has the call
-- with the same meaning, LuaJIT's ffi (the C library's functions, never a
-- raw syscall number) for what it lacks. Every function returns its result
-- on success and `nil, "ENAME", errno` on failure, so specs can assert on
-- errno names.
local ffi = require("ffi")
local bit = require("bit")
local errno_names = require("moonfs.errno")

ffi.cdef [[
typedef long ssize_t;
typedef unsigned long size_t;
typedef long off_t;
typedef unsigned int mode_t;
struct spec_timespec { long tv_sec; long tv_nsec; };
struct spec_statx_timestamp { int64_t tv_sec; uint32_t tv_nsec; int32_t reserved; };
struct spec_statx {
  uint32_t stx_mask; uint32_t stx_blksize; uint64_t stx_attributes;
  uint32_t stx_nlink; uint32_t stx_uid; uint32_t stx_gid; uint16_t stx_mode; uint16_t pad1;
  uint64_t stx_ino; uint64_t stx_size; uint64_t stx_blocks; uint64_t stx_attributes_mask;
  struct spec_statx_timestamp stx_atime, stx_btime, stx_ctime, stx_mtime;
  uint32_t stx_rdev_major; uint32_t stx_rdev_minor; uint32_t stx_dev_major; uint32_t stx_dev_minor;
  uint64_t spare[14];
};
struct spec_statvfs {
  unsigned long f_bsize, f_frsize, f_blocks, f_bfree, f_bavail, f_files, f_ffree, f_favail;
  unsigned long f_fsid, f_flag, f_namemax; int spare[6];
};
int open(const char *path, int flags, ...);
int close(int fd);
ssize_t read(int fd, void *buf, size_t n);
ssize_t write(int fd, const void *buf, size_t n);
ssize_t pread(int fd, void *buf, size_t n, off_t off);
ssize_t pwrite(int fd, const void *buf, size_t n, off_t off);
off_t lseek(int fd, off_t off, int whence);
int statx(int dirfd, const char *path, int flags, unsigned int mask, struct spec_statx *buf);
int mkdir(const char *path, mode_t mode);
int rmdir(const char *path);
int unlink(const char *path);
int rename(const char *from, const char *to);
int renameat2(int olddirfd, const char *from, int newdirfd, const char *to, unsigned int flags);
int link(const char *from, const char *to);
int symlink(const char *target, const char *path);
ssize_t readlink(const char *path, char *buf, size_t size);
int chmod(const char *path, mode_t mode);
int fchmod(int fd, mode_t mode);
int lchown(const char *path, unsigned int uid, unsigned int gid);
int truncate(const char *path, off_t size);
int ftruncate(int fd, off_t size);
int utimensat(int dirfd, const char *path, const struct spec_timespec times[2], int flags);
int setxattr(const char *path, const char *name, const void *value, size_t size, int flags);
ssize_t getxattr(const char *path, const char *name, void *value, size_t size);
ssize_t listxattr(const char *path, char *list, size_t size);
int removexattr(const char *path, const char *name);
int statvfs(const char *path, struct spec_statvfs *buf);
int fsync(int fd);
int fdatasync(int fd);
int fallocate(int fd, int mode, off_t off, off_t len);
int mknod(const char *path, mode_t mode, unsigned long dev);
int access(const char *path, int mode);
int dup(int fd);
void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
int munmap(void *addr, size_t len);
int msync(void *addr, size_t len, int flags);
typedef struct spec_DIR spec_DIR;
struct spec_dirent { uint64_t d_ino; int64_t d_off; uint16_t d_reclen; uint8_t d_type; char d_name[256]; };
spec_DIR *opendir(const char *name);
struct spec_dirent *readdir(spec_DIR *dir);
int closedir(spec_DIR *dir);
]]

local C = ffi.C
local M = {}

-- luaposix has the generic flags; Debian's lacks these three, whose values
-- differ between architectures.
local pf = require("posix.fcntl")
local by_arch = {
  x64 = { DIRECTORY = 0x10000, NOFOLLOW = 0x20000, DIRECT = 0x4000 },
  arm64 = { DIRECTORY = 0x4000, NOFOLLOW = 0x8000, DIRECT = 0x10000 },
}
local arch = assert(by_arch[ffi.arch], "spec/support/sys.lua knows no O_DIRECTORY for " .. ffi.arch)
M.O = {
  RDONLY = pf.O_RDONLY, WRONLY = pf.O_WRONLY, RDWR = pf.O_RDWR, CREAT = pf.O_CREAT,
  EXCL = pf.O_EXCL, TRUNC = pf.O_TRUNC, APPEND = pf.O_APPEND, CLOEXEC = pf.O_CLOEXEC,
  DIRECTORY = pf.O_DIRECTORY or arch.DIRECTORY, NOFOLLOW = pf.O_NOFOLLOW or arch.NOFOLLOW,
  DIRECT = pf.O_DIRECT or arch.DIRECT,
}
M.AT_FDCWD = -100
M.RENAME_NOREPLACE, M.RENAME_EXCHANGE = 1, 2
M.XATTR_CREATE, M.XATTR_REPLACE = 1, 2
M.UTIME_NOW, M.UTIME_OMIT = bit.lshift(1, 30) - 1, bit.lshift(1, 30) - 2

local function fail()
  local e = ffi.errno()
  return nil, errno_names[e] or tostring(e), e
end

local function check(rc)
  if rc < 0 then return fail() end
  return true
end

-- A luaposix call's failure (nil, message, errno) in our shape; success as
-- `value` (true when the call returns a bare 0).
local function px(value, _, e)
  if value == nil then return nil, errno_names[e] or tostring(e), e end
  if value == 0 then return true end
  return value
end
local unistd, pstat, stdio = require("posix.unistd"), require("posix.sys.stat"), require("posix.stdio")

function M.open(path, flags, mode)
  local fd = C.open(path, bit.bor(flags or 0, M.O.CLOEXEC), ffi.cast("int", mode or 420))
  if fd < 0 then return fail() end
  return fd
end

function M.close(fd) return px(unistd.close(fd)) end

function M.pread(fd, size, offset)
  local buf = ffi.new("char[?]", math.max(size, 1))
  local n = C.pread(fd, buf, size, offset or 0)
  if n < 0 then return fail() end
  return ffi.string(buf, n)
end

function M.pwrite(fd, data, offset)
  local n = C.pwrite(fd, data, #data, offset or 0)
  if n < 0 then return fail() end
  return tonumber(n)
end

function M.read(fd, size) return px(unistd.read(fd, size)) end
function M.write(fd, data) return px(unistd.write(fd, data)) end
function M.lseek(fd, off, whence) return px(unistd.lseek(fd, off, whence or 0)) end

local types = {
  [0xC000] = "socket", [0xA000] = "symlink", [0x8000] = "file", [0x6000] = "block",
  [0x4000] = "dir", [0x2000] = "char", [0x1000] = "fifo",
}

local function do_stat(path, flags, dirfd)
  local st = ffi.new("struct spec_statx")
  if C.statx(dirfd or M.AT_FDCWD, path, flags, 0x7ff, st) < 0 then return fail() end
  local function t(ts) return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) / 1e9 end
  return {
    mode = st.stx_mode, type = types[bit.band(st.stx_mode, 0xF000)],
    perm = bit.band(st.stx_mode, 0xFFF), nlink = st.stx_nlink, uid = st.stx_uid,
    gid = st.stx_gid, ino = tonumber(st.stx_ino), size = tonumber(st.stx_size),
    blocks = tonumber(st.stx_blocks), atime = t(st.stx_atime), mtime = t(st.stx_mtime),
    ctime = t(st.stx_ctime), mtime_sec = tonumber(st.stx_mtime.tv_sec),
    mtime_nsec = st.stx_mtime.tv_nsec, atime_sec = tonumber(st.stx_atime.tv_sec),
    atime_nsec = st.stx_atime.tv_nsec,
    rdev_major = st.stx_rdev_major, rdev_minor = st.stx_rdev_minor,
  }
end

function M.stat(path) return do_stat(path, 0) end
function M.lstat(path) return do_stat(path, 0x100) end -- AT_SYMLINK_NOFOLLOW
function M.fstat(fd) return do_stat("", 0x1000, fd) end -- AT_EMPTY_PATH

function M.mkdir(path, mode) return px(pstat.mkdir(path, mode or 493)) end
function M.rmdir(path) return px(unistd.rmdir(path)) end
function M.unlink(path) return px(unistd.unlink(path)) end
function M.rename(from, to, flags)
  if flags and flags ~= 0 then -- luaposix has no renameat2
    return check(C.renameat2(M.AT_FDCWD, from, M.AT_FDCWD, to, flags))
  end
  return px(stdio.rename(from, to))
end
function M.link(from, to) return px(unistd.link(from, to)) end
function M.symlink(target, path) return check(C.symlink(target, path)) end
function M.readlink(path)
  local buf = ffi.new("char[4097]")
  local n = C.readlink(path, buf, 4096)
  if n < 0 then return fail() end
  return ffi.string(buf, n)
end
function M.chmod(path, mode) return px(pstat.chmod(path, mode)) end
function M.lchown(path, uid, gid) return check(C.lchown(path, uid, gid)) end
function M.fchmod(fd, mode) return check(C.fchmod(fd, mode)) end
function M.truncate(path, size) return check(C.truncate(path, size)) end
function M.ftruncate(fd, size) return check(C.ftruncate(fd, size)) end
function M.fsync(fd) return px(unistd.fsync(fd)) end
function M.fdatasync(fd) return px(unistd.fdatasync(fd)) end
function M.fallocate(fd, mode, off, len) return check(C.fallocate(fd, mode, off, len)) end
function M.mknod(path, mode, dev) return check(C.mknod(path, mode, dev or 0)) end
function M.access(path, mode) return check(C.access(path, mode)) end

--- times: {sec, nsec} pairs, or "now" / "omit"
function M.utimens(path, atime, mtime, nofollow)
  local ts = ffi.new("struct spec_timespec[2]")
  for i, t in ipairs({ atime, mtime }) do
    if t == "now" then ts[i - 1].tv_nsec = M.UTIME_NOW
    elseif t == "omit" or t == nil then ts[i - 1].tv_nsec = M.UTIME_OMIT
    else ts[i - 1].tv_sec, ts[i - 1].tv_nsec = t[1], t[2] or 0 end
  end
  return check(C.utimensat(M.AT_FDCWD, path, ts, nofollow and 0x100 or 0))
end

function M.setxattr(path, name, value, flags)
  return check(C.setxattr(path, name, value, #value, flags or 0))
end
function M.getxattr(path, name, size)
  local probe = C.getxattr(path, name, nil, 0)
  if probe < 0 then return fail() end
  size = size or tonumber(probe)
  local buf = ffi.new("char[?]", math.max(size, 1))
  local n = C.getxattr(path, name, buf, size)
  if n < 0 then return fail() end
  return ffi.string(buf, n)
end
function M.listxattr(path)
  local probe = C.listxattr(path, nil, 0)
  if probe < 0 then return fail() end
  local buf = ffi.new("char[?]", math.max(tonumber(probe), 1))
  local n = C.listxattr(path, buf, probe)
  if n < 0 then return fail() end
  local names = {}
  for name in ffi.string(buf, n):gmatch("([^%z]+)%z") do names[#names + 1] = name end
  table.sort(names)
  return names
end
function M.removexattr(path, name) return check(C.removexattr(path, name)) end

function M.statvfs(path)
  local sv = ffi.new("struct spec_statvfs")
  if C.statvfs(path, sv) < 0 then return fail() end
  return {
    bsize = tonumber(sv.f_bsize), blocks = tonumber(sv.f_blocks), bfree = tonumber(sv.f_bfree),
    bavail = tonumber(sv.f_bavail), files = tonumber(sv.f_files), ffree = tonumber(sv.f_ffree),
    namemax = tonumber(sv.f_namemax),
  }
end

--- Names in a directory (without . and ..), sorted, read with the C
-- library's readdir.
function M.readdir(path)
  local dir = C.opendir(path)
  if dir == nil then return fail() end
  local names = {}
  while true do
    ffi.errno(0)
    local e = C.readdir(dir)
    if e == nil then break end
    local name = ffi.string(e.d_name)
    if name ~= "." and name ~= ".." then names[#names + 1] = name end
  end
  local err = ffi.errno()
  C.closedir(dir)
  if err ~= 0 then ffi.errno(err); return fail() end
  table.sort(names)
  return names
end

--- Whole-file helpers.
function M.read_file(path)
  local fd, err, num = M.open(path, M.O.RDONLY)
  if not fd then return nil, err, num end
  local parts, offset = {}, 0
  while true do
    local chunk, e2, n2 = M.pread(fd, 1048576, offset)
    if not chunk then C.close(fd); return nil, e2, n2 end
    if #chunk == 0 then break end
    parts[#parts + 1] = chunk
    offset = offset + #chunk
  end
  C.close(fd)
  return table.concat(parts)
end

function M.write_file(path, data, flags, mode)
  local fd, err, num = M.open(path, flags or bit.bor(M.O.WRONLY, M.O.CREAT, M.O.TRUNC), mode)
  if not fd then return nil, err, num end
  local n, e2, n2 = M.pwrite(fd, data, 0)
  C.close(fd)
  if not n then return nil, e2, n2 end
  return n
end

M.mmap = C.mmap
M.munmap = C.munmap
M.msync = C.msync

return M
