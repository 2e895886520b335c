-- bench/tensor.lua — memory bandwidth of axpby and sum over 16M floats, next to a
-- plain copy's bandwidth measured in the same run (the machine's practical limit).
-- usage: scalespace bench/tensor.lua [n]
local ss = require "scalespace"
local bench = require "scalespace.bench"

local n = tonumber(arg and arg[1]) or 16 * 1024 * 1024
local g = ss.rng(0)
local x, y, out = g:normal { n }, g:normal { n }, ss.empty { n }
local C = ss.C

local cases = {
  { name = "copy", bytes = 8 * n, fn = function() out:copy(x) end },
  { name = "axpby", bytes = 12 * n, fn = function() ss.check(C.ss_axpby(out.p, 0.5, x.p, -2, y.p)) end },
  { name = "sum", bytes = 4 * n, fn = function() return x:sum() end },
}
local copy_gbps
for _, c in ipairs(cases) do
  local t = bench.median(c.fn, 11, 2)
  local gbps = c.bytes / t / 1e9
  copy_gbps = copy_gbps or gbps
  bench.emit { bench = "tensor", case = c.name, n = n, threads = ss.num_threads(), median_ms = t * 1e3,
    gbps = gbps, copy_gbps = copy_gbps, fraction_of_copy = gbps / copy_gbps }
end
