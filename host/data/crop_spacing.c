#include "data/crop_spacing.h"

long crop_spaced_start(long frames, long crop, int crops, int k) {
  const long span = frames - crop;
  if (crops == 1) return span / 2;
  const long den = crops - 1;
  return (2 * (long)k * span + den) / (2 * den); /* integer rounding, half up: no floating-point ties */
}

int crop_covering_count(long frames, long crop) { return crop >= frames ? 1 : (int)((frames + crop - 1) / crop); }
