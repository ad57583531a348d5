/* auratag selftest: proves the GPU path on the machine it runs on.
 *
 * Every op of the CUDA backend against the CPU backend on the same inputs
 * (FP32, TF32 off, deterministic algorithms), the GPU front end against
 * FFTW's on the papers' dataset configs (from a second host thread, as
 * prep's workers call it), then a few Adam steps of pons_timefreq, fcn4 and samplecnn
 * on both from the same weights, then the time of an fcn4 training step on
 * the GPU at batch 32. Prints the largest relative difference per
 * comparison and a summary; a JSON report with --json.
 *
 * Then, each in a process of its own (the backend's options are fixed per
 * process), the settings a real GPU runs differently: TF32 tensor cores
 * (tolerance 1e-2: TF32 keeps 10 of float's 23 mantissa bits), cuDNN's
 * benchmark mode (algorithms timed on scratch buffers, convolutions met
 * backward first), and, with more than one GPU, another device than the
 * first (the current device is per host thread).
 *
 * Exit status: 0 all agree; 1 a disagreement beyond tolerance (the report
 * names it); 77 no usable GPU (or a build without CUDA): nothing was tested. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "audio/dataset_config.h"
#include "audio/feature_maker.h"
#include "cli/cli.h"
#include "core/error.h"
#include "core/files.h"
#include "nn/backend.h"
#include "selftest/backend_compare.h"
#include "nn/backend_registry.h"

#define SELFTEST_NO_GPU 77

typedef struct Tally {
  FILE *json;
  int first, verbose;
  double worst;
} Tally;

static void sink(const char *what, double err, double tol, void *ctx) {
  Tally *t = ctx;
  if (t->verbose || !(err <= tol)) compare_print_sink(what, err, tol, stdout);
  if (t->json) {
    fprintf(t->json, "%s\n  {\"what\": \"%s\", \"max_rel_diff\": %.6e, \"tolerance\": %.1e, \"ok\": %s}",
            t->first ? "" : ",", what, err, tol, err <= tol ? "true" : "false");
    t->first = 0;
  }
}

static const char *shipped(const char *rel) { return cli_shipped_file(rel, "selftest"); }

/* The GPU front end against the CPU's on the papers' dataset configs: 10 s
 * (--quick: 2 s) * of two tones and noise; error relative to the largest feature magnitude. */
static CompareResult compare_front_ends(const Backend *gpu, double seconds, Tally *t) {
  static const char *const configs[] = {"configs/datasets/mtat_choi.ini", "configs/datasets/mtat_musicnn.ini",
                                        "configs/datasets/ballroom_pons.ini", "configs/datasets/choi_auralise_stft.ini"};
  CompareResult r = {0};
  for (size_t c = 0; c < sizeof configs / sizeof configs[0]; c++) {
    DatasetConfig *dc = dataset_config_load(shipped(configs[c]), NULL, 0);
    const FrontEndSpec *fe = &dc->fe;
    const long n = (long)(seconds * fe->sample_rate);
    float *sig = at_malloc(sizeof(float) * (size_t)n, "test signal");
    for (long i = 0; i < n; i++) {
      const double time = i / fe->sample_rate;
      sig[i] = (float)(0.3 * sin(2 * M_PI * 440 * time) + 0.2 * sin(2 * M_PI * 3100 * time) +
                       0.05 * (((i * 2654435761u) >> 8 & 0xffff) / 32768.0 - 1));
    }
    const long frames = frontend_frames(fe, n);
    const size_t count = (size_t)frontend_rows(fe) * frames;
    float *a = at_malloc(sizeof(float) * count, "features"), *b = at_malloc(sizeof(float) * count, "features");
    FeatureMaker *cpu = feature_maker_create(fe, NULL), *dev = feature_maker_create(fe, gpu);
    feature_maker_compute(cpu, sig, n, a);
    feature_maker_compute(dev, sig, n, b);
    double scale = 0, diff = 0;
    for (size_t i = 0; i < count; i++) {
      scale = fmax(scale, fabs(a[i]));
      double d = fabs((double)a[i] - b[i]);
      if (!(d <= diff)) diff = d;
    }
    const double err = diff / fmax(scale, 1e-30);
    char what[160];
    snprintf(what, sizeof what, "front end %s%s", dc->name, feature_maker_on_gpu(dev) ? "" : " (no GPU front end!)");
    compare_record(&r, what, feature_maker_on_gpu(dev) ? err : INFINITY, 1e-4, sink, t);
    feature_maker_free(cpu);
    feature_maker_free(dev);
    free(a);
    free(b);
    free(sig);
    dataset_config_free(dc);
  }
  return r;
}

static void summary(const char *name, CompareResult r) {
  printf("%-28s %4d comparisons, %d failed; largest difference %.2e (%s)\n", name, r.checks, r.failed, r.worst,
         r.worst_what);
}

/* The settings one selftest process runs under. */
typedef enum { VARIANT_FP32, VARIANT_TF32, VARIANT_BENCHMARK, VARIANT_COUNT } Variant;
static const char *const k_variant_names[VARIANT_COUNT] = {"fp32", "tf32", "benchmark"};

static Variant variant_named(const char *name) {
  for (int v = 0; v < VARIANT_COUNT; v++)
    if (!strcmp(name, k_variant_names[v])) return (Variant)v;
  at_fatal("selftest: --variant '%s': use fp32, tf32 or benchmark", name);
}

typedef struct FrontEndRun {
  const Backend *gpu;
  double seconds;
  Tally *t;
  CompareResult r;
} FrontEndRun;

static void *front_ends_on_a_new_thread(void *arg) {
  FrontEndRun *run = arg;
  run->r = compare_front_ends(run->gpu, run->seconds, run->t);
  return NULL;
}

/* Runs `auratag selftest --variant NAME --device D [--quick]` as a child;
 * its output goes to ours. Returns its exit status. */
static int run_variant(const char *name, int device, int quick) {
  char dev[16];
  snprintf(dev, sizeof dev, "%d", device);
  char *args[] = {"auratag", "selftest", "--variant", (char *)name, "--device", dev, quick ? "--quick" : NULL, NULL};
  printf("\n== selftest --variant %s --device %d%s\n", name, device, quick ? " --quick" : "");
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) at_fatal("selftest: cannot start a process for the %s variant: %s", name, strerror(errno));
  if (pid == 0) {
    execv("/proc/self/exe", args);
    fprintf(stderr, "selftest: cannot run /proc/self/exe: %s\n", strerror(errno));
    _exit(127);
  }
  int status = 0;
  if (waitpid(pid, &status, 0) < 0) return 1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static const CliOption k_options[] = {
    {"json", 0, "FILE", NULL, "also write every comparison as JSON"},
    {"quick", 0, NULL, NULL, "fewer and smaller cases"},
    {"variant", 0, "NAME", "all three", "only this setting: fp32, tf32 (TF32 tensor cores) or benchmark (cuDNN's)"},
    {"verbose", 'v', NULL, NULL, "print every comparison"},
    {0},
};
const CliCommand k_cli_selftest = {
    "selftest", "[--json FILE] [--quick] [--variant fp32|tf32|benchmark] [--device N]",
    "Proves the GPU path on this machine: every op of the CUDA backend against the CPU backend, training steps of "
    "pons_timefreq, fcn4 and samplecnn on both from the same weights, the time of an fcn4 step; then the same under TF32, "
    "under cuDNN's benchmark mode and, with several GPUs, on another one. Exit 0: all agree; 1: a disagreement "
    "(named); 77: no usable GPU.",
    k_options, "auratag selftest --device 0 --json selftest.json"};

/* The comparisons of one variant in this process; returns the failures. */
static int run_comparisons(Variant variant, int quick, Tally *t, double *ms) {
  DeviceSettings *ds = at_device_settings();
  ds->cuda.deterministic = variant != VARIANT_TF32; /* FP32 and fixed algorithms: the CPU's numbers */
  ds->cuda.tf32 = variant == VARIANT_TF32;
  ds->cuda.benchmark = variant == VARIANT_BENCHMARK;
  const double tol = variant == VARIANT_TF32 ? 1e-2 : 1e-4;
  const Backend *gpu = at_backend_by_name("cuda", &ds->cuda), *cpu = at_backend_cpu();
  printf("selftest (%s) on %s\n\n", k_variant_names[variant], at_backend_cuda_description());
  if (t->json) fprintf(t->json, "{\"device\": \"%s\", \"variant\": \"%s\", \"comparisons\": [",
                       at_backend_cuda_description(), k_variant_names[variant]);
  int failed = 0;
  CompareResult ops = backend_compare_ops(cpu, gpu, tol, sink, t);
  summary("ops", ops);
  failed += ops.failed;
  /* the front end stays FP32 whatever the math mode (its GEMMs switch TF32 off) */
  FrontEndRun fe = {.gpu = gpu, .seconds = quick ? 2 : 10, .t = t};
  pthread_t thread;
  if (pthread_create(&thread, NULL, front_ends_on_a_new_thread, &fe) != 0) at_fatal("selftest: cannot start a thread");
  pthread_join(thread, NULL);
  summary("front ends (cuFFT, thread 2)", fe.r);
  failed += fe.r.failed;
  /* Training steps in FP32 only: Adam divides each gradient by its own
   * size, so TF32's 1e-3 differences in near-zero gradients become
   * parameter differences of any size; TF32 is held to the ops above. */
  if (variant == VARIANT_TF32) return failed;
  CompareResult tf = backend_compare_training(cpu, gpu, shipped("configs/models/pons_timefreq.ini"), NULL, 0,
                                              quick ? 4 : 16, 3, 1e-3, sink, t, NULL);
  summary("pons_timefreq, 3 steps", tf);
  failed += tf.failed;
  if (quick || variant != VARIANT_FP32) return failed;
  CompareResult f4 = backend_compare_training(cpu, gpu, shipped("configs/models/fcn4.ini"), NULL, 0, 4, 2, 1e-3, sink, t,
                                              NULL);
  summary("fcn4, 2 steps", f4);
  failed += f4.failed;
  /* SampleCNN: 1-D convs over 59,049 samples, the waveform models' path. Its
   * conv biases feed batch norm, which removes them: their gradients are
   * rounding noise that Adam scales to full steps, so they are left out (the
   * ops above check the bias paths). Tolerance 3e-2: the batch-norm shifts'
   * gradients are sums over every sample position that nearly cancel, and
   * Adam turns their rounding into relative differences of ~1e-2 (measured
   * under emulation; the other tensors agree to 1e-4). */
  static const char *const no_conv_bias[] = {
      "conv0.bias=false", "conv1.bias=false", "conv2.bias=false", "conv3.bias=false", "conv4.bias=false",
      "conv5.bias=false", "conv6.bias=false", "conv7.bias=false", "conv8.bias=false", "conv9.bias=false",
      "conv10.bias=false"};
  CompareResult sc = backend_compare_training(cpu, gpu, shipped("configs/models/samplecnn.ini"), no_conv_bias, 11, 4,
                                              2, 3e-2, sink, t, NULL);
  summary("samplecnn, 2 steps", sc);
  failed += sc.failed;
  /* timing: the GPU alone, batch 32 (compared with itself: always agrees) */
  CompareResult timing = backend_compare_training(gpu, gpu, shipped("configs/models/fcn4.ini"), NULL, 0, 32, 4, 1e-3,
                                                  NULL, NULL, ms);
  (void)timing;
  printf("\nfcn4 training step, batch 32, FP32: %.1f ms (%.0f examples/s); docs/gpu-throughput.md predicts the "
         "range for this GPU\n",
         *ms, *ms > 0 ? 32000.0 / *ms : 0.0);
  return failed;
}

int cmd_selftest(int argc, char **argv) {
  CliArgs p;
  cli_parse(&k_cli_selftest, argc, argv, &p);
  cli_require_positionals(&p, 0, 0);
  const char *json_path = NULL, *only = NULL;
  int verbose = 0, quick = 0;
  for (int i = 0; i < p.n_options; i++) {
    if (cli_is(&p, i, "json")) json_path = p.value[i];
    else if (cli_is(&p, i, "verbose")) verbose = 1;
    else if (cli_is(&p, i, "quick")) quick = 1;
    else if (cli_is(&p, i, "variant")) only = p.value[i];
  }
  const Variant variant = only ? variant_named(only) : VARIANT_FP32;
  char why[512] = "";
  int gpus = at_backend_cuda_devices(why, sizeof why);
  if (gpus <= 0) {
    printf("selftest: no GPU to test: %s\n", why);
    printf("selftest: skipped (exit status %d); the CPU backend is tested by `make test`\n", SELFTEST_NO_GPU);
    return SELFTEST_NO_GPU;
  }
  Tally t = {.first = 1, .verbose = verbose};
  if (json_path) {
    at_make_parent_dirs(json_path);
    t.json = fopen(json_path, "w");
    if (!t.json) at_fatal("cannot write '%s': %s", json_path, strerror(errno));
  }
  double ms = 0;
  int failed = run_comparisons(variant, quick, &t, &ms);
  if (t.json) fprintf(t.json, "\n], \"failed\": %d, \"fcn4_ms_per_step_batch32_fp32\": %.3f, \"variants\": [", failed, ms);
  if (!only) {
    /* the other settings, each in its own process; another GPU when there is one */
    const int device = at_device_settings()->cuda.device, other = device == 0 ? gpus - 1 : 0;
    struct {
      const char *name;
      int device;
    } runs[] = {{"tf32", device}, {"benchmark", device}, {"fp32", other}};
    const int n_runs = gpus > 1 ? 3 : 2;
    for (int i = 0; i < n_runs; i++) {
      int rc = run_variant(runs[i].name, runs[i].device, quick || i == 2);
      printf("variant %-10s device %d: %s\n", runs[i].name, runs[i].device, rc == 0 ? "passed" : "FAILED");
      if (t.json)
        fprintf(t.json, "%s{\"variant\": \"%s\", \"device\": %d, \"exit\": %d}", i ? ", " : "", runs[i].name,
                runs[i].device, rc);
      failed += rc != 0;
    }
    if (gpus == 1) printf("(one GPU: the check of another device than the first needs two)\n");
  }
  if (t.json) {
    fprintf(t.json, "]}\n");
    if (fclose(t.json) != 0) at_fatal("cannot finish writing '%s' (disk full?)", json_path);
  }
  if (failed) {
    printf("\nselftest FAILED: %d comparison(s) or variant(s) beyond tolerance (lines marked FAIL above). Please "
           "report them with the output of nvidia-smi and this report.\n",
           failed);
    return 1;
  }
  printf("\nselftest passed: the GPU path agrees with the CPU backend\n");
  return 0;
}
