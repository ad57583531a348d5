/* prep's report, DIR/prep-report.json: files, written, resumed, examples per
 * split, every skipped file with its reason, the vocabulary, timings and the
 * normalisation statistics. */
#ifndef AT_PREP_REPORT_H
#define AT_PREP_REPORT_H

#include "audio/dataset_config.h"
#include "audio/prep.h"
#include "audio/prep_list.h"
#include "audio/prep_vocab.h"

typedef struct PrepTotals {
  int files, written, resumed, skipped;
  int examples[PREP_N_SPLITS];
  double seconds, wall;
  int threads;
  int has_norm;
  double mean, std;
} PrepTotals;

/* Written atomically (temporary name, rename). */
void prep_report_write(const PrepOptions *o, const DatasetConfig *dc, const PrepList *l, const PrepVocab *v,
                       const PrepTotals *t);

#endif
