/* The classifiers of `auratag probe` (probe_classifier.h): standardisation,
 * the grid, and the fits on OpenMP threads. Choosing on validation:
 * probe_choose.c; the fits themselves: probe_svm.c, probe_elm.c. */
#include "train/probe_classifier.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

const char *probe_classifier_name(ProbeClassifierKind k) {
  switch (k) {
    case PROBE_LINEAR_SVM:
      return "linear-svm";
    case PROBE_RBF_SVM:
      return "svm";
    case PROBE_ELM:
      return "elm";
  }
  return "?";
}

int probe_classifier_parse(const char *name, ProbeClassifierKind *out) {
  static const ProbeClassifierKind kinds[] = {PROBE_LINEAR_SVM, PROBE_RBF_SVM, PROBE_ELM};
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
    if (!strcmp(name, probe_classifier_name(kinds[i]))) {
      *out = kinds[i];
      return 1;
    }
  return 0;
}

static void check_finite(const float *x, int n, int dim, const char *which) {
  for (size_t i = 0; i < (size_t)n * dim; i++)
    if (!isfinite(x[i]))
      at_fatal("probe: feature %d of %s example %zu is %g; the features must be finite", (int)(i % (size_t)dim), which,
               i / (size_t)dim, x[i]);
}

void probe_standardise(float *train, int n_train, float *const *others, const int *n_others_rows, int n_others,
                       int dim) {
  AT_ASSERT(n_train > 0 && dim > 0 && n_others >= 0);
  check_finite(train, n_train, dim, "training");
  for (int k = 0; k < n_others; k++) {
    char which[32];
    snprintf(which, sizeof which, "set %d's", k + 1);
    check_finite(others[k], n_others_rows[k], dim, which);
  }
  double *mean = at_calloc((size_t)dim, sizeof(double), "feature means");
  double *scale = at_calloc((size_t)dim, sizeof(double), "feature scales");
  for (int i = 0; i < n_train; i++)
    for (int j = 0; j < dim; j++) mean[j] += train[(size_t)i * dim + j];
  for (int j = 0; j < dim; j++) mean[j] /= n_train;
  /* two passes: a constant feature gets a variance of exactly 0 */
  for (int i = 0; i < n_train; i++)
    for (int j = 0; j < dim; j++) {
      const double d = train[(size_t)i * dim + j] - mean[j];
      scale[j] += d * d;
    }
  for (int j = 0; j < dim; j++) scale[j] = scale[j] > 0 ? 1.0 / sqrt(scale[j] / n_train) : 1.0;
  for (int k = -1; k < n_others; k++) {
    float *x = k < 0 ? train : others[k];
    const int n = k < 0 ? n_train : n_others_rows[k];
    for (int i = 0; i < n; i++)
      for (int j = 0; j < dim; j++) x[(size_t)i * dim + j] = (float)((x[(size_t)i * dim + j] - mean[j]) * scale[j]);
  }
  free(scale);
  free(mean);
}

/* ---- the grid ---- */

static const double k_costs[] = {0.1, 2, 8, 32};
static const int k_units[] = {100, 250, 500, 1000, 2500};
#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

int probe_grid(const ProbeClassifierOptions *o, ProbeParams *points) {
  int n = 0;
  switch (o->kind) {
    case PROBE_LINEAR_SVM:
      for (int c = 0; c < COUNT(k_costs); c++) points[n++] = (ProbeParams){.C = k_costs[c]};
      break;
    case PROBE_RBF_SVM:
      for (int c = 0; c < COUNT(k_costs); c++) {
        for (int e = 3; e <= 13; e++) points[n++] = (ProbeParams){.C = k_costs[c], .gamma = ldexp(1.0, -e)};
        points[n++] = (ProbeParams){.C = k_costs[c], .gamma = 0}; /* 1/dim */
      }
      break;
    case PROBE_ELM:
      if (o->elm_units > 0) points[n++] = (ProbeParams){.units = o->elm_units};
      else
        for (int u = 0; u < COUNT(k_units); u++) points[n++] = (ProbeParams){.units = k_units[u]};
      break;
  }
  AT_ASSERT(n >= 1 && n <= PROBE_GRID_MAX);
  return n;
}

/* ---- labels ---- */

void probe_check_labels(const ProbeData *d, int n_tags, const char *which) {
  for (int i = 0; i < d->n; i++)
    if (d->labels) {
      for (int t = 0; t < n_tags; t++)
        if (d->labels[(size_t)i * n_tags + t] > 1)
          at_fatal("probe: %s example %d has label %d for tag %d; labels must be 0 or 1", which, i,
                   d->labels[(size_t)i * n_tags + t], t);
    } else if (d->label[i] < 0 || d->label[i] >= n_tags) {
      at_fatal("probe: %s example %d has class %d, outside [0, %d)", which, i, (int)d->label[i], n_tags);
    }
}

/* Multi-label: whether each tag's labels in `train` hold both values;
 * single-label: fittable[0], whether two classes or more are present. */
static void fittable_tags(const ProbeData *train, int n_tags, uint8_t *fittable) {
  if (train->labels) {
    for (int t = 0; t < n_tags; t++) {
      int pos = 0;
      for (int i = 0; i < train->n; i++) pos += train->labels[(size_t)i * n_tags + t];
      fittable[t] = pos > 0 && pos < train->n;
    }
  } else {
    int classes = 0;
    uint8_t *present = at_calloc((size_t)n_tags, 1, "classes present");
    for (int i = 0; i < train->n; i++)
      if (!present[train->label[i]]) present[train->label[i]] = 1, classes++;
    free(present);
    fittable[0] = classes >= 2;
  }
}

/* Single-label scores after the fit: a class absent from train goes below
 * every other (the fit wrote no column for it); without a fit (one class in
 * train), 1 for the class present and 0 for the others. */
static void finish_single_label(const ProbeData *train, int fitted, int n_tags, int n_eval, float *scores) {
  uint8_t *present = at_calloc((size_t)n_tags, 1, "classes present");
  for (int i = 0; i < train->n; i++) present[train->label[i]] = 1;
  for (int r = 0; r < n_eval; r++) {
    float *s = scores + (size_t)r * n_tags, low = INFINITY;
    for (int c = 0; c < n_tags; c++)
      if (!fitted) s[c] = present[c];
      else if (present[c] && s[c] < low) low = s[c];
    if (fitted)
      for (int c = 0; c < n_tags; c++)
        if (!present[c]) s[c] = low - 1.0f - fabsf(low); /* strictly below low even where 1 is lost to rounding */
  }
  free(present);
}

/* ---- fits on threads ---- */

typedef struct FitJob {
  ProbeParams p;
  int tag; /* >= 0: that tag's binary SVM; -1: every column at once */
  float *out; /* [eval rows, n_tags], written by the fit */
  float *dest; /* NULL, or (ELM) the matrix that takes out's columns of the tags fitted with p.units */
  const ProbeParams *per_tag; /* with dest: each tag's parameters */
  const uint8_t *fittable;
} FitJob;

typedef struct JobList {
  FitJob *v;
  int n, cap;
} JobList;

static void push_job(JobList *l, FitJob j) {
  if (l->n == l->cap) {
    l->cap = l->cap ? 2 * l->cap : 64;
    l->v = at_realloc(l->v, sizeof(FitJob) * (size_t)l->cap, "probe fits");
  }
  l->v[l->n++] = j;
}

/* The fits that give scores [n_eval, n_tags] for the parameters per_tag
 * (single-label: per_tag[0]); only the fittable tags. */
static void plan_fits(const ProbeClassifierOptions *o, const ProbeParams *per_tag, const uint8_t *fittable, int multi,
                      int n_tags, int n_eval, float *scores, JobList *jobs) {
  if (!multi) {
    if (fittable[0]) push_job(jobs, (FitJob){.p = per_tag[0], .tag = -1, .out = scores});
    return;
  }
  if (o->kind != PROBE_ELM) {
    for (int t = 0; t < n_tags; t++)
      if (fittable[t]) push_job(jobs, (FitJob){.p = per_tag[t], .tag = t, .out = scores});
    return;
  }
  /* ELM: one fit per distinct number of units solves every tag at once (one
   * hidden layer, one factorisation); each tag takes its column from the fit
   * with its number */
  for (int t = 0; t < n_tags; t++) {
    if (!fittable[t]) continue;
    int seen = 0;
    for (int u = 0; u < t && !seen; u++) seen = fittable[u] && per_tag[u].units == per_tag[t].units;
    if (seen) continue;
    float *out = at_calloc((size_t)n_eval * n_tags, sizeof(float), "ELM scores");
    push_job(
        jobs,
        (FitJob){.p = per_tag[t], .tag = -1, .out = out, .dest = scores, .per_tag = per_tag, .fittable = fittable});
  }
}

static void run_jobs(const ProbeClassifierOptions *o, const ProbeData *train, const ProbeData *eval, int n_tags,
                     JobList *jobs) {
  ProbeSvmRows *tr = NULL, *ev = NULL;
  if (o->kind != PROBE_ELM && jobs->n > 0) {
    tr = probe_svm_rows_new(o->kind, train->x, train->n, train->dim);
    ev = probe_svm_rows_new(o->kind, eval->x, eval->n, eval->dim);
  }
  const int threads = o->threads > 0 ? o->threads : omp_get_max_threads();
  /* BLAS and LAPACK single-threaded inside the fits: OpenBLAS splits some
   * reductions (dot products, gemv) by its thread count, which would make the
   * results depend on it. OpenBLAS's OpenMP flavour sets OpenMP's default
   * thread count along with its own: both are put back. */
  const int omp_threads = omp_get_max_threads(), blas_threads = openblas_get_num_threads();
  openblas_set_num_threads(1);
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
  for (int j = 0; j < jobs->n; j++) {
    const FitJob *job = &jobs->v[j];
    if (o->kind == PROBE_ELM) probe_elm_fit(&job->p, o->seed, train, eval, n_tags, job->out);
    else probe_svm_fit(o->kind, &job->p, tr, train, ev, job->tag, n_tags, job->out);
  }
  openblas_set_num_threads(blas_threads);
  omp_set_num_threads(omp_threads);
  for (int j = 0; j < jobs->n; j++) {
    const FitJob *job = &jobs->v[j];
    if (!job->dest) continue;
    for (int t = 0; t < n_tags; t++)
      if (job->fittable[t] && job->per_tag[t].units == job->p.units)
        for (int r = 0; r < eval->n; r++) job->dest[(size_t)r * n_tags + t] = job->out[(size_t)r * n_tags + t];
    free(job->out);
  }
  free(jobs->v);
  *jobs = (JobList){0};
  probe_svm_rows_free(ev);
  probe_svm_rows_free(tr);
}

void probe_fit_fixed(const ProbeClassifierOptions *o, const ProbeParams *p, const ProbeData *train,
                     const ProbeData *test, int n_tags, float *scores, uint8_t *fitted) {
  AT_ASSERT(n_tags >= 1 && train->n >= 1 && test->dim == train->dim && (!train->labels != !train->label));
  probe_check_labels(train, n_tags, "training");
  const int multi = train->labels != NULL, n_cols = multi ? n_tags : 1;
  uint8_t *fittable = at_malloc((size_t)n_cols, "fittable tags");
  fittable_tags(train, n_tags, fittable);
  memset(scores, 0, sizeof(float) * (size_t)test->n * n_tags);
  JobList jobs = {0};
  plan_fits(o, p, fittable, multi, n_tags, test->n, scores, &jobs);
  run_jobs(o, train, test, n_tags, &jobs);
  if (!multi) finish_single_label(train, fittable[0], n_tags, test->n, scores);
  if (fitted) memcpy(fitted, fittable, (size_t)n_cols);
  free(fittable);
}

void probe_fit_grid(const ProbeClassifierOptions *o, const ProbeParams *grid, int n_points, const ProbeData *fit,
                    const ProbeData *held, int n_tags, float *scores, uint8_t *fittable) {
  AT_ASSERT(n_tags >= 1 && fit->n >= 1 && held->dim == fit->dim && (!fit->labels != !fit->label));
  AT_ASSERT(!held->labels == !fit->labels && !held->label == !fit->label);
  probe_check_labels(fit, n_tags, "training");
  probe_check_labels(held, n_tags, "validation");
  const int multi = fit->labels != NULL, n_cols = multi ? n_tags : 1;
  const size_t per_point = (size_t)held->n * n_tags;
  fittable_tags(fit, n_tags, fittable);
  memset(scores, 0, sizeof(float) * per_point * n_points);
  ProbeParams *params = at_malloc(sizeof(ProbeParams) * (size_t)n_points * n_cols, "grid parameters");
  JobList jobs = {0};
  for (int s = 0; s < n_points; s++) {
    for (int t = 0; t < n_cols; t++) params[(size_t)s * n_cols + t] = grid[s];
    plan_fits(o, params + (size_t)s * n_cols, fittable, multi, n_tags, held->n, scores + s * per_point, &jobs);
  }
  run_jobs(o, fit, held, n_tags, &jobs); /* every point at once: the single-label SVMs have one fit per point */
  if (!multi)
    for (int s = 0; s < n_points; s++) finish_single_label(fit, fittable[0], n_tags, held->n, scores + s * per_point);
  free(params);
}
