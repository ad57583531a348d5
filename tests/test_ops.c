/* Tests of every CPU backend operation.
 *
 *  1. Forward and backward against naive double-precision references on odd
 *     shapes (conv, pooling, batch norm, dense, losses, elementwise).
 *  2. Central-difference gradient checks of every backward path (Caffe's
 *     GradientChecker): objective L = sum(r * y) with a fixed random r (or the
 *     loss itself), each input element perturbed by +-h, points where the
 *     perturbation crosses a ReLU kink or changes a max-pool winner skipped.
 *  3. Optimisers against scalar double reimplementations, dropout statistics,
 *     batch-norm running statistics, determinism with two threads.
 * Prints one line per check; exits 1 if any check fails. */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/rng.h"
#include "cpu/cpu_ops.h"
#include "nn/backend.h"
#include "selftest/backend_compare.h"
#include "test_util.h"

static const Backend *B;
static int g_failures, g_checks;

static void report(int ok, const char *name, const char *what, double err) {
  g_checks++;
  if (!ok) g_failures++;
  printf("%s  %-58s %s %.3e\n", ok ? "PASS" : "FAIL", name, what, err);
  fflush(stdout);
}

/* ---------- data ---------- */

static uint64_t g_rng = 0x9E3779B97F4A7C15ull;
static double urand(void) { /* splitmix64 -> [0, 1) */
  uint64_t z = (g_rng += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return (double)(z >> 11) * (1.0 / 9007199254740992.0);
}
static float *frand(size_t n, double lo, double hi) {
  float *p = malloc((n ? n : 1) * sizeof(float));
  for (size_t i = 0; i < n; i++) p[i] = (float)(lo + (hi - lo) * urand());
  return p;
}
static double *dalloc(size_t n) { return calloc(n ? n : 1, sizeof(double)); }
static float *falloc(size_t n) { return calloc(n ? n : 1, sizeof(float)); }
static float *fdup(const float *a, size_t n) {
  float *p = falloc(n);
  memcpy(p, a, n * sizeof(float));
  return p;
}

/* max |got - ref| / max(1, max |ref|): a scale-relative error */
static double rel_err(const float *got, const double *ref, size_t n) {
  double scale = 1.0, err = 0.0;
  for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(ref[i]));
  for (size_t i = 0; i < n; i++) {
    double e = fabs((double)got[i] - ref[i]);
    if (!(e <= err)) err = e; /* NaN propagates into err */
  }
  return err / scale;
}
static void cmp(const char *name, const float *got, const double *ref, size_t n, double tol) {
  double e = rel_err(got, ref, n);
  report(e <= tol, name, "rel_err", e);
}
static double dot_rd(const float *r, const float *y, size_t n) {
  double s = 0.0;
  for (size_t i = 0; i < n; i++) s += (double)r[i] * (double)y[i];
  return s;
}

/* ---------- the gradient checker ---------- */

typedef double (*ObjFn)(void *ctx, int *kink);

/* Compares analytic[i] with (L(x+h) - L(x-h)) / (2h) on up to max_points
 * evenly spaced elements of `in`. Passes when every checked point satisfies
 * |a - num| <= rtol * max(|a|, |num|, rms(analytic)) and at most half the
 * points were skipped. Returns the worst relative error. */
static double gradcheck_q(const char *name, float *in, size_t n, const float *analytic, ObjFn f,
                          void *ctx, float h, double rtol, size_t max_points, int quiet, int *ok) {
  double rms = 0.0;
  for (size_t i = 0; i < n; i++) rms += (double)analytic[i] * analytic[i];
  rms = n ? sqrt(rms / (double)n) : 0.0;
  const double floor_ = rms > 0 ? rms : 1e-30;
  const size_t pts = n < max_points ? n : max_points;
  size_t checked = 0, skipped = 0, bad = 0;
  double worst = 0.0;
  for (size_t k = 0; k < pts; k++) {
    const size_t i = pts == n ? k : (size_t)((double)k * (double)n / (double)pts);
    const float v = in[i], vp = v + h, vm = v - h;
    int kp = 0, km = 0;
    in[i] = vp;
    const double lp = f(ctx, &kp);
    in[i] = vm;
    const double lm = f(ctx, &km);
    in[i] = v;
    if (kp || km) {
      skipped++;
      continue;
    }
    const double num = (lp - lm) / ((double)vp - (double)vm);
    const double a = analytic[i];
    const double rel = fabs(a - num) / fmax(fmax(fabs(a), fabs(num)), floor_);
    if (!(rel <= worst)) worst = rel;
    if (!(rel <= rtol)) bad++;
    checked++;
  }
  *ok = bad == 0 && checked > 0 && skipped * 2 <= pts;
  if (!quiet) {
    char label[160];
    snprintf(label, sizeof label, "grad %s (%zu pts, %zu skipped)", name, checked, skipped);
    report(*ok, label, "max_rel", worst);
  }
  return worst;
}
static void gradcheck(const char *name, float *in, size_t n, const float *analytic, ObjFn f,
                      void *ctx, float h, double rtol, size_t max_points) {
  int ok;
  gradcheck_q(name, in, n, analytic, f, ctx, h, rtol, max_points, 0, &ok);
}

/* ---------- convolution ---------- */

static ConvShape conv_shape(int n, int ci, int hi, int wi, int co, int kh, int kw, int sh, int sw,
                            int pt, int pb, int pl, int pr) {
  ConvShape s = {n, ci, hi, wi, co, 0, 0, kh, kw, sh, sw, pt, pb, pl, pr};
  s.h_out = (hi + pt + pb - kh) / sh + 1;
  s.w_out = (wi + pl + pr - kw) / sw + 1;
  return s;
}
static size_t conv_xn(const ConvShape *s) { return (size_t)s->n * s->c_in * s->h_in * s->w_in; }
static size_t conv_yn(const ConvShape *s) { return (size_t)s->n * s->c_out * s->h_out * s->w_out; }
static size_t conv_wn(const ConvShape *s) { return (size_t)s->c_out * s->c_in * s->kh * s->kw; }

/* naive reference: forward into y, or backward (dy given) into dx, dw, db */
static void ref_conv(const ConvShape *s, const float *x, const float *w, const float *b, double *y,
                     const float *dy, double *dx, double *dw, double *db) {
  if (dy) {
    memset(dx, 0, conv_xn(s) * sizeof(double));
    memset(dw, 0, conv_wn(s) * sizeof(double));
    memset(db, 0, (size_t)s->c_out * sizeof(double));
  }
  for (int n = 0; n < s->n; n++)
    for (int co = 0; co < s->c_out; co++)
      for (int oh = 0; oh < s->h_out; oh++)
        for (int ow = 0; ow < s->w_out; ow++) {
          const size_t yi = (((size_t)n * s->c_out + co) * s->h_out + oh) * s->w_out + ow;
          double acc = b ? b[co] : 0.0;
          const double g = dy ? dy[yi] : 0.0;
          if (dy) db[co] += g;
          for (int ci = 0; ci < s->c_in; ci++)
            for (int i = 0; i < s->kh; i++)
              for (int j = 0; j < s->kw; j++) {
                const int ih = oh * s->stride_h - s->pad_top + i;
                const int iw = ow * s->stride_w - s->pad_left + j;
                if (ih < 0 || ih >= s->h_in || iw < 0 || iw >= s->w_in) continue;
                const size_t xi = (((size_t)n * s->c_in + ci) * s->h_in + ih) * s->w_in + iw;
                const size_t wi = (((size_t)co * s->c_in + ci) * s->kh + i) * s->kw + j;
                if (dy) {
                  dx[xi] += g * w[wi];
                  dw[wi] += g * x[xi];
                } else {
                  acc += (double)x[xi] * w[wi];
                }
              }
          if (!dy) y[yi] = acc;
        }
}

typedef struct {
  ConvShape s;
  float *x, *w, *b, *y;
  const float *r;
} ConvCtx;
static double conv_obj(void *p, int *kink) {
  ConvCtx *c = p;
  (void)kink;
  B->conv2d_forward(&c->s, c->x, c->w, c->b, c->y);
  return dot_rd(c->r, c->y, conv_yn(&c->s));
}

/* Relative tolerance of the convolution cases: FP32 im2col + GEMM against
 * the double reference; Winograd's transforms add about 1e-6 (set per case). */
static double conv_tol = 2e-6;

static void test_conv_case(const char *tag, ConvShape s, int with_bias, int do_gradcheck) {
  char name[128];
  const size_t xn = conv_xn(&s), yn = conv_yn(&s), wn = conv_wn(&s);
  float *x = frand(xn, -1, 1), *w = frand(wn, -1, 1), *b = with_bias ? frand(s.c_out, -1, 1) : NULL;
  float *y = falloc(yn), *dy = frand(yn, -1, 1);
  float *dx = falloc(xn), *dw = falloc(wn), *db = falloc(s.c_out);
  double *ry = dalloc(yn), *rdx = dalloc(xn), *rdw = dalloc(wn), *rdb = dalloc(s.c_out);

  B->conv2d_forward(&s, x, w, b, y);
  ref_conv(&s, x, w, b, ry, NULL, NULL, NULL, NULL);
  snprintf(name, sizeof name, "conv %s forward", tag);
  cmp(name, y, ry, yn, conv_tol);

  B->conv2d_backward(&s, x, w, dy, dx, dw, with_bias ? db : NULL);
  ref_conv(&s, x, w, b, NULL, dy, rdx, rdw, rdb);
  snprintf(name, sizeof name, "conv %s backward dx", tag);
  cmp(name, dx, rdx, xn, conv_tol);
  snprintf(name, sizeof name, "conv %s backward dw", tag);
  cmp(name, dw, rdw, wn, conv_tol);
  if (with_bias) {
    snprintf(name, sizeof name, "conv %s backward dbias", tag);
    cmp(name, db, rdb, s.c_out, conv_tol);
  }

  /* NULL outputs are skipped and do not change the others */
  {
    float *dw2 = falloc(wn), *dx2 = falloc(xn);
    B->conv2d_backward(&s, x, w, dy, NULL, dw2, NULL);
    B->conv2d_backward(&s, x, w, dy, dx2, NULL, NULL);
    int same = !memcmp(dw, dw2, wn * sizeof(float)) && !memcmp(dx, dx2, xn * sizeof(float));
    snprintf(name, sizeof name, "conv %s backward with NULL outputs", tag);
    report(same, name, "bitwise", same ? 0.0 : 1.0);
    free(dw2);
    free(dx2);
  }

  if (do_gradcheck) {
    ConvCtx c = {s, x, w, b, y, dy};
    snprintf(name, sizeof name, "conv %s dx", tag);
    gradcheck(name, x, xn, dx, conv_obj, &c, 1e-2f, 1e-3, 150);
    snprintf(name, sizeof name, "conv %s dw", tag);
    gradcheck(name, w, wn, dw, conv_obj, &c, 1e-2f, 1e-3, 150);
    if (with_bias) {
      snprintf(name, sizeof name, "conv %s dbias", tag);
      gradcheck(name, b, s.c_out, db, conv_obj, &c, 1e-2f, 1e-3, 150);
    }
  }
  free(x), free(w), free(b), free(y), free(dy), free(dx), free(dw), free(db);
  free(ry), free(rdx), free(rdw), free(rdb);
}

static double *to_double(const float *a, size_t n) {
  double *d = dalloc(n);
  for (size_t i = 0; i < n; i++) d[i] = a[i];
  return d;
}

/* A layer that takes the batch-parallel path: run twice (bitwise identical),
 * and against the per-example path (at_cpu_conv_batch_macs = 0) */
static void test_conv_batch_paths(const char *tag, ConvShape s, int with_bias) {
  char name[160];
  const size_t xn = conv_xn(&s), yn = conv_yn(&s), wn = conv_wn(&s), bn = (size_t)s.c_out;
  float *x = frand(xn, -1, 1), *w = frand(wn, -1, 1), *b = with_bias ? frand(bn, -1, 1) : NULL;
  float *dy = frand(yn, -1, 1);
  float *y[3], *dx[3], *dw[3], *db[3];
  const double saved = at_cpu_conv_batch_macs;
  for (int r = 0; r < 3; r++) { /* r = 2: the per-example path */
    if (r == 2) at_cpu_conv_batch_macs = 0.0;
    y[r] = falloc(yn), dx[r] = falloc(xn), dw[r] = falloc(wn), db[r] = falloc(bn);
    B->conv2d_forward(&s, x, w, b, y[r]);
    B->conv2d_backward(&s, x, w, dy, dx[r], dw[r], with_bias ? db[r] : NULL);
  }
  at_cpu_conv_batch_macs = saved;
  int same = !memcmp(y[0], y[1], yn * 4) && !memcmp(dx[0], dx[1], xn * 4) && !memcmp(dw[0], dw[1], wn * 4) &&
             !memcmp(db[0], db[1], bn * 4);
  snprintf(name, sizeof name, "conv %s batch-parallel twice", tag);
  report(same, name, "bitwise", same ? 0.0 : 1.0);
  const float *got[4] = {y[0], dx[0], dw[0], db[0]}, *ref[4] = {y[2], dx[2], dw[2], db[2]};
  const size_t len[4] = {yn, xn, wn, bn};
  const char *what[4] = {"y", "dx", "dw", "dbias"};
  for (int k = 0; k < 4; k++) {
    double *d = to_double(ref[k], len[k]);
    snprintf(name, sizeof name, "conv %s batch-parallel vs per-example %s", tag, what[k]);
    cmp(name, got[k], d, len[k], 2e-6);
    free(d);
  }
  for (int r = 0; r < 3; r++) free(y[r]), free(dx[r]), free(dw[r]), free(db[r]);
  free(x), free(w), free(b), free(dy);
}

static void test_conv(void) {
  test_conv_case("3x3 same N2 c3->4 7x9", conv_shape(2, 3, 7, 9, 4, 3, 3, 1, 1, 1, 1, 1, 1), 1, 1);
  test_conv_case("12x8 valid N3 c1->2 14x20", conv_shape(3, 1, 14, 20, 2, 12, 8, 1, 1, 0, 0, 0, 0), 1, 1);
  test_conv_case("1x60 valid N1 c2->3 4x67", conv_shape(1, 2, 4, 67, 3, 1, 60, 1, 1, 0, 0, 0, 0), 1, 1);
  test_conv_case("32x1 valid N2 c5->2 40x3", conv_shape(2, 5, 40, 3, 2, 32, 1, 1, 1, 0, 0, 0, 0), 0, 1);
  test_conv_case("2x3 s2x1 pad(1,0,2,1) N3 c5->3 9x10",
                 conv_shape(3, 5, 9, 10, 3, 2, 3, 2, 1, 1, 0, 2, 1), 1, 1);
  test_conv_case("3x3 s2x3 pad1 N1 c2->3 8x13", conv_shape(1, 2, 8, 13, 3, 3, 3, 2, 3, 1, 1, 1, 1), 1, 1);
  test_conv_case("1x1 pointwise N3 c5->4 6x7", conv_shape(3, 5, 6, 7, 4, 1, 1, 1, 1, 0, 0, 0, 0), 1, 1);
  test_conv_case("1x1 s2 pad(0,1,1,0) N1 c5->2 5x6", conv_shape(1, 5, 5, 6, 2, 1, 1, 2, 2, 0, 1, 1, 0), 1, 1);
  /* K = c_in*kh*kw <= 16 takes the direct small-K loops (first layers), with
   * P = 851 > one 512-column tile and a ragged last tile */
  test_conv_case("3x3 same N2 c1->6 23x37 (small K)", conv_shape(2, 1, 23, 37, 6, 3, 3, 1, 1, 1, 1, 1, 1), 1, 1);
  /* the large 3x3 layers take oneDNN's Winograd (cpu_conv_winograd.c): ~1e-6 of the scale */
  conv_tol = 1e-5;
  unsetenv("AURATAG_WINOGRAD"); /* the default (cpu_conv_winograd.c) */
  test_conv_case("3x3 same N2 c64->80 16x20 (Winograd)", conv_shape(2, 64, 16, 20, 80, 3, 3, 1, 1, 1, 1, 1, 1), 1, 0);
  conv_tol = 2e-6;
  { /* and reruns are bit-identical (a fixed rule picks Winograd, not a timing) */
    ConvShape s = conv_shape(2, 64, 16, 20, 80, 3, 3, 1, 1, 1, 1, 1, 1);
    const size_t xn = conv_xn(&s), yn = conv_yn(&s), wn = conv_wn(&s);
    float *x = frand(xn, -1, 1), *w = frand(wn, -1, 1), *dy = frand(yn, -1, 1);
    float *y[2] = {falloc(yn), falloc(yn)}, *dx[2] = {falloc(xn), falloc(xn)}, *dw[2] = {falloc(wn), falloc(wn)};
    for (int r = 0; r < 2; r++) {
      B->conv2d_forward(&s, x, w, NULL, y[r]);
      B->conv2d_backward(&s, x, w, dy, dx[r], dw[r], NULL);
    }
    int same = !memcmp(y[0], y[1], yn * sizeof(float)) && !memcmp(dx[0], dx[1], xn * sizeof(float)) &&
               !memcmp(dw[0], dw[1], wn * sizeof(float));
    report(same, "conv (Winograd) reruns bit-identical", "bitwise", same ? 0.0 : 1.0);
    { /* another batch size in between (a larger shape: the shared blocked buffers grow) changes nothing */
      ConvShape big = s;
      big.n = 5;
      float *bx = frand(conv_xn(&big), -1, 1), *by = falloc(conv_yn(&big)), *bdy = frand(conv_yn(&big), -1, 1);
      float *bdx = falloc(conv_xn(&big)), *bdw = falloc(wn);
      B->conv2d_forward(&big, bx, w, NULL, by);
      B->conv2d_backward(&big, bx, w, bdy, bdx, bdw, NULL);
      B->conv2d_forward(&s, x, w, NULL, y[1]);
      B->conv2d_backward(&s, x, w, dy, dx[1], dw[1], NULL);
      same = !memcmp(y[0], y[1], yn * sizeof(float)) && !memcmp(dx[0], dx[1], xn * sizeof(float)) &&
             !memcmp(dw[0], dw[1], wn * sizeof(float));
      report(same, "conv (Winograd) after a larger batch: bit-identical", "bitwise", same ? 0.0 : 1.0);
      free(bx), free(by), free(bdy), free(bdx), free(bdw);
    }
    /* and it did run: without it the same case gives other (im2col) numbers */
    setenv("AURATAG_WINOGRAD", "0", 1);
    float *y_im2col = falloc(yn);
    B->conv2d_forward(&s, x, w, NULL, y_im2col);
    unsetenv("AURATAG_WINOGRAD");
    const int other = memcmp(y_im2col, y[0], yn * sizeof(float)) != 0;
    report(other, "conv (Winograd) is not the im2col path", "differs", other ? 0.0 : 1.0);
    free(y_im2col);
    free(x), free(w), free(dy);
    for (int r = 0; r < 2; r++) free(y[r]), free(dx[r]), free(dw[r]);
  }
  test_conv_case("2x2 valid N1 c2->3 9x9 no bias (small K)", conv_shape(1, 2, 9, 9, 3, 2, 2, 1, 1, 0, 0, 0, 0), 0, 1);
  test_conv_case("3x3 same threaded N2 c8->16 24x40", conv_shape(2, 8, 24, 40, 16, 3, 3, 1, 1, 1, 1, 1, 1), 1, 0);
  {
    /* the same layer forced onto the per-example path (threaded GEMMs) */
    const double saved = at_cpu_conv_batch_macs;
    at_cpu_conv_batch_macs = 0.0;
    test_conv_case("3x3 same per-example N2 c8->16 24x40", conv_shape(2, 8, 24, 40, 16, 3, 3, 1, 1, 1, 1, 1, 1), 1, 0);
    test_conv_case("12x8 valid per-example N3 c1->2 14x20", conv_shape(3, 1, 14, 20, 2, 12, 8, 1, 1, 0, 0, 0, 0), 1, 0);
    at_cpu_conv_batch_macs = saved;
  }

  /* the batch-parallel path (small layers, n > 1: a block of examples per
   * thread): against the double reference at batch 1, 3 and 17 with odd sizes
   * (Pons-like 1xW, Hx1 and HxW kernels, padding, stride, pointwise, small K) */
  test_conv_case("1x13 valid N1 c1->5 7x29", conv_shape(1, 1, 7, 29, 5, 1, 13, 1, 1, 0, 0, 0, 0), 1, 1);
  test_conv_case("1x13 valid N3 c1->5 7x29", conv_shape(3, 1, 7, 29, 5, 1, 13, 1, 1, 0, 0, 0, 0), 1, 1);
  test_conv_case("1x13 valid N17 c1->5 7x29", conv_shape(17, 1, 7, 29, 5, 1, 13, 1, 1, 0, 0, 0, 0), 1, 0);
  test_conv_case("11x1 valid N3 c2->3 13x9", conv_shape(3, 2, 13, 9, 3, 11, 1, 1, 1, 0, 0, 0, 0), 0, 1);
  test_conv_case("11x1 valid N17 c2->3 13x9", conv_shape(17, 2, 13, 9, 3, 11, 1, 1, 1, 0, 0, 0, 0), 1, 0);
  test_conv_case("5x3 s2x1 pad(1,2,0,1) N17 c3->7 11x13",
                 conv_shape(17, 3, 11, 13, 7, 5, 3, 2, 1, 1, 2, 0, 1), 1, 1);
  test_conv_case("3x3 same N17 c1->5 9x11 (small K)", conv_shape(17, 1, 9, 11, 5, 3, 3, 1, 1, 1, 1, 1, 1), 1, 1);
  test_conv_case("1x1 pointwise N17 c7->3 5x9", conv_shape(17, 7, 5, 9, 3, 1, 1, 1, 1, 0, 0, 0, 0), 1, 1);
  test_conv_batch_paths("1x13 valid N17 c1->5 7x29", conv_shape(17, 1, 7, 29, 5, 1, 13, 1, 1, 0, 0, 0, 0), 1);
  test_conv_batch_paths("5x3 s2x1 pad(1,2,0,1) N3 c3->7 11x13", conv_shape(3, 3, 11, 13, 7, 5, 3, 2, 1, 1, 2, 0, 1), 1);
  test_conv_batch_paths("12x8 valid N17 c1->32 40x80 (Pons)", conv_shape(17, 1, 40, 80, 32, 12, 8, 1, 1, 0, 0, 0, 0), 1);
  test_conv_batch_paths("3x3 same N17 c1->5 9x11 (small K)", conv_shape(17, 1, 9, 11, 5, 3, 3, 1, 1, 1, 1, 1, 1), 0);
  test_conv_batch_paths("1x1 pointwise N3 c7->3 5x9", conv_shape(3, 7, 5, 9, 3, 1, 1, 1, 1, 0, 0, 0, 0), 1);

  /* negative control: the checker must notice a 5% error in a gradient */
  {
    ConvShape s = conv_shape(1, 2, 5, 6, 2, 3, 3, 1, 1, 1, 1, 1, 1);
    const size_t xn = conv_xn(&s), yn = conv_yn(&s), wn = conv_wn(&s);
    float *x = frand(xn, -1, 1), *w = frand(wn, -1, 1), *y = falloc(yn), *r = frand(yn, -1, 1);
    float *dw = falloc(wn);
    B->conv2d_backward(&s, x, w, r, NULL, dw, NULL);
    for (size_t i = 0; i < wn; i++) dw[i] *= 1.05f;
    ConvCtx c = {s, x, w, NULL, y, r};
    int ok;
    double worst = gradcheck_q("", w, wn, dw, conv_obj, &c, 1e-2f, 1e-3, 100, 1, &ok);
    report(!ok, "gradcheck rejects a gradient that is 5% off", "max_rel", worst);
    free(x), free(w), free(y), free(r), free(dw);
  }
}

/* ---------- pooling ---------- */

static PoolShape pool_shape(int n, int c, int hi, int wi, int kh, int kw, int sh, int sw) {
  PoolShape s = {n, c, hi, wi, (hi - kh) / sh + 1, (wi - kw) / sw + 1, kh, kw, sh, sw};
  return s;
}
static size_t pool_xn(const PoolShape *s) { return (size_t)s->n * s->c * s->h_in * s->w_in; }
static size_t pool_yn(const PoolShape *s) { return (size_t)s->n * s->c * s->h_out * s->w_out; }

static void ref_pool(const PoolShape *s, int is_max, const float *x, double *y, int32_t *sw,
                     const float *dy, double *dx) {
  const size_t ip = (size_t)s->h_in * s->w_in, op = (size_t)s->h_out * s->w_out;
  if (dx) memset(dx, 0, pool_xn(s) * sizeof(double));
  for (size_t p = 0; p < (size_t)s->n * s->c; p++)
    for (int oh = 0; oh < s->h_out; oh++)
      for (int ow = 0; ow < s->w_out; ow++) {
        double best = -INFINITY, sum = 0.0;
        int bi = oh * s->stride_h * s->w_in + ow * s->stride_w;
        for (int i = 0; i < s->kh; i++)
          for (int j = 0; j < s->kw; j++) {
            const int idx = (oh * s->stride_h + i) * s->w_in + ow * s->stride_w + j;
            const double v = x[p * ip + idx];
            sum += v;
            if (v > best || isnan(v)) best = v, bi = idx;
          }
        const size_t o = p * op + (size_t)oh * s->w_out + ow;
        if (y) y[o] = is_max ? best : sum / (s->kh * s->kw);
        if (sw) sw[o] = bi;
        if (dx) {
          if (is_max) {
            dx[p * ip + bi] += dy[o];
          } else {
            for (int i = 0; i < s->kh; i++)
              for (int j = 0; j < s->kw; j++)
                dx[p * ip + (oh * s->stride_h + i) * s->w_in + ow * s->stride_w + j] +=
                    dy[o] / (s->kh * s->kw);
          }
        }
      }
}

typedef struct {
  PoolShape s;
  int is_max;
  float *x, *y;
  int32_t *sw, *sw0;
  const float *r;
} PoolCtx;
static double pool_obj(void *p, int *kink) {
  PoolCtx *c = p;
  if (c->is_max) {
    B->maxpool_forward(&c->s, c->x, c->y, c->sw);
    *kink = memcmp(c->sw, c->sw0, pool_yn(&c->s) * sizeof(int32_t)) != 0;
  } else {
    B->avgpool_forward(&c->s, c->x, c->y);
  }
  return dot_rd(c->r, c->y, pool_yn(&c->s));
}

static void test_pool_case(const char *tag, PoolShape s, int integer_data, int do_gradcheck) {
  char name[128];
  const size_t xn = pool_xn(&s), yn = pool_yn(&s);
  float *x = frand(xn, -2, 2);
  if (integer_data) /* many ties */
    for (size_t i = 0; i < xn; i++) x[i] = floorf(x[i]);
  float *y = falloc(yn), *dy = frand(yn, -1, 1), *dx = falloc(xn);
  int32_t *sw = calloc(yn, sizeof(int32_t)), *rsw = calloc(yn, sizeof(int32_t));
  double *ry = dalloc(yn), *rdx = dalloc(xn);

  B->maxpool_forward(&s, x, y, sw);
  ref_pool(&s, 1, x, ry, rsw, dy, rdx);
  snprintf(name, sizeof name, "maxpool %s forward", tag);
  cmp(name, y, ry, yn, 0.0);
  int same = !memcmp(sw, rsw, yn * sizeof(int32_t));
  snprintf(name, sizeof name, "maxpool %s switches%s", tag, integer_data ? " (ties: first max)" : "");
  report(same, name, "mismatch", same ? 0.0 : 1.0);
  B->maxpool_backward(&s, dy, sw, dx);
  snprintf(name, sizeof name, "maxpool %s backward", tag);
  cmp(name, dx, rdx, xn, 1e-6);
  if (do_gradcheck && !integer_data) {
    /* a few near-ties (closer than h): perturbing them changes the winner, and
     * the checker must skip those points rather than report a false error */
    for (size_t i = 5; i + 1 < xn; i += 23) x[i + 1] = x[i] + 4e-4f;
    B->maxpool_forward(&s, x, y, sw);
    B->maxpool_backward(&s, dy, sw, dx);
    int32_t *sw0 = calloc(yn, sizeof(int32_t));
    memcpy(sw0, sw, yn * sizeof(int32_t));
    PoolCtx c = {s, 1, x, y, sw, sw0, dy};
    snprintf(name, sizeof name, "maxpool %s dx", tag);
    gradcheck(name, x, xn, dx, pool_obj, &c, 1e-3f, 1e-3, 200);
    free(sw0);
  }

  B->avgpool_forward(&s, x, y);
  ref_pool(&s, 0, x, ry, NULL, dy, rdx);
  snprintf(name, sizeof name, "avgpool %s forward", tag);
  cmp(name, y, ry, yn, 1e-6);
  B->avgpool_backward(&s, dy, dx);
  snprintf(name, sizeof name, "avgpool %s backward", tag);
  cmp(name, dx, rdx, xn, 1e-6);
  if (do_gradcheck) {
    PoolCtx c = {s, 0, x, y, NULL, NULL, dy};
    snprintf(name, sizeof name, "avgpool %s dx", tag);
    gradcheck(name, x, xn, dx, pool_obj, &c, 1e-2f, 1e-3, 200);
  }
  free(x), free(y), free(dy), free(dx), free(sw), free(rsw), free(ry), free(rdx);
}

static void test_pool(void) {
  test_pool_case("(2,4) on 7x13 floor", pool_shape(2, 3, 7, 13, 2, 4, 2, 4), 0, 1);
  test_pool_case("(40,1) on 40x5", pool_shape(2, 2, 40, 5, 40, 1, 40, 1), 0, 1);
  test_pool_case("global time (1,17) on 6x17", pool_shape(1, 3, 6, 17, 1, 17, 1, 17), 0, 1);
  test_pool_case("overlap 3x3 s2 on 9x11", pool_shape(2, 2, 9, 11, 3, 3, 2, 2), 0, 1);
  test_pool_case("overlap 3x2 s1x1 on 5x6", pool_shape(1, 2, 5, 6, 3, 2, 1, 1), 0, 1);
  test_pool_case("ties 2x2 on 8x8", pool_shape(2, 3, 8, 8, 2, 2, 2, 2), 1, 0);
  test_pool_case("ties overlap 3x3 s1 on 6x7", pool_shape(1, 2, 6, 7, 3, 3, 1, 1), 1, 0);
  test_pool_case("threaded (2,4) on 48x341", pool_shape(2, 8, 48, 341, 2, 4, 2, 4), 0, 0);
  /* long windows, few outputs (cpu_pool.c's window_max path) */
  test_pool_case("global time, ties (2,16) on 4x16", pool_shape(1, 2, 4, 16, 2, 16, 2, 16), 1, 0);
  test_pool_case("long windows (1,9) on 3x18", pool_shape(2, 2, 3, 18, 1, 9, 1, 9), 0, 1);
  /* the same winners there as in the general loop: the last NaN, else the
   * first maximum (its own sign for zeros), the first element when all are -inf */
  {
    PoolShape s = pool_shape(1, 3, 1, 12, 1, 12, 1, 12);
    float x[36] = {1, 2, NAN, 4, 5, 6, 7, 8, NAN, 1, 2, 3};
    for (int j = 0; j < 12; j++) x[12 + j] = j == 4 ? -0.0f : j == 7 ? 0.0f : -1.0f - j;
    for (int j = 0; j < 12; j++) x[24 + j] = -INFINITY;
    float y[3];
    int32_t sw[3];
    B->maxpool_forward(&s, x, y, sw);
    int ok = isnan(y[0]) && sw[0] == 8 && y[1] == 0.0f && signbit(y[1]) && sw[1] == 4 && y[2] == -INFINITY &&
             sw[2] == 0; /* switches index each plane */
    report(ok, "maxpool long window: last NaN, first maximum (-0 before +0), all -inf", "ok", ok ? 0.0 : 1.0);
  }

  /* NaN propagates and wins the switch */
  {
    PoolShape s = pool_shape(1, 1, 2, 4, 2, 2, 2, 2);
    float x[8] = {1, 2, 3, 4, 5, NAN, 7, 8}, y[2];
    int32_t sw[2];
    B->maxpool_forward(&s, x, y, sw);
    int ok = isnan(y[0]) && sw[0] == 5 && y[1] == 8.0f && sw[1] == 7;
    report(ok, "maxpool NaN propagates", "ok", ok ? 0.0 : 1.0);
  }
  /* all -inf: winner is the window's first element */
  {
    PoolShape s = pool_shape(1, 1, 2, 2, 2, 2, 2, 2);
    float x[4] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY}, y[1];
    int32_t sw[1] = {-1};
    B->maxpool_forward(&s, x, y, sw);
    int ok = y[0] == -INFINITY && sw[0] == 0;
    report(ok, "maxpool all -inf picks the first element", "ok", ok ? 0.0 : 1.0);
  }
}

/* ---------- batch normalisation ---------- */

static int bn_feature(const BatchNormShape *s, size_t idx) {
  const size_t w = idx % s->w, rest = idx / s->w;
  (void)w;
  const int h = (int)(rest % s->h);
  const int c = (int)(rest / s->h % s->c);
  return s->axis == AT_BN_PER_CHANNEL ? c : h;
}
static size_t bn_n(const BatchNormShape *s) { return (size_t)s->n * s->c * s->h * s->w; }

/* forward (training) and, when dy is given, backward, in double */
static void ref_bn(const BatchNormShape *s, const float *x, const float *gamma, const float *beta,
                   double *y, double *mean, double *var, const float *dy, double *dx,
                   double *dgamma, double *dbeta) {
  const int F = at_bn_features(s);
  const size_t total = bn_n(s);
  const double m = (double)total / F;
  double *sum = dalloc(F), *sdy = dalloc(F), *sdyxh = dalloc(F);
  for (size_t i = 0; i < total; i++) sum[bn_feature(s, i)] += x[i];
  for (int f = 0; f < F; f++) mean[f] = sum[f] / m, var[f] = 0.0;
  for (size_t i = 0; i < total; i++) {
    const int f = bn_feature(s, i);
    var[f] += (x[i] - mean[f]) * (x[i] - mean[f]) / m;
  }
  for (size_t i = 0; i < total; i++) {
    const int f = bn_feature(s, i);
    const double xh = (x[i] - mean[f]) / sqrt(var[f] + s->eps);
    y[i] = xh * gamma[f] + beta[f];
    if (dy) sdy[f] += dy[i], sdyxh[f] += dy[i] * xh;
  }
  if (dy) {
    for (int f = 0; f < F; f++) dgamma[f] = sdyxh[f], dbeta[f] = sdy[f];
    for (size_t i = 0; i < total; i++) {
      const int f = bn_feature(s, i);
      const double is = 1.0 / sqrt(var[f] + s->eps);
      const double xh = (x[i] - mean[f]) * is;
      dx[i] = gamma[f] * is / m * (m * dy[i] - sdy[f] - xh * sdyxh[f]);
    }
  }
  free(sum), free(sdy), free(sdyxh);
}

typedef struct {
  BatchNormShape s;
  float *x, *gamma, *beta, *y, *mean, *invstd, *rm, *rv;
  const float *r;
} BnCtx;
static double bn_obj(void *p, int *kink) {
  BnCtx *c = p;
  (void)kink;
  B->batchnorm_forward_train(&c->s, c->x, c->gamma, c->beta, c->y, c->mean, c->invstd, c->rm, c->rv);
  return dot_rd(c->r, c->y, bn_n(&c->s));
}

static void test_bn_case(const char *tag, BatchNormShape s, int do_gradcheck) {
  char name[128];
  const int F = at_bn_features(&s);
  const size_t n = bn_n(&s);
  float *x = frand(n, -1.5, 2.5), *gamma = frand(F, 0.5, 1.5), *beta = frand(F, -0.5, 0.5);
  /* a large common offset tests the accuracy of the variance */
  for (size_t i = 0; i < n; i++) x[i] += 20.0f;
  float *y = falloc(n), *mean = falloc(F), *invstd = falloc(F), *rm = frand(F, -1, 1),
        *rv = frand(F, 0.5, 2), *dy = frand(n, -1, 1), *dx = falloc(n), *dg = falloc(F),
        *dbt = falloc(F);
  float *rm0 = fdup(rm, F), *rv0 = fdup(rv, F);
  double *ry = dalloc(n), *rmean = dalloc(F), *rvar = dalloc(F), *rdx = dalloc(n), *rdg = dalloc(F),
         *rdb = dalloc(F);

  B->batchnorm_forward_train(&s, x, gamma, beta, y, mean, invstd, rm, rv);
  ref_bn(&s, x, gamma, beta, ry, rmean, rvar, dy, rdx, rdg, rdb);
  snprintf(name, sizeof name, "bn %s train forward", tag);
  cmp(name, y, ry, n, 2e-5);
  double *tmp = dalloc(F);
  for (int f = 0; f < F; f++) tmp[f] = rmean[f];
  snprintf(name, sizeof name, "bn %s save_mean", tag);
  cmp(name, mean, tmp, F, 1e-6);
  for (int f = 0; f < F; f++) tmp[f] = 1.0 / sqrt(rvar[f] + s.eps);
  snprintf(name, sizeof name, "bn %s save_invstd", tag);
  cmp(name, invstd, tmp, F, 1e-6);
  /* running statistics: momentum update, unbiased variance */
  const double m = (double)n / F;
  for (int f = 0; f < F; f++) tmp[f] = (1 - (double)s.momentum) * rm0[f] + (double)s.momentum * rmean[f];
  snprintf(name, sizeof name, "bn %s running_mean", tag);
  cmp(name, rm, tmp, F, 1e-6);
  for (int f = 0; f < F; f++)
    tmp[f] = (1 - (double)s.momentum) * rv0[f] + (double)s.momentum * rvar[f] * m / (m - 1);
  snprintf(name, sizeof name, "bn %s running_var (unbiased)", tag);
  cmp(name, rv, tmp, F, 1e-6);

  B->batchnorm_backward(&s, x, dy, gamma, mean, invstd, dx, dg, dbt);
  snprintf(name, sizeof name, "bn %s backward dx", tag);
  cmp(name, dx, rdx, n, 1e-5);
  snprintf(name, sizeof name, "bn %s backward dgamma", tag);
  cmp(name, dg, rdg, F, 1e-5);
  snprintf(name, sizeof name, "bn %s backward dbeta", tag);
  cmp(name, dbt, rdb, F, 1e-6);
  {
    float *dx2 = falloc(n), *dg2 = falloc(F);
    B->batchnorm_backward(&s, x, dy, gamma, mean, invstd, dx2, NULL, NULL);
    B->batchnorm_backward(&s, x, dy, gamma, mean, invstd, NULL, dg2, NULL);
    int same = !memcmp(dx, dx2, n * sizeof(float)) && !memcmp(dg, dg2, F * sizeof(float));
    snprintf(name, sizeof name, "bn %s backward with NULL outputs", tag);
    report(same, name, "bitwise", same ? 0.0 : 1.0);
    free(dx2), free(dg2);
  }

  /* inference uses the running statistics */
  B->batchnorm_forward_infer(&s, x, gamma, beta, rm, rv, y);
  for (size_t i = 0; i < n; i++) {
    const int f = bn_feature(&s, i);
    ry[i] = (x[i] - (double)rm[f]) / sqrt((double)rv[f] + s.eps) * gamma[f] + beta[f];
  }
  snprintf(name, sizeof name, "bn %s inference forward", tag);
  cmp(name, y, ry, n, 1e-5);

  if (do_gradcheck) {
    float *srm = falloc(F), *srv = falloc(F);
    BnCtx c = {s, x, gamma, beta, y, mean, invstd, srm, srv, dy};
    /* the gradients of the unshifted data are the same; a smaller offset keeps
     * float rounding of x +- h small relative to h */
    for (size_t i = 0; i < n; i++) x[i] -= 20.0f;
    B->batchnorm_forward_train(&s, x, gamma, beta, y, mean, invstd, srm, srv);
    B->batchnorm_backward(&s, x, dy, gamma, mean, invstd, dx, dg, dbt);
    snprintf(name, sizeof name, "bn %s dx", tag);
    gradcheck(name, x, n, dx, bn_obj, &c, 5e-3f, 3e-3, 120);
    snprintf(name, sizeof name, "bn %s dgamma", tag);
    gradcheck(name, gamma, F, dg, bn_obj, &c, 1e-2f, 1e-3, 120);
    snprintf(name, sizeof name, "bn %s dbeta", tag);
    gradcheck(name, beta, F, dbt, bn_obj, &c, 1e-2f, 1e-3, 120);
    free(srm), free(srv);
  }
  free(x), free(gamma), free(beta), free(y), free(mean), free(invstd), free(rm), free(rv), free(dy);
  free(dx), free(dg), free(dbt), free(rm0), free(rv0), free(ry), free(rmean), free(rvar), free(rdx);
  free(rdg), free(rdb), free(tmp);
}

static void test_bn(void) {
  BatchNormShape a = {3, 4, 5, 6, AT_BN_PER_CHANNEL, 1e-5f, 0.1f};
  BatchNormShape b = {3, 4, 5, 6, AT_BN_PER_FREQUENCY, 1e-3f, 0.01f};
  BatchNormShape c = {2, 3, 7, 1, AT_BN_PER_FREQUENCY, 1e-5f, 0.1f};
  BatchNormShape d = {4, 16, 24, 40, AT_BN_PER_CHANNEL, 1e-5f, 0.1f};
  test_bn_case("per-channel 3x4x5x6", a, 1);
  test_bn_case("per-frequency 3x4x5x6", b, 1);
  test_bn_case("per-frequency 2x3x7x1", c, 1);
  test_bn_case("per-channel threaded 4x16x24x40", d, 0);
}

/* ---------- batch norm -> ReLU -> max-pool, fused ---------- */

/* The fused operation against batchnorm, relu (when `relu`) and maxpool run
 * one after the other: every output bit for bit (training, inference, a frozen backward,
 * NULL outputs), with windows that overlap, leave columns uncovered, and a
 * negative gamma (BN then decreases: winners differ from the raw input's). */
static void test_chain_case(const char *tag, int relu, int n, int c, int h, int w, int kh, int kw, int sh, int sw) {
  char name[160];
  BatchNormShape b = {n, c, h, w, AT_BN_PER_CHANNEL, 1e-5f, 0.1f};
  PoolShape p = pool_shape(n, c, h, w, kh, kw, sh, sw);
  const size_t xn = bn_n(&b), yn = pool_yn(&p);
  float *x = frand(xn, -1.5, 2.5), *gamma = frand(c, 0.5, 1.5), *beta = frand(c, -0.8, 0.3), *dy = frand(yn, -1, 1);
  gamma[0] = -gamma[0];
  for (int k = 0; k < 2 * c && k < (int)xn; k++) x[k * 7 % xn] = x[0]; /* ties */
  for (int training = 1; training >= 0; training--) {
    /* the three operations */
    float *z = falloc(xn), *y1 = falloc(yn), *dz = falloc(xn), *dr = falloc(xn), *dx1 = falloc(xn);
    float *m1 = falloc(c), *i1 = falloc(c), *rm1 = frand(c, -1, 1), *rv1 = frand(c, 0.5, 2), *dg1 = falloc(c),
          *db1 = falloc(c);
    int32_t *s1 = calloc(yn, sizeof(int32_t));
    /* the fused one */
    float *y2 = falloc(yn), *dx2 = falloc(xn), *m2 = falloc(c), *i2 = falloc(c), *rm2 = fdup(rm1, c),
          *rv2 = fdup(rv1, c), *dg2 = falloc(c), *db2 = falloc(c), *dx3 = falloc(xn), *dg3 = falloc(c);
    int32_t *s2 = calloc(yn, sizeof(int32_t));
    if (training) {
      B->batchnorm_forward_train(&b, x, gamma, beta, z, m1, i1, rm1, rv1);
    } else {
      B->batchnorm_forward_infer(&b, x, gamma, beta, rm1, rv1, z);
    }
    if (relu) B->relu_forward(z, z, xn);
    B->maxpool_forward(&p, z, y1, s1);
    B->maxpool_backward(&p, dy, s1, dz);
    if (relu) B->relu_backward(z, dz, dr, xn);
    else memcpy(dr, dz, xn * 4);
    if (training) {
      B->batchnorm_backward(&b, x, dr, gamma, m1, i1, dx1, dg1, db1);
    } else { /* the frozen layer's backward (nn/layers/batchnorm.c) */
      float *zeros = falloc(c);
      B->batchnorm_forward_infer(&b, dr, gamma, zeros, zeros, rv1, dx1);
      free(zeros);
    }
    B->bn_relu_maxpool_forward(&b, &p, relu, training, x, gamma, beta, m2, i2, rm2, rv2, y2, s2);
    B->bn_relu_maxpool_backward(&b, &p, relu, training, x, y2, dy, s2, gamma, m2, i2, rv2, dx2, training ? dg2 : NULL,
                                training ? db2 : NULL);
    int same = !memcmp(y1, y2, yn * 4) && !memcmp(s1, s2, yn * 4) && !memcmp(dx1, dx2, xn * 4) &&
               !memcmp(rm1, rm2, c * 4) && !memcmp(rv1, rv2, c * 4);
    if (training)
      same &= !memcmp(m1, m2, c * 4) && !memcmp(i1, i2, c * 4) && !memcmp(dg1, dg2, c * 4) && !memcmp(db1, db2, c * 4);
    snprintf(name, sizeof name, "bn+%smaxpool %s %s = the separate ops", relu ? "relu+" : "", tag, training ? "train" : "infer/frozen");
    report(same, name, "bitwise", same ? 0.0 : 1.0);
    if (training) { /* the outputs asked for alone */
      B->bn_relu_maxpool_backward(&b, &p, relu, 1, x, y2, dy, s2, gamma, m2, i2, rv2, dx3, NULL, NULL);
      B->bn_relu_maxpool_backward(&b, &p, relu, 1, x, y2, dy, s2, gamma, m2, i2, rv2, NULL, dg3, NULL);
      same = !memcmp(dx3, dx1, xn * 4) && !memcmp(dg3, dg1, c * 4);
      snprintf(name, sizeof name, "bn+%smaxpool %s backward dx alone, dgamma alone", relu ? "relu+" : "", tag);
      report(same, name, "bitwise", same ? 0.0 : 1.0);
    }
    free(z), free(y1), free(dz), free(dr), free(dx1), free(m1), free(i1), free(rm1), free(rv1), free(dg1), free(db1);
    free(s1), free(y2), free(dx2), free(m2), free(i2), free(rm2), free(rv2), free(dg2), free(db2), free(dx3), free(dg3);
    free(s2);
  }
  free(x), free(gamma), free(beta), free(dy);
}

static void test_chain(void) {
  for (int relu = 1; relu >= 0; relu--) {
    test_chain_case("2x3x6x9 pool 2x2", relu, 2, 3, 6, 9, 2, 2, 2, 2);
    test_chain_case("3x4x7x11 pool 3x3 stride 2 (overlapping)", relu, 3, 4, 7, 11, 3, 3, 2, 2);
    test_chain_case("2x5x4x30 pool 4x1 (global over frequency)", relu, 2, 5, 4, 30, 4, 1, 4, 1);
    test_chain_case("4x32x24x70 pool 2x4, threaded (FCN-like, 2 columns uncovered)", relu, 4, 32, 24, 70, 2, 4, 2, 4);
  }
}

/* ---------- activations and dropout ---------- */

typedef struct {
  int kind; /* 0 relu, 1 elu, 2 dropout */
  float *x, *y;
  size_t n;
  float alpha, p;
  uint8_t *mask;
  const float *x0; /* unperturbed input, for the kink test */
  const float *r;
} ActCtx;
static double act_obj(void *p, int *kink) {
  ActCtx *c = p;
  if (c->kind == 0) B->relu_forward(c->x, c->y, c->n);
  if (c->kind == 1) B->elu_forward(c->x, c->y, c->n, c->alpha);
  if (c->kind == 2) B->dropout_forward(c->x, c->y, c->mask, c->n, c->p, 42, 7);
  if (c->kind != 2)
    for (size_t i = 0; i < c->n; i++)
      if ((c->x[i] > 0) != (c->x0[i] > 0)) *kink = 1; /* crossed 0 */
  return dot_rd(c->r, c->y, c->n);
}

static void test_activations(void) {
  const size_t n = 1000;
  float *x = frand(n, -2, 2), *y = falloc(n), *dy = frand(n, -1, 1), *dx = falloc(n);
  float *x0 = falloc(n);
  double *ref = dalloc(n);
  /* a few exact zeros: relu'(0) = 0, elu'(0) uses the y <= 0 branch */
  x[3] = 0.0f, x[17] = 0.0f;

  B->relu_forward(x, y, n);
  for (size_t i = 0; i < n; i++) ref[i] = x[i] > 0 ? x[i] : 0;
  cmp("relu forward", y, ref, n, 0.0);
  B->relu_backward(y, dy, dx, n);
  for (size_t i = 0; i < n; i++) ref[i] = y[i] > 0 ? dy[i] : 0;
  cmp("relu backward (from output)", dx, ref, n, 0.0);
  memcpy(x0, x, n * sizeof(float));
  {
    ActCtx c = {0, x, y, n, 0, 0, NULL, x0, dy};
    gradcheck("relu dx", x, n, dx, act_obj, &c, 1e-2f, 1e-4, 300);
  }
  {
    float *xa = fdup(x, n);
    B->relu_forward(x, y, n); /* afresh: the gradient check's objective wrote y from perturbed inputs */
    B->relu_forward(xa, xa, n);
    int same = !memcmp(xa, y, n * sizeof(float));
    report(same, "relu in place (y aliases x)", "bitwise", same ? 0.0 : 1.0);
    free(xa);
  }

  const float alpha = 0.7f;
  B->elu_forward(x, y, n, alpha);
  for (size_t i = 0; i < n; i++) ref[i] = x[i] > 0 ? x[i] : alpha * (exp((double)x[i]) - 1);
  cmp("elu forward", y, ref, n, 1e-6);
  {
    /* accuracy sweep of the negative branch against double expm1: relative
     * error <= 3e-7 (about 2.5 ulp) from -90 to the smallest subnormals */
    const size_t m = 200000;
    float *sx = falloc(m), *sy = falloc(m);
    for (size_t i = 0; i < m; i++) {
      const double u = (double)i / (m - 1);
      sx[i] = i % 2 ? (float)(-90.0 * u) : -(float)pow(10.0, -45.0 + 46.0 * u); /* -1e-45 .. -10 */
    }
    sx[0] = -0.0f, sx[2] = -INFINITY;
    B->elu_forward(sx, sy, m, 1.0f);
    double worst = 0.0;
    for (size_t i = 0; i < m; i++) {
      const double r = expm1((double)sx[i]);
      const double e = fabs((double)sy[i] - r) / fmax(fabs(r), 1e-45);
      if (!(e <= worst)) worst = e;
    }
    report(worst <= 3e-7, "elu forward accuracy sweep [-90, -1e-45] vs expm1", "max_rel", worst);
    float special[3] = {NAN, INFINITY, 0.0f}, so[3];
    B->elu_forward(special, so, 3, 0.5f);
    int ok = isnan(so[0]) && so[1] == INFINITY && so[2] == 0.0f;
    report(ok, "elu forward NaN, +Inf, 0", "ok", ok ? 0.0 : 1.0);
    free(sx), free(sy);
  }
  B->elu_backward(y, dy, dx, n, alpha);
  for (size_t i = 0; i < n; i++) ref[i] = x[i] > 0 ? dy[i] : dy[i] * alpha * exp((double)x[i]);
  cmp("elu backward (from output)", dx, ref, n, 1e-6);
  {
    ActCtx c = {1, x, y, n, alpha, 0, NULL, x0, dy};
    gradcheck("elu dx", x, n, dx, act_obj, &c, 1e-2f, 1e-3, 300);
  }
  {
    float *xa = fdup(x, n), *dya = fdup(dy, n);
    B->elu_forward(xa, xa, n, alpha);
    B->elu_backward(xa, dya, dya, n, alpha);
    int same = !memcmp(dya, dx, n * sizeof(float));
    report(same, "elu in place (y aliases x, dx aliases dy)", "bitwise", same ? 0.0 : 1.0);
    free(xa), free(dya);
  }

  /* dropout with a fixed mask */
  {
    const float p = 0.3f;
    uint8_t *mask = calloc(n, 1);
    B->dropout_forward(x, y, mask, n, p, 42, 7);
    B->dropout_backward(dy, mask, dx, n, p);
    for (size_t i = 0; i < n; i++) ref[i] = mask[i] ? dy[i] / (1.0 - p) : 0.0;
    cmp("dropout backward", dx, ref, n, 1e-6);
    ActCtx c = {2, x, y, n, 0, p, mask, x0, dy};
    gradcheck("dropout dx (fixed mask)", x, n, dx, act_obj, &c, 1e-2f, 1e-4, 300);
    free(mask);
  }
  free(x), free(y), free(dy), free(dx), free(x0), free(ref);
}

static void test_dropout(void) {
  const size_t n = 100003; /* not a multiple of 4: a partial Philox block */
  const float p = 0.3f;
  float *x = frand(n, -1, 1), *y = falloc(n);
  uint8_t *m1 = calloc(n, 1), *m2 = calloc(n, 1), *m3 = calloc(n, 1);
  B->dropout_forward(x, y, m1, n, p, 1234, 5);
  size_t kept = 0, rng_mismatch = 0, val_bad = 0;
  const float scale = 1.0f / (1.0f - p);
  for (size_t i = 0; i < n; i++) {
    kept += m1[i];
    if ((at_rng_uniform(1234, 5, i) >= p) != (m1[i] == 1)) rng_mismatch++;
    const float want = m1[i] ? x[i] * scale : 0.0f;
    if (fabsf(y[i] - want) > 1e-6f * fabsf(want)) val_bad++;
  }
  const double frac = (double)kept / n;
  report(fabs(frac - (1.0 - p)) < 0.01, "dropout kept fraction ~ 1-p (0.7)", "|frac-0.7|",
         fabs(frac - 0.7));
  report(rng_mismatch == 0, "dropout mask == (at_rng_uniform(seed,stream,i) >= p)", "mismatches",
         (double)rng_mismatch);
  report(val_bad == 0, "dropout values x/(1-p) or 0", "bad", (double)val_bad);
  B->dropout_forward(x, y, m2, n, p, 1234, 5);
  report(!memcmp(m1, m2, n), "dropout same seed+stream -> same mask", "differ",
         (double)(memcmp(m1, m2, n) != 0));
  B->dropout_forward(x, y, m3, n, p, 1234, 6);
  size_t diff = 0;
  for (size_t i = 0; i < n; i++) diff += m1[i] != m3[i];
  /* independent masks differ in 2 p (1-p) = 42% of the elements */
  report(fabs((double)diff / n - 0.42) < 0.02, "dropout other stream -> different mask",
         "diff_frac", (double)diff / n);
  B->dropout_forward(x, y, m3, n, p, 1235, 5);
  diff = 0;
  for (size_t i = 0; i < n; i++) diff += m1[i] != m3[i];
  report(fabs((double)diff / n - 0.42) < 0.02, "dropout other seed -> different mask", "diff_frac",
         (double)diff / n);
  B->dropout_forward(x, y, m3, n, 0.0f, 1234, 5);
  size_t ones = 0;
  for (size_t i = 0; i < n; i++) ones += m3[i] == 1;
  int ok = ones == n && !memcmp(x, y, n * sizeof(float));
  report(ok, "dropout p=0 copies, mask all 1", "ok", ok ? 0.0 : 1.0);
  free(x), free(y), free(m1), free(m2), free(m3);
}

/* ---------- dense ---------- */

typedef struct {
  int n, in, out;
  float *x, *w, *b, *y;
  const float *r;
} DenseCtx;
static double dense_obj(void *p, int *kink) {
  DenseCtx *c = p;
  (void)kink;
  B->dense_forward(c->n, c->in, c->out, c->x, c->w, c->b, c->y);
  return dot_rd(c->r, c->y, (size_t)c->n * c->out);
}

static void test_dense(void) {
  const int n = 5, in = 37, out = 11;
  float *x = frand((size_t)n * in, -1, 1), *w = frand((size_t)out * in, -1, 1), *b = frand(out, -1, 1);
  float *y = falloc((size_t)n * out), *dy = frand((size_t)n * out, -1, 1);
  float *dx = falloc((size_t)n * in), *dw = falloc((size_t)out * in), *db = falloc(out);
  double *ry = dalloc((size_t)n * out), *rdx = dalloc((size_t)n * in), *rdw = dalloc((size_t)out * in),
         *rdb = dalloc(out);
  for (int i = 0; i < n; i++)
    for (int o = 0; o < out; o++) {
      double acc = b[o];
      for (int k = 0; k < in; k++) {
        acc += (double)x[i * in + k] * w[o * in + k];
        rdx[i * in + k] += (double)dy[i * out + o] * w[o * in + k];
        rdw[o * in + k] += (double)dy[i * out + o] * x[i * in + k];
      }
      ry[i * out + o] = acc;
      rdb[o] += dy[i * out + o];
    }
  B->dense_forward(n, in, out, x, w, b, y);
  cmp("dense forward", y, ry, (size_t)n * out, 2e-6);
  B->dense_backward(n, in, out, x, w, dy, dx, dw, db);
  cmp("dense backward dx", dx, rdx, (size_t)n * in, 2e-6);
  cmp("dense backward dw", dw, rdw, (size_t)out * in, 2e-6);
  cmp("dense backward db", db, rdb, out, 1e-6);
  {
    float *y2 = falloc((size_t)n * out);
    B->dense_forward(n, in, out, x, w, NULL, y2);
    for (int i = 0; i < n; i++)
      for (int o = 0; o < out; o++) ry[i * out + o] -= b[o];
    cmp("dense forward without bias", y2, ry, (size_t)n * out, 2e-6);
    free(y2);
  }
  DenseCtx c = {n, in, out, x, w, b, y, dy};
  gradcheck("dense dx", x, (size_t)n * in, dx, dense_obj, &c, 1e-2f, 1e-3, 200);
  gradcheck("dense dw", w, (size_t)out * in, dw, dense_obj, &c, 1e-2f, 1e-3, 200);
  gradcheck("dense db", b, out, db, dense_obj, &c, 1e-2f, 1e-3, 200);
  free(x), free(w), free(b), free(y), free(dy), free(dx), free(dw), free(db);
  free(ry), free(rdx), free(rdw), free(rdb);
}

/* ---------- concat ---------- */

typedef struct {
  int n, plane, k;
  const int *ch;
  float **xs;
  float *y;
  const float *r;
  size_t yn;
} CatCtx;
static double cat_obj(void *p, int *kink) {
  CatCtx *c = p;
  (void)kink;
  B->concat_forward(c->n, c->plane, c->k, c->ch, (const float *const *)c->xs, c->y);
  return dot_rd(c->r, c->y, c->yn);
}

static void test_concat(void) {
  const int n = 3, plane = 10, k = 3, ch[3] = {2, 5, 1};
  const int ct = 8;
  float *xs[3], *dxs[3];
  for (int i = 0; i < k; i++) {
    xs[i] = frand((size_t)n * ch[i] * plane, -1, 1);
    dxs[i] = falloc((size_t)n * ch[i] * plane);
  }
  const size_t yn = (size_t)n * ct * plane;
  float *y = falloc(yn), *dy = frand(yn, -1, 1);
  double *ref = dalloc(yn);
  for (int e = 0; e < n; e++) {
    int off = 0;
    for (int i = 0; i < k; i++) {
      for (int c = 0; c < ch[i]; c++)
        for (int p = 0; p < plane; p++)
          ref[((size_t)e * ct + off + c) * plane + p] = xs[i][((size_t)e * ch[i] + c) * plane + p];
      off += ch[i];
    }
  }
  B->concat_forward(n, plane, k, ch, (const float *const *)xs, y);
  cmp("concat forward", y, ref, yn, 0.0);
  B->concat_backward(n, plane, k, ch, dy, dxs);
  CatCtx c = {n, plane, k, ch, xs, y, dy, yn};
  for (int i = 0; i < k; i++) {
    char name[64];
    snprintf(name, sizeof name, "concat dx[%d]", i);
    gradcheck(name, xs[i], (size_t)n * ch[i] * plane, dxs[i], cat_obj, &c, 1e-2f, 1e-4, 200);
  }
  for (int i = 0; i < k; i++) free(xs[i]), free(dxs[i]);
  free(y), free(dy), free(ref);
}

/* ---------- outputs and losses ---------- */

typedef struct {
  int n, classes;
  float *z;
  const float *t;
  const int32_t *labels;
  float *dl;
} LossCtx;
static double bce_obj(void *p, int *kink) {
  LossCtx *c = p;
  (void)kink;
  return B->bce_with_logits(c->n, c->classes, c->z, c->t, c->dl);
}
static double ce_obj(void *p, int *kink) {
  LossCtx *c = p;
  (void)kink;
  return B->softmax_cross_entropy(c->n, c->classes, c->z, c->labels, c->dl);
}

static double log_sigmoid(double z) { return z > 0 ? -log1p(exp(-z)) : z - log1p(exp(z)); }

typedef struct BadLabelCtx {
  int n, classes;
  const float *z;
  float *dl;
} BadLabelCtx;

static void bad_label_child(const void *arg) {
  const BadLabelCtx *c = arg;
  int32_t bad[4] = {0, 7, 0, 0};
  B->softmax_cross_entropy(c->n, c->classes, c->z, bad, c->dl);
}

static void test_losses(void) {
  const int n = 4, classes = 7;
  const size_t tot = (size_t)n * classes;
  float *z = frand(tot, -4, 4), *t = frand(tot, 0, 1), *y = falloc(tot), *dl = falloc(tot),
        *scratch = falloc(tot);
  double *ref = dalloc(tot);
  z[0] = 30.0f, z[1] = -30.0f; /* saturated logits */
  for (size_t i = 0; i < tot; i += 3) t[i] = (float)(i % 2); /* some hard labels */

  B->sigmoid(z, y, tot);
  for (size_t i = 0; i < tot; i++) ref[i] = 1.0 / (1.0 + exp(-(double)z[i]));
  cmp("sigmoid", y, ref, tot, 1e-7);
  {
    float big[4] = {-100.0f, -88.0f, 88.0f, 100.0f}, out[4];
    B->sigmoid(big, out, 4);
    int ok = out[0] >= 0.0f && out[0] < 1e-30f && out[3] == 1.0f && isfinite(out[1]);
    report(ok, "sigmoid saturates without NaN", "ok", ok ? 0.0 : 1.0);
  }
  B->softmax(n, classes, z, y);
  for (int r = 0; r < n; r++) {
    double s = 0;
    for (int j = 0; j < classes; j++) s += exp((double)z[r * classes + j]);
    for (int j = 0; j < classes; j++) ref[r * classes + j] = exp((double)z[r * classes + j]) / s;
  }
  cmp("softmax", y, ref, tot, 1e-6);
  {
    float big[3] = {1000.0f, 999.0f, -1000.0f}, out[3];
    B->softmax(1, 3, big, out);
    int ok = fabsf(out[0] - 0.7310586f) < 1e-6f && fabsf(out[1] - 0.2689414f) < 1e-6f && out[2] == 0.0f;
    report(ok, "softmax large logits (max subtracted)", "ok", ok ? 0.0 : 1.0);
  }

  double want = 0.0;
  for (size_t i = 0; i < tot; i++) {
    const double zi = z[i], s = 1.0 / (1.0 + exp(-zi));
    /* -(t log s(z) + (1-t) log s(-z)) with a stable log-sigmoid */
    want += -((double)t[i] * log_sigmoid(zi) + (1.0 - (double)t[i]) * log_sigmoid(-zi));
    ref[i] = (s - t[i]) / tot;
  }
  want /= tot;
  double got = B->bce_with_logits(n, classes, z, t, dl);
  report(fabs(got - want) <= 1e-9 * fabs(want), "bce_with_logits loss", "abs_err", fabs(got - want));
  cmp("bce_with_logits dlogits", dl, ref, tot, 1e-8);
  {
    LossCtx c = {n, classes, z, t, NULL, scratch};
    gradcheck("bce_with_logits dlogits", z, tot, dl, bce_obj, &c, 1e-2f, 1e-3, 200);
  }

  int32_t labels[4] = {0, 6, 3, 3};
  want = 0.0;
  for (int r = 0; r < n; r++) {
    double s = 0;
    for (int j = 0; j < classes; j++) s += exp((double)z[r * classes + j]);
    want += log(s) - z[r * classes + labels[r]];
    for (int j = 0; j < classes; j++)
      ref[r * classes + j] = (exp((double)z[r * classes + j]) / s - (j == labels[r])) / n;
  }
  want /= n;
  got = B->softmax_cross_entropy(n, classes, z, labels, dl);
  report(fabs(got - want) <= 1e-9 * fabs(want), "softmax_cross_entropy loss", "abs_err",
         fabs(got - want));
  cmp("softmax_cross_entropy dlogits", dl, ref, tot, 1e-7);
  {
    LossCtx c = {n, classes, z, NULL, labels, scratch};
    gradcheck("softmax_cross_entropy dlogits", z, tot, dl, ce_obj, &c, 1e-2f, 1e-3, 200);
  }

  /* an out-of-range label is a fatal error with a message (exit status 1) */
  {
    char msg[1024];
    BadLabelCtx ctx = {n, classes, z, dl};
    int code = run_in_child(bad_label_child, &ctx, msg, sizeof msg);
    report(code == 1 && strstr(msg, "auratag: error:") != NULL, "softmax_cross_entropy label out of range -> at_fatal",
           "exit", (double)code);
  }
  free(z), free(t), free(y), free(dl), free(scratch), free(ref);
}

/* ---------- elementwise, memory ---------- */

static void test_elementwise(void) {
  const size_t n = 300001;
  float *a = frand(n, -3, 3), *b = frand(n, -3, 3), *y = falloc(n);
  double *ref = dalloc(n);
  B->add(y, a, b, n);
  for (size_t i = 0; i < n; i++) ref[i] = (double)(a[i] + b[i]);
  cmp("add", y, ref, n, 0.0);
  B->add(a, a, b, n); /* aliasing */
  cmp("add in place", a, ref, n, 0.0);
  B->scale(a, n, 0.5f);
  for (size_t i = 0; i < n; i++) ref[i] *= 0.5;
  cmp("scale", a, ref, n, 1e-7);
  B->fill(y, n, 2.5f);
  for (size_t i = 0; i < n; i++) ref[i] = 2.5;
  cmp("fill", y, ref, n, 0.0);
  B->fill(y, n, 0.0f);
  for (size_t i = 0; i < n; i++) ref[i] = 0.0;
  cmp("fill zero", y, ref, n, 0.0);

  double want = 0.0;
  for (size_t i = 0; i < n; i++) want += (double)b[i] * b[i];
  omp_set_num_threads(1);
  const double s1 = B->sum_squares(b, n);
  omp_set_num_threads(2);
  const double s2 = B->sum_squares(b, n);
  report(fabs(s1 - want) <= 1e-12 * want, "sum_squares", "rel_err", fabs(s1 - want) / want);
  report(s1 == s2, "sum_squares identical with 1 and 2 threads", "diff", fabs(s1 - s2));
  report(B->sum_squares(b, 0) == 0.0 && B->sum_squares(b, 1) == (double)b[0] * b[0],
         "sum_squares n=0 and n=1", "ok", 0.0);

  int ok = B->all_finite(b, n) == 1;
  b[n - 1] = NAN;
  ok &= B->all_finite(b, n) == 0;
  b[n - 1] = 1.0f, b[12345] = INFINITY;
  ok &= B->all_finite(b, n) == 0;
  b[12345] = -INFINITY;
  ok &= B->all_finite(b, n) == 0;
  b[12345] = 3.4e38f;
  ok &= B->all_finite(b, n) == 1 && B->all_finite(b, 0) == 1;
  report(ok, "all_finite (NaN, +Inf, -Inf, FLT_MAX)", "ok", ok ? 0.0 : 1.0);

  /* memory: aligned, zero-filled, round trip */
  float *d = B->alloc(1000 * sizeof(float));
  ok = ((uintptr_t)d % 64) == 0;
  for (int i = 0; i < 1000; i++) ok &= d[i] == 0.0f;
  B->to_device(d, a, 1000 * sizeof(float));
  float *d2 = B->alloc(1000 * sizeof(float));
  B->copy(d2, d, 1000 * sizeof(float));
  B->synchronize();
  B->to_host(y, d2, 1000 * sizeof(float));
  ok &= !memcmp(y, a, 1000 * sizeof(float));
  B->release(d), B->release(d2), B->release(NULL);
  report(ok, "alloc 64-byte aligned + zero-filled, to_device/copy/to_host", "ok", ok ? 0.0 : 1.0);

  /* scratch: a second borrower while the cache is lent gets its own buffer */
  float *s_a = at_cpu_scratch_borrow(100), *s_b = at_cpu_scratch_borrow(50);
  ok = s_a && s_b && s_a != s_b;
  s_a[99] = 1.0f, s_b[49] = 1.0f;
  at_cpu_scratch_return(s_b);
  at_cpu_scratch_return(s_a);
  float *s_c = at_cpu_scratch_borrow(10);
  ok &= s_c == s_a;
  at_cpu_scratch_return(s_c);
  report(ok, "scratch cache reuse and concurrent borrow", "ok", ok ? 0.0 : 1.0);
  free(a), free(b), free(y), free(ref);
}

/* ---------- optimisers ---------- */

static void test_optim(void) {
  const size_t n = 1001;
  for (int variant = 0; variant < 4; variant++) {
    SgdConfig c = {0.05f, 0.9f, 0.0f, 1e-2f, 0};
    const char *label = "SGD momentum 0.9";
    if (variant == 1) c.nesterov = 1, label = "SGD momentum 0.9 nesterov";
    if (variant == 2) c.dampening = 0.1f, c.weight_decay = 0.0f, label = "SGD momentum 0.9 dampening 0.1";
    if (variant == 3) c.momentum = 0.0f, label = "SGD plain + weight decay";
    float *p = frand(n, -1, 1), *buf = frand(n, -5, 5); /* garbage: step 1 must ignore it */
    double *rp = dalloc(n), *rb = dalloc(n);
    for (size_t i = 0; i < n; i++) rp[i] = p[i];
    double worst = 0.0;
    for (int step = 1; step <= 3; step++) {
      float *g = frand(n, -1, 1);
      B->sgd_update(&c, p, g, buf, n, step == 1);
      for (size_t i = 0; i < n; i++) {
        double d = g[i] + (double)c.weight_decay * rp[i];
        if (c.momentum != 0.0f) {
          rb[i] = step == 1 ? d : (double)c.momentum * rb[i] + (1.0 - (double)c.dampening) * d;
          d = c.nesterov ? d + (double)c.momentum * rb[i] : rb[i];
        }
        rp[i] -= (double)c.lr * d;
      }
      worst = fmax(worst, rel_err(p, rp, n));
      free(g);
    }
    char name[96];
    snprintf(name, sizeof name, "%s, 3 steps", label);
    report(worst <= 1e-6, name, "rel_err", worst);
    free(p), free(buf), free(rp), free(rb);
  }

  for (int variant = 0; variant < 2; variant++) {
    AdamConfig c = {1e-3f, 0.9f, 0.999f, 1e-8f, variant ? 1e-2f : 0.0f, 0};
    float *p = frand(n, -1, 1), *m = falloc(n), *v = falloc(n);
    double *rp = dalloc(n), *rm = dalloc(n), *rv = dalloc(n);
    for (size_t i = 0; i < n; i++) rp[i] = p[i];
    double worst = 0.0, worst_m = 0.0;
    for (int step = 1; step <= 3; step++) {
      float *g = frand(n, -1, 1);
      c.step = step;
      B->adam_update(&c, p, g, m, v, n);
      const double b1 = c.beta1, b2 = c.beta2;
      const double bc1 = 1 - pow(b1, step), bc2 = 1 - pow(b2, step);
      for (size_t i = 0; i < n; i++) {
        const double gg = g[i] + (double)c.weight_decay * rp[i];
        rm[i] = b1 * rm[i] + (1 - b1) * gg;
        rv[i] = b2 * rv[i] + (1 - b2) * gg * gg;
        const double denom = sqrt(rv[i]) / sqrt(bc2) + (double)c.eps;
        rp[i] -= ((double)c.lr / bc1) * rm[i] / denom;
      }
      worst = fmax(worst, rel_err(p, rp, n));
      worst_m = fmax(worst_m, rel_err(m, rm, n));
      free(g);
    }
    report(worst <= 1e-6 && worst_m <= 1e-6,
           variant ? "Adam weight decay 1e-2, 3 steps" : "Adam, 3 steps", "rel_err", worst);
    free(p), free(m), free(v), free(rp), free(rm), free(rv);
  }
}

/* ---------- determinism ---------- */

static void test_determinism(void) {
  omp_set_num_threads(2);
  ConvShape s = conv_shape(2, 16, 20, 40, 32, 3, 3, 1, 1, 1, 1, 1, 1);
  const size_t xn = conv_xn(&s), yn = conv_yn(&s), wn = conv_wn(&s);
  float *x = frand(xn, -1, 1), *w = frand(wn, -1, 1), *b = frand(s.c_out, -1, 1), *dy = frand(yn, -1, 1);
  float *y[2], *dx[2], *dw[2], *db[2];
  for (int r = 0; r < 2; r++) {
    y[r] = falloc(yn), dx[r] = falloc(xn), dw[r] = falloc(wn), db[r] = falloc(s.c_out);
    B->conv2d_forward(&s, x, w, b, y[r]);
    B->conv2d_backward(&s, x, w, dy, dx[r], dw[r], db[r]);
  }
  int same = !memcmp(y[0], y[1], yn * 4) && !memcmp(dx[0], dx[1], xn * 4) &&
             !memcmp(dw[0], dw[1], wn * 4) && !memcmp(db[0], db[1], (size_t)s.c_out * 4);
  report(same, "determinism: conv forward+backward twice, 2 threads", "bitwise", same ? 0.0 : 1.0);
  for (int r = 0; r < 2; r++) free(y[r]), free(dx[r]), free(dw[r]), free(db[r]);

  for (int axis = 0; axis < 2; axis++) {
    BatchNormShape bs = {4, 16, 24, 40, axis ? AT_BN_PER_FREQUENCY : AT_BN_PER_CHANNEL, 1e-5f, 0.1f};
    const int F = at_bn_features(&bs);
    const size_t n = bn_n(&bs);
    float *bx = frand(n, -1, 3), *g = frand(F, 0.5, 1.5), *be = frand(F, -1, 1), *bdy = frand(n, -1, 1);
    float *out[2][8];
    for (int r = 0; r < 2; r++) {
      float *by = falloc(n), *mu = falloc(F), *is = falloc(F), *rm = falloc(F), *rv = falloc(F);
      float *bdx = falloc(n), *dg = falloc(F), *dbt = falloc(F);
      B->batchnorm_forward_train(&bs, bx, g, be, by, mu, is, rm, rv);
      B->batchnorm_backward(&bs, bx, bdy, g, mu, is, bdx, dg, dbt);
      out[r][0] = by, out[r][1] = mu, out[r][2] = is, out[r][3] = rm, out[r][4] = rv;
      out[r][5] = bdx, out[r][6] = dg, out[r][7] = dbt;
    }
    same = 1;
    const size_t sz[8] = {n, F, F, F, F, n, F, F};
    for (int k = 0; k < 8; k++) same &= !memcmp(out[0][k], out[1][k], sz[k] * 4);
    report(same, axis ? "determinism: BN per-frequency train+backward twice, 2 threads"
                      : "determinism: BN per-channel train+backward twice, 2 threads",
           "bitwise", same ? 0.0 : 1.0);
    for (int r = 0; r < 2; r++)
      for (int k = 0; k < 8; k++) free(out[r][k]);
    free(bx), free(g), free(be), free(bdy);
  }
  free(x), free(w), free(b), free(dy);
}

static void test_table(void) {
  const Backend *t = at_backend_cpu();
  int ok = t && t->name && !strcmp(t->name, "cpu");
#define HAS(kind, ret, name, params, args) ok &= t->name != NULL;
  AT_BACKEND_OPS(HAS) /* every op of the table, from the one list the struct is checked against */
#undef HAS
  report(ok, "backend table complete", "ok", ok ? 0.0 : 1.0);
  /* ggml's test-backend-ops rule: an op nobody compares across backends fails */
  char missing[512];
  int n_missing = backend_ops_without_comparison(missing, sizeof missing);
  if (n_missing) printf("ops without a comparison entry in selftest/backend_compare.c: %s\n", missing);
  report(n_missing == 0, "every backend op has a comparison entry", "ok", n_missing);
}

int main(void) {
  B = at_backend_cpu();
  omp_set_num_threads(2);
  test_table();
  test_elementwise();
  test_conv();
  test_pool();
  test_bn();
  test_chain();
  test_activations();
  test_dropout();
  test_dense();
  test_concat();
  test_losses();
  test_optim();
  test_determinism();
  printf("%d checks, %d failed\n", g_checks, g_failures);
  return g_failures ? 1 : 0;
}
