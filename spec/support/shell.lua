-- Shell commands and whole text files, for the specs and their helpers.
local M = {}

--- s in single quotes, for a shell command line.
function M.quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

--- Runs a shell command with a deadline (seconds, default 60); returns its
-- exit code (124 past the deadline) and its output, stdout and stderr.
function M.sh(cmd, seconds)
  local p = io.popen("timeout " .. (seconds or 60) .. " sh -c " .. M.quote(cmd)
    .. " 2>&1; echo \"exit=$?\"")
  local out = p:read("*a")
  p:close()
  return tonumber(out:match("exit=(%d+)%s*$")), (out:gsub("exit=%d+%s*$", ""))
end

--- Runs a shell command quietly; whether it succeeded.
function M.ok(cmd)
  local r = os.execute(cmd .. " >/dev/null 2>&1")
  return r == true or r == 0
end

--- A whole file, or nil when it cannot be read.
function M.read_text(path)
  local f = io.open(path)
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

--- Writes a whole file (raising when it cannot).
function M.write_text(path, text)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
end

return M
