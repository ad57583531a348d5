/* The classifiers of `auratag probe` (Pons & Serra 2019, "Randomly weighted
 * CNNs for (music) audio classification"): on fixed feature vectors, a linear
 * SVM (LIBLINEAR), an RBF SVM (LIBSVM) or an extreme learning machine (a
 * seeded random tanh layer, output weights by least squares through LAPACK),
 * their hyper-parameters chosen on a validation split.
 *
 * Multi-label: one binary classifier per tag, its hyper-parameters chosen by
 * that tag's validation ROC-AUC. Single-label: one multi-class classifier
 * chosen by validation accuracy. Every fit is deterministic (LIBLINEAR's
 * primal solver and LIBSVM without probability estimates call no rand(); BLAS
 * and LAPACK run single-threaded inside the fits), so the independent fits
 * (tags x grid points) run on OpenMP threads and the results do not depend on
 * the thread count. */
#ifndef AT_PROBE_CLASSIFIER_H
#define AT_PROBE_CLASSIFIER_H

#include <stddef.h>
#include <stdint.h>

typedef enum { PROBE_LINEAR_SVM, PROBE_RBF_SVM, PROBE_ELM } ProbeClassifierKind;

typedef struct ProbeClassifierOptions {
  ProbeClassifierKind kind;
  uint64_t seed; /* ELM's random hidden layer; the held-out part of train when there is no validation split */
  int elm_units; /* 0: chosen on validation from {100, 250, 500, 1000, 2500}; else that many */
  int threads; /* OpenMP threads for independent fits (tags, grid points); 0: OpenMP's default */
} ProbeClassifierOptions;

typedef struct ProbeData { /* features already standardised (probe_standardise) */
  const float *x; /* [n, dim] row-major */
  int n, dim;
  const uint8_t *labels; /* [n, n_tags] 0/1, multi-label; NULL for single-label */
  const int32_t *label; /* [n] class index in [0, n_tags), single-label; NULL for multi-label */
} ProbeData;

/* z-scores each feature with the mean and (population) standard deviation of
 * `train` (a constant feature: std taken as 1), in place, for train and each
 * of the `n_others` arrays others[k] [n_others_rows[k], dim]. Non-finite
 * features are a fatal error. */
void probe_standardise(float *train, int n_train, float *const *others, const int *n_others_rows, int n_others,
                       int dim);

/* Fits on `train`, choosing hyper-parameters on `valid` (or, when valid is
 * NULL, on a seeded, roughly stratified 20 % held out of train, then refitting
 * on all of train with the chosen values), and scores `test`:
 * scores [test->n, n_tags]: multi-label: one binary classifier per tag, its
 * decision value (higher = positive); single-label: one score per class whose
 * argmax is the classifier's decision (a class absent from train scores below
 * every other class).
 * A tag whose training labels are all one value is not fitted: its scores are
 * 0 (single-label with one class in train: 1 for it, 0 for the others).
 * chosen: a short text of the chosen hyper-parameters ("C=2" /
 * "C=8 gamma=2^-7 (per tag: ...)" / "units=500") and of the tags not fitted,
 * for reports (truncated to chosen_size). */
void probe_fit_predict(const ProbeClassifierOptions *o, const ProbeData *train, const ProbeData *valid,
                       const ProbeData *test, int n_tags, float *scores, char *chosen, size_t chosen_size);

const char *probe_classifier_name(ProbeClassifierKind k); /* "linear-svm", "svm", "elm" */
int probe_classifier_parse(const char *name, ProbeClassifierKind *out); /* 1 ok, 0 unknown */

/* ---- Lower level: fits with fixed hyper-parameters (the oracle
 * tests/oracle/probe_classifier_dump.c, the tests, probe_fit_predict) ---- */

typedef struct ProbeParams {
  double C; /* the SVMs' cost */
  double gamma; /* the RBF kernel's exp(-gamma |x - y|^2); <= 0: 1/dim (scikit-learn's "auto") */
  int units; /* the ELM's hidden units */
  double eps; /* the SVMs' stopping tolerance; 0: the library's default (LIBLINEAR -s 2: 0.01, LIBSVM: 0.001) */
} ProbeParams;

/* The hyper-parameters probe_fit_predict tries for o->kind, in order (ties go
 * to the first): linear: C in {0.1, 2, 8, 32}; RBF: those C x gamma in
 * {2^-3, ..., 2^-13, 1/dim}; ELM: units in {100, 250, 500, 1000, 2500}, or
 * o->elm_units alone. points [PROBE_GRID_MAX]; returns how many. */
enum { PROBE_GRID_MAX = 48 };
int probe_grid(const ProbeClassifierOptions *o, ProbeParams *points);

/* Fits on all of `train` with the hyper-parameters p[tag] (multi-label:
 * [n_tags]; single-label: p[0]) and writes scores [test->n, n_tags] as
 * probe_fit_predict does. fitted (NULL: not wanted) [n_tags] multi-label,
 * [1] single-label: 0 where the labels in train are one value. */
void probe_fit_fixed(const ProbeClassifierOptions *o, const ProbeParams *p, const ProbeData *train,
                     const ProbeData *test, int n_tags, float *scores, uint8_t *fitted);

/* Every grid point fitted on `fit` and scored on `held`, in one parallel run:
 * scores [n_points, held->n, n_tags], each point's as probe_fit_fixed writes
 * them; fittable [n_tags] (single-label [1]) as its `fitted`. */
void probe_fit_grid(const ProbeClassifierOptions *o, const ProbeParams *grid, int n_points, const ProbeData *fit,
                    const ProbeData *held, int n_tags, float *scores, uint8_t *fittable);

/* The ELM's hidden layer h = tanh(x W + b) for x [n, dim], W [dim, units] and
 * b [units] drawn from N(0, 1/dim) and N(0, 1) by the counter RNG under
 * `seed` (unit u's weights do not depend on `units`: a smaller layer is the
 * first units of a larger one). h is column-major, LAPACK's order:
 * h[u * n + i] for example i, unit u. */
void probe_elm_hidden(const float *x, int n, int dim, int units, uint64_t seed, double *h);

/* The minimum-norm least-squares output weights: beta [units, n_targets]
 * (column-major, beta[t * units + u]) minimising ||h beta - targets|| through
 * LAPACKE_dgelsd, singular values below eps * max(n, units) * the largest
 * taken as zero (numpy.linalg.lstsq's default). h [n, units] column-major as
 * probe_elm_hidden writes it, overwritten; targets [n, n_targets] column-major
 * (targets[t * n + i]). */
void probe_elm_output_weights(double *h, int n, int units, const double *targets, int n_targets, double *beta);

/* ---- Inside the module (probe_classifier.c runs these on its threads) ---- */

/* Labels other than 0/1, or classes outside [0, n_tags), are a fatal error
 * naming the example of the `which` set ("training", "validation"). */
void probe_check_labels(const ProbeData *d, int n_tags, const char *which);

/* The features in LIBLINEAR's or LIBSVM's format (LIBLINEAR's rows carry the
 * bias feature), shared read-only by every fit. Also silences both
 * libraries' printing: call it before the threads start. */
typedef struct ProbeSvmRows ProbeSvmRows;
ProbeSvmRows *probe_svm_rows_new(ProbeClassifierKind kind, const float *x, int n, int dim);
void probe_svm_rows_free(ProbeSvmRows *r);

/* One SVM (kind LINEAR or RBF) on rows `tr` with the labels of `train`:
 * tag >= 0: that tag's binary problem, writing column `tag` of scores
 * [eval rows, n_tags]; tag < 0: the single-label problem, writing the columns
 * of the classes present in train. The labels must hold two values or more. */
void probe_svm_fit(ProbeClassifierKind kind, const ProbeParams *p, const ProbeSvmRows *tr, const ProbeData *train,
                   const ProbeSvmRows *eval, int tag, int n_tags, float *scores);

/* The ELM with p->units hidden units on `train` (targets 0/1 per tag, or one-hot
 * classes), every column of scores [eval->n, n_tags] at once. */
void probe_elm_fit(const ProbeParams *p, uint64_t seed, const ProbeData *train, const ProbeData *eval, int n_tags,
                   float *scores);

#endif
