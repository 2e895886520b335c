/* atomic.c — files written so that a crash or SIGKILL leaves the old file or the whole
 * new one: the bytes go to "<path>.tmp.<pid>", are flushed to disk (fsync) and the file is
 * renamed over path, then the directory is synced (best effort). A killed writer's
 * temporary file stays until the next write of the same path removes it (its pid no
 * longer exists). Used by ss_safetensors_write and, for text (CSV files of sweeps),
 * ss_file_write_atomic. */
#define _GNU_SOURCE /* strndup */
#include "io/io.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A live process's file, or one of another user's process (EPERM), is kept. */
void ss_io_remove_stale_temps(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    DIR *d = dir ? opendir(dir) : NULL;
    size_t blen = strlen(base);
    for (struct dirent *e; d && (e = readdir(d));) {
        const char *name = e->d_name;
        if (strncmp(name, base, blen) != 0 || strncmp(name + blen, ".tmp.", 5) != 0) continue;
        const char *digits = name + blen + 5;
        char *end;
        errno = 0;
        long pid = strtol(digits, &end, 10);
        if (errno || *end || end == digits || *digits < '1' || *digits > '9' || pid <= 0 || pid > INT_MAX ||
            pid == (long)getpid())
            continue;
        struct stat sb;
        if (kill((pid_t)pid, 0) != 0 && errno == ESRCH && fstatat(dirfd(d), name, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISREG(sb.st_mode))
            (void)unlinkat(dirfd(d), name, 0);
    }
    if (d) closedir(d);
    free(dir);
}

void ss_io_sync_parent_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (!dir) return;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(dir);
}

int ss_file_write_atomic(const char *path, const void *data, int64_t nbytes)
{
    const char *op = "file_write_atomic";
    if (!path || !*path) return SS_FAIL(SS_ERR_ARG, "%s: path is NULL or empty", op);
    if (nbytes < 0 || (nbytes > 0 && !data)) return SS_FAIL(SS_ERR_ARG, "%s: %s: no data", op, path);
    struct stat sb;
    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode))
        return SS_FAIL(SS_ERR_IO, "%s: %s: exists and is not a regular file", op, path);
    size_t tmplen = strlen(path) + 32;
    char *tmp = malloc(tmplen);
    if (!tmp) return SS_FAIL(SS_ERR_NOMEM, "%s: %s: out of memory", op, path);
    ss_io_remove_stale_temps(path);
    snprintf(tmp, tmplen, "%s.tmp.%ld", path, (long)getpid());
    int rc = SS_OK, fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        rc = SS_FAIL(SS_ERR_IO, "%s: %s: cannot create temporary file %s: %s", op, path, tmp, strerror(errno));
        free(tmp);
        return rc;
    }
    const char *p = data;
    for (int64_t done = 0; done < nbytes && rc == SS_OK;) {
        ssize_t w = write(fd, p + done, (size_t)(nbytes - done));
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) rc = SS_FAIL(SS_ERR_IO, "%s: %s: cannot write %s: %s", op, path, tmp, strerror(errno));
        else done += w;
    }
    rc = ss_io_commit_temp(op, path, tmp, fd, rc);
    free(tmp);
    return rc;
}

int ss_io_commit_temp(const char *op, const char *path, const char *tmp, int fd, int rc)
{
    /* fsync before rename: after a crash the name shows the old file or the whole new one. */
    if (rc == SS_OK && fsync(fd) != 0)
        rc = SS_FAIL(SS_ERR_IO, "%s: %s: cannot flush %s to disk: %s", op, path, tmp, strerror(errno));
    if (close(fd) != 0 && rc == SS_OK)
        rc = SS_FAIL(SS_ERR_IO, "%s: %s: cannot close %s: %s", op, path, tmp, strerror(errno));
    if (rc == SS_OK && rename(tmp, path) != 0)
        rc = SS_FAIL(SS_ERR_IO, "%s: %s: cannot rename %s over it: %s", op, path, tmp, strerror(errno));
    if (rc != SS_OK) unlink(tmp);
    else ss_io_sync_parent_dir(path);
    return rc;
}
