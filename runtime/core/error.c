/* error.c — per-thread status and message, ss_last_error(). */
#include "core/internal.h"

#include <stdio.h>
#include <string.h>

static _Thread_local char ss_err_msg[1024];
static _Thread_local int ss_err_code;

int ss_error_set(int code, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(ss_err_msg, sizeof ss_err_msg, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    if ((size_t)n < sizeof ss_err_msg) {
        /* The C location helps bug reports; keep only the path from runtime/ on. */
        const char *rel = strstr(file, "runtime/");
        if (!rel) rel = strstr(file, "kernels/");
        snprintf(ss_err_msg + n, sizeof ss_err_msg - (size_t)n, " [%s:%d]", rel ? rel : file, line);
    }
    ss_err_code = code;
    return code;
}

const char *ss_last_error(void) { return ss_err_msg; }
int ss_last_status(void) { return ss_err_code; }

void ss_clear_error(void)
{
    ss_err_msg[0] = '\0';
    ss_err_code = SS_OK;
}

const char *ss_version(void) { return SS_VERSION_STRING; }
