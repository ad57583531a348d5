/* Private declarations of the CPU backend's operations (see nn/backend.h for
 * the semantics of each one). Only host/cpu/ and the backend's tests include
 * this header; everything else reaches the operations through the Backend
 * table returned by at_backend_cpu(). */
#ifndef AT_CPU_OPS_H
#define AT_CPU_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "nn/backend.h"

/* Loops with fewer elements than this run on one thread: below it the cost of
 * waking the OpenMP team exceeds the work. */
#define AT_CPU_PAR_MIN 32768

/* ---- memory and scratch (cpu_backend.c) ---- */
void *at_cpu_alloc(size_t bytes);
void at_cpu_release(void *p);
void at_cpu_copy(void *dst, const void *src, size_t bytes);
void at_cpu_synchronize(void);

/* Scratch buffer for im2col/col2im. The first caller gets the shared cached
 * buffer, grown (never shrunk) to `floats` elements; a concurrent caller (the
 * cache already lent out) gets a private buffer. Either way the buffer goes
 * back through at_cpu_scratch_return. The cache is freed at exit or by
 * at_cpu_scratch_free. Contents are unspecified. */
float *at_cpu_scratch_borrow(size_t floats);
void at_cpu_scratch_return(float *p);
/* Frees the cached scratch buffer (no-op when none or while lent out). */
void at_cpu_scratch_free(void);

/* ---- GEMM (cpu_gemm.c) ----
 * Row-major C[m, n] = alpha * op(A) . op(B) + beta * C, op = transpose when
 * trans_* is nonzero; lda/ldb/ldc are row strides as stored. Provider: oneDNN
 * (default) or OpenBLAS (environment AURATAG_GEMM=openblas). */
void at_cpu_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
                  const float *b, int ldb, float beta, float *c, int ldc);
const char *at_cpu_gemm_provider(void); /* "onednn" or "openblas" */

/* ---- the operations: at_cpu_NAME for each KERNEL and CUSTOM operation of
 * AT_BACKEND_OPS, one file per family (cpu_elementwise.c, cpu_conv.c,
 * cpu_pool.c, cpu_batchnorm.c, cpu_activation.c, cpu_dense.c, cpu_concat.c,
 * cpu_loss.c, cpu_optim.c) ---- */
#define AT_CPU_DECL_MEM(ret, name, params)
#define AT_CPU_DECL_KERNEL(ret, name, params) ret at_cpu_##name params;
#define AT_CPU_DECL_CUSTOM(ret, name, params) ret at_cpu_##name params;
#define AT_CPU_DECL(kind, ret, name, params, args) AT_CPU_DECL_##kind(ret, name, params)
AT_BACKEND_OPS(AT_CPU_DECL)

/* ---- shared by the fused batch norm -> ReLU -> max-pool (cpu_bn_relu_pool.c)
 * with the separate operations, so that both compute the same numbers ---- */
/* Channel c's map y = x * scale + shift: training takes the batch statistics
 * (saved, running ones updated, as batchnorm_forward_train), else the running
 * ones. Per-channel batch norm only. */
void at_cpu_bn_channel_map(const BatchNormShape *s, int c, int training, const float *x, const float *gamma,
                           const float *beta, float *save_mean, float *save_invstd, float *running_mean,
                           float *running_var, float *scale, float *shift);
/* Stops with a message when a training batch has one value per feature. */
void at_cpu_bn_check_batch(const BatchNormShape *s);
/* Training-mode backward of one feature: dx = fa * dy + fb * (x - mean) + fc,
 * from sdy = sum dy and sdyxmu = sum dy * (x - mean) over its m values. */
void at_cpu_bn_backward_coefficients(float gamma, double invstd, double sdy, double sdyxmu, size_t m, float *fa,
                                     float *fb, float *fc);
/* Max-pooling of one plane (xp: h_in x w_in; yp, sp: h_out x w_out). */
void at_cpu_maxpool_plane(const PoolShape *s, const float *xp, float *yp, int32_t *sp);
/* ReLU as relu_forward computes it. */
static inline float at_cpu_relu1(float v) { return v < 0.0f ? 0.0f : v; }

/* Layers whose per-example work c_out*K*P (K = c_in*kh*kw, P = h_out*w_out)
 * is at most this many MACs, with n > 1 and more than one thread, parallelise
 * over examples (one block per thread, single-threaded GEMMs); larger ones
 * thread inside each example's GEMM. Tests set it to 0 to force the
 * per-example path. Not to be changed while a convolution runs. */
extern double at_cpu_conv_batch_macs;

/* ---- deterministic double-precision reductions shared by the ops ----
 * Eight independent accumulators (so gcc vectorises the loop) combined in a
 * fixed order: the result depends only on the data, never on threads. */
static inline double at_cpu_combine8(const double acc[8]) {
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

/* sum x[i] */
static inline double at_cpu_sum(const float *restrict x, size_t n) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; k++) acc[k] += (double)x[i + k];
  for (int k = 0; i < n; i++, k++) acc[k] += (double)x[i];
  return at_cpu_combine8(acc);
}

/* sum (x[i] - c)^2 */
static inline double at_cpu_sum_sqdev(const float *restrict x, size_t n, double c) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; k++) {
      double d = (double)x[i + k] - c;
      acc[k] += d * d;
    }
  for (int k = 0; i < n; i++, k++) {
    double d = (double)x[i] - c;
    acc[k] += d * d;
  }
  return at_cpu_combine8(acc);
}

/* sum a[i] * (b[i] - c) */
static inline double at_cpu_sum_proddev(const float *restrict a, const float *restrict b, size_t n,
                                        double c) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; k++) acc[k] += (double)a[i + k] * ((double)b[i + k] - c);
  for (int k = 0; i < n; i++, k++) acc[k] += (double)a[i] * ((double)b[i] - c);
  return at_cpu_combine8(acc);
}

#endif
