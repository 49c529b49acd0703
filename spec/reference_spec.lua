-- The README's handler reference and the host agree: every operation the
-- reference documents is one the host implements, and the other way round.
local mount = require("support.mount")

local function read(path)
  local f = assert(io.open(mount.repo .. "/" .. path))
  local s = f:read("*a")
  f:close()
  return s
end

describe("the handler reference", function()
  it("documents exactly the handlers the host implements", function()
    local implemented, documented = {}, {}
    -- host/oplist.h: X(name, 1) marks a script handler
    for name, is_handler in read("host/oplist.h"):gmatch("X%(([%w_]+), ([01])%)") do
      if is_handler == "1" then implemented[name] = true end
    end
    local readme = read("README.md")
    local reference = readme:match("## Handler reference(.-)\n## ")
    assert.is_truthy(reference, "README.md has no '## Handler reference' section")
    for name in reference:gmatch("\n#### `([%w_]+)%(") do documented[name] = true end
    local missing, extra = {}, {}
    for name in pairs(implemented) do if not documented[name] then missing[#missing + 1] = name end end
    for name in pairs(documented) do if not implemented[name] then extra[#extra + 1] = name end end
    table.sort(missing)
    table.sort(extra)
    assert.same({}, missing, "implemented but not in the README: " .. table.concat(missing, ", "))
    assert.same({}, extra, "in the README but not implemented: " .. table.concat(extra, ", "))
    assert.is_true(next(implemented) ~= nil)
  end)

  it("names the two set-up commands", function()
    local readme = read("README.md")
    assert.matches("make demo", readme, 1, true)
    assert.matches("make test", readme, 1, true)
  end)
end)
