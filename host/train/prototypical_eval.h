/* Classification by prototypes (train/prototypical.h) over caches: the
 * validation and test of prototypical training, and `auratag eval --support`. */
#ifndef AT_PROTOTYPICAL_EVAL_H
#define AT_PROTOTYPICAL_EVAL_H

#include "data/cache.h"
#include "nn/model.h"
#include "train/evaluate.h"

/* Embeddings [n, dim] of layer `layer` for the examples (subset, or all) of
 * c: o's crops averaged. The model must keep that layer's output. */
float *proto_embed(Model *m, int layer, Cache *c, const int32_t *subset, int n_subset, const EvalOptions *o,
                   const char *progress_label, size_t *dim);

/* Results of classifying the examples examples[n] of c (embeddings emb
 * [n, dim]) by the nearest prototype of the support embeddings [n_support,
 * dim] with their labels (c's class numbering). Fatal, naming the class,
 * when a class of c has no support example. Scores: -squared distance;
 * loss: the cross-entropy of their softmax. */
void proto_classify(const float *support, const int32_t *support_labels, int n_support, const float *emb,
                    const int32_t *examples, int n, int dim, const Cache *c, EvalResult *r);

/* Both, with the support taken from the examples support_items of the cache
 * `support` (the training split of a prototypical run). */
void proto_evaluate(Model *m, int layer, Cache *support, const int32_t *support_items, int n_support, Cache *c,
                    const EvalOptions *o, EvalResult *r);

#endif
