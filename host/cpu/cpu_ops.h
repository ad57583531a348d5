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

/* ---- elementwise (cpu_elementwise.c) ---- */
void at_cpu_fill(float *x, size_t n, float value);
void at_cpu_add(float *y, const float *a, const float *b, size_t n);
void at_cpu_scale(float *x, size_t n, float factor);
double at_cpu_sum_squares(const float *x, size_t n);
int at_cpu_all_finite(const float *x, size_t n);

/* ---- convolution (cpu_conv.c) ---- */
void at_cpu_conv2d_forward(const ConvShape *s, const float *x, const float *w, const float *bias,
                           float *y);
void at_cpu_conv2d_backward(const ConvShape *s, const float *x, const float *w, const float *dy,
                            float *dx, float *dw, float *dbias);
/* Layers whose per-example work c_out*K*P (K = c_in*kh*kw, P = h_out*w_out)
 * is at most this many MACs, with n > 1 and more than one thread, parallelise
 * over examples (one block per thread, single-threaded GEMMs); larger ones
 * thread inside each example's GEMM. Tests set it to 0 to force the
 * per-example path. Not to be changed while a convolution runs. */
extern double at_cpu_conv_batch_macs;

/* ---- pooling (cpu_pool.c) ---- */
void at_cpu_maxpool_forward(const PoolShape *s, const float *x, float *y, int32_t *switches);
void at_cpu_maxpool_backward(const PoolShape *s, const float *dy, const int32_t *switches, float *dx);
void at_cpu_avgpool_forward(const PoolShape *s, const float *x, float *y);
void at_cpu_avgpool_backward(const PoolShape *s, const float *dy, float *dx);

/* ---- batch normalisation (cpu_batchnorm.c) ---- */
void at_cpu_batchnorm_forward_train(const BatchNormShape *s, const float *x, const float *gamma,
                                    const float *beta, float *y, float *save_mean,
                                    float *save_invstd, float *running_mean, float *running_var);
void at_cpu_batchnorm_forward_infer(const BatchNormShape *s, const float *x, const float *gamma,
                                    const float *beta, const float *running_mean,
                                    const float *running_var, float *y);
void at_cpu_batchnorm_backward(const BatchNormShape *s, const float *x, const float *dy,
                               const float *gamma, const float *save_mean, const float *save_invstd,
                               float *dx, float *dgamma, float *dbeta);

/* ---- activations and dropout (cpu_activation.c) ---- */
void at_cpu_relu_forward(const float *x, float *y, size_t n);
void at_cpu_relu_backward(const float *y, const float *dy, float *dx, size_t n);
void at_cpu_elu_forward(const float *x, float *y, size_t n, float alpha);
void at_cpu_elu_backward(const float *y, const float *dy, float *dx, size_t n, float alpha);
void at_cpu_dropout_forward(const float *x, float *y, uint8_t *mask, size_t n, float p,
                            uint64_t seed, uint64_t stream);
void at_cpu_dropout_backward(const float *dy, const uint8_t *mask, float *dx, size_t n, float p);

/* ---- dense (cpu_dense.c) ---- */
void at_cpu_dense_forward(int n, int in, int out, const float *x, const float *w, const float *b,
                          float *y);
void at_cpu_dense_backward(int n, int in, int out, const float *x, const float *w, const float *dy,
                           float *dx, float *dw, float *db);

/* ---- concatenation (cpu_concat.c) ---- */
void at_cpu_concat_forward(int n, int plane, int k, const int *channels, const float *const *xs,
                           float *y);
void at_cpu_concat_backward(int n, int plane, int k, const int *channels, const float *dy,
                            float *const *dxs);

/* ---- outputs and losses (cpu_loss.c) ---- */
void at_cpu_sigmoid(const float *x, float *y, size_t n);
void at_cpu_softmax(int n, int classes, const float *x, float *y);
double at_cpu_bce_with_logits(int n, int classes, const float *logits, const float *targets,
                              float *dlogits);
double at_cpu_softmax_cross_entropy(int n, int classes, const float *logits, const int32_t *labels,
                                    float *dlogits);

/* ---- optimisers (cpu_optim.c) ---- */
void at_cpu_sgd_update(const SgdConfig *c, float *param, const float *grad, float *momentum_buf,
                       size_t n, int first_step);
void at_cpu_adam_update(const AdamConfig *c, float *param, const float *grad, float *m, float *v,
                        size_t n);

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
