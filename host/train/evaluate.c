#include "train/evaluate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/error.h"
#include "core/json.h"
#include "core/progress.h"
#include "data/loader.h"
#include "train/experiment.h"

/* 1 if `path` was named before (a run evaluates its caches every epoch: one
 * note each is enough). */
static int noted_once(const char *path) {
  static char noted[8][512];
  static int n_noted;
  for (int i = 0; i < n_noted; i++)
    if (!strcmp(noted[i], path)) return 1;
  if (n_noted < 8) snprintf(noted[n_noted++], sizeof noted[0], "%s", path);
  return 0;
}

void check_cache_fits_input(const Cache *c, const Model *m, int crop, const char *what) {
  const int waveform = !strcmp(c->front_end.representation, "waveform");
  if (m->input.c != 1)
    at_fatal("model '%s' takes %d input channels; caches hold one spectrogram per example", m->name, m->input.c);
  if (waveform && m->input.h != 1)
    at_fatal("%s cache '%s' holds waveforms (representation = waveform: one row of samples per example) but model "
             "'%s' takes spectrograms of %d bins (input %dx%d); prepare the cache with the model's spectrogram "
             "front end",
             what, c->path, m->name, m->input.h, m->input.h, m->input.w);
  if (!waveform && m->input.h == 1 && c->bins != 1)
    at_fatal("%s cache '%s' holds %s spectrograms (%d bins) but model '%s' takes a waveform (input 1x%d: one row "
             "of samples); prepare a waveform cache (a dataset config with representation = waveform, e.g. "
             "configs/datasets/mtat_samplecnn.ini)",
             what, c->path, c->front_end.representation, c->bins, m->name, m->input.w);
  if (c->bins != m->input.h)
    at_fatal("%s cache '%s' has %d frequency bins per frame but model '%s' takes %d (input %dx%d); "
             "prepare the cache with the model's front end or change the model's input",
             what, c->path, c->bins, m->name, m->input.h, m->input.h, m->input.w);
  if (crop > c->frames && waveform) {
    if (!noted_once(c->path))
      fprintf(stderr,
              "note: %s cache '%s' holds %d samples per example (%.3f s), fewer than the %d model '%s' takes: each "
              "example is padded with %d zero samples (silence) at its end\n",
              what, c->path, c->frames, c->front_end.sample_rate > 0 ? c->frames / c->front_end.sample_rate : 0.0,
              crop, m->name, crop - c->frames);
  } else if (crop > c->frames)
    at_fatal("%s cache '%s' holds %d frames per example, fewer than the %d the model '%s' takes", what, c->path,
             c->frames, crop, m->name);
}

void check_cache_fits_model(const Cache *c, const Model *m, int crop, const char *what) {
  check_cache_fits_input(c, m, crop, what);
  if (c->n_tags != m->classes)
    at_fatal("%s cache '%s' has %d %s but model '%s' has %d outputs; set the last [dense] units = %d", what, c->path,
             c->n_tags, c->kind == CACHE_MULTI_LABEL ? "tags" : "classes", m->name, m->classes, c->n_tags);
  if ((c->kind == CACHE_MULTI_LABEL) != (m->output == OUTPUT_SIGMOID))
    at_fatal("%s cache '%s' is %s but model '%s' has a %s output; use output = %s", what, c->path,
             c->kind == CACHE_MULTI_LABEL ? "multi-label (labels [N, tags])" : "single-label (label [N])", m->name,
             m->output == OUTPUT_SIGMOID ? "sigmoid" : "softmax", c->kind == CACHE_MULTI_LABEL ? "sigmoid" : "softmax");
}

static void argmax_rows(const float *probs, int n, int k, int32_t *out) {
  for (int i = 0; i < n; i++) {
    int best = 0;
    for (int j = 1; j < k; j++)
      if (probs[(size_t)i * k + j] > probs[(size_t)i * k + best]) best = j;
    out[i] = best;
  }
}

static void clip_metrics(EvalResult *r, const Cache *c) {
  const int n = r->n, k = r->n_tags;
  if (r->multi_label) {
    uint8_t *labels = at_malloc((size_t)n * k + 1, "labels");
    for (int i = 0; i < n; i++) memcpy(labels + (size_t)i * k, c->labels + (size_t)r->examples[i] * k, (size_t)k);
    metrics_multilabel(r->probs, labels, n, k, &r->tags);
    free(labels);
  } else {
    int32_t *pred = at_malloc(sizeof(int32_t) * (size_t)(n + 1), "predictions");
    int32_t *truth = at_malloc(sizeof(int32_t) * (size_t)(n + 1), "truth");
    argmax_rows(r->probs, n, k, pred);
    for (int i = 0; i < n; i++) truth[i] = c->label[r->examples[i]];
    metrics_single_label(pred, truth, n, k, &r->classes);
    free(pred);
    free(truth);
  }
}

static int cmp_int32(const void *a, const void *b) {
  int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
  return (x > y) - (x < y);
}

/* Song level: chunks grouped by song id; tags by the mean of chunk scores,
 * classes by majority vote of chunk decisions (ties: the larger summed
 * probability). The truth of a song is that of its first chunk. */
static void song_metrics(EvalResult *r, const Cache *c) {
  if (!c->song) return;
  const int n = r->n, k = r->n_tags;
  int32_t *ids = at_malloc(sizeof(int32_t) * (size_t)(n + 1), "song ids");
  for (int i = 0; i < n; i++) ids[i] = c->song[r->examples[i]];
  qsort(ids, (size_t)n, sizeof(int32_t), cmp_int32);
  int songs = 0;
  for (int i = 0; i < n; i++)
    if (i == 0 || ids[i] != ids[i - 1]) ids[songs++] = ids[i];
  r->n_songs = songs;
  double *sum = at_calloc((size_t)songs * k + 1, sizeof(double), "song scores");
  long *votes = at_calloc((size_t)songs * k + 1, sizeof(long), "song votes");
  int *count = at_calloc((size_t)songs + 1, sizeof(int), "song chunks");
  int *first = at_malloc(sizeof(int) * (size_t)(songs + 1), "song first chunk");
  for (int s = 0; s < songs; s++) first[s] = -1;
  int32_t *chunk_pred = at_malloc(sizeof(int32_t) * (size_t)(n + 1), "chunk decisions");
  argmax_rows(r->probs, n, k, chunk_pred);
  for (int i = 0; i < n; i++) {
    int32_t id = c->song[r->examples[i]];
    int32_t *hit = bsearch(&id, ids, (size_t)songs, sizeof(int32_t), cmp_int32);
    int s = (int)(hit - ids);
    if (first[s] < 0) first[s] = r->examples[i];
    count[s]++;
    for (int j = 0; j < k; j++) sum[(size_t)s * k + j] += r->probs[(size_t)i * k + j];
    votes[(size_t)s * k + chunk_pred[i]]++;
  }
  float *scores = at_malloc(sizeof(float) * ((size_t)songs * k + 1), "song scores");
  for (int s = 0; s < songs; s++)
    for (int j = 0; j < k; j++) scores[(size_t)s * k + j] = (float)(sum[(size_t)s * k + j] / count[s]);
  if (r->multi_label) {
    uint8_t *labels = at_malloc((size_t)songs * k + 1, "song labels");
    for (int s = 0; s < songs; s++)
      for (int j = 0; j < k; j++) labels[(size_t)s * k + j] = c->labels[(size_t)first[s] * k + j];
    metrics_multilabel(scores, labels, songs, k, &r->song_tags);
    free(labels);
  } else {
    int32_t *pred = at_malloc(sizeof(int32_t) * (size_t)(songs + 1), "song decisions");
    int32_t *truth = at_malloc(sizeof(int32_t) * (size_t)(songs + 1), "song truth");
    for (int s = 0; s < songs; s++) {
      int best = 0;
      for (int j = 1; j < k; j++) {
        long vj = votes[(size_t)s * k + j], vb = votes[(size_t)s * k + best];
        if (vj > vb || (vj == vb && sum[(size_t)s * k + j] > sum[(size_t)s * k + best])) best = j;
      }
      pred[s] = best;
      truth[s] = c->label[first[s]];
    }
    metrics_single_label(pred, truth, songs, k, &r->song_classes);
    r->song_decision = pred;
    free(truth);
  }
  r->song_first = first;
  r->song_chunks = count;
  r->song_scores = scores;
  free(chunk_pred);
  free(votes);
  free(sum);
  free(ids);
}

void evaluate(Model *m, Cache *c, const EvalOptions *o, EvalResult *r) { evaluate_with_progress(m, c, o, NULL, r); }

void evaluate_with_progress(Model *m, Cache *c, const EvalOptions *o, const char *progress_label, EvalResult *r) {
  memset(r, 0, sizeof *r);
  check_cache_fits_model(c, m, o->crop, "evaluation");
  const Backend *be = m->be;
  const int k = m->classes;
  const int batch = o->batch < m->max_batch ? o->batch : m->max_batch;
  LoaderConfig lc = {.batch = batch, .crop_frames = o->crop, .train = 0, .crops_per_example = o->crops,
                     .threads = o->threads, .prefetch = o->prefetch, .seed = 0, .subset = o->subset,
                     .n_subset = o->n_subset};
  Loader *loader = loader_create(c, &lc);
  r->n = o->subset ? o->n_subset : c->n;
  r->n_tags = k;
  r->multi_label = c->kind == CACHE_MULTI_LABEL;
  r->examples = at_malloc(sizeof(int32_t) * (size_t)(r->n + 1), "evaluated examples");
  for (int i = 0; i < r->n; i++) r->examples[i] = o->subset ? o->subset[i] : i;
  /* position of each cache example in the evaluated list */
  int *slot = at_malloc(sizeof(int) * (size_t)(c->n + 1), "example slots");
  for (int i = 0; i < c->n; i++) slot[i] = -1;
  for (int i = 0; i < r->n; i++) slot[r->examples[i]] = i;
  double *sum = at_calloc((size_t)r->n * k + 1, sizeof(double), "clip scores");
  double *logit_sum = at_calloc((size_t)r->n * k + 1, sizeof(double), "clip logits");
  int *crops_seen = at_calloc((size_t)r->n + 1, sizeof(int), "crop counts");

  const size_t in_count = (size_t)batch * at_dims_count(m->input);
  float *x = be->alloc(sizeof(float) * in_count);
  void *targets = be->alloc(sizeof(float) * (size_t)batch * k + sizeof(int32_t) * (size_t)batch);
  float *probs_dev = be->alloc(sizeof(float) * (size_t)batch * k);
  float *probs = at_malloc(sizeof(float) * (size_t)batch * k, "probabilities");
  float *logits = at_malloc(sizeof(float) * (size_t)batch * k, "logits");
  double loss_sum = 0;
  long rows = 0;
  Progress bar;
  if (progress_label) progress_begin(&bar, stderr, progress_label, loader_batches_per_epoch(loader), 0, 10);
  const double t0 = at_now_seconds();
  long done = 0;
  loader_seek(loader, 0, 0);
  const Batch *b;
  while ((b = loader_next(loader))) {
    const int bad_row = batch_non_finite_row(b, at_dims_count(m->input));
    if (bad_row >= 0)
      at_fatal("cache '%s': example %d ('%s') holds NaN or infinity in its features: the cache is damaged or was not "
               "written by `auratag prep` (which refuses such audio); re-run prep for that file or remove it",
               c->path, b->example[bad_row], c->ids[b->example[bad_row]]);
    be->to_device(x, b->x, sizeof(float) * (size_t)b->n * at_dims_count(m->input));
    if (r->multi_label) be->to_device(targets, b->targets, sizeof(float) * (size_t)b->n * k);
    else be->to_device(targets, b->labels, sizeof(int32_t) * (size_t)b->n);
    const float *logits_dev = model_forward(m, x, b->n, 0, 0, 0);
    be->to_host(logits, logits_dev, sizeof(float) * (size_t)b->n * k);
    loss_sum += model_loss(m, b->n, targets, 0) * b->n;
    rows += b->n;
    model_probabilities(m, b->n, probs_dev);
    be->to_host(probs, probs_dev, sizeof(float) * (size_t)b->n * k);
    for (int i = 0; i < b->n; i++) {
      int s = slot[b->example[i]];
      AT_ASSERT(s >= 0);
      crops_seen[s]++;
      for (int j = 0; j < k; j++) sum[(size_t)s * k + j] += probs[(size_t)i * k + j];
      for (int j = 0; j < k; j++) logit_sum[(size_t)s * k + j] += logits[(size_t)i * k + j];
    }
    if (progress_label) {
      const double dt = at_now_seconds() - t0;
      progress_update(&bar, ++done, (double)rows / (dt > 1e-9 ? dt : 1e-9), "crops", NULL);
    }
  }
  if (progress_label) progress_end(&bar);
  r->loss = rows ? loss_sum / rows : NAN;
  r->probs = at_malloc(sizeof(float) * ((size_t)r->n * k + 1), "clip probabilities");
  r->logits = at_malloc(sizeof(float) * ((size_t)r->n * k + 1), "clip logits");
  for (int i = 0; i < r->n; i++) {
    AT_ASSERT(crops_seen[i] == o->crops);
    for (int j = 0; j < k; j++) r->probs[(size_t)i * k + j] = (float)(sum[(size_t)i * k + j] / crops_seen[i]);
    for (int j = 0; j < k; j++) r->logits[(size_t)i * k + j] = (float)(logit_sum[(size_t)i * k + j] / crops_seen[i]);
  }
  clip_metrics(r, c);
  song_metrics(r, c);
  free(probs);
  free(logits);
  free(logit_sum);
  be->release(probs_dev);
  be->release(targets);
  be->release(x);
  free(crops_seen);
  free(sum);
  free(slot);
  loader_free(loader);
}

void eval_result_from_scores(EvalResult *r, const Cache *c, const int32_t *examples, int n, const float *scores,
                             int k) {
  memset(r, 0, sizeof *r);
  AT_ASSERT(k == c->n_tags);
  r->n = n;
  r->n_tags = k;
  r->multi_label = c->kind == CACHE_MULTI_LABEL;
  r->loss = NAN;
  r->examples = at_malloc(sizeof(int32_t) * (size_t)(n + 1), "evaluated examples");
  memcpy(r->examples, examples, sizeof(int32_t) * (size_t)n);
  r->probs = at_malloc(sizeof(float) * ((size_t)n * k + 1), "clip scores");
  r->logits = at_malloc(sizeof(float) * ((size_t)n * k + 1), "clip scores");
  memcpy(r->probs, scores, sizeof(float) * (size_t)n * k);
  memcpy(r->logits, scores, sizeof(float) * (size_t)n * k);
  clip_metrics(r, c);
  song_metrics(r, c);
}

void eval_result_free(EvalResult *r) {
  free(r->examples);
  free(r->probs);
  free(r->logits);
  free(r->song_first);
  free(r->song_chunks);
  free(r->song_scores);
  free(r->song_decision);
  if (r->multi_label) {
    tag_metrics_free(&r->tags);
    if (r->n_songs) tag_metrics_free(&r->song_tags);
  } else {
    class_metrics_free(&r->classes);
    if (r->n_songs) class_metrics_free(&r->song_classes);
  }
  memset(r, 0, sizeof *r);
}

double eval_score(const EvalResult *r, int select_metric) {
  switch ((SelectMetric)select_metric) {
    case SELECT_ROC_AUC: return r->tags.macro_roc_auc;
    case SELECT_PR_AUC: return r->tags.macro_pr_auc;
    case SELECT_LOSS: return -r->loss;
    case SELECT_ACCURACY: return r->classes.accuracy;
  }
  return NAN;
}

/* ---- reports ---- */

/* Single-label results on screen: accuracy, balanced accuracy, each class's
 * support and recall, and the confusion matrix (rows: true class, columns:
 * predicted, numbered as the rows). */
static void print_class_report(FILE *out, const ClassMetrics *m, const Cache *c) {
  const int k = m->n_classes;
  fprintf(out, "  accuracy %.4f   balanced accuracy %.4f (mean recall over the classes present)\n", m->accuracy,
          m->balanced_accuracy);
  fprintf(out, "  %3s %-24s %9s %9s   confusion (row: true, column: predicted)\n", "#", "class", "examples", "recall");
  for (int i = 0; i < k; i++) {
    long support = 0;
    for (int j = 0; j < k; j++) support += m->confusion[(size_t)i * k + j];
    fprintf(out, "  %3d %-24s %9ld %9.4f  ", i, c->tags[i], support, m->per_class_accuracy[i]);
    for (int j = 0; j < k; j++) fprintf(out, " %5ld", m->confusion[(size_t)i * k + j]);
    fputc('\n', out);
  }
}

void eval_print(const EvalResult *r, const Cache *c, FILE *out) {
  fprintf(out, "%s: %d examples", c->path, r->n);
  if (!isnan(r->loss)) fprintf(out, ", loss %.6f", r->loss); /* none for a probe's classifier */
  fputc('\n', out);
  if (r->multi_label) {
    fprintf(out, "  ROC-AUC (macro over %d tags) %.4f   PR-AUC %.4f", r->n_tags - r->tags.excluded_roc,
            r->tags.macro_roc_auc, r->tags.macro_pr_auc);
    if (r->tags.excluded_roc || r->tags.excluded_pr)
      fprintf(out, "   (excluded: %d tags with one class for ROC-AUC, %d without positives for PR-AUC)",
              r->tags.excluded_roc, r->tags.excluded_pr);
    fputc('\n', out);
    fprintf(out, "  %-24s %9s %9s %9s\n", "tag", "positives", "ROC-AUC", "PR-AUC");
    for (int j = 0; j < r->n_tags; j++)
      fprintf(out, "  %-24s %9d %9.4f %9.4f\n", c->tags[j], r->tags.positives[j], r->tags.roc_auc[j], r->tags.pr_auc[j]);
    if (r->n_songs)
      fprintf(out, "  song level (%d songs): ROC-AUC %.4f   PR-AUC %.4f\n", r->n_songs, r->song_tags.macro_roc_auc,
              r->song_tags.macro_pr_auc);
  } else {
    print_class_report(out, &r->classes, c);
    if (r->n_songs) {
      fprintf(out, "  song level (%d songs, majority vote):\n", r->n_songs);
      print_class_report(out, &r->song_classes, c);
    }
  }
}

/* The indices of the `top` largest of k scores, largest first. */
static void top_indices(const float *scores, int k, int top, int *out) {
  for (int t = 0; t < top; t++) {
    int best = -1;
    for (int j = 0; j < k; j++) {
      int taken = 0;
      for (int u = 0; u < t; u++) taken |= out[u] == j;
      if (!taken && (best < 0 || scores[j] > scores[best])) best = j;
    }
    out[t] = best;
  }
}

void eval_print_songs(const EvalResult *r, const Cache *c, FILE *out) {
  if (!r->n_songs) return;
  const int k = r->n_tags;
  if (!r->multi_label) {
    fprintf(out, "  %-32s %6s  %-20s %-20s %s\n", "song (first chunk)", "chunks", "class", "voted", "");
    for (int s = 0; s < r->n_songs; s++) {
      const int truth = c->label[r->song_first[s]], said = r->song_decision[s];
      fprintf(out, "  %-32s %6d  %-20s %-20s %s\n", c->ids[r->song_first[s]], r->song_chunks[s], c->tags[truth],
              c->tags[said], truth == said ? "" : "wrong");
    }
    return;
  }
  /* tags: the song's true tags, then as many top-scored tags as it has true
   * ones (at least 3), each marked * when true; hits = true tags among them */
  int *top = at_malloc(sizeof(int) * (size_t)(k + 1), "top tags");
  fprintf(out, "  %-32s %6s  %5s  %-36s %s\n", "song (first chunk)", "chunks", "hits", "true tags",
          "top tags (mean probability; * true)");
  for (int s = 0; s < r->n_songs; s++) {
    const uint8_t *labels = c->labels + (size_t)r->song_first[s] * (size_t)k;
    const float *scores = r->song_scores + (size_t)s * (size_t)k;
    int n_true = 0;
    char truth[256] = "";
    for (int j = 0; j < k; j++)
      if (labels[j]) {
        size_t used = strlen(truth);
        snprintf(truth + used, sizeof truth - used, "%s%s", n_true ? ";" : "", c->tags[j]);
        n_true++;
      }
    int shown = n_true > 3 ? n_true : 3;
    if (shown > k) shown = k;
    top_indices(scores, k, shown, top);
    int hits = 0;
    for (int t = 0; t < n_true && t < shown; t++) hits += labels[top[t]] != 0;
    fprintf(out, "  %-32s %6d  %2d/%-2d  %-36s", c->ids[r->song_first[s]], r->song_chunks[s], hits, n_true,
            n_true ? truth : "(none)");
    for (int t = 0; t < shown; t++)
      fprintf(out, " %s%s %.3f", c->tags[top[t]], labels[top[t]] ? "*" : "", (double)scores[top[t]]);
    fputc('\n', out);
  }
  free(top);
}

static void tag_metrics_json(FILE *out, const TagMetrics *t, const Cache *c) {
  fprintf(out, "{\"macro_roc_auc\": ");
  json_number(out, t->macro_roc_auc);
  fprintf(out, ", \"macro_pr_auc\": ");
  json_number(out, t->macro_pr_auc);
  fprintf(out, ", \"excluded_roc_auc\": %d, \"excluded_pr_auc\": %d, \"tags\": [", t->excluded_roc, t->excluded_pr);
  for (int j = 0; j < t->n_tags; j++) {
    fprintf(out, "%s{\"tag\": ", j ? ", " : "");
    json_string(out, c->tags[j]);
    fprintf(out, ", \"positives\": %d, \"roc_auc\": ", t->positives[j]);
    json_number(out, t->roc_auc[j]);
    fprintf(out, ", \"pr_auc\": ");
    json_number(out, t->pr_auc[j]);
    fputc('}', out);
  }
  fprintf(out, "]}");
}

static void class_metrics_json(FILE *out, const ClassMetrics *m, const Cache *c) {
  fprintf(out, "{\"accuracy\": ");
  json_number(out, m->accuracy);
  fprintf(out, ", \"balanced_accuracy\": ");
  json_number(out, m->balanced_accuracy);
  fprintf(out, ", \"per_class_accuracy\": {");
  for (int j = 0; j < m->n_classes; j++) {
    fprintf(out, "%s", j ? ", " : "");
    json_string(out, c->tags[j]);
    fprintf(out, ": ");
    json_number(out, m->per_class_accuracy[j]);
  }
  fprintf(out, "}, \"confusion\": [");
  for (int i = 0; i < m->n_classes; i++) {
    fprintf(out, "%s[", i ? ", " : "");
    for (int j = 0; j < m->n_classes; j++) fprintf(out, "%s%ld", j ? ", " : "", m->confusion[(size_t)i * m->n_classes + j]);
    fputc(']', out);
  }
  fprintf(out, "]}");
}

void eval_write_json(const EvalResult *r, const Cache *c, FILE *out) {
  fprintf(out, "{\"cache\": ");
  json_string(out, c->path);
  fprintf(out, ", \"examples\": %d, \"loss\": ", r->n);
  json_number(out, r->loss);
  fprintf(out, ", \"clip\": ");
  if (r->multi_label) tag_metrics_json(out, &r->tags, c);
  else class_metrics_json(out, &r->classes, c);
  if (r->n_songs) {
    fprintf(out, ", \"songs\": %d, \"song\": ", r->n_songs);
    if (r->multi_label) tag_metrics_json(out, &r->song_tags, c);
    else class_metrics_json(out, &r->song_classes, c);
  }
  fputc('}', out);
}

void eval_write_csv(const EvalResult *r, const Cache *c, FILE *out) {
  if (r->multi_label) {
    fprintf(out, "tag,positives,roc_auc,pr_auc\n");
    for (int j = 0; j < r->n_tags; j++) {
      json_csv_field(out, c->tags[j]);
      fprintf(out, ",%d,%.10g,%.10g\n", r->tags.positives[j], r->tags.roc_auc[j], r->tags.pr_auc[j]);
    }
  } else {
    fprintf(out, "class,accuracy");
    for (int j = 0; j < r->n_tags; j++) {
      fputc(',', out);
      json_csv_field(out, c->tags[j]);
    }
    fputc('\n', out);
    for (int i = 0; i < r->n_tags; i++) {
      json_csv_field(out, c->tags[i]);
      fprintf(out, ",%.10g", r->classes.per_class_accuracy[i]);
      for (int j = 0; j < r->n_tags; j++) fprintf(out, ",%ld", r->classes.confusion[(size_t)i * r->n_tags + j]);
      fputc('\n', out);
    }
  }
}
