/* 2-D convolution by im2col + SGEMM, one example at a time (small layers: a
 * block of examples per thread, see "small layers" below).
 *
 * For example n the input is unfolded into col[K, P] with K = c_in*kh*kw rows
 * (row r = (c*kh + i)*kw + j) and P = h_out*w_out columns, so that
 *     y_n[c_out, P]  = W[c_out, K] . col[K, P]            (+ bias)
 *     dW[c_out, K]  += dy_n[c_out, P] . col[K, P]^T
 *     dcol[K, P]     = W^T . dy_n,  dx_n = col2im(dcol)
 * A 1x1 kernel with stride 1 and no padding needs no unfolding: col = x_n.
 * The GEMMs (at_cpu_sgemm: oneDNN or OpenBLAS) thread themselves; im2col and
 * col2im are threaded here. Layers with K <= SMALL_K use the loops below.
 * Every reduction happens in a fixed order, so results do not depend on
 * scheduling. */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "cpu/cpu_conv_winograd.h"
#include "cpu/cpu_ops.h"

static void check_shape(const ConvShape *s) {
  AT_ASSERT(s->n >= 0 && s->c_in > 0 && s->c_out > 0 && s->kh > 0 && s->kw > 0);
  AT_ASSERT(s->stride_h > 0 && s->stride_w > 0);
  AT_ASSERT(s->pad_top >= 0 && s->pad_bottom >= 0 && s->pad_left >= 0 && s->pad_right >= 0);
  AT_ASSERT(s->h_in + s->pad_top + s->pad_bottom >= s->kh);
  AT_ASSERT(s->w_in + s->pad_left + s->pad_right >= s->kw);
  AT_ASSERT(s->h_out == (s->h_in + s->pad_top + s->pad_bottom - s->kh) / s->stride_h + 1);
  AT_ASSERT(s->w_out == (s->w_in + s->pad_left + s->pad_right - s->kw) / s->stride_w + 1);
}

static int is_pointwise(const ConvShape *s) {
  return s->kh == 1 && s->kw == 1 && s->stride_h == 1 && s->stride_w == 1 && s->pad_top == 0 &&
         s->pad_bottom == 0 && s->pad_left == 0 && s->pad_right == 0;
}

/* Output columns ow whose input column ow*sw - pad_left + j lies inside
 * [0, w_in): the range [*lo, *hi). */
static void valid_cols(const ConvShape *s, int j, int *lo, int *hi) {
  const int sw = s->stride_w;
  const int first = s->pad_left - j; /* ow*sw >= first */
  const int last = s->w_in - 1 + s->pad_left - j; /* ow*sw <= last */
  int l = first <= 0 ? 0 : (first + sw - 1) / sw;
  int h = last < 0 ? 0 : last / sw + 1;
  if (h > s->w_out) h = s->w_out;
  if (l > h) l = h;
  *lo = l;
  *hi = h;
}

/* col[K, P] from one example x[c_in, h_in, w_in]; one task per (row, oh). */
static void im2col(const ConvShape *s, const float *restrict x, float *restrict col, int par) {
  const int kh = s->kh, kw = s->kw, h_out = s->h_out, w_out = s->w_out;
  const int sh = s->stride_h, sw = s->stride_w, h_in = s->h_in, w_in = s->w_in;
  const long K = (long)s->c_in * kh * kw;
  const long tasks = K * h_out;
  const size_t P = (size_t)h_out * w_out;
  if (!par) { /* one thread: row by row, the column range worked out once per row */
    for (long r = 0; r < K; r++) {
      const int c = (int)(r / (kh * kw)), i = (int)(r / kw % kh), j = (int)(r % kw);
      int lo, hi;
      valid_cols(s, j, &lo, &hi);
      const float *restrict xc = x + (size_t)c * h_in * w_in - s->pad_left + j;
      for (int oh = 0; oh < h_out; oh++) {
        float *restrict dst = col + (size_t)r * P + (size_t)oh * w_out;
        const int ih = oh * sh - s->pad_top + i;
        if (ih < 0 || ih >= h_in) {
          memset(dst, 0, (size_t)w_out * sizeof(float));
          continue;
        }
        const float *restrict src = xc + (size_t)ih * w_in;
        for (int ow = 0; ow < lo; ow++) dst[ow] = 0.0f;
        if (sw == 1) {
          for (int ow = lo; ow < hi; ow++) dst[ow] = src[ow];
        } else {
          for (int ow = lo; ow < hi; ow++) dst[ow] = src[ow * sw];
        }
        for (int ow = hi; ow < w_out; ow++) dst[ow] = 0.0f;
      }
    }
    return;
  }
#pragma omp parallel for schedule(static) if ((size_t)K * P > AT_CPU_PAR_MIN)
  for (long t = 0; t < tasks; t++) {
    const long r = t / h_out;
    const int oh = (int)(t % h_out);
    const int c = (int)(r / (kh * kw)), i = (int)(r / kw % kh), j = (int)(r % kw);
    float *restrict dst = col + (size_t)r * P + (size_t)oh * w_out;
    const int ih = oh * sh - s->pad_top + i;
    if (ih < 0 || ih >= h_in) {
      memset(dst, 0, (size_t)w_out * sizeof(float));
      continue;
    }
    int lo, hi;
    valid_cols(s, j, &lo, &hi);
    const float *restrict src = x + ((size_t)c * h_in + ih) * w_in;
    for (int ow = 0; ow < lo; ow++) dst[ow] = 0.0f;
    if (sw == 1) {
      if (hi > lo) memcpy(dst + lo, src + lo - s->pad_left + j, (size_t)(hi - lo) * sizeof(float));
    } else {
      for (int ow = lo; ow < hi; ow++) dst[ow] = src[ow * sw - s->pad_left + j];
    }
    for (int ow = hi; ow < w_out; ow++) dst[ow] = 0.0f;
  }
}

/* dx[c_in, h_in, w_in] = col2im(dcol): each input row gathers, in a fixed
 * (i, j, ow) order, the columns that read it. One task per (c, ih) row. */
static void col2im(const ConvShape *s, const float *restrict dcol, float *restrict dx, int par) {
  const int kh = s->kh, kw = s->kw, h_out = s->h_out, w_out = s->w_out;
  const int sh = s->stride_h, sw = s->stride_w, h_in = s->h_in, w_in = s->w_in;
  const long tasks = (long)s->c_in * h_in;
  const size_t P = (size_t)h_out * w_out;
  const size_t work = (size_t)s->c_in * kh * kw * P;
#pragma omp parallel for schedule(static) if (par && work > AT_CPU_PAR_MIN)
  for (long t = 0; t < tasks; t++) {
    const int c = (int)(t / h_in), ih = (int)(t % h_in);
    float *restrict dst = dx + ((size_t)c * h_in + ih) * w_in;
    memset(dst, 0, (size_t)w_in * sizeof(float));
    for (int i = 0; i < kh; i++) {
      const int num = ih + s->pad_top - i; /* = oh * sh */
      if (num < 0 || num % sh != 0) continue;
      const int oh = num / sh;
      if (oh >= h_out) continue;
      for (int j = 0; j < kw; j++) {
        int lo, hi;
        valid_cols(s, j, &lo, &hi);
        const size_t r = ((size_t)c * kh + i) * kw + j;
        const float *restrict src = dcol + r * P + (size_t)oh * w_out;
        float *restrict d = dst - s->pad_left + j; /* d[ow*sw] is x column ow*sw - pad_left + j */
        if (sw == 1) {
#pragma omp simd
          for (int ow = lo; ow < hi; ow++) d[ow] += src[ow];
        } else {
          for (int ow = lo; ow < hi; ow++) d[ow * sw] += src[ow];
        }
      }
    }
  }
}

/* ---- layers with few input taps (K = c_in*kh*kw <= SMALL_K: the first layer
 * of a spectrogram CNN, 1 channel x 3x3). A GEMM with K = 9 is bound by memory
 * traffic on y: OpenBLAS zeroes or reads C and writes it again. These loops
 * walk tiles of TILE output columns whose col block stays in L1 and write
 * each y element once (forward), or read each dy element once (dw). ---- */
#define SMALL_K 16
#define TILE 512

static void forward_small_k(const ConvShape *s, const float *restrict w, const float *restrict bias,
                            const float *restrict col, float *restrict yn, int par) {
  const int K = s->c_in * s->kh * s->kw, c_out = s->c_out;
  const size_t P = (size_t)s->h_out * s->w_out;
  const long tiles = (long)((P + TILE - 1) / TILE);
#pragma omp parallel for schedule(static) if (par && P * (size_t)c_out > AT_CPU_PAR_MIN)
  for (long t = 0; t < tiles; t++) {
    const size_t p0 = (size_t)t * TILE;
    const int len = (int)(P - p0 < TILE ? P - p0 : TILE);
    for (int co = 0; co < c_out; co++) {
      float *restrict out = yn + (size_t)co * P + p0;
      const float *restrict wr = w + (size_t)co * K;
      const float b = bias ? bias[co] : 0.0f;
      float acc[TILE];
#pragma omp simd
      for (int i = 0; i < len; i++) acc[i] = b;
      for (int k = 0; k < K; k++) {
        const float wk = wr[k];
        const float *restrict ck = col + (size_t)k * P + p0;
#pragma omp simd
        for (int i = 0; i < len; i++) acc[i] += wk * ck[i];
      }
      memcpy(out, acc, (size_t)len * sizeof(float));
    }
  }
}

/* sum a[i] * b[i] in float over 16 lanes, combined in a fixed order */
static inline float dot16(const float *restrict a, const float *restrict b, int n) {
  float acc[16] = {0};
  int i = 0;
  for (; i + 16 <= n; i += 16)
    for (int k = 0; k < 16; k++) acc[k] += a[i + k] * b[i + k];
  for (int k = 0; i < n; i++, k++) acc[k] += a[i] * b[i];
  for (int h = 8; h >= 1; h /= 2)
    for (int k = 0; k < h; k++) acc[k] += acc[k + h];
  return acc[0];
}

/* dw_acc[co, k] += sum_p dy_n[co, p] * col[k, p]: tiles of TILE columns summed
 * in float, tiles added in double, every (co, k) by one thread in order. */
static void dw_small_k(const ConvShape *s, const float *restrict dyn, const float *restrict col,
                       double *restrict dw_acc, int par) {
  const int K = s->c_in * s->kh * s->kw, c_out = s->c_out;
  const size_t P = (size_t)s->h_out * s->w_out;
#pragma omp parallel for schedule(static) if (par && P * (size_t)c_out > AT_CPU_PAR_MIN)
  for (int co = 0; co < c_out; co++) {
    const float *restrict dyr = dyn + (size_t)co * P;
    double acc[SMALL_K];
    for (int k = 0; k < K; k++) acc[k] = 0.0;
    for (size_t p0 = 0; p0 < P; p0 += TILE) {
      const int len = (int)(P - p0 < TILE ? P - p0 : TILE);
      for (int k = 0; k < K; k++) acc[k] += (double)dot16(dyr + p0, col + (size_t)k * P + p0, len);
    }
    for (int k = 0; k < K; k++) dw_acc[(size_t)co * K + k] += acc[k];
  }
}

/* ---- small layers: one example per thread ----
 * When one example's work is small (the Pons et al. layers: M = 32 filters,
 * K = 32..96, P <= ~2k columns), a threaded GEMM per example spends most of
 * its time waking the team and splitting a tiny problem. At or below
 * at_cpu_conv_batch_macs (c_out * K * P per example) and with n > 1, the
 * batch is cut into one static,
 * contiguous block of examples per thread; each thread unfolds into its own
 * slice of the scratch and calls the GEMM single-threaded (oneDNN and OpenBLAS
 * run sequentially inside a parallel region). dW is accumulated per thread over
 * its block in example order, and the per-thread partials are summed in thread
 * order, so results are bitwise reproducible for a fixed thread count. The
 * helpers above take `par` = 0 there so that they do not open nested teams.
 * Per-thread slices come from the shared scratch (at_cpu_scratch_borrow),
 * which is kept between calls and freed at exit.
 *
 * Measured (2 threads, Zen 5, 3x3 layers on 40x80, fwd+bwd): one block per
 * thread beats threaded per-example GEMMs by 1.2-2.3x up to ~30 M MACs per
 * example at batch 2-64, and breaks even near 60 M at batch 3 (2 blocks of
 * unequal size). FCN-4's smallest layer has 151 M MACs per example. */
double at_cpu_conv_batch_macs = 32.0 * 1024 * 1024;

static int batch_parallel_threads(const ConvShape *s, int K, int P) {
  if (s->n < 2 || omp_in_parallel()) return 0;
  int nt = omp_get_max_threads();
  if (nt > s->n) nt = s->n;
  if (nt < 2) return 0;
  if ((double)s->c_out * K * P > at_cpu_conv_batch_macs) return 0;
  return nt;
}

/* floats rounded up to a whole number of 64-byte lines */
static size_t line_floats(size_t floats) { return (floats + 15) & ~(size_t)15; }

/* y_n = W . unfold(x_n) + bias; par: whether the pieces may thread. */
static void forward_one(const ConvShape *s, const float *xn, const float *w, const float *bias,
                        float *col, float *yn, int par) {
  const int K = s->c_in * s->kh * s->kw;
  const int P = s->h_out * s->w_out;
  const size_t y_stride = (size_t)s->c_out * P;
  const float *b_mat = xn;
  if (col) {
    im2col(s, xn, col, par);
    b_mat = col;
  }
  if (K <= SMALL_K) {
    forward_small_k(s, w, bias, b_mat, yn, par);
    return;
  }
  float beta = 0.0f;
  if (bias) {
    const int c_out = s->c_out;
#pragma omp parallel for schedule(static) if (par && y_stride > AT_CPU_PAR_MIN)
    for (int co = 0; co < c_out; co++) {
      float *restrict row = yn + (size_t)co * P;
      const float b = bias[co];
#pragma omp simd
      for (int p = 0; p < P; p++) row[p] = b;
    }
    beta = 1.0f;
  }
  at_cpu_sgemm(0, 0, s->c_out, P, K, 1.0f, w, K, b_mat, P, beta, yn, P);
}

/* One example of the backward pass. dW: small K adds into dw_acc (double);
 * otherwise the GEMM writes dw_f (first: overwrite) or adds into it. */
static void backward_one(const ConvShape *s, const float *xn, const float *w, const float *dyn,
                         float *dxn, float *dw_f, int first, double *dw_acc, float *col, int par) {
  const int K = s->c_in * s->kh * s->kw;
  const int P = s->h_out * s->w_out;
  const int c_out = s->c_out;
  if (dw_f || dw_acc) {
    const float *b_mat = xn;
    if (col) {
      im2col(s, xn, col, par);
      b_mat = col;
    }
    if (dw_acc)
      dw_small_k(s, dyn, b_mat, dw_acc, par);
    else
      at_cpu_sgemm(0, 1, c_out, K, P, 1.0f, dyn, P, b_mat, P, first ? 0.0f : 1.0f, dw_f, K);
  }
  if (dxn) {
    if (!col) {
      at_cpu_sgemm(1, 0, K, P, c_out, 1.0f, w, K, dyn, P, 0.0f, dxn, P);
    } else {
      at_cpu_sgemm(1, 0, K, P, c_out, 1.0f, w, K, dyn, P, 0.0f, col, P);
      col2im(s, col, dxn, par);
    }
  }
}

/* examples [*n0, *n1) of thread t of nt: contiguous static blocks */
static void block_of(int n, int t, int nt, int *n0, int *n1) {
  const int q = n / nt, r = n % nt;
  *n0 = t * q + (t < r ? t : r);
  *n1 = *n0 + q + (t < r);
}

/* y[n, c, :] += bias[c] (the Winograd path leaves the bias to us). */
static void add_bias(const ConvShape *s, const float *bias, float *y) {
  const size_t P = (size_t)s->h_out * s->w_out;
  const long planes = (long)s->n * s->c_out;
#pragma omp parallel for schedule(static) if ((size_t)planes * P > AT_CPU_PAR_MIN)
  for (long p = 0; p < planes; p++) {
    const float b = bias[p % s->c_out];
    float *restrict row = y + (size_t)p * P;
#pragma omp simd
    for (size_t i = 0; i < P; i++) row[i] += b;
  }
}

void at_cpu_conv2d_forward(const ConvShape *s, const float *x, const float *w, const float *bias,
                           float *y) {
  check_shape(s);
  const int K = s->c_in * s->kh * s->kw;
  const int P = s->h_out * s->w_out;
  const size_t x_stride = (size_t)s->c_in * s->h_in * s->w_in;
  const size_t y_stride = (size_t)s->c_out * P;
  const int pointwise = is_pointwise(s);
  const int nt = batch_parallel_threads(s, K, P);

  if (at_cpu_winograd_forward(s, x, w, y)) { /* the large 3x3 layers (cpu_conv_winograd.c) */
    if (bias) add_bias(s, bias, y);
    return;
  }
  if (nt) {
    const size_t slice = pointwise ? 0 : line_floats((size_t)K * P);
    float *scratch = pointwise ? NULL : at_cpu_scratch_borrow(slice * nt);
#pragma omp parallel num_threads(nt)
    {
      const int t = omp_get_thread_num(), team = omp_get_num_threads();
      float *col = scratch ? scratch + slice * t : NULL;
      int n0, n1;
      block_of(s->n, t, team, &n0, &n1);
      for (int n = n0; n < n1; n++) forward_one(s, x + n * x_stride, w, bias, col, y + n * y_stride, 0);
    }
    at_cpu_scratch_return(scratch);
    return;
  }

  float *col = pointwise || s->n == 0 ? NULL : at_cpu_scratch_borrow((size_t)K * P);
  for (int n = 0; n < s->n; n++) forward_one(s, x + n * x_stride, w, bias, col, y + n * y_stride, 1);
  at_cpu_scratch_return(col);
}

void at_cpu_conv2d_backward(const ConvShape *s, const float *x, const float *w, const float *dy,
                            float *dx, float *dw, float *dbias) {
  check_shape(s);
  const int K = s->c_in * s->kh * s->kw;
  const int P = s->h_out * s->w_out;
  const int c_out = s->c_out;
  const size_t x_stride = (size_t)s->c_in * s->h_in * s->w_in;
  const size_t y_stride = (size_t)c_out * P;
  const int pointwise = is_pointwise(s);

  if (dbias) {
    const int nb = s->n;
#pragma omp parallel for schedule(static) if ((size_t)nb * y_stride > AT_CPU_PAR_MIN)
    for (int co = 0; co < c_out; co++) {
      double acc = 0.0;
      for (int n = 0; n < nb; n++) acc += at_cpu_sum(dy + n * y_stride + (size_t)co * P, (size_t)P);
      dbias[co] = (float)acc;
    }
  }
  if (s->n == 0) {
    if (dw) memset(dw, 0, (size_t)c_out * K * sizeof(float));
    return;
  }
  if (!dw && !dx) return;
  if (at_cpu_winograd_backward(s, x, w, dy, dx, dw)) return;

  const int small_k = K <= SMALL_K;
  const size_t wn = (size_t)c_out * K;
  const int nt = batch_parallel_threads(s, K, P);
  if (nt) {
    /* per thread: col[K, P] (unless pointwise), then its partial dW (double
     * for small K, else float) */
    const size_t col_f = pointwise ? 0 : line_floats((size_t)K * P);
    const size_t dw_f = dw ? line_floats(small_k ? 2 * wn : wn) : 0;
    const size_t slice = col_f + dw_f;
    float *scratch = slice ? at_cpu_scratch_borrow(slice * nt) : NULL;
    int team_size = nt;
#pragma omp parallel num_threads(nt)
    {
      const int t = omp_get_thread_num(), team = omp_get_num_threads();
      float *base = scratch ? scratch + slice * t : NULL;
      float *col = col_f ? base : NULL;
      float *part = dw ? base + col_f : NULL;
      double *part_d = dw && small_k ? (double *)part : NULL;
      float *part_f = dw && !small_k ? part : NULL;
      int n0, n1;
      block_of(s->n, t, team, &n0, &n1);
      if (part_d) memset(part_d, 0, wn * sizeof(double));
      if (part_f && n0 == n1) memset(part_f, 0, wn * sizeof(float));
      for (int n = n0; n < n1; n++)
        backward_one(s, x + n * x_stride, w, dy + n * y_stride, dx ? dx + n * x_stride : NULL, part_f,
                     n == n0, part_d, col, 0);
      if (dw) {
        if (t == 0) team_size = team;
#pragma omp barrier
        /* dw[i] = sum of the partials in thread order */
#pragma omp for schedule(static)
        for (size_t i = 0; i < wn; i++) {
          double acc = 0.0;
          if (small_k) {
            for (int u = 0; u < team_size; u++) acc += ((const double *)(scratch + slice * u + col_f))[i];
          } else {
            for (int u = 0; u < team_size; u++) acc += (double)scratch[slice * u + col_f + i];
          }
          dw[i] = (float)acc;
        }
      }
    }
    at_cpu_scratch_return(scratch);
    return;
  }

  float *col = pointwise ? NULL : at_cpu_scratch_borrow((size_t)K * P);
  double *dw_acc = dw && small_k ? at_calloc(wn, sizeof(double), "conv dw") : NULL;
  for (int n = 0; n < s->n; n++)
    backward_one(s, x + n * x_stride, w, dy + n * y_stride, dx ? dx + n * x_stride : NULL,
                 dw && !small_k ? dw : NULL, n == 0, dw_acc, col, 1);
  if (dw_acc) {
    for (size_t i = 0; i < wn; i++) dw[i] = (float)dw_acc[i];
    free(dw_acc);
  }
  at_cpu_scratch_return(col);
}
