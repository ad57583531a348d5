/* Batch normalisation over channels (stats over N, H, W) or frequency rows
 * (stats over N, C, W); CPU reference: host/cpu/cpu_batchnorm.c.
 *
 * As on the CPU, both layouts are one shape: feature f owns `runs` runs of
 * `len` contiguous floats, run r starting at (r * features + f) * len
 *   per channel:   runs = N,   features = C, len = H*W
 *   per frequency: runs = N*C, features = H, len = W.
 * Training forward and backward run one block per feature: each thread sums
 * its fixed share of the feature's elements in double, then the block adds
 * the partials in a fixed tree, so the statistics depend only on the data
 * (never on thread or block order). Mean and variance take two passes
 * (mean, then squared deviations) like the CPU. The caller checks that
 * training has more than one value per feature (the CPU stops on it; here
 * the unbiased variance would divide by zero). */
#include "launch.h"

#include "kernels.h"


/* threads per block of the per-feature kernels (the reduction tree below
 * assumes exactly this many, a power of two) */
#define BN_THREADS 256

typedef struct {
  size_t runs, len;
  int features;
} BnDims;

static BnDims bn_dims(const BatchNormShape *s) {
  BnDims d;
  if (s->axis == AT_BN_PER_CHANNEL) {
    d.runs = (size_t)s->n;
    d.features = s->c;
    d.len = (size_t)s->h * s->w;
  } else {
    d.runs = (size_t)s->n * s->c;
    d.features = s->h;
    d.len = (size_t)s->w;
  }
  return d;
}

/* A thread walks its feature's elements e = first, first + step, ... with
 * e = r * len + i; (r, i) is kept up to date without a division per element
 * (di < len, so one carry at most). */
static __device__ __forceinline__ void bn_start(size_t e, size_t len, size_t *r, size_t *i) {
  *r = e / len;
  *i = e - *r * len;
}
static __device__ __forceinline__ void bn_step(size_t dr, size_t di, size_t len, size_t *r, size_t *i) {
  *i += di;
  *r += dr;
  if (*i >= len) {
    *i -= len;
    *r += 1;
  }
}

/* Sum of v over the block in a fixed tree (shared memory, in double); the
 * result is returned to every thread. All threads must call it. */
static __device__ double bn_block_sum(double v, double *red) {
  const unsigned t = threadIdx.x;
  red[t] = v;
  __syncthreads();
  for (unsigned half = BN_THREADS / 2; half > 0; half /= 2) {
    if (t < half) red[t] += red[t + half];
    __syncthreads();
  }
  const double total = red[0];
  __syncthreads(); /* red is written again by the next call */
  return total;
}

/* One block per feature. y may alias x: a feature's elements are read by
 * its own block only, and written after the last read of the statistics
 * passes (barriers in between). */
static __global__ void __launch_bounds__(BN_THREADS)
    bn_forward_train_kernel(BnDims d, const float *x, const float *gamma, const float *beta, float *y,
                            float *save_mean, float *save_invstd, float *running_mean, float *running_var,
                            float eps, float momentum) {
  __shared__ double red[BN_THREADS];
  CUEMU_SHARED_POISON(red);
  const int f = blockIdx.x;
  const size_t t = threadIdx.x;
  const size_t m = d.runs * d.len, len = d.len;
  const size_t dr = BN_THREADS / len, di = BN_THREADS % len;
  const size_t run_stride = (size_t)d.features * len;
  const size_t base = (size_t)f * len;
  size_t r, i;

  double acc = 0.0;
  bn_start(t, len, &r, &i);
  for (size_t e = t; e < m; e += BN_THREADS) {
    acc += (double)x[base + r * run_stride + i];
    bn_step(dr, di, len, &r, &i);
  }
  const double mean = bn_block_sum(acc, red) / (double)m;

  acc = 0.0;
  bn_start(t, len, &r, &i);
  for (size_t e = t; e < m; e += BN_THREADS) {
    const double dv = (double)x[base + r * run_stride + i] - mean;
    acc += dv * dv;
    bn_step(dr, di, len, &r, &i);
  }
  const double var = bn_block_sum(acc, red) / (double)m; /* biased: for normalising */

  const double invstd = 1.0 / sqrt(var + (double)eps);
  const double g = gamma ? (double)gamma[f] : 1.0;
  const double b = beta ? (double)beta[f] : 0.0;
  const double scale = g * invstd;
  const float fscale = (float)scale, fshift = (float)(b - mean * scale);
  bn_start(t, len, &r, &i);
  for (size_t e = t; e < m; e += BN_THREADS) {
    const size_t o = base + r * run_stride + i;
    y[o] = x[o] * fscale + fshift;
    bn_step(dr, di, len, &r, &i);
  }

  if (t == 0) {
    const double mom = (double)momentum;
    if (save_mean) save_mean[f] = (float)mean;
    if (save_invstd) save_invstd[f] = (float)invstd;
    if (running_mean) running_mean[f] = (float)((1.0 - mom) * (double)running_mean[f] + mom * mean);
    if (running_var) {
      const double unbiased = var * (double)m / (double)(m - 1);
      running_var[f] = (float)((1.0 - mom) * (double)running_var[f] + mom * unbiased);
    }
  }
}

/* Elementwise: grid (chunks, features); every thread works out its feature's
 * scale and shift once, in double as the CPU. y may alias x. */
static __global__ void __launch_bounds__(BN_THREADS)
    bn_forward_infer_kernel(BnDims d, const float *x, const float *gamma, const float *beta,
                            const float *running_mean, const float *running_var, float *y, float eps) {
  const int f = blockIdx.y;
  const size_t m = d.runs * d.len, len = d.len;
  const size_t first = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (first >= m) return;
  const size_t step = (size_t)gridDim.x * blockDim.x;
  const size_t dr = step / len, di = step % len;
  const size_t run_stride = (size_t)d.features * len;
  const size_t base = (size_t)f * len;

  const double invstd = 1.0 / sqrt((double)running_var[f] + (double)eps);
  const double g = gamma ? (double)gamma[f] : 1.0;
  const double b = beta ? (double)beta[f] : 0.0;
  const double scale = g * invstd;
  const float fscale = (float)scale, fshift = (float)(b - (double)running_mean[f] * scale);
  size_t r, i;
  bn_start(first, len, &r, &i);
  for (size_t e = first; e < m; e += step) {
    const size_t o = base + r * run_stride + i;
    y[o] = x[o] * fscale + fshift;
    bn_step(dr, di, len, &r, &i);
  }
}

/* One block per feature. With xhat = (x - mean) * invstd:
 *   dbeta = sum dy,  dgamma = sum dy * xhat,
 *   dx = a * dy + b * (x - mean) + c,  a = gamma * invstd,
 *   b = -a * invstd^2 * sum(dy * (x - mean)) / m,  c = -a * sum(dy) / m.
 * dx may alias dy (same index only): every dy is read for the sums before
 * the barriers of the reduction, then each dx element after its own dy. */
static __global__ void __launch_bounds__(BN_THREADS)
    bn_backward_kernel(BnDims d, const float *x, const float *dy, const float *gamma, const float *save_mean,
                       const float *save_invstd, float *dx, float *dgamma, float *dbeta) {
  __shared__ double red[BN_THREADS];
  CUEMU_SHARED_POISON(red);
  const int f = blockIdx.x;
  const size_t t = threadIdx.x;
  const size_t m = d.runs * d.len, len = d.len;
  const size_t dr = BN_THREADS / len, di = BN_THREADS % len;
  const size_t run_stride = (size_t)d.features * len;
  const size_t base = (size_t)f * len;
  const double mean = (double)save_mean[f], invstd = (double)save_invstd[f];
  size_t r, i;

  double sdy = 0.0, sdyxmu = 0.0;
  bn_start(t, len, &r, &i);
  for (size_t e = t; e < m; e += BN_THREADS) {
    const size_t o = base + r * run_stride + i;
    const double g = (double)dy[o];
    sdy += g;
    sdyxmu += g * ((double)x[o] - mean);
    bn_step(dr, di, len, &r, &i);
  }
  sdy = bn_block_sum(sdy, red);
  sdyxmu = bn_block_sum(sdyxmu, red);

  if (t == 0) {
    if (dgamma) dgamma[f] = (float)(sdyxmu * invstd);
    if (dbeta) dbeta[f] = (float)sdy;
  }
  if (!dx) return; /* uniform across the block: no barrier follows */
  const double a = (gamma ? (double)gamma[f] : 1.0) * invstd;
  const float fa = (float)a;
  const float fb = m ? (float)(-a * invstd * invstd * sdyxmu / (double)m) : 0.0f;
  const float fc = m ? (float)(-a * sdy / (double)m) : 0.0f;
  const float fmean = save_mean[f];
  bn_start(t, len, &r, &i);
  for (size_t e = t; e < m; e += BN_THREADS) {
    const size_t o = base + r * run_stride + i;
    dx[o] = fa * dy[o] + fb * (x[o] - fmean) + fc;
    bn_step(dr, di, len, &r, &i);
  }
}

void atk_batchnorm_forward_train(BatchNormShape s, const float *x, const float *gamma, const float *beta, float *y,
                                 float *save_mean, float *save_invstd, float *running_mean, float *running_var,
                                 cudaStream_t st) {
  const BnDims d = bn_dims(&s);
  if (d.features <= 0 || d.len == 0) return;
  KLAUNCH(bn_forward_train_kernel, (unsigned)d.features, BN_THREADS, 0, st, d, x, gamma, beta, y, save_mean,
          save_invstd, running_mean, running_var, s.eps, s.momentum);
}

void atk_batchnorm_forward_infer(BatchNormShape s, const float *x, const float *gamma, const float *beta,
                                 const float *running_mean, const float *running_var, float *y, cudaStream_t st) {
  const BnDims d = bn_dims(&s);
  const size_t m = d.runs * d.len;
  if (d.features <= 0 || m == 0) return;
  /* enough blocks per feature to fill the device, each thread a few elements */
  size_t chunks = (m + BN_THREADS - 1) / BN_THREADS;
  const size_t per_feature_cap = 4096 / (size_t)d.features + 1;
  if (chunks > per_feature_cap) chunks = per_feature_cap;
  KLAUNCH(bn_forward_infer_kernel, dim3((unsigned)chunks, (unsigned)d.features), BN_THREADS, 0, st, d, x, gamma,
          beta, running_mean, running_var, y, s.eps);
}

void atk_batchnorm_backward(BatchNormShape s, const float *x, const float *dy, const float *gamma,
                            const float *save_mean, const float *save_invstd, float *dx, float *dgamma, float *dbeta,
                            cudaStream_t st) {
  const BnDims d = bn_dims(&s);
  if (d.features <= 0 || d.len == 0) return;
  KLAUNCH(bn_backward_kernel, (unsigned)d.features, BN_THREADS, 0, st, d, x, dy, gamma, save_mean, save_invstd, dx,
          dgamma, dbeta);
}
