/* nccl.h — the NCCL communicator and its collectives (dist/nccl.cu, compiled only
 * with SS_WITH_NCCL) for collectives.c. One communicator per process, bound to the
 * CUDA device current when it is opened; collectives run on the scalespace stream and
 * wait for their end at most `timeout` seconds (0: forever), after which the
 * communicator is aborted. All return an ss_status with NCCL's sentence on failure. */
#ifndef SS_DIST_NCCL_H
#define SS_DIST_NCCL_H
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif
enum { SS_NCCL_ID_BYTES = 128 }; /* sizeof(ncclUniqueId) */
/* A new unique id (rank 0 makes it; the others receive it through MPI). */
int ss_nccl_unique_id(unsigned char *id);
int ss_nccl_open(const unsigned char *id, int rank, int size, double timeout, const char *op);
/* buf (n floats, device) = the sum over ranks, divided by the number of ranks when mean. */
int ss_nccl_allreduce(float *buf, int64_t n, int mean, double timeout, const char *op);
/* buf (n floats, device) = root's buf. */
int ss_nccl_broadcast(float *buf, int64_t n, int root, double timeout, const char *op);
/* Finalizes and frees the communicator (none: nothing to do). */
int ss_nccl_close(double timeout);
#ifdef __cplusplus
}
#endif
#endif
