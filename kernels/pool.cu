/* Max and average pooling without padding, floor semantics (CPU reference:
 * host/cpu/cpu_pool.c). Forward passes run one thread per output; backward
 * passes run one thread per input element and gather the outputs whose window
 * covers it, in ascending output order -- the order in which the CPU's
 * scatter adds them -- so the results are bit-identical to the CPU's, need no
 * atomics and do not depend on thread order, also when windows overlap
 * (stride < window). Inputs that no window covers (floor remainder, stride >
 * window) get a zero gradient. */
#include "launch.h"

#include "kernels.h"

#define GRID_STRIDE_LOOP(i, n)                                                    \
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);          \
       i += (size_t)gridDim.x * blockDim.x)

/* The outputs along one axis whose window [o*stride, o*stride + k) holds
 * input position p: o in [*lo, *hi] (empty when *lo > *hi). */
static __device__ __forceinline__ void covering(int p, int k, int stride, int out, int *lo, int *hi) {
  *lo = p < k ? 0 : (p - k) / stride + 1;
  const int h = p / stride;
  *hi = h < out - 1 ? h : out - 1;
}

/* sum of x[0..n) in double exactly as at_cpu_sum (cpu_ops.h) does it: element
 * t into accumulator t % 8, ascending, combined pairwise in a fixed order. */
static __device__ __forceinline__ double sum8(const float *x, int n) {
  double a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0, a4 = 0.0, a5 = 0.0, a6 = 0.0, a7 = 0.0;
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    a0 += (double)x[i];
    a1 += (double)x[i + 1];
    a2 += (double)x[i + 2];
    a3 += (double)x[i + 3];
    a4 += (double)x[i + 4];
    a5 += (double)x[i + 5];
    a6 += (double)x[i + 6];
    a7 += (double)x[i + 7];
  }
  const int r = n - i; /* 0..7 left; element i + k goes to accumulator k */
  if (r > 0) a0 += (double)x[i];
  if (r > 1) a1 += (double)x[i + 1];
  if (r > 2) a2 += (double)x[i + 2];
  if (r > 3) a3 += (double)x[i + 3];
  if (r > 4) a4 += (double)x[i + 4];
  if (r > 5) a5 += (double)x[i + 5];
  if (r > 6) a6 += (double)x[i + 6];
  return ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7));
}

/* One thread per output. Window in row-major order; strict > keeps the first
 * maximum; a NaN always takes over (so the last NaN of a window wins and
 * propagates), exactly as the CPU. The switch starts at the window's first
 * element (a window of -Inf). */
static __global__ void __launch_bounds__(ATK_THREADS)
    maxpool_forward_kernel(PoolShape s, const float *__restrict__ x, float *__restrict__ y,
                           int32_t *__restrict__ switches, size_t total) {
  const size_t in_plane = (size_t)s.h_in * s.w_in, out_plane = (size_t)s.h_out * s.w_out;
  GRID_STRIDE_LOOP(idx, total) {
    const size_t plane = idx / out_plane;
    const int o = (int)(idx - plane * out_plane);
    const int oh = o / s.w_out, ow = o - oh * s.w_out;
    const float *xp = x + plane * in_plane;
    const int h0 = oh * s.stride_h, w0 = ow * s.stride_w;
    float best = -INFINITY;
    int32_t arg = h0 * s.w_in + w0;
    for (int i = 0; i < s.kh; i++) {
      const int row = (h0 + i) * s.w_in + w0;
      for (int j = 0; j < s.kw; j++) {
        const float v = xp[row + j];
        if (v > best || isnan(v)) {
          best = v;
          arg = row + j;
        }
      }
    }
    y[idx] = best;
    switches[idx] = arg;
  }
}

/* One thread per input element: the sum of dy over the covering outputs whose
 * switch names this element, in ascending output order (the CPU's order). */
static __global__ void __launch_bounds__(ATK_THREADS)
    maxpool_backward_kernel(PoolShape s, const float *__restrict__ dy, const int32_t *__restrict__ switches,
                            float *__restrict__ dx, size_t total) {
  const size_t in_plane = (size_t)s.h_in * s.w_in, out_plane = (size_t)s.h_out * s.w_out;
  GRID_STRIDE_LOOP(idx, total) {
    const size_t plane = idx / in_plane;
    const int e = (int)(idx - plane * in_plane);
    const int h = e / s.w_in, w = e - h * s.w_in;
    int oh0, oh1, ow0, ow1;
    covering(h, s.kh, s.stride_h, s.h_out, &oh0, &oh1);
    covering(w, s.kw, s.stride_w, s.w_out, &ow0, &ow1);
    const float *dyp = dy + plane * out_plane;
    const int32_t *sp = switches + plane * out_plane;
    float acc = 0.0f;
    for (int oh = oh0; oh <= oh1; oh++)
      for (int ow = ow0; ow <= ow1; ow++) {
        const int o = oh * s.w_out + ow;
        if (sp[o] == e) acc += dyp[o];
      }
    dx[idx] = acc;
  }
}

/* One thread per output: rows of the window summed as the CPU does (at_cpu_sum
 * per row, rows added in double), times 1/(kh*kw) in double. */
static __global__ void __launch_bounds__(ATK_THREADS)
    avgpool_forward_kernel(PoolShape s, const float *__restrict__ x, float *__restrict__ y, double inv,
                           size_t total) {
  const size_t in_plane = (size_t)s.h_in * s.w_in, out_plane = (size_t)s.h_out * s.w_out;
  GRID_STRIDE_LOOP(idx, total) {
    const size_t plane = idx / out_plane;
    const int o = (int)(idx - plane * out_plane);
    const int oh = o / s.w_out, ow = o - oh * s.w_out;
    const float *xp = x + plane * in_plane + (size_t)oh * s.stride_h * s.w_in + (size_t)ow * s.stride_w;
    double acc = 0.0;
    for (int i = 0; i < s.kh; i++) acc += sum8(xp + (size_t)i * s.w_in, s.kw);
    y[idx] = (float)(acc * inv);
  }
}

/* One thread per input element: sum of dy / (kh*kw) (divided in float, as
 * the CPU) over the covering outputs, ascending. */
static __global__ void __launch_bounds__(ATK_THREADS)
    avgpool_backward_kernel(PoolShape s, const float *__restrict__ dy, float *__restrict__ dx, float div,
                            size_t total) {
  const size_t in_plane = (size_t)s.h_in * s.w_in, out_plane = (size_t)s.h_out * s.w_out;
  GRID_STRIDE_LOOP(idx, total) {
    const size_t plane = idx / in_plane;
    const int e = (int)(idx - plane * in_plane);
    const int h = e / s.w_in, w = e - h * s.w_in;
    int oh0, oh1, ow0, ow1;
    covering(h, s.kh, s.stride_h, s.h_out, &oh0, &oh1);
    covering(w, s.kw, s.stride_w, s.w_out, &ow0, &ow1);
    const float *dyp = dy + plane * out_plane;
    float acc = 0.0f;
    for (int oh = oh0; oh <= oh1; oh++)
      for (int ow = ow0; ow <= ow1; ow++) acc += dyp[oh * s.w_out + ow] / div;
    dx[idx] = acc;
  }
}

static size_t planes_of(const PoolShape *s) { return (size_t)s->n * s->c; }

void atk_maxpool_forward(PoolShape s, const float *x, float *y, int32_t *switches, cudaStream_t st) {
  const size_t total = planes_of(&s) * s.h_out * s.w_out;
  if (total == 0) return;
  KLAUNCH(maxpool_forward_kernel, atk_blocks_for(total, ATK_THREADS), ATK_THREADS, 0, st, s, x, y, switches,
          total);
}

void atk_maxpool_backward(PoolShape s, const float *dy, const int32_t *switches, float *dx, cudaStream_t st) {
  const size_t total = planes_of(&s) * s.h_in * s.w_in;
  if (total == 0) return;
  KLAUNCH(maxpool_backward_kernel, atk_blocks_for(total, ATK_THREADS), ATK_THREADS, 0, st, s, dy, switches, dx,
          total);
}

void atk_avgpool_forward(PoolShape s, const float *x, float *y, cudaStream_t st) {
  const size_t total = planes_of(&s) * s.h_out * s.w_out;
  if (total == 0) return;
  const double inv = 1.0 / ((double)s.kh * s.kw);
  KLAUNCH(avgpool_forward_kernel, atk_blocks_for(total, ATK_THREADS), ATK_THREADS, 0, st, s, x, y, inv, total);
}

void atk_avgpool_backward(PoolShape s, const float *dy, float *dx, cudaStream_t st) {
  const size_t total = planes_of(&s) * s.h_in * s.w_in;
  if (total == 0) return;
  const float div = (float)s.kh * (float)s.kw;
  KLAUNCH(avgpool_backward_kernel, atk_blocks_for(total, ATK_THREADS), ATK_THREADS, 0, st, s, dy, dx, div, total);
}
