/* main.c — the `scalespace` executable: a LuaJIT host with a script runner and a REPL.
 *
 *   scalespace script.lua args...   run a script; `arg` and `...` as the `lua` standalone sets them
 *   scalespace -e 'code' [-e ...]   run code (then a script, if one follows)
 *   scalespace -                    run a script read from stdin
 *   scalespace [-i]                 REPL (libedit on a terminal, plain line reading otherwise)
 *   scalespace --kernel CONN.json   a Jupyter kernel (kernel.c)
 *   scalespace NAME args...         a subcommand: NAME is not a file and the Lua tree has
 *                                   scalespace/cli/NAME.lua, which runs as the script (fid)
 *
 * Before anything runs, package.path gets the Lua tree next to the executable (the build tree's
 * lua/ and the installed share/scalespace/lua/), with $SCALESPACE_LUA_PATH in front of it, and
 * package.loaded["scalespace.host"] tells the bindings that libscalespace is linked into this
 * process (its symbols resolve through ffi.C).
 *
 * The library never exits; this file alone decides the exit status: 0 on success, 1 on an
 * uncaught Lua error, a missing script, a bad option, or (when stdin is not a terminal) a REPL
 * line that failed; a script's os.exit(n) exits with n (after closing the Lua state, so that
 * finalizers run, unless os.exit(n, false)).
 */
#define _GNU_SOURCE /* getline, sigaction */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <luajit.h>
#include <lualib.h>

#include <editline/readline.h>

#include "host.h"
#include "kernel.h"
#include "scalespace.h"

#define SS_HISTORY_FILE ".scalespace_history"
#define SS_HISTORY_MAX 1000

static const char *progname = "scalespace";
static lua_State *globalL = NULL;
/* SIGINT was ignored when we started (e.g. a background job): keep ignoring it. */
static int sigint_ignored = 0;
/* Set by the SIGINT handler installed while readline() waits for a line. */
static volatile sig_atomic_t prompt_interrupted = 0;
/* Where the REPL history is written at exit; NULL when no interactive REPL ran. */
static char *history_path = NULL;

/* ------------------------------------------------------------------ messages */

static void l_message(const char *pname, const char *msg)
{
    fflush(stdout);
    if (pname != NULL)
        fprintf(stderr, "%s: ", pname);
    fprintf(stderr, "%s\n", msg);
    fflush(stderr);
}

/* Prints the error message on top of the stack (if status is an error) and pops it. */
static int report(lua_State *L, int status, const char *pname)
{
    if (status != 0 && lua_gettop(L) > 0 && !lua_isnil(L, -1)) {
        const char *msg = lua_tostring(L, -1);
        if (msg == NULL)
            msg = "(error object is not a string)";
        l_message(pname, msg);
        lua_pop(L, 1);
    }
    return status;
}

static void print_usage(FILE *f)
{
    fprintf(f,
            "usage: %s [options] [script [args...]]\n"
            "Options:\n"
            "  -e code        run code (may be given several times; runs before the script)\n"
            "  -l name        require module 'name' into global 'name' (-l g=mod: into 'g')\n"
            "  -i             enter the REPL after running the script or -e code\n"
            "  -v, --version  print the version (and exit, unless there is more to do)\n"
            "  --kernel FILE  run as a Jupyter kernel on connection file FILE\n"
            "  -h, --help     print this help and exit\n"
            "  --             stop handling options\n"
            "  -              run a script read from stdin\n"
            "Subcommands (scripts in the Lua tree, lua/scalespace/cli/NAME.lua):\n"
            "  fid A B        FID, KID or FD between image sets (scalespace fid --help)\n"
            "With no script and no -e the REPL starts; when stdin is not a terminal it reads\n"
            "lines from stdin without prompts and prints the value of each expression.\n"
            "Environment: SCALESPACE_LUA_PATH is put in front of package.path.\n",
            progname);
}

static void print_version(void)
{
    const char *lib = ss_version();
    if (lib != NULL && strcmp(lib, SS_VERSION_STRING) != 0)
        printf("scalespace %s (%s; libscalespace %s)\n", SS_VERSION_STRING, LUAJIT_VERSION, lib);
    else
        printf("scalespace %s (%s)\n", SS_VERSION_STRING, LUAJIT_VERSION);
    fflush(stdout);
}

/* ------------------------------------------------------------------ interruption */

/* SIGINT while Lua code runs: restore the default action (a second Ctrl-C kills the
 * process, e.g. inside a pure-Lua JIT-compiled loop that never reaches a hook or calls
 * the library) and interrupt the code (see host_interrupt). */
static void laction(int sig)
{
    signal(sig, SIG_DFL);
    host_interrupt(globalL);
}

/* SIGINT while readline() waits: note it; readline() then returns and the line is dropped. */
static void prompt_action(int sig)
{
    (void)sig;
    prompt_interrupted = 1;
}

static void set_sigint(void (*handler)(int), struct sigaction *old)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: a blocked read() returns EINTR */
    sigaction(SIGINT, &sa, old);
}

/* ------------------------------------------------------------------ calling Lua */

/* Calls the function below the narg arguments on top of the stack, with the message handler
 * and the SIGINT handler in place. */
static int docall(lua_State *L, int narg, int nres)
{
    int status;
    int base = lua_gettop(L) - narg;
    struct sigaction old;
    lua_pushcfunction(L, host_msghandler);
    lua_insert(L, base);
    if (!sigint_ignored)
        set_sigint(laction, &old);
    status = lua_pcall(L, narg, nres, base);
    if (!sigint_ignored)
        sigaction(SIGINT, &old, NULL);
    host_interrupt_done(L);
    lua_remove(L, base);
    if (status != 0)
        lua_gc(L, LUA_GCCOLLECT, 0);
    return status;
}

static int dochunk(lua_State *L, int status)
{
    if (status == 0)
        status = docall(L, 0, 0);
    return report(L, status, progname);
}

static int dostring(lua_State *L, const char *s, const char *name)
{
    return dochunk(L, luaL_loadbuffer(L, s, strlen(s), name));
}

/* -l name or -l g=name: g = require(name). */
static int dolibrary(lua_State *L, const char *spec)
{
    int status;
    const char *eq = strchr(spec, '=');
    const char *mod = eq != NULL ? eq + 1 : spec;
    lua_getglobal(L, "require");
    lua_pushstring(L, mod);
    status = docall(L, 1, 1);
    if (status == 0) {
        if (eq != NULL)
            lua_pushlstring(L, spec, (size_t)(eq - spec));
        else
            lua_pushstring(L, spec);
        lua_insert(L, -2);
        lua_settable(L, LUA_GLOBALSINDEX);
    }
    return report(L, status, progname);
}

/* ------------------------------------------------------------------ arguments */

/* arg[0] = script, arg[1..] = its arguments, arg[-k] = interpreter and options
 * (with no script, arg[0] is the interpreter). */
static void create_arg_table(lua_State *L, char **argv, int argc, int script)
{
    int i;
    if (script == argc)
        script = 0;
    lua_createtable(L, argc - script - 1 > 0 ? argc - script - 1 : 0, script + 1);
    for (i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i - script);
    }
    lua_setglobal(L, "arg");
}

/* ------------------------------------------------------------------ options */

struct options {
    int script;  /* index of the script in argv, argc when there is none */
    int has_e;   /* -e or -l seen */
    int has_i;   /* -i */
    int has_v;   /* -v / --version */
    int has_h;   /* -h / --help */
    const char *kernel; /* --kernel FILE */
};

/* Returns 0, or -1 after printing what is wrong. */
static int collect_args(int argc, char **argv, struct options *o)
{
    int i;
    memset(o, 0, sizeof *o);
    o->script = argc;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        int bad = 0;
        if (a[0] != '-' || strcmp(a, "-") == 0 || strcmp(a, "--") == 0) {
            o->script = strcmp(a, "--") == 0 ? i + 1 : i;
            return 0;
        }
        if (strcmp(a, "--version") == 0 || strcmp(a, "-v") == 0)
            o->has_v = 1;
        else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
            o->has_h = 1;
        else if (strcmp(a, "-i") == 0)
            o->has_i = 1;
        else if (strcmp(a, "--kernel") == 0 && i + 1 < argc)
            o->kernel = argv[++i];
        else if ((a[1] == 'e' || a[1] == 'l') && (a[2] != '\0' || ++i < argc))
            o->has_e = 1;
        else
            bad = 1;
        if (bad) {
            if (a[1] == 'e' || a[1] == 'l' || strcmp(a, "--kernel") == 0)
                fprintf(stderr, "%s: '%s' needs an argument\n", progname, a);
            else
                fprintf(stderr, "%s: unrecognized option '%s'\n", progname, a);
            print_usage(stderr);
            return -1;
        }
    }
    return 0;
}

/* Runs the -e and -l options in order. */
static int run_args(lua_State *L, char **argv, int script)
{
    int i;
    for (i = 1; i < script; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || (a[1] != 'e' && a[1] != 'l'))
            continue;
        {
            const char *v = a[2] != '\0' ? a + 2 : argv[++i];
            int status = a[1] == 'e' ? dostring(L, v, "=(command line)") : dolibrary(L, v);
            if (status != 0)
                return status;
        }
    }
    return 0;
}

/* When name is not a file but a word (letters, digits, '_') and package.path finds
 * scalespace.cli.<name>, pushes that file's path and returns it; else pushes nothing and
 * returns NULL. A subcommand is added by adding its file: nothing here lists them. */
static const char *subcommand_path(lua_State *L, const char *name)
{
    if (access(name, F_OK) == 0 || name[0] == '\0' || strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(name))
        return NULL;
    if (luaL_loadstring(L, "return package.searchpath('scalespace.cli.' .. ..., package.path)") != 0) {
        lua_pop(L, 1);
        return NULL;
    }
    lua_pushstring(L, name);
    if (lua_pcall(L, 1, 1, 0) != 0 || !lua_isstring(L, -1)) {
        lua_pop(L, 1);
        return NULL;
    }
    return lua_tostring(L, -1);
}

static int run_script(lua_State *L, int argc, char **argv, int script)
{
    int status, i, n;
    const char *fname = argv[script];
    if (strcmp(fname, "-") == 0 && strcmp(argv[script - 1], "--") != 0)
        fname = NULL; /* stdin */
    else if (subcommand_path(L, fname) != NULL)
        fname = lua_tostring(L, -1); /* stays on the stack below the chunk, so the string lives */
    status = luaL_loadfile(L, fname);
    if (status == 0) {
        n = argc - script - 1;
        luaL_checkstack(L, n + 3, "too many arguments to script");
        for (i = script + 1; i < argc; i++)
            lua_pushstring(L, argv[i]);
        status = docall(L, n, 0);
    }
    return report(L, status, progname);
}

/* ------------------------------------------------------------------ REPL input */

/* Compiles the string on top of the stack and replaces it with the function or the message. */
static int load_top(lua_State *L)
{
    size_t len;
    const char *s = lua_tolstring(L, -1, &len);
    int status = luaL_loadbuffer(L, s, len, "=stdin");
    lua_remove(L, -2);
    return status;
}

static const char *get_prompt(lua_State *L, int first)
{
    const char *p;
    lua_pushstring(L, first ? "_PROMPT" : "_PROMPT2");
    lua_rawget(L, LUA_GLOBALSINDEX);
    p = lua_tostring(L, -1);
    if (p == NULL)
        p = first ? "> " : ">> ";
    lua_pop(L, 1);
    return p;
}

enum { LINE_EOF = 0, LINE_OK = 1, LINE_INTERRUPTED = 2 };

/* Reads one line (without its newline) and pushes it. */
static int push_line(lua_State *L, int first, int interactive)
{
    if (interactive) {
        struct sigaction old;
        char *line;
        char prompt[256];
        snprintf(prompt, sizeof prompt, "%s", get_prompt(L, first));
        fflush(stdout);
        prompt_interrupted = 0;
        if (!sigint_ignored)
            set_sigint(prompt_action, &old);
        line = readline(prompt);
        if (!sigint_ignored)
            sigaction(SIGINT, &old, NULL);
        if (prompt_interrupted) {
            free(line);
            fputc('\n', stdout);
            fflush(stdout);
            return LINE_INTERRUPTED;
        }
        if (line == NULL)
            return LINE_EOF;
        if (line[0] != '\0')
            add_history(line);
        lua_pushstring(L, line);
        free(line);
        return LINE_OK;
    } else {
        char *buf = NULL;
        size_t cap = 0;
        ssize_t len = getline(&buf, &cap, stdin);
        if (len < 0) {
            free(buf);
            return LINE_EOF;
        }
        while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
            len--;
        lua_pushlstring(L, buf, (size_t)len);
        free(buf);
        return LINE_OK;
    }
}

#define LOAD_INTERRUPTED (-1)

/* Replaces the line on top of the stack with the compiled chunk (status 0) or an error message.
 * First as an expression whose values get printed: `return <line>` inside an identity call
 * (a tail call `return error(...)` would lose error()'s "stdin:1:"); then as statements with
 * top-level locals made global; then as typed, reading continuation lines while the chunk is
 * incomplete. Returns LOAD_INTERRUPTED on Ctrl-C at a continuation prompt. */
static int load_chunk(lua_State *L, int interactive)
{
    size_t len;
    const char *text = lua_tolstring(L, -1, &len);
    int status;
    int skip = len > 0 && text[0] == '='; /* Lua 5.1's `=expr` */
    if (host_load_expression(L, text + skip, len - skip, "=stdin") == 0) {
        lua_replace(L, -2);
        return 0;
    }
    lua_pop(L, 1);
    for (;;) {
        text = lua_tolstring(L, -1, &len);
        if (host_push_globalized(L, text, len)) {
            if (load_top(L) == 0) {
                lua_replace(L, -2);
                return 0;
            }
            lua_pop(L, 1);
        }
        lua_pushvalue(L, -1);
        status = load_top(L);
        if (!host_incomplete(L, status)) {
            lua_replace(L, -2); /* function or message replaces the text */
            return status;
        }
        /* incomplete: keep its message until we know more input is coming */
        switch (push_line(L, 0, interactive)) {
        case LINE_EOF:
            lua_replace(L, -2); /* report the incomplete chunk */
            return status;
        case LINE_INTERRUPTED:
            return LOAD_INTERRUPTED;
        }
        lua_remove(L, -2);         /* the old message */
        lua_pushliteral(L, "\n"); /* text, line -> text .. "\n" .. line */
        lua_insert(L, -2);
        lua_concat(L, 3);
    }
}

/* Prints the values on the stack as host_format_values formats them. */
static int print_values(lua_State *L)
{
    size_t len;
    const char *s;
    host_format_values(L);
    s = lua_tolstring(L, -1, &len);
    fwrite(s, 1, len, stdout);
    fputc('\n', stdout);
    fflush(stdout);
    return 0;
}

/* ------------------------------------------------------------------ completion */

static int completion_ref = LUA_NOREF; /* table of matches for the current word */
static int completion_next = 0;

static char *completion_generator(const char *text, int state)
{
    lua_State *L = globalL;
    int top;
    char *result = NULL;
    if (L == NULL)
        return NULL;
    top = lua_gettop(L);
    if (state == 0) {
        luaL_unref(L, LUA_REGISTRYINDEX, completion_ref);
        completion_next = 1;
        host_push_completions(L, text);
        completion_ref = luaL_ref(L, LUA_REGISTRYINDEX);
        lua_settop(L, top);
    }
    if (completion_ref == LUA_NOREF)
        return NULL;
    lua_rawgeti(L, LUA_REGISTRYINDEX, completion_ref);
    lua_rawgeti(L, -1, completion_next++);
    if (lua_type(L, -1) == LUA_TSTRING)
        result = strdup(lua_tostring(L, -1));
    lua_settop(L, top);
    return result;
}

static char **complete(const char *text, int start, int end)
{
    (void)start;
    (void)end;
    rl_attempted_completion_over = 1; /* no file-name completion */
    return rl_completion_matches(text, completion_generator);
}

/* ------------------------------------------------------------------ REPL */

static void save_history(void)
{
    if (history_path != NULL) {
        write_history(history_path); /* failures (read-only home, ...) are ignored */
        free(history_path);
        history_path = NULL;
    }
}

static void init_readline(void)
{
    const char *home = getenv("HOME");
    rl_readline_name = "scalespace"; /* for ~/.editrc */
    rl_catch_signals = 0;            /* main.c handles SIGINT */
    rl_initialize();
    rl_attempted_completion_function = complete;
    rl_basic_word_break_characters = " \t\n\"\\'`@$><=;|&{(+-*/%^~#,[)]}";
    rl_completion_append_character = '\0';
    stifle_history(SS_HISTORY_MAX);
    if (home != NULL && home[0] != '\0') {
        size_t n = strlen(home) + sizeof SS_HISTORY_FILE + 2;
        history_path = (char *)malloc(n);
        if (history_path != NULL) {
            snprintf(history_path, n, "%s/%s", home, SS_HISTORY_FILE);
            read_history(history_path);
            atexit(save_history);
        }
    }
}

/* Reads, evaluates and prints until end of input. Returns 1 when not interactive and some
 * line failed, 0 otherwise. */
static int repl(lua_State *L)
{
    int interactive = isatty(STDIN_FILENO);
    int failed = 0;
    if (interactive) {
        init_readline();
        printf("scalespace %s \xe2\x80\x94 %s; Ctrl-D to quit\n", SS_VERSION_STRING, LUAJIT_VERSION);
        fflush(stdout);
    }
    for (;;) {
        int status, r, base = lua_gettop(L);
        r = push_line(L, 1, interactive);
        if (r == LINE_EOF)
            break;
        if (r == LINE_INTERRUPTED)
            continue;
        status = load_chunk(L, interactive);
        if (status == LOAD_INTERRUPTED) {
            lua_settop(L, base);
            continue;
        }
        if (status == 0) {
            status = docall(L, 0, LUA_MULTRET);
            if (status == 0 && lua_gettop(L) > base) {
                int n = lua_gettop(L) - base;
                lua_pushcfunction(L, print_values);
                lua_insert(L, base + 1);
                status = docall(L, n, 0);
            }
        }
        if (status != 0) {
            failed = 1;
            if (lua_isnil(L, -1)) {
                lua_pop(L, 1);
                lua_pushliteral(L, "(error object is a nil value)");
            }
            report(L, status, NULL);
        }
        lua_settop(L, base);
    }
    if (interactive) {
        fputc('\n', stdout);
        fflush(stdout);
    }
    return interactive ? 0 : failed;
}

/* ------------------------------------------------------------------ main */

struct smain {
    int argc;
    char **argv;
    struct options opt;
    int status;
};

static int pmain(lua_State *L)
{
    struct smain *s = (struct smain *)lua_touserdata(L, 1);
    char **argv = s->argv;
    int script = s->opt.script;
    lua_settop(L, 0);
    globalL = L;
    lua_gc(L, LUA_GCSTOP, 0);
    luaL_openlibs(L);
    lua_gc(L, LUA_GCRESTART, -1);
    host_setup(L, argv[0]);
    create_arg_table(L, argv, s->argc, script);
    s->status = run_args(L, argv, script);
    if (s->status != 0)
        return 0;
    if (script < s->argc) {
        s->status = run_script(L, s->argc, argv, script);
        if (s->status != 0)
            return 0;
    }
    if (s->opt.has_i || (script == s->argc && !s->opt.has_e && !s->opt.has_v))
        s->status = repl(L);
    return 0;
}

/* OpenBLAS 0.3.21 (Debian 12) predates Zen 4 and 5 and runs them on its AVX2 (Haswell)
 * kernels, half the sgemm speed of its AVX-512 (SkylakeX) kernels there; OpenBLAS 0.3.22
 * and later pick those itself. It reads OPENBLAS_CORETYPE when it loads, before main, so
 * when the CPU has AVX-512 and no core was chosen, set it and start again. An explicit
 * OPENBLAS_CORETYPE is left alone. */
static void choose_blas_kernels(char **argv)
{
    if (getenv("OPENBLAS_CORETYPE")) return;
    __builtin_cpu_init();
    if (!(__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
          __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl")))
        return;
    if (setenv("OPENBLAS_CORETYPE", "SkylakeX", 1) != 0) return;
    execv("/proc/self/exe", argv);
    unsetenv("OPENBLAS_CORETYPE"); /* no exec: go on with the kernels already loaded */
}

int main(int argc, char **argv)
{
    struct smain s;
    struct sigaction cur;
    lua_State *L;
    int status;

    if (argc < 1 || argv[0] == NULL) {
        static char *fake[] = {"scalespace", NULL};
        argc = 1;
        argv = fake;
    }
    choose_blas_kernels(argv);
    if (collect_args(argc, argv, &s.opt) != 0)
        return 1;
    if (s.opt.has_h) {
        print_usage(stdout);
        return 0;
    }
    if (s.opt.has_v) {
        print_version();
        if (s.opt.script == argc && !s.opt.has_e && !s.opt.has_i)
            return 0;
    }
    if (s.opt.kernel != NULL)
        return kernel_main(argv[0], s.opt.kernel);
    if (sigaction(SIGINT, NULL, &cur) == 0 && cur.sa_handler == SIG_IGN)
        sigint_ignored = 1;

    L = luaL_newstate();
    if (L == NULL) {
        l_message(progname, "cannot create the Lua state: not enough memory");
        return 1;
    }
    s.argc = argc;
    s.argv = argv;
    s.status = 0;
    status = lua_cpcall(L, pmain, &s);
    report(L, status, progname);
    globalL = NULL;
    lua_close(L);
    fflush(stdout);
    return (status != 0 || s.status != 0) ? 1 : 0;
}
