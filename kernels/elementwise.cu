/* Elementwise kernels and whole-buffer reductions (CPU reference:
 * host/cpu/cpu_elementwise.c). */
#include "launch.h"

#include "kernels.h"

#ifndef CUEMU_SHARED_POISON
#define CUEMU_SHARED_POISON(a) ((void)0)
#endif

#define FULL_MASK 0xffffffffu
#define WARPS_PER_BLOCK (ATK_THREADS / 32)

__global__ void __launch_bounds__(ATK_THREADS) fill_kernel(float *x, size_t n, float value) {
  const size_t stride = (size_t)gridDim.x * blockDim.x;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) x[i] = value;
}

/* y may alias a or b: each thread reads index i before writing it. */
__global__ void __launch_bounds__(ATK_THREADS) add_kernel(float *y, const float *a, const float *b, size_t n) {
  const size_t stride = (size_t)gridDim.x * blockDim.x;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) y[i] = a[i] + b[i];
}

__global__ void __launch_bounds__(ATK_THREADS) scale_kernel(float *x, size_t n, float factor) {
  const size_t stride = (size_t)gridDim.x * blockDim.x;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) x[i] *= factor;
}

/* Sum of v over the block's ATK_THREADS threads in a fixed tree (shuffles
 * within each warp, then warp 0 over the warp sums), so the result does not
 * depend on which thread gets where first. Valid in thread 0 only. Every
 * thread of the block must call it (it holds barriers). */
static __device__ double block_sum_double(double v) {
  __shared__ double warp_sums[WARPS_PER_BLOCK];
  CUEMU_SHARED_POISON(warp_sums);
  const unsigned lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  for (unsigned d = 16; d > 0; d /= 2) v += __shfl_down_sync(FULL_MASK, v, d);
  if (lane == 0) warp_sums[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < WARPS_PER_BLOCK ? warp_sums[lane] : 0.0;
    for (unsigned d = 16; d > 0; d /= 2) v += __shfl_down_sync(FULL_MASK, v, d);
  }
  return v;
}

/* First pass: block b sums x[i]^2 (exact in double) over its grid-stride
 * share of the indices into scratch[b]. Launched with ATK_REDUCE_BLOCKS
 * blocks of ATK_THREADS threads, always, so which thread adds which
 * elements depends only on n. */
__global__ void __launch_bounds__(ATK_THREADS) sum_squares_partial_kernel(const float *x, size_t n,
                                                                          double *scratch) {
  const size_t stride = (size_t)gridDim.x * blockDim.x;
  double acc = 0.0;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
    const double v = (double)x[i];
    acc += v * v;
  }
  acc = block_sum_double(acc);
  if (threadIdx.x == 0) scratch[blockIdx.x] = acc;
}

/* Second pass: one block adds the ATK_REDUCE_BLOCKS partials with the same
 * fixed tree. */
__global__ void __launch_bounds__(ATK_THREADS) sum_squares_final_kernel(const double *scratch, double *out) {
  double acc = 0.0;
  for (unsigned b = threadIdx.x; b < ATK_REDUCE_BLOCKS; b += blockDim.x) acc += scratch[b];
  acc = block_sum_double(acc);
  if (threadIdx.x == 0) *out = acc;
}

__global__ void zero_counter_kernel(unsigned int *count) { *count = 0u; }

/* Exponent all ones: +-Inf or NaN (a bit test, immune to fast-math flags). */
static __device__ __forceinline__ int nonfinite(float v) {
  return (__float_as_uint(v) & 0x7f800000u) == 0x7f800000u;
}

/* Each warp counts its share, then lane 0 adds it with one atomic: integer
 * addition commutes, so the count is exact in any order. */
__global__ void __launch_bounds__(ATK_THREADS) count_nonfinite_kernel(const float *x, size_t n,
                                                                      unsigned int *count) {
  const size_t stride = (size_t)gridDim.x * blockDim.x;
  unsigned c = 0;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) c += (unsigned)nonfinite(x[i]);
  for (int d = 16; d > 0; d /= 2) c += __shfl_xor_sync(FULL_MASK, c, d);
  if (threadIdx.x % 32 == 0 && c) atomicAdd(count, c);
}

extern "C" void atk_fill(float *x, size_t n, float value, cudaStream_t st) {
  if (n == 0) return;
  KLAUNCH(fill_kernel, atk_blocks_for(n, ATK_THREADS), ATK_THREADS, 0, st, x, n, value);
}

extern "C" void atk_add(float *y, const float *a, const float *b, size_t n, cudaStream_t st) {
  if (n == 0) return;
  KLAUNCH(add_kernel, atk_blocks_for(n, ATK_THREADS), ATK_THREADS, 0, st, y, a, b, n);
}

extern "C" void atk_scale(float *x, size_t n, float factor, cudaStream_t st) {
  if (n == 0) return;
  KLAUNCH(scale_kernel, atk_blocks_for(n, ATK_THREADS), ATK_THREADS, 0, st, x, n, factor);
}

/* scratch holds ATK_REDUCE_BLOCKS doubles. n == 0 gives 0. */
extern "C" void atk_sum_squares(const float *x, size_t n, double *scratch, double *out, cudaStream_t st) {
  KLAUNCH(sum_squares_partial_kernel, ATK_REDUCE_BLOCKS, ATK_THREADS, 0, st, x, n, scratch);
  KLAUNCH(sum_squares_final_kernel, 1, ATK_THREADS, 0, st, scratch, out);
}

/* The launcher zeroes *count first (same stream, so in order): callers need
 * not. */
extern "C" void atk_count_nonfinite(const float *x, size_t n, unsigned int *count, cudaStream_t st) {
  KLAUNCH(zero_counter_kernel, 1, 1, 0, st, count);
  if (n == 0) return;
  KLAUNCH(count_nonfinite_kernel, atk_blocks_for(n, ATK_THREADS), ATK_THREADS, 0, st, x, n, count);
}
