/* Batch normalisation over channels (stats over N, H, W) or frequency rows
 * (stats over N, C, W).
 *
 * Both layouts reduce to the same shape: feature f owns `runs` contiguous runs
 * of `len` floats, run r starting at (r * features + f) * len:
 *   per channel:   runs = N,     features = C, len = H*W  -> (n*C + c)*H*W
 *   per frequency: runs = N*C,   features = H, len = W    -> ((n*C + c)*H + h)*W
 * Threads split the features; each feature's sums are taken in double, in a
 * fixed order (two passes: mean, then squared deviations). */
#include <math.h>

#include "core/error.h"
#include "cpu/cpu_ops.h"

typedef struct {
  size_t runs, len;
  int features;
} BnLayout;

static BnLayout layout(const BatchNormShape *s) {
  AT_ASSERT(s->n >= 0 && s->c > 0 && s->h > 0 && s->w > 0);
  AT_ASSERT(s->axis == AT_BN_PER_CHANNEL || s->axis == AT_BN_PER_FREQUENCY);
  BnLayout l;
  if (s->axis == AT_BN_PER_CHANNEL) {
    l.runs = (size_t)s->n;
    l.features = s->c;
    l.len = (size_t)s->h * s->w;
  } else {
    l.runs = (size_t)s->n * s->c;
    l.features = s->h;
    l.len = (size_t)s->w;
  }
  return l;
}

static inline size_t run_at(const BnLayout *l, int f, size_t r) {
  return (r * (size_t)l->features + (size_t)f) * l->len;
}

/* y = x * scale + shift over every run of feature f (y may alias x) */
static void affine_feature(const BnLayout *l, int f, const float *x, float *y, float scale,
                           float shift) {
  for (size_t r = 0; r < l->runs; r++) {
    const size_t o = run_at(l, f, r);
    const float *xr = x + o;
    float *yr = y + o;
#pragma omp simd
    for (size_t i = 0; i < l->len; i++) yr[i] = xr[i] * scale + shift;
  }
}

/* Feature f's batch statistics over its runs (two passes in double: mean,
 * then squared deviations): saves them, updates the running ones, and
 * returns the affine map y = x * scale + shift that normalises it. */
static void train_feature(const BatchNormShape *s, const BnLayout *l, int f, const float *x, const float *gamma,
                          const float *beta, float *save_mean, float *save_invstd, float *running_mean,
                          float *running_var, float *scale_out, float *shift_out) {
  const size_t m = l->runs * l->len;
  const double momentum = s->momentum;
  double sum = 0.0;
  for (size_t r = 0; r < l->runs; r++) sum += at_cpu_sum(x + run_at(l, f, r), l->len);
  const double mean = sum / (double)m;
  double sq = 0.0;
  for (size_t r = 0; r < l->runs; r++) sq += at_cpu_sum_sqdev(x + run_at(l, f, r), l->len, mean);
  const double var = sq / (double)m;
  const double invstd = 1.0 / sqrt(var + (double)s->eps);
  const double g = gamma ? (double)gamma[f] : 1.0;
  const double b = beta ? (double)beta[f] : 0.0;
  const double scale = g * invstd;
  *scale_out = (float)scale;
  *shift_out = (float)(b - mean * scale);
  if (save_mean) save_mean[f] = (float)mean;
  if (save_invstd) save_invstd[f] = (float)invstd;
  if (running_mean) running_mean[f] = (float)((1.0 - momentum) * (double)running_mean[f] + momentum * mean);
  if (running_var) {
    const double unbiased = var * (double)m / (double)(m - 1);
    running_var[f] = (float)((1.0 - momentum) * (double)running_var[f] + momentum * unbiased);
  }
}

static void check_batch(const BatchNormShape *s, const BnLayout *l) {
  if (l->runs * l->len < 2)
    at_fatal("batch normalisation in training needs more than one value per %s (got a batch of "
             "%d with %d x %d maps); use a larger batch, or train.drop_last = true when it is an epoch's last batch",
             s->axis == AT_BN_PER_CHANNEL ? "channel" : "frequency row", s->n, s->h, s->w);
}

void at_cpu_batchnorm_forward_train(const BatchNormShape *s, const float *x, const float *gamma,
                                    const float *beta, float *y, float *save_mean,
                                    float *save_invstd, float *running_mean, float *running_var) {
  const BnLayout l = layout(s);
  check_batch(s, &l);
  const int features = l.features;
#pragma omp parallel for schedule(static) if (l.runs * l.len * (size_t)features > AT_CPU_PAR_MIN)
  for (int f = 0; f < features; f++) {
    float scale, shift;
    train_feature(s, &l, f, x, gamma, beta, save_mean, save_invstd, running_mean, running_var, &scale, &shift);
    affine_feature(&l, f, x, y, scale, shift);
  }
}

/* The inference map of feature f: y = x * scale + shift. */
static void infer_feature(const BatchNormShape *s, int f, const float *gamma, const float *beta,
                          const float *running_mean, const float *running_var, float *scale_out, float *shift_out) {
  const double invstd = 1.0 / sqrt((double)running_var[f] + (double)s->eps);
  const double g = gamma ? (double)gamma[f] : 1.0;
  const double b = beta ? (double)beta[f] : 0.0;
  const double scale = g * invstd;
  *scale_out = (float)scale;
  *shift_out = (float)(b - (double)running_mean[f] * scale);
}

void at_cpu_batchnorm_forward_infer(const BatchNormShape *s, const float *x, const float *gamma,
                                    const float *beta, const float *running_mean,
                                    const float *running_var, float *y) {
  const BnLayout l = layout(s);
  const int features = l.features;
#pragma omp parallel for schedule(static) if (l.runs * l.len * (size_t)features > AT_CPU_PAR_MIN)
  for (int f = 0; f < features; f++) {
    float scale, shift;
    infer_feature(s, f, gamma, beta, running_mean, running_var, &scale, &shift);
    affine_feature(&l, f, x, y, scale, shift);
  }
}

void at_cpu_bn_channel_map(const BatchNormShape *s, int c, int training, const float *x, const float *gamma,
                           const float *beta, float *save_mean, float *save_invstd, float *running_mean,
                           float *running_var, float *scale, float *shift) {
  AT_ASSERT(s->axis == AT_BN_PER_CHANNEL);
  const BnLayout l = layout(s);
  if (training) train_feature(s, &l, c, x, gamma, beta, save_mean, save_invstd, running_mean, running_var, scale, shift);
  else infer_feature(s, c, gamma, beta, running_mean, running_var, scale, shift);
}

void at_cpu_bn_check_batch(const BatchNormShape *s) {
  const BnLayout l = layout(s);
  check_batch(s, &l);
}

void at_cpu_bn_backward_coefficients(float gamma, double invstd, double sdy, double sdyxmu, size_t m, float *fa,
                                     float *fb, float *fc) {
  const double a = (double)gamma * invstd;
  *fa = (float)a;
  *fb = m ? (float)(-a * invstd * invstd * sdyxmu / (double)m) : 0.0f;
  *fc = m ? (float)(-a * sdy / (double)m) : 0.0f;
}

/* Training-mode backward, with xhat = (x - mean) * invstd:
 *   dbeta  = sum dy,   dgamma = sum dy * xhat
 *   dx     = gamma * invstd * (dy - dbeta/m - xhat * dgamma/m)
 *          = a * dy + b * (x - mean) + c   with the coefficients below. */
void at_cpu_batchnorm_backward(const BatchNormShape *s, const float *x, const float *dy,
                               const float *gamma, const float *save_mean, const float *save_invstd,
                               float *dx, float *dgamma, float *dbeta) {
  const BnLayout l = layout(s);
  const size_t m = l.runs * l.len;
  const int features = l.features;
#pragma omp parallel for schedule(static) if (m * (size_t)features > AT_CPU_PAR_MIN)
  for (int f = 0; f < features; f++) {
    const double mean = save_mean[f], invstd = save_invstd[f];
    double sdy = 0.0, sdyxmu = 0.0;
    for (size_t r = 0; r < l.runs; r++) {
      const size_t o = run_at(&l, f, r);
      sdy += at_cpu_sum(dy + o, l.len);
      sdyxmu += at_cpu_sum_proddev(dy + o, x + o, l.len, mean);
    }
    if (dgamma) dgamma[f] = (float)(sdyxmu * invstd);
    if (dbeta) dbeta[f] = (float)sdy;
    if (dx) {
      float fa, fb, fc;
      at_cpu_bn_backward_coefficients(gamma ? gamma[f] : 1.0f, invstd, sdy, sdyxmu, m, &fa, &fb, &fc);
      const float fmean = save_mean[f];
      for (size_t r = 0; r < l.runs; r++) {
        const size_t o = run_at(&l, f, r);
        /* no restrict: a caller may let dx overwrite dy (same index only) */
        const float *xr = x + o, *dyr = dy + o;
        float *dxr = dx + o;
#pragma omp simd
        for (size_t i = 0; i < l.len; i++) dxr[i] = fa * dyr[i] + fb * (xr[i] - fmean) + fc;
      }
    }
  }
}
