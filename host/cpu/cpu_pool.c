/* Max and average pooling without padding (floor semantics). Forward passes
 * thread over output rows, backward passes over planes (windows may overlap
 * when the stride is smaller than the window, so a plane's scatter-adds stay
 * on one thread and in a fixed order). */
#include <math.h>
#include <string.h>

#include "core/error.h"
#include "cpu/cpu_ops.h"

static void check_shape(const PoolShape *s) {
  AT_ASSERT(s->n >= 0 && s->c >= 0 && s->kh > 0 && s->kw > 0 && s->stride_h > 0 && s->stride_w > 0);
  AT_ASSERT(s->h_in >= s->kh && s->w_in >= s->kw);
  AT_ASSERT(s->h_out == (s->h_in - s->kh) / s->stride_h + 1);
  AT_ASSERT(s->w_out == (s->w_in - s->kw) / s->stride_w + 1);
}

/* The winner of one window whose rows are long (a global pool over time:
 * one output per row, where the general loop below would run scalar): a
 * vectorised maximum per row, then the same winner the general loop picks —
 * the last NaN if there is one (NaN propagates), else the first maximum in
 * row-major order; y is that element itself (so -0 and +0 keep theirs). */
static void window_max(const float *restrict xp, int w_in, int h0, int w0, int kh, int kw, float *y, int32_t *sw) {
  float m = -INFINITY;
  int nan_row = -1;
  for (int i = 0; i < kh; i++) {
    const float *restrict row = xp + (size_t)(h0 + i) * w_in + w0;
    float rm = -INFINITY;
    int nans = 0;
#pragma omp simd reduction(max : rm) reduction(+ : nans)
    for (int j = 0; j < kw; j++) {
      rm = row[j] > rm ? row[j] : rm; /* one maxps (fmaxf is a call); NaN skipped here, counted apart */
      nans += row[j] != row[j];
    }
    if (nans) nan_row = i;
    m = rm > m ? rm : m;
  }
  int at = h0 * w_in + w0; /* all -inf: the first element, as the general loop */
  if (nan_row >= 0) {
    const float *row = xp + (size_t)(h0 + nan_row) * w_in + w0;
    for (int j = kw - 1; j >= 0; j--)
      if (row[j] != row[j]) {
        at = (h0 + nan_row) * w_in + w0 + j;
        break;
      }
  } else {
    for (int i = 0, found = 0; i < kh && !found; i++)
      for (int j = 0; j < kw; j++)
        if (xp[(size_t)(h0 + i) * w_in + w0 + j] == m) {
          at = (h0 + i) * w_in + w0 + j;
          found = 1;
          break;
        }
  }
  *y = xp[at];
  *sw = at;
}

/* Output row oh of one plane: xp its input plane, yrow / srow the row's
 * outputs and winners. */
static void maxpool_row(const PoolShape *s, const float *restrict xp, int oh, float *restrict yrow,
                        int32_t *restrict srow) {
  const int kh = s->kh, kw = s->kw, sw = s->stride_w, w_in = s->w_in, w_out = s->w_out;
  const int h0 = oh * s->stride_h;
  if (kw >= 4 * w_out) { /* long windows, few outputs: reduce along the window */
    for (int ow = 0; ow < w_out; ow++) window_max(xp, w_in, h0, ow * sw, kh, kw, &yrow[ow], &srow[ow]);
    return;
  }
  /* window elements in row-major order, each across the whole output row
   * (branch-free, so gcc vectorises over ow) */
#pragma omp simd
  for (int ow = 0; ow < w_out; ow++) {
    yrow[ow] = -INFINITY;
    srow[ow] = h0 * w_in + ow * sw;
  }
  for (int i = 0; i < kh; i++)
    for (int j = 0; j < kw; j++) {
      const int base = (h0 + i) * w_in + j;
      const float *restrict src = xp + base;
#pragma omp simd
      for (int ow = 0; ow < w_out; ow++) {
        const float v = src[ow * sw];
        /* strict > keeps the first maximum; NaN wins (and propagates) as in PyTorch */
        const int take = v > yrow[ow] || isnan(v);
        yrow[ow] = take ? v : yrow[ow];
        srow[ow] = take ? base + ow * sw : srow[ow];
      }
    }
}

void at_cpu_maxpool_forward(const PoolShape *s, const float *x, float *y, int32_t *switches) {
  check_shape(s);
  const int h_out = s->h_out, w_out = s->w_out;
  const size_t in_plane = (size_t)s->h_in * s->w_in, out_plane = (size_t)h_out * w_out;
  const long tasks = (long)s->n * s->c * h_out;
  const size_t work = (size_t)s->n * s->c * out_plane * s->kh * s->kw;
#pragma omp parallel for schedule(static) if (work > AT_CPU_PAR_MIN)
  for (long t = 0; t < tasks; t++) {
    const long plane = t / h_out;
    const int oh = (int)(t % h_out);
    maxpool_row(s, x + plane * in_plane, oh, y + plane * out_plane + (size_t)oh * w_out,
                switches + plane * out_plane + (size_t)oh * w_out);
  }
}

void at_cpu_maxpool_plane(const PoolShape *s, const float *xp, float *yp, int32_t *sp) {
  for (int oh = 0; oh < s->h_out; oh++)
    maxpool_row(s, xp, oh, yp + (size_t)oh * s->w_out, sp + (size_t)oh * s->w_out);
}

void at_cpu_maxpool_backward(const PoolShape *s, const float *dy, const int32_t *switches,
                             float *dx) {
  check_shape(s);
  const size_t in_plane = (size_t)s->h_in * s->w_in, out_plane = (size_t)s->h_out * s->w_out;
  const long planes = (long)s->n * s->c;
#pragma omp parallel for schedule(static) if ((size_t)planes * in_plane > AT_CPU_PAR_MIN)
  for (long p = 0; p < planes; p++) {
    float *restrict dxp = dx + p * in_plane;
    const float *restrict dyp = dy + p * out_plane;
    const int32_t *restrict sp = switches + p * out_plane;
    memset(dxp, 0, in_plane * sizeof(float));
    for (size_t o = 0; o < out_plane; o++) dxp[sp[o]] += dyp[o];
  }
}

void at_cpu_avgpool_forward(const PoolShape *s, const float *x, float *y) {
  check_shape(s);
  const int kh = s->kh, kw = s->kw, sh = s->stride_h, sw = s->stride_w;
  const int w_in = s->w_in, h_out = s->h_out, w_out = s->w_out;
  const size_t in_plane = (size_t)s->h_in * w_in, out_plane = (size_t)h_out * w_out;
  const long tasks = (long)s->n * s->c * h_out;
  const size_t work = (size_t)s->n * s->c * out_plane * kh * kw;
  const double inv = 1.0 / ((double)kh * kw);
#pragma omp parallel for schedule(static) if (work > AT_CPU_PAR_MIN)
  for (long t = 0; t < tasks; t++) {
    const long plane = t / h_out;
    const int oh = (int)(t % h_out);
    const float *restrict xp = x + plane * in_plane + (size_t)oh * sh * w_in;
    float *restrict yrow = y + plane * out_plane + (size_t)oh * w_out;
    for (int ow = 0; ow < w_out; ow++) {
      double acc = 0.0;
      for (int i = 0; i < kh; i++) acc += at_cpu_sum(xp + (size_t)i * w_in + (size_t)ow * sw, (size_t)kw);
      yrow[ow] = (float)(acc * inv);
    }
  }
}

void at_cpu_avgpool_backward(const PoolShape *s, const float *dy, float *dx) {
  check_shape(s);
  const int kh = s->kh, kw = s->kw, sh = s->stride_h, sw = s->stride_w;
  const int w_in = s->w_in, h_out = s->h_out, w_out = s->w_out;
  const size_t in_plane = (size_t)s->h_in * w_in, out_plane = (size_t)h_out * w_out;
  const long planes = (long)s->n * s->c;
  const float div = (float)kh * (float)kw;
#pragma omp parallel for schedule(static) if ((size_t)planes * in_plane > AT_CPU_PAR_MIN)
  for (long p = 0; p < planes; p++) {
    float *restrict dxp = dx + p * in_plane;
    const float *restrict dyp = dy + p * out_plane;
    memset(dxp, 0, in_plane * sizeof(float));
    for (int oh = 0; oh < h_out; oh++)
      for (int ow = 0; ow < w_out; ow++) {
        const float g = dyp[(size_t)oh * w_out + ow] / div;
        for (int i = 0; i < kh; i++) {
          float *restrict row = dxp + (size_t)(oh * sh + i) * w_in + (size_t)ow * sw;
#pragma omp simd
          for (int j = 0; j < kw; j++) row[j] += g;
        }
      }
  }
}
