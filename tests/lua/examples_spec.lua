-- examples_spec.lua — every example runs from the executable and writes its pictures.
local build = os.getenv("SS_BUILD_DIR") or "build"

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

describe("examples", function()
  local out = os.tmpname()
  os.remove(out)

  local function run(script)
    local log = out .. ".log"
    local status = os.execute(build .. "/scalespace examples/" .. script .. " " .. out .. " >" .. log .. " 2>&1")
    local f = io.open(log)
    local text = f and f:read("*a") or ""
    if f then f:close() end
    assert.are.equal(0, status, script .. " failed:\n" .. text)
    return text
  end

  it("main.lua prints Fashion-MNIST statistics and writes a grid", function()
    local text = run("main.lua")
    assert.truthy(text:find("fashion%-mnist train%s+n=60000%s+mean=0%.2860"))
    assert.truthy(text:find("fashion%-mnist test%s+n=10000"))
    assert.is_true(exists(out .. "/fashion_grid.png"))
  end)

  it("new_operator.lua checks its adjoint and writes the strip", function()
    local text = run("new_operator.lua")
    local err = tonumber(text:match("relative error (%S+)"))
    assert.is_true(err ~= nil and err <= 1e-6)
    assert.is_true(exists(out .. "/new_operator.png"))
  end)
end)
