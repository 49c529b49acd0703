-- sqlitefs: files and directories kept in an SQLite database, so they survive
-- unmounting: one table, a row per path, each handler a query or two; file data goes
-- through read/write handlers. Needs lua-sql-sqlite3. Run: moonfs scripts/sqlitefs.lua MNT -o db=FILE -f
local moonfs, bit = require("moonfs"), require("bit")
local db_file = moonfs.absolute(assert((...).db, "usage: -o db=FILE")) -- one connection, kept across reloads
local db = moonfs.keep("db", function() return assert(require("luasql.sqlite3").sqlite3():connect(db_file)) end)

local function q(s) return "'" .. db:escape(s) .. "'" end -- a quoted SQL string
local function sql(fmt, ...) return assert(db:execute(fmt:format(...))) end
local function row(...) local c = sql(...); local r = c:fetch({}, "a"); c:close(); return r end
local function data(path) return row("SELECT data FROM node WHERE path=%s", q(path)).data end
local function set_data(path, s) -- as a blob literal X'<hex>': a quoted string would stop at a NUL
  local hex = s:gsub(".", function(c) return ("%02X"):format(c:byte()) end)
  sql("UPDATE node SET data=X'%s', mtime=%d WHERE path=%s", hex, os.time(), q(path))
end
local function add(path, dir, mode) sql("INSERT INTO node VALUES(%s, %s, %d, %d, X'', %d)",
  q(path), q(moonfs.dirname(path)), dir, bit.band(mode, 0xFFF), os.time()) end

sql("CREATE TABLE IF NOT EXISTS node(path TEXT PRIMARY KEY, parent TEXT, dir INT, perm INT,"
  .. " data BLOB, mtime INT)")
sql("INSERT OR IGNORE INTO node VALUES('/', '', 1, 493, X'', %d)", os.time())

return {
  getattr = function(path)
    local r = row("SELECT dir, perm, length(data) AS size, mtime FROM node WHERE path=%s", q(path))
    if not r then return nil, "ENOENT" end
    return { type = r.dir == 1 and "dir" or "file", perm = r.perm, size = r.size, mtime = r.mtime }
  end,
  readdir = function(path)
    local names, cur = {}, sql("SELECT path FROM node WHERE parent=%s", q(path))
    for p in function() return cur:fetch() end do names[#names + 1] = moonfs.basename(p) end
    return names
  end,
  mkdir = function(path, mode) add(path, 1, mode) end, -- returns nothing: the host asks getattr
  create = function(path, mode, flags) add(path, 0, mode) end,
  open = function(path, flags) if bit.band(flags, moonfs.O.TRUNC) ~= 0 then set_data(path, "") end end,
  read = function(path, size, offset) return data(path):sub(offset + 1, offset + size) end,
  write = function(path, s, offset)
    local old = data(path)
    set_data(path, old:sub(1, offset) .. ("\0"):rep(offset - #old) .. s .. old:sub(offset + #s + 1))
  end,
  setattr = function(path, changes) -- chmod and truncate; owners and times are not kept
    if changes.mode then sql("UPDATE node SET perm=%d WHERE path=%s", changes.mode, q(path)) end
    if changes.size then set_data(path, (data(path) .. ("\0"):rep(changes.size)):sub(1, changes.size)) end
  end,
  unlink = function(path) sql("DELETE FROM node WHERE path=%s", q(path)) end,
  rmdir = function(path)
    if row("SELECT 1 AS x FROM node WHERE parent=%s", q(path)) then return nil, "ENOTEMPTY" end
    sql("DELETE FROM node WHERE path=%s", q(path))
  end,
  rename = function(from, to, flags) -- moves `from` and all below it; replaces what `to` named
    if flags ~= 0 then return nil, "EINVAL" end -- RENAME_NOREPLACE, RENAME_EXCHANGE: not here
    local f, t = q(from), q(to)
    if row("SELECT 1 AS x FROM node WHERE parent=%s", t) then return nil, "ENOTEMPTY" end
    sql("DELETE FROM node WHERE path=%s", t)
    sql("UPDATE node SET path=%s, parent=%s WHERE path=%s", t, q(moonfs.dirname(to)), f)
    sql("UPDATE node SET path=%s || substr(path, length(%s) + 1), parent=%s || substr(parent, length(%s) + 1)"
      .. " WHERE substr(path, 1, length(%s) + 1) = %s || '/'", t, f, t, f, f, f)
  end,
}
