/* Channel concatenation, one input at a time (CPU reference:
 * host/cpu/cpu_concat.c): part [n, c_part, plane] <-> channels
 * [c_offset, c_offset + c_part) of whole [n, c_total, plane]. Pure copies,
 * one thread per element of the part, consecutive threads on consecutive
 * addresses of both tensors. */
#include "launch.h"

#include "kernels.h"

/* index of part element idx inside whole */
static __device__ __forceinline__ size_t whole_index(size_t idx, size_t part_len, size_t whole_len,
                                                     size_t offset) {
  const size_t e = idx / part_len; /* example */
  return e * whole_len + offset + (idx - e * part_len);
}

static __global__ void __launch_bounds__(ATK_THREADS)
    concat_put_kernel(const float *__restrict__ part, float *__restrict__ whole, size_t part_len, size_t whole_len,
                      size_t offset, size_t total) {
  for (size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x; idx < total; idx += (size_t)gridDim.x * blockDim.x)
    whole[whole_index(idx, part_len, whole_len, offset)] = part[idx];
}

static __global__ void __launch_bounds__(ATK_THREADS)
    concat_take_kernel(const float *__restrict__ whole, float *__restrict__ part, size_t part_len, size_t whole_len,
                       size_t offset, size_t total) {
  for (size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x; idx < total; idx += (size_t)gridDim.x * blockDim.x)
    part[idx] = whole[whole_index(idx, part_len, whole_len, offset)];
}

void atk_concat_put(int n, int plane, int c_total, int c_offset, int c_part, const float *part, float *whole,
                    cudaStream_t st) {
  const size_t part_len = (size_t)c_part * plane, total = (size_t)n * part_len;
  if (total == 0) return;
  KLAUNCH(concat_put_kernel, atk_blocks_for(total, ATK_THREADS), ATK_THREADS, 0, st, part, whole, part_len,
          (size_t)c_total * plane, (size_t)c_offset * plane, total);
}

void atk_concat_take(int n, int plane, int c_total, int c_offset, int c_part, const float *whole, float *part,
                     cudaStream_t st) {
  const size_t part_len = (size_t)c_part * plane, total = (size_t)n * part_len;
  if (total == 0) return;
  KLAUNCH(concat_take_kernel, atk_blocks_for(total, ATK_THREADS), ATK_THREADS, 0, st, whole, part, part_len,
          (size_t)c_total * plane, (size_t)c_offset * plane, total);
}
