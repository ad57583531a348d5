/* Fully connected layer: y[n, out] = x[n, in] . w[out, in]^T + b, by SGEMM. */
#include <string.h>

#include "core/error.h"
#include "cpu/cpu_ops.h"

void at_cpu_dense_forward(int n, int in, int out, const float *x, const float *w, const float *b,
                          float *y) {
  AT_ASSERT(n >= 0 && in > 0 && out > 0);
  if (n == 0) return;
  float beta = 0.0f;
  if (b) {
    for (int i = 0; i < n; i++) memcpy(y + (size_t)i * out, b, (size_t)out * sizeof(float));
    beta = 1.0f;
  }
  at_cpu_sgemm(0, 1, n, out, in, 1.0f, x, in, w, in, beta, y, out);
}

void at_cpu_dense_backward(int n, int in, int out, const float *x, const float *w, const float *dy,
                           float *dx, float *dw, float *db) {
  AT_ASSERT(n >= 0 && in > 0 && out > 0);
  if (n == 0) {
    if (dw) memset(dw, 0, (size_t)out * in * sizeof(float));
    if (db) memset(db, 0, (size_t)out * sizeof(float));
    return;
  }
  /* dx[n, in] = dy[n, out] . w[out, in] */
  if (dx)
    at_cpu_sgemm(0, 0, n, in, out, 1.0f, dy, out, w, in, 0.0f, dx, in);
  /* dw[out, in] = dy^T . x */
  if (dw)
    at_cpu_sgemm(1, 0, out, in, n, 1.0f, dy, out, x, in, 0.0f, dw, in);
  if (db) {
#pragma omp parallel for schedule(static) if ((size_t)n * out > AT_CPU_PAR_MIN)
    for (int o = 0; o < out; o++) {
      double acc = 0.0;
      for (int i = 0; i < n; i++) acc += (double)dy[(size_t)i * out + o];
      db[o] = (float)acc;
    }
  }
}
