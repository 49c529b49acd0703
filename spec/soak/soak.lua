-- Soak: a seeded random sequence of file operations applied in lock step to
-- a moonfs mount and a plain directory, comparing every result (return
-- values, errno names, bytes read, the lstat of the names touched, time
-- changes) and the whole tree every --check steps. Prints the seed and the
-- steps before a mismatch so it can be replayed; exits 1 on a mismatch.
--
--   luajit spec/soak/soak.lua [--ops N] [--seed S] [--target mirror|memfs|both]
--                             [--check N] [--no-times] [--quiet]
--
-- Run it from the repository root, as root (like the specs).
package.path = "lua/?.lua;lua/?/init.lua;spec/?.lua;" .. package.path

local mount = require("support.mount")
local sys = require("support.sys")
local D = require("support.differential")

local M = {}

---------------------------------------------------------------- the sequence

-- 7 names in 3 parent directories: "a" and "b" are sometimes directories,
-- so paths through them fail in every way too.
local NAMES = { "a", "b", "c", "d", "e", "f", "g" }
local PARENTS = { "", "a/", "b/" }
local PATHS = {}
for _, parent in ipairs(PARENTS) do
  for _, n in ipairs(NAMES) do PATHS[#PATHS + 1] = parent .. n end
end
local SLOTS = { "fd1", "fd2", "fd3" }
local OPEN_FLAGS = { "RDWR", "RDWR|CREAT", "WRONLY|CREAT|TRUNC", "WRONLY|APPEND", "RDONLY",
  "RDWR|CREAT|EXCL", "RDWR|CREAT|APPEND" }
local MODES = { 420, 384, 493, 511, 256, 0, 2541, 1023 }
local XATTRS = { "user.one", "user.two", "user.three" }

-- random bytes to cut data from
local POOL
local function pool()
  if not POOL then
    local t = {}
    for i = 1, 131072 do t[i] = string.char(math.random(0, 255)) end
    POOL = table.concat(t)
  end
  return POOL
end

local function pick(list) return list[math.random(#list)] end
local function data()
  local n = math.random() < 0.9 and math.random(1, 4096) or math.random(4097, 70000)
  local at = math.random(1, #pool() - n)
  return pool():sub(at, at + n - 1)
end
local function offset()
  local r = math.random()
  if r < 0.3 then return 0 end
  if r < 0.8 then return math.random(0, 8192) end
  return math.random(0, 131072)
end

-- One random operation: a list of engine steps (reopen is two).
local function next_ops(state)
  local r = math.random(100)
  local p = pick(PATHS)
  local slot = pick(SLOTS)
  if r <= 10 then
    return { { op = "create", p, data = data() } }
  elseif r <= 22 then
    return { { op = "write", data(), at = offset(), fd = slot } }
  elseif r <= 30 then
    return { { op = "read", math.random(1, 8192), at = offset(), fd = slot } }
  elseif r <= 36 then
    state.slots[slot] = p
    return { { op = "open", p, pick(OPEN_FLAGS), mode = pick(MODES), fd = slot } }
  elseif r <= 40 then
    local path = state.slots[slot] or p
    return { { op = "close", fd = slot }, { op = "open", path, pick(OPEN_FLAGS), fd = slot } }
  elseif r <= 45 then
    return { { op = "truncate", p, math.random(0, 3) == 0 and 0 or math.random(0, 140000) } }
  elseif r <= 48 then
    return { { op = "ftruncate", math.random(0, 140000), fd = slot } }
  elseif r <= 55 then
    local flags = ({ nil, nil, nil, "NOREPLACE", "EXCHANGE" })[math.random(5)]
    return { { op = "rename", p, pick(PATHS), flags = flags } }
  elseif r <= 59 then
    return { { op = "link", p, pick(PATHS) } }
  elseif r <= 65 then
    return { { op = "unlink", p } }
  elseif r <= 70 then
    return { { op = "mkdir", p, mode = pick({ 493, 448, 1517 }) } }
  elseif r <= 74 then
    return { { op = "rmdir", p } }
  elseif r <= 77 then
    return { { op = "chmod", p, pick(MODES) } }
  elseif r <= 81 then
    local flags = ({ nil, nil, "CREATE", "REPLACE" })[math.random(4)]
    return { { op = "setxattr", p, pick(XATTRS), data():sub(1, math.random(0, 200)), flags = flags } }
  elseif r <= 83 then
    return { { op = "getxattr", p, pick(XATTRS) } }
  elseif r <= 84 then
    return { { op = "removexattr", p, pick(XATTRS) } }
  elseif r <= 85 then
    return { { op = "listxattr", p } }
  elseif r <= 88 then
    return { { op = "readdir", pick({ ".", "a", "b" }) } }
  elseif r <= 90 then
    return { { op = "fsync", fd = slot, data_only = math.random(2) == 1 } }
  elseif r <= 93 then
    return { { op = "cat", p } }
  elseif r <= 95 then
    return { { op = "stat", p } }
  elseif r <= 97 then
    return { { op = "symlink", pick({ "a", "../c", "nowhere", "b/d" }), p } }
  elseif r <= 98 then
    return { { op = "fstat", fd = slot } }
  else
    return { { op = "utimens", p, atime = "now", mtime = { math.random(0, 2 ^ 31), 0 } } }
  end
end

---------------------------------------------------------------- targets

-- Other users reach the mount as root runs it; without root (no other
-- users, and fusermount3 allows allow_other only with user_allow_other)
-- the same checks run for the one user: the kernel checks permissions
-- either way, as it does for the plain directory.
local SHARED = mount.root and ",allow_other,default_permissions" or ",default_permissions"

local TARGETS = {
  mirror = function()
    local backing = mount.tmpdir("soak-backing")
    local ok, m = pcall(mount.start, { script = "scripts/mirror.lua",
      options = "root=" .. backing .. SHARED })
    if not ok then mount.rmtree(backing); error(m, 0) end
    return m, function() mount.rmtree(backing) end
  end,
  memfs = function()
    local m = mount.start{ script = "scripts/memfs.lua", options = SHARED:sub(2) }
    return m, function() end
  end,
}

--- Runs one soak against `target` ("mirror" or "memfs"). Returns true, or
-- false and a report. Mounts and removes everything it made, even when it
-- fails. opts: ops, seed, check (full-tree compare interval), times, log
-- (function for progress lines).
function M.run(target, opts)
  local ops, seed = opts.ops or 100000, opts.seed or os.time()
  local check = opts.check or 1000
  local log = opts.log or function() end
  local plain = mount.tmpdir("soak-plain")
  local m, cleanup
  local ok, result = pcall(function()
    m, cleanup = TARGETS[target]()
    math.randomseed(seed)
    POOL = nil
    local run = D.new{ roots = { { "plain", plain }, { target, m.dir } }, seed = seed,
      times = opts.times ~= false, lenient_times = true }
    run:begin("soak " .. target)
    local case_dir = run.current.dir
    local state = { slots = {} }
    local recent, n = {}, 0
    local replay = ("luajit spec/soak/soak.lua --target %s --seed %s --ops %d"):format(target,
      tostring(seed), ops)
    local function failure(text)
      run:close()
      local lines = { ("soak %s: mismatch after %d operations (seed %s)"):format(target, n, tostring(seed)),
        "replay: " .. replay, "", "the steps before it:" }
      for i = math.max(1, #recent - 15), #recent do lines[#lines + 1] = "  " .. recent[i] end
      lines[#lines + 1] = ""
      lines[#lines + 1] = text
      return table.concat(lines, "\n")
    end
    local started = os.clock()
    for i = 1, ops do
      n = i
      for _, step in ipairs(next_ops(state)) do
        recent[#recent + 1] = ("#%d %s"):format(i, D.format_step(step))
        if #recent > 40 then table.remove(recent, 1) end
        local diff = run:step(step, i)
        if diff then return failure(diff) end
      end
      if i % check == 0 or i == ops then
        local lines = D.compare_trees(run.roots[1].dir .. "/" .. case_dir,
          run.roots[2].dir .. "/" .. case_dir, { "plain", target })
        if #lines > 0 then
          return failure(("the trees differ after operation %d:\n"):format(i) .. table.concat(lines, "\n"))
        end
        if i % (check * 10) == 0 then
          log(("soak %s: %d/%d operations, trees equal (%.1f s cpu)"):format(target, i, ops,
            os.clock() - started))
        end
      end
    end
    run:close()
    if run.lenient_count then
      log(("soak %s: %d time(s) ext4 left unchanged where %s changed them (tolerated)"):format(target,
        run.lenient_count, target))
    end
    return true
  end)
  -- take everything down, whatever happened
  local stopped, stop_err = true, nil
  if m then stopped, stop_err = pcall(m.stop, m) end
  mount.stop_all()
  if cleanup then pcall(cleanup) end
  mount.rmtree(plain)
  if not ok then
    return false, ("soak %s (seed %s) raised: %s"):format(target, tostring(seed), tostring(result))
  end
  if result ~= true then return false, result end
  if not stopped then return false, ("soak %s: the host did not stop cleanly: %s"):format(target, tostring(stop_err)) end
  return true
end

---------------------------------------------------------------- command line

local function main(argv)
  local opts = { ops = 100000, seed = nil, target = "both", check = 1000, times = true }
  local i = 1
  while i <= #argv do
    local a = argv[i]
    if a == "--ops" then opts.ops = assert(tonumber(argv[i + 1]), "--ops N"); i = i + 1
    elseif a == "--seed" then opts.seed = assert(tonumber(argv[i + 1]), "--seed S"); i = i + 1
    elseif a == "--target" then opts.target = argv[i + 1]; i = i + 1
    elseif a == "--check" then opts.check = assert(tonumber(argv[i + 1]), "--check N"); i = i + 1
    elseif a == "--no-times" then opts.times = false
    elseif a == "--quiet" then opts.quiet = true
    else
      io.stderr:write("usage: luajit spec/soak/soak.lua [--ops N] [--seed S] "
        .. "[--target mirror|memfs|both] [--check N] [--no-times] [--quiet]\n")
      os.exit(2)
    end
    i = i + 1
  end
  opts.seed = opts.seed or (os.time() % 1000000)
  local targets = opts.target == "both" and { "mirror", "memfs" } or { opts.target }
  for _, t in ipairs(targets) do
    if not TARGETS[t] then io.stderr:write("unknown target " .. t .. "\n"); os.exit(2) end
  end
  opts.log = not opts.quiet and function(line) print(line); io.stdout:flush() end or nil
  local failed = false
  for _, t in ipairs(targets) do
    print(("soak %s: %d operations, seed %d"):format(t, opts.ops, opts.seed))
    io.stdout:flush()
    local t0 = os.time()
    local ok, report = M.run(t, opts)
    if ok then
      print(("soak %s: ok (%d operations, seed %d, %d s)"):format(t, opts.ops, opts.seed, os.time() - t0))
    else
      failed = true
      print(report)
    end
    io.stdout:flush()
  end
  os.exit(failed and 1 or 0)
end

if arg and arg[0] and arg[0]:match("soak%.lua$") then
  main(arg)
end

return M
