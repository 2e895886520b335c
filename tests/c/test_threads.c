/* test_threads.c — the thread policy libscalespace sets at load (runtime/env/
 * thread_policy.c): OpenMP's idle workers sleep instead of spinning unless the user
 * chose otherwise, which libgomp only honours when the variable is set before its own
 * constructor runs — so this reads back what libgomp itself took (omp_display_env).
 * Also: a single large DCT, whose FFTW threads run on the OpenMP team, agrees with the
 * one-thread transform. No timing. */
#include "check.h"

#include <omp.h>
#include <sys/wait.h>

/* What omp_display_env(1) prints for `key` (e.g. "GOMP_SPINCOUNT"), into value. */
static int omp_env_value(const char *key, char *value, size_t n)
{
    char path[] = "/tmp/ss_test_threads_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return -1;
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    omp_display_env(1);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    close(fd);
    FILE *f = fopen(path, "r");
    unlink(path);
    if (!f) return -1;
    char line[512], want[128];
    snprintf(want, sizeof want, "  %s = '", key);
    int found = -1;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, want, strlen(want)) != 0) continue;
        char *v = line + strlen(want), *end = strchr(v, '\'');
        if (end) *end = '\0';
        snprintf(value, n, "%s", v);
        found = 0;
    }
    fclose(f);
    return found;
}

/* argv[1] == "--show KEY": print libgomp's value of KEY and exit; KEY "environ"
 * prints this process's own OMP_WAIT_POLICY (what a program it starts inherits). */
static int show(const char *key)
{
    char v[128] = "";
    if (strcmp(key, "environ") == 0) {
        const char *e = getenv("OMP_WAIT_POLICY");
        printf("%s\n", e ? e : "(unset)");
        return 0;
    }
    if (omp_env_value(key, v, sizeof v) < 0) return 2;
    printf("%s\n", v);
    return 0;
}

/* This program's libgomp value of `key` when run with env `assign` ("NAME=value" or NULL). */
static int child_value(const char *self, const char *assign, const char *key, char *out, size_t n)
{
    int pipefd[2];
    if (pipe(pipefd) < 0) return -1;
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        dup2(pipefd[1], 1);
        close(pipefd[0]);
        unsetenv("OMP_WAIT_POLICY");
        unsetenv("GOMP_SPINCOUNT");
        if (assign) putenv((char *)assign);
        execl(self, self, "--show", key, (char *)NULL);
        _exit(127);
    }
    close(pipefd[1]);
    ssize_t got = read(pipefd[0], out, n - 1);
    close(pipefd[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    if (got <= 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) return -1;
    out[got] = '\0';
    out[strcspn(out, "\n")] = '\0';
    return 0;
}

static void test_wait_policy(const char *self)
{
    char v[128];
    CHECK(child_value(self, NULL, "GOMP_SPINCOUNT", v, sizeof v) == 0 && strcmp(v, "0") == 0,
          "without OMP_WAIT_POLICY, libgomp's workers sleep at once (GOMP_SPINCOUNT '%s', expected '0')", v);
    CHECK(child_value(self, "OMP_WAIT_POLICY=ACTIVE", "OMP_WAIT_POLICY", v, sizeof v) == 0 && strcmp(v, "ACTIVE") == 0,
          "the user's OMP_WAIT_POLICY=ACTIVE is kept (libgomp has '%s')", v);
    CHECK(child_value(self, "GOMP_SPINCOUNT=12345", "GOMP_SPINCOUNT", v, sizeof v) == 0 && strcmp(v, "12345") == 0,
          "the user's GOMP_SPINCOUNT=12345 is kept (libgomp has '%s')", v);
    CHECK(child_value(self, NULL, "environ", v, sizeof v) == 0 && strcmp(v, "(unset)") == 0,
          "the policy the library chose does not leak into the environment of programs it starts (got '%s')", v);
    CHECK(child_value(self, "OMP_WAIT_POLICY=ACTIVE", "environ", v, sizeof v) == 0 && strcmp(v, "ACTIVE") == 0,
          "the user's own OMP_WAIT_POLICY stays in the environment (got '%s')", v);
    printf("libgomp in this process: GOMP_SPINCOUNT '%s'\n", omp_env_value("GOMP_SPINCOUNT", v, sizeof v) == 0 ? v : "?");
}

/* One 1x1x512x512 image: FFTW plans it with the team's threads. */
static void test_large_dct(void)
{
    int64_t shape[4] = {1, 1, 512, 512};
    ss_tensor *x = need(ss_tensor_empty(4, shape, SS_CPU), "x");
    ss_tensor *one = need(ss_tensor_empty(4, shape, SS_CPU), "one");
    ss_tensor *two = need(ss_tensor_empty(4, shape, SS_CPU), "two");
    for (int64_t i = 0; i < 512 * 512; i++) x->data[i] = (float)((i * 7919) % 1009) / 1009.0f - 0.5f;
    int threads = ss_get_num_threads();
    CHECK_OK(ss_set_num_threads(1));
    CHECK_OK(ss_dct2_forward(one, x));
    CHECK_OK(ss_set_num_threads(2));
    CHECK_OK(ss_dct2_forward(two, x));
    test_close("512x512 DCT, 2 threads vs 1", two->data, one->data, 512 * 512, 1e-4);
    CHECK_OK(ss_dct2_inverse(two, two));
    test_close("512x512 DCT round trip with 2 threads", two->data, x->data, 512 * 512, 1e-5);
    CHECK_OK(ss_set_num_threads(threads));
    ss_tensor_free(x);
    ss_tensor_free(one);
    ss_tensor_free(two);
}

int main(int argc, char **argv)
{
    if (argc > 2 && strcmp(argv[1], "--show") == 0) return show(argv[2]);
    test_wait_policy(argv[0]);
    test_large_dct();
    return test_summary("test_threads");
}
