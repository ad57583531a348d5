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
#include "data/cache.h"
#include "data/crop_spacing.h"
#include "data/cache_front_end.h"
#include "train/experiment.h"

typedef struct TagArgs {
  const char *weights, *cache;
  const char **files;
  int n_files;
  int top, json, crops;
} TagArgs;

static const CliOption k_options[] = {
    {"top", 0, "N", "10", "how many tags to print per file"},
    {"json", 0, NULL, NULL, "print JSON (every tag's probability) instead of a table"},
    {"cache", 0, "TRAIN_CACHE.h5", "the run's training cache", "the cache whose front end and normalisation the model was trained with"},
    {"crops", 0, "K", "enough to cover the file", "crops averaged per file"},
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
  }
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
  float *x_host, *x, *probs_dev, *probs;
  double *sum;
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
  t->probs = at_malloc(sizeof(float) * (size_t)t->batch * (size_t)t->k, "probabilities");
  t->sum = at_malloc(sizeof(double) * (size_t)t->k, "tag scores");
}

static void tagger_free(Tagger *t) {
  model_input_free(&t->in);
  free(t->sum);
  free(t->probs);
  t->m->be->release(t->probs_dev);
  t->m->be->release(t->x);
  free(t->x_host);
}

/* The probabilities averaged over `crops` crops of features [rows, frames]. */
static void score_crops(Tagger *t, const float *feat, long frames, int crops, Scored *scored) {
  const Backend *be = t->m->be;
  const int k = t->k;
  for (int j = 0; j < k; j++) t->sum[j] = 0;
  for (int c0 = 0; c0 < crops; c0 += t->batch) {
    const int b = crops - c0 < t->batch ? crops - c0 : t->batch;
    for (int i = 0; i < b; i++)
      model_input_crop(&t->in, feat, frames, crop_spaced_start(frames, t->in.width, crops, c0 + i),
                       t->x_host + (size_t)i * t->per);
    be->to_device(t->x, t->x_host, sizeof(float) * t->per * (size_t)b);
    model_forward(t->m, t->x, b, 0, 0, 0);
    model_probabilities(t->m, b, t->probs_dev);
    be->to_host(t->probs, t->probs_dev, sizeof(float) * (size_t)b * (size_t)k);
    for (int i = 0; i < b; i++)
      for (int j = 0; j < k; j++) t->sum[j] += t->probs[(size_t)i * k + j];
  }
  for (int j = 0; j < k; j++) {
    scored[j].tag = j;
    scored[j].p = (float)(t->sum[j] / crops);
  }
  qsort(scored, (size_t)k, sizeof(Scored), by_probability);
}

static void print_json_error(const char *path, const char *why, int *first_json) {
  printf("%s\n  {\"path\": ", *first_json ? "" : ",");
  json_string(stdout, path);
  printf(", \"error\": ");
  json_string(stdout, why);
  printf("}");
  *first_json = 0;
}

static void print_json_tags(const char *path, double seconds, int crops, int padded, const Cache *c,
                            const Scored *scored, int top, int *first_json) {
  printf("%s\n  {\"path\": ", *first_json ? "" : ",");
  json_string(stdout, path);
  printf(", \"seconds\": ");
  json_number(stdout, seconds);
  printf(", \"crops\": %d, \"padded\": %s, \"tags\": [", crops, padded ? "true" : "false");
  for (int j = 0; j < top; j++) {
    printf("%s{\"tag\": ", j ? ", " : "");
    json_string(stdout, c->tags[scored[j].tag]);
    printf(", \"probability\": ");
    json_number(stdout, scored[j].p);
    printf("}");
  }
  printf("]}");
  *first_json = 0;
}

static void print_table(const char *path, double seconds, int crops, double padded_seconds, double crop_seconds,
                        const Cache *c, const Scored *scored, int top) {
  printf("%s  (%.1f s", path, seconds);
  if (padded_seconds > 0)
    printf("; shorter than one crop of %.2f s: zero-padded to %.2f s, 1 crop)\n", crop_seconds, padded_seconds);
  else
    printf(", %d crop%s of %.2f s)\n", crops, crops == 1 ? "" : "s", crop_seconds);
  int width = 0;
  for (int j = 0; j < top; j++) {
    int len = (int)strlen(c->tags[scored[j].tag]);
    if (len > width) width = len;
  }
  for (int j = 0; j < top; j++) printf("  %-*s  %.3f\n", width, c->tags[scored[j].tag], scored[j].p);
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

int cmd_tag(int argc, char **argv) {
  TagArgs a;
  parse(argc, argv, &a);
  FILE *info = a.json ? stderr : stdout; /* --json: stdout holds nothing but the JSON */
  EvalModel em;
  cli_load_for_eval(a.weights, 0, 0, info, &em);
  Model *m = em.m;

  PrepSetup setup;
  char cache_path[4200], desc[1024];
  Cache *c = cli_front_end_for(&em, "tag", a.cache, &setup, cache_path, sizeof cache_path, desc, sizeof desc);
  const DatasetConfig *dc = setup.dc;
  const int crop = m->input.w, k = m->classes;
  const double sr = dc->fe.sample_rate;
  const double crop_seconds = (double)crop * dc->fe.hop / sr;
  fprintf(info, "front end: %s%s (from %s)\n", desc,
          setup.has_norm ? ", normalised with the training split's mean and std" : "", cache_path);

  Tagger t;
  tagger_init(&t, m, &setup);
  Scored *scored = at_malloc(sizeof(Scored) * (size_t)k, "tag scores");
  const int top = a.top < k ? a.top : k;
  int errors = 0, first_json = 1;
  if (a.json) print_json_head(em.path, m, crop_seconds);
  for (int f = 0; f < a.n_files; f++) {
    const char *path = a.files[f];
    Audio au;
    char why[512];
    long decoded;
    if (model_input_load(&t.in, path, &au, &decoded, why, sizeof why) != 0) {
      errors++;
      fprintf(stderr, "auratag: %s: cannot tag: %s\n", path, why);
      if (a.json) print_json_error(path, why, &first_json);
      continue;
    }
    audio_print_warning(&au, path);
    const double seconds = (double)decoded / sr;
    const int padded = decoded < au.n;
    long frames;
    float *feat = model_input_features(&t.in, au.samples, au.n, &frames, why, sizeof why);
    const double padded_seconds = padded ? (double)au.n / sr : 0;
    audio_free(&au);
    if (!feat) { /* one rule for non-finite features: the file is refused, as prep refuses it */
      errors++;
      fprintf(stderr, "auratag: %s: cannot tag: %s\n", path, why);
      if (a.json) print_json_error(path, why, &first_json);
      continue;
    }
    const int crops = a.crops ? a.crops : (int)((frames + crop - 1) / crop);
    score_crops(&t, feat, frames, crops, scored);
    free(feat);
    int finite = 1;
    for (int j = 0; j < c->n_tags; j++) finite &= isfinite(scored[j].p) != 0;
    if (!finite) { /* never a printed NaN */
      static const char k_diverged[] = "the model's output is not finite for this file (its features are finite)";
      errors++;
      fprintf(stderr, "auratag: %s: cannot tag: %s\n", path, k_diverged);
      if (a.json) print_json_error(path, k_diverged, &first_json);
      continue;
    }
    if (a.json) print_json_tags(path, seconds, crops, padded, c, scored, top, &first_json);
    else print_table(path, seconds, crops, padded_seconds, crop_seconds, c, scored, top);
    fflush(stdout);
  }
  if (a.json) printf("%s]}\n", first_json ? "" : "\n");
  tagger_free(&t);
  free(scored);
  cache_close(c);
  prep_setup_free(&setup);
  free(em.experiment);
  model_free(m);
  free(a.files);
  return errors ? 1 : 0;
}
