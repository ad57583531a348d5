/* The project's one hash: 64-bit FNV-1a (Fowler, Noll, Vo). Not
 * cryptographic; used to name work records, fingerprint file lists and
 * binaries, check data, and place keys in hash tables. */
#ifndef AT_HASH_H
#define AT_HASH_H

#include <stddef.h>
#include <stdint.h>

#define AT_FNV1A_BASIS 0xcbf29ce484222325ULL /* the start value of a fresh hash */

/* FNV-1a over n bytes, continuing from h (AT_FNV1A_BASIS to start). */
uint64_t at_fnv1a(const void *data, size_t n, uint64_t h);

/* The same step over n 32-bit words instead of bytes: four times fewer
 * steps, for checksums of large float arrays. */
uint64_t at_fnv1a_words(const uint32_t *words, size_t n, uint64_t h);

#endif
