/* ReLU, ELU, sigmoid and inverted dropout (CPU reference:
 * host/cpu/cpu_activation.c, host/cpu/cpu_loss.c for the sigmoid). Outputs
 * may alias inputs: every thread reads index i before writing index i, so no
 * pointer here is __restrict__. */
#include "launch.h"

#include "core/philox.h"
#include "kernels.h"
#include "core/scalar_math.h"

__global__ void __launch_bounds__(ATK_THREADS) relu_forward_kernel(const float *x, float *y, size_t n) {
  const size_t stride = (size_t)gridDim.x * blockDim.x;
  /* not fmaxf: NaN passes through, as on the CPU (and in PyTorch) */
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
    const float v = x[i];
    y[i] = v < 0.0f ? 0.0f : v;
  }
}

__global__ void __launch_bounds__(ATK_THREADS) relu_backward_kernel(const float *y, const float *dy, float *dx,
                                                                    size_t n) {
  const size_t stride = (size_t)gridDim.x * blockDim.x;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
    dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

__global__ void __launch_bounds__(ATK_THREADS) elu_forward_kernel(const float *x, float *y, size_t n,
                                                                  float alpha) {
  const size_t stride = (size_t)gridDim.x * blockDim.x;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
    const float v = x[i];
    y[i] = v > 0.0f ? v : alpha * at_expm1_nonpos(v);
  }
}

/* From the output: 1 where y > 0, alpha * exp(x) = y + alpha elsewhere. */
__global__ void __launch_bounds__(ATK_THREADS) elu_backward_kernel(const float *y, const float *dy, float *dx,
                                                                   size_t n, float alpha) {
  const size_t stride = (size_t)gridDim.x * blockDim.x;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
    const float v = y[i];
    dx[i] = v > 0.0f ? dy[i] : dy[i] * (v + alpha);
  }
}

/* The numerically stable form: exp of a non-positive argument only. expf,
 * not __expf: the fast one is off by far more than the 1e-6 we promise. */
__global__ void __launch_bounds__(ATK_THREADS) sigmoid_kernel(const float *x, float *y, size_t n) {
  const size_t stride = (size_t)gridDim.x * blockDim.x;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
    y[i] = at_sigmoidf(x[i]);
  }
}

/* One thread per Philox block: its four words are the uniforms of indices
 * 4b .. 4b+3 (word i & 3 of block i >> 2, exactly what at_philox_uniform
 * returns for index i), so each block is computed once instead of four
 * times. keep iff uniform >= p; scale = 1 / (1 - p) from the host, as the
 * CPU computes it. Only used for p > 0 (p <= 0 is a plain copy). */
__global__ void __launch_bounds__(ATK_THREADS) dropout_forward_kernel(const float *x, float *y, uint8_t *mask,
                                                                      size_t n, float p, float scale,
                                                                      uint64_t seed, uint64_t stream_id) {
  const size_t blocks = (n + 3) / 4;
  const size_t stride = (size_t)gridDim.x * blockDim.x;
  for (size_t b = (size_t)blockIdx.x * blockDim.x + threadIdx.x; b < blocks; b += stride) {
    const Philox4x32 r = at_philox_block(seed, stream_id, (uint64_t)b);
    const size_t lo = b * 4;
    const size_t hi = lo + 4 < n ? lo + 4 : n;
    for (size_t i = lo; i < hi; i++) {
      /* the conversion of at_philox_uniform (24 random bits) */
      const float u = (float)(r.v[i - lo] >> 8) * (1.0f / 16777216.0f);
      const int keep = u >= p;
      mask[i] = (uint8_t)keep;
      y[i] = keep ? x[i] * scale : 0.0f;
    }
  }
}

/* p <= 0: y = x unchanged (NaN and -0 included), every mask byte 1. */
__global__ void __launch_bounds__(ATK_THREADS) dropout_identity_kernel(const float *x, float *y, uint8_t *mask,
                                                                       size_t n) {
  const size_t stride = (size_t)gridDim.x * blockDim.x;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
    y[i] = x[i];
    mask[i] = 1;
  }
}

__global__ void __launch_bounds__(ATK_THREADS) dropout_backward_kernel(const float *dy, const uint8_t *mask,
                                                                       float *dx, size_t n, float scale) {
  const size_t stride = (size_t)gridDim.x * blockDim.x;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
    dx[i] = mask[i] ? dy[i] * scale : 0.0f;
}

extern "C" void atk_relu_forward(const float *x, float *y, size_t n, cudaStream_t st) {
  if (n == 0) return;
  KLAUNCH(relu_forward_kernel, atk_blocks_for(n, ATK_THREADS), ATK_THREADS, 0, st, x, y, n);
}

extern "C" void atk_relu_backward(const float *y, const float *dy, float *dx, size_t n, cudaStream_t st) {
  if (n == 0) return;
  KLAUNCH(relu_backward_kernel, atk_blocks_for(n, ATK_THREADS), ATK_THREADS, 0, st, y, dy, dx, n);
}

extern "C" void atk_elu_forward(const float *x, float *y, size_t n, float alpha, cudaStream_t st) {
  if (n == 0) return;
  KLAUNCH(elu_forward_kernel, atk_blocks_for(n, ATK_THREADS), ATK_THREADS, 0, st, x, y, n, alpha);
}

extern "C" void atk_elu_backward(const float *y, const float *dy, float *dx, size_t n, float alpha,
                                 cudaStream_t st) {
  if (n == 0) return;
  KLAUNCH(elu_backward_kernel, atk_blocks_for(n, ATK_THREADS), ATK_THREADS, 0, st, y, dy, dx, n, alpha);
}

extern "C" void atk_sigmoid(const float *x, float *y, size_t n, cudaStream_t st) {
  if (n == 0) return;
  KLAUNCH(sigmoid_kernel, atk_blocks_for(n, ATK_THREADS), ATK_THREADS, 0, st, x, y, n);
}

extern "C" void atk_dropout_forward(const float *x, float *y, uint8_t *mask, size_t n, float p, uint64_t seed,
                                    uint64_t stream_id, cudaStream_t st) {
  if (n == 0) return;
  if (p <= 0.0f) {
    KLAUNCH(dropout_identity_kernel, atk_blocks_for(n, ATK_THREADS), ATK_THREADS, 0, st, x, y, mask, n);
    return;
  }
  /* p >= 1 keeps nothing (a uniform is < 1), so the scale never matters */
  const float scale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
  KLAUNCH(dropout_forward_kernel, atk_blocks_for((n + 3) / 4, ATK_THREADS), ATK_THREADS, 0, st, x, y, mask, n, p,
          scale, seed, stream_id);
}

extern "C" void atk_dropout_backward(const float *dy, const uint8_t *mask, float *dx, size_t n, float p,
                                     cudaStream_t st) {
  if (n == 0) return;
  const float scale = p <= 0.0f ? 1.0f : p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
  KLAUNCH(dropout_backward_kernel, atk_blocks_for(n, ATK_THREADS), ATK_THREADS, 0, st, dy, mask, dx, n, scale);
}
