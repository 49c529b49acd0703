-- Workers (-o workers=N): several threads serve requests at once, each
-- with a Lua state of its own. Two handlers really run at the same time;
-- eight processes working on the mirror leave the same tree as on a plain
-- directory; handles that live in one worker's Lua state reach that
-- worker's handlers; a script that says nothing about workers keeps one.
local mount = require("support.mount")

local shell = require("support.shell")
local q, sh = shell.quote, shell.sh

describe("workers", function()
  local dirs = {}
  local function tmp(tag)
    local d = mount.tmpdir(tag)
    dirs[#dirs + 1] = d
    return d
  end
  after_each(function()
    mount.stop_all()
    for _, d in ipairs(dirs) do mount.rmtree(d) end
    dirs = {}
  end)

  -- Both handlers run without waiting until each sees the other has
  -- started: only two threads running Lua at once get there.
  local function two_stats(workers)
    local marks = tmp("marks")
    local m = mount.start{ script = "spec/fixtures/workers_together.lua",
      options = "marks=" .. marks .. ",workers=" .. workers, allow = { "without waiting" } }
    -- each caller on a CPU of its own: over io_uring a request goes to the
    -- worker of its caller's CPU
    local code, out = sh("taskset -c 0 stat -c %s " .. q(m:path("a")) .. " & taskset -c 1 stat -c %s "
      .. q(m:path("b")) .. " & wait", 30)
    assert.equal(0, code, out)
    m:stop()
    local sizes = {}
    for size in out:gmatch("%d+") do sizes[#sizes + 1] = size end
    table.sort(sizes)
    return table.concat(sizes, " "), m.log_at_stop
  end

  it("with two, two handlers run at the same time", function()
    local nproc = io.popen("nproc")
    local cpus = tonumber(nproc:read("*a"))
    nproc:close()
    if cpus < 2 then pending("one CPU: nothing runs at once") return end
    local sizes, log = two_stats(2)
    assert.equal("1 1", sizes)
    assert.matches("serving with 2 workers", log, 1, true)
  end)

  it("with one, a handler that does not wait holds up the other", function()
    local sizes = two_stats(1)
    assert.equal("0 1", sizes)
  end)

  it("eight processes on the mirror leave the tree a plain directory gets", function()
    local backing, plain = tmp("backing"), tmp("plain")
    local m = mount.start{ script = "scripts/mirror.lua", options = "root=" .. backing .. ",workers=2" }
    -- each process works in a directory of its own: create, write, append,
    -- rename, link, symlink, chmod, truncate, remove, list
    local workload = [[
      d=$1/p$2; mkdir $d && cd $d || exit 1
      for i in $(seq 1 40); do
        echo "file $i of $2" > f$i; echo more >> f$i
        mkdir -p sub$((i % 5)); mv f$i sub$((i % 5))/g$i
        ln sub$((i % 5))/g$i h$i 2>/dev/null; ln -s sub$((i % 5))/g$i s$i
        chmod 0$((600 + i % 8)) h$i; truncate -s $((i * 7)) sub$((i % 5))/g$i
        [ $((i % 3)) -eq 0 ] && rm h$i s$i
        ls -l sub$((i % 5)) > /dev/null
      done
      rm -r sub0; mv sub1 moved
    ]]
    local script = tmp("work") .. "/work.sh"
    local f = assert(io.open(script, "w"))
    f:write(workload)
    f:close()
    for _, root in ipairs({ m.dir, plain }) do
      local jobs = {}
      for i = 1, 8 do jobs[#jobs + 1] = "sh " .. q(script) .. " " .. q(root) .. " " .. i .. " &" end
      local code, out = sh(table.concat(jobs, " ") .. " wait", 120)
      assert.equal(0, code, out)
    end
    -- what there is: names, types, sizes, modes, link counts, contents
    local function tree(root)
      local code, out = sh("cd " .. q(root) .. " && find . -printf '%p %y %s %m %n %l\\n' | sort"
        .. " && find . -type f | sort | xargs md5sum", 60)
      assert.equal(0, code, out)
      return out
    end
    local through, direct = tree(m.dir), tree(plain)
    assert.equal(direct, through)
    assert.equal(direct, tree(backing))
    assert.is_true(#direct > 1000)
    m:stop()
  end)

  -- The host stats the names a READDIRPLUS reply carries (the mirror's
  -- stat directory). On a slow disk that takes a while, and the other
  -- workers, which share the host's lock, must not wait for it. The mirror
  -- here mirrors a mount whose names each take 0.05 s to stat.
  it("a listing that stats slow names holds up no other worker", function()
    local inner = mount.start{ script = "spec/fixtures/workers_slow_names.lua",
      options = "timeout=86400" }
    local outer = mount.start{ script = "scripts/mirror.lua",
      options = "root=" .. inner.dir .. ",workers=2,timeout=0,noio_uring" }
    local code, out = sh(("stat %s >/dev/null || exit 1; " -- known to both kernels from now on
      .. "ms() { echo $(( $(date +%%s%%N) / 1000000 )); }; "
      .. "a0=$(ms); (ls %s >/dev/null; echo \"ls $(( $(ms) - a0 ))\") & "
      .. "sleep 0.3; b0=$(ms); stat %s >/dev/null; echo \"stat $(( $(ms) - b0 ))\"; wait")
      :format(q(outer:path("fast")), q(outer:path("slow")), q(outer:path("fast"))), 60)
    assert.equal(0, code, out)
    local listing, stat = tonumber(out:match("ls (%d+)")), tonumber(out:match("stat (%d+)"))
    assert(listing and stat, out)
    -- the first reply's names were statted (20 or more at 0.05 s)...
    assert.is_true(listing >= 1000, "the listing took " .. listing .. " ms")
    -- ...while the other worker answered the stat at once
    assert.is_true(stat < 500, "a stat during the listing took " .. stat .. " ms")
    outer:stop()
    inner:stop()
  end)

  -- A file whose fd the host reads for the caller (no passthrough: a
  -- pipe, or any fd of an unprivileged mount) may be slow to give its
  -- data; the other workers must not wait for it.
  it("a read the host waits for holds up no other worker", function()
    local dir = mount.tmpdir("fifo")
    local fifo = dir .. "/fifo"
    assert.equal(0, (sh("mkfifo " .. q(fifo))))
    local m = mount.start{ script = "spec/fixtures/workers_slow_fd.lua",
      options = "fifo=" .. fifo .. ",noio_uring" }
    local code, out = sh(("stat %s >/dev/null || exit 1; "
      .. "ms() { echo $(( $(date +%%s%%N) / 1000000 )); }; "
      .. "(sleep 2; printf hello > %s) & "
      .. "(echo \"read $(head -c 5 %s)\") & "
      .. "sleep 0.3; b0=$(ms); stat %s >/dev/null; echo \"stat $(( $(ms) - b0 ))\"; wait")
      :format(q(m:path("other")), q(fifo), q(m:path("slow")), q(m:path("other"))), 60)
    m:stop()
    mount.rmtree(dir)
    assert.equal(0, code, out)
    assert.matches("read hello", out, 1, true)
    local stat = tonumber(out:match("stat (%d+)"))
    assert(stat, out)
    assert.is_true(stat < 500, "a stat during the read took " .. stat .. " ms")
  end)

  it("hands requests on a Lua handle to the worker that made it", function()
    local m = mount.start{ script = "spec/fixtures/workers_handles.lua" }
    local cmds = {}
    for p = 1, 8 do
      cmds[#cmds + 1] = "(for r in 1 2 3 4 5 6 7 8 9 10; do for i in 1 2 3 4 5 6 7 8; do "
        .. "cat " .. q(m.dir) .. "/f$i | wc -c; done; done > " .. q(m.tmp) .. "/out" .. p .. ") &"
    end
    local code, out = sh(table.concat(cmds, " ") .. " wait", 120)
    assert.equal(0, code, out)
    for p = 1, 8 do
      local fh = assert(io.open(m.tmp .. "/out" .. p))
      local got = fh:read("*a")
      fh:close()
      local want = {}
      for _ = 1, 10 do for i = 1, 8 do want[#want + 1] = tostring(1000 * i) end end
      assert.equal(table.concat(want, "\n") .. "\n", got)
    end
    m:stop()
    assert.matches("serving with 2 workers", m.log_at_stop, 1, true)
  end)

  it("a script that says nothing about workers keeps one, and says why", function()
    local m = mount.start{ script = "scripts/memfs.lua", options = "workers=2",
      allow = { "says nothing about workers" } }
    local f = assert(io.open(m:path("x"), "w"))
    f:write("one tree")
    f:close()
    local r = assert(io.open(m:path("x")))
    assert.equal("one tree", r:read("*a"))
    r:close()
    m:stop()
    assert.matches("memfs.lua says nothing about workers", m.log_at_stop, 1, true)
    assert.is_nil(m.log_at_stop:find("serving with %d+ workers"))
  end)

  it("refuses a workers value that is no count", function()
    for _, bad in ipairs({ "0", "65", "two", "1.5" }) do
      local code, out = mount.run_host({ "scripts/hello.lua", tmp("x"), "-f", "-o", "workers=" .. bad })
      assert.is_true(code ~= 0, "workers=" .. bad .. " was taken")
      assert.matches("workers", out, 1, true)
    end
  end)
end)
