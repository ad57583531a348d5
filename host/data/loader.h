/* The loader: batches from a cache, prepared by worker threads in a ring of
 * buffers ahead of the compute.
 *
 * Order and crops are pure functions of (seed, epoch, position), drawn from
 * the counter RNG, so a run resumed at (epoch, cursor) sees exactly the
 * batches an uninterrupted run would, whatever the thread timing.
 *  - training: the examples (or the given subset) in a fresh permutation per
 *    epoch, one random crop of crop_frames per example;
 *  - evaluation: every example in order, crops_per_example equally spaced
 *    crops (the first at frame 0, the last ending at the last frame; a
 *    single crop is centred), each a row of some batch with its example and
 *    crop index.
 * Batch.targets is filled for both kinds (single-label: one-hot rows);
 * Batch.labels only for single-label caches (NULL otherwise); Batch.crop is
 * 0 in training. */
#ifndef AT_LOADER_H
#define AT_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include "data/cache.h"

typedef struct LoaderConfig {
  int batch;
  int crop_frames;        /* 0: the whole example; longer than the examples of a waveform cache: each
                             example whole, then zeros (silence; a spectrogram has no neutral value,
                             so other caches refuse it) */
  int train;              /* 1: shuffle + random crops; 0: ordered, equally spaced crops */
  int drop_last;          /* leave out a last batch shorter than `batch` (when there is a full one) */
  int crops_per_example;  /* evaluation only; >= 1 */
  int threads;            /* worker threads (>= 1) */
  int prefetch;           /* batches prepared ahead (>= 1) */
  uint64_t seed;
  const int32_t *subset;  /* example indices to use (NULL: all); copied */
  int n_subset;
  /* Data parallelism: each batch of `batch` rows (the global batch) is cut
   * into `shards` slices, rows [n k / shards, n (k + 1) / shards) for shard
   * k of a batch of n rows; this loader yields slice `shard` only. Rows
   * are the same whatever the number of shards. 0 / 0: one shard. The slice
   * of a short last batch may be empty (n = 0). */
  int shard, shards;
  /* Episodes (prototypical training; single-label caches): when
   * episode_ways > 0 each batch is one episode of episode_ways classes drawn
   * from those with at least episode_per_class examples in the subset, and
   * episode_per_class examples of each, class-major (the first k_shot of a
   * class are its support); `episodes` batches per epoch. batch must be
   * episode_ways * episode_per_class; one shard only. */
  int episode_ways, episode_per_class;
  long episodes;
} LoaderConfig;

typedef struct Batch {
  int n;              /* rows in this batch (the last one may be partial) */
  float *x;           /* [n, 1, bins, crop] */
  float *targets;     /* [n, n_tags] 0/1 floats (multi-label) */
  int32_t *labels;    /* [n] (single-label) */
  int32_t *example;   /* [n] cache index of each row */
  int32_t *crop;      /* [n] crop number of each row (evaluation) */
} Batch;

/* The first row of b whose input (row_floats values) holds NaN or Inf, or -1. */
int batch_non_finite_row(const Batch *b, size_t row_floats);

typedef struct Loader Loader;

Loader *loader_create(Cache *cache, const LoaderConfig *config);
void loader_free(Loader *l);

/* Rows per epoch and batches per epoch (the last may be partial). */
long loader_rows_per_epoch(const Loader *l);
long loader_batches_per_epoch(const Loader *l);

/* Positions the loader at batch `cursor` of `epoch` (0-based). */
void loader_seek(Loader *l, long epoch, long cursor);
/* The next batch of the current epoch, or NULL when the epoch is done (then
 * seek to the next epoch). Valid until the next call. */
const Batch *loader_next(Loader *l);
/* Where the next loader_next would read. */
void loader_position(const Loader *l, long *epoch, long *cursor);
/* The permutation of `epoch` (training), written into order[rows]. */
void loader_permutation(const Loader *l, long epoch, int32_t *order);

#endif
