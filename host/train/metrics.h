/* Evaluation metrics with scikit-learn's semantics (docs/papers.md §6.1):
 *  - ROC-AUC: trapezoidal area under the ROC curve with one operating point
 *    per distinct score (ties move TP and FP together); NaN if the labels
 *    hold one class only;
 *  - average precision (PR-AUC): sum over distinct thresholds of
 *    (R_n - R_{n-1}) * P_n, a step function, not interpolated; NaN if there
 *    are no positives (sklearn returns 0 with a warning; we exclude the tag);
 *  - macro means over tags skip the NaN tags and report how many were skipped.
 * All sums in double. */
#ifndef AT_METRICS_H
#define AT_METRICS_H

#include <stdint.h>

/* scores[i * stride], labels[i * stride] (0/1) for i < n. */
double metric_roc_auc(const float *scores, const uint8_t *labels, int n, int stride);
double metric_average_precision(const float *scores, const uint8_t *labels, int n, int stride);

/* The operating points of one column, one per distinct score from the
 * highest down (ties move together, as the metrics count them): after point
 * k, tp[k] positives and fp[k] negatives score at or above its threshold.
 * The ROC curve is (fp / negatives, tp / positives), the precision-recall
 * curve (tp / positives, tp / (tp + fp)). Returns the number of points
 * (<= n); tp and fp hold n values. */
int metric_operating_points(const float *scores, const uint8_t *labels, int n, int stride, long *tp, long *fp);

typedef struct TagMetrics {
  int n_tags;
  double *roc_auc;   /* [n_tags], NaN where undefined */
  double *pr_auc;    /* [n_tags], NaN where undefined */
  int *positives;    /* [n_tags] */
  double macro_roc_auc, macro_pr_auc;
  int excluded_roc, excluded_pr; /* tags left out of each mean */
} TagMetrics;

/* scores, labels: [n, n_tags] row-major. Caller frees with tag_metrics_free. */
void metrics_multilabel(const float *scores, const uint8_t *labels, int n, int n_tags, TagMetrics *out);
void tag_metrics_free(TagMetrics *m);

typedef struct ClassMetrics {
  int n_classes;
  double accuracy;
  double balanced_accuracy;   /* mean recall over the classes present (scikit-learn's balanced_accuracy_score) */
  double *per_class_accuracy; /* [n_classes] recall of each class, NaN if absent */
  long *confusion;            /* [n_classes * n_classes], row = true, column = predicted */
} ClassMetrics;

/* predicted[i], truth[i] in [0, n_classes). */
void metrics_single_label(const int32_t *predicted, const int32_t *truth, int n, int n_classes, ClassMetrics *out);
void class_metrics_free(ClassMetrics *m);

/* The mean of v[n] and, in *std, its sample standard deviation (n - 1 in the
 * denominator, as numpy's ddof=1; 0 for a single value): the spread of a
 * metric over folds or draws. */
double metric_mean_std(const double *v, int n, double *std);

#endif
