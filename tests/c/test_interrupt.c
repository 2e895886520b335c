/* test_interrupt.c — the runtime-wide interrupt request: while it stands, tensor creation,
 * the ops' shared checks (an elementwise op, ss_linop_apply), conv2d and a solver that is
 * already iterating fail with SS_ERR_INTERRUPTED; once cleared, the same calls succeed. The
 * request comes from a SIGINT handler, as in the REPL and the Jupyter kernel. */
#include "check.h"

#include <signal.h>

static void on_sigint(int sig)
{
    (void)sig;
    ss_interrupt_request();
}

/* An SPD diagonal operator (ctx: the diagonal, 256 distinct entries, so the solvers need many
 * iterations) whose apply raises the interrupt on its 3rd call, mid-iteration. */
static int applies;
static int diagonal_interrupting(void *ctx, ss_tensor *out, const ss_tensor *in)
{
    if (++applies == 3) raise(SIGINT);
    return ss_mul(out, in, (const ss_tensor *)ctx);
}

static int64_t shape4[4] = {2, 3, 8, 8};

static void test_requested_calls_fail(void)
{
    ss_tensor *a = need(ss_tensor_full(4, shape4, 1.0f, SS_CPU), "a");
    ss_tensor *out = need(ss_tensor_empty(4, shape4, SS_CPU), "out");
    int64_t ws[4] = {4, 3, 3, 3}, os[4] = {2, 4, 8, 8};
    ss_tensor *w = need(ss_tensor_full(4, ws, 0.1f, SS_CPU), "weight");
    ss_tensor *conv_out = need(ss_tensor_empty(4, os, SS_CPU), "conv out");
    ss_linop *blur = ss_linop_blur(8, 8, 1.0f);
    CHECK(blur != NULL, "blur: %s", ss_last_error());

    CHECK(ss_interrupt_requested() == 0, "no request at the start");
    CHECK(raise(SIGINT) == 0, "raise");
    CHECK(ss_interrupt_requested() == 1, "the SIGINT handler's request stands");
    CHECK(ss_tensor_empty(4, shape4, SS_CPU) == NULL && ss_last_status() == SS_ERR_INTERRUPTED &&
              strstr(ss_last_error(), "interrupted"),
          "tensor creation is interrupted: %s", ss_last_error());
    CHECK_FAILS(ss_add(out, a, a), "interrupted");
    CHECK(ss_last_status() == SS_ERR_INTERRUPTED, "status %d", ss_last_status());
    CHECK_FAILS(ss_linop_apply(blur, out, a), "interrupted");
    CHECK_FAILS(ss_conv2d_forward(conv_out, a, w, NULL, 1, 1, 1, 1, NULL), "interrupted");
    CHECK(ss_interrupt_check() == SS_ERR_INTERRUPTED, "ss_interrupt_check");

    ss_interrupt_clear();
    CHECK(ss_interrupt_requested() == 0 && ss_interrupt_check() == SS_OK, "cleared");
    CHECK_OK(ss_add(out, a, a));
    CHECK(out->data[0] == 2.0f, "the op ran after the clear");
    CHECK_OK(ss_linop_apply(blur, out, a));
    CHECK_OK(ss_conv2d_forward(conv_out, a, w, NULL, 1, 1, 1, 1, NULL));
    ss_tensor *t = ss_tensor_empty(4, shape4, SS_CPU);
    CHECK(t != NULL, "creation after the clear: %s", ss_last_error());
    ss_tensor_free(t);
    ss_linop_free(blur);
    ss_tensor_free(a), ss_tensor_free(out), ss_tensor_free(w), ss_tensor_free(conv_out);
}

static void test_solver_stops_mid_iteration(void)
{
    int64_t s[2] = {16, 16};
    ss_tensor *b = need(ss_tensor_full(2, s, 1.0f, SS_CPU), "b");
    ss_tensor *x = need(ss_tensor_zeros(2, s, SS_CPU), "x");
    ss_tensor *d = need(ss_tensor_empty(2, s, SS_CPU), "diagonal");
    for (int i = 0; i < 256; i++) d->data[i] = 1.0f + (float)i;
    ss_linop *A = ss_linop_new(diagonal_interrupting, diagonal_interrupting, d, 16, 16, 16, 16, "interrupting diag");
    CHECK(A != NULL, "linop: %s", ss_last_error());
    ss_solve_opts o = {1e-6, 0.0, 1000, 0};
    ss_solve_info info;
    applies = 0;
    CHECK_FAILS(ss_cg_solve(x, A, b, &o, &info), "interrupted");
    CHECK(ss_last_status() == SS_ERR_INTERRUPTED, "cg: status %d", ss_last_status());
    CHECK(applies == 3, "cg stopped at the apply after the interrupt: %d applies", applies);
    ss_interrupt_clear();
    applies = 0;
    CHECK_FAILS(ss_bicgstab_solve(x, A, b, &o, &info), "interrupted");
    CHECK(applies == 3, "bicgstab stopped at the apply after the interrupt: %d applies", applies);
    ss_interrupt_clear();
    applies = 4; /* past the interrupting call */
    CHECK_OK(ss_cg_solve(x, A, b, &o, &info));
    CHECK(fabsf(x->data[255] - 1.0f / 256.0f) < 1e-5f, "d x = 1 solved after the clear: %g", x->data[255]);
    ss_linop_free(A);
    ss_tensor_free(b), ss_tensor_free(x), ss_tensor_free(d);
}

int main(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    test_requested_calls_fail();
    test_solver_stops_mid_iteration();
    return test_summary("test_interrupt");
}
