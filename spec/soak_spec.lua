-- A short run of the soak (spec/soak/soak.lua) with a fixed seed, as part
-- of the normal suite: 2,000 random operations against the mirror and
-- against memfs, each compared step by step with a plain directory.
-- `make soak` runs the long one (100,000 operations per target).
local soak = require("soak.soak")

describe("soak (short)", function()
  for _, target in ipairs({ "mirror", "memfs" }) do
    it("keeps " .. target .. " identical to a plain directory for 2,000 random operations", function()
      local ok, report = soak.run(target, { ops = 2000, seed = 20240501, check = 500 })
      assert(ok, report)
    end)
  end
end)
