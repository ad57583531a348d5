/* Elementwise kernels and whole-buffer reductions (CPU reference:
 * host/cpu/cpu_elementwise.c). */
#include "launch.h"

#include "kernels.h"
#include "block_reduce.h"



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

/* Each thread counts its share, adds it (when nonzero) to a block counter
 * in shared memory, and thread 0 adds the block's count to *count: integer
 * additions commute, so the count is exact in any order, and the common
 * all-finite case costs no atomics at all. */
__global__ void __launch_bounds__(ATK_THREADS) count_nonfinite_kernel(const float *x, size_t n,
                                                                      unsigned int *count) {
  __shared__ unsigned block_count[1];
  CUEMU_SHARED_POISON(block_count);
  if (threadIdx.x == 0) block_count[0] = 0u;
  __syncthreads();
  const size_t stride = (size_t)gridDim.x * blockDim.x;
  unsigned c = 0;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) c += (unsigned)nonfinite(x[i]);
  if (c) atomicAdd(&block_count[0], c);
  __syncthreads();
  if (threadIdx.x == 0 && block_count[0]) atomicAdd(count, block_count[0]);
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
