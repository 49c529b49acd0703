-- Runs code as another user: uid, gid and supplementary groups, the way a
-- login would set them (also the fs uid/gid the kernel checks permissions
-- with). The saved uid stays 0, so root can always be restored; every
-- switch is undone before `as` returns, even when the code raises.
--
--   local creds = require("support.creds")
--   local alice = { uid = 1001, gid = 1001, groups = { 1001, 1003 } }
--   local fd, err = creds.as(alice, sys.open, "/mnt/x", sys.O.RDONLY)
--
-- Needs root. The process must be single-threaded (busted and luajit are).
local ffi = require("ffi")

for _, decl in ipairs({
  "int setresuid(unsigned int ruid, unsigned int euid, unsigned int suid);",
  "int setresgid(unsigned int rgid, unsigned int egid, unsigned int sgid);",
  "int setgroups(size_t size, const unsigned int *list);",
  "int getgroups(int size, unsigned int *list);",
  "unsigned int geteuid(void);",
  "unsigned int getegid(void);",
}) do pcall(ffi.cdef, decl) end

local C = ffi.C
local M = {}

local function getgroups()
  local n = C.getgroups(0, nil)
  local list = ffi.new("unsigned int[?]", math.max(n, 1))
  n = C.getgroups(n, list)
  local out = {}
  for i = 0, n - 1 do out[#out + 1] = list[i] end
  return out
end

local function setgroups(groups)
  local list = ffi.new("unsigned int[?]", math.max(#groups, 1))
  for i, g in ipairs(groups) do list[i - 1] = g end
  if C.setgroups(#groups, list) ~= 0 then
    error("setgroups failed: errno " .. ffi.errno(), 3)
  end
end

M.root = { uid = 0, gid = 0, groups = getgroups() }

--- Whether credentials can be switched at all (we are root).
function M.available()
  return C.geteuid() == 0
end

--- Switches to `who` = {uid, gid, groups}; the saved ids stay 0.
function M.become(who)
  assert(C.geteuid() == 0, "creds.become needs root (and nested switches are not supported)")
  setgroups(who.groups or { who.gid })
  if C.setresgid(who.gid, who.gid, 0) ~= 0 then error("setresgid failed: errno " .. ffi.errno(), 2) end
  if C.setresuid(who.uid, who.uid, 0) ~= 0 then
    local e = ffi.errno()
    C.setresgid(0, 0, 0)
    setgroups(M.root.groups)
    error("setresuid failed: errno " .. e, 2)
  end
end

--- Back to root (uid, gid and groups as when this module was loaded).
function M.restore()
  assert(C.setresuid(0, 0, 0) == 0, "cannot get root back")
  assert(C.setresgid(0, 0, 0) == 0, "cannot get gid 0 back")
  setgroups(M.root.groups)
end

local function pack(...) return { n = select("#", ...), ... } end

--- Calls fn(...) as `who` (nil or uid 0 with no groups = stay root) and
-- returns what it returned; credentials are restored even when it raises
-- (the error is raised again afterwards).
function M.as(who, fn, ...)
  if who == nil or (who.uid == 0 and who.gid == 0 and not who.groups) then return fn(...) end
  M.become(who)
  local results = pack(pcall(fn, ...))
  M.restore()
  if not results[1] then error(results[2], 0) end
  return unpack(results, 2, results.n)
end

return M
