--- moonfs.blocks: file contents kept compactly in C memory, for
-- filesystems that hold data in Lua (memfs).
--
-- A file's bytes live in blocks of 64 KiB of LuaJIT ffi memory, changed in
-- place: a write costs a copy of the bytes written, not of the block, and
-- no garbage. A block that was never written is a hole and reads as zeros,
-- so a file grown to 16 TiB holds nothing until it is written. A small
-- file's only block is as small as its bytes (grown by a quarter when it
-- must grow), so a tree of small files costs little more than its data.
--
--     local blocks = require("moonfs.blocks")
--     local data = blocks.new()
--     data:write("hello", 0)
--     data:read(5, 0, 5)       --> "hello" (the file's size is the caller's)
-- @module moonfs.blocks

local ffi = require("ffi")

local BLOCK = 64 * 1024
local ZEROS = ("\0"):rep(BLOCK)
local buffer = ffi.typeof("uint8_t[?]")

local Blocks = {}
Blocks.__index = Blocks

--- A new, empty set of blocks.
local function new()
  return setmetatable({ held = {}, capacity = {}, bytes = 0 }, Blocks)
end

-- Block i with room for at least `need` bytes, made or grown as needed.
function Blocks:room(i, need)
  local cap = self.capacity[i] or 0
  if cap >= need then return self.held[i] end
  local grown = math.min(BLOCK, math.max(need, math.ceil(cap * 1.25 / 16) * 16))
  local block = buffer(grown) -- zero-filled
  if cap > 0 then ffi.copy(block, self.held[i], cap) end
  self.held[i], self.capacity[i] = block, grown
  self.bytes = self.bytes + grown - cap
  return block
end

--- `size` bytes from `offset` of a file of `file_size` bytes.
function Blocks:read(file_size, offset, size)
  local stop = math.min(offset + size, file_size)
  if stop <= offset then return "" end
  local parts, pos = {}, offset
  while pos < stop do
    local i = math.floor(pos / BLOCK)
    local at = pos - i * BLOCK
    local n = math.min(BLOCK - at, stop - pos)
    local block, cap = self.held[i], self.capacity[i] or 0
    if not block or at >= cap then
      parts[#parts + 1] = ZEROS:sub(1, n)
    elseif at + n <= cap then
      parts[#parts + 1] = ffi.string(block + at, n)
    else -- the block ends before the range: zeros after it
      parts[#parts + 1] = ffi.string(block + at, cap - at) .. ZEROS:sub(1, at + n - cap)
    end
    pos = pos + n
  end
  return #parts == 1 and parts[1] or table.concat(parts)
end

--- Writes the string `data` at `offset`.
function Blocks:write(data, offset)
  local done, len = 0, #data
  while done < len do
    local pos = offset + done
    local i = math.floor(pos / BLOCK)
    local at = pos - i * BLOCK
    local n = math.min(BLOCK - at, len - done)
    ffi.copy(self:room(i, at + n) + at, ffi.cast("const char *", data) + done, n)
    done = done + n
  end
end

-- Drops block i.
function Blocks:drop(i)
  if self.held[i] then
    self.bytes = self.bytes - self.capacity[i]
    self.held[i], self.capacity[i] = nil, nil
  end
end

--- Zeros `length` bytes from `offset` (holes where whole blocks go).
function Blocks:zero(offset, length)
  local stop = offset + length
  for i in pairs(self.held) do -- only the blocks that exist
    local first = i * BLOCK
    local from, to = math.max(first, offset), math.min(first + BLOCK, stop)
    if from <= first and to >= first + BLOCK then
      self:drop(i)
    elseif from < to then
      local cap = self.capacity[i]
      if from - first < cap then
        ffi.fill(self.held[i] + (from - first), math.min(to - first, cap) - (from - first))
      end
    end
  end
end

--- Cuts the contents to `size` bytes: what lies beyond is dropped, so that
-- a file grown again reads zeros there.
function Blocks:truncate(size)
  local last = math.floor(size / BLOCK)
  for i in pairs(self.held) do
    if i > last or (i == last and size == last * BLOCK) then self:drop(i) end
  end
  local keep = size - last * BLOCK
  local cap = self.capacity[last]
  if cap and keep < cap then ffi.fill(self.held[last] + keep, cap - keep) end
end

--- SEEK_DATA (`hole` false) or SEEK_HOLE (`hole` true) from `offset` in a
-- file of `file_size` bytes, at block granularity: the offset found, or nil
-- past the end (ENXIO). Blocks that were never written are holes.
function Blocks:seek(file_size, offset, hole)
  if offset >= file_size then return nil end
  local i = math.floor(offset / BLOCK)
  while i * BLOCK < file_size do
    if (self.held[i] ~= nil) ~= hole then
      return math.min(math.max(offset, i * BLOCK), file_size)
    end
    -- skip ahead to the next held block when looking for data
    if not hole then
      local next_held
      for j in pairs(self.held) do
        if j > i and (not next_held or j < next_held) then next_held = j end
      end
      if not next_held then return nil end
      i = next_held
    else
      i = i + 1
    end
  end
  return hole and file_size or nil -- the end of a file counts as a hole
end

--- Bytes of memory the blocks hold.
function Blocks:held_bytes()
  return self.bytes
end

return { new = new, BLOCK = BLOCK }
