/* interrupt.c — Ctrl-C as a request: the runtime-wide interrupt flag, and the trap
 * for loops that must stop at a consistent point.
 *
 * The flag: LuaJIT runs no debug hooks inside compiled traces, so a host's SIGINT
 * handler cannot stop a JIT-compiled Lua loop by a hook alone. It also raises this
 * flag, and the few places nearly every call passes through (tensor creation, the
 * shared device check of the ops, the solvers' and conv2d's loops) fail with
 * SS_ERR_INTERRUPTED while it stands; the Lua bindings turn that into an error, which
 * unwinds the loop. The host clears it when the interrupted code has ended. An atomic
 * int: set from a signal handler or another thread, read on every op.
 *
 * The trap: a training loop interrupted halfway through an optimiser step would checkpoint
 * half-updated weights. While trapped, SIGINT and SIGUSR1 only set a flag that the loop
 * reads between steps; the handler also puts that signal's previous action back, so a
 * second Ctrl-C acts as it did before the trap (the Lua host's "interrupted!" error, or
 * the default termination). SIGUSR1 is there for distributed runs: Ctrl-C or SIGTERM on
 * mpirun kills every rank at once, but mpirun passes SIGUSR1 on to the ranks (as Slurm's
 * `scancel --signal=USR1` does), which then stop together at a step boundary.
 */
#include "internal.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>

static atomic_int requested = 0;

void ss_interrupt_request(void) { atomic_store_explicit(&requested, 1, memory_order_relaxed); }
void ss_interrupt_clear(void) { atomic_store_explicit(&requested, 0, memory_order_relaxed); }
int ss_interrupt_requested(void) { return atomic_load_explicit(&requested, memory_order_relaxed); }

int ss_interrupt_check(void)
{
    if (!atomic_load_explicit(&requested, memory_order_relaxed)) return SS_OK;
    return SS_FAIL(SS_ERR_INTERRUPTED, "interrupted");
}

static volatile sig_atomic_t pending = 0;
static volatile sig_atomic_t trapped = 0;
static const int trap_signals[2] = {SIGINT, SIGUSR1};
static struct sigaction previous[2];
static int installed[2]; /* the trap's handler went in (the signal was not ignored) */

static void on_signal(int sig)
{
    pending = 1;
    for (int i = 0; i < 2; i++)
        if (trap_signals[i] == sig) sigaction(sig, &previous[i], NULL); /* async-signal-safe */
}

int ss_interrupt_trap(void)
{
    if (trapped) return 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    pending = 0;
    for (int i = 0; i < 2; i++) {
        installed[i] = 0;
        if (sigaction(trap_signals[i], &sa, &previous[i]) != 0) {
            int err = errno;
            for (int j = 0; j < i; j++)
                if (installed[j]) sigaction(trap_signals[j], &previous[j], NULL);
            return SS_FAIL(SS_ERR_IO, "ss_interrupt_trap: sigaction failed: %s", strerror(err));
        }
        if (previous[i].sa_handler == SIG_IGN) /* e.g. a background job: leave the signal ignored */
            sigaction(trap_signals[i], &previous[i], NULL);
        else
            installed[i] = 1;
    }
    trapped = 1;
    return 0;
}

int ss_interrupt_pending(void)
{
    return pending ? 1 : 0;
}

int ss_interrupt_release(void)
{
    if (!trapped) return 0;
    trapped = 0;
    pending = 0;
    int rc = 0;
    for (int i = 0; i < 2; i++) {
        struct sigaction cur;
        if (!installed[i]) continue;
        installed[i] = 0;
        /* the handler has already put the previous action back when a signal came */
        if (sigaction(trap_signals[i], NULL, &cur) == 0 && cur.sa_handler == on_signal &&
            sigaction(trap_signals[i], &previous[i], NULL) != 0)
            rc = SS_FAIL(SS_ERR_IO, "ss_interrupt_release: sigaction failed: %s", strerror(errno));
    }
    return rc;
}
