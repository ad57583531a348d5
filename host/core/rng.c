#include "core/rng.h"

#include <math.h>

Philox4x32 at_philox(uint64_t seed, uint64_t stream, uint64_t index) {
  return at_philox_block(seed, stream, index);
}

float at_rng_uniform(uint64_t seed, uint64_t stream, uint64_t index) {
  return at_philox_uniform(seed, stream, index);
}

float at_rng_normal(uint64_t seed, uint64_t stream, uint64_t index) {
  Philox4x32 b = at_philox(seed, stream, index);
  /* u1 in (0, 1] so the log is finite. */
  double u1 = ((double)(b.v[0] >> 8) + 1.0) / 16777216.0;
  double u2 = (double)(b.v[1] >> 8) / 16777216.0;
  return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}
