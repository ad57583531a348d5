/* Elementwise operations and whole-buffer reductions. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "cpu/cpu_ops.h"

void at_cpu_fill(float *restrict x, size_t n, float value) {
  if (value == 0.0f && !signbit(value)) { /* +0.0: memset is fastest */
    memset(x, 0, n * sizeof(float));
    return;
  }
#pragma omp parallel for simd schedule(static) if (n > 16 * AT_CPU_PAR_MIN)
  for (size_t i = 0; i < n; i++) x[i] = value;
}

/* y may alias a or b: each element is read before it is written, at the same
 * index, so no restrict here but the loop is still vectorised (gcc checks). */
void at_cpu_add(float *y, const float *a, const float *b, size_t n) {
#pragma omp parallel for simd schedule(static) if (n > 4 * AT_CPU_PAR_MIN)
  for (size_t i = 0; i < n; i++) y[i] = a[i] + b[i];
}

void at_cpu_scale(float *restrict x, size_t n, float factor) {
#pragma omp parallel for simd schedule(static) if (n > 4 * AT_CPU_PAR_MIN)
  for (size_t i = 0; i < n; i++) x[i] *= factor;
}

/* Fixed blocks, each summed on its own, then the block sums added in order:
 * the result is the same for any number of threads. */
#define SUMSQ_BLOCK 4096

double at_cpu_sum_squares(const float *restrict x, size_t n) {
  if (n == 0) return 0.0;
  const size_t nb = (n + SUMSQ_BLOCK - 1) / SUMSQ_BLOCK;
  double local[64];
  double *part = nb <= 64 ? local : at_malloc(nb * sizeof(double), "sum_squares partials");
#pragma omp parallel for schedule(static) if (n > 4 * AT_CPU_PAR_MIN)
  for (size_t b = 0; b < nb; b++) {
    const size_t lo = b * SUMSQ_BLOCK;
    const size_t len = n - lo < SUMSQ_BLOCK ? n - lo : SUMSQ_BLOCK;
    part[b] = at_cpu_sum_sqdev(x + lo, len, 0.0);
  }
  double s = 0.0;
  for (size_t b = 0; b < nb; b++) s += part[b];
  if (part != local) free(part);
  return s;
}

int at_cpu_all_finite(const float *restrict x, size_t n) {
  int bad = 0;
  /* x - x is 0 for finite x and NaN for +-Inf and NaN */
#pragma omp parallel for simd schedule(static) reduction(| : bad) if (n > 4 * AT_CPU_PAR_MIN)
  for (size_t i = 0; i < n; i++) bad |= !(x[i] - x[i] == 0.0f);
  return !bad;
}
