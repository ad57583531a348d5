/* Per-element formulas shared by the CPU backend and the CUDA kernels, so
 * that both compute the same thing the same way (one implementation, as
 * core/philox.h for the random numbers). Plain C that nvcc and the kernel
 * emulator also compile; the CPU loops inline them and still vectorise. */
#ifndef AT_SCALAR_MATH_H
#define AT_SCALAR_MATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__CUDACC__)
#define AT_SCALAR_FN static inline __host__ __device__
#else
#define AT_SCALAR_FN static inline
#endif

/* expm1(x) for x <= 0 in a form gcc vectorises (libm's expm1f is scalar and
 * costs ~20 ns per element; ELU runs on the largest maps of the network).
 * x = n ln2 + r with |r| <= ln2/2 (Cody-Waite split of ln2), then
 *   expm1(x) = 2^n expm1(r) + (2^n - 1),
 * expm1(r) by its Taylor series to r^7 (truncation < 2e-8 relative). Error
 * within 2 ulp of the exact value over [-87, 0] (tested); below -87 the float
 * result is -1, so x is clamped there. NaN passes through (its integer part
 * is taken as 0: converting NaN to int is undefined). */
AT_SCALAR_FN float at_expm1_nonpos(float x) {
  x = x < -87.0f ? -87.0f : x;
  const float shifter = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
  const float nf = (x * 1.44269504088896341f + shifter) - shifter;
  const float r = (x - nf * 0.693145751953125f) - nf * 1.428606765330187045e-06f;
  const float p =
      r + r * r *
              (0.5f + r * (1.0f / 6.0f +
                           r * (1.0f / 24.0f +
                                r * (1.0f / 120.0f + r * (1.0f / 720.0f + r * (1.0f / 5040.0f))))));
  const int32_t ni = nf == nf ? (int32_t)nf : 0;
  const uint32_t bits = (uint32_t)(ni + 127) << 23;
  float two_n;
  memcpy(&two_n, &bits, sizeof two_n);
  return two_n * p + (two_n - 1.0f);
}

/* The logistic function without overflow on either side (expf, not a fast
 * approximation: the backends agree to 1e-6). */
AT_SCALAR_FN float at_sigmoidf(float v) {
  if (v >= 0.0f) return 1.0f / (1.0f + expf(-v));
  const float e = expf(v);
  return e / (1.0f + e);
}

AT_SCALAR_FN double at_sigmoid_d(double z) {
  if (z >= 0) return 1.0 / (1.0 + exp(-z));
  const double e = exp(z);
  return e / (1.0 + e);
}

/* One Adam update of element (param, m, v) with gradient g (torch.optim.Adam:
 * L2 weight decay added to the gradient, bias corrections folded into
 * step_size = lr / (1 - beta1^t) and bc2_sqrt = sqrt(1 - beta2^t)). */
AT_SCALAR_FN void at_adam_element(float *param, float *m, float *v, float grad, float step_size, float bc2_sqrt,
                                  float b1, float b2, float eps, float wd) {
  const float g = grad + wd * *param;
  const float mi = b1 * *m + (1.0f - b1) * g;
  const float vi = b2 * *v + (1.0f - b2) * g * g;
  *m = mi;
  *v = vi;
  const float denom = sqrtf(vi) / bc2_sqrt + eps;
  *param -= step_size * (mi / denom);
}

#endif
