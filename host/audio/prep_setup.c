/* What a cache written by prep says about making features from audio, and the
 * normalisation prep applies (see prep.h). */
#include "audio/prep.h"

#include <hdf5.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "data/cache.h"
#include "io/h5_guard.h"
#include "io/h5_util.h"

void prep_normalise(float *x, size_t n, double mean, double std) {
  const float m = (float)mean, inv = (float)(1.0 / std);
  for (size_t i = 0; i < n; i++) x[i] = (x[i] - m) * inv;
}

void prep_read_setup(const char *cache_path, PrepSetup *out) {
  memset(out, 0, sizeof *out);
  hid_t file = (hid_t)h5_open_guarded(cache_path, "cache", "write it again with auratag prep");
  char *format = h5_read_string_attr(file, "format", cache_path);
  if (!format || strcmp(format, AT_CACHE_FORMAT) != 0) at_fatal("'%s' is not an auratag cache", cache_path);
  free(format);
  char *text = h5_read_string_attr(file, "dataset_config", cache_path);
  if (!text)
    at_fatal(
        "cache '%s' was not made by `auratag prep` (it has no dataset_config attribute), so it does not say "
        "how to compute features from audio",
        cache_path);
  char origin[PATH_MAX + 64];
  snprintf(origin, sizeof origin, "%s (dataset_config attribute)", cache_path);
  out->dc = dataset_config_from_text(text, origin);
  free(text);
  if (out->dc->normalise == NORMALISE_GLOBAL) {
    if (!h5_read_double_attr(file, "norm_mean", &out->norm_mean, cache_path) ||
        !h5_read_double_attr(file, "norm_std", &out->norm_std, cache_path))
      at_fatal("cache '%s' says normalise = global but lacks the attributes norm_mean / norm_std", cache_path);
    if (!(out->norm_std > 0)) at_fatal("cache '%s': norm_std = %g", cache_path, out->norm_std);
    out->has_norm = 1;
  }
  H5Fclose(file);
  h5_guard_end();
}

int prep_cache_has_setup(const char *cache_path) {
  hid_t file = (hid_t)h5_open_guarded(cache_path, "cache", "write it again with auratag prep");
  char *text = h5_read_string_attr(file, "dataset_config", cache_path);
  H5Fclose(file);
  h5_guard_end();
  free(text);
  return text != NULL;
}

void prep_setup_free(PrepSetup *s) {
  dataset_config_free(s->dc);
  memset(s, 0, sizeof *s);
}
