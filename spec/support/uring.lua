-- FUSE over io_uring in specs: the kernel's module parameter, turned on
-- for a mount and put back as it was.
local M = {}
local PARAM = "/sys/module/fuse/parameters/enable_uring"
local saved

local function read_param()
  local f = io.open(PARAM)
  if not f then return nil end
  local v = f:read("*l")
  f:close()
  return v
end

--- Why io_uring cannot be used here, or nil.
function M.unavailable()
  if not read_param() then return "this kernel has no FUSE over io_uring (Linux 6.14+)" end
  local unistd = require("posix.unistd")
  if unistd.geteuid() ~= 0 then return "turning on FUSE over io_uring needs root" end
  return nil
end

local function write_param(v)
  local f = assert(io.open(PARAM, "w"))
  f:write(v, "\n")
  f:close()
end

--- Turns it on (for mounts made from now on).
function M.enable()
  if saved == nil then saved = read_param() end
  write_param("1")
end

--- Puts the parameter back as it was before enable.
function M.restore()
  if saved ~= nil then
    write_param(saved == "Y" and "1" or "0")
    saved = nil
  end
end

return M
