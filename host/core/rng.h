/* Counter-based random numbers (Philox4x32-10, Salmon et al. 2011).
 * A value depends only on (seed, stream, index), so the CPU and GPU backends
 * draw identical numbers in any order and a run can resume mid-stream without
 * saving generator state beyond a counter. */
#ifndef AT_RNG_H
#define AT_RNG_H

#include <stdint.h>

#include "core/philox.h"

/* Four 32-bit random words for counter (stream, index) under key seed. */
Philox4x32 at_philox(uint64_t seed, uint64_t stream, uint64_t index);

/* Uniform float in [0, 1) with 24 random bits: word i of block index/4. */
float at_rng_uniform(uint64_t seed, uint64_t stream, uint64_t index);

/* Standard normal by Box-Muller from two uniforms of the same block. */
float at_rng_normal(uint64_t seed, uint64_t stream, uint64_t index);

#endif
