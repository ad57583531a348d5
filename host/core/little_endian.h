/* Little-endian integers in byte buffers, whatever the host's byte order:
 * the on-disk formats auratag reads and writes (TensorFlow checkpoints,
 * TensorBoard's TFRecords). */
#ifndef AT_LITTLE_ENDIAN_H
#define AT_LITTLE_ENDIAN_H

#include <stdint.h>

static inline uint32_t at_get_le32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t at_get_le64(const unsigned char *p) {
  return (uint64_t)at_get_le32(p) | (uint64_t)at_get_le32(p + 4) << 32;
}
static inline void at_put_le32(unsigned char *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static inline void at_put_le64(unsigned char *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

#endif
