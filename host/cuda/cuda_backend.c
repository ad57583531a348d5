/* The CUDA backend's table (see cuda_backend.h): memory, the hand-written
 * kernels, cuBLAS for dense layers and GEMMs, and the choice between cuDNN
 * and the gemm engine for convolutions (cuda_conv.c). */
#include "cuda/cuda_backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/cuda_check.h"
#include "cuda/cuda_internal.h"
#include "cuda/cudnn_ops.h"
#include "kernels.h"
#include "nn/backend_registry.h"

CudaContext at_cuda;

void at_cuda_check(cudaError_t err, const char *what, const char *file, int line) {
  if (err == cudaSuccess) return;
  const char *layer = at_backend_layer();
  const char *hint = err == cudaErrorMemoryAllocation ? ". Lower the batch size (train.batch) or free the GPU"
                     : err == cudaErrorInsufficientDriver || err == cudaErrorNoDevice
                         ? ". Check the NVIDIA driver (nvidia-smi) and CUDA_VISIBLE_DEVICES, or use backend = cpu"
                         : "";
  at_fatal("CUDA failed %s%s%s (%s:%d): %s (%s)%s", what, layer ? " in layer " : "", layer ? layer : "", file, line,
           cudaGetErrorString(err), cudaGetErrorName(err), hint);
}

void at_cublas_check(cublasStatus_t st, const char *what, const char *file, int line) {
  if (st == CUBLAS_STATUS_SUCCESS) return;
  const char *layer = at_backend_layer();
  at_fatal("cuBLAS failed %s%s%s (%s:%d): status %d%s", what, layer ? " in layer " : "", layer ? layer : "", file,
           line, (int)st, st == CUBLAS_STATUS_ALLOC_FAILED ? " (out of GPU memory: lower the batch size)" : "");
}

int cuda_device_count(char *why, size_t why_size) {
  int n = 0;
  cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess) {
    snprintf(why, why_size, "%s (%s)", cudaGetErrorString(err), cudaGetErrorName(err));
    (void)cudaGetLastError(); /* clear it */
    return 0;
  }
  if (n == 0) snprintf(why, why_size, "no CUDA device is visible (CUDA_VISIBLE_DEVICES?)");
  return n;
}

void at_cuda_select_device(void) {
  int now = -1;
  if (cudaGetDevice(&now) == cudaSuccess && now == at_cuda.opt.device) return;
  CUDA_CHECK(cudaSetDevice(at_cuda.opt.device), "making the configured GPU current on this thread");
}

/* ---- scratch on the device ---- */

float *at_cuda_scratch(int slot, size_t floats) {
  AT_ASSERT(slot >= 0 && slot < AT_CUDA_SCRATCH_SLOTS);
  if (floats <= at_cuda.scratch_floats[slot]) return at_cuda.scratch[slot];
  CUDA_CHECK(cudaStreamSynchronize(at_cuda.stream), "waiting before growing a scratch buffer");
  if (at_cuda.scratch[slot]) CUDA_CHECK(cudaFree(at_cuda.scratch[slot]), "freeing a scratch buffer");
  at_cuda.scratch[slot] = NULL;
  at_cuda.scratch_floats[slot] = 0;
  CUDA_CHECK(cudaMalloc((void **)&at_cuda.scratch[slot], floats * sizeof(float)), "allocating a scratch buffer");
  at_cuda.scratch_floats[slot] = floats;
  return at_cuda.scratch[slot];
}

/* ---- row-major GEMM through cuBLAS (column-major): C^T = op(B)^T op(A)^T ---- */

void at_cuda_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda, const float *b,
                   int ldb, float beta, float *c, int ldc) {
  CUBLAS_CHECK(cublasSgemm(at_cuda.blas, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, n, m,
                           k, &alpha, b, ldb, a, lda, &beta, c, ldc),
               "multiplying matrices (cublasSgemm)");
}

/* ---- memory ---- */

static void *cuda_alloc(size_t bytes) {
  at_cuda_select_device();
  void *p = NULL;
  if (bytes == 0) bytes = 1;
  bytes = (bytes + 63) & ~(size_t)63;
  cudaError_t err = cudaMalloc(&p, bytes);
  if (err != cudaSuccess) {
    size_t free_b = 0, total_b = 0;
    cudaMemGetInfo(&free_b, &total_b);
    (void)cudaGetLastError();
    at_fatal("out of GPU memory: cannot allocate %.1f MiB (%.0f of %.0f MiB free): %s. Lower the batch size "
             "(train.batch) or use a GPU with more memory",
             bytes / 1048576.0, free_b / 1048576.0, total_b / 1048576.0, cudaGetErrorString(err));
  }
  CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, at_cuda.stream), "zeroing new GPU memory");
  return p;
}

static void cuda_release(void *p) {
  at_cuda_select_device();
  if (!p) return;
  CUDA_CHECK(cudaStreamSynchronize(at_cuda.stream), "waiting before freeing GPU memory");
  CUDA_CHECK(cudaFree(p), "freeing GPU memory");
}

static void cuda_to_device(void *dst, const void *src, size_t bytes) {
  at_cuda_select_device();
  CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, at_cuda.stream), "copying to the GPU");
  /* the caller may reuse its host buffer at once */
  CUDA_CHECK(cudaStreamSynchronize(at_cuda.stream), "copying to the GPU");
}

static void cuda_to_host(void *dst, const void *src, size_t bytes) {
  at_cuda_select_device();
  CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, at_cuda.stream), "copying from the GPU");
  CUDA_CHECK(cudaStreamSynchronize(at_cuda.stream), "copying from the GPU");
}

static void cuda_copy(void *dst, const void *src, size_t bytes) {
  at_cuda_select_device();
  if (dst == src || bytes == 0) return;
  CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, at_cuda.stream), "copying on the GPU");
}

static void cuda_synchronize(void) {
  at_cuda_select_device();
  CUDA_CHECK(cudaStreamSynchronize(at_cuda.stream), "waiting for the GPU");
}

/* ---- input pipelining: page-locked staging, a copy stream, an event per slot ---- */

static void *cuda_host_alloc(size_t bytes) {
  at_cuda_select_device();
  void *p = NULL;
  cudaError_t err = cudaMallocHost(&p, bytes ? bytes : 1);
  if (err != cudaSuccess)
    at_fatal("cannot allocate %.1f MiB of page-locked host memory for batch uploads: %s", bytes / 1048576.0,
             cudaGetErrorString(err));
  memset(p, 0, bytes);
  return p;
}

static void cuda_host_release(void *p) {
  at_cuda_select_device();
  if (p) CUDA_CHECK(cudaFreeHost(p), "freeing page-locked host memory");
}

static void cuda_upload_async(int slot, void *dst, const void *src, size_t bytes) {
  at_cuda_select_device();
  AT_ASSERT(slot == 0 || slot == 1);
  /* The copy stream runs beside the compute stream: without this wait the
   * upload could land before work already queued there (the zeroing of a new
   * buffer, the last step still reading dst) and be overwritten or read
   * half-written. The event covers only what is queued now, so the next
   * batch still uploads while this step computes. */
  CUDA_CHECK(cudaEventRecord(at_cuda.compute_mark, at_cuda.stream), "marking the compute stream before an upload");
  CUDA_CHECK(cudaStreamWaitEvent(at_cuda.copy_stream, at_cuda.compute_mark, 0),
             "ordering an upload after the compute stream");
  CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, at_cuda.copy_stream), "uploading a batch");
  CUDA_CHECK(cudaEventRecord(at_cuda.uploaded[slot], at_cuda.copy_stream), "recording an upload");
}

static void cuda_upload_wait(int slot) {
  at_cuda_select_device();
  AT_ASSERT(slot == 0 || slot == 1);
  /* issued a whole step earlier, the copy is normally long done */
  CUDA_CHECK(cudaEventSynchronize(at_cuda.uploaded[slot]), "waiting for a batch upload");
}

/* ---- elementwise and reductions ---- */

double at_cuda_sum_squares(const float *x, size_t n) {
  at_cuda_select_device();
  atk_sum_squares(x, n, at_cuda.reduce, at_cuda.reduce + ATK_REDUCE_BLOCKS, at_cuda.stream);
  KERNEL_CHECK("sum_squares");
  double s = 0;
  cuda_to_host(&s, at_cuda.reduce + ATK_REDUCE_BLOCKS, sizeof s);
  return s;
}

int at_cuda_all_finite(const float *x, size_t n) {
  at_cuda_select_device();
  atk_count_nonfinite(x, n, at_cuda.count, at_cuda.stream);
  KERNEL_CHECK("count_nonfinite");
  unsigned bad = 0;
  cuda_to_host(&bad, at_cuda.count, sizeof bad);
  return bad == 0;
}

/* ---- pooling ---- */

void at_cuda_maxpool_forward(const PoolShape *s, const float *x, float *y, int32_t *sw) {
  at_cuda_select_device();
  atk_maxpool_forward(*s, x, y, sw, at_cuda.stream);
  KERNEL_CHECK("maxpool_forward");
}

void at_cuda_maxpool_backward(const PoolShape *s, const float *dy, const int32_t *sw, float *dx) {
  at_cuda_select_device();
  atk_maxpool_backward(*s, dy, sw, dx, at_cuda.stream);
  KERNEL_CHECK("maxpool_backward");
}

void at_cuda_avgpool_forward(const PoolShape *s, const float *x, float *y) {
  at_cuda_select_device();
  atk_avgpool_forward(*s, x, y, at_cuda.stream);
  KERNEL_CHECK("avgpool_forward");
}

void at_cuda_avgpool_backward(const PoolShape *s, const float *dy, float *dx) {
  at_cuda_select_device();
  atk_avgpool_backward(*s, dy, dx, at_cuda.stream);
  KERNEL_CHECK("avgpool_backward");
}

/* ---- batch norm: cuDNN per channel, kernels otherwise ---- */

static int bn_uses_cudnn(const BatchNormShape *s) { return at_cuda.cudnn && s->axis == AT_BN_PER_CHANNEL; }

void at_cuda_batchnorm_forward_train(const BatchNormShape *s, const float *x, const float *gamma, const float *beta,
                                  float *y, float *save_mean, float *save_invstd, float *running_mean,
                                  float *running_var) {
  at_cuda_select_device();
  if (bn_uses_cudnn(s) && x != y) {
    cudnn_bn_forward_train(s, x, gamma, beta, y, save_mean, save_invstd, running_mean, running_var);
    return;
  }
  atk_batchnorm_forward_train(*s, x, gamma, beta, y, save_mean, save_invstd, running_mean, running_var,
                              at_cuda.stream);
  KERNEL_CHECK("batchnorm_forward_train");
}

void at_cuda_batchnorm_forward_infer(const BatchNormShape *s, const float *x, const float *gamma, const float *beta,
                                  const float *running_mean, const float *running_var, float *y) {
  at_cuda_select_device();
  if (bn_uses_cudnn(s) && x != y) {
    cudnn_bn_forward_infer(s, x, gamma, beta, running_mean, running_var, y);
    return;
  }
  atk_batchnorm_forward_infer(*s, x, gamma, beta, running_mean, running_var, y, at_cuda.stream);
  KERNEL_CHECK("batchnorm_forward_infer");
}

void at_cuda_batchnorm_backward(const BatchNormShape *s, const float *x, const float *dy, const float *gamma,
                             const float *save_mean, const float *save_invstd, float *dx, float *dgamma,
                             float *dbeta) {
  at_cuda_select_device();
  if (bn_uses_cudnn(s) && dgamma && dbeta) {
    /* cuDNN always writes dx: a scratch one when the caller needs none */
    float *dx_out = dx ? dx : at_cuda_scratch(AT_SCRATCH_BN, (size_t)s->n * s->c * s->h * s->w);
    cudnn_bn_backward(s, x, dy, gamma, save_mean, save_invstd, dx_out, dgamma, dbeta);
    return;
  }
  atk_batchnorm_backward(*s, x, dy, gamma, save_mean, save_invstd, dx, dgamma, dbeta, at_cuda.stream);
  KERNEL_CHECK("batchnorm_backward");
}

/* ---- batch norm -> ReLU -> max-pool: the three operations in turn through
 * one scratch tensor, so that chains share it instead of each keeping two
 * tensors of the convolution's size (the same numbers as the separate
 * operations, by construction) ---- */

void at_cuda_bn_relu_maxpool_forward(const BatchNormShape *b, const PoolShape *p, int relu, int training, const float *x,
                                     const float *gamma, const float *beta, float *save_mean, float *save_invstd,
                                     float *running_mean, float *running_var, float *y, int32_t *switches) {
  at_cuda_select_device();
  const size_t count = (size_t)b->n * b->c * b->h * b->w;
  float *z = at_cuda_scratch(AT_SCRATCH_CHAIN, count);
  if (training)
    at_cuda_batchnorm_forward_train(b, x, gamma, beta, z, save_mean, save_invstd, running_mean, running_var);
  else
    at_cuda_batchnorm_forward_infer(b, x, gamma, beta, running_mean, running_var, z);
  if (relu) {
    atk_relu_forward(z, z, count, at_cuda.stream);
    KERNEL_CHECK("relu_forward (batch norm -> ReLU -> max-pool)");
  }
  at_cuda_maxpool_forward(p, z, y, switches);
}

void at_cuda_bn_relu_maxpool_backward(const BatchNormShape *b, const PoolShape *p, int relu, int training, const float *x,
                                      const float *y, const float *dy, const int32_t *switches, const float *gamma,
                                      const float *save_mean, const float *save_invstd, const float *running_var,
                                      float *dx, float *dgamma, float *dbeta) {
  at_cuda_select_device();
  if (!training && !dx) return;
  const size_t count = (size_t)b->n * b->c * b->h * b->w, pooled = (size_t)p->n * p->c * p->h_out * p->w_out;
  float *dz = at_cuda_scratch(AT_SCRATCH_CHAIN, count);
  float *passed = at_cuda_scratch(AT_SCRATCH_CHAIN_DY, pooled > (size_t)b->c ? pooled : (size_t)b->c);
  if (relu) { /* the ReLU's decision at each winner is the sign of the pooled output */
    atk_relu_backward(y, dy, passed, pooled, at_cuda.stream);
    KERNEL_CHECK("relu_backward (batch norm -> ReLU -> max-pool)");
  }
  at_cuda_maxpool_backward(p, relu ? passed : dy, switches, dz);
  if (training) {
    at_cuda_batchnorm_backward(b, x, dz, gamma, save_mean, save_invstd, dx, dgamma, dbeta);
    return;
  }
  /* frozen: the inference map with mean and beta 0, as the batch norm layer does */
  atk_fill(passed, (size_t)b->c, 0.0f, at_cuda.stream);
  KERNEL_CHECK("fill (batch norm -> ReLU -> max-pool)");
  at_cuda_batchnorm_forward_infer(b, dz, gamma, passed, passed, running_var, dx);
}

/* ---- activations and dropout ---- */

/* ---- dense: y[n, out] = x[n, in] . w[out, in]^T + b ---- */

void at_cuda_dense_forward(int n, int in, int out, const float *x, const float *w, const float *b, float *y) {
  at_cuda_select_device();
  at_cuda_sgemm(0, 1, n, out, in, 1.0f, x, in, w, in, 0.0f, y, out);
  if (b) {
    atk_bias_add(n, out, 1, b, y, at_cuda.stream);
    KERNEL_CHECK("bias_add");
  }
}

void at_cuda_dense_backward(int n, int in, int out, const float *x, const float *w, const float *dy, float *dx,
                                float *dw, float *db) {
  at_cuda_select_device();
  if (dx) at_cuda_sgemm(0, 0, n, in, out, 1.0f, dy, out, w, in, 0.0f, dx, in);
  if (dw) at_cuda_sgemm(1, 0, out, in, n, 1.0f, dy, out, x, in, 0.0f, dw, in);
  if (db) {
    atk_bias_grad(n, out, 1, dy, db, at_cuda.stream);
    KERNEL_CHECK("bias_grad");
  }
}

/* ---- concatenation ---- */

void at_cuda_concat_forward(int n, int plane, int k, const int *channels, const float *const *xs, float *y) {
  at_cuda_select_device();
  int total = 0, off = 0;
  for (int i = 0; i < k; i++) total += channels[i];
  for (int i = 0; i < k; i++) {
    atk_concat_put(n, plane, total, off, channels[i], xs[i], y, at_cuda.stream);
    KERNEL_CHECK("concat_put");
    off += channels[i];
  }
}

void at_cuda_concat_backward(int n, int plane, int k, const int *channels, const float *dy, float *const *dxs) {
  at_cuda_select_device();
  int total = 0, off = 0;
  for (int i = 0; i < k; i++) total += channels[i];
  for (int i = 0; i < k; i++) {
    if (dxs[i]) {
      atk_concat_take(n, plane, total, off, channels[i], dy, dxs[i], at_cuda.stream);
      KERNEL_CHECK("concat_take");
    }
    off += channels[i];
  }
}

/* ---- outputs and losses ---- */

double at_cuda_bce_with_logits(int n, int classes, const float *logits, const float *targets, float *dlogits) {
  at_cuda_select_device();
  atk_bce_with_logits(n, classes, logits, targets, dlogits, at_cuda.reduce, at_cuda.stream);
  KERNEL_CHECK("bce_with_logits");
  double loss = 0;
  cuda_to_host(&loss, at_cuda.reduce, sizeof loss);
  return loss;
}

double at_cuda_softmax_cross_entropy(int n, int classes, const float *logits, const int32_t *labels, float *dlogits) {
  at_cuda_select_device();
  atk_softmax_cross_entropy(n, classes, logits, labels, dlogits, at_cuda.reduce, at_cuda.stream);
  KERNEL_CHECK("softmax_cross_entropy");
  double loss = 0;
  cuda_to_host(&loss, at_cuda.reduce, sizeof loss);
  return loss;
}

/* ---- optimisers ---- */

void at_cuda_sgd_update(const SgdConfig *c, float *param, const float *grad, float *momentum_buf, size_t n,
                            int first_step) {
  at_cuda_select_device();
  atk_sgd_update(*c, param, grad, momentum_buf, n, first_step, at_cuda.stream);
  KERNEL_CHECK("sgd_update");
}

void at_cuda_adam_update(const AdamConfig *c, float *param, const float *grad, float *m, float *v, size_t n) {
  at_cuda_select_device();
  atk_adam_update(*c, param, grad, m, v, n, at_cuda.stream);
  KERNEL_CHECK("adam_update");
}

/* The KERNEL operations: their launcher on the backend's stream, checked. */
#define AT_CUDA_WRAP_MEM(ret, name, params, args)
#define AT_CUDA_WRAP_CUSTOM(ret, name, params, args)
#define AT_CUDA_WRAP_KERNEL(ret, name, params, args) \
  static ret at_cuda_##name params {                 \
    at_cuda_select_device();                         \
    atk_##name(AT_UNPAREN args, at_cuda.stream);     \
    KERNEL_CHECK(#name);                             \
  }
#define AT_CUDA_WRAP(kind, ret, name, params, args) AT_CUDA_WRAP_##kind(ret, name, params, args)
AT_BACKEND_OPS(AT_CUDA_WRAP)

/* memory by hand; every other operation is at_cuda_NAME */
#define AT_CUDA_ENTRY_MEM(name)
#define AT_CUDA_ENTRY_KERNEL(name) .name = at_cuda_##name,
#define AT_CUDA_ENTRY_CUSTOM(name) .name = at_cuda_##name,
#define AT_CUDA_ENTRY(kind, ret, name, params, args) AT_CUDA_ENTRY_##kind(name)

static const Backend cuda_backend = {
    .name = "cuda",
    .alloc = cuda_alloc,
    .release = cuda_release,
    .to_device = cuda_to_device,
    .to_host = cuda_to_host,
    .copy = cuda_copy,
    .synchronize = cuda_synchronize,
    .host_alloc = cuda_host_alloc,
    .host_release = cuda_host_release,
    .upload_async = cuda_upload_async,
    .upload_wait = cuda_upload_wait,
    AT_BACKEND_OPS(AT_CUDA_ENTRY)
};

/* ---- set-up ---- */

/* The kernels' architectures, as the Makefile's CUDA_ARCH built them: SASS
 * for each (it runs on that major version at an equal or higher minor) and
 * PTX for the newest (compiled at load time for it and anything newer). */
#ifndef AT_CUDA_ARCHS
#define AT_CUDA_ARCHS "80 90"
#endif

static int architecture_supported(int cc, char *list, size_t list_size) {
  int newest = 0, ok = 0;
  size_t used = 0;
  list[0] = 0;
  for (const char *p = AT_CUDA_ARCHS; *p;) {
    char *end;
    long a = strtol(p, &end, 10);
    if (end == p) break;
    p = end;
    if (a / 10 == cc / 10 && cc % 10 >= a % 10) ok = 1;
    if (a > newest) newest = (int)a;
    used += (size_t)snprintf(list + used, used < list_size ? list_size - used : 0, "%ssm_%ld", used ? ", " : "", a);
  }
  return ok || (newest && cc >= newest);
}

/* A GPU the binary has no kernels for fails at its first launch with "no
 * kernel image is available": say so before, with the way out. */
static void check_architecture(const struct cudaDeviceProp *prop, int device) {
  char list[128];
  const int cc = prop->major * 10 + prop->minor;
  if (architecture_supported(cc, list, sizeof list)) return;
  at_fatal("GPU %d (%s) has compute capability %d.%d, but this auratag carries GPU code for %s only (each runs on "
           "its major version; the newest also on later GPUs). Rebuild for this GPU with make CUDA_ARCH=\"%d%d %s\" "
           "(the toolkit must support it), or use backend = cpu",
           device, prop->name, prop->major, prop->minor, list, prop->major, prop->minor, AT_CUDA_ARCHS);
}

static void init(const CudaOptions *opt) {
  char why[512] = "";
  int count = cuda_device_count(why, sizeof why);
  if (count <= 0) at_fatal("the CUDA backend cannot start: %s. Use backend = cpu", why);
  if (opt->device < 0 || opt->device >= count)
    at_fatal("cuda.device = %d, but only %d GPU(s) are visible (devices 0..%d; CUDA_VISIBLE_DEVICES picks which)",
             opt->device, count, count - 1);
  at_cuda.opt = *opt;
  if (at_cuda.opt.deterministic) at_cuda.opt.tf32 = 0; /* TF32 rounding is not what the tests compare */
  CUDA_CHECK(cudaSetDevice(opt->device), "selecting the GPU");
  struct cudaDeviceProp prop;
  CUDA_CHECK(cudaGetDeviceProperties(&prop, opt->device), "reading the GPU's properties");
  check_architecture(&prop, opt->device);
  CUDA_CHECK(cudaStreamCreateWithFlags(&at_cuda.stream, cudaStreamNonBlocking), "creating a stream");
  CUDA_CHECK(cudaStreamCreateWithFlags(&at_cuda.copy_stream, cudaStreamNonBlocking), "creating a copy stream");
  for (int i = 0; i < 2; i++)
    CUDA_CHECK(cudaEventCreateWithFlags(&at_cuda.uploaded[i], cudaEventDisableTiming), "creating an event");
  CUDA_CHECK(cudaEventCreateWithFlags(&at_cuda.compute_mark, cudaEventDisableTiming), "creating an event");
  CUBLAS_CHECK(cublasCreate(&at_cuda.blas), "creating the cuBLAS handle");
  CUBLAS_CHECK(cublasSetStream(at_cuda.blas, at_cuda.stream), "binding cuBLAS to the stream");
  CUBLAS_CHECK(cublasSetMathMode(at_cuda.blas, at_cuda.opt.tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH),
               "setting the cuBLAS math mode");
  /* reduction scratch: ATK_REDUCE_BLOCKS partials + the result */
  CUDA_CHECK(cudaMalloc((void **)&at_cuda.reduce, sizeof(double) * (ATK_REDUCE_BLOCKS + 1)),
             "allocating reduction scratch");
  CUDA_CHECK(cudaMalloc((void **)&at_cuda.count, sizeof(unsigned)), "allocating a counter");
  char dnn_why[512] = "";
  at_cuda.cudnn = 0;
  if (at_cuda.opt.conv != AT_CONV_GEMM) {
    at_cuda.cudnn = cudnn_ops_init(at_cuda.stream, &at_cuda.opt, dnn_why, sizeof dnn_why) == 0;
    if (!at_cuda.cudnn && at_cuda.opt.conv == AT_CONV_CUDNN)
      at_fatal("train.cuda_conv = cudnn, but cuDNN cannot be used: %s. Use train.cuda_conv = gemm or auto", dnn_why);
  }
  snprintf(at_cuda.description, sizeof at_cuda.description,
           "%.200s (device %d, sm_%d%d, %.0f GiB); convolutions: %s; math: %s%s", prop.name, opt->device, prop.major,
           prop.minor, prop.totalGlobalMem / 1073741824.0,
           at_cuda.cudnn ? cudnn_ops_version() : "im2col + cuBLAS (gemm engine)",
           at_cuda.opt.tf32 ? "TF32 tensor cores" : "FP32", at_cuda.opt.deterministic ? ", deterministic" : "");
  if (!at_cuda.cudnn && at_cuda.opt.conv == AT_CONV_AUTO && dnn_why[0])
    fprintf(stderr, "note: cuDNN unavailable (%s); convolutions use im2col + cuBLAS\n", dnn_why);
  at_cuda.ready = 1;
}

const Backend *at_backend_cuda(const CudaOptions *opt) {
  CudaOptions defaults = at_cuda_default_options();
  if (!opt) opt = &defaults;
  if (!at_cuda.ready) {
    init(opt);
    return &cuda_backend;
  }
  if (opt->device != at_cuda.opt.device || opt->conv != at_cuda.opt.conv ||
      opt->deterministic != at_cuda.opt.deterministic)
    at_fatal("internal: the CUDA backend was started with other options (one process drives one GPU)");
  at_cuda_select_device(); /* a caller on another thread */
  return &cuda_backend;
}

const char *cuda_backend_description(void) { return at_cuda.ready ? at_cuda.description : "CUDA (not started)"; }
