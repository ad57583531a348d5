#include "train/prototypical_eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "train/features.h"
#include "train/prototypical.h"

float *proto_embed(Model *m, int layer, Cache *c, const int32_t *subset, int n_subset, const EvalOptions *o,
                   const char *progress_label, size_t *dim) {
  FeatureOptions fo = {.crop = o->crop, .crops = o->crops, .batch = o->batch, .threads = o->threads, .subset = subset,
                       .n_subset = n_subset, .layers = &layer, .n_layers = 1, .pooling = FEATURES_FLAT,
                       .label = progress_label};
  *dim = features_dim(m, &fo);
  return features_of_cache(m, c, &fo);
}

void proto_classify(const float *support, const int32_t *support_labels, int n_support, const float *emb,
                    const int32_t *examples, int n, int dim, const Cache *c, EvalResult *r) {
  AT_ASSERT(c->kind == CACHE_SINGLE_LABEL);
  const int k = c->n_tags;
  float *protos = at_malloc(sizeof(float) * ((size_t)k * dim + 1), "prototypes");
  int *counts = at_malloc(sizeof(int) * (size_t)(k + 1), "support counts");
  int *labels = at_malloc(sizeof(int) * (size_t)(n_support + 1), "support labels");
  for (int i = 0; i < n_support; i++) labels[i] = support_labels[i];
  proto_prototypes(support, labels, n_support, k, dim, protos, counts);
  for (int j = 0; j < k; j++)
    if (!counts[j])
      at_fatal("class '%s' has no example in the support set, so it has no prototype; give support examples of every "
               "class of '%s'", c->tags[j], c->path);
  float *scores = at_malloc(sizeof(float) * ((size_t)n * k + 1), "prototype scores");
  proto_scores(emb, n, protos, k, dim, scores);
  double loss = 0;
  for (int i = 0; i < n; i++) { /* cross-entropy of softmax(-d) at the true class */
    const float *s = scores + (size_t)i * k;
    double top = s[0], sum = 0;
    for (int j = 1; j < k; j++) top = s[j] > top ? s[j] : top;
    for (int j = 0; j < k; j++) sum += exp(s[j] - top);
    loss += -(s[c->label[examples[i]]] - top - log(sum));
  }
  eval_result_from_scores(r, c, examples, n, scores, k);
  r->loss = n ? loss / n : NAN;
  free(scores);
  free(labels);
  free(counts);
  free(protos);
}

void proto_evaluate(Model *m, int layer, Cache *support, const int32_t *support_items, int n_support, Cache *c,
                    const EvalOptions *o, EvalResult *r) {
  size_t dim;
  float *s = proto_embed(m, layer, support, support_items, n_support, o, NULL, &dim);
  float *e = proto_embed(m, layer, c, o->subset, o->n_subset, o, NULL, &dim);
  const int n = o->subset ? o->n_subset : c->n;
  int32_t *examples = at_malloc(sizeof(int32_t) * (size_t)(n + 1), "evaluated examples");
  int32_t *labels = at_malloc(sizeof(int32_t) * (size_t)(n_support + 1), "support labels");
  for (int i = 0; i < n; i++) examples[i] = o->subset ? o->subset[i] : i;
  for (int i = 0; i < n_support; i++) labels[i] = support->label[support_items ? support_items[i] : i];
  proto_classify(s, labels, n_support, e, examples, n, (int)dim, c, r);
  free(labels);
  free(examples);
  free(e);
  free(s);
}
