/* SGD and Adam updates with torch.optim semantics (CPU reference:
 * host/cpu/cpu_optim.c): weight decay is L2 added to the gradient. The
 * scalars derived from the config are computed on the host exactly as the
 * CPU computes them, so both backends use the same float constants. */
#include "launch.h"

#include <math.h>

#include "kernels.h"
#include "core/scalar_math.h"

/* momentum == 0: param -= lr * (grad + wd * param) */
__global__ void __launch_bounds__(ATK_THREADS) sgd_plain_kernel(float *__restrict__ param,
                                                                const float *__restrict__ grad, size_t n, float lr,
                                                                float wd) {
  const size_t stride = (size_t)gridDim.x * blockDim.x;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
    const float d = grad[i] + wd * param[i];
    param[i] -= lr * d;
  }
}

/* buf = first_step ? d : momentum * buf + (1 - dampening) * d;
 * step along d + momentum * buf (Nesterov) or buf. */
__global__ void __launch_bounds__(ATK_THREADS) sgd_momentum_kernel(float *__restrict__ param,
                                                                   const float *__restrict__ grad,
                                                                   float *__restrict__ momentum_buf, size_t n,
                                                                   float lr, float wd, float mom, float damp,
                                                                   int nesterov, int first_step) {
  const size_t stride = (size_t)gridDim.x * blockDim.x;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
    float d = grad[i] + wd * param[i];
    const float buf = first_step ? d : mom * momentum_buf[i] + damp * d;
    momentum_buf[i] = buf;
    d = nesterov ? d + mom * buf : buf;
    param[i] -= lr * d;
  }
}

/* m, v: first and second moment estimates; step_size = lr / (1 - beta1^t),
 * bc2_sqrt = sqrt(1 - beta2^t). IEEE sqrtf and division (nvcc's defaults
 * without -use_fast_math). */
__global__ void __launch_bounds__(ATK_THREADS) adam_kernel(float *__restrict__ param, const float *__restrict__ grad,
                                                           float *__restrict__ m, float *__restrict__ v, size_t n,
                                                           float step_size, float bc2_sqrt, float b1, float b2,
                                                           float eps, float wd) {
  const size_t stride = (size_t)gridDim.x * blockDim.x;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
    at_adam_element(&param[i], &m[i], &v[i], grad[i], step_size, bc2_sqrt, b1, b2, eps, wd);
}

/* momentum_buf may be NULL when c.momentum == 0. */
extern "C" void atk_sgd_update(SgdConfig c, float *param, const float *grad, float *momentum_buf, size_t n,
                               int first_step, cudaStream_t st) {
  if (n == 0) return;
  const unsigned blocks = atk_blocks_for(n, ATK_THREADS);
  if (c.momentum == 0.0f) {
    KLAUNCH(sgd_plain_kernel, blocks, ATK_THREADS, 0, st, param, grad, n, c.lr, c.weight_decay);
    return;
  }
  const float damp = 1.0f - c.dampening;
  KLAUNCH(sgd_momentum_kernel, blocks, ATK_THREADS, 0, st, param, grad, momentum_buf, n, c.lr, c.weight_decay,
          c.momentum, damp, c.nesterov ? 1 : 0, first_step ? 1 : 0);
}

/* c.step >= 1 (1 on the first update). */
extern "C" void atk_adam_update(AdamConfig c, float *param, const float *grad, float *m, float *v, size_t n,
                                cudaStream_t st) {
  if (n == 0) return;
  const double bc1 = 1.0 - pow((double)c.beta1, (double)c.step);
  const double bc2 = 1.0 - pow((double)c.beta2, (double)c.step);
  const float step_size = (float)((double)c.lr / bc1);
  const float bc2_sqrt = (float)sqrt(bc2);
  KLAUNCH(adam_kernel, atk_blocks_for(n, ATK_THREADS), ATK_THREADS, 0, st, param, grad, m, v, n, step_size, bc2_sqrt,
          c.beta1, c.beta2, c.eps, c.weight_decay);
}
