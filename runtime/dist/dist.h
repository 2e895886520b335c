/* dist.h — what the files of runtime/dist share: the world's state, the watchdog
 * wait and the kept host bucket. Not part of the API. */
#ifndef SS_DIST_H
#define SS_DIST_H
#include "core/internal.h"
#ifdef SS_WITH_MPI
#include <mpi.h>
#endif

/* The world as the collectives see it. `active` is 1 when MPI runs with more than
 * one rank (collectives have something to do); in a world of one they only check
 * their arguments. `broken` holds the failure that ended the world ("" while none). */
struct ss_dist_world {
    int initialized, finalized, owns_mpi, active;
    int rank, size, local_rank, local_size;
    double timeout;
    char broken[512];
#ifdef SS_WITH_MPI
    MPI_Comm comm;  /* a duplicate of MPI_COMM_WORLD with MPI_ERRORS_RETURN */
#endif
};
extern struct ss_dist_world ss_dist_world;

/* SS_ERR_IO naming op when an earlier failure broke the world. */
int ss_dist_check_usable(const char *op);
/* Marks the world broken with the message just recorded (ss_last_error) and returns rc. */
int ss_dist_break(int rc);
/* Seconds on the monotonic clock. */
double ss_dist_now(void);
/* root in 0..size-1, else SS_ERR_ARG naming op. */
int ss_dist_check_root(const char *op, int root);
/* A host buffer of at least n floats, kept and reused between calls (grown when a
 * call needs more); NULL with the error set. */
float *ss_dist_bucket(int64_t n, const char *op);
void ss_dist_bucket_free(void);

#ifdef SS_WITH_MPI
/* The failure of an MPI call, with MPI's sentence; breaks the world. */
int ss_dist_mpi_fail(int mpi_rc, const char *op, const char *what);
/* Waits for a non-blocking collective by polling MPI_Test (which also drives its
 * progress) for at most the world's timeout; a timeout breaks the world and names
 * op and what it waited for. */
int ss_dist_wait(MPI_Request *req, const char *op, const char *what);
#endif
#endif
