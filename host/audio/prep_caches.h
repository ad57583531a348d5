/* prep's output caches, DIR/train.h5, valid.h5, test.h5: the examples of the
 * usable files in list order, normalised, with prep's attributes (every
 * dataset and front-end parameter, the config text, the statistics). Each is
 * assembled in the work folder and renamed into place. */
#ifndef AT_PREP_CACHES_H
#define AT_PREP_CACHES_H

#include "audio/dataset_config.h"
#include "audio/prep_list.h"
#include "audio/prep_vocab.h"
#include "audio/prep_work.h"

typedef struct PrepCacheJob {
  const char *out; /* the output folder */
  const DatasetConfig *dc;
  const PrepList *list;
  const PrepVocab *vocab;
  const PrepWork *work;
  const int *examples; /* [PREP_N_SPLITS] */
  int has_norm;
  double mean, std;
} PrepCacheJob;

/* Writes a cache per split with examples, removes those an earlier prep left
 * for splits that now have none. */
void prep_caches_write(const PrepCacheJob *job);

#endif
