#include "train/features.h"

#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/error.h"
#include "core/progress.h"
#include "data/loader.h"
#include "train/evaluate.h"

int features_layer_named(const Model *m, const char *name, const char *purpose) {
  const int index = model_layer_index(m, name);
  if (index >= 0) return index;
  char names[2048];
  model_layer_names(m, names, sizeof names);
  at_fatal("%s: model '%s' has no layer '%s'; its layers: %s", purpose, m->name, name, names);
}

void features_check_layer(const Model *m, int layer, const char *purpose) {
  const LayerBuffers *B = &m->buffers[layer];
  if (B->chain == CHAIN_HEAD || B->chain == CHAIN_INNER)
    at_fatal("internal: %s reads layer '%s' inside a fused chain (set Model.keep_outputs)", purpose,
             m->layers[layer].name);
  for (int j = layer + 1; j < m->n_layers; j++) /* only ReLU and ELU write over their input */
    if (m->buffers[j].in_place && m->buffers[j].out == B->out)
      at_fatal("%s: layer '%s''s output is overwritten in place by '%s' (%s): use '%s' instead", purpose,
               m->layers[layer].name, m->layers[j].name, layer_type_name(&m->layers[j]), m->layers[j].name);
}

int features_default_embedding(const Model *m) {
  const Layer *head = &m->layers[m->n_layers - 1];
  int e = head->inputs[0];
  while (e >= 0 && !strcmp(layer_type_name(&m->layers[e]), "dropout")) e = m->layers[e].inputs[0];
  if (e < 0) at_fatal("model '%s' has no layer before its last one to take embeddings from", m->name);
  return e;
}

static size_t layer_features(const Model *m, int layer, FeaturePooling pooling) {
  const Dims d = m->layers[layer].out;
  return pooling == FEATURES_FLAT ? at_dims_count(d) : (size_t)d.c;
}

size_t features_dim(const Model *m, const FeatureOptions *o) {
  size_t dim = 0;
  for (int i = 0; i < o->n_layers; i++) dim += layer_features(m, o->layers[i], o->pooling);
  return dim;
}

/* Adds one row's features of every chosen layer (downloaded in `host`) to sum. */
static void add_row(const Model *m, const FeatureOptions *o, float *const *host, int row, double *sum) {
  size_t at = 0;
  for (int i = 0; i < o->n_layers; i++) {
    const Dims d = m->layers[o->layers[i]].out;
    const size_t plane = (size_t)d.h * d.w, count = at_dims_count(d);
    const float *y = host[i] + (size_t)row * count;
    if (o->pooling == FEATURES_FLAT) {
      for (size_t j = 0; j < count; j++) sum[at + j] += y[j];
      at += count;
      continue;
    }
    for (int ch = 0; ch < d.c; ch++) {
      double s = 0;
      for (size_t j = 0; j < plane; j++) s += y[(size_t)ch * plane + j];
      sum[at + ch] += s / (double)plane;
    }
    at += (size_t)d.c;
  }
}

float *features_of_cache(Model *m, Cache *c, const FeatureOptions *o) {
  check_cache_fits_input(c, m, o->crop, "feature");
  for (int i = 0; i < o->n_layers; i++) features_check_layer(m, o->layers[i], "features");
  const Backend *be = m->be;
  const int batch = o->batch < m->max_batch ? o->batch : m->max_batch;
  const int n = o->subset ? o->n_subset : c->n;
  const size_t dim = features_dim(m, o);
  LoaderConfig lc = {.batch = batch, .crop_frames = o->crop, .train = 0, .crops_per_example = o->crops,
                     .threads = o->threads, .prefetch = 4, .seed = 0, .subset = o->subset, .n_subset = o->n_subset};
  Loader *loader = loader_create(c, &lc);
  int *slot = at_malloc(sizeof(int) * (size_t)(c->n + 1), "example slots");
  for (int i = 0; i < c->n; i++) slot[i] = -1;
  for (int i = 0; i < n; i++) slot[o->subset ? o->subset[i] : i] = i;
  double *sum = at_calloc((size_t)n * dim + 1, sizeof(double), "feature sums");
  int *seen = at_calloc((size_t)n + 1, sizeof(int), "crop counts");
  float **host = at_calloc((size_t)o->n_layers, sizeof(float *), "layer outputs");
  for (int i = 0; i < o->n_layers; i++)
    host[i] = at_malloc(sizeof(float) * (size_t)batch * at_dims_count(m->layers[o->layers[i]].out), "layer outputs");
  float *x = be->alloc(sizeof(float) * (size_t)batch * at_dims_count(m->input));
  Progress bar;
  if (o->label) progress_begin(&bar, stdout, o->label, loader_batches_per_epoch(loader), 0, 10);
  double last = at_now_seconds();
  long done = 0;
  loader_seek(loader, 0, 0);
  const Batch *b;
  while ((b = loader_next(loader))) {
    const int bad_row = batch_non_finite_row(b, at_dims_count(m->input));
    if (bad_row >= 0)
      at_fatal("cache '%s': example %d ('%s') holds NaN or infinity in its features: the cache is damaged; re-run "
               "prep for that file or remove it", c->path, b->example[bad_row], c->ids[b->example[bad_row]]);
    be->to_device(x, b->x, sizeof(float) * (size_t)b->n * at_dims_count(m->input));
    model_forward(m, x, b->n, 0, 0, 0);
    for (int i = 0; i < o->n_layers; i++)
      be->to_host(host[i], m->buffers[o->layers[i]].out,
                  sizeof(float) * (size_t)b->n * at_dims_count(m->layers[o->layers[i]].out));
    for (int r = 0; r < b->n; r++) {
      const int s = slot[b->example[r]];
      AT_ASSERT(s >= 0);
      seen[s]++;
      add_row(m, o, host, r, sum + (size_t)s * dim);
    }
    if (o->label) {
      const double now = at_now_seconds();
      progress_update(&bar, ++done, b->n / (now - last > 1e-9 ? now - last : 1e-9), "crops", NULL);
      last = now;
    }
  }
  if (o->label) progress_end(&bar);
  float *out = at_malloc(sizeof(float) * ((size_t)n * dim + 1), "features");
  for (int i = 0; i < n; i++) {
    AT_ASSERT(seen[i] == o->crops);
    for (size_t j = 0; j < dim; j++) out[(size_t)i * dim + j] = (float)(sum[(size_t)i * dim + j] / seen[i]);
  }
  be->release(x);
  for (int i = 0; i < o->n_layers; i++) free(host[i]);
  free(host);
  free(seen);
  free(sum);
  free(slot);
  loader_free(loader);
  return out;
}
