/* Test double of NCCL (tests only). "Device" memory is host memory under the
 * emulated CUDA backend, so a job of several ranks can sum through MPI: the
 * NCCL code of ./auratag (host/cuda/cuda_nccl.c: the id broadcast, the
 * communicator, the all-reduce on the stream and its deadline) then runs in
 * `mpirun -np 2 auratag_emu train --backend cuda`. Without MPI: one rank.
 * As in NCCL, a communicator belongs to the device current at
 * ncclCommInitRank: a stream or buffer of another device is refused. The
 * sum takes time: the stream stays busy for two queries after it (so the
 * caller's polling sees cudaErrorNotReady, as on a GPU). */
#include <nccl.h>
#include <string.h>

#include "fake_cuda.h"

#ifdef AT_WITH_MPI
#include <mpi.h>
#endif

typedef struct FakeComm {
  int nranks, rank, device;
  ncclUniqueId id;
} FakeComm;
static FakeComm the_comm;

ncclResult_t ncclGetUniqueId(ncclUniqueId *id) {
  for (size_t i = 0; i < sizeof id->internal; i++) id->internal[i] = (char)(i * 7 + 1);
  return ncclSuccess;
}

ncclResult_t ncclCommInitRank(ncclComm_t *comm, int nranks, ncclUniqueId id, int rank) {
  ncclUniqueId want;
  ncclGetUniqueId(&want);
  /* the id must have come from rank 0 (the broadcast worked) */
  if (memcmp(&id, &want, sizeof id) != 0 || rank < 0 || rank >= nranks) return ncclInvalidArgument;
#ifndef AT_WITH_MPI
  if (nranks != 1) return ncclInvalidUsage;
#endif
  the_comm.nranks = nranks;
  the_comm.rank = rank;
  the_comm.id = id;
  the_comm.device = fake_cuda_current_device();
  *comm = (ncclComm_t)(void *)&the_comm;
  return ncclSuccess;
}

ncclResult_t ncclAllReduce(const void *send, void *recv, size_t count, ncclDataType_t type, ncclRedOp_t op,
                           ncclComm_t comm, cudaStream_t stream) {
  if (comm != (ncclComm_t)(void *)&the_comm || type != ncclFloat || op != ncclSum) return ncclInvalidArgument;
  const size_t bytes = count * sizeof(float);
  if (fake_cuda_stream_device(stream) != the_comm.device || fake_cuda_memory_device(send, bytes) != the_comm.device ||
      fake_cuda_memory_device(recv, bytes) != the_comm.device)
    return ncclInvalidArgument;
  fake_cuda_stream_run(stream);
  if (send != recv) memmove(recv, send, count * sizeof(float));
#ifdef AT_WITH_MPI
  if (the_comm.nranks > 1 &&
      MPI_Allreduce(MPI_IN_PLACE, recv, (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD) != MPI_SUCCESS)
    return ncclSystemError;
#endif
  fake_cuda_stream_busy(stream, 2);
  return ncclSuccess;
}

ncclResult_t ncclCommGetAsyncError(ncclComm_t comm, ncclResult_t *async) {
  (void)comm;
  *async = ncclSuccess;
  return ncclSuccess;
}

ncclResult_t ncclCommAbort(ncclComm_t comm) {
  (void)comm;
  return ncclSuccess;
}

const char *ncclGetErrorString(ncclResult_t r) { return r == ncclSuccess ? "no error" : "fake NCCL error"; }
