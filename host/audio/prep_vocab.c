/* prep's vocabulary (see prep_vocab.h). */
#include "audio/prep_vocab.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

/* qsort has no context argument: the comparison reads these (prep builds one
 * vocabulary at a time, on one thread). */
static const PrepList *g_sort_list;
static const long *g_sort_counts;
static int by_count_then_name(const void *a, const void *b) {
  int x = *(const int *)a, y = *(const int *)b;
  if (g_sort_counts && g_sort_counts[x] != g_sort_counts[y]) return g_sort_counts[x] > g_sort_counts[y] ? -1 : 1;
  return strcmp(g_sort_list->names[x], g_sort_list->names[y]);
}

void prep_vocab_build(const PrepList *l, const DatasetConfig *dc, PrepVocab *v) {
  long *counts = at_calloc((size_t)l->n_names + 1, sizeof(long), "tag counts");
  for (int i = 0; i < l->n; i++) {
    const PrepRow *r = &l->rows[i];
    if (r->split != PREP_SPLIT_TRAIN || !r->ok || r->examples == 0) continue;
    for (int k = 0; k < r->n_tags; k++) counts[r->tags[k]]++;
  }
  int *order = at_malloc(sizeof(int) * ((size_t)l->n_names + 1), "tag order");
  int m = 0;
  for (int t = 0; t < l->n_names; t++)
    if (counts[t] > 0) order[m++] = t;
  g_sort_list = l;
  g_sort_counts = dc->kind == CACHE_MULTI_LABEL ? counts : NULL; /* classes: by name */
  qsort(order, (size_t)m, sizeof(int), by_count_then_name);
  if (dc->kind == CACHE_MULTI_LABEL && dc->top_tags > 0 && dc->top_tags < m) m = dc->top_tags;
  v->n = m;
  v->of_name = at_malloc(sizeof(int) * ((size_t)l->n_names + 1), "vocabulary");
  for (int t = 0; t < l->n_names; t++) v->of_name[t] = -1;
  v->names = at_malloc(sizeof(char *) * ((size_t)m + 1), "vocabulary");
  for (int k = 0; k < m; k++) {
    v->of_name[order[k]] = k;
    v->names[k] = l->names[order[k]];
  }
  free(order);
  free(counts);
}

void prep_vocab_free(PrepVocab *v) {
  free(v->of_name);
  free(v->names);
  memset(v, 0, sizeof *v);
}
