-- Loaded by busted before the specs (.busted: helper): when the run ends,
-- however it ends, hosts still running are stopped and temporary
-- directories removed, so a failing spec poisons no later run.
local busted = require("busted")
-- Loaded here, before busted insulates each spec file (it unloads what a
-- file required when the file ends), so every file shares these modules
-- and what they remember.
local mount = require("support.mount")
local daemon = require("support.daemon")

busted.subscribe({ "suite", "end" }, function()
  daemon.stop_all()
  mount.sweep()
  return nil, true
end)
