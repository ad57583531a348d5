/* Test double of cuDNN 9's legacy convolution and batch-norm API, on the CPU
 * (tests only; ./auratag links the real libcudnn). Signatures come from the
 * real header; the arithmetic is the CPU backend's (at_backend_cpu()). What
 * it models is what cuDNN enforces and what a caller can get wrong:
 *  - a handle belongs to the device current at cudnnCreate; binding it to a
 *    stream of another device is CUDNN_STATUS_BAD_PARAM; a compute call made
 *    while another device is current fails (EXECUTION_FAILED); every data
 *    pointer must be device memory of the handle's device, whole (BAD_PARAM);
 *    a compute call first runs the work queued on the handle's stream, then
 *    computes at once (fake_cuda.h);
 *  - 4-D NCHW float tensors and filters; 2-D cross-correlation, no dilation;
 *    alpha 1 and beta 0 (anything else: NOT_SUPPORTED);
 *  - a few algorithms per direction, each with a workspace size that is a
 *    function of algorithm, math type and shape (larger under tensor-op math
 *    than under FMA) and with cuDNN's determinism (backward-data ALGO_0,
 *    backward-filter ALGO_0 and ALGO_3 use atomics; the others do not). The heuristics
 *    (Get*_v7) and the search (Find*Ex) rank them by a fixed cost; when the
 *    descriptor's math type allows tensor cores (DEFAULT, TENSOR_OP,
 *    ALLOW_CONVERSION), each tensor-core algorithm is listed twice, with
 *    CUDNN_TENSOR_OP_MATH and again with CUDNN_FMA_MATH, as cuDNN does for
 *    float; each entry's .memory is the size for its own math type;
 *  - the math type a call runs in is the descriptor's at the call: the
 *    tensor-core kernel of an algorithm that has one under TENSOR_OP (or
 *    ALLOW_CONVERSION), its inputs rounded to TF32 as tensor cores round
 *    them; under DEFAULT or FMA, the FMA kernel. The *WorkspaceSize queries
 *    answer for the kernel the descriptor's current math type selects, and a
 *    call given less workspace than its kernel needs answers BAD_PARAM — so
 *    a size asked under one math type and used under another shows;
 *  - Find*Ex runs every candidate on the caller's buffers, as cuDNN does,
 *    and leaves garbage (NaN) in the output buffer it was given; a candidate
 *    needing more workspace than given reports CUDNN_STATUS_ALLOC_FAILED;
 *  - batch norm per channel (SPATIAL) with cuDNN's conventions: running
 *    averages with the unbiased variance, saved mean and 1/sqrt(var + eps),
 *    optional running and saved buffers;
 *  - fake_cudnn.h: algorithms that fail when run, and what ran last.
 * Not modelled: timing (a candidate's "time" is a fixed cost), other
 * layouts, types and modes, groups, dilation, per-algorithm numerics beyond
 * TF32 (every algorithm computes the CPU backend's result), the real
 * heuristics' choices, the compute capability (tensor-op variants are
 * offered as on sm_80 and later; the runtime double refuses older devices'
 * kernels anyway). Not thread-safe: the callers serialise GPU work. */
#include <cudnn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "fake_cuda.h"
#include "fake_cudnn.h"
#include "nn/backend.h"

int fake_cudnn_fail_algo_fwd = FAKE_CUDNN_NO_ALGO, fake_cudnn_fail_algo_data = FAKE_CUDNN_NO_ALGO,
    fake_cudnn_fail_algo_filter = FAKE_CUDNN_NO_ALGO;
int fake_cudnn_fail_status = CUDNN_STATUS_EXECUTION_FAILED;
FakeCudnnRuns fake_cudnn_runs[FAKE_CUDNN_DIRECTIONS] = {{-1, -1, 0, 0, 0}, {-1, -1, 0, 0, 0}, {-1, -1, 0, 0, 0}};
long fake_cudnn_searches;
long fake_cudnn_bn_calls;

struct cudnnContext {
  int device;
  cudaStream_t stream;
};
struct cudnnTensorStruct {
  int set, n, c, h, w;
};
struct cudnnFilterStruct {
  int set, k, c, h, w;
};
struct cudnnConvolutionStruct {
  int set, pad_h, pad_w, stride_h, stride_w;
  cudnnMathType_t math;
};

/* ---- library, handle, descriptors ---- */

size_t cudnnGetVersion(void) { return CUDNN_VERSION; }

const char *cudnnGetErrorString(cudnnStatus_t status) {
  switch (status) {
  case CUDNN_STATUS_SUCCESS: return "CUDNN_STATUS_SUCCESS";
  case CUDNN_STATUS_NOT_INITIALIZED: return "CUDNN_STATUS_NOT_INITIALIZED";
  case CUDNN_STATUS_BAD_PARAM: return "CUDNN_STATUS_BAD_PARAM";
  case CUDNN_STATUS_NOT_SUPPORTED: return "CUDNN_STATUS_NOT_SUPPORTED";
  case CUDNN_STATUS_INTERNAL_ERROR: return "CUDNN_STATUS_INTERNAL_ERROR";
  case CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED: return "CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED";
  case CUDNN_STATUS_EXECUTION_FAILED: return "CUDNN_STATUS_EXECUTION_FAILED";
  default: return "CUDNN_STATUS_UNKNOWN";
  }
}

cudnnStatus_t cudnnCreate(cudnnHandle_t *handle) {
  if (!handle) return CUDNN_STATUS_BAD_PARAM;
  cudnnHandle_t h = calloc(1, sizeof *h);
  if (!h) return CUDNN_STATUS_ALLOC_FAILED;
  h->device = fake_cuda_current_device();
  h->stream = NULL; /* the legacy default stream */
  *handle = h;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnDestroy(cudnnHandle_t handle) {
  free(handle);
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetStream(cudnnHandle_t handle, cudaStream_t stream) {
  if (!handle || fake_cuda_stream_device(stream) != handle->device) return CUDNN_STATUS_BAD_PARAM;
  handle->stream = stream;
  return CUDNN_STATUS_SUCCESS;
}

/* Create and destroy, the same for the three descriptor kinds. */
#define DESCRIPTOR_LIFE(Kind, type)                                     \
  cudnnStatus_t cudnnCreate##Kind##Descriptor(type *desc) {             \
    if (!desc) return CUDNN_STATUS_BAD_PARAM;                           \
    *desc = calloc(1, sizeof **desc);                                   \
    return *desc ? CUDNN_STATUS_SUCCESS : CUDNN_STATUS_ALLOC_FAILED;    \
  }                                                                     \
  cudnnStatus_t cudnnDestroy##Kind##Descriptor(type desc) {             \
    free(desc);                                                         \
    return CUDNN_STATUS_SUCCESS;                                        \
  }
DESCRIPTOR_LIFE(Tensor, cudnnTensorDescriptor_t)
DESCRIPTOR_LIFE(Filter, cudnnFilterDescriptor_t)
DESCRIPTOR_LIFE(Convolution, cudnnConvolutionDescriptor_t)

cudnnStatus_t cudnnSetTensor4dDescriptor(cudnnTensorDescriptor_t d, cudnnTensorFormat_t format,
                                         cudnnDataType_t type, int n, int c, int h, int w) {
  if (!d || n <= 0 || c <= 0 || h <= 0 || w <= 0) return CUDNN_STATUS_BAD_PARAM;
  if (format != CUDNN_TENSOR_NCHW || type != CUDNN_DATA_FLOAT) return CUDNN_STATUS_NOT_SUPPORTED;
  *d = (struct cudnnTensorStruct){1, n, c, h, w};
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetFilter4dDescriptor(cudnnFilterDescriptor_t d, cudnnDataType_t type, cudnnTensorFormat_t format,
                                         int k, int c, int h, int w) {
  if (!d || k <= 0 || c <= 0 || h <= 0 || w <= 0) return CUDNN_STATUS_BAD_PARAM;
  if (format != CUDNN_TENSOR_NCHW || type != CUDNN_DATA_FLOAT) return CUDNN_STATUS_NOT_SUPPORTED;
  *d = (struct cudnnFilterStruct){1, k, c, h, w};
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetConvolution2dDescriptor(cudnnConvolutionDescriptor_t d, int pad_h, int pad_w, int u, int v,
                                              int dilation_h, int dilation_w, cudnnConvolutionMode_t mode,
                                              cudnnDataType_t compute) {
  if (!d || pad_h < 0 || pad_w < 0 || u <= 0 || v <= 0 || dilation_h <= 0 || dilation_w <= 0)
    return CUDNN_STATUS_BAD_PARAM;
  if (dilation_h != 1 || dilation_w != 1 || mode != CUDNN_CROSS_CORRELATION || compute != CUDNN_DATA_FLOAT)
    return CUDNN_STATUS_NOT_SUPPORTED;
  /* a fresh descriptor's math type is CUDNN_DEFAULT_MATH (0, from calloc) */
  d->set = 1;
  d->pad_h = pad_h;
  d->pad_w = pad_w;
  d->stride_h = u;
  d->stride_w = v;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetConvolutionMathType(cudnnConvolutionDescriptor_t d, cudnnMathType_t math) {
  if (!d || (math != CUDNN_DEFAULT_MATH && math != CUDNN_TENSOR_OP_MATH &&
             math != CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION && math != CUDNN_FMA_MATH))
    return CUDNN_STATUS_BAD_PARAM;
  d->math = math;
  return CUDNN_STATUS_SUCCESS;
}

static int out_dim(int in, int pad, int k, int stride) { return (in + 2 * pad - k) / stride + 1; }

cudnnStatus_t cudnnGetConvolution2dForwardOutputDim(const cudnnConvolutionDescriptor_t conv,
                                                    const cudnnTensorDescriptor_t x, const cudnnFilterDescriptor_t w,
                                                    int *n, int *c, int *h, int *wd) {
  if (!conv || !x || !w || !conv->set || !x->set || !w->set || !n || !c || !h || !wd) return CUDNN_STATUS_BAD_PARAM;
  if (w->c != x->c || x->h + 2 * conv->pad_h < w->h || x->w + 2 * conv->pad_w < w->w) return CUDNN_STATUS_BAD_PARAM;
  *n = x->n;
  *c = w->k;
  *h = out_dim(x->h, conv->pad_h, w->h, conv->stride_h);
  *wd = out_dim(x->w, conv->pad_w, w->w, conv->stride_w);
  return CUDNN_STATUS_SUCCESS;
}

/* ---- convolution: shapes, algorithms, workspace ---- */

typedef enum { FWD = FAKE_CUDNN_FWD, DATA = FAKE_CUDNN_DATA, FILTER = FAKE_CUDNN_FILTER } Direction;

/* The ConvShape of a convolution whose descriptors agree with each other. */
static cudnnStatus_t conv_shape(const cudnnTensorDescriptor_t x, const cudnnFilterDescriptor_t w,
                                const cudnnConvolutionDescriptor_t conv, const cudnnTensorDescriptor_t y,
                                ConvShape *s) {
  int n, c, h, wd;
  cudnnStatus_t st = cudnnGetConvolution2dForwardOutputDim(conv, x, w, &n, &c, &h, &wd);
  if (st != CUDNN_STATUS_SUCCESS) return st;
  if (!y || !y->set || y->n != n || y->c != c || y->h != h || y->w != wd) return CUDNN_STATUS_BAD_PARAM;
  *s = (ConvShape){.n = n, .c_in = x->c, .h_in = x->h, .w_in = x->w, .c_out = c, .h_out = h, .w_out = wd,
                   .kh = w->h, .kw = w->w, .stride_h = conv->stride_h, .stride_w = conv->stride_w,
                   .pad_top = conv->pad_h, .pad_bottom = conv->pad_h, .pad_left = conv->pad_w,
                   .pad_right = conv->pad_w};
  return CUDNN_STATUS_SUCCESS;
}

static size_t x_count(const ConvShape *s) { return (size_t)s->n * s->c_in * s->h_in * s->w_in; }
static size_t w_count(const ConvShape *s) { return (size_t)s->c_out * s->c_in * s->kh * s->kw; }
static size_t y_count(const ConvShape *s) { return (size_t)s->n * s->c_out * s->h_out * s->w_out; }

/* What an algorithm's FMA kernel needs as workspace. */
typedef enum { WS_NONE, WS_INDICES, WS_COLUMNS, WS_FFT } WorkspaceKind;

typedef struct AlgoInfo {
  int algo;
  int tensor_cores;  /* has a tensor-core kernel */
  int deterministic; /* no atomics */
  double cost;       /* fake milliseconds per GMAC of the FMA kernel (tensor cores: a quarter) */
  WorkspaceKind ws;
} AlgoInfo;

static const AlgoInfo k_fwd[] = {
    {CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM, 1, 1, 1.0, WS_INDICES},
    {CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, 0, 1, 1.5, WS_NONE},
    {CUDNN_CONVOLUTION_FWD_ALGO_GEMM, 0, 1, 2.0, WS_COLUMNS},
    {CUDNN_CONVOLUTION_FWD_ALGO_FFT, 0, 1, 3.0, WS_FFT},
};
static const AlgoInfo k_data[] = {
    {CUDNN_CONVOLUTION_BWD_DATA_ALGO_1, 1, 1, 1.0, WS_COLUMNS},
    {CUDNN_CONVOLUTION_BWD_DATA_ALGO_0, 0, 0, 1.5, WS_NONE},
    {CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT, 0, 1, 3.0, WS_FFT},
};
static const AlgoInfo k_filter[] = {
    {CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1, 1, 1, 1.0, WS_COLUMNS},
    {CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0, 0, 0, 1.5, WS_NONE},
    {CUDNN_CONVOLUTION_BWD_FILTER_ALGO_3, 0, 0, 2.0, WS_INDICES},
    {CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT, 0, 1, 3.0, WS_FFT},
};
enum { MAX_ALGOS = 4, MAX_CANDIDATES = 2 * MAX_ALGOS };

static const AlgoInfo *algos(Direction d, int *count) {
  switch (d) {
  case FWD: *count = (int)(sizeof k_fwd / sizeof k_fwd[0]); return k_fwd;
  case DATA: *count = (int)(sizeof k_data / sizeof k_data[0]); return k_data;
  default: *count = (int)(sizeof k_filter / sizeof k_filter[0]); return k_filter;
  }
}

static const AlgoInfo *algo_info(Direction d, int algo) {
  int n;
  const AlgoInfo *a = algos(d, &n);
  for (int i = 0; i < n; i++)
    if (a[i].algo == algo) return &a[i];
  return NULL;
}

static int fails(Direction d, int algo) {
  const int knob = d == FWD ? fake_cudnn_fail_algo_fwd : d == DATA ? fake_cudnn_fail_algo_data
                                                                   : fake_cudnn_fail_algo_filter;
  return knob == FAKE_CUDNN_EVERY_ALGO || knob == algo;
}

/* Whether the descriptor's math type lets the listings offer tensor cores,
 * and whether a call under it runs an algorithm's tensor-core kernel. */
static int lists_tensor_ops(cudnnMathType_t m) { return m != CUDNN_FMA_MATH; }
static int runs_tensor_ops(const AlgoInfo *a, cudnnMathType_t m) {
  return a->tensor_cores && (m == CUDNN_TENSOR_OP_MATH || m == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION);
}

static size_t workspace_need(const AlgoInfo *a, int tensor_ops, const ConvShape *s) {
  const size_t f = sizeof(float), plane = (size_t)s->h_out * s->w_out, taps = (size_t)s->c_in * s->kh * s->kw;
  size_t fma = 0;
  switch (a->ws) {
  case WS_NONE: fma = 0; break;
  case WS_INDICES: fma = f * (taps + plane); break;
  case WS_COLUMNS: fma = f * taps * plane; break;
  case WS_FFT: fma = 2 * f * (x_count(s) + w_count(s) + y_count(s)); break;
  }
  return tensor_ops ? 2 * fma + ((size_t)1 << 20) : fma;
}

/* One entry of a ranked list: the fields the three perf structs share. */
typedef struct Candidate {
  int algo;
  cudnnStatus_t status;
  float time;
  size_t memory;
  cudnnDeterminism_t determinism;
  cudnnMathType_t math;
} Candidate;

static Candidate candidate(const AlgoInfo *a, int tensor_ops, const ConvShape *s) {
  const double gmac = (double)y_count(s) * (double)s->c_in * s->kh * s->kw / 1e9;
  return (Candidate){a->algo, CUDNN_STATUS_SUCCESS, (float)(a->cost * gmac * (tensor_ops ? 0.25 : 1.0)),
                     workspace_need(a, tensor_ops, s), a->deterministic ? CUDNN_DETERMINISTIC : CUDNN_NON_DETERMINISTIC,
                     tensor_ops ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH};
}

/* Successes before failures, then by time; stable (insertion sort). */
static int ranks_before(const Candidate *a, const Candidate *b) {
  const int ok_a = a->status == CUDNN_STATUS_SUCCESS, ok_b = b->status == CUDNN_STATUS_SUCCESS;
  return ok_a != ok_b ? ok_a : a->time < b->time;
}

static void rank(Candidate *c, int n) {
  for (int i = 1; i < n; i++)
    for (int j = i; j > 0 && ranks_before(&c[j], &c[j - 1]); j--) {
      Candidate t = c[j];
      c[j] = c[j - 1];
      c[j - 1] = t;
    }
}

/* Every algorithm of the direction, tensor-core kernels too where the math
 * type allows them, fastest first. Returns the count. */
static int list_candidates(Direction d, cudnnMathType_t math, const ConvShape *s, Candidate *out) {
  int n_algos, n = 0;
  const AlgoInfo *a = algos(d, &n_algos);
  for (int i = 0; i < n_algos; i++) {
    if (a[i].tensor_cores && lists_tensor_ops(math)) out[n++] = candidate(&a[i], 1, s);
    out[n++] = candidate(&a[i], 0, s);
  }
  rank(out, n);
  return n;
}

/* Copies the first of n candidates into a perf struct array (any direction). */
#define COPY_PERF(perf, cands, n, requested, returned)      \
  do {                                                      \
    int k_ = (n) < (requested) ? (n) : (requested);          \
    for (int i_ = 0; i_ < k_; i_++) {                       \
      memset(&(perf)[i_], 0, sizeof (perf)[i_]);            \
      (perf)[i_].algo = (cands)[i_].algo;                    \
      (perf)[i_].status = (cands)[i_].status;                \
      (perf)[i_].time = (cands)[i_].time;                    \
      (perf)[i_].memory = (cands)[i_].memory;                \
      (perf)[i_].determinism = (cands)[i_].determinism;      \
      (perf)[i_].mathType = (cands)[i_].math;                \
    }                                                       \
    *(returned) = k_;                                       \
  } while (0)

/* ---- convolution: heuristics and workspace queries (no GPU work) ---- */

static cudnnStatus_t heuristics(cudnnHandle_t h, Direction d, const cudnnTensorDescriptor_t x,
                                const cudnnFilterDescriptor_t w, const cudnnConvolutionDescriptor_t conv,
                                const cudnnTensorDescriptor_t y, int requested, int *returned, Candidate *c,
                                int *n) {
  ConvShape s;
  if (!h || requested < 1 || !returned) return CUDNN_STATUS_BAD_PARAM;
  cudnnStatus_t st = conv_shape(x, w, conv, y, &s);
  if (st != CUDNN_STATUS_SUCCESS) return st;
  *n = list_candidates(d, conv->math, &s, c);
  for (int i = 0; i < *n; i++) c[i].time = -1.0f; /* not timed */
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnGetConvolutionForwardAlgorithm_v7(cudnnHandle_t h, const cudnnTensorDescriptor_t x,
                                                     const cudnnFilterDescriptor_t w,
                                                     const cudnnConvolutionDescriptor_t conv,
                                                     const cudnnTensorDescriptor_t y, const int requested,
                                                     int *returned, cudnnConvolutionFwdAlgoPerf_t *perf) {
  Candidate c[MAX_CANDIDATES];
  int n;
  cudnnStatus_t st = heuristics(h, FWD, x, w, conv, y, requested, returned, c, &n);
  if (st == CUDNN_STATUS_SUCCESS) COPY_PERF(perf, c, n, requested, returned);
  return st;
}

cudnnStatus_t cudnnGetConvolutionBackwardDataAlgorithm_v7(cudnnHandle_t h, const cudnnFilterDescriptor_t w,
                                                          const cudnnTensorDescriptor_t dy,
                                                          const cudnnConvolutionDescriptor_t conv,
                                                          const cudnnTensorDescriptor_t dx, const int requested,
                                                          int *returned, cudnnConvolutionBwdDataAlgoPerf_t *perf) {
  Candidate c[MAX_CANDIDATES];
  int n;
  cudnnStatus_t st = heuristics(h, DATA, dx, w, conv, dy, requested, returned, c, &n);
  if (st == CUDNN_STATUS_SUCCESS) COPY_PERF(perf, c, n, requested, returned);
  return st;
}

cudnnStatus_t cudnnGetConvolutionBackwardFilterAlgorithm_v7(cudnnHandle_t h, const cudnnTensorDescriptor_t x,
                                                            const cudnnTensorDescriptor_t dy,
                                                            const cudnnConvolutionDescriptor_t conv,
                                                            const cudnnFilterDescriptor_t dw, const int requested,
                                                            int *returned,
                                                            cudnnConvolutionBwdFilterAlgoPerf_t *perf) {
  Candidate c[MAX_CANDIDATES];
  int n;
  cudnnStatus_t st = heuristics(h, FILTER, x, dw, conv, dy, requested, returned, c, &n);
  if (st == CUDNN_STATUS_SUCCESS) COPY_PERF(perf, c, n, requested, returned);
  return st;
}

/* The workspace the algorithm's kernel under the descriptor's math type needs. */
static cudnnStatus_t workspace_size(cudnnHandle_t h, Direction d, const cudnnTensorDescriptor_t x,
                                    const cudnnFilterDescriptor_t w, const cudnnConvolutionDescriptor_t conv,
                                    const cudnnTensorDescriptor_t y, int algo, size_t *bytes) {
  ConvShape s;
  if (!h || !bytes) return CUDNN_STATUS_BAD_PARAM;
  cudnnStatus_t st = conv_shape(x, w, conv, y, &s);
  if (st != CUDNN_STATUS_SUCCESS) return st;
  const AlgoInfo *a = algo_info(d, algo);
  if (!a) return CUDNN_STATUS_NOT_SUPPORTED;
  *bytes = workspace_need(a, runs_tensor_ops(a, conv->math), &s);
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnGetConvolutionForwardWorkspaceSize(cudnnHandle_t h, const cudnnTensorDescriptor_t x,
                                                      const cudnnFilterDescriptor_t w,
                                                      const cudnnConvolutionDescriptor_t conv,
                                                      const cudnnTensorDescriptor_t y, cudnnConvolutionFwdAlgo_t algo,
                                                      size_t *bytes) {
  return workspace_size(h, FWD, x, w, conv, y, (int)algo, bytes);
}

cudnnStatus_t cudnnGetConvolutionBackwardDataWorkspaceSize(cudnnHandle_t h, const cudnnFilterDescriptor_t w,
                                                           const cudnnTensorDescriptor_t dy,
                                                           const cudnnConvolutionDescriptor_t conv,
                                                           const cudnnTensorDescriptor_t dx,
                                                           cudnnConvolutionBwdDataAlgo_t algo, size_t *bytes) {
  return workspace_size(h, DATA, dx, w, conv, dy, (int)algo, bytes);
}

cudnnStatus_t cudnnGetConvolutionBackwardFilterWorkspaceSize(cudnnHandle_t h, const cudnnTensorDescriptor_t x,
                                                             const cudnnTensorDescriptor_t dy,
                                                             const cudnnConvolutionDescriptor_t conv,
                                                             const cudnnFilterDescriptor_t dw,
                                                             cudnnConvolutionBwdFilterAlgo_t algo, size_t *bytes) {
  return workspace_size(h, FILTER, x, dw, conv, dy, (int)algo, bytes);
}

/* ---- convolution: running ---- */

/* A compute call may run: a handle, on the device it was made on. */
static cudnnStatus_t handle_ready(cudnnHandle_t h) {
  if (!h) return CUDNN_STATUS_BAD_PARAM;
  return fake_cuda_current_device() == h->device ? CUDNN_STATUS_SUCCESS : CUDNN_STATUS_EXECUTION_FAILED;
}

static int on_device(cudnnHandle_t h, const void *p, size_t floats) {
  return p && fake_cuda_memory_device(p, floats * sizeof(float)) == h->device;
}

static int is_one_zero(const void *alpha, const void *beta) {
  return alpha && beta && *(const float *)alpha == 1.0f && *(const float *)beta == 0.0f;
}

/* The operands of a direction: a and b are read, out is written.
 * FWD: x, w -> y; DATA: w, dy -> dx; FILTER: x, dy -> dw. */
typedef struct ConvArgs {
  Direction d;
  ConvShape s;
  const float *a, *b;
  float *out;
} ConvArgs;

static void operand_counts(const ConvArgs *c, size_t *na, size_t *nb, size_t *nout) {
  const ConvShape *s = &c->s;
  *na = c->d == DATA ? w_count(s) : x_count(s);
  *nb = c->d == FWD ? w_count(s) : y_count(s);
  *nout = c->d == FWD ? y_count(s) : c->d == DATA ? x_count(s) : w_count(s);
}

static int operands_on_device(cudnnHandle_t h, const ConvArgs *c) {
  size_t na, nb, nout;
  operand_counts(c, &na, &nb, &nout);
  return on_device(h, c->a, na) && on_device(h, c->b, nb) && on_device(h, c->out, nout);
}

static float *tf32_copy(const float *p, size_t n) {
  float *r = at_malloc(n * sizeof(float), "TF32 operand");
  for (size_t i = 0; i < n; i++) r[i] = fake_tf32(p[i]);
  return r;
}

/* The direction's result, with the CPU backend, in FP32 or (tensor cores)
 * on TF32-rounded inputs. The backward ops read a zero stand-in for the
 * operand a direction does not have. */
static void compute(const ConvArgs *c, int tensor_ops) {
  const Backend *cpu = at_backend_cpu();
  const ConvShape *s = &c->s;
  size_t na, nb, nout;
  operand_counts(c, &na, &nb, &nout);
  float *ra = tensor_ops ? tf32_copy(c->a, na) : NULL, *rb = tensor_ops ? tf32_copy(c->b, nb) : NULL;
  const float *a = ra ? ra : c->a, *b = rb ? rb : c->b;
  if (c->d == FWD) {
    cpu->conv2d_forward(s, a, b, NULL, c->out);
  } else if (c->d == DATA) {
    float *x0 = at_calloc(x_count(s), sizeof(float), "stand-in input");
    cpu->conv2d_backward(s, x0, a, b, c->out, NULL, NULL);
    free(x0);
  } else {
    float *w0 = at_calloc(w_count(s), sizeof(float), "stand-in weights");
    cpu->conv2d_backward(s, a, w0, b, NULL, c->out, NULL);
    free(w0);
  }
  free(ra);
  free(rb);
}

/* One call of cudnnConvolution{Forward,BackwardData,BackwardFilter}. */
static cudnnStatus_t run_conv(cudnnHandle_t h, const ConvArgs *c, int algo, cudnnMathType_t math, void *ws,
                              size_t ws_bytes) {
  FakeCudnnRuns *r = &fake_cudnn_runs[c->d];
  const AlgoInfo *a = algo_info(c->d, algo);
  cudnnStatus_t st = CUDNN_STATUS_SUCCESS;
  const int tensor_ops = a && runs_tensor_ops(a, math);
  if (!a) st = CUDNN_STATUS_NOT_SUPPORTED;
  else if (!operands_on_device(h, c)) st = CUDNN_STATUS_BAD_PARAM;
  else if (ws_bytes < workspace_need(a, tensor_ops, &c->s)) st = CUDNN_STATUS_BAD_PARAM;
  else if (ws_bytes && (!ws || fake_cuda_memory_device(ws, ws_bytes) != h->device)) st = CUDNN_STATUS_BAD_PARAM;
  else if (fails(c->d, algo)) st = (cudnnStatus_t)fake_cudnn_fail_status;
  if (st != CUDNN_STATUS_SUCCESS) {
    r->failed++;
    return st;
  }
  fake_cuda_stream_run(h->stream);
  compute(c, tensor_ops && fake_tf32_allowed()); /* NVIDIA_TF32_OVERRIDE=0: FP32 products */
  r->algo = algo;
  r->math = tensor_ops ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH;
  r->workspace_bytes = ws_bytes;
  r->calls++;
  return CUDNN_STATUS_SUCCESS;
}

/* The checks every compute call starts with, then its shape. */
static cudnnStatus_t conv_call(cudnnHandle_t h, const void *alpha, const void *beta, const cudnnTensorDescriptor_t x,
                               const cudnnFilterDescriptor_t w, const cudnnConvolutionDescriptor_t conv,
                               const cudnnTensorDescriptor_t y, ConvShape *s) {
  cudnnStatus_t st = handle_ready(h);
  if (st != CUDNN_STATUS_SUCCESS) return st;
  st = conv_shape(x, w, conv, y, s);
  if (st != CUDNN_STATUS_SUCCESS) return st;
  return is_one_zero(alpha, beta) ? CUDNN_STATUS_SUCCESS : CUDNN_STATUS_NOT_SUPPORTED;
}

cudnnStatus_t cudnnConvolutionForward(cudnnHandle_t h, const void *alpha, const cudnnTensorDescriptor_t xd,
                                      const void *x, const cudnnFilterDescriptor_t wd, const void *w,
                                      const cudnnConvolutionDescriptor_t conv, cudnnConvolutionFwdAlgo_t algo,
                                      void *ws, size_t ws_bytes, const void *beta, const cudnnTensorDescriptor_t yd,
                                      void *y) {
  ConvArgs c = {.d = FWD, .a = x, .b = w, .out = y};
  cudnnStatus_t st = conv_call(h, alpha, beta, xd, wd, conv, yd, &c.s);
  return st != CUDNN_STATUS_SUCCESS ? st : run_conv(h, &c, (int)algo, conv->math, ws, ws_bytes);
}

cudnnStatus_t cudnnConvolutionBackwardData(cudnnHandle_t h, const void *alpha, const cudnnFilterDescriptor_t wd,
                                           const void *w, const cudnnTensorDescriptor_t dyd, const void *dy,
                                           const cudnnConvolutionDescriptor_t conv,
                                           cudnnConvolutionBwdDataAlgo_t algo, void *ws, size_t ws_bytes,
                                           const void *beta, const cudnnTensorDescriptor_t dxd, void *dx) {
  ConvArgs c = {.d = DATA, .a = w, .b = dy, .out = dx};
  cudnnStatus_t st = conv_call(h, alpha, beta, dxd, wd, conv, dyd, &c.s);
  return st != CUDNN_STATUS_SUCCESS ? st : run_conv(h, &c, (int)algo, conv->math, ws, ws_bytes);
}

cudnnStatus_t cudnnConvolutionBackwardFilter(cudnnHandle_t h, const void *alpha, const cudnnTensorDescriptor_t xd,
                                             const void *x, const cudnnTensorDescriptor_t dyd, const void *dy,
                                             const cudnnConvolutionDescriptor_t conv,
                                             cudnnConvolutionBwdFilterAlgo_t algo, void *ws, size_t ws_bytes,
                                             const void *beta, const cudnnFilterDescriptor_t dwd, void *dw) {
  ConvArgs c = {.d = FILTER, .a = x, .b = dy, .out = dw};
  cudnnStatus_t st = conv_call(h, alpha, beta, xd, dwd, conv, dyd, &c.s);
  return st != CUDNN_STATUS_SUCCESS ? st : run_conv(h, &c, (int)algo, conv->math, ws, ws_bytes);
}

/* ---- convolution: the search ---- */

/* Runs every candidate on the caller's buffers (a candidate that needs more
 * workspace than given, or fails, is reported with its status), ranks them,
 * and leaves NaN in the output, as a real search leaves whatever its last
 * kernel wrote. */
static cudnnStatus_t search(cudnnHandle_t h, const ConvArgs *args, cudnnMathType_t math, int requested, int *returned,
                            void *ws, size_t ws_bytes, Candidate *c, int *n) {
  cudnnStatus_t st = handle_ready(h);
  if (st != CUDNN_STATUS_SUCCESS) return st;
  if (requested < 1 || !returned || !operands_on_device(h, args)) return CUDNN_STATUS_BAD_PARAM;
  if (ws_bytes && (!ws || fake_cuda_memory_device(ws, ws_bytes) != h->device)) return CUDNN_STATUS_BAD_PARAM;
  fake_cuda_stream_run(h->stream);
  *n = list_candidates(args->d, math, &args->s, c);
  for (int i = 0; i < *n; i++) {
    if (c[i].memory > ws_bytes) c[i].status = CUDNN_STATUS_ALLOC_FAILED;
    else if (fails(args->d, c[i].algo)) c[i].status = (cudnnStatus_t)fake_cudnn_fail_status;
    else compute(args, c[i].math == CUDNN_TENSOR_OP_MATH);
    if (c[i].status != CUDNN_STATUS_SUCCESS) c[i].time = -1.0f;
  }
  rank(c, *n);
  size_t na, nb, nout;
  operand_counts(args, &na, &nb, &nout);
  for (size_t i = 0; i < nout; i++) args->out[i] = __builtin_nanf("");
  fake_cudnn_searches++;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnFindConvolutionForwardAlgorithmEx(cudnnHandle_t h, const cudnnTensorDescriptor_t xd,
                                                     const void *x, const cudnnFilterDescriptor_t wd, const void *w,
                                                     const cudnnConvolutionDescriptor_t conv,
                                                     const cudnnTensorDescriptor_t yd, void *y, const int requested,
                                                     int *returned, cudnnConvolutionFwdAlgoPerf_t *perf, void *ws,
                                                     size_t ws_bytes) {
  ConvArgs a = {.d = FWD, .a = x, .b = w, .out = y};
  Candidate c[MAX_CANDIDATES];
  int n;
  cudnnStatus_t st = conv_shape(xd, wd, conv, yd, &a.s);
  if (st == CUDNN_STATUS_SUCCESS) st = search(h, &a, conv->math, requested, returned, ws, ws_bytes, c, &n);
  if (st == CUDNN_STATUS_SUCCESS) COPY_PERF(perf, c, n, requested, returned);
  return st;
}

cudnnStatus_t cudnnFindConvolutionBackwardDataAlgorithmEx(cudnnHandle_t h, const cudnnFilterDescriptor_t wd,
                                                          const void *w, const cudnnTensorDescriptor_t dyd,
                                                          const void *dy, const cudnnConvolutionDescriptor_t conv,
                                                          const cudnnTensorDescriptor_t dxd, void *dx,
                                                          const int requested, int *returned,
                                                          cudnnConvolutionBwdDataAlgoPerf_t *perf, void *ws,
                                                          size_t ws_bytes) {
  ConvArgs a = {.d = DATA, .a = w, .b = dy, .out = dx};
  Candidate c[MAX_CANDIDATES];
  int n;
  cudnnStatus_t st = conv_shape(dxd, wd, conv, dyd, &a.s);
  if (st == CUDNN_STATUS_SUCCESS) st = search(h, &a, conv->math, requested, returned, ws, ws_bytes, c, &n);
  if (st == CUDNN_STATUS_SUCCESS) COPY_PERF(perf, c, n, requested, returned);
  return st;
}

cudnnStatus_t cudnnFindConvolutionBackwardFilterAlgorithmEx(cudnnHandle_t h, const cudnnTensorDescriptor_t xd,
                                                            const void *x, const cudnnTensorDescriptor_t dyd,
                                                            const void *dy, const cudnnConvolutionDescriptor_t conv,
                                                            const cudnnFilterDescriptor_t dwd, void *dw,
                                                            const int requested, int *returned,
                                                            cudnnConvolutionBwdFilterAlgoPerf_t *perf, void *ws,
                                                            size_t ws_bytes) {
  ConvArgs a = {.d = FILTER, .a = x, .b = dy, .out = dw};
  Candidate c[MAX_CANDIDATES];
  int n;
  cudnnStatus_t st = conv_shape(xd, dwd, conv, dyd, &a.s);
  if (st == CUDNN_STATUS_SUCCESS) st = search(h, &a, conv->math, requested, returned, ws, ws_bytes, c, &n);
  if (st == CUDNN_STATUS_SUCCESS) COPY_PERF(perf, c, n, requested, returned);
  return st;
}

/* ---- batch norm per channel ---- */

cudnnStatus_t cudnnDeriveBNTensorDescriptor(cudnnTensorDescriptor_t derived, const cudnnTensorDescriptor_t x,
                                            cudnnBatchNormMode_t mode) {
  if (!derived || !x || !x->set) return CUDNN_STATUS_BAD_PARAM;
  if (mode != CUDNN_BATCHNORM_SPATIAL) return CUDNN_STATUS_NOT_SUPPORTED;
  *derived = (struct cudnnTensorStruct){1, 1, x->c, 1, 1};
  return CUDNN_STATUS_SUCCESS;
}

static int same_dims(const cudnnTensorDescriptor_t a, const cudnnTensorDescriptor_t b) {
  return a && b && a->set && b->set && a->n == b->n && a->c == b->c && a->h == b->h && a->w == b->w;
}

/* The checks every batch-norm call starts with, then the CPU backend's shape. */
static cudnnStatus_t bn_call(cudnnHandle_t h, cudnnBatchNormMode_t mode, const cudnnTensorDescriptor_t x,
                             const cudnnTensorDescriptor_t y, const cudnnTensorDescriptor_t p, double eps,
                             BatchNormShape *s) {
  cudnnStatus_t st = handle_ready(h);
  if (st != CUDNN_STATUS_SUCCESS) return st;
  if (mode != CUDNN_BATCHNORM_SPATIAL) return CUDNN_STATUS_NOT_SUPPORTED;
  if (!same_dims(x, y) || !p || !p->set || p->n != 1 || p->c != x->c || p->h != 1 || p->w != 1)
    return CUDNN_STATUS_BAD_PARAM;
  if (eps < CUDNN_BN_MIN_EPSILON) return CUDNN_STATUS_BAD_PARAM;
  *s = (BatchNormShape){x->n, x->c, x->h, x->w, AT_BN_PER_CHANNEL, (float)eps, 0.0f};
  return CUDNN_STATUS_SUCCESS;
}

static size_t bn_count(const BatchNormShape *s) { return (size_t)s->n * s->c * s->h * s->w; }

/* Both given (on the device) or both NULL. */
static int optional_pair(cudnnHandle_t h, const void *a, const void *b, size_t floats) {
  return (!a && !b) || (on_device(h, a, floats) && on_device(h, b, floats));
}

cudnnStatus_t cudnnBatchNormalizationForwardTraining(cudnnHandle_t h, cudnnBatchNormMode_t mode, const void *alpha,
                                                     const void *beta, const cudnnTensorDescriptor_t xd,
                                                     const void *x, const cudnnTensorDescriptor_t yd, void *y,
                                                     const cudnnTensorDescriptor_t pd, const void *gamma,
                                                     const void *bn_beta, double factor, void *running_mean,
                                                     void *running_var, double eps, void *save_mean,
                                                     void *save_invstd) {
  BatchNormShape s;
  cudnnStatus_t st = bn_call(h, mode, xd, yd, pd, eps, &s);
  if (st != CUDNN_STATUS_SUCCESS) return st;
  if (!is_one_zero(alpha, beta)) return CUDNN_STATUS_NOT_SUPPORTED;
  const size_t n = bn_count(&s), c = (size_t)s.c;
  if (!on_device(h, x, n) || !on_device(h, y, n) || !on_device(h, gamma, c) || !on_device(h, bn_beta, c) ||
      !optional_pair(h, running_mean, running_var, c) || !optional_pair(h, save_mean, save_invstd, c))
    return CUDNN_STATUS_BAD_PARAM;
  if (n / c < 2) return CUDNN_STATUS_BAD_PARAM; /* the unbiased variance needs two values */
  s.momentum = (float)factor;
  fake_cuda_stream_run(h->stream);
  at_backend_cpu()->batchnorm_forward_train(&s, x, gamma, bn_beta, y, save_mean, save_invstd, running_mean,
                                            running_var);
  fake_cudnn_bn_calls++;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnBatchNormalizationForwardInference(cudnnHandle_t h, cudnnBatchNormMode_t mode, const void *alpha,
                                                      const void *beta, const cudnnTensorDescriptor_t xd,
                                                      const void *x, const cudnnTensorDescriptor_t yd, void *y,
                                                      const cudnnTensorDescriptor_t pd, const void *gamma,
                                                      const void *bn_beta, const void *mean, const void *var,
                                                      double eps) {
  BatchNormShape s;
  cudnnStatus_t st = bn_call(h, mode, xd, yd, pd, eps, &s);
  if (st != CUDNN_STATUS_SUCCESS) return st;
  if (!is_one_zero(alpha, beta)) return CUDNN_STATUS_NOT_SUPPORTED;
  const size_t n = bn_count(&s), c = (size_t)s.c;
  if (!on_device(h, x, n) || !on_device(h, y, n) || !on_device(h, gamma, c) || !on_device(h, bn_beta, c) ||
      !on_device(h, mean, c) || !on_device(h, var, c))
    return CUDNN_STATUS_BAD_PARAM;
  fake_cuda_stream_run(h->stream);
  at_backend_cpu()->batchnorm_forward_infer(&s, x, gamma, bn_beta, mean, var, y);
  fake_cudnn_bn_calls++;
  return CUDNN_STATUS_SUCCESS;
}

/* Without saved statistics, cuDNN recomputes them from x. */
static void bn_statistics(const BatchNormShape *s, const float *x, float *mean, float *invstd) {
  float *y = at_malloc(bn_count(s) * sizeof(float), "batch-norm scratch");
  at_backend_cpu()->batchnorm_forward_train(s, x, NULL, NULL, y, mean, invstd, NULL, NULL);
  free(y);
}

cudnnStatus_t cudnnBatchNormalizationBackward(cudnnHandle_t h, cudnnBatchNormMode_t mode, const void *alpha_data,
                                              const void *beta_data, const void *alpha_param,
                                              const void *beta_param, const cudnnTensorDescriptor_t xd,
                                              const void *x, const cudnnTensorDescriptor_t dyd, const void *dy,
                                              const cudnnTensorDescriptor_t dxd, void *dx,
                                              const cudnnTensorDescriptor_t pd, const void *gamma, void *dgamma,
                                              void *dbeta, double eps, const void *save_mean,
                                              const void *save_invstd) {
  BatchNormShape s;
  cudnnStatus_t st = bn_call(h, mode, xd, dxd, pd, eps, &s);
  if (st != CUDNN_STATUS_SUCCESS) return st;
  if (!same_dims(xd, dyd)) return CUDNN_STATUS_BAD_PARAM;
  if (!is_one_zero(alpha_data, beta_data) || !is_one_zero(alpha_param, beta_param)) return CUDNN_STATUS_NOT_SUPPORTED;
  const size_t n = bn_count(&s), c = (size_t)s.c;
  if (!on_device(h, x, n) || !on_device(h, dy, n) || !on_device(h, dx, n) || !on_device(h, gamma, c) ||
      !on_device(h, dgamma, c) || !on_device(h, dbeta, c) || !optional_pair(h, save_mean, save_invstd, c))
    return CUDNN_STATUS_BAD_PARAM;
  if (!save_mean && n / c < 2) return CUDNN_STATUS_BAD_PARAM;
  fake_cuda_stream_run(h->stream);
  float *mean = NULL, *invstd = NULL;
  if (!save_mean) {
    mean = at_malloc(c * sizeof(float), "batch-norm mean");
    invstd = at_malloc(c * sizeof(float), "batch-norm 1/std");
    bn_statistics(&s, x, mean, invstd);
  }
  at_backend_cpu()->batchnorm_backward(&s, x, dy, gamma, mean ? mean : save_mean, invstd ? invstd : save_invstd, dx,
                                       dgamma, dbeta);
  free(mean);
  free(invstd);
  fake_cudnn_bn_calls++;
  return CUDNN_STATUS_SUCCESS;
}
