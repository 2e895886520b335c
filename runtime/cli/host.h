/* host.h — what the REPL (main.c) and the Jupyter kernel (kernel.c) share: the Lua state's
 * set-up, the error message handler, interruption, the incomplete-chunk test, top-level
 * locals made global, the completer and the printing of values. Not part of the library. */
#ifndef SS_CLI_HOST_H
#define SS_CLI_HOST_H

#include <stddef.h>

#include <lua.h>

#ifndef SS_VERSION_STRING
#define SS_VERSION_STRING "unknown"
#endif

/* package.path gets the Lua tree next to the executable ($SCALESPACE_LUA_PATH in front),
 * package.loaded["scalespace.host"] = {exe=, exe_dir=, has_lib=true, version=}, and
 * os.exit closes the state (finalizers run) unless its second argument is false. */
void host_setup(lua_State *L, const char *argv0);

/* lua_pcall message handler: the message (or a description of a non-string error object)
 * with a traceback; a nil error stays nil. */
int host_msghandler(lua_State *L);

/* Interrupts the Lua code running in L: an "interrupted!" error at the next hook
 * (interpreted code) and the library's interrupt request (C calls fail with "interrupted",
 * which reaches JIT-compiled loops too). Async-signal-safe: for SIGINT handlers. */
void host_interrupt(lua_State *L);
/* After the interrupted (or any) call has returned: the hook removed, the request cleared. */
void host_interrupt_done(lua_State *L);

/* 1 when the compile status and message on top of the stack say the chunk is incomplete:
 * its syntax error is at the end of the text. */
int host_incomplete(lua_State *L, int status);

/* Blanks every top-level `local` keyword of s[0..n) (the text keeps its length), so that a
 * `local x` of a REPL line or notebook cell is a global the next one sees. Pushes the new text
 * and returns 1, or returns 0 and pushes nothing when there is no top-level `local`. */
int host_push_globalized(lua_State *L, const char *s, size_t n);

/* Compiles s[0..n) as `return <s>` through an identity call (so `return error(...)` keeps its
 * position): pushes the function and returns 0, or pushes the message and returns the status. */
int host_load_expression(lua_State *L, const char *s, size_t n, const char *chunkname);

/* Pushes a sorted table of completions of `text` (a name, a.b.c, a:b, a partial word):
 * globals, fields, methods (tensors' too) and keywords. */
void host_push_completions(lua_State *L, const char *text);

/* lua_CFunction: its arguments formatted as one line per the REPL — each value through
 * scalespace.display.repr when that module loads (tables pretty-printed, tensors as their
 * summary line), else tostring — separated by tabs. Returns the string. */
int host_format_values(lua_State *L);

#endif
