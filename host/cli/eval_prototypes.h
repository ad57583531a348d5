/* `auratag eval WEIGHTS TEST.h5 --support TRAIN.h5 --k-shot K`: few-shot
 * classification by prototypes (Snell et al. 2017; Pons et al. 2019): for
 * each of `draws` seeded draws, K labelled examples per class of the support
 * cache give each class its mean embedding, and every test example takes the
 * class of the nearest one. Prints each draw's accuracy and their mean and
 * standard deviation; --json writes them with the first draw's full report. */
#ifndef AT_EVAL_PROTOTYPES_H
#define AT_EVAL_PROTOTYPES_H

#include <stdint.h>

#include "cli/cli.h"

typedef struct ProtoEvalArgs {
  const char *support, *cache, *json, *embedding; /* embedding: NULL for the default */
  int k_shot, draws;
  uint64_t seed;
  int threads;
} ProtoEvalArgs;

/* Frees em's model and experiment text. */
void eval_prototypes(EvalModel *em, const ProtoEvalArgs *a);

#endif
