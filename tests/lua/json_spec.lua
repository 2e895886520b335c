-- json_spec.lua — scalespace.json: deterministic text, exact numbers, round trips, errors
-- that say where.
local json = require "scalespace.json"

describe("json", function()
  it("writes sorted keys and exact numbers, and reads its own text back", function()
    local v = { b = { 1, 2.5, -0.1 }, a = "x\"y\n", c = { d = true, e = false }, big = 2 ^ 53, tiny = 1e-300,
      third = 1 / 3 }
    local text = json.encode(v)
    assert.are.equal('{"a":"x\\u0022y\\u000a","b":[1,2.5,-0.10000000000000001],"big":9007199254740992,'
      .. '"c":{"d":true,"e":false},"third":0.33333333333333331,"tiny":1e-300}', text)
    assert.are.same(v, json.decode(text))
    assert.are.equal(json.encode(v), json.encode(json.decode(text)))
    assert.are.equal('{"x":0.333333}', json.encode({ x = 1 / 3 }, { digits = 6 }))
    assert.are.equal('[null,null,1]', json.encode({ 0 / 0, math.huge, 1 }))
  end)

  it("reads plain JSON: whitespace, escapes, null, nesting", function()
    local v = json.decode(' { "k" : [ 1 , 2e3, -4.5E-1, "\\u00e9\\/", null, {} ] } ')
    assert.are.same({ 1, 2000, -0.45, "é/" }, { v.k[1], v.k[2], v.k[3], v.k[4] })
  end)

  it("says what is wrong and where", function()
    for text, reason in pairs { ['{"a" 1}'] = "':' expected at character 6", ["[1,"] = "a value expected",
      ['"abc'] = "unterminated string", ["[1] x"] = "text after the value", ["{1:2}"] = "a key expected" } do
      local ok, err = pcall(json.decode, text, "test")
      assert.is_false(ok)
      assert.truthy(err:find("test: not valid JSON (" .. reason, 1, true) or err:find(reason, 1, true), err)
    end
    local ok, err = pcall(json.decode, string.rep("[", 300) .. string.rep("]", 300))
    assert.is_false(ok)
    assert.truthy(err:find("nesting deeper than 200", 1, true), err)
  end)
end)
