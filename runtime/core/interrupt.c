/* interrupt.c — Ctrl-C as a request, for loops that must stop at a consistent point.
 *
 * A training loop interrupted halfway through an optimiser step would checkpoint
 * half-updated weights. While trapped, SIGINT only sets a flag that the loop reads
 * between steps; the handler also puts the previous action back, so a second Ctrl-C
 * acts as it did before the trap (the Lua host's "interrupted!" error, or the default
 * termination). */
#include "internal.h"

#include <errno.h>
#include <signal.h>
#include <string.h>

static volatile sig_atomic_t pending = 0;
static volatile sig_atomic_t trapped = 0;
static struct sigaction previous;

static void on_sigint(int sig)
{
    (void)sig;
    pending = 1;
    sigaction(SIGINT, &previous, NULL); /* async-signal-safe */
}

int ss_interrupt_trap(void)
{
    if (trapped) return 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    pending = 0;
    if (sigaction(SIGINT, &sa, &previous) != 0)
        return SS_FAIL(SS_ERR_IO, "ss_interrupt_trap: sigaction failed: %s", strerror(errno));
    if (previous.sa_handler == SIG_IGN) { /* e.g. a background job: leave Ctrl-C ignored */
        sigaction(SIGINT, &previous, NULL);
        return 0;
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
    struct sigaction cur;
    /* the handler has already put the previous action back when a signal came */
    if (sigaction(SIGINT, NULL, &cur) == 0 && cur.sa_handler == on_sigint && sigaction(SIGINT, &previous, NULL) != 0)
        return SS_FAIL(SS_ERR_IO, "ss_interrupt_release: sigaction failed: %s", strerror(errno));
    return 0;
}
