/* One file of prep: decode, cut the clip, features, chunks, the statistics
 * for global normalisation, and its work record. Runs on many threads at once
 * (one CPU front-end plan per thread, or the shared GPU front end). */
#ifndef AT_PREP_FILE_H
#define AT_PREP_FILE_H

#include "audio/dataset_config.h"
#include "audio/feature_maker.h"
#include "audio/frontend.h"
#include "audio/prep_list.h"
#include "audio/prep_work.h"

/* Fills r's result (ok, examples, statistics; or the reason it is skipped)
 * and writes its record. gpu: the GPU front end (taken by one thread at a
 * time), or NULL: then *plan is this thread's CPU plan, created on first use. */
void prep_file_compute(const PrepWork *w, const DatasetConfig *dc, FeatureMaker *gpu, FrontEndPlan **plan, PrepRow *r);

#endif
