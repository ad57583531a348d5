/* Kernels that exist to prove the emulator (kernels/cuemu.h) catches what it
 * claims to catch; compiled only under the emulator, for
 * tests/cuda/test_kernels_cuemu.c. */
#include "launch.h"

#include "cuemu_probe.h"

/* Correct: block sum through shared memory with barriers, then a warp
 * shuffle tree. */
static __global__ void block_sum_kernel(const float *x, int n, float *out) {
  __shared__ float part[128];
  CUEMU_SHARED_POISON(part);
  int t = threadIdx.x;
  part[t] = t < n ? x[t] : 0.0f;
  __syncthreads();
  if (t < 32) {
    float s = part[t] + part[t + 32] + part[t + 64] + part[t + 96];
    for (int d = 16; d > 0; d /= 2) s += __shfl_xor_sync(FULL_MASK, s, d);
    if (t == 0) *out = s;
  }
}

/* Racy: reads a neighbour's shared slot without a barrier. The result
 * depends on which thread ran first. */
static __global__ void racy_kernel(float *out) {
  __shared__ float slot[64];
  CUEMU_SHARED_POISON(slot);
  int t = threadIdx.x;
  slot[t] = (float)t;
  out[t] = slot[(t + 1) % 64];
}

/* Divergent: only even threads reach the barrier. */
static __global__ void divergent_kernel(float *out) {
  if (threadIdx.x % 2 == 0) __syncthreads();
  out[threadIdx.x] = 1.0f;
}

/* Reads shared memory nobody wrote. */
static __global__ void uninitialised_shared_kernel(float *out) {
  __shared__ float slot[32];
  CUEMU_SHARED_POISON(slot);
  __syncthreads();
  out[threadIdx.x] = slot[threadIdx.x];
}

/* Atomics from every thread of several blocks. */
static __global__ void atomic_count_kernel(unsigned *count) { atomicAdd(count, 1u); }

extern "C" void probe_block_sum(const float *x, int n, float *out) {
  KLAUNCH(block_sum_kernel, 1, 128, 0, (cudaStream_t)0, x, n, out);
}
extern "C" void probe_racy(float *out) { KLAUNCH(racy_kernel, 1, 64, 0, (cudaStream_t)0, out); }
extern "C" void probe_divergent(float *out) { KLAUNCH(divergent_kernel, 1, 64, 0, (cudaStream_t)0, out); }
extern "C" void probe_uninitialised_shared(float *out) {
  KLAUNCH(uninitialised_shared_kernel, 1, 32, 0, (cudaStream_t)0, out);
}
extern "C" void probe_atomic_count(unsigned *count, int blocks, int threads) {
  KLAUNCH(atomic_count_kernel, blocks, threads, 0, (cudaStream_t)0, count);
}
extern "C" void probe_bad_block(float *out) { KLAUNCH(racy_kernel, 1, 2048, 0, (cudaStream_t)0, out); }
