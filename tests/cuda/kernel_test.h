/* Shared by the kernel tests (tests/cuda/test_kernels_*.c): the kernels run
 * on the CPU under the emulator (kernels/cuemu.h), so "device" memory is host
 * memory. Fresh buffers are filled with NaN (a kernel that reads what it
 * never wrote shows it), every case runs with the threads of each block
 * forward, reversed and shuffled, and the results must be identical across
 * orders and match the CPU backend. */
#ifndef AT_KERNEL_TEST_H
#define AT_KERNEL_TEST_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuemu_control.h"
#include "test_util.h"

/* The three orders every kernel case runs under. */
static const int kt_orders[3] = {CUEMU_ORDER_FORWARD, CUEMU_ORDER_REVERSE, CUEMU_ORDER_SHUFFLE};
static const char *const kt_order_names[3] = {"forward", "reversed", "shuffled"};

/* "Device" allocation: n floats of NaN; kt_alloc_poison: bytes of 0xFF. */
static inline float *kt_alloc_nan(size_t n) {
  float *p = (float *)malloc((n ? n : 1) * sizeof(float));
  if (!p) abort();
  for (size_t i = 0; i < n; i++) p[i] = NAN;
  return p;
}

static inline void *kt_alloc_poison(size_t bytes) {
  void *p = malloc(bytes ? bytes : 1);
  if (!p) abort();
  memset(p, 0xFF, bytes);
  return p;
}

/* Deterministic test data: uniform in [lo, hi). */
static inline void kt_fill_uniform(float *x, size_t n, float lo, float hi, uint64_t seed) {
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    x[i] = lo + (hi - lo) * (float)((s >> 11) * (1.0 / 9007199254740992.0));
  }
}

/* Largest |a - b| / max(1, |b|) over n; NaN anywhere (in either) counts as infinite. */
static inline double kt_max_rel(const float *a, const float *b, size_t n) {
  double worst = 0;
  for (size_t i = 0; i < n; i++) {
    if (isnan(a[i]) || isnan(b[i])) return INFINITY;
    double d = fabs((double)a[i] - (double)b[i]) / fmax(1.0, fabs((double)b[i]));
    if (d > worst) worst = d;
  }
  return worst;
}

/* Checks got against the CPU backend's want within tol; prints one line. */
#define KT_EXPECT_CLOSE(got, want, n, tol, ...)                                           \
  do {                                                                                  \
    double kt_err_ = kt_max_rel((got), (want), (n));                                     \
    CHECK(kt_err_ <= (tol), "max rel err %.3e > %.1e", kt_err_, (double)(tol));          \
    printf("%s  ", kt_err_ <= (tol) ? "PASS" : "FAIL");                                  \
    printf(__VA_ARGS__);                                                                \
    printf("  max rel err %.3e\n", kt_err_);                                             \
  } while (0)

/* Checks that two runs (different thread orders) are bit-identical. */
#define KT_EXPECT_IDENTICAL(a, b, bytes, ...)                                             \
  do {                                                                                  \
    int kt_same_ = memcmp((a), (b), (bytes)) == 0;                                       \
    CHECK(kt_same_, "results differ between thread orders");                           \
    if (!kt_same_) { printf("FAIL  "); printf(__VA_ARGS__); printf("  (order-dependent)\n"); } \
  } while (0)

#endif
