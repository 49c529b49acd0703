-- logged.lua: a mirror of a directory that logs every change to names and
-- metadata (create, mkdir, rename, chmod, ...) while file data still goes
-- passthrough: reads and writes never reach Lua, so they are not logged.
-- Shows how to customise moonfs.mirror: take the table it returns, wrap the
-- handlers you care about, return the table.
-- Run: moonfs scripts/logged.lua MNT -o root=DIR -f   (the lines go to the log,
-- stderr in the foreground; -o log=FILE sends them to a file)
local moonfs = require("moonfs")
local root = (...).root or error("logged.lua needs -o root=DIR (the directory to mirror)", 0)
local fs = moonfs.mirror(root)

local function octal(mode) return ("%04o"):format(mode % 4096) end
local function when(t) return t == "now" and "now" or ("%d"):format(type(t) == "table" and t.sec or t) end

-- For each handler: how to describe its arguments in the log line.
local describe = {
  create = function(path, mode) return path, "mode=" .. octal(mode) end,
  mknod = function(path, mode) return path, "mode=" .. octal(mode) end,
  mkdir = function(path, mode) return path, "mode=" .. octal(mode) end,
  unlink = function(path) return path end,
  rmdir = function(path) return path end,
  symlink = function(target, path) return path, "->", target end,
  link = function(from, to) return to, "=", from end,
  rename = function(from, to, flags) return from, "->", to, flags ~= 0 and "flags=" .. flags or nil end,
  setattr = function(path, changes)
    local parts = {}
    if changes.mode then parts[#parts + 1] = "mode=" .. octal(changes.mode) end
    if changes.uid then parts[#parts + 1] = "uid=" .. changes.uid end
    if changes.gid then parts[#parts + 1] = "gid=" .. changes.gid end
    if changes.size then parts[#parts + 1] = "size=" .. changes.size end
    if changes.atime then parts[#parts + 1] = "atime=" .. when(changes.atime) end
    if changes.mtime then parts[#parts + 1] = "mtime=" .. when(changes.mtime) end
    return path, table.concat(parts, " ")
  end,
  setxattr = function(path, name, value) return path, name, "(" .. #value .. " bytes)" end,
  removexattr = function(path, name) return path, name end,
}

-- A failure is `nil, "ENAME: message"`; anything else is success.
local function logged(line, ...)
  local first, err = ...
  if first == nil and err ~= nil then line = line .. "  -> " .. tostring(err):match("^%w*") end
  moonfs.log(line)
  return ... -- the handler's results, untouched
end

for op, args in pairs(describe) do
  local handler = fs[op]
  fs[op] = function(...)
    local words = { args(...) }
    if #words == 0 then return handler(...) end -- nothing to log
    return logged("change: " .. op .. " " .. table.concat(words, " "), handler(...))
  end
end
return fs
