-- examples/fashion_classifier.lua — trains the small CNN classifier of Fashion-MNIST whose
-- penultimate layer is the feature network of ss.metrics' "FD (Fashion-MNIST classifier)"
-- (a distance that needs no download; Inception-v3 on 28×28 grey images is a poor
-- instrument and its weights may be absent). Conv 3×3 s2 (1 → 8) · SiLU · conv 3×3 s2
-- (8 → 16) · SiLU · linear (784 → 64) · SiLU · linear (64 → 10); Adam, cosine learning
-- rate from 3e-3, batch 64, 10 epochs of the 60 000 training images; the test accuracy
-- is measured on the 10 000 test images. scalespace ships the weights this makes with its
-- defaults (lua/scalespace/metrics/fashion_classifier.safetensors), so FDs compare across
-- machines; a retrained classifier goes to the cache (.cache/fashion_classifier.safetensors)
-- or to DIR/fashion_classifier.safetensors, and ss.metrics uses it when
-- SS_FASHION_CLASSIFIER names it.
-- usage: scalespace examples/fashion_classifier.lua [DIR] [--epochs N] [--limit N] [--seed N]
local ss = require "scalespace"
local fashion = require "scalespace.metrics.fashion"

local out, opts = nil, {}
local i = 1
while arg[i] do
  local a = arg[i]
  if a == "--epochs" or a == "--limit" or a == "--seed" then
    opts[a:sub(3)] = tonumber(arg[i + 1]) or error(a .. " needs a number")
    i = i + 1
  elseif a:sub(1, 2) == "--" then error("unknown option " .. a .. " (--epochs N, --limit N, --seed N)")
  else out = a end
  i = i + 1
end
if out then
  ss.mkdir(out)
  opts.out = out .. "/fashion_classifier.safetensors"
else
  opts.out = fashion.cache_path()
end
local _, info = fashion.train(opts)
print(string.format("fashion classifier: %d steps in %.1f s, loss %.4f (last 100 steps), test accuracy %.2f %%",
  info.steps, info.seconds, info.loss, 100 * info.accuracy))
print("wrote " .. opts.out .. " (measure with it: SS_FASHION_CLASSIFIER=" .. opts.out .. ")")
