-- FUSE over io_uring: where the kernel offers its per-CPU queues (Linux
-- 6.14+, /sys/module/fuse/parameters/enable_uring), requests come through
-- them; interrupts still work; -o noio_uring and a kernel that does not
-- offer them fall back to /dev/fuse and say why. The module parameter is
-- turned on for these mounts and put back afterwards.
local mount = require("support.mount")
local uring = require("support.uring")
local sys = require("support.sys")

local shell = require("support.shell")
local q, sh = shell.quote, shell.sh

describe("FUSE over io_uring", function()
  local why_not = uring.unavailable()
  local src
  before_each(function() src = mount.tmpdir("src") end)
  after_each(function()
    mount.stop_all()
    uring.restore()
    mount.rmtree(src)
  end)

  it("serves the mirror through the kernel's queues, file data still passthrough", function()
    if why_not then pending(why_not) return end
    uring.enable()
    local m = mount.start{ script = "scripts/mirror.lua", options = "root=" .. src .. ",workers=2" }
    local code, out = sh("cd " .. q(m.dir) .. " && mkdir d && for i in $(seq 1 100); do echo $i > d/f$i; done"
      .. " && cat d/f42 && ls d | wc -l && dd if=/dev/zero of=big bs=1M count=16 2>/dev/null"
      .. " && cmp big " .. q(src .. "/big") .. " && rm -r d", 60)
    assert.equal(0, code, out)
    assert.matches("^42\n100\n", out)
    local counts = m:stats()
    assert.is_true(counts.ring_requests > 300, counts.ring_requests .. " requests through rings")
    if mount.passthrough then
      assert.equal(0, counts.requests.read or 0)
      assert.equal(0, counts.requests.write or 0)
    end
    m:stop()
    assert.matches("io_uring: serving %d+ queues? from 2 workers", m.log_at_stop)
  end)

  it("cancels a waiting handler when its caller is interrupted", function()
    if why_not then pending(why_not) return end
    uring.enable()
    local cleanup = src .. "/cleanup"
    local m = mount.start{ script = "spec/fixtures/waiting_slow.lua", options = "cleanup=" .. cleanup }
    -- a direct_io read that waits 30 s in its handler, interrupted after 1 s
    local t0 = os.time()
    local code = sh("timeout -s INT 1 cat " .. q(m:path("sleep30")) .. " > /dev/null", 20)
    assert.is_true(code ~= 0)
    assert.is_true(os.time() - t0 < 10, "the interrupted read took too long")
    for _ = 1, 100 do
      if sys.stat(cleanup) then break end
      mount.sleep(0.05)
    end
    assert.is_truthy(sys.stat(cleanup), "the handler never saw the interruption")
    assert.equal("Hello from Lua!\n", sys.read_file(m:path("hello.txt")))
    local counts = m:stats()
    assert.is_true(counts.ring_requests > 0)
    m:stop()
  end)

  it("-o noio_uring reads /dev/fuse, and says so", function()
    if why_not then pending(why_not) return end
    uring.enable()
    local m = mount.start{ script = "scripts/mirror.lua", options = "root=" .. src .. ",noio_uring" }
    assert(sys.write_file(m:path("a"), "a"))
    assert.equal(0, m:stats().ring_requests)
    m:stop()
    assert.matches("io_uring: turned off with -o noio_uring", m.log_at_stop, 1, true)
  end)

  it("without the kernel's queues reads /dev/fuse, and says why", function()
    local m = mount.start{ script = "scripts/mirror.lua", options = "root=" .. src }
    assert(sys.write_file(m:path("a"), "a"))
    assert.equal(0, m:stats().ring_requests)
    m:stop()
    assert.matches("io_uring: unavailable, ", m.log_at_stop, 1, true)
  end)
end)
