/* Gradient all-reduce across GPUs with NCCL (one GPU per rank): the
 * communicator is made on first use from a unique id that rank 0 creates and
 * MPI broadcasts (dist_broadcast_bytes), as in NCCL's "one device per
 * process" example; the sum runs on the backend's stream and is awaited with
 * a deadline, so that a dead peer ends in an abort, not a hang. */
#include <nccl.h>
#include <time.h>

#include "core/clock.h"
#include "cuda/cuda_check.h"
#include "cuda/cuda_internal.h"
#include "dist/dist.h"

#define NCCL_CHECK(call, what) nccl_check((call), (what), __FILE__, __LINE__)

static void nccl_check(ncclResult_t r, const char *what, const char *file, int line) {
  if (r == ncclSuccess) return;
  at_fatal("rank %d: NCCL failed %s (%s:%d): %s. Check NCCL_DEBUG=WARN output and the interconnect (NCCL_SOCKET_IFNAME, "
           "NCCL_IB_DISABLE)", dist_rank(), what, file, line, ncclGetErrorString(r));
}

static ncclComm_t g_comm;
static int g_ready;

int cuda_nccl_allreduce(float *buf, size_t n, double timeout) {
  at_cuda_select_device();
  if (!g_ready) {
    ncclUniqueId id;
    if (dist_rank() == 0) NCCL_CHECK(ncclGetUniqueId(&id), "creating the communicator id");
    dist_broadcast_bytes(&id, sizeof id, "NCCL communicator id");
    NCCL_CHECK(ncclCommInitRank(&g_comm, dist_size(), id, dist_rank()), "joining the communicator");
    g_ready = 1;
  }
  NCCL_CHECK(ncclAllReduce(buf, buf, n, ncclFloat, ncclSum, g_comm, at_cuda.stream), "summing the gradients");
  const double deadline = at_now_seconds() + timeout;
  for (;;) {
    cudaError_t e = cudaStreamQuery(at_cuda.stream);
    if (e == cudaSuccess) return 0;
    if (e != cudaErrorNotReady) CUDA_CHECK(e, "waiting for the NCCL all-reduce");
    /* "not ready" is an answer, not a failure, but the runtime keeps it as
     * the last error: cleared here, or the next kernel launch's check
     * would report it as its own */
    (void)cudaGetLastError();
    ncclResult_t async = ncclSuccess;
    NCCL_CHECK(ncclCommGetAsyncError(g_comm, &async), "polling the communicator");
    NCCL_CHECK(async, "in the all-reduce (reported asynchronously)");
    if (at_now_seconds() > deadline) {
      ncclCommAbort(g_comm);
      g_ready = 0;
      return -1;
    }
    struct timespec pause = {0, 100000};
    nanosleep(&pause, NULL);
  }
}
