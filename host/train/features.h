/* Features of a cache's examples read from inner layers of a model: the
 * input of the random-weights probe (`auratag probe`: the mean of each
 * feature map) and the embeddings of prototypical networks (a layer's output
 * as it is). Inference mode, equally spaced crops per example (as
 * evaluate()), the crops' features averaged. */
#ifndef AT_FEATURES_H
#define AT_FEATURES_H

#include <stddef.h>
#include <stdint.h>

#include "data/cache.h"
#include "nn/model.h"

typedef enum {
  FEATURES_FLAT,    /* the layer's output flattened: channels x frequency x time values */
  FEATURES_MAP_MEAN /* one value per channel: the mean of its map over frequency and time */
} FeaturePooling;

typedef struct FeatureOptions {
  int crop, crops, batch, threads;
  const int32_t *subset; /* NULL: every example */
  int n_subset;
  const int *layers; /* their features are concatenated in this order */
  int n_layers;
  FeaturePooling pooling;
  const char *label; /* progress label; NULL: silent */
} FeatureOptions;

/* Values per example. */
size_t features_dim(const Model *m, const FeatureOptions *o);

/* [n, features_dim] for the n examples (the subset's, or all), in that order.
 * The model must be allocated for o->batch rows at least. */
float *features_of_cache(Model *m, Cache *c, const FeatureOptions *o);

/* Fatal, naming `purpose`, when the layer's output does not survive a
 * forward pass: inside a fused chain, or overwritten in place by a later
 * ReLU (then that layer is named instead). */
void features_check_layer(const Model *m, int layer, const char *purpose);

/* The layer called `name`, fatal (listing the names) when there is none. */
int features_layer_named(const Model *m, const char *name, const char *purpose);

/* The default embedding of a classifier: the input of its last layer (the
 * classifier head), looking through dropout (musicnn: `penultimate`). */
int features_default_embedding(const Model *m);

#endif
