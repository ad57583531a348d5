#include "core/strmap.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/hash.h"

static size_t slot_of(const char *key, size_t cap) {
  return at_fnv1a(key, strlen(key), AT_FNV1A_BASIS) & (cap - 1);
}

static void strmap_grow(StrMap *m) {
  size_t cap = m->cap ? m->cap * 2 : 256; /* a power of two: slots are masked */
  char **keys = at_calloc(cap, sizeof(char *), "string map");
  int *vals = at_calloc(cap, sizeof(int), "string map");
  for (size_t i = 0; i < m->cap; i++) {
    if (!m->keys[i]) continue;
    size_t j = slot_of(m->keys[i], cap);
    while (keys[j]) j = (j + 1) & (cap - 1);
    keys[j] = m->keys[i];
    vals[j] = m->vals[i];
  }
  free(m->keys);
  free(m->vals);
  m->keys = keys;
  m->vals = vals;
  m->cap = cap;
}

int strmap_intern(StrMap *m, const char *key, int val, int *inserted) {
  if ((m->n + 1) * 2 > m->cap) strmap_grow(m);
  size_t j = slot_of(key, m->cap);
  while (m->keys[j]) {
    if (!strcmp(m->keys[j], key)) {
      if (inserted) *inserted = 0;
      return m->vals[j];
    }
    j = (j + 1) & (m->cap - 1);
  }
  m->keys[j] = at_strdup(key);
  m->vals[j] = val;
  m->n++;
  if (inserted) *inserted = 1;
  return val;
}

void strmap_free(StrMap *m) {
  for (size_t i = 0; i < m->cap; i++) free(m->keys[i]);
  free(m->keys);
  free(m->vals);
  memset(m, 0, sizeof *m);
}
