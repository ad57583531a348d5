/* Benchmark (never part of the product): the ceiling. OpenBLAS cblas_sgemm
 * GFLOP/s (2 n^3 per call) on square matrices, best of a few runs, with the
 * library versions the CPU backend links (OpenBLAS config, oneDNN version).
 *
 * usage: bench_sgemm [N ...] [--impl NAME]   (default sizes: 1024 2048; NAME
 *                                             goes in the RESULT line, default openblas)
 *        bench_sgemm --version      (the library lines only)
 * Threads: OMP_NUM_THREADS (OpenBLAS OpenMP flavour).
 * Prints one line per size:
 *   RESULT impl=openblas model=sgemm<N> n=N threads=T ms_per_call=... gflops=... */
#include <cblas.h>
#include <dnnl.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "core/rng.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static const char *impl = "openblas";

static void bench(int n) {
  const size_t count = (size_t)n * n;
  float *a = at_malloc_aligned(sizeof(float) * count, "A");
  float *b = at_malloc_aligned(sizeof(float) * count, "B");
  float *c = at_malloc_aligned(sizeof(float) * count, "C");
  for (size_t i = 0; i < count; i++) {
    a[i] = at_rng_normal(1, 1, i);
    b[i] = at_rng_normal(1, 2, i);
    c[i] = 0.0f;
  }
  const double flop = 2.0 * n * (double)n * n;
  /* Repeat so that each size is timed over about a second (at least 3 runs). */
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n); /* warm-up */
  int runs = (int)(1.5e11 / flop);
  if (runs < 3) runs = 3;
  if (runs > 50) runs = 50;
  double best = 1e30, total = 0;
  for (int r = 0; r < runs; r++) {
    double t = now_s();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
    t = now_s() - t;
    total += t;
    if (t < best) best = t;
  }
  /* A checksum keeps the product honest (and the compiler from dropping it). */
  double check = 0;
  for (int i = 0; i < n; i++) check += c[(size_t)i * n + (size_t)(i * 7 % n)];
  printf("  sgemm %dx%dx%d: best %.2f ms (%.1f GFLOP/s), mean %.2f ms (%.1f GFLOP/s) over %d runs [check %.3g]\n",
         n, n, n, best * 1e3, flop / best * 1e-9, total / runs * 1e3, flop / (total / runs) * 1e-9, runs, check);
  printf("RESULT impl=%s model=sgemm%d n=%d threads=%d ms_per_call=%.3f gflops=%.3f gflops_mean=%.3f\n", impl, n, n,
         openblas_get_num_threads(), best * 1e3, flop / best * 1e-9, flop / (total / runs) * 1e-9);
  fflush(stdout);
  at_free_aligned(a);
  at_free_aligned(b);
  at_free_aligned(c);
}

int main(int argc, char **argv) {
  const dnnl_version_t *dv = dnnl_version();
  printf("bench_sgemm: OpenBLAS %s (core %s), %d threads (OpenMP max %d); oneDNN %d.%d.%d (%s)\n",
         openblas_get_config(), openblas_get_corename(), openblas_get_num_threads(), omp_get_max_threads(),
         dv->major, dv->minor, dv->patch, dv->hash);
  printf("LIBS openblas=\"%s\" openblas_core=%s onednn=%d.%d.%d\n", openblas_get_config(), openblas_get_corename(),
         dv->major, dv->minor, dv->patch);
  if (argc == 2 && !strcmp(argv[1], "--version")) return 0;
  int sizes[16], n_sizes = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--impl") && i + 1 < argc) {
      impl = argv[++i];
      continue;
    }
    int n = atoi(argv[i]);
    if (n < 1) at_fatal("bench_sgemm: size '%s' is not a positive integer", argv[i]);
    if (n_sizes < 16) sizes[n_sizes++] = n;
  }
  if (!n_sizes) {
    sizes[n_sizes++] = 1024;
    sizes[n_sizes++] = 2048;
  }
  for (int i = 0; i < n_sizes; i++) bench(sizes[i]);
  return 0;
}
