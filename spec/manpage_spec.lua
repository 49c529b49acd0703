-- The man page, host/moonfs.1 (roff, man(7) macros): it renders without
-- warnings, and it documents exactly what `moonfs --help` offers: every
-- option, -o option and subcommand of --help has an entry in the man page,
-- and every entry of its OPTIONS, MOUNT OPTIONS and SUBCOMMANDS sections is
-- in --help. The FUSE options it names work.
local mount = require("support.mount")

local page = mount.repo .. "/host/moonfs.1"

-- mount.need_root's pending() is not reachable from a support module, so
-- specs skip with busted's own.
local need_root = mount.need_root

local function read(path)
  local f = assert(io.open(path))
  local s = f:read("*a")
  f:close()
  return s
end

-- Runs a command; returns its standard output and standard error.
local function run(cmd)
  local dir = mount.tmpdir("man")
  local ok = os.execute(cmd .. " >'" .. dir .. "/out' 2>'" .. dir .. "/err'")
  local out, err = read(dir .. "/out"), read(dir .. "/err")
  mount.rmtree(dir)
  return out, err, ok == true or ok == 0
end

local function set(list)
  local s = {}
  for _, v in ipairs(list) do s[v] = true end
  return s
end

local function keys(s)
  local out = {}
  for k in pairs(s) do out[#out + 1] = k end
  table.sort(out)
  return out
end

-- The members of `a` that are not in `b`, sorted (for messages that name them).
local function missing(a, b)
  local out = {}
  for k in pairs(a) do
    if not b[k] then out[#out + 1] = k end
  end
  table.sort(out)
  return out
end

---------------------------------------------------------------- --help

local function parse_help(text)
  local help = { flags = {}, subcommands = {}, host = {}, fuse = {}, usage = {} }
  local usage = text:match("^(.-)\n\n")
  for line in usage:gmatch("[^\n]+") do
    local rest = line:gsub("^usage:", ""):match("^%s*moonfs%s+(.*)$")
    help.usage[#help.usage + 1] = "moonfs " .. rest
    local first = rest:match("^(%S+)")
    if first:match("^%l+$") then help.subcommands[first] = true end
    for flag in rest:gmatch("%f[%w-](%-%-?%a[%w-]*)") do help.flags[flag] = true end
  end
  -- "  -h, --help     this text": the tag is what comes before the gap
  local flags_block = text:match("\n\n(  %-.-)\n\n")
  for line in flags_block:gmatch("[^\n]+") do
    local tag = line:match("^  (%-%S.-)%s%s+%S")
    assert(tag, "a flag line of --help without a tag: " .. line)
    for flag in (tag .. ","):gmatch("%s*(%-%-?%a[%w-]*)[^,]*,") do help.flags[flag] = true end
  end
  local host_block = text:match("Host options %(%-o%):\n(.-)\nFUSE mount options")
  assert(host_block, "no 'Host options (-o):' block in --help")
  for line in host_block:gmatch("[^\n]+") do
    local name = line:match("^  (%l[%w_]*)")
    if name then help.host[name] = true end
  end
  local fuse = text:match("FUSE mount options %(%-o%) such as (.-) go to FUSE")
  assert(fuse, "no 'FUSE mount options (-o) such as ... go to FUSE' in --help")
  for item in fuse:gsub("%s+and%s+", ","):gmatch("[^,%s]+") do
    help.fuse[assert(item:match("^(%l[%w_]*)"), item)] = true
  end
  return help
end

---------------------------------------------------------------- man page

-- The arguments of a macro line, with "double quoted" ones kept whole.
local function macro_args(s)
  local args = {}
  local i = 1
  while i <= #s do
    local c = s:sub(i, i)
    if c == " " then
      i = i + 1
    elseif c == '"' then
      local j = s:find('"', i + 1, true) or #s + 1
      args[#args + 1] = s:sub(i + 1, j - 1)
      i = j + 1
    else
      local j = s:find(" ", i, true) or #s + 1
      args[#args + 1] = s:sub(i, j - 1)
      i = j
    end
  end
  return args
end

-- The text of one line of roff source, fonts and escapes taken out.
local function line_text(line)
  local macro, rest = line:match("^%.(%a+)%s*(.*)$")
  local text = line
  if macro then
    if not ({ B = 1, I = 1, BI = 1, BR = 1, IB = 1, IR = 1, RB = 1, RI = 1 })[macro] then
      return nil -- a request or macro without text (.TP, .PP, .RS, ...)
    end
    text = table.concat(macro_args(rest), macro:len() == 1 and " " or "")
  end
  text = text:gsub("\\f[BIRP]", ""):gsub("\\%-", "-"):gsub("\\%(aq", "'"):gsub("\\%(dq", '"')
    :gsub("\\&", ""):gsub("\\e", "\\")
  return text
end

-- {sections = {name = {text = {lines}, tags = {tag text}, sub = {name = {tags}}}}, th = ...}
local function parse_page(source)
  local man = { sections = {} }
  local section, sub
  local want_tag = false
  for line in (source .. "\n"):gmatch("([^\n]*)\n") do
    if line:match("^%.TH ") then
      man.th = macro_args(line:sub(5))
    elseif line:match("^%.SH ") then
      local name = table.concat(macro_args(line:sub(5)), " ")
      section = { text = {}, tags = {}, sub = {} }
      sub = nil
      man.sections[name] = section
    elseif line:match("^%.SS ") and section then
      sub = { tags = {} }
      section.sub[table.concat(macro_args(line:sub(5)), " ")] = sub
    elseif line:match("^%.TP") then
      want_tag = true
    elseif section and not line:match("^%.\\\"") then
      local text = line_text(line)
      if text then
        if want_tag then
          section.tags[#section.tags + 1] = text
          if sub then sub.tags[#sub.tags + 1] = text end
          want_tag = false
        end
        section.text[#section.text + 1] = text
      end
    end
  end
  return man
end

-- Options named by tags such as "-h, --help" or "-o opt,opt...".
local function tag_flags(tags, into)
  for _, tag in ipairs(tags) do
    for piece in (tag .. ","):gmatch("([^,]*),") do
      local flag = piece:match("^%s*(%-%-?%a[%w-]*)")
      if flag then into[flag] = true end
    end
  end
  return into
end

-- "timeout=seconds", "trace[=file]", "stats" -> the option's name.
local function tag_names(tags)
  local names = {}
  for _, tag in ipairs(tags) do
    names[assert(tag:match("^(%l[%w_]*)"), "not an option name: " .. tag)] = true
  end
  return names
end

---------------------------------------------------------------- specs

describe("the man page", function()
  local help, man, source

  setup(function()
    local code, out = mount.run_host({ "--help" })
    assert.equal(0, code)
    help = parse_help(out)
    source = read(page)
    man = parse_page(source)
  end)

  it("has the sections of a man page for a command", function()
    for _, name in ipairs({ "NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "MOUNT OPTIONS",
      "SUBCOMMANDS", "SIGNALS", "FILES", "EXIT STATUS", "EXAMPLES", "SEE ALSO" }) do
      assert.is_truthy(man.sections[name], "no section " .. name)
    end
    assert.equal("MOONFS", man.th[1])
    assert.equal("1", man.th[2])
  end)

  it("names the version moonfs --version prints", function()
    local _, out = mount.run_host({ "--version" })
    local version = out:match("^moonfs (%S+)")
    assert.equal("moonfs " .. version, man.th[4])
  end)

  it("renders with man -l and groff without a warning", function()
    local out, err = run("LC_ALL=C.UTF-8 MANWIDTH=80 man -l --warnings '" .. page .. "'")
    assert.equal("", err)
    assert.matches("^MOONFS%(1%)", out)
    assert.matches("\nSUBCOMMANDS\n", out, 1, true)
    assert.matches("moonfs %- mount a filesystem whose behaviour is a Lua script", out)
    local _, groff_err, ok = run("groff -man -ww -z '" .. page .. "'")
    assert.equal("", groff_err)
    assert.is_true(ok)
  end)

  it("documents every flag, -o option and subcommand of --help", function()
    -- the parse found what --help is known to have, so an empty parse cannot pass
    for _, flag in ipairs({ "-f", "-d", "-s", "--trace", "--check", "-h", "--help", "-V",
      "--version", "-o", "--ops", "--path", "--json" }) do
      assert.is_true(help.flags[flag], "--help parse lost " .. flag)
    end
    assert.same({ "list", "reload", "stats", "top", "trace" }, keys(help.subcommands))
    assert.is_true(help.host.nopassthrough and help.host.spin and help.fuse.fsname)

    local flags = tag_flags(man.sections.OPTIONS.tags, {})
    tag_flags(man.sections.SUBCOMMANDS.tags, flags)
    assert.same({}, missing(help.flags, flags))

    local mount_options = man.sections["MOUNT OPTIONS"]
    assert.same({}, missing(help.host, tag_names(mount_options.sub["Host options"].tags)))
    assert.same({}, missing(help.fuse, tag_names(mount_options.sub["FUSE options"].tags)))

    local subcommands = {}
    for _, tag in ipairs(man.sections.SUBCOMMANDS.tags) do
      local name = tag:match("^moonfs (%l+)")
      if name then subcommands[name] = true end
    end
    assert.same({}, missing(help.subcommands, subcommands))
  end)

  it("documents nothing in OPTIONS, MOUNT OPTIONS and SUBCOMMANDS that --help lacks", function()
    local flags = tag_flags(man.sections.OPTIONS.tags, {})
    assert.is_true(#man.sections.OPTIONS.tags >= 8)
    for _, tag in ipairs(man.sections.OPTIONS.tags) do
      assert.is_truthy(tag:match("^%-"), "an OPTIONS entry that is no option: " .. tag)
    end
    assert.same({}, missing(flags, help.flags))

    local mount_options = man.sections["MOUNT OPTIONS"]
    local host = tag_names(mount_options.sub["Host options"].tags)
    local fuse = tag_names(mount_options.sub["FUSE options"].tags)
    assert.same({}, missing(host, help.host))
    assert.same({}, missing(fuse, help.fuse))
    -- every entry of the section is in one of the two lists
    assert.equal(#mount_options.tags,
      #mount_options.sub["Host options"].tags + #mount_options.sub["FUSE options"].tags)

    for _, tag in ipairs(man.sections.SUBCOMMANDS.tags) do
      local name = tag:match("^moonfs (%l+)")
      if name then
        assert.is_true(help.subcommands[name], "not a subcommand of --help: " .. tag)
      else
        local flag = tag:match("^(%-%-?%a[%w-]*)")
        assert.is_truthy(flag, "a SUBCOMMANDS entry that is neither: " .. tag)
        assert.is_true(help.flags[flag], "not an option of --help: " .. flag)
      end
    end
  end)

  it("has every usage line of --help in its SYNOPSIS", function()
    local lines = {}
    -- .br separates the synopsis lines; line_text drops it, so split again
    local synopsis = source:match("\n%.SH SYNOPSIS\n(.-)\n%.SH ")
    for chunk in (synopsis .. "\n.br\n"):gmatch("(.-)\n%.br\n") do
      local words = {}
      for line in chunk:gmatch("[^\n]+") do
        local text = line_text(line)
        if text then words[#words + 1] = text end
      end
      lines[(table.concat(words, " "):lower():gsub("%s+", " "))] = true
    end
    for _, usage in ipairs(help.usage) do
      local want = usage:lower():gsub("%s+", " ")
      assert.is_true(lines[want], "not in the SYNOPSIS: " .. usage .. "\nSYNOPSIS lines:\n"
        .. table.concat(keys(lines), "\n"))
    end
  end)

  it("gives each exit status main.c and cli.c use", function()
    local codes = {}
    for _, tag in ipairs(man.sections["EXIT STATUS"].tags) do codes[#codes + 1] = tag end
    assert.same({ "0", "1", "2" }, codes)
  end)
end)

describe("the FUSE options the man page names", function()
  after_each(function() mount.stop_all() end)

  local function mount_options(dir)
    for line in io.lines("/proc/self/mountinfo") do
      local point, opts, _, super = line:match("^%S+ %S+ %S+ %S+ (%S+) (%S+)(.-) %- %S+ %S+ (%S+)$")
      if point == dir then return "," .. opts .. ",", "," .. super .. "," end
    end
  end

  it("are in its FUSE options part, and the host takes each", function()
    if not need_root("mounting with libfuse's options, directly") then return end
    local text = table.concat(parse_page(read(page)).sections["MOUNT OPTIONS"].text, " ")
    local fuse_part = text:match("These go to libfuse(.-)Every other option reaches the script")
    -- name = {what /proc/self/mountinfo shows: "+flag" present, "-flag" absent}
    local options = {
      allow_other = { "+allow_other" }, allow_root = {}, default_permissions = { "+default_permissions" },
      auto_unmount = {}, ro = { "+ro" }, rw = { "+rw" }, suid = { "-nosuid" }, nosuid = { "+nosuid" },
      dev = { "-nodev" }, nodev = { "+nodev" }, exec = { "-noexec" }, noexec = { "+noexec" },
      sync = { "+sync" }, async = { "-sync" }, dirsync = { "+dirsync" }, atime = { "-noatime" },
      noatime = { "+noatime" }, ["fsname=specfs"] = {}, ["subtype=specfs"] = {},
    }
    for option, expect in pairs(options) do
      local name = option:match("^[%w_]+")
      assert.is_truthy(fuse_part:find("%f[%w_]" .. name .. "%f[^%w_]"),
        "the man page does not name " .. name)
      local m = mount.start{ script = "scripts/hello.lua", options = option }
      assert.equal("Hello from Lua!\n", read(m:path("hello.txt")))
      local opts, super = mount_options(m.dir)
      for _, e in ipairs(expect) do
        local all = opts .. super
        if e:sub(1, 1) == "+" then
          assert.matches("," .. e:sub(2) .. ",", all, 1, true)
        else
          assert.is_nil(all:find("," .. e:sub(2) .. ",", 1, true), option .. ": " .. all)
        end
      end
      m:stop()
    end
  end)

  it("say the truth about the defaults: nosuid,nodev, and no writeback_cache", function()
    if not need_root("mounting directly") then return end
    local m = mount.start{ script = "scripts/hello.lua" }
    local opts = mount_options(m.dir)
    assert.matches(",nosuid,", opts, 1, true)
    assert.matches(",nodev,", opts, 1, true)
    m:stop()
    local dir = mount.tmpdir("man")
    local code, out = mount.run_host({ "scripts/hello.lua", dir, "-o", "writeback_cache" })
    mount.rmtree(dir)
    assert.is_true(code ~= 0)
    assert.matches("writeback_cache is not supported", out, 1, true)
  end)
end)
