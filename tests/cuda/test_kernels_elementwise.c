/* The elementwise, activation, loss and optimiser kernels (kernels/
 * elementwise.cu, activation.cu, loss.cu, optim.cu), run on the CPU under the
 * emulator (kernels/cuemu.h), against the CPU backend (host/cpu/).
 *
 * Every case runs with the threads (and blocks) of each launch forward,
 * reversed and shuffled, on outputs filled with NaN, at sizes that are odd,
 * even, below, at and just past the block size. Results must match the CPU
 * backend (bit for bit where the formula is the same single operation:
 * fill, add, scale, ReLU, dropout; within 1e-6 elsewhere; sum of squares
 * within 1e-12) and be bit-identical across the three orders.
 * Prints one line per comparison with the CPU; exits 1 if any check fails. */
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/rng.h"
#include "cpu/cpu_ops.h"
#include "kernel_test.h"
#include "kernels.h"

static int g_checks;
static unsigned long g_seed = 1; /* shuffle seed: a new one per case */

static const size_t kSizes[] = {1, 7, 256, 257, 1000, 4099};
enum { NSIZES = sizeof kSizes / sizeof kSizes[0] };

static void set_order(int k) { cuemu_set_order(kt_orders[k], g_seed); }

static char *name_of(char *buf, size_t size, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, size, fmt, ap);
  va_end(ap);
  return buf;
}

/* got vs the CPU backend's want, max rel err (kt_max_rel) <= tol */
static void check_close(const float *got, const float *want, size_t n, double tol, const char *what, int k) {
  g_checks++;
  KT_EXPECT_CLOSE(got, want, n, tol, "%-48s %-8s", what, kt_order_names[k]);
}

/* got vs the CPU backend's want, bit for bit */
static void check_bits(const void *got, const void *want, size_t bytes, const char *what, int k) {
  g_checks++;
  const int same = memcmp(got, want, bytes) == 0;
  CHECK(same, "%s (%s): not bit-identical to the CPU backend", what, kt_order_names[k]);
  printf("%s  %-48s %-8s bit-identical to CPU\n", same ? "PASS" : "FAIL", what, kt_order_names[k]);
}

/* |got - want| / max(floor, |want|) <= tol (NaN fails) */
static void check_scalar(double got, double want, double floor_, double tol, const char *what, int k) {
  g_checks++;
  const double err = got == want ? 0.0 : fabs(got - want) / fmax(floor_, fabs(want));
  const int ok = err <= tol;
  CHECK(ok, "%s (%s): got %.17g want %.17g", what, kt_order_names[k], got, want);
  printf("%s  %-48s %-8s rel err %.3e (%.10g)\n", ok ? "PASS" : "FAIL", what, kt_order_names[k], err, got);
}

/* Order k's output vs the forward order's (kept in *first; taken over) */
static void check_same(void **first, void *got, size_t bytes, const char *what, int k) {
  if (k == 0) {
    *first = got;
    return;
  }
  g_checks++;
  KT_EXPECT_IDENTICAL(got, *first, bytes, "%-48s %-8s", what, kt_order_names[k]);
  free(got);
}

static float *copy_of(const float *x, size_t n) {
  float *p = kt_alloc_nan(n);
  memcpy(p, x, n * sizeof(float));
  return p;
}

static float *uniform(size_t n, float lo, float hi) {
  float *p = kt_alloc_nan(n);
  kt_fill_uniform(p, n, lo, hi, ++g_seed);
  return p;
}

/* ---------------- elementwise ---------------- */

static void test_fill(void) {
  const float values[] = {0.0f, -0.0f, 3.25f, NAN};
  char what[96];
  for (size_t s = 0; s < NSIZES; s++)
    for (size_t v = 0; v < 4; v++) {
      const size_t n = kSizes[s];
      float *want = kt_alloc_nan(n);
      at_cpu_fill(want, n, values[v]);
      name_of(what, sizeof what, "fill n=%zu value=%g%s", n, values[v], signbit(values[v]) ? " (-0)" : "");
      void *first = NULL;
      g_seed++;
      for (int k = 0; k < 3; k++) {
        float *got = kt_alloc_nan(n);
        set_order(k);
        atk_fill(got, n, values[v], NULL);
        check_bits(got, want, n * sizeof(float), what, k);
        check_same(&first, got, n * sizeof(float), what, k);
      }
      free(first);
      free(want);
    }
}

/* y = a + b, into a fresh buffer and in place (y == a) */
static void test_add(void) {
  char what[96];
  for (size_t s = 0; s < NSIZES; s++)
    for (int in_place = 0; in_place < 2; in_place++) {
      const size_t n = kSizes[s];
      float *a = uniform(n, -10, 10), *b = uniform(n, -10, 10);
      a[n / 2] = NAN;
      b[0] = INFINITY;
      float *want = kt_alloc_nan(n);
      at_cpu_add(want, a, b, n);
      name_of(what, sizeof what, "add n=%zu%s", n, in_place ? " (y aliases a)" : "");
      void *first = NULL;
      g_seed++;
      for (int k = 0; k < 3; k++) {
        float *got = in_place ? copy_of(a, n) : kt_alloc_nan(n);
        set_order(k);
        atk_add(got, in_place ? got : a, b, n, NULL);
        check_bits(got, want, n * sizeof(float), what, k);
        check_same(&first, got, n * sizeof(float), what, k);
      }
      free(first);
      free(want);
      free(a);
      free(b);
    }
}

static void test_scale(void) {
  char what[96];
  for (size_t s = 0; s < NSIZES; s++) {
    const size_t n = kSizes[s];
    float *x = uniform(n, -10, 10);
    x[n - 1] = -INFINITY;
    float *want = copy_of(x, n);
    at_cpu_scale(want, n, 0.37f);
    name_of(what, sizeof what, "scale n=%zu", n);
    void *first = NULL;
    g_seed++;
    for (int k = 0; k < 3; k++) {
      float *got = copy_of(x, n);
      set_order(k);
      atk_scale(got, n, 0.37f, NULL);
      check_bits(got, want, n * sizeof(float), what, k);
      check_same(&first, got, n * sizeof(float), what, k);
    }
    free(first);
    free(want);
    free(x);
  }
}

/* Sizes for the reductions: also 0, and one that wraps the grid-stride loop
 * of the first pass (ATK_REDUCE_BLOCKS * 256 = 61440 threads) */
static const size_t kReduceSizes[] = {0, 1, 7, 256, 257, 1000, 4099, 70001};
enum { NREDUCE = sizeof kReduceSizes / sizeof kReduceSizes[0] };

static void test_sum_squares(void) {
  char what[96];
  for (size_t s = 0; s < NREDUCE; s++) {
    const size_t n = kReduceSizes[s];
    float *x = uniform(n, -3, 3);
    const double want = at_cpu_sum_squares(x, n);
    name_of(what, sizeof what, "sum_squares n=%zu", n);
    void *first = NULL;
    g_seed++;
    for (int k = 0; k < 3; k++) {
      double *scratch = kt_alloc_poison(ATK_REDUCE_BLOCKS * sizeof(double));
      double *out = kt_alloc_poison(sizeof(double)); /* 0xFF..: a NaN */
      set_order(k);
      atk_sum_squares(x, n, scratch, out, NULL);
      check_scalar(*out, want, 1e-300, 1e-12, what, k);
      /* the partials too: same order-independence, not only the total */
      double *both = malloc((ATK_REDUCE_BLOCKS + 1) * sizeof(double));
      memcpy(both, scratch, ATK_REDUCE_BLOCKS * sizeof(double));
      both[ATK_REDUCE_BLOCKS] = *out;
      check_same(&first, both, (ATK_REDUCE_BLOCKS + 1) * sizeof(double), what, k);
      free(scratch);
      free(out);
    }
    free(first);
    free(x);
  }
  /* a NaN anywhere makes the sum NaN, as on the CPU */
  float *x = uniform(5000, -1, 1);
  x[4321] = NAN;
  double *scratch = kt_alloc_poison(ATK_REDUCE_BLOCKS * sizeof(double));
  double out = 0.0;
  set_order(2);
  atk_sum_squares(x, 5000, scratch, &out, NULL);
  g_checks++;
  CHECK(isnan(out) && isnan(at_cpu_sum_squares(x, 5000)), "sum_squares with a NaN: got %g", out);
  printf("%s  %-48s NaN propagates\n", isnan(out) ? "PASS" : "FAIL", "sum_squares n=5000 with one NaN");
  free(scratch);
  free(x);
}

/* Planted NaN / +-Inf are counted exactly; the counter starts as garbage
 * (the launcher zeroes it). */
static void test_count_nonfinite(void) {
  char what[96];
  for (size_t s = 0; s < NREDUCE; s++) {
    const size_t n = kReduceSizes[s];
    for (int plant = 0; plant < 2; plant++) {
      float *x = uniform(n, -1e30f, 1e30f);
      if (n > 2) x[1] = FLT_MAX; /* finite: not counted (unless planted over below) */
      if (n > 3) x[2] = -FLT_MAX;
      unsigned planted = 0;
      if (plant && n > 0) {
        /* first, last and a few in between; large finite values stay */
        const float bad[4] = {NAN, INFINITY, -INFINITY, -NAN};
        size_t at[5] = {0, n - 1, n / 3, (n / 2 + 1) % n, (n * 7) / 8};
        for (int j = 0; j < 5; j++) {
          if (isfinite(x[at[j]])) planted++;
          x[at[j]] = bad[j % 4];
        }
      }
      name_of(what, sizeof what, "count_nonfinite n=%zu planted=%u", n, planted);
      void *first = NULL;
      g_seed++;
      for (int k = 0; k < 3; k++) {
        unsigned *count = kt_alloc_poison(sizeof(unsigned));
        set_order(k);
        atk_count_nonfinite(x, n, count, NULL);
        g_checks++;
        const int ok = *count == planted && (*count == 0) == at_cpu_all_finite(x, n);
        CHECK(ok, "%s (%s): counted %u", what, kt_order_names[k], *count);
        printf("%s  %-48s %-8s counted %u\n", ok ? "PASS" : "FAIL", what, kt_order_names[k], *count);
        check_same(&first, count, sizeof(unsigned), what, k);
      }
      free(first);
      free(x);
    }
  }
}

/* ---------------- activations ---------------- */

/* Inputs with the values that matter at the edges of the formulas. */
static float *activation_input(size_t n, float lo, float hi) {
  float *x = uniform(n, lo, hi);
  const float special[] = {0.0f, -0.0f, 1e-30f, -1e-30f, -87.5f, -100.0f, 30.0f, -30.0f};
  for (size_t j = 0; j < sizeof special / sizeof special[0] && j * 3 < n; j++) x[j * 3] = special[j];
  return x;
}

static void test_relu(void) {
  char what[96];
  for (size_t s = 0; s < NSIZES; s++) {
    const size_t n = kSizes[s];
    float *x = activation_input(n, -2, 2);
    x[n / 2] = NAN; /* passes through, bit for bit */
    if (n > 4) x[4] = -INFINITY;
    float *dy = uniform(n, -1, 1);
    float *want_y = kt_alloc_nan(n), *want_dx = kt_alloc_nan(n);
    at_cpu_relu_forward(x, want_y, n);
    at_cpu_relu_backward(want_y, dy, want_dx, n);
    void *first_y = NULL, *first_dx = NULL, *first_ip = NULL;
    g_seed++;
    for (int k = 0; k < 3; k++) {
      float *y = kt_alloc_nan(n), *dx = kt_alloc_nan(n), *ip = copy_of(x, n);
      set_order(k);
      atk_relu_forward(x, y, n, NULL);
      atk_relu_forward(ip, ip, n, NULL); /* y aliases x */
      atk_relu_backward(want_y, dy, dx, n, NULL);
      check_bits(y, want_y, n * sizeof(float), name_of(what, sizeof what, "relu_forward n=%zu", n), k);
      check_same(&first_y, y, n * sizeof(float), what, k);
      check_bits(ip, want_y, n * sizeof(float), name_of(what, sizeof what, "relu_forward in place n=%zu", n), k);
      check_same(&first_ip, ip, n * sizeof(float), what, k);
      check_bits(dx, want_dx, n * sizeof(float), name_of(what, sizeof what, "relu_backward n=%zu", n), k);
      check_same(&first_dx, dx, n * sizeof(float), what, k);
    }
    free(first_y);
    free(first_dx);
    free(first_ip);
    free(want_y);
    free(want_dx);
    free(dy);
    free(x);
  }
}

static void test_elu(void) {
  char what[96];
  const float alphas[] = {1.0f, 0.3f};
  for (size_t s = 0; s < NSIZES; s++)
    for (int a = 0; a < 2; a++) {
      const size_t n = kSizes[s];
      const float alpha = alphas[a];
      float *x = activation_input(n, -6, 3);
      float *dy = uniform(n, -1, 1);
      float *want_y = kt_alloc_nan(n), *want_dx = kt_alloc_nan(n);
      at_cpu_elu_forward(x, want_y, n, alpha);
      at_cpu_elu_backward(want_y, dy, want_dx, n, alpha);
      void *first_y = NULL, *first_dx = NULL;
      g_seed++;
      for (int k = 0; k < 3; k++) {
        float *y = kt_alloc_nan(n), *dx = kt_alloc_nan(n);
        set_order(k);
        atk_elu_forward(x, y, n, alpha, NULL);
        atk_elu_backward(want_y, dy, dx, n, alpha, NULL);
        check_close(y, want_y, n, 1e-6, name_of(what, sizeof what, "elu_forward n=%zu alpha=%g", n, alpha), k);
        check_same(&first_y, y, n * sizeof(float), what, k);
        check_close(dx, want_dx, n, 1e-6, name_of(what, sizeof what, "elu_backward n=%zu alpha=%g", n, alpha), k);
        check_same(&first_dx, dx, n * sizeof(float), what, k);
      }
      free(first_y);
      free(first_dx);
      free(want_y);
      free(want_dx);
      free(dy);
      free(x);
    }
  /* NaN passes through; -Inf gives -alpha; in place */
  float x[4] = {NAN, -INFINITY, INFINITY, -0.5f};
  float want[4];
  at_cpu_elu_forward(x, want, 4, 0.7f);
  set_order(2);
  atk_elu_forward(x, x, 4, 0.7f, NULL);
  g_checks++;
  const int ok = isnan(x[0]) && x[1] == -0.7f && x[2] == INFINITY && fabsf(x[3] - want[3]) <= 1e-6f &&
                 isnan(want[0]) && want[1] == -0.7f;
  CHECK(ok, "elu specials: %g %g %g %g", x[0], x[1], x[2], x[3]);
  printf("%s  %-48s NaN, -Inf, +Inf, in place\n", ok ? "PASS" : "FAIL", "elu_forward specials");
}

static void test_sigmoid(void) {
  char what[96];
  for (size_t s = 0; s < NSIZES; s++) {
    const size_t n = kSizes[s];
    float *x = activation_input(n, -20, 20);
    if (n > 5) x[5] = INFINITY;
    if (n > 6) x[6] = -INFINITY;
    float *want = kt_alloc_nan(n);
    at_cpu_sigmoid(x, want, n);
    void *first = NULL;
    g_seed++;
    for (int k = 0; k < 3; k++) {
      float *y = copy_of(x, n); /* in place */
      set_order(k);
      atk_sigmoid(y, y, n, NULL);
      check_close(y, want, n, 1e-6, name_of(what, sizeof what, "sigmoid in place n=%zu", n), k);
      check_same(&first, y, n * sizeof(float), what, k);
    }
    free(first);
    free(want);
    free(x);
  }
}

static void test_dropout(void) {
  char what[96];
  const float ps[] = {0.0f, 0.3f, 0.5f, 0.9f, 1.0f};
  const uint64_t seeds[2][2] = {{42, 7}, {0x123456789abcdef0ull, (1ull << 40) + 3}};
  for (size_t s = 0; s < NSIZES; s++)
    for (size_t pi = 0; pi < sizeof ps / sizeof ps[0]; pi++) {
      const size_t n = kSizes[s];
      const float p = ps[pi];
      const uint64_t seed = seeds[s % 2][0], stream = seeds[s % 2][1];
      float *x = uniform(n, -3, 3);
      x[n / 2] = -0.0f;
      float *dy = uniform(n, -1, 1);
      float *want_y = kt_alloc_nan(n), *want_dx = kt_alloc_nan(n);
      uint8_t *want_mask = kt_alloc_poison(n);
      at_cpu_dropout_forward(x, want_y, want_mask, n, p, seed, stream);
      at_cpu_dropout_backward(dy, want_mask, want_dx, n, p);
      /* the mask is the documented function of (seed, stream, i) */
      size_t wrong = 0;
      for (size_t i = 0; i < n; i++) wrong += want_mask[i] != (p <= 0.0f || at_rng_uniform(seed, stream, i) >= p);
      void *first_y = NULL, *first_m = NULL, *first_dx = NULL;
      g_seed++;
      for (int k = 0; k < 3; k++) {
        float *y = kt_alloc_nan(n), *dx = kt_alloc_nan(n);
        uint8_t *mask = kt_alloc_poison(n);
        set_order(k);
        atk_dropout_forward(x, y, mask, n, p, seed, stream, NULL);
        atk_dropout_backward(dy, want_mask, dx, n, p, NULL);
        check_bits(mask, want_mask, n, name_of(what, sizeof what, "dropout mask n=%zu p=%g", n, p), k);
        check_same(&first_m, mask, n, what, k);
        check_bits(y, want_y, n * sizeof(float), name_of(what, sizeof what, "dropout_forward n=%zu p=%g", n, p),
                   k);
        check_same(&first_y, y, n * sizeof(float), what, k);
        check_bits(dx, want_dx, n * sizeof(float),
                   name_of(what, sizeof what, "dropout_backward n=%zu p=%g", n, p), k);
        check_same(&first_dx, dx, n * sizeof(float), what, k);
      }
      g_checks++;
      CHECK(wrong == 0, "dropout n=%zu p=%g: %zu mask bytes disagree with at_rng_uniform >= p", n, p, wrong);
      free(first_y);
      free(first_m);
      free(first_dx);
      free(want_y);
      free(want_dx);
      free(want_mask);
      free(dy);
      free(x);
    }
  /* in place (y aliases x) */
  const size_t n = 1001;
  float *x = uniform(n, -3, 3), *want = kt_alloc_nan(n);
  uint8_t *mask = kt_alloc_poison(n), *want_mask = kt_alloc_poison(n);
  at_cpu_dropout_forward(x, want, want_mask, n, 0.25f, 9, 11);
  set_order(2);
  atk_dropout_forward(x, x, mask, n, 0.25f, 9, 11, NULL);
  check_bits(x, want, n * sizeof(float), "dropout_forward in place n=1001 p=0.25", 2);
  check_bits(mask, want_mask, n, "dropout mask in place n=1001 p=0.25", 2);
  free(x);
  free(want);
  free(mask);
  free(want_mask);
}

/* ---------------- losses ---------------- */

static const int kShapes[][2] = {{1, 1}, {1, 7}, {3, 7}, {4, 33}, {16, 50}, {5, 257}, {9, 300}, {33, 100}};
enum { NSHAPES = sizeof kShapes / sizeof kShapes[0] };

static void test_softmax(void) {
  char what[96];
  for (size_t s = 0; s < NSHAPES; s++) {
    const int n = kShapes[s][0], c = kShapes[s][1];
    const size_t total = (size_t)n * c;
    float *x = uniform(total, -15, 15);
    x[total - 1] = 80.0f; /* exp would overflow without the max subtracted */
    float *want = kt_alloc_nan(total);
    at_cpu_softmax(n, c, x, want);
    name_of(what, sizeof what, "softmax n=%d classes=%d", n, c);
    void *first = NULL;
    g_seed++;
    for (int k = 0; k < 3; k++) {
      float *y = kt_alloc_nan(total);
      set_order(k);
      atk_softmax(n, c, x, y, NULL);
      check_close(y, want, total, 1e-6, what, k);
      check_same(&first, y, total * sizeof(float), what, k);
    }
    free(first);
    free(want);
    free(x);
  }
}

static void test_bce(void) {
  char what[96];
  for (size_t s = 0; s < NSHAPES; s++)
    for (int with_grad = 1; with_grad >= 0; with_grad--) {
      const int n = kShapes[s][0], c = kShapes[s][1];
      const size_t total = (size_t)n * c;
      float *z = uniform(total, -12, 12), *t = uniform(total, 0, 1);
      for (size_t i = 0; i < total; i += 3) t[i] = t[i] < 0.5f ? 0.0f : 1.0f; /* hard labels mostly */
      if (total > 2) {
        z[1] = 60.0f; /* log1p(exp(-|z|)) and the sigmoid's two branches */
        z[2] = -60.0f;
      }
      float *want_d = kt_alloc_nan(total);
      const double want = at_cpu_bce_with_logits(n, c, z, t, want_d);
      name_of(what, sizeof what, "bce_with_logits n=%d classes=%d%s", n, c, with_grad ? "" : " (no grad)");
      void *first = NULL;
      g_seed++;
      for (int k = 0; k < 3; k++) {
        float *d = with_grad ? kt_alloc_nan(total) : NULL;
        double *loss = kt_alloc_poison(sizeof(double));
        set_order(k);
        atk_bce_with_logits(n, c, z, t, d, loss, NULL);
        check_scalar(*loss, want, 1.0, 1e-6, what, k);
        if (d) check_close(d, want_d, total, 1e-6, what, k);
        /* loss and gradient together, for the order comparison */
        char *both = malloc(sizeof(double) + total * sizeof(float));
        memcpy(both, loss, sizeof(double));
        if (d) memcpy(both + sizeof(double), d, total * sizeof(float));
        else memset(both + sizeof(double), 0, total * sizeof(float));
        check_same(&first, both, sizeof(double) + total * sizeof(float), what, k);
        free(d);
        free(loss);
      }
      free(first);
      free(want_d);
      free(z);
      free(t);
    }
}

static void test_softmax_ce(void) {
  char what[96];
  for (size_t s = 0; s < NSHAPES; s++) {
    const int n = kShapes[s][0], c = kShapes[s][1];
    const size_t total = (size_t)n * c;
    float *z = uniform(total, -15, 15);
    z[0] = 90.0f;
    int32_t *labels = malloc((size_t)n * sizeof(int32_t));
    for (int r = 0; r < n; r++) labels[r] = (int32_t)((r * 7 + 3) % c);
    labels[n - 1] = c - 1;
    float *want_d = kt_alloc_nan(total);
    const double want = at_cpu_softmax_cross_entropy(n, c, z, labels, want_d);
    name_of(what, sizeof what, "softmax_cross_entropy n=%d classes=%d", n, c);
    void *first = NULL;
    g_seed++;
    for (int k = 0; k < 3; k++) {
      float *d = kt_alloc_nan(total);
      double *loss = kt_alloc_poison(sizeof(double));
      set_order(k);
      atk_softmax_cross_entropy(n, c, z, labels, d, loss, NULL);
      check_scalar(*loss, want, 1.0, 1e-6, what, k);
      check_close(d, want_d, total, 1e-6, what, k);
      char *both = malloc(sizeof(double) + total * sizeof(float));
      memcpy(both, loss, sizeof(double));
      memcpy(both + sizeof(double), d, total * sizeof(float));
      check_same(&first, both, sizeof(double) + total * sizeof(float), what, k);
      free(d);
      free(loss);
    }
    free(first);
    free(want_d);
    free(labels);
    free(z);
  }
  /* a label out of range cannot stop the program on the GPU: the loss is NaN */
  float z[6] = {1, 2, 3, 4, 5, 6};
  int32_t labels[2] = {1, 3};
  float d[6];
  double loss = 0.0;
  set_order(2);
  atk_softmax_cross_entropy(2, 3, z, labels, d, &loss, NULL);
  g_checks++;
  const int ok = isnan(loss) && isnan(d[3]) && isnan(d[5]) && !isnan(d[0]);
  CHECK(ok, "softmax_cross_entropy with label 3 of 3 classes: loss %g", loss);
  printf("%s  %-48s loss NaN, that row's gradient NaN\n", ok ? "PASS" : "FAIL",
         "softmax_cross_entropy label out of range");
}

/* ---------------- optimisers ---------------- */

static void test_sgd(void) {
  char what[96];
  /* lr, momentum, dampening, weight_decay, nesterov */
  const SgdConfig configs[] = {
      {0.1f, 0.0f, 0.0f, 0.0f, 0},  {0.05f, 0.0f, 0.0f, 0.01f, 0}, {0.1f, 0.9f, 0.0f, 0.0f, 0},
      {0.1f, 0.9f, 0.1f, 5e-4f, 0}, {0.1f, 0.9f, 0.0f, 1e-3f, 1},  {0.02f, 0.5f, 0.5f, 0.1f, 1},
  };
  for (size_t ci = 0; ci < sizeof configs / sizeof configs[0]; ci++)
    for (size_t s = 0; s < NSIZES; s++) {
      const SgdConfig c = configs[ci];
      const size_t n = kSizes[s];
      const int mom = c.momentum != 0.0f;
      float *p0 = uniform(n, -1, 1);
      float *grads[3] = {uniform(n, -2, 2), uniform(n, -2, 2), uniform(n, -2, 2)};
      /* CPU: three steps; the momentum buffer starts as NaN (first_step writes it) */
      float *want_p = copy_of(p0, n), *want_b[3], *want_pk[3];
      float *buf = mom ? kt_alloc_nan(n) : NULL;
      for (int t = 0; t < 3; t++) {
        at_cpu_sgd_update(&c, want_p, grads[t], buf, n, t == 0);
        want_pk[t] = copy_of(want_p, n);
        want_b[t] = mom ? copy_of(buf, n) : NULL;
      }
      free(buf);
      void *first = NULL;
      g_seed++;
      for (int k = 0; k < 3; k++) {
        float *p = copy_of(p0, n), *b = mom ? kt_alloc_nan(n) : NULL;
        set_order(k);
        for (int t = 0; t < 3; t++) {
          atk_sgd_update(c, p, grads[t], b, n, t == 0, NULL);
          name_of(what, sizeof what, "sgd mom=%g damp=%g wd=%g%s n=%zu step %d", c.momentum, c.dampening,
                  c.weight_decay, c.nesterov ? " nesterov" : "", n, t + 1);
          check_close(p, want_pk[t], n, 1e-6, what, k);
          if (mom) check_close(b, want_b[t], n, 1e-6, what, k);
        }
        float *both = kt_alloc_nan(2 * n);
        memcpy(both, p, n * sizeof(float));
        if (mom) memcpy(both + n, b, n * sizeof(float));
        check_same(&first, both, 2 * n * sizeof(float), what, k);
        free(p);
        free(b);
      }
      free(first);
      for (int t = 0; t < 3; t++) {
        free(grads[t]);
        free(want_pk[t]);
        free(want_b[t]);
      }
      free(want_p);
      free(p0);
    }
}

static void test_adam(void) {
  char what[96];
  /* lr, beta1, beta2, eps, weight_decay, step (set below) */
  const AdamConfig configs[] = {{1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f, 0}, {1e-2f, 0.8f, 0.99f, 1e-6f, 0.01f, 0}};
  for (size_t ci = 0; ci < sizeof configs / sizeof configs[0]; ci++)
    for (size_t s = 0; s < NSIZES; s++) {
      AdamConfig c = configs[ci];
      const size_t n = kSizes[s];
      float *p0 = uniform(n, -1, 1);
      float *grads[3] = {uniform(n, -2, 2), uniform(n, -0.01f, 0.01f), uniform(n, -2, 2)};
      float *want_p = copy_of(p0, n), *want_m = kt_alloc_nan(n), *want_v = kt_alloc_nan(n);
      at_cpu_fill(want_m, n, 0.0f);
      at_cpu_fill(want_v, n, 0.0f);
      float *wp[3], *wm[3], *wv[3];
      for (int t = 0; t < 3; t++) {
        c.step = t + 1;
        at_cpu_adam_update(&c, want_p, grads[t], want_m, want_v, n);
        wp[t] = copy_of(want_p, n);
        wm[t] = copy_of(want_m, n);
        wv[t] = copy_of(want_v, n);
      }
      void *first = NULL;
      g_seed++;
      for (int k = 0; k < 3; k++) {
        float *p = copy_of(p0, n), *m = kt_alloc_nan(n), *v = kt_alloc_nan(n);
        set_order(k);
        atk_fill(m, n, 0.0f, NULL);
        atk_fill(v, n, 0.0f, NULL);
        for (int t = 0; t < 3; t++) {
          c.step = t + 1;
          atk_adam_update(c, p, grads[t], m, v, n, NULL);
          name_of(what, sizeof what, "adam lr=%g b1=%g b2=%g wd=%g n=%zu step %ld", c.lr, c.beta1, c.beta2,
                  c.weight_decay, n, c.step);
          check_close(p, wp[t], n, 1e-6, what, k);
          check_close(m, wm[t], n, 1e-6, what, k);
          check_close(v, wv[t], n, 1e-6, what, k);
        }
        float *all = kt_alloc_nan(3 * n);
        memcpy(all, p, n * sizeof(float));
        memcpy(all + n, m, n * sizeof(float));
        memcpy(all + 2 * n, v, n * sizeof(float));
        check_same(&first, all, 3 * n * sizeof(float), what, k);
        free(p);
        free(m);
        free(v);
      }
      free(first);
      for (int t = 0; t < 3; t++) {
        free(grads[t]);
        free(wp[t]);
        free(wm[t]);
        free(wv[t]);
      }
      free(want_p);
      free(want_m);
      free(want_v);
      free(p0);
    }
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Runs one group of tests and notes its time (the emulator is slow: each
 * emulated thread is a fiber, so the sizes here are kept small). */
static void timed(const char *name, void (*fn)(void), char *log, size_t size) {
  const double t0 = now();
  fn();
  const size_t used = strlen(log);
  snprintf(log + used, size - used, "  %-22s %.2f s\n", name, now() - t0);
}

int main(void) {
  char log[1024] = "";
  const double t0 = now();
#define RUN(fn) timed(#fn, fn, log, sizeof log)
  RUN(test_fill);
  RUN(test_add);
  RUN(test_scale);
  RUN(test_sum_squares);
  RUN(test_count_nonfinite);
  RUN(test_relu);
  RUN(test_elu);
  RUN(test_sigmoid);
  RUN(test_dropout);
  RUN(test_softmax);
  RUN(test_bce);
  RUN(test_softmax_ce);
  RUN(test_sgd);
  RUN(test_adam);
#undef RUN
  printf("%lu emulated launches in %.2f s:\n%s", cuemu_launch_count(), now() - t0, log);
  printf("%d checks, %d failed\n", g_checks, failures);
  return failures ? 1 : 0;
}
