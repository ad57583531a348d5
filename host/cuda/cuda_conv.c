/* Convolutions on the GPU: cuDNN, or the gemm engine (im2col kernel + one
 * cuBLAS GEMM per example, the layout of the CPU backend's im2col path).
 * cuDNN takes symmetric padding only; an asymmetric "same" padding (even
 * kernels such as Pons' 1x60) is applied by copying the input into a
 * zero-padded buffer, and the gradient is cropped back out of it. */
#include <string.h>

#include "cuda/cuda_check.h"
#include "cuda/cuda_internal.h"
#include "cuda/cudnn_ops.h"
#include "kernels.h"

static int asymmetric(const ConvShape *s) { return s->pad_top != s->pad_bottom || s->pad_left != s->pad_right; }

/* The same convolution over the explicitly padded input, with no padding. */
static ConvShape padded_shape(const ConvShape *s) {
  ConvShape p = *s;
  p.h_in = s->h_in + s->pad_top + s->pad_bottom;
  p.w_in = s->w_in + s->pad_left + s->pad_right;
  p.pad_top = p.pad_bottom = p.pad_left = p.pad_right = 0;
  return p;
}

static size_t in_count(const ConvShape *s) { return (size_t)s->n * s->c_in * s->h_in * s->w_in; }

static void gemm_forward(const ConvShape *s, const float *x, const float *w, float *y) {
  const int K = s->c_in * s->kh * s->kw, P = s->h_out * s->w_out;
  float *col = at_cuda_scratch(AT_SCRATCH_COL, (size_t)K * P);
  const size_t x_step = (size_t)s->c_in * s->h_in * s->w_in, y_step = (size_t)s->c_out * P;
  for (int i = 0; i < s->n; i++) {
    atk_im2col(*s, x + i * x_step, col, at_cuda.stream);
    KERNEL_CHECK("im2col");
    at_cuda_sgemm(0, 0, s->c_out, P, K, 1.0f, w, K, col, P, 0.0f, y + i * y_step, P);
  }
}

static void gemm_backward(const ConvShape *s, const float *x, const float *w, const float *dy, float *dx, float *dw) {
  const int K = s->c_in * s->kh * s->kw, P = s->h_out * s->w_out;
  float *col = at_cuda_scratch(AT_SCRATCH_COL, (size_t)K * P);
  const size_t x_step = (size_t)s->c_in * s->h_in * s->w_in, y_step = (size_t)s->c_out * P;
  for (int i = 0; i < s->n; i++) {
    if (dw) {
      atk_im2col(*s, x + i * x_step, col, at_cuda.stream);
      KERNEL_CHECK("im2col");
      /* dw = sum over examples of dy_i . col_i^T, in example order */
      at_cuda_sgemm(0, 1, s->c_out, K, P, 1.0f, dy + i * y_step, P, col, P, i ? 1.0f : 0.0f, dw, K);
    }
    if (dx) {
      at_cuda_sgemm(1, 0, K, P, s->c_out, 1.0f, w, K, dy + i * y_step, P, 0.0f, col, P);
      atk_col2im(*s, col, dx + i * x_step, at_cuda.stream);
      KERNEL_CHECK("col2im");
    }
  }
}

void at_cuda_conv2d_forward(const ConvShape *s, const float *x, const float *w, const float *bias, float *y) {
  at_cuda_select_device();
  if (!at_cuda.cudnn) {
    gemm_forward(s, x, w, y);
  } else if (asymmetric(s)) {
    ConvShape p = padded_shape(s);
    float *xp = at_cuda_scratch(AT_SCRATCH_PAD_X, in_count(&p));
    atk_pad2d(s->n, s->c_in, s->h_in, s->w_in, s->pad_top, s->pad_bottom, s->pad_left, s->pad_right, x, xp,
              at_cuda.stream);
    KERNEL_CHECK("pad2d");
    cudnn_conv_forward(&p, xp, w, y);
  } else {
    cudnn_conv_forward(s, x, w, y);
  }
  if (bias) {
    atk_bias_add(s->n, s->c_out, s->h_out * s->w_out, bias, y, at_cuda.stream);
    KERNEL_CHECK("bias_add");
  }
}

void at_cuda_conv2d_backward(const ConvShape *s, const float *x, const float *w, const float *dy, float *dx, float *dw,
                             float *dbias) {
  at_cuda_select_device();
  if (dbias) {
    atk_bias_grad(s->n, s->c_out, s->h_out * s->w_out, dy, dbias, at_cuda.stream);
    KERNEL_CHECK("bias_grad");
  }
  if (!dx && !dw) return;
  if (!at_cuda.cudnn) {
    gemm_backward(s, x, w, dy, dx, dw);
  } else if (asymmetric(s)) {
    ConvShape p = padded_shape(s);
    float *xp = at_cuda_scratch(AT_SCRATCH_PAD_X, in_count(&p));
    float *dxp = dx ? at_cuda_scratch(AT_SCRATCH_PAD_DX, in_count(&p)) : NULL;
    /* the forward pass's padded copy may have been overwritten by another layer */
    atk_pad2d(s->n, s->c_in, s->h_in, s->w_in, s->pad_top, s->pad_bottom, s->pad_left, s->pad_right, x, xp,
              at_cuda.stream);
    KERNEL_CHECK("pad2d");
    cudnn_conv_backward(&p, xp, w, dy, dxp, dw);
    if (dx) {
      atk_crop2d(s->n, s->c_in, s->h_in, s->w_in, s->pad_top, s->pad_bottom, s->pad_left, s->pad_right, dxp, dx,
                 at_cuda.stream);
      KERNEL_CHECK("crop2d");
    }
  } else {
    cudnn_conv_backward(s, x, w, dy, dx, dw);
  }
}
