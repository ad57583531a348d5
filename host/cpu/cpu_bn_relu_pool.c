/* Per-channel batch norm -> ReLU -> max-pool as one pass (Choi's FCNs), or
 * batch norm -> max-pool (musicnn and its VGG baseline, whose ReLU comes
 * before the batch norm and stays in place over the convolution's output).
 *
 * Why: run one after the other, the three operations write and read two
 * tensors the size of the convolution's output (FCN-4's first: 537 MB at
 * batch 8), and their backward passes two more. Here each (example, channel)
 * plane is normalised and rectified into a buffer of one plane per thread,
 * pooled from there while it is in cache, and only the pooled output and its
 * switches reach memory; backward rebuilds the plane's gradient from the
 * switches in the same buffer. The model (nn/model.c) fuses a chain when
 * nobody reads its two inner outputs.
 *
 * The numbers are those of the separate operations bit for bit: the same
 * channel map (at_cpu_bn_channel_map), the same float expressions, the same
 * pooling loop (at_cpu_maxpool_plane) and the same double sums in the same
 * order (tests/test_ops.c checks it with memcmp). Threads split the channels. */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "core/error.h"
#include "cpu/cpu_ops.h"

static void check_chain(const BatchNormShape *b, const PoolShape *p) {
  AT_ASSERT(b->axis == AT_BN_PER_CHANNEL);
  AT_ASSERT(p->n == b->n && p->c == b->c && p->h_in == b->h && p->w_in == b->w);
}

/* One plane per thread, padded to a cache line. */
static size_t slice_floats(const BatchNormShape *b) { return ((size_t)b->h * b->w + 15) & ~(size_t)15; }

void at_cpu_bn_relu_maxpool_forward(const BatchNormShape *b, const PoolShape *p, int relu, int training, const float *x,
                                    const float *gamma, const float *beta, float *save_mean, float *save_invstd,
                                    float *running_mean, float *running_var, float *y, int32_t *switches) {
  check_chain(b, p);
  if (training) at_cpu_bn_check_batch(b);
  const size_t plane = (size_t)b->h * b->w, out_plane = (size_t)p->h_out * p->w_out, slice = slice_floats(b);
  const int channels = b->c, n = b->n;
  float *planes = at_cpu_scratch_borrow(slice * (size_t)omp_get_max_threads());
#pragma omp parallel for schedule(static) if ((size_t)n * channels * plane > AT_CPU_PAR_MIN)
  for (int c = 0; c < channels; c++) {
    float *restrict z = planes + slice * (size_t)omp_get_thread_num();
    float scale, shift;
    at_cpu_bn_channel_map(b, c, training, x, gamma, beta, save_mean, save_invstd, running_mean, running_var, &scale,
                          &shift);
    for (int e = 0; e < n; e++) {
      const size_t at = (size_t)e * channels + (size_t)c;
      const float *restrict xp = x + at * plane;
      if (relu) {
#pragma omp simd
        for (size_t i = 0; i < plane; i++) z[i] = at_cpu_relu1(xp[i] * scale + shift);
      } else {
#pragma omp simd
        for (size_t i = 0; i < plane; i++) z[i] = xp[i] * scale + shift;
      }
      at_cpu_maxpool_plane(p, z, y + at * out_plane, switches + at * out_plane);
    }
  }
  at_cpu_scratch_return(planes);
}

/* The gradient reaching the batch norm's output plane `at`: the pooled
 * gradient at each winner (with relu: each the ReLU passed, y > 0 there),
 * zero elsewhere. */
static void plane_gradient(const PoolShape *p, int relu, size_t plane, size_t at, const float *y, const float *dy,
                           const int32_t *switches, float *restrict z) {
  const size_t out_plane = (size_t)p->h_out * p->w_out;
  const float *restrict yp = y + at * out_plane, *restrict dyp = dy + at * out_plane;
  const int32_t *restrict sp = switches + at * out_plane;
  memset(z, 0, plane * sizeof(float));
  if (relu) {
    for (size_t o = 0; o < out_plane; o++)
      if (yp[o] > 0.0f) z[sp[o]] += dyp[o];
  } else {
    for (size_t o = 0; o < out_plane; o++) z[sp[o]] += dyp[o];
  }
}

void at_cpu_bn_relu_maxpool_backward(const BatchNormShape *b, const PoolShape *p, int relu, int training, const float *x,
                                     const float *y, const float *dy, const int32_t *switches, const float *gamma,
                                     const float *save_mean, const float *save_invstd, const float *running_var,
                                     float *dx, float *dgamma, float *dbeta) {
  check_chain(b, p);
  if (!training && !dx) return;
  const size_t plane = (size_t)b->h * b->w, slice = slice_floats(b);
  const int channels = b->c, n = b->n;
  float *planes = at_cpu_scratch_borrow(slice * (size_t)omp_get_max_threads());
#pragma omp parallel for schedule(static) if ((size_t)n * channels * plane > AT_CPU_PAR_MIN)
  for (int c = 0; c < channels; c++) {
    float *restrict z = planes + slice * (size_t)omp_get_thread_num();
    const float g = gamma ? gamma[c] : 1.0f;
    float fa, fb = 0.0f, fc = 0.0f, fmean = 0.0f;
    if (training) {
      const double mean = save_mean[c], invstd = save_invstd[c];
      double sdy = 0.0, sdyxmu = 0.0;
      for (int e = 0; e < n; e++) {
        const size_t at = (size_t)e * channels + (size_t)c;
        plane_gradient(p, relu, plane, at, y, dy, switches, z);
        sdy += at_cpu_sum(z, plane);
        sdyxmu += at_cpu_sum_proddev(z, x + at * plane, plane, mean);
      }
      if (dgamma) dgamma[c] = (float)(sdyxmu * invstd);
      if (dbeta) dbeta[c] = (float)sdy;
      if (!dx) continue;
      at_cpu_bn_backward_coefficients(g, invstd, sdy, sdyxmu, (size_t)n * plane, &fa, &fb, &fc);
      fmean = save_mean[c];
    } else { /* a frozen batch norm: its inference map, y = x * g / sqrt(var + eps), backwards */
      fa = (float)((double)g * (1.0 / sqrt((double)running_var[c] + (double)b->eps)));
    }
    for (int e = 0; e < n; e++) {
      const size_t at = (size_t)e * channels + (size_t)c;
      plane_gradient(p, relu, plane, at, y, dy, switches, z);
      const float *restrict xp = x + at * plane;
      float *restrict dxp = dx + at * plane;
      if (training) {
#pragma omp simd
        for (size_t i = 0; i < plane; i++) dxp[i] = fa * z[i] + fb * (xp[i] - fmean) + fc;
      } else {
#pragma omp simd
        for (size_t i = 0; i < plane; i++) dxp[i] = z[i] * fa + 0.0f;
      }
    }
  }
  at_cpu_scratch_return(planes);
}
