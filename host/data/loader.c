/* The loader (loader.h): worker threads fill the rows of upcoming batches in
 * a ring of prefetch + 1 batch buffers (the consumer holds one while the
 * others are prepared ahead).
 *
 * Positions. Row g of epoch e (g = batch * config.batch + row in batch):
 *  - training: example items[perm_e[g]], crop start
 *      floor(w * (frames - crop + 1) / 2^32),  w = Philox word g of stream
 *      LOADER_STREAM_CROP + e under the run seed;
 *    perm_e is a Fisher-Yates shuffle of the items driven by the Philox words
 *    of stream LOADER_STREAM_PERM + e (j = floor(w * (i + 1) / 2^32));
 *  - evaluation: example items[g / C], crop k = g % C of C = crops_per_example,
 *    starting at round(k * (frames - crop) / (C - 1)) (half up): the first at
 *    frame 0, the last ending at the last frame. With C = 1 the crop is
 *    centred: start floor((frames - crop) / 2), 0 when crop = frames.
 * Nothing depends on thread timing: threads, prefetch depth and seeks change
 * only when a batch is ready, never what it holds.
 *
 * Synchronisation: one mutex. A worker claims the next (batch, row) under it,
 * reads outside it, and counts the row done under it; the consumer waits for
 * its batch's count. loader_seek stops claims, waits until no read is in
 * flight, and restarts the ring at the new position. */
#include "data/loader.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/rng.h"
#include "data/crop_spacing.h"

#define LOADER_STREAM_PERM 0x4c44525045520000ull /* "LDRPER" + epoch */
#define LOADER_STREAM_CROP 0x4c44524352500000ull /* "LDRCRP" + epoch */
#define LOADER_STREAM_EPISODE 0x4c44524550490000ull /* "LDREPI" + epoch */

typedef struct Slot {
  Batch b;
  long batch; /* batch of the current epoch held here, -1 none */
  int rows, done;
} Slot;

struct Loader {
  Cache *c;
  LoaderConfig cfg;
  int32_t *items;
  int n_items, crop, crops, n_tags;
  long rows, batches;
  size_t row_floats;

  int n_slots;
  Slot *slots;
  int32_t *perm; /* positions into items, for perm_epoch (training; episodes: rows in episode order) */
  /* episodes: the positions (into items) of each class, class_start[k] .. class_start[k + 1] */
  int32_t *class_items, *class_start;
  int *eligible; /* classes with enough examples for an episode */
  int n_eligible;
  long perm_epoch;

  pthread_t *threads;
  int n_threads;
  pthread_mutex_t mu;
  pthread_cond_t work_cv, ready_cv, idle_cv;
  long epoch, cursor;    /* next batch loader_next returns */
  long issue_batch;      /* next row to claim: (issue_batch, issue_row) */
  int issue_row;
  int busy, pausing, stop;
};

/* ---- pure functions of (seed, epoch, position) ---- */

static void shuffle(uint64_t seed, long epoch, int32_t *perm, int n) {
  for (int i = 0; i < n; i++) perm[i] = i;
  Philox4x32 block = {{0, 0, 0, 0}};
  long have = -1;
  for (int i = n - 1; i > 0; i--) {
    long blk = i >> 2;
    if (blk != have) {
      block = at_philox(seed, LOADER_STREAM_PERM + (uint64_t)epoch, (uint64_t)blk);
      have = blk;
    }
    uint32_t w = block.v[i & 3];
    int j = (int)(((uint64_t)w * (uint64_t)(i + 1)) >> 32);
    int32_t t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
}

static int train_crop_start(const Loader *l, long epoch, long g) {
  int range = l->c->frames - l->crop + 1;
  if (range <= 1) return 0;
  uint32_t w = at_philox(l->cfg.seed, LOADER_STREAM_CROP + (uint64_t)epoch, (uint64_t)g >> 2).v[g & 3];
  return (int)(((uint64_t)w * (uint64_t)range) >> 32);
}

static int eval_crop_start(const Loader *l, int k) {
  return (int)crop_spaced_start(l->c->frames, l->crop, l->crops, k);
}

/* Epoch `epoch`'s episodes into perm: for each, episode_ways distinct
 * eligible classes, then episode_per_class distinct examples of each
 * (partial Fisher-Yates draws from the counter RNG, so that a resumed run
 * sees the same episodes). */
static void draw_episodes(Loader *l, long epoch) {
  const int ways = l->cfg.episode_ways, per = l->cfg.episode_per_class;
  const uint64_t stream = LOADER_STREAM_EPISODE + (uint64_t)epoch;
  int *classes = at_malloc(sizeof(int) * (size_t)l->n_eligible, "episode classes");
  int max_class = 0;
  for (int k = 0; k < l->n_tags; k++)
    if (l->class_start[k + 1] - l->class_start[k] > max_class) max_class = l->class_start[k + 1] - l->class_start[k];
  int32_t *pool = at_malloc(sizeof(int32_t) * (size_t)max_class, "episode examples");
  long g = 0;
  for (long t = 0; t < l->cfg.episodes; t++) {
    uint64_t draw = (uint64_t)t << 32;
    memcpy(classes, l->eligible, sizeof(int) * (size_t)l->n_eligible);
    for (int w = 0; w < ways; w++) {
      const int left = l->n_eligible - w;
      int j = w + (int)(at_rng_uniform(l->cfg.seed, stream, draw++) * left);
      if (j >= l->n_eligible) j = l->n_eligible - 1;
      const int tmp = classes[w];
      classes[w] = classes[j];
      classes[j] = tmp;
      const int k = classes[w], count = l->class_start[k + 1] - l->class_start[k];
      memcpy(pool, l->class_items + l->class_start[k], sizeof(int32_t) * (size_t)count);
      for (int e = 0; e < per; e++) {
        int u = e + (int)(at_rng_uniform(l->cfg.seed, stream, draw++) * (count - e));
        if (u >= count) u = count - 1;
        const int32_t x = pool[e];
        pool[e] = pool[u];
        pool[u] = x;
        l->perm[g++] = pool[e];
      }
    }
  }
  AT_ASSERT(g == l->rows);
  free(pool);
  free(classes);
}

/* Per-class lists of the subset's positions, and the eligible classes. */
static void index_classes(Loader *l) {
  const Cache *c = l->c;
  if (c->kind != CACHE_SINGLE_LABEL)
    at_fatal("loader: episodes need a single-label cache; '%s' is multi-label", c->path);
  l->class_start = at_calloc((size_t)l->n_tags + 1, sizeof(int32_t), "class starts");
  l->class_items = at_malloc(sizeof(int32_t) * (size_t)l->n_items, "class members");
  for (int i = 0; i < l->n_items; i++) l->class_start[c->label[l->items[i]] + 1]++;
  for (int k = 0; k < l->n_tags; k++) l->class_start[k + 1] += l->class_start[k];
  int *fill = at_calloc((size_t)l->n_tags + 1, sizeof(int), "class fill");
  for (int i = 0; i < l->n_items; i++) {
    const int k = c->label[l->items[i]];
    l->class_items[l->class_start[k] + fill[k]++] = i;
  }
  free(fill);
  l->eligible = at_malloc(sizeof(int) * (size_t)l->n_tags, "eligible classes");
  for (int k = 0; k < l->n_tags; k++)
    if (l->class_start[k + 1] - l->class_start[k] >= l->cfg.episode_per_class) l->eligible[l->n_eligible++] = k;
  if (l->n_eligible < l->cfg.episode_ways)
    at_fatal("loader: episodes of %d classes x %d examples, but only %d classes of '%s' have %d examples",
             l->cfg.episode_ways, l->cfg.episode_per_class, l->n_eligible, c->path, l->cfg.episode_per_class);
}

/* ---- the ring ---- */

/* Rows of global batch b, and where this loader's slice of it starts. */
static int global_rows(const Loader *l, long b) {
  long left = l->rows - b * l->cfg.batch;
  return (int)(left < l->cfg.batch ? left : l->cfg.batch);
}

static int slice_start(const Loader *l, long b) {
  return (int)((long)global_rows(l, b) * l->cfg.shard / l->cfg.shards);
}

static int rows_in(const Loader *l, long b) {
  const long n = global_rows(l, b);
  return (int)(n * (l->cfg.shard + 1) / l->cfg.shards - n * l->cfg.shard / l->cfg.shards);
}

/* Example ex, all its frames, then zeros up to the crop, row by row:
 * [bins, crop] as every row of a batch. */
static void read_padded(const Loader *l, int ex, float *x) {
  const int frames = l->c->frames, bins = l->c->bins;
  cache_read(l->c, ex, 0, frames, x); /* [bins, frames] at the start of the row */
  for (int b = bins - 1; b >= 0; b--) { /* spread to [bins, crop], last row first (they overlap) */
    memmove(x + (size_t)b * l->crop, x + (size_t)b * frames, sizeof(float) * (size_t)frames);
    memset(x + (size_t)b * l->crop + frames, 0, sizeof(float) * (size_t)(l->crop - frames));
  }
}

static int can_claim(const Loader *l) {
  return !l->pausing && l->issue_batch < l->batches && l->issue_batch < l->cursor + l->cfg.prefetch;
}

static void fill_row(Loader *l, Slot *s, int r, long epoch, long g) {
  int ex, k = 0, start;
  float *x = s->b.x + (size_t)r * l->row_floats;
  if (l->crop > l->c->frames) { /* a waveform shorter than the crop: all of it, then zeros (loader_create) */
    ex = l->cfg.train ? l->items[l->perm[g]] : l->items[g / l->crops];
    k = l->cfg.train ? 0 : (int)(g % l->crops);
    read_padded(l, ex, x);
  } else if (l->cfg.train) {
    ex = l->items[l->perm[g]];
    start = train_crop_start(l, epoch, g);
    cache_read(l->c, ex, start, l->crop, x);
  } else {
    ex = l->items[g / l->crops];
    k = (int)(g % l->crops);
    start = eval_crop_start(l, k);
    cache_read(l->c, ex, start, l->crop, x);
  }
  float *t = s->b.targets + (size_t)r * (size_t)l->n_tags;
  if (l->c->kind == CACHE_MULTI_LABEL) {
    const uint8_t *src = l->c->labels + (size_t)ex * (size_t)l->n_tags;
    for (int j = 0; j < l->n_tags; j++) t[j] = src[j] ? 1.0f : 0.0f;
  } else {
    memset(t, 0, sizeof(float) * (size_t)l->n_tags);
    t[l->c->label[ex]] = 1.0f;
    s->b.labels[r] = l->c->label[ex];
  }
  s->b.example[r] = ex;
  s->b.crop[r] = k;
}

static void *worker(void *arg) {
  Loader *l = arg;
  pthread_mutex_lock(&l->mu);
  for (;;) {
    while (!l->stop && !can_claim(l)) pthread_cond_wait(&l->work_cv, &l->mu);
    if (l->stop) break;
    long b = l->issue_batch;
    int r = l->issue_row;
    Slot *s = &l->slots[b % l->n_slots];
    if (r == 0) {
      s->batch = b;
      s->rows = rows_in(l, b);
      s->done = 0;
      if (s->rows == 0) { /* an empty slice: ready as it is */
        l->issue_batch++;
        pthread_cond_broadcast(&l->ready_cv);
        continue;
      }
    }
    if (++l->issue_row == s->rows) {
      l->issue_batch++;
      l->issue_row = 0;
    }
    long epoch = l->epoch;
    l->busy++;
    pthread_mutex_unlock(&l->mu);

    /* The permutation and the slot cannot change while busy > 0. */
    fill_row(l, s, r, epoch, b * l->cfg.batch + slice_start(l, b) + r);

    pthread_mutex_lock(&l->mu);
    l->busy--;
    if (++s->done == s->rows) pthread_cond_broadcast(&l->ready_cv);
    if (l->pausing && l->busy == 0) pthread_cond_broadcast(&l->idle_cv);
  }
  pthread_mutex_unlock(&l->mu);
  return NULL;
}

/* Called with the lock held: waits for in-flight reads, then restarts. */
static void restart_locked(Loader *l, long epoch, long cursor) {
  l->pausing = 1;
  while (l->busy > 0) pthread_cond_wait(&l->idle_cv, &l->mu);
  l->epoch = epoch;
  l->cursor = cursor;
  l->issue_batch = cursor;
  l->issue_row = 0;
  for (int i = 0; i < l->n_slots; i++) l->slots[i].batch = -1;
  if (l->cfg.train && l->perm_epoch != epoch) {
    if (l->cfg.episode_ways) draw_episodes(l, epoch);
    else shuffle(l->cfg.seed, epoch, l->perm, l->n_items);
    l->perm_epoch = epoch;
  }
  l->pausing = 0;
  pthread_cond_broadcast(&l->work_cv);
}

Loader *loader_create(Cache *cache, const LoaderConfig *config) {
  const LoaderConfig *cf = config;
  if (cf->batch < 1) at_fatal("loader: the batch size must be at least 1 (got %d)", cf->batch);
  if (cf->threads < 1) at_fatal("loader: at least 1 worker thread is needed (got %d)", cf->threads);
  if (cf->prefetch < 1) at_fatal("loader: prefetch must be at least 1 batch (got %d)", cf->prefetch);
  if (!cf->train && cf->crops_per_example < 1)
    at_fatal("loader: crops_per_example must be at least 1 (got %d)", cf->crops_per_example);
  if (cf->crop_frames < 0) at_fatal("loader: crop_frames %d is negative", cf->crop_frames);
  if (cf->crop_frames > cache->frames && strcmp(cache->front_end.representation, "waveform") != 0)
    at_fatal("loader: a crop of %d frames is longer than the examples of '%s' (%d frames); use crop_frames <= %d",
             cf->crop_frames, cache->path, cache->frames, cache->frames);
  if (cf->subset && cf->n_subset < 1)
    at_fatal("loader: the subset of '%s' is empty (no examples to load)", cache->path);

  Loader *l = at_calloc(1, sizeof *l, "loader");
  l->c = cache;
  l->cfg = *cf;
  if (l->cfg.shards <= 0) l->cfg.shards = 1;
  if (l->cfg.shard < 0 || l->cfg.shard >= l->cfg.shards)
    at_fatal("internal: loader shard %d of %d", l->cfg.shard, l->cfg.shards);
  l->cfg.subset = NULL;
  l->n_tags = cache->n_tags;
  l->crop = cf->crop_frames ? cf->crop_frames : cache->frames;
  l->crops = cf->train ? 1 : cf->crops_per_example;
  l->n_items = cf->subset ? cf->n_subset : cache->n;
  l->items = at_malloc(sizeof(int32_t) * (size_t)l->n_items, "loader subset");
  for (int i = 0; i < l->n_items; i++) {
    int32_t ex = cf->subset ? cf->subset[i] : i;
    if (ex < 0 || ex >= cache->n)
      at_fatal("loader: subset entry %d is example %d, but '%s' has examples 0 .. %d", i, ex, cache->path, cache->n - 1);
    l->items[i] = ex;
  }
  l->rows = (long)l->n_items * l->crops;
  l->batches = (l->rows + cf->batch - 1) / cf->batch;
  if (cf->drop_last && l->rows >= cf->batch) l->batches = l->rows / cf->batch;
  if (cf->episode_ways > 0) {
    if (!cf->train || cf->batch != cf->episode_ways * cf->episode_per_class || cf->episodes < 1 || l->cfg.shards != 1)
      at_fatal("internal: loader episodes of %d x %d in batches of %d (%ld episodes, %d shards)", cf->episode_ways,
               cf->episode_per_class, cf->batch, cf->episodes, l->cfg.shards);
    l->rows = cf->episodes * cf->batch;
    l->batches = cf->episodes;
    index_classes(l);
  }
  l->row_floats = (size_t)cache->bins * (size_t)l->crop;

  l->n_slots = cf->prefetch + 1;
  l->slots = at_calloc((size_t)l->n_slots, sizeof(Slot), "loader ring");
  const size_t B = (size_t)cf->batch;
  for (int i = 0; i < l->n_slots; i++) {
    Batch *b = &l->slots[i].b;
    b->x = at_malloc_aligned(sizeof(float) * B * l->row_floats, "a batch of inputs");
    b->targets = at_malloc_aligned(sizeof(float) * B * (size_t)l->n_tags, "a batch of targets");
    b->labels = cache->kind == CACHE_SINGLE_LABEL ? at_malloc(sizeof(int32_t) * B, "batch labels") : NULL;
    b->example = at_malloc(sizeof(int32_t) * B, "batch examples");
    b->crop = at_malloc(sizeof(int32_t) * B, "batch crops");
    l->slots[i].batch = -1;
  }
  l->perm = at_malloc(sizeof(int32_t) * (size_t)(l->rows > l->n_items ? l->rows : l->n_items), "loader permutation");
  l->perm_epoch = -1;

  pthread_mutex_init(&l->mu, NULL);
  pthread_cond_init(&l->work_cv, NULL);
  pthread_cond_init(&l->ready_cv, NULL);
  pthread_cond_init(&l->idle_cv, NULL);
  pthread_mutex_lock(&l->mu);
  restart_locked(l, 0, 0);
  pthread_mutex_unlock(&l->mu);
  l->n_threads = cf->threads;
  l->threads = at_calloc((size_t)l->n_threads, sizeof(pthread_t), "loader threads");
  for (int i = 0; i < l->n_threads; i++)
    if (pthread_create(&l->threads[i], NULL, worker, l) != 0) at_fatal("loader: cannot start worker thread %d", i);
  return l;
}

void loader_free(Loader *l) {
  if (!l) return;
  pthread_mutex_lock(&l->mu);
  l->stop = 1;
  pthread_cond_broadcast(&l->work_cv);
  pthread_mutex_unlock(&l->mu);
  for (int i = 0; i < l->n_threads; i++) pthread_join(l->threads[i], NULL);
  pthread_cond_destroy(&l->work_cv);
  pthread_cond_destroy(&l->ready_cv);
  pthread_cond_destroy(&l->idle_cv);
  pthread_mutex_destroy(&l->mu);
  for (int i = 0; i < l->n_slots; i++) {
    Batch *b = &l->slots[i].b;
    at_free_aligned(b->x);
    at_free_aligned(b->targets);
    free(b->labels);
    free(b->example);
    free(b->crop);
  }
  free(l->slots);
  free(l->threads);
  free(l->perm);
  free(l->class_items);
  free(l->class_start);
  free(l->eligible);
  free(l->items);
  free(l);
}

long loader_rows_per_epoch(const Loader *l) { return l->rows; }
long loader_batches_per_epoch(const Loader *l) { return l->batches; }

void loader_seek(Loader *l, long epoch, long cursor) {
  if (epoch < 0 || cursor < 0 || cursor > l->batches)
    at_fatal("loader: cannot seek to batch %ld of epoch %ld (an epoch has %ld batches)", cursor, epoch, l->batches);
  pthread_mutex_lock(&l->mu);
  if (epoch != l->epoch || cursor != l->cursor) restart_locked(l, epoch, cursor);
  pthread_mutex_unlock(&l->mu);
}

const Batch *loader_next(Loader *l) {
  pthread_mutex_lock(&l->mu);
  if (l->cursor >= l->batches) {
    pthread_mutex_unlock(&l->mu);
    return NULL;
  }
  Slot *s = &l->slots[l->cursor % l->n_slots];
  while (!(s->batch == l->cursor && s->done == s->rows)) pthread_cond_wait(&l->ready_cv, &l->mu);
  s->b.n = s->rows;
  l->cursor++; /* frees the slot of the batch returned before this one */
  pthread_cond_broadcast(&l->work_cv);
  pthread_mutex_unlock(&l->mu);
  return &s->b;
}

void loader_position(const Loader *l, long *epoch, long *cursor) {
  Loader *m = (Loader *)l; /* the lock only */
  pthread_mutex_lock(&m->mu);
  if (epoch) *epoch = l->epoch;
  if (cursor) *cursor = l->cursor;
  pthread_mutex_unlock(&m->mu);
}

void loader_permutation(const Loader *l, long epoch, int32_t *order) {
  AT_ASSERT(!l->cfg.episode_ways); /* episodes are not a permutation */
  if (!l->cfg.train) {
    for (long r = 0; r < l->rows; r++) order[r] = l->items[r / l->crops];
    return;
  }
  int32_t *perm = at_malloc(sizeof(int32_t) * (size_t)l->n_items, "a permutation");
  shuffle(l->cfg.seed, epoch, perm, l->n_items);
  for (int i = 0; i < l->n_items; i++) order[i] = l->items[perm[i]];
  free(perm);
}

int batch_non_finite_row(const Batch *b, size_t row_floats) {
  for (int i = 0; i < b->n; i++)
    for (size_t j = 0; j < row_floats; j++)
      if (!isfinite(b->x[(size_t)i * row_floats + j])) return i;
  return -1;
}
