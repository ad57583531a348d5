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

/* IEEE binary16 <-> float, round to nearest even (overflow to inf, NaN kept
 * NaN), as numpy's float16 and h5py's files. */
AT_SCALAR_FN float at_half_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu, man = h & 0x3ffu, bits;
  if (exp == 0) {
    float f = (float)man * 5.9604644775390625e-08f; /* 2^-24: zero or subnormal, exact */
    memcpy(&bits, &f, 4);
    bits |= sign;
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (man << 13); /* inf, NaN (payload kept) */
  } else {
    bits = sign | ((exp + 112u) << 23) | (man << 13);
  }
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

AT_SCALAR_FN uint16_t at_float_to_half(float f) {
  uint32_t x;
  memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000u, ax = x & 0x7fffffffu;
  if (ax >= 0x7f800000u) { /* inf or NaN (NaN stays NaN, made quiet) */
    if (ax == 0x7f800000u) return (uint16_t)(sign | 0x7c00u);
    return (uint16_t)(sign | 0x7e00u | ((ax >> 13) & 0x3ffu));
  }
  if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* >= 65520: rounds to inf */
  if (ax < 0x38800000u) {                                    /* below 2^-14: subnormal half */
    if (ax <= 0x33000000u) return (uint16_t)sign;            /* <= 2^-25: rounds to zero */
    uint32_t e = ax >> 23, mant = (ax & 0x7fffffu) | 0x800000u;
    uint32_t shift = 126 - e; /* 14 .. 24 */
    uint32_t r = mant >> shift, rem = mant & ((1u << shift) - 1), halfway = 1u << (shift - 1);
    if (rem > halfway || (rem == halfway && (r & 1u))) r++;
    return (uint16_t)(sign | r);
  }
  uint32_t r = (ax - 0x38000000u) >> 13, rem = ax & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (r & 1u))) r++;
  return (uint16_t)(sign | r);
}

/* x rounded to the nearest binary16 value, as a float. */
AT_SCALAR_FN float at_round_half(float x) { return at_half_to_float(at_float_to_half(x)); }

/* musicnn's compression (its extractor.py: the mel power cast to float16, then
 * np.log10(10000 * x + 1) on the float16 array): every step rounded to
 * binary16 as numpy's float16 arithmetic does (computed in float, rounded
 * back). A power above 65504 / c is +inf there, and so here. */
AT_SCALAR_FN float at_log10_1p_half(float x, float c) {
  const float h = at_round_half(x);
  const float product = at_round_half(h * at_round_half(c));
  const float sum = at_round_half(product + 1.0f);
  return at_round_half(log10f(sum));
}

#endif
