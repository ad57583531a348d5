/* A cache's tags (multi-label) or classes (single-label) put in the order of
 * a reference list: the model's, i.e. its training cache's. The same names in
 * the same order pass as they are; the same set in another order is mapped by
 * name (the cache's label columns, or its class indices, are reordered in
 * memory and its tag list follows, so every column means the model's tag);
 * any other difference is an error naming what is missing and what is extra.
 * Without this a reordered cache would be scored against the wrong columns. */
#ifndef AT_CACHE_TAGS_H
#define AT_CACHE_TAGS_H

#include "data/cache.h"

/* reference names the list in messages ("the training cache 'x.h5'").
 * Returns 1 when the cache was reordered, 0 when it already matched. */
int cache_align_tags(Cache *c, const char *const *tags, int n_tags, const char *reference);

#endif
