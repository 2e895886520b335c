/* kernel.c — the Jupyter kernel (messaging protocol 5.3): one Lua state for the kernel's
 * lifetime, set up as the REPL's (host.c), so a `local` of one cell is seen by the next.
 *
 * The main thread runs Lua and answers the shell socket and the control requests the control
 * thread passes on (kernel_io.c). Each request is wrapped in `busy` and `idle` on iopub; an
 * execute_request publishes execute_input, then the cell's outputs as it runs, then its
 * execute_result or error, then a barrier makes sure every output is out before the reply
 * and `idle`.
 *
 * Interrupts (interrupt_mode "signal", and interrupt_request on control, which the control
 * thread turns into SIGINT for this thread): while a cell runs, SIGINT interrupts it as in
 * the REPL (host_interrupt: a hook for interpreted code, the library's interrupt flag for
 * everything that calls into C); between cells it is ignored. Unlike the REPL, a second
 * SIGINT does not kill the kernel: a pure-Lua JIT loop needs Jupyter's restart.
 *
 * Lua reaches the notebook through package.loaded["scalespace.kernel"]: send(msg_type,
 * content) publishes on iopub with the current request as parent, base64(s), uuid() and
 * execution_count(). scalespace.display builds its messages on these. */
#define _GNU_SOURCE
#include "kernel.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <lauxlib.h>
#include <lua.h>
#include <luajit.h>
#include <lualib.h>
#include <sodium.h>
#include <zmq.h>

#include "host.h"
#include "kernel_io.h"
#include "kernel_wire.h"
#include "scalespace.h"

/* How many line starts, from the end of a cell, may begin its last expression. */
#define SPLIT_TRIES 40

static struct {
    lua_State *L;
    void *ctx, *shell, *stdin_sock;
    kio *io;
    kw_key key;
    char session[37];
    int execution_count;
    const cJSON *parent; /* header of the request being handled */
    int stop;
} K;

static volatile sig_atomic_t executing = 0;

static void on_sigint(int sig)
{
    (void)sig;
    if (executing)
        host_interrupt(K.L);
}

/* ------------------------------------------------------------------ replies */

typedef struct request {
    kw_msg m;
    int control; /* came through the control thread */
} request;

static void reply(const request *r, const char *msg_type, const cJSON *content)
{
    if (r->control) {
        if (kio_reply_control(K.io, &r->m, msg_type, content) < 0)
            kio_log("cannot send %s: %s", msg_type, zmq_strerror(errno));
        return;
    }
    cJSON *h = kw_header(K.session, msg_type);
    if (kw_send(K.shell, &K.key, r->m.ids, r->m.nids, h, r->m.header, NULL, content) < 0)
        kio_log("cannot send %s: %s", msg_type, zmq_strerror(errno));
    cJSON_Delete(h);
}

static void publish(const char *msg_type, cJSON *content)
{
    if (kio_publish(K.io, msg_type, K.parent, content) < 0)
        kio_log("cannot publish %s: %s", msg_type, zmq_strerror(errno));
    cJSON_Delete(content);
}

static void status(const char *state)
{
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "execution_state", state);
    publish("status", c);
}

static cJSON *ok_content(void)
{
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "status", "ok");
    return c;
}

/* The string field `name` of the request's content, "" when absent. */
static const char *field_string(const request *r, const char *name, size_t *len)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(r->m.content, name);
    const char *s = cJSON_IsString(v) ? v->valuestring : "";
    if (len) *len = strlen(s);
    return s;
}

static int field_bool(const request *r, const char *name, int dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(r->m.content, name);
    return cJSON_IsBool(v) ? cJSON_IsTrue(v) : dflt;
}

/* The byte offset of code point `cp` in the UTF-8 text s (cursor_pos counts code points). */
static size_t byte_offset(const char *s, size_t n, double cp)
{
    size_t i = 0;
    for (double k = 0; i < n && k < cp; k++)
        for (i++; i < n && ((unsigned char)s[i] & 0xc0) == 0x80; i++)
            ;
    return i;
}

static int is_name_char(char c)
{
    return c == '_' || c == '.' || c == ':' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* ------------------------------------------------------------------ Lua values as JSON */

/* The Lua value at idx as JSON: tables with string keys are objects, lists arrays ({} is an
 * object). NULL with *err set for what JSON cannot hold. */
static cJSON *to_json(lua_State *L, int idx, int depth, const char **err)
{
    idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
    if (depth > 32) {
        *err = "the table nests too deeply (a cycle?)";
        return NULL;
    }
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        return cJSON_CreateNull();
    case LUA_TBOOLEAN:
        return cJSON_CreateBool(lua_toboolean(L, idx));
    case LUA_TNUMBER: {
        double v = lua_tonumber(L, idx);
        return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull();
    }
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        return kw_string(s, n);
    }
    case LUA_TTABLE: {
        size_t n = lua_objlen(L, idx), count = 0;
        cJSON *out, *item;
        lua_pushnil(L);
        while (lua_next(L, idx)) {
            count++;
            lua_pop(L, 1);
        }
        if (n > 0 && count == n) { /* a list */
            out = cJSON_CreateArray();
            for (size_t i = 1; i <= n; i++) {
                lua_rawgeti(L, idx, (int)i);
                item = to_json(L, -1, depth + 1, err);
                lua_pop(L, 1);
                if (!item) {
                    cJSON_Delete(out);
                    return NULL;
                }
                cJSON_AddItemToArray(out, item);
            }
            return out;
        }
        out = cJSON_CreateObject();
        lua_pushnil(L);
        while (lua_next(L, idx)) {
            item = lua_type(L, -2) == LUA_TSTRING ? to_json(L, -1, depth + 1, err) : NULL;
            if (!item) {
                if (lua_type(L, -2) != LUA_TSTRING)
                    *err = "a table with keys other than strings (or a list with holes)";
                lua_pop(L, 2);
                cJSON_Delete(out);
                return NULL;
            }
            cJSON_AddItemToObject(out, lua_tostring(L, -2), item);
            lua_pop(L, 1);
        }
        return out;
    }
    default:
        *err = lua_typename(L, lua_type(L, idx)); /* "cannot send a <type>" */
        return NULL;
    }
}

/* ------------------------------------------------------------------ the Lua module */

/* kernel.send(msg_type, content): publishes on iopub with the running request as parent. */
static int l_send(lua_State *L)
{
    const char *type = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    const char *err = NULL;
    cJSON *c = to_json(L, 2, 0, &err);
    if (!c)
        return luaL_error(L, "kernel.send: %s%s", strchr(err, ' ') ? "" : "cannot send a ", err);
    publish(type, c);
    return 0;
}

static int l_base64(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    char *out = malloc(cap);
    if (!out)
        return luaL_error(L, "kernel.base64: out of memory for %d bytes", (int)n);
    sodium_bin2base64(out, cap, (const unsigned char *)s, n, sodium_base64_VARIANT_ORIGINAL);
    lua_pushstring(L, out);
    free(out);
    return 1;
}

static int l_uuid(lua_State *L)
{
    char id[37];
    kw_uuid(id);
    lua_pushstring(L, id);
    return 1;
}

static int l_execution_count(lua_State *L)
{
    lua_pushinteger(L, K.execution_count);
    return 1;
}

static void register_module(lua_State *L)
{
    static const luaL_Reg fns[] = {{"send", l_send}, {"base64", l_base64}, {"uuid", l_uuid},
                                   {"execution_count", l_execution_count}, {NULL, NULL}};
    lua_getfield(L, LUA_REGISTRYINDEX, "_LOADED");
    lua_newtable(L);
    luaL_register(L, NULL, fns);
    lua_setfield(L, -2, "scalespace.kernel");
    lua_pop(L, 1);
}

/* ------------------------------------------------------------------ cells */

/* Could a cell's last expression start at t[0..n)? Not when its first token continues the
 * text before it (a binary operator, an index, call arguments) or is a comment. */
static int may_start_expression(const char *t, size_t n)
{
    static const char *const continuing[] = {"and", "or", "then", "do", "end", "else", "elseif", "until", "in", NULL};
    size_t i = 0, j;
    while (i < n && (t[i] == ' ' || t[i] == '\t' || t[i] == '\r' || t[i] == '\n'))
        i++;
    if (i == n || strchr("+-*/%^.:[=<>~,;)]}({\"'", t[i]) != NULL)
        return 0;
    for (j = i; j < n && is_name_char(t[j]) && t[j] != '.' && t[j] != ':'; j++)
        ;
    for (int k = 0; continuing[k]; k++)
        if (j - i == strlen(continuing[k]) && memcmp(t + i, continuing[k], j - i) == 0)
            return 0;
    return 1;
}

/* Compiles a cell: as one expression if it is one; else as statements (top-level locals made
 * global), with the last line(s) returned when they form an expression, so the cell shows
 * its value as Out[n]. Pushes the function (0) or the message of the statements' syntax
 * error (the status). */
static int load_cell(lua_State *L, const char *code, size_t n, const char *name)
{
    if (host_load_expression(L, code, n, name) == 0)
        return 0;
    lua_pop(L, 1);
    int globalized = host_push_globalized(L, code, n);
    const char *g = globalized ? lua_tostring(L, -1) : code; /* same length as code */
    size_t end = n;
    while (end > 0 && strchr(" \t\r\n", g[end - 1]))
        end--;
    for (int tries = 0; end > 0 && tries < SPLIT_TRIES; tries++) {
        size_t p = end;
        while (p > 0 && g[p - 1] != '\n')
            p--;
        if (may_start_expression(g + p, n - p)) {
            int head_ok = luaL_loadbuffer(L, g, p, name) == 0;
            lua_pop(L, 1); /* the head's function or message */
            if (head_ok) {
                lua_pushlstring(L, g, p); /* head; the tail's line keeps its number */
                lua_pushliteral(L, "return (function(...) return ... end)(");
                lua_pushlstring(L, g + p, n - p);
                lua_pushliteral(L, "\n)");
                lua_concat(L, 4);
                size_t len;
                const char *split = lua_tolstring(L, -1, &len);
                if (luaL_loadbuffer(L, split, len, name) == 0) {
                    lua_remove(L, -2); /* the split text */
                    if (globalized)
                        lua_remove(L, -2);
                    return 0;
                }
                lua_pop(L, 2);
            }
        }
        if (p == 0)
            break;
        end = p - 1;
    }
    int st = luaL_loadbuffer(L, g, n, name);
    if (globalized)
        lua_remove(L, -2);
    return st;
}

/* Runs the function on top of the stack with the message handler; LUA_MULTRET results. */
static int run_protected(lua_State *L, int narg)
{
    int base = lua_gettop(L) - narg;
    lua_pushcfunction(L, host_msghandler);
    lua_insert(L, base);
    executing = 1;
    int st = lua_pcall(L, narg, LUA_MULTRET, base);
    executing = 0;
    lua_remove(L, base);
    return st;
}

/* The error message on top of the stack as iopub `error` / reply fields. */
static void add_error_fields(cJSON *c, lua_State *L, int interrupted)
{
    size_t n;
    const char *msg = lua_tolstring(L, -1, &n);
    if (!msg)
        msg = "(error object is not a string)", n = strlen(msg);
    const char *tb = strstr(msg, "\nstack traceback:");
    size_t first = tb ? (size_t)(tb - msg) : n;
    cJSON_AddStringToObject(c, "ename", interrupted ? "Interrupted" : "LuaError");
    cJSON_AddItemToObject(c, "evalue", kw_string(msg, first));
    cJSON *lines = cJSON_CreateArray();
    for (size_t i = 0; i <= n;) {
        const char *nl = memchr(msg + i, '\n', n - i);
        size_t e = nl ? (size_t)(nl - msg) : n;
        cJSON_AddItemToArray(lines, kw_string(msg + i, e - i));
        i = e + 1;
    }
    cJSON_AddItemToObject(c, "traceback", lines);
}

/* {name: {status, data {text/plain}, metadata}} for the request's user_expressions. */
static cJSON *user_expressions(const request *r)
{
    lua_State *L = K.L;
    cJSON *out = cJSON_CreateObject();
    const cJSON *ue = cJSON_GetObjectItemCaseSensitive(r->m.content, "user_expressions");
    const cJSON *e;
    cJSON_ArrayForEach(e, ue)
    {
        if (!cJSON_IsString(e) || !e->string)
            continue;
        int top = lua_gettop(L);
        cJSON *v = cJSON_CreateObject();
        int st = host_load_expression(L, e->valuestring, strlen(e->valuestring), "=user_expression");
        if (st == 0)
            st = run_protected(L, 0);
        if (st == 0) {
            lua_pushcfunction(L, host_format_values);
            lua_insert(L, top + 1);
            st = run_protected(L, lua_gettop(L) - top - 1);
        }
        if (st == 0) {
            cJSON *data = cJSON_CreateObject();
            size_t len;
            const char *s = lua_tolstring(L, -1, &len);
            cJSON_AddItemToObject(data, "text/plain", kw_string(s ? s : "", s ? len : 0));
            cJSON_AddStringToObject(v, "status", "ok");
            cJSON_AddItemToObject(v, "data", data);
            cJSON_AddItemToObject(v, "metadata", cJSON_CreateObject());
        } else {
            cJSON_AddStringToObject(v, "status", "error");
            add_error_fields(v, L, 0);
        }
        host_interrupt_done(L);
        lua_settop(L, top);
        cJSON_AddItemToObject(out, e->string, v);
    }
    return out;
}

/* ------------------------------------------------------------------ handlers */

static void on_kernel_info(request *r)
{
    cJSON *c = ok_content(), *li = cJSON_CreateObject();
    char banner[256];
    cJSON_AddStringToObject(c, "protocol_version", "5.3");
    cJSON_AddStringToObject(c, "implementation", "scalespace");
    cJSON_AddStringToObject(c, "implementation_version", SS_VERSION_STRING);
    cJSON_AddStringToObject(li, "name", "lua");
    cJSON_AddStringToObject(li, "version", "5.1");
    cJSON_AddStringToObject(li, "mimetype", "text/x-lua");
    cJSON_AddStringToObject(li, "file_extension", ".lua");
    cJSON_AddStringToObject(li, "pygments_lexer", "lua");
    cJSON_AddStringToObject(li, "codemirror_mode", "lua");
    cJSON_AddItemToObject(c, "language_info", li);
    snprintf(banner, sizeof banner, "scalespace %s \xe2\x80\x94 %s; local ss = require \"scalespace\"", SS_VERSION_STRING,
             LUAJIT_VERSION);
    cJSON_AddStringToObject(c, "banner", banner);
    cJSON_AddItemToObject(c, "help_links", cJSON_CreateArray());
    reply(r, "kernel_info_reply", c);
    cJSON_Delete(c);
}

static void on_complete(request *r)
{
    size_t n;
    const char *code = field_string(r, "code", &n);
    const cJSON *cp = cJSON_GetObjectItemCaseSensitive(r->m.content, "cursor_pos");
    double cursor = cJSON_IsNumber(cp) ? cp->valuedouble : (double)n;
    size_t end = byte_offset(code, n, cursor), start = end;
    while (start > 0 && is_name_char(code[start - 1]))
        start--;
    lua_State *L = K.L;
    lua_pushlstring(L, code + start, end - start);
    host_push_completions(L, lua_tostring(L, -1));
    cJSON *c = ok_content(), *matches = cJSON_CreateArray();
    for (int i = 1;; i++) {
        lua_rawgeti(L, -1, i);
        if (lua_type(L, -1) != LUA_TSTRING) {
            lua_pop(L, 1);
            break;
        }
        cJSON_AddItemToArray(matches, cJSON_CreateString(lua_tostring(L, -1)));
        lua_pop(L, 1);
    }
    lua_pop(L, 2);
    cJSON_AddItemToObject(c, "matches", matches);
    cJSON_AddNumberToObject(c, "cursor_start", cursor - (double)(end - start)); /* the word is ASCII */
    cJSON_AddNumberToObject(c, "cursor_end", cursor);
    cJSON_AddItemToObject(c, "metadata", cJSON_CreateObject());
    reply(r, "complete_reply", c);
    cJSON_Delete(c);
}

/* complete when it compiles as a cell; incomplete when its syntax error is at the end, also
 * as `return <code>` (so `1 +` is unfinished); else invalid. */
static void on_is_complete(request *r)
{
    lua_State *L = K.L;
    size_t n;
    const char *code = field_string(r, "code", &n);
    const char *verdict = "complete";
    int top = lua_gettop(L), st = load_cell(L, code, n, "=cell");
    if (st != 0) {
        verdict = "invalid";
        if (host_incomplete(L, st)) {
            verdict = "incomplete";
        } else {
            lua_pushliteral(L, "return ");
            lua_pushlstring(L, code, n);
            lua_concat(L, 2);
            size_t len;
            const char *s = lua_tolstring(L, -1, &len);
            if (host_incomplete(L, luaL_loadbuffer(L, s, len, "=cell")))
                verdict = "incomplete";
        }
    }
    lua_settop(L, top);
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "status", verdict);
    if (strcmp(verdict, "incomplete") == 0)
        cJSON_AddStringToObject(c, "indent", "  ");
    reply(r, "is_complete_reply", c);
    cJSON_Delete(c);
}

/* The text inspect shows for a dotted name: scalespace.display.describe of its value. */
static const char inspect_src[] =
    "local name = ...\n"
    "local obj = _G\n"
    "for part in name:gmatch('[^.:]+') do\n"
    "  local t = type(obj)\n"
    "  if t ~= 'table' and t ~= 'userdata' and t ~= 'cdata' and t ~= 'string' then return nil end\n"
    "  local ok, v = pcall(function() return obj[part] end)\n"
    "  if not ok or v == nil then return nil end\n"
    "  obj = v\n"
    "end\n"
    "local ok, d = pcall(require, 'scalespace.display')\n"
    "if ok and type(d) == 'table' and d.describe then return d.describe(obj, name) end\n"
    "return tostring(obj)\n";

/* {"text/plain": description} of the value that name[0..n) names, or NULL. */
static cJSON *describe(const char *name, size_t n)
{
    lua_State *L = K.L;
    cJSON *data = NULL;
    int top = lua_gettop(L);
    if (n > 0 && luaL_loadbuffer(L, inspect_src, sizeof inspect_src - 1, "=inspect") == 0) {
        lua_pushlstring(L, name, n);
        if (run_protected(L, 1) == 0 && lua_type(L, -1) == LUA_TSTRING) {
            size_t len;
            const char *s = lua_tolstring(L, -1, &len);
            data = cJSON_CreateObject();
            cJSON_AddItemToObject(data, "text/plain", kw_string(s, len));
        }
    }
    host_interrupt_done(L);
    lua_settop(L, top);
    return data;
}

/* `name?` or `?name` (IPython's help): the length of the name at *start, else 0. */
static size_t help_request(const char *code, size_t n, size_t *start)
{
    size_t i = 0, e = n, marks = 0;
    while (i < n && strchr(" \t\r\n", code[i]))
        i++;
    while (e > i && strchr(" \t\r\n", code[e - 1]))
        e--;
    for (; i < e && code[i] == '?'; i++)
        marks++;
    for (; e > i && code[e - 1] == '?'; e--)
        marks++;
    for (size_t k = i; k < e; k++)
        if (!is_name_char(code[k]))
            return 0;
    *start = i;
    return marks > 0 ? e - i : 0;
}

static void on_inspect(request *r)
{
    size_t n;
    const char *code = field_string(r, "code", &n);
    const cJSON *cp = cJSON_GetObjectItemCaseSensitive(r->m.content, "cursor_pos");
    size_t at = byte_offset(code, n, cJSON_IsNumber(cp) ? cp->valuedouble : (double)n), start = at, end = at;
    while (start > 0 && is_name_char(code[start - 1]))
        start--;
    while (end < n && is_name_char(code[end]) && code[end] != '.' && code[end] != ':')
        end++;
    cJSON *c = ok_content(), *data = describe(code + start, end - start);
    int found = data != NULL;
    if (!data)
        data = cJSON_CreateObject();
    cJSON_AddBoolToObject(c, "found", found);
    cJSON_AddItemToObject(c, "data", data);
    cJSON_AddItemToObject(c, "metadata", cJSON_CreateObject());
    reply(r, "inspect_reply", c);
    cJSON_Delete(c);
}

static void on_execute(request *r)
{
    lua_State *L = K.L;
    size_t n;
    const char *code = field_string(r, "code", &n);
    int silent = field_bool(r, "silent", 0), store = field_bool(r, "store_history", !silent) && !silent;
    if (store)
        K.execution_count++;
    if (!silent) {
        cJSON *c = cJSON_CreateObject();
        cJSON_AddItemToObject(c, "code", kw_string(code, n));
        cJSON_AddNumberToObject(c, "execution_count", K.execution_count);
        publish("execute_input", c);
    }
    kio_set_parent(K.io, K.parent);

    size_t hstart, hlen = help_request(code, n, &hstart);
    cJSON *page = hlen > 0 ? describe(code + hstart, hlen) : NULL;
    char name[32];
    snprintf(name, sizeof name, "=In[%d]", K.execution_count);
    int top = lua_gettop(L);
    host_interrupt_done(L); /* a Ctrl-C between cells is not for this one */
    int st = 0;
    if (hlen > 0 && !page) {
        lua_pushlstring(L, code + hstart, hlen);
        lua_pushliteral(L, ": nothing of that name");
        lua_concat(L, 2);
        st = LUA_ERRRUN;
    } else if (!page) {
        st = load_cell(L, code, n, name);
        if (st == 0)
            st = run_protected(L, 0);
    }
    if (st == 0 && lua_gettop(L) > top && !silent) {
        lua_pushcfunction(L, host_format_values);
        lua_insert(L, top + 1);
        st = run_protected(L, lua_gettop(L) - top - 1);
        if (st == 0) {
            cJSON *c = cJSON_CreateObject(), *data = cJSON_CreateObject();
            size_t len;
            const char *s = lua_tolstring(L, -1, &len);
            cJSON_AddNumberToObject(c, "execution_count", K.execution_count);
            cJSON_AddItemToObject(data, "text/plain", kw_string(s, len));
            cJSON_AddItemToObject(c, "data", data);
            cJSON_AddItemToObject(c, "metadata", cJSON_CreateObject());
            publish("execute_result", c);
        }
    }
    int interrupted = ss_interrupt_requested();
    host_interrupt_done(L);
    cJSON *c = cJSON_CreateObject();
    if (st != 0) {
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            lua_pushliteral(L, "(error object is a nil value)");
        }
        cJSON *e = cJSON_CreateObject();
        add_error_fields(e, L, interrupted);
        publish("error", e);
        cJSON_AddStringToObject(c, "status", "error");
        cJSON_AddNumberToObject(c, "execution_count", K.execution_count);
        add_error_fields(c, L, interrupted);
    } else {
        cJSON *payload = cJSON_CreateArray();
        if (page) { /* the notebook shows it in its pager */
            cJSON *p = cJSON_CreateObject();
            cJSON_AddStringToObject(p, "source", "page");
            cJSON_AddItemToObject(p, "data", page);
            cJSON_AddNumberToObject(p, "start", 0);
            cJSON_AddItemToArray(payload, p);
        }
        cJSON_AddStringToObject(c, "status", "ok");
        cJSON_AddNumberToObject(c, "execution_count", K.execution_count);
        cJSON_AddItemToObject(c, "payload", payload);
    }
    lua_settop(L, top);
    if (st == 0)
        cJSON_AddItemToObject(c, "user_expressions", user_expressions(r));
    lua_gc(L, LUA_GCSTEP, 0);
    kio_barrier(K.io); /* every output of the cell before its reply and `idle` */
    reply(r, "execute_reply", c);
    cJSON_Delete(c);
}

static void on_comm_info(request *r)
{
    cJSON *c = ok_content();
    cJSON_AddItemToObject(c, "comms", cJSON_CreateObject());
    reply(r, "comm_info_reply", c);
    cJSON_Delete(c);
}

static void on_history(request *r)
{
    cJSON *c = ok_content();
    cJSON_AddItemToObject(c, "history", cJSON_CreateArray());
    reply(r, "history_reply", c);
    cJSON_Delete(c);
}

static void on_shutdown(request *r)
{
    cJSON *c = ok_content();
    cJSON_AddBoolToObject(c, "restart", field_bool(r, "restart", 0));
    reply(r, "shutdown_reply", c);
    publish("shutdown_reply", c); /* as ipykernel: clients may watch iopub for it */
    K.stop = 1;
}

/* An interrupt_request on the shell socket (the control thread answers those on control). */
static void on_interrupt(request *r)
{
    cJSON *c = ok_content();
    reply(r, "interrupt_reply", c);
    cJSON_Delete(c);
}

/* Requests by type; a new one is a new entry. */
static const struct {
    const char *type;
    void (*fn)(request *);
} handlers[] = {
    {"kernel_info_request", on_kernel_info}, {"execute_request", on_execute},   {"complete_request", on_complete},
    {"is_complete_request", on_is_complete}, {"inspect_request", on_inspect},   {"comm_info_request", on_comm_info},
    {"history_request", on_history},         {"shutdown_request", on_shutdown}, {"interrupt_request", on_interrupt},
};

/* Receives and handles one request from sock, between `busy` and `idle`. */
static void handle(void *sock, int control)
{
    request r = {.control = control};
    char err[256];
    int rc = kw_recv(sock, &K.key, &r.m, err, sizeof err);
    if (rc == KW_BAD)
        kio_log("%s: %s", control ? "control" : "shell", err);
    if (rc != KW_OK)
        return;
    size_t i, nh = sizeof handlers / sizeof handlers[0];
    for (i = 0; i < nh && strcmp(handlers[i].type, r.m.msg_type) != 0; i++)
        ;
    if (i == nh) {
        if (strncmp(r.m.msg_type, "comm_", 5) != 0) /* comms are not supported: nothing to say */
            kio_log("ignoring a %s", r.m.msg_type);
    } else {
        K.parent = r.m.header;
        status("busy");
        handlers[i].fn(&r);
        status("idle");
        K.parent = NULL;
    }
    kw_msg_free(&r.m);
}

/* ------------------------------------------------------------------ start and stop */

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    for (size_t r; buf && (r = fread(buf + n, 1, cap - n - 1, f)) > 0;) {
        n += r;
        if (n + 1 == cap) {
            char *b = realloc(buf, cap *= 2);
            if (!b) free(buf);
            buf = b;
        }
    }
    fclose(f);
    if (buf)
        buf[n] = '\0';
    return buf;
}

/* The endpoint of port field `name` into ep, or -1 with a message. */
static int endpoint(char *ep, size_t n, const cJSON *conn, const char *name, const char *path)
{
    const cJSON *port = cJSON_GetObjectItemCaseSensitive(conn, name);
    const cJSON *ip = cJSON_GetObjectItemCaseSensitive(conn, "ip");
    const cJSON *tr = cJSON_GetObjectItemCaseSensitive(conn, "transport");
    const char *transport = cJSON_IsString(tr) ? tr->valuestring : "tcp";
    if (!cJSON_IsNumber(port) || !cJSON_IsString(ip)) {
        fprintf(stderr, "scalespace: %s: no %s or ip in the connection file\n", path, name);
        return -1;
    }
    if (strcmp(transport, "ipc") == 0)
        snprintf(ep, n, "ipc://%s-%d", ip->valuestring, port->valueint);
    else
        snprintf(ep, n, "%s://%s:%d", transport, ip->valuestring, port->valueint);
    return 0;
}

static void *bind_socket(int type, const char *ep)
{
    void *s = zmq_socket(K.ctx, type);
    int linger = 1000;
    if (s)
        zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    if (s && zmq_bind(s, ep) == 0)
        return s;
    fprintf(stderr, "scalespace: cannot bind %s: %s\n", ep, zmq_strerror(errno));
    if (s)
        zmq_close(s);
    return NULL;
}

static int pmain(lua_State *L)
{
    const char *argv0 = lua_touserdata(L, 1);
    lua_gc(L, LUA_GCSTOP, 0);
    luaL_openlibs(L);
    lua_gc(L, LUA_GCRESTART, -1);
    host_setup(L, argv0);
    lua_createtable(L, 0, 1); /* arg[0]: the interpreter, as in the REPL */
    lua_pushstring(L, argv0);
    lua_rawseti(L, -2, 0);
    lua_setglobal(L, "arg");
    register_module(L);
    return 0;
}

int kernel_main(const char *argv0, const char *path)
{
    char eps[5][512], err[256];
    static const char *const ports[5] = {"shell_port", "stdin_port", "iopub_port", "hb_port", "control_port"};
    char *text = read_file(path);
    if (!text) {
        fprintf(stderr, "scalespace: --kernel: cannot read the connection file %s: %s\n", path, strerror(errno));
        return 1;
    }
    cJSON *conn = cJSON_Parse(text);
    free(text);
    if (!cJSON_IsObject(conn)) {
        fprintf(stderr, "scalespace: --kernel: %s is not a JSON connection file\n", path);
        cJSON_Delete(conn);
        return 1;
    }
    const cJSON *key = cJSON_GetObjectItemCaseSensitive(conn, "key");
    const cJSON *scheme = cJSON_GetObjectItemCaseSensitive(conn, "signature_scheme");
    int bad = sodium_init() < 0;
    for (int i = 0; !bad && i < 5; i++)
        bad = endpoint(eps[i], sizeof eps[i], conn, ports[i], path) < 0;
    if (!bad && cJSON_IsString(key) && key->valuestring[0] != '\0' && cJSON_IsString(scheme) &&
        strcmp(scheme->valuestring, "hmac-sha256") != 0) {
        fprintf(stderr, "scalespace: --kernel: signature scheme %s is not supported (only hmac-sha256)\n",
                scheme->valuestring);
        bad = 1;
    }
    if (!bad) {
        K.key.len = cJSON_IsString(key) ? strlen(key->valuestring) : 0;
        K.key.bytes = (unsigned char *)strdup(K.key.len ? key->valuestring : "");
    }
    cJSON_Delete(conn);
    if (bad)
        return 1;
    kw_uuid(K.session);

    /* io.read() must not wait on a pipe nobody writes: it sees the end of input */
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) {
        dup2(devnull, 0);
        if (devnull != 0)
            close(devnull);
    }
    K.ctx = zmq_ctx_new();
    if (!K.ctx || !(K.shell = bind_socket(ZMQ_ROUTER, eps[0])) || !(K.stdin_sock = bind_socket(ZMQ_ROUTER, eps[1]))) {
        if (K.shell) zmq_close(K.shell);
        if (K.ctx) zmq_ctx_term(K.ctx);
        free(K.key.bytes);
        return 1;
    }
    K.io = kio_start(K.ctx, eps[2], eps[3], eps[4], &K.key, K.session, err, sizeof err);
    if (!K.io) {
        fprintf(stderr, "scalespace: --kernel: %s\n", err);
        zmq_close(K.shell);
        zmq_close(K.stdin_sock);
        zmq_ctx_term(K.ctx);
        free(K.key.bytes);
        return 1;
    }

    int status_code = 0;
    K.L = luaL_newstate();
    if (!K.L || lua_cpcall(K.L, pmain, (void *)argv0) != 0) {
        kio_log("cannot create the Lua state%s%s", K.L ? ": " : "", K.L ? lua_tostring(K.L, -1) : "");
        status_code = 1;
        K.stop = 1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, NULL);
    if (!K.stop) {
        K.parent = NULL;
        status("starting");
    }
    while (!K.stop) {
        zmq_pollitem_t items[3] = {{kio_control(K.io), 0, ZMQ_POLLIN, 0}, {K.shell, 0, ZMQ_POLLIN, 0},
                                   {K.stdin_sock, 0, ZMQ_POLLIN, 0}};
        if (zmq_poll(items, 3, -1) < 0) {
            if (errno == EINTR)
                continue;
            kio_log("poll failed: %s", zmq_strerror(errno));
            status_code = 1;
            break;
        }
        if (items[0].revents & ZMQ_POLLIN)
            handle(kio_control(K.io), 1);
        else if (items[1].revents & ZMQ_POLLIN)
            handle(K.shell, 0);
        if (items[2].revents & ZMQ_POLLIN) { /* an input_reply nobody asked for: drop it */
            kw_msg m;
            if (kw_recv(K.stdin_sock, &K.key, &m, err, sizeof err) == KW_OK)
                kw_msg_free(&m);
        }
    }
    signal(SIGINT, SIG_IGN);
    if (K.L)
        lua_close(K.L); /* finalizers: tensors, files */
    K.L = NULL;
    kio_stop(K.io);
    zmq_close(K.shell);
    zmq_close(K.stdin_sock);
    zmq_ctx_term(K.ctx);
    free(K.key.bytes);
    return status_code;
}
