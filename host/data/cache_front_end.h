/* The front-end parameters of a cache as one line of text
 * ("sample_rate=12000 n_fft=512 ..."), so that caches meant for one model
 * can be compared: the validation and test caches of a run, and any cache
 * given to `auratag eval` / `predict`, must have been made like the training
 * cache (checkpoints store its description). */
#ifndef AT_CACHE_FRONT_END_H
#define AT_CACHE_FRONT_END_H

#include <stddef.h>

#include "data/cache.h"

void cache_front_end_describe(const CacheFrontEnd *fe, char *out, size_t size);

/* Fatal error naming both caches (or the checkpoint) if the descriptions
 * differ. */
void cache_front_end_require_same(const char *expected, const char *expected_from, const Cache *c);

#endif
