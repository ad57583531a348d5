/* Channel concatenation: input i is [n, channels[i], plane], the output
 * [n, sum(channels), plane]; every (example, input) pair is one memcpy. */
#include <string.h>

#include "core/error.h"
#include "cpu/cpu_ops.h"

static size_t total_channels(int k, const int *channels) {
  size_t c = 0;
  for (int i = 0; i < k; i++) {
    AT_ASSERT(channels[i] >= 0);
    c += (size_t)channels[i];
  }
  return c;
}

void at_cpu_concat_forward(int n, int plane, int k, const int *channels, const float *const *xs,
                           float *y) {
  AT_ASSERT(n >= 0 && plane >= 0 && k >= 0);
  const size_t c_total = total_channels(k, channels);
  const long tasks = (long)n * k;
#pragma omp parallel for schedule(static) if ((size_t)n * c_total * plane > 4 * AT_CPU_PAR_MIN)
  for (long t = 0; t < tasks; t++) {
    const int e = (int)(t / k), i = (int)(t % k);
    size_t off = 0;
    for (int j = 0; j < i; j++) off += (size_t)channels[j];
    const size_t len = (size_t)channels[i] * plane;
    memcpy(y + ((size_t)e * c_total + off) * plane, xs[i] + (size_t)e * len, len * sizeof(float));
  }
}

void at_cpu_concat_backward(int n, int plane, int k, const int *channels, const float *dy,
                            float *const *dxs) {
  AT_ASSERT(n >= 0 && plane >= 0 && k >= 0);
  const size_t c_total = total_channels(k, channels);
  const long tasks = (long)n * k;
#pragma omp parallel for schedule(static) if ((size_t)n * c_total * plane > 4 * AT_CPU_PAR_MIN)
  for (long t = 0; t < tasks; t++) {
    const int e = (int)(t / k), i = (int)(t % k);
    if (!dxs[i]) continue; /* that input needs no gradient */
    size_t off = 0;
    for (int j = 0; j < i; j++) off += (size_t)channels[j];
    const size_t len = (size_t)channels[i] * plane;
    memcpy(dxs[i] + (size_t)e * len, dy + ((size_t)e * c_total + off) * plane, len * sizeof(float));
  }
}
