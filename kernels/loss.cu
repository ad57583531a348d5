/* Row softmax and the two losses (CPU reference: host/cpu/cpu_loss.c). The
 * losses are small (batch x classes, a few thousand elements): each runs as
 * a single block that adds its terms in a fixed order in double, so the loss
 * is deterministic without float atomics or a scratch buffer. */
#include "launch.h"

#include "kernels.h"
#include "core/scalar_math.h"
#include "block_reduce.h"


#define WARPS_PER_BLOCK (ATK_THREADS / 32)

/* ---- softmax: one warp per row ---- */

/* Max-subtracted, sum in double, y = e * (float)(1 / sum) as on the CPU.
 * xor-butterflies leave the same (bit-identical, since a + b == b + a) total
 * in every lane. A NaN anywhere in a row makes the whole row NaN, as on the
 * CPU (the max skips it but its exp poisons the sum). */
__global__ void __launch_bounds__(ATK_THREADS) softmax_kernel(int n, int classes, const float *x, float *y) {
  const int lane = (int)(threadIdx.x % 32);
  const int rows_per_grid = (int)(gridDim.x * WARPS_PER_BLOCK);
  /* r is the same in all lanes of a warp: the shuffles below see full warps */
  for (int r = (int)(blockIdx.x * WARPS_PER_BLOCK + threadIdx.x / 32); r < n; r += rows_per_grid) {
    const float *xr = x + (size_t)r * classes;
    float *yr = y + (size_t)r * classes;
    float mx = -INFINITY;
    for (int j = lane; j < classes; j += 32) mx = xr[j] > mx ? xr[j] : mx;
    for (int d = 16; d > 0; d /= 2) mx = fmaxf(mx, __shfl_xor_sync(FULL_MASK, mx, d));
    double sum = 0.0;
    for (int j = lane; j < classes; j += 32) {
      const float e = expf(xr[j] - mx);
      yr[j] = e; /* read back below by this same thread only */
      sum += e;
    }
    for (int d = 16; d > 0; d /= 2) sum += __shfl_xor_sync(FULL_MASK, sum, d);
    const float inv = (float)(1.0 / sum);
    for (int j = lane; j < classes; j += 32) yr[j] *= inv;
  }
}

/* ---- binary cross-entropy with logits ---- */


/* One block. Per element, in double: max(z, 0) - z t + log1p(exp(-|z|)),
 * dlogits = (sigmoid(z) - t) / total. Launched with 1 block. */
__global__ void __launch_bounds__(ATK_THREADS) bce_with_logits_kernel(size_t total, const float *logits,
                                                                      const float *targets, float *dlogits,
                                                                      double *loss) {
  const double inv = 1.0 / (double)total;
  double acc = 0.0;
  for (size_t i = threadIdx.x; i < total; i += blockDim.x) {
    const double z = logits[i], t = targets[i];
    acc += (z > 0 ? z : 0.0) - z * t + log1p(exp(-fabs(z)));
    if (dlogits) dlogits[i] = (float)((at_sigmoid_d(z) - t) * inv);
  }
  acc = block_sum_double(acc);
  if (threadIdx.x == 0) *loss = acc * inv;
}

/* ---- softmax cross-entropy: one block, one warp per row ---- */

/* Warp w takes rows w, w + WARPS_PER_BLOCK, ...; lane 0 adds their losses in
 * row order, then thread 0 adds the warp totals in warp order. A label
 * outside [0, classes) cannot stop the program from here: that row's loss
 * and dlogits become NaN (so the loss is NaN); the host checks labels before
 * upload to say which one is wrong. */
__global__ void __launch_bounds__(ATK_THREADS) softmax_cross_entropy_kernel(int n, int classes, const float *logits,
                                                                            const int32_t *labels,
                                                                            float *dlogits, double *loss) {
  __shared__ double warp_loss[WARPS_PER_BLOCK];
  CUEMU_SHARED_POISON(warp_loss);
  const int lane = (int)(threadIdx.x % 32), warp = (int)(threadIdx.x / 32);
  const double inv = 1.0 / (double)n;
  double acc = 0.0; /* meaningful in lane 0 */
  for (int r = warp; r < n; r += WARPS_PER_BLOCK) {
    const float *z = logits + (size_t)r * classes;
    const int label = labels[r];
    const int valid = label >= 0 && label < classes;
    float mxf = -INFINITY;
    for (int j = lane; j < classes; j += 32) mxf = z[j] > mxf ? z[j] : mxf;
    for (int d = 16; d > 0; d /= 2) mxf = fmaxf(mxf, __shfl_xor_sync(FULL_MASK, mxf, d));
    const double mx = mxf;
    double sum = 0.0;
    for (int j = lane; j < classes; j += 32) sum += exp((double)z[j] - mx);
    for (int d = 16; d > 0; d /= 2) sum += __shfl_xor_sync(FULL_MASK, sum, d);
    const double lse = valid ? mx + log(sum) : (double)NAN;
    /* an invalid label reads z[0] (in bounds); lse is NaN there anyway */
    if (lane == 0) acc += lse - (double)z[valid ? label : 0];
    if (dlogits) {
      float *dr = dlogits + (size_t)r * classes;
      for (int j = lane; j < classes; j += 32)
        dr[j] = (float)((exp((double)z[j] - lse) - (j == label ? 1.0 : 0.0)) * inv);
    }
  }
  if (lane == 0) warp_loss[warp] = acc;
  __syncthreads();
  if (threadIdx.x == 0) {
    double total = 0.0;
    for (int w = 0; w < WARPS_PER_BLOCK; w++) total += warp_loss[w];
    *loss = total * inv;
  }
}

extern "C" void atk_softmax(int n, int classes, const float *x, float *y, cudaStream_t st) {
  if (n <= 0 || classes <= 0) return;
  const unsigned blocks = atk_blocks_for((size_t)n, WARPS_PER_BLOCK);
  KLAUNCH(softmax_kernel, blocks, ATK_THREADS, 0, st, n, classes, x, y);
}

extern "C" void atk_bce_with_logits(int n, int classes, const float *logits, const float *targets, float *dlogits,
                                    double *loss, cudaStream_t st) {
  KLAUNCH(bce_with_logits_kernel, 1, ATK_THREADS, 0, st, (size_t)n * (size_t)classes, logits, targets, dlogits,
          loss);
}

extern "C" void atk_softmax_cross_entropy(int n, int classes, const float *logits, const int32_t *labels,
                                          float *dlogits, double *loss, cudaStream_t st) {
  KLAUNCH(softmax_cross_entropy_kernel, 1, ATK_THREADS, 0, st, n, classes, logits, labels, dlogits, loss);
}
