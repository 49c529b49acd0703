-- The smallest useful moonfs filesystem: one read-only file.
local text = "Hello from Lua!\n"

return {
  getattr = function(path)
    if path == "/" then return { type = "dir", perm = "755" } end
    if path == "/hello.txt" then return { type = "file", perm = "444", size = #text } end
    return nil, "ENOENT"
  end,
  readdir = function(path) return { "hello.txt" } end,
  read = function(path, size, offset) return text:sub(offset + 1, offset + size) end,
}
