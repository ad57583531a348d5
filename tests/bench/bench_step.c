/* Benchmark (never part of the product): times full training steps of a model
 * config on the CPU backend, the way `auratag train` runs them:
 *   forward (training mode) -> loss (BCE or softmax CE) -> backward -> Adam;
 * with --infer, the inference pass of `auratag tag` / `predict` instead:
 *   forward (inference mode: BN on running statistics, no dropout) only.
 *
 * FLOPs per example are counted as 6 x forward MACs (the sum of Layer.macs,
 * the `forward MACs` column of `auratag model`): forward 2 x MACs, backward
 * (input and weight gradients) 4 x MACs; with --infer 2 x MACs.
 * tests/bench/torch_step.py counts the same way, so the GFLOP/s figures
 * compare directly.
 *
 * usage: bench_step CONFIG [--batch N] [--steps S] [--warmup W] [--seed S]
 *                          [--label NAME] [--set K=V ...] [--infer]
 * Threads: OMP_NUM_THREADS (OpenBLAS is the OpenMP flavour: one pool).
 * Prints per-phase times, then one machine-readable line:
 *   RESULT impl=auratag model=... batch=... ms_per_step=... ... mode=train|infer
 * (with --infer the model label defaults to NAME-infer, fwd_ms is the whole
 * step and bwd_ms = update_ms = 0). */
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "core/error.h"
#include "core/rng.h"
#include "nn/model.h"
#include "nn/model_config.h"
#include "nn/optimizer.h"

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Median of n values (sorts a copy). */
static double median(const double *v, int n) {
  double *c = at_malloc(sizeof(double) * (size_t)n, "median");
  memcpy(c, v, sizeof(double) * (size_t)n);
  qsort(c, (size_t)n, sizeof(double), cmp_double);
  double r = n % 2 ? c[n / 2] : 0.5 * (c[n / 2 - 1] + c[n / 2]);
  free(c);
  return r;
}

static double minimum(const double *v, int n) {
  double r = v[0];
  for (int i = 1; i < n; i++)
    if (v[i] < r) r = v[i];
  return r;
}

int main(int argc, char **argv) {
  if (argc < 2 || argv[1][0] == '-')
    at_fatal("usage: bench_step CONFIG [--batch N] [--steps S] [--warmup W] [--seed S] [--label NAME] "
             "[--set K=V ...] [--infer]");
  const char *config = argv[1];
  int batch = 8, steps = 3, warmup = 1, infer = 0;
  unsigned long long seed = 1;
  const char *label = NULL;
  const char *overrides[64];
  int n_overrides = 0;
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--infer")) { /* the only option without a value */
      infer = 1;
      continue;
    }
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) at_fatal("option %s needs a value", a);
    if (!strcmp(a, "--batch")) batch = atoi(v);
    else if (!strcmp(a, "--steps")) steps = atoi(v);
    else if (!strcmp(a, "--warmup")) warmup = atoi(v);
    else if (!strcmp(a, "--seed")) seed = strtoull(v, NULL, 10);
    else if (!strcmp(a, "--label")) label = v;
    else if (!strcmp(a, "--set") && n_overrides < 64) overrides[n_overrides++] = v;
    else at_fatal("unknown option %s", a);
    i++;
  }
  if (batch < 1 || steps < 1 || warmup < 0) at_fatal("need --batch >= 1, --steps >= 1, --warmup >= 0");

  const Backend *be = at_backend_cpu();
  Model *m = model_from_config(config, overrides, n_overrides);
  /* inference rows get their own model label so that the summary keeps them apart */
  char infer_label[256];
  if (!label && infer) {
    snprintf(infer_label, sizeof infer_label, "%s-infer", m->name);
    label = infer_label;
  }
  if (!label) label = m->name;
  double macs = 0;
  for (int i = 0; i < m->n_layers; i++) macs += m->layers[i].macs;
  const double flop_factor = infer ? 2.0 : 6.0;
  const double flop_per_step = flop_factor * macs * batch;

  double t0 = now_ms();
  m->inference_only = infer; /* as `auratag tag` and `predict` allocate it: no gradient memory */
  model_allocate(m, be, batch);
  model_init_weights(m, seed);
  const double setup_ms = now_ms() - t0;

  /* Random inputs (standard normal) and targets, from the counter RNG. */
  const size_t in_count = (size_t)batch * at_dims_count(m->input);
  float *x = at_malloc(sizeof(float) * in_count, "input");
  for (size_t i = 0; i < in_count; i++) x[i] = at_rng_normal(seed, 1u << 30, i);
  float *x_dev = be->alloc(sizeof(float) * in_count);
  be->to_device(x_dev, x, sizeof(float) * in_count);
  free(x);
  void *targets_dev = NULL;
  if (infer) {
    /* no targets: nothing is learnt */
  } else if (m->output == OUTPUT_SIGMOID) {
    size_t n = (size_t)batch * m->classes;
    float *t = at_malloc(sizeof(float) * n, "targets");
    for (size_t i = 0; i < n; i++) t[i] = at_rng_uniform(seed, (1u << 30) + 1, i) < 0.3f ? 1.0f : 0.0f;
    targets_dev = be->alloc(sizeof(float) * n);
    be->to_device(targets_dev, t, sizeof(float) * n);
    free(t);
  } else {
    int32_t *labels = at_malloc(sizeof(int32_t) * (size_t)batch, "labels");
    for (int i = 0; i < batch; i++)
      labels[i] = (int32_t)(at_rng_uniform(seed, (1u << 30) + 2, (uint64_t)i) * m->classes);
    targets_dev = be->alloc(sizeof(int32_t) * (size_t)batch);
    be->to_device(targets_dev, labels, sizeof(int32_t) * (size_t)batch);
    free(labels);
  }

  Optimizer *opt = NULL;
  if (!infer) {
    opt = optimizer_create(be, OPT_ADAM, m->n_weights);
    opt->adam.lr = 1e-3f;
  }

  printf("bench_step: %s (%s), batch %d, %d warmup + %d timed %s, %d OpenMP threads\n", label, config, batch, warmup,
         steps, infer ? "inference passes (forward only)" : "training steps", omp_get_max_threads());
  printf("  %.4f GMACs/example forward, %.3f GFLOP per step (%.0f x MACs x batch), %zu parameters\n", macs * 1e-9,
         flop_per_step * 1e-9, flop_factor, m->n_weights);
  printf("  setup (allocate + init): %.1f ms\n", setup_ms);

  double *t_fwd = at_malloc(sizeof(double) * (size_t)steps, "times");
  double *t_bwd = at_malloc(sizeof(double) * (size_t)steps, "times");
  double *t_upd = at_malloc(sizeof(double) * (size_t)steps, "times");
  double *t_all = at_malloc(sizeof(double) * (size_t)steps, "times");
  double loss = 0;
  for (int k = 0; k < warmup + steps; k++) {
    const char *tag = k < warmup ? "warmup" : "step";
    double a = now_ms();
    /* inference: what `auratag tag` does per batch (training = 0, no seed) */
    model_forward(m, x_dev, batch, !infer, infer ? 0 : seed, infer ? 0 : (uint64_t)k);
    be->synchronize();
    double b = now_ms(), c = b, d = b;
    if (!infer) {
      /* model_loss(.., backward=1) split in two so that backward is timed alone. */
      loss = model_loss(m, batch, targets_dev, 0);
      model_backward(m, batch, m->logit_grad);
      be->synchronize();
      c = now_ms();
      optimizer_step(opt, m->weights, m->grads);
      be->synchronize();
      d = now_ms();
      printf("  %-6s %2d: %9.1f ms  (forward %8.1f, loss+backward %8.1f, adam %6.1f)  loss %.5f\n", tag,
             k < warmup ? k : k - warmup, d - a, b - a, c - b, d - c, loss);
    } else {
      printf("  %-6s %2d: %9.1f ms  (forward, inference mode)\n", tag, k < warmup ? k : k - warmup, d - a);
    }
    fflush(stdout);
    if (k >= warmup) {
      int j = k - warmup;
      t_fwd[j] = b - a;
      t_bwd[j] = c - b;
      t_upd[j] = d - c;
      t_all[j] = d - a;
    }
  }
  const double med = median(t_all, steps), best = minimum(t_all, steps);
  const double fwd = median(t_fwd, steps), bwd = median(t_bwd, steps), upd = median(t_upd, steps);
  const double sps = batch / (med * 1e-3);
  const double gflops = flop_per_step / (med * 1e-3) * 1e-9;
  const double gflops_best = flop_per_step / (best * 1e-3) * 1e-9;
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  const double rss_mb = ru.ru_maxrss / 1024.0;

  if (infer) {
    printf("  median %.1f ms/step (min %.1f), forward only\n", med, best);
  } else {
    printf("  median %.1f ms/step (min %.1f): forward %.1f ms (%.0f GFLOP/s at 2xMACs), "
           "loss+backward %.1f ms (%.0f GFLOP/s at 4xMACs), adam %.1f ms\n",
           med, best, fwd, 2.0 * macs * batch / (fwd * 1e-3) * 1e-9, bwd,
           4.0 * macs * batch / (bwd * 1e-3) * 1e-9, upd);
  }
  printf("  %.2f samples/s, %.1f GFLOP/s (best step %.1f GFLOP/s), peak RSS %.0f MB\n", sps, gflops, gflops_best,
         rss_mb);
  /* without the Winograd convolutions (host/cpu/cpu_conv_winograd.c) it is another implementation */
  const char *wino = getenv("AURATAG_WINOGRAD");
  printf("RESULT impl=%s model=%s batch=%d threads=%d steps=%d ms_per_step=%.2f ms_min=%.2f "
         "samples_per_s=%.4f gflops=%.3f fwd_ms=%.2f bwd_ms=%.2f update_ms=%.2f macs_per_example=%.0f "
         "peak_rss_mb=%.0f mode=%s\n",
         wino && !strcmp(wino, "0") ? "auratag-im2col" : "auratag", label, batch, omp_get_max_threads(), steps, med,
         best, sps, gflops, fwd, bwd, upd, macs, rss_mb, infer ? "infer" : "train");

  free(t_fwd);
  free(t_bwd);
  free(t_upd);
  free(t_all);
  if (opt) optimizer_free(opt);
  be->release(x_dev);
  if (targets_dev) be->release(targets_dev);
  model_free(m);
  return 0;
}
