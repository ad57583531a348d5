/* Audio files in and out: libsndfile (WAV, FLAC, OGG/Vorbis, Opus, MP3) to
 * mono float at a target sample rate through soxr (high quality). A file that
 * cannot be decoded is not fatal here: the caller (prep, tag) reports it and
 * goes on with the others. */
#ifndef AT_AUDIO_IO_H
#define AT_AUDIO_IO_H

#include <stddef.h>

typedef struct Audio {
  float *samples; /* mono */
  long n;
  double rate;
} Audio;

/* Decodes, mixes down to mono (mean of channels), resamples to target_rate
 * (no resampling when equal). Returns 0, or -1 with a one-line reason in
 * why (e.g. "not a supported audio format", "truncated FLAC stream"). */
int audio_load(const char *path, double target_rate, Audio *out, char *why, size_t why_size);
void audio_free(Audio *a);

/* Writes a mono 16-bit PCM WAV (values clipped to [-1, 1]); fatal on error. */
void audio_write_wav(const char *path, const float *samples, long n, double rate);

#endif
