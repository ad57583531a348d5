#include "data/cache_front_end.h"

#include <stdio.h>
#include <string.h>

#include "core/error.h"

void cache_front_end_describe(const CacheFrontEnd *fe, char *out, size_t size) {
  snprintf(out, size,
           "representation=%s sample_rate=%g n_fft=%d hop=%d window=%s n_bins=%d fmin=%g fmax=%g mel_scale=%s "
           "mel_norm=%s compression=%s %s",
           fe->representation, fe->sample_rate, fe->n_fft, fe->hop, fe->window, fe->n_bins, fe->fmin, fe->fmax,
           fe->mel_scale, fe->mel_norm, fe->compression, fe->details);
}

void cache_front_end_require_same(const char *expected, const char *expected_from, const Cache *c) {
  char got[1024];
  cache_front_end_describe(&c->front_end, got, sizeof got);
  if (strcmp(expected, got) != 0)
    at_fatal("cache '%s' was made with another front end than %s:\n  %s\n  %s\n"
             "a model only understands spectrograms made the way it was trained on; re-run `auratag prep` "
             "with the training dataset's config",
             c->path, expected_from, got, expected);
}
