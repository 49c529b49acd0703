-- hide.lua: a mirror of a directory in which some names do not exist: they
-- are left out of listings, lookups give ENOENT, and so does everything below
-- a hidden directory; file data still goes passthrough. Shows one wrapper
-- guarding every handler of a table.
-- Run: moonfs scripts/hide.lua MNT -o root=DIR,hide=PATTERN:PATTERN... -f
--   A pattern with one of  % ^ $  is a Lua pattern ("%.bak$", "^%."), any other a
--   glob for the whole name ("*.tmp", "core"). Default "%.bak$". No commas (-o).
local moonfs = require("moonfs")
local opts = ...
local fs = moonfs.mirror(opts.root or error("hide.lua needs -o root=DIR", 0))

local patterns = {}
for p in (opts.hide or "%.bak$"):gmatch("[^:]+") do
  if not p:find("[%%^$]") then -- a glob: escape the magic characters, then * and ? wildcards
    p = "^" .. p:gsub("[%(%)%.%[%]%+%-]", "%%%0"):gsub("%*", ".*"):gsub("%?", ".") .. "$"
  end
  patterns[#patterns + 1] = p
end

local function hidden(path) -- any component of the path matches
  for name in moonfs.components(path) do
    for _, p in ipairs(patterns) do if name:find(p) then return true end end
  end
end

-- Which arguments are paths: "old" names must exist (hidden: ENOENT), "new" ones
-- are being made. Making a hidden name gives EACCES, "Permission denied": this
-- name may not be made here. EPERM would say the operation itself is not allowed
-- (as unlinking a directory is); ENOENT would claim the parent is missing.
local roles = { create = { "new" }, mknod = { "new" }, mkdir = { "new" }, symlink = { [2] = "new" },
                link = { "old", "new" }, rename = { "old", "new" } }
for op, handler in pairs(fs) do
  if type(handler) == "function" then
    local kinds = roles[op] or { "old" } -- getattr(path, ...), open(path, ...), ...
    fs[op] = function(...)
      for k, kind in pairs(kinds) do
        local path = select(k, ...)
        if type(path) == "string" and hidden(path) then
          return nil, kind == "new" and "EACCES" or "ENOENT"
        end
      end
      return handler(...)
    end
  end
end

local readdir = fs.readdir
function fs.readdir(path, fh, plus) -- filter names, types, inos in step; stats go by name
  local names, types, inos, stats = readdir(path, fh, plus)
  if not names then return names, types, inos end
  local n, t, i = {}, {}, {}
  for k, name in ipairs(names) do
    if not hidden(name) then
      local j = #n + 1
      n[j], t[j], i[j] = name, types and types[k], inos and inos[k]
    end
  end
  return n, t, i, stats
end
return fs
