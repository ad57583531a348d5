/* Knobs of the CUDA test doubles (tests/cuda/fake/) and what the doubles of
 * the libraries (cuBLAS, cuFFT, cuDNN, NCCL) share with the runtime's.
 *
 * The runtime double models what the real runtime enforces, as far as a CPU
 * can: FAKE_CUDA_DEVICES devices, a current device per host thread (0 at
 * first), allocations, streams and events owned by the device current when
 * they were made, kernel launches refused on a stream of another device,
 * per-thread last errors (sticky ones stay), and streams as queues: copies
 * and memsets wait in their stream's queue and run when something needs
 * them (a kernel or library call on that stream, a synchronisation, an
 * event), never earlier — so two streams without an event between them run
 * in the order that exposes a missing dependency. Kernels and library calls
 * run when issued, after the queued work of their stream. */
#ifndef AT_FAKE_CUDA_H
#define AT_FAKE_CUDA_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct CUstream_st *cudaStream_t;

enum { FAKE_CUDA_DEVICES = 2 };

extern long fake_cuda_live_allocations;   /* cudaMalloc'd and not yet freed */
extern size_t fake_cuda_fail_after_bytes; /* cudaMalloc fails beyond this total */
extern long fake_cublas_gemm_calls;
extern long fake_cuda_pinned_allocations; /* cudaMallocHost'd and not yet freed */
extern size_t fake_cuda_high_water_bytes; /* most device bytes live at once */
size_t fake_cuda_device_bytes(void);      /* device bytes live now, all devices */

/* ---- for the doubles of the libraries ---- */

/* The calling thread's current device. */
int fake_cuda_current_device(void);
/* The device that owns a stream (NULL, the legacy default stream: the
 * current device's), or -1 for a handle the runtime never made. */
int fake_cuda_stream_device(cudaStream_t stream);
/* The device whose allocation holds [p, p + bytes), or -1 when that range is
 * not inside one device allocation (host memory, freed memory, overrun). */
int fake_cuda_memory_device(const void *p, size_t bytes);
/* Runs the work queued on the stream before what the caller does now (as
 * the GPU would, in stream order). Every library call that "runs on a
 * stream" calls this first, then does its work at once. */
void fake_cuda_stream_run(cudaStream_t stream);
/* The next `polls` cudaStreamQuery calls on the stream answer
 * cudaErrorNotReady (work that takes time, such as a collective). */
void fake_cuda_stream_busy(cudaStream_t stream, int polls);
/* Records an error as the runtime does for a failed asynchronous operation
 * (sticky: every later call returns it) — for tests of error paths. */
void fake_cuda_set_sticky_error(int cuda_error);

/* NVIDIA_TF32_OVERRIDE=0 turns TF32 off in the real cuBLAS and cuDNN,
 * whatever math mode a program asks for; the doubles honour it too. */
static inline int fake_tf32_allowed(void) {
  const char *e = getenv("NVIDIA_TF32_OVERRIDE");
  return !(e && !strcmp(e, "0"));
}

/* TF32, what a tensor core reads: 10 mantissa bits, rounded to nearest even
 * (the cuBLAS and cuDNN doubles round their operands with it under
 * tensor-op math). */
static inline float fake_tf32(float v) {
  uint32_t u;
  memcpy(&u, &v, sizeof u);
  if ((u & 0x7f800000u) != 0x7f800000u) u = (u + 0xfffu + ((u >> 13) & 1u)) & 0xffffe000u;
  memcpy(&v, &u, sizeof v);
  return v;
}

#endif
