/* Synthetic spectrogram caches whose tags are learnable (`auratag synth`, the
 * tests and the loader benchmark).
 *
 * Every value is a pure function of (seed, stream, example, position), drawn
 * from the Philox counter RNG: the same spec writes the same file.
 *
 * An example is a log-magnitude-like noise floor (zero mean, unit variance,
 * with a random spectral tilt and per-frame loudness), plus the patterns of
 * its tags:
 *  - a band pattern: energy in a frequency band (centre set by the tag,
 *    jittered by a quarter of the band spacing, Gaussian profile), present in
 *    every frame: learnable by frequency filters (pons_frequency's 32x1);
 *  - a rhythm pattern: broadband onsets (a frame at +amplitude, the next at
 *    half of it) every P frames, P set by the tag (5, 6, 7, 8, 9, 11, 13, 17,
 *    19, 23, ...; no period a multiple of another below 23), random phase:
 *    learnable by temporal filters (pons_time's 1x60).
 * Amplitudes vary per example (band 1.5-2.5, onsets 3-4 noise deviations).
 *
 * Multi-label (n_tags > 0): each tag is present with probability 0.3,
 * independently. Single-label (classes > 0): one class per example,
 * uniformly. Which pattern a tag or class carries is set by `patterns`:
 *  - SYNTH_MIXED (the default): multi-label tags alternate band (even k) and
 *    rhythm (odd k); a single-label class k carries band k AND rhythm k, so
 *    that a frequency-only and a time-only model can both tell the classes;
 *  - SYNTH_BANDS, SYNTH_RHYTHMS: every tag/class carries one kind only;
 *  - SYNTH_BOTH: every tag/class carries band k and rhythm k.
 * Tag names: "band<k>", "rhythm<period>", "band<k>_rhythm<period>".
 *
 * Songs: examples_per_song > 0 writes /song (i / examples_per_song); the
 * chunks of a song share its labels (fresh noise, phases and jitter).
 * folds > 0 writes /fold = song % folds (or example % folds without songs). */
#ifndef AT_SYNTH_H
#define AT_SYNTH_H

#include <stdint.h>

typedef enum { SYNTH_MIXED = 0, SYNTH_BANDS, SYNTH_RHYTHMS, SYNTH_BOTH } SynthPatterns;

typedef struct SynthSpec {
  int n, bins, frames;
  int n_tags;        /* > 0: multi-label with this many tags */
  int classes;       /* > 0: single-label with this many classes (n_tags 0) */
  uint64_t seed;
  uint64_t stream;   /* distinguishes splits drawn with one seed (train 0, valid 1, test 2) */
  int feature_bytes; /* 2 (float16; also when 0) or 4 */
  int examples_per_song; /* > 0: write /song */
  int folds;             /* > 0: write /fold */
  int chunked, deflate;  /* /features layout (see CacheSpec) */
  SynthPatterns patterns;
} SynthSpec;

void synth_write(const char *path, const SynthSpec *spec);

/* The onset period of rhythm pattern r (0-based): 5, 6, 7, 8, 9, 11, 13, ... */
int synth_period(int r);

#endif
