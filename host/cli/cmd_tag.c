/* auratag tag WEIGHTS_OR_RUN AUDIO... [--top 10] [--json] [--cache CACHE.h5] [--crops K]
 *
 * Computes the model's own front end from any audio file (the dataset config
 * and normalisation statistics stored in its training cache by `auratag
 * prep`), runs the model on equally spaced crops of the whole file, averages
 * the crop probabilities and prints the top tags. A file shorter than one
 * crop is zero-padded at the end (as prep pads short clips). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audio/audio_io.h"
#include "audio/model_input.h"
#include "audio/prep.h"
#include "cli/cli.h"
#include "core/error.h"
#include "core/json.h"
#include "core/progress.h"
#include "data/cache.h"
#include "data/crop_spacing.h"
#include "data/cache_front_end.h"
#include "train/experiment.h"

typedef struct TagArgs {
  const char *weights, *cache;
  const char **files;
  int n_files;
  int top, json, crops, taggram, hop_frames;
} TagArgs;

static const CliOption k_options[] = {
    {"top", 0, "N", "10", "how many tags to print per file"},
    {"json", 0, NULL, NULL, "print JSON (every tag's probability) instead of a table"},
    {"cache", 0, "TRAIN_CACHE.h5", "the run's training cache", "the cache whose front end and normalisation the model was trained with"},
    {"crops", 0, "K", "enough to cover the file", "crops averaged per file"},
    {"taggram", 0, NULL, NULL,
     "every tag's probability for each patch of the model's width from the first frame (the last incomplete patch "
     "dropped, as musicnn's taggram), with the patches' start times"},
    {"hop-frames", 0, "N", "the model's input width", "with --taggram: frames from one patch's start to the next"},
    {0},
};
const CliCommand k_cli_tag = {
    "tag", "WEIGHTS.h5|RUN_DIR AUDIO [AUDIO ...] [--top 10] [--json] [--cache TRAIN_CACHE.h5] [--crops K]",
    "The top tags of audio files, computed with the model's own front end and averaged over crops.", k_options,
    "auratag tag checkpoints/demo-fcn3 song.wav --top 5"};

static void parse(int argc, char **argv, TagArgs *a) {
  memset(a, 0, sizeof *a);
  a->top = 10;
  CliArgs p;
  cli_parse(&k_cli_tag, argc, argv, &p);
  cli_require_positionals(&p, 2, -1);
  a->weights = p.positional[0];
  a->files = at_malloc(sizeof(char *) * (size_t)p.n_positional, "file list");
  for (int i = 1; i < p.n_positional; i++) a->files[a->n_files++] = p.positional[i];
  for (int i = 0; i < p.n_options; i++) {
    if (cli_is(&p, i, "top")) a->top = (int)cli_long(&p, i, 1, 100000);
    else if (cli_is(&p, i, "crops")) a->crops = (int)cli_long(&p, i, 1, 4096);
    else if (cli_is(&p, i, "cache")) a->cache = p.value[i];
    else if (cli_is(&p, i, "json")) a->json = 1;
    else if (cli_is(&p, i, "taggram")) a->taggram = 1;
    else if (cli_is(&p, i, "hop-frames")) a->hop_frames = (int)cli_long(&p, i, 1, 1 << 20);
  }
  if (a->hop_frames && !a->taggram) cli_usage_error(&k_cli_tag, "--hop-frames goes with --taggram");
  if (a->crops && a->taggram) cli_usage_error(&k_cli_tag, "--crops averages crops; --taggram gives every patch: choose one");
}

typedef struct Scored {
  int tag;
  float p;
} Scored;

static int by_probability(const void *a, const void *b) {
  const Scored *x = a, *y = b;
  if (x->p != y->p) return x->p > y->p ? -1 : 1;
  return x->tag - y->tag;
}

/* The model, its input and the buffers of one batch of crops. */
typedef struct Tagger {
  Model *m;
  ModelInput in;
  int batch, k;
  size_t per; /* floats per crop */
  float *x_host, *x, *probs_dev;
} Tagger;

static void tagger_init(Tagger *t, Model *m, const PrepSetup *setup) {
  memset(t, 0, sizeof *t);
  t->m = m;
  model_input_init(&t->in, setup, m->input.w, m->be);
  t->batch = m->max_batch;
  t->k = m->classes;
  t->per = (size_t)t->in.rows * (size_t)t->in.width;
  const Backend *be = m->be;
  t->x_host = at_malloc(sizeof(float) * t->per * (size_t)t->batch, "model input");
  t->x = be->alloc(sizeof(float) * t->per * (size_t)t->batch);
  t->probs_dev = be->alloc(sizeof(float) * (size_t)t->batch * (size_t)t->k);
}

static void tagger_free(Tagger *t) {
  model_input_free(&t->in);
  t->m->be->release(t->probs_dev);
  t->m->be->release(t->x);
  free(t->x_host);
}

/* The probabilities [n, k] of the patches of features [rows, frames] that start at starts[0 .. n). */
static void score_patches(Tagger *t, const float *feat, long frames, const long *starts, int n, float *out) {
  const Backend *be = t->m->be;
  const int k = t->k;
  for (int c0 = 0; c0 < n; c0 += t->batch) {
    const int b = n - c0 < t->batch ? n - c0 : t->batch;
    for (int i = 0; i < b; i++) model_input_crop(&t->in, feat, frames, starts[c0 + i], t->x_host + (size_t)i * t->per);
    be->to_device(t->x, t->x_host, sizeof(float) * t->per * (size_t)b);
    model_forward(t->m, t->x, b, 0, 0, 0);
    model_probabilities(t->m, b, t->probs_dev);
    be->to_host(out + (size_t)c0 * k, t->probs_dev, sizeof(float) * (size_t)b * (size_t)k);
  }
}

/* The probabilities averaged over `crops` equally spaced crops of features [rows, frames]. */
static void score_crops(Tagger *t, const float *feat, long frames, int crops, Scored *scored) {
  const int k = t->k;
  long *starts = at_malloc(sizeof(long) * (size_t)crops, "crop starts");
  float *probs = at_malloc(sizeof(float) * (size_t)crops * (size_t)k, "crop probabilities");
  for (int c = 0; c < crops; c++) starts[c] = crop_spaced_start(frames, t->in.width, crops, c);
  score_patches(t, feat, frames, starts, crops, probs);
  for (int j = 0; j < k; j++) {
    double sum = 0;
    for (int c = 0; c < crops; c++) sum += probs[(size_t)c * k + j];
    scored[j].tag = j;
    scored[j].p = (float)(sum / crops);
  }
  free(starts);
  free(probs);
  qsort(scored, (size_t)k, sizeof(Scored), by_probability);
}

/* A taggram: the patches of the model's width from frame 0, `hop` frames
 * apart, the last incomplete one dropped (musicnn's extractor does the same).
 * Fills *n and returns the starts; probs gets [n, k]. */
static long *taggram_patches(Tagger *t, const float *feat, long frames, int hop, int *n, float **probs) {
  const long width = t->in.width;
  *n = frames >= width ? (int)((frames - width) / hop + 1) : 0;
  long *starts = at_malloc(sizeof(long) * (size_t)(*n + 1), "patch starts");
  for (int i = 0; i < *n; i++) starts[i] = (long)i * hop;
  *probs = at_malloc(sizeof(float) * ((size_t)*n * (size_t)t->k + 1), "taggram");
  score_patches(t, feat, frames, starts, *n, *probs);
  return starts;
}

/* Tags as rows, patches as columns (musicnn's taggram), on screen. */
static void print_taggram(const char *path, double seconds, int padded, const char *const *names, const long *starts,
                          int n, const float *probs, int k, double frame_seconds) {
  printf("%s  (%.1f s%s; taggram: %d patch%s)\n  %-20s", path, seconds, padded ? ", zero-padded to one patch" : "", n,
         n == 1 ? "" : "es", "tag \\ start (s)");
  for (int i = 0; i < n; i++) printf(" %6.2f", (double)starts[i] * frame_seconds);
  printf("\n");
  for (int j = 0; j < k; j++) {
    printf("  %-20s", names[j]);
    for (int i = 0; i < n; i++) printf(" %6.3f", (double)probs[(size_t)i * k + j]);
    printf("\n");
  }
}

static void print_json_taggram(const char *path, double seconds, int padded, const char *const *names,
                               const long *starts, int n, const float *probs, int k, double frame_seconds,
                               int *first_json) {
  printf("%s\n  {\"path\": ", *first_json ? "" : ",");
  json_string(stdout, path);
  printf(", \"seconds\": ");
  json_number(stdout, seconds);
  printf(", \"padded\": %s, \"taggram\": {\"starts\": [", padded ? "true" : "false");
  for (int i = 0; i < n; i++) {
    printf("%s", i ? ", " : "");
    json_number(stdout, (double)starts[i] * frame_seconds);
  }
  printf("], \"tags\": [");
  for (int j = 0; j < k; j++) {
    printf("%s", j ? ", " : "");
    json_string(stdout, names[j]);
  }
  printf("], \"probabilities\": [");
  for (int i = 0; i < n; i++) {
    printf("%s[", i ? ", " : "");
    for (int j = 0; j < k; j++) {
      printf("%s", j ? ", " : "");
      json_number(stdout, probs[(size_t)i * k + j]);
    }
    printf("]");
  }
  printf("]}}");
  *first_json = 0;
}

static void print_json_error(const char *path, const char *why, int *first_json) {
  printf("%s\n  {\"path\": ", *first_json ? "" : ",");
  json_string(stdout, path);
  printf(", \"error\": ");
  json_string(stdout, why);
  printf("}");
  *first_json = 0;
}

static void print_json_tags(const char *path, double seconds, int crops, int padded, const char *const *names,
                            const Scored *scored, int top, int *first_json) {
  printf("%s\n  {\"path\": ", *first_json ? "" : ",");
  json_string(stdout, path);
  printf(", \"seconds\": ");
  json_number(stdout, seconds);
  printf(", \"crops\": %d, \"padded\": %s, \"tags\": [", crops, padded ? "true" : "false");
  for (int j = 0; j < top; j++) {
    printf("%s{\"tag\": ", j ? ", " : "");
    json_string(stdout, names[scored[j].tag]);
    printf(", \"probability\": ");
    json_number(stdout, scored[j].p);
    printf("}");
  }
  printf("]}");
  *first_json = 0;
}

static void print_table(const char *path, double seconds, int crops, double padded_seconds, double crop_seconds,
                        const char *const *names, const Scored *scored, int top) {
  printf("%s  (%.1f s", path, seconds);
  if (padded_seconds > 0)
    printf("; shorter than one crop of %.2f s: zero-padded to %.2f s, 1 crop)\n", crop_seconds, padded_seconds);
  else
    printf(", %d crop%s of %.2f s)\n", crops, crops == 1 ? "" : "s", crop_seconds);
  int width = 0;
  for (int j = 0; j < top; j++) {
    int len = (int)strlen(names[scored[j].tag]);
    if (len > width) width = len;
  }
  for (int j = 0; j < top; j++) printf("  %-*s  %.3f\n", width, names[scored[j].tag], scored[j].p);
}

/* --json: the object's first fields, up to the opening of its "files" list. */
static void print_json_head(const char *weights, const Model *m, double crop_seconds) {
  printf("{\"weights\": ");
  json_string(stdout, weights);
  printf(", \"model\": ");
  json_string(stdout, m->name);
  printf(", \"output\": \"%s\", \"crop_frames\": %d, \"crop_seconds\": ",
         m->output == OUTPUT_SIGMOID ? "sigmoid" : "softmax", m->input.w);
  json_number(stdout, crop_seconds);
  printf(", \"files\": [");
}

/* What every file of one `tag` run shares. */
typedef struct TagRun {
  const TagArgs *a;
  Tagger t;
  const char *const *names;
  Scored *scored;
  int k, top, first_json;
  double sr, crop_seconds, frame_seconds;
} TagRun;

static int cannot_tag(TagRun *r, const char *path, const char *why) {
  fprintf(stderr, "auratag: %s: cannot tag: %s\n", path, why);
  if (r->a->json) print_json_error(path, why, &r->first_json);
  return 1;
}

static int all_finite(const float *x, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!isfinite(x[i])) return 0;
  return 1;
}

/* One file: its top tags (or its taggram) printed; 1 when it cannot be tagged. */
static int tag_file(TagRun *r, const char *path) {
  static const char k_diverged[] = "the model's output is not finite for this file (its features are finite)";
  const TagArgs *a = r->a;
  Audio au;
  char why[512];
  long decoded, frames;
  if (model_input_load(&r->t.in, path, &au, &decoded, why, sizeof why) != 0) return cannot_tag(r, path, why);
  audio_print_warning(&au, path);
  const double seconds = (double)decoded / r->sr;
  const int padded = decoded < au.n;
  float *feat = model_input_features(&r->t.in, au.samples, au.n, &frames, why, sizeof why);
  const double padded_seconds = padded ? (double)au.n / r->sr : 0;
  audio_free(&au);
  /* one rule for non-finite features: the file is refused, as prep refuses it */
  if (!feat) return cannot_tag(r, path, why);
  int failed = 0;
  if (a->taggram) {
    int n;
    float *probs;
    long *starts = taggram_patches(&r->t, feat, frames, a->hop_frames ? a->hop_frames : r->t.in.width, &n, &probs);
    if (!all_finite(probs, (size_t)n * (size_t)r->k)) failed = cannot_tag(r, path, k_diverged); /* never a printed NaN */
    else if (a->json) print_json_taggram(path, seconds, padded, r->names, starts, n, probs, r->k, r->frame_seconds, &r->first_json);
    else print_taggram(path, seconds, padded, r->names, starts, n, probs, r->k, r->frame_seconds);
    free(starts);
    free(probs);
  } else {
    const int width = r->t.in.width, crops = a->crops ? a->crops : (int)((frames + width - 1) / width);
    score_crops(&r->t, feat, frames, crops, r->scored);
    int finite = 1;
    for (int j = 0; j < r->k; j++) finite &= isfinite(r->scored[j].p) != 0;
    if (!finite) failed = cannot_tag(r, path, k_diverged);
    else if (a->json) print_json_tags(path, seconds, crops, padded, r->names, r->scored, r->top, &r->first_json);
    else print_table(path, seconds, crops, padded_seconds, r->crop_seconds, r->names, r->scored, r->top);
  }
  free(feat);
  fflush(stdout);
  return failed;
}

int cmd_tag(int argc, char **argv) {
  TagArgs a;
  parse(argc, argv, &a);
  FILE *info = a.json ? stderr : stdout; /* --json: stdout holds nothing but the JSON */
  EvalModel em;
  cli_load_for_eval(a.weights, 0, 0, 0, info, &em);
  Model *m = em.m;

  PrepSetup setup;
  char cache_path[4200], desc[1024];
  Cache *c = cli_front_end_for(&em, "tag", a.cache, &setup, cache_path, sizeof cache_path, desc, sizeof desc);
  /* the model's own tag names (a cache met them in its order), else the cache's */
  if (!m->output_names && !c) at_fatal("'%s' names neither its tags nor a training cache; give --cache", em.path);
  const char *const *names = m->output_names ? (const char *const *)m->output_names : (const char *const *)c->tags;
  const DatasetConfig *dc = setup.dc;
  const int crop = m->input.w, k = m->classes;
  const double sr = dc->fe.sample_rate;
  const double crop_seconds = (double)crop * dc->fe.hop / sr;
  fprintf(info, "front end: %s%s (from %s)\n", desc,
          setup.has_norm ? ", normalised with the training split's mean and std" : "", cache_path);

  TagRun r = {.a = &a, .names = names, .k = k, .top = a.top < k ? a.top : k, .first_json = 1, .sr = sr,
              .crop_seconds = crop_seconds, .frame_seconds = dc->fe.hop / sr};
  tagger_init(&r.t, m, &setup);
  r.scored = at_malloc(sizeof(Scored) * (size_t)k, "tag scores");
  int errors = 0;
  if (a.json) print_json_head(em.path, m, crop_seconds);
  /* progress on stderr, one update per file, when there are several */
  Progress bar;
  const int show = a.n_files > 1;
  if (show) progress_begin(&bar, stderr, "tag", a.n_files, 0, 1);
  for (int f = 0; f < a.n_files; f++) {
    if (show) progress_clear(&bar); /* the file's results, not after the bar, on a terminal */
    errors += tag_file(&r, a.files[f]);
    if (show) progress_count(&bar, f + 1, "files");
  }
  if (show) progress_end(&bar);
  if (a.json) printf("%s]}\n", r.first_json ? "" : "\n");
  tagger_free(&r.t);
  free(r.scored);
  cache_close(c);
  prep_setup_free(&setup);
  free(em.experiment);
  model_free(m);
  free(a.files);
  return errors ? 1 : 0;
}
