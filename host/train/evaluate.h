/* Evaluation of a model on a cache: inference mode, equally spaced crops per
 * example, clip score = mean of the crop probabilities (as the papers did),
 * then the metrics of train/metrics.h at clip level and, where the cache
 * groups chunks into songs, at song level (mean of chunk scores for tags,
 * majority vote of chunk decisions for classes). */
#ifndef AT_EVALUATE_H
#define AT_EVALUATE_H

#include <stdio.h>

#include "data/cache.h"
#include "nn/model.h"
#include "train/metrics.h"

typedef struct EvalOptions {
  int crop, crops, batch, threads, prefetch;
  const int32_t *subset; /* NULL: all examples */
  int n_subset;
} EvalOptions;

typedef struct EvalResult {
  int n, n_tags, multi_label;
  int32_t *examples; /* [n] cache index of each evaluated example */
  float *probs;      /* [n, n_tags] clip-level probabilities */
  float *logits;     /* [n, n_tags] the crops' mean logits */
  double loss;       /* mean loss over all crops */
  TagMetrics tags;         /* multi-label */
  ClassMetrics classes;    /* single-label */
  int n_songs;             /* 0 if the cache has no song ids */
  TagMetrics song_tags;
  ClassMetrics song_classes;
  /* each song (in the order of its id): its first chunk (a cache index), its
   * chunk count, its mean chunk probabilities [n_songs, n_tags] and, for
   * classes, its decision (majority vote) */
  int32_t *song_first;
  int *song_chunks;
  float *song_scores;
  int32_t *song_decision;
} EvalResult;

/* Checks that the cache fits the model (bins, frames, tags, label kind) and
 * exits with a clear message if not. `what` names the cache's role. */
void check_cache_fits_model(const Cache *c, const Model *m, int crop, const char *what);
/* Only the input part of that check (bins and frames): for commands that read
 * a layer's output rather than the model's outputs (probe, prototypes).
 * Waveform caches against spectrogram models (and the reverse) get their own
 * error; a waveform example shorter than the model's input is padded with
 * silence by the loader, which this says once per cache on stderr. */
void check_cache_fits_input(const Cache *c, const Model *m, int crop, const char *what);

/* Silent (training's validation). */
void evaluate(Model *m, Cache *c, const EvalOptions *o, EvalResult *r);
/* The same with progress on stderr under `progress_label` (core/progress.h;
 * NULL: silent), for `auratag eval` and `predict`. */
void evaluate_with_progress(Model *m, Cache *c, const EvalOptions *o, const char *progress_label, EvalResult *r);
void eval_result_free(EvalResult *r);
/* A result from scores computed elsewhere (a probe's classifier, distances to
 * prototypes): examples[n] cache indices, scores [n, k] with k the cache's
 * tags or classes (higher: more likely; single-label decisions are the
 * argmax). Clip and song metrics as evaluate() computes them; loss NaN. */
void eval_result_from_scores(EvalResult *r, const Cache *c, const int32_t *examples, int n, const float *scores,
                             int k);

/* The selection value (higher is better: loss is negated). */
double eval_score(const EvalResult *r, int select_metric);

/* Human summary, JSON (one object, no newline), and per-tag / per-class CSV. */
void eval_print(const EvalResult *r, const Cache *c, FILE *out);
void eval_write_json(const EvalResult *r, const Cache *c, FILE *out);
void eval_write_csv(const EvalResult *r, const Cache *c, FILE *out);
/* One line per song: its first chunk's id, chunks, true tags (or class) and
 * what the model says (top tags with their mean probability, or the voted
 * class); `auratag eval --songs`. Nothing when the cache has no songs. */
void eval_print_songs(const EvalResult *r, const Cache *c, FILE *out);

#endif
