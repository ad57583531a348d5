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
  /* What was odd but usable, for the caller to print ("" when nothing): a
   * stream a little shorter than its header announces (Ogg Vorbis files
   * whose last granule position overshoots), or a WAV / AIFF file cut short
   * (libsndfile reads what is there; the header said more). */
  char warning[256];
} Audio;

/* Decodes, mixes down to mono (mean of channels), resamples to target_rate
 * (no resampling when equal). Returns 0, or -1 with a one-line reason in
 * why (e.g. "not a supported audio format", "truncated FLAC stream"). */
int audio_load(const char *path, double target_rate, Audio *out, char *why, size_t why_size);
void audio_free(Audio *a);
/* The rule for a stream that decodes to fewer samples than its header
 * announces (announced <= 0: unknown, nothing to check): a shortfall of up
 * to 1 % (at least 8192 samples) is a warning, more is an error
 * ("truncated: ..."). 0, or -1 with why filled. */
int audio_check_length(long long announced, long decoded, double rate, char *warning, size_t warning_size, char *why,
                       size_t why_size);
/* Prints a's warning, if any, as "auratag: warning: PATH: ..." on stderr. */
void audio_print_warning(const Audio *a, const char *path);

/* Writes a mono 16-bit PCM WAV (values clipped to [-1, 1]); fatal on error. */
void audio_write_wav(const char *path, const float *samples, long n, double rate);

#endif
