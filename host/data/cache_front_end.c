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

/* The value of `key=` in a description (up to the next space), or "". */
static void described(const char *desc, const char *key, char *out, size_t size) {
  out[0] = '\0';
  const size_t n = strlen(key);
  for (const char *p = desc; (p = strstr(p, key)) != NULL; p += n) {
    if ((p == desc || p[-1] == ' ') && p[n] == '=') {
      snprintf(out, size, "%.*s", (int)strcspn(p + n + 1, " "), p + n + 1);
      return;
    }
  }
}

void cache_front_end_require_same(const char *expected, const char *expected_from, const Cache *c) {
  char got[1024];
  cache_front_end_describe(&c->front_end, got, sizeof got);
  if (strcmp(expected, got) == 0) return;
  /* The two mistakes worth their own sentence: waveform against spectrogram,
   * and the same representation at another sample rate. */
  char want_repr[32], have_repr[32], want_rate[32], have_rate[32];
  described(expected, "representation", want_repr, sizeof want_repr);
  described(got, "representation", have_repr, sizeof have_repr);
  described(expected, "sample_rate", want_rate, sizeof want_rate);
  described(got, "sample_rate", have_rate, sizeof have_rate);
  const int want_wave = !strcmp(want_repr, "waveform"), have_wave = !strcmp(have_repr, "waveform");
  if (want_wave != have_wave)
    at_fatal("cache '%s' holds %s but %s holds %s, which the model was made for; prepare the cache with %s",
             c->path, have_wave ? "waveforms (representation = waveform)" : "spectrograms", expected_from,
             want_wave ? "waveforms (representation = waveform)" : "spectrograms",
             want_wave ? "a waveform dataset config (representation = waveform)" : "the model's spectrogram front end");
  if (!strcmp(want_repr, have_repr) && strcmp(want_rate, have_rate) != 0)
    at_fatal("cache '%s' was made at %s Hz but %s at %s Hz (%s), which the model was made for; re-run `auratag "
             "prep` with sample_rate = %s",
             c->path, have_rate, expected_from, want_rate, want_repr, want_rate);
  at_fatal("cache '%s' was made with another front end than %s:\n  %s\n  %s\n"
           "a model only understands spectrograms made the way it was trained on; re-run `auratag prep` "
           "with the training dataset's config",
           c->path, expected_from, got, expected);
}
