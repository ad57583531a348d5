/* Evaluation metrics with scikit-learn's semantics (docs/papers.md §6.1).
 *
 * One column (a tag) is ranked by score, descending, with a stable LSD radix
 * sort of 32-bit order-preserving keys (O(n), no comparison callback); each
 * element carries its label in the low bits. Tied scores then form one
 * threshold: walking the distinct thresholds from the highest gives the
 * cumulative (TP, FP) operating points of sklearn's _binary_clf_curve, from
 * which both metrics follow in one pass:
 *
 *  - ROC-AUC: the trapezoid between consecutive points (FP, TP) and
 *    (FP', TP') has area (FP' - FP) (TP + TP') / 2 in count units. The sum is
 *    kept exactly in a 64-bit integer (it is at most n^2 / 2) and divided by
 *    2 P N once, so the area is correctly rounded (it equals the Mann-Whitney
 *    U / (P N) with ties counted 1/2);
 *  - AP: sum over thresholds of (R_k - R_{k-1}) P_k = (1/P) sum dTP_k TP_k /
 *    (TP_k + FP_k), with compensated (Neumaier) summation.
 *
 * Scores are compared as the float values they are: -0 and +0 are one
 * threshold (numpy's diff sees them equal), NaN and +-Inf are rejected as
 * sklearn's assert_all_finite does. */
#include "train/metrics.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

/* ---------- one column: validation, sort, operating points ---------- */

/* Order-preserving key of a finite float, descending: a larger score gives a
 * smaller key. -0.0 is mapped to +0.0 first. */
static inline uint32_t desc_key(float s) {
  uint32_t u;
  if (s == 0.0f) s = 0.0f;
  memcpy(&u, &s, sizeof u);
  u = (u & 0x80000000u) ? ~u : (u | 0x80000000u); /* ascending key */
  return ~u;                                      /* descending */
}

static void check_column(const float *scores, const uint8_t *labels, int n, int stride, const char *what) {
  if (n < 0) at_fatal("%s: negative number of examples (%d)", what, n);
  if (n > 0 && stride < 1) at_fatal("%s: stride %d must be at least 1", what, stride);
  for (int i = 0; i < n; i++) {
    float s = scores[(size_t)i * (size_t)stride];
    if (!isfinite(s))
      at_fatal("%s: non-finite score %g at example %d; the model output holds NaN or infinity "
               "(diverged training or a bad checkpoint?), and ROC-AUC/PR-AUC are undefined for it",
               what, (double)s, i);
    uint8_t l = labels[(size_t)i * (size_t)stride];
    if (l > 1) at_fatal("%s: label %u at example %d is not 0 or 1", what, (unsigned)l, i);
  }
}

/* Scratch for one column: two arrays of n packed (key << 32 | label). */
typedef struct {
  uint64_t *a, *b;
} SortBuf;

static void sortbuf_init(SortBuf *sb, int n) {
  size_t bytes = (size_t)(n > 0 ? n : 1) * sizeof(uint64_t);
  sb->a = at_malloc(bytes, "metrics sort buffer");
  sb->b = at_malloc(bytes, "metrics sort buffer");
}

static void sortbuf_free(SortBuf *sb) {
  free(sb->a);
  free(sb->b);
  sb->a = sb->b = NULL;
}

#define RADIX_BITS 11
#define RADIX_SIZE (1u << RADIX_BITS)
#define RADIX_PASSES 3 /* 3 * 11 >= 32 key bits */

/* Fills and sorts the column by descending score (stable, ties in input order).
 * Returns the sorted array (sb->a or sb->b). */
static const uint64_t *sort_column(const float *scores, const uint8_t *labels, int n, int stride, SortBuf *sb) {
  static const unsigned shift0 = 32;
  uint32_t hist[RADIX_PASSES][RADIX_SIZE];
  memset(hist, 0, sizeof hist);
  uint64_t *src = sb->a, *dst = sb->b;
  for (int i = 0; i < n; i++) {
    size_t at = (size_t)i * (size_t)stride;
    uint64_t k = desc_key(scores[at]);
    src[i] = (k << 32) | labels[at];
    for (int p = 0; p < RADIX_PASSES; p++) hist[p][(k >> (p * RADIX_BITS)) & (RADIX_SIZE - 1)]++;
  }
  for (int p = 0; p < RADIX_PASSES; p++) {
    unsigned shift = shift0 + (unsigned)(p * RADIX_BITS);
    uint32_t *h = hist[p];
    /* a pass where every key has the same digit would only copy: skip it */
    if (n == 0 || h[(src[0] >> shift) & (RADIX_SIZE - 1)] == (uint32_t)n) continue;
    uint32_t sum = 0;
    for (unsigned d = 0; d < RADIX_SIZE; d++) {
      uint32_t c = h[d];
      h[d] = sum;
      sum += c;
    }
    for (int i = 0; i < n; i++) {
      uint64_t v = src[i];
      dst[h[(v >> shift) & (RADIX_SIZE - 1)]++] = v;
    }
    uint64_t *t = src;
    src = dst;
    dst = t;
  }
  return src;
}

/* Both metrics of one sorted column. */
static void column_metrics(const uint64_t *v, int n, double *roc, double *ap, int *positives) {
  uint64_t tp = 0, fp = 0, prev_tp = 0, prev_fp = 0;
  uint64_t twice_area = 0; /* sum of (FP' - FP)(TP + TP'), exact */
  double ap_sum = 0.0, ap_c = 0.0;
  int i = 0;
  while (i < n) {
    uint32_t key = (uint32_t)(v[i] >> 32);
    do {
      uint64_t l = v[i] & 1u;
      tp += l;
      fp += 1u - l;
      i++;
    } while (i < n && (uint32_t)(v[i] >> 32) == key);
    /* operating point of this threshold: (fp, tp) */
    twice_area += (fp - prev_fp) * (tp + prev_tp);
    if (tp > prev_tp) {
      double term = (double)(tp - prev_tp) * ((double)tp / (double)(tp + fp));
      double t = ap_sum + term; /* Neumaier */
      ap_c += fabs(ap_sum) >= fabs(term) ? (ap_sum - t) + term : (term - t) + ap_sum;
      ap_sum = t;
    }
    prev_tp = tp;
    prev_fp = fp;
  }
  if (positives) *positives = (int)tp;
  if (roc) *roc = (tp > 0 && fp > 0) ? (double)twice_area / (2.0 * (double)tp * (double)fp) : NAN;
  if (ap) *ap = tp > 0 ? (ap_sum + ap_c) / (double)tp : NAN;
}

static void one_column(const float *scores, const uint8_t *labels, int n, int stride, double *roc, double *ap,
                       const char *what) {
  check_column(scores, labels, n, stride, what);
  SortBuf sb;
  sortbuf_init(&sb, n);
  column_metrics(sort_column(scores, labels, n, stride, &sb), n, roc, ap, NULL);
  sortbuf_free(&sb);
}

double metric_roc_auc(const float *scores, const uint8_t *labels, int n, int stride) {
  double roc;
  one_column(scores, labels, n, stride, &roc, NULL, "ROC-AUC");
  return roc;
}

double metric_average_precision(const float *scores, const uint8_t *labels, int n, int stride) {
  double ap;
  one_column(scores, labels, n, stride, NULL, &ap, "average precision");
  return ap;
}

int metric_operating_points(const float *scores, const uint8_t *labels, int n, int stride, long *tp, long *fp) {
  check_column(scores, labels, n, stride, "operating points");
  SortBuf sb;
  sortbuf_init(&sb, n);
  const uint64_t *v = sort_column(scores, labels, n, stride, &sb);
  long pos = 0, neg = 0;
  int points = 0;
  for (int i = 0; i < n;) {
    uint32_t key = (uint32_t)(v[i] >> 32);
    do {
      pos += (long)(v[i] & 1u);
      neg += (long)(1u - (v[i] & 1u));
      i++;
    } while (i < n && (uint32_t)(v[i] >> 32) == key);
    tp[points] = pos;
    fp[points] = neg;
    points++;
  }
  sortbuf_free(&sb);
  return points;
}

/* ---------- multi-label ---------- */

static void macro_mean(const double *v, int k, double *mean, int *excluded) {
  double sum = 0.0;
  int used = 0;
  for (int j = 0; j < k; j++)
    if (!isnan(v[j])) sum += v[j], used++;
  *mean = used ? sum / used : NAN;
  *excluded = k - used;
}

void metrics_multilabel(const float *scores, const uint8_t *labels, int n, int n_tags, TagMetrics *out) {
  if (n < 0 || n_tags < 0) at_fatal("metrics: invalid shape [%d, %d]", n, n_tags);
  /* all input checks first (one contiguous pass), so that a fatal error
   * exits from the calling thread, before anything is allocated */
  size_t total = (size_t)n * (size_t)n_tags;
  for (size_t i = 0; i < total; i++) {
    if (!isfinite(scores[i]))
      at_fatal("tag metrics: non-finite score %g at example %zu, tag %zu; the model output holds NaN or "
               "infinity (diverged training or a bad checkpoint?), and ROC-AUC/PR-AUC are undefined for it",
               (double)scores[i], i / (size_t)n_tags, i % (size_t)n_tags);
    if (labels[i] > 1)
      at_fatal("tag metrics: label %u at example %zu, tag %zu is not 0 or 1", (unsigned)labels[i],
               i / (size_t)n_tags, i % (size_t)n_tags);
  }
  memset(out, 0, sizeof *out);
  out->n_tags = n_tags;
  out->roc_auc = at_malloc((size_t)(n_tags ? n_tags : 1) * sizeof(double), "per-tag ROC-AUC");
  out->pr_auc = at_malloc((size_t)(n_tags ? n_tags : 1) * sizeof(double), "per-tag PR-AUC");
  out->positives = at_malloc((size_t)(n_tags ? n_tags : 1) * sizeof(int), "per-tag positives");

  /* tags in parallel, one sort buffer per thread; each tag's result does not
   * depend on the thread that computes it */
#pragma omp parallel if (n_tags > 1 && (int64_t)n * n_tags > 200000)
  {
    SortBuf sb;
    sortbuf_init(&sb, n);
#pragma omp for schedule(dynamic, 1)
    for (int j = 0; j < n_tags; j++) {
      const uint64_t *v = sort_column(scores + j, labels + j, n, n_tags, &sb);
      column_metrics(v, n, &out->roc_auc[j], &out->pr_auc[j], &out->positives[j]);
    }
    sortbuf_free(&sb);
  }
  macro_mean(out->roc_auc, n_tags, &out->macro_roc_auc, &out->excluded_roc);
  macro_mean(out->pr_auc, n_tags, &out->macro_pr_auc, &out->excluded_pr);
}

void tag_metrics_free(TagMetrics *m) {
  if (!m) return;
  free(m->roc_auc);
  free(m->pr_auc);
  free(m->positives);
  m->roc_auc = m->pr_auc = NULL;
  m->positives = NULL;
}

/* ---------- single-label ---------- */

void metrics_single_label(const int32_t *predicted, const int32_t *truth, int n, int n_classes, ClassMetrics *out) {
  if (n < 0) at_fatal("class metrics: negative number of examples (%d)", n);
  if (n_classes < 1) at_fatal("class metrics: number of classes is %d, must be at least 1", n_classes);
  for (int i = 0; i < n; i++) {
    if (truth[i] < 0 || truth[i] >= n_classes)
      at_fatal("class metrics: true class %d of example %d is outside [0, %d)", (int)truth[i], i, n_classes);
    if (predicted[i] < 0 || predicted[i] >= n_classes)
      at_fatal("class metrics: predicted class %d of example %d is outside [0, %d)", (int)predicted[i], i, n_classes);
  }
  size_t k = (size_t)n_classes;
  memset(out, 0, sizeof *out);
  out->n_classes = n_classes;
  out->confusion = at_calloc(k * k, sizeof(long), "confusion matrix");
  out->per_class_accuracy = at_malloc(k * sizeof(double), "per-class accuracy");
  long correct = 0;
  for (int i = 0; i < n; i++) {
    out->confusion[(size_t)truth[i] * k + (size_t)predicted[i]]++;
    correct += truth[i] == predicted[i];
  }
  out->accuracy = n ? (double)correct / (double)n : NAN;
  for (size_t c = 0; c < k; c++) {
    long row = 0;
    for (size_t p = 0; p < k; p++) row += out->confusion[c * k + p];
    out->per_class_accuracy[c] = row ? (double)out->confusion[c * k + c] / (double)row : NAN;
  }
  double recall_sum = 0;
  int present = 0;
  for (size_t c = 0; c < k; c++)
    if (!isnan(out->per_class_accuracy[c])) {
      recall_sum += out->per_class_accuracy[c];
      present++;
    }
  out->balanced_accuracy = present ? recall_sum / present : NAN;
}

void class_metrics_free(ClassMetrics *m) {
  if (!m) return;
  free(m->per_class_accuracy);
  free(m->confusion);
  m->per_class_accuracy = NULL;
  m->confusion = NULL;
}

double metric_mean_std(const double *v, int n, double *std) {
  double s = 0, q = 0;
  for (int i = 0; i < n; i++) s += v[i];
  const double mean = s / n;
  for (int i = 0; i < n; i++) q += (v[i] - mean) * (v[i] - mean);
  *std = n > 1 ? sqrt(q / (n - 1)) : 0.0;
  return mean;
}
