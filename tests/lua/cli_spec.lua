-- The `scalespace` executable: options, `arg`, errors and exit statuses, the stdin REPL.
-- Runs the binary in $SS_BUILD_DIR (default build/) through /bin/sh.

local build = os.getenv("SS_BUILD_DIR") or "build"
local exe = build .. "/scalespace"
local h = dofile("tests/lua/helpers.lua")
local q, write_file = h.quote, h.write

local function slurp(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local s = f:read("*a")
  f:close()
  return s
end

local tmpfiles = {}
local function tmpname(suffix)
  local name = os.tmpname()
  tmpfiles[#tmpfiles + 1] = name
  if suffix then
    name = name .. suffix
    tmpfiles[#tmpfiles + 1] = name
  end
  return name
end

-- Runs `args` (a shell fragment) with the executable; `stdin` (optional) is fed through a file.
-- Returns stdout, stderr and the exit status as the shell reports it (128+N for a signal).
local function run(args, stdin, env)
  local errf = tmpname()
  local cmd = exe .. " " .. args .. " 2>" .. q(errf)
  if stdin then
    local inf = tmpname()
    write_file(inf, stdin)
    cmd = cmd .. " <" .. q(inf)
  else
    cmd = cmd .. " </dev/null"
  end
  if env then cmd = env .. " " .. cmd end
  local p = assert(io.popen(cmd .. "; echo \"__STATUS=$?\""))
  local out = p:read("*a")
  p:close()
  local status = tonumber(out:match("__STATUS=(%d+)\n?$"))
  out = out:gsub("__STATUS=%d+\n?$", "")
  return out, slurp(errf), status
end

describe("scalespace executable", function()
  teardown(function()
    for _, f in ipairs(tmpfiles) do os.remove(f) end
  end)

  it("exists", function()
    assert.truthy(io.open(exe, "rb"), "no executable at " .. exe .. " (set SS_BUILD_DIR)")
  end)

  it("prints its version", function()
    local out, err, status = run("--version")
    assert.equal(0, status)
    assert.equal("", err)
    assert.truthy(out:match("^scalespace %d+%.%d+%.%d+ %(LuaJIT [^)]+%)\n$"), out)
    local out2 = run("-v")
    assert.equal(out, out2)
  end)

  it("prints usage for -h and --help, and rejects unknown options", function()
    local out, _, status = run("--help")
    assert.equal(0, status)
    assert.truthy(out:find("usage: scalespace", 1, true))
    assert.truthy(out:find("-e code", 1, true))
    local out2, _, status2 = run("-h")
    assert.equal(0, status2)
    assert.equal(out, out2)
    local out3, err3, status3 = run("--frobnicate")
    assert.equal(1, status3)
    assert.equal("", out3)
    assert.truthy(err3:find("unrecognized option '--frobnicate'", 1, true), err3)
    local _, err4, status4 = run("-e")
    assert.equal(1, status4)
    assert.truthy(err4:find("needs an argument", 1, true), err4)
  end)

  it("runs -e code, several times and in order", function()
    local out, err, status = run("-e 'print(1+1)'")
    assert.equal(0, status)
    assert.equal("", err)
    assert.equal("2\n", out)
    out, _, status = run("-e 'x = 20' -e 'print(x + 1)'")
    assert.equal(0, status)
    assert.equal("21\n", out)
  end)

  it("sets arg and ... for a script as lua does", function()
    local script = tmpname(".lua")
    write_file(script, [[
print(arg[1])
print(#arg)
print(arg[0])
print(select('#', ...), (...))
print(arg[-1] ~= nil)
print(X)
]])
    local out, err, status = run("-e 'X = 7' " .. q(script) .. " 'hello world' second")
    assert.equal(0, status, err)
    assert.equal("hello world\n2\n" .. script .. "\n2\thello world\ntrue\n7\n", out)
  end)

  it("puts the interpreter and options at negative arg indices", function()
    local script = tmpname(".lua")
    write_file(script, "for i = -3, #arg do io.write(tostring(arg[i]), '|') end print()")
    local out, _, status = run("-e 'y=1' " .. q(script) .. " a")
    assert.equal(0, status)
    assert.equal(exe .. "|-e|y=1|" .. script .. "|a|\n", out)
  end)

  it("exits 1 with the message and a traceback on an uncaught error", function()
    local script = tmpname(".lua")
    write_file(script, "local function inner() error('boom') end\ninner()\nprint('not reached')\n")
    local out, err, status = run(q(script))
    assert.equal(1, status) -- an exit status, not a signal (128+N)
    assert.equal("", out)
    assert.truthy(err:find("^scalespace: [^\n]*:1: boom\n"), err)
    assert.truthy(err:find("stack traceback:", 1, true), err)
    assert.truthy(err:find("inner", 1, true), err)
  end)

  it("describes non-string error objects", function()
    local _, err, status = run("-e 'error({})'")
    assert.equal(1, status)
    assert.truthy(err:find("(error object is a table value)", 1, true), err)
    _, err, status = run("-e 'error(setmetatable({}, {__tostring = function() return \"custom\" end}))'")
    assert.equal(1, status)
    assert.truthy(err:find("scalespace: custom", 1, true), err)
  end)

  it("stops at the first failing -e", function()
    local out, err, status = run("-e 'error(\"first\")' -e 'print(\"second\")'")
    assert.equal(1, status)
    assert.equal("", out)
    assert.truthy(err:find("first", 1, true))
  end)

  it("reports a missing script and exits 1", function()
    local missing = tmpname() .. "-does-not-exist.lua"
    local out, err, status = run(q(missing))
    assert.equal(1, status)
    assert.equal("", out)
    assert.truthy(err:find("scalespace: cannot open " .. missing, 1, true), err)
  end)

  it("reports a syntax error in a script and exits 1", function()
    local script = tmpname(".lua")
    write_file(script, "print('a'\n")
    local _, err, status = run(q(script))
    assert.equal(1, status)
    assert.truthy(err:find("scalespace: ", 1, true), err)
  end)

  it("lets a script choose its exit status with os.exit", function()
    local _, _, status = run("-e 'os.exit(3)'")
    assert.equal(3, status)
    _, _, status = run("-e 'os.exit(true)'")
    assert.equal(0, status)
    _, _, status = run("-e 'os.exit(false)'")
    assert.equal(1, status)
  end)

  it("runs finalizers at os.exit unless asked not to close the state", function()
    local fin = "local p = newproxy(true) getmetatable(p).__gc = function() io.write(\"finalized\\n\") end keep = p "
    local out, err, status = run("-e " .. q(fin .. "os.exit(2)"))
    assert.equal(2, status, err)
    assert.equal("finalized\n", out)
    out = run("-e " .. q(fin .. "os.exit(0, false)"))
    assert.equal("", out)
    out = run("-e " .. q(fin))
    assert.equal("finalized\n", out, "and at the normal end of a run")
  end)

  it("reads a script from stdin with -", function()
    local out, _, status = run("- a b", "print(arg[0], ...)\n")
    assert.equal(0, status)
    assert.equal("-\ta\tb\n", out)
    local _, err, status2 = run("-", "error('from stdin')\n")
    assert.equal(1, status2)
    assert.truthy(err:find("from stdin", 1, true))
  end)

  it("interrupts running code on SIGINT with an 'interrupted!' error", function()
    local out, err, status = run("-e 'jit.off() io.write(\"go\\n\") io.flush() while true do end'", nil,
      -- --foreground: otherwise timeout signals the child and then its whole process group,
      -- and the second SIGINT (the default action again, as a second Ctrl-C) can kill it
      "timeout --foreground --preserve-status -k 5 -s INT 1")
    assert.equal("go\n", out)
    assert.equal(1, status, err)
    assert.truthy(err:find("interrupted!", 1, true), err)
  end)

  -- LuaJIT runs no hooks inside compiled traces, so only the library's interrupt flag (set by
  -- the SIGINT handler, checked by tensor creation and the ops' shared checks) stops these.
  it("stops a JIT-compiled loop of library calls on SIGINT", function()
    local code = 'local ss = require "scalespace" local x = ss.zeros {16} io.write("go\\n") io.flush() ' ..
      "while true do x:add_(1) end"
    local out, err, status = run("-e " .. q(code), nil, "timeout --foreground --preserve-status -k 5 -s INT 2")
    assert.equal("go\n", out)
    assert.equal(1, status, err) -- an error exit, not the KILL 5 s later (137)
    assert.truthy(err:find("interrupted", 1, true), err)
  end)

  it("clears the interrupt when the interrupted REPL line ends: the next line calls the library", function()
    local stdin = 'ss = require "scalespace" traces = 0 ' ..
      'jit.attach(function(what) if what == "stop" then traces = traces + 1 end end, "trace")\n' ..
      'x = ss.zeros {16} io.write("go\\n") io.flush() while true do x:add_(1) end\n' ..
      "print(traces > 0, x:sum() > 0, ss.ones {2}:sum())\n"
    local out, err, status = run("", stdin, "timeout --foreground --preserve-status -k 5 -s INT 2")
    assert.equal("go\ntrue\ttrue\t2\n", out, err) -- compiled traces ran; the library works again
    assert.truthy(err:find("interrupted", 1, true), err)
    assert.equal(1, status) -- not a terminal: the interrupted line counts as failed
  end)

  describe("package path", function()
    it("puts the build tree and the installed tree before LuaJIT's paths", function()
      local out, _, status = run("-e 'print(package.path)'")
      assert.equal(0, status)
      local host_dir = select(1, run("-e 'io.write(package.loaded[\"scalespace.host\"].exe_dir)'"))
      local first = host_dir .. "/lua/?.lua;" .. host_dir .. "/lua/?/init.lua;" ..
        host_dir .. "/../share/scalespace/lua/?.lua;" .. host_dir .. "/../share/scalespace/lua/?/init.lua;"
      assert.equal(first, out:sub(1, #first))
      assert.truthy(#out > #first + 2, "LuaJIT's default path is kept after ours")
    end)

    it("honours SCALESPACE_LUA_PATH in front", function()
      local out = run("-e 'io.write(package.path)'", nil, "SCALESPACE_LUA_PATH='/opt/x/?.lua'")
      assert.equal("/opt/x/?.lua;", out:sub(1, 13))
      local dir = tmpname() .. "-mods"
      tmpfiles[#tmpfiles + 1] = dir .. "/ssclimod.lua"
      assert.truthy(os.execute("mkdir -p " .. q(dir)))
      write_file(dir .. "/ssclimod.lua", "return {answer = 42}")
      local out2, err2, status2 = run("-e 'print(require(\"ssclimod\").answer)'", nil,
        "SCALESPACE_LUA_PATH=" .. q(dir .. "/?.lua"))
      os.remove(dir .. "/ssclimod.lua")
      os.remove(dir)
      assert.equal(0, status2, err2)
      assert.equal("42\n", out2)
    end)

    it("finds scalespace modules next to the executable", function()
      local out, err, status = run("-e 'print(type(require(\"scalespace.progress\").new))'")
      assert.equal(0, status, err)
      assert.equal("function\n", out)
    end)
  end)

  it("announces itself in package.loaded['scalespace.host'] and exports the library to ffi.C", function()
    local out, err, status = run([[-e 'local h = package.loaded["scalespace.host"]
local ffi = require "ffi"
ffi.cdef "const char *ss_version(void);"
print(h.has_lib, h.exe:match("/scalespace$") ~= nil, ffi.string(ffi.C.ss_version()) == h.version)']])
    assert.equal(0, status, err)
    assert.equal("true\ttrue\ttrue\n", out)
  end)

  describe("REPL on a non-terminal stdin", function()
    it("prints expression values and keeps top-level locals", function()
      local out, err, status = run("", "1+2\nlocal x=3\nx*2\n")
      assert.equal(0, status, err)
      assert.equal("3\n6\n", out)
      assert.equal("", err)
    end)

    it("runs statements and prints nothing for them", function()
      local out, _, status = run("", "print(1+1)\n")
      assert.equal(0, status)
      assert.equal("2\n", out)
    end)

    it("prints several values separated by tabs, nil included", function()
      local out = run("", "1, 'a', nil, true\n")
      assert.equal("1\ta\tnil\ttrue\n", out)
    end)

    it("pretty-prints tables: a shape, nested tables, quoted strings", function()
      local out, err = run("", "local ss = require 'scalespace'\nss.zeros{2, 3, 4}:shape()\n{a = 1, b = {'x', true}}\n")
      assert.equal("{2, 3, 4}\n{a = 1, b = {\"x\", true}}\n", out, err)
    end)

    it("uses __tostring for values", function()
      local out = run("", "setmetatable({}, {__tostring = function() return 'T!' end})\n")
      assert.equal("T!\n", out)
    end)

    it("reads multi-line chunks", function()
      local out, err = run("", "function f(a)\n  return a * 2\nend\nf(21)\nlocal t = {\n1,\n2}\n#t\n")
      assert.equal("", err)
      assert.equal("42\n2\n", out)
    end)

    it("keeps inner locals local", function()
      local out = run("", "do local inner = 1 end\ninner\nlocal function g() local z = 5 return z end\ng(), z\n")
      assert.equal("nil\n5\tnil\n", out)
    end)

    it("continues after a syntax error and after a runtime error", function()
      local out, err, status = run("", "x = = 1\n'after syntax'\nerror('oops')\n'after runtime'\n")
      assert.equal("after syntax\nafter runtime\n", out)
      assert.truthy(err:find("unexpected symbol", 1, true), err)
      assert.truthy(err:find("stdin:1: oops", 1, true), err)
      assert.falsy(err:find("scalespace:", 1, true), "no program name on REPL errors")
      assert.equal(1, status) -- not a terminal: a failed line makes the run fail
    end)

    it("reports an unfinished chunk at the end of input", function()
      local out, err, status = run("", "function h()\n")
      assert.equal("", out)
      assert.truthy(err:find("<eof>", 1, true), err)
      assert.equal(1, status)
    end)

    it("prints no banner and no prompt", function()
      local out, err = run("", "")
      assert.equal("", out)
      assert.equal("", err)
    end)

    it("enters after -e with -i", function()
      local out, _, status = run("-e 'y = 4' -i", "y * 2\n")
      assert.equal(0, status)
      assert.equal("8\n", out)
    end)

    it("does not enter after -e without -i", function()
      local out = run("-e 'print(5)'", "print(6)\n")
      assert.equal("5\n", out)
    end)
  end)
end)
