/* Times the CPU backend's conv2d on the two large layers of the music-tagging
 * CNNs:
 *   A: N=8, 128 -> 384 channels, 3x3 same padding on 48x341 maps
 *   B: N=8,   1 -> 128 channels, 3x3 same padding on 96x1366 maps (first layer:
 *      backward computes dw and dbias only; the input needs no gradient)
 * FLOPs = 2 * MACs per direction (forward: 1x, backward: 1x per gradient of x
 * and of w). Reports the best of `reps` runs after one warm-up.
 *
 * Also checks that repeated runs are bitwise identical.
 *
 * Then the small layers of Pons et al.'s models at batch 10 and 64 (the
 * batch-parallel path of cpu_conv.c); BENCH_CONV_SMALL_ONLY=1 times only those.
 *
 * Usage: OMP_NUM_THREADS=2 ./build/tests/bench/bench_conv [reps]
 *        (AURATAG_GEMM=openblas to time the OpenBLAS GEMM instead of oneDNN)
 * Build: make build/tests/bench/bench_conv */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu_ops.h"
#include "nn/backend.h"

static float *frand(size_t n) {
  float *p = malloc(n * sizeof(float));
  uint32_t s = 12345;
  for (size_t i = 0; i < n; i++) {
    s = s * 1664525u + 1013904223u;
    p[i] = (float)(s >> 8) / 16777216.0f - 0.5f;
  }
  return p;
}

static void bench_shape(const Backend *b, const char *label, ConvShape s, int need_dx, int reps) {
  const int n = s.n, c_in = s.c_in, c_out = s.c_out;
  const size_t xn = (size_t)n * c_in * s.h_in * s.w_in, yn = (size_t)n * c_out * s.h_out * s.w_out;
  const size_t wn = (size_t)c_out * c_in * s.kh * s.kw;
  float *x = frand(xn), *wt = frand(wn), *bias = frand(c_out), *dy = frand(yn);
  float *y = malloc(yn * sizeof(float)), *dw = malloc(wn * sizeof(float)),
        *db = malloc(c_out * sizeof(float));
  float *dx = need_dx ? malloc(xn * sizeof(float)) : NULL;
  const double macs = (double)yn * c_in * s.kh * s.kw;
  float *y0 = malloc(yn * sizeof(float)), *dw0 = malloc(wn * sizeof(float));
  double best_f = 1e30, best_b = 1e30;
  int identical = 1;
  for (int r = 0; r <= reps; r++) {
    double t0 = omp_get_wtime();
    b->conv2d_forward(&s, x, wt, bias, y);
    double t1 = omp_get_wtime();
    b->conv2d_backward(&s, x, wt, dy, dx, dw, db);
    double t2 = omp_get_wtime();
    if (r == 0) { /* warm-up: grows the scratch, faults pages in */
      memcpy(y0, y, yn * sizeof(float));
      memcpy(dw0, dw, wn * sizeof(float));
      continue;
    }
    identical &= !memcmp(y0, y, yn * sizeof(float)) && !memcmp(dw0, dw, wn * sizeof(float));
    if (t1 - t0 < best_f) best_f = t1 - t0;
    if (t2 - t1 < best_b) best_b = t2 - t1;
  }
  const double ff = 2.0 * macs, fb = 2.0 * macs * (need_dx ? 2.0 : 1.0);
  printf("%s\n", label);
  printf("  forward          %8.1f ms  %7.1f GFLOP/s  (%.1f GFLOP)\n", best_f * 1e3, ff / best_f * 1e-9,
         ff * 1e-9);
  printf("  backward %-7s %8.1f ms  %7.1f GFLOP/s  (%.1f GFLOP)\n", need_dx ? "dx+dw" : "dw", best_b * 1e3,
         fb / best_b * 1e-9, fb * 1e-9);
  printf("  fwd+bwd          %8.1f ms  %7.1f GFLOP/s   repeated runs bitwise identical: %s\n",
         (best_f + best_b) * 1e3, (ff + fb) / (best_f + best_b) * 1e-9, identical ? "yes" : "NO");
  free(y0), free(dw0);
  free(x), free(wt), free(bias), free(dy), free(y), free(dw), free(db), free(dx);
}

static void bench(const Backend *b, const char *label, int n, int c_in, int h, int w, int c_out,
                  int need_dx, int reps) {
  ConvShape s = {n, c_in, h, w, c_out, h, w, 3, 3, 1, 1, 1, 1, 1, 1};
  bench_shape(b, label, s, need_dx, reps);
}

/* valid (unpadded) stride-1 convolution of kh x kw on h x w maps */
static void bench_valid(const Backend *b, const char *label, int n, int c_in, int h, int w, int c_out,
                        int kh, int kw, int need_dx, int reps) {
  ConvShape s = {n, c_in, h, w, c_out, h - kh + 1, w - kw + 1, kh, kw, 1, 1, 0, 0, 0, 0};
  bench_shape(b, label, s, need_dx, reps);
}

int main(int argc, char **argv) {
  int reps = argc > 1 ? atoi(argv[1]) : 3;
  if (reps < 1) reps = 1;
  const char *env = getenv("OMP_NUM_THREADS");
  const char *gemm = getenv("AURATAG_GEMM");
  printf("command: %s%s%sOMP_NUM_THREADS=%s %s %d\n", gemm ? "AURATAG_GEMM=" : "", gemm ? gemm : "", gemm ? " " : "",
         env ? env : "(unset)", argv[0], reps);
  printf("threads: %d, GEMM: %s, best of %d after a warm-up\n", omp_get_max_threads(),
         at_cpu_gemm_provider(), reps);
  const Backend *b = at_backend_cpu();
  if (!getenv("BENCH_CONV_SMALL_ONLY")) { /* environment: skip the two large layers */
    bench(b, "conv 3x3 same, N=8, 128->384, 48x341", 8, 128, 48, 341, 384, 1, reps);
    bench(b, "conv 3x3 same, N=8, 1->128, 96x1366 (backward: dw, dbias)", 8, 1, 96, 1366, 128, 0, reps);
  }
  /* the small layers of Pons et al. (40x80 input, 32 filters; batch-parallel path) */
  for (int nb = 10; nb <= 64; nb += 54) {
    char l[160];
    snprintf(l, sizeof l, "conv 1x60 valid, N=%d, 1->32, 40x80 (Pons time)", nb);
    bench_valid(b, l, nb, 1, 40, 80, 32, 1, 60, 1, reps * 10);
    snprintf(l, sizeof l, "conv 32x1 valid, N=%d, 1->32, 40x80 (Pons frequency)", nb);
    bench_valid(b, l, nb, 1, 40, 80, 32, 32, 1, 1, reps * 10);
    snprintf(l, sizeof l, "conv 12x8 valid, N=%d, 1->32, 40x80 (Pons black-box)", nb);
    bench_valid(b, l, nb, 1, 40, 80, 32, 12, 8, 1, reps * 10);
  }
  return 0;
}
