--- nn.Group() — a module that only names its children (a network's levels and lists of
-- blocks), so parameter names follow the structure: "down.1.res.2.conv1.weight".
local base = require "scalespace.nn.module"

local Group = base.class("Group")

function Group.new() return base.new(Group) end

return Group
