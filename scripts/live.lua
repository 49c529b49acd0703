-- live.lua: files made at the moment they are read, as in /proc: /clock (the
-- time now, to the millisecond), /uptime, /procs/<pid>/cmdline and .../comm.
-- Live data needs `timeout = 0`, so the kernel caches no names or attributes
-- (a process that exits is gone at once), and open returning {direct_io = true}:
-- reads skip the page cache and ignore the size, so getattr can say 0 (as /proc
-- does). open makes a snapshot, the handle: all reads of one open see the same bytes.
-- Run: moonfs scripts/live.lua MNT -f        then: cat MNT/clock; ls MNT/procs
local moonfs = require("moonfs")
local sys = moonfs.sys

local function slurp(path) -- a whole file, or nil
  local f = io.open(path, "rb")
  if f then local s = f:read("*a"); f:close(); return s end
end

local top = { -- name -> function making the content
  clock = function()
    local t = moonfs.now()
    return os.date("%F %T", t.sec) .. (".%03d\n"):format(t.nsec / 1e6)
  end,
  uptime = function() return slurp("/proc/uptime"):match("^%S+") .. "\n" end,
}
local per_process = { -- name -> function(pid) making the content, nil once the process is gone
  cmdline = function(pid)
    local s = slurp("/proc/" .. pid .. "/cmdline") -- arguments end with NULs
    return s and s:gsub("%z$", ""):gsub("%z", " ") .. "\n"
  end,
  comm = function(pid) return slurp("/proc/" .. pid .. "/comm") end,
}

return {
  timeout = 0,
  getattr = function(path)
    if path == "/" or path == "/procs" then return { type = "dir" } end
    if top[path:sub(2)] then return { perm = "444", size = 0 } end
    local pid, name = path:match("^/procs/(%d+)/?(.*)$")
    local st = pid and sys.stat(sys.AT_FDCWD, "/proc/" .. pid) -- owner and start time
    if not st or not (name == "" or per_process[name]) then return nil, "ENOENT" end
    local dir = name == ""
    return { type = dir and "dir" or "file", perm = dir and "555" or "444", uid = st.uid, gid = st.gid,
             mtime = st.mtime, size = 0 }
  end,
  readdir = function(path)
    if path == "/" then return { "clock", "uptime", "procs" } end
    if path ~= "/procs" then return { "cmdline", "comm" } end
    local pids = {}
    for _, name in ipairs(sys.readdir(sys.AT_FDCWD, "/proc")) do
      if name:match("^%d+$") then pids[#pids + 1] = name end
    end
    return pids
  end,
  open = function(path, flags)
    if flags % 4 ~= 0 then return nil, "EACCES" end -- O_WRONLY or O_RDWR: read-only files
    local pid, name = path:match("^/procs/(%d+)/(%a+)$")
    local text = (pid and per_process[name] or top[path:sub(2)])(pid)
    if not text then return nil, "ENOENT" end
    return text, { direct_io = true }
  end,
  read = function(path, size, offset, text) return text:sub(offset + 1, offset + size) end,
}
