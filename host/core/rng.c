#include "core/rng.h"

#include <math.h>

static inline void philox_round(uint32_t c[4], const uint32_t k[2]) {
  const uint64_t p0 = (uint64_t)0xD2511F53u * c[0];
  const uint64_t p1 = (uint64_t)0xCD9E8D57u * c[2];
  const uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
  const uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
  const uint32_t n0 = hi1 ^ c[1] ^ k[0];
  const uint32_t n2 = hi0 ^ c[3] ^ k[1];
  c[0] = n0;
  c[1] = lo1;
  c[2] = n2;
  c[3] = lo0;
}

Philox4x32 at_philox(uint64_t seed, uint64_t stream, uint64_t index) {
  uint32_t c[4] = {(uint32_t)index, (uint32_t)(index >> 32), (uint32_t)stream, (uint32_t)(stream >> 32)};
  uint32_t k[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
  for (int r = 0; r < 10; r++) {
    philox_round(c, k);
    k[0] += 0x9E3779B9u;
    k[1] += 0xBB67AE85u;
  }
  Philox4x32 out = {{c[0], c[1], c[2], c[3]}};
  return out;
}

static inline float word_to_unit(uint32_t w) { return (float)(w >> 8) * (1.0f / 16777216.0f); }

float at_rng_uniform(uint64_t seed, uint64_t stream, uint64_t index) {
  Philox4x32 b = at_philox(seed, stream, index >> 2);
  return word_to_unit(b.v[index & 3]);
}

float at_rng_normal(uint64_t seed, uint64_t stream, uint64_t index) {
  Philox4x32 b = at_philox(seed, stream, index);
  /* u1 in (0, 1] so the log is finite. */
  double u1 = ((double)(b.v[0] >> 8) + 1.0) / 16777216.0;
  double u2 = (double)(b.v[1] >> 8) / 16777216.0;
  return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}
