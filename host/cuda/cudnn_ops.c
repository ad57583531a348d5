/* All of auratag's cuDNN calls (see cudnn_ops.h). Legacy C API: cuDNN 9
 * marks the convolution and batch-norm entry points deprecated but ships
 * them; the warnings only appear under CUDNN_WARN_DEPRECATED, which this
 * build never defines (engineering.md §5.1).
 *
 * Convolutions: per distinct shape, descriptors and the three algorithms are
 * chosen once and cached. Choice: cudnnGet*Algorithm_v7 heuristics (no GPU
 * work) or, with benchmark = 1, cudnnFind*AlgorithmEx (runs each candidate
 * once, on scratch buffers). An algorithm qualifies when it succeeded, fits
 * the workspace limit, is deterministic if asked, and does not use tensor
 * cores when TF32 is off. One workspace, grown to the largest need, serves
 * every layer. */
#include "cuda/cudnn_ops.h"

#include <cudnn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/cuda_check.h"

#define CUDNN_CHECK(call, what) cudnn_check((call), (what), __FILE__, __LINE__)

static void cudnn_check(cudnnStatus_t st, const char *what, const char *file, int line) {
  if (st == CUDNN_STATUS_SUCCESS) return;
  const char *layer = at_backend_layer();
  at_fatal("cuDNN failed %s%s%s (%s:%d): %s (status %d). If this is an out-of-memory or unsupported-shape error, "
           "try a smaller batch, a lower train.workspace_mb, or --set train.cuda_conv=gemm (no cuDNN)",
           what, layer ? " in layer " : "", layer ? layer : "", file, line, cudnnGetErrorString(st), (int)st);
}

typedef struct ConvPlan {
  ConvShape key;
  cudnnTensorDescriptor_t x, y;
  cudnnFilterDescriptor_t w;
  cudnnConvolutionDescriptor_t conv;
  cudnnConvolutionFwdAlgo_t fwd;
  cudnnConvolutionBwdDataAlgo_t bwd_data;
  cudnnConvolutionBwdFilterAlgo_t bwd_filter;
  cudnnMathType_t math_fwd, math_data, math_filter;
  size_t ws_fwd, ws_data, ws_filter;
} ConvPlan;

static struct {
  cudnnHandle_t h;
  cudaStream_t stream;
  CudaOptions opt;
  ConvPlan *plans;
  int n_plans, cap_plans;
  void *ws;
  size_t ws_bytes;
  cudnnTensorDescriptor_t bn_x, bn_param;
  char version[48];
} g;

int cudnn_ops_init(cudaStream_t stream, const CudaOptions *opt, char *why, size_t why_size) {
  size_t v = cudnnGetVersion();
  snprintf(g.version, sizeof g.version, "cuDNN %zu.%zu.%zu", v / 10000, (v / 100) % 100, v % 100);
  if (v / 10000 != CUDNN_MAJOR) {
    snprintf(why, why_size, "%s is loaded but auratag was built against cuDNN %d.%d.%d", g.version, CUDNN_MAJOR,
             CUDNN_MINOR, CUDNN_PATCHLEVEL);
    return -1;
  }
  cudnnStatus_t st = cudnnCreate(&g.h);
  if (st != CUDNN_STATUS_SUCCESS) {
    snprintf(why, why_size, "cudnnCreate failed: %s", cudnnGetErrorString(st));
    return -1;
  }
  CUDNN_CHECK(cudnnSetStream(g.h, stream), "binding the cuDNN handle to the stream");
  g.stream = stream;
  g.opt = *opt;
  CUDNN_CHECK(cudnnCreateTensorDescriptor(&g.bn_x), "creating a tensor descriptor");
  CUDNN_CHECK(cudnnCreateTensorDescriptor(&g.bn_param), "creating a tensor descriptor");
  return 0;
}

const char *cudnn_ops_version(void) { return g.version[0] ? g.version : "cuDNN (not initialised)"; }

static void shape_text(const ConvShape *s, char *buf, size_t size) {
  snprintf(buf, size, "x %dx%dx%dx%d, w %dx%dx%dx%d, stride %dx%d, pad %dx%d", s->n, s->c_in, s->h_in, s->w_in,
           s->c_out, s->c_in, s->kh, s->kw, s->stride_h, s->stride_w, s->pad_top, s->pad_left);
}

/* The workspace, grown to at least bytes (never beyond the limit: plans are
 * chosen under it). */
static void *workspace(size_t bytes) {
  if (bytes <= g.ws_bytes) return g.ws;
  CUDA_CHECK(cudaStreamSynchronize(g.stream), "waiting before growing the cuDNN workspace");
  if (g.ws) CUDA_CHECK(cudaFree(g.ws), "freeing the cuDNN workspace");
  g.ws = NULL;
  g.ws_bytes = 0;
  cudaError_t err = cudaMalloc(&g.ws, bytes);
  if (err != cudaSuccess) {
    const char *layer = at_backend_layer();
    at_fatal("out of GPU memory for the cuDNN workspace%s%s: need %.1f MiB (limit train.workspace_mb = %.0f MiB): %s. "
             "Lower the batch size or train.workspace_mb",
             layer ? " of layer " : "", layer ? layer : "", bytes / 1048576.0, g.opt.workspace_limit / 1048576.0,
             cudaGetErrorString(err));
  }
  g.ws_bytes = bytes;
  return g.ws;
}

/* Index of the first qualifying candidate, or -1. */
#define PICK(perf, count, out_index)                                                                  \
  do {                                                                                                \
    out_index = -1;                                                                                   \
    for (int i_ = 0; i_ < (count); i_++) {                                                            \
      if ((perf)[i_].status != CUDNN_STATUS_SUCCESS) continue;                                        \
      if ((perf)[i_].memory > g.opt.workspace_limit) continue;                                        \
      if (g.opt.deterministic && (perf)[i_].determinism != CUDNN_DETERMINISTIC) continue;             \
      if (!g.opt.tf32 && (perf)[i_].mathType != CUDNN_DEFAULT_MATH && (perf)[i_].mathType != CUDNN_FMA_MATH) \
        continue;                                                                                     \
      out_index = i_;                                                                                 \
      break;                                                                                          \
    }                                                                                                 \
  } while (0)

static void no_algorithm(const ConvShape *s, const char *direction) {
  char shape[160];
  shape_text(s, shape, sizeof shape);
  const char *layer = at_backend_layer();
  at_fatal("cuDNN has no %s%s algorithm for layer %s (%s) within the workspace limit of %.0f MiB. Raise "
           "train.workspace_mb, lower the batch size, or use --set train.cuda_conv=gemm",
           g.opt.deterministic ? "deterministic " : "", direction, layer ? layer : "?", shape,
           g.opt.workspace_limit / 1048576.0);
}

/* The descriptors of a convolution shape; checks that cuDNN's output shape
 * is auratag's. */
static void describe_plan(ConvPlan *p, const ConvShape *s) {
  CUDNN_CHECK(cudnnCreateTensorDescriptor(&p->x), "creating a tensor descriptor");
  CUDNN_CHECK(cudnnCreateTensorDescriptor(&p->y), "creating a tensor descriptor");
  CUDNN_CHECK(cudnnCreateFilterDescriptor(&p->w), "creating a filter descriptor");
  CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&p->conv), "creating a convolution descriptor");
  CUDNN_CHECK(cudnnSetTensor4dDescriptor(p->x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, s->n, s->c_in, s->h_in, s->w_in),
              "describing a convolution input");
  CUDNN_CHECK(cudnnSetTensor4dDescriptor(p->y, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, s->n, s->c_out, s->h_out, s->w_out),
              "describing a convolution output");
  CUDNN_CHECK(cudnnSetFilter4dDescriptor(p->w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, s->c_out, s->c_in, s->kh, s->kw),
              "describing convolution weights");
  CUDNN_CHECK(cudnnSetConvolution2dDescriptor(p->conv, s->pad_top, s->pad_left, s->stride_h, s->stride_w, 1, 1,
                                              CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT),
              "describing a convolution");
  CUDNN_CHECK(cudnnSetConvolutionMathType(p->conv, g.opt.tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH),
              "setting the convolution math type");
  /* the output shape cuDNN computes must be ours */
  int n, c, h, wd;
  CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(p->conv, p->x, p->w, &n, &c, &h, &wd), "computing an output shape");
  if (n != s->n || c != s->c_out || h != s->h_out || wd != s->w_out) {
    char shape[160];
    shape_text(s, shape, sizeof shape);
    at_fatal("internal: cuDNN computes output %dx%dx%dx%d for %s, auratag %dx%dx%dx%d", n, c, h, wd, shape, s->n,
             s->c_out, s->h_out, s->w_out);
  }
}

/* Candidate algorithms of the three directions, best first: timed on the
 * real buffers (train.cudnn_benchmark) or from cuDNN's heuristics. */
typedef struct AlgoCandidates {
  cudnnConvolutionFwdAlgoPerf_t fp[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
  cudnnConvolutionBwdDataAlgoPerf_t dp[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
  cudnnConvolutionBwdFilterAlgoPerf_t wp[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
  int nf, nd, nw;
} AlgoCandidates;

static void rank_algorithms(ConvPlan *p, const ConvShape *s, const float *x, const float *w, float *scratch_y,
                            AlgoCandidates *a) {
  cudnnConvolutionFwdAlgoPerf_t *fp = a->fp;
  cudnnConvolutionBwdDataAlgoPerf_t *dp = a->dp;
  cudnnConvolutionBwdFilterAlgoPerf_t *wp = a->wp;
  int nf = 0, nd = 0, nw = 0;
  if (g.opt.benchmark) {
    /* real runs on scratch buffers of the true size, once per shape */
    size_t xb = sizeof(float) * (size_t)s->n * s->c_in * s->h_in * s->w_in;
    size_t wb = sizeof(float) * (size_t)s->c_out * s->c_in * s->kh * s->kw;
    float *dx = NULL, *dw = NULL;
    CUDA_CHECK(cudaMalloc((void **)&dx, xb), "allocating a benchmark buffer");
    CUDA_CHECK(cudaMalloc((void **)&dw, wb), "allocating a benchmark buffer");
    void *ws = workspace(g.opt.workspace_limit);
    CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithmEx(g.h, p->x, x, p->w, w, p->conv, p->y, scratch_y,
                                                       CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &nf, fp, ws, g.ws_bytes),
                "timing forward convolution algorithms");
    CUDNN_CHECK(cudnnFindConvolutionBackwardDataAlgorithmEx(g.h, p->w, w, p->y, scratch_y, p->conv, p->x, dx,
                                                            CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &nd, dp, ws,
                                                            g.ws_bytes),
                "timing backward-data convolution algorithms");
    CUDNN_CHECK(cudnnFindConvolutionBackwardFilterAlgorithmEx(g.h, p->x, x, p->y, scratch_y, p->conv, p->w, dw,
                                                              CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &nw, wp, ws,
                                                              g.ws_bytes),
                "timing backward-filter convolution algorithms");
    CUDA_CHECK(cudaFree(dx), "freeing a benchmark buffer");
    CUDA_CHECK(cudaFree(dw), "freeing a benchmark buffer");
  } else {
    CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(g.h, p->x, p->w, p->conv, p->y, CUDNN_CONVOLUTION_FWD_ALGO_COUNT,
                                                       &nf, fp),
                "choosing a forward convolution algorithm");
    CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(g.h, p->w, p->y, p->conv, p->x,
                                                            CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &nd, dp),
                "choosing a backward-data convolution algorithm");
    CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(g.h, p->x, p->y, p->conv, p->w,
                                                              CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &nw, wp),
                "choosing a backward-filter convolution algorithm");
  }
  a->nf = nf;
  a->nd = nd;
  a->nw = nw;
}

/* The first usable algorithm of each direction and its workspace size. */
static void pick_algorithms(ConvPlan *p, const ConvShape *s, AlgoCandidates *a) {
  cudnnConvolutionFwdAlgoPerf_t *fp = a->fp;
  cudnnConvolutionBwdDataAlgoPerf_t *dp = a->dp;
  cudnnConvolutionBwdFilterAlgoPerf_t *wp = a->wp;
  const int nf = a->nf, nd = a->nd, nw = a->nw;
  int k;
  PICK(fp, nf, k);
  if (k < 0) no_algorithm(s, "forward");
  p->fwd = fp[k].algo;
  p->math_fwd = g.opt.tf32 ? fp[k].mathType : CUDNN_FMA_MATH;
  CUDNN_CHECK(cudnnGetConvolutionForwardWorkspaceSize(g.h, p->x, p->w, p->conv, p->y, p->fwd, &p->ws_fwd),
              "sizing the forward workspace");
  PICK(dp, nd, k);
  if (k < 0) no_algorithm(s, "backward-data");
  p->bwd_data = dp[k].algo;
  p->math_data = g.opt.tf32 ? dp[k].mathType : CUDNN_FMA_MATH;
  CUDNN_CHECK(cudnnGetConvolutionBackwardDataWorkspaceSize(g.h, p->w, p->y, p->conv, p->x, p->bwd_data, &p->ws_data),
              "sizing the backward-data workspace");
  PICK(wp, nw, k);
  if (k < 0) no_algorithm(s, "backward-filter");
  p->bwd_filter = wp[k].algo;
  p->math_filter = g.opt.tf32 ? wp[k].mathType : CUDNN_FMA_MATH;
  CUDNN_CHECK(cudnnGetConvolutionBackwardFilterWorkspaceSize(g.h, p->x, p->y, p->conv, p->w, p->bwd_filter,
                                                             &p->ws_filter),
              "sizing the backward-filter workspace");
}

static ConvPlan *plan_for(const ConvShape *s, const float *x, const float *w, float *scratch_y) {
  for (int i = 0; i < g.n_plans; i++)
    if (memcmp(&g.plans[i].key, s, sizeof *s) == 0) return &g.plans[i];
  if (g.n_plans == g.cap_plans) {
    g.cap_plans = g.cap_plans ? 2 * g.cap_plans : 16;
    g.plans = at_realloc(g.plans, sizeof *g.plans * (size_t)g.cap_plans, "cuDNN convolution plans");
  }
  ConvPlan *p = &g.plans[g.n_plans];
  memset(p, 0, sizeof *p);
  p->key = *s;
  describe_plan(p, s);
  AlgoCandidates candidates;
  rank_algorithms(p, s, x, w, scratch_y, &candidates);
  pick_algorithms(p, s, &candidates);
  g.n_plans++;
  return p;
}

static const float k_one = 1.0f, k_zero = 0.0f;

void cudnn_conv_forward(const ConvShape *s, const float *x, const float *w, float *y) {
  ConvPlan *p = plan_for(s, x, w, y);
  void *ws = workspace(p->ws_fwd);
  CUDNN_CHECK(cudnnSetConvolutionMathType(p->conv, p->math_fwd), "setting the convolution math type");
  CUDNN_CHECK(cudnnConvolutionForward(g.h, &k_one, p->x, x, p->w, w, p->conv, p->fwd, ws, p->ws_fwd, &k_zero, p->y, y),
              "running a forward convolution");
}

void cudnn_conv_backward(const ConvShape *s, const float *x, const float *w, const float *dy, float *dx, float *dw) {
  ConvPlan *p = plan_for(s, x, w, (float *)dy);
  if (dw) {
    void *ws = workspace(p->ws_filter);
    CUDNN_CHECK(cudnnSetConvolutionMathType(p->conv, p->math_filter), "setting the convolution math type");
    CUDNN_CHECK(cudnnConvolutionBackwardFilter(g.h, &k_one, p->x, x, p->y, dy, p->conv, p->bwd_filter, ws,
                                               p->ws_filter, &k_zero, p->w, dw),
                "running a backward-filter convolution");
  }
  if (dx) {
    void *ws = workspace(p->ws_data);
    CUDNN_CHECK(cudnnSetConvolutionMathType(p->conv, p->math_data), "setting the convolution math type");
    CUDNN_CHECK(cudnnConvolutionBackwardData(g.h, &k_one, p->w, w, p->y, dy, p->conv, p->bwd_data, ws, p->ws_data,
                                             &k_zero, p->x, dx),
                "running a backward-data convolution");
  }
}

/* ---- batch norm per channel ---- */

static void bn_describe(const BatchNormShape *s) {
  CUDNN_CHECK(cudnnSetTensor4dDescriptor(g.bn_x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, s->n, s->c, s->h, s->w),
              "describing a batch-norm input");
  CUDNN_CHECK(cudnnDeriveBNTensorDescriptor(g.bn_param, g.bn_x, CUDNN_BATCHNORM_SPATIAL),
              "describing batch-norm parameters");
}

void cudnn_bn_forward_train(const BatchNormShape *s, const float *x, const float *gamma, const float *beta, float *y,
                            float *save_mean, float *save_invstd, float *running_mean, float *running_var) {
  bn_describe(s);
  /* cuDNN: running = running * (1 - factor) + batch * factor, with the
   * unbiased variance, as PyTorch (selftest pins it against the CPU) */
  CUDNN_CHECK(cudnnBatchNormalizationForwardTraining(g.h, CUDNN_BATCHNORM_SPATIAL, &k_one, &k_zero, g.bn_x, x, g.bn_x, y,
                                                     g.bn_param, gamma, beta, (double)s->momentum, running_mean,
                                                     running_var, (double)s->eps, save_mean, save_invstd),
              "running batch norm (training)");
}

void cudnn_bn_forward_infer(const BatchNormShape *s, const float *x, const float *gamma, const float *beta,
                            const float *running_mean, const float *running_var, float *y) {
  bn_describe(s);
  CUDNN_CHECK(cudnnBatchNormalizationForwardInference(g.h, CUDNN_BATCHNORM_SPATIAL, &k_one, &k_zero, g.bn_x, x, g.bn_x,
                                                      y, g.bn_param, gamma, beta, running_mean, running_var,
                                                      (double)s->eps),
              "running batch norm (inference)");
}

void cudnn_bn_backward(const BatchNormShape *s, const float *x, const float *dy, const float *gamma,
                       const float *save_mean, const float *save_invstd, float *dx, float *dgamma, float *dbeta) {
  bn_describe(s);
  CUDNN_CHECK(cudnnBatchNormalizationBackward(g.h, CUDNN_BATCHNORM_SPATIAL, &k_one, &k_zero, &k_one, &k_zero, g.bn_x,
                                              x, g.bn_x, dy, g.bn_x, dx, g.bn_param, gamma, dgamma, dbeta,
                                              (double)s->eps, save_mean, save_invstd),
              "running batch norm backward");
}
