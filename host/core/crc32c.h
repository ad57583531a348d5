/* CRC-32C (Castagnoli), as LevelDB, TensorFlow's checkpoints and TFRecord
 * files (TensorBoard's event files) store it: Debian ships no C library for
 * it (LevelDB keeps its own inside). */
#ifndef AT_CRC32C_H
#define AT_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* CRC-32C of n bytes, continuing from crc (0 to start). */
uint32_t at_crc32c(uint32_t crc, const void *data, size_t n);

/* The masking LevelDB and TensorFlow store a CRC with (a CRC of data that
 * holds CRCs is then not trivially related to them):
 * ((crc >> 15) | (crc << 17)) + 0xa282ead8. */
uint32_t at_crc32c_mask(uint32_t crc);

/* at_crc32c_mask(at_crc32c(0, data, n)): a TFRecord's checksums. */
uint32_t at_crc32c_masked(const void *data, size_t n);

#endif
