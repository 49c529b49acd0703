-- A read-write mirror of a directory: moonfs scripts/mirror.lua MNT -o root=DIR
local opts = ...
if not opts.root then error("mirror.lua needs -o root=DIR (the directory to mirror)", 0) end
return require("moonfs").mirror(opts.root)
