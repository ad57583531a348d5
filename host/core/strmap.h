/* A map from strings to ints (open addressing, keys copied), for interning
 * names: tags, song ids, paths seen. */
#ifndef AT_STRMAP_H
#define AT_STRMAP_H

#include <stddef.h>

typedef struct StrMap {
  char **keys;
  int *vals;
  size_t cap, n;
} StrMap; /* {0} is an empty map */

/* The value of key, inserting it with `val` if absent (then *inserted = 1;
 * inserted may be NULL). */
int strmap_intern(StrMap *m, const char *key, int val, int *inserted);
void strmap_free(StrMap *m);

#endif
