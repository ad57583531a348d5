#include "core/hash.h"

#define FNV_PRIME 0x100000001b3ULL

uint64_t at_fnv1a(const void *data, size_t n, uint64_t h) {
  const unsigned char *p = data;
  for (size_t i = 0; i < n; i++) {
    h ^= p[i];
    h *= FNV_PRIME;
  }
  return h;
}

uint64_t at_fnv1a_words(const uint32_t *words, size_t n, uint64_t h) {
  for (size_t i = 0; i < n; i++) {
    h ^= words[i];
    h *= FNV_PRIME;
  }
  return h;
}
