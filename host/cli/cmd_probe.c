/* auratag probe EXPERIMENT [--weights W | --random SEED] [--layers L1,L2,...]
 *                          [--classifier svm|linear-svm|elm] [--folds K] [--json F] [--csv F]
 *
 * Cheap architecture evaluation (Pons & Serra, "Randomly weighted CNNs for
 * (music) audio classification", ICASSP 2019): every example of the
 * experiment's caches goes through the model without training it, the mean
 * of each feature map of the chosen layers is its feature vector,
 * standardised on the training split, and a classifier fitted on those
 * features (train/probe_classifier.h) is scored on the test split as `auratag
 * eval` scores a model: how much an architecture's structure alone separates
 * the classes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/files.h"
#include "core/json.h"
#include "core/rng.h"
#include "data/cache.h"
#include "data/cache_front_end.h"
#include "data/cache_tags.h"
#include "data/crop_spacing.h"
#include "io/weights_h5.h"
#include "nn/backend_registry.h"
#include "train/evaluate.h"
#include "train/experiment.h"
#include "train/features.h"
#include "train/probe_classifier.h"

#define PROBE_MAX_LAYERS 64
#define PROBE_STREAM_FOLDS 0x50524f4245464f4cull /* "PROBEFOL" */

typedef struct ProbeArgs {
  const char *experiment, *weights, *layers, *json, *csv;
  long random_seed; /* -1: the experiment's train.seed */
  ProbeClassifierOptions classifier;
  int folds, crops, batch, threads;
  ModelArgs overrides;
} ProbeArgs;

static const CliOption k_options[] = {
    {"weights", 0, "W.h5|RUN|NAME", NULL, "probe these weights (layers matched by name and shape) instead of random ones"},
    {"random", 0, "SEED", "the experiment's train.seed", "He / Glorot initialisation from this seed (the paper's probe)"},
    {"layers", 0, "L1,L2,...", "the last feature map of each conv block",
     "layers whose feature maps are averaged into features (`auratag model` lists the names)"},
    {"classifier", 0, "svm|linear-svm|elm", "svm",
     "RBF SVM (LIBSVM, C and gamma chosen on validation), linear SVM (LIBLINEAR, C chosen), or an extreme learning "
     "machine (a random hidden layer, least squares)"},
    {"elm-units", 0, "N", "chosen on validation from 100, 250, 500, 1000, 2500", "the ELM's hidden units"},
    {"folds", 0, "K", "the cache's folds when it has them and no test split, else the experiment's splits",
     "K-fold cross-validation: the training cache's first K folds, or K seeded folds of its examples"},
    {"crops", 0, "K", "enough to cover each example", "equally spaced crops per example (their features averaged)"},
    {"json", 0, "FILE", NULL, "also write the results as JSON"},
    {"csv", 0, "FILE", NULL, "also write the per-tag (per-class) table as CSV (with folds: a line per fold)"},
    {"batch", 0, "B", "16", "examples per forward pass"},
    {"threads", 0, "N", "2", "loader threads"},
    CLI_OPTION_SET,
    {0},
};
const CliCommand k_cli_probe = {
    "probe", "EXPERIMENT.ini [--weights W | --random SEED] [--layers L1,L2] [--classifier svm|linear-svm|elm] [--folds K]",
    "Scores an architecture without training it (Pons & Serra 2019): the mean of each feature map of a randomly "
    "weighted (or given) model as features, a classifier fitted on the training split, ROC-AUC / PR-AUC per tag or "
    "accuracy on the test split (or over cross-validation folds), with the feature dimension and the time taken.",
    k_options, "auratag probe configs/experiments/demo_pons_time.ini --classifier svm --json probe.json"};

static void parse(int argc, char **argv, ProbeArgs *a) {
  memset(a, 0, sizeof *a);
  a->random_seed = -1;
  a->classifier.kind = PROBE_RBF_SVM;
  a->batch = 16;
  a->threads = 2;
  CliArgs p;
  cli_parse(&k_cli_probe, argc, argv, &p);
  cli_require_positionals(&p, 1, 1);
  a->experiment = p.positional[0];
  for (int i = 0; i < p.n_options; i++) {
    if (cli_is(&p, i, "weights")) a->weights = p.value[i];
    else if (cli_is(&p, i, "random")) a->random_seed = cli_long(&p, i, 0, 1L << 62);
    else if (cli_is(&p, i, "layers")) a->layers = p.value[i];
    else if (cli_is(&p, i, "classifier")) {
      if (!probe_classifier_parse(p.value[i], &a->classifier.kind))
        cli_usage_error(&k_cli_probe, "--classifier must be svm, linear-svm or elm");
    } else if (cli_is(&p, i, "elm-units")) a->classifier.elm_units = (int)cli_long(&p, i, 1, 100000);
    else if (cli_is(&p, i, "folds")) a->folds = (int)cli_long(&p, i, 2, 1000);
    else if (cli_is(&p, i, "crops")) a->crops = (int)cli_long(&p, i, 1, 4096);
    else if (cli_is(&p, i, "json")) a->json = p.value[i];
    else if (cli_is(&p, i, "csv")) a->csv = p.value[i];
    else if (cli_is(&p, i, "batch")) a->batch = (int)cli_long(&p, i, 1, 1 << 16);
    else if (cli_is(&p, i, "threads")) a->threads = (int)cli_long(&p, i, 1, 1024);
    else if (cli_is(&p, i, "set")) cli_add_override(&a->overrides, p.value[i]);
  }
  if (a->weights && a->random_seed >= 0) cli_usage_error(&k_cli_probe, "give --weights or --random, not both");
  if (a->classifier.elm_units && a->classifier.kind != PROBE_ELM)
    cli_usage_error(&k_cli_probe, "--elm-units goes with --classifier elm");
  const char *inputs[] = {a->experiment, a->weights, NULL};
  if (!a->weights) inputs[1] = NULL;
  cli_refuse_output_over_inputs(&k_cli_probe, "--json", a->json, inputs);
  cli_refuse_output_over_inputs(&k_cli_probe, "--csv", a->csv, inputs);
}

/* ---- layers ---- */

/* A layer whose output is a vector rather than maps over frequency and time:
 * a dense or flatten layer, or one that only reads such layers. */
static void mark_vectors(const Model *m, unsigned char *vector) {
  for (int i = 0; i < m->n_layers; i++) {
    const char *type = layer_type_name(&m->layers[i]);
    int all = m->layers[i].n_inputs > 0;
    for (int k = 0; k < m->layers[i].n_inputs; k++)
      all &= m->layers[i].inputs[k] != AT_INPUT && vector[m->layers[i].inputs[k]];
    vector[i] = !strcmp(type, "dense") || !strcmp(type, "flatten") || all;
  }
}

static int is_conv(const Layer *L) {
  const char *type = layer_type_name(L);
  return !strcmp(type, "conv") || !strcmp(type, "conv1d");
}

/* --layers, else the last feature map of each conv block (a conv and the
 * layers after it, in config order, up to the next conv or the first vector;
 * a dropout at its end left out). */
static int probe_layers(const Model *m, const char *list, int *layers) {
  unsigned char *vector = at_calloc((size_t)m->n_layers, 1, "vector layers");
  mark_vectors(m, vector);
  int n = 0;
  if (list) {
    char *copy = at_strdup(list), *save = NULL;
    for (char *name = strtok_r(copy, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
      if (n == PROBE_MAX_LAYERS) at_fatal("--layers: at most %d layers", PROBE_MAX_LAYERS);
      const int l = features_layer_named(m, name, "--layers");
      const Dims d = m->layers[l].out;
      if (vector[l])
        at_fatal("--layers: layer '%s' (%s) is not a feature map: its output is a vector of %zu values, and the probe "
                 "averages maps over frequency and time; choose a convolutional layer or a pooling after one",
                 name, layer_type_name(&m->layers[l]), at_dims_count(d));
      layers[n++] = l;
    }
    free(copy);
  } else {
    for (int i = 0; i < m->n_layers; i++) {
      if (!is_conv(&m->layers[i])) continue;
      int end = i;
      while (end + 1 < m->n_layers && !is_conv(&m->layers[end + 1]) && !vector[end + 1]) end++;
      const int start = i;
      i = end;
      while (end > start && !strcmp(layer_type_name(&m->layers[end]), "dropout")) end--; /* the identity in inference */
      if (n < PROBE_MAX_LAYERS) layers[n++] = end;
    }
    if (n == 0) at_fatal("model '%s' has no convolutional layer to probe; name layers with --layers", m->name);
  }
  free(vector);
  return n;
}

/* ---- splits ---- */

typedef struct Split {
  int fold;          /* -1: the experiment's splits */
  int32_t *train;    /* into the training cache */
  int n_train;
  Cache *valid_cache;
  int32_t *valid;
  int n_valid;
  Cache *test_cache;
  int32_t *test;
  int n_test;
} Split;

static int32_t *all_items(int n) {
  int32_t *items = at_malloc(sizeof(int32_t) * (size_t)(n + 1), "examples");
  for (int i = 0; i < n; i++) items[i] = i;
  return items;
}

/* The examples of the training cache in (or, out = 1, not in) fold f. */
static int32_t *fold_items(const int32_t *fold, int n, int f, int out, int *count) {
  int32_t *items = at_malloc(sizeof(int32_t) * (size_t)(n + 1), "fold examples");
  *count = 0;
  for (int i = 0; i < n; i++)
    if ((fold[i] == f) != out) items[(*count)++] = i;
  return items;
}

/* The cross-validation folds: the cache's own, or K seeded folds. */
static int make_folds(Cache *train, int k, uint64_t seed, Split *splits) {
  int32_t *fold = train->fold;
  int32_t *made = NULL;
  if (!fold) {
    if (k > train->n) at_fatal("--folds %d: the training cache '%s' has %d examples", k, train->path, train->n);
    int32_t *perm = all_items(train->n);
    for (int i = train->n - 1; i > 0; i--) {
      int j = (int)(at_rng_uniform(seed, PROBE_STREAM_FOLDS, (uint64_t)i) * (i + 1));
      if (j > i) j = i;
      const int32_t x = perm[i];
      perm[i] = perm[j];
      perm[j] = x;
    }
    made = at_malloc(sizeof(int32_t) * (size_t)(train->n + 1), "folds");
    for (int i = 0; i < train->n; i++) made[perm[i]] = i % k;
    free(perm);
    fold = made;
  }
  for (int f = 0; f < k; f++) {
    Split *s = &splits[f];
    memset(s, 0, sizeof *s);
    s->fold = f;
    s->train = fold_items(fold, train->n, f, 1, &s->n_train);
    s->test_cache = train;
    s->test = fold_items(fold, train->n, f, 0, &s->n_test);
    if (s->n_test == 0) at_fatal("fold %d of the training cache '%s' holds no example", f, train->path);
  }
  free(made);
  return k;
}

static int cache_folds(const Cache *c) {
  int top = -1;
  for (int i = 0; c->fold && i < c->n; i++) top = c->fold[i] > top ? c->fold[i] : top;
  return top + 1;
}

/* ---- features of every example of a cache, once ---- */

typedef struct CacheFeatures {
  Cache *c;
  float *x; /* [c->n, dim] */
} CacheFeatures;

static float *rows_of(const float *x, size_t dim, const int32_t *items, int n) {
  float *out = at_malloc(sizeof(float) * ((size_t)n * dim + 1), "probe features");
  for (int i = 0; i < n; i++) memcpy(out + (size_t)i * dim, x + (size_t)items[i] * dim, sizeof(float) * dim);
  return out;
}

static void labels_of(const Cache *c, const int32_t *items, int n, uint8_t **tags, int32_t **label) {
  *tags = NULL;
  *label = NULL;
  if (c->kind == CACHE_MULTI_LABEL) {
    *tags = at_malloc((size_t)n * c->n_tags + 1, "probe labels");
    for (int i = 0; i < n; i++) memcpy(*tags + (size_t)i * c->n_tags, c->labels + (size_t)items[i] * c->n_tags, (size_t)c->n_tags);
  } else {
    *label = at_malloc(sizeof(int32_t) * (size_t)(n + 1), "probe labels");
    for (int i = 0; i < n; i++) (*label)[i] = c->label[items[i]];
  }
}

static const float *features_for(const CacheFeatures *all, int n_all, const Cache *c) {
  for (int i = 0; i < n_all; i++)
    if (all[i].c == c) return all[i].x;
  AT_ASSERT(0);
  return NULL;
}

/* One split: standardise on its training part, fit, score the test part. */
static void run_split(const ProbeArgs *a, const Split *s, Cache *train, const CacheFeatures *all, int n_all,
                      size_t dim, EvalResult *r, char *chosen, size_t chosen_size) {
  float *xt = rows_of(features_for(all, n_all, train), dim, s->train, s->n_train);
  float *xv = s->valid_cache ? rows_of(features_for(all, n_all, s->valid_cache), dim, s->valid, s->n_valid) : NULL;
  float *xs = rows_of(features_for(all, n_all, s->test_cache), dim, s->test, s->n_test);
  float *others[2] = {xs, xv};
  const int other_rows[2] = {s->n_test, s->n_valid};
  probe_standardise(xt, s->n_train, others, other_rows, xv ? 2 : 1, (int)dim);
  ProbeData dt = {xt, s->n_train, (int)dim, NULL, NULL}, dv = {xv, s->n_valid, (int)dim, NULL, NULL},
            ds = {xs, s->n_test, (int)dim, NULL, NULL};
  uint8_t *tags[3];
  int32_t *label[3];
  labels_of(train, s->train, s->n_train, &tags[0], &label[0]);
  labels_of(s->test_cache, s->test, s->n_test, &tags[2], &label[2]);
  tags[1] = NULL, label[1] = NULL;
  if (xv) labels_of(s->valid_cache, s->valid, s->n_valid, &tags[1], &label[1]);
  dt.labels = tags[0], dt.label = label[0];
  dv.labels = tags[1], dv.label = label[1];
  ds.labels = tags[2], ds.label = label[2];
  const int k = train->n_tags;
  float *scores = at_malloc(sizeof(float) * ((size_t)s->n_test * k + 1), "probe scores");
  probe_fit_predict(&a->classifier, &dt, xv ? &dv : NULL, &ds, k, scores, chosen, chosen_size);
  eval_result_from_scores(r, s->test_cache, s->test, s->n_test, scores, k);
  free(scores);
  for (int i = 0; i < 3; i++) free(tags[i]), free(label[i]);
  free(xs);
  free(xv);
  free(xt);
}

/* ---- the command ---- */

static Cache *open_split_cache(const char *path, const Model *m, int crop, const char *role, const Cache *train) {
  Cache *c = cache_open(path);
  check_cache_fits_input(c, m, crop, role);
  if (train) {
    char from[4400], fe[1024];
    snprintf(from, sizeof from, "the training cache '%s'", train->path);
    cache_front_end_describe(&train->front_end, fe, sizeof fe);
    cache_front_end_require_same(fe, from, c);
    if (c->kind != train->kind)
      at_fatal("%s cache '%s' is %s but the training cache is not", role, path,
               c->kind == CACHE_MULTI_LABEL ? "multi-label" : "single-label");
    cache_align_tags(c, (const char *const *)train->tags, train->n_tags, from);
  }
  return c;
}

int cmd_probe(int argc, char **argv) {
  ProbeArgs a;
  parse(argc, argv, &a);
  Experiment *e = experiment_load(a.experiment, a.overrides.overrides, a.overrides.n_overrides);
  experiment_apply_device(e);
  Model *m = e->model;
  m->keep_outputs = 1; /* the probe reads inner layers */
  m->inference_only = 1;
  model_allocate(m, at_backend_selected(), a.batch);
  char weights_desc[4400];
  if (a.weights) {
    char path[4200];
    cli_resolve_weights(a.weights, path, sizeof path);
    char skipped[2048];
    const int loaded = weights_load_matching(m, path, skipped, sizeof skipped);
    if (loaded == 0) at_fatal("--weights %s: no layer of model '%s' has the name and shape of one there", path, m->name);
    printf("weights: %s (%d tensors; not there, left random: %s)\n", path, loaded, skipped[0] ? skipped : "none");
    snprintf(weights_desc, sizeof weights_desc, "%s", path);
  } else {
    const uint64_t seed = a.random_seed >= 0 ? (uint64_t)a.random_seed : e->train.seed;
    model_init_weights(m, seed);
    snprintf(weights_desc, sizeof weights_desc, "random (seed %llu)", (unsigned long long)seed);
  }
  int layers[PROBE_MAX_LAYERS];
  const int n_layers = probe_layers(m, a.layers, layers);

  const DataConfig *d = &e->data;
  const int crop = m->input.w;
  Cache *train = open_split_cache(d->train, m, crop, "training", NULL);
  Cache *valid = d->valid[0] ? open_split_cache(d->valid, m, crop, "validation", train) : NULL;
  Cache *test = d->test[0] ? open_split_cache(d->test, m, crop, "test", train) : NULL;
  Split splits[1000];
  int n_splits;
  if (a.folds && train->fold) {
    if (a.folds > cache_folds(train))
      at_fatal("--folds %d but the training cache '%s' has %d folds", a.folds, train->path, cache_folds(train));
    n_splits = make_folds(train, a.folds, e->train.seed, splits);
  } else if (a.folds) {
    n_splits = make_folds(train, a.folds, e->train.seed, splits);
  } else if (!test && d->fold < 0 && train->fold) {
    n_splits = make_folds(train, cache_folds(train), e->train.seed, splits);
  } else if (!test && d->fold < 0) {
    at_fatal("experiment '%s' has no test split ([data] test or fold) and its training cache no folds: give --folds K",
             a.experiment);
  } else {
    Split *s = &splits[0];
    memset(s, 0, sizeof *s);
    s->fold = -1;
    if (d->fold >= 0) {
      if (!train->fold) at_fatal("[data] fold = %d but the training cache '%s' has no /fold dataset", d->fold, train->path);
      int32_t *kept = fold_items(train->fold, train->n, d->fold, 1, &s->n_train);
      s->train = at_malloc(sizeof(int32_t) * (size_t)(s->n_train + 1), "training examples");
      int n = 0; /* without the validation fold */
      for (int i = 0; i < s->n_train; i++)
        if (train->fold[kept[i]] != d->valid_fold) s->train[n++] = kept[i];
      s->n_train = n;
      free(kept);
      s->test_cache = test ? test : train;
      s->test = test ? all_items(test->n) : fold_items(train->fold, train->n, d->fold, 0, &s->n_test);
      if (test) s->n_test = test->n;
      if (d->valid_fold >= 0) s->valid_cache = train, s->valid = fold_items(train->fold, train->n, d->valid_fold, 0, &s->n_valid);
    } else {
      s->train = all_items(train->n), s->n_train = train->n;
      s->test_cache = test, s->test = all_items(test->n), s->n_test = test->n;
    }
    if (valid) s->valid_cache = valid, free(s->valid), s->valid = all_items(valid->n), s->n_valid = valid->n;
    n_splits = 1;
  }

  /* features of every example of each cache */
  FeatureOptions fo = {.crop = crop, .batch = a.batch, .threads = a.threads, .layers = layers, .n_layers = n_layers,
                       .pooling = FEATURES_MAP_MEAN};
  const size_t dim = features_dim(m, &fo);
  char names[1024] = "";
  for (int i = 0; i < n_layers; i++)
    snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s (%d)", i ? ", " : "", m->layers[layers[i]].name,
             m->layers[layers[i]].out.c);
  printf("probe: model %s, weights %s; features: the mean of each map of %s = %zu per example\n", m->name, weights_desc,
         names, dim);
  CacheFeatures all[3];
  int n_all = 0;
  Cache *caches[3] = {train, valid, test};
  const char *labels[3] = {"features (train)", "features (valid)", "features (test)"};
  const double t0 = at_now_seconds();
  long examples = 0;
  for (int i = 0; i < 3; i++) {
    if (!caches[i]) continue;
    fo.crops = a.crops ? a.crops : crop_covering_count(caches[i]->frames, crop);
    fo.label = labels[i];
    all[n_all].c = caches[i];
    all[n_all++].x = features_of_cache(m, caches[i], &fo);
    examples += caches[i]->n;
  }
  const double feature_seconds = at_now_seconds() - t0;
  printf("features of %ld examples in %.1f s (%.1f examples/s)\n", examples, feature_seconds,
         examples / (feature_seconds > 1e-9 ? feature_seconds : 1e-9));

  /* a classifier per split */
  a.classifier.seed = e->train.seed;
  EvalResult *results = at_calloc((size_t)n_splits, sizeof(EvalResult), "probe results");
  char (*chosen)[512] = at_calloc((size_t)n_splits, sizeof *chosen, "chosen hyper-parameters");
  const double t1 = at_now_seconds();
  double *metric_a = at_malloc(sizeof(double) * (size_t)n_splits, "fold metrics");
  double *metric_b = at_malloc(sizeof(double) * (size_t)n_splits, "fold metrics");
  for (int f = 0; f < n_splits; f++) {
    run_split(&a, &splits[f], train, all, n_all, dim, &results[f], chosen[f], sizeof chosen[f]);
    if (splits[f].fold >= 0) printf("fold %d of %d (%d training examples):\n", f + 1, n_splits, splits[f].n_train);
    printf("%s (%s):\n", probe_classifier_name(a.classifier.kind), chosen[f]);
    eval_print(&results[f], splits[f].test_cache, stdout);
    metric_a[f] = results[f].multi_label ? results[f].tags.macro_roc_auc : results[f].classes.accuracy;
    metric_b[f] = results[f].multi_label ? results[f].tags.macro_pr_auc : results[f].classes.balanced_accuracy;
  }
  const double classifier_seconds = at_now_seconds() - t1;
  const int multi = train->kind == CACHE_MULTI_LABEL;
  const char *name_a = multi ? "macro_roc_auc" : "accuracy", *name_b = multi ? "macro_pr_auc" : "balanced_accuracy";
  double sd_a, sd_b;
  const double mean_a = metric_mean_std(metric_a, n_splits, &sd_a), mean_b = metric_mean_std(metric_b, n_splits, &sd_b);
  printf("probe %s: %s %.4f +- %.4f, %s %.4f +- %.4f over %d split%s; %zu features; features %.1f s, classifier "
         "%.1f s\n", m->name, name_a, mean_a, sd_a, name_b, mean_b, sd_b, n_splits, n_splits == 1 ? "" : "s", dim,
         feature_seconds, classifier_seconds);
  if (a.json) {
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    if (!out) at_fatal("out of memory writing '%s'", a.json);
    fprintf(out, "{\"experiment\": ");
    json_string(out, e->path);
    fprintf(out, ", \"model\": ");
    json_string(out, m->name);
    fprintf(out, ", \"weights\": ");
    json_string(out, weights_desc);
    fprintf(out, ", \"layers\": [");
    for (int i = 0; i < n_layers; i++) {
      fprintf(out, "%s", i ? ", " : "");
      json_string(out, m->layers[layers[i]].name);
    }
    fprintf(out, "], \"feature_dim\": %zu, \"classifier\": \"%s\", \"feature_seconds\": %.3f, \"classifier_seconds\": "
                 "%.3f, \"examples\": %ld, \"%s\": %.10g, \"%s_std\": %.10g, \"%s\": %.10g, \"%s_std\": %.10g, \"splits\": [",
            dim, probe_classifier_name(a.classifier.kind), feature_seconds, classifier_seconds, examples, name_a, mean_a,
            name_a, sd_a, name_b, mean_b, name_b, sd_b);
    for (int f = 0; f < n_splits; f++) {
      fprintf(out, "%s{\"fold\": %d, \"train_examples\": %d, \"chosen\": ", f ? ", " : "", splits[f].fold,
              splits[f].n_train);
      json_string(out, chosen[f]);
      fprintf(out, ", \"test\": ");
      eval_write_json(&results[f], splits[f].test_cache, out);
      fputc('}', out);
    }
    fprintf(out, "]}\n");
    fclose(out);
    at_write_text_file(a.json, text);
    free(text);
  }
  if (a.csv) {
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    if (!out) at_fatal("out of memory writing '%s'", a.csv);
    if (n_splits == 1) eval_write_csv(&results[0], splits[0].test_cache, out);
    else fprintf(out, "fold,train_examples,test_examples,%s,%s\n", name_a, name_b);
    for (int f = 0; n_splits > 1 && f < n_splits; f++)
      fprintf(out, "%d,%d,%d,%.10g,%.10g\n", splits[f].fold, splits[f].n_train, splits[f].n_test, metric_a[f], metric_b[f]);
    fclose(out);
    at_write_text_file(a.csv, text);
    free(text);
  }
  for (int f = 0; f < n_splits; f++) {
    eval_result_free(&results[f]);
    free(splits[f].train);
    free(splits[f].valid);
    free(splits[f].test);
  }
  free(metric_b);
  free(metric_a);
  free(chosen);
  free(results);
  for (int i = 0; i < n_all; i++) free(all[i].x);
  for (int i = 0; i < 3; i++)
    if (caches[i]) cache_close(caches[i]);
  experiment_free(e);
  return 0;
}
