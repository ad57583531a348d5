#include "data/cache_tags.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

static int index_of(const char *const *names, int n, const char *name) {
  for (int i = 0; i < n; i++)
    if (!strcmp(names[i], name)) return i;
  return -1;
}

/* Up to a few names of `a` that `b` lacks, for messages. */
static void list_missing(const char *const *a, int na, const char *const *b, int nb, char *out, size_t size) {
  size_t used = 0;
  int shown = 0, total = 0;
  out[0] = '\0';
  for (int i = 0; i < na; i++) {
    if (index_of(b, nb, a[i]) >= 0) continue;
    total++;
    if (shown < 5 && used < size) {
      used += (size_t)snprintf(out + used, size - used, "%s'%s'", shown ? ", " : "", a[i]);
      shown++;
    }
  }
  if (total > shown && used < size) snprintf(out + used, size - used, " and %d more", total - shown);
  if (!total) snprintf(out, size, "none");
}

static void require_same_set(const Cache *c, const char *const *tags, int n_tags, const char *reference) {
  const char *what = c->kind == CACHE_SINGLE_LABEL ? "classes" : "tags";
  for (int i = 0; i < c->n_tags; i++)
    if (index_of((const char *const *)c->tags, i, c->tags[i]) >= 0)
      at_fatal("cache '%s' names %s '%s' twice in /tags", c->path, what, c->tags[i]);
  int same = c->n_tags == n_tags;
  for (int i = 0; same && i < n_tags; i++) same = index_of((const char *const *)c->tags, c->n_tags, tags[i]) >= 0;
  if (same) return;
  char missing[512], extra[512];
  list_missing(tags, n_tags, (const char *const *)c->tags, c->n_tags, missing, sizeof missing);
  list_missing((const char *const *)c->tags, c->n_tags, tags, n_tags, extra, sizeof extra);
  at_fatal("cache '%s' has other %s than %s (%d against %d): missing %s; not in the model's: %s. A model scores "
           "only the %s it was trained on: use caches that `auratag prep` wrote in one run (its splits share one "
           "vocabulary), or a model trained on these %s",
           c->path, what, reference, c->n_tags, n_tags, missing, extra, what, what);
}

int cache_align_tags(Cache *c, const char *const *tags, int n_tags, const char *reference) {
  int in_order = c->n_tags == n_tags;
  for (int i = 0; in_order && i < n_tags; i++) in_order = !strcmp(c->tags[i], tags[i]);
  if (in_order) return 0;
  require_same_set(c, tags, n_tags, reference);
  /* from[j]: the cache's column holding the reference's tag j */
  int *from = at_malloc(sizeof(int) * (size_t)n_tags, "tag order");
  int *to = at_malloc(sizeof(int) * (size_t)n_tags, "tag order");
  for (int j = 0; j < n_tags; j++) {
    from[j] = index_of((const char *const *)c->tags, c->n_tags, tags[j]);
    to[from[j]] = j;
  }
  const size_t k = (size_t)n_tags;
  if (c->kind == CACHE_MULTI_LABEL) {
    uint8_t *row = at_malloc(k, "a label row");
    for (int i = 0; i < c->n; i++) {
      uint8_t *labels = c->labels + (size_t)i * k;
      for (size_t j = 0; j < k; j++) row[j] = labels[from[j]];
      memcpy(labels, row, k);
    }
    free(row);
  } else {
    for (int i = 0; i < c->n; i++) c->label[i] = to[c->label[i]];
  }
  char **names = at_malloc(sizeof(char *) * k, "tag names");
  for (size_t j = 0; j < k; j++) names[j] = c->tags[from[j]];
  memcpy(c->tags, names, sizeof(char *) * k);
  free(names);
  free(from);
  free(to);
  fprintf(stderr, "note: cache '%s' lists the %s of %s in another order; its labels were mapped by name\n", c->path,
          c->kind == CACHE_SINGLE_LABEL ? "classes" : "tags", reference);
  return 1;
}
