/* Optimiser updates with torch.optim semantics; weight decay is the L2 term
 * added to the gradient (SGD, Adam), not decoupled (AdamW). */
#include <math.h>

#include "core/error.h"
#include "core/scalar_math.h"
#include "cpu/cpu_ops.h"

void at_cpu_sgd_update(const SgdConfig *c, float *restrict param, const float *restrict grad,
                       float *restrict momentum_buf, size_t n, int first_step) {
  const float lr = c->lr, wd = c->weight_decay, mom = c->momentum;
  const float damp = 1.0f - c->dampening;
  if (mom == 0.0f) {
#pragma omp parallel for simd schedule(static) if (n > 4 * AT_CPU_PAR_MIN)
    for (size_t i = 0; i < n; i++) {
      const float d = grad[i] + wd * param[i];
      param[i] -= lr * d;
    }
    return;
  }
  AT_ASSERT(momentum_buf != NULL);
  const int nesterov = c->nesterov;
#pragma omp parallel for simd schedule(static) if (n > 4 * AT_CPU_PAR_MIN)
  for (size_t i = 0; i < n; i++) {
    float d = grad[i] + wd * param[i];
    const float buf = first_step ? d : mom * momentum_buf[i] + damp * d;
    momentum_buf[i] = buf;
    d = nesterov ? d + mom * buf : buf;
    param[i] -= lr * d;
  }
}

void at_cpu_adam_update(const AdamConfig *c, float *restrict param, const float *restrict grad,
                        float *restrict m, float *restrict v, size_t n) {
  AT_ASSERT(c->step >= 1);
  const double bc1 = 1.0 - pow((double)c->beta1, (double)c->step);
  const double bc2 = 1.0 - pow((double)c->beta2, (double)c->step);
  const float step_size = (float)((double)c->lr / bc1);
  const float bc2_sqrt = (float)sqrt(bc2);
  const float b1 = c->beta1, b2 = c->beta2, eps = c->eps, wd = c->weight_decay;
#pragma omp parallel for simd schedule(static) if (n > 4 * AT_CPU_PAR_MIN)
  for (size_t i = 0; i < n; i++) at_adam_element(&param[i], &m[i], &v[i], grad[i], step_size, bc2_sqrt, b1, b2, eps, wd);
}
