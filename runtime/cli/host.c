/* host.c — the parts of the `scalespace` executable that the REPL and the Jupyter kernel
 * share; see host.h. */
#define _GNU_SOURCE /* readlink */
#include "host.h"

#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lualib.h>

#include "scalespace.h"

/* ------------------------------------------------------------------ errors */

/* Message handler: the message (or a description of a non-string error) plus a traceback.
 * A nil error object stays nil, and report() prints nothing for it. */
int host_msghandler(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (lua_isnoneornil(L, 1))
        return 1; /* error() without a message: exit 1 silently, as lua 5.1 does (busted relies on it) */
    if (msg == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
            msg = lua_tostring(L, -1);
        else
            msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    /* debug.traceback when it is there (scripts may replace it), luaL_traceback otherwise. */
    lua_pushliteral(L, "debug");
    lua_rawget(L, LUA_GLOBALSINDEX);
    if (lua_istable(L, -1)) {
        lua_getfield(L, -1, "traceback");
        if (lua_isfunction(L, -1)) {
            lua_pushstring(L, msg);
            lua_pushinteger(L, 2);
            lua_call(L, 2, 1);
            if (lua_type(L, -1) == LUA_TSTRING)
                return 1;
        }
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

/* ------------------------------------------------------------------ interruption */

static void lstop(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    lua_sethook(L, NULL, 0, 0);
    luaL_error(L, "interrupted!");
}

void host_interrupt(lua_State *L)
{
    ss_interrupt_request();
    if (L != NULL)
        lua_sethook(L, lstop, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

void host_interrupt_done(lua_State *L)
{
    if (lua_gethook(L) == lstop) /* a Ctrl-C that arrived after the last hook */
        lua_sethook(L, NULL, 0, 0);
    ss_interrupt_clear();
}

/* ------------------------------------------------------------------ host setup */

/* os.exit([code [, close]]): as LuaJIT's, except that the state is closed unless close is false,
 * so finalizers (ffi.gc: tensors, device memory) run before the process exits. */
static int host_exit(lua_State *L)
{
    int status = EXIT_SUCCESS;
    if (lua_isboolean(L, 1))
        status = lua_toboolean(L, 1) ? EXIT_SUCCESS : EXIT_FAILURE;
    else if (!lua_isnoneornil(L, 1))
        status = (int)luaL_checkinteger(L, 1);
    if (lua_isnoneornil(L, 2) || lua_toboolean(L, 2)) {
        sigset_t block; /* a SIGINT handler must not reach into the closed state */
        sigemptyset(&block);
        sigaddset(&block, SIGINT);
        sigprocmask(SIG_BLOCK, &block, NULL);
        lua_close(L);
    }
    exit(status);
}

/* package.path = $SCALESPACE_LUA_PATH; <exe_dir>/lua/...; <exe_dir>/../share/scalespace/lua/...;
 * then LuaJIT's own path. */
void host_setup(lua_State *L, const char *argv0)
{
    char exe[PATH_MAX], dir[PATH_MAX], *slash;
    const char *env = getenv("SCALESPACE_LUA_PATH");
    int n = 0;
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0)
        exe[len] = '\0';
    else if (!(strchr(argv0, '/') != NULL && realpath(argv0, exe) != NULL)) /* no /proc */
        exe[0] = '\0';
    memcpy(dir, exe, strlen(exe) + 1);
    slash = strrchr(dir, '/');
    if (slash != NULL)
        slash[slash == dir] = '\0'; /* "/scalespace" -> "/" */
    else
        dir[0] = '\0';

    lua_getglobal(L, "package");
    if (lua_istable(L, -1)) {
        if (env != NULL && env[0] != '\0') {
            lua_pushstring(L, env);
            lua_pushstring(L, env[strlen(env) - 1] == ';' ? "" : ";");
            n += 2;
        }
        if (dir[0] != '\0') {
            lua_pushfstring(L, "%s/lua/?.lua;%s/lua/?/init.lua;"
                               "%s/../share/scalespace/lua/?.lua;%s/../share/scalespace/lua/?/init.lua;",
                            dir, dir, dir, dir);
            n++;
        }
        lua_getfield(L, -1 - n, "path");
        if (lua_type(L, -1) != LUA_TSTRING) {
            lua_pop(L, 1);
            lua_pushliteral(L, "");
        }
        lua_concat(L, n + 1);
        lua_setfield(L, -2, "path");
    }
    lua_pop(L, 1);

    lua_getglobal(L, "os");
    if (lua_istable(L, -1)) {
        lua_pushcfunction(L, host_exit);
        lua_setfield(L, -2, "exit");
    }
    lua_pop(L, 1);

    lua_getfield(L, LUA_REGISTRYINDEX, "_LOADED");
    if (lua_istable(L, -1)) {
        lua_createtable(L, 0, 4);
        lua_pushstring(L, exe[0] != '\0' ? exe : argv0);
        lua_setfield(L, -2, "exe");
        lua_pushstring(L, dir);
        lua_setfield(L, -2, "exe_dir");
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "has_lib");
        lua_pushstring(L, SS_VERSION_STRING);
        lua_setfield(L, -2, "version");
        lua_setfield(L, -2, "scalespace.host");
    }
    lua_pop(L, 1);
}


/* ------------------------------------------------------------------ chunks */

/* If s[i] opens a long bracket ([[, [==[), returns the index after its close (or n);
 * otherwise returns i. */
static size_t skip_long_bracket(const char *s, size_t n, size_t i)
{
    size_t j = i + 1, level = 0;
    if (i >= n || s[i] != '[')
        return i;
    for (; j < n && s[j] == '='; j++)
        level++;
    if (j >= n || s[j] != '[')
        return i;
    for (j++; j < n; j++) {
        size_t k = j + 1, l2 = 0;
        if (s[j] != ']')
            continue;
        for (; k < n && s[k] == '='; k++)
            l2++;
        if (l2 == level && k < n && s[k] == ']')
            return k + 1;
    }
    return n;
}

static int is_alnum_(char c)
{
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static int word_is(const char *w, size_t len, const char *kw)
{
    return len == strlen(kw) && memcmp(w, kw, len) == 0;
}

/* Strings and comments are skipped; blocks are counted by function/do/if/repeat against
 * end/until. */
int host_push_globalized(lua_State *L, const char *s, size_t n)
{
    size_t i = 0;
    int depth = 0;
    char *copy = NULL;
    while (i < n) {
        char c = s[i];
        size_t j;
        if (c == '-' && i + 1 < n && s[i + 1] == '-') { /* comment, long or to the end of line */
            j = skip_long_bracket(s, n, i + 2);
            if (j != i + 2)
                i = j;
            else
                while (i < n && s[i] != '\n')
                    i++;
        } else if (c == '[') { /* long string, or an index */
            j = skip_long_bracket(s, n, i);
            i = j != i ? j : i + 1;
        } else if (c == '"' || c == '\'') {
            for (i++; i < n && s[i] != c && s[i] != '\n'; i++)
                if (s[i] == '\\')
                    i++;
            i++;
        } else if (c >= '0' && c <= '9') { /* a number, 1e-5 and 0x1p4 included */
            while (i < n && (is_alnum_(s[i]) || s[i] == '.'))
                i++;
        } else if (is_alnum_(c)) {
            for (j = i; j < n && is_alnum_(s[j]); j++)
                ;
            if (word_is(s + i, j - i, "function") || word_is(s + i, j - i, "do") ||
                word_is(s + i, j - i, "if") || word_is(s + i, j - i, "repeat")) {
                depth++;
            } else if (word_is(s + i, j - i, "end") || word_is(s + i, j - i, "until")) {
                depth -= depth > 0;
            } else if (depth == 0 && word_is(s + i, j - i, "local")) {
                if (copy == NULL) {
                    copy = (char *)lua_newuserdata(L, n);
                    memcpy(copy, s, n);
                }
                memset(copy + i, ' ', 5);
            }
            i = j;
        } else {
            i++;
        }
    }
    if (copy == NULL)
        return 0;
    lua_pushlstring(L, copy, n);
    lua_remove(L, -2); /* the userdata copy */
    return 1;
}

int host_incomplete(lua_State *L, int status)
{
    size_t lmsg, le = sizeof "'<eof>'" - 1;
    const char *msg = lua_tolstring(L, -1, &lmsg);
    return status == LUA_ERRSYNTAX && msg != NULL && lmsg >= le && strcmp(msg + lmsg - le, "'<eof>'") == 0;
}


int host_load_expression(lua_State *L, const char *s, size_t n, const char *chunkname)
{
    size_t len;
    const char *text;
    int status;
    lua_pushliteral(L, "return (function(...) return ... end)(");
    lua_pushlstring(L, s, n);
    lua_pushliteral(L, "\n)");
    lua_concat(L, 3);
    text = lua_tolstring(L, -1, &len);
    status = luaL_loadbuffer(L, text, len, chunkname);
    lua_remove(L, -2);
    return status;
}

/* ------------------------------------------------------------------ completion */

/* Completion of globals, table fields (a.b.c) and methods (a:b), evaluated in Lua. */
static const char completer_src[] =
    "local text = ...\n"
    "local path, sep, prefix = text:match('^(.-)([%.:]?)([%w_]*)$')\n"
    "if not path then return {} end\n"
    "local obj = _G\n"
    "if sep ~= '' then\n"
    "  if path == '' then return {} end\n"
    "  for name in (path .. '.'):gmatch('([^.:]*)[.:]') do\n"
    "    if name == '' or (type(obj) ~= 'table' and type(obj) ~= 'userdata') then return {} end\n"
    "    obj = obj[name]\n"
    "  end\n"
    "end\n"
    "local seen, out = {}, {}\n"
    "local function add(t)\n"
    "  for _ = 1, 8 do\n"
    "    if type(t) ~= 'table' then return end\n"
    "    for k, v in pairs(t) do\n"
    "      if type(k) == 'string' and not seen[k] and k:match('^[%a_][%w_]*$')\n"
    "         and k:sub(1, #prefix) == prefix and (sep ~= ':' or type(v) == 'function') then\n"
    "        seen[k] = true; out[#out + 1] = path .. sep .. k\n"
    "      end\n"
    "    end\n"
    "    local mt = getmetatable(t)\n"
    "    t = type(mt) == 'table' and rawget(mt, '__index') or nil\n"
    "  end\n"
    "end\n"
    "if type(obj) == 'table' then add(obj)\n"
    "elseif type(obj) == 'cdata' then\n" /* tensors, RNGs: the *_methods tables of scalespace.tensor */
    "  local tm = package.loaded['scalespace.tensor']\n"
    "  for name, m in pairs(type(tm) == 'table' and tm or {}) do\n"
    "    if type(m) == 'table' and tostring(name):match('_methods$') then\n"
    "      for k, v in pairs(m) do if type(v) == 'function' then\n"
    "        local ok, got = pcall(function() return obj[k] end)\n"
    "        if ok and got == v then add(m) end; break end end\n"
    "    end\n"
    "  end\n"
    "elseif obj ~= nil then local mt = getmetatable(obj)\n"
    "  if type(mt) == 'table' then add(rawget(mt, '__index')) end end\n"
    "if sep == '' then\n"
    "  for w in ('and break do else elseif end false for function if in local nil not or '\n"
    "            .. 'repeat return then true until while'):gmatch('%a+') do\n"
    "    if w:sub(1, #prefix) == prefix and not seen[w] then out[#out + 1] = w end\n"
    "  end\n"
    "end\n"
    "table.sort(out)\n"
    "return out\n";


void host_push_completions(lua_State *L, const char *text)
{
    int top = lua_gettop(L);
    if (luaL_loadbuffer(L, completer_src, sizeof completer_src - 1, "=completion") == 0) {
        lua_pushstring(L, text);
        if (lua_pcall(L, 1, 1, 0) == 0 && lua_istable(L, -1))
            return;
    }
    lua_settop(L, top);
    lua_newtable(L);
}

/* ------------------------------------------------------------------ printing values */

int host_format_values(lua_State *L)
{
    int n = lua_gettop(L), i;
    luaL_checkstack(L, 2 * n + 4, "too many values to print");
    lua_getglobal(L, "require");
    lua_pushliteral(L, "scalespace.display");
    if (lua_pcall(L, 1, 1, 0) == 0 && lua_istable(L, -1))
        lua_getfield(L, -1, "repr");
    else
        lua_pushnil(L);
    lua_remove(L, -2); /* the module, or the error */
    if (!lua_isfunction(L, -1)) {
        lua_pop(L, 1);
        lua_getglobal(L, "tostring");
    }
    for (i = 1; i <= n; i++) {
        if (i > 1)
            lua_pushliteral(L, "\t");
        lua_pushvalue(L, n + 1);
        lua_pushvalue(L, i);
        lua_call(L, 1, 1);
        if (lua_type(L, -1) != LUA_TSTRING)
            return luaL_error(L, "'tostring' must return a string to be printed");
    }
    lua_concat(L, n > 0 ? 2 * n - 1 : 0);
    return 1;
}
