/* auratag selftest: proves the GPU path on the machine it runs on.
 *
 * Every op of the CUDA backend against the CPU backend on the same inputs
 * (FP32, TF32 off, deterministic algorithms), the GPU front end against
 * FFTW's on the papers' dataset configs, then a few Adam steps of
 * pons_timefreq and fcn4 on both from the same weights, then the time of an
 * fcn4 training step on the GPU at batch 32. Prints the largest relative
 * difference per comparison and a summary; a JSON report with --json.
 *
 * Exit status: 0 all agree; 1 a disagreement beyond tolerance (the report
 * names it); 77 no usable GPU (or a build without CUDA): nothing was tested. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
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
 * of two tones and noise; error relative to the largest feature magnitude. */
static CompareResult compare_front_ends(const Backend *gpu, Tally *t) {
  static const char *const configs[] = {"configs/datasets/mtat_choi.ini", "configs/datasets/mtat_musicnn.ini",
                                        "configs/datasets/ballroom_pons.ini", "configs/datasets/choi_auralise_stft.ini"};
  CompareResult r = {0};
  for (size_t c = 0; c < sizeof configs / sizeof configs[0]; c++) {
    DatasetConfig *dc = dataset_config_load(shipped(configs[c]), NULL, 0);
    const FrontEndSpec *fe = &dc->fe;
    const long n = (long)(10 * fe->sample_rate);
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

static const CliOption k_options[] = {
    {"json", 0, "FILE", NULL, "also write every comparison as JSON"},
    {"quick", 0, NULL, NULL, "fewer and smaller cases"},
    {"verbose", 'v', NULL, NULL, "print every comparison"},
    {0},
};
const CliCommand k_cli_selftest = {
    "selftest", "[--json FILE] [--quick] [--device N]",
    "Proves the GPU path on this machine: every op of the CUDA backend against the CPU backend, training steps of "
    "pons_timefreq and fcn4 on both from the same weights, the time of an fcn4 step. Exit 0: all agree; 1: a "
    "disagreement (named); 77: no usable GPU.",
    k_options, "auratag selftest --device 0 --json selftest.json"};

int cmd_selftest(int argc, char **argv) {
  CliArgs p;
  cli_parse(&k_cli_selftest, argc, argv, &p);
  cli_require_positionals(&p, 0, 0);
  const char *json_path = NULL;
  int verbose = 0, quick = 0;
  for (int i = 0; i < p.n_options; i++) {
    if (cli_is(&p, i, "json")) json_path = p.value[i];
    else if (cli_is(&p, i, "verbose")) verbose = 1;
    else if (cli_is(&p, i, "quick")) quick = 1;
  }
  char why[512] = "";
  int gpus = at_backend_cuda_devices(why, sizeof why);
  if (gpus <= 0) {
    printf("selftest: no GPU to test: %s\n", why);
    printf("selftest: skipped (exit status %d); the CPU backend is tested by `make test`\n", SELFTEST_NO_GPU);
    return SELFTEST_NO_GPU;
  }
  DeviceSettings *ds = at_device_settings();
  ds->cuda.deterministic = 1; /* FP32, no TF32: the comparison is against FP32 on the CPU */
  ds->cuda.tf32 = 0;
  const Backend *gpu = at_backend_by_name("cuda", &ds->cuda), *cpu = at_backend_cpu();
  printf("selftest on %s\n\n", at_backend_cuda_description());
  Tally t = {.first = 1, .verbose = verbose};
  if (json_path) {
    at_make_parent_dirs(json_path);
    t.json = fopen(json_path, "w");
    if (!t.json) at_fatal("cannot write '%s': %s", json_path, strerror(errno));
    fprintf(t.json, "{\"device\": \"%s\", \"comparisons\": [", at_backend_cuda_description());
  }
  int failed = 0;
  CompareResult ops = backend_compare_ops(cpu, gpu, 1e-4, sink, &t);
  summary("ops", ops);
  failed += ops.failed;
  CompareResult fe = compare_front_ends(gpu, &t);
  summary("front ends (cuFFT)", fe);
  failed += fe.failed;
  CompareResult tf = backend_compare_training(cpu, gpu, shipped("configs/models/pons_timefreq.ini"), NULL, 0, 16, 3, 1e-3, sink,
                                              &t, NULL);
  summary("pons_timefreq, 3 steps", tf);
  failed += tf.failed;
  double ms = 0;
  if (!quick) {
    CompareResult f4 = backend_compare_training(cpu, gpu, shipped("configs/models/fcn4.ini"), NULL, 0, 4, 2, 1e-3, sink, &t,
                                                NULL);
    summary("fcn4, 2 steps", f4);
    failed += f4.failed;
    /* timing: the GPU alone, batch 32 (compared with itself: always agrees) */
    CompareResult timing = backend_compare_training(gpu, gpu, shipped("configs/models/fcn4.ini"), NULL, 0, 32, 4, 1e-3, NULL,
                                                    NULL, &ms);
    (void)timing;
    printf("\nfcn4 training step, batch 32, FP32: %.1f ms (%.0f examples/s); docs/gpu-throughput.md predicts the "
           "range for this GPU\n",
           ms, ms > 0 ? 32000.0 / ms : 0.0);
  }
  if (t.json) {
    fprintf(t.json, "\n], \"failed\": %d, \"fcn4_ms_per_step_batch32_fp32\": %.3f}\n", failed, ms);
    if (fclose(t.json) != 0) at_fatal("cannot finish writing '%s' (disk full?)", json_path);
  }
  if (failed) {
    printf("\nselftest FAILED: %d comparison(s) beyond tolerance (lines marked FAIL above). Please report them with "
           "the output of nvidia-smi and this report.\n",
           failed);
    return 1;
  }
  printf("\nselftest passed: the GPU path agrees with the CPU backend\n");
  return 0;
}
