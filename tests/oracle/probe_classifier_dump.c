/* Test tool (never part of the product): fits one of `auratag probe`'s
 * classifiers (host/train/probe_classifier.h) with fixed hyper-parameters
 * and writes its scores, for tests/oracle/sklearn_probe.py to compare with
 * scikit-learn (LinearSVC, SVC) and numpy.linalg.lstsq (the ELM).
 *
 * Input, little-endian:
 *   int32 kind (0 linear-svm, 1 svm, 2 elm), int32 multi (1 multi-label,
 *   0 single-label), int32 n_train, int32 n_test, int32 dim, int32 n_tags,
 *   float64 C, float64 gamma (<= 0: 1/dim), float64 eps (0: the library's
 *   default), int32 units, uint64 seed,
 *   float32 x_train[n_train * dim], float32 x_test[n_test * dim],
 *   multi: uint8 labels[n_train * n_tags]; single: int32 label[n_train]
 * Output:
 *   uint8 fitted[n_cols] (n_cols = n_tags multi-label, 1 single-label),
 *   float32 scores[n_test * n_tags] (probe_fit_fixed, every tag with the same
 *   hyper-parameters, on 2 threads),
 *   ELM only: float64 h_train[units][n_train], h_test[units][n_test] and
 *   beta[n_tags][units] (probe_elm_hidden / probe_elm_output_weights on the
 *   0/1 or one-hot targets; column-major as they write them).
 *
 * usage: probe_classifier_dump IN.bin OUT.bin */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/error.h"
#include "train/probe_classifier.h"

static void read_exact(FILE *f, void *p, size_t bytes, const char *what) {
  if (bytes && fread(p, 1, bytes, f) != bytes) at_fatal("probe_classifier_dump: truncated input reading %s", what);
}

static void write_exact(FILE *f, const void *p, size_t bytes) {
  if (bytes && fwrite(p, 1, bytes, f) != bytes) at_fatal("probe_classifier_dump: cannot write the output");
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: probe_classifier_dump IN.bin OUT.bin\n");
    return 2;
  }
  FILE *in = fopen(argv[1], "rb");
  if (!in) at_fatal("probe_classifier_dump: cannot open %s", argv[1]);
  int32_t head[6];
  double real[3];
  int32_t units;
  uint64_t seed;
  read_exact(in, head, sizeof head, "the header");
  read_exact(in, real, sizeof real, "the header");
  read_exact(in, &units, sizeof units, "the header");
  read_exact(in, &seed, sizeof seed, "the header");
  const int kind = head[0], multi = head[1], n_train = head[2], n_test = head[3], dim = head[4], n_tags = head[5];
  if (kind < 0 || kind > 2 || n_train < 1 || n_test < 1 || dim < 1 || n_tags < 1 || units < 0)
    at_fatal("probe_classifier_dump: bad header");
  const size_t cols = multi ? (size_t)n_tags : 1;
  float *x_train = at_malloc(sizeof(float) * (size_t)n_train * dim, "x_train");
  float *x_test = at_malloc(sizeof(float) * (size_t)n_test * dim, "x_test");
  uint8_t *labels = multi ? at_malloc((size_t)n_train * n_tags, "labels") : NULL;
  int32_t *label = multi ? NULL : at_malloc(sizeof(int32_t) * (size_t)n_train, "label");
  read_exact(in, x_train, sizeof(float) * (size_t)n_train * dim, "x_train");
  read_exact(in, x_test, sizeof(float) * (size_t)n_test * dim, "x_test");
  if (multi) read_exact(in, labels, (size_t)n_train * n_tags, "labels");
  else read_exact(in, label, sizeof(int32_t) * (size_t)n_train, "label");
  fclose(in);

  static const ProbeClassifierKind kinds[] = {PROBE_LINEAR_SVM, PROBE_RBF_SVM, PROBE_ELM};
  const ProbeClassifierOptions o = {.kind = kinds[kind], .seed = seed, .threads = 2};
  const ProbeData train = {.x = x_train, .n = n_train, .dim = dim, .labels = labels, .label = label};
  const ProbeData test = {.x = x_test, .n = n_test, .dim = dim};
  ProbeParams *p = at_malloc(sizeof(ProbeParams) * cols, "parameters");
  for (size_t t = 0; t < cols; t++)
    p[t] = (ProbeParams){.C = real[0], .gamma = real[1], .eps = real[2], .units = units};
  uint8_t *fitted = at_malloc(cols, "fitted");
  float *scores = at_malloc(sizeof(float) * (size_t)n_test * n_tags, "scores");
  probe_fit_fixed(&o, p, &train, &test, n_tags, scores, fitted);

  FILE *out = fopen(argv[2], "wb");
  if (!out) at_fatal("probe_classifier_dump: cannot create %s", argv[2]);
  write_exact(out, fitted, cols);
  write_exact(out, scores, sizeof(float) * (size_t)n_test * n_tags);
  if (kinds[kind] == PROBE_ELM) {
    double *h = at_malloc(sizeof(double) * (size_t)n_train * units, "h_train");
    double *h_test = at_malloc(sizeof(double) * (size_t)n_test * units, "h_test");
    double *targets = at_malloc(sizeof(double) * (size_t)n_train * n_tags, "targets");
    double *beta = at_malloc(sizeof(double) * (size_t)units * n_tags, "beta");
    for (int i = 0; i < n_train; i++)
      for (int t = 0; t < n_tags; t++)
        targets[(size_t)t * n_train + i] = multi ? labels[(size_t)i * n_tags + t] : label[i] == t;
    probe_elm_hidden(x_train, n_train, dim, units, seed, h);
    probe_elm_hidden(x_test, n_test, dim, units, seed, h_test);
    write_exact(out, h, sizeof(double) * (size_t)n_train * units);
    write_exact(out, h_test, sizeof(double) * (size_t)n_test * units);
    probe_elm_output_weights(h, n_train, units, targets, n_tags, beta); /* overwrites h */
    write_exact(out, beta, sizeof(double) * (size_t)units * n_tags);
    free(beta), free(targets), free(h_test), free(h);
  }
  if (fclose(out) != 0) at_fatal("probe_classifier_dump: cannot write %s", argv[2]);
  free(scores), free(fitted), free(p), free(label), free(labels), free(x_test), free(x_train);
  return 0;
}
