/* Spectrogram caches: one HDF5 file per split (or shard), readable with h5py.
 *
 *   / attributes  format = "auratag-cache", version = 1, and the front end:
 *                 sample_rate, n_fft, hop, window, representation, n_bins,
 *                 fmin, fmax, mel_scale, mel_norm, compression
 *   /features     [N, bins, frames] float16 or float32, contiguous or
 *                 chunked one example per chunk
 *   /labels       [N, n_tags] uint8 (multi-label)   -- or --
 *   /label        [N] int32 (single-label class index)
 *   /tags         [n_tags] strings (tag or class names)
 *   /ids          [N] strings (clip ids / source paths)
 *   /song         [N] int32, optional: groups the chunks of one song
 *   /fold         [N] int32, optional: cross-validation fold of each example
 *
 * Readers check everything and stop with a message that names the file, the
 * dataset and what is wrong. Reading an example is thread-safe and, for
 * contiguous uncompressed features, bypasses HDF5 (pread at the dataset's
 * file offset) so that loader threads never queue on HDF5's global lock. */
#ifndef AT_CACHE_H
#define AT_CACHE_H

#include <stdint.h>

#define AT_CACHE_FORMAT "auratag-cache"
#define AT_CACHE_VERSION 1

typedef enum { CACHE_MULTI_LABEL, CACHE_SINGLE_LABEL } CacheLabelKind;

/* Front-end parameters, as written by `auratag prep` (and `auratag synth`).
 * Strings are "" and numbers 0 where not applicable. */
typedef struct CacheFrontEnd {
  double sample_rate;
  int n_fft, hop;
  char window[32];         /* hann, blackmanharris62, ... */
  char representation[32]; /* mel, stft, mfcc, synthetic */
  int n_bins;
  double fmin, fmax;
  char mel_scale[16]; /* slaney, htk */
  char mel_norm[16];  /* slaney, unit_sum, none */
  char compression[32]; /* db, log10_1p, log10_1p_half, none */
  char details[512];    /* every other parameter as "key=value ..." (centring, power, dB
                           reference, ...); attribute frontend_details, "" if absent */
} CacheFrontEnd;

typedef struct CacheImpl CacheImpl;

typedef struct Cache {
  char *path;
  int n, bins, frames;
  int feature_bytes; /* 2 (float16) or 4 (float32) */
  CacheLabelKind kind;
  int n_tags;        /* tags (multi-label) or classes (single-label) */
  char **tags;       /* [n_tags] */
  char **ids;        /* [n] */
  uint8_t *labels;   /* [n * n_tags], multi-label only */
  int32_t *label;    /* [n], single-label only */
  int32_t *song;     /* [n] or NULL */
  int32_t *fold;     /* [n] or NULL */
  CacheFrontEnd front_end;
  CacheImpl *impl;
} Cache;

/* Opens and validates; any problem is a fatal error naming path and dataset. */
Cache *cache_open(const char *path);
void cache_close(Cache *c);

/* Features of example `index`, frames [start, start + count), as float32
 * [bins, count] into dst. Thread-safe. Frames past the end are an error. */
void cache_read(Cache *c, int index, int start, int count, float *dst);

/* ---- writing (synth, prep) ---- */

typedef struct CacheSpec {
  int n, bins, frames;
  int feature_bytes; /* 2 or 4 */
  CacheLabelKind kind;
  int n_tags;
  const char *const *tags;
  int has_song, has_fold;
  CacheFrontEnd front_end;
  /* Layout of /features: 0 = contiguous (the fast pread path; the default),
   * 1 = chunked one example per chunk; deflate = gzip level 1-9 (implies
   * chunked; read through HDF5). */
  int chunked, deflate;
} CacheSpec;

typedef struct CacheWriter CacheWriter;

/* Writes to path + ".tmp"; cache_writer_finish fsyncs and renames it. */
CacheWriter *cache_writer_create(const char *path, const CacheSpec *spec);
/* labels: uint8 [n_tags] (multi-label) or NULL with `label` (single-label). */
void cache_writer_put(CacheWriter *w, int index, const float *features, const uint8_t *labels, int32_t label,
                      const char *id, int32_t song, int32_t fold);
void cache_writer_finish(CacheWriter *w);

#endif
