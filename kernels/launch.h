/* What every kernel source includes first. One source, two builds:
 *  - nvcc (__CUDACC__): the real thing, launched with <<<>>>;
 *  - the host emulation for tests (AT_CUEMU): kernels/cuemu.h turns CUDA's
 *    keywords into C++ and runs each block's threads as fibers.
 * Kernel sources use the C-like subset of CUDA: no templates, no classes,
 * no <<<>>> outside KLAUNCH, fminf/fmaxf instead of min/max. */
#ifndef AT_KERNELS_LAUNCH_H
#define AT_KERNELS_LAUNCH_H

#if defined(__CUDACC__)
#include <cuda_runtime.h>
/* the emulator fills __shared__ arrays with NaN per block; nvcc: nothing */
#define CUEMU_SHARED_POISON(array) ((void)0)
#define KLAUNCH(kernel, grid, block, smem, stream, ...) \
  kernel<<<(grid), (block), (smem), (stream)>>>(__VA_ARGS__)
#elif defined(AT_CUEMU)
#include "cuemu.h"
#define KLAUNCH(kernel, grid, block, smem, stream, ...) \
  cuemu_launch(#kernel, dim3(grid), dim3(block), (smem), (stream), [&]() { kernel(__VA_ARGS__); })
#else
#error "kernel sources build with nvcc or with -DAT_CUEMU (tests)"
#endif

#include <stddef.h>
#include <stdint.h>

/* Functions usable on both sides (shared with host C code). */
#define AT_HD __host__ __device__

/* All lanes of a warp, for the *_sync intrinsics. */
#define FULL_MASK 0xffffffffu

/* Threads per block for 1-D elementwise kernels. */
#define ATK_THREADS 256

static inline unsigned atk_blocks_for(size_t n, unsigned threads) {
  size_t b = (n + threads - 1) / threads;
  /* grid-stride loops cover the rest */
  return (unsigned)(b < 1 ? 1 : b > 65535u * 16u ? 65535u * 16u : b);
}

#endif
