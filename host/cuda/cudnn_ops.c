/* All of auratag's cuDNN calls (see cudnn_ops.h). Legacy C API: cuDNN 9
 * marks the convolution and batch-norm entry points deprecated but ships
 * them; the warnings only appear under CUDNN_WARN_DEPRECATED, which this
 * build never defines (engineering.md §5.1).
 *
 * Convolutions: per distinct shape, descriptors and a ranked list of
 * candidate algorithms per direction are made once and cached. Ranking:
 * cudnnGet*Algorithm_v7 heuristics (no GPU work) or, with benchmark = 1,
 * cudnnFind*AlgorithmEx (runs each candidate once, on scratch buffers of
 * its own: a search writes into the output it is given). A candidate
 * qualifies when it succeeded, fits the workspace limit, is deterministic
 * if asked, and does not use tensor cores when TF32 is off. A candidate is
 * an (algorithm, math type) pair with the workspace size cuDNN reported for
 * that pair: each call sets that math type on the descriptor and passes
 * that size. A call that fails (a cuDNN error, or no GPU memory for its
 * workspace) moves on to the next candidate, and later calls of that shape
 * and direction start there (PyTorch does the same). One workspace, grown
 * to the largest need, serves every layer. */
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

/* The three directions of a convolution. */
enum { CONV_FWD, CONV_DATA, CONV_FILTER, CONV_DIRECTIONS };
static const char *const k_direction[CONV_DIRECTIONS] = {"forward", "backward-data", "backward-filter"};

/* cuDNN lists a tensor-core and an FMA variant of an algorithm as two
 * entries, so a list can be twice the algorithm count (forward's is the
 * largest). */
enum { MAX_CANDIDATES = 2 * CUDNN_CONVOLUTION_FWD_ALGO_COUNT };

/* One candidate: the algorithm (a cudnnConvolution{Fwd,BwdData,BwdFilter}Algo_t),
 * the math type to set for it, and the workspace that pair needs; then what
 * its call answered if it failed (for the message when none is left). */
typedef struct ConvAlgo {
  int algo;
  cudnnMathType_t math;
  size_t ws;
  cudnnStatus_t answer;
  int no_memory; /* its workspace could not be allocated */
} ConvAlgo;

typedef struct ConvCandidates {
  ConvAlgo c[MAX_CANDIDATES]; /* best first */
  int n;
  int next; /* where calls start: the ones before it failed */
} ConvCandidates;

typedef struct ConvPlan {
  ConvShape key;
  cudnnTensorDescriptor_t x, y;
  cudnnFilterDescriptor_t w;
  cudnnConvolutionDescriptor_t conv;
  ConvCandidates dir[CONV_DIRECTIONS];
} ConvPlan;

static struct {
  cudnnHandle_t h;
  cudaStream_t stream;
  CudaOptions opt;
  ConvPlan *plans;
  int n_plans, cap_plans;
  void *ws;
  size_t ws_bytes;
  int fallback_noted;
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

static size_t x_bytes(const ConvShape *s) { return sizeof(float) * (size_t)s->n * s->c_in * s->h_in * s->w_in; }
static size_t w_bytes(const ConvShape *s) { return sizeof(float) * (size_t)s->c_out * s->c_in * s->kh * s->kw; }
static size_t y_bytes(const ConvShape *s) { return sizeof(float) * (size_t)s->n * s->c_out * s->h_out * s->w_out; }

/* The workspace, grown to at least bytes (never beyond the limit: candidates
 * are chosen under it). Returns 0 when the GPU has not that much free, the
 * error cleared so that the caller can try a candidate that needs less. */
static int workspace(size_t bytes, void **ws) {
  if (bytes <= g.ws_bytes) {
    *ws = g.ws;
    return 1;
  }
  CUDA_CHECK(cudaStreamSynchronize(g.stream), "waiting before growing the cuDNN workspace");
  if (g.ws) CUDA_CHECK(cudaFree(g.ws), "freeing the cuDNN workspace");
  g.ws = NULL;
  g.ws_bytes = 0;
  cudaError_t err = cudaMalloc(&g.ws, bytes);
  if (err == cudaErrorMemoryAllocation) {
    (void)cudaGetLastError(); /* not sticky: clear it, or the next kernel's check would report it */
    g.ws = NULL;
    return 0;
  }
  CUDA_CHECK(err, "allocating the cuDNN workspace");
  g.ws_bytes = bytes;
  *ws = g.ws;
  return 1;
}

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
  /* what the ranking may offer: tensor-core variants only with TF32 on */
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
 * real inputs (train.cudnn_benchmark) or from cuDNN's heuristics. */
typedef struct AlgoCandidates {
  cudnnConvolutionFwdAlgoPerf_t fp[MAX_CANDIDATES];
  cudnnConvolutionBwdDataAlgoPerf_t dp[MAX_CANDIDATES];
  cudnnConvolutionBwdFilterAlgoPerf_t wp[MAX_CANDIDATES];
  int nf, nd, nw;
} AlgoCandidates;

/* The search's workspace: the limit, or as much of it as the GPU has free
 * (candidates that need more are reported failed by the search). */
static size_t search_workspace(void **ws) {
  size_t bytes = g.opt.workspace_limit;
  while (!workspace(bytes, ws)) bytes = bytes > ((size_t)1 << 20) ? bytes / 2 : 0;
  return bytes;
}

/* cudnnFind*Ex on buffers of its own: the search writes into the output it
 * is given (y, dx, dw), so a caller's buffer — dy, above all, when a
 * backward pass is the first to meet a shape — must never be one. The
 * backward searches read the forward search's y as their dy. */
static void search_algorithms(ConvPlan *p, const ConvShape *s, const float *x, const float *w, AlgoCandidates *a) {
  float *y = NULL, *dx = NULL, *dw = NULL;
  CUDA_CHECK(cudaMalloc((void **)&y, y_bytes(s)), "allocating a benchmark buffer");
  CUDA_CHECK(cudaMalloc((void **)&dx, x_bytes(s)), "allocating a benchmark buffer");
  CUDA_CHECK(cudaMalloc((void **)&dw, w_bytes(s)), "allocating a benchmark buffer");
  void *ws;
  const size_t ws_bytes = search_workspace(&ws);
  CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithmEx(g.h, p->x, x, p->w, w, p->conv, p->y, y, MAX_CANDIDATES, &a->nf,
                                                     a->fp, ws, ws_bytes),
              "timing forward convolution algorithms");
  CUDNN_CHECK(cudnnFindConvolutionBackwardDataAlgorithmEx(g.h, p->w, w, p->y, y, p->conv, p->x, dx, MAX_CANDIDATES,
                                                          &a->nd, a->dp, ws, ws_bytes),
              "timing backward-data convolution algorithms");
  CUDNN_CHECK(cudnnFindConvolutionBackwardFilterAlgorithmEx(g.h, p->x, x, p->y, y, p->conv, p->w, dw, MAX_CANDIDATES,
                                                            &a->nw, a->wp, ws, ws_bytes),
              "timing backward-filter convolution algorithms");
  CUDA_CHECK(cudaFree(y), "freeing a benchmark buffer");
  CUDA_CHECK(cudaFree(dx), "freeing a benchmark buffer");
  CUDA_CHECK(cudaFree(dw), "freeing a benchmark buffer");
}

static void rank_algorithms(ConvPlan *p, const ConvShape *s, const float *x, const float *w, AlgoCandidates *a) {
  if (g.opt.benchmark) {
    search_algorithms(p, s, x, w, a);
    return;
  }
  CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(g.h, p->x, p->w, p->conv, p->y, MAX_CANDIDATES, &a->nf, a->fp),
              "choosing a forward convolution algorithm");
  CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(g.h, p->w, p->y, p->conv, p->x, MAX_CANDIDATES, &a->nd,
                                                          a->dp),
              "choosing a backward-data convolution algorithm");
  CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(g.h, p->x, p->y, p->conv, p->w, MAX_CANDIDATES, &a->nw,
                                                            a->wp),
              "choosing a backward-filter convolution algorithm");
}

static int qualifies(cudnnStatus_t status, size_t memory, cudnnDeterminism_t determinism, cudnnMathType_t math) {
  if (status != CUDNN_STATUS_SUCCESS || memory > g.opt.workspace_limit) return 0;
  if (g.opt.deterministic && determinism != CUDNN_DETERMINISTIC) return 0;
  return g.opt.tf32 || math == CUDNN_DEFAULT_MATH || math == CUDNN_FMA_MATH;
}

/* Keeps the qualifying entries of a perf array (any direction's), in order,
 * each with its own math type and workspace size: the size cuDNN reported is
 * for that algorithm under that math type, and only for it. With TF32 off a
 * DEFAULT entry runs as FMA (DEFAULT would allow TF32 on Ampere and later). */
#define KEEP_QUALIFYING(perf, count, out)                                                                   \
  do {                                                                                                      \
    (out)->n = (out)->next = 0;                                                                             \
    for (int i_ = 0; i_ < (count) && i_ < MAX_CANDIDATES; i_++)                                             \
      if (qualifies((perf)[i_].status, (perf)[i_].memory, (perf)[i_].determinism, (perf)[i_].mathType))     \
        (out)->c[(out)->n++] = (ConvAlgo){(int)(perf)[i_].algo,                                             \
                                          g.opt.tf32 ? (perf)[i_].mathType : CUDNN_FMA_MATH,                \
                                          (perf)[i_].memory, CUDNN_STATUS_SUCCESS, 0};                      \
  } while (0)

static void keep_candidates(ConvPlan *p, const ConvShape *s, const AlgoCandidates *a) {
  KEEP_QUALIFYING(a->fp, a->nf, &p->dir[CONV_FWD]);
  KEEP_QUALIFYING(a->dp, a->nd, &p->dir[CONV_DATA]);
  KEEP_QUALIFYING(a->wp, a->nw, &p->dir[CONV_FILTER]);
  for (int d = 0; d < CONV_DIRECTIONS; d++)
    if (p->dir[d].n == 0) no_algorithm(s, k_direction[d]);
}

static ConvPlan *plan_for(const ConvShape *s, const float *x, const float *w) {
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
  rank_algorithms(p, s, x, w, &candidates);
  keep_candidates(p, s, &candidates);
  g.n_plans++;
  return p;
}

/* ---- running a direction: the candidates in turn ---- */

static const float k_one = 1.0f, k_zero = 0.0f;

typedef struct ConvOperands {
  const float *x, *w, *dy;
  float *y, *dx, *dw;
} ConvOperands;

static cudnnStatus_t call_direction(const ConvPlan *p, int d, const ConvAlgo *a, void *ws, const ConvOperands *o) {
  switch (d) {
  case CONV_FWD:
    return cudnnConvolutionForward(g.h, &k_one, p->x, o->x, p->w, o->w, p->conv, (cudnnConvolutionFwdAlgo_t)a->algo,
                                   ws, a->ws, &k_zero, p->y, o->y);
  case CONV_DATA:
    return cudnnConvolutionBackwardData(g.h, &k_one, p->w, o->w, p->y, o->dy, p->conv,
                                        (cudnnConvolutionBwdDataAlgo_t)a->algo, ws, a->ws, &k_zero, p->x, o->dx);
  default:
    return cudnnConvolutionBackwardFilter(g.h, &k_one, p->x, o->x, p->y, o->dy, p->conv,
                                          (cudnnConvolutionBwdFilterAlgo_t)a->algo, ws, a->ws, &k_zero, p->w, o->dw);
  }
}

static const char *math_text(cudnnMathType_t m) {
  return m == CUDNN_TENSOR_OP_MATH || m == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION ? "tensor cores"
         : m == CUDNN_FMA_MATH                                                  ? "FMA"
                                                                                : "default math";
}

/* "algorithm 1 (tensor cores, 2.0 MiB workspace): CUDNN_STATUS_BAD_PARAM" */
static int answer_text(const ConvAlgo *a, char *buf, size_t size) {
  const int mib = a->ws >= ((size_t)1 << 20);
  return snprintf(buf, size, "algorithm %d (%s, %.1f %s workspace): %s", a->algo, math_text(a->math),
                  a->ws / (mib ? 1048576.0 : 1024.0), mib ? "MiB" : "KiB",
                  a->no_memory ? "no GPU memory for its workspace" : cudnnGetErrorString(a->answer));
}

/* The first fallback of the run says so on stderr, once: a GPU or driver
 * that refuses an algorithm is worth knowing about, not worth a line per
 * layer. */
static void note_fallback(const ConvPlan *p, int d, const ConvAlgo *a) {
  if (g.fallback_noted) return;
  g.fallback_noted = 1;
  char shape[160], answer[160];
  shape_text(&p->key, shape, sizeof shape);
  answer_text(a, answer, sizeof answer);
  const char *layer = at_backend_layer();
  fprintf(stderr, "note: cuDNN %s %s in layer %s (%s); using the next candidate (later fallbacks are not reported)\n",
          k_direction[d], answer, layer ? layer : "?", shape);
}

static void no_candidate_left(const ConvPlan *p, int d) {
  char shape[160], answers[MAX_CANDIDATES * 96] = "";
  shape_text(&p->key, shape, sizeof shape);
  size_t len = 0;
  for (int i = 0; i < p->dir[d].n && len < sizeof answers; i++) {
    if (i) len += (size_t)snprintf(answers + len, sizeof answers - len, "; ");
    if (len < sizeof answers) len += (size_t)answer_text(&p->dir[d].c[i], answers + len, sizeof answers - len);
  }
  const char *layer = at_backend_layer();
  at_fatal("cuDNN could not run the %s convolution of layer %s (%s): every candidate failed: %s. Raise "
           "train.workspace_mb, lower the batch size, or use --set train.cuda_conv=gemm (no cuDNN)",
           k_direction[d], layer ? layer : "?", shape, answers);
}

/* Runs direction d with its candidates in turn, from the first that has
 * not failed before; a failure moves the plan on for good. */
static void run_direction(ConvPlan *p, int d, const ConvOperands *o) {
  ConvCandidates *c = &p->dir[d];
  for (; c->next < c->n; c->next++) {
    ConvAlgo *a = &c->c[c->next];
    void *ws;
    if (!workspace(a->ws, &ws)) {
      a->no_memory = 1;
    } else {
      /* the size a->ws is for this algorithm under this math type only */
      CUDNN_CHECK(cudnnSetConvolutionMathType(p->conv, a->math), "setting the convolution math type");
      a->answer = call_direction(p, d, a, ws, o);
      if (a->answer == CUDNN_STATUS_SUCCESS) return;
      (void)cudaGetLastError(); /* a launch cuDNN saw fail must not be blamed on the next kernel */
    }
    note_fallback(p, d, a);
  }
  no_candidate_left(p, d);
}

void cudnn_conv_forward(const ConvShape *s, const float *x, const float *w, float *y) {
  ConvPlan *p = plan_for(s, x, w);
  const ConvOperands o = {.x = x, .w = w, .y = y};
  run_direction(p, CONV_FWD, &o);
}

void cudnn_conv_backward(const ConvShape *s, const float *x, const float *w, const float *dy, float *dx, float *dw) {
  ConvPlan *p = plan_for(s, x, w);
  const ConvOperands o = {.x = x, .w = w, .dy = dy, .dx = dx, .dw = dw};
  if (dw) run_direction(p, CONV_FILTER, &o);
  if (dx) run_direction(p, CONV_DATA, &o);
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
