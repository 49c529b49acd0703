-- A strict JSON decoder for specs (what `moonfs stats --json` prints must
-- parse as JSON, not just look like it): objects, arrays, strings with
-- escapes, numbers, true, false, null (as json.null). Raises on anything
-- else, trailing garbage included.
--
--   local json = require("support.json")
--   local t = json.decode('{"a": [1, 2.5, "x"]}')
local M = {}

M.null = setmetatable({}, { __tostring = function() return "null" end })

local escapes = { ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f",
  n = "\n", r = "\r", t = "\t" }

local function utf8(code)
  if code < 0x80 then return string.char(code) end
  if code < 0x800 then
    return string.char(0xC0 + math.floor(code / 64), 0x80 + code % 64)
  end
  return string.char(0xE0 + math.floor(code / 4096), 0x80 + math.floor(code / 64) % 64,
    0x80 + code % 64)
end

function M.decode(text)
  local pos = 1

  local function fail(what)
    error(("JSON: %s at byte %d near %q"):format(what, pos, text:sub(pos, pos + 20)), 0)
  end

  local function space()
    pos = text:find("[^ \t\r\n]", pos) or #text + 1
  end

  local value

  local function str()
    pos = pos + 1 -- the opening quote
    local parts = {}
    while true do
      local c = text:sub(pos, pos)
      if c == "" then fail("unterminated string") end
      if c == '"' then
        pos = pos + 1
        return table.concat(parts)
      elseif c == "\\" then
        local e = text:sub(pos + 1, pos + 1)
        if escapes[e] then
          parts[#parts + 1] = escapes[e]
          pos = pos + 2
        elseif e == "u" and text:sub(pos + 2, pos + 5):match("^%x%x%x%x$") then
          parts[#parts + 1] = utf8(tonumber(text:sub(pos + 2, pos + 5), 16))
          pos = pos + 6
        else
          fail("bad escape")
        end
      elseif c:byte() < 32 then
        fail("control character in string")
      else
        parts[#parts + 1] = c
        pos = pos + 1
      end
    end
  end

  -- -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][-+]?[0-9]+)?
  local function number()
    local at = pos
    local int = text:match("^-?%d+", pos)
    if not int or int:match("^-?0%d") then fail("bad number") end
    pos = pos + #int
    local frac = text:match("^%.%d+", pos)
    if frac then pos = pos + #frac elseif text:sub(pos, pos) == "." then fail("bad number") end
    local exp = text:match("^[eE][-+]?%d+", pos)
    if exp then pos = pos + #exp elseif text:match("^[eE]", pos) then fail("bad number") end
    return tonumber(text:sub(at, pos - 1))
  end

  local function list(close, item)
    pos = pos + 1
    local out = {}
    space()
    if text:sub(pos, pos) == close then
      pos = pos + 1
      return out
    end
    while true do
      item(out)
      space()
      local c = text:sub(pos, pos)
      pos = pos + 1
      if c == close then return out end
      if c ~= "," then pos = pos - 1; fail("expected ',' or '" .. close .. "'") end
    end
  end

  function value()
    space()
    local c = text:sub(pos, pos)
    if c == "{" then
      return list("}", function(out)
        space()
        if text:sub(pos, pos) ~= '"' then fail("expected a key") end
        local key = str()
        space()
        if text:sub(pos, pos) ~= ":" then fail("expected ':'") end
        pos = pos + 1
        out[key] = value()
      end)
    elseif c == "[" then
      return list("]", function(out) out[#out + 1] = value() end)
    elseif c == '"' then
      return str()
    elseif c:match("[-%d]") then
      return number()
    end
    for word, v in pairs({ ["true"] = true, ["false"] = false, null = M.null }) do
      if text:sub(pos, pos + #word - 1) == word then
        pos = pos + #word
        return v
      end
    end
    fail("unexpected character")
  end

  local result = value()
  space()
  if pos <= #text then fail("trailing characters") end
  return result
end

return M
