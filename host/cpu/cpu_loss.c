/* Output activations and losses. The losses are small (batch x classes), so
 * they run on one thread, in double, in index order. */
#include <math.h>

#include "core/error.h"
#include "core/scalar_math.h"
#include "cpu/cpu_ops.h"

void at_cpu_sigmoid(const float *x, float *y, size_t n) {
#pragma omp parallel for schedule(static) if (n > AT_CPU_PAR_MIN)
  for (size_t i = 0; i < n; i++) {
    y[i] = at_sigmoidf(x[i]);
  }
}

void at_cpu_softmax(int n, int classes, const float *x, float *y) {
  AT_ASSERT(n >= 0 && classes > 0);
#pragma omp parallel for schedule(static) if ((size_t)n * classes > AT_CPU_PAR_MIN)
  for (int r = 0; r < n; r++) {
    const float *xr = x + (size_t)r * classes;
    float *yr = y + (size_t)r * classes;
    float mx = xr[0];
    for (int j = 1; j < classes; j++) mx = xr[j] > mx ? xr[j] : mx;
    double sum = 0.0;
    for (int j = 0; j < classes; j++) {
      const float e = expf(xr[j] - mx);
      yr[j] = e;
      sum += e;
    }
    const float inv = (float)(1.0 / sum);
    for (int j = 0; j < classes; j++) yr[j] *= inv;
  }
}


double at_cpu_bce_with_logits(int n, int classes, const float *logits, const float *targets,
                              float *dlogits) {
  AT_ASSERT(n > 0 && classes > 0);
  const size_t total = (size_t)n * classes;
  const double inv = 1.0 / (double)total;
  double loss = 0.0;
  for (size_t i = 0; i < total; i++) {
    const double z = logits[i], t = targets[i];
    loss += (z > 0 ? z : 0.0) - z * t + log1p(exp(-fabs(z)));
    if (dlogits) dlogits[i] = (float)((at_sigmoid_d(z) - t) * inv);
  }
  return loss * inv;
}

double at_cpu_softmax_cross_entropy(int n, int classes, const float *logits, const int32_t *labels,
                                    float *dlogits) {
  AT_ASSERT(n > 0 && classes > 0);
  for (int r = 0; r < n; r++)
    if (labels[r] < 0 || labels[r] >= classes)
      at_fatal("label %d of example %d is outside the %d classes [0, %d); check the dataset's "
               "labels against the model's number of classes",
               (int)labels[r], r, classes, classes - 1);
  const double inv = 1.0 / (double)n;
  double loss = 0.0;
  for (int r = 0; r < n; r++) {
    const float *z = logits + (size_t)r * classes;
    double mx = z[0];
    for (int j = 1; j < classes; j++) mx = z[j] > mx ? z[j] : mx;
    double sum = 0.0;
    for (int j = 0; j < classes; j++) sum += exp((double)z[j] - mx);
    const double lse = mx + log(sum);
    loss += lse - (double)z[labels[r]];
    if (dlogits) {
      float *d = dlogits + (size_t)r * classes;
      for (int j = 0; j < classes; j++)
        d[j] = (float)((exp((double)z[j] - lse) - (j == labels[r] ? 1.0 : 0.0)) * inv);
    }
  }
  return loss * inv;
}
