/* dir.c — ss_dir_list: the sorted regular files of a directory with a suffix.
 *
 * The names come back '\n'-joined in a caller-owned buffer so that the call
 * crosses the FFI without allocations to free: call once with buflen 0 to learn
 * the size, then again with a buffer that large. Symbolic links count when they
 * lead to a regular file; names that contain '\n' cannot be represented and are
 * skipped. */
#include "core/internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Case-insensitive, so ".png" also finds "A.PNG". */
static int has_suffix(const char *name, const char *suffix, size_t slen)
{
    size_t n = strlen(name);
    return n >= slen && strcasecmp(name + n - slen, suffix) == 0;
}

static int is_regular(DIR *d, const struct dirent *e)
{
#ifdef _DIRENT_HAVE_D_TYPE
    if (e->d_type == DT_REG) return 1;
    if (e->d_type != DT_LNK && e->d_type != DT_UNKNOWN) return 0;
#endif
    struct stat st; /* follows links; d_type is unknown on some filesystems */
    return fstatat(dirfd(d), e->d_name, &st, 0) == 0 && S_ISREG(st.st_mode);
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
}

int ss_dir_list(char *buf, size_t buflen, size_t *need, const char *dir, const char *suffix)
{
    const char *op = "ss_dir_list";
    if (!dir) return SS_FAIL(SS_ERR_ARG, "%s: directory is NULL", op);
    if (!buf && buflen > 0) return SS_FAIL(SS_ERR_ARG, "%s: buf is NULL but buflen is %zu", op, buflen);
    if (!suffix) suffix = "";
    const size_t slen = strlen(suffix);
    DIR *d = opendir(dir);
    if (!d) return SS_FAIL(SS_ERR_IO, "%s: cannot open directory %s: %s", op, dir, strerror(errno));

    char **names = NULL;
    size_t n = 0, cap = 0, bytes = 1; /* bytes: the joined names, separators and NUL */
    int rc = SS_OK;
    for (;;) {
        errno = 0;
        struct dirent *e = readdir(d);
        if (!e) {
            if (errno) rc = SS_FAIL(SS_ERR_IO, "%s: cannot read directory %s: %s", op, dir, strerror(errno));
            break;
        }
        if (strchr(e->d_name, '\n') || !has_suffix(e->d_name, suffix, slen) || !is_regular(d, e)) continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            char **grown = realloc(names, ncap * sizeof *names);
            if (!grown) {
                rc = SS_FAIL(SS_ERR_NOMEM, "%s: out of memory listing %s", op, dir);
                break;
            }
            names = grown, cap = ncap;
        }
        if (!(names[n] = strdup(e->d_name))) {
            rc = SS_FAIL(SS_ERR_NOMEM, "%s: out of memory listing %s", op, dir);
            break;
        }
        bytes += strlen(names[n]) + (n > 0);
        n++;
    }
    closedir(d);
    if (rc == SS_OK && n > INT_MAX) rc = SS_FAIL(SS_ERR_ARG, "%s: %s holds too many files (%zu)", op, dir, n);
    if (rc != SS_OK) {
        free_names(names, n);
        return rc;
    }

    if (need) *need = bytes;
    if (buflen < bytes) {
        free_names(names, n);
        return SS_FAIL(SS_ERR_ARG, "%s: buffer of %zu bytes is too small for the %zu names in %s; %zu bytes needed",
                       op, buflen, n, dir, bytes);
    }
    if (n > 1) qsort(names, n, sizeof *names, name_cmp); /* names is NULL when n == 0 */
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        if (i) buf[at++] = '\n';
        size_t len = strlen(names[i]);
        memcpy(buf + at, names[i], len);
        at += len;
    }
    buf[at] = '\0';
    free_names(names, n);
    return (int)n;
}
