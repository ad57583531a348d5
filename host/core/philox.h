/* Philox4x32-10 (Salmon et al. 2011), the one implementation shared by the
 * CPU (core/rng.c) and the GPU kernels (dropout in kernels/activation.cu): a value
 * depends only on (seed, stream, index), so both backends draw the same
 * numbers. Plain C that nvcc and the kernel emulation also compile. */
#ifndef AT_PHILOX_H
#define AT_PHILOX_H

#include <stdint.h>

#if defined(__CUDACC__)
#define AT_PHILOX_FN static inline __host__ __device__
#else
#define AT_PHILOX_FN static inline
#endif

typedef struct { uint32_t v[4]; } Philox4x32;

AT_PHILOX_FN Philox4x32 at_philox_block(uint64_t seed, uint64_t stream, uint64_t index) {
  uint32_t c0 = (uint32_t)index, c1 = (uint32_t)(index >> 32), c2 = (uint32_t)stream, c3 = (uint32_t)(stream >> 32);
  uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
  for (int r = 0; r < 10; r++) {
    const uint64_t p0 = (uint64_t)0xD2511F53u * c0;
    const uint64_t p1 = (uint64_t)0xCD9E8D57u * c2;
    const uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
    const uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
    c1 = (uint32_t)p1;
    c3 = (uint32_t)p0;
    c0 = n0;
    c2 = n2;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  Philox4x32 out;
  out.v[0] = c0;
  out.v[1] = c1;
  out.v[2] = c2;
  out.v[3] = c3;
  return out;
}

/* Uniform float in [0, 1) with 24 random bits: word index % 4 of block index / 4. */
AT_PHILOX_FN float at_philox_uniform(uint64_t seed, uint64_t stream, uint64_t index) {
  Philox4x32 b = at_philox_block(seed, stream, index >> 2);
  return (float)(b.v[index & 3] >> 8) * (1.0f / 16777216.0f);
}

#endif
