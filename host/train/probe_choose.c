/* Choosing the hyper-parameters of `auratag probe`'s classifiers on a
 * validation split or a held-out part of train, and the report of the choice
 * (probe_classifier.h). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/rng.h"
#include "train/metrics.h"
#include "train/probe_classifier.h"

enum { SPLIT_STREAM = 0x53504c }; /* "SPL": the counter RNG's stream of the held-out draw */

/* best [n_tags] (single-label [1]): per tag the grid point with the best ROC-AUC
 * on `held` (a tag without both classes there, or not fittable on `fit`: the
 * point with the best mean over the tags), or for the classes the one with the
 * best accuracy. Ties: the first point. */
static void choose(const ProbeClassifierOptions *o, const ProbeParams *grid, int n_points, const ProbeData *fit,
                   const ProbeData *held, int n_tags, ProbeParams *best) {
  const int multi = fit->labels != NULL, n_cols = multi ? n_tags : 1;
  const size_t per_point = (size_t)held->n * n_tags;
  uint8_t *fittable = at_malloc((size_t)n_cols, "fittable tags");
  float *scores = at_malloc(sizeof(float) * (size_t)n_points * per_point, "grid scores");
  probe_fit_grid(o, grid, n_points, fit, held, n_tags, scores, fittable);
  if (multi) {
    double *auc = at_malloc(sizeof(double) * (size_t)n_points * n_tags, "grid ROC-AUC");
    int mean_best = 0;
    double mean_top = -INFINITY;
    for (int s = 0; s < n_points; s++) {
      double sum = 0;
      int count = 0;
      for (int t = 0; t < n_tags; t++) {
        double a = fittable[t] ? metric_roc_auc(scores + s * per_point + t, held->labels + t, held->n, n_tags) : NAN;
        auc[(size_t)s * n_tags + t] = a;
        if (!isnan(a)) sum += a, count++;
      }
      if (count && sum / count > mean_top) mean_top = sum / count, mean_best = s;
    }
    for (int t = 0; t < n_tags; t++) {
      int b = 0;
      for (int s = 0; s < n_points && b >= 0; s++) {
        const double a = auc[(size_t)s * n_tags + t];
        if (isnan(a)) b = -1;
        else if (a > auc[(size_t)b * n_tags + t]) b = s;
      }
      best[t] = grid[b >= 0 ? b : mean_best];
    }
    free(auc);
  } else {
    int b = 0, top = -1;
    for (int s = 0; s < n_points && fittable[0]; s++) {
      const float *sc = scores + s * per_point;
      int right = 0;
      for (int r = 0; r < held->n; r++) {
        int arg = 0;
        for (int c = 1; c < n_tags; c++)
          if (sc[(size_t)r * n_tags + c] > sc[(size_t)r * n_tags + arg]) arg = c;
        right += arg == held->label[r];
      }
      if (right > top) top = right, b = s;
    }
    best[0] = grid[b];
  }
  free(scores);
  free(fittable);
}

/* A seeded, roughly stratified 20 % of train: the examples grouped by their
 * rarest positive tag (none: a group of its own) or their class, each group
 * in a seeded random order and its first round(20 %) held out (at least one of
 * a group of two or more, never a whole group). */
typedef struct Split {
  ProbeData fit, held;
  void *buffers[6];
} Split;

typedef struct Ranked {
  int key;
  uint32_t rank;
  int index;
} Ranked;

static int by_key_then_rank(const void *pa, const void *pb) {
  const Ranked *a = pa, *b = pb;
  if (a->key != b->key) return a->key < b->key ? -1 : 1;
  if (a->rank != b->rank) return a->rank < b->rank ? -1 : 1;
  return (a->index > b->index) - (a->index < b->index);
}

static void split_held_out(const ProbeData *train, int n_tags, uint64_t seed, Split *out) {
  const int n = train->n, dim = train->dim, multi = train->labels != NULL;
  int *positives = at_calloc((size_t)n_tags, sizeof(int), "tag counts");
  for (int i = 0; i < n && multi; i++)
    for (int t = 0; t < n_tags; t++) positives[t] += train->labels[(size_t)i * n_tags + t];
  Ranked *r = at_malloc(sizeof(Ranked) * (size_t)n, "held-out draw");
  for (int i = 0; i < n; i++) {
    int key = multi ? n_tags : train->label[i];
    for (int t = 0; t < n_tags && multi; t++)
      if (train->labels[(size_t)i * n_tags + t] && (key == n_tags || positives[t] < positives[key])) key = t;
    r[i] = (Ranked){key, at_philox(seed, SPLIT_STREAM, (uint64_t)i).v[0], i};
  }
  qsort(r, (size_t)n, sizeof(Ranked), by_key_then_rank);
  uint8_t *held = at_calloc((size_t)n, 1, "held-out examples");
  int n_held = 0;
  for (int g = 0; g < n;) {
    int end = g;
    while (end < n && r[end].key == r[g].key) end++;
    const int size = end - g;
    int h = (int)floor(0.2 * size + 0.5);
    if (size >= 2 && h < 1) h = 1;
    if (h > size - 1) h = size - 1;
    for (int k = g; k < g + h; k++) held[r[k].index] = 1;
    n_held += h;
    g = end;
  }
  memset(out, 0, sizeof *out);
  ProbeData *part[2] = {&out->fit, &out->held};
  const int rows[2] = {n - n_held, n_held};
  for (int k = 0; k < 2; k++) {
    float *x = at_malloc(sizeof(float) * (size_t)rows[k] * dim, "held-out split");
    uint8_t *labels = multi ? at_malloc((size_t)rows[k] * n_tags, "held-out split") : NULL;
    int32_t *label = multi ? NULL : at_malloc(sizeof(int32_t) * (size_t)rows[k], "held-out split");
    int row = 0;
    for (int i = 0; i < n; i++) {
      if (held[i] != k) continue;
      memcpy(x + (size_t)row * dim, train->x + (size_t)i * dim, sizeof(float) * (size_t)dim);
      if (multi) memcpy(labels + (size_t)row * n_tags, train->labels + (size_t)i * n_tags, (size_t)n_tags);
      else label[row] = train->label[i];
      row++;
    }
    *part[k] = (ProbeData){.x = x, .n = rows[k], .dim = dim, .labels = labels, .label = label};
    out->buffers[3 * k] = x, out->buffers[3 * k + 1] = labels, out->buffers[3 * k + 2] = label;
  }
  free(held);
  free(r);
  free(positives);
}

/* ---- the report of what was chosen ---- */

static int same_params(const ProbeParams *a, const ProbeParams *b) {
  return a->C == b->C && a->gamma == b->gamma && a->units == b->units;
}

static void append(char *buf, size_t size, size_t *len, const char *fmt, ...) AT_PRINTF(4, 5);
static void append(char *buf, size_t size, size_t *len, const char *fmt, ...) {
  if (*len + 1 >= size) return;
  va_list ap;
  va_start(ap, fmt);
  const int w = vsnprintf(buf + *len, size - *len, fmt, ap);
  va_end(ap);
  if (w > 0) *len = *len + (size_t)w < size ? *len + (size_t)w : size - 1;
}

static void append_params(char *buf, size_t size, size_t *len, ProbeClassifierKind kind, const ProbeParams *p,
                          int terse) {
  char gamma[32] = "auto";
  const int e = p->gamma > 0 ? (int)lround(-log2(p->gamma)) : 0;
  if (p->gamma > 0 && ldexp(1.0, -e) == p->gamma) snprintf(gamma, sizeof gamma, "2^%d", -e);
  else if (p->gamma > 0) snprintf(gamma, sizeof gamma, "%g", p->gamma);
  if (kind == PROBE_LINEAR_SVM) append(buf, size, len, terse ? "%g" : "C=%g", p->C);
  if (kind == PROBE_RBF_SVM) append(buf, size, len, terse ? "%g/%s" : "C=%g gamma=%s", p->C, gamma);
  if (kind == PROBE_ELM) append(buf, size, len, terse ? "%d" : "units=%d", p->units);
}

static void describe(ProbeClassifierKind kind, const ProbeParams *best, const uint8_t *fitted, int multi, int n_tags,
                     const char *note, char *buf, size_t size) {
  if (!buf || size == 0) return;
  buf[0] = '\0';
  size_t len = 0;
  const int n_cols = multi ? n_tags : 1;
  int lead = -1, lead_count = 0, differ = 0, unfitted = 0;
  for (int t = 0; t < n_cols; t++) { /* the most common choice, the first on ties */
    int count = 0;
    for (int u = 0; u < n_cols && fitted[t]; u++) count += fitted[u] && same_params(&best[t], &best[u]);
    if (count > lead_count) lead_count = count, lead = t;
    unfitted += !fitted[t];
  }
  if (lead >= 0) append_params(buf, size, &len, kind, &best[lead], 0);
  for (int t = 0; t < n_cols && lead >= 0; t++) differ |= fitted[t] && !same_params(&best[t], &best[lead]);
  if (differ) {
    append(buf, size, &len, " (per tag:");
    for (int t = 0; t < n_tags; t++) {
      append(buf, size, &len, " ");
      if (fitted[t]) append_params(buf, size, &len, kind, &best[t], 1);
      else append(buf, size, &len, "-");
    }
    append(buf, size, &len, ")");
  }
  if (unfitted && !multi) append(buf, size, &len, "not fitted: one class in train");
  if (unfitted && multi) {
    append(buf, size, &len, "%snot fitted (one class in train, scores 0): tag%s", lead >= 0 ? "; " : "",
           unfitted > 1 ? "s" : "");
    for (int t = 0; t < n_tags; t++)
      if (!fitted[t]) append(buf, size, &len, " %d", t);
  }
  if (note) append(buf, size, &len, "; %s", note);
}

void probe_fit_predict(const ProbeClassifierOptions *o, const ProbeData *train, const ProbeData *valid,
                       const ProbeData *test, int n_tags, float *scores, char *chosen, size_t chosen_size) {
  AT_ASSERT(o->elm_units >= 0 && o->threads >= 0 && n_tags >= 1 && train->n >= 1);
  const int multi = train->labels != NULL, n_cols = multi ? n_tags : 1;
  probe_check_labels(train, n_tags, "training");
  if (valid) {
    AT_ASSERT(valid->dim == train->dim && (valid->labels != NULL) == multi && (valid->label != NULL) == !multi);
    probe_check_labels(valid, n_tags, "validation");
  }
  ProbeParams grid[PROBE_GRID_MAX];
  const int n_points = probe_grid(o, grid);
  ProbeParams *best = at_malloc(sizeof(ProbeParams) * (size_t)n_cols, "chosen parameters");
  for (int t = 0; t < n_cols; t++) best[t] = grid[0];
  const char *note = NULL;
  if (n_points > 1 && valid && valid->n == 0) note = "no validation examples: the first grid point";
  if (n_points > 1 && valid && valid->n > 0) choose(o, grid, n_points, train, valid, n_tags, best);
  if (n_points > 1 && !valid) {
    Split s;
    split_held_out(train, n_tags, o->seed, &s);
    if (s.held.n == 0) note = "too few examples to hold any out: the first grid point";
    else choose(o, grid, n_points, &s.fit, &s.held, n_tags, best);
    for (int k = 0; k < 6; k++) free(s.buffers[k]);
  }
  uint8_t *fitted = at_malloc((size_t)n_cols, "fitted tags");
  probe_fit_fixed(o, best, train, test, n_tags, scores, fitted);
  describe(o->kind, best, fitted, multi, n_tags, note, chosen, chosen_size);
  free(fitted);
  free(best);
}
