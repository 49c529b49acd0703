--- Errno names and numbers from the C library, for use outside the host
-- (inside it, the host provides the same table). `errno.ENOENT == 2`,
-- `errno[2] == "ENOENT"`.
local ffi = require("ffi")
pcall(ffi.cdef, "const char *strerrorname_np(int errnum);")

local errno = {}
for e = 1, 133 do
  local name = ffi.C.strerrorname_np(e)
  if name ~= nil then
    name = ffi.string(name)
    errno[name], errno[e] = e, name
  end
end
errno.EWOULDBLOCK, errno.EDEADLOCK, errno.ENOTSUP = errno.EAGAIN, errno.EDEADLK, errno.EOPNOTSUPP
return errno
