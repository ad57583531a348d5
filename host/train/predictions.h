/* Prediction files: what `auratag predict` writes, and RUN/test-predictions.h5,
 * which training writes after its test evaluation (the report's ROC and
 * precision-recall curves are drawn from it).
 *
 *   / attributes   format = "auratag-predictions", model, cache,
 *                  activation = sigmoid (tags) | softmax (classes)
 *   /probabilities [N, tags] float32: clip level, the mean over the crops
 *   /logits        [N, tags] float32: the crops' mean logits
 *   /ids           [N] the examples' ids in the cache
 *   /tags          [tags] tag or class names
 *   /labels        [N, tags] uint8 (multi-label)  -- or --
 *   /label         [N] int32 (single-label): the cache's truth for them
 * Files written before /labels and /label existed have neither. */
#ifndef AT_PREDICTIONS_H
#define AT_PREDICTIONS_H

#include <stdint.h>

#include "data/cache.h"
#include "train/evaluate.h"

/* Written whole (temporary name, then renamed). */
void predictions_write(const char *path, const char *model_name, const EvalResult *r, const Cache *c);

typedef struct Predictions {
  int n, n_tags, multi_label;
  float *probs;    /* [n, n_tags] */
  uint8_t *labels; /* [n, n_tags] multi-label, or NULL */
  int32_t *label;  /* [n] single-label, or NULL */
  char **tags;     /* [n_tags] */
} Predictions;

/* Reads and checks a predictions file; a missing, corrupt or foreign file
 * stops with a message naming it. */
void predictions_read(const char *path, Predictions *p);
void predictions_free(Predictions *p);

#endif
