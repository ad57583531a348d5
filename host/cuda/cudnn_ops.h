/* Every cuDNN call of auratag lives in cudnn_ops.c (the legacy C API, whose
 * convolution and batch-norm entry points cuDNN 9 marks deprecated but
 * ships; see engineering.md §5). The rest of the CUDA backend reaches cuDNN
 * only through these functions. The emulated tests link the same file
 * against a test double of cuDNN (tests/cuda/fake/cudnn.c). Convolutions
 * here take symmetric padding (the caller pads asymmetric cases itself) and
 * no bias (added by a kernel). */
#ifndef AT_CUDNN_OPS_H
#define AT_CUDNN_OPS_H

#include <stddef.h>

#include "cuda/cuda_backend.h"
#include "config/device_settings.h"

typedef struct CUstream_st *cudaStream_t;

/* Creates the handle on the stream. Returns 0 when cuDNN can be used, or -1
 * with the reason in why (not compiled in, library missing, no device). */
int cudnn_ops_init(cudaStream_t stream, const CudaOptions *opt, char *why, size_t why_size);
const char *cudnn_ops_version(void); /* e.g. "cuDNN 9.19.0" */

void cudnn_conv_forward(const ConvShape *s, const float *x, const float *w, float *y);
/* dx, dw may each be NULL. */
void cudnn_conv_backward(const ConvShape *s, const float *x, const float *w, const float *dy, float *dx, float *dw);

/* Batch norm per channel (CUDNN_BATCHNORM_SPATIAL). */
void cudnn_bn_forward_train(const BatchNormShape *s, const float *x, const float *gamma, const float *beta, float *y,
                            float *save_mean, float *save_invstd, float *running_mean, float *running_var);
void cudnn_bn_forward_infer(const BatchNormShape *s, const float *x, const float *gamma, const float *beta,
                            const float *running_mean, const float *running_var, float *y);
void cudnn_bn_backward(const BatchNormShape *s, const float *x, const float *dy, const float *gamma,
                       const float *save_mean, const float *save_invstd, float *dx, float *dgamma, float *dbeta);

#endif
