/* auratag activations WEIGHTS_OR_RUN --list FILES.csv [--cache TRAIN.h5] --out ACT.h5
 *
 * The response of every conv block of a trained model to each listed audio
 * file, for the per-layer correlation analysis of Choi, Fazekas & Sandler
 * 2016 (scripts/stimuli_correlation.py on the templates of `auratag
 * stimuli`). Each file goes through the model's own front end (as `auratag
 * tag`: decoded and resampled, the training cache's front end, its
 * normalisation), the centre crop of the model's width (a file shorter than
 * one crop is zero-padded at the end first), one eval-mode forward pass.
 * Block d is what `auratag auralise --layer d` names: the layers from the
 * d-th conv up to the next conv (or the first layer the deconvnet cannot go
 * down through); its output is taken after its last layer (e.g. the pool).
 * Stored per file and feature: the mean of that feature map over frequency
 * and time. ACT.h5:
 *   /layer<d>  float32 [files, features of block d], d = 1 .. number of convs;
 *              attributes: layer (its last layer), conv (its conv layer),
 *              shape (frequency x time x channels of its output)
 *   /paths     the files, as written in the list (one per row)
 *   attributes of /: format "auratag-activations", model, weights,
 *   front_end, list, statistic, n_layers, layers and convs (comma-separated) */
#include <hdf5.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audio/audio_io.h"
#include "audio/model_input.h"
#include "audio/prep.h"
#include "cli/cli.h"
#include "core/csv.h"
#include "core/error.h"
#include "core/files.h"
#include "data/cache.h"
#include "data/crop_spacing.h"
#include "explain/deconvnet.h"
#include "io/h5_util.h"

typedef struct ActArgs {
  const char *weights, *list, *cache, *out;
} ActArgs;

static const CliOption k_options[] = {
    {"list", 0, "FILES.csv", NULL, "the audio files (a CSV with a path column, e.g. stimuli.csv; required)"},
    {"out", 'o', "ACT.h5", NULL, "the file to write: /layer<d> [files, features], /paths (required)"},
    {"cache", 0, "TRAIN_CACHE.h5", "the run's training cache", "the cache whose front end the model was trained with"},
    {0},
};
const CliCommand k_cli_activations = {
    "activations", "WEIGHTS.h5|RUN_DIR --list FILES.csv --out ACT.h5 [--cache TRAIN_CACHE.h5]",
    "Each listed file through the model's front end (centre crop, eval mode): the per-feature mean activation of "
    "every conv block.",
    k_options, "auratag activations checkpoints/demo-fcn3 --list data/stimuli/stimuli.csv --out act.h5"};

static void parse(int argc, char **argv, ActArgs *a) {
  memset(a, 0, sizeof *a);
  CliArgs p;
  cli_parse(&k_cli_activations, argc, argv, &p);
  cli_require_positionals(&p, 1, 1);
  a->weights = p.positional[0];
  for (int i = 0; i < p.n_options; i++) {
    if (cli_is(&p, i, "list")) a->list = p.value[i];
    else if (cli_is(&p, i, "cache")) a->cache = p.value[i];
    else if (cli_is(&p, i, "out")) a->out = p.value[i];
  }
  if (!a->list || !a->out) cli_usage_error(&k_cli_activations, "--list FILES.csv and --out ACT.h5 are required");
  const char *inputs[] = {a->weights, a->list, a->cache ? a->cache : a->list, NULL};
  cli_refuse_output_over_inputs(&k_cli_activations, "--out", a->out, inputs);
}

/* ---- the list: a CSV whose header names a `path` column ---- */

typedef struct FileList {
  char **listed;   /* as written */
  char **resolved; /* relative paths taken from the list's folder */
  int n;
} FileList;

static void read_list(const char *path, FileList *fl) {
  memset(fl, 0, sizeof *fl);
  Csv csv;
  csv_open(&csv, path);
  int line, path_col = -1, cap_files = 0;
  if (!csv_next(&csv, &line)) at_fatal("--list '%s' is empty: its first line must name the columns (path, ...)", path);
  for (int i = 0; i < csv.n_fields; i++)
    if (!strcmp(csv.fields[i], "path")) path_col = i;
  if (path_col < 0) at_fatal("%s:%d: the header names no 'path' column (e.g. path,kind,key,...)", path, line);
  char *dir_copy = at_strdup(path);
  const char *dir = dirname(dir_copy);
  while (csv_next(&csv, &line)) {
    if (path_col >= csv.n_fields || !csv.fields[path_col][0]) at_fatal("%s:%d: no path in this row", path, line);
    if (fl->n == cap_files) {
      cap_files = cap_files ? 2 * cap_files : 64;
      fl->listed = at_realloc(fl->listed, sizeof(char *) * (size_t)cap_files, "file list");
      fl->resolved = at_realloc(fl->resolved, sizeof(char *) * (size_t)cap_files, "file list");
    }
    const char *p = csv.fields[path_col];
    fl->listed[fl->n] = at_strdup(p);
    if (p[0] == '/') {
      fl->resolved[fl->n] = at_strdup(p);
    } else {
      size_t size = strlen(dir) + strlen(p) + 2;
      fl->resolved[fl->n] = at_malloc(size, "file path");
      snprintf(fl->resolved[fl->n], size, "%s/%s", dir, p);
    }
    fl->n++;
  }
  free(dir_copy);
  csv_end(&csv);
  if (fl->n == 0) at_fatal("--list '%s' lists no files", path);
}

static void free_list(FileList *fl) {
  for (int i = 0; i < fl->n; i++) {
    free(fl->listed[i]);
    free(fl->resolved[i]);
  }
  free(fl->listed);
  free(fl->resolved);
}

/* a comma-separated list of layer names (caller frees) */
static char *join_names(const Model *m, const int *idx, int n) {
  size_t size = 1;
  for (int i = 0; i < n; i++) size += strlen(m->layers[idx[i]].name) + 1;
  char *s = at_malloc(size, "layer names");
  s[0] = 0;
  for (int i = 0; i < n; i++) {
    if (i) strcat(s, ",");
    strcat(s, m->layers[idx[i]].name);
  }
  return s;
}

/* Long (~130 lines) on purpose for now: its layer and buffer fields are being reworked by the layer-table change
 * (Layer split into config and run-time buffers); split it into blocks/measure/write once that lands. */
/* The conv blocks of a model (Choi et al.'s: a [conv] and the layers after it
 * up to the next one): the layer whose output is measured and the block's
 * conv, and per block [files, channels] of mean activations. */
typedef struct Blocks {
  int n;
  int *target, *conv;
  float **act;
  size_t max_out; /* the largest block output, floats per example */
} Blocks;

static void find_blocks(const Model *m, int n_files, Blocks *b) {
  memset(b, 0, sizeof *b);
  for (int i = 0; i < m->n_layers; i++) b->n += layer_opens_conv_block(&m->layers[i]);
  if (b->n == 0) at_fatal("model '%s' has no conv layer: nothing to measure", m->name);
  b->target = at_malloc(sizeof(int) * (size_t)b->n, "blocks");
  b->conv = at_malloc(sizeof(int) * (size_t)b->n, "blocks");
  for (int d = 0, c = 0; d < b->n; d++) {
    char name[16];
    snprintf(name, sizeof name, "%d", d + 1);
    b->target[d] = deconv_target(m, name); /* stops past the block's last layer */
    while (!layer_opens_conv_block(&m->layers[c])) c++;
    b->conv[d] = c++;
  }
  b->act = at_malloc(sizeof(float *) * (size_t)b->n, "activations");
  for (int d = 0; d < b->n; d++) {
    const Dims o = m->layers[b->target[d]].out;
    b->act[d] = at_calloc((size_t)n_files * (size_t)o.c, sizeof(float), "activations");
    if (at_dims_count(o) > b->max_out) b->max_out = at_dims_count(o);
  }
}

static void free_blocks(Blocks *b) {
  for (int d = 0; d < b->n; d++) free(b->act[d]);
  free(b->act);
  free(b->target);
  free(b->conv);
}

/* Each block's feature maps, averaged over frequency and time, for rows
 * first .. first + n - 1 of the files (their outputs are on the device). */
static void average_maps(Model *m, const Blocks *bl, int first, int n, float *out_host) {
  for (int d = 0; d < bl->n; d++) {
    const Layer *L = &m->layers[bl->target[d]];
    const size_t count = at_dims_count(L->out), plane = (size_t)L->out.h * L->out.w;
    m->be->to_host(out_host, m->buffers[bl->target[d]].out, sizeof(float) * count * (size_t)n);
    for (int i = 0; i < n; i++)
      for (int c = 0; c < L->out.c; c++) {
        const float *v = out_host + (size_t)i * count + (size_t)c * plane;
        double s = 0;
        for (size_t j = 0; j < plane; j++) s += v[j];
        bl->act[d][(size_t)(first + i) * L->out.c + c] = (float)(s / (double)plane);
      }
  }
}

/* Runs the centre crop of every file through the model, a batch at a time;
 * returns how many files were shorter than one crop (zero-padded). */
static int measure_files(Model *m, const PrepSetup *setup, const FileList *fl, const Blocks *bl) {
  const Backend *be = m->be;
  const int batch = m->max_batch, width = m->input.w;
  ModelInput in;
  model_input_init(&in, setup, width, be); /* the GPU front end when the backend is cuda */
  const size_t per = (size_t)in.rows * (size_t)width;
  float *x_host = at_malloc(sizeof(float) * per * (size_t)batch, "model input");
  float *x = be->alloc(sizeof(float) * per * (size_t)batch);
  float *out_host = at_malloc(sizeof(float) * bl->max_out * (size_t)batch, "block output");
  int padded = 0;
  for (int f0 = 0; f0 < fl->n; f0 += batch) {
    const int b = fl->n - f0 < batch ? fl->n - f0 : batch;
    for (int i = 0; i < b; i++) {
      const char *path = fl->resolved[f0 + i];
      Audio au;
      char why[512];
      long decoded, frames;
      if (model_input_load(&in, path, &au, &decoded, why, sizeof why) != 0) at_fatal("%s: cannot read: %s", path, why);
      audio_print_warning(&au, path);
      padded += decoded < au.n;
      float *feat = model_input_features(&in, au.samples, au.n, &frames, why, sizeof why);
      if (!feat) at_fatal("%s: %s", path, why);
      audio_free(&au);
      model_input_crop(&in, feat, frames, crop_spaced_start(frames, width, 1, 0), x_host + (size_t)i * per);
      free(feat);
    }
    be->to_device(x, x_host, sizeof(float) * per * (size_t)b);
    model_forward(m, x, b, 0, 0, 0);
    average_maps(m, bl, f0, b, out_host);
  }
  model_input_free(&in);
  free(out_host);
  free(x_host);
  be->release(x);
  return padded;
}

/* The activations file (layout in docs/formats.md), written whole. */
static void write_activations(const ActArgs *a, const EvalModel *em, const char *desc, const FileList *fl,
                              const Blocks *bl) {
  const Model *m = em->m;
  char tmp[4300];
  hid_t file = (hid_t)h5_create_staged(a->out, tmp, sizeof tmp);
  h5_write_string_attr(file, "format", "auratag-activations");
  h5_write_string_attr(file, "model", m->name);
  h5_write_string_attr(file, "weights", em->path);
  h5_write_string_attr(file, "front_end", desc);
  h5_write_string_attr(file, "list", a->list);
  h5_write_string_attr(file, "statistic", "mean over frequency and time of each feature map of the block's output, "
                                          "centre crop, eval mode");
  h5_write_int_attr(file, "n_layers", bl->n);
  char *names = join_names(m, bl->target, bl->n), *convs = join_names(m, bl->conv, bl->n);
  h5_write_string_attr(file, "layers", names);
  h5_write_string_attr(file, "convs", convs);
  free(names);
  free(convs);
  for (int d = 0; d < bl->n; d++) {
    const Layer *L = &m->layers[bl->target[d]];
    char ds_name[32], shape[64];
    snprintf(ds_name, sizeof ds_name, "layer%d", d + 1);
    const unsigned long long dims[2] = {(unsigned long long)fl->n, (unsigned long long)L->out.c};
    h5_write_floats(file, ds_name, bl->act[d], 2, dims, a->out);
    hid_t ds = H5Dopen2(file, ds_name, H5P_DEFAULT);
    if (ds < 0) at_fatal("cannot reopen /%s in '%s'", ds_name, tmp);
    h5_write_string_attr(ds, "layer", L->name);
    h5_write_string_attr(ds, "conv", m->layers[bl->conv[d]].name);
    snprintf(shape, sizeof shape, "%dx%dx%d", L->out.h, L->out.w, L->out.c);
    h5_write_string_attr(ds, "shape", shape);
    H5Dclose(ds);
  }
  h5_write_strings(file, "paths", (const char *const *)fl->listed, fl->n, a->out);
  if (H5Fclose(file) < 0) at_fatal("cannot finish '%s' (is the disk full?)", tmp);
  h5_commit_file(tmp, a->out);
  at_temp_file_clear();
}

int cmd_activations(int argc, char **argv) {
  ActArgs a;
  parse(argc, argv, &a);
  FileList fl;
  read_list(a.list, &fl);
  EvalModel em;
  cli_load_for_eval(a.weights, 1, 0, 1, stdout, &em);
  Model *m = em.m;
  PrepSetup setup;
  char cache_path[4200], desc[1024];
  Cache *cache = cli_front_end_for(&em, "activations", a.cache, &setup, cache_path, sizeof cache_path, desc, sizeof desc);
  cache_close(cache);
  Blocks bl;
  find_blocks(m, fl.n, &bl);
  printf("front end: %s%s (from %s); %d files, centre crop of %d frames; %d conv blocks\n", desc,
         setup.has_norm ? ", normalised with the training split's mean and std" : "", cache_path, fl.n, m->input.w, bl.n);
  const int padded = measure_files(m, &setup, &fl, &bl);
  write_activations(&a, &em, desc, &fl, &bl);
  printf("wrote %s: %d files x %d conv blocks (", a.out, fl.n, bl.n);
  for (int d = 0; d < bl.n; d++)
    printf("%slayer%d = %s, %d features", d ? "; " : "", d + 1, m->layers[bl.target[d]].name,
           m->layers[bl.target[d]].out.c);
  printf(")\n");
  if (padded) printf("%d file(s) shorter than one crop were zero-padded\n", padded);
  free_blocks(&bl);
  prep_setup_free(&setup);
  model_free(m);
  free(em.experiment);
  free_list(&fl);
  return 0;
}
