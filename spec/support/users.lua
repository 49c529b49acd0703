-- Real unprivileged users for specs that switch to them (support.creds):
--
--   local users = require("support.users")
--   local alice = users.create("alice")   -- {name, uid, gid, groups = {gid}}
--   creds.as(alice, sys.open, path, flags)
--   users.remove_all()                     -- in teardown / after_each
--
-- Each user is a system account named "moonfs-spec-<name>" (with its own
-- group, no home, no login shell). A user of that name left over by a run
-- that was killed is removed first, so creating is idempotent. Set
-- MOONFS_SPEC_USER_TAG=x to get "moonfs-spec-<name>-x" instead (two runs at
-- once on one machine). Needs root; names are at most 32 characters.
local M = {}

local PREFIX = "moonfs-spec-"
local created = {} -- account name -> true, removed by remove_all

local function quiet(cmd)
  local ok = os.execute(cmd .. " >/dev/null 2>&1")
  return ok == true or ok == 0
end

local function output(cmd)
  local p = io.popen(cmd .. " 2>/dev/null")
  local s = p:read("*a")
  p:close()
  return s
end

--- The account name of a spec user.
function M.account(name)
  local tag = os.getenv("MOONFS_SPEC_USER_TAG")
  local account = PREFIX .. name .. ((tag and tag ~= "") and ("-" .. tag) or "")
  assert(#account <= 32, "user name too long: " .. account)
  assert(account:match("^[a-z0-9_-]+$"), "bad user name: " .. account)
  return account
end

-- Removes an account and its group, whatever state a killed run left.
local function remove(account)
  if output("getent passwd " .. account) ~= "" then
    quiet("userdel -f " .. account)
    if output("getent passwd " .. account) ~= "" then quiet("userdel " .. account) end
  end
  if output("getent group " .. account) ~= "" then quiet("groupdel " .. account) end
end

--- Creates user `name` (removing a leftover of the same name first) and
-- returns {name = account, uid, gid, groups = {gid}} for creds.as.
function M.create(name)
  local account = M.account(name)
  remove(account)
  created[account] = true
  local ok = quiet("useradd --system --no-create-home --shell /usr/sbin/nologin --user-group "
    .. account)
  assert(ok, "useradd " .. account .. " failed (are we root?)")
  local line = output("getent passwd " .. account)
  local uid, gid = line:match("^[^:]*:[^:]*:(%d+):(%d+):")
  assert(uid, "no passwd entry for " .. account .. " after useradd")
  uid, gid = tonumber(uid), tonumber(gid)
  return { name = account, uid = uid, gid = gid, groups = { gid } }
end

--- Removes every user (and group) this module created.
function M.remove_all()
  for account in pairs(created) do remove(account) end
  created = {}
end

return M
