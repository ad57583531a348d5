/* The extreme learning machine of `auratag probe` (probe_classifier.h): a
 * random tanh layer fixed by a seed, and output weights by least squares.
 * Matrices are column-major, LAPACK's order, so that dgelsd works on them in
 * place (a row-major call would make LAPACKE copy the hidden layer). */
#include <cblas.h>
#include <float.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/rng.h"
#include "train/probe_classifier.h"

enum { ELM_STREAM = 0x454c4d }; /* "ELM": the counter RNG's stream of the hidden layer */

void probe_elm_hidden(const float *x, int n, int dim, int units, uint64_t seed, double *h) {
  AT_ASSERT(n >= 0 && dim > 0 && units > 0);
  if (n == 0) return;
  /* W ~ N(0, 1/dim) keeps x.w near unit variance on standardised features and
   * b ~ N(0, 1) spreads the units' operating points: tanh is then neither
   * linear nor saturated. Unit u draws indices u (dim + 1) .. u (dim + 1) + dim. */
  double *w = at_malloc(sizeof(double) * (size_t)dim * units, "ELM weights"); /* [dim, units] column-major */
  double *b = at_malloc(sizeof(double) * (size_t)units, "ELM biases");
  const double scale = 1.0 / sqrt((double)dim);
  for (int u = 0; u < units; u++) {
    const uint64_t first = (uint64_t)u * ((uint64_t)dim + 1);
    for (int j = 0; j < dim; j++) w[(size_t)u * dim + j] = scale * at_rng_normal(seed, ELM_STREAM, first + (uint64_t)j);
    b[u] = at_rng_normal(seed, ELM_STREAM, first + (uint64_t)dim);
  }
  double *xd = at_malloc(sizeof(double) * (size_t)n * dim, "ELM inputs");
  for (size_t i = 0; i < (size_t)n * dim; i++) xd[i] = x[i];
  /* x row-major [n, dim] is x^T column-major (leading dimension dim) */
  cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, n, units, dim, 1.0, xd, dim, w, dim, 0.0, h, n);
  for (int u = 0; u < units; u++)
    for (int i = 0; i < n; i++) h[(size_t)u * n + i] = tanh(h[(size_t)u * n + i] + b[u]);
  free(xd);
  free(b);
  free(w);
}

void probe_elm_output_weights(double *h, int n, int units, const double *targets, int n_targets, double *beta) {
  AT_ASSERT(n > 0 && units > 0 && n_targets > 0);
  /* dgelsd overwrites b [max(n, units), n_targets] with the solution in its first `units` rows */
  const int ldb = n > units ? n : units;
  double *b = at_calloc((size_t)ldb * n_targets, sizeof(double), "ELM least squares");
  for (int t = 0; t < n_targets; t++) memcpy(b + (size_t)t * ldb, targets + (size_t)t * n, sizeof(double) * (size_t)n);
  double *sv = at_malloc(sizeof(double) * (size_t)(n < units ? n : units), "ELM singular values");
  lapack_int rank = 0;
  const double rcond = DBL_EPSILON * (double)ldb;
  const lapack_int info = LAPACKE_dgelsd(LAPACK_COL_MAJOR, n, units, n_targets, h, n, b, ldb, sv, rcond, &rank);
  if (info < 0) at_die_at(__FILE__, __LINE__, "LAPACKE_dgelsd: argument %d is invalid", (int)-info);
  if (info > 0)
    at_fatal("the ELM's least squares (LAPACK dgelsd, %d x %d) did not converge; try another number of units or seed",
             n, units);
  for (int t = 0; t < n_targets; t++)
    memcpy(beta + (size_t)t * units, b + (size_t)t * ldb, sizeof(double) * (size_t)units);
  free(sv);
  free(b);
}

void probe_elm_fit(const ProbeParams *p, uint64_t seed, const ProbeData *train, const ProbeData *eval, int n_tags,
                   float *scores) {
  const int n = train->n, units = p->units, dim = train->dim;
  AT_ASSERT(units > 0 && eval->dim == dim);
  /* targets: 0/1 per tag, or the one-hot class */
  double *targets = at_calloc((size_t)n * n_tags, sizeof(double), "ELM targets");
  for (int i = 0; i < n; i++)
    for (int t = 0; t < n_tags; t++)
      targets[(size_t)t * n + i] = train->labels ? train->labels[(size_t)i * n_tags + t] : (train->label[i] == t);
  double *h = at_malloc(sizeof(double) * (size_t)n * units, "ELM hidden layer");
  double *beta = at_malloc(sizeof(double) * (size_t)units * n_tags, "ELM output weights");
  probe_elm_hidden(train->x, n, dim, units, seed, h);
  probe_elm_output_weights(h, n, units, targets, n_tags, beta);
  free(h);
  free(targets);
  if (eval->n > 0) {
    const int m = eval->n;
    double *he = at_malloc(sizeof(double) * (size_t)m * units, "ELM hidden layer");
    double *out = at_malloc(sizeof(double) * (size_t)m * n_tags, "ELM scores");
    probe_elm_hidden(eval->x, m, dim, units, seed, he);
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, m, n_tags, units, 1.0, he, m, beta, units, 0.0, out, m);
    for (int i = 0; i < m; i++)
      for (int t = 0; t < n_tags; t++) scores[(size_t)i * n_tags + t] = (float)out[(size_t)t * m + i];
    free(out);
    free(he);
  }
  free(beta);
}
