/* `auratag prep`: audio files listed in a CSV -> spectrogram caches.
 *
 *   FILES.csv  header naming columns among path, split, tags, song, fold
 *              (path and tags required, any order; RFC 4180 quoting)
 *   DIR/train.h5, valid.h5, test.h5   the splits present (data/cache.h)
 *   DIR/prep-report.json              files, written, skipped (path, reason),
 *                                     tags, seconds_of_audio, wall_seconds
 *   DIR/tags.txt                      the tag (or class) vocabulary
 *   DIR/.prep/                        per-file work records while running
 *
 * Files are decoded, resampled and turned into features in parallel (OpenMP,
 * one front-end plan per thread). Each file's features go to a work record
 * written atomically and named by a hash of its path, size, mtime and every
 * parameter that shapes its features, so a prep that is interrupted (even by
 * SIGKILL) and run again with the same arguments only computes the files it
 * had not finished, then assembles the caches (via cache_writer: temporary
 * name, fsync, rename). The result is the same, bit for bit, as an
 * uninterrupted prep: each file's features depend on nothing but the file,
 * and everything that combines files (vocabulary, song ids, normalisation
 * statistics) runs in list order after all files are done. */
#ifndef AT_PREP_H
#define AT_PREP_H

#include <stddef.h>

#include "audio/dataset_config.h"

#define AT_PREP_MAX_OVERRIDES 64

typedef struct PrepOptions {
  const char *dataset_config; /* configs/datasets/NAME.ini */
  const char *list;           /* FILES.csv */
  const char *out;            /* output folder (created if needed) */
  const char *overrides[AT_PREP_MAX_OVERRIDES]; /* --set dataset.top_tags=50 ... */
  int n_overrides;
  int threads;   /* 0: all (OpenMP's default: OMP_NUM_THREADS or every core) */
  int keep_work; /* keep DIR/.prep after success */
  int max_files; /* stop after computing this many files, leaving the work folder
                    (0: no limit; for tests of resumption) */
} PrepOptions;

/* Runs the whole prep; fatal errors for bad configs, lists and I/O; files that
 * cannot be decoded are skipped and reported. Returns the exit status. */
int prep_run(const PrepOptions *o);

/* Global normalisation as prep applies it: x = (x - mean) / std. */
void prep_normalise(float *x, size_t n, double mean, double std);

/* What a cache written by prep says about how to make its features: the
 * dataset config (from the `dataset_config` attribute) and, with
 * normalise = global, the training split's statistics. Fatal if the cache
 * was not written by prep (e.g. `auratag synth`). */
typedef struct PrepSetup {
  DatasetConfig *dc;
  int has_norm;
  double norm_mean, norm_std;
} PrepSetup;
void prep_read_setup(const char *cache_path, PrepSetup *out);
/* Whether a cache says how its features came from audio (made by prep; a
 * synthetic cache does not). */
int prep_cache_has_setup(const char *cache_path);
void prep_setup_free(PrepSetup *s);

#endif
