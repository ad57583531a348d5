/* auratag embed WEIGHTS AUDIO... --layer NAME [--pool none|mean|max] [--hop-frames N] -o EMB.h5
 *
 * The activations of a named layer for each patch of each file (patches of
 * the model's input width from the first frame, as `tag --taggram` takes
 * them; a file shorter than one patch is padded to one), eval mode, with the
 * model's own front end. Written to HDF5 (docs/formats.md):
 *   /embeddings   float32 [patches, features] (--pool none), or [files, features]
 *                 pooled over each file's patches (mean or max); a patch's
 *                 features are the layer's output flattened channels x
 *                 frequency x time (attribute shape = "CxHxW")
 *   /file         int32 [patches]: the file of each row (--pool none)
 *   /start        float64 [patches]: its start in seconds (--pool none)
 *   /paths        the files, as given
 * Attributes: model, weights, layer, pool. musicnn's named features (timbral,
 * temporal, cnn1 .. cnn3, mean_pool, max_pool, penultimate) are layers of
 * configs/models/musicnn.ini. */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audio/audio_io.h"
#include "audio/model_input.h"
#include "audio/prep.h"
#include "cli/cli.h"
#include "core/error.h"
#include "core/files.h"
#include "core/progress.h"
#include "data/cache.h"
#include "io/h5_util.h"
#include "train/features.h"

typedef enum { POOL_NONE, POOL_MEAN, POOL_MAX } PatchPool;

typedef struct EmbedArgs {
  const char *weights, *layer, *out, *cache;
  const char **files;
  int n_files, hop_frames;
  PatchPool pool;
} EmbedArgs;

static const CliOption k_options[] = {
    {"layer", 0, "NAME", NULL, "the layer whose output is written (required; `auratag model` lists the names)"},
    {"out", 'o', "EMB.h5", NULL, "the file to write (required)"},
    {"pool", 0, "none|mean|max", "none", "one row per patch, or each file's patches pooled into one row"},
    {"hop-frames", 0, "N", "the model's input width", "frames from one patch's start to the next"},
    {"cache", 0, "TRAIN_CACHE.h5", "the run's training cache, or the file's own front end",
     "the cache whose front end and normalisation the model was trained with"},
    {0},
};
const CliCommand k_cli_embed = {
    "embed", "WEIGHTS.h5|RUN_DIR|NAME AUDIO [AUDIO ...] --layer NAME -o EMB.h5 [--pool none|mean|max] [--hop-frames N]",
    "Writes a named layer's activations for each patch of each file (or pooled per file), with the model's own "
    "front end: embeddings for transfer learning and analysis.",
    k_options, "auratag embed musicnn-msd song.mp3 --layer penultimate --pool mean -o song-emb.h5"};

static void parse(int argc, char **argv, EmbedArgs *a) {
  memset(a, 0, sizeof *a);
  CliArgs p;
  cli_parse(&k_cli_embed, argc, argv, &p);
  cli_require_positionals(&p, 2, -1);
  a->weights = p.positional[0];
  a->files = at_malloc(sizeof(char *) * (size_t)p.n_positional, "file list");
  for (int i = 1; i < p.n_positional; i++) a->files[a->n_files++] = p.positional[i];
  for (int i = 0; i < p.n_options; i++) {
    if (cli_is(&p, i, "layer")) a->layer = p.value[i];
    else if (cli_is(&p, i, "out")) a->out = p.value[i];
    else if (cli_is(&p, i, "cache")) a->cache = p.value[i];
    else if (cli_is(&p, i, "hop-frames")) a->hop_frames = (int)cli_long(&p, i, 1, 1 << 20);
    else if (cli_is(&p, i, "pool")) {
      const char *v = p.value[i];
      if (!strcmp(v, "none")) a->pool = POOL_NONE;
      else if (!strcmp(v, "mean")) a->pool = POOL_MEAN;
      else if (!strcmp(v, "max")) a->pool = POOL_MAX;
      else cli_usage_error(&k_cli_embed, "--pool '%s': choose none, mean or max", v);
    }
  }
  if (!a->layer) cli_usage_error(&k_cli_embed, "--layer NAME is required");
  if (!a->out) cli_usage_error(&k_cli_embed, "-o EMB.h5 is required");
  const char *inputs[] = {a->weights, NULL};
  cli_refuse_output_over_inputs(&k_cli_embed, "-o", a->out, inputs);
}

/* The rows being collected: one per patch, or one per file. */
typedef struct Rows {
  float *x;
  int32_t *file;
  double *start;
  long n, cap;
  size_t dim;
} Rows;

static float *rows_add(Rows *r, int file, double start) {
  if (r->n == r->cap) {
    r->cap = r->cap ? 2 * r->cap : 64;
    r->x = at_realloc(r->x, sizeof(float) * r->dim * (size_t)r->cap, "embeddings");
    r->file = at_realloc(r->file, sizeof(int32_t) * (size_t)r->cap, "embeddings");
    r->start = at_realloc(r->start, sizeof(double) * (size_t)r->cap, "embeddings");
  }
  r->file[r->n] = file;
  r->start[r->n] = start;
  return r->x + (size_t)r->n++ * r->dim;
}

/* One file's patches through the model, the layer's output of each into rows. */
static void embed_file(Model *m, ModelInput *in, int layer, const EmbedArgs *a, int f, Rows *rows, float *x,
                       float *x_host) {
  Audio au;
  char why[512];
  long decoded, frames;
  const char *path = a->files[f];
  if (model_input_load(in, path, &au, &decoded, why, sizeof why) != 0) at_fatal("%s: cannot read: %s", path, why);
  audio_print_warning(&au, path);
  float *feat = model_input_features(in, au.samples, au.n, &frames, why, sizeof why);
  audio_free(&au);
  if (!feat) at_fatal("%s: cannot embed: %s", path, why);
  const int width = in->width, hop = a->hop_frames ? a->hop_frames : width;
  const long patches = (frames - width) / hop + 1;
  const size_t per = (size_t)in->rows * (size_t)width, dim = rows->dim;
  const double frame_seconds = in->fe->hop / in->fe->sample_rate;
  for (long p0 = 0; p0 < patches; p0 += m->max_batch) {
    const int b = (int)(patches - p0 < m->max_batch ? patches - p0 : m->max_batch);
    for (int i = 0; i < b; i++) model_input_crop(in, feat, frames, (p0 + i) * hop, x_host + (size_t)i * per);
    m->be->to_device(x, x_host, sizeof(float) * per * (size_t)b);
    model_forward(m, x, b, 0, 0, 0);
    for (int i = 0; i < b; i++)
      m->be->to_host(rows_add(rows, f, (double)(p0 + i) * hop * frame_seconds),
                     m->buffers[layer].out + (size_t)i * dim, sizeof(float) * dim);
  }
  free(feat);
  if (a->pool == POOL_NONE) return;
  /* the file's rows pooled into its first */
  const long first = rows->n - patches;
  float *dst = rows->x + (size_t)first * dim;
  for (long p = first + 1; p < rows->n; p++) {
    const float *src = rows->x + (size_t)p * dim;
    for (size_t j = 0; j < dim; j++) dst[j] = a->pool == POOL_MAX ? (src[j] > dst[j] ? src[j] : dst[j]) : dst[j] + src[j];
  }
  if (a->pool == POOL_MEAN)
    for (size_t j = 0; j < dim; j++) dst[j] /= (float)patches;
  rows->n = first + 1;
}

static void write_embeddings(const EmbedArgs *a, const EvalModel *em, const Rows *rows, const Dims shape) {
  char tmp[4300];
  hid_t file = (hid_t)h5_create_staged(a->out, tmp, sizeof tmp);
  static const char *const pools[] = {"none", "mean", "max"};
  h5_write_string_attr(file, "format", "auratag-embeddings");
  h5_write_string_attr(file, "model", em->m->name);
  h5_write_string_attr(file, "weights", em->path);
  h5_write_string_attr(file, "layer", a->layer);
  h5_write_string_attr(file, "pool", pools[a->pool]);
  const unsigned long long dims[2] = {(unsigned long long)rows->n, (unsigned long long)rows->dim};
  h5_write_floats(file, "embeddings", rows->x, 2, dims, a->out);
  char text[64];
  snprintf(text, sizeof text, "%dx%dx%d", shape.c, shape.h, shape.w);
  hid_t ds = H5Dopen2(file, "embeddings", H5P_DEFAULT);
  h5_write_string_attr(ds, "shape", text);
  H5Dclose(ds);
  if (a->pool == POOL_NONE) {
    const hsize_t n = (hsize_t)rows->n;
    hid_t space = H5Screate_simple(1, &n, NULL);
    hid_t f = H5Dcreate2(file, "file", H5T_STD_I32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hid_t s = H5Dcreate2(file, "start", H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0 || s < 0 || H5Dwrite(f, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows->file) < 0 ||
        H5Dwrite(s, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows->start) < 0)
      at_fatal("cannot write '%s' (is the disk full?)", tmp);
    H5Dclose(f);
    H5Dclose(s);
    H5Sclose(space);
  }
  h5_write_strings(file, "paths", (const char *const *)a->files, a->n_files, a->out);
  if (H5Fclose(file) < 0) at_fatal("cannot finish '%s' (is the disk full?)", tmp);
  h5_commit_file(tmp, a->out);
  at_temp_file_clear();
}

int cmd_embed(int argc, char **argv) {
  EmbedArgs a;
  parse(argc, argv, &a);
  EvalModel em;
  cli_load_for_eval(a.weights, 1, 0, 1, stdout, &em);
  Model *m = em.m;
  const int layer = features_layer_named(m, a.layer, "embed");
  features_check_layer(m, layer, "embed");
  PrepSetup setup;
  char cache_path[4200], desc[1024];
  cache_close(cli_front_end_for(&em, "embed", a.cache, &setup, cache_path, sizeof cache_path, desc, sizeof desc));
  ModelInput in;
  model_input_init(&in, &setup, m->input.w, m->be);
  const size_t per = (size_t)in.rows * (size_t)in.width;
  float *x_host = at_malloc(sizeof(float) * per * (size_t)m->max_batch, "model input");
  float *x = m->be->alloc(sizeof(float) * per * (size_t)m->max_batch);
  const Dims shape = m->layers[layer].out;
  Rows rows = {.dim = at_dims_count(shape)};
  /* progress on stderr, one update per file, when there are several */
  Progress bar;
  const int show = a.n_files > 1;
  if (show) progress_begin(&bar, stderr, "embed", a.n_files, 0, 1);
  for (int f = 0; f < a.n_files; f++) {
    if (show) progress_clear(&bar); /* a file's warnings, not after the bar, on a terminal */
    embed_file(m, &in, layer, &a, f, &rows, x, x_host);
    if (show) progress_count(&bar, f + 1, "files");
  }
  if (show) progress_end(&bar);
  write_embeddings(&a, &em, &rows, shape);
  printf("wrote %s: %ld rows x %zu features of layer %s (%dx%dx%d)\n", a.out, rows.n, rows.dim, a.layer, shape.c,
         shape.h, shape.w);
  free(rows.x);
  free(rows.file);
  free(rows.start);
  m->be->release(x);
  free(x_host);
  model_input_free(&in);
  prep_setup_free(&setup);
  free(em.experiment);
  model_free(m);
  free(a.files);
  return 0;
}
