-- A read-write mirror of a directory: moonfs scripts/mirror.lua MNT -o root=DIR
-- (-o acl=no: the kernel leaves ACLs unchecked, files still get them, and
-- asks no attributes after each change of a directory; README, Performance)
local opts = ...
if not opts.root then error("mirror.lua needs -o root=DIR (the directory to mirror)", 0) end
local fs = require("moonfs").mirror(opts.root)
if opts.acl == "no" then fs.posix_acl = false
elseif opts.acl ~= nil and opts.acl ~= "yes" then error("mirror.lua: acl= is yes or no", 0) end
return fs
