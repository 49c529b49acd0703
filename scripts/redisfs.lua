-- redisfs: files, directories and symlinks in a Redis server, shared by mounts on many machines.
-- Run: moonfs scripts/redisfs.lua MNT -o server=127.0.0.1:6379[,prefix=NAME]   (NAME: moonfs)
-- Keys: NAME:P:<path> a hash (type, mode, uid, gid, mtime, symlink target), NAME:D:<path> a file's
-- bytes, NAME:E:<dir> a directory's names. CONFIG SET notify-keyspace-events KA (server-wide) lets
-- it tell the kernel what other mounts change. Server gone: EIO at once (a connect gives up after
-- 1 s), then it connects again; requests to a server that hangs wait until they are interrupted.
local moonfs, uv, bit, opts = require("moonfs"), require("luv"), require("bit"), ...
local host, port = (opts.server or ""):match("^([%x.:]+):(%d+)$")
if not host then error("redisfs needs -o server=IP:PORT (an IP address)", 0) end
local prefix, me = (opts.prefix or "moonfs") .. ":", uv.os_gethostname() .. ":" .. uv.os_getpid()
local P, D, E, channel = prefix .. "P:", prefix .. "D:", prefix .. "E:", "__keyspace@0__:" .. prefix
-- Every change is a Lua script the server runs whole (EVAL), so no mount sees half of one. ARGV:
-- prefix, time, mount, operation, path, its arguments. A failed check raises an errno before any change.
local SERVER = [[
local pre, now, me, op, R = ARGV[1], ARGV[2], ARGV[3], ARGV[4], redis.call
local P, D, E, N = pre .. 'P:', pre .. 'D:', pre .. 'E:', '__keyspace@0__:' .. pre .. 'N:' -- N: news
local function kind(p) return p == '/' and 'dir' or R('HGET', P .. p, 'type') end
local function need(ok, errno) if not ok then error({ err = errno }) end end
local function split(p) local d, n = p:match('^(.*)/([^/]+)$') return d == '' and '/' or d, n end
local function touch(p) R('HSET', P .. p, 'mtime', now) end
local function name(p, add) -- p came or went: its directory changes, and other mounts hear of it
  local d, n = split(p) R(add and 'SADD' or 'SREM', E .. d, n) touch(d) R('PUBLISH', N .. p, me)
end
local function move(a, b) -- a tree: what is below a, then a's own keys (those it has)
  for _, n in ipairs(R('SMEMBERS', E .. a)) do move(a .. '/' .. n, b .. '/' .. n) end
  for _, k in ipairs({ P, D, E }) do if R('EXISTS', k .. a) == 1 then R('RENAME', k .. a, k .. b) end end
end
local ops = {} -- (the kernel has checked types and names: EISDIR, ENOTDIR, a move into itself)
function ops.make(p, ...) -- the new object's fields follow
  need(kind((split(p))) == 'dir', 'ENOENT') need(not kind(p), 'EEXIST')
  R('HSET', P .. p, 'mtime', now, ...) name(p, true)
end
function ops.remove(p)
  need(kind(p), 'ENOENT') need(R('EXISTS', E .. p) == 0, 'ENOTEMPTY')
  R('DEL', P .. p, D .. p) name(p, false)
end
function ops.rename(from, to, flags) -- replaces `to`, moves a directory's tree
  need(flags == '0', 'EINVAL') need(kind(from) and kind((split(to))) == 'dir', 'ENOENT')
  if kind(to) and to ~= from then ops.remove(to) end
  move(from, to) name(from, false) name(to, true)
end
function ops.write(p, offset, data, size) -- data at offset; or, given a size, truncates
  need(kind(p) == 'file', 'ENOENT') need((tonumber(size) or offset + #data) <= 2 ^ 29, 'EFBIG') touch(p)
  if size then R('SET', D .. p, ((R('GET', D .. p) or '') .. ('\0'):rep(size)):sub(1, size))
  else R('SETRANGE', D .. p, offset, data) end -- (Redis's strings end at 512 MiB)
end
function ops.set(p, ...) need(kind(p), 'ENOENT') R('HSET', P .. p, ...) end -- chmod, chown, utimens
return ops[op](unpack(ARGV, 5)) or 'OK'
]]

---------------------------------------------------------------- RESP over luv
local function parse(s, i) -- the reply at s[i]: its value and where the next starts; nothing yet
  local kind, line, at = s:match("^(.)(.-)\r\n()", i)
  local n, list = tonumber(line), {}
  if not kind then return elseif kind == "+" or kind == ":" then return n or line, at
  elseif kind == "-" then return { err = line }, at elseif n < 0 then return false, at -- nil
  elseif kind == "$" then return s:sub(at, at + n - 1), #s >= at + n + 1 and at + n + 2 or nil end
  for k = 1, n do list[k], at = parse(s, at) if not at then return end end
  return list, at
end
local function drop(c, tcp, why) -- the connection c ended: every waiting callback gets (nil, why)
  if c.tcp ~= tcp then return end -- that one ended already
  if c.up then moonfs.log("redisfs: lost " .. opts.server .. ": " .. why) end
  local waiting = c.waiting
  c.tcp, c.up, c.waiting = nil, false, {}
  if not tcp:is_closing() then tcp:close() end
  for _, callback in ipairs(waiting) do callback(nil, why) end
end
local function connect(c) -- libuv holds what is written meanwhile until it is connected
  local tcp, timer = uv.new_tcp(), uv.new_timer()
  c.tcp, c.buf = tcp, ""
  timer:start(1000, 0, function() timer:close() if not c.up then drop(c, tcp, "ETIMEDOUT") end end)
  tcp:connect(host, tonumber(port), function(err) if err then drop(c, tcp, err) else c.up = true end end)
  tcp:read_start(function(err, chunk) -- a reply to the oldest waiting callback; news to c.on_message
    if not chunk then return drop(c, tcp, err or "EOF") end
    c.buf = c.buf .. chunk
    local ok, reply, next_at = pcall(parse, c.buf, 1)
    while next_at and c.tcp == tcp do
      c.buf = c.buf:sub(next_at);
      (table.remove(c.waiting, 1) or c.on_message)(reply)
      ok, reply, next_at = pcall(parse, c.buf, 1)
    end
    if not ok then drop(c, tcp, "EPROTO: not a Redis server") end
  end)
end
local function send(c, args, callback) -- luv's style (for moonfs.await); callbacks wait in order
  local out = { "*" .. #args .. "\r\n" }
  for _, a in ipairs(args) do a = tostring(a) out[#out + 1] = "$" .. #a .. "\r\n" .. a .. "\r\n" end
  if not c.tcp then connect(c) end
  c.waiting[#c.waiting + 1] = callback
  c.tcp:write(out)
end
local function new() return { waiting = {} } end -- two connections, kept across reloads:
local conn, news = moonfs.keep("redisfs", new), moonfs.keep("redisfs news", new) -- commands, changes
news.on_message = function(m) -- {"pmessage", pattern, channel .. "P:/a/b", event}, from any mount
  local kind, path = tostring(m[3]):sub(#channel + 1):match("^([PDEN]):(/.*)$")
  if kind == "N" and m[4] ~= me then moonfs.invalidate_entry(moonfs.split(path)) -- a name came or went
  elseif path then moonfs.invalidate(path) end -- what the kernel cached of it: attributes, data
end
local function logged(r) if type(r) == "table" and r.err then moonfs.log("redisfs: " .. r.err) end end
local function call(...) -- a command, from a handler: its reply. A failure raises {errno} (see the end)
  if not news.tcp then send(news, { "PSUBSCRIBE", channel:gsub("[%*%?%[%]\\]", "\\%0") .. "*" }, logged) end
  if not conn.tcp then send(conn, { "CONFIG", "SET", "notify-keyspace-events", "KA" }, logged) end
  local reply, lost = moonfs.await(send, conn, { ... })
  if lost then error({ "EIO" }) elseif type(reply) ~= "table" or not reply.err then return reply end
  local errno = reply.err:match("^E%u+") -- a failed check of SERVER's; anything else is EIO
  error({ moonfs.errno[errno] and errno or logged(reply) or "EIO" })
end
local function stamp(t) return ("%d.%09d"):format(t.sec, t.nsec) end
local function change(op, path, ...) call("EVAL", SERVER, 0, prefix, stamp(moonfs.now()), me, op, path, ...) end
local function make(path, kind, mode, ...) -- owned by the caller
  local who = moonfs.caller()
  change("make", path, "type", kind, "mode", bit.band(mode, 0xFFF), "uid", who.uid, "gid", who.gid, ...)
end

---------------------------------------------------------------- the filesystem
local fs, api, DIRECT = {}, {}, { direct_io = true } -- no page cache: mounts never serve stale data
function fs.getattr(path)
  local h = call("HMGET", P .. path, "type", "mode", "uid", "gid", "mtime", "target")
  if not h[1] and path ~= "/" then return nil, "ENOENT" end
  local t = h[5] and { tonumber(h[5]:match("^%d+")), tonumber(h[5]:match("%d+$")) } or nil -- sec, nsec
  return { type = h[1] or "dir", perm = tonumber(h[2]), uid = tonumber(h[3]), gid = tonumber(h[4]), atime = t,
    mtime = t, ctime = t, size = h[6] and #h[6] or h[1] == "file" and call("STRLEN", D .. path) or 0 }
end
function fs.readdir(path) return call("SMEMBERS", E .. path) end
function fs.readlink(path) return call("HGET", P .. path, "target") or error({ "EINVAL" }) end
function fs.mkdir(path, mode) make(path, "dir", mode) end -- returns no stat: the host asks getattr
function fs.symlink(target, path) make(path, "symlink", 0x1FF, "target", target) end
function fs.unlink(path) change("remove", path) end
function fs.rmdir(path) change("remove", path) end
function fs.rename(from, to, flags) change("rename", from, to, flags) end -- flags: EINVAL
function fs.open(path, flags)
  if bit.band(flags, moonfs.O.TRUNC) ~= 0 then change("write", path, 0, "", 0) end
  return true, DIRECT
end
function fs.create(path, mode) make(path, "file", mode) return true, nil, DIRECT end -- (no stat either)
function fs.read(path, size, offset) return call("GETRANGE", D .. path, offset, offset + size - 1) end
function fs.write(path, data, offset) change("write", path, offset, data) end -- returns nothing: all of it
function fs.setattr(path, c) -- truncate, chmod, chown, utimens (atime is not kept)
  if c.size then change("write", path, 0, "", c.size) end
  local set = {}
  c.mtime = c.mtime and stamp(c.mtime == "now" and moonfs.now() or c.mtime)
  for f in ("mode uid gid mtime"):gmatch("%a+") do if c[f] then set[#set + 1], set[#set + 2] = f, c[f] end end
  if #set > 0 then change("set", path, unpack(set)) end
end
local function unwrap(ok, ...) -- {errno} raised by call fails the handler; other errors are bugs
  if ok then return ... elseif type(...) == "table" then return nil, (...)[1] else error(..., 0) end
end
for op, handler in pairs(fs) do api[op] = function(...) return unwrap(pcall(handler, ...)) end end
return api
