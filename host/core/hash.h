/* The one hash of auratag: 64-bit FNV-1a, for checksums of what a process
 * compares with another (ranks' configs and binaries, prep's work records,
 * a checkpoint's training cache), never for security. */
#ifndef AT_HASH_H
#define AT_HASH_H

#include <stddef.h>
#include <stdint.h>

#define AT_HASH_START 0xcbf29ce484222325ULL

/* Continues hash h over n bytes (start with AT_HASH_START). */
uint64_t at_hash_bytes(const void *data, size_t n, uint64_t h);

#endif
