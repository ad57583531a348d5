/* Tests of the layer kernels under the emulator (kernels/pool.cu,
 * batchnorm.cu, concat.cu, conv_gemm.cu) against the CPU backend.
 *
 * Every case runs under the three thread/block orders (forward, reversed,
 * shuffled) into NaN-filled outputs (switches: 0xFF-filled), and checks
 *  - pooling, switches, concatenation, pad/crop, im2col and col2im: bit for
 *    bit the CPU's result (a NaN matches any NaN);
 *  - batch normalisation (both axes, train/infer/backward, in place too):
 *    within 1e-5 of the CPU;
 *  - convolution built from im2col / col2im / bias_add / bias_grad and the
 *    CPU's SGEMM (forward, dx, dw, db): within 1e-5 of at_cpu_conv2d_*;
 *    asymmetric padding also through pad2d + unpadded convolution + crop2d;
 *  - every result bit-identical across the three orders.
 * Prints one line per comparison with the CPU; exits 1 if any check fails. */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu_ops.h"
#include "kernel_test.h"
#include "kernels.h"

#define BN_TOL 1e-5
#define CONV_TOL 1e-5

static int g_checks;

static const char *label(const char *fmt, ...) {
  static char buf[4][256];
  static int k;
  char *b = buf[k++ & 3];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(b, sizeof buf[0], fmt, ap);
  va_end(ap);
  return b;
}

static void set_order(int o) { cuemu_set_order(kt_orders[o], 0x5EEDull + 17ull * (unsigned long)o); }

/* ---------- checks ---------- */

/* number of elements whose bits differ (two NaNs count as equal) */
static size_t float_mismatches(const float *a, const float *b, size_t n) {
  size_t bad = 0;
  for (size_t i = 0; i < n; i++) {
    if (isnan(a[i]) && isnan(b[i])) continue;
    if (memcmp(&a[i], &b[i], sizeof(float)) != 0) bad++;
  }
  return bad;
}

static void expect_exact(const float *got, const float *want, size_t n, const char *name) {
  g_checks++;
  const size_t bad = float_mismatches(got, want, n);
  CHECK(bad == 0, "%s: %zu of %zu elements differ from the CPU", name, bad, n);
  printf("%s  %-72s exact (%zu elements)\n", bad ? "FAIL" : "PASS", name, n);
}

static void expect_exact_i32(const int32_t *got, const int32_t *want, size_t n, const char *name) {
  g_checks++;
  size_t bad = 0;
  for (size_t i = 0; i < n; i++) bad += got[i] != want[i];
  CHECK(bad == 0, "%s: %zu of %zu switches differ from the CPU", name, bad, n);
  printf("%s  %-72s exact (%zu switches)\n", bad ? "FAIL" : "PASS", name, n);
}

static void expect_close(const float *got, const float *want, size_t n, double tol, const char *name) {
  g_checks++;
  KT_EXPECT_CLOSE(got, want, n, tol, "%-72s", name);
}

static void expect_identical(const void *a, const void *b, size_t bytes, const char *name) {
  g_checks++;
  KT_EXPECT_IDENTICAL(a, b, bytes, "%s", name);
}

static float *fdup(const float *a, size_t n) {
  float *p = kt_alloc_nan(n);
  memcpy(p, a, n * sizeof(float));
  return p;
}

static float *uniform(size_t n, float lo, float hi, uint64_t seed) {
  float *p = kt_alloc_nan(n);
  kt_fill_uniform(p, n, lo, hi, seed);
  return p;
}

/* ---------- pooling ---------- */

typedef struct {
  const char *name;
  int n, c, h_in, w_in, kh, kw, sh, sw;
} PoolCase;

static PoolShape pool_shape(const PoolCase *pc) {
  PoolShape s = {pc->n, pc->c, pc->h_in, pc->w_in, 0, 0, pc->kh, pc->kw, pc->sh, pc->sw};
  s.h_out = (s.h_in - s.kh) / s.stride_h + 1;
  s.w_out = (s.w_in - s.kw) / s.stride_w + 1;
  return s;
}

enum { DATA_UNIFORM, DATA_TIES, DATA_SPECIAL, DATA_WIDE, DATA_KINDS };
static const char *const data_names[DATA_KINDS] = {"uniform", "ties", "nan/inf", "wide range"};

/* uniform; ties: values in {-1, 0, 1} with every other zero a -0.0 (a tie
 * that the first maximum must win, sign included); special: NaN, +-Inf
 * planted, the first plane all -Inf (switch = window start); wide range:
 * +-2^40 among values of 2^-20: sums in double round and cancel, so that the
 * order of the average pool's additions shows in the result. */
static float *pool_input(size_t n, size_t plane, int kind, uint64_t seed) {
  float *x = uniform(n, -1.0f, 1.0f, seed);
  if (kind == DATA_TIES) {
    for (size_t i = 0; i < n; i++) {
      x[i] = floorf((x[i] + 1.0f) * 1.5f) - 1.0f;
      if (x[i] == 0.0f && (i & 1)) x[i] = -0.0f;
    }
  } else if (kind == DATA_SPECIAL) {
    for (size_t i = 0; i < n; i++) {
      if (i % 7 == 3) x[i] = NAN;
      else if (i % 11 == 5) x[i] = INFINITY;
      else if (i % 13 == 6) x[i] = -INFINITY;
    }
    for (size_t i = 0; i < plane && i < n; i++) x[i] = -INFINITY;
  } else if (kind == DATA_WIDE) {
    for (size_t i = 0; i < n; i++) x[i] = (i * 7 + i / 5) % 3 == 0 ? copysignf(0x1p40f, x[i]) : ldexpf(x[i], -20);
  }
  return x;
}

static void pool_case(const PoolCase *pc, int kind) {
  const PoolShape s = pool_shape(pc);
  const size_t in_n = (size_t)s.n * s.c * s.h_in * s.w_in, out_n = (size_t)s.n * s.c * s.h_out * s.w_out;
  float *x = pool_input(in_n, (size_t)s.h_in * s.w_in, kind, 100 + (uint64_t)in_n);
  float *dy = uniform(out_n, -1.0f, 1.0f, 200 + (uint64_t)out_n);

  float *y_ref = kt_alloc_nan(out_n), *dx_ref = kt_alloc_nan(in_n);
  float *ay_ref = kt_alloc_nan(out_n), *adx_ref = kt_alloc_nan(in_n);
  int32_t *sw_ref = (int32_t *)kt_alloc_poison(out_n * sizeof(int32_t));
  at_cpu_maxpool_forward(&s, x, y_ref, sw_ref);
  at_cpu_maxpool_backward(&s, dy, sw_ref, dx_ref);
  at_cpu_avgpool_forward(&s, x, ay_ref);
  at_cpu_avgpool_backward(&s, dy, adx_ref);

  float *y[3], *dx[3], *ay[3], *adx[3];
  int32_t *sw[3];
  for (int o = 0; o < 3; o++) {
    set_order(o);
    y[o] = kt_alloc_nan(out_n);
    dx[o] = kt_alloc_nan(in_n);
    ay[o] = kt_alloc_nan(out_n);
    adx[o] = kt_alloc_nan(in_n);
    sw[o] = (int32_t *)kt_alloc_poison(out_n * sizeof(int32_t));
    atk_maxpool_forward(s, x, y[o], sw[o], NULL);
    atk_maxpool_backward(s, dy, sw[o], dx[o], NULL);
    atk_avgpool_forward(s, x, ay[o], NULL);
    atk_avgpool_backward(s, dy, adx[o], NULL);
    const char *on = kt_order_names[o];
    const char *dn = data_names[kind];
    expect_exact(y[o], y_ref, out_n, label("pool %s %s: maxpool y [%s]", pc->name, dn, on));
    expect_exact_i32(sw[o], sw_ref, out_n, label("pool %s %s: maxpool switches [%s]", pc->name, dn, on));
    expect_exact(dx[o], dx_ref, in_n, label("pool %s %s: maxpool dx [%s]", pc->name, dn, on));
    expect_exact(ay[o], ay_ref, out_n, label("pool %s %s: avgpool y [%s]", pc->name, dn, on));
    expect_exact(adx[o], adx_ref, in_n, label("pool %s %s: avgpool dx [%s]", pc->name, dn, on));
    if (o > 0) {
      expect_identical(y[o], y[0], out_n * sizeof(float), label("pool %s %s: maxpool y [%s]", pc->name, dn, on));
      expect_identical(sw[o], sw[0], out_n * sizeof(int32_t), label("pool %s %s: switches [%s]", pc->name, dn, on));
      expect_identical(dx[o], dx[0], in_n * sizeof(float), label("pool %s %s: maxpool dx [%s]", pc->name, dn, on));
      expect_identical(ay[o], ay[0], out_n * sizeof(float), label("pool %s %s: avgpool y [%s]", pc->name, dn, on));
      expect_identical(adx[o], adx[0], in_n * sizeof(float), label("pool %s %s: avgpool dx [%s]", pc->name, dn, on));
    }
  }
  for (int o = 0; o < 3; o++) {
    free(y[o]);
    free(dx[o]);
    free(ay[o]);
    free(adx[o]);
    free(sw[o]);
  }
  free(x);
  free(dy);
  free(y_ref);
  free(dx_ref);
  free(ay_ref);
  free(adx_ref);
  free(sw_ref);
}

/* Switches worked out by hand (independent of the CPU): first maximum in
 * row-major window order, -0.0 vs 0.0 a tie, the last NaN of a window wins. */
static void pool_planted(void) {
  /* one plane 2 x 8, pool 2x2 stride 2: four windows */
  static const float x_host[16] = {1, 3, 3, 0, 0.0f, -0.0f, NAN, 2, /* row 0 */
                                   3, 2, 1, 3, -0.0f, 0.0f, 5, NAN};
  static const float dy_host[4] = {1, 2, 3, 4};
  const int32_t want_sw[4] = {1, 2, 4, 15};
  PoolShape s = {1, 1, 2, 8, 1, 4, 2, 2, 2, 2};
  float *x = fdup(x_host, 16), *dy = fdup(dy_host, 4); /* "device" buffers */
  for (int o = 0; o < 3; o++) {
    set_order(o);
    float *y = kt_alloc_nan(4), *dx = kt_alloc_nan(16);
    int32_t *sw = (int32_t *)kt_alloc_poison(4 * sizeof(int32_t));
    atk_maxpool_forward(s, x, y, sw, NULL);
    atk_maxpool_backward(s, dy, sw, dx, NULL);
    int ok = memcmp(sw, want_sw, sizeof want_sw) == 0 && y[0] == 3 && y[1] == 3 && !signbit(y[2]) && y[2] == 0 &&
             isnan(y[3]);
    for (int i = 0; i < 16; i++) {
      const float want = i == 1 ? 1 : i == 2 ? 2 : i == 4 ? 3 : i == 15 ? 4 : 0;
      ok = ok && dx[i] == want;
    }
    g_checks++;
    CHECK(ok, "planted ties / NaN switches [%s]: got %d %d %d %d", kt_order_names[o], sw[0], sw[1], sw[2], sw[3]);
    printf("%s  %-72s by hand\n", ok ? "PASS" : "FAIL",
           label("pool planted ties, -0.0 tie, NaN: switches and dx [%s]", kt_order_names[o]));
    free(y);
    free(dx);
    free(sw);
  }
  free(x);
  free(dy);
}

static void test_pool(void) {
  static const PoolCase cases[] = {
      {"2x2/2 8x8", 2, 3, 8, 8, 2, 2, 2, 2},
      {"2x4/(2,4) 9x17 floor", 2, 3, 9, 17, 2, 4, 2, 4},
      {"4x5/(4,5) 13x23 floor", 1, 2, 13, 23, 4, 5, 4, 5},
      {"3x8/(3,8) 14x50 floor", 2, 2, 14, 50, 3, 8, 3, 8},
      {"3x3/2 11x10 overlap", 2, 3, 11, 10, 3, 3, 2, 2},
      {"3x3/1 9x9 overlap", 1, 2, 9, 9, 3, 3, 1, 1},
      {"4x5/(1,2) 10x13 overlap", 1, 3, 10, 13, 4, 5, 1, 2},
      {"2x2/3 10x11 gaps", 1, 2, 10, 11, 2, 2, 3, 3},
      {"1x1/2 5x6", 1, 2, 5, 6, 1, 1, 2, 2},
      {"global freq 12x1 12x9", 2, 4, 12, 9, 12, 1, 1, 1},
      {"global time 1x19 5x19", 2, 3, 5, 19, 1, 19, 1, 1},
      {"global time 2x19/(2,1) 7x19", 1, 3, 7, 19, 2, 19, 2, 1},
      {"global both 6x7", 3, 5, 6, 7, 6, 7, 1, 1},
      {"2x2/2 20x33 many blocks", 3, 5, 20, 33, 2, 2, 2, 2},
  };
  pool_planted();
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
    for (int kind = 0; kind < DATA_KINDS; kind++) pool_case(&cases[k], kind);
}

/* ---------- batch normalisation ---------- */

typedef struct {
  const char *name;
  int n, c, h, w;
  BatchNormAxis axis;
  float eps, momentum;
  int affine;   /* 0: gamma = beta = NULL */
  int outputs;  /* 0: save and running statistics NULL (train), dgamma/dbeta NULL (backward) */
} BnCase;

static void bn_case(const BnCase *bc) {
  const BatchNormShape s = {bc->n, bc->c, bc->h, bc->w, bc->axis, bc->eps, bc->momentum};
  const size_t n = (size_t)s.n * s.c * s.h * s.w;
  const int F = at_bn_features(&s);
  float *x = uniform(n, 2.0f, 4.0f, 300 + n);
  float *dy = uniform(n, -1.0f, 1.0f, 400 + n);
  float *gamma = bc->affine ? uniform((size_t)F, 0.5f, 1.5f, 500 + (uint64_t)F) : NULL;
  float *beta = bc->affine ? uniform((size_t)F, -0.5f, 0.5f, 600 + (uint64_t)F) : NULL;
  float *rm0 = uniform((size_t)F, -0.2f, 0.2f, 700), *rv0 = uniform((size_t)F, 0.5f, 1.5f, 800);

  /* CPU */
  float *y_ref = kt_alloc_nan(n), *sm_ref = kt_alloc_nan(F), *si_ref = kt_alloc_nan(F);
  float *rm_ref = fdup(rm0, F), *rv_ref = fdup(rv0, F), *yi_ref = kt_alloc_nan(n);
  float *dx_ref = kt_alloc_nan(n), *dg_ref = kt_alloc_nan(F), *db_ref = kt_alloc_nan(F);
  at_cpu_batchnorm_forward_train(&s, x, gamma, beta, y_ref, sm_ref, si_ref, rm_ref, rv_ref);
  at_cpu_batchnorm_forward_infer(&s, x, gamma, beta, rm0, rv0, yi_ref);
  at_cpu_batchnorm_backward(&s, x, dy, gamma, sm_ref, si_ref, dx_ref, bc->outputs ? dg_ref : NULL,
                            bc->outputs ? db_ref : NULL);

  float *y[3], *sm[3], *si[3], *rm[3], *rv[3], *yi[3], *dx[3], *dg[3], *db[3];
  for (int o = 0; o < 3; o++) {
    set_order(o);
    const char *on = kt_order_names[o];
    y[o] = kt_alloc_nan(n);
    sm[o] = kt_alloc_nan(F);
    si[o] = kt_alloc_nan(F);
    rm[o] = fdup(rm0, F);
    rv[o] = fdup(rv0, F);
    yi[o] = kt_alloc_nan(n);
    dx[o] = kt_alloc_nan(n);
    dg[o] = kt_alloc_nan(F);
    db[o] = kt_alloc_nan(F);
    atk_batchnorm_forward_train(s, x, gamma, beta, y[o], bc->outputs ? sm[o] : NULL, bc->outputs ? si[o] : NULL,
                                bc->outputs ? rm[o] : NULL, bc->outputs ? rv[o] : NULL, NULL);
    atk_batchnorm_forward_infer(s, x, gamma, beta, rm0, rv0, yi[o], NULL);
    /* backward from the CPU's saved statistics: the kernel alone under test */
    atk_batchnorm_backward(s, x, dy, gamma, sm_ref, si_ref, dx[o], bc->outputs ? dg[o] : NULL,
                           bc->outputs ? db[o] : NULL, NULL);
    expect_close(y[o], y_ref, n, BN_TOL, label("bn %s: train y [%s]", bc->name, on));
    expect_close(yi[o], yi_ref, n, BN_TOL, label("bn %s: infer y [%s]", bc->name, on));
    expect_close(dx[o], dx_ref, n, BN_TOL, label("bn %s: dx [%s]", bc->name, on));
    if (bc->outputs) {
      expect_close(sm[o], sm_ref, F, BN_TOL, label("bn %s: save_mean [%s]", bc->name, on));
      expect_close(si[o], si_ref, F, BN_TOL, label("bn %s: save_invstd [%s]", bc->name, on));
      expect_close(rm[o], rm_ref, F, BN_TOL, label("bn %s: running_mean [%s]", bc->name, on));
      expect_close(rv[o], rv_ref, F, BN_TOL, label("bn %s: running_var [%s]", bc->name, on));
      expect_close(dg[o], dg_ref, F, BN_TOL, label("bn %s: dgamma [%s]", bc->name, on));
      expect_close(db[o], db_ref, F, BN_TOL, label("bn %s: dbeta [%s]", bc->name, on));
    } else {
      /* NULL outputs: the kernels must leave these untouched */
      g_checks++;
      const int untouched = float_mismatches(rm[o], rm0, F) == 0 && float_mismatches(rv[o], rv0, F) == 0 &&
                            isnan(sm[o][0]) && isnan(dg[o][0]);
      CHECK(untouched, "bn %s: a NULL output was written", bc->name);
      printf("%s  %-72s\n", untouched ? "PASS" : "FAIL", label("bn %s: NULL outputs untouched [%s]", bc->name, on));
    }

    /* in place: y over x, dx over dy; must give the same bits as out of place */
    float *xy = fdup(x, n), *dyx = fdup(dy, n);
    float *sm2 = kt_alloc_nan(F), *si2 = kt_alloc_nan(F), *rm2 = fdup(rm0, F), *rv2 = fdup(rv0, F);
    atk_batchnorm_forward_train(s, xy, gamma, beta, xy, sm2, si2, rm2, rv2, NULL);
    atk_batchnorm_backward(s, x, dyx, gamma, sm_ref, si_ref, dyx, NULL, NULL, NULL);
    expect_identical(xy, y[o], n * sizeof(float), label("bn %s: train in place (y = x) [%s]", bc->name, on));
    expect_identical(dyx, dx[o], n * sizeof(float), label("bn %s: backward in place (dx = dy) [%s]", bc->name, on));
    float *xi = fdup(x, n);
    atk_batchnorm_forward_infer(s, xi, gamma, beta, rm0, rv0, xi, NULL);
    expect_identical(xi, yi[o], n * sizeof(float), label("bn %s: infer in place [%s]", bc->name, on));
    free(xy);
    free(dyx);
    free(xi);
    free(sm2);
    free(si2);
    free(rm2);
    free(rv2);

    if (o > 0) {
      expect_identical(y[o], y[0], n * sizeof(float), label("bn %s: train y [%s]", bc->name, on));
      expect_identical(sm[o], sm[0], F * sizeof(float), label("bn %s: save_mean [%s]", bc->name, on));
      expect_identical(si[o], si[0], F * sizeof(float), label("bn %s: save_invstd [%s]", bc->name, on));
      expect_identical(rm[o], rm[0], F * sizeof(float), label("bn %s: running_mean [%s]", bc->name, on));
      expect_identical(rv[o], rv[0], F * sizeof(float), label("bn %s: running_var [%s]", bc->name, on));
      expect_identical(yi[o], yi[0], n * sizeof(float), label("bn %s: infer y [%s]", bc->name, on));
      expect_identical(dx[o], dx[0], n * sizeof(float), label("bn %s: dx [%s]", bc->name, on));
      expect_identical(dg[o], dg[0], F * sizeof(float), label("bn %s: dgamma [%s]", bc->name, on));
      expect_identical(db[o], db[0], F * sizeof(float), label("bn %s: dbeta [%s]", bc->name, on));
    }
  }
  for (int o = 0; o < 3; o++) {
    free(y[o]);
    free(sm[o]);
    free(si[o]);
    free(rm[o]);
    free(rv[o]);
    free(yi[o]);
    free(dx[o]);
    free(dg[o]);
    free(db[o]);
  }
  free(x);
  free(dy);
  free(gamma);
  free(beta);
  free(rm0);
  free(rv0);
  free(y_ref);
  free(sm_ref);
  free(si_ref);
  free(rm_ref);
  free(rv_ref);
  free(yi_ref);
  free(dx_ref);
  free(dg_ref);
  free(db_ref);
}

static void test_bn(void) {
  static const BnCase cases[] = {
      {"channel 4x3x5x7", 4, 3, 5, 7, AT_BN_PER_CHANNEL, 1e-5f, 0.1f, 1, 1},
      {"channel 3x2x17x23 (m > block)", 3, 2, 17, 23, AT_BN_PER_CHANNEL, 1e-3f, 0.01f, 1, 1},
      {"channel 2x2x12x25 (run > block)", 2, 2, 12, 25, AT_BN_PER_CHANNEL, 1e-5f, 0.1f, 1, 1},
      {"channel 2x1x1x1 (m = 2)", 2, 1, 1, 1, AT_BN_PER_CHANNEL, 1e-5f, 0.1f, 1, 1},
      {"channel 3x4x6x5 no affine, NULL outputs", 3, 4, 6, 5, AT_BN_PER_CHANNEL, 1e-5f, 0.1f, 0, 0},
      {"frequency 2x5x6x9", 2, 5, 6, 9, AT_BN_PER_FREQUENCY, 1e-3f, 0.01f, 1, 1},
      {"frequency 5x7x4x3 (runs of 3)", 5, 7, 4, 3, AT_BN_PER_FREQUENCY, 1e-5f, 0.1f, 1, 1},
      {"frequency 4x6x8x13 (m > block)", 4, 6, 8, 13, AT_BN_PER_FREQUENCY, 1e-5f, 0.1f, 1, 1},
      {"frequency 2x2x3x260 (run > block)", 2, 2, 3, 260, AT_BN_PER_FREQUENCY, 1e-3f, 0.1f, 1, 1},
      {"frequency 1x3x5x1 no affine", 1, 3, 5, 1, AT_BN_PER_FREQUENCY, 1e-5f, 0.1f, 0, 1},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) bn_case(&cases[k]);
}

/* ---------- concatenation ---------- */

static void concat_case(const char *name, int n, int plane, int k, const int *channels) {
  int c_total = 0;
  for (int i = 0; i < k; i++) c_total += channels[i];
  const size_t whole_n = (size_t)n * c_total * plane;
  float *xs[8], *xs_ref_grad[8];
  for (int i = 0; i < k; i++) xs[i] = uniform((size_t)n * channels[i] * plane, -1.0f, 1.0f, 900 + (uint64_t)i);
  float *dy = uniform(whole_n, -1.0f, 1.0f, 990);
  float *y_ref = kt_alloc_nan(whole_n);
  at_cpu_concat_forward(n, plane, k, channels, (const float *const *)xs, y_ref);
  for (int i = 0; i < k; i++) xs_ref_grad[i] = kt_alloc_nan((size_t)n * channels[i] * plane);
  at_cpu_concat_backward(n, plane, k, channels, dy, xs_ref_grad);

  float *y[3], *dxs[3][8];
  for (int o = 0; o < 3; o++) {
    set_order(o);
    const char *on = kt_order_names[o];
    y[o] = kt_alloc_nan(whole_n);
    int off = 0;
    for (int i = 0; i < k; i++) {
      dxs[o][i] = kt_alloc_nan((size_t)n * channels[i] * plane);
      atk_concat_put(n, plane, c_total, off, channels[i], xs[i], y[o], NULL);
      atk_concat_take(n, plane, c_total, off, channels[i], dy, dxs[o][i], NULL);
      off += channels[i];
    }
    expect_exact(y[o], y_ref, whole_n, label("concat %s: put [%s]", name, on));
    for (int i = 0; i < k; i++) {
      const size_t len = (size_t)n * channels[i] * plane;
      expect_exact(dxs[o][i], xs_ref_grad[i], len, label("concat %s: take part %d [%s]", name, i, on));
      if (o > 0) expect_identical(dxs[o][i], dxs[0][i], len * sizeof(float), label("concat %s: take [%s]", name, on));
    }
    if (o > 0) expect_identical(y[o], y[0], whole_n * sizeof(float), label("concat %s: put [%s]", name, on));
  }
  for (int o = 0; o < 3; o++) {
    free(y[o]);
    for (int i = 0; i < k; i++) free(dxs[o][i]);
  }
  for (int i = 0; i < k; i++) {
    free(xs[i]);
    free(xs_ref_grad[i]);
  }
  free(dy);
  free(y_ref);
}

static void test_concat(void) {
  static const int a[3] = {2, 5, 1}, b[2] = {3, 4}, c[4] = {1, 1, 1, 1};
  concat_case("3 inputs n=3 plane=7", 3, 7, 3, a);
  concat_case("2 inputs n=2 plane=300", 2, 300, 2, b);
  concat_case("4 inputs n=1 plane=1", 1, 1, 4, c);
}

/* ---------- pad / crop, bias ---------- */

static void ref_pad(int n, int c, int h, int w, int top, int bottom, int left, int right, const float *x, float *xp) {
  const int hp = h + top + bottom, wp = w + left + right;
  for (int pc = 0; pc < n * c; pc++)
    for (int i = 0; i < hp; i++)
      for (int j = 0; j < wp; j++) {
        const int yy = i - top, xx = j - left;
        xp[((size_t)pc * hp + i) * wp + j] =
            yy >= 0 && yy < h && xx >= 0 && xx < w ? x[((size_t)pc * h + yy) * w + xx] : 0.0f;
      }
}

static void ref_crop(int n, int c, int h, int w, int top, int bottom, int left, int right, const float *dxp,
                     float *dx) {
  const int hp = h + top + bottom, wp = w + left + right;
  for (int pc = 0; pc < n * c; pc++)
    for (int i = 0; i < h; i++)
      for (int j = 0; j < w; j++) dx[((size_t)pc * h + i) * w + j] = dxp[((size_t)pc * hp + i + top) * wp + j + left];
}

static void pad_case(int n, int c, int h, int w, int top, int bottom, int left, int right) {
  const int hp = h + top + bottom, wp = w + left + right;
  const size_t xn = (size_t)n * c * h * w, pn = (size_t)n * c * hp * wp;
  float *x = uniform(xn, -1.0f, 1.0f, 1100 + xn), *dxp = uniform(pn, -1.0f, 1.0f, 1200 + pn);
  float *xp_ref = kt_alloc_nan(pn), *dx_ref = kt_alloc_nan(xn);
  ref_pad(n, c, h, w, top, bottom, left, right, x, xp_ref);
  ref_crop(n, c, h, w, top, bottom, left, right, dxp, dx_ref);
  float *xp[3], *dx[3];
  for (int o = 0; o < 3; o++) {
    set_order(o);
    const char *on = kt_order_names[o];
    xp[o] = kt_alloc_nan(pn);
    dx[o] = kt_alloc_nan(xn);
    atk_pad2d(n, c, h, w, top, bottom, left, right, x, xp[o], NULL);
    atk_crop2d(n, c, h, w, top, bottom, left, right, dxp, dx[o], NULL);
    expect_exact(xp[o], xp_ref, pn,
                 label("pad2d %dx%dx%dx%d (t%d b%d l%d r%d) [%s]", n, c, h, w, top, bottom, left, right, on));
    expect_exact(dx[o], dx_ref, xn,
                 label("crop2d %dx%dx%dx%d (t%d b%d l%d r%d) [%s]", n, c, h, w, top, bottom, left, right, on));
    if (o > 0) {
      expect_identical(xp[o], xp[0], pn * sizeof(float), label("pad2d [%s]", on));
      expect_identical(dx[o], dx[0], xn * sizeof(float), label("crop2d [%s]", on));
    }
  }
  for (int o = 0; o < 3; o++) {
    free(xp[o]);
    free(dx[o]);
  }
  free(x);
  free(dxp);
  free(xp_ref);
  free(dx_ref);
}

static void bias_case(int n, int c, int plane) {
  const size_t len = (size_t)n * c * plane;
  float *y0 = uniform(len, -1.0f, 1.0f, 1300 + len), *bias = uniform((size_t)c, -1.0f, 1.0f, 1400);
  float *dy = uniform(len, -1.0f, 1.0f, 1500 + len);
  float *ya_ref = fdup(y0, len), *db_ref = kt_alloc_nan((size_t)c);
  for (size_t i = 0; i < len; i++) ya_ref[i] += bias[(i / (size_t)plane) % (size_t)c];
  for (int ch = 0; ch < c; ch++) {
    double acc = 0.0;
    for (int e = 0; e < n; e++)
      for (int p = 0; p < plane; p++) acc += (double)dy[((size_t)e * c + ch) * plane + p];
    db_ref[ch] = (float)acc;
  }
  float *ya[3], *db[3];
  for (int o = 0; o < 3; o++) {
    set_order(o);
    const char *on = kt_order_names[o];
    ya[o] = fdup(y0, len);
    db[o] = kt_alloc_nan((size_t)c);
    atk_bias_add(n, c, plane, bias, ya[o], NULL);
    atk_bias_grad(n, c, plane, dy, db[o], NULL);
    expect_exact(ya[o], ya_ref, len, label("bias_add n=%d c=%d plane=%d [%s]", n, c, plane, on));
    expect_close(db[o], db_ref, (size_t)c, 1e-6, label("bias_grad n=%d c=%d plane=%d [%s]", n, c, plane, on));
    if (o > 0) {
      expect_identical(ya[o], ya[0], len * sizeof(float), label("bias_add [%s]", on));
      expect_identical(db[o], db[0], (size_t)c * sizeof(float), label("bias_grad [%s]", on));
    }
  }
  for (int o = 0; o < 3; o++) {
    free(ya[o]);
    free(db[o]);
  }
  free(y0);
  free(bias);
  free(dy);
  free(ya_ref);
  free(db_ref);
}

static void test_pad_bias(void) {
  pad_case(2, 3, 5, 7, 1, 2, 0, 3);
  pad_case(1, 2, 4, 4, 0, 0, 2, 1);
  pad_case(1, 1, 3, 3, 3, 3, 3, 3);
  pad_case(2, 2, 9, 30, 0, 1, 1, 0);
  bias_case(3, 4, 300);
  bias_case(70, 3, 1);
  bias_case(2, 5, 7);
  bias_case(1, 2, 257);
}

/* ---------- convolution through im2col / col2im ---------- */

typedef struct {
  const char *name;
  int n, c_in, h_in, w_in, c_out, kh, kw, sh, sw, pt, pb, pl, pr;
} ConvCase;

static ConvShape conv_shape(const ConvCase *cc) {
  ConvShape s = {cc->n, cc->c_in, cc->h_in, cc->w_in, cc->c_out, 0, 0, cc->kh, cc->kw,
                 cc->sh, cc->sw, cc->pt, cc->pb, cc->pl, cc->pr};
  s.h_out = (s.h_in + s.pad_top + s.pad_bottom - s.kh) / s.stride_h + 1;
  s.w_out = (s.w_in + s.pad_left + s.pad_right - s.kw) / s.stride_w + 1;
  return s;
}

/* straightforward host versions of the layout (col2im: taps (i, j) ascending
 * for each input element, the CPU's order) */
static void ref_im2col(const ConvShape *s, const float *x, float *col) {
  const size_t P = (size_t)s->h_out * s->w_out;
  for (int c = 0; c < s->c_in; c++)
    for (int i = 0; i < s->kh; i++)
      for (int j = 0; j < s->kw; j++) {
        const size_t r = ((size_t)c * s->kh + i) * s->kw + j;
        for (int oh = 0; oh < s->h_out; oh++)
          for (int ow = 0; ow < s->w_out; ow++) {
            const int ih = oh * s->stride_h - s->pad_top + i, iw = ow * s->stride_w - s->pad_left + j;
            col[r * P + (size_t)oh * s->w_out + ow] =
                ih >= 0 && ih < s->h_in && iw >= 0 && iw < s->w_in ? x[((size_t)c * s->h_in + ih) * s->w_in + iw]
                                                                    : 0.0f;
          }
      }
}

static void ref_col2im(const ConvShape *s, const float *col, float *dx) {
  const size_t P = (size_t)s->h_out * s->w_out;
  for (int c = 0; c < s->c_in; c++)
    for (int ih = 0; ih < s->h_in; ih++)
      for (int iw = 0; iw < s->w_in; iw++) {
        float acc = 0.0f;
        for (int i = 0; i < s->kh; i++)
          for (int j = 0; j < s->kw; j++) {
            const int nh = ih + s->pad_top - i, nw = iw + s->pad_left - j;
            if (nh < 0 || nw < 0 || nh % s->stride_h || nw % s->stride_w) continue;
            const int oh = nh / s->stride_h, ow = nw / s->stride_w;
            if (oh >= s->h_out || ow >= s->w_out) continue;
            acc += col[(((size_t)c * s->kh + i) * s->kw + j) * P + (size_t)oh * s->w_out + ow];
          }
        dx[((size_t)c * s->h_in + ih) * s->w_in + iw] = acc;
      }
}

/* Convolution forward and backward from the kernels plus the host SGEMM:
 *   y_n = W . im2col(x_n) (+ bias via bias_add), db = bias_grad(dy),
 *   dW = sum_n dy_n . col_n^T, dx_n = col2im(W^T . dy_n). */
static void gpu_conv(const ConvShape *s, const float *x, const float *w, const float *bias, const float *dy, float *y,
                     float *dx, float *dw, float *db) {
  const int K = s->c_in * s->kh * s->kw, P = s->h_out * s->w_out;
  const size_t xs = (size_t)s->c_in * s->h_in * s->w_in, ys = (size_t)s->c_out * P;
  float *col = kt_alloc_nan((size_t)K * P);
  for (int e = 0; e < s->n; e++) {
    atk_im2col(*s, x + e * xs, col, NULL);
    at_cpu_sgemm(0, 0, s->c_out, P, K, 1.0f, w, K, col, P, 0.0f, y + e * ys, P);
  }
  atk_bias_add(s->n, s->c_out, P, bias, y, NULL);
  atk_bias_grad(s->n, s->c_out, P, dy, db, NULL);
  for (int e = 0; e < s->n; e++) {
    atk_im2col(*s, x + e * xs, col, NULL);
    at_cpu_sgemm(0, 1, s->c_out, K, P, 1.0f, dy + e * ys, P, col, P, e ? 1.0f : 0.0f, dw, K);
    at_cpu_sgemm(1, 0, K, P, s->c_out, 1.0f, w, K, dy + e * ys, P, 0.0f, col, P);
    atk_col2im(*s, col, dx + e * xs, NULL);
  }
  free(col);
}

static void conv_case(const ConvCase *cc) {
  const ConvShape s = conv_shape(cc);
  const int K = s.c_in * s.kh * s.kw, P = s.h_out * s.w_out;
  const size_t xn = (size_t)s.n * s.c_in * s.h_in * s.w_in, yn = (size_t)s.n * s.c_out * P;
  const size_t wn = (size_t)s.c_out * K, coln = (size_t)K * P;
  float *x = uniform(xn, -1.0f, 1.0f, 2000 + xn), *w = uniform(wn, -0.5f, 0.5f, 2100 + wn);
  float *bias = uniform((size_t)s.c_out, -0.5f, 0.5f, 2200), *dy = uniform(yn, -1.0f, 1.0f, 2300 + yn);
  float *dcol = uniform(coln, -1.0f, 1.0f, 2400 + coln);

  float *y_ref = kt_alloc_nan(yn), *dx_ref = kt_alloc_nan(xn), *dw_ref = kt_alloc_nan(wn);
  float *db_ref = kt_alloc_nan((size_t)s.c_out);
  float *col_ref = kt_alloc_nan(coln), *c2i_ref = kt_alloc_nan(xn / s.n);
  at_cpu_conv2d_forward(&s, x, w, bias, y_ref);
  at_cpu_conv2d_backward(&s, x, w, dy, dx_ref, dw_ref, db_ref);
  ref_im2col(&s, x + (s.n - 1) * (xn / s.n), col_ref); /* the last example */
  ref_col2im(&s, dcol, c2i_ref);

  /* the same convolution on the padded input without padding (cuDNN-style
   * asymmetric padding) */
  const int padded = s.pad_top || s.pad_bottom || s.pad_left || s.pad_right;
  ConvShape s0 = s;
  s0.h_in = s.h_in + s.pad_top + s.pad_bottom;
  s0.w_in = s.w_in + s.pad_left + s.pad_right;
  s0.pad_top = s0.pad_bottom = s0.pad_left = s0.pad_right = 0;
  const size_t xpn = (size_t)s.n * s.c_in * s0.h_in * s0.w_in;

  float *col[3], *c2i[3], *y[3], *dx[3], *dw[3], *db[3];
  for (int o = 0; o < 3; o++) {
    set_order(o);
    const char *on = kt_order_names[o];
    col[o] = kt_alloc_nan(coln);
    c2i[o] = kt_alloc_nan(xn / s.n);
    y[o] = kt_alloc_nan(yn);
    dx[o] = kt_alloc_nan(xn);
    dw[o] = kt_alloc_nan(wn);
    db[o] = kt_alloc_nan((size_t)s.c_out);
    atk_im2col(s, x + (s.n - 1) * (xn / s.n), col[o], NULL);
    atk_col2im(s, dcol, c2i[o], NULL);
    gpu_conv(&s, x, w, bias, dy, y[o], dx[o], dw[o], db[o]);
    expect_exact(col[o], col_ref, coln, label("conv %s: im2col [%s]", cc->name, on));
    expect_exact(c2i[o], c2i_ref, xn / s.n, label("conv %s: col2im [%s]", cc->name, on));
    expect_close(y[o], y_ref, yn, CONV_TOL, label("conv %s: forward y [%s]", cc->name, on));
    expect_close(dx[o], dx_ref, xn, CONV_TOL, label("conv %s: backward dx [%s]", cc->name, on));
    expect_close(dw[o], dw_ref, wn, CONV_TOL, label("conv %s: backward dw [%s]", cc->name, on));
    expect_close(db[o], db_ref, (size_t)s.c_out, CONV_TOL, label("conv %s: backward db [%s]", cc->name, on));
    if (o > 0) {
      expect_identical(col[o], col[0], coln * sizeof(float), label("conv %s: im2col [%s]", cc->name, on));
      expect_identical(c2i[o], c2i[0], xn / s.n * sizeof(float), label("conv %s: col2im [%s]", cc->name, on));
      expect_identical(y[o], y[0], yn * sizeof(float), label("conv %s: y [%s]", cc->name, on));
      expect_identical(dx[o], dx[0], xn * sizeof(float), label("conv %s: dx [%s]", cc->name, on));
      expect_identical(dw[o], dw[0], wn * sizeof(float), label("conv %s: dw [%s]", cc->name, on));
      expect_identical(db[o], db[0], (size_t)s.c_out * sizeof(float), label("conv %s: db [%s]", cc->name, on));
    }
    if (padded) {
      /* pad2d + unpadded im2col gives the same col bit for bit; the padded
       * dx cropped gives the same dx bit for bit (same taps, same order) */
      float *xp = kt_alloc_nan(xpn), *col0 = kt_alloc_nan(coln), *y2 = kt_alloc_nan(yn);
      float *dxp = kt_alloc_nan(xpn), *dx2 = kt_alloc_nan(xn), *dw2 = kt_alloc_nan(wn);
      float *db2 = kt_alloc_nan((size_t)s.c_out);
      atk_pad2d(s.n, s.c_in, s.h_in, s.w_in, s.pad_top, s.pad_bottom, s.pad_left, s.pad_right, x, xp, NULL);
      atk_im2col(s0, xp + (s.n - 1) * (xpn / s.n), col0, NULL);
      gpu_conv(&s0, xp, w, bias, dy, y2, dxp, dw2, db2);
      atk_crop2d(s.n, s.c_in, s.h_in, s.w_in, s.pad_top, s.pad_bottom, s.pad_left, s.pad_right, dxp, dx2, NULL);
      expect_identical(col0, col[o], coln * sizeof(float),
                       label("conv %s: pad2d + im2col = padded im2col [%s]", cc->name, on));
      expect_close(y2, y_ref, yn, CONV_TOL, label("conv %s: pad2d + conv forward y [%s]", cc->name, on));
      expect_identical(dx2, dx[o], xn * sizeof(float),
                       label("conv %s: col2im + crop2d = padded dx [%s]", cc->name, on));
      expect_close(dx2, dx_ref, xn, CONV_TOL, label("conv %s: conv + crop2d backward dx [%s]", cc->name, on));
      expect_close(dw2, dw_ref, wn, CONV_TOL, label("conv %s: pad2d + conv backward dw [%s]", cc->name, on));
      free(xp);
      free(col0);
      free(y2);
      free(dxp);
      free(dx2);
      free(dw2);
      free(db2);
    }
  }
  for (int o = 0; o < 3; o++) {
    free(col[o]);
    free(c2i[o]);
    free(y[o]);
    free(dx[o]);
    free(dw[o]);
    free(db[o]);
  }
  free(x);
  free(w);
  free(bias);
  free(dy);
  free(dcol);
  free(y_ref);
  free(dx_ref);
  free(dw_ref);
  free(db_ref);
  free(col_ref);
  free(c2i_ref);
}

static void test_conv(void) {
  static const ConvCase cases[] = {
      /* name                          n c_in h_in w_in c_out kh kw sh sw pt pb pl pr */
      {"3x3 s1 pad 1 (K=27)", 2, 3, 9, 11, 4, 3, 3, 1, 1, 1, 1, 1, 1},
      {"3x3 s2 asym pad (0,1|1,0)", 2, 2, 10, 13, 3, 3, 3, 2, 2, 1, 0, 0, 1},
      {"1x5 s1 pad (0,0|2,2) (K=15)", 1, 3, 8, 12, 5, 1, 5, 1, 1, 0, 0, 2, 2},
      {"4x1 s(2,1) pad (2,1|0,0)", 2, 2, 11, 7, 3, 4, 1, 2, 1, 2, 1, 0, 0},
      {"2x2 s2 asym pad (0,1|1,0) even", 2, 4, 7, 9, 6, 2, 2, 2, 2, 0, 1, 1, 0},
      {"1x1 s1 pointwise", 2, 5, 6, 7, 3, 1, 1, 1, 1, 0, 0, 0, 0},
      {"5x3 s(2,3) pad (2,2|1,2) floor", 1, 2, 5, 6, 2, 5, 3, 2, 3, 2, 2, 1, 2},
      {"3x3 s1 no pad, 1 channel (K=9)", 3, 1, 12, 10, 4, 3, 3, 1, 1, 0, 0, 0, 0},
      {"1x7 s(1,2) pad (0,0|3,3)", 2, 2, 3, 25, 3, 1, 7, 1, 2, 0, 0, 3, 3},
      {"7x1 s(2,1) pad (3,3|0,0) K=28", 2, 4, 15, 4, 2, 7, 1, 2, 1, 3, 3, 0, 0},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) conv_case(&cases[k]);
}

int main(void) {
  test_pool();
  test_bn();
  test_concat();
  test_pad_bias();
  test_conv();
  printf("%d checks, %d failed\n", g_checks, failures);
  return failures ? 1 : 0;
}
