/* The CUDA backend's cuDNN path (host/cuda/cudnn_ops.c) on the CPU: the
 * cuDNN test double (tests/cuda/fake/cudnn.c) enforces what cuDNN does —
 * a workspace size per algorithm and math type, the search writing into
 * the buffers it is given, the math type set on the descriptor at the call —
 * and computes with the CPU backend (TF32-rounded under tensor-op math).
 * The backend's options are fixed at its first use, so each case runs in a
 * process of its own:
 *  (a) FP32, deterministic: every op and two training steps of Pons'
 *      time-frequency net against the CPU;
 *  (b) benchmark mode: a backward pass first, for a shape never seen, must
 *      leave dy alone and give the CPU's gradients; every op;
 *  (c) TF32: the tensor-core kernels run (not bit-equal to FP32) with the
 *      workspace their math type needs, within TF32's tolerance;
 *  (d) an algorithm that fails when run: the next candidate takes over, and
 *      later calls start there; when all fail, a message that names the
 *      layer, the shape and the way out;
 *  (e) no GPU memory for a workspace: a candidate that needs less runs;
 *  (f) the double's own rules that the cases above rely on. */
#include <cudnn.h>
#include <math.h>
#include <string.h>

#include "cuda/cuda_backend.h"
#include "fake/fake_cuda.h"
#include "fake/fake_cudnn.h"
#include "kernel_test.h"
#include "nn/backend.h"
#include "selftest/backend_compare.h"

static CudaOptions options(int deterministic, int tf32, int benchmark) {
  CudaOptions o = at_cuda_default_options();
  o.conv = AT_CONV_CUDNN; /* stop, rather than take the gemm engine, if cuDNN cannot start */
  o.deterministic = deterministic;
  o.tf32 = tf32;
  o.benchmark = benchmark;
  o.workspace_limit = (size_t)64 << 20;
  return o;
}

/* A case's process counts its own failures (fork copied the parent's), and
 * ends with 0 when its checks passed, 3 when one failed (1 is at_fatal's). */
static void begin_case(void) { failures = 0; }

static void end_case(void) {
  fflush(stdout);
  _exit(failures ? 3 : 0);
}

static void failure_sink(const char *what, double err, double tol, void *ctx) {
  if (!(err <= tol)) compare_print_sink(what, err, tol, ctx);
}

/* ---- one convolution on a backend, from host data ---- */

typedef struct ConvData {
  ConvShape s;
  float *x, *w, *dy; /* inputs, host */
} ConvData;

static size_t count_x(const ConvShape *s) { return (size_t)s->n * s->c_in * s->h_in * s->w_in; }
static size_t count_w(const ConvShape *s) { return (size_t)s->c_out * s->c_in * s->kh * s->kw; }
static size_t count_y(const ConvShape *s) { return (size_t)s->n * s->c_out * s->h_out * s->w_out; }

static ConvData conv_data(int n, int c_in, int h, int w, int c_out, int k, int pad, uint64_t seed) {
  ConvData d = {.s = {.n = n, .c_in = c_in, .h_in = h, .w_in = w, .c_out = c_out, .kh = k, .kw = k,
                      .stride_h = 1, .stride_w = 1, .pad_top = pad, .pad_bottom = pad, .pad_left = pad,
                      .pad_right = pad}};
  d.s.h_out = h + 2 * pad - k + 1;
  d.s.w_out = w + 2 * pad - k + 1;
  d.x = kt_alloc_nan(count_x(&d.s));
  d.w = kt_alloc_nan(count_w(&d.s));
  d.dy = kt_alloc_nan(count_y(&d.s));
  kt_fill_uniform(d.x, count_x(&d.s), -1, 1, seed);
  kt_fill_uniform(d.w, count_w(&d.s), -1, 1, seed + 1);
  kt_fill_uniform(d.dy, count_y(&d.s), -1, 1, seed + 2);
  return d;
}

static void conv_data_free(ConvData *d) {
  free(d->x);
  free(d->w);
  free(d->dy);
}

/* Results of one run: y, dx, dw, and dy as the backend left it. */
typedef struct ConvResult {
  float *y, *dx, *dw, *dy_after;
} ConvResult;

static ConvResult conv_result(const ConvShape *s) {
  return (ConvResult){kt_alloc_nan(count_y(s)), kt_alloc_nan(count_x(s)), kt_alloc_nan(count_w(s)),
                      kt_alloc_nan(count_y(s))};
}

static void conv_result_free(ConvResult *r) {
  free(r->y);
  free(r->dx);
  free(r->dw);
  free(r->dy_after);
}

static void *upload(const Backend *be, const float *host, size_t n) {
  void *p = be->alloc(n * sizeof(float));
  be->to_device(p, host, n * sizeof(float));
  return p;
}

/* Backward first when backward_first (the order the search bug needs),
 * else forward then backward. */
static void conv_run(const Backend *be, const ConvData *d, int backward_first, ConvResult *r) {
  const ConvShape *s = &d->s;
  float *x = upload(be, d->x, count_x(s)), *w = upload(be, d->w, count_w(s)), *dy = upload(be, d->dy, count_y(s));
  float *y = be->alloc(count_y(s) * sizeof(float)), *dx = be->alloc(count_x(s) * sizeof(float));
  float *dw = be->alloc(count_w(s) * sizeof(float));
  if (backward_first) be->conv2d_backward(s, x, w, dy, dx, dw, NULL);
  be->conv2d_forward(s, x, w, NULL, y);
  if (!backward_first) be->conv2d_backward(s, x, w, dy, dx, dw, NULL);
  be->to_host(r->y, y, count_y(s) * sizeof(float));
  be->to_host(r->dx, dx, count_x(s) * sizeof(float));
  be->to_host(r->dw, dw, count_w(s) * sizeof(float));
  be->to_host(r->dy_after, dy, count_y(s) * sizeof(float));
  float *bufs[] = {x, w, dy, y, dx, dw};
  for (int i = 0; i < 6; i++) be->release(bufs[i]);
}

/* max |got - want| / max |want| (backend_compare's measure); NaN: infinite. */
static double rel_err(const float *got, const float *want, size_t n) {
  double diff = 0, scale = 1e-30;
  for (size_t i = 0; i < n; i++) {
    if (isnan(got[i]) || isnan(want[i])) return INFINITY;
    diff = fmax(diff, fabs((double)got[i] - want[i]));
    scale = fmax(scale, fabs((double)want[i]));
  }
  return diff / scale;
}

/* Compares a CUDA run with the CPU's within tol; returns the largest error. */
static double check_against_cpu(const char *what, const ConvData *d, const ConvResult *got, double tol) {
  const ConvShape *s = &d->s;
  ConvResult want = conv_result(s);
  conv_run(at_backend_cpu(), d, 0, &want);
  const double ey = rel_err(got->y, want.y, count_y(s)), edx = rel_err(got->dx, want.dx, count_x(s));
  const double edw = rel_err(got->dw, want.dw, count_w(s));
  printf("%s  %s: y %.2e, dx %.2e, dw %.2e (tolerance %.0e)\n", ey <= tol && edx <= tol && edw <= tol ? "PASS" : "FAIL",
         what, ey, edx, edw, tol);
  CHECK(ey <= tol && edx <= tol && edw <= tol, "%s: y %.2e, dx %.2e, dw %.2e > %.0e", what, ey, edx, edw, tol);
  CHECK(memcmp(got->dy_after, d->dy, count_y(s) * sizeof(float)) == 0, "%s: the backend changed dy", what);
  conv_result_free(&want);
  return fmax(ey, fmax(edx, edw));
}

/* ---- the cases ---- */

static void case_fp32(const void *arg) {
  (void)arg;
  begin_case();
  CudaOptions o = options(1, 0, 0);
  const Backend *cuda = at_backend_cuda(&o), *cpu = at_backend_cpu();
  printf("backend: %s\n", cuda_backend_description());
  CHECK(strstr(cuda_backend_description(), "cuDNN 9") != NULL, "the description does not name cuDNN: %s",
        cuda_backend_description());
  CompareResult ops = backend_compare_ops(cpu, cuda, 1e-5, failure_sink, stdout);
  printf("ops (cuDNN, FP32): %d comparisons, %d failed, worst %.2e (%s)\n", ops.checks, ops.failed, ops.worst,
         ops.worst_what);
  CHECK(ops.failed == 0 && ops.checks > 100, "op comparison: %d of %d failed", ops.failed, ops.checks);
  CompareResult tr = backend_compare_training(cpu, cuda, "configs/models/pons_timefreq.ini", NULL, 0, 3, 2, 1e-4,
                                              failure_sink, stdout, NULL);
  printf("pons_timefreq, 2 steps: %d comparisons, %d failed, worst %.2e\n", tr.checks, tr.failed, tr.worst);
  CHECK(tr.failed == 0 && tr.checks > 0, "pons_timefreq training: %d of %d failed", tr.failed, tr.checks);
  /* SampleCNN: 1-D convolutions over 59,049 samples (a unit frequency axis), a
   * strided first conv, 1x3 pools; narrowed to 8 channels. Its conv biases
   * feed batch norm, which removes them: their gradients are rounding noise
   * that Adam scales to full steps, so they are left out here (the ops
   * comparison checks the bias paths). The batch-norm shifts are held to
   * 3e-2: their gradients are sums over 2 x 59,049 positions that nearly
   * cancel, and Adam turns that rounding into relative differences up to
   * 1.1e-2 after 2 steps (measured; every other tensor agrees to 1e-4). */
  static const char *const samplecnn_narrow[] = {
      "conv0.filters=8", "conv1.filters=8", "conv2.filters=8", "conv3.filters=8", "conv4.filters=8", "conv5.filters=8",
      "conv6.filters=8", "conv7.filters=8", "conv8.filters=8", "conv9.filters=8", "conv10.filters=8",
      "conv0.bias=false", "conv1.bias=false", "conv2.bias=false", "conv3.bias=false", "conv4.bias=false",
      "conv5.bias=false", "conv6.bias=false", "conv7.bias=false", "conv8.bias=false", "conv9.bias=false",
      "conv10.bias=false"};
  CompareResult sc = backend_compare_training(cpu, cuda, "configs/models/samplecnn.ini", samplecnn_narrow, 22, 2, 2,
                                              3e-2, failure_sink, stdout, NULL);
  printf("samplecnn (8 channels), 2 steps: %d comparisons, %d failed, worst %.2e\n", sc.checks, sc.failed, sc.worst);
  CHECK(sc.failed == 0 && sc.checks > 0, "samplecnn training: %d of %d failed", sc.failed, sc.checks);
  /* cuDNN ran, with no call refused */
  for (int d = 0; d < FAKE_CUDNN_DIRECTIONS; d++)
    CHECK(fake_cudnn_runs[d].calls > 0 && fake_cudnn_runs[d].failed == 0, "direction %d: %ld calls, %ld failed", d,
          fake_cudnn_runs[d].calls, fake_cudnn_runs[d].failed);
  CHECK(fake_cudnn_bn_calls > 0, "batch norm never reached cuDNN");
  CHECK(fake_cudnn_searches == 0, "heuristics mode ran the search");
  end_case();
}

static void case_benchmark(const void *arg) {
  (void)arg;
  begin_case();
  CudaOptions o = options(1, 0, 1);
  const Backend *cuda = at_backend_cuda(&o), *cpu = at_backend_cpu();
  ConvData d = conv_data(2, 3, 9, 7, 4, 3, 1, 11);
  ConvResult r = conv_result(&d.s);
  conv_run(cuda, &d, 1, &r);
  check_against_cpu("benchmark, backward before any forward", &d, &r, 1e-5);
  CHECK(fake_cudnn_searches == 3, "the search ran %ld times for one shape (want one per direction)",
        fake_cudnn_searches);
  conv_result_free(&r);
  conv_data_free(&d);
  CompareResult ops = backend_compare_ops(cpu, cuda, 1e-5, failure_sink, stdout);
  printf("ops (cuDNN, benchmark): %d comparisons, %d failed, worst %.2e (%s)\n", ops.checks, ops.failed, ops.worst,
         ops.worst_what);
  CHECK(ops.failed == 0 && ops.checks > 100, "op comparison: %d of %d failed", ops.failed, ops.checks);
  end_case();
}

static void case_tf32(const void *arg) {
  (void)arg;
  begin_case();
  CudaOptions o = options(0, 1, 0);
  at_backend_cuda(&o);
  CHECK(strstr(cuda_backend_description(), "TF32") != NULL, "TF32 is not on: %s", cuda_backend_description());
  ConvData d = conv_data(2, 8, 9, 7, 6, 3, 1, 21);
  ConvResult r = conv_result(&d.s);
  conv_run(at_backend_cuda(&o), &d, 0, &r);
  const double err = check_against_cpu("TF32 tensor cores", &d, &r, 1e-2);
  CHECK(err > 0, "TF32 results are bit-equal to FP32: the tensor-op math type never reached the call");
  const char *names[] = {"forward", "backward-data", "backward-filter"};
  for (int i = 0; i < FAKE_CUDNN_DIRECTIONS; i++)
    CHECK(fake_cudnn_runs[i].math == CUDNN_TENSOR_OP_MATH, "%s ran in math type %d, not on tensor cores", names[i],
          fake_cudnn_runs[i].math);
  conv_result_free(&r);
  conv_data_free(&d);
  end_case();
}

static void case_fallback(const void *arg) {
  (void)arg;
  begin_case();
  CudaOptions o = options(1, 0, 0);
  const Backend *cuda = at_backend_cuda(&o);
  at_backend_set_layer("conv_fallback");
  ConvData d = conv_data(2, 3, 9, 7, 4, 3, 1, 31);
  ConvResult r = conv_result(&d.s);
  conv_run(cuda, &d, 0, &r);
  int first[FAKE_CUDNN_DIRECTIONS];
  for (int i = 0; i < FAKE_CUDNN_DIRECTIONS; i++) first[i] = fake_cudnn_runs[i].algo;
  /* the plan's first choices now fail when run */
  fake_cudnn_fail_algo_fwd = first[FAKE_CUDNN_FWD];
  fake_cudnn_fail_algo_data = first[FAKE_CUDNN_DATA];
  fake_cudnn_fail_algo_filter = first[FAKE_CUDNN_FILTER];
  conv_run(cuda, &d, 0, &r);
  check_against_cpu("first-ranked algorithms failing", &d, &r, 1e-5);
  for (int i = 0; i < FAKE_CUDNN_DIRECTIONS; i++)
    CHECK(fake_cudnn_runs[i].failed == 1 && fake_cudnn_runs[i].algo != first[i],
          "direction %d: %ld failed calls, ran algorithm %d (the failing one: %d)", i, fake_cudnn_runs[i].failed,
          fake_cudnn_runs[i].algo, first[i]);
  /* later calls start at the candidate that worked */
  conv_run(cuda, &d, 0, &r);
  for (int i = 0; i < FAKE_CUDNN_DIRECTIONS; i++)
    CHECK(fake_cudnn_runs[i].failed == 1, "direction %d: the failing algorithm was tried again (%ld failures)", i,
          fake_cudnn_runs[i].failed);
  conv_result_free(&r);
  conv_data_free(&d);
  end_case();
}

static void case_all_fail(const void *arg) {
  (void)arg;
  begin_case();
  CudaOptions o = options(1, 0, 0);
  const Backend *cuda = at_backend_cuda(&o);
  at_backend_set_layer("conv_all_fail");
  fake_cudnn_fail_algo_fwd = FAKE_CUDNN_EVERY_ALGO;
  ConvData d = conv_data(2, 3, 9, 7, 4, 3, 1, 41);
  ConvResult r = conv_result(&d.s);
  conv_run(cuda, &d, 0, &r);
  printf("FAIL  every forward algorithm failed, yet the forward pass returned\n");
  _exit(3);
}

static void case_oom(const void *arg) {
  (void)arg;
  begin_case();
  CudaOptions o = options(0, 0, 0);
  const Backend *cuda = at_backend_cuda(&o);
  at_backend_set_layer("conv_oom");
  ConvData d = conv_data(2, 3, 9, 7, 4, 3, 1, 51);
  const ConvShape *s = &d.s;
  float *x = upload(cuda, d.x, count_x(s)), *w = upload(cuda, d.w, count_w(s)), *dy = upload(cuda, d.dy, count_y(s));
  float *y = cuda->alloc(count_y(s) * sizeof(float)), *dx = cuda->alloc(count_x(s) * sizeof(float));
  float *dw = cuda->alloc(count_w(s) * sizeof(float));
  fake_cuda_fail_after_bytes = 0; /* no allocation from here on: a workspace cannot be had */
  cuda->conv2d_forward(s, x, w, NULL, y);
  cuda->conv2d_backward(s, x, w, dy, dx, dw, NULL);
  fake_cuda_fail_after_bytes = (size_t)-1;
  /* the failed cudaMalloc left no error behind for the next kernel's check */
  float *after = cuda->alloc(sizeof(float));
  cuda->fill(after, 1, 0.0f);
  cuda->release(after);
  ConvResult r = conv_result(s);
  cuda->to_host(r.y, y, count_y(s) * sizeof(float));
  cuda->to_host(r.dx, dx, count_x(s) * sizeof(float));
  cuda->to_host(r.dw, dw, count_w(s) * sizeof(float));
  cuda->to_host(r.dy_after, dy, count_y(s) * sizeof(float));
  check_against_cpu("no memory for a workspace", &d, &r, 1e-5);
  CHECK(fake_cudnn_runs[FAKE_CUDNN_FWD].algo == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM &&
            fake_cudnn_runs[FAKE_CUDNN_DATA].algo == CUDNN_CONVOLUTION_BWD_DATA_ALGO_0 &&
            fake_cudnn_runs[FAKE_CUDNN_FILTER].algo == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0,
        "algorithms run without memory: forward %d, data %d, filter %d (want the ones needing no workspace)",
        fake_cudnn_runs[FAKE_CUDNN_FWD].algo, fake_cudnn_runs[FAKE_CUDNN_DATA].algo,
        fake_cudnn_runs[FAKE_CUDNN_FILTER].algo);
  conv_result_free(&r);
  conv_data_free(&d);
  end_case();
}

/* The double's own rules, which the cases above rely on to fail: the
 * workspace a math type needs, the device a handle and its pointers belong
 * to, and the search writing into its output. */
static void case_double(const void *arg) {
  (void)arg;
  begin_case();
  cudnnHandle_t h;
  cudnnTensorDescriptor_t xd, yd;
  cudnnFilterDescriptor_t wd;
  cudnnConvolutionDescriptor_t cd;
  CHECK(cudnnCreate(&h) == CUDNN_STATUS_SUCCESS && cudnnCreateTensorDescriptor(&xd) == CUDNN_STATUS_SUCCESS &&
            cudnnCreateTensorDescriptor(&yd) == CUDNN_STATUS_SUCCESS &&
            cudnnCreateFilterDescriptor(&wd) == CUDNN_STATUS_SUCCESS &&
            cudnnCreateConvolutionDescriptor(&cd) == CUDNN_STATUS_SUCCESS,
        "creating a handle and descriptors");
  cudnnSetTensor4dDescriptor(xd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 2, 3, 9, 7);
  cudnnSetTensor4dDescriptor(yd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 2, 4, 9, 7);
  cudnnSetFilter4dDescriptor(wd, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, 4, 3, 3, 3);
  cudnnSetConvolution2dDescriptor(cd, 1, 1, 1, 1, 1, 1, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT);
  const cudnnConvolutionFwdAlgo_t algo = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM;
  size_t fma = 0, tensor = 0;
  cudnnSetConvolutionMathType(cd, CUDNN_FMA_MATH);
  cudnnGetConvolutionForwardWorkspaceSize(h, xd, wd, cd, yd, algo, &fma);
  cudnnSetConvolutionMathType(cd, CUDNN_TENSOR_OP_MATH);
  cudnnGetConvolutionForwardWorkspaceSize(h, xd, wd, cd, yd, algo, &tensor);
  CHECK(tensor > fma, "tensor-op workspace %zu bytes, FMA %zu", tensor, fma);
  float *x, *w, *y, host_x[2 * 3 * 9 * 7];
  void *ws;
  cudaMalloc((void **)&x, sizeof host_x);
  cudaMalloc((void **)&w, sizeof(float) * 4 * 3 * 3 * 3);
  cudaMalloc((void **)&y, sizeof(float) * 2 * 4 * 9 * 7);
  cudaMalloc(&ws, tensor);
  /* queued on the default stream, the handle's: its calls run them first */
  cudaMemsetAsync(x, 0, sizeof host_x, NULL);
  cudaMemsetAsync(w, 0, sizeof(float) * 4 * 3 * 3 * 3, NULL);
  const float one = 1, zero = 0;
#define FORWARD(xp, bytes) cudnnConvolutionForward(h, &one, xd, xp, wd, w, cd, algo, ws, bytes, &zero, yd, y)
  CHECK(FORWARD(x, fma) == CUDNN_STATUS_BAD_PARAM, "the FMA size accepted under tensor-op math");
  CHECK(FORWARD(x, tensor) == CUDNN_STATUS_SUCCESS, "the tensor-op size refused");
  CHECK(FORWARD(host_x, tensor) == CUDNN_STATUS_BAD_PARAM, "host memory accepted as x");
  cudaStream_t other;
  cudaSetDevice(1);
  cudaStreamCreateWithFlags(&other, cudaStreamNonBlocking);
  CHECK(FORWARD(x, tensor) == CUDNN_STATUS_EXECUTION_FAILED, "a call with another device current ran");
  cudaSetDevice(0);
  CHECK(cudnnSetStream(h, other) == CUDNN_STATUS_BAD_PARAM, "the handle took a stream of another device");
#undef FORWARD
  cudnnConvolutionFwdAlgoPerf_t perf[16];
  int n = 0;
  CHECK(cudnnFindConvolutionForwardAlgorithmEx(h, xd, x, wd, w, cd, yd, y, 16, &n, perf, ws, tensor) ==
                CUDNN_STATUS_SUCCESS &&
            n > 0 && perf[0].status == CUDNN_STATUS_SUCCESS,
        "the search: %d results", n);
  float back[2 * 4 * 9 * 7];
  cudaMemcpyAsync(back, y, sizeof back, cudaMemcpyDeviceToHost, NULL);
  CHECK(isnan(back[0]), "the search left y as a convolution would: it must leave garbage");
  end_case();
}

/* Runs a case in a child; it must exit 0. Returns its stderr in msg. */
static void run_case(const char *name, ChildBody body, char *msg, size_t size) {
  printf("--- %s\n", name);
  int status = run_in_child(body, NULL, msg, size);
  CHECK(status == 0, "%s: exit status %d%s%s", name, status, msg[0] ? "; stderr: " : "", msg);
}

int main(void) {
  char msg[4096];
  run_case("(a) cuDNN, FP32, deterministic", case_fp32, msg, sizeof msg);
  run_case("(b) benchmark mode: backward first", case_benchmark, msg, sizeof msg);
  run_case("(c) TF32", case_tf32, msg, sizeof msg);
  run_case("(d) fallback when the first-ranked algorithms fail", case_fallback, msg, sizeof msg);
  CHECK(strstr(msg, "next candidate") && strchr(msg, '\n') == NULL, "the fallback: one line on stderr, got: %s", msg);

  printf("--- (d) every algorithm fails\n");
  int status = run_in_child(case_all_fail, NULL, msg, sizeof msg);
  CHECK(status == 1 && strstr(msg, "conv_all_fail") && strstr(msg, "x 2x3x9x7") && strstr(msg, "cuda_conv=gemm") &&
            strstr(msg, "CUDNN_STATUS_EXECUTION_FAILED"),
        "every algorithm failing: exit status %d, message: %s", status, msg);
  printf("message: %s\n", msg);

  run_case("(e) no memory for a workspace", case_oom, msg, sizeof msg);
  run_case("(f) the cuDNN double's own rules", case_double, msg, sizeof msg);
  printf("%d failed\n", failures);
  return failures ? 1 : 0;
}
