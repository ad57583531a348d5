/* cudnn_ops.h without cuDNN (tests only): cuDNN cannot run on a CPU, so the
 * emulated CUDA backend reports it unavailable and takes the gemm engine.
 * The real cudnn_ops.c is compiled and linked into ./auratag in every CUDA
 * build and exercised by `auratag selftest` on a GPU. */
#include <stdio.h>

#include "core/error.h"
#include "cuda/cudnn_ops.h"
#include "config/device_settings.h"

int cudnn_ops_init(cudaStream_t stream, const CudaOptions *opt, char *why, size_t why_size) {
  (void)stream;
  (void)opt;
  snprintf(why, why_size, "cuDNN is not emulated on the CPU");
  return -1;
}

const char *cudnn_ops_version(void) { return "cuDNN (absent)"; }

#define ABSENT at_fatal("internal: a cuDNN path was taken in a build without cuDNN")

void cudnn_conv_forward(const ConvShape *s, const float *x, const float *w, float *y) {
  (void)s, (void)x, (void)w, (void)y;
  ABSENT;
}
void cudnn_conv_backward(const ConvShape *s, const float *x, const float *w, const float *dy, float *dx, float *dw) {
  (void)s, (void)x, (void)w, (void)dy, (void)dx, (void)dw;
  ABSENT;
}
void cudnn_bn_forward_train(const BatchNormShape *s, const float *x, const float *gamma, const float *beta, float *y,
                            float *save_mean, float *save_invstd, float *running_mean, float *running_var) {
  (void)s, (void)x, (void)gamma, (void)beta, (void)y, (void)save_mean, (void)save_invstd, (void)running_mean,
      (void)running_var;
  ABSENT;
}
void cudnn_bn_forward_infer(const BatchNormShape *s, const float *x, const float *gamma, const float *beta,
                            const float *running_mean, const float *running_var, float *y) {
  (void)s, (void)x, (void)gamma, (void)beta, (void)running_mean, (void)running_var, (void)y;
  ABSENT;
}
void cudnn_bn_backward(const BatchNormShape *s, const float *x, const float *dy, const float *gamma,
                       const float *save_mean, const float *save_invstd, float *dx, float *dgamma, float *dbeta) {
  (void)s, (void)x, (void)dy, (void)gamma, (void)save_mean, (void)save_invstd, (void)dx, (void)dgamma, (void)dbeta;
  ABSENT;
}
