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
#include "audio/feature_maker.h"
#include "audio/frontend.h"
#include "audio/prep.h"
#include "cli/cli.h"
#include "core/error.h"
#include "core/json.h"
#include "data/cache.h"
#include "data/front_end.h"
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

/* The same spacing as evaluation (data/loader.c): crop k of K starts at
 * round(k * (frames - crop) / (K - 1)); one crop is centred. */
static long crop_start(long frames, int crop, int crops, int k) {
  long span = frames - crop;
  if (crops == 1) return span / 2;
  long den = crops - 1;
  return (2 * (long)k * span + den) / (2 * den);
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
  const int rows = frontend_rows(&dc->fe), crop = m->input.w, k = m->classes;
  if (c->n_tags != k)
    at_fatal("cache '%s' names %d tags but model '%s' has %d outputs", cache_path, c->n_tags, m->name, k);
  const double sr = dc->fe.sample_rate;
  const double crop_seconds = (double)crop * dc->fe.hop / sr;
  /* the fewest samples that give a full crop */
  long min_samples = (long)(crop - 1) * dc->fe.hop;
  if (min_samples < 1) min_samples = 1;
  while (frontend_frames(&dc->fe, min_samples) < crop) min_samples += dc->fe.hop;
  fprintf(info, "front end: %s%s (from %s)\n", desc,
          setup.has_norm ? ", normalised with the training split's mean and std" : "", cache_path);

  const Backend *be = m->be;
  const int batch = m->max_batch;
  const size_t per = (size_t)rows * (size_t)crop;
  float *x_host = at_malloc(sizeof(float) * per * (size_t)batch, "model input");
  float *x = be->alloc(sizeof(float) * per * (size_t)batch);
  float *probs_dev = be->alloc(sizeof(float) * (size_t)batch * (size_t)k);
  float *probs = at_malloc(sizeof(float) * (size_t)batch * (size_t)k, "probabilities");
  double *sum = at_malloc(sizeof(double) * (size_t)k, "tag scores");
  Scored *scored = at_malloc(sizeof(Scored) * (size_t)k, "tag scores");
  FeatureMaker *fm = feature_maker_create(&dc->fe, be);
  const int top = a.top < k ? a.top : k;
  int errors = 0, first_json = 1;
  if (a.json) {
    printf("{\"weights\": ");
    json_string(stdout, em.path);
    printf(", \"model\": ");
    json_string(stdout, m->name);
    printf(", \"output\": \"%s\", \"crop_frames\": %d, \"crop_seconds\": ", m->output == OUTPUT_SIGMOID ? "sigmoid" : "softmax",
           crop);
    json_number(stdout, crop_seconds);
    printf(", \"files\": [");
  }
  for (int f = 0; f < a.n_files; f++) {
    const char *path = a.files[f];
    Audio au;
    char why[512];
    if (audio_load(path, sr, &au, why, sizeof why) != 0) {
      errors++;
      fprintf(stderr, "auratag: %s: cannot tag: %s\n", path, why);
      if (a.json) {
        printf("%s\n  {\"path\": ", first_json ? "" : ",");
        json_string(stdout, path);
        printf(", \"error\": ");
        json_string(stdout, why);
        printf("}");
        first_json = 0;
      }
      continue;
    }
    const double seconds = (double)au.n / sr;
    long n = au.n;
    int padded = 0;
    if (n < min_samples) {
      float *grown = at_malloc(sizeof(float) * (size_t)min_samples, "padded signal");
      memcpy(grown, au.samples, sizeof(float) * (size_t)n);
      memset(grown + n, 0, sizeof(float) * (size_t)(min_samples - n));
      free(au.samples);
      au.samples = grown;
      n = au.n = min_samples;
      padded = 1;
    }
    const long frames = frontend_frames(&dc->fe, n);
    float *feat = at_malloc(sizeof(float) * (size_t)rows * (size_t)frames, "features");
    feature_maker_compute(fm, au.samples, n, feat);
    audio_free(&au);
    if (setup.has_norm) prep_normalise(feat, (size_t)rows * (size_t)frames, setup.norm_mean, setup.norm_std);
    const int crops = a.crops ? a.crops : (int)((frames + crop - 1) / crop);
    for (int j = 0; j < k; j++) sum[j] = 0;
    for (int c0 = 0; c0 < crops; c0 += batch) {
      const int b = crops - c0 < batch ? crops - c0 : batch;
      for (int i = 0; i < b; i++) {
        long start = crop_start(frames, crop, crops, c0 + i);
        for (int r = 0; r < rows; r++)
          memcpy(x_host + (size_t)i * per + (size_t)r * (size_t)crop, feat + (size_t)r * (size_t)frames + (size_t)start,
                 sizeof(float) * (size_t)crop);
      }
      be->to_device(x, x_host, sizeof(float) * per * (size_t)b);
      model_forward(m, x, b, 0, 0, 0);
      model_probabilities(m, b, probs_dev);
      be->to_host(probs, probs_dev, sizeof(float) * (size_t)b * (size_t)k);
      for (int i = 0; i < b; i++)
        for (int j = 0; j < k; j++) sum[j] += probs[(size_t)i * k + j];
    }
    free(feat);
    for (int j = 0; j < k; j++) {
      scored[j].tag = j;
      scored[j].p = (float)(sum[j] / crops);
    }
    qsort(scored, (size_t)k, sizeof(Scored), by_probability);
    if (a.json) {
      printf("%s\n  {\"path\": ", first_json ? "" : ",");
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
      first_json = 0;
    } else {
      printf("%s  (%.1f s", path, seconds);
      if (padded)
        printf("; shorter than one crop of %.2f s: zero-padded to %.2f s, 1 crop)\n", crop_seconds, (double)n / sr);
      else
        printf(", %d crop%s of %.2f s)\n", crops, crops == 1 ? "" : "s", crop_seconds);
      int width = 0;
      for (int j = 0; j < top; j++) {
        int len = (int)strlen(c->tags[scored[j].tag]);
        if (len > width) width = len;
      }
      for (int j = 0; j < top; j++) printf("  %-*s  %.3f\n", width, c->tags[scored[j].tag], scored[j].p);
    }
    fflush(stdout);
  }
  if (a.json) printf("%s]}\n", first_json ? "" : "\n");
  feature_maker_free(fm);
  free(scored);
  free(sum);
  free(probs);
  be->release(probs_dev);
  be->release(x);
  free(x_host);
  cache_close(c);
  prep_setup_free(&setup);
  free(em.experiment);
  model_free(m);
  free(a.files);
  return errors ? 1 : 0;
}
