/* The backend interface: a table of operations on device memory.
 *
 * Tensors are NCHW float32 with H = frequency and W = time. Every pointer an
 * operation receives lives in the backend's own memory (host memory for the
 * CPU backend, device memory for CUDA); model and training code move data in
 * and out only through to_device / to_host and never learn which backend they
 * drive. Shapes travel in small plain structs so that a GPU backend can build
 * its descriptors from the same numbers.
 *
 * Conventions shared by all operations:
 *  - outputs are overwritten, never accumulated into (the graph executor sums
 *    the gradients of tensors with several consumers itself);
 *  - a NULL gradient output means "not needed" (e.g. the input gradient of the
 *    first layer) and is skipped;
 *  - parameter gradients are averaged over nothing: the loss is already a
 *    mean over the batch, so gradients are plain derivatives of that mean. */
#ifndef AT_BACKEND_H
#define AT_BACKEND_H

#include <stddef.h>
#include <stdint.h>

/* 2-D convolution (cross-correlation, as in every DL framework).
 * Output size: h_out = (h_in + pad_top + pad_bottom - kh) / stride_h + 1. */
typedef struct ConvShape {
  int n, c_in, h_in, w_in;
  int c_out, h_out, w_out;
  int kh, kw;
  int stride_h, stride_w;
  int pad_top, pad_bottom, pad_left, pad_right;
} ConvShape;

/* Pooling without padding, floor semantics: h_out = (h_in - kh) / stride_h + 1.
 * A global pool over an axis is a window equal to that axis. */
typedef struct PoolShape {
  int n, c, h_in, w_in;
  int h_out, w_out;
  int kh, kw;
  int stride_h, stride_w;
} PoolShape;

typedef enum {
  AT_BN_PER_CHANNEL = 0,   /* one (gamma, beta) per channel, stats over N, H, W */
  AT_BN_PER_FREQUENCY = 1  /* one per frequency row, stats over N, C, W (Keras axis=freq) */
} BatchNormAxis;

typedef struct BatchNormShape {
  int n, c, h, w;
  BatchNormAxis axis;
  float eps;
  float momentum; /* running = (1 - momentum) * running + momentum * batch (PyTorch) */
} BatchNormShape;

static inline int at_bn_features(const BatchNormShape *s) {
  return s->axis == AT_BN_PER_CHANNEL ? s->c : s->h;
}

typedef struct SgdConfig {
  float lr, momentum, dampening, weight_decay;
  int nesterov;
} SgdConfig;

typedef struct AdamConfig {
  float lr, beta1, beta2, eps, weight_decay;
  long step; /* 1 on the first update (bias correction) */
} AdamConfig;

typedef struct Backend Backend;

/* Every operation of the Backend table, once: X(KIND, RETURN, NAME, (PARAMETERS), (ARGUMENTS)).
 * The struct, the CPU table and its declarations (at_cpu_NAME, cpu/cpu_ops.h),
 * the CUDA table and its declarations (at_cuda_NAME) and the list that the
 * backend comparison walks (selftest/backend_compare.c: an operation without a
 * comparison entry fails the tests) are all made from this list. KIND says who
 * writes what:
 *   MEM     memory and streams: each backend wires its own functions;
 *   KERNEL  CPU: at_cpu_NAME; CUDA: a kernel launcher atk_NAME with the same
 *           parameters and a stream last (kernels/), wrapped and checked here
 *           with no more code (cuda/cuda_backend.c makes the wrapper);
 *   CUSTOM  CPU: at_cpu_NAME; CUDA: at_cuda_NAME written by hand (cuBLAS,
 *           cuDNN, reductions that return a value, shapes passed by value).
 * Adding an operation: one line here, at_cpu_NAME, and the kernel. */
#define AT_BACKEND_OPS(X)                                                                                             \
  /* ---- memory ---- */                                                                                              \
  X(MEM, void *, alloc, (size_t bytes), (bytes)) /* 64-byte aligned, zero-filled */                                  \
  X(MEM, void, release, (void *p), (p))                                                                              \
  X(MEM, void, to_device, (void *dst, const void *host_src, size_t bytes), (dst, host_src, bytes))                    \
  X(MEM, void, to_host, (void *host_dst, const void *src, size_t bytes), (host_dst, src, bytes))                      \
  X(MEM, void, copy, (void *dst, const void *src, size_t bytes), (dst, src, bytes))                                   \
  X(MEM, void, synchronize, (void), ())                                                                              \
  /* Input pipelining: host_alloc gives host memory the device copies from                                          \
   * fastest (page-locked on CUDA); upload_async(slot, ...) starts copying                                           \
   * such memory to dst beside the computation (CUDA: a copy stream) and                                             \
   * returns at once; upload_wait(slot) returns when the slot's copies are                                           \
   * done, after which operations see the data and the host buffer may be                                            \
   * reused. Two slots (0, 1): one uploading while the other computes. */                                            \
  X(MEM, void *, host_alloc, (size_t bytes), (bytes))                                                                \
  X(MEM, void, host_release, (void *p), (p))                                                                         \
  X(MEM, void, upload_async, (int slot, void *dst, const void *host_src, size_t bytes), (slot, dst, host_src, bytes)) \
  X(MEM, void, upload_wait, (int slot), (slot))                                                                      \
                                                                                                                      \
  /* ---- elementwise ---- */                                                                                         \
  X(KERNEL, void, fill, (float *x, size_t n, float value), (x, n, value))                                            \
  /* y = a + b (y may alias a or b) */                                                                                \
  X(KERNEL, void, add, (float *y, const float *a, const float *b, size_t n), (y, a, b, n))                           \
  X(KERNEL, void, scale, (float *x, size_t n, float factor), (x, n, factor)) /* x *= factor */                      \
  /* in double, deterministic order */                                                                                \
  X(CUSTOM, double, sum_squares, (const float *x, size_t n), (x, n))                                                 \
  X(CUSTOM, int, all_finite, (const float *x, size_t n), (x, n))                                                     \
                                                                                                                      \
  /* ---- convolution; dx, dw, dbias may each be NULL (no bias: dbias NULL) ---- */                                  \
  X(CUSTOM, void, conv2d_forward, (const ConvShape *s, const float *x, const float *w, const float *bias, float *y),  \
    (s, x, w, bias, y))                                                                                               \
  X(CUSTOM, void, conv2d_backward,                                                                                    \
    (const ConvShape *s, const float *x, const float *w, const float *dy, float *dx, float *dw, float *dbias),       \
    (s, x, w, dy, dx, dw, dbias))                                                                                     \
                                                                                                                      \
  /* ---- pooling: switches[i] = index of the winner inside its input plane                                          \
   * (h * w_in + w); ties go to the first maximum in row-major window order ---- */                                  \
  X(CUSTOM, void, maxpool_forward, (const PoolShape *s, const float *x, float *y, int32_t *switches),                \
    (s, x, y, switches))                                                                                              \
  X(CUSTOM, void, maxpool_backward, (const PoolShape *s, const float *dy, const int32_t *switches, float *dx),       \
    (s, dy, switches, dx))                                                                                            \
  X(CUSTOM, void, avgpool_forward, (const PoolShape *s, const float *x, float *y), (s, x, y))                        \
  X(CUSTOM, void, avgpool_backward, (const PoolShape *s, const float *dy, float *dx), (s, dy, dx))                   \
                                                                                                                      \
  /* ---- batch normalisation. Training: normalise with batch statistics                                             \
   * (biased variance), save mean and 1/sqrt(var + eps) for backward, update                                          \
   * running stats (unbiased variance) ---- */                                                                        \
  X(CUSTOM, void, batchnorm_forward_train,                                                                            \
    (const BatchNormShape *s, const float *x, const float *gamma, const float *beta, float *y, float *save_mean,     \
     float *save_invstd, float *running_mean, float *running_var),                                                   \
    (s, x, gamma, beta, y, save_mean, save_invstd, running_mean, running_var))                                        \
  X(CUSTOM, void, batchnorm_forward_infer,                                                                            \
    (const BatchNormShape *s, const float *x, const float *gamma, const float *beta, const float *running_mean,      \
     const float *running_var, float *y),                                                                             \
    (s, x, gamma, beta, running_mean, running_var, y))                                                                \
  X(CUSTOM, void, batchnorm_backward,                                                                                 \
    (const BatchNormShape *s, const float *x, const float *dy, const float *gamma, const float *save_mean,           \
     const float *save_invstd, float *dx, float *dgamma, float *dbeta),                                               \
    (s, x, dy, gamma, save_mean, save_invstd, dx, dgamma, dbeta))                                                     \
                                                                                                                      \
  /* ---- per-channel batch norm -> ReLU (when relu) -> max-pool as one                                                \
   * operation, for chains whose inner outputs nobody reads (nn/model.c): the                                        \
   * numbers of the operations in turn (bit for bit on the CPU) without the                                          \
   * x-sized tensors between them. training: batch statistics as                                                      \
   * batchnorm_forward_train (saved, running updated), else running statistics                                       \
   * as batchnorm_forward_infer. y, switches: the pool's. Backward: dy is the                                        \
   * pool output's gradient and y the pool output (with relu, y > 0 is the                                           \
   * ReLU's decision at each winner); training 0 backs through the inference map                                      \
   * (a frozen batch norm: dgamma, dbeta untouched). dx, dgamma, dbeta may be NULL ---- */                            \
  X(CUSTOM, void, bn_relu_maxpool_forward,                                                                            \
    (const BatchNormShape *b, const PoolShape *p, int relu, int training, const float *x, const float *gamma,         \
     const float *beta, float *save_mean, float *save_invstd, float *running_mean, float *running_var, float *y,      \
     int32_t *switches),                                                                                              \
    (b, p, relu, training, x, gamma, beta, save_mean, save_invstd, running_mean, running_var, y, switches))           \
  X(CUSTOM, void, bn_relu_maxpool_backward,                                                                           \
    (const BatchNormShape *b, const PoolShape *p, int relu, int training, const float *x, const float *y,            \
     const float *dy, const int32_t *switches, const float *gamma, const float *save_mean, const float *save_invstd, \
     const float *running_var, float *dx, float *dgamma, float *dbeta),                                              \
    (b, p, relu, training, x, y, dy, switches, gamma, save_mean, save_invstd, running_var, dx, dgamma, dbeta))        \
                                                                                                                      \
  /* ---- activations (y may alias x; backward takes the forward output) ---- */                                     \
  X(KERNEL, void, relu_forward, (const float *x, float *y, size_t n), (x, y, n))                                     \
  X(KERNEL, void, relu_backward, (const float *y, const float *dy, float *dx, size_t n), (y, dy, dx, n))             \
  X(KERNEL, void, elu_forward, (const float *x, float *y, size_t n, float alpha), (x, y, n, alpha))                  \
  X(KERNEL, void, elu_backward, (const float *y, const float *dy, float *dx, size_t n, float alpha),                 \
    (y, dy, dx, n, alpha))                                                                                            \
  /* Inverted dropout: keep with probability 1 - p, scale kept values by                                             \
   * 1 / (1 - p). mask[i] = 1 where kept. Element i keeps iff                                                        \
   * at_rng_uniform(seed, stream, i) >= p, so every backend draws the same mask. */                                  \
  X(KERNEL, void, dropout_forward,                                                                                    \
    (const float *x, float *y, uint8_t *mask, size_t n, float p, uint64_t seed, uint64_t stream),                    \
    (x, y, mask, n, p, seed, stream))                                                                                 \
  X(KERNEL, void, dropout_backward, (const float *dy, const uint8_t *mask, float *dx, size_t n, float p),            \
    (dy, mask, dx, n, p))                                                                                             \
                                                                                                                      \
  /* ---- dense: y[n, out] = x[n, in] . w[out, in]^T + b ---- */                                                      \
  X(CUSTOM, void, dense_forward, (int n, int in, int out, const float *x, const float *w, const float *b, float *y), \
    (n, in, out, x, w, b, y))                                                                                         \
  X(CUSTOM, void, dense_backward,                                                                                     \
    (int n, int in, int out, const float *x, const float *w, const float *dy, float *dx, float *dw, float *db),      \
    (n, in, out, x, w, dy, dx, dw, db))                                                                               \
                                                                                                                      \
  /* ---- channel concatenation of k inputs, each [n, c_i, plane] ---- */                                             \
  X(CUSTOM, void, concat_forward,                                                                                     \
    (int n, int plane, int k, const int *channels, const float *const *xs, float *y), (n, plane, k, channels, xs, y)) \
  X(CUSTOM, void, concat_backward,                                                                                    \
    (int n, int plane, int k, const int *channels, const float *dy, float *const *dxs),                              \
    (n, plane, k, channels, dy, dxs))                                                                                 \
                                                                                                                      \
  /* ---- outputs and losses (mean over the batch) ---- */                                                            \
  X(KERNEL, void, sigmoid, (const float *x, float *y, size_t n), (x, y, n))                                          \
  X(KERNEL, void, softmax, (int n, int classes, const float *x, float *y), (n, classes, x, y))                       \
  /* Binary cross-entropy with logits, mean over all n * classes elements.                                           \
   * Returns the loss (computed in double); writes dlogits. */                                                        \
  X(CUSTOM, double, bce_with_logits,                                                                                  \
    (int n, int classes, const float *logits, const float *targets, float *dlogits),                                 \
    (n, classes, logits, targets, dlogits))                                                                           \
  /* Softmax cross-entropy, mean over n. labels[i] in [0, classes). */                                                \
  X(CUSTOM, double, softmax_cross_entropy,                                                                            \
    (int n, int classes, const float *logits, const int32_t *labels, float *dlogits),                                \
    (n, classes, logits, labels, dlogits))                                                                            \
                                                                                                                      \
  /* ---- optimisers (PyTorch semantics; weight decay is L2 added to the gradient) ---- */                           \
  X(CUSTOM, void, sgd_update,                                                                                         \
    (const SgdConfig *c, float *param, const float *grad, float *momentum_buf, size_t n, int first_step),            \
    (c, param, grad, momentum_buf, n, first_step))                                                                    \
  X(CUSTOM, void, adam_update,                                                                                        \
    (const AdamConfig *c, float *param, const float *grad, float *m, float *v, size_t n), (c, param, grad, m, v, n))

/* Helpers for the lists made from AT_BACKEND_OPS. */
#define AT_UNPAREN(...) __VA_ARGS__
#define AT_BACKEND_FIELD(kind, ret, name, params, args) ret(*name) params;
#define AT_BACKEND_COUNT_OP(kind, ret, name, params, args) +1

struct Backend {
  const char *name;
  AT_BACKEND_OPS(AT_BACKEND_FIELD)
};
enum { AT_BACKEND_OP_COUNT = 0 AT_BACKEND_OPS(AT_BACKEND_COUNT_OP) };

/* The CPU backend: always present, the numerical oracle for the others. */
const Backend *at_backend_cpu(void);

/* The layer whose operation runs now (set by the model executor), for error
 * messages such as "out of GPU memory in layer conv3"; NULL outside layers. */
void at_backend_set_layer(const char *name);
const char *at_backend_layer(void);

#endif
