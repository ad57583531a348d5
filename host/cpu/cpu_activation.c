/* ReLU, ELU and inverted dropout. Outputs may alias inputs (every loop reads
 * index i before writing index i), so the pointers carry no restrict; gcc
 * still vectorises them behind a runtime overlap check. */
#include <math.h>
#include <string.h>

#include "core/rng.h"
#include "core/scalar_math.h"
#include "cpu/cpu_ops.h"

#define PAR_IF(n) if ((n) > 4 * AT_CPU_PAR_MIN)

/* NaN passes through (as in PyTorch), so a NaN input reaches the loss and is
 * reported there instead of vanishing into zeros. */
void at_cpu_relu_forward(const float *x, float *y, size_t n) {
#pragma omp parallel for simd schedule(static) PAR_IF(n)
  for (size_t i = 0; i < n; i++) y[i] = at_cpu_relu1(x[i]);
}

void at_cpu_relu_backward(const float *y, const float *dy, float *dx, size_t n) {
#pragma omp parallel for simd schedule(static) PAR_IF(n)
  for (size_t i = 0; i < n; i++) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

void at_cpu_elu_forward(const float *x, float *y, size_t n, float alpha) {
#pragma omp parallel for simd schedule(static) if (n > AT_CPU_PAR_MIN)
  for (size_t i = 0; i < n; i++) {
    const float v = x[i];
    const float neg = alpha * at_expm1_nonpos(v > 0.0f ? 0.0f : v);
    y[i] = v > 0.0f ? v : neg;
  }
}

/* from the output: dy/dx = 1 where y > 0, alpha * exp(x) = y + alpha elsewhere */
void at_cpu_elu_backward(const float *y, const float *dy, float *dx, size_t n, float alpha) {
#pragma omp parallel for simd schedule(static) PAR_IF(n)
  for (size_t i = 0; i < n; i++) {
    const float v = y[i];
    dx[i] = v > 0.0f ? dy[i] : dy[i] * (v + alpha);
  }
}

/* Same conversion as at_rng_uniform (24 random bits); the test checks that
 * every mask bit agrees with at_rng_uniform(seed, stream, i) >= p. */
static inline float unit_from_word(uint32_t w) { return (float)(w >> 8) * (1.0f / 16777216.0f); }

void at_cpu_dropout_forward(const float *x, float *y, uint8_t *mask, size_t n, float p,
                            uint64_t seed, uint64_t stream) {
  if (p <= 0.0f) {
    if (y != x) memmove(y, x, n * sizeof(float));
    memset(mask, 1, n);
    return;
  }
  const float scale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
  /* one Philox block serves four consecutive indices */
  const size_t blocks = (n + 3) / 4;
#pragma omp parallel for schedule(static) if (n > AT_CPU_PAR_MIN / 8)
  for (size_t b = 0; b < blocks; b++) {
    const Philox4x32 r = at_philox(seed, stream, (uint64_t)b);
    const size_t lo = b * 4;
    const size_t hi = lo + 4 < n ? lo + 4 : n;
    for (size_t i = lo; i < hi; i++) {
      const int keep = unit_from_word(r.v[i - lo]) >= p;
      mask[i] = (uint8_t)keep;
      y[i] = keep ? x[i] * scale : 0.0f;
    }
  }
}

void at_cpu_dropout_backward(const float *dy, const uint8_t *mask, float *dx, size_t n, float p) {
  const float scale = p <= 0.0f ? 1.0f : p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
#pragma omp parallel for simd schedule(static) PAR_IF(n)
  for (size_t i = 0; i < n; i++) dx[i] = mask[i] ? dy[i] * scale : 0.0f;
}
