/* Data parallelism across processes (MPI ranks): one process per GPU (or per
 * CPU node), launched by `mpirun -np N ./auratag train ...` or `srun`.
 *
 * A process started any other way, or a build without MPI, is a job of one
 * rank and every call here is a no-op, so the rest of auratag never tests
 * for MPI. Collectives wait at most the collective timeout (default 600 s):
 * a rank that died or hangs makes the others stop with a message naming
 * it (rank 0 knows who never arrived) instead of waiting forever. */
#ifndef AT_DIST_H
#define AT_DIST_H

#include <stddef.h>

#include "nn/backend.h"

typedef struct DistInfo {
  int rank, size;             /* in the job */
  int local_rank, local_size; /* on this node (shared-memory communicator) */
} DistInfo;

/* Starts MPI when launched as a job of several ranks (mpirun, srun) and this
 * build has MPI; picks the rank's GPU (local rank) unless --device said
 * otherwise; makes a fatal error on any rank end the whole job. */
void dist_init(int *argc, char ***argv);
void dist_finalize(void);
const DistInfo *dist_info(void);
static inline int dist_rank(void) { return dist_info()->rank; }
static inline int dist_size(void) { return dist_info()->size; }
/* Whether this build has MPI (a job of several ranks is possible). */
int dist_built(void);

void dist_set_timeout(double seconds);

/* In-place sum over the ranks of n floats in the backend's memory, in one
 * collective (NCCL on the CUDA backend where registered, else MPI on host
 * memory). what and step name it in timeout messages. */
void dist_allreduce_sum(const Backend *be, float *buf, size_t n, const char *what, long step);
/* In-place sums over the ranks of n doubles (one collective). */
void dist_sum_doubles(double *v, int n, const char *what, long step);

/* Stops the job when the ranks disagree on something that must be the same
 * everywhere (the experiment config, the auratag binary), naming the ranks. */
void dist_check_same(const char *what, const void *data, size_t bytes);
/* dist_check_same of this executable's bytes. */
void dist_check_same_binary(void);

/* Rank 0's bytes to every rank (e.g. NCCL's unique id). */
void dist_broadcast_bytes(void *buf, size_t bytes, const char *what);

/* A device all-reduce a GPU build registers (NCCL): sum in place on the
 * device, waiting at most timeout seconds; 0 ok, -1 timed out. */
typedef int (*DeviceAllreduce)(float *buf, size_t n, double timeout);
void dist_register_device_allreduce(DeviceAllreduce fn);

#endif
