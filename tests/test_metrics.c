/* Tests of host/train/metrics.c on cases computed by hand (the comparison
 * with scikit-learn on many random and adversarial cases is
 * tests/oracle/sklearn_metrics.py):
 *
 *  - perfect ranking: ROC-AUC 1, AP 1; reversed: ROC-AUC 0, AP by hand;
 *  - all scores equal: ROC-AUC 0.5, AP = prevalence;
 *  - ties across classes: ROC-AUC 2/3 (Mann-Whitney with ties 1/2), AP 0.7;
 *  - -0.0 and +0.0 are one threshold; negative and huge scores; a stride;
 *  - single positive, single negative;
 *  - one class only: NaN, left out of the macro means and counted;
 *  - single-label accuracy, per-class recall (NaN for an absent class),
 *    confusion matrix;
 *  - non-finite scores, labels other than 0/1 and classes out of range are
 *    fatal errors (exit status 1);
 *  - a random 3000 x 7 matrix against an O(n^2) Mann-Whitney reference and AP
 *    by its definition; metrics_multilabel bitwise equal to the single-column
 *    functions, and (60000 x 8, the parallel path) with 1 and 2 threads;
 *  - the operating points (the report's ROC and precision-recall curves):
 *    by hand on ties, and on the random matrix their trapezoidal area and
 *    step-wise average precision equal ROC-AUC and AP, the last point counts
 *    every positive and negative, and both counts never decrease.
 * Prints one line per check; exits 1 if any check fails. */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "train/metrics.h"
#include "test_util.h"

static int g_failures, g_checks;

static void report(int ok, const char *name, double got, double want) {
  g_checks++;
  if (!ok) g_failures++;
  printf("%s  %-64s got %.17g want %.17g\n", ok ? "PASS" : "FAIL", name, got, want);
  fflush(stdout);
}

/* want NaN matches NaN only */
static void check(const char *name, double got, double want, double tol) {
  int ok = isnan(want) ? isnan(got) : (!isnan(got) && fabs(got - want) <= tol);
  report(ok, name, got, want);
}

static void check_int(const char *name, long got, long want) { report(got == want, name, (double)got, (double)want); }

#define N_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define TOL 1e-15

static void test_binary(void) {
  {
    float s[] = {0.9f, 0.1f, 0.8f, 0.3f, 0.7f};
    uint8_t l[] = {1, 0, 1, 0, 1};
    check("perfect ranking: ROC-AUC", metric_roc_auc(s, l, N_OF(s), 1), 1.0, TOL);
    check("perfect ranking: AP", metric_average_precision(s, l, N_OF(s), 1), 1.0, TOL);
  }
  {
    /* thresholds 0.4 (0,1), 0.3 (0,2), 0.2 (1,3), 0.1 (2,4):
     * AP = 1/2 * 1/3 + 1/2 * 1/2 = 5/12 */
    float s[] = {0.1f, 0.2f, 0.3f, 0.4f};
    uint8_t l[] = {1, 1, 0, 0};
    check("reversed ranking: ROC-AUC", metric_roc_auc(s, l, N_OF(s), 1), 0.0, TOL);
    check("reversed ranking: AP", metric_average_precision(s, l, N_OF(s), 1), 5.0 / 12.0, TOL);
  }
  {
    float s[] = {0.25f, 0.25f, 0.25f, 0.25f, 0.25f, 0.25f, 0.25f};
    uint8_t l[] = {0, 1, 0, 0, 1, 0, 0};
    check("all scores equal: ROC-AUC 0.5", metric_roc_auc(s, l, N_OF(s), 1), 0.5, TOL);
    check("all scores equal: AP = prevalence 2/7", metric_average_precision(s, l, N_OF(s), 1), 2.0 / 7.0, TOL);
  }
  {
    /* thresholds 0.9 (TP 1, FP 0), 0.8 (2, 2), 0.5 (3, 2), 0.3 (3, 3), P = N = 3.
     * ROC points (0,0) (0,1/3) (2/3,2/3) (2/3,1) (1,1): area 1/3 + 1/3 = 2/3;
     * Mann-Whitney: 3 + (1 + 1/2 + 1/2) + 1 = 6 of 9 pairs.
     * AP = 1/3 * 1 + 1/3 * 2/4 + 1/3 * 3/5 = 21/30 */
    float s[] = {0.8f, 0.9f, 0.3f, 0.8f, 0.5f, 0.8f};
    uint8_t l[] = {0, 1, 0, 1, 1, 0};
    check("ties across classes: ROC-AUC 2/3", metric_roc_auc(s, l, N_OF(s), 1), 2.0 / 3.0, TOL);
    check("ties across classes: AP 0.7", metric_average_precision(s, l, N_OF(s), 1), 0.7, TOL);
    /* the order of examples within a tie must not matter */
    float s2[] = {0.8f, 0.8f, 0.8f, 0.9f, 0.5f, 0.3f};
    uint8_t l2[] = {1, 0, 0, 1, 1, 0};
    check("ties, other order: ROC-AUC", metric_roc_auc(s2, l2, N_OF(s2), 1), 2.0 / 3.0, TOL);
    check("ties, other order: AP", metric_average_precision(s2, l2, N_OF(s2), 1), 0.7, TOL);
  }
  {
    /* -0 and +0 are one threshold (numpy compares them equal) */
    float s[] = {0.0f, -0.0f};
    uint8_t l[] = {1, 0}, l2[] = {0, 1};
    check("+0 positive, -0 negative: tie, ROC-AUC 0.5", metric_roc_auc(s, l, 2, 1), 0.5, TOL);
    check("+0 negative, -0 positive: tie, ROC-AUC 0.5", metric_roc_auc(s, l2, 2, 1), 0.5, TOL);
    check("+0 / -0 tie: AP 0.5", metric_average_precision(s, l2, 2, 1), 0.5, TOL);
  }
  {
    /* negative, huge, tiny (subnormal) scores keep their order */
    float s[] = {-3e38f, 1e-45f, -1e-45f, 3e38f, -1.0f, 2.0f};
    uint8_t l[] = {0, 1, 0, 1, 0, 1};
    check("negative/huge/subnormal scores: ROC-AUC 1", metric_roc_auc(s, l, N_OF(s), 1), 1.0, TOL);
    uint8_t l2[] = {1, 0, 1, 0, 1, 0};
    check("negative/huge/subnormal scores reversed: ROC-AUC 0", metric_roc_auc(s, l2, N_OF(s), 1), 0.0, TOL);
  }
  {
    /* single positive at 0.35: above 0.1 only. Thresholds 0.8 (0,1), 0.4 (0,2),
     * 0.35 (1,3): AP = 1/3 */
    float s[] = {0.1f, 0.4f, 0.35f, 0.8f};
    uint8_t l[] = {0, 0, 1, 0};
    check("single positive: ROC-AUC 1/3", metric_roc_auc(s, l, N_OF(s), 1), 1.0 / 3.0, TOL);
    check("single positive: AP 1/3", metric_average_precision(s, l, N_OF(s), 1), 1.0 / 3.0, TOL);
    /* single negative at 0.4: only the positive at 0.8 is above it. Thresholds
     * 0.8 (1,0), 0.4 (1,1), 0.35 (2,1), 0.1 (3,1): AP = 1/3 * 1 + 1/3 * 2/3 +
     * 1/3 * 3/4 */
    uint8_t ln[] = {1, 0, 1, 1};
    check("single negative: ROC-AUC 1/3", metric_roc_auc(s, ln, N_OF(s), 1), 1.0 / 3.0, TOL);
    check("single negative: AP 29/36", metric_average_precision(s, ln, N_OF(s), 1),
          (1.0 + 2.0 / 3.0 + 3.0 / 4.0) / 3.0, TOL);
  }
  {
    float s[] = {0.1f, 0.9f, 0.5f};
    uint8_t zeros[] = {0, 0, 0}, ones[] = {1, 1, 1};
    check("no positives: ROC-AUC NaN", metric_roc_auc(s, zeros, 3, 1), NAN, 0);
    check("no positives: AP NaN", metric_average_precision(s, zeros, 3, 1), NAN, 0);
    check("no negatives: ROC-AUC NaN", metric_roc_auc(s, ones, 3, 1), NAN, 0);
    check("no negatives: AP 1", metric_average_precision(s, ones, 3, 1), 1.0, TOL);
    check("no examples: ROC-AUC NaN", metric_roc_auc(s, zeros, 0, 1), NAN, 0);
    check("no examples: AP NaN", metric_average_precision(s, zeros, 0, 1), NAN, 0);
    check("one example: ROC-AUC NaN", metric_roc_auc(s, ones, 1, 1), NAN, 0);
    check("one example: AP 1", metric_average_precision(s, ones, 1, 1), 1.0, TOL);
  }
  {
    /* stride: column 1 of a 3-column matrix is the ties case above */
    float s[] = {9, 0.8f, 9, 9, 0.9f, 9, 9, 0.3f, 9, 9, 0.8f, 9, 9, 0.5f, 9, 9, 0.8f, 9};
    uint8_t l[] = {1, 0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 1};
    check("stride 3: ROC-AUC 2/3", metric_roc_auc(s + 1, l + 1, 6, 3), 2.0 / 3.0, TOL);
    check("stride 3: AP 0.7", metric_average_precision(s + 1, l + 1, 6, 3), 0.7, TOL);
  }
}

static void test_multilabel(void) {
  /* tag 0: the ties case (2/3, 0.7, 3 positives); tag 1: no positives (NaN,
   * NaN); tag 2: no negatives (NaN, 1); tag 3: perfect (1, 1). */
  const float s0[] = {0.8f, 0.9f, 0.3f, 0.8f, 0.5f, 0.8f};
  const uint8_t l0[] = {0, 1, 0, 1, 1, 0};
  enum { N = 6, T = 4 };
  float s[N * T];
  uint8_t l[N * T];
  for (int i = 0; i < N; i++) {
    s[i * T + 0] = s0[i], l[i * T + 0] = l0[i];
    s[i * T + 1] = (float)i * 0.1f, l[i * T + 1] = 0;
    s[i * T + 2] = 1.0f - (float)i * 0.1f, l[i * T + 2] = 1;
    s[i * T + 3] = (float)i, l[i * T + 3] = i >= 4;
  }
  TagMetrics m;
  metrics_multilabel(s, l, N, T, &m);
  check_int("multilabel: n_tags", m.n_tags, T);
  check("multilabel: tag 0 ROC-AUC 2/3", m.roc_auc[0], 2.0 / 3.0, TOL);
  check("multilabel: tag 0 AP 0.7", m.pr_auc[0], 0.7, TOL);
  check("multilabel: tag 1 (no positives) ROC-AUC NaN", m.roc_auc[1], NAN, 0);
  check("multilabel: tag 1 (no positives) AP NaN", m.pr_auc[1], NAN, 0);
  check("multilabel: tag 2 (no negatives) ROC-AUC NaN", m.roc_auc[2], NAN, 0);
  check("multilabel: tag 2 (no negatives) AP 1", m.pr_auc[2], 1.0, TOL);
  check("multilabel: tag 3 ROC-AUC 1", m.roc_auc[3], 1.0, TOL);
  check("multilabel: tag 3 AP 1", m.pr_auc[3], 1.0, TOL);
  check_int("multilabel: positives tag 0", m.positives[0], 3);
  check_int("multilabel: positives tag 1", m.positives[1], 0);
  check_int("multilabel: positives tag 2", m.positives[2], 6);
  check_int("multilabel: positives tag 3", m.positives[3], 2);
  check("multilabel: macro ROC-AUC over tags 0, 3", m.macro_roc_auc, (2.0 / 3.0 + 1.0) / 2.0, TOL);
  check_int("multilabel: excluded from ROC-AUC mean", m.excluded_roc, 2);
  check("multilabel: macro AP over tags 0, 2, 3", m.macro_pr_auc, (0.7 + 1.0 + 1.0) / 3.0, TOL);
  check_int("multilabel: excluded from AP mean", m.excluded_pr, 1);
  tag_metrics_free(&m);

  /* every tag undefined: NaN means, all excluded */
  uint8_t zeros[N * 2] = {0};
  metrics_multilabel(s, zeros, N, 2, &m);
  check("all tags without positives: macro ROC-AUC NaN", m.macro_roc_auc, NAN, 0);
  check("all tags without positives: macro AP NaN", m.macro_pr_auc, NAN, 0);
  check_int("all tags without positives: excluded ROC", m.excluded_roc, 2);
  check_int("all tags without positives: excluded AP", m.excluded_pr, 2);
  tag_metrics_free(&m);
  metrics_multilabel(s, zeros, 0, 3, &m);
  check("no examples: macro ROC-AUC NaN", m.macro_roc_auc, NAN, 0);
  check_int("no examples: excluded ROC", m.excluded_roc, 3);
  tag_metrics_free(&m);
  tag_metrics_free(&m); /* freeing twice is harmless */
}

static void test_single_label(void) {
  /* 4 classes, class 2 never true (but predicted once).
   * confusion (row = truth): [1 1 0 0; 1 1 1 0; 0 0 0 0; 0 0 0 1] */
  int32_t truth[] = {0, 0, 1, 1, 1, 3};
  int32_t pred[] = {0, 1, 1, 2, 0, 3};
  ClassMetrics c;
  metrics_single_label(pred, truth, N_OF(truth), 4, &c);
  const long want[16] = {1, 1, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  int same = 1;
  for (int i = 0; i < 16; i++) same &= c.confusion[i] == want[i];
  report(same, "single label: confusion matrix (row = truth)", same, 1);
  check_int("single label: n_classes", c.n_classes, 4);
  check("single label: accuracy 3/6", c.accuracy, 0.5, TOL);
  check("single label: recall class 0 = 1/2", c.per_class_accuracy[0], 0.5, TOL);
  check("single label: recall class 1 = 1/3", c.per_class_accuracy[1], 1.0 / 3.0, TOL);
  check("single label: recall class 2 (absent) NaN", c.per_class_accuracy[2], NAN, 0);
  check("single label: recall class 3 = 1", c.per_class_accuracy[3], 1.0, TOL);
  check("single label: balanced accuracy = mean recall of the 3 present classes", c.balanced_accuracy, (0.5 + 1.0 / 3.0 + 1.0) / 3.0, TOL);
  class_metrics_free(&c);
  class_metrics_free(&c);
  metrics_single_label(pred, truth, 0, 2, &c);
  check("single label: no examples, accuracy NaN", c.accuracy, NAN, 0);
  class_metrics_free(&c);
}

/* ---------- fatal errors (in a child process) ---------- */

static void fatal_case(int which) {
  float s[4] = {0.1f, 0.2f, 0.3f, 0.4f};
  uint8_t l[4] = {0, 1, 0, 1};
  int32_t t[3] = {0, 1, 2}, p[3] = {0, 1, 2};
  TagMetrics m;
  ClassMetrics c;
  switch (which) {
  case 0: s[2] = NAN, metric_roc_auc(s, l, 4, 1); break;
  case 1: s[1] = INFINITY, metric_average_precision(s, l, 4, 1); break;
  case 2: s[3] = -INFINITY, metrics_multilabel(s, l, 2, 2, &m); break;
  case 3: l[0] = 2, metric_roc_auc(s, l, 4, 1); break;
  case 4: t[2] = 3, metrics_single_label(p, t, 3, 3, &c); break;
  case 5: p[0] = -1, metrics_single_label(p, t, 3, 3, &c); break;
  }
}

static void fatal_child(const void *arg) { fatal_case(*(const int *)arg); }

static void test_fatal(void) {
  static const char *names[] = {
      "NaN score -> at_fatal",         "+Inf score -> at_fatal",          "-Inf score (multilabel) -> at_fatal",
      "label 2 -> at_fatal",           "true class out of range -> at_fatal", "predicted class -1 -> at_fatal",
  };
  for (int which = 0; which < N_OF(names); which++) {
    char msg[1024];
    int code = run_in_child(fatal_child, &which, msg, sizeof msg);
    int ok = code == 1 && strstr(msg, "auratag: error:") != NULL;
    if (which <= 2) ok = ok && strstr(msg, "non-finite score") != NULL;
    g_checks++;
    if (!ok) g_failures++;
    printf("%s  %-64s exit %d: %s\n", ok ? "PASS" : "FAIL", names[which], code, msg[0] ? msg : "(no message)");
    fflush(stdout);
  }
}

/* ---------- random matrix against an O(n^2) reference ---------- */

static uint64_t g_rng = 0x243F6A8885A308D3ull;
static double urand(void) { /* splitmix64 -> [0, 1) */
  uint64_t z = (g_rng += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return (double)(z >> 11) * (1.0 / 9007199254740992.0);
}

static double mann_whitney(const float *s, const uint8_t *l, int n, int stride) {
  double u = 0;
  long p = 0, q = 0;
  for (int i = 0; i < n; i++) {
    if (!l[i * stride]) continue;
    p++;
    for (int j = 0; j < n; j++) {
      if (l[j * stride]) continue;
      float a = s[i * stride], b = s[j * stride];
      u += a > b ? 1.0 : a == b ? 0.5 : 0.0;
    }
  }
  for (int j = 0; j < n; j++) q += !l[j * stride];
  return p && q ? u / ((double)p * (double)q) : NAN;
}

/* AP by definition: for each positive, precision at its score's threshold
 * (every example with score >= it), averaged over positives. */
static double ap_reference(const float *s, const uint8_t *l, int n, int stride) {
  double sum = 0;
  long p = 0;
  for (int i = 0; i < n; i++) {
    if (!l[i * stride]) continue;
    p++;
    long tp = 0, all = 0;
    for (int j = 0; j < n; j++)
      if (s[j * stride] >= s[i * stride]) all++, tp += l[j * stride];
    sum += (double)tp / (double)all;
  }
  return p ? sum / (double)p : NAN;
}

static void test_random(void) {
  enum { N = 3000, T = 7 };
  float *s = malloc(sizeof(float) * N * T);
  uint8_t *l = malloc(N * T);
  for (int i = 0; i < N; i++)
    for (int j = 0; j < T; j++) {
      double prev = j == 5 ? 0.0 : j == 6 ? 1.0 : 0.02 + 0.1 * j; /* tags 5, 6: one class */
      int y = urand() < prev;
      double x = urand() + 0.7 * y;
      /* odd tags: heavy ties (8 levels), tag 4: with -0/+0 and negatives */
      if (j & 1) x = floor(x * 4.0) / 4.0;
      if (j == 4) x = floor(x * 3.0) - 1.0, x = x == 0.0 && urand() < 0.5 ? -0.0 : x;
      s[i * T + j] = (float)x;
      l[i * T + j] = (uint8_t)y;
    }
  double worst_roc = 0, worst_ap = 0;
  int agree = 1;
  for (int threads = 1; threads <= 2; threads++) {
    omp_set_num_threads(threads);
    TagMetrics m;
    metrics_multilabel(s, l, N, T, &m);
    for (int j = 0; j < T; j++) {
      double r = mann_whitney(s + j, l + j, N, T), a = ap_reference(s + j, l + j, N, T);
      double r1 = metric_roc_auc(s + j, l + j, N, T), a1 = metric_average_precision(s + j, l + j, N, T);
      if (isnan(r) != isnan(m.roc_auc[j]) || isnan(a) != isnan(m.pr_auc[j])) worst_roc = INFINITY;
      if (!isnan(r)) worst_roc = fmax(worst_roc, fabs(m.roc_auc[j] - r));
      if (!isnan(a)) worst_ap = fmax(worst_ap, fabs(m.pr_auc[j] - a));
      /* bitwise equal to the single-column functions */
      agree &= memcmp(&r1, &m.roc_auc[j], sizeof r1) == 0 && memcmp(&a1, &m.pr_auc[j], sizeof a1) == 0;
    }
    char name[96];
    snprintf(name, sizeof name, "random %dx%d, %d thread(s): ROC-AUC vs Mann-Whitney, max dev", N, T, threads);
    check(name, worst_roc, 0.0, 1e-13);
    snprintf(name, sizeof name, "random %dx%d, %d thread(s): AP vs definition, max dev", N, T, threads);
    check(name, worst_ap, 0.0, 1e-13);
    snprintf(name, sizeof name, "random, %d thread(s): multilabel == single-column (bitwise)", threads);
    report(agree, name, agree, 1);
    check_int("random: excluded ROC (tags 5, 6)", m.excluded_roc, 2);
    check_int("random: excluded AP (tag 5)", m.excluded_pr, 1);
    tag_metrics_free(&m);
  }
  free(s);
  free(l);

  /* big enough for the parallel path: 1 thread == 2 threads == single column */
  enum { NB = 60000, TB = 8 };
  s = malloc(sizeof(float) * NB * TB);
  l = malloc(NB * TB);
  for (int i = 0; i < NB * TB; i++) {
    int y = urand() < 0.1;
    s[i] = (float)(i % 3 ? urand() + 0.5 * y : floor(urand() * 16.0));
    l[i] = (uint8_t)y;
  }
  TagMetrics m1, m2;
  omp_set_num_threads(1);
  metrics_multilabel(s, l, NB, TB, &m1);
  omp_set_num_threads(2);
  metrics_multilabel(s, l, NB, TB, &m2);
  agree = memcmp(m1.roc_auc, m2.roc_auc, sizeof(double) * TB) == 0 &&
          memcmp(m1.pr_auc, m2.pr_auc, sizeof(double) * TB) == 0 &&
          memcmp(m1.positives, m2.positives, sizeof(int) * TB) == 0;
  for (int j = 0; j < TB; j++) {
    double r1 = metric_roc_auc(s + j, l + j, NB, TB), a1 = metric_average_precision(s + j, l + j, NB, TB);
    agree &= memcmp(&r1, &m2.roc_auc[j], sizeof r1) == 0 && memcmp(&a1, &m2.pr_auc[j], sizeof a1) == 0;
  }
  report(agree, "60000x8: 1 thread == 2 threads == single-column (bitwise)", agree, 1);
  tag_metrics_free(&m1);
  tag_metrics_free(&m2);
  free(s);
  free(l);
}

/* Trapezoids under the ROC points and AP as a sum over them, the curves'
 * own reading of the metrics. */
static void curve_areas(const long *tp, const long *fp, int k, double *roc, double *ap) {
  double area = 0, sum = 0;
  long pos = tp[k - 1], neg = fp[k - 1], ptp = 0, pfp = 0;
  for (int i = 0; i < k; i++) {
    area += (double)(fp[i] - pfp) * (double)(tp[i] + ptp) / 2.0;
    sum += (double)(tp[i] - ptp) * (double)tp[i] / (double)(tp[i] + fp[i]);
    ptp = tp[i], pfp = fp[i];
  }
  *roc = area / ((double)pos * (double)neg);
  *ap = sum / (double)pos;
}

static void test_operating_points(void) {
  /* ties: scores 3 3 2 1 1 with labels 1 0 1 1 0: thresholds 3, 2, 1 */
  const float s[5] = {3, 3, 2, 1, 1};
  const uint8_t l[5] = {1, 0, 1, 1, 0};
  long tp[5], fp[5];
  int k = metric_operating_points(s, l, 5, 1, tp, fp);
  check_int("operating points: 3 distinct scores", k, 3);
  report(tp[0] == 1 && fp[0] == 1 && tp[1] == 2 && fp[1] == 1 && tp[2] == 3 && fp[2] == 2,
         "operating points by hand: (1,1) (2,1) (3,2)", tp[2], 3);
  enum { N = 3000, T = 5 };
  float *sr = malloc(sizeof(float) * N * T);
  uint8_t *lr = malloc(N * T);
  for (int i = 0; i < N * T; i++) {
    int y = urand() < 0.2;
    double x = urand() + 0.6 * y;
    if (i % T >= 3) x = floor(x * 5.0) / 5.0; /* heavy ties */
    sr[i] = (float)x, lr[i] = (uint8_t)y;
  }
  long *tpr = malloc(sizeof(long) * N), *fpr = malloc(sizeof(long) * N);
  double worst = 0;
  int sane = 1;
  for (int j = 0; j < T; j++) {
    k = metric_operating_points(sr + j, lr + j, N, T, tpr, fpr);
    long pos = 0;
    for (int i = 0; i < N; i++) pos += lr[i * T + j];
    sane &= k > 0 && tpr[k - 1] == pos && fpr[k - 1] == N - pos;
    for (int i = 1; i < k; i++) sane &= tpr[i] >= tpr[i - 1] && fpr[i] >= fpr[i - 1] && tpr[i] + fpr[i] > tpr[i - 1] + fpr[i - 1];
    double roc, ap;
    curve_areas(tpr, fpr, k, &roc, &ap);
    worst = fmax(worst, fabs(roc - metric_roc_auc(sr + j, lr + j, N, T)));
    worst = fmax(worst, fabs(ap - metric_average_precision(sr + j, lr + j, N, T)));
  }
  check("operating points: areas == ROC-AUC and AP (random, ties), max dev", worst, 0.0, 1e-12);
  report(sane, "operating points: end at (positives, negatives), counts grow", sane, 1);
  free(sr), free(lr), free(tpr), free(fpr);
}

int main(void) {
  test_fatal(); /* first: fork before any OpenMP thread pool exists */
  test_binary();
  test_multilabel();
  test_single_label();
  test_random();
  test_operating_points();
  printf("%d checks, %d failed\n", g_checks, g_failures);
  return g_failures ? 1 : 0;
}
