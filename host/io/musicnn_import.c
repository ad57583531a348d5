/* The musicnn package's checkpoints into auratag weights (see musicnn_import.h). */
#include "io/musicnn_import.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

/* How the package flattens the vector a dense layer (or the batch norm before
 * it) reads, against auratag's order: auratag's index a -> the package's. */
typedef enum { FLAT_SAME, FLAT_MAX_MEAN_INTERLEAVED, FLAT_TIME_MAJOR } FlatOrder;

typedef struct Mapping {
  const char *tf;    /* the checkpoint's variable scope */
  const char *layer; /* the auratag layer */
  FlatOrder order;   /* of the vector the layer reads (dense) or is (batch norm) */
} Mapping;

static const Mapping k_musicnn[] = {
    {"batch_normalization", "input_bn", FLAT_SAME},
    {"conv2d", "timbral_74", FLAT_SAME},
    {"batch_normalization_1", "timbral_74_bn", FLAT_SAME},
    {"conv2d_1", "timbral_77", FLAT_SAME},
    {"batch_normalization_2", "timbral_77_bn", FLAT_SAME},
    {"conv2d_2", "temporal_128", FLAT_SAME},
    {"batch_normalization_3", "temporal_128_bn", FLAT_SAME},
    {"conv2d_3", "temporal_64", FLAT_SAME},
    {"batch_normalization_4", "temporal_64_bn", FLAT_SAME},
    {"conv2d_4", "temporal_32", FLAT_SAME},
    {"batch_normalization_5", "temporal_32_bn", FLAT_SAME},
    {"conv2d_5", "cnn1_conv", FLAT_SAME},
    {"batch_normalization_6", "cnn1", FLAT_SAME},
    {"conv2d_6", "cnn2_conv", FLAT_SAME},
    {"batch_normalization_7", "cnn2_bn", FLAT_SAME},
    {"conv2d_7", "cnn3_conv", FLAT_SAME},
    {"batch_normalization_8", "cnn3_bn", FLAT_SAME},
    /* backend: tf.concat([max_pool, mean_pool], 2) of [batch, features, 1]
     * flattened: feature f's max at 2f, its mean at 2f + 1 */
    {"batch_normalization_9", "pooled_bn", FLAT_MAX_MEAN_INTERLEAVED},
    {"dense", "penultimate_dense", FLAT_MAX_MEAN_INTERLEAVED},
    {"batch_normalization_10", "penultimate", FLAT_SAME},
    {"dense_1", "output", FLAT_SAME},
    {NULL, NULL, FLAT_SAME},
};

static const Mapping k_vgg[] = {
    {"batch_normalization", "input_bn", FLAT_SAME},
    {"1CNN", "conv1", FLAT_SAME}, /* the package names its VGG convs */
    {"batch_normalization_1", "bn1", FLAT_SAME},
    {"2CNN", "conv2", FLAT_SAME},
    {"batch_normalization_2", "bn2", FLAT_SAME},
    {"3CNN", "conv3", FLAT_SAME},
    {"batch_normalization_3", "bn3", FLAT_SAME},
    {"4CNN", "conv4", FLAT_SAME},
    {"batch_normalization_4", "bn4", FLAT_SAME},
    {"5CNN", "conv5", FLAT_SAME},
    {"batch_normalization_5", "bn5", FLAT_SAME},
    /* pool5 [batch, time, freq = 1, channels] flattened time-major */
    {"dense", "output", FLAT_TIME_MAJOR},
    {NULL, NULL, FLAT_SAME},
};

static const TfTensorEntry *entry_of(const TfBundle *b, const char *scope, const char *var) {
  char name[256];
  snprintf(name, sizeof name, "%s/%s", scope, var);
  return tf_bundle_find(b, name);
}

static int dims_are(const TfTensorEntry *e, int ndim, const int64_t *want) {
  if (!e || e->ndim != ndim) return 0;
  for (int d = 0; d < ndim; d++)
    if (e->dims[d] != want[d]) return 0;
  return 1;
}

MusicnnKind musicnn_kind(const TfBundle *b) {
  const TfTensorEntry *mid = entry_of(b, "conv2d_5", "kernel"), *vgg5 = entry_of(b, "5CNN", "kernel");
  const int64_t small[4] = {7, 561, 1, 64}, big[4] = {7, 561, 1, 512}, vgg[4] = {3, 3, 128, 128};
  if (dims_are(mid, 4, small)) return MUSICNN_SMALL;
  if (dims_are(mid, 4, big)) return MUSICNN_BIG;
  if (!mid && dims_are(vgg5, 4, vgg)) return MUSICNN_VGG;
  return MUSICNN_UNKNOWN;
}

const char *musicnn_config_name(MusicnnKind k) {
  return k == MUSICNN_SMALL ? "musicnn" : k == MUSICNN_BIG ? "musicnn_big" : k == MUSICNN_VGG ? "musicnn_vgg" : NULL;
}

static const ParamTensor *param_of(const Model *m, const char *layer, const char *name) {
  for (int i = 0; i < m->n_params; i++) {
    const ParamTensor *p = &m->params[i];
    if (!strcmp(m->layers[p->layer].name, layer) && !strcmp(p->name, name)) return p;
  }
  at_fatal("model '%s' has no parameter %s.%s (the config does not match the importer)", m->name, layer, name);
}

/* The package's index of auratag's element a of a flat vector of n. */
static size_t flat_source(FlatOrder order, size_t a, size_t n, int time_steps) {
  if (order == FLAT_MAX_MEAN_INTERLEAVED) {
    const size_t features = n / 2, k = a / features, f = a % features;
    return 2 * f + k;
  }
  if (order == FLAT_TIME_MAJOR) {
    const size_t channels = n / (size_t)time_steps, c = a / (size_t)time_steps, t = a % (size_t)time_steps;
    return t * channels + c;
  }
  return a;
}

typedef struct Target {
  const TfBundle *b;
  const Model *m;
  float *weights, *state; /* host copies */
} Target;

static float *read_tensor(const Target *t, const char *scope, const char *var, const ParamTensor *p, int ndim,
                          const int64_t *want) {
  const TfTensorEntry *e = entry_of(t->b, scope, var);
  if (!e) at_fatal("checkpoint '%s' has no tensor %s/%s (not a %s checkpoint?)", t->b->prefix, scope, var, t->m->name);
  if (!dims_are(e, ndim, want)) {
    char got[96] = "", exp[96] = "";
    for (int d = 0; d < e->ndim; d++) snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", d ? "x" : "", (long long)e->dims[d]);
    for (int d = 0; d < ndim; d++) snprintf(exp + strlen(exp), sizeof exp - strlen(exp), "%s%lld", d ? "x" : "", (long long)want[d]);
    at_fatal("checkpoint '%s': %s/%s is %s, but %s.%s of model '%s' needs %s", t->b->prefix, scope, var, got,
             t->m->layers[p->layer].name, p->name, t->m->name, exp);
  }
  char why[512];
  float *x = tf_bundle_read_floats(t->b, e, why, sizeof why);
  if (!x) at_fatal("%s", why);
  return x;
}

static float *dest(const Target *t, const ParamTensor *p) { return (p->trainable ? t->weights : t->state) + p->offset; }

static void load_vector(const Target *t, const Mapping *mp, const char *var, const char *param) {
  const ParamTensor *p = param_of(t->m, mp->layer, param);
  const int64_t n[1] = {(int64_t)p->count};
  float *x = read_tensor(t, mp->tf, var, p, 1, n);
  float *d = dest(t, p);
  for (size_t a = 0; a < p->count; a++) d[a] = x[flat_source(mp->order, a, p->count, 0)];
  free(x);
}

static void load_conv(const Target *t, const Mapping *mp) {
  const ParamTensor *w = param_of(t->m, mp->layer, "weight");
  float *d = dest(t, w);
  if (w->ndim == 4) { /* [out, in, freq, time] <- [time, freq, in, out] */
    const int O = w->dims[0], I = w->dims[1], F = w->dims[2], T = w->dims[3];
    const int64_t want[4] = {T, F, I, O};
    float *k = read_tensor(t, mp->tf, "kernel", w, 4, want);
    for (int o = 0; o < O; o++)
      for (int i = 0; i < I; i++)
        for (int f = 0; f < F; f++)
          for (int s = 0; s < T; s++)
            d[(((size_t)o * I + i) * F + f) * T + s] = k[(((size_t)s * F + f) * I + i) * O + o];
    free(k);
  } else { /* conv1d [out, in, k] <- the package's conv2d over (time, features) [k, in, 1, out] */
    const int O = w->dims[0], I = w->dims[1], K = w->dims[2];
    const int64_t want[4] = {K, I, 1, O};
    float *k = read_tensor(t, mp->tf, "kernel", w, 4, want);
    for (int o = 0; o < O; o++)
      for (int i = 0; i < I; i++)
        for (int s = 0; s < K; s++) d[((size_t)o * I + i) * K + s] = k[((size_t)s * I + i) * O + o];
    free(k);
  }
  load_vector(t, &(Mapping){mp->tf, mp->layer, FLAT_SAME}, "bias", "bias");
}

static void load_dense(const Target *t, const Mapping *mp, int time_steps) {
  const ParamTensor *w = param_of(t->m, mp->layer, "weight");
  const int O = w->dims[0], I = w->dims[1];
  const int64_t want[2] = {I, O};
  float *k = read_tensor(t, mp->tf, "kernel", w, 2, want);
  float *d = dest(t, w);
  for (int o = 0; o < O; o++)
    for (int a = 0; a < I; a++) d[(size_t)o * I + a] = k[flat_source(mp->order, (size_t)a, (size_t)I, time_steps) * O + o];
  free(k);
  load_vector(t, &(Mapping){mp->tf, mp->layer, FLAT_SAME}, "bias", "bias");
}

static void load_batchnorm(const Target *t, const Mapping *mp) {
  load_vector(t, mp, "gamma", "weight");
  load_vector(t, mp, "beta", "bias");
  load_vector(t, mp, "moving_mean", "running_mean");
  load_vector(t, mp, "moving_variance", "running_var");
}

void musicnn_load(Model *m, MusicnnKind k, const TfBundle *b) {
  Target t = {b, m, at_calloc(m->n_weights + 1, sizeof(float), "weights"), at_calloc(m->n_state + 1, sizeof(float), "statistics")};
  const Mapping *table = k == MUSICNN_VGG ? k_vgg : k_musicnn;
  /* the VGG's last pool: its width (time steps) orders the flat vector */
  const int vgg_time = k == MUSICNN_VGG ? 2 : 0;
  for (const Mapping *mp = table; mp->tf; mp++) {
    if (!strncmp(mp->tf, "batch_normalization", 19)) load_batchnorm(&t, mp);
    else if (!strncmp(mp->tf, "conv2d", 6) || strstr(mp->tf, "CNN")) load_conv(&t, mp);
    else load_dense(&t, mp, vgg_time);
  }
  m->be->to_device(m->weights, t.weights, sizeof(float) * m->n_weights);
  m->be->to_device(m->state, t.state, sizeof(float) * m->n_state);
  free(t.weights);
  free(t.state);
}
