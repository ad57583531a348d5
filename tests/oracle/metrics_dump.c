/* Test tool (never part of the product): runs host/train/metrics.c on the
 * cases in a binary file and prints the results with full precision (%.17g),
 * for tests/oracle/sklearn_metrics.py to compare with scikit-learn.
 *
 * Input: a sequence of cases, little-endian, until end of file:
 *   int32 kind = 1 (tags):    int32 n, int32 n_tags,
 *                             float32 scores[n * n_tags], uint8 labels[n * n_tags]
 *   int32 kind = 2 (classes): int32 n, int32 n_classes,
 *                             int32 predicted[n], int32 truth[n]
 * Output, per case:
 *   tags N T                       classes N K
 *   roc_auc  v_0 ... v_{T-1}       accuracy v
 *   pr_auc   v_0 ... v_{T-1}       recall   v_0 ... v_{K-1}
 *   positives p_0 ... p_{T-1}      confusion c_00 c_01 ... (row = truth)
 *                                  balanced v
 *   macro roc pr excluded_roc excluded_pr
 * For tags it also checks that metric_roc_auc / metric_average_precision on
 * each column (stride T) give bitwise the values of metrics_multilabel (exit
 * status 2 if not).
 *
 * usage: metrics_dump IN.bin [OUT.txt]     (stdout without OUT)
 *        metrics_dump --bench N T          time metrics_multilabel on random data */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "train/metrics.h"

static void read_exact(FILE *f, void *p, size_t bytes, const char *what) {
  if (bytes && fread(p, 1, bytes, f) != bytes) at_fatal("metrics_dump: truncated input reading %s", what);
}

static int32_t read_i32(FILE *f, const char *what) {
  int32_t v;
  read_exact(f, &v, sizeof v, what);
  return v;
}

static void print_doubles(FILE *out, const char *key, const double *v, int k) {
  fputs(key, out);
  for (int i = 0; i < k; i++) fprintf(out, " %.17g", v[i]);
  fputc('\n', out);
}

static int same_bits(double a, double b) { return memcmp(&a, &b, sizeof a) == 0 || (isnan(a) && isnan(b)); }

static void do_tags(FILE *in, FILE *out, int ncase) {
  int n = read_i32(in, "n"), t = read_i32(in, "n_tags");
  if (n < 0 || t < 0) at_fatal("metrics_dump: case %d: bad shape [%d, %d]", ncase, n, t);
  size_t total = (size_t)n * (size_t)t;
  float *s = at_malloc(total * sizeof(float), "scores");
  uint8_t *l = at_malloc(total, "labels");
  read_exact(in, s, total * sizeof(float), "scores");
  read_exact(in, l, total, "labels");
  TagMetrics m;
  metrics_multilabel(s, l, n, t, &m);
  for (int j = 0; j < t; j++) {
    double r = metric_roc_auc(s + j, l + j, n, t), a = metric_average_precision(s + j, l + j, n, t);
    if (!same_bits(r, m.roc_auc[j]) || !same_bits(a, m.pr_auc[j])) {
      fprintf(stderr, "metrics_dump: case %d tag %d: single-column (%.17g, %.17g) != multilabel (%.17g, %.17g)\n",
              ncase, j, r, a, m.roc_auc[j], m.pr_auc[j]);
      exit(2);
    }
  }
  fprintf(out, "tags %d %d\n", n, t);
  print_doubles(out, "roc_auc", m.roc_auc, t);
  print_doubles(out, "pr_auc", m.pr_auc, t);
  fputs("positives", out);
  for (int j = 0; j < t; j++) fprintf(out, " %d", m.positives[j]);
  fprintf(out, "\nmacro %.17g %.17g %d %d\n", m.macro_roc_auc, m.macro_pr_auc, m.excluded_roc, m.excluded_pr);
  tag_metrics_free(&m);
  free(s);
  free(l);
}

static void do_classes(FILE *in, FILE *out, int ncase) {
  int n = read_i32(in, "n"), k = read_i32(in, "n_classes");
  if (n < 0) at_fatal("metrics_dump: case %d: bad n %d", ncase, n);
  int32_t *p = at_malloc((size_t)n * sizeof(int32_t), "predicted");
  int32_t *y = at_malloc((size_t)n * sizeof(int32_t), "truth");
  read_exact(in, p, (size_t)n * sizeof(int32_t), "predicted");
  read_exact(in, y, (size_t)n * sizeof(int32_t), "truth");
  ClassMetrics c;
  metrics_single_label(p, y, n, k, &c);
  fprintf(out, "classes %d %d\naccuracy %.17g\n", n, k, c.accuracy);
  print_doubles(out, "recall", c.per_class_accuracy, k);
  fputs("confusion", out);
  for (size_t i = 0; i < (size_t)k * (size_t)k; i++) fprintf(out, " %ld", c.confusion[i]);
  fprintf(out, "\nbalanced %.17g", c.balanced_accuracy);
  fputc('\n', out);
  class_metrics_free(&c);
  free(p);
  free(y);
}

static void bench(int n, int t) {
  size_t total = (size_t)n * (size_t)t;
  float *s = at_malloc(total * sizeof(float), "scores");
  uint8_t *l = at_malloc(total, "labels");
  uint64_t x = 88172645463325252ull;
  for (size_t i = 0; i < total; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    int y = (x >> 40) % 100 < 7;
    l[i] = (uint8_t)y;
    s[i] = (float)((double)(x >> 11) * (1.0 / 9007199254740992.0) * 0.8 + 0.3 * y);
  }
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  TagMetrics m;
  metrics_multilabel(s, l, n, t, &m);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  printf("metrics_multilabel %d x %d, %d thread(s): %.3f s, macro ROC-AUC %.6f, macro AP %.6f\n", n, t,
         omp_get_max_threads(), (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec),
         m.macro_roc_auc, m.macro_pr_auc);
  tag_metrics_free(&m);
  free(s);
  free(l);
}

int main(int argc, char **argv) {
  if (argc == 4 && strcmp(argv[1], "--bench") == 0) {
    bench(atoi(argv[2]), atoi(argv[3]));
    return 0;
  }
  if (argc < 2 || argc > 3) {
    fprintf(stderr, "usage: metrics_dump IN.bin [OUT.txt] | metrics_dump --bench N T\n");
    return 2;
  }
  FILE *in = fopen(argv[1], "rb");
  if (!in) at_fatal("metrics_dump: cannot open %s", argv[1]);
  FILE *out = argc == 3 ? fopen(argv[2], "w") : stdout;
  if (!out) at_fatal("metrics_dump: cannot write %s", argv[2]);
  int32_t kind;
  for (int ncase = 0; fread(&kind, sizeof kind, 1, in) == 1; ncase++) {
    if (kind == 1)
      do_tags(in, out, ncase);
    else if (kind == 2)
      do_classes(in, out, ncase);
    else
      at_fatal("metrics_dump: case %d: unknown kind %d", ncase, (int)kind);
  }
  fclose(in);
  if (out != stdout && fclose(out) != 0) at_fatal("metrics_dump: cannot write %s", argv[2]);
  return 0;
}
