/* Fixed-order block reduction shared by the kernel sources (included after
 * launch.h). */
#ifndef AT_KERNELS_BLOCK_REDUCE_H
#define AT_KERNELS_BLOCK_REDUCE_H


/* Sum of v over the block's ATK_THREADS threads (blockDim.x must be
 * ATK_THREADS) in a fixed order, so the result does not depend on which
 * thread gets where first: one barrier, then lane l of warp 0 adds slots l,
 * l + 32, ... in index order and a shuffle tree adds the 32 lanes. Valid in
 * thread 0 only. Every thread must call it. */
static __device__ double block_sum_double(double v) {
  __shared__ double part[ATK_THREADS];
  CUEMU_SHARED_POISON(part);
  part[threadIdx.x] = v;
  __syncthreads();
  double s = 0.0;
  if (threadIdx.x < 32) {
    for (unsigned j = threadIdx.x; j < ATK_THREADS; j += 32) s += part[j];
    for (unsigned d = 16; d > 0; d /= 2) s += __shfl_down_sync(FULL_MASK, s, d);
  }
  __syncthreads(); /* part[] may be reused by a later call in the same kernel */
  return s;
}

#endif
