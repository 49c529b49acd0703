-- busted output handler: busted's gtest output, then one plain closing line
-- "N passed, N failed, N skipped" counted from busted's own results (errors
-- count as failures), for CI and for people.
return function(options)
  local busted = require("busted")
  local inner = require("busted.outputHandlers.gtest")(options)
  local subscribe = inner.subscribe
  function inner:subscribe(opts)
    subscribe(self, opts)
    busted.subscribe({ "suite", "end" }, function()
      io.write(("%d passed, %d failed, %d skipped\n"):format(inner.successesCount,
        inner.failuresCount + inner.errorsCount, inner.pendingsCount))
      io.flush()
      return nil, true
    end)
  end
  return inner
end
