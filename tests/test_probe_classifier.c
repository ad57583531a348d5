/* Tests of the classifiers of `auratag probe` (host/train/probe_classifier.h;
 * the comparison with scikit-learn and numpy at fixed hyper-parameters is
 * tests/oracle/sklearn_probe.py):
 *
 *  - names and parsing;
 *  - standardisation: mean 0 and std 1 on train, a constant feature 0, the
 *    other sets with train's statistics;
 *  - linearly separable data: ROC-AUC > 0.95 on every tag (3 tags) and
 *    accuracy > 0.9 (4 classes, and 2), for the three kinds, chosen on a
 *    validation split and on the part held out of train;
 *  - random labels: near chance (ROC-AUC 0.5 +- 0.15, accuracy 1/4 +- 0.1:
 *    five standard deviations and more at these sizes);
 *  - the ELM with more units than examples fits its training targets
 *    (residual < 1e-6), through probe_fit_fixed and the two lower functions;
 *  - identical scores and choices with 1 and 2 threads; OpenMP's default
 *    thread count left as it was;
 *  - a tag with one class in train: scores 0, reported; one class in a
 *    single-label train set; a class absent from train never the argmax;
 *  - labels other than 0/1 and classes out of range are fatal errors.
 * Prints one line per check; exits 1 if any check fails. */
#include <math.h>
#include <omp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "test_util.h"
#include "train/metrics.h"
#include "train/probe_classifier.h"

static int g_failures, g_checks;

static void check(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void check(int ok, const char *fmt, ...) {
  g_checks++;
  if (!ok) g_failures++;
  printf("%s  ", ok ? "PASS" : "FAIL");
  va_list ap;
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  printf("\n");
  fflush(stdout);
}

static const ProbeClassifierKind k_kinds[] = {PROBE_LINEAR_SVM, PROBE_RBF_SVM, PROBE_ELM};
enum { DIM = 8, TAGS = 3, N_VALID = 300, N_TEST = 300 };

/* Training examples: 400 for the SVMs; 1000 for the ELM, whose least squares
 * has no regularisation but the number of units and needs several examples
 * per unit of the grid's smaller layers to generalise (with units near the
 * number of examples it interpolates them, and its test ROC-AUC falls
 * towards 0.6). */
static int n_train_for(ProbeClassifierKind kind) {
  return kind == PROBE_ELM ? 1000 : 400;
}

/* A data set: features N(0, 1); labels from fixed hyperplanes (separable) or
 * drawn independently of the features (random). */
typedef struct Set {
  float *x;
  uint8_t *labels;
  int32_t *label;
  ProbeData d;
} Set;

static float normal(uint64_t stream, uint64_t index) {
  return at_rng_normal(2024, stream, index);
}

/* the hyperplanes of every set: w_t = normal(100 + t, j), offsets by tag */
static double plane(int t, const float *x) {
  static const double offset[] = {0.0, 0.6, -0.4, 0.2};
  double s = offset[t % 4];
  for (int j = 0; j < DIM; j++) s += normal(100 + (uint64_t)t, (uint64_t)j) * x[j];
  return s;
}

/* Separable sets keep a margin: candidates closer than MARGIN to a tag's
 * hyperplane, or to the boundary between their two best classes, are drawn
 * again, so that a few hundred examples pin the boundaries down. */
#define MARGIN 0.3
static int far_from_boundaries(const float *x, int multi, int classes) {
  if (multi) {
    for (int t = 0; t < TAGS; t++)
      if (fabs(plane(t, x)) < MARGIN) return 0;
    return 1;
  }
  double first = -INFINITY, second = -INFINITY;
  for (int c = 0; c < classes; c++) {
    const double v = plane(c, x);
    if (v > first) second = first, first = v;
    else if (v > second) second = v;
  }
  return first - second >= MARGIN;
}

static Set make_set(int n, uint64_t stream, int multi, int classes, int random_labels) {
  Set s = {0};
  s.x = malloc(sizeof(float) * (size_t)n * DIM);
  uint64_t drawn = 0;
  for (int i = 0; i < n; i++) {
    float *x = s.x + (size_t)i * DIM;
    do {
      for (int j = 0; j < DIM; j++) x[j] = normal(stream, drawn * DIM + (uint64_t)j);
      drawn++;
    } while (!random_labels && !far_from_boundaries(x, multi, classes));
  }
  if (multi) {
    s.labels = malloc((size_t)n * TAGS);
    for (int i = 0; i < n; i++)
      for (int t = 0; t < TAGS; t++)
        s.labels[i * TAGS + t] = random_labels ? at_rng_uniform(7, stream, (uint64_t)(i * TAGS + t)) < 0.4f
                                               : plane(t, s.x + (size_t)i * DIM) > 0;
  } else {
    s.label = malloc(sizeof(int32_t) * (size_t)n);
    for (int i = 0; i < n; i++) {
      int best = 0;
      for (int c = 1; c < classes; c++)
        if (plane(c, s.x + (size_t)i * DIM) > plane(best, s.x + (size_t)i * DIM)) best = c;
      s.label[i] = random_labels ? (int32_t)(at_rng_uniform(7, stream, (uint64_t)i) * classes) : best;
    }
  }
  s.d = (ProbeData){.x = s.x, .n = n, .dim = DIM, .labels = s.labels, .label = s.label};
  return s;
}

static void free_set(Set *s) {
  free(s->x);
  free(s->labels);
  free(s->label);
}

static double accuracy(const float *scores, const int32_t *label, int n, int classes) {
  int right = 0;
  for (int i = 0; i < n; i++) {
    int arg = 0;
    for (int c = 1; c < classes; c++)
      if (scores[i * classes + c] > scores[i * classes + arg]) arg = c;
    right += arg == label[i];
  }
  return (double)right / n;
}

static void test_names(void) {
  for (int k = 0; k < 3; k++) {
    ProbeClassifierKind got = (ProbeClassifierKind)-1;
    const int ok = probe_classifier_parse(probe_classifier_name(k_kinds[k]), &got);
    check(ok && got == k_kinds[k], "parse(name(%d)) = \"%s\"", k, probe_classifier_name(k_kinds[k]));
  }
  ProbeClassifierKind unused;
  check(!probe_classifier_parse("rbf", &unused) && !probe_classifier_parse("", &unused), "unknown names refused");
}

static void test_standardise(void) {
  enum { N = 50, D = 4, M = 10 };
  float train[N * D], orig[N * D], other[M * D], other_orig[M * D];
  for (int i = 0; i < N * D; i++)
    train[i] = (i % D == 2) ? 7.0f : (float)(i % D + 1) * 3 * normal(5, i) + (float)(i % D);
  for (int i = 0; i < M * D; i++) other[i] = normal(6, i) * 4;
  memcpy(orig, train, sizeof train);
  memcpy(other_orig, other, sizeof other);
  float *others[] = {other};
  const int rows[] = {M};
  probe_standardise(train, N, others, rows, 1, D);
  double worst_mean = 0, worst_std = 0, worst_other = 0;
  for (int j = 0; j < D; j++) {
    double m = 0, v = 0, m0 = 0, v0 = 0;
    for (int i = 0; i < N; i++) m += train[i * D + j], m0 += orig[i * D + j];
    m /= N, m0 /= N;
    for (int i = 0; i < N; i++) v += pow(train[i * D + j] - m, 2), v0 += pow(orig[i * D + j] - m0, 2);
    const double sd = sqrt(v / N), sd0 = sqrt(v0 / N);
    worst_mean = fmax(worst_mean, fabs(m));
    if (j != 2) worst_std = fmax(worst_std, fabs(sd - 1));
    for (int i = 0; i < M; i++)
      worst_other = fmax(worst_other, fabs(other[i * D + j] - (other_orig[i * D + j] - m0) / (j == 2 ? 1 : sd0)));
  }
  int constant_zero = 1;
  for (int i = 0; i < N; i++) constant_zero &= train[i * D + 2] == 0.0f;
  check(worst_mean < 1e-6, "standardise: train means 0 (worst %.3g)", worst_mean);
  check(worst_std < 1e-5, "standardise: train stds 1 (worst |std - 1| %.3g)", worst_std);
  check(constant_zero, "standardise: a constant feature becomes 0 (std taken as 1)");
  check(worst_other < 1e-5, "standardise: other set with train's mean and std (worst %.3g)", worst_other);
}

static void test_separable_multilabel(ProbeClassifierKind kind, int use_valid) {
  const int N_TRAIN = n_train_for(kind);
  Set tr = make_set(N_TRAIN, 1, 1, 0, 0), va = make_set(N_VALID, 2, 1, 0, 0), te = make_set(N_TEST, 3, 1, 0, 0);
  float *scores = malloc(sizeof(float) * N_TEST * TAGS);
  char chosen[256];
  ProbeClassifierOptions o = {.kind = kind, .seed = 11, .threads = 2};
  probe_fit_predict(&o, &tr.d, use_valid ? &va.d : NULL, &te.d, TAGS, scores, chosen, sizeof chosen);
  double worst = 1;
  for (int t = 0; t < TAGS; t++) worst = fmin(worst, metric_roc_auc(scores + t, te.labels + t, N_TEST, TAGS));
  check(worst > 0.95, "%s, separable, 3 tags, %s: worst ROC-AUC %.4f > 0.95 [%s]", probe_classifier_name(kind),
        use_valid ? "validation split" : "held out of train", worst, chosen);
  free(scores);
  free_set(&tr), free_set(&va), free_set(&te);
}

static void test_separable_single(ProbeClassifierKind kind, int classes, int use_valid) {
  const int N_TRAIN = n_train_for(kind);
  Set tr = make_set(N_TRAIN, 1, 0, classes, 0), va = make_set(N_VALID, 2, 0, classes, 0);
  Set te = make_set(N_TEST, 3, 0, classes, 0);
  float *scores = malloc(sizeof(float) * N_TEST * classes);
  char chosen[256];
  ProbeClassifierOptions o = {.kind = kind, .seed = 11};
  probe_fit_predict(&o, &tr.d, use_valid ? &va.d : NULL, &te.d, classes, scores, chosen, sizeof chosen);
  const double acc = accuracy(scores, te.label, N_TEST, classes);
  check(acc > 0.9, "%s, separable, %d classes, %s: accuracy %.4f > 0.9 [%s]", probe_classifier_name(kind), classes,
        use_valid ? "validation split" : "held out of train", acc, chosen);
  free(scores);
  free_set(&tr), free_set(&va), free_set(&te);
}

static void test_random_labels(ProbeClassifierKind kind) {
  const int N_TRAIN = n_train_for(kind);
  enum { NT = 400 };
  Set tr = make_set(N_TRAIN, 21, 1, 0, 1), va = make_set(N_VALID, 22, 1, 0, 1), te = make_set(NT, 23, 1, 0, 1);
  float *scores = malloc(sizeof(float) * NT * 4);
  ProbeClassifierOptions o = {.kind = kind, .seed = 3};
  probe_fit_predict(&o, &tr.d, &va.d, &te.d, TAGS, scores, NULL, 0);
  double worst = 0;
  for (int t = 0; t < TAGS; t++) worst = fmax(worst, fabs(metric_roc_auc(scores + t, te.labels + t, NT, TAGS) - 0.5));
  check(worst < 0.15, "%s, random labels: |ROC-AUC - 0.5| <= %.4f < 0.15", probe_classifier_name(kind), worst);
  free_set(&tr), free_set(&va), free_set(&te);
  tr = make_set(N_TRAIN, 21, 0, 4, 1), va = make_set(N_VALID, 22, 0, 4, 1), te = make_set(NT, 23, 0, 4, 1);
  probe_fit_predict(&o, &tr.d, &va.d, &te.d, 4, scores, NULL, 0);
  const double acc = accuracy(scores, te.label, NT, 4);
  check(fabs(acc - 0.25) < 0.1, "%s, random classes: accuracy %.4f within 0.1 of 1/4", probe_classifier_name(kind),
        acc);
  free(scores);
  free_set(&tr), free_set(&va), free_set(&te);
}

static void test_elm_exact_fit(void) {
  enum { N = 60, UNITS = 150 };
  Set tr = make_set(N, 31, 1, 0, 0), single = make_set(N, 31, 0, 4, 0);
  float scores[N * 4];
  ProbeClassifierOptions o = {.kind = PROBE_ELM, .seed = 9, .threads = 1};
  const ProbeParams p[TAGS] = {{.units = UNITS}, {.units = UNITS}, {.units = UNITS}};
  probe_fit_fixed(&o, p, &tr.d, &tr.d, TAGS, scores, NULL);
  double worst = 0;
  for (int i = 0; i < N * TAGS; i++) worst = fmax(worst, fabs(scores[i] - tr.labels[i]));
  check(worst < 1e-6, "elm, %d units > %d examples: training targets 0/1 fitted, residual %.3g < 1e-6", UNITS, N,
        worst);
  probe_fit_fixed(&o, p, &single.d, &single.d, 4, scores, NULL);
  worst = 0;
  for (int i = 0; i < N; i++)
    for (int c = 0; c < 4; c++) worst = fmax(worst, fabs(scores[i * 4 + c] - (single.label[i] == c)));
  check(worst < 1e-6, "elm, %d units > %d examples: one-hot classes fitted, residual %.3g < 1e-6", UNITS, N, worst);
  /* the lower functions: h beta = targets, and h's first units are those of a smaller layer */
  double *h = malloc(sizeof(double) * N * UNITS), *h_small = malloc(sizeof(double) * N * 20);
  double *h_copy = malloc(sizeof(double) * N * UNITS), *targets = malloc(sizeof(double) * N * TAGS);
  double *beta = malloc(sizeof(double) * UNITS * TAGS);
  probe_elm_hidden(tr.x, N, DIM, UNITS, 9, h);
  probe_elm_hidden(tr.x, N, DIM, 20, 9, h_small);
  check(!memcmp(h, h_small, sizeof(double) * N * 20), "elm: a smaller layer is the first units of a larger one");
  memcpy(h_copy, h, sizeof(double) * N * UNITS);
  for (int i = 0; i < N; i++)
    for (int t = 0; t < TAGS; t++) targets[t * N + i] = tr.labels[i * TAGS + t];
  probe_elm_output_weights(h_copy, N, UNITS, targets, TAGS, beta);
  worst = 0;
  for (int t = 0; t < TAGS; t++)
    for (int i = 0; i < N; i++) {
      double s = 0;
      for (int u = 0; u < UNITS; u++) s += h[(size_t)u * N + i] * beta[t * UNITS + u];
      worst = fmax(worst, fabs(s - targets[t * N + i]));
    }
  check(worst < 1e-9, "elm: probe_elm_output_weights: |h beta - targets| %.3g < 1e-9 (double)", worst);
  free(h), free(h_small), free(h_copy), free(targets), free(beta);
  free_set(&tr), free_set(&single);
}

static void test_threads(ProbeClassifierKind kind) {
  const int N_TRAIN = n_train_for(kind);
  Set tr = make_set(N_TRAIN, 41, 1, 0, 0), te = make_set(N_TEST, 42, 1, 0, 0);
  Set str = make_set(N_TRAIN, 41, 0, 4, 0), sva = make_set(N_VALID, 43, 0, 4, 0), ste = make_set(N_TEST, 42, 0, 4, 0);
  float *s1 = malloc(sizeof(float) * N_TEST * 4), *s2 = malloc(sizeof(float) * N_TEST * 4);
  char c1[512], c2[512];
  ProbeClassifierOptions o = {.kind = kind, .seed = 5, .threads = 1};
  const int omp_before = omp_get_max_threads();
  probe_fit_predict(&o, &tr.d, NULL, &te.d, TAGS, s1, c1, sizeof c1);
  /* the fits run BLAS single-threaded, and OpenBLAS sets OpenMP's count with its own */
  check(omp_get_max_threads() == omp_before, "%s: OpenMP's default thread count left at %d (now %d)",
        probe_classifier_name(kind), omp_before, omp_get_max_threads());
  o.threads = 2;
  probe_fit_predict(&o, &tr.d, NULL, &te.d, TAGS, s2, c2, sizeof c2);
  check(!memcmp(s1, s2, sizeof(float) * N_TEST * TAGS) && !strcmp(c1, c2),
        "%s, multi-label, held out: 1 and 2 threads give identical scores and choices [%s]",
        probe_classifier_name(kind), c2);
  probe_fit_predict(&o, &str.d, &sva.d, &ste.d, 4, s2, c2, sizeof c2);
  o.threads = 1;
  probe_fit_predict(&o, &str.d, &sva.d, &ste.d, 4, s1, c1, sizeof c1);
  check(!memcmp(s1, s2, sizeof(float) * N_TEST * 4) && !strcmp(c1, c2),
        "%s, single-label, validation: 1 and 2 threads give identical scores and choices [%s]",
        probe_classifier_name(kind), c2);
  free(s1), free(s2);
  free_set(&tr), free_set(&te), free_set(&str), free_set(&sva), free_set(&ste);
}

static void test_constant_tag(ProbeClassifierKind kind) {
  const int N_TRAIN = n_train_for(kind);
  Set tr = make_set(N_TRAIN, 51, 1, 0, 0), va = make_set(N_VALID, 52, 1, 0, 0), te = make_set(N_TEST, 53, 1, 0, 0);
  for (int i = 0; i < N_TRAIN; i++) tr.labels[i * TAGS + 1] = 0;
  float *scores = malloc(sizeof(float) * N_TEST * 4);
  char chosen[256];
  ProbeClassifierOptions o = {.kind = kind, .seed = 1};
  probe_fit_predict(&o, &tr.d, &va.d, &te.d, TAGS, scores, chosen, sizeof chosen);
  int zero = 1;
  for (int i = 0; i < N_TEST; i++) zero &= scores[i * TAGS + 1] == 0.0f;
  const double a0 = metric_roc_auc(scores, te.labels, N_TEST, TAGS);
  const double a2 = metric_roc_auc(scores + 2, te.labels + 2, N_TEST, TAGS);
  check(zero && strstr(chosen, "not fitted") && strstr(chosen, "tag 1") && a0 > 0.95 && a2 > 0.95,
        "%s: a tag without positives in train scores 0 and is reported, the others fitted (%.3f %.3f) [%s]",
        probe_classifier_name(kind), a0, a2, chosen);
  /* single-label: class 2 absent from train is never the argmax */
  Set str = make_set(N_TRAIN, 51, 0, 4, 0), ste = make_set(N_TEST, 53, 0, 4, 0);
  for (int i = 0; i < N_TRAIN; i++)
    if (str.label[i] == 2) str.label[i] = 3;
  probe_fit_predict(&o, &str.d, NULL, &ste.d, 4, scores, chosen, sizeof chosen);
  int below = 1;
  for (int i = 0; i < N_TEST; i++)
    for (int c = 0; c < 4; c++) below &= c == 2 || scores[i * 4 + 2] < scores[i * 4 + c];
  check(below, "%s: a class absent from train scores below every other [%s]", probe_classifier_name(kind), chosen);
  /* single-label with one class in train: 1 for it, 0 for the others */
  for (int i = 0; i < N_TRAIN; i++) str.label[i] = 1;
  probe_fit_predict(&o, &str.d, NULL, &ste.d, 4, scores, chosen, sizeof chosen);
  int constant = 1;
  for (int i = 0; i < N_TEST; i++)
    for (int c = 0; c < 4; c++) constant &= scores[i * 4 + c] == (c == 1);
  check(constant && strstr(chosen, "not fitted"), "%s: one class in train: constant scores [%s]",
        probe_classifier_name(kind), chosen);
  free(scores);
  free_set(&tr), free_set(&va), free_set(&te), free_set(&str), free_set(&ste);
}

static void bad_label_child(const void *arg) {
  const int which = *(const int *)arg;
  Set tr = make_set(20, 61, which == 0, 3, 0);
  if (which == 0) tr.labels[5 * TAGS + 2] = 2;
  if (which == 1) tr.label[7] = 3;
  float scores[20 * TAGS];
  ProbeClassifierOptions o = {.kind = PROBE_LINEAR_SVM};
  probe_fit_predict(&o, &tr.d, NULL, &tr.d, TAGS, scores, NULL, 0);
}

static void test_bad_labels(void) {
  static const char *want[] = {"training example 5 has label 2 for tag 2", "training example 7 has class 3"};
  for (int which = 0; which < 2; which++) {
    char msg[512];
    const int code = run_in_child(bad_label_child, &which, msg, sizeof msg);
    check(code == 1 && strstr(msg, want[which]), "bad %s: exit %d, \"%s\"", which ? "class" : "label", code, msg);
  }
}

int main(void) {
  test_bad_labels(); /* first: fork before any OpenMP thread pool exists */
  test_names();
  test_standardise();
  for (int k = 0; k < 3; k++) {
    test_separable_multilabel(k_kinds[k], 1);
    test_separable_multilabel(k_kinds[k], 0);
    test_separable_single(k_kinds[k], 4, 1);
    test_separable_single(k_kinds[k], 4, 0);
    test_separable_single(k_kinds[k], 2, 1);
    test_random_labels(k_kinds[k]);
    test_threads(k_kinds[k]);
    test_constant_tag(k_kinds[k]);
  }
  test_elm_exact_fit();
  printf("%d checks, %d failed\n", g_checks, g_failures);
  return g_failures ? 1 : 0;
}
