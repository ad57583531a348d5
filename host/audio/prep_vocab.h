/* prep's tag (or class) vocabulary, from the training split: tags by count
 * then name, cut to top_tags; classes by name. */
#ifndef AT_PREP_VOCAB_H
#define AT_PREP_VOCAB_H

#include "audio/dataset_config.h"
#include "audio/prep_list.h"

typedef struct PrepVocab {
  int n;
  int *of_name; /* [list's n_names] position in the vocabulary, or -1 */
  const char **names; /* [n] borrowed from the list */
} PrepVocab;

/* From the training rows that gave at least one example. */
void prep_vocab_build(const PrepList *l, const DatasetConfig *dc, PrepVocab *v);
void prep_vocab_free(PrepVocab *v);

#endif
