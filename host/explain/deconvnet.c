/* Deconvnet over the backend's ops (see deconvnet.h). */
#include "explain/deconvnet.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "nn/layers/layer_kind.h"

struct Deconvnet {
  Model *m;
  int target;
  float *a, *b;     /* device signals, each large enough for any layer */
  float *input;     /* device copy of the example */
  float *host_feat; /* one feature map, for top-n */
  size_t max_count;
};

/* A layer type the deconvnet can go down through (its LayerKind.deconv). */
static int invertible(const Layer *L) { return L->kind->deconv != NULL; }

/* The chain from target down to the input, checked. */
static void check_chain(const Model *m, int target) {
  for (int i = target; i != AT_INPUT;) {
    const Layer *L = &m->layers[i];
    if (!invertible(L) || L->n_inputs != 1)
      at_fatal("the deconvnet cannot go down through layer %s (%s) on the way from %s to the input: it inverts "
               "conv, ReLU/ELU, max-pool, batch norm and dropout chains (pick a layer before it)",
               L->name, layer_type_name(L), m->layers[target].name);
    i = L->inputs[0];
  }
}

int deconv_target(const Model *m, const char *name) {
  char *end = NULL;
  long block = strtol(name, &end, 10);
  int target = -1;
  if (*name && !*end) {
    int convs = 0;
    for (int i = 0; i < m->n_layers; i++) {
      const Layer *L = &m->layers[i];
      if (layer_opens_conv_block(L)) convs++;
      if (convs == block) {
        if (!layer_opens_conv_block(L) && !invertible(L)) break;
        if (layer_opens_conv_block(L) && target >= 0) break;
        target = i;
      } else if (convs > block) {
        break;
      }
    }
    if (block < 1 || target < 0)
      at_fatal("--layer %s: the model %s has %d conv layers (blocks 1..%d), or name a layer", name, m->name, convs,
               convs);
  } else {
    for (int i = 0; i < m->n_layers; i++)
      if (!strcmp(m->layers[i].name, name)) target = i;
    if (target < 0) {
      fprintf(stderr, "auratag: error: --layer %s: no such layer in model %s. Layers:", name, m->name);
      for (int i = 0; i < m->n_layers; i++) fprintf(stderr, " %s", m->layers[i].name);
      fprintf(stderr, " (or a conv block number: 1, 2, ...)\n");
      at_fatal_exit();
    }
  }
  check_chain(m, target);
  return target;
}

Deconvnet *deconv_create(Model *m, int target) {
  AT_ASSERT(m->be && target >= 0 && target < m->n_layers);
  AT_ASSERT(m->keep_outputs); /* it reads inner layers: allocated with every output kept */
  check_chain(m, target);
  Deconvnet *d = at_calloc(1, sizeof *d, "deconvnet");
  d->m = m;
  d->target = target;
  size_t max_count = at_dims_count(m->input);
  for (int i = 0; i <= target; i++) {
    size_t c = at_dims_count(m->layers[i].out);
    if (c > max_count) max_count = c;
  }
  d->max_count = max_count;
  d->a = m->be->alloc(sizeof(float) * max_count);
  d->b = m->be->alloc(sizeof(float) * max_count);
  d->input = m->be->alloc(sizeof(float) * at_dims_count(m->input));
  const Dims o = m->layers[target].out;
  d->host_feat = at_malloc(sizeof(float) * (size_t)o.h * o.w, "a feature map");
  return d;
}

void deconv_free(Deconvnet *d) {
  if (!d) return;
  const Backend *be = d->m->be;
  be->release(d->a);
  be->release(d->b);
  be->release(d->input);
  free(d->host_feat);
  free(d);
}

void deconv_forward(Deconvnet *d, const float *input_host) {
  Model *m = d->m;
  m->be->to_device(d->input, input_host, sizeof(float) * at_dims_count(m->input));
  model_forward(m, d->input, 1, 0, 0, 0);
}

int deconv_features(const Deconvnet *d) { return d->m->layers[d->target].out.c; }

/* The n-th largest of v[0..count) (n >= 1), by sorting a copy. */
static int cmp_desc(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x < y) - (x > y);
}

float deconv_feature(Deconvnet *d, int k, int top_n, float *out_host) {
  Model *m = d->m;
  const Backend *be = m->be;
  const Layer *T = &m->layers[d->target];
  AT_ASSERT(k >= 0 && k < T->out.c);
  const size_t plane = (size_t)T->out.h * T->out.w;
  /* the target's output, only channel k */
  float *sig = d->a, *below = d->b;
  be->fill(sig, at_dims_count(T->out), 0.0f);
  be->to_host(d->host_feat, m->buffers[d->target].out + (size_t)k * plane, sizeof(float) * plane);
  float peak = 0.0f;
  for (size_t i = 0; i < plane; i++)
    if (d->host_feat[i] > peak) peak = d->host_feat[i];
  if (top_n > 0 && (size_t)top_n < plane) {
    float *sorted = at_malloc(sizeof(float) * plane, "top-n activations");
    memcpy(sorted, d->host_feat, sizeof(float) * plane);
    qsort(sorted, plane, sizeof(float), cmp_desc);
    const float threshold = sorted[top_n - 1];
    free(sorted);
    int kept = 0; /* ties at the threshold: the first ones in raster order */
    for (size_t i = 0; i < plane; i++) {
      if (d->host_feat[i] > threshold || (d->host_feat[i] == threshold && kept < top_n)) kept++;
      else d->host_feat[i] = 0.0f;
    }
  }
  be->to_device(sig + (size_t)k * plane, d->host_feat, sizeof(float) * plane);
  /* down the chain */
  for (int i = d->target; i != AT_INPUT; i = m->layers[i].inputs[0]) {
    LayerPass p = layer_pass(m, i, 1);
    at_backend_set_layer(p.L->name);
    if (p.L->kind->deconv(&p, sig, below)) {
      float *t = sig;
      sig = below;
      below = t;
    }
  }
  at_backend_set_layer(NULL);
  be->to_host(out_host, sig, sizeof(float) * at_dims_count(m->input));
  return peak;
}
