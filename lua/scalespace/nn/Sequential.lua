--- nn.Sequential(m1, m2, ...) — children named 1, 2, ... applied in order.
local base = require "scalespace.nn.module"

local Sequential = base.class("Sequential")

function Sequential.new(...)
  local self = base.new(Sequential)
  for i, m in ipairs { ... } do self:add(i, m) end
  return self
end

function Sequential:forward(x)
  self.inputs = self.inputs or {}
  for i, c in ipairs(self._children) do
    self.inputs[i] = x
    x = c.module:forward(x)
  end
  return x
end

function Sequential:backward(_, gout)
  for i = #self._children, 1, -1 do gout = self._children[i].module:backward(self.inputs[i], gout) end
  return gout
end

return Sequential
