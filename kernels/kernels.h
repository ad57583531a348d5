/* The hand-written CUDA kernels, as C functions that launch them on a
 * stream. Included by the CUDA backend's host code (host/cuda/, plain C)
 * and by the kernel sources (the .cu files in kernels/). Every pointer is device memory;
 * the semantics of each launcher are those of the CPU backend's op of the
 * same name (host/nn/backend.h), which the tests hold them to. Launchers do
 * not check for launch errors: the caller does (cuda_check.h). */
#ifndef AT_KERNELS_H
#define AT_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "nn/backend.h"

/* Blocks of the first pass of whole-buffer reductions: a constant, so the
 * summation order (and the result) never depends on the device. */
#define ATK_REDUCE_BLOCKS 240

/* The runtime's own stream type (driver_types.h declares the same). */
typedef struct CUstream_st *cudaStream_t;

#ifdef __cplusplus
extern "C" {
#endif

/* The launcher of each KERNEL operation of AT_BACKEND_OPS (nn/backend.h):
 * the operation's parameters, then the stream (fill, add, scale in
 * elementwise.cu; the activations and dropout in activation.cu, y may alias
 * x; softmax in loss.cu). */
#define ATK_DECL_MEM(ret, name, params)
#define ATK_DECL_CUSTOM(ret, name, params)
#define ATK_DECL_KERNEL(ret, name, params) void atk_##name(AT_UNPAREN params, cudaStream_t st);
#define ATK_DECL(kind, ret, name, params, args) ATK_DECL_##kind(ret, name, params)
AT_BACKEND_OPS(ATK_DECL)

/* ---- elementwise (kernels/elementwise.cu) ---- */
/* sum of squares in double: ATK_REDUCE_BLOCKS partial sums in scratch, then
 * one block adds them in order into *out. Deterministic for a given n. */
void atk_sum_squares(const float *x, size_t n, double *scratch, double *out, cudaStream_t st);
/* *count = number of NaN / Inf elements (atomics; exact count). */
void atk_count_nonfinite(const float *x, size_t n, unsigned int *count, cudaStream_t st);

/* ---- losses (kernels/loss.cu); loss written to *loss (device double) ---- */
void atk_bce_with_logits(int n, int classes, const float *logits, const float *targets, float *dlogits,
                         double *loss, cudaStream_t st);
void atk_softmax_cross_entropy(int n, int classes, const float *logits, const int32_t *labels, float *dlogits,
                               double *loss, cudaStream_t st);

/* ---- optimisers (kernels/optim.cu) ---- */
void atk_sgd_update(SgdConfig c, float *param, const float *grad, float *momentum_buf, size_t n, int first_step,
                    cudaStream_t st);
void atk_adam_update(AdamConfig c, float *param, const float *grad, float *m, float *v, size_t n, cudaStream_t st);

/* ---- pooling (kernels/pool.cu) ---- */
void atk_maxpool_forward(PoolShape s, const float *x, float *y, int32_t *switches, cudaStream_t st);
/* Gather form: each input element sums the dy of the outputs whose switch
 * points at it (no atomics, deterministic). Also the deconvnet's unpooling. */
void atk_maxpool_backward(PoolShape s, const float *dy, const int32_t *switches, float *dx, cudaStream_t st);
void atk_avgpool_forward(PoolShape s, const float *x, float *y, cudaStream_t st);
void atk_avgpool_backward(PoolShape s, const float *dy, float *dx, cudaStream_t st);

/* ---- batch normalisation, both axes (kernels/batchnorm.cu) ---- */
void atk_batchnorm_forward_train(BatchNormShape s, const float *x, const float *gamma, const float *beta, float *y,
                                 float *save_mean, float *save_invstd, float *running_mean, float *running_var,
                                 cudaStream_t st);
void atk_batchnorm_forward_infer(BatchNormShape s, const float *x, const float *gamma, const float *beta,
                                 const float *running_mean, const float *running_var, float *y, cudaStream_t st);
void atk_batchnorm_backward(BatchNormShape s, const float *x, const float *dy, const float *gamma,
                            const float *save_mean, const float *save_invstd, float *dx, float *dgamma, float *dbeta,
                            cudaStream_t st);

/* ---- channel concatenation (kernels/concat.cu) ----
 * Copies a [n, c_part, plane] tensor into / out of channels
 * [c_offset, c_offset + c_part) of a [n, c_total, plane] tensor. */
void atk_concat_put(int n, int plane, int c_total, int c_offset, int c_part, const float *part, float *whole,
                    cudaStream_t st);
void atk_concat_take(int n, int plane, int c_total, int c_offset, int c_part, const float *whole, float *part,
                     cudaStream_t st);

/* ---- convolution helpers (kernels/conv_gemm.cu) ----
 * For the im2col + GEMM convolution (the CUDNN=0 path and the emulated
 * tests) and for asymmetric padding in front of cuDNN. x is one example
 * [c_in, h_in, w_in]; col is [c_in * kh * kw, h_out * w_out] (row-major). */
void atk_im2col(ConvShape s, const float *x, float *col, cudaStream_t st);
/* Gather form of col2im: dx[c, h, w] = sum of the col entries that read it. */
void atk_col2im(ConvShape s, const float *col, float *dx, cudaStream_t st);
/* y[n, c, plane] += bias[c] */
void atk_bias_add(int n, int c, int plane, const float *bias, float *y, cudaStream_t st);
/* db[c] = sum over n and plane of dy[n, c, plane] (fixed order per channel) */
void atk_bias_grad(int n, int c, int plane, const float *dy, float *db, cudaStream_t st);
/* Zero-padded copy: xp[n, c, h + top + bottom, w + left + right]. */
void atk_pad2d(int n, int c, int h, int w, int top, int bottom, int left, int right, const float *x, float *xp,
               cudaStream_t st);
/* The inverse (gradient): dx = the interior of dxp. */
void atk_crop2d(int n, int c, int h, int w, int top, int bottom, int left, int right, const float *dxp, float *dx,
                cudaStream_t st);

#ifdef __cplusplus
}
#endif

#endif
